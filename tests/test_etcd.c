// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The etcd client (userspace/etcd.h) against a real etcd (Debian's), started
 * by the test in a network namespace of its own (tests/etcdlab.h: usetcd-<pid>,
 * addresses 198.18.0.x on its loopback), and the base64 codec it uses.
 *
 *   build/test_etcd              every test
 *   build/test_etcd -t watch     one test (-l lists them, -v says more)
 *
 * A few checks bound how long a failing call takes ("fails within its
 * time-out, not never"): the bounds are the time-out plus seconds of slack,
 * not speed figures.
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
#include <curl/curl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "base64.h"
#include "etcd.h"
#include "etcdlab.h"
#include "harness.h"

static struct el_member m1;        /* the etcd of every test but tls */

#define STARTUP_MS 15000

/* ---- helpers -------------------------------------------------------------------- */

static long long ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int streq(const char *what, const char *a, const char *e)
{
	char sa[300], se[300];

	if (a && e && !strcmp(a, e))
		return 1;
	snprintf(sa, sizeof(sa), "\"%s\"", a ? a : "(null)");
	snprintf(se, sizeof(se), "\"%s\"", e ? e : "(null)");
	th_fail(what, sa, se);
	return 0;
}

/* the message names what it should */
static int has(const char *what, const char *msg, const char *part)
{
	char e[200];

	if (msg && strstr(msg, part))
		return 1;
	snprintf(e, sizeof(e), "a message with \"%s\"", part);
	th_fail(what, msg ? msg : "(null)", e);
	return 0;
}

/* 0, or the error with the client's message */
static int ok(const char *what, struct us_etcd *c, int err)
{
	char a[600];

	if (!err)
		return 1;
	snprintf(a, sizeof(a), "%d (%s): %s", err, strerror(-err), c ? us_etcd_error(c) : "");
	th_fail(what, a, "0");
	return 0;
}

static struct us_etcd *client_ep(const char *const *ep, size_t n, long timeout_ms)
{
	struct us_etcd_opts o = { .endpoints = ep, .nendpoints = n, .timeout_ms = timeout_ms,
				  .connect_timeout_ms = 200, .watch_heartbeat_ms = 100 };
	struct us_etcd *c;
	char err[300];

	if (us_etcd_open(&o, &c, err, sizeof(err))) {
		th_fail("us_etcd_open", err, "a client");
		return NULL;
	}
	return c;
}

static struct us_etcd *client(void)
{
	const char *ep[] = { m1.url };

	return client_ep(ep, 1, 2000);
}

struct got {
	struct {
		enum us_etcd_event_type type;
		char key[96];
		char value[64];
		int64_t mod, create, lease;
	} ev[64];
	size_t n;
	size_t calls;
	int64_t call_rev[64];   /* per callback: the revisions it carried (first, last) */
	int64_t call_last[64];
	int stop_after;         /* > 0: return 7 after that many calls */
};

static int collect(const struct us_etcd_event *ev, size_t n, void *ctx)
{
	struct got *g = ctx;

	if (g->calls < 64) {
		g->call_rev[g->calls] = ev[0].kv.mod_revision;
		g->call_last[g->calls] = ev[n - 1].kv.mod_revision;
	}
	g->calls++;
	for (size_t i = 0; i < n && g->n < 64; i++, g->n++) {
		g->ev[g->n].type = ev[i].type;
		snprintf(g->ev[g->n].key, sizeof(g->ev[0].key), "%s", ev[i].kv.key);
		snprintf(g->ev[g->n].value, sizeof(g->ev[0].value), "%s", ev[i].kv.value);
		g->ev[g->n].mod = ev[i].kv.mod_revision;
		g->ev[g->n].create = ev[i].kv.create_revision;
		g->ev[g->n].lease = ev[i].kv.lease;
	}
	return g->stop_after && (int)g->calls >= g->stop_after ? 7 : 0;
}

/* Drive the watch as an event loop would (poll on its fd, dispatch) until
 * g has want events, the watch ends, or ms pass: the last dispatch's
 * result. */
static int pump(struct us_etcd_watch *w, struct got *g, size_t want, long ms)
{
	long long deadline = ms_now() + ms;
	int r = 0;

	while ((!g || g->n < want) && ms_now() < deadline) {
		struct pollfd p = { .fd = us_etcd_watch_fd(w), .events = POLLIN };

		if (poll(&p, 1, 50) < 0)
			return -errno;
		r = us_etcd_watch_dispatch(w, collect, g);
		if (r < 0)
			return r;
	}
	return r;
}

static int put(struct us_etcd *c, const char *key, const char *value, int64_t *rev)
{
	return us_etcd_put(c, key, value, strlen(value), 0, rev);
}

/* ---- base64 --------------------------------------------------------------------- */

TH_TEST(base64)
{
	/* RFC 4648 section 10 */
	static const char *const vec[][2] = {
		{ "", "" }, { "f", "Zg==" }, { "fo", "Zm8=" }, { "foo", "Zm9v" },
		{ "foob", "Zm9vYg==" }, { "fooba", "Zm9vYmE=" }, { "foobar", "Zm9vYmFy" },
	};
	static const struct {
		const char *in;
		size_t bad;
	} refused[] = {
		{ "Zg=", 0 },        /* length not a multiple of 4 */
		{ "Zm9vY", 4 },
		{ "Zg==Zg==", 2 },   /* padding before the end */
		{ "Z===", 1 },       /* too much padding */
		{ "Zm=v", 3 },       /* a character after padding */
		{ "Zh==", 1 },       /* bits left over not zero */
		{ "Zm9=", 2 },
		{ "Zm 9", 2 },       /* whitespace */
		{ "Zm9\n", 3 },
		{ "Zm-9", 2 },       /* the URL alphabet's */
		{ "Zm_9", 2 },
		{ "====", 0 },
	};
	unsigned char in[300], back[300];
	char enc[401];
	size_t n, bad;

	if (th_subtest("rfc4648")) {
		for (size_t i = 0; i < ARRAY_SIZE(vec); i++) {
			size_t len = strlen(vec[i][0]);

			EQ("length", us_b64_encode(vec[i][0], len, enc), strlen(vec[i][1]));
			streq("encoding", enc, vec[i][1]);
			EQ("enclen", us_b64_enclen(len), strlen(vec[i][1]));
			if (EQ("decode", us_b64_decode(vec[i][1], strlen(vec[i][1]), back, &n, NULL), 0)) {
				EQ("decoded length", n, len);
				EQ("decoded bytes", memcmp(back, vec[i][0], len), 0);
			}
		}
	}
	if (th_subtest("round_trip")) {
		/* every length up to 300, every byte value */
		for (size_t len = 0; len <= sizeof(in); len++) {
			for (size_t i = 0; i < len; i++)
				in[i] = (unsigned char)(i * 151 + len * 7);
			us_b64_encode(in, len, enc);
			if (!th_eqf(us_b64_decode(enc, strlen(enc), back, &n, NULL), 0, "decode %zu", len))
				break;
			if (!th_eqf(n, len, "length %zu", len) ||
			    !th_eqf(memcmp(in, back, len), 0, "bytes of %zu", len))
				break;
		}
	}
	if (th_subtest("refused")) {
		for (size_t i = 0; i < ARRAY_SIZE(refused); i++) {
			bad = 999;
			th_eqf(us_b64_decode(refused[i].in, strlen(refused[i].in), back, &n, &bad),
			       -EINVAL, "decode \"%s\"", refused[i].in);
			th_eqf(bad, refused[i].bad, "offset refused in \"%s\"", refused[i].in);
		}
	}
}

/* ---- options -------------------------------------------------------------------- */

TH_TEST(options)
{
	static const struct {
		const char *ep, *ca, *cert, *key, *msg;
		int err;
	} bad[] = {
		{ "198.18.0.1:2379", NULL, NULL, NULL, "not an http:// or https:// URL", -EINVAL },
		{ "http://", NULL, NULL, NULL, "no host", -EINVAL },
		{ "http://198.18.0.1:2379/v3", NULL, NULL, NULL, "has a path", -EINVAL },
		{ "http://198.18.0.1:2379?x", NULL, NULL, NULL, "query", -EINVAL },
		{ "", NULL, NULL, NULL, "empty", -EINVAL },
		{ "https://198.18.0.1:2379", "/nonexistent/ca.crt", NULL, NULL,
		  "TLS CA file \"/nonexistent/ca.crt\": No such file", -ENOENT },
		{ "https://198.18.0.1:2379", NULL, "/etc/hostname", NULL, "needs its key", -EINVAL },
		{ "https://198.18.0.1:2379", NULL, NULL, "/etc/hostname", "needs its key", -EINVAL },
	};
	struct us_etcd *c;
	char err[300];

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		const char *ep[] = { bad[i].ep };
		struct us_etcd_opts o = { .endpoints = ep, .nendpoints = 1, .ca_file = bad[i].ca,
					  .cert_file = bad[i].cert, .key_file = bad[i].key };

		th_eqf(us_etcd_open(&o, &c, err, sizeof(err)), bad[i].err, "open \"%s\"", bad[i].ep);
		has("message", err, bad[i].msg);
	}
	{
		struct us_etcd_opts o = { .endpoints = NULL, .nendpoints = 0 };

		EQ("no endpoints", us_etcd_open(&o, &c, err, sizeof(err)), -EINVAL);
		has("message", err, "endpoints");
	}
	{
		const char *ep[] = { "http://198.18.0.1:2379/" };
		struct us_etcd_opts o = { .endpoints = ep, .nendpoints = 1 };

		if (EQ("a last slash", us_etcd_open(&o, &c, err, sizeof(err)), 0)) {
			streq("endpoint", us_etcd_endpoint(c), "http://198.18.0.1:2379");
			us_etcd_close(c);
		}
	}
}

