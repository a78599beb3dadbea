// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Balancing: a new call takes the machine its slot of the service's Maglev
 * table names; every later message of the call goes to the same machine
 * (us_calls), also after the table is rebuilt; a draining machine keeps its
 * calls and takes no new ones; a removed machine's calls are re-balanced.
 * A service without an active machine, or without a route to it, drops.
 */
#include <stdio.h>
#include <string.h>

#include "fixture.h"

static const struct pcase balance_cases[] = {
	{ .name = "no-machine", .svc = SVC_NOMACH, .sip = INV(),
	  CLI_DROP(US_ST_NO_MACHINE) },
	{ .name = "no-route", .svc = SVC_NOROUTE, .sip = INV(), CLI_DROP(US_ST_NO_ROUTE) },
};

static char cid[NCALL][64];
static __u32 where[NCALL];

/* NCALL new calls "<tag>-<i>": each on the machine the table names;
 * where[] gets them. */
static void place_calls(const char *tag)
{
	char br[64];
	size_t n;

	for (int i = 0; i < NCALL; i++) {
		__u32 a;

		snprintf(cid[i], sizeof(cid[i]), "%s-%d@198.18.0.1", tag, i);
		snprintf(br, sizeof(br), "z9hG4bK-%s-%d", tag, i);
		a = pred_active(SVC4, cid[i]);
		n = req_text(sipbuf, "INVITE", cid[i], br, 1);
		where[i] = send_client(SVC4, sipbuf, n, a, MID_NONE, NULL);
		th_eqf(where[i], a, "call[%d].machine", i);
	}
}

/* the first call placed on machine mid, or -1 */
static int call_on(__u32 mid)
{
	for (int i = 0; i < NCALL; i++)
		if (where[i] == mid)
			return i;
	th_fail("a call on the machine", "none", mname(mid));
	return -1;
}

/* a3 into the active pool, or out of it again */
static int a3_join(void)
{
	if (set_machine(mach_of(M_A3), US_MS_ACTIVE) || us_dp_rebuild(th.dp, SVC4, US_POOL_ACTIVE)) {
		th_fail("adding a3", us_dp_error(th.dp), "done");
		return -1;
	}
	return 0;
}

static void a3_leave(void)
{
	if (us_dp_del_machine(th.dp, M_A3))
		th_fail("removing a3", us_dp_error(th.dp), "done");
}

