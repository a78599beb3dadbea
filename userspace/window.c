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

/* Does the service have a control machine (receiving the calls mirrored to
 * its simulation machines too)? */
static bool has_control(const struct us_window_in *in, const char *service)
{
	for (size_t i = 0; i < in->n; i++)
		if (in->recs[i].state == US_MS_CONTROL && !strcmp(in->recs[i].conf.service, service))
			return true;
	return false;
}

/*
 * The judge, once per window per simulation machine: the one call into
 * judge.h (the daemon's windows and replay both come here). In: the policy, what the machine's judging carried so far and
 * this window's evidence; out: what it carries on and the judgement. 0, or
 * a negative errno (the judge refused: the evidence is carried on, the
 * judge's state is not).
 */
int us_window_judge(const struct us_policy *p, const struct us_judging *in,
		    const struct us_window *w, struct us_judging *out, struct us_judgement *j)
{
	struct us_judge_state js = in->js;
	int err;

	*out = *in;
	us_window_add(&out->ev, w);
	/* the sums' clock is the last window's */
	out->ev.t = w->t;
	out->ev.sim_seconds = w->sim_seconds;
	out->ev.has_control = w->has_control;
	err = us_judge(p, &out->ev, w, &js, j);
	if (err)
		return err;
	out->js = js;
	out->verdict = j->verdict;
	out->decision = j->decision;
	out->streak = j->streak;
	out->windows++;
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
		out->has_win[i] = false;
		observe(c, seconds, &r->obs, &out->obs[i]);
	}
	for (size_t i = 0; i < in->n; i++) {
		const struct us_rec *r = &in->recs[i];
		const struct us_counts *c = &in->counts[i];
		const struct us_conf_service *s = us_conf_find_service(in->conf, r->conf.service);
		struct us_window *w = &out->win[i];
		struct us_judging next;
		struct us_judgement j;
		struct us_mobs *o = &out->obs[i];
		int err;

		if (r->state == US_MS_DRAINING && r->remove_at > 0 && in->now >= r->remove_at) {
			decide(out, r, US_MS_REMOVED, US_BY_TIMER, "drained");
			continue;
		}
		/* a control machine is observed (above), never judged */
		if (r->state != US_MS_SIMULATION || !s)
			continue;
		/* counters that could not be read make an empty window: no fresh
		 * evidence, which never passes */
		if (c->have_win)
			us_window_of(w, &c->win, c->codes, c->ncodes, in->now, seconds,
				     in->now - r->since, has_control(in, s->name));
		else
			us_window_of(w, &(struct us_mstats){ 0 }, NULL, 0, in->now, seconds,
				     in->now - r->since, has_control(in, s->name));
		out->has_win[i] = true;
		err = us_window_judge(&s->policy, &r->judging, w, &next, &j);
		out->judging[i] = next;         /* the evidence grows even when not judged */
		if (err)
			continue;
		out->judged[i] = true;
		o->last = j;
		o->judged = true;
		o->p50_ns = us_hist_quantile(next.ev.sim.lat_shadow, 0.5);
		o->p99_ns = us_hist_quantile(next.ev.sim.lat_shadow, 0.99);
		/* a held judgement is reported, never applied (policy mode hold) */
		if (j.held)
			continue;
		if (j.decision == US_D_PROMOTE)
			decide(out, r, US_MS_ACTIVE, US_BY_JUDGE, o->last.summary);
		else if (j.decision == US_D_REJECT)
			decide(out, r, US_MS_REJECTED, US_BY_JUDGE, o->last.summary);
	}
}
