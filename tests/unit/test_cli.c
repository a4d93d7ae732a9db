// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The command line: xwan's own tables through the parser. Mistakes must fail
 * with exit 2 and name what was expected; --help must never run a command.
 */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cli/cli.h"
#include "loader/maps.h"

struct parsed {
	enum cl_result rc;
	const struct cl_command *cmd;
	void *cfg;
	struct cli_global g;
	char err[512];
};

/* parse("run", "-c", "x") with argv[0] = "xwan". */
#define parse(p, ...) parse_argv(p, (char *[]){ "xwan", __VA_ARGS__, NULL })

static void parse_argv(struct parsed *p, char **argv)
{
	int argc = 0;

	while (argv[argc])
		argc++;
	free(p->cfg);
	memset(p, 0, sizeof(*p));
	p->rc = cl_parse(&xwan_cli, argc, argv, &p->g, &p->cmd, &p->cfg, p->err, sizeof(p->err));
}

/* The config structs are private to the commands; read fields by option. */
static const void *field(const struct parsed *p, const char *opt)
{
	for (const struct cl_option *o = p->cmd->options; o->name; o++)
		if (!strcmp(o->name, opt))
			return (const char *)p->cfg + o->offset;
	fail_msg("%s has no option %s", p->cmd->name, opt);
	return NULL;
}

static const char *str(const struct parsed *p, const char *opt)
{
	return *(const char *const *)field(p, opt);
}

static bool flag(const struct parsed *p, const char *opt)
{
	return *(const bool *)field(p, opt);
}

static int num(const struct parsed *p, const char *opt)
{
	return *(const int *)field(p, opt);
}

#define assert_error(p, text) do {                                                 \
		assert_int_equal((p)->rc, CL_ERROR);                               \
		assert_null((p)->cfg);                                             \
		if (!strstr((p)->err, text))                                       \
			fail_msg("error \"%s\" does not say \"%s\"", (p)->err, text); \
	} while (0)

static void test_tables_consistent(void **state)
{
	char err[256] = "";

	(void)state;
	assert_int_equal(cl_check_tables(&xwan_cli, err, sizeof(err)), 0);
	assert_string_equal(err, "");
}

/* The self-check is not a rubber stamp: a field of the wrong size is caught. */
struct bad_cfg { int not_a_string; bool x; };
static const struct bad_cfg bad_defaults;
static const struct cl_option bad_options[] = {
	DEFINE_OPTION("config", 'c', CL_STRING, struct bad_cfg, not_a_string, .help = "h"),
	END_OPTIONS
};
static const struct cl_option dup_options[] = {
	DEFINE_OPTION("x", 0, CL_BOOL, struct bad_cfg, x, .help = "h"),
	DEFINE_OPTION("x", 0, CL_BOOL, struct bad_cfg, x, .help = "h"),
	END_OPTIONS
};
static int do_bad(const void *cfg, const void *global) { return 0; }

static void test_tables_check_catches_mistakes(void **state)
{
	const struct cl_command bad = DEFINE_COMMAND(bad, struct bad_cfg, "s", NULL);
	struct cl_command dup = bad;
	const struct cl_command *cmds[] = { &bad, NULL };
	struct cl_program p = xwan_cli;
	char err[256];

	(void)state;
	p.commands = cmds;
	assert_int_equal(cl_check_tables(&p, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "does not fit"));
	dup.options = dup_options;
	cmds[0] = &dup;
	assert_int_equal(cl_check_tables(&p, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "used twice"));
}

static void test_help_never_runs_the_command(void **state)
{
	struct parsed p = { 0 };

	(void)state;
	parse(&p, "down", "--help");
	assert_int_equal(p.rc, CL_HELP);
	assert_string_equal(p.cmd->name, "down");
	assert_null(p.cfg);
	parse(&p, "-h", "up");
	assert_int_equal(p.rc, CL_HELP);
	assert_string_equal(p.cmd->name, "up");
	/* Help asked: a missing -c is not an error. */
	parse(&p, "run", "-h");
	assert_int_equal(p.rc, CL_HELP);
	parse(&p, "--help");
	assert_int_equal(p.rc, CL_HELP);
	assert_null(p.cmd);
}

