// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* What judging a machine carries from window to window: see judging.h. */
#include <errno.h>
#include <string.h>

#include "judging.h"
#include "jsonval.h"

json_object *us_judging_json(const struct us_judging *j)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "evidence", us_window_json(&j->ev));
	json_object_object_add(o, "state", us_judge_state_json(&j->js));
	json_object_object_add(o, "verdict", json_object_new_int(j->verdict));
	json_object_object_add(o, "decision", json_object_new_int(j->decision));
	json_object_object_add(o, "streak", json_object_new_int64(j->streak));
	json_object_object_add(o, "windows", json_object_new_int64(j->windows));
	return o;
}

#define NEED(expr, f) do { if (expr) { *field = f; return -EINVAL; } } while (0)

int us_judging_parse(json_object *o, struct us_judging *j, const char **field)
{
	static __thread char why[160];
	json_object *v;
	double d;
	__u64 u;

	memset(j, 0, sizeof(*j));
	NEED(!json_object_object_get_ex(o, "evidence", &v), "judging.evidence");
	if (us_window_parse(v, &j->ev, why, sizeof(why))) {
		static __thread char f[200];

		snprintf(f, sizeof(f), "judging.evidence.%s", why);
		*field = f;
		return -EINVAL;
	}
	NEED(!json_object_object_get_ex(o, "state", &v), "judging.state");
	if (us_judge_state_parse(v, &j->js, field))
		return -EINVAL;
	NEED(us_jget_num(o, "verdict", &d) || d < 0 || d > 2, "judging.verdict");
	j->verdict = (int)d;
	NEED(us_jget_num(o, "decision", &d) || d < 0 || d > 2, "judging.decision");
	j->decision = (int)d;
	NEED(us_jget_u64(o, "streak", &u) || u > ~0u, "judging.streak");
	j->streak = (__u32)u;
	NEED(us_jget_u64(o, "windows", &u) || u > ~0u, "judging.windows");
	j->windows = (__u32)u;
	return 0;
}

/* Only what shows the record is of that format is checked: its counts are
 * dropped. */
int us_judging_parse_old(json_object *o, int format, struct us_judging *j, const char **field)
{
	json_object *ev;

	memset(j, 0, sizeof(*j));
	if (format == 1) {
		NEED(!json_object_object_get_ex(o, "evidence", &ev) ||
		     !json_object_is_type(ev, json_type_object), "evidence");
	} else {
		NEED(!json_object_object_get_ex(o, "judging", &ev) ||
		     !json_object_is_type(ev, json_type_object), "judging");
	}
	j->reset_from = format;
	return 0;
}

__u64 us_judging_paired(const struct us_judging *j)
{
	__u64 n = 0;

	for (int a = 0; a < US_O_MAX; a++)
		for (int s = 0; s < US_O_MAX; s++)
			n += j->ev.sim.out[a][s];
	return n;
}

__u32 us_judging_streak(const struct us_judging *j)
{
	return j->streak;
}

__u32 us_judging_windows(const struct us_judging *j)
{
	return j->windows;
}
