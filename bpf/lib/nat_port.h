/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * What port NAT gives a new flow and how it writes a port, for either
 * address family: IPv4's endpoint-independent mappings (mapping_nat.h) and
 * NAT66 (nat66.h) walk the same candidates and rewrite ports the same way.
 */
#ifndef XWAN_NAT_PORT_H
#define XWAN_NAT_PORT_H

#include "ctx.h"
#include "maps.h"
#include "parse.h"

/*
 * May this packet open a flow (and claim a port)? Only a flow's opening
 * packet, never a reply, an error or a later fragment (err_or_later): a
 * TCP SYN, or with `asymmetric: allow` any segment but a RST (it belongs
 * to a session that started elsewhere, before a restart or through another
 * router, and picking it up mid-stream is a choice); an ICMP or ICMPv6
 * query (icmp_proto: the family's; query: echo, timestamp...); UDP and
 * every other protocol.
 */
static __always_inline int pkt_l4_opens_flow(const struct xwan_settings *s, int err_or_later,
					     __u8 proto, __u8 tcp_flags, __u8 icmp_proto,
					     int query)
{
	if (err_or_later)
		return 0;
	if (proto == IPPROTO_TCP)
		return (tcp_flags & (TCP_FLAG_SYN | TCP_FLAG_ACK | TCP_FLAG_RST)) == TCP_FLAG_SYN ||
		       (s->asymmetric == ASYM_ALLOW && !(tcp_flags & TCP_FLAG_RST));
	if (proto == icmp_proto)
		return query;
	return 1;
}

/*
 * The i-th public port (host order) to try in [base, base + range): the
 * client's own when it is in the range (first, 0: none; RFC 4787 REQ-3,
 * port preservation), then ports of the client's parity from a random
 * start, and past half of the tries any port (parity is only RECOMMENDED,
 * REQ-4, a port at all more so).
 */
static __always_inline __u32 nat_port_candidate(__u32 first, __u32 base, __u32 range,
						__u32 start, __u32 parity, __u32 i)
{
	__u32 c;

	if (i == 0 && first)
		return first;
	if (i >= XWAN_NAT_TRIES / 2)
		return base + (start + i) % range;
	c = base + (start + 2 * i) % range;
	if ((c & 1) != parity && (c ^ 1) >= base && (c ^ 1) < base + range)
		c ^= 1;
	return c;
}

/*
 * A port (or ICMP identifier) at port_off becomes `port`, the transport
 * checksum at csum_off (0: none) following. mangled: BPF_F_MARK_MANGLED_0
 * for UDP.
 */
static __always_inline int nat_store_port(xwan_ctx *ctx, __u32 csum_off, __u32 port_off,
					  __be16 old, __be16 port, __u64 mangled)
{
	if (!port_off || old == port)
		return 0;
	if (csum_off && ctx_l4_csum_replace(ctx, csum_off, old, port, mangled | sizeof(port)))
		return -1;
	return ctx_store16(ctx, port_off, port);
}

#endif /* XWAN_NAT_PORT_H */