/* ---- keys ----------------------------------------------------------------------- */

TH_TEST(kv)
{
	struct us_etcd *c = client();
	struct us_etcd_kv kv;
	int64_t r1, r2, rev, n;
	char big[200];
	static const char bin[] = { 'a', 0, 'b', (char)0xff, 0 };

	if (!c)
		return;
	if (th_subtest("put_get")) {
		ok("put", c, put(c, "kv/a", "one", &r1));
		if (ok("get", c, us_etcd_get(c, "kv/a", &kv, &rev))) {
			streq("key", kv.key, "kv/a");
			streq("value", kv.value, "one");
			EQ("value_len", kv.value_len, 3);
			EQ("create_revision", kv.create_revision, r1);
			EQ("mod_revision", kv.mod_revision, r1);
			EQ("version", kv.version, 1);
			EQ("lease", kv.lease, 0);
			EQ("read at", rev, r1);
			us_etcd_kv_free(&kv);
		}
		ok("put again", c, put(c, "kv/a", "two", &r2));
		EQ("a new revision", r2 > r1, 1);
		if (ok("get", c, us_etcd_get(c, "kv/a", &kv, NULL))) {
			streq("value", kv.value, "two");
			EQ("create_revision", kv.create_revision, r1);
			EQ("mod_revision", kv.mod_revision, r2);
			EQ("version", kv.version, 2);
			us_etcd_kv_free(&kv);
		}
	}
	if (th_subtest("bytes")) {
		/* values are bytes: NULs and 0xff travel */
		memset(big, 'x', sizeof(big));
		ok("put 200 bytes", c, us_etcd_put(c, "kv/big", big, sizeof(big), 0, NULL));
		if (ok("get", c, us_etcd_get(c, "kv/big", &kv, NULL))) {
			EQ("length", kv.value_len, 200);
			EQ("bytes", memcmp(kv.value, big, 200), 0);
			us_etcd_kv_free(&kv);
		}
		ok("put bytes", c, us_etcd_put(c, "kv/bin", bin, sizeof(bin), 0, NULL));
		if (ok("get", c, us_etcd_get(c, "kv/bin", &kv, NULL))) {
			EQ("length", kv.value_len, sizeof(bin));
			EQ("bytes", memcmp(kv.value, bin, sizeof(bin)), 0);
			us_etcd_kv_free(&kv);
		}
		ok("put empty", c, us_etcd_put(c, "kv/empty", NULL, 0, 0, NULL));
		if (ok("get", c, us_etcd_get(c, "kv/empty", &kv, NULL))) {
			EQ("length", kv.value_len, 0);
			streq("value", kv.value, "");
			us_etcd_kv_free(&kv);
		}
	}
	if (th_subtest("missing")) {
		EQ("get", us_etcd_get(c, "kv/none", &kv, &rev), -ENOENT);
		has("message", us_etcd_error(c), "\"kv/none\" does not exist");
		EQ("read at a revision", rev > 0, 1);
		EQ("kv left empty", kv.key == NULL && kv.value == NULL, 1);
	}
	if (th_subtest("delete")) {
		ok("put", c, put(c, "kv/d", "x", NULL));
		ok("delete", c, us_etcd_delete(c, "kv/d", false, &n, &rev));
		EQ("deleted", n, 1);
		EQ("get", us_etcd_get(c, "kv/d", &kv, NULL), -ENOENT);
		ok("delete again", c, us_etcd_delete(c, "kv/d", false, &n, NULL));
		EQ("deleted", n, 0);
	}
	if (th_subtest("refused")) {
		EQ("empty key", us_etcd_put(c, "", "x", 1, 0, NULL), -EINVAL);
		has("message", us_etcd_error(c), "a key is needed");
		EQ("NULL key", us_etcd_get(c, NULL, &kv, NULL), -EINVAL);
		/* etcd's own refusal, with its words: a lease that does not exist */
		EQ("unknown lease", us_etcd_put(c, "kv/l", "x", 1, 0x1234, NULL), -ENOENT);
		has("message", us_etcd_error(c), "requested lease not found");
		has("message names the endpoint", us_etcd_error(c), m1.url);
		/* past etcd's request limit (--max-request-bytes, 1.5 MiB) */
		{
			size_t n = 2u << 20;
			char *v = calloc(1, n);

			if (v) {
				EQ("2 MiB value", us_etcd_put(c, "kv/huge", v, n, 0, NULL), -ENOSPC);
				has("message", us_etcd_error(c), "larger than max");
				EQ("not applied", us_etcd_get(c, "kv/huge", &kv, NULL), -ENOENT);
				free(v);
			}
		}
	}
	us_etcd_close(c);
}

