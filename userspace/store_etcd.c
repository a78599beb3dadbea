// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The store on etcd: desired state, records, audit trail (store_etcd.h). */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>

#include "store_etcd.h"

#define STATE_VERSION 1
#define AUDIT_DIGITS 20                 /* a __u64 in decimal */
#define RETRY_WATCH_MS 1000             /* a watch that ended is opened again after this */

struct staged {
	__u64 seq;
	char machine[US_NAME_MAX];
	char *text;                     /* us_audit_json */
};

struct etcd_store {
	struct us_store base;
	struct us_etcd *c;
	char prefix[US_STORE_ETCD_PREFIX_MAX];
	long max_ops;
	bool leading;
	struct us_etcd_candidate me;
	/* what this store read or wrote last: P/state/seq's mod_revision (0:
	 * absent), its sequence number, every record's text by name */
	int64_t seq_mod;
	__u64 seq;
	json_object *cache;
	/* audit lines appended since the last save */
	struct staged *st;
	size_t nst;
	int64_t desired_rev;
	/* watch: an epoll set of the etcd watch's fd and a retry timer, one fd
	 * for the caller however often the watch is opened again */
	int epfd, tfd;
	struct us_etcd_watch *w;
	int64_t watch_from;             /* where a new watch starts (0: now) */
	bool missed;                    /* a restart may have missed changes */
	char err[1024];
};

static struct etcd_store *es_of(struct us_store *s)
{
	return (struct etcd_store *)s;
}

