// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * cmocka tests of the judge: known vectors for each criterion, the window's
 * verdict, streak and decision, policy and input checks, the histogram
 * quantile, the report, and a small Monte Carlo check of the two error
 * guarantees of the errors test under repeated looks.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "judge.h"
#include "understudy/understudy.h"

#define MS 1000000.0

static struct us_judge_input in;
static struct us_policy pol;
static struct us_judge_state st;
static struct us_judgement j;

/* n latencies spread evenly over [lo, hi) ns */
static void fill_uniform(__u64 *h, unsigned n, double lo, double hi)
{
	for (unsigned i = 0; i < n; i++)
		h[us_lat_bucket((__u64)(lo + (hi - lo) * (i + 0.5) / n))]++;
}

/* Counts as given; both latency histograms 5,000 samples over 10..30 ms. */
static void mk(__u64 paired, double secs, __u64 sim_only, __u64 act_only, __u64 both, __u64 differ)
{
	memset(&in, 0, sizeof(in));
	in.paired = paired;
	in.sim_seconds = secs;
	in.sim_err_only = sim_only;
	in.active_err_only = act_only;
	in.both_err = both;
	in.differ_class = differ;
	fill_uniform(in.active_lat, 5000, 10 * MS, 30 * MS);
	fill_uniform(in.sim_lat, 5000, 10 * MS, 30 * MS);
}

static void set_sim_lat(unsigned n, double factor)
{
	memset(in.sim_lat, 0, sizeof(in.sim_lat));
	fill_uniform(in.sim_lat, n, 10 * MS * factor, 30 * MS * factor);
}

static int setup(void **state)
{
	(void)state;
	us_policy_default(&pol);
	memset(&st, 0, sizeof(st));
	memset(&j, 0, sizeof(j));
	return 0;
}

static void judge_ok(void)
{
	assert_int_equal(us_judge_v1(&pol, &in, &st, &j), 0);
}

static enum us_verdict v(int c)
{
	return j.c[c].verdict;
}

/* ---- the histogram quantile ------------------------------------------------ */

static void test_quantile_empty_and_bad_q(void **state)
{
	__u64 h[US_LAT_BUCKETS] = { 0 };

	(void)state;
	assert_true(isnan(us_hist_quantile(h, 0.5)));
	assert_true(isnan(us_hist_quantile(NULL, 0.5)));
	h[100] = 3;
	assert_true(isnan(us_hist_quantile(h, -0.01)));
	assert_true(isnan(us_hist_quantile(h, 1.01)));
	assert_true(isnan(us_hist_quantile(h, NAN)));
	assert_false(isnan(us_hist_quantile(h, 0.5)));
}

static void test_quantile_one_bucket(void **state)
{
	__u64 h[US_LAT_BUCKETS] = { 0 };
	double lo = (double)us_lat_bucket_lo(100), hi = (double)us_lat_bucket_lo(101);

	(void)state;
	h[100] = 10;
	assert_float_equal(us_hist_quantile(h, 0), lo, 1e-6);
	assert_float_equal(us_hist_quantile(h, 0.5), (lo + hi) / 2, 1e-6);
	assert_float_equal(us_hist_quantile(h, 0.25), lo + (hi - lo) / 4, 1e-6);
	assert_float_equal(us_hist_quantile(h, 1), hi, 1e-6);
}

static void test_quantile_two_buckets(void **state)
{
	__u64 h[US_LAT_BUCKETS] = { 0 };
	double lo1 = (double)us_lat_bucket_lo(50), hi1 = (double)us_lat_bucket_lo(51);
	double lo2 = (double)us_lat_bucket_lo(60), hi2 = (double)us_lat_bucket_lo(61);

	(void)state;
	h[50] = 1;
	h[60] = 3;
	assert_float_equal(us_hist_quantile(h, 0.125), (lo1 + hi1) / 2, 1e-6);
	assert_float_equal(us_hist_quantile(h, 0.25), hi1, 1e-6);      /* end of the first */
	assert_float_equal(us_hist_quantile(h, 0.5), lo2 + (hi2 - lo2) / 3, 1e-6);
	assert_float_equal(us_hist_quantile(h, 1), hi2, 1e-6);
}

