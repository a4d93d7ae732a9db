// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * `xwan explain`: what the dataplane would do with a new flow, worked out
 * from the live maps with the dataplane's own rule matcher and hash, and
 * whether a live flow already pins that traffic somewhere.
 */
#include "explain.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "../bpf/xwan_hash.h"
#include "../bpf/xwan_rules.h"
#include "flows.h"
#include "mappings.h"

static const char *proto_name(uint8_t p)
{
	return p == IPPROTO_TCP ? "tcp" : p == IPPROTO_UDP ? "udp" : "icmp";
}

const char *xwan_explain_gw(const struct xwan_runtime *rt, uint32_t gw)
{
	return gw < XWAN_MAX_GATEWAYS && rt->gw_name[gw][0] ? rt->gw_name[gw] : "?";
}

/* The LAN interface whose networks hold src (what anti-spoofing checks). */
static uint32_t lan_of(const struct xwan_maps *m, const struct xwan_runtime *rt, uint32_t src)
{
	for (__u32 i = 0; i < rt->n_attach; i++) {
		struct lan_src_key k = { .prefixlen = 64, .ifindex = rt->attach[i].ifindex,
					 .addr = src };
		__u32 v;

		if (rt->attach[i].role == IFACE_LAN &&
		    bpf_map_lookup_elem(m->fd[XM_LAN_NETS], &k, &v) == 0)
			return rt->attach[i].ifindex;
	}
	return 0;
}

int xwan_explain_rule(const struct xwan_maps *m, const struct xwan_settings *s,
		      const struct xwan_rule_tuple *t, struct policy_rule *out)
{
	uint32_t bank = xwan_rules_bank(s->rules_sel), count = xwan_rules_count(s->rules_sel);

	for (uint32_t i = 0; i < count && i < XWAN_MAX_RULES; i++) {
		__u32 key = xwan_rule_key(bank, i);

		if (bpf_map_lookup_elem(m->fd[XM_RULES], &key, out))
			return -1;
		if (xwan_rule_matches(out, t))
			return (int)i;
	}
	return -1;
}

static const char *method_of(const struct gw_slot_table *t)
{
	return t->method == GROUP_METHOD_ROUND_ROBIN ? "round-robin" : "hash";
}

int xwan_explain_rule_line(FILE *out, const struct xwan_runtime *rt,
			   const struct xwan_settings *s, int rule, const struct policy_rule *pr)
{
	const char *name = rule >= 0 && (uint32_t)rule < rt->n_rules ? rt->rule_name[rule] : "?";

	if (rule < 0) {
		fprintf(out, "rule:     none matched (%u rules): the default group\n",
			xwan_rules_count(s->rules_sel));
		return 0;
	}
	if (pr->action == RULE_ACTION_BYPASS) {
		fprintf(out, "rule:     #%d %s: bypass, left to the kernel's routing table (no "
			"NAT)\n", rule + 1, name);
		return 1;
	}
	if (pr->action == RULE_ACTION_DROP) {
		fprintf(out, "rule:     #%d %s: drop (counted as policy_rule)\n", rule + 1, name);
		return 1;
	}
	fprintf(out, "rule:     #%d %s -> group %s\n", rule + 1, name,
		pr->group < XWAN_MAX_GROUPS ? rt->group_name[pr->group] : "?");
	return 0;
}

void xwan_explain_group_line(FILE *out, const struct xwan_runtime *rt, uint32_t group,
			     const struct gw_slot_table *t)
{
	fprintf(out, "group:    %s, %s", group < XWAN_MAX_GROUPS ? rt->group_name[group] : "?",
		method_of(t));
	fprintf(out, ", usable now:");
	for (int g = 0, n = 0; g < XWAN_MAX_GATEWAYS; g++)
		if (t->usable_mask & (1U << g))
			fprintf(out, "%s %s", n++ ? "," : "", xwan_explain_gw(rt, (uint32_t)g));
	if (!t->usable_mask)
		fprintf(out, " none");
}

