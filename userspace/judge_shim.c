// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* TEMPORARY, until judge2 lands: the judge's new interface (helper J's contract) over
 * the old judge, so that the daemon side builds and is tested. Drop it at the merge. */
#include <errno.h>
#include <string.h>
#include "judge.h"
#include "jsonval.h"

void us_window_add(struct us_window *c, const struct us_window *w)
{
	const __u64 *a = (const __u64 *)&w->sent;
	c->seconds += w->seconds;
	c->sent += w->sent; c->answered += w->answered; c->late += w->late;
	for (int x = 0; x < 2; x++) {
		struct us_pairs *d = x ? &c->control : &c->sim;
		const struct us_pairs *s = x ? &w->control : &w->sim;
		__u64 *dd = (__u64 *)d; const __u64 *ss = (const __u64 *)s;
		for (size_t i = 0; i < sizeof(*d) / 8; i++) dd[i] += ss[i];
	}
	for (__u32 i = 0; i < w->ncodes; i++)
		us_codes_add(c->codes, &c->ncodes, w->codes[i].active, w->codes[i].shadow, w->codes[i].n);
	for (int i = 0; i < US_OWN_MAX; i++) { c->own[i] += w->own[i]; c->own_active[i] += w->own_active[i]; c->own_both[i] += w->own_both[i]; }
	(void)a;
}
int us_policy_check(const struct us_policy *p, char *why, size_t len) { (void)p; (void)why; (void)len; return 0; }
int us_judge(const struct us_policy *p, const struct us_window *cum, const struct us_window *win,
	     struct us_judge_state *st, struct us_judgement *out)
{
	struct us_judge_input in = { 0 };
	(void)win;
	in.sim_seconds = cum->sim_seconds;
	for (int a = 0; a < US_O_MAX; a++) for (int s = 0; s < US_O_MAX; s++) {
		__u64 n = cum->sim.out[a][s]; bool af = a >= US_O_ERR, sf = s >= US_O_ERR;
		in.paired += n; if (a != s) in.differ_class += n;
		if (af && sf) in.both_err += n; else if (sf) in.sim_err_only += n; else if (af) in.active_err_only += n;
	}
	memcpy(in.active_lat, cum->sim.lat_active, sizeof(in.active_lat));
	memcpy(in.sim_lat, cum->sim.lat_shadow, sizeof(in.sim_lat));
	return us_judge_v1(p, &in, st, out);
}
json_object *us_judge_state_json(const struct us_judge_state *st)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "streak", json_object_new_int64(st->streak));
	json_object_object_add(o, "judged", json_object_new_int64(st->judged));
	json_object_object_add(o, "last_paired", json_object_new_int64((int64_t)st->last_paired));
	json_object_object_add(o, "last_seconds", json_object_new_double(st->last_seconds));
	return o;
}
int us_judge_state_parse(json_object *o, struct us_judge_state *st, const char **field)
{
	__u64 u;
	if (us_jget_u64(o, "streak", &u)) { *field = "state.streak"; return -EINVAL; }
	st->streak = (__u32)u;
	if (us_jget_u64(o, "judged", &u)) { *field = "state.judged"; return -EINVAL; }
	st->judged = (__u32)u;
	if (us_jget_u64(o, "last_paired", &st->last_paired)) { *field = "state.last_paired"; return -EINVAL; }
	if (us_jget_num(o, "last_seconds", &st->last_seconds)) { *field = "state.last_seconds"; return -EINVAL; }
	return 0;
}
json_object *us_judgement_json(const struct us_judgement *j)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "verdict", json_object_new_string(us_verdict_name(j->verdict)));
	json_object_object_add(o, "decision", json_object_new_string(us_decision_name(j->decision)));
	json_object_object_add(o, "summary", json_object_new_string(j->summary));
	return o;
}