static void test_quantile_edges(void **state)
{
	__u64 h[US_LAT_BUCKETS] = { 0 };
	double top_lo = (double)us_lat_bucket_lo(US_LAT_BUCKETS - 1);

	(void)state;
	/* bucket 0 runs from 0 to the start of bucket 1 (1,152 ns) */
	h[us_lat_bucket(100)] = 4;
	assert_int_equal(us_lat_bucket(100), 0);
	assert_float_equal(us_hist_quantile(h, 0.5), us_lat_bucket_lo(1) / 2.0, 1e-6);
	/* the last bucket takes everything above; it ends at 2^37 ns */
	memset(h, 0, sizeof(h));
	h[us_lat_bucket(1ull << 40)] = 2;
	assert_int_equal(us_lat_bucket(1ull << 40), US_LAT_BUCKETS - 1);
	assert_float_equal(us_hist_quantile(h, 0.5), (top_lo + 0x1p37) / 2, 1);
}

static void test_quantile_tracks_values(void **state)
{
	__u64 h[US_LAT_BUCKETS] = { 0 };

	(void)state;
	fill_uniform(h, 10000, 10 * MS, 30 * MS);
	/* within a bucket's width (12.5 %) of the true quantiles */
	assert_true(fabs(us_hist_quantile(h, 0.5) / (20 * MS) - 1) < 0.125);
	assert_true(fabs(us_hist_quantile(h, 0.99) / (29.8 * MS) - 1) < 0.125);
	assert_true(fabs(us_hist_quantile(h, 0.1) / (12 * MS) - 1) < 0.125);
	assert_true(us_hist_quantile(h, 0.5) < us_hist_quantile(h, 0.99));
}

/* ---- policy and input checks ------------------------------------------------- */

static void expect_einval(void)
{
	st.streak = 2;
	st.judged = 0;
	assert_int_equal(us_judge_v1(&pol, &in, &st, &j), -EINVAL);
	assert_int_equal(st.streak, 2);   /* untouched */
	assert_int_equal(st.judged, 0);
	us_policy_default(&pol);
}

static void test_bad_policy(void **state)
{
	(void)state;
	mk(20000, 100, 0, 40, 10, 40);
	pol.alpha = 0;            expect_einval();
	pol.alpha = 0.5;          expect_einval();
	pol.alpha = -0.01;        expect_einval();
	pol.alpha = NAN;          expect_einval();
	pol.beta = 0;             expect_einval();
	pol.beta = 0.7;           expect_einval();
	pol.windows = 0;          expect_einval();
	pol.max_class_diff = -0.005;      expect_einval();
	pol.max_class_diff = 0;           expect_einval();
	pol.max_class_diff = 1;           expect_einval();
	pol.max_error_increase = -0.005;  expect_einval();
	pol.max_error_increase = INFINITY; expect_einval();
	pol.max_latency_ratio = -1.2;     expect_einval();
	pol.max_latency_ratio = 0;        expect_einval();
	pol.min_sim_seconds = -1;         expect_einval();
	pol.min_sim_seconds = NAN;        expect_einval();
	assert_int_equal(us_judge_v1(NULL, &in, &st, &j), -EINVAL);
	assert_int_equal(us_judge_v1(&pol, NULL, &st, &j), -EINVAL);
	assert_int_equal(us_judge_v1(&pol, &in, NULL, &j), -EINVAL);
	assert_int_equal(us_judge_v1(&pol, &in, &st, NULL), -EINVAL);
	/* and the same input with the default policy is fine */
	st.streak = 0;
	judge_ok();
}

