/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Loading the BPF objects (bpftool skeletons) and attaching them.
 * XDP is attached through netlink and tc through clsact filters: both are
 * held by the interface, not by a process or a pin, so the dataplane keeps
 * forwarding after `xwan up` exits and survives a bpffs that goes away.
 */
#ifndef XWAN_DATAPLANE_H
#define XWAN_DATAPLANE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "maps.h"

struct xwan_xdp;
struct xwan_tc;

struct xwan_dp {
	struct xwan_xdp *xdp;
	struct xwan_tc *tc;
	struct xwan_maps maps;  /* fds owned by the skeletons */
};

/* tc filters xwan installs: fixed handle and first priority. */
#define XWAN_TC_HANDLE   0x7877
#define XWAN_TC_PRIORITY 1

int dp_load(struct xwan_dp *dp, uint32_t flow_capacity, char *err, size_t errlen);
void dp_destroy(struct xwan_dp *dp);
int dp_prog_fd(const struct xwan_dp *dp, const char *name);
int dp_pin(const struct xwan_dp *dp, const char *pin_dir, char *err, size_t errlen);

/* Native XDP, or generic when the driver has none and allow_generic. */
int xdp_attach(int ifindex, int prog_fd, bool allow_generic, uint8_t *mode,
	       char *err, size_t errlen);
/* Detach only if the attached program is still prog_id. */
int xdp_detach(int ifindex, uint32_t prog_id, uint8_t mode);
/* The XDP program on an interface: its id and name ("" when none). */
int xdp_query(int ifindex, uint32_t *prog_id, char name[16]);

int tc_attach(int ifindex, bool egress, int prog_fd, char *err, size_t errlen);
int tc_detach(int ifindex, bool egress);

uint32_t prog_id_of(int prog_fd);

/*
 * Count redirects the kernel fails to transmit (xdp:xdp_redirect_err) as
 * drops: a tracing link pinned at <pin dir>/links/<name>, so it lasts as
 * long as the pins (a pin dir private to `ip netns exec` loses it at exit).
 */
#define XWAN_REDIRECT_WATCH "xdp_redirect_failed"
int dp_watch_redirects(const struct xwan_dp *dp, const char *pin_dir, char *err, size_t errlen);

#endif /* XWAN_DATAPLANE_H */
