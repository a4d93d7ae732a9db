// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The RST the agent sends to a LAN client of a dead gateway's flow: the
 * bytes a packet capture would show, checked against the RFCs by offset and
 * with checksums summed here from scratch (not with rst.c's helpers).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <string.h>
#include <arpa/inet.h>
#include <cmocka.h>

#include "loader/rst.h"

/* RFC 1071 over a byte string, as a receiver verifies it: 0 when valid. */
static uint16_t sum16(const uint8_t *p, size_t n, uint32_t s)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		s += (uint32_t)p[i] << 8 | p[i + 1];
	if (n & 1)
		s += (uint32_t)p[n - 1] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

static void build(uint8_t *f, struct flow_key *k, struct flow_entry *in)
{
	memset(k, 0, sizeof(*k));
	memset(in, 0, sizeof(*in));
	k->saddr = inet_addr("10.1.0.2");
	k->daddr = inet_addr("192.0.2.100");
	k->sport = htons(40000);
	k->dport = htons(8081);
	k->proto = 6;
	in->tcp_seq_next = 0x11223344;
	memcpy(in->l2_dst, "\x02\x00\x00\x00\x00\x02", 6);
	memcpy(in->l2_src, "\x02\x00\x00\x00\x00\x01", 6);
	assert_int_equal(rst_build(f, 64, k, in), 54);
}

static void test_rst_fields(void **state)
{
	uint8_t f[64];
	struct flow_key k;
	struct flow_entry in;
	const uint8_t *ip = f + 14, *tcp = f + 34;

	(void)state;
	build(f, &k, &in);
	assert_memory_equal(f, "\x02\x00\x00\x00\x00\x02", 6);
	assert_memory_equal(f + 6, "\x02\x00\x00\x00\x00\x01", 6);
	assert_int_equal(f[12] << 8 | f[13], 0x0800);
	assert_int_equal(ip[0], 0x45);
	assert_int_equal(ip[2] << 8 | ip[3], 40);
	assert_int_equal(ip[6] & 0x40, 0x40);           /* DF */
	assert_int_equal(ip[9], 6);
	assert_memory_equal(ip + 12, &k.daddr, 4);      /* from the remote */
	assert_memory_equal(ip + 16, &k.saddr, 4);      /* to the client */
	assert_memory_equal(tcp, &k.dport, 2);
	assert_memory_equal(tcp + 2, &k.sport, 2);
	assert_memory_equal(tcp + 4, "\x11\x22\x33\x44", 4);
	assert_int_equal(tcp[12] >> 4, 5);
	assert_int_equal(tcp[13], 0x04);                /* RST alone */
}

static void test_rst_checksums(void **state)
{
	uint8_t f[64], pseudo[12 + 20];
	struct flow_key k;
	struct flow_entry in;

	(void)state;
	build(f, &k, &in);
	assert_int_equal(sum16(f + 14, 20, 0), 0);
	memcpy(pseudo, f + 26, 8);
	pseudo[8] = 0;
	pseudo[9] = 6;
	pseudo[10] = 0;
	pseudo[11] = 20;
	memcpy(pseudo + 12, f + 34, 20);
	assert_int_equal(sum16(pseudo, sizeof(pseudo), 0), 0);
	/* Control: one flipped bit in the segment breaks it. */
	pseudo[12 + 4] ^= 1;
	assert_int_not_equal(sum16(pseudo, sizeof(pseudo), 0), 0);
}

static void test_rst_short_buffer(void **state)
{
	uint8_t f[53];
	struct flow_key k = { 0 };
	struct flow_entry in = { 0 };

	(void)state;
	assert_int_equal(rst_build(f, sizeof(f), &k, &in), -ENOSPC);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rst_fields),
		cmocka_unit_test(test_rst_checksums),
		cmocka_unit_test(test_rst_short_buffer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
