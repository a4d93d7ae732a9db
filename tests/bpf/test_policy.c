// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Policy on the real programs (BPF_PROG_TEST_RUN, fixture.h): rules (bypass,
 * drop, a group, first match wins, a reload's bank flip), sticky clients and
 * port forwards with symmetric return. Deterministic: the hash seed is the
 * config's, the process runs on one CPU, and every case has its control, the
 * same traffic without the policy, that shows the check can fail.
 *
 *   build/tests/test_policy                 all (root)
 *   build/tests/test_policy 'test_sticky_*' those matching a pattern
 */
#include "tests/bpf/cases.h"

#define SERVER     ip4("10.1.0.9")      /* the port forwards' LAN server */
#define GUEST      ip4("10.1.0.130")    /* in the guests' prefix */
#define BYPASSED   ip4("192.0.2.200")   /* in the bypass rule's prefix */
#define BOTH_RULES ip4("192.0.2.70")    /* matched by two rules */
#define ISP1 0
#define ISP2 1

static const uint8_t MAC_SERVER[6] = { 0x02, 0, 0, 0, 0, 0x09 };

static const char POLICY_CONFIG[] = XWAN_TEST_LAN_WAN
	"groups:\n"
	"  - name: balance\n"
	"    members: [{wan: isp1}, {wan: isp2}]\n"
	"    hash_fields: [src, dst, proto, sport, dport]\n"
	"  - name: only2\n"
	"    members: [{wan: isp2}]\n"
	"default_group: balance\n"
	"rules:\n"
	"  - {name: bypass-range, dst: 192.0.2.128/25, action: bypass}\n"
	"  - {name: block-smtp, proto: tcp, dport: 25, action: drop}\n"
	"  - {name: voip, proto: udp, dport: 5060-5061, group: only2}\n"
	"  - {name: guests, src: 10.1.0.128/25, group: only2}\n"
	"  - {name: first, dst: 192.0.2.64/26, proto: tcp, group: only2}\n"
	"  - {name: second, dst: 192.0.2.64/26, action: drop}\n"
	"port_forwards:\n"
	"  - {wan: isp2, proto: tcp, port: 2222, to: \"10.1.0.9:22\"}\n"
	"  - {wan: isp1, proto: udp, port: 5353, to: \"10.1.0.9\"}\n"
	"flow_table_size: 65536\n";

static void sticky_src_dst(struct xwan_config *cfg)
{
	sticky_on(cfg);
	cfg->groups[0].sticky_key = STICKY_KEY_SRC_DST;
}

static int setup_sticky_src_dst(void **state)
{
	FX_TWEAK = sticky_src_dst;
	return fx_setup(state);
}

static struct pk from(uint32_t src, uint32_t dst, uint8_t proto, uint16_t sport, uint16_t dport)
{
	struct pk p = {
		.l2 = from_client(), .sa = src, .da = dst, .proto = proto,
		.sp = sport, .dp = dport, .flags = proto == PROTO_TCP ? F_SYN : 0,
	};

	return p;
}

/* Open n flows (sport from base up); a mask of the gateways they used. */
static unsigned int gateways_of(uint32_t src, uint32_t dst, uint8_t proto, uint16_t dport,
				uint16_t base, int n)
{
	unsigned int used = 0;

	for (int i = 0; i < n; i++) {
		struct pk p = from(src, dst, proto, (uint16_t)(base + i), dport);
		struct opened o;

		open_flow(&p, &o);
		used |= 1U << o.gw;
	}
	return used;
}

/* ------------------------------------------------------------- rules */

