/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * New LAN flows: flow_admit, in four steps (policy -> gateway -> port ->
 * install), the one-sided entries a rule's bypass or drop leaves, and the
 * host's own sessions leaving a WAN. Written once over ctx.h for XDP and tc.
 *
 * Stack: xdp_lan, flow_admit and one callee (nat_map_port, the bpf_loop
 * callbacks) share the 512-byte BPF stack, and it was full. The steps are
 * inlined into flow_admit, so they cost no frame of their own; the two
 * entries being built and the port search (struct nat_try) live in the
 * per-CPU admit_scratch, what the steps decide in a small struct
 * admit_plan (kept in registers: take no address of its fields).
 */
#ifndef XWAN_ADMIT_H
#define XWAN_ADMIT_H

#include "nat.h"

/* A step's "no verdict yet: go on" (every real verdict is below V_MAX). */
#define ADMIT_NEXT V_MAX
/* flow_admit: another CPU made the same flow first; its entry carries the
 * packet (look it up, account it there). Never counted as a verdict. */
#define ADMIT_LOST_RACE (V_MAX + 1)

/* What the steps of one new LAN flow decided. */
struct admit_plan {
	struct iface_info *lan;         /* the LAN interface it came from */
	struct gw_slot_table *t;        /* its group's slots; NULL: pinned */
	struct gw_info *gi;             /* the gateway that gave a port */
	__u32 ifindex;
	__u32 pinned;                   /* dst_policy's WAN, XWAN_GW_NONE */
	__u32 group;
	__u32 rule;                     /* XWAN_RULE_NONE: no rule matched */
	__u32 rule_filtering;           /* its policy_rule.filtering, 0: the group's */
	__u32 pos;                      /* slot position (hash or round robin) */
	__u32 first;                    /* gateway tried first */
	__u32 exhausted;                /* a gateway ran out of ports */
	__u32 old;                      /* the lookup saw an entry at the key */
};

/* Only a flow's opening packet may create it (nat_port.h). */
static __always_inline int pkt_opens_flow(const struct pkt *p, const struct xwan_settings *s)
{
	return pkt_l4_opens_flow(s, p->icmp_err || p->frag == FRAG_LATER, p->key.proto,
				 p->tcp_flags, IPPROTO_ICMP, p->sport_off != 0);
}

/* ---- gateway fallback ---- */

struct slot_walk {
	__u32 group;
	__u32 pos;
	__u32 tried;            /* gateways already tried */
	__u32 found;
};

static long slot_walk_one(__u32 i, void *data)
{
	struct slot_walk *w = data;
	struct gw_slot_table *t = group_table(w->group);
	__u32 gw;

	if (!t)
		return 1;
	gw = slot_gateway(t, w->pos + i);
	if (gw >= XWAN_MAX_GATEWAYS)
		return 1;
	if (!(w->tried & (1U << gw))) {
		w->found = gw;
		return 1;
	}
	return 0;
}

/*
 * The next gateway not yet tried, walking the slots on from the flow's own
 * position: a fallback (ports ran out) still follows the weights.
 */
static __always_inline __u32 next_untried_gateway(__u32 group, __u32 pos, __u32 tried)
{
	struct slot_walk w = { .group = group, .pos = pos, .tried = tried,
			       .found = XWAN_GW_NONE };

	bpf_loop(XWAN_SLOTS, slot_walk_one, &w, 0);
	return w.found;
}

/* ---- markers: a rule's bypass or drop ---- */

/*
 * A rule bypassed or dropped the flow: remember the decision as a one-sided
 * entry, so the flow's later packets cost one lookup instead of the rules.
 */
static __always_inline int flow_admit_marker(const struct xwan_settings *s, const struct pkt *p,
					     const struct admit_plan *ap, __u32 rule, __u8 action,
					     __u64 now)
{
	struct admit_scratch *sc = scratch_get();
	struct flow_entry *mk;

	if (!sc)
		return V_DROP_FLOW_ALLOC;
	mk = &sc->out;
	mk->created_ns = now;
	mk->last_seen_ns = now;
	mk->packets = 1;
	mk->bytes = p->len;
	mk->dir = FLOW_DIR_OUT;
	mk->in_ifindex = ap->ifindex;
	mk->gw = XWAN_GW_NONE;
	mk->group = XWAN_GROUP_NONE;
	mk->rule = (__u16)rule;
	mk->flags = action == RULE_ACTION_DROP ? FLOW_F_DROP : FLOW_F_BYPASS;
	mk->peer.proto = p->key.proto;
	if (ap->old)
		flow_clear_old(s, p, now);
	if (flow_install(&p->key, mk, NULL) > 0)
		flow_created(XWAN_GW_NONE, s);
	return action == RULE_ACTION_DROP ? V_DROP_POLICY : V_PASS_BYPASS;
}

