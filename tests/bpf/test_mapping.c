// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Endpoint-independent mapping and filtering (RFC 4787, RFC 5382) through
 * BPF_PROG_TEST_RUN, in the dataplane fixture (fixture.h): what a STUN
 * client behind xwan would see. Every translated frame's checksums are
 * verified from scratch.
 *
 *   build/tests/test_mapping                  all tests (root)
 *   build/tests/test_mapping 'test_filter_*'  those matching a pattern
 */
#include "tests/bpf/fixture.h"

#include <bpf/libbpf.h>

#include "loader/ha_maps.h"

#define CLIENT   ip4("10.1.0.2")
#define CLIENT2  ip4("10.1.0.3")
#define REMOTE   ip4("192.0.2.10")
#define REMOTE2  ip4("198.18.0.20")     /* another address: another "STUN server" */
#define THIRD    ip4("100.70.0.30")     /* an internet host the client never sent to */

/* A UDP datagram or a TCP segment, as a frame from the LAN or a WAN. */
static void mk_l4(struct frame *f, const uint8_t *dst, const uint8_t *src, uint32_t sa,
		  uint32_t da, uint8_t proto, uint16_t sp, uint16_t dp, uint8_t flags)
{
	static const char pl[] = "binding request";
	struct ip4_spec ip = { .saddr = sa, .daddr = da, .proto = proto, .ttl = 64, .id = 7 };
	uint8_t l4[128];
	size_t n;

	if (proto == PROTO_TCP)
		n = l4_tcp(l4, sa, da, sp, dp, flags, 1000, (flags & F_ACK) ? 5000 : 0, NULL, 0);
	else
		n = l4_udp(l4, sa, da, sp, dp, pl, sizeof(pl), false);
	frame_ipv4(f, dst, src, &ip, l4, n);
}

struct out {
	int gw;                 /* the WAN it left through, -1: not forwarded */
	uint32_t saddr;
	uint16_t sport;
};

/* A LAN socket's packet to a remote: where it left, with which source. */
static struct out send_out(uint32_t client, uint16_t sport, uint32_t remote, uint16_t dport,
			   uint8_t proto)
{
	struct frame in, o;
	struct view v;
	struct out r = { .gw = -1 };
	char why[128];

	mk_l4(&in, FX.lan_mac, MAC_CLIENT, client, remote, proto, sport, dport, F_SYN);
	if (run_xdp(FX.xdp_lan, FX.lan_if, &in, &o) != XDP_REDIRECT)
		return r;
	assert_true(frame_view(&o, &v));
	if (frame_csum_error(&o, why, sizeof(why)))
		fail_msg("translated frame: %s", why);
	r.saddr = v.saddr;
	r.sport = v.sport;
	r.gw = fx_gw_of_addr(v.saddr);
	assert_in_range(r.gw, 0, NGW - 1);
	assert_int_equal(v.daddr, remote);
	assert_int_equal(v.dport, dport);
	return r;
}

/* An internet host's packet to a public address:port on gw; the XDP verdict. */
static uint32_t send_in(int gw, uint32_t from, uint16_t sport, uint16_t pub_port, uint8_t proto,
			uint8_t flags, struct frame *o)
{
	struct frame in;

	mk_l4(&in, FX.wan_mac[gw], MAC_GW[gw], from, FX.nat_addr[gw], proto, sport, pub_port,
	      flags);
	return run_xdp(FX.xdp_wan, FX.wan_if[gw], &in, o);
}

static void sync_usable(void)
{
	assert_int_equal(xwan_sync_gateways(&FX.cfg, &FX.host, FX.m, FX.status, FX.usable), 0);
	assert_int_equal(fx_install_groups(), 0);
}

static void set_filtering(enum nat_filtering f)
{
	for (int g = 0; g < FX.cfg.n_groups; g++)
		FX.cfg.groups[g].filtering = f;
	assert_int_equal(fx_install_groups(), 0);
}

/* ------------------------------------------------------------ mapping */

/*
 * One UDP socket to many remotes: one WAN, one public address:port (its
 * own, preserved), whatever the per-flow hash says. Control: the same
 * flows, each from a socket without a mapping, spread over both WANs.
 */
