// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The benchmark harness: runs before every repetition of
 * BPF_PROG_TEST_RUN, puts a fresh 64-byte frame in place (test_run reuses
 * one buffer for all repetitions, so without this the second run would see
 * the first one's NATed, TTL-decremented output), optionally writes a flow's
 * tuple into it, then tail-calls the program under test (slot 0 of
 * bench_target). Its own cost is measured with bench_null in slot 0 and
 * subtracted.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "bench/bench_tuple.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct bench_cfg);
} bench_cfg SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 1);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} bench_target SEC(".maps");

#define ETH_OFF_IP   14
#define IP_OFF_SADDR (ETH_OFF_IP + 12)
#define IP_OFF_DADDR (ETH_OFF_IP + 16)
#define L4_OFF       (ETH_OFF_IP + 20)

/*
 * The dataplane drops IPv4 headers with a wrong checksum, as a router must:
 * a frame with a new tuple needs its header checksum redone (L4 checksums
 * are not verified by a router and may stay stale).
 */
static __always_inline void ip_checksum(__u16 *ip)
{
	__u32 sum = 0;

	ip[5] = 0;
	for (int k = 0; k < 10; k++)
		sum += ip[k];
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	ip[5] = (__u16)~sum;
}

SEC("xdp")
int bench_wrap(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct bench_cfg *c;
	__u32 zero = 0, i;
	__u64 *d = data;
	const __u64 *s;

	c = bpf_map_lookup_elem(&bench_cfg, &zero);
	if (!c || data + BENCH_FRAME > end)
		return XDP_ABORTED;
	s = (const __u64 *)c->frame;
	d[0] = s[0]; d[1] = s[1]; d[2] = s[2]; d[3] = s[3];
	d[4] = s[4]; d[5] = s[5]; d[6] = s[6]; d[7] = s[7];

	switch (c->vary) {
	case VARY_NEW:
		i = c->next++;
		break;
	case VARY_RAND_LAN:
	case VARY_RAND_WAN:
		i = c->nflows ? bpf_get_prandom_u32() % c->nflows : 0;
		break;
	default:
		goto run;
	}
	if (c->vary == VARY_RAND_WAN) {
		/* The reply: remote:443 -> nat address:client port (kept by NAT). */
		*(__be32 *)(data + IP_OFF_SADDR) = bpf_htonl(bt_remote(i));
		*(__be32 *)(data + IP_OFF_DADDR) = c->nat_addr;
		*(__be16 *)(data + L4_OFF + 2) = bpf_htons(bt_sport(i));
	} else {
		*(__be32 *)(data + IP_OFF_SADDR) = bpf_htonl(bt_client(i));
		*(__be32 *)(data + IP_OFF_DADDR) = bpf_htonl(bt_remote(i));
		*(__be16 *)(data + L4_OFF) = bpf_htons(bt_sport(i));
	}
	ip_checksum(data + ETH_OFF_IP);
run:
	bpf_tail_call(ctx, &bench_target, 0);
	return XDP_ABORTED;
}

/* The harness alone: what every measurement pays on top of its program. */
SEC("xdp")
int bench_null(struct xdp_md *ctx)
{
	return XDP_REDIRECT;
}
