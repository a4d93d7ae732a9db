/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Command and option tables (in the style of xdp-tools' DEFINE_COMMAND /
 * DEFINE_OPTION): each command declares its options once, with the field of
 * its own config struct that receives the value. The parser, the usage lines,
 * `xwan CMD --help` and the error messages all come from those tables, so an
 * option cannot be accepted by one and forgotten by another.
 *
 * Rules the parser enforces (a router's CLI must catch mistakes, not guess):
 *  - an unknown option, a missing or superfluous value, an option given twice,
 *    a value of the wrong kind, an argument where none is expected, or a
 *    required option left out is an error (cl_parse returns CL_ERROR);
 *  - global options are accepted before and after the command;
 *  - --opt VALUE, --opt=VALUE, -o VALUE and -oVALUE are the same;
 *  - -h / --help anywhere asks for help (the command is not run);
 *  - "--" ends the options: what follows is positional.
 * This module knows nothing of xwan's commands; it has no dependencies.
 */
#ifndef XWAN_CLI_CMDLINE_H
#define XWAN_CLI_CMDLINE_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

enum cl_type {
	CL_BOOL,        /* bool; takes no value */
	CL_STRING,      /* const char * (points into argv) */
	CL_IPV4,        /* struct in_addr (network order) */
	CL_IP,          /* struct cl_ip: an IPv4 or an IPv6 address */
	CL_PORT,        /* int, 0..65535 (default the command's, e.g. -1) */
	CL_UINT,        /* unsigned int */
	CL_ENUM,        /* int, one of .values */
};

struct cl_ip {
	union {
		struct in_addr v4;      /* first: an IPv4 one reads as a struct in_addr */
		struct in6_addr v6;
	};
	int family;                     /* AF_INET or AF_INET6; 0: not given */
};

struct cl_enum {
	const char *name;
	int value;
};

enum {
	CL_REQUIRED   = 1 << 0,
	CL_POSITIONAL = 1 << 1,     /* an argument, not an option: named by metavar */
};

struct cl_option {
	const char *name;           /* long name without "--" (NULL: end of table) */
	char short_name;            /* 0: none */
	enum cl_type type;
	unsigned flags;
	size_t offset;              /* of the field in the command's config struct */
	size_t size;                /* of that field, checked against the type */
	const char *metavar;        /* FILE, IP, NAME... (positional: its name) */
	const char *help;
	const struct cl_enum *values;   /* CL_ENUM: NULL-name terminated */
};

#define CL_FIELD(_cfgtype, _field) \
	.offset = offsetof(_cfgtype, _field), .size = sizeof(((_cfgtype *)0)->_field)

/* DEFINE_OPTION("config", 'c', CL_STRING, struct run_cfg, config, .metavar = "FILE", ...) */
#define DEFINE_OPTION(_name, _short, _type, _cfgtype, _field, ...)                \
	{ .name = (_name), .short_name = (_short), .type = (_type),               \
	  CL_FIELD(_cfgtype, _field), __VA_ARGS__ }
#define DEFINE_ARGUMENT(_metavar, _type, _cfgtype, _field, ...)                   \
	{ .name = (_metavar), .metavar = (_metavar), .type = (_type),             \
	  .flags = CL_POSITIONAL, CL_FIELD(_cfgtype, _field), __VA_ARGS__ }
/* A positional argument that must be given. */
#define DEFINE_REQUIRED_ARGUMENT(_metavar, _type, _cfgtype, _field, ...)          \
	{ .name = (_metavar), .metavar = (_metavar), .type = (_type),             \
	  .flags = CL_POSITIONAL | CL_REQUIRED, CL_FIELD(_cfgtype, _field), __VA_ARGS__ }
#define END_OPTIONS { .name = NULL }

struct cl_command {
	const char *name;           /* NULL: end of table */
	const char *summary;        /* one line, in the list of commands */
	const char *doc;            /* paragraph(s), in `xwan CMD --help` */
	const struct cl_option *options;
	const void *defaults;       /* initial config (cfg_size bytes) */
	size_t cfg_size;
	/* cfg: the parsed config; global: the program's global config. */
	int (*run)(const void *cfg, const void *global);
};

/*
 * const struct cl_command cli_cmd_up = DEFINE_COMMAND(up, struct up_cfg,
 * "summary", "doc") uses up_options[], up_defaults and
 * do_up(const void *cfg, const void *global).
 */
#define DEFINE_COMMAND(_name, _cfgtype, _summary, _doc)                           \
	{ .name = #_name, .summary = (_summary), .doc = (_doc),                   \
	  .options = _name##_options, .defaults = &_name##_defaults,              \
	  .cfg_size = sizeof(_cfgtype), .run = do_##_name }

struct cl_program {
	const char *name;           /* "xwan" */
	const char *doc;            /* first paragraph of `xwan --help` */
	const struct cl_command *const *commands;   /* NULL-terminated */
	const struct cl_option *globals;
	size_t global_cfg_size;     /* cl_parse zeroes, then fills, that many bytes */
	const char *help_option;    /* name of the CL_BOOL global that asks for help */
};

enum cl_result {
	CL_OK = 0,      /* *cmd and *cfg set: run it */
	CL_HELP = 1,    /* help asked; *cmd set if a command was named (else NULL) */
	CL_ERROR = 2,   /* err says what was expected; exit 2 */
};

/*
 * Parse argv into global (the program's global config) and a freshly
 * allocated copy of the chosen command's config (*cfg, free() it). On
 * CL_ERROR, err holds one line that names the mistake and what would be
 * right, and *cmd the command if one was recognised (for its usage line).
 */
enum cl_result cl_parse(const struct cl_program *p, int argc, char **argv, void *global,
			const struct cl_command **cmd, void **cfg, char *err, size_t errlen);

/* The command named name, or NULL. */
const struct cl_command *cl_find_command(const struct cl_program *p, const char *name);

/* "usage: xwan run -c FILE [--textfile PATH] ..." (one line, newline included). */
void cl_print_usage(const struct cl_program *p, const struct cl_command *cmd, FILE *out);

/* Full help of a command (cmd NULL: the program, with its list of commands). */
void cl_print_help(const struct cl_program *p, const struct cl_command *cmd, FILE *out);

/* Self-check of the tables (field sizes match types, names unique, enums
 * given): 0, or -1 with err naming the first inconsistency. */
int cl_check_tables(const struct cl_program *p, char *err, size_t errlen);

#endif /* XWAN_CLI_CMDLINE_H */
