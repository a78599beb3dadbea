// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Mirroring: a call is mirrored when its hash falls under the service's
 * share, decided when it is first seen and kept for the whole call; the
 * copy goes to the simulation machine the simulation pool's table names,
 * only while it is in simulation and its MAC is known, and only when a
 * mirror group joins the two interfaces. The copy's metadata (both next
 * hops, a per-CPU sequence number) is checked here; the copies themselves
 * in egress.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "understudy.skel.h"
#include "fixture.h"

static const struct pcase skip_cases[] = {
	{ .name = "skipped/no-neighbour", .svc = SVC_SKIPNEIGH, .sip = INV(),
	  .ret = XDP_REDIRECT, .out = O_MACHINE, .txn = true, .mirror_skip = true,
	  .st = { S(US_ST_REQ_FWD, 1) S(US_ST_MIRROR_SKIPPED, 1) } },
	{ .name = "skipped/no-group", .svc = SVC_SKIPGROUP, .sip = INV(),
	  .ret = XDP_REDIRECT, .out = O_MACHINE, .txn = true, .mirror_skip = true,
	  .st = { S(US_ST_REQ_FWD, 1) S(US_ST_MIRROR_SKIPPED, 1) } },
};

/* A mirrored INVITE of call c (SVC4 at share 10000), checked in full:
 * action, metadata, counters, the call and the transaction. */
static void mirrored_invite(const char *c, const char *b, __u32 *seq)
{
	__u32 a = pred_active(SVC4, c), s = pred_sim(SVC4, c);
	struct us_call call;
	struct us_txn t;
	struct us_dlg d;
	struct snap sb;
	struct msnap mb;
	size_t n;

	EQ("predicted sim", s, M_S1);
	n = req_text(sipbuf, "INVITE", c, b, 1);
	snap_take(&sb);
	msnap_take(&mb);
	send_client(SVC4, sipbuf, n, a, s, seq);
	STATS(&sb, 1, S(US_ST_REQ_FWD, 1) S(US_ST_REQ_MIRRORED, 1));
	MST(&mb, a, M(req[US_M_INVITE], 1));
	MST(&mb, s, M(req[US_M_INVITE], 1));
	mst_rest(&mb);
	if (call_get(SVC4, c, &call)) {
		th_fail("calls[callid]", "missing", "present");
	} else {
		EQ("call.active_mid", call.active_mid, a);
		EQ("call.sim_mid", call.sim_mid, s);
	}
	if (txn_get(SVC4, c, b, 1, US_M_INVITE, &t)) {
		th_fail("txns[invite]", "missing", "present");
	} else {
		EQ("txn.mid[active]", t.mid[0], a);
		EQ("txn.mid[sim]", t.mid[1], s);
	}
	if (dlg_get(SVC4, c, &d)) {
		th_fail("dlgs[callid]", "missing", "present");
	} else {
		EQ("dlg.mid[active]", d.mid[0], a);
		EQ("dlg.mid[sim]", d.mid[1], s);
		EQ("dlg.mid[control]", d.mid[2], MID_NONE);
		EQ("dlg.inv0_cseq", d.inv0_cseq, 1);
		EQ("dlg.callid_len", d.callid_len, strlen(c));
		if (memcmp(d.callid, c, strlen(c)))
			th_fail("dlg.callid", "other bytes", c);
	}
}

