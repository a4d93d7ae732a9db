// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Hairpinning and NAT reflection (RFC 4787 REQ-9, RFC 5382 REQ-8) on the
 * real programs (BPF_PROG_TEST_RUN, fixture.h): a LAN client that sends to
 * a WAN address reaches the port forward's server or the LAN host whose
 * mapping it is, in XDP, and the answers come back through the same pair
 * of entries. The fixture has one LAN interface; the "other subnet" is a
 * second configured network on it (10.2.0.0/24), which is what decides
 * whether the source is translated. Every frame is compared byte for byte
 * with one built from scratch, all checksums recomputed.
 *
 *   build/tests/test_hairpin                    all (root)
 *   build/tests/test_hairpin 'test_mapping_*'   those matching a pattern
 */
#include "tests/bpf/cases.h"

#define SERVER      ip4("10.1.0.9")     /* the port forwards' server */
#define FAR_CLIENT  ip4("10.2.0.7")     /* on the LAN's other network */
#define P2P_HOST    ip4("10.1.0.3")     /* its rule makes full-cone mappings */
#define STRICT_HOST ip4("10.1.0.4")     /* default filtering */
#define ADDR_HOST   ip4("10.1.0.5")     /* address-dependent filtering */
#define ISP1 0

static const uint8_t MAC_SERVER[6] = { 0x02, 0, 0, 0, 0, 0x09 };
static const uint8_t MAC_P2P[6] = { 0x02, 0, 0, 0, 0, 0x03 };
static const uint8_t MAC_FAR[6] = { 0x02, 0, 0, 0, 0, 0x07 };
static const uint8_t MAC_ADDR[6] = { 0x02, 0, 0, 0, 0, 0x05 };

static const char HAIRPIN_CONFIG[] =
	"lan:\n"
	"  - interface: lan0\n"
	"    networks: [10.1.0.0/24, 10.2.0.0/24]\n"
	"wan:\n"
	"  - name: isp1\n"
	"    interface: wan1\n"
	"    gateway: 203.0.113.1\n"
	"    nat_ports: 1024-65535\n"
	"    monitor: false\n"
	"  - name: isp2\n"
	"    interface: wan2\n"
	"    gateway: 198.51.100.1\n"
	"    monitor: false\n"
	"groups:\n"
	"  - name: only1\n"
	"    members: [{wan: isp1}]\n"
	"default_group: only1\n"
	"rules:\n"
	"  - {name: p2p, src: 10.1.0.3/32, group: only1, filtering: endpoint-independent}\n"
	"  - {name: restricted, src: 10.1.0.5/32, group: only1, filtering: address-dependent}\n"
	"port_forwards:\n"
	"  - {wan: isp1, proto: tcp, port: 8080, to: \"10.1.0.9:80\"}\n"
	"  - {wan: isp1, proto: udp, port: 5353, to: \"10.1.0.9:53\"}\n"
	"  - {wan: isp1, proto: tcp, port: 8081, to: \"10.1.0.9:81\", reflection: false}\n"
	"flow_table_size: 65536\n";

/* As devpath_sync writes it for a LAN whose XDP transmits: LAN to itself too. */
static int setup(void **state)
{
	struct tx_path t = { .path = XDP_TX_REDIRECT };
	struct tx_path_key k = { .in_ifindex = (uint32_t)FX.lan_if,
				 .out_ifindex = (uint32_t)FX.lan_if };

	if (fx_setup(state))
		return -1;
	return bpf_map_update_elem(FX.m->fd[XM_TX_PATHS], &k, &t, BPF_ANY) ? -1 : 0;
}

static struct pk lan_pk(const uint8_t *mac, uint32_t sa, uint32_t da, uint8_t proto,
			uint16_t sp, uint16_t dp, uint8_t flags)
{
	struct pk p = {
		.l2 = (struct l2){ FX.lan_mac, mac }, .sa = sa, .da = da, .proto = proto,
		.sp = sp, .dp = dp, .flags = flags,
	};

	return p;
}

/* p as it should leave toward a LAN host: MACs, both ends, TTL - 1. */
static struct pk hairpinned(struct pk p, const uint8_t *to_mac, uint32_t sa, uint16_t sp,
			    uint32_t da, uint16_t dp)
{
	p.l2 = (struct l2){ to_mac, FX.lan_mac };
	p.sa = sa;
	p.sp = sp;
	p.da = da;
	p.dp = dp;
	p.ttl = (uint8_t)(ttl_of(&p) - 1);
	return p;
}

