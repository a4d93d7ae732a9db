/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The IPv6 dataplane's hooks (issue 13), entered from the IPv4 programs'
 * "not IPv4" branch. As for IPv4: XDP forwards what it fully understands
 * and passes the rest up, where tc finishes it on the same flow:
 *   tc_lan_ingress  finds (or makes) the flow and marks the packet with its
 *                   WAN's mark, so the kernel routes it by that WAN's table
 *                   (neighbour resolution, Time Exceeded, Packet Too Big);
 *   tc_wan_egress   translates marked packets as they leave the WAN, and
 *                   lets no LAN-side source out untranslated;
 *   tc_wan_ingress  translates replies XDP passed up.
 * Link-local, multicast, ND, RA, MLD, DHCPv6 and hop-by-hop packets go to
 * the kernel untouched (parse6.h). IPv6 verdicts count in verdicts6.
 */
#ifndef XWAN_FWD6_H
#define XWAN_FWD6_H

#include "l2.h"
#include "nat6.h"
#include "policy6.h"
#include "verdict.h"

/*
 * The flow of an IPv6 packet from a LAN, made if this is its first: 0 with
 * *fep set, or the packet's verdict. *new_flow tells a flow just made.
 */
static __always_inline __u32 lan6_flow(xwan_ctx *c, struct v6_scratch *w,
				       const struct xwan_settings *s, __u64 now,
				       struct flow6_entry **fep, int *new_flow)
{
	__u32 ifindex = ctx_ifindex(c), gw, group, v;
	struct pkt6 *p = &w->p;
	struct flow6_entry *fe;
	__u8 kind;

	if (!lan6_src_ok(ifindex, p->key.saddr))
		return V_DROP_SPOOFED;
	if (p->icmp_err) {
		/* A LAN host's error about a reply it got: out on that flow. */
		icmp6_err_key(p, &w->k);
		fe = flow6_lookup(s, &w->k, now);
		*fep = fe;
		return fe && fe->dir == FLOW_DIR_OUT ? 0 : V_PASS_NOT_XWAN;
	}
	kind = prefix6_kind(p->key.daddr);
	if (kind == PREFIX6_LOCAL)
		return V_PASS_LOCAL;
	if (kind == PREFIX6_LAN || kind == PREFIX6_DELEGATED)
		return V_PASS_BYPASS;
	if (p->frag == FRAG_LATER) {
		fe = frag6_follow(s, w, now);
		if (fe && flow6_is_marker(fe))
			return flow6_marked(fe, p, now);
		*fep = fe;
		return fe && fe->dir == FLOW_DIR_OUT ? 0 : V_PASS_FRAG_EARLY;
	}
	fe = flow6_lookup(s, &p->key, now);
	if (fe && flow6_is_marker(fe)) {
		frag6_remember(w, now);
		return flow6_marked(fe, p, now);
	}
	if (fe && (fe->dir != FLOW_DIR_OUT ||
		   (fe->state == FLOW_STATE_CLOSED && (p->tcp_flags & TCP_FLAG_SYN))))
		fe = NULL;
	if (!fe) {
		v = flow6_policy(w, s, ifindex, now, &group);
		if (!v)
			v = flow6_choose(w, s, now, &gw, &group);
		if (v == V_PASS_BYPASS || v == V_DROP_POLICY)
			frag6_remember(w, now);   /* a rule's marker: later fragments too */
		if (v)
			return v;
		v = flow6_create(w, s, ifindex, gw, group, now);
		if (v)
			return v;
		fe = bpf_map_lookup_elem(&flows6_new, &p->key);
		if (!fe)
			return V_DROP_FLOW_ALLOC;
		*new_flow = 1;
	}
	frag6_remember(w, now);
	*fep = fe;
	return 0;
}

/*
 * The flow of an IPv6 packet from a WAN: 0 with *fep (an IN entry), or the
 * verdict of a packet without one.
 */
static __always_inline __u32 wan6_flow(xwan_ctx *c, struct v6_scratch *w,
				       const struct xwan_settings *s, __u64 now,
				       struct flow6_entry **fep)
{
	__u32 ifindex = ctx_ifindex(c), gw;
	const struct pkt6 *p = &w->p;
	struct flow6_entry *fe;
	struct gw_counters *gc;
	struct iface_info *wan;
	__u8 kind;