static int seterr(struct etcd_store *e, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int seterr(struct etcd_store *e, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(e->err, sizeof(e->err), fmt, ap);
	va_end(ap);
	return err;
}

static void key_of(const struct etcd_store *e, char *buf, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void key_of(const struct etcd_store *e, char *buf, size_t len, const char *fmt, ...)
{
	int n = snprintf(buf, len, "%s/", e->prefix);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf + n, len - (size_t)n, fmt, ap);
	va_end(ap);
}

/* ---- desired state ---------------------------------------------------------- */

static int es_load_conf(struct us_store *s, struct us_conf *out, char *err, size_t len)
{
	struct etcd_store *e = es_of(s);
	char key[US_ETCD_KEY_MAX], name[US_ETCD_KEY_MAX + 32];
	struct us_etcd_kv kv;
	int rc;

	key_of(e, key, sizeof(key), "desired/config");
	rc = us_etcd_get(e->c, key, &kv, NULL);
	if (rc == -ENOENT) {
		snprintf(err, len, "etcd:%s: no desired state (the key is absent)", key);
		return rc;
	}
	if (rc) {
		snprintf(err, len, "%s", us_etcd_error(e->c));
		return rc;
	}
	snprintf(name, sizeof(name), "etcd:%s", key);
	rc = us_conf_parse(kv.value, kv.value_len, name, out, err, len);
	if (!rc)
		e->desired_rev = kv.mod_revision;
	us_etcd_kv_free(&kv);
	return rc;
}

int us_store_etcd_put_desired(struct us_store *s, const char *text, size_t len, int64_t expect,
			      int64_t *revision, char *err, size_t errlen)
{
	struct etcd_store *e = es_of(s);
	char key[US_ETCD_KEY_MAX], name[US_ETCD_KEY_MAX + 32];
	struct us_etcd_op op = { .type = US_ETCD_OP_PUT, .value = text, .len = len };
	struct us_etcd_cmp cmp = { .target = US_ETCD_MOD, .result = US_ETCD_EQ, .rev = expect };
	struct us_etcd_txn_res res;
	struct us_conf conf;
	int64_t cur = 0;
	int rc;

	key_of(e, key, sizeof(key), "desired/config");
	snprintf(name, sizeof(name), "etcd:%s", key);
	rc = us_conf_parse(text, len, name, &conf, err, errlen);
	if (rc)
		return rc;
	us_conf_free(&conf);
	op.key = cmp.key = key;
	rc = us_etcd_txn(e->c, &cmp, expect < 0 ? 0 : 1, &op, 1, &res, &cur);
	if (rc) {
		snprintf(err, errlen, "%s", us_etcd_error(e->c));
		return rc;
	}
	if (!res.succeeded) {
		snprintf(err, errlen, "etcd:%s: changed since revision %" PRId64
			 " (now %" PRId64 "): read it again", key, expect, cur);
		return -ESTALE;
	}
	if (revision)
		*revision = res.revision;
	return 0;
}

int64_t us_store_etcd_desired_revision(struct us_store *s)
{
	return es_of(s)->desired_rev;
}

/* ---- records -------------------------------------------------------------------- */

static int es_load(struct us_store *s, struct us_model *m, struct us_audit *pending, char *err,
		   size_t len)
{
	struct etcd_store *e = es_of(s);
	char pfx[US_ETCD_KEY_MAX], seqkey[US_ETCD_KEY_MAX], recs[US_ETCD_KEY_MAX];
	json_object *cache = NULL, *o = NULL, *v;
	struct us_etcd_kvs r;
	int64_t seq_mod = 0;
	__u64 seq = 0;
	int rc;

	memset(pending, 0, sizeof(*pending));
	key_of(e, pfx, sizeof(pfx), "state/");
	key_of(e, seqkey, sizeof(seqkey), "state/seq");
	key_of(e, recs, sizeof(recs), "state/records/");
	/* the sequence number and every record at one revision */
	rc = us_etcd_range(e->c, pfx, 0, 0, &r);
	if (rc) {
		snprintf(err, len, "%s", us_etcd_error(e->c));
		return rc;
	}
	cache = json_object_new_object();
	if (!cache) {
		rc = -ENOMEM;
		goto out;
	}
	us_model_free(m);
	m->seq = 0;
	for (size_t i = 0; i < r.n; i++) {
		const struct us_etcd_kv *kv = &r.kv[i];
		struct us_rec rec, *slot;
		const char *field = "";

		o = json_tokener_parse(kv->value);
		if (!strcmp(kv->key, seqkey)) {
			if (!o || !json_object_object_get_ex(o, "version", &v) ||
			    json_object_get_int(v) != STATE_VERSION ||
			    !json_object_object_get_ex(o, "seq", &v) ||
			    !json_object_is_type(v, json_type_int) || json_object_get_int64(v) < 0) {
				snprintf(err, len, "etcd:%s: not {\"version\":%d,\"seq\":N}", kv->key,
					 STATE_VERSION);
				rc = -EINVAL;
				goto out;
			}
			seq = (__u64)json_object_get_int64(v);
			seq_mod = kv->mod_revision;
		} else if (!strncmp(kv->key, recs, strlen(recs))) {
			if (!o || us_rec_parse(o, US_REC_FORMAT, &rec, &field)) {
				snprintf(err, len, "etcd:%s: %s%s", kv->key,
					 o ? field : "not valid JSON", o ? ": missing or invalid" : "");
				rc = -EINVAL;
				goto out;
			}
			if (strcmp(rec.name, kv->key + strlen(recs))) {
				snprintf(err, len, "etcd:%s: the record is machine %s's", kv->key,
					 rec.name);
				rc = -EINVAL;
				goto out;
			}
			if (us_model_find_id(m, rec.id)) {
				snprintf(err, len, "etcd:%s: id %u repeated", kv->key, rec.id);
				rc = -EINVAL;
				goto out;
			}
			rc = us_model_new(m, rec.name, &rec.conf, &slot);
			if (rc) {
				snprintf(err, len, "etcd:%s: %s", kv->key, us_model_error(m));
				goto out;
			}
			*slot = rec;
			json_object_object_add(cache, rec.name,
					       json_object_new_string_len(kv->value,
									  (int)kv->value_len));
		}
		json_object_put(o);
		o = NULL;
	}
	if (r.n && !seq_mod) {
		snprintf(err, len, "etcd:%s: absent, with records under %s", seqkey, recs);
		rc = -EINVAL;
		goto out;
	}
	m->seq = seq;
	e->seq = seq;
	e->seq_mod = seq_mod;
	json_object_put(e->cache);
	e->cache = cache;
	cache = NULL;
	for (size_t i = 0; i < e->nst; i++)
		free(e->st[i].text);
	e->nst = 0;
out:
	json_object_put(o);
	json_object_put(cache);
	us_etcd_kvs_free(&r);
	if (rc)
		us_model_free(m);
	return rc;
}

/* Stage one transition: it is written with the records it changes. A
 * transition numbered as one staged before replaces it (that one's save
 * failed: it never happened). */
static int es_append(struct us_store *s, const struct us_audit *a)
{
	struct etcd_store *e = es_of(s);
	struct staged *st;
	json_object *o;
	char *text;

	e->err[0] = 0;
	if (!e->leading)
		return seterr(e, -EPERM, "etcd:%s: this controller does not lead: it writes nothing",
			      e->prefix);
	if (a->seq <= e->seq)
		return seterr(e, -ESTALE, "transition %llu: the store has %llu already: reload",
			      (unsigned long long)a->seq, (unsigned long long)e->seq);
	while (e->nst && e->st[e->nst - 1].seq >= a->seq)
		free(e->st[--e->nst].text);
	o = us_audit_json(a);
	text = o ? strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN)) : NULL;
	json_object_put(o);
	st = text ? realloc(e->st, (e->nst + 1) * sizeof(*st)) : NULL;
	if (!st) {
		free(text);
		return -ENOMEM;
	}
	e->st = st;
	st[e->nst].seq = a->seq;
	snprintf(st[e->nst].machine, sizeof(st[e->nst].machine), "%s", a->machine);
	st[e->nst].text = text;
	e->nst++;
	return 0;
}

