// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The model: the transition rules; us_model_move() and what it resets,
 * audits, saves and applies; its failures (audit, save, apply); the file
 * store's records and audit trail; crash recovery through the move.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "dp.h"
#include "fixture.h"

static double fixed_now(void)
{
	return 1000.0;
}

TH_TEST(rules)
{
	static const struct {
		enum us_mstate from, to;
		enum us_actor by;
		int rc;
	} t[] = {
		{ US_MS_SIMULATION, US_MS_ACTIVE, US_BY_JUDGE, 0 },
		{ US_MS_SIMULATION, US_MS_REJECTED, US_BY_JUDGE, 0 },
		{ US_MS_ACTIVE, US_MS_REJECTED, US_BY_JUDGE, -EPERM },
		{ US_MS_REJECTED, US_MS_ACTIVE, US_BY_JUDGE, -EPERM },
		{ US_MS_REJECTED, US_MS_SIMULATION, US_BY_JUDGE, -EPERM },
		{ US_MS_DRAINING, US_MS_ACTIVE, US_BY_JUDGE, -EPERM },
		{ US_MS_UNUSED, US_MS_SIMULATION, US_BY_JUDGE, -EPERM },
		{ US_MS_SIMULATION, US_MS_ACTIVE, US_BY_OPERATOR, 0 },      /* promote */
		{ US_MS_SIMULATION, US_MS_REJECTED, US_BY_OPERATOR, 0 },    /* reject */
		{ US_MS_ACTIVE, US_MS_DRAINING, US_BY_OPERATOR, 0 },        /* demote */
		{ US_MS_REJECTED, US_MS_SIMULATION, US_BY_OPERATOR, 0 },    /* readmit */
		{ US_MS_DRAINING, US_MS_SIMULATION, US_BY_OPERATOR, 0 },    /* readmit */
		{ US_MS_DRAINING, US_MS_ACTIVE, US_BY_OPERATOR, 0 },        /* undo a demote */
		{ US_MS_ACTIVE, US_MS_REMOVED, US_BY_OPERATOR, 0 },
		{ US_MS_UNUSED, US_MS_SIMULATION, US_BY_OPERATOR, 0 },      /* add */
		{ US_MS_UNUSED, US_MS_ACTIVE, US_BY_OPERATOR, 0 },          /* add --active */
		{ US_MS_UNUSED, US_MS_REJECTED, US_BY_OPERATOR, -EPERM },
		{ US_MS_REJECTED, US_MS_ACTIVE, US_BY_OPERATOR, -EPERM },   /* readmit first */
		{ US_MS_ACTIVE, US_MS_SIMULATION, US_BY_OPERATOR, -EPERM },  /* demote drains */
		{ US_MS_REMOVED, US_MS_ACTIVE, US_BY_OPERATOR, -EPERM },    /* add again */
		{ US_MS_REMOVED, US_MS_SIMULATION, US_BY_OPERATOR, -EPERM },
		{ US_MS_ACTIVE, US_MS_ACTIVE, US_BY_OPERATOR, -EALREADY },
		{ US_MS_DRAINING, US_MS_REMOVED, US_BY_TIMER, 0 },
		{ US_MS_ACTIVE, US_MS_REMOVED, US_BY_TIMER, -EPERM },
		{ US_MS_REMOVED, US_MS_ACTIVE, US_BY_CONFIG, 0 },
		{ US_MS_UNUSED, US_MS_REMOVED, US_BY_CONFIG, 0 },
		{ US_MS_ACTIVE, US_MS_UNUSED, US_BY_CONFIG, -EINVAL },
		/* a control machine: the file and the operator move it, never the judge */
		{ US_MS_UNUSED, US_MS_CONTROL, US_BY_OPERATOR, 0 },          /* add --control */
		{ US_MS_UNUSED, US_MS_CONTROL, US_BY_CONFIG, 0 },
		{ US_MS_CONTROL, US_MS_REMOVED, US_BY_OPERATOR, 0 },
		{ US_MS_CONTROL, US_MS_ACTIVE, US_BY_JUDGE, -EPERM },
		{ US_MS_CONTROL, US_MS_REJECTED, US_BY_JUDGE, -EPERM },
		{ US_MS_CONTROL, US_MS_ACTIVE, US_BY_OPERATOR, -EPERM },
		{ US_MS_CONTROL, US_MS_SIMULATION, US_BY_OPERATOR, -EPERM },
		{ US_MS_ACTIVE, US_MS_CONTROL, US_BY_CONFIG, 0 },
	};
	char why[160];

	if (th_subtest("table")) {
		for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
			int rc = us_model_rule(t[i].from, t[i].to, t[i].by, why, sizeof(why));

			th_eqf(rc, t[i].rc, "%s -> %s by %s", us_state_name(t[i].from),
			       us_state_name(t[i].to), us_actor_name(t[i].by));
			if (rc == -EPERM && !strstr(why, us_actor_name(t[i].by)))
				th_fail("reason names the actor", why, us_actor_name(t[i].by));
		}
	}
}

