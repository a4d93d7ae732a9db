/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Flow events for the HA agent (monitor/ha.c): the active router reports
 * every flow it creates, every state change, deletions and, every ~8.6 s of
 * use, that a flow is still alive, so the passive can keep an exact copy.
 * Each site is a one-line hook; nothing is emitted unless the agent set
 * this router's role to active, so a router without `ha:` pays one array
 * lookup on flow creation and state changes, and a shift on each packet.
 */
#ifndef XWAN_EVENTS_H
#define XWAN_EVENTS_H

#include "maps.h"
#include "stats.h"

/* 256k events: a burst of 10k new flows/s rides out a stalled agent for seconds. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 << 20);
} ha_events SEC(".maps");

/* The agent's HA state; the dataplane reads only `role`. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ha_status);
} ha_status SEC(".maps");

static __always_inline int ha_active(void)
{
	__u32 zero = 0;
	struct ha_status *st = bpf_map_lookup_elem(&ha_status, &zero);

	return st && st->role == HA_ROLE_ACTIVE;
}

/* A slot for one event, or NULL (not the active, or the ring is full: counted). */
static __always_inline struct ha_event *ha_event_new(__u8 type, __u8 dir)
{
	struct ha_event *ev;

	if (!ha_active())
		return NULL;
	/* Written in place: the hot programs have no stack to spare for a copy. */
	ev = bpf_ringbuf_reserve(&ha_events, sizeof(*ev), 0);
	if (!ev) {
		count_event(EV_HA_EVENT_LOST);
		return NULL;
	}
	ev->type = type;
	ev->dir = dir;
	ev->pad[0] = ev->pad[1] = 0;
	return ev;
}

static __always_inline void ha_emit(const struct flow_key *key, __u8 dir, __u8 type)
{
	struct ha_event *ev = ha_event_new(type, dir);

	if (!ev)
		return;
	ev->key = *key;
	bpf_ringbuf_submit(ev, 0);
}

/* A NAT mapping went away (its LAN side k): the peer must not keep its port. */
static __always_inline void ha_emit_map_delete(const struct nat_map_key *k)
{
	struct ha_event *ev = ha_event_new(HA_EV_MAP_DELETE, FLOW_DIR_OUT);

	if (!ev)
		return;
	__builtin_memset(&ev->key, 0, sizeof(ev->key));
	ev->key.saddr = k->addr;
	ev->key.sport = k->port;
	ev->key.proto = k->proto;
	bpf_ringbuf_submit(ev, 0);
}

/* An entry's key is the peer's peer: events name the entry through its peer. */
static __always_inline void ha_emit_entry(const struct flow_entry *fe, __u8 type)
{
	ha_emit(&fe->peer, fe->dir == FLOW_DIR_OUT ? FLOW_DIR_IN : FLOW_DIR_OUT, type);
}

/* Per packet: only when the entry's clock crosses a 2^33 ns boundary. */
static __always_inline void ha_touch(const struct flow_entry *fe, __u64 now)
{
	if (unlikely((now ^ fe->last_seen_ns) >> HA_TOUCH_SHIFT) && fe->dir != FLOW_DIR_LOCAL)
		ha_emit_entry(fe, HA_EV_TOUCH);
}

#endif /* XWAN_EVENTS_H */
