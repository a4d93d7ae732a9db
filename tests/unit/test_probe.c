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
 * kernel's own choice, .1, would show). The far end answers ping (kernel),
 * listens on tcp 7 (says a non-HTTP banner, closes) and http 80 and serves
 * dns on udp 53, all on .2; tcp 9 is closed (RST); everything to .3 is
 * dropped by nftables; .99 is nobody (ARP fails). It reports the source of
 * every echo request, connection and query it sees on a pipe:
 * "<service> <addr> <port or icmp id> [<request line>|<host header>]".
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
#include <netinet/ip.h>
#include <netinet/ip_icmp.h>
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

static uint32_t ip(const char *s)
{
	struct in_addr a;

	if (inet_pton(AF_INET, s, &a) != 1)
		abort();
	return a.s_addr;
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
		fprintf(stderr, "test_probe: failed (%d): %s\n", rc, cmd);
	return rc;
}

/* ------------------------------------------------------- the far end */

static int far_listen(int type, uint16_t port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_addr.s_addr = ip("10.99.0.2"),
				  .sin_port = htons(port) };
	int one = 1, fd = socket(AF_INET, type, 0);

	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    (type == SOCK_STREAM && listen(fd, 16)))
		_exit(2);
	return fd;
}

static void far_report(int out, const char *what, const struct sockaddr_in *from,
		       const char *extra)
{
	char line[512], a[INET_ADDRSTRLEN];
	int n;

	inet_ntop(AF_INET, &from->sin_addr, a, sizeof(a));
	n = snprintf(line, sizeof(line), "%s %s %u %s\n", what, a,
		     ntohs(from->sin_port), extra);
	if (write(out, line, (size_t)n) != n)
		_exit(3);
}

/* The line of the request that starts with `key`, without CRLF. */
static void header(const char *req, const char *key, char *out, size_t len)
{
	const char *s = strstr(req, key), *e;

	out[0] = '\0';
	if (!s)
		return;
	e = strstr(s, "\r\n");
	snprintf(out, len, "%.*s", (int)(e ? e - s : (ptrdiff_t)strlen(s)), s);
}

