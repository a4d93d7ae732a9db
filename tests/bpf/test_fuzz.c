// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Packet fuzzing of the five programs through BPF_PROG_TEST_RUN, in the
 * fixture's private namespace (fixture.h: lan0/wan1/wan2, the real loader,
 * maps filled from a real config, plus two port forwards on isp1 written
 * here: tcp 2222 -> 10.1.0.2:22, udp 5353 -> 10.1.0.3:53).
 *
 * A seeded generator builds a bounded stream of frames per program from
 * live state (12 flows opened through xdp_lan, TCP ones established or
 * closing, half of them with ports NAT must change; 4 host sessions
 * through tc_wan_egress; re-seeded every 1500 frames and whenever the table
 * passes 700 entries): valid packets of live flows in the program's
 * direction, new and unsolicited flows, every TCP flag combination in turn,
 * truncations at every length in turn (tot_len left lying or made to
 * match), IHL 0..15 in turn, IP options (valid, lying lengths, junk),
 * fragments (first, later of known and unknown ids, overlapping, odd),
 * total lengths smaller and bigger than the frame, ICMP errors quoting live
 * flows and host sessions, garbage, truncated or odd quotes (IHL, version,
 * fragment, protocol, tot_len), errors nested in errors, VLAN and QinQ
 * tags, other ethertypes, random bytes, and bit flips / byte changes of
 * valid frames with checksums fixed up or left wrong. Marks, ingress and
 * egress devices vary as they would (and sometimes as they would not).
 *
 * Every frame is checked against the design's invariants:
 *
 *   action    XDP: PASS, DROP or REDIRECT (never ABORTED or TX); tc: OK or
 *             SHOT, and TC_ACT_REDIRECT only from tc_wan_egress;
 *   account   exactly one verdict counter moves, the hook's own, by one, and
 *             it agrees with the action (drop <-> DROP/SHOT, forward <->
 *             REDIRECT in XDP, pass <-> PASS, rerouted <-> TC_ACT_REDIRECT);
 *   flows     the flows map's key set (read whole, every frame) changes only
 *             by what the frame may create: from a LAN, its own tuple and
 *             the reply entry pointing back at it, only for an opening
 *             packet (SYN, UDP, echo request) from a LAN source to a
 *             destination that is not the kernel's; from a WAN, nothing but
 *             the two tuples of a configured port forward the frame is
 *             addressed to; leaving a WAN, only the reply tuple (LOCAL) of a
 *             session of the host's own (no ingress device), which needs
 *             ports; nothing is deleted but the old reply entry of a LAN
 *             tuple that is reopened;
 *   errors    an ICMP error changes no flow's state or flags;
 *   bytes     nothing changes length; XDP_PASS hands the kernel the frame
 *             untouched; otherwise only the bytes NAT and routing own may
 *             change (MACs and TTL only on XDP_REDIRECT; nothing in the
 *             Ethernet padding past tot_len);
 *   csums     every checksum's one's complement residual (IP header, L4
 *             with pseudo header, an ICMP error's quoted IP header and
 *             quoted L4) is the same after as before: a valid checksum stays
 *             valid, a broken one is not "repaired", UDP's "no checksum" (0)
 *             stays 0; a REDIRECTed frame has a valid IP header checksum
 *             (RFC 1812 5.2.2: a router verifies it, as Linux does), all its
 *             checksums valid if they were on input (pkt.h's verifier, from
 *             scratch), and its TTL one less; tc never touches the TTL;
 *   mark      tc_lan_ingress sets only the fwmark bits, only when it hands
 *             the packet to the kernel for a flow;
 *   liveness  every test run returns (a watchdog thread aborts with the frame
 *             after 20 s without progress).
 *
 * Frames under 14 bytes go to XDP as metadata (run_xdp_short; recent kernels
 * refuse them), and the skb test run refuses runts (see tc_refuses()): those
 * are counted as refused, not run. Violations are collected per class
 * (count, first frame in and out, what was wrong) and reported together at
 * the end of each test, which then fails. The end of each test prints the
 * frames per program, the actions and the verdict histogram.
 *
 *   build/tests/test_fuzz                      all programs (root)
 *   XWAN_FUZZ_SEED=0x1234 build/tests/test_fuzz 'test_fuzz_xdp_wan'
 *   XWAN_FUZZ_ITERS=200000 build/tests/test_fuzz
 *
 * Each test's generator is seeded from XWAN_FUZZ_SEED (default: the time)
 * and the test's index, so a filtered run replays the same stream. NAT ports
 * the kernel picks at random (when the client's port is outside the range
 * or taken) can differ between runs, so a replay repeats the generator's
 * choices, not always every byte. ~20000 frames per program take ~3 s.
 */
/* The fixture's helpers this file has no use for are fine unused. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#include "tests/bpf/fixture.h"
#pragma GCC diagnostic pop

#include <inttypes.h>
#include <linux/pkt_cls.h>
#include <pthread.h>
#include <time.h>

#define FZ_DEFAULT_ITERS 20000
#define FZ_WATCHDOG_S    20
#define FZ_MAXF          4096   /* flow entries read per frame */
#define FZ_RESET_AT      700    /* clear the flows and re-seed beyond this */
#define FZ_RESEED_EVERY  1500
#define FZ_NLIVE         12
#define FZ_NHOST         4

static uint64_t FZ_SEED;
static long FZ_ITERS;

/* ------------------------------------------------------------ random */

static uint64_t RNG;

static uint64_t splitmix64(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t r64(void)
{
	return splitmix64(&RNG);
}

static uint32_t rnd(uint32_t n)
{
	return n ? (uint32_t)(r64() % n) : 0;
}

static bool chance(unsigned pct)
{
	return rnd(100) < pct;
}

static void rnd_bytes(uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)r64();
}

/* ------------------------------------------------------------ the lab */

#define LAN_NET    ip4("10.1.0.0")
#define LAN_MASK   htonl(0xffffff00)
#define LAN_HOST   ip4("10.1.0.1")
#define FWD_TCP_PORT 2222       /* isp1 tcp 2222 -> 10.1.0.2:22 */
#define FWD_UDP_PORT 5353       /* isp1 udp 5353 -> 10.1.0.3:53 */

struct fwd {
	uint32_t addr;          /* the WAN address it arrives on */
	uint16_t port;
	uint8_t proto;
	int gw;
	uint32_t to_addr;
	uint16_t to_port;
};

static struct fwd FWDS[2];
static uint32_t GW_MARK[NGW];

static bool in_lan(uint32_t a)
{
	return (a & LAN_MASK) == LAN_NET;
}

static bool is_wan_addr(uint32_t a)
{
	for (int i = 0; i < NGW; i++)
		if (a == FX.nat_addr[i])
			return true;
	return false;
}

/* The host's addresses as dst_policy has them (DST_ACTION_LOCAL). */
static bool host_local(uint32_t a)
{
	uint32_t h = ntohl(a);

	return is_wan_addr(a) || a == LAN_HOST || h == 0xffffffff || (h >> 28) == 0xe ||
	       (h >> 24) == 127 || a == ip4("10.1.0.255") || a == ip4("203.0.113.255") ||
	       a == ip4("198.51.100.255");
}

/* Destinations dst_policy sends to the kernel: no flow is ever made for them. */
static bool kernel_bound(uint32_t a)
{
	uint32_t h = ntohl(a);

	return in_lan(a) || is_wan_addr(a) || h == 0xffffffff || (h >> 28) == 0xe ||
	       (h >> 24) == 127 || a == ip4("203.0.113.255") || a == ip4("198.51.100.255");
}

static uint32_t rnd_remote(void)
{
	switch (rnd(12)) {
	case 0: case 1: case 2: case 3:
		return htonl(0xc0000200 | rnd(256));            /* 192.0.2.x */
	case 4:
		return htonl(0xc6120000 | rnd(65536));          /* 198.18.x.x */
	case 5:
		return (uint32_t)r64();
	case 6:
		return htonl(0x0a010000 | rnd(256));            /* the LAN */
	case 7:
		return rnd(2) ? FX.nat_addr[rnd(NGW)] : LAN_HOST;
	case 8:
		return rnd(2) ? htonl(0xcb007100 | rnd(256))   /* the WANs' subnets */
			      : htonl(0xc6336400 | rnd(256));
	case 9: {
		static const uint32_t sp[] = { 0, 0xffffffff, 0xe0000001, 0x7f000001,
					       0xcb0071ff, 0xc63364ff, 0x0a0100ff, 0x08080808 };
		return htonl(sp[rnd(8)]);
	}
	default:
		return htonl(0x01010101 + rnd(1000));
	}
}

static uint16_t rnd_port(void)
{
	static const uint16_t sp[] = { 0, 1, 22, 53, 80, 443, 1023, 1024, 1025, 65535,
				       FWD_TCP_PORT, FWD_UDP_PORT };

	return chance(25) ? sp[rnd(sizeof(sp) / sizeof(sp[0]))] : (uint16_t)r64();
}

/* ------------------------------------------------------------ packets */

/* One packet, built from scratch; the generator perturbs it afterwards. */
struct pspec {
	uint8_t dmac[6], smac[6];
	uint32_t sa, da;
	uint8_t proto, ttl, tos;
	uint16_t id, frag;
	uint8_t optlen;
	uint8_t opts[40];
	uint16_t sp, dp;        /* TCP/UDP */
	uint8_t flags;          /* TCP */
	uint32_t seq, ack;
	uint8_t tcpopt;         /* TCP option bytes, multiple of 4 */
	uint8_t type, code;     /* ICMP */
	uint32_t rest;
	uint8_t pl[1200];       /* payload; ICMP error: the quote; raw: the whole L4 */
	size_t n;
	bool no_csum;           /* UDP */
	bool raw;
};

static void spec_init(struct pspec *s, const uint8_t dmac[6], const uint8_t smac[6],
		      uint32_t sa, uint32_t da, uint8_t proto)
{
	memset(s, 0, offsetof(struct pspec, pl));
	s->n = 0;
	s->no_csum = false;
	s->raw = false;
	memcpy(s->dmac, dmac, 6);
	memcpy(s->smac, smac, 6);
	s->sa = sa;
	s->da = da;
	s->proto = proto;
	s->ttl = chance(5) ? (uint8_t)rnd(3) : (uint8_t)(2 + rnd(254));
	s->id = (uint16_t)r64();
	s->seq = (uint32_t)r64();
	s->ack = (uint32_t)r64();
	if (chance(30)) {
		s->n = rnd(64);
		rnd_bytes(s->pl, s->n);
	}
}

