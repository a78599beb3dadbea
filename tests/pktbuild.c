// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Test packet builder: Ethernet (0-2 VLAN tags) / IPv4 or IPv6 / UDP with
 * correct lengths and checksums, and SIP messages from a description.
 */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include "pktbuild.h"

#define ETH_HLEN_    14
#define VLAN_HLEN_   4
#define IP4_HLEN     20
#define IP6_HLEN     40
#define FRAG6_HLEN   8
#define UDP_HLEN     8

/* ---- L2-L4 -------------------------------------------------------------- */

static void put16(__u8 *p, unsigned v)
{
	p[0] = (v >> 8) & 0xff;
	p[1] = v & 0xff;
}

static void put32(__u8 *p, unsigned long v)
{
	p[0] = (v >> 24) & 0xff;
	p[1] = (v >> 16) & 0xff;
	p[2] = (v >> 8) & 0xff;
	p[3] = v & 0xff;
}

/* One's-complement sum of big-endian 16-bit words, not folded. */
static unsigned long csum_add(unsigned long sum, const __u8 *p, size_t n)
{
	size_t i;

	for (i = 0; i + 1 < n; i += 2)
		sum += (unsigned long)p[i] << 8 | p[i + 1];
	if (n & 1)
		sum += (unsigned long)p[n - 1] << 8;
	return sum;
}

static unsigned csum_fold(unsigned long sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (unsigned)(~sum & 0xffff);
}

size_t pkt_l2_len(const struct pkt_l2l4 *o)
{
	int nv = o->nvlan < 0 ? 0 : o->nvlan > 2 ? 2 : o->nvlan;

	return ETH_HLEN_ + (size_t)nv * VLAN_HLEN_;
}

size_t pkt_l3_end(const struct pkt_l2l4 *o)
{
	size_t l = pkt_l2_len(o);

	if (o->family == AF_INET6)
		return l + IP6_HLEN + (o->v6_frag_hdr ? FRAG6_HLEN : 0);
	return l + IP4_HLEN;
}

size_t pkt_payload_off(const struct pkt_l2l4 *o)
{
	return pkt_l3_end(o) + (o->ip_proto && o->ip_proto != IPPROTO_UDP ? 0 : UDP_HLEN);
}

size_t pkt_build(__u8 *buf, size_t cap, const struct pkt_l2l4 *o, const void *payload,
		 size_t plen)
{
	__u8 sa[16], da[16], *ip, *l4;
	size_t l2 = pkt_l2_len(o), l3 = pkt_l3_end(o), off = pkt_payload_off(o);
	size_t total = off + plen, l4len = total - l3;
	int proto = o->ip_proto ? o->ip_proto : IPPROTO_UDP;
	int nv = o->nvlan < 0 ? 0 : o->nvlan > 2 ? 2 : o->nvlan;
	unsigned long sum;
	size_t p;

	if (total > cap || l4len > 0xffff)
		return 0;
	if (o->family == AF_INET6) {
		if (inet_pton(AF_INET6, o->saddr, sa) != 1 || inet_pton(AF_INET6, o->daddr, da) != 1)
			return 0;
	} else {
		if (inet_pton(AF_INET, o->saddr, sa) != 1 || inet_pton(AF_INET, o->daddr, da) != 1)
			return 0;
		if (total - l2 > 0xffff)
			return 0;
	}
	memset(buf, 0, off);

	/* Ethernet and VLAN tags */
	memcpy(buf, o->dmac, 6);
	memcpy(buf + 6, o->smac, 6);
	p = 12;
	if (nv == 2) {
		put16(buf + p, 0x88a8);
		put16(buf + p + 2, o->vlan[0] & 0x0fff);
		put16(buf + p + 4, 0x8100);
		put16(buf + p + 6, o->vlan[1] & 0x0fff);
		p += 8;
	} else if (nv == 1) {
		put16(buf + p, 0x8100);
		put16(buf + p + 2, o->vlan[0] & 0x0fff);
		p += 4;
	}
	put16(buf + p, o->family == AF_INET6 ? 0x86dd : 0x0800);
	p += 2;

	ip = buf + l2;
	if (o->family == AF_INET6) {
		__u8 nh = proto;

		put32(ip, 0x60000000ul);
		put16(ip + 4, (unsigned)(total - l2 - IP6_HLEN));
		ip[7] = 64;
		memcpy(ip + 8, sa, 16);
		memcpy(ip + 24, da, 16);
		if (o->v6_frag_hdr) {
			__u8 *fh = ip + IP6_HLEN;

			nh = 44;
			fh[0] = proto;
			fh[1] = 0;
			put16(fh + 2, (unsigned)(o->frag_off & 0x1fff) << 3 | (o->more_frags ? 1 : 0));
			put32(fh + 4, o->ip_id ? o->ip_id : 0x5eed);
		}
		ip[6] = nh;
	} else {
		ip[0] = 0x45;
		ip[1] = 0;
		put16(ip + 2, (unsigned)(total - l2));
		put16(ip + 4, o->ip_id ? o->ip_id : 0x1234);
		put16(ip + 6, (o->more_frags ? 0x2000 : 0) | (o->frag_off & 0x1fff));
		ip[8] = 64;
		ip[9] = proto;
		memcpy(ip + 12, sa, 4);
		memcpy(ip + 16, da, 4);
		put16(ip + 10, csum_fold(csum_add(0, ip, IP4_HLEN)));
	}

	l4 = buf + l3;
	if (plen)
		memcpy(buf + off, payload, plen);
	if (proto != IPPROTO_UDP)
		return total;

	put16(l4, o->sport);
	put16(l4 + 2, o->dport);
	put16(l4 + 4, (unsigned)l4len + (o->bad_udp_len ? 1 : 0));
	put16(l4 + 6, 0);
	/* pseudo header */
	if (o->family == AF_INET6) {
		sum = csum_add(0, sa, 16);
		sum = csum_add(sum, da, 16);
		sum += (l4len >> 16) + (l4len & 0xffff);
		sum += IPPROTO_UDP;
	} else {
		sum = csum_add(0, sa, 4);
		sum = csum_add(sum, da, 4);
		sum += IPPROTO_UDP;
		sum += l4len;
	}
	sum = csum_add(sum, l4, l4len);
	{
		unsigned c = csum_fold(sum);

		put16(l4 + 6, c ? c : 0xffff);
	}
	return total;
}

