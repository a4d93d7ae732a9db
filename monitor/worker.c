// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include "monitor/worker.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "loader/flows6.h"
#include "monitor/failover.h"
#include "monitor/log.h"
#include "monitor/metrics.h"
#include "monitor/rt.h"

struct worker {
	struct xwan_maps maps;
	pthread_t thread;
	bool started, stopping;
	pthread_mutex_t lock;           /* queue, done list, counts */
	pthread_cond_t wake;
	struct worker_job *queue, **queue_tail;
	struct worker_job *done;        /* finished, for the loop */
	struct xwan_flow_counts counts;
	bool have_counts;
	pthread_mutex_t maps_lock;
	xwan_metrics_extra extra;
	void *extra_ctx;
	int efd;
	struct loop_handler h;
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;

	/*
	 * Linux nice values are per thread: a sweep that keeps this thread busy
	 * for seconds yields the CPU to the probing loop whenever it wants it.
	 */
	if (setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 10))
		agent_log("worker: cannot lower its priority: %s", strerror(errno));
	pthread_mutex_lock(&w->lock);
	for (;;) {
		struct worker_job *j;

		while (!w->queue && !w->stopping)
			pthread_cond_wait(&w->wake, &w->lock);
		if (w->stopping)
			break;
		j = w->queue;
		w->queue = j->next;
		if (!w->queue)
			w->queue_tail = &w->queue;
		pthread_mutex_unlock(&w->lock);
		j->run(j, w);
		pthread_mutex_lock(&w->lock);
		j->next = w->done;
		w->done = j;
		pthread_mutex_unlock(&w->lock);
		/*
		 * Outside the lock: the write wakes the real-time loop, which
		 * preempts us at once and takes the lock to collect the job.
		 */
		if (eventfd_write(w->efd, 1))
			agent_log("worker: cannot wake the event loop: %s", strerror(errno));
		pthread_mutex_lock(&w->lock);
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

/* On the loop: call done of every finished job, oldest first. */
static void on_done(struct loop_handler *h, uint32_t events)
{
	struct worker *w = (struct worker *)((char *)h - offsetof(struct worker, h));
	struct worker_job *list, *rev = NULL;
	eventfd_t v;

	(void)events;
	if (eventfd_read(w->efd, &v) && errno != EAGAIN)
		return;
	pthread_mutex_lock(&w->lock);
	list = w->done;
	w->done = NULL;
	pthread_mutex_unlock(&w->lock);
	while (list) {
		struct worker_job *n = list->next;

		list->next = rev;
		rev = list;
		list = n;
	}
	while (rev) {
		struct worker_job *n = rev->next;

		if (rev->done)
			rev->done(rev);
		else
			free(rev);
		rev = n;
	}
}

struct worker *worker_start(const struct xwan_maps *m, int epfd, char *err, size_t errlen)
{
	struct worker *w = calloc(1, sizeof(*w));

	if (!w) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	xwan_maps_init(&w->maps);
	for (int i = 0; i < XM_COUNT; i++)
		w->maps.fd[i] = m->fd[i] >= 0 ? dup(m->fd[i]) : -1;
	agent_pi_mutex_init(&w->lock);
	agent_pi_mutex_init(&w->maps_lock);
	pthread_cond_init(&w->wake, NULL);
	w->queue_tail = &w->queue;
	w->h.fn = on_done;
	w->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (w->efd < 0 || loop_add(epfd, w->efd, EPOLLIN, &w->h) ||
	    pthread_create(&w->thread, NULL, worker_main, w)) {
		snprintf(err, errlen, "cannot start the worker thread: %s", strerror(errno));
		worker_stop(w);
		return NULL;
	}
	w->started = true;
	return w;
}

void worker_stop(struct worker *w)
{
	if (!w)
		return;
	pthread_mutex_lock(&w->lock);
	w->stopping = true;
	pthread_cond_signal(&w->wake);
	pthread_mutex_unlock(&w->lock);
	if (w->started)
		pthread_join(w->thread, NULL);
	for (struct worker_job *lists[2] = { w->queue, w->done }, *j; lists[0] || lists[1];) {
		int k = lists[0] ? 0 : 1;

		j = lists[k];
		lists[k] = j->next;
		free(j);
	}
	if (w->efd >= 0)
		close(w->efd);
	xwan_maps_close(&w->maps);
	pthread_mutex_destroy(&w->lock);
	pthread_mutex_destroy(&w->maps_lock);
	pthread_cond_destroy(&w->wake);
	free(w);
}

bool worker_post(struct worker *w, struct worker_job *j)
{
	bool ok;

	if (!w)
		return false;
	j->next = NULL;
	pthread_mutex_lock(&w->lock);
	ok = !w->stopping;
	if (ok) {
		*w->queue_tail = j;
		w->queue_tail = &j->next;
		pthread_cond_signal(&w->wake);
	}
	pthread_mutex_unlock(&w->lock);
	return ok;
}

const struct xwan_maps *worker_maps(struct worker *w)
{
	return &w->maps;
}

bool worker_counts(struct worker *w, struct xwan_flow_counts *out)
{
	bool have;

	if (!w)
		return false;
	pthread_mutex_lock(&w->lock);
	have = w->have_counts;
	if (have)
		*out = w->counts;
	pthread_mutex_unlock(&w->lock);
	return have;
}

void worker_set_counts(struct worker *w, const struct xwan_flow_counts *c)
{
	pthread_mutex_lock(&w->lock);
	w->counts = *c;
	w->have_counts = true;
	pthread_mutex_unlock(&w->lock);
}

void worker_set_extra(struct worker *w, xwan_metrics_extra extra, void *ctx)
{
	if (!w)
		return;
	w->extra = extra;       /* before any textfile job is posted */
	w->extra_ctx = ctx;
}

void worker_maps_lock(struct worker *w)
{
	pthread_mutex_lock(&w->maps_lock);
}

bool worker_maps_trylock(struct worker *w)
{
	return pthread_mutex_trylock(&w->maps_lock) == 0;
}

void worker_maps_unlock(struct worker *w)
{
	pthread_mutex_unlock(&w->maps_lock);
}

/* ---- common jobs ---- */

struct flag_job {
	struct worker_job j;
	bool *in_flight;        /* the loop's "already queued" flag, cleared by done */
	char path[4096];
};

static void flag_done(struct worker_job *j)
{
	struct flag_job *f = (struct flag_job *)j;

	if (f->in_flight)
		*f->in_flight = false;
	free(f);
}

static bool post_flag_job(struct worker *w, void (*run)(struct worker_job *, struct worker *),
			  const char *path, bool *in_flight)
{
	struct flag_job *f;

	if (*in_flight)
		return true;    /* the last one is still queued or running: coalesce */
	f = calloc(1, sizeof(*f));
	if (!f)
		return false;
	f->j.run = run;
	f->j.done = flag_done;
	f->in_flight = in_flight;
	if (path)
		snprintf(f->path, sizeof(f->path), "%s", path);
	*in_flight = true;
	if (!worker_post(w, &f->j)) {
		*in_flight = false;
		free(f);
		return false;
	}
	return true;
}

static void run_gc(struct worker_job *j, struct worker *w)
{
	struct xwan_flow_counts c;
	int n = xwan_flows_gc_counted(&w->maps, &c);

	(void)j;
	if (n < 0)
		agent_log("flow table sweep failed: %s", strerror(-n));
	else
		worker_set_counts(w, &c);
}

bool worker_post_gc(struct worker *w, bool *in_flight)
{
	return post_flag_job(w, run_gc, NULL, in_flight);
}

static void run_textfile(struct worker_job *j, struct worker *w)
{
	struct flag_job *f = (struct flag_job *)j;
	struct xwan_flow_counts c;
	int rc;

	rc = metrics_write_textfile(f->path, &w->maps, worker_counts(w, &c) ? &c : NULL,
				    w->extra, w->extra_ctx);
	if (rc)
		agent_log("cannot write %s: %s", f->path, strerror(-rc));
}

bool worker_post_textfile(struct worker *w, const char *path, bool *in_flight)
{
	return post_flag_job(w, run_textfile, path, in_flight);
}

struct flush_job {
	struct worker_job j;
	int gw;
	uint32_t mask;
	char name[64], why[96];
};

static void run_flush(struct worker_job *j, struct worker *w)
{
	struct flush_job *f = (struct flush_job *)j;
	int resets = 0, n = xwan_flows_flush(&w->maps, f->gw, f->mask, false, true, &resets);

	if (n < 0)
		agent_log("gateway %s: cannot flush its flows: %s", f->name, strerror(-n));
	else if (n)
		agent_log("gateway %s: flushed %d flows (%d TCP clients reset): %s", f->name, n,
			  resets, f->why);
}

/* IPv6 flows are not reset: rst.c crafts IPv4 resets only. */
static void run_flush6(struct worker_job *j, struct worker *w)
{
	struct flush_job *f = (struct flush_job *)j;
	int n = xwan_flows6_flush(&w->maps, f->gw, f->mask);

	if (n < 0)
		agent_log("gateway %s (ipv6): cannot flush its flows: %s", f->name, strerror(-n));
	else if (n)
		agent_log("gateway %s (ipv6): flushed %d flows: %s", f->name, n, f->why);
}

bool worker_post_flush_family(struct worker *w, int family, int gw, uint32_t group_mask,
			      const char *gw_name, const char *why)
{
	struct flush_job *f = calloc(1, sizeof(*f));

	if (!f)
		return false;
	f->j.run = family == XWAN_FAM_IPV6 ? run_flush6 : run_flush;
	f->gw = gw;
	f->mask = group_mask;
	snprintf(f->name, sizeof(f->name), "%s", gw_name);
	snprintf(f->why, sizeof(f->why), "%s", why);
	if (!worker_post(w, &f->j)) {
		free(f);
		return false;
	}
	return true;
}

bool worker_post_flush(struct worker *w, int gw, uint32_t group_mask, const char *gw_name,
		       const char *why)
{
	return worker_post_flush_family(w, XWAN_FAM_IPV4, gw, group_mask, gw_name, why);
}
