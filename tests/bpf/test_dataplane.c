// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The BPF programs, one behaviour per test, through BPF_PROG_TEST_RUN with
 * crafted frames (fixture.h: a private netns, both objects loaded, maps
 * filled from a real config). Every translated frame is compared byte for
 * byte with one built from scratch by tests/bpf/pkt.h, and every checksum
 * of it is verified from scratch (RFC 1071); map contents and counters are
 * read back as `xwan stats` would.
 *
 *   build/tests/test_dataplane                 all tests (root)
 *   build/tests/test_dataplane 'test_icmp_*'   those matching a pattern
 */
#include "tests/bpf/fixture.h"

#include "bpf/xwan_hash.h"

#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/pkt_cls.h>
#include <sys/socket.h>
#include <time.h>

#include "tests/bpf/cases.h"

/* ============================================================= tests */

/* 1. A new TCP connection: SNAT, routing, both flow entries, counters. */
static void test_new_tcp_flow_translated_and_recorded(void **state)
{
	struct pk syn = client_syn(40000);
	struct flow_key kout = key_of(&syn), kin;
	struct flow_entry eo, ei;
	struct frame in, out;
	struct pk exp;
	struct view v;
	int gw;

	(void)state;
	mk(&in, &syn);
	expect_xdp(FX.xdp_lan, FX.lan_if, &in, &out, XDP_REDIRECT, HOOK_XDP_LAN, V_FWD_OUT);

	assert_true(fx_flow(&kout, &eo));
	gw = eo.gw;
	assert_in_range(gw, 0, NGW - 1);
	assert_int_equal(eo.xlate_addr, FX.nat_addr[gw]);

	/* The frame: as built from scratch, and each field spelled out. */
	exp = snat(syn, gw, ntohs(eo.xlate_port));
	expect_pk(&out, &exp);
	assert_true(frame_view(&out, &v));
	assert_int_equal(v.saddr, FX.nat_addr[gw]);
	assert_int_equal(v.sport, ntohs(eo.xlate_port));
	assert_int_equal(v.daddr, REMOTE);
	assert_int_equal(v.dport, 443);
	assert_int_equal(v.ttl, 63);
	assert_memory_equal(v.eth, MAC_GW[gw], 6);
	assert_memory_equal(v.eth + 6, FX.wan_mac[gw], 6);

	/* OUT entry. */
	kin = fkey(REMOTE, FX.nat_addr[gw], 443, ntohs(eo.xlate_port), PROTO_TCP);
	assert_int_equal(eo.dir, FLOW_DIR_OUT);
	assert_int_equal(eo.state, FLOW_STATE_NEW);
	assert_memory_equal(&eo.peer, &kin, sizeof(kin));
	assert_int_equal(eo.in_ifindex, FX.lan_if);
	assert_int_equal(eo.out_ifindex, FX.wan_if[gw]);
	assert_int_equal(eo.out_mtu, 1500);
	assert_int_equal(eo.group, 0);
	assert_int_equal(eo.flags, FLOW_F_NAT);
	assert_int_equal(eo.rule, XWAN_RULE_NONE);
	assert_int_equal(eo.packets, 1);
	assert_int_equal(eo.bytes, 40);
	assert_true(eo.created_ns != 0 && eo.last_seen_ns >= eo.created_ns);
	assert_in_range(ntohs(eo.xlate_port), 1024, 65535);

	/* IN entry. */
	assert_true(fx_flow(&kin, &ei));
	assert_int_equal(ei.dir, FLOW_DIR_IN);
	assert_int_equal(ei.state, FLOW_STATE_NEW);
	assert_memory_equal(&ei.peer, &kout, sizeof(kout));
	assert_int_equal(ei.xlate_addr, CLIENT);
	assert_int_equal(ntohs(ei.xlate_port), 40000);
	assert_int_equal(ei.in_ifindex, FX.wan_if[gw]);
	assert_int_equal(ei.out_ifindex, FX.lan_if);
	assert_int_equal(ei.out_mtu, 1500);
	assert_int_equal(ei.gw, gw);
	assert_int_equal(ei.group, 0);
	assert_int_equal(ei.flags, FLOW_F_NAT);
	assert_memory_equal(ei.l2_dst, MAC_CLIENT, 6);
	assert_memory_equal(ei.l2_src, FX.lan_mac, 6);
	assert_int_equal(ei.packets, 0);
	assert_int_equal(fx_flow_count(), 2);

	/* Counters. */
	assert_int_equal(fx_event(EV_FLOW_CREATED), 1);
	assert_int_equal(fx_gw(gw).flows_created, 1);
	assert_int_equal(fx_gw(gw).pkts_out, 1);
	assert_int_equal(fx_gw(gw).bytes_out, 40);
	assert_int_equal(fx_gw(!gw).flows_created, 0);
}

/* 2. The SYN-ACK goes back to the client; its ACK establishes the flow. */
static void test_tcp_reply_translated_back_and_established(void **state)
{
	struct pk syn = client_syn(40000), synack, exp;
	struct flow_key kin;
	struct flow_entry eo, ei;
	struct opened o;
	struct frame in, out;

	(void)state;
	open_flow(&syn, &o);
	synack = reply_to(&syn, o.gw, o.port, F_SYN | F_ACK);
	mk(&in, &synack);
	expect_xdp(FX.xdp_wan, FX.wan_if[o.gw], &in, &out, XDP_REDIRECT, HOOK_XDP_WAN, V_FWD_IN);

	exp = dnat(synack, CLIENT, 40000);
	expect_pk(&out, &exp);
	assert_memory_equal(out.d, MAC_CLIENT, 6);
	assert_memory_equal(out.d + 6, FX.lan_mac, 6);

	kin = key_of(&synack);
	assert_true(fx_flow(&kin, &ei));
	assert_true(fx_flow(&o.out_e.peer, &ei));
	assert_true(fx_flow(&ei.peer, &eo));
	/* Half the handshake: established only once the client acknowledges. */
	assert_int_equal(ei.state, FLOW_STATE_SYN_RECV);
	assert_int_equal(eo.state, FLOW_STATE_SYN_RECV);
	assert_int_equal(ei.packets, 1);
	assert_int_equal(ei.tcp_seq_next, 1001);       /* SYN-ACK seq 1000, plus its SYN */
	assert_int_equal(fx_gw(o.gw).pkts_in, 1);

	syn.flags = F_ACK;
	mk(&in, &syn);
	assert_int_equal(run_xdp(FX.xdp_lan, FX.lan_if, &in, &out), XDP_REDIRECT);
	assert_true(fx_flow(&kin, &ei));
	assert_true(fx_flow(&ei.peer, &eo));
	assert_int_equal(ei.state, FLOW_STATE_ESTABLISHED);
	assert_int_equal(eo.state, FLOW_STATE_ESTABLISHED);

	/* Data from the remote moves the sequence the client expects next. */
	synack.flags = F_ACK | F_PSH;
	synack.seq = 1001;
	synack.pl = "0123456789";
	synack.n = 10;
	mk(&in, &synack);
	assert_int_equal(run_xdp(FX.xdp_wan, FX.wan_if[o.gw], &in, &out), XDP_REDIRECT);
	assert_true(fx_flow(&kin, &ei));
	assert_int_equal(ei.tcp_seq_next, 1011);
}

/* 3. Twenty more packets: same gateway, same NAT port, no new flow. */
static void test_flow_keeps_gateway_and_port(void **state)
{
	struct pk syn = client_syn(700), p, exp;   /* port 700: outside the NAT range */
	struct opened o;
	struct frame in, out;
	struct flow_entry e;
	struct flow_key k = key_of(&syn);
	char payload[64];

	(void)state;
	open_flow(&syn, &o);
	assert_int_not_equal(o.port, 700);
	for (int i = 0; i < 20; i++) {
		p = syn;
		p.flags = F_ACK | F_PSH;
		p.seq = 1001 + (uint32_t)i * 100;
		p.n = (size_t)snprintf(payload, sizeof(payload), "segment %02d of the same flow", i);
		p.pl = payload;
		mk(&in, &p);
		assert_int_equal(run_xdp(FX.xdp_lan, FX.lan_if, &in, &out), XDP_REDIRECT);
		exp = snat(p, o.gw, o.port);
		expect_pk(&out, &exp);
	}
	assert_true(fx_flow(&k, &e));
	assert_int_equal(e.gw, o.gw);
	assert_int_equal(ntohs(e.xlate_port), o.port);
	assert_int_equal(e.packets, 21);
	assert_int_equal(fx_flow_count(), 2);
	assert_int_equal(fx_event(EV_FLOW_CREATED), 1);
	assert_int_equal(fx_gw(o.gw).pkts_out, 21);
}

static struct pk client_udp(uint16_t sport, const void *pl, size_t n)
{
	struct pk p = {
		.l2 = from_client(), .sa = CLIENT, .da = REMOTE, .proto = PROTO_UDP,
		.sp = sport, .dp = 53, .pl = pl, .n = n,
	};

	return p;
}

/* 4a. UDP out and back. */
static void test_udp_translated_both_ways(void **state)
{
	static const char q[] = "a DNS query, more or less";
	static const char a[] = "and its answer, a little longer";
	struct pk dg = client_udp(123, q, sizeof(q)), r, exp;
	struct opened o;
	struct frame in, out;

	(void)state;
	open_flow(&dg, &o);
	assert_int_not_equal(o.port, 123);
	exp = snat(dg, o.gw, o.port);
	expect_pk(&o.out, &exp);

	r = reply_to(&dg, o.gw, o.port, 0);
	r.pl = a;
	r.n = sizeof(a);
	mk(&in, &r);
	expect_xdp(FX.xdp_wan, FX.wan_if[o.gw], &in, &out, XDP_REDIRECT, HOOK_XDP_WAN, V_FWD_IN);
	exp = dnat(r, CLIENT, 123);
	expect_pk(&out, &exp);
}

/* 4b. A UDP checksum of 0 means "none" and must stay 0 both ways. */
static void test_udp_zero_checksum_stays_zero(void **state)
{
	static const char q[] = "no checksum here";
	struct pk dg = client_udp(124, q, sizeof(q)), r, exp;
	struct opened o;
	struct frame in, out;
	struct view v;

	(void)state;
	dg.no_csum = true;
	open_flow(&dg, &o);
	exp = snat(dg, o.gw, o.port);
	expect_pk(&o.out, &exp);
	assert_true(frame_view(&o.out, &v));
	assert_int_equal(v.l4_csum, 0);

	r = reply_to(&dg, o.gw, o.port, 0);
	r.no_csum = true;
	mk(&in, &r);
	assert_int_equal(run_xdp(FX.xdp_wan, FX.wan_if[o.gw], &in, &out), XDP_REDIRECT);
	exp = dnat(r, CLIENT, 124);
	expect_pk(&out, &exp);
	assert_true(frame_view(&out, &v));
	assert_int_equal(v.l4_csum, 0);
}

/*
 * A payload (n even, >= 2) whose first word makes the UDP checksum of the
 * datagram sa:sp -> da:dp compute to zero, which must be sent as 0xffff.
 */
static void craft_zero_udp_csum(uint8_t *pl, size_t n, uint32_t sa, uint32_t da,
				uint16_t sp, uint16_t dp)
{
	uint8_t u[FRAME_MAX];
	uint16_t s;

	wr16(pl, 0);
	wr16(u, sp);
	wr16(u + 2, dp);
	wr16(u + 4, (uint16_t)(8 + n));
	wr16(u + 6, 0);
	memcpy(u + 8, pl, n);
	s = cs_fold(cs_add(cs_pseudo(sa, da, PROTO_UDP, 8 + n), u, 8 + n));
	wr16(pl, (uint16_t)(0xffff - s));
	memcpy(u + 8, pl, n);
	assert_int_equal(csum_l4(sa, da, PROTO_UDP, u, 8 + n), 0);
}

/* 4c. A rewritten UDP checksum that computes to 0 goes out as 0xffff. */
static void test_udp_checksum_computing_to_zero_sent_as_ffff(void **state)
{
	static const char first[] = "opens the flow";
	uint8_t pl[24] = "..this one sums to zero";
	struct pk dg = client_udp(125, first, sizeof(first)), p, r, exp;
	struct opened o;
	struct frame in, out;
	struct view v;

	(void)state;
	open_flow(&dg, &o);

	/* LAN -> WAN: zero after SNAT. */
	craft_zero_udp_csum(pl, sizeof(pl), FX.nat_addr[o.gw], REMOTE, o.port, 53);
	p = dg;
	p.pl = pl;
	p.n = sizeof(pl);
	mk(&in, &p);
	assert_true(frame_view(&in, &v));
	assert_int_not_equal(v.l4_csum, 0xffff);     /* only the translation makes it zero */
	assert_int_equal(run_xdp(FX.xdp_lan, FX.lan_if, &in, &out), XDP_REDIRECT);
	exp = snat(p, o.gw, o.port);
	expect_pk(&out, &exp);
	assert_true(frame_view(&out, &v));
	assert_int_equal(v.l4_csum, 0xffff);

	/* WAN -> LAN: zero after DNAT. */
	craft_zero_udp_csum(pl, sizeof(pl), REMOTE, CLIENT, 53, 125);
	r = reply_to(&dg, o.gw, o.port, 0);
	r.pl = pl;
	r.n = sizeof(pl);
	mk(&in, &r);
	assert_true(frame_view(&in, &v));
	assert_int_not_equal(v.l4_csum, 0xffff);
	assert_int_equal(run_xdp(FX.xdp_wan, FX.wan_if[o.gw], &in, &out), XDP_REDIRECT);
	exp = dnat(r, CLIENT, 125);
	expect_pk(&out, &exp);
	assert_true(frame_view(&out, &v));
	assert_int_equal(v.l4_csum, 0xffff);
}

static struct pk client_echo(uint16_t id, const void *pl, size_t n)
{
	struct pk p = {
		.l2 = from_client(), .sa = CLIENT, .da = REMOTE, .proto = PROTO_ICMP,
		.type = ICMPT_ECHO, .sp = id, .pl = pl, .n = n,
	};

	return p;
}

/* 5. Echo: the identifier is the port, translated out and back. */
static void test_icmp_echo_id_translated(void **state)
{
	static const char data[] = "0123456789abcdefghijklmnopqrstu";
	struct pk req = client_echo(100, data, sizeof(data)), rep, exp;
	struct flow_key kin;
	struct flow_entry ei;
	struct opened o;
	struct frame in, out;

	(void)state;
	open_flow(&req, &o);
	assert_int_not_equal(o.port, 100);
	exp = snat(req, o.gw, o.port);
	expect_pk(&o.out, &exp);

	kin = fkey(REMOTE, FX.nat_addr[o.gw], 0, o.port, PROTO_ICMP);
	assert_true(fx_flow(&kin, &ei));
	assert_int_equal(ntohs(ei.xlate_port), 100);

	rep = reply_to(&req, o.gw, o.port, 0);
	rep.pl = data;
	rep.n = sizeof(data);
	mk(&in, &rep);
	expect_xdp(FX.xdp_wan, FX.wan_if[o.gw], &in, &out, XDP_REDIRECT, HOOK_XDP_WAN, V_FWD_IN);
	exp = dnat(rep, CLIENT, 100);
	expect_pk(&out, &exp);
}

/* ----------------------------------------------------- ICMP errors */

/*
 * An ICMP error from ROUTER: e gives the hop, destination, type, code, rest
 * word, TTL and IP options; the quote is qlen bytes (0: all) of the IP
 * datagram in frame q.
 */
static void icmp_error_quoting(struct frame *f, struct pk e, const struct frame *q, size_t qlen)
{
	e.sa = ROUTER;
	e.proto = PROTO_ICMP;
	e.pl = q->d + ETH_LEN;
	e.n = qlen ? qlen : q->len - ETH_LEN;
	mk(f, &e);
}

/* The client's packet as it left us: what a router quotes, once translated back. */
static void as_forwarded(struct frame *q, const struct pk *orig)
{
	struct pk o = *orig;

	o.ttl = (uint8_t)(ttl_of(orig) - 1);
	mk(q, &o);
}

/*
 * A router's ICMP error to our WAN address about `sent` (a translated frame
 * as it left gateway gw), quoting qlen bytes of its IP datagram (0: all).
 */
static void wan_icmp_error(struct frame *f, int gw, uint8_t type, uint8_t code, uint32_t rest,
			   const struct frame *sent, size_t qlen)
{
	struct pk e = {
		.l2 = from_gw(gw), .da = FX.nat_addr[gw], .type = type, .code = code,
		.rest = rest, .ttl = 250,
	};

	icmp_error_quoting(f, e, sent, qlen);
}

/*
 * What the client must get: the same error, addressed to it, quoting its
 * own packet as it left us (TTL one less), built from scratch.
 */
static void client_icmp_error(struct frame *f, uint8_t type, uint8_t code, uint32_t rest,
			      const struct pk *orig, size_t qlen)
{
	struct pk e = {
		.l2 = to_client(), .da = orig->sa, .type = type, .code = code, .rest = rest,
		.ttl = 249,
	};
	struct frame q;

	as_forwarded(&q, orig);
	icmp_error_quoting(f, e, &q, qlen);
}

/*
 * Open a flow with `first`, send `orig` on it (if another packet), have a router answer the translated packet with an error
 * quoting qlen bytes, and check what reaches the client.
 */
static void icmp_error_round_trip(const struct pk *first, const struct pk *orig, uint8_t type,
				  uint8_t code, uint32_t rest, size_t qlen)
{
	struct opened o;
	struct frame in, out, exp, sent;
	struct flow_snap before;

	open_flow(first, &o);
	sent = o.out;
	if (orig != first) {
		mk(&in, orig);
		assert_int_equal(run_xdp(FX.xdp_lan, FX.lan_if, &in, &sent), XDP_REDIRECT);
	}
	snap_flows(&before);

	wan_icmp_error(&in, o.gw, type, code, rest, &sent, qlen);
	expect_xdp(FX.xdp_wan, FX.wan_if[o.gw], &in, &out, XDP_REDIRECT, HOOK_XDP_WAN,
		   V_FWD_ICMP_ERROR);
	client_icmp_error(&exp, type, code, rest, orig, qlen);
	expect_frame(&out, &exp);
	assert_int_equal(fx_event(EV_ICMP_ERR_XLATED), 1);
	expect_flows_unchanged(&before);
}

/* 6a. Time Exceeded quoting a whole UDP datagram. */
static void test_icmp_time_exceeded_quoting_udp(void **state)
{
	static const char q[] = "traceroute probe payload";
	struct pk dg = client_udp(126, q, sizeof(q));

	(void)state;
	icmp_error_round_trip(&dg, &dg, ICMPT_TIMXCEED, 0, 0, 0);
}

/* 6b. Fragmentation Needed: the next-hop MTU word passes unchanged. */
static void test_icmp_frag_needed_quoting_udp(void **state)
{
	static const char q[] = "a datagram sent with DF";
	struct pk dg = client_udp(127, q, sizeof(q));
	struct frame in, out;
	struct opened o;
	struct view v;

	(void)state;
	dg.frag = IPF_DF;
	icmp_error_round_trip(&dg, &dg, ICMPT_UNREACH, ICMPC_FRAG_NEEDED, 1400, 0);

	/* And the MTU field, spelled out, on a second error. */
	dg.sp = 128;
	open_flow(&dg, &o);
	wan_icmp_error(&in, o.gw, ICMPT_UNREACH, ICMPC_FRAG_NEEDED, 1280, &o.out, 0);
	assert_int_equal(run_xdp(FX.xdp_wan, FX.wan_if[o.gw], &in, &out), XDP_REDIRECT);
	assert_true(frame_view(&out, &v));
	assert_int_equal(v.l4[0], ICMPT_UNREACH);
	assert_int_equal(v.l4[1], ICMPC_FRAG_NEEDED);
	assert_int_equal(rd16(v.l4 + 4), 0);
	assert_int_equal(rd16(v.l4 + 6), 1280);
}

/* 6c. A router that quotes only 8 bytes of TCP: ports, no checksum. */
static void test_icmp_error_quoting_8_bytes_of_tcp(void **state)
{
	struct pk syn = client_syn(701);

	(void)state;
	icmp_error_round_trip(&syn, &syn, ICMPT_TIMXCEED, 0, 0, 20 + 8);
}

