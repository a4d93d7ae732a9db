/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * What tests/bpf/test_npt6.c and its BPF object (bpf/test/npt6_test.bpf.c)
 * share: the one-entry config map that says which address to rewrite how.
 */
#ifndef XWAN_NPT6_TEST_H
#define XWAN_NPT6_TEST_H

#include "../lib/npt6.h"

enum npt6_test_addr { NPT6_TEST_SADDR = 0, NPT6_TEST_DADDR = 1 };

struct npt6_test_cfg {
	struct npt6_map map;
	__u32 which;        /* enum npt6_test_addr */
	__s32 rc;           /* written back: npt6_rewrite's result */
};

_Static_assert(sizeof(struct npt6_map) == 36, "npt6_map layout");
_Static_assert(sizeof(struct npt6_test_cfg) == 44, "npt6_test_cfg layout");

#endif /* XWAN_NPT6_TEST_H */
