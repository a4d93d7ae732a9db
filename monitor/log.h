/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* The agent's log: one line per event on stderr, UTC timestamped (journald
 * and `xwan run` in a terminal read the same). Safe from any thread. */
#ifndef XWAN_MONITOR_LOG_H
#define XWAN_MONITOR_LOG_H

void agent_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif /* XWAN_MONITOR_LOG_H */