/* ---- step 1: policy ---- */

/* Anti-spoofing: may this LAN interface send from addr? Kept off
 * flow_admit's stack frame. */
static __attribute__((noinline)) int lan_src_ok(__u32 ifindex, __be32 addr)
{
	struct lan_src_key lk = { .prefixlen = 64, .ifindex = ifindex, .addr = addr };

	return bpf_map_lookup_elem(&lan_nets, &lk) != NULL;
}

/*
 * May this packet open a flow, and through which group or pinned WAN? The
 * destination's policy, anti-spoofing, the opening packet, the LAN
 * interface, then the rules (a bypass or drop ends here, as a marker).
 * The rule scan's state is per CPU (policy.h), off flow_admit's frame,
 * which the port step's callees need.
 */
static __always_inline __u32 admit_policy(const struct pkt *p, const struct xwan_settings *s,
					  struct admit_plan *ap, __u64 now)
{
	struct dst_policy *dp = dst_policy_of(p->key.daddr);
	struct rule_scan *rs;
	__u32 ifindex = ap->ifindex;    /* a key on the stack: ap stays in registers */

	ap->group = s->default_group;
	ap->pinned = XWAN_GW_NONE;
	if (dp) {
		if (dp->action == DST_ACTION_LOCAL)
			return V_PASS_LOCAL;
		if (dp->action == DST_ACTION_BYPASS)
			return V_PASS_BYPASS;
		if (dp->action == DST_ACTION_WAN)
			ap->pinned = dp->gw;
	}
	if (!lan_src_ok(ap->ifindex, p->key.saddr))
		return V_DROP_SPOOFED;
	if (!pkt_opens_flow(p, s))
		return V_DROP_NOT_NEW;
	ap->lan = bpf_map_lookup_elem(&ifaces, &ifindex);
	if (!ap->lan || ap->lan->role != IFACE_LAN)
		return V_PASS_NOT_XWAN;
	ap->rule = XWAN_RULE_NONE;
	ap->rule_filtering = 0;
	if (ap->pinned != XWAN_GW_NONE)
		return ADMIT_NEXT;
	rs = rules_match(p, ap->ifindex, s);
	if (!rs)
		return V_DROP_FLOW_ALLOC;
	if (rs->found != XWAN_RULE_NONE) {
		if (rs->action != RULE_ACTION_GROUP)
			return flow_admit_marker(s, p, ap, rs->found, rs->action, now);
		ap->group = rs->group;
	}
	ap->rule = rs->found;
	ap->rule_filtering = rs->filtering;
	return ADMIT_NEXT;
}

/* The reply entry: everything but the gateway and the NAT port is known now. */
static __always_inline void admit_reply_entry(struct flow_entry *in, const struct pkt *p,
					      const struct admit_plan *ap, __u64 now)
{
	in->ct = FLOW_CT_CHARGED;
	in->created_ns = now;
	in->last_seen_ns = now;
	in->peer = p->key;
	in->xlate_addr = p->key.saddr;
	in->xlate_port = p->key.sport;
	in->dir = FLOW_DIR_IN;
	in->out_ifindex = ap->ifindex;
	in->out_mtu = ap->lan->mtu;
	in->rule = (__u16)ap->rule;
	/* What tcp_learn would copy from the OUT entry on this packet: the
	 * reply entry is then not looked up again (an LRU lookup marks it
	 * used, and a flood's entries should be the first to go). */
	if (p->key.proto == IPPROTO_TCP)
		in->tcp_peer_win = p->tcp_win;
	__builtin_memcpy(in->l2_dst, p->eth_src, 6);
	__builtin_memcpy(in->l2_src, ap->lan->mac, 6);
}

/* ---- step 2: gateway ---- */

/*
 * The gateway to try first: the pinned WAN, else the socket's mapping's,
 * the client's sticky one, or the slot at the flow's position.
 */
