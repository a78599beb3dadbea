// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* cmocka tests of the controller's durable state and state machine. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "dp.h"
#include "state.h"

static char dir[128];

static int mkdir_tmp(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/us-test-state-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int rm_tmp(void **state)
{
	char cmd[256];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd);
}

static void test_transition_rules(void **state)
{
	static const struct {
		enum us_mstate from, to;
		enum us_actor by;
		int rc;
	} t[] = {
		{ US_MS_SIMULATION, US_MS_ACTIVE, US_BY_JUDGE, 0 },
		{ US_MS_SIMULATION, US_MS_REJECTED, US_BY_JUDGE, 0 },
		{ US_MS_ACTIVE, US_MS_REJECTED, US_BY_JUDGE, -EPERM },
		{ US_MS_REJECTED, US_MS_ACTIVE, US_BY_JUDGE, -EPERM },
		{ US_MS_REJECTED, US_MS_SIMULATION, US_BY_JUDGE, -EPERM },
		{ US_MS_DRAINING, US_MS_ACTIVE, US_BY_JUDGE, -EPERM },
		{ US_MS_SIMULATION, US_MS_ACTIVE, US_BY_OPERATOR, 0 },      /* promote */
		{ US_MS_SIMULATION, US_MS_REJECTED, US_BY_OPERATOR, 0 },    /* reject */
		{ US_MS_ACTIVE, US_MS_DRAINING, US_BY_OPERATOR, 0 },        /* demote */
		{ US_MS_REJECTED, US_MS_SIMULATION, US_BY_OPERATOR, 0 },    /* readmit */
		{ US_MS_DRAINING, US_MS_SIMULATION, US_BY_OPERATOR, 0 },    /* readmit */
		{ US_MS_DRAINING, US_MS_ACTIVE, US_BY_OPERATOR, 0 },        /* undo a demote */
		{ US_MS_ACTIVE, US_MS_REMOVED, US_BY_OPERATOR, 0 },
		{ US_MS_REJECTED, US_MS_ACTIVE, US_BY_OPERATOR, -EPERM },   /* readmit first */
		{ US_MS_ACTIVE, US_MS_SIMULATION, US_BY_OPERATOR, -EPERM },  /* demote drains */
		{ US_MS_REMOVED, US_MS_ACTIVE, US_BY_OPERATOR, -EPERM },
		{ US_MS_ACTIVE, US_MS_ACTIVE, US_BY_OPERATOR, -EALREADY },
		{ US_MS_DRAINING, US_MS_REMOVED, US_BY_TIMER, 0 },
		{ US_MS_ACTIVE, US_MS_REMOVED, US_BY_TIMER, -EPERM },
		{ US_MS_REMOVED, US_MS_ACTIVE, US_BY_CONFIG, 0 },
		{ US_MS_ACTIVE, US_MS_UNUSED, US_BY_CONFIG, -EINVAL },
	};
	char why[128];

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		int rc = us_transition_check(t[i].from, t[i].to, t[i].by, why, sizeof(why));

		if (rc != t[i].rc)
			fail_msg("case %zu (%d -> %d by %s): %d, expected %d (%s)", i, t[i].from,
				 t[i].to, us_actor_name(t[i].by), rc, t[i].rc, why);
		if (rc == -EPERM && !strstr(why, us_actor_name(t[i].by)))
			fail_msg("case %zu: reason \"%s\" does not name the actor", i, why);
	}
}

static void test_save_load_roundtrip(void **state)
{
	struct us_state st = { 0 }, back = { 0 };
	struct us_mrec *m;
	char err[256];

	(void)state;
	assert_int_equal(us_state_load(&st, dir, err, sizeof(err)), 0);
	assert_int_equal(st.n, 0);
	assert_int_equal(us_state_add(&st, "v1-a", "sip", "1.0", US_MS_ACTIVE, 100.5, NULL), 0);
	assert_int_equal(us_state_add(&st, "v2-a", "sip", "2.0", US_MS_SIMULATION, 101, &m), 0);
	assert_int_equal(m->id, 1);
	m->ev.paired = 1234;
	m->ev.sim_err_only = 7;
	m->ev.sim_lat[17] = 99;
	m->ev.active_lat[US_LAT_BUCKETS - 1] = 5;
	m->streak = 2;
	assert_int_equal(us_state_add(&st, "v1-a", "sip", "1.0", US_MS_ACTIVE, 0, NULL), -EEXIST);
	assert_int_equal(us_state_save(&st), 0);
	assert_int_equal(us_state_load(&back, dir, err, sizeof(err)), 0);
	assert_int_equal(back.n, 2);
	m = us_state_find(&back, "v2-a");
	assert_non_null(m);
	assert_int_equal(m->id, 1);
	assert_int_equal(m->state, US_MS_SIMULATION);
	assert_int_equal(m->ev.paired, 1234);
	assert_int_equal(m->ev.sim_err_only, 7);
	assert_int_equal(m->ev.sim_lat[17], 99);
	assert_int_equal(m->ev.active_lat[US_LAT_BUCKETS - 1], 5);
	assert_int_equal(m->streak, 2);
	assert_true(us_state_find(&back, "v1-a")->since == 100.5);
	/* the lowest free id is reused */
	assert_int_equal(us_state_add(&back, "v2-b", "sip", "2.0", US_MS_SIMULATION, 0, &m), 0);
	assert_int_equal(m->id, 2);
	us_state_free(&st);
	us_state_free(&back);
}

