// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The machine side (us_machine): a machine is told by its source MAC; an
 * active (or draining) machine's SIP answers are counted, timed and
 * forwarded to the client, anything else it sends passes to the kernel; a
 * simulation (or rejected) machine's SIP is counted and dropped, and what
 * else it would route on is dropped as stray. Responses: provisional and
 * final, retransmissions counted once, final codes by index, latency.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "fixture.h"

static const struct pcase machine_cases[] = {
	{ .name = "final-unknown-txn-v4", .machine = true, .host = TN_A1, .sip = RESP(200),
	  .ret = XDP_REDIRECT, .out = O_CLIENT,
	  .st = { S(US_ST_RESP_FWD, 1) S(US_ST_RESP_NO_TXN, 1) },
	  .ms = { M(resp_class[2], 1) M(final_no_txn, 1) } },
	{ .name = "final-unknown-txn-v6", .machine = true, .v6 = true, .host = TN_B1,
	  .sip = RESP(486), .ret = XDP_REDIRECT, .out = O_CLIENT,
	  .st = { S(US_ST_RESP_FWD, 1) S(US_ST_RESP_NO_TXN, 1) },
	  .ms = { M(resp_class[4], 1) M(final_no_txn, 1) } },
	{ .name = "final-vlan2", .machine = true, .nvlan = 2, .host = TN_A2,
	  .sip = RESP(603), .ret = XDP_REDIRECT, .out = O_CLIENT,
	  .st = { S(US_ST_RESP_FWD, 1) S(US_ST_RESP_NO_TXN, 1) },
	  .ms = { M(resp_class[6], 1) M(final_no_txn, 1) } },
	{ .name = "provisional", .machine = true, .host = TN_A1, .sip = RESP(180),
	  .ret = XDP_REDIRECT, .out = O_CLIENT, .st = { S(US_ST_RESP_FWD, 1) },
	  .ms = { M(resp_class[1], 1) } },
	{ .name = "request-from-active", .machine = true, .host = TN_A1,
	  .sip = { .method = "BYE" }, .ret = XDP_REDIRECT, .out = O_CLIENT,
	  .st = { S(US_ST_RESP_FWD, 1) } },
	{ .name = "unknown-mac", .machine = true, .host = TN_CLIENT, .sip = RESP(200),
	  .ret = XDP_PASS, .out = O_SAME, .st = PASSED },
	{ .name = "active-arp", .machine = true, .host = TN_A1, .kind = K_ARP,
	  .ret = XDP_PASS, .out = O_SAME, .st = PASSED },
	{ .name = "active-other-port", .machine = true, .host = TN_A1, .sip = RESP(200),
	  .sport = 5070, .ret = XDP_PASS, .out = O_SAME, .st = PASSED },
	{ .name = "active-tcp", .machine = true, .host = TN_A1, .kind = K_TCP,
	  .ret = XDP_PASS, .out = O_SAME, .st = PASSED },
	{ .name = "active-not-sip", .machine = true, .host = TN_A1, .kind = K_RAW,
	  .raw = "not SIP, not at all\r\n", .ret = XDP_PASS, .out = O_SAME,
	  .st = BAD(US_ST_NOT_SIP) },
	{ .name = "active-no-callid", .machine = true, .host = TN_A1,
	  .sip = RESP(200, .omit_callid = true), .ret = XDP_PASS, .out = O_SAME,
	  .st = BAD(US_ST_NO_CALLID) },
	{ .name = "active-fragment", .machine = true, .host = TN_A1, .sip = RESP(200),
	  .mf = true, .ret = XDP_PASS, .out = O_SAME, .st = BAD(US_ST_FRAGMENT) },
	{ .name = "active-udp-length-beyond-ip", .machine = true, .host = TN_A1,
	  .sip = RESP(200), .bad_udp_len = true, .ret = XDP_PASS, .out = O_SAME,
	  .st = BAD(US_ST_BAD_L4) },
	{ .name = "sim-provisional", .machine = true, .host = TN_S1, .sip = RESP(100),
	  .ret = XDP_DROP, .out = O_ANY, .st = { S(US_ST_RESP_SIM_DROP, 1) },
	  .ms = { M(resp_class[1], 1) M(dropped, 1) } },
	{ .name = "sim-final-unknown-txn", .machine = true, .host = TN_S1,
	  .sip = RESP(200), .ret = XDP_DROP, .out = O_ANY,
	  .st = { S(US_ST_RESP_SIM_DROP, 1) S(US_ST_RESP_NO_TXN, 1) },
	  .ms = { M(resp_class[2], 1) M(final_no_txn, 1)
		  M(dropped, 1) } },
	{ .name = "sim-v6-final", .machine = true, .v6 = true, .host = TN_S2,
	  .sip = RESP(503), .ret = XDP_DROP, .out = O_ANY,
	  .st = { S(US_ST_RESP_SIM_DROP, 1) S(US_ST_RESP_NO_TXN, 1) },
	  .ms = { M(resp_class[5], 1) M(final_no_txn, 1)
		  M(dropped, 1) } },
	{ .name = "sim-request", .machine = true, .host = TN_S1,
	  .sip = { .method = "BYE" }, .ret = XDP_DROP, .out = O_ANY,
	  .st = { S(US_ST_RESP_SIM_DROP, 1) }, .ms = { M(dropped, 1) } },
	{ .name = "sim-not-sip", .machine = true, .host = TN_S1, .kind = K_RAW,
	  .raw = "garbage garbage garbage\r\n", .ret = XDP_DROP, .out = O_ANY,
	  .st = { S(US_ST_NOT_SIP, 1) S(US_ST_RESP_SIM_DROP, 1) }, .ms = { M(dropped, 1) } },
	{ .name = "sim-stray-udp-v4", .machine = true, .host = TN_S1, .sip = INV(),
	  .saddr = "198.18.1.11", .sport = 40000, .dport = 9999, .ret = XDP_DROP, .out = O_ANY,
	  .st = { S(US_ST_SIM_STRAY_DROP, 1) }, .ms = { M(dropped, 1) } },
	{ .name = "sim-stray-udp-v6", .machine = true, .v6 = true, .host = TN_S2,
	  .sip = INV(), .saddr = "2001:db8:2::11", .sport = 40000, .dport = 9999,
	  .ret = XDP_DROP, .out = O_ANY, .st = { S(US_ST_SIM_STRAY_DROP, 1) },
	  .ms = { M(dropped, 1) } },
	{ .name = "sim-stray-tcp", .machine = true, .host = TN_S1, .kind = K_TCP,
	  .saddr = "198.18.1.11", .ret = XDP_DROP, .out = O_ANY,
	  .st = { S(US_ST_SIM_STRAY_DROP, 1) }, .ms = { M(dropped, 1) } },
	{ .name = "sim-stray-icmp", .machine = true, .host = TN_S1, .kind = K_ICMP,
	  .saddr = "198.18.1.11", .ret = XDP_DROP, .out = O_ANY,
	  .st = { S(US_ST_SIM_STRAY_DROP, 1) }, .ms = { M(dropped, 1) } },
	{ .name = "sim-to-balancer-itself", .machine = true, .host = TN_S1, .sip = INV(),
	  .saddr = "198.18.1.11", .daddr = "198.18.1.254", .sport = 40000, .dport = 53,
	  .ret = XDP_PASS, .out = O_SAME, .st = PASSED },
	{ .name = "sim-to-unrouted-address", .machine = true, .host = TN_S1, .sip = INV(),
	  .saddr = "198.18.1.11", .daddr = "198.19.200.1", .sport = 40000, .dport = 9999,
	  .ret = XDP_PASS, .out = O_SAME, .st = PASSED },
	{ .name = "sim-arp", .machine = true, .host = TN_S1, .kind = K_ARP,
	  .ret = XDP_PASS, .out = O_SAME, .st = PASSED },
};