/* 6d. A quote of the whole TCP segment: its checksum verifiable from scratch. */
static void test_icmp_error_quoting_whole_tcp_segment(void **state)
{
	static char data[100];
	struct pk syn = client_syn(702), seg = syn;

	(void)state;
	memset(data, 'x', sizeof(data));
	seg.flags = F_ACK | F_PSH;
	seg.seq = 1001;
	seg.pl = data;
	seg.n = sizeof(data);
	seg.frag = IPF_DF;
	icmp_error_round_trip(&syn, &seg, ICMPT_UNREACH, ICMPC_FRAG_NEEDED, 120, 0);
}

/* 6e. The TCP header and part of the payload: checksum present, segment not. */
static void test_icmp_error_quoting_tcp_header_and_part_of_payload(void **state)
{
	static char data[100];
	struct pk syn = client_syn(703), seg = syn;

	(void)state;
	memset(data, 'y', sizeof(data));
	seg.flags = F_ACK | F_PSH;
	seg.seq = 1001;
	seg.pl = data;
	seg.n = sizeof(data);
	icmp_error_round_trip(&syn, &seg, ICMPT_TIMXCEED, 0, 0, 20 + 20 + 12);
}

/* 6f. An error quoting an echo request: identifier translated back. */
static void test_icmp_error_quoting_echo(void **state)
{
	static const char data[] = "ping payload, 32 bytes long....";
	struct pk req = client_echo(101, data, sizeof(data));

	(void)state;
	icmp_error_round_trip(&req, &req, ICMPT_TIMXCEED, 0, 0, 0);
}

/* 6g. A quoted UDP datagram without checksum: the quoted checksum stays 0. */
static void test_icmp_error_quoting_udp_without_checksum(void **state)
{
	static const char q[] = "no checksum, still an error";
	struct pk dg = client_udp(134, q, sizeof(q));

	(void)state;
	dg.no_csum = true;
	icmp_error_round_trip(&dg, &dg, ICMPT_UNREACH, 3, 0, 0);
}

/*
 * 6h. The client's own UDP checksum computed to 0 and went out as 0xffff;
 * translating the quote back must give 0xffff again, never 0 ("none").
 */
static void test_icmp_error_quoting_udp_checksum_ffff(void **state)
{
	uint8_t pl[24] = "..sums to zero at home.";
	struct pk dg = client_udp(139, pl, sizeof(pl));
	struct frame in;
	struct view v;

	(void)state;
	craft_zero_udp_csum(pl, sizeof(pl), CLIENT, REMOTE, 139, 53);
	mk(&in, &dg);
	assert_true(frame_view(&in, &v));
	assert_int_equal(v.l4_csum, 0xffff);
	icmp_error_round_trip(&dg, &dg, ICMPT_UNREACH, 3, 0, 0);
}

/* 6i. IP options in the error's header and in the quoted header. */
static void test_icmp_error_with_ip_options(void **state)
{
	static const uint8_t ra[4] = { 0x94, 4, 0, 0 };
	static const uint8_t ra_nop[12] = { 0x94, 4, 0, 0, 1, 1, 1, 1, 1, 1, 1, 0 };
	static const char q[] = "quoted with options";
	struct pk dg = client_udp(135, q, sizeof(q));
	struct pk e = { .type = ICMPT_TIMXCEED, .optlen = 4, .opts = ra };
	struct opened o;
	struct frame in, out, exp, quote;

	(void)state;
	dg.optlen = sizeof(ra_nop);
	dg.opts = ra_nop;
	open_flow(&dg, &o);

	e.l2 = from_gw(o.gw);
	e.da = FX.nat_addr[o.gw];
	e.ttl = 250;
	icmp_error_quoting(&in, e, &o.out, 0);
	expect_xdp(FX.xdp_wan, FX.wan_if[o.gw], &in, &out, XDP_REDIRECT, HOOK_XDP_WAN,
		   V_FWD_ICMP_ERROR);

	as_forwarded(&quote, &dg);
	e.l2 = to_client();
	e.da = CLIENT;
	e.ttl = 249;
	icmp_error_quoting(&exp, e, &quote, 0);
	expect_frame(&out, &exp);
}

/* A LAN host's own error about a reply (port unreachable) goes out NATed. */
static void test_lan_icmp_error_about_reply_translated_out(void **state)
{
	static const char q[] = "query";
	struct pk dg = client_udp(129, q, sizeof(q)), r, err, exp, orig_reply;
	struct opened o;
	struct frame in, out, quoted;

	(void)state;
	open_flow(&dg, &o);
	r = reply_to(&dg, o.gw, o.port, 0);
	r.pl = "answer";
	r.n = 6;
	mk(&in, &r);
	assert_int_equal(run_xdp(FX.xdp_wan, FX.wan_if[o.gw], &in, &quoted), XDP_REDIRECT);

	/* The client quotes the reply as it got it. */
	err = (struct pk){
		.l2 = from_client(), .sa = CLIENT, .da = REMOTE, .proto = PROTO_ICMP,
		.type = ICMPT_UNREACH, .code = 3, .pl = quoted.d + ETH_LEN,
		.n = quoted.len - ETH_LEN,
	};
	mk(&in, &err);
	expect_xdp(FX.xdp_lan, FX.lan_if, &in, &out, XDP_REDIRECT, HOOK_XDP_LAN, V_FWD_ICMP_ERROR);

	/* Out: from our WAN address, quoting the reply as the remote sent it (TTL - 1). */
	orig_reply = r;
	orig_reply.ttl = 63;
	mk(&quoted, &orig_reply);
	exp = err;
	exp.l2 = to_gw(o.gw);
	exp.sa = FX.nat_addr[o.gw];
	exp.ttl = 63;
	exp.pl = quoted.d + ETH_LEN;
	exp.n = quoted.len - ETH_LEN;
	expect_pk(&out, &exp);
}

/* ----------------------------------------------- unsolicited, spoofing */

/* 7a. Unmatched WAN packets to the host's own address are the kernel's. */
static void test_wan_to_host_address_passes_to_kernel(void **state)
{
	struct pk syn = {
		.l2 = from_gw(0), .sa = REMOTE, .da = WAN1_IP, .proto = PROTO_TCP,
		.sp = 33000, .dp = 5555, .flags = F_SYN,
	};
	struct pk udp = syn, ping = syn, mine = client_syn(40000);
	struct opened o;
	struct flow_snap before;
	struct frame in, out;

	(void)state;
	open_flow(&mine, &o);
	snap_flows(&before);

	udp.proto = PROTO_UDP;
	ping.proto = PROTO_ICMP;
	ping.type = ICMPT_ECHO;
	ping.sp = 7;
	const struct pk *all[] = { &syn, &udp, &ping };
	for (size_t i = 0; i < 3; i++) {
		mk(&in, all[i]);
		expect_xdp(FX.xdp_wan, FX.wan_if[0], &in, &out, XDP_PASS, HOOK_XDP_WAN, V_PASS_LOCAL);
		expect_untouched(&out, &in);
	}
	expect_flows_unchanged(&before);
	assert_int_equal(fx_gw(0).unsolicited, 0);
}

/* 7b. Unmatched WAN packets to a LAN address: dropped and counted, no flow. */
static void test_wan_unsolicited_to_lan_dropped(void **state)
{
	struct pk syn = {
		.l2 = from_gw(0), .sa = REMOTE, .da = CLIENT, .proto = PROTO_TCP,
		.sp = 33000, .dp = 22, .flags = F_SYN,
	};
	struct pk udp = syn, stale = syn, mine = client_syn(40000);
	struct opened o;
	struct flow_snap before;
	struct frame in;

	(void)state;
	open_flow(&mine, &o);
	snap_flows(&before);

	udp.proto = PROTO_UDP;
	udp.dp = 53;
	/* The flow's reply, but sent to the client's private address directly. */
	stale.sp = 443;
	stale.dp = 40000;
	stale.flags = F_ACK;
	const struct pk *all[] = { &syn, &udp, &stale };
	for (size_t i = 0; i < 3; i++) {
		mk(&in, all[i]);
		expect_xdp(FX.xdp_wan, FX.wan_if[0], &in, NULL, XDP_DROP, HOOK_XDP_WAN,
			   V_DROP_UNSOLICITED);
	}
	assert_int_equal(fx_gw(0).unsolicited, 3);
	assert_int_equal(fx_gw(1).unsolicited, 0);
	expect_flows_unchanged(&before);
}

/*
 * 7c. The host's DHCP client on a WAN: the server's reply goes to the address
 * being offered (not the host's yet), or to broadcast; the kernel's packet
 * sockets must get it, so both hooks pass it. A UDP packet from port 67 to
 * any other port is no DHCP reply: unsolicited (the control).
 */
static void test_wan_dhcp_reply_reaches_host(void **state)
{
	struct pk offer = {
		.l2 = from_gw(0), .sa = ip4("203.0.113.1"), .da = ip4("203.0.113.77"),
		.proto = PROTO_UDP, .sp = 67, .dp = 68, .pl = "offer", .n = 5,
	};
	struct pk bcast = offer, mcast = offer, other = offer;
	struct flow_snap before;
	struct frame in, out;

	(void)state;
	snap_flows(&before);
	bcast.da = ip4("255.255.255.255");
	mcast.da = ip4("224.0.0.1");
	mcast.sp = mcast.dp = 5353;
	const struct pk *host[] = { &offer, &bcast, &mcast };
	for (size_t i = 0; i < 3; i++) {
		mk(&in, host[i]);
		expect_xdp(FX.xdp_wan, FX.wan_if[0], &in, &out, XDP_PASS, HOOK_XDP_WAN, V_PASS_LOCAL);
		expect_untouched(&out, &in);
		expect_tc(FX.tc_wan_in, FX.wan_if[0], 0, &in, &out, NULL, TC_ACT_OK, HOOK_TC_WAN_IN,
			  V_PASS_LOCAL);
	}
	assert_int_equal(fx_gw(0).unsolicited, 0);
	other.dp = 69;
	mk(&in, &other);
	expect_xdp(FX.xdp_wan, FX.wan_if[0], &in, NULL, XDP_DROP, HOOK_XDP_WAN, V_DROP_UNSOLICITED);
	expect_tc(FX.tc_wan_in, FX.wan_if[0], 0, &in, &out, NULL, TC_ACT_SHOT, HOOK_TC_WAN_IN,
		  V_DROP_UNSOLICITED);
	expect_flows_unchanged(&before);
}

/* 8. A LAN packet from outside the LAN's networks. */
static void test_spoofed_lan_source_dropped(void **state)
{
	struct pk syn = client_syn(40000), udp = client_udp(5000, "x", 1);
	struct frame in;

	(void)state;
	syn.sa = SPOOFED;
	udp.sa = SPOOFED;
	mk(&in, &syn);
	expect_xdp(FX.xdp_lan, FX.lan_if, &in, NULL, XDP_DROP, HOOK_XDP_LAN, V_DROP_SPOOFED);
	mk(&in, &udp);
	expect_xdp(FX.xdp_lan, FX.lan_if, &in, NULL, XDP_DROP, HOOK_XDP_LAN, V_DROP_SPOOFED);
	assert_int_equal(fx_flow_count(), 0);
	assert_int_equal(fx_event(EV_FLOW_CREATED), 0);
}

static void fix_ip_csum(struct frame *f)
{
	uint8_t *ip = f->d + ETH_LEN;
	size_t hl = (size_t)(ip[0] & 0xf) * 4;

	if (hl < 20)
		hl = 20;
	wr16(ip + 10, 0);
	wr16(ip + 10, csum_inet(ip, hl));
}

/* 9. TTL 1 (and 0): the kernel sends Time Exceeded; nothing touched. */
static void test_ttl_expiring_passes_untouched(void **state)
{
	struct pk syn = client_syn(40000);
	struct frame in, out;

	(void)state;
	syn.ttl = 1;
	mk(&in, &syn);
	expect_xdp(FX.xdp_lan, FX.lan_if, &in, &out, XDP_PASS, HOOK_XDP_LAN, V_PASS_TTL);
	expect_untouched(&out, &in);

	in.d[ETH_LEN + 8] = 0;  /* TTL 0 */
	fix_ip_csum(&in);
	expect_xdp(FX.xdp_lan, FX.lan_if, &in, &out, XDP_PASS, HOOK_XDP_LAN, V_PASS_TTL);
	expect_untouched(&out, &in);
	assert_int_equal(fx_flow_count(), 0);
}

/* ------------------------------------------------------- malformed */

/* Both XDP hooks drop it as malformed, and no flow appears. */
static void expect_malformed(const struct frame *f, const char *what)
{
	print_message("  %s\n", what);
	expect_xdp(FX.xdp_lan, FX.lan_if, f, NULL, XDP_DROP, HOOK_XDP_LAN, V_DROP_MALFORMED);
	expect_xdp(FX.xdp_wan, FX.wan_if[0], f, NULL, XDP_DROP, HOOK_XDP_WAN, V_DROP_MALFORMED);
	assert_int_equal(fx_flow_count(), 0);
}

/* 10a. Frames shorter than an Ethernet header, or than eth + IP. */
static void test_short_frames_malformed(void **state)
{
	static const uint8_t bytes[14] = { 0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2, 0x08, 0 };
	static const size_t lens[] = { 1, 12, 13 };
	struct frame f = { .len = ETH_LEN };
	int refused = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		for (int hook = HOOK_XDP_LAN; hook <= HOOK_XDP_WAN; hook++) {
			int prog = hook == HOOK_XDP_LAN ? FX.xdp_lan : FX.xdp_wan;
			int ifx = hook == HOOK_XDP_LAN ? FX.lan_if : FX.wan_if[0];
			uint64_t before = fx_verdict(hook, V_DROP_MALFORMED);
			int rc = run_xdp_short(prog, ifx, bytes, lens[i]);

			if (rc < 0) {
				refused++;
				continue;
			}
			assert_int_equal(rc, XDP_DROP);
			assert_int_equal(fx_verdict(hook, V_DROP_MALFORMED) - before, 1);
		}
	}
	if (refused)
		print_message("  this kernel refuses test frames under 14 bytes (%d runs)\n",
			      refused);

	/* Exactly an Ethernet header: IPv4 with no IP header, and ARP with no body. */
	memcpy(f.d, bytes, ETH_LEN);
	expect_malformed(&f, "Ethernet header only, IPv4");
	f.d[13] = 0x06;
	expect_xdp(FX.xdp_lan, FX.lan_if, &f, NULL, XDP_PASS, HOOK_XDP_LAN, V_PASS_NOT_IPV4);
	expect_xdp(FX.xdp_wan, FX.wan_if[0], &f, NULL, XDP_PASS, HOOK_XDP_WAN, V_PASS_NOT_IPV4);
	assert_int_equal(fx_flow_count(), 0);
}

/* 10b. IP headers that lie or do not fit. */
static void test_bad_ip_headers_malformed(void **state)
{
	struct pk syn = client_syn(40000);
	struct frame good, f;

	(void)state;
	mk(&good, &syn);

	f = good;
	f.len = ETH_LEN + 19;
	expect_malformed(&f, "shorter than an IP header");

	f = good;
	f.d[ETH_LEN] = 0x44;
	fix_ip_csum(&f);
	expect_malformed(&f, "IHL 4");

	f = good;
	f.d[ETH_LEN] = 0x40;
	fix_ip_csum(&f);
	expect_malformed(&f, "IHL 0");

	f = good;
	f.d[ETH_LEN] = 0x65;
	expect_malformed(&f, "version 6 in an IPv4 frame");

	f = good;
	f.d[ETH_LEN] = 0x4f;    /* 60-byte header in a 40-byte datagram */
	expect_malformed(&f, "IHL beyond the total length");

	f = good;
	f.d[ETH_LEN] = 0x4f;    /* 60-byte header, tot_len 60, frame holds 40 */
	wr16(f.d + ETH_LEN + 2, 60);
	expect_malformed(&f, "IHL beyond the frame");

	f = good;
	wr16(f.d + ETH_LEN + 2, 41);
	fix_ip_csum(&f);
	expect_malformed(&f, "total length one byte beyond the frame");

	f = good;
	wr16(f.d + ETH_LEN + 2, 1500);
	fix_ip_csum(&f);
	expect_malformed(&f, "total length far beyond the frame");

	f = good;
	wr16(f.d + ETH_LEN + 2, 19);
	fix_ip_csum(&f);
	expect_malformed(&f, "total length shorter than the header");
}

/* Cut a frame's datagram to tot_len l3 bytes (and the frame with it). */
static void cut(struct frame *f, size_t l3)
{
	f->len = ETH_LEN + l3;
	wr16(f->d + ETH_LEN + 2, (uint16_t)l3);
	fix_ip_csum(f);
}

/* Ethernet padding up to the 60-byte minimum frame, zeros. */
static void pad60(struct frame *f)
{
	memset(f->d + f->len, 0, 60 - f->len);
	f->len = 60;
}

/* 10c. L4 headers that are not all there. */
static void test_truncated_l4_malformed(void **state)
{
	struct pk syn = client_syn(40000), udp = client_udp(5000, NULL, 0),
		  ping = client_echo(100, NULL, 0);
	struct frame f;

	(void)state;
	mk(&f, &syn);
	cut(&f, 20 + 12);
	expect_malformed(&f, "TCP header of 12 bytes");

	mk(&f, &syn);
	cut(&f, 20 + 19);
	expect_malformed(&f, "TCP header of 19 bytes");

	mk(&f, &syn);
	f.d[ETH_LEN + 20 + 12] = 4 << 4;
	expect_malformed(&f, "TCP data offset 4");

	mk(&f, &syn);
	f.d[ETH_LEN + 20 + 12] = 0;
	expect_malformed(&f, "TCP data offset 0");

	mk(&f, &udp);
	cut(&f, 20 + 7);
	expect_malformed(&f, "UDP header of 7 bytes");

	mk(&f, &ping);
	cut(&f, 20 + 4);
	expect_malformed(&f, "ICMP echo of 4 bytes");
}

/*
 * 10d. The L4 header must lie within the IP total length, not merely within
 * the frame: Ethernet pads short frames to 60 bytes, and those bytes are
 * not part of the datagram (the kernel trims them in ip_rcv, and conntrack
 * calls such a segment invalid).
 */
static void test_tcp_header_beyond_ip_total_length_malformed(void **state)
{
	struct pk syn = client_syn(40000);
	struct frame f;

	(void)state;
	/* 16 bytes of TCP per tot_len (ports..flags); the checksum lies in the padding. */
	mk(&f, &syn);
	cut(&f, 20 + 16);
	pad60(&f);
	expect_malformed(&f, "TCP header of 16 bytes, frame padded to 60");
}

static void test_udp_header_beyond_ip_total_length_malformed(void **state)
{
	struct pk udp = client_udp(5000, NULL, 0);
	struct frame f;

	(void)state;
	/* The ports per tot_len, length and checksum in the padding. */
	mk(&f, &udp);
	cut(&f, 20 + 4);
	pad60(&f);
	expect_malformed(&f, "UDP header of 4 bytes, frame padded to 60");
}

/* The opposite: a complete datagram in a padded frame is translated, padding kept. */
static void test_padded_minimum_frame_translated(void **state)
{
	struct pk ack = client_syn(40000), exp;
	struct opened o;
	struct frame in, out, ef;

	(void)state;
	open_flow(&ack, &o);
	ack.flags = F_ACK;
	mk(&in, &ack);
	pad60(&in);                     /* 54 bytes of frame, 6 of padding */
	assert_int_equal(run_xdp(FX.xdp_lan, FX.lan_if, &in, &out), XDP_REDIRECT);
	exp = snat(ack, o.gw, o.port);
	mk(&ef, &exp);
	pad60(&ef);
	expect_frame(&out, &ef);
}

/* 10e. ICMP errors whose quote is cut short. */
static void test_icmp_error_quoting_truncated_header_malformed(void **state)
{
	struct pk syn = client_syn(704);
	struct opened o;
	struct frame in;
	struct flow_snap before;
	size_t qlens[] = { 10, 19, 20 + 4, 20 + 7 };

	(void)state;
	open_flow(&syn, &o);
	snap_flows(&before);
	for (size_t i = 0; i < sizeof(qlens) / sizeof(qlens[0]); i++) {
		wan_icmp_error(&in, o.gw, ICMPT_TIMXCEED, 0, 0, &o.out, qlens[i]);
		expect_xdp(FX.xdp_wan, FX.wan_if[o.gw], &in, NULL, XDP_DROP, HOOK_XDP_WAN,
			   V_DROP_MALFORMED);
	}
	/* A quoted IHL below 5. */
	wan_icmp_error(&in, o.gw, ICMPT_TIMXCEED, 0, 0, &o.out, 0);
	in.d[ETH_LEN + 20 + 8] = 0x44;
	expect_xdp(FX.xdp_wan, FX.wan_if[o.gw], &in, NULL, XDP_DROP, HOOK_XDP_WAN,
		   V_DROP_MALFORMED);
	expect_flows_unchanged(&before);
	assert_int_equal(fx_event(EV_ICMP_ERR_XLATED), 0);
}

