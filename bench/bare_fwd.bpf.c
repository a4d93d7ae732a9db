// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The reference for the benchmarks: the least an IPv4 XDP router does.
 * Parse Ethernet/IPv4 (and the L4 ports, for multipath hashing), ask the
 * kernel's FIB for the route and the next hop's MAC (bpf_fib_lookup),
 * decrement the TTL, rewrite the MACs and redirect through a devmap.
 * No NAT, no state, no counters. Anything it cannot route goes to the
 * kernel (XDP_PASS), as a real forwarder would.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define ETH_P_IP_BE  bpf_htons(0x0800)
#define AF_INET      2

/* Output interfaces, keyed and valued by ifindex (filled by the bench). */
struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u32);
} bare_tx SEC(".maps");

SEC("xdp")
int bare_fwd(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct bpf_fib_lookup fib = {};
	struct ethhdr *eth = data;
	struct iphdr *ip = data + sizeof(*eth);
	__u16 *ports;
	__u32 check;
	int rc;

	if ((void *)(ip + 1) > end)
		return XDP_PASS;
	if (eth->h_proto != ETH_P_IP_BE || ip->ihl < 5)
		return XDP_PASS;
	if (ip->ttl <= 1)
		return XDP_PASS;        /* the kernel sends Time Exceeded */

	fib.family = AF_INET;
	fib.tos = ip->tos;
	fib.l4_protocol = ip->protocol;
	fib.tot_len = bpf_ntohs(ip->tot_len);
	fib.ipv4_src = ip->saddr;
	fib.ipv4_dst = ip->daddr;
	fib.ifindex = ctx->ingress_ifindex;
	if ((ip->protocol == IPPROTO_TCP || ip->protocol == IPPROTO_UDP) &&
	    !(ip->frag_off & bpf_htons(0x1fff))) {
		ports = (void *)ip + ip->ihl * 4;
		if ((void *)(ports + 2) > end)
			return XDP_PASS;
		fib.sport = ports[0];
		fib.dport = ports[1];
	}
	rc = bpf_fib_lookup(ctx, &fib, sizeof(fib), 0);
	if (rc != BPF_FIB_LKUP_RET_SUCCESS)
		return XDP_PASS;

	/* RFC 1624 incremental update for the TTL decrement. */
	check = ip->check;
	check += bpf_htons(0x0100);
	ip->check = (__u16)(check + (check >= 0xffff));
	ip->ttl--;
	__builtin_memcpy(eth->h_dest, fib.dmac, 6);
	__builtin_memcpy(eth->h_source, fib.smac, 6);
	return bpf_redirect_map(&bare_tx, fib.ifindex, 0);
}
