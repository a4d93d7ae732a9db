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
 * own choice would show). The far end answers ping6 (kernel), listens on
 * tcp 7 and http 80 on every address; tcp 9 is closed (RST); everything to
 * fd99::3 is dropped by nftables; fd99::99 is nobody (neighbour discovery
 * fails). It reports on a pipe the source of every echo request and
 * connection it sees: "<service> <addr> <port or icmp id> [<host header>]".
 * Addresses are added with nodad: the test does not wait for DAD.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/icmp6.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "monitor/loop.h"
#include "monitor/probe.h"

#define MS 1000000ULL

static pid_t far_pid = -1;
static int report_fd = -1;      /* far end -> us */
static int ctl_fd = -1;         /* us -> far end; its EOF ends the far end */
static bool ready;

static void ip6(const char *s, uint8_t *out)
{
	if (inet_pton(AF_INET6, s, out) != 1)
		abort();
}

static int sh(const char *fmt, ...)
{
	char cmd[512];
	va_list ap;
	int rc;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	rc = system(cmd);
	if (rc != 0)
		fprintf(stderr, "test_probe6: failed (%d): %s\n", rc, cmd);
	return rc;
}

/* ------------------------------------------------------- the far end */

static int far_listen(uint16_t port)
{
	struct sockaddr_in6 sa = { .sin6_family = AF_INET6, .sin6_addr = in6addr_any,
				   .sin6_port = htons(port) };
	int one = 1, fd = socket(AF_INET6, SOCK_STREAM, 0);

	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 16))
		_exit(2);
	return fd;
}

static void far_report(int out, const char *what, const struct in6_addr *from, unsigned port,
		       const char *extra)
{
	char line[512], a[INET6_ADDRSTRLEN];
	int n;

	inet_ntop(AF_INET6, from, a, sizeof(a));
	n = snprintf(line, sizeof(line), "%s %s %u %s\n", what, a, port, extra);
	if (write(out, line, (size_t)n) != n)
		_exit(3);
}

static void far_accept(int out, int lfd, const char *what)
{
	struct sockaddr_in6 from;
	socklen_t fl = sizeof(from);
	char buf[1024], host[300] = "";
	ssize_t n;
	int c = accept(lfd, (struct sockaddr *)&from, &fl);

	if (c < 0)
		return;
	if (!strcmp(what, "http")) {
		const char *h;

		n = recv(c, buf, sizeof(buf) - 1, 0);
		buf[n > 0 ? n : 0] = '\0';
		h = strstr(buf, "Host: ");
		if (h)
			snprintf(host, sizeof(host), "%.*s", (int)strcspn(h, "\r\n"), h);
		if (send(c, "HTTP/1.0 204 No Content\r\n\r\n", 27, MSG_NOSIGNAL) != 27)
			_exit(5);
	}
	far_report(out, what, &from.sin6_addr, ntohs(from.sin6_port), host);
	close(c);
}

static void far_serve(int out, int ctl)
{
	int tcp = far_listen(7), http = far_listen(80);
	int icmp = socket(AF_INET6, SOCK_RAW, IPPROTO_ICMPV6);
	struct pollfd pf[4] = { { .fd = tcp, .events = POLLIN },
				{ .fd = http, .events = POLLIN },
				{ .fd = ctl, .events = POLLIN },
				{ .fd = icmp, .events = POLLIN } };

	if (icmp < 0 || write(out, "ready\n", 6) != 6)
		_exit(3);
	for (;;) {
		if (poll(pf, 4, -1) < 0)
			_exit(4);
		if (pf[2].revents)
			_exit(0);               /* the test is over */
		if (pf[0].revents & POLLIN)
			far_accept(out, tcp, "tcp");
		if (pf[1].revents & POLLIN)
			far_accept(out, http, "http");
		if (pf[3].revents & POLLIN) {
			/* A copy of every ICMPv6 message: report echo requests. */
			struct sockaddr_in6 from;
			socklen_t fl = sizeof(from);
			struct icmp6_hdr ic;
			ssize_t n = recvfrom(icmp, &ic, sizeof(ic), MSG_TRUNC,
					     (struct sockaddr *)&from, &fl);

			if (n >= (ssize_t)sizeof(ic) && ic.icmp6_type == ICMP6_ECHO_REQUEST)
				far_report(out, "icmp", &from.sin6_addr, ntohs(ic.icmp6_id), "");
		}
	}
}

