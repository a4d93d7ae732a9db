/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Slot tables: how a group's usable members share new flows.
 *  - hash: a weighted Maglev table (Eisenbud et al., NSDI'16). Each member
 *    fills the table along its own permutation, taking turns in proportion
 *    to its weight, so removing a member moves only its own slots (plus a
 *    few) and leaves every other flow-to-gateway mapping alone.
 *  - round-robin: a smooth weighted sequence (a a b a for 3:1), so
 *    consecutive flows interleave rather than arriving in bursts.
 */
#ifndef XWAN_SLOTS_H
#define XWAN_SLOTS_H

#include <stdint.h>

struct slot_member {
	uint8_t gw;             /* gateway index */
	uint32_t weight;        /* >= 1 */
	const char *name;       /* stable identity: seeds the permutation */
};

/* Fill table[size] (size prime); returns 0, or -EINVAL. */
int slots_build_maglev(const struct slot_member *m, int n, uint8_t *table, uint32_t size);

/* Fill up to max slots; returns the sequence length, or -EINVAL. */
int slots_build_wrr(const struct slot_member *m, int n, uint8_t *table, uint32_t max);

#endif /* XWAN_SLOTS_H */
