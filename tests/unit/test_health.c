/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Unit tests of the gateway health state machine (monitor/health.c).
 * A small discrete-event simulator sends one probe every interval_ms,
 * answers it or not as a pattern says, delivers the replies at their
 * times, and evaluates after every event, as the agent does; every status
 * change is logged with its simulated time and reason.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "monitor/health.h"

#define MS 1000000ULL

/* What happens to the i-th probe of a run(): answered after *rtt_ms, or
 * lost. */
typedef bool (*pattern_fn)(uint64_t i, uint32_t *rtt_ms);

struct change {
	uint64_t at;            /* ns */
	enum gw_status status;
	char reason[HEALTH_REASON_MAX];
	double loss_pct;        /* the window's, when it changed */
};

struct sim {
	struct xwan_monitor_cfg cfg;
	struct health_target t;
	uint64_t now, next_send;
	uint64_t probe;         /* probes sent so far */
	struct { uint64_t at; uint16_t seq; } q[256];
	int nq;
	bool eval;              /* evaluate after every event */
	struct change log[64];
	int nlog;
};

/* The config's own defaults, so the simulated profile is the shipped one. */
static void default_cfg(struct xwan_monitor_cfg *m)
{
	xwan_monitor_defaults(m, 0);
}

static void sim_init(struct sim *s, const struct xwan_monitor_cfg *cfg)
{
	memset(s, 0, sizeof(*s));
	s->cfg = *cfg;
	s->eval = true;
	s->now = s->next_send = 1000 * MS;  /* not 0: catch "0 means unset" */
	assert_int_equal(health_init(&s->t, &s->cfg), 0);
}

static void sim_free(struct sim *s)
{
	health_free(&s->t);
}

static void evaluate(struct sim *s)
{
	if (!health_evaluate(&s->t, &s->cfg, s->now))
		return;
	assert_true(s->nlog < (int)(sizeof(s->log) / sizeof(s->log[0])));
	s->log[s->nlog].at = s->now;
	s->log[s->nlog].status = s->t.status;
	strcpy(s->log[s->nlog].reason, s->t.reason);
	s->log[s->nlog].loss_pct = s->t.stats.loss_pct;
	s->nlog++;
}

/* Deliver the replies due by `until`, in time order; then now = until. */
static void step_to(struct sim *s, uint64_t until)
{
	for (;;) {
		int best = -1;

		for (int i = 0; i < s->nq; i++)
			if (s->q[i].at <= until &&
			    (best < 0 || s->q[i].at < s->q[best].at))
				best = i;
		if (best < 0)
			break;
		s->now = s->q[best].at;
		health_reply(&s->t, s->q[best].seq, s->now);
		s->q[best] = s->q[--s->nq];
		if (s->eval)
			evaluate(s);
	}
	s->now = until;
}

/* Send n probes, one every interval, fate decided by f. */
static void run(struct sim *s, uint64_t n, pattern_fn f)
{
	for (uint64_t k = 0; k < n; k++) {
		uint16_t seq = (uint16_t)s->probe;
		uint32_t rtt;

		step_to(s, s->next_send);
		health_sent(&s->t, seq, s->now);
		if (f(k, &rtt)) {
			assert_true(s->nq < (int)(sizeof(s->q) / sizeof(s->q[0])));
			s->q[s->nq].at = s->now + rtt * MS;
			s->q[s->nq].seq = seq;
			s->nq++;
		}
		if (s->eval)
			evaluate(s);
		s->probe++;
		s->next_send += s->cfg.interval_ms * MS;
	}
}

/* Probes to send for `ms` of simulated time. */
static uint64_t probes_in(const struct sim *s, uint64_t ms)
{
	return ms / s->cfg.interval_ms;
}