static void build(struct frame *f, const struct pspec *s)
{
	uint8_t l4[FRAME_MAX];
	size_t n;
	struct ip4_spec ip = {
		.saddr = s->sa, .daddr = s->da, .proto = s->proto, .ttl = s->ttl,
		.tos = s->tos, .id = s->id, .frag = s->frag, .optlen = s->optlen,
		.opts = s->opts,
	};

	if (s->raw) {
		memcpy(l4, s->pl, s->n);
		n = s->n;
	} else if (s->proto == PROTO_TCP) {
		uint8_t tmp[FRAME_MAX];

		/* Options first, then the payload; l4_tcp sums the lot. */
		for (size_t i = 0; i < s->tcpopt; i++)
			tmp[i] = i == 0 ? 2 : i == 1 ? 4 : (i < 4 ? 0x05 : 1);
		memcpy(tmp + s->tcpopt, s->pl, s->n);
		n = l4_tcp(l4, s->sa, s->da, s->sp, s->dp, s->flags, s->seq, s->ack, tmp,
			   s->tcpopt + s->n);
		l4[12] = (uint8_t)((20 + s->tcpopt) / 4 << 4);
		wr16(l4 + 16, 0);
		wr16(l4 + 16, csum_l4(s->sa, s->da, PROTO_TCP, l4, n));
	} else if (s->proto == PROTO_UDP) {
		n = l4_udp(l4, s->sa, s->da, s->sp, s->dp, s->pl, s->n, s->no_csum);
	} else if (s->proto == PROTO_ICMP) {
		n = l4_icmp(l4, s->type, s->code, s->rest, s->pl, s->n);
	} else {
		memcpy(l4, s->pl, s->n);
		n = s->n;
	}
	frame_ipv4(f, s->dmac, s->smac, &ip, l4, n);
}

/* The IP datagram of a frame (what an ICMP error quotes). */
static void quote_of(struct pspec *err, const struct frame *q, size_t qlen)
{
	size_t avail = q->len > ETH_LEN ? q->len - ETH_LEN : 0;

	if (qlen == 0 || qlen > avail)
		qlen = avail;
	if (qlen > sizeof(err->pl))
		qlen = sizeof(err->pl);
	memcpy(err->pl, q->d + ETH_LEN, qlen);
	err->n = qlen;
}

/* Recompute the IP header and L4 checksums over whatever is there. */
static void fix_csums(struct frame *f)
{
	uint8_t *ip = f->d + ETH_LEN;
	size_t hl, tot, end, n;
	uint8_t *l4;

	if (f->len < ETH_LEN + 20 || rd16(f->d + 12) != 0x0800)
		return;
	hl = (size_t)(ip[0] & 0xf) * 4;
	if (hl < 20 || ETH_LEN + hl > f->len)
		return;
	wr16(ip + 10, 0);
	wr16(ip + 10, csum_inet(ip, hl));
	if (rd16(ip + 6) & 0x1fff)
		return;
	tot = rd16(ip + 2);
	end = tot >= hl && ETH_LEN + tot <= f->len ? ETH_LEN + tot : f->len;
	l4 = ip + hl;
	n = end - (ETH_LEN + hl);
	switch (ip[9]) {
	case PROTO_TCP:
		if (n >= 18) {
			wr16(l4 + 16, 0);
			wr16(l4 + 16, csum_l4(rdaddr(ip + 12), rdaddr(ip + 16), PROTO_TCP, l4, n));
		}
		break;
	case PROTO_UDP:
		if (n >= 8 && rd16(l4 + 6)) {
			uint16_t c;

			wr16(l4 + 6, 0);
			c = csum_l4(rdaddr(ip + 12), rdaddr(ip + 16), PROTO_UDP, l4, n);
			wr16(l4 + 6, c ? c : 0xffff);
		}
		break;
	case PROTO_ICMP:
		if (n >= 4) {
			wr16(l4 + 2, 0);
			wr16(l4 + 2, csum_inet(l4, n));
		}
		break;
	}
}

/* ------------------------------------------------------------ geometry */

/*
 * What a frame is, read independently of the dataplane's parser and more
 * permissively: the tuple a flow could be keyed by and where the bytes NAT
 * may rewrite and the checksums lie.
 */
struct geo {
	bool ipv4;              /* IPv4 ethertype, version 4, IHL >= 5, header in the frame */
	size_t hl, end;         /* header length; end of the datagram (tot_len, or the frame) */
	bool sane;              /* tot_len >= hl and within the frame */
	uint8_t proto, ttl;
	bool later;             /* fragment offset > 0 */
	bool first;             /* MF with offset 0 */
	size_t l4;
	size_t n4;              /* L4 bytes present (up to end) */
	bool tuple;             /* a flow key can be formed */
	struct flow_key key;
	uint8_t tcp_flags;
	bool icmp_err, echo_req, echo_rep;
	/* an ICMP error's quote */
	bool q_ip;              /* quoted IP header present in full */
	size_t q, qhl, ql4;
	uint8_t qproto;
	bool q_later;
};

static bool icmp_error_type(uint8_t t)
{
	return t == 3 || t == 4 || t == 11 || t == 12;
}

/* Queries with an identifier: echo, timestamp, information, address mask. */
static bool icmp_query_req(uint8_t t)
{
	return t == ICMPT_ECHO || t == 13 || t == 15 || t == 17;
}

static bool icmp_query_rep(uint8_t t)
{
	return t == ICMPT_ECHOREPLY || t == 14 || t == 16 || t == 18;
}

/* NATed by address only: the whole key is in the IP header, every fragment has it. */
static bool addr_only(uint8_t proto)
{
	return proto != PROTO_TCP && proto != PROTO_UDP && proto != PROTO_ICMP;
}

static void geometry(const struct frame *f, struct geo *g)
{
	const uint8_t *d = f->d, *ip = d + ETH_LEN, *l4;
	size_t tot;

	memset(g, 0, sizeof(*g));
	if (f->len < ETH_LEN + 20 || rd16(d + 12) != 0x0800 || (ip[0] >> 4) != 4)
		return;
	g->hl = (size_t)(ip[0] & 0xf) * 4;
	if (g->hl < 20 || ETH_LEN + g->hl > f->len)
		return;
	g->ipv4 = true;
	tot = rd16(ip + 2);
	g->sane = tot >= g->hl && ETH_LEN + tot <= f->len;
	g->end = g->sane ? ETH_LEN + tot : f->len;
	g->proto = ip[9];
	g->ttl = ip[8];
	g->later = (rd16(ip + 6) & 0x1fff) != 0;
	g->first = !g->later && (rd16(ip + 6) & IPF_MF);
	g->l4 = ETH_LEN + g->hl;
	g->n4 = g->end > g->l4 ? g->end - g->l4 : 0;
	g->key.saddr = rdaddr(ip + 12);
	g->key.daddr = rdaddr(ip + 16);
	g->key.proto = g->proto;
	g->tuple = addr_only(g->proto);
	if (g->later)
		return;
	l4 = d + g->l4;
	switch (g->proto) {
	case PROTO_TCP:
		if (g->n4 >= 14) {
			g->tcp_flags = l4[13];
			g->tuple = true;
		}
		/* fallthrough */
	case PROTO_UDP:
		if (g->n4 >= 4) {
			memcpy(&g->key.sport, l4, 2);
			memcpy(&g->key.dport, l4 + 2, 2);
			g->tuple = g->tuple || g->proto == PROTO_UDP;
		}
		break;
	case PROTO_ICMP:
		if (g->n4 < 8)
			break;
		if (icmp_query_req(l4[0])) {
			g->echo_req = g->tuple = true;
			memcpy(&g->key.sport, l4 + 4, 2);
		} else if (icmp_query_rep(l4[0])) {
			g->echo_rep = g->tuple = true;
			memcpy(&g->key.dport, l4 + 4, 2);
		} else if (icmp_error_type(l4[0])) {
			g->icmp_err = true;
			g->q = g->l4 + 8;
			if (g->n4 >= 8 + 20) {
				g->qhl = (size_t)(d[g->q] & 0xf) * 4;
				if (g->qhl >= 20 && g->q + g->qhl <= g->end) {
					g->q_ip = true;
					g->qproto = d[g->q + 9];
					g->q_later = (rd16(d + g->q + 6) & 0x1fff) != 0;
					g->ql4 = g->q + g->qhl;
				}
			}
		}
		break;
	}
}

/* Bytes of `in` a program may change (NAT, and routing on XDP_REDIRECT). */
static void may_change(const struct frame *in, const struct geo *g, bool routed, uint8_t *m)
{
	memset(m, 0, in->len);
	size_t lim = in->len;   /* Ethernet padding past tot_len is never NAT's */
#define MARK(off, n) do {                                                        \
	for (size_t i_ = (off); i_ < (size_t)(off) + (n) && i_ < lim; i_++)      \
		m[i_] = 1;                                                       \
} while (0)
	if (routed) {
		MARK(0, 12);
		MARK(ETH_LEN + 8, 1);
	}
	if (!g->ipv4)
		return;
	if (g->sane)
		lim = g->end;
	MARK(ETH_LEN + 10, 10);         /* checksum, addresses */
	if (g->later)
		return;
	switch (g->proto) {
	case PROTO_TCP:
		MARK(g->l4, 4);
		MARK(g->l4 + 16, 2);
		break;
	case PROTO_UDP:
		MARK(g->l4, 4);
		MARK(g->l4 + 6, 2);
		break;
	case PROTO_ICMP:
		MARK(g->l4 + 2, 4);
		break;
	}
	if (!g->icmp_err || g->n4 < 8 + 20)
		return;
	MARK(g->q + 10, 10);
	if (!g->q_ip)
		return;
	switch (g->qproto) {
	case PROTO_TCP:
		MARK(g->ql4, 4);
		MARK(g->ql4 + 16, 2);
		break;
	case PROTO_UDP:
		MARK(g->ql4, 8);
		break;
	case PROTO_ICMP:
		MARK(g->ql4 + 2, 4);
		break;
	}
#undef MARK
}

/* ---------------------------------------------------------- residuals */

/*
 * The one's complement residual of each checksum a frame carries (0xffff,
 * or its twin 0, when right), at the offsets of the input's geometry:
 * incremental updates keep it, whether or not it was right to begin with.
 * -1: not present; -2: UDP "no checksum".
 */
enum { R_IP, R_L4, R_QIP, R_QL4, R_MAX };

static int resid_l4(const uint8_t *d, size_t l4, size_t n, uint8_t proto, uint32_t sa,
		    uint32_t da, size_t pseudo_len)
{
	uint64_t sum;

	switch (proto) {
	case PROTO_TCP:
		if (n < 18)
			return -1;
		sum = cs_add(cs_pseudo(sa, da, PROTO_TCP, pseudo_len), d + l4, n);
		break;
	case PROTO_UDP:
		if (n < 8)
			return -1;
		if (rd16(d + l4 + 6) == 0)
			return -2;
		sum = cs_add(cs_pseudo(sa, da, PROTO_UDP, pseudo_len), d + l4, n);
		break;
	case PROTO_ICMP:
		if (n < 4)
			return -1;
		sum = cs_add(0, d + l4, n);
		break;
	default:
		return -1;
	}
	return cs_fold(sum) % 0xffff;
}

static void residuals(const struct frame *f, const struct geo *g, int r[R_MAX])
{
	const uint8_t *d = f->d;

	for (int i = 0; i < R_MAX; i++)
		r[i] = -1;
	if (!g->ipv4)
		return;
	r[R_IP] = cs_fold(cs_add(0, d + ETH_LEN, g->hl)) % 0xffff;
	if (g->later)
		return;
	r[R_L4] = resid_l4(d, g->l4, g->n4, g->proto, rdaddr(d + ETH_LEN + 12),
			   rdaddr(d + ETH_LEN + 16), g->n4);
	if (!g->q_ip)
		return;
	r[R_QIP] = cs_fold(cs_add(0, d + g->q, g->qhl)) % 0xffff;
	if (g->q_later || g->ql4 > g->end)
		return;
	r[R_QL4] = resid_l4(d, g->ql4, g->end - g->ql4, g->qproto, rdaddr(d + g->q + 12),
			    rdaddr(d + g->q + 16), g->end - g->ql4);
}

