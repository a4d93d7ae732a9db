// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include "slots.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../bpf/xwan_types.h"

/* FNV-1a: a stable string hash; the basis picks one of two independent ones. */
static uint32_t fnv1a(const char *s, uint32_t basis)
{
	uint32_t h = basis;

	for (; *s; s++) {
		h ^= (uint8_t)*s;
		h *= 16777619U;
	}
	return h;
}

int slots_build_maglev(const struct slot_member *m, int n, uint8_t *table, uint32_t size)
{
	uint32_t *offset, *skip, *next, *credit, maxw = 0, filled = 0;
	int i, err = 0;

	if (n <= 0 || size < 2)
		return -EINVAL;
	for (i = 0; i < n; i++) {
		if (!m[i].weight)
			return -EINVAL;
		if (m[i].weight > maxw)
			maxw = m[i].weight;
	}
	offset = calloc(n, sizeof(*offset));
	skip = calloc(n, sizeof(*skip));
	next = calloc(n, sizeof(*next));
	credit = calloc(n, sizeof(*credit));
	if (!offset || !skip || !next || !credit) {
		err = -ENOMEM;
		goto out;
	}
	for (i = 0; i < n; i++) {
		offset[i] = fnv1a(m[i].name, 2166136261U) % size;
		skip[i] = fnv1a(m[i].name, 0x9747b28cU) % (size - 1) + 1;
	}
	memset(table, XWAN_GW_NONE, size);

	/*
	 * Each round every member earns its weight in credit and places one
	 * slot per maxw credit, so placements follow the weights exactly.
	 */
	while (filled < size) {
		for (i = 0; i < n && filled < size; i++) {
			uint32_t c;

			credit[i] += m[i].weight;
			if (credit[i] < maxw)
				continue;
			credit[i] -= maxw;
			do {
				c = (uint32_t)(((uint64_t)offset[i] +
						(uint64_t)next[i] * skip[i]) % size);
				next[i]++;
			} while (table[c] != XWAN_GW_NONE);
			table[c] = m[i].gw;
			filled++;
		}
	}
out:
	free(offset);
	free(skip);
	free(next);
	free(credit);
	return err;
}

static uint32_t gcd(uint32_t a, uint32_t b)
{
	while (b) {
		uint32_t t = a % b;

		a = b;
		b = t;
	}
	return a;
}

int slots_build_wrr(const struct slot_member *m, int n, uint8_t *table, uint32_t max)
{
	uint32_t w[XWAN_MAX_GATEWAYS], g = 0, total = 0, len, k;
	int64_t cur[XWAN_MAX_GATEWAYS] = {};
	int i;

	if (n <= 0 || n > XWAN_MAX_GATEWAYS || max == 0)
		return -EINVAL;
	for (i = 0; i < n; i++) {
		if (!m[i].weight)
			return -EINVAL;
		g = gcd(g, m[i].weight);
	}
	for (i = 0; i < n; i++) {
		w[i] = m[i].weight / g;
		total += w[i];
	}
	/* Too long a cycle: scale the weights down, keeping every member. */
	if (total > max) {
		uint32_t t = 0;

		for (i = 0; i < n; i++) {
			w[i] = (uint32_t)((uint64_t)w[i] * max / total);
			if (!w[i])
				w[i] = 1;
			t += w[i];
		}
		while (t > max) {
			int big = 0;

			for (i = 1; i < n; i++)
				if (w[i] > w[big])
					big = i;
			w[big]--;
			t--;
		}
		total = t;
	}
	len = total;
	/* nginx's smooth weighted round robin. */
	for (k = 0; k < len; k++) {
		int best = 0;

		for (i = 0; i < n; i++) {
			cur[i] += w[i];
			if (cur[i] > cur[best])
				best = i;
		}
		cur[best] -= total;
		table[k] = m[best].gw;
	}
	return (int)len;
}
