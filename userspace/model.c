// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The machine model: see model.h. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "addr.h"
#include "dp.h"
#include "jsonval.h"
#include "model.h"
#include "store.h"
#include "validate.h"

double us_wall_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int fail(struct us_model *m, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(struct us_model *m, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(m->err, sizeof(m->err), fmt, ap);
	va_end(ap);
	return err;
}

const char *us_model_error(const struct us_model *m)
{
	return m->err;
}

void us_model_init(struct us_model *m, struct us_store *store)
{
	memset(m, 0, sizeof(*m));
	m->store = store;
	m->now = us_wall_now;
}

void us_model_free(struct us_model *m)
{
	free(m->r);
	m->r = NULL;
	m->n = m->cap = 0;
}

/* ---- names -------------------------------------------------------------- */

static const char *const actor_names[US_BY_MAX] = {
	[US_BY_CONFIG] = "config", [US_BY_JUDGE] = "judge",
	[US_BY_OPERATOR] = "operator", [US_BY_TIMER] = "timer",
};

const char *us_actor_name(enum us_actor a)
{
	return (unsigned)a < US_BY_MAX ? actor_names[a] : "?";
}

int us_actor_from_name(const char *s)
{
	for (int i = 0; i < US_BY_MAX; i++)
		if (!strcmp(s, actor_names[i]))
			return i;
	return -1;
}

/* the names of us_state_name(), the one table of them */
int us_state_from_name(const char *s)
{
	for (int i = 0; i < US_MS_MAX; i++)
		if (!strcmp(s, us_state_name(i)))
			return i;
	return -1;
}

/* ---- records ------------------------------------------------------------ */

struct us_rec *us_model_find(struct us_model *m, const char *name)
{
	for (size_t i = 0; i < m->n; i++)
		if (!strcmp(m->r[i].name, name))
			return &m->r[i];
	return NULL;
}

struct us_rec *us_model_find_id(struct us_model *m, __u32 id)
{
	for (size_t i = 0; i < m->n; i++)
		if (m->r[i].id == id)
			return &m->r[i];
	return NULL;
}

static void obs_reset(struct us_mobs *o)
{
	__u64 timeouts = o->timeouts;

	memset(o, 0, sizeof(*o));
	o->timeouts = timeouts;
	o->req_rate = o->resp_rate = o->err_share = o->p50_ns = o->p99_ns = NAN;
}

int us_model_new(struct us_model *m, const char *name, const struct us_mconf *c,
		 struct us_rec **out)
{
	struct us_rec *r;
	__u32 id;

	m->err[0] = 0;
	if (!name[0] || strlen(name) >= US_NAME_MAX)
		return fail(m, -EINVAL, "a name must be 1..%d characters", US_NAME_MAX - 1);
	if (us_model_find(m, name))
		return fail(m, -EEXIST, "a machine named \"%s\" exists", name);
	for (id = 0; id < US_MAX_MACHINES; id++)
		if (!us_model_find_id(m, id))
			break;
	if (id == US_MAX_MACHINES)
		return fail(m, -ENOSPC, "every machine id (%d) is in use", US_MAX_MACHINES);
	if (m->n == m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 16;
		struct us_rec *nr = realloc(m->r, cap * sizeof(*nr));

		if (!nr)
			return fail(m, -ENOMEM, "out of memory");
		m->r = nr;
		m->cap = cap;
	}
	r = &m->r[m->n++];
	memset(r, 0, sizeof(*r));
	snprintf(r->name, sizeof(r->name), "%s", name);
	r->id = id;
	r->conf = *c;
	r->state = US_MS_UNUSED;
	obs_reset(&r->obs);
	if (out)
		*out = r;
	return 0;
}

void us_model_drop(struct us_model *m, struct us_rec *r)
{
	size_t i = (size_t)(r - m->r);

	if (i >= m->n)
		return;
	memmove(&m->r[i], &m->r[i + 1], (m->n - i - 1) * sizeof(*r));
	m->n--;
}

/* ---- the rules ---------------------------------------------------------- */

#define ST(s) (1u << (s))
#define ANY_STATE (ST(US_MS_ACTIVE) | ST(US_MS_SIMULATION) | ST(US_MS_DRAINING) | \
		   ST(US_MS_REJECTED) | ST(US_MS_REMOVED) | ST(US_MS_CONTROL))

