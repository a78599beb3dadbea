/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Where the desired state and the machine records are kept: the store.
 *
 *   load_conf   the desired state (the configuration), validated whole
 *   load/save   the machine records, saved whole (never seen half-written)
 *   append      one transition to the audit trail, durably, before the
 *               records it changes are saved (the write-ahead log crash
 *               recovery reads back)
 *   history     the last transitions
 *   watch       a file descriptor that becomes readable when the desired
 *               state may have changed; changed() then says whether it did
 *
 * Two stores: files (us_store_file_open, below) and etcd
 * (store_etcd.h, docs/cluster.md).
 */
#ifndef US_STORE_H
#define US_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <json-c/json.h>
#include "config.h"
#include "model.h"

struct us_store;

struct us_store_ops {
	const char *name;
	int (*load_conf)(struct us_store *s, struct us_conf *out, char *err, size_t len);
	/* records into m (whose records are replaced); *pending gets a transition
	 * the audit trail logged past them (pending->seq == m->seq + 1), else
	 * pending->seq is 0 */
	int (*load)(struct us_store *s, struct us_model *m, struct us_audit *pending, char *err,
		    size_t len);
	int (*save)(struct us_store *s, const struct us_model *m);
	int (*append)(struct us_store *s, const struct us_audit *a);
	/* the last `limit` transitions, oldest first, appended to arr */
	int (*history)(struct us_store *s, long limit, json_object *arr);
	int (*watch)(struct us_store *s);
	int (*changed)(struct us_store *s);
	void (*close)(struct us_store *s);
	/* optional: what the last failed save or append met, in words ("" or
	 * NULL: its errno says it all) */
	const char *(*error)(struct us_store *s);
};

struct us_store {
	const struct us_store_ops *ops;
};

/* The store's words for its last failure, NULL if it has none. */
static inline const char *us_store_error(struct us_store *s)
{
	const char *e = s && s->ops->error ? s->ops->error(s) : NULL;

	return e && *e ? e : NULL;
}

/*
 * The file store: the configuration is a YAML file (config.h); the records
 * are <daemon.state_dir>/state.json, written whole (write, fsync, rename,
 * fsync of the directory); the audit trail is <state_dir>/audit.log, one
 * JSON line per transition, appended and fsynced. The state directory is
 * the one the first load_conf() names (it only changes with a restart).
 * The file is watched by the operator: the watch is a signalfd for SIGHUP
 * (which the caller blocks), and every SIGHUP is a change.
 */
int us_store_file_open(const char *conf_path, struct us_store **out);
/* The same with the state directory given (tests, tools): no configuration
 * needed to load the records. */
int us_store_file_open_dir(const char *conf_path, const char *state_dir, struct us_store **out);

static inline int us_store_load_conf(struct us_store *s, struct us_conf *out, char *err,
				     size_t len)
{
	return s->ops->load_conf(s, out, err, len);
}

static inline void us_store_close(struct us_store *s)
{
	if (s)
		s->ops->close(s);
}

#endif
