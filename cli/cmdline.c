// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Table-driven command line parsing; see cmdline.h for the rules. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cmdline.h"

#define MAX_OPTS 64     /* per table; cl_check_tables enforces it */
#define HELP_COL 28

struct parse_state {
	const struct cl_program *p;
	const struct cl_command *cmd;
	void *cfg, *global;
	uint64_t seen_cmd, seen_global;
	int n_positional;
	bool help;
	char *err;
	size_t errlen;
};

static int fail(struct parse_state *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int fail(struct parse_state *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s->err, s->errlen, fmt, ap);
	va_end(ap);
	return -1;
}

static int n_options(const struct cl_option *o)
{
	int n = 0;

	while (o && o[n].name)
		n++;
	return n;
}

static bool takes_value(const struct cl_option *o)
{
	return o->type != CL_BOOL;
}

/* What the option expects, for messages: FILE, IP, tcp|udp|icmp... */
static void metavar(const struct cl_option *o, char *buf, size_t len)
{
	size_t off = 0;

	if (o->metavar || o->type != CL_ENUM) {
		snprintf(buf, len, "%s", o->metavar ? o->metavar :
			 o->type == CL_IPV4 || o->type == CL_IP ? "IP" : o->type == CL_PORT ? "PORT" :
			 o->type == CL_UINT ? "N" : "VALUE");
		return;
	}
	buf[0] = 0;
	for (const struct cl_enum *e = o->values; e && e->name && off < len; e++)
		off += (size_t)snprintf(buf + off, len - off, "%s%s", e == o->values ? "" : "|",
					e->name);
}

/* Levenshtein distance, for "did you mean"; names are short. */
static int distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	int row[64], prev_diag, tmp;

	if (la >= 64 || lb >= 64)
		return 99;
	for (size_t j = 0; j <= lb; j++)
		row[j] = (int)j;
	for (size_t i = 1; i <= la; i++) {
		prev_diag = row[0];
		row[0] = (int)i;
		for (size_t j = 1; j <= lb; j++) {
			int best = prev_diag + (a[i - 1] != b[j - 1]);

			if (row[j] + 1 < best)
				best = row[j] + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			tmp = row[j];
			row[j] = best;
			prev_diag = tmp;
		}
	}
	return row[lb];
}

static void closest(const struct cl_option *opts, const char *name, const char **best,
		    int *best_d)
{
	for (int i = 0; opts && opts[i].name; i++) {
		int d;

		if (opts[i].flags & CL_POSITIONAL)
			continue;
		d = distance(name, opts[i].name);
		if (d < *best_d) {
			*best_d = d;
			*best = opts[i].name;
		}
	}
}

static const struct cl_option *find_long(const struct cl_option *opts, const char *name,
					 size_t len, int *idx)
{
	for (int i = 0; opts && opts[i].name; i++)
		if (!(opts[i].flags & CL_POSITIONAL) && strlen(opts[i].name) == len &&
		    !strncmp(opts[i].name, name, len)) {
			*idx = i;
			return &opts[i];
		}
	return NULL;
}

static const struct cl_option *find_short(const struct cl_option *opts, char c, int *idx)
{
	for (int i = 0; opts && opts[i].name; i++)
		if (!(opts[i].flags & CL_POSITIONAL) && opts[i].short_name == c) {
			*idx = i;
			return &opts[i];
		}
	return NULL;
}