static void test_transition_is_durable_and_audited(void **state)
{
	struct us_state st = { 0 }, back = { 0 };
	char err[256], path[256], line[1024];
	struct us_mrec *m;
	FILE *f;
	int lines = 0;

	(void)state;
	assert_int_equal(us_state_load(&st, dir, err, sizeof(err)), 0);
	m = us_state_find(&st, "v2-a");
	assert_non_null(m);
	assert_int_equal(us_state_transition(&st, m, US_MS_ACTIVE, US_BY_JUDGE, "joining condition held", 200), 0);
	assert_int_equal(us_state_transition(&st, us_state_find(&st, "v2-a"), US_MS_ACTIVE,
					     US_BY_JUDGE, "again", 201), -EALREADY);
	assert_int_equal(us_state_transition(&st, us_state_find(&st, "v1-a"), US_MS_REJECTED,
					     US_BY_JUDGE, "no", 201), -EPERM);
	assert_int_equal(us_state_load(&back, dir, err, sizeof(err)), 0);
	assert_int_equal(us_state_find(&back, "v2-a")->state, US_MS_ACTIVE);
	assert_int_equal(back.seq, 1);
	snprintf(path, sizeof(path), "%s/audit.log", dir);
	f = fopen(path, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		lines++;
		assert_non_null(strstr(line, "\"machine\":\"v2-a\""));
		assert_non_null(strstr(line, "\"from\":\"simulation\""));
		assert_non_null(strstr(line, "\"to\":\"active\""));
		assert_non_null(strstr(line, "\"by\":\"judge\""));
		assert_non_null(strstr(line, "joining condition held"));
	}
	fclose(f);
	assert_int_equal(lines, 1);
	/* no temporary file is left */
	snprintf(path, sizeof(path), "%s/state.json.tmp", dir);
	assert_int_not_equal(access(path, F_OK), 0);
	us_state_free(&st);
	us_state_free(&back);
}

/* An audit line ahead of the state for a machine the state does not know
 * cannot be replayed: the load says so instead of guessing. */
static void test_recovery_refuses_unknown_machine(void **state)
{
	struct us_state st = { 0 };
	char err[256], path[256];
	FILE *f;

	(void)state;
	snprintf(path, sizeof(path), "%s/audit.log", dir);
	f = fopen(path, "a");
	assert_non_null(f);
	fprintf(f, "{\"seq\":2,\"time\":300,\"machine\":\"ghost\",\"service\":\"sip\",\"version\":\"2.0\","
		   "\"from\":\"simulation\",\"to\":\"rejected\",\"by\":\"judge\",\"reason\":\"x\"}\n");
	fclose(f);
	assert_int_equal(us_state_load(&st, dir, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "cannot be replayed"));
}

/* A crash after the audit line and before the state file: the load
 * finishes the transition, once; a torn last line is dropped. */
