// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The cluster's parts (docs/cluster.md) against a real etcd (Debian's) in a
 * network namespace of their own (tests/etcdlab.h: uscl-<pid>): the store
 * on etcd (store_etcd.h); agents' counters pulled and summed
 * (counters.h, source_remote.h) from agents in this process.
 *
 *   build/test_cluster              every test
 *   build/test_cluster -t store     one test (-l lists them, -v says more)
 *
 * Every test works under a key prefix of its own.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "etcd.h"
#include "etcdlab.h"
#include "harness.h"
#include "model.h"
#include "counters.h"
#include "dp.h"
#include "leader.h"
#include "source_remote.h"
#include "store_etcd.h"
#include <microhttpd.h>

static struct el_member m1;

#define STARTUP_MS 15000

/* ---- helpers -------------------------------------------------------------------- */

static long long ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int has(const char *what, const char *msg, const char *part)
{
	char e[200];

	if (msg && strstr(msg, part))
		return 1;
	snprintf(e, sizeof(e), "a message with \"%s\"", part);
	th_fail(what, msg ? msg : "(null)", e);
	return 0;
}

static int ok(const char *what, int err, const char *msg)
{
	char a[2300];

	if (!err)
		return 1;
	snprintf(a, sizeof(a), "%d (%s): %s", err, strerror(-err), msg ? msg : "");
	th_fail(what, a, "0");
	return 0;
}

static struct us_etcd_opts eopts(void)
{
	static const char *ep[1];

	ep[0] = m1.url;
	return (struct us_etcd_opts){ .endpoints = ep, .nendpoints = 1, .timeout_ms = 2000,
				      .connect_timeout_ms = 200, .watch_heartbeat_ms = 200 };
}

static struct us_store *store(const char *prefix, long max_ops)
{
	struct us_etcd_opts eo = eopts();
	struct us_store_etcd_opts o = { .etcd = &eo, .prefix = prefix, .max_txn_ops = max_ops };
	struct us_store *s;
	char err[300];

	if (us_store_etcd_open(&o, &s, err, sizeof(err))) {
		th_fail("us_store_etcd_open", err, "a store");
		return NULL;
	}
	return s;
}

/* A candidate of election <prefix>/election with a lease of its own, leading
 * or not; the store writes as it. */
static int lead(struct us_store *s, const char *prefix, struct us_etcd_candidate *me,
		bool *leading)
{
	struct us_etcd *c = us_store_etcd_client(s);
	char el[160];
	int64_t lease;
	int rc;

	snprintf(el, sizeof(el), "%s/election", prefix);
	rc = us_etcd_lease_grant(c, 30, &lease, NULL);
	if (!rc)
		rc = us_etcd_campaign(c, el, lease, "t", 1, me, leading);
	if (!ok("campaign", rc, us_etcd_error(c)))
		return rc;
	us_store_etcd_lead(s, me);
	return 0;
}

static const char conf_json[] =
	"{\"balancer\": {\"client_interface\": \"eth0\", \"machine_interfaces\": [\"eth1\"]},\n"
	" \"services\": [{\"name\": \"sip\", \"vip\": \"198.18.100.1\", \"port\": 5060,\n"
	"   \"machines\": [{\"name\": \"v1-a\", \"address\": \"198.18.1.1\", \"version\": \"1.0\",\n"
	"                 \"state\": \"active\"}]}]}\n";

static struct us_mconf mconf(const char *version, int i)
{
	struct us_mconf c = { .family = AF_INET, .weight = 100, .state = US_MS_ACTIVE };

	snprintf(c.service, sizeof(c.service), "sip");
	snprintf(c.version, sizeof(c.version), "%s", version);
	c.addr[10] = c.addr[11] = 0xff;
	c.addr[12] = 198;
	c.addr[13] = 18;
	c.addr[14] = 1;
	c.addr[15] = (__u8)(1 + i);
	return c;
}

/* a new machine moved into state by the configuration */
static int add(struct us_model *m, const char *name, int i, enum us_mstate state)
{
	struct us_mconf c = mconf("1.0", i);
	struct us_rec *r;
	int rc = us_model_new(m, name, &c, &r);

	if (!rc)
		rc = us_model_move(m, r, state, US_BY_CONFIG, "configured");
	return rc;
}

static int count_keys(const char *prefix)
{
	struct us_etcd_opts eo = eopts();
	struct us_etcd *c;
	struct us_etcd_kvs r;
	char err[200];
	int n = -1;

	if (us_etcd_open(&eo, &c, err, sizeof(err)))
		return -1;
	if (!us_etcd_range(c, prefix, 0, 0, &r)) {
		n = (int)r.n;
		us_etcd_kvs_free(&r);
	}
	us_etcd_close(c);
	return n;
}

/* ---- the store: desired state -------------------------------------------------- */

