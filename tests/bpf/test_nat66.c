// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * NAT66 (nat6: masquerade, bpf/lib/nat66.h) on the real programs
 * (BPF_PROG_TEST_RUN, fixture.h), frames built from scratch (cases6.h):
 *   - TCP, UDP and ICMPv6 echo leave isp1 from its own address with the
 *     client's port when it is free (an echo identifier is its port), every
 *     checksum right when recomputed from scratch; the replies come back to
 *     the client translated back;
 *   - a port another LAN socket holds toward the same remote endpoint: the
 *     next client gets another port of the same parity; toward another
 *     remote the same port again (ports are unique per remote endpoint);
 *   - ICMPv6 errors about a masqueraded flow, quoting the translated packet,
 *     reach the client with the quote translated back (address, port and
 *     the quoted checksum), and a client's error about a reply leaves with
 *     the WAN's address in its quote;
 *   - the tc path (mark, then translate as it leaves wan1);
 *   - what may not open a flow, a protocol without ports (one LAN host per
 *     remote), inbound packets nobody asked for;
 *   - the host's own connection from the WAN address: its port is never a
 *     LAN flow's, its replies stay the host's.
 * Each case has a control that shows the check can fail.
 *
 *   build/tests/test_nat66             all (root)
 *   build/tests/test_nat66 'test_tcp*' those matching a pattern
 */
#include "tests/bpf/cases6.h"

/* isp1 masquerades (ports 20000-29999); isp2's nat6 none takes only its own prefix. */
static const char MASQ_CONFIG[] = FX6_CONFIG(
	"    nat_ports: 20000-29999\n"
	"    nat6: masquerade\n", "");

#define CLIENT  "fd00:1::2"
#define CLIENT2 "fd00:1::3"
#define SERVER  "2001:db8:ffff::100"
#define SERVER2 "2001:db8:ffff::200"
#define WAN1    "2001:db8:1::2"         /* isp1's address on wan1: the only one */
#define HOP1    "2001:db8:1::1"
#define PMIN    20000
#define PMAX    29999

static int group_setup(void **state)
{
	return fx6_group_setup(state, MASQ_CONFIG);
}

static uint16_t sport_of(const struct frame *f) { return rd16(f->d + L4); }
static uint16_t dport_of(const struct frame *f) { return rd16(f->d + L4 + 2); }

/* A client's TCP segment to dst:443 through xdp_lan. */
static uint32_t tcp_out(const char *src, const char *dst, uint16_t sp, uint8_t flags,
			struct frame *o)
{
	struct frame f;

	tcp6(&f, FX.lan_mac, MAC_CLIENT, src, dst, sp, 443, flags);
	return run_xdp(FX.xdp_lan, FX.lan_if, &f, o);
}

/* The server's answer to what left (`sent`, as the ISP saw it) through xdp_wan. */
static uint32_t tcp_back(const struct frame *sent, uint8_t flags, struct frame *o)
{
	struct frame r;
	char src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN];

	inet_ntop(AF_INET6, sent->d + ETH_LEN + 24, src, sizeof(src));
	inet_ntop(AF_INET6, sent->d + ETH_LEN + 8, dst, sizeof(dst));
	tcp6(&r, FX.wan_mac[0], MAC_GW[0], src, dst, dport_of(sent), sport_of(sent), flags);
	return run_xdp(FX.xdp_wan, FX.wan_if[0], &r, o);
}

/* ---------------------------------------------------------------- tcp */

