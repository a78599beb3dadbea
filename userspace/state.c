// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The controller's durable state and its state machine: see state.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <arpa/inet.h>
#include <json-c/json.h>

#include "dp.h"
#include "state.h"

#define STATE_VERSION 1

const char *us_actor_name(enum us_actor a)
{
	switch (a) {
	case US_BY_CONFIG: return "config";
	case US_BY_JUDGE: return "judge";
	case US_BY_OPERATOR: return "operator";
	case US_BY_TIMER: return "timer";
	}
	return "?";
}

/* enum us_mstate from its name, the names of us_state_name() */
int us_state_from_name(const char *s)
{
	for (int i = 1; i < US_MS_MAX; i++)
		if (!strcmp(s, us_state_name(i)))
			return i;
	return -1;
}

int us_transition_check(enum us_mstate from, enum us_mstate to, enum us_actor by,
			char *why, size_t len)
{
	int ok = 0;

	if ((unsigned)from >= US_MS_MAX || (unsigned)to >= US_MS_MAX || to == US_MS_UNUSED) {
		snprintf(why, len, "unknown state");
		return -EINVAL;
	}
	if (from == to) {
		snprintf(why, len, "already %s", us_state_name(to));
		return -EALREADY;
	}
	switch (by) {
	case US_BY_CONFIG:
		ok = 1;                         /* the file is the operator's word */
		break;
	case US_BY_JUDGE:
		ok = from == US_MS_SIMULATION && (to == US_MS_ACTIVE || to == US_MS_REJECTED);
		break;
	case US_BY_OPERATOR:
		ok = (from == US_MS_SIMULATION && (to == US_MS_ACTIVE || to == US_MS_REJECTED)) ||
		     (from == US_MS_ACTIVE && to == US_MS_DRAINING) ||
		     ((from == US_MS_REJECTED || from == US_MS_DRAINING) && to == US_MS_SIMULATION) ||
		     (from == US_MS_DRAINING && to == US_MS_ACTIVE) ||
		     (from != US_MS_REMOVED && to == US_MS_REMOVED);
		break;
	case US_BY_TIMER:
		ok = from == US_MS_DRAINING && to == US_MS_REMOVED;
		break;
	}
	if (!ok) {
		snprintf(why, len, "%s may not move a machine from %s to %s", us_actor_name(by),
			 us_state_name(from), us_state_name(to));
		return -EPERM;
	}
	return 0;
}

struct us_mrec *us_state_find(struct us_state *st, const char *name)
{
	for (size_t i = 0; i < st->n; i++)
		if (!strcmp(st->m[i].name, name))
			return &st->m[i];
	return NULL;
}

struct us_mrec *us_state_find_id(struct us_state *st, __u32 id)
{
	for (size_t i = 0; i < st->n; i++)
		if (st->m[i].id == id)
			return &st->m[i];
	return NULL;
}

static void copy_str(char *dst, size_t cap, const char *src)
{
	snprintf(dst, cap, "%s", src ? src : "");
}

int us_state_add(struct us_state *st, const char *name, const char *service,
		 const char *version, enum us_mstate state, double now, struct us_mrec **out)
{
	struct us_mrec *m;
	__u32 id;

	if (us_state_find(st, name))
		return -EEXIST;
	for (id = 0; id < US_MAX_MACHINES; id++)
		if (!us_state_find_id(st, id))
			break;
	if (id == US_MAX_MACHINES)
		return -ENOSPC;
	if (st->n == st->cap) {
		size_t cap = st->cap ? st->cap * 2 : 16;
		struct us_mrec *nm = realloc(st->m, cap * sizeof(*nm));

		if (!nm)
			return -ENOMEM;
		st->m = nm;
		st->cap = cap;
	}
	/* records are found by name or id, never kept by address across adds */
	m = &st->m[st->n++];
	memset(m, 0, sizeof(*m));
	copy_str(m->name, sizeof(m->name), name);
	copy_str(m->service, sizeof(m->service), service);
	copy_str(m->version, sizeof(m->version), version);
	m->id = id;
	m->state = state;
	m->config_state = state;
	m->since = now;
	if (out)
		*out = m;
	return 0;
}

