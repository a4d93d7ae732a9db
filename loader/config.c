/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * YAML configuration loader.
 *
 * libyaml's document API gives us the whole tree with a line for every
 * node, so the parser is a schema walk: each section's function checks the
 * keys it allows, reads its fields with typed getters, and stops at the
 * first problem with one message "<file>:<line>: <key>: <problem>".
 *
 * Aliases are resolved by libyaml into shared nodes. The walk follows the
 * schema, never the graph, so cycles and "billion laughs" cannot make it
 * recurse or loop beyond the schema's depth and the section size limits.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "config.h"
#include "sysctl.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#define PATH_LEN    192         /* dotted key, e.g. groups[15].members[31].weight */
#define TEXT_MAX    512         /* longest scalar we accept anywhere */
#define SHOW_MAX    64          /* how much of a bad value a message quotes */
#define FILE_MAX    (4u << 20)  /* a config is a few KiB; refuse to slurp a disk */
#define LIST_MAX    384         /* "known: a, b, c" and "expected one of" lists */
#define MAX_CLAIMS  (XWAN_MAX_LANS + XWAN_MAX_GATEWAYS)

#define TRY(expr) do { if ((expr) < 0) return -1; } while (0)

/* An interface already taken by a LAN or WAN, to catch reuse. */
struct claim {
	char ifname[IFNAMSIZ];
	char owner[32];
	unsigned long line;
};

struct parser {
	yaml_document_t *doc;
	const char *name;
	char *err;
	size_t errlen;
	struct xwan_config *cfg;
	struct claim claims[MAX_CLAIMS];
	int n_claims;
	bool synthesized_group;     /* no groups: section, "default" made up */
};

/* A scalar copied out of the document, plus a form safe to quote. */
struct text {
	char s[TEXT_MAX];
	char q[SHOW_MAX + 4];
	size_t len;
};

struct keyword {
	const char *name;
	int value;
};

/* ------------------------------------------------------------ messages */

static void report(char *err, size_t errlen, const char *file,
		   unsigned long line, const char *key, const char *msg)
{
	if (!err || !errlen)
		return;
	if (key && *key)
		snprintf(err, errlen, "%s:%lu: %s: %s", file, line, key, msg);
	else
		snprintf(err, errlen, "%s:%lu: %s", file, line, msg);
}

static unsigned long line_of(const yaml_node_t *n)
{
	return n ? (unsigned long)n->start_mark.line + 1 : 1;
}

__attribute__((format(printf, 4, 5)))
static int fail(struct parser *p, const yaml_node_t *n, const char *key,
		const char *fmt, ...)
{
	char msg[XWAN_ERR_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	report(p->err, p->errlen, p->name, line_of(n), key, msg);
	return -1;
}

/* User text goes into one-line messages: no control bytes, bounded length. */
static void sanitize(char *out, size_t size, const char *s, size_t len)
{
	size_t i, o = 0;

	for (i = 0; i < len && o + 4 < size; i++) {
		unsigned char c = (unsigned char)s[i];

		out[o++] = (c >= 0x20 && c < 0x7f && c != '"') ? (char)c : '?';
	}
	if (i < len) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
}

static void join_keys(char *out, size_t size, const char *const keys[])
{
	size_t o = 0;

	out[0] = '\0';
	for (int i = 0; keys[i] && o < size; i++)
		o += snprintf(out + o, size - o, "%s%s", i ? ", " : "", keys[i]);
}

static void join_keywords(char *out, size_t size, const struct keyword *kw)
{
	size_t o = 0;

	out[0] = '\0';
	for (int i = 0; kw[i].name && o < size; i++)
		o += snprintf(out + o, size - o, "%s%s", i ? ", " : "", kw[i].name);
}

static void join_names(char *out, size_t size, const char *first,
		       size_t stride, int n)
{
	size_t o = 0;

	out[0] = '\0';
	for (int i = 0; i < n && o < size; i++)
		o += snprintf(out + o, size - o, "%s%s", i ? ", " : "",
			      first + (size_t)i * stride);
	if (n == 0)
		snprintf(out, size, "none");
}

/* Names sit at the same offset in every element of an array of structs. */
static int find_name(const char *first, size_t stride, int n, const char *name)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(first + (size_t)i * stride, name))
			return i;
	return -1;
}

/* --------------------------------------------------------------- paths */

static void key_path(char *out, const char *parent, const char *key)
{
	if (*parent)
		snprintf(out, PATH_LEN, "%s.%s", parent, key);
	else
		snprintf(out, PATH_LEN, "%s", key);
}

/* The parent is cut short, not the index, if a path ever gets too long. */
static void index_path(char *out, const char *parent, int i)
{
	snprintf(out, PATH_LEN, "%.*s[%d]", PATH_LEN - 16, parent, i);
}

/* --------------------------------------------------------------- nodes */

static const yaml_node_t *node(struct parser *p, int index)
{
	return yaml_document_get_node(p->doc, index);
}

static bool is_null(const yaml_node_t *n)
{
	static const char *const nulls[] = { "~", "null", "Null", "NULL" };
	size_t len;

	if (!n || n->type != YAML_SCALAR_NODE ||
	    n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	len = n->data.scalar.length;
	if (len == 0)
		return true;
	for (size_t i = 0; i < sizeof(nulls) / sizeof(nulls[0]); i++)
		if (len == strlen(nulls[i]) &&
		    !memcmp(n->data.scalar.value, nulls[i], len))
			return true;
	return false;
}

static const char *describe(const yaml_node_t *n)
{
	if (!n)
		return "nothing";
	switch (n->type) {
	case YAML_MAPPING_NODE:
		return "a mapping";
	case YAML_SEQUENCE_NODE:
		return "a list";
	case YAML_SCALAR_NODE:
		return is_null(n) ? "an empty value" : "a single value";
	default:
		return "nothing";
	}
}

static int expect_mapping(struct parser *p, const yaml_node_t *n,
			  const char *path)
{
	if (n && n->type == YAML_MAPPING_NODE)
		return 0;
	return fail(p, n, path, "expected a mapping (key: value), got %s",
		    describe(n));
}

static int items_count(const yaml_node_t *n)
{
	return (int)(n->data.sequence.items.top - n->data.sequence.items.start);
}

static const yaml_node_t *item(struct parser *p, const yaml_node_t *n, int i)
{
	return node(p, n->data.sequence.items.start[i]);
}

/*
 * A list of between min and max entries; returns the count. The entry
 * past the limit is blamed, so the message points where to cut.
 */
static int list_items(struct parser *p, const yaml_node_t *n, const char *path,
		      int min, int max, const char *what)
{
	char ip[PATH_LEN];
	int count;

	if (!n || n->type != YAML_SEQUENCE_NODE)
		return fail(p, n, path, "expected a list, got %s", describe(n));
	count = items_count(n);
	if (count < min)
		return fail(p, n, path, "at least one %s is required", what);
	if (count > max) {
		index_path(ip, path, max);
		return fail(p, item(p, n, max), ip,
			    "too many %ss (at most %d)", what, max);
	}
	return count;
}

static int read_text(struct parser *p, const yaml_node_t *n, const char *path,
		     const char *what, struct text *t)
{
	if (!n || n->type != YAML_SCALAR_NODE)
		return fail(p, n, path, "expected %s, got %s", what, describe(n));
	if (is_null(n))
		return fail(p, n, path, "has no value (expected %s)", what);
	t->len = n->data.scalar.length;
	if (t->len >= sizeof(t->s))
		return fail(p, n, path, "value is too long (%zu characters)",
			    t->len);
	memcpy(t->s, n->data.scalar.value, t->len);
	t->s[t->len] = '\0';
	sanitize(t->q, sizeof(t->q), t->s, t->len);
	if (strlen(t->s) != t->len)
		return fail(p, n, path, "value contains a NUL character");
	return 0;
}

/* ---------------------------------------------------------------- keys */

static bool key_is(const yaml_node_t *k, const char *name)
{
	size_t len = strlen(name);

	return k && k->type == YAML_SCALAR_NODE &&
	       k->data.scalar.length == len &&
	       !memcmp(k->data.scalar.value, name, len);
}

static bool in_keys(const char *const keys[], const char *s)
{
	for (int i = 0; keys[i]; i++)
		if (!strcmp(keys[i], s))
			return true;
	return false;
}

/*
 * Every key of a mapping must be known and appear once. Checking "known"
 * first bounds the duplicate scan by the size of the key set.
 */
static int check_keys(struct parser *p, const yaml_node_t *map,
		      const char *path, const char *const keys[])
{
	yaml_node_pair_t *pair, *prev;
	char kp[PATH_LEN], list[LIST_MAX];
	struct text t;

	TRY(expect_mapping(p, map, path));
	for (pair = map->data.mapping.pairs.start;
	     pair < map->data.mapping.pairs.top; pair++) {
		const yaml_node_t *k = node(p, pair->key);

		if (!k || k->type != YAML_SCALAR_NODE)
			return fail(p, k ? k : map, path,
				    "keys must be names, got %s", describe(k));
		TRY(read_text(p, k, path, "a key name", &t));
		key_path(kp, path, t.q);
		if (!in_keys(keys, t.s)) {
			join_keys(list, sizeof(list), keys);
			return fail(p, k, kp,
				    "unknown key (expected one of: %s)", list);
		}
		for (prev = map->data.mapping.pairs.start; prev < pair; prev++) {
			const yaml_node_t *pk = node(p, prev->key);

			if (key_is(pk, t.s))
				return fail(p, k, kp,
					    "duplicate key (first at line %lu)",
					    line_of(pk));
		}
	}
	return 0;
}

static const yaml_node_pair_t *lookup_pair(struct parser *p,
					   const yaml_node_t *map,
					   const char *key)
{
	yaml_node_pair_t *pair;

	for (pair = map->data.mapping.pairs.start;
	     pair < map->data.mapping.pairs.top; pair++)
		if (key_is(node(p, pair->key), key))
			return pair;
	return NULL;
}

/* The value of an optional key, NULL if absent; kp gets its dotted path. */
static const yaml_node_t *field(struct parser *p, const yaml_node_t *map,
				const char *parent, const char *key, char *kp)
{
	const yaml_node_pair_t *pair = lookup_pair(p, map, key);

	key_path(kp, parent, key);
	return pair ? node(p, pair->value) : NULL;
}

/* An optional section that may be left empty ("rules:" with all commented). */
static const yaml_node_t *section(struct parser *p, const yaml_node_t *map,
				  const char *parent, const char *key, char *kp)
{
	const yaml_node_t *v = field(p, map, parent, key, kp);

	return is_null(v) ? NULL : v;
}

/* The value of a required key; NULL only after reporting it missing. */
static const yaml_node_t *require(struct parser *p, const yaml_node_t *map,
				  const char *parent, const char *key, char *kp)
{
	const yaml_node_t *v = field(p, map, parent, key, kp);

	if (!v)
		fail(p, map, parent, "missing required key \"%s\"", key);
	return v;
}

/* ------------------------------------------------------------- numbers */

/* Decimal or 0x hex, optional minus; 1 = not a number, 2 = out of range. */
static int parse_int(const char *s, int64_t *out)
{
	bool neg = false, big = false;
	uint64_t v = 0, base = 10;
	int digits = 0;

	if (*s == '-') {
		neg = true;
		s++;
	}
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
	}
	for (; *s; s++, digits++) {
		unsigned d;

		if (*s >= '0' && *s <= '9')
			d = (unsigned)(*s - '0');
		else if (base == 16 && *s >= 'a' && *s <= 'f')
			d = (unsigned)(*s - 'a' + 10);
		else if (base == 16 && *s >= 'A' && *s <= 'F')
			d = (unsigned)(*s - 'A' + 10);
		else
			return 1;
		big |= v > (UINT64_C(1) << 40);
		v = big ? 0 : v * base + d;
	}
	if (!digits)
		return 1;
	if (big)
		return 2;
	*out = neg ? -(int64_t)v : (int64_t)v;
	return 0;
}

static int get_uint(struct parser *p, const yaml_node_t *n, const char *path,
		    uint32_t min, uint32_t max, uint32_t *out)
{
	struct text t;
	int64_t v = 0;
	int rc;

	TRY(read_text(p, n, path, "an integer", &t));
	rc = parse_int(t.s, &v);
	if (rc == 1)
		return fail(p, n, path, "\"%s\" is not an integer", t.q);
	if (rc == 2 || v < (int64_t)min || v > (int64_t)max)
		return fail(p, n, path, "must be between %" PRIu32 " and %"
			    PRIu32 ", got %s", min, max, t.q);
	*out = (uint32_t)v;
	return 0;
}

static int get_u16(struct parser *p, const yaml_node_t *n, const char *path,
		   uint32_t min, uint32_t max, uint16_t *out)
{
	uint32_t v;

	TRY(get_uint(p, n, path, min, max, &v));
	*out = (uint16_t)v;
	return 0;
}

static int get_u8(struct parser *p, const yaml_node_t *n, const char *path,
		  uint32_t min, uint32_t max, uint8_t *out)
{
	uint32_t v;

	TRY(get_uint(p, n, path, min, max, &v));
	*out = (uint8_t)v;
	return 0;
}

