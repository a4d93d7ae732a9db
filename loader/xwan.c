// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* xwan: the command line. Each command is a few calls into the modules. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "explain.h"
#include "flows.h"
#include "lifecycle.h"
#include "maps.h"
#include "pindir.h"
#include "stats.h"
#include "status.h"
#include "../monitor/agent.h"
#include "version.h"

static const char usage_text[] =
	"usage: xwan [--pin-dir DIR] COMMAND [OPTIONS]\n"
	"\n"
	"Multi-WAN gateway: per-flow load balancing, NAT and failover in eBPF.\n"
	"\n"
	"commands:\n"
	"  check -c FILE            validate a config (errors name file:line and key)\n"
	"  up -c FILE [--no-generic] load, attach and pin the dataplane; returns once it forwards\n"
	"  down                     detach everything and remove the pins\n"
	"  run -c FILE [--textfile PATH] [--detach-on-exit] [--no-generic]\n"
	"                           the agent: up (or adopt what runs), probe the gateways,\n"
	"                           fail over, serve /metrics; SIGHUP reloads, SIGTERM leaves\n"
	"                           the dataplane forwarding unless --detach-on-exit\n"
	"  reload -c FILE           apply a changed config without flushing (through the agent\n"
	"                           when one runs); a config with an error changes nothing\n"
	"  status                   one row per gateway: status, rtt, loss, tier, weight, flows\n"
	"  flows [--client IP] [--wan NAME] [--all] [--json]\n"
	"                           the flow table, like a firewall's state table\n"
	"  stats                    every counter, in Prometheus text format\n"
	"  explain --src IP --dst IP [--proto tcp|udp|icmp] [--dport N] [--sport N] [--lan IF]\n"
	"                           the rule, group and gateway a new flow would get now, and\n"
	"                           any live flow that already pins it\n"
	"  gc                       delete expired flows now\n"
	"  version\n"
	"\n"
	"global options:\n"
	"  --pin-dir DIR            where state is pinned (default " XWAN_PIN_DIR_DEFAULT
	", or $XWAN_PIN_DIR)\n"
	"  -v, --verbose            show libbpf's messages (verifier logs)\n";

static bool verbose;

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	char msg[1024];

	if (level != LIBBPF_WARN && !verbose)
		return 0;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	/* An existing clsact qdisc is fine (we add our filter to it). */
	if (!verbose && strstr(msg, "Exclusivity flag on"))
		return 0;
	return fputs(msg, stderr);
}

static int die_usage(const char *msg)
{
	if (msg)
		fprintf(stderr, "xwan: %s\n", msg);
	fputs(usage_text, stderr);
	return 2;
}

static struct xwan_config *load_config(const char *path, bool system_checks)
{
	struct xwan_config *cfg = calloc(1, sizeof(*cfg));
	char err[XWAN_ERR_MAX];

	if (!cfg) {
		fprintf(stderr, "xwan: out of memory\n");
		return NULL;
	}
	if (xwan_config_load(path, cfg, err, sizeof(err)) ||
	    (system_checks && xwan_config_check_system(cfg, err, sizeof(err)))) {
		fprintf(stderr, "%s\n", err);
		free(cfg);
		return NULL;
	}
	return cfg;
}

static const char *config_arg(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if ((!strcmp(argv[i], "-c") || !strcmp(argv[i], "--config")) && i + 1 < argc)
			return argv[i + 1];
		if (!strncmp(argv[i], "--config=", 9))
			return argv[i] + 9;
	}
	return NULL;
}

static bool has_flag(int argc, char **argv, const char *flag)
{
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], flag))
			return true;
	return false;
}

static const char *flag_value(int argc, char **argv, const char *flag)
{
	for (int i = 1; i < argc - 1; i++)
		if (!strcmp(argv[i], flag))
			return argv[i + 1];
	return NULL;
}