static void test_tcp_leaves_from_the_wan_address_and_comes_back(void **state)
{
	struct frame o, b;
	const uint8_t *ip = o.d + ETH_LEN, *bip = b.d + ETH_LEN;

	(void)state;
	assert_int_equal(tcp_out(CLIENT, SERVER, 24000, F_SYN, &o), XDP_REDIRECT);
	assert_memory_equal(o.d, MAC_GW[0], 6);
	assert_memory_equal(o.d + 6, FX.wan_mac[0], 6);
	assert_int_equal(ip[7], 63);
	assert_true(addr_is(ip + 8, WAN1));             /* the WAN's own address */
	assert_true(addr_is(ip + 24, SERVER));
	assert_int_equal(sport_of(&o), 24000);          /* its own port: free */
	assert_true(l4_ok(&o, PROTO_TCP));              /* from scratch */
	assert_int_equal(v6verdict(HOOK_XDP_LAN, V_FWD_OUT), 1);

	assert_int_equal(tcp_back(&o, F_SYN | F_ACK, &b), XDP_REDIRECT);
	assert_memory_equal(b.d, MAC_CLIENT, 6);
	assert_memory_equal(b.d + 6, FX.lan_mac, 6);
	assert_true(addr_is(bip + 8, SERVER));
	assert_true(addr_is(bip + 24, CLIENT));
	assert_int_equal(dport_of(&b), 24000);
	assert_true(l4_ok(&b, PROTO_TCP));
	assert_int_equal(v6verdict(HOOK_XDP_WAN, V_FWD_IN), 1);
	assert_int_equal(gw6(0).pkts_out, 1);
	assert_int_equal(gw6(0).pkts_in, 1);
}

/* Control: a frame whose source was rewritten without its checksum fails the check. */
static void test_tcp_control_unadjusted_checksum_fails(void **state)
{
	struct frame f;

	(void)state;
	tcp6(&f, FX.lan_mac, MAC_CLIENT, CLIENT, SERVER, 24000, 443, F_SYN);
	assert_true(l4_ok(&f, PROTO_TCP));
	a6(WAN1, f.d + ETH_LEN + 8);
	assert_false(l4_ok(&f, PROTO_TCP));
	assert_false(addr_is(f.d + ETH_LEN + 8, CLIENT));
}

/* Out of the range, the client's port is not kept: one of the range. */
static void test_tcp_port_outside_the_range_is_translated(void **state)
{
	struct frame o, b;

	(void)state;
	assert_int_equal(tcp_out(CLIENT, SERVER, 40000, F_SYN, &o), XDP_REDIRECT);
	assert_in_range(sport_of(&o), PMIN, PMAX);
	assert_int_equal(sport_of(&o) & 1, 40000 & 1);
	assert_true(l4_ok(&o, PROTO_TCP));
	assert_int_equal(tcp_back(&o, F_SYN | F_ACK, &b), XDP_REDIRECT);
	assert_int_equal(dport_of(&b), 40000);
	assert_true(addr_is(b.d + ETH_LEN + 24, CLIENT));
	assert_true(l4_ok(&b, PROTO_TCP));
}

static void test_colliding_port_gets_another_of_the_same_parity(void **state)
{
	static const char *const hosts[] = { CLIENT, CLIENT2, "fd00:1::4", "fd00:1::5",
					     "fd00:1::6" };
	uint16_t got[5];
	struct frame o, b;

	(void)state;
	for (int i = 0; i < 5; i++) {
		assert_int_equal(tcp_out(hosts[i], SERVER, 24001, F_SYN, &o), XDP_REDIRECT);
		got[i] = sport_of(&o);
		assert_true(l4_ok(&o, PROTO_TCP));
		assert_in_range(got[i], PMIN, PMAX);
		assert_int_equal(got[i] & 1, 1);        /* 24001 is odd */
		for (int j = 0; j < i; j++)
			assert_int_not_equal(got[i], got[j]);
		/* each reply reaches its own client */
		assert_int_equal(tcp_back(&o, F_SYN | F_ACK, &b), XDP_REDIRECT);
		assert_true(addr_is(b.d + ETH_LEN + 24, hosts[i]));
		assert_int_equal(dport_of(&b), 24001);
	}
	assert_int_equal(got[0], 24001);               /* the first kept its own */
	assert_true(fx_event(EV_NAT_COLLISION) >= 4);
	/* Control: toward another server the second client's own port is free again. */
	assert_int_equal(tcp_out(CLIENT2, SERVER2, 24001, F_SYN, &o), XDP_REDIRECT);
	assert_int_equal(sport_of(&o), 24001);
}

