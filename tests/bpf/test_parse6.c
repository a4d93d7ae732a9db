// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * IPv6 parsing (bpf/lib/parse6.h) through BPF_PROG_TEST_RUN, with its own
 * test object (bpf/test/parse6_test.bpf.c): frames built here byte by byte,
 * each with the answer a reader of RFC 8200 / 4861 / 3810 expects, and for
 * every rule a control frame that differs in one field and parses the other
 * way. Needs root (loads a BPF program).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdlib.h>
#include <unistd.h>

#include "tests/bpf/pkt.h"
#include "bpf/test/parse6_test.h"

/* Short names for the expectations. */
enum { OK = PARSE6_OK, KERNEL = PARSE6_KERNEL, MALFORMED = PARSE6_MALFORMED };
enum { W_NONE = PARSE6_WHY_NONE, W_LINK_LOCAL = PARSE6_WHY_LINK_LOCAL,
       W_MULTICAST = PARSE6_WHY_MULTICAST, W_HOP = PARSE6_WHY_HOP_BY_HOP,
       W_ND = PARSE6_WHY_ND, W_MLD = PARSE6_WHY_MLD, W_TRUNC = PARSE6_WHY_TRUNCATED,
       W_VERSION = PARSE6_WHY_VERSION, W_TOO_MANY = PARSE6_WHY_TOO_MANY_EXT,
       W_HOP_NOT_FIRST = PARSE6_WHY_HOP_NOT_FIRST };

/* Next-header values as RFC 8200 / IANA number them (not the header's). */
#define NH_HOP 0
#define NH_TCP 6
#define NH_UDP 17
#define NH_ROUTING 43
#define NH_FRAG 44
#define NH_AUTH 51
#define NH_ICMP6 58
#define NH_NONE 59
#define NH_DEST 60

static int PROG = -1, OUT = -1;
static struct bpf_object *OBJ;

/* A frame under construction: Ethernet + IPv6 + a chain of headers. */
struct b6 {
	struct frame f;
	size_t nh_at;               /* where the next-header byte to fill is */
};

static void b6_start(struct b6 *b, const char *sa, const char *da)
{
	uint8_t *ip = b->f.d + ETH_LEN;

	memset(b, 0, sizeof(*b));
	wr16(b->f.d + 12, 0x86dd);
	ip[0] = 0x60;
	ip[7] = 64;
	if (inet_pton(AF_INET6, sa, ip + 8) != 1 || inet_pton(AF_INET6, da, ip + 24) != 1)
		fail_msg("bad address in test");
	b->nh_at = ETH_LEN + 6;
	b->f.len = ETH_LEN + 40;
}

/* Append a header of type nh whose body is len bytes (len includes its own 2/8 bytes). */
static uint8_t *b6_add(struct b6 *b, uint8_t nh, size_t len)
{
	uint8_t *h = b->f.d + b->f.len;

	b->f.d[b->nh_at] = nh;
	memset(h, 0, len);
	b->nh_at = b->f.len;        /* an extension header's next header is its byte 0 */
	b->f.len += len;
	return h;
}

static void b6_opts(struct b6 *b, uint8_t nh, unsigned units)   /* hop/dest/routing */
{
	uint8_t *h = b6_add(b, nh, 8 * (units + 1));

	h[1] = (uint8_t)units;
}

static void b6_frag(struct b6 *b, uint16_t off8, bool more, uint32_t id)
{
	uint8_t *h = b6_add(b, NH_FRAG, 8);

	wr16(h + 2, (uint16_t)(off8 << 3 | (more ? 1 : 0)));
	wr32(h + 4, id);
}

/* The upper layer: ends the chain. */
static void b6_l4(struct b6 *b, uint8_t proto, size_t len, uint8_t first_byte)
{
	uint8_t *h = b->f.d + b->f.len;

	b->f.d[b->nh_at] = proto;
	memset(h, 0, len);
	if (len)
		h[0] = first_byte;
	b->f.len += len;
	wr16(b->f.d + ETH_LEN + 4, (uint16_t)(b->f.len - ETH_LEN - 40));
}

