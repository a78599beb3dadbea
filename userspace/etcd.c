// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * etcd v3 through its JSON gateway, with libcurl and json-c: see etcd.h.
 *
 * What the gateway of etcd 3.4 does that shapes this file:
 *  - 64-bit numbers are JSON strings ("revision":"12"); fields at their
 *    zero value are left out ("succeeded", "count", an event's "type" PUT);
 *  - a refusal is an HTTP error status with {"error","message","code"},
 *    code a gRPC status code; an error on a stream is {"error":{...}};
 *  - streaming calls (watch, lease keep-alive) answer with one JSON object
 *    per message, each {"result":{...}}; over HTTP/1.1 the answer starts
 *    only once the request's body has ended (Go's HTTP/1 server is half
 *    duplex), so a watch is one request (its creation) and its stream of
 *    answers: a progress request on the same stream never arrives;
 *  - a keep-alive of a lease that is gone answers 200 with TTL 0.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <curl/curl.h>
#include <json-c/json.h>

#include "base64.h"
#include "etcd.h"

#define ETCD_TIMEOUT_MS    2000
#define ETCD_CONNECT_MS    500
#define ETCD_HEARTBEAT_MS  1000
#define ETCD_URL_MAX       256
#define ETCD_ANSWER_MAX    (64u << 20)   /* the largest answer (or watch message) taken */
#define ETCD_ERR_MAX       1024

/* ---- small things --------------------------------------------------------------- */

struct buf {
	char *p;
	size_t len, cap;
};

static int buf_add(struct buf *b, const void *data, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		char *p;

		while (cap < b->len + n + 1)
			cap *= 2;
		p = realloc(b->p, cap);
		if (!p)
			return -ENOMEM;
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, data, n);
	b->len += n;
	b->p[b->len] = '\0';
	return 0;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct us_etcd {
	char ep[US_ETCD_MAX_ENDPOINTS][ETCD_URL_MAX];
	size_t nep;
	size_t cur;                 /* the endpoint tried first */
	long timeout_ms, connect_ms, heartbeat_ms;
	char *ca_file, *cert_file, *key_file;
	CURL *h;                    /* the calls' handle: one connection kept */
	struct curl_slist *hdrs;
	struct buf answer;
	bool answer_big;            /* the answer passed ETCD_ANSWER_MAX */
	char curlerr[CURL_ERROR_SIZE];
	char err[ETCD_ERR_MAX];
};

static int seterr(struct us_etcd *c, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int seterr(struct us_etcd *c, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->err, sizeof(c->err), fmt, ap);
	va_end(ap);
	return err;
}

const char *us_etcd_error(const struct us_etcd *c)
{
	return c->err;
}

const char *us_etcd_endpoint(const struct us_etcd *c)
{
	return c->ep[c->cur];
}

/* gRPC status codes (the "code" of the gateway's errors) as errno */
static int grpc_errno(long code)
{
	switch (code) {
	case 1: return -ECANCELED;      /* Canceled */
	case 3: return -EINVAL;         /* InvalidArgument */
	case 4: return -ETIMEDOUT;      /* DeadlineExceeded */
	case 5: return -ENOENT;         /* NotFound */
	case 6: return -EEXIST;         /* AlreadyExists */
	case 7: return -EPERM;          /* PermissionDenied */
	case 8: return -ENOSPC;         /* ResourceExhausted */
	case 9: return -EINVAL;         /* FailedPrecondition */
	case 10: return -EAGAIN;        /* Aborted */
	case 11: return -ERANGE;        /* OutOfRange: a compacted revision */
	case 12: return -ENOSYS;        /* Unimplemented */
	case 14: return -EAGAIN;        /* Unavailable: no leader, stopping */
	case 16: return -EACCES;        /* Unauthenticated */
	default: return -EIO;           /* Unknown, Internal, DataLoss */
	}
}

/* a libcurl failure as errno */
static int curl_errno(CURL *h, CURLcode rc)
{
	long os = 0;

	curl_easy_getinfo(h, CURLINFO_OS_ERRNO, &os);
	switch (rc) {
	case CURLE_OPERATION_TIMEDOUT:
		return -ETIMEDOUT;
	case CURLE_COULDNT_RESOLVE_HOST:
		return -EHOSTUNREACH;
	case CURLE_COULDNT_CONNECT:
		return os > 0 ? -(int)os : -ECONNREFUSED;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_ENGINE_NOTFOUND:
	case CURLE_SSL_ENGINE_SETFAILED:
	case CURLE_SSL_ENGINE_INITFAILED:
	case CURLE_USE_SSL_FAILED:
		return -EPROTO;
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
		/* a TLS alert after the handshake (a client certificate
		 * refused under TLS 1.3) leaves no system error */
		return os > 0 ? -(int)os : -EPROTO;
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
		return -ECONNRESET;
	case CURLE_WRITE_ERROR:
		return -EMSGSIZE;
	case CURLE_OUT_OF_MEMORY:
		return -ENOMEM;
	default:
		return -EIO;
	}
}

/* ---- JSON ----------------------------------------------------------------------- */

static json_object *j_str(const char *s)
{
	return json_object_new_string(s);
}

static json_object *j_i64(int64_t v)
{
	char s[32];

	snprintf(s, sizeof(s), "%" PRId64, v);
	return json_object_new_string(s);
}

static json_object *j_b64(const void *data, size_t n)
{
	char *t = malloc(us_b64_enclen(n) + 1);
	json_object *o;

	if (!t)
		return NULL;
	us_b64_encode(data, n, t);
	o = json_object_new_string(t);
	free(t);
	return o;
}

/* add a field; a NULL value (allocation failed) poisons the object */
static void j_add(json_object *o, const char *k, json_object *v, bool *nomem)
{
	if (!v) {
		*nomem = true;
		return;
	}
	json_object_object_add(o, k, v);
}

/* a 64-bit field as the gateway writes it (a string, or a number); missing: 0 */
static int j_get_i64(json_object *o, const char *k, int64_t *v)
{
	json_object *f;
	const char *s;
	char *end;
	long long x;

	*v = 0;
	if (!o || !json_object_object_get_ex(o, k, &f) || json_object_is_type(f, json_type_null))
		return 0;
	if (json_object_is_type(f, json_type_int)) {
		*v = json_object_get_int64(f);
		return 0;
	}
	if (!json_object_is_type(f, json_type_string))
		return -EPROTO;
	s = json_object_get_string(f);
	errno = 0;
	x = strtoll(s, &end, 10);
	if (!*s || *end || errno)
		return -EPROTO;
	*v = x;
	return 0;
}

static int j_get_u64(json_object *o, const char *k, uint64_t *v)
{
	json_object *f;
	const char *s;
	char *end;
	unsigned long long x;

	*v = 0;
	if (!o || !json_object_object_get_ex(o, k, &f) || json_object_is_type(f, json_type_null))
		return 0;
	if (json_object_is_type(f, json_type_int)) {
		*v = json_object_get_uint64(f);
		return 0;
	}
	if (!json_object_is_type(f, json_type_string))
		return -EPROTO;
	s = json_object_get_string(f);
	errno = 0;
	x = strtoull(s, &end, 10);
	if (!*s || *end || errno || *s == '-')
		return -EPROTO;
	*v = x;
	return 0;
}

static bool j_get_bool(json_object *o, const char *k)
{
	json_object *f;

	return o && json_object_object_get_ex(o, k, &f) && json_object_get_boolean(f);
}

static json_object *j_get(json_object *o, const char *k)
{
	json_object *f;

	return o && json_object_object_get_ex(o, k, &f) ? f : NULL;
}

/* a base64 field into a new NUL-terminated buffer (missing: empty) */
static int j_get_b64(json_object *o, const char *k, char **out, size_t *len)
{
	json_object *f = j_get(o, k);
	const char *s = "";
	size_t n = 0, got = 0;

	if (f) {
		if (!json_object_is_type(f, json_type_string))
			return -EPROTO;
		s = json_object_get_string(f);
		n = (size_t)json_object_get_string_len(f);
	}
	*out = malloc(us_b64_declen(n) + 1);
	if (!*out)
		return -ENOMEM;
	if (us_b64_decode(s, n, *out, &got, NULL)) {
		free(*out);
		*out = NULL;
		return -EPROTO;
	}
	(*out)[got] = '\0';
	if (len)
		*len = got;
	return 0;
}

void us_etcd_kv_free(struct us_etcd_kv *kv)
{
	if (!kv)
		return;
	free(kv->key);
	free(kv->value);
	memset(kv, 0, sizeof(*kv));
}

void us_etcd_kvs_free(struct us_etcd_kvs *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n; i++)
		us_etcd_kv_free(&r->kv[i]);
	free(r->kv);
	memset(r, 0, sizeof(*r));
}

/* one mvccpb.KeyValue; *what: the field that was wrong */
static int parse_kv(json_object *o, struct us_etcd_kv *kv, const char **what)
{
	size_t klen;
	int err;

	memset(kv, 0, sizeof(*kv));
	if (!json_object_is_type(o, json_type_object)) {
		*what = "kv";
		return -EPROTO;
	}
	if ((err = j_get_b64(o, "key", &kv->key, &klen))) {
		*what = "key";
		goto out_free;
	}
	if (strlen(kv->key) != klen) {
		*what = "key (a NUL byte in it)";
		err = -EPROTO;
		goto out_free;
	}
	if ((err = j_get_b64(o, "value", &kv->value, &kv->value_len))) {
		*what = "value";
		goto out_free;
	}
	err = j_get_i64(o, "create_revision", &kv->create_revision);
	err = err ? err : j_get_i64(o, "mod_revision", &kv->mod_revision);
	err = err ? err : j_get_i64(o, "version", &kv->version);
	err = err ? err : j_get_i64(o, "lease", &kv->lease);
	if (!err)
		return 0;
	*what = "revision, version or lease";
out_free:
	us_etcd_kv_free(kv);
	return err;
}

