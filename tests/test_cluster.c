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
#include <syslog.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "etcd.h"
#include "etcdlab.h"
#include "harness.h"
#include "model.h"
#include "counters.h"
#include "daemon.h"
#include "dp.h"
#include "role.h"
#include "understudy.skel.h"
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
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

/* ---- the roles: an agent and two controllers (understudyd's core) ---------------- */

#define ROLES_PREFIX "/t-roles"
#define ROLES_PORT 9471
#define ROLES_WINDOWS 12

static struct us_daemon agent, c1, c2;
static struct MHD_Daemon *agent_mhd;

static const char roles_desired[] =
	"balancer: {client_interface: eth0, machine_interfaces: [eth1]}\n"
	"services:\n"
	"  - name: sip\n    vip: 198.18.100.1\n    port: 5060\n    mirror_percent: 100\n"
	"    policy: {min_paired: 100, min_simulation_seconds: 0, consecutive_windows: 2}\n"
	"    machines:\n"
	"      - {name: v1-a, address: 198.18.1.1, version: '1.0', state: active}\n"
	"      - {name: v2-a, address: 198.18.1.2, version: '2.0', state: simulation}\n";

/* A host's file of role (agent or controller) name, under prefix; its
 * metrics listener (an agent's /counters) and, for a controller, its agent's
 * port on EL_ADDR3. */
static int roles_file(const char *name, const char *role, const char *prefix,
		      const char *metrics, int agent_port, char *path, size_t len)
{
	FILE *f;

	snprintf(path, len, "%s/%s.yaml", el_dir, name);
	f = fopen(path, "w");
	if (!f)
		return -1;
	fprintf(f, "balancer: {client_interface: eth0, machine_interfaces: [eth1]}\n"
		"daemon:\n  role: %s\n  window: 1s\n  metrics_listen: '%s'\n  log_level: %s\n"
		"  socket: %s/%s.sock\n  state_dir: %s/%s\n  pin_root: /sys/fs/bpf/uscl-%d-%s\n"
		"  etcd: {endpoints: [%s], prefix: %s, name: %s, lease_ttl: 2s, timeout: 2s}\n",
		role, metrics, th_verbose ? "debug" : "error", el_dir, name, el_dir, name,
		getpid(), name, m1.url, prefix, name);
	if (!strcmp(role, "controller"))
		fprintf(f, "  agents: [http://%s:%d/counters]\n", EL_ADDR3, agent_port);
	fprintf(f, "services: []\n");
	return fclose(f);
}

static enum MHD_Result agent_handler(void *cls, struct MHD_Connection *c, const char *url,
				     const char *method, const char *version, const char *data,
				     size_t *size, void **state)
{
	(void)version; (void)data; (void)size; (void)state;
	if (strcmp(url, "/counters"))
		return MHD_NO;
	return us_counters_serve(c, method, us_role_counters, cls);
}

/* Add to CPU 0's copy of the agent's counters of machine mid what a window
 * of mirrored calls (sim) or of active finals would (as tests/controller). */
static int roles_traffic(__u32 mid, __u64 n, bool sim)
{
	int ncpu = libbpf_num_possible_cpus();
	int fd = bpf_map__fd(us_dp_skel(agent.dp)->maps.us_mstats);
	struct us_mstats *v = calloc((size_t)ncpu, sizeof(*v));
	int err = 0;

	if (!v)
		return -ENOMEM;
	if (bpf_map_lookup_elem(fd, &mid, v))
		err = -errno;
	if (!err && sim) {
		v[0].pair.out[US_O_2XX][US_O_2XX] += n;
		v[0].pair.code_same += n;
		v[0].pair.calls += n;
		v[0].pair_lat_shadow[3] += n;
		v[0].pair_lat_active[3] += n;
	}
	if (!err) {
		v[0].final_class[2] += n;
		v[0].lat_hist[3] += n;
		v[0].lat_count += n;
	}
	if (!err && bpf_map_update_elem(fd, &mid, v, 0))
		err = -errno;
	free(v);
	if (err)
		th_fail("us_mstats update", strerror(-err), "0");
	return err;
}

