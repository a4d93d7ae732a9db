// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include "mappings.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <errno.h>
#include <netinet/in.h>

static const char *const filtering_names[FILTER_MAX] = {
	[FILTER_ADDR_PORT] = "address-and-port-dependent",
	[FILTER_ADDR] = "address-dependent",
	[FILTER_ENDPOINT] = "endpoint-independent",
};

const char *xwan_filtering_name(uint8_t filtering)
{
	return filtering < FILTER_MAX ? filtering_names[filtering] : "?";
}

bool xwan_mapping_live(const struct nat_map *nm, uint8_t proto, const struct xwan_settings *s,
		       uint64_t now)
{
	uint32_t ti = xwan_nat_map_timeout_index(proto);

	return ti < TIMEOUT_MAX &&
	       (int64_t)(now - nm->last_ns) <= (int64_t)xwan_nat_map_timeout(s->timeout_ns[ti]);
}

static void print_mapping(FILE *out, const struct nat_map_key *k, const struct nat_map *nm,
			  const struct xwan_runtime *rt, uint64_t now)
{
	char lan[INET_ADDRSTRLEN], pub[INET_ADDRSTRLEN], cli[32], pubep[32];
	const char *wan = nm->gw < XWAN_MAX_GATEWAYS && rt->gw_name[nm->gw][0]
				  ? rt->gw_name[nm->gw] : "-";

	inet_ntop(AF_INET, &k->addr, lan, sizeof(lan));
	inet_ntop(AF_INET, &nm->addr, pub, sizeof(pub));
	snprintf(cli, sizeof(cli), "%s:%u", lan, ntohs(k->port));
	snprintf(pubep, sizeof(pubep), "%s:%u", pub, ntohs(nm->port));
	fprintf(out, "%-5s %-21s %-21s %-8s %-26s %6u %5llus\n",
		k->proto == IPPROTO_TCP ? "tcp" : "udp", cli, pubep, wan,
		xwan_filtering_name(nm->filtering), nm->flows,
		(unsigned long long)(now > nm->last_ns ? (now - nm->last_ns) / 1000000000ULL : 0));
}

int xwan_mappings_each(const struct xwan_maps *m, bool all, uint64_t now,
		       int (*cb)(const struct nat_map_key *k, const struct nat_map *nm, void *ctx),
		       void *ctx)
{
	struct nat_map_key k, prev, *pp = NULL;
	struct xwan_settings s;
	struct nat_map nm;
	int rc = xwan_settings_read(m, &s), n = 0;

	if (rc)
		return rc;
	while (bpf_map_get_next_key(m->fd[XM_NAT_MAPS], pp, &k) == 0) {
		prev = k;
		pp = &prev;
		if (k.side != NMAP_LAN || bpf_map_lookup_elem(m->fd[XM_NAT_MAPS], &k, &nm))
			continue;
		if (!all && !xwan_mapping_live(&nm, k.proto, &s, now))
			continue;
		rc = cb(&k, &nm, ctx);
		if (rc < 0)
			return rc;
		n += rc;
	}
	return n;
}

struct print_ctx {
	const struct xwan_flows_filter *f;
	const struct xwan_runtime *rt;
	FILE *out;
	uint64_t now;
	int n;
};

static int print_one(const struct nat_map_key *k, const struct nat_map *nm, void *data)
{
	struct print_ctx *pc = data;

	if ((pc->f->client && k->addr != pc->f->client) || (pc->f->gw >= 0 && nm->gw != pc->f->gw))
		return 0;
	if (!pc->n++)
		fprintf(pc->out, "\n%-5s %-21s %-21s %-8s %-26s %6s %6s\n", "PROTO", "SOCKET",
			"MAPPED TO", "WAN", "FILTERING", "FLOWS", "IDLE");
	print_mapping(pc->out, k, nm, pc->rt, pc->now);
	return 1;
}

int xwan_mappings_print(const struct xwan_maps *m, const struct xwan_flows_filter *f,
			const struct xwan_runtime *rt, FILE *out)
{
	struct print_ctx pc = { .f = f, .rt = rt, .out = out, .now = xwan_now_ns() };
	int n = xwan_mappings_each(m, f->all, pc.now, print_one, &pc);

	if (n > 0)
		fprintf(out, "%d NAT mappings shown (endpoint-independent: each socket's flows share one)\n", n);
	return n < 0 ? n : 0;
}