static void test_unknown_option_suggests(void **state)
{
	struct parsed p = { 0 };

	(void)state;
	parse(&p, "run", "-c", "x.yaml", "--detach-on-exti");
	assert_error(&p, "unknown option --detach-on-exti for run (did you mean --detach-on-exit?)");
	assert_string_equal(p.cmd->name, "run");
	parse(&p, "flows", "--bogus");
	assert_error(&p, "unknown option --bogus for flows");
	parse(&p, "status", "--no-generic");
	assert_error(&p, "--no-generic is not an option of status (it is one of: up, run)");
	parse(&p, "--no-generic", "up", "-c", "x");
	assert_error(&p, "put it after the command");
	parse(&p, "status", "-x");
	assert_error(&p, "unknown option -x for status");
}

static void test_misplaced_arguments(void **state)
{
	struct parsed p = { 0 };

	(void)state;
	parse(&p, "down", "now");
	assert_error(&p, "down takes no arguments, got \"now\"");
	parse(&p, "run", "x.yaml");
	assert_error(&p, "run takes no arguments, got \"x.yaml\"");
	parse(&p, "help", "status", "flows");
	assert_error(&p, "help takes COMMAND, got an extra \"flows\"");
	parse(&p, "stauts");
	assert_error(&p, "unknown command \"stauts\" (did you mean stats?)");
	parse(&p, "frobnicate");
	assert_error(&p, "unknown command \"frobnicate\"");
	parse(&p, "-v");
	assert_error(&p, "no command given");
}

static void test_values(void **state)
{
	struct parsed p = { 0 };

	(void)state;
	parse(&p, "run");
	assert_error(&p, "run needs -c FILE");
	parse(&p, "up", "-c");
	assert_error(&p, "--config needs FILE");
	parse(&p, "up", "-c", "--no-generic");
	assert_error(&p, "--config needs FILE, got the option --no-generic");
	parse(&p, "up", "--config=");
	assert_error(&p, "empty value");
	parse(&p, "up", "-c", "a", "--config", "b");
	assert_error(&p, "--config given twice");
	parse(&p, "flows", "--json=yes");
	assert_error(&p, "--json takes no value");
	parse(&p, "flows", "--client", "10.1.0.300");
	assert_error(&p, "--client needs an IPv4 address, got \"10.1.0.300\"");
	parse(&p, "explain", "--src", "10.1.0.2", "--dst", "192.0.2.1", "--dport", "65536");
	assert_error(&p, "--dport needs a port number 0-65535, got \"65536\"");
	parse(&p, "explain", "--src", "10.1.0.2", "--dst", "192.0.2.1", "--dport", "-1");
	assert_error(&p, "--dport needs PORT, got the option -1");
	parse(&p, "explain", "--src", "10.1.0.2", "--dst", "192.0.2.1", "--proto", "sctp");
	assert_error(&p, "--proto is one of tcp|udp|icmp|icmpv6, got \"sctp\"");
	parse(&p, "explain", "--src", "fd00:1::2", "--dst", "2001:db8::1:2:3:4:5:6:7");
	assert_error(&p, "--dst needs an IPv4 or IPv6 address, got \"2001:db8::1:2:3:4:5:6:7\"");
	parse(&p, "explain", "--src", "10.1.0.2");
	assert_error(&p, "explain needs --dst IP");
}