static struct parse6_test_out run(const struct b6 *b)
{
	struct parse6_test_out o;
	uint8_t out[FRAME_MAX];
	uint32_t k = 0;
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = b->f.d, .data_size_in = (uint32_t)b->f.len,
		    .data_out = out, .data_size_out = sizeof(out), .repeat = 1);

	memset(&o, 0xee, sizeof(o));
	assert_int_equal(bpf_map_update_elem(OUT, &k, &o, BPF_ANY), 0);
	if (bpf_prog_test_run_opts(PROG, &opts))
		fail_msg("BPF_PROG_TEST_RUN: %s", strerror(errno));
	assert_int_equal(opts.retval, 2);       /* XDP_PASS */
	assert_int_equal(bpf_map_lookup_elem(OUT, &k, &o), 0);
	return o;
}

#define GLOBAL "2001:db8:1:100::2"
#define SERVER "2001:db8:ffff::100"

static void test_plain_upper_layers(void **state)
{
	struct b6 b;
	struct parse6_test_out o;

	(void)state;
	b6_start(&b, GLOBAL, SERVER);
	b6_l4(&b, NH_TCP, 20, 0);
	o = run(&b);
	assert_int_equal(o.rc, OK);
	assert_int_equal(o.p.proto, NH_TCP);
	assert_int_equal(o.p.l4_off, ETH_LEN + 40);
	assert_int_equal(o.p.payload_len, 20);
	assert_int_equal(o.p.n_ext, 0);
	assert_int_equal(o.p.is_frag, 0);

	/* ICMPv6 echo request is forwarded like any flow, type reported. */
	b6_start(&b, GLOBAL, SERVER);
	b6_l4(&b, NH_ICMP6, 8, 128);
	o = run(&b);
	assert_int_equal(o.rc, OK);
	assert_int_equal(o.p.proto, NH_ICMP6);
	assert_int_equal(o.p.icmp_type, 128);

	/* No next header. */
	b6_start(&b, GLOBAL, SERVER);
	b6_l4(&b, NH_NONE, 0, 0);
	o = run(&b);
	assert_int_equal(o.rc, OK);
	assert_int_equal(o.p.proto, NH_NONE);
}

static void test_extension_chain(void **state)
{
	struct b6 b;
	struct parse6_test_out o;

	(void)state;
	/* destination options (16 bytes), routing (8), AH (16), then UDP. */
	b6_start(&b, GLOBAL, SERVER);
	b6_opts(&b, NH_DEST, 1);
	b6_opts(&b, NH_ROUTING, 0);
	{
		uint8_t *ah = b6_add(&b, NH_AUTH, 16);

		ah[1] = 2;              /* (2 + 2) * 4 = 16 bytes */
	}
	b6_l4(&b, NH_UDP, 8, 0);
	o = run(&b);
	assert_int_equal(o.rc, OK);
	assert_int_equal(o.p.proto, NH_UDP);
	assert_int_equal(o.p.n_ext, 3);
	assert_int_equal(o.p.l4_off, ETH_LEN + 40 + 16 + 8 + 16);

	/* 8 extension headers are walked; a 9th is too many (bounded loop). */
	b6_start(&b, GLOBAL, SERVER);
	for (int i = 0; i < 8; i++)
		b6_opts(&b, NH_DEST, 0);
	b6_l4(&b, NH_TCP, 20, 0);
	o = run(&b);
	assert_int_equal(o.rc, OK);
	assert_int_equal(o.p.n_ext, 8);
	assert_int_equal(o.p.l4_off, ETH_LEN + 40 + 8 * 8);
	b6_start(&b, GLOBAL, SERVER);
	for (int i = 0; i < 9; i++)
		b6_opts(&b, NH_DEST, 0);
	b6_l4(&b, NH_TCP, 20, 0);
	o = run(&b);
	assert_int_equal(o.rc, MALFORMED);
	assert_int_equal(o.p.why, W_TOO_MANY);

	/* A header that runs past the frame. */
	b6_start(&b, GLOBAL, SERVER);
	b6_opts(&b, NH_DEST, 0);
	b6_l4(&b, NH_TCP, 20, 0);
	b.f.d[ETH_LEN + 40 + 1] = 200;      /* says 1608 bytes */
	o = run(&b);
	assert_int_equal(o.rc, MALFORMED);
	assert_int_equal(o.p.why, W_TRUNC);

	/* Hop-by-hop anywhere but first is malformed (RFC 8200 4.1). */
	b6_start(&b, GLOBAL, SERVER);
	b6_opts(&b, NH_DEST, 0);
	b6_opts(&b, NH_HOP, 0);
	b6_l4(&b, NH_TCP, 20, 0);
	o = run(&b);
	assert_int_equal(o.rc, MALFORMED);
	assert_int_equal(o.p.why, W_HOP_NOT_FIRST);
}

