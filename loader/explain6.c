// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * `xwan explain` for an IPv6 flow: the steps of the IPv6 new-flow path
 * (bpf/lib/fwd6.h lan6_flow, policy6.h, flow6.h flow6_choose) in their
 * order, read from the live maps, with the dataplane's own rule matcher
 * (xwan_rules.h), hash (xwan_hash.h) and NPT translation (npt6.h).
 */
#include "explain.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "../bpf/lib/npt6.h"
#include "../bpf/xwan_hash.h"
#include "../bpf/xwan_rules.h"
#include "flows.h"

struct ex6 {
	const struct xwan_maps *m;
	const struct xwan_explain_query *q;
	struct xwan_runtime *rt;
	struct xwan_settings s;
	struct gw_slot_table t;
	FILE *out;
	uint64_t now;
	char src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN];
};

/* The LAN interface whose IPv6 networks hold src (lan6_src_ok), 0: none. */
static uint32_t lan6_of(const struct ex6 *x)
{
	for (__u32 i = 0; i < x->rt->n_attach; i++) {
		struct lan_src6_key k = { .prefixlen = 32 + 128,
					  .ifindex = x->rt->attach[i].ifindex };
		__u32 v;

		memcpy(k.addr, x->q->src6, 16);
		if (x->rt->attach[i].role == IFACE_LAN &&
		    bpf_map_lookup_elem(x->m->fd[XM_LAN_NETS6], &k, &v) == 0)
			return x->rt->attach[i].ifindex;
	}
	return 0;
}

/* What prefix6 says addr is (prefix6_of), PREFIX6_NONE when nothing. */
static struct prefix6_info prefix6_of(const struct ex6 *x, const uint8_t *addr)
{
	struct lpm_v6_key k = { .prefixlen = 128 };
	struct prefix6_info pi = { .kind = PREFIX6_NONE, .gw = XWAN_GW_NONE };

	memcpy(k.addr, addr, 16);
	bpf_map_lookup_elem(x->m->fd[XM_PREFIX6], &k, &pi);
	return pi;
}

/* "gateway: NAME", with the source it leaves with under npt. */
static void print_gw6(const struct ex6 *x, uint32_t gw, const char *why)
{
	struct gw6_info gi;
	char pub[INET6_ADDRSTRLEN];
	__u16 w[8];

	fprintf(x->out, "gateway:  %s%s", xwan_explain_gw(x->rt, gw), why);
	if (bpf_map_lookup_elem(x->m->fd[XM_GATEWAYS6], &gw, &gi) == 0 && gi.nat6 == NAT6_NPT) {
		memcpy(w, x->q->src6, 16);
		if (npt6_translate(&gi.out, w) == 0) {
			inet_ntop(AF_INET6, w, pub, sizeof(pub));
			fprintf(x->out, ", the source leaves as %s (npt)", pub);
		}
	} else if (bpf_map_lookup_elem(x->m->fd[XM_GATEWAYS6], &gw, &gi) == 0) {
		fprintf(x->out, gi.nat6 == NAT6_NONE ? ", untranslated (nat6 none)"
						     : ", from the WAN's address (masquerade)");
	}
	fprintf(x->out, "\n");
}

/* The group's IPv6 slot table (group6_table). */
static int group6_table(struct ex6 *x, uint32_t group)
{
	struct gw_group gg;
	__u32 key = group;

	if (bpf_map_lookup_elem(x->m->fd[XM_GROUPS6], &key, &gg))
		return -errno;
	key = xwan_slot_key(group, gg.active);
	return bpf_map_lookup_elem(x->m->fd[XM_GW_SLOTS6], &key, &x->t) ? -errno : 0;
}

/* The sticky binding group6_gateway would use: 1 when it decides. */
static int sticky6(const struct ex6 *x, uint32_t group)
{
	struct sticky6_key k = { .group = (uint8_t)group };
	struct sticky_binding b;

	if (!x->t.sticky_expire_s)
		return 0;
	memcpy(k.src, x->q->src6, 16);
	if (x->t.sticky_key == STICKY_KEY_SRC_DST)
		memcpy(k.dst, x->q->dst6, 16);
	if (bpf_map_lookup_elem(x->m->fd[XM_STICKY6], &k, &b) == 0 &&
	    x->now - b.last_ns <= (uint64_t)x->t.sticky_expire_s * 1000000000ULL &&
	    b.gw < XWAN_MAX_GATEWAYS && (x->t.usable_mask & (1U << b.gw))) {
		print_gw6(x, b.gw, " (sticky: the client is bound to it)");
		return 1;
	}
	fprintf(x->out, "sticky:   %s has no live binding: the choice below binds it\n", x->src);
	return 0;
}

/* Live OUT entries of one flow table matching the query, printed (at most 5 in all). */
static int existing6_table(const struct ex6 *x, int fd, int n)
{
	struct flow6_key k, next, *after = NULL;
	uint8_t proto = x->q->proto == IPPROTO_ICMP ? IPPROTO_ICMPV6 : x->q->proto;
	struct flow6_entry e;

	while (fd >= 0 && bpf_map_get_next_key(fd, after, &next) == 0) {
		k = next;
		after = &k;
		if (bpf_map_lookup_elem(fd, &k, &e) || e.dir != FLOW_DIR_OUT || k.proto != proto ||
		    memcmp(k.saddr, x->q->src6, 16) || memcmp(k.daddr, x->q->dst6, 16) ||
		    (proto != IPPROTO_ICMPV6 && x->q->dport && ntohs(k.dport) != x->q->dport) ||
		    (x->q->has_sport && ntohs(k.sport) != x->q->sport))
			continue;
		if (n++ >= 5)
			continue;
		fprintf(x->out, "existing: source port %u is pinned to %s (%s, idle %llus)\n",
			ntohs(k.sport), e.flags & (FLOW_F_BYPASS | FLOW_F_DROP) ? "-"
					: xwan_explain_gw(x->rt, e.gw),
			e.flags & FLOW_F_DROP ? "drop" : e.flags & FLOW_F_BYPASS ? "bypass" : "flow",
			(unsigned long long)((x->now - e.last_seen_ns) / 1000000000ULL));
	}
	return n;
}

