// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The IPv6 dataplane (issue 13) on the real programs (BPF_PROG_TEST_RUN,
 * fixture.h), frames built from scratch here:
 *   - nat6 npt through xdp_lan/xdp_wan and the tc path (tc_lan_ingress
 *     marks, tc_wan_egress translates): the source mapped into the outside
 *     prefix and the reply back, the TCP checksum untouched and valid when
 *     recomputed from scratch, the address sum unchanged (RFC 6296);
 *   - nat6 none: a source in isp2's delegated prefix leaves through isp2
 *     untranslated, whatever the group says (RFC 8678);
 *   - ICMPv6 errors (Packet Too Big, Time Exceeded) from an ISP hop
 *     translated back with their quoted header, the ICMPv6 checksum valid,
 *     and the host's own about a reply it forwarded quoting the outside;
 *   - anti-spoofing of LAN sources, unsolicited inbound dropped and counted,
 *     link-scoped packets left to the kernel, later fragments following
 *     their first one's flow;
 *   - a flood of new flows churns only the unanswered table (flows6_new):
 *     an answered flow (flows6) keeps forwarding; one LAN host's unanswered
 *     flows are budgeted as IPv4's.
 * Each case has a control that shows the check can fail.
 *
 *   build/tests/test_ipv6             all (root)
 *   build/tests/test_ipv6 'test_npt*' those matching a pattern
 */
#include "tests/bpf/cases6.h"

static const char V6_CONFIG[] = FX6_CONFIG(
	"    weight: 3\n"
	"    nat6: npt\n"
	"    npt: {inside: fd00:1::/64, outside: 2001:db8:1:100::/64}\n",
	"    weight: 1\n");

#define CLIENT   "fd00:1::2"
#define CLIENT_N "2001:db8:2:100::2"    /* in isp2's delegated prefix (nat6 none) */
#define SERVER   "2001:db8:ffff::100"
#define OUTSIDE1 "2001:db8:1:100::"
#define HOP1     "2001:db8:1::1"        /* isp1's router */
static int group_setup(void **state)
{
	return fx6_group_setup(state, V6_CONFIG);
}

/* A client's TCP segment out through xdp_lan; returns the XDP action. */
static uint32_t out_xdp(const char *src, uint16_t sp, uint8_t flags, struct frame *o)
{
	struct frame f;

	tcp6(&f, FX.lan_mac, MAC_CLIENT, src, SERVER, sp, 443, flags);
	return run_xdp(FX.xdp_lan, FX.lan_if, &f, o);
}

/* ------------------------------------------------------------------ npt */

static void test_npt_out_and_reply_back_xdp(void **state)
{
	struct frame in, o, r;
	const uint8_t *ip = o.d + ETH_LEN;
	uint8_t lan[16], pub[16];
	uint16_t sum_before;

	(void)state;
	tcp6(&in, FX.lan_mac, MAC_CLIENT, CLIENT, SERVER, 40000, 443, F_SYN);
	sum_before = rd16(in.d + L4 + 16);
	assert_int_equal(run_xdp(FX.xdp_lan, FX.lan_if, &in, &o), XDP_REDIRECT);
	/* To isp1's router from our wan1 MAC, hop limit decremented. */
	assert_memory_equal(o.d, MAC_GW[0], 6);
	assert_memory_equal(o.d + 6, FX.wan_mac[0], 6);
	assert_int_equal(ip[7], 63);
	/* The source is in the outside /64, the address sum unchanged (RFC 6296)... */
	a6(CLIENT, lan);
	memcpy(pub, ip + 8, 16);
	assert_true(in64(pub, OUTSIDE1));
	assert_int_equal(addr_sum(pub), addr_sum(lan));
	assert_true(addr_is(ip + 24, SERVER));
	/* ...so the TCP checksum was not written and is right from scratch. */
	assert_int_equal(rd16(o.d + L4 + 16), sum_before);
	assert_true(l4_ok(&o, PROTO_TCP));
	assert_int_equal(v6verdict(HOOK_XDP_LAN, V_FWD_OUT), 1);

	/* The reply to that address comes back to the client, translated back. */
	tcp6(&r, FX.wan_mac[0], MAC_GW[0], SERVER, "::1", 443, 40000, F_SYN | F_ACK);
	memcpy(r.d + ETH_LEN + 24, pub, 16);
	wr16(r.d + L4 + 16, 0);
	wr16(r.d + L4 + 16, (uint16_t)~l4sum6(r.d + ETH_LEN, r.d + L4, 24, PROTO_TCP));
	assert_int_equal(run_xdp(FX.xdp_wan, FX.wan_if[0], &r, &o), XDP_REDIRECT);
	assert_memory_equal(o.d, MAC_CLIENT, 6);
	assert_memory_equal(o.d + 6, FX.lan_mac, 6);
	assert_true(addr_is(ip + 24, CLIENT));
	assert_true(l4_ok(&o, PROTO_TCP));
	assert_int_equal(v6verdict(HOOK_XDP_WAN, V_FWD_IN), 1);
	assert_int_equal(gw6(0).pkts_out, 1);
	assert_int_equal(gw6(0).pkts_in, 1);
}

