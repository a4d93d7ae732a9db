// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include "flows6.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

/* "[addr]:port", or the bare address for a protocol without ports. */
static void endpoint6(char *out, size_t len, const uint8_t *addr, uint16_t port, bool ports)
{
	char a[INET6_ADDRSTRLEN];

	inet_ntop(AF_INET6, addr, a, sizeof(a));
	if (ports)
		snprintf(out, len, "[%s]:%u", a, ntohs(port));
	else
		snprintf(out, len, "%s", a);
}

static const char *proto6_name(uint8_t p)
{
	switch (p) {
	case IPPROTO_TCP:
		return "tcp";
	case IPPROTO_UDP:
		return "udp";
	case IPPROTO_ICMPV6:
		return "icmp6";
	}
	return "other";
}

static const char *const nat6_names[] = { "npt", "masquerade", "none" };

struct print6 {
	const struct xwan_flows_filter *f;
	const struct xwan_runtime *rt;
	const struct xwan_settings *s;
	FILE *out;
	uint64_t now;
	int *shown, matched;
};

static bool live6(const struct xwan_settings *s, const struct flow6_entry *e, uint8_t proto,
		  uint64_t now)
{
	uint32_t t = xwan_timeout_index(proto == IPPROTO_ICMPV6 ? IPPROTO_ICMP : proto, e->state);

	return t < TIMEOUT_MAX && (int64_t)(now - e->last_seen_ns) <= (int64_t)s->timeout_ns[t];
}

static void print6_one(struct print6 *c, const struct flow6_key *k, const struct flow6_entry *o,
		       const struct flow6_entry *in)
{
	char cli[56], nat[56], rem[56];
	bool ports = k->proto == IPPROTO_TCP || k->proto == IPPROTO_UDP;
	bool live = live6(c->s, o, k->proto, c->now);
	const char *wan = o->gw < XWAN_MAX_GATEWAYS && c->rt->gw_name[o->gw][0]
				  ? c->rt->gw_name[o->gw] : "-";
	const char *rule = o->rule < XWAN_MAX_RULES && o->rule < c->rt->n_rules
				   ? c->rt->rule_name[o->rule] : "-";
	/* A rule's bypass or drop is a marker: one entry, nothing translated. */
	const char *kind = (o->flags & FLOW_F_DROP) ? "drop" : (o->flags & FLOW_F_BYPASS) ? "bypass"
			   : o->nat6 == NAT6_NPT ? "npt" : "routed";

	if ((!live && !c->f->all) || c->f->client || (c->f->gw >= 0 && o->gw != c->f->gw))
		return;
	c->matched++;
	if (c->f->limit && (unsigned)(*c->shown + 1) > c->f->limit)
		return;
	(*c->shown)++;
	endpoint6(cli, sizeof(cli), k->saddr, k->sport, ports || k->proto == IPPROTO_ICMPV6);
	if (o->flags & (FLOW_F_BYPASS | FLOW_F_DROP))
		snprintf(nat, sizeof(nat), "-");
	else
		endpoint6(nat, sizeof(nat), o->peer.daddr, o->peer.dport,
			  ports || k->proto == IPPROTO_ICMPV6);
	endpoint6(rem, sizeof(rem), k->daddr, k->dport, ports);
	if (c->f->json) {
		fprintf(c->out,
			"%s{\"family\":\"ipv6\",\"proto\":\"%s\",\"kind\":\"%s\",\"rule\":\"%s\","
			"\"client\":\"%s\",\"nat\":\"%s\","
			"\"nat6\":\"%s\",\"remote\":\"%s\",\"wan\":\"%s\",\"state\":\"%s\","
			"\"live\":%s,\"packets_out\":%llu,\"bytes_out\":%llu,\"packets_in\":%llu,"
			"\"bytes_in\":%llu}",
			*c->shown > 1 ? ",\n" : "", proto6_name(k->proto), kind, rule, cli, nat,
			o->nat6 < 3 ? nat6_names[o->nat6] : "?", rem, wan,
			xwan_flow_state_name(k->proto, o->state), live ? "true" : "false",
			(unsigned long long)o->packets, (unsigned long long)o->bytes,
			(unsigned long long)(in ? in->packets : 0),
			(unsigned long long)(in ? in->bytes : 0));
		return;
	}
	fprintf(c->out, "%-5s %-7s %s -> %s -> %s wan %s rule %s %s %s, out %llu pkts %llu B, in "
		"%llu pkts %llu B\n", proto6_name(k->proto), kind, cli,
		o->nat6 != NAT6_NONE || !strcmp(nat, "-") ? nat : "(not translated)", rem, wan, rule,
		xwan_flow_state_name(k->proto, o->state), live ? "live" : "expired",
		(unsigned long long)o->packets, (unsigned long long)o->bytes,
		(unsigned long long)(in ? in->packets : 0), (unsigned long long)(in ? in->bytes : 0));
}

