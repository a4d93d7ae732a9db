/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* `xwan status`: one row per gateway, like pfSense's Status > Gateways. */
#ifndef XWAN_STATUS_H
#define XWAN_STATUS_H

#include <stdbool.h>
#include <stdio.h>

#include "flows.h"
#include "maps.h"

int xwan_status_print(const struct xwan_maps *m, FILE *out);

/*
 * The same view as text or as one JSON object (`xwan status --json`, the
 * agent's /api/status). counts: flow counts per gateway from the agent's
 * last sweep; NULL: count them now (a full scan of the flow table).
 */
int xwan_status_write(const struct xwan_maps *m, const struct xwan_flow_counts *counts,
		      bool json, FILE *out);

#endif /* XWAN_STATUS_H */
