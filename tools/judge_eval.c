// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * judge_eval: how good is the judge?  Simulates simulation machines window
 * by window, as the daemon builds its windows (userspace/evidence.h), feeds
 * them to the real us_judge through its interface only (judge.h: cum, win,
 * a zeroed state), stops at the first PROMOTE or REJECT, and prints per
 * scenario how often the judge promoted, rejected or stayed undecided, its
 * real decision times and pairs, a fixed-size test's pairs for the same
 * alpha, beta and effect, and whether the scenario's target was met.
 * `make judge-eval` runs the default mode; tests/test_judge_eval.sh runs
 * --quick.  Exit status 1 when a target is missed, except targets the
 * table marks impossible in principle (the arithmetic is printed).
 *
 * Model of one 5-s window of one simulation machine:
 *  - calls: Poisson(rate x mirror share x 5 s), each starting at a uniform
 *    time in the window (none in a quiet period);
 *  - a call is busy (the callee's answer, the same on every machine) with
 *    probability 3 %: one transaction, 486 from every side; otherwise an
 *    INVITE, a BYE after an exponential hold time (mean 60 s, so in a later
 *    window, as in the daemon's), and in 10 % of calls a re-INVITE between
 *    them (2.07 transactions a call); calls up when a quiet period begins
 *    end in it;
 *  - each side (active, simulation, control) errs (500) per transaction
 *    with its own probability, independently, or, "clustered", per call:
 *    a failing call fails all its transactions; an outage makes a share of
 *    transactions fail with 503 on every side at once (the same calls);
 *  - the simulation's differences: class changes for the worse (404 where
 *    the active answered 2xx), harmless ones (the active 487, the
 *    simulation 200: CANCEL races), exact-code changes inside a class
 *    (200 -> 202, 486 -> 480), silence (a dead machine from a time on, or
 *    a share of transactions never answered);
 *  - latency: lognormal, active median 20 ms, sigma 0.5 (p99 = 3.2 x the
 *    median); the simulation's median times a ratio, and optionally a tail
 *    that grows from the 95th percentile to reach a multiple at the 99th
 *    (p50 unchanged); drawn per side, per pair both answered, straight
 *    into the data plane's buckets (inverse CDF over us_lat_bucket's
 *    boundaries, exact for the bucketed histogram);
 *  - pairs as evidence.h counts them: a pair closes when both answered, or
 *    when the simulation stays silent past the deadline after the active's
 *    answer, max(due_floor, due_multiple x the active latency) (= due_floor:
 *    the active answers within a second far beyond its p99.99), as NONE;
 *    a deadline past the window's end closes it in the next window.  calls,
 *    calls_fail_* count a call once per column, in the window its first
 *    qualifying pair closes.  Exact codes: code_same for equal codes among
 *    answered pairs, every differing (active, shadow) pair into codes[]
 *    (0: unanswered) with us_codes_add.
 * A promotion is "on stale evidence" when one of the last `windows` windows
 * brought fewer than min_window_pairs new pairs (issue 11, item 1).  A dying
 * machine's promotion counts against the judge only in a window that ends
 * after the death (before it, the machine was alive and equal); the death
 * comes at a fixed time, or 2 s after the judge's streak reached 1 or
 * windows - 1 (the last window before the promoting one holds 3 s of silence).
 * --records writes run 0 of each scenario as window records (docs/replay.md,
 * each window checked by the record parser), with the judgement made here:
 * `understudyctl replay` must reach the same verdicts.
 * Each run has its own seed (xoshiro256** from splitmix64 of seed,
 * scenario and run), so results do not depend on the number of threads.
 */
#include <errno.h>
#include <stddef.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <json-c/json.h>

#include "judge.h"
#include "wrecord.h"
#include "config.h"

#define WIN_S       5.0      /* window length, the daemon's default */
#define P_BUSY      0.03     /* calls the callee refuses (486 on every machine) */
#define P_REINVITE  0.10     /* calls with a re-INVITE */
#define TXN_PER_CALL ((1 - P_BUSY) * (2 + P_REINVITE) + P_BUSY)
#define RECORD_SINCE 1.7e9   /* wall clock at entering simulation, for the records */
#define DIES_IN_STREAK (-1.0)
#define HOLD_MEAN_S 60.0     /* mean call hold time (exponential): INVITE to BYE */
#define LAT_MED_NS  20e6     /* active median latency */
#define LAT_SIGMA   0.5
#define Z95         1.6448536269514722
#define Z99         2.3263478740408408

/* ---- scenarios ------------------------------------------------------------ */

enum target {
	T_FR,          /* a good version: rejected <= 1 % */
	T_GOOD,        /* a good version: rejected <= 1 %, promoted >= 99 % */
	T_HEADLINE,    /* T_FR and median time to promotion <= 120 s */
	T_BAD,         /* a worse version: promoted <= 1 %, median pairs to reject <= 0.5 x fixed */
	T_DECIDE,      /* decided (either way) within decide_after in >= 99 % */
	T_DEAD,        /* promoted after its death in no run at all, rejected >= 99 % */
	T_QUIET,       /* no promotion on stale evidence in any run, and T_GOOD */
};

/* which fixed-size test the scenario's effect is compared with */
enum effect { E_NONE, E_ERR, E_CLASS, E_CODE, E_P50, E_P99 };

struct scen {
	const char *cls, *name;
	enum target target;
	double rate, mirror;         /* calls/s at the service, share mirrored to the machine */
	double pa, ps, pc;           /* error share per transaction: active, simulation, control */
	int clustered;               /* errors per call: a failing call fails all it carries */
	double out_from, out_for, out_p;   /* outage on every side, same transactions */
	double worse;                /* simulation 404 where the active answered 2xx */
	double harmless;             /* the active 487, the simulation 200 */
	double code;                 /* exact code changed inside the class (200->202, 486->480) */
	double lat_ratio, tail;      /* simulation latency: median ratio; p99 multiple (tail) */
	double die_at;               /* the simulation answers nothing from then on (0: never;
	                              * DIES_IN_STREAK: 2 s after the first window the judge
	                              * counted towards its streak) */
	double answers;              /* share of transactions it answers at all (1) */
	int die_streak;              /* DIES_IN_STREAK: the streak reached (0: 1; -1: windows - 1,
	                              * the window before the one that would promote) */
	double quiet_from, quiet_for;   /* no mirrored calls */
	int control;                 /* a control machine (a v1 like the active) */
	int undecided_reject;        /* policy: on_undecided reject (default hold) */
	enum effect effect;
	double eff;                  /* the effect, for the fixed-size test */
};

#define EQ(b, r, m) { "equal", "equal, " #b " % errors, " #r " calls/s, " #m " % mirrored", T_FR, \
	r, m / 100.0, b / 100.0, b / 100.0, 0, .lat_ratio = 1, .tail = 1, .answers = 1 }
#define BASE .rate = 100, .mirror = 0.2, .pa = 0.002, .ps = 0.002, .lat_ratio = 1, .tail = 1, \
	.answers = 1

