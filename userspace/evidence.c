// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Evidence: a window of a shadow machine, and its record format (see
 * evidence.h and docs/replay.md). */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "evidence.h"

static __u64 sum(const __u64 *v, size_t n)
{
	__u64 s = 0;

	for (size_t i = 0; i < n; i++)
		s += v[i];
	return s;
}

void us_codes_add(struct us_codepair *codes, __u32 *ncodes, __u16 active, __u16 shadow, __u64 n)
{
	struct us_codepair *c;

	if (!n)
		return;
	for (__u32 i = 0; i < *ncodes; i++) {
		c = &codes[i];
		if (c->active == active && c->shadow == shadow) {
			c->n += n;
			return;
		}
	}
	if (*ncodes < US_CODEPAIRS_MAX - 1 ||
	    (*ncodes == US_CODEPAIRS_MAX - 1 && active == US_CODE_OTHER && shadow == US_CODE_OTHER)) {
		codes[(*ncodes)++] = (struct us_codepair){ .active = active, .shadow = shadow, .n = n };
		return;
	}
	/* full: the last row is "other" */
	c = &codes[US_CODEPAIRS_MAX - 1];
	if (*ncodes < US_CODEPAIRS_MAX) {
		*c = (struct us_codepair){ .active = US_CODE_OTHER, .shadow = US_CODE_OTHER };
		*ncodes = US_CODEPAIRS_MAX;
	} else if (c->active != US_CODE_OTHER || c->shadow != US_CODE_OTHER) {
		/* a full table whose last row is a real one (parsed): it joins other */
		c->active = US_CODE_OTHER;
		c->shadow = US_CODE_OTHER;
	}
	c->n += n;
}

void us_window_of(struct us_window *w, const struct us_mstats *win,
		  const struct us_codepair *codes, __u32 ncodes, double t, double seconds,
		  double sim_seconds, bool has_control)
{
	const struct us_pairstats *ps[2] = { &win->pair, &win->ctl };
	struct us_pairs *pd[2] = { &w->sim, &w->control };

	memset(w, 0, sizeof(*w));
	w->t = t;
	w->seconds = seconds;
	w->sim_seconds = sim_seconds;
	w->sent = sum(win->req, US_M_MAX) - win->req[US_M_ACK];
	w->answered = sum(win->final_class, 8);
	w->late = win->late;
	for (int k = 0; k < 2; k++) {
		memcpy(pd[k]->out, ps[k]->out, sizeof(pd[k]->out));
		pd[k]->code_same = ps[k]->code_same;
		pd[k]->calls = ps[k]->calls;
		pd[k]->calls_fail_active = ps[k]->calls_fail_active;
		pd[k]->calls_fail_shadow = ps[k]->calls_fail_shadow;
		pd[k]->calls_fail_both = ps[k]->calls_fail_both;
	}
	memcpy(w->sim.lat_active, win->pair_lat_active, sizeof(w->sim.lat_active));
	memcpy(w->sim.lat_shadow, win->pair_lat_shadow, sizeof(w->sim.lat_shadow));
	w->has_control = has_control;
	if (!has_control)
		memset(&w->control, 0, sizeof(w->control));
	for (__u32 i = 0; i < ncodes; i++)
		us_codes_add(w->codes, &w->ncodes, codes[i].active, codes[i].shadow, codes[i].n);
	memcpy(w->own, win->own, sizeof(w->own));
	memcpy(w->own_active, win->own_active, sizeof(w->own_active));
	memcpy(w->own_both, win->own_both, sizeof(w->own_both));
}

const char *us_outcome_name(enum us_outcome o)
{
	static const char *const n[US_O_MAX] = { "2xx", "3xx", "4xx", "error", "none" };

	return (unsigned)o < US_O_MAX ? n[o] : "?";
}

/* ---- JSON ------------------------------------------------------------------ */

static json_object *u64s(const __u64 *v, size_t n)
{
	json_object *a = json_object_new_array_ext((int)n);

	for (size_t i = 0; i < n; i++)
		json_object_array_add(a, json_object_new_int64((int64_t)v[i]));
	return a;
}