static void far_serve(int out, int ctl)
{
	int tcp = far_listen(SOCK_STREAM, 7);
	int http = far_listen(SOCK_STREAM, 80);
	int dns = far_listen(SOCK_DGRAM, 53);
	int icmp = socket(AF_INET, SOCK_RAW, IPPROTO_ICMP);
	struct pollfd pf[5] = { { .fd = tcp, .events = POLLIN },
				{ .fd = http, .events = POLLIN },
				{ .fd = dns, .events = POLLIN },
				{ .fd = ctl, .events = POLLIN },
				{ .fd = icmp, .events = POLLIN } };

	if (icmp < 0)
		_exit(2);

	if (write(out, "ready\n", 6) != 6)
		_exit(3);
	for (;;) {
		struct sockaddr_in from;
		socklen_t fl = sizeof(from);
		char buf[1024], line[600], host[300];
		ssize_t n;
		int c;

		if (poll(pf, 5, -1) < 0)
			_exit(4);
		if (pf[3].revents)
			_exit(0);               /* the test is over */
		if (pf[0].revents & POLLIN) {
			c = accept(tcp, (struct sockaddr *)&from, &fl);
			if (c >= 0) {
				send(c, "SSH-2.0-not-http\r\n", 18, MSG_NOSIGNAL);
				far_report(out, "tcp", &from, "");
				close(c);
			}
		}
		if (pf[1].revents & POLLIN) {
			c = accept(http, (struct sockaddr *)&from, &fl);
			if (c >= 0) {
				n = recv(c, buf, sizeof(buf) - 1, 0);
				buf[n > 0 ? n : 0] = '\0';
				header(buf, "GET ", line, 200);
				header(buf, "Host: ", host, sizeof(host));
				snprintf(line + strlen(line),
					 sizeof(line) - strlen(line), "|%s", host);
				if (send(c, "HTTP/1.0 204 No Content\r\n\r\n", 27,
					 MSG_NOSIGNAL) != 27)
					_exit(5);
				far_report(out, "http", &from, line);
				close(c);
			}
		}
		if (pf[2].revents & POLLIN) {
			n = recvfrom(dns, buf, sizeof(buf), 0,
				     (struct sockaddr *)&from, &fl);
			if (n >= 12) {
				buf[2] |= (char)0x80;   /* QR */
				buf[3] = 0x05;          /* REFUSED: any answer counts */
				sendto(dns, buf, (size_t)n, 0,
				       (struct sockaddr *)&from, fl);
				far_report(out, "dns", &from, "");
			}
		}
		if (pf[4].revents & POLLIN) {
			/* A copy of every ICMP packet: report echo requests. */
			const struct iphdr *iph = (const struct iphdr *)buf;
			const struct icmphdr *ic;

			n = recv(icmp, buf, sizeof(buf), 0);
			if (n < 28)
				continue;
			ic = (const struct icmphdr *)(buf + iph->ihl * 4);
			if (ic->type == ICMP_ECHO) {
				from.sin_addr.s_addr = iph->saddr;
				from.sin_port = ic->un.echo.id;
				far_report(out, "icmp", &from, "");
			}
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
	       "ip addr add 10.99.0.2/24 dev v1 && "
	       "ip addr add 10.99.0.3/24 dev v1") ||
	    sh("nft add table inet xwan_test && "
	       "nft 'add chain inet xwan_test in { type filter hook input "
	       "priority 0; }' && "
	       "nft add rule inet xwan_test in ip daddr 10.99.0.3 drop"))
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
		fprintf(stderr, "test_probe: needs root, skipping\n");
		return 0;
	}
	if (unshare(CLONE_NEWNET)) {
		fprintf(stderr, "test_probe: unshare: %s\n", strerror(errno));
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
	if (!read_line(report_fd, line, sizeof(line), 5000) ||
	    strcmp(line, "netns"))
		return -1;
	if (sh("ip link set lo up && "
	       "ip link add v0 type veth peer name v1 netns %d && "
	       "ip link set v0 up && ip addr add 10.99.0.1/24 dev v0 && "
	       "ip addr add 10.99.0.11/24 dev v0", (int)far_pid))
		return -1;
	if (write(go[1], "g", 1) != 1)
		return -1;
	close(go[1]);
	if (!read_line(report_fd, line, sizeof(line), 10000) ||
	    strcmp(line, "ready")) {
		fprintf(stderr, "test_probe: the far end did not start\n");
		return -1;
	}
	ready = true;
	return 0;
}

static int teardown(void **state)
{
	if (ctl_fd >= 0)
		close(ctl_fd);          /* the far end exits on EOF */
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
	uint64_t at[64];
};

static void on_reply(void *ctx, uint16_t seq, uint64_t now)
{
	struct results *r = ctx;

	if (r->n < 64) {
		r->seq[r->n] = seq;
		r->at[r->n] = now;
	}
	r->n++;
}

/* Run the agent's loop for ms milliseconds, or until `want` results. */
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

static struct probe_spec spec(enum xwan_probe_method m, const char *target,
			      uint16_t port)
{
	struct probe_spec s = { .method = m, .target = ip(target), .port = port,
				.src_addr = ip("10.99.0.11"), .fwmark = 0x10000,
				.icmp_ident = 77 };

	strcpy(s.ifname, "v0");
	return s;
}

static struct probe *make(const struct probe_spec *s, int epfd,
			  struct results *r)
{
	char err[256] = "";
	struct probe *p = probe_create(s, epfd, on_reply, r, err, sizeof(err));

	if (!p)
		fail_msg("probe_create: %s", err);
	return p;
}

/* Send seqs first..first+n-1, 50 ms apart, then wait up to wait_ms. */
static void send_some(struct probe *p, int epfd, struct results *r,
		      uint16_t first, int n, int wait_ms)
{
	for (int i = 0; i < n; i++) {
		if (probe_send(p, first + i, probe_now()))
			fail_msg("probe_send: %s", probe_error(p));
		pump(epfd, r, 0, 50);
	}
	pump(epfd, r, n, wait_ms);
}

/* The far end's next report, which must be `what` from 10.99.0.11 with a
 * source port in [pmin, pmax]; its extra text goes to extra. */
