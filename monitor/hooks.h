/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Hooks (mwan3.user's job): the operator's program run on every gateway
 * transition, with what happened in its environment:
 *   XWAN_EVENT=gateway_change, XWAN_GATEWAY, XWAN_INTERFACE,
 *   XWAN_OLD_STATUS, XWAN_NEW_STATUS (pending|online|warning|down), XWAN_REASON,
 *   XWAN_FAMILY (ipv4|ipv6: each family of a WAN changes status on its own).
 * A hook runs in a process group of its own, asynchronously: the agent's
 * loop starts it (posix_spawn) and goes on probing; hooks_tick() reaps it,
 * and kills the whole group once it overruns its timeout. A hook that exits
 * non-zero, is killed, or cannot start is logged and counted.
 */
#ifndef XWAN_MONITOR_HOOKS_H
#define XWAN_MONITOR_HOOKS_H

#include <stdint.h>

#define HOOKS_MAX_RUNNING 16    /* more at once are skipped (and counted) */

struct hooks;

struct hook_counts {
	uint64_t ok;            /* exited 0 */
	uint64_t failed;        /* exited non-zero, died of a signal, or could not start */
	uint64_t timed_out;     /* killed at the timeout */
	uint64_t skipped;       /* HOOKS_MAX_RUNNING already running */
};

struct hook_gateway_event {
	const char *gateway, *interface, *old_status, *new_status, *reason;
	const char *family;     /* "ipv4" or "ipv6"; NULL: ipv4 */
};

struct hooks *hooks_new(void);
/* Running hooks are left to finish on their own (nothing waits for them). */
void hooks_free(struct hooks *h);

/* path "" or NULL: no hook. Hooks already running keep their own deadline. */
void hooks_configure(struct hooks *h, const char *on_gateway_change, uint32_t timeout_ms);

/* Start the gateway-change hook, if one is configured; never waits. */
void hooks_gateway_change(struct hooks *h, const struct hook_gateway_event *e, uint64_t now_ns);

/* Reap finished hooks, kill overdue ones; the next deadline (UINT64_MAX: none). */
uint64_t hooks_tick(struct hooks *h, uint64_t now_ns);

void hooks_counts(const struct hooks *h, struct hook_counts *out);

#endif /* XWAN_MONITOR_HOOKS_H */
