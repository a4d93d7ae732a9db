/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Hairpinning (RFC 4787 REQ-9, RFC 5382 REQ-8) and NAT reflection: a LAN
 * packet to one of the host's WAN addresses that a port forward with
 * `reflection: true` or another LAN host's live mapping holds goes to that
 * LAN host, in the dataplane, and its replies come back the same way.
 *
 * The source the LAN host sees:
 *   port forward, client on another LAN network: the client's own address
 *     ("pure NAT" reflection; the server routes its answer through xwan);
 *   port forward, client on the server's own network: the router's address
 *     toward the server and a port of the WAN's range, else the server would
 *     answer the client directly and the client would drop it (pfSense does
 *     the same);
 *   a mapping: the WAN address, with the client's own mapping's port when it
 *     has one there ("external source IP address and port", REQ-9).
 *
 * A hairpinned flow is a pair like a port forward's (FLOW_F_FORWARD: the
 * client's entry, IN, is the originator), whose entries both arrive on a
 * LAN and carry group XWAN_GROUP_HAIRPIN. Each entry's packets become its
 * peer key reversed: both addresses and ports may change.
 */
#ifndef XWAN_HAIRPIN_H
#define XWAN_HAIRPIN_H

#include "forward.h"
#include "icmp.h"

static __always_inline int flow_is_hairpin(const struct flow_entry *fe)
{
	return fe->group == XWAN_GROUP_HAIRPIN;
}

/* The configured LAN network of addr on ifindex (xwan_lan_net_id), -1: none. */
static __always_inline long lan_net_of(__u32 ifindex, __be32 addr)
{
	struct lan_src_key lk = { .prefixlen = 64, .ifindex = ifindex, .addr = addr };
	__u32 *id = bpf_map_lookup_elem(&lan_nets, &lk);

	return id ? (long)*id : -1;
}

/* What a new hairpinned flow is being made of: off the program's stack. */
struct hairpin_scratch {
	struct inbound_target t;        /* the LAN host it reaches */
	__be32 src_addr;                /* the source that host sees */
	__u16 src_port;                 /* host order: the port to try first, 0: none */
	__u8 translate;                 /* 1: a port of the WAN's range; 0: the client's */
	__u8 mapping;                   /* the target is a mapping's socket */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct hairpin_scratch);
} hairpin_scratch SEC(".maps");

/*
 * The LAN socket of the live mapping at the packet's destination, if its
 * filter admits the client. The client's external address is the WAN
 * address itself: endpoint-independent filtering admits it, address-
 * dependent filtering when the mapping has sent to that address.
 */
static __always_inline enum inbound_rc hairpin_mapping(const struct xwan_settings *s,
						       const struct pkt *p,
						       struct hairpin_scratch *hs, __u64 now)
{
	struct nat_map *pm;
	int filtered = 0;

	pm = nat_map_admits(s, p, p->key.daddr, now, &filtered);
	if (!pm) {
		if (!filtered)
			return INBOUND_NONE;
		count_event(EV_HAIRPIN_FILTERED);
		return INBOUND_REFUSED;
	}
	hs->t.addr = pm->addr;
	hs->t.port = pm->port;
	hs->t.gw = pm->gw;
	hs->t.lan_ifindex = pm->lan_ifindex;
	__builtin_memcpy(hs->t.l2_dst, pm->l2_dst, 6);
	hs->mapping = 1;
	return INBOUND_OPENED;
}

/* The port a mapping hairpin's source takes first: the client's mapping's. */
static __always_inline __u16 hairpin_client_port(const struct pkt *p, __u32 gw, __u64 now)
{
	struct xwan_settings *s = get_settings();
	struct nat_map_key k;
	struct nat_map *m;

	nat_map_key_of(&k, p->key.saddr, p->key.sport, p->key.proto, NMAP_LAN);
	m = bpf_map_lookup_elem(&nat_maps, &k);
	if (s && m && m->gw == gw && m->addr == p->key.daddr &&
	    nat_map_live(s, m, p->key.proto, now))
		return bpf_ntohs(m->port);
	return bpf_ntohs(p->key.sport);
}

