/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * NPTv6 math (bpf/lib/npt6.h, the code the dataplane runs) checked from
 * scratch: the 16-bit words of an address are summed before and after
 * translation with a plain one's complement sum written here, not the
 * header's; prefix bits must be the outside prefix, every other bit but the
 * adjustment word must be unchanged, and the reverse mapping must give the
 * original back. RFC 6296's worked example, edge cases of the 0xFFFF rule,
 * and many random prefixes and addresses of every length 1..64.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bpf/lib/npt6.h"

/* RFC 1071 one's complement sum of 8 words, folded; 0xffff and 0 are one value. */
static uint16_t sum8(const uint16_t a[8])
{
	uint32_t s = 0;

	for (int i = 0; i < 8; i++)
		s += a[i];
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return s == 0xffff ? 0 : (uint16_t)s;
}

static void addr(const char *s, uint16_t out[8])
{
	if (inet_pton(AF_INET6, s, out) != 1)
		fail_msg("bad address in test: %s", s);
}

static const char *fmt(const uint16_t a[8], char buf[INET6_ADDRSTRLEN])
{
	return inet_ntop(AF_INET6, a, buf, INET6_ADDRSTRLEN);
}

/* Bit i (0 = most significant of word 0) of an address. */
static int bit(const uint16_t a[8], int i)
{
	return (ntohs(a[i / 16]) >> (15 - i % 16)) & 1;
}

/* Which word the RFC says absorbs the adjustment; -1: untranslatable. */
static int rfc_word(const uint16_t a[8], int plen)
{
	if (plen <= 48)
		return a[3] == 0xffff ? -1 : 3;
	for (int i = 4; i < 8; i++)
		if (a[i] != 0xffff)
			return i;
	return -1;
}

/*
 * Translate in with m and check everything from scratch against the inside
 * and outside prefixes. Returns the word that was adjusted (or -1).
 */
static int check_one(const struct npt6_map *m, const struct npt6_map *back,
		     const uint16_t inside[8], const uint16_t outside[8], int plen,
		     const uint16_t in[8])
{
	uint16_t a[8], b[8];
	char s1[INET6_ADDRSTRLEN], s2[INET6_ADDRSTRLEN];
	int w = rfc_word(in, plen), rc;

	memcpy(a, in, sizeof(a));
	rc = npt6_translate(m, a);
	if (w < 0) {
		assert_int_equal(rc, -1);
		assert_memory_equal(a, in, sizeof(a));   /* left alone */
		return -1;
	}
	assert_int_equal(rc, 0);
	if (sum8(a) != sum8(in))
		fail_msg("/%d %s -> %s: sum %04x != %04x", plen, fmt(in, s1), fmt(a, s2),
			 sum8(a), sum8(in));
	for (int i = 0; i < 128; i++) {
		if (i < plen) {
			if (bit(a, i) != bit(outside, i))
				fail_msg("/%d %s -> %s: prefix bit %d", plen, fmt(in, s1),
					 fmt(a, s2), i);
		} else if (i / 16 != w && bit(a, i) != bit(in, i)) {
			fail_msg("/%d %s -> %s: host bit %d changed", plen, fmt(in, s1),
				 fmt(a, s2), i);
		}
	}
	assert_int_not_equal(a[w], 0xffff);     /* written as 0x0000 instead */
	(void)inside;
	memcpy(b, a, sizeof(b));
	assert_int_equal(npt6_translate(back, b), 0);
	if (memcmp(b, in, sizeof(b)))
		fail_msg("/%d %s -> %s -> %s: no round trip", plen, fmt(in, s1), fmt(a, s2),
			 fmt(b, s1));
	return w;
}

static void test_rfc6296_example(void **state)
{
	/* RFC 6296's worked example: FD01:0203:0405:0001::1234 inside
	 * FD01:0203:0405::/48 leaves as 2001:0DB8:0001:D550::1234. */
	uint16_t in[8], out[8], a[8], want[8];
	struct npt6_map m, back;

	(void)state;
	addr("fd01:203:405::", in);
	addr("2001:db8:1::", out);
	assert_int_equal(npt6_map_init(&m, in, out, 48), 0);
	assert_int_equal(npt6_map_init(&back, out, in, 48), 0);
	addr("fd01:203:405:1::1234", a);
	assert_int_equal(npt6_translate(&m, a), 0);
	addr("2001:db8:1:d550::1234", want);
	assert_memory_equal(a, want, sizeof(a));
	assert_int_equal(npt6_translate(&back, a), 0);
	addr("fd01:203:405:1::1234", want);
	assert_memory_equal(a, want, sizeof(a));
	/* The adjustment is one number for the whole prefix pair. */
	assert_int_equal(ntohs(m.adj), 0xd54f);
	/* Control: an address of another prefix is left alone. */
	addr("fd01:203:406:1::1234", a);
	memcpy(want, a, sizeof(a));
	assert_int_equal(npt6_translate(&m, a), 1);
	assert_memory_equal(a, want, sizeof(a));
}