static void test_good_command_lines(void **state)
{
	struct parsed p = { 0 };
	struct in_addr a;

	(void)state;
	/* --opt=value, -o value, -ovalue; global options after the command. */
	parse(&p, "run", "--config=/etc/xwan/xwan.yaml", "--textfile", "/t.prom",
	      "--detach-on-exit", "--pin-dir=/run/x", "-v");
	assert_int_equal(p.rc, CL_OK);
	assert_string_equal(p.cmd->name, "run");
	assert_string_equal(str(&p, "config"), "/etc/xwan/xwan.yaml");
	assert_string_equal(str(&p, "textfile"), "/t.prom");
	assert_true(flag(&p, "detach-on-exit"));
	assert_false(flag(&p, "no-generic"));
	assert_string_equal(p.g.pin_dir, "/run/x");
	assert_true(p.g.verbose);
	/* Global options before the command, -vcFILE bundles. */
	parse(&p, "--pin-dir", "/p", "up", "-vcx.yaml", "--no-generic");
	assert_int_equal(p.rc, CL_OK);
	assert_string_equal(str(&p, "config"), "x.yaml");
	assert_true(flag(&p, "no-generic"));
	assert_true(p.g.verbose);
	assert_string_equal(p.g.pin_dir, "/p");
	/* Defaults of explain: tcp, any source port. */
	parse(&p, "explain", "--dst=192.0.2.1", "--src", "10.1.0.2", "--dport", "443");
	assert_int_equal(p.rc, CL_OK);
	assert_int_equal(num(&p, "proto"), 6);
	assert_int_equal(num(&p, "dport"), 443);
	assert_int_equal(num(&p, "sport"), -1);
	memcpy(&a, field(&p, "src"), sizeof(a));
	assert_int_equal(a.s_addr, inet_addr("10.1.0.2"));
	/* An IPv6 pair: each address with its family. */
	parse(&p, "explain", "--src", "fd00:1::2", "--dst", "2001:db8:ffff::100", "--proto",
	      "icmpv6");
	assert_int_equal(p.rc, CL_OK);
	{
		struct cl_ip ip;
		struct in6_addr want;

		memcpy(&ip, field(&p, "src"), sizeof(ip));
		assert_int_equal(ip.family, AF_INET6);
		inet_pton(AF_INET6, "fd00:1::2", &want);
		assert_memory_equal(&ip.v6, &want, 16);
		memcpy(&ip, field(&p, "dst"), sizeof(ip));
		assert_int_equal(ip.family, AF_INET6);
	}
	assert_int_equal(num(&p, "proto"), IPPROTO_ICMPV6);
	parse(&p, "explain", "--src", "10.1.0.2", "--dst", "192.0.2.1", "--proto", "udp",
	      "--sport", "0");
	assert_int_equal(p.rc, CL_OK);
	assert_int_equal(num(&p, "proto"), 17);
	assert_int_equal(num(&p, "sport"), 0);
	/* "--" ends the options. */
	parse(&p, "help", "--", "status");
	assert_int_equal(p.rc, CL_OK);
	parse(&p, "flows", "--json", "--json");
	assert_int_equal(p.rc, CL_OK);
	free(p.cfg);
}

/* xwan gateway down|up NAME [--reason TEXT]. */
static void test_gateway_command_lines(void **state)
{
	struct parsed p = { 0 };

	(void)state;
	parse(&p, "gateway", "down", "isp1", "--reason", "fibre work");
	assert_int_equal(p.rc, CL_OK);
	assert_string_equal(p.cmd->name, "gateway");
	assert_int_equal(num(&p, "ACTION"), 0);
	assert_string_equal(str(&p, "NAME"), "isp1");
	assert_string_equal(str(&p, "reason"), "fibre work");
	/* Options anywhere, --opt=value, global options too. */
	parse(&p, "gateway", "--reason=x", "up", "--pin-dir", "/p", "isp2");
	assert_int_equal(p.rc, CL_OK);
	assert_int_equal(num(&p, "ACTION"), 1);
	assert_string_equal(str(&p, "NAME"), "isp2");
	assert_string_equal(p.g.pin_dir, "/p");
	parse(&p, "gateway", "up", "isp1");
	assert_int_equal(p.rc, CL_OK);
	assert_null(str(&p, "reason"));
	parse(&p, "gateway", "down", "isp1", "--help");
	assert_int_equal(p.rc, CL_HELP);
	assert_string_equal(p.cmd->name, "gateway");
	/* Mistakes. */
	parse(&p, "gateway");
	assert_error(&p, "gateway needs ACTION");
	parse(&p, "gateway", "down");
	assert_error(&p, "gateway needs NAME");
	parse(&p, "gateway", "sideways", "isp1");
	assert_error(&p, "ACTION is one of down|up, got \"sideways\"");
	parse(&p, "gateway", "down", "isp1", "isp2");
	assert_error(&p, "gateway takes ACTION NAME, got an extra \"isp2\"");
	parse(&p, "gateway", "down", "isp1", "--reason");
	assert_error(&p, "--reason needs TEXT");
	parse(&p, "gateway", "down", "isp1", "--reasn", "x");
	assert_error(&p, "did you mean --reason?");
	free(p.cfg);
}