/* Both entries of the hairpinned flow: sc->out the client's, sc->in the LAN host's. */
static __always_inline void hairpin_entries(struct admit_scratch *sc, const struct pkt *p,
					    const struct hairpin_scratch *hs,
					    const struct iface_info *clan,
					    const struct iface_info *slan, __u32 cifx,
					    __u64 now)
{
	sc->in.created_ns = sc->out.created_ns = now;
	sc->in.last_seen_ns = sc->out.last_seen_ns = now;
	sc->in.gw = sc->out.gw = hs->t.gw;
	sc->in.group = sc->out.group = XWAN_GROUP_HAIRPIN;
	sc->in.rule = sc->out.rule = XWAN_RULE_NONE;
	sc->in.flags = sc->out.flags = FLOW_F_FORWARD | FLOW_F_NAT;
	sc->in.ct = sc->out.ct = FLOW_CT_CHARGED;

	/* The client's packets: to the LAN host (peer: set with the port). */
	sc->out.xlate_addr = hs->t.addr;
	sc->out.xlate_port = hs->t.port;
	sc->out.dir = FLOW_DIR_IN;
	sc->out.in_ifindex = cifx;
	sc->out.out_ifindex = hs->t.lan_ifindex;
	sc->out.out_mtu = slan->mtu;
	__builtin_memcpy(sc->out.l2_dst, hs->t.l2_dst, 6);
	__builtin_memcpy(sc->out.l2_src, slan->mac, 6);

	/* The LAN host's answers: from the WAN address, to the client. */
	sc->in.peer = p->key;
	sc->in.xlate_addr = p->key.daddr;
	sc->in.xlate_port = p->key.dport;
	sc->in.dir = FLOW_DIR_OUT;
	sc->in.in_ifindex = hs->t.lan_ifindex;
	sc->in.out_ifindex = cifx;
	sc->in.out_mtu = clan->mtu;
	__builtin_memcpy(sc->in.l2_dst, p->eth_src, 6);
	__builtin_memcpy(sc->in.l2_src, clan->mac, 6);
}

/*
 * Claim the LAN host's answer key ({host, source seen, host port, port}):
 * the client's own port when untranslated, else a port of the WAN's range
 * as NAT picks one (nat_try_port searches in sc->nt). 0 with nt->rev the key.
 */
static __always_inline int hairpin_claim(struct nat_try *nt, const struct pkt *p,
					 const struct hairpin_scratch *hs,
					 const struct gw_info *gi, __u64 now)
{
	__builtin_memset(nt, 0, sizeof(*nt));
	nt->rev.saddr = hs->t.addr;
	nt->rev.sport = hs->t.port;
	nt->rev.daddr = hs->src_addr;
	nt->rev.proto = p->key.proto;
	nt->now = now;
	if (!hs->translate) {
		nt->base = bpf_ntohs(p->key.sport);
		nt->range = 1;
		nat_try_port(1, NULL);
		return nt->found ? 0 : -1;
	}
	nt->base = gi->port_min;
	nt->range = (__u32)gi->port_max - gi->port_min + 1;
	nt->first = hs->src_port >= gi->port_min && hs->src_port <= gi->port_max ? hs->src_port : 0;
	nt->start = bpf_get_prandom_u32();
	bpf_loop(XWAN_NAT_TRIES, nat_try_port, NULL, 0);
	return nt->found ? 0 : -1;
}

/*
 * Where the LAN host is (its interface, its MAC if the kernel knows it)
 * and the source it sees. INBOUND_OPENED when the flow can be made.
 */
static __always_inline enum inbound_rc hairpin_route(xwan_ctx *ctx, const struct pkt *p,
						     struct hairpin_scratch *hs, __u64 now)
{
	struct bpf_fib_lookup fib = {};
	__u32 cifx = ctx_ifindex(ctx);
	long cnet;
	int rc;

	fib.family = 2; /* AF_INET */
	fib.ipv4_src = p->key.saddr;
	fib.ipv4_dst = hs->t.addr;
	fib.ifindex = cifx;
	rc = bpf_fib_lookup(ctx, &fib, sizeof(fib), BPF_FIB_LOOKUP_DIRECT | BPF_FIB_LOOKUP_SRC);
	if (rc != BPF_FIB_LKUP_RET_SUCCESS && rc != BPF_FIB_LKUP_RET_NO_NEIGH)
		return INBOUND_NONE;
	if (hs->mapping && fib.ifindex != hs->t.lan_ifindex)
		return INBOUND_NONE;
	hs->t.lan_ifindex = fib.ifindex;
	if (!hs->mapping && rc == BPF_FIB_LKUP_RET_SUCCESS)
		__builtin_memcpy(hs->t.l2_dst, fib.dmac, 6);
	if (hs->mapping) {
		hs->src_addr = p->key.daddr;
		hs->src_port = hairpin_client_port(p, hs->t.gw, now);
		hs->translate = 1;
		return INBOUND_OPENED;
	}
	cnet = lan_net_of(cifx, p->key.saddr);
	if (cnet >= 0 && cnet == lan_net_of(fib.ifindex, hs->t.addr) && fib.ipv4_src) {
		hs->src_addr = fib.ipv4_src;    /* the router's address toward the server */
		hs->src_port = bpf_ntohs(p->key.sport);
		hs->translate = 1;
	} else {
		hs->src_addr = p->key.saddr;
		hs->translate = 0;
	}
	return INBOUND_OPENED;
}

