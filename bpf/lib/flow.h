/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The flow table: lookup with lazy expiry, TCP state and window tracking,
 * per-flow accounting, and the two tables a flow lives in (xwan_types.h):
 * flows_new until someone answers, then flows, where nothing evicts it.
 *
 * A flow is created (flow_install, flow_install.h), changes state (flow_set_state)
 * and is removed (flow_remove) in one function each.
 *
 * Entries are reclaimed four ways: an expired entry is treated as absent
 * and removed by the next flow that needs its key or NAT port; the LRU of
 * flows_new evicts the coldest unanswered entries when full, and the half
 * it leaves behind is removed when next met; the agent's sweep (`xwan gc`,
 * `xwan run`) deletes expired pairs.
 */
#ifndef XWAN_FLOW_H
#define XWAN_FLOW_H

#include "clock.h"
#include "events.h"
#include "mapping.h"
#include "maps.h"
#include "parse.h"
#include "stats.h"

/* A flow being made has one half for this long: not an evicted leftover. */
#define FLOW_HALF_GRACE_NS (50ULL * 1000 * 1000)

static __always_inline struct xwan_settings *get_settings(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&settings, &zero);
}

static __always_inline __u64 flow_timeout(const struct xwan_settings *s, __u8 proto,
					  __u8 state)
{
	__u32 t = xwan_timeout_index(proto, state);

	if (t >= TIMEOUT_MAX)
		return 0;
	return s->timeout_ns[t];
}

/* A new flow's search for its reply key, and so its NAT port (nat.h). */
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
 * Working memory of flow creation and promotion: two flow entries and the
 * port search do not fit the 512-byte BPF stack beside the parsed packet.
 * Per CPU, and no program nests on a CPU while it creates or promotes a
 * flow.
 */
struct admit_scratch {
	struct flow_entry out;
	struct flow_entry in;
	struct nat_try nt;      /* flow_admit's; zeroed by scratch_get */
	__u32 no_mapping;       /* nat_map_gateway found no mapping of the
				   socket: nat_map_port need not look again */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct admit_scratch);
} admit_scratch SEC(".maps");

static __always_inline struct admit_scratch *scratch_get(void)
{
	__u32 zero = 0;
	struct admit_scratch *sc = bpf_map_lookup_elem(&admit_scratch, &zero);

	if (sc)
		__builtin_memset(sc, 0, sizeof(*sc));
	return sc;
}

static __always_inline int flow_key_eq(const struct flow_key *a, const struct flow_key *b)
{
	return a->saddr == b->saddr && a->daddr == b->daddr && a->sport == b->sport &&
	       a->dport == b->dport && a->proto == b->proto;
}

static __always_inline void flow_gauge_add(long n, long unreplied)
{
	__u32 zero = 0;
	struct flow_gauge *g = bpf_map_lookup_elem(&flow_gauge, &zero);

	if (!g)
		return;
	if (n)
		__sync_fetch_and_add(&g->active, n);
	if (unreplied)
		__sync_fetch_and_add(&g->unreplied, unreplied);
}

/* Entries of a pair (OUT and IN); markers and host sessions are alone. */
static __always_inline int flow_has_peer(const struct flow_entry *fe)
{
	return fe->dir != FLOW_DIR_LOCAL && !(fe->flags & (FLOW_F_BYPASS | FLOW_F_DROP));
}

/* The other half, in the table this entry lives in. */
static __always_inline struct flow_entry *flow_peer(const struct flow_entry *fe)
{
	if (fe->ct & FLOW_CT_REPLIED)
		return bpf_map_lookup_elem(&flows, &fe->peer);
	return bpf_map_lookup_elem(&flows_new, &fe->peer);
}

/* Any entry at k, answered table first; no expiry check. */
static __always_inline struct flow_entry *flow_get(const struct flow_key *k)
{
	struct flow_entry *fe = bpf_map_lookup_elem(&flows, k);

	return fe ? fe : bpf_map_lookup_elem(&flows_new, k);
}

/*
 * Remove a flow: the entry at k and, when it still points back, its other
 * half, both from the table they live in. The one place a flow ends.
 */
