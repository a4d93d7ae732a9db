// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * NPTv6 in BPF (bpf/lib/npt6.h) through BPF_PROG_TEST_RUN, in XDP and in tc
 * (the test object bpf/test/npt6_test.bpf.c, built twice). A TCP/IPv6 frame
 * with a valid checksum is translated inside -> outside and its reply
 * outside -> inside; the TCP checksum field is never written, and every
 * checksum is recomputed here from scratch (RFC 1071 over the IPv6
 * pseudo-header and the segment). Controls: a map with a wrong adjustment
 * must break that checksum, an address outside the prefix must be left alone.
 * Needs root (loads BPF programs).
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
#include "bpf/test/npt6_test.h"

#define IP6_HLEN   40
#define TCP_HLEN   20
#define SADDR_OFF  (ETH_LEN + 8)
#define DADDR_OFF  (ETH_LEN + 24)
#define L4_OFF     (ETH_LEN + IP6_HLEN)
#define TCP_CSUM   (L4_OFF + 16)

struct hook {
	const char *name;           /* xdp | tc */
	struct bpf_object *obj;
	int prog, cfg;
	bool xdp;
};
static struct hook HOOKS[2] = { { .name = "xdp", .xdp = true }, { .name = "tc" } };

static void addr6(const char *s, uint8_t out[16])
{
	if (inet_pton(AF_INET6, s, out) != 1)
		fail_msg("bad address in test: %s", s);
}

/* Ethernet + IPv6 + TCP with payload, the TCP checksum computed from scratch. */
static void frame_tcp6(struct frame *f, const char *sa, const char *da, uint16_t sp,
		       uint16_t dp)
{
	static const uint8_t dst[6] = { 2, 0, 0, 0, 0, 1 }, src[6] = { 2, 0, 0, 0, 0, 2 };
	static const char payload[] = "GET /blob.bin HTTP/1.1\r\nHost: x\r\n\r\n";
	size_t l4len = TCP_HLEN + sizeof(payload) - 1;
	uint8_t *ip = f->d + ETH_LEN, *t = ip + IP6_HLEN;

	memset(f, 0, sizeof(*f));
	memcpy(f->d, dst, 6);
	memcpy(f->d + 6, src, 6);
	wr16(f->d + 12, 0x86dd);
	ip[0] = 0x60;
	ip[1] = 0x0a;               /* a traffic class and flow label, kept */
	ip[3] = 0x42;
	wr16(ip + 4, (uint16_t)l4len);
	ip[6] = PROTO_TCP;
	ip[7] = 64;
	addr6(sa, ip + 8);
	addr6(da, ip + 24);
	wr16(t, sp);
	wr16(t + 2, dp);
	wr32(t + 4, 0x01020304);
	wr32(t + 8, 0x0a0b0c0d);
	t[12] = 5 << 4;
	t[13] = F_ACK | F_PSH;
	wr16(t + 14, 64240);
	memcpy(t + TCP_HLEN, payload, sizeof(payload) - 1);
	f->len = ETH_LEN + IP6_HLEN + l4len;
	/* The checksum over the pseudo-header (addresses, length, next header). */
	uint8_t ph[40] = { 0 };
	memcpy(ph, ip + 8, 32);
	ph[34] = (uint8_t)(l4len >> 8);
	ph[35] = (uint8_t)l4len;
	ph[39] = PROTO_TCP;
	wr16(t + 16, (uint16_t)~cs_fold(cs_add(cs_add(0, ph, sizeof(ph)), t, l4len)));
}

/* The TCP checksum of a frame is right, summed from scratch. */
static bool tcp6_csum_ok(const struct frame *f)
{
	const uint8_t *ip = f->d + ETH_LEN;
	size_t l4len = rd16(ip + 4);
	uint8_t ph[40] = { 0 };

	if (f->len < ETH_LEN + IP6_HLEN + l4len)
		return false;
	memcpy(ph, ip + 8, 32);
	ph[34] = (uint8_t)(l4len >> 8);
	ph[35] = (uint8_t)l4len;
	ph[39] = PROTO_TCP;
	return cs_fold(cs_add(cs_add(0, ph, sizeof(ph)), ip + IP6_HLEN, l4len)) == 0xffff;
}

