// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include "status.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <errno.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "devpath.h"
#include "flows.h"
#include "json.h"

/* An agent refreshes gw_health every second; older than this, it is gone. */
#define AGENT_STALE_S 10

static const char *const status_name[GW_STATUS_MAX] = { "pending", "online", "warning", "down" };

struct flow_count {
	int per_gw[XWAN_MAX_GATEWAYS];
};

static int count(const struct xwan_flow *f, void *data)
{
	struct flow_count *c = data;

	if (f->live && !f->local && f->out.gw < XWAN_MAX_GATEWAYS)
		c->per_gw[f->out.gw]++;
	return 0;
}

static void since(char *out, size_t len, uint64_t unix_s)
{
	time_t t = (time_t)unix_s;
	struct tm tm;

	if (!unix_s) {
		snprintf(out, len, "-");
		return;
	}
	localtime_r(&t, &tm);
	strftime(out, len, "%Y-%m-%d %H:%M:%S", &tm);
}

/* One gateway as the views show it, read once for the text and the JSON. */
struct gw_row {
	struct gw_health hl;
	struct gw_info gi;
	uint64_t flows;
	char ifname[IF_NAMESIZE];
	char addr[INET_ADDRSTRLEN + 4];         /* a.b.c.d/plen, "-": none */
	char gw[INET_ADDRSTRLEN];               /* the next hop, "the device", "-" */
};

/*
 * Where each WAN is on the host: its interface, the address flows are NATed
 * to, and the next hop (learned from the host's routes when GW_F_AUTO).
 */
static void read_row(const struct xwan_maps *m, __u32 g, struct gw_row *r)
{
	char a[INET_ADDRSTRLEN];
	uint32_t wan_addr;

	memset(&r->hl, 0, sizeof(r->hl));
	memset(&r->gi, 0, sizeof(r->gi));
	bpf_map_lookup_elem(m->fd[XM_GW_HEALTH], &g, &r->hl);
	bpf_map_lookup_elem(m->fd[XM_GATEWAYS], &g, &r->gi);
	snprintf(r->ifname, sizeof(r->ifname), "-");
	snprintf(r->addr, sizeof(r->addr), "-");
	if (r->gi.ifindex && !if_indextoname(r->gi.ifindex, r->ifname))
		snprintf(r->ifname, sizeof(r->ifname), "#%u", r->gi.ifindex);
	wan_addr = r->hl.updated_unix ? r->hl.wan_addr : r->gi.nat_addr;
	if (wan_addr) {
		inet_ntop(AF_INET, &wan_addr, a, sizeof(a));
		if (r->hl.updated_unix && r->hl.addr_plen)
			snprintf(r->addr, sizeof(r->addr), "%s/%u", a, r->hl.addr_plen);
		else
			snprintf(r->addr, sizeof(r->addr), "%s", a);
	}
	if (r->gi.nexthop)
		inet_ntop(AF_INET, &r->gi.nexthop, r->gw, sizeof(r->gw));
	else
		snprintf(r->gw, sizeof(r->gw), "%s",
			 r->gi.ifindex && r->gi.status != GW_STATUS_DOWN ? "the device" : "-");
}

/*
 * A gateway's IPv6 side (issue 13): its own status, probes and reason
 * (gw_health6, from the agent) and its address and next hop (gateways6).
 */
struct gw_row6 {
	bool configured;                        /* the WAN has gateway6 */
	struct gw_health hl;
	struct gw6_info gi;
	char addr[INET6_ADDRSTRLEN + 4];        /* addr/plen, "-": none */
	char gw[INET6_ADDRSTRLEN];              /* "-": none (yet) */
};

struct status_view {
	struct xwan_runtime rt;
	struct gw_row row[XWAN_MAX_GATEWAYS];
	struct gw_row6 row6[XWAN_MAX_GATEWAYS];
	int n6;                                 /* gateways with IPv6 */
	uint64_t now, newest;
};

static const uint8_t zero16[16];

/* An older dataplane has no IPv6 maps: then no gateway has IPv6 rows. */
static void read_row6(const struct xwan_maps *m, __u32 g, struct gw_row6 *r)
{
	char a[INET6_ADDRSTRLEN];

	memset(r, 0, sizeof(*r));
	if (m->fd[XM_GATEWAYS6] < 0 ||
	    bpf_map_lookup_elem(m->fd[XM_GATEWAYS6], &g, &r->gi) ||
	    !(r->gi.flags & GW6_F_CONFIGURED))
		return;
	r->configured = true;
	if (m->fd[XM_GW_HEALTH6] >= 0)
		bpf_map_lookup_elem(m->fd[XM_GW_HEALTH6], &g, &r->hl);
	snprintf(r->addr, sizeof(r->addr), "-");
	snprintf(r->gw, sizeof(r->gw), "-");
	if (memcmp(r->gi.addr, zero16, 16)) {
		inet_ntop(AF_INET6, r->gi.addr, a, sizeof(a));
		snprintf(r->addr, sizeof(r->addr), "%s/%u", a, r->gi.addr_plen);
	}
	if (memcmp(r->gi.nexthop, zero16, 16))
		inet_ntop(AF_INET6, r->gi.nexthop, r->gw, sizeof(r->gw));
}

