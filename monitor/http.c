// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include "monitor/http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loader/status.h"
#include "monitor/log.h"

enum MHD_Result http_reply(struct MHD_Connection *c, unsigned int code, const char *type,
			   void *body, size_t len, enum MHD_ResponseMemoryMode mode)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, body, mode);
	enum MHD_Result ret;

	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, "Content-Type", type);
	MHD_add_response_header(r, "Cache-Control", "no-store");
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	ret = MHD_queue_response(c, code, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result text(struct MHD_Connection *c, unsigned int code, const char *msg)
{
	return http_reply(c, code, "text/plain; charset=utf-8", (void *)msg, strlen(msg),
			  MHD_RESPMEM_PERSISTENT);
}

/* Equal strings, in a time that does not depend on where they differ. */
static bool same(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	unsigned char d = la != lb;

	for (size_t i = 0; i < la; i++)
		d |= (unsigned char)(a[i] ^ b[i % (lb ? lb : 1)]);
	return !d;
}

bool http_authorized(struct MHD_Connection *c, const char *token)
{
	const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
	const char *q = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "token");
	char *pass = NULL, *user;
	bool ok;

	if (!token || !token[0])
		return true;
	if (h && !strncasecmp(h, "Bearer ", 7))
		return same(h + 7, token);
	if (q)
		return same(q, token);
	user = MHD_basic_auth_get_username_password(c, &pass);
	ok = pass && same(pass, token);
	MHD_free(user);
	MHD_free(pass);
	return ok;
}

enum MHD_Result http_deny(struct MHD_Connection *c)
{
	static const char msg[] = "the token is missing or wrong (metrics.token in the config)\n";
	struct MHD_Response *r = MHD_create_response_from_buffer(sizeof(msg) - 1, (void *)msg,
								 MHD_RESPMEM_PERSISTENT);
	enum MHD_Result ret;

	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, "Content-Type", "text/plain; charset=utf-8");
	ret = MHD_queue_basic_auth_fail_response(c, "xwan", r);
	MHD_destroy_response(r);
	return ret;
}

void http_warn_listen(const char *listen, bool token)
{
	if (!strncmp(listen, "0.0.0.0:", 8))
		agent_log("warning: metrics.listen %s: the status page and /metrics answer on "
			  "every address of the host, WANs included%s; prefer a LAN or management "
			  "address", listen, token ? " (token required)" : "");
}

/* ---- the API ---- */

static const char *arg(struct MHD_Connection *c, const char *name)
{
	const char *v = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, name);

	return v && *v ? v : NULL;
}

/* An unsigned decimal argument within [0, max]; def when absent; -1 when bad. */
static long long uarg(struct MHD_Connection *c, const char *name, long long def,
		      long long max)
{
	const char *v = arg(c, name);
	char *end;
	long long n;

	if (!v)
		return def;
	errno = 0;
	n = strtoll(v, &end, 10);
	if (errno || *end || n < 0 || n > max || v[0] == '-' || v[0] == '+')
		return -1;
	return n;
}

struct body {
	char *buf;
	size_t len;
	FILE *f;
};

static bool body_open(struct body *b)
{
	b->buf = NULL;
	b->len = 0;
	b->f = open_memstream(&b->buf, &b->len);
	return b->f != NULL;
}

static enum MHD_Result body_send(struct body *b, struct MHD_Connection *c, int rc,
				 const char *what)
{
	if (fclose(b->f) && !rc)
		rc = -ENOMEM;
	if (rc) {
		char msg[160];
		int n;

		free(b->buf);
		n = snprintf(msg, sizeof(msg), "{\"error\":\"cannot read %s: %s\"}\n", what,
			     strerror(-rc));
		return http_reply(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "application/json", msg,
				  (size_t)n, MHD_RESPMEM_MUST_COPY);
	}
	return http_reply(c, MHD_HTTP_OK, "application/json", b->buf, b->len,
			  MHD_RESPMEM_MUST_FREE);
}

static enum MHD_Result api_status(const struct xwan_maps *m, const struct xwan_flow_counts *counts,
				  struct MHD_Connection *c)
{
	struct body b;

	if (!body_open(&b))
		return MHD_NO;
	return body_send(&b, c, xwan_status_write(m, counts, true, b.f), "the gateways");
}

static enum MHD_Result api_history(const struct http_ui *ui, struct MHD_Connection *c)
{
	const char *range = arg(c, "range"), *gw = arg(c, "gateway");
	long long since = uarg(c, "since", 0, UINT32_MAX);
	struct body b;
	int rc;