static void test_bad_input(void **state)
{
	(void)state;
	mk(100, 10, 60, 50, 0, 0);    /* more errors than pairs */
	expect_einval();
	mk(100, 10, 0, 0, 101, 0);
	expect_einval();
	mk(100, 10, 0, 0, 0, 101);    /* more differences than pairs */
	expect_einval();
	mk(100, -1, 0, 0, 0, 0);
	expect_einval();
	mk(100, NAN, 0, 0, 0, 0);
	expect_einval();
	mk(100, 10, 40, 30, 30, 70);  /* exactly all pairs erred somewhere: fine */
	st.streak = 0;
	judge_ok();
}

static void test_counts_must_not_go_back(void **state)
{
	(void)state;
	mk(5000, 60, 0, 0, 0, 0);
	judge_ok();
	mk(4999, 65, 0, 0, 0, 0);
	assert_int_equal(us_judge_v1(&pol, &in, &st, &j), -EINVAL);
	mk(5000, 55, 0, 0, 0, 0);
	assert_int_equal(us_judge_v1(&pol, &in, &st, &j), -EINVAL);
	assert_int_equal(st.judged, 1);
	assert_int_equal(st.last_paired, 5000);
	/* a zeroed state starts over (readmission) */
	memset(&st, 0, sizeof(st));
	mk(10, 5, 0, 0, 0, 0);
	judge_ok();
}

/* ---- known vectors -------------------------------------------------------- */

static void test_clearly_better(void **state)
{
	(void)state;
	/* sim errs on none of the 40 transactions the active alone failed */
	mk(20000, 100, 0, 40, 10, 40);
	judge_ok();
	assert_int_equal(v(US_C_EVIDENCE), US_V_PASS);
	assert_int_equal(v(US_C_AGREEMENT), US_V_PASS);
	assert_int_equal(v(US_C_ERRORS), US_V_PASS);
	assert_int_equal(v(US_C_LAT_P50), US_V_PASS);
	assert_int_equal(v(US_C_LAT_P99), US_V_PASS);
	assert_int_equal(j.verdict, US_V_PASS);
	assert_int_equal(j.decision, US_D_NONE);   /* one window of three */
	assert_int_equal(j.streak, 1);
	assert_float_equal(j.c[US_C_ERRORS].active, 50.0 / 20000, 1e-12);
	assert_float_equal(j.c[US_C_ERRORS].sim, 10.0 / 20000, 1e-12);
	assert_true(j.c[US_C_ERRORS].statistic >= j.c[US_C_ERRORS].bound_pass);
	assert_true(j.c[US_C_ERRORS].statistic_fail < 0);
}

static void test_equal_version(void **state)
{
	(void)state;
	mk(20000, 100, 20, 20, 20, 40);
	judge_ok();
	assert_int_equal(v(US_C_ERRORS), US_V_PASS);
	assert_int_equal(j.verdict, US_V_PASS);
	assert_float_equal(j.c[US_C_ERRORS].sim, j.c[US_C_ERRORS].active, 1e-12);
}

/*
 * +0.3 pp is between "no worse" (0) and the margin (0.5 pp): the test
 * guarantees nothing there, either outcome is allowed.  What it does: with
 * few pairs it waits (not rejected quickly); with enough it is confidently
 * worse than the active and rejects, before being confident that it is
 * within the margin; if both are shown at once (a large first look), PASS.
 */
static void test_slightly_worse(void **state)
{
	(void)state;
	mk(2000, 100, 8, 2, 2, 10);      /* 0.5 % vs 0.2 % */
	judge_ok();
	assert_int_equal(v(US_C_ERRORS), US_V_INCONCLUSIVE);
	assert_int_equal(j.decision, US_D_NONE);
	mk(10000, 100, 40, 10, 10, 50);
	judge_ok();
	assert_int_equal(v(US_C_ERRORS), US_V_FAIL);
	assert_true(j.c[US_C_ERRORS].statistic < j.c[US_C_ERRORS].bound_pass);
	assert_int_equal(j.decision, US_D_REJECT);
	memset(&st, 0, sizeof(st));
	mk(20000, 100, 80, 20, 20, 100);
	judge_ok();
	assert_true(j.c[US_C_ERRORS].statistic_fail >= j.c[US_C_ERRORS].bound_fail);
	assert_int_equal(v(US_C_ERRORS), US_V_PASS);
}

