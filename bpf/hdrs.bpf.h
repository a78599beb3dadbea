/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The second look at a SIP message, for mirrored calls only: where its
 * header lines are (to copy them into a message built on the caller's
 * behalf), and what is inside the few values dialog translation edits: the
 * To-tag, the Contact or To URI, the first number of CSeq, RSeq and RAck, the
 * Via branch. The fast path (sip.bpf.h) never runs any of this.
 *
 * Like the parser, everything reads the per-CPU scratch copy through masked
 * offsets, and checks positions against the message's length before it
 * trusts a byte.
 */
#ifndef US_HDRS_BPF_H
#define US_HDRS_BPF_H

#include "sip.bpf.h"

/* Kind of the header line at off: enum us_hx, 100 for Via, -1 for others.
 * Long or compact names, any case, white space before the colon. */
__noinline int us_hx_kind(const struct us_scratch *s, __u32 off, __u32 len)
{
	__u64 w, w2;
	__u32 nl = 0;
	int kind = -1;
	__u8 c0, c;

	if (!s || off >= len)
		return -1;
	w = us_w(s, off) | US_LOWER8;
	w2 = us_w(s, off + 8) | US_LOWER8;
	c0 = w & 0xff;
	switch (c0) {
	case 'v':
		if ((w & US_MASK(3)) == US_W8('v', 'i', 'a', 0, 0, 0, 0, 0)) { nl = 3; kind = 100; }
		break;
	case 'f':
		if ((w & US_MASK(4)) == US_W8('f', 'r', 'o', 'm', 0, 0, 0, 0)) { nl = 4; kind = US_HX_FROM; }
		break;
	case 't':
		if ((w & US_MASK(2)) == US_W8('t', 'o', 0, 0, 0, 0, 0, 0)) { nl = 2; kind = US_HX_TO; }
		break;
	case 'c':
		if ((w & US_MASK(7)) == US_W8('c', 'a', 'l', 'l', '-', 'i', 'd', 0)) {
			nl = 7; kind = US_HX_CALLID;
		} else if ((w & US_MASK(4)) == US_W8('c', 's', 'e', 'q', 0, 0, 0, 0)) {
			nl = 4; kind = US_HX_CSEQ;
		} else if ((w & US_MASK(7)) == US_W8('c', 'o', 'n', 't', 'a', 'c', 't', 0)) {
			nl = 7; kind = US_HX_CONTACT;
		} else if (w == US_W8('c', 'o', 'n', 't', 'e', 'n', 't', '-') &&
			   (w2 & US_MASK(4)) == US_W8('t', 'y', 'p', 'e', 0, 0, 0, 0)) {
			nl = 12; kind = US_HX_CTYPE;
		}
		break;
	case 'r':
		if ((w & US_MASK(4)) == US_W8('r', 's', 'e', 'q', 0, 0, 0, 0)) { nl = 4; kind = US_HX_RSEQ; }
		else if ((w & US_MASK(4)) == US_W8('r', 'a', 'c', 'k', 0, 0, 0, 0)) { nl = 4; kind = US_HX_RACK; }
		break;
	}
	c = us_b(s, off + nl);
	if (kind != -1 && !(us_is_wsp(c) || c == ':'))
		kind = -1;
	if (kind == -1) {
		c = us_b(s, off + 1);
		if (!(us_is_wsp(c) || c == ':'))
			return -1;
		switch (c0) {
		case 'v': return 100;
		case 'f': return US_HX_FROM;
		case 't': return US_HX_TO;
		case 'i': return US_HX_CALLID;
		case 'm': return US_HX_CONTACT;
		case 'c': return US_HX_CTYPE;
		default:  return -1;
		}
	}
	return kind;
}

/* One step of indexing from pos, in the line that starts at hx->line:
 * find the line's end within 64 bytes (else return pos + 64: a long line
 * goes on), file the line, set hx->line to the next one and return it; 0
 * at the empty line that ends the headers (hx->body_off set), -1 on a
 * malformed end. */
__noinline int us_hidx_step(const struct us_scratch *s, __u32 pos, __u32 len,
			    struct us_hidx *hx)
{
	__u32 k = 64, end, line;
	__u8 c;
	int kind;

	if (!s || !hx)
		return -1;
	line = hx->line;
	if (pos >= len || line >= len || line > pos)
		return -1;
#pragma unroll
	for (int i = 0; i < 8; i++) {
		__u64 t = us_bytes_eq(us_w(s, pos + i * 8), '\n');

		if (t) {
			k = i * 8 + us_first_byte(t);
			break;
		}
	}
	if (k == 64)
		return pos + 64;        /* a long line: hx->line stays */
	end = pos + k + 1;              /* after the LF */
	if (end > len)
		return -1;
	hx->line = end;
	c = us_b(s, line);
	if (c == '\r' || c == '\n') {
		hx->body_off = end;
		return 0;
	}
	if (us_is_wsp(c)) {             /* a continuation: the entry before grows */
		int l = hx->last;

		if (l >= 0 && l < US_HX_N) {
			if (hx->h[l & 7].len)
				hx->h[l & 7].len = end - hx->h[l & 7].off;
		} else if (l >= 100 && l < 100 + US_HX_VIAS) {
			hx->via[(l - 100) & 3].len = end - hx->via[(l - 100) & 3].off;
		}
		return end;
	}
	kind = us_hx_kind(s, line, len);
	hx->last = -1;
	if (kind == 100) {
		if (hx->nvia < US_HX_VIAS) {
			__u32 v = hx->nvia & 3;

			hx->via[v].off = line;
			hx->via[v].len = end - line;
			hx->last = 100 + v;
			hx->nvia++;
		} else {
			hx->more_via++;
		}
	} else if (kind >= 0 && kind < US_HX_N && !hx->h[kind & 7].len) {
		hx->h[kind & 7].off = line;
		hx->h[kind & 7].len = end - line;
		hx->last = kind;
	}
	return end;
}

