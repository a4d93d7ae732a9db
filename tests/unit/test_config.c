/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Unit tests of the YAML configuration loader: parsed values and defaults,
 * and for bad input the exact "<file>:<line>: <key>: <problem>" message.
 * Files are read relative to the source tree: $XWAN_SRCDIR, else the
 * current directory (the repository root, as tests/run.sh runs them).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loader/config.h"

static struct xwan_config cfg;
static char err[XWAN_ERR_MAX];

static uint32_t ip(const char *s)
{
	struct in_addr a;

	if (inet_pton(AF_INET, s, &a) != 1)
		fail_msg("bad address in test: %s", s);
	return a.s_addr;
}

static const char *srcdir(void)
{
	const char *d = getenv("XWAN_SRCDIR");

	return d && *d ? d : ".";
}

static void parse_ok(const char *yaml)
{
	if (xwan_config_parse(yaml, strlen(yaml), "xwan.yaml", &cfg, err,
			      sizeof(err)) != 0)
		fail_msg("unexpected error: %s", err);
}

/* The whole message, so file, line, key and wording are all pinned. */
static void parse_fails(const char *yaml, const char *expected)
{
	int rc = xwan_config_parse(yaml, strlen(yaml), "xwan.yaml", &cfg, err,
				   sizeof(err));

	assert_int_equal(rc, -1);
	assert_string_equal(err, expected);
}

static void load_ok(const char *relpath)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", srcdir(), relpath);
	if (xwan_config_load(path, &cfg, err, sizeof(err)) != 0)
		fail_msg("unexpected error: %s", err);
}

#define LAN0 "lan:\n  - interface: lan0\n    networks: [10.1.0.0/24]\n"
#define WAN1 "  - name: isp1\n    interface: wan1\n    gateway: 203.0.113.1\n"
#define WAN2 "  - name: isp2\n    interface: wan2\n    gateway: 198.51.100.1\n"
#define BASE LAN0 "wan:\n" WAN1 WAN2   /* 10 lines; wan[1] starts at line 8 */

/* ------------------------------------------------------------ defaults */

static void test_minimal_defaults(void **state)
{
	const struct xwan_monitor_cfg *m;
	const struct xwan_wan *w;

	(void)state;
	parse_ok(LAN0 "wan:\n" WAN1);
	assert_string_equal(cfg.path, "xwan.yaml");
	assert_int_equal(cfg.n_lans, 1);
	assert_string_equal(cfg.lans[0].interface, "lan0");
	assert_int_equal(cfg.lans[0].n_networks, 1);
	assert_int_equal(cfg.lans[0].networks[0].addr, htonl(0x0a010000));
	assert_int_equal(cfg.lans[0].networks[0].plen, 24);
	assert_int_equal(cfg.lans[0].line, 2);

	assert_int_equal(cfg.n_wans, 1);
	w = &cfg.wans[0];
	assert_string_equal(w->name, "isp1");
	assert_string_equal(w->interface, "wan1");
	assert_int_equal(w->gateway, htonl(0xcb007101));
	assert_int_equal(w->weight, 1);
	assert_int_equal(w->nat, XWAN_NAT_MASQUERADE);
	assert_int_equal(w->port_min, 1024);
	assert_int_equal(w->port_max, 65535);
	assert_int_equal(w->line, 5);

	m = &w->monitor;
	assert_true(m->enabled);
	assert_int_equal(m->n_targets, 1);
	assert_int_equal(m->targets[0], w->gateway);
	assert_int_equal(m->reliability, 1);
	assert_int_equal(m->method, XWAN_PROBE_ICMP);
	assert_int_equal(m->port, 0);
	assert_string_equal(m->url, "");
	assert_int_equal(m->interval_ms, 500);
	assert_int_equal(m->loss_interval_ms, 2000);
	assert_int_equal(m->window_ms, 60000);
	assert_int_equal(m->latency_warning_ms, 200);
	assert_int_equal(m->latency_down_ms, 500);
	assert_int_equal(m->loss_warning_pct, 10);
	assert_int_equal(m->loss_down_pct, 20);
	assert_int_equal(m->down_after, 0);
	assert_int_equal(m->up_after, 3);

	assert_int_equal(cfg.n_rules, 0);
	assert_int_equal(cfg.n_forwards, 0);
	assert_int_equal(cfg.timeouts.tcp_established, 7440);
	/* RFC 5382 REQ-5, RFC 4787 REQ-5 (300 s recommended), RFC 5508 REQ-1. */
	assert_int_equal(cfg.timeouts.tcp_transitory, 240);
	assert_int_equal(cfg.timeouts.udp, 300);
	assert_int_equal(cfg.timeouts.icmp, 60);
	assert_int_equal(cfg.flow_table_size, 262144);
	assert_int_equal(cfg.fwmark_mask, 0x00ff0000);
	assert_int_equal(cfg.route_table_base, 30839);
	assert_int_equal(cfg.rule_priority, 1000);
	assert_string_equal(cfg.metrics_listen, "127.0.0.1:9469");
	assert_false(cfg.manage_default_route);
	assert_int_equal(cfg.asymmetric, ASYM_DROP);
	assert_false(cfg.tcp_liberal);
	assert_int_equal(cfg.unreplied_per_lan_host, 4096);
	assert_int_equal(cfg.unreplied_per_wan_host, 256);
}

static void test_synthesized_default_group(void **state)
{
	const struct xwan_group *g = &cfg.groups[0];

	(void)state;
	parse_ok(BASE "  - {name: isp3, interface: wan3, gateway: 192.0.2.1, "
		 "weight: 5}\n");
	assert_int_equal(cfg.n_wans, 3);
	assert_int_equal(cfg.n_groups, 1);
	assert_int_equal(cfg.default_group, 0);
	assert_string_equal(g->name, "default");
	assert_int_equal(g->n_members, 3);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(g->members[i].wan, i);
		assert_int_equal(g->members[i].tier, 1);
		assert_int_equal(g->members[i].weight, 0);
	}
	assert_int_equal(cfg.wans[2].weight, 5);
	assert_int_equal(g->method, GROUP_METHOD_HASH);
	assert_int_equal(g->hash_fields, HASH_F_ALL);
	assert_int_equal(g->hash_seed, 0);
	assert_int_equal(g->trigger, XWAN_TRIGGER_MEMBER_DOWN);
	assert_int_equal(g->when_all_down, ALL_DOWN_KERNEL);
	assert_int_equal(g->on_gateway_down, XWAN_ON_DOWN_FLUSH);
	assert_int_equal(g->on_gateway_up, XWAN_ON_UP_KEEP);
	assert_false(g->sticky);
	assert_int_equal(g->sticky_expire_s, 300);
	assert_int_equal(g->sticky_key, STICKY_KEY_SRC);
	assert_int_equal(xwan_group_by_name(&cfg, "default"), 0);
}

/* "groups: []" and sections left empty behave as if absent. */
static void test_empty_sections(void **state)
{
	(void)state;
	parse_ok(BASE "groups: []\nrules:\nport_forwards: ~\ntimeouts:\n"
		 "metrics:\n");
	assert_int_equal(cfg.n_groups, 1);
	assert_string_equal(cfg.groups[0].name, "default");
	assert_int_equal(cfg.n_rules, 0);
	assert_int_equal(cfg.timeouts.udp, 300);
	assert_string_equal(cfg.metrics_listen, "127.0.0.1:9469");
}

/* -------------------------------------------------------- good files */

