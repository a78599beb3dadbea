/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Where a window's counters come from: the source. For each machine id it
 * gives the data plane's cumulative counters and their increase since the
 * last read, and the exact codes that differed since then; and the global
 * packet counters.
 *
 * Today's source is this host's BPF maps (us_source_bpf, through dp.h);
 * counters published by other balancer hosts are another set of these
 * operations.
 */
#ifndef US_SOURCE_H
#define US_SOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>
#include "evidence.h"
#include "policy.h"
#include "understudy/understudy.h"

struct us_dp;

/* One machine's counters for a window. */
struct us_counts {
	bool read;                  /* the counters could be read */
	bool have_win;              /* win is an increase (not the first read of the id) */
	struct us_mstats total;     /* cumulative */
	struct us_mstats win;       /* the increase since the last read */
	/* the exact codes that differed in its pairs since the last read (as
	 * win: none at the first read of the id) */
	struct us_codepair codes[US_CODEPAIRS_MAX];
	__u32 ncodes;
};

struct us_source;

struct us_source_ops {
	const char *name;
	/* the counters of machines ids[0..n-1] into out[0..n-1] */
	int (*read)(struct us_source *s, const __u32 *ids, size_t n, struct us_counts *out);
	/* us_stats, summed */
	int (*packets)(struct us_source *s, __u64 out[US_ST_MAX]);
	void (*close)(struct us_source *s);
};

struct us_source {
	const struct us_source_ops *ops;
};

/* This host's data plane. */
int us_source_bpf(struct us_dp *dp, struct us_source **out);

static inline void us_source_close(struct us_source *s)
{
	if (s)
		s->ops->close(s);
}

#endif
