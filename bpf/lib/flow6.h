/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * IPv6 flows (issue 13): the flows6 table, both directions of a flow; its
 * gateway chosen on the first packet (nat6 none: by the source's delegated
 * prefix, RFC 8678; else its group's IPv6 slot table, the group the rules
 * chose (policy6.h), sticky clients included) and pinned for the flow's life; timeouts as IPv4's;
 * later fragments following their first one's flow. A masquerading
 * gateway's reply key takes a port (nat66.h).
 */
#ifndef XWAN_FLOW6_H
#define XWAN_FLOW6_H

#include "clock.h"
#include "flow.h"
#include "gw_select.h"
#include "npt6.h"
#include "pkt6.h"
#include "stats.h"

static __always_inline struct xwan_settings *settings6(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&settings, &zero);
}

/* IPv4's timeouts, ICMPv6 living by ICMP's. */
static __always_inline __u64 flow6_timeout(const struct xwan_settings *s, __u8 proto,
					   __u8 state)
{
	__u32 t = xwan_timeout_index(proto == IPPROTO_ICMPV6_ ? 1 : proto, state);

	if (t >= TIMEOUT_MAX)
		return 0;
	return s->timeout_ns[t];
}

static __always_inline int flow6_key_eq(const struct flow6_key *a, const struct flow6_key *b)
{
	return !__builtin_memcmp(a, b, sizeof(*a));
}

/* The other half, in the table this entry lives in. */
static __always_inline struct flow6_entry *flow6_peer(const struct flow6_entry *fe)
{
	if (fe->ct & FLOW_CT_REPLIED)
		return bpf_map_lookup_elem(&flows6, &fe->peer);
	return bpf_map_lookup_elem(&flows6_new, &fe->peer);
}

/*
 * An unanswered entry whose other half the LRU evicted (or a newer flow
 * took over) is a leftover: it must not forward. Past the grace a flow
 * being made on another CPU has, it is removed.
 */
static __always_inline int flow6_half_left(const struct flow6_entry *fe,
					   const struct flow6_key *k, __u64 now)
{
	struct flow6_entry *peer = bpf_map_lookup_elem(&flows6_new, &fe->peer);

	if (peer && flow6_key_eq(&peer->peer, k))
		return 0;
	if ((__s64)(now - fe->created_ns) > (__s64)FLOW_HALF_GRACE_NS) {
		count_event(EV_HALF_REMOVED);
		bpf_map_delete_elem(&flows6_new, k);
	}
	return 1;
}

/* A live entry for k, answered table first (an expired one is as good as none). */
static __always_inline struct flow6_entry *flow6_lookup(const struct xwan_settings *s,
							const struct flow6_key *k, __u64 now)
{
	struct flow6_entry *fe = bpf_map_lookup_elem(&flows6, k);

	if (!fe) {
		fe = bpf_map_lookup_elem(&flows6_new, k);
		if (!fe || flow6_half_left(fe, k, now))
			return NULL;
	}
	if (age_exceeds(now, fe->last_seen_ns, flow6_timeout(s, k->proto, fe->state)))
		return NULL;
	return fe;
}

static __always_inline struct prefix6_info *prefix6_of(const __u8 *addr)
{
	struct lpm_v6_key k = { .prefixlen = 128 };

	__builtin_memcpy(k.addr, addr, 16);
	return bpf_map_lookup_elem(&prefix6, &k);
}

static __always_inline __u8 prefix6_kind(const __u8 *addr)
{
	struct prefix6_info *pi = prefix6_of(addr);

	return pi ? pi->kind : PREFIX6_NONE;
}

/* Anti-spoofing: is addr one of the sources LAN interface ifindex may use? */
static __always_inline int lan6_src_ok(__u32 ifindex, const __u8 *addr)
{
	struct lan_src6_key k = { .prefixlen = 32 + 128, .ifindex = ifindex };

	__builtin_memcpy(k.addr, addr, 16);
	return bpf_map_lookup_elem(&lan_nets6, &k) != NULL;
}

static __always_inline struct gw_slot_table *group6_table(__u32 group)
{
	return group_table_of(&groups6, &gw_slots6, group);
}

/* An IPv6 address folded to the 32 bits the shared flow hash takes. */
static __always_inline __u32 addr6_fold(const __u8 *a)
{
	return xwan_addr6_fold(a);      /* shared with xwan explain */
}

/*
 * Working memory of the IPv6 path: it runs inside the IPv4 program's frame,
 * whose stack and its own must fit 512 bytes together, so the packet, the
 * keys it builds and a new flow's two entries live here. Per CPU; no
 * program nests on a CPU while it uses it.
 */
