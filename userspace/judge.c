// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The judge (see judge.h for the criteria and their guarantees).
 *
 * The sequential tests: testing by betting, with e-processes.
 *
 * What is implemented.  Every paired transaction i gives an outcome X_i:
 * for the errors test X_i = s_i - a_i in {-1, 0, +1} (s_i, a_i: the
 * simulation's, the active's final was an error), whose conditional mean is
 * the error-share difference d; for the agreement test X_i = 1 when the two
 * final classes differ, else 0, with mean p.  To refute a null hypothesis
 * "the conditional mean of X_i is >= m" (or "<= m") a bettor stakes a fixed
 * fraction lambda of its capital on every pair, so that the capital is
 *
 *     K_n(lambda) = prod_{i<=n} (1 + lambda * g(X_i)),
 *     g(x) = m - x (null ">= m")  or  g(x) = x - m (null "<= m"),
 *
 * with lambda in (0, lambda_max), lambda_max = 1 / max_x(-g(x)), so that no
 * factor is negative.  Under the null, E[1 + lambda g(X_i) | past] <= 1, so
 * K_n(lambda) is a nonnegative supermartingale starting at 1, and so is
 * the average over a fixed grid lambda_1..lambda_G (no data chooses the grid):
 *
 *     E_n = (1/G) sum_k K_n(lambda_k).
 *
 * Ville's inequality, P(sup_n E_n >= 1/a) <= a for a nonnegative
 * supermartingale with E_0 = 1 (Ville 1939, Etude critique de la notion de
 * collectif; it is the argument behind Wald's bound 1/A on the error of the
 * SPRT, Wald 1945, "Sequential tests of statistical hypotheses", Ann. Math.
 * Statist. 16(2)), then bounds the chance that E_n ever reaches 1/a,
 * whatever the checking schedule and the stopping rule.  Because each factor
 * depends only on X_i and lambda_k is fixed, E_n is a function of the
 * cumulative counts alone: the judge recomputes it from the counts every
 * window and needs no memory, and checking it after each window is checking
 * the per-pair process at a sequence of stopping times.
 *
 * This is the capital process of Waudby-Smith and Ramdas, "Estimating means
 * of bounded random variables by betting", J. R. Stat. Soc. B 86(1), 1-27,
 * 2024 (arXiv:2010.09686): testing a bounded mean by betting, with the bets
 * diversified over a grid of constant fractions (their "dKelly" strategy),
 * applied as a one-sided test.  For a Bernoulli outcome (agreement) a bet
 * lambda is the likelihood ratio of Bernoulli(m -/+ lambda m (1 - m))
 * against Bernoulli(m), so E_n is Robbins' mixture sequential probability
 * ratio (Robbins 1970, "Statistical methods related to the law of the
 * iterated logarithm", Ann. Math. Statist. 41(5): the method of mixtures)
 * with a discrete mixing distribution.  For the errors test's "d <= 0"
 * null, concordant pairs
 * (X_i = 0) have factor 1: the e-value is that mixture ratio on the
 * discordant pairs alone, sim-only errors against active-only errors
 * (theta = (1 + lambda) / 2 against theta = 1/2), i.e. a sequential McNemar
 * test.
 *
 * Tests and guarantees (alpha, beta from the policy; valid for any
 * dependence between the pairs, as long as the null holds for each pair's
 * conditional mean given the past):
 *   errors PASS     when E against "d >= margin" reaches 1/alpha:
 *                   P(ever | d >= margin) <= alpha      (false promotion)
 *   errors FAIL     when E against "d <= 0" reaches 1/(0.9 beta):
 *                   P(ever | d <= 0) <= 0.9 beta        (false rejection)
 *   agreement PASS  when E against "p >= limit" reaches 1/alpha
 *   agreement FAIL  when E against "p <= limit" reaches 1/(0.1 beta)
 * beta is split between the two tests that can reject (most to errors, the
 * criterion the product cares about most), so a good machine is rejected by
 * them with probability <= beta altogether.  A version whose d
 * lies between 0 and the margin is in the indifference zone, as in Wald's
 * SPRT between two simple hypotheses: it may be promoted or rejected.  When
 * both e-values have crossed (only in that zone, or with probability
 * <= alpha + beta), PASS wins: the data then show the version within the
 * margin, which is what the product asks.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "judge.h"

/* beta, the false-rejection rate, shared between the two tests that can
 * reject with a guarantee (their shares add up to 1) */
#define BETA_ERRORS    0.9
#define BETA_AGREEMENT 0.1

static const char *const crit_name[US_JUDGE_CRITERIA] = {
	"evidence", "agreement", "errors", "latency_p50", "latency_p99",
};

static void fmt(char *buf, size_t len, const char *f, ...)
	__attribute__((format(printf, 3, 4)));

static void fmt(char *buf, size_t len, const char *f, ...)
{
	va_list ap;

	va_start(ap, f);
	vsnprintf(buf, len, f, ap);
	va_end(ap);
}

const char *us_verdict_name(enum us_verdict v)
{
	switch (v) {
	case US_V_INCONCLUSIVE: return "INCONCLUSIVE";
	case US_V_PASS:         return "PASS";
	case US_V_FAIL:         return "FAIL";
	}
	return "?";
}

const char *us_decision_name(enum us_decision d)
{
	switch (d) {
	case US_D_NONE:    return "NONE";
	case US_D_PROMOTE: return "PROMOTE";
	case US_D_REJECT:  return "REJECT";
	}
	return "?";
}

/* ---- numbers ------------------------------------------------------------ */

/* Standard normal quantile: Abramowitz and Stegun 26.2.23 as a start, then
 * Newton steps on 0.5 erfc(-x / sqrt 2). */
double us_norm_ppf(double p)
{
	double q = p < 0.5 ? p : 1 - p;
	double t = sqrt(-2 * log(q));
	double x = t - (2.515517 + 0.802853 * t + 0.010328 * t * t) /
		       (1 + 1.432788 * t + 0.189269 * t * t + 0.001308 * t * t * t);

	if (p < 0.5)
		x = -x;
	for (int i = 0; i < 3; i++) {
		double cdf = 0.5 * erfc(-x / M_SQRT2);
		double pdf = exp(-0.5 * x * x) / sqrt(2 * M_PI);

		x -= (cdf - p) / pdf;
	}
	return x;
}

static double bucket_hi(__u32 b)
{
	if (b + 1 < US_LAT_BUCKETS)
		return (double)us_lat_bucket_lo(b + 1);
	return (double)(1ull << (US_LAT_MAX_SHIFT + 1));
}

static double hist_total(const __u64 *hist)
{
	double n = 0;

	for (__u32 b = 0; b < US_LAT_BUCKETS; b++)
		n += (double)hist[b];
	return n;
}

double us_hist_quantile(const __u64 *hist, double q)
{
	double n, r, cum = 0, last_hi = NAN;

	if (!hist || !(q >= 0 && q <= 1))
		return NAN;
	n = hist_total(hist);
	if (n <= 0)
		return NAN;
	r = q * n;
	for (__u32 b = 0; b < US_LAT_BUCKETS; b++) {
		double h = (double)hist[b];
		double lo, hi;

		if (!hist[b])
			continue;
		lo = (double)us_lat_bucket_lo(b);
		hi = bucket_hi(b);
		if (cum + h >= r)
			return lo + (r - cum) / h * (hi - lo);
		cum += h;
		last_hi = hi;
	}
	return last_hi;
}

/*
 * The grids of bets, as fractions u = lambda / lambda_max in (0, 1), all
 * points weighted equally.  WIDE: half the points spread evenly over (0, 1)
 * (every bet, so that any effect is found in the end, even with many errors
 * on both sides), half evenly over (0.35, 0.98), where the best bets lie
 * when the active machine's own errors are no more than the margin (the
 * usual case: on the FAIL side the Kelly bet is delta / (delta + 2 b) >= 1/3
 * for an active-only error share b <= delta; on the PASS side it is above
 * 0.4 for b <= delta).  GEOMETRIC, for agreement's FAIL side, where
 * lambda_max = 1 / limit and the Kelly bet against a true share p is
 * u = (p - limit) / (1 - limit), small: from u_min to 0.98 in equal ratios.
 */
#define GRID_HALF 48
#define FOCUS_LO  0.35
#define FOCUS_HI  0.98

static double grid_u(int k, double u_min)
{
	if (u_min > 0)
		return u_min * pow(FOCUS_HI / u_min, (double)k / (2 * GRID_HALF - 1));
	if (k < GRID_HALF)
		return (k + 1.0) / (GRID_HALF + 1);
	k -= GRID_HALF;
	return FOCUS_LO + (FOCUS_HI - FOCUS_LO) * k / (GRID_HALF - 1);
}

/*
 * ln E_n for outcomes x in {-1, 0, +1} seen n[0], n[1], n[2] times, betting
 * factor 1 + lambda g[x], lambda = lambda_max * u over the 2 GRID_HALF
 * values of u: the WIDE grid (u_min 0) or the GEOMETRIC one from u_min.
 */
static double ln_emix(const double g[3], const double n[3], double u_min)
{
	double worst = 0, lmax, l[2 * GRID_HALF], top = -INFINITY, s = 0;

	for (int x = 0; x < 3; x++)
		if (-g[x] > worst)
			worst = -g[x];
	lmax = 1 / worst;
	for (int k = 0; k < 2 * GRID_HALF; k++) {
		double lam = lmax * grid_u(k, u_min);

		l[k] = 0;
		for (int x = 0; x < 3; x++)
			if (n[x] > 0)
				l[k] += n[x] * log1p(lam * g[x]);
		if (l[k] > top)
			top = l[k];
	}
	for (int k = 0; k < 2 * GRID_HALF; k++)
		s += exp(l[k] - top);
	return top + log(s / (2 * GRID_HALF));
}

/* ---- criteria ----------------------------------------------------------- */

static void crit_init(struct us_criterion *c, int i)
{
	memset(c, 0, sizeof(*c));
	c->name = crit_name[i];
	c->verdict = US_V_INCONCLUSIVE;
	c->active = c->sim = c->threshold = NAN;
	c->statistic = c->statistic_fail = NAN;
	c->bound_pass = c->bound_fail = NAN;
}

static void judge_evidence(const struct us_policy *p, const struct us_judge_input *in,
			   struct us_criterion *c)
{
	int n_ok = in->paired >= p->min_paired;
	int t_ok = in->sim_seconds >= p->min_sim_seconds;

	c->sim = (double)in->paired;
	c->active = in->sim_seconds;
	c->threshold = (double)p->min_paired;
	c->samples = in->paired;
	c->verdict = n_ok && t_ok ? US_V_PASS : US_V_INCONCLUSIVE;
	fmt(c->why, sizeof(c->why), 
	    "%s: %llu paired transactions (need %llu), %.1f s in simulation (need %.1f s)",
	    n_ok && t_ok ? "enough evidence" : "not enough evidence yet",
	    (unsigned long long)in->paired, (unsigned long long)p->min_paired,
	    in->sim_seconds, p->min_sim_seconds);
}

static void judge_agreement(const struct us_policy *p, const struct us_judge_input *in,
			    struct us_criterion *c)
{
	double lim = p->max_class_diff;
	double n[3] = { 0, (double)(in->paired - in->differ_class), (double)in->differ_class };
	double g_pass[3] = { 0, lim, lim - 1 };   /* against p >= lim */
	double g_fail[3] = { 0, -lim, 1 - lim };  /* against p <= lim */

	c->threshold = lim;
	c->samples = in->paired;
	c->sim = in->paired ? (double)in->differ_class / (double)in->paired : NAN;
	c->bound_pass = log(1 / p->alpha);
	c->bound_fail = -log(BETA_AGREEMENT * p->beta);
	c->statistic = ln_emix(g_pass, n, 0);
	/* geometric bets: alternatives from 1.1 x lim up to nearly 1 */
	c->statistic_fail = ln_emix(g_fail, n, 0.1 * lim);

	if (c->statistic >= c->bound_pass) {
		c->verdict = US_V_PASS;
		fmt(c->why, sizeof(c->why), 
		    "%.3f %% of %llu pairs differ in class: confidently below the %.3f %% limit",
		    100 * c->sim, (unsigned long long)in->paired, 100 * lim);
	} else if (c->statistic_fail >= c->bound_fail) {
		c->verdict = US_V_FAIL;
		fmt(c->why, sizeof(c->why), 
		    "%.3f %% of %llu pairs differ in class: confidently above the %.3f %% limit",
		    100 * c->sim, (unsigned long long)in->paired, 100 * lim);
	} else {
		fmt(c->why, sizeof(c->why), 
		    "%.3f %% of %llu pairs differ in class: not yet confidently below or above "
		    "the %.3f %% limit",
		    in->paired ? 100 * c->sim : 0.0, (unsigned long long)in->paired, 100 * lim);
	}
}

static void judge_errors(const struct us_policy *p, const struct us_judge_input *in,
			 struct us_criterion *c)
{
	double m = p->max_error_increase;
	double sp = (double)in->sim_err_only, am = (double)in->active_err_only;
	double n[3] = { am, (double)in->paired - sp - am, sp };   /* X = -1, 0, +1 */
	double g_pass[3] = { m + 1, m, m - 1 };   /* against d >= m */
	double g_fail[3] = { -1, 0, 1 };           /* against d <= 0 */
	double pn = (double)in->paired;

	c->threshold = m;
	c->samples = in->paired;
	if (in->paired) {
		c->active = (am + (double)in->both_err) / pn;
		c->sim = (sp + (double)in->both_err) / pn;
	}
	c->bound_pass = log(1 / p->alpha);
	c->bound_fail = -log(BETA_ERRORS * p->beta);
	c->statistic = ln_emix(g_pass, n, 0);
	c->statistic_fail = ln_emix(g_fail, n, 0);

	if (c->statistic >= c->bound_pass) {
		c->verdict = US_V_PASS;
		fmt(c->why, sizeof(c->why), 
		    "errors %.3f %% vs active %.3f %%: confidently less than %.3f pp worse",
		    100 * c->sim, 100 * c->active, 100 * m);
	} else if (c->statistic_fail >= c->bound_fail) {
		c->verdict = US_V_FAIL;
		fmt(c->why, sizeof(c->why), 
		    "errors %.3f %% vs active %.3f %% (%llu sim-only, %llu active-only): "
		    "confidently worse than the active",
		    100 * c->sim, 100 * c->active, (unsigned long long)in->sim_err_only,
		    (unsigned long long)in->active_err_only);
	} else if (in->paired) {
		fmt(c->why, sizeof(c->why), 
		    "errors %.3f %% vs active %.3f %% (%llu sim-only, %llu active-only): "
		    "not yet confident either way (margin %.3f pp)",
		    100 * c->sim, 100 * c->active, (unsigned long long)in->sim_err_only,
		    (unsigned long long)in->active_err_only, 100 * m);
	} else {
		fmt(c->why, sizeof(c->why), "no paired transactions yet");
	}
}

static void judge_latency(const struct us_policy *p, const struct us_judge_input *in,
			  double q, struct us_criterion *c)
{
	double na = hist_total(in->active_lat), ns = hist_total(in->sim_lat);
	double need = ceil(US_JUDGE_LAT_TAIL / (1 - q) - 1e-6);
	double lim = p->max_latency_ratio, lim_fail = lim * (1 + US_JUDGE_LAT_MARGIN);
	double z = us_norm_ppf(1 - p->beta / 2);
	int pct = (int)lround(q * 100);
	double sa, ss;

	c->threshold = lim;
	c->samples = (__u64)(na < ns ? na : ns);
	c->active = us_hist_quantile(in->active_lat, q);
	c->sim = us_hist_quantile(in->sim_lat, q);
	c->bound_pass = lim;
	c->bound_fail = lim_fail;
	if (na < need || ns < need) {
		fmt(c->why, sizeof(c->why), 
		    "too few latency samples for p%d: %.0f active, %.0f simulation, need %.0f each",
		    pct, na, ns, need);
		return;
	}
	if (!(c->active > 0)) {
		fmt(c->why, sizeof(c->why), "active p%d is 0 ns: no ratio", pct);
		return;
	}
	c->statistic = c->sim / c->active;
	/* distribution-free bounds on the quantiles (normal approximation
	 * to the binomial rank), z for beta/2 two-sided */
	sa = z * sqrt(q * (1 - q) / na);
	ss = z * sqrt(q * (1 - q) / ns);
	c->statistic_fail = us_hist_quantile(in->sim_lat, fmax(0, q - ss)) /
			    us_hist_quantile(in->active_lat, fmin(1, q + sa));
	{
		double lo_a = us_hist_quantile(in->active_lat, fmax(0, q - sa));
		double hi = us_hist_quantile(in->sim_lat, fmin(1, q + ss));
		double upper = lo_a > 0 ? hi / lo_a : INFINITY;

		if (c->statistic_fail > lim_fail) {
			c->verdict = US_V_FAIL;
			fmt(c->why, sizeof(c->why), 
			    "p%d %.3f ms vs active %.3f ms = %.2fx: confidently above %.2fx "
			    "(at least %.2fx > %.2fx with bucket margin)",
			    pct, c->sim / 1e6, c->active / 1e6, c->statistic, lim, c->statistic_fail, lim_fail);
		} else if (c->statistic <= lim && upper <= lim_fail) {
			c->verdict = US_V_PASS;
			fmt(c->why, sizeof(c->why), "p%d %.3f ms vs active %.3f ms = %.2fx <= %.2fx (at most %.2fx)",
			    pct, c->sim / 1e6, c->active / 1e6, c->statistic, lim, upper);
		} else {
			fmt(c->why, sizeof(c->why), 
			    "p%d %.3f ms vs active %.3f ms = %.2fx, limit %.2fx: not clearly above "
			    "(%.2fx <= %.2fx), not surely within (up to %.2fx)",
			    pct, c->sim / 1e6, c->active / 1e6, c->statistic, lim, c->statistic_fail, lim_fail, upper);
		}
	}
}

/* ---- the window ---------------------------------------------------------- */

static int finite_pos(double x)
{
	return isfinite(x) && x > 0;
}

static int policy_ok(const struct us_policy *p)
{
	return p &&
	       p->alpha > 0 && p->alpha < 0.5 && p->beta > 0 && p->beta < 0.5 &&
	       p->windows > 0 &&
	       isfinite(p->min_sim_seconds) && p->min_sim_seconds >= 0 &&
	       finite_pos(p->max_class_diff) && p->max_class_diff < 1 &&
	       finite_pos(p->max_error_increase) && p->max_error_increase < 1 &&
	       finite_pos(p->max_latency_ratio);
}

static int input_ok(const struct us_judge_input *in, const struct us_judge_state *st)
{
	if (!in || !isfinite(in->sim_seconds) || in->sim_seconds < 0)
		return 0;
	if (in->differ_class > in->paired || in->sim_err_only > in->paired ||
	    in->active_err_only > in->paired - in->sim_err_only ||
	    in->both_err > in->paired - in->sim_err_only - in->active_err_only)
		return 0;
	if (st->judged && (in->paired < st->last_paired || in->sim_seconds < st->last_seconds))
		return 0;
	return 1;
}

int us_judge_v1(const struct us_policy *p, const struct us_judge_input *in,
	     struct us_judge_state *st, struct us_judgement *out)
{
	int npass = 0, nfail = 0;
	char *s;
	size_t left;

	if (!st || !out || !policy_ok(p) || !input_ok(in, st))
		return -EINVAL;

	memset(out, 0, sizeof(*out));
	for (int i = 0; i < US_JUDGE_CRITERIA; i++)
		crit_init(&out->c[i], i);
	judge_evidence(p, in, &out->c[US_C_EVIDENCE]);
	judge_agreement(p, in, &out->c[US_C_AGREEMENT]);
	judge_errors(p, in, &out->c[US_C_ERRORS]);
	judge_latency(p, in, 0.50, &out->c[US_C_LAT_P50]);
	judge_latency(p, in, 0.99, &out->c[US_C_LAT_P99]);

	for (int i = 0; i < US_JUDGE_CRITERIA; i++) {
		npass += out->c[i].verdict == US_V_PASS;
		nfail += out->c[i].verdict == US_V_FAIL;
	}
	out->verdict = nfail ? US_V_FAIL : npass == US_JUDGE_CRITERIA ? US_V_PASS : US_V_INCONCLUSIVE;
	st->streak = out->verdict == US_V_PASS ? st->streak + 1 : 0;
	st->judged++;
	st->last_paired = in->paired;
	st->last_seconds = in->sim_seconds;
	out->streak = st->streak;
	out->windows = p->windows;
	out->decision = out->verdict == US_V_FAIL ? US_D_REJECT :
			st->streak >= p->windows ? US_D_PROMOTE : US_D_NONE;

	/* the summary: the decision, then the criteria that decided it */
	s = out->summary;
	left = sizeof(out->summary);
	if (out->verdict == US_V_PASS) {
		fmt(s, left, "%s: every criterion passed, %u of %u consecutive windows",
		    out->decision == US_D_PROMOTE ? "promote" : "pass", out->streak, p->windows);
		return 0;
	}
	fmt(s, left, "%s:", out->verdict == US_V_FAIL ? "reject, failed" : "inconclusive, undecided");
	for (int i = 0; i < US_JUDGE_CRITERIA; i++) {
		size_t used = strlen(s);

		if (out->c[i].verdict == (out->verdict == US_V_FAIL ? US_V_FAIL : US_V_INCONCLUSIVE))
			fmt(s + used, left - used, " %s", out->c[i].name);
	}
	return 0;
}

/* ---- the report ------------------------------------------------------------ */

struct sbuf {
	char *buf;
	size_t len, pos;
};

static void put(struct sbuf *b, const char *f, ...) __attribute__((format(printf, 2, 3)));

static void put(struct sbuf *b, const char *f, ...)
{
	va_list ap;
	size_t room = b->pos < b->len ? b->len - b->pos : 0;
	int n;

	va_start(ap, f);
	n = vsnprintf(room ? b->buf + b->pos : NULL, room, f, ap);
	va_end(ap);
	if (n > 0)
		b->pos += (size_t)n;
}

static void put_num(struct sbuf *b, const char *label, double v, const char *f)
{
	if (isnan(v))
		put(b, "  %s -", label);
	else {
		put(b, "  %s ", label);
		put(b, f, v);
	}
}

int us_judge_explain(const struct us_judgement *j, char *buf, size_t len)
{
	struct sbuf b = { buf, len, 0 };

	if (!j || (!buf && len))
		return -EINVAL;
	if (len)
		buf[0] = 0;
	put(&b, "window %s, decision %s, streak %u of %u: %s\n", us_verdict_name(j->verdict),
	    us_decision_name(j->decision), j->streak, j->windows, j->summary);
	for (int i = 0; i < US_JUDGE_CRITERIA; i++) {
		const struct us_criterion *c = &j->c[i];

		put(&b, "  %-12s %-12s", c->name ? c->name : "?", us_verdict_name(c->verdict));
		switch (i) {
		case US_C_EVIDENCE:
			put(&b, "  paired %llu (need %.0f)  %.1f s",
			    (unsigned long long)c->samples, c->threshold, c->active);
			break;
		case US_C_AGREEMENT:
		case US_C_ERRORS:
			if (i == US_C_ERRORS)
				put_num(&b, "active", 100 * c->active, "%.3f %%");
			put_num(&b, "sim", 100 * c->sim, "%.3f %%");
			put(&b, i == US_C_ERRORS ? "  limit +%.3f pp" : "  limit %.3f %%", 100 * c->threshold);
			put(&b, "  ln e %.2f (pass >= %.2f)  ln e_fail %.2f (fail >= %.2f)  n %llu",
			    c->statistic, c->bound_pass, c->statistic_fail, c->bound_fail,
			    (unsigned long long)c->samples);
			break;
		default:
			put_num(&b, "active", c->active / 1e6, "%.3f ms");
			put_num(&b, "sim", c->sim / 1e6, "%.3f ms");
			put(&b, "  limit %.2fx", c->threshold);
			put_num(&b, "ratio", c->statistic, "%.3f");
			put(&b, " (pass <= %.2f)", c->bound_pass);
			put_num(&b, "lower bound", c->statistic_fail, "%.3f");
			put(&b, " (fail > %.3f)  n %llu", c->bound_fail, (unsigned long long)c->samples);
			break;
		}
		put(&b, "\n  %-12s %s\n", "", c->why);
	}
	return (int)b.pos;
}