static bool fast(uint64_t i, uint32_t *rtt)     { *rtt = 20;  return true; }
static bool rtt5(uint64_t i, uint32_t *rtt)     { *rtt = 5;   return true; }
static bool rtt300(uint64_t i, uint32_t *rtt)   { *rtt = 300; return true; }
static bool rtt612(uint64_t i, uint32_t *rtt)   { *rtt = 612; return true; }
static bool slow600(uint64_t i, uint32_t *rtt)  { *rtt = 600; return true; }
static bool blackhole(uint64_t i, uint32_t *rtt) { return false; }
static bool jitter(uint64_t i, uint32_t *rtt)
{
	*rtt = i % 2 ? 30 : 10;
	return true;
}
/* 7 of every 20 consecutive probes lost, spread out (at i mod 20 =
 * 0, 3, 6, 9, 12, 15, 18): 35% over any 20 consecutive probes. */
static bool loss35(uint64_t i, uint32_t *rtt)
{
	*rtt = 20;
	return (i * 7) % 20 >= 7;
}

static bool near(double a, double b)
{
	return fabs(a - b) < 1e-6;
}

/* ------------------------------------------------------------ tests */

static void pending_at_start(void **state)
{
	struct xwan_monitor_cfg cfg;
	struct sim s;
	uint64_t start;

	default_cfg(&cfg);
	sim_init(&s, &cfg);
	start = s.now;
	assert_int_equal(s.t.status, GW_STATUS_PENDING);

	/* Probes in flight decide nothing. */
	s.eval = false;
	run(&s, 3, blackhole);
	assert_false(health_evaluate(&s.t, &cfg, s.now));
	assert_int_equal(s.t.status, GW_STATUS_PENDING);
	health_free(&s.t);

	/* PENDING until the up_after-th decided probe, then ONLINE. */
	sim_init(&s, &cfg);
	run(&s, cfg.up_after + 2, fast);
	step_to(&s, s.next_send);
	assert_int_equal(s.nlog, 1);
	assert_int_equal(s.log[0].status, GW_STATUS_ONLINE);
	assert_int_equal(s.log[0].at, start +
			 (cfg.up_after - 1) * cfg.interval_ms * MS + 20 * MS);
	assert_string_equal(s.log[0].reason, "loss 0%, rtt 20ms");
	sim_free(&s);
}

static void steady_online(void **state)
{
	struct xwan_monitor_cfg cfg;
	struct sim s;
	uint64_t n;

	default_cfg(&cfg);
	sim_init(&s, &cfg);
	n = probes_in(&s, 10 * 60 * 1000);
	run(&s, n, jitter);
	step_to(&s, s.now + 100 * MS);     /* the last reply, nothing sent */
	assert_int_equal(s.nlog, 1);            /* PENDING -> ONLINE, once */
	assert_int_equal(s.t.status, GW_STATUS_ONLINE);
	evaluate(&s);
	assert_int_equal(s.t.stats.answered, cfg.window_ms / cfg.interval_ms);
	assert_int_equal(s.t.stats.lost, 0);
	assert_int_equal(s.t.stats.outstanding, 0);
	assert_true(near(s.t.stats.loss_pct, 0));
	assert_true(near(s.t.stats.rtt_ms, 20));        /* 10, 30, 10, ... */
	assert_true(near(s.t.stats.rttsd_ms, 10));
	assert_int_equal(s.t.sent_total, n);
	assert_int_equal(s.t.lost_total, 0);
	sim_free(&s);
}

/* The reason of a loss transition, as it must read for that loss. */
static void assert_loss_reason(const struct change *c, uint32_t threshold)
{
	char want[HEALTH_REASON_MAX];

	assert_true(c->loss_pct >= threshold);
	snprintf(want, sizeof(want), "loss %u%% >= %u%%",
		 (unsigned int)floor(c->loss_pct), threshold);
	assert_string_equal(c->reason, want);
}

/*
 * 35% loss, spread evenly. window 12000 / interval 500: the window holds
 * 24 probes; a lost probe is decided 2000 ms after it was sent.
 */