static __always_inline void flow_remove(const struct flow_key *k, const struct flow_entry *fe)
{
	int replied = fe->ct & FLOW_CT_REPLIED;
	struct flow_entry *peer = flow_has_peer(fe) ? flow_peer(fe) : NULL;

	ha_emit(k, fe->dir, HA_EV_DELETE);
	/* Deleted entries stay readable until the program ends (RCU). */
	if (peer && flow_key_eq(&peer->peer, k)) {
		if (replied)
			bpf_map_delete_elem(&flows, &fe->peer);
		else
			bpf_map_delete_elem(&flows_new, &fe->peer);
	}
	if (replied) {
		bpf_map_delete_elem(&flows, k);
		flow_gauge_add(-1, 0);
	} else {
		bpf_map_delete_elem(&flows_new, k);
		flow_gauge_add(-1, -1);
	}
}

static __always_inline int flow_idle(const struct xwan_settings *s,
				     const struct flow_entry *fe, __u64 now)
{
	return age_exceeds(now, fe->last_seen_ns, flow_timeout(s, fe->peer.proto, fe->state));
}

/*
 * A flow is dead when neither direction was seen within its timeout: a
 * one-way stream keeps the silent direction alive.
 */
static __always_inline int flow_dead(const struct xwan_settings *s,
				     const struct flow_entry *fe, __u64 now)
{
	struct flow_entry *peer;

	if (!flow_idle(s, fe, now))
		return 0;
	if (!flow_has_peer(fe))
		return 1;
	peer = flow_peer(fe);
	return !peer || flow_idle(s, peer, now);
}

/*
 * Does the other half of an unanswered flow still point back at k? The
 * LRU may have evicted it, and a new flow may own its key since: such a
 * leftover must neither forward nor hold a NAT port.
 */
static __always_inline int flow_half_intact(const struct flow_entry *fe,
					    const struct flow_key *k)
{
	struct flow_entry *peer;

	if ((fe->ct & FLOW_CT_REPLIED) || !flow_has_peer(fe))
		return 1;
	peer = bpf_map_lookup_elem(&flows_new, &fe->peer);
	return peer && flow_key_eq(&peer->peer, k);
}

/* A leftover half, not one another CPU is making right now. */
static __always_inline int flow_half_left(const struct flow_entry *fe,
					  const struct flow_key *k, __u64 now)
{
	return (__s64)(now - fe->created_ns) > (__s64)FLOW_HALF_GRACE_NS && !flow_half_intact(fe, k);
}

/* May a new flow take over this entry's key (a NAT port)? */
static __always_inline int flow_reclaimable(const struct xwan_settings *s,
					    const struct flow_entry *fe,
					    const struct flow_key *k, __u64 now)
{
	return flow_half_left(fe, k, now) || flow_dead(s, fe, now);
}

/*
 * The live flow entry at k, or NULL. *seen: whether either table held an
 * entry at k at all (dead, a leftover half): a new flow at k has nothing
 * to clear when it did not.
 */
static __always_inline struct flow_entry *
flow_lookup_seen(const struct xwan_settings *s, const struct flow_key *k, __u64 now, int *seen)
{
	struct flow_entry *fe = bpf_map_lookup_elem(&flows, k);

	*seen = 1;
	if (likely(fe)) {
		if (unlikely(flow_idle(s, fe, now)) && flow_dead(s, fe, now))
			return NULL;
		return fe;
	}
	fe = bpf_map_lookup_elem(&flows_new, k);
	if (!fe) {
		*seen = 0;
		return NULL;
	}
	if (!flow_half_intact(fe, k)) {
		if ((__s64)(now - fe->created_ns) > (__s64)FLOW_HALF_GRACE_NS) {
			count_event(EV_HALF_REMOVED);
			bpf_map_delete_elem(&flows_new, k);
			flow_gauge_add(-1, -1);
		}
		return NULL;
	}
	if (unlikely(flow_idle(s, fe, now)) && flow_dead(s, fe, now))
		return NULL;
	return fe;
}

static __always_inline struct flow_entry *
flow_lookup(const struct xwan_settings *s, const struct flow_key *k, __u64 now)
{
	int seen;

	return flow_lookup_seen(s, k, now, &seen);
}