/* ------------------------------------------------------------- flows */

struct fent {
	struct flow_key k;
	struct flow_entry e;
};

struct fsnap {
	int n;
	struct fent f[FZ_MAXF];
};

static struct fsnap SNAP[2];
static int SNAP_CUR;            /* SNAP[SNAP_CUR]: the table now */
static struct flow_key BKEYS[FZ_MAXF];
static struct flow_entry BVALS[FZ_MAXF];

static int key_cmp(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct flow_key));
}

static void read_flows(struct fsnap *s)
{
	__u32 out_batch = 0, count;
	void *in;
	int rc, n = 0;
	LIBBPF_OPTS(bpf_map_batch_opts, o);

	for (int t = 0; t < 2; t++) {
		in = NULL;
		do {
			count = (__u32)(FZ_MAXF - n);
			if (!count)
				fail_msg("more than %d flow entries", FZ_MAXF);
			rc = bpf_map_lookup_batch(FX.m->fd[t ? XM_FLOWS_NEW : XM_FLOWS], in,
						  &out_batch, BKEYS + n, BVALS + n, &count, &o);
			if (rc && rc != -ENOENT)
				fail_msg("flows: lookup_batch: %s", strerror(-rc));
			n += (int)count;
			in = &out_batch;
		} while (rc == 0);
	}
	for (int i = 0; i < n; i++) {
		s->f[i].k = BKEYS[i];
		s->f[i].e = BVALS[i];
	}
	s->n = n;
	qsort(s->f, (size_t)n, sizeof(s->f[0]), key_cmp);
}

static const struct fent *snap_find(const struct fsnap *s, const struct flow_key *k)
{
	return bsearch(k, s->f, (size_t)s->n, sizeof(s->f[0]), key_cmp);
}

static bool key_eq(const struct flow_key *a, const struct flow_key *b)
{
	return a->saddr == b->saddr && a->daddr == b->daddr && a->sport == b->sport &&
	       a->dport == b->dport && a->proto == b->proto;
}

static const char *key_str(const struct flow_key *k, char *buf, size_t len)
{
	char a[16], b[16];

	snprintf(buf, len, "%s:%u > %s:%u proto %u", ip4_str(k->saddr, a), ntohs(k->sport),
		 ip4_str(k->daddr, b), ntohs(k->dport), k->proto);
	return buf;
}

/* --------------------------------------------------------- verdicts */

static uint64_t VCUR[HOOK_MAX * V_MAX];
static __u64 *VBUF;

/* Add one verdict map's counters (summed over CPUs) into v. */
static void read_verdict_map(int fd, uint64_t *v)
{
	enum { N = HOOK_MAX * V_MAX };
	static __u32 keys[N];
	__u32 out_batch = 0, count = N;
	LIBBPF_OPTS(bpf_map_batch_opts, o);
	int rc;

	if (!VBUF)
		VBUF = calloc((size_t)N * (size_t)FX.ncpu, sizeof(__u64));
	assert_non_null(VBUF);
	rc = bpf_map_lookup_batch(fd, NULL, &out_batch, keys, VBUF, &count, &o);
	if ((rc && rc != -ENOENT) || count != N) {
		/* No batch support: one element at a time. */
		for (int i = 0; i < N; i++) {
			__u64 s = 0;

			assert_int_equal(xwan_percpu_sum(fd, (__u32)i, &s, sizeof(s)), 0);
			v[i] += s;
		}
		return;
	}
	for (int i = 0; i < N; i++) {
		uint64_t s = 0;

		for (int c = 0; c < FX.ncpu; c++)
			s += VBUF[(size_t)i * (size_t)FX.ncpu + (size_t)c];
		v[keys[i]] += s;
	}
}

/* Every frame ends in one verdict of its hook: IPv4's map or IPv6's (verdicts6). */
static void read_verdicts(uint64_t *v)
{
	memset(v, 0, sizeof(uint64_t) * HOOK_MAX * V_MAX);
	read_verdict_map(FX.m->fd[XM_VERDICTS], v);
	read_verdict_map(FX.m->fd[XM_VERDICTS6], v);
}

static const char *const VNAME[V_MAX] = {
#define VNAME_STR(name, verdict, reason) [V_##name] = verdict "/" reason,
	XWAN_VERDICTS(VNAME_STR)
#undef VNAME_STR
};

static const char *const HOOK_NAME[HOOK_MAX] = {
#define HOOK_STR(name, label) [HOOK_##name] = label,
	XWAN_HOOKS(HOOK_STR)
#undef HOOK_STR
};

/* ------------------------------------------------------ the programs */

enum side { SIDE_LAN, SIDE_WAN, SIDE_EGRESS };

struct prog {
	int hook;
	bool xdp;
	enum side side;
};

static const struct prog PROGS[HOOK_MAX] = {
	[HOOK_XDP_LAN]    = { HOOK_XDP_LAN,    true,  SIDE_LAN },
	[HOOK_XDP_WAN]    = { HOOK_XDP_WAN,    true,  SIDE_WAN },
	[HOOK_TC_LAN_IN]  = { HOOK_TC_LAN_IN,  false, SIDE_LAN },
	[HOOK_TC_WAN_IN]  = { HOOK_TC_WAN_IN,  false, SIDE_WAN },
	[HOOK_TC_WAN_OUT] = { HOOK_TC_WAN_OUT, false, SIDE_EGRESS },
};

static int prog_fd(int hook)
{
	switch (hook) {
	case HOOK_XDP_LAN: return FX.xdp_lan;
	case HOOK_XDP_WAN: return FX.xdp_wan;
	case HOOK_TC_LAN_IN: return FX.tc_lan_in;
	case HOOK_TC_WAN_IN: return FX.tc_wan_in;
	default: return FX.tc_wan_out;
	}
}

/* A test run that reports errors instead of failing (short frames). */
static int fz_run(int hook, int ifindex, uint32_t iif, uint32_t mark, const struct frame *in,
		  struct frame *out, uint32_t *retval, uint32_t *mark_out)
{
	struct xdp_md xctx = { .data_end = (__u32)in->len, .ingress_ifindex = (__u32)ifindex };
	struct __sk_buff sctx = { .mark = mark, .ifindex = (__u32)ifindex,
				  .ingress_ifindex = iif };
	struct __sk_buff sout = {};
	LIBBPF_OPTS(bpf_test_run_opts, opts,
		    .data_in = in->d, .data_size_in = (__u32)in->len,
		    .data_out = out->d, .data_size_out = sizeof(out->d),
		    .repeat = 1);
	int rc;

	if (PROGS[hook].xdp) {
		opts.ctx_in = &xctx;
		opts.ctx_size_in = sizeof(xctx);
	} else {
		opts.ctx_in = &sctx;
		opts.ctx_size_in = sizeof(sctx);
		opts.ctx_out = &sout;
		opts.ctx_size_out = sizeof(sout);
	}
	rc = bpf_prog_test_run_opts(prog_fd(hook), &opts);
	if (rc)
		return rc;
	out->len = opts.data_size_out;
	*retval = opts.retval;
	*mark_out = PROGS[hook].xdp ? 0 : sout.mark;
	return 0;
}

/* ------------------------------------------------------- live state */

struct live {
	uint8_t proto;          /* TCP, UDP, ICMP echo */
	uint32_t client, remote;
	uint16_t cport, rport;  /* echo: cport is the id */
	int gw;
	uint16_t nport;         /* NAT port (echo: NAT id) */
};

struct hsess {
	uint8_t proto;
	int wan;
	uint32_t remote;
	uint16_t lport, rport;
};

struct gen {
	struct live live[FZ_NLIVE];
	int nlive;
	struct hsess hs[FZ_NHOST];
	int nhs;
	uint16_t ids[8];        /* recent first-fragment ids */
	unsigned sweep_flags, sweep_len, sweep_ihl;
	uint64_t n_reset;
};

static struct gen G;

static void mac_client(uint8_t m[6], uint32_t client)
{
	memcpy(m, MAC_CLIENT, 6);
	m[5] = (uint8_t)(ntohl(client) & 0xff);
}

/* A live flow's packet as the client sends it (LAN side). */
static void live_orig(struct pspec *s, const struct live *l)
{
	uint8_t cm[6];

	mac_client(cm, l->client);
	spec_init(s, FX.lan_mac, cm, l->client, l->remote, l->proto);
	if (l->proto == PROTO_ICMP) {
		s->type = ICMPT_ECHO;
		s->rest = (uint32_t)l->cport << 16 | rnd(65536);
	} else {
		s->sp = l->cport;
		s->dp = l->rport;
		s->flags = F_ACK | (chance(30) ? F_PSH : 0);
	}
}

/* Its reply as the remote sends it (WAN side, to the NAT address). */
static void live_reply(struct pspec *s, const struct live *l, int gw)
{
	spec_init(s, FX.wan_mac[gw], MAC_GW[gw], l->remote, FX.nat_addr[l->gw], l->proto);
	if (l->proto == PROTO_ICMP) {
		s->type = ICMPT_ECHOREPLY;
		s->rest = (uint32_t)l->nport << 16 | rnd(65536);
	} else {
		s->sp = l->rport;
		s->dp = l->nport;
		s->flags = F_ACK | (chance(30) ? F_PSH : 0);
	}
}

/* The client's packet as it left the WAN, translated (what a router quotes). */
static void live_sent(struct pspec *s, const struct live *l)
{
	live_orig(s, l);
	s->sa = FX.nat_addr[l->gw];
	if (l->proto == PROTO_ICMP)
		s->rest = (uint32_t)l->nport << 16 | (s->rest & 0xffff);
	else
		s->sp = l->nport;
}

/* The reply as it reached the client, translated (what the client quotes). */
static void live_delivered(struct pspec *s, const struct live *l)
{
	live_reply(s, l, l->gw);
	s->da = l->client;
	if (l->proto == PROTO_ICMP)
		s->rest = (uint32_t)l->cport << 16 | (s->rest & 0xffff);
	else
		s->dp = l->cport;
}

/* The host's own packet of a session (leaving a WAN). */
static void host_orig(struct pspec *s, const struct hsess *h, int on_wan)
{
	spec_init(s, MAC_GW[on_wan], FX.wan_mac[on_wan], FX.nat_addr[h->wan], h->remote,
		  h->proto);
	if (h->proto == PROTO_ICMP) {
		s->type = ICMPT_ECHO;
		s->rest = (uint32_t)h->lport << 16 | 1;
	} else {
		s->sp = h->lport;
		s->dp = h->rport;
		s->flags = F_SYN;
	}
}

static void host_reply(struct pspec *s, const struct hsess *h, int gw)
{
	spec_init(s, FX.wan_mac[gw], MAC_GW[gw], h->remote, FX.nat_addr[h->wan], h->proto);
	if (h->proto == PROTO_ICMP) {
		s->type = ICMPT_ECHOREPLY;
		s->rest = (uint32_t)h->lport << 16 | 1;
	} else {
		s->sp = h->rport;
		s->dp = h->lport;
		s->flags = F_SYN | F_ACK;
	}
}

