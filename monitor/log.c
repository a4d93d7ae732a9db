// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include "monitor/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>

static void (*log_sink)(void *ctx, uint64_t unix_s, const char *line);
static void *log_sink_ctx;

void agent_log_sink(void (*sink)(void *ctx, uint64_t unix_s, const char *line), void *ctx)
{
	log_sink = sink;
	log_sink_ctx = ctx;
}

void agent_log(const char *fmt, ...)
{
	char stamp[32], line[1024];
	time_t t = time(NULL);
	struct tm tm;
	va_list ap;

	gmtime_r(&t, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	/* One write per line, so threads never interleave within a line. */
	fprintf(stderr, "%s xwan: %s\n", stamp, line);
	if (log_sink)
		log_sink(log_sink_ctx, (uint64_t)t, line);
}
