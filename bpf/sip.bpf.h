/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * SIP message parsing (RFC 3261 section 7) over the per-CPU scratch copy of
 * a UDP payload. Offsets are masked into the scratch buffer, so every read
 * is in bounds whatever the message; the length is checked before every
 * byte is trusted.
 *
 * Parsed: request method or status code; Call-ID (also compact "i"), the
 * top Via's branch (also compact "v"), CSeq number and method,
 * Content-Length (also compact "l"). Header names are case-insensitive,
 * white space may surround the colon, values may be folded over lines.
 *
 * The helpers marked __noinline are global BPF functions: the verifier
 * checks each once, whatever calls it, which keeps the whole parser well
 * under the verifier's limits.
 */
#ifndef US_SIP_BPF_H
#define US_SIP_BPF_H

#include "maps.bpf.h"

#define US_MAX_LINES   (US_SIP_MAX / 4)  /* scan iterations: one per line or 32 bytes */
#define US_MAX_TOKEN   16     /* longest method token */
#define US_VIA_SCAN    512    /* bytes of the top Via searched for a branch */
#define US_LWS_MAX     32

/* little-endian 8-byte literal from characters */
#define US_W8(a, b, c, d, e, f, g, h)                                           \
	((__u64)(a) | (__u64)(b) << 8 | (__u64)(c) << 16 | (__u64)(d) << 24 |    \
	 (__u64)(e) << 32 | (__u64)(f) << 40 | (__u64)(g) << 48 | (__u64)(h) << 56)
#define US_LOWER8 0x2020202020202020ull
#define US_LINE_LO 0x0000000000002400ull
#define US_LINE_HI 0x0054120800541208ull
#define US_MASK(n) ((n) >= 8 ? ~0ull : ((1ull << ((n) * 8)) - 1))

#define US_H_VIA    0x01
#define US_H_CALLID 0x02
#define US_H_CSEQ   0x04
#define US_H_CLEN   0x08
#define US_H_TO     0x10
#define US_H_RSEQ   0x20
#define US_H_RACK   0x40


/* unaligned 8-byte loads are fine for the JIT on x86-64 and arm64, and the
 * verifier does not demand alignment there; an aligned(1) type would make
 * clang split every load into eight */
typedef __u64 __attribute__((may_alias)) us_u64u;

/* Mask an offset into the scratch buffer in a way the compiler cannot
 * fold into an earlier comparison, so the verifier always sees the mask. */
static __always_inline __u64 us_mask(__u32 off)
{
	__u64 o = off;

	asm volatile("%0 &= %1" : "+r"(o) : "i"(US_BUF_MASK));
	return o;
}

static __always_inline __u8 us_b(const struct us_scratch *s, __u32 off)
{
	return s->b[us_mask(off)];
}

static __always_inline __u64 us_w(const struct us_scratch *s, __u32 off)
{
	const __u8 *p = &s->b[us_mask(off)];
	__u64 w;

	/* one 8-byte load whatever the alignment (see us_u64u) */
	asm volatile("%0 = *(u64 *)(%1 + 0)" : "=r"(w) : "r"(p));
	return w;
}

static __always_inline int us_is_wsp(__u8 c)
{
	return c == ' ' || c == '\t';
}

/* token characters of RFC 3261 25.1 (alphanumerics and -.!%*_+`'~), as a
 * bitmap: branch-free, which keeps the verifier's paths few */
static __always_inline int us_is_token(__u8 c)
{
	__u64 lo = 0x03ff6ca200000000ull, hi = 0x47ffffff87fffffeull;
	__u64 w = (c & 0x40) ? hi : lo;

	if (c & 0x80)
		return 0;
	return (w >> (c & 63)) & 1;
}
#define US_ONES  0x0101010101010101ull
#define US_HIGHS 0x8080808080808080ull

/* High bit set in each byte of w equal to c; exact for the lowest one
 * (a borrow can only mark bytes above a true match). */
static __always_inline __u64 us_bytes_eq(__u64 w, __u8 c)
{
	__u64 x = w ^ (US_ONES * c);

	return (x - US_ONES) & ~x & US_HIGHS;
}

