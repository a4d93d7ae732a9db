// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Per-packet cost of the XDP dataplane through BPF_PROG_TEST_RUN, and how it
 * scales with the flow table. A benchmark, not a test: it prints figures and
 * writes them as JSON (bench/report.py turns them into docs/benchmarks.md),
 * but it does check that every measured run took the path it claims to
 * measure (verdict counters), and exits non-zero when one did not.
 *
 *   bench_dp [--quick] [--json FILE] [--harness OBJ] [--bare OBJ]
 *   bench_dp --profile lan_est|new|bare    one case for 5 s, for perf record
 *   bench_dp --rate [--json FILE]          part 2 only (new-flow rate), for
 *                                          before/after comparisons of the
 *                                          new-flow path
 *
 * The environment is the one of tests/bpf/fixture.h (its ideas copied here,
 * with the flow table size as a parameter): a private network namespace
 * with veths lan0/wan1/wan2, permanent gateway neighbours, and the real
 * loader (config parser, dp_load, xwan_sync_all, xwan_sync_neigh).
 *
 * Method. BPF_PROG_TEST_RUN with repeat R runs the program R times on ONE
 * buffer: the second run would see the first one's output (NATed, TTL
 * decremented), not the packet we mean to measure. So every measurement
 * runs bench_wrap (harness.bpf.c), which copies the 64-byte frame back in
 * place, optionally writes a flow's tuple into it, and tail-calls the
 * program under test. The harness's own cost is measured in the same way
 * with a target that only returns (bench_null) and subtracted: "net" is the
 * program's cost, "gross" includes the harness. XDP_REDIRECT is only
 * recorded by test_run (no BPF_F_TEST_XDP_LIVE_FRAMES): nothing is
 * transmitted, so the figures are the programs' own cost.
 */
#include <linux/types.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <getopt.h>
#include <linux/bpf.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "loader/config.h"
#include "loader/dataplane.h"
#include "loader/flows.h"
#include "loader/host.h"
#include "loader/maps.h"
#include "loader/sync.h"
#include "tests/bpf/env.h"
#include "tests/bpf/pkt.h"
#include "bench/bench_tuple.h"

#define NGW 2

/* The fixture's namespace, plus what the bare forwarder needs to route:
 * a default route, and the client as a known neighbour. */
static const char NETNS_SETUP[] = XWAN_TEST_NETNS
	"ip neigh replace 10.1.0.2 lladdr 02:00:00:00:00:02 dev lan0 nud permanent\n"
	"ip route add default via 203.0.113.1 dev wan1\n"
	XWAN_TEST_NETNS6;

/* The tests' config, with the table size left open. */
/* No per-source limits: the new-flow figures open millions from few clients. */
/* IPv6 on as well (nat6 npt), for the IPv6 established path beside IPv4's. */
static const char CONFIG_FMT[] = XWAN_TEST_CONFIG_OF(XWAN_TEST_LAN_WAN6)
	"limits: {unreplied_per_lan_host: 0, unreplied_per_wan_host: 0}\n"
	"flow_table_size: %u\n";

static const uint8_t MAC_CLIENT[6] = { 0x02, 0, 0, 0, 0, 0x02 };
static const uint8_t MAC_GW[NGW][6] = {
	{ 0x02, 0, 0, 0, 0x01, 0x01 },
	{ 0x02, 0, 0, 0, 0x02, 0x01 },
};

/* One loaded dataplane. */
struct env {
	struct xwan_dp dp;
	struct xwan_config cfg;
	struct xwan_host host;
	const struct xwan_maps *m;
	int xdp_lan, xdp_wan;
	int lan_if, wan_if[NGW];
	uint8_t lan_mac[6], wan_mac[NGW][6];
	uint32_t nat_addr[NGW];
	uint32_t capacity;      /* flows */
};

/* The harness and the bare forwarder. */
static struct {
	int wrap, null, bare;
	int cfg_map, target_map;
} H;

static int g_failed;            /* a measured run did not take its path */
static FILE *g_json;
static bool g_json_first = true;

static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "bench_dp: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(2);
}

static void check(bool ok, const char *fmt, ...)
{
	va_list ap;

	if (ok)
		return;
	va_start(ap, fmt);
	fprintf(stderr, "bench_dp: CHECK FAILED: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	g_failed = 1;
}

static int libbpf_quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	return level == LIBBPF_WARN ? vfprintf(stderr, fmt, ap) : 0;
}

/* ------------------------------------------------------------ statistics */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median(const double *v, int n)
{
	double *s = malloc(sizeof(*s) * (size_t)n), m;

	if (!s || n == 0)
		die("median of nothing");
	memcpy(s, v, sizeof(*s) * (size_t)n);
	qsort(s, (size_t)n, sizeof(*s), cmp_double);
	m = n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
	free(s);
	return m;
}

/* A named series of per-round figures, written to the JSON as
 * "name": {"median": m, "min": a, "max": b, "runs": [...]}. */
#define MAX_ROUNDS 64
struct series {
	const char *name;
	double v[MAX_ROUNDS];
	int n;
};

static void series_add(struct series *s, double x)
{
	if (s->n < MAX_ROUNDS)
		s->v[s->n++] = x;
}

static double series_med(const struct series *s)
{
	return median(s->v, s->n);
}

static void json_key(const char *name)
{
	fprintf(g_json, "%s\n  \"%s\": ", g_json_first ? "" : ",", name);
	g_json_first = false;
}

static void json_series(const struct series *s)
{
	double lo = s->v[0], hi = s->v[0];

	for (int i = 1; i < s->n; i++) {
		lo = s->v[i] < lo ? s->v[i] : lo;
		hi = s->v[i] > hi ? s->v[i] : hi;
	}
	json_key(s->name);
	fprintf(g_json, "{\"median\": %.3f, \"min\": %.3f, \"max\": %.3f, \"runs\": [",
		series_med(s), lo, hi);
	for (int i = 0; i < s->n; i++)
		fprintf(g_json, "%s%.3f", i ? ", " : "", s->v[i]);
	fprintf(g_json, "]}");
}

static void json_num(const char *name, double v)
{
	json_key(name);
	fprintf(g_json, "%.3f", v);
}

static void json_str(const char *name, const char *v)
{
	json_key(name);
	fprintf(g_json, "\"%s\"", v);
}

/* ------------------------------------------------------------- counters */

static uint64_t verdict(const struct env *e, int hook, int v)
{
	__u64 n = 0;

	if (xwan_percpu_sum(e->m->fd[XM_VERDICTS], (__u32)XWAN_VERDICT_IDX(hook, v), &n,
			    sizeof(n)))
		die("cannot read verdict counters");
	return n;
}

