// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include "lifecycle.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dataplane.h"
#include "devpath.h"
#include "flows.h"
#include "host.h"
#include "netlink.h"
#include "pindir.h"
#include "sync.h"
#include "sync6.h"

#define NEIGH_WAIT_MS 1000

static int sysctl_read(const char *path)
{
	char buf[16] = {};
	int fd = open(path, O_RDONLY), n;

	if (fd < 0)
		return -errno;
	n = (int)read(fd, buf, sizeof(buf) - 1);
	close(fd);
	return n > 0 ? atoi(buf) : -EIO;
}

static int sysctl_write(const char *path, int value)
{
	char buf[16];
	int fd = open(path, O_WRONLY), n, len;

	if (fd < 0)
		return -errno;
	len = snprintf(buf, sizeof(buf), "%d\n", value);
	n = (int)write(fd, buf, (size_t)len);
	close(fd);
	return n == len ? 0 : -EIO;
}

static void rp_filter_path(const char *ifname, char *out, size_t len)
{
	snprintf(out, len, "/proc/sys/net/ipv4/conf/%s/rp_filter", ifname);
}

/*
 * A point-to-point or L3 WAN has no gateway MAC to learn: the device is the
 * route (and XDP never forwards into it, devpath.h).
 */
static bool wan_resolves_gateway(const struct xwan_host *h, int w)
{
	return h->wan_gw[w] && h->wan[w].ifindex && !h->wan[w].p2p &&
	       devpath_l2_len(&h->wan[w]) && !(h->wan[w].flags & IFF_NOARP);
}

/* ---- undo, shared by a failed `up` and by `down` ---- */

static void undo_attachments(const struct xwan_runtime *rt)
{
	char path[128];

	for (__u32 i = 0; i < rt->n_attach && i < XWAN_MAX_IFACES; i++) {
		const struct xwan_attach *a = &rt->attach[i];

		if (a->xdp_mode != XDP_ATTACH_NONE)
			xdp_detach((int)a->ifindex, a->xdp_prog_id, a->xdp_mode);
		if (a->tc_attached & 1)
			tc_detach((int)a->ifindex, false);
		if (a->tc_attached & 2)
			tc_detach((int)a->ifindex, true);
		if (a->rp_filter_saved) {
			rp_filter_path(a->ifname, path, sizeof(path));
			sysctl_write(path, a->rp_filter_saved - 1);
		}
	}
}

static void undo_routing(const struct xwan_runtime *rt)
{
	for (__u32 i = 0; i < rt->n_gateways; i++) {
		if (!rt->gw_name[i][0])
			continue;
		nl_rule(rt->rule_priority, xwan_gw_fwmark(rt->fwmark_mask, (int)i),
			rt->fwmark_mask, rt->route_table_base + i, false);
		if (rt->gw_src[i])
			nl_rule_src(rt->rule_priority + 1, rt->gw_src[i], rt->route_table_base + i,
				    false);
		nl_route_flush_table(rt->route_table_base + i);
	}
	xwan_routes6_flush(rt->rule_priority, rt->route_table_base);
}

/* ---- up ---- */

/*
 * The LAN interfaces' own subnets in a WAN's table: the host's answer from
 * a WAN address to a LAN host (a LAN client of a service on that address,
 * a port forward without reflection) goes to the LAN, not to the ISP.
 * Marked packets never have a LAN destination (LAN networks are bypassed).
 */
static int wan_table_lan_routes(const struct xwan_config *cfg, const struct xwan_host *h,
				uint32_t table)
{
	for (int i = 0; i < h->n_addrs; i++) {
		const struct nl_addr *a = &h->addrs[i];
		bool lan = false;
		int rc;

		for (int l = 0; l < cfg->n_lans && !lan; l++)
			lan = h->lan[l].ifindex && h->lan[l].ifindex == a->ifindex;
		if (!lan || a->plen >= 32)
			continue;
		rc = nl_route_connected(table, a->addr, a->plen, a->ifindex, true);
		if (rc && rc != -EEXIST)
			return rc;
	}
	return 0;
}

/*
 * The WAN's table also reaches its own subnet and the LAN's directly, and
 * the host's traffic from the WAN's address looks that table up: a session
 * that came in on a WAN (SSH, a VPN endpoint) is answered through it
 * (symmetric return), not through the main table's default route.
 */
int wan_source_routing(const struct xwan_config *cfg, const struct xwan_host *h, int w,
		       struct xwan_runtime *rt)
{
	int gw = cfg->wans[w].gw, rc;
	uint32_t table = cfg->route_table_base + (uint32_t)gw;
	const struct nl_addr *a = &h->wan_addr[w];