static unsigned get16(const __u8 *p)
{
	return (unsigned)p[0] << 8 | p[1];
}

int pkt_parse(const __u8 *f, size_t len, struct pkt_view *v, char *err, size_t errlen)
{
	size_t p = 12, l3, l4, l4len;
	unsigned et;
	unsigned long sum;
	const __u8 *ip;

	memset(v, 0, sizeof(*v));
	if (len < 14) {
		snprintf(err, errlen, "frame of %zu bytes", len);
		return -1;
	}
	memcpy(v->dmac, f, 6);
	memcpy(v->smac, f + 6, 6);
	et = get16(f + p);
	for (int i = 0; i < 2 && (et == 0x8100 || et == 0x88a8); i++) {
		p += 4;
		if (p + 2 > len) {
			snprintf(err, errlen, "truncated VLAN tag");
			return -1;
		}
		et = get16(f + p);
	}
	l3 = p + 2;
	v->l3_off = l3;
	ip = f + l3;
	if (et == 0x0800) {
		size_t ihl;

		if (l3 + 20 > len || (ip[0] >> 4) != 4) {
			snprintf(err, errlen, "bad IPv4 header");
			return -1;
		}
		ihl = (size_t)(ip[0] & 15) * 4;
		if (get16(ip + 2) != len - l3) {
			snprintf(err, errlen, "IPv4 total length %u, frame holds %zu", get16(ip + 2),
				 len - l3);
			return -1;
		}
		if (csum_fold(csum_add(0, ip, ihl)) != 0) {
			snprintf(err, errlen, "IPv4 header checksum wrong");
			return -1;
		}
		if (ip[9] != IPPROTO_UDP) {
			snprintf(err, errlen, "IP protocol %u, not UDP", ip[9]);
			return -1;
		}
		v->family = AF_INET;
		inet_ntop(AF_INET, ip + 12, v->saddr, sizeof(v->saddr));
		inet_ntop(AF_INET, ip + 16, v->daddr, sizeof(v->daddr));
		l4 = l3 + ihl;
		sum = csum_add(0, ip + 12, 8);
	} else if (et == 0x86dd) {
		if (l3 + 40 > len || (ip[0] >> 4) != 6) {
			snprintf(err, errlen, "bad IPv6 header");
			return -1;
		}
		if (get16(ip + 4) != len - l3 - 40) {
			snprintf(err, errlen, "IPv6 payload length %u, frame holds %zu",
				 get16(ip + 4), len - l3 - 40);
			return -1;
		}
		if (ip[6] != IPPROTO_UDP) {
			snprintf(err, errlen, "IPv6 next header %u, not UDP", ip[6]);
			return -1;
		}
		v->family = AF_INET6;
		inet_ntop(AF_INET6, ip + 8, v->saddr, sizeof(v->saddr));
		inet_ntop(AF_INET6, ip + 24, v->daddr, sizeof(v->daddr));
		l4 = l3 + 40;
		sum = csum_add(0, ip + 8, 32);
	} else {
		snprintf(err, errlen, "ethertype 0x%04x", et);
		return -1;
	}
	if (l4 + 8 > len) {
		snprintf(err, errlen, "truncated UDP header");
		return -1;
	}
	l4len = len - l4;
	if (get16(f + l4 + 4) != l4len) {
		snprintf(err, errlen, "UDP length %u, datagram holds %zu", get16(f + l4 + 4), l4len);
		return -1;
	}
	v->sport = get16(f + l4);
	v->dport = get16(f + l4 + 2);
	sum += IPPROTO_UDP + l4len;
	sum = csum_add(sum, f + l4, l4len);
	if (get16(f + l4 + 6) == 0 && v->family == AF_INET6) {
		snprintf(err, errlen, "UDP checksum 0 over IPv6");
		return -1;
	}
	if (get16(f + l4 + 6) != 0 && csum_fold(sum) != 0) {
		snprintf(err, errlen, "UDP checksum wrong");
		return -1;
	}
	v->payload_off = l4 + 8;
	v->payload_len = l4len - 8;
	return 0;
}

