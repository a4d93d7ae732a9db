// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include "flows.h"
#include "flows6.h"
#include "mappings.h"
#include "rst.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#define SCAN_BATCH 4096

static xwan_flow_deleted_fn deleted_fn;
static void *deleted_ctx;

void xwan_flows_on_delete(xwan_flow_deleted_fn fn, void *ctx)
{
	deleted_ctx = ctx;
	__atomic_store_n(&deleted_fn, fn, __ATOMIC_RELEASE);
}

static void deleted(const struct flow_key *k)
{
	xwan_flow_deleted_fn fn = __atomic_load_n(&deleted_fn, __ATOMIC_ACQUIRE);

	if (fn)
		fn(deleted_ctx, k);
}

uint64_t xwan_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static uint64_t timeout_of(const struct xwan_settings *s, uint8_t proto, uint8_t state)
{
	return s->timeout_ns[xwan_timeout_index(proto, state)];
}

/* The dataplane's own rule (flow.h): dead when both directions idled out. */
static bool entry_live(const struct xwan_settings *s, const struct flow_entry *e, uint64_t now)
{
	return now < e->last_seen_ns ||
	       now - e->last_seen_ns <= timeout_of(s, e->peer.proto, e->state);
}

/* The other half of e (keyed k), if it points back: 0. */
static int peer_of(int fd, const struct flow_key *k, const struct flow_entry *e,
		   struct flow_entry *peer)
{
	if (bpf_map_lookup_elem(fd, &e->peer, peer))
		return -1;
	return memcmp(&peer->peer, k, sizeof(*k)) ? -1 : 0;
}

static bool has_peer(const struct flow_entry *e)
{
	return e->dir != FLOW_DIR_LOCAL && !(e->flags & (FLOW_F_BYPASS | FLOW_F_DROP));
}

/* One entry of a table as a flow: 0 skip (an IN whose OUT reports it), 1 report. */
static int entry_flow(const struct xwan_settings *s, int fd, int table, const struct flow_key *k,
		      const struct flow_entry *e, uint64_t now, struct xwan_flow *f)
{
	memset(f, 0, sizeof(*f));
	f->table = table;
	f->map_key = *k;
	f->out = *e;
	if (e->dir == FLOW_DIR_IN) {
		struct flow_entry peer;

		if (peer_of(fd, k, e, &peer) == 0)
			return 0;
		/* Half a flow: its LAN side was evicted. Only the sweep wants it. */
		f->orphan = true;
		f->key = e->peer;
		return 1;
	}
	f->local = e->dir == FLOW_DIR_LOCAL;
	f->key = f->local ? e->peer : *k;
	f->has_in = has_peer(e) && peer_of(fd, k, e, &f->in) == 0;
	/* An OUT whose reply half went (LRU) is a leftover too, once made. */
	if (has_peer(e) && !f->has_in && now - e->created_ns > 1000000000ULL)
		f->orphan = true;
	f->live = !f->orphan &&
		  (entry_live(s, &f->out, now) || (f->has_in && entry_live(s, &f->in, now)));
	return 1;
}

static int scan_table(const struct xwan_maps *m, int table, const struct xwan_settings *s,
		      struct flow_key *keys, struct flow_entry *vals, xwan_flow_cb cb, void *ctx)
{
	struct flow_key batch_out;
	void *in_batch = NULL;
	uint64_t now = xwan_now_ns();
	int fd = m->fd[table], rc = 0;

	for (;;) {
		LIBBPF_OPTS(bpf_map_batch_opts, opts);
		__u32 count = SCAN_BATCH;
		int err = bpf_map_lookup_batch(fd, in_batch, &batch_out, keys, vals, &count, &opts);

		if (err && errno != ENOENT)
			return -errno;
		for (__u32 i = 0; i < count && rc >= 0; i++) {
			struct xwan_flow f;

			if (entry_flow(s, fd, table, &keys[i], &vals[i], now, &f))
				rc = cb(&f, ctx);
		}
		if (err || rc < 0)
			return rc;
		in_batch = &batch_out;
	}
}

int xwan_flow_scan(const struct xwan_maps *m, xwan_flow_cb cb, void *ctx)
{
	struct flow_key *keys = calloc(SCAN_BATCH, sizeof(*keys));
	struct flow_entry *vals = calloc(SCAN_BATCH, sizeof(*vals));
	struct xwan_settings s;
	int rc;

	if (!keys || !vals) {
		rc = -ENOMEM;
		goto out;
	}
	rc = xwan_settings_read(m, &s);
	if (!rc)
		rc = scan_table(m, XM_FLOWS, &s, keys, vals, cb, ctx);
	if (rc >= 0)
		rc = scan_table(m, XM_FLOWS_NEW, &s, keys, vals, cb, ctx);
out:
	free(keys);
	free(vals);
	return rc < 0 ? rc : 0;
}