TH_TEST(range)
{
	struct us_etcd *c = client();
	struct us_etcd_kvs r;
	int64_t r0, r3, n;
	char k[32];

	if (!c)
		return;
	/* three keys under rg/, neighbours that are not */
	ok("put", c, put(c, "rg", "not under rg/", NULL));
	ok("put", c, put(c, "rg0", "not under rg/", NULL));
	ok("put", c, put(c, "rg/b", "B", &r0));
	ok("put", c, put(c, "rg/a", "A", NULL));
	ok("put", c, put(c, "rg/c", "C", &r3));
	if (th_subtest("prefix")) {
		if (ok("range", c, us_etcd_range(c, "rg/", 0, 0, &r))) {
			if (EQ("keys", r.n, 3)) {
				streq("first", r.kv[0].key, "rg/a");
				streq("second", r.kv[1].key, "rg/b");
				streq("third", r.kv[2].key, "rg/c");
				streq("value", r.kv[2].value, "C");
				EQ("mod_revision", r.kv[2].mod_revision, r3);
			}
			EQ("read at", r.revision, r3);
			EQ("more", r.more, false);
			us_etcd_kvs_free(&r);
		}
	}
	if (th_subtest("limit")) {
		if (ok("range", c, us_etcd_range(c, "rg/", 0, 2, &r))) {
			EQ("keys", r.n, 2);
			EQ("more", r.more, true);
			us_etcd_kvs_free(&r);
		}
	}
	if (th_subtest("at_revision")) {
		/* as it was when only rg/b existed */
		if (ok("range", c, us_etcd_range(c, "rg/", r0, 0, &r))) {
			if (EQ("keys", r.n, 1))
				streq("key", r.kv[0].key, "rg/b");
			EQ("read at", r.revision, r0);
			us_etcd_kvs_free(&r);
		}
	}
	if (th_subtest("empty")) {
		if (ok("range", c, us_etcd_range(c, "rg/none/", 0, 0, &r))) {
			EQ("keys", r.n, 0);
			EQ("read at", r.revision > 0, 1);
			us_etcd_kvs_free(&r);
		}
	}
	if (th_subtest("delete_prefix")) {
		for (int i = 0; i < 5; i++) {
			snprintf(k, sizeof(k), "rgd/%d", i);
			ok("put", c, put(c, k, "x", NULL));
		}
		ok("put a neighbour", c, put(c, "rgd0", "x", NULL));
		ok("delete", c, us_etcd_delete(c, "rgd/", true, &n, NULL));
		EQ("deleted", n, 5);
		if (ok("range", c, us_etcd_range(c, "rgd", 0, 0, &r))) {
			if (EQ("keys left", r.n, 1))
				streq("the neighbour", r.kv[0].key, "rgd0");
			us_etcd_kvs_free(&r);
		}
	}
	if (th_subtest("compacted")) {
		int64_t now;

		ok("put", c, put(c, "rgc/x", "1", &now));
		ok("compact", c, us_etcd_compact(c, now, true));
		EQ("range at a compacted revision", us_etcd_range(c, "rg/", r0, 0, &r), -ERANGE);
		has("message", us_etcd_error(c), "compacted");
	}
	us_etcd_close(c);
}

TH_TEST(status)
{
	struct us_etcd *c = client();
	struct us_etcd_status st;
	int64_t rev;

	if (!c)
		return;
	ok("put", c, put(c, "st/k", "v", &rev));
	if (ok("status", c, us_etcd_status(c, &st))) {
		EQ("a version", strlen(st.version) > 0, 1);
		EQ("version 3.x", st.version[0], '3');
		EQ("revision", st.revision >= rev, 1);
		EQ("database", st.db_size > 0, 1);
		EQ("in use", st.db_size_in_use > 0 && st.db_size_in_use <= st.db_size, 1);
		EQ("raft index", st.raft_index > 0, 1);
		EQ("a single member leads itself", st.leader == st.member && st.member != 0, 1);
	}
	us_etcd_close(c);
}

/* ---- transactions --------------------------------------------------------------- */

