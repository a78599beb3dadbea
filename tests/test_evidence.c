// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * cmocka tests of the evidence (userspace/evidence.c): a window from a
 * machine's counters, the table of exact codes and its "other" row, the
 * record format's JSON both ways, and each way a record can be refused, by
 * field.
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
#include <cmocka.h>

#include "evidence.h"

static void mk_mstats(struct us_mstats *m)
{
	memset(m, 0, sizeof(*m));
	m->req[US_M_INVITE] = 10;
	m->req[US_M_ACK] = 9;
	m->req[US_M_BYE] = 8;
	m->final_class[2] = 15;
	m->final_class[5] = 2;
	m->late = 1;
	m->pair.out[US_O_2XX][US_O_2XX] = 14;
	m->pair.out[US_O_2XX][US_O_ERR] = 2;
	m->pair.out[US_O_2XX][US_O_NONE] = 1;
	m->pair.code_same = 13;
	m->pair.calls = 10;
	m->pair.calls_fail_shadow = 3;
	m->ctl.out[US_O_2XX][US_O_2XX] = 7;
	m->ctl.calls = 4;
	m->pair_lat_active[3] = 5;
	m->pair_lat_shadow[4] = 6;
	m->own[US_OWN_BYE] = 2;
	m->own_active[US_OWN_BYE] = 3;
	m->own_both[US_OWN_BYE] = 2;
}

static void test_window_of(void **state)
{
	struct us_codepair codes[2] = { { .active = 200, .shadow = 202, .n = 3 },
					{ .active = 486, .shadow = 480, .n = 1 } };
	struct us_mstats m;
	struct us_window w;

	(void)state;
	mk_mstats(&m);
	us_window_of(&w, &m, codes, 2, 1000.5, 5, 65, true);
	assert_true(w.t == 1000.5 && w.seconds == 5 && w.sim_seconds == 65);
	assert_int_equal(w.sent, 18);           /* INVITE and BYE, not the ACKs */
	assert_int_equal(w.answered, 17);
	assert_int_equal(w.late, 1);
	assert_int_equal(w.sim.out[US_O_2XX][US_O_ERR], 2);
	assert_int_equal(w.sim.out[US_O_2XX][US_O_NONE], 1);
	assert_int_equal(w.sim.code_same, 13);
	assert_int_equal(w.sim.calls_fail_shadow, 3);
	assert_int_equal(w.sim.lat_active[3], 5);
	assert_int_equal(w.sim.lat_shadow[4], 6);
	assert_true(w.has_control);
	assert_int_equal(w.control.out[US_O_2XX][US_O_2XX], 7);
	assert_int_equal(w.control.calls, 4);
	assert_int_equal(w.ncodes, 2);
	assert_int_equal(w.codes[1].active, 486);
	assert_int_equal(w.own_active[US_OWN_BYE], 3);
	/* no control machine: its pairs are not carried */
	us_window_of(&w, &m, NULL, 0, 1, 1, 1, false);
	assert_false(w.has_control);
	assert_int_equal(w.control.out[US_O_2XX][US_O_2XX], 0);
	assert_int_equal(w.ncodes, 0);
}

static void test_codes_other(void **state)
{
	struct us_codepair c[US_CODEPAIRS_MAX];
	__u32 n = 0;

	(void)state;
	us_codes_add(c, &n, 200, 202, 0);      /* nothing to count */
	assert_int_equal(n, 0);
	us_codes_add(c, &n, 200, 202, 2);
	us_codes_add(c, &n, 200, 202, 3);
	assert_int_equal(n, 1);
	assert_int_equal(c[0].n, 5);
	for (int i = 1; i < 40; i++)
		us_codes_add(c, &n, 200, (__u16)(300 + i), 1);
	assert_int_equal(n, US_CODEPAIRS_MAX);
	assert_int_equal(c[US_CODEPAIRS_MAX - 2].shadow, 300 + US_CODEPAIRS_MAX - 2);
	assert_int_equal(c[US_CODEPAIRS_MAX - 1].active, US_CODE_OTHER);
	assert_int_equal(c[US_CODEPAIRS_MAX - 1].shadow, US_CODE_OTHER);
	/* 39 distinct: 30 rows of their own, 9 in other */
	assert_int_equal(c[US_CODEPAIRS_MAX - 1].n, 39 - (US_CODEPAIRS_MAX - 2));
	/* a row of its own still counts in its row */
	us_codes_add(c, &n, 200, 301, 4);
	assert_int_equal(c[1].n, 5);
}