static void test_fragments(void **state)
{
	struct b6 b;
	struct parse6_test_out o;

	(void)state;
	/* First fragment: offset 0, more, the id; the ICMP type is read. */
	b6_start(&b, GLOBAL, SERVER);
	b6_frag(&b, 0, true, 0xdeadbeef);
	b6_l4(&b, NH_ICMP6, 64, 128);
	o = run(&b);
	assert_int_equal(o.rc, OK);
	assert_int_equal(o.p.is_frag, 1);
	assert_int_equal(o.p.more_frags, 1);
	assert_int_equal(o.p.frag_off, 0);
	assert_int_equal(ntohl(o.p.frag_id), 0xdeadbeef);
	assert_int_equal(o.p.proto, NH_ICMP6);
	assert_int_equal(o.p.icmp_type, 128);
	assert_int_equal(o.p.l4_off, ETH_LEN + 48);

	/* A later fragment: its first byte is data, not a type (135 here must
	 * not send it to the kernel as ND). */
	b6_start(&b, GLOBAL, SERVER);
	b6_frag(&b, 185, false, 0xdeadbeef);
	b6_l4(&b, NH_ICMP6, 64, 135);
	o = run(&b);
	assert_int_equal(o.rc, OK);
	assert_int_equal(o.p.frag_off, 185);
	assert_int_equal(o.p.more_frags, 0);
	assert_int_equal(o.p.icmp_type, 0);

	/* Control: the same first byte in an unfragmented packet is ND. */
	b6_start(&b, GLOBAL, SERVER);
	b6_l4(&b, NH_ICMP6, 64, 135);
	o = run(&b);
	assert_int_equal(o.rc, KERNEL);
	assert_int_equal(o.p.why, W_ND);
}

