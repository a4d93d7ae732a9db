// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include "ha_maps.h"

#include <bpf/bpf.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include "mappings.h"

void ha_local_build(const struct xwan_config *cfg, const struct xwan_host *h,
		    struct ha_local *l)
{
	memset(l, 0, sizeof(*l));
	for (int i = 0; i < cfg->n_lans && HA_IF_LAN0 + i < HA_IF_WAN0; i++) {
		l->ifindex[HA_IF_LAN0 + i] = h->lan[i].ifindex;
		memcpy(l->mac[HA_IF_LAN0 + i], h->lan[i].mac, 6);
		l->mtu[HA_IF_LAN0 + i] = (uint16_t)h->lan[i].mtu;
	}
	for (int w = 0; w < cfg->n_wans; w++) {
		l->ifindex[HA_IF_WAN0 + w] = h->wan[w].ifindex;
		memcpy(l->mac[HA_IF_WAN0 + w], h->wan[w].mac, 6);
		l->mtu[HA_IF_WAN0 + w] = (uint16_t)h->wan[w].mtu;
		l->gw_of_wan[w] = cfg->wans[w].gw;
	}
	l->n_wans = cfg->n_wans;
	for (int g = 0; g < XWAN_MAX_GROUPS; g++)
		l->sticky_key[g] = g < cfg->n_groups && cfg->groups[g].sticky
					   ? (int)cfg->groups[g].sticky_key : -1;
}

static uint32_t id_of_ifindex(const struct ha_local *l, uint32_t ifindex)
{
	for (uint32_t id = 1; ifindex && id < HA_IF_IDS; id++)
		if (l->ifindex[id] == (int)ifindex)
			return id;
	return 0;
}

static uint8_t wan_of_gw(const struct ha_local *l, uint8_t gw)
{
	for (int w = 0; w < l->n_wans; w++)
		if (l->gw_of_wan[w] == gw)
			return (uint8_t)w;
	return XWAN_GW_NONE;
}

/* Local values -> portable ones, in place. */
static void entry_export(const struct ha_local *l, struct flow_entry *e, uint64_t now)
{
	e->created_ns = now > e->created_ns ? now - e->created_ns : 0;
	e->last_seen_ns = now > e->last_seen_ns ? now - e->last_seen_ns : 0;
	e->in_ifindex = id_of_ifindex(l, e->in_ifindex);
	e->out_ifindex = id_of_ifindex(l, e->out_ifindex);
	if (e->gw != XWAN_GW_NONE)
		e->gw = wan_of_gw(l, e->gw);
}

/* Portable values -> this router's; l2_src is our own LAN MAC for a reply entry. */
static int entry_import(const struct ha_local *l, struct flow_entry *e, uint64_t now)
{
	uint32_t in = e->in_ifindex, out = e->out_ifindex;

	if (in >= HA_IF_IDS || out >= HA_IF_IDS || (in && !l->ifindex[in]) ||
	    (out && !l->ifindex[out]))
		return -ENODEV;
	if (e->gw != XWAN_GW_NONE && e->gw >= l->n_wans)
		return -ENODEV;
	e->created_ns = now > e->created_ns ? now - e->created_ns : 0;
	e->last_seen_ns = now > e->last_seen_ns ? now - e->last_seen_ns : 0;
	e->in_ifindex = in ? (uint32_t)l->ifindex[in] : 0;
	e->out_ifindex = out ? (uint32_t)l->ifindex[out] : 0;
	if (e->gw != XWAN_GW_NONE)
		e->gw = (uint8_t)l->gw_of_wan[e->gw];
	if (e->dir == FLOW_DIR_IN && out && out < HA_IF_WAN0) {
		memcpy(e->l2_src, l->mac[out], 6);
		e->out_mtu = l->mtu[out];
	}
	return 0;
}

static int lookup_any(const struct xwan_maps *m, const struct flow_key *k, struct flow_entry *e)
{
	if (bpf_map_lookup_elem(m->fd[XM_FLOWS], k, e) == 0)
		return XM_FLOWS;
	if (bpf_map_lookup_elem(m->fd[XM_FLOWS_NEW], k, e) == 0)
		return XM_FLOWS_NEW;
	return -ENOENT;
}

static bool one_sided(const struct flow_entry *e)
{
	return e->flags & (FLOW_F_BYPASS | FLOW_F_DROP);
}

