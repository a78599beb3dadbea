// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* understudyd's core: see daemon.h. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <json-c/json.h>

#include "daemon.h"
#include "understudy.skel.h"

int us_log_level = LOG_INFO;

void us_log(int level, const char *fmt, ...)
{
	static const char *const names[] = { "emerg", "alert", "crit", "error", "warning",
					     "notice", "info", "debug" };
	char buf[1024];
	va_list ap;

	if (level > us_log_level)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (getenv("JOURNAL_STREAM"))
		fprintf(stderr, "<%d>%s\n", level, buf);
	else
		fprintf(stderr, "understudyd: %s: %s\n", names[level & 7], buf);
}

double us_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---- configuration → data plane ---------------------------------------- */

/* Stable service ids: the id the data plane already has for the VIP and
 * port (after a restart), else the lowest free one. */
static int assign_service_ids(struct us_daemon *d)
{
	int fd = bpf_map__fd(us_dp_skel(d->dp)->maps.us_services);
	bool used[US_MAX_SERVICES] = { false };
	struct us_svc_key k, *prev = NULL;

	for (size_t i = 0; i < d->conf.nservices; i++)
		d->svc_ids[i] = US_MAX_SERVICES;
	while (!bpf_map_get_next_key(fd, prev, &k)) {
		struct us_svc v;

		if (!bpf_map_lookup_elem(fd, &k, &v)) {
			for (size_t i = 0; i < d->conf.nservices; i++) {
				const struct us_conf_service *s = &d->conf.services[i];

				if (!memcmp(s->vip, k.addr, 16) && htons(s->port) == k.port &&
				    v.id < US_MAX_SERVICES && !used[v.id]) {
					d->svc_ids[i] = v.id;
					used[v.id] = true;
				}
			}
		}
		prev = &k;
	}
	for (size_t i = 0; i < d->conf.nservices; i++) {
		if (d->svc_ids[i] != US_MAX_SERVICES)
			continue;
		for (__u32 id = 0; id < US_MAX_SERVICES; id++) {
			if (!used[id]) {
				used[id] = true;
				d->svc_ids[i] = id;
				break;
			}
		}
	}
	return 0;
}

static int svc_index(const struct us_daemon *d, const char *name)
{
	for (size_t i = 0; i < d->conf.nservices; i++)
		if (!strcmp(d->conf.services[i].name, name))
			return (int)i;
	return -1;
}

/* Write a record's machine into the data plane (idempotent). The data plane
 * tells a machine's answers by its MAC and routes those of an unknown MAC
 * on to the client: a machine new to the data plane that is to join the
 * simulation pool enters it rejected (sent nothing, its answers dropped)
 * until its MAC is learnt, so that none of its answers reaches a client
 * before the next window would learn it. */
static int apply_machine(struct us_daemon *d, const struct us_mrec *m)
{
	struct us_machine_cfg c = { 0 };
	int si = svc_index(d, m->service);

	if (m->state == US_MS_REMOVED || si < 0)
		return us_dp_del_machine(d->dp, m->id);
	c.id = m->id;
	c.svc_id = d->svc_ids[si];
	c.family = m->family;
	memcpy(c.addr, m->addr, 16);
	c.weight = m->weight ? m->weight : 1;
	c.state = m->state;
	return us_dp_set_machine(d->dp, &c);
}

static void mrec_from_conf(struct us_mrec *r, const struct us_conf_service *s,
			   const struct us_conf_machine *cm)
{
	snprintf(r->service, sizeof(r->service), "%s", s->name);
	snprintf(r->version, sizeof(r->version), "%s", cm->version);
	r->family = cm->family;
	memcpy(r->addr, cm->addr, 16);
	r->weight = cm->weight;
}

/* Make the records and the data plane follow the configuration. A machine's
 * state in the file is where it starts; the file changes it only when the
 * file's state itself changed (the judge's and the operator's moves stand
 * otherwise). */
