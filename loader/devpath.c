// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include "devpath.h"

#include <bpf/bpf.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/genetlink.h>
#include <linux/if.h>
#include <linux/if_arp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sysctl.h"

/* linux/netdev.h (6.3); Debian 12's headers are older. */
#define XWAN_NETDEV_FAMILY         "netdev"
#define XWAN_NETDEV_CMD_DEV_GET    1
#define XWAN_NETDEV_A_DEV_IFINDEX  1
#define XWAN_NETDEV_A_DEV_XDP_FEATURES 3
#define XWAN_NETDEV_XDP_ACT_NDO_XMIT   (1ULL << 2)

#ifndef ARPHRD_RAWIP
#define ARPHRD_RAWIP 519
#endif

#define ETH_HLEN 14

struct genl_reply {
	uint16_t family;
	uint64_t features;
	bool have;
};

static int genl_attr_cb(const struct nlattr *a, void *data)
{
	struct genl_reply *r = data;

	switch (mnl_attr_get_type(a)) {
	case CTRL_ATTR_FAMILY_ID:
		if (!r->family && mnl_attr_get_payload_len(a) == 2)
			r->family = mnl_attr_get_u16(a);
		break;
	}
	return MNL_CB_OK;
}

static int family_cb(const struct nlmsghdr *nlh, void *data)
{
	mnl_attr_parse(nlh, sizeof(struct genlmsghdr), genl_attr_cb, data);
	return MNL_CB_OK;
}

static int dev_attr_cb(const struct nlattr *a, void *data)
{
	struct genl_reply *r = data;

	if (mnl_attr_get_type(a) == XWAN_NETDEV_A_DEV_XDP_FEATURES &&
	    mnl_attr_get_payload_len(a) == 8) {
		r->features = mnl_attr_get_u64(a);
		r->have = true;
	}
	return MNL_CB_OK;
}

static int dev_cb(const struct nlmsghdr *nlh, void *data)
{
	mnl_attr_parse(nlh, sizeof(struct genlmsghdr), dev_attr_cb, data);
	return MNL_CB_OK;
}

static int genl_talk(struct mnl_socket *nl, struct nlmsghdr *nlh, mnl_cb_t cb, void *data)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	unsigned int portid = mnl_socket_get_portid(nl), seq;
	int n;

	seq = nlh->nlmsg_seq = (unsigned int)time(NULL);
	nlh->nlmsg_flags |= NLM_F_ACK;
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	for (;;) {
		n = (int)mnl_socket_recvfrom(nl, buf, sizeof(buf));
		if (n < 0)
			return -errno;
		n = mnl_cb_run(buf, (size_t)n, seq, portid, cb, data);
		if (n < 0)
			return -errno;
		if (n == MNL_CB_STOP)
			return 0;
	}
}

static struct nlmsghdr *genl_put(char *buf, uint16_t type, uint8_t cmd, uint8_t version)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct genlmsghdr *g;

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST;
	g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->cmd = cmd;
	g->version = version;
	return nlh;
}

int devpath_xdp_features(int ifindex, uint64_t *features)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct genl_reply r = {};
	struct mnl_socket *nl;
	struct nlmsghdr *nlh;
	int rc;

	nl = mnl_socket_open(NETLINK_GENERIC);
	if (!nl)
		return -errno;
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		rc = -errno;
		goto out;
	}
	nlh = genl_put(buf, GENL_ID_CTRL, CTRL_CMD_GETFAMILY, 1);
	mnl_attr_put_strz(nlh, CTRL_ATTR_FAMILY_NAME, XWAN_NETDEV_FAMILY);
	rc = genl_talk(nl, nlh, family_cb, &r);
	if (rc || !r.family) {
		rc = -EOPNOTSUPP;       /* no netdev family: before 6.3 */
		goto out;
	}
	nlh = genl_put(buf, r.family, XWAN_NETDEV_CMD_DEV_GET, 1);
	mnl_attr_put_u32(nlh, XWAN_NETDEV_A_DEV_IFINDEX, (uint32_t)ifindex);
	rc = genl_talk(nl, nlh, dev_cb, &r);
	if (!rc && !r.have)
		rc = -EOPNOTSUPP;
	if (!rc)
		*features = r.features;
out:
	mnl_socket_close(nl);
	return rc;
}

static bool is_wireless(const char *name)
{
	char path[96];
	struct stat st;

	snprintf(path, sizeof(path), "/sys/class/net/%s/wireless", name);
	if (!stat(path, &st))
		return true;
	snprintf(path, sizeof(path), "/sys/class/net/%s/phy80211", name);
	return !stat(path, &st);
}