static void loss_35_down(void **state)
{
	struct xwan_monitor_cfg cfg;
	struct sim s;
	uint64_t per_window;

	default_cfg(&cfg);
	cfg.window_ms = 12000;
	sim_init(&s, &cfg);
	per_window = probes_in(&s, cfg.window_ms);
	run(&s, 2 * per_window, fast);
	assert_int_equal(s.t.status, GW_STATUS_ONLINE);
	assert_int_equal(s.nlog, 1);

	/* Evaluated after every event: WARNING, then DOWN as it climbs. */
	run(&s, 3 * per_window, loss35);
	assert_int_equal(s.nlog, 3);
	assert_int_equal(s.log[1].status, GW_STATUS_WARNING);
	assert_loss_reason(&s.log[1], cfg.loss_warning_pct);
	assert_true(s.log[1].loss_pct < cfg.loss_down_pct);
	assert_int_equal(s.log[2].status, GW_STATUS_DOWN);
	assert_loss_reason(&s.log[2], cfg.loss_down_pct);
	/* Answered runs are at most 2 long: it stays DOWN. */
	assert_int_equal(s.t.status, GW_STATUS_DOWN);
	sim_free(&s);

	/* Evaluated once, loss_interval after the last of a whole window of
	 * 35% loss: the window then holds the last 20 probes, all decided,
	 * 7 of them lost. */
	sim_init(&s, &cfg);
	run(&s, 2 * per_window, fast);
	assert_int_equal(s.t.status, GW_STATUS_ONLINE);
	s.eval = false;
	run(&s, 2 * per_window, loss35);
	step_to(&s, s.now + cfg.loss_interval_ms * MS);
	evaluate(&s);
	assert_int_equal(s.nlog, 2);
	assert_int_equal(s.t.status, GW_STATUS_DOWN);
	assert_string_equal(s.t.reason, "loss 35% >= 20%");
	assert_int_equal(s.t.stats.lost, 7);
	assert_int_equal(s.t.stats.answered, 13);
	assert_int_equal(s.t.stats.outstanding, 0);
	assert_true(near(s.t.stats.loss_pct, 35));
	sim_free(&s);
}

static void latency_warning_and_down(void **state)
{
	struct xwan_monitor_cfg cfg;
	struct sim s;

	default_cfg(&cfg);
	sim_init(&s, &cfg);
	run(&s, 40, rtt300);            /* 200 <= 300 < 500 */
	assert_int_equal(s.nlog, 1);
	assert_int_equal(s.log[0].status, GW_STATUS_WARNING);
	assert_string_equal(s.log[0].reason, "rtt 300ms >= 200ms");
	assert_true(near(s.t.stats.rtt_ms, 300));
	assert_true(near(s.t.stats.loss_pct, 0));

	/* Back to fast: the mean (all probes are within the window) drops
	 * below the warning threshold at the k-th fast reply. */
	{
		uint64_t k = 1;

		while (40 * 300 + 20 * k >= cfg.latency_warning_ms * (40 + k))
			k++;
		run(&s, 40, fast);
		assert_int_equal(s.nlog, 2);
		assert_int_equal(s.log[1].status, GW_STATUS_ONLINE);
		assert_int_equal(s.log[1].at, 1000 * MS +
				 (40 + k - 1) * 500 * MS + 20 * MS);
	}
	sim_free(&s);

	/* Over latency_down from the start: DOWN, and 612 ms replies are not
	 * good probes, so it never comes back. */
	sim_init(&s, &cfg);
	run(&s, 60, rtt612);
	assert_int_equal(s.nlog, 1);
	assert_int_equal(s.log[0].status, GW_STATUS_DOWN);
	assert_string_equal(s.log[0].reason, "rtt 612ms >= 500ms");
	assert_int_equal(s.t.status, GW_STATUS_DOWN);
	sim_free(&s);
}

/*
 * Default profile, blackhole after a healthy hour. At a send time now, the
 * window holds the W/I probes sent in (now - W, now], of which the L/I sent
 * in (now - L, now] are in flight: D = (W - L) / I decided probes. Loss
 * reaches p% when k = ceil(D * p / 100) of them are lost; the k-th lost
 * probe was sent (k - 1) * I after the first and is declared lost L later.
 */