int ha_rec_read(const struct xwan_maps *m, const struct ha_local *l, const struct flow_key *key,
		uint8_t dir, uint64_t now, struct ha_rec *r)
{
	struct flow_entry e;
	int t;

	memset(r, 0, sizeof(*r));
	t = lookup_any(m, key, &e);
	if (t < 0 || e.dir == FLOW_DIR_LOCAL)
		return -ENOENT;
	r->type = HA_REC_FLOW;
	r->replied = t == XM_FLOWS;
	if (one_sided(&e)) {
		r->n_entries = 1;
		r->key_out = *key;
		r->out = e;
	} else {
		r->n_entries = 2;
		if (e.dir == FLOW_DIR_OUT) {
			r->key_out = *key;
			r->out = e;
			r->key_in = e.peer;
			if (lookup_any(m, &e.peer, &r->in) < 0)
				return -ENOENT;
		} else {
			r->key_in = *key;
			r->in = e;
			r->key_out = e.peer;
			if (lookup_any(m, &e.peer, &r->out) < 0)
				return -ENOENT;
		}
		entry_export(l, &r->in, now);
	}
	(void)dir;
	entry_export(l, &r->out, now);
	return 0;
}

/* Remove the entry at k and its other half if it points back, in either table. */
static void remove_flow(const struct xwan_maps *m, const struct flow_key *k)
{
	struct flow_entry e, p;
	int t = lookup_any(m, k, &e), pt;

	if (t < 0)
		return;
	if (!one_sided(&e) && e.dir != FLOW_DIR_LOCAL) {
		pt = lookup_any(m, &e.peer, &p);
		if (pt >= 0 && !memcmp(&p.peer, k, sizeof(*k)))
			bpf_map_delete_elem(m->fd[pt], &e.peer);
	}
	bpf_map_delete_elem(m->fd[t], k);
	xwan_flow_gauge_sub(m, 1, t == XM_FLOWS_NEW);
}

static void gauge_add(const struct xwan_maps *m, bool unreplied)
{
	struct flow_gauge g;
	__u32 zero = 0;

	/* Only the agent writes from userspace; the dataplane's updates are atomic adds. */
	if (bpf_map_lookup_elem(m->fd[XM_FLOW_GAUGE], &zero, &g))
		return;
	g.active++;
	if (unreplied)
		g.unreplied++;
	bpf_map_update_elem(m->fd[XM_FLOW_GAUGE], &zero, &g, BPF_ANY);
}

int ha_sticky_read(const struct xwan_maps *m, const struct ha_local *l, const struct ha_rec *f,
		   uint64_t now, struct ha_rec *r)
{
	uint8_t g = f->out.group;

	if (f->type != HA_REC_FLOW || g >= XWAN_MAX_GROUPS || l->sticky_key[g] < 0 ||
	    (f->out.flags & FLOW_F_FORWARD))
		return -ENOENT;
	memset(r, 0, sizeof(*r));
	r->type = HA_REC_STICKY;
	/* as policy.h's sticky_key_of builds it from the client's first packet */
	r->sticky.key.src = f->key_out.saddr;
	r->sticky.key.dst = l->sticky_key[g] == STICKY_KEY_SRC_DST ? f->key_out.daddr : 0;
	r->sticky.key.group = g;
	if (bpf_map_lookup_elem(m->fd[XM_STICKY], &r->sticky.key, &r->sticky.b))
		return -ENOENT;
	if (r->sticky.b.gw != XWAN_GW_NONE) {
		r->sticky.b.gw = wan_of_gw(l, r->sticky.b.gw);
		if (r->sticky.b.gw == XWAN_GW_NONE)
			return -ENOENT;
	}
	r->sticky.b.last_ns = now > r->sticky.b.last_ns ? now - r->sticky.b.last_ns : 0;
	return 0;
}

static int sticky_apply(const struct xwan_maps *m, const struct ha_local *l,
			const struct ha_rec *r, uint64_t now)
{
	struct sticky_binding b = r->sticky.b;

	if (b.gw >= l->n_wans || r->sticky.key.group >= XWAN_MAX_GROUPS)
		return -ENODEV;
	b.gw = (uint8_t)l->gw_of_wan[b.gw];
	b.last_ns = now > b.last_ns ? now - b.last_ns : 0;
	return bpf_map_update_elem(m->fd[XM_STICKY], &r->sticky.key, &b, BPF_ANY) ? -errno : 0;
}

/* ---- NAT mappings ---- */

static uint64_t age_of(uint64_t now, uint64_t t)
{
	return now > t ? now - t : 0;
}

