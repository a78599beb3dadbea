// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The control commands' handlers: a request (checked against the table in
 * commands.c) in, a JSON answer out. Every state change goes through
 * us_daemon_move() (the model's move).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "addr.h"
#include "commands.h"
#include "daemon.h"
#include "role.h"
#include "validate.h"

static json_object *jnum(double v)
{
	return isfinite(v) ? json_object_new_double(v) : json_object_new_null();
}

static const char *jstr(json_object *req, const char *k)
{
	json_object *v;

	if (!json_object_object_get_ex(req, k, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

static long jint(json_object *req, const char *k, long def)
{
	json_object *v;

	if (!json_object_object_get_ex(req, k, &v) || !json_object_is_type(v, json_type_int))
		return def;
	return (long)json_object_get_int64(v);
}

/* " (uid N)": who asked, for the audit trail (SO_PEERCRED; "" when the
 * command did not come over the socket). */
static const char *by_uid(const struct us_daemon *d, char *buf, size_t len)
{
	if (d->peer_uid < 0)
		return "";
	snprintf(buf, len, " (uid %d)", d->peer_uid);
	return buf;
}

static const char *jcmd(json_object *req)
{
	return jstr(req, "cmd");
}

static json_object *machine_reply(const struct us_rec *r)
{
	json_object *o = us_ok_reply();

	json_object_object_add(o, "machine", us_rec_json(r, US_RJ_VIEW));
	return o;
}

/* A live record by name (one that was never moved does not count). */
static struct us_rec *find(struct us_daemon *d, const char *name)
{
	struct us_rec *r = us_model_find(&d->model, name);

	return r && r->state != US_MS_UNUSED ? r : NULL;
}

/* ---- status, machines ---------------------------------------------------------- */

static __u64 sum(const __u64 *v, size_t n)
{
	__u64 s = 0;

	for (size_t i = 0; i < n; i++)
		s += v[i];
	return s;
}

/* The last window per service and version, over its machines that take
 * traffic (active, draining) or receive it (simulation); not a control
 * machine's. */
static json_object *versions_json(const struct us_daemon *d)
{
	json_object *arr = json_object_new_array();
	static __u64 hist[US_LAT_BUCKETS];
	const struct us_model *m = &d->model;

	for (size_t i = 0; i < m->n; i++) {
		const struct us_rec *r = &m->r[i];
		__u64 req = 0, finals = 0, errs = 0, to = 0;
		unsigned machines = 0;
		bool seen = false;
		json_object *o;

		for (size_t j = 0; j < i && !seen; j++)
			seen = !strcmp(m->r[j].conf.service, r->conf.service) &&
			       !strcmp(m->r[j].conf.version, r->conf.version);
		if (seen)
			continue;
		memset(hist, 0, sizeof(hist));
		for (size_t j = i; j < m->n; j++) {
			const struct us_rec *q = &m->r[j];
			const struct us_mstats *w = &q->obs.win;

			/* a control machine gets copies of the candidates' calls:
			 * its own line in the machines' table, not its version's */
			if (strcmp(q->conf.service, r->conf.service) ||
			    strcmp(q->conf.version, r->conf.version) || q->state == US_MS_REMOVED ||
			    q->state == US_MS_REJECTED || q->state == US_MS_UNUSED ||
			    q->state == US_MS_CONTROL)
				continue;
			machines++;
			req += sum(w->req, US_M_MAX);
			finals += sum(w->final_class, 8);
			errs += w->final_class[5] + w->final_class[6];
			to += q->obs.timeouts;
			for (int b = 0; b < US_LAT_BUCKETS; b++)
				hist[b] += w->lat_hist[b];
		}
		if (!machines)
			continue;
		o = json_object_new_object();
		json_object_object_add(o, "service", json_object_new_string(r->conf.service));
		json_object_object_add(o, "version", json_object_new_string(r->conf.version));
		json_object_object_add(o, "machines", json_object_new_int((int)machines));
		json_object_object_add(o, "req_rate",
				       jnum(d->conf.window_s > 0 ? req / d->conf.window_s : NAN));
		json_object_object_add(o, "error_share", jnum(finals ? (double)errs / finals : NAN));
		json_object_object_add(o, "p50_ms", jnum(us_hist_quantile(hist, 0.5) / 1e6));
		json_object_object_add(o, "p99_ms", jnum(us_hist_quantile(hist, 0.99) / 1e6));
		json_object_object_add(o, "timeouts", json_object_new_int64((int64_t)to));
		json_object_array_add(arr, o);
	}
	return arr;
}

static json_object *machines_json(const struct us_daemon *d)
{
	json_object *arr = json_object_new_array();

	for (size_t i = 0; i < d->model.n; i++)
		if (d->model.r[i].state != US_MS_UNUSED)
			json_object_array_add(arr, us_rec_json(&d->model.r[i], US_RJ_VIEW));
	return arr;
}

json_object *us_cmd_status(struct us_daemon *d, json_object *req)
{
	json_object *o = us_ok_reply(), *sv = json_object_new_array();

	(void)req;
	for (size_t i = 0; i < d->conf.nservices; i++) {
		const struct us_conf_service *s = &d->conf.services[i];
		json_object *so = json_object_new_object();
		char a[US_ADDR_STRLEN];

		json_object_object_add(so, "name", json_object_new_string(s->name));
		json_object_object_add(so, "vip", json_object_new_string(
					       us_addr_format(s->family, s->vip, a, sizeof(a))));
		json_object_object_add(so, "port", json_object_new_int(s->port));
		json_object_object_add(so, "mirror_percent",
				       json_object_new_double(s->share_bp / 100.0));
		json_object_array_add(sv, so);
	}
	json_object_object_add(o, "services", sv);
	json_object_object_add(o, "window_s", json_object_new_double(d->conf.window_s));
	json_object_object_add(o, "windows", json_object_new_int64((int64_t)d->windows));
	json_object_object_add(o, "machines", machines_json(d));
	json_object_object_add(o, "versions", versions_json(d));
	us_role_status(d, o);
	return o;
}

json_object *us_cmd_machines(struct us_daemon *d, json_object *req)
{
	json_object *o = us_ok_reply();

	(void)req;
	json_object_object_add(o, "machines", machines_json(d));
	return o;
}

/* ---- moves ---------------------------------------------------------------------- */

json_object *us_cmd_move(struct us_daemon *d, json_object *req)
{
	static const struct {
		const char *cmd;
		enum us_mstate to;
	} to_of[] = {
		{ "promote", US_MS_ACTIVE }, { "demote", US_MS_DRAINING },
		{ "reject", US_MS_REJECTED }, { "readmit", US_MS_SIMULATION },
		{ "remove", US_MS_REMOVED },     /* an active machine drains first */
	};
	const char *cmd = jcmd(req), *name = jstr(req, "name"), *why = jstr(req, "reason");
	enum us_mstate to = US_MS_UNUSED;
	char reason[US_REASON_MAX], u[32];
	struct us_rec *r;
	int rc;

	for (size_t i = 0; i < sizeof(to_of) / sizeof(to_of[0]); i++)
		if (!strcmp(cmd, to_of[i].cmd))
			to = to_of[i].to;
	r = find(d, name);
	if (!r)
		return us_err_reply("%s: no machine named \"%s\"", cmd, name);
	snprintf(reason, sizeof(reason), "%s%s%s%s", cmd, by_uid(d, u, sizeof(u)), why ? ": " : "",
		 why ? why : "");
	rc = us_daemon_move(d, r, to, US_BY_OPERATOR, reason);
	if (rc)
		return us_err_reply("%s %s: %s", cmd, name, us_model_error(&d->model));
	return machine_reply(us_model_find(&d->model, name));
}

/* Is the address some live machine's, or the VIP of a service? */
static const char *address_taken(struct us_daemon *d, const __u8 *a)
{
	for (size_t i = 0; i < d->model.n; i++) {
		const struct us_rec *q = &d->model.r[i];

		if (q->state != US_MS_REMOVED && q->state != US_MS_UNUSED && q->conf.family &&
		    !memcmp(q->conf.addr, a, 16))
			return q->name;
	}
	for (size_t i = 0; i < d->conf.nservices; i++)
		if (!memcmp(d->conf.services[i].vip, a, 16))
			return "a service's VIP";
	return NULL;
}

/*
 * add: everything the data plane would refuse is checked first, so that a
 * refused add leaves nothing behind. A removed machine of that name is
 * replaced by the new one.
 */
/* Does an active machine of the service run this version? */
static bool active_version(struct us_daemon *d, const char *svc, const char *ver)
{
	for (size_t i = 0; i < d->model.n; i++) {
		const struct us_rec *r = &d->model.r[i];

		if (r->state == US_MS_ACTIVE && !strcmp(r->conf.service, svc) &&
		    !strcmp(r->conf.version, ver))
			return true;
	}
	return false;
}

json_object *us_cmd_add(struct us_daemon *d, json_object *req)
{
	const char *name = jstr(req, "name"), *svc = jstr(req, "service");
	const char *addr = jstr(req, "address"), *ver = jstr(req, "version");
	const char *st = jstr(req, "state"), *taken;
	const struct us_conf_service *s = us_conf_find_service(&d->conf, svc);
	struct us_rec *r, old;
	struct us_mconf c = { 0 };
	bool replaced = false;
	char a[US_ADDR_STRLEN], why[128], q[300], reason[US_REASON_MAX], u[32];
	int state = US_MS_SIMULATION, rc;

	/* what the configuration file accepts, no more (validate.h) */
	if (us_valid_name(name, why, sizeof(why)))
		return us_err_reply("add: name \"%s\" %s", us_escape(name, q, sizeof(q)), why);
	if (us_valid_version(ver, why, sizeof(why)))
		return us_err_reply("add: version \"%s\" %s", us_escape(ver, q, sizeof(q)), why);
	r = us_model_find(&d->model, name);
	if (r && r->state != US_MS_REMOVED)
		return us_err_reply("add: a machine named \"%s\" exists", name);
	if (!s)
		return us_err_reply("add: no service named \"%s\"", us_escape(svc, q, sizeof(q)));
	c.family = us_addr_parse(addr, c.addr);
	if (!c.family)
		return us_err_reply("add: address \"%s\" is neither IPv4 nor IPv6",
				    us_escape(addr, q, sizeof(q)));
	if (us_valid_machine_addr(c.family, c.addr, s->family, s->vip, why, sizeof(why)))
		return us_err_reply("add: %s %s", us_addr_format(c.family, c.addr, a, sizeof(a)),
				    why);
	taken = address_taken(d, c.addr);
	if (taken)
		return us_err_reply("add: %s is already %s%s%s",
				    us_addr_format(c.family, c.addr, a, sizeof(a)),
				    strchr(taken, ' ') ? "" : "machine \"", taken,
				    strchr(taken, ' ') ? "" : "\"");
	if (st) {
		state = us_state_from_name(st);
		if (state != US_MS_SIMULATION && state != US_MS_ACTIVE && state != US_MS_CONTROL)
			return us_err_reply("add: state must be simulation, active or control, not "
					    "\"%s\"", st);
	}
	if (state == US_MS_CONTROL && !active_version(d, svc, ver))
		return us_err_reply("add: a control machine runs the active machines' version, and "
				    "no active machine of service \"%s\" runs version \"%s\"", svc,
				    ver);
	snprintf(c.service, sizeof(c.service), "%s", svc);
	snprintf(c.version, sizeof(c.version), "%s", ver);
	c.weight = (__u16)jint(req, "weight", 1);
	c.dynamic = true;
	c.state = (enum us_mstate)state;
	if (r) {
		old = *r;
		replaced = true;
		us_model_drop(&d->model, r);
	}
	snprintf(reason, sizeof(reason), "add%s", by_uid(d, u, sizeof(u)));
	rc = us_model_new(&d->model, name, &c, &r);
	if (!rc)
		rc = us_daemon_move(d, r, (enum us_mstate)state, US_BY_OPERATOR, reason);
	r = us_model_find(&d->model, name);
	if (rc && (!r || r->state == US_MS_UNUSED)) {
		/* refused, nothing kept: as it was */
		char e[sizeof(d->model.err)];

		snprintf(e, sizeof(e), "%s", us_model_error(&d->model));
		if (r)
			us_model_drop(&d->model, r);
		if (replaced && !us_model_new(&d->model, old.name, &old.conf, &r))
			*r = old;
		return us_err_reply("add: %s", e);
	}
	us_dp_learn_macs(d->dp);
	if (rc)
		return us_err_reply("add: %s", us_model_error(&d->model));
	return machine_reply(r);
}

/* ---- explain, events, diffs, reload ------------------------------------------------- */

json_object *us_cmd_explain(struct us_daemon *d, json_object *req)
{
	const char *name = jstr(req, "name");
	const struct us_judgement *j;
	const struct us_rec *r = find(d, name);
	json_object *o, *arr;
	char text[16384];

	if (!r)
		return us_err_reply("explain: no machine named \"%s\"", name);
	if (!r->obs.judged)
		return us_err_reply("explain: %s has not been judged yet (state %s; judging runs "
				    "every %.0f s while a machine is in simulation)", name,
				    us_state_name(r->state), d->conf.window_s);
	j = &r->obs.last;
	o = machine_reply(r);
	json_object_object_add(o, "verdict", json_object_new_string(us_verdict_name(j->verdict)));
	json_object_object_add(o, "decision", json_object_new_string(us_decision_name(j->decision)));
	json_object_object_add(o, "streak", json_object_new_int((int)j->streak));
	json_object_object_add(o, "summary", json_object_new_string(j->summary));
	arr = json_object_new_array();
	for (int i = 0; i < US_JUDGE_CRITERIA; i++)
		json_object_array_add(arr, us_criterion_json(&j->c[i]));
	json_object_object_add(o, "criteria", arr);
	json_object_object_add(o, "held", json_object_new_boolean(j->held));
	json_object_object_add(o, "stuck", json_object_new_boolean(j->stuck));
	json_object_object_add(o, "stuck_why", json_object_new_string(j->stuck ? j->stuck_why : ""));
	json_object_object_add(o, "undecided_s", jnum(j->undecided_s));
	/* the evidence: the candidate's pairs, and the control machine's on
	 * the same calls beside them (the noise floor), and the exact codes */
	json_object_object_add(o, "candidate", us_pairs_summary_json(&r->judging.ev.sim));
	json_object_object_add(o, "control", r->judging.ev.has_control ?
			       us_pairs_summary_json(&r->judging.ev.control) : NULL);
	json_object_object_add(o, "codes", us_codes_json(r->judging.ev.codes,
							 r->judging.ev.ncodes));
	json_object_object_add(o, "judgement", us_judgement_json(j));
	us_judge_explain(j, text, sizeof(text));
	json_object_object_add(o, "text", json_object_new_string(text));
	return o;
}

json_object *us_cmd_events(struct us_daemon *d, json_object *req)
{
	json_object *o, *arr = json_object_new_array();
	int rc = d->store->ops->history(d->store, jint(req, "limit", 20), arr);

	if (rc) {
		json_object_put(arr);
		return us_err_reply("events: reading the audit trail: %s", strerror(-rc));
	}
	o = us_ok_reply();
	json_object_object_add(o, "events", arr);
	return o;
}

json_object *us_cmd_diffs(struct us_daemon *d, json_object *req)
{
	long limit = jint(req, "limit", 20);
	json_object *o = us_ok_reply(), *arr = json_object_new_array();
	size_t n = d->ndiffs < (size_t)limit ? d->ndiffs : (size_t)limit;

	for (size_t k = 0; k < n; k++) {
		size_t i = (d->diff_next + US_DIFFS_KEPT - n + k) % US_DIFFS_KEPT;
		const struct us_event *e = &d->diffs[i];
		const struct us_rec *a = us_model_find_id(&d->model, e->active_mid);
		const struct us_rec *s = us_model_find_id(&d->model, e->sim_mid);
		json_object *x = json_object_new_object();
		size_t clen = e->callid_len < US_CALLID_COPY ? e->callid_len : US_CALLID_COPY;
		char cid[US_CALLID_COPY + 1];

		memcpy(cid, e->callid, clen);
		cid[clen] = 0;
		json_object_object_add(x, "call_id", json_object_new_string(cid));
		json_object_object_add(x, "method", json_object_new_string(us_method_name(e->method)));
		json_object_object_add(x, "active", json_object_new_string(a ? a->name : "?"));
		json_object_object_add(x, "simulation", json_object_new_string(s ? s->name : "?"));
		json_object_object_add(x, "active_code", json_object_new_int(e->active_code));
		json_object_object_add(x, "simulation_code", json_object_new_int(e->sim_code));
		json_object_object_add(x, "active_ms", json_object_new_double(e->active_lat_ns / 1e6));
		json_object_object_add(x, "simulation_ms", json_object_new_double(e->sim_lat_ns / 1e6));
		json_object_object_add(x, "kind", json_object_new_string(
					       e->kind == US_EV_DIFF_CLASS ? "class" : "code"));
		json_object_array_add(arr, x);
	}
	json_object_object_add(o, "diffs", arr);
	json_object_object_add(o, "seen", json_object_new_int64((int64_t)d->diffs_seen));
	/* every simulation machine's exact codes that differed, since it
	 * entered simulation (all of them, not a sample) */
	arr = json_object_new_array();
	for (size_t i = 0; i < d->model.n; i++) {
		const struct us_rec *r = &d->model.r[i];
		json_object *x;

		if (r->state != US_MS_SIMULATION && !r->judging.ev.ncodes)
			continue;
		if (r->state == US_MS_UNUSED || r->state == US_MS_REMOVED)
			continue;
		x = json_object_new_object();
		json_object_object_add(x, "machine", json_object_new_string(r->name));
		json_object_object_add(x, "state", json_object_new_string(us_state_name(r->state)));
		json_object_object_add(x, "codes", us_codes_json(r->judging.ev.codes,
								 r->judging.ev.ncodes));
		json_object_array_add(arr, x);
	}
	json_object_object_add(o, "code_tables", arr);
	return o;
}

json_object *us_cmd_reload(struct us_daemon *d, json_object *req)
{
	char e[4096];
	json_object *o;

	(void)req;
	if (us_daemon_reload(d, e, sizeof(e))) {
		/* every error of the list (us_err_reply would cut it at 1 KiB) */
		char *text;

		o = json_object_new_object();
		json_object_object_add(o, "ok", json_object_new_boolean(0));
		if (asprintf(&text, "reload: %s", e) < 0)
			text = NULL;
		json_object_object_add(o, "error", json_object_new_string(text ? text : e));
		free(text);
		return o;
	}
	o = us_ok_reply();
	json_object_object_add(o, "applied", json_object_new_string(e));
	return o;
}
