// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include "rst.h"
#include "devpath.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <linux/tcp.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* The RST as it goes on the wire; packed, so the offsets are the protocol's. */
struct rst_frame {
	struct ethhdr eth;
	struct iphdr ip;
	struct tcphdr tcp;
} __attribute__((packed));

/* TCP's checksum covers this pseudo header before the segment (RFC 793). */
struct tcp_pseudo {
	uint32_t saddr;
	uint32_t daddr;
	uint8_t zero;
	uint8_t proto;
	uint16_t len;
} __attribute__((packed));

#define RST_FRAME_LEN sizeof(struct rst_frame)
/* Where the IP packet starts: an L3 LAN (wg, tun) is sent only that. */
#define RST_IP_OFF offsetof(struct rst_frame, ip)
_Static_assert(RST_IP_OFF == ETH_HLEN && offsetof(struct rst_frame, tcp) == ETH_HLEN + 20 &&
	       RST_FRAME_LEN == ETH_HLEN + 20 + 20, "RST frame layout: Ethernet, IPv4, TCP, no options");
_Static_assert(sizeof(struct tcp_pseudo) == 12, "TCP pseudo header layout");

static uint16_t csum_fold32(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static uint32_t csum_add(uint32_t sum, const void *data, size_t len)
{
	const uint8_t *p = data;

	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		sum += (uint32_t)(p[len - 1] << 8);
	return sum;
}

int rst_build(uint8_t *buf, size_t len, const struct flow_key *out_key,
	      const struct flow_entry *in)
{
	struct rst_frame f;
	struct tcp_pseudo ph;
	uint32_t sum;

	if (len < RST_FRAME_LEN)
		return -ENOSPC;
	memset(&f, 0, sizeof(f));
	memcpy(f.eth.h_dest, in->l2_dst, ETH_ALEN);
	memcpy(f.eth.h_source, in->l2_src, ETH_ALEN);
	f.eth.h_proto = htons(ETH_P_IP);

	f.ip.version = 4;
	f.ip.ihl = sizeof(f.ip) / 4;
	f.ip.tot_len = htons(sizeof(f.ip) + sizeof(f.tcp));
	f.ip.frag_off = htons(IP_DF);
	f.ip.ttl = 64;
	f.ip.protocol = IPPROTO_TCP;
	f.ip.saddr = out_key->daddr;    /* from the remote */
	f.ip.daddr = out_key->saddr;    /* to the client */
	f.ip.check = htons(csum_fold32(csum_add(0, &f.ip, sizeof(f.ip))));

	f.tcp.source = out_key->dport;
	f.tcp.dest = out_key->sport;
	f.tcp.seq = htonl(in->tcp_seq_next);
	f.tcp.doff = sizeof(f.tcp) / 4;
	f.tcp.rst = 1;
	ph = (struct tcp_pseudo){ .saddr = f.ip.saddr, .daddr = f.ip.daddr,
				  .proto = IPPROTO_TCP, .len = htons(sizeof(f.tcp)) };
	sum = csum_add(csum_add(0, &ph, sizeof(ph)), &f.tcp, sizeof(f.tcp));
	f.tcp.check = htons(csum_fold32(sum));
	memcpy(buf, &f, sizeof(f));
	return (int)RST_FRAME_LEN;
}

int rst_send_to_client(const struct flow_key *out_key, const struct flow_entry *in)
{
	uint8_t frame[RST_FRAME_LEN];
	struct sockaddr_ll to = {
		.sll_family = AF_PACKET,
		.sll_protocol = htons(ETH_P_IP),
		.sll_ifindex = (int)in->out_ifindex,
		.sll_halen = 6,
	};
	struct nl_link lan;
	size_t skip = 0, len;
	int fd, n, err = 0;

	n = rst_build(frame, sizeof(frame), out_key, in);
	if (n < 0)
		return n;
	/* An L3 LAN (wg, tun) takes the IP packet alone. */
	if (nl_link_get_index((int)in->out_ifindex, &lan) == 0 && !devpath_l2_len(&lan))
		skip = RST_IP_OFF;
	len = (size_t)n - skip;
	memcpy(to.sll_addr, in->l2_dst, 6);
	fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (sendto(fd, frame + skip, len, 0, (struct sockaddr *)&to, sizeof(to)) != (ssize_t)len)
		err = -errno;
	close(fd);
	return err;
}
