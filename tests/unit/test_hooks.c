// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Hooks run asynchronously: hooks_gateway_change() returns at once, whatever
 * the program does; hooks_tick() reaps and counts, and kills overruns.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "monitor/hooks.h"

static const struct hook_gateway_event ev = {
	.gateway = "isp1", .interface = "wan1", .old_status = "online",
	.new_status = "down", .reason = "loss 100% >= 20%",
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* Tick until nothing runs (the next deadline is none) or limit_ms passes. */
static void drain(struct hooks *h, int limit_ms)
{
	for (int i = 0; i < limit_ms / 10; i++) {
		if (hooks_tick(h, now_ns()) == UINT64_MAX)
			return;
		usleep(10 * 1000);
	}
	fail_msg("hooks still running after %d ms", limit_ms);
}

static char dir[] = "/tmp/xwan-test-hooks-XXXXXX";

static const char *script(const char *name, const char *body)
{
	static char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "#!/bin/sh\n%s\n", body);
	fclose(f);
	chmod(path, 0755);
	return path;
}

static void test_environment_and_ok(void **state)
{
	struct hooks *h = hooks_new();
	struct hook_counts c;
	char out[300], line[400], got[1024] = "";
	FILE *f;

	(void)state;
	snprintf(out, sizeof(out), "%s/env.txt", dir);
	snprintf(line, sizeof(line), "env | grep ^XWAN_ | sort > %s", out);
	setenv("XWAN_GATEWAY", "stale", 1);     /* the agent's own XWAN_* never leak */
	hooks_configure(h, script("env.sh", line), 5000);
	hooks_gateway_change(h, &ev, now_ns());
	drain(h, 5000);
	hooks_counts(h, &c);
	assert_int_equal(c.ok, 1);
	assert_int_equal(c.failed + c.timed_out + c.skipped, 0);
	f = fopen(out, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		strncat(got, line, sizeof(got) - strlen(got) - 1);
	fclose(f);
	assert_string_equal(got, "XWAN_EVENT=gateway_change\nXWAN_FAMILY=ipv4\n"
			    "XWAN_GATEWAY=isp1\nXWAN_INTERFACE=wan1\nXWAN_NEW_STATUS=down\n"
			    "XWAN_OLD_STATUS=online\nXWAN_REASON=loss 100% >= 20%\n");
	unsetenv("XWAN_GATEWAY");
	hooks_free(h);
}

/* An IPv6 transition says so; the IPv4 event above (family unset) is the control. */
static void test_environment_family(void **state)
{
	struct hooks *h = hooks_new();
	struct hook_gateway_event e6 = ev;
	char out[300], line[400], got[256] = "";
	FILE *f;

	(void)state;
	e6.family = "ipv6";
	snprintf(out, sizeof(out), "%s/env6.txt", dir);
	snprintf(line, sizeof(line), "echo $XWAN_FAMILY $XWAN_GATEWAY > %s", out);
	hooks_configure(h, script("env6.sh", line), 5000);
	hooks_gateway_change(h, &e6, now_ns());
	drain(h, 5000);
	f = fopen(out, "r");
	assert_non_null(f);
	assert_non_null(fgets(got, sizeof(got), f));
	fclose(f);
	assert_string_equal(got, "ipv6 isp1\n");
	hooks_free(h);
}

static void test_failures_counted(void **state)
{
	struct hooks *h = hooks_new();
	struct hook_counts c;

	(void)state;
	hooks_configure(h, script("fail.sh", "exit 3"), 5000);
	hooks_gateway_change(h, &ev, now_ns());
	hooks_configure(h, "/nonexistent/xwan-hook", 5000);
	hooks_gateway_change(h, &ev, now_ns());
	drain(h, 5000);
	hooks_counts(h, &c);
	assert_int_equal(c.failed, 2);
	assert_int_equal(c.ok, 0);
	/* No hook configured: nothing runs, nothing counted. */
	hooks_configure(h, "", 5000);
	hooks_gateway_change(h, &ev, now_ns());
	assert_int_equal(hooks_tick(h, now_ns()), UINT64_MAX);
	hooks_free(h);
}

static void test_hang_returns_at_once_and_is_killed(void **state)
{
	struct hooks *h = hooks_new();
	struct hook_counts c;
	uint64_t t0 = now_ns();

	(void)state;
	/* A child of the script must go too: the whole group is killed. */
	hooks_configure(h, script("hang.sh", "sleep 60 & wait"), 200);
	hooks_gateway_change(h, &ev, t0);
	/* Far less than the script's 60 s: the call does not wait for it. */
	assert_true(now_ns() - t0 < 2000000000ULL);
	assert_true(hooks_tick(h, now_ns()) < UINT64_MAX);
	drain(h, 5000);
	hooks_counts(h, &c);
	assert_int_equal(c.timed_out, 1);
	assert_int_equal(c.ok + c.failed, 0);
	hooks_free(h);
}

static void test_too_many_skipped(void **state)
{
	struct hooks *h = hooks_new();
	struct hook_counts c;

	(void)state;
	hooks_configure(h, script("slow.sh", "sleep 60"), 300);
	for (int i = 0; i < HOOKS_MAX_RUNNING + 2; i++)
		hooks_gateway_change(h, &ev, now_ns());
	hooks_counts(h, &c);
	assert_int_equal(c.skipped, 2);
	drain(h, 5000);
	hooks_counts(h, &c);
	assert_int_equal(c.timed_out, HOOKS_MAX_RUNNING);
	hooks_free(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_environment_and_ok),
		cmocka_unit_test(test_environment_family),
		cmocka_unit_test(test_failures_counted),
		cmocka_unit_test(test_hang_returns_at_once_and_is_killed),
		cmocka_unit_test(test_too_many_skipped),
	};
	int rc;

	if (!mkdtemp(dir))
		return 1;
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	for (const char *n = "env.txt\0env.sh\0fail.sh\0hang.sh\0slow.sh\0"; *n; n += strlen(n) + 1) {
		char p[256];

		snprintf(p, sizeof(p), "%s/%s", dir, n);
		unlink(p);
	}
	rmdir(dir);
	return rc;
}
