/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* What the running host says about the interfaces a config names. */
#ifndef XWAN_HOST_H
#define XWAN_HOST_H

#include "config.h"
#include "netlink.h"

#define XWAN_MAX_HOST_ADDRS 256

struct xwan_host {
	struct nl_link lan[XWAN_MAX_LANS];
	struct nl_link wan[XWAN_MAX_GATEWAYS];
	struct nl_addr wan_addr[XWAN_MAX_GATEWAYS];     /* NAT address; addr 0 if none */
	struct nl_addr addrs[XWAN_MAX_HOST_ADDRS];      /* every IPv4 address */
	int n_addrs;
};

int xwan_host_gather(const struct xwan_config *cfg, struct xwan_host *h,
		     char *err, size_t errlen);

#endif /* XWAN_HOST_H */
