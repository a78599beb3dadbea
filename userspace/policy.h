/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The joining condition of a service (PRODUCT.md, "Joining condition"):
 * what a simulation machine must show, against the active machines of its
 * service, to be promoted, and what rejects it.
 */
#ifndef US_POLICY_H
#define US_POLICY_H

#include <linux/types.h>
#include "understudy/understudy.h"

struct us_policy {
	__u64  min_paired;          /* evidence: paired transactions (1000) */
	double min_sim_seconds;     /* evidence: seconds in simulation (60) */
	double max_class_diff;      /* agreement: share of pairs whose final class differs (0.005) */
	double max_error_increase;  /* errors: simulation's error share minus the active's,
	                             * as a fraction (0.005 = 0.5 percentage points) */
	double max_latency_ratio;   /* latency: p50 and p99, simulation / active (1.2) */
	__u32  windows;             /* stability: consecutive passing windows (3) */
	double alpha;               /* sequential tests: false-promotion rate (0.01) */
	double beta;                /* sequential tests: false-rejection rate (0.01) */
	double due_floor; double due_multiple; int mode; /* SHIM */
};

static inline void us_policy_default(struct us_policy *p)
{
	p->min_paired = 1000;
	p->min_sim_seconds = 60;
	p->max_class_diff = 0.005;
	p->max_error_increase = 0.005;
	p->max_latency_ratio = 1.2;
	p->windows = 3;
	p->alpha = 0.01;
	p->beta = 0.01;
	p->due_floor = 2; p->due_multiple = 8; p->mode = 0; /* SHIM */
}

/*
 * What the judge is given about one simulation machine: cumulative counts
 * since it entered simulation (or was readmitted).
 */
struct us_judge_input {
	double sim_seconds;          /* time in simulation */
	__u64 paired;                /* mirrored transactions with both finals */
	__u64 differ_class;          /* ... whose final classes differ */
	__u64 sim_err_only;          /* ... where only the simulation's final was an error
	                              * (5xx/6xx, or a timeout) */
	__u64 active_err_only;       /* ... where only the active machine's was */
	__u64 both_err;              /* ... where both were */
	__u64 active_lat[US_LAT_BUCKETS];  /* latency histogram, active machines of the service */
	__u64 sim_lat[US_LAT_BUCKETS];     /* latency histogram, this simulation machine */
};

#endif
