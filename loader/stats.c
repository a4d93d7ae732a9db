// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include "stats.h"
#include "ha_stats.h"

#include <bpf/bpf.h>
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "flows.h"
#include "version.h"

static const char *const hook_label[HOOK_MAX] = {
#define XWAN_HOOK_LABEL(name, label) label,
	XWAN_HOOKS(XWAN_HOOK_LABEL)
#undef XWAN_HOOK_LABEL
};

static const struct {
	const char *verdict, *reason;
} verdict_label[V_MAX] = {
#define XWAN_VERDICT_LABEL(name, verdict, reason) { verdict, reason },
	XWAN_VERDICTS(XWAN_VERDICT_LABEL)
#undef XWAN_VERDICT_LABEL
};

static const char *const event_label[EV_MAX] = {
#define XWAN_EVENT_LABEL(name, label) label,
	XWAN_EVENTS(XWAN_EVENT_LABEL)
#undef XWAN_EVENT_LABEL
};

static const char *const status_label[GW_STATUS_MAX] = {
	"pending", "online", "warning", "down",
};

/*
 * A gateway index a reload retired keeps its slot (flows record indexes) but
 * loses its name: it has no series, rather than an empty gateway="" one.
 */
static bool gw_known(const struct xwan_runtime *rt, int g)
{
	return rt->gw_name[g][0] != 0;
}

static void help(FILE *out, const char *name, const char *type, const char *text)
{
	fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", name, text, name, type);
}

/* The agent's probe results, when an agent has written any. */
static void write_health(FILE *out, const struct xwan_maps *m, const struct xwan_runtime *rt)
{
	struct gw_health hl[XWAN_MAX_GATEWAYS] = {};
	bool any = false;
	int g;

	for (g = 0; g < (int)rt->n_gateways; g++) if (gw_known(rt, g)) {
		__u32 key = (__u32)g;

		if (bpf_map_lookup_elem(m->fd[XM_GW_HEALTH], &key, &hl[g]) == 0 && hl[g].updated_unix)
			any = true;
	}
	if (!any)
		return;
#define HEALTH(metric, type, text, fmt, expr)                                             \
	do {                                                                              \
		help(out, metric, type, text);                                            \
		for (g = 0; g < (int)rt->n_gateways; g++) if (gw_known(rt, g))                                 \
			fprintf(out, "%s{gateway=\"%s\"} " fmt "\n", metric, rt->gw_name[g], expr); \
	} while (0)
	HEALTH("xwan_gateway_rtt_seconds", "gauge", "Mean probe round-trip time over the window.",
	       "%.6f", hl[g].rtt_us / 1e6);
	HEALTH("xwan_gateway_rtt_stddev_seconds", "gauge",
	       "Standard deviation of the probe round-trip time over the window.", "%.6f",
	       hl[g].rttsd_us / 1e6);
	HEALTH("xwan_gateway_loss_ratio", "gauge", "Share of probes lost over the window (0-1).",
	       "%.6f", hl[g].loss_ppm / 1e6);
	HEALTH("xwan_gateway_probes_sent_total", "counter", "Probes sent to a gateway's targets.",
	       "%llu", (unsigned long long)hl[g].probes_sent);
	HEALTH("xwan_gateway_probes_lost_total", "counter", "Probes that got no answer in time.",
	       "%llu", (unsigned long long)hl[g].probes_lost);
	HEALTH("xwan_gateway_status_transitions_total", "counter",
	       "Status changes (online, warning, down) of a gateway.", "%llu",
	       (unsigned long long)hl[g].transitions);
	HEALTH("xwan_gateway_link_up", "gauge", "1 when the WAN interface has carrier.", "%u",
	       (unsigned)hl[g].link_up);
	HEALTH("xwan_gateway_status_change_timestamp_seconds", "gauge",
	       "Unix time of the gateway's last status change.", "%llu",
	       (unsigned long long)hl[g].since_unix);
#undef HEALTH
}

/*
 * Per address family (issue 13): one series per gateway and family, label
 * family="ipv4"|"ipv6", under names of their own. The IPv4 series above keep
 * their names and labels (dashboards sum and max them by gateway; an IPv6
 * series among them would change those sums). A gateway without gateway6
 * has no ipv6 series.
 */
