/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * `xwan run`: the gateway monitor. It loads the dataplane (or adopts the one
 * already pinned, without touching a flow), probes every gateway through
 * its own WAN, and flips the maps the moment a gateway's status changes.
 */
#ifndef XWAN_AGENT_H
#define XWAN_AGENT_H

#include <stdbool.h>

struct agent_opts {
	const char *config_path;
	const char *pin_dir;
	const char *textfile;       /* node_exporter textfile, NULL: none */
	bool detach_on_exit;        /* SIGTERM/SIGINT also runs `xwan down` */
	bool allow_generic;
};

/* Runs until SIGTERM/SIGINT. Returns the process exit code. */
int agent_run(const struct agent_opts *o);

#endif /* XWAN_AGENT_H */
