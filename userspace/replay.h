/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Replay: window records (wrecord.h, docs/replay.md), recorded by the
 * daemon or written by a generator, through the judge and any policy,
 * window by window, with the judge's state carried as the daemon carries
 * it (window.h: us_window_judge, the same function): a new judging period
 * begins at a machine's first line and whenever its "since" changes.
 * Offline: no daemon, no data plane. `understudyctl replay` is its front.
 */
#ifndef US_REPLAY_H
#define US_REPLAY_H

#include <stdbool.h>
#include <stdio.h>
#include <json-c/json.h>
#include "config.h"
#include "policy.h"

struct us_replay_opts {
	const struct us_policy *policy; /* every line's policy; NULL: by service, from conf */
	const struct us_conf *conf;     /* services' policies (NULL: policy, else the default) */
	const char *service;            /* with conf: this service's policy for every line */
	bool json;                      /* JSON lines out, one per window */
};

struct us_replay_result {
	size_t windows;                 /* lines replayed */
	size_t judged;                  /* ... the judge accepted */
	size_t recorded;                /* ... with the daemon's judgement in them */
	size_t differ;                  /* ... whose verdict or decision differ from it */
	size_t decisions;               /* promote or reject (applied or held) */
};

/* Replay the lines of in (name: the file, for messages) and print to out.
 * 0; -EINVAL for a bad line or a service without a policy (err: "FILE:LINE:
 * field: what is wrong"); -ENOMEM. */
int us_replay(FILE *in, const char *name, const struct us_replay_opts *o, FILE *out,
	      struct us_replay_result *res, char *err, size_t len);

/* understudyctl replay: the request's file, policy (a policy file), service
 * and config (a configuration file, by default the daemon's) -> stdout;
 * enum us_exit (a bad line: US_EX_REFUSED, with FILE:LINE on stderr). */
int us_replay_cmd(json_object *req, bool json);

#endif