static void test_kernel_traffic(void **state)
{
	static const struct { uint8_t type; int why; } icmp[] = {
		{ 130, W_MLD }, { 131, W_MLD }, { 132, W_MLD }, { 133, W_ND }, { 134, W_ND },
		{ 135, W_ND }, { 136, W_ND }, { 137, W_ND }, { 143, W_MLD },
		/* controls: errors and echo are forwarded */
		{ 1, W_NONE }, { 2, W_NONE }, { 3, W_NONE }, { 128, W_NONE }, { 129, W_NONE },
		{ 138, W_NONE }, { 144, W_NONE },
	};
	struct b6 b;
	struct parse6_test_out o;

	(void)state;
	for (size_t i = 0; i < sizeof(icmp) / sizeof(icmp[0]); i++) {
		b6_start(&b, GLOBAL, SERVER);   /* unicast global: only the type decides */
		b6_l4(&b, NH_ICMP6, 24, icmp[i].type);
		o = run(&b);
		if (o.rc != (icmp[i].why ? KERNEL : OK) || o.p.why != icmp[i].why)
			fail_msg("ICMPv6 type %u: rc %d why %u", icmp[i].type, o.rc, o.p.why);
	}

	/* Link-local either side, multicast destination, hop-by-hop first. */
	b6_start(&b, "fe80::1", SERVER);
	b6_l4(&b, NH_TCP, 20, 0);
	o = run(&b);
	assert_int_equal(o.rc, KERNEL);
	assert_int_equal(o.p.why, W_LINK_LOCAL);
	b6_start(&b, GLOBAL, "febf::1");    /* still fe80::/10 */
	b6_l4(&b, NH_TCP, 20, 0);
	assert_int_equal(run(&b).p.why, W_LINK_LOCAL);
	b6_start(&b, GLOBAL, "fec0::1");    /* control: just past fe80::/10 */
	b6_l4(&b, NH_TCP, 20, 0);
	assert_int_equal(run(&b).rc, OK);
	b6_start(&b, GLOBAL, "ff02::1:2");  /* DHCPv6 servers */
	b6_l4(&b, NH_UDP, 8, 0);
	o = run(&b);
	assert_int_equal(o.rc, KERNEL);
	assert_int_equal(o.p.why, W_MULTICAST);
	b6_start(&b, GLOBAL, SERVER);
	b6_opts(&b, NH_HOP, 0);
	b6_l4(&b, NH_UDP, 8, 0);
	o = run(&b);
	assert_int_equal(o.rc, KERNEL);
	assert_int_equal(o.p.why, W_HOP);
}

static void test_malformed(void **state)
{
	struct b6 b;
	struct parse6_test_out o;

	(void)state;
	b6_start(&b, GLOBAL, SERVER);
	b6_l4(&b, NH_TCP, 20, 0);
	b.f.d[ETH_LEN] = 0x45;              /* version 4 behind ethertype 0x86dd */
	o = run(&b);
	assert_int_equal(o.rc, MALFORMED);
	assert_int_equal(o.p.why, W_VERSION);

	b6_start(&b, GLOBAL, SERVER);       /* the fixed header cut short */
	b.f.len = ETH_LEN + 39;
	o = run(&b);
	assert_int_equal(o.rc, MALFORMED);
	assert_int_equal(o.p.why, W_TRUNC);

	b6_start(&b, GLOBAL, SERVER);       /* ICMPv6 without its 4 bytes */
	b6_l4(&b, NH_ICMP6, 2, 128);
	o = run(&b);
	assert_int_equal(o.rc, MALFORMED);
	assert_int_equal(o.p.why, W_TRUNC);
}

static int load(void **state)
{
	char exe[PATH_MAX], path[PATH_MAX + 64];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	struct bpf_program *p;

	(void)state;
	if (n <= 0)
		return -1;
	exe[n] = '\0';
	/* build/tests/test_parse6 -> build/parse6_test.bpf.o */
	snprintf(path, sizeof(path), "%s/../parse6_test.bpf.o", dirname(exe));
	OBJ = bpf_object__open_file(path, NULL);
	if (!OBJ || bpf_object__load(OBJ)) {
		fprintf(stderr, "cannot load %s (root? make?)\n", path);
		return -1;
	}
	p = bpf_object__find_program_by_name(OBJ, "parse6_test");
	PROG = p ? bpf_program__fd(p) : -1;
	OUT = bpf_object__find_map_fd_by_name(OBJ, "parse6_out");
	return PROG < 0 || OUT < 0 ? -1 : 0;
}

static int unload(void **state)
{
	(void)state;
	bpf_object__close(OBJ);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_upper_layers),
		cmocka_unit_test(test_extension_chain),
		cmocka_unit_test(test_fragments),
		cmocka_unit_test(test_kernel_traffic),
		cmocka_unit_test(test_malformed),
	};

	return cmocka_run_group_tests(tests, load, unload);
}
