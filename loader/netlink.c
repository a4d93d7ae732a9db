// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include "netlink.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/fib_rules.h>
#include <linux/if.h>
#include <linux/if_link.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* One request, its replies through cb (may be NULL), then the ACK. */
static int nl_talk(struct nlmsghdr *nlh, mnl_cb_t cb, void *data)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct mnl_socket *nl;
	unsigned int seq, portid;
	int ret, err = 0;

	nl = mnl_socket_open(NETLINK_ROUTE);
	if (!nl)
		return -errno;
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		err = -errno;
		goto out;
	}
	portid = mnl_socket_get_portid(nl);
	seq = nlh->nlmsg_seq = (unsigned int)time(NULL);
	nlh->nlmsg_flags |= NLM_F_ACK;
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) {
		err = -errno;
		goto out;
	}
	for (;;) {
		ret = mnl_socket_recvfrom(nl, buf, sizeof(buf));
		if (ret < 0) {
			err = -errno;
			break;
		}
		ret = mnl_cb_run(buf, ret, seq, portid, cb, data);
		if (ret < 0) {
			err = -errno;
			break;
		}
		if (ret == MNL_CB_STOP)
			break;
	}
out:
	mnl_socket_close(nl);
	return err;
}

/*
 * Dump one kind of object (RTM_GET*): hdr is the family header the request
 * carries (its first byte is the address family in every rtnetlink header).
 */
static int nl_dump(uint16_t type, const void *hdr, size_t hdr_len, mnl_cb_t cb, void *data)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	memcpy(mnl_nlmsg_put_extra_header(nlh, hdr_len), hdr, hdr_len);
	return nl_talk(nlh, cb, data);
}

/*
 * Index a message's attributes by type into tb[0..max]; attributes of
 * unknown (newer) types are skipped.
 */
struct attr_table {
	const struct nlattr **tb;
	unsigned int max;
};

static int attr_cb(const struct nlattr *attr, void *data)
{
	const struct attr_table *t = data;
	unsigned int type = mnl_attr_get_type(attr);

	if (type <= t->max)
		t->tb[type] = attr;
	return MNL_CB_OK;
}

void nl_attrs_parse(const struct nlmsghdr *nlh, size_t hdrlen, struct nlattr **tb,
		    unsigned int max)
{
	struct attr_table t = { .tb = (const struct nlattr **)tb, .max = max };

	mnl_attr_parse(nlh, (unsigned int)hdrlen, attr_cb, &t);
}

/* ---- links ---- */

static int link_cb(const struct nlmsghdr *nlh, void *data)
{
	struct ifinfomsg *ifm = mnl_nlmsg_get_payload(nlh);
	struct nlattr *tb[IFLA_MAX + 1] = {};
	struct nl_link *out = data;

	nl_attrs_parse(nlh, sizeof(*ifm), tb, IFLA_MAX);
	out->ifindex = ifm->ifi_index;
	out->type = ifm->ifi_type;
	out->flags = ifm->ifi_flags;
	out->has_master = tb[IFLA_MASTER] != NULL;
	if (tb[IFLA_LINK])
		out->link = (int)mnl_attr_get_u32(tb[IFLA_LINK]);
	if (tb[IFLA_LINKINFO]) {
		struct nlattr *li[IFLA_INFO_MAX + 1] = {};
		struct attr_table t = { (const struct nlattr **)li, IFLA_INFO_MAX };

		mnl_attr_parse_nested(tb[IFLA_LINKINFO], attr_cb, &t);
		if (li[IFLA_INFO_KIND])
			snprintf(out->kind, sizeof(out->kind), "%s",
				 mnl_attr_get_str(li[IFLA_INFO_KIND]));
	}
	out->up = ifm->ifi_flags & IFF_UP;
	out->carrier = ifm->ifi_flags & IFF_LOWER_UP;
	out->p2p = (ifm->ifi_flags & IFF_POINTOPOINT) || !tb[IFLA_ADDRESS] || mnl_attr_get_payload_len(tb[IFLA_ADDRESS]) != 6;
	if (tb[IFLA_IFNAME])
		snprintf(out->name, sizeof(out->name), "%s", mnl_attr_get_str(tb[IFLA_IFNAME]));
	if (tb[IFLA_MTU])
		out->mtu = mnl_attr_get_u32(tb[IFLA_MTU]);
	if (tb[IFLA_ADDRESS] && mnl_attr_get_payload_len(tb[IFLA_ADDRESS]) == 6)
		memcpy(out->mac, mnl_attr_get_payload(tb[IFLA_ADDRESS]), 6);
	return MNL_CB_OK;
}