/* Who may move a machine from which states to which: every rule there is. */
static const struct {
	enum us_actor by;
	unsigned from, to;          /* sets of states */
} rules[] = {
	/* the file is the operator's word: anything, also a machine's first state */
	{ US_BY_CONFIG, ST(US_MS_UNUSED) | ANY_STATE, ANY_STATE },
	/* the joining condition, or a rejection */
	{ US_BY_JUDGE, ST(US_MS_SIMULATION), ST(US_MS_ACTIVE) | ST(US_MS_REJECTED) },
	/* add (a control machine is observed, never judged: only the file and
	 * the operator move it, in and out) */
	{ US_BY_OPERATOR, ST(US_MS_UNUSED),
	  ST(US_MS_SIMULATION) | ST(US_MS_ACTIVE) | ST(US_MS_CONTROL) },
	/* promote, reject */
	{ US_BY_OPERATOR, ST(US_MS_SIMULATION), ST(US_MS_ACTIVE) | ST(US_MS_REJECTED) },
	/* demote */
	{ US_BY_OPERATOR, ST(US_MS_ACTIVE), ST(US_MS_DRAINING) },
	/* readmit */
	{ US_BY_OPERATOR, ST(US_MS_REJECTED) | ST(US_MS_DRAINING), ST(US_MS_SIMULATION) },
	/* promote a draining machine: undo a demote */
	{ US_BY_OPERATOR, ST(US_MS_DRAINING), ST(US_MS_ACTIVE) },
	/* remove */
	{ US_BY_OPERATOR, ANY_STATE & ~ST(US_MS_REMOVED), ST(US_MS_REMOVED) },
	/* the end of a drain on the way out */
	{ US_BY_TIMER, ST(US_MS_DRAINING), ST(US_MS_REMOVED) },
};

int us_model_rule(enum us_mstate from, enum us_mstate to, enum us_actor by, char *why,
		  size_t len)
{
	if ((unsigned)from >= US_MS_MAX || (unsigned)to >= US_MS_MAX || to == US_MS_UNUSED) {
		snprintf(why, len, "unknown state");
		return -EINVAL;
	}
	if (from == to) {
		snprintf(why, len, "already %s", us_state_name(to));
		return -EALREADY;
	}
	for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++)
		if (rules[i].by == by && (rules[i].from & ST(from)) && (rules[i].to & ST(to)))
			return 0;
	snprintf(why, len, "%s may not move a machine from %s to %s", us_actor_name(by),
		 us_state_name(from), us_state_name(to));
	return -EPERM;
}

/* ---- the one mutation ----------------------------------------------------- */

int us_model_save(struct us_model *m)
{
	int err;

	m->err[0] = 0;
	if (!m->store)
		return 0;
	err = m->store->ops->save(m->store, m);
	if (err) {
		m->save_failures++;
		return fail(m, err, "saving the machine records: %s",
			    us_store_error(m->store) ?: strerror(-err));
	}
	return 0;
}

int us_model_apply(struct us_model *m, const struct us_rec *r)
{
	char e[sizeof(m->err) - 64];
	int err;

	m->err[0] = 0;
	if (!m->dp.apply)
		return 0;
	e[0] = 0;
	err = m->dp.apply(m->dp.ctx, r, e, sizeof(e));
	if (err)
		return fail(m, err, "machine %s: the data plane refused %s: %s", r->name,
			    us_state_name(r->state), e[0] ? e : strerror(-err));
	return 0;
}

static void audit_of(struct us_audit *a, const struct us_model *m, const struct us_rec *r,
		     enum us_mstate to, enum us_actor by, const char *reason, double now)
{
	memset(a, 0, sizeof(*a));
	a->seq = m->seq + 1;
	a->time = now;
	snprintf(a->machine, sizeof(a->machine), "%s", r->name);
	a->id = r->id;
	a->conf = r->conf;
	a->from = r->state;
	a->to = to;
	a->by = by;
	snprintf(a->reason, sizeof(a->reason), "%s", reason ? reason : "");
}