/* ---- per-source budget of unanswered flows ---- */

/*
 * Take one unanswered flow from a source's budget b (limit per source).
 * The level drains at `limit` per transitory timeout, and an answer refunds
 * its flow, so the level is about the source's unanswered flows of the last
 * timeout: conntrack's count of unassured entries, without a walk. -1: the
 * source is over its limit. One rule for IPv4 (src_charge) and IPv6.
 */
static __always_inline int src_budget_take(const struct xwan_settings *s, struct src_budget *b,
					   __u32 limit, __u64 now)
{
	__u64 step, drained;

	step = s->timeout_ns[TIMEOUT_TCP_TRANSITORY] / limit;
	if (!step)
		drained = limit;
	else
		drained = now > b->stamp_ns ? (now - b->stamp_ns) / step : 0;
	if (drained >= b->level) {
		b->level = 0;
		b->stamp_ns = now;
	} else if (drained) {
		b->level -= (__u32)drained;
		b->stamp_ns += drained * step;
	}
	if (b->level >= limit) {
		count_event(EV_SRC_LIMITED);
		return -1;
	}
	b->level += 1;
	return 0;
}

/* Charge one unanswered flow to an IPv4 source (src_budget_take). */
static __attribute__((noinline)) int src_charge(const struct xwan_settings *s, __be32 addr, __u8 side,
				      __u64 now)
{
	__u32 limit = s->src_limit[side & 1];
	struct src_key k = { .addr = addr, .side = side };
	struct src_budget nb = { .stamp_ns = now, .level = 1 }, *b;

	if (!limit)
		return 0;
	b = bpf_map_lookup_elem(&src_budget, &k);
	if (!b) {
		bpf_map_update_elem(&src_budget, &k, &nb, BPF_ANY);
		return 0;
	}
	return src_budget_take(s, b, limit, now);
}

static __attribute__((noinline)) void src_refund(__be32 addr, __u8 side)
{
	struct src_key k = { .addr = addr, .side = side };
	struct src_budget *b = bpf_map_lookup_elem(&src_budget, &k);

	if (b && b->level)
		b->level -= 1;
}

/* The source an OUT entry's flow was charged to. */
static __always_inline void flow_refund(const struct flow_entry *out, const struct flow_key *out_key)
{
	if (!(out->ct & FLOW_CT_CHARGED))
		return;
	if (out->dir == FLOW_DIR_LOCAL)
		src_refund(out->peer.daddr, SRC_WAN);
	else if (out->flags & FLOW_F_FORWARD)
		src_refund(out->peer.saddr, SRC_WAN);
	else
		src_refund(out_key->saddr, SRC_LAN);
}

/* ---- promotion to the answered table ---- */

/*
 * Move an answered flow from flows_new to flows: copies first (OUT, then
 * IN, each BPF_NOEXIST, so of two CPUs promoting at once one does it), then
 * the unanswered entries go. A reader in between finds the copy first.
 */
static __attribute__((noinline)) void flow_promote_pair(struct flow_entry *fe)
{
	struct admit_scratch *sc;
	struct flow_entry *peer = bpf_map_lookup_elem(&flows_new, &fe->peer);
	struct flow_key out_key, in_key;

	if (!peer)
		return;
	sc = scratch_get();
	if (!sc)
		return;
	if (fe->dir == FLOW_DIR_OUT) {
		sc->out = *fe;
		sc->in = *peer;
	} else {
		sc->out = *peer;
		sc->in = *fe;
	}
	out_key = sc->in.peer;
	in_key = sc->out.peer;
	sc->out.ct |= FLOW_CT_REPLIED;
	sc->in.ct |= FLOW_CT_REPLIED;
	if (bpf_map_update_elem(&flows, &out_key, &sc->out, BPF_NOEXIST))
		goto full;
	if (bpf_map_update_elem(&flows, &in_key, &sc->in, BPF_NOEXIST)) {
		bpf_map_delete_elem(&flows, &out_key);
		goto full;
	}
	bpf_map_delete_elem(&flows_new, &out_key);
	bpf_map_delete_elem(&flows_new, &in_key);
	flow_gauge_add(0, -1);
	flow_refund(&sc->out, &out_key);
	count_event(EV_FLOW_PROMOTED);
	return;
full:
	/* Another CPU promoted it, or the answered table is full: it stays. */
	if (!bpf_map_lookup_elem(&flows, &out_key))
		count_event(EV_REPLIED_FULL);
}

