/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * What the programs that drive the real XDP programs by BPF_PROG_TEST_RUN
 * share (tests/test_xdp.c, tests/test_fuzz.c; tools/bench_xdp.c and
 * tests/test_dp.c use parts):
 *
 *  - cases: th_begin() names one, checks that fail print
 *    "test:FAIL:<case> <what> actual <x> expected <y>" and mark it failed,
 *    th_end() counts it; th_finish() prints "N passed, N failed";
 *  - the data plane under test (th), with its pins under
 *    /sys/fs/bpf/<prefix>-<pid>, in the network of tests/testnet; its
 *    clean-up, also on fatal signals, and of the pins of earlier runs
 *    that died;
 *  - set-up steps that report their failure as the case's;
 *  - test runs of an XDP program, us_stats snapshots, map helpers.
 *
 * The Makefile links harness.c into every test and benchmark, also those
 * that do not include this header: every global name starts with th_ (the
 * data plane under test is th).
 *
 * The runner (th_main), as the kernel's test_progs: a test program made of
 * one file per feature (the C files of tests/SUITE/, one binary build/test_SUITE),
 * each file defining tests with TH_TEST(name) { ... }; a test may split
 * into subtests with th_subtest(). Every test runs on a fresh fixture (the
 * suite's set-up before it, its tear-down after), so tests do not depend on
 * each other's order; a subtest sets up what it needs itself and undoes
 * what it changes, so that it can run alone:
 *
 *   build/test_xdp                 every test
 *   build/test_xdp -t mirror       one test, every subtest
 *   build/test_xdp -t 'pair/rate*' subtests by name (fnmatch patterns)
 *   build/test_xdp -l              the tests' names
 *   build/test_xdp -v              a line per case, and the tests' details
 */
#ifndef US_HARNESS_H
#define US_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>
#include <bpf/libbpf.h>

#include "dp.h"

#ifndef ARRAY_SIZE
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#endif

/* the largest frame a test builds */
#define TH_FRAME_MAX 9216

/* ---- cases ---------------------------------------------------------------- */

extern char th_cname[160];      /* the case under way */
extern int th_cfails;           /* its failed checks */
extern int th_npass, th_nfail;  /* cases so far */
extern int th_verbose;          /* US_TEST_VERBOSE=1: a line per case */

void th_begin(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void th_end(void);
/* "test:FAIL:<case> <what> actual <actual> expected <expected>" */
void th_fail(const char *what, const char *actual, const char *expected);
/* a == e, or a failure; returns whether it held */
int th_eq(const char *what, long long a, long long e);
#define EQ(what, a, e) th_eq(what, (long long)(a), (long long)(e))
/* the same, what a format */
int th_eqf(long long a, long long e, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* "XDP_PASS" etc.; "XDP_?" for other values */
const char *th_xdp_name(long long action);

/* ---- the runner ------------------------------------------------------------ */

struct th_test {
	const char *name;
	void (*fn)(void);
	const char *file;
	struct th_test *next;
};

void th_register(struct th_test *t);

/* Define and register a test: TH_TEST(name) { body } */
#define TH_TEST(tname)                                                               \
	static void th_test_fn_##tname(void);                                        \
	static struct th_test th_test_##tname = { #tname, th_test_fn_##tname,        \
						   __FILE__, NULL };                  \
	__attribute__((constructor)) static void th_test_reg_##tname(void)           \
	{                                                                            \
		th_register(&th_test_##tname);                                       \
	}                                                                            \
	static void th_test_fn_##tname(void)

/* Start a subtest of the running test (ending the one before): true when
 * it is selected, then its checks count as the case "<test>/<name>". */
bool th_subtest(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A suite's fixture: once() before the first test (e.g. into the test
 * network), setup() before and teardown() after every test. setup()
 * returns 0, or fails (reported as the test's case) and the test is not
 * run. Any of them may be NULL. */
struct th_fixture {
	int (*once)(void);
	int (*setup)(void);
	void (*teardown)(void);
};

/* Parse -t PATTERN (repeatable), -l, -v, -h; run the selected tests;
 * clean up; print "N passed, N failed". The exit status: 0, 1 on a
 * failure, 2 on bad arguments or a pattern that matches no test. */
int th_main(int argc, char **argv, const struct th_fixture *fx);

/* ---- start, set-up, end ----------------------------------------------------- */

/* stdout line-buffered; th_verbose from the environment */
void th_init(void);
/* 0 when run as root; else the failed case "setup" and the summary are
 * printed and -1 returned */
int th_need_root(void);
/* Per-CPU state (scratch, sequence numbers, token bucket) on one CPU;
 * th_cleanup() on SIGINT, SIGTERM, SIGHUP, SIGSEGV, SIGABRT and SIGPIPE;
 * the pins of earlier runs (/sys/fs/bpf/<pin_prefix>-<pid> of a process
 * no longer there) removed. */
void th_start(const char *pin_prefix);
/* The case "setup": 0 if setup() returned 0; else everything cleaned up,
 * the summary printed and 1 returned (the exit status). */
int th_setup_case(int (*setup)(void));
/* Clean up, print "N passed, N failed"; the exit status. */
int th_finish(void);

/* The data plane under test. */
struct th_dp {
	struct us_dp *dp;
	struct understudy_bpf *sk;
	struct ring_buffer *rb;        /* us_events, after th_setup_tables() */
	int fd_client, fd_machine, fd_egress;
	int fd_egress_t;        /* us_egress_t: the egress program's body, test-runnable */
	int fd_stats, fd_calls, fd_txns;
	char pin_root[96];
};
extern struct th_dp th;

/* Load the data plane with its pins under /sys/fs/bpf/<pin_prefix>-<pid>
 * (o->pin_root is set to that): 0 or -errno; th.dp is NULL on failure. */
int th_dp_open(const char *pin_prefix, struct us_dp_opts *o);
/* The ring buffer, the data plane and its pins: gone (the test network
 * stays). A later th_dp_open() starts afresh. */
void th_dp_close(void);
/* The ring buffer, the data plane, its pins, the test network: gone. Does
 * its work once; the signal handlers of th_start() call it too. */
void th_cleanup(void);

/* A set-up step failed: "<what> actual <err>(<strerror>): <us_dp_error>
 * expected 0" as a failure of the case; returns err (-1 for 0). */
int th_setup_fail(const char *what, int err);
/* Into the test network (tests/testnet), th_dp_open(), the buffer
 * th_read_stats() reads into: failures reported by th_setup_fail(). */
int th_setup_dp(const char *pin_prefix, struct us_dp_opts *o);
/* The same without entering the test network (already entered). */
int th_open_dp(const char *pin_prefix, struct us_dp_opts *o);
/* After the services and machines: both tables of services 0..nsvc-1
 * rebuilt, mach0 and sim0 machine-side interfaces, cfg, the ring buffer
 * of difference events read by ev_cb. Failures reported. */
int th_setup_tables(__u32 nsvc, const struct us_cfg *cfg, ring_buffer_sample_fn ev_cb);

/* Configuration from the test network's names (port 5060, weight 100):
 * 0 or -errno (us_dp_error() says why). */
int th_set_service(__u32 svc, const char *vip, __u16 share);
int th_set_machine(__u32 mid, __u32 svc, const char *addr, enum us_mstate state);
/* frames from testnet host `host`, on its interface, come from machine mid */
int th_set_mac(__u32 mid, int host);

/* ---- test runs -------------------------------------------------------------- */

struct th_res {
	int err;                 /* 0 or -errno */
	__u32 ret;               /* the XDP action */
	__u32 len;               /* bytes in out (metadata and frame) */
	__u32 meta;              /* metadata bytes before the frame in out */
	__u32 duration;          /* ns per run, the kernel's average */
	__u8 out[TH_FRAME_MAX + 64];
};

/* One run of prog_fd on the frame as received on testnet interface ifc. */
void th_run(int prog_fd, int ifc, const void *in, size_t len, struct th_res *r);
/* Run a program on a frame with metalen bytes of XDP metadata in front (in
 * holds both), as received on interface ifindex. */
void th_run_meta(int prog_fd, int ifindex, const void *in, size_t len, size_t metalen,
		 struct th_res *r);
/* The same, repeat times in the kernel. */
void th_run_repeat(int prog_fd, int ifc, const void *in, size_t len, __u32 repeat,
		   struct th_res *r);

/* ---- counters, maps, events ------------------------------------------------- */

/* All of us_stats, summed over the CPUs (one batch look-up): 0 or -errno. */
int th_read_stats(__u64 out[US_ST_MAX]);
/* a bad-packet reason (BAD_L2 .. TRUNC_BODY) */
bool th_is_bad(int stat);
/* how much the bad-packet reasons moved, together, from b to a */
long long th_bad_delta(const __u64 *b, const __u64 *a);

/* Entries of a hash map. */
long th_map_count(int fd, size_t key_size);
/* Delete every entry of a hash map. */
void th_map_clear(int fd, size_t key_size);

/* Read the difference events waiting in the ring buffer (the callback
 * given to th_setup_tables() sees each); how many. */
int th_events_drain(void);

#endif