const char *xwan_flow_state_name(uint8_t proto, uint8_t state)
{
	static const char *const tcp[] = { "syn_sent", "established", "closing", "closed",
					   "syn_recv" };
	static const char *const other[] = { "new", "replied", "closing", "closed", "?" };

	if (state >= FLOW_STATE_MAX)
		return "?";
	return proto == IPPROTO_TCP ? tcp[state] : other[state];
}

static const char *proto_name(uint8_t p)
{
	switch (p) {
	case IPPROTO_TCP: return "tcp";
	case IPPROTO_UDP: return "udp";
	case IPPROTO_ICMP: return "icmp";
	case IPPROTO_IPIP: return "ipip";
	case IPPROTO_GRE: return "gre";
	case IPPROTO_ESP: return "esp";
	case IPPROTO_AH: return "ah";
	case IPPROTO_SCTP: return "sctp";
	}
	return "other";         /* any other protocol: NATed by address only too */
}

/* The protocol when it is NATed by address only (no ports to show), else 0. */
static uint8_t addr_only_proto(uint8_t p)
{
	return p == IPPROTO_TCP || p == IPPROTO_UDP || p == IPPROTO_ICMP ? 0 : p;
}

static void endpoint(char *out, size_t len, uint32_t addr, uint16_t port, uint8_t proto)
{
	char a[INET_ADDRSTRLEN];

	inet_ntop(AF_INET, &addr, a, sizeof(a));
	/* 0: with its port (ICMP's identifier, for the client); protocols NATed
	 * by address have none, and a remote's ICMP identifier is no port. */
	if (proto != 0 && proto != IPPROTO_TCP && proto != IPPROTO_UDP)
		snprintf(out, len, "%s", a);
	else
		snprintf(out, len, "%s:%u", a, ntohs(port));
}

static void human_bytes(char *out, size_t len, uint64_t b)
{
	const char *u = "KMGT";
	double v = (double)b;
	int i = -1;

	if (b < 10000) {
		snprintf(out, len, "%llu", (unsigned long long)b);
		return;
	}
	while (v >= 1024 && i < 3) {
		v /= 1024;
		i++;
	}
	snprintf(out, len, "%.1f%c", v, u[i]);
}

static void human_age(char *out, size_t len, uint64_t ns)
{
	uint64_t s = ns / 1000000000ULL;

	if (s < 120)
		snprintf(out, len, "%llus", (unsigned long long)s);
	else if (s < 7200)
		snprintf(out, len, "%llum", (unsigned long long)(s / 60));
	else
		snprintf(out, len, "%lluh", (unsigned long long)(s / 3600));
}

struct print_ctx {
	const struct xwan_flows_filter *f;
	const struct xwan_runtime *rt;
	FILE *out;
	uint64_t now;
	int shown, total;
};

const char *xwan_flow_kind(const struct xwan_flow *f)
{
	if (f->local)
		return "host";
	if (f->orphan)
		return "orphan";
	if (f->out.flags & FLOW_F_DROP)
		return "drop";
	if (f->out.flags & FLOW_F_BYPASS)
		return "bypass";
	if (f->out.group == XWAN_GROUP_HAIRPIN)
		return "hairpin";
	if (f->out.flags & FLOW_F_FORWARD)
		return "forward";
	return (f->out.flags & FLOW_F_NAT) ? "nat" : "routed";
}