static void expect_report(const char *what, unsigned int pmin,
			  unsigned int pmax, char *extra, size_t len)
{
	char line[600], w[16], a[32];
	unsigned int port;
	int off = 0;

	if (!read_line(report_fd, line, sizeof(line), 2000))
		fail_msg("the far end saw no %s probe", what);
	if (sscanf(line, "%15s %31s %u %n", w, a, &port, &off) != 3)
		fail_msg("bad report: %s", line);
	assert_string_equal(w, what);
	assert_string_equal(a, "10.99.0.11");
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

static void icmp_reachable(void **state)
{
	struct results r = { 0 };
	int epfd = epoll_create1(EPOLL_CLOEXEC);
	struct probe_spec s = spec(XWAN_PROBE_ICMP, "10.99.0.2", 0);
	struct probe *p;
	uint64_t t0 = probe_now();

	NEED_NETNS();
	p = make(&s, epfd, &r);
	send_some(p, epfd, &r, 1000, 3, 2000);
	assert_int_equal(r.n, 3);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(r.seq[i], 1000 + i);
		assert_true(r.at[i] > t0);
	}
	for (int i = 0; i < 3; i++)
		expect_report("icmp", 77, 77, NULL, 0);
	probe_destroy(p);
	close(epfd);
}

static void icmp_unanswered(void **state)
{
	struct results r = { 0 };
	int epfd = epoll_create1(EPOLL_CLOEXEC);
	struct probe_spec nobody = spec(XWAN_PROBE_ICMP, "10.99.0.99", 0);
	struct probe_spec dropped = spec(XWAN_PROBE_ICMP, "10.99.0.3", 0);
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
	no_report();            /* nft dropped them before the far end */
	probe_destroy(a);
	probe_destroy(b);
	close(epfd);
}

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

static void tcp_open_refused_and_silent(void **state)
{
	struct results r = { 0 };
	int epfd = epoll_create1(EPOLL_CLOEXEC);
	struct probe_spec s;
	struct probe *p;

	NEED_NETNS();
	/* listening: answered, the far end saw 10.99.0.11:<600..1023> */
	s = spec(XWAN_PROBE_TCP, "10.99.0.2", 7);
	p = make(&s, epfd, &r);
	send_some(p, epfd, &r, 40, 2, 2000);
	assert_int_equal(r.n, 2);
	assert_int_equal(r.seq[0], 40);
	assert_int_equal(r.seq[1], 41);
	expect_report("tcp", PROBE_PORT_MIN, PROBE_PORT_MAX, NULL, 0);
	expect_report("tcp", PROBE_PORT_MIN, PROBE_PORT_MAX, NULL, 0);
	assert_int_equal(probe_inflight(p), 0);
	probe_destroy(p);

	/* closed port: the RST answers */
	r.n = 0;
	s = spec(XWAN_PROBE_TCP, "10.99.0.2", 9);
	p = make(&s, epfd, &r);
	send_some(p, epfd, &r, 50, 2, 2000);
	assert_int_equal(r.n, 2);
	assert_int_equal(r.seq[0], 50);
	assert_int_equal(r.seq[1], 51);
	assert_int_equal(probe_inflight(p), 0);
	probe_destroy(p);

	/* dropped, and nobody there: no answer; expire closes the sockets */
	r.n = 0;
	s = spec(XWAN_PROBE_TCP, "10.99.0.3", 7);
	p = make(&s, epfd, &r);
	s = spec(XWAN_PROBE_TCP, "10.99.0.99", 7);
	{
		struct probe *q = make(&s, epfd, &r);

		send_some(p, epfd, &r, 60, 2, 0);
		send_some(q, epfd, &r, 70, 2, 1000);
		assert_int_equal(r.n, 0);
		assert_int_equal(probe_inflight(p), 2);
		probe_expire(p, probe_now(), 60 * 1000 * MS);   /* too young */
		assert_int_equal(probe_inflight(p), 2);
		probe_expire(p, probe_now(), 500 * MS);
		assert_int_equal(probe_inflight(p), 0);
		probe_destroy(q);
	}
	probe_destroy(p);
	no_report();
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
		cmocka_unit_test(icmp_reachable),
		cmocka_unit_test(icmp_unanswered),
		cmocka_unit_test(icmp_id_matched),
		cmocka_unit_test(tcp_open_refused_and_silent),
		cmocka_unit_test(dns_answered),
		cmocka_unit_test(http_answered),
		cmocka_unit_test(create_errors),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