/* A mapping's LAN side as a record: local values made portable. */
static int map_export(const struct ha_local *l, const struct nat_map_key *k,
		      const struct nat_map *nm, uint64_t now, struct ha_rec *r)
{
	uint8_t w = wan_of_gw(l, nm->gw);

	if (w == XWAN_GW_NONE)
		return -ENOENT;
	memset(r, 0, sizeof(*r));
	r->type = HA_REC_MAPPING;
	r->map.key = *k;
	r->map.m = *nm;
	r->map.m.gw = w;
	r->map.m.lan_ifindex = id_of_ifindex(l, nm->lan_ifindex);
	r->map.m.created_ns = age_of(now, nm->created_ns);
	r->map.m.last_ns = age_of(now, nm->last_ns);
	return 0;
}

int ha_map_read(const struct xwan_maps *m, const struct ha_local *l, struct ha_rec *f,
		uint64_t now, struct ha_rec *r)
{
	struct nat_map_key k = { .addr = f->key_out.saddr, .port = f->key_out.sport,
				 .proto = f->key_out.proto, .side = NMAP_LAN };
	struct nat_map nm;

	/* as mapping.h's nat_map_refresh finds a flow's mapping */
	if (f->type != HA_REC_FLOW || f->n_entries != 2 || !(f->out.flags & FLOW_F_NAT) ||
	    (f->key_out.proto != IPPROTO_UDP && f->key_out.proto != IPPROTO_TCP) ||
	    bpf_map_lookup_elem(m->fd[XM_NAT_MAPS], &k, &nm) ||
	    nm.addr != f->out.xlate_addr || nm.port != f->out.xlate_port)
		return -ENOENT;
	f->permit = nm.filtering == FILTER_ADDR;
	return map_export(l, &k, &nm, now, r);
}

/* address-dependent filtering: the flow's remote may reach its mapping (mapping.h's nat_permit). */
static void permit_apply(const struct xwan_maps *m, const struct ha_rec *r,
			 const struct flow_entry *out)
{
	struct nat_permit_key k = { .pub_addr = out->xlate_addr, .remote = r->key_out.daddr,
				    .pub_port = out->xlate_port, .proto = r->key_out.proto };
	__u64 seen = out->last_seen_ns;

	bpf_map_update_elem(m->fd[XM_NAT_PERMITS], &k, &seen, BPF_ANY);
}

/* Remove the mapping whose LAN side is at k, and its PUB side if it points back. */
static void map_remove(const struct xwan_maps *m, const struct nat_map_key *k)
{
	struct nat_map nm, pm;
	struct nat_map_key pub;

	if (k->side != NMAP_LAN || bpf_map_lookup_elem(m->fd[XM_NAT_MAPS], k, &nm))
		return;
	pub = (struct nat_map_key){ .addr = nm.addr, .port = nm.port, .proto = k->proto,
				    .side = NMAP_PUB };
	if (!bpf_map_lookup_elem(m->fd[XM_NAT_MAPS], &pub, &pm) && pm.addr == k->addr &&
	    pm.port == k->port)
		bpf_map_delete_elem(m->fd[XM_NAT_MAPS], &pub);
	bpf_map_delete_elem(m->fd[XM_NAT_MAPS], k);
}

/* Both sides, as mapping_nat.h makes them: the active's mapping wins over ours. */
static int map_apply(const struct xwan_maps *m, const struct ha_local *l, const struct ha_rec *r,
		     uint64_t now)
{
	struct nat_map lan = r->map.m, pub;
	struct nat_map_key pk;
	uint32_t id = lan.lan_ifindex;

	if (r->map.key.side != NMAP_LAN || lan.gw >= l->n_wans || id >= HA_IF_WAN0 ||
	    (id && !l->ifindex[id]))
		return -ENODEV;
	lan.gw = (uint8_t)l->gw_of_wan[lan.gw];
	lan.lan_ifindex = id ? (uint32_t)l->ifindex[id] : 0;
	lan.created_ns = age_of(now, lan.created_ns);
	lan.last_ns = age_of(now, lan.last_ns);
	pub = lan;
	pub.addr = r->map.key.addr;
	pub.port = r->map.key.port;
	pk = (struct nat_map_key){ .addr = lan.addr, .port = lan.port, .proto = r->map.key.proto,
				   .side = NMAP_PUB };
	if (bpf_map_update_elem(m->fd[XM_NAT_MAPS], &pk, &pub, BPF_ANY) ||
	    bpf_map_update_elem(m->fd[XM_NAT_MAPS], &r->map.key, &lan, BPF_ANY))
		return -errno;
	return 0;
}

struct map_scan_ctx {
	const struct ha_local *l;
	uint64_t now;
	void (*cb)(void *ctx, const struct ha_rec *r);
	void *ctx;
};

