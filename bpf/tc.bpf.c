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
#include "lib/forward.h"
#include "lib/l2.h"
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

SEC("tc")
int tc_lan_ingress(struct __sk_buff *skb)
{
	struct xwan_settings *s;
	struct flow_entry *fe;
	struct gw_info *gi;
	struct pkt p = {};
	__u32 gw, v;
	__u64 now;
	int rc;

	rc = tc_parse(skb, &p);
	if (rc == PARSE_NOT_IPV4)
		return tc_verdict(HOOK_TC_LAN_IN, V_PASS_NOT_IPV4);
	if (rc == PARSE_MALFORMED)
		return tc_verdict(HOOK_TC_LAN_IN, V_DROP_MALFORMED);
	if (rc == PARSE_UNSUPPORTED)
		return tc_verdict(HOOK_TC_LAN_IN, V_PASS_UNSUPPORTED);
	s = get_settings();
	if (!s)
		return tc_verdict(HOOK_TC_LAN_IN, V_PASS_NOT_XWAN);
	if (p.ttl <= 1)
		return tc_verdict(HOOK_TC_LAN_IN, V_PASS_TTL);
	now = bpf_ktime_get_coarse_ns();
	if (frag_release(skb, &p, now))
		return frag_consumed(HOOK_TC_LAN_IN, V_HOLD_RELEASED);

	if (p.icmp_err) {
		fe = icmp_error_flow(&p, s, now);
		if (!fe || fe->dir != FLOW_DIR_OUT)
			return tc_verdict(HOOK_TC_LAN_IN, V_PASS_NOT_XWAN);
	} else if (p.frag == FRAG_LATER) {
		fe = frag_follow(&p, now);
		if (!fe || fe->dir != FLOW_DIR_OUT) {
			if (dst_kernel_bound(p.key.daddr))
				return tc_verdict(HOOK_TC_LAN_IN, V_PASS_BYPASS);
			if (!fe && !frag_hold_put(skb, &p, now))
				return frag_consumed(HOOK_TC_LAN_IN, V_HOLD_FRAG);
			return tc_verdict(HOOK_TC_LAN_IN, V_DROP_FRAG_UNKNOWN);
		}
	} else {
		fe = flow_lookup(s, &p.key, now);
		if (fe && (fe->dir != FLOW_DIR_OUT || flow_reopened(fe, &p)))
			fe = NULL;
		if (!fe) {
			v = flow_admit(skb, &p, now);
			if (v != V_FWD_OUT)
				return tc_verdict(HOOK_TC_LAN_IN, v);
			fe = flow_get(&p.key);
			if (!fe)
				return tc_verdict(HOOK_TC_LAN_IN, V_DROP_FLOW_ALLOC);
		}
		/* Rule decisions were counted by XDP, which passed the packet here. */
		if (fe->flags & (FLOW_F_BYPASS | FLOW_F_DROP))
			return tc_verdict(HOOK_TC_LAN_IN, (fe->flags & FLOW_F_DROP)
							  ? V_DROP_POLICY : V_PASS_BYPASS);
		v = flow_track(s, fe, &p, now);
		if (v)
			return tc_verdict(HOOK_TC_LAN_IN, v);
		frag_remember(&p, &p.key, now);
	}
	gw = fe->gw;
	gi = bpf_map_lookup_elem(&gateways, &gw);
	if (!gi)
		return tc_verdict(HOOK_TC_LAN_IN, V_PASS_NOT_XWAN);
	skb->mark = (ctx_mark(skb) & ~s->fwmark_mask) | (gi->fwmark & s->fwmark_mask);
	return tc_verdict(HOOK_TC_LAN_IN, V_FWD_VIA_KERNEL);
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
	struct bpf_redir_neigh nh = {};
	struct iface_info *here;
	struct gw_info *gi;

	here = bpf_map_lookup_elem(&ifaces, &ifindex);
	if (owner && owner->gw < XWAN_MAX_GATEWAYS && here && here->gw != owner->gw) {
		gw = owner->gw;
		gi = bpf_map_lookup_elem(&gateways, &gw);
		if (gi && gi->ifindex) {
			host_session_reserve(p, gi->ifindex, s, now);
			nh.nh_family = 2; /* AF_INET */
			nh.ipv4_nh = gi->nexthop;
			count_verdict(HOOK_TC_WAN_OUT, V_FWD_REROUTED);
			return bpf_redirect_neigh(gi->ifindex, &nh, sizeof(nh), 0);
		}
	}
	host_session_reserve(p, ifindex, s, now);
	return tc_verdict(HOOK_TC_WAN_OUT, V_PASS_FROM_HOST);
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
	struct flow_entry *fe = NULL;
	struct pkt p = {};
	__u64 now;
	int rc, marked;

	if (!s)
		return tc_verdict(HOOK_TC_WAN_OUT, V_PASS_NOT_XWAN);
	marked = !!(ctx_mark(skb) & s->fwmark_mask);
	rc = tc_parse(skb, &p);
	if (rc == PARSE_NOT_IPV4)
		return tc_verdict(HOOK_TC_WAN_OUT, V_PASS_NOT_IPV4);
	now = bpf_ktime_get_coarse_ns();

	if (rc == PARSE_OK && marked) {
		if (p.icmp_err)
			fe = icmp_error_flow(&p, s, now);
		else if (p.frag == FRAG_LATER)
			fe = frag_follow(&p, now);
		else
			fe = flow_lookup(s, &p.key, now);
		if (fe && (fe->dir != FLOW_DIR_OUT || fe->out_ifindex != ctx_ifindex(skb)))
			fe = NULL;
	}
	if (!fe) {
		/* Forwarded packets (the kernel's own NAT included) came in somewhere. */
		if (rc == PARSE_OK && !CTX_LOAD_U32(skb, ingress_ifindex) &&
		    dst_is_local(p.key.saddr))
			return host_egress(skb, &p, s, now);
		return tc_verdict(HOOK_TC_WAN_OUT, marked ? V_DROP_NO_FLOW : V_PASS_NOT_XWAN);
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
	return tc_verdict(HOOK_TC_WAN_OUT, p.icmp_err ? V_FWD_ICMP_ERROR : V_FWD_OUT);
}

SEC("tc")
int tc_wan_ingress(struct __sk_buff *skb)
{
	struct xwan_settings *s;
	struct flow_entry *fe;
	struct pkt p = {};
	__u64 now;
	int rc;

	rc = tc_parse(skb, &p);
	if (rc == PARSE_NOT_IPV4)
		return tc_verdict(HOOK_TC_WAN_IN, V_PASS_NOT_IPV4);
	if (rc == PARSE_MALFORMED)
		return tc_verdict(HOOK_TC_WAN_IN, V_DROP_MALFORMED);
	s = get_settings();
	if (!s)
		return tc_verdict(HOOK_TC_WAN_IN, V_PASS_NOT_XWAN);
	now = bpf_ktime_get_coarse_ns();
	if (rc == PARSE_OK && frag_release(skb, &p, now))
		return frag_consumed(HOOK_TC_WAN_IN, V_HOLD_RELEASED);

	fe = NULL;
	if (rc == PARSE_OK) {
		if (p.icmp_err)
			fe = icmp_error_flow(&p, s, now);
		else if (p.frag == FRAG_LATER)
			fe = frag_follow(&p, now);
		else
			fe = flow_lookup(s, &p.key, now);
		if (!fe && dst_is_local(p.key.daddr)) {
			rc = forward_admit(skb, &p, s, now);
			if (rc == -2)
				return tc_verdict(HOOK_TC_WAN_IN, V_DROP_SRC_LIMIT);
			if (rc == 0)
				fe = flow_get(&p.key);
		}
	}
	if (fe && fe->dir == FLOW_DIR_LOCAL) {
		if (!p.icmp_err)
			local_track(fe, &p, now, 1);
		return tc_verdict(HOOK_TC_WAN_IN, V_PASS_LOCAL);
	}
	if (!fe || fe->dir != FLOW_DIR_IN) {
		if (!fe && dst_is_local(p.key.daddr) && !frag_hold_put(skb, &p, now))
			return frag_consumed(HOOK_TC_WAN_IN, V_HOLD_FRAG);
		if (wan_host_bound(&p.key)) {
			/* Packet sockets still see an "other host" packet; ip_rcv drops it. */
			if (wan_dhcp_offer(&p.key))
				bpf_skb_change_type(skb, XWAN_PACKET_OTHERHOST);
			return tc_verdict(HOOK_TC_WAN_IN, V_PASS_LOCAL);
		}
		return tc_verdict(HOOK_TC_WAN_IN, V_DROP_UNSOLICITED);
	}
	if (fe->in_ifindex != ctx_ifindex(skb)) {
		if (s->asymmetric == ASYM_DROP)
			return tc_verdict(HOOK_TC_WAN_IN, V_DROP_ASYMMETRIC);
		count_event(EV_ASYMMETRIC_ALLOWED);
	}

	if (p.icmp_err) {
		rc = nat_rewrite_icmp_error(skb, &p, fe);
	} else {
		if (p.frag == FRAG_FIRST)
			frag_remember(&p, &p.key, now);
		rc = flow_track(s, fe, &p, now);
		if (rc)
			return tc_verdict(HOOK_TC_WAN_IN, rc);
		rc = nat_rewrite(skb, &p, 0, fe->xlate_addr, fe->xlate_port);
	}
	if (rc)
		return tc_verdict(HOOK_TC_WAN_IN, V_DROP_MALFORMED);
	count_gw_packet(fe->gw, p.len, 0);
	return tc_verdict(HOOK_TC_WAN_IN, V_FWD_VIA_KERNEL);
}
