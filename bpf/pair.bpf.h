/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Pairs: a mirrored transaction's final responses, the active machine's
 * against each shadow machine's (the simulation machine, the control
 * machine). A pair closes when both finals are in, or at the deadline of
 * the side that is silent: max(due floor, due multiple x the first final's
 * latency), at most US_DUE_MAX_MS, set by a BPF timer on the transaction
 * when its first final comes. A silent side's outcome is US_O_NONE,
 * counted at once, on the same clock as answered pairs; its final coming
 * later is "late" and never pairs twice. Every count goes to the shadow
 * machine's us_mstats (and, for the control's pairs, also to the
 * simulation machine's, on the calls mirrored to both), per call as well
 * as per transaction.
 */
#ifndef US_PAIR_BPF_H
#define US_PAIR_BPF_H

#include "maps.bpf.h"

#ifndef CLOCK_MONOTONIC
#define CLOCK_MONOTONIC 1
#endif

static __always_inline struct us_mstats *us_mst(__u32 mid)
{
	return bpf_map_lookup_elem(&us_mstats, &mid);
}

static __always_inline int us_take_token(void)
{
	__u32 zero = 0;
	struct us_cfg *cfg = bpf_map_lookup_elem(&us_cfg, &zero);
	struct us_bucket *b = bpf_map_lookup_elem(&us_evrate, &zero);
	__u64 now, el, cap;

	if (!cfg || !b || !cfg->event_rate)
		return 0;
	now = bpf_ktime_get_ns();
	el = now - b->last_ns;
	if (el > 10000000000ull)
		el = 10000000000ull;
	b->last_ns = now;
	cap = (__u64)(cfg->event_burst ? cfg->event_burst : 1) * 1000;
	b->tokens_milli += el * cfg->event_rate / 1000000;
	if (b->tokens_milli > cap)
		b->tokens_milli = cap;
	if (b->tokens_milli < 1000)
		return 0;
	b->tokens_milli -= 1000;
	return 1;
}

/* A difference event (exact codes differ; 0 = unanswered), rate-limited. */
static __always_inline void us_diff_event(const struct us_txn *t, __u32 svc_id,
					  const struct us_dlg *d, __u16 ac, __u16 sc)
{
	struct us_event *ev;

	if (!us_take_token()) {
		us_count(US_ST_EVENTS_LIMITED);
		return;
	}
	ev = bpf_ringbuf_reserve(&us_events, sizeof(*ev), 0);
	if (!ev) {
		us_count(US_ST_EVENTS_LOST);
		return;
	}
	ev->ts_ns = bpf_ktime_get_ns();
	ev->active_lat_ns = t->lat_ns[US_SIDE_ACTIVE];
	ev->sim_lat_ns = t->lat_ns[1 + US_SH_SIM];
	ev->svc_id = svc_id;
	ev->active_mid = t->mid[US_SIDE_ACTIVE];
	ev->sim_mid = t->mid[1 + US_SH_SIM];
	ev->active_code = ac;
	ev->sim_code = sc;
	ev->kind = ac / 100 == sc / 100 ? US_EV_DIFF_CODE : US_EV_DIFF_CLASS;
	ev->method = t->method;
	__builtin_memset(ev->pad, 0, sizeof(ev->pad));
	if (d) {
		ev->callid_len = d->callid_len;
		__builtin_memcpy(ev->callid, d->callid, US_CALLID_COPY);
	} else {
		ev->callid_len = 0;
		__builtin_memset(ev->callid, 0, US_CALLID_COPY);
	}
	bpf_ringbuf_submit(ev, 0);
	us_count(US_ST_EVENTS);
}

static __always_inline void us_codepair(__u32 mid, __u16 ac, __u16 sc)
{
	struct us_codepair_key k = { .mid = mid, .active = ac, .shadow = sc };
	__u64 one = 1, *v = bpf_map_lookup_elem(&us_codes, &k);

	if (v) {
		*v += 1;
		return;
	}
	if (bpf_map_update_elem(&us_codes, &k, &one, BPF_NOEXIST)) {
		v = bpf_map_lookup_elem(&us_codes, &k);
		if (v)
			*v += 1;
	}
}

/* A call's first pair, and the first failure of each side in it: flags
 * holds the bits at shift sh (0: the shadow's own pairs, 4: the control's,
 * kept on the simulation machine). */
static __always_inline void us_call_count(struct us_pairstats *ps, __u32 *flags, __u32 sh,
					  int a_fail, int s_fail)
{
	__u32 want = US_DF_COUNTED << sh, old, now;

	if (a_fail)
		want |= US_DF_FAIL_ACT << sh;
	if (s_fail)
		want |= US_DF_FAIL_SH << sh;
	old = __sync_fetch_and_or(flags, want);
	if (!(old & (US_DF_COUNTED << sh)))
		ps->calls++;
	if (a_fail && !(old & (US_DF_FAIL_ACT << sh)))
		ps->calls_fail_active++;
	if (s_fail && !(old & (US_DF_FAIL_SH << sh)))
		ps->calls_fail_shadow++;
	now = old | want;
	if ((now & (US_DF_FAIL_ACT << sh)) && (now & (US_DF_FAIL_SH << sh)) &&
	    !(old & (US_DF_BOTH << sh)) &&
	    !(__sync_fetch_and_or(flags, US_DF_BOTH << sh) & (US_DF_BOTH << sh)))
		ps->calls_fail_both++;
}