static void mapping_reused(uint8_t proto)
{
	struct out first = send_out(CLIENT, 40000, REMOTE, 3478, proto), r;
	int counts[NGW] = { 0 };

	assert_true(first.gw >= 0);
	assert_int_equal(first.sport, 40000);           /* port preservation */
	r = send_out(CLIENT, 40000, REMOTE2, 3479, proto);
	assert_int_equal(r.gw, first.gw);
	assert_int_equal(r.saddr, first.saddr);
	assert_int_equal(r.sport, first.sport);
	for (int i = 0; i < 40; i++) {
		r = send_out(CLIENT, 40000, htonl(0xc6120000u + (uint32_t)i * 7), 3478, proto);
		assert_int_equal(r.gw, first.gw);
		assert_int_equal(r.sport, 40000);
	}
	assert_int_equal(fx_event(EV_MAPPING_CREATED), 1);
	assert_int_equal(fx_event(EV_MAPPING_REUSED), 41);

	/* Control: without the mapping, the hash puts these flows on both WANs. */
	assert_int_equal(fx_reset(), 0);
	for (int i = 0; i < 40; i++) {
		r = send_out(CLIENT, 40000, htonl(0xc6120000u + (uint32_t)i * 7), 3478, proto);
		assert_true(r.gw >= 0);
		counts[r.gw]++;
		assert_int_equal(fx_clear_hash(FX.m->fd[XM_NAT_MAPS]), 0);
	}
	assert_true(counts[0] > 0 && counts[1] > 0);
}

static void test_udp_mapping_same_public_port_to_every_remote(void **state)
{
	(void)state;
	mapping_reused(PROTO_UDP);
}

static void test_tcp_mapping_same_public_port_to_every_remote(void **state)
{
	(void)state;
	mapping_reused(PROTO_TCP);
}

/*
 * Two LAN sockets asking for the same port on one WAN address: the first
 * keeps it, the others get other ports of the same parity, also toward
 * other remotes (never one public port for two sockets).
 */
static void parity_and_no_sharing(uint16_t port)
{
	uint16_t got[8];
	struct out r;

	FX.usable[1] = false;
	sync_usable();
	r = send_out(CLIENT, port, REMOTE, 3478, PROTO_UDP);
	assert_int_equal(r.gw, 0);
	assert_int_equal(r.sport, port);
	for (int i = 0; i < 8; i++) {
		r = send_out(htonl(ntohl(CLIENT2) + (uint32_t)i), port, REMOTE2, 3478, PROTO_UDP);
		assert_int_equal(r.gw, 0);
		assert_int_not_equal(r.sport, port);
		assert_int_equal(r.sport & 1, port & 1);
		for (int j = 0; j < i; j++)
			assert_int_not_equal(got[j], r.sport);
		got[i] = r.sport;
	}
	assert_int_equal(fx_event(EV_MAPPING_CREATED), 9);
}

static void test_mapping_parity_even_no_sharing(void **state)
{
	(void)state;
	parity_and_no_sharing(40000);
}

static void test_mapping_parity_odd_no_sharing(void **state)
{
	(void)state;
	parity_and_no_sharing(40001);
}

/*
 * The mapping's WAN goes down: the socket's next flow takes another WAN
 * and makes a new mapping there, which the flows after it follow.
 */
static void test_mapping_follows_wan_down(void **state)
{
	struct out first = send_out(CLIENT, 40000, REMOTE, 3478, PROTO_UDP), r, r2;

	(void)state;
	assert_true(first.gw >= 0);
	FX.usable[first.gw] = false;
	sync_usable();
	r = send_out(CLIENT, 40000, REMOTE2, 3478, PROTO_UDP);
	assert_int_equal(r.gw, !first.gw);
	assert_int_equal(fx_event(EV_MAPPING_DROPPED), 1);
	assert_int_equal(fx_event(EV_MAPPING_CREATED), 2);
	/* Back up: the socket keeps the WAN its live mapping is on. */
	FX.usable[first.gw] = true;
	sync_usable();
	for (int i = 0; i < 20; i++) {
		r2 = send_out(CLIENT, 40000, htonl(0xc6120000u + (uint32_t)i * 7), 3478,
			      PROTO_UDP);
		assert_int_equal(r2.gw, r.gw);
		assert_int_equal(r2.sport, r.sport);
	}
}

/* ------------------------------------------------------------ HA sync */

/*
 * The HA peer's copy (loader/ha_maps.c): the record the active sends with
 * a flow, written into a table without the mapping (the passive's), gives
 * the socket's first flow to another remote the same WAN and public
 * address:port. Control: without the record that flow gets another port
 * (the client's port 999 is below nat_ports: nothing preserves it).
 */
