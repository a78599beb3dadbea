// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The throughput benchmark's reference programs (tools/bench_pps.c): what
 * understudy is measured against, on the same topology.
 *
 *   bench_count      XDP at a receiving machine: count an IPv4 UDP frame, drop it
 *   bench_redirect   XDP, no parsing: rewrite the MACs, redirect to machine 0
 *   bench_broadcast  XDP, no parsing: clone to machines 0 and 1 through a
 *                    devmap broadcast; bench_egress rewrites each copy's MACs
 *   bench_clone      tc, no parsing: bpf_clone_redirect to machine 1, then
 *                    bpf_redirect to machine 0, MACs rewritten for each
 *
 * bench_cfg (the .bss) names the two machines' interfaces and MACs.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include "understudy/bench.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct {
	struct bench_out out[2];
} bench_cfg;

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} bench_rx SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, struct bpf_devmap_val);
} bench_bcast SEC(".maps");

/* Counts IPv4 UDP frames (the benchmark's) and drops them; anything else
 * (the kernel's own IPv6 neighbour discovery, say) passes uncounted. */
SEC("xdp")
int bench_count(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);
	__u32 k = 0;
	__u64 *n;

	if ((void *)(ip + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP) ||
	    ip->protocol != IPPROTO_UDP)
		return XDP_PASS;
	n = bpf_map_lookup_elem(&bench_rx, &k);
	if (n)
		(*n)++;
	return XDP_DROP;
}

static __always_inline int set_macs(void *data, void *end, const struct bench_out *o)
{
	struct ethhdr *eth = data;

	if ((void *)(eth + 1) > end)
		return -1;
	__builtin_memcpy(eth->h_dest, o->dmac, 6);
	__builtin_memcpy(eth->h_source, o->smac, 6);
	return 0;
}

SEC("xdp")
int bench_redirect(struct xdp_md *ctx)
{
	if (set_macs((void *)(long)ctx->data, (void *)(long)ctx->data_end, &bench_cfg.out[0]))
		return XDP_DROP;
	return bpf_redirect(bench_cfg.out[0].ifindex, 0);
}

SEC("xdp")
int bench_broadcast(struct xdp_md *ctx)
{
	(void)ctx;
	return bpf_redirect_map(&bench_bcast, 0, BPF_F_BROADCAST | BPF_F_EXCLUDE_INGRESS);
}

SEC("xdp/devmap")
int bench_egress(struct xdp_md *ctx)
{
	const struct bench_out *o = &bench_cfg.out[ctx->egress_ifindex == bench_cfg.out[0].ifindex ? 0 : 1];

	if (set_macs((void *)(long)ctx->data, (void *)(long)ctx->data_end, o))
		return XDP_DROP;
	return XDP_PASS;
}

SEC("tc")
int bench_clone(struct __sk_buff *skb)
{
	const struct bench_out *a = &bench_cfg.out[0], *s = &bench_cfg.out[1];

	if (bpf_skb_store_bytes(skb, 0, s->dmac, 6, 0) ||
	    bpf_skb_store_bytes(skb, 6, s->smac, 6, 0))
		return TC_ACT_SHOT;
	bpf_clone_redirect(skb, s->ifindex, 0);
	if (bpf_skb_store_bytes(skb, 0, a->dmac, 6, 0) ||
	    bpf_skb_store_bytes(skb, 6, a->smac, 6, 0))
		return TC_ACT_SHOT;
	return bpf_redirect(a->ifindex, 0);
}
