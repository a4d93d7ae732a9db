/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * IPv4 parsing into struct pkt, behind an Ethernet header or none (L3
 * devices, l2.h): the flow tuple and the offsets of every field NAT
 * rewrites. Nothing here writes to the packet.
 */
#ifndef XWAN_PARSE_H
#define XWAN_PARSE_H

#include "compiler.h"
#include "../xwan_types.h"

enum parse_result {
	PARSE_OK          = 0,
	PARSE_NOT_IPV4    = 1,  /* ARP, IPv6, VLAN-tagged...: the kernel's */
	PARSE_UNSUPPORTED = 2,  /* IPv4 we do not translate (ICMP redirect...) */
	PARSE_MALFORMED   = 3,
};

enum frag_kind {
	FRAG_NONE  = 0,
	FRAG_FIRST = 1,     /* offset 0, more fragments: carries the ports */
	FRAG_LATER = 2,     /* no L4 header */
};

struct pkt {
	struct flow_key key;    /* ICMP echo: id is sport of a request, dport of a reply */
	struct flow_key inner;  /* ICMP error: the quoted packet, as it was sent */
	__u32 len;              /* IP total length */
	__u16 l3_off;           /* the IP header: ETH_HLEN, or 0 on an L3 device */
	__u16 l4_off;
	__u16 sport_off;        /* 0: absent */
	__u16 dport_off;
	__u16 csum_off;         /* L4 checksum */
	__u16 ip_id;
	__u16 in_l3_off;
	__u16 in_sport_off;
	__u16 in_dport_off;
	__u16 in_csum_off;      /* 0: not quoted (routers may quote only 8 bytes) */
	__u16 in_ip_check;      /* quoted IP header checksum, as received */
	__u16 in_l4_check;      /* quoted L4 checksum, when in_csum_off */
	__u32 tcp_seq;          /* host order */
	__u32 tcp_seq_len;      /* sequence space the segment uses (payload, SYN, FIN) */
	__u32 tcp_ack;          /* host order */
	__u16 tcp_win;          /* host order, unscaled */
	__u8  tcp_wscale;       /* SYN: its window scale option, TCP_NO_WSCALE: none */
	__u8  ttl;
	__u8  tcp_flags;
	__u8  frag;             /* enum frag_kind */
	__u8  icmp_err;         /* an ICMP error quoting `inner` */
	__u8  l4_pseudo;        /* L4 checksum covers the addresses (TCP, UDP) */
	__u8  udp;              /* UDP: a zero checksum means none */
	__u8  in_pseudo;
	__u8  in_udp;
	__u8  eth_src[6];       /* the frame's MACs (zero on L3 devices): a new
				   flow's reply goes back to them */
	__u8  eth_dst[6];
};

/*
 * Offsets of the L4 fields parsing reads and NAT rewrites, from the
 * headers' own layouts (RFC 793, 768, 792). __builtin_offsetof: a
 * constant, where vmlinux.h's preserve_access_index would make offsetof()
 * a CO-RE relocation. TCP's data offset and flags are bitfields, which
 * offsetof cannot name: they are the two bytes after the acknowledgment
 * number.
 */