/* ------------------------------------------------------ IP options */

/* 11. IHL 6..15: the ports are found after the options, both ways. */
static void test_ip_options_skipped(void **state)
{
	uint8_t opts[40];

	(void)state;
	for (int ihl = 6; ihl <= 15; ihl++) {
		struct pk syn = client_syn((uint16_t)(600 + ihl)), r, exp;
		struct opened o;
		struct frame in, out;

		/* Router Alert, then NOPs, End of Options in the last byte. */
		memset(opts, 1, sizeof(opts));
		opts[0] = 0x94;
		opts[1] = 4;
		opts[2] = 0;
		opts[3] = 0;
		syn.optlen = (uint8_t)((ihl - 5) * 4);
		opts[syn.optlen - 1] = 0;
		syn.opts = opts;

		open_flow(&syn, &o);
		assert_int_not_equal(o.port, 600 + ihl);
		exp = snat(syn, o.gw, o.port);
		expect_pk(&o.out, &exp);

		r = reply_to(&syn, o.gw, o.port, F_SYN | F_ACK);
		mk(&in, &r);
		assert_int_equal(run_xdp(FX.xdp_wan, FX.wan_if[o.gw], &in, &out), XDP_REDIRECT);
		exp = dnat(r, CLIENT, (uint16_t)(600 + ihl));
		expect_pk(&out, &exp);
	}
	assert_int_equal(fx_flow_count(), 2 * 10);
}

/* ------------------------------------------------------- fragments */

/* 12a. A UDP datagram in two fragments: the second follows the first. */
static void test_fragments_follow_first(void **state)
{
	uint8_t payload[100], l4[200], l4x[200];
	struct ip4_spec ip = {
		.saddr = CLIENT, .daddr = REMOTE, .proto = PROTO_UDP, .ttl = 64, .id = 0x7777,
	};
	struct frame in1, in2, out1, out2, exp1, exp2;
	struct flow_entry e;
	struct flow_key k = fkey(CLIENT, REMOTE, 130, 5000, PROTO_UDP);
	size_t n, first = 32;   /* UDP header + 24 bytes: 4 fragment units */
	uint16_t port;
	int gw;

	(void)state;
	for (size_t i = 0; i < sizeof(payload); i++)
		payload[i] = (uint8_t)(i * 7 + 3);
	n = l4_udp(l4, CLIENT, REMOTE, 130, 5000, payload, sizeof(payload), false);

	ip.frag = IPF_MF;
	frame_ipv4(&in1, FX.lan_mac, MAC_CLIENT, &ip, l4, first);
	ip.frag = (uint16_t)(first / 8);
	frame_ipv4(&in2, FX.lan_mac, MAC_CLIENT, &ip, l4 + first, n - first);

	expect_xdp(FX.xdp_lan, FX.lan_if, &in1, &out1, XDP_REDIRECT, HOOK_XDP_LAN, V_FWD_OUT);
	assert_true(fx_flow(&k, &e));
	gw = e.gw;
	port = ntohs(e.xlate_port);
	assert_int_not_equal(port, 130);
	expect_xdp(FX.xdp_lan, FX.lan_if, &in2, &out2, XDP_REDIRECT, HOOK_XDP_LAN, V_FWD_OUT);
	assert_int_equal(fx_event(EV_FRAG_FOLLOWED), 1);

	/*
	 * Expected: the whole datagram translated (its UDP checksum, which
	 * covers both fragments, from scratch), then cut the same way.
	 */
	n = l4_udp(l4x, FX.nat_addr[gw], REMOTE, port, 5000, payload, sizeof(payload), false);
	ip.saddr = FX.nat_addr[gw];
	ip.ttl = 63;
	ip.frag = IPF_MF;
	frame_ipv4(&exp1, MAC_GW[gw], FX.wan_mac[gw], &ip, l4x, first);
	ip.frag = (uint16_t)(first / 8);
	frame_ipv4(&exp2, MAC_GW[gw], FX.wan_mac[gw], &ip, l4x + first, n - first);
	expect_frame(&out1, &exp1);
	expect_frame(&out2, &exp2);
	/* Same gateway: same source address, same next hop. */
	assert_memory_equal(out1.d, out2.d, 12);
	assert_memory_equal(out1.d + ETH_LEN + 12, out2.d + ETH_LEN + 12, 4);

	assert_true(fx_flow(&k, &e));
	assert_int_equal(e.packets, 2);
	assert_int_equal(fx_flow_count(), 2);
}

/*
 * 12b. A later fragment whose first fragment was never seen: XDP passes it,
 * tc holds a copy, a few per datagram; past that it is dropped, counted.
 */
static void test_fragment_without_flow_held(void **state)
{
	uint8_t data[64];
	struct ip4_spec ip = {
		.saddr = CLIENT, .daddr = REMOTE, .proto = PROTO_UDP, .ttl = 64, .id = 0x8888,
		.frag = 4,
	};
	struct frame in;

	(void)state;
	memset(data, 0xab, sizeof(data));
	frame_ipv4(&in, FX.lan_mac, MAC_CLIENT, &ip, data, sizeof(data));
	expect_xdp(FX.xdp_lan, FX.lan_if, &in, NULL, XDP_PASS, HOOK_XDP_LAN, V_PASS_FRAG_EARLY);

	/* Same id, but the first fragment opened a flow to another host. */
	{
		struct frame f1;
		uint8_t l4[64];
		struct ip4_spec ip1 = ip;
		size_t n = l4_udp(l4, CLIENT, ip4("192.0.2.11"), 131, 5000, data, 24, false);

		ip1.daddr = ip4("192.0.2.11");
		ip1.frag = IPF_MF;
		frame_ipv4(&f1, FX.lan_mac, MAC_CLIENT, &ip1, l4, n);
		assert_int_equal(run_xdp(FX.xdp_lan, FX.lan_if, &f1, NULL), XDP_REDIRECT);
	}
	expect_xdp(FX.xdp_lan, FX.lan_if, &in, NULL, XDP_PASS, HOOK_XDP_LAN, V_PASS_FRAG_EARLY);
	assert_int_equal(fx_flow_count(), 2);

	for (int i = 0; i < XWAN_FRAG_HOLD_SLOTS; i++)
		expect_tc(FX.tc_lan_in, FX.lan_if, 0, &in, NULL, NULL, TC_ACT_SHOT,
			  HOOK_TC_LAN_IN, V_HOLD_FRAG);
	assert_int_equal(fx_event(EV_FRAG_HELD), XWAN_FRAG_HOLD_SLOTS);
	/* Control: the datagram's slots are full. */
	expect_tc(FX.tc_lan_in, FX.lan_if, 0, &in, NULL, NULL, TC_ACT_SHOT, HOOK_TC_LAN_IN,
		  V_DROP_FRAG_UNKNOWN);
	assert_int_equal(fx_event(EV_FRAG_HOLD_DROPPED), 1);
}

/* 12c. A reply datagram in two fragments, from the WAN. */
static void test_reply_fragments_follow_first(void **state)
{
	static const char q[] = "ask for something big";
	struct pk dg = client_udp(136, q, sizeof(q));
	uint8_t payload[100], l4[200];
	struct opened o;
	struct ip4_spec ip = { .daddr = 0, .proto = PROTO_UDP, .ttl = 64, .id = 0x5151 };
	struct frame in1, in2, out1, out2, exp1, exp2;
	size_t n, first = 32;

	(void)state;
	open_flow(&dg, &o);
	for (size_t i = 0; i < sizeof(payload); i++)
		payload[i] = (uint8_t)(i * 13 + 1);

	n = l4_udp(l4, REMOTE, FX.nat_addr[o.gw], 53, o.port, payload, sizeof(payload), false);
	ip.saddr = REMOTE;
	ip.daddr = FX.nat_addr[o.gw];
	ip.frag = IPF_MF;
	frame_ipv4(&in1, FX.wan_mac[o.gw], MAC_GW[o.gw], &ip, l4, first);
	ip.frag = (uint16_t)(first / 8);
	frame_ipv4(&in2, FX.wan_mac[o.gw], MAC_GW[o.gw], &ip, l4 + first, n - first);
	expect_xdp(FX.xdp_wan, FX.wan_if[o.gw], &in1, &out1, XDP_REDIRECT, HOOK_XDP_WAN, V_FWD_IN);
	expect_xdp(FX.xdp_wan, FX.wan_if[o.gw], &in2, &out2, XDP_REDIRECT, HOOK_XDP_WAN, V_FWD_IN);
	assert_int_equal(fx_event(EV_FRAG_FOLLOWED), 1);

	n = l4_udp(l4, REMOTE, CLIENT, 53, 136, payload, sizeof(payload), false);
	ip.daddr = CLIENT;
	ip.ttl = 63;
	ip.frag = IPF_MF;
	frame_ipv4(&exp1, MAC_CLIENT, FX.lan_mac, &ip, l4, first);
	ip.frag = (uint16_t)(first / 8);
	frame_ipv4(&exp2, MAC_CLIENT, FX.lan_mac, &ip, l4 + first, n - first);
	expect_frame(&out1, &exp1);
	expect_frame(&out2, &exp2);
}

/*
 * docs/config.md, `asymmetric: drop` (the default): TCP packets of a
 * connection xwan never saw open are dropped, not picked up mid-stream.
 */
static void test_tcp_without_syn_dropped_by_default(void **state)
{
	struct pk ack = client_syn(40000);
	struct frame in;

	(void)state;
	assert_int_equal(FX.cfg.asymmetric, ASYM_DROP);
	ack.flags = F_ACK | F_PSH;
	ack.pl = "mid-stream";
	ack.n = 10;
	mk(&in, &ack);
	expect_xdp(FX.xdp_lan, FX.lan_if, &in, NULL, XDP_DROP, HOOK_XDP_LAN, V_DROP_NOT_NEW);
	assert_int_equal(fx_flow_count(), 0);
}

/* ---------------------------------------------------------- weights */

static uint32_t rng_state;

static uint32_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 17;
	rng_state ^= rng_state << 5;
	return rng_state;
}

/* A new TCP flow with a random tuple; returns the gateway it went to. */
static int random_flow(struct flow_key *k)
{
	struct pk p = client_syn(0);
	struct frame in, out;
	struct view v;
	int gw;

	p.sa = htonl(0x0a010002 + rnd() % 253);                 /* 10.1.0.2 - .254 */
	p.da = htonl(0x08000000 + (rnd() & 0x00ffffff));        /* 8.0.0.0/8 */
	p.sp = (uint16_t)(1024 + rnd() % 64512);
	p.dp = (uint16_t)(1 + rnd() % 65535);
	*k = key_of(&p);
	mk(&in, &p);
	assert_int_equal(run_xdp(FX.xdp_lan, FX.lan_if, &in, &out), XDP_REDIRECT);
	assert_true(frame_view(&out, &v));
	gw = fx_gw_of_addr(v.saddr);
	assert_in_range(gw, 0, NGW - 1);
	assert_memory_equal(out.d, MAC_GW[gw], 6);
	return gw;
}

/* Group 0's slot table in use. */
static struct gw_slot_table *slot_table(void)
{
	struct gw_slot_table *t = calloc(1, sizeof(*t));
	struct gw_group grp;
	uint32_t key = 0;

	assert_non_null(t);
	assert_int_equal(bpf_map_lookup_elem(FX.m->fd[XM_GROUPS], &key, &grp), 0);
	key = grp.active & 1;
	assert_int_equal(bpf_map_lookup_elem(FX.m->fd[XM_GW_SLOTS], &key, t), 0);
	return t;
}

/*
 * 13a. Hash: weights 3:1 give isp1 75% +- 3% of 4000 random flows, and
 * every choice is the one userspace predicts (`xwan explain`).
 */
static void test_hash_split_follows_weights(void **state)
{
	struct gw_slot_table *t = slot_table();
	int count[NGW] = { 0 };
	const int n = 4000;
	struct flow_key k;

	(void)state;
	rng_state = 0x2545f491;
	assert_int_equal(t->method, GROUP_METHOD_HASH);
	assert_int_equal(t->hash_fields, HASH_F_ALL);
	assert_int_equal(t->nslots, XWAN_SLOTS);
	for (int i = 0; i < n; i++) {
		int gw = random_flow(&k);
		uint32_t h = xwan_flow_hash(k.saddr, k.daddr, k.sport, k.dport, k.proto,
					    t->hash_fields, t->seed);

		count[gw]++;
		if (t->slot[h % t->nslots] != gw)
			fail_msg("flow %d went to gateway %d, the slot table says %d", i, gw,
				 t->slot[h % t->nslots]);
	}
	free(t);
	print_message("  isp1 %d, isp2 %d of %d\n", count[0], count[1], n);
	assert_in_range(count[0], n * 72 / 100, n * 78 / 100);
	assert_int_equal(fx_event(EV_FLOW_CREATED), n);
	assert_int_equal(fx_gw(0).flows_created, count[0]);
	assert_int_equal(fx_gw(1).flows_created, count[1]);
}

/* 13b. Round robin: every full cycle carries exactly the weights. */
static void test_round_robin_split_exact(void **state)
{
	struct gw_slot_table *t;
	struct flow_key k;
	int seq[4000], count[NGW] = { 0 }, cycle;
	const int n = 4000;

	(void)state;
	rng_state = 0x9e3779b9;
	FX.cfg.groups[0].method = GROUP_METHOD_ROUND_ROBIN;
	assert_int_equal(fx_install_groups(), 0);
	t = slot_table();
	assert_int_equal(t->method, GROUP_METHOD_ROUND_ROBIN);
	cycle = (int)t->nslots;
	free(t);
	assert_int_equal(cycle, 4);     /* 3:1 reduces to a cycle of four */

	for (int i = 0; i < n; i++) {
		seq[i] = random_flow(&k);
		count[seq[i]]++;
	}
	print_message("  isp1 %d, isp2 %d of %d\n", count[0], count[1], n);
	assert_in_range(count[0], n * 3 / 4 - 1, n * 3 / 4 + 1);
	for (int i = 0; i + cycle <= n; i++) {
		int c = 0;

		for (int j = i; j < i + cycle; j++)
			c += seq[j] == 0;
		if (c != 3)
			fail_msg("flows %d..%d: %d of %d on isp1, expected 3", i, i + cycle - 1, c,
				 cycle);
	}
}

/* ---------------------------------------------------- NAT exhaustion */

/* 14. Two NAT ports: the third flow to one remote endpoint finds none. */
static void test_nat_port_exhaustion(void **state)
{
	struct pk a = client_syn(1024), b = client_syn(1025), c = client_syn(40000), d;
	struct opened oa, ob, od;
	struct frame in;

	(void)state;
	FX.cfg.wans[0].port_min = 1024;
	FX.cfg.wans[0].port_max = 1025;
	FX.usable[1] = false;
	assert_int_equal(xwan_sync_gateways(&FX.cfg, &FX.host, FX.m, FX.status, FX.usable), 0);
	assert_int_equal(fx_install_groups(), 0);

	b.sa = CLIENT2;
	c.sa = CLIENT3;
	open_flow(&a, &oa);
	open_flow(&b, &ob);
	assert_int_equal(oa.gw, 0);
	assert_int_equal(ob.gw, 0);
	assert_in_range(oa.port, 1024, 1025);
	assert_in_range(ob.port, 1024, 1025);
	assert_int_not_equal(oa.port, ob.port);

	mk(&in, &c);
	expect_xdp(FX.xdp_lan, FX.lan_if, &in, NULL, XDP_DROP, HOOK_XDP_LAN, V_DROP_NAT_EXHAUSTED);
	assert_int_equal(fx_gw(0).nat_exhausted, 1);
	assert_int_equal(fx_flow_count(), 4);

	/* Another remote port is another set of ports. */
	d = c;
	d.dp = 80;
	open_flow(&d, &od);
	assert_int_equal(od.gw, 0);
	assert_in_range(od.port, 1024, 1025);
	assert_int_equal(fx_flow_count(), 6);
	assert_int_equal(fx_gw(0).nat_exhausted, 1);
}

/*
 * 14b. A gateway out of ports for a remote endpoint is not the end: the
 * flow goes to another usable gateway (XWAN_GW_TRIES), not to the floor.
 */
static void test_nat_exhaustion_spills_to_other_gateway(void **state)
{
	int count[NGW] = { 0 }, dropped = 0;
	const int n = 24;

	(void)state;
	FX.cfg.wans[0].port_min = 1024;
	FX.cfg.wans[0].port_max = 1025;
	assert_int_equal(xwan_sync_gateways(&FX.cfg, &FX.host, FX.m, FX.status, FX.usable), 0);

	for (int i = 0; i < n; i++) {
		struct pk syn = client_syn(40000);
		struct frame in, out;
		struct view v;

		syn.sa = htonl(0x0a01000a + (uint32_t)i);       /* 10.1.0.10 .. */
		mk(&in, &syn);
		if (run_xdp(FX.xdp_lan, FX.lan_if, &in, &out) != XDP_REDIRECT) {
			dropped++;
			continue;
		}
		assert_true(frame_view(&out, &v));
		count[fx_gw_of_addr(v.saddr)]++;
	}
	print_message("  isp1 %d, isp2 %d, dropped %d, isp1 exhausted %llu times\n", count[0],
		      count[1], dropped, (unsigned long long)fx_gw(0).nat_exhausted);
	assert_in_range(count[0], 0, 2);
	assert_true(fx_gw(0).nat_exhausted > 0);        /* the case did happen */
	assert_int_equal(fx_verdict(HOOK_XDP_LAN, V_DROP_NAT_EXHAUSTED), 0);
	assert_int_equal(dropped, 0);
}

static void set_timeout(int which, uint64_t ns)
{
	struct xwan_settings st;
	uint32_t zero = 0;

	assert_int_equal(bpf_map_lookup_elem(FX.m->fd[XM_SETTINGS], &zero, &st), 0);
	st.timeout_ns[which] = ns;
	assert_int_equal(bpf_map_update_elem(FX.m->fd[XM_SETTINGS], &zero, &st, BPF_ANY), 0);
}

/*
 * Timeouts: an expired flow translates nothing (its late reply is the
 * host's business), and the client's next packet opens a fresh flow in its
 * place, on a fresh port.
 */
static void test_expired_flow_not_used(void **state)
{
	static const char q[] = "query";
	struct pk dg = client_udp(140, q, sizeof(q)), r;
	struct flow_key kout = key_of(&dg);
	struct flow_entry e;
	struct opened o;
	struct frame in, out;
	struct timespec ts = { 0, 30 * 1000 * 1000 };

	(void)state;
	open_flow(&dg, &o);
	set_timeout(TIMEOUT_UDP, 1000 * 1000);          /* 1 ms */
	nanosleep(&ts, NULL);

	/* The port is still the socket's live mapping: filtered, silently dropped. */
	r = reply_to(&dg, o.gw, o.port, 0);
	mk(&in, &r);
	expect_xdp(FX.xdp_wan, FX.wan_if[o.gw], &in, &out, XDP_DROP, HOOK_XDP_WAN,
		   V_DROP_UNSOLICITED);
	expect_untouched(&out, &in);

	mk(&in, &dg);
	expect_xdp(FX.xdp_lan, FX.lan_if, &in, &out, XDP_REDIRECT, HOOK_XDP_LAN, V_FWD_OUT);
	assert_true(fx_flow(&kout, &e));
	assert_int_equal(e.packets, 1);
	assert_true(e.created_ns > o.out_e.created_ns);
	assert_true(fx_flow(&e.peer, &e));
	assert_memory_equal(&e.peer, &kout, sizeof(kout));
	assert_int_equal(e.packets, 0);
	assert_int_equal(fx_flow_count(), 2);   /* the old reply entry went with it */
	assert_int_equal(fx_event(EV_FLOW_CREATED), 2);
	/* The socket's mapping outlives its flow by a refresh interval: same port. */
	assert_int_equal(fx_event(EV_MAPPING_REUSED), 1);
	assert_int_equal(ntohs(e.peer.sport), 140);
	assert_true(fx_flow(&kout, &e));
	assert_int_equal(ntohs(e.xlate_port), o.port);
}

/* ------------------------------------------------- destination policy */