struct txn {
	struct us_etcd_cmp *cmp;
	struct us_etcd_op *ops;
	size_t ncmp, nops;
	char **keys;                    /* allocated keys of ops, freed with it */
	size_t nkeys;
};

static int txn_key(struct txn *t, char *key)
{
	if (!key)
		return -ENOMEM;
	t->keys[t->nkeys++] = key;
	return 0;
}

static void txn_free(struct txn *t)
{
	for (size_t i = 0; i < t->nkeys; i++)
		free(t->keys[i]);
	free(t->keys);
	free(t->cmp);
	free(t->ops);
}

static char *keydup(const struct etcd_store *e, const char *kind, const char *name)
{
	char *k;

	return asprintf(&k, "%s/%s%s", e->prefix, kind, name) < 0 ? NULL : k;
}

/* One transaction of the save: the conditions, P/state/seq, then ops.
 * -ESTALE (another writer), -EPERM (deposed) or etcd's error. */
static int commit(struct etcd_store *e, struct txn *t, const char *seqkey, const char *seqval,
		  __u64 seq)
{
	struct us_etcd_txn_res res;
	int64_t *cur;
	int rc;

	cur = calloc(t->ncmp, sizeof(*cur));
	if (!cur)
		return -ENOMEM;
	t->cmp[0] = us_etcd_cmp_leader(&e->me);
	t->cmp[1] = (struct us_etcd_cmp){ seqkey, US_ETCD_MOD, US_ETCD_EQ, e->seq_mod };
	t->ops[0] = (struct us_etcd_op){ US_ETCD_OP_PUT, seqkey, seqval, strlen(seqval), 0 };
	rc = us_etcd_txn(e->c, t->cmp, t->ncmp, t->ops, t->nops, &res, cur);
	if (rc) {
		seterr(e, rc, "%s", us_etcd_error(e->c));
	} else if (!res.succeeded && cur[0] == 0) {
		rc = seterr(e, -EPERM, "etcd:%s: no longer the leader (its key is gone): "
			    "a deposed controller writes nothing", e->me.key);
	} else if (!res.succeeded && cur[1] != e->seq_mod) {
		rc = seterr(e, -ESTALE, "etcd:%s: another writer saved since this controller "
			    "read the records (revision %" PRId64 ", now %" PRId64 "): nothing "
			    "written; reload", seqkey, e->seq_mod, cur[1]);
	} else if (!res.succeeded) {
		size_t i = 2;

		while (i < t->ncmp && !cur[i])
			i++;
		rc = seterr(e, i < t->ncmp ? -ESTALE : -EPERM, "etcd:%s: %s: nothing written",
			    i < t->ncmp ? t->cmp[i].key : e->me.key,
			    i < t->ncmp ? "exists already (another writer's transition)" :
			    "no longer the leader");
	} else {
		e->seq_mod = res.revision;
		e->seq = seq;
	}
	free(cur);
	return rc;
}