static uint64_t event(const struct env *e, int ev)
{
	__u64 n = 0;

	if (xwan_percpu_sum(e->m->fd[XM_EVENTS], (__u32)ev, &n, sizeof(n)))
		die("cannot read event counters");
	return n;
}

/* Every verdict and event counter of a dataplane, to diff around a run. */
struct snap {
	uint64_t v[HOOK_MAX][V_MAX];
	uint64_t ev[EV_MAX];
};

static void snap_take(const struct env *e, struct snap *s)
{
	for (int h = HOOK_XDP_LAN; h <= HOOK_XDP_WAN; h++)
		for (int v = 0; v < V_MAX; v++)
			s->v[h][v] = verdict(e, h, v);
	for (int i = 0; i < EV_MAX; i++)
		s->ev[i] = event(e, i);
}

/* Verdicts of a hook other than `want` that moved between two snapshots. */
static uint64_t snap_other(const struct snap *a, const struct snap *b, int hook, int want)
{
	uint64_t n = 0;

	for (int v = 0; v < V_MAX; v++)
		if (v != want)
			n += b->v[hook][v] - a->v[hook][v];
	return n;
}

/* ------------------------------------------------------------- frames */

struct tcp_pk {
	const uint8_t *dmac, *smac;
	uint32_t sa, da;        /* network order */
	uint16_t sp, dp;        /* host order */
	uint8_t flags;
};

/* A 64-byte Ethernet/IPv4/TCP frame: 20-byte TCP header and 10 bytes of data. */
static void mk_tcp(uint8_t out[BENCH_FRAME], const struct tcp_pk *p)
{
	static const uint8_t payload[10] = "xwanbench";
	struct ip4_spec ip = { .saddr = p->sa, .daddr = p->da, .proto = PROTO_TCP, .ttl = 64,
			       .id = 0x4242 };
	uint8_t l4[64];
	struct frame f;
	size_t n;

	n = l4_tcp(l4, p->sa, p->da, p->sp, p->dp, p->flags, 1000,
		   (p->flags & F_ACK) ? 5000 : 0, payload, sizeof(payload));
	frame_ipv4(&f, p->dmac, p->smac, &ip, l4, n);
	if (f.len != BENCH_FRAME)
		die("frame is %zu bytes, not %d", f.len, BENCH_FRAME);
	memcpy(out, f.d, BENCH_FRAME);
}

/* LAN -> WAN packet of benchmark flow i. */
static void frame_lan(const struct env *e, uint8_t *out, uint32_t i, uint8_t flags)
{
	struct tcp_pk p = { e->lan_mac, MAC_CLIENT, htonl(bt_client(i)), htonl(bt_remote(i)),
			    bt_sport(i), BT_DPORT, flags };

	mk_tcp(out, &p);
}

/* WAN -> LAN reply of flow i, on gateway gw whose NAT kept the client's port. */
static void frame_wan(const struct env *e, uint8_t *out, uint32_t i, int gw, uint16_t port,
		      uint8_t flags)
{
	struct tcp_pk p = { e->wan_mac[gw], MAC_GW[gw], htonl(bt_remote(i)), e->nat_addr[gw],
			    BT_DPORT, port, flags };

	mk_tcp(out, &p);
}

/* ------------------------------------------------------------- running */

/*
 * repeat runs of target through the harness; returns ns per run as the
 * kernel's test_run timer reports it (integer ns, preemption excluded).
 */
static double run_wrapped(int target, const struct bench_cfg *c, int ifindex, uint32_t repeat,
			  uint32_t *retval)
{
	__u32 zero = 0;
	struct xdp_md ctx = { .data_end = BENCH_FRAME, .ingress_ifindex = (__u32)ifindex };
	uint8_t data[BENCH_FRAME];
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = data, .data_size_in = BENCH_FRAME,
		    .ctx_in = &ctx, .ctx_size_in = sizeof(ctx), .repeat = repeat);

	memcpy(data, c->frame, BENCH_FRAME);
	if (bpf_map_update_elem(H.cfg_map, &zero, c, BPF_ANY) ||
	    bpf_map_update_elem(H.target_map, &zero, &target, BPF_ANY))
		die("cannot set up the harness: %s", strerror(errno));
	if (bpf_prog_test_run_opts(H.wrap, &opts))
		die("BPF_PROG_TEST_RUN: %s", strerror(errno));
	if (retval)
		*retval = opts.retval;
	return (double)opts.duration;
}

/* One run of prog on a fresh copy of frame: the duration of that one run. */
static double run_once(int prog, const uint8_t *frame, int ifindex, uint32_t *retval)
{
	struct xdp_md ctx = { .data_end = BENCH_FRAME, .ingress_ifindex = (__u32)ifindex };
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame, .data_size_in = BENCH_FRAME,
		    .ctx_in = &ctx, .ctx_size_in = sizeof(ctx), .repeat = 1);

	if (bpf_prog_test_run_opts(prog, &opts))
		die("BPF_PROG_TEST_RUN: %s", strerror(errno));
	if (retval)
		*retval = opts.retval;
	return (double)opts.duration;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ------------------------------------------------------------- setup */

static void env_load(struct env *e, uint32_t capacity)
{
	static const uint8_t st[XWAN_MAX_GATEWAYS] = { GW_STATUS_ONLINE, GW_STATUS_ONLINE };
	static const bool usable[XWAN_MAX_GATEWAYS] = { true, true };
	char text[sizeof(CONFIG_FMT) + 16], err[XWAN_ERR_MAX];
	int n;

	memset(e, 0, sizeof(*e));
	e->capacity = capacity;
	n = snprintf(text, sizeof(text), CONFIG_FMT, capacity);
	if (xwan_config_parse(text, (size_t)n, "bench.yaml", &e->cfg, err, sizeof(err)))
		die("config: %s", err);
	if (xwan_host_gather(&e->cfg, &e->host, err, sizeof(err)))
		die("host: %s", err);
	if (dp_load(&e->dp, e->cfg.flow_table_size, err, sizeof(err)))
		die("dp_load: %s", err);
	e->m = &e->dp.maps;
	if (xwan_sync_all(&e->cfg, &e->host, e->m, st, usable, err, sizeof(err)))
		die("sync: %s", err);
	for (int i = 0; i < NGW; i++) {
		int rc = xwan_sync_neigh(e->m, i, e->host.wan[i].ifindex, e->cfg.wans[i].gateway, 0);

		if (rc)
			die("gateway %d neighbour: %s", i, strerror(-rc));
		e->wan_if[i] = e->host.wan[i].ifindex;
		memcpy(e->wan_mac[i], e->host.wan[i].mac, 6);
		e->nat_addr[i] = e->host.wan_addr[i].addr;
	}
	e->lan_if = e->host.lan[0].ifindex;
	memcpy(e->lan_mac, e->host.lan[0].mac, 6);
	/* Native XDP everywhere, into devices with XDP transmit (devpath_sync's
	 * decision on a router with such NICs): every LAN <-> WAN pair redirects. */
	for (int i = 0; i < NGW; i++) {
		struct tx_path t = { .path = XDP_TX_REDIRECT };
		struct tx_path_key k = { (uint32_t)e->lan_if, (uint32_t)e->wan_if[i] };
		struct tx_path_key r = { (uint32_t)e->wan_if[i], (uint32_t)e->lan_if };

		if (bpf_map_update_elem(e->m->fd[XM_TX_PATHS], &k, &t, BPF_ANY) ||
		    bpf_map_update_elem(e->m->fd[XM_TX_PATHS], &r, &t, BPF_ANY))
			die("tx_paths: %s", strerror(errno));
	}
	e->xdp_lan = dp_prog_fd(&e->dp, "xdp_lan");
	e->xdp_wan = dp_prog_fd(&e->dp, "xdp_wan");
	if (e->xdp_lan < 0 || e->xdp_wan < 0)
		die("xdp_lan/xdp_wan missing from the dataplane");
}

