/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* IPv6 flows (issue 13): `xwan flows` (flows6 and flows6_new, one line per
 * flow) and their sweep. */
#ifndef XWAN_FLOWS6_H
#define XWAN_FLOWS6_H

#include <stdio.h>

#include "flows.h"
#include "maps.h"

/*
 * Print the IPv6 flows matching f (its client filter is IPv4's: with one,
 * no IPv6 flow matches) after the IPv4 ones; *shown counts on from them
 * (JSON separators). Returns how many matched, or -errno.
 */
int xwan_flows6_print(const struct xwan_maps *m, const struct xwan_flows_filter *f,
		      const struct xwan_runtime *rt, FILE *out, int *shown);

/*
 * Delete the expired IPv6 flows of both tables (flows6 never evicts, so
 * nothing else makes room there). Returns the flows removed, or -errno.
 */
int xwan_flows6_gc(const struct xwan_maps *m);

/*
 * Delete the IPv6 flows that gateway gw carries for the groups in
 * group_mask (bit g: group g), so that their next packet chooses again. A
 * flow pinned by its source prefix (nat6 none, no group) stays: its
 * addresses belong to that ISP. Returns the flows removed, or -errno.
 */
int xwan_flows6_flush(const struct xwan_maps *m, int gw, uint32_t group_mask);

#endif /* XWAN_FLOWS6_H */
