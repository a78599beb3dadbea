// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The file store's history (the audit trail's last lines, for `events`):
 * read from the end, so the cost is that of the lines asked for (issue 12,
 * finding 7: a long trail and a large limit stalled the daemon); lines of
 * any length; across the blocks it reads.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <json-c/json.h>

#include "fixture.h"

/* An audit trail of n lines, {"seq":i,"reason":"..."} with reasons of pad
 * bytes (every seventh line pad * 50). */
static int write_trail(size_t n, size_t pad)
{
	char path[192];
	FILE *f;

	tm_fresh();
	snprintf(path, sizeof(path), "%s/audit.log", tm_dir);
	f = fopen(path, "w");
	if (!f)
		return -1;
	for (size_t i = 1; i <= n; i++) {
		size_t k = i % 7 ? pad : pad * 50;

		fprintf(f, "{\"seq\":%zu,\"reason\":\"", i);
		for (size_t j = 0; j < k; j++)
			fputc('r', f);
		fputs("\"}\n", f);
	}
	return fclose(f);
}

static void check_last(struct us_store *s, long limit, size_t n)
{
	json_object *arr = json_object_new_array();
	size_t want = n < (size_t)limit ? n : (size_t)limit;
	int rc = s->ops->history(s, limit, arr);

	th_eqf(rc, 0, "history(%ld) of %zu lines", limit, n);
	th_eqf((long long)json_object_array_length(arr), (long long)want,
	       "lines returned for limit %ld of %zu", limit, n);
	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		json_object *e = json_object_array_get_idx(arr, i), *seq;

		if (!json_object_object_get_ex(e, "seq", &seq) ||
		    json_object_get_int64(seq) != (int64_t)(n - want + i + 1)) {
			th_eqf(seq ? json_object_get_int64(seq) : -1, (long long)(n - want + i + 1),
			       "line %zu for limit %ld", i, limit);
			break;
		}
	}
	json_object_put(arr);
}

TH_TEST(history_from_the_end)
{
	static const struct { size_t lines, pad; } trails[] = {
		{ 0, 0 }, { 1, 10 }, { 5, 10 }, { 3000, 40 }, { 40, 3000 },
	};
	static const long limits[] = { 1, 2, 3, 5, 6, 100, 2999, 3000, 3001, 100000 };
	struct us_store *s;

	for (size_t t = 0; t < sizeof(trails) / sizeof(trails[0]); t++) {
		if (!th_subtest("%zu lines of %zu+ bytes", trails[t].lines, trails[t].pad))
			continue;
		if (write_trail(trails[t].lines, trails[t].pad)) {
			th_fail("writing the trail", strerror(errno), "written");
			continue;
		}
		if (us_store_file_open_dir(NULL, tm_dir, &s)) {
			th_fail("store", "not opened", "opened");
			continue;
		}
		for (size_t l = 0; l < sizeof(limits) / sizeof(limits[0]); l++)
			check_last(s, limits[l], trails[t].lines);
		us_store_close(s);
	}
}
