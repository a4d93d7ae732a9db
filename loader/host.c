// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include "host.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

const char *xwan_wan_state_reason(uint8_t state)
{
	switch (state) {
	case XWAN_WAN_NO_IFACE:
		return "no interface";
	case XWAN_WAN_LINK_DOWN:
		return "link down";
	case XWAN_WAN_NO_ADDR:
		return "no address";
	case XWAN_WAN_NO_GW:
		return "no gateway";
	}
	return "";
}

const char *xwan_wan6_state_reason(uint8_t state)
{
	switch (state) {
	case XWAN_WAN6_OFF:
		return "no gateway6";
	case XWAN_WAN6_NO_IFACE:
		return "no interface";
	case XWAN_WAN6_LINK_DOWN:
		return "link down";
	case XWAN_WAN6_NO_ADDR:
		return "no IPv6 address";
	case XWAN_WAN6_NO_GW:
		return "no IPv6 gateway";
	}
	return "";
}

static bool in_prefix6(const uint8_t *a, const uint8_t *net, uint8_t plen)
{
	int full = plen / 8, rest = plen % 8;

	if (memcmp(a, net, (size_t)full))
		return false;
	return !rest || ((a[full] ^ net[full]) & (uint8_t)(0xff << (8 - rest))) == 0;
}

/*
 * A WAN's IPv6 facts: its global address (usable, not tentative or
 * deprecated; the one whose subnet holds gateway6 first) and next hop:
 * gateway6, or with gateway6: auto the default route the kernel learned
 * from the ISP's router advertisements (as gateway: auto follows a DHCP
 * client's; xwan sends no RS and runs no client of its own). Needs
 * h->addrs6 gathered.
 */
static void wan6_learn(const struct xwan_config *cfg, struct xwan_host *h, int i)
{
	const struct xwan_wan6 *w6 = &cfg->wans[i].v6;
	struct xwan_wan6_facts *f = &h->wan6[i];
	const struct nl_link *l = &h->wan[i];
	int best = -1, rc = 0;

	memset(f, 0, sizeof(*f));
	if (!w6->enabled)
		return;     /* XWAN_WAN6_OFF */
	memcpy(f->gw, w6->gateway, 16);
	if (w6->gateway_auto) {
		memset(f->gw, 0, 16);
		rc = l->ifindex ? nl_default_gateway6(l->ifindex, cfg->route_table_base,
						      cfg->route_table_base + XWAN_MAX_GATEWAYS - 1,
						      f->gw)
				: -ENODEV;
		if (l->p2p)
			memset(f->gw, 0, 16);
	}
	for (int k = 0; k < h->n_addrs6; k++) {
		const struct nl_addr6 *a = &h->addrs6[k];

		if (a->ifindex != l->ifindex || a->scope != 0 /* RT_SCOPE_UNIVERSE */ ||
		    (a->flags & (0x40 /* IFA_F_TENTATIVE */ | 0x20 /* IFA_F_DEPRECATED */ |
				 0x08 /* IFA_F_DADFAILED */)))
			continue;
		if (best < 0 || (in_prefix6(f->gw, a->addr, a->plen) &&
				 !in_prefix6(f->gw, h->addrs6[best].addr, h->addrs6[best].plen)))
			best = k;
	}
	if (best >= 0) {
		memcpy(f->addr, h->addrs6[best].addr, 16);
		f->plen = h->addrs6[best].plen;
	}
	if (!l->ifindex)
		f->state = XWAN_WAN6_NO_IFACE;
	else if (!l->up || !l->carrier)
		f->state = XWAN_WAN6_LINK_DOWN;
	else if (best < 0 && w6->nat == XWAN_NAT6_MASQUERADE)
		f->state = XWAN_WAN6_NO_ADDR;
	else if (w6->gateway_auto && rc && !l->p2p)
		f->state = XWAN_WAN6_NO_GW;
	else
		f->state = XWAN_WAN6_OK;
}

/*
 * The next hop of gateway: auto is whatever default route the host's own
 * client keeps through the interface, in any table but xwan's (whose routes
 * carry XWAN_RTPROT besides). A point-to-point device needs none: the
 * device itself is the route.
 */
