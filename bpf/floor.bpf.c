// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The floor of the per-packet benchmark (tools/bench_xdp.c): the least an
 * XDP program pays that must see every byte of a message. floor_read reads
 * the whole frame once, 8 bytes a load, xors the loads together, and
 * passes the frame. It looks up nothing, parses nothing and changes
 * nothing, so an understudy path's cost divided by this one's says how far
 * the path is from "reading the message once".
 *
 * floor_sum, floor_bytes and floor_linear (the .bss) hold the last frame's
 * xor, the bytes read and the length of its linear part: the xor is what
 * keeps the compiler from dropping the loads, and it lets the driver check
 * that the program read every byte (include/understudy/floor.h says how the
 * bytes are grouped into loads).
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "understudy/floor.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

__u64 floor_sum;
__u32 floor_bytes, floor_linear;

/* xdp.frags: a multi-buffer frame (a 4 KB INVITE) is read whole too */
SEC("xdp.frags")
int floor_read(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	__u64 *w = data, x = 0;
	__u32 read, total, i;
	void *p;

	/* four loads per bound check, then one at a time */
	for (i = 0; i < FLOOR_LINEAR_MAX / 32; i++, w += 4) {
		if ((void *)(w + 4) > end)
			break;
		x ^= w[0] ^ w[1] ^ w[2] ^ w[3];
	}
	for (i = 0; i < 3; i++, w++) {
		if ((void *)(w + 1) > end)
			break;
		x ^= *w;
	}
	p = w;
	if (p + 4 <= end) {
		x ^= *(__u32 *)p;
		p += 4;
	}
	if (p + 2 <= end) {
		x ^= *(__u16 *)p;
		p += 2;
	}
	if (p + 1 <= end) {
		x ^= *(__u8 *)p;
		p += 1;
	}
	/* a difference of pointers is a scalar of unknown value to the
	 * verifier: what follows is verified once, not once per length */
	read = (long)p - (long)data;
	floor_linear = (long)end - (long)data;

	total = bpf_xdp_get_buff_len(ctx);
	if (total > read) {
		__u64 buf[FLOOR_CHUNK / 8];

		for (i = 0; i < FLOOR_FRAME_MAX / FLOOR_CHUNK && read < total; i++) {
			__u32 n = total - read;

			if (n >= FLOOR_CHUNK)
				n = FLOOR_CHUNK;
			else
				__builtin_memset(buf, 0, sizeof(buf));
			if (!n || bpf_xdp_load_bytes(ctx, read, buf, n))
				break;
			for (int k = 0; k < FLOOR_CHUNK / 8; k++)
				x ^= buf[k];
			read += n;
		}
	}
	floor_sum = x;
	floor_bytes = read;
	return XDP_PASS;
}