/* Optional key with a range: absent leaves the default in place. */
static int opt_u32(struct parser *p, const yaml_node_t *map, const char *path,
		   const char *key, uint32_t min, uint32_t max, uint32_t *out)
{
	char kp[PATH_LEN];
	const yaml_node_t *v = field(p, map, path, key, kp);

	return v ? get_uint(p, v, kp, min, max, out) : 0;
}

static int get_bool(struct parser *p, const yaml_node_t *n, const char *path,
		    bool *out)
{
	struct text t;

	TRY(read_text(p, n, path, "true or false", &t));
	if (!strcasecmp(t.s, "true") || !strcasecmp(t.s, "yes"))
		*out = true;
	else if (!strcasecmp(t.s, "false") || !strcasecmp(t.s, "no"))
		*out = false;
	else
		return fail(p, n, path, "\"%s\" is not a boolean (expected "
			    "true, false, yes or no)", t.q);
	return 0;
}

/* Returns the keyword's value (all are >= 0), or -1. */
static int get_keyword(struct parser *p, const yaml_node_t *n,
		       const char *path, const struct keyword *kw)
{
	char list[LIST_MAX];
	struct text t;

	TRY(read_text(p, n, path, "a keyword", &t));
	for (int i = 0; kw[i].name; i++)
		if (!strcmp(kw[i].name, t.s))
			return kw[i].value;
	join_keywords(list, sizeof(list), kw);
	return fail(p, n, path, "unknown value \"%s\" (expected one of: %s)",
		    t.q, list);
}

/* Optional keyword: absent leaves *out alone. */
static int opt_keyword(struct parser *p, const yaml_node_t *map,
		       const char *path, const char *key,
		       const struct keyword *kw, int *out)
{
	char kp[PATH_LEN];
	const yaml_node_t *v = field(p, map, path, key, kp);
	int k;

	if (!v)
		return 0;
	k = get_keyword(p, v, kp, kw);
	if (k < 0)
		return -1;
	*out = k;
	return 0;
}

/* "N" or "N-M" (when single is true) or strictly "N-M", 1..65535. */
static int get_port_range(struct parser *p, const yaml_node_t *n,
			  const char *path, bool single,
			  uint16_t *lo, uint16_t *hi)
{
	const char *form = single ? "N or N-M" : "min-max";
	struct text t;
	int64_t a, b;
	char *dash;

	TRY(read_text(p, n, path, "a port range", &t));
	dash = strchr(t.s, '-');
	if (dash)
		*dash = '\0';
	if ((!dash && !single) || parse_int(t.s, &a) ||
	    (dash && parse_int(dash + 1, &b)) || t.s[0] == '-')
		return fail(p, n, path, "\"%s\" is not a port range (%s, "
			    "ports 1-65535)", t.q, form);
	if (!dash)
		b = a;
	if (a < 1 || a > 65535 || b < 1 || b > 65535)
		return fail(p, n, path, "\"%s\": ports must be between 1 and "
			    "65535", t.q);
	if (a > b)
		return fail(p, n, path, "\"%s\": min %" PRId64 " is greater "
			    "than max %" PRId64, t.q, a, b);
	*lo = (uint16_t)a;
	*hi = (uint16_t)b;
	return 0;
}

/* ----------------------------------------------------------- addresses */

static bool parse_ipv4(const char *s, uint32_t *out)
{
	struct in_addr a;

	if (strlen(s) >= INET_ADDRSTRLEN || inet_pton(AF_INET, s, &a) != 1)
		return false;
	*out = a.s_addr;
	return true;
}

static int get_ipv4(struct parser *p, const yaml_node_t *n, const char *path,
		    uint32_t *out)
{
	struct text t;

	TRY(read_text(p, n, path, "an IPv4 address", &t));
	if (!parse_ipv4(t.s, out))
		return fail(p, n, path, "\"%s\" is not an IPv4 address", t.q);
	return 0;
}

static uint32_t prefix_mask(unsigned plen)
{
	return plen ? htonl(~UINT32_C(0) << (32 - plen)) : 0;
}

/* "a.b.c.d/n"; a bare address is a /32. Host bits are a typo, not a wish. */
static int get_cidr(struct parser *p, const yaml_node_t *n, const char *path,
		    struct xwan_cidr *out)
{
	char net[INET_ADDRSTRLEN];
	struct text t;
	int64_t plen = 32;
	uint32_t addr;
	char *slash;

	TRY(read_text(p, n, path, "a CIDR prefix", &t));
	slash = strchr(t.s, '/');
	if (slash)
		*slash = '\0';
	if (!parse_ipv4(t.s, &addr) ||
	    (slash && (strlen(slash + 1) > 2 || slash[1] == '-' ||
		       parse_int(slash + 1, &plen) || plen > 32)))
		return fail(p, n, path, "\"%s\" is not a CIDR prefix "
			    "(a.b.c.d/0-32)", t.q);
	if (addr & ~prefix_mask((unsigned)plen)) {
		struct in_addr a = { .s_addr = addr & prefix_mask((unsigned)plen) };

		inet_ntop(AF_INET, &a, net, sizeof(net));
		return fail(p, n, path, "%s has host bits set; did you mean "
			    "%s/%" PRId64 "?", t.q, net, plen);
	}
	out->addr = addr;
	out->plen = (uint8_t)plen;
	return 0;
}

/* "addr:port", or "addr" alone when *port already holds a default. */
static int get_addr_port(struct parser *p, const yaml_node_t *n,
			 const char *path, bool port_required,
			 uint32_t *addr, uint16_t *port)
{
	const char *form = port_required ? "a.b.c.d:port" : "a.b.c.d or a.b.c.d:port";
	struct text t;
	int64_t v = 0;
	char *colon;

	TRY(read_text(p, n, path, "an address", &t));
	colon = strrchr(t.s, ':');
	if (colon)
		*colon = '\0';
	if ((!colon && port_required) || !parse_ipv4(t.s, addr) ||
	    (colon && (colon[1] == '-' || parse_int(colon + 1, &v))))
		return fail(p, n, path, "\"%s\" is not of the form %s", t.q, form);
	if (colon && (v < 1 || v > 65535))
		return fail(p, n, path, "\"%s\": port must be between 1 and "
			    "65535", t.q);
	if (colon)
		*port = (uint16_t)v;
	return 0;
}

/* ---------------------------------------------------------------- IPv6 */
/*
 * IPv6 (issue 13): parsed and validated now, forwarded by xwan later. Every
 * IPv6 key lives in the functions below, so the rest of the parser only
 * calls them.
 */

static bool parse_ipv6(const char *s, uint8_t out[16])
{
	return strlen(s) < INET6_ADDRSTRLEN && inet_pton(AF_INET6, s, out) == 1;
}

static void format_ipv6(const uint8_t a[16], char out[INET6_ADDRSTRLEN])
{
	if (!inet_ntop(AF_INET6, a, out, INET6_ADDRSTRLEN))
		snprintf(out, INET6_ADDRSTRLEN, "?");
}

/* Keep the first plen bits of a. */
static void mask6(uint8_t a[16], unsigned plen)
{
	for (unsigned i = 0; i < 16; i++) {
		unsigned bits = plen > 8 * i ? plen - 8 * i : 0;

		if (bits < 8)
			a[i] &= (uint8_t)(0xff00u >> bits);
	}
}

static bool cidr6_contains(const struct xwan_cidr6 *net, const uint8_t a[16])
{
	uint8_t m[16];

	memcpy(m, a, 16);
	mask6(m, net->plen);
	return !memcmp(m, net->addr, 16);
}

static bool cidr6_overlap(const struct xwan_cidr6 *a, const struct xwan_cidr6 *b)
{
	return a->plen <= b->plen ? cidr6_contains(a, b->addr) : cidr6_contains(b, a->addr);
}

static bool cidr6_equal(const struct xwan_cidr6 *a, const struct xwan_cidr6 *b)
{
	return a->plen == b->plen && !memcmp(a->addr, b->addr, 16);
}

/* What an address can never be as a gateway, probe target or routed prefix. */
static const char *ipv6_unusable(const uint8_t a[16])
{
	static const uint8_t zero[16], loop[16] = { [15] = 1 };
	static const uint8_t mapped[12] = { [10] = 0xff, [11] = 0xff };

	if (!memcmp(a, zero, 16))
		return "the unspecified address";
	if (!memcmp(a, loop, 16))
		return "the loopback address";
	if (a[0] == 0xff)
		return "multicast";
	if (!memcmp(a, mapped, sizeof(mapped)))
		return "an IPv4-mapped address (write the IPv4 address under gateway/targets)";
	return NULL;
}

static int get_ipv6(struct parser *p, const yaml_node_t *n, const char *path,
		    uint8_t out[16])
{
	struct text t;
	const char *why;

	TRY(read_text(p, n, path, "an IPv6 address", &t));
	if (!parse_ipv6(t.s, out))
		return fail(p, n, path, "\"%s\" is not an IPv6 address", t.q);
	if ((why = ipv6_unusable(out)))
		return fail(p, n, path, "%s is %s", t.q, why);
	return 0;
}

/* "x:y::/n" (0-128); a bare address is a /128. Host bits are a typo. */
static int get_cidr6(struct parser *p, const yaml_node_t *n, const char *path,
		     struct xwan_cidr6 *out)
{
	char net[INET6_ADDRSTRLEN];
	uint8_t addr[16], m[16];
	struct text t;
	int64_t plen = 128;
	char *slash;

	TRY(read_text(p, n, path, "an IPv6 prefix", &t));
	slash = strchr(t.s, '/');
	if (slash)
		*slash = '\0';
	if (!parse_ipv6(t.s, addr) ||
	    (slash && (strlen(slash + 1) > 3 || slash[1] == '-' ||
		       parse_int(slash + 1, &plen) || plen > 128)))
		return fail(p, n, path, "\"%s\" is not an IPv6 prefix (x:x::/0-128)", t.q);
	memcpy(m, addr, 16);
	mask6(m, (unsigned)plen);
	if (memcmp(m, addr, 16)) {
		format_ipv6(m, net);
		return fail(p, n, path, "%s has host bits set; did you mean %s/%" PRId64 "?",
			    t.q, net, plen);
	}
	memcpy(out->addr, addr, 16);
	out->plen = (uint8_t)plen;
	return 0;
}

/* A networks entry is IPv6 when it has a colon (no IPv4 form has one). */
static bool is_ipv6_entry(const yaml_node_t *n)
{
	return n && n->type == YAML_SCALAR_NODE &&
	       memchr(n->data.scalar.value, ':', n->data.scalar.length);
}

/* One IPv6 entry of a LAN's networks: a routed or ULA prefix, never ::/0. */
static int parse_lan_network6(struct parser *p, const yaml_node_t *n,
			      const char *path, struct xwan_lan *lan)
{
	struct xwan_cidr6 c;

	TRY(get_cidr6(p, n, path, &c));
	if (c.plen == 0)
		return fail(p, n, path, "::/0 would accept any IPv6 source from this LAN; "
			    "list the LAN's own prefixes");
	if (c.addr[0] == 0xff)
		return fail(p, n, path, "a multicast prefix is no LAN network");
	if (c.addr[0] == 0xfe && (c.addr[1] & 0xc0) == 0x80)
		return fail(p, n, path, "fe80::/10 is link-local (every interface has it, "
			    "and xwan always leaves it to the kernel); list the LAN's routed "
			    "or ULA prefix");
	if (lan->n_networks6 >= XWAN_MAX_LAN_NETS6)
		return fail(p, n, path, "too many IPv6 networks (at most %d per LAN)",
			    XWAN_MAX_LAN_NETS6);
	for (int i = 0; i < lan->n_networks6; i++)
		if (cidr6_overlap(&lan->networks6[i], &c))
			return fail(p, n, path, "overlaps an earlier IPv6 network of this LAN");
	lan->networks6[lan->n_networks6++] = c;
	return 0;
}

static int lan_nets6_total(const struct xwan_config *cfg, const struct xwan_cidr6 **only)
{
	int n = 0;

	*only = NULL;
	for (int i = 0; i < cfg->n_lans; i++) {
		if (cfg->lans[i].n_networks6)
			*only = &cfg->lans[i].networks6[0];
		n += cfg->lans[i].n_networks6;
	}
	return n;
}

static const struct keyword nat6_modes[] = {
	{ "npt", XWAN_NAT6_NPT }, { "masquerade", XWAN_NAT6_MASQUERADE },
	{ "none", XWAN_NAT6_NONE }, { NULL, 0 },
};

/* An IPv6 address, or "auto": the default route the host learns from RAs. */
static int parse_gateway6(struct parser *p, const yaml_node_t *v, const char *path,
			  struct xwan_wan6 *w6)
{
	static const char *const learned[] = { "dhcp", "dhcpv6", "slaac", "ra", "dynamic", NULL };
	struct text t;

	TRY(read_text(p, v, path, "an IPv6 address or auto", &t));
	if (!strcmp(t.s, "auto")) {
		w6->gateway_auto = true;
		return 0;
	}
	if (in_keys(learned, t.s))
		return fail(p, v, path, "\"%s\": write \"auto\" (the next hop is the "
			    "default route the host learns from router advertisements)", t.q);
	if (!strchr(t.s, ':'))
		return fail(p, v, path, "\"%s\" is not an IPv6 address or auto (an IPv4 "
			    "gateway goes under gateway)", t.q);
	return get_ipv6(p, v, path, w6->gateway);
}

