// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Paced UDP generator for the lab benchmark: 64-byte frames (Ethernet +
 * IPv4 + UDP with 22 bytes of data, UDP checksum 0), sent out of a veth by
 * xdpgen.bpf.c through BPF_PROG_TEST_RUN with BPF_F_TEST_XDP_LIVE_FRAMES,
 * `rate` frames a second: one test_run of rate/1000 frames every 1 ms
 * (absolute deadlines, so a late tick is caught up, not lost). A burst of
 * 100 frames fits the receiving veth's 256-frame ring.
 *
 * test_run with repeat > 1 puts its program into the XDP dispatcher and
 * takes it out again, an RCU-synchronised text update of milliseconds per
 * call; with the program also attached (natively) to HOLD_DEV, a spare veth
 * that carries no traffic, the dispatcher already has it and the call is
 * cheap. (One frame per call avoids the dispatcher but creates a page pool
 * per frame, and their ids run out: ENOSPC after ~65k calls.)
 *
 *   xdpgen OBJ DEV DST_MAC SRC_IP DST_IP DPORT RATE SECONDS NFLOWS HOLD_DEV
 *
 * Prints "sent N seconds S rate R" on success.
 */
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <linux/bpf.h>
#include <net/if.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <linux/if_link.h>

struct gen_cfg {
	uint32_t ifindex;
	uint32_t nflows;
	uint32_t sport_base;
	uint32_t next;
};

#define FRAME 64

static uint16_t csum16(const uint8_t *p, size_t n)
{
	uint32_t s = 0;

	for (size_t i = 0; i + 1 < n; i += 2)
		s += (uint32_t)(p[i] << 8 | p[i + 1]);
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

static int dev_mac(const char *dev, uint8_t mac[6])
{
	struct ifreq ifr = { 0 };
	int fd = socket(AF_INET, SOCK_DGRAM, 0), rc;

	if (fd < 0)
		return -1;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", dev);
	rc = ioctl(fd, SIOCGIFHWADDR, &ifr);
	close(fd);
	if (rc)
		return -1;
	memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
	return 0;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	uint8_t frame[FRAME] = { 0 }, dmac[6], smac[6];
	struct in_addr sa, da;
	struct bpf_object *obj;
	struct gen_cfg cfg = { .sport_base = 20000 };
	struct timespec next;
	unsigned int m[6];
	uint64_t sent = 0, total;
	uint32_t zero = 0, rate, per_tick, carry = 0;
	double secs, t0, t1;
	int prog, map, ifindex, hold_if, rc = 0;

	if (argc < 11) {
		fprintf(stderr, "usage: %s OBJ DEV DST_MAC SRC_IP DST_IP DPORT RATE SECONDS NFLOWS HOLD_DEV\n",
			argv[0]);
		return 2;
	}
	ifindex = (int)if_nametoindex(argv[2]);
	if (!ifindex || dev_mac(argv[2], smac)) {
		fprintf(stderr, "xdpgen: no device %s\n", argv[2]);
		return 2;
	}
	if (sscanf(argv[3], "%x:%x:%x:%x:%x:%x", &m[0], &m[1], &m[2], &m[3], &m[4], &m[5]) != 6 ||
	    inet_pton(AF_INET, argv[4], &sa) != 1 || inet_pton(AF_INET, argv[5], &da) != 1) {
		fprintf(stderr, "xdpgen: bad MAC or address\n");
		return 2;
	}
	for (int i = 0; i < 6; i++)
		dmac[i] = (uint8_t)m[i];
	rate = (uint32_t)strtoul(argv[7], NULL, 10);
	secs = strtod(argv[8], NULL);
	cfg.nflows = (uint32_t)strtoul(argv[9], NULL, 10);
	hold_if = (int)if_nametoindex(argv[10]);
	if (!hold_if) {
		fprintf(stderr, "xdpgen: no device %s\n", argv[10]);
		return 2;
	}
	cfg.ifindex = (uint32_t)ifindex;

	/* Ethernet, IPv4 (20), UDP (8), 22 bytes of data: 64 bytes. */
	memcpy(frame, dmac, 6);
	memcpy(frame + 6, smac, 6);
	frame[12] = 0x08;
	frame[14] = 0x45;
	frame[16] = 0;
	frame[17] = FRAME - 14;
	frame[20] = 0x40;               /* DF */
	frame[22] = 64;                 /* TTL */
	frame[23] = 17;
	memcpy(frame + 26, &sa, 4);
	memcpy(frame + 30, &da, 4);
	{
		uint16_t c = csum16(frame + 14, 20);

		frame[24] = (uint8_t)(c >> 8);
		frame[25] = (uint8_t)c;
	}
	frame[34] = (uint8_t)(cfg.sport_base >> 8);
	frame[35] = (uint8_t)cfg.sport_base;
	frame[36] = (uint8_t)(atoi(argv[6]) >> 8);
	frame[37] = (uint8_t)atoi(argv[6]);
	frame[39] = FRAME - 34;         /* UDP length; checksum 0 */
	memcpy(frame + 42, "xwan bench udp payload", 22);

	libbpf_set_print(NULL);
	obj = bpf_object__open_file(argv[1], NULL);
	if (!obj || bpf_object__load(obj)) {
		fprintf(stderr, "xdpgen: cannot load %s: %s\n", argv[1], strerror(errno));
		return 2;
	}
	prog = bpf_program__fd(bpf_object__find_program_by_name(obj, "xdpgen"));
	map = bpf_object__find_map_fd_by_name(obj, "gen_cfg");
	if (prog < 0 || map < 0 || bpf_map_update_elem(map, &zero, &cfg, BPF_ANY)) {
		fprintf(stderr, "xdpgen: bad object\n");
		return 2;
	}
	if (bpf_xdp_attach(hold_if, prog, XDP_FLAGS_DRV_MODE, NULL)) {
		fprintf(stderr, "xdpgen: cannot attach to %s: %s\n", argv[10], strerror(errno));
		return 2;
	}

	total = (uint64_t)(rate * secs);
	per_tick = rate / 1000;
	clock_gettime(CLOCK_MONOTONIC, &next);
	t0 = now_s();
	while (sent < total) {
		struct xdp_md ctx = { .data_end = FRAME, .ingress_ifindex = (uint32_t)ifindex };
		uint32_t n = per_tick;

		/* rate not a multiple of 1000: spread the remainder */
		carry += rate % 1000;
		if (carry >= 1000) {
			carry -= 1000;
			n++;
		}
		if (n > total - sent)
			n = (uint32_t)(total - sent);
		if (n) {
			LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame,
				    .data_size_in = FRAME, .ctx_in = &ctx,
				    .ctx_size_in = sizeof(ctx), .repeat = n,
				    .flags = BPF_F_TEST_XDP_LIVE_FRAMES);

			if (bpf_prog_test_run_opts(prog, &opts)) {
				fprintf(stderr, "xdpgen: test_run after %lu frames: %s\n",
					(unsigned long)sent, strerror(errno));
				rc = 1;
				break;
			}
		}
		sent += n;
		next.tv_nsec += 1000000;
		if (next.tv_nsec >= 1000000000) {
			next.tv_nsec -= 1000000000;
			next.tv_sec++;
		}
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
	}
	t1 = now_s();
	bpf_xdp_detach(hold_if, XDP_FLAGS_DRV_MODE, NULL);
	printf("sent %lu seconds %.3f rate %.0f\n", (unsigned long)sent, t1 - t0,
	       (double)sent / (t1 - t0));
	bpf_object__close(obj);
	return rc;
}
