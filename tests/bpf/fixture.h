/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The dataplane under test, in a private network namespace of the test
 * process:
 *
 *   lan0 10.1.0.1/24      (veth, peer lan0p)       LAN 10.1.0.0/24
 *   wan1 203.0.113.2/24   (veth, peer wan1p)       isp1, gw 203.0.113.1, weight 3
 *   wan2 198.51.100.2/24  (veth, peer wan2p)       isp2, gw 198.51.100.1, weight 1
 *
 * with PERMANENT neighbour entries for both gateways (and one more host on
 * wan2's subnet), so the XDP program's bpf_fib_lookup resolves them
 * deterministically. Both BPF objects are
 * loaded once (dp_load) and their maps filled the way `xwan up` fills them:
 * xwan_config_parse + xwan_host_gather + xwan_sync_all + xwan_sync_neigh.
 * Before every test fx_reset() empties the flow and fragment tables, zeroes
 * every counter and rewrites the config-derived maps, so tests that change
 * the config (weights, methods, port ranges) leave nothing behind.
 *
 * The process is pinned to one CPU: per-CPU state (round-robin position,
 * counters) then behaves as on a single queue.
 */
#ifndef XWAN_TEST_FIXTURE_H
#define XWAN_TEST_FIXTURE_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <linux/bpf.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "loader/config.h"
#include "loader/dataplane.h"
#include "loader/host.h"
#include "loader/sync.h"
#include "tests/bpf/env.h"
#include "tests/bpf/pkt.h"

#define NGW 2

static const char FX_CONFIG[] = XWAN_TEST_CONFIG
	"flow_table_size: 65536\n";

/* The namespace; MACs are fixed so expected frames can be written down. */
static const char FX_NETNS_SETUP[] = XWAN_TEST_NETNS
	"ip neigh replace 198.51.100.77 lladdr 02:00:00:00:02:77 dev wan2 nud permanent\n";

/* Another host on isp2's subnet (not the gateway), and its MAC. */
#define WAN2_NEIGHBOUR "198.51.100.77"
static const uint8_t MAC_WAN2_NEIGHBOUR[6] = { 0x02, 0, 0, 0, 0x02, 0x77 };

/* The gateways' MACs, as in the neighbour entries above. */
static const uint8_t MAC_GW[NGW][6] = {
	{ 0x02, 0, 0, 0, 0x01, 0x01 },
	{ 0x02, 0, 0, 0, 0x02, 0x01 },
};

/* The LAN client's MAC (either family's tests). */
static const uint8_t MAC_CLIENT[6] = { 0x02, 0, 0, 0, 0, 0x02 };

struct fixture {
	struct xwan_dp dp;
	struct xwan_config cfg;
	struct xwan_host host;
	uint8_t status[XWAN_MAX_GATEWAYS];
	bool usable[XWAN_MAX_GATEWAYS];
	const struct xwan_maps *m;
	int xdp_lan, xdp_wan, tc_lan_in, tc_wan_in, tc_wan_out;
	int lan_if, wan_if[NGW];
	uint8_t lan_mac[6], wan_mac[NGW][6];
	uint32_t nat_addr[NGW];
	uint32_t fwmark_mask;
	int ncpu;
	bool loaded;
};

static struct fixture FX;

/*
 * For test files of one concern (rules, port forwards): FX_BASE_YAML
 * replaces FX_CONFIG (set it before the group setup), and FX_TWEAK may
 * change the parsed config before every reset (sticky on or off).
 */
static const char *FX_BASE_YAML;
static void (*FX_TWEAK)(struct xwan_config *cfg);

static inline int fx_libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level != LIBBPF_WARN)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

