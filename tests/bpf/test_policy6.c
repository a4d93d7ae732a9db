// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Policy for IPv6 flows (issue 13) on the real programs (BPF_PROG_TEST_RUN,
 * fixture.h): the same `rules:` as IPv4's, matched by the same code
 * (xwan_rules.h) over the IPv6 tuple: a destination or source prefix to a
 * group, bypass and drop remembered as markers, first match wins, ICMPv6 as
 * `icmp`, a rule without prefixes for both families and `family: ipv6` for
 * one; sticky IPv6 clients, and their move when their WAN fails for IPv6.
 * Both WANs are nat6 npt (env.h, weights 3:1), so the outside prefix of a
 * packet tells its WAN.
 * Every case has a control: the same traffic the rule does not match.
 *
 *   build/tests/test_policy6               all (root)
 *   build/tests/test_policy6 'test_sticky*' those matching a pattern
 */
#include "tests/bpf/cases.h"
#include "tests/bpf/cases6.h"
#include "loader/sync6.h"

static const char POLICY6_CONFIG[] = XWAN_TEST_LAN_WAN6
	"groups:\n"
	"  - name: balance\n"
	"    members: [{wan: isp1}, {wan: isp2}]\n"
	"    hash_fields: [src, dst, proto, sport, dport]\n"
	"  - name: only2\n"
	"    members: [{wan: isp2}]\n"
	"default_group: balance\n"
	"rules:\n"
	"  - {name: bypass6, dst: 2001:db8:ffff:b::/64, action: bypass}\n"          /* 0 */
	"  - {name: drop6, dst: 2001:db8:ffff:d::/64, action: drop}\n"              /* 1 */
	/* 32.1.13.184 is 0x20010db8, the first word of 2001:db8::: an IPv4 rule
	 * whose prefix an IPv6 address's first word matches, for no IPv6 flow. */
	"  - {name: v4-lookalike, dst: 32.1.13.184/32, action: drop}\n"            /* 2 */
	"  - {name: dns, proto: udp, dport: 53, group: only2}\n"                    /* 3 */
	"  - {name: to-isp2, dst: 2001:db8:ffff:2::/64, group: only2}\n"            /* 4 */
	"  - {name: guests6, src: fd00:1::8000/113, group: only2}\n"                /* 5 */
	"  - {name: first6, dst: 2001:db8:ffff:f::/64, proto: tcp, group: only2}\n" /* 6 */
	"  - {name: second6, dst: 2001:db8:ffff:f::/64, action: drop}\n"            /* 7 */
	"  - {name: no-ping, dst: 2001:db8:ffff:e::/64, proto: icmp, action: drop}\n" /* 8 */
	"  - {name: v6-web, family: ipv6, proto: tcp, dport: 8443, group: only2}\n" /* 9 */
	"flow_table_size: 65536\n";

#define C6       "fd00:1::2"
#define GUEST6   "fd00:1::8001"         /* in guests6's source prefix */
#define OTHER    "2001:db8:ffff:3::10"  /* no rule's */
#define TO_ISP2  "2001:db8:ffff:2::10"
#define BYPASS6  "2001:db8:ffff:b::1"
#define DROP6    "2001:db8:ffff:d::1"
#define BOTH6    "2001:db8:ffff:f::1"   /* first6 and second6 */
#define NOPING6  "2001:db8:ffff:e::1"
#define OUT1     "2001:db8:1:100::"
#define OUT2     "2001:db8:2:100::"
#define ISP1 0
#define ISP2 1

/* The WAN an XDP-forwarded IPv6 frame left by (its MAC and outside prefix), -1: neither. */
static int gw_of(const struct frame *o)
{
	const uint8_t *src = o->d + ETH_LEN + 8;

	if (!memcmp(o->d, MAC_GW[ISP1], 6) && in64(src, OUT1))
		return ISP1;
	if (!memcmp(o->d, MAC_GW[ISP2], 6) && in64(src, OUT2))
		return ISP2;
	return -1;
}