TH_TEST(desired)
{
	struct us_store *s = store("/t-desired", 0);
	struct us_conf conf;
	char err[2048];
	int64_t rev = 0, rev2 = 0;

	if (!s)
		return;
	if (th_subtest("absent")) {
		EQ("load_conf", us_store_load_conf(s, &conf, err, sizeof(err)), -ENOENT);
		has("message", err, "etcd:/t-desired/desired/config: no desired state");
	}
	if (th_subtest("invalid_refused")) {
		static const char bad[] = "{\"balancer\": {\"client_interface\": \"eth0\"},\n"
					  " \"services\": [{\"name\": \"sip\", \"port\": 99999}]}";

		EQ("put", us_store_etcd_put_desired(s, bad, strlen(bad), -1, &rev, err,
						    sizeof(err)), -EINVAL);
		/* config.c's own message, with the key for the file */
		has("where", err, "etcd:/t-desired/desired/config:2:");
		has("what", err, "port");
		EQ("nothing written", count_keys("/t-desired/"), 0);
	}
	if (th_subtest("round_trip")) {
		if (ok("put", us_store_etcd_put_desired(s, conf_json, strlen(conf_json), 0, &rev,
							err, sizeof(err)), err) &&
		    ok("load_conf", us_store_load_conf(s, &conf, err, sizeof(err)), err)) {
			EQ("services", conf.nservices, 1);
			EQ("machines", conf.nmachines, 1);
			EQ("port", conf.services[0].port, 5060);
			EQ("revision read", us_store_etcd_desired_revision(s), rev);
			us_conf_free(&conf);
		}
		/* a compare-and-swap on its revision */
		EQ("put over a stale revision", us_store_etcd_put_desired(
			   s, conf_json, strlen(conf_json), rev - 1, &rev2, err, sizeof(err)),
		   -ESTALE);
		has("message", err, "changed since revision");
		ok("put over its revision", us_store_etcd_put_desired(
			   s, conf_json, strlen(conf_json), rev, &rev2, err, sizeof(err)), err);
		EQ("a new revision", rev2 > rev, 1);
	}
	us_store_close(s);
}

/* ---- the store: records and audit trail ---------------------------------------- */

/* Two stores (two controllers) under prefix, the first leading, and three
 * transitions made through the first: v1-a active, v2-a in simulation
 * then promoted. */
struct two {
	struct us_store *s, *s2;
	struct us_etcd_candidate me;
	struct us_model m, m2;
	char prefix[64];
};

static int two_open(struct two *t, const char *prefix)
{
	struct us_audit pending;
	struct us_rec *r;
	char err[1024];
	bool leading;

	memset(t, 0, sizeof(*t));
	snprintf(t->prefix, sizeof(t->prefix), "%s", prefix);
	t->s = store(prefix, 0);
	t->s2 = store(prefix, 0);
	us_model_init(&t->m, t->s);
	us_model_init(&t->m2, t->s2);
	if (!t->s || !t->s2 || lead(t->s, prefix, &t->me, &leading) || !EQ("leads", leading, true))
		return -1;
	if (!ok("load empty", t->s->ops->load(t->s, &t->m, &pending, err, sizeof(err)), err) ||
	    !EQ("no records", t->m.n, 0) ||
	    !ok("add v1-a", add(&t->m, "v1-a", 0, US_MS_ACTIVE), us_model_error(&t->m)) ||
	    !ok("add v2-a", add(&t->m, "v2-a", 1, US_MS_SIMULATION), us_model_error(&t->m)))
		return -1;
	r = us_model_find(&t->m, "v2-a");
	if (!r || !ok("promote", us_model_move(&t->m, r, US_MS_ACTIVE, US_BY_OPERATOR,
					       "looks good"), us_model_error(&t->m)))
		return -1;
	return 0;
}

static void two_close(struct two *t)
{
	us_model_free(&t->m);
	us_model_free(&t->m2);
	us_store_close(t->s);
	us_store_close(t->s2);
}

static int count_under(const struct two *t, const char *what)
{
	char k[128];

	snprintf(k, sizeof(k), "%s/%s", t->prefix, what);
	return count_keys(k);
}

static void rec_round_trip(struct two *t)
{
	struct us_store *s2 = t->s2;
	struct us_model *mp = &t->m, *m2p = &t->m2;
	json_object *h = json_object_new_array();
	struct us_audit pending;
	struct us_rec *r;
	char err[1024];

	EQ("seq", mp->seq, 3);
	/* another store (another controller) reads the same */
	if (ok("load", s2->ops->load(s2, m2p, &pending, err, sizeof(err)), err)) {
		EQ("seq read", m2p->seq, 3);
		EQ("records read", m2p->n, 2);
		EQ("no pending transition", pending.seq, 0);
		r = us_model_find(m2p, "v2-a");
		if (EQ("v2-a read", r != NULL, 1)) {
			EQ("its state", r->state, US_MS_ACTIVE);
			EQ("its id", r->id, us_model_find(mp, "v2-a")->id);
			EQ("its weight", r->conf.weight, 100);
		}
	}
	EQ("audit keys", count_under(t, "audit/"), 3);
	/* the last two transitions, oldest first */
	if (ok("history", s2->ops->history(s2, 2, h), us_store_error(s2)) &&
	    EQ("history length", json_object_array_length(h), 2)) {
		struct us_audit a;

		if (EQ("parse", us_audit_parse(json_object_array_get_idx(h, 0), &a), 0))
			EQ("first seq", a.seq, 2);
		if (EQ("parse", us_audit_parse(json_object_array_get_idx(h, 1), &a), 0)) {
			EQ("last seq", a.seq, 3);
			EQ("to", a.to, US_MS_ACTIVE);
			EQ("by", a.by, US_BY_OPERATOR);
		}
	}
	json_object_put(h);
}