static const char *const fam_label[2] = { "ipv4", "ipv6" };

struct fam_row {
	bool have;
	uint8_t status, usable;
	struct gw_health hl;
	struct gw_counters c;   /* gw_stats / gw_stats6 */
};

static void family_rows(const struct xwan_maps *m, __u32 g, struct fam_row r[2])
{
	struct gw_info gi = {};
	struct gw6_info gi6 = {};

	memset(r, 0, 2 * sizeof(*r));
	bpf_map_lookup_elem(m->fd[XM_GATEWAYS], &g, &gi);
	r[0].have = true;
	r[0].status = gi.status;
	r[0].usable = !!(gi.flags & GW_F_USABLE);
	bpf_map_lookup_elem(m->fd[XM_GW_HEALTH], &g, &r[0].hl);
	xwan_percpu_sum(m->fd[XM_GW_STATS], g, (__u64 *)&r[0].c, sizeof(r[0].c));
	if (m->fd[XM_GATEWAYS6] < 0 || bpf_map_lookup_elem(m->fd[XM_GATEWAYS6], &g, &gi6) ||
	    !(gi6.flags & GW6_F_CONFIGURED))
		return;
	r[1].have = true;
	r[1].status = gi6.status;
	r[1].usable = !!(gi6.flags & GW6_F_USABLE);
	if (m->fd[XM_GW_HEALTH6] >= 0)
		bpf_map_lookup_elem(m->fd[XM_GW_HEALTH6], &g, &r[1].hl);
	if (m->fd[XM_GW_STATS6] >= 0)
		xwan_percpu_sum(m->fd[XM_GW_STATS6], g, (__u64 *)&r[1].c, sizeof(r[1].c));
}

/*
 * Each family's packet verdicts, IPv4's (verdicts) beside IPv6's
 * (verdicts6), so a dashboard can tell them apart; xwan_packets_total
 * keeps IPv4's alone, as before IPv6.
 */
static int write_family_verdicts(FILE *out, const struct xwan_maps *m)
{
	int fd[2] = { m->fd[XM_VERDICTS], m->fd[XM_VERDICTS6] };
	__u64 v;
	int rc;

	help(out, "xwan_family_packets_total", "counter",
	     "Packets of an address family each dataplane hook ended with a verdict, and its reason.");
	for (int f = 0; f < 2; f++) {
		if (fd[f] < 0)
			continue;
		for (int h = 0; h < HOOK_MAX; h++)
			for (int i = 0; i < V_MAX; i++) {
				rc = xwan_percpu_sum(fd[f], XWAN_VERDICT_IDX(h, i), &v, sizeof(v));
				if (rc)
					return rc;
				fprintf(out, "xwan_family_packets_total{family=\"%s\",hook=\"%s\","
					"verdict=\"%s\",reason=\"%s\"} %llu\n", fam_label[f], hook_label[h],
					verdict_label[i].verdict, verdict_label[i].reason,
					(unsigned long long)v);
			}
	}
	return 0;
}

/* A counter of both directions (its two gw_counters fields) per gateway and family. */
static void write_family_dir(FILE *out, const char *metric, const char *text,
			     const struct xwan_runtime *rt, struct fam_row rows[][2],
			     size_t out_off, size_t in_off)
{
	help(out, metric, "counter", text);
	for (int g = 0; g < (int)rt->n_gateways; g++) if (gw_known(rt, g))
		for (int f = 0; f < 2; f++) if (rows[g][f].have) {
			const char *c = (const char *)&rows[g][f].c;
			__u64 o, i;

			memcpy(&o, c + out_off, sizeof(o));
			memcpy(&i, c + in_off, sizeof(i));
			fprintf(out, "%s{gateway=\"%s\",family=\"%s\",direction=\"out\"} %llu\n",
				metric, rt->gw_name[g], fam_label[f], (unsigned long long)o);
			fprintf(out, "%s{gateway=\"%s\",family=\"%s\",direction=\"in\"} %llu\n",
				metric, rt->gw_name[g], fam_label[f], (unsigned long long)i);
		}
}

