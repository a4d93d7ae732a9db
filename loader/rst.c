// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include "rst.h"
#include "devpath.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <netinet/in.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define RST_FRAME_LEN (14 + 20 + 20)

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
	uint8_t *ip = buf + 14, *tcp = ip + 20;
	uint32_t seq = htonl(in->tcp_seq_next), sum;
	uint8_t pseudo[12];
	uint16_t c;

	if (len < RST_FRAME_LEN)
		return -ENOSPC;
	memset(buf, 0, RST_FRAME_LEN);
	memcpy(buf, in->l2_dst, 6);
	memcpy(buf + 6, in->l2_src, 6);
	buf[12] = 0x08;

	ip[0] = 0x45;
	ip[3] = 40;
	ip[6] = 0x40;                   /* DF */
	ip[8] = 64;
	ip[9] = IPPROTO_TCP;
	memcpy(ip + 12, &out_key->daddr, 4);    /* from the remote */
	memcpy(ip + 16, &out_key->saddr, 4);    /* to the client */
	c = htons(csum_fold32(csum_add(0, ip, 20)));
	memcpy(ip + 10, &c, 2);

	memcpy(tcp, &out_key->dport, 2);
	memcpy(tcp + 2, &out_key->sport, 2);
	memcpy(tcp + 4, &seq, 4);
	tcp[12] = 5 << 4;
	tcp[13] = 0x04;                 /* RST */
	memcpy(pseudo, ip + 12, 8);
	pseudo[8] = 0;
	pseudo[9] = IPPROTO_TCP;
	pseudo[10] = 0;
	pseudo[11] = 20;
	sum = csum_add(csum_add(0, pseudo, sizeof(pseudo)), tcp, 20);
	c = htons(csum_fold32(sum));
	memcpy(tcp + 16, &c, 2);
	return RST_FRAME_LEN;
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
	int fd, n, err = 0, l2 = 14;

	n = rst_build(frame, sizeof(frame), out_key, in);
	if (n < 0)
		return n;
	/* An L3 LAN (wg, tun) takes the IP packet alone. */
	if (nl_link_get_index((int)in->out_ifindex, &lan) == 0 && !devpath_l2_len(&lan))
		l2 = 0;
	memcpy(to.sll_addr, in->l2_dst, 6);
	fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (sendto(fd, frame + 14 - l2, (size_t)(n - 14 + l2), 0, (struct sockaddr *)&to,
		   sizeof(to)) != n - 14 + l2)
		err = -errno;
	close(fd);
	return err;
}