static int64_t header_revision(json_object *o)
{
	int64_t rev;

	if (j_get_i64(j_get(o, "header"), "revision", &rev))
		return 0;
	return rev;
}

/* ---- open, close ---------------------------------------------------------------- */

static size_t answer_write(char *data, size_t size, size_t n, void *userp)
{
	struct us_etcd *c = userp;

	if (c->answer.len + size * n > ETCD_ANSWER_MAX) {
		c->answer_big = true;
		return 0;
	}
	if (buf_add(&c->answer, data, size * n))
		return 0;
	return size * n;
}

/* the options every handle of the client gets */
static int handle_setup(struct us_etcd *c, CURL *h, char *errbuf)
{
	CURLcode rc = CURLE_OK;

#define SET(opt, val) do { if (rc == CURLE_OK) rc = curl_easy_setopt(h, opt, val); } while (0)
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_PROTOCOLS_STR, "http,https");
	SET(CURLOPT_HTTPHEADER, c->hdrs);
	SET(CURLOPT_ERRORBUFFER, errbuf);
	SET(CURLOPT_TCP_KEEPALIVE, 1L);
	SET(CURLOPT_TCP_KEEPIDLE, 10L);
	SET(CURLOPT_TCP_KEEPINTVL, 5L);
	SET(CURLOPT_CONNECTTIMEOUT_MS, c->connect_ms);
	if (c->ca_file)
		SET(CURLOPT_CAINFO, c->ca_file);
	if (c->cert_file) {
		SET(CURLOPT_SSLCERT, c->cert_file);
		SET(CURLOPT_SSLKEY, c->key_file);
	}
#undef SET
	return rc == CURLE_OK ? 0 : -EINVAL;
}

/* "http://HOST:PORT" or "https://..." without a path (a last '/' dropped) */
static int check_endpoint(const char *url, char *out, char *err, size_t errlen)
{
	const char *host;
	size_t n;

	if (!url || !*url) {
		snprintf(err, errlen, "an endpoint is empty");
		return -EINVAL;
	}
	n = strlen(url);
	if (n >= ETCD_URL_MAX) {
		snprintf(err, errlen, "endpoint \"%.40s...\": longer than %d characters", url,
			 ETCD_URL_MAX - 1);
		return -EINVAL;
	}
	if (!strncmp(url, "http://", 7))
		host = url + 7;
	else if (!strncmp(url, "https://", 8))
		host = url + 8;
	else {
		snprintf(err, errlen, "endpoint \"%s\": not an http:// or https:// URL", url);
		return -EINVAL;
	}
	if (!*host || *host == '/' || *host == ':') {
		snprintf(err, errlen, "endpoint \"%s\": no host", url);
		return -EINVAL;
	}
	memcpy(out, url, n + 1);
	if (out[n - 1] == '/')
		out[--n] = '\0';
	if (strchr(host, '/') && strchr(host, '/') < url + n) {
		snprintf(err, errlen, "endpoint \"%s\": has a path (only scheme://host:port)", url);
		return -EINVAL;
	}
	if (strpbrk(host, "?#@ ")) {
		snprintf(err, errlen, "endpoint \"%s\": has a query, fragment, user or space", url);
		return -EINVAL;
	}
	return 0;
}

static int check_file(const char *what, const char *path, char *err, size_t errlen)
{
	if (access(path, R_OK)) {
		int e = errno;

		snprintf(err, errlen, "%s \"%s\": %s", what, path, strerror(e));
		return -e;
	}
	return 0;
}

int us_etcd_open(const struct us_etcd_opts *o, struct us_etcd **out, char *err, size_t errlen)
{
	struct us_etcd *c;
	char dummy[1];
	int e;

	if (!err) {
		err = dummy;
		errlen = sizeof(dummy);
	}
	*out = NULL;
	if (errlen)
		err[0] = '\0';
	if (!o || !o->endpoints || !o->nendpoints || o->nendpoints > US_ETCD_MAX_ENDPOINTS) {
		snprintf(err, errlen, "endpoints: between 1 and %d needed, %zu given",
			 US_ETCD_MAX_ENDPOINTS, o ? o->nendpoints : 0);
		return -EINVAL;
	}
	if (o->timeout_ms < 0 || o->connect_timeout_ms < 0 || o->watch_heartbeat_ms < 0) {
		snprintf(err, errlen, "time-outs: negative");
		return -EINVAL;
	}
	if (!o->cert_file != !o->key_file) {
		snprintf(err, errlen, "TLS: a client certificate needs its key, and a key its "
			 "certificate (cert_file %s, key_file %s)", o->cert_file ? "set" : "unset",
			 o->key_file ? "set" : "unset");
		return -EINVAL;
	}
	if ((o->ca_file && (e = check_file("TLS CA file", o->ca_file, err, errlen))) ||
	    (o->cert_file && (e = check_file("TLS certificate", o->cert_file, err, errlen))) ||
	    (o->key_file && (e = check_file("TLS key", o->key_file, err, errlen))))
		return e;
	c = calloc(1, sizeof(*c));
	if (!c) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	for (size_t i = 0; i < o->nendpoints; i++) {
		if ((e = check_endpoint(o->endpoints[i], c->ep[i], err, errlen))) {
			free(c);
			return e;
		}
	}
	c->nep = o->nendpoints;
	c->timeout_ms = o->timeout_ms ? o->timeout_ms : ETCD_TIMEOUT_MS;
	c->connect_ms = o->connect_timeout_ms ? o->connect_timeout_ms : ETCD_CONNECT_MS;
	c->heartbeat_ms = o->watch_heartbeat_ms ? o->watch_heartbeat_ms : ETCD_HEARTBEAT_MS;
	if ((o->ca_file && !(c->ca_file = strdup(o->ca_file))) ||
	    (o->cert_file && !(c->cert_file = strdup(o->cert_file))) ||
	    (o->key_file && !(c->key_file = strdup(o->key_file)))) {
		e = -ENOMEM;
		goto out_free;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT)) {
		snprintf(err, errlen, "libcurl: cannot initialise");
		e = -ENOMEM;
		goto out_free;
	}
	c->hdrs = curl_slist_append(NULL, "Content-Type: application/json");
	c->hdrs = c->hdrs ? curl_slist_append(c->hdrs, "Expect:") : NULL;
	c->h = curl_easy_init();
	if (!c->hdrs || !c->h || handle_setup(c, c->h, c->curlerr) ||
	    curl_easy_setopt(c->h, CURLOPT_WRITEFUNCTION, answer_write) ||
	    curl_easy_setopt(c->h, CURLOPT_WRITEDATA, c) ||
	    curl_easy_setopt(c->h, CURLOPT_POST, 1L)) {
		snprintf(err, errlen, "libcurl: cannot set up a handle");
		e = -ENOMEM;
		goto out_curl;
	}
	*out = c;
	return 0;
out_curl:
	curl_easy_cleanup(c->h);
	curl_slist_free_all(c->hdrs);
	curl_global_cleanup();
out_free:
	if (e == -ENOMEM && errlen && !err[0])
		snprintf(err, errlen, "out of memory");
	free(c->ca_file);
	free(c->cert_file);
	free(c->key_file);
	free(c);
	return e;
}

void us_etcd_close(struct us_etcd *c)
{
	if (!c)
		return;
	curl_easy_cleanup(c->h);
	curl_slist_free_all(c->hdrs);
	curl_global_cleanup();
	free(c->answer.p);
	free(c->ca_file);
	free(c->cert_file);
	free(c->key_file);
	free(c);
}

/* ---- one call ------------------------------------------------------------------- */

enum {
	CALL_READ = 1,      /* safe to send again: retried on the next endpoint */
};

/* whether h talks TLS and had no byte of answer: a reset then may be a
 * refused certificate */
static bool errbuf_https_hint(CURL *h)
{
	char *url = NULL;
	curl_off_t got = 0;

	curl_easy_getinfo(h, CURLINFO_EFFECTIVE_URL, &url);
	curl_easy_getinfo(h, CURLINFO_SIZE_DOWNLOAD_T, &got);
	return url && !strncmp(url, "https:", 6) && got == 0;
}

/* What libcurl said went wrong, and the system's reason when it has one
 * ("Couldn't connect to server (Connection refused)"); a TLS failure says
 * so. */
static const char *curl_why(CURL *h, CURLcode rc, const char *errbuf, int err, char *out,
			    size_t len)
{
	const char *what = errbuf[0] ? errbuf : curl_easy_strerror(rc);
	long os = 0;

	curl_easy_getinfo(h, CURLINFO_OS_ERRNO, &os);
	if (err == -EPROTO && (strstr(what, "ZERO_RETURN") || strstr(what, "unexpected eof")))
		/* the member closed TLS mid-handshake instead of sending its
		 * alert (TLS 1.3 lets the client's write see either) */
		snprintf(out, len, "TLS: %s (the member closed the connection: it refuses this "
			 "client's certificate, or its lack of one)", what);
	else if (err == -EPROTO)
		snprintf(out, len, "TLS: %s", what);
	else if ((err == -ECONNRESET || err == -EPIPE) && !errbuf_https_hint(h))
		snprintf(out, len, "%s (%s)", what, strerror(-err));
	else if (err == -ECONNRESET || err == -EPIPE)
		snprintf(out, len, "%s (%s; an https member that refuses this client's "
			 "certificate, or its lack of one, closes the connection so)", what,
			 strerror(-err));
	else if (os > 0 && !strstr(what, strerror((int)os)))
		snprintf(out, len, "%s (%s)", what, strerror((int)os));
	else
		snprintf(out, len, "%s", what);
	return out;
}