size_t pkt_build_arp(__u8 *buf, size_t cap, const __u8 smac[6], const char *spa,
		     const char *tpa)
{
	__u8 s[4], t[4];

	if (cap < 42 || inet_pton(AF_INET, spa, s) != 1 || inet_pton(AF_INET, tpa, t) != 1)
		return 0;
	memset(buf, 0xff, 6);
	memcpy(buf + 6, smac, 6);
	put16(buf + 12, 0x0806);
	put16(buf + 14, 1);          /* Ethernet */
	put16(buf + 16, 0x0800);     /* IPv4 */
	buf[18] = 6;
	buf[19] = 4;
	put16(buf + 20, 1);          /* request */
	memcpy(buf + 22, smac, 6);
	memcpy(buf + 28, s, 4);
	memset(buf + 32, 0, 6);
	memcpy(buf + 38, t, 4);
	return 42;
}

/* ---- SIP ---------------------------------------------------------------- */

struct sb {
	char *b;
	size_t cap, len;
	int ovf;
	int lf_only;
};

static void sb_put(struct sb *s, const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (s->lf_only && p[i] == '\r' && i + 1 < n && p[i + 1] == '\n')
			continue;
		if (s->len >= s->cap) {
			s->ovf = 1;
			return;
		}
		s->b[s->len++] = p[i];
	}
}

static void sb_str(struct sb *s, const char *p)
{
	sb_put(s, p, strlen(p));
}

__attribute__((format(printf, 2, 3)))
static void sb_printf(struct sb *s, const char *fmt, ...)
{
	char tmp[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(tmp)) {
		s->ovf = 1;
		return;
	}
	sb_put(s, tmp, (size_t)n);
}

/* "Name: " in the style the message asks for. */
static void sb_name(struct sb *s, const struct sip_msg *m, const char *name,
		    const char *compact)
{
	const char *n = m->compact && compact ? compact : name;
	char low[64];
	size_t i;

	if (m->lower_names) {
		for (i = 0; n[i] && i < sizeof(low) - 1; i++)
			low[i] = (n[i] >= 'A' && n[i] <= 'Z') ? n[i] - 'A' + 'a' : n[i];
		low[i] = 0;
		n = low;
	}
	sb_str(s, n);
	sb_str(s, m->space_colon ? "  :  " : ": ");
}

static const char *sip_reason(int code)
{
	switch (code) {
	case 100: return "Trying";
	case 180: return "Ringing";
	case 183: return "Session Progress";
	case 200: return "OK";
	case 202: return "Accepted";
	case 302: return "Moved Temporarily";
	case 401: return "Unauthorized";
	case 404: return "Not Found";
	case 407: return "Proxy Authentication Required";
	case 408: return "Request Timeout";
	case 480: return "Temporarily Unavailable";
	case 481: return "Call/Transaction Does Not Exist";
	case 486: return "Busy Here";
	case 487: return "Request Terminated";
	case 500: return "Server Internal Error";
	case 503: return "Service Unavailable";
	case 504: return "Server Time-out";
	case 603: return "Decline";
	default:  return "Whatever";
	}
}

