/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * etcdlab: real etcd members (Debian's etcd) for tests and benchmarks, in a
 * network namespace of their own that the calling process joins.
 *
 *   el_enter("usetcd")   creates the namespace usetcd-<pid> (/run/netns),
 *                        its loopback up with 198.18.0.1-8/32 on it, and
 *                        moves the process into it (setns); a directory
 *                        /tmp/usetcd-<pid> for data, certificates, logs
 *   el_start(&m, ...)    one single-member etcd, listening on ADDR:2379
 *                        (clients; https with TLS) and ADDR:2380 (peers),
 *                        data in <dir>/<name>; it is ready (answers a
 *                        status request) when el_start returns
 *   el_stop, el_freeze, el_thaw   SIGTERM (then SIGKILL), SIGSTOP, SIGCONT
 *
 * Everything goes on every exit path: at exit and on SIGINT, SIGTERM,
 * SIGHUP, SIGSEGV, SIGABRT the members are killed, the namespace and the
 * directory removed; a member dies with the process anyway (it is started
 * with PR_SET_PDEATHSIG), and el_enter removes the namespaces and
 * directories of earlier runs whose process is gone (killed outright).
 *
 * Functions return 0 or -1 with el_err saying why; nothing is printed
 * but members' output, which goes to <dir>/<name>.log.
 */
#ifndef US_ETCDLAB_H
#define US_ETCDLAB_H

#include <stdbool.h>
#include <sys/types.h>

#define EL_ADDR1 "198.18.0.1"       /* the first member */
#define EL_ADDR2 "198.18.0.2"       /* a second member (TLS) */
#define EL_ADDR3 "198.18.0.3"       /* free: a test's own listener */
#define EL_ADDR4 "198.18.0.4"       /* nothing there: connections refused */

extern char el_err[512];
extern char el_dir[128];            /* /tmp/<prefix>-<pid> */
extern char el_ns[64];              /* <prefix>-<pid> */

struct el_certs;

struct el_member {
	char name[32];
	char addr[48];
	char url[96];               /* the client URL: http(s)://addr:2379 */
	char data[192];             /* its data directory */
	char log[192];
	const struct el_certs *certs;   /* NULL: plain http */
	const char *const *extra;   /* etcd's extra arguments */
	pid_t pid;                  /* 0: not running */
	bool frozen;
};

/* TLS material made by el_make_certs() in <el_dir>/tls: a CA, a server
 * certificate for every EL_ADDR (extended key usage server and client: the
 * gateway of etcd 3.4 dials its own gRPC server with it), a client
 * certificate; the paths: */
struct el_certs {
	char ca[192], server_cert[192], server_key[192], client_cert[192], client_key[192];
	char other_ca[192];         /* a CA that signed nothing of etcd's */
};

int el_enter(const char *prefix);
/* Out of the namespace, members stopped, namespace and directory removed
 * (also at exit: calling it is optional). */
void el_leave(void);

int el_make_certs(struct el_certs *out);

/* Start member name on addr (certs: NULL for plain http, else https with
 * client certificates required); wait until it answers, at most
 * ready_ms. Extra arguments for etcd (NULL-terminated, may be NULL). */
int el_start(struct el_member *m, const char *name, const char *addr,
	     const struct el_certs *certs, long ready_ms, const char *const *extra);
/* The same member again, on its data (after el_stop). */
int el_restart(struct el_member *m, long ready_ms);
void el_stop(struct el_member *m);
int el_freeze(struct el_member *m);
int el_thaw(struct el_member *m);
/* The size in bytes of the files under a directory. */
long long el_du(const char *dir);

#endif
