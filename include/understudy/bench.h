/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The throughput benchmark's reference programs (bpf/bench.bpf.c) and their
 * driver (tools/bench_pps.c) share this. */
#ifndef US_BENCH_H
#define US_BENCH_H

#include <linux/types.h>

/* where a reference program sends a machine's copy */
struct bench_out {
	__u32 ifindex;          /* the balancer's interface towards the machine */
	__u8 smac[6];           /* that interface's MAC */
	__u8 dmac[6];           /* the machine's */
	__u16 pad;
};

#endif