/* An answer that is not 200: etcd's refusal, explained. */
static int refusal(struct us_etcd *c, size_t i, const char *path, long status, json_object *j)
{
	json_object *e = j_get(j, "error");
	const char *msg = j_get(j, "message") ? json_object_get_string(j_get(j, "message")) : NULL;
	int64_t code = 0;

	if (!msg && e && json_object_is_type(e, json_type_string))
		msg = json_object_get_string(e);
	if (!msg || j_get_i64(j, "code", &code) || !code) {
		/* not the gateway's error (a proxy, another server, a path it lacks) */
		return seterr(c, status == 404 ? -ENOSYS : -EPROTO,
			      "etcd %s%s: HTTP %ld: %.120s", c->ep[i], path, status,
			      c->answer.len ? c->answer.p : "(no body)");
	}
	return seterr(c, grpc_errno(code), "etcd %s%s: %s (HTTP %ld, gRPC code %" PRId64 ")",
		      c->ep[i], path, msg, status, code);
}

/* The first JSON value of text; a streaming answer's first message. */
static json_object *parse_first(const char *text, size_t len)
{
	json_tokener *tok = json_tokener_new();
	json_object *j;

	if (!tok)
		return NULL;
	j = json_tokener_parse_ex(tok, text, (int)len);
	if (json_tokener_get_error(tok) != json_tokener_success) {
		json_object_put(j);
		j = NULL;
	}
	json_tokener_free(tok);
	return j;
}

/*
 * POST req to path on the endpoints in turn (see etcd.h): 0 and the
 * answer's JSON object in *out (the caller puts it), or -errno with the
 * reason in c->err.
 */
static int call(struct us_etcd *c, const char *path, json_object *req, int flags,
		json_object **out)
{
	const char *body = json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN);
	long long deadline = now_ms() + c->timeout_ms;
	char tried[ETCD_ERR_MAX / 2];
	size_t tl = 0;
	int err = -ETIMEDOUT;

	*out = NULL;
	tried[0] = '\0';
	if (!body)
		return seterr(c, -ENOMEM, "etcd %s: out of memory", path);
	for (size_t k = 0, first = c->cur; k < c->nep; k++) {
		size_t i = (first + k) % c->nep;
		long long left = deadline - now_ms();
		char url[ETCD_URL_MAX + 64];
		curl_off_t pre = 0;
		long status = 0;
		CURLcode rc;
		json_object *j;

		if (left <= 0)
			break;
		/* a read leaves time for the endpoints after this one: a member
		 * that accepts connections but does not answer gets its share */
		if (flags & CALL_READ)
			left /= (long long)(c->nep - k);
		snprintf(url, sizeof(url), "%s%s", c->ep[i], path);
		c->answer.len = 0;
		c->answer_big = false;
		c->curlerr[0] = '\0';
		curl_easy_setopt(c->h, CURLOPT_URL, url);
		curl_easy_setopt(c->h, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c->h, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
		curl_easy_setopt(c->h, CURLOPT_TIMEOUT_MS, (long)left);
		curl_easy_setopt(c->h, CURLOPT_CONNECTTIMEOUT_MS,
				 (long)(left < c->connect_ms ? left : c->connect_ms));
		rc = curl_easy_perform(c->h);
		if (rc != CURLE_OK) {
			char why[CURL_ERROR_SIZE + 64];

			err = curl_errno(c->h, rc);
			curl_why(c->h, rc, c->curlerr, err, why, sizeof(why));
			if (rc == CURLE_WRITE_ERROR && c->answer_big)
				return seterr(c, -EMSGSIZE, "etcd %s: the answer is larger "
					      "than %u MiB", url, ETCD_ANSWER_MAX >> 20);
			curl_easy_getinfo(c->h, CURLINFO_PRETRANSFER_TIME_T, &pre);
			c->cur = (i + 1) % c->nep;
			/* a TLS refusal (a client certificate refused after a TLS
			 * 1.3 handshake, when the request is on its way) is before
			 * etcd reads the request */
			if (!(flags & CALL_READ) && pre > 0 && err != -EPROTO)
				return seterr(c, err, "etcd %s: %s; the request had been sent: "
					      "it may or may not have been applied", url, why);
			if (tl < sizeof(tried))
				tl += snprintf(tried + tl, sizeof(tried) - tl, "%s%s: %s",
					       tl ? "; " : "", c->ep[i], why);
			continue;
		}
		curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &status);
		j = parse_first(c->answer.p ? c->answer.p : "", c->answer.len);
		if (status == 200 && j && json_object_is_type(j, json_type_object)) {
			c->cur = i;
			c->err[0] = '\0';
			*out = j;
			return 0;
		}
		if (status == 200)
			err = seterr(c, -EPROTO, "etcd %s: the answer is not a JSON object: %.120s",
				     url, c->answer.len ? c->answer.p : "(no body)");
		else
			err = refusal(c, i, path, status, j);
		json_object_put(j);
		if (err == -EAGAIN) {
			/* that member cannot serve (no leader, stopping): another
			 * may; a write is not repeated ("request timed out" is
			 * Unavailable too, and may have been applied), the next
			 * call starts elsewhere */
			c->cur = (i + 1) % c->nep;
			if (!(flags & CALL_READ))
				return err;
			if (tl < sizeof(tried))
				tl += snprintf(tried + tl, sizeof(tried) - tl, "%s%s",
					       tl ? "; " : "", c->err);
			continue;
		}
		c->cur = i;
		return err;
	}
	return seterr(c, err, "etcd %s: no endpoint answered in %ld ms: %s", path, c->timeout_ms,
		      tl ? tried : "no time left to try one");
}

/* the answer's field was not what the gateway sends */
static int bad_answer(struct us_etcd *c, int err, const char *path, const char *what)
{
	if (err == -ENOMEM)
		return seterr(c, err, "etcd %s: out of memory", path);
	return seterr(c, -EPROTO, "etcd %s%s: the answer's %s is not what etcd sends",
		      c->ep[c->cur], path, what);
}

static int check_key(struct us_etcd *c, const char *what, const char *key)
{
	if (!key || !*key)
		return seterr(c, -EINVAL, "etcd: %s: a key is needed (empty)", what);
	if (strlen(key) >= US_ETCD_KEY_MAX * 8)
		return seterr(c, -EINVAL, "etcd: %s: key longer than %d bytes", what,
			      US_ETCD_KEY_MAX * 8);
	return 0;
}

/* The end of the range of keys under prefix: the prefix with its last byte
 * that is not 0xff incremented and what follows dropped; "\0" (every key
 * from prefix on) if there is none. */
static size_t prefix_end(const char *prefix, size_t n, char *end)
{
	memcpy(end, prefix, n);
	while (n > 0) {
		if ((unsigned char)end[n - 1] != 0xff) {
			end[n - 1]++;
			return n;
		}
		n--;
	}
	end[0] = '\0';
	return 1;
}

/* key and range_end fields of everything under prefix ("" : every key) */
static void add_prefix(json_object *o, const char *prefix, bool *nomem)
{
	size_t n = strlen(prefix);
	char *end = malloc(n + 1);

	if (!end) {
		*nomem = true;
		return;
	}
	if (!n) {
		j_add(o, "key", j_b64("", 1), nomem);
		j_add(o, "range_end", j_b64("", 1), nomem);
	} else {
		size_t en = prefix_end(prefix, n, end);

		j_add(o, "key", j_b64(prefix, n), nomem);
		j_add(o, "range_end", j_b64(end, en), nomem);
	}
	free(end);
}

/* ---- keys ----------------------------------------------------------------------- */

int us_etcd_get(struct us_etcd *c, const char *key, struct us_etcd_kv *out, int64_t *revision)
{
	json_object *req, *ans, *kvs;
	const char *what = "kvs";
	bool nomem = false;
	int err;

	memset(out, 0, sizeof(*out));
	if ((err = check_key(c, "get", key)))
		return err;
	req = json_object_new_object();
	if (!req)
		return seterr(c, -ENOMEM, "etcd get: out of memory");
	j_add(req, "key", j_b64(key, strlen(key)), &nomem);
	err = nomem ? seterr(c, -ENOMEM, "etcd get: out of memory")
		    : call(c, "/v3/kv/range", req, CALL_READ, &ans);
	json_object_put(req);
	if (err)
		return err;
	if (revision)
		*revision = header_revision(ans);
	kvs = j_get(ans, "kvs");
	if (!kvs || !json_object_array_length(kvs))
		err = seterr(c, -ENOENT, "etcd: key \"%s\" does not exist", key);
	else if (!json_object_is_type(kvs, json_type_array) ||
		 (err = parse_kv(json_object_array_get_idx(kvs, 0), out, &what)))
		err = bad_answer(c, err ? err : -EPROTO, "/v3/kv/range", what);
	json_object_put(ans);
	return err;
}

/* the kvs of a range answer into out */
static int parse_kvs(struct us_etcd *c, json_object *ans, const char *path, struct us_etcd_kvs *out)
{
	json_object *kvs = j_get(ans, "kvs");
	const char *what = "kvs";
	size_t n;
	int err;

	if (!kvs)
		return 0;
	if (!json_object_is_type(kvs, json_type_array))
		return bad_answer(c, -EPROTO, path, what);
	n = json_object_array_length(kvs);
	out->kv = calloc(n ? n : 1, sizeof(*out->kv));
	if (!out->kv)
		return seterr(c, -ENOMEM, "etcd range: out of memory");
	for (size_t i = 0; i < n; i++) {
		if ((err = parse_kv(json_object_array_get_idx(kvs, i), &out->kv[i], &what))) {
			us_etcd_kvs_free(out);
			return bad_answer(c, err, path, what);
		}
		out->n++;
	}
	return 0;
}

/* A range request's revision and limit added, sent, and its keys read into
 * out; req is consumed. */
static int range_send(struct us_etcd *c, json_object *req, int64_t revision, long limit,
		      bool nomem, struct us_etcd_kvs *out)
{
	json_object *ans;
	int err;

	if (revision)
		j_add(req, "revision", j_i64(revision), &nomem);
	if (limit)
		j_add(req, "limit", j_i64(limit), &nomem);
	err = nomem ? seterr(c, -ENOMEM, "etcd range: out of memory")
		    : call(c, "/v3/kv/range", req, CALL_READ, &ans);
	json_object_put(req);
	if (err)
		return err;
	out->revision = revision ? revision : header_revision(ans);
	out->more = j_get_bool(ans, "more");
	err = parse_kvs(c, ans, "/v3/kv/range", out);
	json_object_put(ans);
	return err;
}