	if (p->icmp_err) {
		icmp6_err_key(p, &w->k);
		fe = flow6_lookup(s, &w->k, now);
	} else if (p->frag == FRAG_LATER) {
		fe = frag6_follow(s, w, now);
	} else {
		fe = flow6_lookup(s, &p->key, now);
	}
	if (fe && fe->dir == FLOW_DIR_IN) {
		if (fe->in_ifindex != ifindex) {
			if (s->asymmetric == ASYM_DROP)
				return V_DROP_ASYMMETRIC;
			count_event(EV_ASYMMETRIC_ALLOWED);
		}
		*fep = fe;
		return 0;
	}
	kind = prefix6_kind(p->key.daddr);
	if (kind == PREFIX6_LOCAL)
		return V_PASS_LOCAL;
	if (kind == PREFIX6_LAN)
		return V_DROP_WAN_TO_LAN_ADDR;
	wan = bpf_map_lookup_elem(&ifaces, &ifindex);
	if (wan) {
		gw = wan->gw;
		gc = bpf_map_lookup_elem(&gw_stats6, &gw);
		if (gc)
			gc->unsolicited += 1;
	}
	return V_DROP_UNSOLICITED;
}

/*
 * Nothing leaves a WAN from a LAN-side source its ISP does not route (it
 * would drop it as spoofed): the kernel's forwarding of what xwan does not
 * translate, the host's own packets from its LAN addresses. On a nat6 none
 * WAN the sources of its own delegated prefix are the ISP's.
 */
static __always_inline int egress6_untranslated(__u32 ifindex, const __u8 *saddr)
{
	struct iface_info *wan = bpf_map_lookup_elem(&ifaces, &ifindex);
	struct prefix6_info *src = prefix6_of(saddr);
	struct gw6_info *gi;
	__u32 gw;

	if (!wan || wan->role != IFACE_WAN || !src)
		return 0;
	gw = wan->gw;
	gi = bpf_map_lookup_elem(&gateways6, &gw);
	if (!gi || !(gi->flags & GW6_F_CONFIGURED))
		return 0;
	if (src->kind == PREFIX6_DELEGATED)
		return src->gw != gw;
	return src->kind == PREFIX6_LAN || (src->kind == PREFIX6_LOCAL && src->gw == XWAN_GW_NONE);
}

/*
 * What every IPv6 hook starts with: its scratch (the parsed packet) and the
 * settings. 0, or the verdict of a packet the IPv6 path leaves alone.
 */
static __always_inline __u32 v6_start(xwan_ctx *c, struct v6_scratch **wp,
				      struct xwan_settings **sp)
{
	struct v6_scratch *w = v6_scratch_get();
	int rc;

	*sp = settings6();
	*wp = w;
	if (!w || !*sp)
		return V_PASS_NOT_XWAN;
	rc = pkt6_parse(c, ctx_l3_off(c), &w->p);
	if (rc == PARSE_UNSUPPORTED)
		return V_PASS_LINK_SCOPE;
	return rc ? V_DROP_MALFORMED : 0;
}

/* The gateway a flow leaves by (OUT) or came in through (IN). */
static __always_inline struct gw6_info *flow6_gw(const struct flow6_entry *fe)
{
	__u32 gw = fe->gw;

	return bpf_map_lookup_elem(&gateways6, &gw);
}

/* Neither IPv4 nor IPv6 (ARP, VLAN-tagged...): the kernel's, counted as before. */
static __always_inline int not_ip(__u32 hook)
{
	count_verdict(hook, V_PASS_NOT_IPV4);
	return CTX_ACT_PASS;
}

/* An IPv6 packet's verdict, counted, as the hook's action (a forward returns its own). */
static __always_inline int v6_action(__u32 hook, __u32 v)
{
	count_verdict6(hook, v);
	return verdict_is_drop(v) ? CTX_ACT_DROP : CTX_ACT_PASS;
}

#if defined(XWAN_HOOK_XDP)

/* A redirect of ours, counted forwarded; a failed one is counted by
 * xdp_redirect_failed as IPv4's redirect_failed (no IPv4 counter to undo). */
static __attribute__((noinline)) int xdp6_redirected(__u32 hook, __u32 v)
{
	__u32 zero = 0, *last = bpf_map_lookup_elem(&xdp_last_fwd, &zero);

	count_verdict6(hook, v);
	if (last)
		*last = XWAN_VERDICT_IDX(HOOK_MAX, 0);
	return XDP_REDIRECT;
}

