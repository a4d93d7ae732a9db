/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Whether a policy rule matches a new flow. Shared with userspace so that
 * `xwan explain` applies exactly the dataplane's test. dport is host order
 * (0 for ICMP); addresses are network order, as in struct policy_rule.
 */
#ifndef XWAN_RULES_H
#define XWAN_RULES_H

static inline __attribute__((always_inline)) int
xwan_rule_matches(const struct policy_rule *r, __u32 saddr, __u32 daddr, __u8 proto,
		  __u16 dport, __u32 ifindex)
{
	return (saddr & r->src_mask) == r->src_addr &&
	       (daddr & r->dst_mask) == r->dst_addr &&
	       (!r->proto || r->proto == proto) &&
	       (!r->lan_ifindex || r->lan_ifindex == ifindex) &&
	       dport >= r->dport_min && dport <= r->dport_max;
}

#endif /* XWAN_RULES_H */
