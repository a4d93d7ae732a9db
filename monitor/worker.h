/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The agent's worker thread: everything that may take seconds at a million
 * flows (flow sweeps, flushes, textfile writes, reloads) runs here, so the
 * event loop that times the probes and decides failovers never waits for it.
 *
 * Jobs run one at a time, in the order posted. A job's `run` executes on the
 * worker thread and must touch only what the job carries (and the worker's
 * own map fds); its `done`, if any, is called back on the event loop's thread
 * (through an eventfd in the loop's epoll set) once run has returned, so it
 * may update the agent's state.
 *
 * The gateway choice (slot tables, gateway flags) has two writers: the loop
 * (failover) and a reload. worker_maps_lock() serialises them; the loop only
 * ever try-locks, deferring its install instead of waiting.
 */
#ifndef XWAN_MONITOR_WORKER_H
#define XWAN_MONITOR_WORKER_H

#include <stdbool.h>

#include "loader/flows.h"
#include "loader/maps.h"
#include "loader/stats.h"
#include "monitor/loop.h"

struct worker;

struct worker_job {
	void (*run)(struct worker_job *j, struct worker *w);     /* worker thread */
	void (*done)(struct worker_job *j);                       /* loop thread, may free j */
	struct worker_job *next;
};

/* Start the thread with its own dups of m; its completion eventfd joins epfd. */
struct worker *worker_start(const struct xwan_maps *m, int epfd, char *err, size_t errlen);

/* Finish the job running, drop the queued ones (their done is not called). */
void worker_stop(struct worker *w);

/* Queue j; false if the worker is gone (j not taken). */
bool worker_post(struct worker *w, struct worker_job *j);

/* The worker's own map fds, for run(). */
const struct xwan_maps *worker_maps(struct worker *w);

/* Latest flow counts (from the last sweep); false if none yet. Any thread. */
bool worker_counts(struct worker *w, struct xwan_flow_counts *out);
void worker_set_counts(struct worker *w, const struct xwan_flow_counts *c);

/* The agent's own block for the textfile (as /metrics has it). */
void worker_set_extra(struct worker *w, xwan_metrics_extra extra, void *ctx);

void worker_maps_lock(struct worker *w);
bool worker_maps_trylock(struct worker *w);
void worker_maps_unlock(struct worker *w);

/* Common jobs. Each allocates its job; done frees it. */
bool worker_post_gc(struct worker *w, bool *in_flight);
bool worker_post_textfile(struct worker *w, const char *path, bool *in_flight);
bool worker_post_flush(struct worker *w, int gw, uint32_t group_mask, const char *gw_name,
		       const char *why);
/* The flows of one address family (XWAN_FAM_*): families fail over apart. */
bool worker_post_flush_family(struct worker *w, int family, int gw, uint32_t group_mask,
			      const char *gw_name, const char *why);

#endif /* XWAN_MONITOR_WORKER_H */
