/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef XWAN_STATS_H
#define XWAN_STATS_H

#include "maps.h"

static __always_inline void count_verdict(__u32 hook, __u32 verdict)
{
	__u32 idx = XWAN_VERDICT_IDX(hook, verdict);
	__u64 *v = bpf_map_lookup_elem(&verdicts, &idx);

	if (v)
		*v += 1;
}

static __always_inline void count_event(__u32 ev)
{
	__u64 *v = bpf_map_lookup_elem(&events, &ev);

	if (v)
		*v += 1;
}

static __always_inline struct gw_counters *gw_counters(__u32 gw)
{
	return bpf_map_lookup_elem(&gw_stats, &gw);
}

#endif /* XWAN_STATS_H */
