/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Gateway health: loss, latency and status of one probe target, kept from
 * the probes sent to it and the replies that came back (dpinger / mwan3track
 * semantics). Pure: no I/O, no clock reads; every time is a CLOCK_MONOTONIC
 * value in nanoseconds passed in by the caller, and must never go backwards.
 *
 * Life of a probe, as the agent drives it:
 *   health_sent(t, seq, now)     a probe left; it is *outstanding*
 *   health_reply(t, seq, now)    its reply came: *answered*, rtt = now - sent
 *   health_expire(t, now)        outstanding for loss_interval: *lost*
 *   health_evaluate(t, cfg, now) recompute the window and the status
 * A reply that comes loss_interval or more after its probe was sent is too
 * late: the probe stays lost. Unknown and duplicate replies are ignored.
 *
 * Window statistics (over the probes *sent* within the last window_ms;
 * outstanding probes are not counted):
 *   loss  = lost / (answered + lost), in percent
 *   rtt   = mean round-trip time of the answered probes, in ms
 *   rttsd = their population standard deviation, in ms
 * A window shorter than loss_interval + 2 intervals would never hold a
 * lost probe; it is stretched to that length.
 *
 * Status (enum gw_status) of one target, decided by health_evaluate:
 *   PENDING  until up_after probes were decided (answered or lost) since
 *            health_init or health_reset;
 *   DOWN     if loss >= loss_down_pct or rtt >= latency_down_ms, or, when
 *            down_after > 0, as soon as the last down_after decided probes
 *            were all lost, whatever the window says;
 *   WARNING  else if loss >= loss_warning_pct (and loss > 0) or
 *            rtt >= latency_warning_ms;
 *   ONLINE   else.
 * Hysteresis: once DOWN (by the rules above or by health_force_down), a
 * target stays DOWN until up_after consecutive *good* probes, i.e. answered
 * with rtt < latency_down_ms, all sent after it went down. At that moment
 * the window is cleared of everything sent before the first of those good
 * probes, and the status is recomputed from what is left (so ONLINE, or
 * WARNING on latency). Without that reset, the losses of a 30 s outage would
 * keep the target DOWN for up to a whole window after the link came back.
 * The price: a link that keeps losing more than loss_down_pct but often
 * answers up_after probes in a row goes DOWN and back up repeatedly;
 * raise up_after for such links.
 *
 * "Consecutive" is in the order the probes were sent: the last probes still
 * in flight are skipped; before them, an outstanding probe older than an
 * answered one breaks a run (it may yet be lost).
 *
 * Numbers in reasons are rounded down, so "loss 20% >= 20%" is true as
 * printed and "rtt 499ms < 500ms" never reads "500ms < 500ms".
 */
#ifndef XWAN_HEALTH_H
#define XWAN_HEALTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "loader/config.h"

#define HEALTH_REASON_MAX 128
/*
 * The ring holds the probes of one window plus those in flight, and at
 * least max(up_after, down_after) + 8 probes, but never more than this:
 * with tiny intervals and huge windows the window is in effect the last
 * HEALTH_RING_MAX probes.
 */
#define HEALTH_RING_MAX   8192

enum health_outcome {
	HEALTH_OUTSTANDING = 0,
	HEALTH_ANSWERED    = 1,
	HEALTH_LOST        = 2,
};

struct health_sample {
	uint64_t sent_ns;
	uint64_t rtt_ns;            /* HEALTH_ANSWERED only */
	uint16_t seq;
	uint8_t  outcome;           /* enum health_outcome */
};

struct health_stats {
	double   loss_pct;          /* 0 when nothing decided in the window */
	double   rtt_ms;            /* 0 when nothing answered in the window */
	double   rttsd_ms;
	uint32_t answered;          /* in the window */
	uint32_t lost;
	uint32_t outstanding;
};

/* Read any field; change them only through the functions below. */
struct health_target {
	/* Samples in send order: oldest at ring[head], count of them. */
	struct health_sample *ring;
	uint32_t cap, head, count;
	uint64_t loss_interval_ns;  /* from the cfg given to health_init */

	enum gw_status status;
	char reason[HEALTH_REASON_MAX]; /* why status is what it is */
	uint64_t down_ns;           /* when it last went DOWN */
	uint32_t decided;           /* decided since init/reset (saturates) */
	struct health_stats stats;  /* as of the last health_evaluate */

	uint64_t sent_total;        /* since health_init */
	uint64_t lost_total;
};

/*
 * Allocate the ring for cfg's interval, loss interval and window. Status
 * PENDING. Returns 0, or -1 with errno = ENOMEM.
 */
int  health_init(struct health_target *t, const struct xwan_monitor_cfg *cfg);
void health_free(struct health_target *t);

/* Forget every probe; PENDING again (totals are kept). */
void health_reset(struct health_target *t);

/*
 * A probe with this seq was sent at now. Expires first. When the ring is
 * full the oldest probe is dropped, counted as lost if still outstanding.
 */
void health_sent(struct health_target *t, uint16_t seq, uint64_t now);

/*
 * The reply to seq arrived at now. Returns true when it answered an
 * outstanding probe; false for an unknown seq, a duplicate, or a reply that
 * came loss_interval or more after the probe (that probe is lost).
 */
bool health_reply(struct health_target *t, uint16_t seq, uint64_t now);

/* Outstanding probes sent loss_interval or more before now become lost. */
void health_expire(struct health_target *t, uint64_t now);


/*
 * Expire, recompute t->stats over cfg's window, apply the status rules.
 * cfg must be the one given to health_init. Returns true when t->status
 * changed; t->reason then says why, e.g. "loss 35% >= 20%",
 * "rtt 612ms >= 500ms", "3 consecutive probes lost",
 * "3 consecutive good probes".
 */
bool health_evaluate(struct health_target *t,
		     const struct xwan_monitor_cfg *cfg, uint64_t now);

/*
 * The link went down or lost its address: DOWN now, with this reason
 * (copied). Recovery then needs up_after good probes sent after now.
 * Returns true when the status changed.
 */
bool health_force_down(struct health_target *t, const char *reason,
		       uint64_t now);

/*
 * The gateway's status from its n targets' statuses, given that
 * `reliability` of them (1..n) must be up (mwan3 `reliability`):
 *   ONLINE  if at least reliability targets are ONLINE,
 *   WARNING else if at least reliability are ONLINE or WARNING,
 *   DOWN    else if at least reliability are decided (not PENDING),
 *   PENDING else (too few targets have an opinion yet).
 * In other words, the best status that at least `reliability` targets reach
 * or beat. A one-line explanation goes to reason (HEALTH_REASON_MAX bytes is
 * enough): the target's own reason when n is 1, else e.g.
 * "2 of 3 targets online, 2 needed" or
 * "1 of 3 targets up, 2 needed; targets[1]: loss 35% >= 20%" (the first
 * target in the combined status, indexed as in the config).
 */
enum gw_status health_combine(const struct health_target *const targets[],
			      int n, int reliability,
			      char *reason, size_t reasonlen);

const char *health_status_name(enum gw_status s);

#endif /* XWAN_HEALTH_H */
