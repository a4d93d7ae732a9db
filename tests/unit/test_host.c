/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Unit tests of loader/host.c: what xwan_host_gather learns of each WAN
 * (state, NAT address, next hop) from a real kernel, in a network namespace
 * of its own (unshare), so the host's interfaces are never touched. Without
 * the right to make one (not root), every case is skipped.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loader/config.h"
#include "loader/host.h"

static struct xwan_config cfg;
static struct xwan_host h, prev;
static char err[XWAN_ERR_MAX];
static bool have_ns;

enum { W_AUTO, W_STATIC, W_GONE };      /* the config's WANs, in order */

static const char yaml[] =
	"lan:\n  - {interface: tlan, networks: [10.9.0.0/24, fd00:9::/64]}\n"
	"wan:\n"
	"  - {name: cable, interface: twa, gateway: auto, gateway6: auto,\n"
	"     npt: {outside: 2001:db8:9:100::/64}}\n"
	"  - {name: fibre, interface: twb, gateway: 192.0.2.1}\n"
	"  - {name: lte, interface: wwan7, gateway: auto}\n";

static uint32_t ip(const char *s)
{
	struct in_addr a;

	if (inet_pton(AF_INET, s, &a) != 1)
		fail_msg("bad address in test: %s", s);
	return a.s_addr;
}

static void sh(const char *cmd)
{
	int rc = system(cmd);

	if (rc != 0)
		fail_msg("`%s` failed (%d)", cmd, rc);
}

static void gather(void)
{
	if (xwan_host_gather(&cfg, &h, err, sizeof(err)))
		fail_msg("xwan_host_gather: %s", err);
}

static int setup(void **state)
{
	(void)state;
	if (xwan_config_parse(yaml, strlen(yaml), "xwan.yaml", &cfg, err, sizeof(err))) {
		fprintf(stderr, "config: %s\n", err);
		return -1;
	}
	if (unshare(CLONE_NEWNET) != 0)
		return 0;       /* not root: have_ns stays false, every case skips */
	have_ns = system("ip link set lo up && "
			 "ip link add tlan type veth peer name tlanp && "
			 "ip link add twa type veth peer name twap && "
			 "ip link add twb type veth peer name twbp && "
			 "for d in tlan tlanp twap twb twbp; do ip link set $d up; done") == 0;
	return 0;
}

/* Each case starts from twa up without addresses or routes. */
static int reset(void **state)
{
	(void)state;
	if (!have_ns)
		return 0;
	return system("ip link set twa up && ip -4 addr flush dev twa && "
		      "ip route flush table 100 2>/dev/null; "
		      "ip route flush table 30839 2>/dev/null; "
		      "ip -6 route flush table 100 2>/dev/null; "
		      "ip -6 route flush table 30839 2>/dev/null; "
		      "ip -6 route del default dev twa 2>/dev/null; "
		      "ip -6 route del default dev twa 2>/dev/null; true");
}

#define NEED_NS()                                                                   \
	do {                                                                         \
		if (!have_ns)                                                        \
			skip();                                                      \
	} while (0)

static void test_missing_interface(void **state)
{
	(void)state;
	NEED_NS();
	gather();
	assert_int_equal(h.wan_state[W_GONE], XWAN_WAN_NO_IFACE);
	assert_string_equal(xwan_wan_state_reason(h.wan_state[W_GONE]), "no interface");
	assert_int_equal(h.wan[W_GONE].ifindex, 0);
	/* The static WAN beside it is usable: a missing one fails nothing. */
	sh("ip addr add 192.0.2.2/24 dev twb");
	gather();
	assert_int_equal(h.wan_state[W_STATIC], XWAN_WAN_OK);
	sh("ip addr del 192.0.2.2/24 dev twb");
}

static void test_link_down(void **state)
{
	(void)state;
	NEED_NS();
	sh("ip addr add 198.51.100.50/24 dev twa && ip link set twa down");
	gather();
	assert_int_equal(h.wan_state[W_AUTO], XWAN_WAN_LINK_DOWN);
	/* Up at our end but the peer down: no carrier, still link down. */
	sh("ip link set twa up && ip link set twap down");
	gather();
	assert_int_equal(h.wan_state[W_AUTO], XWAN_WAN_LINK_DOWN);
	assert_string_equal(xwan_wan_state_reason(h.wan_state[W_AUTO]), "link down");
	sh("ip link set twap up");
}

static void test_no_address(void **state)
{
	(void)state;
	NEED_NS();
	gather();
	assert_int_equal(h.wan_state[W_AUTO], XWAN_WAN_NO_ADDR);
	assert_int_equal(h.wan_addr[W_AUTO].addr, 0);
	assert_string_equal(xwan_wan_state_reason(h.wan_state[W_AUTO]), "no address");
}

static void test_no_gateway(void **state)
{
	(void)state;
	NEED_NS();
	sh("ip addr add 198.51.100.50/24 dev twa");
	gather();
	assert_int_equal(h.wan_state[W_AUTO], XWAN_WAN_NO_GW);
	assert_int_equal(h.wan_addr[W_AUTO].addr, ip("198.51.100.50"));
	assert_int_equal(h.wan_addr[W_AUTO].plen, 24);
	/* A default route in xwan's own table (route_table_base) is its own, not learned. */
	sh("ip route add default via 198.51.100.1 dev twa table 30839");
	gather();
	assert_int_equal(h.wan_state[W_AUTO], XWAN_WAN_NO_GW);
	assert_int_equal(h.wan_gw[W_AUTO], 0);
}

