// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * XDP fast path. xdp_lan runs on every LAN interface, xdp_wan on every WAN
 * interface. They forward what they fully understand and hand everything
 * exceptional (unknown neighbour, expiring TTL, oversize) to the kernel,
 * where the tc programs finish the job on the same flow.
 */
#define XWAN_HOOK_XDP
#include "lib/compiler.h"
#include <bpf/bpf_tracing.h>
#include "lib/classify.h"
#include "lib/fwd6.h"
#include "lib/l2.h"
#include "lib/verdict.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

static __always_inline int xdp_verdict(__u32 hook, __u32 v)
{
	count_verdict(hook, v);
	if (verdict_is_drop(v))
		return XDP_DROP;
	return XDP_PASS;
}

/*
 * The gateway's MAC, re-read from the kernel's neighbour table on new flows
 * at most once a second, so a replaced ISP router is followed without an
 * agent. NULL while unresolved: the kernel path resolves it meanwhile.
 */
static __attribute__((noinline)) void gw_neigh_refresh(struct xdp_md *ctx, struct gw_neigh *n,
							 __be32 nexthop, __u32 ifindex)
{
	__u8 mac[6];
	int rc = fib_neigh(ctx, nexthop, ifindex, mac);

	if (rc == BPF_FIB_LKUP_RET_SUCCESS) {
		if (!n->valid || __builtin_memcmp(n->mac, mac, 6)) {
			__builtin_memcpy(n->mac, mac, 6);
			n->valid = 1;
			count_event(EV_NEIGH_REFRESHED);
		}
	} else if (rc == BPF_FIB_LKUP_RET_NO_NEIGH) {
		n->valid = 0;
	}
}

static __always_inline struct gw_neigh *gw_neigh_ready(struct xdp_md *ctx, __u32 gw,
						       const struct gw_info *gi,
						       __u64 now, int new_flow)
{
	struct gw_neigh *n = bpf_map_lookup_elem(&gw_neigh, &gw);

	if (!n)
		return NULL;
	if ((new_flow || !n->valid) && age_exceeds(now, n->checked_ns, XWAN_NEIGH_RECHECK_NS)) {
		n->checked_ns = now;
		gw_neigh_refresh(ctx, n, gi->nexthop, gi->ifindex);
	}
	return n->valid ? n : NULL;
}

/* Routing's part of forwarding: TTL, MACs, transmit. */
static __always_inline int xdp_forward(struct xdp_md *ctx, __u32 ifindex,
				       const __u8 *dmac, const __u8 *smac)
{
	void *data = ctx_data(ctx), *end = ctx_data_end(ctx);
	struct ethhdr *eth = data;
	struct iphdr *ip = data + ETH_HLEN;
	__u32 check;

	if ((void *)(ip + 1) > end)
		return XDP_ABORTED;
	/* RFC 1624 for a TTL decrement, as the kernel's ip_decrease_ttl(). */
	check = ip->check;
	check += bpf_htons(0x0100);
	ip->check = (__u16)(check + (check >= 0xffff));
	ip->ttl--;
	__builtin_memcpy(eth->h_dest, dmac, 6);
	__builtin_memcpy(eth->h_source, smac, 6);
	return bpf_redirect_map(&tx_ports, ifindex, 0);
}

static __always_inline int mac_unknown(const __u8 *mac)
{
	return !(mac[0] | mac[1] | mac[2] | mac[3] | mac[4] | mac[5]);
}

/* The destination MAC of a LAN flow's packet, NULL while unknown. */
static __always_inline const __u8 *xdp_lan_dmac(struct xdp_md *ctx, const struct pkt *p,
						struct flow_entry *fe, const struct gw_info *gi,
						__u64 now, int new_flow)
{
	struct gw_neigh *n;

	if (fe->flags & FLOW_F_ONLINK) {
		if (mac_unknown(fe->l2_dst) &&
		    onlink_neigh(ctx, p->icmp_err ? p->key.daddr : fe->peer.saddr, gi->ifindex,
				 fe->l2_dst))
			return NULL;
		return fe->l2_dst;
	}
	n = gw_neigh_ready(ctx, fe->gw, gi, now, new_flow);
	return n ? n->mac : NULL;
}

/* A LAN packet for the kernel, whose tc program accounts it in its flow. */
static __always_inline int xdp_lan_pass(const struct pkt *p, const struct classified *c, __u32 v)
{
	if (c->tracked)
		flow_untrack(p);
	return xdp_verdict(HOOK_XDP_LAN, v);
}

