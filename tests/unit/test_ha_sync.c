// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* The HA sync protocol: order, gaps, resend, foreign and malformed packets. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include <errno.h>

#include "monitor/ha_sync.h"

#define MS 1000000ULL

struct end {
	struct ha_sync s;
	struct end *peer;
	int drop_next;          /* drop this many of the next DATA sent */
	bool swap_next;         /* send the next DATA after the one that follows it */
	uint8_t stash[HA_MSG_MAX];
	size_t stash_len;
	int delivered, joined;
	uint16_t last_port;
};

static int e_send(void *ctx, const void *buf, size_t len)
{
	struct end *e = ctx;
	const struct ha_hdr *h = buf;

	if (h->type == HA_MSG_DATA && e->drop_next > 0) {
		e->drop_next--;
		return 0;
	}
	if (h->type == HA_MSG_DATA && e->swap_next) {
		e->swap_next = false;
		memcpy(e->stash, buf, len);
		e->stash_len = len;
		return 0;
	}
	ha_sync_input(&e->peer->s, buf, len, 1000 * MS);
	if (h->type == HA_MSG_DATA && e->stash_len) {
		len = e->stash_len;
		e->stash_len = 0;
		return ha_sync_input(&e->peer->s, e->stash, len, 1000 * MS);
	}
	return 0;
}

static void e_deliver(void *ctx, const struct ha_rec *r)
{
	struct end *e = ctx;

	assert_int_equal(r->key_out.sport, e->delivered + 1);   /* in order, none twice */
	e->delivered++;
}

static void e_joined(void *ctx)
{
	((struct end *)ctx)->joined++;
}

static const struct ha_sync_ops ops = { e_send, e_deliver, e_joined };

static void pair(struct end *a, struct end *b)
{
	memset(a, 0, sizeof(*a));
	memset(b, 0, sizeof(*b));
	a->peer = b;
	b->peer = a;
	assert_int_equal(ha_sync_init(&a->s, &ops, a, 11, 42, 0x0200000a, 5), 0);
	assert_int_equal(ha_sync_init(&b->s, &ops, b, 22, 42, 0x0100000a, 5), 0);
	ha_sync_tick(&a->s, 1000 * MS);         /* hellos: each learns the other */
	ha_sync_tick(&b->s, 1000 * MS);
}

static void queue_n(struct end *e, int from, int n)
{
	for (int i = 0; i < n; i++) {
		struct ha_rec r = { .type = HA_REC_FLOW, .n_entries = 2 };

		r.key_out.sport = (uint16_t)(from + i);
		ha_sync_queue(&e->s, &r, 1000 * MS);
	}
	ha_sync_flush(&e->s, 1000 * MS);
}

static void in_order_and_acked(void **state)
{
	struct end a, b;

	(void)state;
	pair(&a, &b);
	assert_int_equal(a.joined, 1);
	assert_int_equal(b.joined, 1);
	queue_n(&a, 1, 100);
	assert_int_equal(b.delivered, 100);
	ha_sync_tick(&b.s, 1100 * MS);          /* the receiver acks */
	assert_int_equal(ha_sync_unacked(&a.s), 0);
	assert_int_equal(a.s.st.resent, 0);
	ha_sync_free(&a.s);
	ha_sync_free(&b.s);
}

static void gap_is_resent(void **state)
{
	struct end a, b;

	(void)state;
	pair(&a, &b);
	a.drop_next = 1;                        /* the first message is lost */
	queue_n(&a, 1, 3 * HA_RECS_PER_MSG);
	/* The two that came are held for their turn, which does not come by itself ... */
	assert_int_equal(b.delivered, 0);
	assert_int_equal(b.s.held, 2);
	ha_sync_tick(&b.s, 1000 * MS + HA_REORDER_NS - 1);
	assert_int_equal(a.s.st.resent, 0);
	/* ... so the receiver asks from its first missing seq, and gets it all in order. */
	ha_sync_tick(&b.s, 1000 * MS + HA_REORDER_NS);
	assert_int_equal(b.delivered, 3 * HA_RECS_PER_MSG);
	assert_true(a.s.st.resent >= 1);
	assert_int_equal(b.s.held, 0);
	ha_sync_free(&a.s);
	ha_sync_free(&b.s);
}

static void reordered_not_resent(void **state)
{
	struct end a, b;

	(void)state;
	pair(&a, &b);
	a.swap_next = true;                     /* messages 1 and 2 arrive as 2, 1 */
	queue_n(&a, 1, 3 * HA_RECS_PER_MSG);
	assert_int_equal(b.delivered, 3 * HA_RECS_PER_MSG);
	assert_int_equal(b.s.st.early, 1);
	ha_sync_tick(&b.s, 1000 * MS + HA_REORDER_NS + 1);
	ha_sync_tick(&a.s, 1000 * MS + HA_REORDER_NS + 2);
	/* control for gap_is_resent: nothing was asked for again or sent twice */
	assert_int_equal(a.s.st.resent, 0);
	assert_int_equal(b.s.held, 0);
	ha_sync_free(&a.s);
	ha_sync_free(&b.s);
}