/* ----------------------------------------------------------- udp, echo */

static void test_udp_out_and_back(void **state)
{
	struct frame f, o, b;

	(void)state;
	udp6(&f, FX.lan_mac, MAC_CLIENT, CLIENT, SERVER, 25000, 53);
	assert_int_equal(run_xdp(FX.xdp_lan, FX.lan_if, &f, &o), XDP_REDIRECT);
	assert_true(addr_is(o.d + ETH_LEN + 8, WAN1));
	assert_int_equal(sport_of(&o), 25000);
	assert_true(l4_ok(&o, PROTO_UDP));
	udp6(&f, FX.wan_mac[0], MAC_GW[0], SERVER, WAN1, 53, 25000);
	assert_int_equal(run_xdp(FX.xdp_wan, FX.wan_if[0], &f, &b), XDP_REDIRECT);
	assert_true(addr_is(b.d + ETH_LEN + 24, CLIENT));
	assert_int_equal(dport_of(&b), 25000);
	assert_true(l4_ok(&b, PROTO_UDP));
	/* Control: from another port of the server it matches no flow. */
	udp6(&f, FX.wan_mac[0], MAC_GW[0], SERVER, WAN1, 54, 25000);
	assert_int_not_equal(run_xdp(FX.xdp_wan, FX.wan_if[0], &f, &b), XDP_REDIRECT);
}

static void test_echo_identifier_is_the_port(void **state)
{
	struct frame f, o, b;
	uint16_t id;

	(void)state;
	echo6_type(&f, FX.lan_mac, MAC_CLIENT, CLIENT, SERVER, 128, 77);    /* below the range */
	assert_int_equal(run_xdp(FX.xdp_lan, FX.lan_if, &f, &o), XDP_REDIRECT);
	assert_true(addr_is(o.d + ETH_LEN + 8, WAN1));
	id = rd16(o.d + L4 + 4);
	assert_in_range(id, PMIN, PMAX);
	assert_int_equal(id & 1, 77 & 1);
	assert_true(l4_ok(&o, 58));
	echo6_type(&f, FX.wan_mac[0], MAC_GW[0], SERVER, WAN1, 129, id);
	assert_int_equal(run_xdp(FX.xdp_wan, FX.wan_if[0], &f, &b), XDP_REDIRECT);
	assert_true(addr_is(b.d + ETH_LEN + 24, CLIENT));
	assert_int_equal(rd16(b.d + L4 + 4), 77);
	assert_true(l4_ok(&b, 58));
	/* Control: a reply with another identifier is the host's, not the client's. */
	echo6_type(&f, FX.wan_mac[0], MAC_GW[0], SERVER, WAN1, 129, (uint16_t)(id + 2));
	assert_int_equal(run_xdp(FX.xdp_wan, FX.wan_if[0], &f, &b), XDP_PASS);
	assert_int_equal(v6verdict(HOOK_XDP_WAN, V_PASS_LOCAL), 1);
}

/* ---------------------------------------------------------- icmp errors */