/* Send a LAN packet of flow c->fe (OUT) out of its WAN, translated. */
static __always_inline int xdp_lan_forward(struct xdp_md *ctx, const struct pkt *p,
					   const struct xwan_settings *s,
					   const struct classified *c, __u64 now)
{
	struct flow_entry *fe = c->fe;
	struct gw_info *gi;
	const __u8 *dmac;
	__u32 gw, v;

	/* A rule's bypass or drop, decided on the flow's first packet. */
	if (fe->flags & (FLOW_F_BYPASS | FLOW_F_DROP)) {
		fe->last_seen_ns = now;
		fe->packets += 1;
		fe->bytes += p->len;
		return xdp_verdict(HOOK_XDP_LAN, (fe->flags & FLOW_F_DROP) ? V_DROP_POLICY
									   : V_PASS_BYPASS);
	}
	gw = fe->gw;
	gi = bpf_map_lookup_elem(&gateways, &gw);
	if (!gi)
		return xdp_lan_pass(p, c, V_PASS_NOT_XWAN);
	/* A WAN XDP cannot transmit into: tc marks the flow, the kernel sends. */
	if (!xdp_tx_redirects(ctx_ifindex(ctx), gi->ifindex))
		return xdp_lan_pass(p, c, V_PASS_NO_XDP_TX);
	dmac = xdp_lan_dmac(ctx, p, fe, gi, now, c->opened != 0);
	if (!dmac)
		return xdp_lan_pass(p, c, V_PASS_NO_NEIGH);
	if (p->len > gi->mtu)
		return xdp_lan_pass(p, c, V_PASS_MTU);

	if (p->icmp_err) {
		if (nat_rewrite_icmp_error(ctx, p, fe))
			return xdp_verdict(HOOK_XDP_LAN, V_DROP_MALFORMED);
		v = V_FWD_ICMP_ERROR;
	} else {
		v = c->tracked ? 0 : flow_track(s, fe, p, now);
		if (v)
			return xdp_verdict(HOOK_XDP_LAN, v);
		if (nat_rewrite(ctx, p, NAT_SRC, fe->xlate_addr, fe->xlate_port))
			return xdp_verdict(HOOK_XDP_LAN, V_DROP_MALFORMED);
		v = V_FWD_OUT;
	}
	count_gw_packet(gw, p->len, 1);
	if (xdp_forward(ctx, gi->ifindex, dmac, gi->mac_wan) != XDP_REDIRECT)
		return xdp_verdict(HOOK_XDP_LAN, V_DROP_REDIRECT);
	return xdp_redirected(HOOK_XDP_LAN, v);
}

/*
 * A hairpinned packet (either way: both arrive on a LAN) to the other LAN
 * host, both addresses translated as its entry says.
 */
static __attribute__((noinline)) int xdp_hairpin_forward(struct xdp_md *ctx, const struct pkt *p,
					       const struct xwan_settings *s,
					       struct flow_entry *fe, __u64 now)
{
	__u32 v = V_FWD_ICMP_ERROR;

	if (!xdp_tx_redirects(ctx_ifindex(ctx), fe->out_ifindex))
		return xdp_verdict(HOOK_XDP_LAN, V_PASS_NO_XDP_TX);
	if (p->len > fe->out_mtu)
		return xdp_verdict(HOOK_XDP_LAN, V_PASS_MTU);
	/* The LAN host whose MAC was unknown when the flow opened. */
	if (mac_unknown(fe->l2_dst) &&
	    onlink_neigh(ctx, fe->peer.saddr, fe->out_ifindex, fe->l2_dst))
		return xdp_verdict(HOOK_XDP_LAN, V_PASS_NO_NEIGH);
	if (!p->icmp_err) {
		v = flow_track(s, fe, p, now);
		if (v)
			return xdp_verdict(HOOK_XDP_LAN, v);
		v = V_FWD_HAIRPIN;
	}
	if (hairpin_rewrite(ctx, p, fe))
		return xdp_verdict(HOOK_XDP_LAN, V_DROP_MALFORMED);
	if (xdp_forward(ctx, fe->out_ifindex, fe->l2_dst, fe->l2_src) != XDP_REDIRECT)
		return xdp_verdict(HOOK_XDP_LAN, V_DROP_REDIRECT);
	return xdp_redirected(HOOK_XDP_LAN, v);
}