/* The slot of q from source port sport: the dataplane's hash of its flow key
 * (an IPv6 address folded as group6_gateway folds it, ICMPv6 as 58). */
uint32_t xwan_explain_slot(const struct gw_slot_table *t, const struct xwan_explain_query *q,
			   uint16_t sport)
{
	bool v6 = q->family == AF_INET6;
	uint32_t h = xwan_flow_hash(v6 ? xwan_addr6_fold(q->src6) : q->src,
				    v6 ? xwan_addr6_fold(q->dst6) : q->dst, htons(sport),
				    q->proto == IPPROTO_ICMP ? 0 : htons(q->dport),
				    v6 && q->proto == IPPROTO_ICMP ? IPPROTO_ICMPV6 : q->proto,
				    t->hash_fields, t->seed);

	return t->slot[h % t->nslots];
}

void xwan_explain_choice(FILE *out, const struct xwan_runtime *rt,
			 const struct gw_slot_table *t, const struct xwan_explain_query *q)
{
	uint32_t share[XWAN_MAX_GATEWAYS] = {};
	bool first = true;

	if (!t->nslots) {
		fprintf(out, "gateway:  none usable: %s\n",
			t->when_all_down == ALL_DOWN_DROP ? "the flow is dropped (when_all_down: drop)"
							  : "left to the kernel's routing table "
							    "(when_all_down: kernel)");
		return;
	}
	if (t->method == GROUP_METHOD_ROUND_ROBIN) {
		for (uint32_t i = 0; i < t->nslots; i++)
			share[t->slot[i]]++;
		fprintf(out, "gateway:  the next turn of the weighted rotation:");
	} else if (q->has_sport || !(t->hash_fields & HASH_F_SPORT)) {
		fprintf(out, "gateway:  %s\n", xwan_explain_gw(rt, xwan_explain_slot(t, q, q->sport)));
		return;
	} else {
		/* The source port is hashed and unknown: say how the ports split. */
		for (uint32_t p = 0; p < 65536; p++)
			share[xwan_explain_slot(t, q, (uint16_t)p)]++;
		fprintf(out, "gateway:  depends on the %s:",
			q->proto == IPPROTO_ICMP ? "echo identifier" : "source port");
	}
	if (__builtin_popcount(t->usable_mask) == 1) {
		fprintf(out, " %s (the only usable member)\n",
			xwan_explain_gw(rt, xwan_explain_slot(t, q, 0)));
		return;
	}
	for (int g = 0; g < XWAN_MAX_GATEWAYS; g++) {
		uint32_t total = t->method == GROUP_METHOD_ROUND_ROBIN ? t->nslots : 65536;

		if (!share[g])
			continue;
		fprintf(out, "%s %s %.0f%%", first ? "" : ",", xwan_explain_gw(rt, (uint32_t)g),
			100.0 * share[g] / total);
		first = false;
	}
	fprintf(out, "\n");
}

/*
 * The source socket's NAT mapping, when the query names one. 1: it is live
 * and decides the gateway (the dataplane's nat_map_gateway, mapping_nat.h).
 */
