// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* understudyd's core: reconcile and windows (see daemon.h). */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/vfs.h>
#include <linux/magic.h>

#include "commands.h"
#include "daemon.h"
#include "role.h"
#include "validate.h"
#include "window.h"
#include "wrecord.h"

#define US_DRAIN_EXTRA_S 32      /* a drain on the way out: SIP timer B/F, 64 x T1 */

int us_log_level = LOG_INFO;

void us_log(int level, const char *fmt, ...)
{
	static const char *const names[] = { "emerg", "alert", "crit", "error", "warning",
					     "notice", "info", "debug" };
	char buf[4096];
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

void us_log_lines(int level, const char *prefix, const char *text)
{
	while (*text) {
		size_t n = strcspn(text, "\n");

		us_log(level, "%s%.*s", prefix, (int)n, text);
		text += n + (text[n] ? 1 : 0);
	}
}

double us_now(void)
{
	return us_wall_now();
}

const struct us_conf_service *us_daemon_service(const struct us_daemon *d,
						const struct us_rec *r)
{
	return us_conf_find_service(&d->conf, r->conf.service);
}

int us_daemon_move(struct us_daemon *d, struct us_rec *r, enum us_mstate to, enum us_actor by,
		   const char *reason)
{
	enum us_mstate from = r->state;
	int rc = us_model_move(&d->model, r, to, by, reason);

	if (r->state != from)
		us_log(r->state == US_MS_REJECTED ? LOG_WARNING : LOG_NOTICE,
		       "machine %s (%s %s): %s by %s: %s", r->name, r->conf.service,
		       r->conf.version, us_state_name(r->state), us_actor_name(by), reason);
	if (rc && r->state != from)
		us_log(LOG_ERR, "%s", us_model_error(&d->model));
	return rc;
}

/* ---- the data plane: the model's applier ---------------------------------- */

static int svc_index(const struct us_daemon *d, const char *name)
{
	const struct us_conf_service *s = us_conf_find_service(&d->conf, name);

	return s ? (int)(s - d->conf.services) : -1;
}

/* Write a record's machine into the data plane (idempotent). Copies go to
 * a simulation machine only once its MAC is known (the data plane checks),
 * so that every answer of it is recognised and dropped. */
static int apply_machine(void *ctx, const struct us_rec *r, char *err, size_t len)
{
	struct us_daemon *d = ctx;
	struct us_machine_cfg c = { 0 };
	int si = svc_index(d, r->conf.service), rc;

	if (r->state == US_MS_REMOVED || r->state == US_MS_UNUSED || si < 0) {
		rc = us_dp_del_machine(d->dp, r->id);
	} else {
		c.id = r->id;
		c.svc_id = d->svc_ids[si];
		c.family = r->conf.family;
		memcpy(c.addr, r->conf.addr, 16);
		c.weight = r->conf.weight ? r->conf.weight : 1;
		c.state = r->state;
		rc = us_dp_set_machine(d->dp, &c);
	}
	if (rc)
		snprintf(err, len, "%s", us_dp_error(d->dp));
	return rc;
}

/* ---- configuration → model → data plane ---------------------------------------- */

/* Stable service ids: the id the data plane already has for the VIP and
 * port (after a restart), else the lowest free one. */
static int assign_service_ids(struct us_daemon *d, char *err, size_t errlen)
{
	struct us_dp_service have[US_MAX_SERVICES];
	bool used[US_MAX_SERVICES] = { false };
	int n = us_dp_list_services(d->dp, have, US_MAX_SERVICES);

	if (n < 0) {
		snprintf(err, errlen, "reading the data plane's services: %s", us_dp_error(d->dp));
		return n;
	}
	for (size_t i = 0; i < d->conf.nservices; i++) {
		const struct us_conf_service *s = &d->conf.services[i];

		d->svc_ids[i] = US_MAX_SERVICES;
		for (int k = 0; k < n; k++) {
			if (!memcmp(s->vip, have[k].addr, 16) && s->port == have[k].port &&
			    have[k].id < US_MAX_SERVICES && !used[have[k].id]) {
				d->svc_ids[i] = have[k].id;
				used[have[k].id] = true;
				break;
			}
		}
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

/* The pair deadline of the service's policy into the data plane: a pair's
 * silent side is unanswered after max(due_floor, due_multiple x the first
 * answer's latency), at most 32 s (the data plane's bound). Programmed at
 * every reconcile: start, reload, a policy change. */
static int set_due(struct us_daemon *d, __u32 svc_id, const struct us_policy *p)
{
	double ms = p->due_floor * 1000;
	__u32 floor_ms = ms < 1 ? 1 : ms > US_DUE_MAX_MS ? US_DUE_MAX_MS : (__u32)(ms + 0.5);
	__u16 mult = p->due_multiple < 1 ? 1 : p->due_multiple > 1000 ? 1000 :
		     (__u16)(p->due_multiple + 0.5);

	return us_dp_set_due(d->dp, svc_id, floor_ms, mult);
}

/* Services the data plane has that the configuration no longer names. */
static void drop_services(struct us_daemon *d)
{
	struct us_dp_service have[US_MAX_SERVICES];
	int n = us_dp_list_services(d->dp, have, US_MAX_SERVICES);

	for (int k = 0; k < n; k++) {
		bool keep = false;

		for (size_t i = 0; i < d->conf.nservices; i++)
			keep |= d->svc_ids[i] == have[k].id;
		if (!keep)
			us_dp_del_service(d->dp, have[k].id);
	}
}

static void mconf_of(struct us_mconf *c, const struct us_conf_service *s,
		     const struct us_conf_machine *cm)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->service, sizeof(c->service), "%s", s->name);
	snprintf(c->version, sizeof(c->version), "%s", cm->version);
	c->family = cm->family;
	memcpy(c->addr, cm->addr, 16);
	c->weight = cm->weight;
	c->dynamic = false;
	c->state = cm->state;
}

static bool in_pool(enum us_mstate s)
{
	return s == US_MS_ACTIVE || s == US_MS_SIMULATION || s == US_MS_CONTROL;
}

/* A move of reconcile: refused or not durable is a failure; durable but
 * not applied is finished by the apply of every record that follows. */
static int reconcile_move(struct us_daemon *d, const char *name, enum us_mstate to,
			  const char *reason, char *err, size_t errlen)
{
	struct us_rec *r = us_model_find(&d->model, name);
	int rc;

	if (!r)
		return 0;
	rc = us_daemon_move(d, r, to, US_BY_CONFIG, reason);
	r = us_model_find(&d->model, name);
	if (rc && r->state != to && !(to == US_MS_REMOVED && r->state == US_MS_DRAINING)) {
		snprintf(err, errlen, "machine %s: %s", name, us_model_error(&d->model));
		return rc;
	}
	return 0;
}

/*
 * Make the records and the data plane follow the configuration. A machine's
 * state in the file is where it starts; the file changes it only when the
 * file's state itself changed (the judge's and the operator's moves stand
 * otherwise). Moves out of the pools come first (they free addresses),
 * then the others; then every record is written into the data plane.
 */
/* The services into the data plane (none: a controller's). */
static int program_services(struct us_daemon *d, char *err, size_t errlen)
{
	int rc;

	if (!d->dp)
		return 0;
	rc = assign_service_ids(d, err, errlen);
	if (rc)
		return rc;
	for (size_t i = 0; i < d->conf.nservices; i++) {
		const struct us_conf_service *s = &d->conf.services[i];

		rc = us_dp_set_service(d->dp, d->svc_ids[i], s->family, s->vip, s->port, s->share_bp);
		if (!rc)
			rc = set_due(d, d->svc_ids[i], &s->policy);
		if (rc) {
			snprintf(err, errlen, "service %s: %s", s->name, us_dp_error(d->dp));
			return rc;
		}
	}
	return 0;
}

/* Every record into the data plane: machines out of the pools first, then
 * the others; services no longer configured go. */
static int program_records(struct us_daemon *d, char *err, size_t errlen)
{
	int rc;

	if (!d->dp)
		return 0;
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < d->model.n; i++) {
			const struct us_rec *r = &d->model.r[i];

			if (in_pool(r->state) != (pass == 1))
				continue;
			rc = us_model_apply(&d->model, r);
			if (rc && rc != -ENOENT) {
				snprintf(err, errlen, "%s", us_model_error(&d->model));
				return rc;
			}
		}
	}
	drop_services(d);
	return 0;
}

