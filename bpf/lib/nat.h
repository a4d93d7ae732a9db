/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * New flows (policy, anti-spoofing, gateway choice, NAT port allocation)
 * and the header rewrites of source/destination NAT (ICMP errors: icmp.h).
 * Written once over ctx.h for XDP and tc.
 */
#ifndef XWAN_NAT_H
#define XWAN_NAT_H

#include "ctx.h"
#include "flow.h"
#include "frag.h"
#include "gw_select.h"
#include "policy.h"

static __always_inline struct dst_policy *dst_policy_of(__be32 daddr)
{
	struct lpm_v4_key k = { .prefixlen = 32, .addr = daddr };

	return bpf_map_lookup_elem(&dst_policy, &k);
}

static __always_inline int dst_is_local(__be32 daddr)
{
	struct dst_policy *dp = dst_policy_of(daddr);

	return dp && dp->action == DST_ACTION_LOCAL;
}

/*
 * Unsolicited on a WAN but the host's to answer: its own addresses,
 * broadcast and multicast, and a DHCP server's reply (67 -> 68), which goes
 * to the address being offered before the interface has it: the host's DHCP
 * client must get its lease through xwan.
 */
static __always_inline int wan_host_bound(const struct flow_key *k)
{
	__u32 d = bpf_ntohl(k->daddr);

	if (dst_is_local(k->daddr) || d == 0xffffffff || (d >> 28) == 0xe)
		return 1;
	return k->proto == IPPROTO_UDP && k->sport == bpf_htons(67) && k->dport == bpf_htons(68);
}

/*
 * A DHCP reply to an address the host does not have yet: its DHCP client
 * reads it from a packet socket, but the IP stack must not forward it (out
 * of another WAN, where that ISP would see a foreign source).
 */
static __always_inline int wan_dhcp_offer(const struct flow_key *k)
{
	return k->proto == IPPROTO_UDP && k->sport == bpf_htons(67) &&
	       k->dport == bpf_htons(68) && k->daddr != 0xffffffff && !dst_is_local(k->daddr);
}

/*
 * One of the host's own addresses on no WAN (a LAN interface's, its
 * broadcast; the loader gives each WAN's address and broadcast its WAN):
 * nobody on the internet has business with it. Limited broadcast and
 * multicast belong to no side.
 */
static __always_inline int local_lan_side(__be32 addr)
{
	struct dst_policy *dp = dst_policy_of(addr);
	__u32 a = bpf_ntohl(addr);

	return dp && dp->action == DST_ACTION_LOCAL && dp->gw == XWAN_GW_NONE &&
	       a != 0xffffffff && (a >> 28) != 0xe;
}

/* A source on the LAN side of the host: its LAN networks, or its own LAN-side address. */
static __always_inline int src_lan_side(__be32 saddr)
{
	struct dst_policy *dp = dst_policy_of(saddr);

	return (dp && dp->action == DST_ACTION_BYPASS) || local_lan_side(saddr);
}

/* The host itself or the LAN side: the kernel's, never NATed. */
static __always_inline int dst_kernel_bound(__be32 daddr)
{
	struct dst_policy *dp = dst_policy_of(daddr);

	return dp && (dp->action == DST_ACTION_LOCAL || dp->action == DST_ACTION_BYPASS);
}

/*
 * Only a flow's opening packet may create it; replies and errors never do.
 * A TCP segment other than a SYN opens a flow only with `asymmetric: allow`:
 * it belongs to a session that started elsewhere (before a restart, or
 * through another router), and picking it up mid-stream is a choice.
 */
static __always_inline int pkt_opens_flow(const struct pkt *p, const struct xwan_settings *s)
{
	if (p->icmp_err || p->frag == FRAG_LATER)
		return 0;
	switch (p->key.proto) {
	case IPPROTO_TCP:
		if ((p->tcp_flags & (TCP_FLAG_SYN | TCP_FLAG_ACK | TCP_FLAG_RST)) == TCP_FLAG_SYN)
			return 1;
		return s->asymmetric == ASYM_ALLOW && !(p->tcp_flags & TCP_FLAG_RST);
	case IPPROTO_UDP:
		return 1;
	case IPPROTO_ICMP:
		return p->sport_off != 0;       /* a query: echo, timestamp... */
	}
	return proto_addr_only(p->key.proto);
}