static void write_family(FILE *out, const struct xwan_maps *m, const struct xwan_runtime *rt)
{
	struct fam_row rows[XWAN_MAX_GATEWAYS][2];
	int g, f, i;

	for (g = 0; g < (int)rt->n_gateways; g++)
		if (gw_known(rt, g))
			family_rows(m, (__u32)g, rows[g]);
#define FAMILY(metric, type, text, fmt, expr)                                                  \
	do {                                                                                   \
		help(out, metric, type, text);                                                 \
		for (g = 0; g < (int)rt->n_gateways; g++) if (gw_known(rt, g))                 \
			for (f = 0; f < 2; f++) if (rows[g][f].have) {                         \
				const struct fam_row *r = &rows[g][f];                         \
				fprintf(out, "%s{gateway=\"%s\",family=\"%s\"} " fmt "\n", metric, \
					rt->gw_name[g], fam_label[f], expr);                         \
			}                                                                      \
	} while (0)
	FAMILY("xwan_gateway_up", "gauge",
	       "1 while a gateway's address family is online or warning, else 0 (down or pending).",
	       "%d", r->status == GW_STATUS_ONLINE || r->status == GW_STATUS_WARNING);
	FAMILY("xwan_gateway_family_usable", "gauge",
	       "1 when a gateway may take new flows of the address family.", "%d", r->usable);
	FAMILY("xwan_gateway_family_rtt_seconds", "gauge",
	       "Mean probe round-trip time of a gateway's address family over the window.", "%.6f",
	       r->hl.rtt_us / 1e6);
	FAMILY("xwan_gateway_family_loss_ratio", "gauge",
	       "Share of a gateway's address family's probes lost over the window (0-1).", "%.6f",
	       r->hl.loss_ppm / 1e6);
	FAMILY("xwan_gateway_family_probes_sent_total", "counter",
	       "Probes sent to the targets of a gateway's address family.", "%llu",
	       (unsigned long long)r->hl.probes_sent);
	FAMILY("xwan_gateway_family_transitions_total", "counter",
	       "Status changes of a gateway's address family.", "%llu",
	       (unsigned long long)r->hl.transitions);
	FAMILY("xwan_gateway_family_flows_created_total", "counter",
	       "Flows of the address family assigned to a gateway.", "%llu",
	       (unsigned long long)r->c.flows_created);
	FAMILY("xwan_gateway_family_unsolicited_packets_total", "counter",
	       "Packets of the address family from a gateway's WAN that matched no flow.", "%llu",
	       (unsigned long long)r->c.unsolicited);
#undef FAMILY
	write_family_dir(out, "xwan_gateway_family_packets_total",
			 "Packets of the address family forwarded through a gateway, by direction (out: LAN to WAN).",
			 rt, rows, offsetof(struct gw_counters, pkts_out),
			 offsetof(struct gw_counters, pkts_in));
	write_family_dir(out, "xwan_gateway_family_bytes_total",
			 "IP bytes of the address family forwarded through a gateway, by direction.",
			 rt, rows, offsetof(struct gw_counters, bytes_out),
			 offsetof(struct gw_counters, bytes_in));
	help(out, "xwan_gateway_family_status", "gauge",
	     "1 for the current status of a gateway's address family, 0 for the others.");
	for (g = 0; g < (int)rt->n_gateways; g++) if (gw_known(rt, g))
		for (f = 0; f < 2; f++) if (rows[g][f].have)
			for (i = 0; i < GW_STATUS_MAX; i++)
				fprintf(out, "xwan_gateway_family_status{gateway=\"%s\",family=\"%s\","
					"status=\"%s\"} %d\n", rt->gw_name[g], fam_label[f], status_label[i],
					rows[g][f].status == i);
}

int xwan_stats_write(const struct xwan_maps *m, FILE *out, xwan_metrics_extra extra, void *ctx)
{
	return xwan_stats_write_counted(m, out, NULL, extra, ctx);
}