static void expect_hairpin_entry(const struct pk *p)
{
	struct flow_key k = key_of(p);
	struct flow_entry e;

	assert_true(fx_flow(&k, &e));
	assert_int_equal(e.group, XWAN_GROUP_HAIRPIN);
	assert_int_equal(e.gw, ISP1);
}

/*
 * Reflection from the LAN's other network: the server sees the client's
 * own address and answers it through xwan, which sends the answer from
 * the WAN address the client connected to.
 */
static void test_reflection_from_another_subnet(void **state)
{
	uint32_t wan = FX.nat_addr[ISP1];
	struct pk syn = lan_pk(MAC_FAR, FAR_CLIENT, wan, PROTO_TCP, 40000, 8080, F_SYN);
	struct pk ans = lan_pk(MAC_SERVER, SERVER, FAR_CLIENT, PROTO_TCP, 80, 40000,
			       F_SYN | F_ACK);
	struct pk exp;
	struct frame in, out;

	(void)state;
	mk(&in, &syn);
	expect_xdp(FX.xdp_lan, FX.lan_if, &in, &out, XDP_REDIRECT, HOOK_XDP_LAN, V_FWD_HAIRPIN);
	exp = hairpinned(syn, MAC_SERVER, FAR_CLIENT, 40000, SERVER, 80);
	expect_pk(&out, &exp);
	expect_hairpin_entry(&syn);
	expect_hairpin_entry(&ans);

	mk(&in, &ans);
	expect_xdp(FX.xdp_lan, FX.lan_if, &in, &out, XDP_REDIRECT, HOOK_XDP_LAN, V_FWD_HAIRPIN);
	exp = hairpinned(ans, MAC_FAR, wan, 8080, FAR_CLIENT, 40000);
	expect_pk(&out, &exp);
	assert_int_equal(fx_event(EV_HAIRPIN_OPENED), 1);
	assert_int_equal(fx_flow_count(), 2);   /* one flow: its two entries */
}

/*
 * Reflection on the server's own network: the source becomes the router's
 * address there, else the server would answer the client directly. Then
 * the kernel path: tc_lan_ingress translates the same flow the same way.
 */
static void test_reflection_same_subnet_double_nat(void **state)
{
	uint32_t wan = FX.nat_addr[ISP1];
	struct pk syn = lan_pk(MAC_CLIENT, CLIENT, wan, PROTO_TCP, 40000, 8080, F_SYN);
	struct pk ans, ack, exp;
	struct frame in, out;
	uint32_t mark;

	(void)state;
	mk(&in, &syn);
	expect_xdp(FX.xdp_lan, FX.lan_if, &in, &out, XDP_REDIRECT, HOOK_XDP_LAN, V_FWD_HAIRPIN);
	/* The client's port when free, as NAT keeps it. */
	exp = hairpinned(syn, MAC_SERVER, LAN_HOST, 40000, SERVER, 80);
	expect_pk(&out, &exp);

	ans = lan_pk(MAC_SERVER, SERVER, LAN_HOST, PROTO_TCP, 80, 40000, F_SYN | F_ACK);
	mk(&in, &ans);
	expect_xdp(FX.xdp_lan, FX.lan_if, &in, &out, XDP_REDIRECT, HOOK_XDP_LAN, V_FWD_HAIRPIN);
	exp = hairpinned(ans, MAC_CLIENT, wan, 8080, CLIENT, 40000);
	expect_pk(&out, &exp);

	/* The client's ACK by the kernel path (no XDP transmit): same translation. */
	ack = lan_pk(MAC_CLIENT, CLIENT, wan, PROTO_TCP, 40000, 8080, F_ACK);
	ack.seq = 1001;
	ack.ack = 1001;
	mk(&in, &ack);
	run_tc(FX.tc_lan_in, FX.lan_if, 0, &in, &out, &mark);
	assert_int_equal(fx_verdict(HOOK_TC_LAN_IN, V_FWD_HAIRPIN), 1);
	exp = ack;
	exp.sa = LAN_HOST;
	exp.da = SERVER;
	exp.dp = 80;
	exp.ttl = 63;   /* the MACs are the kernel's to write: only L3/L4 compared */
	exp.l2 = ack.l2;
	expect_pk(&out, &exp);
}