/* Worse than the margin (+0.6 pp) never passes, at any sample size, and is
 * rejected once there are enough pairs. */
static void test_worse_than_margin_never_passes(void **state)
{
	(void)state;
	for (__u64 n = 500; n <= 400000; n *= 2) {
		mk(n, 100, n * 7 / 1000, n / 1000, n / 1000, n * 8 / 1000);
		memset(&st, 0, sizeof(st));
		judge_ok();
		assert_int_not_equal(v(US_C_ERRORS), US_V_PASS);
		assert_int_not_equal(j.decision, US_D_PROMOTE);
		if (n >= 8000)
			assert_int_equal(v(US_C_ERRORS), US_V_FAIL);
	}
}

static void test_clearly_worse_rejects_early(void **state)
{
	(void)state;
	/* +2 pp after 800 pairs and 20 s: evidence is short, yet a confident
	 * failure rejects at once */
	mk(800, 20, 17, 1, 1, 18);
	judge_ok();
	assert_int_equal(v(US_C_EVIDENCE), US_V_INCONCLUSIVE);
	assert_int_equal(v(US_C_ERRORS), US_V_FAIL);
	assert_int_equal(v(US_C_AGREEMENT), US_V_FAIL);
	assert_int_equal(j.verdict, US_V_FAIL);
	assert_int_equal(j.decision, US_D_REJECT);
	assert_non_null(strstr(j.summary, "errors"));
	assert_non_null(strstr(j.c[US_C_ERRORS].why, "17 sim-only"));
}

static void test_small_samples_inconclusive(void **state)
{
	(void)state;
	mk(100, 10, 1, 0, 0, 1);
	judge_ok();
	assert_int_equal(v(US_C_EVIDENCE), US_V_INCONCLUSIVE);
	assert_int_equal(v(US_C_AGREEMENT), US_V_INCONCLUSIVE);
	assert_int_equal(v(US_C_ERRORS), US_V_INCONCLUSIVE);
	assert_int_equal(j.verdict, US_V_INCONCLUSIVE);
	assert_int_equal(j.decision, US_D_NONE);
	/* even a perfect machine: 1,000 clean pairs are not yet proof */
	memset(&st, 0, sizeof(st));
	mk(1000, 100, 0, 0, 0, 0);
	judge_ok();
	assert_int_equal(v(US_C_EVIDENCE), US_V_PASS);
	assert_int_equal(v(US_C_ERRORS), US_V_INCONCLUSIVE);
	assert_int_equal(j.verdict, US_V_INCONCLUSIVE);
	mk(5000, 100, 0, 0, 0, 0);
	judge_ok();
	assert_int_equal(v(US_C_ERRORS), US_V_PASS);
}

static void test_no_pairs(void **state)
{
	(void)state;
	memset(&in, 0, sizeof(in));
	judge_ok();
	for (int c = 0; c < US_JUDGE_CRITERIA; c++)
		assert_int_equal(v(c), US_V_INCONCLUSIVE);
	assert_true(isnan(j.c[US_C_ERRORS].sim));
	assert_float_equal(j.c[US_C_ERRORS].statistic, 0, 1e-12);   /* e-value 1 */
	assert_true(isnan(j.c[US_C_LAT_P50].active));
}

