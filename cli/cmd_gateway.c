// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* xwan gateway down|up NAME: maintenance mode, applied by the running agent. */
#include <bpf/bpf.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "loader/maps.h"
#include "monitor/health.h"
#include "monitor/maint.h"

/* The reason shows whole in `xwan status` (its column holds 63 characters). */
#define REASON_MAX 48

enum { GW_ACTION_DOWN, GW_ACTION_UP };

struct gateway_cfg { int action; const char *name, *reason; };
static const struct gateway_cfg gateway_defaults = { .action = -1 };
static const struct cl_enum gateway_actions[] = {
	{ "down", GW_ACTION_DOWN }, { "up", GW_ACTION_UP }, { NULL, 0 },
};
static const struct cl_option gateway_options[] = {
	DEFINE_REQUIRED_ARGUMENT("ACTION", CL_ENUM, struct gateway_cfg, action,
				 .values = gateway_actions,
				 .help = "down: take the gateway out of service; up: return it"),
	DEFINE_REQUIRED_ARGUMENT("NAME", CL_STRING, struct gateway_cfg, name,
				 .help = "the gateway (a wan: name, as in xwan status)"),
	DEFINE_OPTION("reason", 0, CL_STRING, struct gateway_cfg, reason, .metavar = "TEXT",
		      .help = "why (down only): shown in xwan status as \"maintenance: TEXT\""),
	END_OPTIONS
};

int cli_gateway_index(const struct xwan_runtime *rt, const char *name, char *names,
		      size_t len)
{
	size_t off = 0;
	int found = -1;

	names[0] = 0;
	for (__u32 g = 0; g < rt->n_gateways && g < XWAN_MAX_GATEWAYS; g++) {
		if (!rt->gw_name[g][0])
			continue;       /* retired by a reload */
		if (!strcmp(rt->gw_name[g], name))
			found = (int)g;
		if (off < len)
			off += (size_t)snprintf(names + off, len - off, "%s%s", off ? ", " : "",
						rt->gw_name[g]);
	}
	return found;
}

static bool is_maint(const struct gw_health *hl)
{
	return !strncmp(hl->reason, "maintenance", 11);
}

/* Wait for the agent's published state to show the change (it applies it at once). */
static bool wait_applied(const struct xwan_maps *m, __u32 g, bool down, struct gw_health *hl)
{
	for (int i = 0; i < 50; i++) {
		memset(hl, 0, sizeof(*hl));
		if (!bpf_map_lookup_elem(m->fd[XM_GW_HEALTH], &g, hl) &&
		    (down ? hl->status == GW_STATUS_DOWN && is_maint(hl) : !is_maint(hl)))
			return true;
		usleep(100 * 1000);
	}
	return false;
}

static int apply(const struct gateway_cfg *c, const char *pin_dir, const struct xwan_maps *m,
		 const struct xwan_runtime *rt, int g)
{
	bool down = c->action == GW_ACTION_DOWN;
	struct gw_health hl;
	char err[512];
	int fd, rc;

	fd = maint_open(pin_dir, err, sizeof(err));
	if (fd < 0) {
		fprintf(stderr, "xwan: %s\n", err);
		return 1;
	}
	rc = down ? maint_set(fd, c->name, c->reason, (uint64_t)time(NULL)) :
		    maint_clear(fd, c->name);
	close(fd);
	if (rc) {
		fprintf(stderr, "xwan: cannot record the maintenance mark of %s: %s\n", c->name,
			strerror(-rc));
		return 1;
	}
	if (!cli_agent_alive(rt->agent_pid)) {
		printf("xwan: no agent runs: %s is %s; `xwan run` applies it when it starts\n",
		       c->name, down ? "marked down for maintenance" : "no longer marked down");
		return 0;
	}
	if (kill((pid_t)rt->agent_pid, SIGUSR1)) {
		fprintf(stderr, "xwan: cannot signal the agent (pid %u): %s; it applies the mark "
			"within a second by itself\n", rt->agent_pid, strerror(errno));
		return 1;
	}
	if (!wait_applied(m, (__u32)g, down, &hl)) {
		fprintf(stderr, "xwan: the agent (pid %u) did not apply it within 5 s; its log "
			"says why\n", rt->agent_pid);
		return 1;
	}
	if (down)
		printf("xwan: %s is down for maintenance (new flows use the other gateways; its "
		       "flows were flushed)\n", c->name);
	else
		printf("xwan: %s is back in service, status %s (%s)\n", c->name,
		       health_status_name(hl.status), hl.reason);
	return 0;
}

static int do_gateway(const void *cfg, const void *global)
{
	const struct gateway_cfg *c = cfg;
	const char *pin_dir = cli_pin_dir(global);
	struct xwan_runtime *rt;
	struct xwan_maps m;
	char names[XWAN_MAX_GATEWAYS * (XWAN_NAME_LEN + 2)];
	int g, rc = 1;

	if (c->reason && c->action != GW_ACTION_DOWN) {
		fprintf(stderr, "xwan: --reason goes with gateway down\n");
		return 2;
	}
	if (c->reason && strlen(c->reason) > REASON_MAX) {
		fprintf(stderr, "xwan: --reason is at most %d characters (got %zu)\n", REASON_MAX,
			strlen(c->reason));
		return 2;
	}
	rt = calloc(1, sizeof(*rt));
	if (!rt)
		return 1;
	if (cli_open_maps(pin_dir, &m)) {
		free(rt);
		return 1;
	}
	if (xwan_runtime_read(&m, rt)) {
		fprintf(stderr, "xwan: cannot read the running state\n");
	} else if ((g = cli_gateway_index(rt, c->name, names, sizeof(names))) < 0) {
		fprintf(stderr, "xwan: no gateway named \"%s\"; the gateways are: %s\n", c->name,
			names[0] ? names : "(none)");
		rc = 2;
	} else {
		rc = apply(c, pin_dir, &m, rt, g);
	}
	xwan_maps_close(&m);
	free(rt);
	return rc;
}

const struct cl_command cli_cmd_gateway = DEFINE_COMMAND(gateway, struct gateway_cfg,
	"maintenance: take a gateway out of service (down NAME) or return it (up NAME)",
	"gateway down NAME [--reason TEXT]: maintenance mode (pfSense's \"Mark Gateway\n"
	"as Down\"). The running agent takes NAME out of selection at once: its status\n"
	"is down with reason \"maintenance\", new flows use the other gateways, and its\n"
	"flows are flushed as on a real down (TCP clients reset) in groups that flush.\n"
	"The mark is kept in the pin directory: it survives agent restarts and reloads\n"
	"(xwan down removes it). Probes go on, so gateway up NAME returns it with a\n"
	"fresh status at once. Without a running agent the mark is recorded and\n"
	"applied when `xwan run` starts. An unknown NAME exits 2 with the names.");
