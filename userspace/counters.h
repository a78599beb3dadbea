/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * An agent's counters for the leading controller (docs/cluster.md): every
 * machine's cumulative data-plane counters (struct us_mstats) and the packet
 * counters (us_stats), served as JSON at GET /counters by the agent's HTTP
 * server (the metrics listener) and pulled by source_remote.h.
 *
 *   {"version": 1, "boot": "<lifetime of these counters>", "words": 269,
 *    "stats": [u64 x US_ST_MAX],
 *    "machines": [{"id": 3, "c": [index, value, index, value, ...]}, ...]}
 *
 * A machine's counters are its us_mstats read as 64-bit words, only the
 * words that are not zero, as (index, value) pairs: a machine that saw a
 * few codes and latencies is a few hundred bytes, not 2 KB. "words" is the
 * size of us_mstats in words: a controller built with another layout
 * refuses the answer rather than misread it. "boot" changes when the
 * counters start again from zero (the data plane's maps made anew): the
 * controller then knows a drop is a reset, never a loss.
 */
#ifndef US_COUNTERS_H
#define US_COUNTERS_H

#include <stddef.h>
#include <microhttpd.h>
#include <json-c/json.h>
#include "understudy/understudy.h"

#define US_COUNTERS_BOOT_MAX 64
#define US_COUNTERS_VERSION 1
#define US_MSTATS_WORDS (sizeof(struct us_mstats) / sizeof(__u64))

struct us_counters_snap {
	char boot[US_COUNTERS_BOOT_MAX];
	__u64 stats[US_ST_MAX];
	size_t n;
	__u32 ids[US_MAX_MACHINES];
	struct us_mstats m[US_MAX_MACHINES];
};

/* The agent's side: fills a snapshot (0, or a negative errno). */
typedef int (*us_counters_read_fn)(void *ctx, struct us_counters_snap *out);

/* The JSON of a snapshot (json_object_put it). */
json_object *us_counters_json(const struct us_counters_snap *s);
/* A snapshot from its JSON: 0, or -EINVAL with what is wrong in err. */
int us_counters_parse(json_object *o, struct us_counters_snap *s, char *err, size_t len);

/* Answer a libmicrohttpd request for /counters (GET only): 200 with the
 * JSON, 405 for another method, 503 when read fails. For an access handler:
 *   if (!strcmp(url, "/counters")) return us_counters_serve(c, method, read, ctx); */
enum MHD_Result us_counters_serve(struct MHD_Connection *c, const char *method,
				  us_counters_read_fn read, void *ctx);

#endif