	if (rt->gw_src[gw] && rt->gw_src[gw] != a->addr) {
		nl_rule_src(cfg->rule_priority + 1, rt->gw_src[gw], table, false);
		rt->gw_src[gw] = 0;
	}
	if (!a->addr)
		return 0;
	if (a->plen < 32) {
		rc = nl_route_connected(table, a->addr, a->plen, h->wan[w].ifindex, true);
		if (rc)
			return rc;
	}
	rc = wan_table_lan_routes(cfg, h, table);
	if (rc)
		return rc;
	rc = nl_rule_src(cfg->rule_priority + 1, a->addr, table, true);
	if (rc && rc != -EEXIST)
		return rc;
	rt->gw_src[gw] = a->addr;
	return 0;
}

/*
 * WAN w's routes in its table as the host is now: the default route via its
 * (configured or learned) next hop, or the device itself when point-to-point,
 * plus the source routing of its address. A WAN without interface, link or
 * next hop gets no default route until it has them (an onlink route needs
 * the device up, and the kernel drops it when the device goes down: the
 * agent calls this again whenever the WAN changes).
 */
int xwan_wan_routes(const struct xwan_config *cfg, const struct xwan_host *h, int w,
		    struct xwan_runtime *rt)
{
	uint32_t table = cfg->route_table_base + (uint32_t)cfg->wans[w].gw;
	uint8_t st = h->wan_state[w];
	int rc;

	if (st == XWAN_WAN_NO_IFACE)
		return 0;
	if (st == XWAN_WAN_OK || st == XWAN_WAN_NO_ADDR) {
		rc = nl_route_default(table, h->wan_gw[w], h->wan[w].ifindex, true);
		if (rc)
			return rc;
	} else if (st == XWAN_WAN_NO_GW) {
		nl_route_default(table, 0, 0, false);
	}
	return st == XWAN_WAN_LINK_DOWN ? 0 : wan_source_routing(cfg, h, w, rt);
}

static int setup_routing(const struct xwan_config *cfg, const struct xwan_host *h,
			 struct xwan_runtime *rt, char *err, size_t errlen)
{
	int rc;

	rt->route_table_base = cfg->route_table_base;
	rt->rule_priority = cfg->rule_priority;
	rt->fwmark_mask = cfg->fwmark_mask;
	for (int i = 0; i < cfg->n_wans; i++) {
		int gw = cfg->wans[i].gw;
		uint32_t table = cfg->route_table_base + (uint32_t)gw;

		rc = nl_rule(cfg->rule_priority, xwan_gw_fwmark(cfg->fwmark_mask, gw),
			     cfg->fwmark_mask, table, true);
		if (rc && rc != -EEXIST) {
			snprintf(err, errlen, "cannot add the fwmark rule for table %u: %s", table,
				 strerror(-rc));
			return rc;
		}
		rc = xwan_wan_routes(cfg, h, i, rt);
		if (rc) {
			snprintf(err, errlen, "cannot add the routes of table %u (wan %s): %s",
				 table, cfg->wans[i].name, strerror(-rc));
			return rc;
		}
	}
	return 0;
}

static struct xwan_attach *add_attach(struct xwan_runtime *rt, const struct nl_link *l,
				      uint8_t role)
{
	struct xwan_attach *a = &rt->attach[rt->n_attach++];

	memset(a, 0, sizeof(*a));
	a->ifindex = (uint32_t)l->ifindex;
	a->role = role;
	snprintf(a->ifname, sizeof(a->ifname), "%s", l->name);
	return a;
}

/*
 * The kernel path needs forwarding on, and replies DNATed at a WAN's ingress
 * must pass reverse-path filtering although the main table may route their
 * source out of another WAN: loose mode (2) on WANs.
 */
static int setup_sysctls(struct xwan_runtime *rt, bool quiet)
{
	char path[128];
	int v;

	if (sysctl_read("/proc/sys/net/ipv4/ip_forward") == 0) {
		if (sysctl_write("/proc/sys/net/ipv4/ip_forward", 1))
			return -EPERM;
		if (!quiet)
			printf("xwan: enabled IPv4 forwarding (net.ipv4.ip_forward=1)\n");
	}
	for (__u32 i = 0; i < rt->n_attach; i++) {
		struct xwan_attach *a = &rt->attach[i];

		if (a->role != IFACE_WAN)
			continue;
		rp_filter_path(a->ifname, path, sizeof(path));
		v = sysctl_read(path);
		if (v == 1 && !sysctl_write(path, 2))
			a->rp_filter_saved = 2;     /* was 1 */
	}
	return 0;
}