SEC("xdp")
int xdp_lan(struct xdp_md *ctx)
{
	struct xwan_settings *s;
	struct classified c;
	struct pkt p = {};
	__u64 now;
	__u32 v;
	int rc;

	rc = parse_packet(ctx_data(ctx), ctx_data_end(ctx), ctx_len(ctx), ctx_l3_off(ctx), &p);
	if (rc == PARSE_NOT_IPV4)
		return xdp6_lan(ctx);
	if (rc == PARSE_MALFORMED)
		return xdp_verdict(HOOK_XDP_LAN, V_DROP_MALFORMED);
	if (!l2_for_us(ctx))    /* flooded by a switch to another router too */
		return xdp_verdict(HOOK_XDP_LAN, V_PASS_NOT_OUR_MAC);
	if (rc == PARSE_UNSUPPORTED)
		return xdp_verdict(HOOK_XDP_LAN, V_PASS_UNSUPPORTED);
	s = get_settings();
	if (!s)
		return xdp_verdict(HOOK_XDP_LAN, V_PASS_NOT_XWAN);
	/* The kernel answers with Time Exceeded; nothing to translate. */
	if (p.ttl <= 1)
		return xdp_verdict(HOOK_XDP_LAN, V_PASS_TTL);
	now = bpf_ktime_get_coarse_ns();

	/* (a later fragment before its first: tc holds it) */
	v = lan_classify(ctx, &p, s, now, &c);
	if (v)
		return xdp_verdict(HOOK_XDP_LAN, v);
	if (!p.icmp_err && p.frag != FRAG_LATER) {
		frag_remember(&p, &p.key, now);
		/* tc re-injects it with the later fragments that came first. */
		if (frag_has_held(&p, now))
			return xdp_verdict(HOOK_XDP_LAN, V_PASS_FRAG_HELD);
	}
	if (flow_is_hairpin(c.fe))
		return xdp_hairpin_forward(ctx, &p, s, c.fe, now);
	return xdp_lan_forward(ctx, &p, s, &c, now);
}

static __always_inline int xdp_wan_unsolicited(struct xdp_md *ctx)
{
	__u32 ifindex = ctx_ifindex(ctx);
	struct gw_counters *gc;
	struct iface_info *wan;
	__u32 gw;

	wan = bpf_map_lookup_elem(&ifaces, &ifindex);
	if (wan) {
		gw = wan->gw;
		gc = gw_counters(gw);
		if (gc)
			gc->unsolicited += 1;
	}
	return xdp_verdict(HOOK_XDP_WAN, V_DROP_UNSOLICITED);
}

static __always_inline int xdp_wan_unmatched(struct xdp_md *ctx, const struct pkt *p)
{
	if (local_lan_side(p->key.daddr))
		return xdp_verdict(HOOK_XDP_WAN, V_DROP_WAN_TO_LAN_ADDR);
	if (wan_host_bound(&p->key))
		return xdp_verdict(HOOK_XDP_WAN, V_PASS_LOCAL);
	return xdp_wan_unsolicited(ctx);
}

/* Send a WAN packet of flow fe (IN) to its LAN host, translated. */
static __always_inline int xdp_wan_forward(struct xdp_md *ctx, const struct pkt *p,
					   const struct xwan_settings *s,
					   struct flow_entry *fe, __u64 now, __u32 v)
{
	int rc;

	if (fe->in_ifindex != ctx_ifindex(ctx)) {
		if (s->asymmetric == ASYM_DROP)
			return xdp_verdict(HOOK_XDP_WAN, V_DROP_ASYMMETRIC);
		count_event(EV_ASYMMETRIC_ALLOWED);
	}
	if (!p->icmp_err && p->frag == FRAG_FIRST) {
		frag_remember(p, &p->key, now);
		if (frag_has_held(p, now))
			return xdp_verdict(HOOK_XDP_WAN, V_PASS_FRAG_HELD);
	}

	if (p->ttl <= 1)
		return xdp_verdict(HOOK_XDP_WAN, V_PASS_TTL);
	/* A LAN XDP cannot transmit into (a bridge...): tc_wan_ingress translates. */
	if (!xdp_tx_redirects(ctx_ifindex(ctx), fe->out_ifindex))
		return xdp_verdict(HOOK_XDP_WAN, V_PASS_NO_XDP_TX);
	if (p->len > fe->out_mtu)
		return xdp_verdict(HOOK_XDP_WAN, V_PASS_MTU);
	/* A forwarded session's server whose MAC was unknown when it opened. */
	if (mac_unknown(fe->l2_dst) &&
	    onlink_neigh(ctx, fe->xlate_addr, fe->out_ifindex, fe->l2_dst))
		return xdp_verdict(HOOK_XDP_WAN, V_PASS_NO_NEIGH);