#define HDR_OFF(type, field) __builtin_offsetof(struct type, field)
#define TCP_SPORT_OFF  HDR_OFF(tcphdr, source)
#define TCP_DPORT_OFF  HDR_OFF(tcphdr, dest)
#define TCP_SEQ_OFF    HDR_OFF(tcphdr, seq)
#define TCP_ACK_OFF    HDR_OFF(tcphdr, ack_seq)
#define TCP_DOFF_OFF   (TCP_ACK_OFF + sizeof(__be32))   /* data offset: high nibble */
#define TCP_FLAGS_OFF  (TCP_DOFF_OFF + 1)               /* FIN ... CWR */
#define TCP_WIN_OFF    HDR_OFF(tcphdr, window)
#define TCP_CSUM_OFF   HDR_OFF(tcphdr, check)
#define UDP_SPORT_OFF  HDR_OFF(udphdr, source)
#define UDP_DPORT_OFF  HDR_OFF(udphdr, dest)
#define UDP_CSUM_OFF   HDR_OFF(udphdr, check)
#define ICMP_TYPE_OFF  HDR_OFF(icmphdr, type)
#define ICMP_CSUM_OFF  HDR_OFF(icmphdr, checksum)
#define ICMP_ID_OFF    HDR_OFF(icmphdr, un.echo.id)     /* queries' identifier */
#define TCP_HLEN       sizeof(struct tcphdr)            /* without options */
#define UDP_HLEN       sizeof(struct udphdr)
#define ICMP_HLEN      sizeof(struct icmphdr)
/* An ICMP error quotes the IP header and at least 8 L4 bytes (RFC 792). */
#define ICMP_QUOTED_L4 8

_Static_assert(TCP_FLAGS_OFF == 13 && TCP_WIN_OFF == 14 && TCP_CSUM_OFF == 16 &&
	       TCP_HLEN == 20, "TCP header layout (RFC 793)");
_Static_assert(UDP_CSUM_OFF == 6 && UDP_HLEN == 8, "UDP header layout (RFC 768)");
_Static_assert(ICMP_CSUM_OFF == 2 && ICMP_ID_OFF == 4 && ICMP_HLEN == 8,
	       "ICMP header layout (RFC 792)");

static __always_inline int is_icmp_error(__u8 type)
{
	return type == ICMP_DEST_UNREACH || type == ICMP_TIME_EXCEEDED ||
	       type == ICMP_PARAMETERPROB || type == ICMP_SOURCE_QUENCH;
}

/*
 * ICMP queries with an identifier (RFC 792, RFC 950): echo, timestamp,
 * information and address mask. A request's identifier is NATed like a
 * port (RFC 5508 REQ-1), its reply matched by it.
 */
static __always_inline int icmp_query_request(__u8 type)
{
	return type == ICMP_ECHO || type == ICMP_TIMESTAMP || type == ICMP_INFO_REQUEST ||
	       type == ICMP_ADDRESS;
}

static __always_inline int icmp_query_reply(__u8 type)
{
	return type == ICMP_ECHOREPLY || type == ICMP_TIMESTAMPREPLY ||
	       type == ICMP_INFO_REPLY || type == ICMP_ADDRESSREPLY;
}

/*
 * Protocols without ports (GRE, ESP, AH, SCTP, IPIP, anything but TCP, UDP
 * and ICMP) are translated by address only, as Linux's generic conntrack
 * does: the whole flow key is in the IP header, so every fragment has it.
 */
static __always_inline int proto_addr_only(__u8 proto)
{
	return proto != IPPROTO_TCP && proto != IPPROTO_UDP && proto != IPPROTO_ICMP;
}

