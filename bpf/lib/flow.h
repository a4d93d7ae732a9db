/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The flow table: lookup with lazy expiry, TCP state, per-flow accounting.
 *
 * Entries are reclaimed three ways: an expired entry is treated as absent
 * and overwritten by the next flow that needs its key or NAT port; the LRU
 * evicts the coldest entries when the table is full; the agent's sweep
 * (`xwan gc`, `xwan run`) deletes expired pairs.
 */
#ifndef XWAN_FLOW_H
#define XWAN_FLOW_H

#include "maps.h"
#include "parse.h"
#include "stats.h"

static __always_inline struct xwan_settings *get_settings(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&settings, &zero);
}

static __always_inline __u64 flow_timeout(const struct xwan_settings *s, __u8 proto,
					  __u8 state)
{
	__u32 t;

	if (proto == IPPROTO_TCP)
		t = state == FLOW_STATE_ESTABLISHED ? TIMEOUT_TCP_ESTABLISHED
						    : TIMEOUT_TCP_TRANSITORY;
	else if (proto == IPPROTO_UDP)
		t = TIMEOUT_UDP;
	else
		t = TIMEOUT_ICMP;
	return s->timeout_ns[t];
}

static __always_inline int flow_idle(const struct xwan_settings *s,
				     const struct flow_entry *fe, __u64 now)
{
	return now - fe->last_seen_ns > flow_timeout(s, fe->peer.proto, fe->state);
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
	peer = bpf_map_lookup_elem(&flows, &fe->peer);
	return !peer || flow_idle(s, peer, now);
}

/*
 * May a new flow take over this entry's key (a NAT port)? When it is dead,
 * and also when it is a reply entry whose LAN side the LRU evicted: that
 * flow's next outbound packet opens a new flow anyway, so the half left
 * behind must not hold its port.
 */
static __always_inline int flow_reclaimable(const struct xwan_settings *s,
					    const struct flow_entry *fe, __u64 now)
{
	if (fe->dir == FLOW_DIR_IN && !(fe->flags & FLOW_F_FORWARD) &&
	    !bpf_map_lookup_elem(&flows, &fe->peer))
		return 1;
	return flow_dead(s, fe, now);
}

static __always_inline struct flow_entry *
flow_lookup(const struct xwan_settings *s, const struct flow_key *k, __u64 now)
{
	struct flow_entry *fe = bpf_map_lookup_elem(&flows, k);

	if (!fe)
		return NULL;
	if (unlikely(flow_idle(s, fe, now)) && flow_dead(s, fe, now))
		return NULL;
	return fe;
}

/* Make both entries of a flow agree on state and flags (rare: transitions). */
static __always_inline void flow_set_state(struct flow_entry *fe, __u8 state, __u8 flags)
{
	struct flow_entry *peer;

	if (fe->state == state && fe->flags == flags)
		return;
	fe->state = state;
	fe->flags = flags;
	peer = bpf_map_lookup_elem(&flows, &fe->peer);
	if (peer) {
		peer->state = state;
		peer->flags = flags;
	}
}

/*
 * Established only once the handshake completes, as conntrack does: the
 * responder's SYN-ACK, then the originator's ACK. A SYN answered by a
 * SYN-ACK alone (a scan, a flood, a client that went away) keeps the short
 * transitory timeout and frees its NAT port soon. The originator is the LAN
 * side, or the WAN side for a port forward.
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

/* Account a packet that is about to be forwarded on this entry. */
static __always_inline void flow_track(struct flow_entry *fe, const struct pkt *p, __u64 now)
{
	fe->last_seen_ns = now;
	fe->packets += 1;
	fe->bytes += p->len;

	if (p->key.proto == IPPROTO_TCP) {
		if (p->frag == FRAG_LATER)
			return;
		if (fe->dir == FLOW_DIR_IN)
			fe->tcp_seq_next = p->tcp_seq + p->tcp_seq_len;
		flow_track_tcp(fe, p->tcp_flags);
	} else if (fe->state == FLOW_STATE_NEW && fe->dir == FLOW_DIR_IN) {
		flow_set_state(fe, FLOW_STATE_ESTABLISHED, fe->flags);
	}
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
	fe->last_seen_ns = now;
	if (inbound) {
		fe->packets += 1;
		fe->bytes += p->len;
	} else {
		fe->host_packets += 1;
		fe->host_kbytes += p->len >> 10;
	}
	if (p->key.proto != IPPROTO_TCP) {
		if (inbound)
			fe->state = FLOW_STATE_ESTABLISHED;
	} else if (p->frag != FRAG_LATER) {
		if (p->tcp_flags & TCP_FLAG_RST)
			fe->state = FLOW_STATE_CLOSED;
		else if (p->tcp_flags & TCP_FLAG_FIN)
			fe->state = fe->state == FLOW_STATE_CLOSED ? FLOW_STATE_CLOSED
								   : FLOW_STATE_CLOSING;
		else if (inbound && fe->state == FLOW_STATE_NEW && (p->tcp_flags & TCP_FLAG_ACK))
			fe->state = FLOW_STATE_ESTABLISHED;
	}
}

/* ---- fragments ---- */

static __always_inline void frag_key_of(const struct pkt *p, struct frag_key *fk)
{
	fk->saddr = p->key.saddr;
	fk->daddr = p->key.daddr;
	fk->id = p->ip_id;
	fk->proto = p->key.proto;
	fk->pad = 0;
}

static __always_inline void frag_remember(const struct pkt *p, const struct flow_key *flow,
					  __u64 now)
{
	struct frag_entry fe = { .flow = *flow, .seen_ns = now };
	struct frag_key fk;

	if (p->frag != FRAG_FIRST)
		return;
	frag_key_of(p, &fk);
	bpf_map_update_elem(&frags, &fk, &fe, BPF_ANY);
}

/* The flow entry a later fragment belongs to, or NULL. */
static __always_inline struct flow_entry *frag_follow(const struct pkt *p)
{
	struct frag_entry *fr;
	struct frag_key fk;
	struct flow_entry *fe;

	frag_key_of(p, &fk);
	fr = bpf_map_lookup_elem(&frags, &fk);
	if (!fr)
		return NULL;
	fe = bpf_map_lookup_elem(&flows, &fr->flow);
	if (fe)
		count_event(EV_FRAG_FOLLOWED);
	return fe;
}

#endif /* XWAN_FLOW_H */