static int reconcile(struct us_daemon *d, double now, char *err, size_t errlen)
{
	int rc;

	assign_service_ids(d);
	for (size_t i = 0; i < d->conf.nservices; i++) {
		const struct us_conf_service *s = &d->conf.services[i];

		rc = us_dp_set_service(d->dp, d->svc_ids[i], s->family, s->vip, s->port, s->share_bp);
		if (rc) {
			snprintf(err, errlen, "service %s: %s", s->name, us_dp_error(d->dp));
			return rc;
		}
	}
	for (size_t i = 0; i < d->conf.nservices; i++) {
		const struct us_conf_service *s = &d->conf.services[i];

		for (size_t j = 0; j < s->nmachines; j++) {
			const struct us_conf_machine *cm = &s->machines[j];
			struct us_mrec *r = us_state_find(&d->st, cm->name);

			if (!r) {
				rc = us_state_add(&d->st, cm->name, s->name, cm->version, cm->state,
						  now, &r);
				if (rc) {
					snprintf(err, errlen, "machine %s: no room (%s)", cm->name,
						 strerror(-rc));
					return rc;
				}
				us_log(LOG_INFO, "machine %s (%s %s) added in %s", cm->name, s->name,
				       cm->version, us_state_name(cm->state));
			} else if (r->config_state != cm->state && r->state != cm->state) {
				rc = us_state_transition(&d->st, r, cm->state, US_BY_CONFIG,
							 "state changed in the configuration", now);
				if (rc && rc != -EALREADY) {
					snprintf(err, errlen, "machine %s: %s", cm->name, strerror(-rc));
					return rc;
				}
				us_log(LOG_NOTICE, "machine %s: %s by the configuration", cm->name,
				       us_state_name(cm->state));
			}
			r = us_state_find(&d->st, cm->name);
			r->config_state = cm->state;
			r->dynamic = false;
			mrec_from_conf(r, s, cm);
		}
	}
	/* machines gone from the file (not added by hand) are removed */
	for (size_t i = 0; i < d->st.n; i++) {
		struct us_mrec *r = &d->st.m[i];

		if (r->dynamic || r->state == US_MS_REMOVED ||
		    us_conf_find_machine(&d->conf, r->name, NULL))
			continue;
		rc = us_state_transition(&d->st, r, US_MS_REMOVED, US_BY_CONFIG,
					 "no longer in the configuration", now);
		if (rc && rc != -EALREADY)
			return rc;
		us_log(LOG_NOTICE, "machine %s removed: no longer in the configuration", r->name);
	}
	/* the data plane: machines leaving a pool first, then the others */
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < d->st.n; i++) {
			const struct us_mrec *r = &d->st.m[i];
			bool leaving = r->state != US_MS_ACTIVE && r->state != US_MS_SIMULATION;

			if (leaving != (pass == 0))
				continue;
			rc = apply_machine(d, r);
			if (rc && rc != -ENOENT) {
				snprintf(err, errlen, "machine %s: %s", r->name, us_dp_error(d->dp));
				return rc;
			}
		}
	}
	/* services gone from the file */
	{
		int fd = bpf_map__fd(us_dp_skel(d->dp)->maps.us_services);
		struct us_svc_key k, *prev = NULL;
		__u32 gone[US_MAX_SERVICES];
		size_t ngone = 0;

		while (!bpf_map_get_next_key(fd, prev, &k)) {
			struct us_svc v;
			bool keep = false;

			if (!bpf_map_lookup_elem(fd, &k, &v)) {
				for (size_t i = 0; i < d->conf.nservices; i++)
					keep |= d->svc_ids[i] == v.id;
				if (!keep && ngone < US_MAX_SERVICES)
					gone[ngone++] = v.id;
			}
			prev = &k;
		}
		for (size_t i = 0; i < ngone; i++)
			us_dp_del_service(d->dp, gone[i]);
	}
	rc = us_state_save(&d->st);
	if (rc) {
		snprintf(err, errlen, "saving the state in %s: %s", d->st.dir, strerror(-rc));
		return rc;
	}
	{
		struct us_cfg c = { .event_rate = d->conf.event_rate,
				    .event_burst = d->conf.event_burst };

		rc = us_dp_set_cfg(d->dp, &c);
	}
	return rc;
}

int us_daemon_start(struct us_daemon *d, const char *conf_path, bool attach, char *err,
		    size_t errlen)
{
	struct us_dp_opts o = { 0 };
	char e[4096];
	int rc;

	memset(d, 0, sizeof(*d));
	pthread_mutex_init(&d->lock, NULL);
	d->attach = attach;
	snprintf(d->conf_path, sizeof(d->conf_path), "%s", conf_path);
	rc = us_conf_load(conf_path, &d->conf, e, sizeof(e));
	if (rc) {
		snprintf(err, errlen, "%s", e);
		return rc;
	}
	us_log_level = d->conf.log_level;
	rc = us_state_load(&d->st, d->conf.state_dir, e, sizeof(e));
	if (rc) {
		snprintf(err, errlen, "%s", e);
		return rc;
	}
	o.pin_root = d->conf.pin_root;
	o.calls_max = d->conf.max_calls;
	o.txns_max = d->conf.max_transactions;
	o.err = e;
	o.errlen = sizeof(e);
	e[0] = 0;
	rc = us_dp_open(&o, &d->dp);
	if (rc) {
		if (e[0])
			snprintf(err, errlen, "loading the data plane: %s", e);
		else
			snprintf(err, errlen, "loading the data plane (pins in %s): %s",
				 d->conf.pin_root, strerror(-rc));
		return rc;
	}
	if (attach) {
		__u32 flags = us_conf_xdp_flags(&d->conf);

		for (size_t i = 0; i < d->conf.nmachine_ifs; i++) {
			rc = us_dp_add_machine_iface(d->dp, d->conf.machine_ifs[i]);
			if (!rc)
				rc = us_dp_attach(d->dp, d->conf.machine_ifs[i], US_ROLE_MACHINE, flags);
			if (rc) {
				snprintf(err, errlen, "%s", us_dp_error(d->dp));
				return rc;
			}
		}
	}
	rc = reconcile(d, us_now(), err, errlen);
	if (rc)
		return rc;
	us_dp_learn_macs(d->dp);
	if (attach) {
		/* the client side last: by now every table is in place */
		rc = us_dp_attach(d->dp, d->conf.client_if, US_ROLE_CLIENT, us_conf_xdp_flags(&d->conf));
		if (rc) {
			snprintf(err, errlen, "%s", us_dp_error(d->dp));
			return rc;
		}
	}
	for (__u32 i = 0; i < US_MAX_MACHINES; i++) {
		struct us_mview *v = &d->view[i];

		v->req_rate = v->resp_rate = v->err_share = v->p50_ns = v->p99_ns = NAN;
	}
	for (size_t i = 0; i < d->st.n; i++)
		d->view[d->st.m[i].id].js.streak = d->st.m[i].streak;
	d->last_window = us_now();
	return 0;
}

void us_daemon_stop(struct us_daemon *d)
{
	if (d->dp && d->st.dir[0])
		us_state_save(&d->st);
	us_dp_close(d->dp);
	d->dp = NULL;
	us_state_free(&d->st);
	us_conf_free(&d->conf);
	pthread_mutex_destroy(&d->lock);
}