/* High bit set in each byte of w below 0x21 (NUL, controls, SP): the ends
 * of a token. Bytes from 0x80 up are never marked. */
static __always_inline __u64 us_bytes_ctl(__u64 w)
{
	return (w - US_ONES * 0x21) & ~w & US_HIGHS;
}

/* Index (0..7) of the lowest byte marked in t, or 8 if none. */
static __always_inline __u32 us_first_byte(__u64 t)
{
	__u32 k = 0;

	if (!t)
		return 8;
	if (!(t & 0xffffffffull)) { k += 4; t >>= 32; }
	if (!(t & 0xffffull))     { k += 2; t >>= 16; }
	if (!(t & 0xffull))       { k += 1; }
	return k;
}

#define US_SCAN_WORDS 8


/* Skip linear white space (SP, HTAB, and, if fold, line folds) from off. */
__noinline __u32 us_skip_ws(const struct us_scratch *s, __u32 off, __u32 len, int fold)
{
	if (!s)
		return off;
	for (int i = 0; i < US_LWS_MAX; i++) {
		__u8 c = us_b(s, off);

		if (off >= len)
			break;
		if (us_is_wsp(c)) {
			off += 1;
		} else if (!fold) {
			break;
		} else if (c == '\r' && us_b(s, off + 1) == '\n' && off + 2 < len &&
			   us_is_wsp(us_b(s, off + 2))) {
			off += 3;
		} else if (c == '\n' && off + 1 < len && us_is_wsp(us_b(s, off + 1))) {
			off += 2;
		} else {
			break;
		}
	}
	return off;
}

/* Method token at off: returns enum us_method, *tlen its length (0 if no
 * token). Methods are case-sensitive (RFC 3261 7.1). */
__noinline int us_method(const struct us_scratch *s, __u32 off, __u32 len, __u32 *tlen)
{
	__u64 w, m;
	__u32 n = 0, k;

	if (!s || !tlen)
		return US_M_OTHER;
	/* known methods end within 9 bytes, at a byte below 0x21: one word
	 * test finds where, without a loop */
	w = us_w(s, off);
	k = us_first_byte(us_bytes_ctl(w));
	if (off + k <= len) {
		m = w & US_MASK(k);
		*tlen = k;
		switch (k) {
		case 3:
			if (m == US_W8('A', 'C', 'K', 0, 0, 0, 0, 0)) return US_M_ACK;
			if (m == US_W8('B', 'Y', 'E', 0, 0, 0, 0, 0)) return US_M_BYE;
			break;
		case 4:
			if (m == US_W8('I', 'N', 'F', 'O', 0, 0, 0, 0)) return US_M_INFO;
			break;
		case 5:
			if (m == US_W8('P', 'R', 'A', 'C', 'K', 0, 0, 0)) return US_M_PRACK;
			if (m == US_W8('R', 'E', 'F', 'E', 'R', 0, 0, 0)) return US_M_REFER;
			break;
		case 6:
			if (m == US_W8('I', 'N', 'V', 'I', 'T', 'E', 0, 0)) return US_M_INVITE;
			if (m == US_W8('C', 'A', 'N', 'C', 'E', 'L', 0, 0)) return US_M_CANCEL;
			if (m == US_W8('N', 'O', 'T', 'I', 'F', 'Y', 0, 0)) return US_M_NOTIFY;
			if (m == US_W8('U', 'P', 'D', 'A', 'T', 'E', 0, 0)) return US_M_UPDATE;
			break;
		case 7:
			if (m == US_W8('O', 'P', 'T', 'I', 'O', 'N', 'S', 0)) return US_M_OPTIONS;
			if (m == US_W8('P', 'U', 'B', 'L', 'I', 'S', 'H', 0)) return US_M_PUBLISH;
			if (m == US_W8('M', 'E', 'S', 'S', 'A', 'G', 'E', 0)) return US_M_MESSAGE;
			break;
		case 8:
			if (m == US_W8('R', 'E', 'G', 'I', 'S', 'T', 'E', 'R') &&
			    us_bytes_ctl(us_w(s, off + 8)) & 0x80) {
				return US_M_REGISTER;
			}
			if (m == US_W8('S', 'U', 'B', 'S', 'C', 'R', 'I', 'B') &&
			    us_b(s, off + 8) == 'E' && us_b(s, off + 9) <= ' ' && off + 9 <= len) {
				*tlen = 9;
				return US_M_SUBSCRIBE;
			}
			break;
		}
	}
	/* an extension method: a token of any length up to US_MAX_TOKEN */
	for (int i = 0; i < US_MAX_TOKEN + 1; i++) {
		if (off + n >= len || !us_is_token(us_b(s, off + n)))
			break;
		n++;
	}
	*tlen = n;
	return US_M_OTHER;
}