static int program_cfg(struct us_daemon *d, char *err, size_t errlen)
{
	struct us_cfg c = { .event_rate = d->conf.event_rate, .event_burst = d->conf.event_burst };
	int rc = d->dp ? us_dp_set_cfg(d->dp, &c) : 0;

	if (rc)
		snprintf(err, errlen, "%s", us_dp_error(d->dp));
	return rc;
}

int us_daemon_apply(struct us_daemon *d, char *err, size_t errlen)
{
	int rc = program_services(d, err, errlen);

	if (!rc)
		rc = program_records(d, err, errlen);
	if (!rc)
		rc = program_cfg(d, err, errlen);
	return rc;
}

static int reconcile(struct us_daemon *d, char *err, size_t errlen)
{
	int rc;

	rc = program_services(d, err, errlen);
	if (rc)
		return rc;
	/* machines gone from the file (not added by hand) are removed */
	for (size_t i = 0; i < d->model.n; i++) {
		const struct us_rec *r = &d->model.r[i];

		if (r->conf.dynamic || r->state == US_MS_REMOVED ||
		    us_conf_find_machine(&d->conf, r->name, NULL))
			continue;
		rc = reconcile_move(d, r->name, US_MS_REMOVED, "no longer in the configuration", err,
				    errlen);
		if (rc)
			return rc;
	}
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < d->conf.nservices; i++) {
			const struct us_conf_service *s = &d->conf.services[i];

			for (size_t j = 0; j < s->nmachines; j++) {
				const struct us_conf_machine *cm = &s->machines[j];
				struct us_rec *r = us_model_find(&d->model, cm->name);
				struct us_mconf c;

				if (in_pool(cm->state) != (pass == 1))
					continue;
				mconf_of(&c, s, cm);
				if (!r) {
					rc = us_model_new(&d->model, cm->name, &c, NULL);
					if (rc) {
						snprintf(err, errlen, "machine %s: %s", cm->name,
							 us_model_error(&d->model));
						return rc;
					}
					rc = reconcile_move(d, cm->name, cm->state,
							    "in the configuration", err, errlen);
					r = us_model_find(&d->model, cm->name);
					if (rc && r && r->state == US_MS_UNUSED)
						us_model_drop(&d->model, r);
				} else if (r->conf.state != cm->state && r->state != cm->state) {
					rc = reconcile_move(d, cm->name, cm->state,
							    "state changed in the configuration", err,
							    errlen);
				}
				if (rc)
					return rc;
				r = us_model_find(&d->model, cm->name);
				if (r->state == US_MS_UNUSED) {
					us_model_drop(&d->model, r);
					continue;
				}
				r->conf = c;    /* what the file says now, and its state */
			}
		}
	}
	rc = program_records(d, err, errlen);
	if (rc)
		return rc;
	rc = us_model_save(&d->model);
	if (rc) {
		snprintf(err, errlen, "%s", us_model_error(&d->model));
		return rc;
	}
	rc = program_cfg(d, err, errlen);
	d->model.drain_s = 2 * d->conf.window_s + US_DRAIN_EXTRA_S;
	return rc;
}