/* Control: the checks above do fail on a frame that was not translated. */
static void test_npt_control_untranslated_fails_the_checks(void **state)
{
	struct frame in;
	uint8_t *ip = in.d + ETH_LEN;

	(void)state;
	tcp6(&in, FX.lan_mac, MAC_CLIENT, CLIENT, SERVER, 40000, 443, F_SYN);
	assert_false(in64(ip + 8, OUTSIDE1));
	/* A source rewritten without the adjustment breaks the checksum. */
	a6(OUTSIDE1 "2", ip + 8);
	assert_false(l4_ok(&in, PROTO_TCP));
}

static void test_npt_tc_path_marks_then_translates(void **state)
{
	struct frame in, o;
	uint32_t mark = 0;
	uint16_t sum_before;

	(void)state;
	tcp6(&in, FX.lan_mac, MAC_CLIENT, CLIENT, SERVER, 40001, 443, F_SYN);
	sum_before = rd16(in.d + L4 + 16);
	assert_int_equal(run_tc(FX.tc_lan_in, FX.lan_if, 0, &in, &o, &mark), TC_ACT_OK);
	assert_int_equal(mark & FX.fwmark_mask, xwan_gw_fwmark(FX.fwmark_mask, 0));
	assert_int_equal(v6verdict(HOOK_TC_LAN_IN, V_FWD_VIA_KERNEL), 1);
	/* The kernel routed it to wan1 by the mark: tc_wan_egress translates. */
	assert_int_equal(run_tc(FX.tc_wan_out, FX.wan_if[0], mark, &o, &o, NULL), TC_ACT_OK);
	assert_true(in64(o.d + ETH_LEN + 8, OUTSIDE1));
	assert_int_equal(rd16(o.d + L4 + 16), sum_before);
	assert_true(l4_ok(&o, PROTO_TCP));
	assert_int_equal(v6verdict(HOOK_TC_WAN_OUT, V_FWD_OUT), 1);
	/* Control: unmarked, the same LAN source may not leave untranslated. */
	tcp6(&in, FX.wan_mac[0], MAC_GW[0], CLIENT, SERVER, 40002, 443, F_SYN);
	assert_int_equal(run_tc(FX.tc_wan_out, FX.wan_if[0], 0, &in, NULL, NULL), TC_ACT_SHOT);
	assert_int_equal(v6verdict(HOOK_TC_WAN_OUT, V_DROP_UNTRANSLATED), 1);
}

/* ----------------------------------------------------------------- none */