int us_etcd_range(struct us_etcd *c, const char *prefix, int64_t revision, long limit,
		  struct us_etcd_kvs *out)
{
	json_object *req;
	bool nomem = false;

	memset(out, 0, sizeof(*out));
	if (!prefix || revision < 0 || limit < 0)
		return seterr(c, -EINVAL, "etcd range: %s", !prefix ? "no prefix" :
			      revision < 0 ? "negative revision" : "negative limit");
	req = json_object_new_object();
	if (!req)
		return seterr(c, -ENOMEM, "etcd range: out of memory");
	add_prefix(req, prefix, &nomem);
	return range_send(c, req, revision, limit, nomem, out);
}

int us_etcd_range_from(struct us_etcd *c, const char *prefix, const char *from, int64_t revision,
		       long limit, struct us_etcd_kvs *out)
{
	json_object *req;
	bool nomem = false;
	size_t n;
	char *end;

	memset(out, 0, sizeof(*out));
	if (!prefix || !*prefix || !from || strncmp(from, prefix, strlen(prefix)) || revision < 0 ||
	    limit < 0)
		return seterr(c, -EINVAL, "etcd range: %s",
			      !prefix || !*prefix ? "no prefix" :
			      !from || strncmp(from, prefix, strlen(prefix)) ?
			      "the first key is not under the prefix" :
			      revision < 0 ? "negative revision" : "negative limit");
	n = strlen(prefix);
	end = malloc(n + 1);
	req = json_object_new_object();
	if (!req || !end) {
		free(end);
		json_object_put(req);
		return seterr(c, -ENOMEM, "etcd range: out of memory");
	}
	j_add(req, "key", j_b64(from, strlen(from)), &nomem);
	n = prefix_end(prefix, n, end);
	j_add(req, "range_end", j_b64(end, n), &nomem);
	free(end);
	return range_send(c, req, revision, limit, nomem, out);
}

int us_etcd_put(struct us_etcd *c, const char *key, const void *value, size_t len, int64_t lease,
		int64_t *revision)
{
	json_object *req, *ans;
	bool nomem = false;
	int err;

	if ((err = check_key(c, "put", key)))
		return err;
	if (len && !value)
		return seterr(c, -EINVAL, "etcd put %s: no value", key);
	req = json_object_new_object();
	if (!req)
		return seterr(c, -ENOMEM, "etcd put: out of memory");
	j_add(req, "key", j_b64(key, strlen(key)), &nomem);
	j_add(req, "value", j_b64(value ? value : "", len), &nomem);
	if (lease)
		j_add(req, "lease", j_i64(lease), &nomem);
	err = nomem ? seterr(c, -ENOMEM, "etcd put: out of memory")
		    : call(c, "/v3/kv/put", req, 0, &ans);
	json_object_put(req);
	if (err)
		return err;
	if (revision)
		*revision = header_revision(ans);
	json_object_put(ans);
	return 0;
}

int us_etcd_delete(struct us_etcd *c, const char *key, bool prefix, int64_t *deleted,
		   int64_t *revision)
{
	json_object *req, *ans;
	bool nomem = false;
	int64_t n = 0;
	int err;

	if (!key)
		return seterr(c, -EINVAL, "etcd delete: no key");
	if (!prefix && (err = check_key(c, "delete", key)))
		return err;
	req = json_object_new_object();
	if (!req)
		return seterr(c, -ENOMEM, "etcd delete: out of memory");
	if (prefix)
		add_prefix(req, key, &nomem);
	else
		j_add(req, "key", j_b64(key, strlen(key)), &nomem);
	err = nomem ? seterr(c, -ENOMEM, "etcd delete: out of memory")
		    : call(c, "/v3/kv/deleterange", req, 0, &ans);
	json_object_put(req);
	if (err)
		return err;
	if (j_get_i64(ans, "deleted", &n))
		err = bad_answer(c, -EPROTO, "/v3/kv/deleterange", "deleted");
	if (deleted)
		*deleted = n;
	if (revision)
		*revision = header_revision(ans);
	json_object_put(ans);
	return err;
}

/* ---- transactions --------------------------------------------------------------- */

static json_object *txn_cmp(const struct us_etcd_cmp *cmp, bool *nomem)
{
	static const char *const targets[] = { "MOD", "CREATE", "VERSION" };
	static const char *const fields[] = { "mod_revision", "create_revision", "version" };
	static const char *const results[] = { "EQUAL", "NOT_EQUAL", "LESS", "GREATER" };
	json_object *o = json_object_new_object();

	if (!o) {
		*nomem = true;
		return NULL;
	}
	j_add(o, "key", j_b64(cmp->key, strlen(cmp->key)), nomem);
	j_add(o, "target", j_str(targets[cmp->target]), nomem);
	j_add(o, "result", j_str(results[cmp->result]), nomem);
	j_add(o, fields[cmp->target], j_i64(cmp->rev), nomem);
	return o;
}

static json_object *txn_op(const struct us_etcd_op *op, bool *nomem)
{
	json_object *o = json_object_new_object(), *r = json_object_new_object();

	if (!o || !r) {
		json_object_put(o);
		json_object_put(r);
		*nomem = true;
		return NULL;
	}
	switch (op->type) {
	case US_ETCD_OP_PUT:
		j_add(r, "key", j_b64(op->key, strlen(op->key)), nomem);
		j_add(r, "value", j_b64(op->value ? op->value : "", op->len), nomem);
		if (op->lease)
			j_add(r, "lease", j_i64(op->lease), nomem);
		j_add(o, "request_put", r, nomem);
		break;
	case US_ETCD_OP_DELETE:
		j_add(r, "key", j_b64(op->key, strlen(op->key)), nomem);
		j_add(o, "request_delete_range", r, nomem);
		break;
	case US_ETCD_OP_DELETE_PREFIX:
		add_prefix(r, op->key, nomem);
		j_add(o, "request_delete_range", r, nomem);
		break;
	}
	return o;
}

/* a range of one key (keys_only: without its value) as a txn operation */
static json_object *txn_range(const char *key, bool keys_only, bool *nomem)
{
	json_object *o = json_object_new_object(), *r = json_object_new_object();

	if (!o || !r) {
		json_object_put(o);
		json_object_put(r);
		*nomem = true;
		return NULL;
	}
	j_add(r, "key", j_b64(key, strlen(key)), nomem);
	if (keys_only)
		j_add(r, "keys_only", json_object_new_boolean(1), nomem);
	j_add(o, "request_range", r, nomem);
	return o;
}

/* the mod_revision of the one key a failure branch's range read */
static int txn_range_mod(json_object *resp, int64_t *mod)
{
	json_object *kvs = j_get(j_get(resp, "response_range"), "kvs");

	*mod = 0;
	if (!kvs || !json_object_array_length(kvs))
		return 0;
	return j_get_i64(json_object_array_get_idx(kvs, 0), "mod_revision", mod);
}

int us_etcd_txn(struct us_etcd *c, const struct us_etcd_cmp *cmp, size_t ncmp,
		const struct us_etcd_op *ops, size_t nops, struct us_etcd_txn_res *res,
		int64_t *cur_mod)
{
	json_object *req, *acmp, *asucc, *afail = NULL, *ans, *resps;
	bool nomem = false;
	int err = 0;

	memset(res, 0, sizeof(*res));
	if ((ncmp && !cmp) || (nops && !ops))
		return seterr(c, -EINVAL, "etcd txn: %s",
			      ncmp && !cmp ? "no conditions" : "no operations");
	for (size_t i = 0; i < ncmp && !err; i++) {
		if ((err = check_key(c, "txn condition", cmp[i].key)))
			return err;
		if ((unsigned)cmp[i].target > US_ETCD_VERSION ||
		    (unsigned)cmp[i].result > US_ETCD_GT)
			return seterr(c, -EINVAL, "etcd txn: condition %zu on \"%s\": target %d "
				      "or result %d unknown", i, cmp[i].key, cmp[i].target,
				      cmp[i].result);
	}
	for (size_t i = 0; i < nops; i++) {
		if ((unsigned)ops[i].type > US_ETCD_OP_DELETE_PREFIX)
			return seterr(c, -EINVAL, "etcd txn: operation %zu: type %d unknown", i,
				      ops[i].type);
		if (ops[i].type == US_ETCD_OP_DELETE_PREFIX ? !ops[i].key
		    : (err = check_key(c, "txn operation", ops[i].key)))
			return err ? err : seterr(c, -EINVAL, "etcd txn: operation %zu: no key", i);
		if (ops[i].type == US_ETCD_OP_PUT && ops[i].len && !ops[i].value)
			return seterr(c, -EINVAL, "etcd txn: put %s: no value", ops[i].key);
	}
	req = json_object_new_object();
	acmp = json_object_new_array();
	asucc = json_object_new_array();
	if (cur_mod && ncmp)
		afail = json_object_new_array();
	if (!req || !acmp || !asucc || (cur_mod && ncmp && !afail)) {
		json_object_put(req);
		json_object_put(acmp);
		json_object_put(asucc);
		json_object_put(afail);
		return seterr(c, -ENOMEM, "etcd txn: out of memory");
	}
	for (size_t i = 0; i < ncmp; i++) {
		json_object *o = txn_cmp(&cmp[i], &nomem);

		if (o)
			json_object_array_add(acmp, o);
		if (afail && (o = txn_range(cmp[i].key, true, &nomem)))
			json_object_array_add(afail, o);
	}
	for (size_t i = 0; i < nops; i++) {
		json_object *o = txn_op(&ops[i], &nomem);

		if (o)
			json_object_array_add(asucc, o);
	}
	j_add(req, "compare", acmp, &nomem);
	j_add(req, "success", asucc, &nomem);
	if (afail)
		j_add(req, "failure", afail, &nomem);
	err = nomem ? seterr(c, -ENOMEM, "etcd txn: out of memory")
		    : call(c, "/v3/kv/txn", req, nops ? 0 : CALL_READ, &ans);
	json_object_put(req);
	if (err)
		return err;
	res->succeeded = j_get_bool(ans, "succeeded");
	res->revision = header_revision(ans);
	if (!res->succeeded && cur_mod) {
		resps = j_get(ans, "responses");
		if (!resps || !json_object_is_type(resps, json_type_array) ||
		    json_object_array_length(resps) != ncmp)
			err = bad_answer(c, -EPROTO, "/v3/kv/txn", "responses");
		for (size_t i = 0; !err && i < ncmp; i++)
			if (txn_range_mod(json_object_array_get_idx(resps, i), &cur_mod[i]))
				err = bad_answer(c, -EPROTO, "/v3/kv/txn", "response_range");
	}
	json_object_put(ans);
	return err;
}