static int es_save(struct us_store *s, const struct us_model *m)
{
	struct etcd_store *e = es_of(s);
	char seqkey[US_ETCD_KEY_MAX], seqval[64];
	const char **text = NULL, **names = NULL;
	json_object **objs = NULL, *seen = NULL;
	size_t ntext = 0, naudited = 0, nst = 0, done = 0, cap;
	struct txn t = { 0 };
	bool first = true;
	int rc = 0;

	e->err[0] = 0;
	if (!e->leading)
		return seterr(e, -EPERM, "etcd:%s: this controller does not lead: it writes nothing",
			      e->prefix);
	key_of(e, seqkey, sizeof(seqkey), "state/seq");
	snprintf(seqval, sizeof(seqval), "{\"version\":%d,\"seq\":%llu}", STATE_VERSION,
		 (unsigned long long)m->seq);
	/* the transitions since the last save, in order, none missing */
	while (nst < e->nst && e->st[nst].seq <= m->seq)
		nst++;
	for (size_t i = 0; i < nst; i++)
		if (e->st[i].seq != e->seq + 1 + i)
			return seterr(e, -EINVAL, "transition %llu staged after %llu: the audit "
				      "trail would have a gap", (unsigned long long)e->st[i].seq,
				      (unsigned long long)(e->seq + i));
	cap = (size_t)e->max_ops;
	t.cmp = calloc(2 + nst, sizeof(*t.cmp));
	t.ops = calloc(cap, sizeof(*t.ops));
	t.keys = calloc(cap, sizeof(*t.keys));
	text = calloc(m->n + 1, sizeof(*text));
	names = calloc(m->n + 1, sizeof(*names));
	objs = calloc(m->n + 1, sizeof(*objs));
	seen = json_object_new_object();
	if (!t.cmp || !t.ops || !t.keys || !text || !names || !objs || !seen) {
		rc = -ENOMEM;
		goto out;
	}
	/* every record's text, the ones a transition changes first */
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < m->n; i++) {
			const struct us_rec *r = &m->r[i];
			bool audited = false;

			if (r->state == US_MS_UNUSED)
				continue;
			for (size_t j = 0; j < nst && !audited; j++)
				audited = !strcmp(e->st[j].machine, r->name);
			if (audited != (pass == 0))
				continue;
			objs[ntext] = us_rec_json(r, US_RJ_DURABLE);
			if (!objs[ntext]) {
				rc = -ENOMEM;
				goto out;
			}
			json_object_object_add(seen, r->name, json_object_get(objs[ntext]));
			names[ntext] = r->name;
			text[ntext] = json_object_to_json_string_ext(objs[ntext],
								     JSON_C_TO_STRING_PLAIN);
			ntext++;
			naudited += pass == 0;
		}
	while (first || done < ntext) {
		size_t i0 = done;

		t.ncmp = 2;
		t.nops = 1;
		if (first) {
			for (size_t i = 0; i < nst; i++) {
				char *k = malloc(US_ETCD_KEY_MAX);

				rc = txn_key(&t, k);
				if (rc)
					goto out;
				key_of(e, k, US_ETCD_KEY_MAX, "audit/%0*llu", AUDIT_DIGITS,
				       (unsigned long long)e->st[i].seq);
				t.cmp[t.ncmp++] = (struct us_etcd_cmp){ k, US_ETCD_CREATE,
									US_ETCD_EQ, 0 };
				t.ops[t.nops++] = (struct us_etcd_op){
					US_ETCD_OP_PUT, k, e->st[i].text, strlen(e->st[i].text), 0 };
			}
			/* records no longer in the model */
			json_object_object_foreach(e->cache, name, val) {
				(void)val;
				if (json_object_object_get_ex(seen, name, NULL))
					continue;
				if (t.nops >= cap) {
					rc = seterr(e, -E2BIG, "a save deleting more records than a "
						    "transaction takes (%ld operations)", e->max_ops);
					goto out;
				}
				rc = txn_key(&t, keydup(e, "state/records/", name));
				if (rc)
					goto out;
				t.ops[t.nops++] = (struct us_etcd_op){ .type = US_ETCD_OP_DELETE,
								       .key = t.keys[t.nkeys - 1] };
			}
		}
		for (; done < ntext && t.nops < cap; done++) {
			json_object *cached;

			if (json_object_object_get_ex(e->cache, names[done], &cached) &&
			    !strcmp(json_object_get_string(cached), text[done]))
				continue;
			rc = txn_key(&t, keydup(e, "state/records/", names[done]));
			if (rc)
				goto out;
			t.ops[t.nops++] = (struct us_etcd_op){ US_ETCD_OP_PUT, t.keys[t.nkeys - 1],
							       text[done], strlen(text[done]), 0 };
		}
		/* a transition's record goes in the transaction of its audit line */
		if (first && done < naudited) {
			rc = seterr(e, -E2BIG, "%zu transitions and their records do not fit in "
				    "one transaction (%ld operations: etcd's --max-txn-ops)", nst,
				    e->max_ops);
			goto out;
		}
		if (t.nops == 1 && (!first || (e->seq_mod && m->seq == e->seq)))
			break;  /* nothing (left) that changed: no revision made */
		rc = commit(e, &t, seqkey, seqval, m->seq);
		if (rc)
			goto out;
		/* what etcd has now */
		for (size_t i = i0; i < done; i++)
			json_object_object_add(e->cache, names[i], json_object_new_string(text[i]));
		if (first) {
			json_object *gone = json_object_new_array();

			json_object_object_foreach(e->cache, name, val) {
				(void)val;
				if (!json_object_object_get_ex(seen, name, NULL))
					json_object_array_add(gone, json_object_new_string(name));
			}
			for (size_t i = 0; i < json_object_array_length(gone); i++)
				json_object_object_del(e->cache, json_object_get_string(
					json_object_array_get_idx(gone, i)));
			json_object_put(gone);
			for (size_t i = 0; i < nst; i++)
				free(e->st[i].text);
			memmove(e->st, e->st + nst, (e->nst - nst) * sizeof(*e->st));
			e->nst -= nst;
			nst = 0;
		}
		first = false;
		for (size_t i = 0; i < t.nkeys; i++)
			free(t.keys[i]);
		t.nkeys = 0;
	}
