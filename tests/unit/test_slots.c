// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Slot tables: weights honoured, few mappings moved on a change. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "bpf/xwan_types.h"
#include "loader/slots.h"

static uint8_t a[XWAN_SLOTS], b[XWAN_SLOTS];

static int count(const uint8_t *t, uint32_t n, uint8_t gw)
{
	int c = 0;

	for (uint32_t i = 0; i < n; i++)
		c += t[i] == gw;
	return c;
}

static void test_maglev_weights(void **state)
{
	struct slot_member m[] = { { 0, 3, "isp1" }, { 1, 1, "isp2" } };

	(void)state;
	assert_int_equal(slots_build_maglev(m, 2, a, XWAN_SLOTS), 0);
	/* Every slot filled, 3:1 to within a slot. */
	assert_int_equal(count(a, XWAN_SLOTS, 0) + count(a, XWAN_SLOTS, 1), XWAN_SLOTS);
	assert_in_range(count(a, XWAN_SLOTS, 0), XWAN_SLOTS * 3 / 4 - 1, XWAN_SLOTS * 3 / 4 + 1);
}

static void test_maglev_unequal_and_many(void **state)
{
	struct slot_member m[] = { { 0, 255, "a" }, { 1, 1, "b" }, { 2, 10, "c" }, { 3, 10, "d" } };
	int total = 276;

	(void)state;
	assert_int_equal(slots_build_maglev(m, 4, a, XWAN_SLOTS), 0);
	for (int i = 0; i < 4; i++)
		assert_in_range(count(a, XWAN_SLOTS, (uint8_t)i),
				XWAN_SLOTS * (int)m[i].weight / total - 2,
				XWAN_SLOTS * (int)m[i].weight / total + 2);
}

static void test_maglev_removal_moves_few(void **state)
{
	struct slot_member three[] = { { 0, 1, "isp1" }, { 1, 1, "isp2" }, { 2, 1, "lte" } };
	int kept = 0, moved_other = 0;

	(void)state;
	assert_int_equal(slots_build_maglev(three, 3, a, XWAN_SLOTS), 0);
	assert_int_equal(slots_build_maglev(three, 2, b, XWAN_SLOTS), 0);     /* lte gone */
	for (uint32_t i = 0; i < XWAN_SLOTS; i++) {
		if (a[i] == 2)
			continue;
		kept += a[i] == b[i];
		moved_other += a[i] != b[i];
	}
	/* Flows of the survivors keep their gateway, bar a few percent. */
	assert_true(moved_other < kept / 10);
	/* Deterministic: the same members give the same table. */
	assert_int_equal(slots_build_maglev(three, 3, b, XWAN_SLOTS), 0);
	assert_memory_equal(a, b, XWAN_SLOTS);
}

static void test_wrr_smooth(void **state)
{
	struct slot_member m[] = { { 0, 3, "isp1" }, { 1, 1, "isp2" } };
	int n;

	(void)state;
	n = slots_build_wrr(m, 2, a, XWAN_SLOTS);
	assert_int_equal(n, 4);
	assert_int_equal(count(a, 4, 0), 3);
	/* Interleaved, never isp2 twice in a row over the cycle. */
	for (int i = 0; i < n; i++)
		assert_false(a[i] == 1 && a[(i + 1) % n] == 1);
	/* Weights with a common factor give the same short cycle. */
	m[0].weight = 30;
	m[1].weight = 10;
	assert_int_equal(slots_build_wrr(m, 2, b, XWAN_SLOTS), 4);
}

static void test_bad_input(void **state)
{
	struct slot_member m[] = { { 0, 0, "zero" } };

	(void)state;
	assert_true(slots_build_maglev(m, 1, a, XWAN_SLOTS) < 0);
	assert_true(slots_build_wrr(m, 1, a, XWAN_SLOTS) < 0);
	assert_true(slots_build_maglev(m, 0, a, XWAN_SLOTS) < 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_maglev_weights),
		cmocka_unit_test(test_maglev_unequal_and_many),
		cmocka_unit_test(test_maglev_removal_moves_few),
		cmocka_unit_test(test_wrr_smooth),
		cmocka_unit_test(test_bad_input),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
