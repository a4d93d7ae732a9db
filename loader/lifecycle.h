/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Bringing the dataplane up and down as a whole. */
#ifndef XWAN_LIFECYCLE_H
#define XWAN_LIFECYCLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "maps.h"

struct xwan_up_opts {
	bool allow_generic;     /* fall back to generic XDP (with a warning) */
	bool quiet;
};

/*
 * Load, fill, pin, route and attach. On failure nothing stays attached or
 * changed. On success m holds fds of the live maps (caller closes).
 */
int xwan_up(const struct xwan_config *cfg, const char *pin_dir,
	    const struct xwan_up_opts *o, struct xwan_maps *m, char *err, size_t errlen);

/* Is an xwan dataplane attached in this namespace or pinned at pin_dir? */
bool xwan_is_running(const char *pin_dir, char *where, size_t len);

/*
 * Give every WAN of cfg the gateway index it has in the running dataplane
 * (matched by name); new WANs take free indices. Returns how many WANs are
 * new; *gone gets a mask of indices whose WAN the config no longer has.
 */
int xwan_assign_gateways(struct xwan_config *cfg, const struct xwan_runtime *rt,
			 uint32_t *gone);

struct xwan_host;
/* A WAN's connected route and source rule in its table (the agent redoes
 * it when the WAN's address changes). */
int wan_source_routing(const struct xwan_config *cfg, const struct xwan_host *h, int w,
		       struct xwan_runtime *rt);

/*
 * Re-evaluating one WAN when the host changes (address, next hop, link):
 * its routes in its table (default via the next hop or the device, source
 * rule) and its gateway's MAC. Each is safe to call again and again.
 */
int xwan_wan_routes(const struct xwan_config *cfg, const struct xwan_host *h, int w,
		    struct xwan_runtime *rt);
int xwan_wan_neigh(const struct xwan_maps *m, const struct xwan_config *cfg,
		   const struct xwan_host *h, int w, int wait_ms);

struct xwan_reload_result {
	uint32_t gone;          /* gateway indices whose WAN left the config */
	int added;              /* WANs new to the dataplane */
	int flushed;            /* flows of the WANs that left */
	int resets;             /* TCP clients reset */
};

/*
 * Apply a validated config to the running dataplane without touching the
 * flows of the WANs it keeps: weights, tiers, rules, groups, forwards and
 * timeouts apply to new flows; a WAN that left has its flows flushed (RST)
 * and its interface, table and rules removed; new WANs and LANs are
 * attached. Assigns cfg->wans[w].gw. status/usable (indexed like cfg->wans)
 * may be NULL: then kept gateways keep what the maps say, new ones start
 * pending and usable. Returns 0, or -errno with err set.
 */
int xwan_reload(struct xwan_config *cfg, const char *pin_dir, const uint8_t *status,
		const bool *usable, struct xwan_reload_result *res, char *err, size_t errlen);

/* Group and rule names, for the views. */
void xwan_runtime_names(const struct xwan_config *cfg, struct xwan_runtime *rt);

/* Detach everything `up` did, from the runtime record. Not running: 1. */
int xwan_down(const char *pin_dir, bool quiet, char *err, size_t errlen);

#endif /* XWAN_LIFECYCLE_H */
