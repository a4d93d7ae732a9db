/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Opening a flow from a WAN packet: the one step port forwards
 * (forward.h) and endpoint-independent mappings (mapping_nat.h) share.
 * Both entries are made at once, so the LAN side's replies match a flow
 * pinned to the WAN the session arrived on (symmetric return, pf's
 * reply-to) whatever the hash would choose.
 *
 * Included by mapping_nat.h, after the claim and install steps of nat.h.
 */
#ifndef XWAN_INBOUND_H
#define XWAN_INBOUND_H

/* What trying to open an inbound flow came to; one name per outcome. */
enum inbound_rc {
	INBOUND_OPENED = 0,     /* the packet has a flow now */
	INBOUND_NONE,           /* nothing opens a flow there: not ours */
	INBOUND_SRC_LIMIT,      /* the sender is over its budget of unanswered flows */
	INBOUND_REFUSED,        /* a live mapping's port whose filter refuses the
				   sender: dropped, never the host's to answer (no
				   RST to a SYN, RFC 5382 REQ-4) */
};

/* The LAN end of an inbound flow: a forward's server, a mapping's socket. */
struct inbound_target {
	__be32 addr;
	__be16 port;
	__u8   gw;              /* the WAN the flow arrived on and leaves by */
	__u8   pad;
	__u32  lan_ifindex;
	__u8   l2_dst[6];       /* its MAC; zero while unknown (XDP resolves it) */
	__u8   pad2[2];
};

/* Both entries of the flow from the packet's sender to t, in sc. */
static __always_inline void inbound_entries(struct admit_scratch *sc, const struct pkt *p,
					    const struct inbound_target *t,
					    const struct gw_info *gi,
					    const struct iface_info *lan, __u64 now)
{
	sc->in.created_ns = sc->out.created_ns = now;
	sc->in.last_seen_ns = sc->out.last_seen_ns = now;
	sc->in.gw = sc->out.gw = t->gw;
	sc->in.group = sc->out.group = XWAN_GROUP_NONE;
	sc->in.rule = sc->out.rule = XWAN_RULE_NONE;
	/* Opened from the WAN: the LAN side's answer establishes it. */
	sc->in.flags = sc->out.flags = FLOW_F_FORWARD | FLOW_F_NAT;
	sc->in.ct = sc->out.ct = FLOW_CT_CHARGED;

	sc->in.peer.saddr = t->addr;
	sc->in.peer.daddr = p->key.saddr;
	sc->in.peer.sport = t->port;
	sc->in.peer.dport = p->key.sport;
	sc->in.peer.proto = p->key.proto;
	sc->in.xlate_addr = t->addr;
	sc->in.xlate_port = t->port;
	sc->in.dir = FLOW_DIR_IN;
	sc->in.in_ifindex = gi->ifindex;
	sc->in.out_ifindex = t->lan_ifindex;
	sc->in.out_mtu = lan->mtu;
	__builtin_memcpy(sc->in.l2_dst, t->l2_dst, 6);
	__builtin_memcpy(sc->in.l2_src, lan->mac, 6);

	sc->out.peer = p->key;
	sc->out.xlate_addr = p->key.daddr;
	sc->out.xlate_port = p->key.dport;
	sc->out.dir = FLOW_DIR_OUT;
	sc->out.in_ifindex = t->lan_ifindex;
	sc->out.out_ifindex = gi->ifindex;
	sc->out.out_mtu = gi->mtu;
}

/*
 * Open the flow of a WAN packet to t, charged to its sender. The public
 * tuple is what two CPUs seeing the same SYN contend for: claim it first
 * (a dead flow or a leftover half gives it up), then the LAN side's tuple,
 * which an older live flow of the same server may hold. Not inlined: the
 * callers' frames stay small.
 */
static __attribute__((noinline)) enum inbound_rc inbound_flow_open(const struct pkt *p,
								   const struct inbound_target *t,
								   __u64 now)
{
	struct xwan_settings *s = get_settings();
	struct admit_scratch *sc;
	struct iface_info *lan;
	struct gw_info *gi;
	__u32 gw, ifx;

	if (!p || !t || !s)
		return INBOUND_NONE;
	gw = t->gw;
	gi = bpf_map_lookup_elem(&gateways, &gw);
	ifx = t->lan_ifindex;
	lan = bpf_map_lookup_elem(&ifaces, &ifx);
	if (!gi || !lan || lan->role != IFACE_LAN)
		return INBOUND_NONE;
	if (src_charge(s, p->key.saddr, SRC_WAN, now))
		return INBOUND_SRC_LIMIT;
	sc = scratch_get();
	if (!sc)
		goto refund;
	inbound_entries(sc, p, t, gi, lan, now);
	if (nat_claim(s, &p->key, &sc->in, now))
		goto refund;
	flow_clear_dead(s, &sc->in.peer, now);
	if (flow_install(&sc->in.peer, &sc->out, &p->key) <= 0)
		goto refund;
	flow_created(gw, s);
	return INBOUND_OPENED;
refund:
	src_refund(p->key.saddr, SRC_WAN);
	return INBOUND_NONE;
}

#endif /* XWAN_INBOUND_H */
