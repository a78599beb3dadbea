/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The machine model: one record per machine — what the configuration (or
 * `add`) says of it, its state, and what judging it carries from window to
 * window — and the one function that changes a state, us_model_move():
 *
 *   check the rule → append the audit line → reset what the new state
 *   resets → save → apply to the data plane
 *
 * Reconcile (the configuration), the window's decisions (judge, timer),
 * the control commands and crash recovery all call it; nothing else
 * changes a state. The transition rules are the table in model.c.
 *
 * The records are kept by a store (store.h: the audit line appended and
 * fsynced before the records are saved whole) and written into the data
 * plane by an applier (the daemon's, through dp.h): the model does no I/O
 * of its own, so it can be driven by tests as it is.
 *
 * Errors: functions return 0 or a negative errno; us_model_error() says
 * what and why after a failure, and is empty after a success.
 */
#ifndef US_MODEL_H
#define US_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>
#include <json-c/json.h>
#include "judge.h"
#include "judging.h"
#include "understudy/understudy.h"

#define US_NAME_MAX 64           /* names, services, versions (with the NUL) */
#define US_REASON_MAX 320

/* Who moved a machine. */
enum us_actor {
	US_BY_CONFIG = 0,   /* the configuration file (add, change, remove) */
	US_BY_JUDGE,        /* the joining condition or a rejection */
	US_BY_OPERATOR,     /* understudyctl */
	US_BY_TIMER,        /* end of a drain */
	US_BY_MAX,
};

/* What the configuration (or `add`) says of a machine. */
struct us_mconf {
	char service[US_NAME_MAX];
	char version[US_NAME_MAX];
	int family;                 /* AF_INET or AF_INET6 */
	__u8 addr[16];              /* IPv4 as ::ffff:a.b.c.d */
	__u16 weight;               /* 1 .. US_WEIGHT_MAX */
	bool dynamic;               /* added by a command, not by the configuration */
	enum us_mstate state;       /* the state the configuration (or add) gave it last */
};

/* What the last window saw of a machine (not persisted). */
struct us_mobs {
	struct us_mstats cur;       /* counters: totals */
	struct us_mstats win;       /* the last window's increase */
	double req_rate, resp_rate; /* per second over the last window (NAN: none yet) */
	double err_share;           /* 5xx/6xx share of finals in the last window */
	double p50_ns, p99_ns;      /* latency over the evidence (simulation) or window */
	__u64 timeouts;             /* transactions it never answered (total) */
	bool judged;                /* last is a judgement of this simulation period */
	struct us_judgement last;
};

struct us_rec {
	char name[US_NAME_MAX];
	__u32 id;                   /* data-plane machine id */
	struct us_mconf conf;
	enum us_mstate state;       /* US_MS_UNUSED: created, not yet moved into a state */
	double since;               /* wall-clock seconds when it entered the state */
	double remove_at;           /* draining on its way out: when it becomes removed (0: never) */
	struct us_judging judging;  /* evidence and judge state (judging.h), persisted */
	struct us_mobs obs;
};

/* A transition as the audit trail keeps it: enough to finish it after a
 * crash, also the creation of a machine (from US_MS_UNUSED). */
struct us_audit {
	__u64 seq;
	double time;
	char machine[US_NAME_MAX];
	__u32 id;
	struct us_mconf conf;
	enum us_mstate from, to;
	enum us_actor by;
	char reason[US_REASON_MAX];
	double remove_at;           /* an active machine removed by the operator: drained until */
};

struct us_store;

/* Writes a record into the data plane (idempotent): 0, or a negative errno
 * with a sentence in err. */
struct us_applier {
	int (*apply)(void *ctx, const struct us_rec *r, char *err, size_t len);
	void *ctx;
};

struct us_model {
	struct us_rec *r;           /* the records, in the order they were made */
	size_t n, cap;
	__u64 seq;                  /* transitions so far: the audit sequence number */
	double drain_s;             /* an active machine the operator removes drains this long */
	struct us_store *store;     /* keeps the records and the audit trail (NULL: none) */
	struct us_applier dp;       /* (apply NULL: nothing applied) */
	double (*now)(void);        /* wall clock (default us_wall_now) */
	__u64 save_failures;        /* us_model_save calls that failed */
	char err[512];
};

/* Wall-clock seconds. */
double us_wall_now(void);

void us_model_init(struct us_model *m, struct us_store *store);
void us_model_free(struct us_model *m);
const char *us_model_error(const struct us_model *m);

/* Records are found by name or id, never kept by address across
 * us_model_new() or us_model_drop(). */
struct us_rec *us_model_find(struct us_model *m, const char *name);
struct us_rec *us_model_find_id(struct us_model *m, __u32 id);

/* A record for a new machine, with the lowest free id, in US_MS_UNUSED:
 * nothing is kept until it is moved into its first state. -EEXIST (the
 * name), -ENOSPC (every id in use). */
int us_model_new(struct us_model *m, const char *name, const struct us_mconf *c,
		 struct us_rec **out);
/* Forget a record (one never moved, or a removed one being added again). */
void us_model_drop(struct us_model *m, struct us_rec *r);

/* May `by` move a machine from one state to another? 0, or -EPERM (-EALREADY
 * when it is there, -EINVAL for no state) with the reason in why. */
int us_model_rule(enum us_mstate from, enum us_mstate to, enum us_actor by, char *why,
		  size_t len);

/*
 * Move a machine: check the rule, append the audit line (durably), reset
 * what the new state resets (since; remove_at; entering simulation: its
 * judging and what the last window judged), save, apply. Moving an active
 * machine to removed by the operator drains it first: it goes to draining,
 * to be removed drain_s later (by the timer). If the audit line or the
 * save fails, nothing changed; if applying fails, the move stands (it is
 * durable) and the error is returned: applying again (every reconcile,
 * every restart) finishes it.
 */
int us_model_move(struct us_model *m, struct us_rec *r, enum us_mstate to, enum us_actor by,
		  const char *reason);

/* Save the records (after changes that are not moves: what the
 * configuration says of a machine). */
int us_model_save(struct us_model *m);
/* Write one record into the data plane. */
int us_model_apply(struct us_model *m, const struct us_rec *r);

/* After loading: the transition the audit trail logged past the records,
 * if any (the daemon stopped between the two writes), is finished through
 * us_model_move, exactly once. */
int us_model_recover(struct us_model *m, const struct us_audit *pending);

/* ---- JSON: a machine turned into JSON, and back ------------------------ */

enum {
	US_RJ_DURABLE = 1u << 0,    /* what is kept: conf, remove_at, judging */
	US_RJ_VIEW    = 1u << 1,    /* what the last window saw: rates, verdict */
};
/* name, service, version, id, address, weight, dynamic, state, since; and
 * the parts asked for */
json_object *us_rec_json(const struct us_rec *r, unsigned parts);
/* The format us_rec_json writes records in (the state file's version). */
#define US_REC_FORMAT 3

/* A record from its US_RJ_DURABLE form, of a state-file format (1..3:
 * judging.h says what the earlier two keep): 0, or -EINVAL with the field. */
int us_rec_parse(json_object *o, int format, struct us_rec *r, const char **field);

json_object *us_audit_json(const struct us_audit *a);
int us_audit_parse(json_object *o, struct us_audit *a);

const char *us_actor_name(enum us_actor a);
/* enum us_actor from its name, or -1 */
int us_actor_from_name(const char *s);
/* enum us_mstate from its name ("active", ...), or -1 */
int us_state_from_name(const char *s);

#endif
