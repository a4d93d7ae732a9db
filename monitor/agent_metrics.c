// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include "monitor/agent_metrics.h"
#include "monitor/rt.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct agent_metrics {
	pthread_mutex_t lock;
	struct agent_snapshot s;
	bool have;
};

struct agent_metrics *agent_metrics_new(void)
{
	struct agent_metrics *am = calloc(1, sizeof(*am));

	if (am)
		agent_pi_mutex_init(&am->lock);   /* the real-time loop publishes */
	return am;
}

void agent_metrics_free(struct agent_metrics *am)
{
	if (!am)
		return;
	pthread_mutex_destroy(&am->lock);
	free(am);
}

void agent_metrics_publish(struct agent_metrics *am, const struct agent_snapshot *s)
{
	if (!am)
		return;
	pthread_mutex_lock(&am->lock);
	am->s = *s;
	am->have = true;
	pthread_mutex_unlock(&am->lock);
}

bool agent_metrics_read(struct agent_metrics *am, struct agent_snapshot *out)
{
	bool have;

	if (!am)
		return false;
	pthread_mutex_lock(&am->lock);
	have = am->have;
	if (have)
		*out = am->s;
	pthread_mutex_unlock(&am->lock);
	return have;
}

static void help(FILE *out, const char *name, const char *type, const char *text)
{
	fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", name, text, name, type);
}

static void per_target(FILE *out, const struct agent_snapshot *s)
{
#define TARGET(metric, type, text, fmt, expr)                                              \
	do {                                                                               \
		help(out, metric, type, text);                                             \
		for (int g = 0; g < s->n_gw; g++)                                          \
			for (int i = 0; i < s->gw[g].n_targets; i++) {                     \
				const struct am_target *t = &s->gw[g].t[i];                \
				fprintf(out, "%s{gateway=\"%s\",target=\"%s\"} " fmt "\n", \
					metric, s->gw[g].name, t->addr, expr);             \
			}                                                                  \
	} while (0)
	TARGET("xwan_target_rtt_seconds", "gauge",
	       "Mean probe round-trip time to one monitor target over the window.", "%.6f",
	       t->rtt_s);
	TARGET("xwan_target_rtt_stddev_seconds", "gauge",
	       "Standard deviation of the round-trip time to one monitor target.", "%.6f",
	       t->rttsd_s);
	TARGET("xwan_target_loss_ratio", "gauge",
	       "Share of the probes to one monitor target lost over the window (0-1).", "%.6f",
	       t->loss_ratio);
	TARGET("xwan_target_probes_sent_total", "counter", "Probes sent to one monitor target.",
	       "%llu", (unsigned long long)t->sent);
	TARGET("xwan_target_probes_lost_total", "counter",
	       "Probes to one monitor target that got no answer in time.", "%llu",
	       (unsigned long long)t->lost);
#undef TARGET
}

void agent_metrics_write(FILE *out, void *ctx)
{
	struct agent_snapshot *s = malloc(sizeof(*s));

	if (!s)
		return;
	if (!agent_metrics_read(ctx, s)) {
		free(s);
		return;
	}
	help(out, "xwan_gateway_info", "gauge",
	     "A gateway's WAN interface and nexthop; the value is always 1.");
	for (int g = 0; g < s->n_gw; g++)
		fprintf(out, "xwan_gateway_info{gateway=\"%s\",interface=\"%s\",nexthop=\"%s\"} 1\n",
			s->gw[g].name, s->gw[g].interface, s->gw[g].nexthop);
	help(out, "xwan_gateway_probe_errors_total", "counter",
	     "Probes that could not be sent (socket errors); each also counts as lost.");
	for (int g = 0; g < s->n_gw; g++)
		fprintf(out, "xwan_gateway_probe_errors_total{gateway=\"%s\"} %llu\n", s->gw[g].name,
			(unsigned long long)s->gw[g].probe_errors);
	help(out, "xwan_gateway_maintenance", "gauge",
	     "1 while an operator holds the gateway down (xwan gateway down), else 0.");
	for (int g = 0; g < s->n_gw; g++)
		fprintf(out, "xwan_gateway_maintenance{gateway=\"%s\"} %d\n", s->gw[g].name,
			s->gw[g].maintenance);
	per_target(out, s);
	help(out, "xwan_reloads_total", "counter", "Config reloads by the agent, by result.");
	fprintf(out, "xwan_reloads_total{result=\"applied\"} %llu\n",
		(unsigned long long)s->reloads_ok);
	fprintf(out, "xwan_reloads_total{result=\"rejected\"} %llu\n",
		(unsigned long long)s->reloads_failed);
	help(out, "xwan_reload_success", "gauge",
	     "1 if the last reload applied, 0 if it was rejected (1 before any).");
	fprintf(out, "xwan_reload_success %d\n", s->last_reload_unix ? s->last_reload_ok : 1);
	help(out, "xwan_reload_timestamp_seconds", "gauge",
	     "Unix time of the last reload (0: none since the agent started).");
	fprintf(out, "xwan_reload_timestamp_seconds %llu\n",
		(unsigned long long)s->last_reload_unix);
	help(out, "xwan_reload_duration_seconds", "gauge",
	     "How long the last reload took, from the request to the new config in force.");
	fprintf(out, "xwan_reload_duration_seconds %.6f\n", s->last_reload_s);
	help(out, "xwan_netlink_overflows_total", "counter",
	     "Times the kernel dropped netlink notifications for the agent (ENOBUFS).");
	fprintf(out, "xwan_netlink_overflows_total %llu\n",
		(unsigned long long)s->netlink_overflows);
	help(out, "xwan_hook_runs_total", "counter",
	     "Runs of hooks.on_gateway_change, by result (ok, failed: non-zero exit or "
	     "could not start, timeout: killed, skipped: too many running).");
	fprintf(out, "xwan_hook_runs_total{hook=\"on_gateway_change\",result=\"ok\"} %llu\n",
		(unsigned long long)s->hooks.ok);
	fprintf(out, "xwan_hook_runs_total{hook=\"on_gateway_change\",result=\"failed\"} %llu\n",
		(unsigned long long)s->hooks.failed);
	fprintf(out, "xwan_hook_runs_total{hook=\"on_gateway_change\",result=\"timeout\"} %llu\n",
		(unsigned long long)s->hooks.timed_out);
	fprintf(out, "xwan_hook_runs_total{hook=\"on_gateway_change\",result=\"skipped\"} %llu\n",
		(unsigned long long)s->hooks.skipped);
	help(out, "xwan_agent_start_timestamp_seconds", "gauge", "Unix time the agent started.");
	fprintf(out, "xwan_agent_start_timestamp_seconds %llu\n",
		(unsigned long long)s->start_unix);
	free(s);
}