static void add_forwards(void)
{
	FWDS[0] = (struct fwd){ FX.nat_addr[0], FWD_TCP_PORT, PROTO_TCP, 0, ip4("10.1.0.2"), 22 };
	FWDS[1] = (struct fwd){ FX.nat_addr[0], FWD_UDP_PORT, PROTO_UDP, 0, ip4("10.1.0.3"), 53 };
	for (int i = 0; i < 2; i++) {
		struct port_fwd_key k = { .addr = FWDS[i].addr, .port = htons(FWDS[i].port),
					  .proto = FWDS[i].proto };
		struct port_fwd v = { .to_addr = FWDS[i].to_addr, .to_port = htons(FWDS[i].to_port),
				      .gw = (uint8_t)FWDS[i].gw };

		assert_int_equal(bpf_map_update_elem(FX.m->fd[XM_PORT_FWDS], &k, &v, BPF_ANY), 0);
	}
	for (int i = 0; i < NGW; i++) {
		struct gw_info gi;
		uint32_t k = (uint32_t)i;

		assert_int_equal(bpf_map_lookup_elem(FX.m->fd[XM_GATEWAYS], &k, &gi), 0);
		GW_MARK[i] = gi.fwmark;
	}
}

static uint32_t run_seed(int hook, int ifindex, uint32_t mark, const struct pspec *s)
{
	struct frame f, out;
	uint32_t ret, mo;

	build(&f, s);
	assert_int_equal(fz_run(hook, ifindex, 0, mark, &f, &out, &ret, &mo), 0);
	return ret;
}

/*
 * Empty the flow and fragment tables and open the live flows again: a few
 * TCP connections (established, half-open, closing), UDP and echo flows
 * through both gateways, and host sessions on both WANs.
 */
static void fz_seed(void)
{
	struct flow_gauge zg = {};
	uint32_t zero = 0;

	assert_int_equal(fx_clear_hash(FX.m->fd[XM_FLOWS]), 0);
	assert_int_equal(fx_clear_hash(FX.m->fd[XM_FLOWS_NEW]), 0);
	assert_int_equal(fx_clear_hash(FX.m->fd[XM_SRC_BUDGET]), 0);
	assert_int_equal(fx_clear_hash(FX.m->fd[XM_FRAGS]), 0);
	assert_int_equal(bpf_map_update_elem(FX.m->fd[XM_FLOW_GAUGE], &zero, &zg, BPF_ANY), 0);
	G.nlive = 0;
	for (int i = 0; i < FZ_NLIVE; i++) {
		struct live *l = &G.live[G.nlive];
		struct flow_entry e;
		struct flow_key k;
		struct pspec s;

		l->proto = i % 3 == 0 ? PROTO_TCP : i % 3 == 1 ? PROTO_UDP : PROTO_ICMP;
		l->client = htonl(0x0a010002 + (uint32_t)(i % 6));
		l->remote = rnd(2) ? htonl(0xc0000200 | (1 + rnd(250)))
				   : htonl(0xc6120000 | rnd(65536));
		/* Below the NAT range the port (or echo id) is always translated. */
		l->cport = (uint16_t)(i & 1 ? 1 + rnd(1023) : 1024 + rnd(64000));
		l->rport = l->proto == PROTO_ICMP ? 0 : (uint16_t)(rnd(2) ? 443 : 1 + rnd(65000));
		live_orig(&s, l);
		s.ttl = 64;
		s.n = 0;
		s.frag = 0;
		if (l->proto == PROTO_TCP)
			s.flags = F_SYN;
		if (run_seed(HOOK_XDP_LAN, FX.lan_if, 0, &s) != XDP_REDIRECT)
			fail_msg("seeding: a live flow's first packet was not forwarded");
		k = l->proto == PROTO_ICMP ? fkey(l->client, l->remote, l->cport, 0, PROTO_ICMP)
					   : fkey(l->client, l->remote, l->cport, l->rport, l->proto);
		assert_true(fx_flow(&k, &e));
		l->gw = e.gw;
		l->nport = ntohs(e.xlate_port);
		G.nlive++;
		if (l->proto == PROTO_TCP && i % 4 != 0) {
			live_reply(&s, l, l->gw);
			s.ttl = 60;
			s.n = 0;
			s.frag = 0;
			s.flags = F_SYN | F_ACK;
			if (run_seed(HOOK_XDP_WAN, FX.wan_if[l->gw], 0, &s) != XDP_REDIRECT)
				fail_msg("seeding: a SYN-ACK was not forwarded");
		}
		if (l->proto == PROTO_TCP && i % 4 == 3) {
			live_orig(&s, l);
			s.ttl = 64;
			s.n = 0;
			s.frag = 0;
			s.flags = F_FIN | F_ACK;
			run_seed(HOOK_XDP_LAN, FX.lan_if, 0, &s);
		}
	}
	G.nhs = 0;
	for (int i = 0; i < FZ_NHOST; i++) {
		struct hsess *h = &G.hs[G.nhs];
		struct pspec s;

		h->proto = i == 3 ? PROTO_ICMP : i == 2 ? PROTO_UDP : PROTO_TCP;
		h->wan = i & 1;
		h->remote = htonl(0xc0000200 | (1 + rnd(250)));
		h->lport = (uint16_t)(30000 + rnd(30000));
		h->rport = h->proto == PROTO_ICMP ? 0 : 443;
		host_orig(&s, h, h->wan);
		s.ttl = 64;
		s.n = 0;
		s.frag = 0;
		if (run_seed(HOOK_TC_WAN_OUT, FX.wan_if[h->wan], 0, &s) != TC_ACT_OK)
			fail_msg("seeding: a host session's packet was not passed");
		G.nhs++;
	}
	G.n_reset++;
}

/* ------------------------------------------------------ the generator */

enum kind {
	K_VALID, K_FLAGS, K_TRUNC, K_IHL, K_OPTS, K_FRAG, K_TOTLEN, K_MUTATE, K_VLAN,
	K_NONIP, K_RANDOM, K_QUOTE, K_NESTED, K_MAX
};

static const char *const KIND_NAME[K_MAX] = {
	"valid", "tcp_flags", "truncated", "ihl", "ip_options", "fragment", "tot_len",
	"mutated", "vlan", "not_ipv4", "random", "icmp_quote", "nested_icmp",
};

/* An ICMP error from `sa` to `da` quoting the datagram of q. */
static void icmp_error(struct pspec *e, const uint8_t dmac[6], const uint8_t smac[6],
		       uint32_t sa, uint32_t da, const struct frame *q, size_t qlen)
{
	static const uint8_t types[] = { 3, 3, 3, 11, 11, 4, 12, 5, 13, 0, 8 };

	spec_init(e, dmac, smac, sa, da, PROTO_ICMP);
	e->type = chance(90) ? types[rnd(7)] : types[rnd(sizeof(types))];
	e->code = e->type == 3 ? (uint8_t)rnd(16) : (uint8_t)rnd(2);
	e->rest = e->type == 3 && e->code == 4 ? 1400 : chance(10) ? (uint32_t)r64() : 0;
	quote_of(e, q, qlen);
}

static size_t rnd_qlen(void)
{
	static const size_t q[] = { 0, 0, 0, 28, 28, 8, 20, 27, 29, 38, 40, 48, 1, 12 };

	return q[rnd(sizeof(q) / sizeof(q[0]))];
}

/*
 * An ICMP error whose quote matches live state for the program's side: on
 * the LAN, a client's error about a reply it got; on a WAN, a router's error
 * about a translated packet or a host session's; leaving a WAN, the
 * client's error marked for its flow's WAN. False when there is no state.
 */
static bool error_packet(enum side side, struct pspec *s, int *ifindex, uint32_t *mark)
{
	const struct live *l = G.nlive ? &G.live[rnd((uint32_t)G.nlive)] : NULL;
	const struct hsess *h = G.nhs ? &G.hs[rnd((uint32_t)G.nhs)] : NULL;
	static struct pspec q;
	static struct frame qf;
	uint8_t cm[6];
	int gw;

	switch (side) {
	case SIDE_LAN:
		if (!l)
			return false;
		*ifindex = FX.lan_if;
		live_delivered(&q, l);
		build(&qf, &q);
		mac_client(cm, l->client);
		icmp_error(s, FX.lan_mac, cm, chance(90) ? l->client : rnd_remote(),
			   chance(90) ? l->remote : rnd_remote(), &qf, rnd_qlen());
		return true;
	case SIDE_WAN:
		if (l && (chance(70) || !h)) {
			gw = chance(90) ? l->gw : (int)rnd(NGW);
			live_sent(&q, l);
		} else if (h) {
			gw = chance(90) ? h->wan : (int)rnd(NGW);
			host_orig(&q, h, h->wan);
		} else {
			return false;
		}
		*ifindex = FX.wan_if[gw];
		q.ttl = (uint8_t)(1 + rnd(3));
		build(&qf, &q);
		icmp_error(s, FX.wan_mac[gw], MAC_GW[gw], rnd_remote(),
			   chance(90) ? q.sa : rnd_remote(), &qf, rnd_qlen());
		return true;
	case SIDE_EGRESS:
		if (!l)
			return false;
		gw = chance(90) ? l->gw : (int)rnd(NGW);
		*ifindex = FX.wan_if[gw];
		*mark = chance(90) ? GW_MARK[l->gw] : 0;
		live_delivered(&q, l);
		build(&qf, &q);
		icmp_error(s, MAC_GW[gw], FX.wan_mac[gw], l->client, l->remote, &qf, rnd_qlen());
		return true;
	}
	return false;
}

