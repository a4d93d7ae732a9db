/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The birth of a flow entry (flow_install, the one place), the old entry
 * a new flow's key may still hold cleared first, and the counters a new
 * flow moves. Used by LAN flows (admit.h), port forwards and mappings.
 */
#ifndef XWAN_FLOW_INSTALL_H
#define XWAN_FLOW_INSTALL_H

#include "flow.h"

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

/*
 * The entry at k of a flow this packet just made: in flows_new, unless
 * another CPU made the flow first and its answer promoted it since (the
 * answered table is looked up only then).
 */
static __always_inline struct flow_entry *flow_get_new(const struct flow_key *k)
{
	struct flow_entry *fe = bpf_map_lookup_elem(&flows_new, k);

	return fe ? fe : bpf_map_lookup_elem(&flows, k);
}

/* The OUT entry flow_admit just published, as it was published. */
static __always_inline struct flow_entry *flow_admitted(void)
{
	__u32 zero = 0;
	struct admit_scratch *sc = bpf_map_lookup_elem(&admit_scratch, &zero);

	return sc ? &sc->out : NULL;
}

/*
 * A packet accounted in its new flow (flow_admit) that goes to the kernel
 * after all, where tc accounts it again: take it back.
 */
static __always_inline void flow_untrack(const struct pkt *p)
{
	struct flow_entry *fe = flow_get_new(&p->key);

	if (fe && fe->packets) {
		fe->packets -= 1;
		fe->bytes -= p->len;
	}
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
static __attribute__((noinline)) void flow_clear_old(const struct xwan_settings *s,
						     const struct pkt *p, __u64 now)
{
	struct flow_entry *old = flow_get(&p->key);

	if (old && (flow_reopened(old, p) || old->dir != FLOW_DIR_OUT ||
		    flow_reclaimable(s, old, &p->key, now))) {
		flow_remove(&p->key, old);
		count_event(EV_FLOW_REPLACED);
	}
}

#endif /* XWAN_FLOW_INSTALL_H */