TH_TEST(txn)
{
	struct us_etcd *c = client();
	struct us_etcd_txn_res res;
	struct us_etcd_kv kv;
	struct us_etcd_kvs r;
	int64_t rev, cur[2];

	if (!c)
		return;
	if (th_subtest("cas")) {
		struct us_etcd_cmp cmp;
		struct us_etcd_op ops[3] = {
			{ US_ETCD_OP_PUT, "tx/state", "v2", 2, 0 },
			{ US_ETCD_OP_PUT, "tx/audit/2", "moved", 5, 0 },
			{ US_ETCD_OP_DELETE, "tx/old", NULL, 0, 0 },
		};

		ok("put", c, put(c, "tx/state", "v1", &rev));
		ok("put", c, put(c, "tx/old", "x", NULL));
		cmp = (struct us_etcd_cmp){ "tx/state", US_ETCD_MOD, US_ETCD_EQ, rev };
		ok("txn", c, us_etcd_txn(c, &cmp, 1, ops, 3, &res, cur));
		EQ("succeeded", res.succeeded, true);
		if (ok("get", c, us_etcd_get(c, "tx/state", &kv, NULL))) {
			streq("value", kv.value, "v2");
			EQ("at the txn's revision", kv.mod_revision, res.revision);
			us_etcd_kv_free(&kv);
		}
		if (ok("get", c, us_etcd_get(c, "tx/audit/2", &kv, NULL))) {
			EQ("same revision", kv.mod_revision, res.revision);
			us_etcd_kv_free(&kv);
		}
		EQ("deleted", us_etcd_get(c, "tx/old", &kv, NULL), -ENOENT);
	}
	if (th_subtest("cas_moved")) {
		/* the revision moved: nothing applied, the present one reported */
		struct us_etcd_cmp cmp[2];
		struct us_etcd_op ops[2] = {
			{ US_ETCD_OP_PUT, "txm/state", "mine", 4, 0 },
			{ US_ETCD_OP_PUT, "txm/other", "mine", 4, 0 },
		};
		int64_t r1, r2;

		ok("put", c, put(c, "txm/state", "v1", &r1));
		ok("put (someone else)", c, put(c, "txm/state", "theirs", &r2));
		cmp[0] = (struct us_etcd_cmp){ "txm/state", US_ETCD_MOD, US_ETCD_EQ, r1 };
		cmp[1] = (struct us_etcd_cmp){ "txm/other", US_ETCD_MOD, US_ETCD_EQ, 0 };
		ok("txn", c, us_etcd_txn(c, cmp, 2, ops, 2, &res, cur));
		EQ("succeeded", res.succeeded, false);
		EQ("revision unchanged", res.revision, r2);
		EQ("cur_mod of the key that moved", cur[0], r2);
		EQ("cur_mod of the absent key", cur[1], 0);
		if (ok("get", c, us_etcd_get(c, "txm/state", &kv, NULL))) {
			streq("value not applied", kv.value, "theirs");
			us_etcd_kv_free(&kv);
		}
		EQ("other not applied", us_etcd_get(c, "txm/other", &kv, NULL), -ENOENT);
	}
	if (th_subtest("create_once")) {
		/* "if it does not exist": the first one wins */
		struct us_etcd_cmp cmp = { "txc/lock", US_ETCD_MOD, US_ETCD_EQ, 0 };
		struct us_etcd_op a = { US_ETCD_OP_PUT, "txc/lock", "a", 1, 0 };
		struct us_etcd_op b = { US_ETCD_OP_PUT, "txc/lock", "b", 1, 0 };

		ok("txn a", c, us_etcd_txn(c, &cmp, 1, &a, 1, &res, NULL));
		EQ("a created it", res.succeeded, true);
		ok("txn b", c, us_etcd_txn(c, &cmp, 1, &b, 1, &res, cur));
		EQ("b did not", res.succeeded, false);
		if (ok("get", c, us_etcd_get(c, "txc/lock", &kv, NULL))) {
			streq("value", kv.value, "a");
			EQ("cur_mod", cur[0], kv.mod_revision);
			us_etcd_kv_free(&kv);
		}
	}
	if (th_subtest("other_conditions")) {
		struct us_etcd_cmp cmp[2];
		struct us_etcd_op op = { US_ETCD_OP_PUT, "txo/flag", "y", 1, 0 };
		int64_t r1;

		ok("put", c, put(c, "txo/k", "1", &r1));
		ok("put", c, put(c, "txo/k", "2", NULL));
		/* version 2 > 1, created at r1 */
		cmp[0] = (struct us_etcd_cmp){ "txo/k", US_ETCD_VERSION, US_ETCD_GT, 1 };
		cmp[1] = (struct us_etcd_cmp){ "txo/k", US_ETCD_CREATE, US_ETCD_EQ, r1 };
		ok("txn", c, us_etcd_txn(c, cmp, 2, &op, 1, &res, NULL));
		EQ("succeeded", res.succeeded, true);
		cmp[0] = (struct us_etcd_cmp){ "txo/k", US_ETCD_VERSION, US_ETCD_LT, 2 };
		ok("txn", c, us_etcd_txn(c, cmp, 1, &op, 1, &res, NULL));
		EQ("version < 2 does not hold", res.succeeded, false);
		cmp[0] = (struct us_etcd_cmp){ "txo/k", US_ETCD_MOD, US_ETCD_NE, r1 };
		ok("txn", c, us_etcd_txn(c, cmp, 1, &op, 1, &res, NULL));
		EQ("mod != r1 holds", res.succeeded, true);
	}
	if (th_subtest("delete_prefix")) {
		struct us_etcd_op ops[2] = {
			{ US_ETCD_OP_DELETE_PREFIX, "txp/", NULL, 0, 0 },
			{ US_ETCD_OP_PUT, "txq/new", "n", 1, 0 },
		};

		ok("put", c, put(c, "txp/1", "x", NULL));
		ok("put", c, put(c, "txp/2", "x", NULL));
		ok("txn", c, us_etcd_txn(c, NULL, 0, ops, 2, &res, NULL));
		EQ("succeeded", res.succeeded, true);
		if (ok("range", c, us_etcd_range(c, "txp/", 0, 0, &r))) {
			EQ("keys", r.n, 0);
			us_etcd_kvs_free(&r);
		}
	}
	if (th_subtest("refused")) {
		/* etcd refuses one key twice in a transaction: nothing applied */
		struct us_etcd_op ops[2] = {
			{ US_ETCD_OP_PUT, "txr/k", "1", 1, 0 },
			{ US_ETCD_OP_PUT, "txr/k", "2", 1, 0 },
		};
		struct us_etcd_op bad = { 9, "txr/k", NULL, 0, 0 };

		EQ("txn", us_etcd_txn(c, NULL, 0, ops, 2, &res, NULL), -EINVAL);
		has("message", us_etcd_error(c), "duplicate key");
		EQ("nothing applied", us_etcd_get(c, "txr/k", &kv, NULL), -ENOENT);
		EQ("unknown operation", us_etcd_txn(c, NULL, 0, &bad, 1, &res, NULL), -EINVAL);
		has("message", us_etcd_error(c), "type 9 unknown");
	}
	us_etcd_close(c);
}

/* ---- leases --------------------------------------------------------------------- */

TH_TEST(lease)
{
	struct us_etcd *c = client();
	struct us_etcd_kv kv;
	int64_t id;
	long ttl, left;

	if (!c)
		return;
	if (th_subtest("grant_revoke")) {
		if (ok("grant", c, us_etcd_lease_grant(c, 30, &id, &ttl))) {
			EQ("granted", ttl, 30);
			ok("put", c, us_etcd_put(c, "ls/k", "v", 1, id, NULL));
			if (ok("get", c, us_etcd_get(c, "ls/k", &kv, NULL))) {
				EQ("lease", kv.lease, id);
				us_etcd_kv_free(&kv);
			}
			if (ok("ttl", c, us_etcd_lease_ttl(c, id, &left)))
				EQ("left", left > 0 && left <= 30, 1);
			if (ok("keepalive", c, us_etcd_lease_keepalive(c, id, &ttl)))
				EQ("renewed for", ttl, 30);
			ok("revoke", c, us_etcd_lease_revoke(c, id));
			EQ("its key went", us_etcd_get(c, "ls/k", &kv, NULL), -ENOENT);
			EQ("keepalive after", us_etcd_lease_keepalive(c, id, &ttl), -ENOENT);
			has("message", us_etcd_error(c), "has expired or was revoked");
			EQ("ttl after", us_etcd_lease_ttl(c, id, &left), -ENOENT);
			EQ("revoke again", us_etcd_lease_revoke(c, id), -ENOENT);
			EQ("put on it", us_etcd_put(c, "ls/k2", "v", 1, id, NULL), -ENOENT);
		}
		EQ("ttl 0", us_etcd_lease_grant(c, 0, &id, NULL), -EINVAL);
	}
	if (th_subtest("expires")) {
		/* a lease nobody keeps alive takes its key with it: the watch
		 * sees the deletion */
		struct us_etcd_watch *w;
		struct got g = { 0 };

		if (ok("grant", c, us_etcd_lease_grant(c, 1, &id, &ttl)) &&
		    ok("put", c, us_etcd_put(c, "lx/k", "v", 1, id, NULL)) &&
		    ok("watch", c, us_etcd_watch_open(c, "lx/", 0, &w))) {
			EQ("ends", pump(w, &g, 1, 10000), 1);
			if (EQ("events", g.n, 1)) {
				EQ("a deletion", g.ev[0].type, US_ETCD_EV_DELETE);
				streq("of", g.ev[0].key, "lx/k");
			}
			EQ("key gone", us_etcd_get(c, "lx/k", &kv, NULL), -ENOENT);
			EQ("lease gone", us_etcd_lease_keepalive(c, id, &ttl), -ENOENT);
			us_etcd_watch_close(w);
		}
	}
	us_etcd_close(c);
}