static void test_evidence_needs_both(void **state)
{
	(void)state;
	mk(20000, 59.9, 0, 40, 10, 40);   /* everything else passes */
	judge_ok();
	assert_int_equal(v(US_C_EVIDENCE), US_V_INCONCLUSIVE);
	assert_int_equal(v(US_C_ERRORS), US_V_PASS);
	assert_int_equal(j.verdict, US_V_INCONCLUSIVE);
	assert_int_equal(j.streak, 0);
	pol.min_paired = 20001;
	mk(20000, 60, 0, 40, 10, 40);
	judge_ok();
	assert_int_equal(v(US_C_EVIDENCE), US_V_INCONCLUSIVE);
	pol.min_paired = 20000;
	judge_ok();
	assert_int_equal(v(US_C_EVIDENCE), US_V_PASS);
	assert_int_equal(j.verdict, US_V_PASS);
	assert_float_equal(j.c[US_C_EVIDENCE].threshold, 20000, 0);
}

static void test_agreement(void **state)
{
	(void)state;
	/* no errors at all, but 1.5 % of the pairs differ in class */
	mk(5000, 100, 0, 0, 0, 75);
	judge_ok();
	assert_int_equal(v(US_C_ERRORS), US_V_PASS);
	assert_int_equal(v(US_C_AGREEMENT), US_V_FAIL);
	assert_int_equal(j.decision, US_D_REJECT);
	/* 0.3 % of 5,000: neither yet */
	memset(&st, 0, sizeof(st));
	mk(5000, 100, 0, 0, 0, 15);
	judge_ok();
	assert_int_equal(v(US_C_AGREEMENT), US_V_INCONCLUSIVE);
	/* 0.3 % of 40,000: confidently below 0.5 % */
	mk(40000, 100, 0, 0, 0, 120);
	judge_ok();
	assert_int_equal(v(US_C_AGREEMENT), US_V_PASS);
	assert_float_equal(j.c[US_C_AGREEMENT].sim, 0.003, 1e-12);
	assert_float_equal(j.c[US_C_AGREEMENT].threshold, 0.005, 0);
}

/* ---- latency ---------------------------------------------------------------- */

static void test_latency_double_rejects(void **state)
{
	(void)state;
	mk(20000, 100, 0, 40, 10, 40);
	set_sim_lat(5000, 2.0);
	judge_ok();
	assert_int_equal(v(US_C_LAT_P50), US_V_FAIL);
	assert_int_equal(v(US_C_LAT_P99), US_V_FAIL);
	assert_int_equal(j.decision, US_D_REJECT);
	assert_true(j.c[US_C_LAT_P50].statistic > 1.7 && j.c[US_C_LAT_P50].statistic < 2.3);
	assert_true(j.c[US_C_LAT_P50].statistic_fail > j.c[US_C_LAT_P50].bound_fail);
	assert_float_equal(j.c[US_C_LAT_P50].bound_fail, 1.2 * 1.125, 1e-12);
}

static void test_latency_slightly_slower_passes(void **state)
{
	(void)state;
	mk(20000, 100, 0, 40, 10, 40);
	set_sim_lat(5000, 1.05);
	judge_ok();
	assert_int_equal(v(US_C_LAT_P50), US_V_PASS);
	assert_int_equal(v(US_C_LAT_P99), US_V_PASS);
	assert_int_equal(j.verdict, US_V_PASS);
	assert_true(j.c[US_C_LAT_P50].sim > j.c[US_C_LAT_P50].active);
	assert_true(j.c[US_C_LAT_P50].statistic <= 1.2);
}

/* 1.3x: above the limit, not clearly above with the bucket margin */
static void test_latency_between_limit_and_margin(void **state)
{
	(void)state;
	mk(20000, 100, 0, 40, 10, 40);
	set_sim_lat(5000, 1.3);
	judge_ok();
	assert_int_equal(v(US_C_LAT_P50), US_V_INCONCLUSIVE);
	assert_true(j.c[US_C_LAT_P50].statistic > 1.2);
	assert_int_equal(j.verdict, US_V_INCONCLUSIVE);
	assert_int_equal(j.decision, US_D_NONE);
}

