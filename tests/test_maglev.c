// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* cmocka tests of the weighted Maglev table builder. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "maglev.h"
#include "understudy/understudy.h"

#define SMALL 251   /* prime */

static void mk(struct us_maglev_backend *b, size_t n, const __u32 *weights)
{
	for (size_t i = 0; i < n; i++) {
		__u8 addr[16] = { 0 };

		addr[10] = addr[11] = 0xff;
		addr[12] = 198;
		addr[13] = 18;
		addr[14] = 1;
		addr[15] = (__u8)(i + 1);
		b[i].key = us_maglev_key(addr);
		b[i].mid = (__u32)i;
		b[i].weight = weights ? weights[i] : 1;
	}
}

static void count(const __u32 *t, __u32 size, __u32 *cnt, size_t n)
{
	memset(cnt, 0, n * sizeof(*cnt));
	for (__u32 s = 0; s < size; s++) {
		assert_true(t[s] < n);
		cnt[t[s]]++;
	}
}

static void test_empty_table_is_none(void **state)
{
	static __u32 t[US_MAGLEV_SIZE];

	(void)state;
	assert_int_equal(us_maglev_build(NULL, 0, t, US_MAGLEV_SIZE), 0);
	for (__u32 s = 0; s < US_MAGLEV_SIZE; s++)
		assert_int_equal(t[s], US_MID_NONE);
}

static void test_every_slot_filled_and_even(void **state)
{
	static __u32 t[US_MAGLEV_SIZE];
	struct us_maglev_backend b[5];
	__u32 cnt[5];

	(void)state;
	mk(b, 5, NULL);
	assert_int_equal(us_maglev_build(b, 5, t, US_MAGLEV_SIZE), 0);
	count(t, US_MAGLEV_SIZE, cnt, 5);
	for (int i = 0; i < 5; i++) {
		/* equal weights: each within 1 % of size/5 */
		assert_in_range(cnt[i], US_MAGLEV_SIZE / 5 - US_MAGLEV_SIZE / 100,
				US_MAGLEV_SIZE / 5 + US_MAGLEV_SIZE / 100);
	}
}

static void test_weights_are_followed(void **state)
{
	static __u32 t[US_MAGLEV_SIZE];
	const __u32 w[3] = { 1, 2, 5 };
	struct us_maglev_backend b[3];
	__u32 cnt[3];

	(void)state;
	mk(b, 3, w);
	assert_int_equal(us_maglev_build(b, 3, t, US_MAGLEV_SIZE), 0);
	count(t, US_MAGLEV_SIZE, cnt, 3);
	for (int i = 0; i < 3; i++) {
		double want = (double)US_MAGLEV_SIZE * w[i] / 8.0;

		assert_true(cnt[i] > want * 0.97 && cnt[i] < want * 1.03);
	}
}

static void test_deterministic(void **state)
{
	static __u32 t1[US_MAGLEV_SIZE], t2[US_MAGLEV_SIZE];
	struct us_maglev_backend b[4], r[4];

	(void)state;
	mk(b, 4, NULL);
	/* the same machines in another order give the same table, apart
	 * from which index maps to which id */
	for (int i = 0; i < 4; i++)
		r[i] = b[3 - i];
	assert_int_equal(us_maglev_build(b, 4, t1, US_MAGLEV_SIZE), 0);
	assert_int_equal(us_maglev_build(r, 4, t2, US_MAGLEV_SIZE), 0);
	{
		size_t same = 0;

		for (__u32 s = 0; s < US_MAGLEV_SIZE; s++)
			same += t1[s] == t2[s];
		/* Maglev's tie-breaking depends on order only marginally */
		assert_true(same > US_MAGLEV_SIZE * 95 / 100);
	}
}

/* Share of slots that change owner between two tables, among those whose
 * owner exists in both. */
static double moved(const __u32 *a, const __u32 *b, __u32 size, __u32 gone)
{
	__u32 n = 0, m = 0;

	for (__u32 s = 0; s < size; s++) {
		if (a[s] == gone || b[s] == gone)
			continue;
		n++;
		m += a[s] != b[s];
	}
	return n ? (double)m / n : 0;
}

static void test_minimal_disruption_on_leave(void **state)
{
	static __u32 t1[US_MAGLEV_SIZE], t2[US_MAGLEV_SIZE];
	struct us_maglev_backend b[10];

	(void)state;
	mk(b, 10, NULL);
	assert_int_equal(us_maglev_build(b, 10, t1, US_MAGLEV_SIZE), 0);
	/* machine 4 leaves */
	memmove(&b[4], &b[5], 5 * sizeof(b[0]));
	assert_int_equal(us_maglev_build(b, 9, t2, US_MAGLEV_SIZE), 0);
	for (__u32 s = 0; s < US_MAGLEV_SIZE; s++)
		assert_int_not_equal(t2[s], 4);
	/* slots of the others barely move (Maglev: a few percent) */
	assert_true(moved(t1, t2, US_MAGLEV_SIZE, 4) < 0.05);
}

