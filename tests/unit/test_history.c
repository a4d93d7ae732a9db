// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The agent's in-memory history (monitor/history.c): bounded rings (an hour
 * at one point a second, a day at one point a minute), throughput from byte
 * counters, minute aggregates, gateways forgotten after a reload, and the
 * event ring, as the JSON the status page reads.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "bpf/xwan_types.h"
#include "monitor/history.h"

static char *render(struct history *h, bool day, const char *gw, uint64_t since, int *rc)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	*rc = history_write_json(h, f, day, gw, since);
	fclose(f);
	return buf;
}

/* Points of the first series: each one starts with "[<digit>". */
static int count_points(const char *json)
{
	const char *p = strstr(json, "\"points\":[");
	int n = 0;

	assert_non_null(p);
	for (p += 10; *p && *p != '}'; p++)
		if (p[0] == '[' && p[1] >= '0' && p[1] <= '9')
			n++;
	return n;
}

/* The i-th point's text "[t,...]" of the first series. */
static void point(const char *json, int i, char *out, size_t len)
{
	const char *p = strstr(json, "\"points\":[") + 10, *e;

	for (int k = 0; k < i; k++)
		p = strchr(p + 1, '[');
	e = strchr(p, ']');
	snprintf(out, len, "%.*s", (int)(e - p + 1), p);
}

static struct history_sample sample(double rtt, double loss, uint64_t in, uint64_t out)
{
	return (struct history_sample){ .monitored = true, .status = 1, .rtt_ms = rtt,
					.rttsd_ms = rtt / 10, .loss_pct = loss, .bytes_in = in,
					.bytes_out = out };
}

static void hour_ring_keeps_the_last_hour(void **state)
{
	struct history *h = history_new();
	char p[128], *j;
	int rc;

	(void)state;
	for (uint64_t t = 1000; t < 1000 + HISTORY_FINE_POINTS + 100; t++) {
		struct history_sample s = sample(5, 0, 0, 0);

		assert_int_equal(history_add(h, "isp1", t, &s), 0);
	}
	j = render(h, false, "isp1", 0, &rc);
	assert_int_equal(rc, 0);
	assert_int_equal(count_points(j), HISTORY_FINE_POINTS);
	point(j, 0, p, sizeof(p));
	assert_true(!strncmp(p, "[1100,5.00,0.50,0.00,", 21));
	free(j);
	/* since: only what the page has not seen yet */
	j = render(h, false, "isp1", 1000 + HISTORY_FINE_POINTS + 97, &rc);
	assert_int_equal(count_points(j), 2);
	free(j);
	history_free(h);
}

static void same_second_replaces_and_rates_come_from_counters(void **state)
{
	struct history *h = history_new();
	struct history_sample s;
	char p[128], *j;
	int rc;

	(void)state;
	s = sample(10, 0, 1000, 0);
	history_add(h, "isp1", 100, &s);
	s = sample(12, 0, 2000, 500);
	history_add(h, "isp1", 101, &s);
	s = sample(30, 50, 9999999, 9999999);   /* the same second again: quality only */
	history_add(h, "isp1", 101, &s);
	s = sample(14, 0, 6000, 1500);
	history_add(h, "isp1", 103, &s);        /* 4000 bytes over 2 s */
	s = sample(14, 0, 10, 10);              /* counters reset (a reload re-created them) */
	history_add(h, "isp1", 104, &s);
	j = render(h, false, NULL, 0, &rc);
	assert_int_equal(count_points(j), 4);
	point(j, 0, p, sizeof(p));
	assert_string_equal(p, "[100,10.00,1.00,0.00,10.00,0.00,0,0,1]");
	point(j, 1, p, sizeof(p));
	assert_string_equal(p, "[101,30.00,3.00,50.00,30.00,50.00,8000,4000,1]");
	point(j, 2, p, sizeof(p));
	assert_string_equal(p, "[103,14.00,1.40,0.00,14.00,0.00,16000,4000,1]");
	point(j, 3, p, sizeof(p));
	assert_string_equal(p, "[104,14.00,1.40,0.00,14.00,0.00,0,0,1]");
	free(j);
	history_free(h);
}

static void unmonitored_readings_are_null(void **state)
{
	struct history *h = history_new();
	struct history_sample s = { .monitored = false, .status = 0 };
	char p[128], *j;
	int rc;

	(void)state;
	history_add(h, "isp1", 50, &s);
	j = render(h, false, NULL, 0, &rc);
	point(j, 0, p, sizeof(p));
	assert_string_equal(p, "[50,null,null,null,null,null,0,0,0]");
	free(j);
	j = render(h, true, NULL, 0, &rc);
	point(j, 0, p, sizeof(p));
	assert_string_equal(p, "[0,null,null,null,null,null,0,0,0]");
	free(j);
	history_free(h);
}

