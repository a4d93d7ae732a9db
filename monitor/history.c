// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include "monitor/history.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "loader/config.h"
#include "loader/json.h"

struct ring {
	uint32_t head, n;       /* head: the next slot written */
};

/* The minute being summed into its coarse point. */
struct minute {
	uint32_t start;
	int n, n_monitored;
	double rtt, rttsd, loss, in, out;
	float rtt_max, loss_max;
	uint8_t status;
};

struct hist_gw {
	char name[XWAN_NAME_MAX];
	bool ipv6;
	struct history_point fine[HISTORY_FINE_POINTS];
	struct history_point coarse[HISTORY_COARSE_POINTS];
	struct ring rf, rc;
	struct minute acc;
	bool have_last;
	uint64_t last_t, last_in, last_out;
};

struct hist_event {
	uint64_t seq, t;
	char text[HISTORY_EVENT_LEN];
};

struct history {
	pthread_mutex_t lock;
	struct hist_gw *gw[HISTORY_SERIES];
	int n_gw;
	struct hist_event ev[HISTORY_EVENTS];
	uint64_t next_seq;      /* of the next event; the ring holds the last HISTORY_EVENTS */
};

struct history *history_new(void)
{
	struct history *h = calloc(1, sizeof(*h));

	if (!h)
		return NULL;
	pthread_mutex_init(&h->lock, NULL);
	h->next_seq = 1;
	return h;
}

void history_free(struct history *h)
{
	if (!h)
		return;
	for (int i = 0; i < h->n_gw; i++)
		free(h->gw[i]);
	pthread_mutex_destroy(&h->lock);
	free(h);
}

size_t history_bytes_per_gateway(void)
{
	return sizeof(struct hist_gw);
}

static void ring_push(struct ring *r, struct history_point *buf, uint32_t cap,
		      const struct history_point *p)
{
	buf[r->head] = *p;
	r->head = (r->head + 1) % cap;
	if (r->n < cap)
		r->n++;
}

/* The newest point, or NULL. */
static struct history_point *ring_last(struct ring *r, struct history_point *buf, uint32_t cap)
{
	return r->n ? &buf[(r->head + cap - 1) % cap] : NULL;
}

static struct hist_gw *find(struct history *h, const char *name, bool ipv6)
{
	for (int i = 0; i < h->n_gw; i++)
		if (!strcmp(h->gw[i]->name, name) && h->gw[i]->ipv6 == ipv6)
			return h->gw[i];
	return NULL;
}

/* The coarse point a minute of readings (m->n > 0) becomes. */
static struct history_point minute_point(const struct minute *m)
{
	struct history_point p = { .t = m->start, .status = m->status, .rtt_ms = -1,
				   .rttsd_ms = -1, .loss_pct = -1, .rtt_max_ms = -1,
				   .loss_max_pct = -1 };

	if (m->n_monitored) {
		p.rtt_ms = (float)(m->rtt / m->n_monitored);
		p.rttsd_ms = (float)(m->rttsd / m->n_monitored);
		p.loss_pct = (float)(m->loss / m->n_monitored);
		p.rtt_max_ms = m->rtt_max;
		p.loss_max_pct = m->loss_max;
	}
	p.in_bps = (float)(m->in / m->n);
	p.out_bps = (float)(m->out / m->n);
	return p;
}

static void minute_close(struct hist_gw *g)
{
	struct history_point p;

	if (!g->acc.n)
		return;
	p = minute_point(&g->acc);
	ring_push(&g->rc, g->coarse, HISTORY_COARSE_POINTS, &p);
	memset(&g->acc, 0, sizeof(g->acc));
}

static void minute_add(struct hist_gw *g, const struct history_point *p)
{
	struct minute *m = &g->acc;
	uint32_t start = p->t - p->t % HISTORY_COARSE_S;

	if (m->n && m->start != start)
		minute_close(g);
	if (!m->n) {
		m->start = start;
		m->rtt_max = m->loss_max = -1;
	}
	m->n++;
	m->in += p->in_bps;
	m->out += p->out_bps;
	if (p->status > m->status)
		m->status = p->status;
	if (p->rtt_ms < 0)
		return;
	m->n_monitored++;
	m->rtt += p->rtt_ms;
	m->rttsd += p->rttsd_ms;
	m->loss += p->loss_pct;
	if (p->rtt_ms > m->rtt_max)
		m->rtt_max = p->rtt_ms;
	if (p->loss_pct > m->loss_max)
		m->loss_max = p->loss_pct;
}