static void map_of(struct npt6_map *m, const char *from, const char *to, uint8_t plen)
{
	uint16_t a[8], b[8];

	if (inet_pton(AF_INET6, from, a) != 1 || inet_pton(AF_INET6, to, b) != 1)
		fail_msg("bad prefix in test");
	assert_int_equal(npt6_map_init(m, a, b, plen), 0);
}

/* Run hook h on in with m on the source or destination; returns the rc the program saw. */
static int run(struct hook *h, const struct npt6_map *m, enum npt6_test_addr which,
	       const struct frame *in, struct frame *out)
{
	struct npt6_test_cfg cfg = { .map = *m, .which = which, .rc = 99 };
	uint32_t k = 0;
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = in->d, .data_size_in = (uint32_t)in->len,
		    .data_out = out->d, .data_size_out = sizeof(out->d), .repeat = 1);

	assert_int_equal(bpf_map_update_elem(h->cfg, &k, &cfg, BPF_ANY), 0);
	if (bpf_prog_test_run_opts(h->prog, &opts))
		fail_msg("BPF_PROG_TEST_RUN (%s): %s", h->name, strerror(errno));
	out->len = opts.data_size_out;
	/* XDP_PASS is 2, TC_ACT_OK 0: the program did not refuse the frame. */
	assert_int_equal(opts.retval, h->xdp ? 2 : 0);
	assert_int_equal(bpf_map_lookup_elem(h->cfg, &k, &cfg), 0);
	return cfg.rc;
}

static bool in_prefix(const uint8_t a[16], const char *prefix, int plen)
{
	uint8_t p[16];

	addr6(prefix, p);
	for (int i = 0; i < plen; i++)
		if (((a[i / 8] ^ p[i / 8]) >> (7 - i % 8)) & 1)
			return false;
	return true;
}

/* Out differs from in only in the 16 address bytes at off (or nowhere). */
static void assert_only_addr_changed(const struct frame *in, const struct frame *out, size_t off)
{
	assert_int_equal(in->len, out->len);
	for (size_t i = 0; i < in->len; i++)
		if ((i < off || i >= off + 16) && in->d[i] != out->d[i])
			fail_msg("byte %zu changed (%02x -> %02x) outside the address", i,
				 in->d[i], out->d[i]);
}

static void round_trip(struct hook *h, const char *inside, const char *outside, uint8_t plen,
		       const char *client, const char *server, const char *want_out)
{
	struct npt6_map fwd, back;
	struct frame req, out, reply, back_out;
	char s[INET6_ADDRSTRLEN];
	uint8_t want[16];

	map_of(&fwd, inside, outside, plen);
	map_of(&back, outside, inside, plen);

	frame_tcp6(&req, client, server, 40000, 8000);
	assert_true(tcp6_csum_ok(&req));
	assert_int_equal(run(h, &fwd, NPT6_TEST_SADDR, &req, &out), 0);
	inet_ntop(AF_INET6, out.d + SADDR_OFF, s, sizeof(s));
	print_message("# %s /%u: %s -> %s\n", h->name, plen, client, s);
	assert_only_addr_changed(&req, &out, SADDR_OFF);
	assert_memory_equal(out.d + TCP_CSUM, req.d + TCP_CSUM, 2);   /* never written */
	assert_true(in_prefix(out.d + SADDR_OFF, outside, plen));
	assert_memory_not_equal(out.d + SADDR_OFF, req.d + SADDR_OFF, 16);
	if (want_out) {
		addr6(want_out, want);
		assert_memory_equal(out.d + SADDR_OFF, want, 16);
	}
	assert_true(tcp6_csum_ok(&out));

	/* The reply to the translated address comes back to the client. */
	frame_tcp6(&reply, server, s, 8000, 40000);
	assert_int_equal(run(h, &back, NPT6_TEST_DADDR, &reply, &back_out), 0);
	assert_only_addr_changed(&reply, &back_out, DADDR_OFF);
	addr6(client, want);
	assert_memory_equal(back_out.d + DADDR_OFF, want, 16);
	assert_memory_equal(back_out.d + TCP_CSUM, reply.d + TCP_CSUM, 2);
	assert_true(tcp6_csum_ok(&back_out));
}