/* ---- NAT port allocation ---- */

struct nat_try {
	struct flow_key rev;        /* candidate reply key; dport is the port */
	__u64 now;
	__u32 base;                 /* first port of the range, host order */
	__u32 range;
	__u32 first;                /* port to try first (the client's), 0: none */
	__u32 start;                /* random offset the search walks on from */
	__u32 port;                 /* result, host order */
	__u32 found;
};

/*
 * No answered flow holds this reply key (a dead one is removed): the
 * unanswered table's BPF_NOEXIST claim alone does not see the other table.
 */
static __always_inline int nat_port_free_answered(const struct xwan_settings *s,
						  const struct flow_key *k, __u64 now)
{
	struct flow_entry *held = bpf_map_lookup_elem(&flows, k);

	if (!held)
		return 1;
	if (!flow_dead(s, held, now))
		return 0;
	flow_remove(k, held);
	return 1;
}

/* Claim the reply key in flows_new (BPF_NOEXIST): 0 when it is ours. */
static __always_inline int nat_claim(const struct xwan_settings *s, const struct flow_key *k,
				     const struct flow_entry *in, __u64 now)
{
	struct flow_entry *held;

	if (bpf_map_update_elem(&flows_new, k, in, BPF_NOEXIST)) {
		/*
		 * Taken. A dead flow or a leftover half gives its key up; a
		 * half another CPU is making right now does not.
		 */
		held = bpf_map_lookup_elem(&flows_new, k);
		if (!held || !flow_reclaimable(s, held, k, now))
			return -1;
		flow_remove(k, held);
		if (bpf_map_update_elem(&flows_new, k, in, BPF_NOEXIST))
			return -1;
	}
	if (nat_port_free_answered(s, k, now))
		return 0;
	bpf_map_delete_elem(&flows_new, k);
	return -1;
}

/*
 * Claim a candidate port. Ports are unique per remote endpoint, like Linux
 * masquerade: one WAN address serves far more than 64k flows.
 */
static long nat_try_port(__u32 i, void *data)
{
	struct nat_try *t = data;
	struct admit_scratch *sc;
	struct xwan_settings *s;
	__u32 port, zero = 0;

	/*
	 * The client's own port if it is free, then consecutive ports from a
	 * random point: a small range is covered entirely, so its last free
	 * port is always found.
	 */
	if (i == 0 && t->first)
		port = t->first;
	else
		port = t->base + (t->start + i) % t->range;
	t->rev.dport = bpf_htons((__u16)port);
	/* The reply entry to install waits in the scratch area. */
	sc = bpf_map_lookup_elem(&admit_scratch, &zero);
	s = get_settings();
	if (!sc || !s)
		return 1;
	if (nat_claim(s, &t->rev, &sc->in, t->now) == 0) {
		t->port = port;
		t->found = 1;
		return 1;
	}
	count_event(EV_NAT_COLLISION);
	return 0;
}

/*
 * A protocol without ports (proto_addr_only) has the reply key (remote,
 * WAN address, 0, 0, protocol): one LAN host per remote and protocol per
 * WAN address, as Linux NATs generic protocols. A second one finds it
 * taken (address_only_nat_in_use), on every gateway it may use.
 */
static __always_inline void nat_try_addr_only(struct nat_try *nt, __be32 addr)
{
	nt->rev.daddr = addr;
	nt->base = 0;
	nt->range = 1;
	nt->first = 0;
	nat_try_port(1, nt);
}

/* ---- new flows ---- */

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

/*
 * The kernel's neighbour entry for daddr on ifindex (a connected address):
 * BPF_FIB_LKUP_RET_SUCCESS with its MAC, NO_NEIGH while unresolved, or
 * another code. Not inlined: its lookup struct stays off the hot programs'
 * stack.
 */