static void test_full_file(void **state)
{
	const struct xwan_rule *r = cfg.rules;
	const struct xwan_group *g = &cfg.groups[0];

	(void)state;
	load_ok("tests/configs/good/full.yaml");
	assert_int_equal(cfg.n_wans, 2);
	assert_int_equal(cfg.wans[0].weight, 3);
	assert_int_equal(cfg.wans[1].weight, 1);
	assert_int_equal(cfg.wans[1].gateway, ip("198.51.100.1"));
	assert_int_equal(cfg.wans[0].monitor.targets[0], ip("203.0.113.1"));

	assert_int_equal(cfg.n_groups, 1);
	assert_string_equal(g->name, "balance");
	assert_int_equal(g->n_members, 2);
	assert_int_equal(g->members[0].wan, 0);
	assert_int_equal(g->members[1].wan, 1);
	assert_int_equal(g->members[1].tier, 1);
	assert_int_equal(g->members[1].weight, 0);
	assert_int_equal(g->hash_fields, HASH_F_ALL);
	assert_int_equal(cfg.default_group, 0);

	assert_int_equal(cfg.n_rules, 4);
	assert_string_equal(r[0].name, "lan-to-lan");
	assert_int_equal(r[0].dst.addr, ip("10.0.0.0"));
	assert_int_equal(r[0].dst.plen, 8);
	assert_int_equal(r[0].src.plen, 0);
	assert_int_equal(r[0].proto, 0);
	assert_int_equal(r[0].action, RULE_ACTION_BYPASS);
	assert_int_equal(r[1].proto, IPPROTO_UDP);
	assert_int_equal(r[1].dport_min, 5060);
	assert_int_equal(r[1].dport_max, 5061);
	assert_int_equal(r[1].action, RULE_ACTION_GROUP);
	assert_int_equal(r[1].group, 0);
	assert_int_equal(r[2].src.addr, ip("10.1.0.128"));
	assert_int_equal(r[2].src.plen, 25);
	assert_string_equal(r[2].lan, "lan0");
	assert_string_equal(r[1].lan, "");
	assert_int_equal(r[3].proto, IPPROTO_TCP);
	assert_int_equal(r[3].dport_min, 25);
	assert_int_equal(r[3].dport_max, 25);
	assert_int_equal(r[3].action, RULE_ACTION_DROP);

	assert_int_equal(cfg.n_forwards, 1);
	assert_int_equal(cfg.forwards[0].wan, 1);
	assert_int_equal(cfg.forwards[0].proto, IPPROTO_TCP);
	assert_int_equal(cfg.forwards[0].port, 2222);
	assert_int_equal(cfg.forwards[0].to_addr, ip("10.1.0.2"));
	assert_int_equal(cfg.forwards[0].to_port, 22);
}

static void test_failover_file(void **state)
{
	const struct xwan_wan *w = cfg.wans;
	const struct xwan_group *g = cfg.groups;

	(void)state;
	load_ok("tests/configs/good/failover.yaml");
	assert_int_equal(cfg.n_lans, 2);
	assert_int_equal(cfg.lans[0].n_networks, 3);
	assert_int_equal(cfg.lans[0].networks[1].addr, ip("10.2.0.0"));
	assert_int_equal(cfg.lans[0].networks[1].plen, 16);
	assert_int_equal(cfg.lans[0].networks[2].addr, ip("192.168.7.1"));
	assert_int_equal(cfg.lans[0].networks[2].plen, 32);

	assert_int_equal(w[0].weight, 10);              /* 0x0a */
	assert_int_equal(w[0].port_min, 20000);
	assert_int_equal(w[0].port_max, 29999);
	assert_int_equal(w[0].monitor.n_targets, 3);
	assert_int_equal(w[0].monitor.targets[2], ip("9.9.9.9"));
	assert_int_equal(w[0].monitor.reliability, 2);
	assert_int_equal(w[0].monitor.method, XWAN_PROBE_TCP);
	assert_int_equal(w[0].monitor.port, 443);
	assert_int_equal(w[1].nat, XWAN_NAT_NONE);
	assert_int_equal(w[1].monitor.method, XWAN_PROBE_DNS);
	assert_int_equal(w[1].monitor.port, 53);
	assert_int_equal(w[2].monitor.method, XWAN_PROBE_HTTP);
	assert_string_equal(w[2].monitor.url, "http://192.0.2.100/health");
	assert_false(w[3].monitor.enabled);
	assert_true(w[2].monitor.enabled);

	assert_int_equal(cfg.n_groups, 2);
	assert_int_equal(g[0].method, GROUP_METHOD_ROUND_ROBIN);
	assert_int_equal(g[0].members[1].wan, 1);
	assert_int_equal(g[0].members[1].tier, 2);
	assert_int_equal(g[0].members[1].weight, 7);
	assert_int_equal(g[0].members[2].tier, 3);
	assert_int_equal(g[0].trigger, XWAN_TRIGGER_LOSS_OR_LATENCY);
	assert_int_equal(g[0].when_all_down, ALL_DOWN_DROP);
	assert_int_equal(g[0].on_gateway_down, XWAN_ON_DOWN_KEEP);
	assert_int_equal(g[0].on_gateway_up, XWAN_ON_UP_FLUSH);
	assert_true(g[0].sticky);
	assert_int_equal(g[0].sticky_expire_s, 60);
	assert_int_equal(g[0].sticky_key, STICKY_KEY_SRC_DST);
	assert_int_equal(g[1].hash_fields, HASH_F_SRC | HASH_F_DST);
	assert_int_equal(g[1].hash_seed, 0xffffffffu);
	assert_int_equal(g[1].members[1].wan, 3);
	assert_int_equal(g[1].members[1].weight, 2);
	assert_int_equal(cfg.default_group, 0);

	assert_int_equal(cfg.rules[1].group, 1);
	assert_string_equal(cfg.rules[1].lan, "lan1");
	assert_int_equal(cfg.rules[2].src.addr, ip("10.1.0.7"));
	assert_int_equal(cfg.rules[2].src.plen, 32);
	assert_int_equal(cfg.rules[3].line, 55);
	assert_int_equal(cfg.forwards[1].proto, IPPROTO_UDP);
	assert_int_equal(cfg.forwards[1].to_port, 2222);

	assert_int_equal(cfg.timeouts.udp, 120);
	assert_int_equal(cfg.timeouts.tcp_established, 7440);
	assert_int_equal(cfg.flow_table_size, 1024);
	assert_int_equal(cfg.fwmark_mask, 0xfc000000u);
	assert_int_equal(cfg.route_table_base, 100);
	assert_int_equal(cfg.rule_priority, 32764);
	assert_string_equal(cfg.metrics_listen, "");
	assert_true(cfg.manage_default_route);
	assert_int_equal(cfg.asymmetric, ASYM_ALLOW);
	assert_true(cfg.tcp_liberal);
	assert_int_equal(cfg.unreplied_per_lan_host, 0);
	assert_int_equal(cfg.unreplied_per_wan_host, 32);
}

static void test_anchors_resolved(void **state)
{
	(void)state;
	load_ok("tests/configs/good/anchors.yaml");
	for (int i = 0; i < 2; i++) {
		assert_int_equal(cfg.wans[i].monitor.method, XWAN_PROBE_DNS);
		assert_int_equal(cfg.wans[i].monitor.targets[0], ip("192.0.2.53"));
	}
}

