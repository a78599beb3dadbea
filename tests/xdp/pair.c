// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Pairing: each side's first final response of a mirrored transaction sets
 * its bit; the side that completes the pair compares them (class, exact
 * code, which side erred) on the simulation machine's counters, and a
 * difference writes an event to the ring buffer, rate-limited per CPU.
 * Every subtest starts with SVC4 mirrored whole and the ring buffer empty.
 */
#include <stdio.h>
#include <string.h>

#include "fixture.h"

struct pair_res {
	__u32 a, s;
};

/* A mirrored INVITE of call c in SVC4; returns the machines. */
static struct pair_res pair_invite(const char *c, const char *b)
{
	struct pair_res p = { pred_active(SVC4, c), pred_sim(SVC4, c) };
	size_t n = req_text(sipbuf, "INVITE", c, b, 1);

	send_client(SVC4, sipbuf, n, p.a, p.s, NULL);
	return p;
}

static void check_event(const struct us_event *e, const char *c, __u32 a, __u32 s, int ac,
			int sc, int kind)
{
	EQ("event.kind", e->kind, kind);
	EQ("event.active_code", e->active_code, ac);
	EQ("event.sim_code", e->sim_code, sc);
	EQ("event.active_mid", e->active_mid, a);
	EQ("event.sim_mid", e->sim_mid, s);
	EQ("event.svc_id", e->svc_id, SVC4);
	EQ("event.method", e->method, US_M_INVITE);
	EQ("event.callid_len", e->callid_len, strlen(c));
	if (memcmp(e->callid, c, strlen(c)))
		th_fail("event.callid", "other bytes", c);
	for (size_t i = strlen(c); i < US_CALLID_COPY; i++)
		if (e->callid[i]) {
			th_fail("event.callid past its length", "other bytes", "zeros");
			break;
		}
	if (!e->active_lat_ns || !e->sim_lat_ns)
		th_fail("event latencies", "0", "both set");
}

/* a subtest with SVC4 mirrored whole and no event waiting */
static bool pair_subtest(const char *name)
{
	if (!th_subtest("%s", name))
		return false;
	set_share(SVC4, 10000);
	ev_drain();
	return true;
}

static void pair_end(void)
{
	set_share(SVC4, 0);
}

