/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * A client of etcd v3 through its JSON gateway: the HTTP API every etcd
 * member (3.4 and later) serves on its client port under /v3/, spoken with
 * libcurl and json-c. Keys and values travel base64-encoded; revisions,
 * leases and counts are 64-bit.
 *
 * Every function returns 0 or a negative errno and prints nothing; where a
 * call fails, us_etcd_error() says what, where and why. The errors a caller
 * may act on:
 *
 *   -ENOENT        no such key, lease or leader
 *   -ERANGE        the revision asked for is compacted (a range at an old
 *                  revision, a watch from one): read again at the present
 *   -ETIMEDOUT     no answer within the call's time-out (every endpoint
 *                  tried in that time)
 *   -ECONNREFUSED, -EHOSTUNREACH, -ENETUNREACH ...
 *                  no endpoint could be reached (the system's reason)
 *   -EAGAIN        etcd answered that it cannot serve now (no leader, ...)
 *   -EPROTO        TLS failed (certificate refused, not trusted), or the
 *                  answer is not what the gateway sends (a member that
 *                  refuses the client's certificate may also show as
 *                  -ECONNRESET or -EPIPE: under TLS 1.3 the client learns
 *                  it after its side of the handshake)
 *   -EINVAL        an argument the client or etcd refused
 *   -EACCES, -EPERM  etcd's authentication refused the call
 *   -ENOSPC        etcd is out of space or refuses more requests
 *   -ECONNRESET    a watch's stream ended
 *   -ECANCELED     etcd cancelled a watch for another reason
 *
 * Endpoints are tried in turn: a call goes to the endpoint that answered
 * last; when it cannot be reached, to the next, until one answers or the
 * call's time-out has passed. A read is retried on the next endpoint
 * whatever the failure, and gives each endpoint left an equal share of the
 * time left (a member that accepts connections but does not answer cannot
 * take it all); a write only when its request cannot have reached etcd (no
 * connection, TLS refused): a write that may have been applied is never
 * sent twice, it fails with -ETIMEDOUT (or the reset's errno) and a
 * message that says its outcome is unknown. An endpoint that failed loses
 * its turn: the next call starts at the one after it.
 *
 * A client (struct us_etcd) is for one thread: it keeps one connection
 * open for its calls. A watch has a connection of its own and is driven by
 * its owner's event loop (below).
 */
#ifndef US_ETCD_H
#define US_ETCD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define US_ETCD_MAX_ENDPOINTS 16

struct us_etcd;

struct us_etcd_opts {
	const char *const *endpoints; /* "http://HOST:PORT" or "https://HOST:PORT" */
	size_t nendpoints;            /* 1 .. US_ETCD_MAX_ENDPOINTS */
	long timeout_ms;              /* a whole call, all endpoints tried; 0: 2000 */
	long connect_timeout_ms;      /* one endpoint's connection and TLS handshake; 0: 500 */
	long watch_heartbeat_ms;      /* a watch silent this long checks its member; 0: 1000 */
	/* TLS (https endpoints): the CA file that signed the members'
	 * certificates (NULL: the system's CAs), and this client's certificate
	 * and key, PEM (both or neither) for members that ask for one. The
	 * members' names or addresses must be in their certificates. */
	const char *ca_file;
	const char *cert_file;
	const char *key_file;
};

/* A client: the options checked (every endpoint a URL with no path, the
 * files readable), nothing sent yet. On failure err says why. */
int us_etcd_open(const struct us_etcd_opts *o, struct us_etcd **out, char *err, size_t errlen);
void us_etcd_close(struct us_etcd *c);
/* The last failure's explanation ("" if none). */
const char *us_etcd_error(const struct us_etcd *c);
/* The endpoint the next call goes to first. */
const char *us_etcd_endpoint(const struct us_etcd *c);

/* ---- keys ------------------------------------------------------------------ */

/* A key and its value as etcd keeps them. Keys are C strings here (the
 * project's keys are paths); values are bytes, followed by a NUL that
 * value_len does not count. */
struct us_etcd_kv {
	char *key;
	char *value;
	size_t value_len;
	int64_t create_revision;   /* the revision that created it (since its last deletion) */
	int64_t mod_revision;      /* the revision of its last change */
	int64_t version;           /* changes since it was created (1 on creation) */
	int64_t lease;             /* the lease it is attached to, 0 if none */
};
void us_etcd_kv_free(struct us_etcd_kv *kv);

struct us_etcd_kvs {
	struct us_etcd_kv *kv;
	size_t n;
	int64_t revision;          /* the store's revision the range was read at */
	bool more;                 /* a limit cut it short */
};
void us_etcd_kvs_free(struct us_etcd_kvs *r);

/* One key: -ENOENT if it does not exist. *revision (if not NULL) gets the
 * store's revision it was read at, also when the key is missing. */
int us_etcd_get(struct us_etcd *c, const char *key, struct us_etcd_kv *out, int64_t *revision);
/* Every key that starts with prefix ("" : every key), in key order, as of
 * revision (0: the latest; a compacted one: -ERANGE), at most limit of them
 * (0: no limit). All of them are of that one revision. */
int us_etcd_range(struct us_etcd *c, const char *prefix, int64_t revision, long limit,
		  struct us_etcd_kvs *out);
/* The same from the key from (under prefix) to the prefix's end: the keys
 * of the prefix not before from. */
int us_etcd_range_from(struct us_etcd *c, const char *prefix, const char *from, int64_t revision,
		       long limit, struct us_etcd_kvs *out);
/* Set a key (attached to lease, if not 0); *revision: the revision made. */
int us_etcd_put(struct us_etcd *c, const char *key, const void *value, size_t len, int64_t lease,
		int64_t *revision);
/* Delete a key, or every key under a prefix; *deleted: how many went (0 is
 * no error), *revision: the store's revision after. */
int us_etcd_delete(struct us_etcd *c, const char *key, bool prefix, int64_t *deleted,
		   int64_t *revision);

/* ---- transactions ------------------------------------------------------------ */

enum us_etcd_target {
	US_ETCD_MOD = 0,           /* the key's mod_revision */
	US_ETCD_CREATE,            /* its create_revision */
	US_ETCD_VERSION,           /* its version */
};

enum us_etcd_result {
	US_ETCD_EQ = 0,
	US_ETCD_NE,
	US_ETCD_LT,                /* the key's number is less than rev */
	US_ETCD_GT,
};

/* A condition on one key. A key that does not exist has all three numbers
 * 0: {key, US_ETCD_MOD, US_ETCD_EQ, 0} holds exactly when it is absent. */
struct us_etcd_cmp {
	const char *key;
	enum us_etcd_target target;
	enum us_etcd_result result;
	int64_t rev;
};

enum us_etcd_op_type {
	US_ETCD_OP_PUT = 0,
	US_ETCD_OP_DELETE,         /* one key */
	US_ETCD_OP_DELETE_PREFIX,  /* every key under the prefix key */
};

struct us_etcd_op {
	enum us_etcd_op_type type;
	const char *key;
	const void *value;         /* put */
	size_t len;
	int64_t lease;             /* put: 0, or the lease to attach the key to */
};

struct us_etcd_txn_res {
	bool succeeded;            /* every condition held and every operation was applied */
	int64_t revision;          /* the store's revision after (the txn's own if it wrote) */
};

/*
 * If every condition holds, apply every operation, all at one revision
 * (compare-and-swap); otherwise apply none. A condition that fails is no
 * error: the call returns 0 with res->succeeded false and, if cur_mod is
 * not NULL, cur_mod[i] the mod_revision of cmp[i].key now (0: absent), for
 * the caller to re-read or retry. etcd takes at most 128 conditions and
 * 128 operations a transaction by default (--max-txn-ops), and one key at
 * most once among the operations.
 */
int us_etcd_txn(struct us_etcd *c, const struct us_etcd_cmp *cmp, size_t ncmp,
		const struct us_etcd_op *ops, size_t nops, struct us_etcd_txn_res *res,
		int64_t *cur_mod);

/* ---- leases -------------------------------------------------------------------- */

/* A lease of ttl_s seconds (etcd may grant more: *granted). Keys attached
 * to it are deleted when it expires or is revoked. */
int us_etcd_lease_grant(struct us_etcd *c, long ttl_s, int64_t *id, long *granted);
/* Renew it for its full TTL (*ttl, if not NULL): -ENOENT if it has expired
 * or was revoked (its keys are gone). Renew at a third of the TTL. */
int us_etcd_lease_keepalive(struct us_etcd *c, int64_t id, long *ttl);
/* The seconds it has left: -ENOENT if it is gone. */
int us_etcd_lease_ttl(struct us_etcd *c, int64_t id, long *remaining);
/* End it now, deleting its keys: -ENOENT if it is gone already. */
int us_etcd_lease_revoke(struct us_etcd *c, int64_t id);

/* ---- maintenance ----------------------------------------------------------------- */

struct us_etcd_status {
	char version[32];          /* the member's etcd version */
	int64_t db_size;           /* bytes of its database file */
	int64_t db_size_in_use;    /* of which in use (the rest: freed by compaction,
				    * returned to the system by defragmentation) */
	int64_t revision;          /* the store's revision */
	int64_t raft_index;
	uint64_t leader;           /* the raft leader's member id */
	uint64_t member;           /* this member's id */
};

/* The status of the member the call reaches. */
int us_etcd_status(struct us_etcd *c, struct us_etcd_status *st);
/* Forget the history before revision (watches and ranges from before it
 * then fail with -ERANGE); physical: wait until the database has dropped it. */
int us_etcd_compact(struct us_etcd *c, int64_t revision, bool physical);

/* ---- watches ------------------------------------------------------------------------ */

/*
 * A watch streams the changes to every key under a prefix, in revision
 * order, from a revision on. It is driven without blocking by the owner's
 * event loop: us_etcd_watch_fd() is one file descriptor (an epoll set of
 * the stream's socket and its timers) that becomes readable when there is
 * something to do; us_etcd_watch_dispatch() then does it and calls back
 * with the changes. Between calls nothing happens; nothing runs in another
 * thread.
 *
 * A watch whose stream has been silent for watch_heartbeat_ms checks its
 * member: a linearizable read of one key on a second connection (without
 * blocking either), which only a member that runs and has a leader answers.
 * No answer within the client's timeout_ms, or a refusal, ends the watch
 * (-ETIMEDOUT, -EAGAIN...): a member that froze, lost its cluster, or sits
 * behind a network that dropped the connection silently is found as
 * surely as one that closed it. (etcd's own in-stream progress request
 * cannot serve here: over HTTP/1.1 the gateway answers only once the
 * request has ended.) Watches ask for progress reports, which etcd sends
 * on quiet prefixes every --experimental-watch-progress-notify-interval
 * (10 minutes unless set): they move us_etcd_watch_revision() on and
 * spare the checks.
 *
 * The end of a watch is reported once by dispatch and then by every later
 * call: -ERANGE when its revision was compacted (us_etcd_watch_compacted()
 * gives the oldest revision left: read the prefix again and watch from its
 * revision + 1); -ECONNRESET when the stream broke; -ETIMEDOUT, -EAGAIN
 * (the member shuts down or cannot serve), or another of etcd's refusals.
 * Then close it and open another from us_etcd_watch_revision() (on the
 * next endpoint, if its member is gone).
 */
struct us_etcd_watch;

enum us_etcd_event_type {
	US_ETCD_EV_PUT = 0,
	US_ETCD_EV_DELETE,          /* kv: the key, mod_revision the deletion's */
};

struct us_etcd_event {
	enum us_etcd_event_type type;
	struct us_etcd_kv kv;
};

/* Changes, in order. One call carries whole revisions: every change of a
 * revision (a transaction's several keys) arrives in the same call. The
 * events are the watch's until the callback returns. Return 0 to go on;
 * anything else ends the watch, and dispatch returns it (the callback
 * must not close the watch itself; it may use the client). */
typedef int (*us_etcd_watch_cb)(const struct us_etcd_event *ev, size_t n, void *ctx);

/* Start watching every key under prefix from start_revision (0: changes
 * after now), on the first endpoint that accepts it; returns once etcd has
 * confirmed the watch or the client's time-out has passed. The watch uses
 * the client's options and endpoints: close it before the client. */
int us_etcd_watch_open(struct us_etcd *c, const char *prefix, int64_t start_revision,
		       struct us_etcd_watch **out);
int us_etcd_watch_fd(const struct us_etcd_watch *w);
/* What is ready, without waiting: the callback for each batch of changes.
 * Returns the number of events delivered (0 when there were none), or the
 * watch's end (negative errno, see above). */
int us_etcd_watch_dispatch(struct us_etcd_watch *w, us_etcd_watch_cb cb, void *ctx);
/* The next revision the watch has to deliver: every change before it has
 * been delivered (etcd's progress reports move it on quiet prefixes too). */
int64_t us_etcd_watch_revision(const struct us_etcd_watch *w);
/* After -ERANGE: the oldest revision etcd still has (0 otherwise). */
int64_t us_etcd_watch_compacted(const struct us_etcd_watch *w);
/* Why the watch ended ("" while it runs). */
const char *us_etcd_watch_error(const struct us_etcd_watch *w);
/* The endpoint it streams from. */
const char *us_etcd_watch_endpoint(const struct us_etcd_watch *w);
void us_etcd_watch_close(struct us_etcd_watch *w);

/* ---- leader election -------------------------------------------------------------- */

/*
 * Leader election the way etcd's own election (its concurrency package and
 * /v3/election API) does it, without blocking: each candidate creates the
 * key <election>/<lease id in hex> attached to its lease; the candidate
 * whose key has the lowest create_revision leads. When the leader's lease
 * ends (expiry, revocation) or it resigns, its key goes and the next oldest
 * candidate leads. etcd's election API and etcdctl elect see the same
 * leader.
 *
 * A candidate that leads stays leader as long as its key exists with the
 * same create_revision (no key created later can be older): a write
 * guarded by us_etcd_cmp_leader() is applied only while the writer leads.
 */
#define US_ETCD_KEY_MAX 512

struct us_etcd_candidate {
	char key[US_ETCD_KEY_MAX];  /* <election>/<lease hex> */
	int64_t create_revision;
	int64_t lease;
};

/* Stand (again: a candidate whose key exists keeps its place) with value
 * (what observers read: an address, a name). *leading: whether it leads
 * now. A candidate that does not lead learns when it does by watching the
 * election's prefix (the keys before it going) or calling
 * us_etcd_is_leader() again. */
int us_etcd_campaign(struct us_etcd *c, const char *election, int64_t lease, const void *value,
		     size_t len, struct us_etcd_candidate *me, bool *leading);
/* The leader's key and value: -ENOENT if there is no candidate. */
int us_etcd_leader(struct us_etcd *c, const char *election, struct us_etcd_kv *leader);
/* Whether me leads now: -ENOENT if its key is gone (its lease ended): it
 * must campaign again with a new lease. */
int us_etcd_is_leader(struct us_etcd *c, const struct us_etcd_candidate *me, bool *leading);
/* Step down (delete the key if it is still this candidate's): -ENOENT if
 * it was gone already. */
int us_etcd_resign(struct us_etcd *c, const struct us_etcd_candidate *me);
/* The condition "me is still the candidate it was", for us_etcd_txn. */
struct us_etcd_cmp us_etcd_cmp_leader(const struct us_etcd_candidate *me);

#endif