static int cmd_check(int argc, char **argv)
{
	const char *path = config_arg(argc, argv);
	struct xwan_config *cfg;

	if (!path)
		return die_usage("check needs -c FILE");
	cfg = load_config(path, true);
	if (!cfg)
		return 1;
	printf("%s: ok (%d LAN, %d WAN, %d groups, %d rules)\n", path, cfg->n_lans, cfg->n_wans,
	       cfg->n_groups, cfg->n_rules);
	free(cfg);
	return 0;
}

static int cmd_up(const char *pin_dir, int argc, char **argv)
{
	const char *path = config_arg(argc, argv);
	struct xwan_up_opts o = { .allow_generic = !has_flag(argc, argv, "--no-generic") };
	struct xwan_config *cfg;
	struct xwan_maps m;
	char err[1024];
	int rc;

	if (!path)
		return die_usage("up needs -c FILE");
	cfg = load_config(path, true);
	if (!cfg)
		return 1;
	rc = xwan_up(cfg, pin_dir, &o, &m, err, sizeof(err));
	free(cfg);
	if (rc) {
		fprintf(stderr, "xwan: %s\n", err);
		return 1;
	}
	xwan_maps_close(&m);
	return 0;
}

static int cmd_down(const char *pin_dir)
{
	char err[1024];
	int rc = xwan_down(pin_dir, false, err, sizeof(err));

	if (rc == 1) {
		printf("xwan: not running; nothing to do\n");
		return 0;
	}
	if (rc) {
		fprintf(stderr, "xwan: %s\n", err);
		return 1;
	}
	return 0;
}

static int open_maps(const char *pin_dir, struct xwan_maps *m)
{
	char err[1024];

	if (xwan_maps_open(pin_dir, m, err, sizeof(err))) {
		fprintf(stderr, "xwan: %s\n", err);
		return -1;
	}
	return 0;
}

static int cmd_flows(const char *pin_dir, int argc, char **argv)
{
	struct xwan_flows_filter f = { .gw = -1, .all = has_flag(argc, argv, "--all"),
				       .json = has_flag(argc, argv, "--json") };
	const char *client = flag_value(argc, argv, "--client");
	const char *wan = flag_value(argc, argv, "--wan");
	struct xwan_runtime rt;
	struct xwan_maps m;
	int rc;

	if (client && inet_pton(AF_INET, client, &f.client) != 1)
		return die_usage("--client needs an IPv4 address");
	if (open_maps(pin_dir, &m))
		return 1;
	if (wan) {
		if (xwan_runtime_read(&m, &rt) == 0)
			for (__u32 i = 0; i < rt.n_gateways; i++)
				if (!strcmp(rt.gw_name[i], wan))
					f.gw = (int)i;
		if (f.gw < 0) {
			fprintf(stderr, "xwan: no WAN named \"%s\"\n", wan);
			xwan_maps_close(&m);
			return 1;
		}
	}
	rc = xwan_flows_print(&m, &f, stdout);
	xwan_maps_close(&m);
	if (rc) {
		fprintf(stderr, "xwan: cannot read the flow table: %s\n", strerror(-rc));
		return 1;
	}
	return 0;
}

static int cmd_stats(const char *pin_dir)
{
	struct xwan_maps m;
	int rc;

	if (open_maps(pin_dir, &m))
		return 1;
	rc = xwan_stats_write(&m, stdout, NULL, NULL);
	xwan_maps_close(&m);
	if (rc) {
		fprintf(stderr, "xwan: cannot read the counters: %s\n", strerror(-rc));
		return 1;
	}
	return 0;
}

static int cmd_run(const char *pin_dir, int argc, char **argv)
{
	struct agent_opts o = {
		.config_path = config_arg(argc, argv),
		.pin_dir = pin_dir,
		.textfile = flag_value(argc, argv, "--textfile"),
		.detach_on_exit = has_flag(argc, argv, "--detach-on-exit"),
		.allow_generic = !has_flag(argc, argv, "--no-generic"),
	};

	if (!o.config_path)
		return die_usage("run needs -c FILE");
	return agent_run(&o);
}

