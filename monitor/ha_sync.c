// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include "ha_sync.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Sequence numbers wrap: compare by distance. */
static bool seq_before(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) < 0;
}

int ha_sync_init(struct ha_sync *s, const struct ha_sync_ops *ops, void *ctx, uint64_t epoch,
		 uint64_t config_hash, uint32_t peer_addr, int peer_ifindex)
{
	memset(s, 0, sizeof(*s));
	s->ring = calloc(HA_TX_WINDOW, sizeof(*s->ring));
	s->hold = calloc(HA_RX_HOLD, sizeof(*s->hold));
	if (!s->ring || !s->hold) {
		ha_sync_free(s);
		return -ENOMEM;
	}
	s->ops = ops;
	s->ctx = ctx;
	s->epoch = epoch;
	s->config_hash = config_hash;
	s->peer_addr = peer_addr;
	s->peer_ifindex = peer_ifindex;
	s->next_seq = s->acked = 1;
	return 0;
}

void ha_sync_free(struct ha_sync *s)
{
	free(s->ring);
	free(s->hold);
	s->ring = NULL;
	s->hold = NULL;
}

static void fill_hdr(struct ha_sync *s, struct ha_hdr *h, uint8_t type, uint32_t len)
{
	h->magic = HA_MAGIC;
	h->version = HA_VERSION;
	h->type = type;
	h->role = s->role;
	h->len = len;
	h->ack = s->rx_next;
	h->base = s->acked;
	h->epoch = s->epoch;
	h->config_hash = s->config_hash;
	h->flows = s->flows;
}

static void send_ctl(struct ha_sync *s, uint8_t type, uint32_t ack)
{
	struct ha_hdr h = {};

	fill_hdr(s, &h, type, sizeof(h));
	if (type == HA_MSG_NACK)
		h.ack = ack;
	s->ops->send(s->ctx, &h, sizeof(h));
}

void ha_sync_flush(struct ha_sync *s, uint64_t now)
{
	struct ha_hdr *h = (struct ha_hdr *)s->cur;
	struct ha_tx_slot *slot;
	uint32_t len;

	if (!s->cur_count)
		return;
	/* The window is full (the peer is away): the oldest is given up. */
	if (s->next_seq - s->acked >= HA_TX_WINDOW) {
		s->acked++;
		s->st.lost++;
	}
	len = (uint32_t)(sizeof(*h) + s->cur_count * sizeof(struct ha_rec));
	fill_hdr(s, h, HA_MSG_DATA, len);
	h->count = (uint8_t)s->cur_count;
	h->seq = s->next_seq++;
	slot = &s->ring[h->seq % HA_TX_WINDOW];
	slot->len = (uint16_t)len;
	memcpy(slot->buf, s->cur, len);
	if (s->acked == h->seq)
		s->last_progress_ns = now;
	s->ops->send(s->ctx, s->cur, len);
	s->st.sent++;
	s->cur_count = 0;
}

void ha_sync_queue(struct ha_sync *s, const struct ha_rec *r, uint64_t now)
{
	if (!s->cur_count)
		s->cur_since_ns = now;
	memcpy(s->cur + sizeof(struct ha_hdr) + s->cur_count * sizeof(*r), r, sizeof(*r));
	s->st.records_sent++;
	if (++s->cur_count == HA_RECS_PER_MSG)
		ha_sync_flush(s, now);
}

/*
 * Go-back-N from seq: the receiver keeps only what arrives in order. A
 * burst is bounded: a receiver that fell behind and dropped would drop a
 * whole window sent at once again; its next NACK or ack asks for more.
 */
static void resend_from(struct ha_sync *s, uint32_t from, uint64_t now)
{
	unsigned n = 0;

	if (seq_before(from, s->acked))
		from = s->acked;
	for (uint32_t q = from; seq_before(q, s->next_seq) && n < HA_RESEND_BURST; q++, n++) {
		struct ha_tx_slot *slot = &s->ring[q % HA_TX_WINDOW];
		struct ha_hdr *h = (struct ha_hdr *)slot->buf;

		h->ack = s->rx_next;    /* carry the current ack, not the stale one */
		s->ops->send(s->ctx, slot->buf, slot->len);
		s->st.resent++;
	}
	s->last_resend_ns = now;
}