static void test_none_source_prefix_picks_its_wan(void **state)
{
	struct frame o;
	int to_isp2 = 0, to_isp1 = 0;

	(void)state;
	/* isp2 is not in the IPv6 group (nat6 none): only its own prefix goes there. */
	for (uint16_t sp = 41000; sp < 41016; sp++) {
		assert_int_equal(out_xdp(CLIENT_N, sp, F_SYN, &o), XDP_REDIRECT);
		to_isp2 += !memcmp(o.d, MAC_GW[1], 6) && addr_is(o.d + ETH_LEN + 8, CLIENT_N);
		/* Control: the same ports from the ULA go by the group, to isp1. */
		assert_int_equal(out_xdp(CLIENT, sp, F_SYN, &o), XDP_REDIRECT);
		to_isp1 += !memcmp(o.d, MAC_GW[0], 6) && in64(o.d + ETH_LEN + 8, OUTSIDE1);
	}
	assert_int_equal(to_isp2, 16);
	assert_int_equal(to_isp1, 16);
	assert_true(l4_ok(&o, PROTO_TCP));
}

/* ----------------------------------------------------------- icmp errors */

static void test_icmp6_errors_reach_the_client_translated(void **state)
{
	static const struct { uint8_t type; uint32_t rest; } errs[] = {
		{ 2, 1400 },    /* Packet Too Big, mtu 1400 */
		{ 3, 0 },       /* Time Exceeded */
		{ 1, 0 },       /* Destination Unreachable */
	};
	struct frame sent, err, o;
	const uint8_t *oip = o.d + ETH_LEN, *q = o.d + L4 + 8;

	(void)state;
	assert_int_equal(out_xdp(CLIENT, 42000, F_SYN, &sent), XDP_REDIRECT);
	for (size_t i = 0; i < sizeof(errs) / sizeof(errs[0]); i++) {
		icmp6_err(&err, HOP1, errs[i].type, errs[i].rest, &sent);
		assert_true(l4_ok(&err, 58));
		assert_int_equal(run_xdp(FX.xdp_wan, FX.wan_if[0], &err, &o), XDP_REDIRECT);
		assert_memory_equal(o.d, MAC_CLIENT, 6);
		assert_true(addr_is(oip + 8, HOP1));            /* the router's own source */
		assert_true(addr_is(oip + 24, CLIENT));         /* back to the client */
		assert_true(addr_is(q + 8, CLIENT));            /* and what it quotes too */
		assert_true(addr_is(q + 24, SERVER));
		assert_int_equal(o.d[L4], errs[i].type);
		assert_int_equal(rd16(o.d + L4 + 4) << 16 | rd16(o.d + L4 + 6), errs[i].rest);
		assert_true(l4_ok(&o, 58));                     /* ICMPv6 checksum from scratch */
	}
	assert_int_equal(v6verdict(HOOK_XDP_WAN, V_FWD_ICMP_ERROR), 3);
	/* Control: an error quoting a flow nobody made is unsolicited. */
	assert_int_equal(out_xdp(CLIENT, 42001, F_SYN, &sent), XDP_REDIRECT);
	wr16(sent.d + L4, 42999);       /* another source port */
	icmp6_err(&err, HOP1, 2, 1400, &sent);
	assert_int_equal(run_xdp(FX.xdp_wan, FX.wan_if[0], &err, &o), XDP_DROP);
	assert_int_equal(v6verdict(HOOK_XDP_WAN, V_DROP_UNSOLICITED), 1);
}