/* two writers read the same records; both move a machine: the second's
 * save is refused, nothing of it written */
static void rec_cas_conflict(struct two *t)
{
	struct us_store *s = t->s, *s2 = t->s2;
	struct us_model *mp = &t->m, *m2p = &t->m2;
	struct us_audit pending;
	struct us_rec *r;
	char err[1024];
	int rc;

	ok("load a", s->ops->load(s, mp, &pending, err, sizeof(err)), err);
	us_store_etcd_lead(s2, &t->me);
	ok("load b", s2->ops->load(s2, m2p, &pending, err, sizeof(err)), err);
	r = us_model_find(mp, "v1-a");
	if (r)
		ok("a drains v1-a", us_model_move(mp, r, US_MS_DRAINING, US_BY_OPERATOR,
						  "a"), us_model_error(mp));
	r = us_model_find(m2p, "v2-a");
	if (r) {
		rc = us_model_move(m2p, r, US_MS_DRAINING, US_BY_OPERATOR, "b");
		EQ("b refused", rc, -ESTALE);
		has("message", us_model_error(m2p), "another writer saved");
		EQ("b's record unchanged in memory", r->state, US_MS_ACTIVE);
	}
	/* etcd: a's transition only */
	if (ok("reload", s2->ops->load(s2, m2p, &pending, err, sizeof(err)), err)) {
		EQ("seq", m2p->seq, mp->seq);
		r = us_model_find(m2p, "v1-a");
		EQ("a's move", r && r->state == US_MS_DRAINING, 1);
		r = us_model_find(m2p, "v2-a");
		EQ("b's not", r && r->state == US_MS_ACTIVE, 1);
	}
	EQ("audit keys: a's only", count_under(t, "audit/"), (int)mp->seq);
	/* reloaded, b writes the next transition */
	r = us_model_find(m2p, "v2-a");
	if (r)
		ok("b again", us_model_move(m2p, r, US_MS_DRAINING, US_BY_OPERATOR, "b"),
		   us_model_error(m2p));
	EQ("one sequence", count_under(t, "audit/"), (int)m2p->seq);
	us_store_etcd_lead(s2, NULL);
}

/* the leader's lease ends: its save is refused, nothing written */
static void rec_deposed(struct two *t)
{
	struct us_store *s = t->s;
	struct us_model *mp = &t->m;
	struct us_etcd *c = us_store_etcd_client(s);
	struct us_audit pending;
	struct us_rec *r;
	char err[1024];
	int n0;

	ok("load", s->ops->load(s, mp, &pending, err, sizeof(err)), err);
	n0 = count_under(t, "");
	ok("revoke", us_etcd_lease_revoke(c, t->me.lease), us_etcd_error(c));
	r = us_model_find(mp, "v1-a");
	if (r) {
		EQ("refused", us_model_move(mp, r, US_MS_DRAINING, US_BY_OPERATOR, "late"),
		   -EPERM);
		has("message", us_model_error(mp), "no longer the leader");
		EQ("unchanged in memory", r->state, US_MS_ACTIVE);
	}
	/* the election key went with the lease, nothing else */
	EQ("nothing written", count_under(t, ""), n0 - 1);
}

/* a store whose controller does not lead writes nothing */
static void rec_not_leading(struct two *t)
{
	struct us_store *s2 = t->s2;
	struct us_model *m2p = &t->m2;
	struct us_audit pending;
	char err[1024];

	us_store_etcd_lead(s2, NULL);
	ok("load", s2->ops->load(s2, m2p, &pending, err, sizeof(err)), err);
	EQ("save", s2->ops->save(s2, m2p), -EPERM);
	has("message", us_store_error(s2), "does not lead");
}

TH_TEST(records)
{
	static const struct {
		const char *name, *prefix;
		void (*fn)(struct two *t);
	} sub[] = {
		{ "round_trip", "/t-rec-rt", rec_round_trip },
		{ "cas_conflict", "/t-rec-cas", rec_cas_conflict },
		{ "deposed", "/t-rec-dep", rec_deposed },
		{ "not_leading", "/t-rec-nl", rec_not_leading },
	};

	for (size_t i = 0; i < ARRAY_SIZE(sub); i++)
		if (th_subtest("%s", sub[i].name)) {
			struct two t;

			if (!two_open(&t, sub[i].prefix))
				sub[i].fn(&t);
			two_close(&t);
		}
}