/* A WAN's own subnet is reached through that WAN, whatever the hash says. */
static void test_wan_subnet_destination_pinned_to_its_wan(void **state)
{
	(void)state;
	for (uint16_t sp = 2000; sp < 2016; sp++) {
		struct pk dg = client_udp(sp, "dns?", 4), exp;
		struct opened o;

		dg.da = ip4("198.51.100.1");            /* isp2's router, e.g. its DNS */
		open_flow(&dg, &o);
		assert_int_equal(o.gw, 1);
		assert_int_equal(o.out_e.group, XWAN_GROUP_NONE);
		exp = snat(dg, 1, o.port);
		expect_pk(&o.out, &exp);
	}
	assert_int_equal(fx_gw(1).flows_created, 16);
}

/*
 * A host on a WAN's subnet other than the gateway is on-link: the frame
 * goes to its own MAC (as the kernel's connected route would send it), not
 * to the gateway's.
 */
static void test_wan_subnet_host_reached_directly(void **state)
{
	struct pk dg = client_udp(2100, "hello", 5), exp;
	struct opened o;
	struct frame ef;

	(void)state;
	dg.da = ip4(WAN2_NEIGHBOUR);
	open_flow(&dg, &o);
	assert_int_equal(o.gw, 1);
	exp = snat(dg, 1, o.port);
	mk(&ef, &exp);
	memcpy(ef.d, MAC_WAN2_NEIGHBOUR, 6);
	expect_frame(&o.out, &ef);
}

/* ------------------------------------------------- the host's sessions */

/* The host's own connection from a WAN address: reserved, its reply goes up. */
static void test_host_session_reply_passed_up(void **state)
{
	struct pk syn = {
		.l2 = to_gw(0), .sa = WAN1_IP, .da = REMOTE, .proto = PROTO_TCP,
		.sp = 50000, .dp = 443, .flags = F_SYN,
	};
	struct pk probe = syn, r;
	struct flow_key kl = fkey(REMOTE, WAN1_IP, 443, 50000, PROTO_TCP);
	struct flow_entry e;
	struct frame in, out;

	(void)state;
	mk(&in, &syn);
	expect_tc(FX.tc_wan_out, FX.wan_if[0], 0, &in, &out, NULL, TC_ACT_OK, HOOK_TC_WAN_OUT,
		  V_PASS_FROM_HOST);
	expect_untouched(&out, &in);
	assert_true(fx_flow(&kl, &e));
	assert_int_equal(e.dir, FLOW_DIR_LOCAL);
	assert_int_equal(e.gw, 0);
	assert_int_equal(e.state, FLOW_STATE_NEW);

	r = syn;
	r.l2 = from_gw(0);
	r.sa = REMOTE;
	r.da = WAN1_IP;
	r.sp = 443;
	r.dp = 50000;
	r.flags = F_SYN | F_ACK;
	mk(&in, &r);
	expect_xdp(FX.xdp_wan, FX.wan_if[0], &in, &out, XDP_PASS, HOOK_XDP_WAN, V_PASS_LOCAL);
	expect_untouched(&out, &in);
	/* XDP passes it up; tc_wan_ingress, which the kernel runs next, accounts it. */
	expect_tc(FX.tc_wan_in, FX.wan_if[0], 0, &in, &out, NULL, TC_ACT_OK, HOOK_TC_WAN_IN,
		  V_PASS_LOCAL);
	expect_untouched(&out, &in);
	assert_true(fx_flow(&kl, &e));
	assert_int_equal(e.state, FLOW_STATE_ESTABLISHED);
	assert_int_equal(e.packets, 1);         /* the reply, in */
	assert_int_equal(e.host_packets, 1);    /* the host's SYN, out */
	assert_int_equal(fx_gw(0).unsolicited, 0);

	/* The agent's probes leave marked, from a WAN address: the host's too. */
	probe.sp = 50001;
	mk(&in, &probe);
	expect_tc(FX.tc_wan_out, FX.wan_if[0], xwan_gw_fwmark(FX.fwmark_mask, 0), &in, &out,
		  NULL, TC_ACT_OK, HOOK_TC_WAN_OUT, V_PASS_FROM_HOST);
	expect_untouched(&out, &in);
	kl.dport = htons(50001);
	assert_true(fx_flow(&kl, &e));
	assert_int_equal(e.dir, FLOW_DIR_LOCAL);
	assert_int_equal(fx_flow_count(), 2);
}

/* NAT never hands a LAN flow the port a host session holds for that endpoint. */
static void test_host_session_port_not_given_to_lan(void **state)
{
	struct pk host = {
		.l2 = to_gw(0), .sa = WAN1_IP, .da = REMOTE, .proto = PROTO_TCP,
		.sp = 50000, .dp = 443, .flags = F_SYN,
	};
	struct pk syn = client_syn(50000);     /* would keep its port if it could */
	struct flow_key kl = fkey(REMOTE, WAN1_IP, 443, 50000, PROTO_TCP);
	struct flow_entry before, after;
	struct opened o;
	struct frame in;

	(void)state;
	FX.usable[1] = false;
	assert_int_equal(xwan_sync_gateways(&FX.cfg, &FX.host, FX.m, FX.status, FX.usable), 0);
	assert_int_equal(fx_install_groups(), 0);

	mk(&in, &host);
	assert_int_equal(run_tc(FX.tc_wan_out, FX.wan_if[0], 0, &in, NULL, NULL), TC_ACT_OK);
	assert_true(fx_flow(&kl, &before));

	open_flow(&syn, &o);
	assert_int_equal(o.gw, 0);
	assert_int_not_equal(o.port, 50000);
	assert_true(fx_event(EV_NAT_COLLISION) >= 1);
	assert_true(fx_flow(&kl, &after));
	assert_memory_equal(&before, &after, sizeof(before));
}

/* ------------------------------------------------------- TCP reopen */

/* 15. After a RST, a SYN with the same tuple is a new flow on a new port. */
static void test_tcp_reopen_after_rst_new_flow(void **state)
{
	struct pk syn = client_syn(40000), p, r, exp;
	struct flow_key kout = key_of(&syn), old_in;
	struct flow_entry e, ei;
	struct opened o;
	struct frame in, out;

	(void)state;
	open_flow(&syn, &o);
	old_in = o.out_e.peer;
	r = reply_to(&syn, o.gw, o.port, F_SYN | F_ACK);
	mk(&in, &r);
	assert_int_equal(run_xdp(FX.xdp_wan, FX.wan_if[o.gw], &in, NULL), XDP_REDIRECT);
	p = syn;
	p.flags = F_RST | F_ACK;
	p.seq = 1001;
	mk(&in, &p);
	assert_int_equal(run_xdp(FX.xdp_lan, FX.lan_if, &in, NULL), XDP_REDIRECT);
	assert_true(fx_flow(&kout, &e));
	assert_int_equal(e.state, FLOW_STATE_CLOSED);

	mk(&in, &syn);
	expect_xdp(FX.xdp_lan, FX.lan_if, &in, &out, XDP_REDIRECT, HOOK_XDP_LAN, V_FWD_OUT);
	assert_true(fx_flow(&kout, &e));
	assert_int_equal(e.state, FLOW_STATE_NEW);
	assert_int_equal(e.packets, 1);
	assert_int_not_equal(ntohs(e.xlate_port), o.port);
	exp = snat(syn, e.gw, ntohs(e.xlate_port));
	expect_pk(&out, &exp);

	assert_true(fx_flow(&e.peer, &ei));
	assert_int_equal(ei.state, FLOW_STATE_NEW);
	assert_false(fx_flow(&old_in, &ei));    /* the old reply entry is gone */
	assert_int_equal(fx_flow_count(), 2);
	assert_int_equal(fx_event(EV_FLOW_CREATED), 2);
}

/* ------------------------------------------------------------- tc */

/* 16a. The kernel path: tc_lan_ingress marks packets of a flow for its WAN. */
static void test_tc_lan_ingress_marks(void **state)
{
	struct pk syn = client_syn(40000), p;
	struct opened o;
	struct frame in, out;
	uint32_t mark = 0;

	(void)state;
	open_flow(&syn, &o);
	p = syn;
	p.flags = F_ACK;
	mk(&in, &p);
	expect_tc(FX.tc_lan_in, FX.lan_if, 0x1, &in, &out, &mark, TC_ACT_OK, HOOK_TC_LAN_IN,
		  V_FWD_VIA_KERNEL);
	assert_int_equal(mark, 0x1 | xwan_gw_fwmark(FX.fwmark_mask, o.gw));
	expect_untouched(&out, &in);

	/* A mark already in xwan's bits is replaced, not or-ed. */
	expect_tc(FX.tc_lan_in, FX.lan_if, 0x1 | FX.fwmark_mask, &in, &out, &mark, TC_ACT_OK,
		  HOOK_TC_LAN_IN, V_FWD_VIA_KERNEL);
	assert_int_equal(mark, 0x1 | xwan_gw_fwmark(FX.fwmark_mask, o.gw));
}

/* 16b. A new flow first seen by tc (XDP passed it) is created and marked. */
static void test_tc_lan_ingress_creates_flow(void **state)
{
	struct pk syn = client_syn(40001);
	struct flow_key k = key_of(&syn);
	struct flow_entry e;
	struct frame in, out;
	uint32_t mark = 0;

	(void)state;
	mk(&in, &syn);
	expect_tc(FX.tc_lan_in, FX.lan_if, 0, &in, &out, &mark, TC_ACT_OK, HOOK_TC_LAN_IN,
		  V_FWD_VIA_KERNEL);
	assert_true(fx_flow(&k, &e));
	assert_int_equal(mark, xwan_gw_fwmark(FX.fwmark_mask, e.gw));
	assert_int_equal(fx_flow_count(), 2);
	assert_int_equal(e.packets, 1);         /* accounted once, as it was made */
	assert_int_equal(e.bytes, 40);
	expect_untouched(&out, &in);
}

/* The packet of a flow as the kernel hands it to the WAN after routing. */
static struct pk routed(struct pk p, int gw)
{
	p.l2 = to_gw(gw);
	p.ttl = 63;
	return p;
}

/* 16c. tc_wan_egress translates marked packets of a flow. */
static void test_tc_wan_egress_snat(void **state)
{
	struct pk syn = client_syn(702), p, exp;
	struct opened o;
	struct frame in, out;
	uint32_t mark;

	(void)state;
	open_flow(&syn, &o);
	mark = xwan_gw_fwmark(FX.fwmark_mask, o.gw);
	p = routed(syn, o.gw);
	p.flags = F_ACK | F_PSH;
	p.pl = "data through the kernel";
	p.n = 23;
	mk(&in, &p);
	expect_tc(FX.tc_wan_out, FX.wan_if[o.gw], mark, &in, &out, NULL, TC_ACT_OK,
		  HOOK_TC_WAN_OUT, V_FWD_OUT);
	exp = p;
	exp.sa = FX.nat_addr[o.gw];
	exp.sp = o.port;
	expect_pk(&out, &exp);
}

/* 16d. A marked packet with no flow (or on the wrong WAN) never leaves. */
static void test_tc_wan_egress_drops_marked_without_flow(void **state)
{
	struct pk syn = client_syn(703), p;
	struct opened o;
	struct frame in;

	(void)state;
	p = routed(client_syn(40999), 0);
	p.flags = F_ACK;
	mk(&in, &p);
	expect_tc(FX.tc_wan_out, FX.wan_if[0], xwan_gw_fwmark(FX.fwmark_mask, 0), &in, NULL,
		  NULL, TC_ACT_SHOT, HOOK_TC_WAN_OUT, V_DROP_NO_FLOW);

	open_flow(&syn, &o);
	p = routed(syn, !o.gw);
	p.flags = F_ACK;
	mk(&in, &p);
	expect_tc(FX.tc_wan_out, FX.wan_if[!o.gw], xwan_gw_fwmark(FX.fwmark_mask, !o.gw), &in,
		  NULL, NULL, TC_ACT_SHOT, HOOK_TC_WAN_OUT, V_DROP_NO_FLOW);
}

/*
 * 16e. Unmarked traffic that is not the host's own is not translated: left
 * alone when its source is not the LAN's, dropped when it is (issue 9,
 * finding 5: nothing leaves un-NATed).
 */
static void test_tc_wan_egress_ignores_unmarked(void **state)
{
	struct pk syn = client_syn(704), p;
	struct opened o;
	struct frame in, out;

	(void)state;
	open_flow(&syn, &o);
	p = routed(syn, o.gw);      /* even a flow's tuple */
	p.flags = F_ACK;
	mk(&in, &p);
	expect_tc(FX.tc_wan_out, FX.wan_if[o.gw], 0, &in, &out, NULL, TC_ACT_SHOT,
		  HOOK_TC_WAN_OUT, V_DROP_UNTRANSLATED);
	/* A mark outside xwan's bits is not xwan's either. */
	expect_tc(FX.tc_wan_out, FX.wan_if[o.gw], ~FX.fwmark_mask, &in, &out, NULL, TC_ACT_SHOT,
		  HOOK_TC_WAN_OUT, V_DROP_UNTRANSLATED);
	p.sa = ROUTER;              /* routed through the host, not from its LAN */
	mk(&in, &p);
	expect_tc(FX.tc_wan_out, FX.wan_if[o.gw], 0, &in, &out, NULL, TC_ACT_OK,
		  HOOK_TC_WAN_OUT, V_PASS_NOT_XWAN);
	expect_untouched(&out, &in);
	expect_tc(FX.tc_wan_out, FX.wan_if[o.gw], ~FX.fwmark_mask, &in, &out, NULL, TC_ACT_OK,
		  HOOK_TC_WAN_OUT, V_PASS_NOT_XWAN);
	expect_untouched(&out, &in);
}

/* 16f. tc_wan_ingress destination-translates a reply for the kernel. */
static void test_tc_wan_ingress_dnat(void **state)
{
	struct pk syn = client_syn(705), r, exp;
	struct flow_entry e;
	struct opened o;
	struct frame in, out;

	(void)state;
	open_flow(&syn, &o);
	r = reply_to(&syn, o.gw, o.port, F_SYN | F_ACK);
	mk(&in, &r);
	expect_tc(FX.tc_wan_in, FX.wan_if[o.gw], 0, &in, &out, NULL, TC_ACT_OK, HOOK_TC_WAN_IN,
		  V_FWD_VIA_KERNEL);
	exp = r;                    /* no TTL or MAC change: the kernel routes it */
	exp.da = CLIENT;
	exp.dp = 705;
	expect_pk(&out, &exp);
	assert_true(fx_flow(&o.out_e.peer, &e));
	assert_int_equal(e.state, FLOW_STATE_SYN_RECV);     /* the client has not acknowledged yet */
}

/* 16g. tc_wan_egress keeps UDP's checksum rules: 0 stays 0, a computed 0 is 0xffff. */
static void test_tc_wan_egress_udp_checksum_zero(void **state)
{
	static const char first[] = "opens the flow";
	uint8_t pl[24] = "..this one sums to zero";
	struct pk dg = client_udp(137, first, sizeof(first)), p, exp;
	struct opened o;
	struct frame in, out;
	struct view v;
	uint32_t mark;

	(void)state;
	open_flow(&dg, &o);
	mark = xwan_gw_fwmark(FX.fwmark_mask, o.gw);

	p = routed(dg, o.gw);
	p.no_csum = true;
	mk(&in, &p);
	assert_int_equal(run_tc(FX.tc_wan_out, FX.wan_if[o.gw], mark, &in, &out, NULL), TC_ACT_OK);
	exp = p;
	exp.sa = FX.nat_addr[o.gw];
	exp.sp = o.port;
	expect_pk(&out, &exp);
	assert_true(frame_view(&out, &v));
	assert_int_equal(v.l4_csum, 0);

	craft_zero_udp_csum(pl, sizeof(pl), FX.nat_addr[o.gw], REMOTE, o.port, 53);
	p = routed(dg, o.gw);
	p.pl = pl;
	p.n = sizeof(pl);
	mk(&in, &p);
	assert_int_equal(run_tc(FX.tc_wan_out, FX.wan_if[o.gw], mark, &in, &out, NULL), TC_ACT_OK);
	exp = p;
	exp.sa = FX.nat_addr[o.gw];
	exp.sp = o.port;
	expect_pk(&out, &exp);
	assert_true(frame_view(&out, &v));
	assert_int_equal(v.l4_csum, 0xffff);
}

/* 16h. tc_wan_ingress translates an ICMP error for the kernel to forward. */
static void test_tc_wan_ingress_icmp_error(void **state)
{
	static const char q[] = "probe";
	struct pk dg = client_udp(138, q, sizeof(q)), e;
	struct opened o;
	struct frame in, out, exp, quote;

	(void)state;
	open_flow(&dg, &o);
	wan_icmp_error(&in, o.gw, ICMPT_UNREACH, ICMPC_FRAG_NEEDED, 1400, &o.out, 0);
	expect_tc(FX.tc_wan_in, FX.wan_if[o.gw], 0, &in, &out, NULL, TC_ACT_OK, HOOK_TC_WAN_IN,
		  V_FWD_VIA_KERNEL);

	/* No TTL or MAC change: the kernel routes it. */
	as_forwarded(&quote, &dg);
	e = (struct pk){ .l2 = from_gw(o.gw), .da = CLIENT, .type = ICMPT_UNREACH,
			 .code = ICMPC_FRAG_NEEDED, .rest = 1400, .ttl = 250 };
	icmp_error_quoting(&exp, e, &quote, 0);
	expect_frame(&out, &exp);
	assert_int_equal(fx_event(EV_ICMP_ERR_XLATED), 1);
}

/* ------------------------------------------------------- accounting */

/* Run a batch through a hook: the hook's counters grow by exactly the batch. */
struct shot {
	struct frame f;
	int ifindex;
	uint32_t mark;
	int verdict;
};

static void expect_batch_accounted(int prog, int hook, bool tc, struct shot *b, int n)
{
	uint64_t total = fx_hook_total(hook), others = 0, others_after = 0;

	for (int h = 0; h < HOOK_MAX; h++)
		if (h != hook)
			others += fx_hook_total(h);
	for (int i = 0; i < n; i++) {
		uint64_t before = fx_verdict(hook, b[i].verdict);

		if (tc)
			run_tc(prog, b[i].ifindex, b[i].mark, &b[i].f, NULL, NULL);
		else
			run_xdp(prog, b[i].ifindex, &b[i].f, NULL);
		if (fx_verdict(hook, b[i].verdict) != before + 1)
			fail_msg("packet %d of the batch: verdict %d not counted", i, b[i].verdict);
	}
	assert_int_equal(fx_hook_total(hook) - total, n);
	for (int h = 0; h < HOOK_MAX; h++)
		if (h != hook)
			others_after += fx_hook_total(h);
	assert_int_equal(others_after, others);
}

static void arp_frame(struct frame *f, struct l2 l2)
{
	memset(f->d, 0, 42);
	l2_eth(f->d, l2.dst, l2.src, 0x0806);
	f->len = 42;
}

/* 17a. xdp_lan: every packet ends in exactly one verdict counter. */
static void test_verdict_accounting_xdp_lan(void **state)
{
	static struct shot b[16];
	struct pk p;
	int n = 0;

	(void)state;
#define ADD(pkv, v) do { struct pk q_ = (pkv); mk(&b[n].f, &q_); b[n].ifindex = FX.lan_if; \
			 b[n].verdict = (v); n++; } while (0)
	ADD(client_syn(41000), V_FWD_OUT);
	p = client_syn(41000);
	p.flags = F_ACK;
	ADD(p, V_FWD_OUT);
	ADD(client_udp(5353, "u", 1), V_FWD_OUT);
	ADD(client_echo(77, "e", 1), V_FWD_OUT);
	p = client_syn(41001);
	p.sa = SPOOFED;
	ADD(p, V_DROP_SPOOFED);
	p = client_syn(41002);
	p.ttl = 1;
	ADD(p, V_PASS_TTL);
	p = client_syn(41003);
	p.da = LAN_HOST;
	ADD(p, V_PASS_LOCAL);
	p.da = LAN_PEER;
	ADD(p, V_PASS_BYPASS);
	p = client_syn(41004);
	p.flags = F_RST;
	ADD(p, V_DROP_NOT_NEW);
	p = client_udp(5354, NULL, 0);
	p.proto = PROTO_GRE;
	p.pl = "\0\0\x08\0";
	p.n = 4;
	ADD(p, V_FWD_OUT);               /* NATed by address */
	p = client_echo(78, "e", 1);
	p.type = 10;                     /* router solicitation: the kernel's */
	ADD(p, V_PASS_UNSUPPORTED);
	p = (struct pk){ .l2 = from_client(), .sa = CLIENT, .da = REMOTE, .proto = PROTO_ICMP,
			 .type = ICMPT_UNREACH, .code = 3, .pl = b[0].f.d + ETH_LEN, .n = 28 };
	ADD(p, V_PASS_NOT_XWAN);        /* an error about a flow we do not have */
	p = client_udp(5355, NULL, 0);
	p.frag = 8;
	p.id = 0x9999;
	ADD(p, V_PASS_FRAG_EARLY);      /* tc holds it for its first fragment */