/* A host session is one entry, keyed by its reply tuple. */
static __attribute__((noinline)) void flow_promote_local(struct flow_entry *fe)
{
	struct admit_scratch *sc = scratch_get();
	struct flow_key k = {
		.saddr = fe->peer.daddr,
		.daddr = fe->peer.saddr,
		.sport = fe->peer.dport,
		.dport = fe->peer.sport,
		.proto = fe->peer.proto,
	};

	if (!sc)
		return;
	sc->out = *fe;
	sc->out.ct |= FLOW_CT_REPLIED;
	if (bpf_map_update_elem(&flows, &k, &sc->out, BPF_NOEXIST)) {
		if (!bpf_map_lookup_elem(&flows, &k))
			count_event(EV_REPLIED_FULL);
		return;
	}
	bpf_map_delete_elem(&flows_new, &k);
	flow_gauge_add(0, -1);
	flow_refund(&sc->out, &k);
	count_event(EV_FLOW_PROMOTED);
}

/*
 * Make both entries of a flow agree on state and flags (rare: transitions),
 * and move a flow that was just answered to the table nothing evicts. The
 * one place a flow changes state.
 */
static __always_inline void flow_set_state(struct flow_entry *fe, __u8 state, __u8 flags)
{
	struct flow_entry *peer;

	if (fe->state == state && fe->flags == flags)
		return;
	fe->state = state;
	fe->flags = flags;
	ha_emit_entry(fe, HA_EV_STATE);
	if (fe->dir == FLOW_DIR_LOCAL) {
		if (state == FLOW_STATE_ESTABLISHED && !(fe->ct & FLOW_CT_REPLIED))
			flow_promote_local(fe);
		return;
	}
	peer = flow_peer(fe);
	if (peer) {
		peer->state = state;
		peer->flags = flags;
	}
	if (state == FLOW_STATE_ESTABLISHED && !(fe->ct & FLOW_CT_REPLIED))
		flow_promote_pair(fe);
}

/* ---- TCP window tracking ---- */

static __always_inline int seq_after_eq(__u32 a, __u32 b)
{
	return (__s32)(a - b) >= 0;
}

/*
 * A RST from a side that has not sent yet (answering a SYN) must
 * acknowledge what the other side sent, as conntrack checks in SYN_SENT.
 */
static __always_inline int tcp_first_rst_ok(const struct flow_entry *fe, const struct pkt *p)
{
	struct flow_entry *peer = flow_peer(fe);

	if (!peer || !(peer->ct & FLOW_CT_SEQ))
		return 1;
	return (p->tcp_flags & TCP_FLAG_ACK) && p->tcp_ack == peer->tcp_seq_next;
}

/*
 * Is this segment inside the window the receiver offered (conntrack's
 * tcp_in_window, simplified)? It ends no earlier than one window before
 * what the sender has sent, and starts no later than one window past it.
 * For a RST (RFC 5961 3.2) the receiver's window [RCV.NXT, RCV.NXT +
 * RCV.WND) lies inside [sent - window, sent + window] whatever is in
 * flight: a blind attacker must hit that, not any of 2^32.
 */
static __always_inline int tcp_in_window(const struct xwan_settings *s,
					 const struct flow_entry *fe, const struct pkt *p)
{
	__u32 sent = fe->tcp_seq_next, win = fe->tcp_peer_win;
	__u32 end = p->tcp_seq + p->tcp_seq_len;

	if (s->tcp_liberal || (fe->flags & FLOW_F_MIDSTREAM))
		return 1;
	if (!(fe->ct & FLOW_CT_SEQ))
		return !(p->tcp_flags & TCP_FLAG_RST) || tcp_first_rst_ok(fe, p);
	if (!win)
		return 1;       /* the receiver has not spoken yet */
	if (p->tcp_flags & TCP_FLAG_RST)
		end = p->tcp_seq;
	return seq_after_eq(end, sent - win) && seq_after_eq(sent + win, p->tcp_seq);
}

