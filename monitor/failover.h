/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Failover decisions: from each gateway's status to which gateways every
 * group may use, and what happens to flows when a gateway dies or returns.
 * Pure decisions (failover_usable) are kept apart from the actions on maps.
 */
#ifndef XWAN_FAILOVER_H
#define XWAN_FAILOVER_H

#include <stdbool.h>
#include <stdint.h>

#include "../loader/config.h"
#include "../loader/maps.h"
#include "../loader/sync.h"

/*
 * Each WAN is judged per address family: up for IPv4 and down for IPv6 is a
 * state of its own (issue 13). One rule for both: the same health code, the
 * same group decisions, over each family's verdicts.
 */
enum xwan_family {
	XWAN_FAM_IPV4 = 0,
	XWAN_FAM_IPV6 = 1,
	XWAN_FAMILIES
};

/* "ipv4", "ipv6": the metrics' family label and the views' word. */
const char *xwan_family_name(int fam);

/* Does WAN w carry family fam at all? IPv4: always; IPv6: with gateway6. */
bool failover_wan_has_family(const struct xwan_config *cfg, int w, int fam);

struct gw_verdict {
	uint8_t status;         /* enum gw_status */
	bool loss_alert;        /* loss at or above its warning threshold */
	bool latency_alert;     /* rtt at or above its warning threshold */
};

/*
 * usable[g][w]: a member leaves group g when its status is down, or when
 * the group's trigger names an alert it has (pfSense's trigger levels). A
 * pending gateway is not used, except while no member of the group has a
 * decided status yet (start-up), so the router forwards from the first
 * second. any[w]: usable by at least one group (the dataplane's flag).
 */
void failover_usable(const struct xwan_config *cfg, const struct gw_verdict *v,
		     xwan_usable_t usable, bool *any);

/*
 * The same for one family's verdicts: a member whose WAN does not carry the
 * family is never usable and has no say in "decided" (an IPv4-only WAN
 * neither takes IPv6 flows nor keeps a pending IPv6 member out).
 */
void failover_usable_family(const struct xwan_config *cfg, int fam, const struct gw_verdict *v,
			    xwan_usable_t usable, bool *any);

/* Write statuses and usability into gateways and slot tables. */
int failover_install(const struct xwan_config *cfg, const struct xwan_host *h,
		     const struct xwan_maps *m, const struct gw_verdict *v,
		     const xwan_usable_t usable, const bool *any);

/*
 * IPv6's: its slot tables from usable6 (loader/sync6.c). v6 and any6 are
 * IPv6's verdicts and usability, indexed like cfg->wans.
 */
int failover_install6(const struct xwan_config *cfg, const struct xwan_host *h,
		      const struct xwan_maps *m, const struct gw_verdict *v6,
		      const xwan_usable_t usable6, const bool *any6);

/* The gateway the host's own traffic should use: best of the default group. */
int failover_default_gateway(const struct xwan_config *cfg, const xwan_usable_t usable);

#endif /* XWAN_FAILOVER_H */