static void test_ha_mapping_record_restores_it(void **state)
{
	struct flow_key k = fkey(CLIENT, REMOTE, 999, 3478, PROTO_UDP);
	struct out first = send_out(CLIENT, 999, REMOTE, 3478, PROTO_UDP), r;
	struct ha_rec fr, mr;
	struct ha_local l;
	struct nat_map nm;
	struct nat_map_key pub = { .addr = first.saddr, .port = htons(first.sport),
				   .proto = PROTO_UDP, .side = NMAP_PUB };

	(void)state;
	assert_true(first.gw >= 0);
	assert_int_not_equal(first.sport, 999);
	ha_local_build(&FX.cfg, &FX.host, &l);
	assert_int_equal(ha_rec_read(FX.m, &l, &k, FLOW_DIR_OUT, xwan_now_ns(), &fr), 0);
	assert_int_equal(ha_map_read(FX.m, &l, &fr, xwan_now_ns(), &mr), 0);
	assert_int_equal(mr.type, HA_REC_MAPPING);
	assert_int_equal(ntohs(mr.map.m.port), first.sport);

	assert_int_equal(fx_reset(), 0);                /* the passive: no mapping */
	assert_int_equal(ha_rec_apply(FX.m, &l, &mr, xwan_now_ns()), 0);
	assert_int_equal(bpf_map_lookup_elem(FX.m->fd[XM_NAT_MAPS], &pub, &nm), 0);
	assert_int_equal(nm.addr, CLIENT);              /* the PUB side names the socket */
	assert_int_equal(ntohs(nm.port), 999);
	r = send_out(CLIENT, 999, REMOTE2, 3479, PROTO_UDP);
	assert_int_equal(r.gw, first.gw);
	assert_int_equal(r.saddr, first.saddr);
	assert_int_equal(r.sport, first.sport);
	assert_int_equal(fx_event(EV_MAPPING_REUSED), 1);

	/* A deletion record takes both sides away. */
	mr.type = HA_REC_MAP_DELETE;
	assert_int_equal(ha_rec_apply(FX.m, &l, &mr, xwan_now_ns()), 0);
	assert_int_not_equal(bpf_map_lookup_elem(FX.m->fd[XM_NAT_MAPS], &pub, &nm), 0);
	assert_int_not_equal(bpf_map_lookup_elem(FX.m->fd[XM_NAT_MAPS], &mr.map.key, &nm), 0);

	/* Control: a table that never got the record maps the socket elsewhere. */
	assert_int_equal(fx_reset(), 0);
	r = send_out(CLIENT, 999, REMOTE2, 3479, PROTO_UDP);
	assert_true(r.gw >= 0);
	assert_true(r.sport != first.sport || r.saddr != first.saddr);
}

/*
 * address-dependent filtering: the flow record carries that its remote may
 * reach the mapping, so after a takeover the remote's other port still
 * does. Control: the mapping without its flows admits nobody.
 */
static void test_ha_mapping_permit_restored(void **state)
{
	struct flow_key k = fkey(CLIENT, REMOTE, 999, 3478, PROTO_UDP);
	struct ha_rec fr, mr;
	struct ha_local l;
	struct frame o;
	struct out first;

	(void)state;
	set_filtering(FILTER_ADDR);
	first = send_out(CLIENT, 999, REMOTE, 3478, PROTO_UDP);
	assert_true(first.gw >= 0);
	ha_local_build(&FX.cfg, &FX.host, &l);
	assert_int_equal(ha_rec_read(FX.m, &l, &k, FLOW_DIR_OUT, xwan_now_ns(), &fr), 0);
	assert_int_equal(ha_map_read(FX.m, &l, &fr, xwan_now_ns(), &mr), 0);
	assert_int_equal(fr.permit, 1);
	assert_int_equal(mr.map.m.filtering, FILTER_ADDR);
	for (int with_flow = 1; with_flow >= 0; with_flow--) {
		assert_int_equal(fx_reset(), 0);        /* the passive */
		set_filtering(FILTER_ADDR);
		assert_int_equal(ha_rec_apply(FX.m, &l, &mr, xwan_now_ns()), 0);
		if (with_flow)
			assert_int_equal(ha_rec_apply(FX.m, &l, &fr, xwan_now_ns()), 0);
		assert_int_equal(send_in(first.gw, REMOTE, 3479, first.sport, PROTO_UDP, 0, &o),
				 with_flow ? XDP_REDIRECT : XDP_DROP);
	}
}