/* ---- watches -------------------------------------------------------------------- */

TH_TEST(watch)
{
	struct us_etcd *c = client();
	struct us_etcd_watch *w;
	struct us_etcd_txn_res res;
	struct got g;
	int64_t r1, r2, r3, r4, now;

	if (!c)
		return;
	if (th_subtest("in_order")) {
		struct us_etcd_op ops[3] = {
			{ US_ETCD_OP_PUT, "wo/b", "b1", 2, 0 },
			{ US_ETCD_OP_PUT, "wo/c", "c1", 2, 0 },
			{ US_ETCD_OP_DELETE, "wo/a", NULL, 0, 0 },
		};

		memset(&g, 0, sizeof(g));
		ok("put before", c, put(c, "wo/x", "before", &r1));
		if (!ok("open", c, us_etcd_watch_open(c, "wo/", 0, &w)))
			return;
		EQ("from after now", us_etcd_watch_revision(w), r1 + 1);
		ok("put", c, put(c, "wo/a", "a1", &r1));
		ok("put", c, put(c, "wo/a", "a2", &r2));
		ok("put elsewhere", c, put(c, "wp/a", "not watched", NULL));
		ok("txn", c, us_etcd_txn(c, NULL, 0, ops, 3, &res, NULL));
		r3 = res.revision;
		EQ("dispatch", pump(w, &g, 5, 5000) >= 0, 1);
		if (EQ("events", g.n, 5)) {
			streq("1 key", g.ev[0].key, "wo/a");
			streq("1 value", g.ev[0].value, "a1");
			EQ("1 put", g.ev[0].type, US_ETCD_EV_PUT);
			EQ("1 revision", g.ev[0].mod, r1);
			streq("2 value", g.ev[1].value, "a2");
			EQ("2 revision", g.ev[1].mod, r2);
			EQ("2 created", g.ev[1].create, r1);
			streq("3 key", g.ev[2].key, "wo/b");
			streq("4 key", g.ev[3].key, "wo/c");
			streq("5 key", g.ev[4].key, "wo/a");
			EQ("5 delete", g.ev[4].type, US_ETCD_EV_DELETE);
			for (int i = 2; i < 5; i++)
				th_eqf(g.ev[i].mod, r3, "event %d at the txn's revision", i + 1);
		}
		/* the transaction's three changes in one callback */
		for (size_t i = 0; i < g.calls && i < 64; i++)
			if (g.call_last[i] == r3)
				EQ("txn whole in one call", g.call_rev[i], r3);
		EQ("revision next", us_etcd_watch_revision(w), r3 + 1);
		streq("endpoint", us_etcd_watch_endpoint(w), m1.url);
		streq("no error", us_etcd_watch_error(w), "");
		us_etcd_watch_close(w);
	}
	if (th_subtest("from_revision")) {
		/* the history replayed from a past revision */
		memset(&g, 0, sizeof(g));
		ok("put", c, put(c, "wr/k", "1", &r1));
		ok("put", c, put(c, "wr/k", "2", &r2));
		ok("delete", c, us_etcd_delete(c, "wr/k", false, NULL, &r3));
		if (ok("open", c, us_etcd_watch_open(c, "wr/", r1, &w))) {
			EQ("dispatch", pump(w, &g, 3, 5000) >= 0, 1);
			if (EQ("events", g.n, 3)) {
				EQ("first", g.ev[0].mod, r1);
				EQ("second", g.ev[1].mod, r2);
				EQ("third", g.ev[2].mod, r3);
				EQ("a deletion", g.ev[2].type, US_ETCD_EV_DELETE);
			}
			us_etcd_watch_close(w);
		}
	}
	if (th_subtest("progress")) {
		/* a quiet prefix: progress reports move the revision on */
		memset(&g, 0, sizeof(g));
		if (ok("open", c, us_etcd_watch_open(c, "wq/", 0, &w))) {
			ok("put elsewhere", c, put(c, "wz/k", "x", &r4));
			pump(w, NULL, 0, 600);
			EQ("no events", g.n, 0);
			EQ("revision past the other put", us_etcd_watch_revision(w) > r4, 1);
			streq("still running", us_etcd_watch_error(w), "");
			us_etcd_watch_close(w);
		}
	}
	if (th_subtest("callback_stops")) {
		memset(&g, 0, sizeof(g));
		g.stop_after = 1;
		if (ok("open", c, us_etcd_watch_open(c, "ws/", 0, &w))) {
			ok("put", c, put(c, "ws/k", "x", &r1));
			EQ("the callback's word", pump(w, &g, 99, 3000), -ECANCELED);
			has("message", us_etcd_watch_error(w), "callback stopped it");
			EQ("again", us_etcd_watch_dispatch(w, collect, &g), -ECANCELED);
			us_etcd_watch_close(w);
		}
	}
	if (th_subtest("compacted")) {
		/* watching from a revision etcd no longer has */
		memset(&g, 0, sizeof(g));
		ok("put", c, put(c, "wc/k", "1", &r1));
		ok("put", c, put(c, "wc/k", "2", &now));
		ok("compact", c, us_etcd_compact(c, now, true));
		if (ok("open", c, us_etcd_watch_open(c, "wc/", r1, &w))) {
			EQ("dispatch", pump(w, &g, 99, 5000), -ERANGE);
			EQ("compacted", us_etcd_watch_compacted(w), now);
			has("message", us_etcd_watch_error(w), "compacted its history");
			EQ("no events", g.n, 0);
			EQ("reported again", us_etcd_watch_dispatch(w, collect, &g), -ERANGE);
			us_etcd_watch_close(w);
		}
	}
	us_etcd_close(c);
}

/* ---- election ------------------------------------------------------------------- */

/* etcd's own election API names the same leader */
static void etcd_says_leader(const char *election, const char *want_key)
{
	char url[160], body[256], name64[128], *want64;
	struct { char p[4096]; size_t n; } out = { .n = 0 };
	CURL *h = curl_easy_init();
	size_t wl = strlen(want_key);

	us_b64_encode(election, strlen(election), name64);
	want64 = malloc(us_b64_enclen(wl) + 1);
	us_b64_encode(want_key, wl, want64);
	snprintf(url, sizeof(url), "%s/v3/election/leader", m1.url);
	snprintf(body, sizeof(body), "{\"name\":\"%s\"}", name64);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 2000L);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, (curl_write_callback)NULL);
	{
		FILE *f = fmemopen(out.p, sizeof(out.p) - 1, "w");

		curl_easy_setopt(h, CURLOPT_WRITEDATA, f);
		EQ("/v3/election/leader", curl_easy_perform(h), CURLE_OK);
		fclose(f);
	}
	out.p[sizeof(out.p) - 1] = '\0';
	has("etcd's election API's leader", out.p, want64);
	free(want64);
	curl_easy_cleanup(h);
}

