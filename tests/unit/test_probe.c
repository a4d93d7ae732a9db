/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Tests of the probe engines (monitor/probe.c) against real sockets. Needs
 * root: the test moves itself into a private network namespace and forks a
 * "far end" into a second one, joined by a veth pair:
 *
 *   this process (netns A)                      far end (netns B)
 *   v0 10.99.0.1/24, 10.99.0.11/24  <-- veth -->  v1 10.99.0.2/24, 10.99.0.3/24
 *
 * Probes go out of v0 from 10.99.0.11 (the secondary address, so the
 * kernel's own choice, .1, would show). The far end (tests/unit/probe_far.h,
 * shared with test_probe6) serves tcp 7, http 80 and dns 53 on .2 and
 * reports every probe it sees; tcp 9 is closed (RST); everything to .3 is
 * dropped by nftables; .99 is nobody (ARP fails).
 */
#include "tests/unit/probe_far.h"

static uint32_t ip(const char *s)
{
	struct in_addr a;

	if (inet_pton(AF_INET, s, &a) != 1)
		abort();
	return a.s_addr;
}

static struct probe_spec spec(enum xwan_probe_method m, const char *target,
			      uint16_t port)
{
	struct probe_spec s = { .method = m, .target = ip(target), .port = port,
				.src_addr = ip("10.99.0.11"), .fwmark = 0x10000,
				.icmp_ident = 77 };

	strcpy(s.ifname, "v0");
	return s;
}

static const struct probe_far far4 = {
	.name = "test_probe", .family = AF_INET, .listen = "10.99.0.2",
	.far_addrs = "ip addr add 10.99.0.2/24 dev v1 && ip addr add 10.99.0.3/24 dev v1",
	.drop = "ip daddr 10.99.0.3",
	.near_addrs = "ip addr add 10.99.0.1/24 dev v0 && ip addr add 10.99.0.11/24 dev v0",
	.src = "10.99.0.11",
	.up = "10.99.0.2", .dropped = "10.99.0.3", .nobody = "10.99.0.99", .spec = spec,
};

static int setup(void **state)
{
	return far_setup(&far4);
}

/* -------------------------------------------------------------- tests */

/* Two probes to the same target: each hears only its own id. */
static void icmp_id_matched(void **state)
{
	struct results ra = { 0 }, rb = { 0 };
	int epfd = epoll_create1(EPOLL_CLOEXEC);
	struct probe_spec s = spec(XWAN_PROBE_ICMP, "10.99.0.2", 0);
	struct probe *a, *b;

	NEED_NETNS();
	a = make(&s, epfd, &ra);
	s.icmp_ident = 78;
	b = make(&s, epfd, &rb);
	send_some(a, epfd, &ra, 5, 1, 1000);
	pump(epfd, &rb, 0, 200);
	assert_int_equal(ra.n, 1);
	assert_int_equal(ra.seq[0], 5);
	assert_int_equal(rb.n, 0);
	expect_report("icmp", 77, 77, NULL, 0);
	probe_destroy(a);
	probe_destroy(b);
	close(epfd);
}

static void dns_answered(void **state)
{
	struct results r = { 0 };
	int epfd = epoll_create1(EPOLL_CLOEXEC);
	struct probe_spec s = spec(XWAN_PROBE_DNS, "10.99.0.2", 53);
	struct probe *p;

	NEED_NETNS();
	p = make(&s, epfd, &r);
	send_some(p, epfd, &r, 0xbeef, 2, 2000);
	assert_int_equal(r.n, 2);
	assert_int_equal(r.seq[0], 0xbeef);
	assert_int_equal(r.seq[1], 0xbef0);
	/* a fixed source port: PROBE_PORT_MIN + icmp_ident */
	expect_report("dns", PROBE_PORT_MIN + 77, PROBE_PORT_MIN + 77, NULL, 0);
	expect_report("dns", PROBE_PORT_MIN + 77, PROBE_PORT_MIN + 77, NULL, 0);
	probe_destroy(p);

	/* no server on 54: the port unreachable is not an answer */
	r.n = 0;
	s = spec(XWAN_PROBE_DNS, "10.99.0.2", 54);
	p = make(&s, epfd, &r);
	send_some(p, epfd, &r, 1, 2, 500);
	assert_int_equal(r.n, 0);
	probe_destroy(p);
	close(epfd);
}

