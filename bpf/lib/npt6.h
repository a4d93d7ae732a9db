/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * NPTv6 (RFC 6296): stateless, checksum-neutral IPv6 prefix translation.
 *
 * A prefix of length plen (1..64) is replaced by another of the same length
 * and one 16-bit word outside the prefix absorbs the difference of their
 * one's complement sums, so the address sums to what it did before and no
 * transport checksum (TCP, UDP, ICMPv6: all cover the pseudo-header) needs
 * an update. The word (RFC 6296 section 3):
 *   plen <= 48: word 3 (bits 48-63, the subnet id);
 *   plen 49-64: the first of words 4-7 (the interface id) that is not 0xFFFF.
 * 0xFFFF and 0x0000 are the same number in one's complement: a result of
 * 0xFFFF is written as 0x0000, and an address whose adjustment word is 0xFFFF
 * (or, for plen > 48, whose interface id is all 0xFFFF) is not translated,
 * since it would map onto the same result as its 0x0000 twin and the mapping
 * would stop being 1:1.
 *
 * Shared-header style: the math needs no BPF helpers, so userspace tests use
 * the same code (tests/unit/test_npt6_math.c). The per-packet rewrite at the end
 * is only there when a hook is defined (ctx.h).
 */
#ifndef XWAN_NPT6_H
#define XWAN_NPT6_H

#ifdef __bpf__
#include "compiler.h"
#else
#include <linux/types.h>
#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif
#endif

#include "csum.h"
#include "../xwan_types.h"

#define NPT6_MAX_PLEN 64

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define NPT6_BE16(x) ((__u16)__builtin_bswap16((__u16)(x)))
#else
#define NPT6_BE16(x) ((__u16)(x))
#endif

/* struct npt6_map (one direction of a mapping) is a map layout: xwan_types.h. */

/* Network-order mask of the prefix bits in word i. */
static __always_inline __u16 npt6_word_mask(__u8 plen, int i)
{
	int bits = (int)plen - 16 * i;

	if (bits <= 0)
		return 0;
	if (bits >= 16)
		return 0xffff;
	return NPT6_BE16(0xffff << (16 - bits));
}

static __always_inline __u16 npt6_prefix_sum(const __u16 p[8], __u8 plen)
{
	__u16 s = 0;

	for (int i = 0; i < 4; i++)         /* plen <= 64: words 0-3 */
		s = csum16_add(s, p[i] & npt6_word_mask(plen, i));
	return s;
}

/* Fill m for from/plen -> to/plen (host bits of the inputs are ignored). */
static __always_inline int npt6_map_init(struct npt6_map *m, const __u16 from[8],
					 const __u16 to[8], __u8 plen)
{
	if (plen == 0 || plen > NPT6_MAX_PLEN)
		return -1;
	for (int i = 0; i < 8; i++) {
		m->from[i] = from[i] & npt6_word_mask(plen, i);
		m->to[i] = to[i] & npt6_word_mask(plen, i);
	}
	m->plen = plen;
	m->pad = 0;
	m->adj = csum16_add(npt6_prefix_sum(m->from, plen),
			    (__u16)~npt6_prefix_sum(m->to, plen));
	return 0;
}

static __always_inline int npt6_matches(const struct npt6_map *m, const __u16 a[8])
{
	for (int i = 0; i < 4; i++)
		if ((a[i] & npt6_word_mask(m->plen, i)) != m->from[i])
			return 0;
	return 1;
}

/* The word that absorbs the adjustment, or -1 when the address has none. */
static __always_inline int npt6_adj_word(const struct npt6_map *m, const __u16 a[8])
{
	if (m->plen <= 48)
		return a[3] == 0xffff ? -1 : 3;
	for (int i = 4; i < 8; i++)
		if (a[i] != 0xffff)
			return i;
	return -1;
}

/*
 * Translate a (8 network-order words) in place. 0: done; 1: a is not in
 * m->from (left alone); -1: not translatable (the 0xFFFF rule).
 */
static __always_inline int npt6_translate(const struct npt6_map *m, __u16 a[8])
{
	int w;
	__u16 v;

	if (!npt6_matches(m, a))
		return 1;
	w = npt6_adj_word(m, a);
	if (w < 0)
		return -1;
	for (int i = 0; i < 4; i++) {
		__u16 k = npt6_word_mask(m->plen, i);

		a[i] = (a[i] & (__u16)~k) | m->to[i];
	}
	v = csum16_add(a[w], m->adj);
	a[w] = v == 0xffff ? 0 : v;
	return 0;
}

#if defined(XWAN_HOOK_XDP) || defined(XWAN_HOOK_TC)
#include "ctx.h"

/*
 * Rewrite the IPv6 address at offset off (the source at l3 + 8, the
 * destination at l3 + 24) through m. No checksum is touched: neither the
 * transport checksums nor, in tc, skb->csum, since the packet's sum does not
 * change. Returns as npt6_translate, -1 also when the packet is too short.
 */
static __always_inline int npt6_rewrite(xwan_ctx *c, __u32 off, const struct npt6_map *m)
{
	void *end = ctx_data_end(c);
	__u16 a[8], *p;
	int rc;

	if (off > CTX_MAX_OFF - 16)
		return -1;
	p = ctx_data(c) + off;
	if ((void *)(p + 8) > end)
		return -1;
	__builtin_memcpy(a, p, sizeof(a));
	rc = npt6_translate(m, a);
	if (rc)
		return rc;
	for (int i = 0; i < 4; i++) {
		__u32 w;

		__builtin_memcpy(&w, &a[2 * i], sizeof(w));
		if (ctx_store32(c, off + 4 * i, w))
			return -1;
	}
	return 0;
}
#endif

#endif /* XWAN_NPT6_H */
