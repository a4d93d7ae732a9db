/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The one definition of every map layout, shared by the BPF programs and
 * userspace. Anything that crosses the kernel/user boundary lives here.
 *
 * Addresses and ports are kept in network byte order everywhere (as they
 * appear on the wire), so the dataplane never swaps bytes on the hot path.
 */
#ifndef XWAN_TYPES_H
#define XWAN_TYPES_H

#ifndef __bpf__
#include <linux/types.h>
#endif

#define XWAN_MAX_GATEWAYS   32
#define XWAN_MAX_GROUPS     16
#define XWAN_MAX_IFACES     64
#define XWAN_MAX_RULES      512
#define XWAN_MAX_LANS       16
#define XWAN_MAX_LAN_NETS   32     /* networks per LAN */
#define XWAN_MAX_FORWARDS   256
#define XWAN_MAX_DST_PREFIXES 2048 /* dst_policy: local, LAN and WAN prefixes */
#define XWAN_SLOTS          4093   /* prime, so Maglev permutations cover it */
#define XWAN_GW_NONE        0xff   /* slot value: no usable gateway */
#define XWAN_GROUP_NONE     0xff
#define XWAN_GROUP_HAIRPIN  0xfe   /* flow_entry.group of a hairpinned flow: LAN to
				      LAN through a WAN address, no group chose a
				      gateway (bpf/lib/hairpin.h) */

/* Tunables of the hot path that need no runtime configuration. */
#define XWAN_NAT_TRIES      16     /* port candidates per gateway */
#define XWAN_GW_TRIES       4      /* gateways tried when NAT ports run out */
#define XWAN_NEIGH_RECHECK_NS (1000ULL * 1000 * 1000) /* re-read gateway MAC at most 1/s */

/* ---------------------------------------------------------------- flows */

/*
 * A flow has two entries, one per direction, each keyed by the tuple its
 * packets carry when they reach us:
 *   OUT (LAN -> WAN): {client, remote, client port, remote port}
 *   IN  (WAN -> LAN): {remote, nat addr, remote port, nat port}
 * For ICMP echo the identifier is the "source port" of a request and the
 * "destination port" of a reply; the other port is 0.
 */
/*
 * The two entries live together in one of two tables, as conntrack keeps
 * unassured entries apart from assured ones:
 *   flows_new  (LRU)  flows nobody answered yet: a flood churns only this;
 *   flows      (hash, never evicts) flows that were answered, promoted
 *              there on the answer; nothing new can push them out.
 */
struct flow_key {
	__be32 saddr;
	__be32 daddr;
	__be16 sport;
	__be16 dport;
	__u8   proto;
	__u8   pad[3];
};

enum flow_dir {
	FLOW_DIR_OUT   = 0, /* originated on the LAN */
	FLOW_DIR_IN    = 1, /* the reply direction */
	FLOW_DIR_LOCAL = 2, /* the host's own session on a WAN address, keyed by its
			       reply tuple: NAT never takes the port, replies go up */
};

enum flow_state {
	FLOW_STATE_NEW         = 0, /* only the originator has spoken (TCP: SYN sent) */
	FLOW_STATE_ESTABLISHED = 1, /* UDP/ICMP: answered; TCP: the handshake completed */
	FLOW_STATE_CLOSING     = 2, /* TCP FIN seen */
	FLOW_STATE_CLOSED      = 3, /* TCP RST, or FIN both ways */
	FLOW_STATE_SYN_RECV    = 4, /* TCP: SYN-ACK seen, the originator's ACK not yet */
	FLOW_STATE_MAX
};

/* flow_entry.flags */
#define FLOW_F_NAT        0x01  /* addresses/ports are rewritten */
#define FLOW_F_FIN_OUT    0x02  /* FIN seen LAN -> WAN */
#define FLOW_F_FIN_IN     0x04  /* FIN seen WAN -> LAN */
#define FLOW_F_MIDSTREAM  0x08  /* TCP flow picked up without a SYN */
#define FLOW_F_BYPASS     0x10  /* a rule left it to the kernel's routing: no NAT */
#define FLOW_F_DROP       0x20  /* a rule drops it */
#define FLOW_F_FORWARD    0x40  /* opened from a WAN by a port forward */
#define FLOW_F_ONLINK     0x80  /* OUT: the destination is on the WAN's own subnet;
				   l2_dst holds its MAC (zero: unresolved) */

/* flow_entry.ct: connection tracking bits of this entry */
#define FLOW_CT_REPLIED   0x01  /* lives in `flows` (the answered table) */
#define FLOW_CT_SEQ       0x02  /* TCP: tcp_seq_next holds this direction's sequence end */
#define FLOW_CT_WSCALE    0x04  /* TCP: this direction scales its window (both SYNs agreed) */
#define FLOW_CT_CHARGED   0x08  /* counted against a source's unreplied budget */
#define FLOW_CT_WS_SHIFT  4     /* TCP: bits 4-7: this direction's window scale */

#define XWAN_RULE_NONE    0xffff

