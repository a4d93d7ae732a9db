/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * ICMP Time Exceeded for a hairpinned packet whose TTL expires at the
 * router (tc only: XDP passes every expiring packet up). A forwarded
 * packet with TTL 1 is the kernel's to answer: from the router's address
 * toward the sender, quoting the packet as it arrived (traceroute's hop).
 * A hairpinned packet is addressed to one of the host's own addresses, so
 * the kernel would deliver it to the host instead (whose answer would then
 * leave by the WAN that owns the address): tc writes the same answer the
 * kernel's forwarding would, RFC 792 (the IP header and 64 bits of data
 * quoted, RFC 1812 4.3.2.3), and sends it back out of the interface the
 * packet came in on. Only to a LAN host that passed lan_src_ok, never
 * larger than 96 bytes: no amplification toward anyone else.
 */
#ifndef XWAN_TIME_EXCEEDED_H
#define XWAN_TIME_EXCEEDED_H

#include "l2.h"
#include "parse.h"

#define TE_QUOTE_MAX (60 + 8)   /* the largest IP header and 64 bits of data */
#define TE_HDR_LEN   28         /* the new IP header and the ICMP header */

struct time_exceeded_scratch {
	struct bpf_fib_lookup fib;
	struct iphdr ip;
	__u8  type;
	__u8  code;
	__u16 check;
	__u32 unused;
	__u8  quote[TE_QUOTE_MAX];
	struct ethhdr eth;
};

_Static_assert(__builtin_offsetof(struct time_exceeded_scratch, quote) -
	       __builtin_offsetof(struct time_exceeded_scratch, ip) == TE_HDR_LEN,
	       "the new headers are one 28-byte run");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct time_exceeded_scratch);
} time_exceeded_scratch SEC(".maps");

static __always_inline __u16 csum_fold64(__s64 sum)
{
	__u64 s = (__u64)sum;

	s = (s & 0xffffffff) + (s >> 32);
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return (__u16)~s;
}

/*
 * Turn the packet into the router's Time Exceeded to its sender and send
 * it out of the interface it arrived on: bpf_redirect()'s action for the
 * caller to return, or -1: the packet is unchanged or unusable (drop it).
 */
static __attribute__((noinline)) int time_exceeded_reply(struct __sk_buff *skb,
							  const struct pkt *p)
{
	struct time_exceeded_scratch *te;
	__u32 zero = 0, ifx = ctx_ifindex(skb), l3 = p->l3_off, q;
	struct iface_info *lan;
	__s64 sum;
	int rc;

	te = bpf_map_lookup_elem(&time_exceeded_scratch, &zero);
	lan = bpf_map_lookup_elem(&ifaces, &ifx);
	if (!te || !lan || l3 > ETH_HLEN)
		return -1;
	q = (__u32)p->l4_off - l3 + 8;
	if (q < 28 || q > TE_QUOTE_MAX || (q & 3))
		return -1;

	/* The router's address toward the sender, as the kernel's answer has. */
	__builtin_memset(&te->fib, 0, sizeof(te->fib));
	te->fib.family = 2; /* AF_INET */
	te->fib.ipv4_dst = p->key.saddr;
	te->fib.ifindex = ifx;
	rc = bpf_fib_lookup(skb, &te->fib, sizeof(te->fib),
			    BPF_FIB_LOOKUP_DIRECT | BPF_FIB_LOOKUP_SRC);
	if ((rc != BPF_FIB_LKUP_RET_SUCCESS && rc != BPF_FIB_LKUP_RET_NO_NEIGH) ||
	    !te->fib.ipv4_src || te->fib.ifindex != ifx)
		return -1;

	if (bpf_skb_load_bytes(skb, l3, te->quote, q))
		return -1;
	__builtin_memset(&te->ip, 0, TE_HDR_LEN);
	te->ip.version = 4;
	te->ip.ihl = 5;
	te->ip.tos = 0xc0;      /* IPTOS_PREC_INTERNETCONTROL, as Linux's icmp_send */
	te->ip.tot_len = bpf_htons((__u16)(TE_HDR_LEN + q));
	te->ip.ttl = 64;
	te->ip.protocol = IPPROTO_ICMP;
	te->ip.saddr = te->fib.ipv4_src;
	te->ip.daddr = p->key.saddr;
	te->ip.check = csum_fold64(bpf_csum_diff(NULL, 0, (__be32 *)&te->ip, 20, 0));
	te->type = 11;          /* Time Exceeded, code 0: TTL exceeded in transit */
	sum = bpf_csum_diff(NULL, 0, (__be32 *)te->quote, q, 0);
	if (sum < 0)
		return -1;
	te->check = csum_fold64(bpf_csum_diff(NULL, 0, (__be32 *)&te->type, 8, (__u32)sum));

	if (bpf_skb_change_tail(skb, l3 + TE_HDR_LEN + q, 0) ||
	    bpf_skb_store_bytes(skb, l3 + TE_HDR_LEN, te->quote, q, 0) ||
	    bpf_skb_store_bytes(skb, l3, &te->ip, TE_HDR_LEN, BPF_F_INVALIDATE_HASH))
		return -1;
	if (l3 == ETH_HLEN) {
		__builtin_memcpy(te->eth.h_dest, p->eth_src, 6);
		__builtin_memcpy(te->eth.h_source, lan->mac, 6);
		te->eth.h_proto = bpf_htons(ETH_P_IP);
		if (bpf_skb_store_bytes(skb, 0, &te->eth, ETH_HLEN, 0))
			return -1;
	}
	return (int)bpf_redirect(ifx, 0);
}

#endif /* XWAN_TIME_EXCEEDED_H */