/* ---- leases --------------------------------------------------------------------- */

static int lease_call(struct us_etcd *c, const char *path, int64_t id, int64_t ttl, int flags,
		      json_object **ans)
{
	json_object *req = json_object_new_object();
	bool nomem = false;
	int err;

	if (!req)
		return seterr(c, -ENOMEM, "etcd %s: out of memory", path);
	if (ttl)
		j_add(req, "TTL", j_i64(ttl), &nomem);
	j_add(req, "ID", j_i64(id), &nomem);
	err = nomem ? seterr(c, -ENOMEM, "etcd %s: out of memory", path)
		    : call(c, path, req, flags, ans);
	json_object_put(req);
	return err;
}

int us_etcd_lease_grant(struct us_etcd *c, long ttl_s, int64_t *id, long *granted)
{
	json_object *ans, *e;
	int64_t v, t;
	int err;

	if (ttl_s <= 0)
		return seterr(c, -EINVAL, "etcd lease: TTL %ld s: must be at least 1", ttl_s);
	if ((err = lease_call(c, "/v3/lease/grant", 0, ttl_s, 0, &ans)))
		return err;
	e = j_get(ans, "error");
	if (e && json_object_get_string_len(e))
		err = seterr(c, -EIO, "etcd %s/v3/lease/grant: %s", c->ep[c->cur],
			     json_object_get_string(e));
	else if (j_get_i64(ans, "ID", &v) || j_get_i64(ans, "TTL", &t) || v <= 0 || t <= 0)
		err = bad_answer(c, -EPROTO, "/v3/lease/grant", "ID or TTL");
	else {
		*id = v;
		if (granted)
			*granted = (long)t;
	}
	json_object_put(ans);
	return err;
}

int us_etcd_lease_keepalive(struct us_etcd *c, int64_t id, long *ttl)
{
	json_object *ans, *r;
	int64_t t;
	int err;

	if (id <= 0)
		return seterr(c, -EINVAL, "etcd lease keep-alive: lease id %" PRId64 " invalid",
			      id);
	/* a stream of one message each way; renewing twice is harmless */
	if ((err = lease_call(c, "/v3/lease/keepalive", id, 0, CALL_READ, &ans)))
		return err;
	r = j_get(ans, "result");
	if (!r) {
		json_object *e = j_get(ans, "error");

		err = seterr(c, -EIO, "etcd %s/v3/lease/keepalive: %s", c->ep[c->cur],
			     e ? json_object_get_string(e) : "no result");
	} else if (j_get_i64(r, "TTL", &t)) {
		err = bad_answer(c, -EPROTO, "/v3/lease/keepalive", "TTL");
	} else if (t <= 0) {
		/* the gateway's answer for a lease that is gone: 200, no TTL */
		err = seterr(c, -ENOENT, "etcd: lease %" PRIx64 " has expired or was revoked",
			     (uint64_t)id);
	} else if (ttl) {
		*ttl = (long)t;
	}
	json_object_put(ans);
	return err;
}

int us_etcd_lease_ttl(struct us_etcd *c, int64_t id, long *remaining)
{
	json_object *ans;
	int64_t t;
	int err;

	if (id <= 0)
		return seterr(c, -EINVAL, "etcd lease time-to-live: lease id %" PRId64
			      " invalid", id);
	if ((err = lease_call(c, "/v3/lease/timetolive", id, 0, CALL_READ, &ans)))
		return err;
	if (j_get_i64(ans, "TTL", &t))
		err = bad_answer(c, -EPROTO, "/v3/lease/timetolive", "TTL");
	else if (t < 0)
		err = seterr(c, -ENOENT, "etcd: lease %" PRIx64 " has expired or was revoked",
			     (uint64_t)id);
	else if (remaining)
		*remaining = (long)t;
	json_object_put(ans);
	return err;
}

int us_etcd_lease_revoke(struct us_etcd *c, int64_t id)
{
	json_object *ans;
	int err;

	if (id <= 0)
		return seterr(c, -EINVAL, "etcd lease revoke: lease id %" PRId64 " invalid", id);
	/* revoking twice is harmless: -ENOENT the second time */
	err = lease_call(c, "/v3/lease/revoke", id, 0, CALL_READ, &ans);
	if (err == -ENOENT)
		return seterr(c, -ENOENT, "etcd: lease %" PRIx64 " has expired or was revoked",
			      (uint64_t)id);
	if (!err)
		json_object_put(ans);
	return err;
}

/* ---- maintenance ---------------------------------------------------------------- */

int us_etcd_status(struct us_etcd *c, struct us_etcd_status *st)
{
	json_object *req = json_object_new_object(), *ans;
	int err;

	memset(st, 0, sizeof(*st));
	if (!req)
		return seterr(c, -ENOMEM, "etcd status: out of memory");
	err = call(c, "/v3/maintenance/status", req, CALL_READ, &ans);
	json_object_put(req);
	if (err)
		return err;
	snprintf(st->version, sizeof(st->version), "%s",
		 j_get(ans, "version") ? json_object_get_string(j_get(ans, "version")) : "");
	st->revision = header_revision(ans);
	if (j_get_i64(ans, "dbSize", &st->db_size) ||
	    j_get_i64(ans, "dbSizeInUse", &st->db_size_in_use) ||
	    j_get_i64(ans, "raftIndex", &st->raft_index) ||
	    j_get_u64(ans, "leader", &st->leader) ||
	    j_get_u64(j_get(ans, "header"), "member_id", &st->member))
		err = bad_answer(c, -EPROTO, "/v3/maintenance/status", "numbers");
	json_object_put(ans);
	return err;
}

int us_etcd_compact(struct us_etcd *c, int64_t revision, bool physical)
{
	json_object *req = json_object_new_object(), *ans;
	bool nomem = false;
	int err;

	if (!req)
		return seterr(c, -ENOMEM, "etcd compact: out of memory");
	j_add(req, "revision", j_i64(revision), &nomem);
	if (physical)
		j_add(req, "physical", json_object_new_boolean(1), &nomem);
	err = nomem ? seterr(c, -ENOMEM, "etcd compact: out of memory")
		    : call(c, "/v3/kv/compaction", req, CALL_READ, &ans);
	json_object_put(req);
	if (!err)
		json_object_put(ans);
	return err;
}

/* ---- watches -------------------------------------------------------------------- */

struct us_etcd_watch {
	struct us_etcd *c;
	char prefix_desc[128];      /* for messages */
	char *create;               /* the create request, a line */
	int64_t start;
	CURLM *m;
	CURL *h;
	size_t ep;                  /* the endpoint streamed from */
	int epfd;                   /* what us_etcd_watch_fd() gives */
	int tfd;                    /* libcurl's timer */
	int hbfd;                   /* the heartbeat's timer */
	int evfd;                   /* work left without I/O (messages already read) */
	struct buf in;              /* bytes received, from the message being parsed on */
	size_t fed;                 /* bytes of in fed to the tokener */
	json_tokener *tok;
	CURL *ping;                 /* the check under way, or NULL */
	struct buf ping_answer;
	char ping_err[CURL_ERROR_SIZE];
	char *ping_req;             /* its request */
	bool created;
	bool done;                  /* the transfer ended */
	bool transport;             /* it ended for a transport's reason, not etcd's word */
	CURLcode done_rc;
	bool big;                   /* a message passed ETCD_ANSWER_MAX */
	long long last_rx_at;       /* when the stream last said something */
	int64_t next_rev, compacted;
	int end;                    /* 0 while it runs */
	char curlerr[CURL_ERROR_SIZE];
	char err[ETCD_ERR_MAX];
};

