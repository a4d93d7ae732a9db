// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * A test-only program around bpf/lib/npt6.h, so BPF_PROG_TEST_RUN can run
 * the NPTv6 rewrite through both halves of the ctx abstraction without the
 * dataplane programs: the Makefile builds it twice (-DNPT6_TEST_HOOK_xdp,
 * _tc), as XDP (build/npt6_test_xdp.bpf.o) and as tc (build/npt6_test_tc.bpf.o).
 * It rewrites the source or destination of an untagged Ethernet/IPv6 frame as
 * the config map says and writes the result code back into it.
 */
#if defined(NPT6_TEST_HOOK_tc)
#define XWAN_HOOK_TC
#else
#define XWAN_HOOK_XDP
#endif
#include "../lib/compiler.h"
#include "npt6_test.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct npt6_test_cfg);
} npt6_cfg SEC(".maps");

#define ETH_HLEN_ 14
#define IP6_SADDR_OFF (ETH_HLEN_ + 8)
#define IP6_DADDR_OFF (ETH_HLEN_ + 24)

static __always_inline int npt6_test(xwan_ctx *c)
{
	__u32 k = 0;
	struct npt6_test_cfg *cfg = bpf_map_lookup_elem(&npt6_cfg, &k);
	void *data = ctx_data(c), *end = ctx_data_end(c);
	__u16 *proto = data + 12;

	if (!cfg)
		return -1;
	if ((void *)(proto + 1) > end || *proto != bpf_htons(0x86dd)) {
		cfg->rc = -2;
		return -1;
	}
	cfg->rc = npt6_rewrite(c, cfg->which == NPT6_TEST_DADDR ? IP6_DADDR_OFF :
			       IP6_SADDR_OFF, &cfg->map);
	return 0;
}

#if defined(NPT6_TEST_HOOK_tc)
SEC("tc")
int npt6_test_tc(struct __sk_buff *skb)
{
	return npt6_test(skb) ? TC_ACT_SHOT : TC_ACT_OK;
}
#else
SEC("xdp")
int npt6_test_xdp(struct xdp_md *xdp)
{
	return npt6_test(xdp) ? XDP_DROP : XDP_PASS;
}
#endif

char LICENSE[] SEC("license") = "Dual BSD/GPL";