/* Slots of machine mid in the agent's active table. */
static int active_slots(__u32 mid)
{
	int n = 0;

	for (__u32 slot = 0; slot < US_MAGLEV_SIZE; slot++) {
		__u32 x = US_MID_NONE;

		if (us_dp_table_lookup(agent.dp, agent.svc_ids[0], US_POOL_ACTIVE, slot, &x))
			return -1;
		n += x == mid;
	}
	return n;
}

/* The agent's watch, as its event loop: wait for a change, apply it. */
static int agent_follow(int wfd, long ms)
{
	struct pollfd p = { .fd = wfd, .events = POLLIN };
	long long end = ms_now() + ms;
	char err[2048];

	while (ms_now() < end) {
		if (poll(&p, 1, 50) <= 0)
			continue;
		if (agent.store->ops->changed(agent.store) <= 0)
			continue;
		return ok("agent applies", us_daemon_reload(&agent, err, sizeof(err)), err) ? 1 : -1;
	}
	return 0;
}

/* Audit lines under the prefix, and those that made v2-a active. */
static int audit_lines(int *promotions)
{
	struct us_etcd_opts eo = eopts();
	struct us_etcd *c;
	struct us_etcd_kvs r;
	char err[200];
	int n = -1;

	*promotions = 0;
	if (us_etcd_open(&eo, &c, err, sizeof(err)))
		return -1;
	if (!us_etcd_range(c, ROLES_PREFIX "/audit/", 0, 0, &r)) {
		n = (int)r.n;
		for (size_t i = 0; i < r.n; i++)
			*promotions += strstr(r.kv[i].value, "\"v2-a\"") &&
				       strstr(r.kv[i].value, "\"to\":\"active\"");
		us_etcd_kvs_free(&r);
	}
	us_etcd_close(c);
	return n;
}

static const char *status_str(struct us_daemon *d, const char *key)
{
	static char buf[128];
	char *rep = us_daemon_command(d, "{\"cmd\":\"status\"}");
	json_object *o = rep ? json_tokener_parse(rep) : NULL, *v;

	snprintf(buf, sizeof(buf), "%s", o && json_object_object_get_ex(o, key, &v) ?
		 json_object_get_string(v) : "(none)");
	json_object_put(o);
	free(rep);
	return buf;
}

