/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * IPv6 (issue 13): config + host facts -> the IPv6 maps (bpf/lib/maps.h,
 * the "6" ones) and each WAN's IPv6 routing for the kernel path. The IPv4
 * side (sync.h) is untouched; both families share the groups' rules
 * (tiers, weights, methods: xwan_install_group_tables) and the WANs' marks
 * and tables.
 */
#ifndef XWAN_SYNC6_H
#define XWAN_SYNC6_H

#include <stdbool.h>

#include "config.h"
#include "host.h"
#include "maps.h"
#include "sync.h"

/*
 * Rebuild every group's IPv6 slot table from the usable members of its best
 * tier, per IPv6 usability (usable6[group][w], indexed like cfg->wans), and
 * flip it in atomically: the same tables IPv4 gets from the same usability.
 * A WAN without gateway6 is never given IPv6 flows, whatever usable6 says,
 * nor one whose nat6 is not npt (none: by source prefix only; masquerade:
 * not in the dataplane yet).
 * Returns 0 or -errno.
 */
int xwan_install_groups6(const struct xwan_config *cfg, const struct xwan_maps *m,
			 const xwan_usable_t usable6);

/*
 * Everything IPv6 the dataplane reads: gateways6 (next hop, NPT maps, mark),
 * prefix6 (host addresses, LAN, NPT outside and delegated prefixes), lan_nets6
 * (anti-spoofing), the IPv6 slot tables; and each IPv6 WAN's fwmark rule and
 * routes in its table. status[w] and usable6 as in xwan_sync_all. Returns 0
 * or -errno; err names what failed.
 */
int xwan_sync6_all(const struct xwan_config *cfg, const struct xwan_host *h,
		   const struct xwan_maps *m, const uint8_t *status,
		   const xwan_usable_t usable6);

/*
 * gateways6 alone: each WAN's IPv6 status and usability (status6[w], the
 * groups' usable6) with its host facts, as the agent decides them per family
 * (monitor/failover.c). Returns 0 or -errno.
 */
int xwan_sync_gateways6(const struct xwan_config *cfg, const struct xwan_host *h,
			const struct xwan_maps *m, const uint8_t *status6,
			const xwan_usable_t usable6);

/* Remove xwan's IPv6 rules and per-WAN table routes (xwan down). */
int xwan_routes6_flush(uint32_t rule_priority, uint32_t table_base);

/*
 * nat6: none: the LAN prefix that is WAN w's (delegated by its ISP): the LAN
 * network sharing the longest prefix (at least /32) with w's gateway6 or
 * global address, NULL when none does.
 */
const struct xwan_cidr6 *xwan_wan6_delegated(const struct xwan_config *cfg,
					     const struct xwan_host *h, int w);

#endif /* XWAN_SYNC6_H */