/* The IPv6 gateway's MAC, re-read from the kernel's neighbour table at most
 * once a second (as IPv4's gw_neigh_refresh). */
static __attribute__((noinline)) int gw6_neigh(struct xdp_md *ctx, __u32 gw,
					       const struct gw6_info *gi, int new_flow, __u8 *mac)
{
	struct gw_neigh *n = bpf_map_lookup_elem(&gw_neigh6, &gw);
	__u64 now = bpf_ktime_get_coarse_ns();
	struct bpf_fib_lookup fib = {};
	int rc;

	if (!n)
		return -1;
	if ((new_flow || !n->valid) && age_exceeds(now, n->checked_ns, XWAN_NEIGH_RECHECK_NS)) {
		n->checked_ns = now;
		fib.family = 10; /* AF_INET6 */
		__builtin_memcpy(fib.ipv6_dst, gi->nexthop, 16);
		fib.ifindex = gi->ifindex;
		rc = bpf_fib_lookup(ctx, &fib, sizeof(fib),
				    BPF_FIB_LOOKUP_DIRECT | BPF_FIB_LOOKUP_OUTPUT);
		if (rc == BPF_FIB_LKUP_RET_SUCCESS && fib.ifindex == gi->ifindex) {
			__builtin_memcpy(n->mac, fib.dmac, 6);
			n->valid = 1;
		} else if (rc == BPF_FIB_LKUP_RET_NO_NEIGH) {
			n->valid = 0;
		}
	}
	if (!n->valid)
		return -1;
	__builtin_memcpy(mac, n->mac, 6);
	return 0;
}

/* Routing's part of forwarding: hop limit, MACs, transmit. */
static __always_inline int xdp6_forward(struct xdp_md *ctx, __u32 ifindex, const __u8 *dmac,
					const __u8 *smac)
{
	void *data = ctx_data(ctx), *end = ctx_data_end(ctx);
	__u8 *eth = data;

	if ((void *)(eth + ETH_HLEN + 8) > end)
		return XDP_ABORTED;
	eth[ETH_HLEN + 7] -= 1;
	__builtin_memcpy(eth, dmac, 6);
	__builtin_memcpy(eth + 6, smac, 6);
	return bpf_redirect_map(&tx_ports, ifindex, 0);
}

static __always_inline int mac6_unknown(const __u8 *m)
{
	return !(m[0] | m[1] | m[2] | m[3] | m[4] | m[5]);
}

static __attribute__((noinline)) int xdp6_lan(struct xdp_md *ctx)
{
	struct flow6_entry *fe = NULL;
	struct xwan_settings *s;
	struct v6_scratch *w;
	struct gw6_info *gi;
	struct pkt6 *p;
	int new_flow = 0;
	__u8 mac[6];
	__u32 gw, v;
	__u64 now;

	if (!ctx_is_ipv6(ctx, ETH_HLEN))
		return not_ip(HOOK_XDP_LAN);
	v = v6_start(ctx, &w, &s);
	if (v)
		return v6_action(HOOK_XDP_LAN, v);
	p = &w->p;
	if (p->hop_limit <= 1)   /* the kernel answers, tc makes the flow first */
		return v6_action(HOOK_XDP_LAN, V_PASS_TTL);
	now = bpf_ktime_get_coarse_ns();
	v = lan6_flow(ctx, w, s, now, &fe, &new_flow);
	if (v || !fe)
		return v6_action(HOOK_XDP_LAN, v ? v : V_PASS_NOT_XWAN);
	gw = fe->gw;
	gi = flow6_gw(fe);
	if (!gi || !gi->ifindex)
		return v6_action(HOOK_XDP_LAN, V_PASS_NOT_XWAN);
	if (!xdp_tx_redirects(ctx_ifindex(ctx), gi->ifindex))
		return v6_action(HOOK_XDP_LAN, V_PASS_NO_XDP_TX);
	if (gw6_neigh(ctx, gw, gi, new_flow, mac))
		return v6_action(HOOK_XDP_LAN, V_PASS_NO_NEIGH);
	if (p->len > gi->mtu)    /* the kernel sends Packet Too Big */
		return v6_action(HOOK_XDP_LAN, V_PASS_MTU);
	if (!p->icmp_err)
		flow6_track(fe, p, now);
	v = nat6_out(ctx, p, gi, fe);
	if (v)
		return v6_action(HOOK_XDP_LAN, v);
	count_gw6_packet(gw, p->len, 1);
	if (xdp6_forward(ctx, gi->ifindex, mac, gi->mac_wan) != XDP_REDIRECT)
		return v6_action(HOOK_XDP_LAN, V_DROP_REDIRECT);
	return xdp6_redirected(HOOK_XDP_LAN, p->icmp_err ? V_FWD_ICMP_ERROR : V_FWD_OUT);
}

