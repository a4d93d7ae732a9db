/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * NAT66 (nat6: masquerade): an IPv6 flow leaves with its WAN's own address
 * and a port of the WAN's range (nat_ports), for an ISP that gives one
 * address and no prefix to route. As IPv4's NAT: the client's own port
 * when it is free toward that remote endpoint (port preservation), else a
 * port of the same parity from a random point (nat_port.h, shared with
 * IPv4's mappings); ports are unique per remote endpoint, so one address
 * serves far more than 64k flows. ICMPv6 echo's identifier is its port;
 * a protocol without ports is translated by address only, one LAN host per
 * remote and protocol (address_only_nat_in_use).
 *
 * The reply key {remote, WAN address, remote port, public port} is claimed
 * in flows6_new with BPF_NOEXIST when neither table holds it live: whoever
 * does (a flow of another LAN socket toward the same remote endpoint, the
 * host's own session) keeps it. The translation needs no field of its own:
 * an OUT entry's peer is its reply key (the new source and port), an IN
 * entry's peer the LAN socket.
 *
 * Unlike NPT this changes transport checksums (the pseudo-header and the
 * port), and an ICMPv6 error is translated with its quoted header: quoted
 * address, port and checksum, all folded into the ICMPv6 checksum, which
 * also covers the outer pseudo-header.
 *
 * Included by flow6.h after its scratch area, which the port search uses.
 */
#ifndef XWAN_NAT66_H
#define XWAN_NAT66_H

#include "nat_port.h"

/* The port search, off the stack: bpf_loop's callback reads it here. */
struct nat66_search {
	struct flow6_key rev;   /* the reply key being claimed; dport: the candidate */
	__u64 now;
	__u32 first;            /* the client's port when in the range, 0: none */
	__u32 base;
	__u32 range;
	__u32 start;
	__u32 parity;
	__u32 found;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct nat66_search);
} nat66_search SEC(".maps");

/*
 * An entry a new flow may take the key of: expired, or (past the grace a
 * flow being made on another CPU has) a half whose other half is gone or
 * belongs to another flow now: an LRU eviction, a tuple reopened. A host
 * session (its own peer) only by age.
 */
static __always_inline int flow6_reclaimable(const struct xwan_settings *s,
					     const struct flow6_key *k,
					     const struct flow6_entry *fe, __u64 now)
{
	struct flow6_entry *peer;

	if (age_exceeds(now, fe->last_seen_ns, flow6_timeout(s, k->proto, fe->state)))
		return 1;
	if (fe->dir == FLOW_DIR_LOCAL ||
	    (__s64)(now - fe->created_ns) <= (__s64)FLOW_HALF_GRACE_NS)
		return 0;
	peer = flow6_peer(fe);
	return !peer || !flow6_key_eq(&peer->peer, k);
}

/* Remove the entry at k (from its table), and its other half if that still points back. */
static __always_inline void flow6_remove(const struct flow6_key *k, const struct flow6_entry *fe)
{
	struct flow6_entry *peer = flow6_peer(fe);
	int peer_back = peer && flow6_key_eq(&peer->peer, k);

	if (fe->ct & FLOW_CT_REPLIED) {
		if (peer_back)
			bpf_map_delete_elem(&flows6, &fe->peer);
		bpf_map_delete_elem(&flows6, k);
	} else {
		if (peer_back)
			bpf_map_delete_elem(&flows6_new, &fe->peer);
		bpf_map_delete_elem(&flows6_new, k);
	}
}

/* Whatever holds k in table map now, unless it is live: 0 when k is free there. */
static __always_inline int nat66_free_in(void *map, const struct xwan_settings *s,
					 const struct flow6_key *k, __u64 now)
{
	struct flow6_entry *held = bpf_map_lookup_elem(map, k);

	if (!held)
		return 0;
	if (!flow6_reclaimable(s, k, held, now))
		return -1;
	flow6_remove(k, held);
	return 0;
}

/*
 * Claim candidate i (a bpf_loop callback): the reply entry, the new flow's
 * IN half (v6_scratch.in), goes into flows6_new (BPF_NOEXIST: of two CPUs
 * one wins) at the candidate key, if no live flow holds it in either table.
 */
static long nat66_try_port(__u32 i, void *data)
{
	struct xwan_settings *s = settings6();
	struct nat66_search *t;
	struct v6_scratch *w;
	__u32 zero = 0;

	(void)data;
	t = bpf_map_lookup_elem(&nat66_search, &zero);
	w = bpf_map_lookup_elem(&v6_scratch, &zero);
	if (!t || !w || !s)
		return 1;
	t->rev.dport = bpf_htons((__u16)nat_port_candidate(t->first, t->base, t->range, t->start,
							  t->parity, i));
	if (nat66_free_in(&flows6, s, &t->rev, t->now) == 0 &&
	    nat66_free_in(&flows6_new, s, &t->rev, t->now) == 0 &&
	    bpf_map_update_elem(&flows6_new, &t->rev, &w->in, BPF_NOEXIST) == 0) {
		t->found = 1;
		return 1;
	}
	count_event(EV_NAT_COLLISION);
	return 0;
}

/* Where a packet's port (or echo identifier) is: its source's (out) or destination's. */
static __always_inline __u32 nat66_port_off(__u8 proto, __u8 icmp_type, __u32 l4_off, int out)
{
	if (proto == IPPROTO_TCP || proto == IPPROTO_UDP)
		return l4_off + (out ? 0 : 2);
	if (proto == IPPROTO_ICMPV6_ &&
	    (icmp_type == ICMP6_ECHO_REQUEST || icmp_type == ICMP6_ECHO_REPLY))
		return l4_off + 4;
	return 0;
}

/* Translated by port (TCP, UDP, echo), or by address only. */
static __always_inline int nat66_ported(const struct pkt6 *p)
{
	return p->key.proto == IPPROTO_TCP || p->key.proto == IPPROTO_UDP ||
	       (p->key.proto == IPPROTO_ICMPV6_ && p->icmp_type == ICMP6_ECHO_REQUEST);
}

/* The transport checksum (all three cover the pseudo-header), 0: none. */
static __always_inline __u32 nat66_csum_off(__u8 proto, __u32 l4_off)
{
	if (proto == IPPROTO_TCP)
		return l4_off + 16;
	if (proto == IPPROTO_UDP)
		return l4_off + 6;
	if (proto == IPPROTO_ICMPV6_)
		return l4_off + 2;
	return 0;
}

/* May this packet open a masqueraded flow? As IPv4's (nat_port.h); echo is the query. */
static __always_inline int nat66_opens(const struct pkt6 *p, const struct xwan_settings *s)
{
	return pkt_l4_opens_flow(s, p->icmp_err || p->frag == FRAG_LATER, p->key.proto,
				 p->tcp_flags, IPPROTO_ICMPV6_, p->icmp_type == ICMP6_ECHO_REQUEST);
}

/*
 * A new flow through masquerading gateway gi: claim its reply key with the
 * WAN's address and a port, and make w->out.peer that key. 0, or the
 * verdict that refuses the flow. Called by flow6_create with both entries
 * built.
 */
static __attribute__((noinline)) __u32 nat66_reply_key(struct v6_scratch *w,
						       const struct gw6_info *gi, __u32 gw,
						       __u64 now)
{
	struct xwan_settings *s = settings6();
	const struct pkt6 *p = &w->p;
	struct flow6_entry *old;
	struct gw_counters *gc;
	struct nat66_search *t;
	__u32 zero = 0, sport;
	int ported;

	t = bpf_map_lookup_elem(&nat66_search, &zero);
	if (!t || !s)
		return V_DROP_FLOW_ALLOC;
	if (!nat66_opens(p, s))
		return V_DROP_NOT_NEW;
	if (!(((const __u64 *)gi->addr)[0] | ((const __u64 *)gi->addr)[1]) || gi->port_min == 0 ||
	    gi->port_max < gi->port_min)
		return V_DROP_NO_GATEWAY;       /* no address yet: the agent keeps it unusable */
	ported = nat66_ported(p);
	t->rev = w->out.peer;
	__builtin_memcpy(t->rev.daddr, gi->addr, 16);
	t->now = now;
	t->found = 0;
	t->first = 0;
	t->base = 0;
	t->range = 1;
	t->start = 0;
	t->parity = 0;
	if (ported) {
		sport = bpf_ntohs(p->key.sport);
		t->base = gi->port_min;
		t->range = (__u32)gi->port_max - gi->port_min + 1;
		t->first = sport >= gi->port_min && sport <= gi->port_max ? sport : 0;
		t->start = bpf_get_prandom_u32();
		t->parity = sport & 1;
	}
	bpf_loop(ported ? XWAN_NAT_TRIES : 1, nat66_try_port, NULL, 0);
	if (!t->found) {
		gc = bpf_map_lookup_elem(&gw_stats6, &gw);
		if (gc)
			gc->nat_exhausted += 1;
		return ported ? V_DROP_NAT_EXHAUSTED : V_DROP_ADDR_ONLY_TAKEN;
	}
	/*
	 * A tuple reopened: its old flow's reply key was held during the search
	 * (the remote may still know the old public port), now both go.
	 */
	old = bpf_map_lookup_elem(&flows6, &p->key);
	if (old)
		flow6_remove(&p->key, old);
	old = bpf_map_lookup_elem(&flows6_new, &p->key);
	if (old && !flow6_key_eq(&old->peer, &t->rev))
		flow6_remove(&p->key, old);
	w->out.peer = t->rev;
	return 0;
}

/* ---- the host's own sessions ---- */

/*
 * The host's own packet leaving a masquerading WAN from its address (the
 * agent's probes, the router's own connections): its reply key is kept as
 * a LOCAL entry, so NAT66 never gives a LAN flow the port the host uses
 * toward that remote endpoint (the host's replies would reach the LAN),
 * and the reply is the host's. A LAN flow holding that key already loses
 * it, as IPv4's does (admit.h: host_session_reserve): its next packet gets
 * another port. Refreshed by every packet the host sends.
 */
static __attribute__((noinline)) void nat66_host_session(struct v6_scratch *w, __u32 ifindex,
							 __u64 now)
{
	struct xwan_settings *s = settings6();
	const struct pkt6 *p = &w->p;
	struct iface_info *wan = bpf_map_lookup_elem(&ifaces, &ifindex);
	struct flow6_entry *fe;
	struct gw6_info *gi;
	__u32 gw;

	if (!s || !wan || wan->role != IFACE_WAN || !nat66_ported(p) || p->icmp_err ||
	    p->frag == FRAG_LATER || (p->key.proto == IPPROTO_TCP && (p->tcp_flags & TCP_FLAG_RST)))
		return;
	gw = wan->gw;
	gi = bpf_map_lookup_elem(&gateways6, &gw);
	if (!gi || gi->nat6 != NAT6_MASQUERADE)
		return;
	__builtin_memcpy(w->k.saddr, p->key.daddr, 16);
	__builtin_memcpy(w->k.daddr, p->key.saddr, 16);
	w->k.sport = p->key.dport;
	w->k.dport = p->key.sport;
	w->k.proto = p->key.proto;
	w->k.pad[0] = w->k.pad[1] = w->k.pad[2] = 0;
	fe = bpf_map_lookup_elem(&flows6_new, &w->k);
	if (fe && fe->dir == FLOW_DIR_LOCAL) {
		fe->last_seen_ns = now;
		return;
	}
	if (fe || (fe = bpf_map_lookup_elem(&flows6, &w->k))) {
		if (!flow6_reclaimable(s, &w->k, fe, now))
			count_event(EV_HOST_PORT_CONFLICT);
		flow6_remove(&w->k, fe);
		fe = bpf_map_lookup_elem(&flows6, &w->k);    /* an answered copy too */
		if (fe)
			flow6_remove(&w->k, fe);
	}
	__builtin_memset(&w->in, 0, sizeof(w->in));
	w->in.created_ns = now;
	w->in.last_seen_ns = now;
	w->in.peer = w->k;      /* its own peer: no half of it is ever a leftover */
	w->in.dir = FLOW_DIR_LOCAL;
	w->in.in_ifindex = ifindex;
	w->in.out_ifindex = ifindex;
	w->in.gw = (__u8)gw;
	w->in.group = XWAN_GROUP_NONE;
	w->in.rule = XWAN_RULE_NONE;
	w->in.nat6 = NAT6_MASQUERADE;
	bpf_map_update_elem(&flows6_new, &w->k, &w->in, BPF_ANY);
}

/* ---- header rewrites ---- */

/*
 * The rewrites run as small steps over jobs a first step writes here, not
 * as one function: they run under the IPv4 programs' frames (tc_wan_egress
 * leaves the IPv6 path's callees 32 bytes of stack), and in tc every
 * helper call would spill a long function's state to the stack.
 */
struct nat66_addr_job {
	__u32 off;              /* the address in the packet */
	__u32 csum_off;         /* the checksum it is folded into, 0: none */
	__u64 flags;            /* for ctx_l4_csum_replace */
	__u32 from[4];          /* what the packet holds now */
	__u32 to[4];
};

struct nat66_port_job {
	__u32 off;              /* 0: no port to write */
	__u32 csum_off;
	__u64 flags;
	__be16 from;
	__be16 to;
	__u32 pad;
};

/* Job 0: the quoted packet of an ICMPv6 error; job 1: the packet itself. */
struct nat66_rw {
	struct nat66_addr_job a[2];
	struct nat66_port_job pt[2];
	__u32 q_csum;           /* the quoted transport checksum's offset, 0: not held */
	__u32 icmp_csum;
	__u16 qsum;             /* the quoted checksum as it is, and as it becomes */
	__u16 qnew;
	__u32 q_udp;            /* UDP's computed 0 is sent as 0xffff */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct nat66_rw);
} nat66_rw SEC(".maps");

