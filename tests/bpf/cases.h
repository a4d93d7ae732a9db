/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The vocabulary of the dataplane tests: the lab's hosts, packets written
 * as struct pk and built from scratch (mk), the translations a packet should
 * undergo (snat, dnat, reply_to), and assertions on frames, verdicts and
 * flows. Shared by every tests/bpf/test_*.c that runs the real programs on
 * the fixture (fixture.h), so each concern can have its own file.
 */
#ifndef XWAN_TEST_CASES_H
#define XWAN_TEST_CASES_H

#include "tests/bpf/fixture.h"

#include <linux/pkt_cls.h>

/* ------------------------------------------------------------ the lab */

#define CLIENT   ip4("10.1.0.2")
#define CLIENT2  ip4("10.1.0.3")
#define CLIENT3  ip4("10.1.0.4")
#define LAN_HOST ip4("10.1.0.1")        /* our own LAN address */
#define LAN_PEER ip4("10.1.0.5")        /* another LAN host: kernel routing */
#define SPOOFED  ip4("10.9.9.9")
#define REMOTE   ip4("192.0.2.10")
#define ROUTER   ip4("100.64.7.1")      /* a router on the path, sends errors */
#define WAN1_IP  ip4("203.0.113.2")

/* The two MACs of a hop. */
struct l2 {
	const uint8_t *dst, *src;
};

static inline struct l2 from_client(void) { return (struct l2){ FX.lan_mac, MAC_CLIENT }; }
static inline struct l2 to_client(void)   { return (struct l2){ MAC_CLIENT, FX.lan_mac }; }
static inline struct l2 to_gw(int gw)     { return (struct l2){ MAC_GW[gw], FX.wan_mac[gw] }; }
static inline struct l2 from_gw(int gw)   { return (struct l2){ FX.wan_mac[gw], MAC_GW[gw] }; }

/* ------------------------------------------------------------ packets */

/*
 * One packet. Ports are TCP/UDP ports; for ICMP echo (request or reply)
 * the identifier is sp. Zero ttl/id/seq mean 64/0x4242/1000.
 */
struct pk {
	struct l2 l2;
	uint32_t sa, da;
	uint8_t proto;
	uint16_t sp, dp;
	uint8_t flags;          /* TCP */
	uint32_t seq;           /* TCP */
	uint32_t ack;           /* TCP, 0: 5000 when F_ACK */
	uint16_t win;           /* TCP, 0: 64240 */
	uint8_t type, code;     /* ICMP */
	uint32_t rest;          /* ICMP error: the word after the checksum */
	bool no_csum;           /* UDP: checksum 0 */
	const void *pl;
	size_t n;
	uint8_t ttl;
	uint16_t id, frag;
	uint8_t optlen;
	const uint8_t *opts;
};

static inline uint8_t ttl_of(const struct pk *p)
{
	return p->ttl ? p->ttl : 64;
}

static inline bool is_echo(const struct pk *p)
{
	return p->proto == PROTO_ICMP && (p->type == ICMPT_ECHO || p->type == ICMPT_ECHOREPLY);
}

static inline void mk(struct frame *f, const struct pk *p)
{
	uint8_t l4[FRAME_MAX];
	size_t n;
	struct ip4_spec ip = {
		.saddr = p->sa, .daddr = p->da, .proto = p->proto, .ttl = ttl_of(p),
		.id = p->id ? p->id : 0x4242, .frag = p->frag,
		.optlen = p->optlen, .opts = p->opts,
	};

	switch (p->proto) {
	case PROTO_TCP:
		n = l4_tcp(l4, p->sa, p->da, p->sp, p->dp, p->flags, p->seq ? p->seq : 1000,
			   p->ack ? p->ack : (p->flags & F_ACK) ? 5000 : 0, p->pl, p->n);
		if (p->win) {
			wr16(l4 + 14, p->win);
			wr16(l4 + 16, 0);
			wr16(l4 + 16, csum_l4(p->sa, p->da, PROTO_TCP, l4, n));
		}
		break;
	case PROTO_UDP:
		n = l4_udp(l4, p->sa, p->da, p->sp, p->dp, p->pl, p->n, p->no_csum);
		break;
	case PROTO_ICMP:
		n = l4_icmp(l4, p->type, p->code,
			    is_echo(p) ? (uint32_t)p->sp << 16 | 1 : p->rest, p->pl, p->n);
		break;
	default:
		memcpy(l4, p->pl, p->n);
		n = p->n;
	}
	frame_ipv4(f, p->l2.dst, p->l2.src, &ip, l4, n);
}

/* The flow key of a packet, as the dataplane forms it. */
static inline struct flow_key key_of(const struct pk *p)
{
	if (is_echo(p))
		return p->type == ICMPT_ECHO ? fkey(p->sa, p->da, p->sp, 0, PROTO_ICMP)
					     : fkey(p->sa, p->da, 0, p->sp, PROTO_ICMP);
	return fkey(p->sa, p->da, p->sp, p->dp, p->proto);
}