struct flow_entry {
	__u64  created_ns;      /* CLOCK_MONOTONIC (bpf_ktime_get_coarse_ns) */
	__u64  last_seen_ns;
	__u64  packets;         /* this direction only */
	__u64  bytes;
	struct flow_key peer;   /* the key of the other direction's entry */
	__be32 xlate_addr;      /* OUT: new source address; IN: new destination */
	__be16 xlate_port;      /* OUT: new source port;    IN: new destination port */
	__u8   dir;             /* enum flow_dir */
	__u8   state;           /* enum flow_state, kept equal in both entries */
	__u32  in_ifindex;      /* where this direction's packets arrive */
	__u32  out_ifindex;     /* where they leave */
	__u16  out_mtu;         /* MTU of out_ifindex (IN entries; OUT uses the gateway's) */
	__u8   gw;              /* gateway index */
	__u8   group;           /* group that chose the gateway, XWAN_GROUP_NONE if pinned */
	__u8   flags;           /* FLOW_F_* */
	__u8   ct;              /* FLOW_CT_*, per entry */
	__u8   l2_dst[6];       /* IN: the LAN host's MAC (source MAC of its first
				   packet); OUT with FLOW_F_ONLINK: the destination's */
	__u8   l2_src[6];       /* IN: our LAN interface MAC */
	__u16  rule;            /* policy rule that matched, XWAN_RULE_NONE: default group */
	union {
		__u32 tcp_seq_next;     /* TCP: the end of the sequence space this
					   direction's sender used (FLOW_CT_SEQ); for IN
					   the next number the client expects, which lets
					   the agent reset the client's connection */
		__u32 host_packets;     /* LOCAL: the host's packets out (packets and
					   bytes above count the replies coming in) */
	};
	union {
		struct {
			__u32 tcp_own_win;      /* TCP: the largest window this direction's
						   sender advertised (scaled), copied to the
						   peer's tcp_peer_win when it grows */
			__u32 tcp_peer_win;     /* TCP: the largest window the other
						   direction's sender advertised (scaled): how
						   far ahead of tcp_seq_next this direction
						   may send */
		};
		__u64 host_bytes;       /* LOCAL: the host's bytes out */
	};
};

#ifndef __bpf__
_Static_assert(sizeof(struct flow_entry) == 96, "flow_entry is 96 bytes: hot paths and the benchmark figures assume it");
#endif

/* The unreplied table holds a quarter of the flows the answered one does. */
static inline __u32 xwan_unreplied_capacity(__u32 flow_capacity)
{
	__u32 n = flow_capacity / 4;

	return n < 1024 ? 1024 : n;
}

/* Per-source budget of unreplied flows (src_budget map). */
enum src_side {
	SRC_LAN = 0,            /* a LAN host opening flows */
	SRC_WAN = 1,            /* an internet host opening port-forwarded or host sessions */
};

struct src_key {
	__be32 addr;
	__u8   side;            /* enum src_side */
	__u8   pad[3];
};

/* The same budget for an IPv6 source (src_budget6): one address, as IPv4's. */
struct src6_key {
	__u8   addr[16];
	__u8   side;            /* enum src_side */
	__u8   pad[3];
};

struct src_budget {
	__u64 stamp_ns;         /* last time `level` was drained */
	__u32 level;            /* unreplied flows charged, drained over the
				   transitory timeout, refunded on an answer */
	__u32 pad;
};

/* Later IPv4 fragments carry no ports: they follow the first one's flow. */
struct frag_key {
	__be32 saddr;
	__be32 daddr;
	__be16 id;
	__u8   proto;
	__u8   pad;
};

struct frag_entry {
	struct flow_key flow;   /* the flow entry the first fragment matched */
	__u64 seen_ns;
};

/*
 * Later fragments that came before their first, held by tc (bpf/lib/frag.h):
 * a few per datagram, bounded in all.
 */
#define XWAN_FRAG_HOLD_SLOTS   4      /* 6 KB of datagram at a 1500-byte MTU */
#define XWAN_FRAG_HOLD_BYTES   1536   /* a 1500-byte MTU's frame, and VLAN tags */
#define XWAN_FRAG_HOLD_ENTRIES 512    /* held fragments, all datagrams */

struct frag_hold_key {
	struct frag_key fk;
	__u32 slot;             /* 0 .. XWAN_FRAG_HOLD_SLOTS - 1 */
};

struct frag_held {
	__u64 seen_ns;
	__u32 len;              /* frame bytes, from the Ethernet header */
	__u32 pad;
	__u8  data[XWAN_FRAG_HOLD_BYTES];
};

/* ------------------------------------------------------------- gateways */

enum gw_status {
	GW_STATUS_PENDING = 0,  /* monitor has too little data yet */
	GW_STATUS_ONLINE  = 1,
	GW_STATUS_WARNING = 2,
	GW_STATUS_DOWN    = 3,
	GW_STATUS_MAX
};

/* gw_info.flags */
#define GW_F_CONFIGURED   0x01
#define GW_F_NAT          0x02  /* masquerade to nat_addr */
#define GW_F_USABLE       0x04  /* may take new flows (the slot tables agree) */
#define GW_F_AUTO         0x08  /* nexthop learned from the host (gateway: auto) */

/* Written by userspace only. */
struct gw_info {
	__u32  ifindex;         /* WAN interface */
	__be32 nat_addr;        /* the WAN interface's IPv4 address */
	__be32 nexthop;         /* the gateway's address */
	__u16  port_min;        /* NAT port range, host order */
	__u16  port_max;
	__u16  mtu;
	__u8   flags;           /* GW_F_* */
	__u8   status;          /* enum gw_status, for the views */
	__u8   mac_wan[6];      /* our WAN interface's MAC */
	__u8   pad[2];
	__u32  fwmark;          /* mark that routes the kernel slow path to this WAN */
};

/*
 * The gateway's MAC, kept apart from gw_info because both the dataplane (a
 * FIB lookup on new flows, at most once a second) and userspace (neighbour
 * events) write it.
 */
struct gw_neigh {
	__u8  mac[6];
	__u8  valid;
	__u8  pad;
	__u64 checked_ns;
};

/* Per-gateway counters, one per CPU. */
struct gw_counters {
	__u64 pkts_out;
	__u64 bytes_out;
	__u64 pkts_in;
	__u64 bytes_in;
	__u64 flows_created;
	__u64 nat_exhausted;    /* new flows that found no free port on this gateway */
	__u64 unsolicited;      /* WAN packets that matched no flow */
	__u64 pad;
};

/* --------------------------------------------------------------- groups */

enum group_method {
	GROUP_METHOD_HASH        = 0,
	GROUP_METHOD_ROUND_ROBIN = 1,
};

/* Hash fields, any subset. */
#define HASH_F_SRC    0x01
#define HASH_F_DST    0x02
#define HASH_F_PROTO  0x04
#define HASH_F_SPORT  0x08
#define HASH_F_DPORT  0x10
#define HASH_F_ALL    0x1f