/* A well-formed base packet for the program's side. */
static void base_packet(enum side side, struct pspec *s, int *ifindex, uint32_t *mark)
{
	const struct live *l = G.nlive ? &G.live[rnd((uint32_t)G.nlive)] : NULL;
	const struct hsess *h = G.nhs ? &G.hs[rnd((uint32_t)G.nhs)] : NULL;
	uint32_t roll = rnd(100);
	uint8_t cm[6];
	int gw = (int)rnd(NGW);

	*mark = 0;
	switch (side) {
	case SIDE_LAN:
		*ifindex = FX.lan_if;
		*mark = chance(80) ? 0 : chance(50) ? 1 : (uint32_t)r64();
		if (roll < 45 && l) {
			live_orig(s, l);
			if (l->proto == PROTO_TCP && chance(20))
				s->flags = F_SYN;
		} else if (roll < 75 || !l) {
			uint32_t c = chance(90) ? htonl(0x0a010000 | rnd(256)) : rnd_remote();
			uint8_t proto = chance(40) ? PROTO_TCP : chance(60) ? PROTO_UDP : PROTO_ICMP;

			mac_client(cm, c);
			spec_init(s, FX.lan_mac, cm, c, rnd_remote(), chance(3) ? PROTO_GRE : proto);
			s->sp = rnd_port();
			s->dp = rnd_port();
			s->flags = chance(60) ? F_SYN : (uint8_t)rnd(256);
			s->type = chance(80) ? ICMPT_ECHO : ICMPT_ECHOREPLY;
			s->rest = (uint32_t)rnd_port() << 16 | rnd(65536);
		} else if (roll < 90) {
			error_packet(side, s, ifindex, mark);
		} else {
			/* An echo reply, or a live tuple from another client. */
			live_orig(s, l);
			if (l->proto == PROTO_ICMP)
				s->type = ICMPT_ECHOREPLY;
			else
				s->sa = htonl(0x0a010000 | rnd(256));
		}
		return;
	case SIDE_WAN:
		*ifindex = FX.wan_if[gw];
		if (roll < 45 && l) {
			gw = chance(90) ? l->gw : (int)rnd(NGW);
			*ifindex = FX.wan_if[gw];
			live_reply(s, l, gw);
			if (l->proto == PROTO_TCP && chance(15))
				s->flags = F_SYN | F_ACK;
		} else if (roll < 55 && h) {
			gw = chance(90) ? h->wan : (int)rnd(NGW);
			*ifindex = FX.wan_if[gw];
			host_reply(s, h, gw);
		} else if (roll < 70 && error_packet(side, s, ifindex, mark)) {
			;
		} else if (roll < 80) {
			/* To a port forward (or next to one). */
			const struct fwd *fw = &FWDS[rnd(2)];

			gw = chance(85) ? fw->gw : (int)rnd(NGW);
			*ifindex = FX.wan_if[gw];
			spec_init(s, FX.wan_mac[gw], MAC_GW[gw], rnd_remote(),
				  chance(90) ? fw->addr : FX.nat_addr[rnd(NGW)],
				  chance(90) ? fw->proto : PROTO_TCP + PROTO_UDP - fw->proto);
			s->sp = rnd_port();
			s->dp = chance(85) ? fw->port : rnd_port();
			s->flags = chance(70) ? F_SYN : (uint8_t)rnd(256);
		} else {
			uint8_t proto = chance(40) ? PROTO_TCP : chance(60) ? PROTO_UDP : PROTO_ICMP;

			spec_init(s, FX.wan_mac[gw], MAC_GW[gw], rnd_remote(),
				  chance(60) ? FX.nat_addr[gw] : rnd_remote(),
				  chance(3) ? PROTO_GRE : proto);
			s->sp = rnd_port();
			s->dp = rnd_port();
			s->flags = (uint8_t)rnd(256);
			s->type = chance(50) ? ICMPT_ECHO : ICMPT_ECHOREPLY;
			s->rest = (uint32_t)rnd_port() << 16 | rnd(65536);
		}
		return;
	case SIDE_EGRESS:
		*ifindex = FX.wan_if[gw];
		if (roll < 40 && l) {
			/* A LAN flow's packet the kernel routed, marked by tc_lan_ingress. */
			gw = chance(85) ? l->gw : (int)rnd(NGW);
			*ifindex = FX.wan_if[gw];
			*mark = chance(85) ? GW_MARK[l->gw] : chance(50) ? 0 : (uint32_t)r64();
			if (chance(50))
				*mark |= (uint32_t)r64() & ~FX.fwmark_mask;
			live_orig(s, l);
			memcpy(s->dmac, MAC_GW[gw], 6);
			memcpy(s->smac, FX.wan_mac[gw], 6);
			s->ttl = s->ttl > 1 ? (uint8_t)(s->ttl - 1) : s->ttl;
		} else if (roll < 65) {
			/* The host's own packets, from either WAN address, on either WAN. */
			uint8_t proto = chance(50) ? PROTO_TCP : chance(60) ? PROTO_UDP : PROTO_ICMP;

			if (h && chance(40)) {
				host_orig(s, h, gw);
				s->flags = (uint8_t)rnd(256);
			} else {
				spec_init(s, MAC_GW[gw], FX.wan_mac[gw], FX.nat_addr[rnd(NGW)],
					  rnd_remote(), proto);
				s->sp = rnd_port();
				s->dp = rnd_port();
				s->flags = chance(50) ? F_SYN : (uint8_t)rnd(256);
				s->type = chance(70) ? ICMPT_ECHO : ICMPT_ECHOREPLY;
				s->rest = (uint32_t)rnd_port() << 16 | 1;
			}
			*mark = chance(80) ? 0 : chance(50) ? GW_MARK[rnd(NGW)] : (uint32_t)r64();
		} else if (roll < 75 && error_packet(side, s, ifindex, mark)) {
			;
		} else {
			uint8_t proto = chance(40) ? PROTO_TCP : chance(60) ? PROTO_UDP : PROTO_ICMP;

			spec_init(s, MAC_GW[gw], FX.wan_mac[gw],
				  chance(70) ? htonl(0x0a010000 | rnd(256)) : rnd_remote(),
				  rnd_remote(), proto);
			s->sp = rnd_port();
			s->dp = rnd_port();
			s->flags = (uint8_t)rnd(256);
			s->type = ICMPT_ECHO;
			s->rest = (uint32_t)rnd_port() << 16;
			*mark = chance(50) ? GW_MARK[rnd(NGW)] : chance(50) ? 0 : (uint32_t)r64();
		}
		return;
	}
}

static void rnd_ip_options(struct pspec *s)
{
	uint8_t *o = s->opts;

	s->optlen = (uint8_t)(4 * (1 + rnd(10)));
	switch (rnd(7)) {
	case 0:         /* NOPs */
		memset(o, 1, s->optlen);
		break;
	case 1:         /* end of list, then junk */
		rnd_bytes(o, s->optlen);
		o[0] = 0;
		break;
	case 2:         /* record route */
		memset(o, 0, s->optlen);
		o[0] = 7;
		o[1] = (uint8_t)(s->optlen - 1);
		o[2] = 4;
		break;
	case 3:         /* timestamp */
		memset(o, 0, s->optlen);
		o[0] = 68;
		o[1] = s->optlen;
		o[2] = 5;
		break;
	case 4:         /* router alert, then NOPs */
		memset(o, 1, s->optlen);
		o[0] = 148;
		o[1] = 4;
		o[2] = o[3] = 0;
		break;
	case 5:         /* lengths that lie: 0, 1, beyond the header */
		memset(o, 1, s->optlen);
		o[0] = 7;
		o[1] = (uint8_t)(rnd(3) == 0 ? 0 : rnd(2) ? 1 : 200);
		break;
	default:
		rnd_bytes(o, s->optlen);
	}
}

/*
 * The next frame for a program: a base packet, perturbed one way. Returns
 * the kind; the frame, ifindex and mark are out parameters.
 */
static int generate(enum side side, struct frame *f, int *ifindex, uint32_t *mark)
{
	static struct pspec s, s2;
	static struct frame q;
	int kind;
	uint32_t roll = rnd(1000);

	base_packet(side, &s, ifindex, mark);
	if (roll < 160)
		kind = K_VALID;
	else if (roll < 260)
		kind = K_FLAGS;
	else if (roll < 360)
		kind = K_TRUNC;
	else if (roll < 410)
		kind = K_IHL;
	else if (roll < 480)
		kind = K_OPTS;
	else if (roll < 580)
		kind = K_FRAG;
	else if (roll < 650)
		kind = K_TOTLEN;
	else if (roll < 830)
		kind = K_MUTATE;
	else if (roll < 860)
		kind = K_VLAN;
	else if (roll < 890)
		kind = K_NONIP;
	else if (roll < 920)
		kind = K_RANDOM;
	else if (roll < 970)
		kind = K_QUOTE;
	else
		kind = K_NESTED;

	switch (kind) {
	case K_VALID:
		if (chance(20) && s.proto == PROTO_TCP)
			s.tcpopt = (uint8_t)(4 * rnd(11));
		if (chance(10) && s.proto == PROTO_UDP)
			s.no_csum = true;
		build(f, &s);
		break;
	case K_FLAGS:
		/* Every combination in turn, on TCP tuples of this side. */
		if (s.proto != PROTO_TCP || s.raw) {
			s.proto = PROTO_TCP;
			s.raw = false;
			if (!s.sp)
				s.sp = rnd_port();
			if (!s.dp)
				s.dp = rnd_port();
		}
		s.flags = (uint8_t)G.sweep_flags++;
		build(f, &s);
		break;
	case K_TRUNC: {
		/* Every length in turn, tot_len kept (lying) or made to match. */
		size_t full;

		if (chance(30) && s.proto == PROTO_TCP)
			s.tcpopt = (uint8_t)(4 * rnd(11));
		if (chance(30))
			rnd_ip_options(&s);
		build(f, &s);
		full = f->len;
		f->len = G.sweep_len++ % (full + 1);
		if (chance(50) && f->len >= ETH_LEN + 4) {
			wr16(f->d + ETH_LEN + 2, (uint16_t)(f->len - ETH_LEN));
			fix_csums(f);
		}
		break;
	}
	case K_IHL:
		if (chance(50))
			rnd_ip_options(&s);
		build(f, &s);
		f->d[ETH_LEN] = (uint8_t)(0x40 | (G.sweep_ihl++ & 0xf));
		if (chance(70))
			fix_csums(f);
		if (chance(20))
			f->len = ETH_LEN + rnd((uint32_t)(f->len - ETH_LEN + 1));
		break;
	case K_OPTS:
		rnd_ip_options(&s);
		build(f, &s);
		break;
	case K_FRAG: {
		uint16_t id = chance(70) ? G.ids[rnd(8)] : (uint16_t)r64();

		switch (rnd(4)) {
		case 0:         /* first fragment: L4 header, part of the payload */
			s.n = 64 + 8 * rnd(8);
			rnd_bytes(s.pl, s.n);
			s.frag = IPF_MF;
			s.id = (uint16_t)r64();
			G.ids[rnd(8)] = s.id;
			build(f, &s);
			{
				size_t hl = (size_t)(f->d[ETH_LEN] & 0xf) * 4;
				size_t keep = 8 * (1 + rnd(6));

				if (ETH_LEN + hl + keep < f->len) {
					f->len = ETH_LEN + hl + keep;
					wr16(f->d + ETH_LEN + 2, (uint16_t)(hl + keep));
					wr16(f->d + ETH_LEN + 10, 0);
					wr16(f->d + ETH_LEN + 10, csum_inet(f->d + ETH_LEN, hl));
				}
			}
			break;
		case 1:         /* a later one, of a known id or not */
		case 2:
			s.raw = true;
			s.n = 8 * rnd(20) + (chance(20) ? rnd(8) : 0);
			rnd_bytes(s.pl, s.n);
			s.id = id;
			s.frag = (uint16_t)((chance(70) ? 1 + rnd(200) : 1 + rnd(0x1fff)) |
					    (chance(50) ? IPF_MF : 0));
			build(f, &s);
			break;
		default:        /* overlapping, odd: offset 0 without MF but an id seen,
				   or offset 1 with a full L4 header */
			s.id = id;
			s.frag = rnd(2) ? (uint16_t)(IPF_DF | (chance(50) ? IPF_MF : 0))
					: (uint16_t)(1 | IPF_MF);
			build(f, &s);
		}
		break;
	}
	case K_TOTLEN: {
		size_t hl, len;
		uint16_t v;

		build(f, &s);
		hl = (size_t)(f->d[ETH_LEN] & 0xf) * 4;
		len = f->len - ETH_LEN;
		switch (rnd(9)) {
		case 0: v = 0; break;
		case 1: v = (uint16_t)rnd(20); break;
		case 2: v = (uint16_t)(hl - 1); break;
		case 3: v = (uint16_t)hl; break;
		case 4: v = (uint16_t)(hl + 1 + rnd(20)); break;     /* inside the L4 header */
		case 5: v = (uint16_t)(len - 1); break;
		case 6: v = (uint16_t)(len + 1 + rnd(4)); break;
		case 7: v = 0xffff; break;
		default: v = (uint16_t)r64();
		}
		wr16(f->d + ETH_LEN + 2, v);
		if (chance(80))
			fix_csums(f);
		if (chance(20) && f->len + 16 <= FRAME_MAX) {    /* Ethernet padding */
			memset(f->d + f->len, 0, 16);
			f->len += 16;
		}
		break;
	}
	case K_MUTATE: {
		int n = 1 + (int)rnd(chance(70) ? 3 : 12);

		if (chance(15) && s.proto == PROTO_TCP)
			s.tcpopt = (uint8_t)(4 * rnd(11));
		build(f, &s);
		for (int i = 0; i < n; i++) {
			size_t span = f->len < 80 || chance(40) ? f->len : 80;
			size_t at = rnd((uint32_t)span);

			if (chance(60)) {
				f->d[at] ^= (uint8_t)(1u << rnd(8));
			} else {
				static const uint8_t v[] = { 0, 0xff, 0x7f, 0x80, 1, 5, 0x45, 0x4f };

				f->d[at] = chance(50) ? v[rnd(8)] : (uint8_t)r64();
			}
		}
		if (chance(50))
			fix_csums(f);
		break;
	}
	case K_VLAN: {
		size_t tags = 1 + rnd(2);

		build(f, &s);
		if (f->len + 4 * tags <= FRAME_MAX) {
			memmove(f->d + 12 + 4 * tags, f->d + 12, f->len - 12);
			for (size_t t = 0; t < tags; t++) {
				wr16(f->d + 12 + 4 * t, t == 0 && tags == 2 ? 0x88a8 : 0x8100);
				wr16(f->d + 14 + 4 * t, (uint16_t)rnd(4096));
			}
			f->len += 4 * tags;
		}
		break;
	}
	case K_NONIP: {
		static const uint16_t et[] = { 0x0806, 0x86dd, 0x8847, 0x88cc, 0x0000, 0x05dc,
					       0xffff, 0x0801 };

		build(f, &s);
		wr16(f->d + 12, chance(80) ? et[rnd(8)] : (uint16_t)r64());
		if (chance(10))
			f->d[ETH_LEN] = 0x60;
		break;
	}
	case K_RANDOM:
		f->len = rnd(chance(80) ? 120 : FRAME_MAX - 64);
		rnd_bytes(f->d, f->len);
		if (f->len >= ETH_LEN + 1 && chance(70)) {
			wr16(f->d + 12, 0x0800);
			if (chance(60))
				f->d[ETH_LEN] = (uint8_t)(0x45 + rnd(11));
			if (chance(50) && f->len >= ETH_LEN + 20) {
				wr16(f->d + ETH_LEN + 2, (uint16_t)(f->len - ETH_LEN));
				f->d[ETH_LEN + 6] &= 0x40;
				f->d[ETH_LEN + 7] = 0;
				f->d[ETH_LEN + 9] = (uint8_t)(chance(90) ? (rnd(3) == 0 ? 1 : rnd(2) ? 6 : 17)
								 : r64());
				fix_csums(f);
			}
		}
		break;
	case K_QUOTE: {
		/*
		 * An ICMP error whose quote matches a flow, then made odd: garbage,
		 * quoted IHL/version/fragment/protocol/tot_len, truncated anywhere.
		 */
		size_t qlen;

		if (!error_packet(side, &s2, ifindex, mark)) {
			build(&q, &s);
			icmp_error(&s2, s.dmac, s.smac, s.sa, s.da, &q, 0);
		}
		switch (rnd(7)) {
		case 0:
			s2.n = rnd(80);
			rnd_bytes(s2.pl, s2.n);
			break;
		case 1:
			s2.pl[0] = (uint8_t)(0x40 | rnd(16));           /* quoted IHL */
			break;
		case 2:
			s2.pl[0] = (uint8_t)(rnd(16) << 4 | 5);         /* quoted version */
			break;
		case 3:
			wr16(s2.pl + 6, (uint16_t)(1 + rnd(0x1fff)));  /* quoted later fragment */
			break;
		case 4:
			s2.pl[9] = (uint8_t)r64();                      /* quoted protocol */
			break;
		case 5:
			wr16(s2.pl + 2, (uint16_t)r64());               /* quoted tot_len */
			break;
		default:
			break;                                          /* truncation only */
		}
		qlen = rnd(3) == 0 ? rnd((uint32_t)s2.n + 1) : s2.n;
		s2.n = qlen;
		build(f, &s2);
		break;
	}
	case K_NESTED: {
		/* An error quoting an error (quoting a flow's packet), maybe twice. */
		int depth = 1 + (int)rnd(2);

		if (error_packet(side, &s2, ifindex, mark))
			build(f, &s2);
		else
			build(f, &s);
		for (int i = 0; i < depth; i++) {
			q = *f;
			icmp_error(&s2, s.dmac, s.smac, rnd(2) ? s.sa : rnd_remote(),
				   rnd(2) ? s.da : rnd_remote(), &q, rnd(3) ? 0 : rnd_qlen());
			s2.type = (uint8_t)(chance(80) ? 3 : 11);
			build(f, &s2);
		}
		break;
	}
	}
	return kind;
}