static __always_inline struct nat66_rw *nat66_rw_get(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&nat66_rw, &zero);
}

/*
 * The jobs of one packet of masqueraded flow fe: out (fe OUT, LAN -> WAN)
 * the source becomes the WAN's address and port, else (fe IN) the
 * destination the LAN socket's. An ICMPv6 error: its outer address on that
 * side (in the ICMPv6 checksum, which covers the pseudo-header), no port of
 * its own, and its quote on the other side: address and port folded into
 * the ICMPv6 checksum and into the quoted transport checksum, when the
 * quote holds it. Later fragments carry no transport header: the address
 * only. 0, or -1.
 */
static __attribute__((noinline)) int nat66_jobs(xwan_ctx *c, const struct pkt6 *p,
						const struct flow6_entry *fe, int out)
{
	struct nat66_rw *rw = nat66_rw_get();
	__u32 end = p->l3_off + p->len, q_l4 = p->in_l3_off + 40, csum;

	if (!rw)
		return -1;
	__builtin_memset(rw, 0, sizeof(*rw));
	csum = p->frag == FRAG_LATER ? 0 : nat66_csum_off(p->key.proto, p->l4_off);
	rw->a[1].off = p->l3_off + (out ? IP6_SRC_OFF : IP6_DST_OFF);
	rw->a[1].csum_off = csum;
	rw->a[1].flags = BPF_F_PSEUDO_HDR |
			 (p->key.proto == IPPROTO_UDP ? BPF_F_MARK_MANGLED_0 : 0);
	__builtin_memcpy(rw->a[1].from, out ? p->key.saddr : p->key.daddr, 16);
	__builtin_memcpy(rw->a[1].to, out ? fe->peer.daddr : fe->peer.saddr, 16);
	if (csum && !p->icmp_err) {
		rw->pt[1].off = nat66_port_off(p->key.proto, p->icmp_type, p->l4_off, out);
		rw->pt[1].csum_off = csum;
		rw->pt[1].flags = rw->a[1].flags & BPF_F_MARK_MANGLED_0;
		rw->pt[1].from = out ? p->key.sport : p->key.dport;
		rw->pt[1].to = out ? fe->peer.dport : fe->peer.sport;
	}
	if (!p->icmp_err)
		return 0;
	rw->icmp_csum = csum;
	rw->a[0].off = p->in_l3_off + (out ? IP6_DST_OFF : IP6_SRC_OFF);
	rw->a[0].csum_off = csum;
	__builtin_memcpy(rw->a[0].from, out ? p->inner.daddr : p->inner.saddr, 16);
	__builtin_memcpy(rw->a[0].to, rw->a[1].to, 16);
	rw->pt[0].off = nat66_port_off(p->inner.proto, ICMP6_ECHO_REQUEST, q_l4, !out);
	if (rw->pt[0].off + 2 > end)
		rw->pt[0].off = 0;      /* not in the quote */
	rw->pt[0].csum_off = csum;
	rw->pt[0].from = out ? p->inner.dport : p->inner.sport;
	rw->pt[0].to = out ? fe->peer.dport : fe->peer.sport;
	rw->q_csum = nat66_csum_off(p->inner.proto, q_l4);
	if (rw->q_csum && (rw->q_csum + 2 > end || ctx_load(c, rw->q_csum, &rw->qsum, 2) ||
			   (p->inner.proto == IPPROTO_UDP && rw->qsum == 0)))
		rw->q_csum = 0;
	rw->qnew = rw->qsum;
	rw->q_udp = p->inner.proto == IPPROTO_UDP;
	return 0;
}

