/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* The xwan command line: its program table and what the commands share. */
#ifndef XWAN_CLI_H
#define XWAN_CLI_H

#include <stdbool.h>
#include <stddef.h>

#include "cli/cmdline.h"

struct xwan_maps;
struct xwan_config;

/* Options accepted before or after any command. */
struct cli_global {
	const char *pin_dir;        /* as given; resolved with xwan_pin_dir() */
	bool verbose;
	bool help;
};

/* The program: its commands (cli/commands.c) and global options. */
extern const struct cl_program xwan_cli;

/* Parse, then run the command; the process exit code (2: usage error). */
int cli_main(int argc, char **argv);

/* Shared by the commands. */
const char *cli_pin_dir(const void *global);
/* How much of the host a config is checked against. */
enum cli_checks {
	CLI_OFFLINE,    /* check --offline: the file alone, for another machine */
	CLI_CHECK,      /* check: interfaces exist (ppp*, wwan*, wg*, tun* may not) */
	CLI_START,      /* up, reload: a missing WAN interface only warns (it starts down) */
};
struct xwan_config *cli_load_config(const char *path, enum cli_checks checks);
int cli_open_maps(const char *pin_dir, struct xwan_maps *m);
struct xwan_runtime;
/* NAME's gateway index in rt (-1: none); names gets "isp1, isp2" for messages. */
int cli_gateway_index(const struct xwan_runtime *rt, const char *name, char *names,
		      size_t len);
/* Is pid (the runtime record's agent_pid) a live xwan process? */
bool cli_agent_alive(unsigned pid);

extern const struct cl_command cli_cmd_check, cli_cmd_up, cli_cmd_down, cli_cmd_run,
	cli_cmd_reload, cli_cmd_status, cli_cmd_flows, cli_cmd_stats, cli_cmd_explain,
	cli_cmd_gc, cli_cmd_ha, cli_cmd_gateway, cli_cmd_version, cli_cmd_help;

#endif /* XWAN_CLI_H */
