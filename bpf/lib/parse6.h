/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * IPv6 parsing for the dataplane (issue 13): the fixed header, the chain of
 * extension headers (a bounded walk), the fragment header, and what must be
 * left to the kernel untouched. Not used by xdp.bpf.c/tc.bpf.c yet; tested
 * through bpf/test/parse6_test.bpf.c.
 *
 * Left to the kernel (PARSE6_KERNEL), as every router must:
 *   - link-local (fe80::/10) sources or destinations: never forwarded;
 *   - multicast (ff00::/8) destinations: ND, MLD, DHCPv6, mDNS ...;
 *   - a hop-by-hop options header (RFC 8200 section 4.3: every router on the
 *     path examines it; MLD carries its router alert there);
 *   - ICMPv6 neighbour discovery (RFC 4861: 133 router solicitation, 134
 *     router advertisement, 135 neighbour solicitation, 136 advertisement,
 *     137 redirect) and MLD (130 query, 131/132 MLDv1 report/done, 143
 *     MLDv2 report), which are link-scoped even to a unicast address.
 */
#ifndef XWAN_PARSE6_H
#define XWAN_PARSE6_H

#ifndef __bpf__
#include <linux/types.h>
#endif

#define PARSE6_MAX_EXT   8      /* extension headers walked before giving up */
#define PARSE6_MAX_OFF   512    /* no upper-layer header is looked for past this */

#define PARSE6_IP6_HLEN         40
#define PARSE6_NH_HOP      0
#define PARSE6_NH_ROUTING  43
#define PARSE6_NH_FRAGMENT 44
#define PARSE6_NH_AUTH     51
#define PARSE6_NH_ICMPV6   58
#define PARSE6_NH_NONE     59
#define PARSE6_NH_DEST     60

enum parse6_rc {
	PARSE6_OK        = 0,   /* forwardable: proto/l4_off (and frag_*) are set */
	PARSE6_KERNEL    = 1,   /* leave it to the kernel, see above; reason in why */
	PARSE6_MALFORMED = 2,   /* truncated, wrong version, or too many headers */
};

enum parse6_why {
	PARSE6_WHY_NONE = 0,
	PARSE6_WHY_LINK_LOCAL,
	PARSE6_WHY_MULTICAST,
	PARSE6_WHY_HOP_BY_HOP,
	PARSE6_WHY_ND,
	PARSE6_WHY_MLD,
	PARSE6_WHY_TRUNCATED,
	PARSE6_WHY_VERSION,
	PARSE6_WHY_TOO_MANY_EXT,
	PARSE6_WHY_HOP_NOT_FIRST,   /* RFC 8200: hop-by-hop only right after the header */
};

struct parse6 {
	__u32 l4_off;           /* the upper-layer header (ICMPv6, TCP, UDP ...) */
	__u16 payload_len;      /* host order, from the fixed header */
	__u16 frag_off;         /* host order, in 8-byte units */
	__u32 frag_id;          /* network order */
	__u8  proto;            /* the upper-layer protocol */
	__u8  is_frag;          /* a fragment header was seen */
	__u8  more_frags;
	__u8  icmp_type;        /* ICMPv6 in the first fragment (or whole packet) */
	__u8  n_ext;            /* extension headers walked */
	__u8  why;              /* enum parse6_why */
	__u8  pad[2];
};

/* The parser itself runs over a packet context: only with a hook (ctx.h). The
 * constants and the result above are shared with userspace tests. */
#if defined(XWAN_HOOK_XDP) || defined(XWAN_HOOK_TC)
#include "ctx.h"

static __always_inline int parse6_link_local(const __u8 *a)
{
	return a[0] == 0xfe && (a[1] & 0xc0) == 0x80;
}

/* ICMPv6 types that are link-scoped whatever the destination. */
static __always_inline int parse6_icmp_why(__u8 type)
{
	if (type >= 133 && type <= 137)
		return PARSE6_WHY_ND;
	if ((type >= 130 && type <= 132) || type == 143)
		return PARSE6_WHY_MLD;
	return PARSE6_WHY_NONE;
}

static __always_inline int parse6_verdict(struct parse6 *p, int rc, int why)
{
	p->why = (__u8)why;
	return rc;
}

/*
 * One extension header at *off with next-header *nh. Returns 1 when it was
 * one (advanced), 0 when *nh is the upper layer, <0 when truncated.
 */
