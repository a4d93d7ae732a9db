// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include "failover.h"

#include <bpf/bpf.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "../loader/flows.h"
#include "rst.h"

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

void failover_usable(const struct xwan_config *cfg, const struct gw_verdict *v,
		     xwan_usable_t usable, bool *any)
{
	memset(usable, 0, sizeof(xwan_usable_t));
	memset(any, 0, sizeof(bool) * XWAN_MAX_GATEWAYS);
	for (int g = 0; g < cfg->n_groups; g++) {
		const struct xwan_group *grp = &cfg->groups[g];
		bool decided = false;

		for (int i = 0; i < grp->n_members; i++)
			decided |= v[grp->members[i].wan].status != GW_STATUS_PENDING;
		for (int i = 0; i < grp->n_members; i++) {
			int w = grp->members[i].wan;
			const struct gw_verdict *gv = &v[w];
			bool ok;

			if (gv->status == GW_STATUS_PENDING)
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
	 * usable flag cannot race a new flow into it; when a gateway returns the
	 * flag is set before any table names it, for the same reason.
	 */
	rc = xwan_install_groups(cfg, m, usable);
	if (rc)
		return rc;
	return xwan_sync_gateways(cfg, h, m, status, any);
}

struct flush_ctx {
	int gw;
	uint32_t group_mask;
	bool pinned;
	struct xwan_flow *doomed;
	int n, cap;
};

static int pick(const struct xwan_flow *f, void *data)
{
	struct flush_ctx *c = data;
	bool mine;

	if (f->local || f->out.gw != c->gw)
		return 0;
	if (f->out.group == XWAN_GROUP_NONE)
		mine = c->pinned;
	else
		mine = f->out.group < 32 && (c->group_mask & (1U << f->out.group));
	if (!mine)
		return 0;
	if (c->n == c->cap) {
		int cap = c->cap ? c->cap * 2 : 256;
		struct xwan_flow *d = realloc(c->doomed, (size_t)cap * sizeof(*d));

		if (!d)
			return -ENOMEM;
		c->doomed = d;
		c->cap = cap;
	}
	c->doomed[c->n++] = *f;
	return 0;
}

int failover_flush(const struct xwan_maps *m, int gw, uint32_t group_mask, bool pinned,
		   bool rst, int *resets)
{
	struct flush_ctx c = { .gw = gw, .group_mask = group_mask, .pinned = pinned };
	int rc, removed = 0;

	*resets = 0;
	rc = xwan_flow_scan(m, pick, &c);
	if (rc) {
		free(c.doomed);
		return rc;
	}
	for (int i = 0; i < c.n; i++) {
		const struct xwan_flow *f = &c.doomed[i];

		/* Gone from the table first: the next packet opens a fresh flow. */
		if (bpf_map_delete_elem(m->fd[XM_FLOWS], &f->map_key) == 0)
			removed++;
		bpf_map_delete_elem(m->fd[XM_FLOWS], &f->out.peer);
		/* A client still in SYN_SENT retries on its own; others need a RST. */
		if (rst && f->key.proto == IPPROTO_TCP && f->has_in &&
		    f->out.state == FLOW_STATE_ESTABLISHED &&
		    rst_send_to_client(&f->key, &f->in) == 0)
			(*resets)++;
	}
	free(c.doomed);
	xwan_flow_gauge_sub(m, (uint64_t)removed);
	return removed;
}

int failover_default_gateway(const struct xwan_config *cfg, const xwan_usable_t usable)
{
	const struct xwan_group *g = &cfg->groups[cfg->default_group];
	int tier = xwan_group_active_tier(cfg, cfg->default_group, usable[cfg->default_group]);
	int best = -1, best_w = -1;

	for (int i = 0; i < g->n_members; i++) {
		const struct xwan_member *mb = &g->members[i];
		int w = mb->weight ? mb->weight : cfg->wans[mb->wan].weight;

		if (mb->tier != tier || !usable[cfg->default_group][mb->wan])
			continue;
		if (w > best_w) {
			best = mb->wan;
			best_w = w;
		}
	}
	return best;
}
