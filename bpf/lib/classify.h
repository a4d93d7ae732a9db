/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * What a packet is to xwan, decided once for XDP and tc: the flow it
 * belongs to (found, followed from its first fragment, quoted by an ICMP
 * error, or made by this very packet), or why it has none. The entry
 * programs only differ in what they can do with the answer: XDP forwards
 * or hands the packet up, tc marks, holds fragments or lets the kernel
 * route.
 */
#ifndef XWAN_CLASSIFY_H
#define XWAN_CLASSIFY_H

#include "forward.h"
#include "hairpin.h"
#include "icmp.h"

/* A packet's flow, and whether this packet made it. */
struct classified {
	struct flow_entry *fe;
	__u32 opened;           /* the verdict of the step that made fe with this
				   packet (V_FWD_OUT, V_FWD_PORT_FORWARD,
				   V_FWD_MAPPING, V_FWD_HAIRPIN); 0: fe existed */
	__u32 tracked;          /* the packet is accounted already (flow_admit):
				   fe is the new OUT entry's copy in
				   admit_scratch, to read, not to change */
};

/*
 * A new LAN flow to one of the host's addresses: 0 when it was hairpinned
 * (look it up again), V_PASS_LOCAL when it is the host's (flow_admit says
 * so), or a drop.
 */
static __always_inline __u32 lan_hairpin_open(xwan_ctx *ctx, const struct pkt *p, __u64 now)
{
	switch (hairpin_open(ctx, p, now)) {
	case INBOUND_OPENED:
		return 0;
	case INBOUND_SRC_LIMIT:
		return V_DROP_SRC_LIMIT;
	case INBOUND_REFUSED:   /* a mapping's filter: as from the internet */
		return V_DROP_UNSOLICITED;
	default:
		return V_PASS_LOCAL;
	}
}

/*
 * A packet that arrived on a LAN. 0: c->fe is its OUT flow (an ICMP
 * error's: the flow it quotes). Otherwise its verdict; V_PASS_FRAG_EARLY
 * is a later fragment that may have come before its first (c->fe: an
 * entry of another direction, or NULL), which tc holds.
 */
static __always_inline __u32 lan_classify(xwan_ctx *ctx, const struct pkt *p,
					  const struct xwan_settings *s, __u64 now,
					  struct classified *c)
{
	struct flow_entry *fe;
	int seen;
	__u32 v;

	c->fe = NULL;
	c->opened = 0;
	c->tracked = 0;
	if (p->icmp_err) {
		/* A LAN host's error about a reply it got: goes back out NATed. */
		v = lan_icmp_error_flow(ctx_ifindex(ctx), p, s, now, &c->fe);
		return v ? v : c->fe ? 0 : V_PASS_NOT_XWAN;
	}
	if (p->frag == FRAG_LATER) {
		c->fe = frag_follow(p, now);
		if (c->fe && (c->fe->dir == FLOW_DIR_OUT || flow_is_hairpin(c->fe)))
			return 0;
		return dst_kernel_bound(p->key.daddr) ? V_PASS_BYPASS : V_PASS_FRAG_EARLY;
	}
	fe = flow_lookup_seen(s, &p->key, now, &seen);
	if (fe && ((fe->dir != FLOW_DIR_OUT && !flow_is_hairpin(fe)) || flow_reopened(fe, p)))
		fe = NULL;
	if (!fe && dst_is_local(p->key.daddr)) {
		v = lan_hairpin_open(ctx, p, now);
		if (v && v != V_PASS_LOCAL)
			return v;
		if (!v) {
			fe = flow_get_new(&p->key);
			if (!fe)
				return V_DROP_FLOW_ALLOC;
			c->opened = V_FWD_HAIRPIN;
		}
	}
	if (!fe) {
		v = flow_admit(ctx, p, now, seen);
		if (v == V_FWD_OUT)
			fe = flow_admitted();
		else if (v == ADMIT_LOST_RACE)
			fe = flow_get(&p->key);
		else
			return v;
		if (!fe)
			return V_DROP_FLOW_ALLOC;
		c->opened = V_FWD_OUT;
		c->tracked = v == V_FWD_OUT;
	}
	c->fe = fe;
	return 0;
}

/* What a packet that arrived on a WAN is. */
enum wan_class {
	WAN_CLS_FLOW,           /* c->fe: its IN flow */
	WAN_CLS_HOST,           /* c->fe: the host's own session (FLOW_DIR_LOCAL) */
	WAN_CLS_UNMATCHED,      /* no flow of ours (c->fe: another direction's
				   entry, or NULL): the host's, or unsolicited */
	WAN_CLS_SRC_LIMIT,      /* it would open a flow; its sender is over budget */
	WAN_CLS_REFUSED,        /* a live mapping's port, its filter refuses the
				   sender: unsolicited, never the host's */
};

/* A packet's flow by lookup: the one an error quotes, a fragment follows, or its own. */
static __always_inline struct flow_entry *pkt_flow_lookup(const struct pkt *p,
							  const struct xwan_settings *s,
							  __u64 now)
{
	if (p->icmp_err)
		return icmp_error_flow(p, s, now);
	if (p->frag == FRAG_LATER)
		return frag_follow(p, now);
	return flow_lookup(s, &p->key, now);
}

/*
 * A packet that arrived on a WAN, parsed whole (PARSE_OK). Without a flow,
 * a port forward or a live mapping of the host's address may open one:
 * c->opened says which.
 */
static __always_inline enum wan_class wan_classify(xwan_ctx *ctx, const struct pkt *p,
						   const struct xwan_settings *s, __u64 now,
						   struct classified *c)
{
	enum inbound_rc rc;
	__u32 v;

	c->opened = 0;
	c->tracked = 0;
	c->fe = pkt_flow_lookup(p, s, now);
	if (!c->fe && dst_is_local(p->key.daddr)) {
		rc = inbound_open(ctx, p, s, now, &v);
		if (rc == INBOUND_SRC_LIMIT)
			return WAN_CLS_SRC_LIMIT;
		if (rc == INBOUND_REFUSED)
			return WAN_CLS_REFUSED;
		if (rc == INBOUND_OPENED) {
			c->fe = flow_get_new(&p->key);
			c->opened = c->fe ? v : 0;
		}
	}
	if (c->fe && c->fe->dir == FLOW_DIR_LOCAL)
		return WAN_CLS_HOST;
	if (!c->fe || c->fe->dir != FLOW_DIR_IN)
		return WAN_CLS_UNMATCHED;
	return WAN_CLS_FLOW;
}

#endif /* XWAN_CLASSIFY_H */