/* Reparse the config (tests may have changed FX.cfg) and gather the host. */
static inline int fx_config(void)
{
	const char *yaml = FX_BASE_YAML ? FX_BASE_YAML : FX_CONFIG;
	char err[XWAN_ERR_MAX];

	if (xwan_config_parse(yaml, strlen(yaml), "test.yaml", &FX.cfg, err, sizeof(err))) {
		fprintf(stderr, "fixture config: %s\n", err);
		return -1;
	}
	if (FX_TWEAK)
		FX_TWEAK(&FX.cfg);
	if (xwan_host_gather(&FX.cfg, &FX.host, err, sizeof(err))) {
		fprintf(stderr, "fixture host: %s\n", err);
		return -1;
	}
	return 0;
}

static inline int fx_clear_hash(int fd)
{
	uint8_t key[64];

	while (bpf_map_get_next_key(fd, NULL, key) == 0) {
		if (bpf_map_delete_elem(fd, key))
			return -errno;
	}
	return 0;
}

static inline int fx_zero_percpu(int fd, uint32_t n, size_t vsz)
{
	size_t stride = (vsz + 7) & ~(size_t)7;
	void *zero = calloc((size_t)FX.ncpu, stride);
	int rc = 0;

	if (!zero)
		return -ENOMEM;
	for (uint32_t k = 0; k < n && !rc; k++)
		if (bpf_map_update_elem(fd, &k, zero, BPF_ANY))
			rc = -errno;
	free(zero);
	return rc;
}

/*
 * The XDP transmit path of every LAN <-> WAN pair, as devpath_sync() would
 * write it for devices that all take redirects (or none).
 */
static inline int fx_tx_paths(uint8_t path)
{
	struct tx_path t = { .path = path };
	struct tx_path_key k;

	for (int l = 0; l < FX.cfg.n_lans; l++)
		for (int w = 0; w < FX.cfg.n_wans; w++) {
			k.in_ifindex = (uint32_t)FX.host.lan[l].ifindex;
			k.out_ifindex = (uint32_t)FX.host.wan[w].ifindex;
			if (bpf_map_update_elem(FX.dp.maps.fd[XM_TX_PATHS], &k, &t, BPF_ANY))
				return -errno;
			k.in_ifindex = (uint32_t)FX.host.wan[w].ifindex;
			k.out_ifindex = (uint32_t)FX.host.lan[l].ifindex;
			if (bpf_map_update_elem(FX.dp.maps.fd[XM_TX_PATHS], &k, &t, BPF_ANY))
				return -errno;
		}
	return 0;
}