enum when_all_down {
	ALL_DOWN_KERNEL = 0,    /* leave new flows to the host's routing table */
	ALL_DOWN_DROP   = 1,
};

/*
 * A slot table maps a flow hash (or the round-robin position) to a gateway.
 * Each group owns two banks; userspace fills the idle one and then flips
 * gw_group.active, so a reader sees one consistent table.
 */
enum sticky_key {
	STICKY_KEY_SRC     = 0, /* one gateway per client */
	STICKY_KEY_SRC_DST = 1, /* one per client and destination */
};

struct gw_slot_table {
	__u32 nslots;           /* 0: no usable gateway */
	__u32 seed;
	__u16 hash_fields;      /* HASH_F_* */
	__u8  method;           /* enum group_method */
	__u8  when_all_down;    /* enum when_all_down */
	__u32 usable_mask;      /* the gateways this table names */
	__u32 sticky_expire_s;  /* 0: not sticky */
	__u8  sticky_key;       /* enum sticky_key */
	__u8  filtering;        /* enum nat_filtering of the mappings it makes */
	__u8  pad[2];
	__u8  slot[XWAN_SLOTS]; /* gateway indices, or XWAN_GW_NONE */
	__u8  pad2[3];
};

/*
 * A sticky client's gateway. The dataplane refreshes it on each new flow;
 * the agent's sweep refreshes it while the client still has live flows.
 */
struct sticky_key_v4 {
	__be32 src;
	__be32 dst;             /* 0 for STICKY_KEY_SRC */
	__u8   group;
	__u8   pad[3];
};

struct sticky_binding {
	__u64 last_ns;
	__u8  gw;
	__u8  pad[7];
};

/* ------------------------------------------------------------ mappings */

/*
 * Endpoint-independent mapping (RFC 4787 REQ-1, RFC 5382 REQ-1): while a
 * LAN socket (address, port, protocol) holds a mapping, each of its flows,
 * to any remote, leaves through the mapping's WAN with its public
 * address:port. A mapping has two entries in `nat_maps`, like a flow:
 *   LAN side {LAN address, LAN port}       -> the public address:port
 *   PUB side {public address, public port} -> the LAN socket
 * The PUB side is what makes one public port one socket's (per WAN
 * address), and what an inbound packet finds. The LAN side is the one
 * whose clock counts: a PUB entry whose LAN side no longer points back
 * at it is a leftover, free to take.
 */
enum nat_filtering {
	FILTER_ADDR_PORT = 0,   /* address-and-port-dependent: replies only (default) */
	FILTER_ADDR      = 1,   /* address-dependent: any port of a remote it sent to */
	FILTER_ENDPOINT  = 2,   /* endpoint-independent: anyone ("full cone") */
	FILTER_MAX
};

enum nat_map_side {
	NMAP_LAN = 0,
	NMAP_PUB = 1,
};

struct nat_map_key {
	__be32 addr;
	__be16 port;
	__u8   proto;
	__u8   side;            /* enum nat_map_side */
};

struct nat_map {
	__u64  created_ns;
	__u64  last_ns;         /* LAN side: last use by one of its flows (refreshed
				   every ~8.6 s of traffic, HA_TOUCH_SHIFT) */
	__be32 addr;            /* LAN side: the public address; PUB side: the LAN one */
	__be16 port;
	__u8   gw;              /* the WAN */
	__u8   filtering;       /* enum nat_filtering */
	__u32  lan_ifindex;     /* where the LAN socket is */
	__u8   l2_dst[6];       /* the LAN host's MAC (its first packet's source) */
	__u8   pad[2];
	__u32  flows;           /* flows the mapping made or reused, for the views */
};

/*
 * address-dependent filtering: a remote address the mapping has sent to.
 * Refreshed with the mapping, by flows to that address.
 */
struct nat_permit_key {
	__be32 pub_addr;
	__be32 remote;
	__be16 pub_port;
	__u8   proto;
	__u8   pad;
};

#ifndef __bpf__
_Static_assert(sizeof(struct nat_map_key) == 8, "nat_map_key layout");
_Static_assert(sizeof(struct nat_map) == 40, "nat_map layout");
_Static_assert(sizeof(struct nat_permit_key) == 12, "nat_permit_key layout");
#endif

/* ---------------------------------------------------------------- rules */

enum rule_action {
	RULE_ACTION_GROUP  = 0,
	RULE_ACTION_BYPASS = 1,
	RULE_ACTION_DROP   = 2,
};

/* What a rule's prefixes are (policy_rule.family): one family's flows, or both. */
enum rule_family {
	RULE_FAMILY_ANY  = 0,   /* no prefix, no `family:`: IPv4 and IPv6 flows */
	RULE_FAMILY_IPV4 = 4,
	RULE_FAMILY_IPV6 = 6,
};

/*
 * First match wins; evaluated on a flow's first packet only, either family
 * (xwan_rules.h). Addresses are four words, an IPv4 one in word 0 with the
 * other masks zero, so one test serves both.
 */
struct policy_rule {
	__be32 src_addr[4];     /* already masked */
	__be32 src_mask[4];
	__be32 dst_addr[4];
	__be32 dst_mask[4];
	__u32  lan_ifindex;     /* 0: any LAN */
	__u16  dport_min;       /* host order; 0-65535: any */
	__u16  dport_max;
	__u8   proto;           /* 0: any; IPPROTO_ICMP is either family's ICMP */
	__u8   action;          /* enum rule_action */
	__u8   group;
	__u8   filtering;       /* the mappings its flows make: 0 the group's,
				   else enum nat_filtering + 1 (xwan_rule_filtering) */
	__u8   family;          /* enum rule_family */
	__u8   pad[3];
};

#ifndef __bpf__
_Static_assert(sizeof(struct policy_rule) == 80, "policy_rule layout");
#endif

