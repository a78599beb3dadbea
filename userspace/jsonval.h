/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Typed values of a JSON object's members (the records' and the audit
 * trail's files): 0, or -EINVAL when absent or of another type. */
#ifndef US_JSONVAL_H
#define US_JSONVAL_H

#include <errno.h>
#include <stdio.h>
#include <json-c/json.h>
#include <linux/types.h>
#include "understudy/understudy.h"

static inline int us_jget_str(json_object *o, const char *k, char *dst, size_t cap)
{
	json_object *v;

	if (!json_object_object_get_ex(o, k, &v) || !json_object_is_type(v, json_type_string))
		return -EINVAL;
	snprintf(dst, cap, "%s", json_object_get_string(v));
	return 0;
}

static inline int us_jget_num(json_object *o, const char *k, double *d)
{
	json_object *v;

	if (!json_object_object_get_ex(o, k, &v) ||
	    !(json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double)))
		return -EINVAL;
	*d = json_object_get_double(v);
	return 0;
}

static inline int us_jget_u64(json_object *o, const char *k, __u64 *u)
{
	json_object *v;

	if (!json_object_object_get_ex(o, k, &v) || !json_object_is_type(v, json_type_int) ||
	    json_object_get_int64(v) < 0)
		return -EINVAL;
	*u = (__u64)json_object_get_int64(v);
	return 0;
}

static inline int us_jget_hist(json_object *o, const char *k, __u64 *h)
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

#endif
