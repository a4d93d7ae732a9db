// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include "agent.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <errno.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "../loader/flows.h"
#include "../loader/flows6.h"
#include "../loader/host.h"
#include "../loader/devpath.h"
#include "../loader/lifecycle.h"
#include "../loader/pindir.h"
#include "../loader/sync.h"
#include "agent_metrics.h"
#include "failover.h"
#include "ha.h"
#include "health.h"
#include "hooks.h"
#include "history.h"
#include "http.h"
#include "log.h"
#include "maint.h"
#include "loop.h"
#include "metrics.h"
#include "netevents.h"
#include "probe.h"
#include "rt.h"
#include "worker.h"

#define NS                  1000000000ULL
#define MS                  1000000ULL
#define GC_INTERVAL_NS      (10 * NS)
#define TEXTFILE_INTERVAL   (15 * NS)
#define PUBLISH_INTERVAL    NS
#define PATHS_INTERVAL      NS          /* XDP transmit support can change under us */
#define ICMP_ID_BASE        0x100       /* below the NAT id range (1024...) */

struct agent;

struct agent_target {
	struct health_target h;
	struct probe *probe;
	uint64_t next_send;
	uint16_t seq;
	struct agent *a;
};

/* What the agent knows of one address family of one WAN (issue 13). */
struct agent_fam {
	struct agent_target t[XWAN_MAX_TARGETS];
	int n_targets;
	struct gw_verdict v;
	bool adopted;           /* v came from the pinned state, kept until probes decide */
	uint64_t since_unix;
	uint64_t transitions;
	char reason[HEALTH_REASON_MAX];
};

enum { F4 = XWAN_FAM_IPV4, F6 = XWAN_FAM_IPV6 };

/*
 * A WAN: each family is probed, judged and installed on its own (f[F4],
 * f[F6]); the link and the operator's maintenance mark are the WAN's.
 */
struct agent_gw {
	struct agent_fam f[XWAN_FAMILIES];
	bool link_up;
	uint32_t nat_addr;      /* the address its flows were NATed to, last seen */
	uint32_t nexthop;       /* the next hop they went to, last seen */
	bool maint;             /* `xwan gateway down`: down whatever the probes say */
	char maint_reason[HEALTH_REASON_MAX];
};

struct agent {
	const struct agent_opts *o;
	struct xwan_config *cfg;
	struct xwan_host host;
	struct xwan_maps maps;
	int epfd, sigfd;
	struct loop_handler sig_h;
	struct netevents ne;
	struct agent_gw gw[XWAN_MAX_GATEWAYS];
	xwan_usable_t usable;
	bool any[XWAN_MAX_GATEWAYS];
	xwan_usable_t usable6;      /* IPv6's, from the WANs' IPv6 verdicts */
	bool any6[XWAN_MAX_GATEWAYS];
	struct metrics_server *metrics;
	struct worker *worker;      /* sweeps, flushes, textfile, reloads: off the loop */
	struct agent_metrics *am;   /* what /metrics shows of the agent's own state */
	uint64_t probe_errors[XWAN_MAX_GATEWAYS];       /* by gateway index */
	uint64_t reloads_ok, reloads_failed, last_reload_unix, reload_posted_ns;
	double last_reload_s;
	bool last_reload_ok;
	uint64_t netlink_overflows, start_unix;
	uint64_t watchdog_ns, next_watchdog;    /* systemd WatchdogSec (0: none) */
	uint64_t next_gc, next_textfile, next_publish, next_paths;
	int default_gw;
	bool stop, reload, resync, dirty;
	bool relink;            /* a configured interface came (back): re-attach */
	uint64_t next_relink;
	/* The ifindexes the dataplane is attached to (a->host follows the
	 * kernel on every address change, before any re-attach). */
	int att_lan[XWAN_MAX_LANS], att_wan[XWAN_MAX_GATEWAYS];
	bool full_resync;       /* notifications were lost: re-read neighbours too */
	uint64_t resync_first, resync_at;
	int lock_fd;            /* flock on the pin dir: one agent per dataplane */
	bool gc_in_flight, textfile_in_flight;
	bool reloading, reload_again;   /* a reload job is queued or running */
	bool install_pending;           /* a gateway choice waits for the reload's maps lock */
	struct ha *ha;                  /* ha: in the config, else NULL */
	int maint_fd;                   /* the maintenance marks (maint.h), -1: none */
	bool maint_check;               /* SIGUSR1: `xwan gateway` changed a mark */
	bool gc_asked;                  /* SIGUSR2: `xwan gc` wants a sweep by us (HA: synced) */
	struct hooks *hooks;            /* hooks.on_gateway_change (never waited for) */
	struct history *hist;           /* what the status page draws (monitor/history.h) */
};

/*
 * A DHCP client's change is a few netlink messages in a row (address
 * flushed, added, routes replaced): wait for them to settle, at most a
 * little, before re-reading the host.
 */
#define RESYNC_QUIET_NS     (100 * MS)
#define RESYNC_MAX_WAIT_NS  (400 * MS)

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NS + (uint64_t)ts.tv_nsec;
}

#define logf_ agent_log

static const char *gw_name(const struct agent *a, int w)
{
	return a->cfg->wans[w].name;
}

/* ---- probes ---- */

static void on_reply(void *ctx, uint16_t seq, uint64_t now)
{
	struct agent_target *t = ctx;

	if (health_reply(&t->h, seq, now))
		t->a->dirty = true;
}

static void targets_close_fam(struct agent_fam *f)
{
	for (int i = 0; i < f->n_targets; i++) {
		probe_destroy(f->t[i].probe);
		health_free(&f->t[i].h);
	}
	memset(f->t, 0, sizeof(f->t));
	f->n_targets = 0;
}

/* Both families' probes: a changed interface or address needs new ones. */
static void targets_close(struct agent *a, int w)
{
	for (int fam = 0; fam < XWAN_FAMILIES; fam++)
		targets_close_fam(&a->gw[w].f[fam]);
}

/* The WAN's IPv6 side as the host has it: XWAN_WAN6_OK, or why not. */
static uint8_t wan6_state(const struct agent *a, int w)
{
	if (!a->cfg->wans[w].v6.enabled)
		return XWAN_WAN6_OFF;
	return a->host.wan6[w].state;
}

/*
 * Probe i of family fam of WAN w: its target (the configured one, else the
 * gateway as configured or learned now) and source. False when there is
 * nothing to probe (a point-to-point WAN, or no learned gateway yet).
 */
static bool target_spec(const struct agent *a, int w, int fam, int i, struct probe_spec *spec)
{
	const struct xwan_wan *wan = &a->cfg->wans[w];
	static const uint8_t zero[16];

	if (fam == F4) {
		spec->family = AF_INET;
		spec->target = wan->monitor.targets[i] ? wan->monitor.targets[i] : a->host.wan_gw[w];
		spec->src_addr = a->host.wan_addr[w].addr;
		return spec->target != 0;
	}
	spec->family = AF_INET6;
	memcpy(spec->target6, i < wan->v6.n_targets && memcmp(wan->v6.targets[i], zero, 16) ?
	       wan->v6.targets[i] : a->host.wan6[w].gw, 16);
	memcpy(spec->src_addr6, a->host.wan6[w].addr, 16);
	return memcmp(spec->target6, zero, 16) != 0;
}

/* How many targets family fam of WAN w has: gateway6: auto alone probes the learned one. */
static int n_targets_of(const struct xwan_wan *wan, int fam)
{
	if (fam == F4)
		return wan->monitor.n_targets;
	return wan->v6.n_targets ? wan->v6.n_targets : wan->v6.gateway_auto;
}

/*
 * Both families probe with the WAN's monitor settings (interval, windows,
 * thresholds, method): one profile per WAN, IPv6 with its own targets.
 */
static int targets_open_fam(struct agent *a, int w, int fam)
{
	const struct xwan_wan *wan = &a->cfg->wans[w];
	const struct xwan_monitor_cfg *mc = &wan->monitor;
	struct agent_fam *f = &a->gw[w].f[fam];
	int n = n_targets_of(wan, fam);
	uint64_t now = now_ns();
	char err[256];

	if (!mc->enabled || a->host.wan_state[w] == XWAN_WAN_NO_IFACE ||
	    (fam == F4 && a->host.wan_state[w] != XWAN_WAN_OK) ||
	    (fam == F6 && wan6_state(a, w) != XWAN_WAN6_OK))
		return 0;
	for (int i = 0; i < n; i++) {
		struct agent_target *t = &f->t[f->n_targets];
		struct probe_spec spec = {
			.method = mc->method,
			.port = mc->port,
			.fwmark = xwan_gw_fwmark(a->cfg->fwmark_mask, wan->gw),
			.icmp_ident = (uint16_t)(ICMP_ID_BASE + w * XWAN_MAX_TARGETS + i),
		};

		if (!target_spec(a, w, fam, i, &spec))
			continue;       /* point-to-point: no next hop to probe */
		snprintf(spec.ifname, sizeof(spec.ifname), "%s", wan->interface);
		snprintf(spec.url, sizeof(spec.url), "%s", mc->url);
		t->a = a;
		if (health_init(&t->h, mc)) {
			logf_("gateway %s: out of memory", wan->name);
			return -ENOMEM;
		}
		t->probe = probe_create(&spec, a->epfd, on_reply, t, err, sizeof(err));
		if (!t->probe) {
			health_free(&t->h);
			logf_("gateway %s: cannot probe %s target %d: %s", wan->name,
			      fam == F6 ? "IPv6" : "IPv4", i, err);
			return -EINVAL;
		}
		/* Spread the first probes of a gateway's targets over one interval;
		 * IPv6's half an interval after IPv4's. */
		t->next_send = now + (uint64_t)mc->interval_ms * MS *
				     (uint64_t)(2 * i + (fam == F6)) / (uint64_t)(2 * n);
		f->n_targets++;
	}
	return 0;
}