int nl_link_get_index(int ifindex, struct nl_link *out)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct ifinfomsg *ifm;

	memset(out, 0, sizeof(*out));
	nlh->nlmsg_type = RTM_GETLINK;
	nlh->nlmsg_flags = NLM_F_REQUEST;
	ifm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifm));
	ifm->ifi_family = AF_UNSPEC;
	ifm->ifi_index = ifindex;
	return nl_talk(nlh, link_cb, out);
}

int nl_link_get(const char *name, struct nl_link *out)
{
	unsigned int idx = if_nametoindex(name);

	if (!idx)
		return -ENODEV;
	return nl_link_get_index((int)idx, out);
}

/* ---- addresses ---- */

struct addr_dump {
	struct nl_addr *out;
	int max, n;
};

static int addr_cb(const struct nlmsghdr *nlh, void *data)
{
	struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);
	struct nlattr *tb[IFA_MAX + 1] = {};
	struct addr_dump *d = data;
	struct nl_addr *a;

	if (ifa->ifa_family != AF_INET || d->n >= d->max)
		return MNL_CB_OK;
	nl_attrs_parse(nlh, sizeof(*ifa), tb, IFA_MAX);
	if (!tb[IFA_LOCAL] && !tb[IFA_ADDRESS])
		return MNL_CB_OK;
	a = &d->out[d->n++];
	memset(a, 0, sizeof(*a));
	a->ifindex = (int)ifa->ifa_index;
	a->plen = ifa->ifa_prefixlen;
	a->secondary = ifa->ifa_flags & IFA_F_SECONDARY;
	a->addr = mnl_attr_get_u32(tb[IFA_LOCAL] ? tb[IFA_LOCAL] : tb[IFA_ADDRESS]);
	if (tb[IFA_BROADCAST])
		a->broadcast = mnl_attr_get_u32(tb[IFA_BROADCAST]);
	return MNL_CB_OK;
}

int nl_addr_dump(struct nl_addr *out, int max)
{
	struct addr_dump d = { .out = out, .max = max };
	struct rtgenmsg rt = { .rtgen_family = AF_INET };
	int err = nl_dump(RTM_GETADDR, &rt, sizeof(rt), addr_cb, &d);

	return err ? err : d.n;
}

static uint32_t prefix_mask(uint8_t plen)
{
	return plen ? htonl(~0U << (32 - plen)) : 0;
}

int nl_addr_for_gateway(int ifindex, uint32_t gateway, struct nl_addr *out)
{
	struct nl_addr addrs[256];
	int n = nl_addr_dump(addrs, 256), i, first = -1;

	if (n < 0)
		return n;
	for (i = 0; i < n; i++) {
		if (addrs[i].ifindex != ifindex)
			continue;
		if (((addrs[i].addr ^ gateway) & prefix_mask(addrs[i].plen)) == 0) {
			*out = addrs[i];
			return 0;
		}
		if (first < 0 && !addrs[i].secondary)
			first = i;
	}
	if (first < 0)
		return -EADDRNOTAVAIL;
	*out = addrs[first];
	return 0;
}

/* ---- neighbours ---- */

struct neigh_query {
	int ifindex;
	uint32_t addr;
	uint8_t mac[6];
	bool found;
};