TH_TEST(move)
{
	struct us_model m;
	struct us_rec *r;
	char line[4096];

	if (tm_model(&m))
		return;
	m.now = fixed_now;
	m.drain_s = 42;

	if (th_subtest("audited-saved-applied")) {
		int lines = tm_audit(NULL, 0);
		__u64 seq = m.seq;

		r = tm_add(&m, "v2-a", "198.18.1.11", US_MS_SIMULATION);
		EQ("audit lines after a creation", tm_audit(line, sizeof(line)), lines + 1);
		lines++;
		if (!strstr(line, "\"from\":\"unused\"") || !strstr(line, "\"to\":\"simulation\"") ||
		    !strstr(line, "\"address\":\"198.18.1.11\""))
			th_fail("the creation's audit line", line, "unused -> simulation, its address");
		EQ("applied: its state", tm_dp.state[r->id], US_MS_SIMULATION);
		EQ("move", us_model_move(&m, r, US_MS_ACTIVE, US_BY_JUDGE, "joining condition held"), 0);
		EQ("audit lines", tm_audit(line, sizeof(line)), lines + 1);
		if (!strstr(line, "\"machine\":\"v2-a\"") || !strstr(line, "\"from\":\"simulation\"") ||
		    !strstr(line, "\"to\":\"active\"") || !strstr(line, "\"by\":\"judge\"") ||
		    !strstr(line, "joining condition held"))
			th_fail("the move's audit line", line, "v2-a simulation -> active by judge");
		EQ("applied: its state", tm_dp.state[r->id], US_MS_ACTIVE);
		EQ("seq", m.seq, seq + 2);
		EQ("again: already", us_model_move(&m, r, US_MS_ACTIVE, US_BY_JUDGE, "again"),
		   -EALREADY);
		EQ("refused: the rule", us_model_move(&m, r, US_MS_REJECTED, US_BY_JUDGE, "no"),
		   -EPERM);
		if (!strstr(us_model_error(&m), "judge may not move a machine from active to rejected"))
			th_fail("the refusal", us_model_error(&m), "the rule");
		EQ("refusals add no audit line", tm_audit(NULL, 0), lines + 1);
		EQ("seq after refusals", m.seq, seq + 2);
		{
			char path[256];

			snprintf(path, sizeof(path), "%s/state.json.tmp", tm_dir);
			EQ("no temporary file left", access(path, F_OK) != 0, 1);
		}
	}

	if (th_subtest("simulation-starts-afresh")) {
		struct us_judge_state zero;

		memset(&zero, 0, sizeof(zero));
		r = tm_add(&m, "v2-b", "198.18.1.12", US_MS_SIMULATION);
		r->judging.ev.sim.out[US_O_2XX][US_O_2XX] = 500;
		r->judging.ev.ncodes = 1;
		r->judging.ev.codes[0] = (struct us_codepair){ .active = 200, .shadow = 202, .n = 4 };
		r->judging.streak = 2;
		r->judging.windows = 7;
		memset(&r->judging.js, 0xff, sizeof(r->judging.js));
		r->obs.judged = true;
		r->obs.timeouts = 3;
		EQ("reject", us_model_move(&m, r, US_MS_REJECTED, US_BY_OPERATOR, "reject"), 0);
		EQ("rejected: the evidence stays (explain)", us_judging_paired(&r->judging), 500);
		EQ("readmit", us_model_move(&m, r, US_MS_SIMULATION, US_BY_OPERATOR, "readmit"), 0);
		EQ("evidence", us_judging_paired(&r->judging), 0);
		EQ("codes", r->judging.ev.ncodes, 0);
		EQ("streak", us_judging_streak(&r->judging), 0);
		EQ("windows judged", us_judging_windows(&r->judging), 0);
		EQ("the judge's state", memcmp(&r->judging.js, &zero, sizeof(zero)) == 0, 1);
		EQ("judged", r->obs.judged, 0);
		EQ("timeouts (a total, kept)", r->obs.timeouts, 3);
		EQ("since", (long long)r->since, 1000);
	}

	if (th_subtest("remove-an-active-machine-drains-first")) {
		r = tm_add(&m, "v1-a", "198.18.1.1", US_MS_ACTIVE);
		EQ("remove", us_model_move(&m, r, US_MS_REMOVED, US_BY_OPERATOR, "remove"), 0);
		EQ("state", r->state, US_MS_DRAINING);
		EQ("remove_at", (long long)r->remove_at, 1042);
		tm_audit(line, sizeof(line));
		if (!strstr(line, "\"to\":\"draining\"") || !strstr(line, "\"remove_at\":1042"))
			th_fail("audit line", line, "to draining, remove_at 1042");
		EQ("the drain's end", us_model_move(&m, r, US_MS_REMOVED, US_BY_TIMER, "drained"), 0);
		EQ("state", r->state, US_MS_REMOVED);
		EQ("remove_at", (long long)r->remove_at, 0);
		/* a demote is a drain with no end */
		r = tm_add(&m, "v1-b", "198.18.1.2", US_MS_ACTIVE);
		EQ("demote", us_model_move(&m, r, US_MS_DRAINING, US_BY_OPERATOR, "demote"), 0);
		EQ("demote: remove_at", (long long)r->remove_at, 0);
	}

	if (th_subtest("apply-failure-stands")) {
		int lines;

		r = tm_add(&m, "v2-c", "198.18.1.13", US_MS_SIMULATION);
		lines = tm_audit(NULL, 0);
		tm_dp.fail = 1;
		EQ("move", us_model_move(&m, r, US_MS_REJECTED, US_BY_JUDGE, "bad"), -EIO);
		if (!strstr(us_model_error(&m), "map update failed"))
			th_fail("error", us_model_error(&m), "the data plane's reason");
		EQ("durable: the state", r->state, US_MS_REJECTED);
		EQ("durable: the audit line", tm_audit(NULL, 0), lines + 1);
		EQ("applying again", us_model_apply(&m, r), 0);
		EQ("applied", tm_dp.state[r->id], US_MS_REJECTED);
	}

	us_store_close(m.store);
	us_model_free(&m);
}