/* A save of more changed records than a transaction takes: in several,
 * the transition's record in the first; read back whole. */
TH_TEST(large_save)
{
	struct us_store *s = store("/t-large", 8), *s2 = store("/t-large", 8);
	struct us_etcd_candidate me;
	struct us_audit pending;
	struct us_model m, m2;
	bool leading;
	char err[1024], name[32];

	us_model_init(&m, s);
	us_model_init(&m2, s2);
	if (!s || !s2 || lead(s, "/t-large", &me, &leading))
		goto out;
	for (int i = 0; i < 20; i++) {
		snprintf(name, sizeof(name), "m%02d", i);
		if (!ok("add", add(&m, name, i, US_MS_ACTIVE), us_model_error(&m)))
			goto out;
	}
	for (size_t i = 0; i < m.n; i++)
		m.r[i].conf.weight = (__u16)(200 + i);
	{
		struct us_etcd *c = us_store_etcd_client(s);
		struct us_etcd_status st0, st1;

		ok("status", us_etcd_status(c, &st0), us_etcd_error(c));
		ok("save of 20 changed records, 8 operations a transaction", us_model_save(&m),
		   us_model_error(&m));
		ok("status", us_etcd_status(c, &st1), us_etcd_error(c));
		/* 7 records and the sequence number a transaction */
		EQ("transactions", st1.revision - st0.revision, 3);
		/* nothing changed: no revision */
		ok("save again", us_model_save(&m), us_model_error(&m));
		ok("status", us_etcd_status(c, &st0), us_etcd_error(c));
		EQ("no transaction", st0.revision - st1.revision, 0);
	}
	if (ok("load", s2->ops->load(s2, &m2, &pending, err, sizeof(err)), err)) {
		EQ("records", m2.n, 20);
		EQ("seq", m2.seq, 20);
		for (size_t i = 0; i < m2.n; i++) {
			struct us_rec *r = us_model_find(&m, m2.r[i].name);

			th_eqf(m2.r[i].conf.weight, r ? r->conf.weight : 0, "%s's weight",
			       m2.r[i].name);
		}
	}
	/* a machine dropped from the model goes from etcd */
	us_model_drop(&m, us_model_find(&m, "m07"));
	ok("save", us_model_save(&m), us_model_error(&m));
	EQ("records left", count_keys("/t-large/state/records/"), 19);
out:
	us_model_free(&m);
	us_model_free(&m2);
	us_store_close(s);
	us_store_close(s2);
}

/* The store's watch: readable when the desired state changes, one whole
 * revision at a time; quiet otherwise; across a restart of etcd. */
TH_TEST(watch)
{
	struct us_store *s = store("/t-watch", 0), *w = store("/t-watch", 0);
	struct us_conf conf;
	char err[1024];
	int64_t rev;
	int fd;

	if (!s || !w)
		goto out;
	if (!ok("put", us_store_etcd_put_desired(s, conf_json, strlen(conf_json), -1, &rev, err,
						 sizeof(err)), err) ||
	    !ok("load_conf", us_store_load_conf(w, &conf, err, sizeof(err)), err))
		goto out;
	us_conf_free(&conf);
	fd = w->ops->watch(w);
	if (!EQ("watch fd", fd >= 0, 1))
		goto out;
	{
		struct pollfd p = { .fd = fd, .events = POLLIN };
		long long t0 = ms_now();
		int changed = 0;

		/* quiet: nothing changed for 500 ms */
		while (ms_now() - t0 < 500)
			if (poll(&p, 1, 100) > 0)
				changed |= w->ops->changed(w);
		EQ("no change seen", changed, 0);
		ok("put", us_store_etcd_put_desired(s, conf_json, strlen(conf_json), rev, &rev,
						    err, sizeof(err)), err);
		t0 = ms_now();
		while (!changed && ms_now() - t0 < 3000)
			if (poll(&p, 1, 100) > 0)
				changed = w->ops->changed(w);
		EQ("change seen", changed, 1);
		/* a key beside the desired state is not a change of it */
		changed = 0;
		{
			struct us_etcd *c = us_store_etcd_client(s);

			ok("put beside", us_etcd_put(c, "/t-watch/other", "x", 1, 0, NULL),
			   us_etcd_error(c));
		}
		t0 = ms_now();
		while (ms_now() - t0 < 500)
			if (poll(&p, 1, 100) > 0)
				changed |= w->ops->changed(w);
		EQ("no change seen", changed, 0);
		/* etcd stopped: the watch ends, and is opened again once etcd is
		 * back, from where it was: a change made meanwhile is seen */
		el_stop(&m1);
		t0 = ms_now();
		while (ms_now() - t0 < 1500)
			if (poll(&p, 1, 100) > 0)
				changed |= w->ops->changed(w);
		EQ("no change while etcd is down", changed, 0);
		has("the watch's end said", us_store_error(w), "/t-watch/desired/");
		if (!EQ("etcd back", el_restart(&m1, STARTUP_MS), 0))
			goto out;
		ok("put", us_store_etcd_put_desired(s, conf_json, strlen(conf_json), rev, &rev,
						    err, sizeof(err)), err);
		t0 = ms_now();
		while (!changed && ms_now() - t0 < 5000)
			if (poll(&p, 1, 100) > 0)
				changed = w->ops->changed(w);
		EQ("change seen after etcd's restart", changed, 1);
	}
out:
	us_store_close(s);
	us_store_close(w);
}