static int wend(struct us_etcd_watch *w, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int wend(struct us_etcd_watch *w, int err, const char *fmt, ...)
{
	va_list ap;

	if (w->end)
		return w->end;
	va_start(ap, fmt);
	vsnprintf(w->err, sizeof(w->err), fmt, ap);
	va_end(ap);
	w->end = err;
	return err;
}

int us_etcd_watch_fd(const struct us_etcd_watch *w)
{
	return w->epfd;
}

int64_t us_etcd_watch_revision(const struct us_etcd_watch *w)
{
	return w->next_rev;
}

int64_t us_etcd_watch_compacted(const struct us_etcd_watch *w)
{
	return w->compacted;
}

const char *us_etcd_watch_error(const struct us_etcd_watch *w)
{
	return w->err;
}

const char *us_etcd_watch_endpoint(const struct us_etcd_watch *w)
{
	return w->c->ep[w->ep];
}

static int w_socket(CURL *e, curl_socket_t s, int what, void *userp, void *socketp)
{
	struct us_etcd_watch *w = userp;
	struct epoll_event ev = { .data.fd = s };

	(void)e;
	(void)socketp;
	if (what == CURL_POLL_REMOVE) {
		epoll_ctl(w->epfd, EPOLL_CTL_DEL, s, NULL);
		return 0;
	}
	ev.events = (what & CURL_POLL_IN ? EPOLLIN : 0) | (what & CURL_POLL_OUT ? EPOLLOUT : 0);
	if (epoll_ctl(w->epfd, EPOLL_CTL_MOD, s, &ev) && errno == ENOENT)
		epoll_ctl(w->epfd, EPOLL_CTL_ADD, s, &ev);
	return 0;
}

static int w_timer(CURLM *m, long ms, void *userp)
{
	struct us_etcd_watch *w = userp;
	struct itimerspec its = { { 0, 0 }, { 0, 0 } };

	(void)m;
	if (ms == 0) {
		its.it_value.tv_nsec = 1;
	} else if (ms > 0) {
		its.it_value.tv_sec = ms / 1000;
		its.it_value.tv_nsec = (ms % 1000) * 1000000L;
	}
	timerfd_settime(w->tfd, 0, &its, NULL);
	return 0;
}

static size_t w_write(char *data, size_t size, size_t n, void *userp)
{
	struct us_etcd_watch *w = userp;

	if (w->in.len + size * n > ETCD_ANSWER_MAX) {
		w->big = true;
		return 0;
	}
	if (buf_add(&w->in, data, size * n))
		return 0;
	w->last_rx_at = now_ms();
	return size * n;
}

static size_t w_ping_write(char *data, size_t size, size_t n, void *userp)
{
	struct us_etcd_watch *w = userp;

	if (w->ping_answer.len + size * n > 65536 || buf_add(&w->ping_answer, data, size * n))
		return 0;
	return size * n;
}

static void w_ping_stop(struct us_etcd_watch *w)
{
	if (w->ping) {
		curl_multi_remove_handle(w->m, w->ping);
		curl_easy_cleanup(w->ping);
		w->ping = NULL;
	}
	w->ping_answer.len = 0;
}

static void w_stop(struct us_etcd_watch *w)
{
	if (w->h) {
		curl_multi_remove_handle(w->m, w->h);
		curl_easy_cleanup(w->h);
		w->h = NULL;
	}
	w_ping_stop(w);
	w->in.len = w->fed = 0;
	w->created = w->done = w->big = w->transport = false;
	json_tokener_reset(w->tok);
}

/* start the stream on endpoint i */
static int w_start(struct us_etcd_watch *w, size_t i)
{
	struct us_etcd *c = w->c;
	char url[ETCD_URL_MAX + 16];
	CURL *h = curl_easy_init();

	if (!h)
		return -ENOMEM;
	snprintf(url, sizeof(url), "%s/v3/watch", c->ep[i]);
	w->curlerr[0] = '\0';
	if (handle_setup(c, h, w->curlerr) ||
	    curl_easy_setopt(h, CURLOPT_URL, url) ||
	    curl_easy_setopt(h, CURLOPT_POSTFIELDS, w->create) ||
	    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, w_write) ||
	    curl_easy_setopt(h, CURLOPT_WRITEDATA, w)) {
		curl_easy_cleanup(h);
		return -ENOMEM;
	}
	w->h = h;
	w->ep = i;
	w->last_rx_at = now_ms();
	if (curl_multi_add_handle(w->m, h)) {
		w->h = NULL;
		curl_easy_cleanup(h);
		return -ENOMEM;
	}
	return 0;
}

/* The heartbeat: after a silence of the stream, check that its member
 * still serves (a linearizable read of one key, on a connection of its
 * own, without blocking); a check that fails ends the watch. */
static void w_heartbeat(struct us_etcd_watch *w)
{
	struct us_etcd *c = w->c;
	char url[ETCD_URL_MAX + 16];
	CURL *h;

	if (w->end || !w->created || w->done || w->ping ||
	    now_ms() - w->last_rx_at < c->heartbeat_ms)
		return;
	h = curl_easy_init();
	snprintf(url, sizeof(url), "%s/v3/kv/range", c->ep[w->ep]);
	w->ping_err[0] = '\0';
	w->ping_answer.len = 0;
	if (!h || handle_setup(c, h, w->ping_err) ||
	    curl_easy_setopt(h, CURLOPT_URL, url) ||
	    curl_easy_setopt(h, CURLOPT_POSTFIELDS, w->ping_req) ||
	    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, c->timeout_ms) ||
	    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, w_ping_write) ||
	    curl_easy_setopt(h, CURLOPT_WRITEDATA, w) ||
	    curl_multi_add_handle(w->m, h)) {
		curl_easy_cleanup(h);
		wend(w, -ENOMEM, "etcd watch: out of memory");
		return;
	}
	w->ping = h;
}

/* the check ended */
static void w_ping_done(struct us_etcd_watch *w, CURLcode rc)
{
	long status = 0;

	curl_easy_getinfo(w->ping, CURLINFO_RESPONSE_CODE, &status);
	if (rc != CURLE_OK) {
		int err = curl_errno(w->ping, rc);
		char why[CURL_ERROR_SIZE + 64];

		wend(w, err, "etcd %s: the watch of %s: its member did not answer a check after "
		     "%ld ms of silence: %s", w->c->ep[w->ep], w->prefix_desc, w->c->heartbeat_ms,
		     curl_why(w->ping, rc, w->ping_err, err, why, sizeof(why)));
	}
	else if (status != 200)
		wend(w, status == 503 ? -EAGAIN : -EPROTO, "etcd %s: the watch of %s: its member "
		     "refused a check (HTTP %ld): %.200s", w->c->ep[w->ep], w->prefix_desc, status,
		     w->ping_answer.len ? w->ping_answer.p : "(no body)");
	else
		w->last_rx_at = now_ms();
	w_ping_stop(w);
}

/* one round of I/O: whatever is ready, waiting at most wait_ms */
static void w_io(struct us_etcd_watch *w, int wait_ms)
{
	struct epoll_event ev[16];
	int n = epoll_wait(w->epfd, ev, 16, wait_ms), running;
	uint64_t u;
	CURLMsg *msg;

	for (int i = 0; i < n; i++) {
		int fd = ev[i].data.fd;

		if (fd == w->tfd) {
			if (read(fd, &u, sizeof(u)) < 0 && errno != EAGAIN)
				continue;
			curl_multi_socket_action(w->m, CURL_SOCKET_TIMEOUT, 0, &running);
		} else if (fd == w->hbfd) {
			if (read(fd, &u, sizeof(u)) < 0 && errno != EAGAIN)
				continue;
			w_heartbeat(w);
		} else if (fd == w->evfd) {
			if (read(fd, &u, sizeof(u)) < 0 && errno != EAGAIN)
				continue;
		} else {
			int mask = (ev[i].events & EPOLLIN ? CURL_CSELECT_IN : 0) |
				   (ev[i].events & EPOLLOUT ? CURL_CSELECT_OUT : 0) |
				   (ev[i].events & (EPOLLERR | EPOLLHUP) ? CURL_CSELECT_ERR : 0);

			curl_multi_socket_action(w->m, fd, mask, &running);
		}
	}
	while ((msg = curl_multi_info_read(w->m, &running))) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		if (msg->easy_handle == w->h) {
			w->done = true;
			w->done_rc = msg->data.result;
		} else if (msg->easy_handle == w->ping) {
			w_ping_done(w, msg->data.result);
		}
	}
}

/* a stream error message: {"error":{"grpc_code","message"...}} or the
 * non-streaming {"error","code","message"} of a refused request */
static int w_error(struct us_etcd_watch *w, json_object *e, json_object *j)
{
	int64_t code = 0;
	const char *msg;

	if (json_object_is_type(e, json_type_object)) {
		j_get_i64(e, "grpc_code", &code);
		msg = j_get(e, "message") ? json_object_get_string(j_get(e, "message")) : "";
	} else {
		j_get_i64(j, "code", &code);
		msg = json_object_get_string(e);
	}
	return wend(w, code ? grpc_errno(code) : -EIO, "etcd %s: the watch of %s failed: %s "
		    "(gRPC code %" PRId64 ")", w->c->ep[w->ep], w->prefix_desc, msg, code);
}

/* One message of the stream: 0, the number of events delivered, or the
 * end of the watch. */
static int w_message(struct us_etcd_watch *w, json_object *j, us_etcd_watch_cb cb, void *ctx)
{
	json_object *r = j_get(j, "result"), *evs, *e = j_get(j, "error");
	struct us_etcd_event *ev;
	int64_t hrev = 0;
	size_t n;
	int ret;

	if (e)
		return w_error(w, e, j);
	if (!r || !json_object_is_type(r, json_type_object))
		return wend(w, -EPROTO, "etcd %s: the watch of %s: a message without a result",
			    w->c->ep[w->ep], w->prefix_desc);
	hrev = header_revision(r);
	if (j_get_bool(r, "created")) {
		w->created = true;
		if (!w->start)
			w->next_rev = hrev + 1;
	}
	if (j_get_bool(r, "canceled")) {
		json_object *why = j_get(r, "cancel_reason");

		if (j_get_i64(r, "compact_revision", &w->compacted) || w->compacted > 0)
			return wend(w, -ERANGE, "etcd %s: the watch of %s from revision %" PRId64
				    ": etcd has compacted its history up to revision %" PRId64
				    "; read the prefix again and watch from after that read",
				    w->c->ep[w->ep], w->prefix_desc, w->next_rev, w->compacted);
		return wend(w, -ECANCELED, "etcd %s: the watch of %s was cancelled: %s",
			    w->c->ep[w->ep], w->prefix_desc,
			    why ? json_object_get_string(why) : "no reason given");
	}
	evs = j_get(r, "events");
	n = evs && json_object_is_type(evs, json_type_array) ? json_object_array_length(evs) : 0;
	if (!n) {
		/* a progress report: every change up to hrev has been sent */
		if (!j_get_bool(r, "created") && hrev + 1 > w->next_rev)
			w->next_rev = hrev + 1;
		return 0;
	}
	ev = calloc(n, sizeof(*ev));
	if (!ev)
		return wend(w, -ENOMEM, "etcd watch: out of memory");
	for (size_t i = 0; i < n; i++) {
		json_object *o = json_object_array_get_idx(evs, i), *t = j_get(o, "type");
		const char *what = NULL;

		if (t && !strcmp(json_object_get_string(t), "DELETE"))
			ev[i].type = US_ETCD_EV_DELETE;
		else if (t && strcmp(json_object_get_string(t), "PUT"))
			what = "type";
		if (!what && parse_kv(j_get(o, "kv"), &ev[i].kv, &what) == 0 &&
		    ev[i].kv.mod_revision < (i ? ev[i - 1].kv.mod_revision : w->next_rev))
			what = "revision (out of order)";
		if (what) {
			for (size_t k = 0; k <= i; k++)
				us_etcd_kv_free(&ev[k].kv);
			free(ev);
			return wend(w, -EPROTO, "etcd %s: the watch of %s: an event's %s is not "
				    "what etcd sends", w->c->ep[w->ep], w->prefix_desc, what);
		}
	}
	ret = cb ? cb(ev, n, ctx) : 0;
	w->next_rev = ev[n - 1].kv.mod_revision + 1;
	for (size_t i = 0; i < n; i++)
		us_etcd_kv_free(&ev[i].kv);
	free(ev);
	if (ret)
		return wend(w, ret < 0 ? ret : -ECANCELED, "the watch of %s: its callback stopped "
			    "it at revision %" PRId64 " (%d)", w->prefix_desc, w->next_rev - 1, ret);
	return (int)n;
}