static void test_example_file(void **state)
{
	(void)state;
	load_ok("examples/xwan.yaml");
	assert_int_equal(cfg.n_lans, 1);
	assert_int_equal(cfg.lans[0].networks[0].addr, ip("10.1.0.0"));
	assert_int_equal(cfg.n_wans, 2);
	assert_int_equal(xwan_wan_by_name(&cfg, "isp1"), 0);
	assert_int_equal(cfg.wans[0].weight, 3);
	assert_int_equal(cfg.wans[0].gateway, ip("203.0.113.1"));
	assert_int_equal(cfg.wans[1].weight, 1);
	assert_int_equal(cfg.wans[1].gateway, ip("198.51.100.1"));
	assert_string_equal(cfg.groups[cfg.default_group].name, "balance");
	assert_int_equal(cfg.groups[0].members[1].tier, 1);
}

/* --------------------------------------------------------- directories */

struct dir_result {
	int files;
	int failures;
};

static bool is_yaml(const char *name)
{
	size_t n = strlen(name);

	return n > 5 && !strcmp(name + n - 5, ".yaml");
}

static void check_good_file(const char *path, struct dir_result *res)
{
	res->files++;
	if (xwan_config_load(path, &cfg, err, sizeof(err)) != 0) {
		print_error("%s: unexpected error: %s\n", path, err);
		res->failures++;
	}
}

/* First line "# expect: :<line>: <text>"; the message must contain it. */
static void check_bad_file(const char *path, struct dir_result *res)
{
	char first[512] = "", *expect;
	FILE *f = fopen(path, "r");
	size_t plen = strlen(path);

	res->files++;
	if (!f || !fgets(first, sizeof(first), f))
		first[0] = '\0';
	if (f)
		fclose(f);
	first[strcspn(first, "\n")] = '\0';
	if (strncmp(first, "# expect: :", 11) || first[11] < '0' ||
	    first[11] > '9') {
		print_error("%s: first line must be \"# expect: :<line>: ...\"\n",
			    path);
		res->failures++;
		return;
	}
	expect = first + 10;
	if (xwan_config_load(path, &cfg, err, sizeof(err)) != -1 ||
	    strncmp(err, path, plen) || err[plen] != ':' ||
	    !strstr(err, expect) || strchr(err, '\n')) {
		print_error("%s:\n  expected ...%s\n  got      %s\n", path,
			    expect, err);
		res->failures++;
	}
}

static struct dir_result for_each_yaml(const char *rel,
				       void (*check)(const char *,
						     struct dir_result *))
{
	struct dir_result res = { 0, 0 };
	char dirpath[512], path[1024];
	struct dirent *e;
	DIR *d;

	snprintf(dirpath, sizeof(dirpath), "%s/%s", srcdir(), rel);
	d = opendir(dirpath);
	if (!d)
		fail_msg("cannot open %s (set XWAN_SRCDIR to the repository)",
			 dirpath);
	while ((e = readdir(d))) {
		if (!is_yaml(e->d_name))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dirpath, e->d_name);
		check(path, &res);
	}
	closedir(d);
	return res;
}

static void test_good_configs(void **state)
{
	struct dir_result res = for_each_yaml("tests/configs/good",
					      check_good_file);

	(void)state;
	assert_int_equal(res.failures, 0);
	assert_true(res.files >= 4);
}

static void test_bad_configs(void **state)
{
	struct dir_result res = for_each_yaml("tests/configs/bad",
					      check_bad_file);

	(void)state;
	assert_int_equal(res.failures, 0);
	assert_true(res.files >= 30);
}

/* ------------------------------------------------ messages, exactly */

static void test_error_messages(void **state)
{
	(void)state;
	parse_fails(BASE "    weight: 0\n",
		    "xwan.yaml:11: wan[1].weight: must be between 1 and 255, got 0");
	parse_fails(LAN0 "wan:\n  - name: isp1\n    interface: wan1\n"
		    "    gateway: 203.0.113.999\n",
		    "xwan.yaml:7: wan[0].gateway: \"203.0.113.999\" is not an "
		    "IPv4 address or auto");
	parse_fails("lan:\n  - interface: lan0\n    networks: [10.1.0.0/33]\n",
		    "xwan.yaml:3: lan[0].networks[0]: \"10.1.0.0/33\" is not a "
		    "CIDR prefix (a.b.c.d/0-32)");
	parse_fails("lan:\n  - interface: lan0\n    networks: [10.1.0.1/24]\n",
		    "xwan.yaml:3: lan[0].networks[0]: 10.1.0.1/24 has host bits "
		    "set; did you mean 10.1.0.0/24?");
	parse_fails(BASE "groups:\n  - name: g\n    members:\n      - wan: isp1\n"
		    "      - wan: isp3\ndefault_group: g\n",
		    "xwan.yaml:15: groups[0].members[1].wan: no WAN named "
		    "\"isp3\" (known: isp1, isp2)");
	parse_fails(LAN0 "wan:\n" WAN1 WAN1,
		    "xwan.yaml:8: wan[1].name: duplicate name \"isp1\" (first "
		    "defined at line 5)");
	parse_fails(LAN0 "wan:\n" WAN1 "    colour: blue\n",
		    "xwan.yaml:8: wan[0].colour: unknown key (expected one of: "
		    "name, interface, gateway, weight, nat, nat_ports, monitor, "
		    "gateway6, nat6, npt)");
	parse_fails(LAN0 "wan:\n" WAN1 "  - name: isp2\n    interface: wan2\n",
		    "xwan.yaml:8: wan[1]: missing required key \"gateway\"");
	parse_fails("lan: [\n",
		    "xwan.yaml:2: syntax error: did not find expected node "
		    "content (while parsing a flow node at line 2)");
	parse_fails("", "xwan.yaml:1: empty configuration (at least \"lan\" "
		    "and \"wan\" are required)");
	parse_fails(LAN0, "xwan.yaml:1: missing required key \"wan\"");
	parse_fails(LAN0 "wan: {name: isp1}\n",
		    "xwan.yaml:4: wan: expected a list, got a mapping");
	parse_fails(BASE "    weight: 2\n    weight: 3\n",
		    "xwan.yaml:12: wan[1].weight: duplicate key (first at line 11)");
	parse_fails(LAN0 "wan:\n  - {name: a, interface: lan0, gateway: 192.0.2.1}\n",
		    "xwan.yaml:5: wan[0].interface: interface \"lan0\" is already "
		    "used by lan[0] (line 2)");
	parse_fails(BASE "rules:\n  - {name: r, group: nope}\n",
		    "xwan.yaml:12: rules[0].group: no group named \"nope\" "
		    "(known: default)");
	parse_fails(BASE "port_forwards:\n  - {wan: isp3, proto: tcp, port: 22, "
		    "to: 10.1.0.2}\n",
		    "xwan.yaml:12: port_forwards[0].wan: no WAN named \"isp3\" "
		    "(known: isp1, isp2)");
	parse_fails(BASE "    nat_ports: 2000-1000\n",
		    "xwan.yaml:11: wan[1].nat_ports: \"2000-1000\": min 2000 is "
		    "greater than max 1000");
	parse_fails(BASE "    monitor: {targets: [192.0.2.1], reliability: 2}\n",
		    "xwan.yaml:11: wan[1].monitor.reliability: must be between 1 "
		    "and 1 (the number of targets), got 2");
	parse_fails(BASE "    monitor:\n      latency_ms: {warning: 600}\n",
		    "xwan.yaml:12: wan[1].monitor.latency_ms: warning (600) must "
		    "be lower than down (500)");
	parse_fails(BASE "rules:\n  - {name: r, action: group}\n",
		    "xwan.yaml:12: rules[0].action: \"group\" is not an action; "
		    "write \"group: NAME\" to send traffic to a group");
}

