/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The benchmark's synthetic flows: flow number i <-> one distinct tuple.
 * Shared by the harness BPF program (which writes tuple i into the frame it
 * hands to the program under test) and bench_dp.c (which fills the flow
 * table with the same tuples), so both agree without a table.
 *
 *   remote  198.18.0.0/15 (RFC 2544 benchmarking range) + i % 2^17
 *   sport   1024 + (i / 2^17) % 64000
 *   client  10.1.0.2 + i / (2^17 * 64000)    (only 0 below 8.3e9 flows)
 *
 * Every flow has its own remote address, so source NAT can keep the
 * client's port (no port collision): the cost measured is the plain path.
 * Values are host order; callers convert.
 */
#ifndef XWAN_BENCH_TUPLE_H
#define XWAN_BENCH_TUPLE_H

#define BT_REMOTE_BASE  0xc6120000u     /* 198.18.0.0 */
#define BT_CLIENT_BASE  0x0a010002u     /* 10.1.0.2 */
#define BT_REMOTE_BITS  17
#define BT_PORTS        64000u
#define BT_PORT_BASE    1024u
#define BT_DPORT        443u

static inline __attribute__((always_inline)) __u32 bt_remote(__u32 i)
{
	return BT_REMOTE_BASE + (i & ((1u << BT_REMOTE_BITS) - 1));
}

static inline __attribute__((always_inline)) __u16 bt_sport(__u32 i)
{
	return (__u16)(BT_PORT_BASE + (i >> BT_REMOTE_BITS) % BT_PORTS);
}

static inline __attribute__((always_inline)) __u32 bt_client(__u32 i)
{
	return BT_CLIENT_BASE + (i >> BT_REMOTE_BITS) / BT_PORTS;
}

/* How the harness changes the frame before each run of the program. */
enum bench_vary {
	VARY_NONE = 0,          /* the same frame every time */
	VARY_NEW  = 1,          /* LAN frame of flow `next++`: a new tuple per run */
	VARY_RAND_LAN = 2,      /* LAN frame of a random flow in [0, nflows) */
	VARY_RAND_WAN = 3,      /* WAN reply frame of a random flow in [0, nflows) */
};

#define BENCH_FRAME 64          /* every benchmark frame is 64 bytes */

/* The harness's setting, element 0 of the `bench_cfg` array. */
struct bench_cfg {
	__u8  frame[BENCH_FRAME];
	__u32 vary;             /* enum bench_vary */
	__u32 nflows;           /* VARY_RAND_*: flows 0..nflows-1 exist */
	__u32 next;             /* VARY_NEW: the next flow number (per run, advanced by
				   the harness in its per-CPU copy) */
	__u32 nat_addr;         /* VARY_RAND_WAN: the NAT address (network order) */
};

#endif /* XWAN_BENCH_TUPLE_H */
