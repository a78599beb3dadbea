/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * tgen: a SIP traffic generator on BPF_PROG_TEST_RUN with
 * BPF_F_TEST_XDP_LIVE_FRAMES (bpf/trafficgen.bpf.c). It sends, out of one
 * interface, a script of SIP messages per call (e.g. INVITE, ACK, BYE) over
 * ever new Call-IDs, from a given number of threads (one per CPU), at a
 * given rate or as fast as it can. IPv4/UDP; UDP checksum 0 ("none"), since
 * every frame gets its own call number.
 *
 * Used by tools/trafficgen.c (the command) and tools/bench_pps.c.
 */
#ifndef US_TGEN_H
#define US_TGEN_H

#include <stddef.h>
#include <linux/types.h>
#include "understudy/trafficgen.h"

#define TG_THREADS_MAX 64

struct tg_opts {
	const char *ifname;     /* interface the frames leave by */
	const char *netns;      /* its network namespace: a name under /run/netns
	                         * or a path; NULL: the caller's */
	const char *mix;        /* message script, e.g. "invite,ack,bye" or
	                         * "invite,100,180,200,ack,bye,200bye"; NAME:N
	                         * repeats a step N times (NULL: "invite,ack,bye") */
	double rate;            /* frames per second in all; 0: as fast as possible */
	__u64 count;            /* frames in all; 0: until duration */
	double duration;        /* seconds; 0: until count */
	int threads;            /* 1..TG_THREADS_MAX, thread i pinned to CPU first_cpu + i */
	int first_cpu;
	size_t size;            /* INVITE frame length (SDP padded); 0: natural (~800 B) */
	__u32 batch;            /* frames per syscall (0: 65536, or 1 ms worth at a rate) */
	__u8 smac[6], dmac[6];  /* zero smac: the interface's own MAC */
	const char *saddr, *daddr; /* IPv4 literals */
	__u16 sport, dport;
	__u64 call_base;        /* first call number (each CPU adds cpu * TG_CPU_STRIDE) */
};

struct tg_result {
	int ntmpl;
	char names[TG_TMPL_MAX][16];    /* message names, in script order of first use */
	__u32 lens[TG_TMPL_MAX];        /* their frame lengths */
	__u64 sent[TG_TMPL_MAX];        /* frames sent of each */
	__u64 sent_total, attempted;    /* attempted - sent: the program refused */
	__u64 calls;                    /* complete scripts sent */
	double seconds;                 /* wall time of the run */
};

struct tg;

/* Load the program, build the templates; err gets what is wrong. */
int tg_open(const struct tg_opts *o, struct tg **out, char *err, size_t errlen);
/* Send; fills r (counts of this run only). */
int tg_run(struct tg *g, struct tg_result *r, char *err, size_t errlen);
void tg_close(struct tg *g);
/* "aa:bb:cc:dd:ee:ff" */
int tg_parse_mac(const char *s, __u8 mac[6]);

#endif
