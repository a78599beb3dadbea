/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The controller's durable state: every machine's record (its data-plane
 * id, state, and the evidence gathered since it entered simulation), the
 * state machine's rules, and the audit trail.
 *
 * The state file is written whole (write, fsync, rename, fsync of the
 * directory), so after a crash it is either the old or the new one. The
 * audit trail is appended one JSON line per transition and fsynced before
 * the transition is applied to the data plane.
 */
#ifndef US_STATE_H
#define US_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>
#include "policy.h"
#include "understudy/understudy.h"

/* Who moved a machine. */
enum us_actor {
	US_BY_CONFIG = 0,   /* the configuration file (add, change, remove) */
	US_BY_JUDGE,        /* the joining condition or a rejection */
	US_BY_OPERATOR,     /* understudyctl */
	US_BY_TIMER,        /* end of a drain */
};

struct us_mrec {
	char name[64];
	char service[64];
	char version[64];
	__u32 id;                   /* data-plane machine id */
	int family;                 /* AF_INET or AF_INET6 */
	__u8 addr[16];              /* IPv4 as ::ffff:a.b.c.d */
	__u16 weight;
	bool dynamic;               /* added by understudyctl, not by the configuration */
	enum us_mstate state;
	enum us_mstate config_state; /* the state the configuration gave it last */
	double since;               /* wall-clock seconds when it entered the state */
	double remove_at;           /* draining on the way out: when it becomes removed (0: never) */
	__u32 streak;               /* judge: consecutive passing windows */
	__u32 windows;              /* judge: windows judged in this simulation period */
	int last_verdict;           /* judge: last window's verdict (enum us_verdict) */
	int last_decision;          /* judge: last decision (enum us_decision) */
	struct us_judge_input ev;   /* evidence since entering simulation */
};

struct us_state {
	struct us_mrec *m;
	size_t n, cap;
	__u64 seq;                  /* transitions so far: audit sequence number */
	char dir[256];
};

/* Load dir/state.json (an absent file is an empty state). On a malformed
 * file: -EINVAL and err says where. */
int us_state_load(struct us_state *st, const char *dir, char *err, size_t errlen);
/* Write dir/state.json atomically. */
int us_state_save(const struct us_state *st);
void us_state_free(struct us_state *st);

struct us_mrec *us_state_find(struct us_state *st, const char *name);
struct us_mrec *us_state_find_id(struct us_state *st, __u32 id);
/* Add a record for a new machine with the lowest free data-plane id. */
int us_state_add(struct us_state *st, const char *name, const char *service,
		 const char *version, enum us_mstate state, double now, struct us_mrec **out);

/* May `by` move a machine from one state to another? 0, or -EPERM with a
 * reason in why. */
int us_transition_check(enum us_mstate from, enum us_mstate to, enum us_actor by,
			char *why, size_t len);

/* Record a transition: the audit line (fsynced), then the record, then the
 * state file. The caller then applies it to the data plane; applying is
 * idempotent, and a restart re-applies every record's state. */
int us_state_transition(struct us_state *st, struct us_mrec *m, enum us_mstate to,
			enum us_actor by, const char *reason, double now);

const char *us_actor_name(enum us_actor a);
/* enum us_mstate from its name ("active", ...), or -1. */
int us_state_from_name(const char *s);

#endif