/* npt: {inside, outside}: a LAN prefix and the ISP-routed prefix it maps to. */
static int parse_npt(struct parser *p, const yaml_node_t *wan, const char *path,
		     struct xwan_wan6 *w6)
{
	static const char *const keys[] = { "inside", "outside", NULL };
	const struct xwan_cidr6 *only;
	const yaml_node_t *n, *v;
	char kp[PATH_LEN], vp[PATH_LEN];
	int nets = lan_nets6_total(p->cfg, &only);
	bool found = false;

	if (!(n = field(p, wan, path, "npt", kp)))
		return fail(p, wan, kp, "nat6: npt needs npt: {outside: PREFIX} (the "
			    "ISP-routed prefix the LAN prefix maps to)");
	TRY(check_keys(p, n, kp, keys));
	if ((v = field(p, n, kp, "inside", vp))) {
		TRY(get_cidr6(p, v, vp, &w6->npt_inside));
	} else if (nets == 1) {
		w6->npt_inside = *only;
	} else {
		return fail(p, n, vp, "is required: the LANs have %d IPv6 networks, say "
			    "which one maps to this WAN", nets);
	}
	for (int i = 0; i < p->cfg->n_lans && !found; i++)
		for (int j = 0; j < p->cfg->lans[i].n_networks6 && !found; j++)
			found = cidr6_equal(&p->cfg->lans[i].networks6[j], &w6->npt_inside);
	if (!found)
		return fail(p, v ? v : n, vp, "is not one of the LANs' IPv6 networks "
			    "(lan[].networks)");
	if (!(v = require(p, n, kp, "outside", vp)))
		return -1;
	TRY(get_cidr6(p, v, vp, &w6->npt_outside));
	if (w6->npt_outside.plen != w6->npt_inside.plen)
		return fail(p, v, vp, "is a /%u and inside a /%u: NPTv6 maps prefixes of "
			    "equal length (RFC 6296)", w6->npt_outside.plen, w6->npt_inside.plen);
	if (w6->npt_outside.plen == 0 || w6->npt_outside.plen > XWAN_NPT_MAX_PLEN)
		return fail(p, v, vp, "NPTv6 maps a /1 to /%d prefix (RFC 6296 adjusts a "
			    "word of the subnet or interface id); got /%u", XWAN_NPT_MAX_PLEN,
			    w6->npt_outside.plen);
	if (ipv6_unusable(w6->npt_outside.addr) || w6->npt_outside.addr[0] == 0xff ||
	    (w6->npt_outside.addr[0] == 0xfe && (w6->npt_outside.addr[1] & 0xc0) == 0x80))
		return fail(p, v, vp, "must be a routed unicast prefix");
	for (int i = 0; i < p->cfg->n_lans; i++)
		for (int j = 0; j < p->cfg->lans[i].n_networks6; j++)
			if (cidr6_overlap(&p->cfg->lans[i].networks6[j], &w6->npt_outside))
				return fail(p, v, vp, "overlaps lan[%d]'s IPv6 network: the "
					    "outside prefix is the ISP's, not the LAN's", i);
	return 0;
}

/* monitor.targets6: what probes this WAN's IPv6 (default: gateway6). */
static int parse_targets6(struct parser *p, const yaml_node_t *wan, const char *path,
			  struct xwan_wan6 *w6)
{
	char kp[PATH_LEN], tp[PATH_LEN], ip[PATH_LEN];
	const yaml_node_t *m = field(p, wan, path, "monitor", kp), *n;
	int count;

	n = m && m->type == YAML_MAPPING_NODE ? field(p, m, kp, "targets6", tp) : NULL;
	if (!n) {
		w6->n_targets = w6->gateway_auto ? 0 : 1;
		memcpy(w6->targets[0], w6->gateway, 16);
		return 0;
	}
	if (!w6->enabled)
		return fail(p, n, tp, "needs gateway6 (the WAN has no IPv6 without it)");
	count = list_items(p, n, tp, 1, XWAN_MAX_TARGETS, "target");
	TRY(count);
	for (int i = 0; i < count; i++) {
		const yaml_node_t *t = item(p, n, i);

		index_path(ip, tp, i);
		TRY(get_ipv6(p, t, ip, w6->targets[i]));
		for (int j = 0; j < i; j++)
			if (!memcmp(w6->targets[j], w6->targets[i], 16))
				return fail(p, t, ip, "duplicate target (also targets6[%d])", j);
	}
	w6->n_targets = count;
	return 0;
}

/* A WAN's IPv6 keys: gateway6 turns IPv6 on; nat6, npt, targets6 need it. */
static int parse_wan6(struct parser *p, const yaml_node_t *wan, const char *path,
		      struct xwan_wan *w)
{
	static const char *const needs[] = { "nat6", "npt", NULL };
	struct xwan_wan6 *w6 = &w->v6;
	const struct xwan_cidr6 *only;
	const yaml_node_t *v;
	char kp[PATH_LEN];
	int nat;

	memset(w6, 0, sizeof(*w6));
	if (!(v = field(p, wan, path, "gateway6", kp))) {
		for (int i = 0; needs[i]; i++)
			if ((v = field(p, wan, path, needs[i], kp)))
				return fail(p, v, kp, "needs gateway6 (the WAN has no IPv6 "
					    "without it)");
		return parse_targets6(p, wan, path, w6);
	}
	TRY(parse_gateway6(p, v, kp, w6));
	w6->enabled = true;
	nat = lan_nets6_total(p->cfg, &only) == 1 ? XWAN_NAT6_NPT : XWAN_NAT6_MASQUERADE;
	TRY(opt_keyword(p, wan, path, "nat6", nat6_modes, &nat));
	w6->nat = (enum xwan_nat6_mode)nat;
	if (w6->nat == XWAN_NAT6_NPT)
		TRY(parse_npt(p, wan, path, w6));
	else if ((v = field(p, wan, path, "npt", kp)))
		return fail(p, v, kp, "only applies to nat6: npt (nat6 is %s)",
			    w6->nat == XWAN_NAT6_NONE ? "none" : "masquerade");
	return parse_targets6(p, wan, path, w6);
}

bool xwan_config_has_ipv6(const struct xwan_config *cfg, int *nets, int *wans)
{
	const struct xwan_cidr6 *only;

	*nets = lan_nets6_total(cfg, &only);
	*wans = 0;
	for (int i = 0; i < cfg->n_wans; i++)
		*wans += cfg->wans[i].v6.enabled;
	return *nets || *wans;
}

/* --------------------------------------------------------------- names */

static bool name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
}

/* Names end up in metrics labels and CLI arguments: keep them plain. */
static int get_name(struct parser *p, const yaml_node_t *n, const char *path,
		    char out[XWAN_NAME_MAX])
{
	struct text t;

	TRY(read_text(p, n, path, "a name", &t));
	if (t.len >= XWAN_NAME_MAX)
		return fail(p, n, path, "\"%s\" is too long (at most %d "
			    "characters)", t.q, XWAN_NAME_MAX - 1);
	for (size_t i = 0; i < t.len; i++)
		if (!name_char(t.s[i]))
			return fail(p, n, path, "\"%s\" is not a valid name "
				    "(use letters, digits, '-', '_' and '.')",
				    t.q);
	memcpy(out, t.s, t.len + 1);
	return 0;
}

/* The kernel's own rule (dev_valid_name), so a bad name fails here. */
static bool valid_ifname(const char *s)
{
	if (!*s || !strcmp(s, ".") || !strcmp(s, ".."))
		return false;
	for (; *s; s++)
		if (*s == '/' || *s == ':' || *s == ' ' ||
		    (*s >= '\t' && *s <= '\r'))
			return false;
	return true;
}

static int get_ifname(struct parser *p, const yaml_node_t *n, const char *path,
		      char out[IFNAMSIZ])
{
	struct text t;

	TRY(read_text(p, n, path, "an interface name", &t));
	if (t.len >= IFNAMSIZ)
		return fail(p, n, path, "\"%s\" is too long for an interface "
			    "name (at most %d characters)", t.q, IFNAMSIZ - 1);
	if (!valid_ifname(t.s))
		return fail(p, n, path, "\"%s\" is not a valid interface name",
			    t.q);
	memcpy(out, t.s, t.len + 1);
	return 0;
}

/* One interface, one role: a LAN and a WAN, or two WANs, cannot share it. */
static int claim_interface(struct parser *p, const yaml_node_t *n,
			   const char *path, const char *owner,
			   const char *ifname)
{
	struct claim *c;

	for (int i = 0; i < p->n_claims; i++)
		if (!strcmp(p->claims[i].ifname, ifname))
			return fail(p, n, path, "interface \"%s\" is already "
				    "used by %s (line %lu)", ifname,
				    p->claims[i].owner, p->claims[i].line);
	if (p->n_claims >= MAX_CLAIMS)
		return fail(p, n, path, "too many interfaces");
	c = &p->claims[p->n_claims++];
	snprintf(c->ifname, sizeof(c->ifname), "%s", ifname);
	snprintf(c->owner, sizeof(c->owner), "%s", owner);
	c->line = line_of(n);
	return 0;
}

/* Reference to a named object: found, or a message listing what exists. */
static int resolve(struct parser *p, const yaml_node_t *n, const char *path,
		   const char *what, const char *first, size_t stride, int count)
{
	char list[LIST_MAX];
	struct text t;
	int i;

	TRY(read_text(p, n, path, "a name", &t));
	i = find_name(first, stride, count, t.s);
	if (i >= 0)
		return i;
	join_names(list, sizeof(list), first, stride, count);
	return fail(p, n, path, "no %s named \"%s\" (known: %s)", what, t.q,
		    list);
}

static int resolve_wan(struct parser *p, const yaml_node_t *n, const char *path)
{
	return resolve(p, n, path, "WAN", p->cfg->wans[0].name,
		       sizeof(struct xwan_wan), p->cfg->n_wans);
}

static int resolve_group(struct parser *p, const yaml_node_t *n,
			 const char *path)
{
	return resolve(p, n, path, "group", p->cfg->groups[0].name,
		       sizeof(struct xwan_group), p->cfg->n_groups);
}

static int resolve_lan(struct parser *p, const yaml_node_t *n, const char *path)
{
	return resolve(p, n, path, "LAN interface", p->cfg->lans[0].interface,
		       sizeof(struct xwan_lan), p->cfg->n_lans);
}

/* ---------------------------------------------------------------- LANs */

static int parse_lan_networks(struct parser *p, const yaml_node_t *n,
			      const char *path, struct xwan_lan *lan)
{
	char ip[PATH_LEN];
	int count = list_items(p, n, path, 1, XWAN_MAX_LAN_NETS + XWAN_MAX_LAN_NETS6,
			       "network");

	TRY(count);
	for (int i = 0; i < count; i++) {
		const yaml_node_t *v = item(p, n, i);

		index_path(ip, path, i);
		if (is_ipv6_entry(v)) {
			TRY(parse_lan_network6(p, v, ip, lan));
			continue;
		}
		if (lan->n_networks >= XWAN_MAX_LAN_NETS)
			return fail(p, v, ip, "too many IPv4 networks (at most %d per LAN)",
				    XWAN_MAX_LAN_NETS);
		TRY(get_cidr(p, v, ip, &lan->networks[lan->n_networks]));
		lan->n_networks++;
	}
	if (lan->n_networks == 0)
		return fail(p, n, path, "needs an IPv4 network (xwan forwards IPv4 only "
			    "for now; IPv6 prefixes go beside one)");
	return 0;
}

static int parse_lan(struct parser *p, const yaml_node_t *n, const char *path,
		     struct xwan_lan *lan)
{
	static const char *const keys[] = { "interface", "networks", NULL };
	const yaml_node_t *v;
	char kp[PATH_LEN];

	TRY(check_keys(p, n, path, keys));
	lan->line = (int)line_of(n);
	if (!(v = require(p, n, path, "interface", kp)))
		return -1;
	TRY(get_ifname(p, v, kp, lan->interface));
	TRY(claim_interface(p, v, kp, path, lan->interface));
	if (!(v = require(p, n, path, "networks", kp)))
		return -1;
	return parse_lan_networks(p, v, kp, lan);
}

static int parse_lans(struct parser *p, const yaml_node_t *root)
{
	struct xwan_config *cfg = p->cfg;
	const yaml_node_t *v;
	char kp[PATH_LEN], ip[PATH_LEN];
	int count;

	if (!(v = require(p, root, "", "lan", kp)))
		return -1;
	count = list_items(p, v, kp, 1, XWAN_MAX_LANS, "LAN");
	TRY(count);
	for (int i = 0; i < count; i++) {
		index_path(ip, kp, i);
		TRY(parse_lan(p, item(p, v, i), ip, &cfg->lans[i]));
		cfg->n_lans = i + 1;
	}
	return 0;
}

/* ------------------------------------------------------------- monitor */

static const struct keyword probe_methods[] = {
	{ "icmp", XWAN_PROBE_ICMP }, { "tcp", XWAN_PROBE_TCP },
	{ "dns", XWAN_PROBE_DNS }, { "http", XWAN_PROBE_HTTP }, { NULL, 0 },
};