static void blackhole_default_profile(void **state)
{
	struct xwan_monitor_cfg cfg;
	struct sim s;
	uint64_t D, k_down, k_warn, t0, t_down, t_warn;
	char want[HEALTH_REASON_MAX];

	default_cfg(&cfg);
	sim_init(&s, &cfg);
	run(&s, probes_in(&s, 3600 * 1000), fast);
	step_to(&s, s.next_send);
	assert_int_equal(s.nlog, 1);
	assert_int_equal(s.t.status, GW_STATUS_ONLINE);

	t0 = s.next_send;
	run(&s, probes_in(&s, 60 * 1000), blackhole);

	D = (cfg.window_ms - cfg.loss_interval_ms) / cfg.interval_ms;
	k_warn = (D * cfg.loss_warning_pct + 99) / 100;
	k_down = (D * cfg.loss_down_pct + 99) / 100;
	t_warn = (k_warn - 1) * cfg.interval_ms + cfg.loss_interval_ms;
	t_down = (k_down - 1) * cfg.interval_ms + cfg.loss_interval_ms;
	assert_int_equal(t_down, 13500);        /* the formula, for the doc */

	assert_int_equal(s.nlog, 3);
	assert_int_equal(s.log[1].status, GW_STATUS_WARNING);
	assert_int_equal(s.log[1].at - t0, t_warn * MS);
	snprintf(want, sizeof(want), "loss %u%% >= %u%%",
		 (unsigned int)(k_warn * 100 / D), cfg.loss_warning_pct);
	assert_string_equal(s.log[1].reason, want);

	assert_int_equal(s.log[2].status, GW_STATUS_DOWN);
	assert_int_equal(s.log[2].at - t0, t_down * MS);
	snprintf(want, sizeof(want), "loss %u%% >= %u%%",
		 (unsigned int)(k_down * 100 / D), cfg.loss_down_pct);
	assert_string_equal(s.log[2].reason, want);
	sim_free(&s);
}

/* interval 100, loss_interval 200, down_after 3: the third lost probe is
 * sent 200 ms after the first and declared lost 200 ms later. */
static void blackhole_fast_profile(void **state)
{
	struct xwan_monitor_cfg cfg;
	struct sim s;
	uint64_t t0;

	default_cfg(&cfg);
	cfg.interval_ms = 100;
	cfg.loss_interval_ms = 200;
	cfg.down_after = 3;
	sim_init(&s, &cfg);
	run(&s, probes_in(&s, 120 * 1000), rtt5);
	assert_int_equal(s.t.status, GW_STATUS_ONLINE);
	assert_int_equal(s.nlog, 1);

	t0 = s.next_send;
	run(&s, 20, blackhole);
	assert_int_equal(s.nlog, 2);
	assert_int_equal(s.log[1].status, GW_STATUS_DOWN);
	assert_string_equal(s.log[1].reason, "3 consecutive probes lost");
	assert_int_equal(s.log[1].at - t0,
			 ((cfg.down_after - 1) * cfg.interval_ms +
			  cfg.loss_interval_ms) * MS);
	assert_true(s.log[1].at - t0 < 500 * MS);
	/* The window alone would not have said so yet. */
	assert_true(s.t.stats.loss_pct < cfg.loss_warning_pct);

	/* Two lost in a row, then answers: not down. */
	sim_free(&s);
	sim_init(&s, &cfg);
	run(&s, 100, rtt5);
	run(&s, 2, blackhole);
	run(&s, 100, rtt5);
	run(&s, 2, blackhole);
	run(&s, 100, rtt5);
	assert_int_equal(s.nlog, 1);
	assert_int_equal(s.t.status, GW_STATUS_ONLINE);
	sim_free(&s);
}