static __attribute__((noinline)) int fib_neigh(xwan_ctx *ctx, __be32 daddr, __u32 ifindex,
					       __u8 *mac)
{
	struct bpf_fib_lookup fib = {};
	int rc;

	fib.family = 2; /* AF_INET */
	fib.ipv4_dst = daddr;
	fib.ifindex = ifindex;
	rc = bpf_fib_lookup(ctx, &fib, sizeof(fib), BPF_FIB_LOOKUP_DIRECT | BPF_FIB_LOOKUP_OUTPUT);
	if (rc == BPF_FIB_LKUP_RET_SUCCESS && fib.ifindex != ifindex)
		return BPF_FIB_LKUP_RET_NOT_FWDED;
	if (rc == BPF_FIB_LKUP_RET_SUCCESS)
		__builtin_memcpy(mac, fib.dmac, 6);
	return rc;
}

/* MAC of an on-link destination, -1 when the kernel has not resolved it. */
static __always_inline int onlink_neigh(xwan_ctx *ctx, __be32 daddr, __u32 ifindex, __u8 *mac)
{
	return fib_neigh(ctx, daddr, ifindex, mac) == BPF_FIB_LKUP_RET_SUCCESS ? 0 : -1;
}

/* A flow entered flows_new. When full, the LRU made room by evicting: count
 * that, the gauges stay. */
static __always_inline void flow_gauge_new(const struct xwan_settings *s)
{
	__u32 zero = 0;
	struct flow_gauge *g = bpf_map_lookup_elem(&flow_gauge, &zero);

	if (g && g->unreplied >= s->unreplied_capacity)
		count_event(EV_FLOW_EVICTED);
	else
		flow_gauge_add(1, 1);
}

static __always_inline void flow_created(__u32 gw, const struct xwan_settings *s)
{
	struct gw_counters *gc = gw < XWAN_MAX_GATEWAYS ? gw_counters(gw) : NULL;

	count_event(EV_FLOW_CREATED);
	if (gc)
		gc->flows_created += 1;
	flow_gauge_new(s);
}

/*
 * Insert the OUT half of a new flow whose IN half (if any) is in place:
 * BPF_NOEXIST, so of two CPUs creating the same flow one wins and the
 * other backs out, removing its IN half. The one place a flow is born.
 * 1: made; 0: another CPU made it first; -1: no room.
 */
static __always_inline int flow_install(const struct flow_key *out_key,
					const struct flow_entry *out,
					const struct flow_key *in_key)
{
	if (bpf_map_update_elem(&flows_new, out_key, out, BPF_NOEXIST) == 0) {
		ha_emit(out_key, FLOW_DIR_OUT, HA_EV_NEW);
		return 1;
	}
	if (in_key)
		bpf_map_delete_elem(&flows_new, in_key);
	return flow_get(out_key) ? 0 : -1;
}

/* A dead flow (or a leftover half) at a key a new flow needs. */
static __always_inline void flow_clear_dead(const struct xwan_settings *s,
					    const struct flow_key *k, __u64 now)
{
	struct flow_entry *old = flow_get(k);

	if (old && flow_reclaimable(s, old, k, now)) {
		flow_remove(k, old);
		count_event(EV_FLOW_REPLACED);
	}
}

/*
 * The old flow at a new LAN flow's key: dead, a leftover half, or a closed
 * TCP connection whose tuple a SYN reopens. Never a flow another CPU is
 * making from the same packet: that one wins the insert instead.
 */
static __attribute__((noinline)) void flow_clear_old(const struct xwan_settings *s, const struct pkt *p,
					   __u64 now)
{
	struct flow_entry *old = flow_get(&p->key);

	if (old && (flow_reopened(old, p) || old->dir != FLOW_DIR_OUT ||
		    flow_reclaimable(s, old, &p->key, now))) {
		flow_remove(&p->key, old);
		count_event(EV_FLOW_REPLACED);
	}
}

