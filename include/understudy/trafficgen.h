/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The traffic generator's BPF side (bpf/trafficgen.bpf.c) and user side
 * (tools/tgen.c) share these definitions.
 *
 * The generator runs an XDP program under BPF_PROG_TEST_RUN with
 * BPF_F_TEST_XDP_LIVE_FRAMES: each repeat builds one frame from a template
 * and sends it (XDP_TX) out of the interface the run names. A script of up
 * to TG_SCRIPT_MAX template ids is one call; the i-th frame a CPU sends is
 * step i % script_len of call i / script_len. Every template carries up to
 * TG_MARKS fields of TG_DIGITS placeholder characters, overwritten with the
 * call number in decimal: Call-ID, Via branch, From tag.
 */
#ifndef US_TRAFFICGEN_H
#define US_TRAFFICGEN_H

#include <linux/types.h>

#define TG_FRAME_MAX   2048      /* largest frame (a live frame fits in a page) */
#define TG_FRAME_MIN   60
#define TG_TMPL_MAX    16
#define TG_SCRIPT_MAX  32        /* a power of two */
#define TG_MARKS       4
#define TG_DIGITS      10
#define TG_PLACEHOLDER '#'
/* call numbers of CPU c start at c * TG_CPU_STRIDE (10 digits: CPUs < 42) */
#define TG_CPU_STRIDE  100000000ull

struct tg_tmpl {
	__u32 len;                      /* frame length */
	__u16 nmarks;
	__u16 mark_off[TG_MARKS];       /* offsets of the digit fields */
	__u16 pad;
	__u8 data[TG_FRAME_MAX];
};

/* the program's configuration (its .bss), set before every run */
struct tg_cfg {
	__u32 script_len;               /* 1..TG_SCRIPT_MAX */
	__u32 script[TG_SCRIPT_MAX];    /* template ids */
	__u64 call_base;                /* added to every call number */
};

#endif