void xwan_monitor_defaults(struct xwan_monitor_cfg *m, uint32_t gateway)
{
	memset(m, 0, sizeof(*m));
	m->targets[0] = gateway;
	m->n_targets = 1;
	m->reliability = 1;
	m->method = XWAN_PROBE_ICMP;
	m->interval_ms = 500;
	m->loss_interval_ms = 2000;
	m->window_ms = 60000;
	m->latency_warning_ms = 200;
	m->latency_down_ms = 500;
	m->loss_warning_pct = 10;
	m->loss_down_pct = 20;
	m->down_after = 0;
	m->up_after = 3;
	m->enabled = true;
}

static int parse_targets(struct parser *p, const yaml_node_t *n,
			 const char *path, struct xwan_monitor_cfg *m)
{
	char ip[PATH_LEN];
	int count = list_items(p, n, path, 1, XWAN_MAX_TARGETS, "target");

	TRY(count);
	for (int i = 0; i < count; i++) {
		const yaml_node_t *t = item(p, n, i);

		index_path(ip, path, i);
		TRY(get_ipv4(p, t, ip, &m->targets[i]));
		for (int j = 0; j < i; j++)
			if (m->targets[j] == m->targets[i])
				return fail(p, t, ip, "duplicate target (also "
					    "targets[%d])", j);
	}
	m->n_targets = count;
	return 0;
}

/* {warning: N, down: M} with warning < down, both within [min, max]. */
static int parse_thresholds(struct parser *p, const yaml_node_t *map,
			    const char *parent, const char *key,
			    uint32_t wmin, uint32_t dmin, uint32_t max,
			    uint32_t *warning, uint32_t *down)
{
	static const char *const keys[] = { "warning", "down", NULL };
	char kp[PATH_LEN], wp[PATH_LEN];
	const yaml_node_t *n = field(p, map, parent, key, kp), *w;

	if (!n)
		return 0;
	TRY(check_keys(p, n, kp, keys));
	TRY(opt_u32(p, n, kp, "warning", wmin, max, warning));
	TRY(opt_u32(p, n, kp, "down", dmin, max, down));
	if (*warning < *down)
		return 0;
	w = field(p, n, kp, "warning", wp);
	return fail(p, w ? w : n, kp, "warning (%" PRIu32 ") must be lower "
		    "than down (%" PRIu32 ")", *warning, *down);
}

static int parse_probe_port(struct parser *p, const yaml_node_t *map,
			    const char *path, struct xwan_monitor_cfg *m)
{
	char kp[PATH_LEN];
	const yaml_node_t *v = field(p, map, path, "port", kp);

	m->port = m->method == XWAN_PROBE_TCP ? 80 :
		  m->method == XWAN_PROBE_DNS ? 53 : 0;
	if (!v)
		return 0;
	if (m->method != XWAN_PROBE_TCP && m->method != XWAN_PROBE_DNS)
		return fail(p, v, kp, "only applies to method tcp or dns "
			    "(method is %s)", xwan_probe_method_name(m->method));
	return get_u16(p, v, kp, 1, 65535, &m->port);
}

static bool valid_http_url(const char *s)
{
	static const char scheme[] = "http://";

	if (strncmp(s, scheme, sizeof(scheme) - 1))
		return false;
	s += sizeof(scheme) - 1;
	if (!*s || *s == '/' || *s == ':')
		return false;
	for (; *s; s++)
		if ((unsigned char)*s <= ' ' || (unsigned char)*s >= 0x7f)
			return false;
	return true;
}

static int parse_probe_url(struct parser *p, const yaml_node_t *map,
			   const char *path, struct xwan_monitor_cfg *m)
{
	char kp[PATH_LEN], addr[INET_ADDRSTRLEN];
	const yaml_node_t *v = field(p, map, path, "url", kp);
	struct in_addr a = { .s_addr = m->targets[0] };
	struct text t;

	m->url[0] = '\0';
	if (m->method == XWAN_PROBE_HTTP && m->targets[0]) {
		inet_ntop(AF_INET, &a, addr, sizeof(addr));
		snprintf(m->url, sizeof(m->url), "http://%s/", addr);
	}
	if (!v)
		return 0;
	if (m->method != XWAN_PROBE_HTTP)
		return fail(p, v, kp, "only applies to method http (method "
			    "is %s)", xwan_probe_method_name(m->method));
	TRY(read_text(p, v, kp, "a URL", &t));
	if (t.len >= sizeof(m->url))
		return fail(p, v, kp, "URL is too long (at most %zu characters)",
			    sizeof(m->url) - 1);
	if (!valid_http_url(t.s))
		return fail(p, v, kp, "\"%s\" is not an http:// URL", t.q);
	memcpy(m->url, t.s, t.len + 1);
	return 0;
}

static int parse_monitor_timing(struct parser *p, const yaml_node_t *map,
				const char *path, struct xwan_monitor_cfg *m)
{
	char kp[PATH_LEN];
	const yaml_node_t *v;

	TRY(opt_u32(p, map, path, "interval_ms", 10, 600000, &m->interval_ms));
	TRY(opt_u32(p, map, path, "loss_interval_ms", 10, 600000,
		    &m->loss_interval_ms));
	TRY(opt_u32(p, map, path, "window_ms", 1000, 86400000, &m->window_ms));
	TRY(opt_u32(p, map, path, "down_after", 0, 1000, &m->down_after));
	TRY(opt_u32(p, map, path, "up_after", 1, 1000, &m->up_after));
	/* A shorter window could never hold a probe declared lost (dpinger's rule). */
	if (m->window_ms >= m->loss_interval_ms + 2 * m->interval_ms)
		return 0;
	v = field(p, map, path, "window_ms", kp);
	return fail(p, v ? v : map, kp, "must be at least loss_interval_ms + 2 x interval_ms "
		    "(%" PRIu32 "), or lost probes never count; got %" PRIu32,
		    m->loss_interval_ms + 2 * m->interval_ms, m->window_ms);
}

static int parse_reliability(struct parser *p, const yaml_node_t *map,
			     const char *path, struct xwan_monitor_cfg *m)
{
	char kp[PATH_LEN];
	const yaml_node_t *v = field(p, map, path, "reliability", kp);
	uint32_t r;

	if (!v)
		return 0;
	TRY(get_uint(p, v, kp, 1, UINT32_MAX, &r));
	if (r > (uint32_t)m->n_targets)
		return fail(p, v, kp, "must be between 1 and %d (the number "
			    "of targets), got %" PRIu32, m->n_targets, r);
	m->reliability = (int)r;
	return 0;
}

static int parse_monitor_map(struct parser *p, const yaml_node_t *n,
			     const char *path, struct xwan_monitor_cfg *m)
{
	static const char *const keys[] = {
		"targets", "reliability", "method", "port", "url",
		"interval_ms", "loss_interval_ms", "window_ms", "latency_ms",
		"loss_pct", "down_after", "up_after", "targets6", NULL,
	};
	const yaml_node_t *v;
	char kp[PATH_LEN];
	int method = m->method;

	TRY(check_keys(p, n, path, keys));
	if ((v = field(p, n, path, "targets", kp)))
		TRY(parse_targets(p, v, kp, m));
	TRY(parse_reliability(p, n, path, m));
	TRY(opt_keyword(p, n, path, "method", probe_methods, &method));
	m->method = (enum xwan_probe_method)method;
	TRY(parse_probe_port(p, n, path, m));
	TRY(parse_probe_url(p, n, path, m));
	TRY(parse_monitor_timing(p, n, path, m));
	TRY(parse_thresholds(p, n, path, "latency_ms", 1, 1, 60000,
			     &m->latency_warning_ms, &m->latency_down_ms));
	return parse_thresholds(p, n, path, "loss_pct", 0, 1, 100,
				&m->loss_warning_pct, &m->loss_down_pct);
}

/* A mapping, or a boolean: "monitor: false" keeps the defaults, disabled. */
static int parse_monitor(struct parser *p, const yaml_node_t *n,
			 const char *path, struct xwan_wan *w)
{
	xwan_monitor_defaults(&w->monitor, w->gateway);
	if (!n || is_null(n))
		return 0;
	if (n->type == YAML_SCALAR_NODE)
		return get_bool(p, n, path, &w->monitor.enabled);
	return parse_monitor_map(p, n, path, &w->monitor);
}

/* ---------------------------------------------------------------- WANs */

static const struct keyword nat_modes[] = {
	{ "masquerade", XWAN_NAT_MASQUERADE }, { "none", XWAN_NAT_NONE },
	{ NULL, 0 },
};

/* 0/8, loopback, multicast and broadcast can never be a next hop. */
static bool usable_gateway(uint32_t be)
{
	uint32_t a = ntohl(be);

	return (a >> 24) != 0 && (a >> 24) != 127 && (a >> 28) != 0xe &&
	       a != UINT32_MAX;
}

static int parse_wan_name(struct parser *p, const yaml_node_t *map,
			  const char *path, int index)
{
	struct xwan_wan *w = &p->cfg->wans[index];
	const yaml_node_t *v;
	char kp[PATH_LEN];
	int dup;

	if (!(v = require(p, map, path, "name", kp)))
		return -1;
	TRY(get_name(p, v, kp, w->name));
	dup = find_name(p->cfg->wans[0].name, sizeof(*w), index, w->name);
	if (dup >= 0)
		return fail(p, v, kp, "duplicate name \"%s\" (first defined "
			    "at line %d)", w->name, p->cfg->wans[dup].line);
	return 0;
}

/* An IPv4 address, or "auto": learned from the host's routes (DHCP, PPP). */
static int parse_gateway(struct parser *p, const yaml_node_t *map,
			 const char *path, struct xwan_wan *w)
{
	char kp[PATH_LEN], s[INET_ADDRSTRLEN];
	const yaml_node_t *v;
	struct text t;

	if (!(v = require(p, map, path, "gateway", kp)))
		return -1;
	if (v->type == YAML_SCALAR_NODE && !is_null(v)) {
		TRY(read_text(p, v, kp, "an IPv4 address or auto", &t));
		if (!strcmp(t.s, "auto")) {
			w->gateway_auto = true;
			w->gateway = 0;
			return 0;
		}
		if (!strcmp(t.s, "dhcp") || !strcmp(t.s, "dynamic"))
			return fail(p, v, kp, "\"%s\": write \"auto\" (the next hop is "
				    "learned from the default route the host's DHCP or "
				    "PPP client installs; xwan runs no DHCP client)", t.q);
		if (!parse_ipv4(t.s, &w->gateway))
			return fail(p, v, kp, "\"%s\" is not an IPv4 address or auto",
				    t.q);
	} else {
		TRY(get_ipv4(p, v, kp, &w->gateway));
	}
	if (usable_gateway(w->gateway))
		return 0;
	inet_ntop(AF_INET, &(struct in_addr){ .s_addr = w->gateway }, s,
		  sizeof(s));
	return fail(p, v, kp, "%s cannot be a gateway (unspecified, loopback, "
		    "multicast or broadcast)", s);
}

/* The learned gateway is unknown here: an HTTP probe needs its URL spelt out. */
static int check_auto_monitor(struct parser *p, const yaml_node_t *n, const char *path,
			      const struct xwan_wan *w)
{
	char kp[PATH_LEN];
	const yaml_node_t *v = field(p, n, path, "monitor", kp);

	if (!w->gateway_auto || !w->monitor.enabled || w->monitor.method != XWAN_PROBE_HTTP ||
	    w->monitor.url[0])
		return 0;
	return fail(p, v ? v : n, kp, "method http with gateway: auto needs url (or "
		    "targets): the gateway is only known once the interface has a lease");
}

static int parse_wan(struct parser *p, const yaml_node_t *n, const char *path,
		     int index)
{
	static const char *const keys[] = {
		"name", "interface", "gateway", "weight", "nat", "nat_ports",
		"monitor", "gateway6", "nat6", "npt", NULL,
	};
	struct xwan_wan *w = &p->cfg->wans[index];
	const yaml_node_t *v;
	char kp[PATH_LEN];
	int nat = XWAN_NAT_MASQUERADE;

	TRY(check_keys(p, n, path, keys));
	w->line = (int)line_of(n);
	w->weight = 1;
	w->port_min = 1024;
	w->port_max = 65535;
	TRY(parse_wan_name(p, n, path, index));
	if (!(v = require(p, n, path, "interface", kp)))
		return -1;
	TRY(get_ifname(p, v, kp, w->interface));
	TRY(claim_interface(p, v, kp, path, w->interface));
	TRY(parse_gateway(p, n, path, w));
	if ((v = field(p, n, path, "weight", kp)))
		TRY(get_u8(p, v, kp, 1, 255, &w->weight));
	TRY(opt_keyword(p, n, path, "nat", nat_modes, &nat));
	w->nat = (enum xwan_nat_mode)nat;
	if ((v = field(p, n, path, "nat_ports", kp)))
		TRY(get_port_range(p, v, kp, false, &w->port_min, &w->port_max));
	v = field(p, n, path, "monitor", kp);
	TRY(parse_monitor(p, v, kp, w));
	TRY(parse_wan6(p, n, path, w));
	return check_auto_monitor(p, n, path, w);
}

static int parse_wans(struct parser *p, const yaml_node_t *root)
{
	const yaml_node_t *v;
	char kp[PATH_LEN], ip[PATH_LEN];
	int count;

	if (!(v = require(p, root, "", "wan", kp)))
		return -1;
	count = list_items(p, v, kp, 1, XWAN_MAX_GATEWAYS, "WAN");
	TRY(count);
	for (int i = 0; i < count; i++) {
		index_path(ip, kp, i);
		TRY(parse_wan(p, item(p, v, i), ip, i));
		p->cfg->wans[i].gw = i;
		p->cfg->n_wans = i + 1;
	}
	return 0;
}