/* Decimal number of at most maxd digits at off; -1 if none or too long. */
__noinline long us_number(const struct us_scratch *s, __u32 off, __u32 len, __u32 maxd,
			  __u32 *ndig)
{
	long v = 0;
	__u32 n = 0;

	if (!s || !ndig)
		return -1;

	for (int i = 0; i < 11; i++) {
		__u8 c = us_b(s, off + n);

		if (off + n >= len || c < '0' || c > '9')
			break;
		if (n == maxd)
			return -1;
		v = v * 10 + (c - '0');
		n++;
	}
	*ndig = n;
	return n ? v : -1;
}

/* Hash the token at off, 8 bytes at a time, up to a byte below 0x21 (or,
 * with param, also ';' or ','); at most US_CALLID_MAX + 8 bytes. The zero
 * sentinel after the message stops it at the end. *np gets its length. */
__noinline __u64 us_hash_token(const struct us_scratch *s, __u32 off, int param, __u32 *np)
{
	__u64 h = US_FNV_OFFSET;
	__u32 n = 0;

	if (!s || !np)
		return 0;
	for (int i = 0; i < US_CALLID_MAX / 8 + 1; i++) {
		__u64 w = us_w(s, off + n);
		__u64 t = us_bytes_ctl(w);
		__u32 k;

		if (param)
			t |= us_bytes_eq(w, ';') | us_bytes_eq(w, ',');
		k = us_first_byte(t);
		if (k < 8) {
			if (k)
				h = us_hash_word(h, w & ((1ull << (k * 8)) - 1));
			n += k;
			*np = n;
			return us_hash_end(h, n);
		}
		h = us_hash_word(h, w);
		n += 8;
	}
	*np = n;                        /* longer than US_CALLID_MAX */
	return 0;
}

/* Call-ID value at off: hash it, remember where it is. */
__noinline int us_sip_callid(const struct us_scratch *s, __u32 off, __u32 len, struct us_sip *m)
{
	__u32 n = 0;
	__u64 h;

	if (!s || !m)
		return 0;
	h = us_hash_token(s, off, 0, &n);
	if (n == 0 || n > US_CALLID_MAX || off + n > len) {
		m->bad = US_ST_NO_CALLID;
		return 0;
	}
	m->callid_hash = h;
	m->callid_off = off;
	m->callid_len = n;
	m->have |= US_H_CALLID;
	return 0;
}

/* One step of the search for ";branch=" in the top Via value from p:
 * returns where to go on, 0 when done (m->branch_hash set if found). The
 * value ends at ',' or at a line end that is not a fold. */
__noinline __u32 us_via_step(const struct us_scratch *s, __u32 p, __u32 len, struct us_sip *m)
{
	__u64 w, t;
	__u32 k, q, n = 0;
	__u8 c;

	if (!s || !m || p >= len)
		return 0;
	w = us_w(s, p);
	t = us_bytes_eq(w, ';') | us_bytes_eq(w, ',') | us_bytes_eq(w, '\n') | us_bytes_eq(w, 0);
	k = us_first_byte(t);
	if (k == 8)
		return p + 8;
	p += k;
	c = us_b(s, p);
	if (p >= len)
		return 0;
	if (c == '\n')                  /* a fold (LF + white space) goes on */
		return us_is_wsp(us_b(s, p + 1)) && p + 1 < len ? p + 2 : 0;
	if (c != ';')
		return 0;
	q = p + 1;
	if (us_is_wsp(us_b(s, q)))
		q++;                    /* "; branch=" */
	if (((us_w(s, q) | US_LOWER8) & US_MASK(7)) != US_W8('b', 'r', 'a', 'n', 'c', 'h', '=', 0))
		return q;
	if (q + 7 <= len) {
		__u64 h = us_hash_token(s, q + 7, 1, &n);

		m->branch_hash = n && q + 7 + n <= len ? h : 0;
	}
	return 0;
}

