// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The file store: the YAML configuration, state.json and audit.log (store.h). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/signalfd.h>
#include <sys/stat.h>

#include "store.h"

#define STATE_VERSION US_REC_FORMAT          /* 1: judging beside the record; 2: the old judge's counts
                                  * (still read: their judging starts afresh) */

struct file_store {
	struct us_store base;
	char conf_path[US_CONF_PATH_MAX];
	char dir[US_CONF_PATH_MAX];  /* the state directory ("" until known) */
	int sigfd;
};

static struct file_store *fs_of(struct us_store *s)
{
	return (struct file_store *)s;
}

static int fs_load_conf(struct us_store *s, struct us_conf *out, char *err, size_t len)
{
	struct file_store *f = fs_of(s);
	int rc = us_conf_load(f->conf_path, out, err, len);

	if (!rc && !f->dir[0])
		snprintf(f->dir, sizeof(f->dir), "%s", out->state_dir);
	return rc;
}

/* ---- durable writes ----------------------------------------------------- */

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

static int fs_save(struct us_store *s, const struct us_model *m)
{
	struct file_store *f = fs_of(s);
	char path[US_CONF_PATH_MAX + 16], tmp[US_CONF_PATH_MAX + 24];
	json_object *root, *arr;
	const char *text;
	int err;

	if (!f->dir[0])
		return -EINVAL;
	root = json_object_new_object();
	arr = json_object_new_array();
	json_object_object_add(root, "version", json_object_new_int(STATE_VERSION));
	json_object_object_add(root, "seq", json_object_new_int64((int64_t)m->seq));
	for (size_t i = 0; i < m->n; i++)
		if (m->r[i].state != US_MS_UNUSED)
			json_object_array_add(arr, us_rec_json(&m->r[i], US_RJ_DURABLE));
	json_object_object_add(root, "machines", arr);
	text = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY);
	snprintf(path, sizeof(path), "%s/state.json", f->dir);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	err = write_text_sync(f->dir, tmp, O_TRUNC, text);
	if (!err && rename(tmp, path))
		err = -errno;
	if (!err)
		err = fsync_dir(f->dir);
	if (err)
		unlink(tmp);
	json_object_put(root);
	return err;
}

static int fs_append(struct us_store *s, const struct us_audit *a)
{
	struct file_store *f = fs_of(s);
	char path[US_CONF_PATH_MAX + 16];
	json_object *o;
	int err;

	if (!f->dir[0])
		return -EINVAL;
	o = us_audit_json(a);
	snprintf(path, sizeof(path), "%s/audit.log", f->dir);
	err = write_text_sync(f->dir, path, O_APPEND,
			      json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
	return err;
}

/* ---- loading ---------------------------------------------------------------- */

/*
 * The audit trail is the write-ahead log of transitions: a line is fsynced
 * before the state file changes. The last complete line, if it is the one
 * after the state file's sequence number, is the transition to finish. A
 * torn last line (no newline) was never acknowledged and is cut off.
 */
static int last_audit(struct file_store *f, struct us_audit *pending, char *err, size_t len)
{
	char path[US_CONF_PATH_MAX + 16], buf[4096], *nl, *start;
	json_object *o = NULL;
	ssize_t n;
	off_t size;
	int fd, rc = 0;

	memset(pending, 0, sizeof(*pending));
	snprintf(path, sizeof(path), "%s/audit.log", f->dir);
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	size = lseek(fd, 0, SEEK_END);
	if (size <= 0)
		goto out;
	n = pread(fd, buf, sizeof(buf) - 1,
		  size > (off_t)sizeof(buf) - 1 ? size - (off_t)sizeof(buf) + 1 : 0);
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
	if (!o)
		goto out;
	if (us_audit_parse(o, pending)) {
		memset(pending, 0, sizeof(*pending));
		if (json_object_object_get_ex(o, "seq", NULL)) {
			snprintf(err, len, "%s: last transition cannot be replayed", path);
			rc = -EINVAL;
		}
	}
out:
	if (o)
		json_object_put(o);
	close(fd);
	return rc;
}

static int fs_load(struct us_store *s, struct us_model *m, struct us_audit *pending, char *err,
		   size_t len)
{
	struct file_store *f = fs_of(s);
	char path[US_CONF_PATH_MAX + 16];
	json_object *root, *arr, *v;
	__u64 seq = 0;
	int rc = 0, version;

	memset(pending, 0, sizeof(*pending));
	if (!f->dir[0]) {
		snprintf(err, len, "the state directory is not known before the configuration");
		return -EINVAL;
	}
	us_model_free(m);
	m->seq = 0;
	snprintf(path, sizeof(path), "%s/state.json", f->dir);
	if (access(path, F_OK)) {
		if (errno != ENOENT) {
			rc = -errno;
			snprintf(err, len, "%s: %s", path, strerror(-rc));
			return rc;
		}
		goto audit;
	}
	root = json_object_from_file(path);
	if (!root) {
		snprintf(err, len, "%s: not valid JSON: %s", path, json_util_get_last_err());
		return -EINVAL;
	}
	if (!json_object_object_get_ex(root, "version", &v) ||
	    (version = json_object_get_int(v)) < 1 || version > STATE_VERSION ||
	    !json_object_object_get_ex(root, "machines", &arr) ||
	    !json_object_is_type(arr, json_type_array) ||
	    !json_object_object_get_ex(root, "seq", &v) || !json_object_is_type(v, json_type_int) ||
	    json_object_get_int64(v) < 0) {
		snprintf(err, len, "%s: not an understudy state file of version 1 to %d", path,
			 STATE_VERSION);
		rc = -EINVAL;
		goto out;
	}
	seq = (__u64)json_object_get_int64(v);
	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		struct us_rec rec, *slot;
		const char *field = "";

		if (us_rec_parse(json_object_array_get_idx(arr, i), version, &rec, &field)) {
			snprintf(err, len, "%s: machines[%zu].%s: missing or invalid", path, i, field);
			rc = -EINVAL;
			goto out;
		}
		if (us_model_find(m, rec.name) || us_model_find_id(m, rec.id)) {
			snprintf(err, len, "%s: machines[%zu]: name or id repeated", path, i);
			rc = -EINVAL;
			goto out;
		}
		rc = us_model_new(m, rec.name, &rec.conf, &slot);
		if (rc) {
			snprintf(err, len, "%s: machines[%zu]: %s", path, i, us_model_error(m));
			goto out;
		}
		*slot = rec;
	}
	m->seq = seq;
out:
	json_object_put(root);
	if (rc) {
		us_model_free(m);
		return rc;
	}
audit:
	rc = last_audit(f, pending, err, len);
	if (!rc && pending->seq != m->seq + 1)
		memset(pending, 0, sizeof(*pending));
	return rc;
}

