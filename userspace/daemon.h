/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * understudyd's core, apart from its event loop so that it can be driven
 * by tests: the desired state (the store) reconciled into the machine
 * model and the data plane; windows (counters from the source, the pure
 * window, its decisions through the model); the control commands
 * (commands.h, handled in control.c) and the Prometheus metrics
 * (metrics.c).
 *
 * Errors are logged here (us_log), and answered as JSON errors to the
 * control protocol; the library below returns negative errno values with a
 * message.
 */
#ifndef US_DAEMON_H
#define US_DAEMON_H

#include <pthread.h>
#include <stdbool.h>
#include <json-c/json.h>
#include "config.h"
#include "dp.h"
#include "model.h"
#include "source.h"
#include "store.h"
#include "wrecord.h"

#define US_DIFFS_KEPT 256
#define US_DEFAULT_SOCKET US_CONF_DEF_SOCKET

struct us_daemon {
	struct us_conf conf;
	struct us_store *store;
	struct us_source *source;
	struct us_dp *dp;
	struct us_model model;
	__u32 svc_ids[US_MAX_SERVICES];      /* config service index → data-plane id */
	struct us_event diffs[US_DIFFS_KEPT];
	size_t ndiffs, diff_next;
	__u64 diffs_seen;
	double last_window;                  /* wall time of the last window */
	__u64 windows;
	__u64 link_repairs;                  /* link pins put back, links attached again */
	struct us_wrecords wrec;             /* window records (wrecord.h) */
	pthread_mutex_t lock;                /* the metrics thread reads under it */
	bool attach;                         /* attach programs (false in tests) */
	struct us_role_state *role;          /* agent, controller (role.h); NULL standalone */
	int lock_fd, pin_lock_fd;            /* flock'd: <state_dir>/lock, the pin root */
	int peer_uid;                        /* the control client's, while it is served (-1) */
};

/* Wall-clock seconds. */
double us_now(void);

/* Load config, records, data plane; attach; reconcile. err gets a sentence. */
int us_daemon_start(struct us_daemon *d, const char *conf_path, bool attach, char *err,
		    size_t errlen);
void us_daemon_stop(struct us_daemon *d);
/* Re-read the configuration and apply only what changed. */
int us_daemon_reload(struct us_daemon *d, char *err, size_t errlen);
/* The records into the data plane as they are, no move (an agent's). */
int us_daemon_apply(struct us_daemon *d, char *err, size_t errlen);
/* The configuration into the records (moves) and the data plane. */
int us_daemon_reconcile(struct us_daemon *d, char *err, size_t errlen);
/* One judging window. */
int us_daemon_window(struct us_daemon *d);
/* After a window: the links held (dp.h: us_dp_check_links) put back if a
 * pin was removed or a link detached, logged and counted. */
void us_daemon_check_links(struct us_daemon *d);
/* Take a difference event from the ring buffer. */
void us_daemon_diff(struct us_daemon *d, const struct us_event *ev);
/* Answer a control request (a JSON text); returns a malloc'd JSON text. */
char *us_daemon_command(struct us_daemon *d, const char *req);
/* The Prometheus text exposition of the current metrics (malloc'd). */
char *us_daemon_metrics(struct us_daemon *d);

/* Move a machine through the model and log it (reconcile, commands and the
 * window's decisions all do): us_model_move's return. */
int us_daemon_move(struct us_daemon *d, struct us_rec *r, enum us_mstate to, enum us_actor by,
		   const char *reason);
/* The configuration's service of a record (NULL: gone from the file). */
const struct us_conf_service *us_daemon_service(const struct us_daemon *d,
						const struct us_rec *r);

/* The control commands' handlers (the table: commands.c). */
json_object *us_cmd_status(struct us_daemon *d, json_object *req);
json_object *us_cmd_machines(struct us_daemon *d, json_object *req);
json_object *us_cmd_add(struct us_daemon *d, json_object *req);
json_object *us_cmd_move(struct us_daemon *d, json_object *req);
json_object *us_cmd_explain(struct us_daemon *d, json_object *req);
json_object *us_cmd_events(struct us_daemon *d, json_object *req);
json_object *us_cmd_diffs(struct us_daemon *d, json_object *req);
json_object *us_cmd_reload(struct us_daemon *d, json_object *req);
/* Answers: {"ok":true}, {"ok":false,"error":...} */
json_object *us_ok_reply(void);
json_object *us_err_reply(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* understudyctl's printers of the answers (ctl_print.c). */
void us_print_status(json_object *req, json_object *rep);
void us_print_machines(json_object *req, json_object *rep);
void us_print_added(json_object *req, json_object *rep);
void us_print_explain(json_object *req, json_object *rep);
void us_print_events(json_object *req, json_object *rep);
void us_print_diffs(json_object *req, json_object *rep);
void us_print_reloaded(json_object *req, json_object *rep);

/* Logging, journald-friendly: "<level>text" when stderr is the journal,
 * "understudyd: level: text" otherwise. */
void us_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A text of several lines (a refused configuration's errors), a log line
 * each, every one after prefix: none is cut away. */
void us_log_lines(int level, const char *prefix, const char *text);
extern int us_log_level;

#endif