/* -------------------------------------------------------------- groups */

static const struct keyword group_methods[] = {
	{ "hash", GROUP_METHOD_HASH }, { "round-robin", GROUP_METHOD_ROUND_ROBIN },
	{ NULL, 0 },
};
static const struct keyword hash_field_names[] = {
	{ "src", HASH_F_SRC }, { "dst", HASH_F_DST }, { "proto", HASH_F_PROTO },
	{ "sport", HASH_F_SPORT }, { "dport", HASH_F_DPORT }, { NULL, 0 },
};
static const struct keyword triggers[] = {
	{ "member-down", XWAN_TRIGGER_MEMBER_DOWN },
	{ "packet-loss", XWAN_TRIGGER_PACKET_LOSS },
	{ "high-latency", XWAN_TRIGGER_HIGH_LATENCY },
	{ "loss-or-latency", XWAN_TRIGGER_LOSS_OR_LATENCY }, { NULL, 0 },
};
static const struct keyword all_down_actions[] = {
	{ "kernel", ALL_DOWN_KERNEL }, { "drop", ALL_DOWN_DROP }, { NULL, 0 },
};
static const struct keyword on_down_actions[] = {
	{ "flush", XWAN_ON_DOWN_FLUSH }, { "keep", XWAN_ON_DOWN_KEEP },
	{ NULL, 0 },
};
static const struct keyword on_up_actions[] = {
	{ "keep", XWAN_ON_UP_KEEP }, { "flush", XWAN_ON_UP_FLUSH }, { NULL, 0 },
};
static const struct keyword sticky_keys[] = {
	{ "src", STICKY_KEY_SRC }, { "src-dst", STICKY_KEY_SRC_DST },
	{ NULL, 0 },
};

static const struct keyword filterings[] = {
	{ "address-and-port-dependent", FILTER_ADDR_PORT },
	{ "address-dependent", FILTER_ADDR },
	{ "endpoint-independent", FILTER_ENDPOINT },
	{ NULL, 0 },
};

static void group_defaults(struct xwan_group *g)
{
	memset(g, 0, sizeof(*g));
	g->method = GROUP_METHOD_HASH;
	g->hash_fields = HASH_F_ALL;
	g->hash_seed = 0;
	g->trigger = XWAN_TRIGGER_MEMBER_DOWN;
	g->when_all_down = ALL_DOWN_KERNEL;
	g->on_gateway_down = XWAN_ON_DOWN_FLUSH;
	g->on_gateway_up = XWAN_ON_UP_KEEP;
	g->sticky = false;
	g->sticky_expire_s = 300;
	g->sticky_key = STICKY_KEY_SRC;
}

static int parse_member(struct parser *p, const yaml_node_t *n,
			const char *path, struct xwan_group *g, int index)
{
	static const char *const keys[] = { "wan", "tier", "weight", NULL };
	struct xwan_member *m = &g->members[index];
	const yaml_node_t *v;
	char kp[PATH_LEN];
	int wan;

	TRY(check_keys(p, n, path, keys));
	if (!(v = require(p, n, path, "wan", kp)))
		return -1;
	wan = resolve_wan(p, v, kp);
	TRY(wan);
	for (int j = 0; j < index; j++)
		if (g->members[j].wan == wan)
			return fail(p, v, kp, "\"%s\" is listed twice in this "
				    "group (also members[%d])",
				    p->cfg->wans[wan].name, j);
	m->wan = wan;
	m->tier = 1;
	m->weight = 0;
	if ((v = field(p, n, path, "tier", kp)))
		TRY(get_u8(p, v, kp, 1, 15, &m->tier));
	if ((v = field(p, n, path, "weight", kp)))
		TRY(get_u8(p, v, kp, 1, 255, &m->weight));
	return 0;
}

static int parse_members(struct parser *p, const yaml_node_t *map,
			 const char *path, struct xwan_group *g)
{
	char kp[PATH_LEN], ip[PATH_LEN];
	const yaml_node_t *v = require(p, map, path, "members", kp);
	int count;

	if (!v)
		return -1;
	count = list_items(p, v, kp, 1, XWAN_MAX_GATEWAYS, "member");
	TRY(count);
	for (int i = 0; i < count; i++) {
		index_path(ip, kp, i);
		TRY(parse_member(p, item(p, v, i), ip, g, i));
		g->n_members = i + 1;
	}
	return 0;
}

static int parse_hash_fields(struct parser *p, const yaml_node_t *n,
			     const char *path, struct xwan_group *g)
{
	char ip[PATH_LEN];
	int count = list_items(p, n, path, 1, 5, "hash field");

	TRY(count);
	g->hash_fields = 0;
	for (int i = 0; i < count; i++) {
		const yaml_node_t *f = item(p, n, i);
		int bit;

		index_path(ip, path, i);
		bit = get_keyword(p, f, ip, hash_field_names);
		TRY(bit);
		if (g->hash_fields & bit)
			return fail(p, f, ip, "listed twice");
		g->hash_fields |= (uint16_t)bit;
	}
	return 0;
}

/* hash_fields and hash_seed shape the hash; round-robin has none. */
static int parse_hash(struct parser *p, const yaml_node_t *map,
		      const char *path, struct xwan_group *g)
{
	static const char *const hash_keys[] = { "hash_fields", "hash_seed", NULL };
	char kp[PATH_LEN];
	const yaml_node_t *v;

	for (int i = 0; hash_keys[i]; i++) {
		v = field(p, map, path, hash_keys[i], kp);
		if (v && g->method != GROUP_METHOD_HASH)
			return fail(p, v, kp, "only applies to method hash");
	}
	if ((v = field(p, map, path, "hash_fields", kp)))
		TRY(parse_hash_fields(p, v, kp, g));
	return opt_u32(p, map, path, "hash_seed", 0, UINT32_MAX, &g->hash_seed);
}

/* sticky: {enabled, expire_s, key}, or a bare boolean. */
static int parse_sticky(struct parser *p, const yaml_node_t *map,
			const char *path, struct xwan_group *g)
{
	static const char *const keys[] = { "enabled", "expire_s", "key", NULL };
	char kp[PATH_LEN], sp[PATH_LEN];
	const yaml_node_t *n = field(p, map, path, "sticky", sp), *v;
	int key = STICKY_KEY_SRC;

	if (!n)
		return 0;
	if (n->type == YAML_SCALAR_NODE)
		return get_bool(p, n, sp, &g->sticky);
	TRY(check_keys(p, n, sp, keys));
	if ((v = field(p, n, sp, "enabled", kp)))
		TRY(get_bool(p, v, kp, &g->sticky));
	TRY(opt_u32(p, n, sp, "expire_s", 1, 604800, &g->sticky_expire_s));
	TRY(opt_keyword(p, n, sp, "key", sticky_keys, &key));
	g->sticky_key = (enum sticky_key)key;
	return 0;
}

static int parse_group_policy(struct parser *p, const yaml_node_t *n,
			      const char *path, struct xwan_group *g)
{
	int method = g->method, trigger = g->trigger;
	int all_down = g->when_all_down, on_down = g->on_gateway_down;
	int on_up = g->on_gateway_up, filtering = g->filtering;

	TRY(opt_keyword(p, n, path, "method", group_methods, &method));
	TRY(opt_keyword(p, n, path, "filtering", filterings, &filtering));
	TRY(opt_keyword(p, n, path, "trigger", triggers, &trigger));
	TRY(opt_keyword(p, n, path, "when_all_down", all_down_actions,
			&all_down));
	TRY(opt_keyword(p, n, path, "on_gateway_down", on_down_actions,
			&on_down));
	TRY(opt_keyword(p, n, path, "on_gateway_up", on_up_actions, &on_up));
	g->method = (enum group_method)method;
	g->trigger = (enum xwan_trigger)trigger;
	g->when_all_down = (enum when_all_down)all_down;
	g->on_gateway_down = (enum xwan_on_down)on_down;
	g->on_gateway_up = (enum xwan_on_up)on_up;
	g->filtering = (enum nat_filtering)filtering;
	return 0;
}

static int parse_group(struct parser *p, const yaml_node_t *n,
		       const char *path, int index)
{
	static const char *const keys[] = {
		"name", "members", "method", "hash_fields", "hash_seed",
		"trigger", "when_all_down", "on_gateway_down", "on_gateway_up",
		"sticky", "filtering", NULL,
	};
	struct xwan_group *g = &p->cfg->groups[index];
	const yaml_node_t *v;
	char kp[PATH_LEN];
	int dup;

	TRY(check_keys(p, n, path, keys));
	group_defaults(g);
	g->line = (int)line_of(n);
	if (!(v = require(p, n, path, "name", kp)))
		return -1;
	TRY(get_name(p, v, kp, g->name));
	dup = find_name(p->cfg->groups[0].name, sizeof(*g), index, g->name);
	if (dup >= 0)
		return fail(p, v, kp, "duplicate name \"%s\" (first defined "
			    "at line %d)", g->name, p->cfg->groups[dup].line);
	TRY(parse_members(p, n, path, g));
	TRY(parse_group_policy(p, n, path, g));
	TRY(parse_hash(p, n, path, g));
	return parse_sticky(p, n, path, g);
}

/* No groups: one hash group of every WAN, so lan: + wan: is a whole config. */
static void synthesize_default_group(struct parser *p)
{
	struct xwan_config *cfg = p->cfg;
	struct xwan_group *g = &cfg->groups[0];

	group_defaults(g);
	snprintf(g->name, sizeof(g->name), "default");
	for (int i = 0; i < cfg->n_wans; i++) {
		g->members[i].wan = i;
		g->members[i].tier = 1;
		g->members[i].weight = 0;
	}
	g->n_members = cfg->n_wans;
	g->line = 0;
	cfg->n_groups = 1;
	cfg->default_group = 0;
	p->synthesized_group = true;
}

static int parse_groups(struct parser *p, const yaml_node_t *root)
{
	const yaml_node_t *v;
	char kp[PATH_LEN], ip[PATH_LEN];
	int count;

	v = section(p, root, "", "groups", kp);
	if (!v || (v->type == YAML_SEQUENCE_NODE && items_count(v) == 0)) {
		synthesize_default_group(p);
		return 0;
	}
	count = list_items(p, v, kp, 1, XWAN_MAX_GROUPS, "group");
	TRY(count);
	for (int i = 0; i < count; i++) {
		index_path(ip, kp, i);
		TRY(parse_group(p, item(p, v, i), ip, i));
		p->cfg->n_groups = i + 1;
	}
	return 0;
}

static int parse_default_group(struct parser *p, const yaml_node_t *root)
{
	const yaml_node_pair_t *groups = lookup_pair(p, root, "groups");
	char kp[PATH_LEN], list[LIST_MAX];
	const yaml_node_t *v = field(p, root, "", "default_group", kp);
	int g;

	if (!v && p->synthesized_group)
		return 0;
	if (!v) {
		join_names(list, sizeof(list), p->cfg->groups[0].name,
			   sizeof(struct xwan_group), p->cfg->n_groups);
		return fail(p, groups ? node(p, groups->key) : root, kp,
			    "required when groups are defined (one of: %s)",
			    list);
	}
	g = resolve_group(p, v, kp);
	TRY(g);
	p->cfg->default_group = g;
	return 0;
}

/* --------------------------------------------------------------- rules */

static const struct keyword rule_protos[] = {
	{ "tcp", IPPROTO_TCP }, { "udp", IPPROTO_UDP }, { "icmp", IPPROTO_ICMP },
	{ "icmpv6", IPPROTO_ICMPV6 }, { "any", 0 }, { NULL, 0 },
};
static const struct keyword rule_actions[] = {
	{ "bypass", RULE_ACTION_BYPASS }, { "drop", RULE_ACTION_DROP }, { NULL, 0 },
};
static const struct keyword rule_families[] = {
	{ "ipv4", RULE_FAMILY_IPV4 }, { "ipv6", RULE_FAMILY_IPV6 }, { NULL, 0 },
};

static const char *rule_family_name(uint8_t f)
{
	return f == RULE_FAMILY_IPV6 ? "IPv6" : "IPv4";
}

/* What a key of a rule says its family is; the rule's other keys must agree. */
static int rule_family(struct parser *p, const yaml_node_t *n, const char *path,
		       struct xwan_rule *r, uint8_t family, const char *first)
{
	if (r->family && r->family != family)
		return fail(p, n, path, "is %s while %s makes the rule %s: a rule matches flows of "
			    "one family (write one rule per family)", rule_family_name(family),
			    first, rule_family_name(r->family));
	r->family = family;
	return 0;
}

/* src or dst: an IPv4 or an IPv6 prefix, the rule's family. */
static int parse_rule_prefix(struct parser *p, const yaml_node_t *n, const char *path,
			     const char *key, struct xwan_rule *r, const char **first)
{
	char kp[PATH_LEN];
	const yaml_node_t *v = field(p, n, path, key, kp);
	bool v6 = is_ipv6_entry(v);

	if (!v)
		return 0;
	if (v6)
		TRY(get_cidr6(p, v, kp, !strcmp(key, "src") ? &r->src6 : &r->dst6));
	else
		TRY(get_cidr(p, v, kp, !strcmp(key, "src") ? &r->src : &r->dst));
	TRY(rule_family(p, v, kp, r, v6 ? RULE_FAMILY_IPV6 : RULE_FAMILY_IPV4, *first));
	*first = key;
	return 0;
}