static int targets_open(struct agent *a, int w)
{
	int rc = targets_open_fam(a, w, F4);

	return rc ? rc : targets_open_fam(a, w, F6);
}

/* The oldest outstanding probe's loss deadline, so it is counted on time. */
static uint64_t loss_deadline(const struct agent_target *t)
{
	const struct health_target *h = &t->h;

	for (uint32_t i = 0; i < h->count; i++) {
		const struct health_sample *s = &h->ring[(h->head + i) % h->cap];

		if (s->outcome == HEALTH_OUTSTANDING)
			return s->sent_ns + h->loss_interval_ns;
	}
	return UINT64_MAX;
}

static uint64_t send_due_probes(struct agent *a, uint64_t now)
{
	uint64_t next = now + NS;

	for (int w = 0; w < a->cfg->n_wans; w++) {
		const struct xwan_monitor_cfg *mc = &a->cfg->wans[w].monitor;
		uint64_t iv = (uint64_t)mc->interval_ms * MS;

		for (int fam = 0; fam < XWAN_FAMILIES; fam++)
		for (int i = 0; i < a->gw[w].f[fam].n_targets; i++) {
			struct agent_target *t = &a->gw[w].f[fam].t[i];
			uint64_t dl;

			if (now >= t->next_send) {
				t->seq++;
				health_sent(&t->h, t->seq, now);
				/* A send error is a lost probe: the rules count it. */
				if (probe_send(t->probe, t->seq, now) < 0 &&
				    a->cfg->wans[w].gw < XWAN_MAX_GATEWAYS)
					a->probe_errors[a->cfg->wans[w].gw]++;
				t->next_send += iv;
				if (t->next_send <= now)
					t->next_send = now + iv;
				a->dirty = true;
			}
			probe_expire(t->probe, now, (uint64_t)mc->loss_interval_ms * MS);
			dl = loss_deadline(t);
			if (dl <= now)
				a->dirty = true;
			if (t->next_send < next)
				next = t->next_send;
			if (dl < next)
				next = dl;
		}
	}
	return next;
}

/* ---- decisions ---- */

/*
 * Why family fam of WAN w cannot carry traffic whatever its probes say, ""
 * when nothing stands in the way: the operator's mark and the link hold for
 * both families; the host's address and gateway are per family.
 */
static const char *down_before_probes(const struct agent *a, int w, int fam)
{
	const struct agent_gw *g = &a->gw[w];

	if (g->maint)
		return g->maint_reason;
	if (fam == F4 && a->host.wan_state[w])
		return xwan_wan_state_reason(a->host.wan_state[w]);
	if (fam == F6 && a->host.wan_state[w] == XWAN_WAN_NO_IFACE)
		return xwan_wan_state_reason(a->host.wan_state[w]);
	if (!g->link_up)
		return "link down";
	if (fam == F6 && wan6_state(a, w) != XWAN_WAN6_OK)
		return xwan_wan6_state_reason(wan6_state(a, w));
	return "";
}

static struct gw_verdict evaluate_gw(struct agent *a, int w, int fam, uint64_t now,
				     char *reason, size_t len)
{
	const struct xwan_monitor_cfg *mc = &a->cfg->wans[w].monitor;
	const struct health_target *ptr[XWAN_MAX_TARGETS];
	struct agent_fam *f = &a->gw[w].f[fam];
	const char *why = down_before_probes(a, w, fam);
	struct gw_verdict v = {};
	int loss_ok = 0, lat_ok = 0;
	/* monitor.reliability is checked against IPv4's targets; IPv6 may have fewer. */
	int rel = fam == F6 && f->n_targets < mc->reliability ? f->n_targets : mc->reliability;

	if (*why) {
		v.status = GW_STATUS_DOWN;
		snprintf(reason, len, "%s", why);
		return v;
	}
	if (!mc->enabled || !f->n_targets) {
		v.status = GW_STATUS_ONLINE;
		snprintf(reason, len, "%s", mc->enabled ? fam == F6 ?
			 "not monitored (no next hop to probe: set monitor.targets6)" :
			 "not monitored (no next hop to probe: set monitor.targets)" :
			 "not monitored");
		return v;
	}
	for (int i = 0; i < f->n_targets; i++) {
		const struct health_stats *st = &f->t[i].h.stats;

		health_evaluate(&f->t[i].h, mc, now);
		ptr[i] = &f->t[i].h;
		if (f->t[i].h.status == GW_STATUS_PENDING)
			continue;
		loss_ok += !(st->loss_pct >= mc->loss_warning_pct && st->loss_pct > 0);
		lat_ok += !(st->rtt_ms >= mc->latency_warning_ms);
	}
	v.status = health_combine(ptr, f->n_targets, rel, reason, len);
	if (v.status != GW_STATUS_PENDING) {
		v.loss_alert = loss_ok < rel;
		v.latency_alert = lat_ok < rel;
	}
	return v;
}

static void member_of_default(const struct xwan_config *cfg, int w, uint8_t *tier,
			      uint8_t *weight)
{
	const struct xwan_group *g = &cfg->groups[cfg->default_group];

	*tier = 0;
	*weight = cfg->wans[w].weight;
	for (int i = 0; i < g->n_members; i++) {
		if (g->members[i].wan != w)
			continue;
		*tier = g->members[i].tier;
		*weight = (uint8_t)xwan_member_weight(cfg, &g->members[i]);
	}
}

/* The snapshot the HTTP and worker threads render (agent_metrics.c). */
static void publish_snapshot(struct agent *a)
{
	static struct agent_snapshot s;

	memset(&s, 0, sizeof(s));
	s.n_gw = a->cfg->n_wans;
	for (int w = 0; w < a->cfg->n_wans; w++) {
		const struct xwan_wan *wan = &a->cfg->wans[w];
		struct am_gateway *g = &s.gw[w];

		snprintf(g->name, sizeof(g->name), "%s", wan->name);
		snprintf(g->interface, sizeof(g->interface), "%s", wan->interface);
		inet_ntop(AF_INET, &a->host.wan_gw[w], g->nexthop, sizeof(g->nexthop));
		if (wan->gw < XWAN_MAX_GATEWAYS)
			g->probe_errors = a->probe_errors[wan->gw];
		g->maintenance = a->gw[w].maint;
		/* Both families' targets: an IPv6 one is named by its address. */
		for (int fam = 0; fam < XWAN_FAMILIES; fam++)
		for (int i = 0; i < a->gw[w].f[fam].n_targets; i++) {
			const struct agent_target *t = &a->gw[w].f[fam].t[i];
			const struct health_target *h = &t->h;
			struct am_target *at = &g->t[g->n_targets++];
			struct probe_spec spec = {};

			target_spec(a, w, fam, i, &spec);
			at->family = fam;
			if (fam == F6)
				inet_ntop(AF_INET6, spec.target6, at->addr, sizeof(at->addr));
			else
				inet_ntop(AF_INET, &wan->monitor.targets[i], at->addr,
					  sizeof(at->addr));
			at->rtt_s = h->stats.rtt_ms / 1e3;
			at->rttsd_s = h->stats.rttsd_ms / 1e3;
			at->loss_ratio = h->stats.loss_pct / 100;
			at->sent = h->sent_total;
			at->lost = h->lost_total;
		}
	}
	s.reloads_ok = a->reloads_ok;
	s.reloads_failed = a->reloads_failed;
	s.last_reload_unix = a->last_reload_unix;
	s.last_reload_ok = a->last_reload_ok;
	s.last_reload_s = a->last_reload_s;
	s.netlink_overflows = a->netlink_overflows;
	s.start_unix = a->start_unix;
	hooks_counts(a->hooks, &s.hooks);
	agent_metrics_publish(a->am, &s);
}

/* One point a second of the gateway's quality and throughput for the status
 * page, per family (IPv6's counters are gw_stats6). */
static void record_history(struct agent *a, int w, int fam, const struct gw_health *hl,
			   bool monitored)
{
	struct history_sample s = {
		.ipv6 = fam == F6,
		.monitored = monitored,
		.status = hl->status,
		.rtt_ms = hl->rtt_us / 1000.0,
		.rttsd_ms = hl->rttsd_us / 1000.0,
		.loss_pct = hl->loss_ppm / 10000.0,
	};
	struct gw_counters gc = {};

	if (!a->hist)
		return;
	if (!xwan_percpu_sum(a->maps.fd[fam == F6 ? XM_GW_STATS6 : XM_GW_STATS],
			     (__u32)a->cfg->wans[w].gw, (__u64 *)&gc, sizeof(gc))) {
		s.bytes_in = gc.bytes_in;
		s.bytes_out = gc.bytes_out;
	}
	history_add(a->hist, gw_name(a, w), hl->updated_unix, &s);
}

static void history_sink(void *ctx, uint64_t unix_s, const char *line)
{
	history_event(ctx, unix_s, line);
}

