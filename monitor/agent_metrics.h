/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * What only the agent knows (per-target probe results, probe errors, reloads,
 * netlink overflows, each gateway's interface and nexthop), as a snapshot
 * the event loop publishes and the HTTP and worker threads render, under a
 * mutex: they never read the loop's live state.
 */
#ifndef XWAN_MONITOR_AGENT_METRICS_H
#define XWAN_MONITOR_AGENT_METRICS_H

#include <net/if.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "loader/config.h"
#include "monitor/hooks.h"

struct am_target {
	char addr[46];                  /* INET6_ADDRSTRLEN */
	int family;                     /* enum xwan_family */
	double rtt_s, rttsd_s, loss_ratio;
	uint64_t sent, lost;
};

struct am_gateway {
	char name[XWAN_NAME_MAX];
	char interface[IFNAMSIZ];
	char nexthop[16];
	int n_targets;                  /* IPv4's, then IPv6's */
	struct am_target t[2 * XWAN_MAX_TARGETS];
	uint64_t probe_errors;
	bool maintenance;               /* marked down by `xwan gateway down` */
};

struct agent_snapshot {
	int n_gw;
	struct am_gateway gw[XWAN_MAX_GATEWAYS];
	uint64_t reloads_ok, reloads_failed;
	uint64_t last_reload_unix;      /* 0: none yet */
	bool last_reload_ok;
	double last_reload_s;           /* SIGHUP to applied (or rejected) */
	uint64_t netlink_overflows;
	uint64_t start_unix;
	struct hook_counts hooks;
};

struct agent_metrics;

struct agent_metrics *agent_metrics_new(void);
void agent_metrics_free(struct agent_metrics *am);
void agent_metrics_publish(struct agent_metrics *am, const struct agent_snapshot *s);
bool agent_metrics_read(struct agent_metrics *am, struct agent_snapshot *out);

/* xwan_metrics_extra: the exposition of the last snapshot (ctx: agent_metrics). */
void agent_metrics_write(FILE *out, void *ctx);

#endif /* XWAN_MONITOR_AGENT_METRICS_H */
