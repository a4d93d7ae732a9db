/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Endpoint-independent NAT (RFC 4787, RFC 5382): the mapping a new LAN
 * flow follows or makes, and the inbound packet a mapping's filter admits.
 *
 * A new UDP or TCP flow from a socket with a live mapping takes the
 * mapping's WAN (when the flow's group may use it now) and its public
 * port. Without one, the socket gets a mapping: its own port when free
 * (port preservation), else a port of the same parity, never a port whose
 * PUB side another live mapping holds. Only when the pool has no such
 * port, or a flow of another socket holds the mapped port toward this very
 * remote endpoint, does the flow fall back to a port of its own, unique per
 * remote endpoint as before.
 *
 * Included by nat.h after the port claim and flow installation it uses.
 */
#ifndef XWAN_MAPPING_NAT_H
#define XWAN_MAPPING_NAT_H

#include "mapping.h"
#include "inbound.h"

/* Working memory of a mapping search: off the programs' stack. */
struct nat_map_scratch {
	struct nat_try nt;
	struct nat_map_key pub;
	struct nat_map_key lan;
	struct nat_permit_key permit;
	struct nat_map val;     /* the PUB side being claimed */
	struct port_fwd_key fwd;
	__u32 first;            /* the client's port, when in the range */
	__u32 filtering;
	__u32 zero;             /* a key, off the stack */
	__u32 parity;           /* the client's port & 1 */
	__u32 found;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct nat_map_scratch);
} nat_map_scratch SEC(".maps");

static __always_inline struct nat_map_scratch *nat_map_scratch_get(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&nat_map_scratch, &zero);
}

/*
 * The gateway a new flow of this socket follows: the mapping's, while that
 * WAN takes new flows with the same address and this flow's group has it
 * in its table now; otherwise `fallback`. A WAN that went down or changed
 * its address takes the mapping with it.
 */
static __attribute__((noinline)) __u32 nat_map_gateway(const struct pkt *p,
						       const struct gw_slot_table *t,
						       __u32 fallback, __u64 now)
{
	struct xwan_settings *s = get_settings();
	struct admit_scratch *sc;
	struct nat_map_key k;
	struct nat_map *m;
	struct gw_info *gi;
	__u32 gw = 0;

	if (!s || !t || !nat_map_proto(p->key.proto))
		return fallback;
	nat_map_key_of(&k, p->key.saddr, p->key.sport, p->key.proto, NMAP_LAN);
	m = bpf_map_lookup_elem(&nat_maps, &k);
	if (!m) {
		/* The common case of a new flow: a new socket. */
		sc = bpf_map_lookup_elem(&admit_scratch, &gw);
		if (sc)
			sc->no_mapping = 1;
		return fallback;
	}
	if (!nat_map_live(s, m, p->key.proto, now))
		return fallback;
	gw = m->gw;
	gi = bpf_map_lookup_elem(&gateways, &gw);
	if (!gi || !(gi->flags & GW_F_USABLE) || !(gi->flags & GW_F_NAT) ||
	    gi->nat_addr != m->addr) {
		nat_map_drop(&k, m);
		count_event(EV_MAPPING_DROPPED);
		return fallback;
	}
	if (gw >= XWAN_MAX_GATEWAYS || !(t->usable_mask & (1U << gw)))
		return fallback;
	return gw;
}

/* The i-th public port to try: the client's, then the same parity. */
static __always_inline __u32 nat_map_candidate(const struct nat_map_scratch *ms, __u32 i)
{
	return nat_port_candidate(ms->first, ms->nt.base, ms->nt.range, ms->nt.start,
				  ms->parity, i);
}

/* Take the PUB side at ms->pub: free, or a leftover no live mapping owns. */
static __always_inline int nat_map_claim_pub(const struct xwan_settings *s,
					     struct nat_map_scratch *ms, __u64 now)
{
	struct nat_map *held, *owner;

	if (bpf_map_update_elem(&nat_maps, &ms->pub, &ms->val, BPF_NOEXIST) == 0)
		return 0;
	held = bpf_map_lookup_elem(&nat_maps, &ms->pub);
	if (!held)
		return -1;
	owner = nat_map_owner(&ms->pub, held);
	if (owner && nat_map_live(s, owner, ms->pub.proto, now))
		return -1;
	return bpf_map_update_elem(&nat_maps, &ms->pub, &ms->val, BPF_ANY) ? -1 : 0;
}

/*
 * One candidate: its PUB side, no port forward on it, and the flow's reply
 * key, or nothing.
 */