static void test_gateway_addresses(void **state)
{
	(void)state;
	parse_ok(LAN0 "wan:\n  - {name: a, interface: w, gateway: 240.0.0.1}\n");
	assert_int_equal(cfg.wans[0].gateway, ip("240.0.0.1"));
	parse_fails(LAN0 "wan:\n  - {name: a, interface: w, gateway: 127.0.0.1}\n",
		    "xwan.yaml:5: wan[0].gateway: 127.0.0.1 cannot be a gateway "
		    "(unspecified, loopback, multicast or broadcast)");
	parse_fails(LAN0 "wan:\n  - {name: a, interface: w, gateway: 224.0.0.1}\n",
		    "xwan.yaml:5: wan[0].gateway: 224.0.0.1 cannot be a gateway "
		    "(unspecified, loopback, multicast or broadcast)");
	parse_fails(LAN0 "wan:\n  - {name: a, interface: w, "
		    "gateway: 255.255.255.255}\n",
		    "xwan.yaml:5: wan[0].gateway: 255.255.255.255 cannot be a "
		    "gateway (unspecified, loopback, multicast or broadcast)");
}

static void test_route_table_edges(void **state)
{
	(void)state;
	parse_ok(BASE "route_table_base: 251\n");       /* 251..252 */
	assert_int_equal(cfg.route_table_base, 251);
	parse_ok(BASE "route_table_base: 256\n");
	parse_ok(BASE "route_table_base: 0xfffffff0\n");
	assert_int_equal(cfg.route_table_base, 0xfffffff0u);
	parse_fails(BASE "route_table_base: 252\n",
		    "xwan.yaml:11: route_table_base: tables 252..253 (one per "
		    "WAN) include reserved table 253 (253 default, 254 main, "
		    "255 local)");
	parse_fails(BASE "route_table_base: 0xfffffff1\n",
		    "xwan.yaml:11: route_table_base: must be between 1 and "
		    "4294967280, got 0xfffffff1");
}

static void test_tab_hint(void **state)
{
	(void)state;
	parse_fails("lan:\n\t- interface: lan0\n",
		    "xwan.yaml:2: syntax error: found character that cannot "
		    "start any token (while scanning for the next token at "
		    "line 2); YAML indentation must use spaces, not tabs");
}

static void test_file_not_found(void **state)
{
	(void)state;
	assert_int_equal(xwan_config_load("/nonexistent/xwan.yaml", &cfg, err,
					  sizeof(err)), -1);
	assert_string_equal(err, "cannot open /nonexistent/xwan.yaml: No such "
			    "file or directory");
	assert_int_equal(xwan_config_load("/", &cfg, err, sizeof(err)), -1);
	assert_string_equal(err, "cannot read /: Is a directory");
}

/* ------------------------------------------------------------- values */

static void test_monitor_defaults_per_method(void **state)
{
	(void)state;
	parse_ok(LAN0 "wan:\n" WAN1 "    monitor: {method: http, targets: "
		 "[192.0.2.7, 192.0.2.8]}\n" WAN2 "    monitor: {method: tcp}\n");
	assert_string_equal(cfg.wans[0].monitor.url, "http://192.0.2.7/");
	assert_int_equal(cfg.wans[0].monitor.port, 0);
	assert_int_equal(cfg.wans[0].monitor.n_targets, 2);
	assert_int_equal(cfg.wans[1].monitor.port, 80);
	assert_int_equal(cfg.wans[1].monitor.targets[0], ip("198.51.100.1"));
	parse_ok(BASE "    monitor: false\n");
	assert_false(cfg.wans[1].monitor.enabled);
	assert_true(cfg.wans[0].monitor.enabled);
	assert_int_equal(cfg.wans[1].monitor.interval_ms, 500);
}

static void test_integers_and_booleans(void **state)
{
	(void)state;
	parse_ok(BASE "    weight: 0xFF\nflow_table_size: 0x1000\n"
		 "manage_default_route: Yes\n"
		 "metrics: {listen: 0.0.0.0:0x50, token: 0123456789abcdef}\n");
	assert_int_equal(cfg.wans[1].weight, 255);
	assert_int_equal(cfg.flow_table_size, 4096);
	assert_true(cfg.manage_default_route);
	assert_string_equal(cfg.metrics_listen, "0.0.0.0:80");
	assert_string_equal(cfg.metrics_token, "0123456789abcdef");
	/* off the loopback, the status page and /metrics need a token */
	parse_fails(BASE "metrics: {listen: 10.0.0.1:9469}\n",
		    "xwan.yaml:11: metrics.listen: \"10.0.0.1:9469\" is not a loopback address: "
		    "set metrics.token too, or anyone who reaches it sees the status page and "
		    "the metrics");
	parse_fails(BASE "metrics: {listen: 0.0.0.0:9469, token: short}\n",
		    "xwan.yaml:11: metrics.token: must be 16 to 128 characters long, got 5 (e.g. "
		    "the output of `openssl rand -hex 16`)");
	parse_fails(BASE "metrics: {token: \"0123456789abcdef 1\"}\n",
		    "xwan.yaml:11: metrics.token: may hold only letters, digits and - _ . ~");
	parse_ok(BASE "metrics: {listen: 127.0.0.2:9469}\n");
	assert_string_equal(cfg.metrics_token, "");
	parse_fails(BASE "    weight: 256\n",
		    "xwan.yaml:11: wan[1].weight: must be between 1 and 255, got 256");
	parse_fails(BASE "    weight: 0x\n",
		    "xwan.yaml:11: wan[1].weight: \"0x\" is not an integer");
	parse_fails(BASE "    weight: 99999999999999999999x\n",
		    "xwan.yaml:11: wan[1].weight: \"99999999999999999999x\" is "
		    "not an integer");
	parse_fails(BASE "    weight: [1]\n",
		    "xwan.yaml:11: wan[1].weight: expected an integer, got a list");
	parse_fails(BASE "manage_default_route: 1\n",
		    "xwan.yaml:11: manage_default_route: \"1\" is not a boolean "
		    "(expected true, false, yes or no)");
}

/* Limits are inclusive: the maximum works, one more is an error. */
static void test_limits(void **state)
{
	char yaml[8192];
	size_t o;

	(void)state;
	o = (size_t)snprintf(yaml, sizeof(yaml), LAN0 "wan:\n");
	for (int i = 0; i < XWAN_MAX_GATEWAYS; i++)
		o += (size_t)snprintf(yaml + o, sizeof(yaml) - o,
				      "  - {name: w%d, interface: wan%d, "
				      "gateway: 192.0.2.%d}\n", i, i, i + 1);
	parse_ok(yaml);
	assert_int_equal(cfg.n_wans, XWAN_MAX_GATEWAYS);
	assert_int_equal(cfg.groups[0].n_members, XWAN_MAX_GATEWAYS);
	assert_int_equal(cfg.wans[31].gateway, ip("192.0.2.32"));
	snprintf(yaml + o, sizeof(yaml) - o, "route_table_base: 0xffffffe0\n");
	parse_ok(yaml);
	assert_int_equal(cfg.route_table_base, 0xffffffe0u);  /* .. 0xffffffff */
	snprintf(yaml + o, sizeof(yaml) - o, "route_table_base: 0xffffffe1\n");
	assert_int_equal(xwan_config_parse(yaml, strlen(yaml), "xwan.yaml", &cfg,
					   err, sizeof(err)), -1);
	assert_string_equal(err, "xwan.yaml:37: route_table_base: tables "
			    "4294967265..4294967296 (one per WAN) go past "
			    "4294967295");
	snprintf(yaml + o, sizeof(yaml) - o,
		 "  - {name: x, interface: x, gateway: 192.0.2.99}\n");
	assert_int_equal(xwan_config_parse(yaml, strlen(yaml), "xwan.yaml", &cfg,
					   err, sizeof(err)), -1);
	assert_string_equal(err, "xwan.yaml:37: wan[32]: too many WANs (at most 32)");

	parse_ok("lan:\n  - interface: abcdefghijklmno\n    networks: [0.0.0.0/0]\n"
		 "wan:\n  - {name: abcdefghijklmnopqrstuvwxyz01234, interface: w, "
		 "gateway: 192.0.2.1}\n");
	assert_string_equal(cfg.lans[0].interface, "abcdefghijklmno");
	assert_int_equal(cfg.lans[0].networks[0].plen, 0);
	assert_string_equal(cfg.wans[0].name, "abcdefghijklmnopqrstuvwxyz01234");
	parse_fails("lan:\n  - interface: abcdefghijklmnop\n",
		    "xwan.yaml:2: lan[0].interface: \"abcdefghijklmnop\" is too "
		    "long for an interface name (at most 15 characters)");
	parse_ok(BASE "    monitor:\n      targets: [192.0.2.1, 192.0.2.2, "
		 "192.0.2.3, 192.0.2.4, 192.0.2.5, 192.0.2.6, 192.0.2.7, "
		 "192.0.2.8]\n      reliability: 8\n");
	assert_int_equal(cfg.wans[1].monitor.n_targets, XWAN_MAX_TARGETS);
	assert_int_equal(cfg.wans[1].monitor.reliability, 8);
	assert_int_equal(cfg.wans[1].monitor.targets[7], ip("192.0.2.8"));
}