static void test_json_round_trip(void **state)
{
	struct us_codepair codes[1] = { { .active = 0, .shadow = 503, .n = 2 } };
	struct us_window w, back;
	struct us_mstats m;
	json_object *o, *again;
	char why[200];

	(void)state;
	mk_mstats(&m);
	us_window_of(&w, &m, codes, 1, 1733370000.25, 5.0, 120.5, true);
	o = us_window_json(&w);
	assert_int_equal(us_window_parse(o, &back, why, sizeof(why)), 0);
	assert_string_equal(why, "");
	assert_memory_equal(&w, &back, sizeof(w));
	/* through the text too */
	again = json_tokener_parse(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	assert_non_null(again);
	assert_int_equal(us_window_parse(again, &back, why, sizeof(why)), 0);
	assert_memory_equal(&w, &back, sizeof(w));
	json_object_put(again);
	json_object_put(o);
}

/* A field of a valid record replaced (or removed, value NULL), by a path of
 * member names; the error must name the field. */
struct bad_case {
	const char *desc;
	const char *path[3];
	const char *value;              /* JSON text, NULL: remove */
	const char *why;                /* the start of the error */
};

static const struct bad_case bad_cases[] = {
	{ "missing field", { "late" }, NULL, "late: missing" },
	{ "unknown field", { "extra" }, "1", "extra: not a field of the format" },
	{ "negative count", { "sent" }, "-1", "sent: not a count" },
	{ "fractional count", { "answered" }, "1.5", "answered: not a count" },
	{ "count as text", { "late" }, "\"3\"", "late: not a count" },
	{ "negative seconds", { "seconds" }, "-5", "seconds: -5 is out of range" },
	{ "seconds as text", { "sim_seconds" }, "\"60\"", "sim_seconds: not a number" },
	{ "has_control not a boolean", { "has_control" }, "1", "has_control: not true or false" },
	{ "sim not an object", { "sim" }, "[]", "sim: not an object" },
	{ "missing pair field", { "sim", "calls" }, NULL, "sim.calls: missing" },
	{ "short outcome matrix", { "sim", "out" }, "[[0,0,0,0,0]]", "sim.out: not an array of 5 rows" },
	{ "bad cell", { "control", "out" },
	  "[[0,0,0,0,0],[0,0,0,0,0],[0,0,-2,0,0],[0,0,0,0,0],[0,0,0,0,0]]",
	  "control.out[2][2]: not a count" },
	{ "both silent", { "sim", "out" },
	  "[[0,0,0,0,0],[0,0,0,0,0],[0,0,0,0,0],[0,0,0,0,0],[0,0,0,0,1]]",
	  "sim.out[4][4]: two silent sides make no pair" },
	{ "short histogram", { "sim", "lat_shadow" }, "[1,2,3]", "sim.lat_shadow: not an array of" },
	{ "codes not rows", { "codes" }, "[5]", "codes[0]: not an [active, shadow, count] row" },
	{ "code out of range", { "codes" }, "[[200, 99, 1]]", "codes[0]: a code is 100..699" },
	{ "codes equal", { "codes" }, "[[486, 486, 1]]", "codes[0]: 486 and 486 do not differ" },
	{ "codes twice", { "codes" }, "[[200, 202, 1], [200, 202, 2]]",
	  "codes[1]: the same codes as codes[0]" },
	{ "other too early", { "codes" }, "[[0, 0, 1]]", "codes[0]: [0, 0] (other) is only" },
	{ "own too long", { "own_both" }, "[0,0,0,0,0]", "own_both: not an array of 4 counts" },
};

static void test_parse_refuses(void **state)
{
	struct us_mstats m;
	struct us_window w;

	(void)state;
	mk_mstats(&m);
	us_window_of(&w, &m, NULL, 0, 10, 5, 60, true);
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const struct bad_case *c = &bad_cases[i];
		json_object *o = us_window_json(&w), *at = o;
		struct us_window back;
		char why[200];
		int k;

		for (k = 0; c->path[k + 1]; k++)
			assert_true(json_object_object_get_ex(at, c->path[k], &at));
		if (c->value)
			json_object_object_add(at, c->path[k], json_tokener_parse(c->value));
		else
			json_object_object_del(at, c->path[k]);
		if (us_window_parse(o, &back, why, sizeof(why)) != -EINVAL ||
		    strncmp(why, c->why, strlen(c->why))) {
			print_error("case \"%s\": got \"%s\", expected \"%s...\"\n", c->desc, why, c->why);
			fail();
		}
		json_object_put(o);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_window_of),
		cmocka_unit_test(test_codes_other),
		cmocka_unit_test(test_json_round_trip),
		cmocka_unit_test(test_parse_refuses),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