/* Every test starts here: config maps as `xwan up` writes them, no state. */
static inline int fx_reset(void)
{
	const struct xwan_maps *m = &FX.dp.maps;
	struct flow_gauge g = {};
	char err[256];
	uint32_t zero = 0;
	int rc;

	if (fx_config())
		return -1;
	for (int i = 0; i < FX.cfg.n_wans; i++) {
		FX.status[i] = GW_STATUS_ONLINE;
		FX.usable[i] = true;
	}
	rc = xwan_sync_all(&FX.cfg, &FX.host, m, FX.status, FX.usable, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "fixture sync: %s\n", err);
		return -1;
	}
	for (int i = 0; i < FX.cfg.n_wans; i++) {
		rc = xwan_sync_neigh(m, i, FX.host.wan[i].ifindex, FX.cfg.wans[i].gateway, 0);
		if (rc) {
			fprintf(stderr, "fixture: gateway %d neighbour: %s\n", i, strerror(-rc));
			return -1;
		}
	}
	rc = fx_clear_hash(m->fd[XM_FLOWS]);
	if (!rc)
		rc = fx_clear_hash(m->fd[XM_FLOWS_NEW]);
	if (!rc)
		rc = fx_clear_hash(m->fd[XM_SRC_BUDGET]);
	if (!rc)
		rc = fx_clear_hash(m->fd[XM_FRAGS]);
	if (!rc)
		rc = fx_clear_hash(m->fd[XM_STICKY]);
	if (!rc)
		rc = fx_clear_hash(m->fd[XM_NAT_MAPS]);
	if (!rc)
		rc = fx_clear_hash(m->fd[XM_NAT_PERMITS]);
	if (!rc)
		rc = fx_tx_paths(XDP_TX_REDIRECT);
	if (!rc)
		rc = fx_zero_percpu(m->fd[XM_VERDICTS], HOOK_MAX * V_MAX, sizeof(__u64));
	/* IPv6's state (issue 13) */
	if (!rc)
		rc = fx_clear_hash(m->fd[XM_FLOWS6]);
	if (!rc)
		rc = fx_clear_hash(m->fd[XM_FLOWS6_NEW]);
	if (!rc)
		rc = fx_clear_hash(m->fd[XM_SRC_BUDGET6]);
	if (!rc)
		rc = fx_clear_hash(m->fd[XM_FRAGS6]);
	if (!rc)
		rc = fx_clear_hash(m->fd[XM_STICKY6]);
	if (!rc)
		rc = fx_zero_percpu(m->fd[XM_VERDICTS6], HOOK_MAX * V_MAX, sizeof(__u64));
	if (!rc)
		rc = fx_zero_percpu(m->fd[XM_GW_STATS6], XWAN_MAX_GATEWAYS,
				    sizeof(struct gw_counters));
	if (!rc)
		rc = fx_zero_percpu(m->fd[XM_EVENTS], EV_MAX, sizeof(__u64));
	if (!rc)
		rc = fx_zero_percpu(m->fd[XM_GW_STATS], XWAN_MAX_GATEWAYS,
				    sizeof(struct gw_counters));
	if (!rc)
		rc = fx_zero_percpu(m->fd[XM_RR_POS], XWAN_MAX_GROUPS, sizeof(__u32));
	if (!rc && bpf_map_update_elem(m->fd[XM_FLOW_GAUGE], &zero, &g, BPF_ANY))
		rc = -errno;
	if (rc) {
		fprintf(stderr, "fixture: cannot reset the maps: %s\n", strerror(-rc));
		return -1;
	}
	return 0;
}

static inline int fx_group_setup(void **state)
{
	char err[256];
	cpu_set_t cpus;
	int cpu = sched_getcpu();

	(void)state;
	libbpf_set_print(fx_libbpf_print);
	CPU_ZERO(&cpus);
	CPU_SET(cpu < 0 ? 0 : cpu, &cpus);
	if (sched_setaffinity(0, sizeof(cpus), &cpus))
		perror("sched_setaffinity (continuing)");
	if (unshare(CLONE_NEWNET)) {
		perror("unshare(CLONE_NEWNET): these tests need root");
		return -1;
	}
	if (system(FX_NETNS_SETUP) != 0) {
		fprintf(stderr, "fixture: cannot build the test namespace\n");
		return -1;
	}
	FX.ncpu = libbpf_num_possible_cpus();
	if (fx_config())
		return -1;
	if (dp_load(&FX.dp, FX.cfg.flow_table_size, err, sizeof(err))) {
		fprintf(stderr, "fixture: dp_load: %s\n", err);
		return -1;
	}
	FX.loaded = true;
	FX.m = &FX.dp.maps;
	FX.xdp_lan = dp_prog_fd(&FX.dp, "xdp_lan");
	FX.xdp_wan = dp_prog_fd(&FX.dp, "xdp_wan");
	FX.tc_lan_in = dp_prog_fd(&FX.dp, "tc_lan_ingress");
	FX.tc_wan_in = dp_prog_fd(&FX.dp, "tc_wan_ingress");
	FX.tc_wan_out = dp_prog_fd(&FX.dp, "tc_wan_egress");
	if (FX.xdp_lan < 0 || FX.xdp_wan < 0 || FX.tc_lan_in < 0 || FX.tc_wan_in < 0 ||
	    FX.tc_wan_out < 0) {
		fprintf(stderr, "fixture: a program is missing from the objects\n");
		return -1;
	}
	FX.lan_if = FX.host.lan[0].ifindex;
	memcpy(FX.lan_mac, FX.host.lan[0].mac, 6);
	for (int i = 0; i < NGW; i++) {
		FX.wan_if[i] = FX.host.wan[i].ifindex;
		memcpy(FX.wan_mac[i], FX.host.wan[i].mac, 6);
		FX.nat_addr[i] = FX.host.wan_addr[i].addr;
	}
	FX.fwmark_mask = FX.cfg.fwmark_mask;
	return fx_reset();
}