static int print_mapping(FILE *out, const struct xwan_maps *m, const struct xwan_runtime *rt,
			 const struct xwan_settings *s, const struct xwan_explain_query *q,
			 const struct gw_slot_table *t, uint64_t now)
{
	struct nat_map_key k = { .addr = q->src, .port = htons(q->sport), .proto = q->proto,
				 .side = NMAP_LAN };
	char pub[INET_ADDRSTRLEN], lan[INET_ADDRSTRLEN];
	struct nat_map nm;
	uint64_t idle;

	if (!q->has_sport || (q->proto != IPPROTO_TCP && q->proto != IPPROTO_UDP))
		return 0;
	if (bpf_map_lookup_elem(m->fd[XM_NAT_MAPS], &k, &nm)) {
		fprintf(out, "mapping:  none yet: this flow makes one (filtering %s)\n",
			xwan_filtering_name(t->filtering));
		return 0;
	}
	idle = now > nm.last_ns ? (now - nm.last_ns) / 1000000000ULL : 0;
	inet_ntop(AF_INET, &nm.addr, pub, sizeof(pub));
	if (!xwan_mapping_live(&nm, q->proto, s, now)) {
		fprintf(out, "mapping:  expired (idle %llus): this flow makes a new one\n",
			(unsigned long long)idle);
		return 0;
	}
	fprintf(out, "mapping:  %s:%u -> %s:%u on %s, filtering %s, %u flows, idle %llus\n",
		inet_ntop(AF_INET, &q->src, lan, sizeof(lan)),
		q->sport, pub, ntohs(nm.port), xwan_explain_gw(rt, nm.gw), xwan_filtering_name(nm.filtering),
		nm.flows, (unsigned long long)idle);
	if (nm.gw >= XWAN_MAX_GATEWAYS || !(t->usable_mask & (1U << nm.gw))) {
		fprintf(out, "mapping:  its WAN is not usable in this group now: the flow makes a "
			"new mapping where it goes\n");
		return 0;
	}
	fprintf(out, "gateway:  %s (the socket's mapping, whatever the hash says)\n",
		xwan_explain_gw(rt, nm.gw));
	return 1;
}

/* The configured LAN network of addr on lan (xwan_lan_net_id), -1: none. */
static long lan_net_of(const struct xwan_maps *m, uint32_t lan, uint32_t addr)
{
	struct lan_src_key k = { .prefixlen = 64, .ifindex = lan, .addr = addr };
	__u32 v;

	return bpf_map_lookup_elem(m->fd[XM_LAN_NETS], &k, &v) ? -1 : (long)v;
}

/*
 * A LAN client's flow to one of the host's WAN addresses: hairpinned to a
 * port forward's server or to a LAN host's mapping (bpf/lib/hairpin.h), or
 * the host's. 1 when it said what happens.
 */
static int print_hairpin(FILE *out, const struct xwan_maps *m, const struct xwan_runtime *rt,
			 const struct xwan_settings *s, const struct xwan_explain_query *q,
			 uint64_t now)
{
	struct port_fwd_key fk = { .addr = q->dst, .port = htons(q->dport), .proto = q->proto };
	struct nat_map_key mk = { .addr = q->dst, .port = htons(q->dport), .proto = q->proto,
				  .side = NMAP_PUB };
	char to[INET_ADDRSTRLEN], pub[INET_ADDRSTRLEN];
	uint32_t lan = lan_of(m, rt, q->src);
	struct port_fwd pf;
	struct nat_map pm, lm;
	long cnet;

	if ((q->proto != IPPROTO_TCP && q->proto != IPPROTO_UDP) || !lan)
		return 0;
	if (bpf_map_lookup_elem(m->fd[XM_PORT_FWDS], &fk, &pf) == 0) {
		inet_ntop(AF_INET, &pf.to_addr, to, sizeof(to));
		if (!(pf.flags & PORT_FWD_F_REFLECT)) {
			fprintf(out, "hairpin:  a port forward of %s to %s:%u, reflection: false: the "
				"host answers (set `reflection: true` to reach the server)\n",
				xwan_explain_gw(rt, pf.gw), to, ntohs(pf.to_port));
			return 1;
		}
		cnet = lan_net_of(m, lan, q->src);
		fprintf(out, "hairpin:  reflected by the port forward of %s to %s:%u; the server "
			"sees %s\n", xwan_explain_gw(rt, pf.gw), to, ntohs(pf.to_port),
			cnet >= 0 && cnet == lan_net_of(m, lan_of(m, rt, pf.to_addr), pf.to_addr)
				? "the router's LAN address (same network as the client)"
				: "the client's own address");
		return 1;
	}
	if (bpf_map_lookup_elem(m->fd[XM_NAT_MAPS], &mk, &pm))
		return 0;
	mk = (struct nat_map_key){ .addr = pm.addr, .port = pm.port, .proto = q->proto,
				   .side = NMAP_LAN };
	if (bpf_map_lookup_elem(m->fd[XM_NAT_MAPS], &mk, &lm) || lm.addr != q->dst ||
	    lm.port != htons(q->dport) || !xwan_mapping_live(&lm, q->proto, s, now))
		return 0;
	inet_ntop(AF_INET, &pm.addr, to, sizeof(to));
	fprintf(out, "hairpin:  %s:%u is the live mapping of %s:%u (filtering %s): %s\n",
		inet_ntop(AF_INET, &q->dst, pub, sizeof(pub)),
		q->dport, to, ntohs(pm.port), xwan_filtering_name(lm.filtering),
		lm.filtering == FILTER_ENDPOINT
			? "hairpinned, the LAN host sees the client's public address"
			: "hairpinned only if the LAN host sent to this WAN address "
			  "(address-dependent), else dropped as unsolicited");
	return 1;
}