/* Address job j: each changed word stored and folded into its checksum. */
static __attribute__((noinline)) int nat66_addr_step(xwan_ctx *c, __u32 j)
{
	struct nat66_rw *rw = nat66_rw_get();
	struct nat66_addr_job *a;

	if (!rw || j > 1)
		return -1;
	a = &rw->a[j];
	if (!a->off)
		return 0;
	for (int i = 0; i < 4; i++) {
		if (a->from[i] == a->to[i])
			continue;
		if (a->csum_off && ctx_l4_csum_replace(c, a->csum_off, a->from[i], a->to[i],
						       a->flags | 4))
			return -1;
		if (j == 0 && rw->q_csum)
			rw->qnew = csum_update32(rw->qnew, a->from[i], a->to[i]);
		if (ctx_store32(c, a->off + 4 * i, a->to[i]))
			return -1;
	}
	return 0;
}

/* Port job j, then (j 0) the quoted checksum as it became, folded in too. */
static __attribute__((noinline)) int nat66_port_step(xwan_ctx *c, __u32 j)
{
	struct nat66_rw *rw = nat66_rw_get();
	struct nat66_port_job *t;

	if (!rw || j > 1)
		return -1;
	t = &rw->pt[j];
	if (j == 0 && rw->q_csum && t->off && t->from != t->to)
		rw->qnew = csum_update16(rw->qnew, t->from, t->to);
	if (nat_store_port(c, t->csum_off, t->off, t->from, t->to, t->flags))
		return -1;
	if (j != 0 || !rw->q_csum || rw->qnew == rw->qsum)
		return 0;
	if (rw->qnew == 0 && rw->q_udp)
		rw->qnew = 0xffff;
	if (ctx_store16(c, rw->q_csum, rw->qnew) ||
	    ctx_l4_csum_replace(c, rw->icmp_csum, rw->qsum, rw->qnew, 2))
		return -1;
	return 0;
}

/* One packet of masqueraded flow fe translated (nat66_jobs): 0, or -1. */
static __always_inline int nat66_rewrite(xwan_ctx *c, const struct pkt6 *p,
					 const struct flow6_entry *fe, int out)
{
	if (nat66_jobs(c, p, fe, out))
		return -1;
	if (p->icmp_err && (nat66_addr_step(c, 0) || nat66_port_step(c, 0)))
		return -1;
	return nat66_addr_step(c, 1) || nat66_port_step(c, 1) ? -1 : 0;
}

#endif /* XWAN_NAT66_H */