static void existing6(const struct ex6 *x)
{
	int n = existing6_table(x, x->m->fd[XM_FLOWS6], 0);

	n = existing6_table(x, x->m->fd[XM_FLOWS6_NEW], n);
	if (!n)
		fprintf(x->out, "existing: no live flow matches\n");
	else if (n > 5)
		fprintf(x->out, "existing: ... %d matching flows in all\n", n);
}

static void print_flow_line(const struct ex6 *x)
{
	char sp[8] = "*", dp[8] = "*";

	if (x->q->proto == IPPROTO_ICMP) {
		fprintf(x->out, "flow:     icmp6 echo %s -> %s\n", x->src, x->dst);
		return;
	}
	if (x->q->has_sport)
		snprintf(sp, sizeof(sp), "%u", x->q->sport);
	if (x->q->dport)
		snprintf(dp, sizeof(dp), "%u", x->q->dport);
	fprintf(x->out, "flow:     %s [%s]:%s -> [%s]:%s\n",
		x->q->proto == IPPROTO_UDP ? "udp" : "tcp", x->src, sp, x->dst, dp);
}

/*
 * After the flow line: what lan6_flow decides, in its order. 0 or -errno
 * (a map that cannot be read).
 */
static int decide6(struct ex6 *x)
{
	struct prefix6_info dk = prefix6_of(x, x->q->dst6), sk;
	uint32_t lan = x->q->lan_ifindex ? x->q->lan_ifindex : lan6_of(x), group;
	struct xwan_rule_tuple tuple;
	struct policy_rule pr;
	int rule, rc;

	if (!lan) {
		fprintf(x->out, "policy:   %s is in no LAN's IPv6 networks: dropped as spoofed "
			"(spoofed_source)\n", x->src);
		return 0;
	}
	if (dk.kind == PREFIX6_LOCAL) {
		fprintf(x->out, "policy:   %s is the host itself: the kernel answers, no rule "
			"applies\n", x->dst);
		return 0;
	}
	if (dk.kind == PREFIX6_LAN || dk.kind == PREFIX6_DELEGATED) {
		fprintf(x->out, "policy:   %s is on the LAN side: the kernel routes it, untranslated\n",
			x->dst);
		return 0;
	}
	xwan_rule_tuple6(&tuple, x->q->src6, x->q->dst6,
			 x->q->proto == IPPROTO_ICMP ? IPPROTO_ICMPV6 : x->q->proto, x->q->dport, lan);
	rule = xwan_explain_rule(x->m, &x->s, &tuple, &pr);
	if (xwan_explain_rule_line(x->out, x->rt, &x->s, rule, &pr))
		return 0;
	group = rule >= 0 ? pr.group : x->s.default_group;
	sk = prefix6_of(x, x->q->src6);
	if (sk.kind == PREFIX6_DELEGATED) {
		print_gw6(x, sk.gw, " (nat6 none: the source is in its delegated prefix, whatever "
			  "the group)");
		return 0;
	}
	rc = group6_table(x, group);
	if (rc)
		return rc;
	xwan_explain_group_line(x->out, x->rt, group, &x->t);
	fprintf(x->out, " (IPv6)\n");
	if (sticky6(x, group))
		return 0;
	/* One gateway: say it with the source it leaves with. */
	if (x->t.nslots && __builtin_popcount(x->t.usable_mask) == 1) {
		print_gw6(x, xwan_explain_slot(&x->t, x->q, 0), " (the only usable member)");
		return 0;
	}
	if (x->t.nslots && (x->q->has_sport || !(x->t.hash_fields & HASH_F_SPORT)) &&
	    x->t.method != GROUP_METHOD_ROUND_ROBIN) {
		print_gw6(x, xwan_explain_slot(&x->t, x->q, x->q->sport), "");
		return 0;
	}
	xwan_explain_choice(x->out, x->rt, &x->t, x->q);
	return 0;
}

int xwan_explain6(const struct xwan_maps *m, const struct xwan_explain_query *q, FILE *out)
{
	struct ex6 *x = calloc(1, sizeof(*x));
	int rc = -ENOMEM;

	if (!x || !(x->rt = calloc(1, sizeof(*x->rt))))
		goto out;
	x->m = m;
	x->q = q;
	x->out = out;
	x->now = xwan_now_ns();
	if (m->fd[XM_PREFIX6] < 0 || m->fd[XM_GROUPS6] < 0) {
		rc = -EOPNOTSUPP;       /* a dataplane of a build without IPv6 */
		goto out;
	}
	rc = xwan_runtime_read(m, x->rt);
	if (!rc)
		rc = xwan_settings_read(m, &x->s);
	if (rc)
		goto out;
	inet_ntop(AF_INET6, q->src6, x->src, sizeof(x->src));
	inet_ntop(AF_INET6, q->dst6, x->dst, sizeof(x->dst));
	print_flow_line(x);
	rc = decide6(x);
	if (!rc)
		existing6(x);
out:
	if (x)
		free(x->rt);
	free(x);
	return rc;
}
