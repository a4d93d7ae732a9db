// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Commands that change what runs: check, up, down, run, reload. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "loader/config.h"
#include "loader/lifecycle.h"
#include "loader/maps.h"
#include "monitor/agent.h"

#define CONFIG_OPTION(_cfgtype)                                                        \
	DEFINE_OPTION("config", 'c', CL_STRING, _cfgtype, config, .flags = CL_REQUIRED,  \
		      .metavar = "FILE", .help = "the config file (YAML, docs/config.md)")
#define NO_GENERIC_OPTION(_cfgtype)                                                    \
	DEFINE_OPTION("no-generic", 0, CL_BOOL, _cfgtype, no_generic,                    \
		      .help = "fail rather than fall back to generic (skb) XDP")

/* check */
struct check_cfg { const char *config; bool offline; };
static const struct check_cfg check_defaults;
static const struct cl_option check_options[] = {
	CONFIG_OPTION(struct check_cfg),
	DEFINE_OPTION("offline", 0, CL_BOOL, struct check_cfg, offline,
		      .help = "syntax and semantics only: no look-ups of this host (for a file "
			      "meant for another machine)"),
	END_OPTIONS
};

static int do_check(const void *cfg, const void *global)
{
	const struct check_cfg *c = cfg;
	struct xwan_config *x = cli_load_config(c->config, c->offline ? CLI_OFFLINE : CLI_CHECK);

	if (!x)
		return 1;
	printf("%s: ok (%d LAN, %d WAN, %d groups, %d rules)\n", c->config, x->n_lans,
	       x->n_wans, x->n_groups, x->n_rules);
	free(x);
	return 0;
}

const struct cl_command cli_cmd_check = DEFINE_COMMAND(check, struct check_cfg,
	"validate a config (errors name file:line and key)",
	"Validate a config: syntax, keys, values, cross references, and that its\n"
	"interfaces exist (a missing ppp*, wwan*, wg* or tun* WAN is a warning: such\n"
	"interfaces come and go). --offline skips the host entirely. Errors are\n"
	"file:line: key: problem; exit 1 on any.");

/* up */
struct up_cfg { const char *config; bool no_generic; };
static const struct up_cfg up_defaults;
static const struct cl_option up_options[] = {
	CONFIG_OPTION(struct up_cfg), NO_GENERIC_OPTION(struct up_cfg), END_OPTIONS
};

static int do_up(const void *cfg, const void *global)
{
	const struct up_cfg *c = cfg;
	struct xwan_up_opts o = { .allow_generic = !c->no_generic };
	struct xwan_config *x = cli_load_config(c->config, CLI_START);
	struct xwan_maps m;
	char err[1024];
	int rc;

	if (!x)
		return 1;
	rc = xwan_up(x, cli_pin_dir(global), &o, &m, err, sizeof(err));
	free(x);
	if (rc) {
		fprintf(stderr, "xwan: %s\n", err);
		return 1;
	}
	xwan_maps_close(&m);
	return 0;
}

const struct cl_command cli_cmd_up = DEFINE_COMMAND(up, struct up_cfg,
	"load, attach and pin the dataplane; returns once it forwards",
	"Load the BPF programs, fill the maps from the config, pin them, add the\n"
	"policy routes and attach (XDP native, generic only as a warned fallback;\n"
	"tc clsact). Returns once traffic flows. Nothing probes the gateways:\n"
	"`xwan run` does.");

/* down */
struct down_cfg { int unused; };
static const struct down_cfg down_defaults;
static const struct cl_option down_options[] = { END_OPTIONS };

static int do_down(const void *cfg, const void *global)
{
	char err[1024];
	int rc = xwan_down(cli_pin_dir(global), false, err, sizeof(err));

	if (rc == 1) {
		printf("xwan: not running; nothing to do\n");
		return 0;
	}
	if (rc) {
		fprintf(stderr, "xwan: %s\n", err);
		return 1;
	}
	return 0;
}

const struct cl_command cli_cmd_down = DEFINE_COMMAND(down, struct down_cfg,
	"detach everything and remove the pins",
	"Detach every program, remove the policy routes and rules and the pins;\n"
	"the host routes as it did before. Live flows are forgotten.");

/* run */
struct run_cfg { const char *config, *textfile; bool detach_on_exit, no_generic; };
static const struct run_cfg run_defaults;
static const struct cl_option run_options[] = {
	CONFIG_OPTION(struct run_cfg),
	DEFINE_OPTION("textfile", 0, CL_STRING, struct run_cfg, textfile, .metavar = "PATH",
		      .help = "also write the metrics to PATH (node_exporter textfile)"),
	DEFINE_OPTION("detach-on-exit", 0, CL_BOOL, struct run_cfg, detach_on_exit,
		      .help = "SIGTERM/SIGINT also take the dataplane down"),
	NO_GENERIC_OPTION(struct run_cfg),
	END_OPTIONS
};