TH_TEST(roles)
{
	char p_agent[256], p_c1[256], p_c2[256], err[2048], pins[96];
	struct us_store *op = store(ROLES_PREFIX, 0);
	bool a_on = false, c1_on = false, c2_on = false;
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(ROLES_PORT) };
	__u32 sim, act;
	int wfd, windows = 0, lines, promotions, pfd;
	long long t0, took = -1, win_ms = 0;
	struct us_etcd_kv kv;

	us_log_level = th_verbose ? LOG_DEBUG : LOG_ERR;
	if (!op || roles_file("agent", "agent", ROLES_PREFIX, "off", 0, p_agent, sizeof(p_agent)) ||
	    roles_file("c1", "controller", ROLES_PREFIX, "off", ROLES_PORT, p_c1, sizeof(p_c1)) ||
	    roles_file("c2", "controller", ROLES_PREFIX, "off", ROLES_PORT, p_c2, sizeof(p_c2))) {
		th_fail("setup", el_dir, "files written");
		goto out;
	}
	if (!ok("desired", us_store_etcd_put_desired(op, roles_desired, sizeof(roles_desired) - 1,
						     -1, NULL, err, sizeof(err)), err))
		goto out;
	/* c1 leads and writes the records; c2 stands by */
	c1_on = ok("c1 starts", us_daemon_start(&c1, p_c1, false, err, sizeof(err)), err);
	if (!c1_on)
		goto out;
	c2_on = ok("c2 starts", us_daemon_start(&c2, p_c2, false, err, sizeof(err)), err);
	if (!c2_on)
		goto out;
	EQ("c1 leads", us_role_leads(&c1), 1);
	EQ("c2 stands by", us_role_leads(&c2), 0);
	EQ("c1 has no data plane", c1.dp == NULL, 1);
	EQ("c1's records", c1.model.n, 2);
	/* the agent: the records as c1 wrote them */
	a_on = ok("agent starts", us_daemon_start(&agent, p_agent, false, err, sizeof(err)), err);
	if (!a_on)
		goto out;
	EQ("agent's records", agent.model.n, 2);
	wfd = agent.store->ops->watch(agent.store);
	sim = us_model_find(&agent.model, "v2-a")->id;
	act = us_model_find(&agent.model, "v1-a")->id;
	EQ("v2-a not active on the agent", active_slots(sim), 0);
	EQ("v1-a active on the agent", active_slots(act), US_MAGLEV_SIZE);
	inet_pton(AF_INET, EL_ADDR3, &sa.sin_addr);
	agent_mhd = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, ROLES_PORT, NULL, NULL,
				     agent_handler, &agent, MHD_OPTION_SOCK_ADDR,
				     (struct sockaddr *)&sa, MHD_OPTION_END);
	if (!agent_mhd) {
		th_fail("agent's /counters", "no listener", "listening");
		goto out;
	}
	/* windows of equal traffic on the agent until c1 promotes v2-a */
	usleep(10000);
	us_daemon_window(&c1);          /* the counters' base */
	for (windows = 1; windows <= ROLES_WINDOWS; windows++) {
		long long w0;

		roles_traffic(sim, 400, true);
		roles_traffic(act, 400, false);
		usleep(10000);
		w0 = ms_now();
		us_daemon_window(&c1);
		win_ms += ms_now() - w0;
		us_daemon_window(&c2);  /* standing by: reads, never judges */
		if (us_model_find(&c1.model, "v2-a")->state == US_MS_ACTIVE)
			break;
	}
	th_eqf(us_model_find(&c1.model, "v2-a")->state, US_MS_ACTIVE,
	       "v2-a promoted by c1 (%d windows)", windows);
	{
		/* what one agent's answer weighs, what a leader's window costs */
		static struct us_counters_snap snap;
		json_object *j;

		memset(&snap, 0, sizeof(snap));
		if (ok("counters", us_role_counters(&agent, &snap), "")) {
			j = us_counters_json(&snap);
			printf("roles: /counters of %zu machines: %zu bytes; a leader's window "
			       "(pull, judge, save): %.1f ms on average over %d\n", snap.n,
			       strlen(json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN)),
			       (double)win_ms / windows, windows);
			json_object_put(j);
		}
	}
	EQ("c2 judged nothing", c2.windows, 0);
	/* the agent's watch brings the promotion into its data plane */
	for (int i = 0; i < 20 && us_model_find(&agent.model, "v2-a")->state != US_MS_ACTIVE; i++)
		if (agent_follow(wfd, 200) < 0)
			break;
	EQ("the agent's record: active", us_model_find(&agent.model, "v2-a")->state, US_MS_ACTIVE);
	EQ("v2-a active in the agent's table", active_slots(sim) > 0, 1);
	lines = audit_lines(&promotions);
	EQ("one promotion in the audit trail", promotions, 1);
	th_eqf(strcmp(status_str(&c1, "leader"), "c1"), 0, "status: the leader %s",
	       status_str(&c1, "leader"));
	/* c1's lease revoked: c2 leads, from the records c1 left */
	if (!ok("leader", us_etcd_leader(us_store_etcd_client(op), ROLES_PREFIX "/election", &kv),
		us_etcd_error(us_store_etcd_client(op))))
		goto out;
	us_role_dispatch(&c2);          /* its checks so far: the next one is its own */
	ok("revoke", us_etcd_lease_revoke(us_store_etcd_client(op), kv.lease),
	   us_etcd_error(us_store_etcd_client(op)));
	us_etcd_kv_free(&kv);
	t0 = ms_now();
	pfd = us_role_fd(&c2);
	while (ms_now() - t0 < 10000 && !us_role_leads(&c2)) {
		struct pollfd p = { .fd = pfd, .events = POLLIN };

		if (poll(&p, 1, 50) > 0)
			us_role_dispatch(&c2);
	}
	took = ms_now() - t0;
	EQ("c2 leads", us_role_leads(&c2), 1);
	th_eqf(strcmp(status_str(&c2, "leader"), "c2"), 0, "status: the leader %s",
	       status_str(&c2, "leader"));
	th_eqf(atoi(status_str(&c2, "windows")) >= 0, 1, "status answers");
	printf("roles: c2 led %lld ms after c1's lease was revoked\n", took);
	/* c1 learns it no longer leads at its next check */
	for (int i = 0; i < 40 && us_role_leads(&c1); i++) {
		usleep(100000);
		us_role_dispatch(&c1);
	}
	EQ("c1 stands by", us_role_leads(&c1), 0);
	EQ("c2 took v2-a as active", us_model_find(&c2.model, "v2-a")->state, US_MS_ACTIVE);
	/* more windows under c2, more traffic: nothing moves again */
	for (int w = 0; w < 3; w++) {
		roles_traffic(sim, 400, false);
		roles_traffic(act, 400, false);
		usleep(10000);
		us_daemon_window(&c2);
		us_daemon_window(&c1);
	}
	EQ("audit lines unchanged under c2", audit_lines(&promotions), lines);
	EQ("still one promotion", promotions, 1);
	EQ("v2-a still active", us_model_find(&c2.model, "v2-a")->state, US_MS_ACTIVE);