static int print_one(const struct xwan_flow *fl, void *data)
{
	struct print_ctx *c = data;
	const struct flow_entry *o = &fl->out, *i = &fl->in;
	char cli[32], nat[32], rem[32], age[16], idle[16], bo[16], bi[16];
	uint64_t pkts_out, bytes_out, pkts_in, bytes_in;
	const char *wan = o->gw < XWAN_MAX_GATEWAYS && c->rt->gw_name[o->gw][0]
				  ? c->rt->gw_name[o->gw] : "-";
	const char *rule = o->rule < XWAN_MAX_RULES && o->rule < c->rt->n_rules
				   ? c->rt->rule_name[o->rule] : "-";
	uint64_t last = fl->has_in && i->last_seen_ns > o->last_seen_ns ? i->last_seen_ns
									: o->last_seen_ns;
	/* ICMP echo: the identifier travels as the source "port". */
	uint16_t rport = fl->key.proto == IPPROTO_ICMP ? 0 : fl->key.dport;
	uint8_t ap = addr_only_proto(fl->key.proto);

	c->total++;
	if (!fl->live && !c->f->all)
		return 0;
	if (c->f->client && fl->key.saddr != c->f->client)
		return 0;
	if (c->f->gw >= 0 && o->gw != c->f->gw)
		return 0;
	c->shown++;
	if (c->f->limit && (unsigned)c->shown > c->f->limit)
		return 0;       /* counted, not printed: a page of a million flows */
	if (fl->local)
		snprintf(cli, sizeof(cli), "(host)");
	else
		endpoint(cli, sizeof(cli), fl->key.saddr, fl->key.sport, ap);
	if (o->flags & (FLOW_F_BYPASS | FLOW_F_DROP))
		snprintf(nat, sizeof(nat), "-");
	else
		endpoint(nat, sizeof(nat), o->xlate_addr, o->xlate_port, ap);
	/* A host session's one entry counts replies; the host's packets apart. */
	if (fl->local) {
		pkts_out = o->host_packets;
		bytes_out = o->host_bytes;
		pkts_in = o->packets;
		bytes_in = o->bytes;
	} else {
		pkts_out = o->packets;
		bytes_out = o->bytes;
		pkts_in = fl->has_in ? i->packets : 0;
		bytes_in = fl->has_in ? i->bytes : 0;
	}
	endpoint(rem, sizeof(rem), fl->key.daddr, rport, fl->key.proto);
	if (c->f->json) {
		fprintf(c->out,
			"%s{\"proto\":\"%s\",\"kind\":\"%s\",\"rule\":\"%s\",\"client\":\"%s\","
			"\"nat\":\"%s\",\"remote\":\"%s\","
			"\"wan\":\"%s\",\"state\":\"%s\",\"answered\":%s,\"live\":%s,"
			"\"age_s\":%.1f,\"idle_s\":%.1f,"
			"\"packets_out\":%llu,\"bytes_out\":%llu,\"packets_in\":%llu,"
			"\"bytes_in\":%llu}",
			c->shown > 1 ? ",\n" : "", proto_name(fl->key.proto), xwan_flow_kind(fl), rule,
			cli, nat, rem, wan,
			xwan_flow_state_name(fl->key.proto, o->state),
			fl->table == XM_FLOWS ? "true" : "false", fl->live ? "true" : "false",
			(double)(c->now - o->created_ns) / 1e9, (double)(c->now - last) / 1e9,
			(unsigned long long)pkts_out, (unsigned long long)bytes_out,
			(unsigned long long)pkts_in, (unsigned long long)bytes_in);
		return 0;
	}
	human_age(age, sizeof(age), c->now - o->created_ns);
	human_age(idle, sizeof(idle), c->now > last ? c->now - last : 0);
	human_bytes(bo, sizeof(bo), bytes_out);
	human_bytes(bi, sizeof(bi), bytes_in);
	fprintf(c->out, "%-5s %-7s %-21s %-21s %-21s %-8s %-12s %6s %6s %9llu %9s %9llu %9s %s\n",
		proto_name(fl->key.proto), xwan_flow_kind(fl), cli, nat, rem, wan,
		xwan_flow_state_name(fl->key.proto, o->state), age, idle,
		(unsigned long long)pkts_out, bo, (unsigned long long)pkts_in, bi, rule);
	return 0;
}

int xwan_flows_print(const struct xwan_maps *m, const struct xwan_flows_filter *f, FILE *out)
{
	struct xwan_runtime rt;
	struct print_ctx c = { .f = f, .rt = &rt, .out = out, .now = xwan_now_ns() };
	int rc;

	rc = xwan_runtime_read(m, &rt);
	if (rc)
		return rc;
	if (f->json)
		fprintf(out, "[\n");
	else
		fprintf(out, "%-5s %-7s %-21s %-21s %-21s %-8s %-12s %6s %6s %9s %9s %9s %9s %s\n",
			"PROTO", "KIND", "CLIENT", "NAT", "REMOTE", "WAN", "STATE", "AGE", "IDLE",
			"PKTS_OUT", "BYTES_OUT", "PKTS_IN", "BYTES_IN", "RULE");
	rc = xwan_flow_scan(m, print_one, &c);
	if (!rc) {
		int n6 = xwan_flows6_print(m, f, &rt, out, &c.shown);

		if (n6 < 0)
			rc = n6;
		else
			c.total += n6;
	}
	if (f->json)
		fprintf(out, "\n]\n");
	else
		fprintf(out, "%d flows shown, %d in the table\n", c.shown, c.total);
	if (!rc && !f->json)
		rc = xwan_mappings_print(m, f, &rt, out);
	return rc ? rc : c.shown;
}