static void test_npt6_tcp(void **state)
{
	(void)state;
	for (int i = 0; i < 2; i++) {
		struct hook *h = &HOOKS[i];

		/* The lab's mapping (a /64: the interface id absorbs it). */
		round_trip(h, "fd00:1::", "2001:db8:1:100::", 64, "fd00:1::2",
			   "2001:db8:ffff::100", NULL);
		/* RFC 6296's example (a /48: the subnet word does), exact. */
		round_trip(h, "fd01:203:405::", "2001:db8:1::", 48, "fd01:203:405:1::1234",
			   "2001:db8:ffff::100", "2001:db8:1:d550::1234");
		/* A /56 and a /60, prefixes that end inside a word. */
		round_trip(h, "fd00:aa:bb:cc00::", "2001:db8:7:8800::", 56,
			   "fd00:aa:bb:cc12:ffff:1:2:3", "2001:db8:ffff::100", NULL);
		round_trip(h, "fd00:aa:bb:cc10::", "2001:db8:7:8870::", 60,
			   "fd00:aa:bb:cc1f::9", "2001:db8:ffff::100", NULL);
	}
}

/* Controls: the checks above can fail. */
static void test_npt6_controls(void **state)
{
	(void)state;
	for (int i = 0; i < 2; i++) {
		struct hook *h = &HOOKS[i];
		struct npt6_map m;
		struct frame req, out;

		/* A wrong adjustment: the prefix changes, the checksum breaks. */
		map_of(&m, "fd00:1::", "2001:db8:1:100::", 64);
		m.adj ^= 0x0101;
		frame_tcp6(&req, "fd00:1::2", "2001:db8:ffff::100", 40000, 8000);
		assert_int_equal(run(h, &m, NPT6_TEST_SADDR, &req, &out), 0);
		assert_true(in_prefix(out.d + SADDR_OFF, "2001:db8:1:100::", 64));
		assert_false(tcp6_csum_ok(&out));

		/* A source outside the inside prefix: untouched, rc 1. */
		map_of(&m, "fd00:1::", "2001:db8:1:100::", 64);
		frame_tcp6(&req, "fd00:2::2", "2001:db8:ffff::100", 40000, 8000);
		assert_int_equal(run(h, &m, NPT6_TEST_SADDR, &req, &out), 1);
		assert_int_equal(out.len, req.len);
		assert_memory_equal(out.d, req.d, req.len);

		/* The 0xffff rule: an all-ones interface id behind a /64 is refused. */
		frame_tcp6(&req, "fd00:1::ffff:ffff:ffff:ffff", "2001:db8:ffff::100", 40000, 8000);
		assert_int_equal(run(h, &m, NPT6_TEST_SADDR, &req, &out), -1);
		assert_memory_equal(out.d, req.d, req.len);

		/* A frame cut short inside the address: refused, nothing written
		 * (XDP only: the kernel refuses such short skb test input). */
		if (!h->xdp)
			continue;
		frame_tcp6(&req, "fd00:1::2", "2001:db8:ffff::100", 40000, 8000);
		req.len = SADDR_OFF + 10;
		assert_int_equal(run(h, &m, NPT6_TEST_SADDR, &req, &out), -1);
		assert_memory_equal(out.d, req.d, req.len);
	}
}

static int load_hooks(void **state)
{
	char exe[PATH_MAX], path[PATH_MAX + 64];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	(void)state;
	if (n <= 0)
		return -1;
	exe[n] = '\0';
	for (int i = 0; i < 2; i++) {
		struct hook *h = &HOOKS[i];
		struct bpf_program *p;
		char prog[32];

		/* build/tests/test_npt6 -> build/npt6_test_<hook>.bpf.o */
		snprintf(path, sizeof(path), "%s/../npt6_test_%s.bpf.o", dirname(strdup(exe)),
			 h->name);
		h->obj = bpf_object__open_file(path, NULL);
		if (!h->obj || bpf_object__load(h->obj)) {
			fprintf(stderr, "cannot load %s (root? make?)\n", path);
			return -1;
		}
		snprintf(prog, sizeof(prog), "npt6_test_%s", h->name);
		p = bpf_object__find_program_by_name(h->obj, prog);
		h->prog = p ? bpf_program__fd(p) : -1;
		h->cfg = bpf_object__find_map_fd_by_name(h->obj, "npt6_cfg");
		if (h->prog < 0 || h->cfg < 0)
			return -1;
	}
	return 0;
}

static int unload_hooks(void **state)
{
	(void)state;
	for (int i = 0; i < 2; i++)
		bpf_object__close(HOOKS[i].obj);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_npt6_tcp),
		cmocka_unit_test(test_npt6_controls),
	};

	return cmocka_run_group_tests(tests, load_hooks, unload_hooks);
}