/* BASE sets the operating point; a scenario overrides what it changes */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Woverride-init"
static const struct scen scens[] = {
	{ "equal", "headline: equal, 0.2 % errors, 100 calls/s, 20 % mirrored", T_HEADLINE, BASE },
	EQ(0, 10, 10), EQ(0, 10, 20), EQ(0, 10, 100),
	EQ(0, 100, 10), EQ(0, 100, 20), EQ(0, 100, 100),
	EQ(0, 2000, 10), EQ(0, 2000, 20), EQ(0, 2000, 100),
	EQ(0.2, 10, 10), EQ(0.2, 10, 20), EQ(0.2, 10, 100),
	EQ(0.2, 100, 10), EQ(0.2, 100, 100),
	EQ(0.2, 2000, 10), EQ(0.2, 2000, 20), EQ(0.2, 2000, 100),
	EQ(1, 10, 10), EQ(1, 10, 20), EQ(1, 10, 100),
	EQ(1, 100, 10), EQ(1, 100, 20), EQ(1, 100, 100),
	EQ(1, 2000, 10), EQ(1, 2000, 20), EQ(1, 2000, 100),
	EQ(5, 10, 10), EQ(5, 10, 20), EQ(5, 10, 100),
	EQ(5, 100, 10), EQ(5, 100, 20), EQ(5, 100, 100),
	EQ(5, 2000, 10), EQ(5, 2000, 20), EQ(5, 2000, 100),
	{ "outage", "equal, 60 s at 30 % errors on both from 30 s", T_FR, BASE,
	  .out_from = 30, .out_for = 60, .out_p = 0.3 },
	{ "outage", "equal, 60 s at 30 % errors on both, 2000 calls/s", T_FR, BASE, .rate = 2000,
	  .out_from = 30, .out_for = 60, .out_p = 0.3 },
	{ "clustered", "equal, 1 % of calls fail whole", T_FR, BASE, .pa = 0.01, .ps = 0.01,
	  .clustered = 1 },
	{ "clustered", "equal, 5 % of calls fail whole, 2000 calls/s", T_FR, BASE, .rate = 2000,
	  .pa = 0.05, .ps = 0.05, .clustered = 1 },
	{ "improvement", "fixes 500s: active 1 %, simulation 0.2 %", T_GOOD, BASE, .pa = 0.01 },
	{ "improvement", "fixes 500s, 2000 calls/s", T_GOOD, BASE, .rate = 2000, .pa = 0.01 },
	{ "harmless", "0.3 % active 487 / simulation 200", T_GOOD, BASE, .harmless = 0.003 },
	{ "regression", "errors +1 pp", T_BAD, BASE, .ps = 0.012, .effect = E_ERR, .eff = 0.01 },
	{ "regression", "errors +2 pp", T_BAD, BASE, .ps = 0.022, .effect = E_ERR, .eff = 0.02 },
	{ "regression", "class worse 2 % (404 for 2xx)", T_BAD, BASE, .worse = 0.02,
	  .effect = E_CLASS, .eff = 0.02 },
	{ "regression", "exact codes 5 % (480 for 486, 202 for 200)", T_BAD, BASE, .code = 0.05,
	  .effect = E_CODE, .eff = 0.05 },
	{ "regression", "latency 1.5x p50", T_BAD, BASE, .lat_ratio = 1.5, .effect = E_P50,
	  .eff = 1.5 },
	{ "regression", "latency tail only: p99 2x, p50 same", T_BAD, BASE, .tail = 2,
	  .effect = E_P99, .eff = 2 },
	{ "latency", "latency 1.1x (promote)", T_GOOD, BASE, .lat_ratio = 1.1 },
	{ "latency", "latency 1.2x (the limit: decide)", T_DECIDE, BASE, .lat_ratio = 1.2 },
	{ "latency", "latency 1.2x, on_undecided reject", T_DECIDE, BASE, .lat_ratio = 1.2,
	  .undecided_reject = 1 },
	{ "latency", "latency 1.3x (reject)", T_BAD, BASE, .lat_ratio = 1.3, .effect = E_P50,
	  .eff = 1.3 },
	{ "latency", "latency 1.5x, 2000 calls/s", T_BAD, BASE, .rate = 2000, .lat_ratio = 1.5,
	  .effect = E_P50, .eff = 1.5 },
	{ "dying", "dies after 30 s", T_DEAD, BASE, .die_at = 30 },
	{ "dying", "dies after 90 s", T_DEAD, BASE, .die_at = 90 },
	{ "dying", "dies 2 s into its streak", T_DEAD, BASE, .die_at = DIES_IN_STREAK },
	{ "dying", "dies 2 s into its streak, 2000 calls/s", T_DEAD, BASE, .rate = 2000,
	  .die_at = DIES_IN_STREAK },
	{ "dying", "dies 2 s before its promoting window", T_DEAD, BASE, .die_at = DIES_IN_STREAK,
	  .die_streak = -1 },
	{ "dying", "dies 2 s before its promoting window, 2000 calls/s", T_DEAD, BASE, .rate = 2000,
	  .die_at = DIES_IN_STREAK, .die_streak = -1 },
	{ "dying", "partly silent: answers 70 %", T_DEAD, BASE, .answers = 0.7 },
	{ "quiet", "equal, no calls from 45 s for 5 min", T_QUIET, BASE, .quiet_from = 45,
	  .quiet_for = 300 },
	{ "control", "equal, 1 % errors on all three", T_GOOD, BASE, .pa = 0.01, .ps = 0.01,
	  .pc = 0.01, .control = 1 },
	{ "control", "equal, 5 % errors on all three", T_GOOD, BASE, .pa = 0.05, .ps = 0.05,
	  .pc = 0.05, .control = 1 },
	{ "control", "equal, 5 % errors on all three, 2000 calls/s", T_GOOD, BASE, .rate = 2000,
	  .pa = 0.05, .ps = 0.05, .pc = 0.05, .control = 1 },
	{ "control", "2 % more class differences than the control", T_BAD, BASE, .pa = 0.01,
	  .ps = 0.01, .pc = 0.01, .control = 1, .worse = 0.02, .effect = E_CLASS, .eff = 0.02 },
};
#pragma GCC diagnostic pop
#define NSCEN (sizeof(scens) / sizeof(scens[0]))

/* quick mode: the scenarios that are cheap and say most (indexes checked at
 * start-up by name, so a renamed scenario fails loudly) */
static const char *const quick_names[] = {
	"headline: equal, 0.2 % errors, 100 calls/s, 20 % mirrored",
	"equal, 1 % errors, 100 calls/s, 100 % mirrored",
	"equal, 60 s at 30 % errors on both from 30 s",
	"equal, 1 % of calls fail whole",
	"fixes 500s: active 1 %, simulation 0.2 %",
	"0.3 % active 487 / simulation 200",
	"errors +2 pp",
	"class worse 2 % (404 for 2xx)",
	"exact codes 5 % (480 for 486, 202 for 200)",
	"latency 1.5x p50",
	"dies 2 s into its streak",
	"partly silent: answers 70 %",
	"equal, no calls from 45 s for 5 min",
	"equal, 1 % errors on all three",
	"2 % more class differences than the control",
	"dies 2 s into its streak, 2000 calls/s",
	"dies 2 s before its promoting window, 2000 calls/s",
	"latency 1.2x (the limit: decide)",
};
#define NQUICK (sizeof(quick_names) / sizeof(quick_names[0]))

/* ---- PRNG: xoshiro256**, seeded with splitmix64 ------------------------------ */