/* ---- reclaiming ---- */

/* What a sticky group's bindings look like (from its live slot table). */
struct sticky_group {
	uint32_t expire_s;      /* 0: not sticky */
	uint8_t key;            /* enum sticky_key */
};

struct doomed_pair {
	struct flow_key a, b;   /* out key, in key (the same for a lone entry) */
	int table;
};

struct doomed {
	struct doomed_pair *keys;
	int n, cap;
	const struct xwan_maps *m;
	struct sticky_group sticky[XWAN_MAX_GROUPS];
	struct xwan_flow_counts *counts;        /* NULL: do not count */
};

static void sticky_groups_read(const struct xwan_maps *m, struct sticky_group *sg)
{
	struct gw_slot_table *t = malloc(sizeof(*t));

	for (uint32_t g = 0; t && g < XWAN_MAX_GROUPS; g++) {
		struct gw_group gg = {};
		uint32_t key = g;

		if (bpf_map_lookup_elem(m->fd[XM_GROUPS], &key, &gg))
			continue;
		key = xwan_slot_key((uint32_t)g, gg.active);
		if (bpf_map_lookup_elem(m->fd[XM_GW_SLOTS], &key, t))
			continue;
		sg[g].expire_s = t->sticky_expire_s;
		sg[g].key = t->sticky_key;
	}
	free(t);
}

/*
 * A sticky client stays bound for as long as it has flows: the dataplane
 * refreshes a binding only when a flow opens, so the sweep carries the
 * last activity of the client's live flows over to its binding.
 */
static void sticky_refresh(const struct doomed *d, const struct xwan_flow *f)
{
	const struct sticky_group *sg;
	struct sticky_key_v4 k = {};
	struct sticky_binding b;
	uint64_t seen;

	if (f->local || f->out.group >= XWAN_MAX_GROUPS)
		return;
	sg = &d->sticky[f->out.group];
	if (!sg->expire_s)
		return;
	k.src = f->key.saddr;
	k.dst = sg->key == STICKY_KEY_SRC_DST ? f->key.daddr : 0;
	k.group = f->out.group;
	seen = f->has_in && f->in.last_seen_ns > f->out.last_seen_ns ? f->in.last_seen_ns
								     : f->out.last_seen_ns;
	if (bpf_map_lookup_elem(d->m->fd[XM_STICKY], &k, &b) || b.gw != f->out.gw ||
	    b.last_ns >= seen)
		return;
	b.last_ns = seen;
	bpf_map_update_elem(d->m->fd[XM_STICKY], &k, &b, BPF_EXIST);
}

void xwan_flow_count(struct xwan_flow_counts *c, const struct xwan_flow *f)
{
	if (!f->live || f->out.gw >= XWAN_MAX_GATEWAYS)
		return;
	c->total++;
	c->unreplied += f->table == XM_FLOWS_NEW;
	c->per_gw[f->out.gw]++;
	if (f->out.flags & FLOW_F_NAT)
		c->nat_per_gw[f->out.gw]++;
}

static int count_cb(const struct xwan_flow *f, void *data)
{
	xwan_flow_count(data, f);
	return 0;
}

int xwan_flows_count(const struct xwan_maps *m, struct xwan_flow_counts *c)
{
	uint64_t t0 = xwan_now_ns();
	int rc;

	memset(c, 0, sizeof(*c));
	c->at_unix = (uint64_t)time(NULL);
	rc = xwan_flow_scan(m, count_cb, c);
	c->took_ns = xwan_now_ns() - t0;
	return rc;
}

static int collect(const struct xwan_flow *f, void *data)
{
	struct doomed *d = data;

	if (d->counts)
		xwan_flow_count(d->counts, f);
	if (f->live) {
		sticky_refresh(d, f);
		return 0;
	}
	if (d->n + 1 > d->cap) {
		int cap = d->cap ? d->cap * 2 : 1024;
		struct doomed_pair *k = realloc(d->keys, (size_t)cap * sizeof(*k));

		if (!k)
			return -ENOMEM;
		d->keys = k;
		d->cap = cap;
	}
	d->keys[d->n].a = f->map_key;
	d->keys[d->n].b = f->local || f->orphan || !f->has_in ? f->map_key : f->out.peer;
	d->keys[d->n++].table = f->table;
	return 0;
}

/* Never below zero: LRU evictions already made room uncounted. */
static void gauge_sub(__u64 *v, uint64_t n)
{
	for (__u64 cur = __atomic_load_n(v, __ATOMIC_RELAXED);;) {
		__u64 next = cur > n ? cur - n : 0;

		if (__atomic_compare_exchange_n(v, &cur, next, false, __ATOMIC_RELAXED,
						__ATOMIC_RELAXED))
			break;
	}
}

