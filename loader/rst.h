/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * TCP resets towards LAN clients of flows whose gateway died, so their
 * applications reconnect at once (through a healthy gateway) instead of
 * waiting for a timeout that may take minutes.
 */
#ifndef XWAN_RST_H
#define XWAN_RST_H

#include <stddef.h>
#include <stdint.h>

#include "../bpf/xwan_types.h"

/*
 * Send, on the LAN interface of `in`, a RST that looks like it comes from
 * the remote end of the flow `out_key` (the tuple the client sent) and that
 * carries the sequence number the client expects next. Returns 0 or -errno.
 */
int rst_send_to_client(const struct flow_key *out_key, const struct flow_entry *in);

/* Build the frame only (for tests): returns its length. */
int rst_build(uint8_t *buf, size_t len, const struct flow_key *out_key,
	      const struct flow_entry *in);

#endif /* XWAN_RST_H */