/* After an outage, exactly up_after good probes bring it back. */
static void recovery_up_after(void **state)
{
	struct xwan_monitor_cfg cfg;
	struct sim s;
	uint64_t r0;

	for (uint32_t up = 1; up <= 5; up += 2) {
		default_cfg(&cfg);
		cfg.up_after = up;
		sim_init(&s, &cfg);
		run(&s, 240, fast);
		run(&s, 60, blackhole);         /* 30 s */
		assert_int_equal(s.t.status, GW_STATUS_DOWN);
		assert_int_equal(s.nlog, 3);    /* online, warning, down */

		r0 = s.next_send;
		run(&s, up + 2, fast);
		step_to(&s, s.next_send);
		assert_int_equal(s.nlog, 4);
		assert_int_equal(s.log[3].status, GW_STATUS_ONLINE);
		assert_int_equal(s.log[3].at,
				 r0 + (up - 1) * cfg.interval_ms * MS + 20 * MS);
		{
			char want[HEALTH_REASON_MAX];

			snprintf(want, sizeof(want),
				 "%u consecutive good probes", up);
			assert_string_equal(s.log[3].reason, want);
		}
		/* The outage's losses are gone from the window. */
		assert_int_equal(s.t.stats.lost, 0);
		assert_true(near(s.t.stats.loss_pct, 0));
		/* ... but not from the totals: every blackholed probe. */
		assert_int_equal(s.t.lost_total, 60);
		sim_free(&s);
	}
}

/* A reply at or over latency_down is not a good probe: the run restarts. */
static void recovery_slow_reply_breaks_run(void **state)
{
	struct xwan_monitor_cfg cfg;
	struct sim s;
	uint64_t r0;

	default_cfg(&cfg);
	sim_init(&s, &cfg);
	run(&s, 240, fast);
	run(&s, 60, blackhole);
	assert_int_equal(s.t.status, GW_STATUS_DOWN);
	r0 = s.next_send;
	run(&s, 2, fast);
	run(&s, 1, slow600);
	run(&s, cfg.up_after + 2, fast);
	step_to(&s, s.next_send);
	assert_int_equal(s.nlog, 4);
	assert_int_equal(s.log[3].status, GW_STATUS_ONLINE);
	/* probes 3, 4, 5 after r0 are the good run */
	assert_int_equal(s.log[3].at,
			 r0 + (3 + cfg.up_after - 1) * cfg.interval_ms * MS +
			 20 * MS);
	sim_free(&s);
}

/* A reply after its probe was declared lost changes nothing. */
static void late_reply_ignored(void **state)
{
	struct xwan_monitor_cfg cfg;
	struct health_target t;
	uint64_t t0 = 5000 * MS, li;

	default_cfg(&cfg);
	li = cfg.loss_interval_ms * MS;
	assert_int_equal(health_init(&t, &cfg), 0);

	health_sent(&t, 1, t0);
	health_sent(&t, 2, t0 + 500 * MS);
	health_sent(&t, 3, t0 + 1000 * MS);
	assert_true(health_reply(&t, 3, t0 + li - 1));  /* just in time */
	assert_false(health_reply(&t, 3, t0 + li));     /* duplicate */
	assert_false(health_reply(&t, 99, t0 + li));    /* unknown */
	health_expire(&t, t0 + li);                     /* 1 is lost */
	assert_false(health_reply(&t, 1, t0 + li + 100 * MS));
	/* 2 is not expired yet, but its reply is too late all the same. */
	assert_false(health_reply(&t, 2, t0 + 500 * MS + li));
	health_evaluate(&t, &cfg, t0 + 3000 * MS);
	assert_int_equal(t.stats.answered, 1);
	assert_int_equal(t.stats.lost, 2);
	assert_int_equal(t.lost_total, 2);
	assert_int_equal(t.sent_total, 3);
	assert_int_equal(t.status, GW_STATUS_DOWN);     /* 67% lost */
	assert_string_equal(t.reason, "loss 66% >= 20%");

	/* Late replies do not count toward recovery either. */
	for (uint16_t seq = 10; seq < 20; seq++) {
		uint64_t at = t0 + seq * 500 * MS;

		health_sent(&t, seq, at);
		assert_false(health_reply(&t, seq, at + li + MS));
		health_evaluate(&t, &cfg, at + li + MS);
	}
	assert_int_equal(t.status, GW_STATUS_DOWN);
	health_free(&t);
}

