/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The mapping table of endpoint-independent NAT (xwan_types.h: struct
 * nat_map): lookups, liveness, and the refresh a flow gives the mapping
 * it uses. Kept apart from nat.h so that flow.h, whose packets refresh
 * mappings, needs nothing of NAT. Making mappings: mapping_nat.h.
 *
 * A mapping lives while a flow of its socket was seen within the UDP
 * timeout (TCP: the transitory one): new flows refresh it at once, the
 * packets of its flows every 2^33 ns of traffic (HA_TOUCH_SHIFT), so the
 * hot path pays one lookup per flow every ~8.6 s, and nothing needs a
 * reference count that LRU evictions and the agent's sweep would break.
 */
#ifndef XWAN_MAPPING_H
#define XWAN_MAPPING_H

#include "clock.h"
#include "events.h"
#include "maps.h"
#include "parse.h"

static __always_inline int nat_map_proto(__u8 proto)
{
	return proto == IPPROTO_UDP || proto == IPPROTO_TCP;
}

static __always_inline __u64 nat_map_timeout(const struct xwan_settings *s, __u8 proto)
{
	__u32 t = xwan_nat_map_timeout_index(proto);

	if (t >= TIMEOUT_MAX)
		return 0;
	return xwan_nat_map_timeout(s->timeout_ns[t]);
}

static __always_inline int nat_map_live(const struct xwan_settings *s, const struct nat_map *m,
					__u8 proto, __u64 now)
{
	return !age_exceeds(now, m->last_ns, nat_map_timeout(s, proto));
}

static __always_inline void nat_map_key_of(struct nat_map_key *k, __be32 addr, __be16 port,
					   __u8 proto, __u8 side)
{
	k->addr = addr;
	k->port = port;
	k->proto = proto;
	k->side = side;
}

/* The LAN side of a PUB entry, when it still points back at it. */
static __always_inline struct nat_map *nat_map_owner(const struct nat_map_key *pub,
						     const struct nat_map *pm)
{
	struct nat_map_key k;
	struct nat_map *m;

	nat_map_key_of(&k, pm->addr, pm->port, pub->proto, NMAP_LAN);
	m = bpf_map_lookup_elem(&nat_maps, &k);
	if (!m || m->addr != pub->addr || m->port != pub->port)
		return NULL;
	return m;
}

/* Remove a mapping: its LAN side at k, and its PUB side if it points back (on the HA peer too). */
static __always_inline void nat_map_drop(const struct nat_map_key *k, const struct nat_map *m)
{
	struct nat_map_key pub;
	struct nat_map *pm;

	nat_map_key_of(&pub, m->addr, m->port, k->proto, NMAP_PUB);
	pm = bpf_map_lookup_elem(&nat_maps, &pub);
	if (pm && pm->addr == k->addr && pm->port == k->port)
		bpf_map_delete_elem(&nat_maps, &pub);
	bpf_map_delete_elem(&nat_maps, k);
	ha_emit_map_delete(k);
}

/* address-dependent filtering: this remote may now send to the mapping. */
static __always_inline void nat_permit(__be32 pub_addr, __be16 pub_port, __be32 remote,
				       __u8 proto, __u64 now)
{
	struct nat_permit_key k = { .pub_addr = pub_addr, .remote = remote,
				    .pub_port = pub_port, .proto = proto };

	bpf_map_update_elem(&nat_permits, &k, &now, BPF_ANY);
}

/*
 * A packet of a translated flow: refresh its socket's mapping, if the flow
 * uses it (same public address and port). OUT entries carry the LAN socket
 * in the packet, IN entries in their translation. Both entries of a
 * hairpinned flow (hairpin.h) carry a LAN socket in the packet, its source
 * seen as the entry's peer destination: the client's mapping when the
 * hairpin took its port, the reached host's when it answers, each with the
 * WAN address it sent to as the remote (what hairpin_mapping checks). Never
 * the other LAN host's own address: a permit for it would outlive the flow
 * and admit a packet from the internet that claims it.
 */
static __attribute__((noinline)) void nat_map_refresh(const struct flow_entry *fe,
						      const struct pkt *p, __u64 now)
{
	struct nat_map_key k;
	struct nat_map *m;
	__be32 pub_addr, remote;
	__be16 pub_port;

	if (fe->group == XWAN_GROUP_HAIRPIN) {
		nat_map_key_of(&k, p->key.saddr, p->key.sport, p->key.proto, NMAP_LAN);
		pub_addr = fe->peer.daddr;
		pub_port = fe->peer.dport;
		remote = p->key.daddr;
	} else if (fe->dir == FLOW_DIR_OUT) {
		nat_map_key_of(&k, p->key.saddr, p->key.sport, p->key.proto, NMAP_LAN);
		pub_addr = fe->xlate_addr;
		pub_port = fe->xlate_port;
		remote = p->key.daddr;
	} else {
		nat_map_key_of(&k, fe->xlate_addr, fe->xlate_port, p->key.proto, NMAP_LAN);
		pub_addr = p->key.daddr;
		pub_port = p->key.dport;
		remote = p->key.saddr;
	}
	m = bpf_map_lookup_elem(&nat_maps, &k);
	if (!m || m->addr != pub_addr || m->port != pub_port)
		return;
	m->last_ns = now;
	if (m->filtering == FILTER_ADDR)
		nat_permit(pub_addr, pub_port, remote, p->key.proto, now);
}

/* Per packet, before last_seen_ns moves: a lookup every 2^33 ns at most. */
static __always_inline void nat_map_touch(const struct flow_entry *fe, const struct pkt *p,
					  __u64 now)
{
	if (likely(!((now ^ fe->last_seen_ns) >> HA_TOUCH_SHIFT)))
		return;
	if ((fe->flags & FLOW_F_NAT) && nat_map_proto(p->key.proto) && p->frag != FRAG_LATER &&
	    (fe->dir == FLOW_DIR_OUT || fe->dir == FLOW_DIR_IN))
		nat_map_refresh(fe, p, now);
}

#endif /* XWAN_MAPPING_H */
