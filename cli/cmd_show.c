// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Commands that read the running dataplane: status, flows, stats, explain, gc. */
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "loader/explain.h"
#include "loader/flows.h"
#include "loader/maps.h"
#include "loader/stats.h"
#include "loader/status.h"

/* status */
struct status_cfg { bool json; };
static const struct status_cfg status_defaults;
static const struct cl_option status_options[] = {
	DEFINE_OPTION("json", 0, CL_BOOL, struct status_cfg, json,
		      .help = "one JSON object (what the agent's /api/status serves)"),
	END_OPTIONS
};

static int do_status(const void *cfg, const void *global)
{
	const struct status_cfg *c = cfg;
	struct xwan_maps m;
	int rc;

	if (cli_open_maps(cli_pin_dir(global), &m))
		return 1;
	rc = xwan_status_write(&m, NULL, c->json, stdout);
	xwan_maps_close(&m);
	if (rc) {
		fprintf(stderr, "xwan: cannot read the gateways: %s\n", strerror(-rc));
		return 1;
	}
	return 0;
}

const struct cl_command cli_cmd_status = DEFINE_COMMAND(status, struct status_cfg,
	"one row per gateway: status, rtt, loss, tier, weight, flows",
	"One row per gateway: status, rtt, rtt deviation, loss, tier, weight,\n"
	"usable, flows, since, reason.");

/* flows */
struct flows_cfg { struct in_addr client; const char *wan; bool all, json; };
static const struct flows_cfg flows_defaults;
static const struct cl_option flows_options[] = {
	DEFINE_OPTION("client", 0, CL_IPV4, struct flows_cfg, client, .metavar = "IP",
		      .help = "only the flows of this LAN client"),
	DEFINE_OPTION("wan", 0, CL_STRING, struct flows_cfg, wan, .metavar = "NAME",
		      .help = "only the flows through this WAN"),
	DEFINE_OPTION("all", 0, CL_BOOL, struct flows_cfg, all,
		      .help = "include expired flows not yet collected"),
	DEFINE_OPTION("json", 0, CL_BOOL, struct flows_cfg, json,
		      .help = "one JSON object per flow"),
	END_OPTIONS
};

static int do_flows(const void *cfg, const void *global)
{
	const struct flows_cfg *c = cfg;
	struct xwan_flows_filter f = { .client = c->client.s_addr, .gw = -1, .all = c->all,
				       .json = c->json };
	struct xwan_runtime rt;
	struct xwan_maps m;
	int rc;

	if (cli_open_maps(cli_pin_dir(global), &m))
		return 1;
	if (c->wan) {
		if (xwan_runtime_read(&m, &rt) == 0)
			for (__u32 i = 0; i < rt.n_gateways; i++)
				if (!strcmp(rt.gw_name[i], c->wan))
					f.gw = (int)i;
		if (f.gw < 0) {
			fprintf(stderr, "xwan: no WAN named \"%s\"\n", c->wan);
			xwan_maps_close(&m);
			return 1;
		}
	}
	rc = xwan_flows_print(&m, &f, stdout);
	xwan_maps_close(&m);
	if (rc < 0) {
		fprintf(stderr, "xwan: cannot read the flow table: %s\n", strerror(-rc));
		return 1;
	}
	return 0;
}

const struct cl_command cli_cmd_flows = DEFINE_COMMAND(flows, struct flows_cfg,
	"the flow table, like a firewall's state table",
	"The flow table, like a firewall's state table: kind (nat, forward, bypass,\n"
	"drop, host), client, NAT address, remote, WAN, TCP state, age, idle,\n"
	"packets and bytes each way, rule.");

/* stats */
struct stats_cfg { int unused; };
static const struct stats_cfg stats_defaults;
static const struct cl_option stats_options[] = { END_OPTIONS };

static int do_stats(const void *cfg, const void *global)
{
	struct xwan_maps m;
	int rc;

	if (cli_open_maps(cli_pin_dir(global), &m))
		return 1;
	rc = xwan_stats_write(&m, stdout, NULL, NULL);
	xwan_maps_close(&m);
	if (rc) {
		fprintf(stderr, "xwan: cannot read the counters: %s\n", strerror(-rc));
		return 1;
	}
	return 0;
}

const struct cl_command cli_cmd_stats = DEFINE_COMMAND(stats, struct stats_cfg,
	"every counter, in Prometheus text format", NULL);

/* explain */
struct explain_cfg {
	struct cl_ip src, dst;
	int proto, dport, sport;
	const char *lan;
};
static const struct explain_cfg explain_defaults = { .proto = IPPROTO_TCP, .dport = 0,
						     .sport = -1 };
static const struct cl_enum protos[] = {
	{ "tcp", IPPROTO_TCP }, { "udp", IPPROTO_UDP }, { "icmp", IPPROTO_ICMP },
	{ "icmpv6", IPPROTO_ICMPV6 }, { NULL, 0 },
};
static const struct cl_option explain_options[] = {
	DEFINE_OPTION("src", 0, CL_IP, struct explain_cfg, src, .flags = CL_REQUIRED,
		      .metavar = "IP", .help = "the LAN client (IPv4 or IPv6)"),
	DEFINE_OPTION("dst", 0, CL_IP, struct explain_cfg, dst, .flags = CL_REQUIRED,
		      .metavar = "IP", .help = "the destination (the client's family)"),
	DEFINE_OPTION("proto", 0, CL_ENUM, struct explain_cfg, proto, .values = protos,
		      .help = "the protocol (default tcp; icmp is ICMPv6 for IPv6)"),
	DEFINE_OPTION("dport", 0, CL_PORT, struct explain_cfg, dport,
		      .help = "the destination port"),
	DEFINE_OPTION("sport", 0, CL_PORT, struct explain_cfg, sport,
		      .help = "the source port (default: any)"),
	DEFINE_OPTION("lan", 0, CL_STRING, struct explain_cfg, lan, .metavar = "IF",
		      .help = "the LAN interface the flow arrives on"),
	END_OPTIONS
};