static void day_ring_aggregates_minutes(void **state)
{
	struct history *h = history_new();
	char p[128], *j;
	int rc;

	(void)state;
	/* minute 600..659: rtt 10, one reading with 40 and 25% loss, one down */
	for (uint64_t t = 600; t < 660; t++) {
		struct history_sample s = sample(t == 630 ? 40 : 10, t == 630 ? 25 : 0, 0, 0);

		s.status = t == 630 ? 3 : 1;
		history_add(h, "isp1", t, &s);
	}
	/* minute 660..: two readings so far */
	for (uint64_t t = 660; t < 662; t++) {
		struct history_sample s = sample(20, 0, 0, 0);

		history_add(h, "isp1", t, &s);
	}
	j = render(h, true, "isp1", 0, &rc);
	assert_int_equal(rc, 0);
	assert_non_null(strstr(j, "\"range\":\"day\",\"step_s\":60"));
	assert_int_equal(count_points(j), 2);
	point(j, 0, p, sizeof(p));
	/* mean rtt (59*10 + 40)/60 = 10.5, loss 25/60, worst 40 ms and 25%, status down */
	assert_string_equal(p, "[600,10.50,1.05,0.42,40.00,25.00,0,0,3]");
	point(j, 1, p, sizeof(p));
	assert_string_equal(p, "[660,20.00,2.00,0.00,20.00,0.00,0,0,1]");
	free(j);
	history_free(h);
}

static void day_ring_is_bounded(void **state)
{
	struct history *h = history_new();
	char p[64], *j;
	int rc;

	(void)state;
	/* one reading a minute for a day and 100 minutes */
	for (uint64_t m = 0; m < HISTORY_COARSE_POINTS + 100; m++) {
		struct history_sample s = sample(1, 0, 0, 0);

		history_add(h, "isp1", 60 * m, &s);
	}
	j = render(h, true, "isp1", 0, &rc);
	/* the closed minutes, plus the one in progress */
	assert_int_equal(count_points(j), HISTORY_COARSE_POINTS + 1);
	point(j, 0, p, sizeof(p));
	assert_true(!strncmp(p, "[5940,", 6));   /* minute 99: the 99 before it are gone */
	free(j);
	history_free(h);
	assert_true(history_bytes_per_gateway() <
		    (HISTORY_FINE_POINTS + HISTORY_COARSE_POINTS) * sizeof(struct history_point) + 1024);
}

static void gateways_by_name_and_retain(void **state)
{
	struct history *h = history_new();
	struct history_sample s = sample(1, 0, 0, 0);
	const char *keep[] = { "isp2" };
	char name[16], *j;
	int rc;

	(void)state;
	history_add(h, "isp1", 10, &s);
	history_add(h, "isp2", 10, &s);
	j = render(h, false, NULL, 0, &rc);
	assert_non_null(strstr(j, "\"name\":\"isp1\""));
	assert_non_null(strstr(j, "\"name\":\"isp2\""));
	free(j);
	history_retain(h, keep, 1);
	j = render(h, false, NULL, 0, &rc);
	assert_null(strstr(j, "isp1"));
	assert_non_null(strstr(j, "isp2"));
	free(j);
	j = render(h, false, "isp1", 0, &rc);
	assert_int_equal(rc, -ENOENT);
	free(j);
	/* no more series than the dataplane's gateways have families */
	for (int i = 0; i < HISTORY_SERIES + 8; i++) {
		snprintf(name, sizeof(name), "g%d", i);
		rc = history_add(h, name, 10, &s);
		if (rc)
			break;
	}
	assert_int_equal(rc, -ENOSPC);
	history_free(h);
}

/* A gateway's IPv6 side is a series of its own, beside its IPv4 one. */
static void ipv6_series_beside_ipv4(void **state)
{
	struct history *h = history_new();
	struct history_sample s4 = sample(1, 0, 0, 0), s6 = sample(7, 50, 0, 0);
	const char *keep[] = { "isp1" };
	char *j, *v4, *v6;
	int rc;

	(void)state;
	s6.ipv6 = true;
	history_add(h, "isp1", 10, &s4);
	history_add(h, "isp1", 10, &s6);
	j = render(h, false, NULL, 0, &rc);
	v4 = strstr(j, "{\"name\":\"isp1\",\"family\":\"ipv4\",\"points\":[[10,1.00,");
	v6 = strstr(j, "{\"name\":\"isp1\",\"family\":\"ipv6\",\"points\":[[10,7.00,");
	assert_non_null(v4);
	assert_non_null(v6);
	free(j);
	/* Control: the same reading without ipv6 replaces the IPv4 one, no new series. */
	history_add(h, "isp1", 10, &s6 /* still ipv6 */);
	s6.ipv6 = false;
	history_add(h, "isp1", 10, &s6);
	j = render(h, false, NULL, 0, &rc);
	assert_null(strstr(j, "[[10,1.00,"));
	assert_int_equal(count_points(j), 1);
	free(j);
	/* The gateway filter and a reload's retain keep both families. */
	history_retain(h, keep, 1);
	j = render(h, false, "isp1", 0, &rc);
	assert_int_equal(rc, 0);
	assert_non_null(strstr(j, "\"family\":\"ipv4\""));
	assert_non_null(strstr(j, "\"family\":\"ipv6\""));
	free(j);
	history_free(h);
}