/* SDP-like body of exactly n bytes (a real SDP, padded or cut). */
static void sb_body(struct sb *s, size_t n)
{
	static const char sdp[] =
		"v=0\r\n"
		"o=alice 2890844526 2890844526 IN IP4 198.18.0.1\r\n"
		"s=understudy\r\n"
		"c=IN IP4 198.18.0.1\r\n"
		"t=0 0\r\n"
		"m=audio 49170 RTP/AVP 0 8 101\r\n"
		"a=rtpmap:0 PCMU/8000\r\n"
		"a=rtpmap:8 PCMA/8000\r\n"
		"a=rtpmap:101 telephone-event/8000\r\n"
		"a=fmtp:101 0-15\r\n"
		"a=ptime:20\r\n"
		"a=sendrecv\r\n";
	static const char pad[] = "a=x-pad:0123456789abcdefghijklmnopqrstuvwxyz\r\n";
	size_t done = 0, k;
	int was = s->lf_only;

	s->lf_only = 0;       /* the body is bytes: counted as given */
	k = n < sizeof(sdp) - 1 ? n : sizeof(sdp) - 1;
	sb_put(s, sdp, k);
	done = k;
	while (done < n) {
		k = n - done < sizeof(pad) - 1 ? n - done : sizeof(pad) - 1;
		sb_put(s, pad, k);
		done += k;
	}
	s->lf_only = was;
}

size_t sip_build(char *buf, size_t cap, const struct sip_msg *m)
{
	struct sb s = { .b = buf, .cap = cap, .lf_only = m->lf_only };
	const char *uri = m->uri ? m->uri : "sip:service@198.18.100.1";
	const char *cm = m->cseq_method ? m->cseq_method : m->method ? m->method : "INVITE";
	const char *callid = m->callid ? m->callid : "a84b4c76e66710@198.18.0.1";
	size_t pad0, i;

	if (m->method)
		sb_printf(&s, "%s %s SIP/2.0\r\n", m->method, uri);
	else
		sb_printf(&s, "SIP/2.0 %d %s\r\n", m->status,
			  m->reason ? m->reason : sip_reason(m->status));

	if (!m->omit_via) {
		sb_name(&s, m, "Via", "v");
		if (m->branch)
			sb_printf(&s, "SIP/2.0/UDP 198.18.0.1:5060;branch=%s;rport\r\n", m->branch);
		else
			sb_str(&s, "SIP/2.0/UDP 198.18.0.1:5060;rport\r\n");
	}
	/* further Via headers (proxies the request went through) */
	pad0 = s.len;
	for (i = 1; s.len - pad0 < m->via_padding && !s.ovf; i++) {
		sb_name(&s, m, "Via", "v");
		sb_printf(&s, "SIP/2.0/UDP 198.18.%zu.%zu:5060;branch=z9hG4bKproxy%06zu;received=198.18.0.1\r\n",
			  10 + i / 250, i % 250 + 1, i);
	}
	sb_str(&s, "Max-Forwards: 70\r\n");
	sb_str(&s, "From: \"Alice\" <sip:alice@198.18.0.1>;tag=1928301774\r\n");
	if (!m->method || m->to_tag)
		sb_printf(&s, "To: <%s>;tag=%s\r\n", uri, m->to_tag ? m->to_tag : "as83kd9bs");
	else
		sb_printf(&s, "To: <%s>\r\n", uri);
	if (!m->omit_callid) {
		if (m->fold_callid) {
			sb_str(&s, m->compact ? "i" : m->lower_names ? "call-id" : "Call-ID");
			sb_str(&s, m->space_colon ? "  :\r\n   " : ":\r\n   ");
		} else {
			sb_name(&s, m, "Call-ID", "i");
		}
		sb_str(&s, callid);
		sb_str(&s, "\r\n");
	}
	if (!m->omit_cseq) {
		sb_name(&s, m, "CSeq", NULL);
		sb_printf(&s, "%u %s\r\n", m->cseq ? m->cseq : 1, cm);
	}
	sb_str(&s, "Contact: <sip:alice@198.18.0.1:5060>\r\n");
	if (m->extra_headers)
		sb_str(&s, m->extra_headers);
	if (m->body_len) {
		sb_name(&s, m, "Content-Type", "c");
		sb_str(&s, "application/sdp\r\n");
	}
	if (!m->omit_content_length) {
		long cl = (long)m->body_len;

		if (m->content_length_set && m->content_length >= 0)
			cl = m->content_length;
		sb_name(&s, m, "Content-Length", "l");
		sb_printf(&s, "%ld\r\n", cl);
	}
	if (!m->no_blank_line) {
		sb_str(&s, "\r\n");
		sb_body(&s, m->body_len);
	}
	return s.ovf ? 0 : s.len;
}

size_t sip_typical_invite(char *buf, size_t cap, const char *callid, const char *branch)
{
	struct sip_msg m = {
		.method = "INVITE",
		.callid = callid,
		.branch = branch,
		.cseq = 1,
		.body_len = 385,        /* the SDP and three padding lines */
		.extra_headers =
			"User-Agent: understudy-test/1.0\r\n"
			"Accept: application/sdp\r\n"
			"Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, PRACK, UPDATE, INFO\r\n"
			"Supported: replaces, timer, 100rel\r\n"
			"Session-Expires: 1800;refresher=uac\r\n",
	};

	return sip_build(buf, cap, &m);
}
