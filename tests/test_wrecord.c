// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * cmocka tests of the window records (userspace/wrecord.c) and their
 * replay (userspace/replay.c): files bounded and rotated, lines counted
 * again after a restart, failures counted and never fatal, the line format
 * both ways and each refusal by field, and replay: the judge's state
 * carried from line to line (a new period when "since" changes), the
 * daemon's judgement compared, a bad line named by file and line.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "judging.h"
#include "replay.h"
#include "window.h"
#include "wrecord.h"

static char dir[64];

static int lines_of(const char *path)
{
	FILE *f = fopen(path, "r");
	int n = 0, c;

	if (!f)
		return -1;
	while ((c = fgetc(f)) != EOF)
		n += c == '\n';
	fclose(f);
	return n;
}

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/us-wrecord-%d", getpid());
	mkdir(dir, 0700);
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) ? -1 : 0;
}

/* A window of n pairs, all 2xx on both sides, latencies in one bucket. */
static void mk_window(struct us_window *w, __u64 n, double t, double sim_s)
{
	struct us_mstats m;

	memset(&m, 0, sizeof(m));
	m.req[US_M_INVITE] = n;
	m.final_class[2] = n;
	m.pair.out[US_O_2XX][US_O_2XX] = n;
	m.pair.code_same = n;
	m.pair.calls = n;
	m.pair_lat_active[100] = n;
	m.pair_lat_shadow[100] = n;
	us_window_of(w, &m, NULL, 0, t, 1, sim_s, false);
}

static void test_rotation(void **state)
{
	struct us_wrecords w, again;
	struct us_window win;
	char path[128], old[136];
	json_object *o;

	(void)state;
	mk_window(&win, 10, 100, 10);
	o = us_wrecord_json("v2-a", "sip", "2", 90, &win, NULL);
	us_wrecords_init(&w, dir, 3);
	for (int i = 0; i < 5; i++)
		assert_int_equal(us_wrecords_append(&w, "v2-a", o), 0);
	snprintf(path, sizeof(path), "%s/windows/v2-a.jsonl", dir);
	snprintf(old, sizeof(old), "%s.1", path);
	assert_int_equal(lines_of(old), 3);
	assert_int_equal(lines_of(path), 2);
	assert_int_equal(w.written, 5);
	assert_int_equal(w.failed, 0);
	/* a restarted daemon counts the lines already there */
	us_wrecords_init(&again, dir, 3);
	assert_int_equal(us_wrecords_append(&again, "v2-a", o), 0);
	assert_int_equal(lines_of(path), 3);
	assert_int_equal(us_wrecords_append(&again, "v2-a", o), 0);
	assert_int_equal(lines_of(path), 1);
	assert_int_equal(lines_of(old), 3);
	/* 0: nothing recorded */
	us_wrecords_set_max(&again, 0);
	assert_int_equal(us_wrecords_append(&again, "v2-a", o), 0);
	assert_int_equal(lines_of(path), 1);
	us_wrecords_free(&w);
	us_wrecords_free(&again);
	json_object_put(o);
}

static void test_failures_counted(void **state)
{
	struct us_wrecords w;
	struct us_window win;
	char file[128];
	json_object *o;
	FILE *f;

	(void)state;
	mk_window(&win, 1, 1, 1);
	o = us_wrecord_json("x", "sip", "2", 0, &win, NULL);
	us_wrecords_init(&w, dir, 10);
	assert_int_equal(us_wrecords_append(&w, "../escape", o), -EINVAL);
	assert_non_null(strstr(w.err, "not a file name"));
	assert_int_equal(us_wrecords_append(&w, "a/b", o), -EINVAL);
	assert_int_equal(w.failed, 2);
	us_wrecords_free(&w);
	/* the state directory is a file: no windows directory */
	snprintf(file, sizeof(file), "%s/plain", dir);
	f = fopen(file, "w");
	assert_non_null(f);
	fclose(f);
	us_wrecords_init(&w, file, 10);
	assert_true(us_wrecords_append(&w, "v2-a", o) < 0);
	assert_int_equal(w.failed, 1);
	assert_int_equal(w.written, 0);
	assert_non_null(strstr(w.err, "windows"));
	us_wrecords_free(&w);
	json_object_put(o);
}

static void test_line_round_trip(void **state)
{
	struct us_judgement j;
	struct us_wrecord r;
	struct us_window win;
	json_object *o;
	char why[256];

	(void)state;
	mk_window(&win, 7, 1000.5, 30);
	memset(&j, 0, sizeof(j));
	j.verdict = US_V_PASS;
	j.decision = US_D_PROMOTE;
	j.held = true;
	j.streak = 3;
	snprintf(j.summary, sizeof(j.summary), "all passed");
	o = us_wrecord_json("v2-a", "sip", "2.0", 970.5, &win, &j);
	assert_int_equal(us_wrecord_parse(o, &r, why, sizeof(why)), 0);
	assert_string_equal(r.machine, "v2-a");
	assert_string_equal(r.service, "sip");
	assert_string_equal(r.version, "2.0");
	assert_true(r.since == 970.5);
	assert_memory_equal(&r.w, &win, sizeof(win));
	assert_true(r.judged);
	assert_string_equal(r.verdict, us_verdict_name(US_V_PASS));
	assert_string_equal(r.decision, us_decision_name(US_D_PROMOTE));
	assert_true(r.held);
	json_object_put(o);
	/* not judged: no judgement read */
	o = us_wrecord_json("v2-a", "sip", "2.0", 970.5, &win, NULL);
	assert_int_equal(us_wrecord_parse(o, &r, why, sizeof(why)), 0);
	assert_false(r.judged);
	json_object_put(o);
}