/* A rule's filtering over its group's. */
static inline __attribute__((always_inline)) __u8 xwan_rule_filtering(__u8 rule_filtering,
								     __u8 group_filtering)
{
	return rule_filtering ? (__u8)(rule_filtering - 1) : group_filtering;
}

/* --------------------------------------------------------- port forwards */

struct port_fwd_key {
	__be32 addr;            /* the WAN address it arrives on */
	__be16 port;
	__u8   proto;
	__u8   pad;
};

struct port_fwd {
	__be32 to_addr;
	__be16 to_port;
	__u8   gw;              /* the WAN: replies leave through it */
	__u8   flags;           /* PORT_FWD_F_* */
};

/* port_fwd.flags */
#define PORT_FWD_F_REFLECT 0x01 /* LAN clients reach it through the WAN address
				   too (NAT reflection, `reflection: true`) */

struct gw_group {
	__u32 active;           /* bank in use: slot table index group * 2 + active */
	__u32 generation;       /* bumped on every install, for the views */
};

/* Key in gw_slots of a group's bank (gw_group.active, or the idle one). */
static inline __attribute__((always_inline)) __u32 xwan_slot_key(__u32 group, __u32 bank)
{
	return group * 2 + (bank & 1);
}

/* ------------------------------------------------------- interfaces/dst */

enum iface_role {
	IFACE_NONE = 0,
	IFACE_LAN  = 1,
	IFACE_WAN  = 2,
};

struct iface_info {
	__u8  role;             /* enum iface_role */
	__u8  gw;               /* WAN: its gateway index */
	__u16 mtu;
	__u8  mac[6];
	__u8  l2_len;           /* bytes before the IP header: ETH_HLEN (14), or 0 on
				   L3 devices (ppp, raw-IP wwan, wg, tun) */
	__u8  pad;
};

/*
 * How a packet that an XDP program forwards from in_ifindex to out_ifindex
 * reaches it, decided per pair at attach time (loader/devpath.c): a
 * redirect only where the kernel transmits it (native XDP into a target
 * with ndo_xdp_xmit, or a generic-XDP source, whose redirect is an skb
 * transmit), else the kernel path. No entry: the kernel path.
 */
enum xdp_tx_path {
	XDP_TX_KERNEL   = 0,    /* XDP_PASS: tc marks it with the flow, the kernel
				   routes and transmits (bridge, bond, Wi-Fi, L3...) */
	XDP_TX_REDIRECT = 1,    /* bpf_redirect_map from the XDP hook */
};

struct tx_path_key {
	__u32 in_ifindex;
	__u32 out_ifindex;
};

struct tx_path {
	__u8  path;             /* enum xdp_tx_path */
	__u8  pad[3];
};

/* Destination policy, longest prefix match on the destination address. */
enum dst_action {
	DST_ACTION_NONE   = 0,
	DST_ACTION_LOCAL  = 1,  /* one of the host's own addresses: kernel */
	DST_ACTION_BYPASS = 2,  /* LAN-side networks: kernel routing */
	DST_ACTION_WAN    = 3,  /* a WAN's connected subnet: that WAN, no balancing */
};

struct lpm_v4_key {
	__u32  prefixlen;
	__be32 addr;
};

struct dst_policy {
	__u8 action;            /* enum dst_action */
	__u8 gw;                /* DST_ACTION_WAN: that WAN; LOCAL: the WAN owning the
				   address, XWAN_GW_NONE for the others */
	__u8 pad[2];
};

/*
 * Anti-spoofing: which sources a LAN interface may send from. The value
 * names the configured network (xwan_lan_net_id): two addresses with the
 * same value are on one subnet, so hairpinning translates their source.
 */
struct lan_src_key {
	__u32  prefixlen;       /* 32 (ifindex) + prefix length */
	__u32  ifindex;
	__be32 addr;
};

static inline __attribute__((always_inline)) __u32 xwan_lan_net_id(__u32 lan, __u32 network)
{
	return lan << 16 | network;
}

/* ------------------------------------------------------------- settings */

enum flow_timeout {
	TIMEOUT_TCP_ESTABLISHED = 0,
	TIMEOUT_TCP_TRANSITORY  = 1,
	TIMEOUT_UDP             = 2,
	TIMEOUT_ICMP            = 3,
	TIMEOUT_MAX
};

/* Which timeout a flow lives by: one rule for the dataplane and the views. */
static inline __attribute__((always_inline)) __u32 xwan_timeout_index(__u8 proto, __u8 state)
{
	if (proto == 6 /* IPPROTO_TCP */)
		return state == FLOW_STATE_ESTABLISHED ? TIMEOUT_TCP_ESTABLISHED
						       : TIMEOUT_TCP_TRANSITORY;
	/* UDP's for protocols NATed by address only (GRE, ESP...), as Linux's generic. */
	return proto == 1 /* IPPROTO_ICMP */ ? TIMEOUT_ICMP : TIMEOUT_UDP;
}

/*
 * How long a NAT mapping lives after its last use (ns), given the settings'
 * timeout of its protocol: the UDP timeout, TCP's transitory one (a mapping
 * is what lets a new connection in, not an established one), and one more
 * refresh interval (HA_TOUCH_SHIFT, below): its flows refresh it no oftener.
 */
static inline __attribute__((always_inline)) __u64 xwan_nat_map_timeout(__u64 proto_timeout_ns)
{
	return proto_timeout_ns + (1ULL << 33);
}

static inline __attribute__((always_inline)) __u32 xwan_nat_map_timeout_index(__u8 proto)
{
	return proto == 6 /* IPPROTO_TCP */ ? TIMEOUT_TCP_TRANSITORY : TIMEOUT_UDP;
}

enum asymmetric_policy {
	ASYM_DROP  = 0,
	ASYM_ALLOW = 1,
};