static uint32_t tcp_out(const char *src, const char *dst, uint16_t sp, uint16_t dp,
			struct frame *o)
{
	struct frame f;

	tcp6(&f, FX.lan_mac, MAC_CLIENT, src, dst, sp, dp, F_SYN);
	return run_xdp(FX.xdp_lan, FX.lan_if, &f, o);
}

/* Open n TCP flows (sport from base up): a mask of the WANs they left by. */
static unsigned int wans_of(const char *src, const char *dst, uint16_t dport, uint16_t base,
			    int n)
{
	unsigned int used = 0;
	struct frame o;

	for (int i = 0; i < n; i++) {
		int gw;

		assert_int_equal(tcp_out(src, dst, (uint16_t)(base + i), dport, &o), XDP_REDIRECT);
		gw = gw_of(&o);
		assert_true(gw >= 0);
		assert_true(l4_ok(&o, PROTO_TCP));
		used |= 1U << gw;
	}
	return used;
}

/* The OUT entry of the flow frame f opened. */
static bool flow6_of(const struct frame *f, struct flow6_entry *e)
{
	const uint8_t *ip = f->d + ETH_LEN;
	struct flow6_key k = { .proto = ip[6] };

	memcpy(k.saddr, ip + 8, 16);
	memcpy(k.daddr, ip + 24, 16);
	memcpy(&k.sport, ip + IP6_H, 2);
	memcpy(&k.dport, ip + IP6_H + 2, 2);
	if (k.proto == 58) {
		memcpy(&k.sport, ip + IP6_H + 4, 2);   /* echo: the identifier */
		k.dport = 0;
	}
	return bpf_map_lookup_elem(FX.m->fd[XM_FLOWS6], &k, e) == 0 ||
	       bpf_map_lookup_elem(FX.m->fd[XM_FLOWS6_NEW], &k, e) == 0;
}

/* ------------------------------------------------------------- rules */

static void test_rule6_destination_to_a_group(void **state)
{
	struct frame in, o, r;
	struct flow6_entry e;

	(void)state;
	assert_int_equal(wans_of(C6, TO_ISP2, 443, 40000, 32), 1U << ISP2);
	tcp6(&in, FX.lan_mac, MAC_CLIENT, C6, TO_ISP2, 40100, 443, F_SYN);
	assert_int_equal(run_xdp(FX.xdp_lan, FX.lan_if, &in, &o), XDP_REDIRECT);
	assert_true(flow6_of(&in, &e));
	assert_int_equal(e.rule, 4);
	assert_int_equal(e.gw, ISP2);
	assert_int_equal(e.group, 1);   /* only2 */
	/* The reply comes back on isp2 to the client, translated back. */
	tcp6(&r, FX.wan_mac[ISP2], MAC_GW[ISP2], TO_ISP2, "::1", 443, 40100, F_SYN | F_ACK);
	memcpy(r.d + ETH_LEN + 24, o.d + ETH_LEN + 8, 16);
	wr16(r.d + L4 + 16, 0);
	wr16(r.d + L4 + 16, (uint16_t)~l4sum6(r.d + ETH_LEN, r.d + L4, 24, PROTO_TCP));
	assert_int_equal(run_xdp(FX.xdp_wan, FX.wan_if[ISP2], &r, &o), XDP_REDIRECT);
	assert_memory_equal(o.d, MAC_CLIENT, 6);
	assert_true(addr_is(o.d + ETH_LEN + 24, C6));
	assert_true(l4_ok(&o, PROTO_TCP));
	/* Control: another destination is balanced over both, with no rule. */
	assert_int_equal(wans_of(C6, OTHER, 443, 40000, 32), 1U << ISP1 | 1U << ISP2);
	tcp6(&in, FX.lan_mac, MAC_CLIENT, C6, OTHER, 40000, 443, F_SYN);
	assert_true(flow6_of(&in, &e));
	assert_int_equal(e.rule, XWAN_RULE_NONE);
	assert_int_equal(e.group, 0);
}