static int do_explain(const void *cfg, const void *global)
{
	const struct explain_cfg *c = cfg;
	struct xwan_explain_query q = {
		.family = c->src.family, .src = c->src.v4.s_addr, .dst = c->dst.v4.s_addr,
		.proto = (uint8_t)(c->proto == IPPROTO_ICMPV6 ? IPPROTO_ICMP : c->proto),
		.dport = (uint16_t)c->dport, .sport = (uint16_t)(c->sport < 0 ? 0 : c->sport),
		.has_sport = c->sport >= 0,
	};
	struct xwan_maps m;
	int rc;

	if (c->src.family != c->dst.family) {
		fprintf(stderr, "xwan: --src and --dst are of different families (a flow is "
			"IPv4 or IPv6)\n");
		return 1;
	}
	if (c->proto == IPPROTO_ICMPV6 && q.family != AF_INET6) {
		fprintf(stderr, "xwan: --proto icmpv6 is for IPv6 addresses (IPv4's is icmp)\n");
		return 1;
	}
	memcpy(q.src6, &c->src.v6, 16);
	memcpy(q.dst6, &c->dst.v6, 16);

	if (c->lan && !(q.lan_ifindex = if_nametoindex(c->lan))) {
		fprintf(stderr, "xwan: no interface \"%s\"\n", c->lan);
		return 1;
	}
	if (cli_open_maps(cli_pin_dir(global), &m))
		return 1;
	rc = xwan_explain(&m, &q, stdout);
	xwan_maps_close(&m);
	if (rc) {
		fprintf(stderr, "xwan: cannot read the dataplane: %s\n", strerror(-rc));
		return 1;
	}
	return 0;
}

const struct cl_command cli_cmd_explain = DEFINE_COMMAND(explain, struct explain_cfg,
	"the rule, group and gateway a new flow would get now",
	"The rule, group and gateway a new flow would get now, and any live flow\n"
	"that already pins it.");

/* gc */
struct gc_cfg { int unused; };
static const struct gc_cfg gc_defaults;
static const struct cl_option gc_options[] = { END_OPTIONS };

static bool ha_status_read(const struct xwan_maps *m, struct ha_status *st)
{
	__u32 zero = 0;

	return m->fd[XM_HA_STATUS] >= 0 && !bpf_map_lookup_elem(m->fd[XM_HA_STATUS], &zero, st);
}

/*
 * An HA pair's agent sweeps for us: the flows it deletes reach the peer,
 * which would keep them if this process deleted them (and bring them back
 * on a takeover). SIGUSR2; its ha_status counts the sweep when done.
 */
static int gc_by_agent(const struct xwan_maps *m, unsigned pid, uint64_t runs)
{
	struct ha_status st;

	if (kill((pid_t)pid, SIGUSR2)) {
		fprintf(stderr, "xwan: cannot signal the agent (pid %u): %s\n", pid, strerror(errno));
		return 1;
	}
	for (int i = 0; i < 300; i++) {
		if (ha_status_read(m, &st) && st.gc_runs != runs) {
			if (st.gc_removed == UINT64_MAX) {
				fprintf(stderr, "xwan: the agent's sweep failed; its log says why\n");
				return 1;
			}
			printf("xwan: removed %llu expired flows (swept by the agent, pid %u: the HA "
			       "peer deletes them too)\n", (unsigned long long)st.gc_removed, pid);
			return 0;
		}
		usleep(100 * 1000);
	}
	fprintf(stderr, "xwan: the agent (pid %u) did not sweep within 30 s; its log says why\n",
		pid);
	return 1;
}

static int do_gc(const void *cfg, const void *global)
{
	struct xwan_runtime *rt = calloc(1, sizeof(*rt));
	struct ha_status st;
	struct xwan_maps m;
	int n;

	(void)cfg;
	if (!rt)
		return 1;
	if (cli_open_maps(cli_pin_dir(global), &m)) {
		free(rt);
		return 1;
	}
	if (ha_status_read(&m, &st) && st.role != HA_ROLE_OFF && !xwan_runtime_read(&m, rt) &&
	    cli_agent_alive(rt->agent_pid)) {
		n = gc_by_agent(&m, rt->agent_pid, st.gc_runs);
		xwan_maps_close(&m);
		free(rt);
		return n;
	}
	free(rt);
	n = xwan_flows_gc(&m);
	xwan_maps_close(&m);
	if (n < 0) {
		fprintf(stderr, "xwan: gc failed: %s\n", strerror(-n));
		return 1;
	}
	printf("xwan: removed %d expired flows\n", n);
	return 0;
}

const struct cl_command cli_cmd_gc = DEFINE_COMMAND(gc, struct gc_cfg,
	"delete expired flows now (the agent does it every 10 s; with ha: the agent does\n"
	"this one too, so that the peer deletes them as well)", NULL);
