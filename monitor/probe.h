/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Probe engines: send one probe to one target *through one WAN*, and report
 * the replies. Every socket is
 *   - bound to the WAN interface (SO_BINDTODEVICE): it leaves and is heard
 *     only there;
 *   - marked (SO_MARK = the WAN's fwmark), so xwan's policy rule routes it
 *     by the WAN's own table. Note that with SO_BINDTODEVICE and no route
 *     at all the kernel assumes the target is on the link and ARPs for it;
 *   - bound to the WAN's address (bind), so the reply comes back to it.
 * Source ports (tcp, http, dns) and the ICMP identifier are below 1024, so
 * they can never collide with the ports and ids xwan's NAT hands out
 * (nat_ports starts at 1024 unless configured lower) and the dataplane
 * passes the replies up to the host.
 *
 * Both families (spec.family): IPv4, and IPv6 with the same methods (ICMPv6
 * echo for icmp; the kernel fills in the ICMPv6 checksum); the sockets are
 * of that family, everything else is the same.
 *
 * Methods:
 *   icmp  one raw socket per probe (target), created by probe_create and
 *         registered in the epoll set; echo request id = icmp_ident, seq = seq;
 *         an echo reply from the target with that id answers seq.
 *   tcp   one non-blocking connect() per probe_send, from source port
 *         PROBE_PORT_MIN..PROBE_PORT_MAX (cycled, starting at
 *         PROBE_PORT_MIN + icmp_ident % range; ports busy on the host are
 *         skipped) to target:port; answered when the connection completes
 *         or is refused (the RST proves the path works). The socket is then
 *         closed with an RST (SO_LINGER 0), so no TIME_WAIT holds the port.
 *   http  as tcp to target:<port of the URL, default 80>, then
 *         "GET <path> HTTP/1.0\r\nHost: <host>\r\n..." from the URL;
 *         answered when a status line "HTTP/1.x NNN" arrives, whatever NNN.
 *         A refused connection is not an answer.
 *   dns   one UDP socket per probe, from a fixed source port below 1024,
 *         connected to target:port; sends an A query for "." with id = seq;
 *         any response with that id answers seq (NOERROR or not).
 *
 * Event loop (monitor/loop.h): probe_create registers the icmp/dns socket,
 * probe_send each tcp/http socket, each with a struct loop_handler that
 * lives inside the struct probe. fn is only ever called from those
 * handlers, never from probe_create/probe_send/probe_expire, so calling
 * health_sent() right after probe_send() is safe. Two rules for the loop:
 *   - fn must not call probe_destroy on its own probe;
 *   - probe_destroy frees the handlers: do it between two epoll_wait
 *     batches (not while dispatching one that may still hold an event for
 *     this probe).
 * Closing a per-probe socket (answered, failed, expired) removes it from
 * the epoll set first. Handlers tolerate stale events for sockets that
 * were closed or replaced within the same batch.
 *
 * Time: now_ns values are CLOCK_MONOTONIC nanoseconds (probe_now()).
 * A changed interface or address needs a new probe (destroy + create).
 */
#ifndef XWAN_PROBE_H
#define XWAN_PROBE_H

#include <net/if.h>
#include <stddef.h>
#include <stdint.h>

#include "loader/config.h"

#define PROBE_PORT_MIN   600
#define PROBE_PORT_MAX   1023
#define PROBE_ICMP_ID_MAX 1023
/* tcp/http probes in flight per target; when all are busy, probe_send
 * gives up on the oldest. */
#define PROBE_MAX_CONNS  64

struct probe_spec {
	enum xwan_probe_method method;
	int family;                 /* AF_INET (also 0) or AF_INET6 */
	uint32_t target;            /* AF_INET: network order */
	uint8_t target6[16];        /* AF_INET6; a link-local target is reached
				       on ifname (its scope) */
	uint16_t port;              /* tcp, dns (host order); http: from url */
	char url[XWAN_URL_MAX];     /* http: http://host[:port][/path] */
	char ifname[IFNAMSIZ];      /* the WAN interface; "" = not bound */
	uint32_t src_addr;          /* the WAN's address, network order;
				       0 = any */
	uint8_t src_addr6[16];      /* AF_INET6: the WAN's IPv6 address; :: = any */
	uint32_t fwmark;            /* SO_MARK; 0 = none */
	uint16_t icmp_ident;        /* ICMP id, 0..PROBE_ICMP_ID_MAX; also seeds
				       ports. Not "icmp_id": a macro in
				       <netinet/ip_icmp.h> */
};

/* A reply for seq arrived at now_ns. */
typedef void (*probe_result_fn)(void *ctx, uint16_t seq, uint64_t now_ns);

struct probe;

/*
 * Check the spec, create what the method keeps open (icmp, dns) and
 * register it in epfd. NULL on failure, with a message in err that says
 * what to fix, e.g. "SO_BINDTODEVICE wan9: No such device (is the
 * interface there?)".
 */
struct probe *probe_create(const struct probe_spec *s, int epfd,
			   probe_result_fn fn, void *ctx,
			   char *err, size_t errlen);

/*
 * Send one probe now. 0 when it left (or, for tcp/http, when the connection
 * attempt is under way); -1 when it could not be sent, with errno set and
 * probe_error() saying why (e.g. "connect 10.0.0.9:80: Network is
 * unreachable"). A failed probe simply never gets an answer.
 */
int probe_send(struct probe *p, uint16_t seq, uint64_t now_ns);

/* Close the sockets of tcp/http probes sent older_than_ns or longer
 * before now_ns (call it with loss_interval: they count as lost anyway). */
void probe_expire(struct probe *p, uint64_t now_ns, uint64_t older_than_ns);

/* tcp/http probes whose socket is still open. */
int probe_inflight(const struct probe *p);

/* The last probe_send error, "" if none. */
const char *probe_error(const struct probe *p);

/* Close everything, remove it from the epoll set, free. NULL is fine. */
void probe_destroy(struct probe *p);

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t probe_now(void);

#endif /* XWAN_PROBE_H */