static int neigh_cb(const struct nlmsghdr *nlh, void *data)
{
	struct ndmsg *ndm = mnl_nlmsg_get_payload(nlh);
	struct nlattr *tb[NDA_MAX + 1] = {};
	struct neigh_query *q = data;
	const uint16_t usable = NUD_REACHABLE | NUD_STALE | NUD_DELAY | NUD_PROBE |
				NUD_PERMANENT | NUD_NOARP;

	if (ndm->ndm_family != AF_INET || ndm->ndm_ifindex != q->ifindex)
		return MNL_CB_OK;
	if (!(ndm->ndm_state & usable))
		return MNL_CB_OK;
	nl_attrs_parse(nlh, sizeof(*ndm), tb, NDA_MAX);
	if (!tb[NDA_DST] || !tb[NDA_LLADDR] || mnl_attr_get_u32(tb[NDA_DST]) != q->addr)
		return MNL_CB_OK;
	if (mnl_attr_get_payload_len(tb[NDA_LLADDR]) != 6)
		return MNL_CB_OK;
	memcpy(q->mac, mnl_attr_get_payload(tb[NDA_LLADDR]), 6);
	q->found = true;
	return MNL_CB_OK;
}

int nl_neigh_get(int ifindex, uint32_t addr, uint8_t mac[6])
{
	struct neigh_query q = { .ifindex = ifindex, .addr = addr };
	struct ndmsg ndm = { .ndm_family = AF_INET, .ndm_ifindex = ifindex };
	int err = nl_dump(RTM_GETNEIGH, &ndm, sizeof(ndm), neigh_cb, &q);

	if (err)
		return err;
	if (!q.found)
		return -ENOENT;
	memcpy(mac, q.mac, 6);
	return 0;
}

int nl_neigh_resolve(int ifindex, uint32_t addr)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct ndmsg *ndm;

	nlh->nlmsg_type = RTM_NEWNEIGH;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_CREATE | NLM_F_REPLACE;
	ndm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ndm));
	ndm->ndm_family = AF_INET;
	ndm->ndm_ifindex = ifindex;
	ndm->ndm_state = NUD_NONE;
	ndm->ndm_flags = NTF_USE;
	mnl_attr_put_u32(nlh, NDA_DST, addr);
	return nl_talk(nlh, NULL, NULL);
}

/* ---- policy routing ---- */

/*
 * One IPv4 route of a table: a default via a gateway (onlink), or a
 * connected prefix on a device. Deleting matches any scope.
 */
struct route_spec {
	uint32_t table;
	uint32_t dst;           /* network order; 0 with dst_len 0: default */
	uint8_t dst_len;
	uint32_t gateway;       /* 0: on-link (scope link) */
	uint32_t oif;
};

static int route_op(const struct route_spec *r, bool add)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct rtmsg *rtm;

	nlh->nlmsg_type = add ? RTM_NEWROUTE : RTM_DELROUTE;
	nlh->nlmsg_flags = NLM_F_REQUEST | (add ? NLM_F_CREATE | NLM_F_REPLACE : 0);
	rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	rtm->rtm_family = AF_INET;
	rtm->rtm_dst_len = r->dst_len;
	rtm->rtm_table = RT_TABLE_UNSPEC;       /* RTA_TABLE carries ids >= 256 too */
	if (add) {
		rtm->rtm_protocol = XWAN_RTPROT;
		rtm->rtm_scope = r->gateway ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK;
		rtm->rtm_type = RTN_UNICAST;
		rtm->rtm_flags = r->gateway ? RTNH_F_ONLINK : 0;
	} else {
		rtm->rtm_scope = RT_SCOPE_NOWHERE;
	}
	mnl_attr_put_u32(nlh, RTA_TABLE, r->table);
	if (r->dst_len)
		mnl_attr_put_u32(nlh, RTA_DST, r->dst & prefix_mask(r->dst_len));
	if (r->gateway)
		mnl_attr_put_u32(nlh, RTA_GATEWAY, r->gateway);
	if (r->oif)
		mnl_attr_put_u32(nlh, RTA_OIF, r->oif);
	return nl_talk(nlh, NULL, NULL);
}

int nl_route_default(uint32_t table, uint32_t gateway, int ifindex, bool add)
{
	struct route_spec r = { .table = table, .gateway = gateway, .oif = (uint32_t)ifindex };

	return route_op(&r, add);
}

int nl_route_connected(uint32_t table, uint32_t addr, uint8_t plen, int ifindex, bool add)
{
	struct route_spec r = { .table = table, .dst = addr, .dst_len = plen,
				.oif = (uint32_t)ifindex };

	return route_op(&r, add);
}

