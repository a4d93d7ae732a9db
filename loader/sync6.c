// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include "sync6.h"

#include <bpf/bpf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../bpf/lib/npt6.h"

_Static_assert((int)XWAN_NAT6_NPT == NAT6_NPT && (int)XWAN_NAT6_MASQUERADE == NAT6_MASQUERADE &&
		       (int)XWAN_NAT6_NONE == NAT6_NONE,
	       "config's nat6 modes are the dataplane's");

int xwan_install_groups6(const struct xwan_config *cfg, const struct xwan_maps *m,
			 const xwan_usable_t usable6)
{
	static xwan_usable_t u;

	/*
	 * Groups balance the NPT and masquerade WANs: a nat6 none WAN takes the
	 * flows whose source is in its delegated prefix only (any other source
	 * would leave it untranslated).
	 */
	for (int g = 0; g < cfg->n_groups; g++)
		for (int w = 0; w < cfg->n_wans; w++)
			u[g][w] = usable6[g][w] && cfg->wans[w].v6.enabled &&
				  cfg->wans[w].v6.nat != XWAN_NAT6_NONE;
	return xwan_install_group_tables(cfg, m->fd[XM_GROUPS6], m->fd[XM_GW_SLOTS6], u);
}

static int common_bits(const uint8_t *a, const uint8_t *b)
{
	int n = 0;

	for (int i = 0; i < 16; i++) {
		uint8_t x = a[i] ^ b[i];

		if (!x) {
			n += 8;
			continue;
		}
		return n + __builtin_clz((unsigned int)x) - 24;
	}
	return n;
}

static bool npt_inside_of_any(const struct xwan_config *cfg, const struct xwan_cidr6 *c)
{
	for (int w = 0; w < cfg->n_wans; w++)
		if (cfg->wans[w].v6.enabled && cfg->wans[w].v6.nat == XWAN_NAT6_NPT &&
		    cfg->wans[w].v6.npt_inside.plen == c->plen &&
		    !memcmp(cfg->wans[w].v6.npt_inside.addr, c->addr, 16))
			return true;
	return false;
}

const struct xwan_cidr6 *xwan_wan6_delegated(const struct xwan_config *cfg,
					     const struct xwan_host *h, int w)
{
	const struct xwan_cidr6 *best = NULL;
	int best_bits = 31;

	if (!cfg->wans[w].v6.enabled || cfg->wans[w].v6.nat != XWAN_NAT6_NONE)
		return NULL;
	for (int i = 0; i < cfg->n_lans; i++) {
		for (int j = 0; j < cfg->lans[i].n_networks6; j++) {
			const struct xwan_cidr6 *c = &cfg->lans[i].networks6[j];
			int b = common_bits(c->addr, h->wan6[w].gw);
			int b2 = common_bits(c->addr, h->wan6[w].addr);

			if (npt_inside_of_any(cfg, c))
				continue;
			if (b2 > b)
				b = b2;
			if (b > c->plen)
				b = c->plen;
			if (b > best_bits) {
				best_bits = b;
				best = c;
			}
		}
	}
	return best;
}

static void words_of(const uint8_t *a, __u16 w[8])
{
	memcpy(w, a, 16);
}

/*
 * A new next hop (gateway6: auto following another router's RA, a reload
 * with another gateway6): the MAC the XDP path cached is the old router's,
 * and established flows would keep it until a new flow rechecks.
 */
static void forget_neigh6(const struct xwan_maps *m, uint32_t key, const uint8_t *nexthop)
{
	struct gw6_info old;
	struct gw_neigh none = {};

	if (bpf_map_lookup_elem(m->fd[XM_GATEWAYS6], &key, &old) == 0 &&
	    memcmp(old.nexthop, nexthop, 16))
		bpf_map_update_elem(m->fd[XM_GW_NEIGH6], &key, &none, BPF_ANY);
}

