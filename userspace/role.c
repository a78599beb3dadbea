// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* understudyd's roles: agent and controller (see role.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>
#include <sys/stat.h>

#include "daemon.h"
#include "leader.h"
#include "role.h"
#include "source_remote.h"
#include "store_etcd.h"

struct us_role_state {
	int role;                           /* enum us_conf_role */
	struct us_leader *leader;           /* a controller's */
	bool leading;
	__u64 takeovers;                    /* times it came to lead */
	char name[US_CONF_NAME_MAX + 16];   /* in the election */
	char election[160];
	char boot[US_COUNTERS_BOOT_MAX];    /* an agent's counters' lifetime */
};

static void etcd_opts(const struct us_conf *c, struct us_etcd_opts *eo, const char **ep)
{
	size_t n = c->etcd.endpoints.n < US_ETCD_MAX_ENDPOINTS ? c->etcd.endpoints.n :
		   US_ETCD_MAX_ENDPOINTS;

	for (size_t i = 0; i < n; i++)
		ep[i] = c->etcd.endpoints.v[i];
	*eo = (struct us_etcd_opts){
		.endpoints = ep, .nendpoints = n, .timeout_ms = (long)(c->etcd.timeout_s * 1000),
		.ca_file = c->etcd.ca_file[0] ? c->etcd.ca_file : NULL,
		.cert_file = c->etcd.cert_file[0] ? c->etcd.cert_file : NULL,
		.key_file = c->etcd.key_file[0] ? c->etcd.key_file : NULL,
	};
	/* a short connection time-out: the event loop waits for etcd */
	eo->connect_timeout_ms = eo->timeout_ms < 500 ? eo->timeout_ms : 500;
}

int us_role_store_open(const char *conf_path, struct us_store **out, char *err, size_t errlen)
{
	const char *ep[US_ETCD_MAX_ENDPOINTS];
	struct us_store_etcd_opts so = { 0 };
	struct us_etcd_opts eo;
	struct us_conf c;
	int rc;

	rc = us_conf_load(conf_path, &c, err, errlen);
	if (rc)
		return rc;
	if (c.role == US_CONF_STANDALONE) {
		us_conf_free(&c);
		rc = us_store_file_open(conf_path, out);
		if (rc)
			snprintf(err, errlen, "%s: %s", conf_path, strerror(-rc));
		return rc;
	}
	etcd_opts(&c, &eo, ep);
	so.etcd = &eo;
	so.prefix = c.etcd.prefix;
	so.host_conf = conf_path;
	so.watch = c.role == US_CONF_AGENT ? "" : NULL;
	rc = us_store_etcd_open(&so, out, err, errlen);
	us_conf_free(&c);
	return rc;
}

static int open_source(struct us_daemon *d, struct us_source **out, char *err, size_t errlen)
{
	const struct us_conf *c = &d->conf;
	const char **urls = calloc(c->agents.n ? c->agents.n : 1, sizeof(*urls));
	struct us_remote_opts o = {
		.nagents = c->agents.n,
		/* every agent answers within a fifth of the window, at most 2 s */
		.timeout_ms = (long)(c->window_s * 200) < 2000 ? (long)(c->window_s * 200) : 2000,
		.ca_file = c->etcd.ca_file[0] ? c->etcd.ca_file : NULL,
		.cert_file = c->etcd.cert_file[0] ? c->etcd.cert_file : NULL,
		.key_file = c->etcd.key_file[0] ? c->etcd.key_file : NULL,
	};
	int rc;

	if (!urls)
		return -ENOMEM;
	for (size_t i = 0; i < c->agents.n; i++)
		urls[i] = c->agents.v[i];
	o.agents = urls;
	rc = us_source_remote(&o, out, err, errlen);
	free(urls);
	return rc;
}

/* Read the records and put them in place of the model's: etcd is asked
 * without the daemon's lock (the metrics thread, an agent's /counters wait
 * for the swap only). */
static int load_records(struct us_daemon *d, char *err, size_t errlen)
{
	struct us_model tmp;
	struct us_audit pending;
	struct us_rec *r;
	size_t n, cap;
	int rc;

	us_model_init(&tmp, d->store);
	rc = d->store->ops->load(d->store, &tmp, &pending, err, errlen);
	if (rc) {
		us_model_free(&tmp);
		return rc;
	}
	pthread_mutex_lock(&d->lock);
	r = d->model.r;
	n = d->model.n;
	cap = d->model.cap;
	d->model.r = tmp.r;
	d->model.n = tmp.n;
	d->model.cap = tmp.cap;
	d->model.seq = tmp.seq;
	tmp.r = r;
	tmp.n = n;
	tmp.cap = cap;
	pthread_mutex_unlock(&d->lock);
	us_model_free(&tmp);
	return 0;
}

