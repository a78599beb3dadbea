/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Dialog translation for mirrored calls (PRODUCT.md, "Dialog translation").
 *
 * A shadow machine (the simulation machine, the control machine) chooses
 * its own To-tags and RSeq numbers. The balancer learns, per mirrored call,
 * what the active machine and each shadow chose (us_dlg), and:
 *
 *   - rewrites every in-dialog request of the caller copied to a shadow so
 *     that it names the shadow's dialog: the To-tag (the k-th tag of the
 *     active machine becomes the k-th tag of the shadow) and, in a PRACK,
 *     the RAck's response number; the active machine's copy is never
 *     touched. A request naming a dialog the shadow has not answered yet is
 *     held back (an ACK, or a BYE, is then sent when the shadow's 2xx
 *     comes); one naming a dialog the shadow refused or ended is not sent.
 *   - ACKs every non-2xx final a shadow gives an INVITE itself (hop by hop,
 *     as a proxy does); the caller's own ACK of a non-2xx is never copied.
 *   - answers every request a shadow starts itself (its BYE, re-INVITE,
 *     UPDATE, INFO, NOTIFY, OPTIONS...) on the caller's behalf: with what the
 *     caller answered the active machine's last request of that kind, else
 *     200 (202 for REFER); a 2xx to an INVITE or UPDATE with a body returns
 *     the offer as the answer. The shadow's ACK of such a 2xx is absorbed.
 *     Nothing of this reaches the caller.
 *   - counts the requests each machine starts, per kind, and pairs them (the
 *     n-th of a kind on the shadow with the n-th on the active machine).
 *
 * Messages built on the caller's behalf are built in place from the
 * shadow's own message (build.bpf.h) and sent back to it (XDP_TX).
 */
#ifndef US_DIALOG_BPF_H
#define US_DIALOG_BPF_H

#include "build.bpf.h"
#include "hdrs.bpf.h"
#include "pair.bpf.h"

static __always_inline struct us_out *us_outbuf(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&us_out, &zero);
}

/* The To-tag of the message (m->to_off): 1 and its offset, length, hash. */
static __always_inline int us_to_tag(const struct us_scratch *s, const struct us_sip *m, __u32 len,
				     __u32 *toff, __u32 *tlen, __u64 *hash)
{
	__u32 n = 0;

	if (!(m->have & US_H_TO))
		return 0;
	if (!us_param_find(s, m->to_off, len, 0, toff, tlen))
		return 0;
	*hash = us_hash_token(s, *toff, 1, &n);
	return n == *tlen && n > 0;
}

/* Index k of the active machine's tag h in the record (US_TAGS if none);
 * learn it (the next free index) when learn is set. */
static __always_inline __u32 us_atag_index(struct us_dlg *d, __u64 h, int learn)
{
#pragma unroll
	for (__u32 k = 0; k < US_TAGS; k++) {
		if (d->atag[k] == h)
			return k;
		if (!d->atag[k]) {
			if (!learn)
				return US_TAGS;
			d->atag[k] = h;
			return k;
		}
	}
	return US_TAGS;
}

/* ---- the client side --------------------------------------------------------- */

/* A new mirrored call's record, from its first request. */
static __always_inline struct us_dlg *us_dlg_open(struct us_scratch *s, const struct us_call_key *ck,
						  const struct us_sip *m, __u32 active, __u32 sim,
						  __u32 ctl)
{
	struct us_dlg *d = &s->dlg;
	__u32 n = m->callid_len < US_CALLID_COPY ? m->callid_len : US_CALLID_COPY;
	__u64 *dst = (__u64 *)d->callid;

	__builtin_memset(d, 0, sizeof(*d));
	d->mid[0] = active;
	d->mid[1 + US_SH_SIM] = sim;
	d->mid[1 + US_SH_CTL] = ctl;
	d->inv0_cseq = m->method == US_M_INVITE ? m->cseq : 0;
	/* whole words, the bytes past the Call-ID zeroed */
#pragma unroll
	for (int i = 0; i < US_CALLID_COPY / 8; i++) {
		__u64 w = us_w(s, m->callid_off + i * 8);

		if (n <= (__u32)i * 8)
			w = 0;
		else if (n < (__u32)(i + 1) * 8)
			w &= (1ull << ((n - i * 8) * 8)) - 1;
		dst[i] = w;
	}
	d->callid_len = n;
	bpf_map_update_elem(&us_dlgs, ck, d, BPF_ANY);
	return bpf_map_lookup_elem(&us_dlgs, ck);
}