static __always_inline int parse6_ext(xwan_ctx *c, __u32 *off, __u8 *nh, struct parse6 *p)
{
	void *end = ctx_data_end(c);
	__u8 *h;
	__u32 len;

	if (*off > PARSE6_MAX_OFF)
		return -1;
	h = ctx_data(c) + *off;
	switch (*nh) {
	case PARSE6_NH_ROUTING:
	case PARSE6_NH_DEST:
		if ((void *)(h + 8) > end)
			return -1;
		len = ((__u32)h[1] + 1) * 8;
		break;
	case PARSE6_NH_AUTH:
		if ((void *)(h + 8) > end)
			return -1;
		len = ((__u32)h[1] + 2) * 4;
		break;
	case PARSE6_NH_FRAGMENT: {
		__u16 fo;

		if ((void *)(h + 8) > end)
			return -1;
		__builtin_memcpy(&fo, h + 2, sizeof(fo));
		__builtin_memcpy(&p->frag_id, h + 4, sizeof(p->frag_id));
		fo = bpf_ntohs(fo);
		p->is_frag = 1;
		p->frag_off = fo >> 3;
		p->more_frags = fo & 1;
		len = 8;
		break;
	}
	default:
		return 0;
	}
	*nh = h[0];
	*off += len;
	return 1;
}

/* Walk the extension headers from the fixed header's next-header. */
static __always_inline int parse6_walk(xwan_ctx *c, __u32 off, __u8 nh, struct parse6 *p,
				       __u32 *l4)
{
	int i, r;

	/* MAX_EXT headers and the upper layer after them: MAX_EXT + 1 steps. */
	for (i = 0; i <= PARSE6_MAX_EXT; i++) {
		if (nh == PARSE6_NH_HOP)
			return parse6_verdict(p, PARSE6_MALFORMED, PARSE6_WHY_HOP_NOT_FIRST);
		r = parse6_ext(c, &off, &nh, p);
		if (r < 0)
			return parse6_verdict(p, PARSE6_MALFORMED, PARSE6_WHY_TRUNCATED);
		if (r == 0)
			break;
	}
	if (i > PARSE6_MAX_EXT)
		return parse6_verdict(p, PARSE6_MALFORMED, PARSE6_WHY_TOO_MANY_EXT);
	p->n_ext = (__u8)i;
	p->proto = nh;
	p->l4_off = off;
	*l4 = off;
	return PARSE6_OK;
}

/*
 * The ICMPv6 type of a first fragment or whole packet, and whether it is the
 * kernel's. off is passed by value: the verifier must see the bound checked
 * on the register the packet pointer is built from, not on a reload.
 */
static __always_inline int parse6_icmp(xwan_ctx *c, __u32 off, struct parse6 *p)
{
	void *end = ctx_data_end(c);
	__u8 *t;
	int why;

	if (p->proto != PARSE6_NH_ICMPV6 || p->frag_off)
		return PARSE6_OK;
	if (off > PARSE6_MAX_OFF)
		return parse6_verdict(p, PARSE6_MALFORMED, PARSE6_WHY_TRUNCATED);
	t = ctx_data(c) + off;
	if ((void *)(t + 4) > end)
		return parse6_verdict(p, PARSE6_MALFORMED, PARSE6_WHY_TRUNCATED);
	p->icmp_type = t[0];
	why = parse6_icmp_why(t[0]);
	return why ? parse6_verdict(p, PARSE6_KERNEL, why) : PARSE6_OK;
}

/* Parse the IPv6 packet whose fixed header is at l3_off. */
static __always_inline int parse6(xwan_ctx *c, __u32 l3_off, struct parse6 *p)
{
	void *end = ctx_data_end(c);
	__u8 *ip;
	__u32 l4 = 0;
	__u16 plen;
	int rc;

	__builtin_memset(p, 0, sizeof(*p));
	if (l3_off > 64)
		return parse6_verdict(p, PARSE6_MALFORMED, PARSE6_WHY_TRUNCATED);
	ip = ctx_data(c) + l3_off;
	if ((void *)(ip + PARSE6_IP6_HLEN) > end)
		return parse6_verdict(p, PARSE6_MALFORMED, PARSE6_WHY_TRUNCATED);
	if ((ip[0] >> 4) != 6)
		return parse6_verdict(p, PARSE6_MALFORMED, PARSE6_WHY_VERSION);
	__builtin_memcpy(&plen, ip + 4, sizeof(plen));
	p->payload_len = bpf_ntohs(plen);
	if (parse6_link_local(ip + 8) || parse6_link_local(ip + 24))
		return parse6_verdict(p, PARSE6_KERNEL, PARSE6_WHY_LINK_LOCAL);
	if (ip[24] == 0xff)
		return parse6_verdict(p, PARSE6_KERNEL, PARSE6_WHY_MULTICAST);
	if (ip[6] == PARSE6_NH_HOP)
		return parse6_verdict(p, PARSE6_KERNEL, PARSE6_WHY_HOP_BY_HOP);
	rc = parse6_walk(c, l3_off + PARSE6_IP6_HLEN, ip[6], p, &l4);
	if (rc != PARSE6_OK)
		return rc;
	return parse6_icmp(c, l4, p);
}

#endif /* XWAN_HOOK_XDP || XWAN_HOOK_TC */

#endif /* XWAN_PARSE6_H */
