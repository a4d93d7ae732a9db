/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The dataplane's maps, as userspace holds them: one fd per map, opened from
 * the pin directory or, when the pins are gone (a bpffs that lived only in
 * an `ip netns exec` mount namespace), found through the XDP programs
 * attached in this network namespace.
 */
#ifndef XWAN_MAPS_H
#define XWAN_MAPS_H

#include <stdbool.h>
#include <stddef.h>

#include "../bpf/xwan_types.h"

#define XWAN_MAPS(X)                    \
	X(FLOWS,      "flows")          \
	X(FLOWS_NEW,  "flows_new")      \
	X(SRC_BUDGET, "src_budget")     \
	X(FRAGS,      "frags")          \
	X(GATEWAYS,   "gateways")       \
	X(GW_NEIGH,   "gw_neigh")       \
	X(GW_SLOTS,   "gw_slots")       \
	X(GROUPS,     "groups")         \
	X(RR_POS,     "rr_pos")         \
	X(IFACES,     "ifaces")         \
	X(DST_POLICY, "dst_policy")     \
	X(LAN_NETS,   "lan_nets")       \
	X(SETTINGS,   "settings")       \
	X(FLOW_GAUGE, "flow_gauge")     \
	X(VERDICTS,   "verdicts")       \
	X(EVENTS,     "events")         \
	X(GW_STATS,   "gw_stats")       \
	X(TX_PORTS,   "tx_ports")       \
	X(TX_PATHS,   "tx_paths")       \
	X(REDIRECT_ERRS, "redirect_errs") \
	X(RULES,      "rules")          \
	X(STICKY,     "sticky")         \
	X(PORT_FWDS,  "port_fwds")      \
	X(NAT_MAPS,   "nat_maps")       \
	X(NAT_PERMITS, "nat_permits")   \
	X(GW_HEALTH,  "gw_health")      \
	X(GW_HEALTH6, "gw_health6")     \
	X(RUNTIME,    "runtime")        \
	X(HA_EVENTS,  "ha_events")      \
	X(HA_STATUS,  "ha_status")      \
	X(FLOWS6,     "flows6")         \
	X(FLOWS6_NEW, "flows6_new")     \
	X(SRC_BUDGET6, "src_budget6")   \
	X(GATEWAYS6,  "gateways6")      \
	X(GW_NEIGH6,  "gw_neigh6")      \
	X(GW_SLOTS6,  "gw_slots6")      \
	X(GROUPS6,    "groups6")        \
	X(PREFIX6,    "prefix6")        \
	X(LAN_NETS6,  "lan_nets6")      \
	X(FRAGS6,     "frags6")         \
	X(STICKY6,    "sticky6")        \
	X(VERDICTS6,  "verdicts6")      \
	X(GW_STATS6,  "gw_stats6")

enum xwan_map {
#define XWAN_MAP_ENUM(id, name) XM_##id,
	XWAN_MAPS(XWAN_MAP_ENUM)
#undef XWAN_MAP_ENUM
	XM_COUNT
};

struct xwan_maps {
	int fd[XM_COUNT];
};

extern const char *const xwan_map_names[XM_COUNT];

void xwan_maps_init(struct xwan_maps *m);
void xwan_maps_close(struct xwan_maps *m);

/* Pins first, then discovery. -ENOENT with a message when xwan is not running. */
int xwan_maps_open(const char *pin_dir, struct xwan_maps *m, char *err, size_t errlen);
int xwan_maps_from_pins(const char *pin_dir, struct xwan_maps *m);
/* Whatever can be found; -ESTALE (fds kept) when a map is missing: a
 * dataplane started by another build. `down` needs only the runtime map. */
int xwan_maps_open_partial(const char *pin_dir, struct xwan_maps *m);
int xwan_maps_discover(struct xwan_maps *m);

/* -ESTALE when the running dataplane's record has another layout (build). */
int xwan_runtime_read(const struct xwan_maps *m, struct xwan_runtime *rt);

/*
 * Only the first eight words of a record of any build (magic ... generation,
 * which never move): the rest of *rt is zeroed.
 */
int xwan_runtime_read_header(int fd, struct xwan_runtime *rt);
int xwan_runtime_write(const struct xwan_maps *m, const struct xwan_runtime *rt);
int xwan_settings_read(const struct xwan_maps *m, struct xwan_settings *s);

/* Sum a per-CPU array element of `size` bytes made of __u64 counters. */
int xwan_percpu_sum(int fd, __u32 key, __u64 *out, size_t size);
/* Add n to CPU 0's copy of a per-CPU __u64 counter only userspace writes. */
int xwan_percpu_add(int fd, __u32 key, __u64 n);

#endif /* XWAN_MAPS_H */
