/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Incremental Internet checksum updates (RFC 1624: HC' = ~(~HC + ~m + m')).
 * One's complement sums are byte-order independent, so fields are handled
 * as the 16-bit words they are in memory, never swapped.
 */
#ifndef XWAN_CSUM_H
#define XWAN_CSUM_H

static __always_inline __u16 csum16_add(__u16 a, __u16 b)
{
	__u32 r = (__u32)a + b;

	return (__u16)(r + (r >> 16));
}

/* Adjust an already complemented checksum for a 16-bit word change. */
static __always_inline __u16 csum_update16(__u16 check, __u16 from, __u16 to)
{
	return ~csum16_add(csum16_add((__u16)~check, (__u16)~from), to);
}

static __always_inline __u16 csum_update32(__u16 check, __u32 from, __u32 to)
{
	check = csum_update16(check, (__u16)from, (__u16)to);
	return csum_update16(check, (__u16)(from >> 16), (__u16)(to >> 16));
}

#endif /* XWAN_CSUM_H */
