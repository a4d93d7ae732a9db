/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The agent's /metrics endpoint (libmicrohttpd, its own thread: a scrape
 * that walks a big flow table never delays a probe) and the node_exporter
 * textfile. Both render loader/stats.c's exposition from the maps.
 */
#ifndef XWAN_METRICS_H
#define XWAN_METRICS_H

#include <stddef.h>

#include "../loader/maps.h"

struct metrics_server;

/* listen: "addr:port" (IPv4). */
struct metrics_server *metrics_start(const char *listen, const struct xwan_maps *m,
				     char *err, size_t errlen);
void metrics_stop(struct metrics_server *s);

/* Write the exposition to path atomically (temp file + rename). */
int metrics_write_textfile(const char *path, const struct xwan_maps *m);

#endif /* XWAN_METRICS_H */