static void force_down_then_up_after(void **state)
{
	struct xwan_monitor_cfg cfg;
	struct sim s;
	uint64_t at;

	default_cfg(&cfg);
	sim_init(&s, &cfg);
	run(&s, 20, fast);
	assert_int_equal(s.t.status, GW_STATUS_ONLINE);

	/* Link down between a probe and its reply. */
	at = s.now + 10 * MS;
	assert_true(health_force_down(&s.t, "link down", at));
	assert_int_equal(s.t.status, GW_STATUS_DOWN);
	assert_string_equal(s.t.reason, "link down");
	assert_false(health_force_down(&s.t, "link down", at));

	/* That reply comes, then up_after - 1 more: not enough, since the
	 * first was sent before the link went down. */
	run(&s, cfg.up_after - 1, fast);
	step_to(&s, s.next_send);
	assert_int_equal(s.t.status, GW_STATUS_DOWN);
	run(&s, 1, fast);
	step_to(&s, s.next_send);
	assert_int_equal(s.t.status, GW_STATUS_ONLINE);
	assert_string_equal(s.t.reason, "3 consecutive good probes");
	sim_free(&s);
}

static void set(struct health_target *t, enum gw_status st, const char *why)
{
	memset(t, 0, sizeof(*t));
	t->status = st;
	snprintf(t->reason, sizeof(t->reason), "%s", why);
}

static enum gw_status combine3(enum gw_status a, enum gw_status b,
			       enum gw_status c, int rel, char *reason)
{
	struct health_target t[3];
	const struct health_target *p[3] = { &t[0], &t[1], &t[2] };

	set(&t[0], a, "a");
	set(&t[1], b, "b");
	set(&t[2], c, "c");
	return health_combine(p, 3, rel, reason, HEALTH_REASON_MAX);
}

static void reliability_combine(void **state)
{
	enum gw_status P = GW_STATUS_PENDING, O = GW_STATUS_ONLINE,
		       W = GW_STATUS_WARNING, D = GW_STATUS_DOWN;
	char r[HEALTH_REASON_MAX];

	/* 2 of 3 */
	assert_int_equal(combine3(O, D, O, 2, r), O);
	assert_string_equal(r, "2 of 3 targets online, 2 needed");
	assert_int_equal(combine3(O, W, D, 2, r), W);
	assert_string_equal(r, "1 of 3 targets online, 2 needed; targets[1]: b");
	assert_int_equal(combine3(W, W, O, 2, r), W);
	assert_int_equal(combine3(D, O, D, 2, r), D);
	assert_string_equal(r, "1 of 3 targets up, 2 needed; targets[0]: a");
	assert_int_equal(combine3(O, P, P, 2, r), P);
	assert_string_equal(r, "1 of 3 targets decided, 2 needed");
	assert_int_equal(combine3(O, D, P, 2, r), D);
	assert_int_equal(combine3(P, P, P, 1, r), P);
	/* 1 of 3: the best target wins */
	assert_int_equal(combine3(D, D, O, 1, r), O);
	assert_int_equal(combine3(D, W, P, 1, r), W);
	/* 3 of 3: the worst target wins */
	assert_int_equal(combine3(O, O, W, 3, r), W);
	assert_int_equal(combine3(O, D, O, 3, r), D);
	assert_int_equal(combine3(O, O, P, 3, r), P);

	/* One target: its own reason. */
	{
		struct health_target t;
		const struct health_target *p[1] = { &t };

		set(&t, D, "loss 35% >= 20%");
		assert_int_equal(health_combine(p, 1, 1, r, sizeof(r)), D);
		assert_string_equal(r, "loss 35% >= 20%");
	}
}