TH_TEST(machine)
{
	run_pcases(machine_cases, ARRAY_SIZE(machine_cases));
}

/* A new INVITE of call cid, to the machine the table names: which. */
static __u32 invite(const char *cid, const char *br)
{
	__u32 a = pred_active(SVC4, cid);
	size_t n = req_text(sipbuf, "INVITE", cid, br, 1);

	EQ("INVITE: machine", send_client(SVC4, sipbuf, n, a, MID_NONE, NULL), a);
	return a;
}

/* responses from active machines */
TH_TEST(responses)
{
	struct us_mstats m0, m1;
	struct us_txn t;
	struct snap sb;
	struct msnap mb;
	size_t n;

	if (th_subtest("provisional-forwarded")) {
		const char *cid = "resp-1@198.18.0.1", *br = "z9hG4bK-resp-1";
		__u32 a = invite(cid, br);

		n = resp_text(sipbuf, 100, cid, br, 1, "INVITE");
		snap_take(&sb);
		msnap_take(&mb);
		send_machine(a, sipbuf, n, XDP_REDIRECT);
		STATS(&sb, 1, S(US_ST_RESP_FWD, 1));
		MST(&mb, a, M(resp_class[1], 1));
		mst_rest(&mb);
		if (!txn_get(SVC4, cid, br, 1, US_M_INVITE, &t))
			EQ("txn.done", t.done, 0);
	}

	if (th_subtest("final-forwarded-counted-with-latency")) {
		const char *cid = "resp-2@198.18.0.1", *br = "z9hG4bK-resp-2";
		__u32 a = invite(cid, br);

		usleep(2000);
		n = resp_text(sipbuf, 200, cid, br, 1, "INVITE");
		snap_take(&sb);
		msnap_take(&mb);
		us_dp_read_mstats(th.dp, a, &m0);
		send_machine(a, sipbuf, n, XDP_REDIRECT);
		STATS(&sb, 1, S(US_ST_RESP_FWD, 1));
		MST(&mb, a, M(resp_class[2], 1) M(final_class[2], 1) M(final_code[US_C_200], 1)
			    M(lat_count, 1));
		mst_rest(&mb);
		if (txn_get(SVC4, cid, br, 1, US_M_INVITE, &t)) {
			th_fail("txns[invite]", "missing", "present");
		} else {
			__u32 bkt = us_lat_bucket(t.lat_ns[0]);

			EQ("txn.done", t.done, US_TXN_FINAL(0));
			EQ("txn.code[active]", t.code[0], 200);
			if (t.lat_ns[0] < 2000000)
				EQ("txn.lat_ns[active] >= 2ms", 0, 1);
			us_dp_read_mstats(th.dp, a, &m1);
			th_eqf(m1.lat_hist[bkt] - m0.lat_hist[bkt], 1, "lat_hist[%u]", bkt);
			EQ("lat_sum_ns", m1.lat_sum_ns - m0.lat_sum_ns, t.lat_ns[0]);
		}
	}

	if (th_subtest("final-retransmission-counted-once")) {
		const char *cid = "resp-3@198.18.0.1", *br = "z9hG4bK-resp-3";
		__u32 a = invite(cid, br);

		n = resp_text(sipbuf, 200, cid, br, 1, "INVITE");
		send_machine(a, sipbuf, n, XDP_REDIRECT);
		snap_take(&sb);
		msnap_take(&mb);
		send_machine(a, sipbuf, n, XDP_REDIRECT);
		STATS(&sb, 1, S(US_ST_RESP_FWD, 1) S(US_ST_RETRANS_RESP, 1));
		MST(&mb, a, M(resp_class[2], 1) M(retrans_resp, 1));
		mst_rest(&mb);
	}

	if (th_subtest("final-codes-by-index")) {
		static const int codes[] = { 408, 480, 486, 487, 500, 503, 504, 302, 404, 603, 202 };

		for (size_t i = 0; i < ARRAY_SIZE(codes); i++) {
			char c[64], b[64];
			__u32 m;
			int cls = codes[i] / 100;

			snprintf(c, sizeof(c), "resp-code-%d@198.18.0.1", codes[i]);
			snprintf(b, sizeof(b), "z9hG4bK-code-%d", codes[i]);
			m = pred_active(SVC4, c);
			n = req_text(sipbuf, "INVITE", c, b, 1);
			send_client(SVC4, sipbuf, n, m, MID_NONE, NULL);
			n = resp_text(sipbuf, codes[i], c, b, 1, "INVITE");
			snap_take(&sb);
			msnap_take(&mb);
			send_machine(m, sipbuf, n, XDP_REDIRECT);
			STATS(&sb, 1, S(US_ST_RESP_FWD, 1));
			MST(&mb, m, M(resp_class[cls], 1) M(final_class[cls], 1)
				    M(final_code[us_code_index(codes[i])], 1) M(lat_count, 1));
			mst_rest(&mb);
		}
	}

	if (th_subtest("non-invite-final")) {
		const char *c = "resp-options@198.18.0.1", *b = "z9hG4bK-resp-options";
		__u32 m = pred_active(SVC4, c);

		n = req_text(sipbuf, "OPTIONS", c, b, 7);
		send_client(SVC4, sipbuf, n, m, MID_NONE, NULL);
		n = resp_text(sipbuf, 200, c, b, 7, "OPTIONS");
		snap_take(&sb);
		msnap_take(&mb);
		send_machine(m, sipbuf, n, XDP_REDIRECT);
		STATS(&sb, 1, S(US_ST_RESP_FWD, 1));
		MST(&mb, m, M(resp_class[2], 1) M(final_class[2], 1) M(final_code[US_C_200], 1)
			    M(lat_count, 1));
		mst_rest(&mb);
		/* the same branch and number with another method is another txn */
		n = resp_text(sipbuf, 200, c, b, 7, "INVITE");
		snap_take(&sb);
		send_machine(m, sipbuf, n, XDP_REDIRECT);
		STATS(&sb, 1, S(US_ST_RESP_FWD, 1) S(US_ST_RESP_NO_TXN, 1));
	}

	if (th_subtest("v6-final")) {
		const char *c = "resp-v6@198.18.0.1", *b = "z9hG4bK-resp-v6";
		__u32 m = pred_active(SVC6, c);

		n = req_text(sipbuf, "INVITE", c, b, 1);
		EQ("machine", send_client(SVC6, sipbuf, n, m, MID_NONE, NULL), m);
		n = resp_text(sipbuf, 480, c, b, 1, "INVITE");
		snap_take(&sb);
		msnap_take(&mb);
		send_machine(m, sipbuf, n, XDP_REDIRECT);
		STATS(&sb, 1, S(US_ST_RESP_FWD, 1));
		MST(&mb, m, M(resp_class[4], 1) M(final_class[4], 1) M(final_code[US_C_480], 1)
			    M(lat_count, 1));
		mst_rest(&mb);
	}

	if (th_subtest("draining-machine-answers-forwarded")) {
		const char *c = "resp-drain@198.18.0.1", *b = "z9hG4bK-resp-drain";
		__u32 m = pred_active(SVC4, c);

		n = req_text(sipbuf, "INVITE", c, b, 1);
		send_client(SVC4, sipbuf, n, m, MID_NONE, NULL);
		if (!set_state(m, US_MS_DRAINING, false)) {
			n = resp_text(sipbuf, 200, c, b, 1, "INVITE");
			snap_take(&sb);
			msnap_take(&mb);
			send_machine(m, sipbuf, n, XDP_REDIRECT);
			STATS(&sb, 1, S(US_ST_RESP_FWD, 1));
			MST(&mb, m, M(resp_class[2], 1) M(final_class[2], 1)
				    M(final_code[US_C_200], 1) M(lat_count, 1));
			mst_rest(&mb);
			set_state(m, US_MS_ACTIVE, false);
		}
	}

	if (th_subtest("rejected-machine-output-dropped")) {
		if (!set_state(M_A2, US_MS_REJECTED, false)) {
			n = resp_text(sipbuf, 200, "resp-rejected@198.18.0.1", "z9hG4bK-rej", 1, "INVITE");
			snap_take(&sb);
			msnap_take(&mb);
			send_machine(M_A2, sipbuf, n, XDP_DROP);
			STATS(&sb, 1, S(US_ST_RESP_SIM_DROP, 1) S(US_ST_RESP_NO_TXN, 1));
			MST(&mb, M_A2, M(resp_class[2], 1) M(final_no_txn, 1)
				       M(dropped, 1));
			mst_rest(&mb);
			set_state(M_A2, US_MS_ACTIVE, false);
		}
	}
}
