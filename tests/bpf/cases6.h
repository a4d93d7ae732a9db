/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The vocabulary of the IPv6 BPF tests (test_ipv6.c, test_policy6.c):
 * Ethernet + IPv6 frames built from scratch, their upper-layer checksums
 * computed independently (RFC 1071 over the pseudo-header), address checks
 * and the IPv6 counters. On fixture.h.
 */
#ifndef XWAN_TEST_CASES6_H
#define XWAN_TEST_CASES6_H

#include "tests/bpf/fixture.h"

#include <arpa/inet.h>
#include <linux/pkt_cls.h>   /* TC_ACT_* */

/* The namespace's IPv6 (env.h). */
static const char FX_V6_NETNS[] = "set -e\n" XWAN_TEST_NETNS6;

/* The config of the IPv6 tests: the LAN with a ULA /64 and isp2's delegated
 * prefix, isp1 with lines W1 (how it does nat6), isp2 nat6 none (RFC 8678)
 * with lines W2, one group over both. */
#define FX6_CONFIG(W1, W2) \
	"lan:\n" \
	"  - interface: lan0\n" \
	"    networks: [10.1.0.0/24, fd00:1::/64, 2001:db8:2:100::/64]\n" \
	"wan:\n" \
	"  - name: isp1\n" \
	"    interface: wan1\n" \
	"    gateway: 203.0.113.1\n" \
	"    monitor: false\n" \
	"    gateway6: 2001:db8:1::1\n" \
	W1 \
	"  - name: isp2\n" \
	"    interface: wan2\n" \
	"    gateway: 198.51.100.1\n" \
	"    monitor: false\n" \
	"    gateway6: 2001:db8:2::1\n" \
	"    nat6: none\n" \
	W2 \
	"groups:\n" \
	"  - name: balance\n" \
	"    members: [{wan: isp1}, {wan: isp2}]\n" \
	"default_group: balance\n" \
	"flow_table_size: 65536\n"

#define IP6_H    40
#define L4       (ETH_LEN + IP6_H)

static inline void a6(const char *s, uint8_t out[16])
{
	if (inet_pton(AF_INET6, s, out) != 1)
		fail_msg("bad address in test: %s", s);
}

/* Ethernet + IPv6 + l4 between addresses written as text (pkt.h's frame_ipv6). */
static inline void frame6(struct frame *f, const uint8_t dmac[6], const uint8_t smac[6],
			  const char *sa, const char *da, uint8_t nh, uint8_t hop,
			  const uint8_t *l4, size_t len, int csum_off, uint8_t ul)
{
	uint8_t s6[16], d6[16];

	a6(sa, s6);
	a6(da, d6);
	frame_ipv6(f, dmac, smac, s6, d6, nh, hop, l4, len, csum_off, ul);
}

static inline size_t tcp_seg(uint8_t *t, uint16_t sp, uint16_t dp, uint8_t flags)
{
	memset(t, 0, 24);
	wr16(t, sp);
	wr16(t + 2, dp);
	wr32(t + 4, 1000);
	t[12] = 5 << 4;
	t[13] = flags;
	wr16(t + 14, 64240);
	memcpy(t + 20, "data", 4);
	return 24;
}

static inline void tcp6(struct frame *f, const uint8_t dmac[6], const uint8_t smac[6], const char *sa,
		 const char *da, uint16_t sp, uint16_t dp, uint8_t flags)
{
	uint8_t t[24];

	frame6(f, dmac, smac, sa, da, PROTO_TCP, 64, t, tcp_seg(t, sp, dp, flags), 16, PROTO_TCP);
}

static inline void udp6(struct frame *f, const uint8_t dmac[6], const uint8_t smac[6],
			const char *sa, const char *da, uint16_t sp, uint16_t dp)
{
	uint8_t u[12];

	wr16(u, sp);
	wr16(u + 2, dp);
	wr16(u + 4, sizeof(u));
	memcpy(u + 8, "data", 4);
	frame6(f, dmac, smac, sa, da, PROTO_UDP, 64, u, sizeof(u), 6, PROTO_UDP);
}

/* An ICMPv6 echo request (type 128) or reply (129) with identifier id. */
static inline void echo6_type(struct frame *f, const uint8_t dmac[6], const uint8_t smac[6],
			      const char *sa, const char *da, uint8_t type, uint16_t id)
{
	uint8_t e[12] = { type };

	wr16(e + 4, id);
	wr16(e + 6, 1);
	memcpy(e + 8, "ping", 4);
	frame6(f, dmac, smac, sa, da, 58, 64, e, sizeof(e), 2, 58);
}

static inline void echo6(struct frame *f, const uint8_t dmac[6], const uint8_t smac[6],
			 const char *sa, const char *da, uint16_t id)
{
	echo6_type(f, dmac, smac, sa, da, 128, id);
}

/* An ICMPv6 error from `hop` (isp1's side) to the source of `quoted` (as sent), quoting it. */
static inline void icmp6_err(struct frame *f, const char *hop, uint8_t type, uint32_t rest,
			     const struct frame *quoted)
{
	uint8_t b[8 + 64];
	size_t ql = quoted->len - ETH_LEN;

	if (ql > 64)
		ql = 64;
	memset(b, 0, sizeof(b));
	b[0] = type;
	wr32(b + 4, rest);
	memcpy(b + 8, quoted->d + ETH_LEN, ql);
	frame6(f, FX.wan_mac[0], MAC_GW[0], hop, "::1", 58, 64, b, 8 + ql, 2, 58);
	memcpy(f->d + ETH_LEN + 24, quoted->d + ETH_LEN + 8, 16);  /* to the quoted source */
	wr16(f->d + L4 + 2, 0);
	wr16(f->d + L4 + 2, (uint16_t)~l4sum6(f->d + ETH_LEN, f->d + L4, 8 + ql, 58));
}

static inline bool l4_ok(const struct frame *f, uint8_t nh)
{
	const uint8_t *ip = f->d + ETH_LEN;

	return l4sum6(ip, ip + IP6_H, rd16(ip + 4), nh) == 0xffff;
}

static inline bool addr_is(const uint8_t *a, const char *s)
{
	uint8_t b[16];

	a6(s, b);
	return !memcmp(a, b, 16);
}

static inline bool in64(const uint8_t *a, const char *prefix)
{
	uint8_t b[16];

	a6(prefix, b);
	return !memcmp(a, b, 8);
}

static inline uint16_t addr_sum(const uint8_t *a)
{
	return cs_fold(cs_add(0, a, 16));
}

static inline uint64_t v6verdict(int hook, int v)
{
	__u64 n = 0;

	assert_int_equal(xwan_percpu_sum(FX.m->fd[XM_VERDICTS6],
					 (__u32)XWAN_VERDICT_IDX(hook, v), &n, sizeof(n)), 0);
	return n;
}

static inline struct gw_counters gw6(int gw)
{
	struct gw_counters c = {};

	assert_int_equal(xwan_percpu_sum(FX.m->fd[XM_GW_STATS6], (__u32)gw, (__u64 *)&c,
					 sizeof(c)), 0);
	return c;
}

/* The group setup of a test on config yaml, with the namespace's IPv6. */
static inline int fx6_group_setup(void **state, const char *yaml)
{
	FX_BASE_YAML = yaml;
	if (fx_group_setup(state))
		return -1;
	if (system(FX_V6_NETNS) != 0) {
		fprintf(stderr, "cannot add the namespace's IPv6\n");
		return -1;
	}
	return fx_reset();      /* gather the host again, with its IPv6 */
}

#endif /* XWAN_TEST_CASES6_H */