	if (p->icmp_err) {
		if (nat_rewrite_icmp_error(ctx, p, fe))
			return xdp_verdict(HOOK_XDP_WAN, V_DROP_MALFORMED);
		v = V_FWD_ICMP_ERROR;
	} else {
		rc = flow_track(s, fe, p, now);
		if (rc)
			return xdp_verdict(HOOK_XDP_WAN, rc);
		if (nat_rewrite(ctx, p, 0, fe->xlate_addr, fe->xlate_port))
			return xdp_verdict(HOOK_XDP_WAN, V_DROP_MALFORMED);
	}
	count_gw_packet(fe->gw, p->len, 0);
	if (xdp_forward(ctx, fe->out_ifindex, fe->l2_dst, fe->l2_src) != XDP_REDIRECT)
		return xdp_verdict(HOOK_XDP_WAN, V_DROP_REDIRECT);
	return xdp_redirected(HOOK_XDP_WAN, v);
}

SEC("xdp")
int xdp_wan(struct xdp_md *ctx)
{
	struct xwan_settings *s;
	struct classified c;
	struct pkt p = {};
	__u64 now;
	int rc;

	rc = parse_packet(ctx_data(ctx), ctx_data_end(ctx), ctx_len(ctx), ctx_l3_off(ctx), &p);
	if (rc == PARSE_NOT_IPV4)
		return xdp6_wan(ctx);
	if (rc == PARSE_MALFORMED)
		return xdp_verdict(HOOK_XDP_WAN, V_DROP_MALFORMED);
	if (!l2_for_us(ctx))
		return xdp_verdict(HOOK_XDP_WAN, V_PASS_NOT_OUR_MAC);
	if (rc == PARSE_UNSUPPORTED)
		return xdp_wan_unmatched(ctx, &p);
	s = get_settings();
	if (!s)
		return xdp_verdict(HOOK_XDP_WAN, V_PASS_NOT_XWAN);
	now = bpf_ktime_get_coarse_ns();

	switch (wan_classify(ctx, &p, s, now, &c)) {
	case WAN_CLS_FLOW:
		break;
	case WAN_CLS_HOST:
		/* The host's session: tc_wan_ingress, which sees it next, accounts it. */
		return xdp_verdict(HOOK_XDP_WAN, V_PASS_LOCAL);
	case WAN_CLS_SRC_LIMIT:
		return xdp_verdict(HOOK_XDP_WAN, V_DROP_SRC_LIMIT);
	case WAN_CLS_REFUSED:
		return xdp_wan_unsolicited(ctx);
	default:
		/* Before its first fragment, maybe: tc holds it. */
		if (!c.fe && p.frag == FRAG_LATER && dst_is_local(p.key.daddr))
			return xdp_verdict(HOOK_XDP_WAN, V_PASS_FRAG_EARLY);
		return xdp_wan_unmatched(ctx, &p);
	}
	return xdp_wan_forward(ctx, &p, s, c.fe, now, c.opened ? c.opened : V_FWD_IN);
}

/*
 * A redirect the kernel did not transmit (the target has no XDP transmit,
 * is down, the frame is too big): one of ours was counted forwarded by the
 * program that ran just before on this CPU; it becomes a redirect_failed
 * drop, and counts against the target interface.
 */
SEC("tp_btf/xdp_redirect_err")
int BPF_PROG(xdp_redirect_failed, const struct net_device *dev, const struct bpf_prog *xdp,
	     const void *tgt, int err, enum bpf_map_type map_type, __u32 map_id, __u32 index)
{
	__u32 id = xdp->aux->id, k0 = 0, k1 = 1, hook, idx, *last, *lan, *wan;
	__u64 one = 1, *n, *fwd;

	lan = bpf_map_lookup_elem(&xdp_prog_ids, &k0);
	wan = bpf_map_lookup_elem(&xdp_prog_ids, &k1);
	if (!lan || !wan || (id != *lan && id != *wan))
		return 0;
	hook = id == *lan ? HOOK_XDP_LAN : HOOK_XDP_WAN;
	n = bpf_map_lookup_elem(&redirect_errs, &index);
	if (n)
		*n += 1;
	else
		bpf_map_update_elem(&redirect_errs, &index, &one, BPF_NOEXIST);
	last = bpf_map_lookup_elem(&xdp_last_fwd, &k0);
	if (last && *last / V_MAX == hook) {
		idx = *last;
		fwd = bpf_map_lookup_elem(&verdicts, &idx);
		if (fwd && *fwd)
			*fwd -= 1;
		*last = XWAN_VERDICT_IDX(HOOK_MAX, 0);      /* used up */
	}
	count_verdict(hook, V_DROP_REDIRECT);
	return 0;
}