static inline int fx_group_teardown(void **state)
{
	(void)state;
	if (FX.loaded)
		dp_destroy(&FX.dp);
	FX.loaded = false;
	return 0;
}

static inline int fx_setup(void **state)
{
	(void)state;
	return fx_reset();
}

/* Reinstall the slot tables from FX.cfg and FX.usable (same for every group). */
static inline int fx_install_groups(void)
{
	static xwan_usable_t by_group;

	for (int g = 0; g < XWAN_MAX_GROUPS; g++)
		memcpy(by_group[g], FX.usable, sizeof(by_group[g]));
	return xwan_install_groups(&FX.cfg, FX.m, by_group);
}

/* ------------------------------------------------------------ running */

/*
 * Run an XDP program on a frame arriving on ifindex; returns the XDP action,
 * the resulting frame in out (may be NULL).
 */
static inline uint32_t run_xdp(int prog, int ifindex, const struct frame *in, struct frame *out)
{
	struct xdp_md ctx = {
		.data_end = (__u32)in->len,
		.ingress_ifindex = (__u32)ifindex,
	};
	struct frame scratch;
	struct frame *o = out ? out : &scratch;
	LIBBPF_OPTS(bpf_test_run_opts, opts,
		    .data_in = in->d, .data_size_in = (__u32)in->len,
		    .data_out = o->d, .data_size_out = sizeof(o->d),
		    .ctx_in = &ctx, .ctx_size_in = sizeof(ctx),
		    .repeat = 1);
	int rc = bpf_prog_test_run_opts(prog, &opts);

	if (rc)
		fail_msg("BPF_PROG_TEST_RUN (xdp, %zu bytes): %s", in->len, strerror(-rc));
	o->len = opts.data_size_out;
	return opts.retval;
}

/*
 * A frame shorter than Ethernet: the kernel refuses test input under 14
 * bytes, so the missing bytes go in front as XDP metadata (data_meta ..
 * data), which the program cannot see as packet. Recent kernels want
 * 14 bytes past the metadata too: then this returns -1 (not injectable).
 */
static inline int run_xdp_short(int prog, int ifindex, const uint8_t *bytes, size_t n)
{
	uint8_t buf[64] = {};
	size_t meta = (ETH_LEN - n + 3) & ~(size_t)3;
	struct xdp_md ctx = {
		.data = (__u32)meta,
		.data_end = (__u32)(meta + n),
		.ingress_ifindex = (__u32)ifindex,
	};
	uint8_t out[64];
	LIBBPF_OPTS(bpf_test_run_opts, opts,
		    .data_in = buf, .data_size_in = (__u32)(meta + n),
		    .data_out = out, .data_size_out = sizeof(out),
		    .ctx_in = &ctx, .ctx_size_in = sizeof(ctx),
		    .repeat = 1);
	int rc;

	assert_true(n < ETH_LEN && meta <= 32);
	memcpy(buf + meta, bytes, n);
	rc = bpf_prog_test_run_opts(prog, &opts);
	if (rc == -EINVAL)
		return -1;
	if (rc)
		fail_msg("BPF_PROG_TEST_RUN (xdp, %zu-byte frame): %s", n, strerror(-rc));
	return (int)opts.retval;
}