/* The packet an ICMP error quotes: its IP header and first 8 L4 bytes. */
static __always_inline int parse_icmp_inner(void *data, void *data_end, struct pkt *p)
{
	__u32 l3 = p->l4_off + ICMP_HLEN, l4;
	struct iphdr *ip = data + l3;
	__u8 *l4p;

	if ((void *)(ip + 1) > data_end)
		return PARSE_MALFORMED;
	if (ip->version != 4 || ip->ihl < 5)
		return PARSE_MALFORMED;
	if (ip->frag_off & bpf_htons(IP_OFFSET))
		return PARSE_UNSUPPORTED;       /* no ports to match */
	l4 = l3 + ip->ihl * 4;
	l4p = data + l4;
	if ((void *)(l4p + ICMP_QUOTED_L4) > data_end || l4 + ICMP_QUOTED_L4 > p->l3_off + p->len)
		return PARSE_MALFORMED;

	p->in_l3_off = l3;
	p->in_ip_check = ip->check;
	p->inner.saddr = ip->saddr;
	p->inner.daddr = ip->daddr;
	p->inner.proto = ip->protocol;

	switch (ip->protocol) {
	case IPPROTO_TCP:
		p->inner.sport = *(__be16 *)(l4p + TCP_SPORT_OFF);
		p->inner.dport = *(__be16 *)(l4p + TCP_DPORT_OFF);
		p->in_sport_off = l4 + TCP_SPORT_OFF;
		p->in_dport_off = l4 + TCP_DPORT_OFF;
		/* The checksum lies past the 8 bytes a router must quote. */
		if ((void *)(l4p + TCP_CSUM_OFF + 2) <= data_end &&
		    l4 + TCP_CSUM_OFF + 2 <= p->l3_off + p->len) {
			p->in_csum_off = l4 + TCP_CSUM_OFF;
			p->in_l4_check = *(__u16 *)(l4p + TCP_CSUM_OFF);
		}
		p->in_pseudo = 1;
		return PARSE_OK;
	case IPPROTO_UDP:
		p->inner.sport = *(__be16 *)(l4p + UDP_SPORT_OFF);
		p->inner.dport = *(__be16 *)(l4p + UDP_DPORT_OFF);
		p->in_sport_off = l4 + UDP_SPORT_OFF;
		p->in_dport_off = l4 + UDP_DPORT_OFF;
		p->in_csum_off = l4 + UDP_CSUM_OFF;
		p->in_l4_check = *(__u16 *)(l4p + UDP_CSUM_OFF);
		p->in_pseudo = 1;
		p->in_udp = 1;
		return PARSE_OK;
	case IPPROTO_ICMP:
		/* Only queries can be NATed, so only queries can be quoted back. */
		if (icmp_query_request(l4p[ICMP_TYPE_OFF])) {
			p->inner.sport = *(__be16 *)(l4p + ICMP_ID_OFF);
			p->in_sport_off = l4 + ICMP_ID_OFF;
		} else if (icmp_query_reply(l4p[ICMP_TYPE_OFF])) {
			p->inner.dport = *(__be16 *)(l4p + ICMP_ID_OFF);
			p->in_dport_off = l4 + ICMP_ID_OFF;
		} else {
			return PARSE_UNSUPPORTED;
		}
		p->in_csum_off = l4 + ICMP_CSUM_OFF;
		p->in_l4_check = *(__u16 *)(l4p + ICMP_CSUM_OFF);
		return PARSE_OK;
	}
	return PARSE_OK;        /* address only: no quoted field but the addresses */
}

/* Header bytes the L4 protocol needs: they must lie inside the IP datagram
 * (tot_len), not merely inside the frame, whose padding is not ours. */
static __always_inline int l4_fits(const struct pkt *p, __u32 need)
{
	return p->l4_off + need <= p->l3_off + p->len;
}

#define TCP_NO_WSCALE 0xff
#define TCP_OPT_WINDOW 3
#define TCP_MAX_WSCALE 14

/* A SYN's window scale option (RFC 7323), TCP_NO_WSCALE when it has none. */
static __always_inline __u8 tcp_parse_wscale(void *data, void *data_end, __u32 l4, __u32 hlen)
{
	__u32 off = TCP_HLEN;

	for (int i = 0; i < 8; i++) {
		__u8 *o = data + l4 + (off & 63);

		if (off + 1 > hlen || (void *)(o + 1) > data_end || o[0] == 0)
			break;
		if (o[0] == 1) {                /* NOP */
			off++;
			continue;
		}
		if (off + 2 > hlen || (void *)(o + 2) > data_end || o[1] < 2)
			break;
		if (o[0] == TCP_OPT_WINDOW && o[1] == 3) {
			if (off + 3 > hlen || (void *)(o + 3) > data_end)
				break;
			return o[2] > TCP_MAX_WSCALE ? TCP_MAX_WSCALE : o[2];
		}
		off += o[1];
	}
	return TCP_NO_WSCALE;
}