static bool agent_alive(pid_t pid)
{
	char path[64], comm[32] = "";
	FILE *f;

	if (pid <= 0 || kill(pid, 0))
		return false;
	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return false;
	if (!fgets(comm, sizeof(comm), f))
		comm[0] = 0;
	fclose(f);
	return !strncmp(comm, "xwan", 4);
}

static bool same_file(const char *a, const char *b)
{
	struct stat sa, sb;

	return !stat(a, &sa) && !stat(b, &sb) && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/* The agent owns the maps while it runs: hand it the reload and wait. */
static int reload_through_agent(const struct xwan_maps *m, const struct xwan_runtime *rt,
				const char *path)
{
	struct xwan_runtime *now = calloc(1, sizeof(*now));
	int rc = 1;

	if (!now)
		return 1;
	if (!same_file(rt->config_path, path)) {
		fprintf(stderr, "xwan: the agent (pid %u) runs from %s; edit that file and run "
			"xwan reload -c %s (or restart the agent with -c %s)\n", rt->agent_pid,
			rt->config_path, rt->config_path, path);
		goto out;
	}
	if (kill((pid_t)rt->agent_pid, SIGHUP)) {
		fprintf(stderr, "xwan: cannot signal the agent: %s\n", strerror(errno));
		goto out;
	}
	for (int i = 0; i < 150; i++) {
		usleep(100 * 1000);
		if (xwan_runtime_read(m, now) == 0 && now->generation != rt->generation) {
			printf("xwan: the agent (pid %u) applied %s\n", rt->agent_pid, path);
			rc = 0;
			goto out;
		}
	}
	fprintf(stderr, "xwan: the agent (pid %u) did not apply %s within 15 s; its log says "
		"why\n", rt->agent_pid, path);
out:
	free(now);
	return rc;
}

static int cmd_reload(const char *pin_dir, int argc, char **argv)
{
	const char *path = config_arg(argc, argv);
	struct xwan_reload_result res;
	struct xwan_runtime *rt;
	struct xwan_config *cfg;
	struct xwan_maps m;
	char err[1024] = "";
	int rc = 1;

	if (!path)
		return die_usage("reload needs -c FILE");
	cfg = load_config(path, true);
	if (!cfg)
		return 1;       /* rejected whole: nothing was touched */
	rt = calloc(1, sizeof(*rt));
	if (!rt || open_maps(pin_dir, &m)) {
		free(rt);
		free(cfg);
		return 1;
	}
	if (xwan_runtime_read(&m, rt)) {
		fprintf(stderr, "xwan: cannot read the running state\n");
	} else if (agent_alive((pid_t)rt->agent_pid)) {
		rc = reload_through_agent(&m, rt, path);
	} else if (xwan_reload(cfg, pin_dir, NULL, NULL, &res, err, sizeof(err))) {
		fprintf(stderr, "xwan: reload failed: %s\n", err);
	} else {
		printf("xwan: applied %s: %d WAN(s) added, %d removed (%d flows flushed, %d TCP "
		       "clients reset)\n", path, res.added, __builtin_popcount(res.gone),
		       res.flushed, res.resets);
		rc = 0;
	}
	xwan_maps_close(&m);
	free(rt);
	free(cfg);
	return rc;
}

static int port_arg(const char *s, uint16_t *out)
{
	char *end;
	long v = s ? strtol(s, &end, 10) : -1;

	if (!s || *end || v < 0 || v > 65535)
		return -1;
	*out = (uint16_t)v;
	return 0;
}

static int cmd_explain(const char *pin_dir, int argc, char **argv)
{
	const char *src = flag_value(argc, argv, "--src"), *dst = flag_value(argc, argv, "--dst");
	const char *proto = flag_value(argc, argv, "--proto"), *lan = flag_value(argc, argv, "--lan");
	const char *dport = flag_value(argc, argv, "--dport"), *sport = flag_value(argc, argv, "--sport");
	struct xwan_explain_query q = { .proto = IPPROTO_TCP };
	struct xwan_maps m;
	int rc;

	if (!src || !dst || inet_pton(AF_INET, src, &q.src) != 1 ||
	    inet_pton(AF_INET, dst, &q.dst) != 1)
		return die_usage("explain needs --src IP --dst IP");
	if (proto) {
		if (!strcmp(proto, "udp"))
			q.proto = IPPROTO_UDP;
		else if (!strcmp(proto, "icmp"))
			q.proto = IPPROTO_ICMP;
		else if (strcmp(proto, "tcp"))
			return die_usage("--proto is tcp, udp or icmp");
	}
	if (dport && port_arg(dport, &q.dport))
		return die_usage("--dport needs a port number");
	if (sport) {
		if (port_arg(sport, &q.sport))
			return die_usage("--sport needs a port number");
		q.has_sport = true;
	}
	if (lan && !(q.lan_ifindex = if_nametoindex(lan))) {
		fprintf(stderr, "xwan: no interface \"%s\"\n", lan);
		return 1;
	}
	if (open_maps(pin_dir, &m))
		return 1;
	rc = xwan_explain(&m, &q, stdout);
	xwan_maps_close(&m);
	if (rc) {
		fprintf(stderr, "xwan: cannot read the dataplane: %s\n", strerror(-rc));
		return 1;
	}
	return 0;
}

static int cmd_status(const char *pin_dir)
{
	struct xwan_maps m;
	int rc;

	if (open_maps(pin_dir, &m))
		return 1;
	rc = xwan_status_print(&m, stdout);
	xwan_maps_close(&m);
	if (rc) {
		fprintf(stderr, "xwan: cannot read the gateways: %s\n", strerror(-rc));
		return 1;
	}
	return 0;
}

static int cmd_gc(const char *pin_dir)
{
	struct xwan_maps m;
	int n;

	if (open_maps(pin_dir, &m))
		return 1;
	n = xwan_flows_gc(&m);
	xwan_maps_close(&m);
	if (n < 0) {
		fprintf(stderr, "xwan: gc failed: %s\n", strerror(-n));
		return 1;
	}
	printf("xwan: removed %d expired flows\n", n);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "pin-dir", required_argument, NULL, 'p' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *pin_flag = NULL, *pin_dir, *cmd;
	int c;

	/* Global options stop at the command; the rest is the command's. */
	while ((c = getopt_long(argc, argv, "+vh", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			pin_flag = optarg;
			break;
		case 'v':
			verbose = true;
			break;
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		default:
			return die_usage(NULL);
		}
	}
	if (optind >= argc)
		return die_usage("no command given");
	libbpf_set_print(libbpf_print);
	pin_dir = xwan_pin_dir(pin_flag);
	cmd = argv[optind];
	argc -= optind;
	argv += optind;

	if (!strcmp(cmd, "check"))
		return cmd_check(argc, argv);
	if (!strcmp(cmd, "up"))
		return cmd_up(pin_dir, argc, argv);
	if (!strcmp(cmd, "down"))
		return cmd_down(pin_dir);
	if (!strcmp(cmd, "flows"))
		return cmd_flows(pin_dir, argc, argv);
	if (!strcmp(cmd, "stats"))
		return cmd_stats(pin_dir);
	if (!strcmp(cmd, "explain"))
		return cmd_explain(pin_dir, argc, argv);
	if (!strcmp(cmd, "reload"))
		return cmd_reload(pin_dir, argc, argv);
	if (!strcmp(cmd, "run"))
		return cmd_run(pin_dir, argc, argv);
	if (!strcmp(cmd, "status"))
		return cmd_status(pin_dir);
	if (!strcmp(cmd, "gc"))
		return cmd_gc(pin_dir);
	if (!strcmp(cmd, "version")) {
		printf("xwan %s\n", XWAN_VERSION);
		return 0;
	}
	if (!strcmp(cmd, "help")) {
		fputs(usage_text, stdout);
		return 0;
	}
	fprintf(stderr, "xwan: unknown command \"%s\"\n", cmd);
	return die_usage(NULL);
}