static int do_run(const void *cfg, const void *global)
{
	const struct run_cfg *c = cfg;
	struct agent_opts o = {
		.config_path = c->config,
		.pin_dir = cli_pin_dir(global),
		.textfile = c->textfile,
		.detach_on_exit = c->detach_on_exit,
		.allow_generic = !c->no_generic,
	};

	return agent_run(&o);
}

const struct cl_command cli_cmd_run = DEFINE_COMMAND(run, struct run_cfg,
	"the agent: probe the gateways, fail over, serve /metrics",
	"The agent: `up` (or adopt the dataplane already running, without touching\n"
	"a flow), probe every gateway through its own WAN, fail over, serve\n"
	"/metrics. SIGHUP reloads the config; SIGTERM leaves the dataplane\n"
	"forwarding unless --detach-on-exit.");

/* reload */
struct reload_cfg { const char *config; };
static const struct reload_cfg reload_defaults;
static const struct cl_option reload_options[] = { CONFIG_OPTION(struct reload_cfg), END_OPTIONS };

static bool same_file(const char *a, const char *b)
{
	struct stat sa, sb;

	return !stat(a, &sa) && !stat(b, &sb) && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/* The agent owns the maps while it runs: hand it the reload and wait. */
static int reload_through_agent(const struct xwan_maps *m, const struct xwan_runtime *rt,
				const char *path)
{
	struct xwan_runtime *now = calloc(1, sizeof(*now));
	int rc = 1;

	if (!now)
		return 1;
	if (!same_file(rt->config_path, path)) {
		fprintf(stderr, "xwan: the agent (pid %u) runs from %s; edit that file and run "
			"xwan reload -c %s (or restart the agent with -c %s)\n", rt->agent_pid,
			rt->config_path, rt->config_path, path);
		goto out;
	}
	if (kill((pid_t)rt->agent_pid, SIGHUP)) {
		fprintf(stderr, "xwan: cannot signal the agent: %s\n", strerror(errno));
		goto out;
	}
	for (int i = 0; i < 150; i++) {
		usleep(100 * 1000);
		if (xwan_runtime_read(m, now) == 0 && now->generation != rt->generation) {
			printf("xwan: the agent (pid %u) applied %s\n", rt->agent_pid, path);
			rc = 0;
			goto out;
		}
	}
	fprintf(stderr, "xwan: the agent (pid %u) did not apply %s within 15 s; its log says "
		"why\n", rt->agent_pid, path);
out:
	free(now);
	return rc;
}

static int do_reload(const void *cfg, const void *global)
{
	const char *path = ((const struct reload_cfg *)cfg)->config;
	const char *pin_dir = cli_pin_dir(global);
	struct xwan_reload_result res;
	struct xwan_runtime *rt;
	struct xwan_config *x;
	struct xwan_maps m;
	char err[1024] = "";
	int rc = 1;

	x = cli_load_config(path, CLI_START);
	if (!x)
		return 1;       /* rejected whole: nothing was touched */
	rt = calloc(1, sizeof(*rt));
	if (!rt || cli_open_maps(pin_dir, &m)) {
		free(rt);
		free(x);
		return 1;
	}
	if (xwan_runtime_read(&m, rt)) {
		fprintf(stderr, "xwan: cannot read the running state\n");
	} else if (cli_agent_alive(rt->agent_pid)) {
		rc = reload_through_agent(&m, rt, path);
	} else if (xwan_reload(x, pin_dir, NULL, NULL, &res, err, sizeof(err))) {
		fprintf(stderr, "xwan: reload failed: %s\n", err);
	} else {
		printf("xwan: applied %s: %d WAN(s) added, %d removed (%d flows flushed, %d TCP "
		       "clients reset)\n", path, res.added, __builtin_popcount(res.gone),
		       res.flushed, res.resets);
		rc = 0;
	}
	xwan_maps_close(&m);
	free(rt);
	free(x);
	return rc;
}

const struct cl_command cli_cmd_reload = DEFINE_COMMAND(reload, struct reload_cfg,
	"apply a changed config without flushing (through the agent when one runs)",
	"Apply a changed config to the running dataplane without flushing live\n"
	"flows (those of a removed WAN excepted). When an agent runs, it does the\n"
	"reload. A config with an error changes nothing and exits 1.");
