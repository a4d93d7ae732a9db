// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Which gateways each group may use, from statuses and the groups' triggers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "loader/config.h"
#include "monitor/failover.h"

static const char base[] =
	"lan:\n"
	"  - {interface: lan0, networks: [10.1.0.0/24]}\n"
	"wan:\n"
	"  - {name: isp1, interface: wan1, gateway: 203.0.113.1, weight: 3}\n"
	"  - {name: isp2, interface: wan2, gateway: 198.51.100.1, weight: 1}\n"
	"  - {name: lte, interface: wan3, gateway: 192.0.2.1, weight: 1}\n"
	"groups:\n"
	"  - name: failover\n"
	"    members: [{wan: isp1, tier: 1}, {wan: isp2, tier: 1}, {wan: lte, tier: 2}]\n"
	"  - name: lossy\n"
	"    members: [{wan: isp1}, {wan: isp2}]\n"
	"    trigger: packet-loss\n"
	"  - name: laggy\n"
	"    members: [{wan: isp1}, {wan: isp2}]\n"
	"    trigger: loss-or-latency\n"
	"default_group: failover\n";

static struct xwan_config *cfg;

static int setup(void **state)
{
	char err[XWAN_ERR_MAX];

	(void)state;
	cfg = calloc(1, sizeof(*cfg));
	if (!cfg || xwan_config_parse(base, sizeof(base) - 1, "t.yaml", cfg, err, sizeof(err))) {
		print_error("%s\n", err);
		return -1;
	}
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	free(cfg);
	return 0;
}

static void verdicts(struct gw_verdict *v, uint8_t s1, uint8_t s2, uint8_t s3)
{
	memset(v, 0, sizeof(struct gw_verdict) * XWAN_MAX_GATEWAYS);
	v[0].status = s1;
	v[1].status = s2;
	v[2].status = s3;
}

static void test_all_pending_at_start_are_used(void **state)
{
	struct gw_verdict v[XWAN_MAX_GATEWAYS];
	static xwan_usable_t u;
	bool any[XWAN_MAX_GATEWAYS];

	(void)state;
	verdicts(v, GW_STATUS_PENDING, GW_STATUS_PENDING, GW_STATUS_PENDING);
	failover_usable(cfg, v, u, any);
	/* Nobody has an opinion yet: forward through all rather than none. */
	assert_true(u[0][0] && u[0][1] && u[0][2]);
	assert_int_equal(xwan_group_active_tier(cfg, 0, u[0]), 1);
}

static void test_pending_not_used_once_others_decided(void **state)
{
	struct gw_verdict v[XWAN_MAX_GATEWAYS];
	static xwan_usable_t u;
	bool any[XWAN_MAX_GATEWAYS];

	(void)state;
	verdicts(v, GW_STATUS_ONLINE, GW_STATUS_PENDING, GW_STATUS_ONLINE);
	failover_usable(cfg, v, u, any);
	assert_true(u[0][0]);
	assert_false(u[0][1]);
}

/* A WAN down at start (no lease, dead ISP) leaves the others usable while probed. */
static void test_pending_used_while_others_only_down(void **state)
{
	struct gw_verdict v[XWAN_MAX_GATEWAYS];
	static xwan_usable_t u;
	bool any[XWAN_MAX_GATEWAYS];

	(void)state;
	verdicts(v, GW_STATUS_DOWN, GW_STATUS_PENDING, GW_STATUS_PENDING);
	failover_usable(cfg, v, u, any);
	assert_false(u[0][0]);
	assert_true(u[0][1] && u[0][2]);
	/* Once one is known good, the pending one waits for its probes again. */
	verdicts(v, GW_STATUS_DOWN, GW_STATUS_ONLINE, GW_STATUS_PENDING);
	failover_usable(cfg, v, u, any);
	assert_true(u[0][1]);
	assert_false(u[0][2]);
}

static void test_lower_tier_only_when_upper_all_down(void **state)
{
	struct gw_verdict v[XWAN_MAX_GATEWAYS];
	static xwan_usable_t u;
	bool any[XWAN_MAX_GATEWAYS];

	(void)state;
	verdicts(v, GW_STATUS_DOWN, GW_STATUS_ONLINE, GW_STATUS_ONLINE);
	failover_usable(cfg, v, u, any);
	assert_int_equal(xwan_group_active_tier(cfg, 0, u[0]), 1);
	assert_int_equal(failover_default_gateway(cfg, u), 1);          /* isp2 */

	verdicts(v, GW_STATUS_DOWN, GW_STATUS_DOWN, GW_STATUS_ONLINE);
	failover_usable(cfg, v, u, any);
	assert_int_equal(xwan_group_active_tier(cfg, 0, u[0]), 2);
	assert_int_equal(failover_default_gateway(cfg, u), 2);          /* lte */

	verdicts(v, GW_STATUS_DOWN, GW_STATUS_DOWN, GW_STATUS_DOWN);
	failover_usable(cfg, v, u, any);
	assert_int_equal(xwan_group_active_tier(cfg, 0, u[0]), 0);
	assert_int_equal(failover_default_gateway(cfg, u), -1);
	assert_false(any[0] || any[1] || any[2]);
}

static void test_triggers(void **state)
{
	struct gw_verdict v[XWAN_MAX_GATEWAYS];
	static xwan_usable_t u;
	bool any[XWAN_MAX_GATEWAYS];

	(void)state;
	/* isp1 warns for loss, isp2 for latency. */
	verdicts(v, GW_STATUS_WARNING, GW_STATUS_WARNING, GW_STATUS_ONLINE);
	v[0].loss_alert = true;
	v[1].latency_alert = true;
	failover_usable(cfg, v, u, any);
	/* member-down keeps both, packet-loss drops isp1 only, loss-or-latency both. */
	assert_true(u[0][0] && u[0][1]);
	assert_false(u[1][0]);
	assert_true(u[1][1]);
	assert_false(u[2][0] || u[2][1]);
	/* isp1 is still usable by some group: the dataplane's flag stays up. */
	assert_true(any[0] && any[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_all_pending_at_start_are_used),
		cmocka_unit_test(test_pending_not_used_once_others_decided),
		cmocka_unit_test(test_pending_used_while_others_only_down),
		cmocka_unit_test(test_lower_tier_only_when_upper_all_down),
		cmocka_unit_test(test_triggers),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