/* replay: the transition's audit line, already written (recovery) */
static int move(struct us_model *m, struct us_rec *r, enum us_mstate to, enum us_actor by,
		const char *reason, double now, const struct us_audit *replay)
{
	struct us_rec saved = *r;
	struct us_audit a;
	double remove_at = 0;
	char why[160];
	int err;

	m->err[0] = 0;
	/* an active machine the operator removes drains first */
	if (to == US_MS_REMOVED && by == US_BY_OPERATOR && r->state == US_MS_ACTIVE) {
		to = US_MS_DRAINING;
		remove_at = now + m->drain_s;
	}
	if (replay && to == US_MS_DRAINING)
		remove_at = replay->remove_at;
	err = us_model_rule(r->state, to, by, why, sizeof(why));
	if (err)
		return fail(m, err, "%s", why);
	audit_of(&a, m, r, to, by, reason, now);
	a.remove_at = remove_at;
	if (!replay && m->store) {
		err = m->store->ops->append(m->store, &a);
		if (err)
			return fail(m, err, "writing the audit trail: %s",
				    us_store_error(m->store) ?: strerror(-err));
	}
	/* reset what the new state resets */
	r->state = to;
	r->since = now;
	r->remove_at = remove_at;
	if (to == US_MS_SIMULATION) {
		/* a new simulation period: nothing of an earlier one counts */
		memset(&r->judging, 0, sizeof(r->judging));
		r->obs.judged = false;
		memset(&r->obs.last, 0, sizeof(r->obs.last));
	}
	m->seq++;
	err = us_model_save(m);
	if (err) {
		*r = saved;             /* not durable: not done */
		m->seq--;
		return err;
	}
	return us_model_apply(m, r);
}

int us_model_move(struct us_model *m, struct us_rec *r, enum us_mstate to, enum us_actor by,
		  const char *reason)
{
	return move(m, r, to, by, reason, m->now(), NULL);
}

int us_model_recover(struct us_model *m, const struct us_audit *p)
{
	char e[sizeof(m->err)];
	struct us_rec *r;
	int err;

	m->err[0] = 0;
	if (!p || p->seq != m->seq + 1)
		return 0;
	r = us_model_find(m, p->machine);
	if (!r && p->from == US_MS_UNUSED) {
		/* the machine's creation: its record is in the audit line */
		if (us_model_find_id(m, p->id))
			return fail(m, -EINVAL, "transition %llu (%s): cannot be replayed: id %u "
				    "in use", (unsigned long long)p->seq, p->machine, p->id);
		err = us_model_new(m, p->machine, &p->conf, &r);
		if (err) {
			snprintf(e, sizeof(e), "%s", m->err);
			return fail(m, err, "transition %llu (%s): cannot be replayed: %s",
				    (unsigned long long)p->seq, p->machine, e);
		}
		r->id = p->id;
	}
	if (!r)
		return fail(m, -EINVAL, "transition %llu (%s): cannot be replayed: no such machine",
			    (unsigned long long)p->seq, p->machine);
	err = move(m, r, p->to, p->by, p->reason, p->time, p);
	if (err && err != -EALREADY) {
		snprintf(e, sizeof(e), "%s", m->err);
		return fail(m, err == -EPERM ? -EINVAL : err,
			    "transition %llu (%s, to %s by %s): cannot be replayed: %s",
			    (unsigned long long)p->seq, p->machine, us_state_name(p->to),
			    us_actor_name(p->by), e);
	}
	if (err == -EALREADY) {
		/* the records have it already (saved, sequence not): count it */
		m->seq++;
		return us_model_save(m);
	}
	return 0;
}

/* ---- JSON ------------------------------------------------------------------ */

static json_object *jnum(double v)
{
	return isfinite(v) ? json_object_new_double(v) : json_object_new_null();
}

static int get_state(json_object *o, const char *k, enum us_mstate *s)
{
	char b[32];
	int v;

	if (us_jget_str(o, k, b, sizeof(b)) || (v = us_state_from_name(b)) < 0)
		return -EINVAL;
	*s = (enum us_mstate)v;
	return 0;
}

/* A string member that fits and that check accepts: 0 or -EINVAL. */
static int get_valid(json_object *o, const char *k, char *dst, size_t cap,
		     int (*check)(const char *s, char *why, size_t len))
{
	json_object *v;

	if (!json_object_object_get_ex(o, k, &v) || !json_object_is_type(v, json_type_string) ||
	    (size_t)json_object_get_string_len(v) >= cap ||
	    strlen(json_object_get_string(v)) != (size_t)json_object_get_string_len(v))
		return -EINVAL;
	snprintf(dst, cap, "%s", json_object_get_string(v));
	return check(dst, NULL, 0);
}