out:
	txn_free(&t);
	for (size_t i = 0; objs && i < ntext; i++)
		json_object_put(objs[i]);
	free(objs);
	free(text);
	free(names);
	json_object_put(seen);
	return rc;
}

/* ---- history ---------------------------------------------------------------------- */

static int es_history(struct us_store *s, long limit, json_object *arr)
{
	struct etcd_store *e = es_of(s);
	char pfx[US_ETCD_KEY_MAX], from[US_ETCD_KEY_MAX], seqkey[US_ETCD_KEY_MAX];
	struct us_etcd_kvs r;
	struct us_etcd_kv kv;
	json_object *o, *v;
	__u64 seq = 0;
	int rc;

	if (limit < 1)
		return -EINVAL;
	key_of(e, seqkey, sizeof(seqkey), "state/seq");
	rc = us_etcd_get(e->c, seqkey, &kv, NULL);
	if (rc == -ENOENT)
		return 0;
	if (rc)
		return seterr(e, rc, "%s", us_etcd_error(e->c));
	o = json_tokener_parse(kv.value);
	if (o && json_object_object_get_ex(o, "seq", &v))
		seq = (__u64)json_object_get_int64(v);
	json_object_put(o);
	us_etcd_kv_free(&kv);
	key_of(e, pfx, sizeof(pfx), "audit/");
	key_of(e, from, sizeof(from), "audit/%0*llu", AUDIT_DIGITS,
	       (unsigned long long)(seq > (__u64)limit ? seq - (__u64)limit + 1 : 0));
	rc = us_etcd_range_from(e->c, pfx, from, 0, limit, &r);
	if (rc)
		return seterr(e, rc, "%s", us_etcd_error(e->c));
	for (size_t i = 0; i < r.n; i++) {
		o = json_tokener_parse(r.kv[i].value);
		if (o)
			json_object_array_add(arr, o);
	}
	us_etcd_kvs_free(&r);
	return 0;
}