static void test_recovery_with_record(void **state)
{
	struct us_state st = { 0 }, again = { 0 };
	char err[256], path[256];
	FILE *f;

	(void)state;
	/* fresh directory content */
	snprintf(path, sizeof(path), "rm -f %s/*", dir);
	assert_int_equal(system(path), 0);
	assert_int_equal(us_state_load(&st, dir, err, sizeof(err)), 0);
	assert_int_equal(us_state_add(&st, "s1", "sip", "2.0", US_MS_SIMULATION, 10, NULL), 0);
	assert_int_equal(us_state_save(&st), 0);
	us_state_free(&st);
	snprintf(path, sizeof(path), "%s/audit.log", dir);
	f = fopen(path, "a");
	assert_non_null(f);
	fprintf(f, "{\"seq\":1,\"time\":300,\"machine\":\"s1\",\"service\":\"sip\",\"version\":\"2.0\","
		   "\"from\":\"simulation\",\"to\":\"rejected\",\"by\":\"judge\",\"reason\":\"x\"}\n");
	fprintf(f, "{\"seq\":2,\"time\":301,\"machine\":\"s1\"");  /* torn */
	fclose(f);
	assert_int_equal(us_state_load(&st, dir, err, sizeof(err)), 0);
	assert_int_equal(us_state_find(&st, "s1")->state, US_MS_REJECTED);
	assert_int_equal(st.seq, 1);
	/* and it is durable: a second load reads it from the state file */
	assert_int_equal(us_state_load(&again, dir, err, sizeof(err)), 0);
	assert_int_equal(us_state_find(&again, "s1")->state, US_MS_REJECTED);
	assert_int_equal(again.seq, 1);
	us_state_free(&st);
	us_state_free(&again);
	/* loading once more replays nothing */
	assert_int_equal(us_state_load(&st, dir, err, sizeof(err)), 0);
	assert_int_equal(st.seq, 1);
	assert_int_equal(us_state_find(&st, "s1")->state, US_MS_REJECTED);
	us_state_free(&st);
}

/* A restart in every state, and a crash just after every kind of
 * transition's audit line: the state comes back, exactly once. */
static void test_restart_in_every_state(void **state)
{
	static const enum us_mstate states[] = { US_MS_ACTIVE, US_MS_SIMULATION, US_MS_DRAINING,
						 US_MS_REJECTED, US_MS_REMOVED };
	char err[256], cmd[256], path[256];

	(void)state;
	for (size_t i = 0; i < sizeof(states) / sizeof(states[0]); i++) {
		for (size_t j = 0; j < sizeof(states) / sizeof(states[0]); j++) {
			struct us_state st = { 0 }, back = { 0 };
			FILE *f;

			if (i == j)
				continue;
			snprintf(cmd, sizeof(cmd), "rm -f %s/*", dir);
			assert_int_equal(system(cmd), 0);
			assert_int_equal(us_state_load(&st, dir, err, sizeof(err)), 0);
			assert_int_equal(us_state_add(&st, "m", "sip", "2.0", states[i], 1, NULL), 0);
			assert_int_equal(us_state_save(&st), 0);
			/* a plain restart */
			assert_int_equal(us_state_load(&back, dir, err, sizeof(err)), 0);
			assert_int_equal(us_state_find(&back, "m")->state, states[i]);
			us_state_free(&back);
			/* the daemon died after the audit line of a move to states[j] */
			snprintf(path, sizeof(path), "%s/audit.log", dir);
			f = fopen(path, "a");
			assert_non_null(f);
			fprintf(f, "{\"seq\":1,\"time\":5,\"machine\":\"m\",\"service\":\"sip\","
				   "\"version\":\"2.0\",\"from\":\"x\",\"to\":\"%s\",\"by\":\"config\","
				   "\"reason\":\"r\"}\n", us_state_name(states[j]));
			fclose(f);
			assert_int_equal(us_state_load(&back, dir, err, sizeof(err)), 0);
			assert_int_equal(us_state_find(&back, "m")->state, states[j]);
			assert_int_equal(back.seq, 1);
			us_state_free(&back);
			assert_int_equal(us_state_load(&back, dir, err, sizeof(err)), 0);
			assert_int_equal(us_state_find(&back, "m")->state, states[j]);
			assert_int_equal(back.seq, 1);
			us_state_free(&back);
			us_state_free(&st);
		}
	}
}

static void test_bad_state_file(void **state)
{
	struct us_state st = { 0 };
	char err[256], path[256];
	FILE *f;

	(void)state;
	snprintf(path, sizeof(path), "%s/state.json", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "{\"version\":1,\"seq\":0,\"machines\":[{\"name\":\"x\",\"service\":\"s\","
		   "\"version\":\"1\",\"id\":999}]}");
	fclose(f);
	assert_int_equal(us_state_load(&st, dir, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "machines[0].id"));
	f = fopen(path, "w");
	fprintf(f, "{not json");
	fclose(f);
	assert_int_equal(us_state_load(&st, dir, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "not valid JSON"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_transition_rules),
		cmocka_unit_test(test_save_load_roundtrip),
		cmocka_unit_test(test_transition_is_durable_and_audited),
		cmocka_unit_test(test_recovery_refuses_unknown_machine),
		cmocka_unit_test(test_recovery_with_record),
		cmocka_unit_test(test_restart_in_every_state),
		cmocka_unit_test(test_bad_state_file),
	};

	return cmocka_run_group_tests(tests, mkdir_tmp, rm_tmp);
}