#undef ADD
	arp_frame(&b[n].f, from_client());
	b[n].ifindex = FX.lan_if;
	b[n++].verdict = V_PASS_NOT_IPV4;
	p = client_syn(41005);
	mk(&b[n].f, &p);
	b[n].f.d[ETH_LEN] = 0x43;
	b[n].ifindex = FX.lan_if;
	b[n++].verdict = V_DROP_MALFORMED;

	expect_batch_accounted(FX.xdp_lan, HOOK_XDP_LAN, false, b, n);
}

/* 17b. xdp_wan: the same for the WAN side. */
static void test_verdict_accounting_xdp_wan(void **state)
{
	static struct shot b[16];
	static char big[1600];
	struct pk syn = client_syn(42000), p;
	struct opened o;
	int n = 0;

	(void)state;
	open_flow(&syn, &o);
#define ADD(pkv, v) do { struct pk q_ = (pkv); mk(&b[n].f, &q_); \
			 b[n].ifindex = FX.wan_if[o.gw]; b[n].verdict = (v); n++; } while (0)
	ADD(reply_to(&syn, o.gw, o.port, F_SYN | F_ACK), V_FWD_IN);
	p = reply_to(&syn, o.gw, o.port, F_ACK);
	p.ttl = 1;
	ADD(p, V_PASS_TTL);
	p = reply_to(&syn, o.gw, o.port, F_ACK);
	p.pl = big;
	p.n = sizeof(big);
	ADD(p, V_PASS_MTU);
	p = (struct pk){ .l2 = from_gw(o.gw), .sa = ROUTER, .da = FX.nat_addr[o.gw],
			 .proto = PROTO_ICMP, .type = ICMPT_TIMXCEED, .pl = o.out.d + ETH_LEN,
			 .n = 28 };
	ADD(p, V_FWD_ICMP_ERROR);
	p = reply_to(&syn, o.gw, o.port, F_SYN);
	p.dp = 9;                        /* no flow: to the host */
	ADD(p, V_PASS_LOCAL);
	p.da = CLIENT;                   /* no flow: to the LAN */
	ADD(p, V_DROP_UNSOLICITED);
	p = reply_to(&syn, o.gw, o.port, 0);
	p.proto = PROTO_GRE;
	p.pl = "\0\0\x08\0";
	p.n = 4;
	ADD(p, V_PASS_LOCAL);            /* GRE to our address: the host's */
	p.da = CLIENT;
	ADD(p, V_DROP_UNSOLICITED);      /* GRE to the LAN: not ours to forward */
#undef ADD
	arp_frame(&b[n].f, from_gw(o.gw));
	b[n].ifindex = FX.wan_if[o.gw];
	b[n++].verdict = V_PASS_NOT_IPV4;
	b[n] = b[0];
	b[n].f.len = ETH_LEN + 10;
	b[n++].verdict = V_DROP_MALFORMED;

	expect_batch_accounted(FX.xdp_wan, HOOK_XDP_WAN, false, b, n);
}

/* 17c. The tc hooks. */
static void test_verdict_accounting_tc(void **state)
{
	static struct shot b[8];
	struct pk syn = client_syn(43000), p;
	struct opened o;
	uint32_t mark;
	int n;

	(void)state;
	open_flow(&syn, &o);
	mark = xwan_gw_fwmark(FX.fwmark_mask, o.gw);

	n = 0;
	p = syn;
	p.flags = F_ACK;
	mk(&b[n].f, &p);
	b[n].ifindex = FX.lan_if;
	b[n++].verdict = V_FWD_VIA_KERNEL;
	p.sa = SPOOFED;
	mk(&b[n].f, &p);
	b[n].ifindex = FX.lan_if;
	b[n++].verdict = V_DROP_SPOOFED;
	p.sa = CLIENT;
	p.ttl = 1;
	mk(&b[n].f, &p);
	b[n].ifindex = FX.lan_if;
	b[n++].verdict = V_PASS_TTL;
	arp_frame(&b[n].f, from_client());
	b[n].ifindex = FX.lan_if;
	b[n++].verdict = V_PASS_NOT_IPV4;
	expect_batch_accounted(FX.tc_lan_in, HOOK_TC_LAN_IN, true, b, n);

	n = 0;
	p = routed(syn, o.gw);
	p.flags = F_ACK;
	mk(&b[n].f, &p);
	b[n].ifindex = FX.wan_if[o.gw];
	b[n].mark = mark;
	b[n++].verdict = V_FWD_OUT;
	b[n] = b[n - 1];
	b[n].mark = 0;
	b[n++].verdict = V_DROP_UNTRANSLATED;
	p.sa = ROUTER;
	mk(&b[n].f, &p);
	b[n].ifindex = FX.wan_if[o.gw];
	b[n].mark = 0;
	b[n++].verdict = V_PASS_NOT_XWAN;
	p.sa = CLIENT;
	p.sp = 43999;
	mk(&b[n].f, &p);
	b[n].ifindex = FX.wan_if[o.gw];
	b[n].mark = mark;
	b[n++].verdict = V_DROP_NO_FLOW;
	expect_batch_accounted(FX.tc_wan_out, HOOK_TC_WAN_OUT, true, b, n);

	n = 0;
	p = reply_to(&syn, o.gw, o.port, F_SYN | F_ACK);
	mk(&b[n].f, &p);
	b[n].ifindex = FX.wan_if[o.gw];
	b[n].mark = 0;
	b[n++].verdict = V_FWD_VIA_KERNEL;
	p = reply_to(&syn, o.gw, o.port, F_SYN);
	p.dp = 9;
	mk(&b[n].f, &p);
	b[n].ifindex = FX.wan_if[o.gw];
	b[n++].verdict = V_PASS_LOCAL;
	p.da = CLIENT;
	mk(&b[n].f, &p);
	b[n].ifindex = FX.wan_if[o.gw];
	b[n++].verdict = V_DROP_UNSOLICITED;
	arp_frame(&b[n].f, from_gw(o.gw));
	b[n].ifindex = FX.wan_if[o.gw];
	b[n++].verdict = V_PASS_NOT_IPV4;
	expect_batch_accounted(FX.tc_wan_in, HOOK_TC_WAN_IN, true, b, n);
}

/* ======================================== flow state under floods (issue 9) */

/*
 * Every test here fails on the dataplane before the answered/unanswered
 * split (commit 0beaffe): findings 1-4 of issue 9.
 */

static void settings_edit(void (*edit)(struct xwan_settings *))
{
	struct xwan_settings st;
	uint32_t zero = 0;

	assert_int_equal(bpf_map_lookup_elem(FX.m->fd[XM_SETTINGS], &zero, &st), 0);
	edit(&st);
	assert_int_equal(bpf_map_update_elem(FX.m->fd[XM_SETTINGS], &zero, &st, BPF_ANY), 0);
}

/* The sequence number a packet carries (0 in struct pk means 1000). */
static uint32_t seq_of(const struct pk *p)
{
	return p->seq ? p->seq : 1000;
}

static bool in_table(int table, const struct flow_key *k)
{
	struct flow_entry e;

	return bpf_map_lookup_elem(FX.m->fd[table], k, &e) == 0;
}

/* SYN, SYN-ACK, ACK: the flow is established and both halves answered. */
static void establish(const struct pk *syn, struct opened *o)
{
	struct pk r, a = *syn;
	struct flow_key kout = key_of(syn);
	struct frame in;

	open_flow(syn, o);
	r = reply_to(syn, o->gw, o->port, F_SYN | F_ACK);
	r.ack = seq_of(syn) + 1;
	mk(&in, &r);
	assert_int_equal(run_xdp(FX.xdp_wan, FX.wan_if[o->gw], &in, NULL), XDP_REDIRECT);
	a.flags = F_ACK;
	a.seq = seq_of(syn) + 1;
	a.ack = 1001;
	mk(&in, &a);
	assert_int_equal(run_xdp(FX.xdp_lan, FX.lan_if, &in, NULL), XDP_REDIRECT);
	assert_true(fx_flow(&kout, &o->out_e));
	assert_int_equal(o->out_e.state, FLOW_STATE_ESTABLISHED);
}

/* A packet of an established flow from the client, and the remote's answer. */
static void expect_flow_alive(const struct pk *syn, const struct opened *o)
{
	struct pk d = *syn, r;
	struct frame in, out;

	d.flags = F_ACK | F_PSH;
	d.seq = seq_of(syn) + 1;
	d.ack = 1001;
	d.pl = "ping";
	d.n = 4;
	mk(&in, &d);
	expect_xdp(FX.xdp_lan, FX.lan_if, &in, &out, XDP_REDIRECT, HOOK_XDP_LAN, V_FWD_OUT);
	{
		struct pk exp = snat(d, o->gw, o->port);

		expect_pk(&out, &exp);
	}
	r = reply_to(syn, o->gw, o->port, F_ACK);
	r.seq = 1001;
	r.ack = seq_of(syn) + 5;
	mk(&in, &r);
	expect_xdp(FX.xdp_wan, FX.wan_if[o->gw], &in, &out, XDP_REDIRECT, HOOK_XDP_WAN, V_FWD_IN);
}

/* F1. Answered flows move to the table nothing evicts; a SYN-ACK alone does not. */
static void test_answered_flow_promoted(void **state)
{
	struct pk syn = client_syn(40000), u = client_syn(5353), r;
	struct flow_key kout = key_of(&syn);
	struct opened o, ou;
	struct frame in;

	(void)state;
	open_flow(&syn, &o);
	assert_true(in_table(XM_FLOWS_NEW, &kout));
	r = reply_to(&syn, o.gw, o.port, F_SYN | F_ACK);
	r.ack = 1001;
	mk(&in, &r);
	assert_int_equal(run_xdp(FX.xdp_wan, FX.wan_if[o.gw], &in, NULL), XDP_REDIRECT);
	/* SYN_RECV: what a spoofed SYN to a port forward reaches. Not answered yet. */
	assert_true(in_table(XM_FLOWS_NEW, &kout));
	assert_false(in_table(XM_FLOWS, &kout));
	fx_reset();
	establish(&syn, &o);
	assert_true(in_table(XM_FLOWS, &kout));
	assert_true(in_table(XM_FLOWS, &o.out_e.peer));
	assert_false(in_table(XM_FLOWS_NEW, &kout));
	assert_false(in_table(XM_FLOWS_NEW, &o.out_e.peer));
	assert_int_equal(fx_event(EV_FLOW_PROMOTED), 1);

	/* UDP: answered once seen both ways. */
	u.proto = PROTO_UDP;
	u.flags = 0;
	open_flow(&u, &ou);
	assert_true(in_table(XM_FLOWS_NEW, &ou.out_e.peer));
	r = reply_to(&u, ou.gw, ou.port, 0);
	mk(&in, &r);
	assert_int_equal(run_xdp(FX.xdp_wan, FX.wan_if[ou.gw], &in, NULL), XDP_REDIRECT);
	assert_true(in_table(XM_FLOWS, &ou.out_e.peer));
	assert_int_equal(fx_event(EV_FLOW_PROMOTED), 2);
}

/*
 * F1 (finding 1). A flood of unanswered flows, more than the whole table
 * holds (LAN SYNs answered by SYN-ACKs, as a port forward's server answers
 * spoofed SYNs, and the host's SYN-ACKs to spoofed internet sources),
 * evicts no established flow: its next segments still pass both ways.
 */
static void test_flood_keeps_established_flow(void **state)
{
	struct pk syn = client_syn(40000), f = client_syn(1), h;
	struct opened o;
	struct frame in;
	int n = 2 * (int)FX.cfg.flow_table_size + 4096, lan = 0, host = 0;

	(void)state;
	establish(&syn, &o);
	f.dp = 80;
	for (int i = 0; i < n; i++) {
		if (i & 1) {
			/* the host answering a spoofed SYN on its WAN address */
			h = (struct pk){ .l2 = to_gw(0), .sa = FX.nat_addr[0],
					 .da = htonl(0xc6120000u | (uint32_t)i), .proto = PROTO_TCP,
					 .sp = 22, .dp = (uint16_t)(1024 + i % 60000),
					 .flags = F_SYN | F_ACK };
			mk(&in, &h);
			run_tc(FX.tc_wan_out, FX.wan_if[0], 0, &in, NULL, NULL);
			host++;
		} else {
			struct frame out;
			struct view v;
			struct pk r;

			/* a LAN host's SYN, answered by a SYN-ACK the host never ACKs */
			f.sa = htonl(0x0a010002u + (uint32_t)(i % 250));
			f.sp = (uint16_t)(1024 + (i / 250) % 60000);
			mk(&in, &f);
			if (run_xdp(FX.xdp_lan, FX.lan_if, &in, &out) != XDP_REDIRECT ||
			    !frame_view(&out, &v))
				continue;
			lan++;
			r = reply_to(&f, fx_gw_of_addr(v.saddr), v.sport, F_SYN | F_ACK);
			r.ack = 1001;
			mk(&in, &r);
			run_xdp(FX.xdp_wan, FX.wan_if[fx_gw_of_addr(v.saddr)], &in, NULL);
		}
	}
	print_message("  %d LAN SYNs forwarded, %d host SYN-ACKs; evictions %llu\n", lan, host,
		      (unsigned long long)fx_event(EV_FLOW_EVICTED));
	assert_true(lan > n / 2 - 64);
	assert_true(fx_event(EV_FLOW_EVICTED) > 0);
	expect_flow_alive(&syn, &o);
	/* And a new flow still opens. */
	{
		struct pk nw = client_syn(41000);
		struct opened on;

		open_flow(&nw, &on);
	}
}

/* The gateway and port of a new SYN from (saddr, sport) to REMOTE:443. */
static struct opened try_open(uint32_t saddr, uint16_t sport)
{
	struct pk p = client_syn(sport);
	struct opened o;

	p.sa = saddr;
	open_flow(&p, &o);
	return o;
}

/*
 * F2 (finding 2). The reply half of an unanswered flow is evicted; a
 * second client gets its port. The first client's next packet must not
 * leave on that port (its replies would reach the second client): it
 * opens a new flow on another port, and replies to the port reach the
 * second client only.
 */
static void test_evicted_reply_half_frees_no_port_in_use(void **state)
{
	struct pk a = client_syn(40000), b, r;
	struct opened oa, ob;
	struct flow_entry e;
	struct frame in, out;
	uint32_t b_addr = 0;

	(void)state;
	open_flow(&a, &oa);
	/* The LRU evicts A's reply half, and A's mapping, which held the port. */
	assert_int_equal(bpf_map_delete_elem(FX.m->fd[XM_FLOWS_NEW], &oa.out_e.peer), 0);
	assert_int_equal(fx_clear_hash(FX.m->fd[XM_NAT_MAPS]), 0);
	/* A client whose flow lands on A's gateway, asking for A's port. */
	for (uint32_t h = 3; h < 250 && !b_addr; h++) {
		struct flow_key k = fkey(htonl(0x0a010000u + h), REMOTE, oa.port, 443, PROTO_TCP);

		ob = try_open(k.saddr, oa.port);
		if (ob.gw == oa.gw && ob.port == oa.port)
			b_addr = k.saddr;
	}
	assert_int_not_equal(b_addr, 0);

	/* A retransmits its SYN (after the grace for flows being made). */
	usleep(60 * 1000);
	mk(&in, &a);
	assert_int_equal(run_xdp(FX.xdp_lan, FX.lan_if, &in, &out), XDP_REDIRECT);
	{
		struct view v;

		assert_true(frame_view(&out, &v));
		if (v.sport == oa.port && v.saddr == FX.nat_addr[oa.gw])
			fail_msg("client A still leaves on port %u, now client B's", oa.port);
	}
	assert_true(fx_flow(&oa.out_e.peer, &e));
	assert_int_equal(e.xlate_addr, b_addr);
	/* The remote's answer to the port goes to B. */
	b = client_syn(oa.port);
	b.sa = b_addr;
	r = reply_to(&b, oa.gw, oa.port, F_SYN | F_ACK);
	mk(&in, &r);
	assert_int_equal(run_xdp(FX.xdp_wan, FX.wan_if[oa.gw], &in, &out), XDP_REDIRECT);
	{
		struct view v;

		assert_true(frame_view(&out, &v));
		assert_int_equal(v.daddr, b_addr);
	}
}

/*
 * F3 (finding 3). Another CPU is making a flow: its reply half (the NAT
 * port) is in, its OUT half not yet. A new flow asking for the same port
 * must not take it over.
 */
static void test_half_made_flow_not_taken_over(void **state)
{
	struct opened o, ob;
	struct flow_entry half = {}, e;
	struct flow_key in_key;
	struct timespec ts;
	uint32_t b_addr = 0;

	(void)state;
	/* Where a flow from CLIENT:40000 lands: its gateway and port. */
	o = try_open(CLIENT, 40000);
	in_key = o.out_e.peer;
	fx_reset();
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	half.created_ns = half.last_seen_ns = (uint64_t)ts.tv_sec * 1000000000ULL +
					      (uint64_t)ts.tv_nsec;
	half.peer = fkey(CLIENT, REMOTE, 40000, 443, PROTO_TCP);
	half.xlate_addr = CLIENT;
	half.xlate_port = htons(40000);
	half.dir = FLOW_DIR_IN;
	half.gw = (uint8_t)o.gw;
	half.ct = FLOW_CT_CHARGED;
	assert_int_equal(bpf_map_update_elem(FX.m->fd[XM_FLOWS_NEW], &in_key, &half, BPF_NOEXIST),
			 0);
	for (uint32_t h = 3; h < 250 && !b_addr; h++) {
		ob = try_open(htonl(0x0a010000u + h), 40000);
		if (ob.gw == o.gw)
			b_addr = htonl(0x0a010000u + h);
	}
	assert_int_not_equal(b_addr, 0);
	assert_int_not_equal(ob.port, o.port);
	assert_true(fx_flow(&in_key, &e));
	assert_memory_equal(&e, &half, sizeof(e));
	assert_true(fx_event(EV_NAT_COLLISION) >= 1);
}

static void liberal_on(struct xwan_settings *st) { st->tcp_liberal = 1; }

/* A segment from the remote on an established flow; returns the XDP action. */
static uint32_t remote_sends(const struct pk *syn, const struct opened *o, uint8_t flags,
			     uint32_t seq, size_t len)
{
	static const char data[64];
	struct pk r = reply_to(syn, o->gw, o->port, flags);
	struct frame in;

	r.seq = seq;
	r.ack = seq_of(syn) + 1;
	r.pl = len ? data : NULL;
	r.n = len;
	mk(&in, &r);
	return run_xdp(FX.xdp_wan, FX.wan_if[o->gw], &in, NULL);
}

/*
 * F4 (finding 4). A RST with a sequence number outside the client's window
 * (RFC 5961) is dropped and leaves the flow established; FIN and data far
 * outside it likewise; a RST in the window closes the flow.
 */
static void test_tcp_rst_outside_window_ignored(void **state)
{
	struct pk syn = client_syn(40000);
	struct flow_key kout = key_of(&syn);
	struct flow_entry e;
	struct opened o;

	(void)state;
	establish(&syn, &o);
	/* the remote sent up to 1001; the client offers 64240 */
	assert_int_equal(remote_sends(&syn, &o, F_RST | F_ACK, 1001 + 200000, 0), XDP_DROP);
	assert_int_equal(remote_sends(&syn, &o, F_RST, 1001 - 70000, 0), XDP_DROP);
	assert_int_equal(remote_sends(&syn, &o, F_FIN | F_ACK, 1001 + 1000000, 0), XDP_DROP);
	assert_int_equal(remote_sends(&syn, &o, F_ACK, 1001 + 3000000, 10), XDP_DROP);
	assert_true(fx_flow(&kout, &e));
	assert_int_equal(e.state, FLOW_STATE_ESTABLISHED);
	assert_int_equal(e.flags & (FLOW_F_FIN_IN | FLOW_F_FIN_OUT), 0);
	assert_true(fx_flow(&e.peer, &e));
	assert_int_equal(e.tcp_seq_next, 1001);
	assert_int_equal(fx_verdict(HOOK_XDP_WAN, V_DROP_TCP_WINDOW), 4);
	assert_int_equal(fx_event(EV_TCP_RST_IGNORED), 2);
	assert_int_equal(fx_event(EV_TCP_FIN_IGNORED), 1);
	assert_int_equal(fx_event(EV_TCP_DATA_IGNORED), 1);
	expect_flow_alive(&syn, &o);

	/* Data inside the window moves it; a RST inside the window closes. */
	assert_int_equal(remote_sends(&syn, &o, F_ACK, 1001, 10), XDP_REDIRECT);
	assert_int_equal(remote_sends(&syn, &o, F_RST | F_ACK, 1011 + 100, 0), XDP_REDIRECT);
	assert_true(fx_flow(&kout, &e));
	assert_int_equal(e.state, FLOW_STATE_CLOSED);
}

