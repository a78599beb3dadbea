/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Building a SIP message into a frame: the new payload is the concatenation
 * of segments, each a span of the original payload (the per-CPU scratch
 * copy) or of literal bytes; it is assembled in the per-CPU out buffer,
 * written over the frame's payload (the frame grows or shrinks), and the
 * IP and UDP lengths and checksums are set for it. A reply (a response or an
 * ACK sent back where the message came from) also swaps the MAC, IP and UDP
 * addresses.
 */
#ifndef US_BUILD_BPF_H
#define US_BUILD_BPF_H

#include "parse.bpf.h"
#include "sip.bpf.h"

/* ---- literals ------------------------------------------------------------ */

/* Write the constant string lit (n bytes, n <= 64) at lit->b[off]. */
#define US_LIT_PUT(l, off, str) __builtin_memcpy(&(l)->b[(off)], (str), sizeof(str) - 1)

/* Decimal digits of v (< 10^9) at l->b[off & mask]; returns their count. */
static __always_inline __u32 us_lit_num(struct us_lit *l, __u32 off, __u32 v)
{
	char d[16];
	__u32 n = 0;

#pragma unroll
	for (int i = 0; i < 10; i++) {
		d[i] = '0' + v % 10;
		v /= 10;
		n++;
		if (!v)
			break;
	}
#pragma unroll
	for (int i = 0; i < 10; i++) {
		if ((__u32)i >= n)
			break;
		l->b[(off + i) & (US_LIT_MAX - 1)] = d[(n - 1 - i) & 15];
	}
	return n;
}

/* Append a segment: a span of the message (lit 0) or of e->lit (lit 1).
 * Past US_SEGS, e->nseg goes over and us_assemble refuses the edit. */
static __always_inline void us_seg_add(struct us_edit *e, __u32 off, __u32 len, int lit)
{
	__u32 i = e->nseg;

	if (!len)
		return;
	if (i >= US_SEGS) {
		e->nseg = US_SEGS + 1;
		return;
	}
	e->seg[i & (US_SEGS - 1)].off = (off & 0x7fff) | (lit ? US_SEG_LIT : 0);
	e->seg[i & (US_SEGS - 1)].len = len;
	e->nseg = i + 1;
}

/* ---- assembling ------------------------------------------------------------ */

struct us_cpy {
	const struct us_scratch *src;
	const struct us_lit *lit;
	struct us_out *out;
	__u32 soff, doff, n;
	int from_lit;
};

static long us_cpy_cb(__u32 i, void *data)
{
	struct us_cpy *c = data;
	__u32 k = i * 8;
	__u64 w;

	if (k >= c->n || !c->out)
		return 1;
	if (c->from_lit) {
		if (!c->lit)
			return 1;
		w = *(const us_u64u *)&c->lit->b[(c->soff + k) & (US_LIT_MAX - 1)];
	} else {
		if (!c->src)
			return 1;
		w = us_w(c->src, c->soff + k);
	}
	*(us_u64u *)&c->out->b[us_mask(c->doff + k)] = w;
	return 0;
}

/* Assemble segs into out->b; returns the new length, or 0 if it would not
 * fit US_SIP_MAX or a span lies outside the message (len bytes). */
__noinline __u32 us_assemble(const struct us_scratch *src, __u32 len, const struct us_edit *e,
			     struct us_out *out)
{
	struct us_cpy c;
	__u32 pos = 0, nseg;

	if (!src || !e || !out)
		return 0;
	nseg = e->nseg;
	if (nseg > US_SEGS)
		return 0;
	c.src = src;
	c.lit = &e->lit;
	c.out = out;
	for (int i = 0; i < US_SEGS; i++) {
		__u32 off, n;

		if ((__u32)i >= nseg)
			break;
		off = e->seg[i].off;
		n = e->seg[i].len;
		if (off & US_SEG_LIT) {
			off &= ~US_SEG_LIT;
			if (off + n > US_LIT_MAX)
				return 0;
			c.from_lit = 1;
		} else {
			if (off + n > len)
				return 0;
			c.from_lit = 0;
		}
		if (pos + n > US_SIP_MAX)
			return 0;
		c.soff = off;
		c.doff = pos;
		c.n = n;
		bpf_loop((n + 7) / 8, us_cpy_cb, &c, 0);
		pos += n;
	}
	/* zeros after the message: the checksum reads whole words */
	*(us_u64u *)&out->b[us_mask(pos)] = 0;
	return pos;
}

/* ---- checksums --------------------------------------------------------------- */

struct us_csum {
	const struct us_out *out;
	__u32 n;            /* bytes */
	__u64 sum;
};

static long us_csum_cb(__u32 i, void *data)
{
	struct us_csum *c = data;
	__u64 w;

	if (i * 8 >= c->n || !c->out)
		return 1;
	w = *(const us_u64u *)&c->out->b[us_mask(i * 8)];
	c->sum += (w & 0xffffffffull) + (w >> 32);
	return 0;
}

static __always_inline __u16 us_fold(__u64 s)
{
	s = (s & 0xffffffffull) + (s >> 32);
	s = (s & 0xffffffffull) + (s >> 32);
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return (__u16)s;
}

/* Ones' complement sum of out->b[0 .. n), in memory order (no byte swap:
 * the result is stored as it is, RFC 1071's byte-order independence). */
static __always_inline __u64 us_sum_out(const struct us_out *out, __u32 n)
{
	struct us_csum c = { .out = out, .n = n, .sum = 0 };

	bpf_loop((n + 7) / 8, us_csum_cb, &c, 0);
	return c.sum;
}

static __always_inline __u64 us_sum16(const __u8 *p, __u32 n)
{
	__u64 s = 0;

	for (__u32 i = 0; i + 1 < n; i += 2)
		s += *(const __u16 *)(p + i);
	return s;
}