static __attribute__((noinline)) int xdp6_wan(struct xdp_md *ctx)
{
	struct flow6_entry *fe = NULL;
	struct xwan_settings *s;
	struct v6_scratch *w;
	struct gw6_info *gi;
	struct pkt6 *p;
	__u32 gw, v;
	__u64 now;

	if (!ctx_is_ipv6(ctx, ETH_HLEN))
		return not_ip(HOOK_XDP_WAN);
	v = v6_start(ctx, &w, &s);
	if (v)
		return v6_action(HOOK_XDP_WAN, v);
	p = &w->p;
	now = bpf_ktime_get_coarse_ns();
	v = wan6_flow(ctx, w, s, now, &fe);
	if (v || !fe)
		return v6_action(HOOK_XDP_WAN, v ? v : V_PASS_NOT_XWAN);
	if (!p->icmp_err)
		frag6_remember(w, now);
	if (p->hop_limit <= 1)
		return v6_action(HOOK_XDP_WAN, V_PASS_TTL);
	if (!xdp_tx_redirects(ctx_ifindex(ctx), fe->out_ifindex))
		return v6_action(HOOK_XDP_WAN, V_PASS_NO_XDP_TX);
	if (p->len > fe->out_mtu)
		return v6_action(HOOK_XDP_WAN, V_PASS_MTU);
	if (mac6_unknown(fe->l2_dst))
		return v6_action(HOOK_XDP_WAN, V_PASS_NO_NEIGH);
	gw = fe->gw;
	gi = flow6_gw(fe);
	if (!gi)
		return v6_action(HOOK_XDP_WAN, V_PASS_NOT_XWAN);
	if (!p->icmp_err)
		flow6_track(fe, p, now);
	v = nat6_in(ctx, p, gi, fe);
	if (v)
		return v6_action(HOOK_XDP_WAN, v);
	count_gw6_packet(gw, p->len, 0);
	if (xdp6_forward(ctx, fe->out_ifindex, fe->l2_dst, fe->l2_src) != XDP_REDIRECT)
		return v6_action(HOOK_XDP_WAN, V_DROP_REDIRECT);
	return xdp6_redirected(HOOK_XDP_WAN, p->icmp_err ? V_FWD_ICMP_ERROR : V_FWD_IN);
}

#elif defined(XWAN_HOOK_TC)

/* Packets XDP passed up, marked with their flow's WAN for the kernel's routing. */
static __attribute__((noinline)) int tc6_lan_ingress(struct __sk_buff *skb)
{
	struct flow6_entry *fe = NULL;
	struct xwan_settings *s;
	struct v6_scratch *w;
	struct gw6_info *gi;
	struct pkt6 *p;
	int new_flow = 0;
	__u32 v;
	__u64 now;

	if (!ctx_is_ipv6(skb, 0))
		return not_ip(HOOK_TC_LAN_IN);
	v = v6_start(skb, &w, &s);
	if (v)
		return v6_action(HOOK_TC_LAN_IN, v);
	p = &w->p;
	now = bpf_ktime_get_coarse_ns();
	v = lan6_flow(skb, w, s, now, &fe, &new_flow);
	if (v || !fe)
		return v6_action(HOOK_TC_LAN_IN, v ? v : V_PASS_NOT_XWAN);
	gi = flow6_gw(fe);
	if (!gi)
		return v6_action(HOOK_TC_LAN_IN, V_PASS_NOT_XWAN);
	/* An expiring hop limit is the kernel's to answer, not the flow's traffic. */
	if (!p->icmp_err && p->hop_limit > 1)
		flow6_track(fe, p, now);
	skb->mark = (ctx_mark(skb) & ~s->fwmark_mask) | (gi->fwmark & s->fwmark_mask);
	return v6_action(HOOK_TC_LAN_IN, p->hop_limit <= 1 ? V_PASS_TTL : V_FWD_VIA_KERNEL);
}

