// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include "netevents.h"
#include "../loader/netlink.h"

#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/if.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

static void on_link(struct netevents *ne, const struct nlmsghdr *nlh)
{
	struct ifinfomsg *ifm = mnl_nlmsg_get_payload(nlh);

	if (ne->ops->link)
		ne->ops->link(ne->ctx, ifm->ifi_index,
			      nlh->nlmsg_type == RTM_NEWLINK && (ifm->ifi_flags & IFF_LOWER_UP) &&
			      (ifm->ifi_flags & IFF_UP));
}

static void on_addr(struct netevents *ne, const struct nlmsghdr *nlh)
{
	struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);
	struct nlattr *tb[IFA_MAX + 1] = {};
	const struct nlattr *a;

	if (ifa->ifa_family == AF_INET6 && ifa->ifa_scope == RT_SCOPE_UNIVERSE && ne->ops->ipv6)
		ne->ops->ipv6(ne->ctx);
	if (ifa->ifa_family != AF_INET || !ne->ops->addr)
		return;
	nl_attrs_parse(nlh, sizeof(*ifa), tb, IFA_MAX);
	a = tb[IFA_LOCAL] ? tb[IFA_LOCAL] : tb[IFA_ADDRESS];
	if (!a)
		return;
	ne->ops->addr(ne->ctx, (int)ifa->ifa_index, mnl_attr_get_u32(a),
		      nlh->nlmsg_type == RTM_NEWADDR);
}

static void on_neigh(struct netevents *ne, const struct nlmsghdr *nlh)
{
	struct ndmsg *ndm = mnl_nlmsg_get_payload(nlh);
	struct nlattr *tb[NDA_MAX + 1] = {};
	const uint16_t usable = NUD_REACHABLE | NUD_STALE | NUD_DELAY | NUD_PROBE |
				NUD_PERMANENT | NUD_NOARP;
	const uint8_t *mac = NULL;

	if (ndm->ndm_family != AF_INET || !ne->ops->neigh)
		return;
	nl_attrs_parse(nlh, sizeof(*ndm), tb, NDA_MAX);
	if (!tb[NDA_DST])
		return;
	if (tb[NDA_LLADDR] && mnl_attr_get_payload_len(tb[NDA_LLADDR]) == 6)
		mac = mnl_attr_get_payload(tb[NDA_LLADDR]);
	ne->ops->neigh(ne->ctx, ndm->ndm_ifindex, mnl_attr_get_u32(tb[NDA_DST]), mac,
		       nlh->nlmsg_type == RTM_NEWNEIGH && mac && (ndm->ndm_state & usable));
}

static void on_route(struct netevents *ne, const struct nlmsghdr *nlh)
{
	struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);

	if (rtm->rtm_dst_len != 0)
		return;
	if (rtm->rtm_family == AF_INET && ne->ops->default_route)
		ne->ops->default_route(ne->ctx);
	/* xwan's own per-WAN table routes (its resync writes them) are no news. */
	if (rtm->rtm_family == AF_INET6 && rtm->rtm_protocol != XWAN_RTPROT && ne->ops->ipv6)
		ne->ops->ipv6(ne->ctx);
}

static int msg_cb(const struct nlmsghdr *nlh, void *data)
{
	struct netevents *ne = data;

	switch (nlh->nlmsg_type) {
	case RTM_NEWLINK:
	case RTM_DELLINK:
		on_link(ne, nlh);
		break;
	case RTM_NEWADDR:
	case RTM_DELADDR:
		on_addr(ne, nlh);
		break;
	case RTM_NEWNEIGH:
	case RTM_DELNEIGH:
		on_neigh(ne, nlh);
		break;
	case RTM_NEWROUTE:
	case RTM_DELROUTE:
		on_route(ne, nlh);
		break;
	}
	return MNL_CB_OK;
}

static void netevents_ready(struct loop_handler *h, uint32_t events)
{
	struct netevents *ne = (struct netevents *)h;
	char buf[MNL_SOCKET_BUFFER_SIZE];
	ssize_t n;

	(void)events;
	for (;;) {
		n = mnl_socket_recvfrom(ne->nl, buf, sizeof(buf));
		if (n < 0) {
			/* ENOBUFS: notifications were lost; only a full re-read catches up. */
			if (errno == ENOBUFS && ne->ops->overflow) {
				ne->ops->overflow(ne->ctx);
				continue;
			}
			return;
		}
		mnl_cb_run(buf, (size_t)n, 0, 0, msg_cb, ne);
	}
}

int netevents_open(struct netevents *ne, int epfd, const struct netevents_ops *ops, void *ctx)
{
	int err, rcvbuf;

	memset(ne, 0, sizeof(*ne));
	ne->h.fn = netevents_ready;
	ne->ops = ops;
	ne->ctx = ctx;
	ne->nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (!ne->nl)
		return -errno;
	/*
	 * Room for a burst (a replugged modem, a routing daemon's full table):
	 * an overflow costs a full resync. XWAN_NETLINK_RCVBUF (bytes) exists
	 * for the tests that prove the resync.
	 */
	rcvbuf = getenv("XWAN_NETLINK_RCVBUF") ? atoi(getenv("XWAN_NETLINK_RCVBUF")) : 1 << 20;
	if (rcvbuf > 0)
		setsockopt(mnl_socket_get_fd(ne->nl), SOL_SOCKET, SO_RCVBUF, &rcvbuf,
			   sizeof(rcvbuf));
	if (mnl_socket_bind(ne->nl, RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_NEIGH | RTMGRP_IPV4_ROUTE |
					    RTMGRP_IPV6_IFADDR | RTMGRP_IPV6_ROUTE,
			    MNL_SOCKET_AUTOPID) < 0 ||
	    loop_add(epfd, mnl_socket_get_fd(ne->nl), EPOLLIN, &ne->h) < 0) {
		err = -errno;
		mnl_socket_close(ne->nl);
		ne->nl = NULL;
		return err;
	}
	return 0;
}

void netevents_close(struct netevents *ne)
{
	if (ne->nl)
		mnl_socket_close(ne->nl);
	ne->nl = NULL;
}
