/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * What judging a machine carries from window to window: the evidence since
 * it entered simulation (a us_window of sums, evidence.h) and the judge's
 * own state (judge.h). It is a member of the machine's record (model.h),
 * persisted with it through the functions below, and reset whenever the
 * machine enters simulation. What is inside follows the judge's interface:
 * this file and the window's one call of the judge (us_window_judge() in
 * window.c) are the only code that looks into it; the rest uses the
 * accessors.
 */
#ifndef US_JUDGING_H
#define US_JUDGING_H

#include <stdbool.h>
#include <linux/types.h>
#include <json-c/json.h>
#include "evidence.h"
#include "judge.h"

struct us_judging {
	struct us_window ev;        /* cumulative since entering simulation */
	struct us_judge_state js;   /* the judge's state */
	int verdict;                /* the last window's (enum us_verdict) */
	int decision;               /* the last window's (enum us_decision) */
	__u32 streak;               /* the last judgement's passing windows in a row */
	__u32 windows;              /* windows judged */
	/* not persisted: loaded from a state file of an earlier format, whose
	 * evidence cannot be converted (it counted pairs another way): reset */
	int reset_from;             /* that format (1 or 2), or 0 */
};

/* Its JSON in the records' file, and back (0, or -EINVAL with the field). */
json_object *us_judging_json(const struct us_judging *j);
int us_judging_parse(json_object *o, struct us_judging *j, const char **field);
/*
 * A record of an earlier state-file format (format 1: streak, windows and
 * the last verdict beside the evidence; format 2: a "judging" member of
 * the old judge's counts). Those counts are not the pairs the judge reads
 * now (unanswered transactions were swept 32 s late, exact codes and calls
 * were not kept), so they cannot be converted: the record's judging starts
 * afresh (as a readmitted machine's), and reset_from says so, for the log.
 */
int us_judging_parse_old(json_object *rec, int format, struct us_judging *j, const char **field);

/* For status, metrics and logs. */
__u64 us_judging_paired(const struct us_judging *j);   /* pairs judged on */
__u32 us_judging_streak(const struct us_judging *j);   /* passing windows in a row */
__u32 us_judging_windows(const struct us_judging *j);  /* windows judged */

#endif