/* The OUT entry of a marked packet leaving WAN ifindex, NULL when none. */
static __always_inline struct flow6_entry *egress6_flow(struct v6_scratch *w,
							const struct xwan_settings *s,
							__u32 ifindex, __u64 now)
{
	const struct pkt6 *p = &w->p;
	struct flow6_entry *fe;

	if (p->icmp_err) {
		icmp6_err_key(p, &w->k);
		fe = flow6_lookup(s, &w->k, now);
	} else if (p->frag == FRAG_LATER) {
		fe = frag6_follow(s, w, now);
	} else {
		fe = flow6_lookup(s, &p->key, now);
	}
	if (!fe || fe->dir != FLOW_DIR_OUT || fe->out_ifindex != ifindex)
		return NULL;
	return fe;
}

static __attribute__((noinline)) int tc6_wan_egress(struct __sk_buff *skb)
{
	__u32 ifindex = ctx_ifindex(skb), gw, v;
	struct flow6_entry *fe = NULL;
	struct xwan_settings *s;
	struct v6_scratch *w;
	struct gw6_info *gi;
	struct pkt6 *p;
	int marked;

	if (!ctx_is_ipv6(skb, 0))
		return not_ip(HOOK_TC_WAN_OUT);
	v = v6_start(skb, &w, &s);
	if (v)  /* what leaves malformed is the host's own business */
		return v6_action(HOOK_TC_WAN_OUT, v == V_DROP_MALFORMED ? V_PASS_NOT_XWAN : v);
	p = &w->p;
	marked = !!(ctx_mark(skb) & s->fwmark_mask);
	if (marked)
		fe = egress6_flow(w, s, ifindex, bpf_ktime_get_coarse_ns());
	else if (p->icmp_err)
		fe = nat6_kernel_error_flow(w, s, ifindex, bpf_ktime_get_coarse_ns());
	if (!fe) {
		if (egress6_untranslated(ifindex, p->key.saddr))
			return v6_action(HOOK_TC_WAN_OUT, V_DROP_UNTRANSLATED);
		/* The host's own, marked too when the agent routes its probes by mark. */
		if (prefix6_kind(p->key.saddr) == PREFIX6_LOCAL) {
			nat66_host_session(w, ifindex, bpf_ktime_get_coarse_ns());
			return v6_action(HOOK_TC_WAN_OUT, V_PASS_FROM_HOST);
		}
		return v6_action(HOOK_TC_WAN_OUT, marked ? V_DROP_NO_FLOW : V_PASS_NOT_XWAN);
	}
	gw = fe->gw;
	gi = flow6_gw(fe);
	if (!gi)
		return v6_action(HOOK_TC_WAN_OUT, V_DROP_NO_FLOW);
	if (!p->icmp_err)
		frag6_remember(w, bpf_ktime_get_coarse_ns());
	v = nat6_out(skb, p, gi, fe);
	if (v)
		return v6_action(HOOK_TC_WAN_OUT, v);
	count_gw6_packet(gw, p->len, 1);
	return v6_action(HOOK_TC_WAN_OUT, p->icmp_err ? V_FWD_ICMP_ERROR : V_FWD_OUT);
}

static __attribute__((noinline)) int tc6_wan_ingress(struct __sk_buff *skb)
{
	struct flow6_entry *fe = NULL;
	struct xwan_settings *s;
	struct v6_scratch *w;
	struct gw6_info *gi;
	struct pkt6 *p;
	__u32 v;
	__u64 now;

	if (!ctx_is_ipv6(skb, 0))
		return not_ip(HOOK_TC_WAN_IN);
	v = v6_start(skb, &w, &s);
	if (v)
		return v6_action(HOOK_TC_WAN_IN, v);
	p = &w->p;
	now = bpf_ktime_get_coarse_ns();
	v = wan6_flow(skb, w, s, now, &fe);
	if (v || !fe)
		return v6_action(HOOK_TC_WAN_IN, v ? v : V_PASS_NOT_XWAN);
	gi = flow6_gw(fe);
	if (!gi)
		return v6_action(HOOK_TC_WAN_IN, V_PASS_NOT_XWAN);
	if (!p->icmp_err) {
		frag6_remember(w, now);
		flow6_track(fe, p, now);
	}
	v = nat6_in(skb, p, gi, fe);
	if (v)
		return v6_action(HOOK_TC_WAN_IN, v);
	count_gw6_packet(fe->gw, p->len, 0);
	return v6_action(HOOK_TC_WAN_IN, V_FWD_VIA_KERNEL);
}

#endif

#endif /* XWAN_FWD6_H */