int xwan_sync_gateways6(const struct xwan_config *cfg, const struct xwan_host *h,
			const struct xwan_maps *m, const uint8_t *status6,
			const xwan_usable_t usable6)
{
	for (int i = 0; i < cfg->n_wans; i++) {
		const struct xwan_wan6 *w6 = &cfg->wans[i].v6;
		const struct xwan_wan6_facts *f = &h->wan6[i];
		struct gw6_info gi = {};
		uint32_t key = (uint32_t)cfg->wans[i].gw;
		bool usable = false;

		for (int g = 0; g < cfg->n_groups; g++)
			usable |= usable6[g][i];
		if (w6->enabled) {
			__u16 in[8], out[8];

			gi.ifindex = (uint32_t)h->wan[i].ifindex;
			gi.mtu = (uint16_t)h->wan[i].mtu;
			gi.nat6 = (uint8_t)w6->nat;
			gi.flags = GW6_F_CONFIGURED | (w6->gateway_auto ? GW6_F_AUTO : 0) |
				   (usable && f->state == XWAN_WAN6_OK ? GW6_F_USABLE : 0);
			gi.status = status6[i];
			gi.fwmark = xwan_gw_fwmark(cfg->fwmark_mask, cfg->wans[i].gw);
			memcpy(gi.nexthop, f->gw, 16);
			memcpy(gi.addr, f->addr, 16);
			gi.addr_plen = f->plen;
			memcpy(gi.mac_wan, h->wan[i].mac, 6);
			gi.port_min = cfg->wans[i].port_min;    /* nat_ports, as IPv4's */
			gi.port_max = cfg->wans[i].port_max;
			if (w6->nat == XWAN_NAT6_NPT) {
				words_of(w6->npt_inside.addr, in);
				words_of(w6->npt_outside.addr, out);
				if (npt6_map_init(&gi.out, in, out, w6->npt_inside.plen) ||
				    npt6_map_init(&gi.in, out, in, w6->npt_inside.plen))
					return -EINVAL;   /* config.c bounds plen: unreachable */
			}
		}
		forget_neigh6(m, key, gi.nexthop);
		if (bpf_map_update_elem(m->fd[XM_GATEWAYS6], &key, &gi, BPF_ANY))
			return -errno;
	}
	return 0;
}

struct prefix6_set {
	struct lpm_v6_key keys[XWAN_MAX_DST_PREFIXES];
	struct prefix6_info vals[XWAN_MAX_DST_PREFIXES];
	int n;
};

static void mask6(uint8_t *a, uint8_t plen)
{
	for (int i = 0; i < 16; i++) {
		int bits = plen - 8 * i;

		if (bits >= 8)
			continue;
		a[i] &= bits <= 0 ? 0 : (uint8_t)(0xff << (8 - bits));
	}
}

/* First writer wins: host addresses, then LAN-side, then WAN prefixes. */
static void prefix6_add(struct prefix6_set *d, const uint8_t *addr, uint8_t plen, uint8_t kind,
			uint8_t gw)
{
	struct lpm_v6_key k = { .prefixlen = plen };

	memcpy(k.addr, addr, 16);
	mask6(k.addr, plen);
	for (int i = 0; i < d->n; i++)
		if (!memcmp(&d->keys[i], &k, sizeof(k)))
			return;
	if (d->n >= XWAN_MAX_DST_PREFIXES)
		return;
	d->keys[d->n] = k;
	d->vals[d->n] = (struct prefix6_info){ .kind = kind, .gw = gw };
	d->n++;
}

_Static_assert(2 * XWAN_MAX_HOST_ADDRS + XWAN_MAX_LANS * XWAN_MAX_LAN_NETS6 +
		       XWAN_MAX_GATEWAYS <= XWAN_MAX_DST_PREFIXES,
	       "prefix6 cannot hold every prefix sync_prefix6 writes");

static int wan_of_ifindex6(const struct xwan_config *cfg, const struct xwan_host *h, int ifindex)
{
	for (int i = 0; i < cfg->n_wans; i++)
		if (h->wan[i].ifindex && h->wan[i].ifindex == ifindex)
			return i;
	return -1;
}

/*
 * The same "make it hold exactly these" as sync.c's map_replace_all, for
 * the IPv6 LPM maps: the new set first, then what is no longer in it.
 */
static int replace_all6(int fd, size_t ksz, size_t vsz, const void *keys, const void *vals,
			int n)
{
	char cur[64], prev[64];
	void *after = NULL;
	int rc = 0;

	for (int i = 0; i < n; i++)
		if (bpf_map_update_elem(fd, (const char *)keys + i * ksz,
					(const char *)vals + i * vsz, BPF_ANY))
			return -errno;
	for (;;) {
		bool keep = false;

		if (bpf_map_get_next_key(fd, after, cur))
			break;
		for (int i = 0; i < n && !keep; i++)
			keep = !memcmp(cur, (const char *)keys + i * ksz, ksz);
		memcpy(prev, cur, ksz);
		after = prev;
		if (!keep && bpf_map_delete_elem(fd, cur) == 0)
			after = NULL;   /* deleting under the cursor: restart the walk */
	}
	return rc;
}

