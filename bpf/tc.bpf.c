// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The kernel path. Whatever XDP hands to the kernel still belongs to a flow
 * and must leave on that flow's WAN with that flow's NAT:
 *   tc_lan_ingress  finds (or creates) the flow and marks the packet, so the
 *                   kernel routes it by policy rule to the flow's WAN table,
 *                   resolving neighbours, sending Time Exceeded, fragmenting;
 *   tc_wan_egress   source-translates marked packets as they leave the WAN;
 *   tc_wan_ingress  destination-translates replies XDP passed on, and lets
 *                   the kernel forward them to the LAN.
 */
#define XWAN_HOOK_TC
#include "lib/classify.h"
#include "lib/fwd6.h"
#include "lib/l2.h"
#include "lib/time_exceeded.h"
#include "lib/verdict.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Headers we may rewrite: outer IP, ICMP, quoted IP and 20 bytes of L4. */
#define XWAN_PACKET_OTHERHOST 3  /* linux/if_packet.h PACKET_OTHERHOST */
#define TC_PULL_LEN 256

static __always_inline int tc_verdict(__u32 hook, __u32 v)
{
	count_verdict(hook, v);
	return verdict_is_drop(v) ? TC_ACT_SHOT : TC_ACT_OK;
}

static __always_inline int tc_parse(struct __sk_buff *skb, struct pkt *p)
{
	__u32 len = ctx_len(skb);

	bpf_skb_pull_data(skb, len < TC_PULL_LEN ? len : TC_PULL_LEN);
	return parse_packet(ctx_data(skb), ctx_data_end(skb), len, ctx_l3_off(skb), p);
}

/*
 * What tc adds to a LAN packet's classification (lan_classify): a later
 * fragment without a flow is held for its first, and the flow's own
 * packets are tracked. 0 or the packet's verdict.
 */
static __always_inline __u32 lan_flow_finish(struct __sk_buff *skb, struct pkt *p,
					     const struct xwan_settings *s, __u64 now,
					     __u32 v, const struct classified *c)
{
	struct flow_entry *fe = c->fe;

	if (v == V_PASS_FRAG_EARLY) {
		if (!fe && p->ttl > 1 && !frag_hold_put(skb, p, now))
			return V_HOLD_FRAG;     /* its first fragment may come yet */
		return V_DROP_FRAG_UNKNOWN;
	}
	if (v || p->icmp_err || p->frag == FRAG_LATER)
		return v;
	if (flow_is_hairpin(fe))
		return p->ttl > 1 ? flow_track(s, fe, p, now) : 0;
	/* Rule decisions were counted by XDP, which passed the packet here. */
	if (fe->flags & (FLOW_F_BYPASS | FLOW_F_DROP))
		return (fe->flags & FLOW_F_DROP) ? V_DROP_POLICY : V_PASS_BYPASS;
	/* The kernel answers an expiring TTL; it is not the flow's traffic. */
	if (p->ttl > 1) {
		v = c->tracked ? 0 : flow_track(s, fe, p, now);
		if (v)
			return v;
		frag_remember(p, &p->key, now);
	}
	return 0;
}

/*
 * A hairpinned packet XDP passed up (no XDP transmit, neighbour unknown,
 * TTL expiring): translated here and sent to the other LAN host by the
 * kernel's neighbour table. Routing would drop it: its source may now be
 * one of the host's own addresses. An expiring TTL gets the Time Exceeded
 * forwarding would get (time_exceeded.h); an ICMP error about an ICMP
 * error is never sent (RFC 1812 4.3.2.7).
 */
static __attribute__((noinline)) int tc_hairpin(struct __sk_buff *skb, const struct pkt *p,
				      const struct flow_entry *fe)
{
	__u16 old, ttl;
	int rc;

	if (p->ttl <= 1) {
		rc = p->icmp_err ? -1 : time_exceeded_reply(skb, p);
		if (rc < 0)
			return tc_verdict(HOOK_TC_LAN_IN, V_DROP_TTL);
		count_verdict(HOOK_TC_LAN_IN, V_FWD_TIME_EXCEEDED);
		return rc;
	}
	if (hairpin_rewrite(skb, p, fe))
		return tc_verdict(HOOK_TC_LAN_IN, V_DROP_MALFORMED);
	/* TTL and protocol share a 16-bit word of the checksum. */
	old = bpf_htons((__u16)p->ttl << 8 | p->key.proto);
	ttl = bpf_htons((__u16)(p->ttl - 1) << 8 | p->key.proto);
	if (ctx_l3_csum_replace(skb, p->l3_off + 10, old, ttl, 2) ||
	    bpf_skb_store_bytes(skb, p->l3_off + 8, &ttl, 1, 0))
		return tc_verdict(HOOK_TC_LAN_IN, V_DROP_MALFORMED);
	count_verdict(HOOK_TC_LAN_IN, p->icmp_err ? V_FWD_ICMP_ERROR : V_FWD_HAIRPIN);
	return bpf_redirect_neigh(fe->out_ifindex, NULL, 0, 0);
}