static void test_rule6_source_prefix(void **state)
{
	(void)state;
	assert_int_equal(wans_of(GUEST6, OTHER, 443, 41000, 32), 1U << ISP2);
	/* Control: a client outside fd00:1::8000/113 is balanced. */
	assert_int_equal(wans_of(C6, OTHER, 443, 41000, 32), 1U << ISP1 | 1U << ISP2);
}

static void test_rule6_bypass_leaves_to_the_kernel(void **state)
{
	struct frame in, o;
	struct flow6_entry e;

	(void)state;
	udp6(&in, FX.lan_mac, MAC_CLIENT, C6, BYPASS6, 42000, 9000);
	assert_int_equal(run_xdp(FX.xdp_lan, FX.lan_if, &in, &o), XDP_PASS);
	assert_memory_equal(o.d, in.d, in.len);         /* untouched */
	assert_int_equal(v6verdict(HOOK_XDP_LAN, V_PASS_BYPASS), 1);
	/* Remembered as a marker: the next packet needs no rule scan. */
	assert_true(flow6_of(&in, &e));
	assert_true(e.flags & FLOW_F_BYPASS);
	assert_int_equal(e.rule, 0);
	assert_int_equal(e.gw, XWAN_GW_NONE);
	assert_int_equal(run_xdp(FX.xdp_lan, FX.lan_if, &in, &o), XDP_PASS);
	assert_int_equal(v6verdict(HOOK_XDP_LAN, V_PASS_BYPASS), 2);
	assert_true(flow6_of(&in, &e));
	assert_int_equal(e.packets, 2);
	/* Control: outside the rule's prefix the same datagram is translated. */
	udp6(&in, FX.lan_mac, MAC_CLIENT, C6, OTHER, 42000, 9000);
	assert_int_equal(run_xdp(FX.xdp_lan, FX.lan_if, &in, &o), XDP_REDIRECT);
	assert_true(gw_of(&o) >= 0);
}

static void test_rule6_drop_is_counted(void **state)
{
	struct frame in, o;
	struct flow6_entry e;

	(void)state;
	assert_int_equal(tcp_out(C6, DROP6, 43000, 443, &o), XDP_DROP);
	assert_int_equal(v6verdict(HOOK_XDP_LAN, V_DROP_POLICY), 1);
	tcp6(&in, FX.lan_mac, MAC_CLIENT, C6, DROP6, 43000, 443, F_SYN);
	assert_true(flow6_of(&in, &e));
	assert_true(e.flags & FLOW_F_DROP);
	assert_int_equal(e.rule, 1);
	/* The tc path drops it too (the marker), counted there. */
	assert_int_equal(run_tc(FX.tc_lan_in, FX.lan_if, 0, &in, NULL, NULL), TC_ACT_SHOT);
	assert_int_equal(v6verdict(HOOK_TC_LAN_IN, V_DROP_POLICY), 1);
	tcp6(&in, FX.lan_mac, MAC_CLIENT, C6, DROP6, 43001, 443, F_SYN);
	assert_int_equal(run_tc(FX.tc_lan_in, FX.lan_if, 0, &in, NULL, NULL), TC_ACT_SHOT);
	assert_int_equal(v6verdict(HOOK_TC_LAN_IN, V_DROP_POLICY), 2);
	/* Control: the next /64 is no rule's. */
	assert_int_equal(tcp_out(C6, "2001:db8:ffff:c::1", 43000, 443, &o), XDP_REDIRECT);
	assert_int_equal(v6verdict(HOOK_XDP_LAN, V_DROP_POLICY), 1);
}

static void test_rule6_first_match_wins(void **state)
{
	struct frame in;

	(void)state;
	/* TCP matches first6 (only2) before second6 (drop)... */
	assert_int_equal(wans_of(C6, BOTH6, 80, 44000, 16), 1U << ISP2);
	/* ...UDP only second6. */
	udp6(&in, FX.lan_mac, MAC_CLIENT, C6, BOTH6, 44000, 9999);
	assert_int_equal(run_xdp(FX.xdp_lan, FX.lan_if, &in, NULL), XDP_DROP);
	assert_int_equal(v6verdict(HOOK_XDP_LAN, V_DROP_POLICY), 1);
}

