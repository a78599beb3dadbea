/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The judge: one simulation machine against the active machines of its
 * service, window after window (PRODUCT.md, "Joining condition").
 *
 * Five criteria, each PASS, FAIL or INCONCLUSIVE:
 *
 *   evidence     paired >= min_paired and sim_seconds >= min_sim_seconds.
 *                Never FAIL; while short the window cannot PASS.
 *   agreement    p = share of pairs whose final class differs.
 *                PASS when "p >= max_class_diff" is refuted at level alpha,
 *                FAIL when "p <= max_class_diff" is refuted at level beta/10.
 *   errors       d = sim error share - active error share on the same pairs.
 *                PASS when "d >= max_error_increase" is refuted at level
 *                alpha, FAIL when "d <= 0" (no worse than the active) is
 *                refuted at level 0.9 beta.  Versions between 0 and the margin
 *                are the indifference zone: either outcome is allowed (if
 *                both nulls are refuted, PASS: within the margin).  For each
 *                of these two, a PASS takes precedence over a FAIL.
 *   latency_p50, latency_p99
 *                r = sim quantile / active quantile (histograms, linear
 *                interpolation inside a bucket).  PASS when r <= ratio and,
 *                with confidence, r <= ratio * (1 + bucket margin); FAIL when,
 *                with confidence, r > ratio * (1 + bucket margin); too few
 *                samples (< US_JUDGE_LAT_TAIL beyond the quantile in either
 *                histogram) is INCONCLUSIVE.
 *
 * The two sequential tests are always-valid e-processes (betting capital
 * averaged over a fixed grid of bets; see judge.c for the construction and
 * the citations): they depend only on the cumulative counts, so they may be
 * checked after every window, on any schedule, without inflating their error
 * rates.  Guarantees, for any sequence of windows and any stopping rule:
 *   P(errors ever PASS    | every pair's conditional d >= margin) <= alpha
 *   P(errors ever FAIL    | every pair's conditional d <= 0)      <= 0.9 beta
 *   P(agreement ever PASS | conditional p >= max_class_diff)      <= alpha
 *   P(agreement ever FAIL | conditional p <= max_class_diff)      <= 0.1 beta
 * so a machine worse than the margin on errors, or on agreement, is promoted
 * with probability <= alpha, and one no worse than the active on errors and
 * within the agreement limit is rejected by those tests with probability
 * <= beta.  The latency rule is a robust point rule, not a sequential test.
 *
 * A window is PASS when every criterion passes, FAIL when any fails, else
 * INCONCLUSIVE.  streak counts consecutive PASS windows; any other window
 * resets it.  Decision: REJECT on a FAIL window, PROMOTE when
 * streak >= windows, else NONE.
 */
#ifndef US_JUDGE_H
#define US_JUDGE_H

#include <stddef.h>
#include <stdbool.h>
#include <linux/types.h>
#include "policy.h"

/* per criterion and per window */
enum us_verdict { US_V_INCONCLUSIVE = 0, US_V_PASS, US_V_FAIL };
/* what the controller should do */
enum us_decision { US_D_NONE = 0, US_D_PROMOTE, US_D_REJECT };

/* Indexes into us_judgement.c */
enum us_crit {
	US_C_EVIDENCE = 0,
	US_C_AGREEMENT,
	US_C_ERRORS,
	US_C_LAT_P50,
	US_C_LAT_P99,
};
#define US_JUDGE_CRITERIA 5

/* Latency: samples required beyond the quantile in each histogram (p50:
 * 40 samples, p99: 2,000), and the margin for the histogram's bucket width. */
#define US_JUDGE_LAT_TAIL   20
#define US_JUDGE_LAT_MARGIN 0.125

/*
 * Fields, per criterion:
 *   evidence   sim = paired, threshold = min_paired, active = sim_seconds,
 *              statistics and bounds NAN.
 *   agreement  sim = differing share, active NAN, threshold = max_class_diff.
 *   errors     active, sim = error shares, threshold = max_error_increase.
 *     for both: statistic = ln of the e-value against "too bad" (PASS when
 *              >= bound_pass = ln(1/alpha)); statistic_fail = ln of the
 *              e-value against "good" (FAIL when >= bound_fail =
 *              ln(1/(0.9 beta)) for errors, ln(1/(0.1 beta)) for agreement).
 *   latency    active, sim = quantiles in ns, threshold = max_latency_ratio;
 *              statistic = sim / active (PASS needs <= bound_pass =
 *              threshold), statistic_fail = the ratio's lower confidence
 *              bound (FAIL when > bound_fail = threshold * (1 + margin)).
 */
struct us_criterion {
	const char *name;        /* "evidence", "agreement", "errors", "latency_p50", "latency_p99" */
	enum us_verdict verdict;
	double active, sim;      /* the two sides' values (shares as fractions, latencies in ns) */
	double threshold;        /* the limit applied */
	double statistic;        /* the test statistic compared with bound_pass, NAN if none */
	double bound_pass, bound_fail; /* decision boundaries, NAN if none */
	double statistic_fail;   /* the statistic compared with bound_fail, NAN if none */
	__u64 samples;
	char why[160];           /* one sentence: why this verdict */
};

/*
 * Carried from window to window; plain data, persisted by the caller.  Zero
 * it when a machine enters simulation or is readmitted (its counts restart).
 * The sequential tests need no memory (their statistics are functions of
 * the cumulative counts); the rest checks that counts never go backwards.
 */
struct us_judge_state {
	__u32 streak;            /* consecutive windows where every criterion passed */
	__u32 judged;            /* windows judged so far */
	__u64 last_paired;       /* paired count at the previous window */
	double last_seconds;     /* sim_seconds at the previous window */
};

struct us_judgement {
	enum us_verdict verdict;     /* the window's overall verdict */
	enum us_decision decision;
	__u32 streak;
	__u32 windows;               /* streak needed to promote (policy) */
	struct us_criterion c[US_JUDGE_CRITERIA];
	char summary[256];
	bool held, stuck;
	char stuck_why[160];
	double undecided_s;
};

/*
 * Judge one window. Deterministic, no I/O. Returns 0, or -EINVAL for a bad
 * policy (alpha or beta outside (0, 0.5), windows 0, a threshold negative,
 * zero or not finite, max_class_diff or max_error_increase >= 1) or input
 * (counts inconsistent, or lower than at the previous window); st is left
 * untouched on error.
 */
int us_judge_v1(const struct us_policy *p, const struct us_judge_input *in,
	     struct us_judge_state *st, struct us_judgement *out);
#include <stdbool.h>
#include <json-c/json.h>
#include "evidence.h"
void us_window_add(struct us_window *cum, const struct us_window *win);

int us_judge(const struct us_policy *p, const struct us_window *cum, const struct us_window *win,
	     struct us_judge_state *st, struct us_judgement *out);
json_object *us_judge_state_json(const struct us_judge_state *st);
int us_judge_state_parse(json_object *o, struct us_judge_state *st, const char **field);
json_object *us_judgement_json(const struct us_judgement *j);

/* Multi-line human report; snprintf semantics (returns the length it needed,
 * or -EINVAL). */
int us_judge_explain(const struct us_judgement *j, char *buf, size_t len);

const char *us_verdict_name(enum us_verdict v);
const char *us_decision_name(enum us_decision d);

/* Latency quantile from a histogram of US_LAT_BUCKETS buckets (linear
 * interpolation inside a bucket), ns; NAN when empty or q outside [0, 1]. */
double us_hist_quantile(const __u64 *hist, double q);

/* The standard normal quantile function (0 < p < 1). */
double us_norm_ppf(double p);

#endif
