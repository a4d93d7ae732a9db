// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * A test-only XDP program around bpf/lib/parse6.h (built as
 * build/parse6_test.bpf.o): parses an untagged Ethernet/IPv6 frame and
 * writes what parse6() found into a one-entry map.
 */
#define XWAN_HOOK_XDP
#include "../lib/compiler.h"
#include "parse6_test.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct parse6_test_out);
} parse6_out SEC(".maps");

SEC("xdp")
int parse6_test(struct xdp_md *xdp)
{
	struct parse6_test_out *o;
	struct parse6 p;
	__u32 k = 0;
	int rc;

	o = bpf_map_lookup_elem(&parse6_out, &k);
	if (!o)
		return XDP_ABORTED;
	/* On the stack, as the dataplane will hold it. */
	rc = parse6(xdp, 14, &p);
	o->rc = rc;
	__builtin_memcpy(&o->p, &p, sizeof(p));
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