static int parse_rule_match(struct parser *p, const yaml_node_t *n,
			    const char *path, struct xwan_rule *r)
{
	const char *first = "family";
	const yaml_node_t *v;
	char kp[PATH_LEN];
	int proto = 0, lan, family = 0;

	if ((v = field(p, n, path, "lan", kp))) {
		lan = resolve_lan(p, v, kp);
		TRY(lan);
		memcpy(r->lan, p->cfg->lans[lan].interface, IFNAMSIZ);
	}
	TRY(opt_keyword(p, n, path, "family", rule_families, &family));
	r->family = (uint8_t)family;
	TRY(parse_rule_prefix(p, n, path, "src", r, &first));
	TRY(parse_rule_prefix(p, n, path, "dst", r, &first));
	TRY(opt_keyword(p, n, path, "proto", rule_protos, &proto));
	if (proto == IPPROTO_ICMPV6) {
		/* ICMPv6 is IPv6's `icmp`: the matcher sees either family's ICMP as one. */
		TRY(rule_family(p, field(p, n, path, "proto", kp), kp, r, RULE_FAMILY_IPV6, first));
		proto = IPPROTO_ICMP;
	}
	r->proto = (uint8_t)proto;
	if (!(v = field(p, n, path, "dport", kp)))
		return 0;
	if (r->proto != IPPROTO_TCP && r->proto != IPPROTO_UDP)
		return fail(p, v, kp, "only applies with proto tcp or udp");
	return get_port_range(p, v, kp, true, &r->dport_min, &r->dport_max);
}

/* An IPv6 rule's group needs an IPv6 member, or every flow it takes has no gateway. */
static int rule_group_family(struct parser *p, const yaml_node_t *n, const char *path,
			     const struct xwan_rule *r)
{
	const struct xwan_group *g = &p->cfg->groups[r->group];

	if (r->family != RULE_FAMILY_IPV6)
		return 0;
	for (int i = 0; i < g->n_members; i++)
		if (p->cfg->wans[g->members[i].wan].v6.enabled)
			return 0;
	return fail(p, n, path, "group \"%s\" has no member with gateway6: the IPv6 flows "
		    "this rule matches would have no gateway", g->name);
}

/* Exactly one of "group: NAME" (the group action) or "action: bypass|drop". */
static int parse_rule_action(struct parser *p, const yaml_node_t *n,
			     const char *path, struct xwan_rule *r)
{
	char gp[PATH_LEN], ap[PATH_LEN];
	const yaml_node_t *g = field(p, n, path, "group", gp);
	const yaml_node_t *a = field(p, n, path, "action", ap);
	struct text t;
	int v;

	if (g && a)
		return fail(p, a, ap, "give either group or action, not both");
	if (!g && !a)
		return fail(p, n, path, "missing required key \"group\" or "
			    "\"action\"");
	if (g) {
		r->action = RULE_ACTION_GROUP;
		r->group = resolve_group(p, g, gp);
		return r->group < 0 ? -1 : rule_group_family(p, g, gp, r);
	}
	TRY(read_text(p, a, ap, "an action", &t));
	if (!strcmp(t.s, "group"))
		return fail(p, a, ap, "\"group\" is not an action; write "
			    "\"group: NAME\" to send traffic to a group");
	v = get_keyword(p, a, ap, rule_actions);
	TRY(v);
	r->action = (enum rule_action)v;
	r->group = -1;
	return 0;
}

/* `filtering:` of a rule: its flows' mappings filter so, whatever the group's. */
static int parse_rule_filtering(struct parser *p, const yaml_node_t *n,
				const char *path, struct xwan_rule *r)
{
	char kp[PATH_LEN];
	int filtering = -1;

	TRY(opt_keyword(p, n, path, "filtering", filterings, &filtering));
	if (filtering < 0)
		return 0;
	if (r->action != RULE_ACTION_GROUP)
		return fail(p, field(p, n, path, "filtering", kp), kp,
			    "filtering applies to the mappings of NATed flows: this rule's "
			    "action leaves its flows untranslated; remove `filtering:` or "
			    "send the flows to a group");
	r->has_filtering = true;
	r->filtering = (enum nat_filtering)filtering;
	return 0;
}

static int parse_rule(struct parser *p, const yaml_node_t *n,
		      const char *path, int index)
{
	static const char *const keys[] = {
		"name", "lan", "family", "src", "dst", "proto", "dport", "group",
		"action", "filtering", NULL,
	};
	struct xwan_rule *r = &p->cfg->rules[index];
	const yaml_node_t *v;
	char kp[PATH_LEN];
	int dup;

	TRY(check_keys(p, n, path, keys));
	memset(r, 0, sizeof(*r));
	r->line = (int)line_of(n);
	if (!(v = require(p, n, path, "name", kp)))
		return -1;
	TRY(get_name(p, v, kp, r->name));
	dup = find_name(p->cfg->rules[0].name, sizeof(*r), index, r->name);
	if (dup >= 0)
		return fail(p, v, kp, "duplicate name \"%s\" (first defined at "
			    "line %d)", r->name, p->cfg->rules[dup].line);
	TRY(parse_rule_match(p, n, path, r));
	TRY(parse_rule_action(p, n, path, r));
	return parse_rule_filtering(p, n, path, r);
}

static int parse_rules(struct parser *p, const yaml_node_t *root)
{
	char kp[PATH_LEN], ip[PATH_LEN];
	const yaml_node_t *v = section(p, root, "", "rules", kp);
	int count;

	if (!v)
		return 0;
	count = list_items(p, v, kp, 0, XWAN_MAX_RULES, "rule");
	TRY(count);
	for (int i = 0; i < count; i++) {
		index_path(ip, kp, i);
		TRY(parse_rule(p, item(p, v, i), ip, i));
		p->cfg->n_rules = i + 1;
	}
	return 0;
}

/* ------------------------------------------------------- port forwards */

static const struct keyword forward_protos[] = {
	{ "tcp", IPPROTO_TCP }, { "udp", IPPROTO_UDP }, { NULL, 0 },
};

/* One WAN port can go to one place only. */
static int check_forward_unique(struct parser *p, const yaml_node_t *n,
				const char *path, int index)
{
	const struct xwan_port_forward *f = &p->cfg->forwards[index], *o;
	char kp[PATH_LEN];
	const yaml_node_t *v = field(p, n, path, "port", kp);

	for (int j = 0; j < index; j++) {
		o = &p->cfg->forwards[j];
		if (o->wan == f->wan && o->proto == f->proto && o->port == f->port)
			return fail(p, v, kp, "%s port %u on WAN \"%s\" is "
				    "already forwarded (line %d)",
				    f->proto == IPPROTO_TCP ? "tcp" : "udp",
				    f->port, p->cfg->wans[f->wan].name, o->line);
	}
	return 0;
}

static int parse_forward(struct parser *p, const yaml_node_t *n,
			 const char *path, int index)
{
	static const char *const keys[] = { "wan", "proto", "port", "to", "reflection", NULL };
	struct xwan_port_forward *f = &p->cfg->forwards[index];
	const yaml_node_t *v;
	char kp[PATH_LEN];
	int proto;

	TRY(check_keys(p, n, path, keys));
	memset(f, 0, sizeof(*f));
	f->line = (int)line_of(n);
	if (!(v = require(p, n, path, "wan", kp)))
		return -1;
	f->wan = resolve_wan(p, v, kp);
	TRY(f->wan);
	if (!(v = require(p, n, path, "proto", kp)))
		return -1;
	proto = get_keyword(p, v, kp, forward_protos);
	TRY(proto);
	f->proto = (uint8_t)proto;
	if (!(v = require(p, n, path, "port", kp)))
		return -1;
	TRY(get_u16(p, v, kp, 1, 65535, &f->port));
	if (!(v = require(p, n, path, "to", kp)))
		return -1;
	f->to_port = f->port;
	TRY(get_addr_port(p, v, kp, false, &f->to_addr, &f->to_port));
	f->reflection = true;
	if ((v = field(p, n, path, "reflection", kp)))
		TRY(get_bool(p, v, kp, &f->reflection));
	return check_forward_unique(p, n, path, index);
}

static int parse_forwards(struct parser *p, const yaml_node_t *root)
{
	char kp[PATH_LEN], ip[PATH_LEN];
	const yaml_node_t *v = section(p, root, "", "port_forwards", kp);
	int count;

	if (!v)
		return 0;
	count = list_items(p, v, kp, 0, XWAN_MAX_FORWARDS, "port forward");
	TRY(count);
	for (int i = 0; i < count; i++) {
		index_path(ip, kp, i);
		TRY(parse_forward(p, item(p, v, i), ip, i));
		p->cfg->n_forwards = i + 1;
	}
	return 0;
}

/* ------------------------------------------------------------ settings */

static int parse_timeouts(struct parser *p, const yaml_node_t *root)
{
	static const char *const keys[] = {
		"tcp_established", "tcp_transitory", "udp", "icmp", NULL,
	};
	struct xwan_timeouts *t = &p->cfg->timeouts;
	char kp[PATH_LEN];
	const yaml_node_t *n = section(p, root, "", "timeouts", kp);

	if (!n)
		return 0;
	TRY(check_keys(p, n, kp, keys));
	TRY(opt_u32(p, n, kp, "tcp_established", 1, 604800,
		    &t->tcp_established));
	TRY(opt_u32(p, n, kp, "tcp_transitory", 1, 604800,
		    &t->tcp_transitory));
	TRY(opt_u32(p, n, kp, "udp", 1, 604800, &t->udp));
	return opt_u32(p, n, kp, "icmp", 1, 604800, &t->icmp);
}

/* The WAN marks live in these bits; 6 of them hold 32 WANs and "none". */
static int parse_fwmark_mask(struct parser *p, const yaml_node_t *root)
{
	char kp[PATH_LEN];
	const yaml_node_t *v = field(p, root, "", "fwmark_mask", kp);
	uint32_t m, run;

	if (!v)
		return 0;
	TRY(get_uint(p, v, kp, 1, UINT32_MAX, &m));
	run = m >> __builtin_ctz(m);
	if ((run & (run + 1)) != 0 || __builtin_popcount(m) < 6)
		return fail(p, v, kp, "0x%08" PRIx32 " must be one run of at "
			    "least 6 contiguous bits (e.g. 0x00ff0000)", m);
	p->cfg->fwmark_mask = m;
	return 0;
}

/* WAN i routes through table base + i: keep clear of default/main/local. */
static int parse_route_table_base(struct parser *p, const yaml_node_t *root)
{
	char kp[PATH_LEN];
	const yaml_node_t *v = field(p, root, "", "route_table_base", kp);
	uint64_t last;
	uint32_t base;

	if (!v)
		return 0;
	TRY(get_uint(p, v, kp, 1, 0xfffffff0u, &base));
	last = (uint64_t)base + (uint64_t)p->cfg->n_wans - 1;
	if (last > UINT32_MAX)
		return fail(p, v, kp, "tables %" PRIu32 "..%" PRIu64 " (one per "
			    "WAN) go past 4294967295", base, last);
	for (uint64_t t = 253; t <= 255; t++)
		if (t >= base && t <= last)
			return fail(p, v, kp, "tables %" PRIu32 "..%" PRIu64
				    " (one per WAN) include reserved table %"
				    PRIu64 " (253 default, 254 main, 255 "
				    "local)", base, last, t);
	p->cfg->route_table_base = base;
	return 0;
}

static int parse_kernel_settings(struct parser *p, const yaml_node_t *root)
{
	struct xwan_config *cfg = p->cfg;

	TRY(opt_u32(p, root, "", "flow_table_size", 1024, 16777216,
		    &cfg->flow_table_size));
	TRY(parse_fwmark_mask(p, root));
	TRY(parse_route_table_base(p, root));
	return opt_u32(p, root, "", "rule_priority", 1, 32764,
		       &cfg->rule_priority);
}

/* A token any HTTP client can send as a header or in a URL: no quoting needed. */
static bool token_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_' || c == '.' || c == '~';
}

static int parse_metrics_token(struct parser *p, const yaml_node_t *n, const char *kp)
{
	char tp[PATH_LEN];
	const yaml_node_t *v = field(p, n, kp, "token", tp);
	struct text t;

	if (!v)
		return 0;
	TRY(read_text(p, v, tp, "a token of 16 to 128 characters", &t));
	if (t.len < 16 || t.len >= sizeof(p->cfg->metrics_token))
		return fail(p, v, tp, "must be 16 to 128 characters long, got %zu (e.g. the "
			    "output of `openssl rand -hex 16`)", t.len);
	for (size_t i = 0; i < t.len; i++)
		if (!token_char(t.s[i]))
			return fail(p, v, tp, "may hold only letters, digits and - _ . ~");
	memcpy(p->cfg->metrics_token, t.s, t.len + 1);
	return 0;
}

/*
 * Stored as addr:port in canonical form, so the agent needs no parser. Off
 * the loopback, the status page and /metrics are for those with the token.
 */