/* Top Via value at off: hash its first via-parm's branch. A Via without a
 * branch (RFC 2543) hashes as 0; transactions are then told apart by
 * Call-ID and CSeq alone. */
__noinline int us_sip_via(const struct us_scratch *s, __u32 off, __u32 len, struct us_sip *m)
{
	__u32 p = off;

	if (!s || !m)
		return 0;
	m->have |= US_H_VIA;
	m->branch_hash = 0;
	for (int i = 0; i < US_VIA_SCAN / 8 && p; i++)
		p = us_via_step(s, p, len, m);
	return 0;
}

/* CSeq value at off: number, LWS, method. */
__noinline int us_sip_cseq(const struct us_scratch *s, __u32 off, __u32 len, struct us_sip *m)
{
	__u32 nd = 0, tl = 0, p;
	long v;

	if (!s || !m)
		return 0;
	v = us_number(s, off, len, 10, &nd);
	if (v < 0 || v > 0x7fffffffL) {
		m->bad = US_ST_NO_CSEQ;
		return 0;
	}
	p = off + nd;
	if (!us_is_wsp(us_b(s, p)) || p >= len) {
		m->bad = US_ST_NO_CSEQ;
		return 0;
	}
	p = us_skip_ws(s, p, len, 1);
	m->cseq_method = us_method(s, p, len, &tl);
	if (tl == 0 || tl > US_MAX_TOKEN) {
		m->bad = US_ST_NO_CSEQ;
		return 0;
	}
	m->cseq = v;
	m->have |= US_H_CSEQ;
	return 0;
}

/* Header names understood, by first letter. */
enum { US_HN_NONE = 0, US_HN_VIA, US_HN_CALLID, US_HN_CSEQ, US_HN_CLEN, US_HN_TO, US_HN_RSEQ,
       US_HN_RACK };

