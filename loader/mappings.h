/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The NAT mappings (bpf/lib/mapping.h) as `xwan flows` and `xwan explain`
 * show them: a LAN socket, its public address:port, WAN, filtering, flows.
 */
#ifndef XWAN_MAPPINGS_H
#define XWAN_MAPPINGS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "flows.h"
#include "maps.h"

const char *xwan_filtering_name(uint8_t filtering);

/* Is this LAN-side mapping live now (settings' timeouts)? */
bool xwan_mapping_live(const struct nat_map *nm, uint8_t proto, const struct xwan_settings *s,
		       uint64_t now);

/*
 * cb with every mapping's LAN side (only the live ones unless all); cb
 * returns how many it took (added up and returned) or -errno (stops).
 */
int xwan_mappings_each(const struct xwan_maps *m, bool all, uint64_t now,
		       int (*cb)(const struct nat_map_key *k, const struct nat_map *nm, void *ctx),
		       void *ctx);

/* The live mappings that match f (client, WAN), one line each; -errno. */
int xwan_mappings_print(const struct xwan_maps *m, const struct xwan_flows_filter *f,
			const struct xwan_runtime *rt, FILE *out);

#endif /* XWAN_MAPPINGS_H */
