// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include "sync.h"
#include "devpath.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "slots.h"
#include "sync6.h"

uint32_t xwan_gw_fwmark(uint32_t mask, int gw)
{
	return ((uint32_t)(gw + 1) << __builtin_ctz(mask)) & mask;
}

static uint32_t mask_of(uint8_t plen)
{
	return plen ? htonl(~0U << (32 - plen)) : 0;
}

/*
 * Make a hash/LPM map hold exactly the given entries: write the new set
 * first, then delete what is no longer in it, so no lookup ever falls into
 * a gap between the old and the new contents.
 */
static int map_replace_all(int fd, size_t ksz, size_t vsz, const void *keys,
			   const void *vals, int n)
{
	char cur[64], prev[64];
	void *stale = NULL, *after = NULL;
	int nstale = 0, rc = 0, i;

	for (i = 0; i < n; i++) {
		if (bpf_map_update_elem(fd, (const char *)keys + i * ksz,
					(const char *)vals + i * vsz, BPF_ANY))
			return -errno;
	}
	while (bpf_map_get_next_key(fd, after, cur) == 0) {
		bool keep = false;

		for (i = 0; i < n && !keep; i++)
			keep = !memcmp(cur, (const char *)keys + i * ksz, ksz);
		if (!keep) {
			void *grown = realloc(stale, (nstale + 1) * ksz);

			if (!grown) {
				rc = -ENOMEM;
				break;
			}
			stale = grown;
			memcpy((char *)stale + nstale++ * ksz, cur, ksz);
		}
		memcpy(prev, cur, ksz);
		after = prev;
	}
	for (i = 0; i < nstale; i++)
		bpf_map_delete_elem(fd, (char *)stale + i * ksz);
	free(stale);
	return rc;
}

/* The rule bank not in use now; reading settings first keeps the live one intact. */
static uint32_t idle_rule_bank(const struct xwan_maps *m)
{
	struct xwan_settings cur = {};

	xwan_settings_read(m, &cur);
	return xwan_rules_bank(cur.rules_sel) ^ 1;
}

/* A rule's src or dst as the matcher's four words (an IPv4 prefix in word 0). */
static void rule_words(const struct xwan_rule *r, bool src, __be32 addr[4], __be32 mask[4])
{
	const struct xwan_cidr *c4 = src ? &r->src : &r->dst;
	const struct xwan_cidr6 *c6 = src ? &r->src6 : &r->dst6;

	memset(addr, 0, 16);
	memset(mask, 0, 16);
	if (r->family == RULE_FAMILY_IPV4) {
		mask[0] = mask_of(c4->plen);
		addr[0] = c4->addr & mask[0];
	} else if (r->family == RULE_FAMILY_IPV6) {
		memcpy(addr, c6->addr, 16);
		for (int i = 0; i < 4; i++) {
			int bits = c6->plen - 32 * i;

			mask[i] = mask_of((uint8_t)(bits < 0 ? 0 : bits > 32 ? 32 : bits));
			addr[i] &= mask[i];
		}
	}
}

static int sync_rules(const struct xwan_config *cfg, const struct xwan_maps *m, uint32_t bank)
{
	for (int i = 0; i < cfg->n_rules; i++) {
		const struct xwan_rule *r = &cfg->rules[i];
		struct policy_rule pr = {
			.dport_min = r->dport_min,
			.dport_max = r->dport_max ? r->dport_max : 65535,
			.proto = r->proto,
			.action = (uint8_t)r->action,
			.group = (uint8_t)(r->action == RULE_ACTION_GROUP ? r->group : 0),
			.filtering = r->has_filtering ? (uint8_t)(r->filtering + 1) : 0,
			.family = r->family,
		};
		uint32_t key = xwan_rule_key(bank, (uint32_t)i);

		rule_words(r, true, pr.src_addr, pr.src_mask);
		rule_words(r, false, pr.dst_addr, pr.dst_mask);
		if (r->lan[0]) {
			pr.lan_ifindex = if_nametoindex(r->lan);
			if (!pr.lan_ifindex)
				return -ENODEV;
		}
		if (bpf_map_update_elem(m->fd[XM_RULES], &key, &pr, BPF_ANY))
			return -errno;
	}
	return 0;
}