struct xwan_settings {
	__u64 timeout_ns[TIMEOUT_MAX];
	__u32 flow_capacity;    /* flows (each is two entries) */
	__u32 fwmark_mask;
	/*
	 * Rule bank << 16 | rule count, in one word so a reload flips both at
	 * once: rules live at bank * XWAN_MAX_RULES + i in the rules map.
	 */
	__u32 rules_sel;
	__u8  default_group;
	__u8  asymmetric;       /* enum asymmetric_policy */
	__u8  tcp_liberal;      /* 1: no TCP window checks */
	__u8  pad;
	__u32 src_limit[2];     /* unreplied flows per source, by enum src_side; 0: none */
	__u32 unreplied_capacity; /* flows (pairs) in flows_new */
	__u32 pad2;
};

/* settings.rules_sel: the live rule bank and its rule count, one word. */
static inline __attribute__((always_inline)) __u32 xwan_rules_sel(__u32 bank, __u32 count)
{
	return (bank & 1) << 16 | (count & 0xffff);
}

static inline __attribute__((always_inline)) __u32 xwan_rules_bank(__u32 sel)
{
	return sel >> 16 & 1;
}

static inline __attribute__((always_inline)) __u32 xwan_rules_count(__u32 sel)
{
	return sel & 0xffff;
}

/* Key of rule i of a bank in the rules map. */
static inline __attribute__((always_inline)) __u32 xwan_rule_key(__u32 bank, __u32 i)
{
	return bank * XWAN_MAX_RULES + i;
}

/* Shared gauges, updated atomically from every CPU. */
struct flow_gauge {
	__u64 active;           /* flows believed live (created - removed) */
	__u64 unreplied;        /* of them in flows_new */
};

/* --------------------------------------------------------------- health */

/*
 * What the agent knows of each gateway, for `xwan status` and the metrics.
 * Written by the agent only; stale (updated_unix old) when no agent runs.
 */
struct gw_health {
	__u8  status;           /* enum gw_status */
	__u8  usable;           /* takes new flows in at least one group */
	__u8  link_up;
	__u8  tier;             /* in the default group, 0: not a member */
	__u8  weight;
	__u8  addr_plen;        /* prefix length of wan_addr */
	__u8  pad[2];
	__u32 rtt_us;
	__u32 rttsd_us;
	__u32 loss_ppm;         /* loss over the window, parts per million */
	__be32 wan_addr;        /* the WAN's address as the agent last read it */
	__u64 since_unix;       /* when the status last changed */
	__u64 updated_unix;
	__u64 probes_sent;
	__u64 probes_lost;
	__u64 transitions;
	char  reason[64];       /* why the last transition happened */
};

/* -------------------------------------------------------------- runtime */

/*
 * What `xwan up` attached and changed, so `xwan down`, the views and an
 * agent adopting a running dataplane need neither the config nor guesses.
 * Written by userspace only; pinned like every map.
 */
#define XWAN_RUNTIME_MAGIC 0x7877616e  /* "xwan" */
#define XWAN_NAME_LEN      32

enum xdp_attach_mode {
	XDP_ATTACH_NONE    = 0,
	XDP_ATTACH_NATIVE  = 1,
	XDP_ATTACH_GENERIC = 2,
};

/* What XDP does with packets forwarded into an interface, for the views. */
enum iface_tx {
	IFACE_TX_NONE   = 0,    /* no XDP source forwards into it */
	IFACE_TX_XDP    = 1,    /* every XDP source redirects into it */
	IFACE_TX_KERNEL = 2,    /* every XDP source hands its packets to the kernel */
	IFACE_TX_MIXED  = 3,    /* some of each (native and generic sources) */
};

struct xwan_attach {
	__u32 ifindex;
	__u32 xdp_prog_id;
	__u8  role;             /* enum iface_role */
	__u8  xdp_mode;         /* enum xdp_attach_mode */
	__u8  rp_filter_saved;  /* previous rp_filter + 1; 0: left alone */
	__u8  tc_attached;      /* bit 0: ingress, bit 1: egress */
	char  ifname[16];
	__u8  l2_len;           /* as in iface_info */
	__u8  tx;               /* enum iface_tx */
	__u8  pad[2];
	char  kind[12];         /* ethernet, veth, bridge, bond, vlan, wifi, tun, ppp... */
	char  why[32];          /* why XDP does not transmit into it, "" when it does */
};

/* The first eight words (magic ... generation) never move, so any build can
 * take down what another build set up (loader/maps.c). */
struct xwan_runtime {
	__u32 magic;
	__u32 n_attach;
	__u32 n_gateways;
	__u32 n_groups;
	__u32 route_table_base;
	__u32 rule_priority;
	__u32 fwmark_mask;
	__u32 generation;       /* bumped by every config install */
	__u64 started_unix;     /* wall clock seconds, for the views */
	__u32 agent_pid;        /* the running `xwan run`, 0: none */
	__u8  no_generic;       /* `up --no-generic`: reloads and re-attaches obey it too */
	__u8  pad[3];
	char  config_path[256];
	char  gw_name[XWAN_MAX_GATEWAYS][XWAN_NAME_LEN];
	__be32 gw_src[XWAN_MAX_GATEWAYS];  /* the WAN address its source rule names */
	char  group_name[XWAN_MAX_GROUPS][XWAN_NAME_LEN];
	__u32 n_rules;
	char  rule_name[XWAN_MAX_RULES][XWAN_NAME_LEN];
	struct xwan_attach attach[XWAN_MAX_IFACES];
};

/* ------------------------------------------------------------------- ha */

/*
 * What the dataplane tells the HA agent through the ha_events ring buffer:
 * "look at this flow again". The agent reads the flow's entries itself, so
 * an event is small and the entry layout is defined once (above). `key` is
 * the key of one entry of the flow (for a deletion: the entry being
 * replaced), `dir` that entry's direction.
 */
enum ha_event_type {
	HA_EV_NEW    = 1,   /* a flow was created */
	HA_EV_STATE  = 2,   /* its state or flags changed */
	HA_EV_TOUCH  = 3,   /* it is still in use (at most every ~8.6 s per entry) */
	HA_EV_DELETE = 4,   /* the entry at key (and its peer) was taken over */
	HA_EV_MAP_DELETE = 5, /* the NAT mapping of LAN socket key.saddr:sport/proto is gone */
};