void us_state_free(struct us_state *st)
{
	free(st->m);
	st->m = NULL;
	st->n = st->cap = 0;
}

/* ---- JSON ------------------------------------------------------------ */

static int get_str(json_object *o, const char *k, char *dst, size_t cap);
static int get_num(json_object *o, const char *k, double *d);

static json_object *hist_json(const __u64 *h)
{
	json_object *a = json_object_new_array();

	for (int i = 0; i < US_LAT_BUCKETS; i++)
		json_object_array_add(a, json_object_new_int64((int64_t)h[i]));
	return a;
}

static json_object *mrec_json(const struct us_mrec *m)
{
	json_object *o = json_object_new_object(), *ev = json_object_new_object();

	json_object_object_add(o, "name", json_object_new_string(m->name));
	json_object_object_add(o, "service", json_object_new_string(m->service));
	json_object_object_add(o, "version", json_object_new_string(m->version));
	json_object_object_add(o, "id", json_object_new_int(m->id));
	{
		char a[INET6_ADDRSTRLEN] = "";

		if (m->family == AF_INET)
			inet_ntop(AF_INET, m->addr + 12, a, sizeof(a));
		else if (m->family == AF_INET6)
			inet_ntop(AF_INET6, m->addr, a, sizeof(a));
		json_object_object_add(o, "address", json_object_new_string(a));
	}
	json_object_object_add(o, "weight", json_object_new_int(m->weight));
	json_object_object_add(o, "dynamic", json_object_new_boolean(m->dynamic));
	json_object_object_add(o, "state", json_object_new_string(us_state_name(m->state)));
	json_object_object_add(o, "config_state", json_object_new_string(us_state_name(m->config_state)));
	json_object_object_add(o, "since", json_object_new_double(m->since));
	json_object_object_add(o, "remove_at", json_object_new_double(m->remove_at));
	json_object_object_add(o, "streak", json_object_new_int(m->streak));
	json_object_object_add(o, "windows", json_object_new_int(m->windows));
	json_object_object_add(o, "last_verdict", json_object_new_int(m->last_verdict));
	json_object_object_add(o, "last_decision", json_object_new_int(m->last_decision));
	json_object_object_add(ev, "sim_seconds", json_object_new_double(m->ev.sim_seconds));
	json_object_object_add(ev, "paired", json_object_new_int64(m->ev.paired));
	json_object_object_add(ev, "differ_class", json_object_new_int64(m->ev.differ_class));
	json_object_object_add(ev, "sim_err_only", json_object_new_int64(m->ev.sim_err_only));
	json_object_object_add(ev, "active_err_only", json_object_new_int64(m->ev.active_err_only));
	json_object_object_add(ev, "both_err", json_object_new_int64(m->ev.both_err));
	json_object_object_add(ev, "active_lat", hist_json(m->ev.active_lat));
	json_object_object_add(ev, "sim_lat", hist_json(m->ev.sim_lat));
	json_object_object_add(o, "evidence", ev);
	return o;
}

static int get_str(json_object *o, const char *k, char *dst, size_t cap)
{
	json_object *v;

	if (!json_object_object_get_ex(o, k, &v) || !json_object_is_type(v, json_type_string))
		return -EINVAL;
	copy_str(dst, cap, json_object_get_string(v));
	return 0;
}

static int get_num(json_object *o, const char *k, double *d)
{
	json_object *v;

	if (!json_object_object_get_ex(o, k, &v) ||
	    !(json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double)))
		return -EINVAL;
	*d = json_object_get_double(v);
	return 0;
}

static int get_u64(json_object *o, const char *k, __u64 *u)
{
	json_object *v;

	if (!json_object_object_get_ex(o, k, &v) || !json_object_is_type(v, json_type_int) ||
	    json_object_get_int64(v) < 0)
		return -EINVAL;
	*u = (__u64)json_object_get_int64(v);
	return 0;
}

