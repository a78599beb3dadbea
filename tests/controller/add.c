// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * `add`: a machine added by a command is audited like every other move; an
 * add that is refused leaves nothing behind: no record, no id used, no
 * audit line.
 */
#include <string.h>

#include "fixture.h"

static int machines(void)
{
	json_object *rep = ctl_cmd("{\"cmd\":\"machines\"}"), *arr;
	int n = -1;

	if (rep && json_object_object_get_ex(rep, "machines", &arr))
		n = (int)json_object_array_length(arr);
	if (rep)
		json_object_put(rep);
	return n;
}

/* the last audit event (events, limit 1): its field k */
static const char *last_event(const char *k, char *buf, size_t len)
{
	json_object *rep = ctl_ok(true, "{\"cmd\":\"events\",\"limit\":1}"), *arr, *v;

	snprintf(buf, len, "(none)");
	if (rep && json_object_object_get_ex(rep, "events", &arr) &&
	    json_object_array_length(arr) == 1 &&
	    json_object_object_get_ex(json_object_array_get_idx(arr, 0), k, &v))
		snprintf(buf, len, "%s", json_object_get_string(v));
	if (rep)
		json_object_put(rep);
	return buf;
}

static void expect_event(const char *k, const char *want)
{
	char b[128];

	if (strcmp(last_event(k, b, sizeof(b)), want))
		th_fail(k, b, want);
}

TH_TEST(add)
{
	if (th_subtest("audited")) {
		int lines = ctl_audit_lines();

		json_object_put(ctl_ok(true, "{\"cmd\":\"add\",\"name\":\"v2-x\",\"service\":\"sip\","
					     "\"address\":\"198.18.1.12\",\"version\":\"2.0\"}"));
		EQ("audit lines added", ctl_audit_lines() - lines, 1);
		expect_event("machine", "v2-x");
		expect_event("to", "simulation");
		expect_event("by", "operator");
	}

	if (th_subtest("control")) {
		/* a control machine runs the active version; never judged */
		json_object_put(ctl_ok(false, "{\"cmd\":\"add\",\"name\":\"c2\",\"service\":\"sip\","
					      "\"address\":\"198.18.1.14\",\"version\":\"2.0\","
					      "\"state\":\"control\"}"));
		th_eqf(ctl_field("c2", "id"), -1, "c2 (version 2.0 as control): id");
		json_object_put(ctl_ok(true, "{\"cmd\":\"add\",\"name\":\"c1\",\"service\":\"sip\","
					     "\"address\":\"198.18.1.14\",\"version\":\"1.0\","
					     "\"state\":\"control\"}"));
		expect_event("machine", "c1");
		expect_event("to", "control");
	}

	if (th_subtest("refused-leaves-nothing")) {
		int n = machines(), lines = ctl_audit_lines();
		long long next;

		/* the address of v1-a: the data plane tells machines by address */
		json_object_put(ctl_ok(false, "{\"cmd\":\"add\",\"name\":\"v2-dup\",\"service\":\"sip\","
					      "\"address\":\"198.18.1.1\",\"version\":\"2.0\"}"));
		json_object_put(ctl_ok(false, "{\"cmd\":\"add\",\"name\":\"v2-dup\",\"service\":\"sip\","
					      "\"address\":\"198.18.1.1\",\"version\":\"2.0\"}"));
		EQ("machines after refused adds", machines(), n);
		EQ("audit lines after refused adds", ctl_audit_lines(), lines);
		th_eqf(ctl_field("v2-dup", "id"), -1, "v2-dup: id");
		json_object_put(ctl_ok(true, "{\"cmd\":\"add\",\"name\":\"v2-next\",\"service\":\"sip\","
					     "\"address\":\"198.18.1.13\",\"version\":\"2.0\"}"));
		next = ctl_field("v2-next", "id");
		EQ("the next add's id: the lowest free one", next, n);
	}
}
