// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include "status.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "devpath.h"
#include "flows.h"

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

/*
 * Where each WAN is on the host: its interface, the address flows are NATed
 * to, and the next hop, "(auto)" when learned from the host's routes.
 */
static void print_addresses(const struct xwan_maps *m, const struct xwan_runtime *rt, FILE *out)
{
	fprintf(out, "\n%-10s %-15s %-18s %s\n", "WAN", "INTERFACE", "ADDRESS", "GATEWAY");
	for (__u32 g = 0; g < rt->n_gateways; g++) {
		struct gw_health hl = {};
		struct gw_info gi = {};
		char ifname[IF_NAMESIZE] = "-", addr[INET_ADDRSTRLEN + 4] = "-",
		     gw[INET_ADDRSTRLEN + 8] = "-", a[INET_ADDRSTRLEN];
		uint32_t wan_addr;

		if (!rt->gw_name[g][0])
			continue;
		bpf_map_lookup_elem(m->fd[XM_GW_HEALTH], &g, &hl);
		bpf_map_lookup_elem(m->fd[XM_GATEWAYS], &g, &gi);
		if (gi.ifindex && !if_indextoname(gi.ifindex, ifname))
			snprintf(ifname, sizeof(ifname), "#%u", gi.ifindex);
		wan_addr = hl.updated_unix ? hl.wan_addr : gi.nat_addr;
		if (wan_addr) {
			inet_ntop(AF_INET, &wan_addr, a, sizeof(a));
			if (hl.updated_unix && hl.addr_plen)
				snprintf(addr, sizeof(addr), "%s/%u", a, hl.addr_plen);
			else
				snprintf(addr, sizeof(addr), "%s", a);
		}
		if (gi.nexthop)
			inet_ntop(AF_INET, &gi.nexthop, a, sizeof(a));
		else
			snprintf(a, sizeof(a), "%s", gi.ifindex && gi.status != GW_STATUS_DOWN ? "the device" : "-");
		snprintf(gw, sizeof(gw), "%s%s", a, (gi.flags & GW_F_AUTO) ? " (auto)" : "");
		fprintf(out, "%-10s %-15s %-18s %s\n", rt->gw_name[g], ifname, addr, gw);
	}
}

int xwan_status_print(const struct xwan_maps *m, FILE *out)
{
	struct xwan_runtime *rt = calloc(1, sizeof(*rt));
	struct flow_count fc = {};
	uint64_t now = (uint64_t)time(NULL), newest = 0;
	int rc;

	if (!rt)
		return -12;
	rc = xwan_runtime_read(m, rt);
	if (!rc)
		rc = xwan_flow_scan(m, count, &fc);
	if (rc) {
		free(rt);
		return rc;
	}
	fprintf(out, "%-10s %-8s %9s %9s %7s %4s %6s %6s %7s  %-19s  %s\n", "GATEWAY", "STATUS",
		"RTT", "RTTSD", "LOSS", "TIER", "WEIGHT", "USABLE", "FLOWS", "SINCE", "REASON");
	for (__u32 g = 0; g < rt->n_gateways; g++) {
		struct gw_health hl = {};
		struct gw_info gi = {};
		char when[32], rtt[16] = "-", sd[16] = "-", loss[16] = "-", tier[8] = "-",
		     weight[8] = "-";

		bpf_map_lookup_elem(m->fd[XM_GW_HEALTH], &g, &hl);
		bpf_map_lookup_elem(m->fd[XM_GATEWAYS], &g, &gi);
		if (hl.updated_unix > newest)
			newest = hl.updated_unix;
		if (hl.updated_unix) {
			snprintf(rtt, sizeof(rtt), "%.1fms", hl.rtt_us / 1000.0);
			snprintf(sd, sizeof(sd), "%.1fms", hl.rttsd_us / 1000.0);
			snprintf(loss, sizeof(loss), "%.1f%%", hl.loss_ppm / 10000.0);
			snprintf(tier, sizeof(tier), "%u", hl.tier);
			snprintf(weight, sizeof(weight), "%u", hl.weight);
		}
		since(when, sizeof(when), hl.since_unix);
		fprintf(out, "%-10s %-8s %9s %9s %7s %4s %6s %6s %7d  %-19s  %s\n", rt->gw_name[g],
			gi.status < GW_STATUS_MAX ? status_name[gi.status] : "?", rtt, sd, loss,
			tier, weight, (gi.flags & GW_F_USABLE) ? "yes" : "no", fc.per_gw[g], when,
			hl.reason);
	}
	fprintf(out, "\n%-4s %-15s %-10s %-11s %-20s %s\n", "ROLE", "INTERFACE", "KIND", "IN",
		"OUT (XDP FORWARDS BY)", "WHY");
	for (__u32 i = 0; i < rt->n_attach && i < XWAN_MAX_IFACES; i++) {
		const struct xwan_attach *a = &rt->attach[i];

		fprintf(out, "%-4s %-15s %-10s %-11s %-20s %s\n",
			a->role == IFACE_WAN ? "wan" : "lan", a->ifname, a->kind[0] ? a->kind : "-",
			devpath_rx_name(a->xdp_mode), devpath_tx_name(a->tx),
			a->why[0] ? a->why : "-");
	}
	print_addresses(m, rt, out);
	if (!newest)
		fprintf(out, "no agent has run: gateways are not monitored (start `xwan run -c FILE`)\n");
	else if (now - newest > AGENT_STALE_S)
		fprintf(out, "the agent stopped %llus ago: these are its last readings\n",
			(unsigned long long)(now - newest));
	free(rt);
	return 0;
}