/* Control: `reflection: false` leaves the packet to the host, as before. */
static void test_reflection_off_control(void **state)
{
	uint32_t wan = FX.nat_addr[ISP1];
	struct pk syn = lan_pk(MAC_FAR, FAR_CLIENT, wan, PROTO_TCP, 40000, 8081, F_SYN);
	struct frame in, out;

	(void)state;
	mk(&in, &syn);
	expect_xdp(FX.xdp_lan, FX.lan_if, &in, &out, XDP_PASS, HOOK_XDP_LAN, V_PASS_LOCAL);
	expect_untouched(&out, &in);
	assert_int_equal(fx_flow_count(), 0);
	assert_int_equal(fx_event(EV_HAIRPIN_OPENED), 0);
}

/* A LAN host's UDP mapping, made by sending to a STUN server: its public port. */
static uint16_t make_mapping(const uint8_t *mac, uint32_t host, uint16_t port)
{
	struct pk stun = lan_pk(mac, host, REMOTE, PROTO_UDP, port, 3478, 0);
	struct opened o;

	stun.pl = "binding";
	stun.n = 7;
	open_flow(&stun, &o);
	assert_int_equal(o.gw, ISP1);
	return o.port;
}

/*
 * Hairpinning to a mapping whose rule filters endpoint-independently: the
 * LAN host sees the client's own public address and port (REQ-9), and its
 * answer reaches the client from the mapping's public endpoint.
 */
static void test_mapping_hairpinned_full_cone(void **state)
{
	uint32_t wan = FX.nat_addr[ISP1];
	uint16_t p2p_pub = make_mapping(MAC_P2P, P2P_HOST, 5000);
	uint16_t client_pub = make_mapping(MAC_CLIENT, CLIENT, 6000);
	struct pk dg = lan_pk(MAC_CLIENT, CLIENT, wan, PROTO_UDP, 6000, p2p_pub, 0), ans, exp;
	struct frame in, out;

	(void)state;
	dg.pl = "hello peer";
	dg.n = 10;
	mk(&in, &dg);
	expect_xdp(FX.xdp_lan, FX.lan_if, &in, &out, XDP_REDIRECT, HOOK_XDP_LAN, V_FWD_HAIRPIN);
	exp = hairpinned(dg, MAC_P2P, wan, client_pub, P2P_HOST, 5000);
	expect_pk(&out, &exp);

	ans = lan_pk(MAC_P2P, P2P_HOST, wan, PROTO_UDP, 5000, client_pub, 0);
	ans.pl = "hi";
	ans.n = 2;
	mk(&in, &ans);
	expect_xdp(FX.xdp_lan, FX.lan_if, &in, &out, XDP_REDIRECT, HOOK_XDP_LAN, V_FWD_HAIRPIN);
	exp = hairpinned(ans, MAC_CLIENT, wan, p2p_pub, CLIENT, 6000);
	expect_pk(&out, &exp);
}

/* Control: the default filter refuses the hairpin as it refuses the internet. */
static void test_mapping_filter_refuses_control(void **state)
{
	uint32_t wan = FX.nat_addr[ISP1];
	uint16_t strict_pub = make_mapping(MAC_CLIENT, STRICT_HOST, 5000);
	struct pk dg = lan_pk(MAC_CLIENT, CLIENT, wan, PROTO_UDP, 6000, strict_pub, 0);
	struct frame in, out;

	(void)state;
	mk(&in, &dg);
	expect_xdp(FX.xdp_lan, FX.lan_if, &in, &out, XDP_DROP, HOOK_XDP_LAN,
		   V_DROP_UNSOLICITED);
	assert_int_equal(fx_event(EV_HAIRPIN_FILTERED), 1);
	assert_int_equal(fx_event(EV_HAIRPIN_OPENED), 0);
}

/* Address-dependent permits whose remote is in net/plen. */
static int permits_from(uint32_t net, int plen)
{
	struct nat_permit_key k, next, *prev = NULL;
	uint32_t mask = htonl(plen ? ~0u << (32 - plen) : 0);
	int n = 0;

	while (bpf_map_get_next_key(FX.m->fd[XM_NAT_PERMITS], prev, &next) == 0) {
		n += (next.remote & mask) == (net & mask);
		k = next;
		prev = &k;
	}
	return n;
}

/* Move the entry of p's key `ns` into the past, in whichever table holds it. */
static void age_flow(const struct pk *p, uint64_t ns)
{
	struct flow_key k = key_of(p);
	struct flow_entry e;
	int fd = FX.m->fd[XM_FLOWS];

	if (bpf_map_lookup_elem(fd, &k, &e)) {
		fd = FX.m->fd[XM_FLOWS_NEW];
		assert_int_equal(bpf_map_lookup_elem(fd, &k, &e), 0);
	}
	e.last_seen_ns -= ns;
	assert_int_equal(bpf_map_update_elem(fd, &k, &e, BPF_EXIST), 0);
}

