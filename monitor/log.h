/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* The agent's log: one line per event on stderr, UTC timestamped (journald
 * and `xwan run` in a terminal read the same). Safe from any thread. */
#ifndef XWAN_MONITOR_LOG_H
#define XWAN_MONITOR_LOG_H

#include <stdint.h>

void agent_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Also hand every line to sink (the status page's event log); set once,
 * before any thread logs. sink must be thread-safe and must not log.
 */
void agent_log_sink(void (*sink)(void *ctx, uint64_t unix_s, const char *line), void *ctx);

#endif /* XWAN_MONITOR_LOG_H */