static void wan_learn(const struct xwan_config *cfg, struct xwan_host *h, int i)
{
	const struct xwan_wan *w = &cfg->wans[i];
	const struct nl_link *l = &h->wan[i];
	uint32_t gw = w->gateway;
	int rc = 0;

	if (w->gateway_auto) {
		gw = 0;
		rc = nl_default_gateway(l->ifindex, cfg->route_table_base,
					cfg->route_table_base + XWAN_MAX_GATEWAYS - 1, &gw);
		if (l->p2p)
			gw = 0;
	}
	h->wan_gw[i] = gw;
	if (nl_addr_for_gateway(l->ifindex, gw, &h->wan_addr[i]))
		memset(&h->wan_addr[i], 0, sizeof(h->wan_addr[i]));
	if (!l->up || !l->carrier)
		h->wan_state[i] = XWAN_WAN_LINK_DOWN;
	else if (!h->wan_addr[i].addr && w->nat == XWAN_NAT_MASQUERADE)
		h->wan_state[i] = XWAN_WAN_NO_ADDR;
	else if (w->gateway_auto && rc && !l->p2p)
		h->wan_state[i] = XWAN_WAN_NO_GW;
	else
		h->wan_state[i] = XWAN_WAN_OK;
}

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
		rc = nl_link_get(cfg->wans[i].interface, &h->wan[i]);
		if (rc) {
			memset(&h->wan[i], 0, sizeof(h->wan[i]));
			h->wan_gw[i] = cfg->wans[i].gateway;
			h->wan_state[i] = XWAN_WAN_NO_IFACE;
			continue;
		}
		wan_learn(cfg, h, i);
	}
	rc = nl_addr_dump(h->addrs, XWAN_MAX_HOST_ADDRS);
	if (rc < 0) {
		snprintf(err, errlen, "cannot list the host's addresses: %s", strerror(-rc));
		return rc;
	}
	h->n_addrs = rc;
	rc = nl_addr6_dump(h->addrs6, XWAN_MAX_HOST_ADDRS);
	if (rc == -EAFNOSUPPORT)
		rc = 0;         /* a kernel without IPv6: no WAN has IPv6 facts */
	if (rc < 0) {
		snprintf(err, errlen, "cannot list the host's IPv6 addresses: %s", strerror(-rc));
		return rc;
	}
	h->n_addrs6 = rc;
	for (i = 0; i < cfg->n_wans; i++)
		wan6_learn(cfg, h, i);
	return 0;
}

/* Is gw inside the subnet of a (a renewed lease in the same subnet keeps its router)? */
static bool on_link(const struct nl_addr *a, uint32_t gw)
{
	uint32_t mask = a->plen ? htonl(~0U << (32 - a->plen)) : 0;

	return a->addr && a->plen < 32 && ((a->addr ^ gw) & mask) == 0;
}

void xwan_host_keep_learned(const struct xwan_config *cfg, struct xwan_host *h,
			    const struct xwan_host *prev)
{
	for (int i = 0; i < cfg->n_wans; i++) {
		if (!cfg->wans[i].gateway_auto || h->wan_state[i] != XWAN_WAN_NO_GW ||
		    !prev->wan_gw[i] || prev->wan[i].ifindex != h->wan[i].ifindex)
			continue;
		if (prev->wan_addr[i].addr != h->wan_addr[i].addr &&
		    !on_link(&h->wan_addr[i], prev->wan_gw[i]))
			continue;
		h->wan_gw[i] = prev->wan_gw[i];
		h->wan_state[i] = XWAN_WAN_OK;
	}
}

bool xwan_host_wan_changed(const struct xwan_host *a, const struct xwan_host *b, int w)
{
	return a->wan[w].ifindex != b->wan[w].ifindex || a->wan_gw[w] != b->wan_gw[w] ||
	       a->wan_addr[w].addr != b->wan_addr[w].addr ||
	       a->wan_addr[w].plen != b->wan_addr[w].plen || a->wan_state[w] != b->wan_state[w] ||
	       a->wan[w].mtu != b->wan[w].mtu || memcmp(a->wan[w].mac, b->wan[w].mac, 6) ||
	       memcmp(&a->wan6[w], &b->wan6[w], sizeof(a->wan6[w]));
}
