/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The machine model's tests (build/test_model): the model (model.h), the
 * file store (store.h), the pure window (window.h) and the command table
 * (commands.h), in this process, without a data plane. Every test has a
 * fresh directory, /tmp/understudy-model-<pid>, for the store.
 */
#ifndef US_TEST_MODEL_FIXTURE_H
#define US_TEST_MODEL_FIXTURE_H

#include <stdbool.h>

#include "harness.h"
#include "model.h"
#include "store.h"

extern char tm_dir[128];

/*
 * The applier of these tests: it records what was applied, and refuses
 * what the data plane refuses (us_dp_set_machine: an id out of range, a
 * state it does not know, weight 0, an address family it does not know,
 * an address another machine in a pool has) with its kind of message.
 */
struct tm_applied {
	int calls;
	__u32 last_id;
	enum us_mstate state[US_MAX_MACHINES];   /* as last applied (0: none) */
	__u8 addr[US_MAX_MACHINES][16];
	int fail;                                /* > 0: refuse that many more calls (-EIO) */
};
extern struct tm_applied tm_dp;
extern const struct us_applier tm_applier;

/* An empty tm_dir, nothing applied: a subtest that reads the store back
 * starts with it. */
void tm_fresh(void);
/* A model on a file store in tm_dir (no configuration file). */
int tm_model(struct us_model *m);
/* A machine's configuration: service "sip", version, address. */
struct us_mconf tm_conf(const char *version, const char *addr, enum us_mstate state);
/* A new record moved into its first state by the configuration. */
struct us_rec *tm_add(struct us_model *m, const char *name, const char *addr,
		      enum us_mstate state);
/* Lines of tm_dir/audit.log; the last one into buf. */
int tm_audit(char *last, size_t len);
/* Append a line to tm_dir/audit.log. */
void tm_audit_append(const char *line);

#endif