static int on_ha_event(void *ctx, void *data, size_t len)
{
	const struct ha_event *ev = data;

	if (len >= sizeof(*ev) && ev->type == HA_EV_MAP_DELETE)
		*(struct ha_event *)ctx = *ev;
	return 0;
}

/*
 * The active's dataplane reports a mapping it drops (its WAN went down),
 * so that the peer drops it too; control: not while it is not the active.
 */
static void test_ha_mapping_drop_reported(void **state)
{
	struct ha_status st = { .role = HA_ROLE_PASSIVE };
	struct ring_buffer *rb;
	struct out first;
	struct ha_event ev;
	uint32_t zero = 0;

	(void)state;
	for (int active = 0; active < 2; active++) {
		assert_int_equal(fx_reset(), 0);
		st.role = active ? HA_ROLE_ACTIVE : HA_ROLE_PASSIVE;
		assert_int_equal(bpf_map_update_elem(FX.m->fd[XM_HA_STATUS], &zero, &st, BPF_ANY), 0);
		rb = ring_buffer__new(FX.m->fd[XM_HA_EVENTS], on_ha_event, &ev, NULL);
		assert_non_null(rb);
		ring_buffer__consume(rb);               /* what earlier cases left */
		memset(&ev, 0, sizeof(ev));
		first = send_out(CLIENT, 40000, REMOTE, 3478, PROTO_UDP);
		FX.usable[first.gw] = false;
		sync_usable();
		send_out(CLIENT, 40000, REMOTE2, 3478, PROTO_UDP);
		assert_int_equal(fx_event(EV_MAPPING_DROPPED), 1);
		ring_buffer__consume(rb);
		ring_buffer__free(rb);
		if (!active) {
			assert_int_equal(ev.type, 0);
			continue;
		}
		assert_int_equal(ev.type, HA_EV_MAP_DELETE);
		assert_int_equal(ev.key.saddr, CLIENT);
		assert_int_equal(ntohs(ev.key.sport), 40000);
		assert_int_equal(ev.key.proto, PROTO_UDP);
	}
	st.role = HA_ROLE_OFF;
	assert_int_equal(bpf_map_update_elem(FX.m->fd[XM_HA_STATUS], &zero, &st, BPF_ANY), 0);
}

/* A port forward's public port is never a mapping's. */
static void test_mapping_avoids_port_forward(void **state)
{
	struct port_fwd_key k = { .port = htons(40000), .proto = PROTO_UDP };
	struct port_fwd pf = { .to_addr = ip4("10.1.0.9"), .to_port = htons(40000) };
	struct out r;

	(void)state;
	FX.usable[1] = false;
	sync_usable();
	k.addr = FX.nat_addr[0];
	assert_int_equal(bpf_map_update_elem(FX.m->fd[XM_PORT_FWDS], &k, &pf, BPF_ANY), 0);
	r = send_out(CLIENT, 40000, REMOTE, 3478, PROTO_UDP);
	assert_int_equal(r.gw, 0);
	assert_int_not_equal(r.sport, 40000);
	assert_int_equal(r.sport & 1, 0);
	assert_int_equal(bpf_map_delete_elem(FX.m->fd[XM_PORT_FWDS], &k), 0);
}

/* ---------------------------------------------------------- filtering */

struct filtered {
	uint32_t same_remote_other_port;
	uint32_t third_host;
};

/* After CLIENT:40000 -> REMOTE:3478, who may reach the mapping? */
static struct filtered probe_filter(enum nat_filtering mode, uint8_t proto)
{
	struct filtered f;
	struct frame o;
	struct view v;
	struct out r;
	char why[128];

	set_filtering(mode);
	r = send_out(CLIENT, 40000, REMOTE, 3478, proto);
	assert_true(r.gw >= 0);
	f.same_remote_other_port = send_in(r.gw, REMOTE, 3479, r.sport, proto, F_SYN, &o);
	if (f.same_remote_other_port == XDP_REDIRECT) {
		assert_true(frame_view(&o, &v));
		assert_int_equal(v.daddr, CLIENT);
		assert_int_equal(v.dport, 40000);
		assert_int_equal(v.saddr, REMOTE);
		assert_int_equal(v.sport, 3479);
		assert_memory_equal(o.d, MAC_CLIENT, 6);
		if (frame_csum_error(&o, why, sizeof(why)))
			fail_msg("inbound frame: %s", why);
	}
	f.third_host = send_in(r.gw, THIRD, 9999, r.sport, proto, F_SYN, &o);
	if (f.third_host == XDP_REDIRECT) {
		assert_true(frame_view(&o, &v));
		assert_int_equal(v.daddr, CLIENT);
		assert_int_equal(v.dport, 40000);
		assert_int_equal(v.saddr, THIRD);
	}
	return f;
}