/*
 * Packets XDP passed up, marked with their flow's WAN so the kernel routes
 * them by that WAN's table. An expiring TTL too, flow made first: the
 * kernel then finds a route and answers Time Exceeded (traceroute's hop 1)
 * even when its main table has no default route (xwan needs none).
 */
SEC("tc")
int tc_lan_ingress(struct __sk_buff *skb)
{
	struct xwan_settings *s;
	struct classified c;
	struct gw_info *gi;
	struct pkt p = {};
	__u32 gw, v;
	__u64 now;
	int rc;

	rc = tc_parse(skb, &p);
	if (rc == PARSE_NOT_IPV4)
		return tc6_lan_ingress(skb);
	if (rc == PARSE_MALFORMED)
		return tc_verdict(HOOK_TC_LAN_IN, V_DROP_MALFORMED);
	if (!l2_for_us(skb))    /* another host's frame: ip_rcv drops it */
		return tc_verdict(HOOK_TC_LAN_IN, V_PASS_NOT_OUR_MAC);
	if (rc == PARSE_UNSUPPORTED)
		return tc_verdict(HOOK_TC_LAN_IN, V_PASS_UNSUPPORTED);
	s = get_settings();
	if (!s)
		return tc_verdict(HOOK_TC_LAN_IN, V_PASS_NOT_XWAN);
	now = bpf_ktime_get_coarse_ns();
	/* (an expiring first fragment is the kernel's to answer, not to re-inject) */
	if (p.ttl > 1 && frag_release(skb, &p, now))
		return frag_consumed(HOOK_TC_LAN_IN, V_HOLD_RELEASED);
	v = lan_classify(skb, &p, s, now, &c);
	v = lan_flow_finish(skb, &p, s, now, v, &c);
	if (v == V_HOLD_FRAG)
		return frag_consumed(HOOK_TC_LAN_IN, v);
	if (v)
		return tc_verdict(HOOK_TC_LAN_IN, v);
	if (flow_is_hairpin(c.fe))
		return tc_hairpin(skb, &p, c.fe);
	gw = c.fe->gw;
	gi = bpf_map_lookup_elem(&gateways, &gw);
	if (!gi)
		return tc_verdict(HOOK_TC_LAN_IN, V_PASS_NOT_XWAN);
	skb->mark = (ctx_mark(skb) & ~s->fwmark_mask) | (gi->fwmark & s->fwmark_mask);
	return tc_verdict(HOOK_TC_LAN_IN, p.ttl <= 1 ? V_PASS_TTL : V_FWD_VIA_KERNEL);
}

/* Send a packet out of gateway gw's WAN, to that gateway, instead. */
static __always_inline int redirect_to_gw(__u32 gw)
{
	struct bpf_redir_neigh nh = {};
	struct gw_info *gi = bpf_map_lookup_elem(&gateways, &gw);

	if (!gi || !gi->ifindex)
		return -1;
	nh.nh_family = 2; /* AF_INET */
	nh.ipv4_nh = gi->nexthop;
	return bpf_redirect_neigh(gi->ifindex, &nh, sizeof(nh), 0);
}

/*
 * The host's own packet leaving a WAN. Sourced from another WAN's address
 * (a reply of a session that arrived there, routed by the main table), it
 * would reach an ISP that drops or misroutes it: send it out of the WAN
 * that owns the address, to that WAN's gateway.
 */
static __always_inline int host_egress(struct __sk_buff *skb, const struct pkt *p,
				       const struct xwan_settings *s, __u64 now)
{
	struct dst_policy *owner = dst_policy_of(p->key.saddr);
	__u32 ifindex = ctx_ifindex(skb), gw;
	struct iface_info *here;
	struct gw_info *gi;

	here = bpf_map_lookup_elem(&ifaces, &ifindex);
	if (owner && owner->gw < XWAN_MAX_GATEWAYS && here && here->gw != owner->gw) {
		gw = owner->gw;
		gi = bpf_map_lookup_elem(&gateways, &gw);
		if (gi && gi->ifindex) {
			host_session_reserve(p, gi->ifindex, s, now);
			count_verdict(HOOK_TC_WAN_OUT, V_FWD_REROUTED);
			return redirect_to_gw(gw);
		}
	}
	host_session_reserve(p, ifindex, s, now);
	return tc_verdict(HOOK_TC_WAN_OUT, V_PASS_FROM_HOST);
}