/* counts: the agent's last sweep; NULL: count the flows now (a full scan). */
static int gather(const struct xwan_maps *m, const struct xwan_flow_counts *counts,
		  struct status_view *v)
{
	struct flow_count fc = {};
	int rc = xwan_runtime_read(m, &v->rt);

	if (!rc && !counts)
		rc = xwan_flow_scan(m, count, &fc);
	if (rc)
		return rc;
	v->now = (uint64_t)time(NULL);
	v->newest = 0;
	for (__u32 g = 0; g < v->rt.n_gateways && g < XWAN_MAX_GATEWAYS; g++) {
		read_row(m, g, &v->row[g]);
		read_row6(m, g, &v->row6[g]);
		v->n6 += v->rt.gw_name[g][0] && v->row6[g].configured;
		v->row[g].flows = counts ? counts->per_gw[g] : (uint64_t)fc.per_gw[g];
		if (v->row[g].hl.updated_unix > v->newest)
			v->newest = v->row[g].hl.updated_unix;
	}
	return 0;
}

static const char *status_of(const struct gw_info *gi)
{
	return gi->status < GW_STATUS_MAX ? status_name[gi->status] : "?";
}

static void print_addresses(const struct status_view *v, FILE *out)
{
	fprintf(out, "\n%-10s %-15s %-18s %s\n", "WAN", "INTERFACE", "ADDRESS", "GATEWAY");
	for (__u32 g = 0; g < v->rt.n_gateways; g++) {
		const struct gw_row *r = &v->row[g];

		if (!v->rt.gw_name[g][0])
			continue;
		fprintf(out, "%-10s %-15s %-18s %s%s\n", v->rt.gw_name[g], r->ifname, r->addr, r->gw,
			(r->gi.flags & GW_F_AUTO) ? " (auto)" : "");
	}
}

/* "-" until an agent has judged it (pending, down, ... from gateways6 otherwise). */
static const char *status6_of(const struct gw_row6 *r)
{
	return r->gi.status < GW_STATUS_MAX ? status_name[r->gi.status] : "?";
}

/*
 * IPv6: the same columns for each gateway's IPv6 side (a WAN is up or down
 * per family), without flows; then its IPv6 address and next hop. Only
 * when some gateway has gateway6.
 */
static void print_text6(const struct status_view *v, FILE *out)
{
	if (!v->n6)
		return;
	fprintf(out, "\n%-10s %-8s %9s %9s %7s %4s %6s %6s  %-19s  %s\n", "IPV6", "STATUS",
		"RTT", "RTTSD", "LOSS", "TIER", "WEIGHT", "USABLE", "SINCE", "REASON");
	for (__u32 g = 0; g < v->rt.n_gateways; g++) {
		const struct gw_row6 *r = &v->row6[g];
		const struct gw_health *hl = &r->hl;
		char when[32], rtt[16] = "-", sd[16] = "-", loss[16] = "-", tier[8] = "-",
		     weight[8] = "-";

		if (!v->rt.gw_name[g][0] || !r->configured)
			continue;
		if (hl->updated_unix) {
			snprintf(rtt, sizeof(rtt), "%.1fms", hl->rtt_us / 1000.0);
			snprintf(sd, sizeof(sd), "%.1fms", hl->rttsd_us / 1000.0);
			snprintf(loss, sizeof(loss), "%.1f%%", hl->loss_ppm / 10000.0);
			snprintf(tier, sizeof(tier), "%u", hl->tier);
			snprintf(weight, sizeof(weight), "%u", hl->weight);
		}
		since(when, sizeof(when), hl->since_unix);
		fprintf(out, "%-10s %-8s %9s %9s %7s %4s %6s %6s  %-19s  %s\n", v->rt.gw_name[g],
			status6_of(r), rtt, sd, loss, tier, weight,
			(r->gi.flags & GW6_F_USABLE) ? "yes" : "no", when, hl->reason);
	}
}