/* ---- the one attach path: up, reload, and an interface that came back ---- */

struct xwan_progs {
	int fd[XP_COUNT];
};

static void progs_of_dp(const struct xwan_dp *dp, struct xwan_progs *pr)
{
	for (int i = 0; i < XP_COUNT; i++)
		pr->fd[i] = dp_prog_fd(dp, xwan_prog_names[i]);
}

static int progs_from_pins(const char *pin_dir, struct xwan_progs *pr, char *err, size_t errlen)
{
	char path[512];

	for (int i = 0; i < XP_COUNT; i++) {
		snprintf(path, sizeof(path), "%s/progs/%s", pin_dir, xwan_prog_names[i]);
		pr->fd[i] = bpf_obj_get(path);
		if (pr->fd[i] < 0) {
			snprintf(err, errlen, "attaching needs xwan's programs pinned in %s/progs; "
				 "%s is not there (xwan down and up instead)", pin_dir,
				 xwan_prog_names[i]);
			for (int j = 0; j < i; j++)
				close(pr->fd[j]);
			return -ENOENT;
		}
	}
	return 0;
}

static void progs_close(struct xwan_progs *pr)
{
	for (int i = 0; i < XP_COUNT; i++)
		if (pr->fd[i] >= 0)
			close(pr->fd[i]);
}

/*
 * tc first: whatever XDP passes to the kernel must find it in place. L3
 * devices get tc only (devpath.h). a records what is attached, so a failure
 * halfway is undone by undo_attachments like any other.
 */
static int attach_iface(const struct xwan_progs *pr, struct xwan_attach *a, bool allow_generic,
			bool quiet, char *err, size_t errlen)
{
	bool wan = a->role == IFACE_WAN;
	struct dev_caps caps;
	struct nl_link l;
	char msg[256];
	int fd, rc;

	rc = nl_link_get_index((int)a->ifindex, &l);
	if (rc) {
		snprintf(err, errlen, "cannot read interface %s: %s", a->ifname, strerror(-rc));
		return rc;
	}
	rc = devpath_caps(&l, &caps, err, errlen);
	if (rc)
		return rc;
	rc = tc_attach((int)a->ifindex, false, pr->fd[wan ? XP_TC_WAN_IN : XP_TC_LAN_IN], err,
		       errlen);
	if (rc)
		return rc;
	a->tc_attached |= 1;
	if (wan) {
		rc = tc_attach((int)a->ifindex, true, pr->fd[XP_TC_WAN_OUT], err, errlen);
		if (rc)
			return rc;
		a->tc_attached |= 2;
	}
	if (!wan && !quiet && devpath_lan_warning(&l, msg, sizeof(msg)))
		fprintf(stderr, "xwan: warning: %s\n", msg);
	if (!devpath_wants_xdp(&caps))
		return 0;
	fd = pr->fd[wan ? XP_XDP_WAN : XP_XDP_LAN];
	rc = xdp_attach((int)a->ifindex, fd, allow_generic, &a->xdp_mode, err, errlen);
	if (rc)
		return rc;
	a->xdp_prog_id = prog_id_of(fd);
	if (a->xdp_mode == XDP_ATTACH_GENERIC && !quiet)
		fprintf(stderr, "xwan: warning: %s (%s) has no native XDP support; using generic "
			"XDP, which is much slower\n", a->ifname, caps.kind);
	return 0;
}

static int attach_all(const struct xwan_progs *pr, struct xwan_runtime *rt,
		      const struct xwan_up_opts *o, char *err, size_t errlen)
{
	int rc;

	for (__u32 i = 0; i < rt->n_attach; i++) {
		rc = attach_iface(pr, &rt->attach[i], o->allow_generic, o->quiet, err, errlen);
		if (rc)
			return rc;
	}
	return 0;
}