static int sync_prefix6(const struct xwan_config *cfg, const struct xwan_host *h,
			const struct xwan_maps *m)
{
	struct prefix6_set *d = calloc(1, sizeof(*d));
	int rc, i, j, w;

	if (!d)
		return -ENOMEM;
	for (i = 0; i < h->n_addrs6; i++) {
		w = wan_of_ifindex6(cfg, h, h->addrs6[i].ifindex);
		prefix6_add(d, h->addrs6[i].addr, 128, PREFIX6_LOCAL,
			    w >= 0 ? (uint8_t)cfg->wans[w].gw : XWAN_GW_NONE);
	}
	for (w = 0; w < cfg->n_wans; w++) {
		const struct xwan_cidr6 *c = xwan_wan6_delegated(cfg, h, w);

		if (c)
			prefix6_add(d, c->addr, c->plen, PREFIX6_DELEGATED,
				    (uint8_t)cfg->wans[w].gw);
	}
	for (i = 0; i < cfg->n_lans; i++)
		for (j = 0; j < cfg->lans[i].n_networks6; j++)
			prefix6_add(d, cfg->lans[i].networks6[j].addr,
				    cfg->lans[i].networks6[j].plen, PREFIX6_LAN, XWAN_GW_NONE);
	for (w = 0; w < cfg->n_wans; w++) {
		const struct xwan_wan6 *w6 = &cfg->wans[w].v6;

		if (w6->enabled && w6->nat == XWAN_NAT6_NPT)
			prefix6_add(d, w6->npt_outside.addr, w6->npt_outside.plen,
				    PREFIX6_OUTSIDE, (uint8_t)cfg->wans[w].gw);
	}
	for (i = 0; i < h->n_addrs6; i++) {
		w = wan_of_ifindex6(cfg, h, h->addrs6[i].ifindex);
		if (w >= 0 && h->addrs6[i].scope == 0 && h->addrs6[i].plen < 128)
			prefix6_add(d, h->addrs6[i].addr, h->addrs6[i].plen, PREFIX6_WAN_NET,
				    (uint8_t)cfg->wans[w].gw);
	}
	rc = replace_all6(m->fd[XM_PREFIX6], sizeof(d->keys[0]), sizeof(d->vals[0]), d->keys,
			  d->vals, d->n);
	free(d);
	return rc;
}

static int sync_lan_nets6(const struct xwan_config *cfg, const struct xwan_host *h,
			  const struct xwan_maps *m)
{
	struct lan_src6_key keys[XWAN_MAX_LANS * XWAN_MAX_LAN_NETS6] = {};
	uint32_t vals[XWAN_MAX_LANS * XWAN_MAX_LAN_NETS6];
	int n = 0;

	for (int i = 0; i < cfg->n_lans; i++) {
		for (int j = 0; j < cfg->lans[i].n_networks6; j++, n++) {
			keys[n].prefixlen = 32 + cfg->lans[i].networks6[j].plen;
			keys[n].ifindex = (uint32_t)h->lan[i].ifindex;
			memcpy(keys[n].addr, cfg->lans[i].networks6[j].addr, 16);
			vals[n] = (uint32_t)i;
		}
	}
	return replace_all6(m->fd[XM_LAN_NETS6], sizeof(keys[0]), sizeof(vals[0]), keys, vals, n);
}

/*
 * The kernel path of an IPv6 flow (tc marks it, the kernel routes by mark,
 * answers an expiring hop limit, sends Packet Too Big) needs the WAN's
 * table to have an IPv6 default route and its IPv6 fwmark rule: the same
 * table and mark as IPv4's.
 */
static int routes6(const struct xwan_config *cfg, const struct xwan_host *h)
{
	int rc;

	for (int i = 0; i < cfg->n_wans; i++) {
		const struct xwan_wan6_facts *f = &h->wan6[i];
		uint32_t table = cfg->route_table_base + (uint32_t)cfg->wans[i].gw;

		if (!cfg->wans[i].v6.enabled)
			continue;
		rc = nl_rule6(cfg->rule_priority, xwan_gw_fwmark(cfg->fwmark_mask, cfg->wans[i].gw),
			      cfg->fwmark_mask, table, true);
		if (rc && rc != -EEXIST)
			return rc;
		if (f->state != XWAN_WAN6_OK && f->state != XWAN_WAN6_NO_ADDR)
			continue;   /* an on-link route needs the device up */
		if (f->plen && f->plen < 128) {
			rc = nl_route6(table, f->addr, f->plen, NULL, h->wan[i].ifindex, true);
			if (rc)
				return rc;
		}
		rc = nl_route6(table, NULL, 0, f->gw, h->wan[i].ifindex, true);
		if (rc)
			return rc;
	}
	return 0;
}

int xwan_routes6_flush(uint32_t rule_priority, uint32_t table_base)
{
	return nl6_flush(rule_priority, rule_priority + 1, table_base,
			 table_base + XWAN_MAX_GATEWAYS - 1);
}

int xwan_sync6_all(const struct xwan_config *cfg, const struct xwan_host *h,
		   const struct xwan_maps *m, const uint8_t *status,
		   const xwan_usable_t usable6)
{
	int rc = xwan_sync_gateways6(cfg, h, m, status, usable6);

	if (!rc)
		rc = sync_prefix6(cfg, h, m);
	if (!rc)
		rc = sync_lan_nets6(cfg, h, m);
	if (!rc)
		rc = xwan_install_groups6(cfg, m, usable6);
	if (!rc)
		rc = routes6(cfg, h);
	return rc;
}
