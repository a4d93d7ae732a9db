/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The probe engines over IPv6 (monitor/probe.c with spec.family AF_INET6),
 * against real sockets. Needs root: the test moves itself into a private
 * network namespace and forks a "far end" into a second one, joined by a
 * veth pair:
 *
 *   this process (netns A)                    far end (netns B)
 *   v0 fd99::1/64, fd99::11/64  <-- veth -->  v1 fd99::2/64, fd99::3/64,
 *                                                fe80::2/64 (a router's link-local)
 *
 * Probes go out of v0 from fd99::11 (the secondary address, so the kernel's
 * own choice would show). The far end (tests/unit/probe_far.h, shared with
 * test_probe) serves tcp 7, http 80 and dns 53 on every address and reports
 * every probe it sees; tcp 9 is closed (RST); everything to fd99::3 is
 * dropped by nftables; fd99::99 is nobody (neighbour discovery fails).
 * Addresses are added with nodad: the test does not wait for DAD.
 */
#include "tests/unit/probe_far.h"

static void ip6(const char *s, uint8_t *out)
{
	if (inet_pton(AF_INET6, s, out) != 1)
		abort();
}

static struct probe_spec spec(enum xwan_probe_method m, const char *target, uint16_t port)
{
	struct probe_spec s = { .method = m, .family = AF_INET6, .port = port,
				.fwmark = 0x10000, .icmp_ident = 77 };

	ip6(target, s.target6);
	ip6("fd99::11", s.src_addr6);
	strcpy(s.ifname, "v0");
	return s;
}

static const struct probe_far far6 = {
	.name = "test_probe6", .family = AF_INET6, .listen = "::",
	.far_addrs = "ip addr add fd99::2/64 dev v1 nodad && ip addr add fd99::3/64 dev v1 nodad && "
		     "ip addr add fe80::2/64 dev v1 nodad",
	.drop = "ip6 daddr fd99::3",
	.near_addrs = "ip addr add fd99::1/64 dev v0 nodad && ip addr add fd99::11/64 dev v0 nodad",
	.src = "fd99::11",
	.up = "fd99::2", .dropped = "fd99::3", .nobody = "fd99::99", .spec = spec,
};

static int setup(void **state)
{
	return far_setup(&far6);
}

/* -------------------------------------------------------------- tests */

/* An RA-learned gateway is link-local: reached on the WAN, from the WAN's address. */
static void icmp6_link_local_gateway(void **state)
{
	struct results r = { 0 }, other = { 0 };
	int epfd = epoll_create1(EPOLL_CLOEXEC);
	struct probe_spec s = spec(XWAN_PROBE_ICMP, "fe80::2", 0);
	struct probe *p, *q;

	NEED_NETNS();
	p = make(&s, epfd, &r);
	s.icmp_ident = 78;      /* another id to the same target hears nothing of p's */
	q = make(&s, epfd, &other);
	send_some(p, epfd, &r, 9, 2, 2000);
	pump(epfd, &other, 0, 200);
	assert_int_equal(r.n, 2);
	assert_int_equal(other.n, 0);
	expect_report("icmp", 77, 77, NULL, 0);
	expect_report("icmp", 77, 77, NULL, 0);
	probe_destroy(p);
	probe_destroy(q);
	close(epfd);
}

static void http6_bracketed_url(void **state)
{
	struct results r = { 0 };
	int epfd = epoll_create1(EPOLL_CLOEXEC);
	struct probe_spec s = spec(XWAN_PROBE_HTTP, "fd99::2", 0);
	struct probe *p;
	char extra[600];

	NEED_NETNS();
	strcpy(s.url, "http://[fd99::2]/generate_204");
	p = make(&s, epfd, &r);
	send_some(p, epfd, &r, 7, 1, 2000);
	assert_int_equal(r.n, 1);
	expect_report("http", PROBE_PORT_MIN, PROBE_PORT_MAX, extra, sizeof(extra));
	assert_string_equal(extra, "GET /generate_204 HTTP/1.0|Host: [fd99::2]");
	probe_destroy(p);

	r.n = 0;                /* the port after the bracket: 7 speaks no http */
	strcpy(s.url, "http://[fd99::2]:7/");
	p = make(&s, epfd, &r);
	send_some(p, epfd, &r, 1, 1, 500);
	assert_int_equal(r.n, 0);
	expect_report("tcp", PROBE_PORT_MIN, PROBE_PORT_MAX, NULL, 0);
	probe_destroy(p);
	close(epfd);
}

static void create6_errors(void **state)
{
	int epfd = epoll_create1(EPOLL_CLOEXEC);
	struct probe_spec s;
	char err[256];

	NEED_NETNS();
	s = spec(XWAN_PROBE_TCP, "fd99::2", 7);
	ip6("fd99::77", s.src_addr6);           /* not ours */
	assert_null(probe_create(&s, epfd, on_reply, NULL, err, sizeof(err)));
	assert_non_null(strstr(err, "bind [fd99::77]:0"));

	s = spec(XWAN_PROBE_ICMP, "::", 0);
	assert_null(probe_create(&s, epfd, on_reply, NULL, err, sizeof(err)));
	assert_non_null(strstr(err, "no target address"));

	s = spec(XWAN_PROBE_HTTP, "fd99::2", 0);
	strcpy(s.url, "http://[fd99::2/");
	assert_null(probe_create(&s, epfd, on_reply, NULL, err, sizeof(err)));
	assert_non_null(strstr(err, "expected http://host[:port][/path]"));
	close(epfd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		FAR_CASE("icmp6_reachable", far_icmp_reachable),
		FAR_CASE("icmp6_unanswered", far_icmp_unanswered),
		cmocka_unit_test(icmp6_link_local_gateway),
		FAR_CASE("tcp6_open_refused_and_silent", far_tcp_open_refused_and_silent),
		cmocka_unit_test(http6_bracketed_url),
		cmocka_unit_test(create6_errors),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