/* Control: `tcp_liberal: true` checks no window. */
static void test_tcp_liberal_accepts_any_rst(void **state)
{
	struct pk syn = client_syn(40000);
	struct flow_key kout = key_of(&syn);
	struct flow_entry e;
	struct opened o;

	(void)state;
	settings_edit(liberal_on);
	establish(&syn, &o);
	assert_int_equal(remote_sends(&syn, &o, F_RST | F_ACK, 1001 + 200000, 0), XDP_REDIRECT);
	assert_true(fx_flow(&kout, &e));
	assert_int_equal(e.state, FLOW_STATE_CLOSED);
	assert_int_equal(fx_verdict(HOOK_XDP_WAN, V_DROP_TCP_WINDOW), 0);
}

/* A RST answering a SYN counts only when it acknowledges the SYN. */
static void test_tcp_rst_to_syn_must_ack_it(void **state)
{
	struct pk syn = client_syn(40000), r;
	struct flow_key kout = key_of(&syn);
	struct flow_entry e;
	struct opened o;
	struct frame in;

	(void)state;
	open_flow(&syn, &o);
	r = reply_to(&syn, o.gw, o.port, F_RST | F_ACK);
	r.seq = 77;
	r.ack = 123456;
	mk(&in, &r);
	assert_int_equal(run_xdp(FX.xdp_wan, FX.wan_if[o.gw], &in, NULL), XDP_DROP);
	assert_true(fx_flow(&kout, &e));
	assert_int_equal(e.state, FLOW_STATE_NEW);
	r.ack = 1001;
	mk(&in, &r);
	assert_int_equal(run_xdp(FX.xdp_wan, FX.wan_if[o.gw], &in, NULL), XDP_REDIRECT);
	assert_true(fx_flow(&kout, &e));
	assert_int_equal(e.state, FLOW_STATE_CLOSED);
}

/*
 * A server still holding the tuple in TIME_WAIT answers a new SYN with an
 * ACK of the old connection; the client's RST to it (seq = that ACK's ack)
 * must reach the server, which then accepts the SYN's retransmission.
 */
static void test_tcp_rst_to_stale_ack_passes(void **state)
{
	struct pk syn = client_syn(40000), r, rst = client_syn(40000);
	struct flow_key kout = key_of(&syn);
	struct flow_entry e;
	struct opened o;
	struct frame in;

	(void)state;
	open_flow(&syn, &o);
	r = reply_to(&syn, o.gw, o.port, F_ACK);
	r.seq = 777777;
	r.ack = 987654321;
	mk(&in, &r);
	assert_int_equal(run_xdp(FX.xdp_wan, FX.wan_if[o.gw], &in, NULL), XDP_REDIRECT);
	assert_true(fx_flow(&kout, &e));
	assert_int_equal(e.state, FLOW_STATE_NEW);
	rst.flags = F_RST;
	rst.seq = 987654321;
	mk(&in, &rst);
	expect_xdp(FX.xdp_lan, FX.lan_if, &in, NULL, XDP_REDIRECT, HOOK_XDP_LAN, V_FWD_OUT);
}

static void lan_limit_4(struct xwan_settings *st) { st->src_limit[SRC_LAN] = 4; }

/* A LAN host may hold 4 unanswered flows; an answer refunds one; others are not limited. */
static void test_source_budget_of_unanswered_flows(void **state)
{
	struct opened o[4];
	struct pk p = client_syn(50000);
	struct frame in;

	(void)state;
	settings_edit(lan_limit_4);
	for (int i = 0; i < 4; i++)
		o[i] = try_open(CLIENT, (uint16_t)(50001 + i));
	p.sa = CLIENT;
	mk(&in, &p);
	expect_xdp(FX.xdp_lan, FX.lan_if, &in, NULL, XDP_DROP, HOOK_XDP_LAN, V_DROP_SRC_LIMIT);
	assert_int_equal(fx_event(EV_SRC_LIMITED), 1);
	try_open(CLIENT2, 50000);               /* another host: its own budget */
	{
		struct pk s1 = client_syn(50001), r, a;

		/* answer the first one */
		r = reply_to(&s1, o[0].gw, o[0].port, F_SYN | F_ACK);
		r.ack = 1001;
		mk(&in, &r);
		assert_int_equal(run_xdp(FX.xdp_wan, FX.wan_if[o[0].gw], &in, NULL), XDP_REDIRECT);
		a = s1;
		a.flags = F_ACK;
		a.seq = 1001;
		mk(&in, &a);
		assert_int_equal(run_xdp(FX.xdp_lan, FX.lan_if, &in, NULL), XDP_REDIRECT);
	}
	mk(&in, &p);
	expect_xdp(FX.xdp_lan, FX.lan_if, &in, NULL, XDP_REDIRECT, HOOK_XDP_LAN, V_FWD_OUT);
}

/* ============================================= issue 9: findings 9-11 */

#define SEC_NS 1000000000ULL

/* Rewrite a flow entry where it lives (the answered or the unanswered table). */
static void put_flow(const struct flow_key *k, const struct flow_entry *e)
{
	struct flow_entry old;
	int t = bpf_map_lookup_elem(FX.m->fd[XM_FLOWS], k, &old) == 0 ? XM_FLOWS : XM_FLOWS_NEW;

	assert_int_equal(bpf_map_update_elem(FX.m->fd[t], k, e, BPF_EXIST), 0);
}

/* Age both entries of a flow by `ns` on the dataplane's clock. */
static void age_flow(const struct flow_key *kout, uint64_t ns)
{
	struct flow_entry e;
	struct flow_key kin;

	assert_true(fx_flow(kout, &e));
	kin = e.peer;
	e.last_seen_ns -= ns;
	put_flow(kout, &e);
	assert_true(fx_flow(&kin, &e));
	e.last_seen_ns -= ns;
	put_flow(&kin, &e);
}

/* The settings a config without a `timeouts` section gives. */
static void use_default_timeouts(void)
{
	static const char cfg_text[] =
		"lan:\n  - interface: lan0\n    networks: [10.1.0.0/24]\n"
		"wan:\n  - {name: isp1, interface: wan1, gateway: 203.0.113.1, monitor: false}\n";
	struct xwan_config *cfg = calloc(1, sizeof(*cfg));
	char err[XWAN_ERR_MAX];

	assert_non_null(cfg);
	assert_int_equal(xwan_config_parse(cfg_text, sizeof(cfg_text) - 1, "t.yaml", cfg, err,
					   sizeof(err)), 0);
	set_timeout(TIMEOUT_TCP_ESTABLISHED, cfg->timeouts.tcp_established * SEC_NS);
	set_timeout(TIMEOUT_TCP_TRANSITORY, cfg->timeouts.tcp_transitory * SEC_NS);
	set_timeout(TIMEOUT_UDP, cfg->timeouts.udp * SEC_NS);
	set_timeout(TIMEOUT_ICMP, cfg->timeouts.icmp * SEC_NS);
	free(cfg);
}

/* The reply to a flow's first packet comes back translated. */
static void expect_reply_translated(const struct pk *p, const struct opened *o, uint8_t flags)
{
	struct pk r = reply_to(p, o->gw, o->port, flags);
	struct frame in, out;

	mk(&in, &r);
	expect_xdp(FX.xdp_wan, FX.wan_if[o->gw], &in, &out, XDP_REDIRECT, HOOK_XDP_WAN, V_FWD_IN);
}

/*
 * Finding 9: with the default timeouts a UDP flow idle 119 s (RFC 4787
 * REQ-5: at least 120 s), a half-open TCP flow idle 239 s (RFC 5382 REQ-5)
 * and an echo flow idle 59 s (RFC 5508 REQ-1) still translate their reply;
 * past the recommended 300 s the UDP flow is gone (control).
 */
static void test_default_timeouts_meet_rfcs(void **state)
{
	struct pk dg = client_udp(150, "q", 1), syn = client_syn(150);
	struct pk echo = client_echo(150, "e", 1), late = client_udp(151, "q", 1), r;
	struct flow_key k;
	struct opened ou, ot, oe, ol;
	struct frame in;

	(void)state;
	use_default_timeouts();
	open_flow(&dg, &ou);
	open_flow(&syn, &ot);
	open_flow(&echo, &oe);
	open_flow(&late, &ol);
	k = key_of(&dg);
	age_flow(&k, 119 * SEC_NS);
	k = key_of(&syn);
	age_flow(&k, 239 * SEC_NS);
	k = key_of(&echo);
	age_flow(&k, 59 * SEC_NS);
	k = key_of(&late);
	age_flow(&k, 301 * SEC_NS);

	expect_reply_translated(&dg, &ou, 0);
	expect_reply_translated(&syn, &ot, F_SYN | F_ACK);
	expect_reply_translated(&echo, &oe, 0);
	r = reply_to(&late, ol.gw, ol.port, 0);
	mk(&in, &r);
	/* Its socket's mapping was not aged: it keeps the port, filtered. */
	expect_xdp(FX.xdp_wan, FX.wan_if[ol.gw], &in, NULL, XDP_DROP, HOOK_XDP_WAN,
		   V_DROP_UNSOLICITED);
	/* Aged too, the port is nobody's: the host's, as before mappings. */
	assert_int_equal(fx_clear_hash(FX.m->fd[XM_NAT_MAPS]), 0);
	expect_xdp(FX.xdp_wan, FX.wan_if[ol.gw], &in, NULL, XDP_PASS, HOOK_XDP_WAN, V_PASS_LOCAL);
}

/*
 * Finding 11: another CPU refreshed the flow after this CPU read its clock,
 * so last_seen_ns is ahead of `now`. The flow is live: the next packet
 * uses it (no new flow, no new port), even though the silent reply
 * direction is long idle (a one-way stream).
 */
static void test_last_seen_ahead_of_now_is_live(void **state)
{
	struct pk dg = client_udp(152, "upload", 6);
	struct flow_key kout = key_of(&dg);
	struct flow_entry e, ei;
	struct opened o;
	struct frame in, out;

	(void)state;
	open_flow(&dg, &o);
	assert_true(fx_flow(&kout, &e));
	assert_true(fx_flow(&e.peer, &ei));
	ei.last_seen_ns -= 120 * SEC_NS;                /* UDP timeout here: 60 s */
	put_flow(&e.peer, &ei);
	e.last_seen_ns += SEC_NS;                       /* "the other CPU's" newer tick */
	put_flow(&kout, &e);

	mk(&in, &dg);
	expect_xdp(FX.xdp_lan, FX.lan_if, &in, &out, XDP_REDIRECT, HOOK_XDP_LAN, V_FWD_OUT);
	assert_true(fx_flow(&kout, &e));
	assert_int_equal(e.packets, 2);
	assert_int_equal(ntohs(e.xlate_port), o.port);
	assert_int_equal(fx_event(EV_FLOW_CREATED), 1);
	assert_int_equal(fx_event(EV_FLOW_REPLACED), 0);

	/* Control: the same flow with the tick in the past is dead and replaced. */
	e.last_seen_ns -= 2 * 120 * SEC_NS;
	put_flow(&kout, &e);
	expect_xdp(FX.xdp_lan, FX.lan_if, &in, &out, XDP_REDIRECT, HOOK_XDP_LAN, V_FWD_OUT);
	assert_int_equal(fx_event(EV_FLOW_CREATED), 2);
}

/* Finding 11: the host's own bytes out are counted to the byte, small packets too. */
static void test_host_session_counts_bytes(void **state)
{
	struct pk host = {
		.l2 = to_gw(0), .sa = WAN1_IP, .da = REMOTE, .proto = PROTO_UDP,
		.sp = 50100, .dp = 53, .pl = "0123456789", .n = 10,
	};
	struct flow_key kl = fkey(REMOTE, WAN1_IP, 53, 50100, PROTO_UDP);
	struct flow_entry e;
	struct frame in;

	(void)state;
	mk(&in, &host);
	for (int i = 0; i < 3; i++)
		assert_int_equal(run_tc(FX.tc_wan_out, FX.wan_if[0], 0, &in, NULL, NULL),
				 TC_ACT_OK);
	assert_true(fx_flow(&kl, &e));
	assert_int_equal(e.dir, FLOW_DIR_LOCAL);
	assert_int_equal(e.host_packets, 3);
	assert_int_equal(e.host_bytes, 3 * (20 + 8 + 10));
}

/* Finding 10: a fragment entry older than the reassembly time is not followed. */
static void test_fragment_entry_expires(void **state)
{
	uint8_t payload[40], l4[64];
	struct ip4_spec ip = {
		.saddr = CLIENT, .daddr = REMOTE, .proto = PROTO_UDP, .ttl = 64, .id = 0x7778,
	};
	struct frag_key fk = { .saddr = CLIENT, .daddr = REMOTE, .id = htons(0x7778),
			       .proto = PROTO_UDP };
	struct frag_entry fr;
	struct frame f1, f2;
	size_t n;

	(void)state;
	memset(payload, 0x5a, sizeof(payload));
	n = l4_udp(l4, CLIENT, REMOTE, 153, 5000, payload, sizeof(payload), false);
	ip.frag = IPF_MF;
	frame_ipv4(&f1, FX.lan_mac, MAC_CLIENT, &ip, l4, 16);
	ip.frag = 2;
	frame_ipv4(&f2, FX.lan_mac, MAC_CLIENT, &ip, l4 + 16, n - 16);
	expect_xdp(FX.xdp_lan, FX.lan_if, &f1, NULL, XDP_REDIRECT, HOOK_XDP_LAN, V_FWD_OUT);
	/* Control: in time, the later fragment follows. */
	expect_xdp(FX.xdp_lan, FX.lan_if, &f2, NULL, XDP_REDIRECT, HOOK_XDP_LAN, V_FWD_OUT);

	assert_int_equal(bpf_map_lookup_elem(FX.m->fd[XM_FRAGS], &fk, &fr), 0);
	fr.seen_ns -= 31 * SEC_NS;
	assert_int_equal(bpf_map_update_elem(FX.m->fd[XM_FRAGS], &fk, &fr, BPF_EXIST), 0);
	expect_xdp(FX.xdp_lan, FX.lan_if, &f2, NULL, XDP_PASS, HOOK_XDP_LAN,
		   V_PASS_FRAG_EARLY);
	assert_int_not_equal(bpf_map_lookup_elem(FX.m->fd[XM_FRAGS], &fk, &fr), 0);
}

/* ------------------------------------------ out-of-order fragments */

/* The fd of a dataplane map the loader does not list, by its name. */
static int dp_map_fd(const char *name)
{
	struct bpf_prog_info pi = {};
	__u32 ids[64], len = sizeof(pi);

	pi.nr_map_ids = 64;
	pi.map_ids = (__u64)(uintptr_t)ids;
	assert_int_equal(bpf_obj_get_info_by_fd(FX.tc_lan_in, &pi, &len), 0);
	for (__u32 i = 0; i < pi.nr_map_ids && i < 64; i++) {
		struct bpf_map_info mi = {};
		__u32 mlen = sizeof(mi);
		int fd = bpf_map_get_fd_by_id(ids[i]);

		if (fd < 0)
			continue;
		if (!bpf_obj_get_info_by_fd(fd, &mi, &mlen) && !strcmp(mi.name, name))
			return fd;
		close(fd);
	}
	fail_msg("no map %s", name);
	return -1;
}

/* A packet socket on ifindex: sees what tc re-injects into its ingress. */
static int cap_open(int ifindex)
{
	struct sockaddr_ll sa = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL),
				  .sll_ifindex = ifindex };
	int fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK, htons(ETH_P_ALL));

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

/* The next IPv4 frame that came in (not one the kernel sent), within 2 s. */
static bool cap_next(int fd, struct frame *f)
{
	for (int tries = 0; tries < 200; tries++) {
		struct sockaddr_ll from;
		socklen_t fl = sizeof(from);
		ssize_t n = recvfrom(fd, f->d, sizeof(f->d), 0, (struct sockaddr *)&from, &fl);

		if (n < 0) {
			usleep(10000);
			continue;
		}
		if (from.sll_pkttype == PACKET_OUTGOING || from.sll_protocol != htons(ETH_P_IP))
			continue;
		f->len = (size_t)n;
		return true;
	}
	return false;
}

/*
 * A datagram cut into three fragments of `unit` 8-byte units each but the
 * last: f[0] is the first.
 */
static void cut3(struct frame f[3], const uint8_t *dst, const uint8_t *src,
		 struct ip4_spec ip, const uint8_t *l4, size_t n, size_t unit)
{
	size_t a = unit * 8;

	ip.frag = IPF_MF;
	frame_ipv4(&f[0], dst, src, &ip, l4, a);
	ip.frag = (uint16_t)(IPF_MF | unit);
	frame_ipv4(&f[1], dst, src, &ip, l4 + a, a);
	ip.frag = (uint16_t)(2 * unit);
	frame_ipv4(&f[2], dst, src, &ip, l4 + 2 * a, n - 2 * a);
}

/*
 * Finding 10, RFC 4787 REQ-14: the later fragments of a datagram from the
 * LAN arrive first, last one first. Held by tc, re-injected behind the first
 * fragment when it comes; on their second pass all three are marked for the
 * flow's WAN and leave translated, the datagram whole (its UDP checksum,
 * over all three, right for the translated addresses). Today's code dropped
 * the two that came first (fragment_without_flow).
 */
static void test_fragments_out_of_order_from_lan(void **state)
{
	uint8_t payload[100], l4[200], l4x[200];
	struct ip4_spec ip = {
		.saddr = CLIENT, .daddr = REMOTE, .proto = PROTO_UDP, .ttl = 64, .id = 0x6a6a,
	};
	struct flow_key k = fkey(CLIENT, REMOTE, 160, 5000, PROTO_UDP);
	struct frame in[3], got[3], out, exp[3];
	struct flow_entry e;
	uint32_t mark, want;
	size_t n;
	int cap, gw;

	(void)state;
	for (size_t i = 0; i < sizeof(payload); i++)
		payload[i] = (uint8_t)(i * 11 + 5);
	n = l4_udp(l4, CLIENT, REMOTE, 160, 5000, payload, sizeof(payload), false);
	cut3(in, FX.lan_mac, MAC_CLIENT, ip, l4, n, 5);
	cap = cap_open(FX.lan_if);

	for (int i = 2; i >= 1; i--) {
		expect_xdp(FX.xdp_lan, FX.lan_if, &in[i], NULL, XDP_PASS, HOOK_XDP_LAN,
			   V_PASS_FRAG_EARLY);
		expect_tc(FX.tc_lan_in, FX.lan_if, 0, &in[i], NULL, NULL, TC_ACT_SHOT,
			  HOOK_TC_LAN_IN, V_HOLD_FRAG);
	}
	assert_int_equal(fx_event(EV_FRAG_HELD), 2);
	/* The first: XDP opens the flow and leaves the rest to tc. */
	expect_xdp(FX.xdp_lan, FX.lan_if, &in[0], NULL, XDP_PASS, HOOK_XDP_LAN, V_PASS_FRAG_HELD);
	assert_true(fx_flow(&k, &e));
	gw = e.gw;
	expect_tc(FX.tc_lan_in, FX.lan_if, 0, &in[0], NULL, NULL, TC_ACT_SHOT, HOOK_TC_LAN_IN,
		  V_HOLD_RELEASED);
	assert_int_equal(fx_event(EV_FRAG_RELEASED), 2);

	/* Re-injected in datagram order: first, then the held ones as they came. */
	for (int i = 0; i < 3; i++)
		assert_true(cap_next(cap, &got[i]));
	close(cap);
	expect_frame(&got[0], &in[0]);
	expect_frame(&got[1], &in[2]);
	expect_frame(&got[2], &in[1]);

	/* Their second pass, as the kernel runs it: tc_lan_ingress, then tc_wan_egress. */
	n = l4_udp(l4x, FX.nat_addr[gw], REMOTE, ntohs(e.xlate_port), 5000, payload,
		   sizeof(payload), false);
	ip.saddr = FX.nat_addr[gw];
	cut3(exp, FX.lan_mac, MAC_CLIENT, ip, l4x, n, 5);
	want = xwan_gw_fwmark(FX.fwmark_mask, gw);
	for (int i = 0; i < 3; i++) {
		int j = i == 0 ? 0 : 3 - i;

		expect_tc(FX.tc_lan_in, FX.lan_if, 0, &got[i], NULL, &mark, TC_ACT_OK,
			  HOOK_TC_LAN_IN, V_FWD_VIA_KERNEL);
		assert_int_equal(mark & FX.fwmark_mask, want);
		expect_tc(FX.tc_wan_out, FX.wan_if[gw], mark, &got[i], &out, NULL, TC_ACT_OK,
			  HOOK_TC_WAN_OUT, V_FWD_OUT);
		expect_frame(&out, &exp[j]);
	}
	assert_true(fx_flow(&k, &e));
	assert_int_equal(fx_verdict(HOOK_TC_LAN_IN, V_DROP_FRAG_UNKNOWN), 0);
}