/* Run a tc program on a frame on ifindex with skb->mark; mark_out may be NULL. */
static inline uint32_t run_tc(int prog, int ifindex, uint32_t mark, const struct frame *in,
		       struct frame *out, uint32_t *mark_out)
{
	struct __sk_buff ctx = { .mark = mark, .ifindex = (__u32)ifindex };
	struct __sk_buff ctx_out = {};
	struct frame scratch;
	struct frame *o = out ? out : &scratch;
	LIBBPF_OPTS(bpf_test_run_opts, opts,
		    .data_in = in->d, .data_size_in = (__u32)in->len,
		    .data_out = o->d, .data_size_out = sizeof(o->d),
		    .ctx_in = &ctx, .ctx_size_in = sizeof(ctx),
		    .ctx_out = &ctx_out, .ctx_size_out = sizeof(ctx_out),
		    .repeat = 1);
	int rc = bpf_prog_test_run_opts(prog, &opts);

	if (rc)
		fail_msg("BPF_PROG_TEST_RUN (tc, %zu bytes): %s", in->len, strerror(-rc));
	o->len = opts.data_size_out;
	if (mark_out)
		*mark_out = ctx_out.mark;
	return opts.retval;
}

/* ------------------------------------------------------------ reading */

static inline uint64_t fx_verdict(int hook, int v)
{
	__u64 n = 0;

	assert_int_equal(xwan_percpu_sum(FX.m->fd[XM_VERDICTS],
					 (__u32)XWAN_VERDICT_IDX(hook, v), &n, sizeof(n)), 0);
	return n;
}

/* Every verdict counter of a hook, summed. */
static inline uint64_t fx_hook_total(int hook)
{
	uint64_t sum = 0;

	for (int v = 0; v < V_MAX; v++)
		sum += fx_verdict(hook, v);
	return sum;
}

static inline uint64_t fx_event(int ev)
{
	__u64 n = 0;

	assert_int_equal(xwan_percpu_sum(FX.m->fd[XM_EVENTS], (__u32)ev, &n, sizeof(n)), 0);
	return n;
}

static inline struct gw_counters fx_gw(int gw)
{
	struct gw_counters c = {};

	assert_int_equal(xwan_percpu_sum(FX.m->fd[XM_GW_STATS], (__u32)gw, (__u64 *)&c,
					 sizeof(c)), 0);
	return c;
}

/* A flow key from packet-order addresses and host-order ports. */
static inline struct flow_key fkey(uint32_t saddr, uint32_t daddr, uint16_t sport, uint16_t dport,
			    uint8_t proto)
{
	struct flow_key k;

	memset(&k, 0, sizeof(k));
	k.saddr = saddr;
	k.daddr = daddr;
	k.sport = htons(sport);
	k.dport = htons(dport);
	k.proto = proto;
	return k;
}

/* The entry at k in either table (answered first, as the dataplane looks). */
static inline bool fx_flow(const struct flow_key *k, struct flow_entry *e)
{
	return bpf_map_lookup_elem(FX.m->fd[XM_FLOWS], k, e) == 0 ||
	       bpf_map_lookup_elem(FX.m->fd[XM_FLOWS_NEW], k, e) == 0;
}

static inline int fx_table_count(int table)
{
	uint8_t k[64], prev[64];        /* any table's key (flow6_key, sticky6_key...) */
	int n = 0;

	if (bpf_map_get_next_key(FX.m->fd[table], NULL, k))
		return 0;
	do {
		n++;
		memcpy(prev, k, sizeof(k));
	} while (bpf_map_get_next_key(FX.m->fd[table], prev, k) == 0);
	return n;
}

/* Entries in both tables. */
static inline int fx_flow_count(void)
{
	return fx_table_count(XM_FLOWS) + fx_table_count(XM_FLOWS_NEW);
}

/* Which gateway's NAT address a translated source is, or -1. */
static inline int fx_gw_of_addr(uint32_t addr)
{
	for (int i = 0; i < NGW; i++)
		if (FX.nat_addr[i] == addr)
			return i;
	return -1;
}

#endif /* XWAN_TEST_FIXTURE_H */