static void http_answered(void **state)
{
	struct results r = { 0 };
	int epfd = epoll_create1(EPOLL_CLOEXEC);
	struct probe_spec s = spec(XWAN_PROBE_HTTP, "10.99.0.2", 0);
	struct probe *p;
	char extra[600];

	NEED_NETNS();
	strcpy(s.url, "http://10.99.0.2/generate_204?x=1");
	p = make(&s, epfd, &r);
	send_some(p, epfd, &r, 7, 2, 2000);
	assert_int_equal(r.n, 2);
	assert_int_equal(r.seq[0], 7);
	assert_int_equal(r.seq[1], 8);
	expect_report("http", PROBE_PORT_MIN, PROBE_PORT_MAX, extra,
		      sizeof(extra));
	assert_string_equal(extra,
			    "GET /generate_204?x=1 HTTP/1.0|Host: 10.99.0.2");
	expect_report("http", PROBE_PORT_MIN, PROBE_PORT_MAX, NULL, 0);
	assert_int_equal(probe_inflight(p), 0);
	probe_destroy(p);

	/* An http URL with a port, to a closed one: refused is no answer. */
	r.n = 0;
	strcpy(s.url, "http://10.99.0.2:9");
	p = make(&s, epfd, &r);
	send_some(p, epfd, &r, 1, 2, 500);
	assert_int_equal(r.n, 0);
	assert_int_equal(probe_inflight(p), 0);
	probe_destroy(p);

	/* A tcp service that does not speak http: no answer either. */
	strcpy(s.url, "http://10.99.0.2:7/");
	p = make(&s, epfd, &r);
	send_some(p, epfd, &r, 1, 1, 500);
	assert_int_equal(r.n, 0);
	expect_report("tcp", PROBE_PORT_MIN, PROBE_PORT_MAX, NULL, 0);
	probe_destroy(p);
	no_report();
	close(epfd);
}

static void create_errors(void **state)
{
	int epfd = epoll_create1(EPOLL_CLOEXEC);
	struct probe_spec s;
	char err[256];

	NEED_NETNS();
	s = spec(XWAN_PROBE_ICMP, "10.99.0.2", 0);
	strcpy(s.ifname, "nosuchwan0");
	assert_null(probe_create(&s, epfd, on_reply, NULL, err, sizeof(err)));
	assert_non_null(strstr(err, "SO_BINDTODEVICE nosuchwan0"));

	s = spec(XWAN_PROBE_TCP, "10.99.0.2", 7);
	s.src_addr = ip("10.99.0.77");          /* not ours */
	assert_null(probe_create(&s, epfd, on_reply, NULL, err, sizeof(err)));
	assert_non_null(strstr(err, "bind 10.99.0.77:0"));

	s = spec(XWAN_PROBE_ICMP, "10.99.0.2", 0);
	s.icmp_ident = 1024;
	assert_null(probe_create(&s, epfd, on_reply, NULL, err, sizeof(err)));
	assert_non_null(strstr(err, "icmp_ident 1024"));

	s = spec(XWAN_PROBE_HTTP, "10.99.0.2", 0);
	strcpy(s.url, "https://10.99.0.2/");
	assert_null(probe_create(&s, epfd, on_reply, NULL, err, sizeof(err)));
	assert_non_null(strstr(err, "expected http://host[:port][/path]"));

	/* SO_MARK is accepted (we are root): the other tests use 0x10000. */
	s = spec(XWAN_PROBE_DNS, "10.99.0.2", 53);
	s.fwmark = 0xffffffff;
	{
		struct probe *p = make(&s, epfd, NULL);

		probe_destroy(p);
	}
	close(epfd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		FAR_CASE("icmp_reachable", far_icmp_reachable),
		FAR_CASE("icmp_unanswered", far_icmp_unanswered),
		cmocka_unit_test(icmp_id_matched),
		FAR_CASE("tcp_open_refused_and_silent", far_tcp_open_refused_and_silent),
		cmocka_unit_test(dns_answered),
		cmocka_unit_test(http_answered),
		cmocka_unit_test(create_errors),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