static void test_minimal_disruption_on_join(void **state)
{
	static __u32 t1[US_MAGLEV_SIZE], t2[US_MAGLEV_SIZE];
	struct us_maglev_backend b[11];
	__u32 cnt[11], taken = 0;

	(void)state;
	mk(b, 11, NULL);
	assert_int_equal(us_maglev_build(b, 10, t1, US_MAGLEV_SIZE), 0);
	assert_int_equal(us_maglev_build(b, 11, t2, US_MAGLEV_SIZE), 0);
	count(t2, US_MAGLEV_SIZE, cnt, 11);
	assert_in_range(cnt[10], US_MAGLEV_SIZE / 11 - US_MAGLEV_SIZE / 100,
			US_MAGLEV_SIZE / 11 + US_MAGLEV_SIZE / 100);
	/* the slots that changed are (nearly all) the ones the newcomer took */
	for (__u32 s = 0; s < US_MAGLEV_SIZE; s++)
		taken += t1[s] != t2[s];
	assert_true(taken < cnt[10] * 1.15);
	assert_true(moved(t1, t2, US_MAGLEV_SIZE, 10) < 0.05);
}

static void test_weight_change_moves_little(void **state)
{
	static __u32 t1[US_MAGLEV_SIZE], t2[US_MAGLEV_SIZE];
	struct us_maglev_backend b[4];
	__u32 changed = 0;

	(void)state;
	mk(b, 4, NULL);
	assert_int_equal(us_maglev_build(b, 4, t1, US_MAGLEV_SIZE), 0);
	b[0].weight = 2;
	assert_int_equal(us_maglev_build(b, 4, t2, US_MAGLEV_SIZE), 0);
	for (__u32 s = 0; s < US_MAGLEV_SIZE; s++)
		changed += t1[s] != t2[s];
	/* machine 0 goes from 1/4 to 2/5 of the slots: at least 15 % of
	 * slots must move, and not many more than that */
	assert_true(changed >= US_MAGLEV_SIZE * 15 / 100);
	assert_true(changed < US_MAGLEV_SIZE * 30 / 100);
}

static void test_rejects_bad_input(void **state)
{
	static __u32 t[US_MAGLEV_SIZE];
	struct us_maglev_backend b[3];

	(void)state;
	mk(b, 3, NULL);
	assert_int_equal(us_maglev_build(b, 3, t, 250), -EINVAL);       /* not prime */
	assert_int_equal(us_maglev_build(b, 3, NULL, SMALL), -EINVAL);
	assert_int_equal(us_maglev_build(NULL, 3, t, SMALL), -EINVAL);
	b[1].weight = 0;
	assert_int_equal(us_maglev_build(b, 3, t, SMALL), -EINVAL);
	b[1].weight = US_WEIGHT_MAX + 1;
	assert_int_equal(us_maglev_build(b, 3, t, SMALL), -EINVAL);
	b[1].weight = 1;
	b[2].key = b[0].key;                                             /* duplicate */
	assert_int_equal(us_maglev_build(b, 3, t, SMALL), -EINVAL);
}

static void test_more_backends_than_slots(void **state)
{
	struct us_maglev_backend b[7];
	__u32 t[7];

	(void)state;
	mk(b, 7, NULL);
	assert_int_equal(us_maglev_build(b, 7, t, 7), -EINVAL);
}

static void test_lat_buckets_monotonic(void **state)
{
	__u32 prev = 0;

	(void)state;
	assert_int_equal(us_lat_bucket(0), 0);
	assert_int_equal(us_lat_bucket(1023), 0);
	for (__u64 ns = 1024; ns < (1ull << 37); ns = ns * 11 / 10 + 1) {
		__u32 b = us_lat_bucket(ns);

		assert_true(b >= prev);
		assert_true(b < US_LAT_BUCKETS);
		assert_true(us_lat_bucket_lo(b) <= ns);
		if (b + 1 < US_LAT_BUCKETS && b != US_LAT_BUCKETS - 1)
			assert_true(us_lat_bucket_lo(b + 1) > ns);
		prev = b;
	}
	assert_int_equal(us_lat_bucket(~0ull), US_LAT_BUCKETS - 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty_table_is_none),
		cmocka_unit_test(test_every_slot_filled_and_even),
		cmocka_unit_test(test_weights_are_followed),
		cmocka_unit_test(test_deterministic),
		cmocka_unit_test(test_minimal_disruption_on_leave),
		cmocka_unit_test(test_minimal_disruption_on_join),
		cmocka_unit_test(test_weight_change_moves_little),
		cmocka_unit_test(test_rejects_bad_input),
		cmocka_unit_test(test_more_backends_than_slots),
		cmocka_unit_test(test_lat_buckets_monotonic),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