static void test_groups_and_members(void **state)
{
	const struct xwan_group *g = &cfg.groups[1];

	(void)state;
	parse_ok(BASE "groups:\n"
		 "  - {name: a, members: [{wan: isp1}]}\n"
		 "  - name: b\n    members:\n      - {wan: isp2, tier: 15, weight: 9}\n"
		 "      - {wan: isp1, tier: 2}\n    hash_fields: [dport]\n"
		 "    sticky: true\n"
		 "default_group: b\n");
	assert_int_equal(cfg.n_groups, 2);
	assert_int_equal(cfg.default_group, 1);
	assert_int_equal(g->n_members, 2);
	assert_int_equal(g->members[0].wan, 1);
	assert_int_equal(g->members[0].tier, 15);
	assert_int_equal(g->members[0].weight, 9);
	assert_int_equal(g->members[1].wan, 0);
	assert_int_equal(g->members[1].tier, 2);
	assert_int_equal(g->members[1].weight, 0);
	assert_int_equal(g->hash_fields, HASH_F_DPORT);
	assert_true(g->sticky);
	assert_int_equal(g->line, 13);
	assert_int_equal(xwan_group_by_name(&cfg, "b"), 1);
	assert_int_equal(xwan_group_by_name(&cfg, "c"), -1);
	parse_fails(BASE "groups:\n  - {name: a, members: [{wan: isp1}]}\n",
		    "xwan.yaml:11: default_group: required when groups are "
		    "defined (one of: a)");
	parse_fails(BASE "groups:\n  - {name: a, members: [{wan: isp1}, "
		    "{wan: isp1}]}\ndefault_group: a\n",
		    "xwan.yaml:12: groups[0].members[1].wan: \"isp1\" is listed "
		    "twice in this group (also members[0])");
}

static void test_forwards(void **state)
{
	(void)state;
	parse_ok(BASE "port_forwards:\n"
		 "  - {wan: isp2, proto: udp, port: 51820, to: 10.1.0.3}\n"
		 "  - {wan: isp2, proto: tcp, port: 51820, to: 10.1.0.4:1}\n"
		 "  - {wan: isp1, proto: tcp, port: 51820, to: 10.1.0.5:65535}\n");
	assert_int_equal(cfg.n_forwards, 3);
	assert_int_equal(cfg.forwards[0].wan, 1);
	assert_int_equal(cfg.forwards[0].to_port, 51820);
	assert_int_equal(cfg.forwards[1].to_addr, ip("10.1.0.4"));
	assert_int_equal(cfg.forwards[1].to_port, 1);
	assert_int_equal(cfg.forwards[2].to_port, 65535);
	assert_int_equal(cfg.forwards[2].line, 14);
	/* NAT reflection is on unless a forward says otherwise. */
	assert_true(cfg.forwards[0].reflection);
	parse_ok(BASE "port_forwards:\n"
		 "  - {wan: isp2, proto: udp, port: 53, to: 10.1.0.3, reflection: false}\n");
	assert_false(cfg.forwards[0].reflection);
	parse_fails(BASE "port_forwards:\n"
		    "  - {wan: isp2, proto: udp, port: 53, to: 10.1.0.3, reflection: maybe}\n",
		    "xwan.yaml:12: port_forwards[0].reflection: \"maybe\" is not a boolean "
		    "(expected true, false, yes or no)");
	/* A rule's filtering overrides its group's; only NATed flows have one. */
	parse_ok(BASE "rules:\n  - {name: p2p, src: 10.1.0.3/32, group: g, "
		 "filtering: endpoint-independent}\ngroups:\n  - {name: g, members: [{wan: isp1}]}\ndefault_group: g\n");
	assert_true(cfg.rules[0].has_filtering);
	assert_int_equal(cfg.rules[0].filtering, FILTER_ENDPOINT);
	parse_ok(BASE "rules:\n  - {name: r, src: 10.1.0.3/32, action: bypass}\n");
	assert_false(cfg.rules[0].has_filtering);
	parse_fails(BASE "rules:\n  - {name: r, action: bypass, filtering: address-dependent}\n",
		    "xwan.yaml:12: rules[0].filtering: filtering applies to the mappings of "
		    "NATed flows: this rule's action leaves its flows untranslated; remove "
		    "`filtering:` or send the flows to a group");
	parse_fails(BASE "port_forwards:\n  - {wan: isp1, port: 80, to: 10.1.0.3}\n",
		    "xwan.yaml:12: port_forwards[0]: missing required key \"proto\"");
	parse_fails(BASE "port_forwards:\n  - {wan: isp1, proto: icmp, port: 80, "
		    "to: 10.1.0.3}\n",
		    "xwan.yaml:12: port_forwards[0].proto: unknown value \"icmp\" "
		    "(expected one of: tcp, udp)");
}

/* ------------------------------------------------------------ robustness */

static void test_aliases_and_cycles(void **state)
{
	(void)state;
	parse_fails("lan: &a [*a]\n",
		    "xwan.yaml:1: lan[0]: expected a mapping (key: value), got a list");
	parse_fails("lan: *nothing\n",
		    "xwan.yaml:1: syntax error: found undefined alias");
	parse_fails(BASE "x: &a [*a, *a]\n",
		    "xwan.yaml:11: x: unknown key (expected one of: lan, wan, "
		    "groups, default_group, rules, port_forwards, timeouts, "
		    "flow_table_size, fwmark_mask, route_table_base, "
		    "rule_priority, metrics, manage_default_route, asymmetric, tcp_liberal, limits, ha, hooks)");
	parse_fails(BASE "<<: {x: 1}\n",
		    "xwan.yaml:11: <<: unknown key (expected one of: lan, wan, "
		    "groups, default_group, rules, port_forwards, timeouts, "
		    "flow_table_size, fwmark_mask, route_table_base, "
		    "rule_priority, metrics, manage_default_route, asymmetric, tcp_liberal, limits, ha, hooks)");
}

