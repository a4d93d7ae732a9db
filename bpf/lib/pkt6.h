/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * An IPv6 packet as the IPv6 dataplane sees it (issue 13): the flow tuple,
 * hop limit, fragment kind, and for an ICMPv6 error the quoted packet's
 * tuple and where its addresses are. Built on parse6.h (which decides what
 * is the kernel's); nothing here writes to the packet. Loads go through
 * the load-bytes helpers, so offsets past extension headers need no
 * packet-pointer proofs.
 */
#ifndef XWAN_PKT6_H
#define XWAN_PKT6_H

#include "parse.h"      /* enum frag_kind, TCP flags */
#include "parse6.h"

#define ETH_P_IPV6_BE       0xdd86   /* htons(0x86dd) */
#define IPPROTO_ICMPV6_     58

#define IP6_SRC_OFF         8       /* the addresses in the fixed header */
#define IP6_DST_OFF         24

#define ICMP6_DST_UNREACH   1
#define ICMP6_PKT_TOOBIG    2
#define ICMP6_TIME_EXCEEDED 3
#define ICMP6_PARAM_PROB    4
#define ICMP6_ECHO_REQUEST  128
#define ICMP6_ECHO_REPLY    129

struct pkt6 {
	struct flow6_key key;   /* ICMPv6 echo: id is sport of a request, dport of a reply */
	struct flow6_key inner; /* ICMPv6 error: the quoted packet, as it was sent */
	__u32 l3_off;
	__u32 l4_off;
	__u32 in_l3_off;        /* ICMPv6 error: the quoted IPv6 header */
	__u32 len;              /* IPv6 header + payload */
	__be32 frag_id;
	__u8  hop_limit;
	__u8  frag;             /* enum frag_kind */
	__u8  icmp_err;
	__u8  tcp_flags;
	__u8  eth_src[6];       /* the frame's source MAC (zero on L3 devices) */
	__u8  icmp_type;        /* ICMPv6: the message type */
	__u8  pad;
};

#if defined(XWAN_HOOK_XDP)
static __always_inline int ctx_load(xwan_ctx *c, __u32 off, void *to, __u32 len)
{
	return bpf_xdp_load_bytes(c, off, to, len);
}

/* Is this frame IPv6? XDP runs on Ethernet devices only (l2.h). */
static __always_inline int ctx_is_ipv6(xwan_ctx *c, __u32 l3_off)
{
	__be16 proto = 0;

	(void)l3_off;
	if (ctx_load(c, 12, &proto, sizeof(proto)))
		return 0;
	return proto == ETH_P_IPV6_BE;
}
#else
static __always_inline int ctx_load(xwan_ctx *c, __u32 off, void *to, __u32 len)
{
	return bpf_skb_load_bytes(c, off, to, len);
}

static __always_inline int ctx_is_ipv6(xwan_ctx *c, __u32 l3_off)
{
	(void)l3_off;
	return CTX_LOAD_U32(c, protocol) == ETH_P_IPV6_BE;
}
#endif

/* Ports (or the echo identifier) of the L4 header at off into k. */
static __always_inline int pkt6_ports(xwan_ctx *c, __u32 off, struct flow6_key *k,
				      __u8 *tcp_flags)
{
	__u8 h[14];

	switch (k->proto) {
	case IPPROTO_TCP:
		if (ctx_load(c, off, h, 14))
			return -1;
		if (tcp_flags)
			*tcp_flags = h[13];
		break;
	case IPPROTO_UDP:
		if (ctx_load(c, off, h, 4))
			return -1;
		break;
	case IPPROTO_ICMPV6_:
		if (ctx_load(c, off, h, 6))
			return -1;
		if (h[0] == ICMP6_ECHO_REQUEST)
			__builtin_memcpy(&k->sport, h + 4, 2);
		else if (h[0] == ICMP6_ECHO_REPLY)
			__builtin_memcpy(&k->dport, h + 4, 2);
		return 0;
	default:
		return 0;   /* by address only (ESP, GRE...) */
	}
	__builtin_memcpy(&k->sport, h, 2);
	__builtin_memcpy(&k->dport, h + 2, 2);
	return 0;
}

static __always_inline int icmp6_is_error(__u8 type)
{
	return type >= ICMP6_DST_UNREACH && type <= ICMP6_PARAM_PROB;
}

/* The packet an ICMPv6 error quotes: its fixed header and first L4 bytes. */
static __always_inline int pkt6_inner(xwan_ctx *c, struct pkt6 *p)
{
	__u32 off = p->l4_off + 8;
	__u8 ip[8];

	/* Straight into the key (saddr, daddr adjoin): the stack is short. */
	if (ctx_load(c, off, ip, 8) || ctx_load(c, off + 8, p->inner.saddr, 32))
		return PARSE_MALFORMED;
	if ((ip[0] >> 4) != 6)
		return PARSE_MALFORMED;
	p->in_l3_off = off;
	p->inner.proto = ip[6];
	/* A quoted extension header: matched by addresses only, as a port-less protocol. */
	if (pkt6_ports(c, off + 40, &p->inner, NULL))
		return PARSE_MALFORMED;
	return PARSE_OK;
}

/*
 * Parse the IPv6 packet at l3_off. PARSE_OK, PARSE_UNSUPPORTED for what
 * parse6 leaves to the kernel (link-local, multicast, ND, MLD, hop-by-hop),
 * PARSE_MALFORMED.
 */
static __always_inline int pkt6_parse(xwan_ctx *c, __u32 l3_off, struct pkt6 *p)
{
	struct parse6 ps;
	__u8 ip[8];
	int rc;

	rc = parse6(c, l3_off, &ps);
	if (rc == PARSE6_KERNEL)
		return PARSE_UNSUPPORTED;
	if (rc != PARSE6_OK)
		return PARSE_MALFORMED;
	if (ctx_load(c, l3_off, ip, 8) || ctx_load(c, l3_off + 8, p->key.saddr, 32))
		return PARSE_MALFORMED;
	if (l3_off >= ETH_HLEN && ctx_load(c, 6, p->eth_src, 6))
		return PARSE_MALFORMED;
	p->l3_off = l3_off;
	p->l4_off = ps.l4_off;
	p->len = 40 + (__u32)ps.payload_len;
	p->hop_limit = ip[7];
	p->key.proto = ps.proto;
	p->icmp_type = ps.proto == IPPROTO_ICMPV6_ ? ps.icmp_type : 0;
	p->frag_id = ps.frag_id;
	p->frag = !ps.is_frag ? FRAG_NONE : ps.frag_off ? FRAG_LATER : FRAG_FIRST;
	if (p->frag == FRAG_LATER)
		return PARSE_OK;        /* no L4 header: follows the first's flow */
	if (pkt6_ports(c, ps.l4_off, &p->key, &p->tcp_flags))
		return PARSE_MALFORMED;
	if (ps.proto == IPPROTO_ICMPV6_ && icmp6_is_error(ps.icmp_type)) {
		p->icmp_err = 1;
		return pkt6_inner(c, p);
	}
	return PARSE_OK;
}

#endif /* XWAN_PKT6_H */
