// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* What judging a machine carries from window to window: see judging.h. */
#include <errno.h>
#include <string.h>

#include "judging.h"
#include "jsonval.h"

static json_object *hist_json(const __u64 *h)
{
	json_object *a = json_object_new_array();

	for (int i = 0; i < US_LAT_BUCKETS; i++)
		json_object_array_add(a, json_object_new_int64((int64_t)h[i]));
	return a;
}

json_object *us_judging_json(const struct us_judging *j)
{
	json_object *o = json_object_new_object(), *ev = json_object_new_object();

	json_object_object_add(ev, "sim_seconds", json_object_new_double(j->ev.sim_seconds));
	json_object_object_add(ev, "paired", json_object_new_int64((int64_t)j->ev.paired));
	json_object_object_add(ev, "differ_class", json_object_new_int64((int64_t)j->ev.differ_class));
	json_object_object_add(ev, "sim_err_only", json_object_new_int64((int64_t)j->ev.sim_err_only));
	json_object_object_add(ev, "active_err_only",
			       json_object_new_int64((int64_t)j->ev.active_err_only));
	json_object_object_add(ev, "both_err", json_object_new_int64((int64_t)j->ev.both_err));
	json_object_object_add(ev, "active_lat", hist_json(j->ev.active_lat));
	json_object_object_add(ev, "sim_lat", hist_json(j->ev.sim_lat));
	json_object_object_add(o, "evidence", ev);
	json_object_object_add(o, "streak", json_object_new_int64(j->js.streak));
	json_object_object_add(o, "judged", json_object_new_int64(j->js.judged));
	json_object_object_add(o, "last_paired", json_object_new_int64((int64_t)j->js.last_paired));
	json_object_object_add(o, "last_seconds", json_object_new_double(j->js.last_seconds));
	json_object_object_add(o, "verdict", json_object_new_int(j->verdict));
	json_object_object_add(o, "decision", json_object_new_int(j->decision));
	return o;
}

#define NEED(expr, f) do { if (expr) { *field = f; return -EINVAL; } } while (0)

static int evidence_parse(json_object *ev, struct us_judge_input *e, const char **field)
{
	NEED(us_jget_num(ev, "sim_seconds", &e->sim_seconds), "evidence.sim_seconds");
	NEED(us_jget_u64(ev, "paired", &e->paired), "evidence.paired");
	NEED(us_jget_u64(ev, "differ_class", &e->differ_class), "evidence.differ_class");
	NEED(us_jget_u64(ev, "sim_err_only", &e->sim_err_only), "evidence.sim_err_only");
	NEED(us_jget_u64(ev, "active_err_only", &e->active_err_only), "evidence.active_err_only");
	NEED(us_jget_u64(ev, "both_err", &e->both_err), "evidence.both_err");
	NEED(us_jget_hist(ev, "active_lat", e->active_lat), "evidence.active_lat");
	NEED(us_jget_hist(ev, "sim_lat", e->sim_lat), "evidence.sim_lat");
	return 0;
}

int us_judging_parse(json_object *o, struct us_judging *j, const char **field)
{
	json_object *ev;
	double d;
	__u64 u;

	memset(j, 0, sizeof(*j));
	NEED(!json_object_object_get_ex(o, "evidence", &ev), "judging.evidence");
	if (evidence_parse(ev, &j->ev, field))
		return -EINVAL;
	NEED(us_jget_u64(o, "streak", &u) || u > ~0u, "judging.streak");
	j->js.streak = (__u32)u;
	NEED(us_jget_u64(o, "judged", &u) || u > ~0u, "judging.judged");
	j->js.judged = (__u32)u;
	NEED(us_jget_u64(o, "last_paired", &j->js.last_paired), "judging.last_paired");
	NEED(us_jget_num(o, "last_seconds", &j->js.last_seconds), "judging.last_seconds");
	NEED(us_jget_num(o, "verdict", &d), "judging.verdict");
	j->verdict = (int)d;
	NEED(us_jget_num(o, "decision", &d), "judging.decision");
	j->decision = (int)d;
	return 0;
}

/* Records of the first state-file format: the streak, windows and last
 * verdict beside the evidence. */
int us_judging_parse_v1(json_object *o, struct us_judging *j, const char **field)
{
	json_object *ev;
	double d;
	__u64 u;

	memset(j, 0, sizeof(*j));
	NEED(!json_object_object_get_ex(o, "evidence", &ev), "evidence");
	if (evidence_parse(ev, &j->ev, field))
		return -EINVAL;
	NEED(us_jget_u64(o, "streak", &u), "streak");
	j->js.streak = (__u32)u;
	NEED(us_jget_u64(o, "windows", &u), "windows");
	j->js.judged = (__u32)u;
	NEED(us_jget_num(o, "last_verdict", &d), "last_verdict");
	j->verdict = (int)d;
	NEED(us_jget_num(o, "last_decision", &d), "last_decision");
	j->decision = (int)d;
	/* the judge's memory of the last window: the evidence as it stands */
	if (j->js.judged) {
		j->js.last_paired = j->ev.paired;
		j->js.last_seconds = j->ev.sim_seconds;
	}
	return 0;
}

__u64 us_judging_paired(const struct us_judging *j)
{
	return j->ev.paired;
}

__u32 us_judging_streak(const struct us_judging *j)
{
	return j->js.streak;
}

__u32 us_judging_windows(const struct us_judging *j)
{
	return j->js.judged;
}