static __always_inline __u32 admit_first_gateway(const struct pkt *p, struct admit_plan *ap,
						 __u64 now)
{
	ap->first = ap->pinned;
	if (ap->pinned != XWAN_GW_NONE)
		return ADMIT_NEXT;
	ap->t = group_table(ap->group);
	if (!ap->t)
		return V_PASS_ALL_DOWN;
	ap->pos = group_position(ap->t, ap->group, &p->key);
	ap->first = nat_map_gateway(p, ap->t, sticky_gateway(ap->t, p, ap->group, now), now);
	return ADMIT_NEXT;
}

/* Gateway of attempt n: the first choice, then members not tried yet. */
static __always_inline __u32 admit_gateway(const struct admit_plan *ap, int attempt,
					   __u32 tried)
{
	if (attempt == 0 && ap->first != XWAN_GW_NONE)
		return ap->first;
	if (attempt == 0)
		return ap->t ? slot_gateway(ap->t, ap->pos) : XWAN_GW_NONE;
	if (ap->pinned != XWAN_GW_NONE)
		return XWAN_GW_NONE;
	/* out of ports (or a stale choice): another member */
	return next_untried_gateway(ap->group, ap->pos, tried);
}

/* ---- step 3: port ---- */

/* A NAT gateway's port: the socket's mapping, a new mapping, or a port of its own. */
static __always_inline void admit_nat_port(struct nat_try *nt, const struct pkt *p,
					   const struct admit_plan *ap, const struct gw_info *gi,
					   __u32 gw)
{
	__u32 filtering = ap->t ? xwan_rule_filtering((__u8)ap->rule_filtering, ap->t->filtering)
				: FILTER_ADDR_PORT;
	__u32 sport = bpf_ntohs(p->key.sport);
	int rc;

	nt->rev.daddr = gi->nat_addr;
	nt->base = gi->port_min;
	nt->range = (__u32)gi->port_max - gi->port_min + 1;
	nt->first = sport >= gi->port_min && sport <= gi->port_max ? sport : 0;
	nt->start = bpf_get_prandom_u32();
	rc = nat_map_port(nt, p, gw, filtering, ap->ifindex);
	if (rc > 0) {
		bpf_loop(XWAN_NAT_TRIES, nat_map_try, NULL, 0);
		rc = nat_map_made(nt);
	}
	if (rc)
		bpf_loop(XWAN_NAT_TRIES, nat_try_port, NULL, 0);
	else
		nat_map_permit(nt, filtering);
}

/* Claim the reply key on gateway gw (gi); nt->found when it is ours. */
static __always_inline void admit_port(struct nat_try *nt, const struct pkt *p,
				       const struct admit_plan *ap, const struct gw_info *gi,
				       __u32 gw)
{
	nt->found = 0;
	if (proto_addr_only(p->key.proto)) {
		nat_try_addr_only(nt, (gi->flags & GW_F_NAT) ? gi->nat_addr : p->key.saddr);
	} else if (gi->flags & GW_F_NAT) {
		admit_nat_port(nt, p, ap, gi, gw);
	} else {
		/* Routed space: the reply key is the original tuple reversed. */
		nt->rev.daddr = p->key.saddr;
		nt->base = bpf_ntohs(p->key.sport);
		nt->range = 1;
		nt->first = 0;
		nat_try_port(1, NULL);
	}
}

/*
 * Steps 2 and 3: a usable gateway that gives a port, trying up to
 * XWAN_GW_TRIES members when ports run out. ap->gi: the gateway, NULL when
 * none did (ap->exhausted: one ran out of ports).
 */
static __always_inline void admit_gateway_port(struct admit_scratch *sc, struct nat_try *nt,
					       const struct pkt *p, struct admit_plan *ap)
{
	struct gw_counters *gc;
	__u32 gw, tried = 0;
	int attempt;

	for (attempt = 0; attempt < XWAN_GW_TRIES; attempt++) {
		gw = admit_gateway(ap, attempt, tried);
		if (gw >= XWAN_MAX_GATEWAYS)
			break;
		tried |= 1U << gw;
		ap->gi = bpf_map_lookup_elem(&gateways, &gw);
		if (!ap->gi || !(ap->gi->flags & GW_F_USABLE)) {
			ap->gi = NULL;
			continue;
		}
		sc->in.in_ifindex = ap->gi->ifindex;
		sc->in.gw = gw;
		sc->in.group = ap->pinned != XWAN_GW_NONE ? XWAN_GROUP_NONE : ap->group;
		sc->in.flags = (ap->gi->flags & GW_F_NAT) ? FLOW_F_NAT : 0;
		admit_port(nt, p, ap, ap->gi, gw);
		if (nt->found)
			return;
		ap->exhausted = 1;
		gc = gw_counters(gw);
		if (gc)
			gc->nat_exhausted += 1;
		ap->gi = NULL;
	}
}

