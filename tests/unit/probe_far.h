/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The harness the probe tests (test_probe.c: IPv4, test_probe6.c: IPv6)
 * share. The test moves itself into a private network namespace and forks a
 * "far end" into a second one, joined by a veth pair (v0 here, v1 there);
 * the test file says, in a struct probe_far, how each side's addresses are
 * set up and which address its probes leave from.
 *
 * The far end, on far->listen, says a non-HTTP banner on tcp 7 and closes,
 * answers http on 80 (204) and dns on udp 53 (REFUSED: any answer counts);
 * tcp 9 is closed (RST); the kernel answers ping. It reports on a pipe the
 * source of every echo request, connection and query it sees:
 * "<service> <addr> <port or icmp id> [<request line>|<host header>]".
 * The test's end of the pipe is report_fd; expect_report() reads it.
 * The cases that read the same in both families (far_*: reachable, dropped
 * and absent targets, tcp open/closed/silent) are written here, once, over
 * far->up/dropped/nobody; each program lists them under its own names.
 */
#ifndef XWAN_TESTS_PROBE_FAR_H
#define XWAN_TESTS_PROBE_FAR_H

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

struct probe_far {
	const char *name;       /* the program, for messages */
	int family;             /* AF_INET or AF_INET6 */
	const char *listen;     /* the far end's services bind here */
	const char *far_addrs;  /* ip commands that give v1 (the far end) its addresses */
	const char *drop;       /* an nft match: what the far end drops on input */
	const char *near_addrs; /* ip commands that give v0 (ours) its addresses */
	const char *src;        /* the address our probes leave from, as reported */
	const char *up;         /* the far end's services answer here */
	const char *dropped;    /* nft drops what comes to it */
	const char *nobody;     /* no neighbour answers for it */
	/* A probe of method m to target:port from src on v0, as the test's family needs. */
	struct probe_spec (*spec)(enum xwan_probe_method m, const char *target, uint16_t port);
};

static const struct probe_far *far;
static pid_t far_pid = -1;
static int report_fd = -1;      /* far end -> us */
static int ctl_fd = -1;         /* us -> far end; its EOF ends the far end */
static bool ready;

static int sh(const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;
	int rc;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	rc = system(cmd);
	if (rc != 0)
		fprintf(stderr, "%s: failed (%d): %s\n", far->name, rc, cmd);
	return rc;
}

/* ------------------------------------------------------- the far end */

static int far_listen(int type, uint16_t port)
{
	struct sockaddr_storage ss = { .ss_family = (sa_family_t)far->family };
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
	int one = 1, fd = socket(far->family, type, 0);
	socklen_t sl;

	if (far->family == AF_INET) {
		sin->sin_port = htons(port);
		sl = sizeof(*sin);
		if (inet_pton(AF_INET, far->listen, &sin->sin_addr) != 1)
			_exit(2);
	} else {
		sin6->sin6_port = htons(port);
		sl = sizeof(*sin6);
		if (inet_pton(AF_INET6, far->listen, &sin6->sin6_addr) != 1)
			_exit(2);
	}
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(fd, (struct sockaddr *)&ss, sl) ||
	    (type == SOCK_STREAM && listen(fd, 16)))
		_exit(2);
	return fd;
}

/* `port` in host order (an icmp id as the probe set it). */
static void far_report(int out, const char *what, const void *addr, unsigned int port,
		       const char *extra)
{
	char line[512], a[INET6_ADDRSTRLEN];
	int n;

	inet_ntop(far->family, addr, a, sizeof(a));
	n = snprintf(line, sizeof(line), "%s %s %u %s\n", what, a, port, extra);
	if (write(out, line, (size_t)n) != n)
		_exit(3);
}

static void far_report_from(int out, const char *what, const struct sockaddr_storage *from,
			    const char *extra)
{
	if (from->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)from;

		far_report(out, what, &s6->sin6_addr, ntohs(s6->sin6_port), extra);
	} else {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)from;

		far_report(out, what, &s4->sin_addr, ntohs(s4->sin_port), extra);
	}
}