int us_daemon_reload(struct us_daemon *d, char *err, size_t errlen)
{
	struct us_conf nw;
	struct us_conf_diff diff;
	char e[4096], desc[512];
	int rc;

	rc = us_conf_load(d->conf_path, &nw, e, sizeof(e));
	if (rc) {
		snprintf(err, errlen, "%s", e);
		return rc;              /* nothing applied */
	}
	rc = us_conf_diff(&d->conf, &nw, &diff);
	if (rc) {
		us_conf_free(&nw);
		snprintf(err, errlen, "comparing configurations: %s", strerror(-rc));
		return rc;
	}
	us_conf_diff_describe(&diff, desc, sizeof(desc));
	if (diff.restart) {
		snprintf(err, errlen, "not applied: these changes need a restart of understudyd: %s",
			 desc);
		us_conf_diff_free(&diff);
		us_conf_free(&nw);
		return -EBUSY;
	}
	pthread_mutex_lock(&d->lock);
	us_conf_free(&d->conf);
	d->conf = nw;
	us_log_level = d->conf.log_level;
	rc = reconcile(d, us_now(), err, errlen);
	pthread_mutex_unlock(&d->lock);
	if (!rc) {
		us_log(LOG_NOTICE, "configuration reloaded: %s", desc);
		snprintf(err, errlen, "%s", desc);
	}
	us_conf_diff_free(&diff);
	return rc;
}

/* ---- windows ------------------------------------------------------------ */

static void mstats_sub(struct us_mstats *out, const struct us_mstats *a, const struct us_mstats *b)
{
	const __u64 *x = (const __u64 *)a, *y = (const __u64 *)b;
	__u64 *o = (__u64 *)out;

	for (size_t i = 0; i < sizeof(*out) / sizeof(__u64); i++)
		o[i] = x[i] >= y[i] ? x[i] - y[i] : 0;
}

static __u64 sum(const __u64 *v, size_t n)
{
	__u64 s = 0;

	for (size_t i = 0; i < n; i++)
		s += v[i];
	return s;
}

void us_daemon_diff(struct us_daemon *d, const struct us_event *ev)
{
	pthread_mutex_lock(&d->lock);
	d->diffs[d->diff_next] = *ev;
	d->diff_next = (d->diff_next + 1) % US_DIFFS_KEPT;
	if (d->ndiffs < US_DIFFS_KEPT)
		d->ndiffs++;
	d->diffs_seen++;
	pthread_mutex_unlock(&d->lock);
}

static const struct us_conf_service *rec_service(const struct us_daemon *d,
						 const struct us_mrec *r)
{
	int i = svc_index(d, r->service);

	return i < 0 ? NULL : &d->conf.services[i];
}

static int apply_transition(struct us_daemon *d, struct us_mrec *r, enum us_mstate to,
			    enum us_actor by, const char *reason, double now)
{
	__u32 id = r->id;
	int rc = us_state_transition(&d->st, r, to, by, reason, now);

	if (rc)
		return rc;
	r = us_state_find_id(&d->st, id);
	us_log(to == US_MS_REJECTED ? LOG_WARNING : LOG_NOTICE, "machine %s (%s %s): %s by %s: %s",
	       r->name, r->service, r->version, us_state_name(to), us_actor_name(by), reason);
	if (to == US_MS_SIMULATION)
		memset(&d->view[id].js, 0, sizeof(d->view[id].js));
	rc = apply_machine(d, r);
	if (rc)
		us_log(LOG_ERR, "machine %s: applying %s to the data plane failed: %s", r->name,
		       us_state_name(to), us_dp_error(d->dp));
	return rc;
}

/* A transaction that timed out (RFC 3261 timers B/F): it counts as an
 * error of the side that never answered, and, when mirrored, as a pair. */
static void on_timeout(const struct us_txn *t, bool active_missing, bool sim_missing, void *ctx)
{
	struct us_daemon *d = ctx;
	struct us_mrec *s;
	bool a_err, s_err;

	if (active_missing && t->active_mid < US_MAX_MACHINES)
		d->view[t->active_mid].timeouts++;
	if (sim_missing && t->sim_mid < US_MAX_MACHINES)
		d->view[t->sim_mid].timeouts++;
	if (t->sim_mid == US_MID_NONE)
		return;
	s = us_state_find_id(&d->st, t->sim_mid);
	if (!s || s->state != US_MS_SIMULATION)
		return;
	a_err = active_missing || t->active_code >= 500;
	s_err = sim_missing || t->sim_code >= 500;
	s->ev.paired++;
	if (a_err && s_err)
		s->ev.both_err++;
	else if (s_err)
		s->ev.sim_err_only++;
	else if (a_err)
		s->ev.active_err_only++;
	if (!active_missing && !sim_missing)
		return;
	/* a timed-out side has no final class: the classes differ unless
	 * both timed out */
	if (active_missing != sim_missing)
		s->ev.differ_class++;
}

#define US_TIMER_F_NS   (32ull * 1000000000ull)    /* 64 x T1 */
#define US_INVITE_MAX_NS (180ull * 1000000000ull)  /* longest ringing */