/*
 * Address-dependent filtering and hairpins: a mapping admits another LAN
 * host through the WAN address once it has sent to that address itself
 * (its own hairpin to a full-cone peer), not before (control), and the
 * only permit hairpins make names the WAN address, never a LAN host.
 */
static void test_mapping_address_dependent_after_sending(void **state)
{
	uint32_t wan = FX.nat_addr[ISP1];
	uint16_t ad_pub = make_mapping(MAC_ADDR, ADDR_HOST, 5000);
	uint16_t p2p_pub = make_mapping(MAC_P2P, P2P_HOST, 5000);
	struct pk knock = lan_pk(MAC_CLIENT, CLIENT, wan, PROTO_UDP, 6000, ad_pub, 0);
	struct pk out_dg = lan_pk(MAC_ADDR, ADDR_HOST, wan, PROTO_UDP, 5000, p2p_pub, 0), exp;
	struct frame in, out;

	(void)state;
	mk(&in, &knock);
	expect_xdp(FX.xdp_lan, FX.lan_if, &in, &out, XDP_DROP, HOOK_XDP_LAN,
		   V_DROP_UNSOLICITED);
	assert_int_equal(fx_event(EV_HAIRPIN_FILTERED), 1);

	/* Its own hairpin to the full-cone peer: seen from its public endpoint. */
	mk(&in, &out_dg);
	expect_xdp(FX.xdp_lan, FX.lan_if, &in, &out, XDP_REDIRECT, HOOK_XDP_LAN, V_FWD_HAIRPIN);
	exp = hairpinned(out_dg, MAC_P2P, wan, ad_pub, P2P_HOST, 5000);
	expect_pk(&out, &exp);
	assert_int_equal(permits_from(wan, 32), 1);

	knock.sp = 6001;
	mk(&in, &knock);
	expect_xdp(FX.xdp_lan, FX.lan_if, &in, &out, XDP_REDIRECT, HOOK_XDP_LAN, V_FWD_HAIRPIN);
	assert_int_equal(fx_event(EV_HAIRPIN_FILTERED), 1);

	/* Its packets 2^33 ns later refresh mappings (nat_map_touch): none with a LAN remote. */
	age_flow(&knock, 1ULL << 34);
	mk(&in, &knock);
	expect_xdp(FX.xdp_lan, FX.lan_if, &in, &out, XDP_REDIRECT, HOOK_XDP_LAN, V_FWD_HAIRPIN);
	assert_int_equal(permits_from(ip4("10.0.0.0"), 8), 0);
	assert_int_equal(permits_from(wan, 32), 1);
}

/*
 * The server's port unreachable about a reflected datagram reaches the
 * client as if the WAN address had sent it, quoting what the client sent.
 */
static void test_icmp_error_hairpinned(void **state)
{
	uint32_t wan = FX.nat_addr[ISP1];
	struct pk dg = lan_pk(MAC_FAR, FAR_CLIENT, wan, PROTO_UDP, 40001, 5353, 0);
	struct pk err, exp, sent;
	struct frame in, out, quoted;

	(void)state;
	dg.pl = "query";
	dg.n = 5;
	mk(&in, &dg);
	expect_xdp(FX.xdp_lan, FX.lan_if, &in, &quoted, XDP_REDIRECT, HOOK_XDP_LAN,
		   V_FWD_HAIRPIN);

	err = (struct pk){
		.l2 = (struct l2){ FX.lan_mac, MAC_SERVER }, .sa = SERVER, .da = FAR_CLIENT,
		.proto = PROTO_ICMP, .type = ICMPT_UNREACH, .code = 3,
		.pl = quoted.d + ETH_LEN, .n = quoted.len - ETH_LEN,
	};
	mk(&in, &err);
	expect_xdp(FX.xdp_lan, FX.lan_if, &in, &out, XDP_REDIRECT, HOOK_XDP_LAN,
		   V_FWD_ICMP_ERROR);

	/* Quoting the datagram as the client sent it (TTL as it reached the server). */
	sent = dg;
	sent.ttl = 63;
	mk(&quoted, &sent);
	exp = err;
	exp.l2 = (struct l2){ MAC_FAR, FX.lan_mac };
	exp.sa = wan;
	exp.ttl = 63;
	exp.pl = quoted.d + ETH_LEN;
	exp.n = quoted.len - ETH_LEN;
	expect_pk(&out, &exp);
}