static json_object *pairs_json(const struct us_pairs *p)
{
	json_object *o = json_object_new_object(), *out = json_object_new_array();

	for (int a = 0; a < US_O_MAX; a++)
		json_object_array_add(out, u64s(p->out[a], US_O_MAX));
	json_object_object_add(o, "out", out);
	json_object_object_add(o, "code_same", json_object_new_int64((int64_t)p->code_same));
	json_object_object_add(o, "calls", json_object_new_int64((int64_t)p->calls));
	json_object_object_add(o, "calls_fail_active",
			       json_object_new_int64((int64_t)p->calls_fail_active));
	json_object_object_add(o, "calls_fail_shadow",
			       json_object_new_int64((int64_t)p->calls_fail_shadow));
	json_object_object_add(o, "calls_fail_both",
			       json_object_new_int64((int64_t)p->calls_fail_both));
	json_object_object_add(o, "lat_active", u64s(p->lat_active, US_LAT_BUCKETS));
	json_object_object_add(o, "lat_shadow", u64s(p->lat_shadow, US_LAT_BUCKETS));
	return o;
}

json_object *us_window_json(const struct us_window *w)
{
	json_object *o = json_object_new_object(), *codes = json_object_new_array();

	json_object_object_add(o, "t", json_object_new_double(w->t));
	json_object_object_add(o, "seconds", json_object_new_double(w->seconds));
	json_object_object_add(o, "sim_seconds", json_object_new_double(w->sim_seconds));
	json_object_object_add(o, "sent", json_object_new_int64((int64_t)w->sent));
	json_object_object_add(o, "answered", json_object_new_int64((int64_t)w->answered));
	json_object_object_add(o, "late", json_object_new_int64((int64_t)w->late));
	json_object_object_add(o, "sim", pairs_json(&w->sim));
	json_object_object_add(o, "has_control", json_object_new_boolean(w->has_control));
	json_object_object_add(o, "control", pairs_json(&w->control));
	for (__u32 i = 0; i < w->ncodes && i < US_CODEPAIRS_MAX; i++) {
		json_object *c = json_object_new_array_ext(3);

		json_object_array_add(c, json_object_new_int(w->codes[i].active));
		json_object_array_add(c, json_object_new_int(w->codes[i].shadow));
		json_object_array_add(c, json_object_new_int64((int64_t)w->codes[i].n));
		json_object_array_add(codes, c);
	}
	json_object_object_add(o, "codes", codes);
	json_object_object_add(o, "own", u64s(w->own, US_OWN_MAX));
	json_object_object_add(o, "own_active", u64s(w->own_active, US_OWN_MAX));
	json_object_object_add(o, "own_both", u64s(w->own_both, US_OWN_MAX));
	return o;
}

static json_object *share(__u64 n, __u64 of)
{
	return of ? json_object_new_double((double)n / of) : json_object_new_null();
}

json_object *us_pairs_summary_json(const struct us_pairs *p)
{
	json_object *o = json_object_new_object(), *t = json_object_new_object();
	__u64 pairs = 0, differ = 0, answered = 0, fail_a = 0, fail_s = 0;

	for (int a = 0; a < US_O_MAX; a++) {
		json_object *row = json_object_new_object();

		for (int s = 0; s < US_O_MAX; s++) {
			__u64 n = p->out[a][s];

			pairs += n;
			differ += a != s ? n : 0;
			answered += a != US_O_NONE && s != US_O_NONE ? n : 0;
			fail_a += a >= US_O_ERR ? n : 0;
			fail_s += s >= US_O_ERR ? n : 0;
			json_object_object_add(row, us_outcome_name(s), json_object_new_int64((int64_t)n));
		}
		json_object_object_add(t, us_outcome_name(a), row);
	}
	json_object_object_add(o, "pairs", json_object_new_int64((int64_t)pairs));
	json_object_object_add(o, "class_differ_share", share(differ, pairs));
	json_object_object_add(o, "code_differ_share",
			       share(answered >= p->code_same ? answered - p->code_same : 0, answered));
	json_object_object_add(o, "active_failure_share", share(fail_a, pairs));
	json_object_object_add(o, "shadow_failure_share", share(fail_s, pairs));
	json_object_object_add(o, "calls", json_object_new_int64((int64_t)p->calls));
	json_object_object_add(o, "active_failed_call_share", share(p->calls_fail_active, p->calls));
	json_object_object_add(o, "shadow_failed_call_share", share(p->calls_fail_shadow, p->calls));
	json_object_object_add(o, "both_failed_call_share", share(p->calls_fail_both, p->calls));
	/* [active outcome][shadow outcome] */
	json_object_object_add(o, "outcomes", t);
	return o;
}

json_object *us_codes_json(const struct us_codepair *codes, __u32 ncodes)
{
	json_object *a = json_object_new_array();

	for (__u32 i = 0; i < ncodes && i < US_CODEPAIRS_MAX; i++) {
		const struct us_codepair *c = &codes[i];
		json_object *o = json_object_new_object();
		bool other = c->active == US_CODE_OTHER && c->shadow == US_CODE_OTHER;

		json_object_object_add(o, "active", other ? json_object_new_string("other") :
					       json_object_new_int(c->active));
		json_object_object_add(o, "shadow", other ? json_object_new_string("other") :
					       json_object_new_int(c->shadow));
		json_object_object_add(o, "n", json_object_new_int64((int64_t)c->n));
		json_object_array_add(a, o);
	}
	return a;
}