/* This controller came to lead: the records as the last leader left them,
 * a fresh source, the desired state reconciled (its moves written as this
 * leader). */
static void take_over(struct us_daemon *d)
{
	struct us_role_state *r = d->role;
	struct us_source *src = NULL;
	char err[4096];
	int rc;

	us_store_etcd_lead(d->store, us_leader_candidate(r->leader));
	rc = open_source(d, &src, err, sizeof(err));
	if (rc) {
		us_log(LOG_ERR, "leading, but no counters: %s", err);
	} else {
		pthread_mutex_lock(&d->lock);
		us_source_close(d->source);
		d->source = src;
		pthread_mutex_unlock(&d->lock);
	}
	rc = load_records(d, err, sizeof(err));
	if (rc)
		us_log(LOG_ERR, "leading: reading the records: %s", err);
	r->leading = true;
	r->takeovers++;
	rc = us_daemon_reload(d, err, sizeof(err));
	if (rc)
		us_log(LOG_ERR, "leading: the desired state not applied: %s", err);
	d->last_window = us_now();
	us_log(LOG_NOTICE, "leading (%s): %zu machines, sequence %llu", r->name, d->model.n,
	       (unsigned long long)d->model.seq);
}

static void stand_by(struct us_daemon *d, const char *why)
{
	us_store_etcd_lead(d->store, NULL);
	d->role->leading = false;
	us_log(LOG_WARNING, "standing by (%s): %s", d->role->name, why);
}

int us_role_start(struct us_daemon *d, char *err, size_t errlen)
{
	struct us_role_state *r;
	int rc;

	if (d->conf.role == US_CONF_STANDALONE)
		return 0;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	d->role = r;
	r->role = d->conf.role;
	/* the file store made it standalone: window records are kept there */
	if (mkdir(d->conf.state_dir, 0700) && errno != EEXIST) {
		snprintf(err, errlen, "%s: %s", d->conf.state_dir, strerror(errno));
		return -errno;
	}
	if (d->conf.etcd.name[0]) {
		snprintf(r->name, sizeof(r->name), "%s", d->conf.etcd.name);
	} else if (gethostname(r->name, sizeof(r->name) - 1)) {
		snprintf(r->name, sizeof(r->name), "pid-%d", getpid());
	}
	if (r->role == US_CONF_AGENT)
		return 0;       /* its boot once its data plane is loaded (us_role_counters) */

	d->model.dp = (struct us_applier){ 0 };
	rc = open_source(d, &d->source, err, errlen);
	if (rc)
		return rc;
	snprintf(r->election, sizeof(r->election), "%s/election", d->conf.etcd.prefix);
	{
		struct us_leader_opts lo = {
			.etcd = us_store_etcd_client(d->store), .election = r->election,
			.name = r->name, .ttl_s = (long)(d->conf.etcd.lease_ttl_s + 0.5),
			/* a standby checks five times a lease */
			.check_ms = (long)(d->conf.etcd.lease_ttl_s * 200),
		};

		rc = us_leader_open(&lo, &r->leader, err, errlen);
		if (rc)
			return rc;
	}
	d->last_window = us_now();
	if (us_leader_leading(r->leader))
		take_over(d);
	else
		us_log(LOG_NOTICE, "standing by (%s)", r->name);
	return 0;
}

void us_role_close(struct us_daemon *d)
{
	struct us_role_state *r = d->role;

	if (!r)
		return;
	if (r->leader)
		us_leader_close(r->leader);     /* resign: a standby leads at once */
	free(r);
	d->role = NULL;
}

int us_role_fd(struct us_daemon *d)
{
	return d->role && d->role->leader ? us_leader_fd(d->role->leader) : -1;
}

void us_role_dispatch(struct us_daemon *d)
{
	struct us_role_state *r = d->role;
	int rc;

	if (!r || !r->leader)
		return;
	rc = us_leader_dispatch(r->leader);
	if (us_leader_leading(r->leader) && !r->leading)
		take_over(d);
	else if (!us_leader_leading(r->leader) && r->leading)
		stand_by(d, rc < 0 ? us_leader_error(r->leader) : "another controller leads");
}

bool us_role_leads(const struct us_daemon *d)
{
	return !d->role || d->role->leading;
}