static void print_summary(const struct xwan_config *cfg, const struct xwan_host *h,
			  const struct xwan_runtime *rt, const char *pin_dir)
{
	char a[INET_ADDRSTRLEN], g[INET_ADDRSTRLEN];

	for (__u32 i = 0; i < rt->n_attach; i++) {
		const struct xwan_attach *at = &rt->attach[i];

		printf("xwan: %-4s %-12s %-9s in: %s, tc; out: %s%s%s%s\n",
		       at->role == IFACE_WAN ? "wan" : "lan", at->ifname, at->kind,
		       devpath_rx_name(at->xdp_mode), devpath_tx_name(at->tx),
		       at->why[0] ? " (" : "", at->why, at->why[0] ? ")" : "");
	}
	for (int i = 0; i < cfg->n_wans; i++) {
		const struct xwan_wan *w = &cfg->wans[i];

		inet_ntop(AF_INET, &h->wan_addr[i].addr, a, sizeof(a));
		if (h->wan_gw[i])
			inet_ntop(AF_INET, &h->wan_gw[i], g, sizeof(g));
		else
			snprintf(g, sizeof(g), "%s", h->wan[i].p2p ? "the device" : "-");
		printf("xwan: gateway %s via %s%s on %s, %s %s, weight %u%s%s\n", w->name, g,
		       w->gateway_auto ? " (auto)" : "", w->interface,
		       w->nat == XWAN_NAT_MASQUERADE ? "masquerade to" : "routed",
		       w->nat == XWAN_NAT_MASQUERADE ? (h->wan_addr[i].addr ? a : "-") : "",
		       w->weight, h->wan_state[i] ? "; down: " : "",
		       xwan_wan_state_reason(h->wan_state[i]));
	}
	printf("xwan: up; state pinned in %s\n", pin_dir);
}

int xwan_wan_neigh(const struct xwan_maps *m, const struct xwan_config *cfg,
		   const struct xwan_host *h, int w, int wait_ms)
{
	struct gw_neigh none = {};
	__u32 key = (__u32)cfg->wans[w].gw;

	if (!wan_resolves_gateway(h, w))
		return bpf_map_update_elem(m->fd[XM_GW_NEIGH], &key, &none, BPF_ANY) ? -errno : 0;
	return xwan_sync_neigh(m, cfg->wans[w].gw, h->wan[w].ifindex, h->wan_gw[w], wait_ms);
}

bool xwan_is_running(const char *pin_dir, char *where, size_t len)
{
	struct xwan_maps m;
	struct if_nameindex *ifs, *it;
	char name[16];
	uint32_t id;
	bool found = false;

	if (xwan_maps_from_pins(pin_dir, &m) == 0) {
		xwan_maps_close(&m);
		snprintf(where, len, "maps are pinned in %s", pin_dir);
		return true;
	}
	ifs = if_nameindex();
	for (it = ifs; it && it->if_index && !found; it++) {
		if (xdp_query((int)it->if_index, &id, name) == 0 && xwan_is_xdp_prog_name(name)) {
			snprintf(where, len, "%s has xwan's XDP program (id %u) attached",
				 it->if_name, id);
			found = true;
		}
	}
	if (ifs)
		if_freenameindex(ifs);
	return found;
}

