// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * judge_eval: how good is the judge?  Replays thousands of synthetic
 * simulation machines through the real us_judge, window after window, and
 * prints, per scenario, how often it promotes, rejects or is still undecided
 * after a horizon, and how many paired transactions it needed; compares the
 * errors test with the fixed-size tests that have the same error rates; and
 * checks the targets.  Not a test: `make judge-eval`.
 *
 * Model of one window: `pairs` mirrored transactions.  The active machine
 * errs with probability pa; the simulation with ps.  A share `shared` of the
 * smaller of the two error probabilities are errors both make on the same
 * transaction (requests that fail anywhere); the rest are independent of the
 * other side.  Every error on one side only is a class difference; another
 * `other_diff` of the pairs differ in class without an error.  Latencies are
 * lognormal, median 20 ms (active) or ratio x 20 ms (simulation), sigma 0.5
 * (p99 = 3.2 x the median), drawn independently per side and binned with
 * us_lat_bucket into both histograms.  Each run has its own seed
 * (xoshiro256** seeded by splitmix64 from seed, scenario and run), so the
 * results do not depend on the number of threads.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "judge.h"

struct cfg {
	unsigned runs, pairs, low_pairs, horizon, threads;
	unsigned long long seed;
	double pa, shared, other_diff, window_s, lat_median_ms, lat_sigma;
};

struct scen {
	const char *name;
	double d_err;      /* simulation's error share minus the active's */
	double lat_ratio;
	int low;           /* low traffic */
};

static const struct scen scens[] = {
	{ "equal version",              0,      1.0, 0 },
	{ "+0.25 pp errors (between)",  0.0025, 1.0, 0 },
	{ "+0.5 pp errors",             0.005,  1.0, 0 },
	{ "+1 pp errors",               0.01,   1.0, 0 },
	{ "latency 1.2x (at the limit)", 0,     1.2, 0 },
	{ "latency 1.5x",               0,      1.5, 0 },
	{ "latency 2x",                 0,      2.0, 0 },
	{ "low traffic, equal",         0,      1.0, 1 },
	{ "low traffic, +1 pp errors",  0.01,   1.0, 1 },
};
#define NSCEN (sizeof(scens) / sizeof(scens[0]))

static const char *const crit_names[US_JUDGE_CRITERIA] = {
	"evidence", "agreement", "errors", "p50", "p99",
};

struct result {
	enum us_decision decision;
	unsigned long long pairs;        /* at the decision (or the horizon) */
	unsigned long long err_pairs;    /* when the errors test first left INCONCLUSIVE; 0 never */
	enum us_verdict err_verdict;
	unsigned failed;                 /* bit per criterion that failed at the rejection */
};

/* ---- PRNG: xoshiro256**, seeded with splitmix64 ---------------------------- */

struct rng {
	unsigned long long s[4];
	double spare;
	int has_spare;
};

