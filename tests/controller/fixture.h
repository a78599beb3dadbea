/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The controller's tests (build/test_controller): the daemon's core
 * (userspace/daemon.h) in this process, not attached, on a data plane of
 * its own (pins under /sys/fs/bpf/understudy-ctl-<pid>), in a network
 * namespace of its own (tests/testnet: the neighbour look-ups of a window
 * create entries there, nowhere else), with its configuration, state and
 * audit trail in /tmp/understudy-ctl-<pid>.
 *
 * Traffic is the data plane's own counters: a test adds to a machine's
 * per-CPU us_mstats entry what the XDP programs would have counted, and the
 * next window reads it as they would.
 *
 * Every test starts with a fresh daemon, data plane and directory on the
 * configuration cfg_write() makes from the machines given.
 */
#ifndef US_TEST_CONTROLLER_FIXTURE_H
#define US_TEST_CONTROLLER_FIXTURE_H

#include <stdbool.h>
#include <json-c/json.h>

#include "daemon.h"
#include "harness.h"

extern struct us_daemon ctl;        /* the daemon under test */
extern char ctl_dir[128];           /* its directory */
extern char ctl_conf_path[160];     /* its configuration file */
/* The service's policy, the inside of a YAML flow mapping ("min_paired:
 * 100, ..."), for cfg_write (NULL: the default policy; reset every test). */
extern const char *ctl_policy;

/* A machine of the service "sip" (198.18.100.1:5060, mirror_percent 100). */
struct ctl_machine {
	const char *name, *address, *version, *state;
};

/* Write the configuration with these machines (NULL-terminated by name). */
int cfg_write(const struct ctl_machine *m);
/* The configuration of a fresh test: v1-a, v1-b active, v2-a simulation. */
extern const struct ctl_machine ctl_machines[];
/* Re-read it (us_daemon_reload): 0, or a failure reported. */
int ctl_reload(void);

/* One control request (a JSON text) through us_daemon_command: the parsed
 * answer (json_object_put it), or NULL after reporting. */
json_object *ctl_cmd(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The same, and the answer must say ok (or, with ok false, a refusal):
 * reported otherwise. Returns the answer. */
json_object *ctl_ok(bool ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A machine in the "machines" answer, by name (borrowed from rep). */
json_object *ctl_find(json_object *rep, const char *name);
/* An integer field of a machine in the status (-1 when absent). */
long long ctl_field(const char *machine, const char *field);
/* Lines in the audit trail. */
int ctl_audit_lines(void);

/* Add to machine mid's counters what a window of mirrored traffic would:
 * pairs paired transactions of which the simulation erred in sim_err, and
 * as many finals with latency in bucket lat_bucket. */
int ctl_traffic(__u32 mid, __u64 pairs, __u64 sim_err, int lat_bucket);
/* The same for an active machine's finals (the service's latency). */
int ctl_active_traffic(__u32 mid, __u64 finals, int lat_bucket);
/* Add n pairs of machine mid whose exact codes differed (us_codes), as
 * the data plane counts them. */
int ctl_codes(__u32 mid, __u16 active, __u16 shadow, __u64 n);
/* A judging window. */
void ctl_window(void);

#endif