static void test_rule_bypass_leaves_to_the_kernel(void **state)
{
	struct pk p = from(CLIENT, BYPASSED, PROTO_UDP, 40000, 53);
	struct flow_key k = key_of(&p);
	struct flow_entry e;
	struct frame in, out;

	(void)state;
	mk(&in, &p);
	expect_xdp(FX.xdp_lan, FX.lan_if, &in, &out, XDP_PASS, HOOK_XDP_LAN, V_PASS_BYPASS);
	expect_untouched(&out, &in);
	/* The decision is cached as a flow: the next packet needs no rule scan. */
	assert_true(fx_flow(&k, &e));
	assert_true(e.flags & FLOW_F_BYPASS);
	assert_int_equal(e.rule, 0);
	expect_xdp(FX.xdp_lan, FX.lan_if, &in, &out, XDP_PASS, HOOK_XDP_LAN, V_PASS_BYPASS);
	/* Control: outside the rule's prefix the same packet is NATed. */
	p.da = REMOTE;
	mk(&in, &p);
	expect_xdp(FX.xdp_lan, FX.lan_if, &in, &out, XDP_REDIRECT, HOOK_XDP_LAN, V_FWD_OUT);
}

static void test_rule_drop_is_counted(void **state)
{
	struct pk p = from(CLIENT, REMOTE, PROTO_TCP, 40001, 25);
	struct flow_key k = key_of(&p);
	struct flow_entry e;
	struct frame in;

	(void)state;
	mk(&in, &p);
	expect_xdp(FX.xdp_lan, FX.lan_if, &in, NULL, XDP_DROP, HOOK_XDP_LAN, V_DROP_POLICY);
	assert_true(fx_flow(&k, &e));
	assert_true(e.flags & FLOW_F_DROP);
	assert_int_equal(e.rule, 1);
	/* Control: the next port is not the rule's. */
	p.dp = 26;
	mk(&in, &p);
	expect_xdp(FX.xdp_lan, FX.lan_if, &in, NULL, XDP_REDIRECT, HOOK_XDP_LAN, V_FWD_OUT);
}

static void test_rule_group_takes_every_matching_flow(void **state)
{
	(void)state;
	/* 64 flows of one client: the voip rule puts all on isp2. */
	assert_int_equal(gateways_of(CLIENT, REMOTE, PROTO_UDP, 5060, 41000, 64), 1U << ISP2);
	assert_int_equal(gateways_of(CLIENT, REMOTE, PROTO_UDP, 5061, 42000, 64), 1U << ISP2);
	/* Control: port 5062 is outside the rule: the 3:1 hash uses both. */
	assert_int_equal(gateways_of(CLIENT, REMOTE, PROTO_UDP, 5062, 43000, 64),
			 1U << ISP1 | 1U << ISP2);
}

static void test_rule_source_prefix(void **state)
{
	struct pk p = from(GUEST, REMOTE, PROTO_TCP, 44000, 443);
	struct opened o;

	(void)state;
	assert_int_equal(gateways_of(GUEST, REMOTE, PROTO_TCP, 443, 44001, 64), 1U << ISP2);
	open_flow(&p, &o);
	assert_int_equal(o.out_e.rule, 3);
	assert_int_equal(o.out_e.xlate_addr, FX.nat_addr[ISP2]);
	/* Control: a client outside the guests' prefix is balanced. */
	assert_int_equal(gateways_of(CLIENT, REMOTE, PROTO_TCP, 443, 44001, 64),
			 1U << ISP1 | 1U << ISP2);
}

static void test_rule_first_match_wins(void **state)
{
	struct pk udp = from(CLIENT, BOTH_RULES, PROTO_UDP, 45000, 9999);
	struct frame in;

	(void)state;
	/* TCP matches "first" (only2) before "second" (drop)... */
	assert_int_equal(gateways_of(CLIENT, BOTH_RULES, PROTO_TCP, 80, 45001, 32), 1U << ISP2);
	/* ...UDP only "second". */
	mk(&in, &udp);
	expect_xdp(FX.xdp_lan, FX.lan_if, &in, NULL, XDP_DROP, HOOK_XDP_LAN, V_DROP_POLICY);
}