static void test_icmp6_error_about_a_masqueraded_flow_is_translated_back(void **state)
{
	struct frame o, err, b;
	const uint8_t *q = b.d + L4 + 8;        /* the quoted IPv6 header */

	(void)state;
	/* Two clients, the second on another port, so the quoted port changes too. */
	assert_int_equal(tcp_out(CLIENT, SERVER, 26001, F_SYN, &o), XDP_REDIRECT);
	assert_int_equal(tcp_out(CLIENT2, SERVER, 26001, F_SYN, &o), XDP_REDIRECT);
	assert_int_not_equal(sport_of(&o), 26001);
	icmp6_err(&err, HOP1, 2, 1400, &o);    /* Packet Too Big, quoting what left */
	assert_true(addr_is(err.d + ETH_LEN + 24, WAN1));
	assert_true(l4_ok(&err, 58));
	assert_int_equal(run_xdp(FX.xdp_wan, FX.wan_if[0], &err, &b), XDP_REDIRECT);
	assert_memory_equal(b.d, MAC_CLIENT, 6);
	assert_true(addr_is(b.d + ETH_LEN + 8, HOP1));
	assert_true(addr_is(b.d + ETH_LEN + 24, CLIENT2));     /* to the client */
	assert_true(addr_is(q + 8, CLIENT2));                   /* quoting it */
	assert_true(addr_is(q + 24, SERVER));
	assert_int_equal(rd16(q + 40), 26001);                  /* its own port */
	assert_int_equal(rd16(b.d + L4 + 4) << 16 | rd16(b.d + L4 + 6), 1400);
	assert_true(l4_ok(&b, 58));                             /* ICMPv6, from scratch */
	assert_int_equal(l4sum6(q, q + 40, 24, PROTO_TCP), 0xffff);    /* the quoted TCP's */
	assert_int_equal(v6verdict(HOOK_XDP_WAN, V_FWD_ICMP_ERROR), 1);
	assert_int_equal(fx_event(EV_ICMP_ERR_XLATED), 1);
	/* Control: the same error quoting a port nobody was given is not the client's. */
	wr16(o.d + L4, (uint16_t)(sport_of(&o) + 2));
	icmp6_err(&err, HOP1, 2, 1400, &o);
	assert_int_not_equal(run_xdp(FX.xdp_wan, FX.wan_if[0], &err, &b), XDP_REDIRECT);
	assert_int_equal(v6verdict(HOOK_XDP_WAN, V_FWD_ICMP_ERROR), 1);
}

/* A client's Destination Unreachable about a reply it got leaves with the WAN's address. */
static void test_lan_error_about_a_reply_leaves_translated(void **state)
{
	struct frame f, o, back, err, out;
	uint8_t b[8 + 64] = { 0 };
	const uint8_t *q = out.d + L4 + 8;
	size_t ql;

	(void)state;
	udp6(&f, FX.lan_mac, MAC_CLIENT, CLIENT2, SERVER, 27001, 53);
	assert_int_equal(run_xdp(FX.xdp_lan, FX.lan_if, &f, &o), XDP_REDIRECT);
	udp6(&f, FX.lan_mac, MAC_CLIENT, CLIENT, SERVER, 27001, 53);
	assert_int_equal(run_xdp(FX.xdp_lan, FX.lan_if, &f, &o), XDP_REDIRECT);
	assert_int_not_equal(sport_of(&o), 27001);     /* CLIENT got another port */
	udp6(&f, FX.wan_mac[0], MAC_GW[0], SERVER, WAN1, 53, sport_of(&o));
	assert_int_equal(run_xdp(FX.xdp_wan, FX.wan_if[0], &f, &back), XDP_REDIRECT);
	/* The client answers the reply with port unreachable, quoting it. */
	ql = back.len - ETH_LEN;
	b[0] = 1;
	b[1] = 4;
	memcpy(b + 8, back.d + ETH_LEN, ql);
	frame6(&err, FX.lan_mac, MAC_CLIENT, CLIENT, SERVER, 58, 64, b, 8 + ql, 2, 58);
	assert_int_equal(run_xdp(FX.xdp_lan, FX.lan_if, &err, &out), XDP_REDIRECT);
	assert_true(addr_is(out.d + ETH_LEN + 8, WAN1));
	assert_true(addr_is(q + 8, SERVER));
	assert_true(addr_is(q + 24, WAN1));
	assert_int_equal(rd16(q + 42), sport_of(&o));           /* the public port */
	assert_true(l4_ok(&out, 58));
	assert_int_equal(l4sum6(q, q + 40, 12, PROTO_UDP), 0xffff);
	assert_int_equal(v6verdict(HOOK_XDP_LAN, V_FWD_ICMP_ERROR), 1);
}

