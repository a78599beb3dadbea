/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * understudyd's core, apart from its event loop so that it can be driven
 * by tests: configuration → data plane, windows → judgements →
 * transitions, and the control protocol's commands.
 *
 * Control protocol (Unix socket, one request per connection): the client
 * sends one JSON object and a newline, the daemon answers one JSON object
 * and a newline and closes. Every answer has "ok" (true/false); a refusal
 * has "error" (a sentence). Requests:
 *
 *   {"cmd":"status"}                      services, machines, last window
 *   {"cmd":"machines"}                    every machine record
 *   {"cmd":"add","name":N,"service":S,"address":A,"version":V[,"weight":W][,"state":"simulation"]}
 *   {"cmd":"remove","name":N}
 *   {"cmd":"promote"|"demote"|"reject"|"readmit","name":N[,"reason":R]}
 *   {"cmd":"explain","name":N}            the last judgement, every criterion
 *   {"cmd":"events"[,"limit":K]}          the audit trail's last K transitions
 *   {"cmd":"diffs"[,"limit":K]}           the last K sampled disagreements
 *   {"cmd":"reload"}                      re-read the configuration file
 */
#ifndef US_DAEMON_H
#define US_DAEMON_H

#include <pthread.h>
#include <stdbool.h>
#include "config.h"
#include "dp.h"
#include "judge.h"
#include "state.h"

#define US_DIFFS_KEPT 256

struct us_mview {                /* what a window saw of one machine */
	struct us_mstats prev;       /* counters at the last window */
	bool have_prev;
	double req_rate, resp_rate;  /* per second over the last window */
	double err_share;            /* 5xx/6xx share of finals in the last window */
	double p50_ns, p99_ns;       /* latency over the evidence (simulation) or window */
	__u64 timeouts;              /* transactions it never answered (total) */
	struct us_mstats cur;        /* counters now (totals, for metrics) */
	struct us_mstats win;        /* the last window's differences */
	struct us_judge_state js;
	struct us_judgement last;    /* last judgement (simulation machines) */
	bool judged;
};

struct us_daemon {
	struct us_conf conf;
	char conf_path[US_CONF_PATH_MAX];
	struct us_dp *dp;
	struct us_state st;
	struct us_mview view[US_MAX_MACHINES];
	__u32 svc_ids[US_MAX_SERVICES];      /* config service index → data-plane id */
	struct us_event diffs[US_DIFFS_KEPT];
	size_t ndiffs, diff_next;
	__u64 diffs_seen;
	double last_window;                  /* wall time of the last window */
	__u64 windows;
	pthread_mutex_t lock;                /* the metrics thread reads under it */
	bool attach;                         /* attach programs (false in tests) */
};

/* Wall-clock seconds. */
double us_now(void);

/* Load config, state, data plane; attach; reconcile. err gets a sentence. */
int us_daemon_start(struct us_daemon *d, const char *conf_path, bool attach, char *err,
		    size_t errlen);
void us_daemon_stop(struct us_daemon *d);
/* Re-read the configuration and apply only what changed. */
int us_daemon_reload(struct us_daemon *d, char *err, size_t errlen);
/* One judging window. */
int us_daemon_window(struct us_daemon *d);
/* Take a difference event from the ring buffer. */
void us_daemon_diff(struct us_daemon *d, const struct us_event *ev);
/* Answer a control request (a JSON text); returns a malloc'd JSON text. */
char *us_daemon_command(struct us_daemon *d, const char *req);
/* The Prometheus text exposition of the current metrics (malloc'd). */
char *us_daemon_metrics(struct us_daemon *d);

/* Logging, journald-friendly: "<level>text" when stderr is the journal,
 * "understudyd: level: text" otherwise. */
void us_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
extern int us_log_level;

#endif
