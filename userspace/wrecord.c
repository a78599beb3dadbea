// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Window records: see wrecord.h and docs/replay.md. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "wrecord.h"

static int fail(struct us_wrecords *w, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int fail(struct us_wrecords *w, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(w->err, sizeof(w->err), fmt, ap);
	va_end(ap);
	w->failed++;
	return err;
}

void us_wrecords_init(struct us_wrecords *w, const char *state_dir, __u32 max)
{
	memset(w, 0, sizeof(*w));
	snprintf(w->dir, sizeof(w->dir), "%s/windows", state_dir);
	w->max = max;
}

void us_wrecords_set_max(struct us_wrecords *w, __u32 max)
{
	w->max = max;
}

void us_wrecords_free(struct us_wrecords *w)
{
	free(w->f);
	w->f = NULL;
	w->n = w->cap = 0;
}

/* A name safe as a file name in the directory: [A-Za-z0-9._-], not "." or
 * "..": machines added by a command are not checked as the file's are. */
static bool name_ok(const char *s)
{
	if (!s[0] || !strcmp(s, ".") || !strcmp(s, "..") || strlen(s) >= 64)
		return false;
	for (const char *p = s; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '.' || *p == '_' || *p == '-'))
			return false;
	return true;
}

static struct us_wrec_file *file_of(struct us_wrecords *w, const char *machine)
{
	struct us_wrec_file *f;

	for (size_t i = 0; i < w->n; i++)
		if (!strcmp(w->f[i].machine, machine))
			return &w->f[i];
	if (w->n == w->cap) {
		size_t cap = w->cap ? 2 * w->cap : 16;

		f = realloc(w->f, cap * sizeof(*f));
		if (!f)
			return NULL;
		w->f = f;
		w->cap = cap;
	}
	f = &w->f[w->n++];
	memset(f, 0, sizeof(*f));
	snprintf(f->machine, sizeof(f->machine), "%s", machine);
	return f;
}

/* The lines already in a file (after a restart): its newlines. */
static int count_lines(const char *path, __u64 *lines)
{
	char buf[65536];
	ssize_t k;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	*lines = 0;
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	while ((k = read(fd, buf, sizeof(buf))) > 0)
		for (ssize_t i = 0; i < k; i++)
			*lines += buf[i] == '\n';
	k = k < 0 ? -errno : 0;
	close(fd);
	return (int)k;
}

int us_wrecords_append(struct us_wrecords *w, const char *machine, json_object *rec)
{
	char path[sizeof(w->dir) + 80], old[sizeof(path) + 2];
	const char *text;
	struct us_wrec_file *f;
	size_t len;
	ssize_t k;
	int fd, err;

	w->err[0] = 0;
	if (!w->max)
		return 0;
	if (!name_ok(machine))
		return fail(w, -EINVAL, "machine \"%s\": its name is not a file name", machine);
	f = file_of(w, machine);
	if (!f)
		return fail(w, -ENOMEM, "out of memory");
	if (mkdir(w->dir, 0700) && errno != EEXIST)
		return fail(w, -errno, "%s: %s", w->dir, strerror(errno));
	snprintf(path, sizeof(path), "%s/%s.jsonl", w->dir, machine);
	if (!f->counted) {
		err = count_lines(path, &f->lines);
		if (err)
			return fail(w, err, "%s: %s", path, strerror(-err));
		f->counted = true;
	}
	if (f->lines >= w->max) {
		snprintf(old, sizeof(old), "%s.1", path);
		if (rename(path, old) && errno != ENOENT)
			return fail(w, -errno, "%s to %s: %s", path, old, strerror(errno));
		f->lines = 0;
	}
	text = json_object_to_json_string_ext(rec, JSON_C_TO_STRING_PLAIN |
					      JSON_C_TO_STRING_NOSLASHESCAPE);
	len = strlen(text);
	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd < 0)
		return fail(w, -errno, "%s: %s", path, strerror(errno));
	/* one write of the line and its newline: a reader never sees half of
	 * it, short of a full disk */
	{
		char *line = malloc(len + 1);

		if (!line) {
			close(fd);
			return fail(w, -ENOMEM, "out of memory");
		}
		memcpy(line, text, len);
		line[len] = '\n';
		k = write(fd, line, len + 1);
		err = k < 0 ? -errno : (size_t)k != len + 1 ? -EIO : 0;
		free(line);
	}
	if (close(fd) && !err)
		err = -errno;
	if (err)
		return fail(w, err, "%s: %s", path, strerror(-err));
	f->lines++;
	w->written++;
	return 0;
}

