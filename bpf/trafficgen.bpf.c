// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The traffic generator's XDP program, run by tools/tgen.c under
 * BPF_PROG_TEST_RUN with BPF_F_TEST_XDP_LIVE_FRAMES: every repeat turns the
 * live frame into the next message of the script (a copy of its template
 * with the call number written into its digit fields) and transmits it out
 * of the run's interface (XDP_TX). include/understudy/trafficgen.h has the
 * layout.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "understudy/trafficgen.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, TG_TMPL_MAX);
	__type(key, __u32);
	__type(value, struct tg_tmpl);
} tg_tmpls SEC(".maps");

/* per CPU: key 0 the sequence number, key 1 + t frames sent of template t */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1 + TG_TMPL_MAX);
	__type(key, __u32);
	__type(value, __u64);
} tg_counts SEC(".maps");

struct tg_cfg tg_cfg;

SEC("xdp")
int tg_gen(struct xdp_md *ctx)
{
	__u32 key = 0, len, tid, step, slen = tg_cfg.script_len;
	char digits[TG_DIGITS];
	struct tg_tmpl *t;
	__u64 *seq, *sent, n, call;
	int cur;

	seq = bpf_map_lookup_elem(&tg_counts, &key);
	if (!seq || slen == 0 || slen > TG_SCRIPT_MAX)
		return XDP_ABORTED;
	n = (*seq)++;
	step = (__u32)(n % slen);
	asm volatile("" : "+r"(step)); /* keep the mask: the verifier wants the bound */
	tid = tg_cfg.script[step & (TG_SCRIPT_MAX - 1)];
	call = tg_cfg.call_base + n / slen + bpf_get_smp_processor_id() * TG_CPU_STRIDE;
	t = bpf_map_lookup_elem(&tg_tmpls, &tid);
	if (!t)
		return XDP_ABORTED;
	len = t->len;
	if (len < TG_FRAME_MIN || len > TG_FRAME_MAX)
		return XDP_ABORTED;
	cur = (int)(ctx->data_end - ctx->data);
	if (cur != (int)len && bpf_xdp_adjust_tail(ctx, (int)len - cur))
		return XDP_ABORTED;
	if (bpf_xdp_store_bytes(ctx, 0, t->data, len))
		return XDP_ABORTED;
	for (int i = TG_DIGITS - 1; i >= 0; i--) {
		digits[i] = '0' + call % 10;
		call /= 10;
	}
	for (int i = 0; i < TG_MARKS; i++) {
		__u32 off = t->mark_off[i];

		if (i >= t->nmarks)
			break;
		if (off > len - TG_DIGITS || bpf_xdp_store_bytes(ctx, off, digits, TG_DIGITS))
			return XDP_ABORTED;
	}
	key = 1 + tid;
	sent = bpf_map_lookup_elem(&tg_counts, &key);
	if (sent)
		(*sent)++;
	return XDP_TX;
}
