/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Ethernet (up to two VLAN tags), IPv4/IPv6 and UDP parsing. */
#ifndef US_PARSE_BPF_H
#define US_PARSE_BPF_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/udp.h>
#include <linux/in.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "understudy/understudy.h"

#ifndef AF_INET
#define AF_INET 2
#endif
#ifndef AF_INET6
#define AF_INET6 10
#endif

#define US_IP_MF     0x2000
#define US_IP_OFFSET 0x1fff

struct us_vlan_hdr {
	__be16 tci;
	__be16 proto;
};

struct us_frag6_hdr {
	__u8   nexthdr;
	__u8   reserved;
	__be16 frag_off;
	__be32 id;
};

/* What the L2-L4 parser found. */
struct us_pkt {
	__u8   saddr[16];       /* IPv4 as ::ffff:a.b.c.d */
	__u8   daddr[16];
	__be16 sport;
	__be16 dport;
	__u32  payload_off;     /* offset of the UDP payload from data */
	__u32  payload_len;     /* UDP length - 8 */
	__u32  ip_len;          /* IP total length (v4) or 40 + payload length (v6) */
	__u16  l3_off;          /* offset of the IP header from data */
	__u16  l4_off;          /* offset of the UDP header */
	__u8   family;
	__u8   frag;            /* first fragment of a fragmented datagram */
	__u8   proto;
	__u8   pad;
};

enum us_parse_rc {
	US_P_UDP = 0,      /* a whole UDP datagram: pkt filled */
	US_P_OTHER,        /* not UDP over IP, or a non-first fragment: pass */
	US_P_BAD_L2,
	US_P_BAD_L3,
	US_P_BAD_L4,
};

static __always_inline void us_v4mapped(__u8 *dst, __be32 a)
{
	__u32 *d = (__u32 *)dst;

	d[0] = 0;
	d[1] = 0;
	d[2] = bpf_htonl(0xffff);
	d[3] = a;
}

static __always_inline void us_copy16(__u8 *dst, const void *src)
{
	const __u32 *s = src;
	__u32 *d = (__u32 *)dst;

	d[0] = s[0];
	d[1] = s[1];
	d[2] = s[2];
	d[3] = s[3];
}

/* Does the frame hold len bytes? The linear part usually answers; a
 * multi-buffer frame (xdp.frags) is asked for its whole length. */
static __always_inline int us_fits(struct xdp_md *ctx, void *data, void *data_end, __u32 len)
{
	if (data + len <= data_end)
		return 1;
	return len <= bpf_xdp_get_buff_len(ctx);
}

/* Parse up to the UDP header. pkt->family is set as soon as an IP header
 * is found (0 for anything else, e.g. ARP); sport/dport as soon as a UDP
 * header is. */
static __always_inline int us_parse(struct xdp_md *ctx, struct us_pkt *pkt)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct udphdr *udp;
	__u32 off = sizeof(*eth);
	__u16 proto;
	__u32 l4_avail;

	if ((void *)(eth + 1) > data_end)
		return US_P_BAD_L2;
	proto = eth->h_proto;

#pragma unroll
	for (int i = 0; i < 2; i++) {
		if (proto == bpf_htons(ETH_P_8021Q) || proto == bpf_htons(ETH_P_8021AD)) {
			struct us_vlan_hdr *vh = data + off;

			if ((void *)(vh + 1) > data_end)
				return US_P_BAD_L2;
			proto = vh->proto;
			off += sizeof(*vh);
		}
	}

	pkt->l3_off = off;
	if (proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = data + off;
		__u32 ihl, tot;

		if ((void *)(ip + 1) > data_end)
			return US_P_BAD_L3;
		ihl = ip->ihl * 4;
		tot = bpf_ntohs(ip->tot_len);
		if (ip->version != 4 || ihl < sizeof(*ip) || tot < ihl ||
		    !us_fits(ctx, data, data_end, off + tot))
			return US_P_BAD_L3;
		pkt->family = AF_INET;
		pkt->ip_len = tot;
		us_v4mapped(pkt->saddr, ip->saddr);
		us_v4mapped(pkt->daddr, ip->daddr);
		if (ip->protocol != IPPROTO_UDP)
			return US_P_OTHER;
		if (ip->frag_off & bpf_htons(US_IP_OFFSET))
			return US_P_OTHER;      /* not the first fragment: no UDP header */
		pkt->frag = !!(ip->frag_off & bpf_htons(US_IP_MF));
		pkt->proto = IPPROTO_UDP;
		l4_avail = tot - ihl;
		off += ihl;
	} else if (proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = data + off;
		__u8 nh;
		__u32 plen;

		if ((void *)(ip6 + 1) > data_end)
			return US_P_BAD_L3;
		plen = bpf_ntohs(ip6->payload_len);
		if (ip6->version != 6 || !us_fits(ctx, data, data_end, off + sizeof(*ip6) + plen))
			return US_P_BAD_L3;
		us_copy16(pkt->saddr, &ip6->saddr);
		us_copy16(pkt->daddr, &ip6->daddr);
		pkt->family = AF_INET6;
		pkt->ip_len = sizeof(*ip6) + plen;
		pkt->frag = 0;
		nh = ip6->nexthdr;
		off += sizeof(*ip6);
		l4_avail = plen;

#pragma unroll
		for (int i = 0; i < 3; i++) {
			if (nh == IPPROTO_HOPOPTS || nh == IPPROTO_ROUTING || nh == IPPROTO_DSTOPTS) {
				__u8 *eh = data + off;
				__u32 elen;

				if ((void *)(eh + 2) > data_end)
					return US_P_BAD_L3;
				elen = ((__u32)eh[1] + 1) * 8;
				if (elen > l4_avail)
					return US_P_BAD_L3;
				nh = eh[0];
				off += elen;
				l4_avail -= elen;
			} else if (nh == IPPROTO_FRAGMENT) {
				struct us_frag6_hdr *fh = data + off;

				if ((void *)(fh + 1) > data_end || l4_avail < sizeof(*fh))
					return US_P_BAD_L3;
				if (fh->frag_off & bpf_htons(0xfff8))
					return US_P_OTHER;   /* not the first fragment */
				pkt->frag = 1;
				nh = fh->nexthdr;
				off += sizeof(*fh);
				l4_avail -= sizeof(*fh);
			}
		}
		if (nh != IPPROTO_UDP)
			return US_P_OTHER;
		pkt->proto = IPPROTO_UDP;
	} else {
		return US_P_OTHER;
	}

	if (off > 0xffff)
		return US_P_BAD_L3;
	udp = data + off;
	if ((void *)(udp + 1) > data_end)
		return US_P_BAD_L4;
	pkt->l4_off = off;
	pkt->sport = udp->source;
	pkt->dport = udp->dest;
	if (pkt->frag)
		return US_P_UDP;        /* caller counts it; length spans fragments */
	{
		__u32 ulen = bpf_ntohs(udp->len);

		if (ulen < sizeof(*udp) || ulen > l4_avail)
			return US_P_BAD_L4;
		pkt->payload_off = off + sizeof(*udp);
		pkt->payload_len = ulen - sizeof(*udp);
	}
	return US_P_UDP;
}

#endif
