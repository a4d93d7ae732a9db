/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * ICMP errors: the flow an error belongs to (the packet it quotes), what an
 * error from a LAN host must pass before it leaves, and the rewrite of the
 * error with the header it quotes, whichever way it travels. Written once
 * over ctx.h for XDP and tc.
 */
#ifndef XWAN_ICMP_H
#define XWAN_ICMP_H

#include "nat.h"

/* The flow entry an ICMP error belongs to: the quoted packet, reversed. */
static __always_inline struct flow_entry *icmp_error_flow(const struct pkt *p,
							  const struct xwan_settings *s,
							  __u64 now)
{
	struct flow_key k = {
		.saddr = p->inner.daddr,
		.daddr = p->inner.saddr,
		.sport = p->inner.dport,
		.dport = p->inner.sport,
		.proto = p->inner.proto,
	};

	return flow_lookup(s, &k, now);
}

/*
 * One side of an ICMP error's translation. out: outer source, quoted
 * destination address and port become addr:port (an error leaving through
 * NAT); else outer destination, quoted source address and port (an error
 * coming back). Every word changed inside the quoted packet is folded into
 * the ICMP checksum. *ip_check and *l4_check: the quoted packet's
 * checksums as they are now, updated, so a second side can follow.
 */
static __always_inline int icmp_error_rewrite(xwan_ctx *ctx, const struct pkt *p, int out,
					      __be32 addr, __be16 port, __u16 *ip_check,
					      __u16 *l4_check)
{
	__be32 outer_s = p->key.saddr, outer_d = p->key.daddr;
	__be32 old_outer;
	__be32 old_in = out ? p->inner.daddr : p->inner.saddr;
	__be16 old_port = out ? p->inner.dport : p->inner.sport;
	__u32 in_port_off = out ? p->in_dport_off : p->in_sport_off;
	__u32 icmp_csum = p->csum_off;
	__u16 ipc, l4c;

	/*
	 * Both loaded first: clang otherwise selects between &saddr and &daddr
	 * of the stack copy by OR-ing the offset into the pointer, which the
	 * verifier refuses (and any change elsewhere may make it do so).
	 */
	barrier_var(outer_s);
	barrier_var(outer_d);
	old_outer = out ? outer_s : outer_d;

	/* Quoted IP header: address and its checksum. */
	if (ctx_store32(ctx, p->in_l3_off + (out ? 16 : 12), addr) ||
	    ctx_l4_csum_replace(ctx, icmp_csum, old_in, addr, 4))
		return -1;
	ipc = csum_update32(*ip_check, old_in, addr);
	if (ctx_store16(ctx, p->in_l3_off + 10, ipc) ||
	    ctx_l4_csum_replace(ctx, icmp_csum, *ip_check, ipc, 2))
		return -1;
	*ip_check = ipc;

	/* Quoted port (or echo identifier) and its checksum, when quoted. */
	if (in_port_off && old_port != port) {
		if (ctx_store16(ctx, in_port_off, port) ||
		    ctx_l4_csum_replace(ctx, icmp_csum, old_port, port, 2))
			return -1;
	}
	if (p->in_csum_off && !(p->in_udp && *l4_check == 0)) {
		l4c = *l4_check;
		if (p->in_pseudo)
			l4c = csum_update32(l4c, old_in, addr);
		if (in_port_off)
			l4c = csum_update16(l4c, old_port, port);
		if (p->in_udp && l4c == 0)
			l4c = 0xffff;
		if (ctx_store16(ctx, p->in_csum_off, l4c) ||
		    ctx_l4_csum_replace(ctx, icmp_csum, *l4_check, l4c, 2))
			return -1;
		*l4_check = l4c;
	}

	/* Outer header: ICMP has no pseudo header, only the IP checksum moves. */
	if (ctx_l3_csum_replace(ctx, p->l3_off + 10, old_outer, addr, 4) ||
	    ctx_store32(ctx, p->l3_off + (out ? 12 : 16), addr))
		return -1;
	return 0;
}

/*
 * Translate an ICMP error travelling along fe. Arrived on a WAN (fe IN):
 * outer destination, quoted source address and port become the client's.
 * From a LAN host (fe OUT): outer source, quoted destination address and
 * port become the NAT address and port.
 */
static __always_inline int nat_rewrite_icmp_error(xwan_ctx *ctx, const struct pkt *p,
						  const struct flow_entry *fe)
{
	__u16 ip_check = p->in_ip_check, l4_check = p->in_l4_check;

	if (icmp_error_rewrite(ctx, p, fe->dir == FLOW_DIR_OUT, fe->xlate_addr, fe->xlate_port,
			       &ip_check, &l4_check))
		return -1;
	count_event(EV_ICMP_ERR_XLATED);
	return 0;
}

/*
 * What any packet from a LAN passes, an error from a LAN host passes too:
 * anti-spoofing of its own source, and the rules that drop. Only errors to
 * the internet are checked, as only flows to it are: the host's and the
 * LAN side's are the kernel's. 0 or the verdict. Not inlined: it stays
 * off the programs' stack.
 */
static __attribute__((noinline)) __u32 lan_icmp_error_check(__u32 ifindex, const struct pkt *p)
{
	struct xwan_settings *s = get_settings();
	struct rule_scan *rs;

	if (!p || !s || dst_kernel_bound(p->key.daddr))
		return 0;
	if (!lan_src_ok(ifindex, p->key.saddr))
		return V_DROP_SPOOFED;
	rs = rules_match(p, ifindex, s);
	if (!rs || (rs->found != XWAN_RULE_NONE && rs->action == RULE_ACTION_DROP))
		return V_DROP_POLICY;
	return 0;
}

/*
 * The LAN flow an error from a LAN host belongs to (a port unreachable
 * about a reply it got), once the error passed the checks. 0 with *fep set
 * (NULL: no flow's, the kernel's to route), or the verdict.
 */
static __always_inline __u32 lan_icmp_error_flow(__u32 ifindex, const struct pkt *p,
						 const struct xwan_settings *s, __u64 now,
						 struct flow_entry **fep)
{
	struct flow_entry *fe;
	__u32 v = lan_icmp_error_check(ifindex, p);

	*fep = NULL;
	if (v)
		return v;
	fe = icmp_error_flow(p, s, now);
	/* (a hairpinned flow's entries both arrive on a LAN) */
	if (fe && (fe->dir == FLOW_DIR_OUT || fe->group == XWAN_GROUP_HAIRPIN))
		*fep = fe;
	return 0;
}

#endif /* XWAN_ICMP_H */