json_object *us_wrecord_json(const char *machine, const char *service, const char *version,
			     double since, const struct us_window *w, const struct us_judgement *j)
{
	json_object *o = json_object_new_object(), *jo;

	json_object_object_add(o, "machine", json_object_new_string(machine));
	json_object_object_add(o, "service", json_object_new_string(service));
	json_object_object_add(o, "version", json_object_new_string(version));
	json_object_object_add(o, "since", json_object_new_double(since));
	json_object_object_add(o, "window", us_window_json(w));
	json_object_object_add(o, "judged", json_object_new_boolean(j != NULL));
	if (!j) {
		json_object_object_add(o, "judgement", NULL);
		return o;
	}
	jo = json_object_new_object();
	json_object_object_add(jo, "verdict", json_object_new_string(us_verdict_name(j->verdict)));
	json_object_object_add(jo, "decision", json_object_new_string(us_decision_name(j->decision)));
	json_object_object_add(jo, "held", json_object_new_boolean(j->held));
	json_object_object_add(jo, "streak", json_object_new_int64(j->streak));
	json_object_object_add(jo, "stuck", json_object_new_boolean(j->stuck));
	json_object_object_add(jo, "summary", json_object_new_string(j->summary));
	json_object_object_add(o, "judgement", jo);
	return o;
}

static int str_member(json_object *o, const char *k, char *dst, size_t cap, char *why, size_t len)
{
	json_object *v;

	if (!json_object_object_get_ex(o, k, &v)) {
		snprintf(why, len, "%s: missing", k);
		return -EINVAL;
	}
	if (!json_object_is_type(v, json_type_string) ||
	    (size_t)json_object_get_string_len(v) >= cap || !json_object_get_string_len(v)) {
		snprintf(why, len, "%s: not a string of 1..%zu characters", k, cap - 1);
		return -EINVAL;
	}
	snprintf(dst, cap, "%s", json_object_get_string(v));
	return 0;
}

int us_wrecord_parse(json_object *o, struct us_wrecord *r, char *why, size_t len)
{
	json_object *v, *jo;
	char sub[200];

	memset(r, 0, sizeof(*r));
	if (!json_object_is_type(o, json_type_object)) {
		snprintf(why, len, "not a JSON object");
		return -EINVAL;
	}
	if (str_member(o, "machine", r->machine, sizeof(r->machine), why, len) ||
	    str_member(o, "service", r->service, sizeof(r->service), why, len) ||
	    str_member(o, "version", r->version, sizeof(r->version), why, len))
		return -EINVAL;
	if (!json_object_object_get_ex(o, "since", &v) ||
	    !(json_object_is_type(v, json_type_double) || json_object_is_type(v, json_type_int))) {
		snprintf(why, len, "since: missing, or not a number");
		return -EINVAL;
	}
	r->since = json_object_get_double(v);
	if (!json_object_object_get_ex(o, "window", &v)) {
		snprintf(why, len, "window: missing");
		return -EINVAL;
	}
	if (us_window_parse(v, &r->w, sub, sizeof(sub))) {
		snprintf(why, len, "window.%s", sub);
		return -EINVAL;
	}
	/* what the daemon said: optional (a generator need not write it) */
	if (!json_object_object_get_ex(o, "judged", &v))
		return 0;
	if (!json_object_is_type(v, json_type_boolean)) {
		snprintf(why, len, "judged: not true or false");
		return -EINVAL;
	}
	r->judged = json_object_get_boolean(v);
	if (!r->judged)
		return 0;
	if (!json_object_object_get_ex(o, "judgement", &jo) ||
	    !json_object_is_type(jo, json_type_object)) {
		snprintf(why, len, "judgement: missing, or not an object (judged is true)");
		return -EINVAL;
	}
	if (str_member(jo, "verdict", r->verdict, sizeof(r->verdict), sub, sizeof(sub)) ||
	    str_member(jo, "decision", r->decision, sizeof(r->decision), sub, sizeof(sub))) {
		snprintf(why, len, "judgement.%s", sub);
		return -EINVAL;
	}
	if (!json_object_object_get_ex(jo, "held", &v) || !json_object_is_type(v, json_type_boolean)) {
		snprintf(why, len, "judgement.held: missing, or not true or false");
		return -EINVAL;
	}
	r->held = json_object_get_boolean(v);
	return 0;
}