/* Family fam of WAN w as the views read it (gw_health, gw_health6); n: targets decided. */
static struct gw_health fam_health(struct agent *a, int w, int fam, int *n)
{
	struct agent_gw *g = &a->gw[w];
	struct agent_fam *f = &g->f[fam];
	struct gw_health hl = {
		.status = f->v.status,
		.usable = fam == F6 ? a->any6[w] : a->any[w],
		.link_up = g->link_up,
		.since_unix = f->since_unix,
		.updated_unix = (uint64_t)time(NULL),
		.transitions = f->transitions,
	};
	double rtt = 0, sd = 0, loss = 0;

	*n = 0;
	for (int i = 0; i < f->n_targets; i++) {
		const struct health_target *h = &f->t[i].h;

		hl.probes_sent += h->sent_total;
		hl.probes_lost += h->lost_total;
		if (h->status == GW_STATUS_PENDING)
			continue;
		rtt += h->stats.rtt_ms;
		sd += h->stats.rttsd_ms;
		loss += h->stats.loss_pct;
		(*n)++;
	}
	if (*n) {
		hl.rtt_us = (uint32_t)(rtt / *n * 1000);
		hl.rttsd_us = (uint32_t)(sd / *n * 1000);
		hl.loss_ppm = (uint32_t)(loss / *n * 10000);
	}
	snprintf(hl.reason, sizeof(hl.reason), "%s", f->reason);
	if (fam == F4) {
		hl.wan_addr = a->host.wan_addr[w].addr;
		hl.addr_plen = a->host.wan_addr[w].plen;
	} else {
		hl.addr_plen = a->host.wan6[w].plen;
	}
	member_of_default(a->cfg, w, &hl.tier, &hl.weight);
	return hl;
}

static void publish_health(struct agent *a)
{
	publish_snapshot(a);
	for (int w = 0; w < a->cfg->n_wans; w++) {
		__u32 key = (__u32)a->cfg->wans[w].gw;
		struct gw_health hl, none = {};
		int n;

		hl = fam_health(a, w, F4, &n);
		bpf_map_update_elem(a->maps.fd[XM_GW_HEALTH], &key, &hl, BPF_ANY);
		record_history(a, w, F4, &hl, n > 0);
		/* A WAN without gateway6 has no IPv6 row (updated_unix 0). */
		hl = failover_wan_has_family(a->cfg, w, F6) ? fam_health(a, w, F6, &n) : none;
		if (a->maps.fd[XM_GW_HEALTH6] >= 0)
			bpf_map_update_elem(a->maps.fd[XM_GW_HEALTH6], &key, &hl, BPF_ANY);
		if (hl.updated_unix && a->maps.fd[XM_GW_STATS6] >= 0)
			record_history(a, w, F6, &hl, n > 0);
	}
}

static void manage_default_route(struct agent *a)
{
	int w = failover_default_gateway(a->cfg, a->usable), rc;

	if (!a->cfg->manage_default_route || w < 0 || w == a->default_gw ||
	    (!a->host.wan_gw[w] && !a->host.wan[w].p2p))
		return;
	rc = nl_route_default(RT_TABLE_MAIN, a->host.wan_gw[w], a->host.wan[w].ifindex, true);
	if (rc) {
		logf_("cannot move the default route to %s: %s", gw_name(a, w), strerror(-rc));
		return;
	}
	logf_("default route now via %s", gw_name(a, w));
	a->default_gw = w;
}

static uint32_t group_mask_down_flush(const struct xwan_config *cfg)
{
	uint32_t mask = 0;

	for (int g = 0; g < cfg->n_groups; g++)
		if (cfg->groups[g].on_gateway_down == XWAN_ON_DOWN_FLUSH)
			mask |= 1U << g;
	return mask;
}

/* The flush walks the flow table: the worker does it, after the new choice is in. */
static void flush_gateway(struct agent *a, int w, uint32_t mask, const char *why)
{
	int resets = 0, n;

	/* The passive's copies follow the active's decisions, and its LAN is not its own. */
	if (!mask || ha_is_passive(a->ha))
		return;
	if (worker_post_flush(a->worker, a->cfg->wans[w].gw, mask, gw_name(a, w), why))
		return;
	n = xwan_flows_flush(&a->maps, a->cfg->wans[w].gw, mask, false, true, &resets);
	if (n < 0)
		logf_("gateway %s: cannot flush its flows: %s", gw_name(a, w), strerror(-n));
	else if (n)
		logf_("gateway %s: flushed %d flows (%d TCP clients reset): %s", gw_name(a, w), n,
		      resets, why);
}

/* IPv6's flows of WAN w: its IPv6 went down while its IPv4 may well be up. */
static void flush_gateway6(struct agent *a, int w, uint32_t mask, const char *why)
{
	int n;

	if (!mask || ha_is_passive(a->ha))
		return;
	if (worker_post_flush_family(a->worker, F6, a->cfg->wans[w].gw, mask, gw_name(a, w), why))
		return;
	n = xwan_flows6_flush(&a->maps, a->cfg->wans[w].gw, mask);
	if (n < 0)
		logf_("gateway %s (ipv6): cannot flush its flows: %s", gw_name(a, w), strerror(-n));
	else if (n)
		logf_("gateway %s (ipv6): flushed %d flows: %s", gw_name(a, w), n, why);
}

/* Groups with on_gateway_up: flush leave lower tiers as soon as a better one is back. */
static void flush_left_tiers(struct agent *a, const xwan_usable_t nu)
{
	const struct xwan_config *cfg = a->cfg;

	for (int g = 0; g < cfg->n_groups; g++) {
		const struct xwan_group *grp = &cfg->groups[g];
		int old_tier = xwan_group_active_tier(cfg, g, a->usable[g]);
		int new_tier = xwan_group_active_tier(cfg, g, nu[g]);

		if (grp->on_gateway_up != XWAN_ON_UP_FLUSH || !old_tier || !new_tier ||
		    new_tier >= old_tier)
			continue;
		for (int i = 0; i < grp->n_members; i++) {
			int w = grp->members[i].wan;

			if (grp->members[i].tier == old_tier && !nu[g][w])
				flush_gateway(a, w, 1U << g, "a better tier is back");
		}
	}
}

/*
 * Write the gateway choice of both families unless a reload holds the maps:
 * then it is installed (with the verdicts of that moment) as soon as the
 * reload ends; the loop never waits for it.
 */
static int install_locked(struct agent *a, const struct gw_verdict *v, xwan_usable_t nu,
			  const bool *any, const struct gw_verdict *v6, xwan_usable_t nu6,
			  const bool *any6)
{
	int rc;

	if (a->worker && !worker_maps_trylock(a->worker)) {
		a->install_pending = true;
		return 0;
	}
	rc = failover_install(a->cfg, &a->host, &a->maps, v, nu, any);
	if (!rc)
		rc = failover_install6(a->cfg, &a->host, &a->maps, v6, nu6, any6);
	if (a->worker)
		worker_maps_unlock(a->worker);
	return rc;
}

/* Each family's verdicts as they are now. */
static void verdicts_now(const struct agent *a, struct gw_verdict v[XWAN_FAMILIES][XWAN_MAX_GATEWAYS])
{
	for (int fam = 0; fam < XWAN_FAMILIES; fam++)
		for (int w = 0; w < a->cfg->n_wans; w++)
			v[fam][w] = a->gw[w].f[fam].v;
}

static void apply(struct agent *a, struct gw_verdict old[XWAN_FAMILIES][XWAN_MAX_GATEWAYS])
{
	static struct gw_verdict v[XWAN_FAMILIES][XWAN_MAX_GATEWAYS];
	static xwan_usable_t nu, nu6;
	bool any[XWAN_MAX_GATEWAYS], any6[XWAN_MAX_GATEWAYS];
	int rc;

	verdicts_now(a, v);
	failover_usable_family(a->cfg, F4, v[F4], nu, any);
	failover_usable_family(a->cfg, F6, v[F6], nu6, any6);
	rc = install_locked(a, v[F4], nu, any, v[F6], nu6, any6);
	if (rc)
		logf_("cannot install the new gateway choice: %s", strerror(-rc));
	for (int w = 0; w < a->cfg->n_wans; w++) {
		if (old[F4][w].status != GW_STATUS_DOWN && v[F4][w].status == GW_STATUS_DOWN)
			flush_gateway(a, w, group_mask_down_flush(a->cfg), "gateway down");
		if (failover_wan_has_family(a->cfg, w, F6) &&
		    old[F6][w].status != GW_STATUS_DOWN && v[F6][w].status == GW_STATUS_DOWN)
			flush_gateway6(a, w, group_mask_down_flush(a->cfg), "gateway down for ipv6");
	}
	flush_left_tiers(a, nu);
	memcpy(a->usable, nu, sizeof(nu));
	memcpy(a->any, any, sizeof(any));
	memcpy(a->usable6, nu6, sizeof(nu6));
	memcpy(a->any6, any6, sizeof(any6));
	manage_default_route(a);
	publish_health(a);
}

/* "isp1" for IPv4 (as ever), "isp1 (ipv6)" for IPv6: the log's name of a family. */
static const char *fam_label(const struct agent *a, int w, int fam, char *buf, size_t len)
{
	if (fam == F4)
		return gw_name(a, w);
	snprintf(buf, len, "%s (ipv6)", gw_name(a, w));
	return buf;
}

/* Down by the operator's mark or the host (not the link, not the probes). */
static bool held_down(const struct agent *a, int w, int fam)
{
	if (a->gw[w].maint || a->host.wan_state[w] == XWAN_WAN_NO_IFACE)
		return true;
	return fam == F4 ? a->host.wan_state[w] != XWAN_WAN_OK :
			   wan6_state(a, w) != XWAN_WAN6_OK;
}

