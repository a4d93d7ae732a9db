// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The agent's worker thread: jobs run off the loop, in order; their done
 * callbacks come back on the loop's thread; the loop's try-lock of the maps
 * fails (instead of waiting) while a job holds them; coalesced jobs are not
 * queued twice.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "monitor/worker.h"

struct test_job {
	struct worker_job j;
	int id;
	pthread_t ran_on, done_on;
	int *order, *n_order, *n_done;
	bool hold_lock;
	volatile bool *release;
};

static void job_run(struct worker_job *j, struct worker *w)
{
	struct test_job *t = (struct test_job *)j;

	t->ran_on = pthread_self();
	if (t->hold_lock) {
		worker_maps_lock(w);
		while (!*t->release)
			usleep(1000);
		worker_maps_unlock(w);
	}
	t->order[(*t->n_order)++] = t->id;
}

static void job_done(struct worker_job *j)
{
	struct test_job *t = (struct test_job *)j;

	t->done_on = pthread_self();
	(*t->n_done)++;
}

static struct worker *start(int *epfd)
{
	struct xwan_maps m;
	char err[128];
	struct worker *w;

	xwan_maps_init(&m);
	*epfd = epoll_create1(EPOLL_CLOEXEC);
	assert_true(*epfd >= 0);
	w = worker_start(&m, *epfd, err, sizeof(err));
	assert_non_null(w);
	return w;
}

/* Dispatch the loop until n_done reaches want (or 5 s). */
static void run_loop(int epfd, int *n_done, int want)
{
	for (int i = 0; i < 500 && *n_done < want; i++) {
		struct epoll_event ev[4];
		int n = epoll_wait(epfd, ev, 4, 10);

		for (int k = 0; k < n; k++) {
			struct loop_handler *h = ev[k].data.ptr;

			h->fn(h, ev[k].events);
		}
	}
}

static void test_order_and_threads(void **state)
{
	struct test_job jobs[5];
	int order[5], n_order = 0, n_done = 0, epfd;
	volatile bool release = true;
	struct worker *w = start(&epfd);

	(void)state;
	for (int i = 0; i < 5; i++) {
		jobs[i] = (struct test_job){ .j = { .run = job_run, .done = job_done }, .id = i,
					     .order = order, .n_order = &n_order,
					     .n_done = &n_done, .release = &release };
		assert_true(worker_post(w, &jobs[i].j));
	}
	run_loop(epfd, &n_done, 5);
	assert_int_equal(n_done, 5);
	for (int i = 0; i < 5; i++) {
		assert_int_equal(order[i], i);
		assert_false(pthread_equal(jobs[i].ran_on, pthread_self()));
		assert_true(pthread_equal(jobs[i].done_on, pthread_self()));
	}
	worker_stop(w);
	close(epfd);
}

static void test_trylock_never_waits(void **state)
{
	volatile bool release = false;
	int order[1], n_order = 0, n_done = 0, epfd;
	struct worker *w = start(&epfd);
	struct test_job t = { .j = { .run = job_run, .done = job_done }, .id = 7, .order = order,
			      .n_order = &n_order, .n_done = &n_done, .hold_lock = true,
			      .release = &release };
	bool locked = true;

	(void)state;
	assert_true(worker_maps_trylock(w));    /* free: the loop gets it */
	worker_maps_unlock(w);
	assert_true(worker_post(w, &t.j));
	/* Once the job holds the maps, the loop's try-lock fails at once. */
	for (int i = 0; i < 500 && locked; i++) {
		locked = worker_maps_trylock(w);
		if (locked) {
			worker_maps_unlock(w);
			usleep(1000);
		}
	}
	assert_false(locked);
	release = true;
	run_loop(epfd, &n_done, 1);
	assert_int_equal(n_done, 1);
	assert_true(worker_maps_trylock(w));
	worker_maps_unlock(w);
	worker_stop(w);
	close(epfd);
}

static void test_counts_and_coalescing(void **state)
{
	struct xwan_flow_counts c = { .total = 42, .per_gw = { 40, 2 }, .at_unix = 1 }, out;
	int epfd;
	struct worker *w = start(&epfd);
	bool in_flight = true;

	(void)state;
	assert_false(worker_counts(w, &out));   /* no sweep yet */
	worker_set_counts(w, &c);
	assert_true(worker_counts(w, &out));
	assert_int_equal(out.total, 42);
	assert_int_equal(out.per_gw[1], 2);
	/* A sweep still in flight: the next one is not queued (and nothing runs). */
	assert_true(worker_post_gc(w, &in_flight));
	assert_true(in_flight);
	worker_stop(w);
	/* No worker: posting fails, so the caller does the work itself. */
	in_flight = false;
	assert_false(worker_post_gc(NULL, &in_flight));
	assert_false(in_flight);
	close(epfd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_order_and_threads),
		cmocka_unit_test(test_trylock_never_waits),
		cmocka_unit_test(test_counts_and_coalescing),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
