/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * rtnetlink, through libmnl: what xwan needs to know about and to change in
 * the host's network stack. Addresses are IPv4 in network byte order. All
 * functions act in the caller's network namespace and return 0 or -errno.
 */
#ifndef XWAN_NETLINK_H
#define XWAN_NETLINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <net/if.h>

struct nlmsghdr;
struct nlattr;

/*
 * Index a message's attributes (after a header of hdrlen bytes) by type
 * into tb[0..max], which the caller zeroes; newer attribute types than the
 * headers know are skipped, never written past tb.
 */
void nl_attrs_parse(const struct nlmsghdr *nlh, size_t hdrlen, struct nlattr **tb,
		    unsigned int max);

struct nl_link {
	int ifindex;
	char name[IFNAMSIZ];
	uint8_t mac[6];
	uint32_t mtu;
	bool up;            /* administratively up */
	bool carrier;       /* IFF_LOWER_UP */
	uint16_t type;      /* ARPHRD_* */
	uint32_t flags;     /* IFF_* (IFF_NOARP, IFF_POINTOPOINT...) */
	char kind[16];      /* rtnl link kind: veth, bridge, bond, vlan, tun... ("" for a NIC) */
	bool has_master;    /* a port of a bridge or bond */
	int link;           /* IFLA_LINK: the parent of a macvlan or VLAN, 0 if none */
	bool p2p;           /* point-to-point or no link-layer address (ppp, tun,
			       raw-ip wwan, wg): the device is the route */
};

struct nl_addr {
	int ifindex;
	uint32_t addr;
	uint8_t plen;
	uint32_t broadcast; /* 0 when none */
	bool secondary;
};

int nl_link_get(const char *name, struct nl_link *out);
int nl_link_get_index(int ifindex, struct nl_link *out);

/* Every IPv4 address of the namespace; returns the count or -errno. */
int nl_addr_dump(struct nl_addr *out, int max);

/* The address a WAN should NAT to: the one whose subnet holds the gateway,
 * else its first primary address. */
int nl_addr_for_gateway(int ifindex, uint32_t gateway, struct nl_addr *out);

/* MAC of a neighbour in a usable state (reachable, stale, permanent...). */
int nl_neigh_get(int ifindex, uint32_t addr, uint8_t mac[6]);
/* Ask the kernel to resolve a neighbour (ARP) without sending data to it. */
int nl_neigh_resolve(int ifindex, uint32_t addr);

/*
 * The routing protocol xwan marks its own routes with (`ip route` shows
 * "proto 120"), so they are never mistaken for a DHCP client's.
 */
#define XWAN_RTPROT 120

/*
 * The default route someone else (a DHCP or PPP client, the admin) keeps
 * through ifindex, in any table but [skip_lo, skip_hi] (xwan's per-WAN
 * tables): others' routes before xwan's own, the main table's first, else the
 * lowest table id; the lowest metric within a table; multipath next hops
 * count. *gateway gets its next
 * hop, 0 for a device route. Returns 0, -ENOENT if there is none, or -errno.
 */
int nl_default_gateway(int ifindex, uint32_t skip_lo, uint32_t skip_hi, uint32_t *gateway);

/* "default via gw dev ifindex onlink" in table, add (replace) or delete. */
int nl_route_default(uint32_t table, uint32_t gateway, int ifindex, bool add);
/* Flush every route of a table. */
int nl_route_flush_table(uint32_t table);

/* "<addr>/<plen> dev ifindex scope link" in table, add (replace) or delete. */
int nl_route_connected(uint32_t table, uint32_t addr, uint8_t plen, int ifindex, bool add);

/* "ip rule from addr lookup table priority prio", add or delete. */
int nl_rule_src(uint32_t prio, uint32_t addr, uint32_t table, bool add);

/* Delete every IPv4 rule with a priority in [prio_lo, prio_hi] that looks up
 * a table in [table_lo, table_hi]. Returns how many, or -errno. */
int nl_rules_flush(uint32_t prio_lo, uint32_t prio_hi, uint32_t table_lo, uint32_t table_hi);

/* "ip rule fwmark mark/mask lookup table priority prio", add or delete. */
int nl_rule(uint32_t prio, uint32_t mark, uint32_t mask, uint32_t table, bool add);

/* ---- IPv6 (issue 13): the same operations for the IPv6 side of a WAN ---- */

struct nl_addr6 {
	int ifindex;
	uint8_t addr[16];
	uint8_t plen;
	uint8_t scope;      /* RT_SCOPE_UNIVERSE (0) for a global address */
	uint32_t flags;     /* IFA_F_* (tentative, deprecated, ...) */
};

/* Every IPv6 address of the namespace; returns the count or -errno. */
int nl_addr6_dump(struct nl_addr6 *out, int max);

/*
 * nl_default_gateway's choice among the IPv6 default routes through ifindex
 * (the kernel's RA-learned "proto ra" one, or one installed by hand):
 * gateway gets its next hop, usually the router's link-local address; all
 * zero for a device route.
 */
int nl_default_gateway6(int ifindex, uint32_t skip_lo, uint32_t skip_hi, uint8_t gateway[16]);

/* "dst/dst_len [via gw] dev oif [onlink]" in table (gw NULL: on-link), add or delete. */
int nl_route6(uint32_t table, const uint8_t dst[16], uint8_t dst_len, const uint8_t gw[16],
	      int oif, bool add);

/* "ip -6 rule fwmark mark/mask lookup table priority prio", add or delete. */
int nl_rule6(uint32_t prio, uint32_t mark, uint32_t mask, uint32_t table, bool add);

/* Delete every IPv6 rule with a priority in [prio_lo, prio_hi] that looks up
 * a table in [table_lo, table_hi], and every IPv6 route of those tables. */
int nl6_flush(uint32_t prio_lo, uint32_t prio_hi, uint32_t table_lo, uint32_t table_hi);

#endif /* XWAN_NETLINK_H */