out:
	if (agent_mhd)
		MHD_stop_daemon(agent_mhd);
	agent_mhd = NULL;
	if (a_on)
		us_daemon_stop(&agent);
	if (c1_on)
		us_daemon_stop(&c1);
	if (c2_on)
		us_daemon_stop(&c2);
	snprintf(pins, sizeof(pins), "/sys/fs/bpf/uscl-%d-agent", getpid());
	us_dp_destroy_pins(pins);
	us_store_close(op);
}

/* ---- the roles as understudyd processes ----------------------------------------- */

#define PROC_PREFIX "/t-rolesp"
#define PROC_PORT 9472

/* build/understudyd (beside this test) -c conf --no-attach, its output in
 * log; it dies with the test. */
static pid_t spawn_daemon(const char *conf, const char *log)
{
	char exe[512], bin[600];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	pid_t pid;

	if (n <= 0)
		return -1;
	exe[n] = 0;
	*strrchr(exe, '/') = 0;
	snprintf(bin, sizeof(bin), "%s/understudyd", exe);
	if (access(bin, X_OK)) {
		th_fail("understudyd", bin, "built (make all)");
		return -1;
	}
	pid = fork();
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execl(bin, "understudyd", "-c", conf, "--no-attach", (char *)NULL);
		_exit(127);
	}
	return pid;
}