/* One family of one WAN: true when its verdict (or its down reason) changed. */
static bool evaluate_fam(struct agent *a, int w, int fam, uint64_t now)
{
	struct agent_gw *g = &a->gw[w];
	struct agent_fam *f = &g->f[fam];
	char reason[HEALTH_REASON_MAX], name[XWAN_NAME_MAX + 8];
	struct gw_verdict v = evaluate_gw(a, w, fam, now, reason, sizeof(reason));
	bool changed = false;
	const char *who = fam_label(a, w, fam, name, sizeof(name));

	if (!failover_wan_has_family(a->cfg, w, fam))
		return false;
	if (f->adopted) {
		if (v.status == GW_STATUS_PENDING)
			return false;
		f->adopted = false;
	}
	if (v.status == GW_STATUS_DOWN && f->v.status == GW_STATUS_DOWN &&
	    (held_down(a, w, fam) || !strncmp(f->reason, "maintenance", 11)) &&
	    strcmp(reason, f->reason)) {
		/* Still down, for another reason (adopted, the host changed, a mark). */
		logf_("gateway %s: down (%s)", who, reason);
		snprintf(f->reason, sizeof(f->reason), "%s", reason);
		changed = true;         /* published now: xwan gateway waits for it */
	}
	if (v.status == f->v.status && v.loss_alert == f->v.loss_alert &&
	    v.latency_alert == f->v.latency_alert)
		return changed;
	if (v.status != f->v.status) {
		logf_("gateway %s: %s -> %s (%s)", who, health_status_name(f->v.status),
		      health_status_name(v.status), reason);
		f->transitions++;
		f->since_unix = (uint64_t)time(NULL);
		snprintf(f->reason, sizeof(f->reason), "%s", reason);
		hooks_gateway_change(a->hooks, &(struct hook_gateway_event){
			.gateway = gw_name(a, w), .interface = a->cfg->wans[w].interface,
			.old_status = health_status_name(f->v.status),
			.new_status = health_status_name(v.status), .reason = reason,
			.family = xwan_family_name(fam) }, now);
	}
	f->v = v;
	return true;
}

static void evaluate_all(struct agent *a, uint64_t now)
{
	static struct gw_verdict old[XWAN_FAMILIES][XWAN_MAX_GATEWAYS];
	bool changed = false;

	verdicts_now(a, old);
	for (int w = 0; w < a->cfg->n_wans; w++)
		for (int fam = 0; fam < XWAN_FAMILIES; fam++)
			changed |= evaluate_fam(a, w, fam, now);
	if (changed)
		apply(a, old);
}

/* ---- host changes ---- */

static int wan_of_ifindex(const struct agent *a, int ifindex)
{
	for (int w = 0; w < a->cfg->n_wans; w++)
		if (a->host.wan[w].ifindex == ifindex)
			return w;
	return -1;
}

/* Is ifindex, or the interface now under a configured name, one we attached? */
static bool configured_name(const struct agent *a, int ifindex)
{
	char name[IF_NAMESIZE];

	if (!if_indextoname((unsigned int)ifindex, name))
		return false;
	for (int i = 0; i < a->cfg->n_lans; i++)
		if (!strcmp(a->cfg->lans[i].interface, name))
			return a->att_lan[i] != ifindex;
	for (int w = 0; w < a->cfg->n_wans; w++)
		if (!strcmp(a->cfg->wans[w].interface, name))
			return a->att_wan[w] != ifindex;
	return false;
}

static void note_attached(struct agent *a)
{
	for (int i = 0; i < a->cfg->n_lans; i++)
		a->att_lan[i] = a->host.lan[i].ifindex;
	for (int w = 0; w < a->cfg->n_wans; w++)
		a->att_wan[w] = a->host.wan[w].ifindex;
}

/*
 * Interfaces that come and go: one re-created under a configured name (new
 * ifindex) is attached again; a WAN back up gets its routes back (the kernel
 * removed them with the link). Both through the reload path. A LAN set down
 * and up keeps its programs and the kernel restores its connected routes.
 */
static void relink_on_link(struct agent *a, int ifindex, int w, bool carrier)
{
	if (!carrier)
		return;
	if ((w >= 0 && !a->gw[w].link_up) || configured_name(a, ifindex)) {
		if (!a->relink)
			a->next_relink = 0;
		a->relink = true;
	}
}

/* Re-read the host once the burst of notifications this one belongs to is over. */
static void schedule_resync(struct agent *a)
{
	uint64_t now = now_ns();

	if (!a->resync)
		a->resync_first = now;
	a->resync = true;
	a->resync_at = now + RESYNC_QUIET_NS;
	if (a->resync_at > a->resync_first + RESYNC_MAX_WAIT_NS)
		a->resync_at = a->resync_first + RESYNC_MAX_WAIT_NS;
}

/* Any link: a WAN's carrier, or an interface a WAN names appearing or going. */
static void ev_link(void *ctx, int ifindex, bool carrier)
{
	struct agent *a = ctx;
	int w = wan_of_ifindex(a, ifindex);
	uint64_t now = now_ns();

	relink_on_link(a, ifindex, w, carrier);
	schedule_resync(a);
	if (w < 0 || a->gw[w].link_up == carrier)
		return;
	a->gw[w].link_up = carrier;
	if (!carrier)
		for (int fam = 0; fam < XWAN_FAMILIES; fam++)
			for (int i = 0; i < a->gw[w].f[fam].n_targets; i++)
				health_force_down(&a->gw[w].f[fam].t[i].h, "link down", now);
	a->dirty = true;
}

/*
 * A WAN's address removed is no reason to call it down yet: a lease renewed
 * with a new address is a RTM_NEWADDR and a RTM_DELADDR in either order. The
 * resync after the burst decides: a new address (flows flushed, the verdict
 * kept) or none left ("no address").
 */
static void ev_addr(void *ctx, int ifindex, uint32_t addr, bool added)
{
	struct agent *a = ctx;
	int w = wan_of_ifindex(a, ifindex);
	char s[INET_ADDRSTRLEN];

	if (w >= 0 && !added && addr == a->host.wan_addr[w].addr) {
		inet_ntop(AF_INET, &addr, s, sizeof(s));
		logf_("gateway %s: address %s removed from %s", gw_name(a, w), s,
		      a->cfg->wans[w].interface);
	}
	/* Any address change moves the host's own addresses: re-read them all. */
	schedule_resync(a);
	/* A re-created WAN waiting for its address can be attached now. */
	a->next_relink = 0;
}

static void ev_neigh(void *ctx, int ifindex, uint32_t addr, const uint8_t *mac, bool usable)
{
	struct agent *a = ctx;
	int w = wan_of_ifindex(a, ifindex);
	struct gw_neigh n = {};
	__u32 key;

	if (w < 0 || !addr || addr != a->host.wan_gw[w])
		return;
	if (usable)
		memcpy(n.mac, mac, 6);
	n.valid = usable;
	n.checked_ns = now_ns();
	key = (__u32)a->cfg->wans[w].gw;
	bpf_map_update_elem(a->maps.fd[XM_GW_NEIGH], &key, &n, BPF_ANY);
}

/* A default route changed somewhere: a gateway: auto WAN may have a new next hop. */
static void ev_default_route(void *ctx)
{
	schedule_resync(ctx);
}

/* IPv6 moved: a gateway6: auto WAN's RA-learned next hop, or a WAN's global address. */
static void ev_ipv6(void *ctx)
{
	schedule_resync(ctx);
}

static void ev_overflow(void *ctx)
{
	((struct agent *)ctx)->netlink_overflows++;
	struct agent *a = ctx;

	logf_("netlink notifications overflowed: re-reading links, addresses, routes and "
	      "neighbours");
	xwan_percpu_add(a->maps.fd[XM_EVENTS], EV_NETLINK_RESYNC, 1);
	a->full_resync = true;
	schedule_resync(a);
}

static const struct netevents_ops net_ops = {
	.link = ev_link,
	.addr = ev_addr,
	.neigh = ev_neigh,
	.default_route = ev_default_route,
	.ipv6 = ev_ipv6,
	.overflow = ev_overflow,
};

static void addr_str(uint32_t addr, char *out, size_t len)
{
	if (addr)
		inet_ntop(AF_INET, &addr, out, (socklen_t)len);
	else
		snprintf(out, len, "none");
}

/*
 * WAN w's address or next hop moved (a lease renewed with new values): its
 * flows were NATed to the old address or leave through the old next hop,
 * so they are flushed and their TCP clients reset, as on gateway down.
 */
static void wan_relearned(struct agent *a, int w, const struct xwan_host *h)
{
	struct agent_gw *g = &a->gw[w];
	uint32_t addr = xwan_nat_addr(a->cfg, h, w), gw = h->wan_gw[w];
	char o[INET_ADDRSTRLEN], n[INET_ADDRSTRLEN], og[INET_ADDRSTRLEN], ng[INET_ADDRSTRLEN];
	bool moved_addr = addr && g->nat_addr && addr != g->nat_addr;
	bool moved_gw = gw && g->nexthop && gw != g->nexthop;
	int flushed, resets = 0;

	if (moved_addr || moved_gw) {
		addr_str(g->nat_addr, o, sizeof(o));
		addr_str(addr, n, sizeof(n));
		addr_str(g->nexthop, og, sizeof(og));
		addr_str(gw, ng, sizeof(ng));
		logf_("gateway %s: address %s -> %s, next hop %s -> %s (%s)", gw_name(a, w), o, n,
		      og, ng, a->cfg->wans[w].gateway_auto ? "learned" : "configured");
		/* Port forwards and the host's own sessions on the old address too. */
		flushed = xwan_flows_flush(&a->maps, a->cfg->wans[w].gw, ~0U, true, true, &resets);
		if (flushed > 0)
			logf_("gateway %s: flushed %d flows (%d TCP clients reset): %s", gw_name(a, w),
			      flushed, resets, moved_addr ? "its address changed" : "its next hop changed");
		xwan_percpu_add(a->maps.fd[XM_EVENTS], EV_WAN_RELEARNED, 1);
	}
	if (addr)
		g->nat_addr = addr;
	if (gw)
		g->nexthop = gw;
}