/*
 * A LAN client's new flow to a WAN address of the host: reflected to a
 * port forward's server, or hairpinned to a LAN host's mapping. Charged to
 * the client as a forwarded session's opener (flow_refund). Not inlined:
 * off xdp_lan's and flow_admit's stack.
 */
static __attribute__((noinline)) enum inbound_rc hairpin_open(xwan_ctx *ctx, const struct pkt *p,
							      __u64 now)
{
	struct port_fwd_key k = { .addr = p->key.daddr, .port = p->key.dport,
				  .proto = p->key.proto };
	struct xwan_settings *s = get_settings();
	__u32 zero = 0, cifx = ctx_ifindex(ctx), gw, sifx;
	struct hairpin_scratch *hs = bpf_map_lookup_elem(&hairpin_scratch, &zero);
	struct iface_info *clan, *slan;
	struct admit_scratch *sc;
	enum inbound_rc rc;
	struct port_fwd *pf;
	struct gw_info *gi;

	if (!p || !s || !hs || !pkt_opens_forward(p) || !lan_src_ok(cifx, p->key.saddr))
		return INBOUND_NONE;
	__builtin_memset(hs, 0, sizeof(*hs));
	pf = bpf_map_lookup_elem(&port_fwds, &k);
	if (pf) {
		if (!(pf->flags & PORT_FWD_F_REFLECT))
			return INBOUND_NONE;    /* reflection: false: the host's, as before */
		hs->t.addr = pf->to_addr;
		hs->t.port = pf->to_port;
		hs->t.gw = pf->gw;
	} else {
		rc = hairpin_mapping(s, p, hs, now);
		if (rc != INBOUND_OPENED)
			return rc;
	}
	if (hairpin_route(ctx, p, hs, now) != INBOUND_OPENED)
		return INBOUND_NONE;
	gw = hs->t.gw;
	gi = bpf_map_lookup_elem(&gateways, &gw);
	clan = bpf_map_lookup_elem(&ifaces, &cifx);
	sifx = hs->t.lan_ifindex;
	slan = bpf_map_lookup_elem(&ifaces, &sifx);
	if (!gi || !clan || !slan || clan->role != IFACE_LAN || slan->role != IFACE_LAN)
		return INBOUND_NONE;
	if (src_charge(s, p->key.saddr, SRC_WAN, now))
		return INBOUND_SRC_LIMIT;
	sc = scratch_get();
	if (!sc)
		goto refund;
	hairpin_entries(sc, p, hs, clan, slan, cifx, now);
	if (hairpin_claim(&sc->nt, p, hs, gi, now))
		goto refund;
	sc->out.peer = sc->nt.rev;
	flow_clear_old(s, p, now);
	if (flow_install(&p->key, &sc->out, &sc->nt.rev) <= 0)
		goto refund;
	/* The client's mapping, when the hairpin took its port, has sent to the WAN address. */
	if (hs->mapping)
		nat_map_refresh(&sc->out, p, now);
	flow_created(gw, s);
	count_event(EV_HAIRPIN_OPENED);
	return INBOUND_OPENED;
refund:
	src_refund(p->key.saddr, SRC_WAN);
	return INBOUND_NONE;
}

/* A hairpinned packet becomes its entry's peer key reversed. */
static __always_inline int hairpin_rewrite(xwan_ctx *ctx, const struct pkt *p,
					   const struct flow_entry *fe)
{
	__u16 ip_check = p->in_ip_check, l4_check = p->in_l4_check;

	if (p->icmp_err) {
		if (icmp_error_rewrite(ctx, p, 1, fe->peer.daddr, fe->peer.dport, &ip_check,
				       &l4_check) ||
		    icmp_error_rewrite(ctx, p, 0, fe->peer.saddr, fe->peer.sport, &ip_check,
				       &l4_check))
			return -1;
		count_event(EV_ICMP_ERR_XLATED);
		return 0;
	}
	if (nat_rewrite(ctx, p, 1, fe->peer.daddr, fe->peer.dport))
		return -1;
	return nat_rewrite(ctx, p, 0, fe->peer.saddr, fe->peer.sport);
}

#endif /* XWAN_HAIRPIN_H */
