/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * What kind of device each LAN and WAN is, and the path XDP takes into it.
 *
 * An XDP redirect is not a transmit: from native XDP the frame reaches the
 * target only through its ndo_xdp_xmit, which bridges, bonds, VLAN
 * sub-interfaces, Wi-Fi and L3 devices do not have, and which a veth has
 * only while its peer runs XDP or GRO. The kernel says which devices have it
 * (netdev genetlink, NETDEV_XDP_ACT_NDO_XMIT, 6.3+); older kernels get a
 * conservative guess by device kind. Where the redirect would not be
 * transmitted, XDP hands the packet to the kernel path (tc marks it with its
 * flow), which delivers to every device.
 */
#ifndef XWAN_DEVPATH_H
#define XWAN_DEVPATH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "maps.h"
#include "netlink.h"

struct dev_caps {
	uint8_t l2_len;         /* 14 (Ethernet), 0 (L3 device) */
	bool xdp_tx;            /* ndo_xdp_xmit: a native-XDP redirect into it is sent */
	bool xdp_tx_known;      /* xdp_tx came from the kernel, not from the kind */
	char kind[16];          /* ethernet, veth, bridge, bond, vlan, wifi, tun, tap, ppp, wg... */
	char why[32];           /* why a native redirect into it is not sent ("" if it is) */
};

/* Bytes of link header in front of the IP header on this device: 14 on
 * Ethernet, 0 on L3 devices (and on anything devpath_caps refuses). */
uint8_t devpath_l2_len(const struct nl_link *l);

/* The device's link header and XDP transmit support; -EPROTONOSUPPORT with
 * err set for a link type xwan cannot parse. */
int devpath_caps(const struct nl_link *l, struct dev_caps *c, char *err, size_t errlen);

/* The kernel's netdev XDP features of ifindex (NETDEV_XDP_ACT_*); -EOPNOTSUPP
 * before 6.3. */
int devpath_xdp_features(int ifindex, uint64_t *features);

/* Does an XDP program attached in in_mode (enum xdp_attach_mode) that
 * redirects into a device with caps out get its frame transmitted? */
bool devpath_redirects(uint8_t in_mode, const struct dev_caps *out);

/* XDP on this device? No for L3 devices: no Ethernet header to parse, and
 * their generic XDP is slower than the tc path. */
bool devpath_wants_xdp(const struct dev_caps *c);

/*
 * Decide every (XDP source, target) pair of rt's interfaces, write the
 * tx_paths map and each attachment's tx summary, kind and why. Interfaces
 * are re-read from the kernel (a veth's transmit support follows its peer).
 */
int devpath_sync(const struct xwan_maps *m, struct xwan_runtime *rt);

/*
 * devpath_sync on the running dataplane's record, written back when a path
 * changed (a veth whose peer dropped XDP or GRO, a NIC whose driver
 * reloaded): returns how many interfaces changed (their names in what, for
 * the log), or -errno.
 */
int devpath_refresh(const struct xwan_maps *m, char *what, size_t len);

/*
 * A LAN on a macvlan whose parent answers ARP for the macvlan's address
 * (arp_ignore 0 on the parent and on "all"): clients that learn the
 * parent's MAC are routed past xwan by the kernel, untranslated. 1 with
 * the warning in msg, 0 when there is nothing to say.
 */
int devpath_lan_warning(const struct nl_link *l, char *msg, size_t len);

/* "xdp native", "xdp generic" or "tc" (how packets arriving on it are handled),
 * and the tx path into it, for the views. */
const char *devpath_rx_name(uint8_t xdp_mode);
const char *devpath_tx_name(uint8_t tx);

#endif /* XWAN_DEVPATH_H */