/*
 * WAN w's IPv6 side as the host now has it: the next hop gateway6: auto
 * learned from the RA (another router, or none left), and why it cannot
 * carry IPv6. Said once per change; the probes of the new next hop decide
 * its verdict.
 */
static void wan6_relearned(struct agent *a, int w, const struct xwan_host *h)
{
	const struct xwan_wan6_facts *o = &a->host.wan6[w], *n = &h->wan6[w];
	char og[INET6_ADDRSTRLEN] = "none", ng[INET6_ADDRSTRLEN] = "none";
	static const uint8_t zero[16];

	if (!a->cfg->wans[w].v6.enabled)
		return;
	if (a->cfg->wans[w].v6.gateway_auto && memcmp(o->gw, n->gw, 16)) {
		if (memcmp(o->gw, zero, 16))
			inet_ntop(AF_INET6, o->gw, og, sizeof(og));
		if (memcmp(n->gw, zero, 16))
			inet_ntop(AF_INET6, n->gw, ng, sizeof(ng));
		logf_("gateway %s: IPv6 next hop %s -> %s (learned from the RA default route)",
		      gw_name(a, w), og, ng);
	}
	if (o->state != n->state)
		logf_("gateway %s: IPv6 %s", gw_name(a, w), n->state == XWAN_WAN6_OK ?
		      "usable on the host again" : xwan_wan6_state_reason(n->state));
	/* NAT66 flows leave from the address they were made with: a renumbered WAN's go. */
	if (a->cfg->wans[w].v6.nat == XWAN_NAT6_MASQUERADE && memcmp(o->addr, zero, 16) &&
	    memcmp(o->addr, n->addr, 16)) {
		inet_ntop(AF_INET6, o->addr, og, sizeof(og));
		snprintf(ng, sizeof(ng), "none");
		if (memcmp(n->addr, zero, 16))
			inet_ntop(AF_INET6, n->addr, ng, sizeof(ng));
		logf_("gateway %s: IPv6 address %s -> %s (nat6: masquerade)", gw_name(a, w), og, ng);
		flush_gateway6(a, w, ~0U, "its IPv6 address changed");
	}
}

/*
 * The host changed: re-read it, and re-evaluate every WAN that differs
 * (routes, MAC, probes, NAT address, usability). A WAN whose interface
 * appeared or was re-created is attached by a reload of the running config.
 */
static void resync(struct agent *a)
{
	struct xwan_host *h = calloc(1, sizeof(*h));
	struct xwan_runtime *rt = calloc(1, sizeof(*rt));
	static struct gw_verdict v[XWAN_FAMILIES][XWAN_MAX_GATEWAYS];
	uint8_t status[XWAN_MAX_GATEWAYS];
	bool changed[XWAN_MAX_GATEWAYS] = {}, full = a->full_resync;
	uint8_t was_state[XWAN_MAX_GATEWAYS], was_state6[XWAN_MAX_GATEWAYS];
	char err[512] = "";
	int rc;

	memcpy(was_state, a->host.wan_state, sizeof(was_state));
	for (int w = 0; w < a->cfg->n_wans; w++)
		was_state6[w] = wan6_state(a, w);
	a->resync = false;
	a->full_resync = false;
	if (a->reloading) {
		a->resync = true;       /* again once the reload is in */
		a->full_resync = full;
		goto out;
	}
	if (!h || !rt || xwan_runtime_read(&a->maps, rt)) {
		logf_("cannot re-read the host: out of memory or no runtime record");
		goto out;
	}
	if (xwan_host_gather(a->cfg, h, err, sizeof(err))) {
		logf_("cannot re-read the host: %s", err);
		goto out;
	}
	xwan_host_keep_learned(a->cfg, h, &a->host);
	for (int w = 0; w < a->cfg->n_wans; w++) {
		changed[w] = full || xwan_host_wan_changed(&a->host, h, w);
		if (!changed[w])
			continue;
		if (h->wan[w].ifindex && h->wan[w].ifindex != a->att_wan[w]) {
			a->relink = true;       /* attach it: an interface appeared */
			a->next_relink = 0;
		}
		if (h->wan_state[w] != a->host.wan_state[w])
			logf_("gateway %s: %s", gw_name(a, w), h->wan_state[w] ?
			      xwan_wan_state_reason(h->wan_state[w]) : "usable on the host again");
		wan_relearned(a, w, h);
		wan6_relearned(a, w, h);
		targets_close(a, w);
	}
	a->host = *h;
	for (int w = 0; w < a->cfg->n_wans; w++) {
		if (!changed[w])
			continue;
		a->gw[w].link_up = a->host.wan[w].up && a->host.wan[w].carrier;
		rc = xwan_wan_routes(a->cfg, &a->host, w, rt);
		if (rc)
			logf_("gateway %s: cannot set its routes: %s", gw_name(a, w), strerror(-rc));
		xwan_wan_neigh(&a->maps, a->cfg, &a->host, w, 0);
		targets_open(a, w);
		/* Usable before and after (a new address or next hop): the verdict
		 * stands until the new probes decide; per family. */
		a->gw[w].f[F4].adopted = !was_state[w] && !a->host.wan_state[w];
		a->gw[w].f[F6].adopted = was_state6[w] == XWAN_WAN6_OK &&
					 wan6_state(a, w) == XWAN_WAN6_OK;
		a->dirty = true;
	}
	xwan_runtime_write(&a->maps, rt);
	verdicts_now(a, v);
	for (int w = 0; w < a->cfg->n_wans; w++)
		status[w] = v[F4][w].status;
	if (a->worker && !worker_maps_trylock(a->worker)) {
		a->resync = true;       /* a reload holds the maps: again next round */
		goto out;
	}
	if (xwan_sync_all(a->cfg, &a->host, &a->maps, status, a->any, err, sizeof(err)) ||
	    failover_install(a->cfg, &a->host, &a->maps, v[F4], a->usable, a->any) ||
	    failover_install6(a->cfg, &a->host, &a->maps, v[F6], a->usable6, a->any6))
		logf_("cannot re-sync the maps: %s", err);
	if (a->worker)
		worker_maps_unlock(a->worker);
out:
	free(h);
	free(rt);
}

/* ---- signals, readiness ---- */

static void on_signal(struct loop_handler *h, uint32_t events)
{
	struct agent *a = (struct agent *)((char *)h - offsetof(struct agent, sig_h));
	struct signalfd_siginfo si;

	(void)events;
	while (read(a->sigfd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGHUP)
			a->reload = true;
		else if (si.ssi_signo == SIGUSR1)
			a->maint_check = true;
		else if (si.ssi_signo == SIGUSR2)
			a->gc_asked = true;
		else
			a->stop = true;
	}
}

static void sd_notify(const char *msg)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	socklen_t len;
	int fd;

	if (!path || !*path || strlen(path) >= sizeof(sa.sun_path))
		return;
	memcpy(sa.sun_path, path, strlen(path));
	if (sa.sun_path[0] == '@')
		sa.sun_path[0] = 0;
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path));
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	sendto(fd, msg, strlen(msg), 0, (struct sockaddr *)&sa, len);
	close(fd);
}

/* ---- start, adopt, reload ---- */

/*
 * A restarted agent takes over the running dataplane without touching a
 * flow, and applies its config as a reload does (rules, forwards, timeouts,
 * groups, policy, WANs added or gone): what changed while no agent ran
 * takes effect now.
 */
static int adopt(struct agent *a, char *err, size_t len)
{
	struct xwan_reload_result res;
	int rc;

	rc = xwan_reload(a->cfg, a->o->pin_dir, NULL, NULL, &res, err, len);
	if (!rc)
		rc = xwan_maps_open(a->o->pin_dir, &a->maps, err, len);
	if (rc)
		return rc;
	/* Keep every gateway as the last agent left it until probes say otherwise. */
	for (int w = 0; w < a->cfg->n_wans; w++) {
		struct gw_info gi = {};
		struct gw_health hl = {}, hl6 = {};
		__u32 key = (__u32)a->cfg->wans[w].gw;
		struct agent_fam *f4 = &a->gw[w].f[F4], *f6 = &a->gw[w].f[F6];

		bpf_map_lookup_elem(a->maps.fd[XM_GATEWAYS], &key, &gi);
		bpf_map_lookup_elem(a->maps.fd[XM_GW_HEALTH], &key, &hl);
		bpf_map_lookup_elem(a->maps.fd[XM_GW_HEALTH6], &key, &hl6);
		f4->v.status = gi.status < GW_STATUS_MAX ? gi.status : GW_STATUS_PENDING;
		f4->adopted = true;
		f4->since_unix = hl.since_unix;
		f4->transitions = hl.transitions;
		a->gw[w].nat_addr = gi.nat_addr;
		a->gw[w].nexthop = gi.nexthop;
		snprintf(f4->reason, sizeof(f4->reason), "%s", hl.reason);
		/* IPv6 as the last agent published it (nothing: pending). */
		f6->v.status = hl6.updated_unix && hl6.status < GW_STATUS_MAX ? hl6.status :
			       GW_STATUS_PENDING;
		f6->adopted = true;
		f6->since_unix = hl6.since_unix;
		f6->transitions = hl6.transitions;
		snprintf(f6->reason, sizeof(f6->reason), "%s", hl6.reason);
	}
	logf_("adopted the running dataplane (pinned in %s) and applied %s: %d WAN(s) added, "
	      "%d removed (%d flows flushed)", a->o->pin_dir, a->cfg->path, res.added,
	      __builtin_popcount(res.gone), res.flushed);
	return 0;
}