static void test_learned_from_any_table(void **state)
{
	(void)state;
	NEED_NS();
	sh("ip addr add 198.51.100.50/24 dev twa && "
	   "ip route add default via 198.51.100.1 dev twa table 100");
	gather();
	assert_int_equal(h.wan_state[W_AUTO], XWAN_WAN_OK);
	assert_int_equal(h.wan_gw[W_AUTO], ip("198.51.100.1"));
	assert_int_equal(h.wan_addr[W_AUTO].addr, ip("198.51.100.50"));
}

/* Of two addresses, the one whose subnet holds the gateway is the NAT address. */
static void test_address_for_gateway(void **state)
{
	(void)state;
	NEED_NS();
	sh("ip addr add 10.77.0.2/24 dev twb && ip addr add 192.0.2.2/24 dev twb");
	gather();
	assert_int_equal(h.wan_state[W_STATIC], XWAN_WAN_OK);
	assert_int_equal(h.wan_gw[W_STATIC], ip("192.0.2.1"));
	assert_int_equal(h.wan_addr[W_STATIC].addr, ip("192.0.2.2"));
	sh("ip -4 addr flush dev twb");
}

/*
 * A lease renewed in place: the client deletes the address (the kernel takes
 * the default route with it), adds the new one, re-adds the route. Read in
 * between, the gateway learned before is kept while the new address's subnet
 * holds it; not for an address in another subnet.
 */
static void test_keep_learned(void **state)
{
	(void)state;
	NEED_NS();
	sh("ip addr add 198.51.100.50/24 dev twa && "
	   "ip route add default via 198.51.100.1 dev twa table 100");
	gather();
	prev = h;
	sh("ip addr del 198.51.100.50/24 dev twa && ip addr add 198.51.100.60/24 dev twa");
	gather();
	assert_int_equal(h.wan_state[W_AUTO], XWAN_WAN_NO_GW);  /* the route went */
	assert_true(xwan_host_wan_changed(&prev, &h, W_AUTO));
	xwan_host_keep_learned(&cfg, &h, &prev);
	assert_int_equal(h.wan_state[W_AUTO], XWAN_WAN_OK);
	assert_int_equal(h.wan_gw[W_AUTO], ip("198.51.100.1"));
	assert_int_equal(h.wan_addr[W_AUTO].addr, ip("198.51.100.60"));

	/* Control: a new address in another subnet; its gateway is unknown yet. */
	sh("ip -4 addr flush dev twa && ip addr add 203.0.113.9/24 dev twa");
	gather();
	xwan_host_keep_learned(&cfg, &h, &prev);
	assert_int_equal(h.wan_state[W_AUTO], XWAN_WAN_NO_GW);
	assert_int_equal(h.wan_gw[W_AUTO], 0);
}

static void test_unchanged(void **state)
{
	(void)state;
	NEED_NS();
	sh("ip addr add 198.51.100.50/24 dev twa && "
	   "ip route add default via 198.51.100.1 dev twa table 100");
	gather();
	prev = h;
	gather();
	for (int w = 0; w < cfg.n_wans; w++)
		assert_false(xwan_host_wan_changed(&prev, &h, w));
	sh("ip route replace default via 198.51.100.254 dev twa table 100");
	gather();
	assert_true(xwan_host_wan_changed(&prev, &h, W_AUTO));
	assert_false(xwan_host_wan_changed(&prev, &h, W_STATIC));
}

static void assert_gw6(const char *want)
{
	uint8_t a[16] = { 0 };

	if (want && inet_pton(AF_INET6, want, a) != 1)
		fail_msg("bad address in test: %s", want);
	assert_memory_equal(h.wan6[W_AUTO].gw, a, 16);
}

/*
 * gateway6: auto: the next hop of the default route the kernel learned from
 * the RA ("proto ra", via the router's link-local address; added by hand
 * here, as the kernel adds it), in any table but xwan's, main first.
 */
static void test_gateway6_auto(void **state)
{
	(void)state;
	NEED_NS();
	gather();
	assert_int_equal(h.wan6[W_AUTO].state, XWAN_WAN6_NO_GW);
	assert_string_equal(xwan_wan6_state_reason(h.wan6[W_AUTO].state), "no IPv6 gateway");
	assert_gw6(NULL);
	/* Control: xwan's own table's default route is not learned. */
	sh("ip -6 route add default via fe80::9 dev twa table 30839");
	gather();
	assert_int_equal(h.wan6[W_AUTO].state, XWAN_WAN6_NO_GW);
	sh("ip -6 route add default via fe80::1 dev twa proto ra metric 1024");
	gather();
	assert_int_equal(h.wan6[W_AUTO].state, XWAN_WAN6_OK);
	assert_gw6("fe80::1");
	/* Another table's is second to main's; alone, it is the one. */
	sh("ip -6 route add default via fe80::2 dev twa table 100");
	gather();
	assert_gw6("fe80::1");
	prev = h;
	sh("ip -6 route del default via fe80::1 dev twa");
	gather();
	assert_gw6("fe80::2");
	assert_true(xwan_host_wan_changed(&prev, &h, W_AUTO));
	assert_false(xwan_host_wan_changed(&prev, &h, W_STATIC));
	/* The static WAN has no IPv6 at all. */
	assert_int_equal(h.wan6[W_STATIC].state, XWAN_WAN6_OFF);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_missing_interface, reset),
		cmocka_unit_test_setup(test_link_down, reset),
		cmocka_unit_test_setup(test_no_address, reset),
		cmocka_unit_test_setup(test_no_gateway, reset),
		cmocka_unit_test_setup(test_learned_from_any_table, reset),
		cmocka_unit_test_setup(test_address_for_gateway, reset),
		cmocka_unit_test_setup(test_keep_learned, reset),
		cmocka_unit_test_setup(test_unchanged, reset),
		cmocka_unit_test_setup(test_gateway6_auto, reset),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