struct us_hidx_loop {
	const struct us_scratch *s;
	struct us_hidx *hx;
	__u32 pos, len;
	int rc;
};

static long us_hidx_cb(__u32 i, void *data)
{
	struct us_hidx_loop *l = data;
	int r;

	(void)i;
	r = us_hidx_step(l->s, l->pos, l->len, l->hx);
	if (r > 0) {
		l->pos = r;
		return 0;
	}
	l->rc = r;
	return 1;
}

/* Index the header lines of a message of len bytes. 0, or -1 when the
 * header section does not end. The start line is skipped. */
__noinline int us_hidx_build(const struct us_scratch *s, __u32 len, struct us_hidx *hx)
{
	struct us_hidx_loop l;
	__u32 first = 0;

	if (!s || !hx)
		return -1;
	__builtin_memset(hx, 0, sizeof(*hx));
	hx->last = -1;
	/* the start line ends at the first LF */
#pragma unroll
	for (int i = 0; i < 8; i++) {
		__u64 t = us_bytes_eq(us_w(s, i * 8), '\n');

		if (t) {
			first = i * 8 + us_first_byte(t) + 1;
			break;
		}
	}
	if (!first) {
		/* a start line longer than 64 bytes: search on */
		for (int i = 8; i < 64; i++) {
			__u64 t = us_bytes_eq(us_w(s, i * 8), '\n');

			if (t) {
				first = i * 8 + us_first_byte(t) + 1;
				break;
			}
		}
	}
	if (!first || first >= len)
		return -1;
	l.s = s;
	l.hx = hx;
	l.pos = first;
	hx->line = first;
	l.len = len;
	l.rc = -1;
	bpf_loop(US_MAX_LINES, us_hidx_cb, &l, 0);
	return l.rc == 0 ? 0 : -1;
}

/* Where a header line's value starts: after the name, the colon and white
 * space; 0 if there is no colon on the line. */
__noinline __u32 us_value_at(const struct us_scratch *s, __u32 line, __u32 end)
{
	__u32 p = line;

	if (!s)
		return 0;
	for (int i = 0; i < 24; i++) {
		__u8 c = us_b(s, p);

		if (p >= end)
			return 0;
		if (c == ':')
			break;
		p++;
	}
	if (us_b(s, p) != ':' || p >= end)
		return 0;
	p = us_skip_ws(s, p + 1, end, 1);
	return p < end ? p : 0;
}

/* Scan state over a header value: quoted strings and <...> skipped. */
struct us_vscan {
	const struct us_scratch *s;
	__u32 p, end;
	__u32 found_off, found_len;
	__u8  mode;         /* 0: plain, 1: in quotes, 2: in <> */
	__u8  want;         /* 0: ";tag=" param, 1: ";branch=" param */
	__u8  done;
	__u8  pad;
};

/* Is "name=" (lower case, nl bytes with the '=') at p, any case? ('=' is
 * left as it is by the lower-casing OR.) */
static __always_inline int us_param_is(const struct us_scratch *s, __u32 p, __u64 name, __u32 nl)
{
	return ((us_w(s, p) | US_LOWER8) & US_MASK(nl)) == name;
}

/* One step: the next special byte in 8; 1 when done. (Not a global
 * function: it follows the pointer in *v.) */
