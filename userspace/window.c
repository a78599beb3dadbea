// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* One judging window, pure: see window.h. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "judge.h"
#include "window.h"

static __u64 sum(const __u64 *v, size_t n)
{
	__u64 s = 0;

	for (size_t i = 0; i < n; i++)
		s += v[i];
	return s;
}

/* This window's evidence of a simulation machine: its new pairs with the
 * active machines (a failure is an error, 5xx/6xx, or no answer by the
 * deadline), and both latencies of the pairs both sides answered. */
static void window_evidence(const struct us_counts *c, struct us_judge_input *w)
{
	memset(w, 0, sizeof(*w));
	if (!c->have_win)
		return;
	for (int a = 0; a < US_O_MAX; a++) {
		for (int s = 0; s < US_O_MAX; s++) {
			__u64 n = c->win.pair.out[a][s];
			bool af = a >= US_O_ERR, sf = s >= US_O_ERR;

			w->paired += n;
			if (a != s)
				w->differ_class += n;
			if (af && sf)
				w->both_err += n;
			else if (sf)
				w->sim_err_only += n;
			else if (af)
				w->active_err_only += n;
		}
	}
	for (int b = 0; b < US_LAT_BUCKETS; b++) {
		w->sim_lat[b] = c->win.pair_lat_shadow[b];
		w->active_lat[b] = c->win.pair_lat_active[b];
	}
}

/*
 * The judge, once per window per simulation machine: the one call into
 * judge.h. In: the policy, what the machine's judging carried so far, this
 * window's evidence and the time in simulation; out: what it carries on and
 * the judgement. 0, or a negative errno (the judge refused the input: the
 * evidence is carried on, the judge's state is not).
 */
static int judge_window(const struct us_policy *p, const struct us_judging *in,
			const struct us_judge_input *w, double sim_seconds,
			struct us_judging *out, struct us_judgement *j)
{
	int err;

	*out = *in;
	out->ev.sim_seconds = sim_seconds;
	out->ev.paired += w->paired;
	out->ev.differ_class += w->differ_class;
	out->ev.sim_err_only += w->sim_err_only;
	out->ev.active_err_only += w->active_err_only;
	out->ev.both_err += w->both_err;
	for (int b = 0; b < US_LAT_BUCKETS; b++) {
		out->ev.sim_lat[b] += w->sim_lat[b];
		out->ev.active_lat[b] += w->active_lat[b];
	}
	err = us_judge(p, &out->ev, &out->js, j);
	if (err)
		return err;
	out->verdict = j->verdict;
	out->decision = j->decision;
	return 0;
}

static void observe(const struct us_counts *c, double seconds, const struct us_mobs *was,
		    struct us_mobs *o)
{
	const struct us_mstats *dl = &c->win;
	__u64 finals, errs;

	*o = *was;
	if (!c->read)
		return;
	o->cur = c->total;
	o->timeouts = c->total.overdue;
	if (!c->have_win)
		return;
	o->win = *dl;
	o->req_rate = (sum(dl->req, US_M_MAX) + dl->retrans_req) / seconds;
	o->resp_rate = sum(dl->resp_class, 8) / seconds;
	finals = sum(dl->final_class, 8);
	errs = dl->final_class[5] + dl->final_class[6];
	o->err_share = finals ? (double)errs / finals : NAN;
	o->p50_ns = us_hist_quantile(dl->lat_hist, 0.5);
	o->p99_ns = us_hist_quantile(dl->lat_hist, 0.99);
}

static struct us_window_move *decide(struct us_window_out *out, const struct us_rec *r,
				  enum us_mstate to, enum us_actor by, const char *reason)
{
	struct us_window_move *d = &out->dec[out->ndec++];

	snprintf(d->machine, sizeof(d->machine), "%s", r->name);
	d->to = to;
	d->by = by;
	snprintf(d->reason, sizeof(d->reason), "%s", reason);
	return d;
}

void us_window_run(const struct us_window_in *in, struct us_window_out *out)
{
	double seconds = in->seconds > 0 ? in->seconds : in->conf->window_s;

	out->ndec = 0;
	/* what the window saw of every machine */
	for (size_t i = 0; i < in->n; i++) {
		const struct us_rec *r = &in->recs[i];
		const struct us_counts *c = &in->counts[i];

		out->judging[i] = r->judging;
		out->judged[i] = false;
		observe(c, seconds, &r->obs, &out->obs[i]);
	}
	for (size_t i = 0; i < in->n; i++) {
		const struct us_rec *r = &in->recs[i];
		const struct us_conf_service *s = us_conf_find_service(in->conf, r->conf.service);
		struct us_judge_input w;
		struct us_judging next;
		struct us_judgement j;
		struct us_mobs *o = &out->obs[i];
		int err;

		if (r->state == US_MS_DRAINING && r->remove_at > 0 && in->now >= r->remove_at) {
			decide(out, r, US_MS_REMOVED, US_BY_TIMER, "drained");
			continue;
		}
		if (r->state != US_MS_SIMULATION || !s)
			continue;
		window_evidence(&in->counts[i], &w);
		err = judge_window(&s->policy, &r->judging, &w, in->now - r->since, &next, &j);
		out->judging[i] = next;         /* the evidence grows even when not judged */
		if (err)
			continue;
		out->judged[i] = true;
		o->last = j;
		o->judged = true;
		o->p50_ns = us_hist_quantile(next.ev.sim_lat, 0.5);
		o->p99_ns = us_hist_quantile(next.ev.sim_lat, 0.99);
		if (next.decision == US_D_PROMOTE)
			decide(out, r, US_MS_ACTIVE, US_BY_JUDGE, o->last.summary);
		else if (next.decision == US_D_REJECT)
			decide(out, r, US_MS_REJECTED, US_BY_JUDGE, o->last.summary);
	}
}
