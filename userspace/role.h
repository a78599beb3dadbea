/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * understudyd's roles (daemon.role, docs/cluster.md):
 *
 *   standalone  everything on one host: the file store, the data plane's
 *               own counters (the daemon as it always was; no role state)
 *   agent       the data plane, programmed from etcd: the desired state's
 *               services and the machine records, read whole at start and
 *               at every change the store's watch (all of P/) reports, and
 *               applied as they are (us_daemon_apply: no move, no write);
 *               its counters served at GET /counters (us_role_counters)
 *   controller  no data plane: a candidate of the election (leader.h);
 *               while it leads, its windows pull every agent's counters
 *               (source_remote.h) and judge and move as a standalone
 *               daemon does, on the store on etcd, every write fenced by
 *               its leadership; standing by, it only reads
 *
 * A controller that comes to lead reads the records (the judging state the
 * last leader saved with its last window), makes a fresh counter source
 * (its first window is the base: nothing counted twice across leaders),
 * and reconciles the desired state before its first window.
 */
#ifndef US_ROLE_H
#define US_ROLE_H

#include <stdbool.h>
#include <json-c/json.h>
#include "counters.h"
#include "store.h"

struct us_daemon;
struct us_role_state;

/* The store of the file's role: the file store (standalone), or etcd's
 * (daemon.etcd) with this file's balancer and daemon settings. err says
 * why not. */
int us_role_store_open(const char *conf_path, struct us_store **out, char *err, size_t errlen);

/* After the records are loaded: nothing standalone; an agent's state; a
 * controller's source, election and, if it leads, its takeover. */
int us_role_start(struct us_daemon *d, char *err, size_t errlen);
/* Resign, free (d->role NULL after). */
void us_role_close(struct us_daemon *d);

/* A file descriptor for the event loop (-1: none) and what to do when it
 * is readable: a controller's election check. */
int us_role_fd(struct us_daemon *d);
void us_role_dispatch(struct us_daemon *d);

/* The store's watch reported a change: an agent reads and applies the
 * state, a standby reads the desired state (0, or a negative errno with
 * err); 1: go on as standalone (a leader reconciles). */
int us_role_reload(struct us_daemon *d, char *err, size_t errlen);
/* A window's part of the role: true when this daemon judges it (standalone,
 * a leader); an agent learns its machines' MACs, a standby reads the
 * records. */
bool us_role_window(struct us_daemon *d);
/* Whether this daemon may write records now (standalone, a leader). */
bool us_role_leads(const struct us_daemon *d);

/* An agent's counters (counters.h's read function; ctx is the daemon). */
int us_role_counters(void *ctx, struct us_counters_snap *out);

/* The role in a status answer: "role", and a controller's "leading",
 * "leader" (the leader's name, "" none), "agents" (stale ones flagged). */
void us_role_status(struct us_daemon *d, json_object *o);

#endif
