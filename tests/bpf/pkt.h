/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Test packets: a small Ethernet/IPv4/TCP/UDP/ICMP builder, a read-only
 * view of a frame, and an independent checksum verifier (RFC 1071, summed
 * from scratch over the bytes; nothing shared with the dataplane's
 * incremental arithmetic).
 *
 * Conventions: addresses are uint32_t in network byte order (ip4("...")),
 * ports, ids and other header fields are host order in the API and written
 * big-endian into the frame.
 */
#ifndef XWAN_TEST_PKT_H
#define XWAN_TEST_PKT_H

#include <arpa/inet.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define FRAME_MAX   2048
#define ETH_LEN     14

#define PROTO_ICMP  1
#define PROTO_TCP   6
#define PROTO_UDP   17
#define PROTO_GRE   47

#define F_FIN 0x01
#define F_SYN 0x02
#define F_RST 0x04
#define F_PSH 0x08
#define F_ACK 0x10

#define IPF_MF      0x2000
#define IPF_DF      0x4000

#define ICMPT_ECHOREPLY  0
#define ICMPT_UNREACH    3
#define ICMPT_ECHO       8
#define ICMPT_TIMXCEED   11
#define ICMPC_FRAG_NEEDED 4

struct frame {
	uint8_t d[FRAME_MAX];
	size_t len;
};

/* ------------------------------------------------------------ bytes */

static inline uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline void wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void wr32(uint8_t *p, uint32_t v)
{
	wr16(p, (uint16_t)(v >> 16));
	wr16(p + 2, (uint16_t)v);
}

/* An address as it sits in the packet: network order, like flow_key. */
static inline uint32_t rdaddr(const uint8_t *p)
{
	uint32_t a;

	memcpy(&a, p, 4);
	return a;
}

static inline uint32_t ip4(const char *s)
{
	struct in_addr a;

	if (inet_pton(AF_INET, s, &a) != 1)
		return 0;
	return a.s_addr;
}

static inline const char *ip4_str(uint32_t a, char buf[16])
{
	struct in_addr ia = { .s_addr = a };

	return inet_ntop(AF_INET, &ia, buf, 16);
}

/* ------------------------------------------------- RFC 1071 checksums */

/* One's complement sum of 16-bit big-endian words, carries deferred. */
static inline uint64_t cs_add(uint64_t sum, const void *buf, size_t n)
{
	const uint8_t *p = buf;

	for (; n > 1; n -= 2, p += 2)
		sum += (uint32_t)(p[0] << 8 | p[1]);
	if (n)
		sum += (uint32_t)p[0] << 8;
	return sum;
}