/*
 * A reflected datagram whose TTL expires at the router: XDP passes it up,
 * tc answers Time Exceeded from the router's address on the client's
 * network, quoting the datagram as it arrived (what forwarding gets from
 * the kernel), back to the client's MAC; the server never sees it. Then the
 * same with TTL 2 is reflected (control), and an ICMP error with TTL 1 is
 * dropped, never answered with another error.
 */
static void test_ttl1_hairpin_time_exceeded(void **state)
{
	uint32_t wan = FX.nat_addr[ISP1], sa, da;
	struct pk dg = lan_pk(MAC_FAR, FAR_CLIENT, wan, PROTO_UDP, 40003, 5353, 0), err;
	const uint8_t *ip, *icmp;
	struct frame in, out;
	uint32_t mark;

	(void)state;
	dg.pl = "probe";
	dg.n = 5;
	dg.ttl = 1;
	mk(&in, &dg);
	expect_xdp(FX.xdp_lan, FX.lan_if, &in, &out, XDP_PASS, HOOK_XDP_LAN, V_PASS_TTL);
	expect_tc(FX.tc_lan_in, FX.lan_if, 0, &in, &out, &mark, TC_ACT_REDIRECT, HOOK_TC_LAN_IN,
		  V_FWD_TIME_EXCEEDED);
	assert_int_equal(out.len, ETH_LEN + 20 + 8 + 20 + 8);
	assert_memory_equal(out.d, MAC_FAR, 6);
	assert_memory_equal(out.d + 6, FX.lan_mac, 6);
	ip = out.d + ETH_LEN;
	icmp = ip + 20;
	memcpy(&sa, ip + 12, 4);
	memcpy(&da, ip + 16, 4);
	assert_int_equal(ip[0], 0x45);
	assert_int_equal(ip[9], PROTO_ICMP);
	assert_int_equal(ip[8], 64);
	assert_int_equal(sa, ip4("10.2.0.1"));  /* the router, on the client's network */
	assert_int_equal(da, FAR_CLIENT);
	assert_true(csum_inet_ok(ip, 20));
	assert_int_equal(icmp[0], ICMPT_TIMXCEED);
	assert_int_equal(icmp[1], 0);
	assert_true(csum_inet_ok(icmp, 8 + 28));
	assert_memory_equal(icmp + 8, in.d + ETH_LEN, 28);     /* as it arrived: TTL 1 */

	/* Control: one hop more reaches the server. */
	dg.ttl = 2;
	dg.sp = 40004;
	mk(&in, &dg);
	expect_xdp(FX.xdp_lan, FX.lan_if, &in, &out, XDP_REDIRECT, HOOK_XDP_LAN, V_FWD_HAIRPIN);

	/* No error about an error: the server's port unreachable with TTL 1. */
	err = (struct pk){
		.l2 = (struct l2){ FX.lan_mac, MAC_SERVER }, .sa = SERVER, .da = FAR_CLIENT,
		.proto = PROTO_ICMP, .type = ICMPT_UNREACH, .code = 3, .ttl = 1,
		.pl = out.d + ETH_LEN, .n = out.len - ETH_LEN,
	};
	mk(&in, &err);
	expect_tc(FX.tc_lan_in, FX.lan_if, 0, &in, &out, &mark, TC_ACT_SHOT, HOOK_TC_LAN_IN,
		  V_DROP_TTL);
}

static int group_setup(void **state)
{
	FX_BASE_YAML = HAIRPIN_CONFIG;
	if (fx_group_setup(state))
		return -1;
	/* The LAN's second network, and the LAN hosts' MACs. */
	return system("ip addr add 10.2.0.1/24 dev lan0 && "
		      "ip neigh replace 10.1.0.9 lladdr 02:00:00:00:00:09 dev lan0 nud permanent && "
		      "ip neigh replace 10.2.0.7 lladdr 02:00:00:00:00:07 dev lan0 nud permanent");
}

#define T(fn) cmocka_unit_test_setup(fn, setup)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_reflection_from_another_subnet),
		T(test_reflection_same_subnet_double_nat),
		T(test_reflection_off_control),
		T(test_mapping_hairpinned_full_cone),
		T(test_mapping_filter_refuses_control),
		T(test_mapping_address_dependent_after_sending),
		T(test_icmp_error_hairpinned),
		T(test_ttl1_hairpin_time_exceeded),
	};

	return cmocka_run_group_tests(tests, group_setup, fx_group_teardown);
}