static int sync_settings(const struct xwan_config *cfg, const struct xwan_maps *m)
{
	const uint64_t ns = 1000000000ULL;
	uint32_t bank = idle_rule_bank(m);
	int rc;
	struct xwan_settings s = {
		.timeout_ns = {
			[TIMEOUT_TCP_ESTABLISHED] = cfg->timeouts.tcp_established * ns,
			[TIMEOUT_TCP_TRANSITORY] = cfg->timeouts.tcp_transitory * ns,
			[TIMEOUT_UDP] = cfg->timeouts.udp * ns,
			[TIMEOUT_ICMP] = cfg->timeouts.icmp * ns,
		},
		.flow_capacity = cfg->flow_table_size,
		.fwmark_mask = cfg->fwmark_mask,
		.rules_sel = xwan_rules_sel(bank, (uint32_t)cfg->n_rules),
		.default_group = (uint8_t)cfg->default_group,
		.asymmetric = (uint8_t)cfg->asymmetric,
		.tcp_liberal = cfg->tcp_liberal,
		.src_limit = {
			[SRC_LAN] = cfg->unreplied_per_lan_host,
			[SRC_WAN] = cfg->unreplied_per_wan_host,
		},
		.unreplied_capacity = xwan_unreplied_capacity(cfg->flow_table_size),
	};
	uint32_t zero = 0;

	/* New rules into the idle bank, then one settings write flips to them. */
	rc = sync_rules(cfg, m, bank);
	if (rc)
		return rc;
	return bpf_map_update_elem(m->fd[XM_SETTINGS], &zero, &s, BPF_ANY) ? -errno : 0;
}

static int sync_port_forwards(const struct xwan_config *cfg, const struct xwan_host *h,
			      const struct xwan_maps *m)
{
	struct port_fwd_key keys[XWAN_MAX_FORWARDS] = {};
	struct port_fwd vals[XWAN_MAX_FORWARDS] = {};
	int n = 0;

	for (int i = 0; i < cfg->n_forwards; i++) {
		const struct xwan_port_forward *f = &cfg->forwards[i];

		if (!xwan_nat_addr(cfg, h, f->wan))
			continue;       /* its WAN has no address now: nothing arrives */
		keys[n].addr = xwan_nat_addr(cfg, h, f->wan);
		keys[n].port = htons(f->port);
		keys[n].proto = f->proto;
		vals[n].to_addr = f->to_addr;
		vals[n].to_port = htons(f->to_port ? f->to_port : f->port);
		vals[n].gw = (uint8_t)cfg->wans[f->wan].gw;
		vals[n].flags = f->reflection ? PORT_FWD_F_REFLECT : 0;
		n++;
	}
	return map_replace_all(m->fd[XM_PORT_FWDS], sizeof(keys[0]), sizeof(vals[0]), keys,
			       vals, n);
}

static int sync_ifaces(const struct xwan_config *cfg, const struct xwan_host *h,
		       const struct xwan_maps *m)
{
	uint32_t keys[XWAN_MAX_IFACES], ports[XWAN_MAX_IFACES];
	struct iface_info vals[XWAN_MAX_IFACES] = {};
	int n = 0, i, rc;

	for (i = 0; i < cfg->n_lans; i++, n++) {
		keys[n] = (uint32_t)h->lan[i].ifindex;
		vals[n].role = IFACE_LAN;
		vals[n].gw = XWAN_GW_NONE;
		vals[n].mtu = (uint16_t)h->lan[i].mtu;
		vals[n].l2_len = devpath_l2_len(&h->lan[i]);
		memcpy(vals[n].mac, h->lan[i].mac, 6);
	}
	for (i = 0; i < cfg->n_wans; i++) {
		if (!h->wan[i].ifindex)
			continue;       /* no interface (yet): nothing arrives on it */
		keys[n] = (uint32_t)h->wan[i].ifindex;
		vals[n].role = IFACE_WAN;
		vals[n].gw = (uint8_t)cfg->wans[i].gw;
		vals[n].mtu = (uint16_t)h->wan[i].mtu;
		vals[n].l2_len = devpath_l2_len(&h->wan[i]);
		memcpy(vals[n].mac, h->wan[i].mac, 6);
		n++;
	}
	rc = map_replace_all(m->fd[XM_IFACES], sizeof(uint32_t), sizeof(struct iface_info),
			     keys, vals, n);
	if (rc)
		return rc;
	memcpy(ports, keys, sizeof(keys));
	return map_replace_all(m->fd[XM_TX_PORTS], sizeof(uint32_t), sizeof(uint32_t),
			       keys, ports, n);
}