static void print_addresses6(const struct status_view *v, FILE *out)
{
	if (!v->n6)
		return;
	fprintf(out, "\n%-10s %-15s %-44s %s\n", "WAN6", "INTERFACE", "ADDRESS", "GATEWAY");
	for (__u32 g = 0; g < v->rt.n_gateways; g++) {
		const struct gw_row6 *r = &v->row6[g];

		if (!v->rt.gw_name[g][0] || !r->configured)
			continue;
		fprintf(out, "%-10s %-15s %-44s %s%s\n", v->rt.gw_name[g], v->row[g].ifname, r->addr,
			r->gw, (r->gi.flags & GW6_F_AUTO) ? " (auto)" : "");
	}
}

static void print_text(const struct status_view *v, FILE *out)
{
	fprintf(out, "%-10s %-8s %9s %9s %7s %4s %6s %6s %7s  %-19s  %s\n", "GATEWAY", "STATUS",
		"RTT", "RTTSD", "LOSS", "TIER", "WEIGHT", "USABLE", "FLOWS", "SINCE", "REASON");
	for (__u32 g = 0; g < v->rt.n_gateways; g++) {
		const struct gw_health *hl = &v->row[g].hl;
		char when[32], rtt[16] = "-", sd[16] = "-", loss[16] = "-", tier[8] = "-",
		     weight[8] = "-";

		if (hl->updated_unix) {
			snprintf(rtt, sizeof(rtt), "%.1fms", hl->rtt_us / 1000.0);
			snprintf(sd, sizeof(sd), "%.1fms", hl->rttsd_us / 1000.0);
			snprintf(loss, sizeof(loss), "%.1f%%", hl->loss_ppm / 10000.0);
			snprintf(tier, sizeof(tier), "%u", hl->tier);
			snprintf(weight, sizeof(weight), "%u", hl->weight);
		}
		since(when, sizeof(when), hl->since_unix);
		fprintf(out, "%-10s %-8s %9s %9s %7s %4s %6s %6s %7llu  %-19s  %s\n", v->rt.gw_name[g],
			status_of(&v->row[g].gi), rtt, sd, loss, tier, weight,
			(v->row[g].gi.flags & GW_F_USABLE) ? "yes" : "no",
			(unsigned long long)v->row[g].flows, when, hl->reason);
	}
	print_text6(v, out);
	fprintf(out, "\n%-4s %-15s %-10s %-11s %-20s %s\n", "ROLE", "INTERFACE", "KIND", "IN",
		"OUT (XDP FORWARDS BY)", "WHY");
	for (__u32 i = 0; i < v->rt.n_attach && i < XWAN_MAX_IFACES; i++) {
		const struct xwan_attach *a = &v->rt.attach[i];

		fprintf(out, "%-4s %-15s %-10s %-11s %-20s %s\n",
			a->role == IFACE_WAN ? "wan" : "lan", a->ifname, a->kind[0] ? a->kind : "-",
			devpath_rx_name(a->xdp_mode), devpath_tx_name(a->tx),
			a->why[0] ? a->why : "-");
	}
	print_addresses(v, out);
	print_addresses6(v, out);
	if (!v->newest)
		fprintf(out, "no agent has run: gateways are not monitored (start `xwan run -c FILE`)\n");
	else if (v->now - v->newest > AGENT_STALE_S)
		fprintf(out, "the agent stopped %llus ago: these are its last readings\n",
			(unsigned long long)(v->now - v->newest));
}

/* ,"ipv6":{...} (the same keys as the gateway's, without flows), or null. */
static void json_gateway6(const struct gw_row6 *r, FILE *out)
{
	const struct gw_health *hl = &r->hl;
	bool monitored = hl->updated_unix != 0;

	if (!r->configured) {
		fprintf(out, ",\"ipv6\":null");
		return;
	}
	fprintf(out, ",\"ipv6\":{\"status\":\"%s\",\"usable\":%s,\"monitored\":%s", status6_of(r),
		(r->gi.flags & GW6_F_USABLE) ? "true" : "false", monitored ? "true" : "false");
	if (monitored)
		fprintf(out, ",\"rtt_ms\":%.3f,\"rttsd_ms\":%.3f,\"loss_pct\":%.3f,\"tier\":%u,"
			"\"weight\":%u", hl->rtt_us / 1000.0, hl->rttsd_us / 1000.0,
			hl->loss_ppm / 10000.0, hl->tier, hl->weight);
	else
		fprintf(out, ",\"rtt_ms\":null,\"rttsd_ms\":null,\"loss_pct\":null,\"tier\":null,"
			"\"weight\":null");
	fprintf(out, ",\"since_unix\":%llu,\"transitions\":%llu,\"probes_sent\":%llu,"
		"\"probes_lost\":%llu,\"reason\":", (unsigned long long)hl->since_unix,
		(unsigned long long)hl->transitions, (unsigned long long)hl->probes_sent,
		(unsigned long long)hl->probes_lost);
	xwan_json_str(out, hl->reason);
	fprintf(out, ",\"address\":");
	xwan_json_str(out, r->addr);
	fprintf(out, ",\"gateway\":");
	xwan_json_str(out, r->gw);
	fprintf(out, ",\"gateway_auto\":%s}", (r->gi.flags & GW6_F_AUTO) ? "true" : "false");
}

