/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The packet context, one API over XDP and tc (as Cilium does), so the flow
 * and NAT logic is written once. The including program defines
 * XWAN_HOOK_XDP or XWAN_HOOK_TC before including this.
 *
 * Shared code reads headers through the pointers parse_packet() checked and
 * writes only through these offset-based stores and checksum updates: in tc
 * they are helpers that keep skb checksum state right (CHECKSUM_PARTIAL after
 * GRO, CHECKSUM_COMPLETE) and that invalidate packet pointers.
 */
#ifndef XWAN_CTX_H
#define XWAN_CTX_H

#include "compiler.h"
#include "csum.h"

/* No header we rewrite lies beyond this offset (inner TCP checksum: 158). */
#define CTX_MAX_OFF 255

#if defined(XWAN_HOOK_XDP)

#define xwan_ctx struct xdp_md
#define CTX_ACT_PASS XDP_PASS
#define CTX_ACT_DROP XDP_DROP

static __always_inline void *ctx_data(const xwan_ctx *c)
{
	return CTX_LOAD_PTR(c, data);
}

static __always_inline void *ctx_data_end(const xwan_ctx *c)
{
	return CTX_LOAD_PTR(c, data_end);
}

static __always_inline __u32 ctx_len(const xwan_ctx *c)
{
	return ctx_data_end(c) - ctx_data(c);
}

static __always_inline __u32 ctx_ifindex(const xwan_ctx *c)
{
	return CTX_LOAD_U32(c, ingress_ifindex);
}

static __always_inline int ctx_store16(xwan_ctx *c, __u32 off, __u16 v)
{
	void *end = ctx_data_end(c);
	__u16 *p;

	if (off > CTX_MAX_OFF)
		return -1;
	p = ctx_data(c) + off;
	if ((void *)(p + 1) > end)
		return -1;
	*p = v;
	return 0;
}

static __always_inline int ctx_store32(xwan_ctx *c, __u32 off, __u32 v)
{
	void *end = ctx_data_end(c);
	__u32 *p;

	if (off > CTX_MAX_OFF)
		return -1;
	p = ctx_data(c) + off;
	if ((void *)(p + 1) > end)
		return -1;
	*p = v;
	return 0;
}

/*
 * Same contract as bpf_l4_csum_replace(): flags carry the size (2 or 4) in
 * the low bits, BPF_F_MARK_MANGLED_0 for UDP (0 means "no checksum" and
 * must stay 0; a computed 0 is sent as 0xffff). BPF_F_PSEUDO_HDR needs no
 * special handling here: XDP only ever sees complete checksums.
 */
static __always_inline int ctx_csum_replace(xwan_ctx *c, __u32 off, __u32 from,
					    __u32 to, __u64 flags)
{
	void *end = ctx_data_end(c);
	__u16 *p, sum;

	if (off > CTX_MAX_OFF)
		return -1;
	p = ctx_data(c) + off;
	if ((void *)(p + 1) > end)
		return -1;
	if ((flags & BPF_F_MARK_MANGLED_0) && *p == 0)
		return 0;
	if ((flags & 0xf) == 4)
		sum = csum_update32(*p, from, to);
	else
		sum = csum_update16(*p, (__u16)from, (__u16)to);
	if ((flags & BPF_F_MARK_MANGLED_0) && sum == 0)
		sum = 0xffff;
	*p = sum;
	return 0;
}

static __always_inline int ctx_l3_csum_replace(xwan_ctx *c, __u32 off, __u32 from,
					       __u32 to, __u32 size)
{
	return ctx_csum_replace(c, off, from, to, size);
}

static __always_inline int ctx_l4_csum_replace(xwan_ctx *c, __u32 off, __u32 from,
					       __u32 to, __u64 flags)
{
	return ctx_csum_replace(c, off, from, to, flags);
}

#elif defined(XWAN_HOOK_TC)

#define xwan_ctx struct __sk_buff
#define CTX_ACT_PASS TC_ACT_OK
#define CTX_ACT_DROP TC_ACT_SHOT

static __always_inline void *ctx_data(const xwan_ctx *c)
{
	return CTX_LOAD_PTR(c, data);
}

static __always_inline void *ctx_data_end(const xwan_ctx *c)
{
	return CTX_LOAD_PTR(c, data_end);
}

static __always_inline __u32 ctx_len(const xwan_ctx *c)
{
	return CTX_LOAD_U32(c, len);
}

/* The device the packet is on now: ingress device, or egress device. */
static __always_inline __u32 ctx_ifindex(const xwan_ctx *c)
{
	return CTX_LOAD_U32(c, ifindex);
}

static __always_inline __u32 ctx_mark(const xwan_ctx *c)
{
	return CTX_LOAD_U32(c, mark);
}

static __always_inline int ctx_store16(xwan_ctx *c, __u32 off, __u16 v)
{
	return bpf_skb_store_bytes(c, off, &v, sizeof(v), 0);
}

static __always_inline int ctx_store32(xwan_ctx *c, __u32 off, __u32 v)
{
	return bpf_skb_store_bytes(c, off, &v, sizeof(v), 0);
}

static __always_inline int ctx_l3_csum_replace(xwan_ctx *c, __u32 off, __u32 from,
					       __u32 to, __u32 size)
{
	return bpf_l3_csum_replace(c, off, from, to, size);
}

static __always_inline int ctx_l4_csum_replace(xwan_ctx *c, __u32 off, __u32 from,
					       __u32 to, __u64 flags)
{
	return bpf_l4_csum_replace(c, off, from, to, flags);
}

#else
#error "define XWAN_HOOK_XDP or XWAN_HOOK_TC before including ctx.h"
#endif

#endif /* XWAN_CTX_H */