TH_TEST(election)
{
	struct us_etcd *c = client(), *d = client();
	struct us_etcd_candidate a, b;
	struct us_etcd_kv kv;
	struct us_etcd_txn_res res;
	bool la, lb;
	int64_t lease_a, lease_b;

	if (!c || !d)
		goto out;
	if (!ok("grant", c, us_etcd_lease_grant(c, 30, &lease_a, NULL)) ||
	    !ok("grant", d, us_etcd_lease_grant(d, 30, &lease_b, NULL)))
		goto out;
	if (th_subtest("one_leader")) {
		EQ("no leader yet", us_etcd_leader(c, "el/ctl", &kv), -ENOENT);
		has("message", us_etcd_error(c), "no candidate");
		if (ok("a campaigns", c, us_etcd_campaign(c, "el/ctl", lease_a, "ctl-a", 5, &a, &la)))
			EQ("a leads", la, true);
		if (ok("b campaigns", d, us_etcd_campaign(d, "el/ctl", lease_b, "ctl-b", 5, &b, &lb)))
			EQ("b does not", lb, false);
		EQ("a before b", a.create_revision < b.create_revision, 1);
		if (ok("leader", d, us_etcd_leader(d, "el/ctl", &kv))) {
			streq("leader's value", kv.value, "ctl-a");
			streq("leader's key", kv.key, a.key);
			EQ("leader's lease", kv.lease, lease_a);
			us_etcd_kv_free(&kv);
		}
		etcd_says_leader("el/ctl", a.key);
		/* campaigning again keeps the place */
		if (ok("a again", c, us_etcd_campaign(c, "el/ctl", lease_a, "ctl-a", 5, &a, &la)))
			EQ("a still leads", la, true);
		if (ok("b asks", d, us_etcd_is_leader(d, &b, &lb)))
			EQ("b still does not", lb, false);
	}
	if (th_subtest("leader_lease_revoked")) {
		/* the leader's lease ends: b leads, a's guarded writes fail */
		struct us_etcd_cmp ga = us_etcd_cmp_leader(&a), gb = us_etcd_cmp_leader(&b);
		struct us_etcd_op op = { US_ETCD_OP_PUT, "el/data", "x", 1, 0 };
		struct us_etcd_watch *w;
		struct got g = { 0 };

		ok("a's guarded write while it leads", c, us_etcd_txn(c, &ga, 1, &op, 1, &res, NULL));
		EQ("applied", res.succeeded, true);
		if (!ok("b watches", d, us_etcd_watch_open(d, "el/ctl/", 0, &w)))
			goto out;
		ok("revoke a's lease", c, us_etcd_lease_revoke(c, lease_a));
		/* b learns it from the watch: the key before it went */
		EQ("b sees", pump(w, &g, 1, 5000), 1);
		if (EQ("events", g.n, 1)) {
			EQ("a deletion", g.ev[0].type, US_ETCD_EV_DELETE);
			streq("of a's key", g.ev[0].key, a.key);
		}
		us_etcd_watch_close(w);
		if (ok("b asks", d, us_etcd_is_leader(d, &b, &lb)))
			EQ("b leads", lb, true);
		EQ("a asks", us_etcd_is_leader(c, &a, &la), -ENOENT);
		has("message", us_etcd_error(c), "is gone");
		if (ok("leader", c, us_etcd_leader(c, "el/ctl", &kv))) {
			streq("leader's value", kv.value, "ctl-b");
			us_etcd_kv_free(&kv);
		}
		etcd_says_leader("el/ctl", b.key);
		ok("a's guarded write", c, us_etcd_txn(c, &ga, 1, &op, 1, &res, NULL));
		EQ("not applied", res.succeeded, false);
		ok("b's guarded write", d, us_etcd_txn(d, &gb, 1, &op, 1, &res, NULL));
		EQ("applied", res.succeeded, true);
	}
	if (th_subtest("resign")) {
		int64_t lease_c;
		struct us_etcd_candidate cc;
		bool lc;

		if (!ok("grant", c, us_etcd_lease_grant(c, 30, &lease_c, NULL)))
			goto out;
		if (ok("c campaigns", c, us_etcd_campaign(c, "el/ctl", lease_c, "ctl-c", 5, &cc, &lc)))
			EQ("c does not lead", lc, false);
		ok("b resigns", d, us_etcd_resign(d, &b));
		if (ok("c asks", c, us_etcd_is_leader(c, &cc, &lc)))
			EQ("c leads", lc, true);
		EQ("b resigns again", us_etcd_resign(d, &b), -ENOENT);
		EQ("b asks", us_etcd_is_leader(d, &b, &lb), -ENOENT);
		ok("c resigns", c, us_etcd_resign(c, &cc));
		EQ("no leader", us_etcd_leader(c, "el/ctl", &kv), -ENOENT);
		us_etcd_lease_revoke(c, lease_c);
	}
	if (th_subtest("refused")) {
		EQ("no lease", us_etcd_campaign(c, "el/x", 0, "v", 1, &a, &la), -EINVAL);
		EQ("no name", us_etcd_campaign(c, "", lease_b, "v", 1, &a, &la), -EINVAL);
		EQ("lease unknown", us_etcd_campaign(c, "el/x", 0x7777, "v", 1, &a, &la), -ENOENT);
		has("message", us_etcd_error(c), "requested lease not found");
	}
	us_etcd_lease_revoke(d, lease_b);
out:
	us_etcd_close(c);
	us_etcd_close(d);
}

/* ---- endpoints ------------------------------------------------------------------ */

/* a listener that never answers: connections are accepted by the kernel
 * (the backlog), requests go unread, as with a member that froze */