static void set_kind(const struct nl_link *l, struct dev_caps *c)
{
	const char *k = l->kind;

	if (!strcmp(k, "wireguard"))
		k = "wg";
	else if (!strcmp(k, "tun"))
		k = l->type == ARPHRD_ETHER ? "tap" : "tun";
	else if (!k[0] && l->type == ARPHRD_ETHER)
		k = is_wireless(l->name) ? "wifi" : "ethernet";
	else if (!k[0] && l->type == ARPHRD_PPP)
		k = "ppp";
	else if (!k[0] && l->type == ARPHRD_RAWIP)
		k = "rawip";
	else if (!k[0])
		k = "l3";
	snprintf(c->kind, sizeof(c->kind), "%s", k);
}

/*
 * Without the kernel's word: only kinds known to implement ndo_xdp_xmit.
 * A NIC that took native XDP very likely has it too (every in-tree driver
 * with native XDP but virtio's oldest did by 6.1); a veth depends on its
 * peer, which we cannot see, so it gets the kernel path.
 */
static void guess_xdp_tx(struct dev_caps *c)
{
	static const char *const with[] = { "ethernet", "tap", NULL };

	c->xdp_tx = false;
	for (int i = 0; with[i]; i++)
		if (!strcmp(c->kind, with[i]))
			c->xdp_tx = true;
	if (!c->xdp_tx)
		snprintf(c->why, sizeof(c->why), "%.10s: no XDP transmit", c->kind);
}

uint8_t devpath_l2_len(const struct nl_link *l)
{
	return l->type == ARPHRD_ETHER ? ETH_HLEN : 0;
}

int devpath_caps(const struct nl_link *l, struct dev_caps *c, char *err, size_t errlen)
{
	uint64_t f = 0;

	memset(c, 0, sizeof(*c));
	set_kind(l, c);
	c->l2_len = devpath_l2_len(l);
	switch (l->type) {
	case ARPHRD_ETHER:
		break;
	case ARPHRD_NONE:       /* tun, wireguard */
	case ARPHRD_PPP:
	case ARPHRD_RAWIP:      /* qmi_wwan / mhi raw-IP modems */
	case ARPHRD_TUNNEL:
	case ARPHRD_SIT:
		break;
	default:
		snprintf(err, errlen, "%s has link type %u, which xwan cannot parse (Ethernet "
			 "and header-less L3 devices only)", l->name, l->type);
		return -EPROTONOSUPPORT;
	}
	if (!c->l2_len) {
		snprintf(c->why, sizeof(c->why), "L3 device (%.12s)", c->kind);
		return 0;
	}
	if (devpath_xdp_features(l->ifindex, &f) == 0) {
		c->xdp_tx_known = true;
		c->xdp_tx = f & XWAN_NETDEV_XDP_ACT_NDO_XMIT;
		if (!c->xdp_tx && !strcmp(c->kind, "veth"))
			snprintf(c->why, sizeof(c->why), "veth peer has no XDP/GRO");
		else if (!c->xdp_tx)
			snprintf(c->why, sizeof(c->why), "%.10s: no ndo_xdp_xmit", c->kind);
		return 0;
	}
	guess_xdp_tx(c);
	return 0;
}

bool devpath_wants_xdp(const struct dev_caps *c)
{
	return c->l2_len == ETH_HLEN;
}

bool devpath_redirects(uint8_t in_mode, const struct dev_caps *out)
{
	if (out->l2_len != ETH_HLEN)
		return false;   /* the frame has an Ethernet header it must not carry */
	if (in_mode == XDP_ATTACH_GENERIC)
		return true;    /* generic XDP's redirect transmits an skb: any device */
	return in_mode == XDP_ATTACH_NATIVE && out->xdp_tx;
}