static void test_rule_reload_flips_to_the_new_bank(void **state)
{
	struct pk p = from(CLIENT, REMOTE, PROTO_TCP, 46000, 25);
	struct frame in;
	char err[256];

	(void)state;
	mk(&in, &p);
	expect_xdp(FX.xdp_lan, FX.lan_if, &in, NULL, XDP_DROP, HOOK_XDP_LAN, V_DROP_POLICY);
	/* A reload without block-smtp: new connections to :25 pass. */
	memmove(&FX.cfg.rules[1], &FX.cfg.rules[2],
		sizeof(FX.cfg.rules[0]) * (size_t)(FX.cfg.n_rules - 2));
	FX.cfg.n_rules--;
	assert_int_equal(xwan_sync_all(&FX.cfg, &FX.host, FX.m, FX.status, FX.usable, err,
				       sizeof(err)), 0);
	p.sp = 46001;
	mk(&in, &p);
	expect_xdp(FX.xdp_lan, FX.lan_if, &in, NULL, XDP_REDIRECT, HOOK_XDP_LAN, V_FWD_OUT);
	/* The shifted rules kept their meaning: voip (now index 1) still pins isp2. */
	assert_int_equal(gateways_of(CLIENT, REMOTE, PROTO_UDP, 5060, 46100, 16), 1U << ISP2);
}

/* ----------------------------------------------------------- sticky */

static void test_sticky_keeps_a_client_on_one_wan(void **state)
{
	uint64_t hits = fx_event(EV_STICKY_HIT);
	unsigned int used;

	(void)state;
	used = gateways_of(CLIENT, REMOTE, PROTO_TCP, 443, 47000, 64);
	assert_true(used == 1U << ISP1 || used == 1U << ISP2);
	assert_int_equal(fx_event(EV_STICKY_HIT) - hits, 63);
	/* Another client gets its own binding (one entry per source). */
	gateways_of(CLIENT2, REMOTE, PROTO_TCP, 443, 47000, 4);
	assert_int_equal(fx_table_count(XM_STICKY), 2);
}

static void test_sticky_off_control(void **state)
{
	(void)state;
	/* Control for the case above: the same 64 flows spread without sticky. */
	assert_int_equal(gateways_of(CLIENT, REMOTE, PROTO_TCP, 443, 47000, 64),
			 1U << ISP1 | 1U << ISP2);
	assert_int_equal(fx_table_count(XM_STICKY), 0);
}

static void test_sticky_moves_when_its_wan_fails(void **state)
{
	struct pk p = from(CLIENT, REMOTE, PROTO_TCP, 48000, 443);
	struct opened o;
	int bound, other;

	(void)state;
	open_flow(&p, &o);
	bound = o.gw;
	other = 1 - bound;
	FX.usable[bound] = false;
	assert_int_equal(fx_install_groups(), 0);
	assert_int_equal(gateways_of(CLIENT, REMOTE, PROTO_TCP, 443, 48001, 16), 1U << other);
	/* Back up: the client stays where it was rebound (no flap back). */
	FX.usable[bound] = true;
	assert_int_equal(fx_install_groups(), 0);
	assert_int_equal(gateways_of(CLIENT, REMOTE, PROTO_TCP, 443, 48100, 16), 1U << other);
}

static void test_sticky_src_dst_binds_per_destination(void **state)
{
	uint32_t dst[4] = { ip4("192.0.2.10"), ip4("192.0.2.11"), ip4("192.0.2.12"),
			    ip4("192.0.2.13") };
	unsigned int used;

	(void)state;
	for (int d = 0; d < 4; d++) {
		used = gateways_of(CLIENT, dst[d], PROTO_TCP, 443, 49000, 16);
		assert_true(used == 1U << ISP1 || used == 1U << ISP2);
	}
	assert_int_equal(fx_table_count(XM_STICKY), 4);
}

/* ------------------------------------------------------ port forwards */

static struct pk inbound(int gw, uint8_t proto, uint16_t sport, uint16_t dport)
{
	struct pk p = {
		.l2 = from_gw(gw), .sa = REMOTE, .da = FX.nat_addr[gw], .proto = proto,
		.sp = sport, .dp = dport, .flags = proto == PROTO_TCP ? F_SYN : 0,
	};

	return p;
}

