/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* What tests/bpf/test_parse6.c and bpf/test/parse6_test.bpf.c share. */
#ifndef XWAN_PARSE6_TEST_H
#define XWAN_PARSE6_TEST_H

#include "../lib/parse6.h"

/* What the test program writes back: parse6()'s result and what it found. */
struct parse6_test_out {
	__s32 rc;               /* enum parse6_rc */
	struct parse6 p;
};

_Static_assert(sizeof(struct parse6) == 20, "struct parse6 layout");
_Static_assert(sizeof(struct parse6_test_out) == 24, "parse6_test_out layout");

#endif /* XWAN_PARSE6_TEST_H */
