/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Test packet builder: Ethernet (0-2 VLAN tags) / IPv4 or IPv6 / UDP with
 * correct lengths and checksums, and SIP messages from a description.
 */
#ifndef US_PKTBUILD_H
#define US_PKTBUILD_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

struct pkt_l2l4 {
	__u8 smac[6], dmac[6];
	int nvlan;                 /* 0, 1 or 2 tags (outer 802.1ad when 2) */
	__u16 vlan[2];
	int family;                /* AF_INET or AF_INET6 */
	const char *saddr, *daddr; /* text addresses */
	__u16 sport, dport;
	bool more_frags;           /* IPv4 MF / IPv6 fragment header M bit */
	__u16 frag_off;            /* fragment offset in 8-byte units */
	bool v6_frag_hdr;          /* IPv6: add a fragment header */
	/* additions (zero = default) */
	__u8 ip_proto;             /* 0: UDP; else the payload follows the IP
	                            * header as this protocol (no UDP header) */
	__u16 ip_id;               /* IPv4 identification / IPv6 fragment id */
	bool bad_udp_len;          /* UDP length field 1 larger than the datagram */
};

/* Build headers + payload into buf; returns the frame length or 0 if cap is
 * too small. */
size_t pkt_build(__u8 *buf, size_t cap, const struct pkt_l2l4 *o, const void *payload,
		 size_t plen);

/* Offsets in a frame pkt_build makes from o: end of the Ethernet header
 * (including VLAN tags), end of the IP header(s), start of the payload. */
size_t pkt_l2_len(const struct pkt_l2l4 *o);
size_t pkt_l3_end(const struct pkt_l2l4 *o);
size_t pkt_payload_off(const struct pkt_l2l4 *o);

/* What pkt_parse found in an Ethernet/IP/UDP frame. */
struct pkt_view {
	__u8 dmac[6], smac[6];
	int family;
	char saddr[64], daddr[64];   /* text */
	__u16 sport, dport;
	size_t l3_off, payload_off, payload_len;
};

/* Parse a frame (up to two VLAN tags, no IPv6 extension headers) and check
 * it whole: IP total/payload length and the frame's length agree, the IPv4
 * header checksum, the UDP length and checksum. 0, or -1 with why (a
 * sentence) in err. */
int pkt_parse(const __u8 *f, size_t len, struct pkt_view *v, char *err, size_t errlen);

/* An ARP request frame (who-has tpa tell spa); returns its length. */
size_t pkt_build_arp(__u8 *buf, size_t cap, const __u8 smac[6], const char *spa,
		     const char *tpa);

struct sip_msg {
	const char *method;        /* request method; NULL for a response */
	const char *uri;           /* default "sip:service@198.18.100.1" */
	int status;                /* response code when method is NULL */
	const char *reason;        /* default "OK" etc. */
	const char *callid;
	const char *branch;        /* NULL: Via without branch */
	unsigned cseq;
	const char *cseq_method;   /* default: method (request) */
	bool compact;              /* i:, v:, l: */
	bool lower_names;          /* call-id:, via:, cseq: */
	bool space_colon;          /* "Call-ID  :  value" */
	bool fold_callid;          /* "Call-ID:\r\n   value" */
	size_t via_padding;        /* bytes of extra Via headers after the top Via */
	size_t body_len;           /* SDP-like body of this many bytes */
	bool omit_callid, omit_via, omit_cseq;
	bool no_blank_line;        /* header section not terminated */
	int content_length;        /* -1 = correct value (default 0 means correct) */
	bool content_length_set;   /* use content_length as given */
	/* additions (zero = default) */
	bool omit_content_length;  /* no Content-Length header at all */
	bool lf_only;              /* bare LF line ends instead of CRLF */
	const char *extra_headers; /* raw header lines (each ending in CRLF)
	                            * inserted before Content-Type */
	const char *to_tag;        /* response default "as83kd9bs"; request: none */
};

/* Render a SIP message; returns its length (0 if cap is too small). */
size_t sip_build(char *buf, size_t cap, const struct sip_msg *m);

/* A ~900-byte INVITE with SDP, as a typical benchmark and test message. */
size_t sip_typical_invite(char *buf, size_t cap, const char *callid, const char *branch);

#endif
