// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The control machine: a machine of the active version in the control
 * role receives every mirrored call too (a third copy, in group order
 * after the simulation machine's), is paired with the active machine like
 * a simulation machine, and its pairs are also counted on the simulation
 * machine of the same call (us_mstats.ctl): the judge's noise floor. It
 * gets a dialog of its own, and never a call the simulation machine does
 * not get. c1 is configured here, behind a3's host.
 */
#include <stdio.h>
#include <string.h>

#include "fixture.h"

#define VIP4 "198.18.100.1"

static size_t resp(char *buf, size_t cap, int code, const char *c, const char *tag)
{
	int n = snprintf(buf, cap,
			 "SIP/2.0 %d %s\r\n"
			 "Via: SIP/2.0/UDP 198.18.0.1:5060;branch=z9hG4bK-ctl-inv;rport\r\n"
			 "From: \"Alice\" <sip:alice@198.18.0.1>;tag=1928301774\r\n"
			 "To: <sip:service@" VIP4 ">;tag=%s\r\n"
			 "Call-ID: %s\r\n"
			 "CSeq: 1 INVITE\r\n"
			 "Contact: <sip:service@" VIP4 ":5060>\r\n"
			 "Content-Length: 0\r\n\r\n",
			 code, code == 200 ? "OK" : "Whatever", tag, c);

	return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

static size_t bye(char *buf, size_t cap, const char *c, const char *tag)
{
	int n = snprintf(buf, cap,
			 "BYE sip:service@" VIP4 ":5060 SIP/2.0\r\n"
			 "Via: SIP/2.0/UDP 198.18.0.1:5060;branch=z9hG4bK-ctl-bye;rport\r\n"
			 "Max-Forwards: 70\r\n"
			 "From: \"Alice\" <sip:alice@198.18.0.1>;tag=1928301774\r\n"
			 "To: <sip:service@" VIP4 ">;tag=%s\r\n"
			 "Call-ID: %s\r\n"
			 "CSeq: 2 BYE\r\n"
			 "Content-Length: 0\r\n\r\n",
			 tag, c);

	return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

static struct th_res E;
static char mb[FRAME_MAX];

/* The client's message of call c: three copies planned, each through the
 * egress program in group order; copy i's payload must be want[i] (NULL:
 * the frame as sent). */
static void three_copies(const char *text, size_t n, __u32 a, __u32 s, const char *const want[3])
{
	size_t len = frame_client(fin, 0, svc_vip[SVC4], 5060, text, n);
	struct us_meta md;
	struct us_plan p;
	const __u32 mids[3] = { a, s, M_C1 };

	th_run(th.fd_client, TN_CLI, fin, len, &R);
	if (!check_run(&R) || !check_ret(R.ret, XDP_REDIRECT) ||
	    !EQ("out.meta_len", R.meta, sizeof(md)))
		return;
	memcpy(&md, R.out, sizeof(md));
	EQ("meta.flags&SHARED (every copy by mach0)", !!(md.flags & US_META_SHARED), 1);
	if (plan_get(md.seq, &p)) {
		th_fail("plans[seq]", "missing", "the copies' plan");
		return;
	}
	EQ("plan.ncopies", p.ncopies, 3);
	for (int i = 0; i < 3; i++) {
		struct pkt_view pv;
		char err[160], what[64];

		snprintf(what, sizeof(what), "copy %d: dmac", i);
		check_mac(what, p.c[i].dmac, mach_mac(mids[i]));
		EQ("copy: mode", p.c[i].mode, want[i] ? US_CP_EDIT : US_CP_AS_IS);
		th_run_meta(th.fd_egress_t, (int)p.c[i].ifindex, R.out, R.len, sizeof(md), &E);
		if (!check_run(&E) || !check_ret(E.ret, XDP_PASS))
			continue;
		check_mac(what, E.out + E.meta, mach_mac(mids[i]));
		if (!want[i]) {
			if (E.len - E.meta != len || memcmp(E.out + E.meta + 12, fin + 12, len - 12))
				th_fail(what, "changed beyond the MACs", "the frame as sent");
			continue;
		}
		if (pkt_parse(E.out + E.meta, E.len - E.meta, &pv, err, sizeof(err))) {
			th_fail(what, err, "a whole frame");
			continue;
		}
		if (pv.payload_len != strlen(want[i]) ||
		    memcmp(E.out + E.meta + pv.payload_off, want[i], pv.payload_len))
			th_fail(what, "another payload", want[i]);
	}
}

TH_TEST(control)
{
	const struct mach *c1 = mach_of(M_C1);
	struct us_call call;
	struct us_txn t;
	struct snap sb;
	struct msnap msb;
	size_t n;

	if (set_machine(c1, US_MS_CONTROL) || th_set_mac(M_C1, TN_A3) ||
	    us_dp_rebuild(th.dp, SVC4, US_POOL_CTL)) {
		th_fail("configuring c1", us_dp_error(th.dp), "0");
		return;
	}
	set_share(SVC4, 10000);

	if (th_subtest("three-copies-in-group-order")) {
		const char *c = "ctl-1@198.18.0.1";
		__u32 a = pred_active(SVC4, c), s = pred_sim(SVC4, c);
		const char *const asis[3] = { NULL, NULL, NULL };

		n = req_text(sipbuf, "INVITE", c, "z9hG4bK-ctl-inv", 1);
		snap_take(&sb);
		msnap_take(&msb);
		three_copies(sipbuf, n, a, s, asis);
		STATS(&sb, 1, S(US_ST_REQ_FWD, 1) S(US_ST_REQ_MIRRORED, 1));
		MST(&msb, a, M(req[US_M_INVITE], 1));
		MST(&msb, s, M(req[US_M_INVITE], 1));
		MST(&msb, M_C1, M(req[US_M_INVITE], 1));
		mst_rest(&msb);
		if (!call_get(SVC4, c, &call))
			EQ("call.ctl_mid", call.ctl_mid, M_C1);
		if (!txn_get(SVC4, c, "z9hG4bK-ctl-inv", 1, US_M_INVITE, &t))
			EQ("txn.mid[control]", t.mid[2], M_C1);
	}

	if (th_subtest("pairs-of-the-control-on-the-simulation-machine")) {
		const char *c = "ctl-2@198.18.0.1";
		__u32 a = pred_active(SVC4, c), s = pred_sim(SVC4, c);
		const char *const asis[3] = { NULL, NULL, NULL };

		n = req_text(sipbuf, "INVITE", c, "z9hG4bK-ctl-inv", 1);
		three_copies(sipbuf, n, a, s, asis);
		n = resp(mb, sizeof(mb), 200, c, "act-2");
		send_machine(a, mb, n, XDP_REDIRECT);
		n = resp(mb, sizeof(mb), 200, c, "sim-2");
		send_machine(s, mb, n, XDP_DROP);
		/* the control fails the call: its pair, and the simulation
		 * machine's record of it */
		n = resp(mb, sizeof(mb), 503, c, "ctl-2");
		msnap_take(&msb);
		send_machine_tx(M_C1, mb, n);          /* a non-2xx: ACKed */
		MST(&msb, M_C1, M(resp_class[5], 1) M(final_class[5], 1) M(final_code[US_C_503], 1)
				M(lat_count, 1) M(pair.out[US_O_2XX][US_O_ERR], 1) M(pair.calls, 1)
				M(pair.calls_fail_shadow, 1) M(pair_lat_active, 1)
				M(pair_lat_shadow, 1) M(dlg_acks, 1));
		MST(&msb, s, M(ctl.out[US_O_2XX][US_O_ERR], 1) M(ctl.calls, 1)
			     M(ctl.calls_fail_shadow, 1));
		mst_rest(&msb);
	}

	if (th_subtest("dialogs-of-their-own")) {
		const char *c = "ctl-3@198.18.0.1";
		__u32 a = pred_active(SVC4, c), s = pred_sim(SVC4, c);
		const char *const asis[3] = { NULL, NULL, NULL };
		char w1[1024], w2[1024];
		const char *want[3] = { NULL, w1, w2 };

		n = req_text(sipbuf, "INVITE", c, "z9hG4bK-ctl-inv", 1);
		three_copies(sipbuf, n, a, s, asis);
		n = resp(mb, sizeof(mb), 200, c, "act-3");
		send_machine(a, mb, n, XDP_REDIRECT);
		n = resp(mb, sizeof(mb), 200, c, "simulation-3-tag");
		send_machine(s, mb, n, XDP_DROP);
		n = resp(mb, sizeof(mb), 200, c, "c3");
		send_machine(M_C1, mb, n, XDP_DROP);
		bye(w1, sizeof(w1), c, "simulation-3-tag");
		bye(w2, sizeof(w2), c, "c3");
		n = bye(sipbuf, sizeof(sipbuf), c, "act-3");
		snap_take(&sb);
		three_copies(sipbuf, n, a, s, want);
		STATS(&sb, 1, S(US_ST_REQ_FWD, 1) S(US_ST_REQ_MIRRORED, 1) S(US_ST_DLG_REWRITTEN, 2));
	}

	if (th_subtest("never-without-the-simulation-machine")) {
		const char *c = "ctl-4@198.18.0.1";
		__u32 a = pred_active(SVC4, c);

		/* the simulation pool empty: nothing is mirrored, not even to
		 * the control machine */
		set_state(M_S1, US_MS_REJECTED, true);
		n = req_text(sipbuf, "INVITE", c, "z9hG4bK-ctl-inv", 1);
		msnap_take(&msb);
		EQ("machine", send_client(SVC4, sipbuf, n, a, MID_NONE, NULL), a);
		MST(&msb, a, M(req[US_M_INVITE], 1));
		mst_rest(&msb);
		if (!call_get(SVC4, c, &call))
			EQ("call.ctl_mid", call.ctl_mid, MID_NONE);
		set_state(M_S1, US_MS_SIMULATION, true);
	}

	set_share(SVC4, 0);
	us_dp_del_machine(th.dp, M_C1);
	us_dp_rebuild(th.dp, SVC4, US_POOL_CTL);
	th_set_mac(M_A3, TN_A3);
}
