/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * rtnetlink notifications the agent acts on without waiting for probes:
 * carrier changes, addresses added/removed, neighbour (gateway MAC) updates,
 * default routes (learned gateways, IPv4's and IPv6's), and lost
 * notifications.
 */
#ifndef XWAN_NETEVENTS_H
#define XWAN_NETEVENTS_H

#include <stdbool.h>
#include <stdint.h>

#include "loop.h"

struct netevents_ops {
	void (*link)(void *ctx, int ifindex, bool carrier);
	void (*addr)(void *ctx, int ifindex, uint32_t addr, bool added);
	void (*neigh)(void *ctx, int ifindex, uint32_t addr, const uint8_t *mac, bool usable);
	/* An IPv4 default route (any table) was added, changed or removed. */
	void (*default_route)(void *ctx);
	/* An IPv6 default route (gateway6: auto's RA-learned next hop) or global
	 * IPv6 address was added, changed or removed. */
	void (*ipv6)(void *ctx);
	/* The socket overflowed (ENOBUFS): notifications were lost, resync all. */
	void (*overflow)(void *ctx);
};

struct netevents {
	struct loop_handler h;
	struct mnl_socket *nl;
	const struct netevents_ops *ops;
	void *ctx;
};

int netevents_open(struct netevents *ne, int epfd, const struct netevents_ops *ops, void *ctx);
void netevents_close(struct netevents *ne);

#endif /* XWAN_NETEVENTS_H */
