/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The sync protocol's state machine (ha_wire.h), without sockets or maps:
 * the caller hands it received datagrams and the time, it calls back to
 * send datagrams and to deliver records in order. Unit-tested alone.
 */
#ifndef XWAN_HA_SYNC_H
#define XWAN_HA_SYNC_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

#include "../loader/ha_wire.h"

#define HA_TX_WINDOW        4096                /* messages kept until acknowledged */
#define HA_HELLO_NS         (100ULL * 1000000)
#define HA_PEER_DEAD_NS     (1000ULL * 1000000)
#define HA_ACK_NS           (20ULL * 1000000)   /* ack at least this often while receiving */
#define HA_ACK_EVERY        16                  /* ... or after this many messages */
#define HA_RESEND_NS        (200ULL * 1000000)  /* no ack for this long: resend */
#define HA_FLUSH_NS         (5ULL * 1000000)    /* a partly filled DATA waits at most this */
#define HA_RESEND_BURST     256                 /* messages one resend sends at most */
#define HA_RX_HOLD          256                 /* messages received early, kept for their turn */
#define HA_REORDER_NS       (5ULL * 1000000)    /* a gap this old is a loss: NACK it */

struct ha_sync_ops {
	int (*send)(void *ctx, const void *buf, size_t len);
	void (*deliver)(void *ctx, const struct ha_rec *r);
	void (*peer_joined)(void *ctx);         /* a new peer epoch: send it everything */
};

struct ha_sync_stats {
	uint64_t sent, received, resent, lost, rejected, records_sent, records_received;
	uint64_t wrong_version;         /* from the peer, but another HA_VERSION (not in rejected) */
	uint64_t early;                 /* DATA that came before the one expected (a gap, or reordered) */
};

struct ha_tx_slot {
	uint16_t len;
	uint8_t buf[HA_MSG_MAX];
};

/*
 * A message that came before its turn. A veth (or a NIC's queues) can
 * reorder a burst when the sender moves between CPUs; go-back-N alone
 * would throw away everything after the late one and have it all sent
 * again, which on a busy router snowballs (test_ha_sync_rate).
 */
struct ha_rx_slot {
	uint32_t seq;
	bool used;
	uint16_t len;
	uint8_t buf[HA_MSG_MAX];
};

struct ha_sync {
	const struct ha_sync_ops *ops;
	void *ctx;
	uint64_t epoch, config_hash;
	uint32_t peer_addr;     /* network order */
	int peer_ifindex;       /* the sync link */
	uint8_t role;
	uint64_t flows;         /* our table size, for HELLO */

	/* sending */
	struct ha_tx_slot *ring;        /* HA_TX_WINDOW slots, seq % HA_TX_WINDOW */
	uint32_t next_seq, acked;       /* unacknowledged: [acked, next_seq) */
	uint64_t last_progress_ns, last_resend_ns, last_hello_ns, cur_since_ns;
	uint8_t cur[HA_MSG_MAX];
	unsigned cur_count;

	/* receiving */
	bool peer_known;
	uint64_t peer_epoch, peer_hash, peer_flows, last_rx_ns;
	uint8_t peer_role;
	uint8_t peer_version;           /* the last HA_VERSION refused */
	uint32_t rx_next;
	unsigned rx_unacked;
	uint64_t last_ack_ns, last_nack_ns;
	struct ha_rx_slot *hold;        /* HA_RX_HOLD slots, seq % HA_RX_HOLD */
	unsigned held;
	uint64_t gap_since_ns;          /* a message is missing since (0: none) */

	struct ha_sync_stats st;
};

int ha_sync_init(struct ha_sync *s, const struct ha_sync_ops *ops, void *ctx, uint64_t epoch,
		 uint64_t config_hash, uint32_t peer_addr, int peer_ifindex);
void ha_sync_free(struct ha_sync *s);

/* Queue one record; a full message goes out at once. */
void ha_sync_queue(struct ha_sync *s, const struct ha_rec *r, uint64_t now);
/* Send the partly filled message now. */
void ha_sync_flush(struct ha_sync *s, uint64_t now);

/*
 * Only the configured peer on the sync link may speak: anything else is
 * rejected (and counted) before its bytes are looked at.
 */
bool ha_sync_source_ok(struct ha_sync *s, const struct sockaddr_in *from, int ifindex);

/* A datagram from the peer. 0, or -EBADMSG when rejected (counted). */
int ha_sync_input(struct ha_sync *s, const void *buf, size_t len, uint64_t now);

/* Hellos, acks, resends, flushes; returns the next time it wants to run. */
uint64_t ha_sync_tick(struct ha_sync *s, uint64_t now);

bool ha_sync_peer_up(const struct ha_sync *s, uint64_t now);
/* Age of the oldest unacknowledged message, 0 when all are acknowledged. */
uint64_t ha_sync_lag_ns(const struct ha_sync *s, uint64_t now);
/* Messages not yet acknowledged. */
uint32_t ha_sync_unacked(const struct ha_sync *s);

#endif /* XWAN_HA_SYNC_H */
