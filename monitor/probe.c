// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Probe engines bound to a WAN: see probe.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/ip_icmp.h>
#include <netinet/icmp6.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "monitor/loop.h"
#include "monitor/probe.h"

#ifndef ICMP_FILTER
#define ICMP_FILTER 1           /* <linux/icmp.h>, SOL_RAW */
#endif

#define PROBE_PORTS (PROBE_PORT_MAX - PROBE_PORT_MIN + 1)
#define STATUS_LINE 12          /* "HTTP/1.x NNN" */

struct probe_conn {
	struct loop_handler h;      /* first: the handler is the conn */
	struct probe *p;
	int fd;                     /* -1: free */
	uint16_t seq;
	uint16_t port;
	uint64_t sent_ns;
	bool refused;               /* connect() said ECONNREFUSED at once */
	bool requested;             /* http: request sent, reading the reply */
	size_t got;
	char buf[STATUS_LINE];
};

struct probe {
	struct loop_handler h;      /* first: icmp/dns socket */
	struct probe_spec spec;
	int epfd;
	probe_result_fn fn;
	void *ctx;
	int fd;                     /* icmp/dns; -1 otherwise */
	uint16_t dport;             /* tcp/http/dns, host order */
	uint16_t next_port;         /* tcp/http: next source port to try */
	char req[XWAN_URL_MAX + 64];/* http request */
	size_t req_len;
	char error[160];
	struct probe_conn conns[PROBE_MAX_CONNS];
};

uint64_t probe_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void say(char *buf, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void say(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, len, fmt, ap);
	va_end(ap);
}

static bool is_v6(const struct probe_spec *s)
{
	return s->family == AF_INET6;
}

static const uint8_t *addr6_of(const struct probe_spec *s, bool src)
{
	return src ? s->src_addr6 : s->target6;
}

/* Is the spec's source (src) or target address unset? */
static bool addr_unset(const struct probe_spec *s, bool src)
{
	static const uint8_t zero[16];

	if (is_v6(s))
		return !memcmp(addr6_of(s, src), zero, 16);
	return !(src ? s->src_addr : s->target);
}

/*
 * The spec's source (src) or target address with port, as a sockaddr of
 * its family. A link-local IPv6 address (an RA-learned gateway is one) is
 * scoped to the WAN interface.
 */
static socklen_t sockaddr_of(const struct probe_spec *s, bool src, uint16_t port,
			     struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (is_v6(s)) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;

		a->sin6_family = AF_INET6;
		a->sin6_port = htons(port);
		memcpy(&a->sin6_addr, addr6_of(s, src), 16);
		if (IN6_IS_ADDR_LINKLOCAL(&a->sin6_addr) && s->ifname[0])
			a->sin6_scope_id = if_nametoindex(s->ifname);
		return sizeof(*a);
	}
	struct sockaddr_in *a = (struct sockaddr_in *)ss;

	a->sin_family = AF_INET;
	a->sin_port = htons(port);
	a->sin_addr.s_addr = src ? s->src_addr : s->target;
	return sizeof(*a);
}

#define ADDR_STR_MAX INET6_ADDRSTRLEN

static const char *addr_str(const struct probe_spec *s, bool src, char *buf)
{
	struct in_addr a = { .s_addr = src ? s->src_addr : s->target };

	if (is_v6(s))
		return inet_ntop(AF_INET6, addr6_of(s, src), buf, ADDR_STR_MAX);
	return inet_ntop(AF_INET, &a, buf, ADDR_STR_MAX);
}

/*
 * A non-blocking socket with the WAN's device, mark and address, bound to
 * `port` (host order, 0 = any). On failure: -1, errno kept, message in err.
 */