static int parse_metrics(struct parser *p, const yaml_node_t *root)
{
	static const char *const keys[] = { "listen", "token", NULL };
	char kp[PATH_LEN], lp[PATH_LEN], addr[INET_ADDRSTRLEN];
	const yaml_node_t *n = section(p, root, "", "metrics", kp), *v;
	uint32_t a;
	uint16_t port = 0;
	struct text t;

	if (!n)
		return 0;
	TRY(check_keys(p, n, kp, keys));
	TRY(parse_metrics_token(p, n, kp));
	if (!(v = field(p, n, kp, "listen", lp)))
		return 0;
	TRY(read_text(p, v, lp, "addr:port or \"\"", &t));
	if (t.len == 0) {
		p->cfg->metrics_listen[0] = '\0';
		return 0;
	}
	TRY(get_addr_port(p, v, lp, true, &a, &port));
	if ((ntohl(a) >> 24) != 127 && !p->cfg->metrics_token[0])
		return fail(p, v, lp, "\"%s\" is not a loopback address: set metrics.token too, "
			    "or anyone who reaches it sees the status page and the metrics", t.q);
	inet_ntop(AF_INET, &(struct in_addr){ .s_addr = a }, addr, sizeof(addr));
	snprintf(p->cfg->metrics_listen, sizeof(p->cfg->metrics_listen),
		 "%s:%u", addr, port);
	return 0;
}

/* Flood limits: how many unanswered flows one source may hold. */
static int parse_limits(struct parser *p, const yaml_node_t *root)
{
	static const char *const keys[] = { "unreplied_per_lan_host", "unreplied_per_wan_host",
					    NULL };
	char kp[PATH_LEN];
	const yaml_node_t *n = section(p, root, "", "limits", kp);

	if (!n)
		return 0;
	TRY(check_keys(p, n, kp, keys));
	TRY(opt_u32(p, n, kp, "unreplied_per_lan_host", 0, 1000000,
		    &p->cfg->unreplied_per_lan_host));
	return opt_u32(p, n, kp, "unreplied_per_wan_host", 0, 1000000,
		       &p->cfg->unreplied_per_wan_host);
}

/* Programs the agent runs on events; their file is checked against the host later. */
static int parse_hooks(struct parser *p, const yaml_node_t *root)
{
	static const char *const keys[] = { "on_gateway_change", "timeout_ms", NULL };
	char kp[PATH_LEN], lp[PATH_LEN];
	const yaml_node_t *n = section(p, root, "", "hooks", kp), *v;
	struct text t;

	if (!n)
		return 0;
	TRY(check_keys(p, n, kp, keys));
	TRY(opt_u32(p, n, kp, "timeout_ms", 100, 600000, &p->cfg->hooks.timeout_ms));
	if (!(v = field(p, n, kp, "on_gateway_change", lp)))
		return 0;
	TRY(read_text(p, v, lp, "an absolute path to an executable", &t));
	if (t.s[0] != '/')
		return fail(p, v, lp, "%s is not an absolute path (the agent runs hooks "
			    "from /, with no search path): write it as /path/to/script", t.q);
	if (t.len >= sizeof(p->cfg->hooks.on_gateway_change))
		return fail(p, v, lp, "path longer than %zu characters",
			    sizeof(p->cfg->hooks.on_gateway_change) - 1);
	memcpy(p->cfg->hooks.on_gateway_change, t.s, t.len + 1);
	p->cfg->hooks.line = (int)line_of(v);
	return 0;
}

static const struct keyword asym_modes[] = {
	{ "drop", ASYM_DROP }, { "allow", ASYM_ALLOW }, { NULL, 0 },
};

static int parse_agent_settings(struct parser *p, const yaml_node_t *root)
{
	char kp[PATH_LEN];
	const yaml_node_t *v;
	int asym = p->cfg->asymmetric;

	TRY(parse_metrics(p, root));
	if ((v = field(p, root, "", "manage_default_route", kp)))
		TRY(get_bool(p, v, kp, &p->cfg->manage_default_route));
	TRY(opt_keyword(p, root, "", "asymmetric", asym_modes, &asym));
	p->cfg->asymmetric = (enum asymmetric_policy)asym;
	if ((v = field(p, root, "", "tcp_liberal", kp)))
		TRY(get_bool(p, v, kp, &p->cfg->tcp_liberal));
	TRY(parse_hooks(p, root));
	return parse_limits(p, root);
}

/* ------------------------------------------------------------------ ha */

/* "a.b.c.d/n": an interface address, so host bits are the point. */
static int get_if_addr(struct parser *p, const yaml_node_t *n, const char *path,
		       struct xwan_cidr *out)
{
	struct text t;
	int64_t plen = -1;
	char *slash;

	TRY(read_text(p, n, path, "an address with its prefix length", &t));
	slash = strchr(t.s, '/');
	if (slash)
		*slash = '\0';
	if (!slash || !parse_ipv4(t.s, &out->addr) || strlen(slash + 1) > 2 ||
	    slash[1] == '-' || parse_int(slash + 1, &plen) || plen < 1 || plen > 32)
		return fail(p, n, path, "\"%s\" is not an address with its prefix "
			    "length (a.b.c.d/1-32, like 10.1.0.1/24)", t.q);
	if (!out->addr || (ntohl(out->addr) >> 28) >= 14)
		return fail(p, n, path, "%s cannot be an interface address", t.q);
	out->plen = (uint8_t)plen;
	return 0;
}

/* A virtual address lives on an interface xwan already knows. */
static bool config_has_interface(const struct xwan_config *cfg, const char *ifname)
{
	for (int i = 0; i < cfg->n_lans; i++)
		if (!strcmp(cfg->lans[i].interface, ifname))
			return true;
	for (int i = 0; i < cfg->n_wans; i++)
		if (!strcmp(cfg->wans[i].interface, ifname))
			return true;
	return false;
}

static int parse_ha_virtual(struct parser *p, const yaml_node_t *n, const char *path)
{
	static const char *const keys[] = { "interface", "address", NULL };
	struct xwan_ha *ha = &p->cfg->ha;
	char ip[PATH_LEN], kp[PATH_LEN];
	const yaml_node_t *e, *v;
	int count = list_items(p, n, path, 1, XWAN_HA_MAX_VIRTUAL, "virtual address");

	TRY(count);
	for (int i = 0; i < count; i++) {
		struct xwan_ha_virtual *vip = &ha->virtual[i];

		index_path(ip, path, i);
		e = item(p, n, i);
		TRY(check_keys(p, e, ip, keys));
		vip->line = (int)line_of(e);
		if (!(v = require(p, e, ip, "interface", kp)))
			return -1;
		TRY(get_ifname(p, v, kp, vip->interface));
		if (!config_has_interface(p->cfg, vip->interface))
			return fail(p, v, kp, "\"%s\" is neither a lan nor a wan interface "
				    "of this config", vip->interface);
		if (!(v = require(p, e, ip, "address", kp)))
			return -1;
		TRY(get_if_addr(p, v, kp, &vip->addr));
		for (int j = 0; j < i; j++)
			if (ha->virtual[j].addr.addr == vip->addr.addr)
				return fail(p, v, kp, "address already listed (line %d)",
					    ha->virtual[j].line);
	}
	ha->n_virtual = count;
	return 0;
}

static int parse_ha_vrrp(struct parser *p, const yaml_node_t *n, const char *path)
{
	struct xwan_ha *ha = &p->cfg->ha;
	const yaml_node_t *v;
	char kp[PATH_LEN];
	uint32_t u;

	if ((v = field(p, n, path, "priority", kp)))
		TRY(get_u8(p, v, kp, 1, 254, &ha->priority));
	if ((v = field(p, n, path, "preempt", kp)))
		TRY(get_bool(p, v, kp, &ha->preempt));
	if ((v = field(p, n, path, "vrid", kp)))
		TRY(get_u8(p, v, kp, 1, 255, &ha->vrid));
	if ((v = field(p, n, path, "advert_ms", kp))) {
		TRY(get_uint(p, v, kp, 10, 40950, &u));
		if (u % 10)
			return fail(p, v, kp, "VRRPv3 counts adverts in centiseconds: use "
				    "a multiple of 10");
		ha->advert_ms = u;
	}
	if ((v = field(p, n, path, "vrrp_interface", kp))) {
		TRY(get_ifname(p, v, kp, ha->vrrp_interface));
		if (!config_has_interface(p->cfg, ha->vrrp_interface))
			return fail(p, v, kp, "\"%s\" is neither a lan nor a wan interface "
				    "of this config", ha->vrrp_interface);
	} else if (p->cfg->n_lans) {
		snprintf(ha->vrrp_interface, sizeof(ha->vrrp_interface), "%s",
			 p->cfg->lans[0].interface);
	}
	return 0;
}

static int parse_ha(struct parser *p, const yaml_node_t *root)
{
	static const char *const keys[] = {
		"peer", "sync_interface", "port", "priority", "preempt", "vrid",
		"advert_ms", "vrrp_interface", "state_dir", "virtual", NULL,
	};
	struct xwan_ha *ha = &p->cfg->ha;
	char kp[PATH_LEN], fp[PATH_LEN];
	const yaml_node_t *n = section(p, root, "", "ha", kp), *v;
	struct text t;

	if (!n)
		return 0;
	TRY(check_keys(p, n, kp, keys));
	ha->enabled = true;
	ha->line = (int)line_of(n);
	if (!(v = require(p, n, kp, "peer", fp)))
		return -1;
	TRY(get_ipv4(p, v, fp, &ha->peer));
	if (!ha->peer || (ntohl(ha->peer) >> 28) >= 14)
		return fail(p, v, fp, "the peer must be a unicast address");
	if (!(v = require(p, n, kp, "sync_interface", fp)))
		return -1;
	TRY(get_ifname(p, v, fp, ha->sync_interface));
	if (config_has_interface(p->cfg, ha->sync_interface))
		return fail(p, v, fp, "\"%s\" carries traffic; the sync link must be "
			    "an interface of its own", ha->sync_interface);
	if ((v = field(p, n, kp, "port", fp)))
		TRY(get_u16(p, v, fp, 1, 65535, &ha->port));
	TRY(parse_ha_vrrp(p, n, kp));
	if ((v = field(p, n, kp, "state_dir", fp))) {
		TRY(read_text(p, v, fp, "a directory", &t));
		if (t.s[0] != '/' || t.len >= sizeof(ha->state_dir) - 32)
			return fail(p, v, fp, "\"%s\" must be an absolute path of at most "
				    "%zu characters", t.q, sizeof(ha->state_dir) - 33);
		memcpy(ha->state_dir, t.s, t.len + 1);
	}
	if (!(v = require(p, n, kp, "virtual", fp)))
		return -1;
	return parse_ha_virtual(p, v, fp);
}

uint32_t xwan_ha_virtual_on(const struct xwan_config *cfg, const char *ifname)
{
	if (!cfg->ha.enabled)
		return 0;
	for (int i = 0; i < cfg->ha.n_virtual; i++)
		if (!strcmp(cfg->ha.virtual[i].interface, ifname))
			return cfg->ha.virtual[i].addr.addr;
	return 0;
}

/* FNV-1a over the parsed config with what may differ between the two routers zeroed. */
uint64_t xwan_config_hash(const struct xwan_config *cfg)
{
	struct xwan_config *c = malloc(sizeof(*c));
	uint64_t h = 0xcbf29ce484222325ULL;
	const unsigned char *b;

	if (!c)
		return 0;
	memcpy(c, cfg, sizeof(*c));
	memset(c->path, 0, sizeof(c->path));
	for (int i = 0; i < XWAN_MAX_LANS; i++)
		c->lans[i].line = 0;
	for (int i = 0; i < XWAN_MAX_GATEWAYS; i++)
		c->wans[i].line = 0, c->wans[i].gw = 0;
	for (int i = 0; i < XWAN_MAX_GROUPS; i++)
		c->groups[i].line = 0;
	for (int i = 0; i < XWAN_MAX_RULES; i++)
		c->rules[i].line = 0;
	for (int i = 0; i < XWAN_MAX_FORWARDS; i++)
		c->forwards[i].line = 0;
	c->ha.peer = 0;
	c->ha.priority = 0;
	c->ha.line = 0;
	memset(c->ha.state_dir, 0, sizeof(c->ha.state_dir));
	for (int i = 0; i < XWAN_HA_MAX_VIRTUAL; i++)
		c->ha.virtual[i].line = 0;
	b = (const unsigned char *)c;
	for (size_t i = 0; i < sizeof(*c); i++)
		h = (h ^ b[i]) * 0x100000001b3ULL;
	free(c);
	return h;
}

/* ------------------------------------------------------------ document */

