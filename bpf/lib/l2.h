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

/*
 * Is the frame addressed to this interface's own MAC? The two routers of an
 * HA pair share every LAN and ISP segment, and a switch floods a frame for a
 * MAC it has not learnt (or has aged out: a dead active's) to both of them.
 * Only the router it is addressed to may forward it, as the kernel does (it
 * forwards only PACKET_HOST); anything else is the kernel's: it drops
 * another host's frame (PACKET_OTHERHOST) and takes broadcasts as ever. No
 * entry in ifaces: not an interface of ours, the caller's later checks say so.
 * Not inlined: the hot programs' code and registers stay as they were.
 */
static __attribute__((noinline)) int l2_for_us(xwan_ctx *c)
{
	void *data = ctx_data(c), *end = ctx_data_end(c);
	__u32 ifindex = ctx_ifindex(c);
	struct iface_info *i;
	struct ethhdr *eth = data;

	if ((void *)(eth + 1) > end)
		return 1;       /* too short to be anyone's: the parser decides */
	i = bpf_map_lookup_elem(&ifaces, &ifindex);
	if (!i)
		return 1;
	/* Bytewise: the verifier takes no wider loads of a packet or map value here. */
	return !((eth->h_dest[0] ^ i->mac[0]) | (eth->h_dest[1] ^ i->mac[1]) |
		 (eth->h_dest[2] ^ i->mac[2]) | (eth->h_dest[3] ^ i->mac[3]) |
		 (eth->h_dest[4] ^ i->mac[4]) | (eth->h_dest[5] ^ i->mac[5]));
}
#else
/* In tc the packet starts at the device's link header, which may be none. */
static __always_inline __u32 ctx_l3_off(const xwan_ctx *c)
{
	__u32 ifindex = ctx_ifindex(c);
	struct iface_info *i = bpf_map_lookup_elem(&ifaces, &ifindex);

	return i && i->l2_len == 0 ? 0 : ETH_HLEN;
}

#define XWAN_L2_PACKET_OTHERHOST 3      /* linux/if_packet.h */

/*
 * In tc the kernel has already compared the destination MAC with the
 * device's (eth_type_trans): a frame for another host (flooded by a switch
 * to both routers of an HA pair) is about to be dropped by ip_rcv, and must
 * make no flow state here first. L3 devices have no MAC: always ours.
 */
static __always_inline int l2_for_us(const xwan_ctx *c)
{
	return c->pkt_type != XWAN_L2_PACKET_OTHERHOST;
}
#endif

#endif /* XWAN_L2_H */