static int wan_socket(const struct probe_spec *s, int type, int proto,
		      uint16_t port, char *err, size_t errlen)
{
	struct sockaddr_storage sa;
	socklen_t salen = sockaddr_of(s, true, port, &sa);
	char a[ADDR_STR_MAX];
	int fd, e, one = 1;

	fd = socket(is_v6(s) ? AF_INET6 : AF_INET, type | SOCK_NONBLOCK | SOCK_CLOEXEC, proto);
	if (fd < 0) {
		say(err, errlen, "socket: %s%s", strerror(errno),
		    errno == EPERM ? " (probes need root or CAP_NET_RAW)" : "");
		return -1;
	}
	if (s->ifname[0] && setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE,
				       s->ifname, strlen(s->ifname) + 1)) {
		say(err, errlen, "SO_BINDTODEVICE %s: %s (is the interface "
		    "there?)", s->ifname, strerror(errno));
		goto fail;
	}
	if (s->fwmark && setsockopt(fd, SOL_SOCKET, SO_MARK, &s->fwmark,
				    sizeof(s->fwmark))) {
		say(err, errlen, "SO_MARK 0x%x: %s (needs CAP_NET_ADMIN)",
		    s->fwmark, strerror(errno));
		goto fail;
	}
	if (type == SOCK_STREAM &&
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one))) {
		say(err, errlen, "SO_REUSEADDR: %s", strerror(errno));
		goto fail;
	}
	if ((!addr_unset(s, true) || port) &&
	    bind(fd, (struct sockaddr *)&sa, salen)) {
		say(err, errlen, is_v6(s) ? "bind [%s]:%u: %s%s" : "bind %s:%u: %s%s",
		    addr_str(s, true, a), port, strerror(errno), errno == EADDRNOTAVAIL ?
		    " (is the address still on the interface, and past duplicate address "
		    "detection?)" : "");
		goto fail;
	}
	return fd;
fail:
	e = errno;
	close(fd);
	errno = e;
	return -1;
}

/* wan_socket on the first free port of PROBE_PORT_MIN..MAX from *next. */
static int wan_socket_port(const struct probe *p, int type, uint16_t *next,
			   uint16_t *port, char *err, size_t errlen)
{
	for (int tries = 0; tries < PROBE_PORTS; tries++) {
		uint16_t cand = *next;
		bool mine = false;
		int fd;

		*next = cand == PROBE_PORT_MAX ? PROBE_PORT_MIN : cand + 1;
		for (int i = 0; i < PROBE_MAX_CONNS; i++)
			mine |= p->conns[i].fd >= 0 && p->conns[i].port == cand;
		if (mine)
			continue;
		fd = wan_socket(&p->spec, type, 0, cand, err, errlen);
		if (fd >= 0) {
			*port = cand;
			return fd;
		}
		if (errno != EADDRINUSE)
			return -1;
	}
	say(err, errlen, "no free source port in %d-%d", PROBE_PORT_MIN,
	    PROBE_PORT_MAX);
	errno = EADDRINUSE;
	return -1;
}

static uint16_t checksum(const void *data, size_t len)
{
	const uint8_t *b = data;
	uint32_t sum = 0;

	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)b[i] << 8 | b[i + 1];
	if (len & 1)
		sum += (uint32_t)b[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return htons((uint16_t)~sum);
}

/* ------------------------------------------------------------- icmp */

/* An ICMPv6 raw socket gets the message without the IPv6 header. */
static void icmp6_readable(struct probe *p)
{
	uint8_t buf[1500];
	ssize_t n;

	for (int i = 0; i < 64; i++) {
		struct sockaddr_in6 from;
		socklen_t fl = sizeof(from);
		const struct icmp6_hdr *ic = (const struct icmp6_hdr *)buf;

		n = recvfrom(p->fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n < (ssize_t)sizeof(*ic) || fl < sizeof(from) ||
		    memcmp(&from.sin6_addr, p->spec.target6, 16))
			continue;
		if (ic->icmp6_type != ICMP6_ECHO_REPLY ||
		    ntohs(ic->icmp6_id) != p->spec.icmp_ident)
			continue;
		p->fn(p->ctx, ntohs(ic->icmp6_seq), probe_now());
	}
}