/* The caller's message in a mirrored call, as far as translation goes. */
struct us_cmsg {
	__u64 tag_hash;     /* its To-tag (an in-dialog request), 0 if none */
	__u32 tag_off, tag_len;
	__u32 rack_off, rack_len, rack;   /* a PRACK's RAck response number (0 len: none) */
	__u32 len;
	__u32 rebuildable;  /* its frame can be rebuilt (us_rebuildable) */
};

/*
 * What shadow sh gets of the caller's request m in a mirrored call (d),
 * as a copy plan c: US_CP_AS_IS (no dialog named yet: INVITE, CANCEL...),
 * US_CP_EDIT (rewritten to name its dialog), or US_CP_DROP (held back, or
 * not for it). Counts in st, the shadow's counters.
 */
__noinline int us_plan_shadow(const struct us_sip *m, struct us_dlg *d, __u32 sh,
			      const struct us_cmsg *cm, struct us_copy *c)
{
	struct us_dside *ds;
	struct us_edit *e;
	struct us_mstats *st;
	__u32 k, tl, p, end1, start2, n;

	if (!m || !d || !cm || !c || sh >= US_SHADOWS)
		return US_CP_DROP;
	ds = &d->side[sh];
	e = &c->e;
	st = us_mst(d->mid[1 + sh]);
	if (!cm->tag_hash)
		return US_CP_AS_IS;
	if (m->method == US_M_ACK && m->cseq == d->act_inv_cseq && d->act_inv_code >= 300) {
		/* the ACK of a non-2xx: the balancer ACKs the shadow's own */
		us_count(US_ST_DLG_NOT_SENT);
		if (st)
			st->dlg_not_sent++;
		return US_CP_DROP;
	}
	k = us_atag_index(d, cm->tag_hash, 0);
	if (ds->state == US_DS_ENDED || k >= US_TAGS)
		goto not_sent;
	tl = ds->t[k & 1].len;
	if (m->method == US_M_ACK) {
		/* the ACK of a 2xx: as soon as this shadow answered the same
		 * INVITE with a 2xx; until then held (its 2xx gets an ACK, and
		 * again if the ACK got lost); not at all if it refused it */
		__sync_lock_test_and_set(&ds->ack_cseq, m->cseq);
		if (!(ds->flags & US_DF_FIN) || ds->fin_cseq < m->cseq)
			goto held;
		if (ds->fin_cseq == m->cseq && ds->fin_code >= 300)
			goto not_sent;
	} else if (ds->state == US_DS_FAILED) {
		goto not_sent;
	} else if (m->method == US_M_BYE && ds->state == US_DS_NONE) {
		/* hung up before this shadow's dialog was confirmed: its 2xx
		 * gets the BYE (unless it was confirmed meanwhile) */
		__sync_lock_test_and_set(&ds->bye_cseq, m->cseq);
		if (ds->state != US_DS_CONFIRMED)
			goto held;
	} else if (m->method == US_M_PRACK) {
		if (!cm->rack_len || !(d->flags & US_DF_RSEQ))
			goto not_sent;
		if (!(ds->flags & US_DF_RSEQ)) {
			/* before its reliable provisional: that 1xx gets a PRACK */
			__sync_lock_test_and_set(&ds->prack_cseq, m->cseq);
			if (!(ds->flags & US_DF_RSEQ))
				goto held;
		}
	}
	if (!tl)
		goto held;      /* no tag of its for this dialog yet */
	if (tl > US_TAG_MAX || !cm->rebuildable) {
		us_count(US_ST_DLG_BUILD_FAIL);
		return US_CP_DROP;
	}
	/* the new tag at lit[0], the new RAck number at lit[US_TAG_MAX] */
	e->nseg = 0;
#pragma unroll
	for (int i = 0; i < US_TAG_MAX / 8; i++)
		*(us_u64u *)&e->lit.b[i * 8] = *(us_u64u *)&ds->t[k & 1].tag[i * 8];
	n = 0;
	if (m->method == US_M_PRACK)
		n = us_lit_num(&e->lit, US_TAG_MAX, cm->rack - d->rseq0 + ds->rseq0);
	/* two edits, in the order they appear */
	if (n && cm->rack_off < cm->tag_off) {
		us_seg_add(e, 0, cm->rack_off, 0);
		us_seg_add(e, US_TAG_MAX, n, 1);
		p = cm->rack_off + cm->rack_len;
		us_seg_add(e, p, cm->tag_off - p, 0);
		us_seg_add(e, 0, tl, 1);
		p = cm->tag_off + cm->tag_len;
	} else {
		us_seg_add(e, 0, cm->tag_off, 0);
		us_seg_add(e, 0, tl, 1);
		p = cm->tag_off + cm->tag_len;
		if (n) {
			end1 = cm->rack_off;
			us_seg_add(e, p, end1 - p, 0);
			us_seg_add(e, US_TAG_MAX, n, 1);
			p = cm->rack_off + cm->rack_len;
		}
	}
	start2 = p;
	us_seg_add(e, start2, cm->len - start2, 0);
	c->len = cm->len - cm->tag_len + tl - (n ? cm->rack_len - n : 0);
	us_count(US_ST_DLG_REWRITTEN);
	if (st)
		st->dlg_rewritten++;
	return US_CP_EDIT;
held:
	us_count(US_ST_DLG_HELD);
	if (st)
		st->dlg_held++;
	return US_CP_DROP;
not_sent:
	us_count(US_ST_DLG_NOT_SENT);
	if (st)
		st->dlg_not_sent++;
	return US_CP_DROP;
}

