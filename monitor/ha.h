/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The HA pair, as the agent runs it: keepalived (VRRPv3) elects, and tells
 * us through its notify FIFO; we keep the virtual addresses ourselves, so a
 * passive router that is told to take over first commits every flow state
 * it has received, then adds the addresses and sends gratuitous ARPs. The
 * active forwards the dataplane's flow events to the peer (ha_sync.c).
 */
#ifndef XWAN_HA_H
#define XWAN_HA_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "../loader/config.h"
#include "../loader/ha_maps.h"
#include "../loader/host.h"
#include "../loader/maps.h"
#include "ha_sync.h"
#include "loop.h"

struct ring_buffer;

struct ha {
	const struct xwan_config *cfg;
	struct xwan_ha cur;             /* the ha: section in force (reloads change parts) */
	const struct xwan_maps *maps;
	struct ha_local local;
	struct ha_sync sync;
	int epfd, sock, fifo_fd, rb_fd;
	struct ring_buffer *rb;
	struct loop_handler sock_h, fifo_h, rb_h;
	pid_t keepalived;
	uint64_t keepalived_restart_ns;
	uint8_t role;
	uint64_t role_since_unix;
	bool vips_held, bulk_due, hash_mismatch;
	int garps_left;
	uint64_t next_garp_ns, next_publish_ns;
	char fifo_buf[512];
	size_t fifo_len;
	uint64_t takeovers, bulk_resyncs, hash_mismatches, events;
	uint8_t logged_version;         /* the peer's other protocol version, logged once */
	uint64_t gc_runs, gc_removed;   /* `xwan gc` sweeps the agent ran (ha_gc_done) */
	/*
	 * Sticky bindings and NAT mappings sent lately: every new flow of a
	 * client (of a socket) refreshes its binding (mapping), the peer needs
	 * it once a second at most (expiry counts tens of seconds). By a hash
	 * of what the record says, bar its clocks.
	 */
	struct ha_sent {
		uint64_t sig;
		uint64_t at_ns;
	} sent_lately[2048];
	/*
	 * Flows the agent deleted itself (gc, flushes: loader/flows.c tells
	 * us, from the worker thread too), queued for the peer by ha_tick.
	 */
	pthread_mutex_t del_lock;
	struct flow_key *del_keys;
	size_t del_n, del_cap;
	uint64_t del_dropped;           /* queue full (the peer then gets a bulk resync) */
	bool del_lock_made;
};

/* Start HA for cfg (cfg->ha.enabled): socket, ring buffer, keepalived. */
int ha_open(struct ha *ha, const struct xwan_config *cfg, const struct xwan_host *h,
	    const struct xwan_maps *m, int epfd, char *err, size_t errlen);
/* Timers; returns the next time it wants to run (CLOCK_MONOTONIC ns). */
uint64_t ha_tick(struct ha *ha, uint64_t now);
/* Stop keepalived and give up the virtual addresses. */
void ha_close(struct ha *ha);
void ha_config_changed(struct ha *ha, const struct xwan_config *cfg, const struct xwan_host *h);

/* The agent ran a sweep `xwan gc` asked for (n removed, or -errno): published at once. */
void ha_gc_done(struct ha *ha, int n);

/* Not the active router: leave the LAN's clients alone (no resets). */
bool ha_is_passive(const struct ha *ha);

/* The keepalived configuration for cfg. */
int ha_keepalived_conf(const struct xwan_config *cfg, FILE *out);

const char *ha_role_name(uint8_t role);

#endif /* XWAN_HA_H */
