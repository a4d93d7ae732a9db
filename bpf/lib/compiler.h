/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Build glue for every BPF object: helpers, constants missing from vmlinux.h. */
#ifndef XWAN_COMPILER_H
#define XWAN_COMPILER_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif
/*
 * Read a 32-bit context field with one instruction at a constant offset.
 * vmlinux.h marks every struct preserve_access_index, which lets clang hoist
 * "ctx + offset" into a register; the verifier rejects loads through such a
 * modified context pointer.
 */
#define CTX_LOAD_U32(ctx, field) ({                                        \
	__u32 __v;                                                          \
	asm volatile("%0 = *(u32 *)(%1 + %2)"                               \
		     : "=r"(__v)                                            \
		     : "r"(ctx), "i"(__builtin_offsetof(typeof(*(ctx)), field))); \
	__v;                                                                \
})

/* The same for data/data_end, kept in a 64-bit register with no extension. */
#define CTX_LOAD_PTR(ctx, field) ({                                        \
	void *__p;                                                          \
	asm volatile("%0 = *(u32 *)(%1 + %2)"                               \
		     : "=r"(__p)                                            \
		     : "r"(ctx), "i"(__builtin_offsetof(typeof(*(ctx)), field))); \
	__p;                                                                \
})

/*
 * A BPF global function: verified once on its own instead of at every call
 * site, which keeps big, rarely-run paths (flow creation) from multiplying
 * the verifier's work in the hot programs. Arguments: ctx, scalars, or
 * pointers to memory (checked for NULL inside).
 */
#define __xwan_global __attribute__((noinline))

#define likely(x)   __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

#define ETH_HLEN        14
#define ETH_P_IP        0x0800
#define IP_MF           0x2000
#define IP_OFFSET       0x1fff

#define ICMP_ECHOREPLY      0
#define ICMP_DEST_UNREACH   3
#define ICMP_SOURCE_QUENCH  4
#define ICMP_ECHO           8
#define ICMP_TIME_EXCEEDED  11
#define ICMP_PARAMETERPROB  12
#define ICMP_TIMESTAMP      13
#define ICMP_TIMESTAMPREPLY 14
#define ICMP_INFO_REQUEST   15
#define ICMP_INFO_REPLY     16
#define ICMP_ADDRESS        17
#define ICMP_ADDRESSREPLY   18

#define TCP_FLAG_FIN 0x01
#define TCP_FLAG_SYN 0x02
#define TCP_FLAG_RST 0x04
#define TCP_FLAG_ACK 0x10

#define TC_ACT_OK    0
#define TC_ACT_SHOT  2

/* Flags of bpf_l4_csum_replace(), mirrored by the XDP implementation. */
#ifndef BPF_F_PSEUDO_HDR
#define BPF_F_PSEUDO_HDR     (1ULL << 4)
#define BPF_F_MARK_MANGLED_0 (1ULL << 5)
#endif

#endif /* XWAN_COMPILER_H */