struct pin_ctx {
	const struct xwan_explain_query *q;
	const struct xwan_runtime *rt;
	FILE *out;
	uint64_t now;
	int n;
};

static int pinned_by(const struct xwan_flow *f, void *data)
{
	struct pin_ctx *c = data;
	char nat[INET_ADDRSTRLEN];

	if (!f->live || f->local || f->key.saddr != c->q->src || f->key.daddr != c->q->dst ||
	    f->key.proto != c->q->proto)
		return 0;
	if (c->q->proto != IPPROTO_ICMP && c->q->dport && ntohs(f->key.dport) != c->q->dport)
		return 0;
	if (c->q->has_sport && ntohs(f->key.sport) != c->q->sport)
		return 0;
	if (c->n++ >= 5)
		return 0;
	inet_ntop(AF_INET, &f->out.xlate_addr, nat, sizeof(nat));
	fprintf(c->out, "existing: source port %u is pinned to %s (%s, NAT %s:%u, idle %llus)\n",
		ntohs(f->key.sport), (f->out.flags & (FLOW_F_BYPASS | FLOW_F_DROP)) ? "-"
				     : xwan_explain_gw(c->rt, f->out.gw), xwan_flow_kind(f), nat,
		ntohs(f->out.xlate_port),
		(unsigned long long)((c->now - f->out.last_seen_ns) / 1000000000ULL));
	return 0;
}

