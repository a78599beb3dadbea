// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Pairing: each side's first final response of a mirrored transaction sets
 * its bit; the side that completes the pair counts it on the simulation
 * machine (the pair's outcomes [active][shadow], equal exact codes, the
 * call's first pair and first failure of each side, both latencies), and
 * a difference of exact codes goes to us_codes and writes an event to the
 * ring buffer, rate-limited per CPU. A side silent past its deadline
 * (max(floor, multiple x the first final's latency)) counts as
 * unanswered at once; its final after that is late and pairs nothing.
 * A simulation machine's non-2xx final to an INVITE is ACKed on the
 * caller's behalf (XDP_TX). Every subtest starts with SVC4 mirrored whole
 * and the ring buffer empty.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "understudy.skel.h"
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
	if ((ac && !e->active_lat_ns) || (sc && !e->sim_lat_ns))
		th_fail("event latencies", "0", "set for the sides that answered");
}

/* us_codes[mid, ac, sc], summed over CPUs */
static long long codepair(__u32 mid, int ac, int sc)
{
	int fd = bpf_map__fd(us_dp_skel(th.dp)->maps.us_codes), ncpu = libbpf_num_possible_cpus();
	struct us_codepair_key k = { .mid = mid, .active = ac, .shadow = sc };
	__u64 *v = calloc(ncpu > 0 ? ncpu : 1, sizeof(*v));
	long long n = 0;

	if (v && !bpf_map_lookup_elem(fd, &k, v))
		for (int i = 0; i < ncpu; i++)
			n += v[i];
	free(v);
	return n;
}

/* us_dp_take_codes (it empties us_codes): the count of [mid, ac, sc] */
static long long taken(__u32 mid, int ac, int sc)
{
	struct us_dp_code *c = calloc(US_CODEPAIRS, sizeof(*c));
	int n = c ? us_dp_take_codes(th.dp, c, US_CODEPAIRS) : -ENOMEM;
	long long r = 0;

	if (n < 0)
		th_fail("us_dp_take_codes", "an error", "0 or more entries");
	for (int i = 0; i < n; i++)
		if (c[i].key.mid == mid && c[i].key.active == ac && c[i].key.shadow == sc)
			r += (long long)c[i].n;
	free(c);
	return r;
}

/* the simulation machine's non-2xx final to an INVITE: ACKed */
static void check_ack(const char *c, const char *b)
{
	char want[256];

	if (strncmp(txbuf, "ACK sip:service@198.18.100.1 SIP/2.0\r\n", 38))
		th_fail("ACK request line", txbuf, "ACK sip:service@198.18.100.1 SIP/2.0");
	snprintf(want, sizeof(want), "branch=%s", b);
	if (!strstr(txbuf, want))
		th_fail("ACK Via", "another branch", want);
	snprintf(want, sizeof(want), "Call-ID: %s\r\n", c);
	if (!strstr(txbuf, want))
		th_fail("ACK Call-ID", txbuf, want);
	if (!strstr(txbuf, "\r\nCSeq: 1 ACK\r\n"))
		th_fail("ACK CSeq", txbuf, "CSeq: 1 ACK");
	if (!strstr(txbuf, ";tag=as83kd9bs\r\n"))
		th_fail("ACK To-tag", txbuf, "the response's tag");
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
	us_dp_set_due(th.dp, SVC4, US_DUE_FLOOR_MS, US_DUE_MULT);
}

#define OUT(a, s) M(pair.out[US_O_##a][US_O_##s], 1)

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
		if (!send_machine_tx(p.s, sipbuf, n))
			check_ack(c, b);
		STATS(&sb, 1, S(US_ST_DLG_ACK_SENT, 1) S(US_ST_EVENTS, 1));
		MST(&mb, p.s, M(resp_class[5], 1) M(final_class[5], 1) M(final_code[US_C_503], 1)
			      M(lat_count, 1) OUT(2XX, ERR) M(pair.calls, 1)
			      M(pair.calls_fail_shadow, 1) M(pair_lat_active, 1)
			      M(pair_lat_shadow, 1) M(dlg_acks, 1));
		mst_rest(&mb);
		EQ("us_codes[sim, 200, 503]", codepair(p.s, 200, 503), 1);
		if (EQ("events", ev_drain(), 1))
			check_event(&evs[0], c, p.a, p.s, 200, 503, US_EV_DIFF_CLASS);
		pair_end();
	}

	/* which side failed, per transaction and per call */
	{
		static const struct { const char *name; int ac, sc; } errs[] = {
			{ "only-active-errs", 503, 200 },
			{ "both-err", 500, 503 },
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
				if (i == 0) {
					/* a 2xx: no ACK of the caller's to pass on yet */
					send_machine(p.s, sipbuf, n, XDP_DROP);
					MST(&mb, p.s, M(resp_class[2], 1) M(final_class[2], 1)
						      M(final_code[US_C_200], 1) M(lat_count, 1)
						      OUT(ERR, 2XX) M(pair.calls, 1)
						      M(pair.calls_fail_active, 1) M(pair_lat_active, 1)
						      M(pair_lat_shadow, 1) M(dropped, 1));
				} else {
					send_machine_tx(p.s, sipbuf, n);
					MST(&mb, p.s, M(resp_class[5], 1) M(final_class[5], 1)
						      M(final_code[US_C_503], 1) M(lat_count, 1)
						      OUT(ERR, ERR) M(pair.calls, 1)
						      M(pair.calls_fail_active, 1)
						      M(pair.calls_fail_shadow, 1)
						      M(pair.calls_fail_both, 1) M(pair_lat_active, 1)
						      M(pair_lat_shadow, 1) M(dlg_acks, 1));
				}
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
		send_machine_tx(p.s, sipbuf, n);       /* the simulation first: ACKed */
		snap_take(&sb);
		msnap_take(&mb);
		send_machine(p.a, sipbuf, n, XDP_REDIRECT);
		STATS(&sb, 1, S(US_ST_RESP_FWD, 1));
		MST(&mb, p.a, M(resp_class[4], 1) M(final_class[4], 1) M(final_code[US_C_486], 1)
			      M(lat_count, 1));
		MST(&mb, p.s, OUT(4XX, 4XX) M(pair.code_same, 1) M(pair.calls, 1)
			      M(pair_lat_active, 1) M(pair_lat_shadow, 1));
		mst_rest(&mb);
		EQ("events", ev_drain(), 0);
		EQ("us_codes[sim, 486, 486]", codepair(p.s, 486, 486), 0);
		pair_end();
	}

	if (pair_subtest("same-class-other-code-makes-event")) {
		const char *c = "pair-3@198.18.0.1", *b = "z9hG4bK-pair-3";

		p = pair_invite(c, b);
		n = resp_text(sipbuf, 480, c, b, 1, "INVITE");
		send_machine_tx(p.s, sipbuf, n);
		n = resp_text(sipbuf, 486, c, b, 1, "INVITE");
		snap_take(&sb);
		msnap_take(&mb);
		send_machine(p.a, sipbuf, n, XDP_REDIRECT);
		STATS(&sb, 1, S(US_ST_RESP_FWD, 1) S(US_ST_EVENTS, 1));
		MST(&mb, p.a, M(resp_class[4], 1) M(final_class[4], 1) M(final_code[US_C_486], 1)
			      M(lat_count, 1));
		MST(&mb, p.s, OUT(4XX, 4XX) M(pair.calls, 1) M(pair_lat_active, 1)
			      M(pair_lat_shadow, 1));
		mst_rest(&mb);
		EQ("us_codes[sim, 486, 480]", codepair(p.s, 486, 480), 1);
		EQ("us_dp_take_codes: [sim, 486, 480]", taken(p.s, 486, 480), 1);
		EQ("us_codes[sim, 486, 480] after taking", codepair(p.s, 486, 480), 0);
		EQ("us_dp_take_codes again: [sim, 486, 480]", taken(p.s, 486, 480), 0);
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
		send_machine_tx(p.s, sipbuf, n);
		EQ("events of the pair", ev_drain(), 1);
		snap_take(&sb);
		msnap_take(&mb);
		/* a retransmitted non-2xx is ACKed again, as RFC 3261 17.1.1.2 asks */
		if (!send_machine_tx(p.s, sipbuf, n))
			check_ack(c, b);
		STATS(&sb, 1, S(US_ST_DLG_ACK_SENT, 1) S(US_ST_RETRANS_RESP, 1));
		MST(&mb, p.s, M(resp_class[4], 1) M(retrans_resp, 1) M(dlg_acks, 1));
		mst_rest(&mb);
		EQ("events", ev_drain(), 0);
		pair_end();
	}

	if (pair_subtest("call-counted-once")) {
		/* two transactions of one call fail on the simulation machine:
		 * two pairs, one call, one failing call */
		const char *c = "pair-call@198.18.0.1", *b1 = "z9hG4bK-pc-1", *b2 = "z9hG4bK-pc-2";

		p = pair_invite(c, b1);
		n = resp_text(sipbuf, 200, c, b1, 1, "INVITE");
		send_machine(p.a, sipbuf, n, XDP_REDIRECT);
		n = resp_text(sipbuf, 500, c, b1, 1, "INVITE");
		send_machine_tx(p.s, sipbuf, n);
		n = req_text(sipbuf, "MESSAGE", c, b2, 2);
		send_client(SVC4, sipbuf, n, p.a, p.s, NULL);
		n = resp_text(sipbuf, 200, c, b2, 2, "MESSAGE");
		send_machine(p.a, sipbuf, n, XDP_REDIRECT);
		n = resp_text(sipbuf, 500, c, b2, 2, "MESSAGE");
		msnap_take(&mb);
		send_machine(p.s, sipbuf, n, XDP_DROP);
		MST(&mb, p.s, M(resp_class[5], 1) M(final_class[5], 1) M(final_code[US_C_500], 1)
			      M(lat_count, 1) OUT(2XX, ERR) M(pair_lat_active, 1)
			      M(pair_lat_shadow, 1) M(dropped, 1));
		mst_rest(&mb);
		ev_drain();
		pair_end();
	}

	if (pair_subtest("silent-simulation-overdue-then-late")) {
		const char *c = "pair-due@198.18.0.1", *b = "z9hG4bK-pair-due";

		EQ("us_dp_set_due", us_dp_set_due(th.dp, SVC4, 20, 1), 0);
		p = pair_invite(c, b);
		n = resp_text(sipbuf, 200, c, b, 1, "INVITE");
		send_machine(p.a, sipbuf, n, XDP_REDIRECT);
		snap_take(&sb);
		msnap_take(&mb);
		usleep(200000);         /* past the 20 ms deadline */
		STATS(&sb, 0, S(US_ST_OVERDUE, 1) S(US_ST_EVENTS, 1));
		MST(&mb, p.s, OUT(2XX, NONE) M(pair.calls, 1) M(pair.calls_fail_shadow, 1)
			      M(overdue, 1));
		mst_rest(&mb);
		if (EQ("events", ev_drain(), 1))
			check_event(&evs[0], c, p.a, p.s, 200, 0, US_EV_DIFF_CLASS);
		/* its answer now: counted, late, never paired */
		snap_take(&sb);
		msnap_take(&mb);
		send_machine(p.s, sipbuf, n, XDP_DROP);
		STATS(&sb, 1, S(US_ST_RESP_SIM_DROP, 1));
		MST(&mb, p.s, M(resp_class[2], 1) M(final_class[2], 1) M(final_code[US_C_200], 1)
			      M(lat_count, 1) M(late, 1) M(dropped, 1));
		mst_rest(&mb);
		pair_end();
	}

	if (pair_subtest("silent-active-overdue")) {
		const char *c = "pair-due-a@198.18.0.1", *b = "z9hG4bK-pair-due-a";

		EQ("us_dp_set_due", us_dp_set_due(th.dp, SVC4, 20, 1), 0);
		p = pair_invite(c, b);
		n = resp_text(sipbuf, 486, c, b, 1, "INVITE");
		send_machine_tx(p.s, sipbuf, n);
		snap_take(&sb);
		msnap_take(&mb);
		usleep(200000);
		STATS(&sb, 0, S(US_ST_OVERDUE, 1) S(US_ST_EVENTS, 1));
		MST(&mb, p.s, OUT(NONE, 4XX) M(pair.calls, 1) M(pair.calls_fail_active, 1));
		MST(&mb, p.a, M(overdue, 1));
		mst_rest(&mb);
		ev_drain();
		pair_end();
	}

	if (pair_subtest("answer-within-deadline-pairs-normally")) {
		const char *c = "pair-due-ok@198.18.0.1", *b = "z9hG4bK-pair-due-ok";

		EQ("us_dp_set_due", us_dp_set_due(th.dp, SVC4, 200, 1), 0);
		p = pair_invite(c, b);
		n = resp_text(sipbuf, 200, c, b, 1, "INVITE");
		send_machine(p.a, sipbuf, n, XDP_REDIRECT);
		msnap_take(&mb);
		send_machine(p.s, sipbuf, n, XDP_DROP);
		snap_take(&sb);
		usleep(400000);         /* the deadline passes: nothing more */
		STATS(&sb, 0);
		MST(&mb, p.s, M(resp_class[2], 1) M(final_class[2], 1) M(final_code[US_C_200], 1)
			      M(lat_count, 1) OUT(2XX, 2XX) M(pair.code_same, 1) M(pair.calls, 1)
			      M(pair_lat_active, 1) M(pair_lat_shadow, 1) M(dropped, 1));
		mst_rest(&mb);
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
			send_machine_tx(p.s, sipbuf, n);
		}
		STATS(&sb, 6, S(US_ST_REQ_FWD, 2) S(US_ST_REQ_MIRRORED, 2) S(US_ST_RESP_FWD, 2)
			      S(US_ST_DLG_ACK_SENT, 2) S(US_ST_EVENTS, 1) S(US_ST_EVENTS_LIMITED, 1));
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
			send_machine_tx(p.s, sipbuf, n);
			STATS(&sb, 1, S(US_ST_DLG_ACK_SENT, 1) S(US_ST_EVENTS_LIMITED, 1));
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
				      M(final_code[US_C_200], 1) M(lat_count, 1) M(dropped, 1));
			mst_rest(&mb);
			/* the active's answer pairs with it */
			n = resp_text(sipbuf, 200, c, b, 1, "INVITE");
			snap_take(&sb);
			msnap_take(&mb);
			send_machine(p.a, sipbuf, n, XDP_REDIRECT);
			STATS(&sb, 1, S(US_ST_RESP_FWD, 1));
			MST(&mb, p.a, M(resp_class[2], 1) M(final_class[2], 1)
				      M(final_code[US_C_200], 1) M(lat_count, 1));
			MST(&mb, p.s, OUT(2XX, 2XX) M(pair.code_same, 1) M(pair.calls, 1)
				      M(pair_lat_active, 1) M(pair_lat_shadow, 1));
			mst_rest(&mb);
			set_state(p.s, US_MS_SIMULATION, false);
		}
		pair_end();
	}
}
