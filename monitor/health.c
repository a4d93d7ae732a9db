// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Loss, latency and status of a probe target: see health.h. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "monitor/health.h"

#define NS_PER_MS 1000000ULL

static uint64_t ms_ns(uint32_t ms)
{
	return (uint64_t)ms * NS_PER_MS;
}

static struct health_sample *at(const struct health_target *t, uint32_t i)
{
	return &t->ring[(t->head + i) % t->cap];
}

static void set_reason(struct health_target *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void set_reason(struct health_target *t, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(t->reason, sizeof(t->reason), fmt, ap);
	va_end(ap);
}

static void decide(struct health_target *t, struct health_sample *s,
		   enum health_outcome o, uint64_t now)
{
	s->outcome = o;
	if (o == HEALTH_ANSWERED)
		s->rtt_ns = now > s->sent_ns ? now - s->sent_ns : 0;
	else
		t->lost_total++;
	if (t->decided < UINT32_MAX)
		t->decided++;
}

/* Drop the n oldest samples; those still outstanding count as lost. */
static void drop_oldest(struct health_target *t, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		if (at(t, i)->outcome == HEALTH_OUTSTANDING)
			t->lost_total++;
	t->head = (t->head + n) % t->cap;
	t->count -= n;
}

int health_init(struct health_target *t, const struct xwan_monitor_cfg *cfg)
{
	uint64_t iv = cfg->interval_ms ? cfg->interval_ms : 1;
	uint64_t streak = cfg->up_after > cfg->down_after ? cfg->up_after
							   : cfg->down_after;
	uint64_t win = cfg->window_ms / iv;
	uint64_t cap = (win > streak ? win : streak) +
		       cfg->loss_interval_ms / iv + 8;

	memset(t, 0, sizeof(*t));
	t->cap = cap < HEALTH_RING_MAX ? (uint32_t)cap : HEALTH_RING_MAX;
	t->ring = calloc(t->cap, sizeof(*t->ring));
	if (!t->ring)
		return -1;
	t->loss_interval_ns = ms_ns(cfg->loss_interval_ms);
	health_reset(t);
	return 0;
}

void health_free(struct health_target *t)
{
	free(t->ring);
	t->ring = NULL;
	t->cap = t->count = 0;
}

void health_reset(struct health_target *t)
{
	t->head = t->count = 0;
	t->status = GW_STATUS_PENDING;
	set_reason(t, "no probe answered or lost yet");
	t->down_ns = 0;
	t->decided = 0;
	memset(&t->stats, 0, sizeof(t->stats));
}

void health_expire(struct health_target *t, uint64_t now)
{
	/* Samples are in send order: stop at the first one too young. */
	for (uint32_t i = 0; i < t->count; i++) {
		struct health_sample *s = at(t, i);

		if (now < s->sent_ns || now - s->sent_ns < t->loss_interval_ns)
			break;
		if (s->outcome == HEALTH_OUTSTANDING)
			decide(t, s, HEALTH_LOST, now);
	}
}

void health_sent(struct health_target *t, uint16_t seq, uint64_t now)
{
	struct health_sample *s;

	health_expire(t, now);
	if (t->count == t->cap)
		drop_oldest(t, 1);
	s = at(t, t->count++);
	*s = (struct health_sample){ .sent_ns = now, .seq = seq,
				     .outcome = HEALTH_OUTSTANDING };
	t->sent_total++;
}

bool health_reply(struct health_target *t, uint16_t seq, uint64_t now)
{
	health_expire(t, now);
	/* Newest first: after a seq wrap the newest probe is the one. */
	for (uint32_t i = t->count; i-- > 0;) {
		struct health_sample *s = at(t, i);

		if (s->seq != seq)
			continue;
		if (s->outcome != HEALTH_OUTSTANDING)
			return false;   /* duplicate, or lost already */
		decide(t, s, HEALTH_ANSWERED, now);
		return true;
	}
	return false;
}

/*
 * The window. A window shorter than loss_interval + 2 intervals would hold
 * no decided probe, hiding every loss: it is stretched to that.
 */
static uint64_t window_ns(const struct xwan_monitor_cfg *cfg)
{
	uint64_t w = ms_ns(cfg->window_ms);
	uint64_t min = ms_ns(cfg->loss_interval_ms) +
		       2 * ms_ns(cfg->interval_ms);

	return w > min ? w : min;
}

static void compute_stats(const struct health_target *t, uint64_t win,
			  uint64_t now, struct health_stats *st)
{
	double sum = 0, var = 0, mean;

	memset(st, 0, sizeof(*st));
	for (uint32_t i = 0; i < t->count; i++) {
		const struct health_sample *s = at(t, i);

		if (now - s->sent_ns >= win)
			continue;
		if (s->outcome == HEALTH_ANSWERED) {
			st->answered++;
			sum += (double)s->rtt_ns / NS_PER_MS;
		} else if (s->outcome == HEALTH_LOST) {
			st->lost++;
		} else {
			st->outstanding++;
		}
	}
	if (st->answered + st->lost)
		st->loss_pct = 100.0 * st->lost / (st->answered + st->lost);
	if (!st->answered)
		return;
	mean = sum / st->answered;
	for (uint32_t i = 0; i < t->count; i++) {
		const struct health_sample *s = at(t, i);
		double d = (double)s->rtt_ns / NS_PER_MS - mean;

		if (now - s->sent_ns < win && s->outcome == HEALTH_ANSWERED)
			var += d * d;
	}
	st->rtt_ms = mean;
	st->rttsd_ms = sqrt(var / st->answered);
}

/*
 * Length of the run of the newest decided probes that are all lost
 * (good == false) or all answered within latency_down (good == true), and
 * sent at or after `since`. Outstanding probes newer than every decided one
 * are skipped; an older outstanding probe ends the run. *first gets the
 * ring position of the oldest probe of the run.
 */
static uint32_t run_length(const struct health_target *t, bool good,
			   uint64_t latency_down_ns, uint64_t since,
			   uint32_t *first)
{
	uint32_t run = 0;

	for (uint32_t i = t->count; i-- > 0;) {
		const struct health_sample *s = at(t, i);
		bool match = good ? s->outcome == HEALTH_ANSWERED &&
				    s->rtt_ns < latency_down_ns
				  : s->outcome == HEALTH_LOST;

		if (s->sent_ns < since)
			break;
		if (s->outcome == HEALTH_OUTSTANDING && !run)
			continue;
		if (!match)
			break;
		run++;
		if (first)
			*first = i;
	}
	return run;
}

static unsigned int whole(double v)
{
	return (unsigned int)floor(v);
}

/*
 * Status from the window statistics alone, with its reason. Returns
 * PENDING when the window holds no decided probe.
 */
static enum gw_status window_status(const struct health_stats *st,
				    const struct xwan_monitor_cfg *cfg,
				    char *reason, size_t len)
{
	bool rtt = st->answered > 0;

	if (!st->answered && !st->lost) {
		snprintf(reason, len, "no probe decided in the window");
		return GW_STATUS_PENDING;
	}
	if (st->loss_pct >= cfg->loss_down_pct) {
		snprintf(reason, len, "loss %u%% >= %u%%", whole(st->loss_pct),
			 cfg->loss_down_pct);
		return GW_STATUS_DOWN;
	}
	if (rtt && st->rtt_ms >= cfg->latency_down_ms) {
		snprintf(reason, len, "rtt %ums >= %ums", whole(st->rtt_ms),
			 cfg->latency_down_ms);
		return GW_STATUS_DOWN;
	}
	if (st->loss_pct > 0 && st->loss_pct >= cfg->loss_warning_pct) {
		snprintf(reason, len, "loss %u%% >= %u%%", whole(st->loss_pct),
			 cfg->loss_warning_pct);
		return GW_STATUS_WARNING;
	}
	if (rtt && st->rtt_ms >= cfg->latency_warning_ms) {
		snprintf(reason, len, "rtt %ums >= %ums", whole(st->rtt_ms),
			 cfg->latency_warning_ms);
		return GW_STATUS_WARNING;
	}
	snprintf(reason, len, "loss %u%%, rtt %ums", whole(st->loss_pct),
		 whole(st->rtt_ms));
	return GW_STATUS_ONLINE;
}

static bool set_status(struct health_target *t, enum gw_status s,
		       const char *reason, uint64_t now)
{
	if (s == t->status)
		return false;
	if (s == GW_STATUS_DOWN)
		t->down_ns = now;
	t->status = s;
	snprintf(t->reason, sizeof(t->reason), "%s", reason);
	return true;
}

/* DOWN: back up after up_after good probes, from a window of just those. */
static bool evaluate_down(struct health_target *t,
			  const struct xwan_monitor_cfg *cfg, uint64_t now)
{
	char why[HEALTH_REASON_MAX], detail[64];
	uint32_t first = 0;
	uint32_t run = run_length(t, true, ms_ns(cfg->latency_down_ms),
				  t->down_ns, &first);
	enum gw_status s;

	if (run < cfg->up_after)
		return false;
	drop_oldest(t, first);
	t->decided = run;
	compute_stats(t, window_ns(cfg), now, &t->stats);
	s = window_status(&t->stats, cfg, detail, sizeof(detail));
	if (s == GW_STATUS_WARNING)
		snprintf(why, sizeof(why), "%u consecutive good probes; %s",
			 run, detail);
	else
		snprintf(why, sizeof(why), "%u consecutive good probes", run);
	return set_status(t, s, why, now);
}

bool health_evaluate(struct health_target *t,
		     const struct xwan_monitor_cfg *cfg, uint64_t now)
{
	char why[HEALTH_REASON_MAX];
	uint32_t lost_run;
	enum gw_status s;

	health_expire(t, now);
	compute_stats(t, window_ns(cfg), now, &t->stats);
	if (t->status == GW_STATUS_DOWN)
		return evaluate_down(t, cfg, now);

	lost_run = cfg->down_after ? run_length(t, false, 0, 0, NULL) : 0;
	if (cfg->down_after && lost_run >= cfg->down_after) {
		snprintf(why, sizeof(why), "%u consecutive probes lost",
			 lost_run);
		return set_status(t, GW_STATUS_DOWN, why, now);
	}
	if (t->decided < cfg->up_after)
		return false;   /* still PENDING */
	s = window_status(&t->stats, cfg, why, sizeof(why));
	if (s == GW_STATUS_PENDING)
		return false;   /* nothing in the window: keep what we had */
	return set_status(t, s, why, now);
}

bool health_force_down(struct health_target *t, const char *reason,
		       uint64_t now)
{
	bool changed = t->status != GW_STATUS_DOWN;

	t->status = GW_STATUS_DOWN;
	t->down_ns = now;
	snprintf(t->reason, sizeof(t->reason), "%s", reason);
	return changed;
}

const char *health_status_name(enum gw_status s)
{
	switch (s) {
	case GW_STATUS_PENDING: return "pending";
	case GW_STATUS_ONLINE:  return "online";
	case GW_STATUS_WARNING: return "warning";
	case GW_STATUS_DOWN:    return "down";
	default:                return "unknown";
	}
}

enum gw_status health_combine(const struct health_target *const targets[],
			      int n, int reliability,
			      char *reason, size_t reasonlen)
{
	int online = 0, up = 0, decided = 0, worst = -1;
	enum gw_status s;

	for (int i = 0; i < n; i++) {
		enum gw_status ts = targets[i]->status;

		online += ts == GW_STATUS_ONLINE;
		up += ts == GW_STATUS_ONLINE || ts == GW_STATUS_WARNING;
		decided += ts != GW_STATUS_PENDING;
	}
	if (online >= reliability)
		s = GW_STATUS_ONLINE;
	else if (up >= reliability)
		s = GW_STATUS_WARNING;
	else if (decided >= reliability)
		s = GW_STATUS_DOWN;
	else
		s = GW_STATUS_PENDING;

	/* The first target that keeps the gateway from being better. */
	for (int i = 0; i < n && worst < 0; i++)
		if (s != GW_STATUS_PENDING && targets[i]->status == s)
			worst = i;

	if (n == 1) {
		snprintf(reason, reasonlen, "%s", targets[0]->reason);
	} else if (s == GW_STATUS_PENDING) {
		snprintf(reason, reasonlen, "%d of %d targets decided, %d "
			 "needed", decided, n, reliability);
	} else if (s == GW_STATUS_ONLINE) {
		snprintf(reason, reasonlen, "%d of %d targets online, %d "
			 "needed", online, n, reliability);
	} else if (s == GW_STATUS_WARNING) {
		snprintf(reason, reasonlen, "%d of %d targets online, %d "
			 "needed; targets[%d]: %s", online, n, reliability,
			 worst, targets[worst]->reason);
	} else {
		snprintf(reason, reasonlen, "%d of %d targets up, %d needed; "
			 "targets[%d]: %s", up, n, reliability, worst,
			 targets[worst]->reason);
	}
	return s;
}