/*
 * A rule bypassed or dropped the flow: remember the decision as a one-sided
 * entry, so the flow's later packets cost one lookup instead of the rules.
 */
static __always_inline int flow_admit_marker(const struct xwan_settings *s, const struct pkt *p,
					     __u32 ifindex, __u32 rule, __u8 action, __u64 now)
{
	struct admit_scratch *sc = scratch_get();
	struct flow_entry *mp;

	if (!sc)
		return V_DROP_FLOW_ALLOC;
	mp = &sc->out;
#define m (*mp)
	m.created_ns = now;
	m.last_seen_ns = now;
	m.packets = 1;
	m.bytes = p->len;
	m.dir = FLOW_DIR_OUT;
	m.in_ifindex = ifindex;
	m.gw = XWAN_GW_NONE;
	m.group = XWAN_GROUP_NONE;
	m.rule = (__u16)rule;
	m.flags = action == RULE_ACTION_DROP ? FLOW_F_DROP : FLOW_F_BYPASS;
	m.peer.proto = p->key.proto;
	flow_clear_old(s, p, now);
	if (flow_install(&p->key, mp, NULL) > 0)
		flow_created(XWAN_GW_NONE, s);
#undef m
	return action == RULE_ACTION_DROP ? V_DROP_POLICY : V_PASS_BYPASS;
}

/* Anti-spoofing: may this LAN interface send from addr? Kept off
 * flow_admit's stack frame. */
static __attribute__((noinline)) int lan_src_ok(__u32 ifindex, __be32 addr)
{
	struct lan_src_key lk = { .prefixlen = 64, .ifindex = ifindex, .addr = addr };

	return bpf_map_lookup_elem(&lan_nets, &lk) != NULL;
}

/* Endpoint-independent mappings: they claim ports as above. */
#include "mapping_nat.h"

/*
 * Create both entries of a new flow from its first LAN packet. Returns the
 * verdict: V_FWD_OUT when the flow now exists (look it up again), or why
 * the packet cannot be forwarded by xwan.
 */