static struct bpf_object *obj_load(const char *path)
{
	struct bpf_object *o = bpf_object__open_file(path, NULL);

	if (!o)
		die("cannot open %s: %s", path, strerror(errno));
	if (bpf_object__load(o))
		die("cannot load %s: %s", path, strerror(errno));
	return o;
}

static int prog_fd(struct bpf_object *o, const char *name)
{
	struct bpf_program *p = bpf_object__find_program_by_name(o, name);

	if (!p)
		die("no program %s", name);
	return bpf_program__fd(p);
}

static int map_fd(struct bpf_object *o, const char *name)
{
	int fd = bpf_object__find_map_fd_by_name(o, name);

	if (fd < 0)
		die("no map %s", name);
	return fd;
}

static void harness_load(const struct env *e, const char *harness, const char *bare)
{
	struct bpf_object *h = obj_load(harness), *b = obj_load(bare);
	int tx = map_fd(b, "bare_tx");
	int ifs[] = { e->lan_if, e->wan_if[0], e->wan_if[1] };

	H.wrap = prog_fd(h, "bench_wrap");
	H.null = prog_fd(h, "bench_null");
	H.cfg_map = map_fd(h, "bench_cfg");
	H.target_map = map_fd(h, "bench_target");
	H.bare = prog_fd(b, "bare_fwd");
	for (size_t i = 0; i < sizeof(ifs) / sizeof(ifs[0]); i++)
		if (bpf_map_update_elem(tx, &ifs[i], &ifs[i], BPF_ANY))
			die("bare_tx: %s", strerror(errno));
}

/* ------------------------------------------------------------ the table */

static void gauge_set(const struct env *e, uint64_t n)
{
	struct flow_gauge g = { .active = n };
	__u32 zero = 0;

	if (bpf_map_update_elem(e->m->fd[XM_FLOW_GAUGE], &zero, &g, BPF_ANY))
		die("flow_gauge: %s", strerror(errno));
}

static void table_clear(int fd)
{
	enum { B = 65536 };
	struct flow_key *keys = malloc(sizeof(*keys) * B);
	struct flow_entry *vals = malloc(sizeof(*vals) * B);
	struct flow_key k;
	__u64 batch = 0;
	bool first = true;

	if (!keys || !vals)
		die("out of memory");
	for (;;) {
		__u32 count = B;
		int rc = bpf_map_lookup_and_delete_batch(fd, first ? NULL : &batch, &batch, keys,
							 vals, &count, NULL);

		first = false;
		if (rc && errno != ENOENT)
			die("clearing the flow table: %s", strerror(errno));
		if (rc)
			break;
	}
	/* Whatever the batch walk missed (entries the LRU moved meanwhile). */
	while (bpf_map_get_next_key(fd, NULL, &k) == 0)
		bpf_map_delete_elem(fd, &k);
	free(keys);
	free(vals);
}

/* Both flow tables: answered and not yet answered. */
static void flows_clear(const struct env *e)
{
	table_clear(e->m->fd[XM_FLOWS]);
	table_clear(e->m->fd[XM_FLOWS_NEW]);
	gauge_set(e, 0);
}

static uint64_t table_count(int fd)
{
	enum { B = 65536 };
	struct flow_key *keys = malloc(sizeof(*keys) * B);
	struct flow_entry *vals = malloc(sizeof(*vals) * B);
	__u64 batch = 0;
	uint64_t n = 0;
	bool first = true;

	if (!keys || !vals)
		die("out of memory");
	for (;;) {
		__u32 count = B;
		int rc = bpf_map_lookup_batch(fd, first ? NULL : &batch, &batch, keys, vals,
					      &count, NULL);

		first = false;
		n += count;
		if (rc)
			break;
	}
	free(keys);
	free(vals);
	return n;
}

static uint64_t flows_count(const struct env *e)
{
	return table_count(e->m->fd[XM_FLOWS]) + table_count(e->m->fd[XM_FLOWS_NEW]);
}

/*
 * Benchmark flows [from, to) as the dataplane would have made them: both
 * entries, established TCP, NAT on gateway 0 keeping the client's port.
 */
