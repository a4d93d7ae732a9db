// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include "host.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

int xwan_host_gather(const struct xwan_config *cfg, struct xwan_host *h,
		     char *err, size_t errlen)
{
	int rc, i;

	memset(h, 0, sizeof(*h));
	for (i = 0; i < cfg->n_lans; i++) {
		rc = nl_link_get(cfg->lans[i].interface, &h->lan[i]);
		if (rc) {
			snprintf(err, errlen, "%s:%d: lan[%d].interface: cannot read \"%s\": %s",
				 cfg->path, cfg->lans[i].line, i, cfg->lans[i].interface,
				 strerror(-rc));
			return rc;
		}
	}
	for (i = 0; i < cfg->n_wans; i++) {
		const struct xwan_wan *w = &cfg->wans[i];

		rc = nl_link_get(w->interface, &h->wan[i]);
		if (rc) {
			snprintf(err, errlen, "%s:%d: wan[%d].interface: cannot read \"%s\": %s",
				 cfg->path, w->line, i, w->interface, strerror(-rc));
			return rc;
		}
		rc = nl_addr_for_gateway(h->wan[i].ifindex, w->gateway, &h->wan_addr[i]);
		if (rc && w->nat == XWAN_NAT_MASQUERADE) {
			snprintf(err, errlen,
				 "%s:%d: wan[%d] (%s): interface %s has no IPv4 address to "
				 "masquerade to; assign one, or set nat: none for routed space",
				 cfg->path, w->line, i, w->name, w->interface);
			return rc;
		}
	}
	rc = nl_addr_dump(h->addrs, XWAN_MAX_HOST_ADDRS);
	if (rc < 0) {
		snprintf(err, errlen, "cannot list the host's addresses: %s", strerror(-rc));
		return rc;
	}
	h->n_addrs = rc;
	return 0;
}
