/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Evidence: what one judging window saw of one shadow machine (a simulation
 * machine, or the control machine), against the active machines that
 * answered the same mirrored calls. It is the judge's input, the record the
 * daemon writes per window and machine (JSON lines, docs/replay.md) and
 * what the replay tool reads back: the stable interface for evaluating the
 * judge.
 *
 * Every count is the window's increase of the data plane's cumulative
 * per-machine counters (struct us_mstats), so windows add up.
 *
 * Pairs. A mirrored transaction becomes a pair once both sides gave a final
 * response, or once one side answered and the other did not within the
 * deadline derived from the first answer (policy: due_multiple x that
 * answer's latency, at least due_floor, at most 32 s, RFC 3261 timer F):
 * the silent side's outcome is then US_O_NONE, counted at once, on the same
 * clock as answered pairs. A side's final arriving after that is "late"
 * (counted, never paired twice). Transactions neither side answered make
 * no pair: "sent" against the pairs shows them.
 */
#ifndef US_EVIDENCE_H
#define US_EVIDENCE_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>
#include <json-c/json.h>
#include "understudy/understudy.h"

/* The outcomes of a pair (enum us_outcome: 2xx, 3xx, 4xx, error, none) and
 * the kinds of requests a machine starts (enum us_own) are the data
 * plane's, include/understudy/understudy.h; their index order is part of
 * the record format. */

/* Distinct (active code, shadow code) pairs kept per window when the exact
 * codes differ; more are summed into the last entry, which is then the
 * "other" row: active and shadow both 0 (two silent sides make no pair, so
 * the row cannot be a real one). */
#define US_CODEPAIRS_MAX 32
#define US_CODE_OTHER 0

struct us_codepair {
	__u16 active;           /* status code, 100..699, or 0: unanswered */
	__u16 shadow;
	__u32 pad;
	__u64 n;
};

/* Pairs of one shadow machine against the active machines, on the calls
 * mirrored to it. */
struct us_pairs {
	__u64 out[US_O_MAX][US_O_MAX];   /* [active outcome][shadow outcome] */
	__u64 code_same;                 /* answered pairs whose exact codes are equal */
	/* calls as units: mirrored calls with at least one pair, and calls in
	 * which a side failed (US_O_ERR or US_O_NONE) at least once; each call
	 * is counted once per column, when it first qualifies */
	__u64 calls;
	__u64 calls_fail_active;
	__u64 calls_fail_shadow;
	__u64 calls_fail_both;
	/* latency of the pairs both sides answered, in the data plane's log
	 * buckets (us_lat_bucket): the same transactions on both sides */
	__u64 lat_active[US_LAT_BUCKETS];
	__u64 lat_shadow[US_LAT_BUCKETS];
};

struct us_window {
	double t;                        /* wall clock at the window's end, seconds */
	double seconds;                  /* the window's length */
	double sim_seconds;              /* time in simulation at the window's end */
	__u64 sent;                      /* requests mirrored to the machine (first sightings, no ACK) */
	__u64 answered;                  /* its first final responses */
	__u64 late;                      /* finals after their pair was closed unanswered */
	struct us_pairs sim;             /* this machine against the active machines */
	bool has_control;                /* a control machine answered the same calls */
	struct us_pairs control;         /* the control machine against the active machines,
	                                  * on the calls mirrored to both */
	__u32 ncodes;
	struct us_codepair codes[US_CODEPAIRS_MAX];  /* exact codes that differed (this machine) */
	/* requests started by a machine, on the calls mirrored to this one */
	__u64 own[US_OWN_MAX];           /* by this machine */
	__u64 own_active[US_OWN_MAX];    /* by the active machine */
	__u64 own_both[US_OWN_MAX];      /* matched: both started one (the n-th with the n-th) */
};

/*
 * What a window saw of a shadow machine. win: the increase of its counters
 * over the window (us_counts.win); codes: the exact codes that differed in
 * its pairs in the window (us_counts.codes); t, seconds, sim_seconds as in
 * struct us_window; has_control: its service has a control machine, whose
 * pairs on the calls mirrored to both are win->ctl. The control's pairs
 * carry no latencies (the data plane keeps those per machine, not per
 * candidate): control.lat_* stay 0.
 */
void us_window_of(struct us_window *w, const struct us_mstats *win,
		  const struct us_codepair *codes, __u32 ncodes, double t, double seconds,
		  double sim_seconds, bool has_control);

/* Count n more pairs of exact codes (active, shadow) in a code table of
 * US_CODEPAIRS_MAX entries holding *ncodes: into their row, a new row, or,
 * the table full, the "other" row (the last). */
void us_codes_add(struct us_codepair *codes, __u32 *ncodes, __u16 active, __u16 shadow, __u64 n);

/* Names of the outcomes in the record format: "2xx", "3xx", "4xx", "error",
 * "none". */
const char *us_outcome_name(enum us_outcome o);

/* For status, explain and diffs: a side's pairs in figures (pairs, shares
 * of class and exact-code differences, both sides' failure shares by
 * transaction and by call, the outcome table by name), and a code table
 * as [{"active": 200, "shadow": 202, "n": 3}, ...] ("other" for the
 * other row). */
json_object *us_pairs_summary_json(const struct us_pairs *p);
json_object *us_codes_json(const struct us_codepair *codes, __u32 ncodes);

/* The record format (docs/replay.md): every field, always. */
json_object *us_window_json(const struct us_window *w);
/* Back, strictly: every field present, of its type and in its range, no
 * other field. 0, or -EINVAL with the field's path and what is wrong with
 * it in why ("sim.out[2][4]: not a count"). */
int us_window_parse(json_object *o, struct us_window *w, char *why, size_t len);

#endif
