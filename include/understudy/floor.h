/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The per-packet floor (bpf/floor.bpf.c) and its driver (tools/bench_xdp.c)
 * share this: how the program groups the frame's bytes into loads, so that
 * the driver can compute the same xor and check that every byte was read. */
#ifndef US_FLOOR_H
#define US_FLOOR_H

/* The linear part is read 8 bytes a load, four loads per bound check (one
 * per check cost 47 ns against 33 on the 981-byte frame: the floor is the
 * cheapest reading), up to this many bytes (a page: more than any driver's
 * linear part), then 4, 2 and 1 byte for its tail. */
#define FLOOR_LINEAR_MAX 4096
/* What is beyond (a multi-buffer frame's fragments) is copied with
 * bpf_xdp_load_bytes this many bytes at a time, a partial chunk padded with
 * zeros, and read 8 bytes a load from the copy. */
#define FLOOR_CHUNK      256
/* the largest frame read whole: a 9,000-byte jumbo frame and its headers */
#define FLOOR_FRAME_MAX  9216

#endif