static void config_defaults(struct xwan_config *cfg, const char *name)
{
	memset(cfg, 0, sizeof(*cfg));
	snprintf(cfg->path, sizeof(cfg->path), "%s", name);
	cfg->timeouts.tcp_established = 7440;
	/* The RFC minimums: RFC 5382 REQ-5 (transitory >= 240 s), RFC 4787
	 * REQ-5 (UDP >= 120 s, 300 s recommended), RFC 5508 REQ-1 (ICMP >= 60 s). */
	cfg->timeouts.tcp_transitory = 240;
	cfg->timeouts.udp = 300;
	cfg->timeouts.icmp = 60;
	cfg->flow_table_size = 262144;
	cfg->fwmark_mask = 0x00ff0000;
	cfg->route_table_base = 0x7877;
	cfg->rule_priority = 1000;
	snprintf(cfg->metrics_listen, sizeof(cfg->metrics_listen),
		 "127.0.0.1:9469");
	cfg->manage_default_route = false;
	cfg->asymmetric = ASYM_DROP;
	cfg->tcp_liberal = false;
	cfg->unreplied_per_lan_host = 4096;
	cfg->unreplied_per_wan_host = 256;
	cfg->ha.port = XWAN_HA_DEFAULT_PORT;
	cfg->ha.priority = 100;
	cfg->ha.vrid = 51;
	cfg->ha.advert_ms = 100;
	cfg->hooks.timeout_ms = 10000;
	snprintf(cfg->ha.state_dir, sizeof(cfg->ha.state_dir), "/run/xwan-ha");
}

static int parse_root(struct parser *p, const yaml_node_t *root)
{
	static const char *const keys[] = {
		"lan", "wan", "groups", "default_group", "rules",
		"port_forwards", "timeouts", "flow_table_size", "fwmark_mask",
		"route_table_base", "rule_priority", "metrics",
		"manage_default_route", "asymmetric", "tcp_liberal", "limits", "ha", "hooks", NULL,
	};

	if (!root || is_null(root))
		return fail(p, root, "", "empty configuration (at least \"lan\" "
			    "and \"wan\" are required)");
	TRY(check_keys(p, root, "", keys));
	TRY(parse_lans(p, root));
	TRY(parse_wans(p, root));
	TRY(parse_groups(p, root));
	TRY(parse_default_group(p, root));
	TRY(parse_rules(p, root));
	TRY(parse_forwards(p, root));
	TRY(parse_timeouts(p, root));
	TRY(parse_kernel_settings(p, root));
	TRY(parse_agent_settings(p, root));
	return parse_ha(p, root);
}

/* libyaml's reader reports a byte offset, not a line: count them. */
static unsigned long offset_line(const char *buf, size_t len, size_t offset)
{
	unsigned long line = 1;

	for (size_t i = 0; i < offset && i < len; i++)
		line += buf[i] == '\n';
	return line;
}

static bool line_has_tab(const char *buf, size_t len, unsigned long line)
{
	size_t i = 0;

	for (unsigned long l = 1; l < line && i < len; i++)
		l += buf[i] == '\n';
	for (; i < len && buf[i] != '\n'; i++)
		if (buf[i] == '\t')
			return true;
	return false;
}

static int syntax_error(struct parser *p, const yaml_parser_t *yp,
			const char *buf, size_t len)
{
	char msg[XWAN_ERR_MAX], ctx[160] = "";
	const char *problem = yp->problem ? yp->problem : "malformed YAML";
	unsigned long line;

	if (yp->error == YAML_MEMORY_ERROR) {
		report(p->err, p->errlen, p->name, 1, "", "out of memory");
		return -1;
	}
	if (yp->error == YAML_READER_ERROR)
		line = offset_line(buf, len, yp->problem_offset);
	else
		line = (unsigned long)yp->problem_mark.line + 1;
	if (yp->context)
		snprintf(ctx, sizeof(ctx), " (%s at line %lu)", yp->context,
			 (unsigned long)yp->context_mark.line + 1);
	snprintf(msg, sizeof(msg), "syntax error: %s%s%s", problem, ctx,
		 line_has_tab(buf, len, line) ?
		 "; YAML indentation must use spaces, not tabs" : "");
	report(p->err, p->errlen, p->name, line, "", msg);
	return -1;
}

/* A second "---" document would be silently ignored: refuse it. */
static int expect_end(struct parser *p, yaml_parser_t *yp, const char *buf,
		      size_t len)
{
	yaml_document_t next;
	yaml_node_t *root;
	int rc = 0;

	if (!yaml_parser_load(yp, &next))
		return syntax_error(p, yp, buf, len);
	root = yaml_document_get_root_node(&next);
	if (root)
		rc = fail(p, root, "", "only one YAML document is allowed");
	yaml_document_delete(&next);
	return rc;
}

int xwan_config_parse(const char *buf, size_t len, const char *name,
		      struct xwan_config *cfg, char *err, size_t errlen)
{
	struct parser p = {
		.name = name ? name : "<config>", .err = err, .errlen = errlen,
		.cfg = cfg,
	};
	yaml_parser_t yp;
	yaml_document_t doc;
	int rc;

	if (err && errlen)
		err[0] = '\0';
	config_defaults(cfg, p.name);
	if (!buf)
		buf = "", len = 0;
	if (!yaml_parser_initialize(&yp)) {
		report(err, errlen, p.name, 1, "", "out of memory");
		return -1;
	}
	yaml_parser_set_input_string(&yp, (const unsigned char *)buf, len);
	if (!yaml_parser_load(&yp, &doc)) {
		rc = syntax_error(&p, &yp, buf, len);
		yaml_parser_delete(&yp);
		return rc;
	}
	p.doc = &doc;
	rc = expect_end(&p, &yp, buf, len);
	if (rc == 0)
		rc = parse_root(&p, yaml_document_get_root_node(&doc));
	yaml_document_delete(&doc);
	yaml_parser_delete(&yp);
	return rc;
}

/* Grows the buffer as the file does; FILE_MAX stops a runaway read. */
static int read_file(const char *path, char **out, size_t *outlen,
		     char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	size_t len = 0, cap = 0, n;
	char *buf = NULL, *bigger;
	int rc = -1;

	if (!f) {
		snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
		return -1;
	}
	do {
		if (len == cap) {
			cap = cap ? cap * 2 : 16384;
			bigger = cap <= 2 * FILE_MAX ? realloc(buf, cap) : NULL;
			if (!bigger)
				break;
			buf = bigger;
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
	} while (n > 0);

	if (ferror(f))
		snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
	else if (len > FILE_MAX)
		snprintf(err, errlen, "%s: file is larger than %u bytes", path,
			 FILE_MAX);
	else if (len == cap)
		snprintf(err, errlen, "cannot read %s: out of memory", path);
	else
		rc = 0;
	fclose(f);
	if (rc == 0) {
		*out = buf;
		*outlen = len;
	} else {
		free(buf);
	}
	return rc;
}

int xwan_config_load(const char *path, struct xwan_config *cfg,
		     char *err, size_t errlen)
{
	char dummy[1];
	char *buf;
	size_t len;
	int rc;

	if (!err || !errlen) {
		err = dummy;
		errlen = sizeof(dummy);
	}
	if (read_file(path, &buf, &len, err, errlen))
		return -1;
	rc = xwan_config_parse(buf, len, path, cfg, err, errlen);
	free(buf);
	return rc;
}

/* -------------------------------------------------------------- system */

struct iface_ref {
	const char *name;
	char owner[16];         /* "lan[3]", "wan[31]" */
	int line;
};

static int list_interfaces(const struct xwan_config *cfg,
			   struct iface_ref refs[MAX_CLAIMS])
{
	int n = 0;

	for (int i = 0; i < cfg->n_lans && i < XWAN_MAX_LANS; i++, n++) {
		refs[n].name = cfg->lans[i].interface;
		refs[n].line = cfg->lans[i].line;
		snprintf(refs[n].owner, sizeof(refs[n].owner), "lan[%d]", i);
	}
	for (int i = 0; i < cfg->n_wans && i < XWAN_MAX_GATEWAYS; i++, n++) {
		refs[n].name = cfg->wans[i].interface;
		refs[n].line = cfg->wans[i].line;
		snprintf(refs[n].owner, sizeof(refs[n].owner), "wan[%d]", i);
	}
	return n;
}

bool xwan_iface_is_dynamic(const char *ifname)
{
	static const char *const prefixes[] = { "ppp", "wwan", "wg", "tun", NULL };

	for (int i = 0; prefixes[i]; i++)
		if (!strncmp(ifname, prefixes[i], strlen(prefixes[i])))
			return true;
	return false;
}

/* A hook must be a regular file root may execute. */
static bool hook_unusable(const char *path, char *msg, size_t len)
{
	struct stat st;

	if (stat(path, &st)) {
		snprintf(msg, len, "cannot use \"%s\": %s", path, strerror(errno));
		return true;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(msg, len, "\"%s\" is not a regular file", path);
		return true;
	}
	if (access(path, X_OK)) {
		snprintf(msg, len, "\"%s\" is not executable (chmod +x it)", path);
		return true;
	}
	return false;
}

/*
 * gateway6: auto follows the default route the kernel learns from router
 * advertisements, and a forwarding interface learns none unless accept_ra
 * is 2 (and accept_ra_defrtr on). Said, not refused: the admin may set it
 * after xwan starts, and the WAN joins then.
 */
static int check_accept_ra(const struct xwan_config *cfg, xwan_warn_fn warn, void *ctx)
{
	char msg[XWAN_ERR_MAX], line[2 * XWAN_ERR_MAX + 320];
	int warnings = 0;

	for (int i = 0; i < cfg->n_wans; i++) {
		const char *ifn = cfg->wans[i].interface;
		int ra = xwan_conf_int("ipv6", ifn, "accept_ra");
		int fwd = xwan_conf_int("ipv6", ifn, "forwarding");
		int defrtr = xwan_conf_int("ipv6", ifn, "accept_ra_defrtr");
		char key[PATH_LEN];

		if (!cfg->wans[i].v6.enabled || !cfg->wans[i].v6.gateway_auto || ra < 0 ||
		    ((ra == 2 || (ra == 1 && fwd == 0)) && defrtr != 0))
			continue;
		snprintf(key, sizeof(key), "wan[%d].gateway6", i);
		snprintf(msg, sizeof(msg), "auto: %s learns no default route from router "
			 "advertisements (accept_ra %d, forwarding %d, accept_ra_defrtr %d); set "
			 "net.ipv6.conf.%s.accept_ra=2, or the WAN has no IPv6 gateway", ifn, ra,
			 fwd, defrtr, ifn);
		report(line, sizeof(line), cfg->path, (unsigned long)cfg->wans[i].line, key, msg);
		if (warn)
			warn(ctx, line);
		warnings++;
	}
	return warnings;
}

int xwan_config_check_system(const struct xwan_config *cfg, enum xwan_syscheck mode,
			     xwan_warn_fn warn, void *ctx, char *err, size_t errlen)
{
	struct iface_ref refs[MAX_CLAIMS];
	char msg[XWAN_ERR_MAX], key[PATH_LEN], line[2 * XWAN_ERR_MAX + 320];
	int n = list_interfaces(cfg, refs), warnings = 0;

	for (int i = 0; i < n; i++) {
		bool wan = i >= cfg->n_lans, soft;
		int j = 0;

		while (j < i && strcmp(refs[i].name, refs[j].name))
			j++;
		key_path(key, refs[i].owner, "interface");
		if (j < i) {
			snprintf(msg, sizeof(msg), "interface \"%s\" is already "
				 "used by %s (line %d)", refs[i].name,
				 refs[j].owner, refs[j].line);
		} else if (if_nametoindex(refs[i].name) == 0) {
			soft = wan && (mode == XWAN_SYSCHECK_START ||
				       xwan_iface_is_dynamic(refs[i].name));
			snprintf(msg, sizeof(msg), "no interface \"%s\" in this "
				 "network namespace", refs[i].name);
			if (!soft) {
				report(err, errlen, cfg->path, (unsigned long)refs[i].line,
				       key, msg);
				return -1;
			}
			report(line, sizeof(line), cfg->path, (unsigned long)refs[i].line,
			       key, msg);
			snprintf(line + strlen(line), sizeof(line) - strlen(line),
				 " (the WAN is down until it appears)");
			if (warn)
				warn(ctx, line);
			warnings++;
			continue;
		} else {
			continue;
		}
		report(err, errlen, cfg->path, (unsigned long)refs[i].line, key, msg);
		return -1;
	}
	if (cfg->ha.enabled && if_nametoindex(cfg->ha.sync_interface) == 0) {
		snprintf(msg, sizeof(msg), "no interface \"%s\" in this network "
			 "namespace", cfg->ha.sync_interface);
		report(err, errlen, cfg->path, (unsigned long)cfg->ha.line,
		       "ha.sync_interface", msg);
		return -1;
	}
	if (cfg->hooks.on_gateway_change[0] &&
	    hook_unusable(cfg->hooks.on_gateway_change, msg, sizeof(msg))) {
		report(err, errlen, cfg->path, (unsigned long)cfg->hooks.line,
		       "hooks.on_gateway_change", msg);
		return -1;
	}
	return warnings + check_accept_ra(cfg, warn, ctx);
}

/* ------------------------------------------------------------- helpers */

const char *xwan_probe_method_name(enum xwan_probe_method m)
{
	switch (m) {
	case XWAN_PROBE_ICMP:
		return "icmp";
	case XWAN_PROBE_TCP:
		return "tcp";
	case XWAN_PROBE_DNS:
		return "dns";
	case XWAN_PROBE_HTTP:
		return "http";
	}
	return "unknown";
}

int xwan_wan_by_name(const struct xwan_config *cfg, const char *name)
{
	return find_name(cfg->wans[0].name, sizeof(cfg->wans[0]),
			 cfg->n_wans, name);
}

int xwan_group_by_name(const struct xwan_config *cfg, const char *name)
{
	return find_name(cfg->groups[0].name, sizeof(cfg->groups[0]),
			 cfg->n_groups, name);
}
