/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Whether a policy rule matches a new flow, either family. Shared with
 * userspace so that `xwan explain` applies exactly the dataplane's test:
 * both build the tuple with the same xwan_rule_tuple4/6 and call the same
 * xwan_rule_matches.
 */
#ifndef XWAN_RULES_H
#define XWAN_RULES_H

#define XWAN_IPPROTO_ICMP   1
#define XWAN_IPPROTO_ICMPV6 58

/* A new flow as the rules see it. */
struct xwan_rule_tuple {
	__be32 saddr[4];        /* IPv4: word 0, the rest zero */
	__be32 daddr[4];
	__u32  ifindex;         /* the LAN interface it arrived on */
	__u16  dport;           /* host order, 0 for ICMP and ICMPv6 */
	__u8   proto;           /* ICMPv6 as IPPROTO_ICMP: `proto: icmp` is the family's */
	__u8   family;          /* RULE_FAMILY_IPV4 | RULE_FAMILY_IPV6 */
};

/* dport host order (bpf_ntohs / ntohs of the flow key's). */
static inline __attribute__((always_inline)) void
xwan_rule_tuple4(struct xwan_rule_tuple *t, __be32 saddr, __be32 daddr, __u8 proto,
		 __u16 dport, __u32 ifindex)
{
	__builtin_memset(t, 0, sizeof(*t));
	t->saddr[0] = saddr;
	t->daddr[0] = daddr;
	t->ifindex = ifindex;
	t->dport = proto == XWAN_IPPROTO_ICMP ? 0 : dport;
	t->proto = proto;
	t->family = RULE_FAMILY_IPV4;
}

static inline __attribute__((always_inline)) void
xwan_rule_tuple6(struct xwan_rule_tuple *t, const __u8 *saddr, const __u8 *daddr, __u8 proto,
		 __u16 dport, __u32 ifindex)
{
	int icmp = proto == XWAN_IPPROTO_ICMPV6;

	__builtin_memcpy(t->saddr, saddr, 16);
	__builtin_memcpy(t->daddr, daddr, 16);
	t->ifindex = ifindex;
	t->dport = icmp ? 0 : dport;
	t->proto = icmp ? XWAN_IPPROTO_ICMP : proto;
	t->family = RULE_FAMILY_IPV6;
}

static inline __attribute__((always_inline)) int
xwan_rule_matches(const struct policy_rule *r, const struct xwan_rule_tuple *t)
{
	int i;

	/* An IPv4 rule's zero masks in words 1-3 would match any IPv6 address there. */
	if (r->family && r->family != t->family)
		return 0;
	for (i = 0; i < 4; i++)
		if ((t->saddr[i] & r->src_mask[i]) != r->src_addr[i] ||
		    (t->daddr[i] & r->dst_mask[i]) != r->dst_addr[i])
			return 0;
	return (!r->proto || r->proto == t->proto) &&
	       (!r->lan_ifindex || r->lan_ifindex == t->ifindex) &&
	       t->dport >= r->dport_min && t->dport <= r->dport_max;
}

#endif /* XWAN_RULES_H */
