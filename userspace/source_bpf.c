// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The source of this host's data plane: see source.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dp.h"
#include "source.h"

struct bpf_source {
	struct us_source base;
	struct us_dp *dp;
	struct us_mstats prev[US_MAX_MACHINES];
	bool have_prev[US_MAX_MACHINES];
	struct us_dp_code codes[US_CODEPAIRS];
};

static void mstats_sub(struct us_mstats *out, const struct us_mstats *a, const struct us_mstats *b)
{
	const __u64 *x = (const __u64 *)a, *y = (const __u64 *)b;
	__u64 *o = (__u64 *)out;

	for (size_t i = 0; i < sizeof(*out) / sizeof(__u64); i++)
		o[i] = x[i] >= y[i] ? x[i] - y[i] : 0;
}

static int bpf_read(struct us_source *s, const __u32 *ids, size_t n, struct us_counts *out)
{
	struct bpf_source *b = (struct bpf_source *)s;
	int ncodes, err = 0;

	/* no sweep: unanswered transactions are closed in the data plane, at
	 * their deadline, and counted in us_mstats */
	for (size_t i = 0; i < n; i++) {
		struct us_counts *c = &out[i];
		__u32 id = ids[i];

		memset(c, 0, sizeof(*c));
		if (id >= US_MAX_MACHINES || us_dp_read_mstats(b->dp, id, &c->total))
			continue;
		c->read = true;
		if (b->have_prev[id]) {
			mstats_sub(&c->win, &c->total, &b->prev[id]);
			c->have_win = true;
		}
		b->prev[id] = c->total;
		b->have_prev[id] = true;
	}
	/* the codes are taken out of the data plane (read and cleared), and
	 * given to the ids that have a window: what an id collected before its
	 * first read is dropped, as its counters' are */
	ncodes = us_dp_take_codes(b->dp, b->codes, US_CODEPAIRS);
	if (ncodes < 0)
		err = ncodes;
	for (int k = 0; k < ncodes; k++) {
		const struct us_dp_code *dc = &b->codes[k];

		for (size_t i = 0; i < n; i++) {
			if (ids[i] != dc->key.mid || !out[i].have_win)
				continue;
			us_codes_add(out[i].codes, &out[i].ncodes, dc->key.active, dc->key.shadow,
				     dc->n);
			break;
		}
	}
	return err;
}

static int bpf_packets(struct us_source *s, __u64 out[US_ST_MAX])
{
	return us_dp_read_stats(((struct bpf_source *)s)->dp, out);
}

static void bpf_close(struct us_source *s)
{
	free(s);
}

static const struct us_source_ops bpf_ops = {
	.name = "bpf",
	.read = bpf_read,
	.packets = bpf_packets,
	.close = bpf_close,
};

int us_source_bpf(struct us_dp *dp, struct us_source **out)
{
	struct bpf_source *b = calloc(1, sizeof(*b));

	*out = NULL;
	if (!b)
		return -ENOMEM;
	b->base.ops = &bpf_ops;
	b->dp = dp;
	*out = &b->base;
	return 0;
}