int us_daemon_reconcile(struct us_daemon *d, char *err, size_t errlen)
{
	return reconcile(d, err, errlen);
}

/* The configuration's warnings (config.h), a log line each. */
static void log_warnings(const struct us_conf *c)
{
	char w[8192], *line, *save = NULL;

	if (!us_conf_warnings(c, w, sizeof(w)))
		return;
	for (line = strtok_r(w, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		us_log(LOG_WARNING, "%s", line);
}

/* One daemon per state directory and per pin root: a second one would
 * fight the first over state.json and the maps, or unlink its socket. The
 * lock is taken before anything is written; the state directory's lock
 * file names the holder. 0, or -EBUSY (or another errno) with err. */
static int lock_instance(struct us_daemon *d, char *err, size_t errlen)
{
	char path[US_CONF_PATH_MAX + 8], pid[32] = "";
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/lock", d->conf.state_dir);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		snprintf(err, errlen, "lock %s: %s", path, strerror(errno));
		return -errno;
	}
	if (flock(fd, LOCK_EX | LOCK_NB)) {
		int e = errno;

		n = pread(fd, pid, sizeof(pid) - 1, 0);
		pid[n > 0 ? n : 0] = 0;
		pid[strcspn(pid, "\n")] = 0;
		close(fd);
		if (e != EWOULDBLOCK) {
			snprintf(err, errlen, "lock %s: %s", path, strerror(e));
			return -e;
		}
		snprintf(err, errlen, "another understudyd%s%s%s runs on state directory %s (%s is "
			 "locked); nothing was touched", pid[0] ? " (pid " : "", pid,
			 pid[0] ? ")" : "", d->conf.state_dir, path);
		return -EBUSY;
	}
	snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
	if (ftruncate(fd, 0) || pwrite(fd, pid, strlen(pid), 0) < 0)
		us_log(LOG_WARNING, "lock %s: writing the pid: %s", path, strerror(errno));
	d->lock_fd = fd;

	/* the pin root: another state directory, the same data plane */
	if (d->conf.role == US_CONF_CONTROLLER)
		return 0;
	fd = open(d->conf.pin_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		snprintf(err, errlen, "pin root %s: %s", d->conf.pin_root, strerror(errno));
		return -errno;
	}
	if (flock(fd, LOCK_EX | LOCK_NB)) {
		int e = errno;

		close(fd);
		snprintf(err, errlen, e == EWOULDBLOCK ?
			 "another understudyd runs on pin root %s (it is locked); nothing was touched" :
			 "lock of pin root %s: %s", d->conf.pin_root, strerror(e));
		return e == EWOULDBLOCK ? -EBUSY : -e;
	}
	d->pin_lock_fd = fd;
	return 0;
}

static bool has_file(const char *dir, const char *name)
{
	char path[US_CONF_PATH_MAX + 32];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return access(path, F_OK) == 0;
}

static void unlink_in(const char *dir, const char *name)
{
	char path[US_CONF_PATH_MAX + 32];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	unlink(path);
}

int us_daemon_start(struct us_daemon *d, const char *conf_path, bool attach, char *err,
		    size_t errlen)
{
	struct us_dp_opts o = { 0 };
	bool fresh_pins, had_state, had_audit;
	struct us_audit pending;
	struct statfs sfs;
	char e[4096];
	int rc;

	memset(d, 0, sizeof(*d));
	d->lock_fd = d->pin_lock_fd = -1;
	d->peer_uid = -1;
	pthread_mutex_init(&d->lock, NULL);
	d->attach = attach;
	rc = us_role_store_open(conf_path, &d->store, err, errlen);
	if (rc)
		return rc;
	us_model_init(&d->model, d->store);
	rc = us_store_load_conf(d->store, &d->conf, e, sizeof(e));
	if (rc) {
		snprintf(err, errlen, "%s", e);
		return rc;
	}
	us_log_level = d->conf.log_level;
	log_warnings(&d->conf);
	/* whoever can write in the state directory can replace the state file */
	rc = us_secure_dir(d->conf.state_dir, e, sizeof(e));
	if (rc) {
		snprintf(err, errlen, "state directory %s %s", d->conf.state_dir, e);
		return rc;
	}
	/* bpffs holds pins, not files: the state would be written nowhere */
	if (!statfs(d->conf.state_dir, &sfs) && sfs.f_type == BPF_FS_MAGIC) {
		snprintf(err, errlen, "state directory %s is on the BPF filesystem, which cannot hold "
			 "files; choose another (daemon.state_dir)", d->conf.state_dir);
		return -EINVAL;
	}
	/* a controller has no data plane: no pins, no BPF filesystem needed */
	fresh_pins = d->conf.role != US_CONF_CONTROLLER && access(d->conf.pin_root, F_OK) != 0;
	rc = d->conf.role == US_CONF_CONTROLLER ? 0 : us_secure_dir(d->conf.pin_root, e, sizeof(e));
	if (rc) {
		snprintf(err, errlen, "pin root %s %s", d->conf.pin_root, e);
		return rc;
	}
	rc = lock_instance(d, err, errlen);
	if (rc) {
		if (fresh_pins)
			rmdir(d->conf.pin_root);
		return rc;
	}
	had_state = has_file(d->conf.state_dir, "state.json");
	had_audit = has_file(d->conf.state_dir, "audit.log");
	d->model.drain_s = 2 * d->conf.window_s + US_DRAIN_EXTRA_S;
	e[0] = 0;
	rc = d->store->ops->load(d->store, &d->model, &pending, e, sizeof(e));
	if (!rc)
		rc = us_model_recover(&d->model, &pending);
	if (rc) {
		snprintf(err, errlen, "%s", e[0] ? e : us_model_error(&d->model));
		goto undo;
	}
	if (pending.seq)
		us_log(LOG_NOTICE, "finished transition %llu: machine %s to %s",
		       (unsigned long long)pending.seq, pending.machine, us_state_name(pending.to));
	for (size_t i = 0; i < d->model.n; i++)
		if (d->model.r[i].judging.reset_from)
			us_log(LOG_NOTICE, "machine %s: the evidence of state-file format %d cannot be "
			       "converted to this judge's; it is judged afresh from now",
			       d->model.r[i].name, d->model.r[i].judging.reset_from);
	us_wrecords_init(&d->wrec, d->conf.state_dir, d->conf.window_records_max);
	/* a controller has no data plane: its role starts it all */
	rc = us_role_start(d, err, errlen);
	if (rc || d->conf.role == US_CONF_CONTROLLER)
		return rc;
	o.pin_root = d->conf.pin_root;
	o.calls_max = d->conf.max_calls;
	o.txns_max = d->conf.max_transactions;
	o.err = e;
	o.errlen = sizeof(e);
	rc = us_dp_open(&o, &d->dp);
	if (rc) {
		if (e[0])
			snprintf(err, errlen, "loading the data plane: %s", e);
		else
			snprintf(err, errlen, "loading the data plane (pins in %s): %s",
				 d->conf.pin_root, strerror(-rc));
		goto undo;
	}
	rc = us_source_bpf(d->dp, &d->source);
	if (rc) {
		snprintf(err, errlen, "counters: %s", strerror(-rc));
		goto undo;
	}
	d->model.dp = (struct us_applier){ .apply = apply_machine, .ctx = d };
	if (attach) {
		__u32 flags = us_conf_xdp_flags(&d->conf);

		for (size_t i = 0; i < d->conf.nmachine_ifs; i++) {
			rc = us_dp_add_machine_iface(d->dp, d->conf.machine_ifs[i]);
			if (!rc)
				rc = us_dp_attach(d->dp, d->conf.machine_ifs[i], US_ROLE_MACHINE, flags);
			if (rc) {
				snprintf(err, errlen, "%s", us_dp_error(d->dp));
				goto undo;
			}
		}
	}
	/* an agent applies the records as they are: the controller moves */
	rc = d->conf.role == US_CONF_AGENT ? us_daemon_apply(d, err, errlen) :
	     reconcile(d, err, errlen);
	if (rc)
		goto undo;
	us_dp_learn_macs(d->dp);
	if (attach) {
		/* the client side last: by now every table is in place */
		rc = us_dp_attach(d->dp, d->conf.client_if, US_ROLE_CLIENT, us_conf_xdp_flags(&d->conf));
		if (rc) {
			snprintf(err, errlen, "%s", us_dp_error(d->dp));
			goto undo;
		}
	}
	d->last_window = us_now();
	return 0;

undo:
	/* a refused start leaves what it found: the links it made detached,
	 * pins and files it created removed (us_daemon_stop then saves
	 * nothing: no data plane) */
	if (d->dp) {
		us_dp_detach_created(d->dp);
		us_source_close(d->source);
		d->source = NULL;
		us_dp_close(d->dp);
		d->dp = NULL;
	}
	if (fresh_pins)
		us_dp_destroy_pins(d->conf.pin_root);
	if (!had_state)
		unlink_in(d->conf.state_dir, "state.json");
	if (!had_audit)
		unlink_in(d->conf.state_dir, "audit.log");
	return rc;
}

void us_daemon_stop(struct us_daemon *d)
{
	us_role_close(d);
	if (d->dp && d->store)
		us_model_save(&d->model);
	us_source_close(d->source);
	d->source = NULL;
	us_dp_close(d->dp);
	d->dp = NULL;
	us_model_free(&d->model);
	us_wrecords_free(&d->wrec);
	us_store_close(d->store);
	d->store = NULL;
	us_conf_free(&d->conf);
	/* the locks go last: nothing of this instance is written after */
	if (d->pin_lock_fd >= 0)
		close(d->pin_lock_fd);
	if (d->lock_fd >= 0)
		close(d->lock_fd);
	d->lock_fd = d->pin_lock_fd = -1;
	pthread_mutex_destroy(&d->lock);
}

int us_daemon_reload(struct us_daemon *d, char *err, size_t errlen)
{
	struct us_conf nw;
	struct us_conf_diff diff;
	char e[4096], desc[512];
	int rc;

	rc = us_role_reload(d, err, errlen);    /* an agent applies, a standby reads */
	if (rc <= 0)
		return rc;
	rc = us_store_load_conf(d->store, &nw, e, sizeof(e));
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
	us_wrecords_set_max(&d->wrec, d->conf.window_records_max);
	rc = reconcile(d, err, errlen);
	pthread_mutex_unlock(&d->lock);
	if (!rc) {
		us_log(LOG_NOTICE, "configuration reloaded: %s", desc);
		log_warnings(&d->conf);
		snprintf(err, errlen, "%s", desc);
	}
	us_conf_diff_free(&diff);
	return rc;
}

/* ---- windows ---------------------------------------------------------------- */

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

/* A simulation machine's window, for replay (wrecord.h): never in the way
 * of judging, a failure is counted (and logged once per window, above). */
static void record_window(struct us_daemon *d, const struct us_rec *r, const struct us_window *w,
			  const struct us_judgement *j)
{
	json_object *o;

	if (!d->wrec.max)
		return;
	o = us_wrecord_json(r->name, r->conf.service, r->conf.version, r->since, w, j);
	us_wrecords_append(&d->wrec, r->name, o);
	json_object_put(o);
}

/* Read the counters, run the window, keep what it carries on, make its
 * moves. */
int us_daemon_window(struct us_daemon *d)
{
	size_t n = d->model.n;
	__u32 *ids = calloc(n ? n : 1, sizeof(*ids));
	struct us_counts *counts = calloc(n ? n : 1, sizeof(*counts));
	struct us_judging *judging = calloc(n ? n : 1, sizeof(*judging));
	struct us_mobs *obs = calloc(n ? n : 1, sizeof(*obs));
	bool *judged = calloc(n ? n : 1, sizeof(*judged));
	struct us_window_move *dec = calloc(n ? n : 1, sizeof(*dec));
	struct us_window *win = calloc(n ? n : 1, sizeof(*win));
	bool *has_win = calloc(n ? n : 1, sizeof(*has_win));
	struct us_window_out out = { .judging = judging, .obs = obs, .judged = judged, .win = win,
				     .has_win = has_win, .dec = dec };
	__u64 failed;
	struct us_window_in in;
	double now;
	int rc = 0;

	if (!us_role_window(d))
		goto out;               /* an agent, a standby controller */
	if (!ids || !counts || !judging || !obs || !judged || !dec || !win || !has_win) {
		rc = -ENOMEM;
		us_log(LOG_ERR, "window: out of memory");
		goto out;
	}
	pthread_mutex_lock(&d->lock);
	now = us_now();
	in = (struct us_window_in){ .now = now, .seconds = now - d->last_window, .conf = &d->conf,
				    .recs = d->model.r, .counts = counts, .n = n };
	d->last_window = now;
	d->windows++;
	us_dp_learn_macs(d->dp);
	for (size_t i = 0; i < n; i++)
		ids[i] = d->model.r[i].id;
	rc = d->source->ops->read(d->source, ids, n, counts);
	if (rc)
		us_log(LOG_WARNING, "window: reading the counters: %s", strerror(-rc));
	us_window_run(&in, &out);
	failed = d->wrec.failed;
	for (size_t i = 0; i < n; i++) {
		struct us_rec *r = &d->model.r[i];

		r->judging = judging[i];
		r->obs = obs[i];
		if (has_win[i])
			record_window(d, r, &win[i], judged[i] ? &r->obs.last : NULL);
		if (judged[i])
			us_log(LOG_INFO, "machine %s: window %u: %s, %s%s (paired %llu, streak %u)%s%s",
			       r->name, us_judging_windows(&r->judging), us_verdict_name(r->obs.last.verdict),
			       us_decision_name(r->obs.last.decision),
			       r->obs.last.held && r->obs.last.decision != US_D_NONE ?
			       " (held: policy mode hold)" : "",
			       (unsigned long long)us_judging_paired(&r->judging),
			       us_judging_streak(&r->judging), r->obs.last.stuck ? "; stuck: " : "",
			       r->obs.last.stuck ? r->obs.last.stuck_why : "");
	}
	if (d->wrec.failed > failed)
		us_log(LOG_WARNING, "window records: %llu not written (%llu so far): %s",
		       (unsigned long long)(d->wrec.failed - failed),
		       (unsigned long long)d->wrec.failed, d->wrec.err);
	for (size_t k = 0; k < out.ndec; k++) {
		struct us_rec *r = us_model_find(&d->model, dec[k].machine);

		if (r)
			us_daemon_move(d, r, dec[k].to, dec[k].by, dec[k].reason);
	}
	rc = us_model_save(&d->model);
	if (rc)
		us_log(LOG_ERR, "%s", us_model_error(&d->model));
	pthread_mutex_unlock(&d->lock);
out:
	free(ids);
	free(counts);
	free(judging);
	free(obs);
	free(judged);
	free(dec);
	free(win);
	free(has_win);
	return rc;
}

void us_daemon_check_links(struct us_daemon *d)
{
	char what[512];
	int n;

	if (!d->dp)
		return;
	n = us_dp_check_links(d->dp, what, sizeof(what));
	if (n < 0) {
		us_log(LOG_ERR, "XDP links: %s", us_dp_error(d->dp));
		return;
	}
	if (!n)
		return;
	pthread_mutex_lock(&d->lock);
	d->link_repairs += (__u64)n;
	pthread_mutex_unlock(&d->lock);
	us_log(LOG_WARNING, "XDP links undone by someone else, repaired: %s", what);
}

char *us_daemon_command(struct us_daemon *d, const char *req)
{
	return us_cmd_dispatch(d, req);
}