static int set_value(struct parse_state *s, const struct cl_option *o, void *base,
		     const char *v)
{
	char *field = (char *)base + o->offset, mv[128], *end;
	unsigned long ul;
	long l;

	metavar(o, mv, sizeof(mv));
	switch (o->type) {
	case CL_BOOL:
		*(bool *)field = true;
		return 0;
	case CL_STRING:
		if (!*v)
			return fail(s, "--%s needs %s, got an empty value", o->name, mv);
		*(const char **)field = v;
		return 0;
	case CL_IPV4:
		if (inet_pton(AF_INET, v, field) != 1)
			return fail(s, "--%s needs an IPv4 address, got \"%s\"", o->name, v);
		return 0;
	case CL_IP: {
		struct cl_ip *ip = (struct cl_ip *)(void *)field;

		ip->family = strchr(v, ':') ? AF_INET6 : AF_INET;
		if (inet_pton(ip->family, v, ip->family == AF_INET6 ? (void *)&ip->v6
								  : (void *)&ip->v4) != 1)
			return fail(s, "--%s needs an IPv4 or IPv6 address, got \"%s\"", o->name, v);
		return 0;
	}
	case CL_PORT:
		errno = 0;
		l = strtol(v, &end, 10);
		if (!*v || *end || errno || l < 0 || l > 65535)
			return fail(s, "--%s needs a port number 0-65535, got \"%s\"", o->name, v);
		*(int *)field = (int)l;
		return 0;
	case CL_UINT:
		errno = 0;
		ul = strtoul(v, &end, 10);
		if (!*v || *end || errno || *v == '-' || ul > UINT32_MAX)
			return fail(s, "--%s needs a number, got \"%s\"", o->name, v);
		*(unsigned *)field = (unsigned)ul;
		return 0;
	case CL_ENUM:
		for (const struct cl_enum *e = o->values; e && e->name; e++)
			if (!strcmp(e->name, v)) {
				*(int *)field = e->value;
				return 0;
			}
		if (o->flags & CL_POSITIONAL) {
			struct cl_option bare = *o;

			bare.metavar = NULL;    /* the values, not the argument's name */
			metavar(&bare, mv, sizeof(mv));
			return fail(s, "%s is one of %s, got \"%s\"", o->metavar, mv, v);
		}
		return fail(s, "--%s is one of %s, got \"%s\"", o->name, mv, v);
	}
	return fail(s, "--%s: unknown option type", o->name);
}

/* Which other commands take this option, for "--x is an option of up, run". */
static void owners(const struct cl_program *p, const char *name, size_t len, char *buf,
		   size_t buflen)
{
	size_t off = 0;
	int idx;

	buf[0] = 0;
	for (const struct cl_command *const *cp = p->commands; *cp && off < buflen; cp++)
		if (find_long((*cp)->options, name, len, &idx))
			off += (size_t)snprintf(buf + off, buflen - off, "%s%s", off ? ", " : "",
						(*cp)->name);
}

static int unknown_long(struct parse_state *s, const char *name, size_t len)
{
	char n[64], where[256];
	const char *best = NULL;
	int best_d = 3;

	snprintf(n, sizeof(n), "%.*s", (int)(len < 63 ? len : 63), name);
	if (s->cmd)
		closest(s->cmd->options, n, &best, &best_d);
	closest(s->p->globals, n, &best, &best_d);
	if (best && best_d <= (int)(strlen(n) / 3 + 1))
		return fail(s, "unknown option --%s%s%s (did you mean --%s?)", n,
			    s->cmd ? " for " : "", s->cmd ? s->cmd->name : "", best);
	owners(s->p, name, len, where, sizeof(where));
	if (where[0] && s->cmd)
		return fail(s, "--%s is not an option of %s (it is one of: %s)", n, s->cmd->name,
			    where);
	if (where[0])
		return fail(s, "--%s is an option of a command (%s); put it after the command",
			    n, where);
	return fail(s, "unknown option --%s%s%s", n, s->cmd ? " for " : "",
		    s->cmd ? s->cmd->name : "");
}

static int mark_seen(struct parse_state *s, const struct cl_option *o, bool global, int idx)
{
	uint64_t *seen = global ? &s->seen_global : &s->seen_cmd;

	if (*seen & (1ull << idx)) {
		if (o->type == CL_BOOL)
			return 0;       /* --json --json is harmless */
		return fail(s, "--%s given twice", o->name);
	}
	*seen |= 1ull << idx;
	return 0;
}

/* One option whose name (and maybe =value) is known; may consume argv[*i + 1]. */
static int take_option(struct parse_state *s, const struct cl_option *o, bool global, int idx,
		       const char *inline_val, int argc, char **argv, int *i)
{
	char mv[128];
	const char *v = inline_val;

	if (mark_seen(s, o, global, idx))
		return -1;
	if (!takes_value(o)) {
		if (inline_val)
			return fail(s, "--%s takes no value (got \"%s\")", o->name, inline_val);
		if (global && s->p->help_option && !strcmp(o->name, s->p->help_option))
			s->help = true;
		return set_value(s, o, global ? s->global : s->cfg, NULL);
	}
	metavar(o, mv, sizeof(mv));
	if (!v) {
		if (*i + 1 >= argc)
			return fail(s, "--%s needs %s", o->name, mv);
		v = argv[*i + 1];
		/* "-c --no-generic" is a forgotten value, not a file named so. */
		if (v[0] == '-' && v[1])
			return fail(s, "--%s needs %s, got the option %s (use --%s=%s if that "
				    "is really the value)", o->name, mv, v, o->name, v);
		(*i)++;
	}
	return set_value(s, o, global ? s->global : s->cfg, v);
}

