/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The agent's /metrics endpoint (libmicrohttpd, its own thread: a scrape
 * that walks a big flow table never delays a probe) and the node_exporter
 * textfile. Both render loader/stats.c's exposition from the maps.
 */
#ifndef XWAN_METRICS_H
#define XWAN_METRICS_H

#include <stddef.h>

#include "../loader/flows.h"
#include "../loader/maps.h"
#include "../loader/stats.h"

struct metrics_server;
struct http_ui;

/*
 * The flow counts a scrape reports, from the agent's last sweep: a scrape
 * then costs O(gateways), not a walk of the flow table. Called on the HTTP
 * thread; false: no counts yet (the scrape then scans).
 */
typedef bool (*metrics_counts_fn)(void *ctx, struct xwan_flow_counts *c);

/* listen: "addr:port" (IPv4); ui: the status page's token and history (monitor/http.h). */
struct metrics_server *metrics_start(const char *listen, const struct xwan_maps *m,
				     metrics_counts_fn counts, void *counts_ctx,
				     xwan_metrics_extra extra, void *extra_ctx,
				     const struct http_ui *ui, char *err, size_t errlen);
void metrics_stop(struct metrics_server *s);

/* Write the exposition to path atomically (temp file + rename); counts NULL: scan. */
int metrics_write_textfile(const char *path, const struct xwan_maps *m,
			   const struct xwan_flow_counts *counts, xwan_metrics_extra extra,
			   void *extra_ctx);

#endif /* XWAN_METRICS_H */
