// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include "monitor/rt.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>

#ifndef SCHED_RESET_ON_FORK
#define SCHED_RESET_ON_FORK 0x40000000
#endif

int agent_rt_enter(char *err, size_t len)
{
	struct sched_param sp = { .sched_priority = AGENT_RT_PRIORITY };
	int rc;

	/* pid 0: this thread; the worker and HTTP threads keep their own policy. */
	if (sched_setscheduler(0, SCHED_FIFO | SCHED_RESET_ON_FORK, &sp) == 0)
		return 0;
	rc = -errno;
	snprintf(err, len, "cannot give the probing loop real-time priority (SCHED_FIFO %d): "
		 "%s; a busy CPU can delay probes (run as root, or grant CAP_SYS_NICE / "
		 "LimitRTPRIO)", AGENT_RT_PRIORITY, strerror(-rc));
	return rc;
}

void agent_pi_mutex_init(pthread_mutex_t *m)
{
	pthread_mutexattr_t at;

	/* Without PI (a libc lacking it) a plain mutex still works, only slower to hand over. */
	if (pthread_mutexattr_init(&at) ||
	    pthread_mutexattr_setprotocol(&at, PTHREAD_PRIO_INHERIT) ||
	    pthread_mutex_init(m, &at))
		pthread_mutex_init(m, NULL);
	pthread_mutexattr_destroy(&at);
}