static float rate(uint64_t now, uint64_t last, uint64_t dt)
{
	return now >= last && dt ? (float)((double)(now - last) * 8 / (double)dt) : 0;
}

static void fill_quality(struct history_point *p, const struct history_sample *s)
{
	p->status = s->status;
	p->rtt_ms = p->rttsd_ms = p->loss_pct = p->rtt_max_ms = p->loss_max_pct = -1;
	if (!s->monitored)
		return;
	p->rtt_ms = p->rtt_max_ms = (float)s->rtt_ms;
	p->rttsd_ms = (float)s->rttsd_ms;
	p->loss_pct = p->loss_max_pct = (float)s->loss_pct;
}

int history_add(struct history *h, const char *name, uint64_t t,
		const struct history_sample *s)
{
	struct history_point p = { .t = (uint32_t)t }, *last;
	struct hist_gw *g;
	int rc = 0;

	pthread_mutex_lock(&h->lock);
	g = find(h, name, s->ipv6);
	if (!g && h->n_gw >= HISTORY_SERIES) {
		rc = -ENOSPC;
		goto out;
	}
	if (!g) {
		g = calloc(1, sizeof(*g));
		if (!g) {
			rc = -ENOMEM;
			goto out;
		}
		snprintf(g->name, sizeof(g->name), "%s", name);
		g->ipv6 = s->ipv6;
		h->gw[h->n_gw++] = g;
	}
	last = ring_last(&g->rf, g->fine, HISTORY_FINE_POINTS);
	if (last && last->t >= p.t) {
		/* The same second (or a clock stepped back): the newer reading wins,
		 * the rates and the minute keep the first. */
		fill_quality(last, s);
		goto out;
	}
	fill_quality(&p, s);
	if (g->have_last) {
		p.in_bps = rate(s->bytes_in, g->last_in, t - g->last_t);
		p.out_bps = rate(s->bytes_out, g->last_out, t - g->last_t);
	}
	g->have_last = true;
	g->last_t = t;
	g->last_in = s->bytes_in;
	g->last_out = s->bytes_out;
	ring_push(&g->rf, g->fine, HISTORY_FINE_POINTS, &p);
	minute_add(g, &p);
out:
	pthread_mutex_unlock(&h->lock);
	return rc;
}

void history_retain(struct history *h, const char *const *names, int n)
{
	int k = 0;

	pthread_mutex_lock(&h->lock);
	for (int i = 0; i < h->n_gw; i++) {
		bool keep = false;

		for (int j = 0; j < n && !keep; j++)
			keep = !strcmp(h->gw[i]->name, names[j]);
		if (keep)
			h->gw[k++] = h->gw[i];
		else
			free(h->gw[i]);
	}
	h->n_gw = k;
	pthread_mutex_unlock(&h->lock);
}

const char *history_event_kind(const char *line)
{
	/* "gateway isp1: flushed 3 flows ...", not "... (0 flows flushed)" */
	if (strstr(line, ": flushed "))
		return "flush";
	if (strstr(line, "reload"))
		return "reload";
	if (!strncmp(line, "gateway ", 8) && strstr(line, " -> ") && strstr(line, "address"))
		return "address";
	if (!strncmp(line, "gateway ", 8) && strstr(line, " -> "))
		return "transition";
	return "info";
}

void history_event(struct history *h, uint64_t t, const char *line)
{
	struct hist_event *e;

	if (!h)
		return;
	pthread_mutex_lock(&h->lock);
	e = &h->ev[h->next_seq % HISTORY_EVENTS];
	e->seq = h->next_seq++;
	e->t = t;
	snprintf(e->text, sizeof(e->text), "%s", line);
	pthread_mutex_unlock(&h->lock);
}

/* ---- readers: copy under the lock, render outside it ---- */

struct series {
	char name[XWAN_NAME_MAX];
	bool ipv6;
	struct history_point *p;
	uint32_t n;
};

/* Oldest first, only points with t > since (t >= since for a coarse minute in progress). */
static uint32_t copy_ring(const struct ring *r, const struct history_point *buf, uint32_t cap,
			  uint64_t since, struct history_point *out)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < r->n; i++) {
		const struct history_point *p = &buf[(r->head + cap - r->n + i) % cap];

		if (p->t > since || !since)
			out[n++] = *p;
	}
	return n;
}

/* A value, or null for none (< 0). */
static void num(FILE *out, float v)
{
	if (v < 0)
		fputs("null", out);
	else
		fprintf(out, "%.2f", (double)v);
}