static void test_filter_address_and_port_dependent_by_default(void **state)
{
	struct filtered f = probe_filter(FILTER_ADDR_PORT, PROTO_UDP);

	(void)state;
	assert_int_equal(f.same_remote_other_port, XDP_DROP);
	assert_int_equal(f.third_host, XDP_DROP);
	assert_int_equal(fx_verdict(HOOK_XDP_WAN, V_DROP_UNSOLICITED), 2);
	assert_int_equal(fx_event(EV_MAPPING_FILTERED), 2);
	assert_int_equal(fx_flow_count(), 2);
}

static void test_filter_address_dependent(void **state)
{
	struct filtered f = probe_filter(FILTER_ADDR, PROTO_UDP);

	(void)state;
	assert_int_equal(f.same_remote_other_port, XDP_REDIRECT);
	assert_int_equal(f.third_host, XDP_DROP);
	assert_int_equal(fx_verdict(HOOK_XDP_WAN, V_FWD_MAPPING), 1);
	assert_int_equal(fx_verdict(HOOK_XDP_WAN, V_DROP_UNSOLICITED), 1);
	assert_int_equal(fx_event(EV_MAPPING_INBOUND), 1);
	assert_int_equal(fx_flow_count(), 4);
}

static void test_filter_endpoint_independent(void **state)
{
	struct filtered f = probe_filter(FILTER_ENDPOINT, PROTO_UDP);

	(void)state;
	assert_int_equal(f.same_remote_other_port, XDP_REDIRECT);
	assert_int_equal(f.third_host, XDP_REDIRECT);
	assert_int_equal(fx_verdict(HOOK_XDP_WAN, V_FWD_MAPPING), 2);
	assert_int_equal(fx_event(EV_MAPPING_INBOUND), 2);
	assert_int_equal(fx_flow_count(), 6);
}

/*
 * The flow a third host opened is the mapped socket's: its answer leaves
 * from the same public address:port, and the host's next datagram is a
 * plain reply.
 */
static void test_filter_endpoint_independent_flow_answered(void **state)
{
	struct out r, a;
	struct frame o;

	(void)state;
	set_filtering(FILTER_ENDPOINT);
	r = send_out(CLIENT, 40000, REMOTE, 3478, PROTO_UDP);
	assert_int_equal(send_in(r.gw, THIRD, 9999, r.sport, PROTO_UDP, 0, &o), XDP_REDIRECT);
	a = send_out(CLIENT, 40000, THIRD, 9999, PROTO_UDP);
	assert_int_equal(a.gw, r.gw);
	assert_int_equal(a.sport, r.sport);
	assert_int_equal(send_in(r.gw, THIRD, 9999, r.sport, PROTO_UDP, 0, &o), XDP_REDIRECT);
	assert_int_equal(fx_verdict(HOOK_XDP_WAN, V_FWD_MAPPING), 1);
	assert_int_equal(fx_verdict(HOOK_XDP_WAN, V_FWD_IN), 1);
	assert_int_equal(fx_flow_count(), 4);
}

/* TCP: a third host's SYN reaches an endpoint-independent mapping (hole
 * punching); anything but a SYN, or any SYN by default, is dropped silently. */
static void test_filter_tcp_syn(void **state)
{
	struct filtered f;
	struct out r;
	struct frame o;

	(void)state;
	f = probe_filter(FILTER_ENDPOINT, PROTO_TCP);
	assert_int_equal(f.third_host, XDP_REDIRECT);
	r = send_out(CLIENT, 40000, REMOTE2, 80, PROTO_TCP);
	assert_int_equal(send_in(r.gw, ip4("100.70.0.31"), 9999, r.sport, PROTO_TCP, F_ACK, &o),
			 XDP_DROP);
	assert_int_equal(fx_reset(), 0);
	f = probe_filter(FILTER_ADDR_PORT, PROTO_TCP);
	assert_int_equal(f.third_host, XDP_DROP);
	assert_int_equal(f.same_remote_other_port, XDP_DROP);
}

