/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef XWAN_STATS_H
#define XWAN_STATS_H

#include "maps.h"

/* One more at idx of a per-CPU counter array (verdicts, verdicts6, events). */
static __always_inline void count_at(void *map, __u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(map, &idx);

	if (v)
		*v += 1;
}

static __always_inline void count_verdict(__u32 hook, __u32 verdict)
{
	count_at(&verdicts, XWAN_VERDICT_IDX(hook, verdict));
}

/* The same verdict of an IPv6 packet (issue 13: its own counters). */
static __always_inline void count_verdict6(__u32 hook, __u32 verdict)
{
	count_at(&verdicts6, XWAN_VERDICT_IDX(hook, verdict));
}

static __always_inline void count_event(__u32 ev)
{
	count_at(&events, ev);
}

static __always_inline struct gw_counters *gw_counters(__u32 gw)
{
	return bpf_map_lookup_elem(&gw_stats, &gw);
}

/* A packet forwarded through gateway gw, LAN to WAN (out) or back (in). */
static __always_inline void gw_counters_add(struct gw_counters *gc, __u32 len, int out)
{
	if (!gc)
		return;
	if (out) {
		gc->pkts_out += 1;
		gc->bytes_out += len;
	} else {
		gc->pkts_in += 1;
		gc->bytes_in += len;
	}
}

static __always_inline void count_gw_packet(__u32 gw, __u32 len, int out)
{
	gw_counters_add(gw_counters(gw), len, out);
}

/* An IPv6 packet through gateway gw (gw_stats6). */
static __always_inline void count_gw6_packet(__u32 gw, __u32 len, int out)
{
	gw_counters_add(bpf_map_lookup_elem(&gw_stats6, &gw), len, out);
}

#endif /* XWAN_STATS_H */