/* The host's Time Exceeded (hop limit 1 from the internet) about the reply `quoted`. */
static void kernel_error(struct frame *err, const struct frame *quoted)
{
	uint8_t b[8 + 64] = { 3 };
	size_t ql = quoted->len - ETH_LEN;

	memcpy(b + 8, quoted->d + ETH_LEN, ql);
	frame6(err, MAC_GW[0], FX.wan_mac[0], WAN1, SERVER, 58, 64, b, 8 + ql, 2, 58);
}

/* The kernel's own error about a translated reply it was forwarding leaves quoting the WAN's side. */
static void test_kernel_error_about_a_reply_is_translated(void **state)
{
	struct frame o, back, err, out;
	const uint8_t *q = out.d + L4 + 8;
	uint16_t pub;

	(void)state;
	assert_int_equal(tcp_out(CLIENT2, SERVER, 21001, F_SYN, &o), XDP_REDIRECT);
	assert_int_equal(tcp_out(CLIENT, SERVER, 21001, F_SYN, &o), XDP_REDIRECT);
	pub = sport_of(&o);
	assert_int_not_equal(pub, 21001);
	assert_int_equal(tcp_back(&o, F_SYN | F_ACK, &back), XDP_REDIRECT);
	assert_true(addr_is(back.d + ETH_LEN + 24, CLIENT));
	kernel_error(&err, &back);
	assert_int_equal(run_tc(FX.tc_wan_out, FX.wan_if[0], 0, &err, &out, NULL), TC_ACT_OK);
	assert_true(addr_is(out.d + ETH_LEN + 8, WAN1));
	assert_true(addr_is(q + 8, SERVER));
	assert_true(addr_is(q + 24, WAN1));                     /* no LAN address in the quote */
	assert_int_equal(rd16(q + 42), pub);
	assert_true(l4_ok(&out, 58));
	assert_int_equal(l4sum6(q, q + 40, 24, PROTO_TCP), 0xffff);
	assert_int_equal(v6verdict(HOOK_TC_WAN_OUT, V_FWD_ICMP_ERROR), 1);
	/* Control: about a reply no flow had, the error is the host's, left as it is. */
	wr16(back.d + L4 + 2, 21999);
	kernel_error(&err, &back);
	assert_int_equal(run_tc(FX.tc_wan_out, FX.wan_if[0], 0, &err, &out, NULL), TC_ACT_OK);
	assert_true(addr_is(q + 24, CLIENT));
	assert_int_equal(v6verdict(HOOK_TC_WAN_OUT, V_PASS_FROM_HOST), 1);
}

/* ----------------------------------------------------------------- tc */

static void test_tc_path_marks_then_translates(void **state)
{
	struct frame in, o, r;
	uint32_t mark = 0;

	(void)state;
	tcp6(&in, FX.lan_mac, MAC_CLIENT, CLIENT, SERVER, 28001, 443, F_SYN);
	assert_int_equal(run_tc(FX.tc_lan_in, FX.lan_if, 0, &in, &o, &mark), TC_ACT_OK);
	assert_int_equal(mark & FX.fwmark_mask, xwan_gw_fwmark(FX.fwmark_mask, 0));
	assert_true(addr_is(o.d + ETH_LEN + 8, CLIENT));        /* not yet: the kernel routes */
	assert_int_equal(run_tc(FX.tc_wan_out, FX.wan_if[0], mark, &o, &o, NULL), TC_ACT_OK);
	assert_true(addr_is(o.d + ETH_LEN + 8, WAN1));
	assert_int_equal(sport_of(&o), 28001);
	assert_true(l4_ok(&o, PROTO_TCP));
	assert_int_equal(v6verdict(HOOK_TC_WAN_OUT, V_FWD_OUT), 1);
	tcp6(&r, FX.wan_mac[0], MAC_GW[0], SERVER, WAN1, 443, 28001, F_SYN | F_ACK);
	assert_int_equal(run_tc(FX.tc_wan_in, FX.wan_if[0], 0, &r, &o, NULL), TC_ACT_OK);
	assert_true(addr_is(o.d + ETH_LEN + 24, CLIENT));
	assert_true(l4_ok(&o, PROTO_TCP));
	assert_int_equal(v6verdict(HOOK_TC_WAN_IN, V_FWD_VIA_KERNEL), 1);
	/* Control: unmarked, the LAN source may not leave untranslated. */
	assert_int_equal(run_tc(FX.tc_wan_out, FX.wan_if[0], 0, &in, NULL, NULL), TC_ACT_SHOT);
	assert_int_equal(v6verdict(HOOK_TC_WAN_OUT, V_DROP_UNTRANSLATED), 1);
}