/* One header line starting at off. */
__noinline int us_sip_header(const struct us_scratch *s, __u32 off, __u32 len, struct us_sip *m)
{
	__u64 w;
	__u8 c0;
	__u32 nl = 0, kind = US_HN_NONE, p;

	if (!s || !m)
		return 0;
	w = us_w(s, off) | US_LOWER8;
	c0 = w & 0xff;

	switch (c0) {
	case 'v':
		if ((w & US_MASK(3)) == US_W8('v', 'i', 'a', 0, 0, 0, 0, 0)) {
			nl = 3;
			kind = US_HN_VIA;
		}
		break;
	case 'c':
		if ((w & US_MASK(7)) == US_W8('c', 'a', 'l', 'l', '-', 'i', 'd', 0)) {
			nl = 7;
			kind = US_HN_CALLID;
		} else if ((w & US_MASK(4)) == US_W8('c', 's', 'e', 'q', 0, 0, 0, 0)) {
			nl = 4;
			kind = US_HN_CSEQ;
		} else if (w == US_W8('c', 'o', 'n', 't', 'e', 'n', 't', '-') &&
			   ((us_w(s, off + 8) | US_LOWER8) & US_MASK(6)) ==
				   US_W8('l', 'e', 'n', 'g', 't', 'h', 0, 0)) {
			nl = 14;
			kind = US_HN_CLEN;
		}
		break;
	case 't':
		if ((w & US_MASK(2)) == US_W8('t', 'o', 0, 0, 0, 0, 0, 0)) {
			nl = 2;
			kind = US_HN_TO;
		}
		break;
	case 'r':
		if ((w & US_MASK(4)) == US_W8('r', 's', 'e', 'q', 0, 0, 0, 0)) {
			nl = 4;
			kind = US_HN_RSEQ;
		} else if ((w & US_MASK(4)) == US_W8('r', 'a', 'c', 'k', 0, 0, 0, 0)) {
			nl = 4;
			kind = US_HN_RACK;
		}
		break;
	}
	p = off + nl;
	/* a long name must be followed by white space or a colon; else try
	 * the compact form (RFC 3261 7.3.3) */
	if (kind != US_HN_NONE && !(us_is_wsp(us_b(s, p)) || us_b(s, p) == ':'))
		kind = US_HN_NONE;
	if (kind == US_HN_NONE) {
		__u8 c1 = us_b(s, off + 1);

		if (!(us_is_wsp(c1) || c1 == ':'))
			return 0;
		if (c0 == 'v')
			kind = US_HN_VIA;
		else if (c0 == 'i')
			kind = US_HN_CALLID;
		else if (c0 == 'l')
			kind = US_HN_CLEN;
		else if (c0 == 't')
			kind = US_HN_TO;
		else
			return 0;
		p = off + 1;
	}
	p = us_skip_ws(s, p, len, 0);
	if (us_b(s, p) != ':' || p >= len)
		return 0;
	p = us_skip_ws(s, p + 1, len, 1);

	switch (kind) {
	case US_HN_VIA:
		if (!(m->have & US_H_VIA))
			us_sip_via(s, p, len, m);
		break;
	case US_HN_CALLID:
		if (!(m->have & US_H_CALLID))
			us_sip_callid(s, p, len, m);
		break;
	case US_HN_CSEQ:
		if (!(m->have & US_H_CSEQ))
			us_sip_cseq(s, p, len, m);
		break;
	case US_HN_TO:
		if (!(m->have & US_H_TO)) {
			m->to_off = p;
			m->have |= US_H_TO;
		}
		break;
	case US_HN_RSEQ:
	case US_HN_RACK:
		/* RFC 3262: RSeq: response-num; RAck: response-num CSeq-num Method */
		if (!(m->have & (kind == US_HN_RSEQ ? US_H_RSEQ : US_H_RACK))) {
			__u32 nd = 0;
			long v = us_number(s, p, len, 10, &nd);

			if (v >= 0 && v <= 0xffffffffL) {
				if (kind == US_HN_RSEQ) {
					m->rseq = v;
					m->have |= US_H_RSEQ;
				} else {
					m->rack = v;
					m->rack_off = p;
					m->rack_len = nd;
					m->have |= US_H_RACK;
				}
			}
		}
		break;
	case US_HN_CLEN:
		if (!(m->have & US_H_CLEN)) {
			__u32 nd = 0;
			long v = us_number(s, p, len, 5, &nd);

			if (v < 0) {
				m->bad = US_ST_TRUNC_BODY;
			} else {
				m->clen = v;
				m->have |= US_H_CLEN;
			}
		}
		break;
	}
	return 0;
}

/* First characters of the header lines worth a look (any case): v(ia),
 * c(all-id, seq, ontent-length), i, l, t(o), r(seq, ack); CR and LF end the
 * headers. */
static __always_inline int us_line_wanted(__u8 c)
{
	__u64 lo = US_LINE_LO, hi = US_LINE_HI;
	__u64 w = (c & 0x40) ? hi : lo;

	if (c & 0x80)
		return 0;
	return (w >> (c & 63)) & 1;
}

/*
 * One step of the header scan from pos: find the next LF within 32 bytes
 * and look at the line that starts after it. Returns where the scan goes
 * on, 0 at the end of the header section (m->body_off set), or -reason.
 * A global function, so the verifier checks it once, and the loop that
 * calls it sees an opaque position (its states converge at once).
 */
