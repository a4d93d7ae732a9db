/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The probing loop's CPU priority. Probe send times are what loss and
 * latency are measured against: on a busy router (a scrape, a sweep at a
 * million flows, anything else on two cores) a loop that waits its turn for
 * the CPU sends late, and a late probe looks like latency or, past the loss
 * interval, like loss. The loop does little CPU work (the worker thread has
 * the heavy jobs), so it runs at a low real-time priority, as keepalived's
 * VRRP and chrony do: it preempts ordinary tasks the moment a probe is due.
 * SCHED_RESET_ON_FORK: threads and processes it starts later (hooks,
 * keepalived) are ordinary again.
 */
#ifndef XWAN_MONITOR_RT_H
#define XWAN_MONITOR_RT_H

#include <pthread.h>
#include <stddef.h>

#define AGENT_RT_PRIORITY 10    /* SCHED_FIFO, below threaded IRQs (50) */

/* The calling thread only; 0, or -errno with err saying what follows. */
int agent_rt_enter(char *err, size_t len);

/*
 * A mutex the loop shares with the worker or HTTP thread: priority
 * inheritance, so a holder preempted by ordinary tasks (the worker runs at
 * nice 10) is lifted to the loop's priority instead of stalling it.
 */
void agent_pi_mutex_init(pthread_mutex_t *m);

#endif /* XWAN_MONITOR_RT_H */