/* ------------------------------------------- what opens, what comes in */

static void test_only_an_opening_packet_claims_a_port(void **state)
{
	struct frame f, o;

	(void)state;
	assert_int_equal(tcp_out(CLIENT, SERVER, 29001, F_ACK, &o), XDP_DROP);
	echo6_type(&f, FX.lan_mac, MAC_CLIENT, CLIENT, SERVER, 129, 5);     /* an echo reply */
	assert_int_equal(run_xdp(FX.xdp_lan, FX.lan_if, &f, &o), XDP_DROP);
	assert_int_equal(v6verdict(HOOK_XDP_LAN, V_DROP_NOT_NEW), 2);
	/* Control: the SYN of the same tuple opens it. */
	assert_int_equal(tcp_out(CLIENT, SERVER, 29001, F_SYN, &o), XDP_REDIRECT);
	assert_true(addr_is(o.d + ETH_LEN + 8, WAN1));
}

/* ESP has no ports: one LAN host per remote on the one address. */
static void test_protocol_without_ports_one_host_per_remote(void **state)
{
	uint8_t esp[16] = { 0, 0, 0, 1, 0, 0, 0, 1 };
	struct frame f, o;

	(void)state;
	frame6(&f, FX.lan_mac, MAC_CLIENT, CLIENT, SERVER, 50, 64, esp, sizeof(esp), -1, 50);
	assert_int_equal(run_xdp(FX.xdp_lan, FX.lan_if, &f, &o), XDP_REDIRECT);
	assert_true(addr_is(o.d + ETH_LEN + 8, WAN1));
	assert_memory_equal(o.d + L4, esp, sizeof(esp));
	frame6(&f, FX.lan_mac, MAC_CLIENT, CLIENT2, SERVER, 50, 64, esp, sizeof(esp), -1, 50);
	assert_int_equal(run_xdp(FX.xdp_lan, FX.lan_if, &f, &o), XDP_DROP);
	assert_int_equal(v6verdict(HOOK_XDP_LAN, V_DROP_ADDR_ONLY_TAKEN), 1);
	assert_int_equal(gw6(0).nat_exhausted, 1);
	/* Control: toward another remote the second host may. */
	frame6(&f, FX.lan_mac, MAC_CLIENT, CLIENT2, SERVER2, 50, 64, esp, sizeof(esp), -1, 50);
	assert_int_equal(run_xdp(FX.xdp_lan, FX.lan_if, &f, &o), XDP_REDIRECT);
}

