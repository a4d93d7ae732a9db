/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Config + host facts -> map contents. Everything the dataplane reads is
 * written here, and only here.
 */
#ifndef XWAN_SYNC_H
#define XWAN_SYNC_H

#include <stdbool.h>

#include "config.h"
#include "host.h"
#include "maps.h"

/* The mark that routes a flow of gateway `gw` to its table. */
uint32_t xwan_gw_fwmark(uint32_t mask, int gw);

/*
 * Arrays indexed like cfg->wans (status[w], usable[w], usable[group][w]);
 * what reaches the maps is keyed by the dataplane index cfg->wans[w].gw.
 */
int xwan_sync_all(const struct xwan_config *cfg, const struct xwan_host *h,
		  const struct xwan_maps *m, const uint8_t *status, const bool *usable,
		  char *err, size_t errlen);

int xwan_sync_gateways(const struct xwan_config *cfg, const struct xwan_host *h,
		       const struct xwan_maps *m, const uint8_t *status, const bool *usable);

/*
 * Which gateways each group may give new flows to: groups differ because
 * each has its own trigger (a gateway with loss may leave a "packet-loss"
 * group but stay in a "member-down" one).
 */
typedef bool xwan_usable_t[XWAN_MAX_GROUPS][XWAN_MAX_GATEWAYS];

/*
 * Rebuild every group's slot table from the usable members of its best tier
 * and flip it in atomically. Returns 0 or -errno.
 */
int xwan_install_groups(const struct xwan_config *cfg, const struct xwan_maps *m,
			const xwan_usable_t usable);

/*
 * The same into the given groups and slot-table maps: IPv4's (above) or
 * IPv6's (sync6.h), one rule for both families.
 */
int xwan_install_group_tables(const struct xwan_config *cfg, int groups_fd, int slots_fd,
			      const xwan_usable_t usable);

/* A member's weight in its group: its own, else its WAN's. */
int xwan_member_weight(const struct xwan_config *cfg, const struct xwan_member *mb);

/* The tier a group uses now (its best tier with a usable member), 0: none. */
int xwan_group_active_tier(const struct xwan_config *cfg, int group, const bool *usable);

/* Read gateway index gw's MAC from the neighbour table into gw_neigh, asking
 * the kernel to resolve it if unknown (waits up to wait_ms). */
int xwan_sync_neigh(const struct xwan_maps *m, int gw, int ifindex, uint32_t nexthop,
		    int wait_ms);

#endif /* XWAN_SYNC_H */