/* Parse and handle the messages received; until_created: stop after the
 * creation's (open leaves the rest for dispatch). Events delivered, or the
 * end. */
static int w_parse(struct us_etcd_watch *w, us_etcd_watch_cb cb, void *ctx, bool until_created)
{
	int total = 0;

	while (!w->end && w->fed < w->in.len && !(until_created && w->created)) {
		json_object *j = json_tokener_parse_ex(w->tok, w->in.p + w->fed,
						       (int)(w->in.len - w->fed));
		enum json_tokener_error je = json_tokener_get_error(w->tok);
		size_t used;
		int r;

		if (je == json_tokener_continue) {
			w->fed = w->in.len;
			break;
		}
		if (je != json_tokener_success || !j) {
			json_object_put(j);
			return wend(w, -EPROTO, "etcd %s: the watch of %s: the stream is not JSON: %s",
				    w->c->ep[w->ep], w->prefix_desc, json_tokener_error_desc(je));
		}
		used = json_tokener_get_parse_end(w->tok);
		json_tokener_reset(w->tok);
		/* drop the message's bytes */
		memmove(w->in.p, w->in.p + w->fed + used, w->in.len - w->fed - used);
		w->in.len -= w->fed + used;
		w->fed = 0;
		r = w_message(w, j, cb, ctx);
		json_object_put(j);
		if (r < 0)
			return r;
		total += r;
	}
	return w->end ? w->end : total;
}

/* the transfer ended: say how */
static int w_ended(struct us_etcd_watch *w)
{
	long status = 0;

	curl_easy_getinfo(w->h, CURLINFO_RESPONSE_CODE, &status);
	if (w->done_rc == CURLE_WRITE_ERROR && w->big)
		return wend(w, -EMSGSIZE, "etcd %s: the watch of %s: a message larger than %u MiB",
			    w->c->ep[w->ep], w->prefix_desc, ETCD_ANSWER_MAX >> 20);
	w->transport = true;
	if (w->done_rc != CURLE_OK) {
		int err = curl_errno(w->h, w->done_rc);
		char why[CURL_ERROR_SIZE + 64];

		curl_why(w->h, w->done_rc, w->curlerr, err, why, sizeof(why));
		if (!w->created)
			return wend(w, err, "etcd %s: the watch of %s could not start: %s",
				    w->c->ep[w->ep], w->prefix_desc, why);
		return wend(w, err == -ETIMEDOUT ? err : -ECONNRESET,
			    "etcd %s: the watch of %s: the stream broke: %s", w->c->ep[w->ep],
			    w->prefix_desc, why);
	}
	if (status != 200)
		return wend(w, -EPROTO, "etcd %s/v3/watch: HTTP %ld: %.120s", w->c->ep[w->ep],
			    status, w->in.len ? w->in.p : "(no body)");
	return wend(w, -ECONNRESET, "etcd %s: the watch of %s: etcd closed the stream",
		    w->c->ep[w->ep], w->prefix_desc);
}

void us_etcd_watch_close(struct us_etcd_watch *w)
{
	if (!w)
		return;
	if (w->m) {
		w_stop(w);
		curl_multi_cleanup(w->m);
	}
	if (w->epfd >= 0)
		close(w->epfd);
	if (w->tfd >= 0)
		close(w->tfd);
	if (w->hbfd >= 0)
		close(w->hbfd);
	if (w->evfd >= 0)
		close(w->evfd);
	if (w->tok)
		json_tokener_free(w->tok);
	free(w->in.p);
	free(w->ping_answer.p);
	free(w->ping_req);
	free(w->create);
	free(w);
}

static int w_add_fd(struct us_etcd_watch *w, int fd)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };

	return fd < 0 || epoll_ctl(w->epfd, EPOLL_CTL_ADD, fd, &ev) ? -errno : 0;
}

int us_etcd_watch_open(struct us_etcd *c, const char *prefix, int64_t start_revision,
		       struct us_etcd_watch **out)
{
	struct us_etcd_watch *w;
	json_object *req, *cr;
	bool nomem = false;
	long long deadline = now_ms() + c->timeout_ms;
	struct itimerspec hb = { { 0, 0 }, { 0, 0 } };
	char tried[ETCD_ERR_MAX / 2];
	size_t tl = 0;
	int err = -ETIMEDOUT;

	*out = NULL;
	tried[0] = '\0';
	if (!prefix || start_revision < 0)
		return seterr(c, -EINVAL, "etcd watch: %s", prefix ? "negative revision" : "no prefix");
	w = calloc(1, sizeof(*w));
	if (!w)
		return seterr(c, -ENOMEM, "etcd watch: out of memory");
	w->c = c;
	w->start = start_revision;
	w->next_rev = start_revision;
	w->epfd = w->tfd = w->hbfd = w->evfd = -1;
	snprintf(w->prefix_desc, sizeof(w->prefix_desc), "\"%.100s\"", prefix);
	w->epfd = epoll_create1(EPOLL_CLOEXEC);
	w->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	w->hbfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	w->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (w->epfd < 0 || (err = w_add_fd(w, w->tfd)) || (err = w_add_fd(w, w->hbfd)) ||
	    (err = w_add_fd(w, w->evfd))) {
		err = -errno;
		us_etcd_watch_close(w);
		return seterr(c, err, "etcd watch: %s", strerror(-err));
	}
	w->tok = json_tokener_new();
	w->m = curl_multi_init();
	req = json_object_new_object();
	cr = json_object_new_object();
	if (!w->tok || !w->m || !req || !cr) {
		json_object_put(req);
		json_object_put(cr);
		us_etcd_watch_close(w);
		return seterr(c, -ENOMEM, "etcd watch: out of memory");
	}
	curl_multi_setopt(w->m, CURLMOPT_SOCKETFUNCTION, w_socket);
	curl_multi_setopt(w->m, CURLMOPT_SOCKETDATA, w);
	curl_multi_setopt(w->m, CURLMOPT_TIMERFUNCTION, w_timer);
	curl_multi_setopt(w->m, CURLMOPT_TIMERDATA, w);
	add_prefix(cr, prefix, &nomem);
	if (start_revision)
		j_add(cr, "start_revision", j_i64(start_revision), &nomem);
	/* progress reports on a quiet prefix, as often as the member's
	 * --experimental-watch-progress-notify-interval says (10 min unless set) */
	j_add(cr, "progress_notify", json_object_new_boolean(1), &nomem);
	j_add(req, "create_request", cr, &nomem);
	if (!nomem) {
		const char *s = json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN);

		if (!s || !(w->create = strdup(s)))
			nomem = true;
	}
	json_object_put(req);
	/* the check: a linearizable read of one key (the watch's prefix, or
	 * the key "\0"): only a member that has a leader answers it */
	if (!nomem) {
		char *k = malloc(us_b64_enclen(strlen(prefix) + 1) + 1);

		if (!k || (us_b64_encode(*prefix ? prefix : "", *prefix ? strlen(prefix) : 1, k),
			   asprintf(&w->ping_req, "{\"key\":\"%s\",\"keys_only\":true,\"limit\":\"1\"}",
				    k) < 0)) {
			w->ping_req = NULL;
			nomem = true;
		}
		free(k);
	}
	if (nomem) {
		us_etcd_watch_close(w);
		return seterr(c, -ENOMEM, "etcd watch: out of memory");
	}

	for (size_t k = 0, first = c->cur; k < c->nep; k++) {
		size_t i = (first + k) % c->nep;

		if (deadline - now_ms() <= 0)
			break;
		w->end = 0;
		w->err[0] = '\0';
		if ((err = w_start(w, i))) {
			us_etcd_watch_close(w);
			return seterr(c, err, "etcd watch: out of memory");
		}
		while (!w->created && !w->end) {
			long long left = deadline - now_ms();

			if (left <= 0) {
				w->transport = true;
				wend(w, -ETIMEDOUT, "etcd %s: the watch of %s was not confirmed in %ld ms",
				     c->ep[i], w->prefix_desc, c->timeout_ms);
				break;
			}
			w_io(w, (int)(left < 100 ? left : 100));
			w_parse(w, NULL, NULL, true);
			if (!w->created && w->done)
				w_ended(w);
		}
		if (w->created && !w->end) {
			c->cur = i;
			hb.it_interval.tv_sec = c->heartbeat_ms / 1000;
			hb.it_interval.tv_nsec = (c->heartbeat_ms % 1000) * 1000000L;
			hb.it_value = hb.it_interval;
			timerfd_settime(w->hbfd, 0, &hb, NULL);
			if (w->in.len) {
				/* messages read already: make the fd readable for them */
				uint64_t one = 1;

				if (write(w->evfd, &one, sizeof(one)) < 0)
					(void)0;
			}
			c->err[0] = '\0';
			*out = w;
			return 0;
		}
		err = w->end;
		/* etcd's own refusal is the same on every member; not "cannot serve now" */
		if (!w->transport && err != -EAGAIN) {
			seterr(c, err, "%s", w->err);
			us_etcd_watch_close(w);
			return err;
		}
		if (tl < sizeof(tried))
			tl += snprintf(tried + tl, sizeof(tried) - tl, "%s%s", tl ? "; " : "", w->err);
		w_stop(w);
		c->cur = (i + 1) % c->nep;
	}
	us_etcd_watch_close(w);
	return seterr(c, err, "etcd /v3/watch: no endpoint answered in %ld ms: %s", c->timeout_ms,
		      tl ? tried : "no time left to try one");
}