/* A store that cannot write: nothing changes. */
TH_TEST(move_failures)
{
	struct us_model m;
	struct us_store *s;
	struct us_rec *r;
	struct us_mconf c = tm_conf("1.0", "198.18.1.1", US_MS_ACTIVE);
	char path[256];
	FILE *f;

	if (th_subtest("audit-trail-unwritable")) {
		tm_fresh();
		/* the state directory is a file: neither the trail nor the
		 * records can be written */
		snprintf(path, sizeof(path), "%s/not-a-dir", tm_dir);
		f = fopen(path, "w");
		if (f)
			fclose(f);
		if (us_store_file_open_dir(NULL, path, &s)) {
			th_fail("store", "not opened", "opened");
			return;
		}
		us_model_init(&m, s);
		m.dp = tm_applier;
		EQ("new", us_model_new(&m, "v1-a", &c, &r), 0);
		EQ("move", us_model_move(&m, r, US_MS_ACTIVE, US_BY_CONFIG, "x"), -ENOTDIR);
		if (!strstr(us_model_error(&m), "audit trail"))
			th_fail("error", us_model_error(&m), "the audit trail");
		EQ("state", r->state, US_MS_UNUSED);
		EQ("seq", m.seq, 0);
		EQ("applied", tm_dp.calls, 0);
		us_store_close(s);
		us_model_free(&m);
	}
}