__noinline int us_scan_step(const struct us_scratch *s, __u32 pos, __u32 len, struct us_sip *m)
{
	__u32 k, off;
	__u8 c;

	/* before the first line end a request's start line is unchecked: a
	 * message that ends there is no SIP at all */
	int trunc = m && !m->started && !m->status ? US_ST_NOT_SIP : US_ST_TRUNC_HDRS;

	if (!s || !m)
		return -US_ST_NOT_SIP;
	if (pos >= len || pos >= US_SIP_MAX)
		return -trunc;
	/* up to US_SCAN_WORDS words a step: most header lines are longer
	 * than 32 bytes, and every step costs a bpf_loop call */
	k = US_SCAN_WORDS * 8;
#pragma unroll
	for (int i = 0; i < US_SCAN_WORDS; i++) {
		__u64 t = us_bytes_eq(us_w(s, pos + i * 8), '\n');

		if (t) {
			k = i * 8 + us_first_byte(t);
			break;
		}
	}
	if (k == US_SCAN_WORDS * 8)
		return pos + US_SCAN_WORDS * 8;
	off = pos + k + 1;              /* start of the next line */
	if (off >= len)
		return -trunc;
	if (!m->started) {
		m->started = 1;
		if (!m->status) {
			/* request line: "METHOD SP Request-URI SP SIP/2.0" */
			__u32 e = pos + k;

			if (us_b(s, e - 1) == '\r')
				e--;
			if (e < 18 || (us_w(s, e - 8) | US_LOWER8) !=
					      US_W8(' ', 's', 'i', 'p', '/', '2', '.', '0'))
				return -US_ST_NOT_SIP;
		}
	}
	c = us_b(s, off);
	if (!us_line_wanted(c))
		return off;
	if (c == '\r' || c == '\n') {
		if (c == '\r' && (us_b(s, off + 1) != '\n' || off + 1 >= len))
			return -US_ST_TRUNC_HDRS;
		m->body_off = off + (c == '\r' ? 2 : 1);
		return 0;
	}
	us_sip_header(s, off, len, m);
	if (m->bad)
		return -(int)m->bad;
	return off;
}

/* State of the header scan, run by bpf_loop. */
struct us_lines {
	const struct us_scratch *s;
	struct us_sip *m;
	int pos;
	__u32 len;
	int rc;
};

static long us_line_cb(__u32 i, void *data)
{
	struct us_lines *lc = data;
	int r;

	(void)i;
	r = us_scan_step(lc->s, lc->pos, lc->len, lc->m);
	if (r > 0) {
		lc->pos = r;
		return 0;
	}
	lc->rc = -r;
	return 1;
}

/*
 * Parse a whole message of len bytes. Returns 0 when it is a well-formed
 * request or response with the headers the data plane needs, else the
 * enum us_stat reason.
 */
__noinline int us_sip_parse(const struct us_scratch *s, __u32 len, struct us_sip *m)
{
	struct us_lines lc;

	if (!s || !m)
		return US_ST_NOT_SIP;
	if (len < 8 || len > US_SIP_MAX)
		return US_ST_NOT_SIP;

	if ((us_w(s, 0) | US_LOWER8) == US_W8('s', 'i', 'p', '/', '2', '.', '0', ' ')) {
		__u32 nd = 0;
		long code = us_number(s, 8, len, 3, &nd);

		if (nd != 3 || code < 100 || code > 699 || us_b(s, 11) != ' ' || len < 12)
			return US_ST_BAD_START;
		m->status = code;
	} else {
		__u32 tl = 0;

		m->method = us_method(s, 0, len, &tl);
		if (tl == 0 || tl > US_MAX_TOKEN || us_b(s, tl) != ' ')
			return US_ST_NOT_SIP;
		if (us_b(s, tl + 1) == ' ')
			return US_ST_BAD_START;      /* empty Request-URI */
	}

	lc.s = s;
	lc.m = m;
	lc.pos = 0;
	lc.len = len;
	lc.rc = US_ST_TRUNC_HDRS;       /* if the loop runs out */
	bpf_loop(US_MAX_LINES, us_line_cb, &lc, 0);
	if (lc.rc)
		return lc.rc;
	if (!m->body_off)
		return US_ST_TRUNC_HDRS;
	if (!(m->have & US_H_VIA))
		return US_ST_NO_VIA;
	if (!(m->have & US_H_CALLID))
		return US_ST_NO_CALLID;
	if (!(m->have & US_H_CSEQ))
		return US_ST_NO_CSEQ;
	if (!m->status && m->cseq_method != m->method)
		return US_ST_NO_CSEQ;           /* RFC 3261 8.1.1.5 */
	if ((m->have & US_H_CLEN) && m->body_off + m->clen > len)
		return US_ST_TRUNC_BODY;
	return 0;
}

#endif
