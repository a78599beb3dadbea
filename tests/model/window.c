// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The window, pure: records and counters in; what judging carries on, what
 * the window saw, and the moves to make out.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "config.h"
#include "fixture.h"
#include "window.h"

#define LAT 100                 /* a latency bucket */
#define NOW 5000.0

static const char conf_text[] =
	"balancer: { client_interface: cli0, machine_interfaces: [mach0] }\n"
	"services:\n"
	"  - name: sip\n"
	"    vip: 198.18.100.1\n"
	"    port: 5060\n"
	"    policy: { min_simulation_seconds: 0, consecutive_windows: 1 }\n"
	"    machines:\n"
	"      - { name: v1-a, address: 198.18.1.1, version: \"1\", state: active }\n";

enum { A = 0, S = 1, NREC = 4 };

static struct us_conf conf;
static struct us_rec recs[NREC];
static struct us_counts counts[NREC];
static struct us_judging judging[NREC];
static struct us_mobs obs[NREC];
static bool judged[NREC];
static struct us_window_move dec[NREC];
static struct us_window win[NREC];
static bool has_win[NREC];
static struct us_window_out out = { .judging = judging, .obs = obs, .judged = judged, .win = win,
				    .has_win = has_win, .dec = dec };

static void rec(int i, const char *name, enum us_mstate st, const char *service)
{
	struct us_rec *r = &recs[i];

	memset(r, 0, sizeof(*r));
	snprintf(r->name, sizeof(r->name), "%s", name);
	snprintf(r->conf.service, sizeof(r->conf.service), "%s", service);
	r->id = (__u32)i;
	r->state = st;
	r->since = NOW - 100;
	r->obs.req_rate = r->obs.resp_rate = r->obs.err_share = NAN;
	r->obs.p50_ns = r->obs.p99_ns = NAN;
}

/* v1-a active, v2-a in simulation, both with counters read */
static int fresh(void)
{
	char err[512];

	us_conf_free(&conf);
	if (us_conf_parse(conf_text, sizeof(conf_text) - 1, "window-test", &conf, err,
			  sizeof(err))) {
		th_fail("configuration", err, "parsed");
		return -1;
	}
	memset(counts, 0, sizeof(counts));
	rec(A, "v1-a", US_MS_ACTIVE, "sip");
	rec(S, "v2-a", US_MS_SIMULATION, "sip");
	for (int i = 0; i < 2; i++)
		counts[i].read = counts[i].have_win = true;
	return 0;
}

/* the window's traffic: pairs of v2-a (sim_err of them its errors) and
 * the same finals at v1-a, all in one latency bucket */
static void traffic(__u64 pairs, __u64 sim_err)
{
	struct us_mstats *a = &counts[A].win, *s = &counts[S].win;

	a->req[US_M_INVITE] += pairs;
	a->final_class[2] += pairs;
	a->lat_hist[LAT] += pairs;
	s->req[US_M_INVITE] += pairs;
	s->pair.out[US_O_2XX][US_O_2XX] += pairs - sim_err;
	s->pair.out[US_O_2XX][US_O_ERR] += sim_err;
	/* one pair per call, equal codes where both answered 2xx */
	s->pair.code_same += pairs - sim_err;
	s->pair.calls += pairs;
	s->pair.calls_fail_shadow += sim_err;
	s->pair_lat_active[LAT] += pairs;
	s->pair_lat_shadow[LAT] += pairs;
	s->final_class[2] += pairs - sim_err;
	s->final_class[5] += sim_err;
	s->lat_hist[LAT] += pairs;
	counts[A].total = *a;
	counts[S].total = *s;
}

static void run(size_t n)
{
	struct us_window_in in = { .now = NOW, .seconds = 5, .conf = &conf, .recs = recs,
				   .counts = counts, .n = n };

	us_window_run(&in, &out);
}