static void flows_fill(const struct env *e, uint32_t from, uint32_t to)
{
	enum { B = 32768 };     /* flows per batch: 2 entries each */
	struct flow_key *keys = calloc(2 * B, sizeof(*keys));
	struct flow_entry *vals = calloc(2 * B, sizeof(*vals));
	uint64_t now = xwan_now_ns();
	const int gw = 0;

	if (!keys || !vals)
		die("out of memory");
	for (uint32_t base = from; base < to; base += B) {
		__u32 n = 0;

		for (uint32_t i = base; i < to && i < base + B; i++) {
			struct flow_key ko = {
				.saddr = htonl(bt_client(i)), .daddr = htonl(bt_remote(i)),
				.sport = htons(bt_sport(i)), .dport = htons(BT_DPORT),
				.proto = PROTO_TCP,
			};
			struct flow_key ki = {
				.saddr = ko.daddr, .daddr = e->nat_addr[gw], .sport = ko.dport,
				.dport = ko.sport, .proto = PROTO_TCP,
			};
			struct flow_entry *o = &vals[n], *in = &vals[n + 1];

			memset(o, 0, 2 * sizeof(*o));
			keys[n] = ko;
			keys[n + 1] = ki;
			o->created_ns = in->created_ns = now;
			o->last_seen_ns = in->last_seen_ns = now;
			o->state = in->state = FLOW_STATE_ESTABLISHED;
			o->gw = in->gw = gw;
			o->group = in->group = 0;
			o->flags = in->flags = FLOW_F_NAT;
			o->ct = in->ct = FLOW_CT_REPLIED;     /* answered: the table they live in */
			o->rule = in->rule = XWAN_RULE_NONE;

			o->peer = ki;
			o->xlate_addr = e->nat_addr[gw];
			o->xlate_port = ko.sport;
			o->dir = FLOW_DIR_OUT;
			o->in_ifindex = (__u32)e->lan_if;
			o->out_ifindex = (__u32)e->wan_if[gw];
			o->out_mtu = (__u16)e->host.wan[gw].mtu;

			in->peer = ko;
			in->xlate_addr = ko.saddr;
			in->xlate_port = ko.sport;
			in->dir = FLOW_DIR_IN;
			in->in_ifindex = (__u32)e->wan_if[gw];
			in->out_ifindex = (__u32)e->lan_if;
			in->out_mtu = (__u16)e->host.lan[0].mtu;
			memcpy(in->l2_dst, MAC_CLIENT, 6);
			memcpy(in->l2_src, e->lan_mac, 6);
			n += 2;
		}
		if (bpf_map_update_batch(e->m->fd[XM_FLOWS], keys, vals, &n, NULL))
			die("filling the flow table (%u..%u): %s", from, to, strerror(errno));
	}
	free(keys);
	free(vals);
	gauge_set(e, to);
}

/* The memory the kernel charges for a map (fdinfo memlock). */
static uint64_t map_memlock(int fd)
{
	char path[64], line[256];
	uint64_t v = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "memlock: %lu", &v) == 1)
			break;
	fclose(f);
	return v;
}

/* Both flow tables: what a flow of capacity costs includes the unanswered one. */
static uint64_t flows_memlock(const struct env *e)
{
	return map_memlock(e->m->fd[XM_FLOWS]) + map_memlock(e->m->fd[XM_FLOWS_NEW]);
}

/*
 * Open flow i the way a client does, through the dataplane (SYN, SYN-ACK,
 * ACK): returns its gateway and NAT port.
 */
static void flow_open(const struct env *e, uint32_t i, int *gw, uint16_t *port)
{
	struct flow_key k = { .saddr = htonl(bt_client(i)), .daddr = htonl(bt_remote(i)),
			      .sport = htons(bt_sport(i)), .dport = htons(BT_DPORT),
			      .proto = PROTO_TCP };
	struct bench_cfg c = { .vary = VARY_NONE };
	struct flow_entry fe;
	uint32_t rv;

	frame_lan(e, c.frame, i, F_SYN);
	run_wrapped(e->xdp_lan, &c, e->lan_if, 1, &rv);
	if (rv != XDP_REDIRECT || bpf_map_lookup_elem(e->m->fd[XM_FLOWS_NEW], &k, &fe))
		die("flow %u: the SYN did not open a flow (action %u)", i, rv);
	*gw = fe.gw;
	*port = ntohs(fe.xlate_port);
	frame_wan(e, c.frame, i, *gw, *port, F_SYN | F_ACK);
	run_wrapped(e->xdp_wan, &c, e->wan_if[*gw], 1, &rv);
	frame_lan(e, c.frame, i, F_ACK);
	run_wrapped(e->xdp_lan, &c, e->lan_if, 1, &rv);
	if (bpf_map_lookup_elem(e->m->fd[XM_FLOWS], &k, &fe) ||
	    fe.state != FLOW_STATE_ESTABLISHED)
		die("flow %u is not established after the handshake", i);
}

/* ------------------------------------------------------------ IPv6 */

/*
 * One IPv6 TCP flow (issue 13), client fd00:1::2 to a remote, opened by a
 * handshake through the programs: lan and wan are its established
 * segments (an ACK out, the remote's ACK back to the translated address),
 * len bytes each; gw is the WAN the flow took.
 */
struct flow6_bench {
	struct frame lan, wan;
	int gw;
};

static const uint8_t V6_CLIENT[16] = { 0xfd, 0, 0, 1, [15] = 2 };
static const uint8_t V6_REMOTE[16] = { 0x20, 0x01, 0x0d, 0xb8, 0xff, 0xff, [15] = 0x10 };

static void tcp6_frame(struct frame *f, const uint8_t dmac[6], const uint8_t smac[6],
		       const uint8_t sa[16], const uint8_t da[16], uint16_t sp, uint16_t dp,
		       uint8_t flags)
{
	static const uint8_t payload[10] = "xwanbench";
	uint8_t t[30] = { 0 };

	wr16(t, sp);
	wr16(t + 2, dp);
	wr32(t + 4, 1000);
	wr32(t + 8, (flags & F_ACK) ? 5000 : 0);
	t[12] = 5 << 4;
	t[13] = flags;
	wr16(t + 14, 64240);
	memcpy(t + 20, payload, sizeof(payload));
	frame_ipv6(f, dmac, smac, sa, da, PROTO_TCP, 64, t, sizeof(t), 16, PROTO_TCP);
}

/* One run of prog on frame f (its own length); the output frame into out. */
static double run6(int prog, const struct frame *f, int ifindex, struct frame *out,
		   uint32_t *retval)
{
	struct xdp_md ctx = { .data_end = (__u32)f->len, .ingress_ifindex = (__u32)ifindex };
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = f->d, .data_size_in = (__u32)f->len,
		    .ctx_in = &ctx, .ctx_size_in = sizeof(ctx), .repeat = 1);

	if (out) {
		opts.data_out = out->d;
		opts.data_size_out = sizeof(out->d);
	}
	if (bpf_prog_test_run_opts(prog, &opts))
		die("BPF_PROG_TEST_RUN (IPv6): %s", strerror(errno));
	if (out)
		out->len = opts.data_size_out;
	if (retval)
		*retval = opts.retval;
	return (double)opts.duration;
}