/*
 * One agent per dataplane: an exclusive flock on the pin directory, held
 * for the agent's life and released by the kernel when it dies.
 */
static int lock_pin_dir(struct agent *a, char *err, size_t len)
{
	struct xwan_runtime *rt;
	struct xwan_maps m;
	unsigned pid = 0;
	int rc = xwan_pin_dir_prepare(a->o->pin_dir, err, len);

	if (rc)
		return rc;
	a->lock_fd = open(a->o->pin_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (a->lock_fd < 0) {
		rc = -errno;
		snprintf(err, len, "cannot open the pin directory %s: %s", a->o->pin_dir,
			 strerror(errno));
		return rc;
	}
	if (flock(a->lock_fd, LOCK_EX | LOCK_NB) == 0)
		return 0;
	rc = -errno;
	rt = calloc(1, sizeof(*rt));
	if (rt && xwan_maps_open_partial(a->o->pin_dir, &m) == 0) {
		if (xwan_runtime_read(&m, rt) == 0)
			pid = rt->agent_pid;
		xwan_maps_close(&m);
	}
	free(rt);
	if (rc == -EWOULDBLOCK && pid)
		snprintf(err, len, "another xwan run (pid %u) already manages the dataplane "
			 "pinned in %s; stop it first (systemctl stop xwan, or kill %u), or use "
			 "xwan reload to change its config", pid, a->o->pin_dir, pid);
	else if (rc == -EWOULDBLOCK)
		snprintf(err, len, "another xwan run already manages the dataplane pinned in %s; "
			 "stop it first, or use xwan reload to change its config", a->o->pin_dir);
	else
		snprintf(err, len, "cannot lock the pin directory %s: %s", a->o->pin_dir,
			 strerror(-rc));
	return rc;
}

static int start(struct agent *a, char *err, size_t len)
{
	struct xwan_up_opts uo = { .allow_generic = a->o->allow_generic };
	static struct gw_verdict v[XWAN_FAMILIES][XWAN_MAX_GATEWAYS];
	char where[128];
	int rc;

	rc = lock_pin_dir(a, err, len);
	if (rc)
		return rc;
	if (xwan_is_running(a->o->pin_dir, where, sizeof(where)))
		rc = adopt(a, err, len);
	else
		rc = xwan_up(a->cfg, a->o->pin_dir, &uo, &a->maps, err, len);
	if (rc)
		return rc;
	rc = xwan_host_gather(a->cfg, &a->host, err, len);
	if (rc)
		return rc;
	note_attached(a);
	for (int w = 0; w < a->cfg->n_wans; w++) {
		a->gw[w].link_up = a->host.wan[w].up && a->host.wan[w].carrier;
		if (!a->gw[w].f[F4].adopted) {
			a->gw[w].f[F4].v.status = GW_STATUS_PENDING;
			a->gw[w].nat_addr = xwan_nat_addr(a->cfg, &a->host, w);
			a->gw[w].nexthop = a->host.wan_gw[w];
		}
		if (!a->gw[w].f[F6].adopted)
			a->gw[w].f[F6].v.status = GW_STATUS_PENDING;
		if (a->host.wan_state[w])
			logf_("gateway %s: down (%s) until it is usable", gw_name(a, w),
			      xwan_wan_state_reason(a->host.wan_state[w]));
		else if (failover_wan_has_family(a->cfg, w, F6) && wan6_state(a, w) != XWAN_WAN6_OK)
			logf_("gateway %s (ipv6): down (%s) until it is usable", gw_name(a, w),
			      xwan_wan6_state_reason(wan6_state(a, w)));
		rc = targets_open(a, w);
		if (rc) {
			snprintf(err, len, "cannot start probing %s", gw_name(a, w));
			return rc;
		}
	}
	verdicts_now(a, v);
	failover_usable_family(a->cfg, F4, v[F4], a->usable, a->any);
	failover_usable_family(a->cfg, F6, v[F6], a->usable6, a->any6);
	rc = failover_install(a->cfg, &a->host, &a->maps, v[F4], a->usable, a->any);
	if (!rc)
		rc = failover_install6(a->cfg, &a->host, &a->maps, v[F6], a->usable6, a->any6);
	if (rc) {
		snprintf(err, len, "cannot install the gateway choice: %s", strerror(-rc));
		return rc;
	}
	publish_health(a);
	return 0;
}

static struct xwan_config *read_config(const char *path, char *err, size_t len)
{
	struct xwan_config *cfg = calloc(1, sizeof(*cfg));

	if (!cfg) {
		snprintf(err, len, "out of memory");
		return NULL;
	}
	if (xwan_config_load(path, cfg, err, len) ||
	    xwan_config_check_system(cfg, XWAN_SYSCHECK_START, NULL, NULL, err, len) < 0) {
		free(cfg);
		return NULL;
	}
	return cfg;
}

static int wan_by_name(const struct xwan_config *cfg, const char *name, const char *ifname)
{
	for (int w = 0; w < cfg->n_wans; w++)
		if (!strcmp(cfg->wans[w].name, name) && !strcmp(cfg->wans[w].interface, ifname))
			return w;
	return -1;
}

/* The host as it is now, keeping what was learned and is only hidden for a moment. */
static void host_regather(struct agent *a)
{
	struct xwan_host *h = calloc(1, sizeof(*h));
	char err[512] = "";

	if (!h || xwan_host_gather(a->cfg, h, err, sizeof(err))) {
		logf_("cannot re-read the host: %s", h ? err : "out of memory");
		free(h);
		return;
	}
	xwan_host_keep_learned(a->cfg, h, &a->host);
	a->host = *h;
	free(h);
}

/* What the dataplane keeps of the running gateways (by name) for cfg. */
static void carry_over(const struct xwan_config *cur, const uint8_t *cur_status,
		       const bool *cur_any, const struct xwan_config *cfg, uint8_t *status,
		       bool *usable)
{
	for (int w = 0; w < cfg->n_wans; w++) {
		int old = wan_by_name(cur, cfg->wans[w].name, cfg->wans[w].interface);

		status[w] = old >= 0 ? cur_status[old] : GW_STATUS_PENDING;
		usable[w] = old >= 0 ? cur_any[old] : true;
	}
}

/*
 * The dataplane runs cfg now: the agent switches to it (cfg becomes a->cfg).
 * Gateways it keeps keep their status (until fresh probes decide).
 */
static void switch_config(struct agent *a, struct xwan_config *cfg,
			  const struct xwan_reload_result *res, const char *what)
{
	static struct agent_gw next[XWAN_MAX_GATEWAYS];
	static struct gw_verdict v[XWAN_FAMILIES][XWAN_MAX_GATEWAYS];
	int w, old;

	memset(next, 0, sizeof(next));
	for (w = 0; w < cfg->n_wans; w++) {
		old = wan_by_name(a->cfg, cfg->wans[w].name, cfg->wans[w].interface);
		if (old >= 0) {
			/* The verdicts and their history, not the probes (closed below). */
			for (int fam = 0; fam < XWAN_FAMILIES; fam++) {
				const struct agent_fam *of = &a->gw[old].f[fam];
				struct agent_fam *nf = &next[w].f[fam];

				nf->v = of->v;
				nf->adopted = true;
				nf->since_unix = of->since_unix;
				nf->transitions = of->transitions;
				memcpy(nf->reason, of->reason, sizeof(nf->reason));
			}
			next[w].link_up = a->gw[old].link_up;
			next[w].nat_addr = a->gw[old].nat_addr;
			next[w].nexthop = a->gw[old].nexthop;
			next[w].maint = a->gw[old].maint;
			memcpy(next[w].maint_reason, a->gw[old].maint_reason,
			       sizeof(next[w].maint_reason));
		} else {
			next[w].f[F4].v.status = GW_STATUS_PENDING;
			next[w].f[F6].v.status = GW_STATUS_PENDING;
			next[w].link_up = true;
		}
	}
	for (w = 0; w < a->cfg->n_wans; w++)
		targets_close(a, w);
	free(a->cfg);
	a->cfg = cfg;
	hooks_configure(a->hooks, cfg->hooks.on_gateway_change, cfg->hooks.timeout_ms);
	if (a->hist) {
		const char *names[XWAN_MAX_GATEWAYS];

		for (w = 0; w < cfg->n_wans; w++)
			names[w] = cfg->wans[w].name;
		history_retain(a->hist, names, cfg->n_wans);
	}
	if (a->ha)
		ha_config_changed(a->ha, cfg, &a->host);
	memcpy(a->gw, next, sizeof(next));
	host_regather(a);
	note_attached(a);
	for (w = 0; w < cfg->n_wans; w++) {
		/* The kernel's word on the link, not what it was before a re-attach. */
		a->gw[w].link_up = a->host.wan[w].up && a->host.wan[w].carrier;
		if (!a->gw[w].f[F4].adopted) {
			a->gw[w].nat_addr = xwan_nat_addr(a->cfg, &a->host, w);
			a->gw[w].nexthop = a->host.wan_gw[w];
		}
		targets_open(a, w);
	}
	verdicts_now(a, v);
	failover_usable_family(cfg, F4, v[F4], a->usable, a->any);
	failover_usable_family(cfg, F6, v[F6], a->usable6, a->any6);
	a->install_pending = false;
	if (install_locked(a, v[F4], a->usable, a->any, v[F6], a->usable6, a->any6))
		logf_("%s: cannot install the gateway choice", what);
	a->default_gw = -1;
	manage_default_route(a);
	publish_health(a);
	logf_("%s %s: %d WAN(s) added, %d removed (%d flows flushed, %d TCP clients reset)",
	      what, a->o->config_path, res->added, __builtin_popcount(res->gone), res->flushed,
	      res->resets);
}

/*
 * Install cfg on the running dataplane, here on the loop (it becomes a->cfg,
 * or is freed): gateways it keeps keep their status and their flows; gone
 * ones are flushed. what names the cause in the log; a quiet failure (an
 * interface back without its address yet) is retried later.
 */
static int apply_config(struct agent *a, struct xwan_config *cfg, const char *what, bool quiet)
{
	struct xwan_reload_result res;
	uint8_t cur[XWAN_MAX_GATEWAYS], status[XWAN_MAX_GATEWAYS];
	bool usable[XWAN_MAX_GATEWAYS];
	char err[1024] = "";
	int rc;

	for (int w = 0; w < a->cfg->n_wans; w++)
		cur[w] = a->gw[w].f[F4].v.status;
	carry_over(a->cfg, cur, a->any, cfg, status, usable);
	if (a->worker && !worker_maps_trylock(a->worker)) {
		free(cfg);
		return -1;
	}
	rc = xwan_reload(cfg, a->o->pin_dir, status, usable, &res, err, sizeof(err));
	if (a->worker)
		worker_maps_unlock(a->worker);
	if (rc) {
		static char last[sizeof(err)];

		if (!quiet)
			logf_("%s failed halfway (%s); restart the agent to be sure of the state",
			      what, err);
		else if (strcmp(last, err))
			logf_("%s: not yet (%s); retrying", what, err);
		snprintf(last, sizeof(last), "%s", err);
		free(cfg);
		return -1;
	}
	switch_config(a, cfg, &res, what);
	return 0;
}

/*
 * SIGHUP: the file's new config. Reading it and changing the dataplane
 * (which may flush a removed WAN's flows and wait for neighbours) run on the
 * worker; the loop keeps probing with the old config meanwhile, then
 * switches in reload_done().
 */
struct reload_job {
	struct worker_job j;
	struct agent *a;                /* read-only on the worker: a->cfg, a->o */
	uint8_t old_status[XWAN_MAX_GATEWAYS];
	bool old_any[XWAN_MAX_GATEWAYS];
	struct xwan_config *cfg;        /* the new config, NULL: rejected */
	struct xwan_reload_result res;
	int rc;
	char err[1024];
};

static void reload_run(struct worker_job *j, struct worker *wk)
{
	struct reload_job *r = (struct reload_job *)j;
	uint8_t status[XWAN_MAX_GATEWAYS];
	bool usable[XWAN_MAX_GATEWAYS];

	r->cfg = read_config(r->a->o->config_path, r->err, sizeof(r->err));
	if (!r->cfg)
		return;
	/* a->cfg is replaced only on the loop, by reload_done() and relink(),
	 * neither of which runs while this job is in flight. */
	carry_over(r->a->cfg, r->old_status, r->old_any, r->cfg, status, usable);
	if (wk)
		worker_maps_lock(wk);
	r->rc = xwan_reload(r->cfg, r->a->o->pin_dir, status, usable, &r->res, r->err,
			    sizeof(r->err));
	if (wk)
		worker_maps_unlock(wk);
}

static void sd_notify(const char *msg);

static void reload_done(struct worker_job *j)
{
	struct reload_job *r = (struct reload_job *)j;
	struct agent *a = r->a;

	a->reloading = false;
	a->last_reload_unix = (uint64_t)time(NULL);
	a->last_reload_s = (double)(now_ns() - a->reload_posted_ns) / NS;
	a->last_reload_ok = r->cfg && !r->rc;
	if (a->last_reload_ok)
		a->reloads_ok++;
	else
		a->reloads_failed++;
	if (!r->cfg) {
		logf_("reload rejected, running config kept: %s", r->err);
	} else if (r->rc) {
		logf_("reload failed halfway (%s); restart the agent to be sure of the state",
		      r->err);
		free(r->cfg);
	} else {
		switch_config(a, r->cfg, &r->res, "reloaded");
	}
	if (a->install_pending) {
		static struct gw_verdict cur[XWAN_FAMILIES][XWAN_MAX_GATEWAYS];

		/* Verdicts as they are now: no transition, so nothing more is flushed. */
		verdicts_now(a, cur);
		a->install_pending = false;
		apply(a, cur);
	}
	if (a->reload_again) {
		a->reload_again = false;
		a->reload = true;
	} else {
		sd_notify("READY=1\n");      /* `systemctl reload` returns now */
	}
	free(r);
}

static void reload(struct agent *a)
{
	struct reload_job *r;

	a->reload = false;
	if (a->reloading) {
		a->reload_again = true;         /* a SIGHUP during a reload: once more after */
		return;
	}
	r = calloc(1, sizeof(*r));
	if (!r) {
		logf_("reload: out of memory");
		return;
	}
	r->j.run = reload_run;
	r->j.done = reload_done;
	r->a = a;
	for (int w = 0; w < a->cfg->n_wans; w++) {
		r->old_status[w] = a->gw[w].f[F4].v.status;
		r->old_any[w] = a->any[w];
	}
	a->reloading = true;
	a->reload_posted_ns = now_ns();
	{
		char msg[64];

		/* systemd holds `systemctl reload` until READY=1 (reload_done). */
		snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%llu\n",
			 (unsigned long long)(a->reload_posted_ns / 1000));
		sd_notify(msg);
	}
	if (!worker_post(a->worker, &r->j)) {
		/* No worker (it failed to start): do it here, as before. */
		reload_run(&r->j, NULL);
		reload_done(&r->j);
	}
}