static int parse_long(struct parse_state *s, int argc, char **argv, int *i)
{
	const char *name = argv[*i] + 2, *eq = strchr(name, '=');
	size_t len = eq ? (size_t)(eq - name) : strlen(name);
	const struct cl_option *o = NULL;
	bool global = false;
	int idx = -1;

	if (s->cmd)
		o = find_long(s->cmd->options, name, len, &idx);
	if (!o) {
		o = find_long(s->p->globals, name, len, &idx);
		global = o != NULL;
	}
	if (!o)
		return unknown_long(s, name, len);
	return take_option(s, o, global, idx, eq ? eq + 1 : NULL, argc, argv, i);
}

/* -v, -c FILE, -cFILE, -vh. */
static int parse_short(struct parse_state *s, int argc, char **argv, int *i)
{
	const char *arg = argv[*i];

	for (size_t k = 1; arg[k]; k++) {
		const struct cl_option *o = NULL;
		bool global = false;
		int idx = -1;

		if (s->cmd)
			o = find_short(s->cmd->options, arg[k], &idx);
		if (!o) {
			o = find_short(s->p->globals, arg[k], &idx);
			global = o != NULL;
		}
		if (!o)
			return fail(s, "unknown option -%c%s%s", arg[k], s->cmd ? " for " : "",
				    s->cmd ? s->cmd->name : "");
		if (takes_value(o))
			return take_option(s, o, global, idx, arg[k + 1] ? arg + k + 1 : NULL,
					   argc, argv, i);
		if (take_option(s, o, global, idx, NULL, argc, argv, i))
			return -1;
	}
	return 0;
}

static int command_word(struct parse_state *s, const char *word)
{
	const struct cl_command *best = NULL;
	int best_d = 3;

	s->cmd = cl_find_command(s->p, word);
	if (s->cmd) {
		s->cfg = calloc(1, s->cmd->cfg_size ? s->cmd->cfg_size : 1);
		if (!s->cfg)
			return fail(s, "out of memory");
		if (s->cmd->defaults)
			memcpy(s->cfg, s->cmd->defaults, s->cmd->cfg_size);
		return 0;
	}
	for (const struct cl_command *const *c = s->p->commands; *c; c++) {
		int d = distance(word, (*c)->name);

		if (d < best_d) {
			best_d = d;
			best = *c;
		}
	}
	if (best && best_d <= (int)(strlen(word) / 3 + 1))
		return fail(s, "unknown command \"%s\" (did you mean %s?)", word, best->name);
	return fail(s, "unknown command \"%s\" (%s help lists the commands)", word, s->p->name);
}

static void positional_list(const struct cl_command *c, char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = 0;
	for (int i = 0; c->options && c->options[i].name && off < len; i++)
		if (c->options[i].flags & CL_POSITIONAL)
			off += (size_t)snprintf(buf + off, len - off, "%s%s", off ? " " : "",
						c->options[i].metavar);
}

static int positional(struct parse_state *s, const char *word)
{
	const struct cl_option *opts = s->cmd->options;
	char list[128];
	int n = 0;

	for (int i = 0; opts && opts[i].name; i++) {
		if (!(opts[i].flags & CL_POSITIONAL))
			continue;
		if (n++ == s->n_positional) {
			s->n_positional++;
			s->seen_cmd |= 1ull << i;
			return set_value(s, &opts[i], s->cfg, word);
		}
	}
	positional_list(s->cmd, list, sizeof(list));
	if (!n)
		return fail(s, "%s takes no arguments, got \"%s\"%s", s->cmd->name, word,
			    word[0] == '-' ? " after --" : "");
	return fail(s, "%s takes %s, got an extra \"%s\"", s->cmd->name, list, word);
}

static int check_required(struct parse_state *s)
{
	const struct cl_option *opts = s->cmd->options;
	char mv[128];

	for (int i = 0; opts && opts[i].name; i++) {
		if (!(opts[i].flags & CL_REQUIRED) || s->seen_cmd & (1ull << i))
			continue;
		metavar(&opts[i], mv, sizeof(mv));
		if (opts[i].flags & CL_POSITIONAL)
			return fail(s, "%s needs %s", s->cmd->name, mv);
		if (opts[i].short_name)
			return fail(s, "%s needs -%c %s (--%s %s)", s->cmd->name,
				    opts[i].short_name, mv, opts[i].name, mv);
		return fail(s, "%s needs --%s %s", s->cmd->name, opts[i].name, mv);
	}
	return 0;
}