static void json_gateway(const struct status_view *v, __u32 g, FILE *out)
{
	const struct gw_row *r = &v->row[g];
	const struct gw_health *hl = &r->hl;
	bool monitored = hl->updated_unix != 0;

	fprintf(out, "{\"name\":");
	xwan_json_str(out, v->rt.gw_name[g]);
	fprintf(out, ",\"status\":\"%s\",\"usable\":%s,\"monitored\":%s,\"link_up\":%s",
		status_of(&r->gi), (r->gi.flags & GW_F_USABLE) ? "true" : "false",
		monitored ? "true" : "false", hl->link_up ? "true" : "false");
	if (monitored)
		fprintf(out, ",\"rtt_ms\":%.3f,\"rttsd_ms\":%.3f,\"loss_pct\":%.3f,\"tier\":%u,"
			"\"weight\":%u", hl->rtt_us / 1000.0, hl->rttsd_us / 1000.0,
			hl->loss_ppm / 10000.0, hl->tier, hl->weight);
	else
		fprintf(out, ",\"rtt_ms\":null,\"rttsd_ms\":null,\"loss_pct\":null,\"tier\":null,"
			"\"weight\":null");
	fprintf(out, ",\"flows\":%llu,\"since_unix\":%llu,\"transitions\":%llu,"
		"\"probes_sent\":%llu,\"probes_lost\":%llu,\"reason\":",
		(unsigned long long)r->flows, (unsigned long long)hl->since_unix,
		(unsigned long long)hl->transitions, (unsigned long long)hl->probes_sent,
		(unsigned long long)hl->probes_lost);
	xwan_json_str(out, hl->reason);
	fprintf(out, ",\"interface\":");
	xwan_json_str(out, r->ifname);
	fprintf(out, ",\"address\":");
	xwan_json_str(out, r->addr);
	fprintf(out, ",\"gateway\":");
	xwan_json_str(out, r->gw);
	fprintf(out, ",\"gateway_auto\":%s", (r->gi.flags & GW_F_AUTO) ? "true" : "false");
	json_gateway6(&v->row6[g], out);
	fputc('}', out);
}

static void print_json(const struct status_view *v, FILE *out)
{
	bool first = true;

	fprintf(out, "{\"now_unix\":%llu,\"agent\":{\"updated_unix\":%llu,\"running\":%s},"
		"\"gateways\":[", (unsigned long long)v->now, (unsigned long long)v->newest,
		v->newest && v->now - v->newest <= AGENT_STALE_S ? "true" : "false");
	for (__u32 g = 0; g < v->rt.n_gateways; g++) {
		if (!v->rt.gw_name[g][0])
			continue;       /* retired by a reload: its index waits for its flows */
		fprintf(out, "%s\n ", first ? "" : ",");
		json_gateway(v, g, out);
		first = false;
	}
	fprintf(out, "],\n\"interfaces\":[");
	for (__u32 i = 0; i < v->rt.n_attach && i < XWAN_MAX_IFACES; i++) {
		const struct xwan_attach *a = &v->rt.attach[i];

		fprintf(out, "%s\n {\"role\":\"%s\",\"interface\":", i ? "," : "",
			a->role == IFACE_WAN ? "wan" : "lan");
		xwan_json_str(out, a->ifname);
		fprintf(out, ",\"kind\":");
		xwan_json_str(out, a->kind[0] ? a->kind : "-");
		fprintf(out, ",\"in\":\"%s\",\"out\":\"%s\",\"why\":", devpath_rx_name(a->xdp_mode),
			devpath_tx_name(a->tx));
		xwan_json_str(out, a->why);
		fputc('}', out);
	}
	fprintf(out, "]}\n");
}

int xwan_status_write(const struct xwan_maps *m, const struct xwan_flow_counts *counts,
		      bool json, FILE *out)
{
	struct status_view *v = calloc(1, sizeof(*v));
	int rc;

	if (!v)
		return -ENOMEM;
	rc = gather(m, counts, v);
	if (!rc && json)
		print_json(v, out);
	else if (!rc)
		print_text(v, out);
	free(v);
	return rc;
}

int xwan_status_print(const struct xwan_maps *m, FILE *out)
{
	return xwan_status_write(m, NULL, false, out);
}
