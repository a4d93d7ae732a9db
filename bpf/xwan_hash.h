/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The flow hash that picks a gateway slot. Shared with userspace so that
 * `xwan explain` predicts exactly what the dataplane will do. Inputs are the
 * raw network-order fields of a flow_key.
 */
#ifndef XWAN_HASH_H
#define XWAN_HASH_H

/* murmur3's finaliser: cheap, and every input bit reaches every output bit. */
static inline __attribute__((always_inline)) __u32 xwan_mix32(__u32 h)
{
	h ^= h >> 16;
	h *= 0x85ebca6bU;
	h ^= h >> 13;
	h *= 0xc2b2ae35U;
	h ^= h >> 16;
	return h;
}

static inline __attribute__((always_inline)) __u32
xwan_flow_hash(__u32 saddr, __u32 daddr, __u16 sport, __u16 dport, __u8 proto,
	       __u16 fields, __u32 seed)
{
	/* Branch-free masking: a field not selected hashes as zero. */
	__u32 ms = -(__u32)!!(fields & HASH_F_SRC);
	__u32 md = -(__u32)!!(fields & HASH_F_DST);
	__u32 mp = -(__u32)!!(fields & HASH_F_PROTO);
	__u32 msp = -(__u32)!!(fields & HASH_F_SPORT);
	__u32 mdp = -(__u32)!!(fields & HASH_F_DPORT);
	__u32 ports = (((__u32)sport << 16) & msp) | ((__u32)dport & mdp & 0xffff);
	__u32 h = seed ^ 0x9e3779b9U;

	h = xwan_mix32(h ^ (saddr & ms));
	h = xwan_mix32(h ^ (daddr & md));
	h = xwan_mix32(h ^ ports);
	h = xwan_mix32(h ^ ((__u32)proto & mp));
	return h;
}

/* An IPv6 address folded to the 32 bits xwan_flow_hash takes (network order words). */
static inline __attribute__((always_inline)) __u32 xwan_addr6_fold(const __u8 *a)
{
	__u32 w[4];

	__builtin_memcpy(w, a, 16);
	return w[0] ^ w[1] ^ w[2] ^ w[3];
}

#endif /* XWAN_HASH_H */