static void test_line_refused(void **state)
{
	static const struct { const char *text, *why; } bad[] = {
		{ "[1]", "not a JSON object" },
		{ "{\"service\":\"s\",\"version\":\"2\",\"since\":0,\"window\":{}}", "machine: missing" },
		{ "{\"machine\":\"\",\"service\":\"s\",\"version\":\"2\",\"since\":0,\"window\":{}}",
		  "machine: not a string of 1..63 characters" },
		{ "{\"machine\":\"m\",\"service\":\"s\",\"version\":\"2\",\"window\":{}}",
		  "since: missing, or not a number" },
		{ "{\"machine\":\"m\",\"service\":\"s\",\"version\":\"2\",\"since\":0}", "window: missing" },
		{ "{\"machine\":\"m\",\"service\":\"s\",\"version\":\"2\",\"since\":0,\"window\":{}}",
		  "window.t: missing" },
	};
	struct us_wrecord r;
	char why[256];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		json_object *o = json_tokener_parse(bad[i].text);

		assert_non_null(o);
		assert_int_equal(us_wrecord_parse(o, &r, why, sizeof(why)), -EINVAL);
		if (strncmp(why, bad[i].why, strlen(bad[i].why))) {
			print_error("case %zu: got \"%s\", expected \"%s\"\n", i, why, bad[i].why);
			fail();
		}
		json_object_put(o);
	}
}

/* Lines of one machine, n windows of `pairs` each, in a file; since
 * changes at window `again` (0: never). */
static void write_series(const char *path, int n, __u64 pairs, int again, bool with_judgement)
{
	struct us_judging cur, next;
	struct us_policy p;
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	us_policy_default(&p);
	memset(&cur, 0, sizeof(cur));
	for (int i = 1; i <= n; i++) {
		double since = again && i >= again ? 5000 : 1000;
		struct us_judgement j;
		struct us_window w;
		json_object *o;

		if (i == again)
			memset(&cur, 0, sizeof(cur));
		mk_window(&w, pairs, since + i * 5, i * 5.0);
		memset(&j, 0, sizeof(j));
		if (us_window_judge(&p, &cur, &w, &next, &j))
			o = us_wrecord_json("v2-a", "sip", "2", since, &w, NULL);
		else
			o = us_wrecord_json("v2-a", "sip", "2", since, &w, with_judgement ? &j : NULL);
		cur = next;
		fprintf(f, "%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
		json_object_put(o);
	}
	fclose(f);
}

static void test_replay_same_as_judged(void **state)
{
	struct us_replay_opts o = { 0 };
	struct us_replay_result res;
	char path[128], err[512];
	FILE *in, *out = fopen("/dev/null", "w");

	(void)state;
	snprintf(path, sizeof(path), "%s/series.jsonl", dir);
	/* 40 windows, a new period from window 25 */
	write_series(path, 40, 500, 25, true);
	in = fopen(path, "r");
	assert_non_null(in);
	assert_int_equal(us_replay(in, path, &o, out, &res, err, sizeof(err)), 0);
	fclose(in);
	assert_int_equal(res.windows, 40);
	assert_int_equal(res.recorded, res.judged);
	assert_true(res.judged > 0);
	/* the same function, the state carried the same way: no difference */
	assert_int_equal(res.differ, 0);
	fclose(out);
}

static void test_replay_other_policy_differs(void **state)
{
	struct us_replay_opts o = { 0 };
	struct us_replay_result res;
	struct us_policy p;
	char path[128], err[512];
	FILE *in, *out = fopen("/dev/null", "w");

	(void)state;
	snprintf(path, sizeof(path), "%s/series2.jsonl", dir);
	write_series(path, 30, 500, 0, true);
	/* a policy that needs far more evidence never promotes where the
	 * default did */
	us_policy_default(&p);
	p.min_paired = 1000000;
	o.policy = &p;
	in = fopen(path, "r");
	assert_int_equal(us_replay(in, path, &o, out, &res, err, sizeof(err)), 0);
	fclose(in);
	assert_int_equal(res.windows, 30);
	assert_int_equal(res.decisions, 0);
	fclose(out);
}

static void test_replay_bad_line(void **state)
{
	struct us_replay_opts o = { 0 };
	struct us_replay_result res;
	char path[128], err[512];
	FILE *f, *out = fopen("/dev/null", "w");

	(void)state;
	snprintf(path, sizeof(path), "%s/bad.jsonl", dir);
	write_series(path, 2, 10, 0, false);
	f = fopen(path, "a");
	fprintf(f, "\n{\"machine\":\"v2-a\",\"service\":\"sip\",\"version\":\"2\",\"since\":1000,"
		   "\"window\":{\"t\":1}}\n");
	fclose(f);
	f = fopen(path, "r");
	assert_int_equal(us_replay(f, path, &o, out, &res, err, sizeof(err)), -EINVAL);
	fclose(f);
	/* line 4: a blank line 3 is allowed */
	{
		char want[256];

		snprintf(want, sizeof(want), "%s:4: window.seconds: missing", path);
		assert_string_equal(err, want);
	}
	assert_int_equal(res.windows, 2);
	f = fopen(path, "w");
	fprintf(f, "{not json\n");
	fclose(f);
	f = fopen(path, "r");
	assert_int_equal(us_replay(f, path, &o, out, &res, err, sizeof(err)), -EINVAL);
	fclose(f);
	assert_non_null(strstr(err, ":1: not valid JSON"));
	fclose(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rotation),
		cmocka_unit_test(test_failures_counted),
		cmocka_unit_test(test_line_round_trip),
		cmocka_unit_test(test_line_refused),
		cmocka_unit_test(test_replay_same_as_judged),
		cmocka_unit_test(test_replay_other_policy_differs),
		cmocka_unit_test(test_replay_bad_line),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