int xwan_up(const struct xwan_config *cfg, const char *pin_dir,
	    const struct xwan_up_opts *o, struct xwan_maps *m, char *err, size_t errlen)
{
	static uint8_t status[XWAN_MAX_GATEWAYS];
	static bool usable[XWAN_MAX_GATEWAYS];
	struct xwan_runtime *rt = calloc(1, sizeof(*rt));
	struct xwan_host *h = calloc(1, sizeof(*h));
	struct xwan_progs progs;
	struct xwan_dp dp = {};
	char where[128];
	bool pinned = false, loaded = false;
	int rc, i;

	xwan_maps_init(m);
	if (!rt || !h) {
		rc = -ENOMEM;
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	if (xwan_is_running(pin_dir, where, sizeof(where))) {
		rc = -EEXIST;
		snprintf(err, errlen, "xwan is already running (%s); run `xwan down` first", where);
		goto out;
	}
	rc = xwan_host_gather(cfg, h, err, errlen);
	if (rc)
		goto out;
	rc = xwan_pin_dir_prepare(pin_dir, err, errlen);
	if (rc)
		goto out;
	rc = dp_load(&dp, cfg->flow_table_size, err, errlen);
	if (rc)
		goto out;
	loaded = true;

	/*
	 * Until a monitor says otherwise, every gateway the host can use takes
	 * flows; the others are down with their reason and join when usable.
	 */
	for (i = 0; i < cfg->n_wans; i++) {
		status[i] = h->wan_state[i] ? GW_STATUS_DOWN : GW_STATUS_PENDING;
		usable[i] = !h->wan_state[i];
	}
	rc = xwan_sync_all(cfg, h, &dp.maps, status, usable, err, errlen);
	if (rc)
		goto fail;
	for (i = 0; i < cfg->n_wans; i++)
		xwan_wan_neigh(&dp.maps, cfg, h, i, NEIGH_WAIT_MS);

	rt->magic = XWAN_RUNTIME_MAGIC;
	rt->n_groups = (uint32_t)cfg->n_groups;
	rt->started_unix = (uint64_t)time(NULL);
	rt->generation = 1;
	snprintf(rt->config_path, sizeof(rt->config_path), "%s", cfg->path);
	for (i = 0; i < cfg->n_wans; i++) {
		snprintf(rt->gw_name[cfg->wans[i].gw], XWAN_NAME_LEN, "%s", cfg->wans[i].name);
		if ((uint32_t)cfg->wans[i].gw >= rt->n_gateways)
			rt->n_gateways = (uint32_t)cfg->wans[i].gw + 1;
	}
	xwan_runtime_names(cfg, rt);
	for (i = 0; i < cfg->n_lans; i++)
		add_attach(rt, &h->lan[i], IFACE_LAN);
	for (i = 0; i < cfg->n_wans; i++)
		if (h->wan[i].ifindex)
			add_attach(rt, &h->wan[i], IFACE_WAN);

	rc = dp_pin(&dp, pin_dir, err, errlen);
	pinned = true;
	if (rc)
		goto fail;
	rc = setup_routing(cfg, h, rt, err, errlen);
	if (rc)
		goto fail;
	rc = setup_sysctls(rt, o->quiet);
	if (rc) {
		snprintf(err, errlen, "cannot enable IPv4 forwarding: %s", strerror(-rc));
		goto fail;
	}
	progs_of_dp(&dp, &progs);
	rt->no_generic = !o->allow_generic;
	rc = attach_all(&progs, rt, o, err, errlen);
	if (rc)
		goto fail;
	rc = devpath_sync(&dp.maps, rt);
	if (rc) {
		snprintf(err, errlen, "cannot write the XDP transmit paths: %s", strerror(-rc));
		goto fail;
	}
	if (dp_watch_redirects(&dp, pin_dir, err, errlen)) {
		fprintf(stderr, "xwan: warning: %s; failed XDP redirects are not counted\n", err);
		err[0] = 0;
	}
	rc = xwan_runtime_write(&dp.maps, rt);
	if (rc) {
		snprintf(err, errlen, "cannot write the runtime record: %s", strerror(-rc));
		goto fail;
	}
	if (!o->quiet)
		print_summary(cfg, h, rt, pin_dir);

	/* Hand the caller its own fds; the skeletons go, attachments stay. */
	for (i = 0; i < XM_COUNT; i++)
		m->fd[i] = dup(dp.maps.fd[i]);
	dp_destroy(&dp);
	rc = 0;
	goto out;

fail:
	undo_attachments(rt);
	undo_routing(rt);
	if (pinned)
		xwan_pin_dir_remove(pin_dir);
	if (loaded)
		dp_destroy(&dp);
out:
	free(rt);
	free(h);
	return rc;
}

void xwan_runtime_names(const struct xwan_config *cfg, struct xwan_runtime *rt)
{
	int i;

	rt->n_groups = (uint32_t)cfg->n_groups;
	for (i = 0; i < XWAN_MAX_GROUPS; i++)
		snprintf(rt->group_name[i], XWAN_NAME_LEN, "%s",
			 i < cfg->n_groups ? cfg->groups[i].name : "");
	rt->n_rules = (uint32_t)cfg->n_rules;
	for (i = 0; i < cfg->n_rules; i++)
		snprintf(rt->rule_name[i], XWAN_NAME_LEN, "%s", cfg->rules[i].name);
}

int xwan_assign_gateways(struct xwan_config *cfg, const struct xwan_runtime *rt,
			 uint32_t *gone)
{
	uint32_t used = 0;
	int added = 0;

	*gone = 0;
	for (__u32 i = 0; i < rt->n_gateways && i < XWAN_MAX_GATEWAYS; i++)
		if (rt->gw_name[i][0])
			*gone |= 1U << i;
	for (int w = 0; w < cfg->n_wans; w++) {
		cfg->wans[w].gw = -1;
		for (__u32 i = 0; i < rt->n_gateways && i < XWAN_MAX_GATEWAYS; i++) {
			if (rt->gw_name[i][0] && !strcmp(rt->gw_name[i], cfg->wans[w].name)) {
				cfg->wans[w].gw = (int)i;
				used |= 1U << i;
				*gone &= ~(1U << i);
			}
		}
	}
	for (int w = 0; w < cfg->n_wans; w++) {
		int i = 0;

		if (cfg->wans[w].gw >= 0)
			continue;
		/* A freed index may still name old flows: prefer never-used ones. */
		while (i < XWAN_MAX_GATEWAYS && ((used | *gone) & (1U << i)))
			i++;
		if (i == XWAN_MAX_GATEWAYS)
			for (i = 0; used & (1U << i); i++)
				;
		cfg->wans[w].gw = i;
		used |= 1U << i;
		added++;
	}
	return added;
}

/* ---- reload ---- */

/* The name the runtime record attached ifindex under ("" if none). */
static const char *attached_name(const struct xwan_runtime *rt, uint32_t ifindex)
{
	for (__u32 i = 0; i < rt->n_attach && i < XWAN_MAX_IFACES; i++)
		if (rt->attach[i].ifindex == ifindex)
			return rt->attach[i].ifname;
	return "";
}

/*
 * A WAN still named but on another interface is a new WAN under an old
 * name. One whose interface was deleted and re-created under its name (a
 * PPPoE reconnect, a replugged modem) is the same WAN: it keeps its index,
 * but its flows name the dead ifindex and go (*relinked).
 */
static void reassign_moved(struct xwan_config *cfg, const struct xwan_maps *m,
			   const struct xwan_runtime *rt, uint32_t *gone, uint32_t *relinked)
{
	uint32_t used = 0;

	*relinked = 0;
	for (int w = 0; w < cfg->n_wans; w++)
		used |= 1U << cfg->wans[w].gw;
	for (int w = 0; w < cfg->n_wans; w++) {
		struct gw_info gi = {};
		__u32 key = (__u32)cfg->wans[w].gw;
		int i = 0;

		if (bpf_map_lookup_elem(m->fd[XM_GATEWAYS], &key, &gi) || !gi.ifindex ||
		    gi.ifindex == if_nametoindex(cfg->wans[w].interface))
			continue;
		if (!strcmp(attached_name(rt, gi.ifindex), cfg->wans[w].interface)) {
			*relinked |= 1U << key;
			continue;
		}
		*gone |= 1U << key;
		while (i < XWAN_MAX_GATEWAYS && ((used | *gone) & (1U << i)))
			i++;
		if (i == XWAN_MAX_GATEWAYS)
			continue;
		cfg->wans[w].gw = i;
		used |= 1U << i;
	}
}

static void retire_gateway(const struct xwan_maps *m, struct xwan_runtime *rt, int gw,
			   struct xwan_reload_result *res)
{
	struct gw_info off = {};
	struct gw_health none = {};
	__u32 key = (__u32)gw;
	int resets = 0, n;

	n = xwan_flows_flush(m, gw, ~0U, true, true, &resets);
	if (n > 0) {
		res->flushed += n;
		res->resets += resets;
	}
	bpf_map_update_elem(m->fd[XM_GATEWAYS], &key, &off, BPF_ANY);
	bpf_map_update_elem(m->fd[XM_GW_HEALTH], &key, &none, BPF_ANY);
	bpf_map_update_elem(m->fd[XM_GW_HEALTH6], &key, &none, BPF_ANY);
	nl_rule(rt->rule_priority, xwan_gw_fwmark(rt->fwmark_mask, gw), rt->fwmark_mask,
		rt->route_table_base + (uint32_t)gw, false);
	if (rt->gw_src[gw])
		nl_rule_src(rt->rule_priority + 1, rt->gw_src[gw], rt->route_table_base + (uint32_t)gw,
			    false);
	nl_route_flush_table(rt->route_table_base + (uint32_t)gw);
	rt->gw_src[gw] = 0;
	rt->gw_name[gw][0] = 0;
}

static bool wanted(const struct xwan_config *cfg, const struct xwan_host *h, uint32_t ifindex,
		   uint8_t *role)
{
	for (int i = 0; i < cfg->n_lans; i++)
		if ((uint32_t)h->lan[i].ifindex == ifindex) {
			*role = IFACE_LAN;
			return true;
		}
	for (int i = 0; i < cfg->n_wans; i++)
		if ((uint32_t)h->wan[i].ifindex == ifindex) {
			*role = IFACE_WAN;
			return true;
		}
	return false;
}

/*
 * Detach interfaces the config dropped (or whose role changed, or that were
 * deleted), attach new ones and ones that came back under a new ifindex,
 * through the same attach path as `up`, with the options `up` had.
 */
static int reattach(const struct xwan_config *cfg, const struct xwan_host *h,
		    struct xwan_runtime *rt, const char *pin_dir, char *err, size_t errlen)
{
	struct xwan_runtime *want = calloc(1, sizeof(*want));
	struct xwan_progs pr = { .fd = { -1, -1, -1, -1, -1 } };
	bool have_progs = false;
	uint8_t role;
	int rc = 0;

	if (!want)
		return -ENOMEM;
	/* Keep what stays, in order; undo what goes. */
	for (__u32 i = 0; i < rt->n_attach; i++) {
		if (wanted(cfg, h, rt->attach[i].ifindex, &role) && role == rt->attach[i].role) {
			want->attach[want->n_attach++] = rt->attach[i];
			continue;
		}
		struct xwan_runtime one = { .n_attach = 1 };

		one.attach[0] = rt->attach[i];
		undo_attachments(&one);
	}
	for (int i = 0; i < cfg->n_lans + cfg->n_wans && !rc; i++) {
		const struct nl_link *l = i < cfg->n_lans ? &h->lan[i] : &h->wan[i - cfg->n_lans];
		uint8_t r = i < cfg->n_lans ? IFACE_LAN : IFACE_WAN;
		bool have = false;

		for (__u32 j = 0; j < want->n_attach; j++)
			have |= want->attach[j].ifindex == (uint32_t)l->ifindex;
		if (have || !l->ifindex)
			continue;
		if (!have_progs) {
			rc = progs_from_pins(pin_dir, &pr, err, errlen);
			if (rc)
				break;
			have_progs = true;
		}
		rc = attach_iface(&pr, add_attach(want, l, r), !rt->no_generic, false, err, errlen);
	}
	if (have_progs)
		progs_close(&pr);
	rt->n_attach = want->n_attach;
	memcpy(rt->attach, want->attach, sizeof(rt->attach));
	free(want);
	return rc;
}

int xwan_reload(struct xwan_config *cfg, const char *pin_dir, const uint8_t *status,
		const bool *usable, struct xwan_reload_result *res, char *err, size_t errlen)
{
	struct xwan_runtime *rt = calloc(1, sizeof(*rt));
	struct xwan_host *h = calloc(1, sizeof(*h));
	uint8_t st[XWAN_MAX_GATEWAYS];
	bool us[XWAN_MAX_GATEWAYS];
	struct xwan_settings old;
	struct xwan_maps m;
	uint32_t relinked = 0;
	int rc;

	memset(res, 0, sizeof(*res));
	xwan_maps_init(&m);
	if (!rt || !h) {
		rc = -ENOMEM;
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	rc = xwan_maps_open(pin_dir, &m, err, errlen);
	if (!rc)
		rc = xwan_runtime_read(&m, rt);
	if (!rc)
		rc = xwan_settings_read(&m, &old);
	if (rc) {
		if (!err[0])
			snprintf(err, errlen, "cannot read the running state: %s", strerror(-rc));
		goto out;
	}
	rc = xwan_host_gather(cfg, h, err, errlen);
	if (rc)
		goto out;
	res->added = xwan_assign_gateways(cfg, rt, &res->gone);
	reassign_moved(cfg, &m, rt, &res->gone, &relinked);
	if (cfg->flow_table_size != old.flow_capacity) {
		fprintf(stderr, "xwan: flow_table_size stays %u until xwan down and up: the table "
			"cannot be resized under live flows\n", old.flow_capacity);
		cfg->flow_table_size = old.flow_capacity;
	}

	for (int gw = 0; gw < XWAN_MAX_GATEWAYS; gw++) {
		int resets = 0, n;

		if (res->gone & (1U << gw))
			retire_gateway(&m, rt, gw, res);
		if (!(relinked & (1U << gw)))
			continue;
		n = xwan_flows_flush(&m, gw, ~0U, true, true, &resets);
		if (n > 0) {
			res->flushed += n;
			res->resets += resets;
		}
	}
	rc = reattach(cfg, h, rt, pin_dir, err, errlen);
	if (!rc)
		rc = devpath_sync(&m, rt);
	if (rc)
		goto out;
	rt->route_table_base = cfg->route_table_base;
	rt->rule_priority = cfg->rule_priority;
	rt->fwmark_mask = cfg->fwmark_mask;
	rc = setup_routing(cfg, h, rt, err, errlen);
	if (rc)
		goto out;

	/* Kept gateways keep their status and usability until told otherwise. */
	for (int w = 0; w < cfg->n_wans; w++) {
		struct gw_info gi = {};
		__u32 key = (__u32)cfg->wans[w].gw;
		bool kept = bpf_map_lookup_elem(m.fd[XM_GATEWAYS], &key, &gi) == 0 &&
			    (gi.flags & GW_F_CONFIGURED);

		st[w] = status ? status[w] : kept ? gi.status : GW_STATUS_PENDING;
		us[w] = usable ? usable[w] : kept ? !!(gi.flags & GW_F_USABLE) : true;
		if (h->wan_state[w]) {
			st[w] = GW_STATUS_DOWN;
			us[w] = false;
		}
	}
	rc = xwan_sync_all(cfg, h, &m, st, us, err, errlen);
	if (rc)
		goto out;
	/* A gateway may have a new address, a new WAN none known yet. */
	for (int w = 0; w < cfg->n_wans; w++)
		xwan_wan_neigh(&m, cfg, h, w, NEIGH_WAIT_MS);

	for (int w = 0; w < cfg->n_wans; w++) {
		snprintf(rt->gw_name[cfg->wans[w].gw], XWAN_NAME_LEN, "%s", cfg->wans[w].name);
		if ((uint32_t)cfg->wans[w].gw >= rt->n_gateways)
			rt->n_gateways = (uint32_t)cfg->wans[w].gw + 1;
	}
	xwan_runtime_names(cfg, rt);
	snprintf(rt->config_path, sizeof(rt->config_path), "%s", cfg->path);
	rt->generation++;
	rc = xwan_runtime_write(&m, rt);
	if (rc)
		snprintf(err, errlen, "cannot write the runtime record: %s", strerror(-rc));
out:
	xwan_maps_close(&m);
	free(rt);
	free(h);
	return rc;
}

/* ---- down ---- */

/*
 * The dataplane was set up by another xwan build, whose runtime record we
 * cannot read whole: take down what is recognisably xwan's — XDP programs by
 * name, tc filters by handle and priority, rules by priority and table range
 * (from the record's stable header) — on every interface of the namespace.
 */
static int down_other_build(const struct xwan_maps *m, struct xwan_runtime *hdr, bool quiet,
			    char *err, size_t errlen)
{
	struct if_nameindex *ifs = if_nameindex(), *it;
	char name[16];
	uint32_t id;
	int rc;

	rc = xwan_runtime_read_header(m->fd[XM_RUNTIME], hdr);
	if (rc) {
		snprintf(err, errlen, "the running dataplane comes from another xwan build and its "
			 "record is unreadable (%s); detach by hand: ip link set dev IF xdp off; "
			 "tc filter del dev IF ingress/egress handle 0x7877 prio 1 bpf",
			 strerror(-rc));
		if (ifs)
			if_freenameindex(ifs);
		return rc;
	}
	for (it = ifs; it && it->if_index; it++) {
		if (xdp_query((int)it->if_index, &id, name) == 0 && xwan_is_xdp_prog_name(name)) {
			xdp_detach((int)it->if_index, id, XDP_ATTACH_NATIVE);
			xdp_detach((int)it->if_index, id, XDP_ATTACH_GENERIC);
			if (!quiet)
				printf("xwan: detached from %s\n", it->if_name);
		}
		tc_detach((int)it->if_index, false);
		tc_detach((int)it->if_index, true);
	}
	if (ifs)
		if_freenameindex(ifs);
	nl_rules_flush(hdr->rule_priority, hdr->rule_priority + 1, hdr->route_table_base,
		       hdr->route_table_base + XWAN_MAX_GATEWAYS - 1);
	for (uint32_t t = 0; t < XWAN_MAX_GATEWAYS; t++)
		nl_route_flush_table(hdr->route_table_base + t);
	xwan_routes6_flush(hdr->rule_priority, hdr->route_table_base);
	if (!quiet)
		printf("xwan: down (the dataplane came from another build; sysctls left as they "
		       "are)\n");
	return 0;
}

int xwan_down(const char *pin_dir, bool quiet, char *err, size_t errlen)
{
	struct xwan_runtime *rt = calloc(1, sizeof(*rt));
	struct xwan_maps m;
	int rc;

	if (!rt) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	rc = xwan_maps_open_partial(pin_dir, &m);
	if (rc && rc != -ESTALE) {
		xwan_maps_close(&m);
		free(rt);
		xwan_pin_dir_remove(pin_dir);
		return 1;
	}
	rc = m.fd[XM_RUNTIME] >= 0 ? xwan_runtime_read(&m, rt) : -ENOENT;
	if (rc == -ESTALE) {
		rc = down_other_build(&m, rt, quiet, err, errlen);
		xwan_maps_close(&m);
		xwan_pin_dir_remove(pin_dir);
		free(rt);
		return rc;
	}
	if (rc) {
		snprintf(err, errlen, "the runtime record in %s is unreadable (%s); detach by hand: "
			 "ip link set dev IF xdp off; tc filter del dev IF ingress", pin_dir,
			 strerror(-rc));
		xwan_maps_close(&m);
		free(rt);
		return rc;
	}
	undo_attachments(rt);
	undo_routing(rt);
	xwan_maps_close(&m);
	xwan_pin_dir_remove(pin_dir);
	if (!quiet) {
		for (__u32 i = 0; i < rt->n_attach; i++)
			printf("xwan: detached from %s\n", rt->attach[i].ifname);
		printf("xwan: down\n");
	}
	free(rt);
	return 0;
}