struct default_query {
	int ifindex;
	uint8_t family;         /* AF_INET or AF_INET6: the same choice for both */
	uint32_t skip_lo, skip_hi;
	bool found, ours, cand_ours;
	uint32_t table, metric;
	uint8_t gateway[16];    /* IPv4: the first 4 bytes */
};

/*
 * Does this candidate beat the one found so far? Someone else's route before
 * xwan's own (manage_default_route's copy in main of what was learned), then
 * main first, then table id, then metric.
 */
static bool default_better(const struct default_query *q, uint32_t table, uint32_t metric)
{
	if (!q->found)
		return true;
	if (q->ours != q->cand_ours)
		return q->ours;
	if ((table == RT_TABLE_MAIN) != (q->table == RT_TABLE_MAIN))
		return table == RT_TABLE_MAIN;
	if (table != q->table)
		return table < q->table;
	return metric < q->metric;
}

/* gw: the route's RTA_GATEWAY payload of len bytes, NULL for a device route. */
static void default_offer(struct default_query *q, uint32_t table, uint32_t metric,
			  const void *gw, size_t len)
{
	if (!default_better(q, table, metric))
		return;
	q->found = true;
	q->ours = q->cand_ours;
	q->table = table;
	q->metric = metric;
	memset(q->gateway, 0, sizeof(q->gateway));
	if (gw && len == (q->family == AF_INET ? 4U : 16U))
		memcpy(q->gateway, gw, len);
}

static void default_multipath(struct default_query *q, const struct nlattr *mp,
			      uint32_t table, uint32_t metric)
{
	const struct rtnexthop *nh = mnl_attr_get_payload(mp);
	int left = (int)mnl_attr_get_payload_len(mp);

	while (left >= (int)sizeof(*nh) && nh->rtnh_len >= sizeof(*nh) && nh->rtnh_len <= left) {
		const struct rtattr *a = RTNH_DATA(nh);
		int alen = nh->rtnh_len - (int)RTNH_LENGTH(0);
		const void *gw = NULL;
		size_t glen = 0;

		for (; RTA_OK(a, alen); a = RTA_NEXT(a, alen))
			if (a->rta_type == RTA_GATEWAY) {
				gw = RTA_DATA(a);
				glen = RTA_PAYLOAD(a);
			}
		if (nh->rtnh_ifindex == q->ifindex)
			default_offer(q, table, metric, gw, glen);
		left -= RTNH_ALIGN(nh->rtnh_len);
		nh = RTNH_NEXT(nh);
	}
}

static int default_cb(const struct nlmsghdr *nlh, void *data)
{
	struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);
	struct nlattr *tb[RTA_MAX + 1] = {};
	struct default_query *q = data;
	uint32_t table, metric;

	if (rtm->rtm_family != q->family || rtm->rtm_dst_len != 0 || rtm->rtm_type != RTN_UNICAST)
		return MNL_CB_OK;
	q->cand_ours = rtm->rtm_protocol == XWAN_RTPROT;
	nl_attrs_parse(nlh, sizeof(*rtm), tb, RTA_MAX);
	table = tb[RTA_TABLE] ? mnl_attr_get_u32(tb[RTA_TABLE]) : rtm->rtm_table;
	if (table >= q->skip_lo && table <= q->skip_hi)
		return MNL_CB_OK;
	metric = tb[RTA_PRIORITY] ? mnl_attr_get_u32(tb[RTA_PRIORITY]) : 0;
	if (tb[RTA_MULTIPATH]) {
		default_multipath(q, tb[RTA_MULTIPATH], table, metric);
		return MNL_CB_OK;
	}
	if (tb[RTA_OIF] && (int)mnl_attr_get_u32(tb[RTA_OIF]) == q->ifindex)
		default_offer(q, table, metric,
			      tb[RTA_GATEWAY] ? mnl_attr_get_payload(tb[RTA_GATEWAY]) : NULL,
			      tb[RTA_GATEWAY] ? mnl_attr_get_payload_len(tb[RTA_GATEWAY]) : 0);
	return MNL_CB_OK;
}