static void tail_loss_resent_on_timeout(void **state)
{
	struct end a, b;

	(void)state;
	pair(&a, &b);
	a.drop_next = 1;
	queue_n(&a, 1, 1);                      /* lost, and nothing follows to show the gap */
	assert_int_equal(b.delivered, 0);
	ha_sync_tick(&a.s, 1000 * MS + HA_RESEND_NS + 1);
	assert_int_equal(b.delivered, 1);
	ha_sync_free(&a.s);
	ha_sync_free(&b.s);
}

static void resend_is_bounded(void **state)
{
	struct end a, b;
	int n = 600, ticks = 0;

	(void)state;
	pair(&a, &b);
	a.drop_next = n;                        /* the peer hears none of them */
	for (int i = 0; i < n; i++)
		queue_n(&a, 1 + i * (int)HA_RECS_PER_MSG, (int)HA_RECS_PER_MSG);
	assert_int_equal(b.delivered, 0);
	/* One resend is one bounded burst, not the whole window at once ... */
	ha_sync_tick(&a.s, 1000 * MS + HA_RESEND_NS + 1);
	assert_int_equal(a.s.st.resent, HA_RESEND_BURST);
	assert_int_equal(b.delivered, HA_RESEND_BURST * (int)HA_RECS_PER_MSG);
	/* ... and the next ones carry on from what the peer acknowledged. */
	while (b.delivered < n * (int)HA_RECS_PER_MSG && ticks < 10)
		ha_sync_tick(&a.s, 1000 * MS + (uint64_t)(++ticks + 1) * (HA_RESEND_NS + 1));
	assert_int_equal(b.delivered, n * (int)HA_RECS_PER_MSG);
	assert_int_equal(a.s.st.lost, 0);
	ha_sync_free(&a.s);
	ha_sync_free(&b.s);
}

static void foreign_and_bad_rejected(void **state)
{
	struct end a, b;
	struct sockaddr_in from = { .sin_family = AF_INET, .sin_addr.s_addr = 0x0300000a };
	struct ha_hdr h = {};
	uint8_t junk[64] = { 1, 2, 3 };

	(void)state;
	pair(&a, &b);
	assert_false(ha_sync_source_ok(&b.s, &from, 5));        /* another address */
	from.sin_addr.s_addr = 0x0100000a;
	assert_false(ha_sync_source_ok(&b.s, &from, 7));        /* another interface */
	assert_true(ha_sync_source_ok(&b.s, &from, 5));
	assert_int_equal(ha_sync_input(&b.s, junk, sizeof(junk), 0), -EBADMSG);
	assert_int_equal(ha_sync_input(&b.s, junk, 3, 0), -EBADMSG);
	h.magic = HA_MAGIC;
	h.version = HA_VERSION - 1;             /* the build before mapping records */
	h.type = HA_MSG_HELLO;
	h.len = sizeof(h);
	h.epoch = 99;
	assert_int_equal(ha_sync_input(&b.s, &h, sizeof(h), 0), -EPROTONOSUPPORT);
	assert_int_equal(b.s.st.wrong_version, 1);
	assert_int_equal(b.s.peer_version, HA_VERSION - 1);
	assert_true(b.s.peer_epoch != 99);      /* nothing of it was taken: no rejoin */
	h.version = HA_VERSION + 1;
	assert_int_equal(ha_sync_input(&b.s, &h, sizeof(h), 0), -EPROTONOSUPPORT);
	assert_int_equal(b.s.st.wrong_version, 2);
	h.epoch = 0;
	h.version = HA_VERSION;
	h.type = HA_MSG_DATA;
	h.count = 3;                                                /* claims records it lacks */
	assert_int_equal(ha_sync_input(&b.s, &h, sizeof(h), 0), -EBADMSG);
	assert_int_equal(b.s.st.rejected, 5);   /* the other versions are counted apart */
	assert_int_equal(b.delivered, 0);
	ha_sync_free(&a.s);
	ha_sync_free(&b.s);
}

static void rejoin_triggers_resync(void **state)
{
	struct end a, b;

	(void)state;
	pair(&a, &b);
	/* b restarts: a new epoch; a must send it everything again. */
	ha_sync_free(&b.s);
	assert_int_equal(ha_sync_init(&b.s, &ops, &b, 23, 42, 0x0100000a, 5), 0);
	ha_sync_tick(&b.s, 1200 * MS);
	assert_int_equal(a.joined, 2);
	ha_sync_free(&a.s);
	ha_sync_free(&b.s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(in_order_and_acked),
		cmocka_unit_test(gap_is_resent),
		cmocka_unit_test(reordered_not_resent),
		cmocka_unit_test(tail_loss_resent_on_timeout),
		cmocka_unit_test(resend_is_bounded),
		cmocka_unit_test(foreign_and_bad_rejected),
		cmocka_unit_test(rejoin_triggers_resync),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
