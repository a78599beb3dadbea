// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The judge (judge.h says what each criterion decides and what it
 * guarantees; docs/judge.md has the arithmetic and judge_eval's figures).
 *
 * The sequential tests: testing by betting, with e-processes.
 *
 * Every unit i (a call for the errors test, a pair for agreement and codes)
 * gives an outcome X_i.  For errors, X_i = s_i - a_i in {-1, 0, +1}
 * (s_i, a_i: the call failed on the simulation, on the active machine),
 * whose conditional mean is the failure-share difference d.  For
 * agreement without a control machine, X_i = +1 when the simulation's
 * final class is more severe than the active's (2xx < 3xx < 4xx), -1 when
 * less, 0 when equal: the mean is the net share of changes for the worse.
 * For codes, and for agreement against a control machine, X_i = 1 when
 * the two sides differ, else 0.  To refute a null hypothesis "the
 * conditional mean of X_i is >= m" (or "<= m") a bettor stakes a fixed
 * fraction lambda of its capital on every unit:
 *
 *     K_n(lambda) = prod_{i<=n} (1 + lambda * g(X_i)),
 *     g(x) = m - x (null ">= m")  or  g(x) = x - m (null "<= m"),
 *
 * lambda in (0, 1 / max_x(-g(x))), so that no factor is negative.  Under
 * the null K_n is a nonnegative supermartingale starting at 1, and so is
 * the average E_n over a fixed grid of lambdas.  Ville's inequality
 * (Ville 1939; the argument behind Wald's 1/A bound on the SPRT's error,
 * Wald 1945, Ann. Math. Statist. 16(2)) bounds the chance that E_n ever
 * reaches 1/a by a, whatever the schedule of looks: the judge recomputes
 * E_n from the cumulative counts every window.  This is the betting
 * capital of Waudby-Smith and Ramdas, "Estimating means of bounded random
 * variables by betting", JRSS B 86(1), 2024, with their diversified
 * constant bets; for Bernoulli outcomes it is Robbins' method of mixtures
 * (Ann. Math. Statist. 41(5), 1970).  For a ternary X against "d <= 0"
 * the units with X = 0 have factor 1: it is a sequential McNemar test on
 * the discordant units.
 *
 * Why calls, not transactions, for errors: a failing call fails several
 * of its transactions together, so transactions are not independent given
 * the past, and the per-transaction betting over-bets (an equal version was
 * falsely rejected about 14 % of the time with clustered failures, against
 * the promised 1 %).  A call counts once, as failed on a side when any of
 * its transactions failed there: calls are the independent units.
 *
 * Why net differences (agreement) and excess over a control (agreement,
 * codes): independent noise on both sides makes pairs differ in both
 * directions.  Counting every difference against the new version rejects
 * an equal one whenever the noise exceeds the limit; the net share cancels
 * symmetric noise, and a version that fixes the active's errors has a
 * negative net share and passes.  A control machine (a version-1 machine
 * receiving the same mirrored calls) measures the noise directly: the
 * candidate's difference share is compared with the control's plus the
 * limit, through always-valid confidence bounds on the control's share
 * (the e-processes above, inverted; half the error rate each).
 *
 * Error rates.  alpha bounds every PASS test separately (a version bad in
 * one respect passes that test with probability <= alpha, so it is promoted
 * with probability <= alpha); beta is split over the tests that can reject
 * (their shares add up to 1), so an equal version is rejected with
 * probability <= beta altogether.  The latency bounds are pointwise
 * (distribution-free bounds on the quantile's rank), not always-valid:
 * judge_eval measures what repeated looks cost them.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "jsonval.h"
#include "judge.h"

/* beta's shares among the tests that can reject */
#define BETA_ERRORS    0.7
#define BETA_AGREEMENT 0.1
#define BETA_CODES     0.1
#define BETA_LATENCY   0.05   /* each of p50 and p99 */

/* liveness: a window in which the machine answered less than this share of
 * what was sent to it (less a Poisson allowance), or in which more than
 * LIVE_SILENT of its pairs closed unanswered, cannot pass */
#define LIVE_ANSWERED  0.8
#define LIVE_SILENT    0.1
#define LIVE_MIN_SENT  10

static const char *const crit_name[US_JUDGE_CRITERIA] = {
	"evidence", "fresh", "liveness", "errors", "agreement", "codes",
	"latency_p50", "latency_p99",
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

/* append to a NUL-terminated buffer */
static void cat(char *buf, size_t len, const char *f, ...)
	__attribute__((format(printf, 3, 4)));

static void cat(char *buf, size_t len, const char *f, ...)
{
	size_t used = strnlen(buf, len);
	va_list ap;

	if (used + 1 >= len)
		return;
	va_start(ap, f);
	vsnprintf(buf + used, len - used, f, ap);
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

	/* over every outcome, seen or not: the bets must not depend on the data */
	for (int x = 0; x < 3; x++)
		if (-g[x] > worst)
			worst = -g[x];
	if (worst <= 0)
		return 0;       /* the callers keep m inside (0, 1) */
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

/* ---- the tests, on counts ------------------------------------------------ */

#define LN(x) log(x)

/* ln E against "mean of X >= m", X in {-1, 0, +1} seen n_neg, n_0, n_pos
 * times (m in (-1, 1)) */
static double ln_e_below(double n_neg, double n_0, double n_pos, double m)
{
	double n[3] = { n_neg, n_0, n_pos };
	double g[3] = { m + 1, m, m - 1 };

	return ln_emix(g, n, 0);
}

/* ln E against "mean of X <= 0", X in {-1, 0, +1} */
static double ln_e_above0(double n_neg, double n_pos)
{
	double n[3] = { n_neg, 0, n_pos };
	double g[3] = { -1, 0, 1 };

	return ln_emix(g, n, 0);
}

/*
 * The plug-in bettor (Waudby-Smith and Ramdas's predictable plug-in, per
 * window): before a window, it chooses the bet that would have grown its
 * capital fastest on the units seen so far (Kelly, with a prior of a few
 * discordant units each way so that it starts cautious), and stakes it on
 * every unit of the window. The bet depends only on earlier windows, so the
 * capital is still a nonnegative supermartingale under the null; it wastes
 * none of it on a grid of bets far from the best one, which is what makes
 * the mixture slow to promote an equal version. The judge averages the two
 * capitals (an average of e-processes is one).
 */
#define PLUGIN_PRIOR_DISC 0.5
#define PLUGIN_PRIOR_SAME 50.0
#define PLUGIN_U_MAX      0.95

static double ln_k_ternary(const double g[3], const double n[3], double lam)
{
	double l = 0;

	for (int x = 0; x < 3; x++)
		if (n[x] > 0)
			l += n[x] * log1p(lam * g[x]);
	return l;
}

/* the Kelly bet against "mean >= m" on counts n (X = -1, 0, +1), in
 * [0, PLUGIN_U_MAX / max(-g)]: golden-section search of a concave function */
static double kelly_below(const double n_past[3], double m)
{
	double g[3] = { m + 1, m, m - 1 };
	double n[3] = { n_past[0] + PLUGIN_PRIOR_DISC, n_past[1] + PLUGIN_PRIOR_SAME,
			n_past[2] + PLUGIN_PRIOR_DISC };
	double lo = 0, hi = PLUGIN_U_MAX / (1 - m), r = (sqrt(5) - 1) / 2;

	for (int i = 0; i < 60; i++) {
		double a = hi - r * (hi - lo), b = lo + r * (hi - lo);

		if (ln_k_ternary(g, n, a) < ln_k_ternary(g, n, b))
			lo = a;
		else
			hi = b;
	}
	return (lo + hi) / 2;
}

/* ln((e^a + e^b) / 2) */
static double ln_avg2(double a, double b)
{
	double t = fmax(a, b);

	if (t == -INFINITY)
		return t;
	return t + log((exp(a - t) + exp(b - t)) / 2);
}

/* ln E against "share >= m" for k ones in n Bernoulli outcomes */
static double ln_e_share_below(double k, double n, double m)
{
	double c[3] = { 0, n - k, k };
	double g[3] = { 0, m, m - 1 };

	if (m >= 1)
		return n > k ? INFINITY : 0;
	if (m <= 0)
		return 0;
	return ln_emix(g, c, 0);
}

/* ln E against "share <= m": geometric bets from u_min (small shares need
 * small bets: the Kelly fraction against a true share p is (p - m) / (1 - m)) */
static double ln_e_share_above(double k, double n, double m, double u_min)
{
	double c[3] = { 0, n - k, k };
	double g[3] = { 0, -m, 1 - m };

	if (m <= 0)
		return k > 0 ? INFINITY : 0;
	if (m >= 1)
		return 0;
	return ln_emix(g, c, u_min);
}

#define CS_U_MIN 1e-4

/* Always-valid confidence bounds on a Bernoulli share (k of n), each at
 * level a: the e-tests above inverted by bisection (each is monotone in m
 * on a fixed grid). */
static double share_lo(double k, double n, double a)
{
	double lo = 0, hi = n > 0 ? k / n : 0;

	if (n <= 0 || k <= 0)
		return 0;
	for (int i = 0; i < 50; i++) {
		double mid = (lo + hi) / 2;

		if (ln_e_share_above(k, n, mid, CS_U_MIN) >= LN(1 / a))
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

static double share_hi(double k, double n, double a)
{
	double lo = n > 0 ? k / n : 1, hi = 1;

	if (n <= 0)
		return 1;
	for (int i = 0; i < 50; i++) {
		double mid = (lo + hi) / 2;

		if (ln_e_share_below(k, n, mid) >= LN(1 / a))
			hi = mid;
		else
			lo = mid;
	}
	return hi;
}

/* ---- what the evidence says ---------------------------------------------- */

/* pairs whose active outcome is below a_end and shadow outcome in
 * [s_lo, s_end) */
static __u64 pairs_in(const struct us_pairs *p, int a_end, int s_lo, int s_end)
{
	__u64 n = 0;

	for (int a = 0; a < a_end; a++)
		for (int s = s_lo; s < s_end; s++)
			n += p->out[a][s];
	return n;
}

static __u64 pairs_of(const struct us_pairs *p)
{
	return pairs_in(p, US_O_MAX, 0, US_O_MAX);
}

/* pairs in which the shadow machine answered */
static __u64 answered_pairs(const struct us_pairs *p)
{
	return pairs_in(p, US_O_MAX, 0, US_O_NONE);
}

/* pairs the shadow left unanswered while the active answered */
static __u64 silent_pairs(const struct us_pairs *p)
{
	return pairs_in(p, US_O_NONE, US_O_NONE, US_O_MAX);
}

static bool failed(int o)
{
	return o >= US_O_ERR;
}

/* Class changes among pairs both sides answered without an error (errors
 * are the errors test's): worse (the shadow's class more severe), better,
 * same. */
struct classdiff {
	double worse, better, same;
};

static struct classdiff class_diff(const struct us_pairs *p)
{
	struct classdiff c = { 0, 0, 0 };

	for (int a = 0; a < US_O_ERR; a++)
		for (int s = 0; s < US_O_ERR; s++) {
			double v = (double)p->out[a][s];

			if (s > a)
				c.worse += v;
			else if (s < a)
				c.better += v;
			else
				c.same += v;
		}
	return c;
}

/* exact-code changes among answered pairs of the same class: k of n */
static void code_diff(const struct us_pairs *p, double *k, double *n)
{
	__u64 same_class = 0;

	for (int c = 0; c < US_O_NONE; c++)
		same_class += p->out[c][c];
	*n = (double)same_class;
	*k = p->code_same < same_class ? (double)(same_class - p->code_same) : 0;
}

/* calls: failed on the active only, the shadow only, neither */
static void call_split(const struct us_pairs *p, double *ao, double *so, double *n0)
{
	__u64 both = p->calls_fail_both, fa = p->calls_fail_active, fs = p->calls_fail_shadow;
	__u64 a = fa > both ? fa - both : 0, s = fs > both ? fs - both : 0;

	*ao = (double)a;
	*so = (double)s;
	*n0 = p->calls > a + s ? (double)(p->calls - a - s) : 0;
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

static void judge_evidence(const struct us_policy *p, const struct us_window *cum,
			   struct us_criterion *c)
{
	__u64 paired = pairs_of(&cum->sim);
	bool n_ok = paired >= p->min_paired, t_ok = cum->sim_seconds >= p->min_sim_seconds;

	c->sim = (double)paired;
	c->active = cum->sim_seconds;
	c->threshold = (double)p->min_paired;
	c->samples = paired;
	c->verdict = n_ok && t_ok ? US_V_PASS : US_V_INCONCLUSIVE;
	fmt(c->why, sizeof(c->why),
	    "%s: %llu pairs (need %llu), %.1f s in simulation (need %.1f s)",
	    n_ok && t_ok ? "enough evidence" : "not enough evidence yet",
	    (unsigned long long)paired, (unsigned long long)p->min_paired,
	    cum->sim_seconds, p->min_sim_seconds);
}

/* Only this window's evidence counts towards the streak: pairs the machine
 * answered in it. */
static void judge_fresh(const struct us_policy *p, const struct us_window *win,
			struct us_criterion *c)
{
	__u64 n = answered_pairs(&win->sim);

	c->sim = (double)n;
	c->threshold = (double)p->min_window_pairs;
	c->samples = n;
	c->verdict = n >= p->min_window_pairs ? US_V_PASS : US_V_INCONCLUSIVE;
	fmt(c->why, sizeof(c->why), "%llu answered pairs in this window (need %llu)%s",
	    (unsigned long long)n, (unsigned long long)p->min_window_pairs,
	    c->verdict == US_V_PASS ? "" : ": the window neither extends the streak nor promotes");
}

/* The machine answers what it is sent, now: not inferred from past
 * windows. */
static void judge_liveness(const struct us_window *win, struct us_criterion *c)
{
	double sent = (double)win->sent, ans = (double)win->answered;
	double pairs = (double)pairs_of(&win->sim), silent = (double)silent_pairs(&win->sim);
	double need = LIVE_ANSWERED * sent - 2 * sqrt(sent);
	bool mute = sent >= LIVE_MIN_SENT && ans < need;
	bool deaf = pairs >= LIVE_MIN_SENT && silent > LIVE_SILENT * pairs;

	c->active = sent;
	c->sim = ans;
	c->threshold = need > 0 ? need : 0;
	c->samples = win->sent;
	c->statistic = pairs > 0 ? silent / pairs : NAN;
	c->verdict = mute || deaf ? US_V_INCONCLUSIVE : US_V_PASS;
	if (mute)
		fmt(c->why, sizeof(c->why),
		    "answered %.0f of %.0f requests sent in this window (need %.0f): not answering",
		    ans, sent, need);
	else if (deaf)
		fmt(c->why, sizeof(c->why),
		    "%.0f of %.0f pairs in this window closed unanswered by it (more than %.0f %%)",
		    silent, pairs, 100 * LIVE_SILENT);
	else
		fmt(c->why, sizeof(c->why),
		    "answered %.0f of %.0f requests sent in this window; %.0f of %.0f pairs unanswered",
		    ans, sent, silent, pairs);
}

/* transaction-level failure shares, beside the call-level ones */
static void txn_fail(const struct us_pairs *p, double *a, double *s)
{
	double n = (double)pairs_of(p), fa = 0, fs = 0;

	for (int x = 0; x < US_O_MAX; x++)
		for (int y = 0; y < US_O_MAX; y++) {
			if (failed(x))
				fa += (double)p->out[x][y];
			if (failed(y))
				fs += (double)p->out[x][y];
		}
	*a = n > 0 ? fa / n : NAN;
	*s = n > 0 ? fs / n : NAN;
}

static void judge_errors(const struct us_policy *p, const struct us_window *cum,
			 const struct us_window *win, double *lnk, struct us_criterion *c)
{
	const struct us_pairs *q = &cum->sim;
	double m = p->max_error_increase, ao, so, n0, n = (double)q->calls, ta, ts;
	double wao, wso, wn0, past[3], now[3], g[3] = { m + 1, m, m - 1 };

	call_split(q, &ao, &so, &n0);
	/* the plug-in bettor: its bet from the windows before this one */
	call_split(&win->sim, &wao, &wso, &wn0);
	past[0] = fmax(0, ao - wao);
	past[1] = fmax(0, n0 - wn0);
	past[2] = fmax(0, so - wso);
	now[0] = wao;
	now[1] = wn0;
	now[2] = wso;
	*lnk += ln_k_ternary(g, now, kelly_below(past, m));
	txn_fail(q, &ta, &ts);
	c->threshold = m;
	c->samples = q->calls;
	if (n > 0) {
		c->active = (double)q->calls_fail_active / n;
		c->sim = (double)q->calls_fail_shadow / n;
	}
	c->bound_pass = LN(1 / p->alpha);
	c->bound_fail = LN(1 / (BETA_ERRORS * p->beta));
	c->statistic = ln_avg2(ln_e_below(ao, n0, so, m), *lnk);
	c->statistic_fail = ln_e_above0(ao, so);
	if (n <= 0) {
		fmt(c->why, sizeof(c->why), "no calls paired yet");
		return;
	}
	if (c->statistic >= c->bound_pass)
		c->verdict = US_V_PASS;
	else if (c->statistic_fail >= c->bound_fail)
		c->verdict = US_V_FAIL;
	fmt(c->why, sizeof(c->why),
	    "failed calls %.3f %% vs active %.3f %% (%.0f only here, %.0f only there, of %.0f); "
	    "transactions %.3f %% vs %.3f %%: %s",
	    100 * c->sim, 100 * c->active, so, ao, n, 100 * ts, 100 * ta,
	    c->verdict == US_V_PASS ? "confidently less than the margin worse" :
	    c->verdict == US_V_FAIL ? "confidently worse than the active" :
	    "not yet confident either way");
}

/*
 * Against a control machine: the candidate's share k of n against the
 * control's kc of nc, through always-valid bounds on the control's share.
 * PASS when "share >= control's lower bound + pass_margin" is refuted, FAIL
 * when "share <= control's upper bound + fail_margin" is.
 */
static void judge_vs_control(const struct us_policy *p, double k, double n, double kc, double nc,
			     double pass_margin, double fail_margin, double beta_share,
			     struct us_criterion *c)
{
	double lo = share_lo(kc, nc, p->alpha / 2);
	double hi = share_hi(kc, nc, beta_share * p->beta / 2);

	c->bound_pass = LN(2 / p->alpha);
	c->bound_fail = LN(2 / (beta_share * p->beta));
	c->statistic = ln_e_share_below(k, n, lo + pass_margin);
	c->statistic_fail = ln_e_share_above(k, n, hi + fail_margin, CS_U_MIN);
	if (c->statistic >= c->bound_pass)
		c->verdict = US_V_PASS;
	else if (c->statistic_fail >= c->bound_fail)
		c->verdict = US_V_FAIL;
}

static void judge_agreement(const struct us_policy *p, const struct us_window *cum,
			    struct us_criterion *c)
{
	struct classdiff d = class_diff(&cum->sim), dc = class_diff(&cum->control);
	double n = d.worse + d.better + d.same, nc = dc.worse + dc.better + dc.same;
	double lim = p->max_class_diff;
	const char *how;

	c->threshold = lim;
	c->samples = (__u64)n;
	c->sim = n > 0 ? (d.worse - d.better) / n : NAN;
	if (cum->has_control && nc > 0) {
		c->sim = n > 0 ? (d.worse + d.better) / n : NAN;
		c->active = (dc.worse + dc.better) / nc;
		/* within the control's differences + the limit passes; more
		 * than the control's fails */
		judge_vs_control(p, d.worse + d.better, n, dc.worse + dc.better, nc, lim, 0,
				 BETA_AGREEMENT, c);
		how = c->verdict == US_V_PASS ? "confidently within the limit of the control's" :
		      c->verdict == US_V_FAIL ? "confidently more than the control's" :
		      "not yet confident either way";
		fmt(c->why, sizeof(c->why),
		    "%.3f %% of %.0f pairs differ in class vs the control's %.3f %% (%.0f pairs; "
		    "limit +%.3f %%); net for the worse %.3f %%: %s",
		    100 * c->sim, n, 100 * c->active, nc, 100 * lim,
		    n > 0 ? 100 * (d.worse - d.better) / n : 0.0, how);
		return;
	}
	c->bound_pass = LN(1 / p->alpha);
	c->bound_fail = LN(1 / (BETA_AGREEMENT * p->beta));
	c->statistic = ln_e_below(d.better, d.same, d.worse, lim);
	c->statistic_fail = ln_e_above0(d.better, d.worse);
	if (n <= 0) {
		fmt(c->why, sizeof(c->why), "no pairs both sides answered without an error yet");
		return;
	}
	if (c->statistic >= c->bound_pass)
		c->verdict = US_V_PASS;
	else if (c->statistic_fail >= c->bound_fail)
		c->verdict = US_V_FAIL;
	fmt(c->why, sizeof(c->why),
	    "of %.0f pairs, %.3f %% changed class for the worse, %.3f %% for the better: net "
	    "%.3f %% (limit %.3f %%): %s", n, 100 * d.worse / n, 100 * d.better / n, 100 * c->sim,
	    100 * lim,
	    c->verdict == US_V_PASS ? "confidently below the limit" :
	    c->verdict == US_V_FAIL ? "confidently worse than the active" :
	    "not yet confident either way");
}

static void judge_codes(const struct us_policy *p, const struct us_window *cum,
			struct us_criterion *c)
{
	double k, n, kc = 0, nc = 0, lim = p->max_code_diff;

	code_diff(&cum->sim, &k, &n);
	if (cum->has_control)
		code_diff(&cum->control, &kc, &nc);
	c->threshold = lim;
	c->samples = (__u64)n;
	c->sim = n > 0 ? k / n : NAN;
	if (cum->has_control && nc > 0) {
		c->active = kc / nc;
		/* the limit is the boundary both ways, above the control's */
		judge_vs_control(p, k, n, kc, nc, lim, lim, BETA_CODES, c);
		fmt(c->why, sizeof(c->why),
		    "exact codes differ in %.3f %% of %.0f same-class pairs vs the control's %.3f %% "
		    "(limit +%.3f %%): %s", n > 0 ? 100 * k / n : 0.0, n, 100 * c->active, 100 * lim,
		    c->verdict == US_V_PASS ? "confidently within" :
		    c->verdict == US_V_FAIL ? "confidently beyond" : "not yet confident either way");
		return;
	}
	c->bound_pass = LN(1 / p->alpha);
	c->bound_fail = LN(1 / (BETA_CODES * p->beta));
	c->statistic = ln_e_share_below(k, n, lim);
	c->statistic_fail = ln_e_share_above(k, n, lim, 0.1 * lim);
	if (n <= 0) {
		fmt(c->why, sizeof(c->why), "no answered pairs of the same class yet");
		return;
	}
	c->verdict = c->statistic >= c->bound_pass ? US_V_PASS :
		     c->statistic_fail >= c->bound_fail ? US_V_FAIL : US_V_INCONCLUSIVE;
	fmt(c->why, sizeof(c->why),
	    "exact codes differ in %.3f %% of %.0f same-class pairs (limit %.3f %%): %s",
	    100 * k / n, n, 100 * lim,
	    c->verdict == US_V_PASS ? "confidently below the limit" :
	    c->verdict == US_V_FAIL ? "confidently above the limit" : "not yet confident either way");
}

/*
 * Latency: one boundary, the policy's ratio r. PASS when the ratio's upper
 * bound is at most r, FAIL when its lower bound is above r, the simulation's
 * quantile less the policy's slack in both (a quantile slower by less than
 * the slack is not slower: scheduling noise of a few milliseconds on a
 * service answering in one is no regression): the two meet,
 * so only a version whose true ratio is r itself stays undecided (and
 * decide_after bounds that). The bounds move each quantile by z standard
 * errors of its rank (distribution-free, normal approximation to the
 * binomial).
 */
static void judge_latency(const struct us_policy *p, const struct us_window *cum, double q,
			  struct us_criterion *c)
{
	const __u64 *ha = cum->sim.lat_active, *hs = cum->sim.lat_shadow;
	double na = hist_total(ha), ns = hist_total(hs);
	double need = ceil(US_JUDGE_LAT_TAIL / (1 - q) - 1e-6);
	double lim = p->max_latency_ratio;
	double zp = us_norm_ppf(1 - p->alpha / 2), zf = us_norm_ppf(1 - BETA_LATENCY * p->beta / 2);
	int pct = (int)lround(q * 100);
	double up, lo;

	c->threshold = lim;
	c->samples = (__u64)(na < ns ? na : ns);
	c->active = us_hist_quantile(ha, q);
	c->sim = us_hist_quantile(hs, q);
	c->bound_pass = lim;
	c->bound_fail = lim;
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
	{
		double sa = sqrt(q * (1 - q) / na), ss = sqrt(q * (1 - q) / ns);
		double a_lo = us_hist_quantile(ha, fmax(0, q - zp * sa));
		double a_hi = us_hist_quantile(ha, fmin(1, q + zf * sa));
		double slack = p->latency_slack * 1e9;

		/* the slack: what is slower by less is not slower */
		up = a_lo > 0 ? (us_hist_quantile(hs, fmin(1, q + zp * ss)) - slack) / a_lo : INFINITY;
		lo = (us_hist_quantile(hs, fmax(0, q - zf * ss)) - slack) / a_hi;
	}
	c->statistic = up;
	c->statistic_fail = lo;
	if (up <= lim)
		c->verdict = US_V_PASS;
	else if (lo > lim)
		c->verdict = US_V_FAIL;
	fmt(c->why, sizeof(c->why),
	    "p%d %.3f ms vs active %.3f ms = %.2fx (less %.0f ms: between %.2fx and %.2fx), "
	    "limit %.2fx: %s", pct, c->sim / 1e6, c->active / 1e6, c->sim / c->active,
	    p->latency_slack * 1e3, lo, up, lim,
	    c->verdict == US_V_PASS ? "surely within" :
	    c->verdict == US_V_FAIL ? "surely above" : "not yet sure either way");
}

/* ---- the policy ------------------------------------------------------------ */

int us_policy_check(const struct us_policy *p, char *why, size_t len)
{
#define REFUSE(...) do { fmt(why, len, __VA_ARGS__); return -EINVAL; } while (0)
	if (!p)
		REFUSE("no policy");
	if (!(p->alpha > 0 && p->alpha <= 0.5))
		REFUSE("alpha: %g is outside (0, 0.5]", p->alpha);
	if (!(p->beta > 0 && p->beta <= 0.5))
		REFUSE("beta: %g is outside (0, 0.5]", p->beta);
	if (!p->windows)
		REFUSE("consecutive_windows: 0: at least one passing window is needed");
	if (!p->min_paired)
		REFUSE("min_paired: 0: at least one pair is needed");
	if (!p->min_window_pairs)
		REFUSE("min_window_pairs: 0: a window without evidence would count");
	if (!(isfinite(p->min_sim_seconds) && p->min_sim_seconds >= 0))
		REFUSE("min_simulation_seconds: %g is not a duration", p->min_sim_seconds);
	if (!(p->max_class_diff > 0 && p->max_class_diff < 1))
		REFUSE("max_class_disagreement: %g is outside (0, 1): at 0 no version can pass, "
		       "at 1 every version does", p->max_class_diff);
	if (!(p->max_code_diff > 0 && p->max_code_diff < 1))
		REFUSE("max_code_disagreement: %g is outside (0, 1): at 0 no version can pass, "
		       "at 1 every version does", p->max_code_diff);
	if (!(p->max_error_increase > 0 && p->max_error_increase < 1))
		REFUSE("max_error_increase: %g is outside (0, 1): at 0 no version can pass, "
		       "at 1 every version does", p->max_error_increase);
	if (!(isfinite(p->max_latency_ratio) && p->max_latency_ratio > 1))
		REFUSE("max_latency_ratio: %g is not above 1: an equal version could not pass",
		       p->max_latency_ratio);
	if (!(p->latency_slack >= 0 && p->latency_slack <= 60))
		REFUSE("latency_slack: %g s is outside 0..60 s", p->latency_slack);
	if (!(p->due_floor >= 0.05 && p->due_floor <= 32))
		REFUSE("due_floor: %g s is outside 0.05..32 s", p->due_floor);
	if (!(p->due_multiple >= 1 && p->due_multiple <= 1000))
		REFUSE("due_multiple: %g is outside 1..1000", p->due_multiple);
	if (!(isfinite(p->decide_after) && p->decide_after >= 0))
		REFUSE("decide_after: %g is not a duration", p->decide_after);
	if (!(isfinite(p->stuck_after) && p->stuck_after >= 0))
		REFUSE("stuck_after: %g is not a duration", p->stuck_after);
	if (p->on_undecided != US_UNDECIDED_HOLD && p->on_undecided != US_UNDECIDED_REJECT)
		REFUSE("on_undecided: %d is neither hold nor reject", p->on_undecided);
	if (p->mode != US_MODE_DECIDE && p->mode != US_MODE_HOLD)
		REFUSE("mode: %d is neither decide nor hold", p->mode);
#undef REFUSE
	if (len)
		why[0] = 0;
	return 0;
}

/* ---- evidence ------------------------------------------------------------- */

static void pairs_add(struct us_pairs *d, const struct us_pairs *s)
{
	for (int a = 0; a < US_O_MAX; a++)
		for (int b = 0; b < US_O_MAX; b++)
			d->out[a][b] += s->out[a][b];
	d->code_same += s->code_same;
	d->calls += s->calls;
	d->calls_fail_active += s->calls_fail_active;
	d->calls_fail_shadow += s->calls_fail_shadow;
	d->calls_fail_both += s->calls_fail_both;
	for (int i = 0; i < US_LAT_BUCKETS; i++) {
		d->lat_active[i] += s->lat_active[i];
		d->lat_shadow[i] += s->lat_shadow[i];
	}
}

void us_window_add(struct us_window *c, const struct us_window *w)
{
	c->t = w->t;
	c->seconds += w->seconds;
	c->sim_seconds = w->sim_seconds;
	c->sent += w->sent;
	c->answered += w->answered;
	c->late += w->late;
	c->has_control = c->has_control || w->has_control;
	pairs_add(&c->sim, &w->sim);
	pairs_add(&c->control, &w->control);
	for (__u32 i = 0; i < w->ncodes && i < US_CODEPAIRS_MAX; i++)
		us_codes_add(c->codes, &c->ncodes, w->codes[i].active, w->codes[i].shadow,
			     w->codes[i].n);
	for (int i = 0; i < US_OWN_MAX; i++) {
		c->own[i] += w->own[i];
		c->own_active[i] += w->own_active[i];
		c->own_both[i] += w->own_both[i];
	}
}

/* ---- the window ---------------------------------------------------------- */

static int input_ok(const struct us_window *cum, const struct us_window *win,
		    const struct us_judge_state *st)
{
	if (!cum || !win || !isfinite(cum->sim_seconds) || cum->sim_seconds < 0)
		return 0;
	if (st->judged && (pairs_of(&cum->sim) < st->last_paired ||
			   cum->sim_seconds < st->last_seconds))
		return 0;
	return 1;
}

static void summarize(struct us_judgement *out, const struct us_policy *p, bool undecided_end)
{
	char *s = out->summary;
	size_t len = sizeof(out->summary);

	s[0] = 0;
	if (out->verdict == US_V_PASS) {
		fmt(s, len, "%s: every criterion passed, %u of %u consecutive windows",
		    out->decision == US_D_PROMOTE ? "promote" : "pass", out->streak, p->windows);
	} else {
		if (undecided_end)
			fmt(s, len, "reject: undecided after %.0f s (decide_after %.0f s), undecided:",
			    out->undecided_s, p->decide_after);
		else
			fmt(s, len, "%s:", out->verdict == US_V_FAIL ? "reject, failed" :
					   "inconclusive, undecided");
		for (int i = 0; i < US_JUDGE_CRITERIA; i++)
			if (out->c[i].verdict == (out->verdict == US_V_FAIL ? US_V_FAIL :
						  US_V_INCONCLUSIVE))
				cat(s, len, " %s", out->c[i].name);
	}
	if (out->held)
		cat(s, len, " (held: policy mode hold)");
}

int us_judge(const struct us_policy *p, const struct us_window *cum, const struct us_window *win,
	     struct us_judge_state *st, struct us_judgement *out)
{
	int npass = 0, nfail = 0;
	bool undecided_end = false;
	char why[160];
	double lnk;
	__u32 latched;

	if (!st || !out)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	if (us_policy_check(p, why, sizeof(why))) {
		fmt(out->summary, sizeof(out->summary), "policy refused: %s", why);
		return -EINVAL;
	}
	if (!input_ok(cum, win, st)) {
		fmt(out->summary, sizeof(out->summary),
		    "evidence refused: counts went backwards or time is not a duration");
		return -EINVAL;
	}
	for (int i = 0; i < US_JUDGE_CRITERIA; i++)
		crit_init(&out->c[i], i);
	judge_evidence(p, cum, &out->c[US_C_EVIDENCE]);
	judge_fresh(p, win, &out->c[US_C_FRESH]);
	judge_liveness(win, &out->c[US_C_LIVENESS]);
	lnk = st->lnk_errors;
	judge_errors(p, cum, win, &lnk, &out->c[US_C_ERRORS]);
	judge_agreement(p, cum, &out->c[US_C_AGREEMENT]);
	judge_codes(p, cum, &out->c[US_C_CODES]);
	judge_latency(p, cum, 0.50, &out->c[US_C_LAT_P50]);
	judge_latency(p, cum, 0.99, &out->c[US_C_LAT_P99]);

	/*
	 * An always-valid test that crossed its PASS boundary once has decided
	 * (Ville's inequality bounds the chance of ever crossing, so stopping
	 * at the first crossing keeps alpha): it stays PASS, unless its FAIL
	 * test crosses later. Without this, one discordant call after the
	 * crossing could drop the capital below the boundary again and reset
	 * the streak, for no statistical reason.
	 */
	latched = st->latched;
	for (int i = US_C_ERRORS; i <= US_C_CODES; i++) {
		struct us_criterion *c = &out->c[i];

		if (c->verdict == US_V_PASS)
			latched |= 1u << i;
		else if (c->verdict == US_V_INCONCLUSIVE && (latched & (1u << i))) {
			char now[sizeof(c->why)];

			c->verdict = US_V_PASS;
			memcpy(now, c->why, sizeof(now));
			fmt(c->why, sizeof(c->why), "passed in an earlier window; now %s", now);
		}
	}
	for (int i = 0; i < US_JUDGE_CRITERIA; i++) {
		npass += out->c[i].verdict == US_V_PASS;
		nfail += out->c[i].verdict == US_V_FAIL;
	}
	out->verdict = nfail ? US_V_FAIL : npass == US_JUDGE_CRITERIA ? US_V_PASS :
		       US_V_INCONCLUSIVE;
	/* a window without fresh evidence, or in which the machine stopped
	 * answering, ends the streak: promotion needs the last windows current */
	st->streak = out->verdict == US_V_PASS ? st->streak + 1 : 0;
	st->judged++;
	st->last_paired = pairs_of(&cum->sim);
	st->last_seconds = cum->sim_seconds;
	st->lnk_errors = lnk;
	st->latched = latched;
	out->streak = st->streak;
	out->windows = p->windows;
	out->undecided_s = cum->sim_seconds;
	out->decision = out->verdict == US_V_FAIL ? US_D_REJECT :
			st->streak >= p->windows ? US_D_PROMOTE : US_D_NONE;
	if (out->decision == US_D_NONE && p->decide_after > 0 &&
	    cum->sim_seconds >= p->decide_after && p->on_undecided == US_UNDECIDED_REJECT) {
		out->decision = US_D_REJECT;
		undecided_end = true;
	}
	if (out->decision == US_D_NONE && p->stuck_after > 0 && cum->sim_seconds >= p->stuck_after) {
		out->stuck = true;
		fmt(out->stuck_why, sizeof(out->stuck_why), "undecided for %.0f s:",
		    cum->sim_seconds);
		for (int i = 0; i < US_JUDGE_CRITERIA; i++)
			if (out->c[i].verdict != US_V_PASS)
				cat(out->stuck_why, sizeof(out->stuck_why), " %s", out->c[i].name);
		for (int i = 0; i < US_JUDGE_CRITERIA; i++)
			if (out->c[i].verdict != US_V_PASS) {
				cat(out->stuck_why, sizeof(out->stuck_why), "; %s", out->c[i].why);
				break;
			}
	}
	out->held = p->mode == US_MODE_HOLD && out->decision != US_D_NONE;
	summarize(out, p, undecided_end);
	return 0;
}

/* ---- state and judgement as JSON ------------------------------------------- */

json_object *us_judge_state_json(const struct us_judge_state *st)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "streak", json_object_new_int64(st->streak));
	json_object_object_add(o, "judged", json_object_new_int64(st->judged));
	json_object_object_add(o, "last_paired", json_object_new_int64((int64_t)st->last_paired));
	json_object_object_add(o, "last_seconds", json_object_new_double(st->last_seconds));
	json_object_object_add(o, "lnk_errors", json_object_new_double(st->lnk_errors));
	json_object_object_add(o, "latched", json_object_new_int64(st->latched));
	return o;
}

int us_judge_state_parse(json_object *o, struct us_judge_state *st, const char **field)
{
	__u64 u;

	memset(st, 0, sizeof(*st));
	if (!o || !json_object_is_type(o, json_type_object)) {
		*field = "state";
		return -EINVAL;
	}
	if (us_jget_u64(o, "streak", &u) || u > ~0u) {
		*field = "state.streak";
		return -EINVAL;
	}
	st->streak = (__u32)u;
	if (us_jget_u64(o, "judged", &u) || u > ~0u) {
		*field = "state.judged";
		return -EINVAL;
	}
	st->judged = (__u32)u;
	if (us_jget_u64(o, "last_paired", &st->last_paired)) {
		*field = "state.last_paired";
		return -EINVAL;
	}
	if (us_jget_num(o, "last_seconds", &st->last_seconds) || !isfinite(st->last_seconds) ||
	    st->last_seconds < 0) {
		*field = "state.last_seconds";
		return -EINVAL;
	}
	/* absent in the states of the first releases of this judge: the
	 * plug-in capital starts again at 1, which is always safe */
	if (json_object_object_get_ex(o, "lnk_errors", NULL) &&
	    (us_jget_num(o, "lnk_errors", &st->lnk_errors) || !isfinite(st->lnk_errors))) {
		*field = "state.lnk_errors";
		return -EINVAL;
	}
	if (json_object_object_get_ex(o, "latched", NULL)) {
		if (us_jget_u64(o, "latched", &u) || u >= 1u << US_JUDGE_CRITERIA) {
			*field = "state.latched";
			return -EINVAL;
		}
		st->latched = (__u32)u;
	}
	return 0;
}

static json_object *num(double v)
{
	return isfinite(v) ? json_object_new_double(v) : NULL;
}

json_object *us_criterion_json(const struct us_criterion *c)
{
	json_object *x = json_object_new_object();

	json_object_object_add(x, "name", json_object_new_string(c->name ? c->name : ""));
	json_object_object_add(x, "verdict", json_object_new_string(us_verdict_name(c->verdict)));
	json_object_object_add(x, "active", num(c->active));
	json_object_object_add(x, "simulation", num(c->sim));
	json_object_object_add(x, "threshold", num(c->threshold));
	json_object_object_add(x, "statistic", num(c->statistic));
	json_object_object_add(x, "bound_pass", num(c->bound_pass));
	json_object_object_add(x, "statistic_fail", num(c->statistic_fail));
	json_object_object_add(x, "bound_fail", num(c->bound_fail));
	json_object_object_add(x, "samples", json_object_new_int64((int64_t)c->samples));
	json_object_object_add(x, "why", json_object_new_string(c->why));
	return x;
}

json_object *us_judgement_json(const struct us_judgement *j)
{
	json_object *o = json_object_new_object(), *arr = json_object_new_array();

	json_object_object_add(o, "verdict", json_object_new_string(us_verdict_name(j->verdict)));
	json_object_object_add(o, "decision", json_object_new_string(us_decision_name(j->decision)));
	json_object_object_add(o, "held", json_object_new_boolean(j->held));
	json_object_object_add(o, "streak", json_object_new_int64(j->streak));
	json_object_object_add(o, "windows", json_object_new_int64(j->windows));
	json_object_object_add(o, "summary", json_object_new_string(j->summary));
	json_object_object_add(o, "stuck", json_object_new_boolean(j->stuck));
	json_object_object_add(o, "stuck_why", json_object_new_string(j->stuck ? j->stuck_why : ""));
	json_object_object_add(o, "undecided_s", num(j->undecided_s));
	for (int i = 0; i < US_JUDGE_CRITERIA; i++)
		json_object_array_add(arr, us_criterion_json(&j->c[i]));
	json_object_object_add(o, "criteria", arr);
	return o;
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
	put(&b, "window %s, decision %s%s, streak %u of %u: %s\n", us_verdict_name(j->verdict),
	    us_decision_name(j->decision), j->held ? " (held)" : "", j->streak, j->windows,
	    j->summary);
	if (j->stuck)
		put(&b, "STUCK: %s\n", j->stuck_why);
	for (int i = 0; i < US_JUDGE_CRITERIA; i++) {
		const struct us_criterion *c = &j->c[i];

		put(&b, "  %-12s %-12s", c->name ? c->name : "?", us_verdict_name(c->verdict));
		switch (i) {
		case US_C_EVIDENCE:
			put(&b, "  pairs %llu (need %.0f)  %.1f s",
			    (unsigned long long)c->samples, c->threshold, c->active);
			break;
		case US_C_FRESH:
			put(&b, "  answered pairs this window %llu (need %.0f)",
			    (unsigned long long)c->samples, c->threshold);
			break;
		case US_C_LIVENESS:
			put(&b, "  sent %.0f  answered %.0f (need %.0f)", c->active, c->sim,
			    c->threshold);
			break;
		case US_C_ERRORS:
		case US_C_AGREEMENT:
		case US_C_CODES:
			put_num(&b, i == US_C_ERRORS ? "active" : "control", 100 * c->active, "%.3f %%");
			put_num(&b, "sim", 100 * c->sim, "%.3f %%");
			put(&b, i == US_C_ERRORS ? "  margin +%.3f pp" : "  limit %.3f %%",
			    100 * c->threshold);
			put(&b, "  ln e %.2f (pass >= %.2f)  ln e_fail %.2f (fail >= %.2f)  n %llu",
			    c->statistic, c->bound_pass, c->statistic_fail, c->bound_fail,
			    (unsigned long long)c->samples);
			break;
		default:
			put_num(&b, "active", c->active / 1e6, "%.3f ms");
			put_num(&b, "sim", c->sim / 1e6, "%.3f ms");
			put(&b, "  limit %.2fx", c->threshold);
			put_num(&b, "upper", c->statistic, "%.3f");
			put(&b, " (pass <=)");
			put_num(&b, "lower", c->statistic_fail, "%.3f");
			put(&b, " (fail >)  n %llu", (unsigned long long)c->samples);
			break;
		}
		put(&b, "\n  %-12s %s\n", "", c->why);
	}
	return (int)b.pos;
}