/* An expired mapping admits nobody, whatever its filter. */
static void test_filter_expired_mapping_admits_nobody(void **state)
{
	struct nat_map_key k = { .addr = CLIENT, .port = htons(40000), .proto = PROTO_UDP,
				 .side = NMAP_LAN };
	struct nat_map m;
	struct out r;
	struct frame o;

	(void)state;
	set_filtering(FILTER_ENDPOINT);
	r = send_out(CLIENT, 40000, REMOTE, 3478, PROTO_UDP);
	assert_int_equal(bpf_map_lookup_elem(FX.m->fd[XM_NAT_MAPS], &k, &m), 0);
	assert_int_equal(m.filtering, FILTER_ENDPOINT);
	assert_int_equal(m.addr, r.saddr);
	assert_int_equal(ntohs(m.port), r.sport);
	/* Control: live, it admits the third host. */
	assert_int_equal(send_in(r.gw, THIRD, 9999, r.sport, PROTO_UDP, 0, &o), XDP_REDIRECT);
	assert_int_equal(bpf_map_lookup_elem(FX.m->fd[XM_NAT_MAPS], &k, &m), 0);
	m.last_ns = 1;
	assert_int_equal(bpf_map_update_elem(FX.m->fd[XM_NAT_MAPS], &k, &m, BPF_ANY), 0);
	/* Expired, the port is nobody's: the host's, as any unused port. */
	assert_int_equal(send_in(r.gw, THIRD, 10000, r.sport, PROTO_UDP, 0, &o), XDP_PASS);
	assert_int_equal(fx_verdict(HOOK_XDP_WAN, V_PASS_LOCAL), 1);
	assert_int_equal(fx_verdict(HOOK_XDP_WAN, V_FWD_MAPPING), 1);
	assert_int_equal(fx_flow_count(), 4);
}

/* RFC 5508: an ICMP error about a mapped flow leaves the mapping alone. */
static void test_icmp_error_keeps_mapping(void **state)
{
	struct nat_map_key k = { .addr = CLIENT, .port = htons(40000), .proto = PROTO_UDP,
				 .side = NMAP_LAN };
	struct ip4_spec ip = { .proto = PROTO_ICMP, .ttl = 64, .id = 9 };
	uint8_t quoted[64], icmp[128];
	struct nat_map m;
	struct frame in, o;
	struct out r, r2;
	size_t qn, n;

	(void)state;
	r = send_out(CLIENT, 40000, REMOTE, 3478, PROTO_UDP);
	/* Port unreachable from the remote, quoting the translated datagram. */
	{
		struct ip4_spec q = { .saddr = r.saddr, .daddr = REMOTE, .proto = PROTO_UDP,
				      .ttl = 63, .id = 7 };
		uint8_t l4[64];
		size_t l4n = l4_udp(l4, r.saddr, REMOTE, r.sport, 3478, "x", 1, false);

		qn = l3_ipv4(quoted, &q, l4n);
		memcpy(quoted + qn, l4, 8);
		qn += 8;
	}
	n = l4_icmp(icmp, ICMPT_UNREACH, 3, 0, quoted, qn);
	ip.saddr = REMOTE;
	ip.daddr = r.saddr;
	frame_ipv4(&in, FX.wan_mac[r.gw], MAC_GW[r.gw], &ip, icmp, n);
	assert_int_equal(run_xdp(FX.xdp_wan, FX.wan_if[r.gw], &in, &o), XDP_REDIRECT);
	assert_int_equal(fx_verdict(HOOK_XDP_WAN, V_FWD_ICMP_ERROR), 1);
	assert_int_equal(bpf_map_lookup_elem(FX.m->fd[XM_NAT_MAPS], &k, &m), 0);
	r2 = send_out(CLIENT, 40000, REMOTE2, 3478, PROTO_UDP);
	assert_int_equal(r2.sport, r.sport);
	assert_int_equal(r2.gw, r.gw);
}

/* A TCP segment with explicit sequence numbers. */
static void mk_tcp(struct frame *f, const uint8_t *dst, const uint8_t *src, uint32_t sa,
		   uint32_t da, uint16_t sp, uint16_t dp, uint8_t flags, uint32_t seq, uint32_t ack)
{
	struct ip4_spec ip = { .saddr = sa, .daddr = da, .proto = PROTO_TCP, .ttl = 64, .id = 8 };
	uint8_t l4[64];
	size_t n = l4_tcp(l4, sa, da, sp, dp, flags, seq, ack, NULL, 0);

	frame_ipv4(f, dst, src, &ip, l4, n);
}

