// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include "metrics.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../loader/stats.h"
#include "http.h"

struct metrics_server {
	struct MHD_Daemon *d;
	struct xwan_maps maps;  /* our own dups: the loop may reopen its maps */
	metrics_counts_fn counts;
	void *counts_ctx;
	xwan_metrics_extra extra;
	void *extra_ctx;
	struct http_ui ui;      /* the status page on the same listener */
};

static enum MHD_Result reply(struct MHD_Connection *c, unsigned int code, const char *type,
			     char *body, size_t len, enum MHD_ResponseMemoryMode mode)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, body, mode);
	enum MHD_Result ret;

	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, "Content-Type", type);
	ret = MHD_queue_response(c, code, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
			      const char *method, const char *version, const char *data,
			      size_t *data_len, void **state)
{
	struct metrics_server *s = cls;
	struct xwan_flow_counts counts;
	bool have_counts;
	char *body = NULL;
	size_t len = 0;
	FILE *f;
	int rc;

	(void)version;
	(void)data;
	(void)data_len;
	(void)state;
	if (strcmp(method, "GET") && strcmp(method, "HEAD"))
		return reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain", "GET only\n", 9,
			     MHD_RESPMEM_PERSISTENT);
	/* The page's own files hold no data: the browser loads them, then asks for
	 * the token when the page's first API request gets the challenge. */
	if (!http_is_asset(url) && !http_authorized(c, s->ui.token))
		return http_deny(c);
	have_counts = s->counts && s->counts(s->counts_ctx, &counts);
	if (strcmp(url, "/metrics"))
		return http_ui_handle(&s->ui, &s->maps, have_counts ? &counts : NULL, c, url);
	f = open_memstream(&body, &len);
	if (!f)
		return MHD_NO;
	rc = xwan_stats_write_counted(&s->maps, f, have_counts ? &counts : NULL, s->extra,
				      s->extra_ctx);
	fclose(f);
	if (rc) {
		free(body);
		return reply(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "text/plain",
			     "cannot read the dataplane's maps\n", 33, MHD_RESPMEM_PERSISTENT);
	}
	return reply(c, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", body, len,
		     MHD_RESPMEM_MUST_FREE);
}

static int parse_listen(const char *listen, struct sockaddr_in *sa)
{
	char host[64];
	const char *colon = strrchr(listen, ':');
	long port;

	if (!colon || (size_t)(colon - listen) >= sizeof(host))
		return -EINVAL;
	memcpy(host, listen, (size_t)(colon - listen));
	host[colon - listen] = 0;
	port = strtol(colon + 1, NULL, 10);
	if (port <= 0 || port > 65535)
		return -EINVAL;
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons((uint16_t)port);
	return inet_pton(AF_INET, host, &sa->sin_addr) == 1 ? 0 : -EINVAL;
}

struct metrics_server *metrics_start(const char *listen, const struct xwan_maps *m,
				     metrics_counts_fn counts, void *counts_ctx,
				     xwan_metrics_extra extra, void *extra_ctx,
				     const struct http_ui *ui, char *err, size_t errlen)
{
	struct metrics_server *s = calloc(1, sizeof(*s));
	struct sockaddr_in sa;

	if (!s) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->counts = counts;
	s->counts_ctx = counts_ctx;
	s->extra = extra;
	s->extra_ctx = extra_ctx;
	if (ui)
		s->ui = *ui;
	if (parse_listen(listen, &sa)) {
		snprintf(err, errlen, "metrics.listen \"%s\" is not addr:port", listen);
		free(s);
		return NULL;
	}
	for (int i = 0; i < XM_COUNT; i++)
		s->maps.fd[i] = dup(m->fd[i]);
	/* A thread per connection: a page listing flows of a big table must not
	 * hold up a Prometheus scrape; bounded, so pages cannot pile threads up. */
	s->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
				MHD_USE_ERROR_LOG, 0, NULL, NULL,
				handle, s, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
				MHD_OPTION_CONNECTION_TIMEOUT, 10U,
				MHD_OPTION_CONNECTION_LIMIT, 16U, MHD_OPTION_END);
	if (!s->d) {
		snprintf(err, errlen, "cannot serve metrics on %s (address in use, or not local?)",
			 listen);
		xwan_maps_close(&s->maps);
		free(s);
		return NULL;
	}
	http_warn_listen(listen, s->ui.token[0]);
	return s;
}

void metrics_stop(struct metrics_server *s)
{
	if (!s)
		return;
	MHD_stop_daemon(s->d);
	xwan_maps_close(&s->maps);
	free(s);
}

int metrics_write_textfile(const char *path, const struct xwan_maps *m,
			   const struct xwan_flow_counts *counts, xwan_metrics_extra extra,
			   void *extra_ctx)
{
	char tmp[PATH_MAX];
	FILE *f;
	int rc;

	snprintf(tmp, sizeof(tmp), "%s.%d.tmp", path, (int)getpid());
	f = fopen(tmp, "w");
	if (!f)
		return -errno;
	rc = xwan_stats_write_counted(m, f, counts, extra, extra_ctx);
	if (fclose(f) && !rc)
		rc = -errno;
	if (!rc && rename(tmp, path))
		rc = -errno;
	if (rc)
		unlink(tmp);
	return rc;
}