static int mute_listener(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(2379) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	inet_pton(AF_INET, EL_ADDR3, &a.sin_addr);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) || listen(fd, 16)) {
		th_fail("mute listener", strerror(errno), "listening");
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* A member that cannot serve: every request answered as etcd answers
 * them without a leader (HTTP 503, gRPC Unavailable, its body), after the
 * request's body has been read whole, as the gateway does. It looks at no
 * request: a member without a leader refuses reads and writes alike. */
static enum MHD_Result no_leader(void *cls, struct MHD_Connection *conn, const char *url,
				 const char *method, const char *version, const char *upload,
				 size_t *upload_len, void **ptr)
{
	static const char body[] = "{\"error\":\"etcdserver: no leader\",\"message\":"
				   "\"etcdserver: no leader\",\"code\":14}";
	static int marker;
	struct MHD_Response *r;
	enum MHD_Result ret;

	(void)cls;
	(void)url;
	(void)method;
	(void)version;
	(void)upload;
	if (!*ptr) {
		*ptr = &marker;
		return MHD_YES;
	}
	if (*upload_len) {
		*upload_len = 0;
		return MHD_YES;
	}
	r = MHD_create_response_from_buffer(sizeof(body) - 1, (void *)body, MHD_RESPMEM_PERSISTENT);
	MHD_add_response_header(r, "Content-Type", "application/json");
	ret = MHD_queue_response(conn, MHD_HTTP_SERVICE_UNAVAILABLE, r);
	MHD_destroy_response(r);
	return ret;
}

TH_TEST(endpoints)
{
	struct us_etcd *c;
	struct us_etcd_kv kv;
	struct us_etcd_watch *w;
	int64_t rev;
	long long t0;
	int fd;

	if (th_subtest("refused_first")) {
		const char *ep[] = { "http://" EL_ADDR4 ":2379", m1.url };

		if (!(c = client_ep(ep, 2, 2000)))
			return;
		ok("put", c, put(c, "ep/k", "v", NULL));
		streq("the second answered", us_etcd_endpoint(c), m1.url);
		if (ok("get", c, us_etcd_get(c, "ep/k", &kv, NULL))) {
			streq("value", kv.value, "v");
			us_etcd_kv_free(&kv);
		}
		us_etcd_close(c);
		if (!(c = client_ep(ep, 2, 2000)))
			return;
		if (ok("watch", c, us_etcd_watch_open(c, "ep/", 0, &w))) {
			streq("watch on the second", us_etcd_watch_endpoint(w), m1.url);
			us_etcd_watch_close(w);
		}
		us_etcd_close(c);
	}
	if (th_subtest("mute_first")) {
		const char *ep[] = { "http://" EL_ADDR3 ":2379", m1.url };

		if ((fd = mute_listener()) < 0)
			return;
		/* a read: the mute one's share of the time-out, then the next */
		if ((c = client_ep(ep, 2, 1000))) {
			ok("get", c, us_etcd_get(c, "ep/k", &kv, NULL));
			us_etcd_kv_free(&kv);
			streq("the second answered", us_etcd_endpoint(c), m1.url);
			us_etcd_close(c);
		}
		/* a write: sent to the mute one, it may have been applied; it
		 * is not sent again, and the next call starts elsewhere */
		if ((c = client_ep(ep, 2, 500))) {
			t0 = ms_now();
			EQ("put", put(c, "ep/w", "v", &rev), -ETIMEDOUT);
			has("message", us_etcd_error(c), "may or may not have been applied");
			EQ("within its time-out (+2 s)", ms_now() - t0 < 2500, 1);
			streq("next call's endpoint", us_etcd_endpoint(c), m1.url);
			ok("put again", c, put(c, "ep/w", "v", &rev));
			us_etcd_close(c);
		}
		close(fd);
	}
	if (th_subtest("unavailable_first")) {
		/* the first member answers "no leader": reads go on to the
		 * second; a write is not repeated, the next starts there */
		const char *ep[] = { "http://" EL_ADDR3 ":2390", m1.url };
		struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(2390) };
		struct MHD_Daemon *d;

		inet_pton(AF_INET, EL_ADDR3, &a.sin_addr);
		d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 2390, NULL, NULL, no_leader,
				     NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&a, MHD_OPTION_END);
		if (!d) {
			th_fail("member without a leader", "not started", "listening");
			return;
		}
		if ((c = client())) {
			ok("put", c, put(c, "ep/u", "v", NULL));
			us_etcd_close(c);
		}
		if ((c = client_ep(ep, 2, 2000))) {
			if (ok("get", c, us_etcd_get(c, "ep/u", &kv, NULL))) {
				streq("from the second", kv.value, "v");
				us_etcd_kv_free(&kv);
			}
			streq("the second answered", us_etcd_endpoint(c), m1.url);
			us_etcd_close(c);
		}
		if ((c = client_ep(ep, 2, 2000))) {
			EQ("put", put(c, "ep/u2", "v", NULL), -EAGAIN);
			has("message", us_etcd_error(c), "etcdserver: no leader (HTTP 503, gRPC code 14)");
			streq("the next call's endpoint", us_etcd_endpoint(c), m1.url);
			EQ("not repeated", us_etcd_get(c, "ep/u2", &kv, NULL), -ENOENT);
			ok("the next put", c, put(c, "ep/u2", "v", NULL));
			us_etcd_close(c);
		}
		MHD_stop_daemon(d);
	}
	if (th_subtest("none")) {
		const char *ep[] = { "http://" EL_ADDR4 ":2379", "http://" EL_ADDR4 ":2380" };

		if (!(c = client_ep(ep, 2, 1000)))
			return;
		t0 = ms_now();
		EQ("get", us_etcd_get(c, "ep/k", &kv, NULL), -ECONNREFUSED);
		has("message", us_etcd_error(c), "no endpoint answered");
		has("message names the first", us_etcd_error(c), "http://" EL_ADDR4 ":2379");
		has("message names the second", us_etcd_error(c), "http://" EL_ADDR4 ":2380");
		has("message says why", us_etcd_error(c), "refused");
		EQ("watch", us_etcd_watch_open(c, "ep/", 0, &w), -ECONNREFUSED);
		has("message", us_etcd_error(c), "no endpoint answered");
		EQ("within the time-out (+2 s)", ms_now() - t0 < 4000, 1);
		us_etcd_close(c);
	}
}

/* ---- etcd down ------------------------------------------------------------------ */