static __always_inline __u32 tcp_window_refused(const struct pkt *p)
{
	if (p->tcp_flags & TCP_FLAG_RST)
		count_event(EV_TCP_RST_IGNORED);
	else if (p->tcp_flags & TCP_FLAG_FIN)
		count_event(EV_TCP_FIN_IGNORED);
	else
		count_event(EV_TCP_DATA_IGNORED);
	return V_DROP_TCP_WINDOW;
}

/*
 * Window scaling counts only when both SYNs offered it (RFC 7323): the
 * SYN records its scale, the SYN-ACK keeps or clears both.
 */
static __always_inline void tcp_learn_wscale(struct flow_entry *fe, const struct pkt *p)
{
	struct flow_entry *peer;
	int offered = p->tcp_wscale != TCP_NO_WSCALE;

	fe->ct &= ~(FLOW_CT_WSCALE | (0xf << FLOW_CT_WS_SHIFT));
	if (offered)
		fe->ct |= FLOW_CT_WSCALE | (p->tcp_wscale << FLOW_CT_WS_SHIFT);
	if (!(p->tcp_flags & TCP_FLAG_ACK))
		return;                 /* the SYN: the answer decides */
	peer = flow_peer(fe);
	if (!peer)
		return;
	if (!offered || !(peer->ct & FLOW_CT_WSCALE)) {
		fe->ct &= ~FLOW_CT_WSCALE;
		peer->ct &= ~FLOW_CT_WSCALE;
	}
}

/* What the segment tells: how far its sender got, and the window it offers. */
static __always_inline void tcp_learn(struct flow_entry *fe, const struct pkt *p)
{
	__u32 end = p->tcp_seq + p->tcp_seq_len, win = p->tcp_win;
	struct flow_entry *peer;

	if (!(fe->ct & FLOW_CT_SEQ) || seq_after_eq(end, fe->tcp_seq_next + 1)) {
		fe->tcp_seq_next = end;
		fe->ct |= FLOW_CT_SEQ;
	}
	if (p->tcp_flags & TCP_FLAG_SYN)
		tcp_learn_wscale(fe, p);
	else if (fe->ct & FLOW_CT_WSCALE)
		win <<= (fe->ct >> FLOW_CT_WS_SHIFT);
	if (win <= fe->tcp_own_win)
		return;
	fe->tcp_own_win = win;
	peer = flow_peer(fe);
	if (peer)
		peer->tcp_peer_win = win;
}

/*
 * Established only once the handshake completes, as conntrack does: the
 * responder's SYN-ACK, then the originator's ACK. A SYN answered by a
 * SYN-ACK alone (a scan, a flood, a client that went away) keeps the short
 * transitory timeout, stays in the unanswered table and frees its NAT port
 * soon. The originator is the LAN side, or the WAN side for a port forward.
 */
static __always_inline void flow_track_tcp(struct flow_entry *fe, __u8 tcp_flags)
{
	__u8 state = fe->state, flags = fe->flags;
	__u8 fin = fe->dir == FLOW_DIR_OUT ? FLOW_F_FIN_OUT : FLOW_F_FIN_IN;
	int from_originator = (fe->dir == FLOW_DIR_IN) == !!(flags & FLOW_F_FORWARD);

	if (tcp_flags & TCP_FLAG_RST) {
		state = FLOW_STATE_CLOSED;
	} else if (tcp_flags & TCP_FLAG_FIN) {
		flags |= fin;
		state = (flags & (FLOW_F_FIN_OUT | FLOW_F_FIN_IN)) ==
				(FLOW_F_FIN_OUT | FLOW_F_FIN_IN)
			? FLOW_STATE_CLOSED : FLOW_STATE_CLOSING;
	} else if (!(tcp_flags & TCP_FLAG_ACK)) {
		/* a SYN (retransmitted) changes nothing */
	} else if (state == FLOW_STATE_NEW && !from_originator) {
		/* The SYN-ACK; mid-stream pickups have no handshake to wait for. */
		state = (flags & FLOW_F_MIDSTREAM) ? FLOW_STATE_ESTABLISHED : FLOW_STATE_SYN_RECV;
	} else if (state == FLOW_STATE_SYN_RECV && from_originator &&
		   !(tcp_flags & TCP_FLAG_SYN)) {
		state = FLOW_STATE_ESTABLISHED;
	}
	flow_set_state(fe, state, flags);
}