static __always_inline int us_vscan_step(struct us_vscan *v)
{
	const struct us_scratch *s;
	__u64 w, t;
	__u32 k, q, n = 0;
	__u8 c;

	if (!v || !v->s)
		return 1;
	s = v->s;
	if (v->p >= v->end)
		return 1;
	w = us_w(s, v->p);
	if (v->mode == 1)
		t = us_bytes_eq(w, '"') | us_bytes_eq(w, '\\');
	else if (v->mode == 2)
		t = us_bytes_eq(w, '>');
	else
		t = us_bytes_eq(w, '"') | us_bytes_eq(w, '<') | us_bytes_eq(w, ';') |
		    us_bytes_eq(w, ',') | us_bytes_eq(w, '\n');
	k = us_first_byte(t);
	if (k == 8) {
		v->p += 8;
		return 0;
	}
	v->p += k;
	if (v->p >= v->end)
		return 1;
	c = us_b(s, v->p);
	if (v->mode == 1) {
		if (c == '\\')
			v->p += 2;
		else {
			v->mode = 0;
			v->p += 1;
		}
		return 0;
	}
	if (v->mode == 2) {
		v->mode = 0;
		v->p += 1;
		return 0;
	}
	if (c == '"') {
		v->mode = 1;
		v->p += 1;
		return 0;
	}
	if (c == '<') {
		v->mode = 2;
		v->p += 1;
		return 0;
	}
	if (c == ',')
		return 1;               /* the first value ends */
	if (c == '\n') {                /* a fold goes on, a line end stops */
		if (v->p + 1 < v->end && us_is_wsp(us_b(s, v->p + 1))) {
			v->p += 1;
			return 0;
		}
		return 1;
	}
	/* ';' : a parameter */
	q = us_skip_ws(s, v->p + 1, v->end, 1);
	v->p = q;
	if (v->want == 0) {
		if (!us_param_is(s, q, US_W8('t', 'a', 'g', '=', 0, 0, 0, 0), 4)) {
			/* "tag" then white space then '=' is allowed too */
			if (((us_w(s, q) | US_LOWER8) & US_MASK(3)) != US_W8('t', 'a', 'g', 0, 0, 0, 0, 0))
				return 0;
			q = us_skip_ws(s, q + 3, v->end, 1);
			if (us_b(s, q) != '=' || q >= v->end)
				return 0;
			q = us_skip_ws(s, q + 1, v->end, 1);
		} else {
			q += 4;
		}
	} else {
		if (!us_param_is(s, q, US_W8('b', 'r', 'a', 'n', 'c', 'h', '=', 0), 7))
			return 0;
		q += 7;
	}
	if (q >= v->end)
		return 1;
	us_hash_token(s, q, 1, &n);
	if (n == 0 || q + n > v->end)
		return 1;
	v->found_off = q;
	v->found_len = n;
	v->done = 1;
	return 1;
}

static long us_vscan_cb(__u32 i, void *data)
{
	(void)i;
	return us_vscan_step(data) ? 1 : 0;
}

/* The To-tag (want 0) or Via branch (want 1) in the value from off to end
 * (the header line's end): 1 and *toff, *tlen, else 0. */
static __always_inline int us_param_find(const struct us_scratch *s, __u32 off, __u32 end,
					 int want, __u32 *toff, __u32 *tlen)
{
	struct us_vscan v = {
		.s = s, .p = off, .end = end, .want = want,
	};

	bpf_loop(US_VIA_SCAN / 4, us_vscan_cb, &v, 0);
	if (!v.done)
		return 0;
	*toff = v.found_off;
	*tlen = v.found_len;
	return 1;
}

/* The URI of a name-addr or addr-spec value (Contact, To): inside <> if
 * there are any (after a display name, quoted or not), else up to ';', ','
 * or white space. */
struct us_uscan {
	const struct us_scratch *s;
	__u32 p, end;
	__u32 lt;           /* after the '<', 0 if none (yet) */
	__u32 uend;         /* the '>', or where an addr-spec ends */
	__u8  quoted;
	__u8  spec;         /* 1: scanning an addr-spec */
	__u8  pad[2];
};

static long us_uscan_cb(__u32 i, void *data)
{
	struct us_uscan *u = data;
	__u8 c;

	(void)i;
	if (!u->s || u->p >= u->end)
		return 1;
	c = us_b(u->s, u->p);
	if (u->spec) {
		if (c == ';' || c == ',' || c == '\r' || c == '\n' || c == ' ' || c == '\t') {
			u->uend = u->p;
			return 1;
		}
	} else if (u->lt) {
		if (c == '>') {
			u->uend = u->p;
			return 1;
		}
	} else if (u->quoted) {
		if (c == '\\')
			u->p++;
		else if (c == '"')
			u->quoted = 0;
	} else if (c == '"') {
		u->quoted = 1;
	} else if (c == '<') {
		u->lt = u->p + 1;
	} else if (c == ';' || c == ',' || c == '\r' || c == '\n') {
		return 1;       /* no '<': an addr-spec */
	}
	u->p++;
	return 0;
}

/* 1 and *uoff, *ulen: the URI of the value from off to end; else 0. */
static __always_inline int us_uri_find(const struct us_scratch *s, __u32 off, __u32 end,
				       __u32 *uoff, __u32 *ulen)
{
	struct us_uscan u = { .s = s, .p = off, .end = end };

	bpf_loop(512, us_uscan_cb, &u, 0);
	if (u.lt) {
		if (!u.uend || u.uend <= u.lt)
			return 0;
		*uoff = u.lt;
		*ulen = u.uend - u.lt;
		return 1;
	}
	if (u.quoted)
		return 0;
	u.p = off;
	u.spec = 1;
	u.uend = 0;
	bpf_loop(512, us_uscan_cb, &u, 0);
	if (!u.uend)
		u.uend = u.p < end ? u.p : end;
	if (u.uend <= off)
		return 0;
	*uoff = off;
	*ulen = u.uend - off;
	return 1;
}

#endif
