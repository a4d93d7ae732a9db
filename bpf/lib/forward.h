/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Port forwards: a WAN packet creates a flow because the admin asked for
 * it (inbound.h makes its entries); and the choice between a forward and
 * a mapping for a WAN packet to one of the host's addresses.
 */
#ifndef XWAN_FORWARD_H
#define XWAN_FORWARD_H

#include "nat.h"

/* Only an opening packet: a TCP SYN, or UDP. */
static __always_inline int pkt_opens_forward(const struct pkt *p)
{
	if (p->icmp_err || p->frag == FRAG_LATER)
		return 0;
	if (p->key.proto == IPPROTO_UDP)
		return 1;
	return p->key.proto == IPPROTO_TCP &&
	       (p->tcp_flags & (TCP_FLAG_SYN | TCP_FLAG_ACK | TCP_FLAG_RST)) == TCP_FLAG_SYN;
}

/*
 * Open the flow of a forwarded session: a port forward of this WAN's
 * address and port, to a server on a LAN.
 */
static __always_inline enum inbound_rc forward_admit(xwan_ctx *ctx, const struct pkt *p,
						     const struct xwan_settings *s, __u64 now)
{
	struct port_fwd_key k = { .addr = p->key.daddr, .port = p->key.dport,
				  .proto = p->key.proto };
	struct bpf_fib_lookup fib = {};
	struct inbound_target t = {};
	struct gw_info *gi;
	struct port_fwd *pf;
	__u32 gw;
	int rc;

	if (!pkt_opens_forward(p))
		return INBOUND_NONE;
	pf = bpf_map_lookup_elem(&port_fwds, &k);
	if (!pf)
		return INBOUND_NONE;
	gw = pf->gw;
	gi = bpf_map_lookup_elem(&gateways, &gw);
	if (!gi || gi->ifindex != ctx_ifindex(ctx))
		return INBOUND_NONE;
	/* Where the LAN server is, and its MAC if the kernel knows it. */
	fib.family = 2; /* AF_INET */
	fib.ipv4_src = p->key.saddr;
	fib.ipv4_dst = pf->to_addr;
	fib.ifindex = ctx_ifindex(ctx);
	rc = bpf_fib_lookup(ctx, &fib, sizeof(fib), BPF_FIB_LOOKUP_DIRECT);
	if (rc != BPF_FIB_LKUP_RET_SUCCESS && rc != BPF_FIB_LKUP_RET_NO_NEIGH)
		return INBOUND_NONE;
	t.addr = pf->to_addr;
	t.port = pf->to_port;
	t.gw = (__u8)gw;
	t.lan_ifindex = fib.ifindex;
	if (rc == BPF_FIB_LKUP_RET_SUCCESS)
		__builtin_memcpy(t.l2_dst, fib.dmac, 6);
	return inbound_flow_open(p, &t, now);
}

/*
 * A WAN packet to one of the host's addresses with no flow: a port forward
 * or a live mapping may open one. *v: the verdict a forwarded packet of
 * the new flow counts as.
 */
static __always_inline enum inbound_rc inbound_open(xwan_ctx *ctx, const struct pkt *p,
						    const struct xwan_settings *s, __u64 now,
						    __u32 *v)
{
	enum inbound_rc rc = forward_admit(ctx, p, s, now);

	*v = V_FWD_PORT_FORWARD;
	if (rc == INBOUND_NONE) {
		rc = nat_map_inbound(ctx, p, s, now);
		*v = V_FWD_MAPPING;
	}
	return rc;
}

#endif /* XWAN_FORWARD_H */
