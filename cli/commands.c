// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* The program table: global options, the list of commands, and dispatch. */
#include <bpf/libbpf.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "loader/config.h"
#include "loader/maps.h"
#include "loader/pindir.h"
#include "loader/version.h"

static const struct cl_option global_options[] = {
	DEFINE_OPTION("pin-dir", 0, CL_STRING, struct cli_global, pin_dir, .metavar = "DIR",
		      .help = "where state is pinned (default " XWAN_PIN_DIR_DEFAULT
			      ", or $XWAN_PIN_DIR)"),
	DEFINE_OPTION("verbose", 'v', CL_BOOL, struct cli_global, verbose,
		      .help = "show libbpf's messages (verifier logs)"),
	DEFINE_OPTION("help", 'h', CL_BOOL, struct cli_global, help,
		      .help = "show this help (or the command's) and exit"),
	END_OPTIONS
};

static const struct cl_command *const commands[] = {
	&cli_cmd_check, &cli_cmd_up, &cli_cmd_down, &cli_cmd_run, &cli_cmd_reload,
	&cli_cmd_status, &cli_cmd_flows, &cli_cmd_stats, &cli_cmd_explain, &cli_cmd_gc,
	&cli_cmd_ha, &cli_cmd_gateway,
	&cli_cmd_version, &cli_cmd_help, NULL,
};

const struct cl_program xwan_cli = {
	.name = "xwan",
	.doc = "Multi-WAN gateway: per-flow load balancing, NAT and failover in eBPF.",
	.commands = commands,
	.globals = global_options,
	.global_cfg_size = sizeof(struct cli_global),
	.help_option = "help",
};

static bool verbose;

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	char msg[1024];

	if (level != LIBBPF_WARN && !verbose)
		return 0;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	/* An existing clsact qdisc is fine (we add our filter to it). */
	if (!verbose && strstr(msg, "Exclusivity flag on"))
		return 0;
	return fputs(msg, stderr);
}

const char *cli_pin_dir(const void *global)
{
	return xwan_pin_dir(((const struct cli_global *)global)->pin_dir);
}

static void warn_stderr(void *ctx, const char *msg)
{
	(void)ctx;
	fprintf(stderr, "warning: %s\n", msg);
}

struct xwan_config *cli_load_config(const char *path, enum cli_checks checks)
{
	struct xwan_config *cfg = calloc(1, sizeof(*cfg));
	char err[XWAN_ERR_MAX];

	if (!cfg) {
		fprintf(stderr, "xwan: out of memory\n");
		return NULL;
	}
	if (xwan_config_load(path, cfg, err, sizeof(err)) ||
	    (checks != CLI_OFFLINE &&
	     xwan_config_check_system(cfg, checks == CLI_CHECK ? XWAN_SYSCHECK_CHECK :
				      XWAN_SYSCHECK_START, warn_stderr, NULL, err,
				      sizeof(err)) < 0)) {
		fprintf(stderr, "%s\n", err);
		free(cfg);
		return NULL;
	}
	return cfg;
}

int cli_open_maps(const char *pin_dir, struct xwan_maps *m)
{
	char err[1024];

	if (xwan_maps_open(pin_dir, m, err, sizeof(err))) {
		fprintf(stderr, "xwan: %s\n", err);
		return -1;
	}
	return 0;
}

bool cli_agent_alive(unsigned pid)
{
	char path[64], comm[32] = "";
	FILE *f;

	if (!pid || kill((pid_t)pid, 0))
		return false;
	snprintf(path, sizeof(path), "/proc/%u/comm", pid);
	f = fopen(path, "r");
	if (!f)
		return false;
	if (!fgets(comm, sizeof(comm), f))
		comm[0] = 0;
	fclose(f);
	return !strncmp(comm, "xwan", 4);
}

/* version */
struct version_cfg { int unused; };
static const struct version_cfg version_defaults;
static const struct cl_option version_options[] = { END_OPTIONS };

static int do_version(const void *cfg, const void *global)
{
	printf("xwan %s\n", XWAN_VERSION);
	return 0;
}

const struct cl_command cli_cmd_version = DEFINE_COMMAND(version, struct version_cfg,
	"print the version", NULL);

/* help [COMMAND] */
struct help_cfg { const char *command; };
static const struct help_cfg help_defaults;
static const struct cl_option help_options[] = {
	DEFINE_ARGUMENT("COMMAND", CL_STRING, struct help_cfg, command,
			.help = "the command to describe (default: all of them)"),
	END_OPTIONS
};

static int do_help(const void *cfg, const void *global)
{
	const struct help_cfg *c = cfg;
	const struct cl_command *cmd = NULL;

	if (c->command && !(cmd = cl_find_command(&xwan_cli, c->command))) {
		fprintf(stderr, "xwan: no command \"%s\"; the commands are:\n", c->command);
		cl_print_help(&xwan_cli, NULL, stderr);
		return 2;
	}
	cl_print_help(&xwan_cli, cmd, stdout);
	return 0;
}

const struct cl_command cli_cmd_help = DEFINE_COMMAND(help, struct help_cfg,
	"show the commands, or one command's options", NULL);

int cli_main(int argc, char **argv)
{
	const struct cl_command *cmd;
	struct cli_global g;
	char err[512];
	void *cfg;
	int rc;

	switch (cl_parse(&xwan_cli, argc, argv, &g, &cmd, &cfg, err, sizeof(err))) {
	case CL_HELP:
		cl_print_help(&xwan_cli, cmd, stdout);
		return 0;
	case CL_ERROR:
		fprintf(stderr, "xwan: %s\n", err);
		cl_print_usage(&xwan_cli, cmd, stderr);
		fprintf(stderr, "'xwan %s%s--help' says more.\n", cmd ? cmd->name : "",
			cmd ? " " : "");
		return 2;
	case CL_OK:
		break;
	}
	verbose = g.verbose;
	libbpf_set_print(libbpf_print);
	rc = cmd->run(cfg, &g);
	free(cfg);
	return rc;
}