TH_TEST(mirror)
{
	struct us_call call;
	struct us_txn t;
	struct snap sb;
	struct msnap mb;
	size_t n;

	run_pcases(skip_cases, ARRAY_SIZE(skip_cases));

	if (th_subtest("share-0-not-mirrored")) {
		for (__u32 svc = SVC4; svc <= SVC6; svc++) {
			const char *c = svc == SVC4 ? "mir-0-v4@198.18.0.1" : "mir-0-v6@198.18.0.1";
			__u32 a = pred_active(svc, c);

			n = req_text(sipbuf, "INVITE", c, "z9hG4bK-mir-0", 1);
			snap_take(&sb);
			msnap_take(&mb);
			EQ("machine", send_client(svc, sipbuf, n, a, MID_NONE, NULL), a);
			STATS(&sb, 1, S(US_ST_REQ_FWD, 1));
			MST(&mb, a, M(req[US_M_INVITE], 1));
			mst_rest(&mb);
			if (!call_get(svc, c, &call))
				EQ("call.sim_mid", call.sim_mid, MID_NONE);
			if (!txn_get(svc, c, "z9hG4bK-mir-0", 1, US_M_INVITE, &t))
				EQ("txn.mid[sim]", t.mid[1], MID_NONE);
		}
	}

	if (th_subtest("v4-share-10000-same-interface")) {
		set_share(SVC4, 10000);
		mirrored_invite("mir-all-v4@198.18.0.1", "z9hG4bK-mir-all-v4", NULL);
		set_share(SVC4, 0);
	}

	if (th_subtest("v4-whole-call-mirrored")) {
		const char *c = "mir-whole-v4@198.18.0.1";
		__u32 a, s, seq0 = 0, seq1 = 0;

		set_share(SVC4, 10000);
		a = pred_active(SVC4, c);
		s = pred_sim(SVC4, c);
		mirrored_invite(c, "z9hG4bK-mir-whole-v4", &seq0);
		n = req_text(sipbuf, "ACK", c, "z9hG4bK-mir-whole-v4-ack", 1);
		send_mirror_check(SVC4, sipbuf, n, a, s, &seq1);
		EQ("meta.seq increments", seq1, seq0 + 1);
		n = req_text(sipbuf, "BYE", c, "z9hG4bK-mir-whole-v4-bye", 2);
		send_mirror_check(SVC4, sipbuf, n, a, s, &seq0);
		EQ("meta.seq increments", seq0, seq1 + 1);
		set_share(SVC4, 0);
	}

	if (th_subtest("retransmission-mirrored-and-counted")) {
		const char *c = "mir-retr-v4@198.18.0.1", *b = "z9hG4bK-mir-retr-v4";
		__u32 a, s;

		set_share(SVC4, 10000);
		a = pred_active(SVC4, c);
		s = pred_sim(SVC4, c);
		mirrored_invite(c, b, NULL);
		n = req_text(sipbuf, "INVITE", c, b, 1);
		snap_take(&sb);
		msnap_take(&mb);
		send_client(SVC4, sipbuf, n, a, s, NULL);
		STATS(&sb, 1, S(US_ST_REQ_FWD, 1) S(US_ST_REQ_MIRRORED, 1) S(US_ST_RETRANS_REQ, 1));
		MST(&mb, a, M(retrans_req, 1));
		MST(&mb, s, M(retrans_req, 1));
		mst_rest(&mb);
		set_share(SVC4, 0);
	}

	if (th_subtest("v6-share-10000-two-interfaces")) {
		const char *c = "mir-all-v6@198.18.0.1", *b = "z9hG4bK-mir-all-v6";
		__u32 a = pred_active(SVC6, c), s;

		set_share(SVC6, 10000);
		s = pred_sim(SVC6, c);
		EQ("predicted sim", s, M_S2);
		n = req_text(sipbuf, "INVITE", c, b, 1);
		snap_take(&sb);
		msnap_take(&mb);
		send_client(SVC6, sipbuf, n, a, s, NULL);
		STATS(&sb, 1, S(US_ST_REQ_FWD, 1) S(US_ST_REQ_MIRRORED, 1));
		MST(&mb, a, M(req[US_M_INVITE], 1));
		MST(&mb, s, M(req[US_M_INVITE], 1));
		mst_rest(&mb);
		set_share(SVC6, 0);
	}

	if (th_subtest("long-callid-copied-64-bytes")) {
		char c[128];
		struct us_dlg d;
		__u32 a, s;

		set_share(SVC4, 10000);
		memset(c, 'x', sizeof(c));
		memcpy(c, "mir-long-", 9);
		c[100] = 0;
		a = pred_active(SVC4, c);
		s = pred_sim(SVC4, c);
		EQ("predicted sim", s, M_S1);
		n = req_text(sipbuf, "INVITE", c, "z9hG4bK-long", 1);
		send_client(SVC4, sipbuf, n, a, s, NULL);
		if (dlg_get(SVC4, c, &d)) {
			th_fail("dlgs[callid]", "missing", "present");
		} else {
			EQ("dlg.callid_len", d.callid_len, US_CALLID_COPY);
			if (memcmp(d.callid, c, US_CALLID_COPY))
				th_fail("dlg.callid", "other bytes", "the first 64 of the Call-ID");
		}
		set_share(SVC4, 0);
	}

	if (th_subtest("decision-per-call-at-50pct")) {
		int mirrored = 0;

		set_share(SVC4, 5000);
		for (int i = 0; i < NCALL; i++) {
			char c[64], b[64];
			__u32 a, s;
			int m = 0;

			snprintf(c, sizeof(c), "mir-half-%d@198.18.0.1", i);
			a = pred_active(SVC4, c);
			s = pred_sim(SVC4, c);
			snprintf(b, sizeof(b), "z9hG4bK-half-%d", i);
			n = req_text(sipbuf, "INVITE", c, b, 1);
			m += send_mirror_check(SVC4, sipbuf, n, a, s, NULL);
			snprintf(b, sizeof(b), "z9hG4bK-half-%d-ack", i);
			n = req_text(sipbuf, "ACK", c, b, 1);
			m += send_mirror_check(SVC4, sipbuf, n, a, s, NULL);
			snprintf(b, sizeof(b), "z9hG4bK-half-%d-bye", i);
			n = req_text(sipbuf, "BYE", c, b, 2);
			m += send_mirror_check(SVC4, sipbuf, n, a, s, NULL);
			if (m != 0 && m != 3)
				th_eqf(m, s != MID_NONE ? 3 : 0, "call[%d] messages mirrored", i);
			mirrored += m == 3;
		}
		if (mirrored == 0 || mirrored == NCALL)
			th_eqf(mirrored, NCALL / 2, "calls mirrored of %d (some, not all)", NCALL);
		set_share(SVC4, 0);
	}

	if (th_subtest("share-change-mid-call-keeps-decision")) {
		const char *x = "mir-chg-x@198.18.0.1", *y = "mir-chg-y@198.18.0.1";
		__u32 ax = pred_active(SVC4, x), ay = pred_active(SVC4, y), sx;

		set_share(SVC4, 10000);
		sx = pred_sim(SVC4, x);
		n = req_text(sipbuf, "INVITE", x, "z9hG4bK-chg-x", 1);
		send_mirror_check(SVC4, sipbuf, n, ax, sx, NULL);
		set_share(SVC4, 0);
		n = req_text(sipbuf, "BYE", x, "z9hG4bK-chg-x-bye", 2);
		send_mirror_check(SVC4, sipbuf, n, ax, sx, NULL);
		n = req_text(sipbuf, "INVITE", y, "z9hG4bK-chg-y", 1);
		send_mirror_check(SVC4, sipbuf, n, ay, MID_NONE, NULL);
		set_share(SVC4, 10000);
		n = req_text(sipbuf, "BYE", y, "z9hG4bK-chg-y-bye", 2);
		send_mirror_check(SVC4, sipbuf, n, ay, MID_NONE, NULL);
		set_share(SVC4, 0);
	}

	/* a call mirrored to s1 from before s1 left simulation; another that
	 * begins after: neither is mirrored to it any more (a call whose
	 * simulation machine goes away cannot stay whole) */
	for (int k = 0; k < 2; k++) {
		enum us_mstate st = k ? US_MS_REMOVED : US_MS_REJECTED;
		char p[64], q[64];
		__u32 ap, aq;

		if (!th_subtest("%s-simulation-machine-gets-nothing", us_state_name(st)))
			continue;
		snprintf(p, sizeof(p), "mir-%s-p@198.18.0.1", us_state_name(st));
		snprintf(q, sizeof(q), "mir-%s-q@198.18.0.1", us_state_name(st));
		ap = pred_active(SVC4, p);
		aq = pred_active(SVC4, q);
		set_share(SVC4, 10000);
		n = req_text(sipbuf, "INVITE", p, "z9hG4bK-rej-p", 1);
		send_mirror_check(SVC4, sipbuf, n, ap, M_S1, NULL);
		if (!set_state(M_S1, st, false)) {
			snap_take(&sb);
			msnap_take(&mb);
			n = req_text(sipbuf, "INFO", p, "z9hG4bK-rej-p-i", 2);
			send_client(SVC4, sipbuf, n, ap, MID_NONE, NULL);
			n = req_text(sipbuf, "INVITE", q, "z9hG4bK-rej-q", 1);
			send_client(SVC4, sipbuf, n, aq, MID_NONE, NULL);
			STATS(&sb, 2, S(US_ST_REQ_FWD, 2));
			if (ap == aq) {
				MST(&mb, ap, M(req[US_M_INFO], 1) M(req[US_M_INVITE], 1));
			} else {
				MST(&mb, ap, M(req[US_M_INFO], 1));
				MST(&mb, aq, M(req[US_M_INVITE], 1));
			}
			mst_rest(&mb);
			set_state(M_S1, US_MS_SIMULATION, false);
		}
		set_share(SVC4, 0);
	}

	if (th_subtest("empty-simulation-pool")) {
		const char *r = "mir-rej-r@198.18.0.1";
		__u32 ar = pred_active(SVC4, r);

		set_share(SVC4, 10000);
		if (!set_state(M_S1, US_MS_REJECTED, true)) {
			EQ("sim table", pred_sim(SVC4, r), MID_NONE);
			n = req_text(sipbuf, "INVITE", r, "z9hG4bK-rej-r", 1);
			send_mirror_check(SVC4, sipbuf, n, ar, MID_NONE, NULL);
			if (!call_get(SVC4, r, &call))
				EQ("call.sim_mid", call.sim_mid, MID_NONE);
			set_state(M_S1, US_MS_SIMULATION, true);
		}
		set_share(SVC4, 0);
	}

	if (th_subtest("call-unmirrored-while-sim-rejected-stays-unmirrored")) {
		/* q begins while s1 is rejected: no mirror then, so none after
		 * s1 is back */
		const char *q = "mir-rej-q@198.18.0.1";
		__u32 aq = pred_active(SVC4, q);

		set_share(SVC4, 10000);
		if (!set_state(M_S1, US_MS_REJECTED, false)) {
			n = req_text(sipbuf, "INVITE", q, "z9hG4bK-rej-q", 1);
			send_mirror_check(SVC4, sipbuf, n, aq, MID_NONE, NULL);
			if (!set_state(M_S1, US_MS_SIMULATION, false)) {
				EQ("sim table", pred_sim(SVC4, q), M_S1);
				n = req_text(sipbuf, "BYE", q, "z9hG4bK-rej-q-bye", 5);
				send_mirror_check(SVC4, sipbuf, n, aq, MID_NONE, NULL);
				if (!call_get(SVC4, q, &call))
					EQ("call.sim_mid", call.sim_mid, MID_NONE);
			}
		}
		set_share(SVC4, 0);
	}

	if (th_subtest("call-unmirrored-for-no-neighbour-stays-unmirrored")) {
		const char *c = "mir-neigh@198.18.0.1";
		char cmd[200];

		n = req_text(sipbuf, "INVITE", c, "z9hG4bK-neigh", 1);
		snap_take(&sb);
		send_client(SVC_SKIPNEIGH, sipbuf, n, M_SN_A, MID_NONE, NULL);
		STATS(&sb, 1, S(US_ST_REQ_FWD, 1) S(US_ST_MIRROR_SKIPPED, 1));
		snprintf(cmd, sizeof(cmd),
			 "ip neigh replace 198.18.1.51 lladdr 02:a0:00:00:01:51 dev %s nud permanent",
			 testnet.ifs[TN_MACH].name);
		if (system(cmd)) {
			th_fail("ip neigh", "failed", "0");
		} else {
			size_t len;

			n = req_text(sipbuf, "BYE", c, "z9hG4bK-neigh-bye", 2);
			len = frame_client(fin, 0, svc_vip[SVC_SKIPNEIGH], 5060, sipbuf, n);
			snap_take(&sb);
			th_run(th.fd_client, TN_CLI, fin, len, &R);
			if (check_run(&R))
				check_ret(R.ret, XDP_REDIRECT);
			EQ("stats[req_mirrored]", stat_delta(&sb, US_ST_REQ_MIRRORED), 0);
			if (!call_get(SVC_SKIPNEIGH, c, &call))
				EQ("call.sim_mid", call.sim_mid, MID_NONE);
			snprintf(cmd, sizeof(cmd), "ip neigh del 198.18.1.51 dev %s",
				 testnet.ifs[TN_MACH].name);
			if (system(cmd))
				th_fail("ip neigh del", "failed", "0");
		}
	}

	if (th_subtest("sim-mac-unknown-not-mirrored")) {
		/* the machine side cannot recognise s1 by its MAC yet: its
		 * answers would pass to the client, so nothing is cloned to it,
		 * and the call stays unmirrored once the MAC is known */
		const char *c = "mir-mac@198.18.0.1";
		int fd = bpf_map__fd(us_dp_skel(th.dp)->maps.us_macs);
		struct us_mac_key k = { .ifindex = testnet.ifs[TN_MACH].ifindex };
		__u32 a = pred_active(SVC4, c), mid = M_S1;

		set_share(SVC4, 10000);
		memcpy(k.mac, testnet.hosts[TN_S1].mac, 6);
		EQ("delete s1's MAC", bpf_map_delete_elem(fd, &k), 0);
		n = req_text(sipbuf, "INVITE", c, "z9hG4bK-mac", 1);
		snap_take(&sb);
		send_client(SVC4, sipbuf, n, a, MID_NONE, NULL);
		STATS(&sb, 1, S(US_ST_REQ_FWD, 1) S(US_ST_MIRROR_SKIPPED, 1));
		if (!call_get(SVC4, c, &call))
			EQ("call.sim_mid", call.sim_mid, MID_NONE);
		EQ("restore s1's MAC", bpf_map_update_elem(fd, &k, &mid, 0), 0);
		n = req_text(sipbuf, "BYE", c, "z9hG4bK-mac-bye", 2);
		send_mirror_check(SVC4, sipbuf, n, a, MID_NONE, NULL);
		set_share(SVC4, 0);
	}
}