	if (range && strcmp(range, "hour") && strcmp(range, "day"))
		return text(c, MHD_HTTP_BAD_REQUEST, "range: hour or day\n");
	if (since < 0)
		return text(c, MHD_HTTP_BAD_REQUEST, "since: a unix time in seconds\n");
	if (!ui->hist)
		return text(c, MHD_HTTP_NOT_FOUND, "no history kept\n");
	if (!body_open(&b))
		return MHD_NO;
	rc = history_write_json(ui->hist, b.f, range && !strcmp(range, "day"), gw,
				(uint64_t)since);
	if (rc == -ENOENT) {
		fclose(b.f);
		free(b.buf);
		return text(c, MHD_HTTP_NOT_FOUND, "no such gateway\n");
	}
	return body_send(&b, c, rc, "the history");
}

static enum MHD_Result api_events(const struct http_ui *ui, struct MHD_Connection *c)
{
	long long since = uarg(c, "since", 0, INT64_MAX), limit = uarg(c, "limit", 0,
									 HISTORY_EVENTS);
	struct body b;

	if (since < 0 || limit < 0)
		return text(c, MHD_HTTP_BAD_REQUEST, "since: an event number; limit: 0..512\n");
	if (!ui->hist)
		return text(c, MHD_HTTP_NOT_FOUND, "no events kept\n");
	if (!body_open(&b))
		return MHD_NO;
	return body_send(&b, c, history_events_json(ui->hist, b.f, (uint64_t)since, (int)limit),
			 "the events");
}

/* The gateway index of a WAN name, -1 if none. */
static int wan_index(const struct xwan_maps *m, const char *name)
{
	struct xwan_runtime *rt = calloc(1, sizeof(*rt));
	int gw = -1;

	if (rt && xwan_runtime_read(m, rt) == 0)
		for (__u32 i = 0; i < rt->n_gateways && i < XWAN_MAX_GATEWAYS; i++)
			if (rt->gw_name[i][0] && !strcmp(rt->gw_name[i], name))
				gw = (int)i;
	free(rt);
	return gw;
}

/*
 * The first `limit` flows that match: the table may hold millions, and
 * a scan of them all takes seconds (on this connection's thread only).
 */
static enum MHD_Result api_flows(const struct xwan_maps *m, struct MHD_Connection *c)
{
	const char *client = arg(c, "client"), *wan = arg(c, "wan");
	long long limit = uarg(c, "limit", HTTP_FLOWS_DEFAULT, HTTP_FLOWS_MAX);
	struct xwan_flows_filter f = { .gw = -1, .json = true };
	struct in_addr a;
	struct body b;
	int rc;

	if (limit <= 0)
		return text(c, MHD_HTTP_BAD_REQUEST, "limit: 1..1000\n");
	if (client && inet_pton(AF_INET, client, &a) != 1)
		return text(c, MHD_HTTP_BAD_REQUEST, "client: an IPv4 address\n");
	if (wan && (f.gw = wan_index(m, wan)) < 0)
		return text(c, MHD_HTTP_NOT_FOUND, "no such WAN\n");
	f.client = client ? a.s_addr : 0;
	f.limit = (unsigned)limit;
	if (!body_open(&b))
		return MHD_NO;
	fprintf(b.f, "{\"limit\":%lld,\"flows\":", limit);
	rc = xwan_flows_print(m, &f, b.f);
	if (rc >= 0)
		fprintf(b.f, ",\"matched\":%d}\n", rc);
	return body_send(&b, c, rc < 0 ? rc : 0, "the flow table");
}

static const struct web_asset *find_asset(const char *url)
{
	if (!strcmp(url, "/index.html"))
		url = "/";
	for (int i = 0; i < xwan_web_n_assets; i++)
		if (!strcmp(url, xwan_web_assets[i].path))
			return &xwan_web_assets[i];
	return NULL;
}

bool http_is_asset(const char *url)
{
	return find_asset(url) != NULL;
}

static enum MHD_Result asset(struct MHD_Connection *c, const char *url)
{
	const struct web_asset *w = find_asset(url);

	if (!w)
		return text(c, MHD_HTTP_NOT_FOUND, "not found\n");
	return http_reply(c, MHD_HTTP_OK, w->type, (void *)w->data, w->len, MHD_RESPMEM_PERSISTENT);
}

enum MHD_Result http_ui_handle(const struct http_ui *ui, const struct xwan_maps *m,
			       const struct xwan_flow_counts *counts,
			       struct MHD_Connection *c, const char *url)
{
	if (!strcmp(url, "/api/status"))
		return api_status(m, counts, c);
	if (!strcmp(url, "/api/history"))
		return api_history(ui, c);
	if (!strcmp(url, "/api/events"))
		return api_events(ui, c);
	if (!strcmp(url, "/api/flows"))
		return api_flows(m, c);
	return asset(c, url);
}