TH_TEST(store)
{
	struct us_model m, back;
	struct us_judging saved_judging;
	struct us_audit p;
	struct us_rec *r;
	char err[512];

	if (th_subtest("roundtrip")) {
		tm_fresh();
		if (tm_model(&m) || tm_model(&back))
			return;
		tm_add(&m, "v1-a", "198.18.1.1", US_MS_ACTIVE);
		r = tm_add(&m, "v2-a", "2001:db8:1::11", US_MS_SIMULATION);
		EQ("id", r->id, 1);
		r->judging.ev.sim.out[US_O_2XX][US_O_2XX] = 1227;
		r->judging.ev.sim.out[US_O_2XX][US_O_ERR] = 7;
		r->judging.ev.sim.lat_shadow[17] = 99;
		r->judging.ev.sim.lat_active[US_LAT_BUCKETS - 1] = 5;
		r->judging.ev.has_control = true;
		r->judging.ev.control.calls = 11;
		r->judging.ev.ncodes = 1;
		r->judging.ev.codes[0] = (struct us_codepair){ .active = 486, .shadow = 480, .n = 3 };
		r->judging.ev.sim_seconds = 44.5;
		r->judging.streak = 2;
		r->judging.windows = 9;
		saved_judging = r->judging;
		r->conf.weight = 300;
		EQ("a name twice", us_model_new(&m, "v1-a", &r->conf, NULL), -EEXIST);
		EQ("save", us_model_save(&m), 0);
		EQ("load", back.store->ops->load(back.store, &back, &p, err, sizeof(err)), 0);
		EQ("records", back.n, 2);
		EQ("seq", back.seq, 2);
		EQ("nothing pending", p.seq, 0);
		r = us_model_find(&back, "v2-a");
		if (r) {
			char a[64];

			EQ("id", r->id, 1);
			EQ("state", r->state, US_MS_SIMULATION);
			EQ("config state", r->conf.state, US_MS_SIMULATION);
			EQ("weight", r->conf.weight, 300);
			EQ("family", r->conf.family, AF_INET6);
			if (strcmp(us_addr_format(r->conf.family, r->conf.addr, a, sizeof(a)),
				   "2001:db8:1::11"))
				th_fail("address", a, "2001:db8:1::11");
			EQ("paired", us_judging_paired(&r->judging), 1234);
			EQ("the evidence, whole", memcmp(&r->judging.ev, &saved_judging.ev,
							  sizeof(saved_judging.ev)) == 0, 1);
			EQ("the judge's state", memcmp(&r->judging.js, &saved_judging.js,
						       sizeof(saved_judging.js)) == 0, 1);
			EQ("streak", us_judging_streak(&r->judging), 2);
			EQ("windows", us_judging_windows(&r->judging), 9);
			EQ("not reset", r->judging.reset_from, 0);
		} else {
			th_fail("v2-a", "missing", "loaded");
		}
		/* the lowest free id is reused */
		{
			struct us_mconf c = tm_conf("2.0", "198.18.1.12", US_MS_SIMULATION);

			EQ("new", us_model_new(&back, "v2-b", &c, &r), 0);
			EQ("new id", r->id, 2);
			us_model_drop(&back, r);
			EQ("new", us_model_new(&back, "v2-c", &c, &r), 0);
			EQ("the id of a dropped record is free", r->id, 2);
		}
		us_store_close(m.store);
		us_store_close(back.store);
		us_model_free(&m);
		us_model_free(&back);
	}

	if (th_subtest("never-moved-records-are-not-kept")) {
		tm_fresh();
		struct us_mconf c = tm_conf("2.0", "198.18.1.12", US_MS_SIMULATION);

		if (tm_model(&m) || tm_model(&back))
			return;
		tm_add(&m, "v1-a", "198.18.1.1", US_MS_ACTIVE);
		EQ("new", us_model_new(&m, "v2-x", &c, NULL), 0);
		EQ("save", us_model_save(&m), 0);
		EQ("load", back.store->ops->load(back.store, &back, &p, err, sizeof(err)), 0);
		EQ("records", back.n, 1);
		us_store_close(m.store);
		us_store_close(back.store);
		us_model_free(&m);
		us_model_free(&back);
	}

	if (th_subtest("bad-state-file")) {
		tm_fresh();
		char path[256];
		FILE *f;

		if (tm_model(&m))
			return;
		snprintf(path, sizeof(path), "%s/state.json", tm_dir);
		f = fopen(path, "w");
		fprintf(f, "{\"version\":2,\"seq\":0,\"machines\":[{\"name\":\"x\",\"service\":\"s\","
			   "\"version\":\"1\",\"id\":999}]}");
		fclose(f);
		EQ("load", m.store->ops->load(m.store, &m, &p, err, sizeof(err)), -EINVAL);
		if (!strstr(err, "machines[0].id"))
			th_fail("error", err, "machines[0].id");
		f = fopen(path, "w");
		fprintf(f, "{not json");
		fclose(f);
		EQ("load", m.store->ops->load(m.store, &m, &p, err, sizeof(err)), -EINVAL);
		if (!strstr(err, "not valid JSON"))
			th_fail("error", err, "not valid JSON");
		f = fopen(path, "w");
		fprintf(f, "{\"version\":4,\"seq\":0,\"machines\":[]}");
		fclose(f);
		EQ("load", m.store->ops->load(m.store, &m, &p, err, sizeof(err)), -EINVAL);
		if (!strstr(err, "version 1 to 3"))
			th_fail("error", err, "the versions it reads");
		us_store_close(m.store);
		us_model_free(&m);
	}

	/* the state files of the first two formats load; their evidence (the
	 * old judge's counts) cannot be converted: judging starts afresh */
	if (th_subtest("first-format-state-file")) {
		tm_fresh();
		char path[256], hist[US_LAT_BUCKETS * 2 + 2];
		FILE *f;

		if (tm_model(&m))
			return;
		hist[0] = 0;
		for (int i = 0; i < US_LAT_BUCKETS; i++)
			strcat(hist, i ? ",0" : "0");
		snprintf(path, sizeof(path), "%s/state.json", tm_dir);
		f = fopen(path, "w");
		fprintf(f, "{\"version\":1,\"seq\":4,\"machines\":[{\"name\":\"v2-a\",\"service\":\"sip\","
			   "\"version\":\"2.0\",\"id\":3,\"address\":\"198.18.1.11\",\"weight\":1,"
			   "\"dynamic\":false,\"state\":\"simulation\",\"config_state\":\"simulation\","
			   "\"since\":10,\"remove_at\":0,\"streak\":1,\"windows\":6,\"last_verdict\":1,"
			   "\"last_decision\":0,\"evidence\":{\"sim_seconds\":30,\"paired\":77,"
			   "\"differ_class\":0,\"sim_err_only\":0,\"active_err_only\":0,\"both_err\":0,"
			   "\"active_lat\":[%s],\"sim_lat\":[%s]}}]}", hist, hist);
		fclose(f);
		EQ("load", m.store->ops->load(m.store, &m, &p, err, sizeof(err)), 0);
		r = us_model_find(&m, "v2-a");
		if (r) {
			EQ("state", r->state, US_MS_SIMULATION);
			EQ("since", (long long)r->since, 10);
			EQ("reset from format", r->judging.reset_from, 1);
			EQ("streak", us_judging_streak(&r->judging), 0);
			EQ("paired", us_judging_paired(&r->judging), 0);
		} else {
			th_fail("v2-a", "missing", "loaded");
		}
		us_store_close(m.store);
		us_model_free(&m);
	}

	if (th_subtest("second-format-state-file")) {
		tm_fresh();
		char path[256], hist[US_LAT_BUCKETS * 2 + 2];
		FILE *f;

		if (tm_model(&m))
			return;
		hist[0] = 0;
		for (int i = 0; i < US_LAT_BUCKETS; i++)
			strcat(hist, i ? ",0" : "0");
		snprintf(path, sizeof(path), "%s/state.json", tm_dir);
		f = fopen(path, "w");
		fprintf(f, "{\"version\":2,\"seq\":4,\"machines\":[{\"name\":\"v2-a\",\"service\":\"sip\","
			   "\"version\":\"2.0\",\"id\":3,\"address\":\"198.18.1.11\",\"weight\":1,"
			   "\"dynamic\":false,\"state\":\"simulation\",\"config_state\":\"simulation\","
			   "\"since\":10,\"remove_at\":0,\"judging\":{\"evidence\":{\"sim_seconds\":30,"
			   "\"paired\":77,\"differ_class\":0,\"sim_err_only\":0,\"active_err_only\":0,"
			   "\"both_err\":0,\"active_lat\":[%s],\"sim_lat\":[%s]},\"streak\":1,"
			   "\"judged\":6,\"last_paired\":77,\"last_seconds\":30,\"verdict\":1,"
			   "\"decision\":0}}]}", hist, hist);
		fclose(f);
		EQ("load", m.store->ops->load(m.store, &m, &p, err, sizeof(err)), 0);
		r = us_model_find(&m, "v2-a");
		if (r) {
			EQ("reset from format", r->judging.reset_from, 2);
			EQ("streak", us_judging_streak(&r->judging), 0);
			EQ("paired", us_judging_paired(&r->judging), 0);
			EQ("id", r->id, 3);
		} else {
			th_fail("v2-a", "missing", "loaded");
		}
		us_store_close(m.store);
		us_model_free(&m);
	}
}