/*
 * RFC 5382 REQ-2: TCP simultaneous open (hole punching). Both ends send a
 * SYN; each SYN reaches the other, the SYN-ACKs cross, and the connection
 * is established, with the default filtering: the remote's SYN is to an
 * endpoint the client sent to.
 */
static void test_tcp_simultaneous_open(void **state)
{
	struct flow_key k = fkey(CLIENT, REMOTE, 40000, 5000, PROTO_TCP);
	struct flow_entry e;
	struct frame in, o;
	struct view v;
	int gw;
	uint16_t pub;

	(void)state;
	mk_tcp(&in, FX.lan_mac, MAC_CLIENT, CLIENT, REMOTE, 40000, 5000, F_SYN, 100, 0);
	assert_int_equal(run_xdp(FX.xdp_lan, FX.lan_if, &in, &o), XDP_REDIRECT);
	assert_true(frame_view(&o, &v));
	gw = fx_gw_of_addr(v.saddr);
	pub = v.sport;
	assert_in_range(gw, 0, NGW - 1);
	/* The remote's own SYN, crossing ours. */
	mk_tcp(&in, FX.wan_mac[gw], MAC_GW[gw], REMOTE, FX.nat_addr[gw], 5000, pub, F_SYN, 900, 0);
	assert_int_equal(run_xdp(FX.xdp_wan, FX.wan_if[gw], &in, &o), XDP_REDIRECT);
	assert_true(frame_view(&o, &v));
	assert_int_equal(v.daddr, CLIENT);
	assert_int_equal(v.dport, 40000);
	/* Each answers the other's SYN. */
	mk_tcp(&in, FX.lan_mac, MAC_CLIENT, CLIENT, REMOTE, 40000, 5000, F_SYN | F_ACK, 100, 901);
	assert_int_equal(run_xdp(FX.xdp_lan, FX.lan_if, &in, &o), XDP_REDIRECT);
	mk_tcp(&in, FX.wan_mac[gw], MAC_GW[gw], REMOTE, FX.nat_addr[gw], 5000, pub,
	       F_SYN | F_ACK, 900, 101);
	assert_int_equal(run_xdp(FX.xdp_wan, FX.wan_if[gw], &in, &o), XDP_REDIRECT);
	mk_tcp(&in, FX.lan_mac, MAC_CLIENT, CLIENT, REMOTE, 40000, 5000, F_ACK, 101, 901);
	assert_int_equal(run_xdp(FX.xdp_lan, FX.lan_if, &in, &o), XDP_REDIRECT);
	assert_true(fx_flow(&k, &e));
	assert_int_equal(e.state, FLOW_STATE_ESTABLISHED);
	assert_int_equal(fx_verdict(HOOK_XDP_WAN, V_FWD_IN), 2);
	assert_int_equal(fx_flow_count(), 2);
}

int main(int argc, char **argv)
{
#define T(f) cmocka_unit_test_setup(f, fx_setup)
	const struct CMUnitTest tests[] = {
		T(test_udp_mapping_same_public_port_to_every_remote),
		T(test_tcp_mapping_same_public_port_to_every_remote),
		T(test_mapping_parity_even_no_sharing),
		T(test_mapping_parity_odd_no_sharing),
		T(test_mapping_follows_wan_down),
		T(test_mapping_avoids_port_forward),
		T(test_filter_address_and_port_dependent_by_default),
		T(test_filter_address_dependent),
		T(test_filter_endpoint_independent),
		T(test_filter_endpoint_independent_flow_answered),
		T(test_filter_tcp_syn),
		T(test_filter_expired_mapping_admits_nobody),
		T(test_icmp_error_keeps_mapping),
		T(test_tcp_simultaneous_open),
		T(test_ha_mapping_record_restores_it),
		T(test_ha_mapping_drop_reported),
		T(test_ha_mapping_permit_restored),
	};
#undef T

	if (argc > 1)
		cmocka_set_test_filter(argv[1]);
	if (geteuid() != 0) {
		fprintf(stderr, "test_mapping: needs root (netns, BPF); skipped\n");
		return 77;
	}
	return cmocka_run_group_tests(tests, fx_group_setup, fx_group_teardown);
}