/* ------------------------------------------------------- violations */

enum viol {
	VI_RUN, VI_ACTION, VI_ACCOUNT, VI_VERDICT_ACTION, VI_FLOW_WAN, VI_FLOW_LAN,
	VI_FLOW_EGRESS, VI_FLOW_DELETED, VI_ICMP_STATE, VI_LENGTH, VI_PASS_MODIFIED,
	VI_BYTES, VI_TTL, VI_IP_CSUM, VI_CSUM_BROKEN, VI_CSUM_RESIDUAL, VI_MARK, VI_MAX
};

static const char *const VIOL_NAME[VI_MAX] = {
	[VI_RUN]            = "test run failed",
	[VI_ACTION]         = "action the design does not allow",
	[VI_ACCOUNT]        = "verdict counters did not move by exactly one",
	[VI_VERDICT_ACTION] = "verdict disagrees with the action",
	[VI_FLOW_WAN]       = "flow entry created by a WAN packet",
	[VI_FLOW_LAN]       = "flow entry a LAN packet may not create",
	[VI_FLOW_EGRESS]    = "flow entry the host's packet may not create",
	[VI_FLOW_DELETED]   = "flow entry deleted",
	[VI_ICMP_STATE]     = "ICMP error changed a flow's state",
	[VI_LENGTH]         = "frame length changed",
	[VI_PASS_MODIFIED]  = "XDP_PASS frame modified",
	[VI_BYTES]          = "bytes NAT does not own changed",
	[VI_TTL]            = "TTL wrong",
	[VI_IP_CSUM]        = "REDIRECTed with a bad IP header checksum",
	[VI_CSUM_BROKEN]    = "valid checksum made invalid",
	[VI_CSUM_RESIDUAL]  = "checksum residual changed",
	[VI_MARK]           = "mark",
};

struct vrec {
	uint64_t count;
	long frame;
	int hook, kind, ifindex;
	uint32_t mark, iif, ret;
	char why[512];
	struct frame in, out;
};

static struct vrec VIOL[VI_MAX];

/* Per-program statistics, printed at the end of each test. */
struct pstats {
	uint64_t frames, refused;
	uint64_t action[8];
	uint64_t verdict[V_MAX];
	uint64_t kind[K_MAX];
	uint64_t created, redirected, csum_valid_in, icmp_err;
};

static struct pstats PST[HOOK_MAX];

/* The frame being run, for violations and the watchdog. */
static struct {
	long frame;
	int hook, kind, ifindex;
	uint32_t mark, iif;
	struct frame in;
} CUR;