int us_daemon_window(struct us_daemon *d)
{
	double now = us_now(), dt;
	__u64 svc_lat[US_MAX_SERVICES][US_LAT_BUCKETS];
	static struct us_mstats delta[US_MAX_MACHINES];
	bool have_delta[US_MAX_MACHINES] = { false };

	pthread_mutex_lock(&d->lock);
	dt = now - d->last_window;
	if (dt <= 0)
		dt = d->conf.window_s;
	d->last_window = now;
	d->windows++;
	memset(svc_lat, 0, sizeof(svc_lat));
	us_dp_learn_macs(d->dp);

	/* counters and rates of every machine */
	for (size_t i = 0; i < d->st.n; i++) {
		struct us_mrec *r = &d->st.m[i];
		struct us_mview *v = &d->view[r->id];
		struct us_mstats *dl = &delta[r->id];
		int si;
		__u64 finals, errs;

		if (us_dp_read_mstats(d->dp, r->id, &v->cur))
			continue;
		if (!v->have_prev) {
			v->prev = v->cur;
			v->have_prev = true;
			continue;
		}
		mstats_sub(dl, &v->cur, &v->prev);
		v->win = *dl;
		v->prev = v->cur;
		have_delta[r->id] = true;
		v->req_rate = (sum(dl->req, US_M_MAX) + dl->retrans_req) / dt;
		v->resp_rate = sum(dl->resp_class, 8) / dt;
		finals = sum(dl->final_class, 8);
		errs = dl->final_class[5] + dl->final_class[6];
		v->err_share = finals ? (double)errs / finals : NAN;
		v->p50_ns = us_hist_quantile(dl->lat_hist, 0.5);
		v->p99_ns = us_hist_quantile(dl->lat_hist, 0.99);
		si = svc_index(d, r->service);
		if (r->state == US_MS_ACTIVE && si >= 0)
			for (int b = 0; b < US_LAT_BUCKETS; b++)
				svc_lat[si][b] += dl->lat_hist[b];
	}

	us_dp_sweep_txns(d->dp, US_TIMER_F_NS, US_INVITE_MAX_NS, on_timeout, d);

	/* judge every simulation machine on its evidence */
	for (size_t i = 0; i < d->st.n; i++) {
		struct us_mrec *r = &d->st.m[i];
		struct us_mview *v = &d->view[r->id];
		const struct us_conf_service *s = rec_service(d, r);
		struct us_mstats *dl = &delta[r->id];
		char reason[320];
		int si = svc_index(d, r->service);

		if (r->state == US_MS_DRAINING && r->remove_at > 0 && now >= r->remove_at) {
			apply_transition(d, r, US_MS_REMOVED, US_BY_TIMER, "drained", now);
			continue;
		}
		if (r->state != US_MS_SIMULATION || !s || si < 0)
			continue;
		if (have_delta[r->id]) {
			r->ev.paired += dl->paired;
			r->ev.differ_class += dl->differ_class;
			r->ev.sim_err_only += dl->pair_sim_err_only;
			r->ev.active_err_only += dl->pair_active_err_only;
			r->ev.both_err += dl->pair_both_err;
			for (int b = 0; b < US_LAT_BUCKETS; b++) {
				r->ev.sim_lat[b] += dl->lat_hist[b];
				r->ev.active_lat[b] += svc_lat[si][b];
			}
		}
		r->ev.sim_seconds = now - r->since;
		v->js.streak = r->streak;
		if (us_judge(&s->policy, &r->ev, &v->js, &v->last))
			continue;
		v->judged = true;
		r->streak = v->last.streak;
		r->windows++;
		r->last_verdict = v->last.verdict;
		r->last_decision = v->last.decision;
		v->p50_ns = us_hist_quantile(r->ev.sim_lat, 0.5);
		v->p99_ns = us_hist_quantile(r->ev.sim_lat, 0.99);
		us_log(LOG_INFO, "machine %s: window %u: %s, %s (paired %llu, streak %u)", r->name,
		       r->windows, us_verdict_name(v->last.verdict),
		       us_decision_name(v->last.decision), (unsigned long long)r->ev.paired,
		       r->streak);
		snprintf(reason, sizeof(reason), "%s", v->last.summary);
		if (v->last.decision == US_D_PROMOTE)
			apply_transition(d, r, US_MS_ACTIVE, US_BY_JUDGE, reason, now);
		else if (v->last.decision == US_D_REJECT)
			apply_transition(d, r, US_MS_REJECTED, US_BY_JUDGE, reason, now);
	}
	us_state_save(&d->st);
	pthread_mutex_unlock(&d->lock);
	return 0;
}

/* ---- control commands ------------------------------------------------------ */

static json_object *err_reply(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static json_object *err_reply(const char *fmt, ...)
{
	json_object *o = json_object_new_object();
	char buf[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	json_object_object_add(o, "ok", json_object_new_boolean(0));
	json_object_object_add(o, "error", json_object_new_string(buf));
	return o;
}

static json_object *ok_reply(void)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "ok", json_object_new_boolean(1));
	return o;
}

static json_object *jnum(double v)
{
	return isfinite(v) ? json_object_new_double(v) : json_object_new_null();
}

static void addr_text(int family, const __u8 *a, char *buf, size_t len)
{
	if (family == AF_INET)
		inet_ntop(AF_INET, a + 12, buf, len);
	else
		inet_ntop(AF_INET6, a, buf, len);
}

static json_object *machine_json(const struct us_daemon *d, const struct us_mrec *r)
{
	const struct us_mview *v = &d->view[r->id];
	json_object *o = json_object_new_object();
	char a[INET6_ADDRSTRLEN];

	addr_text(r->family, r->addr, a, sizeof(a));
	json_object_object_add(o, "name", json_object_new_string(r->name));
	json_object_object_add(o, "service", json_object_new_string(r->service));
	json_object_object_add(o, "version", json_object_new_string(r->version));
	json_object_object_add(o, "address", json_object_new_string(a));
	json_object_object_add(o, "weight", json_object_new_int(r->weight));
	json_object_object_add(o, "id", json_object_new_int(r->id));
	json_object_object_add(o, "state", json_object_new_string(us_state_name(r->state)));
	json_object_object_add(o, "since", json_object_new_double(r->since));
	json_object_object_add(o, "dynamic", json_object_new_boolean(r->dynamic));
	json_object_object_add(o, "req_rate", jnum(v->req_rate));
	json_object_object_add(o, "resp_rate", jnum(v->resp_rate));
	json_object_object_add(o, "error_share", jnum(v->err_share));
	json_object_object_add(o, "p50_ms", jnum(v->p50_ns / 1e6));
	json_object_object_add(o, "p99_ms", jnum(v->p99_ns / 1e6));
	json_object_object_add(o, "timeouts", json_object_new_int64((int64_t)v->timeouts));
	if (r->state == US_MS_SIMULATION || v->judged) {
		json_object_object_add(o, "paired", json_object_new_int64((int64_t)r->ev.paired));
		json_object_object_add(o, "streak", json_object_new_int(r->streak));
		json_object_object_add(o, "verdict", json_object_new_string(
					       v->judged ? us_verdict_name(v->last.verdict) : "none"));
		json_object_object_add(o, "decision", json_object_new_string(
					       v->judged ? us_decision_name(v->last.decision) : "none"));
	}
	return o;
}