static long nat_map_try(__u32 i, void *data)
{
	struct nat_map_scratch *ms = nat_map_scratch_get();
	struct xwan_settings *s = get_settings();
	struct admit_scratch *sc;
	__u32 port;

	/* Keys in the scratch area: this frame is the deepest of xdp_lan's. */
	if (!ms || !s)
		return 1;
	port = nat_map_candidate(ms, i);
	ms->pub.port = bpf_htons((__u16)port);
	if (nat_map_claim_pub(s, ms, ms->nt.now))
		return 0;
	ms->fwd.addr = ms->pub.addr;
	ms->fwd.port = ms->pub.port;
	ms->fwd.proto = ms->pub.proto;
	ms->fwd.pad = 0;
	/* The reply key, as nat_try_port claims it (not called: stack depth). */
	ms->nt.rev.dport = ms->pub.port;
	ms->zero = 0;
	sc = bpf_map_lookup_elem(&admit_scratch, &ms->zero);
	if (sc && !bpf_map_lookup_elem(&port_fwds, &ms->fwd) &&
	    nat_claim(s, &ms->nt.rev, &sc->in, ms->nt.now) == 0) {
		ms->nt.port = port;
		ms->nt.found = 1;
		ms->found = 1;
		return 1;
	}
	count_event(EV_NAT_COLLISION);
	bpf_map_delete_elem(&nat_maps, &ms->pub);
	return 0;
}

/* Prepare the search for a new mapping: its PUB side's value, the client's port. */
static __always_inline void nat_map_new(struct nat_map_scratch *ms, const struct pkt *p,
					__u32 gw, __u32 filtering, __u32 lan_ifindex, __u64 now)
{
	nat_map_key_of(&ms->pub, ms->nt.rev.daddr, 0, p->key.proto, NMAP_PUB);
	__builtin_memset(&ms->val, 0, sizeof(ms->val));
	ms->val.created_ns = now;
	ms->val.last_ns = now;
	ms->val.addr = p->key.saddr;
	ms->val.port = p->key.sport;
	ms->val.gw = (__u8)gw;
	ms->val.filtering = (__u8)filtering;
	ms->val.lan_ifindex = lan_ifindex;
	ms->val.flows = 1;
	__builtin_memcpy(ms->val.l2_dst, p->eth_src, 6);
	ms->first = ms->nt.first;
	ms->parity = bpf_ntohs(p->key.sport) & 1;
	ms->found = 0;
}

/*
 * The public port of a new flow on a NAT gateway, through the socket's
 * mapping. 0: the live mapping on this gateway gave it (nt holds the port
 * and its claimed reply key); 1: the socket needs a new mapping (flow_admit
 * runs nat_map_try, then nat_map_made); -1: the caller allocates as
 * without mappings. Three steps, each one call deep under flow_admit: the
 * stack of xdp_lan, flow_admit and a callee is 512 bytes already.
 */
static __attribute__((noinline)) int nat_map_port(struct nat_try *nt, const struct pkt *p,
						  __u32 gw, __u32 filtering, __u32 lan_ifindex)
{
	struct nat_map_scratch *ms = nat_map_scratch_get();
	struct xwan_settings *s = get_settings();
	struct admit_scratch *sc;
	struct nat_map *m;
	__u32 zero = 0;

	if (!ms || !s || !nat_map_proto(p->key.proto))
		return -1;
	ms->nt = *nt;
	ms->filtering = filtering;
	nat_map_key_of(&ms->lan, p->key.saddr, p->key.sport, p->key.proto, NMAP_LAN);
	sc = bpf_map_lookup_elem(&admit_scratch, &zero);
	m = sc && sc->no_mapping ? NULL : bpf_map_lookup_elem(&nat_maps, &ms->lan);
	if (!m || !nat_map_live(s, m, p->key.proto, nt->now) || m->gw != gw ||
	    m->addr != nt->rev.daddr) {
		if (m && nat_map_live(s, m, p->key.proto, nt->now))
			count_event(EV_MAPPING_MOVED);
		nat_map_new(ms, p, gw, filtering, lan_ifindex, nt->now);
		return 1;
	}
	/* Reused: its port toward this remote endpoint, as nat_try_port claims. */
	nt->rev.dport = m->port;
	if (!sc || nat_claim(s, &nt->rev, &sc->in, nt->now))
		return -1;
	nt->port = bpf_ntohs(m->port);
	nt->found = 1;
	m->last_ns = nt->now;
	m->flows += 1;
	m->filtering = filtering;       /* a reload's filtering applies */
	count_event(EV_MAPPING_REUSED);
	return 0;
}

/* After nat_map_try: the new mapping's LAN side, or -1 when none was found. */
static __attribute__((noinline)) int nat_map_made(struct nat_try *nt)
{
	struct nat_map_scratch *ms = nat_map_scratch_get();

	if (!ms || !ms->found)
		return -1;
	/* The LAN side: the PUB side with the roles swapped. */
	ms->val.addr = ms->pub.addr;
	ms->val.port = ms->pub.port;
	if (bpf_map_update_elem(&nat_maps, &ms->lan, &ms->val, BPF_ANY)) {
		bpf_map_delete_elem(&nat_maps, &ms->pub);
		return -1;
	}
	count_event(EV_MAPPING_CREATED);
	*nt = ms->nt;
	return 0;
}

