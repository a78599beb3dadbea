/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * One judging window, as a pure function: the machine records and the
 * window's counters in; what each machine's judging carries on, what the
 * window saw of it, and the moves to make out. No I/O, no clock, no log:
 * the daemon reads the counters (source.h) before, and after it applies
 * the decisions through us_model_move() (model.h).
 *
 * For every machine: request and response rates, error share and latency
 * quantiles of the window. For a simulation machine of a configured
 * service: the window's evidence (evidence.h: its pairs with the active
 * machines, unanswered ones included, the control machine's on the same
 * calls, its exact codes) is added to its evidence, and the judge (judge.h,
 * called once, in window.c) judges it: promote or reject, unless the
 * judgement is held (policy mode hold: reported, never applied). A control
 * machine is observed, never judged. For a draining machine on its way out
 * whose time has come: the timer removes it.
 */
#ifndef US_WINDOW_H
#define US_WINDOW_H

#include <stddef.h>
#include "config.h"
#include "model.h"
#include "source.h"

struct us_window_in {
	double now;                      /* the window's end, wall-clock seconds */
	double seconds;                  /* its length */
	const struct us_conf *conf;      /* the services and their policies */
	const struct us_rec *recs;       /* the records */
	const struct us_counts *counts;  /* their counters, recs[i] <-> counts[i] */
	size_t n;
};

struct us_window_move {
	char machine[US_NAME_MAX];
	enum us_mstate to;
	enum us_actor by;
	char reason[US_REASON_MAX];
};

struct us_window_out {
	/* per record, recs[i] <-> [i]: what it carries on, what the window saw */
	struct us_judging *judging;
	struct us_mobs *obs;
	bool *judged;                    /* the judge ran on it in this window */
	struct us_window *win;           /* a simulation machine's evidence of the window */
	bool *has_win;                   /* win[i] was made (a simulation machine) */
	struct us_window_move *dec;      /* room for n */
	size_t ndec;
};

void us_window_run(const struct us_window_in *in, struct us_window_out *out);

/* One simulation machine's window through the judge, as us_window_run does
 * (replay too): in's evidence plus w, and the judge's state, into out; the
 * judgement into j. 0, or the judge's negative errno (out carries the
 * evidence on, not the judge's state). */
int us_window_judge(const struct us_policy *p, const struct us_judging *in,
		    const struct us_window *w, struct us_judging *out, struct us_judgement *j);

#endif
