// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Readmission: a machine sent back to simulation, by the configuration
 * file, by `add` after a removal, or by `readmit`, starts with fresh
 * evidence and is judged in its very next window, on that evidence alone.
 */
#include <string.h>

#include "fixture.h"

#define LAT 100             /* a latency bucket (about 1 ms) */

/* The last judgement's evidence criterion: paired transactions judged. */
static long long judged_pairs(const char *name)
{
	json_object *rep = ctl_ok(true, "{\"cmd\":\"explain\",\"name\":\"%s\"}", name), *c, *v;
	long long n = -1;

	if (rep && json_object_object_get_ex(rep, "criteria", &c) &&
	    json_object_array_length(c) > 0 &&
	    json_object_object_get_ex(json_object_array_get_idx(c, 0), "samples", &v))
		n = json_object_get_int64(v);
	if (rep)
		json_object_put(rep);
	return n;
}

/* A window with `pairs` new pairs of machine name (and as many finals of
 * v1-a): then the judgement must be on `expect` pairs. */
static void judged_on(const char *name, __u64 pairs, long long expect)
{
	__u32 sim = (__u32)ctl_field(name, "id"), act = (__u32)ctl_field("v1-a", "id");

	ctl_traffic(sim, pairs, 0, LAT);
	ctl_active_traffic(act, pairs, LAT);
	ctl_window();
	th_eqf(judged_pairs(name), expect, "%s: pairs in the judgement", name);
	th_eqf(ctl_field(name, "paired"), expect, "%s: paired", name);
}

/* judged on 50 more pairs than it had (after a window that sets the
 * counters' base for a new machine) */
static void first_period(const char *name)
{
	long long had;

	ctl_window();
	had = ctl_field(name, "paired");
	judged_on(name, 50, had + 50);
}

/* back in simulation: nothing of the last period counts, the next window judges */
static void second_period(const char *name)
{
	th_eqf(ctl_field(name, "paired"), 0, "%s: paired after readmission", name);
	th_eqf(ctl_field(name, "streak"), 0, "%s: streak after readmission", name);
	judged_on(name, 20, 20);
	judged_on(name, 5, 25);
}

TH_TEST(readmit)
{
	if (th_subtest("by-readmit")) {
		first_period("v2-a");
		json_object_put(ctl_ok(true, "{\"cmd\":\"reject\",\"name\":\"v2-a\"}"));
		json_object_put(ctl_ok(true, "{\"cmd\":\"readmit\",\"name\":\"v2-a\"}"));
		second_period("v2-a");
	}

	if (th_subtest("by-the-configuration-file")) {
		struct ctl_machine m[4];

		memcpy(m, ctl_machines, sizeof(m));
		first_period("v2-a");
		m[2].state = "rejected";
		if (!cfg_write(m) && !ctl_reload()) {
			th_eqf(ctl_field("v2-a", "id") >= 0, 1, "v2-a known");
			m[2].state = "simulation";
			if (!cfg_write(m) && !ctl_reload())
				second_period("v2-a");
		}
	}

	if (th_subtest("by-add-after-remove")) {
		const char *add = "{\"cmd\":\"add\",\"name\":\"v2-x\",\"service\":\"sip\","
				  "\"address\":\"198.18.1.12\",\"version\":\"2.0\"}";

		json_object_put(ctl_ok(true, "%s", add));
		first_period("v2-x");
		json_object_put(ctl_ok(true, "{\"cmd\":\"remove\",\"name\":\"v2-x\"}"));
		json_object_put(ctl_ok(true, "%s", add));
		second_period("v2-x");
	}
}
