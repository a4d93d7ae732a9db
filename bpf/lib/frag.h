/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * IPv4 fragments. Later fragments carry no ports: they follow the flow the
 * first fragment matched, remembered by (source, destination, id, protocol)
 * for as long as the kernel would wait to reassemble them.
 *
 * A later fragment that comes before its first (RFC 4787 REQ-14) has no
 * flow to follow yet. XDP passes it to tc, which keeps a copy in frag_hold
 * (a few per datagram, a bounded LRU table for all) and drops the original.
 * When the first fragment comes, tc re-injects it into the same device's
 * ingress, then each held fragment after it: on that second pass the first
 * fragment opens or finds its flow like any packet, and the held ones follow
 * it. Held copies older than the reassembly time are never released.
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

/* LRU: a flood of orphan fragments evicts old copies, it cannot grow this. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, XWAN_FRAG_HOLD_ENTRIES);
	__type(key, struct frag_hold_key);
	__type(value, struct frag_held);
} frag_hold SEC(".maps");

/* A held copy is bigger than the BPF stack: it is built here. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct frag_held);
} frag_scratch SEC(".maps");

/* The held copy in one slot, NULL when none or expired (then removed). */
static __always_inline struct frag_held *frag_held_at(struct frag_hold_key *hk, __u64 now)
{
	struct frag_held *h = bpf_map_lookup_elem(&frag_hold, hk);

	if (h && age_exceeds(now, h->seen_ns, XWAN_FRAG_TIMEOUT_NS)) {
		bpf_map_delete_elem(&frag_hold, hk);
		count_event(EV_FRAG_HOLD_EXPIRED);
		return NULL;
	}
	return h;
}

/* Does this first fragment's datagram have later fragments held? */
static __always_inline int frag_has_held(const struct pkt *p, __u64 now)
{
	struct frag_hold_key hk = { .slot = 0 };

	if (p->frag != FRAG_FIRST)
		return 0;
	frag_key_of(p, &hk.fk);
	for (__u32 i = 0; i < XWAN_FRAG_HOLD_SLOTS; i++) {
		hk.slot = i;
		if (frag_held_at(&hk, now))
			return 1;
	}
	return 0;
}

#ifdef XWAN_HOOK_TC
/* A packet tc took: held, or re-injected with what was held. */
static __always_inline int frag_consumed(__u32 hook, __u32 verdict)
{
	count_verdict(hook, verdict);
	return TC_ACT_SHOT;
}

/*
 * Keep a copy of a later fragment that has no flow yet: 0 when held (the
 * caller drops the original), -1 when it cannot be (no free slot for its
 * datagram, too big, not on an Ethernet device), counted.
 */
static __always_inline int frag_hold_put(struct __sk_buff *skb, const struct pkt *p, __u64 now)
{
	struct frag_hold_key hk = { .slot = 0 };
	__u32 zero = 0, len = ctx_len(skb);
	struct frag_held *h;

	struct frag_key fk;

	if (p->frag != FRAG_LATER)
		return -1;
	/* Its first fragment came (a re-injected one's did): not early, late. */
	frag_key_of(p, &fk);
	if (bpf_map_lookup_elem(&frags, &fk))
		return -1;
	h = bpf_map_lookup_elem(&frag_scratch, &zero);
	if (!h || p->l3_off != ETH_HLEN || len < ETH_HLEN + 20 || len > XWAN_FRAG_HOLD_BYTES ||
	    bpf_skb_load_bytes(skb, 0, h->data, len)) {
		count_event(EV_FRAG_HOLD_DROPPED);
		return -1;
	}
	h->len = len;
	h->seen_ns = now;
	frag_key_of(p, &hk.fk);
	for (__u32 i = 0; i < XWAN_FRAG_HOLD_SLOTS; i++) {
		hk.slot = i;
		if (frag_held_at(&hk, now))
			continue;
		/* NOEXIST: another CPU holding a fragment of the same datagram. */
		if (!bpf_map_update_elem(&frag_hold, &hk, h, BPF_NOEXIST)) {
			count_event(EV_FRAG_HELD);
			return 0;
		}
	}
	count_event(EV_FRAG_HOLD_DROPPED);
	return -1;
}

/* Turn the skb into a held fragment's frame and re-inject it. */
static __always_inline int frag_reinject(struct __sk_buff *skb, struct frag_held *h, __u32 ifindex)
{
	__u32 len = h->len;

	if (len < ETH_HLEN + 20 || len > XWAN_FRAG_HOLD_BYTES)
		return -1;
	if (bpf_skb_change_tail(skb, len, 0) ||
	    bpf_skb_store_bytes(skb, 0, h->data, len, BPF_F_RECOMPUTE_CSUM))
		return -1;
	return bpf_clone_redirect(skb, ifindex, BPF_F_INGRESS) ? -1 : 0;
}

/*
 * A first fragment whose later fragments are held: re-inject it, then them,
 * into this device's ingress, in that order (the backlog keeps it), so the
 * first one's second pass makes the frag entry the others follow. Returns 1
 * when the skb was used up so (the caller drops it), 0 to go on as usual.
 */
static __always_inline int frag_release(struct __sk_buff *skb, const struct pkt *p, __u64 now)
{
	__u32 ifindex = ctx_ifindex(skb);
	struct frag_hold_key hk = { .slot = 0 };
	struct frag_entry fe = {};
	struct frag_held *h;

	if (p->l3_off != ETH_HLEN || !frag_has_held(p, now))
		return 0;
	if (bpf_clone_redirect(skb, ifindex, BPF_F_INGRESS))
		return 0;   /* the first fragment goes on; the held ones expire */
	/*
	 * Seen: the held ones are not held again on their second pass, even
	 * when the first opens no flow (the host's own, or dropped).
	 */
	fe.flow = p->key;
	fe.seen_ns = now;
	frag_key_of(p, &hk.fk);
	bpf_map_update_elem(&frags, &hk.fk, &fe, BPF_NOEXIST);
	for (__u32 i = 0; i < XWAN_FRAG_HOLD_SLOTS; i++) {
		hk.slot = i;
		h = frag_held_at(&hk, now);
		if (!h)
			continue;
		count_event(frag_reinject(skb, h, ifindex) ? EV_FRAG_HOLD_DROPPED
							    : EV_FRAG_RELEASED);
		bpf_map_delete_elem(&frag_hold, &hk);
	}
	return 1;
}
#endif /* XWAN_HOOK_TC */

#endif /* XWAN_FRAG_H */
