/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The status page on the metrics listener: the page itself (monitor/web/,
 * embedded at build time), its JSON API, and the token every URL needs
 * when metrics.token is set. Runs on libmicrohttpd's threads: it reads the
 * maps, the agent's history and the last sweep's counts, never the loop's
 * live state.
 *
 *   /                      the page (index.html, app.js, style.css)
 *   /api/status            what `xwan status --json` prints (loader/status.c)
 *   /api/history?range=hour|day[&gateway=NAME][&since=UNIX]
 *   /api/events[?since=SEQ][&limit=N]
 *   /api/flows[?client=IP][&wan=NAME][&limit=N]   the first N (default 100, at most 1000)
 */
#ifndef XWAN_MONITOR_HTTP_H
#define XWAN_MONITOR_HTTP_H

#include <microhttpd.h>
#include <stdbool.h>
#include <stddef.h>

#include "loader/flows.h"
#include "loader/maps.h"
#include "monitor/history.h"

#define HTTP_FLOWS_DEFAULT 100
#define HTTP_FLOWS_MAX     1000

/* Files of monitor/web/, generated into build/web_assets.c by the Makefile. */
struct web_asset {
	const char *path;       /* "/app.js"; index.html is "/" */
	const char *type;
	const unsigned char *data;
	size_t len;
};
extern const struct web_asset xwan_web_assets[];
extern const int xwan_web_n_assets;

struct http_ui {
	char token[129];        /* "": no token asked (loopback) */
	struct history *hist;   /* NULL: no history or events (empty series) */
};

/*
 * The token as "Authorization: Bearer T", as the password of basic auth
 * (any user name: a browser's login prompt), or as ?token=T (the page's
 * own requests when it was opened so). Compared in constant time.
 */
bool http_authorized(struct MHD_Connection *c, const char *token);

/* One of the page's own files (served without the token: they hold no data). */
bool http_is_asset(const char *url);

/* 401 with a basic-auth challenge (a browser asks for the token). */
enum MHD_Result http_deny(struct MHD_Connection *c);

enum MHD_Result http_reply(struct MHD_Connection *c, unsigned int code, const char *type,
			   void *body, size_t len, enum MHD_ResponseMemoryMode mode);

/* Everything but /metrics. counts: the last sweep's, NULL: none yet (scan). */
enum MHD_Result http_ui_handle(const struct http_ui *ui, const struct xwan_maps *m,
			       const struct xwan_flow_counts *counts,
			       struct MHD_Connection *c, const char *url);

/* Warn about a listener every network the host is on can reach. */
void http_warn_listen(const char *listen, bool token);

#endif /* XWAN_MONITOR_HTTP_H */