/* TCP: ports, sequence space, window and flags (a SYN's window scale too). */
static __always_inline int parse_tcp(void *data, void *data_end, struct pkt *p)
{
	__u32 l4 = p->l4_off, hlen;
	__u8 *l4p = data + l4;

	if ((void *)(l4p + TCP_HLEN) > data_end || !l4_fits(p, TCP_HLEN))
		return PARSE_MALFORMED;
	hlen = (l4p[TCP_DOFF_OFF] >> 4) * 4;
	if (hlen < TCP_HLEN || !l4_fits(p, hlen))
		return PARSE_MALFORMED;
	p->key.sport = *(__be16 *)(l4p + TCP_SPORT_OFF);
	p->key.dport = *(__be16 *)(l4p + TCP_DPORT_OFF);
	p->tcp_flags = l4p[TCP_FLAGS_OFF];
	p->tcp_seq = bpf_ntohl(*(__be32 *)(l4p + TCP_SEQ_OFF));
	p->tcp_ack = bpf_ntohl(*(__be32 *)(l4p + TCP_ACK_OFF));
	p->tcp_win = bpf_ntohs(*(__be16 *)(l4p + TCP_WIN_OFF));
	p->tcp_wscale = TCP_NO_WSCALE;
	if (p->tcp_flags & TCP_FLAG_SYN)
		p->tcp_wscale = tcp_parse_wscale(data, data_end, l4, hlen);
	p->tcp_seq_len = p->len - (l4 - p->l3_off) - hlen +
			 !!(p->tcp_flags & TCP_FLAG_SYN) + !!(p->tcp_flags & TCP_FLAG_FIN);
	p->sport_off = l4 + TCP_SPORT_OFF;
	p->dport_off = l4 + TCP_DPORT_OFF;
	p->csum_off = l4 + TCP_CSUM_OFF;
	p->l4_pseudo = 1;
	return PARSE_OK;
}

static __always_inline int parse_l4(void *data, void *data_end, struct pkt *p)
{
	__u32 l4 = p->l4_off;
	__u8 *l4p = data + l4;

	switch (p->key.proto) {
	case IPPROTO_TCP:
		return parse_tcp(data, data_end, p);
	case IPPROTO_UDP:
		if ((void *)(l4p + UDP_HLEN) > data_end || !l4_fits(p, UDP_HLEN))
			return PARSE_MALFORMED;
		p->key.sport = *(__be16 *)(l4p + UDP_SPORT_OFF);
		p->key.dport = *(__be16 *)(l4p + UDP_DPORT_OFF);
		p->sport_off = l4 + UDP_SPORT_OFF;
		p->dport_off = l4 + UDP_DPORT_OFF;
		p->csum_off = l4 + UDP_CSUM_OFF;
		p->l4_pseudo = 1;
		p->udp = 1;
		return PARSE_OK;
	case IPPROTO_ICMP:
		if ((void *)(l4p + ICMP_HLEN) > data_end || !l4_fits(p, ICMP_HLEN))
			return PARSE_MALFORMED;
		p->csum_off = l4 + ICMP_CSUM_OFF;
		if (icmp_query_request(l4p[ICMP_TYPE_OFF])) {
			p->key.sport = *(__be16 *)(l4p + ICMP_ID_OFF);
			p->sport_off = l4 + ICMP_ID_OFF;
			return PARSE_OK;
		}
		if (icmp_query_reply(l4p[ICMP_TYPE_OFF])) {
			p->key.dport = *(__be16 *)(l4p + ICMP_ID_OFF);
			p->dport_off = l4 + ICMP_ID_OFF;
			return PARSE_OK;
		}
		if (!is_icmp_error(l4p[ICMP_TYPE_OFF]))
			return PARSE_UNSUPPORTED;
		p->icmp_err = 1;
		return parse_icmp_inner(data, data_end, p);
	}
	return PARSE_OK;        /* address only (proto_addr_only) */
}