/* The last window per service and version, over its machines that take
 * traffic (active, draining) or receive it (simulation). */
static json_object *versions_json(const struct us_daemon *d)
{
	json_object *arr = json_object_new_array();
	static __u64 hist[US_LAT_BUCKETS];

	for (size_t i = 0; i < d->st.n; i++) {
		const struct us_mrec *r = &d->st.m[i];
		__u64 req = 0, finals = 0, errs = 0, to = 0;
		unsigned machines = 0;
		bool seen = false;
		json_object *o;

		for (size_t j = 0; j < i && !seen; j++)
			seen = !strcmp(d->st.m[j].service, r->service) &&
			       !strcmp(d->st.m[j].version, r->version);
		if (seen)
			continue;
		memset(hist, 0, sizeof(hist));
		for (size_t j = i; j < d->st.n; j++) {
			const struct us_mrec *q = &d->st.m[j];
			const struct us_mstats *w = &d->view[q->id].win;

			if (strcmp(q->service, r->service) || strcmp(q->version, r->version) ||
			    q->state == US_MS_REMOVED || q->state == US_MS_REJECTED)
				continue;
			machines++;
			req += sum(w->req, US_M_MAX);
			finals += sum(w->final_class, 8);
			errs += w->final_class[5] + w->final_class[6];
			to += d->view[q->id].timeouts;
			for (int b = 0; b < US_LAT_BUCKETS; b++)
				hist[b] += w->lat_hist[b];
		}
		if (!machines)
			continue;
		o = json_object_new_object();
		json_object_object_add(o, "service", json_object_new_string(r->service));
		json_object_object_add(o, "version", json_object_new_string(r->version));
		json_object_object_add(o, "machines", json_object_new_int((int)machines));
		json_object_object_add(o, "req_rate", jnum(d->conf.window_s > 0 ? req / d->conf.window_s : NAN));
		json_object_object_add(o, "error_share", jnum(finals ? (double)errs / finals : NAN));
		json_object_object_add(o, "p50_ms", jnum(us_hist_quantile(hist, 0.5) / 1e6));
		json_object_object_add(o, "p99_ms", jnum(us_hist_quantile(hist, 0.99) / 1e6));
		json_object_object_add(o, "timeouts", json_object_new_int64((int64_t)to));
		json_object_array_add(arr, o);
	}
	return arr;
}

static json_object *cmd_status(struct us_daemon *d, bool services)
{
	json_object *o = ok_reply(), *arr = json_object_new_array();

	if (services) {
		json_object *sv = json_object_new_array();

		for (size_t i = 0; i < d->conf.nservices; i++) {
			const struct us_conf_service *s = &d->conf.services[i];
			json_object *so = json_object_new_object();
			char a[INET6_ADDRSTRLEN];

			addr_text(s->family, s->vip, a, sizeof(a));
			json_object_object_add(so, "name", json_object_new_string(s->name));
			json_object_object_add(so, "vip", json_object_new_string(a));
			json_object_object_add(so, "port", json_object_new_int(s->port));
			json_object_object_add(so, "mirror_percent",
					       json_object_new_double(s->share_bp / 100.0));
			json_object_array_add(sv, so);
		}
		json_object_object_add(o, "services", sv);
		json_object_object_add(o, "window_s", json_object_new_double(d->conf.window_s));
		json_object_object_add(o, "windows", json_object_new_int64((int64_t)d->windows));
	}
	for (size_t i = 0; i < d->st.n; i++)
		json_object_array_add(arr, machine_json(d, &d->st.m[i]));
	json_object_object_add(o, "machines", arr);
	if (services)
		json_object_object_add(o, "versions", versions_json(d));
	return o;
}