struct v6_scratch {
	struct pkt6 p;
	struct flow6_key k;             /* an ICMPv6 error's flow */
	struct frag6_key fk;
	struct frag6_entry fe;
	struct sticky6_key sk;
	struct sticky_binding nb;
	struct flow6_entry out;         /* a new flow's entries */
	struct flow6_entry in;
	__u16 rule;                     /* a new flow's rule (policy6.h), XWAN_RULE_NONE */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct v6_scratch);
} v6_scratch SEC(".maps");

/* Masquerade's port search and rewrites: it claims reply keys with the scratch's entries. */
#include "nat66.h"

/* This CPU's scratch, its packet zeroed. */
static __always_inline struct v6_scratch *v6_scratch_get(void)
{
	__u32 zero = 0;
	struct v6_scratch *w = bpf_map_lookup_elem(&v6_scratch, &zero);

	if (w)
		__builtin_memset(&w->p, 0, sizeof(w->p));
	return w;
}

static __always_inline void sticky6_key_of(const struct gw_slot_table *t, const struct pkt6 *p,
					   __u32 group, struct sticky6_key *k)
{
	__builtin_memset(k, 0, sizeof(*k));
	__builtin_memcpy(k->src, p->key.saddr, 16);
	if (t->sticky_key == STICKY_KEY_SRC_DST)
		__builtin_memcpy(k->dst, p->key.daddr, 16);
	k->group = (__u8)group;
}

/* The gateway group `group` gives a new flow: sticky binding, else its slot. */
static __always_inline __u32 group6_gateway(const struct gw_slot_table *t,
					    struct v6_scratch *w, __u32 group, __u64 now)
{
	const struct pkt6 *p = &w->p;
	struct sticky_binding *b;
	__u32 pos, gw;

	if (t->sticky_expire_s) {
		sticky6_key_of(t, p, group, &w->sk);
		b = bpf_map_lookup_elem(&sticky6, &w->sk);
		if (b && b->gw < XWAN_MAX_GATEWAYS && (t->usable_mask & (1U << b->gw)) &&
		    !age_exceeds(now, b->last_ns, (__u64)t->sticky_expire_s * 1000000000ULL)) {
			b->last_ns = now;
			count_event(EV_STICKY_HIT);
			return b->gw;
		}
	}
	if (t->method == GROUP_METHOD_ROUND_ROBIN) {
		__u32 *rr = bpf_map_lookup_elem(&rr_pos, &group);

		pos = rr ? (*rr)++ : 0;
	} else {
		pos = xwan_flow_hash(addr6_fold(p->key.saddr), addr6_fold(p->key.daddr),
				     p->key.sport, p->key.dport, p->key.proto, t->hash_fields,
				     t->seed);
	}
	gw = slot_gateway(t, pos);
	if (gw < XWAN_MAX_GATEWAYS && t->sticky_expire_s) {
		w->nb.last_ns = now;
		w->nb.gw = (__u8)gw;
		bpf_map_update_elem(&sticky6, &w->sk, &w->nb, BPF_ANY);
	}
	return gw;
}

/* The translated source of a LAN address through gateway gi (NPT), in place. */
static __always_inline int nat6_src_of(const struct gw6_info *gi, __u8 *addr)
{
	__u16 w[8];
	int rc;

	if (gi->nat6 != NAT6_NPT)
		return 0;
	__builtin_memcpy(w, addr, 16);
	rc = npt6_translate(&gi->out, w);
	if (rc)
		return -1;
	__builtin_memcpy(addr, w, 16);
	return 0;
}

/* A new flow's two entries (sc->out, sc->in) into flows6_new. 0, or a verdict. */
static __always_inline __u32 flow6_insert(struct v6_scratch *sc, const struct gw6_info *gi,
					  __u32 gw, __u64 now)
{
	if (gi->nat6 == NAT6_MASQUERADE) {
		__u32 v = nat66_reply_key(sc, gi, gw, now);    /* claims the IN half's key */

		if (v)
			return v;
	} else {
		/* A new flow starts unanswered (flows6_new), whatever an old entry of
		 * its key held: the answered copy goes, or lookups would find it first. */
		bpf_map_delete_elem(&flows6, &sc->out.peer);
		bpf_map_delete_elem(&flows6, &sc->in.peer);
		if (bpf_map_update_elem(&flows6_new, &sc->out.peer, &sc->in, BPF_ANY))
			return V_DROP_FLOW_ALLOC;
	}
	if (bpf_map_update_elem(&flows6_new, &sc->in.peer, &sc->out, BPF_ANY))
		return V_DROP_FLOW_ALLOC;
	return 0;
}

/* Charge one unanswered flow to a LAN host's IPv6 address (as IPv4's
 * unreplied_per_lan_host: the same limit). -1: over it. */