/*
 * An interface came back: the running config again, so it is attached,
 * routed and probed like at start; retried every RELINK_RETRY_NS (and on
 * every address event) until it applies.
 */
#define RELINK_RETRY_NS (250 * MS)
static void relink(struct agent *a, uint64_t now)
{
	struct xwan_config *cfg = malloc(sizeof(*cfg));
	struct xwan_host *h = malloc(sizeof(*h));
	static char waiting[512];
	char err[512];
	bool ready;

	a->relink = false;
	if (a->reloading) {
		/* The reload re-attaches too; and two writers must not overlap. */
		free(cfg);
		free(h);
		a->relink = true;
		a->next_relink = now + RELINK_RETRY_NS;
		return;
	}
	if (!cfg || !h) {
		free(cfg);
		free(h);
		return;
	}
	/* Not every interface usable yet: touch nothing (probes keep their windows). */
	ready = xwan_host_gather(a->cfg, h, err, sizeof(err)) == 0;
	free(h);
	if (!ready && strcmp(waiting, err))
		logf_("re-attach waits: %s", err);
	snprintf(waiting, sizeof(waiting), "%s", ready ? "" : err);
	memcpy(cfg, a->cfg, sizeof(*cfg));
	if (!ready)
		free(cfg);
	if (!ready || apply_config(a, cfg, "re-attached interfaces of", true)) {
		a->relink = true;
		a->next_relink = now + RELINK_RETRY_NS;
	}
}

/* Tell `xwan reload` which process owns the maps now (0: nobody). */
static void runtime_set_agent(struct agent *a, uint32_t pid)
{
	struct xwan_runtime *rt = calloc(1, sizeof(*rt));

	if (!rt)
		return;
	if (xwan_runtime_read(&a->maps, rt) == 0) {
		rt->agent_pid = pid;
		xwan_runtime_write(&a->maps, rt);
	}
	free(rt);
}

/* ---- the loop ---- */

/* systemd's WatchdogSec: WATCHDOG_USEC (and WATCHDOG_PID, if set, is us). */
static void watchdog_setup(struct agent *a)
{
	const char *usec = getenv("WATCHDOG_USEC"), *pid = getenv("WATCHDOG_PID");
	unsigned long long v = usec ? strtoull(usec, NULL, 10) : 0;

	if (!v || (pid && strtol(pid, NULL, 10) != (long)getpid()))
		return;
	a->watchdog_ns = v * 1000;
	a->next_watchdog = 0;
	logf_("systemd watchdog: fed every %.1f s from the probing loop", v / 2e6);
}

static bool metrics_counts(void *ctx, struct xwan_flow_counts *c)
{
	return worker_counts(ctx, c);
}