/* The chosen default route's next hop, len bytes of it into gateway. */
static int default_find(int family, int ifindex, uint32_t skip_lo, uint32_t skip_hi,
			void *gateway, size_t len)
{
	struct default_query q = { .ifindex = ifindex, .family = (uint8_t)family,
				   .skip_lo = skip_lo, .skip_hi = skip_hi };
	struct rtmsg rtm = { .rtm_family = (unsigned char)family };
	int err = nl_dump(RTM_GETROUTE, &rtm, sizeof(rtm), default_cb, &q);

	if (err)
		return err;
	if (!q.found)
		return -ENOENT;
	memcpy(gateway, q.gateway, len);
	return 0;
}

int nl_default_gateway(int ifindex, uint32_t skip_lo, uint32_t skip_hi, uint32_t *gateway)
{
	return default_find(AF_INET, ifindex, skip_lo, skip_hi, gateway, 4);
}

int nl_default_gateway6(int ifindex, uint32_t skip_lo, uint32_t skip_hi, uint8_t gateway[16])
{
	return default_find(AF_INET6, ifindex, skip_lo, skip_hi, gateway, 16);
}

#define NL_FLUSH_BATCH 64

/* One dump's worth of a table's routes; a flush repeats until a dump is short. */
struct route_list {
	uint32_t table;
	struct route_spec r[NL_FLUSH_BATCH];
	int n;
	bool more;              /* the dump had routes beyond r[] */
};

static int route_cb(const struct nlmsghdr *nlh, void *data)
{
	struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);
	struct nlattr *tb[RTA_MAX + 1] = {};
	struct route_list *l = data;
	struct route_spec *r;
	uint32_t table;

	nl_attrs_parse(nlh, sizeof(*rtm), tb, RTA_MAX);
	table = tb[RTA_TABLE] ? mnl_attr_get_u32(tb[RTA_TABLE]) : rtm->rtm_table;
	if (table != l->table)
		return MNL_CB_OK;
	if (l->n >= NL_FLUSH_BATCH) {
		l->more = true;
		return MNL_CB_OK;
	}
	r = &l->r[l->n++];
	r->table = table;
	r->dst_len = rtm->rtm_dst_len;
	r->dst = tb[RTA_DST] ? mnl_attr_get_u32(tb[RTA_DST]) : 0;
	r->gateway = tb[RTA_GATEWAY] ? mnl_attr_get_u32(tb[RTA_GATEWAY]) : 0;
	r->oif = tb[RTA_OIF] ? mnl_attr_get_u32(tb[RTA_OIF]) : 0;
	return MNL_CB_OK;
}

int nl_route_flush_table(uint32_t table)
{
	struct rtmsg rtm = { .rtm_family = AF_INET };
	struct route_list l;
	int err;

	/* Bounded: each round deletes a full batch or ends the loop. */
	for (int round = 0; round < 1024; round++) {
		l = (struct route_list){ .table = table };
		err = nl_dump(RTM_GETROUTE, &rtm, sizeof(rtm), route_cb, &l);
		if (err)
			return err;
		for (int i = 0; i < l.n; i++) {
			err = route_op(&l.r[i], false);
			if (err && err != -ESRCH)
				return err;
		}
		if (!l.more)
			return 0;
	}
	return -EAGAIN;
}

/* One IPv4 rule: fwmark/mask (mask 0: none) or from src (src_len 0: none). */
struct rule_spec {
	uint32_t prio, table, mark, mask, src;
	uint8_t src_len;
};

static int rule_op(const struct rule_spec *r, bool add)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct fib_rule_hdr *frh;

	nlh->nlmsg_type = add ? RTM_NEWRULE : RTM_DELRULE;
	nlh->nlmsg_flags = NLM_F_REQUEST | (add ? NLM_F_CREATE | NLM_F_EXCL : 0);
	frh = mnl_nlmsg_put_extra_header(nlh, sizeof(*frh));
	frh->family = AF_INET;
	frh->action = FR_ACT_TO_TBL;
	frh->src_len = r->src_len;
	frh->table = RT_TABLE_UNSPEC;           /* FRA_TABLE carries ids >= 256 too */
	mnl_attr_put_u32(nlh, FRA_PRIORITY, r->prio);
	mnl_attr_put_u32(nlh, FRA_TABLE, r->table);
	if (r->mask) {
		mnl_attr_put_u32(nlh, FRA_FWMARK, r->mark);
		mnl_attr_put_u32(nlh, FRA_FWMASK, r->mask);
	}
	if (r->src_len)
		mnl_attr_put_u32(nlh, FRA_SRC, r->src);
	return nl_talk(nlh, NULL, NULL);
}