int xwan_explain(const struct xwan_maps *m, const struct xwan_explain_query *q, FILE *out)
{
	struct xwan_runtime *rt = calloc(1, sizeof(*rt));
	struct gw_slot_table *t = calloc(1, sizeof(*t));
	char src[INET_ADDRSTRLEN], dst[INET_ADDRSTRLEN];
	struct lpm_v4_key dk = { .prefixlen = 32, .addr = q->dst };
	struct pin_ctx pc = { .q = q, .out = out, .now = xwan_now_ns() };
	struct xwan_settings s;
	struct xwan_rule_tuple tuple;
	struct policy_rule pr;
	struct dst_policy dp;
	struct gw_group gg;
	uint32_t lan, group, key;
	int rc = -ENOMEM, rule;

	if (q->family == AF_INET6) {
		rc = xwan_explain6(m, q, out);
		goto out;
	}
	if (!rt || !t)
		goto out;
	rc = xwan_runtime_read(m, rt);
	if (!rc)
		rc = xwan_settings_read(m, &s);
	if (rc)
		goto out;
	pc.rt = rt;
	inet_ntop(AF_INET, &q->src, src, sizeof(src));
	inet_ntop(AF_INET, &q->dst, dst, sizeof(dst));
	if (q->proto == IPPROTO_ICMP) {
		fprintf(out, "flow:     icmp echo %s -> %s\n", src, dst);
	} else {
		char sp[8] = "*", dpt[8] = "*";

		if (q->has_sport)
			snprintf(sp, sizeof(sp), "%u", q->sport);
		if (q->dport)
			snprintf(dpt, sizeof(dpt), "%u", q->dport);
		fprintf(out, "flow:     %s %s:%s -> %s:%s\n", proto_name(q->proto), src, sp, dst, dpt);
	}

	if (bpf_map_lookup_elem(m->fd[XM_DST_POLICY], &dk, &dp) == 0) {
		if (dp.action == DST_ACTION_LOCAL) {
			if (print_hairpin(out, m, rt, &s, q, pc.now))
				goto existing;
			fprintf(out, "policy:   %s is the host itself: the kernel answers, no rule applies\n",
				dst);
			goto existing;
		}
		if (dp.action == DST_ACTION_BYPASS) {
			fprintf(out, "policy:   %s is on the LAN side (a LAN network or connected "
				"subnet): the kernel routes it, no NAT\n", dst);
			goto existing;
		}
	}
	lan = q->lan_ifindex ? q->lan_ifindex : lan_of(m, rt, q->src);
	if (!lan) {
		fprintf(out, "policy:   %s is in no LAN's networks: dropped as spoofed "
			"(spoofed_source)\n", src);
		goto existing;
	}
	if (bpf_map_lookup_elem(m->fd[XM_DST_POLICY], &dk, &dp) == 0 &&
	    dp.action == DST_ACTION_WAN) {
		fprintf(out, "policy:   %s is on %s's own subnet: that WAN, no rule or balancing\n",
			dst, xwan_explain_gw(rt, dp.gw));
		fprintf(out, "gateway:  %s\n", xwan_explain_gw(rt, dp.gw));
		goto existing;
	}

	group = s.default_group;
	xwan_rule_tuple4(&tuple, q->src, q->dst, q->proto, q->dport, lan);
	rule = xwan_explain_rule(m, &s, &tuple, &pr);
	if (xwan_explain_rule_line(out, rt, &s, rule, &pr))
		goto existing;
	if (rule >= 0)
		group = pr.group;

	key = group;
	if (bpf_map_lookup_elem(m->fd[XM_GROUPS], &key, &gg)) {
		rc = -errno;
		goto out;
	}
	key = xwan_slot_key(group, gg.active);
	if (bpf_map_lookup_elem(m->fd[XM_GW_SLOTS], &key, t)) {
		rc = -errno;
		goto out;
	}
	xwan_explain_group_line(out, rt, group, t);
	/* A rule's filtering overrides its group's for the mappings its flows make. */
	if (rule >= 0 && pr.filtering)
		t->filtering = xwan_rule_filtering(pr.filtering, t->filtering);
	fprintf(out, ", filtering %s%s\n", xwan_filtering_name(t->filtering),
		rule >= 0 && pr.filtering ? " (the rule's)" : "");
	if (print_mapping(out, m, rt, &s, q, t, pc.now))
		goto existing;
	if (t->sticky_expire_s) {
		struct sticky_key_v4 sk = { .src = q->src, .group = (uint8_t)group,
					    .dst = t->sticky_key == STICKY_KEY_SRC_DST ? q->dst : 0 };
		struct sticky_binding b;

		if (bpf_map_lookup_elem(m->fd[XM_STICKY], &sk, &b) == 0 &&
		    pc.now - b.last_ns <= (uint64_t)t->sticky_expire_s * 1000000000ULL &&
		    b.gw < XWAN_MAX_GATEWAYS && (t->usable_mask & (1U << b.gw))) {
			fprintf(out, "gateway:  %s (sticky: %s is bound to it)\n", xwan_explain_gw(rt, b.gw),
				src);
			goto existing;
		}
		fprintf(out, "sticky:   %s has no live binding: the choice below binds it\n", src);
	}
	xwan_explain_choice(out, rt, t, q);

existing:
	rc = xwan_flow_scan(m, pinned_by, &pc);
	if (!rc && !pc.n)
		fprintf(out, "existing: no live flow matches\n");
	else if (pc.n > 5)
		fprintf(out, "existing: ... %d matching flows in all\n", pc.n);
out:
	free(rt);
	free(t);
	return rc;
}