/* The operator's maintenance marks, by gateway name; a change is decided at once. */
static void maint_refresh(struct agent *a)
{
	for (int w = 0; w < a->cfg->n_wans && a->maint_fd >= 0; w++) {
		struct agent_gw *g = &a->gw[w];
		struct maint_entry e;
		bool on = maint_get(a->maint_fd, gw_name(a, w), &e);
		char r[HEALTH_REASON_MAX] = "";

		if (on)
			maint_reason(&e, r, sizeof(r));
		if (on == g->maint && !strcmp(r, g->maint_reason))
			continue;
		if (on)
			logf_("gateway %s: marked down by the operator (%s)", gw_name(a, w), r);
		else
			logf_("gateway %s: maintenance over; the probes decide again", gw_name(a, w));
		g->maint = on;
		snprintf(g->maint_reason, sizeof(g->maint_reason), "%s", r);
		g->f[F4].adopted = false;       /* the mark decides now, not the adopted state */
		g->f[F6].adopted = false;
		a->dirty = true;
	}
}

/*
 * `xwan gc` on an HA router: the sweep runs here, where the flows it
 * deletes reach the peer (ha.c hears of them); from the CLI's process they
 * would not. Synchronous: the CLI waits for the count (ha_status).
 */
static void asked_gc(struct agent *a)
{
	int n = xwan_flows_gc(&a->maps);

	if (n < 0)
		logf_("xwan gc: flow table sweep failed: %s", strerror(-n));
	else
		logf_("xwan gc: removed %d expired flows", n);
	if (a->ha)
		ha_gc_done(a->ha, n);
}

/* Sweeps and textfile writes go to the worker; one of each at a time. */
static void housekeeping(struct agent *a, uint64_t now)
{
	int n, rc;

	if (now >= a->next_gc) {
		if (!worker_post_gc(a->worker, &a->gc_in_flight)) {
			n = xwan_flows_gc(&a->maps);
			if (n < 0)
				logf_("flow table sweep failed: %s", strerror(-n));
		}
		a->next_gc = now + GC_INTERVAL_NS;
	}
	if (a->o->textfile && now >= a->next_textfile) {
		if (!worker_post_textfile(a->worker, a->o->textfile, &a->textfile_in_flight)) {
			rc = metrics_write_textfile(a->o->textfile, &a->maps, NULL,
						    agent_metrics_write, a->am);
			if (rc)
				logf_("cannot write %s: %s", a->o->textfile, strerror(-rc));
		}
		a->next_textfile = now + TEXTFILE_INTERVAL;
	}
	if (now >= a->next_paths) {
		char what[256];

		n = devpath_refresh(&a->maps, what, sizeof(what));
		if (n > 0)
			logf_("XDP transmit paths changed: %s", what);
		a->next_paths = now + PATHS_INTERVAL;
	}
	if (now >= a->next_publish) {
		maint_refresh(a);       /* a mark written without the signal (agent restarting) */
		publish_health(a);
		a->next_publish = now + PUBLISH_INTERVAL;
	}
}

static void loop(struct agent *a)
{
	struct epoll_event ev[32];

	while (!a->stop) {
		uint64_t now = now_ns(), next;
		int timeout, n;

		next = send_due_probes(a, now);
		if (a->dirty) {
			a->dirty = false;
			evaluate_all(a, now);
		}
		if (a->maint_check) {
			a->maint_check = false;
			maint_refresh(a);
		}
		if (a->gc_asked) {
			a->gc_asked = false;
			asked_gc(a);
		}
		housekeeping(a, now);
		if (a->resync && now >= a->resync_at)
			resync(a);
		if (a->reload)
			reload(a);
		if (a->relink && now_ns() >= a->next_relink)
			relink(a, now_ns());
		if (a->resync && a->resync_at < next)
			next = a->resync_at;
		now = now_ns();
		if (a->relink && a->next_relink < next)
			next = a->next_relink;
		/* The watchdog is fed by the loop itself: it stops if the loop does. */
		if (a->watchdog_ns && now >= a->next_watchdog) {
			sd_notify("WATCHDOG=1\n");
			a->next_watchdog = now + a->watchdog_ns / 2;
		}
		if (a->watchdog_ns && a->next_watchdog < next)
			next = a->next_watchdog;
		if (a->ha) {
			uint64_t h = ha_tick(a->ha, now);

			next = h < next ? h : next;
		}
		{
			uint64_t hk = hooks_tick(a->hooks, now);     /* reap, kill overdue */

			next = hk < next ? hk : next;
		}
		timeout = next > now ? (int)((next - now + MS - 1) / MS) : 0;
		n = epoll_wait(a->epfd, ev, 32, timeout);
		for (int i = 0; i < n; i++) {
			struct loop_handler *h = ev[i].data.ptr;

			h->fn(h, ev[i].events);
		}
		a->dirty = true;
	}
}

static int agent_ha_open(struct agent *a, char *err, size_t len)
{
	a->ha = calloc(1, sizeof(*a->ha));
	if (!a->ha) {
		snprintf(err, len, "out of memory");
		return -ENOMEM;
	}
	return ha_open(a->ha, a->cfg, &a->host, &a->maps, a->epfd, err, len);
}

int agent_run(const struct agent_opts *o)
{
	struct agent *a = calloc(1, sizeof(*a));
	char err[1024];
	sigset_t mask;
	int rc = 1;

	if (!a) {
		fprintf(stderr, "xwan: out of memory\n");
		return 1;
	}
	a->o = o;
	a->am = agent_metrics_new();
	a->hist = history_new();
	if (a->hist)
		agent_log_sink(history_sink, a->hist);     /* before any thread starts */
	a->start_unix = (uint64_t)time(NULL);
	a->default_gw = -1;
	a->lock_fd = -1;
	a->maint_fd = -1;
	xwan_maps_init(&a->maps);
	a->epfd = epoll_create1(EPOLL_CLOEXEC);
	a->cfg = read_config(o->config_path, err, sizeof(err));
	if (!a->cfg) {
		fprintf(stderr, "%s\n", err);
		goto out;
	}
	a->hooks = hooks_new();
	hooks_configure(a->hooks, a->cfg->hooks.on_gateway_change, a->cfg->hooks.timeout_ms);

	/* Block before any thread starts, so only the signalfd sees them. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGUSR1);      /* `xwan gateway down|up` */
	sigaddset(&mask, SIGUSR2);      /* `xwan gc` with ha: */
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	a->sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	a->sig_h.fn = on_signal;
	if (a->epfd < 0 || a->sigfd < 0 || loop_add(a->epfd, a->sigfd, EPOLLIN, &a->sig_h)) {
		fprintf(stderr, "xwan: cannot set up the event loop: %s\n", strerror(errno));
		goto out;
	}
	if (start(a, err, sizeof(err))) {
		fprintf(stderr, "xwan: %s\n", err);
		goto out;
	}
	a->worker = worker_start(&a->maps, a->epfd, err, sizeof(err));
	worker_set_extra(a->worker, agent_metrics_write, a->am);
	if (!a->worker)
		logf_("warning: %s; sweeps and reloads run on the probing loop", err);
	if (netevents_open(&a->ne, a->epfd, &net_ops, a))
		logf_("warning: no netlink notifications (%s); link changes wait for the probes",
		      strerror(errno));
	if (a->cfg->metrics_listen[0]) {
		struct http_ui ui = { .hist = a->hist };

		snprintf(ui.token, sizeof(ui.token), "%s", a->cfg->metrics_token);
		a->metrics = metrics_start(a->cfg->metrics_listen, &a->maps, metrics_counts, a->worker,
					   agent_metrics_write, a->am, &ui, err, sizeof(err));
		if (!a->metrics)
			logf_("warning: %s; metrics are still in `xwan stats`", err);
		else
			logf_("metrics on http://%s/metrics, status page on http://%s/",
			      a->cfg->metrics_listen, a->cfg->metrics_listen);
	}
	if (a->cfg->ha.enabled && agent_ha_open(a, err, sizeof(err))) {
		fprintf(stderr, "xwan: %s\n", err);
		goto out;
	}
	a->maint_fd = maint_open(o->pin_dir, err, sizeof(err));
	if (a->maint_fd < 0)
		logf_("warning: %s; xwan gateway down|up will not apply", err);
	maint_refresh(a);
	runtime_set_agent(a, (uint32_t)getpid());
	watchdog_setup(a);
	sd_notify("READY=1\n");
	logf_("monitoring %d gateways", a->cfg->n_wans);
	/* After the worker and HTTP threads exist: they stay ordinary (rt.h). */
	if (agent_rt_enter(err, sizeof(err)))
		logf_("warning: %s", err);
	loop(a);
	sd_notify("STOPPING=1\n");
	runtime_set_agent(a, 0);
	rc = 0;
	if (o->detach_on_exit) {
		if (xwan_down(o->pin_dir, false, err, sizeof(err)) < 0) {
			fprintf(stderr, "xwan: %s\n", err);
			rc = 1;
		}
	} else {
		logf_("exiting; the dataplane keeps forwarding with its last state");
	}
out:
	if (a->ha)
		ha_close(a->ha);
	free(a->ha);
	metrics_stop(a->metrics);
	worker_stop(a->worker);
	agent_metrics_free(a->am);
	hooks_free(a->hooks);
	agent_log_sink(NULL, NULL);     /* every thread that logs is gone */
	history_free(a->hist);
	netevents_close(&a->ne);
	if (a->cfg)
		for (int w = 0; w < a->cfg->n_wans; w++)
			targets_close(a, w);
	xwan_maps_close(&a->maps);
	if (a->sigfd > 0)
		close(a->sigfd);
	if (a->lock_fd >= 0)
		close(a->lock_fd);
	if (a->maint_fd >= 0)
		close(a->maint_fd);
	if (a->epfd >= 0)
		close(a->epfd);
	free(a->cfg);
	free(a);
	return rc;
}