static void far_end(int out, int ctl, int go)
{
	char c;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (unshare(CLONE_NEWNET))
		_exit(1);
	if (write(out, "netns\n", 6) != 6 || read(go, &c, 1) != 1)
		_exit(1);
	if (sh("ip link set lo up && ip link set v1 up && "
	       "ip addr add fd99::2/64 dev v1 nodad && ip addr add fd99::3/64 dev v1 nodad && "
	       "ip addr add fe80::2/64 dev v1 nodad") ||
	    sh("nft add table inet xwan_test && "
	       "nft 'add chain inet xwan_test in { type filter hook input priority 0; }' && "
	       "nft add rule inet xwan_test in ip6 daddr fd99::3 drop"))
		_exit(1);
	far_serve(out, ctl);
}

static bool read_line(int fd, char *buf, size_t len, int timeout_ms)
{
	size_t n = 0;

	while (n + 1 < len) {
		struct pollfd pf = { .fd = fd, .events = POLLIN };

		if (poll(&pf, 1, timeout_ms) <= 0 || read(fd, buf + n, 1) != 1)
			return false;
		if (buf[n] == '\n')
			break;
		n++;
	}
	buf[n] = '\0';
	return true;
}

static int setup(void **state)
{
	int rep[2], ctl[2], go[2];
	char line[128];

	if (geteuid() != 0) {
		fprintf(stderr, "test_probe6: needs root, skipping\n");
		return 0;
	}
	if (unshare(CLONE_NEWNET)) {
		fprintf(stderr, "test_probe6: unshare: %s\n", strerror(errno));
		return -1;
	}
	if (pipe2(rep, O_CLOEXEC) || pipe2(ctl, O_CLOEXEC) || pipe2(go, O_CLOEXEC))
		return -1;
	far_pid = fork();
	if (far_pid < 0)
		return -1;
	if (far_pid == 0) {
		close(rep[0]);
		close(ctl[1]);
		close(go[1]);
		far_end(rep[1], ctl[0], go[0]);
		_exit(0);
	}
	close(rep[1]);
	close(ctl[0]);
	close(go[0]);
	report_fd = rep[0];
	ctl_fd = ctl[1];
	if (!read_line(report_fd, line, sizeof(line), 5000) || strcmp(line, "netns"))
		return -1;
	if (sh("ip link set lo up && "
	       "ip link add v0 type veth peer name v1 netns %d && ip link set v0 up && "
	       "ip addr add fd99::1/64 dev v0 nodad && ip addr add fd99::11/64 dev v0 nodad",
	       (int)far_pid))
		return -1;
	if (write(go[1], "g", 1) != 1)
		return -1;
	close(go[1]);
	if (!read_line(report_fd, line, sizeof(line), 10000) || strcmp(line, "ready")) {
		fprintf(stderr, "test_probe6: the far end did not start\n");
		return -1;
	}
	ready = true;
	return 0;
}

static int teardown(void **state)
{
	if (ctl_fd >= 0)
		close(ctl_fd);
	if (far_pid > 0) {
		kill(far_pid, SIGKILL);
		waitpid(far_pid, NULL, 0);
	}
	if (report_fd >= 0)
		close(report_fd);
	return 0;
}

/* ------------------------------------------------------------ harness */

struct results {
	int n;
	uint16_t seq[64];
};

static void on_reply(void *ctx, uint16_t seq, uint64_t now)
{
	struct results *r = ctx;

	if (r->n < 64)
		r->seq[r->n] = seq;
	r->n++;
}