/* The OUT entries of one of the two IPv6 tables, each with its peer. */
static void print6_table(struct print6 *c, int fd)
{
	struct flow6_key k, next, *after = NULL;
	struct flow6_entry e, in;

	while (bpf_map_get_next_key(fd, after, &next) == 0) {
		k = next;
		after = &k;
		if (bpf_map_lookup_elem(fd, &k, &e) || e.dir != FLOW_DIR_OUT)
			continue;
		/* A rule's marker is its own peer (policy6.h): no reply direction. */
		print6_one(c, &k, &e, (e.flags & (FLOW_F_BYPASS | FLOW_F_DROP)) ||
					      bpf_map_lookup_elem(fd, &e.peer, &in) ? NULL : &in);
	}
}

int xwan_flows6_print(const struct xwan_maps *m, const struct xwan_flows_filter *f,
		      const struct xwan_runtime *rt, FILE *out, int *shown)
{
	struct xwan_settings s = {};
	struct print6 c = { .f = f, .rt = rt, .s = &s, .out = out, .now = xwan_now_ns(),
			    .shown = shown };

	if (m->fd[XM_FLOWS6] < 0)
		return 0;       /* a dataplane of a build without IPv6 */
	if (xwan_settings_read(m, &s))
		return -EIO;
	print6_table(&c, m->fd[XM_FLOWS6]);
	if (m->fd[XM_FLOWS6_NEW] >= 0)
		print6_table(&c, m->fd[XM_FLOWS6_NEW]);
	return c.matched;
}

/* Which entries of a table go (remove6_picked); fd is that table. */
typedef bool (*flow6_pick)(int fd, const struct flow6_key *k, const struct flow6_entry *e,
			   const void *ctx);

/*
 * Delete the entries of one table that pick chooses, with their peer when
 * with_peer. Keys are collected first: deleting while walking restarts
 * get_next_key. Returns the flows (OUT entries chosen) removed, or -ENOMEM.
 */
static int remove6_picked(int fd, flow6_pick pick, const void *ctx, bool with_peer)
{
	struct flow6_key k, next, *after = NULL, *doomed = NULL, *d;
	struct flow6_entry e;
	size_t n = 0, cap = 0;
	int removed = 0;

	while (bpf_map_get_next_key(fd, after, &next) == 0) {
		k = next;
		after = &k;
		if (bpf_map_lookup_elem(fd, &k, &e) || !pick(fd, &k, &e, ctx))
			continue;
		if (n + 2 > cap) {
			cap = cap ? cap * 2 : 256;
			d = realloc(doomed, cap * sizeof(*d));
			if (!d) {
				free(doomed);
				return -ENOMEM;
			}
			doomed = d;
		}
		doomed[n++] = k;
		if (with_peer)
			doomed[n++] = e.peer;
		removed += e.dir == FLOW_DIR_OUT;
	}
	for (size_t i = 0; i < n; i++)
		bpf_map_delete_elem(fd, &doomed[i]);
	free(doomed);
	return removed;
}

/* remove6_picked over both tables: answered, then unanswered. */
static int remove6_both(const struct xwan_maps *m, flow6_pick pick, const void *ctx,
			bool with_peer)
{
	int a, b = 0;

	if (m->fd[XM_FLOWS6] < 0)
		return 0;       /* a dataplane of a build without IPv6 */
	a = remove6_picked(m->fd[XM_FLOWS6], pick, ctx, with_peer);
	if (a >= 0 && m->fd[XM_FLOWS6_NEW] >= 0)
		b = remove6_picked(m->fd[XM_FLOWS6_NEW], pick, ctx, with_peer);
	if (a < 0 || b < 0)
		return a < 0 ? a : b;
	return a + b;
}

struct gc6_ctx {
	struct xwan_settings s;
	uint64_t now;
};

/* Dead: neither direction seen within its timeout (the dataplane's rule, live6). */
static bool gc6_pick(int fd, const struct flow6_key *k, const struct flow6_entry *e,
		     const void *ctx)
{
	const struct gc6_ctx *c = ctx;
	struct flow6_entry peer;

	if (live6(&c->s, e, k->proto, c->now))
		return false;
	return bpf_map_lookup_elem(fd, &e->peer, &peer) || !live6(&c->s, &peer, k->proto, c->now);
}

int xwan_flows6_gc(const struct xwan_maps *m)
{
	struct gc6_ctx c = { .now = xwan_now_ns() };

	if (m->fd[XM_FLOWS6] < 0)
		return 0;
	if (xwan_settings_read(m, &c.s))
		return -EIO;
	return remove6_both(m, gc6_pick, &c, false);
}

struct flush6_ctx {
	int gw;
	uint32_t group_mask;
};

/* A flow (its OUT entry) of gateway gw for one of the groups. */
static bool flush6_pick(int fd, const struct flow6_key *k, const struct flow6_entry *e,
			const void *ctx)
{
	const struct flush6_ctx *c = ctx;

	(void)fd;
	(void)k;
	return e->dir == FLOW_DIR_OUT && e->gw == c->gw && e->group < 32 &&
	       (c->group_mask & (1U << e->group));
}

int xwan_flows6_flush(const struct xwan_maps *m, int gw, uint32_t group_mask)
{
	struct flush6_ctx c = { .gw = gw, .group_mask = group_mask };

	return remove6_both(m, flush6_pick, &c, true);
}