static void test_rule6_icmp_is_icmpv6(void **state)
{
	struct frame in, o;

	(void)state;
	/* `proto: icmp` of an IPv6 rule is ICMPv6: the echo request is dropped... */
	echo6(&in, FX.lan_mac, MAC_CLIENT, C6, NOPING6, 7);
	assert_true(l4_ok(&in, 58));
	assert_int_equal(run_xdp(FX.xdp_lan, FX.lan_if, &in, NULL), XDP_DROP);
	assert_int_equal(v6verdict(HOOK_XDP_LAN, V_DROP_POLICY), 1);
	/* ...control: TCP to the same host is not, nor a ping elsewhere. */
	assert_int_equal(tcp_out(C6, NOPING6, 45000, 443, &o), XDP_REDIRECT);
	echo6(&in, FX.lan_mac, MAC_CLIENT, C6, OTHER, 7);
	assert_int_equal(run_xdp(FX.xdp_lan, FX.lan_if, &in, &o), XDP_REDIRECT);
	assert_true(l4_ok(&o, 58));
	assert_int_equal(v6verdict(HOOK_XDP_LAN, V_DROP_POLICY), 1);
}

/* A family-less rule is both families'; `family: ipv6` and an IPv4 prefix one family's. */
static void test_rule_families(void **state)
{
	struct frame in, o;
	unsigned int v4 = 0, v6 = 0;

	(void)state;
	for (uint16_t sp = 46000; sp < 46016; sp++) {
		struct pk p = {
			.l2 = from_client(), .sa = CLIENT, .da = REMOTE, .proto = PROTO_UDP,
			.sp = sp, .dp = 53,
		};
		struct opened op;

		open_flow(&p, &op);
		v4 |= 1U << op.gw;
		udp6(&in, FX.lan_mac, MAC_CLIENT, C6, OTHER, sp, 53);
		assert_int_equal(run_xdp(FX.xdp_lan, FX.lan_if, &in, &o), XDP_REDIRECT);
		v6 |= 1U << gw_of(&o);
	}
	/* dns (udp 53, no prefix): isp2 for both families. */
	assert_int_equal(v4, 1U << ISP2);
	assert_int_equal(v6, 1U << ISP2);
	/* v6-web (family ipv6, tcp 8443): IPv6's only; IPv4 to 8443 is balanced. */
	assert_int_equal(wans_of(C6, OTHER, 8443, 46100, 16), 1U << ISP2);
	v4 = 0;
	for (uint16_t sp = 46100; sp < 46132; sp++) {
		struct pk p = {
			.l2 = from_client(), .sa = CLIENT, .da = REMOTE, .proto = PROTO_TCP,
			.sp = sp, .dp = 8443, .flags = F_SYN,
		};
		struct opened op;

		open_flow(&p, &op);
		v4 |= 1U << op.gw;
	}
	assert_int_equal(v4, 1U << ISP1 | 1U << ISP2);
	/* v4-lookalike (32.1.13.184, 2001:db8's first word): no IPv6 flow drops. */
	assert_int_equal(tcp_out(C6, "2001:db8::1", 46200, 443, &o), XDP_REDIRECT);
	assert_int_equal(v6verdict(HOOK_XDP_LAN, V_DROP_POLICY), 0);
	/* Control: the IPv4 flow to it does. */
	{
		struct pk p = {
			.l2 = from_client(), .sa = CLIENT, .da = ip4("32.1.13.184"),
			.proto = PROTO_TCP, .sp = 46200, .dp = 443, .flags = F_SYN,
		};

		mk(&in, &p);
		expect_xdp(FX.xdp_lan, FX.lan_if, &in, NULL, XDP_DROP, HOOK_XDP_LAN,
			   V_DROP_POLICY);
	}
}