/* The parser must honour len: nothing past it counts. */
static void test_buffer_length(void **state)
{
	static const char yaml[] = BASE "    weight: 0\n";
	size_t len = strlen(BASE);

	(void)state;
	assert_int_equal(xwan_config_parse(yaml, len, "xwan.yaml", &cfg, err,
					   sizeof(err)), 0);
	assert_int_equal(cfg.wans[1].weight, 1);
	assert_int_equal(xwan_config_parse(NULL, 0, "x", &cfg, err,
					   sizeof(err)), -1);
	assert_string_equal(err, "x:1: empty configuration (at least \"lan\" "
			    "and \"wan\" are required)");
}

static void test_small_error_buffer(void **state)
{
	char small[12];

	(void)state;
	memset(small, 'x', sizeof(small));
	assert_int_equal(xwan_config_parse("lan: 1\n", 7, "xwan.yaml", &cfg,
					   small, sizeof(small)), -1);
	assert_string_equal(small, "xwan.yaml:1");
	assert_int_equal(xwan_config_parse("lan: 1\n", 7, "xwan.yaml", &cfg,
					   NULL, 0), -1);
}

static void test_control_characters_quoted_safely(void **state)
{
	(void)state;
	parse_fails(BASE "    nat: \"mas\\nq\\u00e9\"\n",
		    "xwan.yaml:11: wan[1].nat: unknown value \"mas?q??\" "
		    "(expected one of: masquerade, none)");
}

/* ---------------------------------------------------------------- system */

struct warnings {
	int n;
	char last[XWAN_ERR_MAX + 64];
};

static void collect_warning(void *ctx, const char *msg)
{
	struct warnings *w = ctx;

	w->n++;
	snprintf(w->last, sizeof(w->last), "%s", msg);
}

static void test_check_system(void **state)
{
	struct warnings w = { 0 };

	(void)state;
	parse_ok("lan:\n  - interface: lo\n    networks: [127.0.0.0/8]\n"
		 "wan:\n  - name: isp1\n    interface: xwan-nonexist0\n"
		 "    gateway: 192.0.2.1\n");
	assert_int_equal(xwan_config_check_system(&cfg, XWAN_SYSCHECK_CHECK, collect_warning,
						  &w, err, sizeof(err)), -1);
	assert_string_equal(err, "xwan.yaml:5: wan[0].interface: no interface "
			    "\"xwan-nonexist0\" in this network namespace");
	assert_int_equal(w.n, 0);

	/* Starting, a missing WAN is a warning: the WAN starts down. */
	assert_int_equal(xwan_config_check_system(&cfg, XWAN_SYSCHECK_START, collect_warning,
						  &w, err, sizeof(err)), 1);
	assert_int_equal(w.n, 1);
	assert_string_equal(w.last, "xwan.yaml:5: wan[0].interface: no interface "
			    "\"xwan-nonexist0\" in this network namespace (the WAN is down "
			    "until it appears)");

	/* Hand-built configs get the role check too, in either mode. */
	strcpy(cfg.wans[0].interface, "lo");
	assert_int_equal(xwan_config_check_system(&cfg, XWAN_SYSCHECK_START, NULL, NULL, err,
						  sizeof(err)), -1);
	assert_string_equal(err, "xwan.yaml:5: wan[0].interface: interface "
			    "\"lo\" is already used by lan[0] (line 2)");

	cfg.n_wans = 0;
	assert_int_equal(xwan_config_check_system(&cfg, XWAN_SYSCHECK_CHECK, NULL, NULL, err,
						  sizeof(err)), 0);
}

/* ppp0, wwan0, wg0, tun0 come and go: missing is a warning even for check. */
static void test_check_system_dynamic(void **state)
{
	static const char *const names[] = { "ppp7", "wwan3", "wg9", "tun42" };
	struct warnings w = { 0 };
	char yaml[512];

	(void)state;
	for (int i = 0; i < 4; i++) {
		snprintf(yaml, sizeof(yaml), "lan:\n  - interface: lo\n    networks: "
			 "[127.0.0.0/8]\nwan:\n  - {name: isp1, interface: %s, gateway: "
			 "auto}\n", names[i]);
		if (if_nametoindex(names[i]))
			skip();         /* the host really has one */
		parse_ok(yaml);
		assert_int_equal(xwan_config_check_system(&cfg, XWAN_SYSCHECK_CHECK,
							  collect_warning, &w, err,
							  sizeof(err)), 1);
		assert_int_equal(w.n, i + 1);
		assert_non_null(strstr(w.last, names[i]));
	}
	assert_true(xwan_iface_is_dynamic("ppp0"));
	assert_false(xwan_iface_is_dynamic("eth0"));
	assert_false(xwan_iface_is_dynamic("wan1"));
	assert_false(xwan_iface_is_dynamic("pp0"));

	/* A LAN interface must exist whatever its name. */
	parse_ok("lan:\n  - interface: tun77\n    networks: [10.9.0.0/24]\nwan:\n"
		 "  - {name: isp1, interface: lo, gateway: 192.0.2.1}\n");
	assert_int_equal(xwan_config_check_system(&cfg, XWAN_SYSCHECK_START, NULL, NULL, err,
						  sizeof(err)), -1);
	assert_string_equal(err, "xwan.yaml:2: lan[0].interface: no interface \"tun77\" "
			    "in this network namespace");
}

/* gateway: auto, and what it cannot be combined with. */
static void test_gateway_auto(void **state)
{
	(void)state;
	parse_ok(LAN0 "wan:\n  - {name: cable, interface: wan1, gateway: auto}\n" WAN2);
	assert_true(cfg.wans[0].gateway_auto);
	assert_int_equal(cfg.wans[0].gateway, 0);
	/* The default probe target is the gateway, whatever it is learned to be. */
	assert_int_equal(cfg.wans[0].monitor.n_targets, 1);
	assert_int_equal(cfg.wans[0].monitor.targets[0], 0);
	assert_false(cfg.wans[1].gateway_auto);
	assert_int_equal(cfg.wans[1].gateway, ip("198.51.100.1"));

	/* Explicit targets are probed as given. */
	parse_ok(LAN0 "wan:\n  - {name: cable, interface: wan1, gateway: auto, "
		 "monitor: {targets: [192.0.2.53]}}\n");
	assert_int_equal(cfg.wans[0].monitor.targets[0], ip("192.0.2.53"));

	parse_fails(LAN0 "wan:\n  - {name: cable, interface: wan1, gateway: dhcp}\n",
		    "xwan.yaml:5: wan[0].gateway: \"dhcp\": write \"auto\" (the next hop is "
		    "learned from the default route the host's DHCP or PPP client installs; "
		    "xwan runs no DHCP client)");
	parse_fails(LAN0 "wan:\n  - {name: cable, interface: wan1, gateway: Auto}\n",
		    "xwan.yaml:5: wan[0].gateway: \"Auto\" is not an IPv4 address or auto");
	parse_fails(LAN0 "wan:\n  - {name: cable, interface: wan1, gateway: }\n",
		    "xwan.yaml:5: wan[0].gateway: has no value (expected an IPv4 address)");
	parse_fails(LAN0 "wan:\n  - {name: cable, interface: wan1, gateway: [auto]}\n",
		    "xwan.yaml:5: wan[0].gateway: expected an IPv4 address, got a list");
	parse_fails(LAN0 "wan:\n  - {name: cable, interface: wan1, gateway: auto,\n"
		    "     monitor: {method: http}}\n",
		    "xwan.yaml:6: wan[0].monitor: method http with gateway: auto needs url "
		    "(or targets): the gateway is only known once the interface has a lease");
	parse_ok(LAN0 "wan:\n  - {name: cable, interface: wan1, gateway: auto,\n"
		 "     monitor: {method: http, url: \"http://192.0.2.80/\"}}\n");
	parse_ok(LAN0 "wan:\n  - {name: cable, interface: wan1, gateway: auto,\n"
		 "     monitor: {method: http, targets: [192.0.2.80]}}\n");
	assert_string_equal(cfg.wans[0].monitor.url, "http://192.0.2.80/");
	parse_ok(LAN0 "wan:\n  - {name: cable, interface: wan1, gateway: auto,\n"
		 "     monitor: false}\n");
}

