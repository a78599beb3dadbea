/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The judge: one simulation machine against the active machines of its
 * service, window after window (PRODUCT.md, "Joining condition";
 * docs/judge.md for the arithmetic and judge_eval's figures).
 *
 * Eight criteria, each PASS, FAIL or INCONCLUSIVE:
 *
 *   evidence     pairs >= min_paired and sim_seconds >= min_sim_seconds
 *                (cumulative).  Never FAIL.
 *   fresh        this window's pairs the machine answered >= min_window_pairs.
 *                Never FAIL: a window without fresh evidence cannot pass.
 *   liveness     in this window the machine answered at least 80 % of what
 *                was sent to it (less twice the Poisson deviation), and at
 *                most 10 % of the window's pairs closed unanswered by it.
 *                Never FAIL (errors rejects a dead machine).
 *   errors       calls as units: d = share of calls that failed on the
 *                simulation machine (a 5xx/6xx final or no answer in any of
 *                its transactions) - the active's, on the same calls.  PASS
 *                when "d >= max_error_increase" is refuted at level alpha;
 *                FAIL when "d <= 0" is refuted at level 0.7 beta.  One rule:
 *                a version worse by the margin or more is promoted with
 *                probability <= alpha, a version no worse than the active
 *                is rejected with probability <= 0.7 beta; in between
 *                (0 < d < margin) either may happen.
 *   agreement    final classes of the pairs both sides answered without an
 *                error.  No control machine: d = net share of changes for
 *                the worse (2xx < 3xx < 4xx; worse minus better), tested as
 *                errors is with max_class_diff as the margin (FAIL at 0.1
 *                beta).  With a control machine: the share of pairs that
 *                differ against the control's share: PASS when the
 *                candidate's is confidently below the control's lower bound
 *                + max_class_diff (alpha/2 each), FAIL when confidently
 *                above the control's upper bound (0.05 beta each).
 *   codes        exact codes of answered pairs of the same class (486 for
 *                480): share k/n.  PASS when "share >= max_code_diff" (+ the
 *                control's lower bound with a control) is refuted at alpha,
 *                FAIL when "share <= max_code_diff" (+ the control's upper
 *                bound) at 0.1 beta.
 *   latency_p50, latency_p99
 *                r = simulation quantile / active quantile on the pairs both
 *                answered.  PASS when r's upper bound is <= max_latency_ratio,
 *                FAIL when its lower bound is above it: one boundary, no dead
 *                zone.  Bounds: each quantile moved by z standard errors of
 *                its rank (z for alpha/2 and for 0.05 beta / 2); too few
 *                samples (< US_JUDGE_LAT_TAIL beyond the quantile) is
 *                INCONCLUSIVE.
 *
 * A window is PASS when every criterion passes, FAIL when any fails, else
 * INCONCLUSIVE.  streak counts consecutive PASS windows; any other window
 * (a quiet one, one in which the machine stopped answering) resets it.
 * Decision: REJECT on a FAIL window; PROMOTE when streak >= windows;
 * otherwise NONE, except that after decide_after seconds in simulation
 * on_undecided = reject turns it into REJECT.  stuck: NONE after
 * stuck_after seconds, with the criteria still undecided.  held: policy mode
 * hold, the decision is reported and must not be applied.
 */
#ifndef US_JUDGE_H
#define US_JUDGE_H

#include <stddef.h>
#include <stdbool.h>
#include <linux/types.h>
#include <json-c/json.h>
#include "evidence.h"
#include "policy.h"

/* per criterion and per window */
enum us_verdict { US_V_INCONCLUSIVE = 0, US_V_PASS, US_V_FAIL };
/* what the controller should do */
enum us_decision { US_D_NONE = 0, US_D_PROMOTE, US_D_REJECT };

/* Indexes into us_judgement.c */
enum us_crit {
	US_C_EVIDENCE = 0,
	US_C_FRESH,
	US_C_LIVENESS,
	US_C_ERRORS,
	US_C_AGREEMENT,
	US_C_CODES,
	US_C_LAT_P50,
	US_C_LAT_P99,
};
#define US_JUDGE_CRITERIA 8

/* Latency: samples required beyond the quantile in each histogram (p50:
 * 40 samples, p99: 2,000), and the margin for the histogram's bucket width. */
#define US_JUDGE_LAT_TAIL   20
#define US_JUDGE_LAT_MARGIN 0.125

/*
 * Fields, per criterion (NAN where none):
 *   evidence   sim = pairs, active = sim_seconds, threshold = min_paired.
 *   fresh      sim = answered pairs in the window, threshold = min_window_pairs.
 *   liveness   active = sent, sim = answered in the window, threshold = the
 *              answers needed, statistic = share of the window's pairs unanswered.
 *   errors     active, sim = shares of failed calls; threshold = the margin.
 *   agreement  sim = net share for the worse (no control) or share differing;
 *              active = the control's share differing (with a control).
 *   codes      sim = share of same-class pairs whose codes differ; active =
 *              the control's.
 *     for these three: statistic = ln of the e-value against "too bad"
 *              (PASS when >= bound_pass); statistic_fail = ln of the e-value
 *              against "good" (FAIL when >= bound_fail).
 *   latency    active, sim = quantiles in ns, threshold = max_latency_ratio;
 *              statistic = the ratio's upper bound (PASS when <= bound_pass),
 *              statistic_fail = its lower bound (FAIL when > bound_fail).
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

/* cum += win: counts add, codes merge by (active, shadow), the clock and
 * sim_seconds are win's. */
void us_window_add(struct us_window *cum, const struct us_window *win);

/*
 * Judge one window: cum = the evidence since the machine entered
 * simulation, this window included; win = this window alone; st carried
 * from window to window (zeroed on entering simulation).  Deterministic, no
 * I/O.  0, or -EINVAL when the policy is refused (us_policy_check; why in
 * out->summary) or the evidence went backwards; st is left untouched then.
 */
int us_judge(const struct us_policy *p, const struct us_window *cum, const struct us_window *win,
	     struct us_judge_state *st, struct us_judgement *out);

/* The state and the judgement as JSON (state files, replay --json, explain
 * --json); the state back, strictly: 0 or -EINVAL naming the field. */
json_object *us_judge_state_json(const struct us_judge_state *st);
int us_judge_state_parse(json_object *o, struct us_judge_state *st, const char **field);
json_object *us_judgement_json(const struct us_judgement *j);
/* one criterion: name, verdict, active, simulation, threshold, statistic,
 * bound_pass, statistic_fail, bound_fail, samples, why (NAN: null) */
json_object *us_criterion_json(const struct us_criterion *c);

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