static int get_hist(json_object *o, const char *k, __u64 *h)
{
	json_object *a;

	if (!json_object_object_get_ex(o, k, &a) || !json_object_is_type(a, json_type_array) ||
	    json_object_array_length(a) != US_LAT_BUCKETS)
		return -EINVAL;
	for (int i = 0; i < US_LAT_BUCKETS; i++) {
		json_object *v = json_object_array_get_idx(a, i);

		if (!json_object_is_type(v, json_type_int) || json_object_get_int64(v) < 0)
			return -EINVAL;
		h[i] = (__u64)json_object_get_int64(v);
	}
	return 0;
}

static int mrec_parse(json_object *o, struct us_mrec *m, const char **field)
{
	char s[32];
	double d;
	__u64 u;
	json_object *ev;

	memset(m, 0, sizeof(*m));
#define NEED(expr, f) do { if (expr) { *field = f; return -EINVAL; } } while (0)
	NEED(get_str(o, "name", m->name, sizeof(m->name)) || !m->name[0], "name");
	NEED(get_str(o, "service", m->service, sizeof(m->service)), "service");
	NEED(get_str(o, "version", m->version, sizeof(m->version)), "version");
	NEED(get_u64(o, "id", &u) || u >= US_MAX_MACHINES, "id");
	m->id = (__u32)u;
	{
		char a[INET6_ADDRSTRLEN];
		json_object *v;

		NEED(get_str(o, "address", a, sizeof(a)), "address");
		if (inet_pton(AF_INET, a, m->addr + 12) == 1) {
			m->family = AF_INET;
			m->addr[10] = m->addr[11] = 0xff;
		} else if (inet_pton(AF_INET6, a, m->addr) == 1) {
			m->family = AF_INET6;
		} else if (a[0]) {
			NEED(1, "address");
		}
		NEED(get_u64(o, "weight", &u) || u > US_WEIGHT_MAX, "weight");
		m->weight = (__u16)u;
		NEED(!json_object_object_get_ex(o, "dynamic", &v) ||
		     !json_object_is_type(v, json_type_boolean), "dynamic");
		m->dynamic = json_object_get_boolean(v);
	}
	NEED(get_str(o, "state", s, sizeof(s)) || us_state_from_name(s) < 0, "state");
	m->state = us_state_from_name(s);
	NEED(get_str(o, "config_state", s, sizeof(s)) || us_state_from_name(s) < 0, "config_state");
	m->config_state = us_state_from_name(s);
	NEED(get_num(o, "since", &m->since), "since");
	NEED(get_num(o, "remove_at", &m->remove_at), "remove_at");
	NEED(get_u64(o, "streak", &u), "streak");
	m->streak = (__u32)u;
	NEED(get_u64(o, "windows", &u), "windows");
	m->windows = (__u32)u;
	NEED(get_num(o, "last_verdict", &d), "last_verdict");
	m->last_verdict = (int)d;
	NEED(get_num(o, "last_decision", &d), "last_decision");
	m->last_decision = (int)d;
	NEED(!json_object_object_get_ex(o, "evidence", &ev), "evidence");
	NEED(get_num(ev, "sim_seconds", &m->ev.sim_seconds), "evidence.sim_seconds");
	NEED(get_u64(ev, "paired", &m->ev.paired), "evidence.paired");
	NEED(get_u64(ev, "differ_class", &m->ev.differ_class), "evidence.differ_class");
	NEED(get_u64(ev, "sim_err_only", &m->ev.sim_err_only), "evidence.sim_err_only");
	NEED(get_u64(ev, "active_err_only", &m->ev.active_err_only), "evidence.active_err_only");
	NEED(get_u64(ev, "both_err", &m->ev.both_err), "evidence.both_err");
	NEED(get_hist(ev, "active_lat", m->ev.active_lat), "evidence.active_lat");
	NEED(get_hist(ev, "sim_lat", m->ev.sim_lat), "evidence.sim_lat");
#undef NEED
	return 0;
}

/*
 * The audit trail is the write-ahead log of transitions: a line is fsynced
 * before the state file changes. If the last complete line is the one
 * after the state file's sequence number, the daemon stopped between the
 * two: finish that transition now (exactly once). A torn last line (no
 * newline) was never acknowledged and is dropped.
 */