static void test_helpers(void **state)
{
	(void)state;
	assert_string_equal(xwan_probe_method_name(XWAN_PROBE_ICMP), "icmp");
	assert_string_equal(xwan_probe_method_name(XWAN_PROBE_TCP), "tcp");
	assert_string_equal(xwan_probe_method_name(XWAN_PROBE_DNS), "dns");
	assert_string_equal(xwan_probe_method_name(XWAN_PROBE_HTTP), "http");
	parse_ok(BASE);
	assert_int_equal(xwan_wan_by_name(&cfg, "isp2"), 1);
	assert_int_equal(xwan_wan_by_name(&cfg, "isp"), -1);
}


/* ------------------------------------------------------------ IPv6 keys */

static void ip6(const char *s, uint8_t out[16])
{
	if (inet_pton(AF_INET6, s, out) != 1)
		fail_msg("bad IPv6 address in test: %s", s);
}

static void assert_ip6(const uint8_t got[16], const char *want)
{
	uint8_t w[16];
	char g[INET6_ADDRSTRLEN];

	ip6(want, w);
	if (memcmp(got, w, 16))
		fail_msg("got %s, want %s", inet_ntop(AF_INET6, got, g, sizeof(g)), want);
}

#define LAN6 "lan:\n  - interface: lan0\n    networks: [10.1.0.0/24, fd00:1::/64]\n"

static void test_ipv6_keys(void **state)
{
	int nets, wans;

	(void)state;
	/* One LAN prefix: nat6 defaults to npt, npt.inside to that prefix,
	 * the probe target to gateway6; IPv4 is parsed as before. */
	parse_ok(LAN6 "wan:\n"
		 "  - name: isp1\n    interface: wan1\n    gateway: 203.0.113.1\n"
		 "    gateway6: 2001:db8:1::1\n"
		 "    npt: {outside: 2001:db8:1:100::/64}\n"
		 "  - name: isp2\n    interface: wan2\n    gateway: 198.51.100.1\n"
		 "    gateway6: auto\n    nat6: masquerade\n"
		 "    monitor: {targets6: [2001:db8:ffff::100, fe80::1], reliability: 1}\n"
		 "  - {name: isp3, interface: wan3, gateway: 192.0.2.1}\n");
	assert_int_equal(cfg.lans[0].n_networks, 1);
	assert_int_equal(cfg.lans[0].networks[0].addr, ip("10.1.0.0"));
	assert_int_equal(cfg.lans[0].n_networks6, 1);
	assert_ip6(cfg.lans[0].networks6[0].addr, "fd00:1::");
	assert_int_equal(cfg.lans[0].networks6[0].plen, 64);

	assert_true(cfg.wans[0].v6.enabled);
	assert_false(cfg.wans[0].v6.gateway_auto);
	assert_ip6(cfg.wans[0].v6.gateway, "2001:db8:1::1");
	assert_int_equal(cfg.wans[0].v6.nat, XWAN_NAT6_NPT);
	assert_ip6(cfg.wans[0].v6.npt_inside.addr, "fd00:1::");
	assert_int_equal(cfg.wans[0].v6.npt_inside.plen, 64);
	assert_ip6(cfg.wans[0].v6.npt_outside.addr, "2001:db8:1:100::");
	assert_int_equal(cfg.wans[0].v6.npt_outside.plen, 64);
	assert_int_equal(cfg.wans[0].v6.n_targets, 1);
	assert_ip6(cfg.wans[0].v6.targets[0], "2001:db8:1::1");
	assert_int_equal(cfg.wans[0].monitor.targets[0], ip("203.0.113.1"));

	assert_true(cfg.wans[1].v6.enabled);
	assert_true(cfg.wans[1].v6.gateway_auto);
	assert_int_equal(cfg.wans[1].v6.nat, XWAN_NAT6_MASQUERADE);
	assert_int_equal(cfg.wans[1].v6.n_targets, 2);
	assert_ip6(cfg.wans[1].v6.targets[0], "2001:db8:ffff::100");
	assert_ip6(cfg.wans[1].v6.targets[1], "fe80::1");
	assert_int_equal(cfg.wans[1].monitor.n_targets, 1);

	assert_false(cfg.wans[2].v6.enabled);
	assert_true(xwan_config_has_ipv6(&cfg, &nets, &wans));
	assert_int_equal(nets, 1);
	assert_int_equal(wans, 2);

	/* Two LAN prefixes: no default nat6 npt; npt needs inside spelt out. */
	parse_ok("lan:\n  - interface: lan0\n    networks: [10.1.0.0/24, fd00:1::/64, "
		 "2001:db8:1:200::/64]\nwan:\n"
		 "  - name: isp1\n    interface: wan1\n    gateway: 203.0.113.1\n"
		 "    gateway6: fe80::1\n"
		 "  - name: isp2\n    interface: wan2\n    gateway: 198.51.100.1\n"
		 "    gateway6: 2001:db8:2::1\n    nat6: npt\n"
		 "    npt: {inside: fd00:1::/64, outside: 2001:db8:2:100::/64}\n");
	assert_int_equal(cfg.lans[0].n_networks6, 2);
	assert_int_equal(cfg.wans[0].v6.nat, XWAN_NAT6_MASQUERADE);
	assert_ip6(cfg.wans[0].v6.gateway, "fe80::1");
	assert_int_equal(cfg.wans[1].v6.nat, XWAN_NAT6_NPT);
	assert_ip6(cfg.wans[1].v6.npt_outside.addr, "2001:db8:2:100::");
	parse_fails("lan:\n  - interface: lan0\n    networks: [10.1.0.0/24, fd00:1::/64, "
		    "fd00:2::/64]\nwan:\n"
		    "  - name: isp1\n    interface: wan1\n    gateway: 203.0.113.1\n"
		    "    gateway6: 2001:db8:1::1\n    nat6: npt\n"
		    "    npt: {outside: 2001:db8:1:100::/64}\n",
		    "xwan.yaml:10: wan[0].npt.inside: is required: the LANs have 2 IPv6 "
		    "networks, say which one maps to this WAN");

	/* /48 and /56 mappings are fine; longer than /64 is not, nor an outside
	 * prefix that is the LAN's own. */
	parse_ok("lan:\n  - interface: lan0\n    networks: [10.1.0.0/24, fd00:1::/48]\nwan:\n"
		 "  - name: isp1\n    interface: wan1\n    gateway: 203.0.113.1\n"
		 "    gateway6: 2001:db8:1::1\n    npt: {outside: 2001:db8:7::/48}\n");
	assert_int_equal(cfg.wans[0].v6.npt_inside.plen, 48);
	parse_fails("lan:\n  - interface: lan0\n    networks: [10.1.0.0/24, fd00:1::/80]\nwan:\n"
		    "  - name: isp1\n    interface: wan1\n    gateway: 203.0.113.1\n"
		    "    gateway6: 2001:db8:1::1\n    npt: {outside: \"2001:db8:7::/80\"}\n",
		    "xwan.yaml:9: wan[0].npt.outside: NPTv6 maps a /1 to /64 prefix (RFC 6296 "
		    "adjusts a word of the subnet or interface id); got /80");
	parse_fails(LAN6 "wan:\n"
		    "  - name: isp1\n    interface: wan1\n    gateway: 203.0.113.1\n"
		    "    gateway6: 2001:db8:1::1\n    npt: {outside: fd00:1::/64}\n",
		    "xwan.yaml:9: wan[0].npt.outside: overlaps lan[0]'s IPv6 network: the "
		    "outside prefix is the ISP's, not the LAN's");
	parse_fails(LAN6 "wan:\n"
		    "  - name: isp1\n    interface: wan1\n    gateway: 203.0.113.1\n"
		    "    monitor: {targets6: [2001:db8::1]}\n",
		    "xwan.yaml:8: wan[0].monitor.targets6: needs gateway6 (the WAN has no "
		    "IPv6 without it)");
	parse_fails(LAN6 "wan:\n"
		    "  - name: isp1\n    interface: wan1\n    gateway: 203.0.113.1\n"
		    "    gateway6: dhcpv6\n",
		    "xwan.yaml:8: wan[0].gateway6: \"dhcpv6\": write \"auto\" (the next hop "
		    "is the default route the host learns from router advertisements)");
	parse_fails("lan:\n  - interface: lan0\n    networks: [10.1.0.0/24, fd00:1::/64, "
		    "fd00:1:0:0:1::/80]\nwan:\n  - {name: a, interface: w, gateway: 192.0.2.1}\n",
		    "xwan.yaml:3: lan[0].networks[2]: overlaps an earlier IPv6 network of this LAN");
	parse_fails("lan:\n  - interface: lan0\n    networks: [10.1.0.0/24, \"::/0\"]\n"
		    "wan:\n  - {name: a, interface: w, gateway: 192.0.2.1}\n",
		    "xwan.yaml:3: lan[0].networks[1]: ::/0 would accept any IPv6 source from "
		    "this LAN; list the LAN's own prefixes");

	/* Without IPv6 keys nothing is IPv6 (and xwan check says nothing). */
	parse_ok("lan:\n  - interface: lan0\n    networks: [10.1.0.0/24]\n"
		 "wan:\n  - {name: a, interface: w, gateway: 192.0.2.1}\n");
	assert_false(xwan_config_has_ipv6(&cfg, &nets, &wans));
	assert_false(cfg.wans[0].v6.enabled);
}