static __attribute__((noinline)) int src6_charge(const struct xwan_settings *s, const __u8 *addr,
						 __u64 now)
{
	__u32 limit = s->src_limit[SRC_LAN];
	struct src6_key k = { .side = SRC_LAN };
	struct src_budget nb = { .stamp_ns = now, .level = 1 }, *b;

	if (!limit)
		return 0;
	__builtin_memcpy(k.addr, addr, 16);
	b = bpf_map_lookup_elem(&src_budget6, &k);
	if (!b) {
		bpf_map_update_elem(&src_budget6, &k, &nb, BPF_ANY);
		return 0;
	}
	return src_budget_take(s, b, limit, now);
}

static __attribute__((noinline)) void src6_refund(const __u8 *addr)
{
	struct src6_key k = { .side = SRC_LAN };
	struct src_budget *b;

	__builtin_memcpy(k.addr, addr, 16);
	b = bpf_map_lookup_elem(&src_budget6, &k);
	if (b && b->level)
		b->level -= 1;
}

/*
 * Both entries of a new flow from LAN interface lan_ifindex through gateway
 * gw, charged to its source. 0, or the verdict that refuses it.
 */
static __always_inline __u32 flow6_create(struct v6_scratch *sc, const struct xwan_settings *s,
					  __u32 lan_ifindex, __u32 gw, __u32 group, __u64 now)
{
	struct gw6_info *gi = bpf_map_lookup_elem(&gateways6, &gw);
	struct iface_info *lan = bpf_map_lookup_elem(&ifaces, &lan_ifindex);
	const struct pkt6 *p = &sc->p;
	__u32 v;

	if (!gi || !gi->ifindex || !lan)
		return V_DROP_NO_GATEWAY;
	__builtin_memset(&sc->out, 0, sizeof(sc->out));
	__builtin_memset(&sc->in, 0, sizeof(sc->in));
	sc->out.created_ns = sc->in.created_ns = now;
	sc->out.last_seen_ns = sc->in.last_seen_ns = now;
	sc->out.dir = FLOW_DIR_OUT;
	sc->in.dir = FLOW_DIR_IN;
	sc->out.gw = sc->in.gw = (__u8)gw;
	sc->out.group = sc->in.group = (__u8)group;
	sc->out.nat6 = sc->in.nat6 = gi->nat6;
	sc->out.rule = sc->in.rule = sc->rule;
	sc->out.in_ifindex = sc->in.out_ifindex = lan_ifindex;
	sc->out.out_ifindex = sc->in.in_ifindex = gi->ifindex;
	sc->in.out_mtu = lan->mtu;
	__builtin_memcpy(sc->in.l2_dst, p->eth_src, 6);
	__builtin_memcpy(sc->in.l2_src, lan->mac, 6);
	/* IN is keyed by the reply's tuple: remote -> translated client. */
	__builtin_memcpy(sc->in.peer.saddr, p->key.saddr, 16);
	if (nat6_src_of(gi, sc->in.peer.saddr))
		return V_DROP_NPT_UNMAPPABLE;
	__builtin_memcpy(sc->out.peer.saddr, p->key.daddr, 16);
	__builtin_memcpy(sc->out.peer.daddr, sc->in.peer.saddr, 16);
	sc->out.peer.sport = p->key.dport;
	sc->out.peer.dport = p->key.sport;
	sc->out.peer.proto = p->key.proto;
	sc->in.peer = p->key;
	if (src6_charge(s, p->key.saddr, now))
		return V_DROP_SRC_LIMIT;
	sc->out.ct |= FLOW_CT_CHARGED;
	v = flow6_insert(sc, gi, gw, now);
	if (v) {
		src6_refund(p->key.saddr);
		return v;
	}
	count_event(EV_FLOW_CREATED);
	{
		struct gw_counters *gc = bpf_map_lookup_elem(&gw_stats6, &gw);

		if (gc)
			gc->flows_created += 1;
	}
	return 0;
}

/*
 * The gateway of a new LAN flow in *group (the rules' choice, policy6.h),
 * or a verdict: nat6 none sources leave by their prefix's WAN whatever the
 * group (another ISP would drop the source); the rest by the group.
 */
static __always_inline __u32 flow6_choose(struct v6_scratch *w, const struct xwan_settings *s,
					  __u64 now, __u32 *gw, __u32 *group)
{
	struct prefix6_info *src = prefix6_of(w->p.key.saddr);
	struct gw_slot_table *t;

	if (src && src->kind == PREFIX6_DELEGATED) {
		*gw = src->gw;
		*group = XWAN_GROUP_NONE;
		return 0;
	}
	t = group6_table(*group);
	if (!t)
		return V_PASS_NOT_XWAN;
	*gw = group6_gateway(t, w, *group, now);
	if (*gw < XWAN_MAX_GATEWAYS)
		return 0;
	return t->when_all_down == ALL_DOWN_DROP ? V_DROP_NO_GATEWAY : V_PASS_ALL_DOWN;
}