static void flow6_open(const struct env *e, uint16_t sport, struct flow6_bench *b)
{
	struct frame f, o;
	uint8_t pub[16];
	uint32_t rv;

	tcp6_frame(&f, e->lan_mac, MAC_CLIENT, V6_CLIENT, V6_REMOTE, sport, BT_DPORT, F_SYN);
	run6(e->xdp_lan, &f, e->lan_if, &o, &rv);
	if (rv != XDP_REDIRECT)
		die("IPv6 flow: the SYN was not forwarded (action %u; IPv6 dataplane off?)", rv);
	b->gw = !memcmp(o.d, MAC_GW[1], 6);
	memcpy(pub, o.d + ETH_LEN + 8, 16);
	tcp6_frame(&b->wan, e->wan_mac[b->gw], MAC_GW[b->gw], V6_REMOTE, pub, BT_DPORT, sport,
		   F_SYN | F_ACK);
	run6(e->xdp_wan, &b->wan, e->wan_if[b->gw], NULL, &rv);
	if (rv != XDP_REDIRECT)
		die("IPv6 flow: the SYN-ACK was not forwarded (action %u)", rv);
	tcp6_frame(&b->lan, e->lan_mac, MAC_CLIENT, V6_CLIENT, V6_REMOTE, sport, BT_DPORT, F_ACK);
	tcp6_frame(&b->wan, e->wan_mac[b->gw], MAC_GW[b->gw], V6_REMOTE, pub, BT_DPORT, sport,
		   F_ACK);
	run6(e->xdp_lan, &b->lan, e->lan_if, NULL, &rv);
	if (rv != XDP_REDIRECT)
		die("IPv6 flow: the ACK was not forwarded (action %u)", rv);
}

/* ------------------------------------------------------------ measuring */

struct meas {
	int prog;               /* program under test */
	int ifindex;            /* where the frame arrives */
	struct bench_cfg c;
	uint32_t repeat;
	uint32_t want_action;   /* XDP_* */
	int hook, want_v;       /* verdict every run must end in; hook -1: no check */
	bool new_flows;         /* every run must create a flow */
};

/*
 * One measurement: ns per run (gross: with the harness). Checks that all
 * `repeat` runs ended in the expected verdict (and created flows if asked).
 */
static double measure(const struct env *e, struct meas *m, const char *what)
{
	struct snap a, b;
	uint32_t rv;
	double ns;

	if (m->hook >= 0)
		snap_take(e, &a);
	ns = run_wrapped(m->prog, &m->c, m->ifindex, m->repeat, &rv);
	check(rv == m->want_action, "%s: action %u, expected %u", what, rv, m->want_action);
	if (m->hook >= 0) {
		snap_take(e, &b);
		check(b.v[m->hook][m->want_v] - a.v[m->hook][m->want_v] == m->repeat &&
			      snap_other(&a, &b, m->hook, m->want_v) == 0,
		      "%s: %lu of %u runs ended in the expected verdict, %lu in others", what,
		      (unsigned long)(b.v[m->hook][m->want_v] - a.v[m->hook][m->want_v]),
		      m->repeat, (unsigned long)snap_other(&a, &b, m->hook, m->want_v));
		if (m->new_flows)
			check(b.ev[EV_FLOW_CREATED] - a.ev[EV_FLOW_CREATED] == m->repeat,
			      "%s: %lu flows created in %u runs", what,
			      (unsigned long)(b.ev[EV_FLOW_CREATED] - a.ev[EV_FLOW_CREATED]),
			      m->repeat);
		else
			check(b.ev[EV_FLOW_CREATED] == a.ev[EV_FLOW_CREATED],
			      "%s: created flows", what);
	}
	if (m->c.vary == VARY_NEW && m->prog != H.null)
		m->c.next += m->repeat;
	return ns;
}

/*
 * The harness's own cost for a measurement: the same frame variation, with
 * bench_null as the target (for VARY_NEW the flow numbers are not used up).
 */
static double harness_cost(const struct env *e, const struct meas *m)
{
	struct meas n = *m;

	n.prog = H.null;
	n.hook = -1;
	n.want_action = XDP_REDIRECT;
	n.new_flows = false;
	return measure(e, &n, "harness");
}

/* ------------------------------------------------------------ the parts */

static struct {
	bool quick;
	int rounds, scale_rounds, rate_passes;
	uint32_t repeat, new_repeat, single;
	uint32_t big_capacity, rate_capacity;
} O;

/* Flow numbers used by the new-flow runs start far above the filled ones. */
static uint32_t g_next_new = 1u << 24;