TH_TEST(balance)
{
	struct us_call call;
	char br[64];
	size_t n;

	run_pcases(balance_cases, ARRAY_SIZE(balance_cases));

	if (th_subtest("sticky/new-calls-follow-the-table")) {
		__u32 cnt[US_MAX_MACHINES] = { 0 };

		place_calls("sticky");
		for (int i = 0; i < NCALL; i++)
			if (where[i] < US_MAX_MACHINES)
				cnt[where[i]]++;
		if (!cnt[M_A1] || !cnt[M_A2])
			th_fail("calls spread", "one machine", "both a1 and a2");
	}

	if (th_subtest("sticky/in-dialog-messages-same-machine")) {
		place_calls("sticky-dlg");
		for (int i = 0; i < NCALL; i++) {
			snprintf(br, sizeof(br), "z9hG4bK-sticky-%d-ack", i);
			n = req_text(sipbuf, "ACK", cid[i], br, 1);
			th_eqf(send_client(SVC4, sipbuf, n, where[i], MID_NONE, NULL), where[i],
			       "call[%d].ack.machine", i);
			snprintf(br, sizeof(br), "z9hG4bK-sticky-%d-info", i);
			n = req_text(sipbuf, "INFO", cid[i], br, 2);
			th_eqf(send_client(SVC4, sipbuf, n, where[i], MID_NONE, NULL), where[i],
			       "call[%d].info.machine", i);
		}
	}

	if (th_subtest("sticky/calls-stay-after-rebuild-with-added-machine")) {
		int moved = 0;

		place_calls("sticky-add");
		if (!a3_join()) {
			for (int i = 0; i < NCALL; i++) {
				if (pred_active(SVC4, cid[i]) != where[i])
					moved++;
				snprintf(br, sizeof(br), "z9hG4bK-sticky-%d-bye", i);
				n = req_text(sipbuf, "BYE", cid[i], br, 3);
				th_eqf(send_client(SVC4, sipbuf, n, where[i], MID_NONE, NULL), where[i],
				       "call[%d].bye.machine", i);
				if (call_get(SVC4, cid[i], &call))
					th_fail("calls[callid]", "missing", "present");
				else
					th_eqf(call.active_mid, where[i], "call[%d].active_mid", i);
			}
			if (!moved)
				th_fail("calls whose slot moved to a3", "0",
					"some (else this proves nothing)");
			a3_leave();
		}
	}

	if (th_subtest("sticky/new-calls-after-rebuild-may-move")) {
		int on_a3 = 0;

		if (!a3_join()) {
			for (int i = 0; i < NCALL; i++) {
				char c[64];
				__u32 a;

				snprintf(c, sizeof(c), "sticky-new-%d@198.18.0.1", i);
				snprintf(br, sizeof(br), "z9hG4bK-sticky-new-%d", i);
				a = pred_active(SVC4, c);
				n = req_text(sipbuf, "INVITE", c, br, 1);
				th_eqf(send_client(SVC4, sipbuf, n, a, MID_NONE, NULL), a,
				       "call[%d].machine", i);
				on_a3 += a == M_A3;
			}
			if (!on_a3)
				th_fail("new calls on a3", "0", "some");
			a3_leave();
		}
	}

	if (th_subtest("sticky/draining-machine-keeps-calls-takes-no-new-ones")) {
		int di;

		place_calls("sticky-drain");
		di = call_on(M_A1);
		if (di >= 0 && !set_state(M_A1, US_MS_DRAINING, true)) {
			n = req_text(sipbuf, "BYE", cid[di], "z9hG4bK-drain-bye", 4);
			EQ("call on draining a1: machine",
			   send_client(SVC4, sipbuf, n, M_A1, MID_NONE, NULL), M_A1);
			for (int i = 0; i < NCALL; i++) {
				char c[64];
				__u32 a;

				snprintf(c, sizeof(c), "sticky-drain-new-%d@198.18.0.1", i);
				a = pred_active(SVC4, c);
				if (a == M_A1)
					th_fail("table after draining a1", "a1", "a2");
				n = req_text(sipbuf, "INVITE", c, "z9hG4bK-drain", 1);
				if (send_client(SVC4, sipbuf, n, a, MID_NONE, NULL) == M_A1)
					th_fail("new call machine", "a1 (draining)", "a2");
			}
			set_state(M_A1, US_MS_ACTIVE, true);
		}
	}

	if (th_subtest("sticky/removed-machine-calls-rebalanced")) {
		int ri;

		place_calls("sticky-rm");
		ri = call_on(M_A2);
		if (ri >= 0 && !set_state(M_A2, US_MS_REMOVED, true)) {
			__u32 a = pred_active(SVC4, cid[ri]), got;

			n = req_text(sipbuf, "BYE", cid[ri], "z9hG4bK-removed-bye", 4);
			got = send_client(SVC4, sipbuf, n, a, MID_NONE, NULL);
			EQ("machine after removal", got, a);
			if (got == M_A2)
				th_fail("machine after removal", "a2 (removed)", "another");
			if (call_get(SVC4, cid[ri], &call))
				th_fail("calls[callid]", "missing", "present");
			else
				EQ("call.active_mid", call.active_mid, a);
			set_state(M_A2, US_MS_ACTIVE, true);
			/* and it stays on its new machine */
			n = req_text(sipbuf, "BYE", cid[ri], "z9hG4bK-removed-bye2", 5);
			EQ("machine after a2 is back", send_client(SVC4, sipbuf, n, a, MID_NONE, NULL),
			   a);
		}
	}
}