/* The caller answered a request the active machine started: remember the
 * final answer per kind, for the shadows' requests of that kind. */
static __always_inline void us_caller_answer(struct us_dlg *d, const struct us_sip *m)
{
	if (m->status >= 200)
		d->answer[us_own_kind(m->cseq_method) & 3] = m->status;
	us_count(US_ST_CLIENT_RESP);
}

/* ---- requests a machine starts ------------------------------------------------- */

/* The active machine's own request in a mirrored call: count it (once per
 * CSeq), for each shadow, and pair it with the shadows' n-th. */
static __always_inline void us_own_active(struct us_dlg *d, const struct us_sip *m)
{
	__u32 k = us_own_kind(m->method) & 3, n;

	if ((d->flags & US_DF_OWN) && m->cseq <= d->own_cseq)
		return;                 /* a retransmission */
	d->own_cseq = m->cseq;
	__sync_fetch_and_or(&d->flags, US_DF_OWN);
	n = d->own_n[k];
	if (n < 255)
		d->own_n[k] = ++n;
#pragma unroll
	for (__u32 sh = 0; sh < US_SHADOWS; sh++) {
		struct us_mstats *st;

		if (d->mid[1 + sh] == US_MID_NONE)
			continue;
		st = us_mst(d->mid[1 + sh]);
		if (!st)
			continue;
		st->own_active[k]++;
		if (d->side[sh].own_n[k] >= n)
			st->own_both[k]++;
	}
}

/* A shadow's own request: returns 1 when new (0: a retransmission). */
static __always_inline int us_own_shadow(struct us_dlg *d, __u32 sh, const struct us_sip *m,
					 struct us_mstats *st)
{
	struct us_dside *ds = &d->side[sh & 1];
	__u32 k = us_own_kind(m->method) & 3, n;

	if ((ds->flags & US_DF_OWN) && m->cseq <= ds->own_cseq) {
		if (st)
			st->own_retrans++;
		return 0;
	}
	ds->own_cseq = m->cseq;
	__sync_fetch_and_or(&ds->flags, US_DF_OWN);
	n = ds->own_n[k];
	if (n < 255)
		ds->own_n[k] = ++n;
	if (st) {
		st->own[k]++;
		if (d->own_n[k] >= n)
			st->own_both[k]++;
	}
	return 1;
}

/* ---- messages built on the caller's behalf -------------------------------------- */

