/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * IPv4 fragments. Later fragments carry no ports: they follow the flow the
 * first fragment matched, remembered by (source, destination, id, protocol)
 * for as long as the kernel would wait to reassemble them.
 */
#ifndef XWAN_FRAG_H
#define XWAN_FRAG_H

#include "clock.h"
#include "flow.h"

/* As the kernel's net.ipv4.ipfrag_time (RFC 791 suggests 15 s at least). */
#define XWAN_FRAG_TIMEOUT_NS (30ULL * 1000 * 1000 * 1000)

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

/*
 * The frag entry of a later fragment, NULL when there is none or it
 * expired: an IP id is reused after 65536 datagrams, and a stale entry
 * would send a new datagram's fragments along an old flow.
 */
static __always_inline struct frag_entry *frag_entry_of(const struct pkt *p, __u64 now)
{
	struct frag_entry *fr;
	struct frag_key fk;

	frag_key_of(p, &fk);
	fr = bpf_map_lookup_elem(&frags, &fk);
	if (!fr)
		return NULL;
	if (age_exceeds(now, fr->seen_ns, XWAN_FRAG_TIMEOUT_NS)) {
		bpf_map_delete_elem(&frags, &fk);
		return NULL;
	}
	return fr;
}

/* The flow entry a later fragment belongs to, or NULL. */
static __always_inline struct flow_entry *frag_follow(const struct pkt *p, __u64 now)
{
	struct frag_entry *fr = frag_entry_of(p, now);
	struct flow_entry *fe;

	if (!fr)
		return NULL;
	fe = flow_get(&fr->flow);
	if (fe)
		count_event(EV_FRAG_FOLLOWED);
	return fe;
}

#endif /* XWAN_FRAG_H */