/* The same from the WAN: a reply's later fragment first, to a live flow. */
static void test_fragments_out_of_order_from_wan(void **state)
{
	static const char q[] = "send me a big answer";
	struct pk dg = client_udp(161, q, sizeof(q));
	uint8_t payload[100], l4[200];
	struct ip4_spec ip = { .saddr = REMOTE, .proto = PROTO_UDP, .ttl = 64, .id = 0x6b6b };
	struct frame in[3], got[3], out, exp[3];
	struct opened o;
	size_t n;
	int cap;

	(void)state;
	open_flow(&dg, &o);
	for (size_t i = 0; i < sizeof(payload); i++)
		payload[i] = (uint8_t)(i * 3 + 7);
	n = l4_udp(l4, REMOTE, FX.nat_addr[o.gw], 53, o.port, payload, sizeof(payload), false);
	ip.daddr = FX.nat_addr[o.gw];
	cut3(in, FX.wan_mac[o.gw], MAC_GW[o.gw], ip, l4, n, 4);
	cap = cap_open(FX.wan_if[o.gw]);

	expect_xdp(FX.xdp_wan, FX.wan_if[o.gw], &in[1], NULL, XDP_PASS, HOOK_XDP_WAN,
		   V_PASS_FRAG_EARLY);
	expect_tc(FX.tc_wan_in, FX.wan_if[o.gw], 0, &in[1], NULL, NULL, TC_ACT_SHOT,
		  HOOK_TC_WAN_IN, V_HOLD_FRAG);
	expect_xdp(FX.xdp_wan, FX.wan_if[o.gw], &in[0], NULL, XDP_PASS, HOOK_XDP_WAN,
		   V_PASS_FRAG_HELD);
	expect_tc(FX.tc_wan_in, FX.wan_if[o.gw], 0, &in[0], NULL, NULL, TC_ACT_SHOT,
		  HOOK_TC_WAN_IN, V_HOLD_RELEASED);
	for (int i = 0; i < 2; i++)
		assert_true(cap_next(cap, &got[i]));
	close(cap);
	expect_frame(&got[0], &in[0]);
	expect_frame(&got[1], &in[1]);
	/* The last came in order: XDP translates it, as any later fragment. */
	expect_xdp(FX.xdp_wan, FX.wan_if[o.gw], &in[2], NULL, XDP_REDIRECT, HOOK_XDP_WAN,
		   V_FWD_IN);

	n = l4_udp(l4, REMOTE, CLIENT, 53, 161, payload, sizeof(payload), false);
	ip.daddr = CLIENT;
	cut3(exp, FX.wan_mac[o.gw], MAC_GW[o.gw], ip, l4, n, 4);
	for (int i = 0; i < 2; i++) {
		expect_tc(FX.tc_wan_in, FX.wan_if[o.gw], 0, &got[i], &out, NULL, TC_ACT_OK,
			  HOOK_TC_WAN_IN, V_FWD_VIA_KERNEL);
		expect_frame(&out, &exp[i]);
	}
	assert_int_equal(fx_event(EV_FRAG_RELEASED), 1);
	assert_int_equal(fx_verdict(HOOK_TC_WAN_IN, V_DROP_UNSOLICITED), 0);
}

/* A held fragment older than the reassembly time is not released. */
static void test_held_fragment_expires(void **state)
{
	uint8_t payload[60], l4[100];
	struct ip4_spec ip = {
		.saddr = CLIENT, .daddr = REMOTE, .proto = PROTO_UDP, .ttl = 64, .id = 0x6c6c,
	};
	struct frag_hold_key hk = { .fk = { .saddr = CLIENT, .daddr = REMOTE,
					    .id = htons(0x6c6c), .proto = PROTO_UDP } };
	static struct frag_held h;
	struct frame in[3];
	int fd = dp_map_fd("frag_hold");
	size_t n;

	(void)state;
	memset(payload, 0x3c, sizeof(payload));
	n = l4_udp(l4, CLIENT, REMOTE, 162, 5000, payload, sizeof(payload), false);
	cut3(in, FX.lan_mac, MAC_CLIENT, ip, l4, n, 3);
	expect_tc(FX.tc_lan_in, FX.lan_if, 0, &in[2], NULL, NULL, TC_ACT_SHOT, HOOK_TC_LAN_IN,
		  V_HOLD_FRAG);
	assert_int_equal(bpf_map_lookup_elem(fd, &hk, &h), 0);
	h.seen_ns -= 31 * SEC_NS;
	assert_int_equal(bpf_map_update_elem(fd, &hk, &h, BPF_EXIST), 0);
	/* Nothing left to release: the first fragment goes on at once. */
	expect_xdp(FX.xdp_lan, FX.lan_if, &in[0], NULL, XDP_REDIRECT, HOOK_XDP_LAN, V_FWD_OUT);
	assert_int_equal(fx_event(EV_FRAG_HOLD_EXPIRED), 1);
	assert_int_not_equal(bpf_map_lookup_elem(fd, &hk, &h), 0);
	assert_int_equal(fx_event(EV_FRAG_RELEASED), 0);
	close(fd);
}

/* ============================================================== main */

/* ================================= L3 devices and XDP transmit paths */

/*
 * An L3 device (ppp, raw-IP wwan, wg, tun) hands tc the IP header first.
 * The lab kernel has none of them but tun, and BPF_PROG_TEST_RUN always
 * starts a tc packet at its "Ethernet" header: the packet here is the IP
 * datagram alone, on an interface the ifaces map says has no link header,
 * exactly as the loader records a tun or ppp device.
 */
static void set_l2_len(int ifindex, uint8_t l2_len)
{
	struct iface_info i;
	uint32_t k = (uint32_t)ifindex;

	assert_int_equal(bpf_map_lookup_elem(FX.m->fd[XM_IFACES], &k, &i), 0);
	i.l2_len = l2_len;
	assert_int_equal(bpf_map_update_elem(FX.m->fd[XM_IFACES], &k, &i, BPF_ANY), 0);
}

/* The packet as an L3 device carries it: no Ethernet header. */
static void mk_l3(struct frame *f, const struct pk *p)
{
	mk(f, p);
	memmove(f->d, f->d + ETH_LEN, f->len - ETH_LEN);
	f->len -= ETH_LEN;
}

static void expect_bytes(const struct frame *got, const struct frame *want)
{
	if (got->len != want->len || memcmp(got->d, want->d, want->len)) {
		dump_frames(got, want);
		fail_msg("the packet differs from the one built from scratch");
	}
}

/* 17a. Marked LAN packets leave an L3 WAN source-translated (tc egress). */
static void test_l3_wan_egress_snat(void **state)
{
	struct pk syn = client_syn(801), p, exp;
	struct frame in, out, want;
	struct opened o;

	(void)state;
	open_flow(&syn, &o);
	set_l2_len(FX.wan_if[o.gw], 0);
	p = routed(syn, o.gw);
	p.flags = F_ACK | F_PSH;
	p.pl = "through a point-to-point WAN";
	p.n = 28;
	mk_l3(&in, &p);
	expect_tc(FX.tc_wan_out, FX.wan_if[o.gw], xwan_gw_fwmark(FX.fwmark_mask, o.gw), &in, &out,
		  NULL, TC_ACT_OK, HOOK_TC_WAN_OUT, V_FWD_OUT);
	exp = p;
	exp.sa = FX.nat_addr[o.gw];
	exp.sp = o.port;
	mk_l3(&want, &exp);
	expect_bytes(&out, &want);
}

/* 17b. Replies arriving on an L3 WAN are destination-translated (tc ingress). */
static void test_l3_wan_ingress_dnat(void **state)
{
	struct pk syn = client_syn(802), r, exp;
	struct frame in, out, want;
	struct opened o;

	(void)state;
	open_flow(&syn, &o);
	set_l2_len(FX.wan_if[o.gw], 0);
	r = reply_to(&syn, o.gw, o.port, F_SYN | F_ACK);
	mk_l3(&in, &r);
	expect_tc(FX.tc_wan_in, FX.wan_if[o.gw], 0, &in, &out, NULL, TC_ACT_OK, HOOK_TC_WAN_IN,
		  V_FWD_VIA_KERNEL);
	exp = r;
	exp.da = CLIENT;
	exp.dp = 802;
	mk_l3(&want, &exp);
	expect_bytes(&out, &want);
}

/* 17c. Without an Ethernet type, the IP version tells IPv6 from IPv4. */
static void test_l3_ipv6_left_to_kernel(void **state)
{
	struct frame in = { .len = 60 }, out;

	(void)state;
	set_l2_len(FX.wan_if[0], 0);
	in.d[0] = 0x60;             /* version 6 */
	in.d[5] = 20;               /* payload length */
	in.d[6] = 6;                /* next header: TCP */
	in.d[7] = 64;
	expect_tc(FX.tc_wan_in, FX.wan_if[0], 0, &in, &out, NULL, TC_ACT_OK, HOOK_TC_WAN_IN,
		  V_PASS_NOT_IPV4);
	expect_untouched(&out, &in);
	/* The same bytes on an Ethernet WAN are a runt Ethernet frame of no IPv4 type. */
	set_l2_len(FX.wan_if[0], ETH_LEN);
	expect_tc(FX.tc_wan_in, FX.wan_if[0], 0, &in, NULL, NULL, TC_ACT_OK, HOOK_TC_WAN_IN,
		  V_PASS_NOT_IPV4);
}

/* 17d. An L3 LAN (wg0 as LAN): tc opens the flow and marks it; its reply
 * entry has no MAC to rewrite toward. */
static void test_l3_lan_ingress_opens_and_marks(void **state)
{
	struct pk syn = client_syn(803);
	struct flow_key k = key_of(&syn);
	struct flow_entry e, ei;
	struct frame in, out;
	uint32_t mark = 0;
	static const uint8_t zero[6];

	(void)state;
	set_l2_len(FX.lan_if, 0);
	mk_l3(&in, &syn);
	expect_tc(FX.tc_lan_in, FX.lan_if, 0, &in, &out, &mark, TC_ACT_OK, HOOK_TC_LAN_IN,
		  V_FWD_VIA_KERNEL);
	expect_untouched(&out, &in);
	assert_true(fx_flow(&k, &e));
	assert_int_equal(mark & FX.fwmark_mask, xwan_gw_fwmark(FX.fwmark_mask, e.gw));
	assert_true(fx_flow(&e.peer, &ei));
	assert_memory_equal(ei.l2_dst, zero, 6);
}

/* 17e. The same datagram read as Ethernet (wrong l2_len) is not translated:
 * the property of the interface is what decides, not a guess. */
static void test_l3_length_is_the_interfaces(void **state)
{
	struct pk syn = client_syn(804), p;
	struct opened o;
	struct frame in;

	(void)state;
	open_flow(&syn, &o);
	p = routed(syn, o.gw);
	p.flags = F_ACK;
	mk_l3(&in, &p);
	/* Left at 14: bytes 12-13 (the IP source) are no IPv4 ethertype. */
	expect_tc(FX.tc_wan_out, FX.wan_if[o.gw], xwan_gw_fwmark(FX.fwmark_mask, o.gw), &in, NULL,
		  NULL, TC_ACT_OK, HOOK_TC_WAN_OUT, V_PASS_NOT_IPV4);
}

/* 17f. Into a device XDP cannot transmit into (a bridge, Wi-Fi...), XDP
 * hands the packet over untouched and tc marks it with its flow. */
static void test_xdp_kernel_path_without_xdp_transmit(void **state)
{
	struct pk syn = client_syn(805), r;
	struct flow_key k = key_of(&syn);
	struct frame in, out;
	struct flow_entry e;
	uint32_t mark = 0;

	(void)state;
	assert_int_equal(fx_tx_paths(XDP_TX_KERNEL), 0);
	mk(&in, &syn);
	expect_xdp(FX.xdp_lan, FX.lan_if, &in, &out, XDP_PASS, HOOK_XDP_LAN, V_PASS_NO_XDP_TX);
	expect_untouched(&out, &in);
	assert_true(fx_flow(&k, &e));       /* the flow is XDP's; the kernel sends it */
	/* XDP made the flow, tc accounts the packet: once. */
	assert_int_equal(e.packets, 0);
	assert_int_equal(e.bytes, 0);
	expect_tc(FX.tc_lan_in, FX.lan_if, 0, &in, NULL, &mark, TC_ACT_OK, HOOK_TC_LAN_IN,
		  V_FWD_VIA_KERNEL);
	assert_int_equal(mark & FX.fwmark_mask, xwan_gw_fwmark(FX.fwmark_mask, e.gw));
	assert_true(fx_flow(&k, &e));
	assert_int_equal(e.packets, 1);
	assert_int_equal(e.bytes, 40);

	r = reply_to(&syn, e.gw, ntohs(e.xlate_port), F_SYN | F_ACK);
	mk(&in, &r);
	expect_xdp(FX.xdp_wan, FX.wan_if[e.gw], &in, &out, XDP_PASS, HOOK_XDP_WAN,
		   V_PASS_NO_XDP_TX);
	expect_untouched(&out, &in);
	/* Control: with the redirect allowed, the same reply is forwarded by XDP. */
	assert_int_equal(fx_tx_paths(XDP_TX_REDIRECT), 0);
	expect_xdp(FX.xdp_wan, FX.wan_if[e.gw], &in, NULL, XDP_REDIRECT, HOOK_XDP_WAN, V_FWD_IN);
}

/* ====================================== nothing leaves un-NATed (issue 9) */

/*
 * Every test here fails on the dataplane before it: findings 5-8 and 11 of
 * issue 9 (protocols without ports, ICMP errors from the LAN and the
 * kernel's, traceroute's hop 1, the host's port, the LAN-side addresses).
 */

#define PROTO_ESP 50

/* A LAN host's packet of a protocol without ports (GRE, ESP...). */
static struct pk client_addr_only(uint32_t sa, uint8_t proto)
{
	static const char body[] = "\0\0\x08\0 a tunnel's payload";
	struct pk p = {
		.l2 = from_client(), .sa = sa, .da = REMOTE, .proto = proto,
		.pl = body, .n = sizeof(body),
	};

	return p;
}

/* Out with the WAN's address, the same bytes otherwise; the reply back to the host. */
static int addr_only_round_trip(const struct pk *p)
{
	struct flow_key k = fkey(p->sa, p->da, 0, 0, p->proto);
	struct pk exp, r;
	struct flow_entry e;
	struct frame in, out;

	mk(&in, p);
	expect_xdp(FX.xdp_lan, FX.lan_if, &in, &out, XDP_REDIRECT, HOOK_XDP_LAN, V_FWD_OUT);
	assert_true(fx_flow(&k, &e));
	exp = *p;
	exp.l2 = to_gw(e.gw);
	exp.sa = FX.nat_addr[e.gw];
	exp.ttl = 63;
	expect_pk(&out, &exp);

	r = *p;
	r.l2 = from_gw(e.gw);
	r.sa = REMOTE;
	r.da = FX.nat_addr[e.gw];
	mk(&in, &r);
	expect_xdp(FX.xdp_wan, FX.wan_if[e.gw], &in, &out, XDP_REDIRECT, HOOK_XDP_WAN, V_FWD_IN);
	exp = r;
	exp.l2 = to_client();
	exp.da = p->sa;
	exp.ttl = 63;
	expect_pk(&out, &exp);
	return e.gw;
}

/* 5a. GRE and ESP from a LAN host leave from a WAN address, replies come back. */
static void test_gre_and_esp_natted_by_address(void **state)
{
	struct pk gre = client_addr_only(CLIENT, PROTO_GRE), esp = client_addr_only(CLIENT, PROTO_ESP);
	struct pk frag;
	struct frame in, out;
	int gw;

	(void)state;
	addr_only_round_trip(&gre);
	gw = addr_only_round_trip(&esp);
	/* Any fragment carries the whole key: a later one needs no first. */
	frag = esp;
	frag.frag = 8;
	frag.id = 0x7777;
	mk(&in, &frag);
	expect_xdp(FX.xdp_lan, FX.lan_if, &in, &out, XDP_REDIRECT, HOOK_XDP_LAN, V_FWD_OUT);
	frag.l2 = to_gw(gw);
	frag.sa = FX.nat_addr[gw];
	frag.ttl = 63;
	expect_pk(&out, &frag);
}

/* 5b. One LAN host per remote and protocol per WAN address: a third is refused. */
static void test_addr_only_one_host_per_remote_and_wan(void **state)
{
	struct pk a = client_addr_only(CLIENT, PROTO_GRE), b = client_addr_only(CLIENT2, PROTO_GRE);
	struct pk c = client_addr_only(CLIENT3, PROTO_GRE), esp = client_addr_only(CLIENT3, PROTO_ESP);
	struct frame in;
	int ga, gb;

	(void)state;
	ga = addr_only_round_trip(&a);
	gb = addr_only_round_trip(&b);
	assert_int_not_equal(ga, gb);           /* the second took the other WAN */
	mk(&in, &c);
	expect_xdp(FX.xdp_lan, FX.lan_if, &in, NULL, XDP_DROP, HOOK_XDP_LAN,
		   V_DROP_ADDR_ONLY_TAKEN);
	/* Another protocol to the same remote is free. */
	addr_only_round_trip(&esp);
	/* The first two still get their own replies (round trips above, again). */
	addr_only_round_trip(&a);
	addr_only_round_trip(&b);
}

/* 5c. ICMP timestamp requests: identifier translated like echo's, reply back. */
static void test_icmp_timestamp_id_translated(void **state)
{
	uint8_t ts[12] = { 0, 0, 0, 1 };
	struct pk q = {
		.l2 = from_client(), .sa = CLIENT, .da = REMOTE, .proto = PROTO_ICMP,
		.type = 13, .rest = 0x1234u << 16 | 1, .pl = ts, .n = sizeof(ts),
	};
	struct flow_key k = fkey(CLIENT, REMOTE, 0x1234, 0, PROTO_ICMP);
	struct pk exp, r;
	struct flow_entry e;
	struct frame in, out;
	uint16_t id;

	(void)state;
	mk(&in, &q);
	expect_xdp(FX.xdp_lan, FX.lan_if, &in, &out, XDP_REDIRECT, HOOK_XDP_LAN, V_FWD_OUT);
	assert_true(fx_flow(&k, &e));
	id = ntohs(e.xlate_port);
	exp = q;
	exp.l2 = to_gw(e.gw);
	exp.sa = FX.nat_addr[e.gw];
	exp.rest = (uint32_t)id << 16 | 1;
	exp.ttl = 63;
	expect_pk(&out, &exp);

	r = exp;
	r.l2 = from_gw(e.gw);
	r.sa = REMOTE;
	r.da = FX.nat_addr[e.gw];
	r.type = 14;
	r.ttl = 64;
	mk(&in, &r);
	expect_xdp(FX.xdp_wan, FX.wan_if[e.gw], &in, &out, XDP_REDIRECT, HOOK_XDP_WAN, V_FWD_IN);
	exp = r;
	exp.l2 = to_client();
	exp.da = CLIENT;
	exp.rest = q.rest;
	exp.ttl = 63;
	expect_pk(&out, &exp);
}

/*
 * 5d. What xwan did not translate never leaves a WAN from a LAN-side
 * source: an ICMP type it has no flow for, the host's own LAN address.
 * A WAN address's packets still go.
 */
