// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Traffic generator for the lab benchmark (xdpgen.c runs it with
 * BPF_PROG_TEST_RUN in live-frames mode in the client's namespace): every
 * run takes the 64-byte UDP frame, gives it the next of `nflows` source
 * ports and redirects it out of the client's veth. The frames reach the
 * gateway as xdp_frames in its veth's ring, as a NIC would deliver them,
 * not as socket skbs that native XDP on a veth would have to copy.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct gen_cfg {
	__u32 ifindex;          /* where to send */
	__u32 nflows;           /* source ports sport_base .. sport_base + nflows - 1 */
	__u32 sport_base;
	__u32 next;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct gen_cfg);
} gen_cfg SEC(".maps");

#define UDP_SPORT_OFF (14 + 20)

SEC("xdp")
int xdpgen(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct gen_cfg *c;
	__u32 zero = 0, i;

	c = bpf_map_lookup_elem(&gen_cfg, &zero);
	if (!c || data + UDP_SPORT_OFF + 8 > end)
		return XDP_ABORTED;
	if (c->nflows > 1) {
		i = c->next++ % c->nflows;
		/* UDP checksum is 0 (none), so the port needs no checksum fix. */
		*(__be16 *)(data + UDP_SPORT_OFF) = bpf_htons((__u16)(c->sport_base + i));
	}
	return bpf_redirect(c->ifindex, 0);
}
