/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Window records: what the judge was given and said, one JSON line per
 * window per simulation machine, in <state_dir>/windows/<machine>.jsonl
 * (docs/replay.md has the format). They are for operators and for
 * evaluation: `understudyctl replay` feeds them through any policy.
 *
 * Bounded: a file holds at most max lines; a full one is renamed to
 * <machine>.jsonl.1 (replacing the earlier one) and a new one begun.
 * Recording is never in the way of judging: a failure is returned (and
 * counted here), the caller logs it and goes on.
 */
#ifndef US_WRECORD_H
#define US_WRECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>
#include <json-c/json.h>
#include "config.h"
#include "evidence.h"
#include "judge.h"

struct us_wrec_file {
	char machine[64];
	__u64 lines;            /* lines in the current file */
	bool counted;           /* lines is known (the file was read once) */
};

struct us_wrecords {
	char dir[US_CONF_PATH_MAX + 16];   /* <state_dir>/windows */
	__u32 max;                         /* lines per file; 0: nothing recorded */
	struct us_wrec_file *f;
	size_t n, cap;
	__u64 written, failed;             /* lines, and lines that could not be written */
	char err[512];                     /* the last failure, explained */
};

/* Where and how many (state_dir: the daemon's). Nothing is written yet. */
void us_wrecords_init(struct us_wrecords *w, const char *state_dir, __u32 max);
/* A new maximum (reload): it applies from the next line. */
void us_wrecords_set_max(struct us_wrecords *w, __u32 max);
void us_wrecords_free(struct us_wrecords *w);

/* Append one record (an object, written as one line) to the machine's file:
 * 0, or a negative errno with w->err set (and w->failed counted). The
 * machine's name is a file name (config.c allows no '/' in names). */
int us_wrecords_append(struct us_wrecords *w, const char *machine, json_object *rec);

/*
 * One line: the machine, its service and version, when it entered
 * simulation (since: a new value starts a new judging period, as the
 * daemon's state does), the window's evidence and what the judge said of
 * it (j NULL: the judge refused the input; the line says "judged": false).
 */
json_object *us_wrecord_json(const char *machine, const char *service, const char *version,
			     double since, const struct us_window *w, const struct us_judgement *j);

struct us_wrecord {
	char machine[64], service[64], version[64];
	double since;
	struct us_window w;
	bool judged;
	char verdict[16], decision[16];   /* the daemon's: "pass", "promote", ... ("" not judged) */
	bool held;
};
/* A line back, strictly (replay): 0, or -EINVAL with the field and what is
 * wrong in why. */
int us_wrecord_parse(json_object *o, struct us_wrecord *r, char *why, size_t len);

#endif
