/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * What judging a machine carries from window to window: the evidence since
 * it entered simulation and the judge's own state. It is a member of the
 * machine's record (model.h), persisted with it through the functions
 * below, and reset whenever the machine enters simulation. What is inside
 * follows the judge's interface: this file and the window's one call of
 * the judge (judge_window() in window.c) are the only code that looks
 * into it; the rest uses the accessors.
 */
#ifndef US_JUDGING_H
#define US_JUDGING_H

#include <linux/types.h>
#include <json-c/json.h>
#include "judge.h"

struct us_judging {
	struct us_judge_input ev;   /* cumulative since entering simulation */
	struct us_judge_state js;   /* the judge's state (streak, windows judged, last counts) */
	int verdict;                /* the last window's (enum us_verdict) */
	int decision;               /* the last window's (enum us_decision) */
};

/* Its JSON in the records' file, and back (0, or -EINVAL with the field). */
json_object *us_judging_json(const struct us_judging *j);
int us_judging_parse(json_object *o, struct us_judging *j, const char **field);
/* From a record of the first state-file format (streak, windows and last
 * verdict beside the evidence): the judge's state is rebuilt. */
int us_judging_parse_v1(json_object *rec, struct us_judging *j, const char **field);

/* For status, metrics and logs. */
__u64 us_judging_paired(const struct us_judging *j);   /* pairs judged on */
__u32 us_judging_streak(const struct us_judging *j);   /* passing windows in a row */
__u32 us_judging_windows(const struct us_judging *j);  /* windows judged */

#endif