static void test_latency_few_samples(void **state)
{
	(void)state;
	mk(20000, 100, 0, 40, 10, 40);
	set_sim_lat(30, 2.0);          /* p50 needs 40 samples */
	judge_ok();
	assert_int_equal(v(US_C_LAT_P50), US_V_INCONCLUSIVE);
	assert_int_equal(v(US_C_LAT_P99), US_V_INCONCLUSIVE);
	assert_int_equal(j.c[US_C_LAT_P50].samples, 30);
	assert_non_null(strstr(j.c[US_C_LAT_P50].why, "too few"));
	set_sim_lat(1000, 1.0);        /* p99 needs 2,000 */
	judge_ok();
	assert_int_equal(v(US_C_LAT_P50), US_V_PASS);
	assert_int_equal(v(US_C_LAT_P99), US_V_INCONCLUSIVE);
	memset(in.active_lat, 0, sizeof(in.active_lat));   /* no reference */
	judge_ok();
	assert_int_equal(v(US_C_LAT_P50), US_V_INCONCLUSIVE);
}

/* ---- windows: streak, promotion, reset -------------------------------------- */

static void test_streak_promote_and_reset(void **state)
{
	(void)state;
	mk(20000, 100, 0, 40, 10, 40);
	judge_ok();
	assert_int_equal(j.streak, 1);
	assert_int_equal(j.decision, US_D_NONE);
	mk(20400, 105, 0, 40, 10, 40);
	judge_ok();
	assert_int_equal(j.streak, 2);
	assert_int_equal(j.decision, US_D_NONE);
	/* 60 new differences: agreement no longer sure, streak resets */
	mk(20800, 110, 0, 40, 10, 100);
	judge_ok();
	assert_int_equal(v(US_C_AGREEMENT), US_V_INCONCLUSIVE);
	assert_int_equal(j.verdict, US_V_INCONCLUSIVE);
	assert_int_equal(j.streak, 0);
	assert_int_equal(st.streak, 0);
	/* three passing windows again: promote on the third */
	for (__u32 w = 1; w <= 3; w++) {
		mk(60000 + w * 400, 300 + w * 5.0, 0, 40, 10, 100);
		judge_ok();
		assert_int_equal(j.verdict, US_V_PASS);
		assert_int_equal(j.streak, w);
		assert_int_equal(j.decision, w == 3 ? US_D_PROMOTE : US_D_NONE);
	}
	assert_int_equal(st.judged, 6);
	assert_non_null(strstr(j.summary, "promote"));
}

static void test_windows_policy(void **state)
{
	(void)state;
	pol.windows = 1;
	mk(20000, 100, 0, 40, 10, 40);
	judge_ok();
	assert_int_equal(j.decision, US_D_PROMOTE);
	assert_int_equal(j.windows, 1);
}

static void test_deterministic(void **state)
{
	struct us_judgement a, b;
	struct us_judge_state s1 = { 0 }, s2 = { 0 };

	(void)state;
	mk(7777, 42, 13, 5, 3, 20);
	set_sim_lat(3000, 1.1);
	assert_int_equal(us_judge_v1(&pol, &in, &s1, &a), 0);
	assert_int_equal(us_judge_v1(&pol, &in, &s2, &b), 0);
	assert_memory_equal(&a, &b, sizeof(a));
}