/* An entry reports it is alive when bit 33 of its clock changes: every 8.6 s. */
#define HA_TOUCH_SHIFT 33

struct ha_event {
	struct flow_key key;
	__u8  type;             /* enum ha_event_type */
	__u8  dir;              /* enum flow_dir of the entry at key */
	__u8  pad[2];
};

enum ha_role {
	HA_ROLE_OFF     = 0,    /* no ha: in the config */
	HA_ROLE_INIT    = 1,    /* waiting for VRRP to decide */
	HA_ROLE_PASSIVE = 2,    /* VRRP backup: receives state, holds no virtual address */
	HA_ROLE_ACTIVE  = 3,    /* VRRP master: holds the virtual addresses, sends state */
	HA_ROLE_FAULT   = 4,    /* VRRP fault (a tracked link is down) or keepalived died */
};

/*
 * The HA agent's state for `xwan ha` and the metrics. Written by the agent
 * only, into the pinned `ha_status` map.
 */
struct ha_status {
	__u8  role;             /* enum ha_role */
	__u8  peer_up;          /* heard from the peer within the dead interval */
	__u8  peer_role;        /* what the peer says it is */
	__u8  hash_match;       /* the peer's config hash equals ours */
	__u32 pad;
	__u64 config_hash;
	__u64 peer_config_hash;
	__u64 updated_unix;
	__u64 role_since_unix;
	__u64 last_rx_unix;     /* last sync message from the peer */
	__u64 msgs_sent;        /* data messages, first transmissions */
	__u64 msgs_received;    /* data messages accepted in order */
	__u64 msgs_resent;
	__u64 msgs_lost;        /* gaps the peer could no longer fill */
	__u64 msgs_rejected;    /* from elsewhere, malformed */
	__u64 flows_sent;       /* flow records sent */
	__u64 flows_received;   /* flow records written into the flow table */
	__u64 flows_in_sync;    /* active: the peer's table, as it reports; passive: ours */
	__u64 peer_flows;
	__u64 sync_lag_us;      /* age of the oldest unacknowledged message */
	__u64 bulk_resyncs;     /* full table transfers (a peer (re)joined, a gap was lost) */
	__u64 hash_mismatches;  /* times the peer's config hash turned out different */
	__u64 takeovers;        /* times this router became active */
	__u64 events_lost;      /* ring buffer full: the dataplane's events were dropped */
	__u64 msgs_wrong_version; /* from the peer in another sync protocol version: refused */
	__u64 msgs_early;       /* DATA before its turn (reordered, or after a loss): held */
	__u64 gc_runs;          /* sweeps `xwan gc` asked the agent for (SIGUSR2), done */
	__u64 gc_removed;       /* flows the last of them removed (~0: it failed) */
};

/* ----------------------------------------------------------------- ipv6 */

/*
 * IPv6 (issue 13). The IPv4 layouts above stay as they are; IPv6 has its own
 * maps beside them (bpf/lib/maps.h), with the same groups, slot tables and
 * counters' meaning. Addresses are 16 network-order bytes.
 */

/* One direction of an NPTv6 mapping (bpf/lib/npt6.h): `from` becomes `to`. */
struct npt6_map {
	__u16 from[8];      /* network order words, bits past plen zero */
	__u16 to[8];
	__u16 adj;          /* one's complement sum(from) - sum(to) */
	__u8  plen;         /* 1..NPT6_MAX_PLEN */
	__u8  pad;
};

/* How a WAN's IPv6 traffic is translated (config nat6:). */
enum nat6_mode {
	NAT6_NPT        = 0,    /* RFC 6296 prefix translation, stateless per packet */
	NAT6_MASQUERADE = 1,    /* NAT66 to the WAN's address with a port (nat66.h) */
	NAT6_NONE       = 2,    /* the LAN holds the ISP's prefix (RFC 8678) */
};

/* gw6_info.flags */
#define GW6_F_CONFIGURED  0x01  /* the WAN has gateway6 */
#define GW6_F_USABLE      0x04  /* may take new IPv6 flows (the slot tables agree) */
#define GW6_F_AUTO        0x08  /* nexthop learned from the RA (gateway6: auto) */

/* A WAN's IPv6 side. Written by userspace only (loader/sync6.c). */
struct gw6_info {
	__u32 ifindex;
	__u16 mtu;
	__u8  flags;            /* GW6_F_* */
	__u8  nat6;             /* enum nat6_mode */
	__u8  nexthop[16];      /* gateway6 */
	__u8  addr[16];         /* the WAN's global address (zero: none) */
	struct npt6_map out;    /* NPT: LAN prefix (inside) -> outside */
	struct npt6_map in;     /* NPT: outside -> inside */
	__u8  mac_wan[6];       /* our WAN interface's MAC */
	__u8  addr_plen;
	__u8  status;           /* enum gw_status, for the views */
	__u32 fwmark;           /* the same mark as IPv4's: one table per WAN */
	__u16 port_min;         /* masquerade: NAT66 port range (nat_ports), host order */
	__u16 port_max;
};

/*
 * IPv6 flows: one LRU table, both directions, each keyed by the tuple its
 * packets carry when they reach us (as IPv4's):
 *   OUT {client, remote, client port, remote port}
 *   IN  {remote, translated client, remote port, client port}
 * ICMPv6 echo: the identifier is the request's sport and the reply's dport.
 */
struct flow6_key {
	__u8   saddr[16];
	__u8   daddr[16];
	__be16 sport;
	__be16 dport;
	__u8   proto;
	__u8   pad[3];
};