int nl_rule(uint32_t prio, uint32_t mark, uint32_t mask, uint32_t table, bool add)
{
	struct rule_spec r = { .prio = prio, .table = table, .mark = mark, .mask = mask };

	return rule_op(&r, add);
}

int nl_rule_src(uint32_t prio, uint32_t addr, uint32_t table, bool add)
{
	struct rule_spec r = { .prio = prio, .table = table, .src = addr, .src_len = 32 };

	return rule_op(&r, add);
}

struct rule_list {
	uint32_t prio_lo, prio_hi, table_lo, table_hi;
	struct rule_spec r[2 * NL_FLUSH_BATCH];
	int n;
	bool more;              /* the dump had rules beyond r[] */
};

static int rule_cb(const struct nlmsghdr *nlh, void *data)
{
	struct fib_rule_hdr *frh = mnl_nlmsg_get_payload(nlh);
	struct nlattr *tb[FRA_MAX + 1] = {};
	struct rule_list *l = data;
	struct rule_spec *r;
	uint32_t prio, table;

	nl_attrs_parse(nlh, sizeof(*frh), tb, FRA_MAX);
	prio = tb[FRA_PRIORITY] ? mnl_attr_get_u32(tb[FRA_PRIORITY]) : 0;
	table = tb[FRA_TABLE] ? mnl_attr_get_u32(tb[FRA_TABLE]) : frh->table;
	if (prio < l->prio_lo || prio > l->prio_hi || table < l->table_lo || table > l->table_hi)
		return MNL_CB_OK;
	if (l->n >= 2 * NL_FLUSH_BATCH) {
		l->more = true;
		return MNL_CB_OK;
	}
	r = &l->r[l->n++];
	r->prio = prio;
	r->table = table;
	r->mark = tb[FRA_FWMARK] ? mnl_attr_get_u32(tb[FRA_FWMARK]) : 0;
	r->mask = tb[FRA_FWMASK] ? mnl_attr_get_u32(tb[FRA_FWMASK]) : 0;
	r->src = tb[FRA_SRC] ? mnl_attr_get_u32(tb[FRA_SRC]) : 0;
	r->src_len = frh->src_len;
	return MNL_CB_OK;
}

int nl_rules_flush(uint32_t prio_lo, uint32_t prio_hi, uint32_t table_lo, uint32_t table_hi)
{
	struct fib_rule_hdr frh = { .family = AF_INET };
	struct rule_list l;
	int err, done = 0, now;

	/* Bounded: a round that deletes nothing ends the loop, as does a short dump. */
	for (int round = 0; round < 1024; round++) {
		l = (struct rule_list){ .prio_lo = prio_lo, .prio_hi = prio_hi,
					.table_lo = table_lo, .table_hi = table_hi };
		err = nl_dump(RTM_GETRULE, &frh, sizeof(frh), rule_cb, &l);
		if (err)
			return err;
		now = 0;
		for (int i = 0; i < l.n; i++)
			now += rule_op(&l.r[i], false) == 0;
		done += now;
		if (!l.more || !now)
			break;
	}
	return done;
}

/* ---- IPv6 (issue 13) ---- */

struct addr6_dump {
	struct nl_addr6 *out;
	int max, n;
};