#define WANS6 "wan:\n" \
	"  - name: isp1\n    interface: wan1\n    gateway: 203.0.113.1\n" \
	"    gateway6: 2001:db8:1::1\n    npt: {outside: 2001:db8:1:100::/64}\n" \
	"  - {name: isp3, interface: wan3, gateway: 192.0.2.1}\n" \
	"groups:\n  - {name: g, members: [{wan: isp1}]}\n" \
	"  - {name: v4only, members: [{wan: isp3}]}\ndefault_group: g\n"

/* A rule's family: its prefixes', `family:`, or `proto: icmpv6`; else both. */
static void test_rules_ipv6(void **state)
{
	(void)state;
	parse_ok(LAN6 WANS6 "rules:\n"
		 "  - {name: a, dst: \"2001:db8:ffff::/48\", group: g}\n"
		 "  - {name: b, src: \"fd00:1::8000/113\", dst: 2001:db8::1, action: drop}\n"
		 "  - {name: c, proto: udp, dport: 53, group: v4only}\n"
		 "  - {name: d, family: ipv6, proto: tcp, group: g}\n"
		 "  - {name: e, proto: icmpv6, action: drop}\n"
		 "  - {name: f, dst: 192.0.2.0/24, proto: icmp, group: v4only}\n");
	assert_int_equal(cfg.rules[0].family, RULE_FAMILY_IPV6);
	assert_ip6(cfg.rules[0].dst6.addr, "2001:db8:ffff::");
	assert_int_equal(cfg.rules[0].dst6.plen, 48);
	assert_int_equal(cfg.rules[0].src6.plen, 0);
	assert_ip6(cfg.rules[1].src6.addr, "fd00:1::8000");
	assert_int_equal(cfg.rules[1].src6.plen, 113);
	assert_int_equal(cfg.rules[1].dst6.plen, 128);
	assert_int_equal(cfg.rules[2].family, RULE_FAMILY_ANY);
	assert_int_equal(cfg.rules[3].family, RULE_FAMILY_IPV6);
	assert_int_equal(cfg.rules[4].family, RULE_FAMILY_IPV6);
	assert_int_equal(cfg.rules[4].proto, IPPROTO_ICMP);
	assert_int_equal(cfg.rules[5].family, RULE_FAMILY_IPV4);
	assert_int_equal(cfg.rules[5].dst.addr, ip("192.0.2.0"));

	parse_fails(LAN6 WANS6 "rules:\n  - {name: r, src: 10.1.0.0/24, dst: \"2001:db8::/32\", "
		    "action: drop}\n",
		    "xwan.yaml:16: rules[0].dst: is IPv6 while src makes the rule IPv4: a rule "
		    "matches flows of one family (write one rule per family)");
	parse_fails(LAN6 WANS6 "rules:\n  - {name: r, family: ipv4, proto: icmpv6, action: drop}\n",
		    "xwan.yaml:16: rules[0].proto: is IPv6 while family makes the rule IPv4: a "
		    "rule matches flows of one family (write one rule per family)");
	parse_fails(LAN6 WANS6 "rules:\n  - {name: r, family: inet6, action: drop}\n",
		    "xwan.yaml:16: rules[0].family: unknown value \"inet6\" (expected one of: "
		    "ipv4, ipv6)");
	parse_fails(LAN6 WANS6 "rules:\n  - {name: r, dst: \"2001:db8::1/64\", action: drop}\n",
		    "xwan.yaml:16: rules[0].dst: 2001:db8::1/64 has host bits set; did you "
		    "mean 2001:db8::/64?");
	parse_fails(LAN6 WANS6 "rules:\n  - {name: r, dst: \"2001:db8::/32\", group: v4only}\n",
		    "xwan.yaml:16: rules[0].group: group \"v4only\" has no member with gateway6: "
		    "the IPv6 flows this rule matches would have no gateway");
	/* Control: the same group takes an IPv4 rule. */
	parse_ok(LAN6 WANS6 "rules:\n  - {name: r, dst: 192.0.2.0/24, group: v4only}\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_minimal_defaults),
		cmocka_unit_test(test_synthesized_default_group),
		cmocka_unit_test(test_empty_sections),
		cmocka_unit_test(test_full_file),
		cmocka_unit_test(test_failover_file),
		cmocka_unit_test(test_anchors_resolved),
		cmocka_unit_test(test_example_file),
		cmocka_unit_test(test_check_system_dynamic),
		cmocka_unit_test(test_gateway_auto),
		cmocka_unit_test(test_good_configs),
		cmocka_unit_test(test_bad_configs),
		cmocka_unit_test(test_error_messages),
		cmocka_unit_test(test_gateway_addresses),
		cmocka_unit_test(test_route_table_edges),
		cmocka_unit_test(test_tab_hint),
		cmocka_unit_test(test_file_not_found),
		cmocka_unit_test(test_monitor_defaults_per_method),
		cmocka_unit_test(test_integers_and_booleans),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_groups_and_members),
		cmocka_unit_test(test_forwards),
		cmocka_unit_test(test_aliases_and_cycles),
		cmocka_unit_test(test_buffer_length),
		cmocka_unit_test(test_small_error_buffer),
		cmocka_unit_test(test_control_characters_quoted_safely),
		cmocka_unit_test(test_check_system),
		cmocka_unit_test(test_helpers),
		cmocka_unit_test(test_ipv6_keys),
		cmocka_unit_test(test_rules_ipv6),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