static void icmp_readable(struct loop_handler *h, uint32_t events)
{
	struct probe *p = (struct probe *)h;
	uint8_t buf[1500];
	ssize_t n;

	if (is_v6(&p->spec)) {
		icmp6_readable(p);
		return;
	}
	for (int i = 0; i < 64; i++) {
		n = recv(p->fd, buf, sizeof(buf), 0);
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		const struct iphdr *ip = (const struct iphdr *)buf;
		const struct icmphdr *ic;
		size_t hl;

		if (n < (ssize_t)sizeof(*ip))
			continue;
		hl = (size_t)ip->ihl * 4;
		if ((size_t)n < hl + sizeof(*ic) || ip->saddr != p->spec.target)
			continue;
		ic = (const struct icmphdr *)(buf + hl);
		if (ic->type != ICMP_ECHOREPLY ||
		    ntohs(ic->un.echo.id) != p->spec.icmp_ident)
			continue;
		p->fn(p->ctx, ntohs(ic->un.echo.sequence), probe_now());
	}
}

/* Only echo replies (the type filter of the socket's family). */
static int icmp_filter(const struct probe *p)
{
	uint32_t filter = ~(1U << ICMP_ECHOREPLY);
	struct icmp6_filter f6;

	if (!is_v6(&p->spec))
		return setsockopt(p->fd, SOL_RAW, ICMP_FILTER, &filter, sizeof(filter));
	ICMP6_FILTER_SETBLOCKALL(&f6);
	ICMP6_FILTER_SETPASS(ICMP6_ECHO_REPLY, &f6);
	return setsockopt(p->fd, IPPROTO_ICMPV6, ICMP6_FILTER, &f6, sizeof(f6));
}

static int icmp_open(struct probe *p, char *err, size_t errlen)
{
	struct sockaddr_storage to;
	socklen_t tolen = sockaddr_of(&p->spec, false, 0, &to);

	p->fd = wan_socket(&p->spec, SOCK_RAW, is_v6(&p->spec) ? IPPROTO_ICMPV6 : IPPROTO_ICMP,
			   0, err, errlen);
	if (p->fd < 0)
		return -1;
	/* Only echo replies, only from the target. */
	if (icmp_filter(p) || connect(p->fd, (struct sockaddr *)&to, tolen)) {
		say(err, errlen, "icmp socket: %s", strerror(errno));
		return -1;
	}
	p->h.fn = icmp_readable;
	return 0;
}

/* The kernel computes an ICMPv6 checksum itself (RFC 3542 3.1). */
static int icmp6_send(struct probe *p, uint16_t seq)
{
	struct {
		struct icmp6_hdr h;
		char payload[16];
	} pkt = { .h = { .icmp6_type = ICMP6_ECHO_REQUEST },
		  .payload = "xwan link probe" };

	pkt.h.icmp6_id = htons(p->spec.icmp_ident);
	pkt.h.icmp6_seq = htons(seq);
	if (send(p->fd, &pkt, sizeof(pkt), 0) == (ssize_t)sizeof(pkt))
		return 0;
	say(p->error, sizeof(p->error), "icmpv6 echo: %s", strerror(errno));
	return -1;
}

static int icmp_send(struct probe *p, uint16_t seq)
{
	if (is_v6(&p->spec))
		return icmp6_send(p, seq);
	struct {
		struct icmphdr h;
		char payload[16];
	} pkt = { .h = { .type = ICMP_ECHO,
			 .un.echo = { .id = htons(p->spec.icmp_ident),
				      .sequence = htons(seq) } },
		  .payload = "xwan link probe" };

	pkt.h.checksum = checksum(&pkt, sizeof(pkt));
	if (send(p->fd, &pkt, sizeof(pkt), 0) == (ssize_t)sizeof(pkt))
		return 0;
	say(p->error, sizeof(p->error), "icmp echo: %s", strerror(errno));
	return -1;
}

/* -------------------------------------------------------------- dns */

static void dns_readable(struct loop_handler *h, uint32_t events)
{
	struct probe *p = (struct probe *)h;
	uint8_t buf[512];
	ssize_t n;

	/* Connected: only the target's port reaches us. An ICMP error shows
	 * up once as ECONNREFUSED & co.: skip it. Bounded; the level-triggered
	 * loop calls again if more is queued. */
	for (int i = 0; i < 64; i++) {
		n = recv(p->fd, buf, sizeof(buf), 0);
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n >= 12 && (buf[2] & 0x80))         /* QR: a response */
			p->fn(p->ctx, (uint16_t)(buf[0] << 8 | buf[1]),
			      probe_now());
	}
}

