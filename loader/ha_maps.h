/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Flows to and from HA sync records (monitor/ha_wire.h): what is local to a
 * router (interface indexes, its own MACs, MTUs, its clock, the dataplane's
 * gateway numbering) is carried as the position of the LAN or WAN in the
 * config and as ages, and turned back into this router's values on receipt.
 */
#ifndef XWAN_HA_MAPS_H
#define XWAN_HA_MAPS_H

#include <stdbool.h>

#include "config.h"
#include "host.h"
#include "flows.h"
#include "maps.h"
#include "ha_wire.h"

#define HA_IF_LAN0  1           /* lan[i] is id 1 + i */
#define HA_IF_WAN0  32          /* wan[w] is id 32 + w */
#define HA_IF_IDS   (HA_IF_WAN0 + XWAN_MAX_GATEWAYS)

struct ha_local {
	int ifindex[HA_IF_IDS];         /* by id, 0: none */
	uint8_t mac[HA_IF_IDS][6];
	uint16_t mtu[HA_IF_IDS];
	int gw_of_wan[XWAN_MAX_GATEWAYS];       /* cfg->wans[w].gw */
	int n_wans;
	/* per group: its sticky bindings' key (STICKY_KEY_*), or -1 when not sticky */
	int sticky_key[XWAN_MAX_GROUPS];
};

void ha_local_build(const struct xwan_config *cfg, const struct xwan_host *h,
		    struct ha_local *l);

/*
 * The record of the flow whose entry sits at key (dir: that entry's
 * direction), read from the maps now. 0, or -ENOENT when it is gone or is
 * one of the host's own sessions (those stay with their router).
 */
int ha_rec_read(const struct xwan_maps *m, const struct ha_local *l, const struct flow_key *key,
		uint8_t dir, uint64_t now, struct ha_rec *r);

/*
 * The sticky binding the client of flow record f holds in f's group, as a
 * record. 0, or -ENOENT when the group is not sticky or has no binding.
 */
int ha_sticky_read(const struct xwan_maps *m, const struct ha_local *l, const struct ha_rec *f,
		   uint64_t now, struct ha_rec *r);

/*
 * The NAT mapping of flow record f's LAN socket, as a record, when f is a
 * translated UDP or TCP flow that uses it (its public address:port is the
 * mapping's); f is marked `permit` when the mapping's filtering is
 * address-dependent. 0, or -ENOENT. The mapping goes before the flow:
 * the flow's permit is the mapping's.
 */
int ha_map_read(const struct xwan_maps *m, const struct ha_local *l, struct ha_rec *f,
		uint64_t now, struct ha_rec *r);

/* Write a received record into the flow (or mapping) tables. 0 or -errno. */
int ha_rec_apply(const struct xwan_maps *m, const struct ha_local *l, const struct ha_rec *r,
		 uint64_t now);

/* Call cb with the record of every flow in the tables (a bulk resync). */
int ha_rec_scan(const struct xwan_maps *m, const struct ha_local *l, uint64_t now,
		void (*cb)(void *ctx, const struct ha_rec *r), void *ctx);

/* ... and of every live NAT mapping; returns how many, or -errno. */
int ha_map_scan(const struct xwan_maps *m, const struct ha_local *l, uint64_t now,
		void (*cb)(void *ctx, const struct ha_rec *r), void *ctx);

#endif /* XWAN_HA_MAPS_H */