/* ---- watch ------------------------------------------------------------------------ */

static void arm_retry(struct etcd_store *e)
{
	struct itimerspec its = { .it_value = { .tv_sec = RETRY_WATCH_MS / 1000,
						.tv_nsec = (RETRY_WATCH_MS % 1000) * 1000000L } };

	timerfd_settime(e->tfd, 0, &its, NULL);
}

/* Open the watch of P/desired/ from e->watch_from; on failure retry later. */
static int open_watch(struct etcd_store *e)
{
	char pfx[US_ETCD_KEY_MAX];
	struct epoll_event ev = { .events = EPOLLIN };
	int rc;

	key_of(e, pfx, sizeof(pfx), "desired/");
	rc = us_etcd_watch_open(e->c, pfx, e->watch_from, &e->w);
	if (rc == -ERANGE) {
		/* compacted: whatever happened in between, read it again */
		e->missed = true;
		e->watch_from = 0;
		rc = us_etcd_watch_open(e->c, pfx, 0, &e->w);
	}
	if (rc) {
		e->w = NULL;
		arm_retry(e);
		return seterr(e, rc, "%s", us_etcd_error(e->c));
	}
	if (epoll_ctl(e->epfd, EPOLL_CTL_ADD, us_etcd_watch_fd(e->w), &ev)) {
		rc = -errno;
		us_etcd_watch_close(e->w);
		e->w = NULL;
		arm_retry(e);
	}
	return rc;
}

static void close_watch(struct etcd_store *e)
{
	if (!e->w)
		return;
	epoll_ctl(e->epfd, EPOLL_CTL_DEL, us_etcd_watch_fd(e->w), NULL);
	us_etcd_watch_close(e->w);
	e->w = NULL;
}

static int es_watch(struct us_store *s)
{
	struct etcd_store *e = es_of(s);
	struct epoll_event ev = { .events = EPOLLIN };
	int rc;

	if (e->epfd >= 0)
		return e->epfd;
	e->epfd = epoll_create1(EPOLL_CLOEXEC);
	e->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (e->epfd < 0 || e->tfd < 0 || epoll_ctl(e->epfd, EPOLL_CTL_ADD, e->tfd, &ev)) {
		rc = -errno;
		if (e->epfd >= 0)
			close(e->epfd);
		if (e->tfd >= 0)
			close(e->tfd);
		e->epfd = e->tfd = -1;
		return rc;
	}
	/* from after the desired state the caller has read (a change since is
	 * delivered); before any read, from now */
	e->watch_from = e->desired_rev ? e->desired_rev + 1 : 0;
	open_watch(e);      /* failing, it is retried by the timer */
	return e->epfd;
}