int xwan_stats_write_counted(const struct xwan_maps *m, FILE *out,
			     const struct xwan_flow_counts *counts, xwan_metrics_extra extra,
			     void *ctx)
{
	struct xwan_runtime *rt = calloc(1, sizeof(*rt));
	struct xwan_flow_counts *act = calloc(1, sizeof(*act));
	struct gw_counters gc[XWAN_MAX_GATEWAYS] = {};
	struct xwan_settings s;
	__u64 v;
	int rc, h, i, g;

	if (!rt || !act) {
		rc = -ENOMEM;
		goto out;
	}
	rc = xwan_runtime_read(m, rt);
	if (!rc)
		rc = xwan_settings_read(m, &s);
	if (!rc && counts)
		*act = *counts;
	else if (!rc)
		rc = xwan_flows_count(m, act);
	if (rc)
		goto out;
	for (g = 0; g < (int)rt->n_gateways; g++) if (gw_known(rt, g)) {
		rc = xwan_percpu_sum(m->fd[XM_GW_STATS], (__u32)g, (__u64 *)&gc[g], sizeof(gc[g]));
		if (rc)
			goto out;
	}

	help(out, "xwan_packets_total", "counter",
	     "Packets each dataplane hook ended with a verdict (forward, pass to the kernel, drop) and its reason.");
	for (h = 0; h < HOOK_MAX; h++) {
		for (i = 0; i < V_MAX; i++) {
			rc = xwan_percpu_sum(m->fd[XM_VERDICTS], XWAN_VERDICT_IDX(h, i), &v, sizeof(v));
			if (rc)
				goto out;
			fprintf(out, "xwan_packets_total{hook=\"%s\",verdict=\"%s\",reason=\"%s\"} %llu\n",
				hook_label[h], verdict_label[i].verdict, verdict_label[i].reason,
				(unsigned long long)v);
		}
	}
	help(out, "xwan_events_total", "counter", "Dataplane events besides packet verdicts.");
	for (i = 0; i < EV_MAX; i++) {
		rc = xwan_percpu_sum(m->fd[XM_EVENTS], (__u32)i, &v, sizeof(v));
		if (rc)
			goto out;
		fprintf(out, "xwan_events_total{event=\"%s\"} %llu\n", event_label[i],
			(unsigned long long)v);
	}

#define GW_COUNTER(metric, type, text, expr)                                              \
	do {                                                                              \
		help(out, metric, type, text);                                            \
		for (g = 0; g < (int)rt->n_gateways; g++) if (gw_known(rt, g))                                 \
			fprintf(out, "%s{gateway=\"%s\"} %llu\n", metric, rt->gw_name[g],  \
				(unsigned long long)(expr));                              \
	} while (0)

	help(out, "xwan_gateway_packets_total", "counter",
	     "Packets forwarded through a gateway, by direction (out: LAN to WAN).");
	for (g = 0; g < (int)rt->n_gateways; g++) if (gw_known(rt, g)) {
		fprintf(out, "xwan_gateway_packets_total{gateway=\"%s\",direction=\"out\"} %llu\n",
			rt->gw_name[g], (unsigned long long)gc[g].pkts_out);
		fprintf(out, "xwan_gateway_packets_total{gateway=\"%s\",direction=\"in\"} %llu\n",
			rt->gw_name[g], (unsigned long long)gc[g].pkts_in);
	}
	help(out, "xwan_gateway_bytes_total", "counter",
	     "IP bytes forwarded through a gateway, by direction.");
	for (g = 0; g < (int)rt->n_gateways; g++) if (gw_known(rt, g)) {
		fprintf(out, "xwan_gateway_bytes_total{gateway=\"%s\",direction=\"out\"} %llu\n",
			rt->gw_name[g], (unsigned long long)gc[g].bytes_out);
		fprintf(out, "xwan_gateway_bytes_total{gateway=\"%s\",direction=\"in\"} %llu\n",
			rt->gw_name[g], (unsigned long long)gc[g].bytes_in);
	}
	GW_COUNTER("xwan_gateway_flows_created_total", "counter",
		   "Flows assigned to a gateway.", gc[g].flows_created);
	GW_COUNTER("xwan_gateway_nat_exhausted_total", "counter",
		   "New flows that found no free NAT port on a gateway.", gc[g].nat_exhausted);
	GW_COUNTER("xwan_gateway_unsolicited_packets_total", "counter",
		   "Packets arriving on a gateway's WAN that matched no flow and were dropped.",
		   gc[g].unsolicited);
	GW_COUNTER("xwan_gateway_flows_active", "gauge",
		   "Live flows pinned to a gateway.", act->per_gw[g]);
	GW_COUNTER("xwan_gateway_nat_ports_in_use", "gauge",
		   "NAT mappings (address, port) held on a gateway's address.", act->nat_per_gw[g]);
#undef GW_COUNTER

	help(out, "xwan_gateway_status", "gauge",
	     "1 for a gateway's current status (pending, online, warning, down), 0 for the others.");
	for (g = 0; g < (int)rt->n_gateways; g++) if (gw_known(rt, g)) {
		struct gw_info gi = {};
		__u32 key = (__u32)g;

		bpf_map_lookup_elem(m->fd[XM_GATEWAYS], &key, &gi);
		for (i = 0; i < GW_STATUS_MAX; i++)
			fprintf(out, "xwan_gateway_status{gateway=\"%s\",status=\"%s\"} %d\n",
				rt->gw_name[g], status_label[i], gi.status == i);
	}
	help(out, "xwan_gateway_usable", "gauge",
	     "1 when a gateway may take new flows.");
	for (g = 0; g < (int)rt->n_gateways; g++) if (gw_known(rt, g)) {
		struct gw_info gi = {};
		__u32 key = (__u32)g;

		bpf_map_lookup_elem(m->fd[XM_GATEWAYS], &key, &gi);
		fprintf(out, "xwan_gateway_usable{gateway=\"%s\"} %d\n", rt->gw_name[g],
			!!(gi.flags & GW_F_USABLE));
	}

	write_health(out, m, rt);
	write_family(out, m, rt);
	rc = write_family_verdicts(out, m);
	if (rc)
		goto out;

	help(out, "xwan_xdp_redirect_errors_total", "counter",
	     "XDP redirects into an interface that the kernel failed to transmit (counted as drops, reason redirect_failed, never as forwarded).");
	for (i = 0; i < (int)rt->n_attach && i < XWAN_MAX_IFACES; i++) {
		__u32 key = rt->attach[i].ifindex;

		if (xwan_percpu_sum(m->fd[XM_REDIRECT_ERRS], key, &v, sizeof(v)))
			v = 0;          /* no entry: none failed */
		fprintf(out, "xwan_xdp_redirect_errors_total{interface=\"%s\"} %llu\n",
			rt->attach[i].ifname, (unsigned long long)v);
	}

	help(out, "xwan_flows_active", "gauge", "Live flows in the flow table.");
	fprintf(out, "xwan_flows_active %llu\n", (unsigned long long)act->total);
	help(out, "xwan_flows_unreplied", "gauge",
	     "Live flows nobody answered yet (the table a flood fills).");
	fprintf(out, "xwan_flows_unreplied %llu\n", (unsigned long long)act->unreplied);
	help(out, "xwan_flows_counted_timestamp_seconds", "gauge",
	     "Unix time the flow counts (xwan_flows_active, per gateway) were taken.");
	fprintf(out, "xwan_flows_counted_timestamp_seconds %llu\n",
		(unsigned long long)act->at_unix);
	help(out, "xwan_flows_count_duration_seconds", "gauge",
	     "How long the last pass over the flow table that counted them took (the agent's sweep).");
	fprintf(out, "xwan_flows_count_duration_seconds %.6f\n", act->took_ns / 1e9);
	help(out, "xwan_flow_table_capacity", "gauge",
	     "Answered flows the table holds; it never evicts them.");
	fprintf(out, "xwan_flow_table_capacity %u\n", s.flow_capacity);
	help(out, "xwan_unreplied_table_capacity", "gauge",
	     "Unanswered flows held before the coldest is evicted (the router's own "
	     "sessions count half: one entry instead of two).");
	fprintf(out, "xwan_unreplied_table_capacity %u\n", s.unreplied_capacity);
	help(out, "xwan_dataplane_start_timestamp_seconds", "gauge",
	     "Unix time the dataplane was brought up.");
	fprintf(out, "xwan_dataplane_start_timestamp_seconds %llu\n",
		(unsigned long long)rt->started_unix);
	help(out, "xwan_build_info", "gauge", "Build information; the value is always 1.");
	fprintf(out, "xwan_build_info{version=\"%s\"} 1\n", XWAN_VERSION);
	xwan_ha_stats_write(m, out);
	if (extra)
		extra(out, ctx);
out:
	free(rt);
	free(act);
	return rc;
}