/* No gateway gave the flow a port: why, and the source's charge back. */
static __always_inline __u32 admit_no_gateway(const struct pkt *p, const struct admit_plan *ap)
{
	src_refund(p->key.saddr, SRC_LAN);
	if (ap->exhausted)
		return proto_addr_only(p->key.proto) ? V_DROP_ADDR_ONLY_TAKEN : V_DROP_NAT_EXHAUSTED;
	if (ap->t && ap->t->when_all_down == ALL_DOWN_DROP)
		return V_DROP_NO_GATEWAY;
	return V_PASS_ALL_DOWN;
}

/* ---- step 4: install ---- */

/* The OUT entry, from the reply entry and the claimed reply key. */
static __always_inline void admit_out_entry(xwan_ctx *ctx, struct admit_scratch *sc,
					    const struct nat_try *nt, const struct pkt *p,
					    const struct admit_plan *ap, __u64 now)
{
	const struct gw_info *gi = ap->gi;

	sc->out.created_ns = now;
	sc->out.last_seen_ns = now;
	sc->out.ct = FLOW_CT_CHARGED;
	sc->out.peer = nt->rev;
	sc->out.xlate_addr = nt->rev.daddr;
	sc->out.xlate_port = nt->rev.dport;
	sc->out.dir = FLOW_DIR_OUT;
	sc->out.in_ifindex = ap->ifindex;
	sc->out.out_ifindex = gi->ifindex;
	sc->out.out_mtu = gi->mtu;
	sc->out.gw = sc->in.gw;
	sc->out.group = sc->in.group;
	sc->out.flags = sc->in.flags;
	sc->out.rule = (__u16)ap->rule;
	if (p->key.proto == IPPROTO_TCP)
		sc->out.tcp_own_win = sc->in.tcp_peer_win;
	if (p->key.proto == IPPROTO_TCP && !(p->tcp_flags & TCP_FLAG_SYN))
		sc->out.flags |= FLOW_F_MIDSTREAM;
	if (ap->pinned != XWAN_GW_NONE && p->key.daddr != gi->nexthop) {
		/* A neighbour on the WAN's own subnet: send to it, not the gateway. */
		sc->out.flags |= FLOW_F_ONLINK;
		onlink_neigh(ctx, p->key.daddr, gi->ifindex, sc->out.l2_dst);
	}
}

/*
 * Both entries in place (the reply entry is since its port was claimed).
 * The packet is accounted in the OUT entry before it is published (not
 * when its TTL expires: the kernel answers that one): looking the entry
 * up afterwards would cost a lookup and mark it used in the LRU, where an
 * unanswered flood's entries should be the first to go. Nothing on the
 * first packet can make the flow established, which would promote it
 * (and reuse the scratch area sc->out lives in).
 */
static __always_inline __u32 admit_install(const struct xwan_settings *s,
					   struct admit_scratch *sc, const struct nat_try *nt,
					   const struct pkt *p, const struct admit_plan *ap,
					   __u64 now)
{
	__u32 v = p->ttl > 1 ? flow_track(s, &sc->out, p, now) : 0;
	int rc;

	if (v) {
		bpf_map_delete_elem(&flows_new, &nt->rev);
		src_refund(p->key.saddr, SRC_LAN);
		return v;
	}
	/* After the port: a reopened tuple gets a new one, as the old flow had. */
	if (ap->old)
		flow_clear_old(s, p, now);
	rc = flow_install(&p->key, &sc->out, &nt->rev);
	if (rc <= 0) {
		/* Lost the race to another CPU: its flow carries the packet. */
		src_refund(p->key.saddr, SRC_LAN);
		return rc == 0 ? ADMIT_LOST_RACE : V_DROP_FLOW_ALLOC;
	}
	if (ap->t)
		sticky_bind(ap->t, p, ap->group, sc->out.gw, now);
	flow_created(sc->out.gw, s);
	return V_FWD_OUT;
}

/*
 * Create both entries of a new flow from its first LAN packet. old: the
 * lookup found an entry at the packet's key (flow_lookup_seen), which may
 * have to go first. Returns V_FWD_OUT when the flow now exists and the
 * packet is accounted in it (admit_scratch.out is a copy of its OUT
 * entry), ADMIT_LOST_RACE, or why xwan cannot forward the packet.
 */