/* The line of the request that starts with `key`, without CRLF. */
static void header(const char *req, const char *key, char *out, size_t len)
{
	const char *s = strstr(req, key);

	out[0] = '\0';
	if (s)
		snprintf(out, len, "%.*s", (int)strcspn(s, "\r\n"), s);
}

static void far_accept(int out, int lfd, bool http)
{
	struct sockaddr_storage from;
	socklen_t fl = sizeof(from);
	char buf[1024], line[600] = "", host[300];
	ssize_t n;
	int c = accept(lfd, (struct sockaddr *)&from, &fl);

	if (c < 0)
		return;
	if (http) {
		n = recv(c, buf, sizeof(buf) - 1, 0);
		buf[n > 0 ? n : 0] = '\0';
		header(buf, "GET ", line, 200);
		header(buf, "Host: ", host, sizeof(host));
		snprintf(line + strlen(line), sizeof(line) - strlen(line), "|%s", host);
		if (send(c, "HTTP/1.0 204 No Content\r\n\r\n", 27, MSG_NOSIGNAL) != 27)
			_exit(5);
	} else {
		send(c, "SSH-2.0-not-http\r\n", 18, MSG_NOSIGNAL);
	}
	far_report_from(out, http ? "http" : "tcp", &from, line);
	close(c);
}

static void far_dns(int out, int dns)
{
	struct sockaddr_storage from;
	socklen_t fl = sizeof(from);
	char buf[1024];
	ssize_t n = recvfrom(dns, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);

	if (n < 12)
		return;
	buf[2] |= (char)0x80;   /* QR */
	buf[3] = 0x05;          /* REFUSED: any answer counts */
	sendto(dns, buf, (size_t)n, 0, (struct sockaddr *)&from, fl);
	far_report_from(out, "dns", &from, "");
}

/* A copy of every ICMP message reaches the raw socket: report echo
 * requests. An IPv4 raw socket hands over the IP header, an IPv6 one not. */
static void far_icmp(int out, int icmp)
{
	struct sockaddr_in6 from;
	socklen_t fl = sizeof(from);
	char buf[1024];
	ssize_t n = recvfrom(icmp, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);

	if (n < 8)
		return;
	if (far->family == AF_INET) {
		const struct iphdr *iph = (const struct iphdr *)buf;
		const struct icmphdr *ic = (const struct icmphdr *)(buf + iph->ihl * 4);

		if (iph->ihl * 4 + 8 <= n && ic->type == ICMP_ECHO)
			far_report(out, "icmp", &iph->saddr, ntohs(ic->un.echo.id), "");
	} else {
		const struct icmp6_hdr *ic = (const struct icmp6_hdr *)buf;

		if (n >= (ssize_t)sizeof(*ic) && ic->icmp6_type == ICMP6_ECHO_REQUEST)
			far_report(out, "icmp", &from.sin6_addr, ntohs(ic->icmp6_id), "");
	}
}