/* The reason phrase of a status code (literal at lit[off]); its length. */
static __always_inline __u32 us_lit_reason(struct us_lit *l, __u32 off, __u32 code)
{
	switch (code) {
	case 200: US_LIT_PUT(l, 0, "SIP/2.0 200 OK\r\n"); return 16;
	case 202: US_LIT_PUT(l, 0, "SIP/2.0 202 Accepted\r\n"); return 22;
	case 481: US_LIT_PUT(l, 0, "SIP/2.0 481 Call Does Not Exist\r\n"); return 33;
	case 486: US_LIT_PUT(l, 0, "SIP/2.0 486 Busy Here\r\n"); return 23;
	case 488: US_LIT_PUT(l, 0, "SIP/2.0 488 Not Acceptable Here\r\n"); return 33;
	case 491: US_LIT_PUT(l, 0, "SIP/2.0 491 Request Pending\r\n"); return 29;
	}
	(void)off;
	US_LIT_PUT(l, 0, "SIP/2.0 ");
	us_lit_num(l, 8, code % 1000);
	switch (code / 100) {
	case 1:  US_LIT_PUT(l, 11, " Trying  \r\n"); break;
	case 2:  US_LIT_PUT(l, 11, " OK      \r\n"); break;
	case 3:  US_LIT_PUT(l, 11, " Redirect\r\n"); break;
	case 4:  US_LIT_PUT(l, 11, " Refused \r\n"); break;
	case 5:  US_LIT_PUT(l, 11, " Failure \r\n"); break;
	default: US_LIT_PUT(l, 11, " Declined\r\n"); break;
	}
	return 22;
}

/* Is the line span a header with this tag parameter? (its To has a tag) */
static __always_inline int us_span_has_tag(const struct us_scratch *s, const struct us_span *sp)
{
	__u32 v, toff = 0, tlen = 0;

	v = us_value_at(s, sp->off, sp->off + sp->len);
	return v && us_param_find(s, v, sp->off + sp->len, 0, &toff, &tlen);
}

/* End of a line span without its CR LF (or LF). */
static __always_inline __u32 us_span_trim(const struct us_scratch *s, const struct us_span *sp)
{
	__u32 e = sp->off + sp->len;

	if (e && us_b(s, e - 1) == '\n')
		e--;
	if (e > sp->off && us_b(s, e - 1) == '\r')
		e--;
	return e;
}

#define US_LIT_TAG   48    /* lit offsets of a built response: ";tag=..." */
#define US_LIT_CLEN  80    /* "Content-Length: N\r\n\r\n" */

/*
 * A response to the shadow's request in s (len bytes, headers indexed in
 * o->hx): status code, the Via lines, From, To (with a tag of ours if it
 * has none), Call-ID, CSeq; for a 2xx to an INVITE or UPDATE with a body,
 * the body back as the answer. Built in o->e; 0 or -1.
 */