static int addr6_cb(const struct nlmsghdr *nlh, void *data)
{
	struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);
	struct nlattr *tb[IFA_MAX + 1] = {};
	struct addr6_dump *d = data;
	const struct nlattr *at;
	struct nl_addr6 *a;

	if (ifa->ifa_family != AF_INET6 || d->n >= d->max)
		return MNL_CB_OK;
	nl_attrs_parse(nlh, sizeof(*ifa), tb, IFA_MAX);
	at = tb[IFA_LOCAL] ? tb[IFA_LOCAL] : tb[IFA_ADDRESS];
	if (!at || mnl_attr_get_payload_len(at) != 16)
		return MNL_CB_OK;
	a = &d->out[d->n++];
	memset(a, 0, sizeof(*a));
	a->ifindex = (int)ifa->ifa_index;
	a->plen = ifa->ifa_prefixlen;
	a->scope = ifa->ifa_scope;
	a->flags = tb[IFA_FLAGS] ? mnl_attr_get_u32(tb[IFA_FLAGS]) : ifa->ifa_flags;
	memcpy(a->addr, mnl_attr_get_payload(at), 16);
	return MNL_CB_OK;
}

int nl_addr6_dump(struct nl_addr6 *out, int max)
{
	struct addr6_dump d = { .out = out, .max = max };
	struct rtgenmsg rt = { .rtgen_family = AF_INET6 };
	int err = nl_dump(RTM_GETADDR, &rt, sizeof(rt), addr6_cb, &d);

	return err ? err : d.n;
}

static bool addr6_zero(const uint8_t a[16])
{
	static const uint8_t zero[16];

	return !a || !memcmp(a, zero, 16);
}

int nl_route6(uint32_t table, const uint8_t dst[16], uint8_t dst_len, const uint8_t gw[16],
	      int oif, bool add)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	bool via = !addr6_zero(gw);
	struct rtmsg *rtm;

	nlh->nlmsg_type = add ? RTM_NEWROUTE : RTM_DELROUTE;
	nlh->nlmsg_flags = NLM_F_REQUEST | (add ? NLM_F_CREATE | NLM_F_REPLACE : 0);
	rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	rtm->rtm_family = AF_INET6;
	rtm->rtm_dst_len = dst_len;
	rtm->rtm_table = RT_TABLE_UNSPEC;
	if (add) {
		rtm->rtm_protocol = XWAN_RTPROT;
		rtm->rtm_scope = RT_SCOPE_UNIVERSE;
		rtm->rtm_type = RTN_UNICAST;
		rtm->rtm_flags = via ? RTNH_F_ONLINK : 0;
	} else {
		rtm->rtm_scope = RT_SCOPE_NOWHERE;
	}
	mnl_attr_put_u32(nlh, RTA_TABLE, table);
	if (dst_len && dst)
		mnl_attr_put(nlh, RTA_DST, 16, dst);
	if (via)
		mnl_attr_put(nlh, RTA_GATEWAY, 16, gw);
	if (oif)
		mnl_attr_put_u32(nlh, RTA_OIF, (uint32_t)oif);
	return nl_talk(nlh, NULL, NULL);
}

static int rule6_op(uint32_t prio, uint32_t mark, uint32_t mask, uint32_t table, bool add)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct fib_rule_hdr *frh;

	nlh->nlmsg_type = add ? RTM_NEWRULE : RTM_DELRULE;
	nlh->nlmsg_flags = NLM_F_REQUEST | (add ? NLM_F_CREATE | NLM_F_EXCL : 0);
	frh = mnl_nlmsg_put_extra_header(nlh, sizeof(*frh));
	frh->family = AF_INET6;
	frh->action = FR_ACT_TO_TBL;
	frh->table = RT_TABLE_UNSPEC;
	mnl_attr_put_u32(nlh, FRA_PRIORITY, prio);
	mnl_attr_put_u32(nlh, FRA_TABLE, table);
	if (mask) {
		mnl_attr_put_u32(nlh, FRA_FWMARK, mark);
		mnl_attr_put_u32(nlh, FRA_FWMASK, mask);
	}
	return nl_talk(nlh, NULL, NULL);
}

int nl_rule6(uint32_t prio, uint32_t mark, uint32_t mask, uint32_t table, bool add)
{
	return rule6_op(prio, mark, mask, table, add);
}

/* What a flush deletes: rules (mark/mask) and routes (dst, gateway, oif). */
struct flush6 {
	uint32_t prio_lo, prio_hi, table_lo, table_hi;
	struct {
		uint32_t prio, table, mark, mask, oif;
		uint8_t dst[16], gw[16], dst_len;
	} e[NL_FLUSH_BATCH];
	int n;
};