int us_role_reload(struct us_daemon *d, char *err, size_t errlen)
{
	struct us_conf nw;
	__u32 *old = NULL;
	size_t nold = 0;
	int rc;

	if (us_role_leads(d))
		return 1;
	rc = us_store_load_conf(d->store, &nw, err, errlen);
	if (rc)
		return rc;
	if (d->role->role == US_CONF_CONTROLLER) {
		/* a standby: what the leader will apply, for status */
		pthread_mutex_lock(&d->lock);
		us_conf_free(&d->conf);
		d->conf = nw;
		pthread_mutex_unlock(&d->lock);
		return load_records(d, err, errlen);
	}
	/* an agent: the whole state, as it is; machines gone from the records
	 * leave the data plane */
	pthread_mutex_lock(&d->lock);
	old = calloc(d->model.n ? d->model.n : 1, sizeof(*old));
	for (size_t i = 0; old && i < d->model.n; i++)
		old[nold++] = d->model.r[i].id;
	pthread_mutex_unlock(&d->lock);
	rc = load_records(d, err, errlen);
	if (rc) {
		us_conf_free(&nw);
		free(old);
		return rc;
	}
	pthread_mutex_lock(&d->lock);
	us_conf_free(&d->conf);
	d->conf = nw;
	rc = us_daemon_apply(d, err, errlen);
	for (size_t i = 0; !rc && i < nold; i++)
		if (!us_model_find_id(&d->model, old[i]))
			us_dp_del_machine(d->dp, old[i]);
	us_dp_learn_macs(d->dp);
	pthread_mutex_unlock(&d->lock);
	free(old);
	if (!rc)
		us_log(LOG_INFO, "applied: %zu machines, sequence %llu", d->model.n,
		       (unsigned long long)d->model.seq);
	return rc;
}

bool us_role_window(struct us_daemon *d)
{
	char err[1024];

	if (us_role_leads(d))
		return true;
	if (d->role->role == US_CONF_AGENT) {
		pthread_mutex_lock(&d->lock);
		us_dp_learn_macs(d->dp);
		pthread_mutex_unlock(&d->lock);
	} else if (load_records(d, err, sizeof(err))) {
		us_log(LOG_WARNING, "standing by: reading the records: %s", err);
	}
	return false;
}

int us_role_counters(void *ctx, struct us_counters_snap *out)
{
	struct us_daemon *d = ctx;
	int rc = 0;

	pthread_mutex_lock(&d->lock);
	if (!d->role || !d->dp) {
		rc = -ENODEV;
		goto out;
	}
	if (!d->role->boot[0]) {
		/* the map's id within the kernel's boot: new maps, new counters */
		char kb[40] = "";
		FILE *f = fopen("/proc/sys/kernel/random/boot_id", "r");
		__u32 id = 0;

		if (f) {
			if (!fgets(kb, sizeof(kb), f))
				kb[0] = 0;
			fclose(f);
		}
		kb[strcspn(kb, "\n")] = 0;
		rc = us_dp_stats_id(d->dp, &id);
		if (rc)
			goto out;
		snprintf(d->role->boot, sizeof(d->role->boot), "%.36s/%u", kb, id);
	}
	snprintf(out->boot, sizeof(out->boot), "%s", d->role->boot);
	rc = us_dp_read_stats(d->dp, out->stats);
	out->n = 0;
	for (size_t i = 0; !rc && i < d->model.n && out->n < US_MAX_MACHINES; i++) {
		const struct us_rec *r = &d->model.r[i];

		out->ids[out->n] = r->id;
		rc = us_dp_read_mstats(d->dp, r->id, &out->m[out->n]);
		out->n++;
	}
out:
	pthread_mutex_unlock(&d->lock);
	return rc;
}

void us_role_status(struct us_daemon *d, json_object *o)
{
	struct us_role_state *r = d->role;
	struct us_etcd_kv kv;

	json_object_object_add(o, "role", json_object_new_string(us_conf_role_name(d->conf.role)));
	if (!r || !r->leader)
		return;
	json_object_object_add(o, "name", json_object_new_string(r->name));
	json_object_object_add(o, "leading", json_object_new_boolean(r->leading));
	if (!us_etcd_leader(us_store_etcd_client(d->store), r->election, &kv)) {
		json_object_object_add(o, "leader", json_object_new_string_len(kv.value,
									       (int)kv.value_len));
		us_etcd_kv_free(&kv);
	} else {
		json_object_object_add(o, "leader", json_object_new_string(""));
	}
	if (r->leading && d->source) {
		size_t n = 0;
		const struct us_remote_agent *a = us_source_remote_agents(d->source, &n);
		json_object *arr = json_object_new_array();

		for (size_t i = 0; i < n; i++) {
			json_object *ao = json_object_new_object();

			json_object_object_add(ao, "url", json_object_new_string(a[i].url));
			json_object_object_add(ao, "stale", json_object_new_boolean(a[i].stale));
			json_object_object_add(ao, "error", json_object_new_string(a[i].error));
			json_object_array_add(arr, ao);
		}
		json_object_object_add(o, "agents", arr);
	}
}