/* Part 1: per-packet cost of each path, interleaved rounds. */
static void part_paths(const struct env *e)
{
	struct series null_s = { .name = "harness_ns" }, bare_s = { .name = "bare_lan_ns" },
		      bare_w = { .name = "bare_wan_ns" }, lan_s = { .name = "lan_est_ns" },
		      wan_s = { .name = "wan_est_ns" }, new_s = { .name = "new_flow_ns" },
		      uns_s = { .name = "wan_unsolicited_ns" }, ratio_l = { .name = "ratio_lan_bare" },
		      ratio_w = { .name = "ratio_wan_bare" }, ratio_lg = { .name = "ratio_lan_bare_gross" },
		      s_null = { .name = "single_null_ns" }, s_lan = { .name = "single_lan_est_ns" },
		      s_new = { .name = "single_new_flow_ns" }, s_bare = { .name = "single_bare_lan_ns" },
		      s_wan = { .name = "single_wan_est_ns" }, s_lan6 = { .name = "single_lan6_est_ns" },
		      s_wan6 = { .name = "single_wan6_est_ns" },
		      r_lan6 = { .name = "ratio_lan6_lan" }, r_wan6 = { .name = "ratio_wan6_wan" };
	struct series *all[] = { &null_s, &bare_s, &bare_w, &lan_s, &wan_s, &new_s, &uns_s,
				 &ratio_l, &ratio_w, &ratio_lg, &s_null, &s_lan, &s_new, &s_bare,
				 &s_wan, &s_lan6, &s_wan6, &r_lan6, &r_wan6 };
	double *tmp = malloc(sizeof(double) * O.single);

	if (!tmp)
		die("out of memory");
	printf("part 1: per-packet cost, %d interleaved rounds, repeat %u (new flows: %u)\n",
	       O.rounds, O.repeat, O.new_repeat);
	for (int r = 0; r < O.rounds; r++) {
		struct meas mn = { .prog = H.null, .ifindex = e->lan_if, .repeat = O.repeat,
				   .want_action = XDP_REDIRECT, .hook = -1 };
		struct meas mb = mn, mbw, ml, mw, mu, mnew;
		double null_ns, bl, bw, l, w, u, nf, nfn;
		int gw;
		uint16_t port;

		flows_clear(e);
		flow_open(e, 0, &gw, &port);

		frame_lan(e, mn.c.frame, 0, F_ACK);
		mb = mn;
		mb.prog = H.bare;
		mbw = mb;
		mbw.ifindex = e->wan_if[0];
		{	/* bare, WAN -> LAN: remote to the client's own address (routed) */
			struct tcp_pk p = { e->wan_mac[0], MAC_GW[0], htonl(bt_remote(0)),
					    htonl(bt_client(0)), BT_DPORT, bt_sport(0),
					    F_ACK };

			mk_tcp(mbw.c.frame, &p);
		}
		ml = mn;
		ml.prog = e->xdp_lan;
		ml.hook = HOOK_XDP_LAN;
		ml.want_v = V_FWD_OUT;
		mw = ml;
		mw.prog = e->xdp_wan;
		mw.ifindex = e->wan_if[gw];
		mw.hook = HOOK_XDP_WAN;
		mw.want_v = V_FWD_IN;
		frame_wan(e, mw.c.frame, 0, gw, port, F_ACK);
		mu = mw;
		mu.ifindex = e->wan_if[0];
		mu.want_action = XDP_DROP;
		mu.want_v = V_DROP_UNSOLICITED;
		{	/* a WAN packet to a LAN address, no flow: dropped */
			struct tcp_pk p = { e->wan_mac[0], MAC_GW[0], htonl(bt_remote(0)),
					    htonl(bt_client(0)), BT_DPORT, 22, F_SYN };

			mk_tcp(mu.c.frame, &p);
		}
		mnew = ml;
		mnew.c.vary = VARY_NEW;
		mnew.c.next = g_next_new;
		mnew.repeat = O.new_repeat;
		mnew.new_flows = true;
		frame_lan(e, mnew.c.frame, 0, F_SYN);

		null_ns = measure(e, &mn, "harness");
		bl = measure(e, &mb, "bare LAN->WAN");
		l = measure(e, &ml, "xdp_lan established");
		bw = measure(e, &mbw, "bare WAN->LAN");
		w = measure(e, &mw, "xdp_wan established");
		u = measure(e, &mu, "xdp_wan unsolicited");
		nfn = harness_cost(e, &mnew);
		nf = measure(e, &mnew, "xdp_lan new flow");
		g_next_new = mnew.c.next;

		series_add(&null_s, null_ns);
		series_add(&bare_s, bl - null_ns);
		series_add(&bare_w, bw - null_ns);
		series_add(&lan_s, l - null_ns);
		series_add(&wan_s, w - null_ns);
		series_add(&uns_s, u - null_ns);
		series_add(&new_s, nf - nfn);
		series_add(&ratio_l, (l - null_ns) / (bl - null_ns));
		series_add(&ratio_w, (w - null_ns) / (bw - null_ns));
		series_add(&ratio_lg, l / bl);

		/*
		 * Cross-check without the harness: single runs (repeat 1) on a
		 * fresh copy of the frame each time, median duration minus the
		 * median of an empty program's. New flows: a new client port
		 * per run.
		 */
		{
			uint8_t f[BENCH_FRAME], fw[BENCH_FRAME];
			struct flow6_bench f6;
			uint32_t rv;
			double sn, sl, sb, sw, swn, sl6, sw6;

			frame_lan(e, f, 0, F_ACK);
			for (uint32_t k = 0; k < O.single; k++)
				tmp[k] = run_once(H.null, f, e->lan_if, NULL);
			sn = median(tmp, (int)O.single);
			for (uint32_t k = 0; k < O.single; k++)
				tmp[k] = run_once(e->xdp_lan, f, e->lan_if, &rv);
			check(rv == XDP_REDIRECT, "single xdp_lan: action %u", rv);
			sl = median(tmp, (int)O.single);
			for (uint32_t k = 0; k < O.single; k++)
				tmp[k] = run_once(H.bare, f, e->lan_if, &rv);
			check(rv == XDP_REDIRECT, "single bare: action %u", rv);
			sb = median(tmp, (int)O.single);
			/* IPv4 and IPv6 established, both directions, same method. */
			frame_wan(e, fw, 0, gw, port, F_ACK);
			for (uint32_t k = 0; k < O.single; k++)
				tmp[k] = run_once(e->xdp_wan, fw, e->wan_if[gw], &rv);
			check(rv == XDP_REDIRECT, "single xdp_wan: action %u", rv);
			swn = median(tmp, (int)O.single);
			flow6_open(e, (uint16_t)(40000 + r), &f6);
			for (uint32_t k = 0; k < O.single; k++)
				tmp[k] = run6(e->xdp_lan, &f6.lan, e->lan_if, NULL, &rv);
			check(rv == XDP_REDIRECT, "single xdp_lan IPv6: action %u", rv);
			sl6 = median(tmp, (int)O.single);
			for (uint32_t k = 0; k < O.single; k++)
				tmp[k] = run6(e->xdp_wan, &f6.wan, e->wan_if[f6.gw], NULL, &rv);
			check(rv == XDP_REDIRECT, "single xdp_wan IPv6: action %u", rv);
			sw6 = median(tmp, (int)O.single);
			uint64_t before = event(e, EV_FLOW_CREATED);
			for (uint32_t k = 0; k < O.single; k++) {
				frame_lan(e, f, g_next_new++, F_SYN);
				tmp[k] = run_once(e->xdp_lan, f, e->lan_if, NULL);
			}
			check(event(e, EV_FLOW_CREATED) - before == O.single,
			      "single new flows: %lu created of %u",
			      (unsigned long)(event(e, EV_FLOW_CREATED) - before), O.single);
			sw = median(tmp, (int)O.single);
			series_add(&s_null, sn);
			series_add(&s_lan, sl - sn);
			series_add(&s_bare, sb - sn);
			series_add(&s_new, sw - sn);
			series_add(&s_wan, swn - sn);
			series_add(&s_lan6, sl6 - sn);
			series_add(&s_wan6, sw6 - sn);
			series_add(&r_lan6, (sl6 - sn) / (sl - sn));
			series_add(&r_wan6, (sw6 - sn) / (swn - sn));
		}
		printf("  round %d: harness %.0f | net ns: bare %.0f, lan est %.0f, bare wan %.0f,"
		       " wan est %.0f, unsolicited %.0f, new flow %.0f (harness %.0f)\n"
		       "           single runs: empty prog %.0f | net: bare %.0f, lan est %.0f,"
		       " new flow %.0f | lan est v4 %.0f v6 %.0f, wan est v4 %.0f v6 %.0f\n",
		       r + 1, null_ns, bl - null_ns, l - null_ns,
		       bw - null_ns, w - null_ns, u - null_ns, nf - nfn, nfn, s_null.v[r],
		       s_bare.v[r], s_lan.v[r], s_new.v[r], s_lan.v[r], s_lan6.v[r], s_wan.v[r],
		       s_wan6.v[r]);
		fflush(stdout);
	}
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		json_series(all[i]);
	free(tmp);
}