static void test_untranslated_lan_source_dropped(void **state)
{
	struct pk p = client_echo(5, "x", 1), host;
	struct frame in, out;

	(void)state;
	p = routed(p, 0);
	p.type = 42;                    /* extended echo: not translated */
	mk(&in, &p);
	expect_tc(FX.tc_wan_out, FX.wan_if[0], 0, &in, NULL, NULL, TC_ACT_SHOT, HOOK_TC_WAN_OUT,
		  V_DROP_UNTRANSLATED);
	host = p;
	host.sa = LAN_HOST;
	mk(&in, &host);
	expect_tc(FX.tc_wan_out, FX.wan_if[0], 0, &in, NULL, NULL, TC_ACT_SHOT, HOOK_TC_WAN_OUT,
		  V_DROP_UNTRANSLATED);
	host.sa = WAN1_IP;
	mk(&in, &host);
	expect_tc(FX.tc_wan_out, FX.wan_if[0], 0, &in, &out, NULL, TC_ACT_OK, HOOK_TC_WAN_OUT,
		  V_PASS_NOT_XWAN);
	expect_untouched(&out, &in);
}

/* A LAN host's port unreachable about the reply to dg (flow o). */
static void client_error_about_reply(struct frame *f, const struct pk *dg,
				     const struct opened *o, uint32_t sa)
{
	struct pk r = reply_to(dg, o->gw, o->port, 0), err;
	struct frame in, quoted;

	r.pl = "answer";
	r.n = 6;
	mk(&in, &r);
	assert_int_equal(run_xdp(FX.xdp_wan, FX.wan_if[o->gw], &in, &quoted), XDP_REDIRECT);
	err = (struct pk){
		.l2 = from_client(), .sa = sa, .da = REMOTE, .proto = PROTO_ICMP,
		.type = ICMPT_UNREACH, .code = 3, .pl = quoted.d + ETH_LEN,
		.n = quoted.len - ETH_LEN,
	};
	mk(f, &err);
}

static void drop_icmp_from_client(void)
{
	struct policy_rule r = {
		.src_addr = { CLIENT }, .src_mask = { 0xffffffff }, .proto = PROTO_ICMP,
		.dport_min = 0, .dport_max = 65535, .action = RULE_ACTION_DROP,
		.family = RULE_FAMILY_IPV4,
	};
	struct xwan_settings st;
	uint32_t k = 0;

	assert_int_equal(bpf_map_update_elem(FX.m->fd[XM_RULES], &k, &r, BPF_ANY), 0);
	assert_int_equal(bpf_map_lookup_elem(FX.m->fd[XM_SETTINGS], &k, &st), 0);
	st.rules_sel = 1;                       /* bank 0, one rule */
	assert_int_equal(bpf_map_update_elem(FX.m->fd[XM_SETTINGS], &k, &st, BPF_ANY), 0);
}

/* 6. A LAN host's ICMP error passes anti-spoofing and the drop rules, in XDP and tc. */
static void test_lan_icmp_error_spoofed_or_ruled_dropped(void **state)
{
	struct pk dg = client_udp(141, "q", 1);
	struct opened o;
	struct frame in;

	(void)state;
	open_flow(&dg, &o);
	client_error_about_reply(&in, &dg, &o, SPOOFED);
	expect_xdp(FX.xdp_lan, FX.lan_if, &in, NULL, XDP_DROP, HOOK_XDP_LAN, V_DROP_SPOOFED);
	expect_tc(FX.tc_lan_in, FX.lan_if, 0, &in, NULL, NULL, TC_ACT_SHOT, HOOK_TC_LAN_IN,
		  V_DROP_SPOOFED);
	/* Control: from the host's own address it goes out. */
	client_error_about_reply(&in, &dg, &o, CLIENT);
	expect_xdp(FX.xdp_lan, FX.lan_if, &in, NULL, XDP_REDIRECT, HOOK_XDP_LAN,
		   V_FWD_ICMP_ERROR);
	drop_icmp_from_client();
	expect_xdp(FX.xdp_lan, FX.lan_if, &in, NULL, XDP_DROP, HOOK_XDP_LAN, V_DROP_POLICY);
	expect_tc(FX.tc_lan_in, FX.lan_if, 0, &in, NULL, NULL, TC_ACT_SHOT, HOOK_TC_LAN_IN,
		  V_DROP_POLICY);
}

/*
 * The kernel's ICMP error about `seen`, a WAN packet after tc_wan_ingress's
 * DNAT: from the host's WAN address to the remote, quoting it.
 */
static void kernel_error_about(struct frame *f, int gw, uint8_t type, uint8_t code,
			       uint32_t rest, const struct frame *quoted)
{
	struct pk e = {
		.l2 = to_gw(gw), .sa = FX.nat_addr[gw], .da = REMOTE, .proto = PROTO_ICMP,
		.type = type, .code = code, .rest = rest,
		.pl = quoted->d + ETH_LEN, .n = quoted->len - ETH_LEN,
	};

	mk(f, &e);
}

/* DNAT a WAN packet by tc; then the kernel's error about it leaves quoting the public side. */
static void kernel_error_round_trip(const struct frame *wan_in, int gw, uint8_t type,
				    uint8_t code, uint32_t rest)
{
	struct frame dnat, in, out, exp;

	assert_int_equal(run_tc(FX.tc_wan_in, FX.wan_if[gw], 0, wan_in, &dnat, NULL), TC_ACT_OK);
	assert_int_not_equal(memcmp(dnat.d, wan_in->d, wan_in->len), 0);
	kernel_error_about(&in, gw, type, code, rest, &dnat);
	expect_tc(FX.tc_wan_out, FX.wan_if[gw], 0, &in, &out, NULL, TC_ACT_OK, HOOK_TC_WAN_OUT,
		  V_FWD_ICMP_ERROR);
	kernel_error_about(&exp, gw, type, code, rest, wan_in);
	expect_frame(&out, &exp);
}

/* 7a. TTL 1 toward a port forward: Time Exceeded quotes the public tuple. */
static void test_kernel_time_exceeded_about_port_forward(void **state)
{
	struct port_fwd_key k = { .addr = FX.nat_addr[0], .port = htons(2222),
				  .proto = PROTO_TCP };
	struct port_fwd v = { .to_addr = CLIENT, .to_port = htons(22), .gw = 0 };
	struct pk syn = {
		.l2 = from_gw(0), .sa = REMOTE, .da = FX.nat_addr[0], .proto = PROTO_TCP,
		.sp = 5555, .dp = 2222, .flags = F_SYN, .ttl = 1,
	};
	struct frame in;

	(void)state;
	assert_int_equal(bpf_map_update_elem(FX.m->fd[XM_PORT_FWDS], &k, &v, BPF_ANY), 0);
	mk(&in, &syn);
	kernel_error_round_trip(&in, 0, ICMPT_TIMXCEED, 0, 0);
	assert_int_equal(bpf_map_delete_elem(FX.m->fd[XM_PORT_FWDS], &k), 0);
}

/* 7b. A reply too big for the LAN's MTU: Fragmentation Needed quotes the NAT tuple. */
static void test_kernel_frag_needed_about_reply(void **state)
{
	static char big[1400];
	struct pk dg = client_udp(142, "q", 1), r;
	struct opened o;
	struct frame in;

	(void)state;
	open_flow(&dg, &o);
	r = reply_to(&dg, o.gw, o.port, 0);
	r.pl = big;
	r.n = sizeof(big);
	r.frag = IPF_DF;
	mk(&in, &r);
	kernel_error_round_trip(&in, o.gw, ICMPT_UNREACH, ICMPC_FRAG_NEEDED, 1280);
}

/*
 * 8. A LAN packet with TTL 1 opens its flow and is marked for its WAN, so
 * the kernel routes it by the WAN's table and answers Time Exceeded even
 * without a default route in its main table.
 */
static void test_ttl_1_marked_for_its_flows_wan(void **state)
{
	struct pk p = client_udp(33434, "probe", 5);
	struct flow_key k = key_of(&p);
	struct flow_entry e;
	struct frame in, out;
	uint32_t mark = 0;

	(void)state;
	p.ttl = 1;
	mk(&in, &p);
	expect_xdp(FX.xdp_lan, FX.lan_if, &in, NULL, XDP_PASS, HOOK_XDP_LAN, V_PASS_TTL);
	expect_tc(FX.tc_lan_in, FX.lan_if, 0, &in, &out, &mark, TC_ACT_OK, HOOK_TC_LAN_IN,
		  V_PASS_TTL);
	expect_untouched(&out, &in);
	assert_true(fx_flow(&k, &e));
	assert_int_equal(mark, xwan_gw_fwmark(FX.fwmark_mask, e.gw));
	assert_int_equal(e.packets, 0);         /* the kernel's to answer, not the flow's */
}

/* 11a. The host's socket on a LAN flow's port toward the same remote gets its replies. */
static void test_host_socket_on_lan_flows_port_wins(void **state)
{
	struct pk syn = client_syn(50200), host, r;
	struct opened o;
	struct flow_entry e;
	struct frame in, out;

	(void)state;
	open_flow(&syn, &o);
	host = (struct pk){
		.l2 = to_gw(o.gw), .sa = FX.nat_addr[o.gw], .da = REMOTE, .proto = PROTO_TCP,
		.sp = o.port, .dp = 443, .flags = F_SYN,
	};
	mk(&in, &host);
	expect_tc(FX.tc_wan_out, FX.wan_if[o.gw], 0, &in, &out, NULL, TC_ACT_OK,
		  HOOK_TC_WAN_OUT, V_PASS_FROM_HOST);
	assert_int_equal(fx_event(EV_HOST_PORT_CONFLICT), 1);
	assert_true(fx_flow(&o.out_e.peer, &e));
	assert_int_equal(e.dir, FLOW_DIR_LOCAL);
	r = reply_to(&syn, o.gw, o.port, F_SYN | F_ACK);
	mk(&in, &r);
	expect_xdp(FX.xdp_wan, FX.wan_if[o.gw], &in, &out, XDP_PASS, HOOK_XDP_WAN, V_PASS_LOCAL);
	expect_untouched(&out, &in);
	/* The LAN connection lost its flow; a new one gets another port. */
	syn.flags = F_ACK;
	mk(&in, &syn);
	expect_xdp(FX.xdp_lan, FX.lan_if, &in, NULL, XDP_DROP, HOOK_XDP_LAN, V_DROP_NOT_NEW);
	syn.flags = F_SYN;
	syn.seq = 99999;
	mk(&in, &syn);
	expect_xdp(FX.xdp_lan, FX.lan_if, &in, &out, XDP_REDIRECT, HOOK_XDP_LAN, V_FWD_OUT);
	assert_int_not_equal(rd16(out.d + ETH_LEN + 20), o.port);
}

/* 11b. WAN packets to the host's LAN-side addresses are dropped, not the host's. */
static void test_wan_to_lan_side_address_dropped(void **state)
{
	struct pk p = {
		.l2 = from_gw(0), .sa = REMOTE, .da = LAN_HOST, .proto = PROTO_TCP,
		.sp = 40000, .dp = 22, .flags = F_SYN,
	};
	struct frame in, out;

	(void)state;
	mk(&in, &p);
	expect_xdp(FX.xdp_wan, FX.wan_if[0], &in, NULL, XDP_DROP, HOOK_XDP_WAN,
		   V_DROP_WAN_TO_LAN_ADDR);
	expect_tc(FX.tc_wan_in, FX.wan_if[0], 0, &in, NULL, NULL, TC_ACT_SHOT, HOOK_TC_WAN_IN,
		  V_DROP_WAN_TO_LAN_ADDR);
	p.da = ip4("10.1.0.255");       /* the LAN's broadcast */
	mk(&in, &p);
	expect_xdp(FX.xdp_wan, FX.wan_if[0], &in, NULL, XDP_DROP, HOOK_XDP_WAN,
		   V_DROP_WAN_TO_LAN_ADDR);
	/* Control: the WAN's own address and broadcast are the host's. */
	p.da = WAN1_IP;
	mk(&in, &p);
	expect_xdp(FX.xdp_wan, FX.wan_if[0], &in, &out, XDP_PASS, HOOK_XDP_WAN, V_PASS_LOCAL);
	p.da = ip4("203.0.113.255");
	mk(&in, &p);
	expect_xdp(FX.xdp_wan, FX.wan_if[0], &in, &out, XDP_PASS, HOOK_XDP_WAN, V_PASS_LOCAL);
}

/*
 * 40. The two routers of an HA pair share each LAN and ISP segment, and a
 * switch floods a frame it has no port for to both. Only the router it is
 * addressed to forwards it: a frame for another MAC (the peer router's) or
 * a broadcast makes no flow, is not translated and goes to the kernel
 * (which drops another host's frame), counted not_our_mac, in XDP and tc.
 * Controls: the same frames to our own MAC are forwarded.
 */
static void test_frame_for_another_mac_not_forwarded(void **state)
{
	static const uint8_t MAC_PEER_ROUTER[6] = { 0x02, 0, 0, 0, 0x09, 0x09 };
	static const uint8_t MAC_BCAST[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	struct pk syn = client_syn(40400), reply;
	struct opened o;
	struct frame in, out;
	uint32_t mark = 0;
	int n;

	(void)state;
	n = fx_flow_count();
	syn.l2 = (struct l2){ MAC_PEER_ROUTER, MAC_CLIENT };
	mk(&in, &syn);
	expect_xdp(FX.xdp_lan, FX.lan_if, &in, &out, XDP_PASS, HOOK_XDP_LAN, V_PASS_NOT_OUR_MAC);
	expect_untouched(&out, &in);
	expect_tc(FX.tc_lan_in, FX.lan_if, 0, &in, &out, &mark, TC_ACT_OK, HOOK_TC_LAN_IN,
		  V_PASS_NOT_OUR_MAC);
	expect_untouched(&out, &in);
	assert_int_equal(mark, 0);
	syn.l2 = (struct l2){ MAC_BCAST, MAC_CLIENT };
	mk(&in, &syn);
	expect_xdp(FX.xdp_lan, FX.lan_if, &in, &out, XDP_PASS, HOOK_XDP_LAN, V_PASS_NOT_OUR_MAC);
	assert_int_equal(fx_flow_count(), n);

	/* Control: addressed to us, the same SYN opens a flow and is forwarded. */
	syn = client_syn(40400);
	open_flow(&syn, &o);
	assert_int_equal(fx_flow_count(), n + 2);

	/* The reply, flooded on the ISP segment to the router that is not its gateway. */
	reply = reply_to(&syn, o.gw, o.port, F_SYN | F_ACK);
	reply.l2 = (struct l2){ MAC_PEER_ROUTER, MAC_GW[o.gw] };
	mk(&in, &reply);
	expect_xdp(FX.xdp_wan, FX.wan_if[o.gw], &in, &out, XDP_PASS, HOOK_XDP_WAN,
		   V_PASS_NOT_OUR_MAC);
	expect_untouched(&out, &in);
	expect_tc(FX.tc_wan_in, FX.wan_if[o.gw], 0, &in, &out, NULL, TC_ACT_OK, HOOK_TC_WAN_IN,
		  V_PASS_NOT_OUR_MAC);
	expect_untouched(&out, &in);
	/* Control: to our MAC, it is translated back to the client. */
	reply = reply_to(&syn, o.gw, o.port, F_SYN | F_ACK);
	mk(&in, &reply);
	expect_xdp(FX.xdp_wan, FX.wan_if[o.gw], &in, &out, XDP_REDIRECT, HOOK_XDP_WAN, V_FWD_IN);
}

int main(int argc, char **argv)
{
#define T(f) cmocka_unit_test_setup(f, fx_setup)
	const struct CMUnitTest tests[] = {
		T(test_new_tcp_flow_translated_and_recorded),
		T(test_answered_flow_promoted),
		T(test_flood_keeps_established_flow),
		T(test_evicted_reply_half_frees_no_port_in_use),
		T(test_half_made_flow_not_taken_over),
		T(test_tcp_rst_outside_window_ignored),
		T(test_tcp_liberal_accepts_any_rst),
		T(test_tcp_rst_to_syn_must_ack_it),
		T(test_tcp_rst_to_stale_ack_passes),
		T(test_source_budget_of_unanswered_flows),
		T(test_tcp_reply_translated_back_and_established),
		T(test_flow_keeps_gateway_and_port),
		T(test_udp_translated_both_ways),
		T(test_udp_zero_checksum_stays_zero),
		T(test_udp_checksum_computing_to_zero_sent_as_ffff),
		T(test_icmp_echo_id_translated),
		T(test_icmp_time_exceeded_quoting_udp),
		T(test_icmp_frag_needed_quoting_udp),
		T(test_icmp_error_quoting_8_bytes_of_tcp),
		T(test_icmp_error_quoting_whole_tcp_segment),
		T(test_icmp_error_quoting_tcp_header_and_part_of_payload),
		T(test_icmp_error_quoting_echo),
		T(test_icmp_error_quoting_udp_without_checksum),
		T(test_icmp_error_quoting_udp_checksum_ffff),
		T(test_icmp_error_with_ip_options),
		T(test_lan_icmp_error_about_reply_translated_out),
		T(test_wan_to_host_address_passes_to_kernel),
		T(test_wan_unsolicited_to_lan_dropped),
		T(test_wan_dhcp_reply_reaches_host),
		T(test_spoofed_lan_source_dropped),
		T(test_ttl_expiring_passes_untouched),
		T(test_short_frames_malformed),
		T(test_bad_ip_headers_malformed),
		T(test_truncated_l4_malformed),
		T(test_tcp_header_beyond_ip_total_length_malformed),
		T(test_udp_header_beyond_ip_total_length_malformed),
		T(test_padded_minimum_frame_translated),
		T(test_icmp_error_quoting_truncated_header_malformed),
		T(test_ip_options_skipped),
		T(test_fragments_follow_first),
		T(test_fragment_without_flow_held),
		T(test_reply_fragments_follow_first),
		T(test_tcp_without_syn_dropped_by_default),
		T(test_hash_split_follows_weights),
		T(test_round_robin_split_exact),
		T(test_nat_port_exhaustion),
		T(test_nat_exhaustion_spills_to_other_gateway),
		T(test_expired_flow_not_used),
		T(test_wan_subnet_destination_pinned_to_its_wan),
		T(test_wan_subnet_host_reached_directly),
		T(test_host_session_reply_passed_up),
		T(test_host_session_port_not_given_to_lan),
		T(test_tcp_reopen_after_rst_new_flow),
		T(test_tc_lan_ingress_marks),
		T(test_tc_lan_ingress_creates_flow),
		T(test_tc_wan_egress_snat),
		T(test_tc_wan_egress_drops_marked_without_flow),
		T(test_tc_wan_egress_ignores_unmarked),
		T(test_tc_wan_ingress_dnat),
		T(test_tc_wan_egress_udp_checksum_zero),
		T(test_tc_wan_ingress_icmp_error),
		T(test_verdict_accounting_xdp_lan),
		T(test_verdict_accounting_xdp_wan),
		T(test_verdict_accounting_tc),
		T(test_l3_wan_egress_snat),
		T(test_l3_wan_ingress_dnat),
		T(test_l3_ipv6_left_to_kernel),
		T(test_l3_lan_ingress_opens_and_marks),
		T(test_l3_length_is_the_interfaces),
		T(test_xdp_kernel_path_without_xdp_transmit),
		T(test_default_timeouts_meet_rfcs),
		T(test_last_seen_ahead_of_now_is_live),
		T(test_host_session_counts_bytes),
		T(test_fragment_entry_expires),
		T(test_fragments_out_of_order_from_lan),
		T(test_fragments_out_of_order_from_wan),
		T(test_held_fragment_expires),
		T(test_gre_and_esp_natted_by_address),
		T(test_addr_only_one_host_per_remote_and_wan),
		T(test_icmp_timestamp_id_translated),
		T(test_untranslated_lan_source_dropped),
		T(test_lan_icmp_error_spoofed_or_ruled_dropped),
		T(test_kernel_time_exceeded_about_port_forward),
		T(test_kernel_frag_needed_about_reply),
		T(test_ttl_1_marked_for_its_flows_wan),
		T(test_host_socket_on_lan_flows_port_wins),
		T(test_wan_to_lan_side_address_dropped),
		T(test_frame_for_another_mac_not_forwarded),
	};
#undef T

	if (argc > 1)
		cmocka_set_test_filter(argv[1]);
	if (geteuid() != 0) {
		fprintf(stderr, "test_dataplane: needs root (netns, BPF); skipped\n");
		return 77;
	}
	return cmocka_run_group_tests(tests, fx_group_setup, fx_group_teardown);
}
