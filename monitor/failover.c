// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include "failover.h"

#include <bpf/bpf.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "../loader/flows.h"
#include "../loader/sync6.h"

static bool trigger_excludes(enum xwan_trigger t, const struct gw_verdict *v)
{
	switch (t) {
	case XWAN_TRIGGER_PACKET_LOSS:
		return v->loss_alert;
	case XWAN_TRIGGER_HIGH_LATENCY:
		return v->latency_alert;
	case XWAN_TRIGGER_LOSS_OR_LATENCY:
		return v->loss_alert || v->latency_alert;
	case XWAN_TRIGGER_MEMBER_DOWN:
		break;
	}
	return false;
}

const char *xwan_family_name(int fam)
{
	return fam == XWAN_FAM_IPV6 ? "ipv6" : "ipv4";
}

bool failover_wan_has_family(const struct xwan_config *cfg, int w, int fam)
{
	return fam != XWAN_FAM_IPV6 || cfg->wans[w].v6.enabled;
}

void failover_usable(const struct xwan_config *cfg, const struct gw_verdict *v,
		     xwan_usable_t usable, bool *any)
{
	failover_usable_family(cfg, XWAN_FAM_IPV4, v, usable, any);
}

void failover_usable_family(const struct xwan_config *cfg, int fam, const struct gw_verdict *v,
			    xwan_usable_t usable, bool *any)
{
	memset(usable, 0, sizeof(xwan_usable_t));
	memset(any, 0, sizeof(bool) * XWAN_MAX_GATEWAYS);
	for (int g = 0; g < cfg->n_groups; g++) {
		const struct xwan_group *grp = &cfg->groups[g];
		bool decided = false;

		/*
		 * Pending members take flows until another member is known good: a
		 * member that is down (an ISP dead at boot, a WAN without its lease)
		 * must not leave the group with nothing while the rest is probed.
		 */
		for (int i = 0; i < grp->n_members; i++) {
			uint8_t st = v[grp->members[i].wan].status;

			if (failover_wan_has_family(cfg, grp->members[i].wan, fam))
				decided |= st != GW_STATUS_PENDING && st != GW_STATUS_DOWN;
		}
		for (int i = 0; i < grp->n_members; i++) {
			int w = grp->members[i].wan;
			const struct gw_verdict *gv = &v[w];
			bool ok;

			if (!failover_wan_has_family(cfg, w, fam))
				ok = false;
			else if (gv->status == GW_STATUS_PENDING)
				ok = !decided;
			else
				ok = gv->status != GW_STATUS_DOWN && !trigger_excludes(grp->trigger, gv);
			usable[g][w] = ok;
			any[w] |= ok;
		}
	}
}

int failover_install(const struct xwan_config *cfg, const struct xwan_host *h,
		     const struct xwan_maps *m, const struct gw_verdict *v,
		     const xwan_usable_t usable, const bool *any)
{
	uint8_t status[XWAN_MAX_GATEWAYS];
	int rc;

	for (int w = 0; w < cfg->n_wans; w++)
		status[w] = v[w].status;
	/*
	 * Slot tables first: once they no longer name a gateway, clearing its
	 * usable flag cannot race a new flow into it. A returning gateway is
	 * named by a table a moment before its flag is set; a new flow that
	 * meets the flag still clear tries the next member (nat.h), so this
	 * order is safe both ways.
	 */
	rc = xwan_install_groups(cfg, m, usable);
	if (rc)
		return rc;
	return xwan_sync_gateways(cfg, h, m, status, any);
}

int failover_install6(const struct xwan_config *cfg, const struct xwan_host *h,
		      const struct xwan_maps *m, const struct gw_verdict *v6,
		      const xwan_usable_t usable6, const bool *any6)
{
	uint8_t status6[XWAN_MAX_GATEWAYS];
	int rc;

	for (int w = 0; w < cfg->n_wans; w++)
		status6[w] = v6[w].status;
	/* Tables first, then the flags, as for IPv4 (failover_install). */
	rc = xwan_install_groups6(cfg, m, usable6);
	return rc ? rc : xwan_sync_gateways6(cfg, h, m, status6, usable6);
}

int failover_default_gateway(const struct xwan_config *cfg, const xwan_usable_t usable)
{
	const struct xwan_group *g = &cfg->groups[cfg->default_group];
	int tier = xwan_group_active_tier(cfg, cfg->default_group, usable[cfg->default_group]);
	int best = -1, best_w = -1;

	for (int i = 0; i < g->n_members; i++) {
		const struct xwan_member *mb = &g->members[i];
		int w = xwan_member_weight(cfg, mb);

		if (mb->tier != tier || !usable[cfg->default_group][mb->wan])
			continue;
		if (w > best_w) {
			best = mb->wan;
			best_w = w;
		}
	}
	return best;
}