/* Part 2a: established cost with 1k, 100k, 1M flows in the table. */
static void part_scale(const struct env *e)
{
	static const uint32_t sizes[] = { 1000, 100000, 1000000 };
	enum { NS = sizeof(sizes) / sizeof(sizes[0]) };
	struct series one[NS], rnd[NS], rndw[NS], null_s = { .name = "scale_harness_ns" };
	static char names[3 * NS][48];
	uint32_t n_sizes = NS;

	if (O.quick)
		n_sizes = NS;   /* the sizes are the point: quick only runs fewer rounds */
	for (uint32_t s = 0; s < n_sizes; s++) {
		snprintf(names[3 * s], sizeof(names[0]), "scale_%u_one_ns", sizes[s]);
		snprintf(names[3 * s + 1], sizeof(names[0]), "scale_%u_random_lan_ns", sizes[s]);
		snprintf(names[3 * s + 2], sizeof(names[0]), "scale_%u_random_wan_ns", sizes[s]);
		one[s] = (struct series){ .name = names[3 * s] };
		rnd[s] = (struct series){ .name = names[3 * s + 1] };
		rndw[s] = (struct series){ .name = names[3 * s + 2] };
	}
	printf("part 2: established cost against table size, %d rounds\n", O.scale_rounds);
	for (int r = 0; r < O.scale_rounds; r++) {
		uint32_t filled = 0;

		flows_clear(e);
		for (uint32_t s = 0; s < n_sizes; s++) {
			struct meas mn = { .prog = H.null, .ifindex = e->lan_if,
					   .repeat = O.repeat, .want_action = XDP_REDIRECT,
					   .hook = -1 };
			struct meas m1, mr, mw;
			double t0 = now_s(), nn, nr, nw, a, b, c;

			flows_fill(e, filled, sizes[s]);
			filled = sizes[s];
			if (r == 0)
				printf("  filled %u flows (%u entries) in %.2f s\n", filled,
				       2 * filled, now_s() - t0);
			frame_lan(e, mn.c.frame, 0, F_ACK);
			m1 = mn;
			m1.prog = e->xdp_lan;
			m1.hook = HOOK_XDP_LAN;
			m1.want_v = V_FWD_OUT;
			mr = m1;
			mr.c.vary = VARY_RAND_LAN;
			mr.c.nflows = filled;
			mw = mr;
			mw.prog = e->xdp_wan;
			mw.ifindex = e->wan_if[0];
			mw.hook = HOOK_XDP_WAN;
			mw.want_v = V_FWD_IN;
			mw.c.vary = VARY_RAND_WAN;
			mw.c.nat_addr = e->nat_addr[0];
			frame_wan(e, mw.c.frame, 0, 0, bt_sport(0), F_ACK);

			nn = measure(e, &mn, "harness");
			a = measure(e, &m1, "xdp_lan, one flow");
			nr = harness_cost(e, &mr);
			b = measure(e, &mr, "xdp_lan, random flows");
			nw = harness_cost(e, &mw);
			c = measure(e, &mw, "xdp_wan, random flows");
			series_add(&null_s, nn);
			series_add(&one[s], a - nn);
			series_add(&rnd[s], b - nr);
			series_add(&rndw[s], c - nw);
			printf("  round %d, %7u flows: one flow %.0f ns, random flow lan %.0f ns,"
			       " wan %.0f ns (harness %.0f/%.0f/%.0f)\n", r + 1, filled, a - nn,
			       b - nr, c - nw, nn, nr, nw);
			fflush(stdout);
		}
	}
	json_series(&null_s);
	for (uint32_t s = 0; s < n_sizes; s++) {
		json_series(&one[s]);
		json_series(&rnd[s]);
		json_series(&rndw[s]);
	}
	{
		uint64_t mem = flows_memlock(e);

		json_num("flows_capacity", e->capacity);
		json_num("flows_memlock_bytes", (double)mem);
		json_num("bytes_per_flow", (double)mem / e->capacity);
		json_num("sizeof_flow_entry", sizeof(struct flow_entry));
		json_num("sizeof_flow_key", sizeof(struct flow_key));
		printf("  flow table: %lu bytes charged for %u flows (%u entries): %.0f bytes/flow\n",
		       (unsigned long)mem, e->capacity, 2 * e->capacity, (double)mem / e->capacity);
	}
	flows_clear(e);
}

/*
 * Part 2b: new flows per second through xdp_lan with distinct tuples, into
 * an empty table until it is full and on (LRU eviction), in chunks of a
 * quarter of the capacity.
 */
static void part_rate(const struct env *e)
{
	enum { CHUNKS = 16 };
	uint32_t chunk = e->capacity / 4;
	struct series fill = { .name = "rate_filling_flows_per_s" }, full = { .name = "rate_full_flows_per_s" };
	double per_chunk[CHUNKS] = { 0 };
	uint64_t fwd_total = 0, sent_total = 0, evicted = 0, alloc_fail = 0;

	printf("part 2: new-flow rate, table of %u flows, %d x %u new flows in chunks of %u\n",
	       e->capacity, O.rate_passes, CHUNKS * chunk, chunk);
	for (int p = 0; p < O.rate_passes; p++) {
		struct meas mn = { .prog = H.null, .ifindex = e->lan_if, .repeat = chunk,
				   .want_action = XDP_REDIRECT, .hook = -1 };
		struct bench_cfg c = { .vary = VARY_NEW, .next = g_next_new };
		double nn;

		flows_clear(e);
		frame_lan(e, mn.c.frame, 0, F_SYN);
		mn.c.vary = VARY_NEW;
		mn.c.next = g_next_new;
		nn = measure(e, &mn, "harness");
		memcpy(c.frame, mn.c.frame, BENCH_FRAME);
		for (int k = 0; k < CHUNKS; k++) {
			struct snap a, b;
			uint32_t rv;
			double ns;

			snap_take(e, &a);
			ns = run_wrapped(e->xdp_lan, &c, e->lan_if, chunk, &rv) - nn;
			c.next += chunk;
			snap_take(e, &b);
			fwd_total += b.v[HOOK_XDP_LAN][V_FWD_OUT] - a.v[HOOK_XDP_LAN][V_FWD_OUT];
			sent_total += chunk;
			evicted += b.ev[EV_FLOW_EVICTED] - a.ev[EV_FLOW_EVICTED];
			alloc_fail += b.v[HOOK_XDP_LAN][V_DROP_FLOW_ALLOC] -
				      a.v[HOOK_XDP_LAN][V_DROP_FLOW_ALLOC];
			per_chunk[k] += ns / O.rate_passes;
			/* Chunks 1-3 fill the table to 75%; from chunk 9 it has been
			 * full for a whole capacity's worth of flows. */
			if (k < 3)
				series_add(&fill, 1e9 / ns);
			else if (k >= 8)
				series_add(&full, 1e9 / ns);
		}
		g_next_new = c.next;
		if (p == 0)
			json_num("rate_table_flows_after", (double)flows_count(e) / 2);
	}
	printf("  ns per new flow by chunk (%% of capacity offered):");
	for (int k = 0; k < CHUNKS; k++)
		printf(" %d%%:%.0f", 25 * (k + 1), per_chunk[k]);
	printf("\n  filling: %.2f M flows/s, full (LRU eviction): %.2f M flows/s;"
	       " forwarded %lu of %lu, flow_alloc drops %lu, eviction events %lu\n",
	       series_med(&fill) / 1e6, series_med(&full) / 1e6, (unsigned long)fwd_total,
	       (unsigned long)sent_total, (unsigned long)alloc_fail, (unsigned long)evicted);
	json_num("rate_capacity", e->capacity);
	json_num("rate_chunk", chunk);
	json_series(&fill);
	json_series(&full);
	json_key("rate_ns_by_chunk");
	fprintf(g_json, "[");
	for (int k = 0; k < CHUNKS; k++)
		fprintf(g_json, "%s%.1f", k ? ", " : "", per_chunk[k]);
	fprintf(g_json, "]");
	json_num("rate_offered", (double)sent_total);
	json_num("rate_forwarded", (double)fwd_total);
	json_num("rate_alloc_drops", (double)alloc_fail);
	json_num("rate_eviction_events", (double)evicted);
	flows_clear(e);
}