static int recover(struct us_state *st, char *err, size_t errlen)
{
	char path[512], buf[4096], *nl, *start;
	json_object *o = NULL, *v;
	struct us_mrec *m;
	ssize_t n;
	off_t size;
	int fd, rc = 0;

	snprintf(path, sizeof(path), "%s/audit.log", st->dir);
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	size = lseek(fd, 0, SEEK_END);
	if (size <= 0)
		goto out;
	n = pread(fd, buf, sizeof(buf) - 1, size > (off_t)sizeof(buf) - 1 ? size - (off_t)sizeof(buf) + 1 : 0);
	if (n <= 0)
		goto out;
	buf[n] = 0;
	if (buf[n - 1] != '\n') {
		/* torn: cut it off, then look at the line before it */
		nl = strrchr(buf, '\n');
		if (ftruncate(fd, size - (off_t)(n - (nl ? nl - buf + 1 : 0)))) {
			rc = -errno;
			goto out;
		}
		if (!nl)
			goto out;
		n = nl - buf + 1;
		buf[n] = 0;
	}
	buf[n - 1] = 0;
	nl = strrchr(buf, '\n');
	start = nl ? nl + 1 : buf;
	o = json_tokener_parse(start);
	if (!o || !json_object_object_get_ex(o, "seq", &v))
		goto out;
	if ((__u64)json_object_get_int64(v) == st->seq + 1) {
		char name[64], to[32];
		double t = 0;

		if (get_str(o, "machine", name, sizeof(name)) || get_str(o, "to", to, sizeof(to)) ||
		    get_num(o, "time", &t) || !(m = us_state_find(st, name)) ||
		    us_state_from_name(to) < 0) {
			snprintf(err, errlen, "%s: last transition cannot be replayed", path);
			rc = -EINVAL;
			goto out;
		}
		m->state = us_state_from_name(to);
		m->since = t;
		if (m->state == US_MS_SIMULATION) {
			memset(&m->ev, 0, sizeof(m->ev));
			m->streak = m->windows = 0;
		}
		st->seq++;
		rc = us_state_save(st);
	}
out:
	if (o)
		json_object_put(o);
	close(fd);
	return rc;
}

int us_state_load(struct us_state *st, const char *dir, char *err, size_t errlen)
{
	char path[512];
	json_object *root, *arr, *v;
	struct us_state nw = { 0 };
	int err_ = 0;
	__u64 seq = 0;

	copy_str(nw.dir, sizeof(nw.dir), dir);
	snprintf(path, sizeof(path), "%s/state.json", dir);
	if (access(path, F_OK)) {
		if (errno != ENOENT) {
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
			return -errno;
		}
		us_state_free(st);
		*st = nw;
		return 0;
	}
	root = json_object_from_file(path);
	if (!root) {
		snprintf(err, errlen, "%s: not valid JSON: %s", path, json_util_get_last_err());
		return -EINVAL;
	}
	if (!json_object_object_get_ex(root, "version", &v) || json_object_get_int(v) != STATE_VERSION ||
	    !json_object_object_get_ex(root, "machines", &arr) ||
	    !json_object_is_type(arr, json_type_array) || get_u64(root, "seq", &seq)) {
		snprintf(err, errlen, "%s: not an understudy state file of version %d", path,
			 STATE_VERSION);
		err_ = -EINVAL;
		goto out;
	}
	nw.seq = seq;
	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		struct us_mrec m, *slot;
		const char *field = "";

		if (mrec_parse(json_object_array_get_idx(arr, i), &m, &field)) {
			snprintf(err, errlen, "%s: machines[%zu].%s: missing or invalid", path, i, field);
			err_ = -EINVAL;
			goto out;
		}
		if (us_state_find(&nw, m.name) || us_state_find_id(&nw, m.id)) {
			snprintf(err, errlen, "%s: machines[%zu]: name or id repeated", path, i);
			err_ = -EINVAL;
			goto out;
		}
		err_ = us_state_add(&nw, m.name, m.service, m.version, m.state, m.since, &slot);
		if (err_)
			goto out;
		*slot = m;
	}
	us_state_free(st);
	*st = nw;
	nw.m = NULL;
	err_ = recover(st, err, errlen);