/* The last `limit` lines of the audit trail. */
/* The last limit lines of the audit trail, read from its end: the cost is
 * that of the lines asked for, not of the whole trail (a trail of years
 * and a large limit stalled the daemon for seconds), lines of any length. */
static int fs_history(struct us_store *s, long limit, json_object *arr)
{
	struct file_store *f = fs_of(s);
	char path[US_CONF_PATH_MAX + 16], *buf = NULL, *p, *end, **line = NULL;
	size_t breaks = 0, n = 0, first;
	off_t size, from;
	struct stat st;
	int fd, err = 0;

	if (limit < 1)
		return -EINVAL;
	snprintf(path, sizeof(path), "%s/audit.log", f->dir);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	if (fstat(fd, &st)) {
		err = -errno;
		goto out;
	}
	size = st.st_size;
	/* back from the end a block at a time, counting line breaks until
	 * limit + 1 are seen (the one before the first line wanted) or the
	 * start; then that part is read whole */
	buf = malloc(65536);
	if (!buf) {
		err = -ENOMEM;
		goto out;
	}
	for (from = size; from > 0 && breaks <= (size_t)limit;) {
		off_t step = from < 65536 ? from : 65536;

		from -= step;
		if (pread(fd, buf, (size_t)step, from) != step) {
			err = -EIO;
			goto out;
		}
		for (off_t i = step; i-- > 0 && breaks <= (size_t)limit;) {
			if (buf[i] == '\n' && ++breaks > (size_t)limit)
				from += i;      /* at the break before the first line */
		}
	}
	free(buf);
	buf = malloc((size_t)(size - from) + 1);
	if (!buf) {
		err = -ENOMEM;
		goto out;
	}
	if (pread(fd, buf, (size_t)(size - from), from) != size - from) {
		err = -EIO;
		goto out;
	}
	end = buf + (size - from);
	*end = 0;
	p = buf;
	if (from > 0) {
		/* the first piece read is the end of an older line */
		p = strchr(buf, '\n');
		p = p ? p + 1 : end;
	}
	line = calloc(breaks + 2, sizeof(*line));
	if (!line) {
		err = -ENOMEM;
		goto out;
	}
	while (p < end) {
		char *nl = strchr(p, '\n');

		if (nl)
			*nl = 0;
		if (*p)
			line[n++] = p;
		p = nl ? nl + 1 : end;
	}
	first = n > (size_t)limit ? n - (size_t)limit : 0;
	for (size_t i = first; i < n; i++) {
		json_object *e = json_tokener_parse(line[i]);

		if (e)
			json_object_array_add(arr, e);
	}
out:
	free(line);
	free(buf);
	close(fd);
	return err;
}

/* ---- watching: the operator's SIGHUP ------------------------------------------ */

static int fs_watch(struct us_store *s)
{
	struct file_store *f = fs_of(s);
	sigset_t mask;

	if (f->sigfd >= 0)
		return f->sigfd;
	sigemptyset(&mask);
	sigaddset(&mask, SIGHUP);
	f->sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	return f->sigfd >= 0 ? f->sigfd : -errno;
}

static int fs_changed(struct us_store *s)
{
	struct file_store *f = fs_of(s);
	struct signalfd_siginfo si;
	int n = 0;

	while (f->sigfd >= 0 && read(f->sigfd, &si, sizeof(si)) == sizeof(si))
		n++;
	return n > 0;
}

static void fs_close(struct us_store *s)
{
	struct file_store *f = fs_of(s);

	if (f->sigfd >= 0)
		close(f->sigfd);
	free(f);
}

static const struct us_store_ops file_ops = {
	.name = "file",
	.load_conf = fs_load_conf,
	.load = fs_load,
	.save = fs_save,
	.append = fs_append,
	.history = fs_history,
	.watch = fs_watch,
	.changed = fs_changed,
	.close = fs_close,
};

int us_store_file_open_dir(const char *conf_path, const char *state_dir, struct us_store **out)
{
	struct file_store *f;

	*out = NULL;
	if ((conf_path && strlen(conf_path) >= US_CONF_PATH_MAX) ||
	    (state_dir && strlen(state_dir) >= US_CONF_PATH_MAX))
		return -ENAMETOOLONG;
	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->base.ops = &file_ops;
	f->sigfd = -1;
	snprintf(f->conf_path, sizeof(f->conf_path), "%s", conf_path ? conf_path : "");
	snprintf(f->dir, sizeof(f->dir), "%s", state_dir ? state_dir : "");
	*out = &f->base;
	return 0;
}

int us_store_file_open(const char *conf_path, struct us_store **out)
{
	return us_store_file_open_dir(conf_path, NULL, out);
}
