/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * NAT: the reply key (and so the public port) a new flow claims, and the
 * header rewrites of source/destination NAT (ICMP errors: icmp.h). Written
 * once over ctx.h for XDP and tc.
 *
 * The entry programs, forward.h and icmp.h include this one header for the
 * whole new-flow path: route.h (where an address belongs, neighbours),
 * flow_install.h (a flow's birth), mapping_nat.h (endpoint-independent
 * mappings) and admit.h (flow_admit, host sessions) come with it.
 */
#ifndef XWAN_NAT_H
#define XWAN_NAT_H

#include "ctx.h"
#include "flow.h"
#include "flow_install.h"
#include "frag.h"
#include "gw_select.h"
#include "nat_port.h"
#include "policy.h"
#include "route.h"

/* ---- NAT port allocation ---- */

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
 * Claim candidate port i of the search in admit_scratch.nt (a bpf_loop
 * callback; data unused). Ports are unique per remote endpoint, like Linux
 * masquerade: one WAN address serves far more than 64k flows.
 */
static long nat_try_port(__u32 i, void *data)
{
	struct admit_scratch *sc;
	struct xwan_settings *s;
	struct nat_try *t;
	__u32 port, zero = 0;

	/* The search and the reply entry to install wait in the scratch area. */
	sc = bpf_map_lookup_elem(&admit_scratch, &zero);
	s = get_settings();
	if (!sc || !s)
		return 1;
	t = &sc->nt;
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
	nat_try_port(1, NULL);
}

/* Endpoint-independent mappings: they claim ports as above. */
#include "mapping_nat.h"

/* ---- header rewrites ---- */

/*
 * Which end of the packet NAT rewrites. The values are the old int
 * argument of nat_rewrite (1: source), which callers may still pass.
 */
enum nat_dir {
	NAT_DST = 0,    /* IN: a reply to the LAN host, or a forwarded session */
	NAT_SRC = 1,    /* OUT: a LAN host's packet leaving a WAN */
};

/*
 * Where the rewritten fields lie in the IPv4 header. __builtin_offsetof: a
 * constant, where vmlinux.h's preserve_access_index would make offsetof()
 * a CO-RE relocation.
 */
#define IPH_CHECK_OFF __builtin_offsetof(struct iphdr, check)
#define IPH_ADDR_OFF(dir) ((dir) == NAT_SRC ? __builtin_offsetof(struct iphdr, saddr) \
					    : __builtin_offsetof(struct iphdr, daddr))

/*
 * Source (OUT) or destination (IN) NAT of one packet: address, port and the
 * IP and L4 checksums. Later fragments have no L4 header to touch.
 */
static __always_inline int nat_rewrite(xwan_ctx *ctx, const struct pkt *p, enum nat_dir dir,
				       __be32 addr, __be16 port)
{
	int src = dir == NAT_SRC;
	__u32 addr_off = p->l3_off + IPH_ADDR_OFF(dir);
	__u32 port_off = src ? p->sport_off : p->dport_off;
	__be32 old_addr = src ? p->key.saddr : p->key.daddr;
	__be16 old_port = src ? p->key.sport : p->key.dport;
	__u64 mangled = p->udp ? BPF_F_MARK_MANGLED_0 : 0;

	if (p->frag != FRAG_LATER) {
		if (nat_store_port(ctx, p->csum_off, port_off, old_port, port, mangled))
			return -1;
		if (p->l4_pseudo && old_addr != addr &&
		    ctx_l4_csum_replace(ctx, p->csum_off, old_addr, addr,
					mangled | BPF_F_PSEUDO_HDR | sizeof(addr)))
			return -1;
	}
	if (old_addr != addr) {
		if (ctx_l3_csum_replace(ctx, p->l3_off + IPH_CHECK_OFF, old_addr, addr,
					sizeof(addr)))
			return -1;
		if (ctx_store32(ctx, addr_off, addr))
			return -1;
	}
	return 0;
}

/* New LAN flows and host sessions, over everything above. */
#include "admit.h"

#endif /* XWAN_NAT_H */