/* The same with real targets: one of three blackholed. */
static void reliability_simulated(void **state)
{
	struct xwan_monitor_cfg cfg;
	struct sim s[3];
	const struct health_target *p[3] = { &s[0].t, &s[1].t, &s[2].t };
	char r[HEALTH_REASON_MAX];

	default_cfg(&cfg);
	for (int i = 0; i < 3; i++) {
		sim_init(&s[i], &cfg);
		run(&s[i], 120, i == 1 ? blackhole : fast);
	}
	assert_int_equal(s[1].t.status, GW_STATUS_DOWN);
	assert_int_equal(health_combine(p, 3, 2, r, sizeof(r)), GW_STATUS_ONLINE);
	assert_int_equal(health_combine(p, 3, 3, r, sizeof(r)), GW_STATUS_DOWN);
	assert_string_equal(r, "2 of 3 targets up, 3 needed; "
			    "targets[1]: loss 100% >= 20%");
	for (int i = 0; i < 3; i++)
		sim_free(&s[i]);
}

/* Tiny interval, huge window: the ring stops at HEALTH_RING_MAX and the
 * probes it drops unanswered count as lost. */
static void ring_bounded(void **state)
{
	struct xwan_monitor_cfg cfg;
	struct health_target t;
	uint64_t n = HEALTH_RING_MAX + 1000;

	default_cfg(&cfg);
	cfg.interval_ms = 10;
	cfg.loss_interval_ms = 600000;
	cfg.window_ms = 86400000;
	assert_int_equal(health_init(&t, &cfg), 0);
	assert_int_equal(t.cap, HEALTH_RING_MAX);
	for (uint64_t i = 0; i < n; i++)
		health_sent(&t, (uint16_t)i, i * 10 * MS);
	assert_int_equal(t.count, HEALTH_RING_MAX);
	assert_int_equal(t.sent_total, n);
	assert_int_equal(t.lost_total, 1000);
	/* the newest is still there and can be answered */
	assert_true(health_reply(&t, (uint16_t)(n - 1), n * 10 * MS));
	/* the oldest was dropped */
	assert_false(health_reply(&t, 0, n * 10 * MS));
	health_free(&t);

	/* The default profile's ring: one window plus what is in flight. */
	default_cfg(&cfg);
	assert_int_equal(health_init(&t, &cfg), 0);
	assert_true(t.cap >= 120 + 4 && t.cap < 200);
	health_free(&t);
}

/* down_after fires from PENDING too; reset forgets everything. */
static void down_after_and_reset(void **state)
{
	struct xwan_monitor_cfg cfg;
	struct sim s;

	default_cfg(&cfg);
	cfg.down_after = 2;
	cfg.up_after = 5;
	sim_init(&s, &cfg);
	run(&s, 8, blackhole);
	assert_int_equal(s.nlog, 1);
	assert_int_equal(s.log[0].status, GW_STATUS_DOWN);
	assert_string_equal(s.log[0].reason, "2 consecutive probes lost");
	assert_int_equal(s.log[0].at, 1000 * MS + (500 + 2000) * MS);

	health_reset(&s.t);
	assert_int_equal(s.t.status, GW_STATUS_PENDING);
	assert_int_equal(s.t.count, 0);
	assert_int_equal(s.t.sent_total, 8);
	sim_free(&s);
}

/* Fresh target, n probes sent 1 ms apart at t0, answered after rtt_ns
 * except those in lost_mask (bit i: probe i), evaluated once all are
 * decided. Returns the status. */
static enum gw_status one_shot(const struct xwan_monitor_cfg *cfg, int n,
			       uint32_t lost_mask, uint64_t rtt_ns,
			       struct health_target *t)
{
	uint64_t t0 = 7000 * MS;

	assert_int_equal(health_init(t, cfg), 0);
	for (int i = 0; i < n; i++)
		health_sent(t, (uint16_t)i, t0 + i * MS);
	for (int i = 0; i < n; i++)
		if (!(lost_mask & (1u << i)))
			assert_true(health_reply(t, (uint16_t)i,
						 t0 + i * MS + rtt_ns));
	health_evaluate(t, cfg, t0 + cfg->loss_interval_ms * MS + n * MS);
	return t->status;
}