static void test_unsolicited_inbound_reaches_no_lan_host(void **state)
{
	struct frame in, o;

	(void)state;
	/* To the WAN's address with no flow: the host's own, never forwarded. */
	tcp6(&in, FX.wan_mac[0], MAC_GW[0], SERVER, WAN1, 443, 24000, F_SYN);
	assert_int_equal(run_xdp(FX.xdp_wan, FX.wan_if[0], &in, NULL), XDP_PASS);
	assert_int_equal(v6verdict(HOOK_XDP_WAN, V_PASS_LOCAL), 1);
	/* Straight to a LAN host: dropped and counted. */
	tcp6(&in, FX.wan_mac[0], MAC_GW[0], SERVER, CLIENT, 443, 24000, F_SYN);
	assert_int_equal(run_xdp(FX.xdp_wan, FX.wan_if[0], &in, NULL), XDP_DROP);
	assert_int_equal(run_tc(FX.tc_wan_in, FX.wan_if[0], 0, &in, NULL, NULL), TC_ACT_SHOT);
	assert_int_equal(v6verdict(HOOK_XDP_WAN, V_DROP_WAN_TO_LAN_ADDR), 1);
	assert_int_equal(v6verdict(HOOK_XDP_WAN, V_FWD_IN), 0);
	/* Control: once the client opened that flow, the same SYN-ACK is forwarded. */
	assert_int_equal(tcp_out(CLIENT, SERVER, 24000, F_SYN, &o), XDP_REDIRECT);
	tcp6(&in, FX.wan_mac[0], MAC_GW[0], SERVER, WAN1, 443, 24000, F_SYN | F_ACK);
	assert_int_equal(run_xdp(FX.xdp_wan, FX.wan_if[0], &in, NULL), XDP_REDIRECT);
	assert_int_equal(v6verdict(HOOK_XDP_WAN, V_FWD_IN), 1);
}

/* The host's own connection from the WAN address keeps its port: NAT66 hands it to no LAN flow. */
static void test_host_session_port_is_never_given_to_a_lan_flow(void **state)
{
	struct frame h, o, r;

	(void)state;
	tcp6(&h, FX.wan_mac[0], MAC_GW[0], WAN1, SERVER, 23001, 443, F_SYN);
	assert_int_equal(run_tc(FX.tc_wan_out, FX.wan_if[0], 0, &h, &o, NULL), TC_ACT_OK);
	assert_int_equal(v6verdict(HOOK_TC_WAN_OUT, V_PASS_FROM_HOST), 1);
	assert_int_equal(tcp_out(CLIENT, SERVER, 23001, F_SYN, &o), XDP_REDIRECT);
	assert_int_not_equal(sport_of(&o), 23001);
	assert_int_equal(sport_of(&o) & 1, 1);
	/* The server's answer to the host's port is the host's, not the client's. */
	tcp6(&r, FX.wan_mac[0], MAC_GW[0], SERVER, WAN1, 443, 23001, F_SYN | F_ACK);
	assert_int_equal(run_xdp(FX.xdp_wan, FX.wan_if[0], &r, NULL), XDP_PASS);
	assert_int_equal(v6verdict(HOOK_XDP_WAN, V_PASS_LOCAL), 1);
	/* Control: a port the host does not use is the client's own. */
	assert_int_equal(tcp_out(CLIENT, SERVER, 23003, F_SYN, &o), XDP_REDIRECT);
	assert_int_equal(sport_of(&o), 23003);
}

#define T(fn) cmocka_unit_test_setup(fn, fx_setup)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_tcp_leaves_from_the_wan_address_and_comes_back),
		T(test_tcp_control_unadjusted_checksum_fails),
		T(test_tcp_port_outside_the_range_is_translated),
		T(test_colliding_port_gets_another_of_the_same_parity),
		T(test_udp_out_and_back),
		T(test_echo_identifier_is_the_port),
		T(test_icmp6_error_about_a_masqueraded_flow_is_translated_back),
		T(test_lan_error_about_a_reply_leaves_translated),
		T(test_kernel_error_about_a_reply_is_translated),
		T(test_tc_path_marks_then_translates),
		T(test_only_an_opening_packet_claims_a_port),
		T(test_protocol_without_ports_one_host_per_remote),
		T(test_unsolicited_inbound_reaches_no_lan_host),
		T(test_host_session_port_is_never_given_to_a_lan_flow),
	};

	return cmocka_run_group_tests(tests, group_setup, fx_group_teardown);
}