static int map_scan_one(const struct nat_map_key *k, const struct nat_map *nm, void *data)
{
	struct map_scan_ctx *sc = data;
	struct ha_rec r;

	if (map_export(sc->l, k, nm, sc->now, &r))
		return 0;
	sc->cb(sc->ctx, &r);
	return 1;
}

int ha_map_scan(const struct xwan_maps *m, const struct ha_local *l, uint64_t now,
		void (*cb)(void *ctx, const struct ha_rec *r), void *ctx)
{
	struct map_scan_ctx sc = { .l = l, .now = now, .cb = cb, .ctx = ctx };

	return xwan_mappings_each(m, false, now, map_scan_one, &sc);
}

int ha_rec_apply(const struct xwan_maps *m, const struct ha_local *l, const struct ha_rec *r,
		 uint64_t now)
{
	struct flow_entry out = r->out, in = r->in, old;
	int table = r->replied ? XM_FLOWS : XM_FLOWS_NEW, other, t;
	bool fresh;

	if (r->type == HA_REC_DELETE) {
		remove_flow(m, &r->key_out);
		return 0;
	}
	if (r->type == HA_REC_STICKY)
		return sticky_apply(m, l, r, now);
	if (r->type == HA_REC_MAPPING)
		return map_apply(m, l, r, now);
	if (r->type == HA_REC_MAP_DELETE) {
		map_remove(m, &r->map.key);
		return 0;
	}
	if (r->type != HA_REC_FLOW || r->n_entries < 1 || r->n_entries > 2)
		return -EINVAL;
	if (entry_import(l, &out, now) || (r->n_entries == 2 && entry_import(l, &in, now)))
		return -ENODEV;
	if (r->key_out.proto == IPPROTO_TCP) {
		/*
		 * The sequence numbers we hold are as old as the last state
		 * change or touch: a download is megabytes past them, and its
		 * first segments after a takeover would look out of window.
		 * Each direction learns them afresh from its next segment.
		 */
		out.ct &= (__u8)~FLOW_CT_SEQ;
		in.ct &= (__u8)~FLOW_CT_SEQ;
	}
	other = table == XM_FLOWS ? XM_FLOWS_NEW : XM_FLOWS;
	t = lookup_any(m, &r->key_out, &old);
	/* Another flow owned the key here: it is gone on the active. */
	if (t >= 0 && (old.dir != FLOW_DIR_OUT || (r->n_entries == 2 &&
		       memcmp(&old.peer, &r->key_in, sizeof(r->key_in)))))
		remove_flow(m, &r->key_out), t = -ENOENT;
	fresh = t < 0;
	if (r->n_entries == 2) {
		struct flow_entry held;
		int ht = lookup_any(m, &r->key_in, &held);

		if (ht >= 0 && memcmp(&held.peer, &r->key_out, sizeof(r->key_out)))
			remove_flow(m, &r->key_in), ht = -ENOENT;
		if (bpf_map_update_elem(m->fd[table], &r->key_in, &in, BPF_ANY))
			return -errno;
		/* the passive applies thousands a second: no syscall it can skip */
		if (ht == other)
			bpf_map_delete_elem(m->fd[other], &r->key_in);
	}
	if (bpf_map_update_elem(m->fd[table], &r->key_out, &out, BPF_ANY))
		return -errno;
	if (t == other)
		bpf_map_delete_elem(m->fd[other], &r->key_out);
	if (fresh)
		gauge_add(m, table == XM_FLOWS_NEW);
	if (r->permit)
		permit_apply(m, r, &out);
	return 0;
}

struct scan_ctx {
	const struct xwan_maps *m;
	const struct ha_local *l;
	uint64_t now;
	void (*cb)(void *ctx, const struct ha_rec *r);
	void *ctx;
};

static int scan_one(const struct xwan_flow *f, void *data)
{
	struct scan_ctx *sc = data;
	struct ha_rec r;

	if (f->local || f->orphan || !f->live)
		return 0;
	if (ha_rec_read(sc->m, sc->l, &f->map_key, f->out.dir, sc->now, &r) == 0)
		sc->cb(sc->ctx, &r);
	return 0;
}

int ha_rec_scan(const struct xwan_maps *m, const struct ha_local *l, uint64_t now,
		void (*cb)(void *ctx, const struct ha_rec *r), void *ctx)
{
	struct scan_ctx sc = { .m = m, .l = l, .now = now, .cb = cb, .ctx = ctx };

	return xwan_flow_scan(m, scan_one, &sc);
}
