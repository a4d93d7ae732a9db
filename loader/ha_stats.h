/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* The HA pair's metrics, from the pinned ha_status map the agent publishes. */
#ifndef XWAN_HA_STATS_H
#define XWAN_HA_STATS_H

#include <stdio.h>

#include "maps.h"

/* Nothing when HA is off (no ha: section, or no agent has run). */
void xwan_ha_stats_write(const struct xwan_maps *m, FILE *out);

#endif /* XWAN_HA_STATS_H */