static void test_rule6_tc_path_marks_the_rules_wan(void **state)
{
	struct frame in, o;
	uint32_t mark = 0;

	(void)state;
	tcp6(&in, FX.lan_mac, MAC_CLIENT, C6, TO_ISP2, 47000, 443, F_SYN);
	assert_int_equal(run_tc(FX.tc_lan_in, FX.lan_if, 0, &in, &o, &mark), TC_ACT_OK);
	assert_int_equal(mark & FX.fwmark_mask, xwan_gw_fwmark(FX.fwmark_mask, ISP2));
	assert_int_equal(run_tc(FX.tc_wan_out, FX.wan_if[ISP2], mark, &o, &o, NULL), TC_ACT_OK);
	assert_true(in64(o.d + ETH_LEN + 8, OUT2));
	assert_true(l4_ok(&o, PROTO_TCP));
}

/* ----------------------------------------------------------- sticky */

static void test_sticky6_keeps_a_client_on_one_wan(void **state)
{
	uint64_t hits = fx_event(EV_STICKY_HIT);
	unsigned int used;

	(void)state;
	used = wans_of(C6, OTHER, 443, 48000, 32);
	assert_true(used == 1U << ISP1 || used == 1U << ISP2);
	assert_int_equal(fx_event(EV_STICKY_HIT) - hits, 31);
	assert_int_equal(fx_table_count(XM_STICKY6), 1);
	/* Another client gets its own binding. */
	wans_of("fd00:1::3", OTHER, 443, 48000, 4);
	assert_int_equal(fx_table_count(XM_STICKY6), 2);
}

static void test_sticky6_off_control(void **state)
{
	(void)state;
	/* Control for the case above: the same 32 flows spread without sticky. */
	assert_int_equal(wans_of(C6, OTHER, 443, 48000, 32), 1U << ISP1 | 1U << ISP2);
	assert_int_equal(fx_table_count(XM_STICKY6), 0);
}

static int install_groups6(void)
{
	static xwan_usable_t by_group;

	for (int g = 0; g < XWAN_MAX_GROUPS; g++)
		memcpy(by_group[g], FX.usable, sizeof(by_group[g]));
	return xwan_install_groups6(&FX.cfg, FX.m, by_group);
}

static void test_sticky6_moves_when_its_wan_fails(void **state)
{
	struct frame o;
	int bound, other;

	(void)state;
	assert_int_equal(tcp_out(C6, OTHER, 49000, 443, &o), XDP_REDIRECT);
	bound = gw_of(&o);
	assert_true(bound >= 0);
	other = 1 - bound;
	FX.usable[bound] = false;       /* down for IPv6 */
	assert_int_equal(install_groups6(), 0);
	assert_int_equal(wans_of(C6, OTHER, 443, 49001, 16), 1U << other);
	/* Back up: the client stays where it was rebound (no flap back). */
	FX.usable[bound] = true;
	assert_int_equal(install_groups6(), 0);
	assert_int_equal(wans_of(C6, OTHER, 443, 49100, 16), 1U << other);
}

static int group_setup(void **state)
{
	return fx6_group_setup(state, POLICY6_CONFIG);
}

#define T(fn, setup) cmocka_unit_test_setup(fn, setup)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_rule6_destination_to_a_group, setup_plain),
		T(test_rule6_source_prefix, setup_plain),
		T(test_rule6_bypass_leaves_to_the_kernel, setup_plain),
		T(test_rule6_drop_is_counted, setup_plain),
		T(test_rule6_first_match_wins, setup_plain),
		T(test_rule6_icmp_is_icmpv6, setup_plain),
		T(test_rule_families, setup_plain),
		T(test_rule6_tc_path_marks_the_rules_wan, setup_plain),
		T(test_sticky6_keeps_a_client_on_one_wan, setup_sticky),
		T(test_sticky6_off_control, setup_plain),
		T(test_sticky6_moves_when_its_wan_fails, setup_sticky),
	};

	return cmocka_run_group_tests(tests, group_setup, fx_group_teardown);
}