static int rule6_cb(const struct nlmsghdr *nlh, void *data)
{
	struct fib_rule_hdr *frh = mnl_nlmsg_get_payload(nlh);
	struct nlattr *tb[FRA_MAX + 1] = {};
	struct flush6 *f = data;
	uint32_t prio, table;

	nl_attrs_parse(nlh, sizeof(*frh), tb, FRA_MAX);
	prio = tb[FRA_PRIORITY] ? mnl_attr_get_u32(tb[FRA_PRIORITY]) : 0;
	table = tb[FRA_TABLE] ? mnl_attr_get_u32(tb[FRA_TABLE]) : frh->table;
	if (frh->family != AF_INET6 || prio < f->prio_lo || prio > f->prio_hi ||
	    table < f->table_lo || table > f->table_hi || f->n >= NL_FLUSH_BATCH)
		return MNL_CB_OK;
	f->e[f->n].prio = prio;
	f->e[f->n].table = table;
	f->e[f->n].mark = tb[FRA_FWMARK] ? mnl_attr_get_u32(tb[FRA_FWMARK]) : 0;
	f->e[f->n].mask = tb[FRA_FWMASK] ? mnl_attr_get_u32(tb[FRA_FWMASK]) : 0;
	f->n++;
	return MNL_CB_OK;
}

static int route6_cb(const struct nlmsghdr *nlh, void *data)
{
	struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);
	struct nlattr *tb[RTA_MAX + 1] = {};
	struct flush6 *f = data;
	uint32_t table;

	nl_attrs_parse(nlh, sizeof(*rtm), tb, RTA_MAX);
	table = tb[RTA_TABLE] ? mnl_attr_get_u32(tb[RTA_TABLE]) : rtm->rtm_table;
	if (rtm->rtm_family != AF_INET6 || table < f->table_lo || table > f->table_hi ||
	    f->n >= NL_FLUSH_BATCH)
		return MNL_CB_OK;
	memset(&f->e[f->n], 0, sizeof(f->e[0]));
	f->e[f->n].table = table;
	f->e[f->n].dst_len = rtm->rtm_dst_len;
	if (tb[RTA_DST])
		memcpy(f->e[f->n].dst, mnl_attr_get_payload(tb[RTA_DST]), 16);
	if (tb[RTA_GATEWAY])
		memcpy(f->e[f->n].gw, mnl_attr_get_payload(tb[RTA_GATEWAY]), 16);
	f->e[f->n].oif = tb[RTA_OIF] ? mnl_attr_get_u32(tb[RTA_OIF]) : 0;
	f->n++;
	return MNL_CB_OK;
}

int nl6_flush(uint32_t prio_lo, uint32_t prio_hi, uint32_t table_lo, uint32_t table_hi)
{
	struct fib_rule_hdr frh = { .family = AF_INET6 };
	struct rtmsg rtm = { .rtm_family = AF_INET6 };
	struct flush6 *f = calloc(1, sizeof(*f));
	int err = 0, round, done;

	if (!f)
		return -ENOMEM;
	/* Bounded: a round that deletes nothing ends each loop. */
	for (round = 0; round < 64 && !err; round++) {
		*f = (struct flush6){ .prio_lo = prio_lo, .prio_hi = prio_hi,
				      .table_lo = table_lo, .table_hi = table_hi };
		err = nl_dump(RTM_GETRULE, &frh, sizeof(frh), rule6_cb, f);
		for (int i = done = 0; !err && i < f->n; i++)
			done += rule6_op(f->e[i].prio, f->e[i].mark, f->e[i].mask,
					 f->e[i].table, false) == 0;
		if (!f->n || !done)
			break;
	}
	for (round = 0; round < 64 && !err; round++) {
		*f = (struct flush6){ .table_lo = table_lo, .table_hi = table_hi };
		err = nl_dump(RTM_GETROUTE, &rtm, sizeof(rtm), route6_cb, f);
		for (int i = done = 0; !err && i < f->n; i++)
			done += nl_route6(f->e[i].table, f->e[i].dst, f->e[i].dst_len,
					  f->e[i].gw, (int)f->e[i].oif, false) == 0;
		if (!f->n || !done)
			break;
	}
	free(f);
	return err;
}