/* ---- agents' counters pulled by the controller ---------------------------------- */

/* An agent in this process: its counters served at /counters. */
struct fake_agent {
	struct MHD_Daemon *mhd;
	__u16 port;
	char boot[32];
	__u64 req[US_MAX_MACHINES];     /* INVITEs per machine id (0: not served) */
	__u64 pkts;
};

static int fake_read(void *ctx, struct us_counters_snap *out)
{
	struct fake_agent *a = ctx;

	snprintf(out->boot, sizeof(out->boot), "%s", a->boot);
	out->stats[0] = a->pkts;
	for (__u32 id = 0; id < US_MAX_MACHINES; id++)
		if (a->req[id]) {
			out->ids[out->n] = id;
			memset(&out->m[out->n], 0, sizeof(out->m[0]));
			out->m[out->n].req[US_M_INVITE] = a->req[id];
			out->m[out->n].lat_hist[US_LAT_BUCKETS - 1] = a->req[id];
			out->n++;
		}
	return 0;
}

static enum MHD_Result fake_handler(void *cls, struct MHD_Connection *c, const char *url,
				    const char *method, const char *version, const char *data,
				    size_t *size, void **state)
{
	(void)version; (void)data; (void)size; (void)state;
	if (strcmp(url, "/counters"))
		return MHD_NO;
	return us_counters_serve(c, method, fake_read, cls);
}

static int fake_start(struct fake_agent *a)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(a->port) };

	inet_pton(AF_INET, EL_ADDR3, &sa.sin_addr);
	a->mhd = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, a->port, NULL, NULL,
				  fake_handler, a, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
				  MHD_OPTION_END);
	return a->mhd ? 0 : -1;
}

static void fake_stop(struct fake_agent *a)
{
	if (a->mhd)
		MHD_stop_daemon(a->mhd);
	a->mhd = NULL;
}

/* read ids 1 and 2: their INVITEs, total and window */
static void pooled(struct us_source *src, __u64 tot[2], __u64 win[2], bool have_win[2])
{
	__u32 ids[2] = { 1, 2 };
	struct us_counts *c = calloc(2, sizeof(*c));

	if (!c)
		return;
	EQ("read", src->ops->read(src, ids, 2, c), 0);
	for (int i = 0; i < 2; i++) {
		tot[i] = c[i].total.req[US_M_INVITE];
		win[i] = c[i].win.req[US_M_INVITE];
		have_win[i] = c[i].have_win;
		/* every word is summed, not just one */
		th_eqf(c[i].total.lat_hist[US_LAT_BUCKETS - 1], tot[i], "id %d's histogram", i + 1);
	}
	free(c);
}