struct flow6_entry {
	__u64  created_ns;
	__u64  last_seen_ns;
	__u64  packets;         /* this direction only */
	__u64  bytes;
	struct flow6_key peer;  /* the other direction's key */
	__u32  in_ifindex;      /* where this direction's packets arrive */
	__u32  out_ifindex;     /* where they leave */
	__u16  out_mtu;         /* IN: the LAN's MTU (OUT uses the gateway's) */
	__u16  rule;            /* policy rule, XWAN_RULE_NONE: default group */
	__u8   dir;             /* enum flow_dir */
	__u8   state;           /* enum flow_state, equal in both entries */
	__u8   gw;
	__u8   group;           /* XWAN_GROUP_NONE: pinned (nat6 none: by source) */
	__u8   flags;           /* FLOW_F_* (BYPASS, DROP, FIN_OUT, FIN_IN) */
	__u8   nat6;            /* enum nat6_mode of the gateway when it was made */
	__u8   ct;              /* FLOW_CT_REPLIED: lives in flows6, else flows6_new */
	__u8   pad;
	__u8   l2_dst[6];       /* IN: the LAN host's MAC */
	__u8   l2_src[6];       /* IN: our LAN interface's MAC */
	__u8   pad2[8];
};

/* Later IPv6 fragments follow the first's flow (RFC 8200 fragment header). */
struct frag6_key {
	__u8   saddr[16];
	__u8   daddr[16];
	__be32 id;
};

struct frag6_entry {
	struct flow6_key flow;  /* the entry the first fragment matched */
	__u64 seen_ns;
};

struct lpm_v6_key {
	__u32 prefixlen;
	__u8  addr[16];
};

/* Anti-spoofing: which IPv6 sources a LAN interface may send from. */
struct lan_src6_key {
	__u32 prefixlen;        /* 32 (ifindex) + prefix length */
	__u32 ifindex;
	__u8  addr[16];
};

/* What an IPv6 prefix is to the dataplane (the prefix6 LPM map). */
enum prefix6_kind {
	PREFIX6_NONE      = 0,
	PREFIX6_LOCAL     = 1,  /* one of the host's addresses: the kernel's */
	PREFIX6_LAN       = 2,  /* a LAN network: the kernel routes LAN to LAN */
	PREFIX6_OUTSIDE   = 3,  /* gw's NPT outside prefix: replies arrive there */
	PREFIX6_DELEGATED = 4,  /* nat6 none: a LAN prefix that is gw's, sources in it
				   leave through gw (RFC 8678) */
	PREFIX6_WAN_NET   = 5,  /* a WAN's connected subnet */
};

struct prefix6_info {
	__u8 kind;              /* enum prefix6_kind */
	__u8 gw;                /* OUTSIDE, DELEGATED, WAN_NET, LOCAL on a WAN; else XWAN_GW_NONE */
	__u8 pad[2];
};

struct sticky6_key {
	__u8 src[16];
	__u8 dst[16];           /* zero for STICKY_KEY_SRC */
	__u8 group;
	__u8 pad[3];
};

#ifndef __bpf__
_Static_assert(sizeof(struct npt6_map) == 36, "npt6_map layout");
_Static_assert(sizeof(struct gw6_info) == 128, "gw6_info layout");
_Static_assert(sizeof(struct flow6_key) == 40, "flow6_key layout");
_Static_assert(sizeof(struct flow6_entry) == 112, "flow6_entry layout");
_Static_assert(sizeof(struct frag6_key) == 36, "frag6_key layout");
_Static_assert(sizeof(struct lan_src6_key) == 24, "lan_src6_key layout");
_Static_assert(sizeof(struct sticky6_key) == 36, "sticky6_key layout");
#endif

/* ------------------------------------------------------------- counters */

/* Where a packet was seen. */
#define XWAN_HOOKS(X)                        \
	X(XDP_LAN,    "xdp_lan")             \
	X(XDP_WAN,    "xdp_wan")             \
	X(TC_LAN_IN,  "tc_lan_ingress")      \
	X(TC_WAN_IN,  "tc_wan_ingress")      \
	X(TC_WAN_OUT, "tc_wan_egress")

enum xwan_hook {
#define XWAN_HOOK_ENUM(name, label) HOOK_##name,
	XWAN_HOOKS(XWAN_HOOK_ENUM)
#undef XWAN_HOOK_ENUM
	HOOK_MAX
};

/*
 * Every packet a hook sees ends in exactly one verdict counter of that hook:
 * forwarded, passed to the kernel, or dropped, each with its reason.
 * X(name, verdict, reason label)
 */
