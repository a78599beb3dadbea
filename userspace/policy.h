/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The joining condition of a service (PRODUCT.md, "Joining condition";
 * docs/judge.md): what a simulation machine must show, against the active
 * machines of its service, to be promoted, and what rejects it. The YAML
 * names are in config.c's policy table and docs/config.md.
 */
#ifndef US_POLICY_H
#define US_POLICY_H

#include <stddef.h>
#include <linux/types.h>
#include "understudy/understudy.h"

/* what to do with a machine still undecided after decide_after */
enum us_undecided { US_UNDECIDED_HOLD = 0, US_UNDECIDED_REJECT };
/* decide: the controller applies the judge's decisions; hold: it judges and
 * explains, and never moves the machine */
enum us_policy_mode { US_MODE_DECIDE = 0, US_MODE_HOLD };

struct us_policy {
	__u64  min_paired;          /* evidence: paired transactions (1000) */
	double min_sim_seconds;     /* evidence: seconds in simulation (60) */
	__u64  min_window_pairs;    /* fresh evidence: new pairs a window needs to
	                             * count towards the streak (5) */
	double max_class_diff;      /* agreement: share of pairs whose final class differs
	                             * for the worse (no control machine), or in excess of
	                             * the control machine's differences (0.005) */
	double max_code_diff;       /* codes: share of answered pairs of the same class
	                             * whose exact codes differ, likewise (0.01) */
	double max_error_increase;  /* errors: the share of calls that failed on the
	                             * simulation machine minus the active's (0.005) */
	double max_latency_ratio;   /* latency: p50 and p99, simulation / active (1.2) */
	double latency_slack;       /* latency: seconds taken off the simulation's
	                             * quantiles before the ratio (0) */
	__u32  windows;             /* stability: consecutive passing windows (3) */
	double alpha;               /* false-promotion rate (0.01) */
	double beta;                /* false-rejection rate (0.01) */
	double due_floor;           /* a pair's silent side is unanswered after
	                             * max(due_floor, due_multiple x the other side's
	                             * latency) seconds (2) ... */
	double due_multiple;        /* ... (8) */
	double decide_after;        /* seconds in simulation after which a machine still
	                             * undecided gets on_undecided (0: never; 1800) */
	int    on_undecided;        /* enum us_undecided (hold) */
	double stuck_after;         /* seconds undecided after which it is reported stuck
	                             * (600) */
	int    mode;                /* enum us_policy_mode (decide) */
};

static inline void us_policy_default(struct us_policy *p)
{
	p->min_paired = 1000;
	p->min_sim_seconds = 60;
	p->min_window_pairs = 5;
	p->max_class_diff = 0.005;
	p->max_code_diff = 0.01;
	p->max_error_increase = 0.005;
	p->max_latency_ratio = 1.2;
	p->latency_slack = 0;
	p->windows = 3;
	p->alpha = 0.01;
	p->beta = 0.01;
	p->due_floor = 2;
	p->due_multiple = 8;
	p->decide_after = 1800;
	p->on_undecided = US_UNDECIDED_HOLD;
	p->stuck_after = 600;
	p->mode = US_MODE_DECIDE;
}

/* The only check of a policy (the judge's; config.c calls it, so that
 * --check refuses what the judge would): 0, or -EINVAL with a one-line
 * reason naming the field in why. In judge.c. */
int us_policy_check(const struct us_policy *p, char *why, size_t len);

#endif
