// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Weighted Maglev table construction: see maglev.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "maglev.h"
#include "understudy/understudy.h"

static int is_prime(__u32 n)
{
	if (n < 2)
		return 0;
	for (__u32 d = 2; (__u64)d * d <= n; d++)
		if (n % d == 0)
			return 0;
	return 1;
}

static __u64 mix64(__u64 h)
{
	return us_hash_final(h);
}

__u64 us_maglev_key(const __u8 addr[16])
{
	__u64 h = US_FNV_OFFSET;

	for (int i = 0; i < 16; i++)
		h = us_hash_step(h, addr[i]);
	return us_hash_final(h);
}

int us_maglev_build(const struct us_maglev_backend *b, size_t n, __u32 *table, __u32 size)
{
	__u32 *offset = NULL, *skip = NULL, *next = NULL, wmax = 0;
	__u32 filled = 0;
	int err = 0;

	if (!table || !is_prime(size) || (n && !b) || n >= size)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (b[i].weight == 0 || b[i].weight > US_WEIGHT_MAX)
			return -EINVAL;
		for (size_t j = 0; j < i; j++)
			if (b[i].key == b[j].key)
				return -EINVAL;
		if (b[i].weight > wmax)
			wmax = b[i].weight;
	}
	for (__u32 s = 0; s < size; s++)
		table[s] = US_MID_NONE;
	if (n == 0)
		return 0;

	offset = calloc(n, sizeof(*offset));
	skip = calloc(n, sizeof(*skip));
	next = calloc(n, sizeof(*next));
	if (!offset || !skip || !next) {
		err = -ENOMEM;
		goto out_free;
	}
	for (size_t i = 0; i < n; i++) {
		offset[i] = mix64(b[i].key ^ 0x9e3779b97f4a7c15ull) % size;
		skip[i] = mix64(b[i].key ^ 0xc2b2ae3d27d4eb4full) % (size - 1) + 1;
	}
	for (__u64 round = 0; filled < size; round++) {
		for (size_t i = 0; i < n && filled < size; i++) {
			__u32 c;

			/* a backend takes a turn in this round in proportion
			 * to its weight */
			if ((round + 1) * b[i].weight / wmax == round * b[i].weight / wmax)
				continue;
			do {
				c = (__u32)((offset[i] + (__u64)next[i] * skip[i]) % size);
				next[i]++;
			} while (table[c] != US_MID_NONE);
			table[c] = b[i].mid;
			filled++;
		}
	}
out_free:
	free(offset);
	free(skip);
	free(next);
	return err;
}