static void far_serve(int out, int ctl)
{
	int tcp = far_listen(SOCK_STREAM, 7);
	int http = far_listen(SOCK_STREAM, 80);
	int dns = far_listen(SOCK_DGRAM, 53);
	int icmp = far->family == AF_INET ? socket(AF_INET, SOCK_RAW, IPPROTO_ICMP)
					  : socket(AF_INET6, SOCK_RAW, IPPROTO_ICMPV6);
	struct pollfd pf[5] = { { .fd = tcp, .events = POLLIN },
				{ .fd = http, .events = POLLIN },
				{ .fd = dns, .events = POLLIN },
				{ .fd = ctl, .events = POLLIN },
				{ .fd = icmp, .events = POLLIN } };

	if (icmp < 0 || write(out, "ready\n", 6) != 6)
		_exit(3);
	for (;;) {
		if (poll(pf, 5, -1) < 0)
			_exit(4);
		if (pf[3].revents)
			_exit(0);               /* the test is over */
		if (pf[0].revents & POLLIN)
			far_accept(out, tcp, false);
		if (pf[1].revents & POLLIN)
			far_accept(out, http, true);
		if (pf[2].revents & POLLIN)
			far_dns(out, dns);
		if (pf[4].revents & POLLIN)
			far_icmp(out, icmp);
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
	if (sh("ip link set lo up && ip link set v1 up && %s", far->far_addrs) ||
	    sh("nft add table inet xwan_test && "
	       "nft 'add chain inet xwan_test in { type filter hook input priority 0; }' && "
	       "nft add rule inet xwan_test in %s drop", far->drop))
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

/* The cmocka group setup: without root every case skips. */
static int far_setup(const struct probe_far *cfg)
{
	int rep[2], ctl[2], go[2];
	char line[128];

	far = cfg;
	if (geteuid() != 0) {
		fprintf(stderr, "%s: needs root, skipping\n", far->name);
		return 0;
	}
	if (unshare(CLONE_NEWNET)) {
		fprintf(stderr, "%s: unshare: %s\n", far->name, strerror(errno));
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
	if (sh("ip link set lo up && ip link add v0 type veth peer name v1 netns %d && "
	       "ip link set v0 up && %s", (int)far_pid, far->near_addrs))
		return -1;
	if (write(go[1], "g", 1) != 1)
		return -1;
	close(go[1]);
	if (!read_line(report_fd, line, sizeof(line), 10000) || strcmp(line, "ready")) {
		fprintf(stderr, "%s: the far end did not start\n", far->name);
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

static struct probe *make(const struct probe_spec *s, int epfd, struct results *r)
{
	char err[256] = "";
	struct probe *p = probe_create(s, epfd, on_reply, r, err, sizeof(err));

	if (!p)
		fail_msg("probe_create: %s", err);
	return p;
}

/* Send seqs first..first+n-1, 50 ms apart, then wait up to wait_ms. */
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

/* The far end's next report, which must be `what` from far->src with a
 * source port (or icmp id) in [pmin, pmax]; its extra text goes to extra. */
static void expect_report(const char *what, unsigned int pmin, unsigned int pmax, char *extra,
			  size_t len)
{
	char line[600], w[16], a[64];
	unsigned int port;
	int off = 0;

	if (!read_line(report_fd, line, sizeof(line), 2000))
		fail_msg("the far end saw no %s probe", what);
	if (sscanf(line, "%15s %63s %u %n", w, a, &port, &off) != 3)
		fail_msg("bad report: %s", line);
	assert_string_equal(w, what);
	assert_string_equal(a, far->src);
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

/* ------------------------------------------ the cases of both families */

/* Named by each program: FAR_CASE("icmp6_reachable", far_icmp_reachable). */
#define FAR_CASE(NAME, FN) { .name = NAME, .test_func = FN }

static void far_icmp_reachable(void **state)
{
	struct results r = { 0 };
	int epfd = epoll_create1(EPOLL_CLOEXEC);
	struct probe_spec s = far->spec(XWAN_PROBE_ICMP, far->up, 0);
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


static void far_icmp_unanswered(void **state)
{
	struct results r = { 0 };
	int epfd = epoll_create1(EPOLL_CLOEXEC);
	struct probe_spec nobody = far->spec(XWAN_PROBE_ICMP, far->nobody, 0);
	struct probe_spec dropped = far->spec(XWAN_PROBE_ICMP, far->dropped, 0);
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


static void far_tcp_open_refused_and_silent(void **state)
{
	struct results r = { 0 };
	int epfd = epoll_create1(EPOLL_CLOEXEC);
	struct probe_spec s;
	struct probe *p;

	NEED_NETNS();
	/* listening: answered, the far end saw far->src:<600..1023> */
	s = far->spec(XWAN_PROBE_TCP, far->up, 7);
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
	s = far->spec(XWAN_PROBE_TCP, far->up, 9);
	p = make(&s, epfd, &r);
	send_some(p, epfd, &r, 50, 2, 2000);
	assert_int_equal(r.n, 2);
	assert_int_equal(r.seq[0], 50);
	assert_int_equal(r.seq[1], 51);
	assert_int_equal(probe_inflight(p), 0);
	probe_destroy(p);

	/* dropped, and nobody there: no answer; expire closes the sockets */
	r.n = 0;
	s = far->spec(XWAN_PROBE_TCP, far->dropped, 7);
	p = make(&s, epfd, &r);
	s = far->spec(XWAN_PROBE_TCP, far->nobody, 7);
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


#endif /* XWAN_TESTS_PROBE_FAR_H */
