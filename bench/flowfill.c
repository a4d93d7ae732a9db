// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * bench/flowfill: fill a running dataplane's flow table with N live flows
 * (both entries each, NATed, TCP established, spread over the gateways), as
 * a busy router's table would be, so that the agent's sweeps and scrapes
 * have a million flows to walk. Addresses are from 10.200.0.0/16 (LAN) and
 * 203.0.113.0/24 (remote): nothing sends packets on them.
 *
 *   flowfill PIN_DIR N_FLOWS N_GATEWAYS
 */
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loader/flows.h"
#include "loader/maps.h"

#define BATCH 8192

int main(int argc, char **argv)
{
	struct flow_key *keys = calloc(BATCH, sizeof(*keys));
	struct flow_entry *vals = calloc(BATCH, sizeof(*vals));
	struct xwan_maps m;
	char err[512];
	unsigned long n, ngw, done = 0;
	uint64_t now = xwan_now_ns();

	if (argc != 4 || !keys || !vals)
		return fprintf(stderr, "usage: flowfill PIN_DIR N_FLOWS N_GATEWAYS\n"), 2;
	n = strtoul(argv[2], NULL, 10);
	ngw = strtoul(argv[3], NULL, 10);
	if (!ngw || xwan_maps_open(argv[1], &m, err, sizeof(err)))
		return fprintf(stderr, "flowfill: %s\n", ngw ? err : "N_GATEWAYS >= 1"), 1;
	while (done < n) {
		__u32 count = 0;
		LIBBPF_OPTS(bpf_map_batch_opts, opts);

		for (; count + 2 <= BATCH && done < n; done++, count += 2) {
			struct flow_key out = {
				.saddr = htonl(0x0ac80000u | (uint32_t)(done >> 14)),  /* 10.200.x.y */
				.daddr = htonl(0xcb007100u | (uint32_t)(done & 0xff)), /* 203.0.113.z */
				.sport = htons((uint16_t)(1024 + ((done >> 8) & 0x3fff))),
				.dport = htons(443),
				.proto = IPPROTO_TCP,
			};
			struct flow_key in = {
				.saddr = out.daddr, .daddr = htonl(0xc6336402u), /* 198.51.100.2 */
				.sport = out.dport, .dport = htons((uint16_t)(1024 + (done >> 8) % 60000)),
				.proto = IPPROTO_TCP,
			};
			struct flow_entry e = {
				.created_ns = now, .last_seen_ns = now, .state = FLOW_STATE_ESTABLISHED,
				.gw = (uint8_t)(done % ngw), .group = 0, .flags = FLOW_F_NAT,
				.ct = FLOW_CT_REPLIED,  /* established: the answered table */
				.rule = XWAN_RULE_NONE,
			};

			keys[count] = out;
			vals[count] = e;
			vals[count].dir = FLOW_DIR_OUT;
			vals[count].peer = in;
			vals[count].xlate_addr = in.daddr;
			vals[count].xlate_port = in.dport;
			keys[count + 1] = in;
			vals[count + 1] = e;
			vals[count + 1].dir = FLOW_DIR_IN;
			vals[count + 1].peer = out;
			vals[count + 1].xlate_addr = out.saddr;
			vals[count + 1].xlate_port = out.sport;
		}
		if (bpf_map_update_batch(m.fd[XM_FLOWS], keys, vals, &count, &opts))
			return fprintf(stderr, "flowfill: update: %s\n", strerror(errno)), 1;
	}
	printf("flowfill: %lu flows\n", done);
	return 0;
}