TH_TEST(counters)
{
	static struct fake_agent a = { .port = 9101, .boot = "a1" }, b = { .port = 9102,
									   .boot = "b1" };
	const char *urls[] = { "http://" EL_ADDR3 ":9101", "http://" EL_ADDR3 ":9102" };
	struct us_remote_opts o = { .agents = urls, .nagents = 2, .timeout_ms = 500 };
	const struct us_remote_agent *st;
	struct us_source *src = NULL;
	__u64 tot[2], win[2], pk[US_ST_MAX];
	bool hw[2];
	char err[300];
	size_t n;

	a.req[1] = 10, a.req[2] = 1, a.pkts = 100;
	b.req[1] = 5, b.pkts = 50;
	if (!EQ("agents", !fake_start(&a) && !fake_start(&b), 1))
		goto out;
	if (!ok("source", us_source_remote(&o, &src, err, sizeof(err)), err))
		goto out;
	/* the first read: totals summed, no window yet */
	pooled(src, tot, win, hw);
	EQ("id 1 total", tot[0], 15);
	EQ("id 2 total", tot[1], 1);
	EQ("no window yet", hw[0], false);
	EQ("packets", src->ops->packets(src, pk), 0);
	EQ("packets summed", pk[0], 150);
	/* both count on */
	a.req[1] = 20, b.req[1] = 8, b.req[2] = 4;
	pooled(src, tot, win, hw);
	EQ("id 1 window", win[0], 10 + 3);
	EQ("id 2 window", win[1], 4);
	EQ("window", hw[0], true);
	/* b down: its last counters kept, reported stale */
	fake_stop(&b);
	a.req[1] = 25;
	pooled(src, tot, win, hw);
	EQ("id 1 total with b's last", tot[0], 25 + 8);
	EQ("id 1 window: a's", win[0], 5);
	st = us_source_remote_agents(src, &n);
	if (EQ("two agents", n, 2)) {
		EQ("a fresh", st[0].stale, false);
		EQ("b stale", st[1].stale, true);
		has("b's error", st[1].error, urls[1]);
	}
	/* b back, same counters' lifetime: its increase while down is counted once */
	b.req[1] = 12;
	if (!EQ("b again", fake_start(&b), 0))
		goto out;
	pooled(src, tot, win, hw);
	EQ("id 1 window: b's missed windows", win[0], 4);
	EQ("id 1 total", tot[0], 25 + 12);
	st = us_source_remote_agents(src, &n);
	EQ("b fresh", st[1].stale, false);
	/* b's data plane made anew: counters from zero, a new boot */
	snprintf(b.boot, sizeof(b.boot), "b2");
	b.req[1] = 3, b.req[2] = 0, b.pkts = 7;
	pooled(src, tot, win, hw);
	EQ("id 1 window after b's reset", win[0], 3);
	EQ("id 1 total never goes down", tot[0], 25 + 12 + 3);
	EQ("id 2 total kept", tot[1], 1 + 4);
	EQ("packets", src->ops->packets(src, pk), 0);
	EQ("packets: b's before and after", pk[0], 100 + 50 + 7);
	/* a counter that goes down with the same boot is a reset too */
	b.req[1] = 1;
	pooled(src, tot, win, hw);
	EQ("id 1 window after a drop", win[0], 1);
	EQ("id 1 total", tot[0], 25 + 12 + 3 + 1);
	st = us_source_remote_agents(src, &n);
	EQ("b's resets", st[1].resets, 2);
	EQ("a's resets", st[0].resets, 0);
out:
	us_source_close(src);
	fake_stop(&a);
	fake_stop(&b);
}

TH_TEST(counters_format)
{
	struct us_counters_snap *s = calloc(2, sizeof(*s));
	json_object *o, *bad;
	char err[200];

	if (!s)
		return;
	snprintf(s->boot, sizeof(s->boot), "x");
	s->n = 1;
	s->ids[0] = 7;
	s->m[0].req[US_M_BYE] = 3;
	s->m[0].dlg_answered = (__u64)1 << 63;
	s->stats[US_ST_MAX - 1] = 9;
	o = us_counters_json(s);
	if (EQ("parse", us_counters_parse(o, &s[1], err, sizeof(err)), 0))
		EQ("round trip", memcmp(&s[0], &s[1], sizeof(*s)), 0);
	/* sparse: one pair per counter that is not zero */
	EQ("pairs", json_object_array_length(json_object_object_get(
		   json_object_array_get_idx(json_object_object_get(o, "machines"), 0), "c")), 4);
	bad = json_tokener_parse(json_object_to_json_string(o));
	json_object_object_add(bad, "words", json_object_new_int(3));
	EQ("another layout", us_counters_parse(bad, &s[1], err, sizeof(err)), -EINVAL);
	has("message", err, "words");
	json_object_put(bad);
	bad = json_tokener_parse("{\"version\":1,\"words\":0,\"boot\":\"x\"}");
	json_object_object_add(bad, "words", json_object_new_int((int)US_MSTATS_WORDS));
	json_object_object_add(bad, "stats", json_object_get(json_object_object_get(o, "stats")));
	json_object_object_add(bad, "machines", json_tokener_parse("[{\"id\":7,\"c\":[999,1]}]"));
	EQ("index out of range", us_counters_parse(bad, &s[1], err, sizeof(err)), -EINVAL);
	has("message", err, "machines[0].c[0]");
	json_object_put(bad);
	json_object_put(o);
	free(s);
}

/* ---- leader election ------------------------------------------------------------ */

/* Dispatch both until one of them leads as wanted, at most ms: the time it took. */
static long long until_leads(struct us_leader *a, struct us_leader *b, struct us_leader *want,
			     long long ms)
{
	long long t0 = ms_now();

	while (ms_now() - t0 < ms) {
		struct pollfd p[2] = { { .fd = us_leader_fd(a), .events = POLLIN },
				       { .fd = b ? us_leader_fd(b) : -1, .events = POLLIN } };

		if (poll(p, 2, 100) > 0) {
			if (p[0].revents)
				us_leader_dispatch(a);
			if (b && p[1].revents)
				us_leader_dispatch(b);
		}
		if (us_leader_leading(want) && (!b || us_leader_leading(a) + us_leader_leading(b) == 1))
			return ms_now() - t0;
	}
	return -1;
}

