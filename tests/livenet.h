/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * livenet: a real network of named namespaces for the live tests
 * (test_live, test_e2e), with machines that hold the VIP and answer SIP
 * over UDP sockets, and a client's SIP messages.
 *
 *   client ──veth── balancer ──"mach"── switch (bridge) ── m1 m2 m3 s1
 *                     │
 *                     └─────"simx"───── s2
 *
 *   ns client    eth0 198.18.0.1/24    2001:db8::1/64     via .254 / ::fe
 *   ns balancer  cli  198.18.0.254/24  2001:db8::fe/64    (client side)
 *                mach 198.18.1.254/24  2001:db8:1::fe/64  (machines, bridge)
 *                simx 198.18.2.254/24  2001:db8:2::fe/64  (machines, own link)
 *   ns m1 m2 m3  198.18.1.1-3          2001:db8:1::1-3
 *   ns s1        198.18.1.11           2001:db8:1::11     (behind mach)
 *   ns s2        198.18.2.12           2001:db8:2::12     (behind simx)
 *   every machine: VIP 198.18.100.1/32 and 2001:db8:100::1/128 on lo, and a
 *   UDP socket on VIP:5060 of each family (ln_nodes[n].s4, .s6)
 *
 * Namespaces are named <prefix><pid><role> (/var/run/netns), the pins live
 * under /sys/fs/bpf/<pin prefix><pid>; both are removed on every exit path
 * (exit, SIGINT/SIGTERM/..., crashes: ln_init installs the handlers), and
 * the debris of earlier runs killed outright is removed by ln_init.
 *
 * Every function returns 0 (or a descriptor) on success and -1 with
 * ln_err set on failure, unless said otherwise. Nothing here is
 * thread-safe but the socket I/O on descriptors already opened.
 */
#ifndef US_LIVENET_H
#define US_LIVENET_H

#include <signal.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <linux/types.h>

#define LN_SKIP_RC  77              /* exit code: something outside the project missing */
#define LN_SIP_PORT 5060
#define LN_VIP4 "198.18.100.1"
#define LN_VIP6 "2001:db8:100::1"
#define LN_CLI4 "198.18.0.1"
#define LN_CLI6 "2001:db8::1"
#define LN_SERVER_PREFIX "understudy-live-"   /* machines' Server: header, + node name */

enum ln_ns_id { LN_NS_C, LN_NS_B, LN_NS_SW, LN_NS_M1, LN_NS_M2, LN_NS_M3, LN_NS_S1, LN_NS_S2,
		LN_NNS };

/* machines, in the order of their namespaces */
enum ln_node_id { LN_M1, LN_M2, LN_M3, LN_S1, LN_S2, LN_NNODES };

struct ln_node {
	const char *name;           /* "m1" ... "s2" */
	int ns;                     /* enum ln_ns_id */
	const char *a4, *a6;        /* own addresses */
	const char *gw4, *gw6;      /* the balancer's address on its link */
	int s4, s6;                 /* sockets bound to VIP:5060 (non-blocking), -1 before ln_build */
};

extern struct ln_node ln_nodes[LN_NNODES];
extern char ln_ns_name[LN_NNS][32];
extern int ln_nsfd[LN_NNS];
extern char ln_err[512];
extern pid_t ln_main_pid;
/* A child to kill (SIGKILL) and reap if a signal interrupts the run. */
extern volatile pid_t ln_child;

struct ln_opts {
	const char *tag;            /* the program's name in messages ("test_live") */
	const char *ns_prefix;      /* namespaces <ns_prefix><pid><role>, e.g. "ust" */
	const char *pin_prefix;     /* pin root /sys/fs/bpf/<pin_prefix><pid> */
	unsigned alarm_s;           /* a hung run still tears down (0: no alarm) */
	/* extra teardown, run first: teardown_raw on a signal (async-signal-safe),
	 * teardown at exit (either may be NULL; teardown_raw is then used) */
	void (*teardown_raw)(void);
	void (*teardown)(void);
};

/* NULL when the run can go on, else why it cannot (not root, no iproute2,
 * no bpffs): the caller skips with LN_SKIP_RC. */
const char *ln_unavailable(void);
/* Names, debris of dead runs, signal handlers and atexit teardown. */
int ln_init(const struct ln_opts *o);
/* /sys/fs/bpf/<pin_prefix><pid> */
const char *ln_pin_root(void);
/* Namespaces, links, addresses, neighbours warmed up, machine sockets. */
int ln_build(void);
/* Remove the pins (detaching the pinned links), then the namespaces. Safe
 * to call twice; only the process that called ln_init tears down. */
void ln_teardown(void);
/* Async-signal-safe removal of a directory tree (a few levels deep). */
void ln_rm_tree_raw(const char *dir);

/* ---- helpers -------------------------------------------------------------- */

void ln_seterr(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Run a command (words separated by single spaces, no quoting, stdout to
 * /dev/null) without a shell; 0 if it exited 0. */
int ln_run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Enter a namespace (this thread); ln_home() goes back to the home one,
 * which is the initial namespace until ln_set_home(). */
int ln_enter(int ns);
int ln_home(void);
int ln_set_home(int ns);
/* A UDP socket (non-blocking, 8 MiB receive buffer) bound in a namespace. */
int ln_socket(int ns, int fam, const char *addr, int port);
int ln_send_to(int fd, int fam, const char *addr, int port, const void *buf, size_t len);
/* 16-byte address, IPv4 v4-mapped */
void ln_addr16(int fam, const char *text, __u8 out[16]);
long long ln_now_ms(void);
void ln_sleep_ms(int ms);

/* ---- SIP ---------------------------------------------------------------------- */

/* A digest of a payload or a name, for the tests' own bookkeeping. */
unsigned long long ln_fnv(const void *p, size_t n);
/* Value of the first header line named name (full form), or "" */
void ln_sip_hdr(const char *msg, const char *name, char *out, size_t cap);
/* A parameter's value in a header value (name with its '=' or ';'), or "" */
void ln_sip_param(const char *val, const char *name, char *out, size_t cap);
/* The node named by a response's Server header, -1 if none. */
int ln_sip_server_node(const char *msg);

enum ln_method { LN_INVITE, LN_ACK, LN_BYE };

/* A client's request to VIP:5060 of a family, from <client>:cli_port:
 * Via with branch z9hG4bK-ul<pid>-<branch>, From tag from the Call-ID,
 * To tag totag (NULL: none), CSeq 1 (INVITE, ACK) or 2 (BYE), an SDP body
 * on INVITE. Returns the length (0 if it does not fit). */
/* The To-tag node n gives a dialog of callid. */
size_t ln_sip_tag(int n, const char *callid, char *out, size_t cap);
size_t ln_sip_request(char *buf, size_t cap, int fam, enum ln_method what, const char *callid,
		      const char *totag, unsigned branch, int cli_port);
/* Node n's response to req with code/reason: Via(s), From, To (+ a tag
 * when it has none), Call-ID, CSeq copied; Contact; Server:
 * LN_SERVER_PREFIX<name>. Returns the length (0 if it does not fit). */
size_t ln_sip_answer(char *out, size_t cap, int n, const char *req, int fam, int code,
		     const char *reason);

#endif