static void test_ffff_rule(void **state)
{
	uint16_t in[8], out[8], a[8];
	struct npt6_map m, back;
	uint16_t need;

	(void)state;
	addr("fd01:203:405::", in);
	addr("2001:db8:1::", out);
	npt6_map_init(&m, in, out, 48);
	npt6_map_init(&back, out, in, 48);
	/* A subnet word that would come out as 0xffff comes out as 0x0000. */
	need = (uint16_t)~ntohs(m.adj);     /* word + adj == 0xffff */
	addr("fd01:203:405::42", a);
	a[3] = htons(need);
	assert_int_equal(check_one(&m, &back, in, out, 48, a), 3);
	addr("fd01:203:405::42", a);
	a[3] = htons(need);
	npt6_translate(&m, a);
	assert_int_equal(a[3], 0);
	/* Subnet 0xffff is refused (it is 0x0000's twin). */
	addr("fd01:203:405:ffff::42", a);
	assert_int_equal(check_one(&m, &back, in, out, 48, a), -1);

	/* /56: the first interface-id word that is not 0xffff takes it. */
	addr("fd01:203:405:100::", in);
	addr("2001:db8:1:200::", out);
	npt6_map_init(&m, in, out, 56);
	npt6_map_init(&back, out, in, 56);
	addr("fd01:203:405:1ab:1:2:3:4", a);
	assert_int_equal(check_one(&m, &back, in, out, 56, a), 4);
	addr("fd01:203:405:1ab:ffff:ffff:3:4", a);
	assert_int_equal(check_one(&m, &back, in, out, 56, a), 6);
	addr("fd01:203:405:1ab:ffff:ffff:ffff:ffff", a);
	assert_int_equal(check_one(&m, &back, in, out, 56, a), -1);
	/* Bad lengths are refused. */
	assert_int_equal(npt6_map_init(&m, in, out, 0), -1);
	assert_int_equal(npt6_map_init(&m, in, out, 65), -1);
}

static uint16_t rnd16(void)
{
	/* Now and then the values the rule is about. */
	switch (random() % 16) {
	case 0: return 0xffff;
	case 1: return 0;
	default: return (uint16_t)random();
	}
}

static void test_random_mappings(void **state)
{
	unsigned seed = 0x6296;
	long translated = 0, refused = 0, by_word[8] = { 0 };

	(void)state;
	srandom(seed);
	for (int round = 0; round < 4000; round++) {
		int plen = 1 + (int)(random() % NPT6_MAX_PLEN);
		uint16_t in[8], out[8];
		struct npt6_map m, back;

		for (int i = 0; i < 8; i++)
			in[i] = rnd16(), out[i] = rnd16();
		assert_int_equal(npt6_map_init(&m, in, out, (uint8_t)plen), 0);
		assert_int_equal(npt6_map_init(&back, out, in, (uint8_t)plen), 0);
		for (int k = 0; k < 25; k++) {
			uint16_t a[8];
			int w;

			for (int i = 0; i < 8; i++) {
				uint16_t mask = ntohs(npt6_word_mask((uint8_t)plen, i));

				a[i] = htons((ntohs(in[i]) & mask) | (rnd16() & (uint16_t)~mask));
			}
			w = check_one(&m, &back, in, out, plen, a);
			if (w < 0)
				refused++;
			else
				translated++, by_word[w]++;
		}
	}
	printf("# %ld addresses translated (word 3: %ld, 4: %ld, 5: %ld, 6: %ld, 7: %ld), "
	       "%ld refused by the 0xffff rule\n", translated, by_word[3], by_word[4],
	       by_word[5], by_word[6], by_word[7], refused);
	/* Every path was taken. */
	assert_true(by_word[3] > 0 && by_word[4] > 0 && by_word[5] > 0 && refused > 0);
}

/* Control: the checks above can fail. A map with a wrong adjustment breaks
 * checksum neutrality and the from-scratch sum sees it. */
static void test_control_wrong_adjustment(void **state)
{
	uint16_t in[8], out[8], a[8], orig[8];
	struct npt6_map m;

	(void)state;
	addr("fd00:1::", in);
	addr("2001:db8:1:100::", out);
	npt6_map_init(&m, in, out, 64);
	m.adj = 0;
	addr("fd00:1::2", a);
	memcpy(orig, a, sizeof(a));
	assert_int_equal(npt6_translate(&m, a), 0);
	assert_int_not_equal(sum8(a), sum8(orig));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc6296_example),
		cmocka_unit_test(test_ffff_rule),
		cmocka_unit_test(test_random_mappings),
		cmocka_unit_test(test_control_wrong_adjustment),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
