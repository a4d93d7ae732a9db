/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Prometheus text exposition of every dataplane counter. */
#ifndef XWAN_STATS_H
#define XWAN_STATS_H

#include <stdio.h>

#include "maps.h"

/* Optional extra block (the agent's probe metrics), written after ours. */
typedef void (*xwan_metrics_extra)(FILE *out, void *ctx);

struct xwan_flow_counts;

/* Scans the flow table for the flow counts. */
int xwan_stats_write(const struct xwan_maps *m, FILE *out, xwan_metrics_extra extra, void *ctx);

/* With counts taken elsewhere (the agent's sweep), no scan: O(gateways). */
int xwan_stats_write_counted(const struct xwan_maps *m, FILE *out,
			     const struct xwan_flow_counts *counts, xwan_metrics_extra extra,
			     void *ctx);

#endif /* XWAN_STATS_H */