static void test_fields_filled(void **state)
{
	(void)state;
	mk(20000, 100, 0, 40, 10, 40);
	judge_ok();
	assert_string_equal(j.c[US_C_EVIDENCE].name, "evidence");
	assert_string_equal(j.c[US_C_AGREEMENT].name, "agreement");
	assert_string_equal(j.c[US_C_ERRORS].name, "errors");
	assert_string_equal(j.c[US_C_LAT_P50].name, "latency_p50");
	assert_string_equal(j.c[US_C_LAT_P99].name, "latency_p99");
	for (int c = 0; c < US_JUDGE_CRITERIA; c++) {
		assert_true(strlen(j.c[c].why) > 10);
		assert_false(isnan(j.c[c].threshold));
		assert_true(j.c[c].samples > 0);
	}
	for (int c = US_C_AGREEMENT; c < US_JUDGE_CRITERIA; c++) {
		assert_false(isnan(j.c[c].statistic));
		assert_false(isnan(j.c[c].statistic_fail));
		assert_false(isnan(j.c[c].bound_pass));
		assert_false(isnan(j.c[c].bound_fail));
	}
	assert_true(isnan(j.c[US_C_EVIDENCE].statistic));
	assert_float_equal(j.c[US_C_ERRORS].bound_pass, log(100), 1e-9);
	assert_float_equal(j.c[US_C_ERRORS].bound_fail, -log(0.009), 1e-9);
	assert_float_equal(j.c[US_C_AGREEMENT].bound_fail, -log(0.001), 1e-9);
	assert_float_equal(j.c[US_C_LAT_P99].threshold, 1.2, 0);
	assert_true(j.c[US_C_LAT_P50].active > 18 * MS && j.c[US_C_LAT_P50].active < 22 * MS);
}

/* ---- the report -------------------------------------------------------------- */

static void test_explain(void **state)
{
	char buf[4096], small[16];
	int n;

	(void)state;
	mk(5000, 60, 60, 5, 4, 70);
	judge_ok();
	n = us_judge_explain(&j, buf, sizeof(buf));
	assert_int_equal(n, (int)strlen(buf));
	assert_non_null(strstr(buf, "decision REJECT"));
	assert_non_null(strstr(buf, "errors       FAIL"));
	assert_non_null(strstr(buf, "active 0.180 %"));
	assert_non_null(strstr(buf, "sim 1.280 %"));
	assert_non_null(strstr(buf, "limit +0.500 pp"));
	assert_non_null(strstr(buf, "limit 0.500 %"));
	assert_non_null(strstr(buf, "limit 1.20x"));
	assert_non_null(strstr(buf, "paired 5000 (need 1000)"));
	assert_non_null(strstr(buf, "(pass >= 4.61)"));
	assert_non_null(strstr(buf, "60 sim-only, 5 active-only"));
	/* one header line and two lines per criterion */
	{
		int lines = 0;

		for (char *p = buf; *p; p++)
			lines += *p == '\n';
		assert_int_equal(lines, 1 + 2 * US_JUDGE_CRITERIA);
	}
	/* truncation: snprintf semantics */
	assert_int_equal(us_judge_explain(&j, small, sizeof(small)), n);
	assert_int_equal(strlen(small), sizeof(small) - 1);
	assert_int_equal(us_judge_explain(&j, NULL, 0), n);
	assert_int_equal(us_judge_explain(NULL, buf, sizeof(buf)), -EINVAL);
	assert_int_equal(us_judge_explain(&j, NULL, 10), -EINVAL);
}

static void test_names(void **state)
{
	(void)state;
	assert_string_equal(us_verdict_name(US_V_INCONCLUSIVE), "INCONCLUSIVE");
	assert_string_equal(us_verdict_name(US_V_PASS), "PASS");
	assert_string_equal(us_verdict_name(US_V_FAIL), "FAIL");
	assert_string_equal(us_decision_name(US_D_NONE), "NONE");
	assert_string_equal(us_decision_name(US_D_PROMOTE), "PROMOTE");
	assert_string_equal(us_decision_name(US_D_REJECT), "REJECT");
	assert_string_equal(us_verdict_name((enum us_verdict)7), "?");
}

/* ---- the guarantees under repeated looks (small Monte Carlo) ------------------ */

static unsigned long long rng = 0x9e3779b97f4a7c15ull;

static double unif(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (double)(rng >> 11) * 0x1.0p-53;
}

