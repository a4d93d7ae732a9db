/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* The flow table seen from userspace: scan, print, reclaim. */
#ifndef XWAN_FLOWS_H
#define XWAN_FLOWS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "maps.h"

/*
 * One flow: its LAN->WAN entry and, when present, its reply entry; or a
 * session of the host itself (local), whose only entry is keyed by the reply
 * tuple (map_key) and whose `out` is that entry; or an orphan: a reply entry
 * whose LAN side the LRU evicted (`out` is that reply entry; never live).
 */
struct xwan_flow {
	struct flow_key key;    /* the tuple as it left its origin */
	struct flow_key map_key;
	struct flow_entry out;
	struct flow_entry in;
	int table;              /* XM_FLOWS (answered) or XM_FLOWS_NEW (not yet) */
	bool has_in;
	bool local;
	bool orphan;            /* half a flow: the LRU evicted the other half */
	bool live;              /* within its timeout in at least one direction */
};

typedef int (*xwan_flow_cb)(const struct xwan_flow *f, void *ctx);

/* Call cb for every flow (OUT entry) in both tables, and for every leftover
 * half; cb returning <0 stops. */
int xwan_flow_scan(const struct xwan_maps *m, xwan_flow_cb cb, void *ctx);

uint64_t xwan_now_ns(void);     /* the dataplane's clock (CLOCK_MONOTONIC) */

struct xwan_flows_filter {
	uint32_t client;        /* network order, 0 = any */
	int gw;                 /* -1 = any */
	bool all;               /* include expired flows */
	bool json;
	unsigned limit;         /* print the first `limit` that match; 0: all */
};

/* Returns how many flows matched (printed or not), or -errno. */
int xwan_flows_print(const struct xwan_maps *m, const struct xwan_flows_filter *f, FILE *out);

/* Live flows, in total and per gateway index: what the metrics report. */
struct xwan_flow_counts {
	uint64_t total;
	uint64_t unreplied;     /* in the table of flows not answered yet */
	uint64_t per_gw[XWAN_MAX_GATEWAYS];
	uint64_t nat_per_gw[XWAN_MAX_GATEWAYS];
	uint64_t at_unix;       /* when counted (0: never) */
	uint64_t took_ns;       /* how long the pass over the table took */
};

/* Count f into c (one rule for the scrape and the sweep). */
void xwan_flow_count(struct xwan_flow_counts *c, const struct xwan_flow *f);

/* Count every flow of the table (a full scan). */
int xwan_flows_count(const struct xwan_maps *m, struct xwan_flow_counts *c);

/*
 * Delete dead flows (both entries) and keep the sticky bindings of clients
 * with live flows fresh; returns the number of flows removed. With counts,
 * the same pass also counts the live flows (the agent's metrics read those
 * instead of scanning the table per scrape).
 */
int xwan_flows_gc(const struct xwan_maps *m);
int xwan_flows_gc_counted(const struct xwan_maps *m, struct xwan_flow_counts *counts);

/*
 * Delete the flows on gateway index `gw` that belong to the groups in
 * group_mask (bit per group index); pinned flows (no group) follow
 * `pinned`. TCP clients get a RST when `rst`. Returns the number of flows
 * removed (resets in *resets), or -errno.
 */
int xwan_flows_flush(const struct xwan_maps *m, int gw, uint32_t group_mask, bool pinned,
		     bool rst, int *resets);

/*
 * Who must hear of every flow this process deletes (gc, flushes): the HA
 * agent, whose peer would keep the flows otherwise (the dataplane reports
 * only its own deletions). fn gets the key of the entry deleted (its other
 * half goes with it) and may run on any thread. NULL: nobody.
 */
typedef void (*xwan_flow_deleted_fn)(void *ctx, const struct flow_key *key);
void xwan_flows_on_delete(xwan_flow_deleted_fn fn, void *ctx);

/* Tell the dataplane n flows were deleted from userspace. */
void xwan_flow_gauge_sub(const struct xwan_maps *m, uint64_t n, uint64_t unreplied);

/* nat, forward, bypass, drop, routed or host. */
const char *xwan_flow_kind(const struct xwan_flow *f);

const char *xwan_flow_state_name(uint8_t proto, uint8_t state);

#endif /* XWAN_FLOWS_H */