/*
 * Move an answered flow from flows6_new to flows6: copies first (OUT, then
 * IN, BPF_NOEXIST, so of two CPUs promoting at once one does it), then the
 * unanswered entries go; a reader in between finds the copy first. A full
 * answered table leaves the flow where it is (counted).
 */
static __attribute__((noinline)) void flow6_promote(struct flow6_entry *fe)
{
	struct flow6_entry *peer = bpf_map_lookup_elem(&flows6_new, &fe->peer);
	struct v6_scratch *w;
	__u32 zero = 0;

	w = bpf_map_lookup_elem(&v6_scratch, &zero);
	if (!peer || !w)
		return;
	if (fe->dir == FLOW_DIR_OUT) {
		w->out = *fe;
		w->in = *peer;
	} else {
		w->out = *peer;
		w->in = *fe;
	}
	w->out.ct |= FLOW_CT_REPLIED;
	w->in.ct |= FLOW_CT_REPLIED;
	/* The OUT entry is keyed by what its peer (IN) points back at. */
	if (bpf_map_update_elem(&flows6, &w->in.peer, &w->out, BPF_NOEXIST))
		goto full;
	if (bpf_map_update_elem(&flows6, &w->out.peer, &w->in, BPF_NOEXIST)) {
		bpf_map_delete_elem(&flows6, &w->in.peer);
		goto full;
	}
	bpf_map_delete_elem(&flows6_new, &w->in.peer);
	bpf_map_delete_elem(&flows6_new, &w->out.peer);
	if (w->out.ct & FLOW_CT_CHARGED)
		src6_refund(w->in.peer.saddr);
	count_event(EV_FLOW_PROMOTED);
	return;
full:
	if (!bpf_map_lookup_elem(&flows6, &w->in.peer))
		count_event(EV_REPLIED_FULL);
}

/* Connection tracking's part: timeouts by state, both entries kept equal,
 * an answered flow moved to the table nothing evicts. */
static __always_inline void flow6_track(struct flow6_entry *fe, const struct pkt6 *p, __u64 now)
{
	struct flow6_entry *peer;
	__u8 st = fe->state;

	fe->last_seen_ns = now;
	fe->packets += 1;
	fe->bytes += p->len;
	if (p->key.proto == IPPROTO_TCP) {
		if (p->tcp_flags & TCP_FLAG_RST)
			st = FLOW_STATE_CLOSED;
		else if (p->tcp_flags & TCP_FLAG_FIN)
			st = FLOW_STATE_CLOSING;
		else if (fe->dir == FLOW_DIR_OUT && (p->tcp_flags & TCP_FLAG_SYN) &&
			 !(p->tcp_flags & TCP_FLAG_ACK))
			st = FLOW_STATE_NEW;    /* a new connection on the same tuple */
		else if (fe->dir == FLOW_DIR_IN && st == FLOW_STATE_NEW)
			st = FLOW_STATE_ESTABLISHED;
	} else if (fe->dir == FLOW_DIR_IN) {
		st = FLOW_STATE_ESTABLISHED;
	}
	if (st == fe->state)
		return;
	fe->state = st;
	peer = flow6_peer(fe);
	if (peer) {
		peer->state = st;
		peer->last_seen_ns = now;
	}
	if (st == FLOW_STATE_ESTABLISHED && !(fe->ct & FLOW_CT_REPLIED))
		flow6_promote(fe);
}

/* A first fragment remembers its flow for the later ones. */
static __always_inline void frag6_remember(struct v6_scratch *w, __u64 now)
{
	const struct pkt6 *p = &w->p;

	if (p->frag != FRAG_FIRST)
		return;
	__builtin_memcpy(w->fk.saddr, p->key.saddr, 32);
	w->fk.id = p->frag_id;
	w->fe.flow = p->key;
	w->fe.seen_ns = now;
	bpf_map_update_elem(&frags6, &w->fk, &w->fe, BPF_ANY);
}

/* A later fragment's flow: the entry its first fragment matched. */
static __always_inline struct flow6_entry *frag6_follow(const struct xwan_settings *s,
							struct v6_scratch *w, __u64 now)
{
	const struct pkt6 *p = &w->p;
	struct frag6_entry *e;

	__builtin_memcpy(w->fk.saddr, p->key.saddr, 32);
	w->fk.id = p->frag_id;
	e = bpf_map_lookup_elem(&frags6, &w->fk);
	if (!e || age_exceeds(now, e->seen_ns, 30ULL * 1000000000ULL))
		return NULL;
	count_event(EV_FRAG_FOLLOWED);
	return flow6_lookup(s, &e->flow, now);
}

#endif /* XWAN_FLOW6_H */