static int dns_open(struct probe *p, char *err, size_t errlen)
{
	struct sockaddr_storage to;
	socklen_t tolen = sockaddr_of(&p->spec, false, p->dport, &to);
	uint16_t next = PROBE_PORT_MIN + p->spec.icmp_ident % PROBE_PORTS, port;

	p->fd = wan_socket_port(p, SOCK_DGRAM, &next, &port, err, errlen);
	if (p->fd < 0)
		return -1;
	if (connect(p->fd, (struct sockaddr *)&to, tolen)) {
		say(err, errlen, "dns socket: connect: %s", strerror(errno));
		return -1;
	}
	p->h.fn = dns_readable;
	return 0;
}

static int dns_send(struct probe *p, uint16_t seq)
{
	/* id, flags RD, 1 question: "." IN A */
	uint8_t q[17] = { seq >> 8, seq & 0xff, 0x01, 0x00, 0, 1, 0, 0, 0, 0,
			  0, 0, 0, 0, 1, 0, 1 };

	if (send(p->fd, q, sizeof(q), 0) == (ssize_t)sizeof(q))
		return 0;
	say(p->error, sizeof(p->error), "dns query: %s", strerror(errno));
	return -1;
}

/* --------------------------------------------------------- tcp, http */

static void conn_close(struct probe_conn *c)
{
	if (c->fd < 0)
		return;
	loop_del(c->p->epfd, c->fd);
	close(c->fd);
	c->fd = -1;
}

/* Close, then report: fn may send the next probe into this slot. */
static void conn_answered(struct probe_conn *c)
{
	struct probe *p = c->p;
	uint16_t seq = c->seq;

	conn_close(c);
	p->fn(p->ctx, seq, probe_now());
}

static bool status_line(const char *b)
{
	return !memcmp(b, "HTTP/1.", 7) && b[7] >= '0' && b[7] <= '9' &&
	       b[8] == ' ' && b[9] >= '1' && b[9] <= '5' &&
	       b[10] >= '0' && b[10] <= '9' && b[11] >= '0' && b[11] <= '9';
}

static void http_read(struct probe_conn *c)
{
	for (;;) {
		ssize_t n = recv(c->fd, c->buf + c->got,
				 sizeof(c->buf) - c->got, 0);

		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK ||
			      errno == EINTR))
			return;
		if (n <= 0) {
			conn_close(c);          /* error or EOF first */
			return;
		}
		c->got += (size_t)n;
		if (c->got < sizeof(c->buf))
			continue;
		if (status_line(c->buf))
			conn_answered(c);
		else
			conn_close(c);
		return;
	}
}

static void conn_event(struct loop_handler *h, uint32_t events)
{
	struct probe_conn *c = (struct probe_conn *)h;
	struct probe *p = c->p;
	struct sockaddr_storage peer;
	socklen_t len = sizeof(peer);
	int soerr = 0;
	socklen_t elen = sizeof(soerr);

	if (c->fd < 0)
		return;                 /* closed earlier in this batch */
	if (c->requested) {
		http_read(c);
		return;
	}
	if (!c->refused &&
	    getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &elen))
		soerr = errno;
	if (c->refused || soerr == ECONNREFUSED) {
		if (p->spec.method == XWAN_PROBE_TCP)
			conn_answered(c);       /* the RST came back */
		else
			conn_close(c);
		return;
	}
	if (soerr) {
		conn_close(c);          /* unreachable, timed out, ... */
		return;
	}
	if (getpeername(c->fd, (struct sockaddr *)&peer, &len))
		return;                 /* stale event: still connecting */
	if (p->spec.method == XWAN_PROBE_TCP) {
		conn_answered(c);
		return;
	}
	if (send(c->fd, p->req, p->req_len, MSG_NOSIGNAL) !=
	    (ssize_t)p->req_len ||
	    loop_mod(p->epfd, c->fd, EPOLLIN, &c->h)) {
		conn_close(c);
		return;
	}
	c->requested = true;
}

