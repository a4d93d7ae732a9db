/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * libFuzzer target for the YAML configuration loader. Besides the
 * sanitizers' checks, it asserts the loader's contract: an error is one
 * "fuzz.yaml:<line>: ..." line, and a success is a config whose counts,
 * indices and strings are all within bounds.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "loader/config.h"

#define CHECK(cond) do { if (!(cond)) abort(); } while (0)

static void check_string(const char *s, size_t size)
{
	CHECK(memchr(s, '\0', size) != NULL);
}

static void check_error(const char *err)
{
	CHECK(!strncmp(err, "fuzz.yaml:", 10));
	CHECK(err[10] >= '1' && err[10] <= '9');
	CHECK(!strchr(err, '\n'));
}

static void check_wans(const struct xwan_config *c)
{
	CHECK(c->n_wans >= 1 && c->n_wans <= XWAN_MAX_GATEWAYS);
	for (int i = 0; i < c->n_wans; i++) {
		const struct xwan_wan *w = &c->wans[i];
		const struct xwan_monitor_cfg *m = &w->monitor;

		check_string(w->name, sizeof(w->name));
		check_string(w->interface, sizeof(w->interface));
		check_string(m->url, sizeof(m->url));
		CHECK(w->name[0] && w->interface[0]);
		CHECK(w->weight >= 1 && w->port_min >= 1);
		CHECK(w->port_min <= w->port_max);
		CHECK(m->n_targets >= 1 && m->n_targets <= XWAN_MAX_TARGETS);
		CHECK(m->reliability >= 1 && m->reliability <= m->n_targets);
		CHECK(m->latency_warning_ms < m->latency_down_ms);
		CHECK(m->loss_warning_pct < m->loss_down_pct);
		CHECK(xwan_wan_by_name(c, w->name) == i);
	}
}

static void check_groups(const struct xwan_config *c)
{
	CHECK(c->n_groups >= 1 && c->n_groups <= XWAN_MAX_GROUPS);
	CHECK(c->default_group >= 0 && c->default_group < c->n_groups);
	for (int i = 0; i < c->n_groups; i++) {
		const struct xwan_group *g = &c->groups[i];

		check_string(g->name, sizeof(g->name));
		CHECK(g->n_members >= 1 && g->n_members <= XWAN_MAX_GATEWAYS);
		CHECK(g->hash_fields && !(g->hash_fields & ~HASH_F_ALL));
		for (int j = 0; j < g->n_members; j++) {
			CHECK(g->members[j].wan >= 0 &&
			      g->members[j].wan < c->n_wans);
			CHECK(g->members[j].tier >= 1 && g->members[j].tier <= 15);
		}
		CHECK(xwan_group_by_name(c, g->name) == i);
	}
}

static void check_rest(const struct xwan_config *c)
{
	CHECK(c->n_lans >= 1 && c->n_lans <= XWAN_MAX_LANS);
	for (int i = 0; i < c->n_lans; i++) {
		check_string(c->lans[i].interface, IFNAMSIZ);
		CHECK(c->lans[i].n_networks >= 1 &&
		      c->lans[i].n_networks <= XWAN_MAX_LAN_NETS);
	}
	CHECK(c->n_rules >= 0 && c->n_rules <= XWAN_MAX_RULES);
	for (int i = 0; i < c->n_rules; i++) {
		const struct xwan_rule *r = &c->rules[i];

		check_string(r->name, sizeof(r->name));
		check_string(r->lan, sizeof(r->lan));
		CHECK(r->src.plen <= 32 && r->dst.plen <= 32);
		CHECK(r->dport_min <= r->dport_max);
		CHECK(r->action != RULE_ACTION_GROUP ||
		      (r->group >= 0 && r->group < c->n_groups));
	}
	CHECK(c->n_forwards >= 0 && c->n_forwards <= XWAN_MAX_FORWARDS);
	for (int i = 0; i < c->n_forwards; i++)
		CHECK(c->forwards[i].wan >= 0 && c->forwards[i].wan < c->n_wans);
	check_string(c->metrics_listen, sizeof(c->metrics_listen));
	CHECK(__builtin_popcount(c->fwmark_mask) >= 6);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct xwan_config cfg;
	char err[XWAN_ERR_MAX];

	if (xwan_config_parse((const char *)data, size, "fuzz.yaml", &cfg, err,
			      sizeof(err)) == 0) {
		check_wans(&cfg);
		check_groups(&cfg);
		check_rest(&cfg);
	} else {
		check_error(err);
	}
	return 0;
}
