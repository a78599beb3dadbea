// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * What operators see of a simulation machine beyond its verdict: the exact
 * codes that differed (taken out of the data plane every window, added up
 * since it entered simulation) in diffs, explain and the metrics; stuck in
 * the metrics; a control machine observed beside the candidate, never
 * judged.
 */
#include <stdlib.h>
#include <string.h>

#include "fixture.h"

#define LAT 100

/* The metrics text has this line (a whole line). */
static bool metric_line(const char *line)
{
	char *m = us_daemon_metrics(&ctl), *p;
	size_t n = strlen(line);
	bool found = false;

	for (p = m; p && (p = strstr(p, line)); p++)
		if ((p == m || p[-1] == '\n') && (p[n] == '\n' || !p[n])) {
			found = true;
			break;
		}
	if (!found)
		th_fail("metrics", "no such line", line);
	free(m);
	return found;
}

/* The rows of a code table [{"active", "shadow", "n"}]: n of (a, s), or -1. */
static long long code_n(json_object *codes, const char *a, const char *s)
{
	for (size_t i = 0; codes && i < json_object_array_length(codes); i++) {
		json_object *c = json_object_array_get_idx(codes, i), *x, *y, *n;

		if (json_object_object_get_ex(c, "active", &x) &&
		    json_object_object_get_ex(c, "shadow", &y) &&
		    json_object_object_get_ex(c, "n", &n) && !strcmp(json_object_get_string(x), a) &&
		    !strcmp(json_object_get_string(y), s))
			return json_object_get_int64(n);
	}
	return -1;
}

TH_TEST(codes)
{
	__u32 sim = (__u32)ctl_field("v2-a", "id"), act = (__u32)ctl_field("v1-a", "id");

	if (th_subtest("taken-added-shown")) {
		json_object *rep, *arr, *codes = NULL;

		ctl_window();                           /* the counters' base */
		ctl_codes(sim, 200, 202, 2);
		ctl_traffic(sim, 50, 0, LAT);
		ctl_active_traffic(act, 50, LAT);
		ctl_window();
		ctl_codes(sim, 200, 202, 3);
		ctl_codes(sim, 200, 0, 1);              /* unanswered by v2-a */
		ctl_traffic(sim, 50, 0, LAT);
		ctl_active_traffic(act, 50, LAT);
		ctl_window();
		rep = ctl_ok(true, "{\"cmd\":\"diffs\"}");
		if (rep && json_object_object_get_ex(rep, "code_tables", &arr) &&
		    json_object_array_length(arr) == 1)
			json_object_object_get_ex(json_object_array_get_idx(arr, 0), "codes", &codes);
		EQ("diffs: [200, 202]", code_n(codes, "200", "202"), 5);
		EQ("diffs: [200, 0]", code_n(codes, "200", "0"), 1);
		json_object_put(rep);
		rep = ctl_ok(true, "{\"cmd\":\"explain\",\"name\":\"v2-a\"}");
		codes = NULL;
		if (rep)
			json_object_object_get_ex(rep, "codes", &codes);
		EQ("explain: [200, 202]", code_n(codes, "200", "202"), 5);
		if (rep && (!json_object_object_get_ex(rep, "candidate", &arr) ||
			    !json_object_object_get_ex(arr, "pairs", &arr) ||
			    json_object_get_int64(arr) != 100))
			th_fail("explain: the candidate's pairs", json_object_to_json_string(rep), "100");
		if (rep && (!json_object_object_get_ex(rep, "control", &arr) ||
			    !json_object_is_type(arr, json_type_null)))
			th_fail("explain: the control's figures", "present", "null: no control machine");
		json_object_put(rep);
		metric_line("understudy_code_differences_total{service=\"sip\",machine=\"v2-a\","
			    "version=\"2.0\",active=\"200\",simulation=\"202\"} 5");
		metric_line("understudy_code_differences_total{service=\"sip\",machine=\"v2-a\","
			    "version=\"2.0\",active=\"200\",simulation=\"none\"} 1");
		metric_line("understudy_machine_stuck{service=\"sip\",machine=\"v2-a\","
			    "version=\"2.0\"} 0");
		/* taken out of the data plane: the next window adds nothing */
		ctl_window();
		rep = ctl_ok(true, "{\"cmd\":\"explain\",\"name\":\"v2-a\"}");
		codes = NULL;
		if (rep)
			json_object_object_get_ex(rep, "codes", &codes);
		EQ("explain: [200, 202] a window later", code_n(codes, "200", "202"), 5);
		json_object_put(rep);
	}

	if (th_subtest("control-beside-the-candidate")) {
		json_object *rep, *ctlo;
		__u32 cid;

		json_object_put(ctl_ok(true, "{\"cmd\":\"add\",\"name\":\"v1-c\",\"service\":\"sip\","
					     "\"address\":\"198.18.1.20\",\"version\":\"1.0\","
					     "\"state\":\"control\"}"));
		cid = (__u32)ctl_field("v1-c", "id");
		ctl_window();
		ctl_traffic(sim, 50, 0, LAT);
		ctl_traffic(cid, 50, 1, LAT);
		ctl_active_traffic(act, 50, LAT);
		ctl_window();
		rep = ctl_ok(false, "{\"cmd\":\"explain\",\"name\":\"v1-c\"}");
		json_object_put(rep);       /* refused: never judged */
		rep = ctl_ok(true, "{\"cmd\":\"explain\",\"name\":\"v2-a\"}");
		if (rep && (!json_object_object_get_ex(rep, "control", &ctlo) ||
			    json_object_is_type(ctlo, json_type_null)))
			th_fail("explain: the control's figures", "null", "present");
		json_object_put(rep);
		metric_line("understudy_machine_state{service=\"sip\",machine=\"v1-c\","
			    "version=\"1.0\",state=\"control\"} 1");
		EQ("v1-c: still control", us_model_find(&ctl.model, "v1-c")->state, US_MS_CONTROL);
	}
}
