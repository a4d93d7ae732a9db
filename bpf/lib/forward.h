/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Port forwards: the one case where a WAN packet creates a flow, because
 * the admin asked for it. Both entries are made at once, so the LAN
 * server's replies match a flow pinned to the WAN the session arrived on
 * (symmetric return, pf's reply-to) whatever the hash would choose.
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
 * Create the flow of a forwarded session; 0 when the packet now has one,
 * -2 when its source is over its budget of unanswered flows.
 */
static __always_inline int forward_admit(xwan_ctx *ctx, const struct pkt *p,
					 const struct xwan_settings *s, __u64 now)
{
	struct port_fwd_key k = { .addr = p->key.daddr, .port = p->key.dport,
				  .proto = p->key.proto };
	struct admit_scratch *sc;
	struct bpf_fib_lookup fib = {};
	struct flow_key out_key = {};
	struct iface_info *lan;
	struct gw_info *gi;
	struct port_fwd *pf;
	__u32 gw, lan_ifindex;
	int rc;

	if (!pkt_opens_forward(p))
		return -1;
	pf = bpf_map_lookup_elem(&port_fwds, &k);
	if (!pf)
		return -1;
	gw = pf->gw;
	gi = bpf_map_lookup_elem(&gateways, &gw);
	if (!gi || gi->ifindex != ctx_ifindex(ctx))
		return -1;
	/* Where the LAN server is, and its MAC if the kernel knows it. */
	fib.family = 2; /* AF_INET */
	fib.ipv4_src = p->key.saddr;
	fib.ipv4_dst = pf->to_addr;
	fib.ifindex = ctx_ifindex(ctx);
	rc = bpf_fib_lookup(ctx, &fib, sizeof(fib), BPF_FIB_LOOKUP_DIRECT);
	if (rc != BPF_FIB_LKUP_RET_SUCCESS && rc != BPF_FIB_LKUP_RET_NO_NEIGH)
		return -1;
	lan_ifindex = fib.ifindex;
	lan = bpf_map_lookup_elem(&ifaces, &lan_ifindex);
	if (!lan || lan->role != IFACE_LAN)
		return -1;

	if (src_charge(s, p->key.saddr, SRC_WAN, now))
		return -2;
	sc = scratch_get();
	if (!sc)
		goto refund;
#define in (sc->in)
#define out (sc->out)
	out_key.saddr = pf->to_addr;
	out_key.daddr = p->key.saddr;
	out_key.sport = pf->to_port;
	out_key.dport = p->key.sport;
	out_key.proto = p->key.proto;

	in.created_ns = out.created_ns = now;
	in.last_seen_ns = out.last_seen_ns = now;
	in.gw = out.gw = (__u8)gw;
	in.group = out.group = XWAN_GROUP_NONE;
	in.rule = out.rule = XWAN_RULE_NONE;
	in.flags = out.flags = FLOW_F_FORWARD | FLOW_F_NAT;
	in.ct = out.ct = FLOW_CT_CHARGED;

	in.peer = out_key;
	in.xlate_addr = pf->to_addr;
	in.xlate_port = pf->to_port;
	in.dir = FLOW_DIR_IN;
	in.in_ifindex = gi->ifindex;
	in.out_ifindex = lan_ifindex;
	in.out_mtu = lan->mtu;
	if (rc == BPF_FIB_LKUP_RET_SUCCESS)
		__builtin_memcpy(in.l2_dst, fib.dmac, 6);
	__builtin_memcpy(in.l2_src, lan->mac, 6);

	out.peer = p->key;
	out.xlate_addr = p->key.daddr;
	out.xlate_port = p->key.dport;
	out.dir = FLOW_DIR_OUT;
	out.in_ifindex = lan_ifindex;
	out.out_ifindex = gi->ifindex;
	out.out_mtu = gi->mtu;

	/*
	 * The public tuple is what two CPUs seeing the same SYN contend for:
	 * claim it first (a dead flow or a leftover half gives it up), then
	 * the server's tuple, which an older live flow of the server may hold.
	 */
	if (nat_claim(s, &p->key, &in, now))
		goto refund;
	flow_clear_dead(s, &out_key, now);
	if (flow_install(&out_key, &out, &p->key) <= 0)
		goto refund;
#undef in
#undef out
	flow_created(gw, s);
	return 0;
refund:
	src_refund(p->key.saddr, SRC_WAN);
	return -1;
}

#endif /* XWAN_FORWARD_H */