static void violation(int v, uint32_t ret, const struct frame *out, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void violation(int v, uint32_t ret, const struct frame *out, const char *fmt, ...)
{
	struct vrec *r = &VIOL[v];
	va_list ap;

	if (r->count++)
		return;
	r->frame = CUR.frame;
	r->hook = CUR.hook;
	r->kind = CUR.kind;
	r->ifindex = CUR.ifindex;
	r->mark = CUR.mark;
	r->iif = CUR.iif;
	r->ret = ret;
	r->in = CUR.in;
	if (out)
		r->out = *out;
	else
		r->out.len = 0;
	va_start(ap, fmt);
	vsnprintf(r->why, sizeof(r->why), fmt, ap);
	va_end(ap);
}

static void hexdump(const char *title, const struct frame *f)
{
	char buf[FRAME_MAX * 4];

	hexdump_frame(f, buf, sizeof(buf));
	print_message("      %s (%zu bytes):%s\n", title, f->len, buf);
}

static const char *ifname_of(int ifindex)
{
	if (ifindex == FX.lan_if)
		return "lan0";
	for (int i = 0; i < NGW; i++)
		if (ifindex == FX.wan_if[i])
			return i ? "wan2" : "wan1";
	return "?";
}

/* Report every class of violation seen; true if there was any. */
static bool report_violations(void)
{
	bool any = false;

	for (int v = 0; v < VI_MAX; v++) {
		struct vrec *r = &VIOL[v];

		if (!r->count)
			continue;
		any = true;
		print_message("  VIOLATION: %s: %" PRIu64 " frame(s); first: frame %ld, %s on %s "
			      "(mark 0x%x, ingress %s), kind %s, returned %u\n      %s\n",
			      VIOL_NAME[v], r->count, r->frame, HOOK_NAME[r->hook],
			      ifname_of(r->ifindex), r->mark, r->iif ? ifname_of((int)r->iif) : "-",
			      KIND_NAME[r->kind], r->ret, r->why);
		hexdump("in", &r->in);
		if (r->out.len)
			hexdump("out", &r->out);
	}
	return any;
}

/* ------------------------------------------------------------ checks */

static bool action_allowed(int hook, uint32_t ret)
{
	if (PROGS[hook].xdp)
		return ret == XDP_PASS || ret == XDP_DROP || ret == XDP_REDIRECT;
	if (ret == TC_ACT_OK || ret == TC_ACT_SHOT)
		return true;
	return hook == HOOK_TC_WAN_OUT && ret == TC_ACT_REDIRECT;
}

static bool verdict_matches_action(int hook, int v, uint32_t ret)
{
	bool drop = v >= V_DROP_MALFORMED, pass = v >= V_PASS_NOT_IPV4 && !drop;

	/* tc took the packet: a held fragment, or re-injected with those held. */
	if (v == V_HOLD_FRAG || v == V_HOLD_RELEASED)
		return !PROGS[hook].xdp && ret == TC_ACT_SHOT;
	if (PROGS[hook].xdp)
		return drop ? ret == XDP_DROP : pass ? ret == XDP_PASS : ret == XDP_REDIRECT;
	if (drop)
		return ret == TC_ACT_SHOT;
	if (v == V_FWD_REROUTED)
		return ret == TC_ACT_REDIRECT;
	return ret == TC_ACT_OK;
}

static bool opens_flow(const struct geo *g)
{
	if (g->tuple && addr_only(g->proto))
		return true;
	if (!g->tuple || g->later || g->icmp_err)
		return false;
	switch (g->proto) {
	case PROTO_TCP:
		return (g->tcp_flags & (F_SYN | F_ACK | F_RST)) == F_SYN;
	case PROTO_UDP:
		return true;
	case PROTO_ICMP:
		return g->echo_req;
	}
	return false;
}

static struct flow_key rev_key(const struct flow_key *k)
{
	struct flow_key r;

	memset(&r, 0, sizeof(r));
	r.saddr = k->daddr;
	r.daddr = k->saddr;
	r.sport = k->dport;
	r.dport = k->sport;
	r.proto = k->proto;
	return r;
}

/* May this new entry (after the frame) have been created by it? NULL: yes. */
static const char *new_entry_ok(int hook, const struct geo *g, int ifindex,
				const struct fent *ne, const struct fsnap *after)
{
	const struct fent *t;

	switch (PROGS[hook].side) {
	case SIDE_LAN:
		if (!opens_flow(g))
			return "not a flow's opening packet";
		if (!in_lan(g->key.saddr))
			return "source outside the LAN";
		if (kernel_bound(g->key.daddr))
			return "destination is the kernel's";
		t = snap_find(after, &g->key);
		if (!t || t->e.dir != FLOW_DIR_OUT)
			return "the packet's own tuple has no OUT entry";
		if (key_eq(&ne->k, &g->key))
			return NULL;
		if (key_eq(&ne->k, &t->e.peer) && ne->e.dir == FLOW_DIR_IN &&
		    key_eq(&ne->e.peer, &g->key))
			return NULL;
		return "neither the packet's tuple nor its reply entry";
	case SIDE_WAN:
		for (int i = 0; i < 2; i++) {
			const struct fwd *fw = &FWDS[i];
			struct flow_key ok;

			if (!g->tuple || g->later || g->icmp_err || g->key.daddr != fw->addr ||
			    ntohs(g->key.dport) != fw->port || g->key.proto != fw->proto ||
			    ifindex != FX.wan_if[fw->gw])
				continue;
			if (key_eq(&ne->k, &g->key) && ne->e.dir == FLOW_DIR_IN &&
			    (ne->e.flags & FLOW_F_FORWARD))
				return NULL;
			ok = fkey(fw->to_addr, g->key.saddr, fw->to_port, ntohs(g->key.sport),
				  fw->proto);
			if (key_eq(&ne->k, &ok) && ne->e.dir == FLOW_DIR_OUT &&
			    key_eq(&ne->e.peer, &g->key))
				return NULL;
			return "not the port forward's tuples";
		}
		return "no port forward for it";
	case SIDE_EGRESS: {
		struct flow_key rk = rev_key(&g->key);

		if (!g->tuple || (g->later && !addr_only(g->proto)) || g->icmp_err)
			return "no ports, or an ICMP error";
		if (!host_local(g->key.saddr))
			return "not from an address of the host";
		if (CUR.iif)
			return "a forwarded packet (it has an ingress device)";
		if (!(opens_flow(g) || (g->proto == PROTO_TCP && !(g->tcp_flags & F_RST))))
			return "not a session's packet";
		if (key_eq(&ne->k, &rk) && ne->e.dir == FLOW_DIR_LOCAL)
			return NULL;
		return "not the reply tuple of the host's session";
	}
	}
	return "?";
}

static void check_flows(int hook, const struct geo *g, int ifindex, uint32_t ret,
			const struct frame *out, const struct fsnap *before,
			const struct fsnap *after)
{
	int i = 0, j = 0;
	char kb[80];

	while (i < before->n || j < after->n) {
		int c = i >= before->n ? 1 : j >= after->n ? -1
			: key_cmp(&before->f[i].k, &after->f[j].k);

		if (c == 0) {
			if (g->icmp_err && (before->f[i].e.state != after->f[j].e.state ||
					    before->f[i].e.flags != after->f[j].e.flags))
				violation(VI_ICMP_STATE, ret, out,
					  "entry %s: state %u flags 0x%x -> state %u flags 0x%x",
					  key_str(&after->f[j].k, kb, sizeof(kb)),
					  before->f[i].e.state, before->f[i].e.flags,
					  after->f[j].e.state, after->f[j].e.flags);
			i++;
			j++;
		} else if (c < 0) {
			/*
			 * Deleted: only the old reply entry of a reopened LAN tuple,
			 * or a LAN flow holding the reply tuple of the host's own
			 * session (the host's reply path wins), both its entries.
			 */
			const struct fent *old = PROGS[hook].side == SIDE_LAN && g->tuple
				? snap_find(before, &g->key) : NULL;
			struct flow_key rk = rev_key(&g->key);
			const struct fent *held = PROGS[hook].side == SIDE_EGRESS && g->tuple
				? snap_find(before, &rk) : NULL;

			if (held && (key_eq(&held->k, &before->f[i].k) ||
				     key_eq(&held->e.peer, &before->f[i].k)))
				old = held;
			else if (!old || !key_eq(&old->e.peer, &before->f[i].k))
				violation(VI_FLOW_DELETED, ret, out, "entry %s (dir %u) deleted",
					  key_str(&before->f[i].k, kb, sizeof(kb)),
					  before->f[i].e.dir);
			i++;
		} else {
			const char *why = new_entry_ok(hook, g, ifindex, &after->f[j], after);

			PST[hook].created++;
			if (why)
				violation(PROGS[hook].side == SIDE_WAN ? VI_FLOW_WAN
					  : PROGS[hook].side == SIDE_LAN ? VI_FLOW_LAN
					  : VI_FLOW_EGRESS, ret, out,
					  "new entry %s dir %u flags 0x%x gw %u: %s",
					  key_str(&after->f[j].k, kb, sizeof(kb)), after->f[j].e.dir,
					  after->f[j].e.flags, after->f[j].e.gw, why);
			j++;
		}
	}
}

static void check_bytes(int hook, const struct geo *g, uint32_t ret, const struct frame *in,
			const struct frame *out)
{
	static uint8_t m[FRAME_MAX];
	bool xdp = PROGS[hook].xdp, routed = xdp && ret == XDP_REDIRECT;
	int rin[R_MAX], rout[R_MAX];
	char why[256];

	if (out->len != in->len) {
		violation(VI_LENGTH, ret, out, "length %zu -> %zu", in->len, out->len);
		return;
	}
	if (xdp && ret == XDP_PASS) {
		if (memcmp(in->d, out->d, in->len))
			violation(VI_PASS_MODIFIED, ret, out, "the kernel gets a modified frame");
		return;
	}
	may_change(in, g, routed, m);
	for (size_t i = 0; i < in->len; i++) {
		if (!m[i] && in->d[i] != out->d[i]) {
			violation(VI_BYTES, ret, out, "byte %zu: 0x%02x -> 0x%02x", i, in->d[i],
				  out->d[i]);
			break;
		}
	}
	if (!g->ipv4)
		return;
	if (routed) {
		PST[hook].redirected++;
		if (g->ttl < 2 || out->d[ETH_LEN + 8] != (uint8_t)(g->ttl - 1))
			violation(VI_TTL, ret, out, "TTL %u -> %u on XDP_REDIRECT", g->ttl,
				  out->d[ETH_LEN + 8]);
		if (!csum_inet_ok(out->d + ETH_LEN, g->hl))
			violation(VI_IP_CSUM, ret, out,
				  "IP header checksum 0x%04x is wrong (input's %s)",
				  rd16(out->d + ETH_LEN + 10),
				  csum_inet_ok(in->d + ETH_LEN, g->hl) ? "was right" : "was wrong too");
		if (!frame_csum_error(in, why, sizeof(why))) {
			PST[hook].csum_valid_in++;
			if (frame_csum_error(out, why, sizeof(why)))
				violation(VI_CSUM_BROKEN, ret, out, "%s", why);
		}
	} else if (out->d[ETH_LEN + 8] != g->ttl) {
		violation(VI_TTL, ret, out, "TTL %u -> %u without XDP_REDIRECT", g->ttl,
			  out->d[ETH_LEN + 8]);
	}
	residuals(in, g, rin);
	residuals(out, g, rout);
	for (int r = 0; r < R_MAX; r++) {
		static const char *const rn[R_MAX] = { "IP header", "L4", "quoted IP header",
						       "quoted L4" };

		if (rin[r] != rout[r])
			violation(VI_CSUM_RESIDUAL, ret, out,
				  "%s checksum residual 0x%04x -> 0x%04x (-1: absent, -2: UDP 0)",
				  rn[r], rin[r], rout[r]);
	}
}

static void check_mark(int hook, uint32_t mark_in, uint32_t mark_out, int v, uint32_t ret,
		       const struct frame *out)
{
	uint32_t mask = FX.fwmark_mask;
	bool gwmark = false;

	if (hook != HOOK_TC_LAN_IN)
		return;
	for (int i = 0; i < NGW; i++)
		gwmark |= (mark_out & mask) == GW_MARK[i];
	if (v == V_PASS_TTL && (mark_out & ~mask) == (mark_in & ~mask) && gwmark) {
		/* marked for its flow's WAN: the kernel answers Time Exceeded */
	} else if (v == V_FWD_VIA_KERNEL) {
		if ((mark_out & ~mask) != (mark_in & ~mask) || !gwmark)
			violation(VI_MARK, ret, out, "mark 0x%x -> 0x%x for the kernel path",
				  mark_in, mark_out);
	} else if (mark_out != mark_in) {
		violation(VI_MARK, ret, out, "mark 0x%x -> 0x%x with verdict %s", mark_in,
			  mark_out, VNAME[v]);
	}
}

/*
 * Frames the kernel's skb test run refuses: nothing after the Ethernet
 * header, or less than an IPv4 (IPv6) header after an IPv4 (IPv6) type.
 * On a real link such runts do reach tc ingress; here they cannot.
 */
static bool tc_refuses(const struct frame *f)
{
	uint16_t et = f->len >= ETH_LEN ? rd16(f->d + 12) : 0;

	return f->len <= ETH_LEN || (et == 0x0800 && f->len < ETH_LEN + 20) ||
	       (et == 0x86dd && f->len < ETH_LEN + 40);
}

/* Run one frame through a program and check every invariant. */
static void fuzz_one(int hook, const struct frame *in, int ifindex, uint32_t iif, uint32_t mark,
		     int kind)
{
	static uint64_t vafter[HOOK_MAX * V_MAX];
	static struct frame out;
	struct fsnap *before = &SNAP[SNAP_CUR], *after = &SNAP[!SNAP_CUR];
	struct pstats *ps = &PST[hook];
	uint32_t ret = 0, mark_out = 0;
	int moved = -1, nmoved = 0, rc;
	uint64_t delta = 0;
	struct geo g;

	CUR.hook = hook;
	CUR.kind = kind;
	CUR.ifindex = ifindex;
	CUR.mark = mark;
	CUR.iif = iif;
	CUR.in = *in;
	__atomic_add_fetch(&CUR.frame, 1, __ATOMIC_RELAXED);

	if (in->len < ETH_LEN) {
		/*
		 * Under 14 bytes: XDP through metadata (run_xdp_short), which
		 * recent kernels refuse, like tc.
		 */
		int r = PROGS[hook].xdp ? run_xdp_short(prog_fd(hook), ifindex, in->d, in->len)
					: -1;

		if (r < 0) {
			ps->refused++;
			return;
		}
		ret = (uint32_t)r;
		out.len = 0;
		rc = 0;
	} else {
		rc = fz_run(hook, ifindex, iif, mark, in, &out, &ret, &mark_out);
	}
	if (rc == -EINVAL && !PROGS[hook].xdp && tc_refuses(in)) {
		ps->refused++;
		return;
	}
	if (rc) {
		violation(VI_RUN, 0, NULL, "BPF_PROG_TEST_RUN: %s (ethertype 0x%04x, %zu bytes)",
			  strerror(-rc), in->len >= ETH_LEN ? rd16(in->d + 12) : 0, in->len);
		ps->refused++;
		return;
	}
	ps->frames++;
	ps->kind[kind]++;
	ps->action[ret & 7]++;
	if (!action_allowed(hook, ret))
		violation(VI_ACTION, ret, &out, "returned %u", ret);

	/* Exactly one verdict counter of this hook moved, by one; no other hook's. */
	read_verdicts(vafter);
	for (int h = 0; h < HOOK_MAX; h++) {
		for (int v = 0; v < V_MAX; v++) {
			uint64_t d = vafter[h * V_MAX + v] - VCUR[h * V_MAX + v];

			if (!d)
				continue;
			if (h != hook) {
				violation(VI_ACCOUNT, ret, &out, "hook %s's %s moved by %" PRIu64,
					  HOOK_NAME[h], VNAME[v], d);
				continue;
			}
			nmoved++;
			moved = v;
			delta += d;
		}
	}
	memcpy(VCUR, vafter, sizeof(VCUR));
	if (delta != 1 || nmoved != 1) {
		violation(VI_ACCOUNT, ret, &out, "the hook's counters moved by %" PRIu64
			  " over %d verdicts", delta, nmoved);
	} else {
		ps->verdict[moved]++;
		if (!verdict_matches_action(hook, moved, ret))
			violation(VI_VERDICT_ACTION, ret, &out, "verdict %s with action %u",
				  VNAME[moved], ret);
	}
	if (in->len < ETH_LEN)
		return;

	geometry(in, &g);
	if (g.icmp_err)
		ps->icmp_err++;
	read_flows(after);
	check_flows(hook, &g, ifindex, ret, &out, before, after);
	SNAP_CUR = !SNAP_CUR;

	if (PROGS[hook].xdp ? ret != XDP_DROP : ret != TC_ACT_SHOT)
		check_bytes(hook, &g, ret, in, &out);
	if (moved >= 0)
		check_mark(hook, mark, mark_out, moved, ret, &out);
}

/* ---------------------------------------------------------- watchdog */

static volatile int WD_ACTIVE;

static void *watchdog(void *arg)
{
	long last = -1;
	int still = 0;

	(void)arg;
	for (;;) {
		long now;

		sleep(1);
		now = __atomic_load_n(&CUR.frame, __ATOMIC_RELAXED);
		if (!WD_ACTIVE || now != last) {
			last = now;
			still = 0;
			continue;
		}
		if (++still >= FZ_WATCHDOG_S) {
			char buf[FRAME_MAX * 4];

			hexdump_frame(&CUR.in, buf, sizeof(buf));
			fprintf(stderr, "test_fuzz: no progress for %d s at frame %ld (%s, kind %s, "
				"seed 0x%" PRIx64 "); the frame (%zu bytes):%s\n", FZ_WATCHDOG_S,
				now, HOOK_NAME[CUR.hook], KIND_NAME[CUR.kind], FZ_SEED,
				CUR.in.len, buf);
			_exit(3);
		}
	}
	return NULL;
}

/* ------------------------------------------------------------- tests */

static void print_summary(int hook)
{
	const struct pstats *ps = &PST[hook];
	char line[2048];
	size_t o = 0;

	if (PROGS[hook].xdp)
		print_message("  %s: %" PRIu64 " frames (%" PRIu64 " under 14 bytes refused by "
			      "the kernel); PASS %" PRIu64 ", DROP %" PRIu64 ", REDIRECT %" PRIu64
			      " (%" PRIu64 " with valid checksums in), ABORTED %" PRIu64 "\n",
			      HOOK_NAME[hook], ps->frames, ps->refused, ps->action[XDP_PASS],
			      ps->action[XDP_DROP], ps->action[XDP_REDIRECT], ps->csum_valid_in,
			      ps->action[XDP_ABORTED]);
	else
		print_message("  %s: %" PRIu64 " frames (%" PRIu64 " runts refused by the kernel); "
			      "OK %" PRIu64 ", SHOT %" PRIu64 ", REDIRECT %" PRIu64 "\n",
			      HOOK_NAME[hook], ps->frames, ps->refused,
			      ps->action[TC_ACT_OK], ps->action[TC_ACT_SHOT],
			      ps->action[TC_ACT_REDIRECT]);
	for (int v = 0; v < V_MAX; v++)
		if (ps->verdict[v])
			o += (size_t)snprintf(line + o, sizeof(line) - o, " %s=%" PRIu64, VNAME[v],
					      ps->verdict[v]);
	print_message("    verdicts:%s\n", line);
	o = 0;
	for (int k = 0; k < K_MAX; k++)
		o += (size_t)snprintf(line + o, sizeof(line) - o, " %s=%" PRIu64, KIND_NAME[k],
				      ps->kind[k]);
	print_message("    kinds:%s\n", line);
	print_message("    flow entries created: %" PRIu64 ", ICMP errors: %" PRIu64
		      ", flow table reseeded %" PRIu64 " times\n", ps->created, ps->icmp_err,
		      G.n_reset);
}

static void fuzz_begin(int test_index)
{
	uint64_t s = FZ_SEED ^ (0x5851f42d4c957f2dULL * (uint64_t)(test_index + 1));

	RNG = splitmix64(&s);
	__atomic_store_n(&CUR.frame, 0, __ATOMIC_RELAXED);
	memset(&G, 0, sizeof(G));
	memset(PST, 0, sizeof(PST));
	memset(VIOL, 0, sizeof(VIOL));
	for (int i = 0; i < 8; i++)
		G.ids[i] = (uint16_t)r64();
	add_forwards();
	fz_seed();
	read_verdicts(VCUR);
	read_flows(&SNAP[SNAP_CUR]);
	WD_ACTIVE = 1;
}

static void fuzz_end(const int *hooks, int nhooks, long iters)
{
	char line[1024];
	size_t o = 0;
	bool any;

	WD_ACTIVE = 0;
	/* One line first: what failed (tests/run.sh shows the start of the output). */
	for (int v = 0; v < VI_MAX; v++)
		if (VIOL[v].count)
			o += (size_t)snprintf(line + o, sizeof(line) - o, "%s%s (%" PRIu64 ", first in %s)",
					      o ? "; " : "", VIOL_NAME[v], VIOL[v].count,
					      HOOK_NAME[VIOL[v].hook]);
	if (o)
		print_message("  VIOLATIONS: %s; replay: XWAN_FUZZ_SEED=0x%" PRIx64 "\n", line,
			      FZ_SEED);
	print_message("  seed 0x%" PRIx64 " (XWAN_FUZZ_SEED), %ld frames per program "
		      "(XWAN_FUZZ_ITERS)\n", FZ_SEED, iters);
	any = report_violations();
	for (int i = 0; i < nhooks; i++)
		print_summary(hooks[i]);
	if (any)
		fail_msg("invariants violated; replay with XWAN_FUZZ_SEED=0x%" PRIx64, FZ_SEED);
}

/*
 * Start over with fresh live state when the table has grown (reading it
 * every frame stays cheap) and every FZ_RESEED_EVERY frames (new flows in
 * their first states again; no flow lives long enough to expire).
 */
static void maybe_reseed(long i)
{
	if (SNAP[SNAP_CUR].n > FZ_RESET_AT || (i + 1) % FZ_RESEED_EVERY == 0) {
		fz_seed();
		read_verdicts(VCUR);
		read_flows(&SNAP[SNAP_CUR]);
	}
}

static void fuzz_hooks(int test_index, const int *hooks, int nhooks, long iters)
{
	static struct frame f;

	fuzz_begin(test_index);
	for (long i = 0; i < iters * nhooks; i++) {
		int hook = hooks[nhooks == 1 ? 0 : rnd((uint32_t)nhooks)];
		int ifindex, kind;
		uint32_t mark;

		uint32_t iif = 0;

		kind = generate(PROGS[hook].side, &f, &ifindex, &mark);
		if (PROGS[hook].side == SIDE_EGRESS) {
			/* Mostly as it would be: the host's own packets have no
			 * ingress device, forwarded ones came in on the LAN. */
			bool host = f.len >= ETH_LEN + 20 && host_local(rdaddr(f.d + ETH_LEN + 12));

			iif = chance(85) == host ? 0 : (uint32_t)FX.lan_if;
		}
		fuzz_one(hook, &f, ifindex, iif, mark, kind);
		maybe_reseed(i);
	}
	fuzz_end(hooks, nhooks, iters);
}

static void test_fuzz_xdp_lan(void **state)
{
	static const int h[] = { HOOK_XDP_LAN };

	(void)state;
	fuzz_hooks(0, h, 1, FZ_ITERS);
}

static void test_fuzz_xdp_wan(void **state)
{
	static const int h[] = { HOOK_XDP_WAN };

	(void)state;
	fuzz_hooks(1, h, 1, FZ_ITERS);
}

static void test_fuzz_tc_lan_ingress(void **state)
{
	static const int h[] = { HOOK_TC_LAN_IN };

	(void)state;
	fuzz_hooks(2, h, 1, FZ_ITERS);
}

static void test_fuzz_tc_wan_ingress(void **state)
{
	static const int h[] = { HOOK_TC_WAN_IN };

	(void)state;
	fuzz_hooks(3, h, 1, FZ_ITERS);
}

static void test_fuzz_tc_wan_egress(void **state)
{
	static const int h[] = { HOOK_TC_WAN_OUT };

	(void)state;
	fuzz_hooks(4, h, 1, FZ_ITERS);
}

/* All five interleaved: state one program leaves is what the next one meets. */
static void test_fuzz_interleaved(void **state)
{
	static const int h[] = { HOOK_XDP_LAN, HOOK_XDP_WAN, HOOK_TC_LAN_IN, HOOK_TC_WAN_IN,
				 HOOK_TC_WAN_OUT };

	(void)state;
	fuzz_hooks(5, h, 5, FZ_ITERS / 5 > 0 ? FZ_ITERS / 5 : 1);
}

int main(int argc, char **argv)
{
#define T(f) cmocka_unit_test_setup(f, fx_setup)
	const struct CMUnitTest tests[] = {
		T(test_fuzz_xdp_lan),
		T(test_fuzz_xdp_wan),
		T(test_fuzz_tc_lan_ingress),
		T(test_fuzz_tc_wan_ingress),
		T(test_fuzz_tc_wan_egress),
		T(test_fuzz_interleaved),
	};
#undef T
	const char *e;
	pthread_t wd;

	if (argc > 1)
		cmocka_set_test_filter(argv[1]);
	if (geteuid() != 0) {
		fprintf(stderr, "test_fuzz: needs root (netns, BPF); skipped\n");
		return 77;
	}
	e = getenv("XWAN_FUZZ_SEED");
	FZ_SEED = e && *e ? strtoull(e, NULL, 0)
			  : ((uint64_t)time(NULL) << 20) ^ (uint64_t)getpid() ^
			    (uint64_t)clock();
	e = getenv("XWAN_FUZZ_ITERS");
	FZ_ITERS = e && *e ? strtol(e, NULL, 0) : FZ_DEFAULT_ITERS;
	if (FZ_ITERS < 1)
		FZ_ITERS = 1;
	printf("test_fuzz: seed 0x%" PRIx64 ", %ld frames per program\n", FZ_SEED, FZ_ITERS);
	fflush(stdout);
	if (pthread_create(&wd, NULL, watchdog, NULL) == 0)
		pthread_detach(wd);
	return cmocka_run_group_tests(tests, fx_group_setup, fx_group_teardown);
}
