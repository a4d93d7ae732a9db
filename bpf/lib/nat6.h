/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * IPv6 translation of one packet of a flow, by its gateway's nat6 mode:
 *   npt   RFC 6296 through the gateway's maps (npt6.h): the source of a LAN
 *         packet inside -> outside, the destination of a reply back. Checksum
 *         neutral: no transport checksum changes, nor skb->csum in tc.
 *   none  nothing: the LAN holds the ISP's prefix (RFC 8678).
 *   masquerade  NAT66 to the WAN's address and a port (nat66.h): stateful,
 *         transport checksums updated.
 * An ICMPv6 error is translated with its quoted header, the quoted address
 * through the same map as the outer one on the other side (still neutral:
 * the ICMPv6 checksum covers both and each keeps its sum).
 */
#ifndef XWAN_NAT6_H
#define XWAN_NAT6_H

#include "flow6.h"

/* One address through m: 0, or the verdict when it cannot be. */
static __always_inline __u32 nat6_addr(xwan_ctx *c, __u32 off, const struct npt6_map *m)
{
	int rc = npt6_rewrite(c, off, m);

	if (rc == 0)
		return 0;
	return rc > 0 ? V_DROP_UNTRANSLATED : V_DROP_NPT_UNMAPPABLE;
}

/*
 * A masqueraded flow's packet (nat66.h), by the mode the flow was made
 * with: its reply key holds the WAN's address whatever a reload did since.
 */
static __always_inline __u32 nat6_masq(xwan_ctx *c, const struct pkt6 *p,
				       const struct flow6_entry *fe, int out)
{
	if (nat66_rewrite(c, p, fe, out))
		return V_DROP_MALFORMED;
	if (p->icmp_err)
		count_event(EV_ICMP_ERR_XLATED);
	return 0;
}

/* LAN -> WAN: the source (and an error's quoted destination). */
static __always_inline __u32 nat6_out(xwan_ctx *c, const struct pkt6 *p,
				      const struct gw6_info *gi, const struct flow6_entry *fe)
{
	__u32 v;

	if (fe->nat6 == NAT6_MASQUERADE)
		return nat6_masq(c, p, fe, 1);
	if (gi->nat6 != NAT6_NPT)
		return 0;
	v = nat6_addr(c, p->l3_off + IP6_SRC_OFF, &gi->out);
	/* The host's own error (nat6_kernel_error_flow) keeps its own source. */
	if (v == V_DROP_UNTRANSLATED && p->icmp_err && prefix6_kind(p->key.saddr) == PREFIX6_LOCAL)
		v = 0;
	if (!v && p->icmp_err)
		v = nat6_addr(c, p->in_l3_off + IP6_DST_OFF, &gi->out);
	return v;
}

/* WAN -> LAN: the destination (and an error's quoted source). */
static __always_inline __u32 nat6_in(xwan_ctx *c, const struct pkt6 *p,
				     const struct gw6_info *gi, const struct flow6_entry *fe)
{
	__u32 v;

	if (fe->nat6 == NAT6_MASQUERADE)
		return nat6_masq(c, p, fe, 0);
	if (gi->nat6 != NAT6_NPT)
		return 0;
	v = nat6_addr(c, p->l3_off + IP6_DST_OFF, &gi->in);
	if (!v && p->icmp_err)
		v = nat6_addr(c, p->in_l3_off + IP6_SRC_OFF, &gi->in);
	return v;
}

/* The key of the entry an ICMPv6 error is about, in the error's direction:
 * the quoted packet went the other way. */
static __always_inline void icmp6_err_key(const struct pkt6 *p, struct flow6_key *k)
{
	__builtin_memcpy(k->saddr, p->inner.daddr, 16);
	__builtin_memcpy(k->daddr, p->inner.saddr, 16);
	k->sport = p->inner.dport;
	k->dport = p->inner.sport;
	k->proto = p->inner.proto;
	k->pad[0] = k->pad[1] = k->pad[2] = 0;
}

/*
 * The kernel's own ICMPv6 error about a packet of a translated flow (npt,
 * masquerade) it was forwarding to the LAN (hop limit 1 from the
 * internet, too big for the LAN's MTU): unmarked, it quotes the flow's LAN
 * side, which the remote cannot match. Its OUT entry translates the quote
 * as a LAN host's own error's (quoted destination, and port, back to the
 * WAN's), when it leaves by the flow's WAN.
 */
static __always_inline struct flow6_entry *nat6_kernel_error_flow(struct v6_scratch *w,
								  const struct xwan_settings *s,
								  __u32 ifindex, __u64 now)
{
	struct flow6_entry *fe;

	icmp6_err_key(&w->p, &w->k);
	fe = flow6_lookup(s, &w->k, now);
	if (!fe || fe->dir != FLOW_DIR_OUT || fe->nat6 == NAT6_NONE ||
	    fe->out_ifindex != ifindex || (fe->flags & (FLOW_F_BYPASS | FLOW_F_DROP)))
		return NULL;
	return fe;
}

#endif /* XWAN_NAT6_H */
