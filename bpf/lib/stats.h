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

/* A packet forwarded through gateway gw, LAN to WAN (out) or back (in). */
static __always_inline void count_gw_packet(__u32 gw, __u32 len, int out)
{
	struct gw_counters *gc = gw_counters(gw);

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

#endif /* XWAN_STATS_H */