static inline uint16_t cs_fold(uint64_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

static inline uint64_t cs_pseudo(uint32_t saddr, uint32_t daddr, uint8_t proto, size_t len)
{
	uint8_t ph[12];

	memcpy(ph, &saddr, 4);
	memcpy(ph + 4, &daddr, 4);
	ph[8] = 0;
	ph[9] = proto;
	wr16(ph + 10, (uint16_t)len);
	return cs_add(0, ph, sizeof(ph));
}

/* The checksum field value for data whose checksum field is zero. */
static inline uint16_t csum_inet(const void *buf, size_t n)
{
	return (uint16_t)~cs_fold(cs_add(0, buf, n));
}

static inline uint16_t csum_l4(uint32_t saddr, uint32_t daddr, uint8_t proto,
			       const void *l4, size_t n)
{
	return (uint16_t)~cs_fold(cs_add(cs_pseudo(saddr, daddr, proto, n), l4, n));
}

/* A received checksum is right when everything, itself included, sums to 0xffff. */
static inline bool csum_inet_ok(const void *buf, size_t n)
{
	return cs_fold(cs_add(0, buf, n)) == 0xffff;
}

static inline bool csum_l4_ok(uint32_t saddr, uint32_t daddr, uint8_t proto,
			      const void *l4, size_t n)
{
	return cs_fold(cs_add(cs_pseudo(saddr, daddr, proto, n), l4, n)) == 0xffff;
}

/* ------------------------------------------------------------ builder */

struct ip4_spec {
	uint32_t saddr, daddr;  /* network order */
	uint8_t  proto;
	uint8_t  ttl;
	uint8_t  tos;
	uint16_t id;
	uint16_t frag;          /* IPF_MF | IPF_DF | offset in 8-byte units */
	uint8_t  optlen;        /* option bytes, multiple of 4, <= 40 */
	const uint8_t *opts;    /* NULL: NOP padding */
};

/* TCP header (20 bytes, no options) + payload, checksum for sa -> da. */
static inline size_t l4_tcp(uint8_t *o, uint32_t sa, uint32_t da, uint16_t sport,
			    uint16_t dport, uint8_t flags, uint32_t seq, uint32_t ack,
			    const void *pl, size_t n)
{
	memset(o, 0, 20);
	wr16(o, sport);
	wr16(o + 2, dport);
	wr32(o + 4, seq);
	wr32(o + 8, ack);
	o[12] = 5 << 4;
	o[13] = flags;
	wr16(o + 14, 64240);
	if (n)
		memcpy(o + 20, pl, n);
	wr16(o + 16, csum_l4(sa, da, PROTO_TCP, o, 20 + n));
	return 20 + n;
}

/* UDP; no_csum sends checksum 0 ("none"); a computed 0 is sent as 0xffff. */
static inline size_t l4_udp(uint8_t *o, uint32_t sa, uint32_t da, uint16_t sport,
			    uint16_t dport, const void *pl, size_t n, bool no_csum)
{
	uint16_t c;

	wr16(o, sport);
	wr16(o + 2, dport);
	wr16(o + 4, (uint16_t)(8 + n));
	wr16(o + 6, 0);
	if (n)
		memcpy(o + 8, pl, n);
	if (!no_csum) {
		c = csum_l4(sa, da, PROTO_UDP, o, 8 + n);
		wr16(o + 6, c ? c : 0xffff);
	}
	return 8 + n;
}

/* ICMP: type, code, the 4-byte "rest of header" word, then data. */
static inline size_t l4_icmp(uint8_t *o, uint8_t type, uint8_t code, uint32_t rest,
			     const void *pl, size_t n)
{
	o[0] = type;
	o[1] = code;
	wr16(o + 2, 0);
	wr32(o + 4, rest);
	if (n)
		memcpy(o + 8, pl, n);
	wr16(o + 2, csum_inet(o, 8 + n));
	return 8 + n;
}

/* IPv4 header (tot_len and checksum computed) at o; returns its length. */
static inline size_t l3_ipv4(uint8_t *o, const struct ip4_spec *s, size_t payload_len)
{
	size_t hl = 20 + s->optlen;

	memset(o, 0, 20);
	o[0] = (uint8_t)(0x40 | hl / 4);
	o[1] = s->tos;
	wr16(o + 2, (uint16_t)(hl + payload_len));
	wr16(o + 4, s->id);
	wr16(o + 6, s->frag);
	o[8] = s->ttl;
	o[9] = s->proto;
	memcpy(o + 12, &s->saddr, 4);
	memcpy(o + 16, &s->daddr, 4);
	if (s->optlen) {
		if (s->opts)
			memcpy(o + 20, s->opts, s->optlen);
		else
			memset(o + 20, 1 /* NOP */, s->optlen);
	}
	wr16(o + 10, csum_inet(o, hl));
	return hl;
}

static inline size_t l2_eth(uint8_t *o, const uint8_t dst[6], const uint8_t src[6],
			    uint16_t type)
{
	memcpy(o, dst, 6);
	memcpy(o + 6, src, 6);
	wr16(o + 12, type);
	return ETH_LEN;
}

/* A whole frame: Ethernet + IPv4 header + the given L3 payload bytes. */
static inline void frame_ipv4(struct frame *f, const uint8_t dst[6], const uint8_t src[6],
			      const struct ip4_spec *ip, const void *payload, size_t n)
{
	size_t off = l2_eth(f->d, dst, src, 0x0800);

	off += l3_ipv4(f->d + off, ip, n);
	memcpy(f->d + off, payload, n);
	f->len = off + n;
}

/* ------------------------------------------------------------ IPv6 */

#define IP6_HLEN 40

/* The upper-layer checksum over the IPv6 pseudo-header (RFC 8200 8.1) of
 * the header at ip, from scratch: 0xffff when l4 (len bytes) is right. */
static inline uint16_t l4sum6(const uint8_t *ip, const uint8_t *l4, size_t len, uint8_t nh)
{
	uint8_t ph[40] = { 0 };

	memcpy(ph, ip + 8, 32);
	ph[34] = (uint8_t)(len >> 8);
	ph[35] = (uint8_t)len;
	ph[39] = nh;
	return cs_fold(cs_add(cs_add(0, ph, sizeof(ph)), l4, len));
}

/*
 * Ethernet + IPv6 + l4 (len bytes, its checksum at csum_off filled in from
 * scratch unless csum_off < 0). nh: the next header of the fixed header;
 * ul: the upper layer the checksum covers (they differ behind a fragment
 * header, whose checksum the caller computed over the whole datagram).
 */
static inline void frame_ipv6(struct frame *f, const uint8_t dst[6], const uint8_t src[6],
			      const uint8_t sa[16], const uint8_t da[16], uint8_t nh, uint8_t hop,
			      const uint8_t *l4, size_t len, int csum_off, uint8_t ul)
{
	uint8_t *ip = f->d + ETH_LEN, *p = ip + IP6_HLEN;

	memset(f, 0, sizeof(*f));
	l2_eth(f->d, dst, src, 0x86dd);
	ip[0] = 0x60;
	wr16(ip + 4, (uint16_t)len);
	ip[6] = nh;
	ip[7] = hop;
	memcpy(ip + 8, sa, 16);
	memcpy(ip + 24, da, 16);
	memcpy(p, l4, len);
	if (csum_off >= 0) {
		wr16(p + csum_off, 0);
		wr16(p + csum_off, (uint16_t)~l4sum6(ip, p, len, ul));
	}
	f->len = ETH_LEN + IP6_HLEN + len;
}

/* -------------------------------------------------------------- view */

/* Where things are in an Ethernet/IPv4 frame (no validation beyond bounds). */
struct view {
	const uint8_t *eth, *ip, *l4;
	size_t hl, l4len;       /* IP header length; L4 bytes per tot_len */
	uint32_t saddr, daddr;
	uint16_t sport, dport;  /* TCP/UDP ports; ICMP echo: id in both */
	uint16_t l4_csum;
	uint8_t proto, ttl;
};

static inline bool frame_view(const struct frame *f, struct view *v)
{
	memset(v, 0, sizeof(*v));
	if (f->len < ETH_LEN + 20)
		return false;
	v->eth = f->d;
	v->ip = f->d + ETH_LEN;
	v->hl = (size_t)(v->ip[0] & 0xf) * 4;
	if (v->hl < 20 || ETH_LEN + (size_t)rd16(v->ip + 2) > f->len || rd16(v->ip + 2) < v->hl)
		return false;
	v->l4 = v->ip + v->hl;
	v->l4len = rd16(v->ip + 2) - v->hl;
	v->saddr = rdaddr(v->ip + 12);
	v->daddr = rdaddr(v->ip + 16);
	v->proto = v->ip[9];
	v->ttl = v->ip[8];
	if ((v->proto == PROTO_TCP && v->l4len >= 20) || (v->proto == PROTO_UDP && v->l4len >= 8)) {
		v->sport = rd16(v->l4);
		v->dport = rd16(v->l4 + 2);
		v->l4_csum = rd16(v->l4 + (v->proto == PROTO_TCP ? 16 : 6));
	} else if (v->proto == PROTO_ICMP && v->l4len >= 8) {
		v->sport = v->dport = rd16(v->l4 + 4);
		v->l4_csum = rd16(v->l4 + 2);
	}
	return true;
}

/* ---------------------------------------------------------- verifier */

/*
 * The L4 checksum of a complete datagram (TCP, UDP, ICMP) at l4, n bytes.
 * Returns NULL or what is wrong, in why.
 */
static inline const char *l4_csum_error(uint32_t sa, uint32_t da, uint8_t proto,
					const uint8_t *l4, size_t n, const char *what,
					char *why, size_t whylen)
{
	bool ok = true;

	switch (proto) {
	case PROTO_TCP:
		ok = n >= 20 && csum_l4_ok(sa, da, PROTO_TCP, l4, n);
		break;
	case PROTO_UDP:
		/* 0: no checksum. */
		ok = n >= 8 && (rd16(l4 + 6) == 0 || csum_l4_ok(sa, da, PROTO_UDP, l4, n));
		break;
	case PROTO_ICMP:
		ok = n >= 8 && csum_inet_ok(l4, n);
		break;
	}
	if (ok)
		return NULL;
	snprintf(why, whylen, "%s checksum (proto %u, %zu bytes) is wrong: 0x%04x", what,
		 proto, n, n >= 8 ? rd16(l4 + (proto == PROTO_TCP ? 16 : proto == PROTO_UDP ? 6 : 2)) : 0);
	return why;
}

/*
 * Every checksum of an Ethernet/IPv4 frame that can be computed from its
 * bytes: the IP header; the L4 checksum unless the packet is a fragment;
 * for an ICMP error also the quoted IP header and, when the quoted packet
 * is there in full, its L4 checksum. NULL when all are right.
 */
static inline const char *frame_csum_error(const struct frame *f, char *why, size_t whylen)
{
	struct view v;
	const uint8_t *q, *ql4;
	size_t qhl, qtot, avail;

	if (!frame_view(f, &v)) {
		snprintf(why, whylen, "not a well-formed IPv4 frame (%zu bytes)", f->len);
		return why;
	}
	if (!csum_inet_ok(v.ip, v.hl)) {
		snprintf(why, whylen, "IP header checksum is wrong: 0x%04x", rd16(v.ip + 10));
		return why;
	}
	if (rd16(v.ip + 6) & (IPF_MF | 0x1fff))
		return NULL;    /* a fragment: the caller reassembles */
	if (l4_csum_error(v.saddr, v.daddr, v.proto, v.l4, v.l4len, "L4", why, whylen))
		return why;
	if (v.proto != PROTO_ICMP || v.l4len < 8 + 20 ||
	    (v.l4[0] != ICMPT_UNREACH && v.l4[0] != ICMPT_TIMXCEED && v.l4[0] != 4 &&
	     v.l4[0] != 12))
		return NULL;

	q = v.l4 + 8;
	avail = v.l4len - 8;
	qhl = (size_t)(q[0] & 0xf) * 4;
	if (qhl < 20 || qhl > avail) {
		snprintf(why, whylen, "quoted IP header is truncated");
		return why;
	}
	if (!csum_inet_ok(q, qhl)) {
		snprintf(why, whylen, "quoted IP header checksum is wrong: 0x%04x", rd16(q + 10));
		return why;
	}
	qtot = rd16(q + 2);
	if (qtot > avail || qtot < qhl)
		return NULL;    /* quoted in part: no L4 checksum to verify */
	ql4 = q + qhl;
	return l4_csum_error(rdaddr(q + 12), rdaddr(q + 16), q[9], ql4, qtot - qhl,
			     "quoted L4", why, whylen);
}

/* ---------------------------------------------------------- comparing */

struct csum_field {
	size_t off;
	bool strict;    /* UDP: 0 means "none", so 0 and 0xffff differ */
};

/*
 * The checksum fields of a frame: outer IP, L4 (not in later fragments),
 * and for an ICMP error the quoted IP header's and, if quoted, the quoted
 * L4 checksum. Returns how many were stored in fld (at most 5).
 */
static inline int frame_csum_fields(const struct frame *f, struct csum_field *fld)
{
	struct view v;
	const uint8_t *q;
	size_t ql4, end = f->len;
	int n = 0;

	if (!frame_view(f, &v))
		return 0;
	fld[n++] = (struct csum_field){ ETH_LEN + 10, false };
	if (rd16(v.ip + 6) & 0x1fff)
		return n;
	size_t l4 = (size_t)(v.l4 - f->d);
	if (v.proto == PROTO_TCP && v.l4len >= 18)
		fld[n++] = (struct csum_field){ l4 + 16, false };
	else if (v.proto == PROTO_UDP && v.l4len >= 8)
		fld[n++] = (struct csum_field){ l4 + 6, true };
	else if (v.proto == PROTO_ICMP && v.l4len >= 4)
		fld[n++] = (struct csum_field){ l4 + 2, false };
	if (v.proto != PROTO_ICMP || v.l4len < 28 ||
	    (v.l4[0] != ICMPT_UNREACH && v.l4[0] != ICMPT_TIMXCEED))
		return n;
	q = v.l4 + 8;
	fld[n++] = (struct csum_field){ (size_t)(q - f->d) + 10, false };
	ql4 = (size_t)(q - f->d) + (size_t)(q[0] & 0xf) * 4;
	if (q[9] == PROTO_TCP && ql4 + 18 <= end)
		fld[n++] = (struct csum_field){ ql4 + 16, false };
	else if (q[9] == PROTO_UDP && ql4 + 8 <= end)
		fld[n++] = (struct csum_field){ ql4 + 6, true };
	else if (q[9] == PROTO_ICMP && ql4 + 4 <= end)
		fld[n++] = (struct csum_field){ ql4 + 2, false };
	return n;
}

static inline void hexdump_frame(const struct frame *f, char *buf, size_t len)
{
	size_t o = 0;

	for (size_t i = 0; i < f->len && o + 4 < len; i++)
		o += (size_t)snprintf(buf + o, len - o, "%s%02x", i % 16 ? " " : "\n  ", f->d[i]);
}

/*
 * NULL when got is exactly exp, byte for byte, except that a TCP, ICMP or
 * IP checksum may carry either representation of one's complement zero
 * (0x0000 / 0xffff) where exp has the other. Else where they first differ.
 */
static inline const char *frame_diff(const struct frame *got, const struct frame *exp,
				     char *why, size_t whylen)
{
	struct csum_field fld[5];
	int n = frame_csum_fields(exp, fld);
	size_t i;

	if (got->len != exp->len) {
		snprintf(why, whylen, "length %zu, expected %zu", got->len, exp->len);
		return why;
	}
	for (i = 0; i < got->len; i++) {
		int k;

		for (k = 0; k < n; k++)
			if (i == fld[k].off)
				break;
		if (k < n) {
			uint16_t a = rd16(got->d + i), b = rd16(exp->d + i);

			if (a != b && (fld[k].strict || (a | b) != 0xffff || (a & b) != 0)) {
				snprintf(why, whylen, "checksum at offset %zu is 0x%04x, expected 0x%04x",
					 i, a, b);
				return why;
			}
			i++;
			continue;
		}
		if (got->d[i] != exp->d[i]) {
			snprintf(why, whylen, "byte at offset %zu is 0x%02x, expected 0x%02x", i,
				 got->d[i], exp->d[i]);
			return why;
		}
	}
	return NULL;
}

#endif /* XWAN_TEST_PKT_H */