/*
 * Close shadow sh's pair of the transaction of key k, once. At a deadline
 * (timer), a side without its final is marked late and counts as
 * unanswered; otherwise both finals are in.
 */
__noinline int us_pair_close(const struct us_txn_key *k, __u32 sh, int timer)
{
	__u32 s = 1 + sh, old, a_out, s_out;
	__u16 ac = 0, sc = 0;
	struct us_mstats *st;
	struct us_dlg *d;
	struct us_call_key ck;
	struct us_txn *t;
	int a_ok, s_ok;

	if (!k || sh >= US_SHADOWS)
		return 0;
	/* looked up here: a value holding a bpf_timer cannot be passed to a
	 * global function */
	t = bpf_map_lookup_elem(&us_txns, k);
	if (!t)
		return 0;
	old = __sync_fetch_and_or(&t->done, US_TXN_PAIRED(s));
	if (old & US_TXN_PAIRED(s))
		return 0;
	a_ok = !!(old & US_TXN_FINAL(0));
	s_ok = !!(old & US_TXN_FINAL(s));
	if (!timer && (!a_ok || !s_ok))
		return 0;               /* cannot happen: the caller saw both */
	if (!a_ok && !(__sync_fetch_and_or(&t->done, US_TXN_LATE(0)) & US_TXN_LATE(0))) {
		struct us_mstats *am = us_mst(t->mid[0]);

		if (am)
			am->overdue++;
		us_count(US_ST_OVERDUE);
	}
	if (!s_ok && !(__sync_fetch_and_or(&t->done, US_TXN_LATE(s)) & US_TXN_LATE(s))) {
		struct us_mstats *sm = us_mst(t->mid[s & 3]);

		if (sm)
			sm->overdue++;
		us_count(US_ST_OVERDUE);
	}
	if (a_ok)
		ac = t->code[0];
	if (s_ok)
		sc = t->code[s & 3];
	a_out = a_ok ? us_outcome(ac) : US_O_NONE;
	s_out = s_ok ? us_outcome(sc) : US_O_NONE;
	if (a_out >= US_O_MAX)
		a_out = US_O_NONE;
	if (s_out >= US_O_MAX)
		s_out = US_O_NONE;

	ck.callid_hash = k->callid_hash;
	ck.svc_id = k->svc_id;
	ck.pad = 0;
	d = bpf_map_lookup_elem(&us_dlgs, &ck);

	st = us_mst(t->mid[s & 3]);
	if (st) {
		st->pair.out[a_out][s_out]++;
		if (a_ok && s_ok) {
			__u32 b;

			if (ac == sc)
				st->pair.code_same++;
			b = us_lat_bucket(t->lat_ns[0]);
			if (b < US_LAT_BUCKETS)
				st->pair_lat_active[b]++;
			b = us_lat_bucket(t->lat_ns[s & 3]);
			if (b < US_LAT_BUCKETS)
				st->pair_lat_shadow[b]++;
		}
		if (ac != sc)
			us_codepair(t->mid[s & 3], ac, sc);
		if (d)
			us_call_count(&st->pair, &d->side[sh & 1].flags, 0,
				      a_out >= US_O_ERR, s_out >= US_O_ERR);
	}
	/* the control's pair, on the simulation machine of the same call */
	if (sh == US_SH_CTL && t->mid[1 + US_SH_SIM] != US_MID_NONE) {
		struct us_mstats *ss = us_mst(t->mid[1 + US_SH_SIM]);

		if (ss) {
			ss->ctl.out[a_out][s_out]++;
			if (a_ok && s_ok && ac == sc)
				ss->ctl.code_same++;
			if (d)
				us_call_count(&ss->ctl, &d->side[US_SH_SIM].flags, 4,
					      a_out >= US_O_ERR, s_out >= US_O_ERR);
		}
	}
	if (sh == US_SH_SIM && ac != sc)
		us_diff_event(t, k->svc_id, d, ac, sc);
	return 1;
}

/* A transaction's deadline: every pair still open closes, its silent
 * sides unanswered. */
static int us_due_cb(void *map, struct us_txn_key *k, struct us_txn *t)
{
	struct us_txn_key key = *k;     /* the global function takes writable memory */

	(void)map;
#pragma unroll
	for (__u32 sh = 0; sh < US_SHADOWS; sh++)
		if (t->mid[1 + sh] != US_MID_NONE)
			us_pair_close(&key, sh, 1);
	return 0;
}

/* Set the deadline, once per transaction, lat after its first final. */
static __always_inline void us_arm(struct us_txn *t, const struct us_svc *svc, __u64 lat)
{
	__u64 floor = (svc && svc->due_floor_ms ? svc->due_floor_ms : US_DUE_FLOOR_MS) * 1000000ull;
	__u64 mult = svc && svc->due_mult ? svc->due_mult : US_DUE_MULT;
	__u64 due = lat * mult;

	if (due < floor)
		due = floor;
	if (due > US_DUE_MAX_MS * 1000000ull)
		due = US_DUE_MAX_MS * 1000000ull;
	if (__sync_fetch_and_or(&t->done, US_TXN_ARMED) & US_TXN_ARMED)
		return;
	/* -EBUSY when the entry has a timer already: it is set anew */
	bpf_timer_init(&t->due, &us_txns, CLOCK_MONOTONIC);
	bpf_timer_set_callback(&t->due, us_due_cb);
	bpf_timer_start(&t->due, due, 0);
}

#endif
