/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * What the device under the packet is: how long its link header is, and
 * whether an XDP redirect into another device is transmitted at all. Both
 * are properties of the interfaces, decided by the loader at attach time
 * (loader/devpath.c) and read here; nothing is guessed per packet.
 */
#ifndef XWAN_L2_H
#define XWAN_L2_H

#include "ctx.h"
#include "maps.h"
#include "stats.h"

#if defined(XWAN_HOOK_XDP)
/*
 * XDP is attached only to devices with an Ethernet header: L3 devices (ppp,
 * wg, tun, raw-IP wwan) have no native XDP, and their generic XDP is slower
 * than the tc path they get instead.
 */
static __always_inline __u32 ctx_l3_off(const xwan_ctx *c)
{
	(void)c;
	return ETH_HLEN;
}

/* May the XDP program on in_ifindex redirect into out_ifindex? */
static __always_inline int xdp_tx_redirects(__u32 in_ifindex, __u32 out_ifindex)
{
	struct tx_path_key k = { .in_ifindex = in_ifindex, .out_ifindex = out_ifindex };
	struct tx_path *t = bpf_map_lookup_elem(&tx_paths, &k);

	return t && t->path == XDP_TX_REDIRECT;
}

/*
 * Count a redirect as forwarded, remembering which counter it was: should
 * the kernel fail to transmit it, xdp_redirect_failed moves it to a drop.
 * Not inlined: its stack must not add to that of the new-flow path.
 */
static __attribute__((noinline)) int xdp_redirected(__u32 hook, __u32 v)
{
	__u32 zero = 0, *last = bpf_map_lookup_elem(&xdp_last_fwd, &zero);

	count_verdict(hook, v);
	if (last)
		*last = XWAN_VERDICT_IDX(hook, v);
	return XDP_REDIRECT;
}
#else
/* In tc the packet starts at the device's link header, which may be none. */
static __always_inline __u32 ctx_l3_off(const xwan_ctx *c)
{
	__u32 ifindex = ctx_ifindex(c);
	struct iface_info *i = bpf_map_lookup_elem(&ifaces, &ifindex);

	return i && i->l2_len == 0 ? 0 : ETH_HLEN;
}
#endif

#endif /* XWAN_L2_H */