/* Every threshold is inclusive; a probe at latency_down is not good. */
static void thresholds_inclusive(void **state)
{
	struct xwan_monitor_cfg cfg;
	struct health_target t;

	default_cfg(&cfg);
	/* 1 of 5 lost: exactly 20% */
	assert_int_equal(one_shot(&cfg, 5, 1, 20 * MS, &t), GW_STATUS_DOWN);
	assert_string_equal(t.reason, "loss 20% >= 20%");
	health_free(&t);
	/* 1 of 6: 16.7% */
	assert_int_equal(one_shot(&cfg, 6, 1, 20 * MS, &t), GW_STATUS_WARNING);
	assert_string_equal(t.reason, "loss 16% >= 10%");
	health_free(&t);
	/* 1 of 10: exactly 10% */
	assert_int_equal(one_shot(&cfg, 10, 1, 20 * MS, &t), GW_STATUS_WARNING);
	assert_string_equal(t.reason, "loss 10% >= 10%");
	health_free(&t);
	/* 1 of 11: 9.1% */
	assert_int_equal(one_shot(&cfg, 11, 1, 20 * MS, &t), GW_STATUS_ONLINE);
	assert_string_equal(t.reason, "loss 9%, rtt 20ms");
	health_free(&t);

	assert_int_equal(one_shot(&cfg, 3, 0, 200 * MS, &t), GW_STATUS_WARNING);
	assert_string_equal(t.reason, "rtt 200ms >= 200ms");
	health_free(&t);
	assert_int_equal(one_shot(&cfg, 3, 0, 200 * MS - 1, &t),
			 GW_STATUS_ONLINE);
	assert_string_equal(t.reason, "loss 0%, rtt 199ms");
	health_free(&t);
	assert_int_equal(one_shot(&cfg, 3, 0, 500 * MS, &t), GW_STATUS_DOWN);
	assert_string_equal(t.reason, "rtt 500ms >= 500ms");
	health_free(&t);

	/* loss_warning 0: any loss is a warning, no loss is not */
	cfg.loss_warning_pct = 0;
	assert_int_equal(one_shot(&cfg, 20, 1, 20 * MS, &t), GW_STATUS_WARNING);
	assert_string_equal(t.reason, "loss 5% >= 0%");
	health_free(&t);
	assert_int_equal(one_shot(&cfg, 20, 0, 20 * MS, &t), GW_STATUS_ONLINE);
	health_free(&t);

	/* DOWN on rtt, then replies at exactly latency_down: still DOWN;
	 * just under it: back up after up_after of them. */
	default_cfg(&cfg);
	assert_int_equal(one_shot(&cfg, 3, 0, 600 * MS, &t), GW_STATUS_DOWN);
	for (uint16_t i = 0; i < 2 * cfg.up_after; i++) {
		uint64_t at = 20000 * MS + i * 500 * MS;
		uint64_t rtt = i < cfg.up_after ? 500 * MS : 500 * MS - 1;

		health_sent(&t, 100 + i, at);
		health_reply(&t, 100 + i, at + rtt);
		health_evaluate(&t, &cfg, at + rtt);
		assert_int_equal(t.status, i < 2 * cfg.up_after - 1 ?
				 GW_STATUS_DOWN : GW_STATUS_WARNING);
	}
	assert_string_equal(t.reason,
			    "3 consecutive good probes; rtt 499ms >= 200ms");
	health_free(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(pending_at_start),
		cmocka_unit_test(steady_online),
		cmocka_unit_test(loss_35_down),
		cmocka_unit_test(latency_warning_and_down),
		cmocka_unit_test(blackhole_default_profile),
		cmocka_unit_test(blackhole_fast_profile),
		cmocka_unit_test(recovery_up_after),
		cmocka_unit_test(recovery_slow_reply_breaks_run),
		cmocka_unit_test(late_reply_ignored),
		cmocka_unit_test(force_down_then_up_after),
		cmocka_unit_test(reliability_combine),
		cmocka_unit_test(reliability_simulated),
		cmocka_unit_test(ring_bounded),
		cmocka_unit_test(down_after_and_reset),
		cmocka_unit_test(thresholds_inclusive),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