static void on_ack(struct ha_sync *s, uint32_t ack, uint64_t now)
{
	if (seq_before(s->acked, ack) && !seq_before(s->next_seq, ack)) {
		s->acked = ack;
		s->last_progress_ns = now;
	}
}

bool ha_sync_source_ok(struct ha_sync *s, const struct sockaddr_in *from, int ifindex)
{
	if (from->sin_family == AF_INET && from->sin_addr.s_addr == s->peer_addr &&
	    ifindex == s->peer_ifindex)
		return true;
	s->st.rejected++;
	return false;
}

static int check(const struct ha_hdr *h, size_t len)
{
	if (len < sizeof(*h) || h->magic != HA_MAGIC || h->len != len || h->type < HA_MSG_DATA || h->type > HA_MSG_RESET)
		return -1;
	if (h->type == HA_MSG_DATA &&
	    (h->count == 0 || h->count > HA_RECS_PER_MSG ||
	     len != sizeof(*h) + (size_t)h->count * sizeof(struct ha_rec)))
		return -1;
	if (h->type != HA_MSG_DATA && len != sizeof(*h))
		return -1;
	return 0;
}

static void deliver(struct ha_sync *s, const struct ha_hdr *h, uint64_t now)
{
	const struct ha_rec *r = (const struct ha_rec *)(h + 1);

	for (unsigned i = 0; i < h->count; i++) {
		struct ha_rec rec;

		memcpy(&rec, &r[i], sizeof(rec));       /* the datagram may be unaligned */
		s->ops->deliver(s->ctx, &rec);
		s->st.records_received++;
	}
	s->rx_next++;
	s->st.received++;
	if (++s->rx_unacked >= HA_ACK_EVERY) {
		send_ctl(s, HA_MSG_ACK, 0);
		s->rx_unacked = 0;
		s->last_ack_ns = now;
	}
}

/* Forget what is held before rx_next (all of it: a new peer epoch). */
static void hold_prune(struct ha_sync *s, bool all)
{
	for (unsigned i = 0; s->held && i < HA_RX_HOLD; i++)
		if (s->hold[i].used && (all || seq_before(s->hold[i].seq, s->rx_next))) {
			s->hold[i].used = false;
			s->held--;
		}
	if (!s->held)
		s->gap_since_ns = 0;
}

/* Deliver what was held for the turns that have come. */
static void hold_drain(struct ha_sync *s, uint64_t now)
{
	struct ha_rx_slot *h;

	while (s->held && (h = &s->hold[s->rx_next % HA_RX_HOLD])->used && h->seq == s->rx_next) {
		h->used = false;
		s->held--;
		deliver(s, (const struct ha_hdr *)h->buf, now);
	}
	/* what is still held waits for a message that is missing from now on */
	s->gap_since_ns = s->held ? now : 0;
}

static void nack(struct ha_sync *s, uint64_t now)
{
	if (now - s->last_nack_ns >= HA_ACK_NS || !s->last_nack_ns) {
		send_ctl(s, HA_MSG_NACK, s->rx_next);
		s->last_nack_ns = now;
	}
}

/* A DATA message ahead of its turn: kept if there is room, a NACK once the gap is a loss. */
static void early(struct ha_sync *s, const void *buf, size_t len, uint32_t seq, uint64_t now)
{
	struct ha_rx_slot *h = &s->hold[seq % HA_RX_HOLD];

	s->st.early++;
	if (seq - s->rx_next < HA_RX_HOLD && !(h->used && h->seq == seq)) {
		if (!h->used)
			s->held++;
		h->used = true;
		h->seq = seq;
		h->len = (uint16_t)len;
		memcpy(h->buf, buf, len);
	}
	if (!s->gap_since_ns)
		s->gap_since_ns = now;
	if (seq - s->rx_next >= HA_RX_HOLD || now - s->gap_since_ns >= HA_REORDER_NS)
		nack(s, now);
}

