/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* `xwan explain`: the rule, group and gateway a new flow would get now. */
#ifndef XWAN_EXPLAIN_H
#define XWAN_EXPLAIN_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "maps.h"

struct xwan_explain_query {
	int family;             /* AF_INET (0 reads as it) or AF_INET6 */
	uint32_t src, dst;      /* AF_INET: network order */
	uint8_t src6[16], dst6[16];     /* AF_INET6 */
	uint8_t proto;          /* IPPROTO_TCP, _UDP, _ICMP (ICMPv6 for AF_INET6) */
	uint16_t dport;         /* host order */
	uint16_t sport;
	bool has_sport;
	uint32_t lan_ifindex;   /* 0: the LAN whose networks hold src */
};

int xwan_explain(const struct xwan_maps *m, const struct xwan_explain_query *q, FILE *out);

/* ---- shared by explain.c and explain6.c (IPv6 queries) ---- */

struct xwan_rule_tuple;
struct gw_slot_table;
struct policy_rule;
struct xwan_runtime;
struct xwan_settings;

int xwan_explain6(const struct xwan_maps *m, const struct xwan_explain_query *q, FILE *out);
const char *xwan_explain_gw(const struct xwan_runtime *rt, uint32_t gw);
/* The first live rule matching t (the dataplane's scan), -1: none. */
int xwan_explain_rule(const struct xwan_maps *m, const struct xwan_settings *s,
		      const struct xwan_rule_tuple *t, struct policy_rule *out);
/* "rule: ..." for the scan's result; 1 when the rule ends the flow (bypass, drop). */
int xwan_explain_rule_line(FILE *out, const struct xwan_runtime *rt,
			   const struct xwan_settings *s, int rule, const struct policy_rule *pr);
/* "group: NAME, METHOD, usable now: ..." without the newline. */
void xwan_explain_group_line(FILE *out, const struct xwan_runtime *rt, uint32_t group,
			     const struct gw_slot_table *t);
/* The gateway of q's slot from source port sport (the dataplane's hash of its key). */
uint32_t xwan_explain_slot(const struct gw_slot_table *t, const struct xwan_explain_query *q,
			   uint16_t sport);
/* "gateway: ..." the slot table gives a new flow of q (hash, rotation, none). */
void xwan_explain_choice(FILE *out, const struct xwan_runtime *rt,
			 const struct gw_slot_table *t, const struct xwan_explain_query *q);

#endif /* XWAN_EXPLAIN_H */