int us_etcd_watch_dispatch(struct us_etcd_watch *w, us_etcd_watch_cb cb, void *ctx)
{
	int n;

	if (w->end)
		return w->end;
	w_io(w, 0);
	n = w_parse(w, cb, ctx, false);
	if (n < 0)
		return n;
	if (w->done)
		return w_ended(w);
	return w->end ? w->end : n;
}

/* ---- leader election ------------------------------------------------------------ */

static int election_key(struct us_etcd *c, const char *election, int64_t lease, char *key)
{
	if (!election || !*election)
		return seterr(c, -EINVAL, "etcd election: a name is needed (empty)");
	if (lease <= 0)
		return seterr(c, -EINVAL, "etcd election %s: a lease is needed", election);
	if (snprintf(key, US_ETCD_KEY_MAX, "%s/%" PRIx64, election, (uint64_t)lease) >=
	    US_ETCD_KEY_MAX)
		return seterr(c, -EINVAL, "etcd election: name longer than %d bytes",
			      US_ETCD_KEY_MAX - 20);
	return 0;
}

int us_etcd_campaign(struct us_etcd *c, const char *election, int64_t lease, const void *value,
		     size_t len, struct us_etcd_candidate *me, bool *leading)
{
	json_object *req = NULL, *acmp, *asucc, *afail, *ans, *resps;
	struct us_etcd_cmp absent;
	struct us_etcd_op put;
	bool nomem = false;
	int64_t created = 0, klease = 0;
	int err;

	memset(me, 0, sizeof(*me));
	*leading = false;
	if ((err = election_key(c, election, lease, me->key)))
		return err;
	/* create the key if it is not there; read it either way */
	absent = (struct us_etcd_cmp){ me->key, US_ETCD_CREATE, US_ETCD_EQ, 0 };
	put = (struct us_etcd_op){ US_ETCD_OP_PUT, me->key, value, len, lease };
	req = json_object_new_object();
	acmp = json_object_new_array();
	asucc = json_object_new_array();
	afail = json_object_new_array();
	if (req && acmp && asucc && afail) {
		json_object *o;

		if ((o = txn_cmp(&absent, &nomem)))
			json_object_array_add(acmp, o);
		if ((o = txn_op(&put, &nomem)))
			json_object_array_add(asucc, o);
		if ((o = txn_range(me->key, true, &nomem)))
			json_object_array_add(afail, o);
		json_object_object_add(req, "compare", acmp);
		json_object_object_add(req, "success", asucc);
		json_object_object_add(req, "failure", afail);
	} else {
		json_object_put(acmp);
		json_object_put(asucc);
		json_object_put(afail);
		nomem = true;
	}
	err = nomem || !req ? seterr(c, -ENOMEM, "etcd campaign: out of memory")
			    : call(c, "/v3/kv/txn", req, 0, &ans);
	json_object_put(req);
	if (err)
		return err;
	if (j_get_bool(ans, "succeeded")) {
		created = header_revision(ans);
		klease = lease;
	} else {
		resps = j_get(ans, "responses");
		json_object *kvs = j_get(j_get(json_object_array_get_idx(resps, 0),
					       "response_range"), "kvs");
		json_object *kv = kvs ? json_object_array_get_idx(kvs, 0) : NULL;

		if (!kv || j_get_i64(kv, "create_revision", &created) ||
		    j_get_i64(kv, "lease", &klease))
			created = 0;
	}
	json_object_put(ans);
	if (created <= 0)
		return bad_answer(c, -EPROTO, "/v3/kv/txn", "candidate key");
	if (klease != lease)
		return seterr(c, -EEXIST, "etcd election %s: key %s exists with lease %" PRIx64
			      ", not %" PRIx64, election, me->key, (uint64_t)klease, (uint64_t)lease);
	me->create_revision = created;
	me->lease = lease;
	return us_etcd_is_leader(c, me, leading);
}

/* a range request (as a txn operation) of the oldest key under election/ */
static json_object *oldest_range(const char *election, bool *nomem)
{
	json_object *o = json_object_new_object(), *r = json_object_new_object();
	char *pfx = NULL;

	if (!o || !r || asprintf(&pfx, "%s/", election) < 0) {
		json_object_put(o);
		json_object_put(r);
		*nomem = true;
		return NULL;
	}
	add_prefix(r, pfx, nomem);
	free(pfx);
	j_add(r, "sort_order", j_str("ASCEND"), nomem);
	j_add(r, "sort_target", j_str("CREATE"), nomem);
	j_add(r, "limit", j_i64(1), nomem);
	j_add(o, "request_range", r, nomem);
	return o;
}

/* the first kv of a txn response's range, or NULL */
static json_object *resp_kv(json_object *resps, size_t i)
{
	json_object *kvs = j_get(j_get(json_object_array_get_idx(resps, i), "response_range"), "kvs");

	return kvs && json_object_array_length(kvs) ? json_object_array_get_idx(kvs, 0) : NULL;
}

/* ranges at one revision (a transaction without conditions): the oldest
 * candidate and, if key is not NULL, that key */
static int election_read(struct us_etcd *c, const char *election, const char *key,
			 json_object **ans, json_object **resps)
{
	json_object *req = json_object_new_object(), *asucc = json_object_new_array(), *o;
	bool nomem = !req || !asucc;
	int err;

	if (!nomem && (o = oldest_range(election, &nomem)))
		json_object_array_add(asucc, o);
	if (!nomem && key && (o = txn_range(key, true, &nomem)))
		json_object_array_add(asucc, o);
	if (req && asucc)
		json_object_object_add(req, "success", asucc);
	else
		json_object_put(asucc);
	err = nomem ? seterr(c, -ENOMEM, "etcd election: out of memory")
		    : call(c, "/v3/kv/txn", req, CALL_READ, ans);
	json_object_put(req);
	if (err)
		return err;
	*resps = j_get(*ans, "responses");
	if (!*resps || !json_object_is_type(*resps, json_type_array) ||
	    json_object_array_length(*resps) != (key ? 2u : 1u)) {
		json_object_put(*ans);
		return bad_answer(c, -EPROTO, "/v3/kv/txn", "responses");
	}
	return 0;
}

int us_etcd_leader(struct us_etcd *c, const char *election, struct us_etcd_kv *leader)
{
	json_object *ans, *resps, *kv;
	const char *what = "kv";
	int err;

	memset(leader, 0, sizeof(*leader));
	if (!election || !*election)
		return seterr(c, -EINVAL, "etcd election: a name is needed (empty)");
	if ((err = election_read(c, election, NULL, &ans, &resps)))
		return err;
	kv = resp_kv(resps, 0);
	if (!kv)
		err = seterr(c, -ENOENT, "etcd election %s: no candidate, no leader", election);
	else if ((err = parse_kv(kv, leader, &what)))
		err = bad_answer(c, err, "/v3/kv/txn", what);
	json_object_put(ans);
	return err;
}

int us_etcd_is_leader(struct us_etcd *c, const struct us_etcd_candidate *me, bool *leading)
{
	json_object *ans, *resps, *lkv, *mkv;
	char election[US_ETCD_KEY_MAX];
	char *slash;
	int64_t lrev = 0, mrev = 0;
	int err;

	*leading = false;
	snprintf(election, sizeof(election), "%s", me->key);
	slash = strrchr(election, '/');
	if (!slash || slash == election || !me->create_revision)
		return seterr(c, -EINVAL, "etcd election: \"%s\" is not a candidate's key", me->key);
	*slash = '\0';
	if ((err = election_read(c, election, me->key, &ans, &resps)))
		return err;
	lkv = resp_kv(resps, 0);
	mkv = resp_kv(resps, 1);
	if ((lkv && j_get_i64(lkv, "create_revision", &lrev)) ||
	    (mkv && j_get_i64(mkv, "create_revision", &mrev)))
		err = bad_answer(c, -EPROTO, "/v3/kv/txn", "create_revision");
	else if (!mkv || mrev != me->create_revision)
		err = seterr(c, -ENOENT, "etcd election %s: candidate %s is gone (its lease "
			     "ended or it resigned)", election, me->key);
	else
		*leading = lrev == me->create_revision;
	json_object_put(ans);
	return err;
}

int us_etcd_resign(struct us_etcd *c, const struct us_etcd_candidate *me)
{
	struct us_etcd_cmp cmp = us_etcd_cmp_leader(me);
	struct us_etcd_op del = { US_ETCD_OP_DELETE, me->key, NULL, 0, 0 };
	struct us_etcd_txn_res res;
	int err;

	if (!me->create_revision)
		return seterr(c, -EINVAL, "etcd election: \"%s\" is not a candidate's key", me->key);
	if ((err = us_etcd_txn(c, &cmp, 1, &del, 1, &res, NULL)))
		return err;
	if (!res.succeeded)
		return seterr(c, -ENOENT, "etcd election: candidate %s was gone already", me->key);
	return 0;
}

struct us_etcd_cmp us_etcd_cmp_leader(const struct us_etcd_candidate *me)
{
	return (struct us_etcd_cmp){ me->key, US_ETCD_CREATE, US_ETCD_EQ, me->create_revision };
}
