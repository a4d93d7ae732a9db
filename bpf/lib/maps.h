/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Every map of the dataplane. Both BPF objects include this; the loader
 * creates the maps once (with the XDP object) and hands the same fds to the
 * tc object, then pins them by name. Sizes marked "loader" are set from the
 * config before load.
 */
#ifndef XWAN_MAPS_H
#define XWAN_MAPS_H

#include "compiler.h"
#include "../xwan_types.h"

/*
 * Both directions of every answered flow (loader: 2 x flow_table_size). A
 * plain hash: it never evicts, so a flood cannot take an answered flow.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 2 * 262144);
	__type(key, struct flow_key);
	__type(value, struct flow_entry);
} flows SEC(".maps");

/*
 * Both directions of every flow not answered yet (loader: 2 x
 * xwan_unreplied_capacity()). When full the LRU evicts the coldest entry;
 * the half it leaves behind is never used (flow.h: flow_half_intact).
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 2 * 65536);
	__type(key, struct flow_key);
	__type(value, struct flow_entry);
} flows_new SEC(".maps");

/* Unreplied flows charged to each source (struct src_budget). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct src_key);
	__type(value, struct src_budget);
} src_budget SEC(".maps");

/* Unreplied IPv6 flows charged to each source (flow6.h). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct src6_key);
	__type(value, struct src_budget);
} src_budget6 SEC(".maps");

/* First fragment's flow, for the fragments that follow it. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct frag_key);
	__type(value, struct frag_entry);
} frags SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, XWAN_MAX_GATEWAYS);
	__type(key, __u32);
	__type(value, struct gw_info);
} gateways SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, XWAN_MAX_GATEWAYS);
	__type(key, __u32);
	__type(value, struct gw_neigh);
} gw_neigh SEC(".maps");

/* Two banks per group: index group * 2 + gw_group.active. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, XWAN_MAX_GROUPS * 2);
	__type(key, __u32);
	__type(value, struct gw_slot_table);
} gw_slots SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, XWAN_MAX_GROUPS);
	__type(key, __u32);
	__type(value, struct gw_group);
} groups SEC(".maps");

/* Weighted round robin position, per CPU: no cache line bounces. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, XWAN_MAX_GROUPS);
	__type(key, __u32);
	__type(value, __u32);
} rr_pos SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, XWAN_MAX_IFACES);
	__type(key, __u32);             /* ifindex */
	__type(value, struct iface_info);
} ifaces SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, XWAN_MAX_DST_PREFIXES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct lpm_v4_key);
	__type(value, struct dst_policy);
} dst_policy SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, XWAN_MAX_LANS * XWAN_MAX_LAN_NETS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct lan_src_key);
	__type(value, __u32);
} lan_nets SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct xwan_settings);
} settings SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct flow_gauge);
} flow_gauge SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, HOOK_MAX * V_MAX);
	__type(key, __u32);
	__type(value, __u64);
} verdicts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, EV_MAX);
	__type(key, __u32);
	__type(value, __u64);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, XWAN_MAX_GATEWAYS);
	__type(key, __u32);
	__type(value, struct gw_counters);
} gw_stats SEC(".maps");

/* Two banks of rules: bank * XWAN_MAX_RULES + i (settings.rules_sel). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2 * XWAN_MAX_RULES);
	__type(key, __u32);
	__type(value, struct policy_rule);
} rules SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct sticky_key_v4);
	__type(value, struct sticky_binding);
} sticky SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, XWAN_MAX_FORWARDS);
	__type(key, struct port_fwd_key);
	__type(value, struct port_fwd);
} port_fwds SEC(".maps");

/*
 * Endpoint-independent mappings, both sides (xwan_types.h: struct
 * nat_map). An LRU: when full the coldest mapping goes, and its flows
 * carry on with their ports; only the next flow of that socket may get
 * another one.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 2 * 65536);
	__type(key, struct nat_map_key);
	__type(value, struct nat_map);
} nat_maps SEC(".maps");

/* Remote addresses an address-dependent mapping admits; the value is when
 * the mapping last sent there. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct nat_permit_key);
	__type(value, __u64);
} nat_permits SEC(".maps");

/* Redirect targets: every LAN and WAN interface, keyed by ifindex. */
struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP_HASH);
	__uint(max_entries, XWAN_MAX_IFACES);
	__type(key, __u32);
	__type(value, __u32);
} tx_ports SEC(".maps");