static int sync_lan_nets(const struct xwan_config *cfg, const struct xwan_host *h,
			 const struct xwan_maps *m)
{
	struct lan_src_key keys[XWAN_MAX_LANS * XWAN_MAX_LAN_NETS] = {};
	uint32_t vals[XWAN_MAX_LANS * XWAN_MAX_LAN_NETS];
	int n = 0;

	for (int i = 0; i < cfg->n_lans; i++) {
		for (int j = 0; j < cfg->lans[i].n_networks; j++, n++) {
			keys[n].prefixlen = 32 + cfg->lans[i].networks[j].plen;
			keys[n].ifindex = (uint32_t)h->lan[i].ifindex;
			keys[n].addr = cfg->lans[i].networks[j].addr;
			vals[n] = xwan_lan_net_id((uint32_t)i, (uint32_t)j);
		}
	}
	return map_replace_all(m->fd[XM_LAN_NETS], sizeof(keys[0]), sizeof(vals[0]),
			       keys, vals, n);
}

struct dst_set {
	struct lpm_v4_key keys[XWAN_MAX_DST_PREFIXES];
	struct dst_policy vals[XWAN_MAX_DST_PREFIXES];
	int n;
};

/* Every host address (and its broadcast and subnet), three fixed prefixes, every LAN network. */
_Static_assert(3 * XWAN_MAX_HOST_ADDRS + 3 + XWAN_MAX_LANS * XWAN_MAX_LAN_NETS <=
		       XWAN_MAX_DST_PREFIXES,
	       "dst_policy cannot hold every prefix sync_dst_policy writes");

static void dst_add(struct dst_set *d, uint32_t addr, uint8_t plen, uint8_t action, uint8_t gw)
{
	int i;

	addr &= mask_of(plen);
	for (i = 0; i < d->n; i++) {
		/* First writer wins: local addresses are added before subnets. */
		if (d->keys[i].prefixlen == plen && d->keys[i].addr == addr)
			return;
	}
	if (d->n >= XWAN_MAX_DST_PREFIXES)
		return; /* unreachable: the _Static_assert above bounds d->n */
	memset(&d->keys[d->n], 0, sizeof(d->keys[0]));
	memset(&d->vals[d->n], 0, sizeof(d->vals[0]));
	d->keys[d->n].prefixlen = plen;
	d->keys[d->n].addr = addr;
	d->vals[d->n].action = action;
	d->vals[d->n].gw = gw;
	d->n++;
}

static int wan_of_ifindex(const struct xwan_config *cfg, const struct xwan_host *h, int ifindex)
{
	for (int i = 0; i < cfg->n_wans; i++)
		if (h->wan[i].ifindex == ifindex)
			return i;
	return -1;
}

/*
 * Where LAN traffic must not be balanced: the host itself, broadcast and
 * multicast (kernel); networks on the LAN side and any other connected,
 * non-WAN subnet (kernel routing, as pfSense's negation rules do); a WAN's
 * own subnet (that WAN, whatever the group says).
 */
static int sync_dst_policy(const struct xwan_config *cfg, const struct xwan_host *h,
			   const struct xwan_maps *m)
{
	struct dst_set *d = calloc(1, sizeof(*d));
	int i, j, rc, wan;

	if (!d)
		return -ENOMEM;
	/* A WAN's own address records its WAN: the host's replies leave there. */
	for (i = 0; i < h->n_addrs; i++) {
		wan = wan_of_ifindex(cfg, h, h->addrs[i].ifindex);
		dst_add(d, h->addrs[i].addr, 32, DST_ACTION_LOCAL,
			wan >= 0 ? (uint8_t)cfg->wans[wan].gw : XWAN_GW_NONE);
		/* A WAN's broadcast is its WAN's: only LAN-side ones are refused from a WAN. */
		if (h->addrs[i].broadcast)
			dst_add(d, h->addrs[i].broadcast, 32, DST_ACTION_LOCAL,
				wan >= 0 ? (uint8_t)cfg->wans[wan].gw : XWAN_GW_NONE);
	}
	dst_add(d, htonl(0xffffffff), 32, DST_ACTION_LOCAL, XWAN_GW_NONE);
	dst_add(d, htonl(0xe0000000), 4, DST_ACTION_LOCAL, XWAN_GW_NONE);
	dst_add(d, htonl(0x7f000000), 8, DST_ACTION_LOCAL, XWAN_GW_NONE);
	for (i = 0; i < cfg->n_lans; i++)
		for (j = 0; j < cfg->lans[i].n_networks; j++)
			dst_add(d, cfg->lans[i].networks[j].addr, cfg->lans[i].networks[j].plen,
				DST_ACTION_BYPASS, XWAN_GW_NONE);
	for (i = 0; i < h->n_addrs; i++) {
		if (h->addrs[i].plen == 32)
			continue;
		wan = wan_of_ifindex(cfg, h, h->addrs[i].ifindex);
		if (wan >= 0)
			dst_add(d, h->addrs[i].addr, h->addrs[i].plen, DST_ACTION_WAN,
				(uint8_t)cfg->wans[wan].gw);
		else
			dst_add(d, h->addrs[i].addr, h->addrs[i].plen, DST_ACTION_BYPASS,
				XWAN_GW_NONE);
	}
	rc = map_replace_all(m->fd[XM_DST_POLICY], sizeof(d->keys[0]), sizeof(d->vals[0]),
			     d->keys, d->vals, d->n);
	free(d);
	return rc;
}