/* The host's own Time Exceeded about a reply it forwarded quotes the outside address. */
static void test_npt_kernel_error_about_a_reply_quotes_the_outside(void **state)
{
	struct frame sent, r, back, err, out;
	const uint8_t *q = out.d + L4 + 8;
	uint8_t b[8 + 64] = { 3 };
	uint8_t pub[16];

	(void)state;
	assert_int_equal(out_xdp(CLIENT, 42100, F_SYN, &sent), XDP_REDIRECT);
	memcpy(pub, sent.d + ETH_LEN + 8, 16);
	tcp6(&r, FX.wan_mac[0], MAC_GW[0], SERVER, "::1", 443, 42100, F_SYN | F_ACK);
	memcpy(r.d + ETH_LEN + 24, pub, 16);
	wr16(r.d + L4 + 16, 0);
	wr16(r.d + L4 + 16, (uint16_t)~l4sum6(r.d + ETH_LEN, r.d + L4, 24, PROTO_TCP));
	assert_int_equal(run_xdp(FX.xdp_wan, FX.wan_if[0], &r, &back), XDP_REDIRECT);
	assert_true(addr_is(back.d + ETH_LEN + 24, CLIENT));
	memcpy(b + 8, back.d + ETH_LEN, back.len - ETH_LEN);
	frame6(&err, MAC_GW[0], FX.wan_mac[0], "2001:db8:1::2", SERVER, 58, 64, b,
	       8 + back.len - ETH_LEN, 2, 58);
	assert_int_equal(run_tc(FX.tc_wan_out, FX.wan_if[0], 0, &err, &out, NULL), TC_ACT_OK);
	assert_true(addr_is(out.d + ETH_LEN + 8, "2001:db8:1::2"));  /* the host's own source */
	assert_memory_equal(q + 24, pub, 16);                       /* no LAN address quoted */
	assert_true(l4_ok(&out, 58));
	assert_int_equal(l4sum6(q, q + 40, 24, PROTO_TCP), 0xffff);
	assert_int_equal(v6verdict(HOOK_TC_WAN_OUT, V_FWD_ICMP_ERROR), 1);
	/* Control: about a reply no flow had, it is the host's, left as it is. */
	wr16(b + 8 + 40 + 2, 42999);
	frame6(&err, MAC_GW[0], FX.wan_mac[0], "2001:db8:1::2", SERVER, 58, 64, b,
	       8 + back.len - ETH_LEN, 2, 58);
	assert_int_equal(run_tc(FX.tc_wan_out, FX.wan_if[0], 0, &err, &out, NULL), TC_ACT_OK);
	assert_true(addr_is(q + 24, CLIENT));
	assert_int_equal(v6verdict(HOOK_TC_WAN_OUT, V_PASS_FROM_HOST), 1);
}

/* ------------------------------------------- spoofing, unsolicited, kernel */

static void test_antispoof6_drops_foreign_lan_sources(void **state)
{
	struct frame o;

	(void)state;
	assert_int_equal(out_xdp("2001:db8:3::2", 43000, F_SYN, &o), XDP_DROP);
	assert_int_equal(out_xdp(OUTSIDE1 "2", 43000, F_SYN, &o), XDP_DROP);
	assert_int_equal(v6verdict(HOOK_XDP_LAN, V_DROP_SPOOFED), 2);
	/* Control: a source in the LAN's prefixes is forwarded. */
	assert_int_equal(out_xdp(CLIENT, 43000, F_SYN, &o), XDP_REDIRECT);
	assert_int_equal(v6verdict(HOOK_XDP_LAN, V_DROP_SPOOFED), 2);
}

static void test_unsolicited6_dropped_and_counted(void **state)
{
	struct frame in;

	(void)state;
	tcp6(&in, FX.wan_mac[0], MAC_GW[0], SERVER, OUTSIDE1 "5", 443, 44000, F_SYN);
	assert_int_equal(run_xdp(FX.xdp_wan, FX.wan_if[0], &in, NULL), XDP_DROP);
	assert_int_equal(run_tc(FX.tc_wan_in, FX.wan_if[0], 0, &in, NULL, NULL), TC_ACT_SHOT);
	tcp6(&in, FX.wan_mac[1], MAC_GW[1], SERVER, CLIENT_N, 443, 44000, F_SYN);
	assert_int_equal(run_xdp(FX.xdp_wan, FX.wan_if[1], &in, NULL), XDP_DROP);
	assert_int_equal(v6verdict(HOOK_XDP_WAN, V_DROP_UNSOLICITED), 2);
	assert_int_equal(v6verdict(HOOK_TC_WAN_IN, V_DROP_UNSOLICITED), 1);
	assert_int_equal(gw6(0).unsolicited, 2);
	assert_int_equal(gw6(1).unsolicited, 1);
	/* Control: to the host's own WAN address it is the kernel's. */
	tcp6(&in, FX.wan_mac[0], MAC_GW[0], SERVER, "2001:db8:1::2", 443, 22, F_SYN);
	assert_int_equal(run_xdp(FX.xdp_wan, FX.wan_if[0], &in, NULL), XDP_PASS);
	assert_int_equal(v6verdict(HOOK_XDP_WAN, V_PASS_LOCAL), 1);
}