static char *events(struct history *h, uint64_t since, int limit)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_int_equal(history_events_json(h, f, since, limit), 0);
	fclose(f);
	return buf;
}

static int count(const char *s, const char *needle)
{
	int n = 0;

	for (const char *p = s; (p = strstr(p, needle)); p++)
		n++;
	return n;
}

static void event_ring(void **state)
{
	struct history *h = history_new();
	char line[64], *j;

	(void)state;
	assert_string_equal(history_event_kind("gateway isp1: online -> down (loss 100% >= 20%)"),
			    "transition");
	assert_string_equal(history_event_kind("gateway isp1: flushed 3 flows (3 TCP clients reset): gateway down"),
			    "flush");
	assert_string_equal(history_event_kind("reloaded /etc/xwan/xwan.yaml: 0 WAN(s) added"),
			    "reload");
	assert_string_equal(history_event_kind("reload rejected, running config kept: x"), "reload");
	assert_string_equal(history_event_kind("gateway isp2: address 1.2.3.4 -> 1.2.3.5, next hop"),
			    "address");
	assert_string_equal(history_event_kind("monitoring 2 gateways"), "info");
	assert_string_equal(history_event_kind("adopted the running dataplane and applied x: "
					       "0 WAN(s) added, 0 removed (0 flows flushed)"), "info");

	history_event(h, 5, "say \"hi\"\n\\");
	j = events(h, 0, 0);
	assert_non_null(strstr(j, "{\"next\":2,"));
	assert_non_null(strstr(j, "\"seq\":1,\"t\":5,\"kind\":\"info\",\"text\":\"say \\\"hi\\\"\\n\\\\\""));
	free(j);
	for (int i = 0; i < HISTORY_EVENTS + 10; i++) {
		snprintf(line, sizeof(line), "event %d", i);
		history_event(h, 6, line);
	}
	j = events(h, 0, 0);
	assert_int_equal(count(j, "\"seq\":"), HISTORY_EVENTS);
	assert_null(strstr(j, "\"event 9\""));
	assert_non_null(strstr(j, "\"event 10\""));
	free(j);
	j = events(h, HISTORY_EVENTS + 10, 0);          /* since: the last two */
	assert_int_equal(count(j, "\"seq\":"), 2);
	free(j);
	j = events(h, 0, 3);                            /* limit: the newest three */
	assert_int_equal(count(j, "\"seq\":"), 3);
	assert_non_null(strstr(j, "\"event 521\""));
	free(j);
	history_free(h);
}

/* The loop writes while HTTP threads read: nothing torn, nothing lost. */
static void *reader(void *arg)
{
	struct history *h = arg;

	for (int i = 0; i < 200; i++) {
		int rc;
		char *j = render(h, i % 2, NULL, 0, &rc);

		assert_int_equal(rc, 0);
		free(j);
		free(events(h, 0, 50));
	}
	return NULL;
}

static void readers_and_writer_concurrently(void **state)
{
	struct history *h = history_new();
	pthread_t th;
	char *j;
	int rc;

	(void)state;
	assert_int_equal(pthread_create(&th, NULL, reader, h), 0);
	for (uint64_t t = 1; t <= 5000; t++) {
		struct history_sample s = sample(1, 0, t * 100, t * 10);

		history_add(h, "isp1", t, &s);
		history_event(h, t, "tick");
	}
	pthread_join(th, NULL);
	j = render(h, false, NULL, 0, &rc);
	assert_int_equal(count_points(j), HISTORY_FINE_POINTS);
	free(j);
	history_free(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(hour_ring_keeps_the_last_hour),
		cmocka_unit_test(same_second_replaces_and_rates_come_from_counters),
		cmocka_unit_test(unmonitored_readings_are_null),
		cmocka_unit_test(day_ring_aggregates_minutes),
		cmocka_unit_test(day_ring_is_bounded),
		cmocka_unit_test(gateways_by_name_and_retain),
		cmocka_unit_test(ipv6_series_beside_ipv4),
		cmocka_unit_test(event_ring),
		cmocka_unit_test(readers_and_writer_concurrently),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
