/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * What the status page draws and lists, kept by the agent in memory:
 * per gateway, its quality (rtt, rtt deviation, loss, status) and
 * throughput for the last hour at one point a second (the probe loop's
 * publishing tick), and for the last day at one point a minute (means, and
 * the worst rtt and loss of the minute); and the agent's last events
 * (transitions, flushes, reloads: its log lines).
 *
 * Every buffer is a fixed-size ring allocated once per gateway and address
 * family: memory is bounded by history_bytes_per_gateway() times the
 * series (at most HISTORY_SERIES: a WAN with gateway6 has two), plus the
 * event ring.
 *
 * The event loop writes; the HTTP threads read. A reader copies what it
 * needs under the mutex (a memcpy, microseconds) and renders outside it,
 * so a page never holds the loop for longer than that.
 */
#ifndef XWAN_MONITOR_HISTORY_H
#define XWAN_MONITOR_HISTORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define HISTORY_FINE_POINTS   3600      /* one a second: an hour */
#define HISTORY_COARSE_POINTS 1440      /* one a minute: a day */
#define HISTORY_COARSE_S      60
#define HISTORY_EVENTS        512
#define HISTORY_EVENT_LEN     240
/* A gateway's IPv4 series and its IPv6 one (issue 13); XWAN_MAX_GATEWAYS
 * (bpf/xwan_types.h) is the user's to include. */
#define HISTORY_SERIES        (2 * XWAN_MAX_GATEWAYS)

/* One reading of a gateway, as the loop has it at a tick. */
struct history_sample {
	bool ipv6;              /* the gateway's IPv6 side: a series of its own */
	bool monitored;         /* false: no rtt or loss (pending, not probed) */
	uint8_t status;         /* enum gw_status */
	double rtt_ms, rttsd_ms, loss_pct;
	uint64_t bytes_in, bytes_out;   /* the gateway's byte counters (monotonic) */
};

/* One point of a series; rates in bits per second; rtt < 0: none. */
struct history_point {
	uint32_t t;             /* unix seconds (a coarse point: its minute's start) */
	uint8_t status;         /* the worst of the point's readings */
	uint8_t pad[3];
	float rtt_ms, rttsd_ms, loss_pct;
	float rtt_max_ms, loss_max_pct; /* coarse: the minute's worst; fine: as rtt, loss */
	float in_bps, out_bps;
};

struct history;

struct history *history_new(void);
void history_free(struct history *h);

/* Bytes one gateway's rings take (fine + coarse): the bound per gateway. */
size_t history_bytes_per_gateway(void);

/*
 * Record gateway `name`'s reading at unix second t (s->ipv6: of its IPv6
 * side, a series of its own). A second reading in the
 * same second replaces the first; the first reading of a minute closes the
 * last minute's coarse point. Throughput is the counters' change since the
 * last reading (0 after a counter reset). Returns -ENOMEM or -ENOSPC (more
 * than HISTORY_SERIES series).
 */
int history_add(struct history *h, const char *name, uint64_t t,
		const struct history_sample *s);

/* Forget every gateway not in names (a reload removed it). */
void history_retain(struct history *h, const char *const *names, int n);

/* Append one event (a log line) stamped t; its kind is guessed from its text. */
void history_event(struct history *h, uint64_t t, const char *line);

/* "transition", "flush", "reload", "address" or "info". */
const char *history_event_kind(const char *line);

/*
 * JSON for /api/history: {"range":"hour"|"day","step_s":N,"gateways":[{"name","family",
 * "points":[[t,rtt,rttsd,loss,rtt_max,loss_max,in_bps,out_bps,status],...]}]}
 * Only points newer than `since` (unix s, 0: all); gateway NULL: all.
 * Returns -ENOENT for an unknown gateway.
 */
int history_write_json(struct history *h, FILE *out, bool day, const char *gateway,
		       uint64_t since);

/* JSON for /api/events: {"next":SEQ,"events":[{"seq","t","kind","text"},...]}, oldest
 * first, those with seq >= since, the last `limit` of them. */
int history_events_json(struct history *h, FILE *out, uint64_t since, int limit);

#endif /* XWAN_MONITOR_HISTORY_H */