/* Per (in, out) interface pair: may XDP redirect (struct tx_path). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, XWAN_MAX_IFACES * XWAN_MAX_IFACES);
	__type(key, struct tx_path_key);
	__type(value, struct tx_path);
} tx_paths SEC(".maps");

/*
 * Redirects the kernel failed to transmit (xdp:xdp_redirect_err), per
 * target ifindex; the ids of our XDP programs (xdp_lan, xdp_wan) tell our
 * failures from other programs' (written by the loader); the verdict counter
 * each CPU's XDP program bumped last for a redirect, moved to a drop when
 * the redirect fails (redirect errors fire right after the program, on its
 * CPU).
 */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, XWAN_MAX_IFACES);
	__type(key, __u32);
	__type(value, __u64);
} redirect_errs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u32);
} xdp_prog_ids SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} xdp_last_fwd SEC(".maps");

/* ---- IPv6 (issue 13): beside the IPv4 maps, never sharing their keys ---- */

/*
 * Both directions of every answered IPv6 flow (loader: 2 x flow_table_size),
 * and of every flow not answered yet (loader: 2 x xwan_unreplied_capacity()),
 * as IPv4's flows and flows_new: a LAN host spraying new flows churns only
 * flows6_new's LRU, never an answered flow.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 2 * 262144);
	__type(key, struct flow6_key);
	__type(value, struct flow6_entry);
} flows6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 2 * 65536);
	__type(key, struct flow6_key);
	__type(value, struct flow6_entry);
} flows6_new SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, XWAN_MAX_GATEWAYS);
	__type(key, __u32);
	__type(value, struct gw6_info);
} gateways6 SEC(".maps");

/* The IPv6 gateway's MAC (its next hop differs from IPv4's). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, XWAN_MAX_GATEWAYS);
	__type(key, __u32);
	__type(value, struct gw_neigh);
} gw_neigh6 SEC(".maps");

/* Per-family slot tables: a WAN may be up for IPv4 and down for IPv6. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, XWAN_MAX_GROUPS * 2);
	__type(key, __u32);
	__type(value, struct gw_slot_table);
} gw_slots6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, XWAN_MAX_GROUPS);
	__type(key, __u32);
	__type(value, struct gw_group);
} groups6 SEC(".maps");

/* Host addresses, LAN networks, NPT outside and delegated prefixes. */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, XWAN_MAX_DST_PREFIXES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct lpm_v6_key);
	__type(value, struct prefix6_info);
} prefix6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, XWAN_MAX_LANS * XWAN_MAX_LAN_NETS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct lan_src6_key);
	__type(value, __u32);
} lan_nets6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct frag6_key);
	__type(value, struct frag6_entry);
} frags6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct sticky6_key);
	__type(value, struct sticky_binding);
} sticky6 SEC(".maps");

/* IPv6 packets' verdicts, indexed like `verdicts` (a family label for the views). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, HOOK_MAX * V_MAX);
	__type(key, __u32);
	__type(value, __u64);
} verdicts6 SEC(".maps");

/* Per-gateway IPv6 counters, like gw_stats. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, XWAN_MAX_GATEWAYS);
	__type(key, __u32);
	__type(value, struct gw_counters);
} gw_stats6 SEC(".maps");

/* The agent's view of each gateway; declared here for its BTF. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, XWAN_MAX_GATEWAYS);
	__type(key, __u32);
	__type(value, struct gw_health);
} gw_health SEC(".maps");

/*
 * The same of each gateway's IPv6 side (issue 13: a WAN is up or down per
 * family); wan_addr is unused there (the IPv6 addresses are in gateways6).
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, XWAN_MAX_GATEWAYS);
	__type(key, __u32);
	__type(value, struct gw_health);
} gw_health6 SEC(".maps");

/* Userspace bookkeeping (struct xwan_runtime); declared here for its BTF. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct xwan_runtime);
} runtime SEC(".maps");

#endif /* XWAN_MAPS_H */