int xwan_sync_gateways(const struct xwan_config *cfg, const struct xwan_host *h,
		       const struct xwan_maps *m, const uint8_t *status, const bool *usable)
{
	for (int i = 0; i < cfg->n_wans; i++) {
		const struct xwan_wan *w = &cfg->wans[i];
		bool nat = w->nat == XWAN_NAT_MASQUERADE;
		struct gw_info gi = {
			.ifindex = (uint32_t)h->wan[i].ifindex,
			.nat_addr = nat ? xwan_nat_addr(cfg, h, i) : 0,
			.nexthop = h->wan_gw[i],
			.port_min = w->port_min,
			.port_max = w->port_max,
			.mtu = (uint16_t)h->wan[i].mtu,
			.flags = GW_F_CONFIGURED | (nat ? GW_F_NAT : 0) |
				 (w->gateway_auto ? GW_F_AUTO : 0) |
				 (usable[i] && h->wan_state[i] == XWAN_WAN_OK ? GW_F_USABLE : 0),
			.status = status[i],
			.fwmark = xwan_gw_fwmark(cfg->fwmark_mask, w->gw),
		};
		uint32_t key = (uint32_t)w->gw;

		memcpy(gi.mac_wan, h->wan[i].mac, 6);
		if (bpf_map_update_elem(m->fd[XM_GATEWAYS], &key, &gi, BPF_ANY))
			return -errno;
	}
	return 0;
}

int xwan_sync_neigh(const struct xwan_maps *m, int gw, int ifindex, uint32_t nexthop,
		    int wait_ms)
{
	struct gw_neigh n = {};
	uint32_t key = (uint32_t)gw;
	struct timespec ts = { 0, 50 * 1000 * 1000 };
	int rc = nl_neigh_get(ifindex, nexthop, n.mac);

	if (rc == -ENOENT) {
		nl_neigh_resolve(ifindex, nexthop);
		for (int waited = 0; rc == -ENOENT && waited < wait_ms; waited += 50) {
			nanosleep(&ts, NULL);
			rc = nl_neigh_get(ifindex, nexthop, n.mac);
		}
	}
	n.valid = rc == 0;
	if (bpf_map_update_elem(m->fd[XM_GW_NEIGH], &key, &n, BPF_ANY))
		return -errno;
	return rc;
}

int xwan_member_weight(const struct xwan_config *cfg, const struct xwan_member *mb)
{
	return mb->weight ? mb->weight : cfg->wans[mb->wan].weight;
}

int xwan_group_active_tier(const struct xwan_config *cfg, int group, const bool *usable)
{
	const struct xwan_group *g = &cfg->groups[group];
	int best = 0;

	for (int i = 0; i < g->n_members; i++) {
		if (!usable[g->members[i].wan])
			continue;
		if (!best || g->members[i].tier < best)
			best = g->members[i].tier;
	}
	return best;
}

static int build_group_table(const struct xwan_config *cfg, int group, const bool *usable,
			     struct gw_slot_table *t)
{
	const struct xwan_group *g = &cfg->groups[group];
	struct slot_member mem[XWAN_MAX_GATEWAYS];
	int tier = xwan_group_active_tier(cfg, group, usable), n = 0, rc;