/* A LAN packet as it should leave gateway gw after source NAT to port. */
static inline struct pk snat(struct pk p, int gw, uint16_t port)
{
	p.l2 = to_gw(gw);
	p.sa = FX.nat_addr[gw];
	p.sp = port;
	p.ttl = (uint8_t)(ttl_of(&p) - 1);
	return p;
}

/* A WAN packet as it should reach the LAN host addr:port (echo: id). */
static inline struct pk dnat(struct pk p, uint32_t addr, uint16_t port)
{
	p.l2 = to_client();
	p.da = addr;
	if (is_echo(&p))
		p.sp = port;
	else
		p.dp = port;
	p.ttl = (uint8_t)(ttl_of(&p) - 1);
	return p;
}

/* The reply to a LAN packet after translation: from the remote to (addr, port). */
static inline struct pk reply_to(const struct pk *p, int gw, uint16_t port, uint8_t flags)
{
	struct pk r = *p;

	r.l2 = from_gw(gw);
	r.sa = p->da;
	r.da = FX.nat_addr[gw];
	r.flags = flags;
	r.pl = NULL;
	r.n = 0;
	r.ttl = 0;
	if (is_echo(p)) {
		r.type = ICMPT_ECHOREPLY;
		r.sp = port;
	} else {
		r.sp = p->dp;
		r.dp = port;
	}
	return r;
}

/* --------------------------------------------------------- assertions */

static inline void dump_frames(const struct frame *got, const struct frame *exp)
{
	char buf[8192];

	hexdump_frame(got, buf, sizeof(buf));
	print_error("got (%zu bytes):%s\n", got->len, buf);
	if (exp) {
		hexdump_frame(exp, buf, sizeof(buf));
		print_error("expected (%zu bytes):%s\n", exp->len, buf);
	}
}

/* Every checksum of the frame, verified from scratch. */
#define expect_csums(got) do {                                                  \
	char cwhy_[256];                                                        \
	if (frame_csum_error((got), cwhy_, sizeof(cwhy_))) {                    \
		print_error("%s\n", cwhy_);                                     \
		dump_frames((got), NULL);                                       \
		fail();                                                         \
	}                                                                       \
} while (0)

/* Byte for byte as built from scratch, and every checksum right. */
#define expect_frame(got, exp) do {                                             \
	char why_[256];                                                         \
	if (frame_diff((got), (exp), why_, sizeof(why_))) {                     \
		print_error("frame differs: %s\n", why_);                       \
		dump_frames((got), (exp));                                      \
		fail();                                                         \
	}                                                                       \
	expect_csums(got);                                                      \
} while (0)

#define expect_pk(got, pkp) do {                                                \
	struct frame exp_;                                                      \
	mk(&exp_, (pkp));                                                       \
	expect_frame((got), &exp_);                                             \
} while (0)

/* A counter moved by exactly n during stmt. */
#define expect_verdict_delta(hook, v, n, stmt) do {                             \
	uint64_t before_ = fx_verdict((hook), (v));                             \
	stmt;                                                                   \
	assert_int_equal(fx_verdict((hook), (v)) - before_, (n));               \
} while (0)

static const char *const VERDICT_NAME[V_MAX] __attribute__((unused)) = {
#define VERDICT_STR(name, verdict, reason) [V_##name] = #name,
	XWAN_VERDICTS(VERDICT_STR)
#undef VERDICT_STR
};

static inline const char *xdp_action_name(uint32_t a)
{
	static const char *const n[] = { "XDP_ABORTED", "XDP_DROP", "XDP_PASS", "XDP_TX",
					 "XDP_REDIRECT" };

	return a < 5 ? n[a] : "?";
}

static inline const char *tc_action_name(uint32_t a)
{
	return a == TC_ACT_OK ? "TC_ACT_OK" : a == TC_ACT_SHOT ? "TC_ACT_SHOT" :
	       a == TC_ACT_REDIRECT ? "TC_ACT_REDIRECT" : "?";
}

struct verdict_snap {
	uint64_t v[V_MAX];
};

static inline void snap_verdicts(int hook, struct verdict_snap *s)
{
	for (int v = 0; v < V_MAX; v++)
		s->v[v] = fx_verdict(hook, v);
}

/* After one packet: exactly one verdict counter moved, by one, and it is `verdict`. */
static inline void expect_one_verdict(int hook, const struct verdict_snap *before, int verdict,
			       const char *action, const char *expected_action,
			       const char *file, int line)
{
	char got[256] = "";
	size_t o = 0;
	bool ok = true;

	for (int v = 0; v < V_MAX; v++) {
		uint64_t d = fx_verdict(hook, v) - before->v[v];

		if (d != (uint64_t)(v == verdict))
			ok = false;
		if (d && o < sizeof(got))
			o += (size_t)snprintf(got + o, sizeof(got) - o, " %s+%llu", VERDICT_NAME[v],
					      (unsigned long long)d);
	}
	if (!ok || strcmp(action, expected_action)) {
		print_error("got %s, verdict%s; expected %s, verdict %s\n", action,
			    o ? got : " none", expected_action, VERDICT_NAME[verdict]);
		_fail(file, line);
	}
}

