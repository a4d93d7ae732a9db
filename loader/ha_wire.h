/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The HA sync protocol on the wire: the one definition of its messages.
 * UDP on the dedicated sync link, one message per datagram:
 *
 *   DATA   records of flow state, numbered by seq (per sender epoch)
 *   ACK    "I have everything before ack" (every message carries ack)
 *   NACK   "resend from ack": the receiver saw a gap (go-back-N)
 *   HELLO  keepalive: role, config hash, flow count, oldest seq still held
 *   RESET  "what you asked for is gone; carry on from base" (counted lost,
 *          and a bulk resync follows)
 *
 * Modelled on conntrackd's FTFW: sequence numbers, ACKs, resend of gaps,
 * bulk resync when a peer (re)joins (its epoch changes). Both routers must
 * run the same build on the same byte order: fields are in host order and
 * the magic, read in host order, rejects the other one; the version
 * changes whenever a layout below (or struct flow_entry) changes.
 */
#ifndef XWAN_HA_WIRE_H
#define XWAN_HA_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "../bpf/xwan_types.h"

#define HA_MAGIC     0x58574841u    /* "XWHA" */
#define HA_VERSION   3            /* 3: NAT mapping records */
#define HA_MSG_MAX   1400           /* fits any sync link's MTU with room for tunnels */

enum ha_msg_type {
	HA_MSG_DATA  = 1,
	HA_MSG_ACK   = 2,
	HA_MSG_NACK  = 3,
	HA_MSG_HELLO = 4,
	HA_MSG_RESET = 5,
};

struct ha_hdr {
	uint32_t magic;
	uint8_t  version;
	uint8_t  type;          /* enum ha_msg_type */
	uint8_t  role;          /* enum ha_role of the sender */
	uint8_t  count;         /* DATA: records that follow */
	uint32_t len;           /* the whole message */
	uint32_t seq;           /* DATA: this message's number */
	uint32_t ack;           /* every message before this one arrived (NACK: resend from) */
	uint32_t base;          /* the oldest seq the sender still holds */
	uint64_t epoch;         /* the sender's incarnation: a new one means a (re)join */
	uint64_t config_hash;   /* xwan_config_hash() of the sender */
	uint64_t flows;         /* the sender's flow table size */
};

_Static_assert(sizeof(struct ha_hdr) == 48, "ha_hdr is 48 bytes on the wire");

enum ha_rec_type {
	HA_REC_FLOW   = 1,      /* both entries (n_entries 2) or a one-sided marker (1) */
	HA_REC_DELETE = 2,      /* remove the entry at key_out and its other half */
	HA_REC_STICKY = 3,      /* a sticky client's binding (sticky.key, sticky.b) */
	HA_REC_MAPPING = 4,     /* an endpoint-independent NAT mapping (map.key, map.m) */
	HA_REC_MAP_DELETE = 5,  /* remove the mapping whose LAN side is map.key */
};

/*
 * A flow as the receiver writes it. In the entries, created_ns and
 * last_seen_ns hold ages (the sender's now minus them: the two routers'
 * clocks differ), in_ifindex/out_ifindex hold interface ids (ha_maps.c:
 * the position of the LAN or WAN in the config, equal on both routers when
 * the config hashes match), gw the WAN's position in the config.
 */
struct ha_rec {
	uint8_t  type;          /* enum ha_rec_type */
	uint8_t  n_entries;
	uint8_t  replied;       /* lives in `flows` (answered), else `flows_new` */
	uint8_t  permit;        /* FLOW: its NAT mapping is address-dependent: the receiver
				   lets its remote reach the mapping too (nat_permits) */
	uint8_t  pad[4];
	union {
		struct {
			struct flow_key key_out;        /* the OUT entry's key (or the marker's) */
			struct flow_key key_in;
			struct flow_entry out;
			struct flow_entry in;
		};
		/* b.last_ns holds an age, b.gw the WAN's position in the config */
		struct {
			struct sticky_key_v4 key;
			struct sticky_binding b;
		} sticky;
		/*
		 * key: the LAN side (the socket); m as at that key, with
		 * created_ns/last_ns ages, gw the WAN's position in the
		 * config, lan_ifindex an interface id. The receiver writes
		 * the PUB side from it.
		 */
		struct {
			struct nat_map_key key;
			struct nat_map m;
		} map;
	};
};

_Static_assert(sizeof(struct flow_entry) == 96,
	       "struct flow_entry changed: bump HA_VERSION and check ha_maps.c");
_Static_assert(sizeof(struct nat_map) == 40,
	       "struct nat_map changed: bump HA_VERSION and check ha_maps.c");
_Static_assert(sizeof(struct ha_rec) == 232, "ha_rec is 232 bytes on the wire");

#define HA_RECS_PER_MSG ((HA_MSG_MAX - sizeof(struct ha_hdr)) / sizeof(struct ha_rec))

#endif /* XWAN_HA_WIRE_H */