struct rng {
	unsigned long long s[4];
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

static double unif(struct rng *r)   /* [0, 1) */
{
	return (double)(rng_next(r) >> 11) * 0x1.0p-53;
}

/* Poisson: multiplication for small means, else PTRS (Hoermann 1993, "The
 * transformed rejection method for generating Poisson random variables",
 * Insurance: Mathematics and Economics 12(1)), as numpy draws it. */
static unsigned long poisson(struct rng *r, double lam)
{
	if (lam <= 0)
		return 0;
	if (lam < 10) {
		double l = exp(-lam), p = 1;
		unsigned long k = 0;

		for (;;) {
			p *= unif(r);
			if (p <= l)
				return k;
			k++;
		}
	}
	double slam = sqrt(lam), loglam = log(lam), b = 0.931 + 2.53 * slam;
	double a = -0.059 + 0.02483 * b, invalpha = 1.1239 + 1.1328 / (b - 3.4);
	double vr = 0.9277 - 3.6224 / (b - 2);

	for (;;) {
		double u = unif(r) - 0.5, v = unif(r), us = 0.5 - fabs(u);
		double k = floor((2 * a / us + b) * u + lam + 0.43);

		if (us >= 0.07 && v <= vr)
			return (unsigned long)k;
		if (k < 0 || (us < 0.013 && v > us))
			continue;
		if (log(v) + log(invalpha) - log(a / (us * us) + b) <=
		    -lam + k * loglam - lgamma(k + 1))
			return (unsigned long)k;
	}
}

/* ---- latency: bucket CDFs ---------------------------------------------------- */

#define GUIDE 1024
struct latdist {
	double cdf[US_LAT_BUCKETS];   /* P(latency in buckets 0..b) */
	__u16 guide[GUIDE];           /* the first bucket whose cdf exceeds i / GUIDE */
};

/* z such that the latency at standard normal z is x: ln L = mu + sigma z,
 * plus, beyond the 95th percentile, ln(tail) x (z - z95) / (z99 - z95), so
 * that the 99th percentile is tail times the lognormal's, the median not. */
static double lat_z(double x, double med, double tail)
{
	double y = log(x) - log(med), s1 = LAT_SIGMA * Z95;

	if (y <= s1 || tail == 1)
		return y / LAT_SIGMA;
	return Z95 + (y - s1) / (LAT_SIGMA + log(tail) / (Z99 - Z95));
}

static void lat_init(struct latdist *d, double med, double tail)
{
	__u32 b = 0;

	for (__u32 i = 0; i < US_LAT_BUCKETS; i++)
		d->cdf[i] = i + 1 < US_LAT_BUCKETS ?
			0.5 * erfc(-lat_z((double)us_lat_bucket_lo(i + 1), med, tail) / M_SQRT2) :
			1;
	for (unsigned g = 0; g < GUIDE; g++) {
		while (b < US_LAT_BUCKETS - 1 && d->cdf[b] <= (double)g / GUIDE)
			b++;
		d->guide[g] = (__u16)b;
	}
}

/* Inverse CDF with a guide table (Chen and Asau 1974): start at the first
 * bucket that can hold u, walk on; a step or two on average. */
static __u32 lat_draw(const struct latdist *d, struct rng *r)
{
	double u = unif(r);
	__u32 b = d->guide[(unsigned)(u * GUIDE)];

	while (b < US_LAT_BUCKETS - 1 && d->cdf[b] <= u)
		b++;
	return b;
}

/* ---- one run ------------------------------------------------------------------- */

struct prep {
	struct us_policy pol;         /* the default, with the scenario's changes */
	struct latdist act, sim;
	unsigned idx;
	int selected;
};

struct result {
	enum us_decision decision;
	double t;                     /* sim seconds at the decision (or the horizon) */
	unsigned long long pairs;     /* the simulation's pairs by then */
	double death;                 /* when the simulation died (0: it did not) */
	int stale;                    /* promoted though one of the last windows had fewer than
	                               * min_window_pairs new pairs */
	int stuck;                    /* reported stuck at some window */
};

/* Per call and per shadow machine: the window (absolute number) in which
 * the call was counted in each column, -1 while not yet. */
struct callmark {
	int pair, fa, fs, both;
};

struct call {                    /* 40 bytes: the events reach them at random */
	struct callmark ms, mc;       /* the simulation's columns, the control's */
	__u8 busy, fail_a, fail_s, fail_c;
	int pending;                  /* transactions still to come */
};

/* transactions to come: a ring of windows, each a list (call, time) */
#define RING 512                  /* windows: 42 min, beyond any call hold time drawn */
struct ev {
	double t;
	unsigned call;
};
struct evq {
	struct ev *v;
	size_t n, cap;
};

struct sim {
	const struct scen *sc;
	const struct prep *pr;
	const struct us_policy *pol;
	struct rng r;
	struct us_window *w[2];       /* this window, the next (pairs closing after its end) */
	unsigned long wn;             /* this window's number, from 1: [(wn - 1) 5 s, wn 5 s) */
	double death;                 /* it answers nothing from then on (0: it lives) */
	struct call *calls;
	unsigned ncalls, cap, *free_ids, nfree;
	struct evq ring[RING];
};

static __u64 *col(struct us_window *w, int ctl, size_t off)
{
	return (__u64 *)((char *)(ctl ? &w->control : &w->sim) + off);
}

/* Count the call in a column in window wi (this one or the next), unless it
 * already is in an earlier one; a count made in the next window moves back. */
static void first_in(struct sim *m, int *first, int wi, int ctl, size_t off)
{
	if (*first >= 0 && *first <= wi)
		return;
	if (*first >= 0)
		(*col(m->w[*first - (int)m->wn], ctl, off))--;
	*first = wi;
	(*col(m->w[wi - (int)m->wn], ctl, off))++;
}

static void mark(struct sim *m, struct callmark *c, int wi, int ctl, int fa, int fs)
{
	first_in(m, &c->pair, wi, ctl, offsetof(struct us_pairs, calls));
	if (fa)
		first_in(m, &c->fa, wi, ctl, offsetof(struct us_pairs, calls_fail_active));
	if (fs)
		first_in(m, &c->fs, wi, ctl, offsetof(struct us_pairs, calls_fail_shadow));
	if (c->fa >= 0 && c->fs >= 0)
		first_in(m, &c->both, c->fa > c->fs ? c->fa : c->fs, ctl,
			 offsetof(struct us_pairs, calls_fail_both));
}

static int silent(struct sim *m, double t)
{
	if (m->death > 0 && t >= m->death)
		return 1;
	return m->sc->answers < 1 && unif(&m->r) >= m->sc->answers;
}

/* One transaction of call c at time t (in this window). */
static void txn(struct sim *m, struct call *c, double t)
{
	const struct scen *sc = m->sc;
	struct rng *r = &m->r;
	__u16 base = c->busy ? 486 : 200, a = base, sm = base, ct = base;
	double s = t - (double)(m->wn - 1) * WIN_S;
	int wi = (int)m->wn;

	if (sc->out_p > 0 && t >= sc->out_from && t < sc->out_from + sc->out_for &&
	    unif(r) < sc->out_p) {
		a = sm = ct = 503;
	} else {
		if (sc->clustered ? c->fail_a : unif(r) < sc->pa)
			a = 500;
		if (sc->clustered ? c->fail_s : unif(r) < sc->ps)
			sm = 500;
		if (sc->control && (sc->clustered ? c->fail_c : unif(r) < sc->pc))
			ct = 500;
		if (sc->harmless > 0 && a == 200 && sm == 200 && unif(r) < sc->harmless)
			a = 487;
		if (sc->worse > 0 && sm == 200 && unif(r) < sc->worse)
			sm = 404;
		if (sc->code > 0 && sm == base && a == base && unif(r) < sc->code)
			sm = base == 200 ? 202 : 480;
	}
	m->w[0]->sent++;
	if (silent(m, t)) {
		/* closes unanswered at the deadline after the active's answer,
		 * max(due_floor, due_multiple x its latency) = due_floor here */
		sm = 0;
		wi += s + m->pol->due_floor >= WIN_S;
	} else {
		m->w[0]->answered++;
	}

	struct us_window *w = m->w[wi - (int)m->wn];
	__u32 oa = us_outcome(a), os = sm ? us_outcome(sm) : US_O_NONE;

	w->sim.out[oa][os]++;
	if (sm && a == sm)
		w->sim.code_same++;
	else
		us_codes_add(w->codes, &w->ncodes, a, sm, 1);
	if (sm) {
		w->sim.lat_active[lat_draw(&m->pr->act, r)]++;
		w->sim.lat_shadow[lat_draw(&m->pr->sim, r)]++;
	}
	mark(m, &c->ms, wi, 0, oa >= US_O_ERR, os >= US_O_ERR);
	if (sc->control) {
		__u32 oc = us_outcome(ct);

		m->w[0]->control.out[oa][oc]++;
		m->w[0]->control.code_same += a == ct;
		mark(m, &c->mc, (int)m->wn, 1, oa >= US_O_ERR, oc >= US_O_ERR);
	}
}

static void *grow(void *p, size_t *cap, size_t want, size_t size)
{
	if (want <= *cap)
		return p;
	*cap = want < 64 ? 64 : 2 * want;
	p = realloc(p, *cap * size);
	if (!p) {
		perror("realloc");
		exit(EXIT_FAILURE);
	}
	return p;
}

static void schedule(struct sim *m, unsigned id, double t)
{
	unsigned long w = (unsigned long)floor(t / WIN_S) + 1;
	struct evq *q;

	if (w >= m->wn + RING)     /* beyond the ring: e^-20 of the calls, dropped */
		return;
	q = &m->ring[w % RING];
	q->v = grow(q->v, &q->cap, q->n + 1, sizeof(*q->v));
	q->v[q->n++] = (struct ev){ t, id };
	m->calls[id].pending++;
}

/* A call starting at t: its INVITE now; a BYE after the hold time and
 * sometimes a re-INVITE in between, in later windows as they fall. */
static void new_call(struct sim *m, double t)
{
	const struct scen *sc = m->sc;
	struct rng *r = &m->r;
	unsigned id;
	struct call *c;

	if (m->nfree) {
		id = m->free_ids[--m->nfree];
	} else {
		size_t cap = m->cap;

		m->calls = grow(m->calls, &cap, m->ncalls + 1, sizeof(*m->calls));
		m->cap = (unsigned)cap;
		id = m->ncalls++;
	}
	c = &m->calls[id];
	*c = (struct call){ .ms = { -1, -1, -1, -1 }, .mc = { -1, -1, -1, -1 } };
	c->busy = unif(r) < P_BUSY;
	if (sc->clustered) {
		c->fail_a = unif(r) < sc->pa;
		c->fail_s = unif(r) < sc->ps;
		c->fail_c = sc->control && unif(r) < sc->pc;
	}
	txn(m, c, t);
	if (!c->busy) {
		double hold = -HOLD_MEAN_S * log(1 - unif(r));

		schedule(m, id, t + hold);
		if (unif(r) < P_REINVITE)
			schedule(m, id, t + unif(r) * hold);
	}
	if (!c->pending)
		m->free_ids[m->nfree++] = id;
}

static double horizon_s(const struct us_policy *pol, const struct scen *sc)
{
	/* decide_after plus two windows: a decision it forces must be there */
	double h = (pol->decide_after > 0 ? pol->decide_after : 1800) + 2 * WIN_S;

	return h > sc->quiet_from + sc->quiet_for + 600 ? h : sc->quiet_from + sc->quiet_for + 600;
}

/* One window as a record line (docs/replay.md), checked by the record
 * parser first: a window it refuses is the simulator's bug. */
static void record(FILE *f, const struct scen *sc, const struct prep *pr,
		   const struct us_window *w, const struct us_judgement *j)
{
	struct us_window *back = calloc(1, sizeof(*back));
	json_object *o = us_window_json(w), *o2;
	char machine[32], why[200];
	const char *a, *b;

	if (!back || !o) {
		perror("judge_eval: records");
		exit(EXIT_FAILURE);
	}
	if (us_window_parse(o, back, why, sizeof(why))) {
		fprintf(stderr, "judge_eval: \"%s\": a simulated window is not a valid record: "
			"%s\n", sc->name, why);
		exit(EXIT_FAILURE);
	}
	o2 = us_window_json(back);
	a = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	b = json_object_to_json_string_ext(o2, JSON_C_TO_STRING_PLAIN);
	if (strcmp(a, b)) {
		fprintf(stderr, "judge_eval: \"%s\": a window changes through its record\n",
			sc->name);
		exit(EXIT_FAILURE);
	}
	json_object_put(o);
	json_object_put(o2);
	snprintf(machine, sizeof(machine), "eval-%02u", pr->idx);
	o = us_wrecord_json(machine, "eval", "2", RECORD_SINCE, w, j);
	fprintf(f, "%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
	free(back);
}

/* The simulator's own invariants, on the sums (a window alone may hold a
 * call's failure but not its first pair): calls no more than pairs, every
 * failure column no more than calls, both no more than either, the control
 * likewise, nothing answered that was not sent.  A violation is a bug here. */
static void check_pairs(const struct scen *sc, const struct us_pairs *p, const char *who)
{
	__u64 n = 0;

	for (int a = 0; a < US_O_MAX; a++)
		for (int b = 0; b < US_O_MAX; b++)
			n += p->out[a][b];
	if (p->calls > n || p->calls_fail_active > p->calls || p->calls_fail_shadow > p->calls ||
	    p->calls_fail_both > p->calls_fail_active ||
	    p->calls_fail_both > p->calls_fail_shadow ||
	    p->code_same > n) {
		fprintf(stderr, "judge_eval: \"%s\": inconsistent %s counts: pairs %llu calls %llu "
			"failed %llu/%llu/%llu code_same %llu\n", sc->name, who,
			(unsigned long long)n, (unsigned long long)p->calls,
			(unsigned long long)p->calls_fail_active,
			(unsigned long long)p->calls_fail_shadow,
			(unsigned long long)p->calls_fail_both, (unsigned long long)p->code_same);
		exit(EXIT_FAILURE);
	}
}

static void check_counts(const struct scen *sc, const struct us_window *cum)
{
	check_pairs(sc, &cum->sim, "simulation");
	check_pairs(sc, &cum->control, "control");
	if (cum->answered > cum->sent) {
		fprintf(stderr, "judge_eval: \"%s\": answered %llu of %llu sent\n", sc->name,
			(unsigned long long)cum->answered, (unsigned long long)cum->sent);
		exit(EXIT_FAILURE);
	}
}

static void one_run(const struct us_policy *pol, const struct scen *sc, const struct prep *pr,
		    unsigned long long seed, unsigned run, struct result *res, FILE *rec)
{
	struct sim *m = calloc(1, sizeof(*m));
	struct us_window *cum = calloc(1, sizeof(*cum));
	struct us_judge_state *st = calloc(1, sizeof(*st));
	struct us_judgement *j = calloc(1, sizeof(*j));
	double h = horizon_s(pol, sc);
	__u64 fresh[64] = { 0 };          /* new pairs of the last windows, a ring */

	if (!m || !cum || !st || !j || pol->windows > 64) {
		perror("calloc");
		exit(EXIT_FAILURE);
	}
	m->sc = sc;
	m->pr = pr;
	m->pol = pol;
	m->w[0] = calloc(1, sizeof(struct us_window));
	m->w[1] = calloc(1, sizeof(struct us_window));
	if (!m->w[0] || !m->w[1]) {
		perror("calloc");
		exit(EXIT_FAILURE);
	}
	rng_seed(&m->r, seed ^ ((unsigned long long)(pr->idx + 1) << 40) ^
			(0x5851f42d4c957f2dull * (run + 1)));
	memset(res, 0, sizeof(*res));
	m->death = sc->die_at > 0 ? sc->die_at : 0;
	for (m->wn = 1;; m->wn++) {
		double t0 = (double)(m->wn - 1) * WIN_S, t1 = (double)m->wn * WIN_S, live = WIN_S;
		struct evq *q = &m->ring[m->wn % RING];
		struct us_window *cur = m->w[0];
		__u64 pairs = 0;

		/* no new calls in the quiet period (calls already up go on) */
		if (sc->quiet_for > 0) {
			double q0 = fmax(t0, sc->quiet_from);
			double q1 = fmin(t1, sc->quiet_from + sc->quiet_for);

			if (q1 > q0)
				live -= q1 - q0;
		}
		unsigned long n = poisson(&m->r, sc->rate * sc->mirror * live);
		size_t need = m->ncalls + n;

		/* free_ids never holds more than the calls there are */
		if (need > m->cap) {
			size_t cap = m->cap;

			m->calls = grow(m->calls, &cap, need, sizeof(*m->calls));
			m->cap = (unsigned)cap;
		}
		m->free_ids = realloc(m->free_ids, (m->cap + 1) * sizeof(*m->free_ids));
		if (!m->free_ids) {
			perror("realloc");
			exit(EXIT_FAILURE);
		}
		for (unsigned long i = 0; i < n; i++) {
			double s = unif(&m->r) * live;

			/* the live part of a partly quiet window is before or after it */
			if (live < WIN_S && t0 + s >= sc->quiet_from)
				s += WIN_S - live;
			new_call(m, t0 + s);
		}
		for (size_t i = 0; i < q->n; i++) {
			struct call *c = &m->calls[q->v[i].call];

			txn(m, c, q->v[i].t);
			if (!--c->pending)
				m->free_ids[m->nfree++] = q->v[i].call;
		}
		q->n = 0;

		cur->t = RECORD_SINCE + t1;
		cur->seconds = WIN_S;
		cur->sim_seconds = t1;
		cur->has_control = sc->control;
		us_window_add(cum, cur);
		cum->t = cur->t;
		cum->sim_seconds = t1;
		cum->has_control = sc->control;
		check_counts(sc, cum);
		if (us_judge(pol, cum, cur, st, j)) {
			fprintf(stderr, "judge_eval: us_judge refused window %lu of \"%s\"\n",
				m->wn, sc->name);
			exit(EXIT_FAILURE);
		}
		if (rec)
			record(rec, sc, pr, cur, j);
		for (int a = 0; a < US_O_MAX; a++)
			for (int b = 0; b < US_O_MAX; b++)
				pairs += cur->sim.out[a][b];
		fresh[m->wn % 64] = pairs;
		res->pairs += pairs;
		res->stuck |= j->stuck;
		res->t = t1;
		if (sc->die_at == DIES_IN_STREAK && !m->death && j->decision == US_D_NONE &&
		    j->streak >= (sc->die_streak < 0 ? pol->windows - 1 :
				  sc->die_streak ? (unsigned)sc->die_streak : 1))
			m->death = t1 + 2;
		res->death = m->death;
		if (j->decision != US_D_NONE) {
			res->decision = j->decision;
			if (j->decision == US_D_PROMOTE)
				for (unsigned k = 0; k < pol->windows && k < m->wn; k++) {
					__u64 f = fresh[(m->wn - k) % 64];

					res->stale |= f < pol->min_window_pairs;
				}
			break;
		}
		if (t1 >= h)
			break;
		/* the next window starts with the pairs closing late */
		m->w[0] = m->w[1];
		m->w[1] = cur;
		memset(cur, 0, sizeof(*cur));
	}
	for (unsigned i = 0; i < RING; i++)
		free(m->ring[i].v);
	free(m->calls);
	free(m->free_ids);
	free(m->w[0]);
	free(m->w[1]);
	free(m);
	free(cum);
	free(st);
	free(j);
}

/* ---- threads ----------------------------------------------------------------------- */

struct job {
	struct prep *pr;
	struct result *res[NSCEN];
	unsigned runs;
	unsigned long long seed;
	unsigned next;
	pthread_mutex_t mu;
};

static void *worker(void *arg)
{
	struct job *jb = arg;
	unsigned total = (unsigned)NSCEN * jb->runs;

	for (;;) {
		unsigned k;

		pthread_mutex_lock(&jb->mu);
		k = jb->next;
		jb->next += 4;
		pthread_mutex_unlock(&jb->mu);
		if (k >= total)
			return NULL;
		for (unsigned e = k; e < k + 4 && e < total; e++) {
			unsigned si = e % NSCEN, run = e / NSCEN;

			if (jb->pr[si].selected)
				one_run(&jb->pr[si].pol, &scens[si], &jb->pr[si], jb->seed, run,
					&jb->res[si][run], NULL);
		}
	}
}

/* ---- fixed-size tests ------------------------------------------------------------------ */

/*
 * Pairs a fixed-size one-shot test needs to tell the scenario's version
 * from one it must promote, with the judge's alpha (promoting the worse)
 * and beta (rejecting the good), one-sided normal approximations:
 *  - errors, effect d: McNemar on paired outcomes (Connor 1987, "Sample size
 *    for testing differences in proportions for the paired-sample design",
 *    Biometrics 43(1)): the good version is the equal one (d = 0), psi the
 *    discordant share under the worse one, pa + ps - 2 pa ps:
 *        n = (z_a sqrt(psi) + z_b sqrt(psi - d^2))^2 / d^2
 *    e.g. +1 pp at 0.2 %: psi = 0.014, n = (2.326 (0.1183 + 0.1179))^2 / 1e-4 = 3,018.
 *  - class changes for the worse, share w of the pairs, against the policy's
 *    tolerance (max_class_diff: what the judge may still promote): a paired
 *    test on a score per pair, its mean m and variance v from the model
 *    (class_moments): without a control machine X = +1 when the simulation
 *    alone is worse (errs or answers 404 where the active was fine), -1 when
 *    it alone is better (the active erred); with one X = D_sim - D_control,
 *    each D = 1 when that machine's class differs from the active's (the
 *    two are correlated through the active's errors). H0: w0 such that
 *    m(w0) = max_class_diff, H1: the scenario's w:
 *        n = (z_a sqrt(v(w0)) + z_b sqrt(v(w)))^2 / (m(w) - m(w0))^2
 *    e.g. 2 % at 0.2 % errors, no control: m = 0.0199, v = 0.0235; H0
 *    v = 0.0090: (2.326 (0.0947 + 0.1534))^2 / 0.01492^2 = 1,496; with a
 *    control, 1 % errors on all three: (2.326 (0.157 + 0.197))^2 /
 *    0.0146^2 = 3,176.
 *  - exact-code changes inside a class, share p1 against max_code_diff p0,
 *    one-sample binomial (no direction, no noise from the active):
 *        n = (z_a sqrt(p0 q0) + z_b sqrt(p1 q1))^2 / (p1 - p0)^2
 *    e.g. codes 5 % against 1 %: (2.326 (0.0995 + 0.2179))^2 / 0.0016 = 341.
 *  - latency quantile q, ratio R against the policy's max_latency_ratio L:
 *    the sample q-quantile of a lognormal has var(ln) = q (1 - q) sigma^2 /
 *    (n phi(z_q)^2) per side, two sides:
 *        n = (z_a + z_b)^2 2 q (1 - q) sigma^2 / (phi(z_q)^2 ln(R / L)^2)
 *    e.g. p50 1.5x: 21.65 x 2 x 0.25 x 0.25 / (0.1592 x 0.0498) = 341; for
 *    the tail-only version the density at p99 is the lognormal's divided by
 *    the tail's extra slope, (sigma + ln 2 / (z99 - z95)) / sigma = 3.03,
 *    which the variance takes squared on the slower side only.
 */
/* The class score's mean and variance per pair, the simulation answering
 * 404 for a share w of the 2xx it would give (see fixed_pairs). */
static void class_moments(const struct scen *sc, double w, double *m, double *v)
{
	double pa = sc->pa, ps = sc->ps, pc = sc->pc;
	double s_ok = ps + (1 - ps) * w;   /* it differs where the active is fine */

	if (!sc->control) {
		double pw = (1 - pa) * s_ok, pb = pa * (1 - ps);

		*m = pw - pb;
		*v = pw + pb - *m * *m;
		return;
	}
	double es = pa * (1 - ps) + (1 - pa) * s_ok, ec = pa * (1 - pc) + (1 - pa) * pc;
	double esc = pa * (1 - ps) * (1 - pc) + (1 - pa) * s_ok * pc;

	*m = es - ec;
	*v = es + ec - 2 * esc - *m * *m;
}

/*
 * For a version that must be promoted (no effect): the pairs a fixed-size
 * test of the agreement criterion needs to promote it, the same paired score
 * (class_moments) between the tolerance (H0, refused with alpha) and the
 * scenario's own mean (promoted with 1 - beta); at a high error share it is
 * this, not the evidence floor, that sets the time, e.g. 5 % errors on both
 * sides, no control: v = 2 x 0.05 x 0.95 = 0.095, n = (2.326 (sqrt(0.0950) +
 * sqrt(0.0950)))^2 / 0.005^2 = 82,000 pairs, 33 min at 100 calls/s and 20 %
 * mirrored.  NAN where the model has no such figure (outages, latency or
 * code changes decide it).
 */
static double fixed_promote(const struct us_policy *pol, const struct scen *sc)
{
	double za = us_norm_ppf(1 - pol->alpha), zb = us_norm_ppf(1 - pol->beta);
	double m0, v0, m1, v1, w0;

	if (sc->out_p > 0 || sc->lat_ratio != 1 || sc->tail != 1 || sc->code > 0 ||
	    sc->harmless > 0)
		return NAN;
	class_moments(sc, 0, &m1, &v1);
	w0 = fmax(0, (pol->max_class_diff - m1) / ((1 - sc->pa) * (1 - sc->ps)));
	class_moments(sc, w0, &m0, &v0);
	if (!(m0 > m1))
		return NAN;
	return ceil(pow(za * sqrt(v0) + zb * sqrt(v1), 2) / ((m0 - m1) * (m0 - m1)));
}

/* The share of fixed_promote's pairs a test with power 50 % needs (z_b = 0):
 * (z_a sqrt(v0))^2 / (z_a sqrt(v0) + z_b sqrt(v1))^2. */
static double half_power(const struct us_policy *pol, const struct scen *sc)
{
	double za = us_norm_ppf(1 - pol->alpha), zb = us_norm_ppf(1 - pol->beta);
	double m0, v0, m1, v1, w0;

	class_moments(sc, 0, &m1, &v1);
	w0 = fmax(0, (pol->max_class_diff - m1) / ((1 - sc->pa) * (1 - sc->ps)));
	class_moments(sc, w0, &m0, &v0);
	return pow(za * sqrt(v0), 2) / pow(za * sqrt(v0) + zb * sqrt(v1), 2);
}

static double fixed_pairs(const struct us_policy *pol, const struct scen *sc)
{
	double za = us_norm_ppf(1 - pol->alpha), zb = us_norm_ppf(1 - pol->beta);
	double d = sc->eff, psi, p0, p1, q, phi, s2, lr;

	switch (sc->effect) {
	case E_ERR:
		psi = sc->pa + sc->ps - 2 * sc->pa * sc->ps;
		return ceil(pow(za * sqrt(psi) + zb * sqrt(psi - d * d), 2) / (d * d));
	case E_CLASS: {
		double m0, v0, m1, v1, w0;

		class_moments(sc, 0, &m0, &v0);
		w0 = fmax(0, (pol->max_class_diff - m0) / ((1 - sc->pa) * (1 - sc->ps)));
		class_moments(sc, w0, &m0, &v0);
		class_moments(sc, sc->worse, &m1, &v1);
		return ceil(pow(za * sqrt(v0) + zb * sqrt(v1), 2) / ((m1 - m0) * (m1 - m0)));
	}
	case E_CODE:
		p0 = pol->max_code_diff;
		p1 = d;
		return ceil(pow(za * sqrt(p0 * (1 - p0)) + zb * sqrt(p1 * (1 - p1)), 2) /
			    ((p1 - p0) * (p1 - p0)));
	case E_P50:
	case E_P99:
		q = sc->effect == E_P50 ? 0.5 : 0.99;
		phi = exp(-0.5 * pow(us_norm_ppf(q), 2)) / sqrt(2 * M_PI);
		s2 = LAT_SIGMA * LAT_SIGMA;
		lr = log(d / pol->max_latency_ratio);
		if (sc->effect == E_P99) {
			double k = (LAT_SIGMA + log(sc->tail) / (Z99 - Z95)) / LAT_SIGMA;

			/* one side's variance k^2 times the other's */
			return ceil(pow(za + zb, 2) * q * (1 - q) * s2 * (1 + k * k) /
				    (phi * phi * lr * lr));
		}
		return ceil(pow(za + zb, 2) * 2 * q * (1 - q) * s2 / (phi * phi * lr * lr));
	default:
		return NAN;
	}
}

/* ---- statistics and targets -------------------------------------------------------------- */

/* P(X >= k), X ~ Binomial(n, p) */
static double binom_sf(unsigned k, unsigned n, double p)
{
	double s = 0;

	for (unsigned i = k; i <= n; i++)
		s += exp(lgamma(n + 1.0) - lgamma(i + 1.0) - lgamma(n - i + 1.0) + i * log(p) +
			 (n - i) * log1p(-p));
	return s > 1 ? 1 : s;
}

/* Is an observed k of n above a rate target?  Default mode: the observed
 * share itself; quick mode (few runs): only when surely above, P(X >= k)
 * < 0.001 under the target rate. */
static int above(unsigned k, unsigned n, double target, int quick)
{
	if (!quick)
		return (double)k / n > target + 1e-12;
	return binom_sf(k, n, target) < 0.001;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* median of v[0..n-1] where the runs not counted (m of them, infinite) are
 * part of the population of N; NAN when the median falls among them */
static double median_of(double *v, unsigned n, unsigned total)
{
	unsigned i = (total + 1) / 2;

	if (!total || i > n)
		return NAN;
	qsort(v, n, sizeof(*v), cmp_d);
	return v[i - 1];
}

struct row {
	unsigned prom, rej, und, stale, stuck;
	unsigned prom_dead, prom_alive;  /* dying: promoted after it died, or before */
	double med_t, med_pairs, fixed, ratio, win_pairs;
	char target[96], verdict[8], why[480], note[640];
	int pass, impossible;
	int slow;                 /* a speed target missed, the error rates met */
};

static void why_add(struct row *rw, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void why_add(struct row *rw, const char *fmt, ...)
{
	size_t n = strlen(rw->why);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(rw->why + n, sizeof(rw->why) - n, fmt, ap);
	va_end(ap);
}

#define NOTE(...) snprintf(rw->note + strlen(rw->note), sizeof(rw->note) - strlen(rw->note), \
			   __VA_ARGS__)

/* What the operating point allows at all, in figures: the steady pairs a
 * window brings against the fresh-evidence minimum, and the evidence floor. */
static void arithmetic(const struct us_policy *pol, const struct scen *sc, struct row *rw,
		       const double *since_death, unsigned ndead, unsigned runs)
{
	double pps = rw->win_pairs / WIN_S;
	double earliest = ceil(fmax(pol->min_sim_seconds, pol->min_paired / pps) / WIN_S) * WIN_S +
			  (pol->windows - 1) * WIN_S;

	if (sc->target != T_BAD && sc->target != T_DEAD) {
		if (rw->win_pairs < pol->min_window_pairs)
			NOTE("%g calls/s x %g x %.2f transactions = %.1f pairs a window, fewer "
			     "than "
			     "min_window_pairs %llu: no window can count, promotion is impossible "
			     "in principle (the target here is only not to reject); ", sc->rate,
			     sc->mirror, TXN_PER_CALL, rw->win_pairs,
			     (unsigned long long)pol->min_window_pairs);
		else
			NOTE("earliest promotion: the evidence floor max(%.0f s, %llu pairs / %.1f "
			     "pairs/s = %.0f s) then %u more windows = %.0f s; ",
			     pol->min_sim_seconds, (unsigned long long)pol->min_paired, pps,
			     pol->min_paired / pps, pol->windows - 1,
			     earliest);
	}
	if (sc->die_at != 0 && ndead) {
		double m = median_of((double *)since_death, ndead, runs);

		if (!isnan(m))
			NOTE("rejected a median %.0f s after it died; ", m);
	}
	if (sc->target == T_DECIDE)
		NOTE("policy on_undecided %s after decide_after %.0f s; ",
		     pol->on_undecided == US_UNDECIDED_REJECT ? "reject" : "hold",
		     pol->decide_after);
	if (rw->stale && sc->target != T_QUIET)
		NOTE("%u promotions on stale evidence; ", rw->stale);
}

static void evaluate(const struct us_policy *pol, const struct scen *sc, const struct result *res,
		     unsigned runs, int quick, struct row *rw)
{
	double *t = calloc(runs, sizeof(double)), *pairs = calloc(runs, sizeof(double));
	double *dead = calloc(runs, sizeof(double));
	unsigned ndead = 0;
	enum us_decision want = sc->target == T_BAD || sc->target == T_DEAD ? US_D_REJECT :
				US_D_PROMOTE;
	unsigned n = 0;
	double slack = quick ? 1.25 : 1;   /* quick: medians of few runs, some room */

	if (!t || !pairs || !dead) {
		perror("calloc");
		exit(EXIT_FAILURE);
	}
	memset(rw, 0, sizeof(*rw));
	for (unsigned i = 0; i < runs; i++) {
		const struct result *x = &res[i];

		rw->prom += x->decision == US_D_PROMOTE;
		rw->rej += x->decision == US_D_REJECT;
		rw->und += x->decision == US_D_NONE;
		rw->stale += x->stale;
		rw->stuck += x->stuck;
		if (x->death > 0 && x->decision == US_D_REJECT && x->t > x->death)
			dead[ndead++] = x->t - x->death;
		rw->prom_dead += x->decision == US_D_PROMOTE &&
				 (sc->answers < 1 || (x->death > 0 && x->t > x->death));
		rw->prom_alive += x->decision == US_D_PROMOTE && sc->die_at != 0 &&
				  !(x->death > 0 && x->t > x->death);
		if (sc->target == T_DECIDE ? x->decision != US_D_NONE : x->decision == want) {
			t[n] = x->t;
			pairs[n++] = (double)x->pairs;
		}
	}
	rw->med_t = median_of(t, n, runs);
	rw->med_pairs = median_of(pairs, n, runs);
	rw->win_pairs = sc->rate * sc->mirror * WIN_S * TXN_PER_CALL;
	rw->fixed = fixed_pairs(pol, sc);
	if (isnan(rw->fixed) && want == US_D_PROMOTE && sc->target != T_DECIDE) {
		double by = rw->win_pairs / WIN_S * (horizon_s(pol, sc) - 2 * WIN_S);

		rw->fixed = fixed_promote(pol, sc);
		if (!isnan(rw->fixed))
			NOTE("a fixed-size test needs %.0f pairs to promote it, %.0f s at %.1f "
			     "pairs/s%s; ", rw->fixed, rw->fixed / (rw->win_pairs / WIN_S),
			     rw->win_pairs / WIN_S, by < rw->fixed ?
			     ", more than decide_after allows" : "");
	}
	rw->ratio = rw->med_pairs / rw->fixed;
	rw->pass = 1;

#define MISS(...) do { \
		rw->pass = 0; \
		why_add(rw, __VA_ARGS__); \
	} while (0)
	/* a target on time or evidence (how soon), not on an error rate */
#define SLOW(...) do { \
		rw->slow = 1; \
		why_add(rw, __VA_ARGS__); \
	} while (0)
	switch (sc->target) {
	case T_FR:
	case T_GOOD:
	case T_HEADLINE:
	case T_QUIET:
		snprintf(rw->target, sizeof(rw->target), "rejected <= 1 %%%s%s",
			 sc->target == T_GOOD || sc->target == T_QUIET ? ", promoted >= 99 %" : "",
			 sc->target == T_HEADLINE ? ", median promotion <= 120 s" :
			 sc->target == T_QUIET ? ", none on stale evidence" : "");
		if (above(rw->rej, runs, 0.01, quick))
			MISS("rejected %u of %u; ", rw->rej, runs);
		/* Promoting in 99 % of runs by decide_after takes at least the pairs of
		 * the fixed-size test with beta 1 %: a sequential test stopped there is a
		 * test on those pairs, and none is more powerful than the fixed one
		 * (Neyman-Pearson) */
		if ((sc->target == T_GOOD || sc->target == T_QUIET) &&
		    above(runs - rw->prom, runs, 0.01, quick)) {
			double by = rw->win_pairs / WIN_S * (horizon_s(pol, sc) - 2 * WIN_S);

			if (rw->fixed > by) {
				rw->impossible = 1;
				why_add(rw, "promoted >= 99 %% is impossible in principle: the "
					"fixed test's %.0f pairs are more than decide_after's "
					"%.0f s bring (%.0f); ", rw->fixed,
					horizon_s(pol, sc) - 2 * WIN_S, by);
			} else {
				SLOW("not promoted in %u of %u; ", runs - rw->prom, runs);
			}
		}
		if (sc->target == T_HEADLINE && !(rw->med_t <= 120 * slack))
			SLOW("median time to promotion %.0f s; ", rw->med_t);
		if (sc->target == T_HEADLINE && !isnan(rw->fixed))
			/* promoting half the runs: the fixed test with beta 50 % (z_b = 0) */
			NOTE("promoting half the runs takes at least %.0f pairs (the fixed test "
			     "with beta 50 %%), %.0f s; ", rw->fixed * half_power(pol, sc),
			     rw->fixed * half_power(pol, sc) / (rw->win_pairs / WIN_S));
		if (sc->target == T_QUIET && rw->stale)
			MISS("promoted on stale evidence (a window of the last %u with fewer than "
			     "%llu new pairs) in %u runs; ", pol->windows,
			     (unsigned long long)pol->min_window_pairs, rw->stale);
		break;
	case T_BAD:
		snprintf(rw->target, sizeof(rw->target),
			 "promoted <= 1 %%, median pairs to reject <= 0.5x fixed");
		if (above(rw->prom, runs, 0.01, quick))
			MISS("promoted %u of %u; ", rw->prom, runs);
		if (!(rw->ratio <= 0.5 * slack)) {
			/* the judge decides once a window: it cannot reject on fewer pairs
			 * than one window brings */
			if (0.5 * rw->fixed < rw->win_pairs && rw->med_pairs <= 2 * rw->win_pairs) {
				rw->impossible = 1;
				why_add(rw, "impossible in principle: half the fixed test, %.0f "
					"pairs, is less than one %.0f-s window's %.0f (%g calls/s "
					"x %g x %.2f transactions); rejected within 2 windows; ",
					0.5 * rw->fixed, WIN_S, rw->win_pairs, sc->rate,
					sc->mirror, TXN_PER_CALL);
			} else {
				if (isnan(rw->med_pairs))
					SLOW("rejected in fewer than half the runs; ");
				else
					SLOW("median pairs to reject %.0f = %.2fx the fixed test's "
					     "%.0f; ", rw->med_pairs, rw->ratio, rw->fixed);
			}
		}
		break;
	case T_DECIDE:
		snprintf(rw->target, sizeof(rw->target),
			 "decided within decide_after (%.0f s) >= 99 %%", pol->decide_after);
		if (above(rw->und, runs, 0.01, quick))
			SLOW("undecided in %u of %u after %.0f s; ", rw->und, runs,
			     horizon_s(pol, sc));
		break;
	case T_DEAD:
		/* a promotion before the machine died is of a live, equal machine:
		 * reported, not a miss (the judge could not have known) */
		snprintf(rw->target, sizeof(rw->target),
			 "promoted dead in no run, rejected >= 99 %%");
		if (rw->prom_dead)
			MISS("promoted after it died in %u of %u; ", rw->prom_dead, runs);
		if (rw->prom_alive)
			NOTE("promoted before it died (alive) in %u of %u; ", rw->prom_alive, runs);
		if (above(runs - rw->rej - rw->prom_alive, runs, 0.01, quick))
			SLOW("not rejected in %u of %u; ", runs - rw->rej - rw->prom_alive, runs);
		break;
	}
	snprintf(rw->verdict, sizeof(rw->verdict), "%s",
		 !rw->pass ? "MISS" : rw->slow ? "SLOW" : rw->impossible ? "PASS*" : "PASS");
	arithmetic(pol, sc, rw, dead, ndead, runs);
	free(dead);
	free(t);
	free(pairs);
}

/* One line per class, for the README: its worst cases over its scenarios. */
static void by_class(const struct scen *sc, const struct prep *pr, const struct row *rows,
		     unsigned runs)
{
	printf("\nBy class (worst over its scenarios; good versions: the most rejected, "
	       "worse ones: the most promoted, dying ones: promoted after the death; "
	       "median decision times from the fastest to the slowest scenario):\n\n");
	printf("| class | scenarios | met (of which impossible in principle) | worst false "
	       "rejection | worst false promotion | median decision (s) |\n");
	printf("|---|---:|---:|---:|---:|---|\n");
	for (unsigned s = 0; s < NSCEN; s++) {
		unsigned n = 0, met = 0, imp = 0, fr = 0, fp = 0, good = 0, bad = 0;
		double lo = INFINITY, hi = -INFINITY;
		int first = 1, undecided = 0;
		char fr_s[24] = "-", fp_s[24] = "-", t_s[48] = "-";

		for (unsigned k = 0; k < s; k++)
			first &= !(pr[k].selected && !strcmp(sc[k].cls, sc[s].cls));
		if (!pr[s].selected || !first)
			continue;
		for (unsigned k = s; k < NSCEN; k++) {
			const struct row *rw = &rows[k];

			if (!pr[k].selected || strcmp(sc[k].cls, sc[s].cls))
				continue;
			n++;
			met += rw->pass && !rw->slow;
			imp += rw->pass && !rw->slow && rw->impossible;
			if (sc[k].target == T_BAD || sc[k].target == T_DEAD) {
				unsigned p = sc[k].target == T_DEAD ? rw->prom_dead : rw->prom;

				bad = 1;
				fp = fp > p ? fp : p;
			} else if (sc[k].target != T_DECIDE) {
				good = 1;
				fr = fr > rw->rej ? fr : rw->rej;
			}
			if (isnan(rw->med_t))
				undecided = 1;
			else {
				lo = fmin(lo, rw->med_t);
				hi = fmax(hi, rw->med_t);
			}
		}
		if (good)
			snprintf(fr_s, sizeof(fr_s), "%.1f %%", 100.0 * fr / runs);
		if (bad)
			snprintf(fp_s, sizeof(fp_s), "%.1f %%", 100.0 * fp / runs);
		if (lo <= hi)
			snprintf(t_s, sizeof(t_s), "%.0f to %.0f%s", lo, hi,
				 undecided ? ", some undecided" : "");
		printf("| %s | %u | %u (%u) | %s | %s | %s |\n", sc[s].cls, n, met, imp, fr_s, fp_s,
		       t_s);
	}
}

static void fmt(char *b, size_t len, double v, const char *f)
{
	if (isnan(v))
		snprintf(b, len, "-");
	else
		snprintf(b, len, f, v);
}

static void usage(FILE *f, const char *p)
{
	fprintf(f,
		"usage: %s [--quick] [--json] [-n RUNS] [-j THREADS] [--seed S] [--only TEXT]\n"
		"          [--policy FILE] [--records FILE] [--list]\n"
		"  Simulates simulation machines window by window through the judge and\n"
		"  checks each scenario's target; exit 1 when one is missed.\n"
		"  -n RUNS      runs per scenario (default 300; --quick: 40)\n"
		"  -j THREADS   threads (default 2)\n"
		"  --seed S     base seed (default 1); results are deterministic per seed\n"
		"  --quick      a few scenarios, few runs, targets with a binomial tolerance\n"
		"  --only TEXT  only scenarios whose class or name contains TEXT\n"
		"  --json       the table as JSON\n"
		"  --policy F   a policy file (YAML, the keys of a service's policy:, as\n"
		"               understudyctl replay --policy) instead of the default\n"
		"  --records F  also write run 0 of each scenario as window records (JSON lines,\n"
		"               docs/replay.md) to F, for understudyctl replay (with the same\n"
		"               --policy; \"on_undecided reject\" scenarios change it)\n"
		"  --list       the scenarios, and exit\n", p);
}

static int parse_uint(const char *opt, const char *v, unsigned lo, unsigned hi, unsigned *out)
{
	char *end;
	unsigned long x;

	errno = 0;
	x = v ? strtoul(v, &end, 10) : 0;
	if (!v || errno || end == v || *end || x < lo || x > hi) {
		fprintf(stderr, "judge_eval: %s wants a whole number from %u to %u, got \"%s\"\n",
			opt, lo, hi, v ? v : "");
		return -EINVAL;
	}
	*out = (unsigned)x;
	return 0;
}

int main(int argc, char **argv)
{
	struct us_policy pol;
	struct prep pr[NSCEN];
	struct row rows[NSCEN];
	struct job jb = { .pr = pr, .runs = 300, .seed = 1,
			  .mu = PTHREAD_MUTEX_INITIALIZER };
	unsigned threads = 2, runs_set = 0, nsel = 0, missed = 0, slow = 0;
	int quick = 0, json = 0;
	const char *only = NULL, *records = NULL, *policy = NULL;
	pthread_t th[64];
	struct timespec t0, t1;
	double secs;
	char why[160];

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "--quick")) {
			quick = 1;
		} else if (!strcmp(a, "--json")) {
			json = 1;
		} else if (!strcmp(a, "--list")) {
			for (unsigned s = 0; s < NSCEN; s++)
				printf("%s\t%s\n", scens[s].cls, scens[s].name);
			return EXIT_SUCCESS;
		} else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout, argv[0]);
			return EXIT_SUCCESS;
		} else if (!strcmp(a, "-n")) {
			if (parse_uint("-n", v, 1, 100000, &jb.runs))
				return 2;
			runs_set = 1;
			i++;
		} else if (!strcmp(a, "-j")) {
			if (parse_uint("-j", v, 1, 64, &threads))
				return 2;
			i++;
		} else if (!strcmp(a, "--seed")) {
			char *end;

			errno = 0;
			jb.seed = v ? strtoull(v, &end, 0) : 0;
			if (!v || errno || end == v || *end) {
				fprintf(stderr, "judge_eval: --seed wants a number, got \"%s\"\n",
					v ? v : "");
				return 2;
			}
			i++;
		} else if (!strcmp(a, "--records")) {
			if (!v) {
				fprintf(stderr, "judge_eval: --records wants a file name\n");
				return 2;
			}
			records = v;
			i++;
		} else if (!strcmp(a, "--policy")) {
			if (!v) {
				fprintf(stderr, "judge_eval: --policy wants a file name\n");
				return 2;
			}
			policy = v;
			i++;
		} else if (!strcmp(a, "--only")) {
			if (!v) {
				fprintf(stderr, "judge_eval: --only wants a text\n");
				return 2;
			}
			only = v;
			i++;
		} else {
			fprintf(stderr, "judge_eval: unknown option \"%s\"\n", a);
			usage(stderr, argv[0]);
			return 2;
		}
	}
	if (quick && !runs_set)
		jb.runs = 40;
	us_policy_default(&pol);
	if (policy) {
		char err[4096];

		if (us_policy_load(policy, &pol, err, sizeof(err))) {
			fprintf(stderr, "judge_eval: %s\n", err);
			return 2;
		}
	}
	if (us_policy_check(&pol, why, sizeof(why))) {
		fprintf(stderr, "judge_eval: the policy is refused: %s\n", why);
		return 2;
	}

	for (unsigned s = 0; s < NSCEN; s++) {
		const struct scen *sc = &scens[s];

		pr[s].idx = s;
		pr[s].pol = pol;
		if (sc->undecided_reject)
			pr[s].pol.on_undecided = US_UNDECIDED_REJECT;
		if (us_policy_check(&pr[s].pol, why, sizeof(why))) {
			fprintf(stderr, "judge_eval: \"%s\": its policy is refused: %s\n", sc->name,
				why);
			return EXIT_FAILURE;
		}
		pr[s].selected = !only || strstr(sc->cls, only) || strstr(sc->name, only);
		if (quick) {
			int q = 0;

			for (unsigned k = 0; k < NQUICK; k++)
				q |= !strcmp(quick_names[k], sc->name);
			pr[s].selected &= q;
		}
		nsel += pr[s].selected;
		lat_init(&pr[s].act, LAT_MED_NS, 1);
		lat_init(&pr[s].sim, LAT_MED_NS * sc->lat_ratio, sc->tail);
		jb.res[s] = calloc(jb.runs, sizeof(struct result));
		if (!jb.res[s]) {
			perror("calloc");
			return EXIT_FAILURE;
		}
	}
	for (unsigned k = 0; k < NQUICK; k++) {
		int found = 0;

		for (unsigned s = 0; s < NSCEN; s++)
			found |= !strcmp(quick_names[k], scens[s].name);
		if (!found) {
			fprintf(stderr, "judge_eval: quick scenario \"%s\" is not in the table\n",
				quick_names[k]);
			return EXIT_FAILURE;
		}
	}
	if (!nsel) {
		fprintf(stderr, "judge_eval: no scenario matches \"%s\"\n", only);
		return 2;
	}

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (unsigned t = 0; t < threads; t++)
		if (pthread_create(&th[t], NULL, worker, &jb)) {
			perror("pthread_create");
			return EXIT_FAILURE;
		}
	for (unsigned t = 0; t < threads; t++)
		pthread_join(th[t], NULL);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;

	if (records) {
		/* run 0 of each scenario again, recorded: the same run (its seed) */
		FILE *f = fopen(records, "w");
		struct result again;

		if (!f) {
			fprintf(stderr, "judge_eval: %s: %s\n", records, strerror(errno));
			return EXIT_FAILURE;
		}
		for (unsigned s = 0; s < NSCEN; s++)
			if (pr[s].selected)
				one_run(&pr[s].pol, &scens[s], &pr[s], jb.seed, 0, &again, f);
		if (fclose(f)) {
			fprintf(stderr, "judge_eval: %s: %s\n", records, strerror(errno));
			return EXIT_FAILURE;
		}
	}
	for (unsigned s = 0; s < NSCEN; s++)
		if (pr[s].selected) {
			evaluate(&pr[s].pol, &scens[s], jb.res[s], jb.runs, quick, &rows[s]);
			missed += !rows[s].pass;
			slow += rows[s].pass && rows[s].slow;
		}

	if (json) {
		json_object *o = json_object_new_object(), *arr = json_object_new_array();

		json_object_object_add(o, "runs", json_object_new_int64(jb.runs));
		json_object_object_add(o, "seed", json_object_new_int64((int64_t)jb.seed));
		json_object_object_add(o, "quick", json_object_new_boolean(quick));
		json_object_object_add(o, "seconds", json_object_new_double(secs));
		json_object_object_add(o, "missed", json_object_new_int64(missed));
		for (unsigned s = 0; s < NSCEN; s++) {
			const struct row *rw = &rows[s];
			json_object *e;

			if (!pr[s].selected)
				continue;
			e = json_object_new_object();
#define JD(k, v) json_object_object_add(e, k, isnan(v) ? NULL : json_object_new_double(v))
			json_object_object_add(e, "class", json_object_new_string(scens[s].cls));
			json_object_object_add(e, "scenario",
					       json_object_new_string(scens[s].name));
			json_object_object_add(e, "target", json_object_new_string(rw->target));
			JD("promoted", (double)rw->prom / jb.runs);
			JD("rejected", (double)rw->rej / jb.runs);
			JD("undecided", (double)rw->und / jb.runs);
			JD("median_seconds", rw->med_t);
			JD("median_pairs", rw->med_pairs);
			JD("fixed_pairs", rw->fixed);
			JD("ratio", rw->ratio);
			json_object_object_add(e, "stuck_runs", json_object_new_int64(rw->stuck));
			json_object_object_add(e, "result", json_object_new_string(rw->verdict));
			json_object_object_add(e, "why", json_object_new_string(rw->why));
			json_object_object_add(e, "note", json_object_new_string(rw->note));
			json_object_object_add(e, "stale_promotions",
					       json_object_new_int64(rw->stale));
			json_object_object_add(e, "promoted_dead",
					       json_object_new_int64(rw->prom_dead));
			json_object_array_add(arr, e);
		}
		json_object_object_add(o, "scenarios", arr);
		printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY));
		json_object_put(o);
	} else {
		printf("# understudy judge evaluation\n\n");
		printf("`build/judge_eval%s -n %u --seed %llu%s%s`: %u runs per scenario, 5-s "
		       "windows; policy %s: evidence %llu pairs and %.0f s, %llu new pairs a "
		       "window, %u windows, class changes %.2f %%, code changes %.2f %%, errors "
		       "+%.2f pp, latency %.2fx, alpha %.2f, beta %.2f, decide_after %.0f s then "
		       "%s; active latency lognormal median 20 ms sigma 0.5; %.2f transactions a "
		       "call, hold time %.0f s.\n\n",
		       quick ? " --quick" : "", jb.runs, jb.seed, policy ? " --policy " : "",
		       policy ? policy : "", jb.runs, policy ? policy : "default",
		       (unsigned long long)pol.min_paired, pol.min_sim_seconds,
		       (unsigned long long)pol.min_window_pairs, pol.windows,
		       100 * pol.max_class_diff, 100 * pol.max_code_diff,
		       100 * pol.max_error_increase, pol.max_latency_ratio, pol.alpha, pol.beta,
		       pol.decide_after,
		       pol.on_undecided == US_UNDECIDED_REJECT ? "reject" : "hold",
		       TXN_PER_CALL, HOLD_MEAN_S);
		printf("| class | scenario | target | promoted | rejected | undecided "
		       "| median time (s) | median pairs | fixed-size pairs | result |\n");
		printf("|---|---|---|---:|---:|---:|---:|---:|---:|---|\n");
		for (unsigned s = 0; s < NSCEN; s++) {
			const struct row *rw = &rows[s];
			char mt[32], mp[32], fx[48];

			if (!pr[s].selected)
				continue;
			fmt(mt, sizeof(mt), rw->med_t, "%.0f");
			fmt(mp, sizeof(mp), rw->med_pairs, "%.0f");
			if (isnan(rw->fixed))
				snprintf(fx, sizeof(fx), "-");
			else if (isnan(rw->ratio))
				snprintf(fx, sizeof(fx), "%.0f", rw->fixed);
			else
				snprintf(fx, sizeof(fx), "%.0f (%.2fx)", rw->fixed, rw->ratio);
			printf("| %s | %s | %s | %.1f %% | %.1f %% | %.1f %% | %s | %s | %s "
			       "| %s |\n",
			       scens[s].cls, scens[s].name, rw->target, 100.0 * rw->prom / jb.runs,
			       100.0 * rw->rej / jb.runs, 100.0 * rw->und / jb.runs, mt, mp, fx,
			       rw->verdict);
		}
		printf("\nMedian time and pairs: over all runs, of the runs with the expected "
		       "decision (promotion for good versions, rejection for worse ones, either at "
		       "the 1.2x limit; for a dying machine the time counts from entering "
		       "simulation); \"-\" when fewer than half the runs got it. Fixed-size "
		       "pairs: a one-shot test with the same alpha and beta for the scenario's "
		       "effect, to reject a worse version (tools/judge_eval.c, fixed_pairs), or "
		       "for a good one the agreement test's pairs to promote it (fixed_promote; "
		       "a figure, not a target), and the judge's median as a multiple of "
		       "it. Pair rates in the notes are the steady state (calls/s x mirrored "
		       "x %.2f); the first minutes bring fewer, the BYEs following the INVITEs "
		       "by the hold time.\n\n", TXN_PER_CALL);
		printf("Notes (MISS: an error-rate target missed; SLOW: a target on how soon "
		       "missed, the error rates met; why; the arithmetic of the operating point; "
		       "runs the judge reported stuck):\n\n");
		for (unsigned s = 0; s < NSCEN; s++)
			if (pr[s].selected)
				printf("- %s, %s: %s%s%s%u runs reported stuck\n", scens[s].cls,
				       scens[s].name, !rows[s].pass ? "MISS: " : rows[s].slow ?
				       "SLOW: " : "", rows[s].why,
				       rows[s].note, rows[s].stuck);
		by_class(scens, pr, rows, jb.runs);
		printf("\n%u of %u scenarios %s their targets (PASS* = a target impossible in "
		       "principle, see above); %u missed an error-rate target, %u only a target "
		       "on how soon. %u runs in %.1f s on %u threads.\n",
		       nsel - missed - slow, nsel, missed + slow ? "met" : "met: all", missed,
		       slow, nsel * jb.runs, secs, threads);
	}
	for (unsigned s = 0; s < NSCEN; s++)
		free(jb.res[s]);
	/* --quick (make test) fails on an error rate only: how soon is the full
	 * run's to report (a figure of the judge's, not a guarantee) */
	return missed || (slow && !quick) ? EXIT_FAILURE : EXIT_SUCCESS;
}