/* Load as a restarted daemon does: records, then the pending transition. */
static int reload(struct us_model *m, char *err, size_t len)
{
	struct us_audit p;
	int rc;

	if (tm_model(m))
		return -1;
	m->now = fixed_now;
	rc = m->store->ops->load(m->store, m, &p, err, len);
	if (!rc)
		rc = us_model_recover(m, &p);
	if (rc && !err[0])
		snprintf(err, len, "%s", us_model_error(m));
	return rc;
}

static void done(struct us_model *m)
{
	us_store_close(m->store);
	us_model_free(m);
}

TH_TEST(recovery)
{
	struct us_model m, back;
	char err[512] = "", line[1024];

	/* an audit line ahead of the records for a machine they do not know
	 * cannot be replayed: the load says so instead of guessing */
	if (th_subtest("unknown-machine-refused")) {
		tm_fresh();
		if (tm_model(&m))
			return;
		tm_add(&m, "s1", "198.18.1.11", US_MS_SIMULATION);
		done(&m);
		tm_audit_append("{\"seq\":2,\"time\":300,\"machine\":\"ghost\",\"service\":\"sip\","
				"\"version\":\"2.0\",\"from\":\"simulation\",\"to\":\"rejected\","
				"\"by\":\"judge\",\"reason\":\"x\"}\n");
		EQ("load", reload(&back, err, sizeof(err)), -EINVAL);
		if (!strstr(err, "cannot be replayed"))
			th_fail("error", err, "cannot be replayed");
		done(&back);
	}

	/* a crash after the audit line and before the records: the load
	 * finishes the transition, once, through the move; a torn last line
	 * is dropped */
	if (th_subtest("finished-once-torn-line-dropped")) {
		tm_fresh();
		struct us_rec *r;

		if (tm_model(&m))
			return;
		tm_add(&m, "s1", "198.18.1.11", US_MS_SIMULATION);
		done(&m);
		tm_audit_append("{\"seq\":2,\"time\":300,\"machine\":\"s1\",\"service\":\"sip\","
				"\"version\":\"2.0\",\"from\":\"simulation\",\"to\":\"rejected\","
				"\"by\":\"judge\",\"reason\":\"x\"}\n");
		tm_audit_append("{\"seq\":3,\"time\":301,\"machine\":\"s1\"");  /* torn */
		EQ("load", reload(&m, err, sizeof(err)), 0);
		r = us_model_find(&m, "s1");
		EQ("state", r ? r->state : 0, US_MS_REJECTED);
		EQ("since: the transition's time", r ? (long long)r->since : 0, 300);
		EQ("seq", m.seq, 2);
		EQ("applied (as the daemon will, every record)", r ? us_model_apply(&m, r) : -1, 0);
		EQ("the torn line is gone", tm_audit(line, sizeof(line)), 2);
		done(&m);
		EQ("load again", reload(&back, err, sizeof(err)), 0);
		r = us_model_find(&back, "s1");
		EQ("state from the records", r ? r->state : 0, US_MS_REJECTED);
		EQ("seq", back.seq, 2);
		done(&back);
	}

	/* the creation of a machine, logged and not saved: it is made again
	 * from its audit line */
	if (th_subtest("creation-replayed")) {
		tm_fresh();
		struct us_rec *r;

		tm_audit_append("{\"seq\":1,\"time\":50,\"machine\":\"v2-x\",\"service\":\"sip\","
				"\"version\":\"2.0\",\"id\":7,\"address\":\"198.18.1.77\",\"weight\":3,"
				"\"dynamic\":true,\"from\":\"unused\",\"to\":\"simulation\","
				"\"by\":\"operator\",\"reason\":\"add\"}\n");
		EQ("load", reload(&m, err, sizeof(err)), 0);
		r = us_model_find(&m, "v2-x");
		if (r) {
			EQ("state", r->state, US_MS_SIMULATION);
			EQ("id", r->id, 7);
			EQ("weight", r->conf.weight, 3);
			EQ("dynamic", r->conf.dynamic, 1);
			EQ("seq", m.seq, 1);
		} else {
			th_fail("v2-x", "missing", "made from the audit line");
		}
		done(&m);
	}

	/* a removal's drain, logged and not saved: the drain's end comes back */
	if (th_subtest("drain-replayed")) {
		tm_fresh();
		struct us_rec *r;

		if (tm_model(&m))
			return;
		tm_add(&m, "v1-a", "198.18.1.1", US_MS_ACTIVE);
		done(&m);
		tm_audit_append("{\"seq\":2,\"time\":60,\"machine\":\"v1-a\",\"service\":\"sip\","
				"\"version\":\"1.0\",\"from\":\"active\",\"to\":\"draining\","
				"\"by\":\"operator\",\"reason\":\"remove\",\"remove_at\":99}\n");
		EQ("load", reload(&m, err, sizeof(err)), 0);
		r = us_model_find(&m, "v1-a");
		EQ("state", r ? r->state : 0, US_MS_DRAINING);
		EQ("remove_at", r ? (long long)r->remove_at : 0, 99);
		done(&m);
	}

	/* a restart in every state, and a crash just after every kind of
	 * transition's audit line: the state comes back, exactly once */
	if (th_subtest("every-state")) {
		tm_fresh();
		static const enum us_mstate st[] = { US_MS_ACTIVE, US_MS_SIMULATION, US_MS_DRAINING,
						     US_MS_REJECTED, US_MS_REMOVED };

		for (size_t i = 0; i < ARRAY_SIZE(st); i++) {
			for (size_t j = 0; j < ARRAY_SIZE(st); j++) {
				char cmd[256], l[512];
				struct us_rec *r;

				if (i == j)
					continue;
				snprintf(cmd, sizeof(cmd), "rm -f %s/*", tm_dir);
				if (system(cmd))
					th_fail("rm", cmd, "done");
				if (tm_model(&m))
					return;
				tm_add(&m, "m", "198.18.1.1", st[i]);
				done(&m);
				EQ("restart", reload(&back, err, sizeof(err)), 0);
				r = us_model_find(&back, "m");
				th_eqf(r ? r->state : 0, st[i], "%s: after a restart",
				       us_state_name(st[i]));
				done(&back);
				snprintf(l, sizeof(l), "{\"seq\":2,\"time\":5,\"machine\":\"m\",\"service\":"
					 "\"sip\",\"version\":\"1.0\",\"from\":\"x\",\"to\":\"%s\",\"by\":"
					 "\"config\",\"reason\":\"r\"}\n", us_state_name(st[j]));
				tm_audit_append(l);
				for (int k = 0; k < 2; k++) {
					EQ("restart", reload(&back, err, sizeof(err)), 0);
					r = us_model_find(&back, "m");
					th_eqf(r ? r->state : 0, st[j], "%s -> %s: after %s restart",
					       us_state_name(st[i]), us_state_name(st[j]),
					       k ? "a second" : "the");
					EQ("seq", back.seq, 2);
					done(&back);
				}
			}
		}
	}
}