#define NEED(expr, f) do { if (expr) { *field = f; return -EINVAL; } } while (0)

static double differ_share(const struct us_pairs *p)
{
	__u64 n = 0, d = 0;

	for (int a = 0; a < US_O_MAX; a++)
		for (int s = 0; s < US_O_MAX; s++) {
			n += p->out[a][s];
			d += a != s ? p->out[a][s] : 0;
		}
	return n ? (double)d / n : NAN;
}

json_object *us_rec_json(const struct us_rec *r, unsigned parts)
{
	json_object *o = json_object_new_object();
	char a[US_ADDR_STRLEN];

	json_object_object_add(o, "name", json_object_new_string(r->name));
	json_object_object_add(o, "service", json_object_new_string(r->conf.service));
	json_object_object_add(o, "version", json_object_new_string(r->conf.version));
	json_object_object_add(o, "id", json_object_new_int((int)r->id));
	json_object_object_add(o, "address", json_object_new_string(
				       us_addr_format(r->conf.family, r->conf.addr, a, sizeof(a))));
	json_object_object_add(o, "weight", json_object_new_int(r->conf.weight));
	json_object_object_add(o, "dynamic", json_object_new_boolean(r->conf.dynamic));
	json_object_object_add(o, "state", json_object_new_string(us_state_name(r->state)));
	json_object_object_add(o, "since", json_object_new_double(r->since));
	if (parts & US_RJ_DURABLE) {
		json_object_object_add(o, "config_state",
				       json_object_new_string(us_state_name(r->conf.state)));
		json_object_object_add(o, "remove_at", json_object_new_double(r->remove_at));
		json_object_object_add(o, "judging", us_judging_json(&r->judging));
	}
	if (parts & US_RJ_VIEW) {
		const struct us_mobs *v = &r->obs;

		json_object_object_add(o, "req_rate", jnum(v->req_rate));
		json_object_object_add(o, "resp_rate", jnum(v->resp_rate));
		json_object_object_add(o, "error_share", jnum(v->err_share));
		json_object_object_add(o, "p50_ms", jnum(v->p50_ns / 1e6));
		json_object_object_add(o, "p99_ms", jnum(v->p99_ns / 1e6));
		json_object_object_add(o, "timeouts", json_object_new_int64((int64_t)v->timeouts));
		if (r->state == US_MS_SIMULATION || v->judged) {
			json_object_object_add(o, "paired",
					       json_object_new_int64((int64_t)us_judging_paired(&r->judging)));
			json_object_object_add(o, "streak",
					       json_object_new_int64(us_judging_streak(&r->judging)));
			json_object_object_add(o, "verdict", json_object_new_string(
						       v->judged ? us_verdict_name(v->last.verdict) : "none"));
			json_object_object_add(o, "decision", json_object_new_string(
						       v->judged ? us_decision_name(v->last.decision) : "none"));
			json_object_object_add(o, "held", json_object_new_boolean(v->judged &&
										   v->last.held));
			json_object_object_add(o, "stuck", json_object_new_boolean(v->judged &&
										    v->last.stuck));
			json_object_object_add(o, "stuck_why", json_object_new_string(
						       v->judged && v->last.stuck ? v->last.stuck_why : ""));
			/* the candidate's class differences, and the control
			 * machine's on the same calls beside them */
			json_object_object_add(o, "class_differ_share",
					       jnum(differ_share(&r->judging.ev.sim)));
			json_object_object_add(o, "control_class_differ_share",
					       jnum(r->judging.ev.has_control ?
						    differ_share(&r->judging.ev.control) : NAN));
		}
	}
	return o;
}