/* Gateway names come from the running dataplane's record; retired slots are nobody's. */
static void test_gateway_names(void **state)
{
	struct xwan_runtime *rt = calloc(1, sizeof(*rt));
	char names[256];

	(void)state;
	assert_non_null(rt);
	rt->n_gateways = 3;
	strcpy(rt->gw_name[0], "isp1");
	strcpy(rt->gw_name[2], "lte");          /* slot 1 retired by a reload */
	assert_int_equal(cli_gateway_index(rt, "lte", names, sizeof(names)), 2);
	assert_string_equal(names, "isp1, lte");
	assert_int_equal(cli_gateway_index(rt, "isp1", names, sizeof(names)), 0);
	assert_int_equal(cli_gateway_index(rt, "isp2", names, sizeof(names)), -1);
	assert_int_equal(cli_gateway_index(rt, "", names, sizeof(names)), -1);
	rt->n_gateways = 0;
	assert_int_equal(cli_gateway_index(rt, "isp1", names, sizeof(names)), -1);
	assert_string_equal(names, "");
	free(rt);
}

/* Every option of every command is in its --help, and its usage line. */
static void test_help_text_lists_every_option(void **state)
{
	char *buf = NULL, *line = NULL, want[80];
	size_t len = 0, llen = 0;
	FILE *f, *u;

	(void)state;
	for (const struct cl_command *const *c = xwan_cli.commands; *c; c++) {
		f = open_memstream(&buf, &len);
		u = open_memstream(&line, &llen);
		cl_print_help(&xwan_cli, *c, f);
		cl_print_usage(&xwan_cli, *c, u);
		fclose(f);
		fclose(u);
		for (const struct cl_option *o = (*c)->options; o->name; o++) {
			if (o->flags & CL_POSITIONAL)
				snprintf(want, sizeof(want), "%s", o->metavar);
			else
				snprintf(want, sizeof(want), "--%s", o->name);
			if (!strstr(buf, want))
				fail_msg("xwan %s --help lacks %s", (*c)->name, want);
			if (!(o->short_name && strstr(line, (char[]){ '-', o->short_name, 0 })) &&
			    !strstr(line, want))
				fail_msg("usage of %s lacks %s", (*c)->name, want);
		}
		assert_non_null(strstr(buf, "--pin-dir DIR"));
		free(buf);
		free(line);
		buf = line = NULL;
	}
}

/* Through cli_main: usage errors exit 2 and nothing runs. */
static void test_exit_codes(void **state)
{
	(void)state;
	setenv("XWAN_PIN_DIR", "/nonexistent/xwan-test-cli", 1);
	assert_int_equal(cli_main(3, (char *[]){ "xwan", "down", "--detach-on-exti", NULL }), 2);
	assert_int_equal(cli_main(3, (char *[]){ "xwan", "down", "extra", NULL }), 2);
	assert_int_equal(cli_main(3, (char *[]){ "xwan", "gateway", "down", NULL }), 2);
	assert_int_equal(cli_main(5, (char *[]){ "xwan", "gateway", "up", "isp1", "--reason=x",
						 NULL }), 2);
	assert_int_equal(cli_main(2, (char *[]){ "xwan", "version", NULL }), 0);
	/* A real error (nothing pinned) is 1, not 2. */
	assert_int_equal(cli_main(2, (char *[]){ "xwan", "status", NULL }), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tables_consistent),
		cmocka_unit_test(test_tables_check_catches_mistakes),
		cmocka_unit_test(test_help_never_runs_the_command),
		cmocka_unit_test(test_unknown_option_suggests),
		cmocka_unit_test(test_misplaced_arguments),
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_good_command_lines),
		cmocka_unit_test(test_gateway_command_lines),
		cmocka_unit_test(test_gateway_names),
		cmocka_unit_test(test_help_text_lists_every_option),
		cmocka_unit_test(test_exit_codes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