static int parse_args(struct parse_state *s, int argc, char **argv)
{
	bool options_done = false;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		int rc;

		if (!options_done && !strcmp(a, "--")) {
			options_done = true;
			continue;
		}
		if (!options_done && a[0] == '-' && a[1] == '-')
			rc = parse_long(s, argc, argv, &i);
		else if (!options_done && a[0] == '-' && a[1])
			rc = parse_short(s, argc, argv, &i);
		else if (!s->cmd)
			rc = command_word(s, a);
		else
			rc = positional(s, a);
		if (rc)
			return -1;
	}
	return 0;
}

enum cl_result cl_parse(const struct cl_program *p, int argc, char **argv, void *global,
			const struct cl_command **cmd, void **cfg, char *err, size_t errlen)
{
	struct parse_state s = { .p = p, .global = global, .err = err, .errlen = errlen };
	int rc;

	err[0] = 0;
	memset(global, 0, p->global_cfg_size);
	*cmd = NULL;
	*cfg = NULL;
	rc = parse_args(&s, argc, argv);
	*cmd = s.cmd;
	/* Asked for help before the mistake: give the help, not the error. */
	if (s.help) {
		free(s.cfg);
		err[0] = 0;
		return CL_HELP;
	}
	if (!rc && !s.cmd) {
		fail(&s, "no command given");
		rc = -1;
	}
	if (!rc)
		rc = check_required(&s);
	if (rc) {
		free(s.cfg);
		return CL_ERROR;
	}
	*cfg = s.cfg;
	return CL_OK;
}

const struct cl_command *cl_find_command(const struct cl_program *p, const char *name)
{
	for (const struct cl_command *const *c = p->commands; *c; c++)
		if (!strcmp((*c)->name, name))
			return *c;
	return NULL;
}

/* "-c FILE", "--textfile PATH", "--json", "NAME". */
static void option_synopsis(const struct cl_option *o, bool prefer_short, char *buf, size_t len)
{
	char mv[128];

	metavar(o, mv, sizeof(mv));
	if (o->flags & CL_POSITIONAL)
		snprintf(buf, len, "%s", mv);
	else if (prefer_short && o->short_name)
		snprintf(buf, len, "-%c%s%s", o->short_name, takes_value(o) ? " " : "",
			 takes_value(o) ? mv : "");
	else
		snprintf(buf, len, "--%s%s%s", o->name, takes_value(o) ? " " : "",
			 takes_value(o) ? mv : "");
}

void cl_print_usage(const struct cl_program *p, const struct cl_command *cmd, FILE *out)
{
	char syn[160];

	if (!cmd) {
		fprintf(out, "usage: %s [GLOBAL OPTIONS] COMMAND [OPTIONS]\n", p->name);
		return;
	}
	fprintf(out, "usage: %s %s", p->name, cmd->name);
	for (int i = 0; cmd->options && cmd->options[i].name; i++) {
		const struct cl_option *o = &cmd->options[i];
		bool req = o->flags & CL_REQUIRED;

		option_synopsis(o, true, syn, sizeof(syn));
		fprintf(out, req ? " %s" : " [%s]", syn);
	}
	fputc('\n', out);
}

static void print_text(FILE *out, const char *text, int indent)
{
	for (const char *t = text; *t; t++) {
		fputc(*t, out);
		if (*t == '\n' && t[1])
			fprintf(out, "%*s", indent, "");
	}
}

static void print_options(FILE *out, const struct cl_option *opts, bool positional)
{
	char left[200], syn[160];

	for (int i = 0; opts && opts[i].name; i++) {
		const struct cl_option *o = &opts[i];
		int n;

		if (!!(o->flags & CL_POSITIONAL) != positional)
			continue;
		option_synopsis(o, false, syn, sizeof(syn));
		if (o->short_name)
			snprintf(left, sizeof(left), "-%c, %s", o->short_name, syn);
		else
			snprintf(left, sizeof(left), "%s%s", positional ? "" : "    ", syn);
		n = fprintf(out, "  %s", left);
		if (n >= HELP_COL)
			fprintf(out, "\n%*s", HELP_COL, "");
		else
			fprintf(out, "%*s", HELP_COL - n, "");
		print_text(out, o->help ? o->help : "", HELP_COL);
		fprintf(out, "%s\n", o->flags & CL_REQUIRED && !positional ? " (required)" : "");
	}
}

