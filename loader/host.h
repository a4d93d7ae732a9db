/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* What the running host says about the interfaces a config names. */
#ifndef XWAN_HOST_H
#define XWAN_HOST_H

#include "config.h"
#include "netlink.h"

#define XWAN_MAX_HOST_ADDRS 256

/* Whether a WAN can carry traffic as far as the host is concerned. */
enum xwan_wan_state {
	XWAN_WAN_OK = 0,
	XWAN_WAN_NO_IFACE,      /* "no interface" */
	XWAN_WAN_LINK_DOWN,     /* "link down": administratively down or no carrier */
	XWAN_WAN_NO_ADDR,       /* "no address": a NAT WAN without IPv4 address */
	XWAN_WAN_NO_GW,         /* "no gateway": gateway: auto, no default route yet */
};

/*
 * A WAN's IPv6 side (issue 13), beside wan_state (which is IPv4's): each
 * family is up or down on its own.
 */
enum xwan_wan6_state {
	XWAN_WAN6_OFF = 0,      /* "no gateway6": the WAN carries no IPv6 */
	XWAN_WAN6_OK,
	XWAN_WAN6_NO_IFACE,     /* "no interface" */
	XWAN_WAN6_LINK_DOWN,    /* "link down" */
	XWAN_WAN6_NO_ADDR,      /* "no IPv6 address": nat6 masquerade without a global address */
	XWAN_WAN6_NO_GW,        /* "no IPv6 gateway": gateway6: auto, no RA default route yet */
};

struct xwan_wan6_facts {
	uint8_t addr[16];       /* the WAN's global IPv6 address; all zero: none */
	uint8_t plen;
	uint8_t gw[16];         /* next hop: gateway6 as configured (auto: learned) */
	uint8_t state;          /* enum xwan_wan6_state */
};

struct xwan_host {
	struct nl_link lan[XWAN_MAX_LANS];
	struct nl_link wan[XWAN_MAX_GATEWAYS];          /* ifindex 0: missing */
	struct nl_addr wan_addr[XWAN_MAX_GATEWAYS];     /* NAT address; addr 0 if none */
	uint32_t wan_gw[XWAN_MAX_GATEWAYS];     /* next hop: configured or learned;
						   0 on a point-to-point device */
	uint8_t wan_state[XWAN_MAX_GATEWAYS];   /* enum xwan_wan_state */
	struct nl_addr addrs[XWAN_MAX_HOST_ADDRS];      /* every IPv4 address */
	int n_addrs;
	struct xwan_wan6_facts wan6[XWAN_MAX_GATEWAYS];  /* indexed like wan[] */
	struct nl_addr6 addrs6[XWAN_MAX_HOST_ADDRS];    /* every IPv6 address */
	int n_addrs6;
};

/*
 * Read the host's facts for cfg. A WAN that is missing, down, or has no
 * address or gateway is recorded with its state, never an error; a missing
 * LAN interface or a failed netlink dump is (-errno, err set).
 */
int xwan_host_gather(const struct xwan_config *cfg, struct xwan_host *h,
		     char *err, size_t errlen);

/*
 * gateway: auto whose default route went away while the interface kept its
 * address (xwan's own main-table route replaced the DHCP client's, or the
 * client is between deleting and re-adding it): keep the gateway learned
 * before, from prev, for the same interface and address, or a new address
 * whose subnet still holds that gateway (a lease renewed in place, whose
 * client re-adds the default route a moment after the address).
 */
void xwan_host_keep_learned(const struct xwan_config *cfg, struct xwan_host *h,
			    const struct xwan_host *prev);

/* "no interface", "link down", ... ("" for XWAN_WAN_OK). */
const char *xwan_wan_state_reason(uint8_t state);

/* The same for enum xwan_wan6_state ("" for XWAN_WAN6_OK). */
const char *xwan_wan6_state_reason(uint8_t state);

/* Do two gatherings differ for WAN w in what the dataplane or routes use? */
bool xwan_host_wan_changed(const struct xwan_host *a, const struct xwan_host *b, int w);

/*
 * The address a WAN's flows are translated to: its ha.virtual address when
 * the config has one (it moves with the active role), else wan_addr.
 */
static inline uint32_t xwan_nat_addr(const struct xwan_config *cfg, const struct xwan_host *h,
				     int w)
{
	uint32_t vip = xwan_ha_virtual_on(cfg, cfg->wans[w].interface);

	return vip ? vip : h->wan_addr[w].addr;
}

#endif /* XWAN_HOST_H */