/* runs of 40 windows of 400 pairs, looking after every window; returns how
 * many runs ever had the errors criterion at `which` */
static unsigned ever(double act_only, double sim_only, enum us_verdict which, unsigned runs)
{
	unsigned hits = 0;

	for (unsigned r = 0; r < runs; r++) {
		memset(&in, 0, sizeof(in));
		memset(&st, 0, sizeof(st));
		for (int w = 0; w < 40; w++) {
			for (int i = 0; i < 400; i++) {
				double u = unif();

				in.paired++;
				if (u < act_only)
					in.active_err_only++;
				else if (u < act_only + sim_only)
					in.sim_err_only++;
			}
			in.sim_seconds += 5;
			judge_ok();
			if (v(US_C_ERRORS) == which) {
				hits++;
				break;
			}
		}
	}
	return hits;
}

static void test_guarantees_monte_carlo(void **state)
{
	unsigned runs = 400;
	unsigned pass_at_margin, fail_when_equal, fail_when_bad;

	(void)state;
	/* worse by exactly the margin: ever PASS <= alpha (1 %); allow 2.5 % */
	pass_at_margin = ever(0.001, 0.006, US_V_PASS, runs);
	assert_true(pass_at_margin <= runs / 40);
	/* equal: ever FAIL <= 0.9 beta; allow 2.5 % */
	fail_when_equal = ever(0.002, 0.002, US_V_FAIL, runs);
	assert_true(fail_when_equal <= runs / 40);
	/* and the tests have power: +1 pp fails in (nearly) every run */
	fail_when_bad = ever(0.001, 0.011, US_V_FAIL, runs);
	assert_true(fail_when_bad >= runs * 99 / 100);
	print_message("  errors ever PASS at the margin %u/%u, ever FAIL when equal %u/%u, "
		      "FAIL at +1 pp %u/%u\n",
		      pass_at_margin, runs, fail_when_equal, runs, fail_when_bad, runs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_quantile_empty_and_bad_q, setup),
		cmocka_unit_test_setup(test_quantile_one_bucket, setup),
		cmocka_unit_test_setup(test_quantile_two_buckets, setup),
		cmocka_unit_test_setup(test_quantile_edges, setup),
		cmocka_unit_test_setup(test_quantile_tracks_values, setup),
		cmocka_unit_test_setup(test_bad_policy, setup),
		cmocka_unit_test_setup(test_bad_input, setup),
		cmocka_unit_test_setup(test_counts_must_not_go_back, setup),
		cmocka_unit_test_setup(test_clearly_better, setup),
		cmocka_unit_test_setup(test_equal_version, setup),
		cmocka_unit_test_setup(test_slightly_worse, setup),
		cmocka_unit_test_setup(test_worse_than_margin_never_passes, setup),
		cmocka_unit_test_setup(test_clearly_worse_rejects_early, setup),
		cmocka_unit_test_setup(test_small_samples_inconclusive, setup),
		cmocka_unit_test_setup(test_no_pairs, setup),
		cmocka_unit_test_setup(test_evidence_needs_both, setup),
		cmocka_unit_test_setup(test_agreement, setup),
		cmocka_unit_test_setup(test_latency_double_rejects, setup),
		cmocka_unit_test_setup(test_latency_slightly_slower_passes, setup),
		cmocka_unit_test_setup(test_latency_between_limit_and_margin, setup),
		cmocka_unit_test_setup(test_latency_few_samples, setup),
		cmocka_unit_test_setup(test_streak_promote_and_reset, setup),
		cmocka_unit_test_setup(test_windows_policy, setup),
		cmocka_unit_test_setup(test_deterministic, setup),
		cmocka_unit_test_setup(test_fields_filled, setup),
		cmocka_unit_test_setup(test_explain, setup),
		cmocka_unit_test_setup(test_names, setup),
		cmocka_unit_test_setup(test_guarantees_monte_carlo, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
