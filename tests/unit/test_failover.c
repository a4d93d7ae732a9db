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

/*
 * Per family (issue 13): isp1 and isp2 carry IPv6, lte does not. Each
 * family's verdicts decide its own membership and tier with the same rules.
 */
static const char dual[] =
	"lan:\n"
	"  - {interface: lan0, networks: [10.1.0.0/24, fd00:1::/64]}\n"
	"wan:\n"
	"  - {name: isp1, interface: wan1, gateway: 203.0.113.1, weight: 3,\n"
	"     gateway6: 2001:db8:1::1, nat6: masquerade}\n"
	"  - {name: isp2, interface: wan2, gateway: 198.51.100.1, weight: 1,\n"
	"     gateway6: auto, nat6: masquerade}\n"
	"  - {name: lte, interface: wan3, gateway: 192.0.2.1, weight: 1}\n"
	"groups:\n"
	"  - name: failover\n"
	"    members: [{wan: isp1, tier: 1}, {wan: isp2, tier: 1}, {wan: lte, tier: 2}]\n"
	"default_group: failover\n";

static struct xwan_config *dual_cfg(void)
{
	static struct xwan_config c;
	char err[XWAN_ERR_MAX];

	memset(&c, 0, sizeof(c));
	if (xwan_config_parse(dual, sizeof(dual) - 1, "dual.yaml", &c, err, sizeof(err)))
		fail_msg("%s", err);
	return &c;
}

static void test_family_membership(void **state)
{
	const struct xwan_config *c = dual_cfg();

	(void)state;
	assert_true(failover_wan_has_family(c, 0, XWAN_FAM_IPV4));
	assert_true(failover_wan_has_family(c, 2, XWAN_FAM_IPV4));
	assert_true(failover_wan_has_family(c, 0, XWAN_FAM_IPV6));
	assert_true(failover_wan_has_family(c, 1, XWAN_FAM_IPV6));     /* gateway6: auto */
	assert_false(failover_wan_has_family(c, 2, XWAN_FAM_IPV6));    /* no gateway6 */
	assert_string_equal(xwan_family_name(XWAN_FAM_IPV4), "ipv4");
	assert_string_equal(xwan_family_name(XWAN_FAM_IPV6), "ipv6");
}

/* isp1 up for IPv4, down for IPv6: each family's group moves on its own. */
static void test_family_down_for_ipv6_only(void **state)
{
	const struct xwan_config *c = dual_cfg();
	struct gw_verdict v4[XWAN_MAX_GATEWAYS], v6[XWAN_MAX_GATEWAYS];
	static xwan_usable_t u4, u6;
	bool any4[XWAN_MAX_GATEWAYS], any6[XWAN_MAX_GATEWAYS];

	(void)state;
	verdicts(v4, GW_STATUS_ONLINE, GW_STATUS_ONLINE, GW_STATUS_ONLINE);
	verdicts(v6, GW_STATUS_DOWN, GW_STATUS_ONLINE, GW_STATUS_ONLINE);
	failover_usable_family(c, XWAN_FAM_IPV4, v4, u4, any4);
	failover_usable_family(c, XWAN_FAM_IPV6, v6, u6, any6);
	assert_true(u4[0][0] && u4[0][1]);
	assert_false(u6[0][0]);
	assert_true(u6[0][1]);
	assert_true(any4[0]);
	assert_false(any6[0]);
	assert_int_equal(failover_default_gateway(c, u4), 0);          /* isp1, weight 3 */
	assert_int_equal(failover_default_gateway(c, u6), 1);          /* isp2 */
	/* Control: the same verdicts as IPv4's keep isp1 in the IPv6 group too. */
	failover_usable_family(c, XWAN_FAM_IPV6, v4, u6, any6);
	assert_true(u6[0][0] && u6[0][1]);
	assert_int_equal(failover_default_gateway(c, u6), 0);
}

/*
 * lte has no IPv6: never an IPv6 member, even "online" in its verdicts, so
 * IPv6 has no tier 2; with both IPv6 WANs down it has no tier at all while
 * IPv4 falls back to lte.
 */
static void test_family_without_ipv6_never_member(void **state)
{
	const struct xwan_config *c = dual_cfg();
	struct gw_verdict v[XWAN_MAX_GATEWAYS];
	static xwan_usable_t u4, u6;
	bool any4[XWAN_MAX_GATEWAYS], any6[XWAN_MAX_GATEWAYS];

	(void)state;
	verdicts(v, GW_STATUS_DOWN, GW_STATUS_DOWN, GW_STATUS_ONLINE);
	failover_usable_family(c, XWAN_FAM_IPV4, v, u4, any4);
	failover_usable_family(c, XWAN_FAM_IPV6, v, u6, any6);
	assert_int_equal(xwan_group_active_tier(c, 0, u4[0]), 2);
	assert_true(u4[0][2]);
	assert_false(u6[0][2] || any6[2]);
	assert_int_equal(xwan_group_active_tier(c, 0, u6[0]), 0);
	assert_int_equal(failover_default_gateway(c, u6), -1);
}

/*
 * Start-up: pending IPv6 members are used while no IPv6 member is decided,
 * and an IPv4-only member's "online" does not count as an IPv6 decision.
 */
static void test_family_pending_start(void **state)
{
	const struct xwan_config *c = dual_cfg();
	struct gw_verdict v[XWAN_MAX_GATEWAYS];
	static xwan_usable_t u6;
	bool any6[XWAN_MAX_GATEWAYS];

	(void)state;
	verdicts(v, GW_STATUS_PENDING, GW_STATUS_PENDING, GW_STATUS_ONLINE);
	failover_usable_family(c, XWAN_FAM_IPV6, v, u6, any6);
	assert_true(u6[0][0] && u6[0][1]);
	/* Control: as IPv4 (where lte counts), the pending ones wait. */
	failover_usable_family(c, XWAN_FAM_IPV4, v, u6, any6);
	assert_false(u6[0][0] || u6[0][1]);
	assert_true(u6[0][2]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_all_pending_at_start_are_used),
		cmocka_unit_test(test_pending_not_used_once_others_decided),
		cmocka_unit_test(test_pending_used_while_others_only_down),
		cmocka_unit_test(test_lower_tier_only_when_upper_all_down),
		cmocka_unit_test(test_triggers),
		cmocka_unit_test(test_family_membership),
		cmocka_unit_test(test_family_down_for_ipv6_only),
		cmocka_unit_test(test_family_without_ipv6_never_member),
		cmocka_unit_test(test_family_pending_start),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
