// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* xwan ha: the HA pair's state; xwan ha keepalived-conf: the election's config. */
#include <bpf/bpf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "loader/config.h"
#include "loader/maps.h"
#include "monitor/ha.h"

struct ha_cfg { const char *action; const char *config; };
static const struct ha_cfg ha_defaults;
static const struct cl_option ha_options[] = {
	DEFINE_ARGUMENT("ACTION", CL_STRING, struct ha_cfg, action,
			.help = "nothing: show the state; keepalived-conf: print keepalived's config"),
	DEFINE_OPTION("config", 'c', CL_STRING, struct ha_cfg, config, .metavar = "FILE",
		      .help = "the config file (keepalived-conf)"),
	END_OPTIONS
};

static void ago(char *out, size_t len, uint64_t then, uint64_t now)
{
	if (!then)
		snprintf(out, len, "never");
	else
		snprintf(out, len, "%llus ago", (unsigned long long)(now > then ? now - then : 0));
}

static int ha_show(const void *global)
{
	struct ha_status st = {};
	struct xwan_maps m;
	uint64_t now = (uint64_t)time(NULL);
	char last[32], since[32];
	__u32 zero = 0;

	if (cli_open_maps(cli_pin_dir(global), &m))
		return 1;
	if (m.fd[XM_HA_STATUS] < 0 || bpf_map_lookup_elem(m.fd[XM_HA_STATUS], &zero, &st)) {
		fprintf(stderr, "xwan: cannot read the HA state\n");
		xwan_maps_close(&m);
		return 1;
	}
	xwan_maps_close(&m);
	if (st.role == HA_ROLE_OFF) {
		printf("ha: off (no ha: section, or no agent running)\n");
		return 0;
	}
	ago(last, sizeof(last), st.last_rx_unix, now);
	ago(since, sizeof(since), st.role_since_unix, now);
	printf("role:          %s (since %s)%s\n", ha_role_name(st.role), since,
	       now - st.updated_unix > 5 ? "  [stale: is the agent running?]" : "");
	printf("peer:          %s, says %s, last sync %s\n", st.peer_up ? "up" : "down",
	       ha_role_name(st.peer_role), last);
	printf("config hash:   %016llx, peer %016llx: %s (mismatches seen: %llu)\n",
	       (unsigned long long)st.config_hash, (unsigned long long)st.peer_config_hash,
	       st.hash_match ? "match" : "MISMATCH", (unsigned long long)st.hash_mismatches);
	printf("flows:         sent %llu, received %llu, in sync %llu, peer holds %llu\n",
	       (unsigned long long)st.flows_sent, (unsigned long long)st.flows_received,
	       (unsigned long long)st.flows_in_sync, (unsigned long long)st.peer_flows);
	printf("messages:      sent %llu, received %llu, resent %llu, lost %llu, rejected %llu, "
	       "wrong_version %llu\n",
	       (unsigned long long)st.msgs_sent, (unsigned long long)st.msgs_received,
	       (unsigned long long)st.msgs_resent, (unsigned long long)st.msgs_lost,
	       (unsigned long long)st.msgs_rejected, (unsigned long long)st.msgs_wrong_version);
	printf("sync lag:      %.3f s; bulk resyncs %llu; takeovers %llu; events lost %llu\n",
	       (double)st.sync_lag_us / 1e6, (unsigned long long)st.bulk_resyncs,
	       (unsigned long long)st.takeovers, (unsigned long long)st.events_lost);
	return 0;
}

static int do_ha(const void *cfg, const void *global)
{
	const struct ha_cfg *c = cfg;
	struct xwan_config *x;
	int rc;

	if (!c->action)
		return ha_show(global);
	if (strcmp(c->action, "keepalived-conf")) {
		fprintf(stderr, "xwan ha: unknown action \"%s\" (expected keepalived-conf, or "
			"nothing)\n", c->action);
		return 2;
	}
	if (!c->config) {
		fprintf(stderr, "xwan ha keepalived-conf: -c FILE is required\n");
		return 2;
	}
	x = cli_load_config(c->config, CLI_OFFLINE);
	if (!x)
		return 1;
	rc = ha_keepalived_conf(x, stdout);
	if (rc)
		fprintf(stderr, "xwan: %s has no ha: section\n", c->config);
	free(x);
	return rc ? 1 : 0;
}

const struct cl_command cli_cmd_ha = DEFINE_COMMAND(ha, struct ha_cfg,
	"the HA pair: role, peer, sync, config hash; keepalived-conf",
	"Without ACTION: this router's role in the HA pair, the peer's state, the\n"
	"last sync, flows sent/received/in sync, messages and the config hash match.\n"
	"keepalived-conf -c FILE: the keepalived (VRRPv3) configuration `xwan run`\n"
	"generates from the ha: section and runs keepalived with.");