static void write_series(FILE *out, const struct series *s)
{
	xwan_json_str(out, s->name);
	fprintf(out, ",\"family\":\"%s\",\"points\":[", s->ipv6 ? "ipv6" : "ipv4");
	for (uint32_t i = 0; i < s->n; i++) {
		const struct history_point *p = &s->p[i];

		fprintf(out, "%s[%u,", i ? "," : "", p->t);
		num(out, p->rtt_ms);
		fputc(',', out);
		num(out, p->rttsd_ms);
		fputc(',', out);
		num(out, p->loss_pct);
		fputc(',', out);
		num(out, p->rtt_max_ms);
		fputc(',', out);
		num(out, p->loss_max_pct);
		fprintf(out, ",%.0f,%.0f,%u]", (double)p->in_bps, (double)p->out_bps, p->status);
	}
	fputc(']', out);
}

int history_write_json(struct history *h, FILE *out, bool day, const char *gateway,
		       uint64_t since)
{
	uint32_t cap = day ? HISTORY_COARSE_POINTS + 1 : HISTORY_FINE_POINTS;
	struct series *s = calloc(HISTORY_SERIES, sizeof(*s));
	int n = 0, rc = 0;

	if (!s)
		return -ENOMEM;
	/* Allocate outside the lock, and copy one gateway per hold of it: the
	 * loop's history_add waits for one memcpy at most. */
	for (int i = 0; n < HISTORY_SERIES; i++) {
		const struct hist_gw *g;

		if (!s[n].p && !(s[n].p = malloc(cap * sizeof(*s[n].p)))) {
			rc = -ENOMEM;
			break;
		}
		pthread_mutex_lock(&h->lock);
		if (i >= h->n_gw) {
			pthread_mutex_unlock(&h->lock);
			break;
		}
		g = h->gw[i];
		if (gateway && strcmp(gateway, g->name)) {
			pthread_mutex_unlock(&h->lock);
			continue;
		}
		memcpy(s[n].name, g->name, sizeof(s[n].name));
		s[n].ipv6 = g->ipv6;
		if (!day) {
			s[n].n = copy_ring(&g->rf, g->fine, HISTORY_FINE_POINTS, since, s[n].p);
		} else {
			s[n].n = copy_ring(&g->rc, g->coarse, HISTORY_COARSE_POINTS, since, s[n].p);
			/* The minute in progress, as the point it will become. */
			if (g->acc.n && (!since || g->acc.start >= since))
				s[n].p[s[n].n++] = minute_point(&g->acc);
		}
		pthread_mutex_unlock(&h->lock);
		n++;
	}
	if (!rc && gateway && !n)
		rc = -ENOENT;
	if (!rc) {
		fprintf(out, "{\"range\":\"%s\",\"step_s\":%d,\"gateways\":[", day ? "day" : "hour",
			day ? HISTORY_COARSE_S : 1);
		for (int i = 0; i < n; i++) {
			fprintf(out, "%s\n{\"name\":", i ? "," : "");
			write_series(out, &s[i]);
			fputc('}', out);
		}
		fputs("]}\n", out);
	}
	for (int i = 0; i < HISTORY_SERIES; i++)
		free(s[i].p);
	free(s);
	return rc;
}

int history_events_json(struct history *h, FILE *out, uint64_t since, int limit)
{
	struct hist_event *ev = malloc(sizeof(h->ev));
	uint64_t first, next;
	int n = 0;

	if (!ev)
		return -ENOMEM;
	if (limit <= 0 || limit > HISTORY_EVENTS)
		limit = HISTORY_EVENTS;
	pthread_mutex_lock(&h->lock);
	next = h->next_seq;
	first = next > HISTORY_EVENTS ? next - HISTORY_EVENTS : 1;
	if (since > first)
		first = since;
	if (next - first > (uint64_t)limit)
		first = next - (uint64_t)limit;
	for (uint64_t q = first; q < next; q++)
		ev[n++] = h->ev[q % HISTORY_EVENTS];
	pthread_mutex_unlock(&h->lock);
	fprintf(out, "{\"next\":%llu,\"events\":[", (unsigned long long)next);
	for (int i = 0; i < n; i++) {
		fprintf(out, "%s\n{\"seq\":%llu,\"t\":%llu,\"kind\":\"%s\",\"text\":", i ? "," : "",
			(unsigned long long)ev[i].seq, (unsigned long long)ev[i].t,
			history_event_kind(ev[i].text));
		xwan_json_str(out, ev[i].text);
		fputc('}', out);
	}
	fputs("]}\n", out);
	free(ev);
	return 0;
}