/* ---- into the frame -------------------------------------------------------------- */

/* Can a frame be rebuilt? Not an IPv6 one with extension headers (a
 * routing header would change the checksum's destination). */
static __always_inline int us_rebuildable(__u8 family, __u16 l3_off, __u16 l4_off)
{
	return family == AF_INET || l4_off == l3_off + 40;
}

/* Where the frame's headers are. */
struct us_fpos {
	__u16 l3_off, l4_off, payload_off, payload_len;
	__u8  family;
	__u8  reply;        /* send back: swap MACs, addresses and ports */
};

/*
 * Replace the frame's payload with out->b[0 .. n) and fix lengths and
 * checksums (IPv4 header checksum incrementally, the UDP checksum over the
 * whole datagram: the payload changed anyway). 0, or -1 (the frame may be
 * half-written then: the caller drops it).
 */
__noinline int us_emit(struct xdp_md *ctx, const struct us_fpos *fp, struct us_out *out, __u32 n)
{
	__u8 ip[60], mac[12], t6[6];
	struct udphdr uh;
	int fdelta;
	__u64 sum;
	__u16 ulen;

	if (!ctx || !fp || !out || n == 0 || n > US_SIP_MAX)
		return -1;
	__builtin_memset(ip, 0, sizeof(ip));
	/* the frame may hold bytes past the datagram (padding), which go: it
	 * ends with the payload, and the IP and UDP lengths say so */
	fdelta = (int)(fp->payload_off + n) - (int)bpf_xdp_get_buff_len(ctx);
	if (fdelta > 0 && bpf_xdp_adjust_tail(ctx, fdelta)) {
		/* no room after the frame (a socket's buffer on a veth may end
		 * right there): make it at the front, and move the headers */
		__u32 hl = fp->payload_off & 127;

		if (!hl || hl != fp->payload_off || fdelta > 256)
			return -1;
		if (bpf_xdp_adjust_head(ctx, -fdelta))
			return -1;
		if (bpf_xdp_load_bytes(ctx, fdelta, out->hdr, hl) ||
		    bpf_xdp_store_bytes(ctx, 0, out->hdr, hl))
			return -1;
	}
	{
		__u32 m = n & US_BUF_MASK;

		if (!m || bpf_xdp_store_bytes(ctx, fp->payload_off, (void *)out->b, m))
			return -1;
	}
	if (fdelta < 0 && bpf_xdp_adjust_tail(ctx, fdelta))
		return -1;

	ulen = n + sizeof(struct udphdr);
	if (bpf_xdp_load_bytes(ctx, fp->l4_off, &uh, sizeof(uh)))
		return -1;
	if (fp->reply) {
		__be16 p = uh.source;

		uh.source = uh.dest;
		uh.dest = p;
		if (bpf_xdp_load_bytes(ctx, 0, mac, 12))
			return -1;
		__builtin_memcpy(t6, mac, 6);
		__builtin_memcpy(mac, mac + 6, 6);
		__builtin_memcpy(mac + 6, t6, 6);
		if (bpf_xdp_store_bytes(ctx, 0, mac, 12))
			return -1;
	}
	uh.len = bpf_htons(ulen);
	uh.check = 0;

	sum = us_sum_out(out, n);
	sum += us_sum16((const __u8 *)&uh, sizeof(uh));
	if (fp->family == AF_INET) {
		struct iphdr *h = (struct iphdr *)ip;
		__u32 hl;

		if (bpf_xdp_load_bytes(ctx, fp->l3_off, ip, sizeof(struct iphdr)))
			return -1;
		hl = (h->ihl & 15) * 4;
		if (hl < sizeof(struct iphdr))
			return -1;
		if (hl > sizeof(struct iphdr) &&
		    bpf_xdp_load_bytes(ctx, fp->l3_off, ip, hl > 60 ? 60 : hl))
			return -1;
		h->tot_len = bpf_htons(fp->l4_off - fp->l3_off + ulen);
		if (fp->reply) {
			__be32 a = h->saddr;

			h->saddr = h->daddr;
			h->daddr = a;
		}
		/* the header checksum computed whole: whatever the one that
		 * came in, the one that goes out is right */
		h->check = 0;
		h->check = ~us_fold(us_sum16(ip, hl > 60 ? 60 : hl));
		if (bpf_xdp_store_bytes(ctx, fp->l3_off, ip, sizeof(struct iphdr)))
			return -1;
		sum += us_sum16((const __u8 *)&h->saddr, 8);
		sum += bpf_htons(IPPROTO_UDP);
		sum += bpf_htons(ulen);
	} else {
		struct ipv6hdr *h = (struct ipv6hdr *)ip;

		if (bpf_xdp_load_bytes(ctx, fp->l3_off, ip, sizeof(struct ipv6hdr)))
			return -1;
		h->payload_len = bpf_htons(fp->l4_off - fp->l3_off - 40 + ulen);
		if (fp->reply) {
			__u8 a[16];

			__builtin_memcpy(a, &h->saddr, 16);
			__builtin_memcpy(&h->saddr, &h->daddr, 16);
			__builtin_memcpy(&h->daddr, a, 16);
		}
		if (bpf_xdp_store_bytes(ctx, fp->l3_off, ip, sizeof(struct ipv6hdr)))
			return -1;
		sum += us_sum16((const __u8 *)&h->saddr, 32);
		sum += bpf_htons(IPPROTO_UDP);
		sum += bpf_htons(ulen);
	}
	uh.check = ~us_fold(sum);
	if (!uh.check)
		uh.check = 0xffff;
	if (bpf_xdp_store_bytes(ctx, fp->l4_off, &uh, sizeof(uh)))
		return -1;
	return 0;
}

#endif