out:
	us_state_free(&nw);
	json_object_put(root);
	return err_;
}

static int fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), err = 0;

	if (fd < 0)
		return -errno;
	if (fsync(fd))
		err = -errno;
	close(fd);
	return err;
}

static int write_all(int fd, const char *s, size_t n)
{
	while (n) {
		ssize_t w = write(fd, s, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		s += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Create the directory if needed, then write text and a newline to path
 * (opened with flags) and fsync it: the durable write both the state file
 * and the audit trail are made of. */
static int write_text_sync(const char *dir, const char *path, int flags, const char *text)
{
	int fd, err;

	if (mkdir(dir, 0700) && errno != EEXIST)
		return -errno;
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | flags, 0600);
	if (fd < 0)
		return -errno;
	err = write_all(fd, text, strlen(text));
	if (!err)
		err = write_all(fd, "\n", 1);
	if (!err && fsync(fd))
		err = -errno;
	close(fd);
	return err;
}

int us_state_save(const struct us_state *st)
{
	char path[512], tmp[520];
	json_object *root = json_object_new_object(), *arr = json_object_new_array();
	const char *text;
	int err;

	json_object_object_add(root, "version", json_object_new_int(STATE_VERSION));
	json_object_object_add(root, "seq", json_object_new_int64((int64_t)st->seq));
	for (size_t i = 0; i < st->n; i++)
		json_object_array_add(arr, mrec_json(&st->m[i]));
	json_object_object_add(root, "machines", arr);
	text = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY);

	snprintf(path, sizeof(path), "%s/state.json", st->dir);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	err = write_text_sync(st->dir, tmp, O_TRUNC, text);
	if (!err && rename(tmp, path))
		err = -errno;
	if (!err)
		err = fsync_dir(st->dir);
	if (err)
		unlink(tmp);
	json_object_put(root);
	return err;
}

static int audit(struct us_state *st, const struct us_mrec *m, enum us_mstate from,
		 enum us_mstate to, enum us_actor by, const char *reason, double now)
{
	char path[512];
	json_object *o = json_object_new_object();
	const char *line;
	int err;

	json_object_object_add(o, "seq", json_object_new_int64((int64_t)st->seq + 1));
	json_object_object_add(o, "time", json_object_new_double(now));
	json_object_object_add(o, "machine", json_object_new_string(m->name));
	json_object_object_add(o, "service", json_object_new_string(m->service));
	json_object_object_add(o, "version", json_object_new_string(m->version));
	json_object_object_add(o, "from", json_object_new_string(us_state_name(from)));
	json_object_object_add(o, "to", json_object_new_string(us_state_name(to)));
	json_object_object_add(o, "by", json_object_new_string(us_actor_name(by)));
	json_object_object_add(o, "reason", json_object_new_string(reason ? reason : ""));
	line = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	snprintf(path, sizeof(path), "%s/audit.log", st->dir);
	err = write_text_sync(st->dir, path, O_APPEND, line);
	json_object_put(o);
	return err;
}

int us_state_transition(struct us_state *st, struct us_mrec *m, enum us_mstate to,
			enum us_actor by, const char *reason, double now)
{
	enum us_mstate from = m->state;
	struct us_mrec saved = *m;
	char why[128];
	int err;

	err = us_transition_check(from, to, by, why, sizeof(why));
	if (err)
		return err;
	err = audit(st, m, from, to, by, reason, now);
	if (err)
		return err;
	m->state = to;
	m->since = now;
	if (to != US_MS_DRAINING)
		m->remove_at = 0;
	if (to == US_MS_SIMULATION) {
		/* a new simulation period: the evidence starts afresh */
		memset(&m->ev, 0, sizeof(m->ev));
		m->streak = 0;
		m->windows = 0;
		m->last_verdict = 0;
		m->last_decision = 0;
	}
	st->seq++;
	err = us_state_save(st);
	if (err) {
		*m = saved;             /* not durable: not done */
		st->seq--;
	}
	return err;
}
