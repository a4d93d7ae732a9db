/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Where an address belongs (the loader's dst_policy: the host's own
 * addresses, the LAN networks, prefixes pinned to a WAN) and the kernel's
 * neighbour entries an on-link destination is sent to. Nothing here
 * touches a flow. Written once over ctx.h for XDP and tc.
 */
#ifndef XWAN_ROUTE_H
#define XWAN_ROUTE_H

#include "ctx.h"
#include "maps.h"
#include "parse.h"

#define AF_INET_FIB 2   /* bpf_fib_lookup's family: AF_INET */

static __always_inline struct dst_policy *dst_policy_of(__be32 daddr)
{
	struct lpm_v4_key k = { .prefixlen = 32, .addr = daddr };

	return bpf_map_lookup_elem(&dst_policy, &k);
}

static __always_inline int dst_is_local(__be32 daddr)
{
	struct dst_policy *dp = dst_policy_of(daddr);

	return dp && dp->action == DST_ACTION_LOCAL;
}

/* Limited broadcast or multicast (224.0.0.0/4): no side's, no flow's. */
static __always_inline int addr_bcast_mcast(__be32 addr)
{
	__u32 a = bpf_ntohl(addr);

	return a == 0xffffffff || (a >> 28) == 0xe;
}

/* A DHCP server's reply (67 -> 68). */
static __always_inline int pkt_dhcp_reply(const struct flow_key *k)
{
	return k->proto == IPPROTO_UDP && k->sport == bpf_htons(67) && k->dport == bpf_htons(68);
}

/*
 * Unsolicited on a WAN but the host's to answer: its own addresses,
 * broadcast and multicast, and a DHCP server's reply (67 -> 68), which goes
 * to the address being offered before the interface has it: the host's DHCP
 * client must get its lease through xwan.
 */
static __always_inline int wan_host_bound(const struct flow_key *k)
{
	if (dst_is_local(k->daddr) || addr_bcast_mcast(k->daddr))
		return 1;
	return pkt_dhcp_reply(k);
}

/*
 * A DHCP reply to an address the host does not have yet: its DHCP client
 * reads it from a packet socket, but the IP stack must not forward it (out
 * of another WAN, where that ISP would see a foreign source).
 */
static __always_inline int wan_dhcp_offer(const struct flow_key *k)
{
	return pkt_dhcp_reply(k) && k->daddr != 0xffffffff && !dst_is_local(k->daddr);
}

/*
 * One of the host's own addresses on no WAN (a LAN interface's, its
 * broadcast; the loader gives each WAN's address and broadcast its WAN):
 * nobody on the internet has business with it. Limited broadcast and
 * multicast belong to no side.
 */
static __always_inline int local_lan_side(__be32 addr)
{
	struct dst_policy *dp = dst_policy_of(addr);

	return dp && dp->action == DST_ACTION_LOCAL && dp->gw == XWAN_GW_NONE &&
	       !addr_bcast_mcast(addr);
}

/* A source on the LAN side of the host: its LAN networks, or its own LAN-side address. */
static __always_inline int src_lan_side(__be32 saddr)
{
	struct dst_policy *dp = dst_policy_of(saddr);

	return (dp && dp->action == DST_ACTION_BYPASS) || local_lan_side(saddr);
}

/* The host itself or the LAN side: the kernel's, never NATed. */
static __always_inline int dst_kernel_bound(__be32 daddr)
{
	struct dst_policy *dp = dst_policy_of(daddr);

	return dp && (dp->action == DST_ACTION_LOCAL || dp->action == DST_ACTION_BYPASS);
}

/*
 * The kernel's neighbour entry for daddr on ifindex (a connected address):
 * BPF_FIB_LKUP_RET_SUCCESS with its MAC, NO_NEIGH while unresolved, or
 * another code. Not inlined: its lookup struct stays off the hot programs'
 * stack.
 */
static __attribute__((noinline)) int fib_neigh(xwan_ctx *ctx, __be32 daddr, __u32 ifindex,
					       __u8 *mac)
{
	struct bpf_fib_lookup fib = {};
	int rc;

	fib.family = AF_INET_FIB;
	fib.ipv4_dst = daddr;
	fib.ifindex = ifindex;
	rc = bpf_fib_lookup(ctx, &fib, sizeof(fib), BPF_FIB_LOOKUP_DIRECT | BPF_FIB_LOOKUP_OUTPUT);
	if (rc == BPF_FIB_LKUP_RET_SUCCESS && fib.ifindex != ifindex)
		return BPF_FIB_LKUP_RET_NOT_FWDED;
	if (rc == BPF_FIB_LKUP_RET_SUCCESS)
		__builtin_memcpy(mac, fib.dmac, 6);
	return rc;
}

/* MAC of an on-link destination, -1 when the kernel has not resolved it. */
static __always_inline int onlink_neigh(xwan_ctx *ctx, __be32 daddr, __u32 ifindex, __u8 *mac)
{
	return fib_neigh(ctx, daddr, ifindex, mac) == BPF_FIB_LKUP_RET_SUCCESS ? 0 : -1;
}

#endif /* XWAN_ROUTE_H */
