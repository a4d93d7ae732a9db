/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Maintenance marks (pfSense's "Mark Gateway as Down"): gateways an operator
 * took out of service with `xwan gateway down NAME`. They live in a map of
 * their own pinned beside the dataplane's (<pin dir>/maintenance), keyed by
 * gateway name, so they outlive the agent (a restart, an upgrade) and follow
 * a gateway across reloads that renumber it. `xwan down` removes them with
 * the other pins. The CLI writes; the agent reads on SIGUSR1 and every second.
 */
#ifndef XWAN_MONITOR_MAINT_H
#define XWAN_MONITOR_MAINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MAINT_PIN_NAME    "maintenance"
#define MAINT_NAME_LEN    32            /* XWAN_NAME_MAX */
#define MAINT_REASON_LEN  96
#define MAINT_MAX         64

struct maint_key {
	char name[MAINT_NAME_LEN];          /* zero padded */
};

struct maint_entry {
	uint64_t since_unix;
	char reason[MAINT_REASON_LEN];      /* the operator's --reason, may be empty */
};

/* The pinned map's fd (created and pinned if absent), or -errno with err set. */
int maint_open(const char *pin_dir, char *err, size_t errlen);

/* Mark (down) or clear (up) a gateway; 0 or -errno. Clearing an unmarked one is 0. */
int maint_set(int fd, const char *name, const char *reason, uint64_t now_unix);
int maint_clear(int fd, const char *name);

/* Is name marked? Fills e when so. */
bool maint_get(int fd, const char *name, struct maint_entry *e);

/* "maintenance" or "maintenance: TEXT", for the gateway's reason. */
void maint_reason(const struct maint_entry *e, char *out, size_t len);

#endif /* XWAN_MONITOR_MAINT_H */