static void stop_daemon(pid_t pid)
{
	if (pid <= 0)
		return;
	kill(pid, SIGTERM);
	for (int i = 0; i < 50; i++) {
		if (waitpid(pid, NULL, WNOHANG) == pid)
			return;
		usleep(100000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

/* One request on a daemon's control socket: its answer, parsed (NULL: none). */
static json_object *ask(const char *name, const char *req)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char buf[65536];
	size_t got = 0;
	json_object *o = NULL;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return NULL;
	if (snprintf(sa.sun_path, sizeof(sa.sun_path), "%.60s/%.30s.sock", el_dir, name) >=
	    (int)sizeof(sa.sun_path)) {
		close(fd);
		return NULL;
	}
	if (!connect(fd, (struct sockaddr *)&sa, sizeof(sa)) && write(fd, req, strlen(req)) > 0 &&
	    write(fd, "\n", 1) == 1) {
		ssize_t r;

		while (got < sizeof(buf) - 1 && (r = read(fd, buf + got, sizeof(buf) - 1 - got)) > 0)
			got += (size_t)r;
		buf[got] = 0;
		o = json_tokener_parse(buf);
	}
	close(fd);
	return o;
}

/* The controller's status: its leader, machines, whether its agent answered. */
static bool proc_ready(const char *name, const char *leader, bool *agent_ok, int *machines)
{
	json_object *o = ask(name, "{\"cmd\":\"status\"}"), *v, *a;
	bool led = false;

	*agent_ok = false;
	*machines = -1;
	if (!o)
		return false;
	led = json_object_object_get_ex(o, "leader", &v) &&
	      !strcmp(json_object_get_string(v), leader);
	if (json_object_object_get_ex(o, "machines", &v))
		*machines = (int)json_object_array_length(v);
	if (json_object_object_get_ex(o, "agents", &v) && json_object_array_length(v) == 1 &&
	    json_object_object_get_ex(json_object_array_get_idx(v, 0), "stale", &a))
		*agent_ok = !json_object_get_boolean(a) && json_object_get_int64(
			json_object_object_get(o, "windows")) > 0;
	json_object_put(o);
	return led;
}

TH_TEST(roles_processes)
{
	char p_agent[256], p_ctl[256], log_a[256], log_c[256], err[2048], pins[96], listen[64];
	struct us_store *op = store(PROC_PREFIX, 0);
	pid_t pa = -1, pc = -1;
	bool led = false, agent_ok = false;
	int machines = -1;
	json_object *o, *v;
	long long t0;

	snprintf(listen, sizeof(listen), "%s:%d", EL_ADDR3, PROC_PORT);
	snprintf(log_a, sizeof(log_a), "%s/p-agent.log", el_dir);
	snprintf(log_c, sizeof(log_c), "%s/p-ctl.log", el_dir);
	if (!op || roles_file("p-agent", "agent", PROC_PREFIX, listen, 0, p_agent, sizeof(p_agent)) ||
	    roles_file("p-ctl", "controller", PROC_PREFIX, "off", PROC_PORT, p_ctl, sizeof(p_ctl))) {
		th_fail("setup", el_dir, "files written");
		goto out;
	}
	if (!ok("desired", us_store_etcd_put_desired(op, roles_desired, sizeof(roles_desired) - 1,
						     -1, NULL, err, sizeof(err)), err))
		goto out;
	/* the controller first (it writes the records), then the agent */
	pc = spawn_daemon(p_ctl, log_c);
	t0 = ms_now();
	while (pc > 0 && ms_now() - t0 < 10000 && !(led = proc_ready("p-ctl", "p-ctl", &agent_ok,
								     &machines)))
		usleep(100000);
	th_eqf(led, 1, "the controller process leads (log %s)", log_c);
	pa = spawn_daemon(p_agent, log_a);
	t0 = ms_now();
	while (pa > 0 && ms_now() - t0 < 10000 &&
	       !(proc_ready("p-ctl", "p-ctl", &agent_ok, &machines) && agent_ok))
		usleep(200000);
	th_eqf(agent_ok, 1, "the controller pulled the agent's /counters (log %s)", log_a);
	EQ("machines in the controller's status", machines, 2);
	o = ask("p-agent", "{\"cmd\":\"status\"}");
	th_eqf(o && json_object_object_get_ex(o, "role", &v) &&
	       !strcmp(json_object_get_string(v), "agent"), 1, "the agent's status: role agent");
	th_eqf(o && json_object_object_get_ex(o, "machines", &v) &&
	       json_object_array_length(v) == 2, 1, "the agent's status: two machines");
	json_object_put(o);
	{
		/* understudyctl status against the controller: who leads, its agent */
		char cmd[1024], line[512];
		bool lead_line = false, agent_line = false;
		FILE *f;
		ssize_t n = readlink("/proc/self/exe", cmd, sizeof(cmd) - 1);

		if (n > 0) {
			cmd[n] = 0;
			*strrchr(cmd, '/') = 0;
			snprintf(line, sizeof(line), "%.400s", cmd);
			snprintf(cmd, sizeof(cmd), "%.400s/understudyctl --socket %.60s/p-ctl.sock status",
				 line, el_dir);
			f = popen(cmd, "r");
			while (f && fgets(line, sizeof(line), f)) {
				if (th_verbose)
					fputs(line, stdout);
				lead_line |= !!strstr(line, "role: controller (p-ctl), leading; leader: p-ctl");
				agent_line |= strstr(line, "agent http://" EL_ADDR3) && strstr(line, ": ok");
			}
			if (f)
				pclose(f);
		}
		EQ("understudyctl status: the leader", lead_line, 1);
		EQ("understudyctl status: its agent", agent_line, 1);
	}
	{
		/* a controller has no data plane: it made no pin root (a host
		 * without the BPF filesystem can run it) */
		char ctl_pins[128];

		snprintf(ctl_pins, sizeof(ctl_pins), "/sys/fs/bpf/uscl-%d-p-ctl", getpid());
		EQ("the controller's pin root: not made", access(ctl_pins, F_OK) == 0, 0);
		rmdir(ctl_pins);
	}
out:
	stop_daemon(pc);
	stop_daemon(pa);
	snprintf(pins, sizeof(pins), "/sys/fs/bpf/uscl-%d-p-agent", getpid());
	us_dp_destroy_pins(pins);
	us_store_close(op);
}

/* A controller process on an etcd that asks for client certificates: with
 * daemon.etcd's TLS files it leads; without its certificate it does not
 * start. */
TH_TEST(roles_tls)
{
	static struct el_certs certs;
	static struct el_member m2;
	char path[256], log[256], err[2048];
	const char *ep[1];
	struct us_etcd_opts eo;
	struct us_store_etcd_opts so = { .etcd = &eo, .prefix = "/t-rolest" };
	struct us_store *op = NULL;
	bool led = false, agent_ok;
	int machines, status = 0;
	pid_t pc = -1;
	long long t0;
	FILE *f;

	if (el_make_certs(&certs) || el_start(&m2, "tls", EL_ADDR2, &certs, STARTUP_MS, NULL)) {
		th_fail("etcd with TLS", el_err, "running");
		return;
	}
	ep[0] = m2.url;
	eo = (struct us_etcd_opts){ .endpoints = ep, .nendpoints = 1, .timeout_ms = 2000,
				    .ca_file = certs.ca, .cert_file = certs.client_cert,
				    .key_file = certs.client_key };
	if (!ok("store", us_store_etcd_open(&so, &op, err, sizeof(err)), err) ||
	    !ok("desired", us_store_etcd_put_desired(op, roles_desired, sizeof(roles_desired) - 1,
						     -1, NULL, err, sizeof(err)), err))
		goto out;
	for (int with_cert = 1; with_cert >= 0; with_cert--) {
		snprintf(path, sizeof(path), "%s/t-ctl.yaml", el_dir);
		snprintf(log, sizeof(log), "%s/t-ctl-%d.log", el_dir, with_cert);
		f = fopen(path, "w");
		if (!f)
			goto out;
		fprintf(f, "balancer: {client_interface: eth0, machine_interfaces: [eth1]}\n"
			"daemon:\n  role: controller\n  metrics_listen: 'off'\n  log_level: error\n"
			"  socket: %s/t-ctl.sock\n  state_dir: %s/t-ctl\n"
			"  etcd:\n    endpoints: [%s]\n    prefix: /t-rolest\n    name: t-ctl\n"
			"    ca_file: %s\n", el_dir, el_dir, m2.url, certs.ca);
		if (with_cert)
			fprintf(f, "    cert_file: %s\n    key_file: %s\n", certs.client_cert,
				certs.client_key);
		fprintf(f, "  agents: [http://%s:%d]\nservices: []\n", EL_ADDR4, PROC_PORT);
		fclose(f);
		pc = spawn_daemon(path, log);
		t0 = ms_now();
		led = false;
		while (pc > 0 && ms_now() - t0 < 10000) {
			if (with_cert && (led = proc_ready("t-ctl", "t-ctl", &agent_ok, &machines)))
				break;
			if (!with_cert && waitpid(pc, &status, WNOHANG) == pc) {
				pc = -1;
				break;
			}
			usleep(100000);
		}
		if (with_cert) {
			th_eqf(led, 1, "over TLS with its certificate: leads (log %s)", log);
			EQ("its machines", machines, 2);
			stop_daemon(pc);
		} else {
			char text[2048] = "";
			FILE *lf = fopen(log, "r");

			th_eqf(pc == -1 && WIFEXITED(status) && WEXITSTATUS(status) == EXIT_FAILURE, 1,
			       "without its certificate: does not start (log %s)", log);
			if (lf) {
				text[fread(text, 1, sizeof(text) - 1, lf)] = 0;
				fclose(lf);
			}
			if (th_verbose)
				printf("%s", text);
			/* the etcd client's words for a refused handshake (etcd.h: -EPROTO,
			 * or a reset under TLS 1.3) */
			th_eqf(!!strstr(text, m2.url), 1, "the log names the endpoint: %s", text);
			stop_daemon(pc);
		}
		pc = -1;
	}
out:
	stop_daemon(pc);
	us_store_close(op);
	el_stop(&m2);
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