int ha_sync_input(struct ha_sync *s, const void *buf, size_t len, uint64_t now)
{
	struct ha_hdr h;

	if (len < sizeof(h)) {
		s->st.rejected++;
		return -EBADMSG;
	}
	memcpy(&h, buf, sizeof(h));
	if (h.magic == HA_MAGIC && h.version != HA_VERSION) {
		/* Another build: its records would be misread. Nothing of it is used. */
		s->st.wrong_version++;
		s->peer_version = h.version;
		return -EPROTONOSUPPORT;
	}
	if (check(&h, len)) {
		s->st.rejected++;
		return -EBADMSG;
	}
	s->last_rx_ns = now;
	s->peer_role = h.role;
	s->peer_hash = h.config_hash;
	s->peer_flows = h.flows;
	if (!s->peer_known || h.epoch != s->peer_epoch) {
		/* A peer (re)joined: start where it stands, and send it everything. */
		s->peer_known = true;
		s->peer_epoch = h.epoch;
		s->rx_next = h.base;
		s->rx_unacked = 0;
		hold_prune(s, true);
		s->acked = s->next_seq;         /* what we held was for its previous life */
		s->ops->peer_joined(s->ctx);
	}
	on_ack(s, h.ack, now);
	switch (h.type) {
	case HA_MSG_DATA:
		if (h.seq == s->rx_next) {
			deliver(s, (const struct ha_hdr *)buf, now);
			hold_drain(s, now);
		} else if (seq_before(s->rx_next, h.seq)) {
			early(s, buf, len, h.seq, now);
		}
		break;
	case HA_MSG_NACK:
		if (seq_before(h.ack, s->acked)) {
			/* Gone from the window: the peer skips it and gets a bulk resync. */
			send_ctl(s, HA_MSG_RESET, 0);
			s->ops->peer_joined(s->ctx);
		}
		resend_from(s, h.ack, now);
		break;
	case HA_MSG_RESET:
		if (seq_before(s->rx_next, h.base)) {
			s->st.lost += h.base - s->rx_next;
			s->rx_next = h.base;
			hold_prune(s, false);
			hold_drain(s, now);     /* what is held past base is still good */
		}
		break;
	default:
		break;
	}
	return 0;
}

uint64_t ha_sync_tick(struct ha_sync *s, uint64_t now)
{
	uint64_t next = now + HA_HELLO_NS;

	if (s->cur_count && now - s->cur_since_ns >= HA_FLUSH_NS)
		ha_sync_flush(s, now);
	if (s->cur_count && s->cur_since_ns + HA_FLUSH_NS < next)
		next = s->cur_since_ns + HA_FLUSH_NS;
	if (now - s->last_hello_ns >= HA_HELLO_NS) {
		send_ctl(s, HA_MSG_HELLO, 0);
		s->last_hello_ns = now;
	} else if (s->last_hello_ns + HA_HELLO_NS < next) {
		next = s->last_hello_ns + HA_HELLO_NS;
	}
	if (s->gap_since_ns) {
		/* the missing message did not come by itself: ask for it */
		if (now - s->gap_since_ns >= HA_REORDER_NS)
			nack(s, now);
		if (s->gap_since_ns + HA_REORDER_NS > now && s->gap_since_ns + HA_REORDER_NS < next)
			next = s->gap_since_ns + HA_REORDER_NS;
		else if (s->last_nack_ns + HA_ACK_NS < next)
			next = s->last_nack_ns + HA_ACK_NS;
	}
	if (s->rx_unacked) {
		if (now - s->last_ack_ns >= HA_ACK_NS) {
			send_ctl(s, HA_MSG_ACK, 0);
			s->rx_unacked = 0;
			s->last_ack_ns = now;
		} else if (s->last_ack_ns + HA_ACK_NS < next) {
			next = s->last_ack_ns + HA_ACK_NS;
		}
	}
	if (s->acked != s->next_seq && ha_sync_peer_up(s, now)) {
		uint64_t due = (s->last_progress_ns > s->last_resend_ns ? s->last_progress_ns
								       : s->last_resend_ns) +
			       HA_RESEND_NS;

		if (now >= due)
			resend_from(s, s->acked, now);
		else if (due < next)
			next = due;
	}
	return next;
}

bool ha_sync_peer_up(const struct ha_sync *s, uint64_t now)
{
	return s->peer_known && now - s->last_rx_ns < HA_PEER_DEAD_NS;
}

uint64_t ha_sync_lag_ns(const struct ha_sync *s, uint64_t now)
{
	return s->acked == s->next_seq ? 0 : now - s->last_progress_ns;
}

uint32_t ha_sync_unacked(const struct ha_sync *s)
{
	return s->next_seq - s->acked;
}