static const char *jstr(json_object *req, const char *k)
{
	json_object *v;

	if (!json_object_object_get_ex(req, k, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

static json_object *cmd_move(struct us_daemon *d, json_object *req, const char *cmd)
{
	const char *name = jstr(req, "name"), *why = jstr(req, "reason");
	enum us_mstate to;
	struct us_mrec *r;
	char reason[256], rule[160];
	int rc;

	if (!name)
		return err_reply("%s: \"name\" (a string) is required", cmd);
	r = us_state_find(&d->st, name);
	if (!r)
		return err_reply("%s: no machine named \"%s\"", cmd, name);
	if (!strcmp(cmd, "promote"))
		to = US_MS_ACTIVE;
	else if (!strcmp(cmd, "demote"))
		to = US_MS_DRAINING;
	else if (!strcmp(cmd, "reject"))
		to = US_MS_REJECTED;
	else if (!strcmp(cmd, "readmit"))
		to = US_MS_SIMULATION;
	else
		to = r->state == US_MS_ACTIVE ? US_MS_DRAINING : US_MS_REMOVED;   /* remove */
	rc = us_transition_check(r->state, to, US_BY_OPERATOR, rule, sizeof(rule));
	if (rc)
		return err_reply("%s %s: %s", cmd, name, rule);
	snprintf(reason, sizeof(reason), "%s%s%s", cmd, why ? ": " : "", why ? why : "");
	if (!strcmp(cmd, "remove") && to == US_MS_DRAINING)
		r->remove_at = us_now() + 2 * d->conf.window_s + 32;   /* SIP timer B/F: 32 s */
	rc = apply_transition(d, r, to, US_BY_OPERATOR, reason, us_now());
	if (rc)
		return err_reply("%s %s: %s", cmd, name, strerror(-rc));
	{
		json_object *o = ok_reply();

		json_object_object_add(o, "machine",
				       machine_json(d, us_state_find(&d->st, name)));
		return o;
	}
}

static json_object *cmd_add(struct us_daemon *d, json_object *req)
{
	const char *name = jstr(req, "name"), *svc = jstr(req, "service"), *addr = jstr(req, "address");
	const char *ver = jstr(req, "version"), *st = jstr(req, "state");
	int si, family, state = US_MS_SIMULATION;
	struct us_mrec *r, probe = { 0 };
	json_object *w;
	long weight = 1;
	__u8 a[16] = { 0 };
	int rc;

	if (!name || !svc || !addr || !ver)
		return err_reply("add: \"name\", \"service\", \"address\" and \"version\" are required");
	if (strlen(name) >= sizeof(probe.name) || !name[0])
		return err_reply("add: name must be 1..%zu characters", sizeof(probe.name) - 1);
	if (us_state_find(&d->st, name) && us_state_find(&d->st, name)->state != US_MS_REMOVED)
		return err_reply("add: a machine named \"%s\" exists", name);
	si = svc_index(d, svc);
	if (si < 0)
		return err_reply("add: no service named \"%s\"", svc);
	if (inet_pton(AF_INET, addr, a + 12) == 1) {
		family = AF_INET;
		a[10] = a[11] = 0xff;
	} else if (inet_pton(AF_INET6, addr, a) == 1) {
		family = AF_INET6;
	} else {
		return err_reply("add: address \"%s\" is neither IPv4 nor IPv6", addr);
	}
	if (json_object_object_get_ex(req, "weight", &w)) {
		if (!json_object_is_type(w, json_type_int) || json_object_get_int64(w) < 1 ||
		    json_object_get_int64(w) > US_WEIGHT_MAX)
			return err_reply("add: weight must be an integer 1..%u", US_WEIGHT_MAX);
		weight = json_object_get_int64(w);
	}
	if (st) {
		state = us_state_from_name(st);
		if (state != US_MS_SIMULATION && state != US_MS_ACTIVE)
			return err_reply("add: state must be simulation or active, not \"%s\"", st);
	}
	r = us_state_find(&d->st, name);
	if (!r) {
		rc = us_state_add(&d->st, name, svc, ver, state, us_now(), &r);
		if (rc)
			return err_reply("add: %s", strerror(-rc));
	} else {
		r->state = state;       /* a removed machine comes back */
		r->since = us_now();
		memset(&r->ev, 0, sizeof(r->ev));
		r->streak = 0;
	}
	snprintf(r->service, sizeof(r->service), "%s", svc);
	snprintf(r->version, sizeof(r->version), "%s", ver);
	r->family = family;
	memcpy(r->addr, a, 16);
	r->weight = (__u16)weight;
	r->dynamic = true;
	r->config_state = state;
	rc = apply_machine(d, r);
	if (rc) {
		char e[512];

		snprintf(e, sizeof(e), "%s", us_dp_error(d->dp));
		r->state = US_MS_REMOVED;
		apply_machine(d, r);
		us_state_save(&d->st);
		return err_reply("add: %s", e);
	}
	us_state_save(&d->st);
	us_dp_learn_macs(d->dp);
	us_log(LOG_NOTICE, "machine %s (%s %s) added by the operator in %s", name, svc, ver,
	       us_state_name(state));
	{
		json_object *o = ok_reply();

		json_object_object_add(o, "machine", machine_json(d, r));
		return o;
	}
}

static json_object *criterion_json(const struct us_criterion *c)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "name", json_object_new_string(c->name ? c->name : ""));
	json_object_object_add(o, "verdict", json_object_new_string(us_verdict_name(c->verdict)));
	json_object_object_add(o, "active", jnum(c->active));
	json_object_object_add(o, "simulation", jnum(c->sim));
	json_object_object_add(o, "threshold", jnum(c->threshold));
	json_object_object_add(o, "statistic", jnum(c->statistic));
	json_object_object_add(o, "bound_pass", jnum(c->bound_pass));
	json_object_object_add(o, "bound_fail", jnum(c->bound_fail));
	json_object_object_add(o, "samples", json_object_new_int64((int64_t)c->samples));
	json_object_object_add(o, "why", json_object_new_string(c->why));
	return o;
}

static json_object *cmd_explain(struct us_daemon *d, json_object *req)
{
	const char *name = jstr(req, "name");
	const struct us_mview *v;
	struct us_mrec *r;
	json_object *o, *arr;
	char text[4096];

	if (!name)
		return err_reply("explain: \"name\" (a string) is required");
	r = us_state_find(&d->st, name);
	if (!r)
		return err_reply("explain: no machine named \"%s\"", name);
	v = &d->view[r->id];
	if (!v->judged)
		return err_reply("explain: %s has not been judged yet (state %s; judging runs every "
				 "%.0f s while a machine is in simulation)", name,
				 us_state_name(r->state), d->conf.window_s);
	o = ok_reply();
	json_object_object_add(o, "machine", machine_json(d, r));
	json_object_object_add(o, "verdict", json_object_new_string(us_verdict_name(v->last.verdict)));
	json_object_object_add(o, "decision", json_object_new_string(us_decision_name(v->last.decision)));
	json_object_object_add(o, "streak", json_object_new_int(v->last.streak));
	json_object_object_add(o, "summary", json_object_new_string(v->last.summary));
	arr = json_object_new_array();
	for (int i = 0; i < US_JUDGE_CRITERIA; i++)
		json_object_array_add(arr, criterion_json(&v->last.c[i]));
	json_object_object_add(o, "criteria", arr);
	us_judge_explain(&v->last, text, sizeof(text));
	json_object_object_add(o, "text", json_object_new_string(text));
	return o;
}

static long jlimit(json_object *req, long def)
{
	json_object *v;

	if (!json_object_object_get_ex(req, "limit", &v) || !json_object_is_type(v, json_type_int))
		return def;
	return json_object_get_int64(v) > 0 ? json_object_get_int64(v) : def;
}

static json_object *cmd_events(struct us_daemon *d, json_object *req)
{
	long limit = jlimit(req, 20);
	json_object *o = ok_reply(), *arr = json_object_new_array();
	char path[512], line[2048];
	char **lines = calloc((size_t)limit, sizeof(*lines));
	long n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/audit.log", d->st.dir);
	f = fopen(path, "r");
	while (f && lines && fgets(line, sizeof(line), f)) {
		free(lines[n % limit]);
		lines[n % limit] = strdup(line);
		n++;
	}
	if (f)
		fclose(f);
	for (long i = n > limit ? n - limit : 0; lines && i < n; i++) {
		json_object *e = json_tokener_parse(lines[i % limit]);

		if (e)
			json_object_array_add(arr, e);
	}
	for (long i = 0; lines && i < limit; i++)
		free(lines[i]);
	free(lines);
	json_object_object_add(o, "events", arr);
	return o;
}

static json_object *cmd_diffs(struct us_daemon *d, json_object *req)
{
	long limit = jlimit(req, 20);
	json_object *o = ok_reply(), *arr = json_object_new_array();
	size_t n = d->ndiffs < (size_t)limit ? d->ndiffs : (size_t)limit;

	for (size_t k = 0; k < n; k++) {
		size_t i = (d->diff_next + US_DIFFS_KEPT - n + k) % US_DIFFS_KEPT;
		const struct us_event *e = &d->diffs[i];
		const struct us_mrec *a = us_state_find_id(&d->st, e->active_mid);
		const struct us_mrec *s = us_state_find_id(&d->st, e->sim_mid);
		json_object *x = json_object_new_object();
		char cid[US_CALLID_COPY + 1];

		memcpy(cid, e->callid, e->callid_len < US_CALLID_COPY ? e->callid_len : US_CALLID_COPY);
		cid[e->callid_len < US_CALLID_COPY ? e->callid_len : US_CALLID_COPY] = 0;
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
	return o;
}

char *us_daemon_command(struct us_daemon *d, const char *text)
{
	json_object *req = json_tokener_parse(text), *rep, *c;
	const char *cmd;
	char *out;

	if (!req || !json_object_is_type(req, json_type_object)) {
		rep = err_reply("request is not a JSON object");
		goto out;
	}
	if (!json_object_object_get_ex(req, "cmd", &c) || !json_object_is_type(c, json_type_string)) {
		rep = err_reply("request has no \"cmd\" string");
		goto out;
	}
	cmd = json_object_get_string(c);
	if (!strcmp(cmd, "reload")) {
		char e[4096];
		int rc = us_daemon_reload(d, e, sizeof(e));

		if (rc) {
			rep = err_reply("reload: %s", e);
		} else {
			rep = ok_reply();
			json_object_object_add(rep, "applied", json_object_new_string(e));
		}
		goto out;
	}
	pthread_mutex_lock(&d->lock);
	if (!strcmp(cmd, "status"))
		rep = cmd_status(d, true);
	else if (!strcmp(cmd, "machines"))
		rep = cmd_status(d, false);
	else if (!strcmp(cmd, "add"))
		rep = cmd_add(d, req);
	else if (!strcmp(cmd, "remove") || !strcmp(cmd, "promote") || !strcmp(cmd, "demote") ||
		 !strcmp(cmd, "reject") || !strcmp(cmd, "readmit"))
		rep = cmd_move(d, req, cmd);
	else if (!strcmp(cmd, "explain"))
		rep = cmd_explain(d, req);
	else if (!strcmp(cmd, "events"))
		rep = cmd_events(d, req);
	else if (!strcmp(cmd, "diffs"))
		rep = cmd_diffs(d, req);
	else
		rep = err_reply("unknown command \"%s\" (status, machines, add, remove, promote, "
				"demote, reject, readmit, explain, events, diffs, reload)", cmd);
	pthread_mutex_unlock(&d->lock);
out:
	out = strdup(json_object_to_json_string_ext(rep, JSON_C_TO_STRING_PLAIN));
	json_object_put(rep);
	if (req)
		json_object_put(req);
	return out;
}

/* ---- Prometheus metrics --------------------------------------------------- */

struct buf {
	char *p;
	size_t n, cap;
};

static void bprintf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void bprintf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int need;

	for (;;) {
		va_start(ap, fmt);
		need = vsnprintf(b->p ? b->p + b->n : NULL, b->p ? b->cap - b->n : 0, fmt, ap);
		va_end(ap);
		if (need < 0)
			return;
		if (b->p && b->n + (size_t)need < b->cap) {
			b->n += (size_t)need;
			return;
		}
		b->cap = (b->cap + (size_t)need + 1) * 2;
		b->p = realloc(b->p, b->cap);
		if (!b->p)
			return;
	}
}

/* Label values: escape backslash, quote and newline (exposition format). */
static const char *esc(const char *s, char *out, size_t len)
{
	size_t j = 0;

	for (; *s && j + 2 < len; s++) {
		if (*s == '\\' || *s == '"') {
			out[j++] = '\\';
			out[j++] = *s;
		} else if (*s == '\n') {
			out[j++] = '\\';
			out[j++] = 'n';
		} else {
			out[j++] = *s;
		}
	}
	out[j] = 0;
	return out;
}

static void help(struct buf *b, const char *name, const char *type, const char *text)
{
	bprintf(b, "# HELP %s %s\n# TYPE %s %s\n", name, text, name, type);
}

char *us_daemon_metrics(struct us_daemon *d)
{
	static const char *const codes[US_C_MAX] = { "200", "408", "480", "486", "487",
						     "500", "503", "504", "other" };
	struct buf b = { 0 };
	__u64 st[US_ST_MAX];
	char lb[512], sv[160], mn[160], vv[160];

	pthread_mutex_lock(&d->lock);
#define LABELS(r) (snprintf(lb, sizeof(lb), "service=\"%s\",machine=\"%s\",version=\"%s\"", \
			    esc((r)->service, sv, sizeof(sv)), esc((r)->name, mn, sizeof(mn)), \
			    esc((r)->version, vv, sizeof(vv))), lb)
