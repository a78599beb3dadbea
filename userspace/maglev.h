/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Weighted Maglev lookup tables (Eisenbud et al., NSDI 2016, section 3.4),
 * with weights by rounds: in round r a backend of weight w takes a turn
 * when floor((r+1) w / wmax) > floor(r w / wmax), so the share of slots
 * each backend gets follows its weight.
 */
#ifndef US_MAGLEV_H
#define US_MAGLEV_H

#include <stddef.h>
#include <linux/types.h>

struct us_maglev_backend {
	__u64 key;      /* stable identity (us_maglev_key of its address) */
	__u32 mid;      /* machine id written into the table */
	__u32 weight;   /* 1 .. US_WEIGHT_MAX */
};

/* Fill table[0..size-1] with machine ids. size must be prime and larger
 * than n; keys must be distinct; weights 1..US_WEIGHT_MAX. With n == 0 every
 * slot is US_MID_NONE. Returns 0 or -EINVAL. */
int us_maglev_build(const struct us_maglev_backend *b, size_t n, __u32 *table, __u32 size);

/* Stable key of a machine from its 16-byte address. */
__u64 us_maglev_key(const __u8 addr[16]);

#endif