/*
 * The flow of a packet leaving a WAN. Marked: a LAN flow's packet the
 * kernel routed here, only on its own WAN. An ICMP error, marked or not,
 * may also be the kernel's own about a packet it was forwarding to the LAN
 * after DNAT (TTL 1 from the internet, too big for the LAN's MTU): it
 * quotes the LAN side of a flow, whichever WAN the kernel chose.
 */
static __always_inline struct flow_entry *egress_flow(const struct pkt *p,
						      const struct xwan_settings *s,
						      __u32 ifindex, int marked, __u64 now)
{
	struct flow_entry *fe;

	if (!p->icmp_err && !marked)
		return NULL;
	fe = pkt_flow_lookup(p, s, now);
	if (!fe || fe->dir != FLOW_DIR_OUT || (fe->flags & (FLOW_F_BYPASS | FLOW_F_DROP)))
		return NULL;
	if (fe->out_ifindex != ifindex && (marked || !p->icmp_err))
		return NULL;
	return fe;
}

/*
 * Nothing leaves a WAN that NATs with a LAN-side source untranslated (the
 * ISP would see a private address): the kernel's forwarding of what xwan
 * does not translate (a bypassed flow without a masquerade of the
 * kernel's, an ICMP type xwan has no flow for), the host's own packets
 * from its LAN address.
 */
static __always_inline int egress_untranslated(__u32 ifindex, __be32 saddr)
{
	struct iface_info *wan = bpf_map_lookup_elem(&ifaces, &ifindex);
	struct gw_info *gi;
	__u32 gw;

	if (!wan || wan->role != IFACE_WAN)
		return 0;
	gw = wan->gw;
	gi = bpf_map_lookup_elem(&gateways, &gw);
	return gi && (gi->flags & GW_F_NAT) && src_lan_side(saddr);
}

/*
 * Marked packets are LAN flows the kernel routed here: translate them, and
 * never let one out untranslated. Packets from the host's own addresses
 * (marked too when the agent routes its probes by mark) are the host's.
 */
SEC("tc")
int tc_wan_egress(struct __sk_buff *skb)
{
	struct xwan_settings *s = get_settings();
	__u32 ifindex = ctx_ifindex(skb);
	struct flow_entry *fe = NULL;
	struct pkt p = {};
	__u64 now;
	int rc, marked;

	if (!s)
		return tc_verdict(HOOK_TC_WAN_OUT, V_PASS_NOT_XWAN);
	marked = !!(ctx_mark(skb) & s->fwmark_mask);
	rc = tc_parse(skb, &p);
	if (rc == PARSE_NOT_IPV4)
		return tc6_wan_egress(skb);
	now = bpf_ktime_get_coarse_ns();

	if (rc == PARSE_OK)
		fe = egress_flow(&p, s, ifindex, marked, now);
	if (!fe) {
		/* Forwarded packets (the kernel's own NAT included) came in somewhere. */
		if (rc == PARSE_OK && !CTX_LOAD_U32(skb, ingress_ifindex) &&
		    dst_is_local(p.key.saddr) && !src_lan_side(p.key.saddr))
			return host_egress(skb, &p, s, now);
		if (marked)
			return tc_verdict(HOOK_TC_WAN_OUT, V_DROP_NO_FLOW);
		if (egress_untranslated(ifindex, p.key.saddr))
			return tc_verdict(HOOK_TC_WAN_OUT, V_DROP_UNTRANSLATED);
		return tc_verdict(HOOK_TC_WAN_OUT, V_PASS_NOT_XWAN);
	}

	if (p.icmp_err) {
		rc = nat_rewrite_icmp_error(skb, &p, fe);
	} else {
		frag_remember(&p, &p.key, now);
		rc = nat_rewrite(skb, &p, 1, fe->xlate_addr, fe->xlate_port);
	}
	if (rc)
		return tc_verdict(HOOK_TC_WAN_OUT, V_DROP_MALFORMED);
	count_gw_packet(fe->gw, p.len, 1);
	if (fe->out_ifindex != ifindex) {
		/* The kernel's error about a forwarded packet, on another WAN. */
		count_verdict(HOOK_TC_WAN_OUT, V_FWD_REROUTED);
		return redirect_to_gw(fe->gw);
	}
	return tc_verdict(HOOK_TC_WAN_OUT, p.icmp_err ? V_FWD_ICMP_ERROR : V_FWD_OUT);
}