#define EACH for (size_t i = 0; i < d->st.n; i++) { \
		const struct us_mrec *r = &d->st.m[i]; \
		const struct us_mstats *c = &d->view[r->id].cur; (void)c;
#define END }

	help(&b, "understudy_requests_total", "counter", "Requests sent to a machine (first sightings), by method.");
	EACH for (int m = 0; m < US_M_MAX; m++) if (c->req[m])
		bprintf(&b, "understudy_requests_total{%s,method=\"%s\"} %llu\n", LABELS(r),
			us_method_name(m), (unsigned long long)c->req[m]); END
	help(&b, "understudy_request_retransmissions_total", "counter", "Request retransmissions sent to a machine.");
	EACH bprintf(&b, "understudy_request_retransmissions_total{%s} %llu\n", LABELS(r),
		     (unsigned long long)c->retrans_req); END
	help(&b, "understudy_responses_total", "counter", "Response messages from a machine, by class.");
	EACH for (int k = 1; k <= 6; k++)
		bprintf(&b, "understudy_responses_total{%s,class=\"%dxx\"} %llu\n", LABELS(r), k,
			(unsigned long long)c->resp_class[k]); END
	help(&b, "understudy_final_responses_total", "counter", "First final response per transaction, by status code.");
	EACH for (int k = 0; k < US_C_MAX; k++)
		bprintf(&b, "understudy_final_responses_total{%s,code=\"%s\"} %llu\n", LABELS(r),
			codes[k], (unsigned long long)c->final_code[k]); END
	help(&b, "understudy_final_retransmissions_total", "counter", "Retransmitted final responses.");
	EACH bprintf(&b, "understudy_final_retransmissions_total{%s} %llu\n", LABELS(r),
		     (unsigned long long)c->retrans_resp); END
	help(&b, "understudy_response_latency_seconds", "histogram", "Time from a request's first sighting to the machine's first final response.");
	EACH {
		__u64 cum = 0;

		/* a bucket per power of two: the upper bound of bucket k (the
		 * last sub-bucket of a power) is the lower bound of k + 1 */
		for (int k = 0; k + 1 < US_LAT_BUCKETS; k++) {
			cum += c->lat_hist[k];
			if ((k & ((1 << US_LAT_SUB_BITS) - 1)) == (1 << US_LAT_SUB_BITS) - 1)
				bprintf(&b, "understudy_response_latency_seconds_bucket{%s,le=\"%.9g\"} %llu\n",
					LABELS(r), us_lat_bucket_lo(k + 1) / 1e9, (unsigned long long)cum);
		}
		bprintf(&b, "understudy_response_latency_seconds_bucket{%s,le=\"+Inf\"} %llu\n",
			LABELS(r), (unsigned long long)c->lat_count);
		bprintf(&b, "understudy_response_latency_seconds_sum{%s} %.9f\n", LABELS(r),
			c->lat_sum_ns / 1e9);
		bprintf(&b, "understudy_response_latency_seconds_count{%s} %llu\n", LABELS(r),
			(unsigned long long)c->lat_count);
	} END
	help(&b, "understudy_paired_transactions_total", "counter", "Mirrored transactions with both final responses (on the simulation machine).");
	EACH bprintf(&b, "understudy_paired_transactions_total{%s} %llu\n", LABELS(r),
		     (unsigned long long)c->paired); END
	help(&b, "understudy_pair_disagreements_total", "counter", "Paired transactions whose final responses differ, by class or by exact code.");
	EACH bprintf(&b, "understudy_pair_disagreements_total{%s,kind=\"class\"} %llu\n"
		     "understudy_pair_disagreements_total{%s,kind=\"code\"} %llu\n", LABELS(r),
		     (unsigned long long)c->differ_class, lb, (unsigned long long)c->differ_code); END
	help(&b, "understudy_dropped_total", "counter", "A simulation machine's messages and stray packets dropped at the balancer.");
	EACH bprintf(&b, "understudy_dropped_total{%s} %llu\n", LABELS(r),
		     (unsigned long long)c->dropped); END
	help(&b, "understudy_timeouts_total", "counter", "Transactions a machine never answered (RFC 3261 timers B/F).");
	EACH bprintf(&b, "understudy_timeouts_total{%s} %llu\n", LABELS(r),
		     (unsigned long long)d->view[r->id].timeouts); END
	help(&b, "understudy_machine_state", "gauge", "1 for the machine's current state.");
	EACH for (int s = US_MS_ACTIVE; s < US_MS_MAX; s++)
		bprintf(&b, "understudy_machine_state{%s,state=\"%s\"} %d\n", LABELS(r),
			us_state_name(s), r->state == (enum us_mstate)s); END
	help(&b, "understudy_verdict", "gauge", "Last window's verdict on a simulation machine: 0 inconclusive, 1 pass, 2 fail.");
	EACH if (d->view[r->id].judged)
		bprintf(&b, "understudy_verdict{%s} %d\n", LABELS(r), (int)d->view[r->id].last.verdict); END
	help(&b, "understudy_judge_streak", "gauge", "Consecutive passing windows of a simulation machine.");
	EACH if (r->state == US_MS_SIMULATION)
		bprintf(&b, "understudy_judge_streak{%s} %u\n", LABELS(r), r->streak); END
	help(&b, "understudy_packets_total", "counter", "Packets seen by the XDP programs, by outcome or reason.");
	if (!us_dp_read_stats(d->dp, st))
		for (int k = 0; k < US_ST_MAX; k++)
			bprintf(&b, "understudy_packets_total{outcome=\"%s\"} %llu\n", us_stat_name(k),
				(unsigned long long)st[k]);
	help(&b, "understudy_windows_total", "counter", "Judging windows completed.");
	bprintf(&b, "understudy_windows_total %llu\n", (unsigned long long)d->windows);
	help(&b, "understudy_difference_events_total", "counter", "Difference events read from the ring buffer.");
	bprintf(&b, "understudy_difference_events_total %llu\n", (unsigned long long)d->diffs_seen);
#undef LABELS
#undef EACH
#undef END
	pthread_mutex_unlock(&d->lock);
	return b.p;
}