int devpath_sync(const struct xwan_maps *m, struct xwan_runtime *rt)
{
	struct dev_caps caps[XWAN_MAX_IFACES];
	struct tx_path_key k, next;
	bool have = false;
	char err[160];
	int rc = 0;

	for (__u32 i = 0; i < rt->n_attach && i < XWAN_MAX_IFACES; i++) {
		struct nl_link l;

		memset(&caps[i], 0, sizeof(caps[i]));
		if (nl_link_get_index((int)rt->attach[i].ifindex, &l) ||
		    devpath_caps(&l, &caps[i], err, sizeof(err)))
			snprintf(caps[i].why, sizeof(caps[i].why), "gone");
		rt->attach[i].l2_len = caps[i].l2_len;
		snprintf(rt->attach[i].kind, sizeof(rt->attach[i].kind), "%.11s", caps[i].kind);
	}
	/* Start from nothing: no entry means the kernel path, always safe. */
	while (bpf_map_get_next_key(m->fd[XM_TX_PATHS], have ? &k : NULL, &next) == 0) {
		bpf_map_delete_elem(m->fd[XM_TX_PATHS], &next);
		have = false;
	}
	for (__u32 o = 0; o < rt->n_attach && o < XWAN_MAX_IFACES; o++) {
		struct xwan_attach *out = &rt->attach[o];
		int yes = 0, no = 0;

		for (__u32 i = 0; i < rt->n_attach && i < XWAN_MAX_IFACES; i++) {
			const struct xwan_attach *in = &rt->attach[i];
			struct tx_path t = {};

			/* LAN to LAN (itself too): hairpinned flows. */
			if ((in->role == out->role && in->role != IFACE_LAN) ||
			    in->xdp_mode == XDP_ATTACH_NONE)
				continue;
			t.path = devpath_redirects(in->xdp_mode, &caps[o]) ? XDP_TX_REDIRECT
									    : XDP_TX_KERNEL;
			/* The views describe what crosses from one side to the other. */
			if (in->role != out->role)
				t.path == XDP_TX_REDIRECT ? yes++ : no++;
			k.in_ifindex = in->ifindex;
			k.out_ifindex = out->ifindex;
			if (bpf_map_update_elem(m->fd[XM_TX_PATHS], &k, &t, BPF_ANY) && !rc)
				rc = -errno;
		}
		out->tx = !yes && !no ? IFACE_TX_NONE : !no ? IFACE_TX_XDP
				      : !yes ? IFACE_TX_KERNEL : IFACE_TX_MIXED;
		snprintf(out->why, sizeof(out->why), "%s", yes && !no ? "" : caps[o].why);
	}
	return rc;
}

int devpath_refresh(const struct xwan_maps *m, char *what, size_t len)
{
	struct xwan_runtime *rt = calloc(1, sizeof(*rt));
	uint8_t before[XWAN_MAX_IFACES];
	size_t used = 0;
	int rc, n = 0;

	if (!rt)
		return -ENOMEM;
	what[0] = 0;
	rc = xwan_runtime_read(m, rt);
	for (__u32 i = 0; !rc && i < rt->n_attach && i < XWAN_MAX_IFACES; i++)
		before[i] = rt->attach[i].tx;
	if (!rc)
		rc = devpath_sync(m, rt);
	for (__u32 i = 0; !rc && i < rt->n_attach && i < XWAN_MAX_IFACES; i++) {
		const struct xwan_attach *a = &rt->attach[i];

		if (a->tx == before[i])
			continue;
		n++;
		if (used < len)
			used += (size_t)snprintf(what + used, len - used, "%s%s: %s%s%s%s",
						 used ? "; " : "", a->ifname,
						 devpath_tx_name(a->tx), a->why[0] ? " (" : "",
						 a->why, a->why[0] ? ")" : "");
	}
	if (!rc && n)
		rc = xwan_runtime_write(m, rt);
	free(rt);
	return rc ? rc : n;
}

const char *devpath_rx_name(uint8_t xdp_mode)
{
	return xdp_mode == XDP_ATTACH_NATIVE ? "xdp native" :
	       xdp_mode == XDP_ATTACH_GENERIC ? "xdp generic" : "tc";
}

const char *devpath_tx_name(uint8_t tx)
{
	static const char *const n[] = { "-", "xdp redirect", "kernel", "xdp redirect/kernel" };

	return tx < 4 ? n[tx] : "?";
}

int devpath_lan_warning(const struct nl_link *l, char *msg, size_t len)
{
	struct nl_link parent = {};
	int dev, all;

	if (strcmp(l->kind, "macvlan") || l->link <= 0 || nl_link_get_index(l->link, &parent))
		return 0;
	/* The kernel uses the larger of the two. */
	dev = xwan_conf_int("ipv4", parent.name, "arp_ignore");
	all = xwan_conf_int("ipv4", "all", "arp_ignore");
	if (dev < 0 || all < 0 || dev > 0 || all > 0)
		return 0;
	snprintf(msg, len, "%s is a macvlan on %s, which answers ARP for %s's addresses "
		 "(arp_ignore 0): clients that learn %s's MAC are routed past xwan, "
		 "untranslated; set sysctl net.ipv4.conf.%s.arp_ignore=1", l->name, parent.name,
		 l->name, parent.name, parent.name);
	return 1;
}