/*
 * The responder's segment to a SYN that is neither SYN-ACK nor RST: a
 * server whose TIME_WAIT or stale state still holds the tuple, answering
 * with an ACK of the old connection. conntrack ignores it; so does xwan:
 * learning its sequence numbers would make the client's RST to it look
 * out of window.
 */
static __always_inline int tcp_answer_unsynced(const struct flow_entry *fe, const struct pkt *p,
					       int from_originator)
{
	return fe->state == FLOW_STATE_NEW && !from_originator &&
	       !(fe->flags & FLOW_F_MIDSTREAM) &&
	       !(p->tcp_flags & (TCP_FLAG_SYN | TCP_FLAG_RST));
}

/*
 * Account a packet that is about to be forwarded on this entry. Returns 0,
 * or the verdict of a TCP segment outside the window: it changes nothing.
 */
static __always_inline __u32 flow_track(const struct xwan_settings *s, struct flow_entry *fe,
					const struct pkt *p, __u64 now)
{
	int from_originator = (fe->dir == FLOW_DIR_IN) == !!(fe->flags & FLOW_F_FORWARD);
	int tcp = p->key.proto == IPPROTO_TCP && p->frag != FRAG_LATER;

	if (tcp && !tcp_in_window(s, fe, p))
		return tcp_window_refused(p);
	ha_touch(fe, now);
	nat_map_touch(fe, p, now);
	fe->last_seen_ns = now;
	fe->packets += 1;
	fe->bytes += p->len;

	if (tcp && tcp_answer_unsynced(fe, p, from_originator)) {
		/* Passed on untouched: the client's stack answers it with the RST
		 * that clears the responder's old state, as RFC 793 says. */
	} else if (tcp) {
		tcp_learn(fe, p);
		flow_track_tcp(fe, p->tcp_flags);
	} else if (p->key.proto != IPPROTO_TCP && fe->state == FLOW_STATE_NEW &&
		   !from_originator) {
		flow_set_state(fe, FLOW_STATE_ESTABLISHED, fe->flags);
	}
	return 0;
}

/*
 * A client reusing the tuple of a finished TCP connection opens a new flow
 * (new NAT port, new gateway choice) instead of inheriting the old one.
 */
static __always_inline int flow_reopened(const struct flow_entry *fe, const struct pkt *p)
{
	return p->key.proto == IPPROTO_TCP &&
	       (p->tcp_flags & (TCP_FLAG_SYN | TCP_FLAG_ACK)) == TCP_FLAG_SYN &&
	       fe->state >= FLOW_STATE_CLOSING;
}

/* ---- the host's own sessions ---- */

/*
 * Refresh a LOCAL entry. Only the remote side's answer makes a TCP session
 * established, so a host SYN that is never answered keeps a short timeout.
 */
static __always_inline void local_track(struct flow_entry *fe, const struct pkt *p, __u64 now,
					int inbound)
{
	__u8 state = fe->state;

	fe->last_seen_ns = now;
	if (inbound) {
		fe->packets += 1;
		fe->bytes += p->len;
	} else {
		fe->host_packets += 1;
		fe->host_bytes += p->len;
	}
	if (p->key.proto != IPPROTO_TCP) {
		if (inbound)
			state = FLOW_STATE_ESTABLISHED;
	} else if (p->frag != FRAG_LATER) {
		if (p->tcp_flags & TCP_FLAG_RST)
			state = FLOW_STATE_CLOSED;
		else if (p->tcp_flags & TCP_FLAG_FIN)
			state = state == FLOW_STATE_CLOSED ? FLOW_STATE_CLOSED : FLOW_STATE_CLOSING;
		else if (inbound && state == FLOW_STATE_NEW && (p->tcp_flags & TCP_FLAG_ACK))
			state = FLOW_STATE_ESTABLISHED;
	}
	flow_set_state(fe, state, fe->flags);
}

#endif /* XWAN_FLOW_H */
