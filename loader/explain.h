/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* `xwan explain`: the rule, group and gateway a new flow would get now. */
#ifndef XWAN_EXPLAIN_H
#define XWAN_EXPLAIN_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "maps.h"

struct xwan_explain_query {
	uint32_t src, dst;      /* network order */
	uint8_t proto;          /* IPPROTO_TCP, _UDP, _ICMP */
	uint16_t dport;         /* host order */
	uint16_t sport;
	bool has_sport;
	uint32_t lan_ifindex;   /* 0: the LAN whose networks hold src */
};

int xwan_explain(const struct xwan_maps *m, const struct xwan_explain_query *q, FILE *out);

#endif /* XWAN_EXPLAIN_H */
