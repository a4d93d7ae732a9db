/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* `xwan status`: one row per gateway, like pfSense's Status > Gateways. */
#ifndef XWAN_STATUS_H
#define XWAN_STATUS_H

#include <stdio.h>

#include "maps.h"

int xwan_status_print(const struct xwan_maps *m, FILE *out);

#endif /* XWAN_STATUS_H */