static bool has_kind(const struct cl_option *opts, bool positional)
{
	for (int i = 0; opts && opts[i].name; i++)
		if (!!(opts[i].flags & CL_POSITIONAL) == positional)
			return true;
	return false;
}

void cl_print_help(const struct cl_program *p, const struct cl_command *cmd, FILE *out)
{
	cl_print_usage(p, cmd, out);
	fputc('\n', out);
	if (!cmd) {
		fprintf(out, "%s\n\ncommands:\n", p->doc);
		for (const struct cl_command *const *c = p->commands; *c; c++) {
			int n = fprintf(out, "  %s", (*c)->name);

			fprintf(out, "%*s", n < 12 ? 12 - n : 1, "");
			print_text(out, (*c)->summary, 12);
			fputc('\n', out);
		}
	} else {
		print_text(out, cmd->doc ? cmd->doc : cmd->summary, 0);
		fputc('\n', out);
		if (has_kind(cmd->options, true)) {
			fprintf(out, "\narguments:\n");
			print_options(out, cmd->options, true);
		}
		if (has_kind(cmd->options, false)) {
			fprintf(out, "\noptions:\n");
			print_options(out, cmd->options, false);
		}
	}
	fprintf(out, "\nglobal options (before or after the command):\n");
	print_options(out, p->globals, false);
	if (!cmd)
		fprintf(out, "\n'%s COMMAND --help' shows a command's options.\n", p->name);
}

static size_t type_size(enum cl_type t)
{
	switch (t) {
	case CL_BOOL: return sizeof(bool);
	case CL_STRING: return sizeof(const char *);
	case CL_IPV4: return sizeof(struct in_addr);
	case CL_IP: return sizeof(struct cl_ip);
	case CL_PORT: return sizeof(int);
	case CL_UINT: return sizeof(unsigned);
	case CL_ENUM: return sizeof(int);
	}
	return 0;
}

static int check_options(const struct cl_option *opts, size_t cfg_size,
			 const struct cl_option *globals, const char *where, char *err,
			 size_t errlen)
{
	bool optional_positional = false;
	int idx;

	if (n_options(opts) > MAX_OPTS) {
		snprintf(err, errlen, "%s: more than %d options", where, MAX_OPTS);
		return -1;
	}
	for (int i = 0; opts && opts[i].name; i++) {
		const struct cl_option *o = &opts[i];
		bool pos = o->flags & CL_POSITIONAL;

		if (type_size(o->type) != o->size || o->offset + o->size > cfg_size) {
			snprintf(err, errlen, "%s: --%s: field does not fit its type", where, o->name);
			return -1;
		}
		if (o->type == CL_ENUM && !o->values) {
			snprintf(err, errlen, "%s: --%s: an enum without values", where, o->name);
			return -1;
		}
		if (!o->help) {
			snprintf(err, errlen, "%s: --%s: no help text", where, o->name);
			return -1;
		}
		if (pos && optional_positional && o->flags & CL_REQUIRED) {
			snprintf(err, errlen, "%s: %s: required after an optional argument", where,
				 o->name);
			return -1;
		}
		optional_positional |= pos && !(o->flags & CL_REQUIRED);
		if (pos)
			continue;
		if (find_long(opts, o->name, strlen(o->name), &idx) != o ||
		    (globals && find_long(globals, o->name, strlen(o->name), &idx)) ||
		    (o->short_name && (find_short(opts, o->short_name, &idx) != o ||
				       (globals && find_short(globals, o->short_name, &idx))))) {
			snprintf(err, errlen, "%s: --%s: name used twice", where, o->name);
			return -1;
		}
	}
	return 0;
}

int cl_check_tables(const struct cl_program *p, char *err, size_t errlen)
{
	if (check_options(p->globals, p->global_cfg_size, NULL, "global", err, errlen))
		return -1;
	for (const struct cl_command *const *cp = p->commands; *cp; cp++) {
		const struct cl_command *c = *cp;

		if (!c->run || !c->summary || cl_find_command(p, c->name) != c) {
			snprintf(err, errlen, "%s: no function, no summary, or defined twice",
				 c->name);
			return -1;
		}
		if (check_options(c->options, c->cfg_size, p->globals, c->name, err, errlen))
			return -1;
	}
	return 0;
}