TH_TEST(window)
{
	if (th_subtest("evidence-from-counters")) {
		if (fresh())
			return;
		traffic(50, 0);
		/* transactions the active machine answered and v2-a did not, by
		 * the deadline */
		counts[S].win.pair.out[US_O_2XX][US_O_NONE] = 3;
		counts[S].total.pair.out[US_O_2XX][US_O_NONE] = 3;
		counts[S].total.overdue = 3;
		counts[S].ncodes = 1;
		counts[S].codes[0] = (struct us_codepair){ .active = 200, .shadow = 0, .n = 3 };
		run(2);
		EQ("v2-a judged", judged[S], 1);
		EQ("v1-a judged", judged[A], 0);
		EQ("v2-a: a window made", has_win[S], 1);
		EQ("v1-a: no window", has_win[A], 0);
		EQ("the window: sent", win[S].sent, 50);
		EQ("the window: unanswered", win[S].sim.out[US_O_2XX][US_O_NONE], 3);
		EQ("the window: t", (long long)win[S].t, (long long)NOW);
		EQ("paired: answered and unanswered", us_judging_paired(&judging[S]), 53);
		EQ("unanswered", judging[S].ev.sim.out[US_O_2XX][US_O_NONE], 3);
		EQ("codes", judging[S].ev.ncodes, 1);
		EQ("codes: [200, none]", judging[S].ev.codes[0].n, 3);
		EQ("lat_shadow", judging[S].ev.sim.lat_shadow[LAT], 50);
		EQ("lat_active: the active machines' on the same pairs",
		   judging[S].ev.sim.lat_active[LAT], 50);
		EQ("sim_seconds", (long long)judging[S].ev.sim_seconds, 100);
		EQ("no control machine", judging[S].ev.has_control, 0);
		EQ("windows judged", us_judging_windows(&judging[S]), 1);
		EQ("obs.judged", obs[S].judged, 1);
		EQ("obs.timeouts", obs[S].timeouts, 3);
		EQ("v1-a req/s x 10", (long long)(obs[A].req_rate * 10), 100);
		EQ("v2-a error share", (long long)(obs[S].err_share * 1000), 0);
		EQ("the record is input only", us_judging_paired(&recs[S].judging), 0);
		EQ("decisions (too little evidence)", out.ndec, 0);
	}

	if (th_subtest("evidence-adds-up")) {
		if (fresh())
			return;
		traffic(40, 0);
		run(2);
		recs[S].judging = judging[S];
		recs[S].obs = obs[S];
		memset(&counts[S].win, 0, sizeof(counts[S].win));
		memset(&counts[A].win, 0, sizeof(counts[A].win));
		traffic(10, 1);
		run(2);
		EQ("paired", us_judging_paired(&judging[S]), 50);
		EQ("v2-a's errors", judging[S].ev.sim.out[US_O_2XX][US_O_ERR], 1);
		EQ("the window's alone", us_judging_paired(&(struct us_judging){ .ev = win[S] }), 10);
		EQ("windows judged", us_judging_windows(&judging[S]), 2);
	}

	if (th_subtest("first-read-judged-on-nothing-new")) {
		if (fresh())
			return;
		traffic(50, 0);
		counts[S].have_win = counts[A].have_win = false;
		run(2);
		EQ("judged", judged[S], 1);
		EQ("paired", us_judging_paired(&judging[S]), 0);
		EQ("an empty window", win[S].sent, 0);
		EQ("req/s: none yet", isnan(obs[A].req_rate), 1);
	}

	if (th_subtest("promote")) {
		if (fresh())
			return;
		traffic(5000, 0);
		run(2);
		EQ("decisions", out.ndec, 1);
		if (out.ndec == 1) {
			if (strcmp(dec[0].machine, "v2-a"))
				th_fail("decision: machine", dec[0].machine, "v2-a");
			EQ("decision: to", dec[0].to, US_MS_ACTIVE);
			EQ("decision: by", dec[0].by, US_BY_JUDGE);
			if (strcmp(dec[0].reason, obs[S].last.summary))
				th_fail("decision: reason", dec[0].reason, obs[S].last.summary);
		}
		EQ("verdict", judging[S].verdict, US_V_PASS);
	}

	if (th_subtest("reject")) {
		if (fresh())
			return;
		traffic(2000, 600);
		run(2);
		EQ("decisions", out.ndec, 1);
		if (out.ndec == 1) {
			EQ("decision: to", dec[0].to, US_MS_REJECTED);
			EQ("decision: by", dec[0].by, US_BY_JUDGE);
		}
	}

	if (th_subtest("drain-timer")) {
		if (fresh())
			return;
		rec(2, "v1-b", US_MS_DRAINING, "sip");
		recs[2].remove_at = NOW;
		rec(3, "v1-c", US_MS_DRAINING, "sip");
		recs[3].remove_at = NOW + 1;
		run(4);
		EQ("decisions", out.ndec, 1);
		if (out.ndec == 1) {
			if (strcmp(dec[0].machine, "v1-b"))
				th_fail("decision: machine", dec[0].machine, "v1-b");
			EQ("decision: to", dec[0].to, US_MS_REMOVED);
			EQ("decision: by", dec[0].by, US_BY_TIMER);
		}
	}

	if (th_subtest("only-simulation-machines-of-a-service-judged")) {
		if (fresh())
			return;
		rec(2, "v2-r", US_MS_REJECTED, "sip");
		rec(3, "v2-o", US_MS_SIMULATION, "gone");
		counts[2].read = counts[3].read = true;
		traffic(50, 0);
		run(4);
		EQ("rejected: judged", judged[2], 0);
		EQ("service gone: judged", judged[3], 0);
		EQ("simulation: judged", judged[S], 1);
	}

	if (th_subtest("control-observed-never-judged")) {
		if (fresh())
			return;
		rec(2, "v1-c", US_MS_CONTROL, "sip");
		counts[2].read = counts[2].have_win = true;
		traffic(50, 0);
		counts[2].win.req[US_M_INVITE] = 50;
		counts[2].win.pair.out[US_O_2XX][US_O_2XX] = 50;
		/* the control's pairs on the calls mirrored to both, kept on v2-a */
		counts[S].win.ctl.out[US_O_2XX][US_O_2XX] = 49;
		counts[S].win.ctl.out[US_O_2XX][US_O_ERR] = 1;
		run(3);
		EQ("control: judged", judged[2], 0);
		EQ("control: a window made", has_win[2], 0);
		EQ("control: observed (req/s x 10)", (long long)(obs[2].req_rate * 10), 100);
		EQ("simulation: judged", judged[S], 1);
		EQ("simulation: has_control", judging[S].ev.has_control, 1);
		EQ("the control's pairs", judging[S].ev.control.out[US_O_2XX][US_O_ERR], 1);
		EQ("decisions", out.ndec, 0);
	}

	if (th_subtest("judge-refuses-evidence-still-carried")) {
		if (fresh())
			return;
		/* a policy the judge refuses (config.c never lets one through) */
		conf.services[0].policy.alpha = 0.9;
		recs[S].judging.windows = 3;
		traffic(50, 0);
		run(2);
		EQ("judged", judged[S], 0);
		EQ("obs.judged", obs[S].judged, 0);
		EQ("paired carried on", us_judging_paired(&judging[S]), 50);
		EQ("windows judged: as they were", us_judging_windows(&judging[S]), 3);
		EQ("decisions", out.ndec, 0);
	}

	if (th_subtest("deterministic")) {
		static struct us_judging j1[NREC];
		static struct us_mobs o1[NREC];

		if (fresh())
			return;
		traffic(700, 3);
		run(2);
		memcpy(j1, judging, sizeof(j1));
		memcpy(o1, obs, sizeof(o1));
		run(2);
		EQ("judging: the same twice", memcmp(j1, judging, 2 * sizeof(j1[0])), 0);
		EQ("observations: the same twice", memcmp(o1, obs, 2 * sizeof(o1[0])), 0);
	}
	us_conf_free(&conf);
}