TH_TEST(leader)
{
	struct us_etcd_opts eo = eopts();
	struct us_etcd *ca = NULL, *cb = NULL;
	struct us_leader *a = NULL, *b = NULL;
	struct us_store *s = store("/t-lead", 0);
	struct us_model m;
	struct us_audit pending;
	char err[600];

	us_model_init(&m, s);
	if (!s || us_etcd_open(&eo, &ca, err, sizeof(err)) || us_etcd_open(&eo, &cb, err, sizeof(err)))
		goto out;
	{
		struct us_leader_opts oa = { .etcd = ca, .election = "/t-lead/election", .name = "a",
					     .ttl_s = 2, .check_ms = 200 };
		struct us_leader_opts ob = oa;

		ob.etcd = cb;
		ob.name = "b";
		if (!ok("a stands", us_leader_open(&oa, &a, err, sizeof(err)), err) ||
		    !ok("b stands", us_leader_open(&ob, &b, err, sizeof(err)), err))
			goto out;
	}
	EQ("a leads", us_leader_leading(a), true);
	EQ("b stands by", us_leader_leading(b), false);
	/* a writes as the leader */
	us_store_etcd_lead(s, us_leader_candidate(a));
	ok("load", s->ops->load(s, &m, &pending, err, sizeof(err)), err);
	ok("a's write", add(&m, "v1-a", 0, US_MS_ACTIVE), us_model_error(&m));
	if (th_subtest("lease_revoked")) {
		long long t;

		/* a killed, its lease revoked (by an operator, or etcd's expiry) */
		ok("revoke", us_etcd_lease_revoke(ca, us_leader_candidate(a)->lease),
		   us_etcd_error(ca));
		t = until_leads(b, NULL, b, 3000);
		EQ("b leads within 3 s", t >= 0, 1);
		if (th_verbose)
			printf("test:info:b leads %lld ms after a's lease was revoked\n", t);
		/* a's writes are refused from then on */
		EQ("a's write refused", add(&m, "v1-b", 1, US_MS_ACTIVE), -EPERM);
		has("message", us_model_error(&m), "no longer the leader");
		/* a, back, stands again behind b */
		EQ("a finds it lost", until_leads(a, b, b, 2000) >= 0, 1);
		EQ("a does not lead", us_leader_leading(a), false);
	}
	if (th_subtest("silent_leader")) {
		/* the leader stops renewing (killed outright, frozen): the other
		 * leads once its lease expires (2 s) */
		struct us_leader *l = us_leader_leading(a) ? a : b, *o = l == a ? b : a;
		long long t;

		t = until_leads(o, NULL, o, 6000);
		EQ("the standby leads within the lease and a check", t >= 0, 1);
		if (th_verbose)
			printf("test:info:the standby leads %lld ms after the leader stopped\n", t);
		us_store_etcd_lead(s, us_leader_candidate(o));
		ok("reload", s->ops->load(s, &m, &pending, err, sizeof(err)), err);
		ok("the new leader writes", add(&m, "v1-c", 2, US_MS_ACTIVE), us_model_error(&m));
		us_store_etcd_lead(s, us_leader_candidate(l));
		EQ("the old one's write refused", add(&m, "v1-d", 3, US_MS_ACTIVE), -EPERM);
	}
out:
	us_model_free(&m);
	us_store_close(s);
	us_leader_close(a);
	us_leader_close(b);
	us_etcd_close(ca);
	us_etcd_close(cb);
}

/* ---- identical tables on every balancer ------------------------------------------ */

/* An agent's data plane fed the records of one revision, as the daemon's
 * applier does (a machine's id from its record, its service's id the data
 * plane's own). reverse: in the opposite order. */
static int feed(struct us_dp *dp, __u32 svc_id, const struct us_model *m, bool reverse)
{
	static const __u8 vip[16] = { [10] = 0xff, [11] = 0xff, 198, 18, 100, 1 };
	int rc = us_dp_set_service(dp, svc_id, AF_INET, vip, 5060, 1000);

	for (size_t k = 0; !rc && k < m->n; k++) {
		const struct us_rec *r = &m->r[reverse ? m->n - 1 - k : k];
		struct us_machine_cfg c = { .id = r->id, .svc_id = svc_id, .family = r->conf.family,
					    .weight = r->conf.weight, .state = r->state };

		memcpy(c.addr, r->conf.addr, 16);
		rc = us_dp_set_machine(dp, &c);
	}
	if (rc)
		th_fail("feed", us_dp_error(dp), "applied");
	return rc;
}