/* Run a frame through a program and expect an action and one verdict. */
#define expect_xdp(prog, ifindex, in, out, action, hook, verdict) \
	expect_xdp_at(prog, ifindex, in, out, action, hook, verdict, __FILE__, __LINE__)
#define expect_tc(prog, ifindex, mark, in, out, mark_out, action, hook, verdict) \
	expect_tc_at(prog, ifindex, mark, in, out, mark_out, action, hook, verdict, \
		     __FILE__, __LINE__)

static inline void expect_xdp_at(int prog, int ifindex, const struct frame *in, struct frame *out,
			  uint32_t action, int hook, int verdict, const char *file, int line)
{
	struct verdict_snap before;
	uint32_t got;

	snap_verdicts(hook, &before);
	got = run_xdp(prog, ifindex, in, out);
	expect_one_verdict(hook, &before, verdict, xdp_action_name(got), xdp_action_name(action),
			   file, line);
}

static inline void expect_tc_at(int prog, int ifindex, uint32_t mark, const struct frame *in,
			 struct frame *out, uint32_t *mark_out, uint32_t action, int hook,
			 int verdict, const char *file, int line)
{
	struct verdict_snap before;
	uint32_t got;

	snap_verdicts(hook, &before);
	got = run_tc(prog, ifindex, mark, in, out, mark_out);
	expect_one_verdict(hook, &before, verdict, tc_action_name(got), tc_action_name(action),
			   file, line);
}

/* The frame came out exactly as it went in. */
static inline void expect_untouched(const struct frame *got, const struct frame *in)
{
	assert_int_equal(got->len, in->len);
	if (memcmp(got->d, in->d, in->len)) {
		dump_frames(got, in);
		fail_msg("the frame was modified");
	}
}

/* --------------------------------------------------------------- flows */

struct opened {
	int gw;
	uint16_t port;          /* NAT port (echo: identifier), host order */
	struct flow_entry out_e;
	struct frame out;       /* the translated first packet */
};

/* A new flow's first packet from the LAN: forwarded, flow recorded. */
static inline void open_flow(const struct pk *p, struct opened *o)
{
	struct flow_key k = key_of(p);
	struct frame in;

	mk(&in, p);
	assert_int_equal(run_xdp(FX.xdp_lan, FX.lan_if, &in, &o->out), XDP_REDIRECT);
	assert_true(fx_flow(&k, &o->out_e));
	assert_int_equal(o->out_e.dir, FLOW_DIR_OUT);
	o->gw = o->out_e.gw;
	assert_in_range(o->gw, 0, NGW - 1);
	o->port = ntohs(o->out_e.xlate_port);
}

/* Both entries of every flow, to prove that something changed none. */
struct flow_snap {
	int n;
	struct flow_key k[16];
	struct flow_entry e[16];
};

static inline void snap_flows(struct flow_snap *s)
{
	struct flow_key k, *prev = NULL;

	memset(s, 0, sizeof(*s));
	for (int t = 0; t < 2; t++) {
		int fd = FX.m->fd[t ? XM_FLOWS_NEW : XM_FLOWS];

		prev = NULL;
		while (bpf_map_get_next_key(fd, prev, &k) == 0) {
			assert_true(s->n < 16);
			s->k[s->n] = k;
			assert_int_equal(bpf_map_lookup_elem(fd, &k, &s->e[s->n]), 0);
			prev = &s->k[s->n++];
		}
	}
}

static inline void expect_flows_unchanged(const struct flow_snap *before)
{
	struct flow_snap now;

	snap_flows(&now);
	assert_int_equal(now.n, before->n);
	for (int i = 0; i < before->n; i++) {
		struct flow_entry e;

		assert_true(fx_flow(&before->k[i], &e));
		assert_memory_equal(&e, &before->e[i], sizeof(e));
	}
}

static inline struct pk client_syn(uint16_t sport)
{
	struct pk p = {
		.l2 = from_client(), .sa = CLIENT, .da = REMOTE, .proto = PROTO_TCP,
		.sp = sport, .dp = 443, .flags = F_SYN,
	};

	return p;
}


/* The policy tests' setups (test_policy.c, test_policy6.c): the config as it
 * is, or with group 0 sticky by source (300 s). */
static inline void sticky_on(struct xwan_config *cfg)
{
	cfg->groups[0].sticky = true;
	cfg->groups[0].sticky_expire_s = 300;
	cfg->groups[0].sticky_key = STICKY_KEY_SRC;
}

static inline int setup_plain(void **state)
{
	FX_TWEAK = NULL;
	return fx_setup(state);
}

static inline int setup_sticky(void **state)
{
	FX_TWEAK = sticky_on;
	return fx_setup(state);
}

#endif /* XWAN_TEST_CASES_H */