	memset(t, 0, sizeof(*t));
	t->method = (uint8_t)g->method;
	t->hash_fields = g->hash_fields;
	t->seed = g->hash_seed;
	t->when_all_down = (uint8_t)g->when_all_down;
	t->sticky_expire_s = g->sticky ? g->sticky_expire_s : 0;
	t->sticky_key = (uint8_t)g->sticky_key;
	t->filtering = (uint8_t)g->filtering;
	memset(t->slot, XWAN_GW_NONE, sizeof(t->slot));
	if (!tier)
		return 0;
	for (int i = 0; i < g->n_members; i++) {
		const struct xwan_member *mb = &g->members[i];

		if (mb->tier != tier || !usable[mb->wan])
			continue;
		mem[n].gw = (uint8_t)cfg->wans[mb->wan].gw;
		t->usable_mask |= 1U << mem[n].gw;
		mem[n].weight = (uint8_t)xwan_member_weight(cfg, mb);
		mem[n].name = cfg->wans[mb->wan].name;
		n++;
	}
	if (g->method == GROUP_METHOD_ROUND_ROBIN) {
		rc = slots_build_wrr(mem, n, t->slot, XWAN_SLOTS);
		if (rc < 0)
			return rc;
		t->nslots = (uint32_t)rc;
	} else {
		rc = slots_build_maglev(mem, n, t->slot, XWAN_SLOTS);
		if (rc < 0)
			return rc;
		t->nslots = XWAN_SLOTS;
	}
	return 0;
}

int xwan_install_groups(const struct xwan_config *cfg, const struct xwan_maps *m,
			const xwan_usable_t usable)
{
	return xwan_install_group_tables(cfg, m->fd[XM_GROUPS], m->fd[XM_GW_SLOTS], usable);
}

int xwan_install_group_tables(const struct xwan_config *cfg, int groups_fd, int slots_fd,
			      const xwan_usable_t usable)
{
	struct gw_slot_table *t = malloc(sizeof(*t));
	int rc = 0;

	if (!t)
		return -ENOMEM;
	for (int g = 0; g < cfg->n_groups && !rc; g++) {
		struct gw_group gg = {};
		uint32_t key = (uint32_t)g, bank;

		rc = build_group_table(cfg, g, usable[g], t);
		if (rc)
			break;
		if (bpf_map_lookup_elem(groups_fd, &key, &gg)) {
			rc = -errno;
			break;
		}
		/* Fill the idle bank, then flip: readers see old or new, never a mix. */
		bank = (gg.active & 1) ^ 1;
		key = xwan_slot_key((uint32_t)g, bank);
		if (bpf_map_update_elem(slots_fd, &key, t, BPF_ANY)) {
			rc = -errno;
			break;
		}
		gg.active = bank;
		gg.generation++;
		key = (uint32_t)g;
		if (bpf_map_update_elem(groups_fd, &key, &gg, BPF_ANY))
			rc = -errno;
	}
	free(t);
	return rc;
}

int xwan_sync_all(const struct xwan_config *cfg, const struct xwan_host *h,
		  const struct xwan_maps *m, const uint8_t *status, const bool *usable,
		  char *err, size_t errlen)
{
	const char *what;
	int rc;

	what = "settings";
	rc = sync_settings(cfg, m);
	if (!rc) {
		what = "interfaces";
		rc = sync_ifaces(cfg, h, m);
	}
	if (!rc) {
		what = "LAN networks";
		rc = sync_lan_nets(cfg, h, m);
	}
	if (!rc) {
		what = "destination policy";
		rc = sync_dst_policy(cfg, h, m);
	}
	if (!rc) {
		what = "gateways";
		rc = xwan_sync_gateways(cfg, h, m, status, usable);
	}
	if (!rc) {
		what = "port forward";
		rc = sync_port_forwards(cfg, h, m);
	}
	if (!rc) {
		static xwan_usable_t by_group;

		for (int g = 0; g < cfg->n_groups; g++)
			memcpy(by_group[g], usable, sizeof(by_group[g][0]) * (size_t)cfg->n_wans);
		what = "groups";
		rc = xwan_install_groups(cfg, m, by_group);
		/* IPv6 follows IPv4's usability until the agent gives it its own (v6ctl). */
		if (!rc) {
			what = "IPv6";
			rc = xwan_sync6_all(cfg, h, m, status, by_group);
		}
	}
	if (rc)
		snprintf(err, errlen, "cannot write the %s maps: %s", what, strerror(-rc));
	return rc;
}
