// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Transactions (RFC 3261 §17.1.3): the first sighting of a request makes
 * one, keyed by top Via branch and CSeq method; a retransmission keeps its
 * start time and is counted as one; CANCEL shares the INVITE's branch but
 * is its own transaction; ACK makes none. Each subtest places its own call.
 */
#include <string.h>

#include "fixture.h"

/* A new INVITE of call cid (branch br), checked only as forwarded to a. */
static void invite(const char *cid, const char *br, __u32 a)
{
	size_t n = req_text(sipbuf, "INVITE", cid, br, 1);

	EQ("INVITE: machine", send_client(SVC4, sipbuf, n, a, MID_NONE, NULL), a);
}

/* A request of call cid to machine a: a new transaction (or not), the
 * counters of a (a first sighting of method, or a retransmission). */
static void request(const char *method, const char *cid, const char *br, unsigned cseq,
		    __u32 a, bool retrans, bool new_txn)
{
	size_t n = req_text(sipbuf, method, cid, br, cseq);
	struct snap sb;
	struct msnap mb;
	long tx;

	snap_take(&sb);
	msnap_take(&mb);
	tx = txn_count();
	EQ("machine", send_client(SVC4, sipbuf, n, a, MID_NONE, NULL), a);
	if (retrans) {
		STATS(&sb, 1, S(US_ST_REQ_FWD, 1) S(US_ST_RETRANS_REQ, 1));
		MST(&mb, a, M(retrans_req, 1));
	} else {
		STATS(&sb, 1, S(US_ST_REQ_FWD, 1));
		MST(&mb, a, M(req[method_idx(method)], 1));
	}
	mst_rest(&mb);
	EQ("txns.count", txn_count() - tx, new_txn);
}

TH_TEST(txn)
{
	struct us_txn t0, t1;

	if (th_subtest("invite-first-sighting")) {
		const char *cid = "txn-1@198.18.0.1", *br = "z9hG4bK-txn-1";

		request("INVITE", cid, br, 1, pred_active(SVC4, cid), false, true);
		if (txn_get(SVC4, cid, br, 1, US_M_INVITE, &t0))
			th_fail("txns[invite]", "missing", "present");
	}

	if (th_subtest("invite-retransmission")) {
		const char *cid = "txn-2@198.18.0.1", *br = "z9hG4bK-txn-2";
		__u32 a = pred_active(SVC4, cid);

		invite(cid, br, a);
		if (txn_get(SVC4, cid, br, 1, US_M_INVITE, &t0))
			th_fail("txns[invite]", "missing", "present");
		request("INVITE", cid, br, 1, a, true, false);
		if (txn_get(SVC4, cid, br, 1, US_M_INVITE, &t1))
			th_fail("txns[invite]", "missing", "present");
		else
			EQ("txn.start_ns unchanged", t1.start_ns, t0.start_ns);
	}

	if (th_subtest("cancel-with-invite-branch-is-own-txn")) {
		const char *cid = "txn-3@198.18.0.1", *br = "z9hG4bK-txn-3";
		__u32 a = pred_active(SVC4, cid);

		invite(cid, br, a);
		if (txn_get(SVC4, cid, br, 1, US_M_INVITE, &t0))
			th_fail("txns[invite]", "missing", "present");
		request("CANCEL", cid, br, 1, a, false, true);
		if (txn_get(SVC4, cid, br, 1, US_M_CANCEL, &t1))
			th_fail("txns[cancel]", "missing", "present");
		else
			EQ("txn.method", t1.method, US_M_CANCEL);
		if (txn_get(SVC4, cid, br, 1, US_M_INVITE, &t1))
			th_fail("txns[invite]", "missing", "present");
		else
			EQ("invite txn.start_ns unchanged", t1.start_ns, t0.start_ns);
	}

	if (th_subtest("cancel-retransmission")) {
		const char *cid = "txn-4@198.18.0.1", *br = "z9hG4bK-txn-4";
		__u32 a = pred_active(SVC4, cid);

		invite(cid, br, a);
		request("CANCEL", cid, br, 1, a, false, true);
		request("CANCEL", cid, br, 1, a, true, false);
	}

	if (th_subtest("ack-creates-no-txn")) {
		const char *cid = "txn-5@198.18.0.1", *br = "z9hG4bK-txn-5";
		__u32 a = pred_active(SVC4, cid);

		invite(cid, br, a);
		for (int i = 0; i < 2; i++) {
			request("ACK", cid, br, 1, a, false, false);
			if (!txn_get(SVC4, cid, br, 1, US_M_ACK, &t1))
				th_fail("txns[ack]", "present", "absent");
		}
	}

	if (th_subtest("bye-new-txn-same-machine")) {
		const char *cid = "txn-6@198.18.0.1", *br = "z9hG4bK-txn-6";
		__u32 a = pred_active(SVC4, cid);

		invite(cid, br, a);
		request("BYE", cid, "z9hG4bK-txn-6-bye", 2, a, false, true);
	}
}