static void pump(int epfd, struct results *r, int want, int ms)
{
	uint64_t end = probe_now() + (uint64_t)ms * MS;

	for (;;) {
		struct epoll_event ev[16];
		uint64_t now = probe_now();
		int n;

		if (now >= end || (want && r->n >= want))
			return;
		n = epoll_wait(epfd, ev, 16, (int)((end - now) / MS) + 1);
		assert_true(n >= 0 || errno == EINTR);
		for (int i = 0; i < n; i++) {
			struct loop_handler *h = ev[i].data.ptr;

			h->fn(h, ev[i].events);
		}
	}
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

static struct probe *make(const struct probe_spec *s, int epfd, struct results *r)
{
	char err[256] = "";
	struct probe *p = probe_create(s, epfd, on_reply, r, err, sizeof(err));

	if (!p)
		fail_msg("probe_create: %s", err);
	return p;
}

static void send_some(struct probe *p, int epfd, struct results *r, uint16_t first, int n,
		      int wait_ms)
{
	for (int i = 0; i < n; i++) {
		if (probe_send(p, first + i, probe_now()))
			fail_msg("probe_send: %s", probe_error(p));
		pump(epfd, r, 0, 50);
	}
	pump(epfd, r, n, wait_ms);
}

/* The far end's next report: `what` from fd99::11, port or id in [pmin, pmax]. */
static void expect_report(const char *what, unsigned pmin, unsigned pmax, char *extra,
			  size_t len)
{
	char line[600], w[16], a[64];
	unsigned port;
	int off = 0;

	if (!read_line(report_fd, line, sizeof(line), 2000))
		fail_msg("the far end saw no %s probe", what);
	if (sscanf(line, "%15s %63s %u %n", w, a, &port, &off) != 3)
		fail_msg("bad report: %s", line);
	assert_string_equal(w, what);
	assert_string_equal(a, "fd99::11");
	assert_in_range(port, pmin, pmax);
	if (extra)
		snprintf(extra, len, "%s", line + off);
}

static void no_report(void)
{
	struct pollfd pf = { .fd = report_fd, .events = POLLIN };

	assert_int_equal(poll(&pf, 1, 0), 0);
}

#define NEED_NETNS() do { if (!ready) skip(); } while (0)

/* -------------------------------------------------------------- tests */

static void icmp6_reachable(void **state)
{
	struct results r = { 0 };
	int epfd = epoll_create1(EPOLL_CLOEXEC);
	struct probe_spec s = spec(XWAN_PROBE_ICMP, "fd99::2", 0);
	struct probe *p;

	NEED_NETNS();
	p = make(&s, epfd, &r);
	send_some(p, epfd, &r, 1000, 3, 2000);
	assert_int_equal(r.n, 3);
	for (int i = 0; i < 3; i++)
		assert_int_equal(r.seq[i], 1000 + i);
	for (int i = 0; i < 3; i++)
		expect_report("icmp", 77, 77, NULL, 0);
	probe_destroy(p);
	close(epfd);
}

/* The control of the one above: dropped and absent targets never answer. */
static void icmp6_unanswered(void **state)
{
	struct results r = { 0 };
	int epfd = epoll_create1(EPOLL_CLOEXEC);
	struct probe_spec nobody = spec(XWAN_PROBE_ICMP, "fd99::99", 0);
	struct probe_spec dropped = spec(XWAN_PROBE_ICMP, "fd99::3", 0);
	struct probe *a, *b;

	NEED_NETNS();
	a = make(&nobody, epfd, &r);
	b = make(&dropped, epfd, &r);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(probe_send(a, i, probe_now()), 0);
		assert_int_equal(probe_send(b, i, probe_now()), 0);
		pump(epfd, &r, 0, 100);
	}
	pump(epfd, &r, 0, 1000);
	assert_int_equal(r.n, 0);
	no_report();
	probe_destroy(a);
	probe_destroy(b);
	close(epfd);
}

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

static void tcp6_open_refused_and_silent(void **state)
{
	struct results r = { 0 };
	int epfd = epoll_create1(EPOLL_CLOEXEC);
	struct probe_spec s = spec(XWAN_PROBE_TCP, "fd99::2", 7);
	struct probe *p;

	NEED_NETNS();
	p = make(&s, epfd, &r);
	send_some(p, epfd, &r, 40, 2, 2000);
	assert_int_equal(r.n, 2);
	expect_report("tcp", PROBE_PORT_MIN, PROBE_PORT_MAX, NULL, 0);
	expect_report("tcp", PROBE_PORT_MIN, PROBE_PORT_MAX, NULL, 0);
	probe_destroy(p);

	r.n = 0;                /* closed port: the RST answers */
	s = spec(XWAN_PROBE_TCP, "fd99::2", 9);
	p = make(&s, epfd, &r);
	send_some(p, epfd, &r, 50, 2, 2000);
	assert_int_equal(r.n, 2);
	probe_destroy(p);

	r.n = 0;                /* dropped: no answer */
	s = spec(XWAN_PROBE_TCP, "fd99::3", 7);
	p = make(&s, epfd, &r);
	send_some(p, epfd, &r, 60, 2, 1000);
	assert_int_equal(r.n, 0);
	assert_int_equal(probe_inflight(p), 2);
	probe_expire(p, probe_now(), 500 * MS);
	assert_int_equal(probe_inflight(p), 0);
	probe_destroy(p);
	no_report();
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
	assert_string_equal(extra, "Host: [fd99::2]");
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
		cmocka_unit_test(icmp6_reachable),
		cmocka_unit_test(icmp6_unanswered),
		cmocka_unit_test(icmp6_link_local_gateway),
		cmocka_unit_test(tcp6_open_refused_and_silent),
		cmocka_unit_test(http6_bracketed_url),
		cmocka_unit_test(create6_errors),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
