/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The store (store.h) on etcd v3, every key under one prefix P:
 *
 *   P/desired/config          the desired state: a configuration document
 *                             (JSON, or YAML: the file's format), validated
 *                             whole by config.c as the file is
 *   P/state/seq               {"version":1,"seq":N}: transitions so far
 *   P/state/records/<machine> a machine's record (model.h, US_RJ_DURABLE)
 *   P/audit/<seq, 20 digits>  one transition (us_audit_json)
 *
 * A save is one transaction: the records that changed, P/state/seq, and the
 * audit lines appended since the last save (append() only stages them), on
 * the conditions that P/state/seq has not changed since this store read or
 * wrote it (compare-and-swap: two writers cannot both save over the same
 * records), that each audit key is absent (one sequence, never a number
 * written twice), and that the writer still leads (us_etcd_cmp_leader:
 * a deposed controller never writes). A transition and its audit line are
 * applied together or not at all, so load() never has a transition to
 * finish. A save with more changed records than a transaction takes
 * (--max-txn-ops, 128 by default) writes the records a transition changes
 * in the first transaction and the others (judging updates) in the
 * transactions after it, each with the same conditions.
 *
 * The watch follows P/desired/: changed() is 1 once a whole revision that
 * changed it has arrived (or after a watch that had to be restarted, when
 * changes may have been missed).
 */
#ifndef US_STORE_ETCD_H
#define US_STORE_ETCD_H

#include <stdint.h>
#include "etcd.h"
#include "store.h"

#define US_STORE_ETCD_PREFIX_MAX 128

struct us_store_etcd_opts {
	const struct us_etcd_opts *etcd;   /* endpoints, time-outs, TLS */
	const char *prefix;                /* "/understudy": starts with '/', no trailing '/' */
	long max_txn_ops;                  /* etcd's --max-txn-ops; 0: 128 */
};

/* A store on etcd: the options checked, nothing sent. err says why not. */
int us_store_etcd_open(const struct us_store_etcd_opts *o, struct us_store **out, char *err,
		       size_t errlen);

/* Writes (save, append) are made as this candidate, only while it leads;
 * NULL (the default): the store writes nothing (-EPERM). The candidate is
 * copied. */
void us_store_etcd_lead(struct us_store *s, const struct us_etcd_candidate *me);

/* Replace the desired state with text (a configuration document), after
 * validating it whole (err says every problem, "etcd:P/desired/config:L:C:
 * ..."); only if P/desired/config's mod_revision is still expect (0: it
 * must be absent; -1: whatever it is). -ESTALE when it is not; *revision
 * gets the revision written. Not fenced: the operator writes it. */
int us_store_etcd_put_desired(struct us_store *s, const char *text, size_t len, int64_t expect,
			      int64_t *revision, char *err, size_t errlen);

/* The revision of the desired state the last load_conf() read (its
 * mod_revision), 0 before. */
int64_t us_store_etcd_desired_revision(struct us_store *s);

/* The store's client (for a leader election on the same connection). */
struct us_etcd *us_store_etcd_client(struct us_store *s);

#endif