/* A forward's first packet reaches the server; its answer leaves the same WAN. */
static void forward_round_trip(int gw, uint8_t proto, uint16_t public_port,
			       uint16_t server_port)
{
	struct pk syn = inbound(gw, proto, 50000, public_port), exp, ans;
	struct frame in, out;
	struct flow_entry e;
	struct flow_key k;

	mk(&in, &syn);
	expect_xdp(FX.xdp_wan, FX.wan_if[gw], &in, &out, XDP_REDIRECT, HOOK_XDP_WAN,
		   V_FWD_PORT_FORWARD);
	exp = syn;
	exp.l2 = (struct l2){ MAC_SERVER, FX.lan_mac };
	exp.da = SERVER;
	exp.dp = server_port;
	exp.ttl = 63;
	expect_pk(&out, &exp);

	/* The server answers from the LAN: out through the WAN it came in on. */
	ans = (struct pk){ .l2 = (struct l2){ FX.lan_mac, MAC_SERVER }, .sa = SERVER,
			   .da = REMOTE, .proto = proto, .sp = server_port, .dp = 50000,
			   .flags = proto == PROTO_TCP ? F_SYN | F_ACK : 0 };
	k = key_of(&ans);
	assert_true(fx_flow(&k, &e));
	assert_int_equal(e.gw, gw);
	mk(&in, &ans);
	expect_xdp(FX.xdp_lan, FX.lan_if, &in, &out, XDP_REDIRECT, HOOK_XDP_LAN, V_FWD_OUT);
	exp = snat(ans, gw, public_port);
	expect_pk(&out, &exp);
}

static void test_forward_tcp_on_isp2_returns_through_isp2(void **state)
{
	(void)state;
	forward_round_trip(ISP2, PROTO_TCP, 2222, 22);
}

static void test_forward_udp_on_isp1_returns_through_isp1(void **state)
{
	(void)state;
	forward_round_trip(ISP1, PROTO_UDP, 5353, 5353);
}

static void test_forward_controls(void **state)
{
	struct pk p[3] = {
		inbound(ISP2, PROTO_TCP, 50001, 2223),  /* the next port */
		inbound(ISP1, PROTO_TCP, 50002, 2222),  /* the other WAN */
		inbound(ISP2, PROTO_UDP, 50003, 2222),  /* the other protocol */
	};
	int gw[3] = { ISP2, ISP1, ISP2 };
	struct frame in, out;

	(void)state;
	/* Not forwarded: left untouched to the host's own stack, no flow made. */
	for (int i = 0; i < 3; i++) {
		mk(&in, &p[i]);
		expect_xdp(FX.xdp_wan, FX.wan_if[gw[i]], &in, &out, XDP_PASS, HOOK_XDP_WAN,
			   V_PASS_LOCAL);
		expect_untouched(&out, &in);
	}
	assert_int_equal(fx_flow_count(), 0);
}

static int group_setup(void **state)
{
	FX_BASE_YAML = POLICY_CONFIG;
	if (fx_group_setup(state))
		return -1;
	/* The server's MAC, so the forward's redirect has its destination. */
	return system("ip neigh replace 10.1.0.9 lladdr 02:00:00:00:00:09 dev lan0 nud permanent");
}

#define T(fn, setup) cmocka_unit_test_setup(fn, setup)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_rule_bypass_leaves_to_the_kernel, setup_plain),
		T(test_rule_drop_is_counted, setup_plain),
		T(test_rule_group_takes_every_matching_flow, setup_plain),
		T(test_rule_source_prefix, setup_plain),
		T(test_rule_first_match_wins, setup_plain),
		T(test_rule_reload_flips_to_the_new_bank, setup_plain),
		T(test_sticky_keeps_a_client_on_one_wan, setup_sticky),
		T(test_sticky_off_control, setup_plain),
		T(test_sticky_moves_when_its_wan_fails, setup_sticky),
		T(test_sticky_src_dst_binds_per_destination, setup_sticky_src_dst),
		T(test_forward_tcp_on_isp2_returns_through_isp2, setup_plain),
		T(test_forward_udp_on_isp1_returns_through_isp1, setup_plain),
		T(test_forward_controls, setup_plain),
	};

	return cmocka_run_group_tests(tests, group_setup, fx_group_teardown);
}