/*
 * A router drops IPv4 headers whose checksum is wrong (RFC 1812 5.2.2), as
 * the kernel's ip_rcv does: forwarding one would carry the corruption on,
 * and a corrupted address could open a flow. The common 20-byte header is
 * summed inline, options word by word.
 */
static __always_inline int ip_header_csum_ok(struct iphdr *ip, __u32 hl, void *data_end)
{
	__u16 *w = (__u16 *)ip;
	__u32 sum = (__u32)w[0] + w[1] + w[2] + w[3] + w[4] + w[5] + w[6] + w[7] + w[8] + w[9];

	for (__u32 i = 5; i < 15 && i * 4 < hl; i++) {
		__u32 *opt = (void *)ip + i * 4;

		if ((void *)(opt + 1) > data_end)
			return 0;
		sum += (*opt & 0xffff) + (*opt >> 16);
	}
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return sum == 0xffff;
}

/*
 * The link-layer part: Ethernet (l3_off ETH_HLEN) or nothing (0, an L3
 * device, where the first nibble tells IPv4 from IPv6). Returns the IP
 * header or NULL with *rc set.
 */
static __always_inline struct iphdr *parse_l2(void *data, void *data_end, __u32 l3_off,
					      struct pkt *p, int *rc)
{
	struct ethhdr *eth = data;
	struct iphdr *ip = data;

	*rc = PARSE_MALFORMED;
	if (l3_off) {
		if ((void *)(eth + 1) > data_end)
			return NULL;
		if (eth->h_proto != bpf_htons(ETH_P_IP)) {
			*rc = PARSE_NOT_IPV4;
			return NULL;
		}
		__builtin_memcpy(p->eth_src, eth->h_source, 6);
		__builtin_memcpy(p->eth_dst, eth->h_dest, 6);
		ip = (void *)(eth + 1);
	}
	p->l3_off = l3_off;
	if ((void *)(ip + 1) > data_end)
		return NULL;
	if (!l3_off && ip->version != 4) {
		*rc = PARSE_NOT_IPV4;
		return NULL;
	}
	return ip;
}

/*
 * frame_len is the whole packet's length (in tc, including paged data),
 * used to reject IP headers that claim more than arrived. l3_off is the
 * device's link header length (ctx_l3_off()): ETH_HLEN or 0.
 */
static __always_inline int parse_packet(void *data, void *data_end, __u32 frame_len,
					__u32 l3_off, struct pkt *p)
{
	/* Two known values keep every later packet offset bounded for the verifier. */
	__u32 l3 = l3_off ? ETH_HLEN : 0;
	struct iphdr *ip;
	__u16 frag_off;
	__u32 hl;
	int rc;

	ip = parse_l2(data, data_end, l3, p, &rc);
	if (!ip)
		return rc;
	if (ip->version != 4 || ip->ihl < 5)
		return PARSE_MALFORMED;
	hl = ip->ihl * 4;
	p->len = bpf_ntohs(ip->tot_len);
	if (p->len < hl || frame_len < l3 + p->len)
		return PARSE_MALFORMED;
	if ((void *)ip + hl > data_end)
		return PARSE_MALFORMED;
	if (!ip_header_csum_ok(ip, hl, data_end))
		return PARSE_MALFORMED;

	p->key.saddr = ip->saddr;
	p->key.daddr = ip->daddr;
	p->key.proto = ip->protocol;
	p->ttl = ip->ttl;
	p->ip_id = ip->id;
	p->l4_off = l3 + hl;

	frag_off = bpf_ntohs(ip->frag_off);
	if (proto_addr_only(p->key.proto))
		return PARSE_OK;        /* every fragment carries the whole key */
	if (frag_off & IP_OFFSET) {
		p->frag = FRAG_LATER;
		return PARSE_OK;
	}
	if (frag_off & IP_MF)
		p->frag = FRAG_FIRST;
	return parse_l4(data, data_end, p);
}

#endif /* XWAN_PARSE_H */