static struct probe_conn *conn_slot(struct probe *p)
{
	struct probe_conn *oldest = &p->conns[0];

	for (int i = 0; i < PROBE_MAX_CONNS; i++) {
		if (p->conns[i].fd < 0)
			return &p->conns[i];
		if (p->conns[i].sent_ns < oldest->sent_ns)
			oldest = &p->conns[i];
	}
	conn_close(oldest);             /* all busy: give up on the oldest */
	return oldest;
}

static int conn_send(struct probe *p, uint16_t seq, uint64_t now)
{
	struct sockaddr_storage to;
	socklen_t tolen = sockaddr_of(&p->spec, false, p->dport, &to);
	struct linger rst = { .l_onoff = 1, .l_linger = 0 };
	struct probe_conn *c = conn_slot(p);
	char a[ADDR_STR_MAX];
	uint16_t port;
	int fd, e;

	fd = wan_socket_port(p, SOCK_STREAM, &p->next_port, &port, p->error,
			     sizeof(p->error));
	if (fd < 0)
		return -1;
	if (setsockopt(fd, SOL_SOCKET, SO_LINGER, &rst, sizeof(rst))) {
		say(p->error, sizeof(p->error), "SO_LINGER: %s",
		    strerror(errno));
		goto fail;
	}
	*c = (struct probe_conn){ .h.fn = conn_event, .p = p, .fd = fd,
				  .seq = seq, .port = port, .sent_ns = now };
	if (connect(fd, (struct sockaddr *)&to, tolen) &&
	    errno != EINPROGRESS) {
		if (errno != ECONNREFUSED) {
			say(p->error, sizeof(p->error),
			    is_v6(&p->spec) ? "connect [%s]:%u: %s" : "connect %s:%u: %s",
			    addr_str(&p->spec, false, a), p->dport,
			    strerror(errno));
			goto fail;
		}
		c->refused = true;      /* reported from the loop, not here */
	}
	/* A socket that is connected, refused or failed is writable at once:
	 * every outcome goes through conn_event. */
	if (loop_add(p->epfd, fd, EPOLLOUT, &c->h)) {
		say(p->error, sizeof(p->error), "epoll: %s", strerror(errno));
		goto fail;
	}
	return 0;
fail:
	e = errno;
	close(fd);
	c->fd = -1;
	errno = e;
	return -1;
}

/* http://host[:port][/path] -> port and request. */
static int http_parse(struct probe *p, char *err, size_t errlen)
{
	const char *url = p->spec.url, *host, *path, *colon;
	size_t hostlen;
	unsigned long port = 80;

	if (strncmp(url, "http://", 7))
		goto bad;
	host = url + 7;
	path = strchr(host, '/');
	hostlen = path ? (size_t)(path - host) : strlen(host);
	if (!hostlen || hostlen > 255)
		goto bad;
	/* An IPv6 literal is bracketed: http://[2001:db8::1]:8080/ */
	colon = memchr(host, ':', hostlen);
	if (host[0] == '[') {
		const char *rb = memchr(host, ']', hostlen);

		if (!rb || rb == host + 1)
			goto bad;
		colon = rb + 1 < host + hostlen ? rb + 1 : NULL;
		if (colon && *colon != ':')
			goto bad;
	}
	if (colon) {
		char *end;

		port = strtoul(colon + 1, &end, 10);
		if (end != host + hostlen || end == colon + 1 || !port ||
		    port > 65535)
			goto bad;
	}
	p->dport = (uint16_t)port;
	p->req_len = (size_t)snprintf(p->req, sizeof(p->req),
				      "GET %s HTTP/1.0\r\nHost: %.*s\r\n"
				      "User-Agent: xwan\r\nConnection: close"
				      "\r\n\r\n", path ? path : "/",
				      (int)hostlen, host);
	if (p->req_len >= sizeof(p->req))
		goto bad;
	return 0;
bad:
	say(err, errlen, "url \"%s\": expected http://host[:port][/path]", url);
	return -1;
}