TH_TEST(identical_tables)
{
	struct us_store *s = store("/t-tables", 0), *sa = store("/t-tables", 0),
			*sb = store("/t-tables", 0);
	struct us_dp *dpa = NULL, *dpb = NULL;
	struct us_dp_opts oa = { 0 }, ob = { 0 };
	char pa[64], pb[64], err[600], name[32];
	struct us_etcd_candidate me;
	struct us_audit pending;
	struct us_model m, ma, mb;
	bool leading;

	us_model_init(&m, s);
	us_model_init(&ma, sa);
	us_model_init(&mb, sb);
	snprintf(pa, sizeof(pa), "/sys/fs/bpf/uscl-%d-a", getpid());
	snprintf(pb, sizeof(pb), "/sys/fs/bpf/uscl-%d-b", getpid());
	oa.pin_root = pa;
	ob.pin_root = pb;
	oa.err = ob.err = err;
	oa.errlen = ob.errlen = sizeof(err);
	if (!s || !sa || !sb || lead(s, "/t-tables", &me, &leading))
		goto out;
	if (us_dp_open(&oa, &dpa) || us_dp_open(&ob, &dpb)) {
		th_fail("us_dp_open", err, "two data planes");
		goto out;
	}
	/* revision 1: five version-1 machines of several weights, one version 2 */
	for (int i = 0; i < 5; i++) {
		snprintf(name, sizeof(name), "v1-%c", 'a' + i);
		ok("add", add(&m, name, i, US_MS_ACTIVE), us_model_error(&m));
		us_model_find(&m, name)->conf.weight = (__u16)(100 * (i + 1));
	}
	ok("add", add(&m, "v2-a", 5, US_MS_SIMULATION), us_model_error(&m));
	ok("save", us_model_save(&m), us_model_error(&m));
	/* agent b saw revision 1 */
	ok("b loads", sb->ops->load(sb, &mb, &pending, err, sizeof(err)), err);
	/* service 3 on b: its data plane numbered the service otherwise */
	if (feed(dpb, 3, &mb, false))
		goto out;
	/* revision 2: v2-a promoted, v1-b drained, a weight changed, v2-b in
	 * simulation */
	ok("promote", us_model_move(&m, us_model_find(&m, "v2-a"), US_MS_ACTIVE, US_BY_OPERATOR,
				    "good"), us_model_error(&m));
	ok("drain", us_model_move(&m, us_model_find(&m, "v1-b"), US_MS_DRAINING, US_BY_OPERATOR,
				  "old"), us_model_error(&m));
	us_model_find(&m, "v1-d")->conf.weight = 50;
	ok("add", add(&m, "v2-b", 6, US_MS_SIMULATION), us_model_error(&m));
	ok("save", us_model_save(&m), us_model_error(&m));
	/* both agents apply revision 2: a from nothing, b over revision 1, in
	 * the opposite order */
	ok("a loads", sa->ops->load(sa, &ma, &pending, err, sizeof(err)), err);
	ok("b loads", sb->ops->load(sb, &mb, &pending, err, sizeof(err)), err);
	if (feed(dpa, 0, &ma, false) || feed(dpb, 3, &mb, true))
		goto out;
	for (enum us_pool pool = US_POOL_ACTIVE; pool <= US_POOL_SIM; pool++) {
		__u32 differ = 0, slots[US_MAX_MACHINES] = { 0 };

		for (__u32 slot = 0; slot < US_MAGLEV_SIZE; slot++) {
			__u32 x = US_MID_NONE, y = US_MID_NONE;

			if (us_dp_table_lookup(dpa, 0, pool, slot, &x) ||
			    us_dp_table_lookup(dpb, 3, pool, slot, &y)) {
				th_fail("lookup", us_dp_error(dpa), "a machine id");
				break;
			}
			differ += x != y;
			if (x < US_MAX_MACHINES)
				slots[x]++;
		}
		th_eqf(differ, 0, "pool %d: slots that differ between the balancers", pool);
		if (pool == US_POOL_ACTIVE) {
			/* the table is the revision's: v2-a in, v1-b out, by weight */
			EQ("v2-a has slots", slots[us_model_find(&m, "v2-a")->id] > 0, 1);
			EQ("v1-b has none", slots[us_model_find(&m, "v1-b")->id], 0);
			EQ("v1-e (500) more than v1-a (100)",
			   slots[us_model_find(&m, "v1-e")->id] > 3 * slots[us_model_find(&m, "v1-a")->id],
			   1);
		} else {
			EQ("v2-b simulated", slots[us_model_find(&m, "v2-b")->id], US_MAGLEV_SIZE);
		}
	}
out:
	us_dp_close(dpa);
	us_dp_close(dpb);
	us_dp_destroy_pins(pa);
	us_dp_destroy_pins(pb);
	us_model_free(&m);
	us_model_free(&ma);
	us_model_free(&mb);
	us_store_close(s);
	us_store_close(sa);
	us_store_close(sb);
}

/* ---- fixture -------------------------------------------------------------------- */

/* every test finds m1 running */
static int setup(void)
{
	if (!m1.pid && el_restart(&m1, STARTUP_MS)) {
		th_fail("etcd", el_err, "running");
		return -1;
	}
	return 0;
}

static int once(void)
{
	if (el_enter("uscl")) {
		th_fail("namespace", el_err, "entered");
		return -1;
	}
	if (el_start(&m1, "m1", EL_ADDR1, NULL, STARTUP_MS, NULL)) {
		th_fail("etcd", el_err, "running");
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	const struct th_fixture fx = { .once = once, .setup = setup };
	int rc = th_main(argc, argv, &fx);

	el_leave();
	return rc;
}