void xwan_flow_gauge_sub(const struct xwan_maps *m, uint64_t n, uint64_t unreplied)
{
	struct flow_gauge *g = mmap(NULL, sizeof(*g), PROT_READ | PROT_WRITE, MAP_SHARED,
				    m->fd[XM_FLOW_GAUGE], 0);

	if (g == MAP_FAILED)
		return;
	gauge_sub(&g->active, n);
	gauge_sub(&g->unreplied, unreplied);
	munmap(g, sizeof(*g));
}

static int remove_collected(const struct xwan_maps *m, struct doomed *d)
{
	int removed = 0, unreplied = 0;

	for (int i = 0; i < d->n; i++) {
		int fd = m->fd[d->keys[i].table];

		if (bpf_map_delete_elem(fd, &d->keys[i].a) == 0) {
			removed++;
			unreplied += d->keys[i].table == XM_FLOWS_NEW;
			deleted(&d->keys[i].a);
		}
		bpf_map_delete_elem(fd, &d->keys[i].b);
	}
	free(d->keys);
	xwan_flow_gauge_sub(m, (uint64_t)removed, (uint64_t)unreplied);
	return removed;
}

int xwan_flows_gc(const struct xwan_maps *m)
{
	return xwan_flows_gc_counted(m, NULL);
}

int xwan_flows_gc_counted(const struct xwan_maps *m, struct xwan_flow_counts *counts)
{
	struct doomed d = { .m = m, .counts = counts };
	uint64_t t0 = xwan_now_ns();
	int rc, rc6;

	if (counts) {
		memset(counts, 0, sizeof(*counts));
		counts->at_unix = (uint64_t)time(NULL);
	}
	sticky_groups_read(m, d.sticky);
	rc = xwan_flow_scan(m, collect, &d);

	if (rc) {
		free(d.keys);
		return rc;
	}
	rc = remove_collected(m, &d);
	rc6 = xwan_flows6_gc(m);
	if (rc6 < 0)
		return rc6;
	rc += rc6;
	if (counts)
		counts->took_ns = xwan_now_ns() - t0;
	return rc;
}

struct flush_ctx {
	int gw;
	uint32_t group_mask;
	bool pinned;
	struct xwan_flow *doomed;
	int n, cap;
};

static int pick(const struct xwan_flow *f, void *data)
{
	struct flush_ctx *c = data;
	bool mine;

	if (f->local || f->out.gw != c->gw)
		return 0;
	if (f->out.group == XWAN_GROUP_NONE)
		mine = c->pinned;
	else
		mine = f->out.group < 32 && (c->group_mask & (1U << f->out.group));
	if (!mine)
		return 0;
	if (c->n == c->cap) {
		int cap = c->cap ? c->cap * 2 : 256;
		struct xwan_flow *d = realloc(c->doomed, (size_t)cap * sizeof(*d));

		if (!d)
			return -ENOMEM;
		c->doomed = d;
		c->cap = cap;
	}
	c->doomed[c->n++] = *f;
	return 0;
}

int xwan_flows_flush(const struct xwan_maps *m, int gw, uint32_t group_mask, bool pinned,
		   bool rst, int *resets)
{
	struct flush_ctx c = { .gw = gw, .group_mask = group_mask, .pinned = pinned };
	int rc, removed = 0, unreplied = 0;

	*resets = 0;
	rc = xwan_flow_scan(m, pick, &c);
	if (rc) {
		free(c.doomed);
		return rc;
	}
	for (int i = 0; i < c.n; i++) {
		const struct xwan_flow *f = &c.doomed[i];

		/* Gone from the table first: the next packet opens a fresh flow. */
		if (bpf_map_delete_elem(m->fd[f->table], &f->map_key) == 0) {
			removed++;
			unreplied += f->table == XM_FLOWS_NEW;
			deleted(&f->map_key);
		}
		if (f->has_in)
			bpf_map_delete_elem(m->fd[f->table], &f->out.peer);
		/* A client still in SYN_SENT retries on its own; others need a RST. */
		if (rst && f->key.proto == IPPROTO_TCP && f->has_in &&
		    f->out.state == FLOW_STATE_ESTABLISHED &&
		    rst_send_to_client(&f->key, &f->in) == 0)
			(*resets)++;
	}
	free(c.doomed);
	xwan_flow_gauge_sub(m, (uint64_t)removed, (uint64_t)unreplied);
	return removed;
}