__noinline int us_build_answer(const struct us_scratch *s, __u32 len, const struct us_sip *m,
			       __u32 code, struct us_out *o)
{
	struct us_edit *e;
	struct us_hidx *hx;
	__u32 n, body, blen = 0;

	if (!s || !m || !o)
		return -1;
	e = &o->e;
	hx = &o->hx;
	if (us_hidx_build(s, len, hx))
		return -1;
	if (!hx->nvia || hx->more_via || !hx->h[US_HX_FROM].len || !hx->h[US_HX_TO].len ||
	    !hx->h[US_HX_CALLID].len || !hx->h[US_HX_CSEQ].len)
		return -1;
	e->nseg = 0;
	n = us_lit_reason(&e->lit, 0, code);
	us_seg_add(e, 0, n, 1);
#pragma unroll
	for (int i = 0; i < US_HX_VIAS; i++)
		if ((__u32)i < hx->nvia)
			us_seg_add(e, hx->via[i].off, hx->via[i].len, 0);
	us_seg_add(e, hx->h[US_HX_FROM].off, hx->h[US_HX_FROM].len, 0);
	if (us_span_has_tag(s, &hx->h[US_HX_TO])) {
		us_seg_add(e, hx->h[US_HX_TO].off, hx->h[US_HX_TO].len, 0);
	} else {
		/* ";tag=us" and 16 hex digits of the Call-ID hash, then CRLF */
		__u32 te = us_span_trim(s, &hx->h[US_HX_TO]);
		__u64 h = m->callid_hash;

		us_seg_add(e, hx->h[US_HX_TO].off, te - hx->h[US_HX_TO].off, 0);
		US_LIT_PUT(&e->lit, US_LIT_TAG, ";tag=us");
#pragma unroll
		for (int i = 0; i < 16; i++) {
			__u8 x = (h >> (60 - 4 * i)) & 15;

			e->lit.b[US_LIT_TAG + 7 + i] = x < 10 ? '0' + x : 'a' + x - 10;
		}
		US_LIT_PUT(&e->lit, US_LIT_TAG + 23, "\r\n");
		us_seg_add(e, US_LIT_TAG, 25, 1);
	}
	us_seg_add(e, hx->h[US_HX_CALLID].off, hx->h[US_HX_CALLID].len, 0);
	us_seg_add(e, hx->h[US_HX_CSEQ].off, hx->h[US_HX_CSEQ].len, 0);
	body = hx->body_off;
	if (code / 100 == 2 && (m->method == US_M_INVITE || m->method == US_M_UPDATE) &&
	    body && body < len) {
		blen = len - body;
		if (m->have & US_H_CLEN && m->clen < blen)
			blen = m->clen;
		if (hx->h[US_HX_CTYPE].len)
			us_seg_add(e, hx->h[US_HX_CTYPE].off, hx->h[US_HX_CTYPE].len, 0);
	}
	US_LIT_PUT(&e->lit, US_LIT_CLEN, "Content-Length: ");
	n = us_lit_num(&e->lit, US_LIT_CLEN + 16, blen);
	e->lit.b[(US_LIT_CLEN + 16 + n) & (US_LIT_MAX - 1)] = '\r';
	e->lit.b[(US_LIT_CLEN + 17 + n) & (US_LIT_MAX - 1)] = '\n';
	e->lit.b[(US_LIT_CLEN + 18 + n) & (US_LIT_MAX - 1)] = '\r';
	e->lit.b[(US_LIT_CLEN + 19 + n) & (US_LIT_MAX - 1)] = '\n';
	us_seg_add(e, US_LIT_CLEN, 20 + n, 1);
	if (blen)
		us_seg_add(e, body, blen, 0);
	return e->nseg <= US_SEGS ? 0 : -1;
}

#define US_LIT_RL1   0     /* "ACK " / "BYE " */
#define US_LIT_RL2   8     /* " SIP/2.0\r\n" */
#define US_LIT_BR    20    /* the branch's new last byte */
#define US_LIT_CSEQ  24    /* "CSeq: N METHOD\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n" */
#define US_LIT_RACK  56    /* a PRACK's: "N " and "N" of "RAck: N N INVITE" */
#define US_LIT_TAIL  80    /* a PRACK's " INVITE\r\nMax-Forwards..." */

/*
 * A request on the caller's behalf built from the shadow's final response
 * to an INVITE in s (headers in o->hx): an ACK (of a 2xx: to its Contact,
 * with a new branch; of a non-2xx: to the To URI, the INVITE's branch), or
 * a BYE (cseq: the caller's) to its Contact. 0 or -1.
 */
/* us_build_request's kinds, in the top bits of its len argument */
#define US_BUILD_ACK   0u
#define US_BUILD_BYE   1u
#define US_BUILD_PRACK 2u
#define US_BUILD_SHIFT 28