__xwan_global int flow_admit(xwan_ctx *ctx, const struct pkt *p, __u64 now, int old)
{
	struct xwan_settings *s = get_settings();
	struct admit_plan ap = { .ifindex = ctx_ifindex(ctx), .old = old };
	struct admit_scratch *sc;
	struct nat_try *nt;
	__u32 v;

	if (!p || !s)
		return V_PASS_NOT_XWAN;
	v = admit_policy(p, s, &ap, now);
	if (v != ADMIT_NEXT)
		return v;
	if (src_charge(s, p->key.saddr, SRC_LAN, now))
		return V_DROP_SRC_LIMIT;
	sc = scratch_get();
	if (!sc)
		return V_DROP_FLOW_ALLOC;
	admit_reply_entry(&sc->in, p, &ap, now);
	nt = &sc->nt;
	nt->rev.saddr = p->key.daddr;
	nt->rev.sport = p->key.dport;
	nt->rev.proto = p->key.proto;
	nt->now = now;

	v = admit_first_gateway(p, &ap, now);
	if (v != ADMIT_NEXT)
		return v;
	admit_gateway_port(sc, nt, p, &ap);
	if (!ap.gi)
		return admit_no_gateway(p, &ap);
	admit_out_entry(ctx, sc, nt, p, &ap, now);
	return admit_install(s, sc, nt, p, &ap, now);
}

/* ---- the host's own sessions ---- */

/* Only what has ports: no later fragment, error, RST or echo reply. */
static __always_inline int host_pkt_has_session(const struct pkt *p)
{
	return !(p->icmp_err || p->frag == FRAG_LATER ||
		 (p->key.proto == IPPROTO_TCP && (p->tcp_flags & TCP_FLAG_RST)) ||
		 (p->key.proto == IPPROTO_ICMP && !p->sport_off));
}

/*
 * The host's own packet leaving a WAN (the agent's probes, the router's own
 * downloads, its SSH replies): reserve the reply tuple as a LOCAL entry, so
 * that NAT never hands the same port to a LAN flow for that remote endpoint
 * and the reply is recognised as the host's.
 */
static __always_inline void host_session_reserve(const struct pkt *p, __u32 ifindex,
						 const struct xwan_settings *s, __u64 now)
{
	struct flow_key rk = {
		.saddr = p->key.daddr,
		.daddr = p->key.saddr,
		.sport = p->key.dport,
		.dport = p->key.sport,
		.proto = p->key.proto,
	};
	struct flow_entry le = {}, *fe;
	struct iface_info *wan;

	if (!host_pkt_has_session(p))
		return;
	fe = flow_get(&rk);
	if (fe) {
		if (fe->dir == FLOW_DIR_LOCAL) {
			local_track(fe, p, now, 0);
			return;
		}
		/*
		 * A LAN flow holds this tuple: the host's socket took the port
		 * NAT gave a LAN host toward the same remote. The host's reply
		 * path wins, or its replies would reach the LAN host; the LAN
		 * flow's next packet gets another port.
		 */
		if (!flow_reclaimable(s, fe, &rk, now))
			count_event(EV_HOST_PORT_CONFLICT);
		flow_remove(&rk, fe);
	}
	/* The host answering an internet host's SYN: that host's budget. */
	if (p->key.proto == IPPROTO_TCP && (p->tcp_flags & TCP_FLAG_ACK)) {
		if (src_charge(s, p->key.daddr, SRC_WAN, now))
			return;
		le.ct = FLOW_CT_CHARGED;
	}
	wan = bpf_map_lookup_elem(&ifaces, &ifindex);
	le.created_ns = now;
	le.last_seen_ns = now;
	le.host_packets = 1;
	le.host_bytes = p->len;
	le.peer = p->key;
	le.xlate_addr = p->key.saddr;
	le.xlate_port = p->key.sport;
	le.dir = FLOW_DIR_LOCAL;
	le.in_ifindex = ifindex;
	le.out_ifindex = ifindex;
	le.gw = wan ? wan->gw : XWAN_GW_NONE;
	le.group = XWAN_GROUP_NONE;
	le.rule = 0xff;
	if (flow_install(&rk, &le, NULL) > 0)
		flow_gauge_new(s);
	else if (le.ct & FLOW_CT_CHARGED)
		src_refund(p->key.daddr, SRC_WAN);
}

#endif /* XWAN_ADMIT_H */