/*
 * A WAN packet with no flow of ours: the host's (its addresses, DHCP,
 * broadcast), a later fragment that may precede its first, or unsolicited.
 */
static __always_inline int wan_in_unmatched(struct __sk_buff *skb, const struct pkt *p,
					    const struct flow_entry *fe, __u64 now)
{
	if (local_lan_side(p->key.daddr))
		return tc_verdict(HOOK_TC_WAN_IN, V_DROP_WAN_TO_LAN_ADDR);
	if (!fe && dst_is_local(p->key.daddr) && !frag_hold_put(skb, p, now))
		return frag_consumed(HOOK_TC_WAN_IN, V_HOLD_FRAG);
	if (wan_host_bound(&p->key)) {
		/* Packet sockets still see an "other host" packet; ip_rcv drops it. */
		if (wan_dhcp_offer(&p->key))
			bpf_skb_change_type(skb, XWAN_PACKET_OTHERHOST);
		return tc_verdict(HOOK_TC_WAN_IN, V_PASS_LOCAL);
	}
	return tc_verdict(HOOK_TC_WAN_IN, V_DROP_UNSOLICITED);
}

/* A reply XDP passed on: destination-translated here, the kernel forwards it. */
static __always_inline int wan_in_translate(struct __sk_buff *skb, const struct pkt *p,
					    const struct xwan_settings *s,
					    struct flow_entry *fe, __u64 now)
{
	int rc;

	if (fe->in_ifindex != ctx_ifindex(skb)) {
		if (s->asymmetric == ASYM_DROP)
			return tc_verdict(HOOK_TC_WAN_IN, V_DROP_ASYMMETRIC);
		count_event(EV_ASYMMETRIC_ALLOWED);
	}
	if (p->icmp_err) {
		rc = nat_rewrite_icmp_error(skb, p, fe);
	} else {
		if (p->frag == FRAG_FIRST)
			frag_remember(p, &p->key, now);
		rc = flow_track(s, fe, p, now);
		if (rc)
			return tc_verdict(HOOK_TC_WAN_IN, rc);
		rc = nat_rewrite(skb, p, 0, fe->xlate_addr, fe->xlate_port);
	}
	if (rc)
		return tc_verdict(HOOK_TC_WAN_IN, V_DROP_MALFORMED);
	count_gw_packet(fe->gw, p->len, 0);
	return tc_verdict(HOOK_TC_WAN_IN, V_FWD_VIA_KERNEL);
}

SEC("tc")
int tc_wan_ingress(struct __sk_buff *skb)
{
	enum wan_class cls = WAN_CLS_UNMATCHED;
	struct classified c = {};
	struct xwan_settings *s;
	struct pkt p = {};
	__u64 now;
	int rc;

	rc = tc_parse(skb, &p);
	if (rc == PARSE_NOT_IPV4)
		return tc6_wan_ingress(skb);
	if (rc == PARSE_MALFORMED)
		return tc_verdict(HOOK_TC_WAN_IN, V_DROP_MALFORMED);
	if (!l2_for_us(skb))    /* another host's frame: ip_rcv drops it */
		return tc_verdict(HOOK_TC_WAN_IN, V_PASS_NOT_OUR_MAC);
	s = get_settings();
	if (!s)
		return tc_verdict(HOOK_TC_WAN_IN, V_PASS_NOT_XWAN);
	now = bpf_ktime_get_coarse_ns();
	if (rc == PARSE_OK && frag_release(skb, &p, now))
		return frag_consumed(HOOK_TC_WAN_IN, V_HOLD_RELEASED);

	if (rc == PARSE_OK)
		cls = wan_classify(skb, &p, s, now, &c);
	switch (cls) {
	case WAN_CLS_FLOW:
		return wan_in_translate(skb, &p, s, c.fe, now);
	case WAN_CLS_HOST:
		if (!p.icmp_err)
			local_track(c.fe, &p, now, 1);
		return tc_verdict(HOOK_TC_WAN_IN, V_PASS_LOCAL);
	case WAN_CLS_SRC_LIMIT:
		return tc_verdict(HOOK_TC_WAN_IN, V_DROP_SRC_LIMIT);
	case WAN_CLS_REFUSED:
		return tc_verdict(HOOK_TC_WAN_IN, V_DROP_UNSOLICITED);
	default:
		return wan_in_unmatched(skb, &p, c.fe, now);
	}
}