/* The parser: each failure names the field's path and what is wrong. */
struct wparse {
	char *why;
	size_t len;
};

static int bad(struct wparse *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int bad(struct wparse *p, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(p->why, p->len, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* Exactly these members, no other. */
static int members(struct wparse *p, json_object *o, const char *path, const char *const *names)
{
	if (!json_object_is_type(o, json_type_object))
		return bad(p, "%s: not an object", path);
	for (size_t i = 0; names[i]; i++)
		if (!json_object_object_get_ex(o, names[i], NULL))
			return bad(p, "%s%s%s: missing", path, path[0] ? "." : "", names[i]);
	json_object_object_foreach(o, k, v) {
		size_t i;

		(void)v;
		for (i = 0; names[i] && strcmp(names[i], k); i++)
			;
		if (!names[i])
			return bad(p, "%s%s%s: not a field of the format", path, path[0] ? "." : "", k);
	}
	return 0;
}

/* A count: an integer 0 .. 2^63-1 (JSON numbers beyond are refused). */
static int count(struct wparse *p, json_object *v, __u64 *out, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int count(struct wparse *p, json_object *v, __u64 *out, const char *fmt, ...)
{
	char path[96];
	va_list ap;

	if (json_object_is_type(v, json_type_int) && json_object_get_int64(v) >= 0 &&
	    json_object_get_uint64(v) < (1ull << 63)) {
		*out = (__u64)json_object_get_int64(v);
		return 0;
	}
	va_start(ap, fmt);
	vsnprintf(path, sizeof(path), fmt, ap);
	va_end(ap);
	return bad(p, "%s: not a count (an integer, 0 or more)", path);
}

static int counts(struct wparse *p, json_object *a, __u64 *out, size_t n, const char *path)
{
	if (!json_object_is_type(a, json_type_array) || json_object_array_length(a) != n)
		return bad(p, "%s: not an array of %zu counts", path, n);
	for (size_t i = 0; i < n; i++)
		if (count(p, json_object_array_get_idx(a, i), &out[i], "%s[%zu]", path, i))
			return -EINVAL;
	return 0;
}

static int seconds(struct wparse *p, json_object *o, const char *k, double *out, bool neg_ok)
{
	json_object *v;

	json_object_object_get_ex(o, k, &v);
	if (!(json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double)))
		return bad(p, "%s: not a number", k);
	*out = json_object_get_double(v);
	if (!isfinite(*out) || (!neg_ok && *out < 0))
		return bad(p, "%s: %g is out of range (finite%s)", k, *out, neg_ok ? "" : ", 0 or more");
	return 0;
}

static int pairs_parse(struct wparse *p, json_object *o, const char *path, struct us_pairs *d)
{
	static const char *const names[] = { "out", "code_same", "calls", "calls_fail_active",
					     "calls_fail_shadow", "calls_fail_both", "lat_active",
					     "lat_shadow", NULL };
	const struct { const char *k; __u64 *v; } one[] = {
		{ "code_same", &d->code_same }, { "calls", &d->calls },
		{ "calls_fail_active", &d->calls_fail_active },
		{ "calls_fail_shadow", &d->calls_fail_shadow },
		{ "calls_fail_both", &d->calls_fail_both },
	};
	json_object *out, *v;
	char sub[64];

	if (members(p, o, path, names))
		return -EINVAL;
	json_object_object_get_ex(o, "out", &out);
	if (!json_object_is_type(out, json_type_array) || json_object_array_length(out) != US_O_MAX)
		return bad(p, "%s.out: not an array of %d rows (active outcome: 2xx 3xx 4xx error "
			   "none)", path, US_O_MAX);
	for (int a = 0; a < US_O_MAX; a++) {
		snprintf(sub, sizeof(sub), "%s.out[%d]", path, a);
		if (counts(p, json_object_array_get_idx(out, a), d->out[a], US_O_MAX, sub))
			return -EINVAL;
	}
	if (d->out[US_O_NONE][US_O_NONE])
		return bad(p, "%s.out[4][4]: two silent sides make no pair (must be 0)", path);
	for (size_t i = 0; i < sizeof(one) / sizeof(one[0]); i++) {
		json_object_object_get_ex(o, one[i].k, &v);
		if (count(p, v, one[i].v, "%s.%s", path, one[i].k))
			return -EINVAL;
	}
	snprintf(sub, sizeof(sub), "%s.lat_active", path);
	json_object_object_get_ex(o, "lat_active", &v);
	if (counts(p, v, d->lat_active, US_LAT_BUCKETS, sub))
		return -EINVAL;
	snprintf(sub, sizeof(sub), "%s.lat_shadow", path);
	json_object_object_get_ex(o, "lat_shadow", &v);
	return counts(p, v, d->lat_shadow, US_LAT_BUCKETS, sub);
}

static bool code_ok(__u64 c)
{
	return c == 0 || (c >= 100 && c <= 699);
}

int us_window_parse(json_object *o, struct us_window *w, char *why, size_t len)
{
	static const char *const names[] = { "t", "seconds", "sim_seconds", "sent", "answered",
					     "late", "sim", "has_control", "control", "codes", "own",
					     "own_active", "own_both", NULL };
	const struct { const char *k; __u64 *v; } one[] = {
		{ "sent", &w->sent }, { "answered", &w->answered }, { "late", &w->late },
	};
	const struct { const char *k; __u64 *v; } own[] = {
		{ "own", w->own }, { "own_active", w->own_active }, { "own_both", w->own_both },
	};
	struct wparse p = { why, len };
	json_object *v;
	size_t n;

	memset(w, 0, sizeof(*w));
	if (len)
		why[0] = 0;
	if (members(&p, o, "", names))
		return -EINVAL;
	if (seconds(&p, o, "t", &w->t, true) || seconds(&p, o, "seconds", &w->seconds, false) ||
	    seconds(&p, o, "sim_seconds", &w->sim_seconds, false))
		return -EINVAL;
	for (size_t i = 0; i < sizeof(one) / sizeof(one[0]); i++) {
		json_object_object_get_ex(o, one[i].k, &v);
		if (count(&p, v, one[i].v, "%s", one[i].k))
			return -EINVAL;
	}
	json_object_object_get_ex(o, "sim", &v);
	if (pairs_parse(&p, v, "sim", &w->sim))
		return -EINVAL;
	json_object_object_get_ex(o, "has_control", &v);
	if (!json_object_is_type(v, json_type_boolean))
		return bad(&p, "has_control: not true or false");
	w->has_control = json_object_get_boolean(v);
	json_object_object_get_ex(o, "control", &v);
	if (pairs_parse(&p, v, "control", &w->control))
		return -EINVAL;
	json_object_object_get_ex(o, "codes", &v);
	if (!json_object_is_type(v, json_type_array) ||
	    (n = json_object_array_length(v)) > US_CODEPAIRS_MAX)
		return bad(&p, "codes: not an array of at most %d [active, shadow, count] rows",
			   US_CODEPAIRS_MAX);
	for (size_t i = 0; i < n; i++) {
		json_object *c = json_object_array_get_idx(v, i);
		__u64 a, s, k;

		if (!json_object_is_type(c, json_type_array) || json_object_array_length(c) != 3)
			return bad(&p, "codes[%zu]: not an [active, shadow, count] row", i);
		if (count(&p, json_object_array_get_idx(c, 0), &a, "codes[%zu][0]", i) ||
		    count(&p, json_object_array_get_idx(c, 1), &s, "codes[%zu][1]", i) ||
		    count(&p, json_object_array_get_idx(c, 2), &k, "codes[%zu][2]", i))
			return -EINVAL;
		if (!code_ok(a) || !code_ok(s))
			return bad(&p, "codes[%zu]: a code is 100..699, or 0 for none", i);
		if (a == s && a != US_CODE_OTHER)
			return bad(&p, "codes[%zu]: %llu and %llu do not differ", i,
				   (unsigned long long)a, (unsigned long long)s);
		if (a == US_CODE_OTHER && s == US_CODE_OTHER && i != US_CODEPAIRS_MAX - 1)
			return bad(&p, "codes[%zu]: [0, 0] (other) is only the %dth row", i,
				   US_CODEPAIRS_MAX);
		for (size_t j = 0; j < i; j++)
			if (w->codes[j].active == a && w->codes[j].shadow == s)
				return bad(&p, "codes[%zu]: the same codes as codes[%zu]", i, j);
		w->codes[i] = (struct us_codepair){ .active = (__u16)a, .shadow = (__u16)s, .n = k };
	}
	w->ncodes = (__u32)n;
	for (size_t i = 0; i < sizeof(own) / sizeof(own[0]); i++) {
		json_object_object_get_ex(o, own[i].k, &v);
		if (counts(&p, v, own[i].v, US_OWN_MAX, own[i].k))
			return -EINVAL;
	}
	return 0;
}