/* ---------------------------------------------------------------- flood */

static int table6_count(int fd)
{
	struct flow6_key k, prev;
	int n = 0;

	if (bpf_map_get_next_key(fd, NULL, &k))
		return 0;
	do {
		n++;
		prev = k;
	} while (bpf_map_get_next_key(fd, &prev, &k) == 0);
	return n;
}

/* The reply of the server to the translated source pub, for port sp. */
static void reply6(struct frame *r, const uint8_t pub[16], uint16_t sp, uint8_t flags)
{
	tcp6(r, FX.wan_mac[0], MAC_GW[0], SERVER, "::1", 443, sp, flags);
	memcpy(r->d + ETH_LEN + 24, pub, 16);
	wr16(r->d + L4 + 16, 0);
	wr16(r->d + L4 + 16, (uint16_t)~l4sum6(r->d + ETH_LEN, r->d + L4, 24, PROTO_TCP));
}

/* A LAN source of the flood: fd00:1::1:<i / 8>, each with 8 flows (under
 * its budget, as a flood from made-up sources in the LAN prefix is). */
static void flood_src(int i, char *out, size_t len)
{
	snprintf(out, len, "fd00:1::1:%x", (unsigned)(i / 8));
}

/*
 * LAN sources spraying new flows (more than the unanswered table holds)
 * churn only flows6_new: an answered flow lives in flows6, which never
 * evicts, and goes on forwarding both ways as the same flow.
 */
static void test_flood6_keeps_answered_flows(void **state)
{
	int cap = 2 * (int)xwan_unreplied_capacity(65536), n = cap;   /* V6_CONFIG's table */
	struct frame o, r, first;
	uint8_t pub[16], first_pub[16];
	uint64_t created;

	(void)state;
	assert_int_equal(out_xdp(CLIENT, 40000, F_SYN, &o), XDP_REDIRECT);
	memcpy(pub, o.d + ETH_LEN + 8, 16);
	reply6(&r, pub, 40000, F_SYN | F_ACK);
	assert_int_equal(run_xdp(FX.xdp_wan, FX.wan_if[0], &r, &o), XDP_REDIRECT);
	assert_int_equal(table6_count(FX.m->fd[XM_FLOWS6]), 2);
	assert_int_equal(fx_event(EV_FLOW_PROMOTED), 1);

	/* The flood: n unanswered flows, each two entries. */
	for (int i = 0; i < n; i++) {
		struct frame f;
		char src[48];

		flood_src(i, src, sizeof(src));
		tcp6(&f, FX.lan_mac, MAC_CLIENT, src, SERVER, 1024, (uint16_t)(1000 + i % 8), F_SYN);
		assert_int_equal(run_xdp(FX.xdp_lan, FX.lan_if, &f, i ? NULL : &first), XDP_REDIRECT);
	}
	memcpy(first_pub, first.d + ETH_LEN + 8, 16);
	assert_true(table6_count(FX.m->fd[XM_FLOWS6_NEW]) <= cap);

	/* The answered flow: the client's next segment and the server's reply
	 * go on as that flow (no flow made again), translated as before. */
	created = fx_event(EV_FLOW_CREATED);
	assert_int_equal(out_xdp(CLIENT, 40000, F_ACK, &o), XDP_REDIRECT);
	assert_memory_equal(o.d + ETH_LEN + 8, pub, 16);
	reply6(&r, pub, 40000, F_ACK);
	assert_int_equal(run_xdp(FX.xdp_wan, FX.wan_if[0], &r, &o), XDP_REDIRECT);
	assert_true(addr_is(o.d + ETH_LEN + 24, CLIENT));
	assert_int_equal(fx_event(EV_FLOW_CREATED), created);

	/* Control: the flood did overflow the unanswered table: its first flow
	 * was evicted, and the server's answer to it is unsolicited now. */
	tcp6(&r, FX.wan_mac[0], MAC_GW[0], SERVER, "::1", 1000, 1024, F_SYN | F_ACK);
	memcpy(r.d + ETH_LEN + 24, first_pub, 16);
	wr16(r.d + L4 + 16, 0);
	wr16(r.d + L4 + 16, (uint16_t)~l4sum6(r.d + ETH_LEN, r.d + L4, 24, PROTO_TCP));
	assert_int_equal(run_xdp(FX.xdp_wan, FX.wan_if[0], &r, NULL), XDP_DROP);
	assert_int_equal(v6verdict(HOOK_XDP_WAN, V_DROP_UNSOLICITED), 1);
}

