/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Gateway choice for a new flow: a slot table per group, filled by
 * userspace from the members' tiers and weights (Maglev for hash, a smooth
 * weighted sequence for round robin). The dataplane only indexes it.
 */
#ifndef XWAN_GW_SELECT_H
#define XWAN_GW_SELECT_H

#include "maps.h"
#include "../xwan_hash.h"

/* A group's active slot bank, in one family's maps (groups/gw_slots, or IPv6's). */
static __always_inline struct gw_slot_table *group_table_of(void *groups_map, void *slots_map,
							    __u32 group)
{
	struct gw_group *gi = bpf_map_lookup_elem(groups_map, &group);
	__u32 idx;

	if (!gi)
		return NULL;
	idx = xwan_slot_key(group, gi->active);
	return bpf_map_lookup_elem(slots_map, &idx);
}

static __always_inline struct gw_slot_table *group_table(__u32 group)
{
	return group_table_of(&groups, &gw_slots, group);
}

/* The slot position of a new flow: its hash, or the next round-robin turn. */
static __always_inline __u32 group_position(const struct gw_slot_table *t, __u32 group,
					    const struct flow_key *k)
{
	__u32 *rr;

	if (t->method == GROUP_METHOD_ROUND_ROBIN) {
		rr = bpf_map_lookup_elem(&rr_pos, &group);
		if (!rr)
			return 0;
		return (*rr)++;
	}
	return xwan_flow_hash(k->saddr, k->daddr, k->sport, k->dport, k->proto,
			      t->hash_fields, t->seed);
}

/* Gateway at a slot position (attempt n looks n slots further). */
static __always_inline __u32 slot_gateway(const struct gw_slot_table *t, __u32 pos)
{
	__u32 n = t->nslots, i;

	if (n == 0 || n > XWAN_SLOTS)
		return XWAN_GW_NONE;
	i = pos % n;
	barrier_var(i);
	if (i >= XWAN_SLOTS)
		return XWAN_GW_NONE;
	return t->slot[i];
}

#endif /* XWAN_GW_SELECT_H */