TH_TEST(pair)
{
	struct pair_res p;
	struct snap sb;
	struct msnap mb;
	size_t n;

	if (pair_subtest("differ-class-makes-event")) {
		const char *c = "pair-1@198.18.0.1", *b = "z9hG4bK-pair-1";

		p = pair_invite(c, b);
		n = resp_text(sipbuf, 200, c, b, 1, "INVITE");
		snap_take(&sb);
		msnap_take(&mb);
		send_machine(p.a, sipbuf, n, XDP_REDIRECT);
		STATS(&sb, 1, S(US_ST_RESP_FWD, 1));
		MST(&mb, p.a, M(resp_class[2], 1) M(final_class[2], 1) M(final_code[US_C_200], 1)
			      M(lat_count, 1));
		mst_rest(&mb);
		EQ("events before the sim answers", ev_drain(), 0);
		n = resp_text(sipbuf, 503, c, b, 1, "INVITE");
		snap_take(&sb);
		msnap_take(&mb);
		send_machine(p.s, sipbuf, n, XDP_DROP);
		STATS(&sb, 1, S(US_ST_RESP_SIM_DROP, 1) S(US_ST_EVENTS, 1));
		MST(&mb, p.s, M(resp_class[5], 1) M(final_class[5], 1) M(final_code[US_C_503], 1)
			      M(lat_count, 1) M(paired, 1) M(differ_class, 1) M(differ_code, 1)
			      M(pair_sim_err_only, 1)
			      M(dropped, 1));
		mst_rest(&mb);
		if (EQ("events", ev_drain(), 1))
			check_event(&evs[0], c, p.a, p.s, 200, 503, US_EV_DIFF_CLASS);
		pair_end();
	}

	/* which side erred, for the judge's paired error test */
	{
		static const struct { const char *name; int ac, sc; int which; } errs[] = {
			{ "only-active-errs", 503, 200, 1 },
			{ "both-err", 500, 503, 2 },
		};

		for (int i = 0; i < 2; i++) {
			char c[64], b[64];

			if (pair_subtest(errs[i].name)) {
				snprintf(c, sizeof(c), "pair-err-%d@198.18.0.1", i);
				snprintf(b, sizeof(b), "z9hG4bK-pair-err-%d", i);
				p = pair_invite(c, b);
				n = resp_text(sipbuf, errs[i].ac, c, b, 1, "INVITE");
				send_machine(p.a, sipbuf, n, XDP_REDIRECT);
				n = resp_text(sipbuf, errs[i].sc, c, b, 1, "INVITE");
				msnap_take(&mb);
				send_machine(p.s, sipbuf, n, XDP_DROP);
				if (errs[i].which == 1)
					MST(&mb, p.s, M(resp_class[2], 1) M(final_class[2], 1)
						      M(final_code[US_C_200], 1) M(lat_count, 1) M(paired, 1)
						      M(differ_class, 1) M(differ_code, 1)
						      M(pair_active_err_only, 1) M(dropped, 1));
				else
					MST(&mb, p.s, M(resp_class[5], 1) M(final_class[5], 1)
						      M(final_code[US_C_503], 1) M(lat_count, 1) M(paired, 1)
						      M(agree_class, 1) M(differ_code, 1)
						      M(pair_both_err, 1) M(dropped, 1));
				mst_rest(&mb);
				ev_drain();
				pair_end();
			}
		}
	}

	if (pair_subtest("equal-codes-agree-no-event")) {
		const char *c = "pair-2@198.18.0.1", *b = "z9hG4bK-pair-2";

		p = pair_invite(c, b);
		n = resp_text(sipbuf, 486, c, b, 1, "INVITE");
		send_machine(p.s, sipbuf, n, XDP_DROP);     /* the simulation first */
		snap_take(&sb);
		msnap_take(&mb);
		send_machine(p.a, sipbuf, n, XDP_REDIRECT);
		STATS(&sb, 1, S(US_ST_RESP_FWD, 1));
		MST(&mb, p.a, M(resp_class[4], 1) M(final_class[4], 1) M(final_code[US_C_486], 1)
			      M(lat_count, 1));
		MST(&mb, p.s, M(paired, 1) M(agree_class, 1) M(agree_code, 1));
		mst_rest(&mb);
		EQ("events", ev_drain(), 0);
		pair_end();
	}

	if (pair_subtest("same-class-other-code-makes-event")) {
		const char *c = "pair-3@198.18.0.1", *b = "z9hG4bK-pair-3";

		p = pair_invite(c, b);
		n = resp_text(sipbuf, 480, c, b, 1, "INVITE");
		send_machine(p.s, sipbuf, n, XDP_DROP);
		n = resp_text(sipbuf, 486, c, b, 1, "INVITE");
		snap_take(&sb);
		msnap_take(&mb);
		send_machine(p.a, sipbuf, n, XDP_REDIRECT);
		STATS(&sb, 1, S(US_ST_RESP_FWD, 1) S(US_ST_EVENTS, 1));
		MST(&mb, p.a, M(resp_class[4], 1) M(final_class[4], 1) M(final_code[US_C_486], 1)
			      M(lat_count, 1));
		MST(&mb, p.s, M(paired, 1) M(agree_class, 1) M(differ_code, 1));
		mst_rest(&mb);
		if (EQ("events", ev_drain(), 1))
			check_event(&evs[0], c, p.a, p.s, 486, 480, US_EV_DIFF_CODE);
		pair_end();
	}

	if (pair_subtest("sim-final-retransmission-no-second-pairing")) {
		const char *c = "pair-4@198.18.0.1", *b = "z9hG4bK-pair-4";

		p = pair_invite(c, b);
		n = resp_text(sipbuf, 486, c, b, 1, "INVITE");
		send_machine(p.a, sipbuf, n, XDP_REDIRECT);
		n = resp_text(sipbuf, 480, c, b, 1, "INVITE");
		send_machine(p.s, sipbuf, n, XDP_DROP);
		EQ("events of the pair", ev_drain(), 1);
		snap_take(&sb);
		snap_take(&sb);
		msnap_take(&mb);
		send_machine(p.s, sipbuf, n, XDP_DROP);
		STATS(&sb, 1, S(US_ST_RESP_SIM_DROP, 1) S(US_ST_RETRANS_RESP, 1));
		MST(&mb, p.s, M(resp_class[4], 1) M(retrans_resp, 1) M(dropped, 1));
		mst_rest(&mb);
		EQ("events", ev_drain(), 0);
		pair_end();
	}

	if (pair_subtest("rate-limit-burst-1")) {
		set_cfg(1, 1);
		snap_take(&sb);
		for (int i = 0; i < 2; i++) {
			char c[64], b[64];

			snprintf(c, sizeof(c), "pair-rl-%d@198.18.0.1", i);
			snprintf(b, sizeof(b), "z9hG4bK-pair-rl-%d", i);
			p = pair_invite(c, b);
			n = resp_text(sipbuf, 200, c, b, 1, "INVITE");
			send_machine(p.a, sipbuf, n, XDP_REDIRECT);
			n = resp_text(sipbuf, 500, c, b, 1, "INVITE");
			send_machine(p.s, sipbuf, n, XDP_DROP);
		}
		STATS(&sb, 6, S(US_ST_REQ_FWD, 2) S(US_ST_REQ_MIRRORED, 2) S(US_ST_RESP_FWD, 2)
			      S(US_ST_RESP_SIM_DROP, 2) S(US_ST_EVENTS, 1) S(US_ST_EVENTS_LIMITED, 1));
		EQ("events", ev_drain(), 1);
		set_cfg(1000000, 100);
		pair_end();
	}

	if (pair_subtest("event-rate-0-means-no-events")) {
		set_cfg(0, 0);
		{
			const char *c = "pair-off@198.18.0.1", *b = "z9hG4bK-pair-off";

			p = pair_invite(c, b);
			n = resp_text(sipbuf, 200, c, b, 1, "INVITE");
			send_machine(p.a, sipbuf, n, XDP_REDIRECT);
			n = resp_text(sipbuf, 404, c, b, 1, "INVITE");
			snap_take(&sb);
			send_machine(p.s, sipbuf, n, XDP_DROP);
			STATS(&sb, 1, S(US_ST_RESP_SIM_DROP, 1) S(US_ST_EVENTS_LIMITED, 1));
			EQ("events", ev_drain(), 0);
		}
		set_cfg(1000000, 100);
		pair_end();
	}

	if (pair_subtest("promoted-machine-answer-to-mirrored-txn-dropped")) {
		const char *c = "pair-promo@198.18.0.1", *b = "z9hG4bK-pair-promo";

		p = pair_invite(c, b);
		if (!set_state(p.s, US_MS_ACTIVE, false)) {
			n = resp_text(sipbuf, 200, c, b, 1, "INVITE");
			snap_take(&sb);
			msnap_take(&mb);
			send_machine(p.s, sipbuf, n, XDP_DROP);
			STATS(&sb, 1, S(US_ST_RESP_SIM_DROP, 1));
			MST(&mb, p.s, M(resp_class[2], 1) M(final_class[2], 1)
				      M(final_code[US_C_200], 1) M(lat_count, 1));
			mst_rest(&mb);
			/* the active's answer pairs with it */
			n = resp_text(sipbuf, 200, c, b, 1, "INVITE");
			snap_take(&sb);
			msnap_take(&mb);
			send_machine(p.a, sipbuf, n, XDP_REDIRECT);
			STATS(&sb, 1, S(US_ST_RESP_FWD, 1));
			MST(&mb, p.a, M(resp_class[2], 1) M(final_class[2], 1)
				      M(final_code[US_C_200], 1) M(lat_count, 1));
			MST(&mb, p.s, M(paired, 1) M(agree_class, 1) M(agree_code, 1));
			mst_rest(&mb);
			set_state(p.s, US_MS_SIMULATION, false);
		}
		pair_end();
	}
}