/* The budget level of a LAN host's IPv6 address (src_budget6). */
static uint32_t budget6_level(const char *addr)
{
	struct src6_key k = { .side = SRC_LAN };
	struct src_budget b = {};

	a6(addr, k.addr);
	if (bpf_map_lookup_elem(FX.m->fd[XM_SRC_BUDGET6], &k, &b))
		return 0;
	return b.level;
}

/*
 * One LAN host's unanswered IPv6 flows are budgeted like IPv4's
 * (unreplied_per_lan_host, 4096 by default; the level drains over the
 * transitory timeout, so a few more pass while the loop runs): then its
 * next one is dropped and counted, another host is not affected, and an
 * answer gives one back.
 */
static void test_src6_budget_limits_one_host(void **state)
{
	enum { LIMIT = 4096 };
	struct frame o, r, first;
	int opened = 0;
	uint32_t level;

	(void)state;
	for (int i = 0; i < LIMIT + 256; i++, opened++) {
		struct frame f;

		tcp6(&f, FX.lan_mac, MAC_CLIENT, CLIENT, SERVER, (uint16_t)(1024 + i / 8),
		     (uint16_t)(1000 + i % 8), F_SYN);
		if (run_xdp(FX.xdp_lan, FX.lan_if, &f, i ? NULL : &first) != XDP_REDIRECT)
			break;
	}
	assert_true(opened >= LIMIT && opened < LIMIT + 256);
	assert_int_equal(v6verdict(HOOK_XDP_LAN, V_DROP_SRC_LIMIT), 1);
	assert_int_equal(fx_event(EV_SRC_LIMITED), 1);
	/* Control: another LAN host opens its flow. */
	assert_int_equal(out_xdp("fd00:1::3", 60000, F_SYN, &o), XDP_REDIRECT);
	/* The server answers the host's first flow: one flow given back. */
	level = budget6_level(CLIENT);
	reply6(&r, first.d + ETH_LEN + 8, 1024, F_SYN | F_ACK);
	wr16(r.d + L4, 1000);                   /* from port 1000, the first flow's */
	wr16(r.d + L4 + 16, 0);
	wr16(r.d + L4 + 16, (uint16_t)~l4sum6(r.d + ETH_LEN, r.d + L4, 24, PROTO_TCP));
	assert_int_equal(run_xdp(FX.xdp_wan, FX.wan_if[0], &r, NULL), XDP_REDIRECT);
	assert_int_equal(fx_event(EV_FLOW_PROMOTED), 1);
	assert_true(level > 0);
	assert_int_equal(budget6_level(CLIENT), level - 1);
}

#define T(fn) cmocka_unit_test_setup(fn, fx_setup)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_npt_out_and_reply_back_xdp),
		T(test_npt_control_untranslated_fails_the_checks),
		T(test_npt_tc_path_marks_then_translates),
		T(test_none_source_prefix_picks_its_wan),
		T(test_icmp6_errors_reach_the_client_translated),
		T(test_npt_kernel_error_about_a_reply_quotes_the_outside),
		T(test_antispoof6_drops_foreign_lan_sources),
		T(test_unsolicited6_dropped_and_counted),
		T(test_flood6_keeps_answered_flows),
		T(test_src6_budget_limits_one_host),
	};

	return cmocka_run_group_tests(tests, group_setup, fx_group_teardown);
}