/*
 * --profile CASE: only run one case for ~5 s, for a profiler attached from
 * outside (perf record -e cpu-clock: this VM has no hardware counters).
 */
static void profile_case(const struct env *e, const char *what)
{
	struct meas m = { .prog = e->xdp_lan, .ifindex = e->lan_if, .repeat = O.repeat,
			  .want_action = XDP_REDIRECT, .hook = HOOK_XDP_LAN, .want_v = V_FWD_OUT };
	double t0 = now_s();
	int gw;
	uint16_t port;

	flows_clear(e);
	flow_open(e, 0, &gw, &port);
	if (!strcmp(what, "new")) {
		/* at most 1.5M flows into the 2M table: no eviction, no clearing */
		m.c.vary = VARY_NEW;
		m.c.next = g_next_new;
		m.new_flows = true;
		m.repeat = 200000;
		frame_lan(e, m.c.frame, 0, F_SYN);
	} else if (!strcmp(what, "bare")) {
		m.prog = H.bare;
		m.hook = -1;
		frame_lan(e, m.c.frame, 0, F_ACK);
	} else {
		frame_lan(e, m.c.frame, 0, F_ACK);
	}
	for (uint32_t n = 0; now_s() - t0 < 5 && (!m.new_flows || n < 1500000); n += m.repeat)
		measure(e, &m, what);
}

int main(int argc, char **argv)
{
	static struct env big, small;
	const char *json = "build/bench/bench_dp.json";
	const char *harness = "build/bench/harness.bpf.o", *bare = "build/bench/bare_fwd.bpf.o";
	const char *profile = NULL;
	bool rate_only = false;
	static const struct option lo[] = {
		{ "quick", no_argument, NULL, 'q' },
		{ "json", required_argument, NULL, 'j' },
		{ "harness", required_argument, NULL, 'H' },
		{ "bare", required_argument, NULL, 'b' },
		{ "profile", required_argument, NULL, 'p' },
		{ "rate", no_argument, NULL, 'r' },
		{ 0 },
	};
	cpu_set_t cpus;
	int c, cpu;
	double t0 = now_s();

	while ((c = getopt_long(argc, argv, "qj:H:b:p:r", lo, NULL)) != -1) {
		switch (c) {
		case 'q': O.quick = true; break;
		case 'j': json = optarg; break;
		case 'H': harness = optarg; break;
		case 'b': bare = optarg; break;
		case 'p': profile = optarg; break;
		case 'r': rate_only = true; break;
		default:
			fprintf(stderr, "usage: %s [--quick] [--json FILE] [--harness OBJ] [--bare OBJ]"
				" [--profile lan_est|new|bare] [--rate]\n",
				argv[0]);
			return 2;
		}
	}
	O.rounds = O.quick ? 3 : 7;
	O.scale_rounds = O.quick ? 2 : 5;
	O.rate_passes = O.quick ? 1 : 3;
	O.repeat = 1000000;
	O.new_repeat = O.quick ? 200000 : 1000000;
	O.single = O.quick ? 20000 : 50000;
	O.big_capacity = 2097152;       /* 1M established + 1M new flows fit, < 50% */
	O.rate_capacity = 262144;       /* xwan's default flow_table_size */

	libbpf_set_print(libbpf_quiet);
	/* One CPU: test_run runs on the caller's CPU, keep it the same. */
	cpu = sched_getcpu();
	CPU_ZERO(&cpus);
	CPU_SET(cpu < 0 ? 0 : cpu, &cpus);
	if (sched_setaffinity(0, sizeof(cpus), &cpus))
		perror("sched_setaffinity (continuing)");
	if (unshare(CLONE_NEWNET))
		die("unshare(CLONE_NEWNET): %s (run as root)", strerror(errno));
	if (system(NETNS_SETUP) != 0)
		die("cannot build the benchmark namespace");

	if (profile) {
		env_load(&big, O.big_capacity);
		harness_load(&big, harness, bare);
		profile_case(&big, profile);
		return g_failed;
	}
	if (!rate_only)
		env_load(&big, O.big_capacity);
	env_load(&small, O.rate_capacity);
	harness_load(rate_only ? &small : &big, harness, bare);

	g_json = fopen(json, "w");
	if (!g_json)
		die("%s: %s", json, strerror(errno));
	fprintf(g_json, "{");
	json_str("method", "BPF_PROG_TEST_RUN via harness (frame restore + tail call), harness cost subtracted");
	json_num("cpu", cpu);
	json_num("repeat", O.repeat);
	json_num("new_repeat", O.new_repeat);
	json_num("rounds", O.rounds);
	json_num("single_runs", O.single);

	if (!rate_only) {
		part_paths(&big);
		part_scale(&big);
	}
	part_rate(&small);

	json_num("seconds", now_s() - t0);
	json_num("checks_failed", g_failed);
	fprintf(g_json, "\n}\n");
	fclose(g_json);
	dp_destroy(&small.dp);
	if (!rate_only)
		dp_destroy(&big.dp);
	printf("bench_dp: %.0f s%s, results in %s\n", now_s() - t0,
	       g_failed ? ", SOME CHECKS FAILED (see above)" : "", json);
	return g_failed ? 1 : 0;
}
