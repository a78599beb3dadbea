// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* An agent's counters as JSON, served and parsed (counters.h). */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "counters.h"

json_object *us_counters_json(const struct us_counters_snap *s)
{
	json_object *o = json_object_new_object(), *st, *ms;

	if (!o)
		return NULL;
	json_object_object_add(o, "version", json_object_new_int(US_COUNTERS_VERSION));
	json_object_object_add(o, "boot", json_object_new_string(s->boot));
	json_object_object_add(o, "words", json_object_new_int((int)US_MSTATS_WORDS));
	st = json_object_new_array_ext(US_ST_MAX);
	for (int k = 0; k < US_ST_MAX; k++)
		json_object_array_add(st, json_object_new_uint64(s->stats[k]));
	json_object_object_add(o, "stats", st);
	ms = json_object_new_array_ext((int)s->n);
	for (size_t i = 0; i < s->n; i++) {
		const __u64 *w = (const __u64 *)&s->m[i];
		json_object *e = json_object_new_object(), *c = json_object_new_array();

		json_object_object_add(e, "id", json_object_new_int64(s->ids[i]));
		for (size_t k = 0; k < US_MSTATS_WORDS; k++)
			if (w[k]) {
				json_object_array_add(c, json_object_new_int64((int64_t)k));
				json_object_array_add(c, json_object_new_uint64(w[k]));
			}
		json_object_object_add(e, "c", c);
		json_object_array_add(ms, e);
	}
	json_object_object_add(o, "machines", ms);
	return o;
}

static bool u64_of(json_object *v, __u64 *out)
{
	if (!json_object_is_type(v, json_type_int))
		return false;
	/* json-c keeps values over INT64_MAX as unsigned: both are counters */
	if (json_object_get_int64(v) < 0)
		return false;
	*out = json_object_get_uint64(v);
	return true;
}

int us_counters_parse(json_object *o, struct us_counters_snap *s, char *err, size_t len)
{
	json_object *v, *st, *ms;

	memset(s, 0, sizeof(*s));
	if (!json_object_is_type(o, json_type_object) ||
	    !json_object_object_get_ex(o, "version", &v) ||
	    json_object_get_int(v) != US_COUNTERS_VERSION) {
		snprintf(err, len, "not understudy counters of version %d", US_COUNTERS_VERSION);
		return -EINVAL;
	}
	if (!json_object_object_get_ex(o, "words", &v) ||
	    json_object_get_int(v) != (int)US_MSTATS_WORDS) {
		snprintf(err, len, "words: %s (this controller's us_mstats has %zu): another "
			 "version of understudy", v ? json_object_get_string(v) : "missing",
			 US_MSTATS_WORDS);
		return -EINVAL;
	}
	if (!json_object_object_get_ex(o, "boot", &v) || !json_object_is_type(v, json_type_string) ||
	    json_object_get_string_len(v) >= US_COUNTERS_BOOT_MAX) {
		snprintf(err, len, "boot: missing, not a string or too long");
		return -EINVAL;
	}
	snprintf(s->boot, sizeof(s->boot), "%s", json_object_get_string(v));
	if (!json_object_object_get_ex(o, "stats", &st) || !json_object_is_type(st, json_type_array) ||
	    json_object_array_length(st) != US_ST_MAX) {
		snprintf(err, len, "stats: not an array of %d counters", US_ST_MAX);
		return -EINVAL;
	}
	for (int k = 0; k < US_ST_MAX; k++)
		if (!u64_of(json_object_array_get_idx(st, (size_t)k), &s->stats[k])) {
			snprintf(err, len, "stats[%d]: not a counter", k);
			return -EINVAL;
		}
	if (!json_object_object_get_ex(o, "machines", &ms) ||
	    !json_object_is_type(ms, json_type_array) ||
	    json_object_array_length(ms) > US_MAX_MACHINES) {
		snprintf(err, len, "machines: not an array of at most %d", US_MAX_MACHINES);
		return -EINVAL;
	}
	for (size_t i = 0; i < json_object_array_length(ms); i++) {
		json_object *e = json_object_array_get_idx(ms, i), *c;
		__u64 id, *w = (__u64 *)&s->m[i];
		size_t n;

		if (!json_object_object_get_ex(e, "id", &v) || !u64_of(v, &id) ||
		    id >= US_MAX_MACHINES) {
			snprintf(err, len, "machines[%zu].id: not a machine id (0..%d)", i,
				 US_MAX_MACHINES - 1);
			return -EINVAL;
		}
		for (size_t j = 0; j < i; j++)
			if (s->ids[j] == id) {
				snprintf(err, len, "machines[%zu].id: %llu repeated", i,
					 (unsigned long long)id);
				return -EINVAL;
			}
		if (!json_object_object_get_ex(e, "c", &c) || !json_object_is_type(c, json_type_array) ||
		    (n = json_object_array_length(c)) % 2) {
			snprintf(err, len, "machines[%zu].c: not an array of (index, value) pairs", i);
			return -EINVAL;
		}
		for (size_t k = 0; k < n; k += 2) {
			__u64 idx, val;

			if (!u64_of(json_object_array_get_idx(c, k), &idx) ||
			    idx >= US_MSTATS_WORDS ||
			    !u64_of(json_object_array_get_idx(c, k + 1), &val)) {
				snprintf(err, len, "machines[%zu].c[%zu]: not an index below %zu and "
					 "a counter", i, k, US_MSTATS_WORDS);
				return -EINVAL;
			}
			w[idx] = val;
		}
		s->ids[i] = (__u32)id;
		s->n++;
	}
	return 0;
}

static enum MHD_Result answer(struct MHD_Connection *c, unsigned int status, const char *text,
			      const char *type)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	r = MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_MUST_COPY);
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, "Content-Type", type);
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

enum MHD_Result us_counters_serve(struct MHD_Connection *c, const char *method,
				  us_counters_read_fn read, void *ctx)
{
	struct us_counters_snap *s;
	enum MHD_Result ret;
	json_object *o;
	char msg[96];
	int rc;

	if (strcmp(method, "GET"))
		return answer(c, MHD_HTTP_METHOD_NOT_ALLOWED, "counters: GET only\n", "text/plain");
	s = calloc(1, sizeof(*s));
	if (!s)
		return MHD_NO;
	rc = read(ctx, s);
	if (rc) {
		free(s);
		snprintf(msg, sizeof(msg), "counters: cannot be read: %s\n", strerror(-rc));
		return answer(c, MHD_HTTP_SERVICE_UNAVAILABLE, msg, "text/plain");
	}
	o = us_counters_json(s);
	free(s);
	if (!o)
		return MHD_NO;
	ret = answer(c, MHD_HTTP_OK, json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN),
		     "application/json");
	json_object_put(o);
	return ret;
}
