/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Policy rules (first match wins) and sticky clients: what decides a new
 * flow's group, and which of the group's gateways a client keeps using.
 * Both run on a flow's first packet only.
 */
#ifndef XWAN_POLICY_H
#define XWAN_POLICY_H

#include "clock.h"
#include "maps.h"
#include "parse.h"
#include "../xwan_rules.h"

/*
 * One rule scan: the tuple and its first matching rule. Per CPU (no program
 * nests on a CPU while it scans), so neither family's path carries it on
 * its stack; the bpf_loop callback finds it by itself.
 */
struct rule_scan {
	struct xwan_rule_tuple t;
	__u32  base;            /* first rule of the live bank */
	__u32  count;
	__u32  found;           /* rule index, XWAN_RULE_NONE */
	__u8   action;
	__u8   group;
	__u8   filtering;       /* the rule's policy_rule.filtering, 0: none */
	__u8   pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct rule_scan);
} rule_scans SEC(".maps");

static __always_inline struct rule_scan *rule_scan_get(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&rule_scans, &zero);
}

static long rule_try(__u32 i, void *data)
{
	struct rule_scan *r = rule_scan_get();
	struct policy_rule *pr;
	__u32 k;

	(void)data;
	if (!r || i >= r->count)
		return 1;
	k = r->base + i;
	pr = bpf_map_lookup_elem(&rules, &k);
	if (!pr)
		return 1;
	if (!xwan_rule_matches(pr, &r->t))
		return 0;
	r->found = i;
	r->action = pr->action;
	r->group = pr->group;
	r->filtering = pr->filtering;
	return 1;
}

/* The first rule matching r->t (either family); found == XWAN_RULE_NONE when none. */
static __always_inline struct rule_scan *rules_scan(struct rule_scan *r,
						    const struct xwan_settings *s)
{
	__u32 sel = s->rules_sel;

	r->base = xwan_rule_key(xwan_rules_bank(sel), 0);
	r->count = xwan_rules_count(sel);
	r->found = XWAN_RULE_NONE;
	r->action = r->group = r->filtering = 0;
	if (r->count)
		bpf_loop(XWAN_MAX_RULES, rule_try, NULL, 0);
	return r;
}

/* The first rule matching a new IPv4 flow; NULL only if the scan has no memory. */
static __always_inline struct rule_scan *rules_match(const struct pkt *p, __u32 ifindex,
						     const struct xwan_settings *s)
{
	struct rule_scan *r = rule_scan_get();

	if (!r)
		return NULL;
	xwan_rule_tuple4(&r->t, p->key.saddr, p->key.daddr, p->key.proto,
			 bpf_ntohs(p->key.dport), ifindex);
	return rules_scan(r, s);
}

static __always_inline void sticky_key_of(const struct gw_slot_table *t, const struct pkt *p,
					  __u32 group, struct sticky_key_v4 *k)
{
	k->src = p->key.saddr;
	k->dst = t->sticky_key == STICKY_KEY_SRC_DST ? p->key.daddr : 0;
	k->group = (__u8)group;
	k->pad[0] = k->pad[1] = k->pad[2] = 0;
}

/* The gateway a sticky client is bound to, if it may still use it. */
static __always_inline __u32 sticky_gateway(const struct gw_slot_table *t, const struct pkt *p,
					    __u32 group, __u64 now)
{
	struct sticky_key_v4 k;
	struct sticky_binding *b;

	if (!t->sticky_expire_s)
		return XWAN_GW_NONE;
	sticky_key_of(t, p, group, &k);
	b = bpf_map_lookup_elem(&sticky, &k);
	if (!b || b->gw >= XWAN_MAX_GATEWAYS ||
	    age_exceeds(now, b->last_ns, (__u64)t->sticky_expire_s * 1000000000ULL) ||
	    !(t->usable_mask & (1U << b->gw)))
		return XWAN_GW_NONE;
	count_event(EV_STICKY_HIT);
	return b->gw;
}

static __always_inline void sticky_bind(const struct gw_slot_table *t, const struct pkt *p,
					__u32 group, __u32 gw, __u64 now)
{
	struct sticky_binding b = { .last_ns = now, .gw = (__u8)gw };
	struct sticky_key_v4 k;

	if (!t->sticky_expire_s)
		return;
	sticky_key_of(t, p, group, &k);
	bpf_map_update_elem(&sticky, &k, &b, BPF_ANY);
}

#endif /* XWAN_POLICY_H */