static int count_events(const struct us_etcd_event *ev, size_t n, void *ctx)
{
	(void)ev;
	*(size_t *)ctx += n;
	return 0;
}

static int es_changed(struct us_store *s)
{
	struct etcd_store *e = es_of(s);
	uint64_t ticks;
	size_t n = 0;
	int rc;

	if (e->epfd < 0)
		return 0;
	if (e->w) {
		rc = us_etcd_watch_dispatch(e->w, count_events, &n);
		if (rc < 0) {
			/* ended: open again from where it was (replaying what came since) */
			e->watch_from = us_etcd_watch_revision(e->w);
			seterr(e, rc, "watch of %s/desired/: %s", e->prefix,
			       us_etcd_watch_error(e->w));
			close_watch(e);
			arm_retry(e);
		}
	}
	if (read(e->tfd, &ticks, sizeof(ticks)) == sizeof(ticks) && !e->w)
		open_watch(e);
	if (e->missed && e->w) {
		e->missed = false;
		return 1;
	}
	return n > 0;
}

static const char *es_error(struct us_store *s)
{
	return es_of(s)->err;
}

static void es_close(struct us_store *s)
{
	struct etcd_store *e = es_of(s);

	close_watch(e);
	if (e->epfd >= 0)
		close(e->epfd);
	if (e->tfd >= 0)
		close(e->tfd);
	for (size_t i = 0; i < e->nst; i++)
		free(e->st[i].text);
	free(e->st);
	json_object_put(e->cache);
	us_etcd_close(e->c);
	free(e);
}

static const struct us_store_ops etcd_ops = {
	.name = "etcd",
	.load_conf = es_load_conf,
	.load = es_load,
	.save = es_save,
	.append = es_append,
	.history = es_history,
	.watch = es_watch,
	.changed = es_changed,
	.close = es_close,
	.error = es_error,
};

int us_store_etcd_open(const struct us_store_etcd_opts *o, struct us_store **out, char *err,
		       size_t errlen)
{
	struct etcd_store *e;
	size_t n;
	int rc;

	*out = NULL;
	n = o && o->prefix ? strlen(o->prefix) : 0;
	if (!o || !o->etcd || n < 2 || o->prefix[0] != '/' || o->prefix[n - 1] == '/' ||
	    n >= US_STORE_ETCD_PREFIX_MAX || (o->max_txn_ops && o->max_txn_ops < 8)) {
		snprintf(err, errlen, "etcd store: %s",
			 !o || !o->etcd ? "no etcd options" :
			 n >= US_STORE_ETCD_PREFIX_MAX ? "prefix too long" :
			 o->max_txn_ops && o->max_txn_ops < 8 ? "max_txn_ops below 8" :
			 "the prefix must start with '/' and not end with one (\"/understudy\")");
		return -EINVAL;
	}
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->base.ops = &etcd_ops;
	e->epfd = e->tfd = -1;
	e->max_ops = o->max_txn_ops ? o->max_txn_ops : 128;
	snprintf(e->prefix, sizeof(e->prefix), "%s", o->prefix);
	e->cache = json_object_new_object();
	rc = e->cache ? us_etcd_open(o->etcd, &e->c, err, errlen) : -ENOMEM;
	if (rc) {
		json_object_put(e->cache);
		free(e);
		return rc;
	}
	*out = &e->base;
	return 0;
}

void us_store_etcd_lead(struct us_store *s, const struct us_etcd_candidate *me)
{
	struct etcd_store *e = es_of(s);

	e->leading = me != NULL;
	if (me)
		e->me = *me;
}

struct us_etcd *us_store_etcd_client(struct us_store *s)
{
	return es_of(s)->c;
}