TH_TEST(down)
{
	const char *ep[] = { m1.url };
	struct us_etcd *c = client_ep(ep, 1, 300);
	struct us_etcd_watch *w = NULL;
	struct us_etcd_kv kv;
	struct got g = { 0 };
	long long t0;
	int r;

	if (!c)
		return;
	ok("put", c, put(c, "dn/k", "v", NULL));
	if (th_subtest("frozen")) {
		/* a member that stops answering: calls end at their time-out */
		ok("watch", c, us_etcd_watch_open(c, "dn/", 0, &w));
		if (el_freeze(&m1)) {
			th_fail("freeze", el_err, "frozen");
		} else {
			t0 = ms_now();
			EQ("get", us_etcd_get(c, "dn/k", &kv, NULL), -ETIMEDOUT);
			has("message", us_etcd_error(c), "no endpoint answered in 300 ms");
			EQ("put", put(c, "dn/k", "v2", NULL), -ETIMEDOUT);
			has("message", us_etcd_error(c), "may or may not have been applied");
			EQ("both within their time-outs (+2 s)", ms_now() - t0 < 2600, 1);
			/* the watch's heartbeat finds it (100 ms silence, 300 ms
			 * without an answer) */
			if (w) {
				t0 = ms_now();
				r = pump(w, &g, 99, 5000);
				EQ("watch", r, -ETIMEDOUT);
				has("message", us_etcd_watch_error(w), "did not answer a check");
				EQ("found within 2 s", ms_now() - t0 < 2000, 1);
			}
			el_thaw(&m1);
			/* the put that timed out may have been applied after all */
			if (ok("get after", c, us_etcd_get(c, "dn/k", &kv, NULL))) {
				EQ("v or v2", !strcmp(kv.value, "v") || !strcmp(kv.value, "v2"), 1);
				us_etcd_kv_free(&kv);
			}
		}
		us_etcd_watch_close(w);
		w = NULL;
	}
	if (th_subtest("stopped")) {
		/* a member that is gone: refused at once; back: served again */
		memset(&g, 0, sizeof(g));
		ok("put", c, put(c, "dn/s", "kept", NULL));
		ok("watch", c, us_etcd_watch_open(c, "dn/", 0, &w));
		el_stop(&m1);
		t0 = ms_now();
		EQ("get", us_etcd_get(c, "dn/k", &kv, NULL), -ECONNREFUSED);
		has("message", us_etcd_error(c), "Connection refused");
		EQ("put", put(c, "dn/k", "v2", NULL), -ECONNREFUSED);
		EQ("within their time-outs (+2 s)", ms_now() - t0 < 2600, 1);
		if (w) {
			/* etcd's gateway passes on the shutdown of its gRPC
			 * server ("transport is closing", Unavailable), or the
			 * connection just closes; or, when the stream's end is
			 * not read before the watch's silence check (100 ms
			 * here) runs, the check finds the member gone */
			r = pump(w, &g, 99, 3000);
			if (!EQ("watch ended", r == -EAGAIN || r == -ECONNRESET || r == -ECONNREFUSED, 1))
				th_fail("how", strerror(-r), "EAGAIN, ECONNRESET or ECONNREFUSED");
			has("message", us_etcd_watch_error(w), "the watch of \"dn/\"");
			us_etcd_watch_close(w);
		}
		if (el_restart(&m1, STARTUP_MS)) {
			th_fail("restart", el_err, "running");
		} else if (ok("get with the same client", c, us_etcd_get(c, "dn/s", &kv, NULL))) {
			streq("value kept", kv.value, "kept");
			us_etcd_kv_free(&kv);
		}
	}
	us_etcd_close(c);
}

/* ---- TLS ------------------------------------------------------------------------ */

TH_TEST(tls)
{
	static struct el_certs certs;
	struct el_member m2;
	struct us_etcd *c;
	struct us_etcd_kv kv;
	struct us_etcd_watch *w;
	struct got g = { 0 };
	char err[300];
	const char *ep[1];
	struct us_etcd_opts o = { .endpoints = ep, .nendpoints = 1, .timeout_ms = 2000 };

	if (el_make_certs(&certs)) {
		th_fail("certificates", el_err, "made");
		return;
	}
	if (el_start(&m2, "tls", EL_ADDR2, &certs, STARTUP_MS, NULL)) {
		th_fail("etcd with client certificates", el_err, "running");
		return;
	}
	ep[0] = m2.url;
	if (th_subtest("with_certificate")) {
		o.ca_file = certs.ca;
		o.cert_file = certs.client_cert;
		o.key_file = certs.client_key;
		if (EQ("open", us_etcd_open(&o, &c, err, sizeof(err)), 0)) {
			ok("put", c, put(c, "tls/k", "secret", NULL));
			if (ok("get", c, us_etcd_get(c, "tls/k", &kv, NULL))) {
				streq("value", kv.value, "secret");
				us_etcd_kv_free(&kv);
			}
			if (ok("watch", c, us_etcd_watch_open(c, "tls/", 0, &w))) {
				ok("put", c, put(c, "tls/k", "again", NULL));
				EQ("watch", pump(w, &g, 1, 5000), 1);
				streq("event", g.ev[0].value, "again");
				us_etcd_watch_close(w);
			}
			us_etcd_close(c);
		}
	}
	if (th_subtest("without_certificate")) {
		/* refused by TLS: under TLS 1.3 the client learns it after its
		 * side of the handshake, as an alert or a reset */
		struct us_etcd *good;
		int r;

		o.ca_file = certs.ca;
		o.cert_file = o.key_file = NULL;
		if (EQ("open", us_etcd_open(&o, &c, err, sizeof(err)), 0)) {
			r = put(c, "tls/k2", "x", NULL);
			EQ("put refused", r == -EPROTO || r == -ECONNRESET || r == -EPIPE, 1);
			has("message", us_etcd_error(c), m2.url);
			r = us_etcd_get(c, "tls/k", &kv, NULL);
			EQ("get refused", r == -EPROTO || r == -ECONNRESET || r == -EPIPE, 1);
			has("message says why", us_etcd_error(c), "certificate");
			r = us_etcd_watch_open(c, "tls/", 0, &w);
			EQ("watch refused", r == -EPROTO || r == -ECONNRESET || r == -EPIPE, 1);
			has("message", us_etcd_error(c), "could not start");
			us_etcd_close(c);
		}
		o.cert_file = certs.client_cert;
		o.key_file = certs.client_key;
		if (EQ("open", us_etcd_open(&o, &good, err, sizeof(err)), 0)) {
			EQ("the refused put was not applied", us_etcd_get(good, "tls/k2", &kv, NULL),
			   -ENOENT);
			us_etcd_close(good);
		}
	}
	if (th_subtest("untrusted_server")) {
		/* the member's certificate is not from the CA the client trusts */
		o.ca_file = certs.other_ca;
		o.cert_file = certs.client_cert;
		o.key_file = certs.client_key;
		if (EQ("open", us_etcd_open(&o, &c, err, sizeof(err)), 0)) {
			EQ("get refused", us_etcd_get(c, "tls/k", &kv, NULL), -EPROTO);
			has("message", us_etcd_error(c), "certificate");
			us_etcd_close(c);
		}
	}
	if (th_subtest("plain_http")) {
		/* http to a TLS port: no answer etcd's gateway would give */
		const char *plain[] = { "http://" EL_ADDR2 ":2379" };
		struct us_etcd_opts p = { .endpoints = plain, .nendpoints = 1, .timeout_ms = 1000 };

		if (EQ("open", us_etcd_open(&p, &c, err, sizeof(err)), 0)) {
			EQ("get", us_etcd_get(c, "tls/k", &kv, NULL) < 0, 1);
			has("message", us_etcd_error(c), EL_ADDR2);
			us_etcd_close(c);
		}
	}
	el_stop(&m2);
}

/* ---- fixture -------------------------------------------------------------------- */

static int once(void)
{
	static const char *const extra[] = { "--experimental-watch-progress-notify-interval",
					     "200ms", NULL };

	if (el_enter("usetcd")) {
		th_fail("namespace", el_err, "entered");
		return -1;
	}
	/* progress reports on quiet watches every 200 ms (10 min by default) */
	if (el_start(&m1, "m1", EL_ADDR1, NULL, STARTUP_MS, extra)) {
		th_fail("etcd", el_err, "running");
		return -1;
	}
	return 0;
}

/* every test finds m1 running and thawed */
static int setup(void)
{
	if (m1.frozen)
		el_thaw(&m1);
	if (!m1.pid && el_restart(&m1, STARTUP_MS)) {
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