static unsigned long long splitmix64(unsigned long long *x)
{
	unsigned long long z = (*x += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static void rng_seed(struct rng *r, unsigned long long seed)
{
	for (int i = 0; i < 4; i++)
		r->s[i] = splitmix64(&seed);
	r->has_spare = 0;
}

static unsigned long long rotl(unsigned long long x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static unsigned long long rng_next(struct rng *r)
{
	unsigned long long *s = r->s, res = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return res;
}

static double rng_unif(struct rng *r)   /* [0, 1) */
{
	return (double)(rng_next(r) >> 11) * 0x1.0p-53;
}

static double rng_norm(struct rng *r)   /* Box-Muller */
{
	double u, v, m;

	if (r->has_spare) {
		r->has_spare = 0;
		return r->spare;
	}
	u = 1 - rng_unif(r);
	v = rng_unif(r);
	m = sqrt(-2 * log(u));
	r->spare = m * sin(2 * M_PI * v);
	r->has_spare = 1;
	return m * cos(2 * M_PI * v);
}

/* ---- one run ---------------------------------------------------------------- */

static void one_run(const struct cfg *cf, const struct us_policy *pol, const struct scen *sc,
		    unsigned si, unsigned run, struct result *res)
{
	/* each pair a call of one transaction (this tool's model; the judge
	 * counts errors by call) */
	struct us_window *cum = calloc(1, sizeof(*cum)), *win = calloc(1, sizeof(*win));
	struct us_judge_state st = { 0 };
	struct us_judgement j;
	struct rng r;
	double pa = cf->pa, ps = cf->pa + sc->d_err;
	double both = cf->shared * (pa < ps ? pa : ps);
	double t_both = both, t_ao = t_both + (pa - both), t_so = t_ao + (ps - both);
	double mu_a = log(cf->lat_median_ms * 1e6), mu_s = mu_a + log(sc->lat_ratio);
	unsigned pairs = sc->low ? cf->low_pairs : cf->pairs;
	__u64 paired = 0;

	if (!cum || !win) {
		perror("calloc");
		exit(1);
	}
	rng_seed(&r, cf->seed ^ ((unsigned long long)si << 40) ^ (0x5851f42d4c957f2dull * (run + 1)));
	memset(res, 0, sizeof(*res));
	for (unsigned w = 1; w <= cf->horizon; w++) {
		memset(win, 0, sizeof(*win));
		for (unsigned i = 0; i < pairs; i++) {
			double u = rng_unif(&r);
			int a = US_O_2XX, s = US_O_2XX;

			if (u < t_both) {
				a = s = US_O_ERR;
			} else if (u < t_ao) {
				a = US_O_ERR;
			} else if (u < t_so) {
				s = US_O_ERR;
			} else if (cf->other_diff > 0 && rng_unif(&r) < cf->other_diff) {
				s = US_O_4XX;
			}
			paired++;
			win->sim.out[a][s]++;
			win->sim.calls++;
			win->sim.calls_fail_active += a == US_O_ERR;
			win->sim.calls_fail_shadow += s == US_O_ERR;
			win->sim.calls_fail_both += a == US_O_ERR && s == US_O_ERR;
			win->sim.code_same += a == s;
			win->sim.lat_active[us_lat_bucket((__u64)exp(mu_a + cf->lat_sigma * rng_norm(&r)))]++;
			win->sim.lat_shadow[us_lat_bucket((__u64)exp(mu_s + cf->lat_sigma * rng_norm(&r)))]++;
		}
		win->sent = win->answered = pairs;
		win->seconds = cf->window_s;
		win->sim_seconds = w * cf->window_s;
		us_window_add(cum, win);
		if (us_judge(pol, cum, win, &st, &j)) {
			fprintf(stderr, "us_judge: -EINVAL: %s\n", j.summary);
			exit(1);
		}
		if (!res->err_pairs && j.c[US_C_ERRORS].verdict != US_V_INCONCLUSIVE) {
			res->err_pairs = paired;
			res->err_verdict = j.c[US_C_ERRORS].verdict;
		}
		if (res->decision == US_D_NONE) {
			res->pairs = paired;
			if (j.decision != US_D_NONE) {
				res->decision = j.decision;
				for (int c = 0; c < US_JUDGE_CRITERIA; c++)
					if (j.c[c].verdict == US_V_FAIL)
						res->failed |= 1u << c;
			}
		}
		/* after the decision, run on only until the errors test has decided
		 * too, to measure that test on its own */
		if (res->decision != US_D_NONE && res->err_pairs)
			break;
	}
	free(cum);
	free(win);
}

struct job {
	const struct cfg *cf;
	const struct us_policy *pol;
	struct result *res[NSCEN];
	unsigned next;              /* next (scenario, run) index, shared */
	pthread_mutex_t mu;
};

static void *worker(void *arg)
{
	struct job *jb = arg;
	unsigned total = (unsigned)NSCEN * jb->cf->runs;

	for (;;) {
		unsigned k;

		pthread_mutex_lock(&jb->mu);
		k = jb->next;
		jb->next += 16;
		pthread_mutex_unlock(&jb->mu);
		if (k >= total)
			return NULL;
		for (unsigned e = k; e < k + 16 && e < total; e++) {
			unsigned si = e / jb->cf->runs, run = e % jb->cf->runs;

			one_run(jb->cf, jb->pol, &scens[si], si, run, &jb->res[si][run]);
		}
	}
}

/* ---- statistics --------------------------------------------------------------- */

static int cmp_ull(const void *a, const void *b)
{
	unsigned long long x = *(const unsigned long long *)a, y = *(const unsigned long long *)b;

	return x < y ? -1 : x > y;
}

/* The q-quantile of the values v[0..n-1] where undecided runs count as
 * infinite (ULLONG_MAX); returns ULLONG_MAX when it falls among them. */
static unsigned long long quant(unsigned long long *v, unsigned n, double q)
{
	size_t i;

	if (!n)
		return ~0ull;
	qsort(v, n, sizeof(*v), cmp_ull);
	i = (size_t)ceil(q * n) - 1;
	if (i >= n)
		i = n - 1;
	return v[i];
}

static void fmt_n(char *b, size_t len, unsigned long long v)
{
	if (v == ~0ull)
		snprintf(b, len, "> horizon");
	else
		snprintf(b, len, "%llu", v);
}

/*
 * Fixed-size one-shot tests with the same error rates: at d = delta (worse by
 * the effect) the version must be refused with probability >= 1 - alpha, at
 * d = 0 (equal) promoted with probability >= 1 - beta.  One-sided normal
 * approximations, no continuity correction:
 *  - two proportions, independent samples, n per side (Fleiss, Levin and
 *    Paik 2003, Statistical Methods for Rates and Proportions, 3rd ed., ch. 4):
 *        n = (z_b sqrt(2 pbar qbar) + z_a sqrt(p1 q1 + p2 q2))^2 / delta^2
 *  - McNemar, n pairs, psi = share of discordant pairs under the worse
 *    version (Connor 1987, "Sample size for testing differences in
 *    proportions for the paired-sample design", Biometrics 43(1)):
 *        n = (z_b sqrt(psi) + z_a sqrt(psi - delta^2))^2 / delta^2
 *  - McNemar with the discordance known under each hypothesis (an oracle:
 *    psi0 at d = 0, psi1 at d = delta; smaller than any real test needs):
 *        n = (z_b sqrt(psi0) + z_a sqrt(psi1 - delta^2))^2 / delta^2
 */
static void fixed_n(const struct cfg *cf, const struct us_policy *pol, double delta, double out[3])
{
	double za = us_norm_ppf(1 - pol->alpha), zb = us_norm_ppf(1 - pol->beta);
	double p1 = cf->pa, p2 = p1 + delta, pbar = (p1 + p2) / 2, both = cf->shared * p1;
	double psi0 = 2 * (p1 - both), psi1 = (p1 - both) + (p2 - both);

	out[0] = ceil(pow((zb * sqrt(2 * pbar * (1 - pbar)) +
			   za * sqrt(p1 * (1 - p1) + p2 * (1 - p2))) / delta, 2));
	out[1] = ceil(pow((zb * sqrt(psi1) + za * sqrt(psi1 - delta * delta)) / delta, 2));
	out[2] = ceil(pow((zb * sqrt(psi0) + za * sqrt(psi1 - delta * delta)) / delta, 2));
}

static void usage(const char *p)
{
	fprintf(stderr,
		"usage: %s [--quick] [--runs N] [--pairs N] [--low-pairs N] [--horizon W]\n"
		"          [--seed S] [--threads T] [--active-err P] [--shared F] [--other-diff P]\n"
		"          [--window-s S] [--lat-median-ms M] [--lat-sigma S]\n"
		"defaults: --runs 4000 (--quick: 400) --pairs 400 --low-pairs 20 --horizon 200\n"
		"          --seed 1 --threads 2 --active-err 0.002 --shared 0.5 --other-diff 0\n"
		"          --window-s 5 --lat-median-ms 20 --lat-sigma 0.5\n", p);
	exit(2);
}

int main(int argc, char **argv)
{
	struct cfg cf = {
		.runs = 4000, .pairs = 400, .low_pairs = 20, .horizon = 200, .threads = 2,
		.seed = 1, .pa = 0.002, .shared = 0.5, .other_diff = 0, .window_s = 5,
		.lat_median_ms = 20, .lat_sigma = 0.5,
	};
	struct us_policy pol;
	struct job jb = { .cf = &cf, .pol = &pol, .mu = PTHREAD_MUTEX_INITIALIZER };
	pthread_t th[64];
	struct timespec t0, t1;
	double secs, fx05[3], fx1[3];
	int quick = 0, runs_set = 0, all_met = 1;
	double med_err[NSCEN], med_dec[NSCEN], p_prom[NSCEN], p_rej[NSCEN];
	double rej_by[NSCEN][2];    /* share rejected within 5,000 and 20,000 pairs */

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "--quick")) { quick = 1; continue; }
		if (!v)
			usage(argv[0]);
		if (!strcmp(a, "--runs")) { cf.runs = (unsigned)strtoul(v, NULL, 0); runs_set = 1; }
		else if (!strcmp(a, "--pairs")) cf.pairs = (unsigned)strtoul(v, NULL, 0);
		else if (!strcmp(a, "--low-pairs")) cf.low_pairs = (unsigned)strtoul(v, NULL, 0);
		else if (!strcmp(a, "--horizon")) cf.horizon = (unsigned)strtoul(v, NULL, 0);
		else if (!strcmp(a, "--seed")) cf.seed = strtoull(v, NULL, 0);
		else if (!strcmp(a, "--threads")) cf.threads = (unsigned)strtoul(v, NULL, 0);
		else if (!strcmp(a, "--active-err")) cf.pa = strtod(v, NULL);
		else if (!strcmp(a, "--shared")) cf.shared = strtod(v, NULL);
		else if (!strcmp(a, "--other-diff")) cf.other_diff = strtod(v, NULL);
		else if (!strcmp(a, "--window-s")) cf.window_s = strtod(v, NULL);
		else if (!strcmp(a, "--lat-median-ms")) cf.lat_median_ms = strtod(v, NULL);
		else if (!strcmp(a, "--lat-sigma")) cf.lat_sigma = strtod(v, NULL);
		else usage(argv[0]);
		i++;
	}
	if (quick && !runs_set)
		cf.runs = 400;
	if (!cf.runs || !cf.pairs || !cf.low_pairs || !cf.horizon || !cf.threads || cf.threads > 64 ||
	    !(cf.pa > 0 && cf.pa + 0.01 < 1) || !(cf.shared >= 0 && cf.shared <= 1) ||
	    !(cf.other_diff >= 0 && cf.other_diff < 1) || !(cf.window_s > 0))
		usage(argv[0]);
	us_policy_default(&pol);

	for (unsigned s = 0; s < NSCEN; s++) {
		jb.res[s] = calloc(cf.runs, sizeof(struct result));
		if (!jb.res[s]) {
			perror("calloc");
			return 1;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (unsigned t = 0; t < cf.threads; t++)
		if (pthread_create(&th[t], NULL, worker, &jb)) {
			perror("pthread_create");
			return 1;
		}
	for (unsigned t = 0; t < cf.threads; t++)
		pthread_join(th[t], NULL);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;

	printf("# understudy judge evaluation\n\n");
	printf("Command: `build/judge_eval%s --runs %u --pairs %u --low-pairs %u --horizon %u --seed %llu "
	       "--active-err %g --shared %g --other-diff %g --window-s %g --lat-median-ms %g "
	       "--lat-sigma %g`"
	       " (`make judge-eval` runs the defaults)\n\n",
	       quick ? " --quick" : "", cf.runs, cf.pairs, cf.low_pairs, cf.horizon, cf.seed,
	       cf.pa, cf.shared, cf.other_diff, cf.window_s, cf.lat_median_ms, cf.lat_sigma);
	printf("Default policy: evidence >= %llu pairs and %.0f s, class differences <= %.2f %%, "
	       "errors <= +%.2f pp, latency p50/p99 <= %.2fx, %u windows, alpha %.2f, beta %.2f. "
	       "Active errors %.2f %% (%.0f %% of the smaller error share shared by both sides), "
	       "%g s windows, latency lognormal median %g ms sigma %g; %u runs per scenario, "
	       "horizon %u windows.\n\n",
	       (unsigned long long)pol.min_paired, pol.min_sim_seconds, 100 * pol.max_class_diff,
	       100 * pol.max_error_increase, pol.max_latency_ratio, pol.windows, pol.alpha, pol.beta,
	       100 * cf.pa, 100 * cf.shared, cf.window_s, cf.lat_median_ms, cf.lat_sigma,
	       cf.runs, cf.horizon);
	printf("| scenario | pairs/window | runs | promoted | rejected | undecided after %u windows "
	       "| median pairs to a decision | 99th pct pairs to a decision "
	       "| errors test: median pairs to its verdict (pass/fail) | rejections by criterion |\n",
	       cf.horizon);
	printf("|---|---:|---:|---:|---:|---:|---:|---:|---|---|\n");

	for (unsigned s = 0; s < NSCEN; s++) {
		unsigned long long *dec = calloc(cf.runs, sizeof(*dec)), *ev = calloc(cf.runs, sizeof(*ev));
		unsigned prom = 0, rej = 0, und = 0, n_ev = 0, ev_pass = 0, ev_fail = 0, within[2] = { 0, 0 };
		unsigned by[US_JUDGE_CRITERIA] = { 0 };
		char m1[32], m2[32], m3[32], byc[160] = "-";
		size_t used = 0;

		if (!dec || !ev) {
			perror("calloc");
			return 1;
		}
		for (unsigned r = 0; r < cf.runs; r++) {
			const struct result *x = &jb.res[s][r];

			prom += x->decision == US_D_PROMOTE;
			rej += x->decision == US_D_REJECT;
			und += x->decision == US_D_NONE;
			dec[r] = x->decision == US_D_NONE ? ~0ull : x->pairs;
			for (int c = 0; c < US_JUDGE_CRITERIA; c++)
				by[c] += (x->failed >> c) & 1;
			if (x->decision == US_D_REJECT) {
				within[0] += x->pairs <= 5000;
				within[1] += x->pairs <= 20000;
			}
			ev[n_ev++] = x->err_pairs ? x->err_pairs : ~0ull;
			ev_pass += x->err_pairs && x->err_verdict == US_V_PASS;
			ev_fail += x->err_pairs && x->err_verdict == US_V_FAIL;
		}
		p_prom[s] = (double)prom / cf.runs;
		p_rej[s] = (double)rej / cf.runs;
		rej_by[s][0] = (double)within[0] / cf.runs;
		rej_by[s][1] = (double)within[1] / cf.runs;
		med_dec[s] = (double)quant(dec, cf.runs, 0.5);
		fmt_n(m1, sizeof(m1), quant(dec, cf.runs, 0.5));
		fmt_n(m2, sizeof(m2), quant(dec, cf.runs, 0.99));
		med_err[s] = (double)quant(ev, n_ev, 0.5);
		fmt_n(m3, sizeof(m3), quant(ev, n_ev, 0.5));
		for (int c = 0; c < US_JUDGE_CRITERIA; c++)
			if (by[c] && used < sizeof(byc))
				used += (size_t)snprintf(byc + used, sizeof(byc) - used, "%s%s %u",
							 used ? ", " : "", crit_names[c], by[c]);
		printf("| %s | %u | %u | %.2f %% | %.2f %% | %.2f %% | %s | %s | %s (%.1f %% / %.1f %%) | %s |\n",
		       scens[s].name, scens[s].low ? cf.low_pairs : cf.pairs, cf.runs,
		       100.0 * prom / cf.runs, 100.0 * rej / cf.runs, 100.0 * und / cf.runs,
		       m1, m2, m3, 100.0 * ev_pass / cf.runs, 100.0 * ev_fail / cf.runs, byc);
		free(dec);
		free(ev);
	}

	fixed_n(&cf, &pol, 0.005, fx05);
	fixed_n(&cf, &pol, 0.01, fx1);
	printf("\nFixed-size one-shot tests with the same error rates (alpha %.2f against promoting "
	       "a version worse by the effect, beta %.2f against rejecting an equal one), "
	       "active errors %.2f %%, one-sided normal approximations:\n\n",
	       pol.alpha, pol.beta, 100 * cf.pa);
	printf("| effect | two proportions, transactions per side (Fleiss) | McNemar, pairs (Connor 1987) "
	       "| McNemar knowing the discordance, pairs (oracle) |\n");
	printf("|---|---:|---:|---:|\n");
	printf("| +0.5 pp (the policy's margin) | %.0f | %.0f | %.0f |\n", fx05[0], fx05[1], fx05[2]);
	printf("| +1 pp | %.0f | %.0f | %.0f |\n", fx1[0], fx1[1], fx1[2]);
	printf("\nThe sequential judge has the +0.5 pp design's guarantees whatever the true effect; "
	       "its errors test's median sample size is %.0f (equal), %.0f (+0.5 pp), %.0f (+1 pp) pairs: "
	       "%.0f %%, %.0f %%, %.0f %% of the McNemar test's %.0f.\n",
	       med_err[0], med_err[2], med_err[3], 100 * med_err[0] / fx05[1],
	       100 * med_err[2] / fx05[1], 100 * med_err[3] / fx05[1], fx05[1]);

	printf("\nTargets:\n\n");
#define TARGET(ok, ...) do { \
		int ok_ = (ok); \
		all_met &= ok_; \
		printf("- %s: ", ok_ ? "met" : "NOT MET"); \
		printf(__VA_ARGS__); \
		printf("\n"); \
	} while (0)
	TARGET(p_rej[0] <= 0.01, "equal version falsely rejected %.2f %% <= 1 %%", 100 * p_rej[0]);
	TARGET(p_prom[3] <= 0.01, "+1 pp falsely promoted %.2f %% <= 1 %%", 100 * p_prom[3]);
	TARGET(rej_by[3][0] >= 0.99,
	       "+1 pp rejected within 5,000 paired transactions in %.2f %% >= 99 %% of runs",
	       100 * rej_by[3][0]);
	TARGET(rej_by[2][1] >= 0.99,
	       "+0.5 pp rejected within 20,000 paired transactions in %.2f %% >= 99 %% of runs",
	       100 * rej_by[2][1]);
	TARGET(med_err[0] <= 0.5 * fx05[1] && med_err[2] <= 0.5 * fx05[1] && med_err[3] <= 0.5 * fx05[1],
	       "errors test's median sample size at most half the fixed McNemar test's %.0f pairs "
	       "(same guarantees, +0.5 pp margin): equal %.0f, +0.5 pp %.0f, +1 pp %.0f",
	       fx05[1], med_err[0], med_err[2], med_err[3]);
	printf("\nThe judge's own median (column 'median pairs to a decision') also includes the "
	       "evidence floor (%llu pairs and %.0f s = %.0f pairs at %u pairs per window) and %u "
	       "consecutive passing windows; for the equal version that floor and the agreement test "
	       "(%.2f %% of pairs differ in class against a %.2f %% limit), not the errors test, "
	       "set it (%.0f pairs).\n", (unsigned long long)pol.min_paired, pol.min_sim_seconds,
	       ceil(pol.min_sim_seconds / cf.window_s) * cf.pairs, cf.pairs, pol.windows,
	       100 * (2 * cf.pa * (1 - cf.shared) + cf.other_diff), 100 * pol.max_class_diff, med_dec[0]);
	printf("\nAll targets %s. %u judgement runs in %.1f s on %u threads.\n",
	       all_met ? "met" : "NOT met", (unsigned)NSCEN * cf.runs, secs, cf.threads);
	for (unsigned s = 0; s < NSCEN; s++)
		free(jb.res[s]);
	return 0;
}