/* ---------------------------------------------------------------- API */

struct probe *probe_create(const struct probe_spec *s, int epfd,
			   probe_result_fn fn, void *ctx,
			   char *err, size_t errlen)
{
	struct probe *p;
	int rc = 0;

	if (s->icmp_ident > PROBE_ICMP_ID_MAX) {
		say(err, errlen, "icmp_ident %u: must be at most %d, below "
		    "xwan's NAT range", s->icmp_ident, PROBE_ICMP_ID_MAX);
		return NULL;
	}
	if (s->family && s->family != AF_INET && s->family != AF_INET6) {
		say(err, errlen, "address family %d: expected AF_INET or AF_INET6", s->family);
		return NULL;
	}
	if (addr_unset(s, false)) {
		say(err, errlen, "no target address");
		return NULL;
	}
	p = calloc(1, sizeof(*p));
	if (!p) {
		say(err, errlen, "out of memory");
		return NULL;
	}
	p->spec = *s;
	p->spec.ifname[IFNAMSIZ - 1] = '\0';
	p->spec.url[XWAN_URL_MAX - 1] = '\0';
	p->epfd = epfd;
	p->fn = fn;
	p->ctx = ctx;
	p->fd = -1;
	p->dport = s->port;
	p->next_port = PROBE_PORT_MIN + s->icmp_ident % PROBE_PORTS;
	for (int i = 0; i < PROBE_MAX_CONNS; i++)
		p->conns[i].fd = -1;

	switch (s->method) {
	case XWAN_PROBE_ICMP:
		rc = icmp_open(p, err, errlen);
		break;
	case XWAN_PROBE_DNS:
		rc = dns_open(p, err, errlen);
		break;
	case XWAN_PROBE_HTTP:
		rc = http_parse(p, err, errlen);
		/* fall through */
	case XWAN_PROBE_TCP:
		if (!rc) {      /* try the options now, for an early error */
			int fd = wan_socket(s, SOCK_STREAM, 0, 0, err, errlen);

			rc = fd < 0 ? -1 : close(fd);
		}
		break;
	default:
		say(err, errlen, "unknown probe method %d", (int)s->method);
		rc = -1;
	}
	if (!rc && (s->method == XWAN_PROBE_TCP || s->method == XWAN_PROBE_DNS)
	    && !p->dport) {
		say(err, errlen, "no port to probe");
		rc = -1;
	}
	if (!rc && p->fd >= 0 && loop_add(epfd, p->fd, EPOLLIN, &p->h)) {
		say(err, errlen, "epoll: %s", strerror(errno));
		rc = -1;
	}
	if (rc) {
		if (p->fd >= 0)
			close(p->fd);
		free(p);
		return NULL;
	}
	return p;
}

int probe_send(struct probe *p, uint16_t seq, uint64_t now_ns)
{
	p->error[0] = '\0';
	switch (p->spec.method) {
	case XWAN_PROBE_ICMP:
		return icmp_send(p, seq);
	case XWAN_PROBE_DNS:
		return dns_send(p, seq);
	default:
		return conn_send(p, seq, now_ns);
	}
}

void probe_expire(struct probe *p, uint64_t now_ns, uint64_t older_than_ns)
{
	for (int i = 0; i < PROBE_MAX_CONNS; i++) {
		struct probe_conn *c = &p->conns[i];

		if (c->fd >= 0 && now_ns - c->sent_ns >= older_than_ns)
			conn_close(c);
	}
}

int probe_inflight(const struct probe *p)
{
	int n = 0;

	for (int i = 0; i < PROBE_MAX_CONNS; i++)
		n += p->conns[i].fd >= 0;
	return n;
}

const char *probe_error(const struct probe *p)
{
	return p->error;
}

void probe_destroy(struct probe *p)
{
	if (!p)
		return;
	for (int i = 0; i < PROBE_MAX_CONNS; i++)
		conn_close(&p->conns[i]);
	if (p->fd >= 0) {
		loop_del(p->epfd, p->fd);
		close(p->fd);
	}
	free(p);
}