#define XWAN_VERDICTS(X)                                              \
	X(FWD_OUT,          "forward", "lan_to_wan")                  \
	X(FWD_IN,           "forward", "wan_to_lan")                  \
	X(FWD_ICMP_ERROR,   "forward", "icmp_error")                  \
	X(FWD_VIA_KERNEL,   "forward", "via_kernel")                  \
	X(FWD_REROUTED,     "forward", "asymmetric_route")            \
	X(FWD_PORT_FORWARD, "forward", "port_forward")                \
	X(FWD_MAPPING,      "forward", "endpoint_mapping")            \
	X(FWD_HAIRPIN,      "forward", "hairpin")                     \
	X(FWD_TIME_EXCEEDED, "forward", "time_exceeded_sent")        \
	X(PASS_NOT_IPV4,    "pass",    "not_ipv4")                    \
	X(PASS_LOCAL,       "pass",    "to_host")                     \
	X(PASS_BYPASS,      "pass",    "bypass")                      \
	X(PASS_UNSUPPORTED, "pass",    "unsupported_protocol")        \
	X(PASS_TTL,         "pass",    "ttl_expiring")                \
	X(PASS_MTU,         "pass",    "exceeds_mtu")                 \
	X(PASS_NO_NEIGH,    "pass",    "neighbour_unknown")           \
	X(PASS_NO_XDP_TX,   "pass",    "no_xdp_transmit")             \
	X(PASS_ALL_DOWN,    "pass",    "no_usable_gateway")           \
	X(PASS_NOT_XWAN,    "pass",    "not_xwan_traffic")            \
	X(PASS_FROM_HOST,   "pass",    "from_host")                   \
	X(PASS_FRAG_EARLY,  "pass",    "fragment_before_first")       \
	X(PASS_FRAG_HELD,   "pass",    "first_fragment_of_held")      \
	X(PASS_NOT_OUR_MAC, "pass",    "not_our_mac")                 \
	X(PASS_LINK_SCOPE,  "pass",    "ipv6_link_scope")             \
	X(HOLD_FRAG,        "hold",    "fragment_before_first")       \
	X(HOLD_RELEASED,    "hold",    "fragments_released")          \
	X(DROP_MALFORMED,   "drop",    "malformed")                   \
	X(DROP_SPOOFED,     "drop",    "spoofed_source")              \
	X(DROP_UNSOLICITED, "drop",    "unsolicited")                 \
	X(DROP_NOT_NEW,     "drop",    "no_flow_for_reply")           \
	X(DROP_NAT_EXHAUSTED, "drop",  "nat_ports_exhausted")         \
	X(DROP_NO_GATEWAY,  "drop",    "no_usable_gateway")           \
	X(DROP_FRAG_UNKNOWN, "drop",   "fragment_without_flow")       \
	X(DROP_FLOW_ALLOC,  "drop",    "flow_insert_failed")          \
	X(DROP_REDIRECT,    "drop",    "redirect_failed")             \
	X(DROP_NO_FLOW,     "drop",    "marked_without_flow")         \
	X(DROP_POLICY,      "drop",    "policy_rule")                 \
	X(DROP_ASYMMETRIC,  "drop",    "asymmetric_route")            \
	X(DROP_SRC_LIMIT,   "drop",    "source_unreplied_limit")      \
	X(DROP_TCP_WINDOW,  "drop",    "tcp_out_of_window")         \
	X(DROP_UNTRANSLATED, "drop",   "untranslated_lan_source")   \
	X(DROP_ADDR_ONLY_TAKEN, "drop", "address_only_nat_in_use")  \
	X(DROP_WAN_TO_LAN_ADDR, "drop", "wan_to_lan_side_address") \
	X(DROP_NPT_UNMAPPABLE, "drop", "npt_untranslatable_address") \
	X(DROP_TTL,         "drop",    "ttl_expired")

enum xwan_verdict {
#define XWAN_VERDICT_ENUM(name, verdict, reason) V_##name,
	XWAN_VERDICTS(XWAN_VERDICT_ENUM)
#undef XWAN_VERDICT_ENUM
	V_MAX
};

/*
 * Things that happen besides a packet's verdict. X(name, label). The last
 * ones are the agent's (it adds them from userspace, xwan_percpu_add).
 */
#define XWAN_EVENTS(X)                                     \
	X(FLOW_CREATED,     "flow_created")                \
	X(FLOW_REPLACED,    "expired_flow_replaced")       \
	X(FLOW_EVICTED,     "flow_table_full_eviction")    \
	X(NAT_COLLISION,    "nat_port_collision")          \
	X(ICMP_ERR_XLATED,  "icmp_error_translated")       \
	X(FRAG_FOLLOWED,    "fragment_followed")           \
	X(FRAG_HELD,        "fragment_held")               \
	X(FRAG_RELEASED,    "held_fragment_released")      \
	X(FRAG_HOLD_EXPIRED, "held_fragment_expired")      \
	X(FRAG_HOLD_DROPPED, "fragment_not_held")          \
	X(NEIGH_REFRESHED,  "gateway_mac_refreshed")       \
	X(HOST_PORT_CONFLICT, "host_port_conflict")        \
	X(ASYMMETRIC_ALLOWED, "asymmetric_route_allowed")  \
	X(STICKY_HIT,       "sticky_binding_used")         \
	X(HALF_REMOVED,     "evicted_half_removed")        \
	X(FLOW_PROMOTED,    "flow_answered")               \
	X(REPLIED_FULL,     "answered_table_full")         \
	X(SRC_LIMITED,      "source_unreplied_limit")      \
	X(TCP_RST_IGNORED,  "tcp_rst_out_of_window")       \
	X(TCP_FIN_IGNORED,  "tcp_fin_out_of_window")       \
	X(TCP_DATA_IGNORED, "tcp_data_out_of_window")      \
	X(MAPPING_CREATED,  "nat_mapping_created")         \
	X(MAPPING_REUSED,   "nat_mapping_reused")          \
	X(MAPPING_DROPPED,  "nat_mapping_wan_gone")        \
	X(MAPPING_MOVED,    "nat_mapping_moved")           \
	X(MAPPING_INBOUND,  "nat_mapping_inbound_flow")    \
	X(MAPPING_FILTERED, "nat_mapping_inbound_filtered") \
	X(HAIRPIN_OPENED,   "hairpin_flow_created")        \
	X(HAIRPIN_FILTERED, "hairpin_to_mapping_filtered") \
	X(HA_EVENT_LOST,    "ha_sync_event_lost")          \
	X(NETLINK_RESYNC,   "netlink_overflow_resync")     \
	X(WAN_RELEARNED,    "wan_address_or_gateway_changed")

enum xwan_event {
#define XWAN_EVENT_ENUM(name, label) EV_##name,
	XWAN_EVENTS(XWAN_EVENT_ENUM)
#undef XWAN_EVENT_ENUM
	EV_MAX
};

/* Layouts the BPF side and userspace share byte for byte. */
_Static_assert(sizeof(struct iface_info) == 12, "iface_info layout");
_Static_assert(sizeof(struct frag_hold_key) == 16, "frag_hold_key layout");
_Static_assert(sizeof(struct frag_held) == 16 + XWAN_FRAG_HOLD_BYTES, "frag_held layout");
_Static_assert(sizeof(struct tx_path_key) == 8, "tx_path_key layout");
_Static_assert(sizeof(struct xwan_attach) == 76, "xwan_attach layout");

/* Index of a verdict counter in the `verdicts` per-CPU array. */
#define XWAN_VERDICT_IDX(hook, v) ((hook) * V_MAX + (v))

#endif /* XWAN_TYPES_H */