__noinline int us_build_request(const struct us_scratch *s, __u32 lenkind,
				const struct us_sip *m, __u32 cseq, struct us_out *o)
{
	struct us_edit *e;
	struct us_hidx *hx;
	__u32 v, uoff = 0, ulen = 0, boff = 0, blen = 0, n, vend;
	__u32 kind = lenkind >> US_BUILD_SHIFT, len = lenkind & ((1u << US_BUILD_SHIFT) - 1);
	struct us_span *via;
	int two, bye = kind == US_BUILD_BYE, prack = kind == US_BUILD_PRACK;

	if (!s || !m || !o)
		return -1;
	e = &o->e;
	hx = &o->hx;
	via = &hx->via[0];
	/* a 2xx's ACK, a BYE and a PRACK go to the Contact, on a branch of
	 * their own; the ACK of a non-2xx to the To URI, on the INVITE's */
	two = m->status / 100 == 2 || prack;
	if (us_hidx_build(s, len, hx))
		return -1;
	if (!hx->nvia || !hx->h[US_HX_FROM].len || !hx->h[US_HX_TO].len ||
	    !hx->h[US_HX_CALLID].len)
		return -1;
	/* the Request-URI */
	if (two) {
		if (!hx->h[US_HX_CONTACT].len)
			return -1;
		v = us_value_at(s, hx->h[US_HX_CONTACT].off,
				hx->h[US_HX_CONTACT].off + hx->h[US_HX_CONTACT].len);
		if (!v || !us_uri_find(s, v, hx->h[US_HX_CONTACT].off + hx->h[US_HX_CONTACT].len,
				       &uoff, &ulen))
			return -1;
	} else {
		v = us_value_at(s, hx->h[US_HX_TO].off, hx->h[US_HX_TO].off + hx->h[US_HX_TO].len);
		if (!v || !us_uri_find(s, v, hx->h[US_HX_TO].off + hx->h[US_HX_TO].len, &uoff, &ulen))
			return -1;
	}
	e->nseg = 0;
	if (prack)
		US_LIT_PUT(&e->lit, US_LIT_RL1, "PRACK ");
	else if (bye)
		US_LIT_PUT(&e->lit, US_LIT_RL1, "BYE ");
	else
		US_LIT_PUT(&e->lit, US_LIT_RL1, "ACK ");
	US_LIT_PUT(&e->lit, US_LIT_RL2, " SIP/2.0\r\n");
	us_seg_add(e, US_LIT_RL1, prack ? 6 : 4, 1);
	us_seg_add(e, uoff, ulen, 0);
	us_seg_add(e, US_LIT_RL2, 10, 1);
	/* the top Via: a 2xx's ACK and a BYE are new transactions, their
	 * branch differs from the INVITE's in its last byte */
	vend = via->off + via->len;
	if (two || bye) {
		v = us_value_at(s, via->off, vend);
		if (!v || !us_param_find(s, v, vend, 1, &boff, &blen) || blen < 2)
			return -1;
		us_seg_add(e, via->off, boff + blen - 1 - via->off, 0);
		e->lit.b[US_LIT_BR] = us_b(s, boff + blen - 1) == 'u' ? 'v' : 'u';
		us_seg_add(e, US_LIT_BR, 1, 1);
		us_seg_add(e, boff + blen, vend - (boff + blen), 0);
	} else {
		us_seg_add(e, via->off, via->len, 0);
	}
	us_seg_add(e, hx->h[US_HX_FROM].off, hx->h[US_HX_FROM].len, 0);
	us_seg_add(e, hx->h[US_HX_TO].off, hx->h[US_HX_TO].len, 0);
	us_seg_add(e, hx->h[US_HX_CALLID].off, hx->h[US_HX_CALLID].len, 0);
	US_LIT_PUT(&e->lit, US_LIT_CSEQ, "CSeq: ");
	n = us_lit_num(&e->lit, US_LIT_CSEQ + 6, cseq);
	us_seg_add(e, US_LIT_CSEQ, 6 + n, 1);
	if (prack) {
		/* RAck: its RSeq, the INVITE's CSeq (RFC 3262 7.2) */
		US_LIT_PUT(&e->lit, US_LIT_CSEQ + 16, " PRACK\r\nRAck: ");
		us_seg_add(e, US_LIT_CSEQ + 16, 14, 1);
		n = us_lit_num(&e->lit, US_LIT_RACK, m->rseq);
		e->lit.b[(US_LIT_RACK + n) & (US_LIT_MAX - 1)] = ' ';
		us_seg_add(e, US_LIT_RACK, n + 1, 1);
		n = us_lit_num(&e->lit, US_LIT_RACK + 12, m->cseq);
		us_seg_add(e, US_LIT_RACK + 12, n, 1);
		US_LIT_PUT(&e->lit, US_LIT_TAIL, " INVITE\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n");
		us_seg_add(e, US_LIT_TAIL, 48, 1);
	} else if (bye) {
		US_LIT_PUT(&e->lit, US_LIT_CSEQ + 16, " BYE\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n");
		us_seg_add(e, US_LIT_CSEQ + 16, 45, 1);
	} else {
		US_LIT_PUT(&e->lit, US_LIT_CSEQ + 16, " ACK\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n");
		us_seg_add(e, US_LIT_CSEQ + 16, 45, 1);
	}
	return e->nseg <= US_SEGS ? 0 : -1;
}

#endif