int us_rec_parse(json_object *o, int format, struct us_rec *r, const char **field)
{
	char a[US_ADDR_STRLEN];
	json_object *v;
	__u64 u;

	memset(r, 0, sizeof(*r));
	obs_reset(&r->obs);
	/* what the configuration and add accept (validate.h), and nothing else */
	NEED(get_valid(o, "name", r->name, sizeof(r->name), us_valid_name), "name");
	NEED(get_valid(o, "service", r->conf.service, sizeof(r->conf.service), us_valid_name),
	     "service");
	NEED(get_valid(o, "version", r->conf.version, sizeof(r->conf.version), us_valid_version),
	     "version");
	NEED(us_jget_u64(o, "id", &u) || u >= US_MAX_MACHINES, "id");
	r->id = (__u32)u;
	NEED(us_jget_str(o, "address", a, sizeof(a)), "address");
	r->conf.family = us_addr_parse(a, r->conf.addr);
	NEED(!r->conf.family || us_valid_addr(r->conf.family, r->conf.addr, NULL, 0), "address");
	NEED(us_jget_u64(o, "weight", &u) || u > US_WEIGHT_MAX, "weight");
	r->conf.weight = (__u16)u;
	NEED(!json_object_object_get_ex(o, "dynamic", &v) ||
	     !json_object_is_type(v, json_type_boolean), "dynamic");
	r->conf.dynamic = json_object_get_boolean(v);
	NEED(get_state(o, "state", &r->state), "state");
	NEED(get_state(o, "config_state", &r->conf.state), "config_state");
	NEED(us_jget_num(o, "since", &r->since), "since");
	NEED(us_jget_num(o, "remove_at", &r->remove_at), "remove_at");
	if (format < 3)
		return us_judging_parse_old(o, format, &r->judging, field);
	NEED(!json_object_object_get_ex(o, "judging", &v), "judging");
	return us_judging_parse(v, &r->judging, field);
}

json_object *us_audit_json(const struct us_audit *a)
{
	json_object *o = json_object_new_object();
	char addr[US_ADDR_STRLEN];

	json_object_object_add(o, "seq", json_object_new_int64((int64_t)a->seq));
	json_object_object_add(o, "time", json_object_new_double(a->time));
	json_object_object_add(o, "machine", json_object_new_string(a->machine));
	json_object_object_add(o, "service", json_object_new_string(a->conf.service));
	json_object_object_add(o, "version", json_object_new_string(a->conf.version));
	json_object_object_add(o, "id", json_object_new_int((int)a->id));
	json_object_object_add(o, "address", json_object_new_string(
				       us_addr_format(a->conf.family, a->conf.addr, addr, sizeof(addr))));
	json_object_object_add(o, "weight", json_object_new_int(a->conf.weight));
	json_object_object_add(o, "dynamic", json_object_new_boolean(a->conf.dynamic));
	json_object_object_add(o, "from", json_object_new_string(us_state_name(a->from)));
	json_object_object_add(o, "to", json_object_new_string(us_state_name(a->to)));
	json_object_object_add(o, "by", json_object_new_string(us_actor_name(a->by)));
	json_object_object_add(o, "reason", json_object_new_string(a->reason));
	if (a->remove_at > 0)
		json_object_object_add(o, "remove_at", json_object_new_double(a->remove_at));
	return o;
}

/* What a replay needs: seq, time, machine, to, by; the rest when there
 * (lines of the first format have no address, weight or id). */
int us_audit_parse(json_object *o, struct us_audit *a)
{
	char s[US_ADDR_STRLEN];
	json_object *v;
	__u64 u;
	int k;

	memset(a, 0, sizeof(*a));
	if (us_jget_u64(o, "seq", &a->seq) || us_jget_num(o, "time", &a->time) ||
	    us_jget_str(o, "machine", a->machine, sizeof(a->machine)) || get_state(o, "to", &a->to) ||
	    us_jget_str(o, "by", s, sizeof(s)) || (k = us_actor_from_name(s)) < 0)
		return -EINVAL;
	a->by = (enum us_actor)k;
	if (get_state(o, "from", &a->from))
		a->from = US_MS_MAX;    /* unknown: not a creation */
	us_jget_str(o, "service", a->conf.service, sizeof(a->conf.service));
	us_jget_str(o, "version", a->conf.version, sizeof(a->conf.version));
	us_jget_str(o, "reason", a->reason, sizeof(a->reason));
	if (!us_jget_str(o, "address", s, sizeof(s)))
		a->conf.family = us_addr_parse(s, a->conf.addr);
	if (!us_jget_u64(o, "weight", &u) && u <= US_WEIGHT_MAX)
		a->conf.weight = (__u16)u;
	if (!us_jget_u64(o, "id", &u) && u < US_MAX_MACHINES)
		a->id = (__u32)u;
	if (json_object_object_get_ex(o, "dynamic", &v) && json_object_is_type(v, json_type_boolean))
		a->conf.dynamic = json_object_get_boolean(v);
	us_jget_num(o, "remove_at", &a->remove_at);
	a->conf.state = a->to;
	return 0;
}
