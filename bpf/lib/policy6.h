/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Policy rules for IPv6 flows: the same rules map, scan and matcher as
 * IPv4's (policy.h, xwan_rules.h), over the IPv6 tuple. A rule's group
 * decides a new flow's group (its sticky clients are group6_gateway's); a
 * bypass or drop is remembered as a one-sided marker entry, as IPv4's
 * flow_admit_marker, so the flow's later packets cost one lookup.
 */
#ifndef XWAN_POLICY6_H
#define XWAN_POLICY6_H

#include "flow6.h"
#include "policy.h"

/* The first rule matching a new IPv6 flow; NULL only if the scan has no memory. */
static __always_inline struct rule_scan *rules_match6(const struct pkt6 *p, __u32 ifindex,
						      const struct xwan_settings *s)
{
	struct rule_scan *r = rule_scan_get();

	if (!r)
		return NULL;
	xwan_rule_tuple6(&r->t, p->key.saddr, p->key.daddr, p->key.proto,
			 bpf_ntohs(p->key.dport), ifindex);
	return rules_scan(r, s);
}

static __always_inline int flow6_is_marker(const struct flow6_entry *fe)
{
	return fe->flags & (FLOW_F_BYPASS | FLOW_F_DROP);
}

/* A later packet of a flow a rule bypassed or dropped. */
static __always_inline __u32 flow6_marked(struct flow6_entry *fe, const struct pkt6 *p,
					  __u64 now)
{
	fe->last_seen_ns = now;
	fe->packets += 1;
	fe->bytes += p->len;
	return (fe->flags & FLOW_F_DROP) ? V_DROP_POLICY : V_PASS_BYPASS;
}

/* A rule bypassed or dropped a new flow: its marker, and the packet's verdict. */
static __always_inline __u32 flow6_marker(struct v6_scratch *w, __u32 ifindex, __u32 rule,
					  __u8 action, __u64 now)
{
	struct flow6_entry *mk = &w->out;

	__builtin_memset(mk, 0, sizeof(*mk));
	mk->created_ns = mk->last_seen_ns = now;
	mk->packets = 1;
	mk->bytes = w->p.len;
	mk->dir = FLOW_DIR_OUT;
	mk->in_ifindex = ifindex;
	mk->gw = XWAN_GW_NONE;
	mk->group = XWAN_GROUP_NONE;
	mk->rule = (__u16)rule;
	mk->flags = action == RULE_ACTION_DROP ? FLOW_F_DROP : FLOW_F_BYPASS;
	/* Its own peer: one entry that is a whole flow to the half-flow checks
	 * (flow6_half_left), the sweep and the flush. Never answered, it lives
	 * in flows6_new; an older answered entry of its key would shadow it. */
	mk->peer = w->p.key;
	bpf_map_delete_elem(&flows6, &w->p.key);
	if (bpf_map_update_elem(&flows6_new, &w->p.key, mk, BPF_ANY) == 0)
		count_event(EV_FLOW_CREATED);
	return action == RULE_ACTION_DROP ? V_DROP_POLICY : V_PASS_BYPASS;
}

/*
 * Step one of a new IPv6 flow: the rules. 0 with *group (the rule's, else
 * the default group) and w->rule set, or the verdict of a bypass or drop.
 */
static __always_inline __u32 flow6_policy(struct v6_scratch *w, const struct xwan_settings *s,
					  __u32 ifindex, __u64 now, __u32 *group)
{
	struct rule_scan *rs = rules_match6(&w->p, ifindex, s);

	if (!rs)
		return V_DROP_FLOW_ALLOC;
	w->rule = (__u16)rs->found;
	*group = s->default_group;
	if (rs->found == XWAN_RULE_NONE)
		return 0;
	if (rs->action != RULE_ACTION_GROUP)
		return flow6_marker(w, ifindex, rs->found, rs->action, now);
	*group = rs->group;
	return 0;
}

#endif /* XWAN_POLICY6_H */