__xwan_global int flow_admit(xwan_ctx *ctx, const struct pkt *p, __u64 now)
{
	struct xwan_settings *s = get_settings();
	__u32 ifindex = ctx_ifindex(ctx);
	struct gw_slot_table *t = NULL;
	struct rule_scan rs = { .found = XWAN_RULE_NONE };
	struct admit_scratch *sc;
	struct nat_try nt = {};
	struct iface_info *lan;
	struct dst_policy *dp;
	struct gw_info *gi = NULL;
	struct gw_counters *gc;
	__u32 pinned = XWAN_GW_NONE, gw = XWAN_GW_NONE, tried = 0, first;
	__u32 pos = 0, group, exhausted = 0, sport;
	int attempt, rc;

	if (!p || !s)
		return V_PASS_NOT_XWAN;
	group = s->default_group;
	dp = dst_policy_of(p->key.daddr);
	if (dp) {
		if (dp->action == DST_ACTION_LOCAL)
			return V_PASS_LOCAL;
		if (dp->action == DST_ACTION_BYPASS)
			return V_PASS_BYPASS;
		if (dp->action == DST_ACTION_WAN)
			pinned = dp->gw;
	}
	if (!lan_src_ok(ifindex, p->key.saddr))
		return V_DROP_SPOOFED;
	if (!pkt_opens_flow(p, s))
		return V_DROP_NOT_NEW;
	lan = bpf_map_lookup_elem(&ifaces, &ifindex);
	if (!lan || lan->role != IFACE_LAN)
		return V_PASS_NOT_XWAN;

	if (pinned == XWAN_GW_NONE) {
		rules_match(p, ifindex, s, &rs);
		if (rs.found != XWAN_RULE_NONE) {
			if (rs.action != RULE_ACTION_GROUP)
				return flow_admit_marker(s, p, ifindex, rs.found, rs.action, now);
			group = rs.group;
		}
	}

	if (src_charge(s, p->key.saddr, SRC_LAN, now))
		return V_DROP_SRC_LIMIT;
	sc = scratch_get();
	if (!sc)
		return V_DROP_FLOW_ALLOC;
	/* The reply entry: everything but the NAT port is known now. */
	sc->in.ct = FLOW_CT_CHARGED;
	sc->in.created_ns = now;
	sc->in.last_seen_ns = now;
	sc->in.peer = p->key;
	sc->in.xlate_addr = p->key.saddr;
	sc->in.xlate_port = p->key.sport;
	sc->in.dir = FLOW_DIR_IN;
	sc->in.out_ifindex = ifindex;
	sc->in.out_mtu = lan->mtu;
	sc->in.rule = (__u16)rs.found;
	__builtin_memcpy(sc->in.l2_dst, p->eth_src, 6);
	__builtin_memcpy(sc->in.l2_src, lan->mac, 6);
	nt.rev.saddr = p->key.daddr;
	nt.rev.sport = p->key.dport;
	nt.rev.proto = p->key.proto;
	nt.now = now;

	first = pinned;
	if (pinned == XWAN_GW_NONE) {
		t = group_table(group);
		if (!t)
			return V_PASS_ALL_DOWN;
		pos = group_position(t, group, &p->key);
		first = nat_map_gateway(p, t, sticky_gateway(t, p, group, now), now);
	}

	for (attempt = 0; attempt < XWAN_GW_TRIES; attempt++) {
		if (attempt == 0)
			gw = first != XWAN_GW_NONE ? first : slot_gateway(t, pos);
		else if (pinned != XWAN_GW_NONE)
			break;
		else    /* out of ports (or a stale choice): another member */
			gw = next_untried_gateway(group, pos, tried);
		if (gw >= XWAN_MAX_GATEWAYS)
			break;
		tried |= 1U << gw;
		gi = bpf_map_lookup_elem(&gateways, &gw);
		if (!gi || !(gi->flags & GW_F_USABLE)) {
			gi = NULL;
			continue;
		}
		sc->in.in_ifindex = gi->ifindex;
		sc->in.gw = gw;
		sc->in.group = pinned != XWAN_GW_NONE ? XWAN_GROUP_NONE : group;
		sc->in.flags = (gi->flags & GW_F_NAT) ? FLOW_F_NAT : 0;
		nt.found = 0;
		if (proto_addr_only(p->key.proto)) {
			nat_try_addr_only(&nt, (gi->flags & GW_F_NAT) ? gi->nat_addr : p->key.saddr);
		} else if (gi->flags & GW_F_NAT) {
			nt.rev.daddr = gi->nat_addr;
			nt.base = gi->port_min;
			nt.range = (__u32)gi->port_max - gi->port_min + 1;
			sport = bpf_ntohs(p->key.sport);
			nt.first = sport >= gi->port_min && sport <= gi->port_max ? sport : 0;
			nt.start = bpf_get_prandom_u32();
			rc = nat_map_port(&nt, p, gw, t ? t->filtering : FILTER_ADDR_PORT, ifindex);
			if (rc > 0) {
				bpf_loop(XWAN_NAT_TRIES, nat_map_try, NULL, 0);
				rc = nat_map_made(&nt);
			}
			if (rc)
				bpf_loop(XWAN_NAT_TRIES, nat_try_port, &nt, 0);
			else
				nat_map_permit(&nt, t ? t->filtering : FILTER_ADDR_PORT);
		} else {
			/* Routed space: the reply key is the original tuple reversed. */
			nt.rev.daddr = p->key.saddr;
			nt.base = bpf_ntohs(p->key.sport);
			nt.range = 1;
			nt.first = 0;
			nat_try_port(1, &nt);
		}
		if (nt.found)
			break;
		exhausted = 1;
		gc = gw_counters(gw);
		if (gc)
			gc->nat_exhausted += 1;
		gi = NULL;
	}
	if (!gi) {
		src_refund(p->key.saddr, SRC_LAN);
		if (exhausted)
			return proto_addr_only(p->key.proto) ? V_DROP_ADDR_ONLY_TAKEN
							     : V_DROP_NAT_EXHAUSTED;
		if (t && t->when_all_down == ALL_DOWN_DROP)
			return V_DROP_NO_GATEWAY;
		return V_PASS_ALL_DOWN;
	}

	sc->out.created_ns = now;
	sc->out.last_seen_ns = now;
	sc->out.ct = FLOW_CT_CHARGED;
	sc->out.peer = nt.rev;
	sc->out.xlate_addr = nt.rev.daddr;
	sc->out.xlate_port = nt.rev.dport;
	sc->out.dir = FLOW_DIR_OUT;
	sc->out.in_ifindex = ifindex;
	sc->out.out_ifindex = gi->ifindex;
	sc->out.out_mtu = gi->mtu;
	sc->out.gw = sc->in.gw;
	sc->out.group = sc->in.group;
	sc->out.flags = sc->in.flags;
	sc->out.rule = (__u16)rs.found;
	if (p->key.proto == IPPROTO_TCP && !(p->tcp_flags & TCP_FLAG_SYN))
		sc->out.flags |= FLOW_F_MIDSTREAM;
	if (pinned != XWAN_GW_NONE && p->key.daddr != gi->nexthop) {
		/* A neighbour on the WAN's own subnet: send to it, not the gateway. */
		sc->out.flags |= FLOW_F_ONLINK;
		onlink_neigh(ctx, p->key.daddr, gi->ifindex, sc->out.l2_dst);
	}

	/* After the port: a reopened tuple gets a new one, as the old flow had. */
	flow_clear_old(s, p, now);
	rc = flow_install(&p->key, &sc->out, &nt.rev);
	if (rc <= 0) {
		/* Lost the race to another CPU: its flow carries the packet. */
		src_refund(p->key.saddr, SRC_LAN);
		return rc == 0 ? V_FWD_OUT : V_DROP_FLOW_ALLOC;
	}
	if (t)
		sticky_bind(t, p, group, sc->out.gw, now);
	flow_created(sc->out.gw, s);
	return V_FWD_OUT;
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

	/* Only what has ports: no later fragment, error, RST or echo reply. */
	if (p->icmp_err || p->frag == FRAG_LATER ||
	    (p->key.proto == IPPROTO_TCP && (p->tcp_flags & TCP_FLAG_RST)) ||
	    (p->key.proto == IPPROTO_ICMP && !p->sport_off))
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

/* ---- header rewrites ---- */

/*
 * Source (OUT) or destination (IN) NAT of one packet: address, port and the
 * IP and L4 checksums. Later fragments have no L4 header to touch.
 */
static __always_inline int nat_rewrite(xwan_ctx *ctx, const struct pkt *p, int src,
				       __be32 addr, __be16 port)
{
	__u32 addr_off = p->l3_off + (src ? 12 : 16);
	__u32 port_off = src ? p->sport_off : p->dport_off;
	__be32 old_addr = src ? p->key.saddr : p->key.daddr;
	__be16 old_port = src ? p->key.sport : p->key.dport;
	__u64 mangled = p->udp ? BPF_F_MARK_MANGLED_0 : 0;

	if (p->frag != FRAG_LATER) {
		if (port_off && old_port != port) {
			if (ctx_l4_csum_replace(ctx, p->csum_off, old_port, port, mangled | 2))
				return -1;
			if (ctx_store16(ctx, port_off, port))
				return -1;
		}
		if (p->l4_pseudo && old_addr != addr &&
		    ctx_l4_csum_replace(ctx, p->csum_off, old_addr, addr,
					mangled | BPF_F_PSEUDO_HDR | 4))
			return -1;
	}
	if (old_addr != addr) {
		if (ctx_l3_csum_replace(ctx, p->l3_off + 10, old_addr, addr, 4))
			return -1;
		if (ctx_store32(ctx, addr_off, addr))
			return -1;
	}
	return 0;
}

#endif /* XWAN_NAT_H */