/*
 * address-dependent filtering: the remote of a flow that uses a mapping
 * (whatever its port) may send to it. nt: the flow's reply key.
 */
static __attribute__((noinline)) void nat_map_permit(const struct nat_try *nt, __u32 filtering)
{
	struct nat_map_scratch *ms = nat_map_scratch_get();

	if (!ms || filtering != FILTER_ADDR)
		return;
	ms->permit.pub_addr = nt->rev.daddr;
	ms->permit.remote = nt->rev.saddr;
	ms->permit.pub_port = nt->rev.dport;
	ms->permit.proto = nt->rev.proto;
	ms->permit.pad = 0;
	bpf_map_update_elem(&nat_permits, &ms->permit, &nt->now, BPF_ANY);
}

/* ---- inbound: a remote the mapping's filter admits opens a flow ---- */

/*
 * The PUB side of the live mapping at a packet's destination, if the
 * mapping's filter admits `remote` as the sender: it names the LAN socket.
 * remote: the packet's source from the internet; for a hairpinned packet
 * the address the mapping's host will see, the WAN address itself. *filtered:
 * a live mapping refused it (the caller counts it).
 */
static __always_inline struct nat_map *nat_map_admits(const struct xwan_settings *s,
						      const struct pkt *p, __be32 remote,
						      __u64 now, int *filtered)
{
	struct nat_permit_key pk = { .pub_addr = p->key.daddr, .remote = remote,
				     .pub_port = p->key.dport, .proto = p->key.proto };
	struct nat_map_key k;
	struct nat_map *pm, *m;
	__u64 *seen;

	nat_map_key_of(&k, p->key.daddr, p->key.dport, p->key.proto, NMAP_PUB);
	pm = bpf_map_lookup_elem(&nat_maps, &k);
	if (!pm)
		return NULL;
	m = nat_map_owner(&k, pm);
	if (!m || !nat_map_live(s, m, p->key.proto, now))
		return NULL;
	if (m->filtering == FILTER_ENDPOINT)
		goto admit;
	if (m->filtering == FILTER_ADDR) {
		seen = bpf_map_lookup_elem(&nat_permits, &pk);
		if (seen && !age_exceeds(now, *seen, nat_map_timeout(s, p->key.proto)))
			goto admit;
	}
	*filtered = 1;
	return NULL;
admit:
	m->last_ns = now;
	m->flows += 1;
	return pm;
}

/*
 * An inbound packet to a live mapping whose filter admits its sender opens
 * a flow to the mapped LAN socket (RFC 4787 REQ-8); a mapping's port whose
 * filter refuses the sender is INBOUND_REFUSED.
 */
static __attribute__((noinline)) enum inbound_rc nat_map_inbound(xwan_ctx *ctx, const struct pkt *p,
								 const struct xwan_settings *s,
								 __u64 now)
{
	struct inbound_target t = {};
	enum inbound_rc rc;
	struct gw_info *gi;
	struct nat_map *pm;
	int filtered = 0;
	__u32 gw;

	if (!p || !s || !nat_map_proto(p->key.proto) || p->icmp_err || p->frag == FRAG_LATER)
		return INBOUND_NONE;
	pm = nat_map_admits(s, p, p->key.saddr, now, &filtered);
	if (!pm) {
		if (filtered)
			count_event(EV_MAPPING_FILTERED);
		return filtered ? INBOUND_REFUSED : INBOUND_NONE;
	}
	/* Only a SYN opens a TCP flow; the rest is as unsolicited. */
	if (p->key.proto == IPPROTO_TCP &&
	    (p->tcp_flags & (TCP_FLAG_SYN | TCP_FLAG_ACK | TCP_FLAG_RST)) != TCP_FLAG_SYN)
		return INBOUND_REFUSED;
	gw = pm->gw;
	gi = bpf_map_lookup_elem(&gateways, &gw);
	if (!gi || gi->ifindex != ctx_ifindex(ctx) || gi->nat_addr != p->key.daddr)
		return INBOUND_NONE;
	t.addr = pm->addr;
	t.port = pm->port;
	t.gw = pm->gw;
	t.lan_ifindex = pm->lan_ifindex;
	__builtin_memcpy(t.l2_dst, pm->l2_dst, 6);
	rc = inbound_flow_open(p, &t, now);
	if (rc == INBOUND_OPENED)
		count_event(EV_MAPPING_INBOUND);
	return rc;
}

#endif /* XWAN_MAPPING_NAT_H */
