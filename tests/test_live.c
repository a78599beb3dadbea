// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Live-frame tests: a real network of namespaces, real SIP over real UDP
 * sockets, the data plane attached in native XDP mode to veths.
 *
 * The network is livenet's (tests/livenet.h):
 *
 *   client ──veth── balancer ──"mach"── switch (bridge) ── m1 m2 m3 s1
 *                     │
 *                     └─────"simx"───── s2
 *
 * m1 m2 m3 serve as active machines; s1 (the SHARED interface) and s2 (a
 * SEPARATE interface) serve as simulation machines; every machine answers
 * 200 with a To-tag of its own (the simulation machines' longer). The
 * copies of the caller's ACK and BYE a simulation machine receives name
 * its own dialog: the frame the client sent with the active machine's tag
 * replaced by its own, whole (its kernel drops a bad checksum). The
 * client's SIP sockets are 198.18.0.1 and 2001:db8::1 port 5070; its
 * "stray" sockets port 40000.
 *
 * Namespaces are named ust<pid><role>; the pins live under
 * /sys/fs/bpf/understudy-live-<pid>. Both are removed on every exit path,
 * including SIGINT/SIGTERM and crashes.
 *
 * Exit: 0 all passed, 1 a failure, 77 something outside the project is
 * missing (not root, no iproute2, no bpffs, no network namespaces).
 */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <linux/if_link.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "dp.h"
#include "harness.h"
#include "livenet.h"

#define CLI_PORT 5070
#define STRAY_PORT 40000
#define QUIET_MS 120

#define BIT(n) (1u << (n))
#define SVC4 0u
#define SVC6 1u

/* what each machine answers requests with */
static const struct {
	int code;
	const char *reason;
} answer[LN_NNODES] = {
	[LN_M1] = { 200, "OK" },
	[LN_M2] = { 200, "OK" },
	[LN_M3] = { 200, "OK" },
	[LN_S1] = { 200, "OK" },
	[LN_S2] = { 200, "OK" },
};

static struct us_dp *g_dp;
static int g_cli4 = -1, g_cli6 = -1, g_stray4 = -1, g_stray6 = -1;

/* machine id of a node in a family */
static __u32 mid_of(int node, int fam)
{
	return (fam == AF_INET ? 1 : 101) + node;
}

static int node_of_mid(__u32 mid)
{
	if (mid >= 1 && mid < 1 + LN_NNODES)
		return mid - 1;
	if (mid >= 101 && mid < 101 + LN_NNODES)
		return mid - 101;
	return -1;
}

/* livenet's teardown at exit runs this first */
static void close_dp(void)
{
	if (g_dp) {
		us_dp_close(g_dp);
		g_dp = NULL;
	}
}

#define TRY(x)   do { if (x) return -1; } while (0)

/* The client's sockets (the machines' are ln_build's). */
static int open_sockets(void)
{
	g_cli4 = ln_socket(LN_NS_C, AF_INET, LN_CLI4, CLI_PORT);
	g_cli6 = ln_socket(LN_NS_C, AF_INET6, LN_CLI6, CLI_PORT);
	g_stray4 = ln_socket(LN_NS_C, AF_INET, LN_CLI4, STRAY_PORT);
	g_stray6 = ln_socket(LN_NS_C, AF_INET6, LN_CLI6, STRAY_PORT);
	TRY(g_cli4 < 0 || g_cli6 < 0 || g_stray4 < 0 || g_stray6 < 0);
	return 0;
}

/* ---- the data plane ------------------------------------------------------ */

static int dp_err(const char *what, int err)
{
	ln_seterr("%s: %d (%s) %s", what, err, strerror(-err), us_dp_error(g_dp));
	return -1;
}

#define DP(call) do { int e_ = (call); if (e_ < 0) return dp_err(#call, e_); } while (0)

static int learn_all(void)
{
	long long end = ln_now_ms() + 3000;
	int left;

	for (;;) {
		left = us_dp_learn_macs(g_dp);
		if (left < 0)
			return dp_err("us_dp_learn_macs", left);
		if (left == 0)
			return 0;
		if (ln_now_ms() > end) {
			ln_seterr("us_dp_learn_macs: %d machines unresolved after 3 s (%s)", left,
			       us_dp_error(g_dp));
			return -1;
		}
		ln_sleep_ms(50);
	}
}

static int setup_dp(void)
{
	struct us_dp_opts o = { .pin_root = ln_pin_root(), .verbose = getenv("TEST_LIVE_VERBOSE") != NULL };
	struct us_cfg cfg = { .event_rate = 1000, .event_burst = 1000 };
	__u8 a[16];

	/* the main thread lives in the balancer's namespace from here on */
	TRY(ln_set_home(LN_NS_B));
	DP(us_dp_open(&o, &g_dp));
	DP(us_dp_attach(g_dp, "cli", US_ROLE_CLIENT, XDP_FLAGS_DRV_MODE));
	DP(us_dp_attach(g_dp, "mach", US_ROLE_MACHINE, XDP_FLAGS_DRV_MODE));
	DP(us_dp_attach(g_dp, "simx", US_ROLE_MACHINE, XDP_FLAGS_DRV_MODE));
	DP(us_dp_add_machine_iface(g_dp, "mach"));
	DP(us_dp_add_machine_iface(g_dp, "simx"));
	ln_addr16(AF_INET, LN_VIP4, a);
	DP(us_dp_set_service(g_dp, SVC4, AF_INET, a, LN_SIP_PORT, 0));
	ln_addr16(AF_INET6, LN_VIP6, a);
	DP(us_dp_set_service(g_dp, SVC6, AF_INET6, a, LN_SIP_PORT, 0));
	DP(us_dp_set_cfg(g_dp, &cfg));
	return 0;
}

/* Machines as a test wants them: every node in one of the masks is
 * configured in that family's service with that state, every other machine
 * entry (either family) is deleted; both services' pools are rebuilt and
 * the MACs learnt. */
static unsigned g_control;     /* nodes configure() puts in the control role */

static int configure(int fam, unsigned active, unsigned sim, unsigned rejected, __u16 share)
{
	__u32 svc = fam == AF_INET ? SVC4 : SVC6;

	for (int n = 0; n < LN_NNODES; n++) {
		for (int f = 0; f < 2; f++) {
			int ff = f ? AF_INET6 : AF_INET;
			struct us_machine_cfg mc = {
				.id = mid_of(n, ff),
				.svc_id = ff == AF_INET ? SVC4 : SVC6,
				.family = ff,
				.weight = 100,
			};

			if (ff == fam && (active | sim | rejected | g_control) & BIT(n)) {
				mc.state = active & BIT(n) ? US_MS_ACTIVE :
					   sim & BIT(n) ? US_MS_SIMULATION :
					   g_control & BIT(n) ? US_MS_CONTROL : US_MS_REJECTED;
				ln_addr16(ff, ff == AF_INET ? ln_nodes[n].a4 : ln_nodes[n].a6, mc.addr);
				DP(us_dp_set_machine(g_dp, &mc));
			} else {
				DP(us_dp_del_machine(g_dp, mc.id));
			}
		}
	}
	for (__u32 s = SVC4; s <= SVC6; s++) {
		DP(us_dp_rebuild(g_dp, s, US_POOL_ACTIVE));
		DP(us_dp_rebuild(g_dp, s, US_POOL_SIM));
		DP(us_dp_rebuild(g_dp, s, US_POOL_CTL));
		DP(us_dp_set_share(g_dp, s, s == svc ? share : 0));
	}
	return learn_all();
}

/* ---- SIP traffic and what every socket received ---------------------------- */

#define LOG_MAX 16384

struct mrx {            /* a request a machine received */
	int node, fam;
	char callid[96], method[16], branch[64];
	unsigned cseq;
	unsigned long long hash;    /* of the payload, to compare with what was sent */
};

struct crx {            /* a response the client received */
	int node, fam, status;
	char callid[96], cseq_method[16], totag[48];
};

static struct mrx *g_mrx;
static int g_nmrx;
static struct crx *g_crx;
static int g_ncrx;
static int g_stray_rx[2];           /* datagrams received on the stray sockets, v4/v6 */
static int g_client_5xx_from_sim;   /* responses the client got from a simulation machine */
static int g_client_other;          /* unparseable datagrams on the client's SIP sockets */

/* The data plane's Call-ID hash, as the header gives it to user space. */
static __u64 callid_hash(const char *id)
{
	return us_hash_bytes(id, strlen(id));
}

static void machine_rx(int n, int fd, int fam)
{
	char buf[4097], cseq[64], via[512];
	struct sockaddr_storage from;
	socklen_t flen;
	ssize_t len;

	for (;;) {
		struct mrx *r;

		flen = sizeof(from);
		len = recvfrom(fd, buf, sizeof(buf) - 1, 0, (struct sockaddr *)&from, &flen);
		if (len < 0)
			return;
		buf[len] = 0;
		if (g_nmrx >= LOG_MAX)
			continue;
		r = &g_mrx[g_nmrx++];
		memset(r, 0, sizeof(*r));
		r->node = n;
		r->fam = fam;
		r->hash = ln_fnv(buf, len);
		sscanf(buf, "%15s", r->method);
		ln_sip_hdr(buf, "Call-ID", r->callid, sizeof(r->callid));
		ln_sip_hdr(buf, "CSeq", cseq, sizeof(cseq));
		r->cseq = strtoul(cseq, NULL, 10);
		ln_sip_hdr(buf, "Via", via, sizeof(via));
		ln_sip_param(via, "branch=", r->branch, sizeof(r->branch));
		if (strcmp(r->method, "ACK")) {
			char out[4096];
			size_t olen = ln_sip_answer(out, sizeof(out), n, buf, fam, answer[n].code,
						    answer[n].reason);

			if (olen)
				sendto(fd, out, olen, 0, (struct sockaddr *)&from, flen);
		}
	}
}

static void client_rx(int fd, int fam)
{
	char buf[4097], cseq[64], to[300];
	ssize_t len;

	for (;;) {
		struct crx *r;
		int status = 0;

		len = recv(fd, buf, sizeof(buf) - 1, 0);
		if (len < 0)
			return;
		buf[len] = 0;
		if (sscanf(buf, "SIP/2.0 %d", &status) != 1) {
			g_client_other++;
			continue;
		}
		if (g_ncrx >= LOG_MAX)
			continue;
		r = &g_crx[g_ncrx++];
		memset(r, 0, sizeof(*r));
		r->fam = fam;
		r->status = status;
		ln_sip_hdr(buf, "Call-ID", r->callid, sizeof(r->callid));
		ln_sip_hdr(buf, "CSeq", cseq, sizeof(cseq));
		sscanf(cseq, "%*u %15s", r->cseq_method);
		ln_sip_hdr(buf, "To", to, sizeof(to));
		ln_sip_param(to, ";tag=", r->totag, sizeof(r->totag));
		r->node = ln_sip_server_node(buf);
		if (r->node == LN_S1 || r->node == LN_S2)
			g_client_5xx_from_sim++;
	}
}

static void stray_rx(int fd, int idx)
{
	char buf[2048];

	while (recv(fd, buf, sizeof(buf), 0) >= 0)
		g_stray_rx[idx]++;
}

/* Let every socket receive (machines answer) until nothing has moved for
 * QUIET_MS (at most 5 s). */
static void pump(void)
{
	struct pollfd p[2 * LN_NNODES + 4];
	long long end = ln_now_ms() + 5000;
	int np = 0;

	for (int n = 0; n < LN_NNODES; n++) {
		p[np++] = (struct pollfd){ .fd = ln_nodes[n].s4, .events = POLLIN };
		p[np++] = (struct pollfd){ .fd = ln_nodes[n].s6, .events = POLLIN };
	}
	p[np++] = (struct pollfd){ .fd = g_cli4, .events = POLLIN };
	p[np++] = (struct pollfd){ .fd = g_cli6, .events = POLLIN };
	p[np++] = (struct pollfd){ .fd = g_stray4, .events = POLLIN };
	p[np++] = (struct pollfd){ .fd = g_stray6, .events = POLLIN };
	while (ln_now_ms() < end) {
		int r = poll(p, np, QUIET_MS);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return;
		for (int i = 0; i < np; i++) {
			if (!(p[i].revents & POLLIN))
				continue;
			if (i < 2 * LN_NNODES)
				machine_rx(i / 2, p[i].fd, i & 1 ? AF_INET6 : AF_INET);
			else if (p[i].fd == g_cli4 || p[i].fd == g_cli6)
				client_rx(p[i].fd, p[i].fd == g_cli4 ? AF_INET : AF_INET6);
			else
				stray_rx(p[i].fd, p[i].fd == g_stray4 ? 0 : 1);
		}
	}
}

/* A call as the client sees it. */
struct call {
	char id[96];
	int fam;
	unsigned long long sent_hash[4];    /* payload hashes of INVITE, ACK, BYE */
	char sent[3][2048];                 /* ... and the payloads */
	size_t sent_len[3];
};

static unsigned g_branch_seq;

static void call_init(struct call *c, int fam, const char *tag, int i)
{
	memset(c, 0, sizeof(*c));
	c->fam = fam;
	snprintf(c->id, sizeof(c->id), "%s-%d-%d@%s", tag, i, (int)ln_main_pid,
		 fam == AF_INET ? LN_CLI4 : "2001-db8--1");
}

static const char *last_totag(const struct call *c)
{
	for (int i = g_ncrx - 1; i >= 0; i--)
		if (!strcmp(g_crx[i].callid, c->id) && !strcmp(g_crx[i].cseq_method, "INVITE") &&
		    g_crx[i].status >= 200 && g_crx[i].status < 300)
			return g_crx[i].totag;
	return NULL;
}

enum { M_INVITE, M_ACK, M_BYE };

/* Send one request of a call from the client to VIP:5060. */
static int call_send(struct call *c, int what)
{
	char buf[2048];
	size_t len = ln_sip_request(buf, sizeof(buf), c->fam, (enum ln_method)what, c->id,
				    what == M_INVITE ? NULL : last_totag(c), ++g_branch_seq,
				    CLI_PORT);

	c->sent_hash[what] = ln_fnv(buf, len);
	if (len < sizeof(c->sent[0])) {
		memcpy(c->sent[what], buf, len);
		c->sent_len[what] = len;
	}
	return ln_send_to(c->fam == AF_INET ? g_cli4 : g_cli6, c->fam,
			  c->fam == AF_INET ? LN_VIP4 : LN_VIP6, LN_SIP_PORT, buf, len);
}

/* How many requests of a call (method NULL: any) a node received. */
static int mcount(int node, const struct call *c, const char *method)
{
	int k = 0;

	for (int i = 0; i < g_nmrx; i++)
		if (g_mrx[i].node == node && !strcmp(g_mrx[i].callid, c->id) &&
		    (!method || !strcmp(g_mrx[i].method, method)))
			k++;
	return k;
}

/* What a node should receive of a request sent: byte for byte what was
 * sent, except that a simulation machine's copy of an in-dialog request
 * names its own dialog (its tag for the active machine's). */
static unsigned long long want_hash(int node, const struct call *c, int what, int active)
{
	char at[96], st[96], out[2200];
	const char *p;
	size_t al, sl, off;

	if (what == M_INVITE || node == active)
		return c->sent_hash[what];
	al = ln_sip_tag(active, c->id, at + 5, sizeof(at) - 5) + 5;
	sl = ln_sip_tag(node, c->id, st + 5, sizeof(st) - 5) + 5;
	memcpy(at, ";tag=", 5);
	memcpy(st, ";tag=", 5);
	p = memmem(c->sent[what], c->sent_len[what], at, al);
	if (!p)
		return 0;
	off = (size_t)(p - c->sent[what]);
	memcpy(out, c->sent[what], off);
	memcpy(out + off, st, sl);
	memcpy(out + off + sl, p + al, c->sent_len[what] - off - al);
	return ln_fnv(out, c->sent_len[what] - al + sl);
}

/* ... and whether every copy of that method is byte for byte what it
 * should be (want_hash) */
static int mintact(int node, const struct call *c, int what, int active)
{
	static const char *const meth[] = { "INVITE", "ACK", "BYE" };
	unsigned long long want = want_hash(node, c, what, active);

	for (int i = 0; i < g_nmrx; i++)
		if (g_mrx[i].node == node && !strcmp(g_mrx[i].callid, c->id) &&
		    !strcmp(g_mrx[i].method, meth[what]) && g_mrx[i].hash != want)
			return 0;
	return 1;
}

/* Responses the client got for a call's method (status 0: any; node -2: any). */
static int ccount(const struct call *c, const char *cseq_method, int status, int node)
{
	int k = 0;

	for (int i = 0; i < g_ncrx; i++)
		if (!strcmp(g_crx[i].callid, c->id) && !strcmp(g_crx[i].cseq_method, cseq_method) &&
		    (!status || g_crx[i].status == status) && (node == -2 || g_crx[i].node == node))
			k++;
	return k;
}

/* Which of the nodes in mask received anything of the call: the node if
 * exactly one, -1 if none, -2 if several. */
static int who_got(const struct call *c, unsigned mask)
{
	int who = -1;

	for (int n = 0; n < LN_NNODES; n++) {
		if (!(mask & BIT(n)) || !mcount(n, c, NULL))
			continue;
		if (who != -1)
			return -2;
		who = n;
	}
	return who;
}

/* The active machine the tables choose for a new call. */
static int predict_active(const struct call *c)
{
	__u32 mid = US_MID_NONE;

	if (us_dp_table_lookup(g_dp, c->fam == AF_INET ? SVC4 : SVC6, US_POOL_ACTIVE,
			       us_maglev_slot(callid_hash(c->id)), &mid))
		return -1;
	return node_of_mid(mid);
}

/* ---- test bookkeeping ----------------------------------------------------------- */

static __u64 g_st0[US_ST_MAX];

static void expect_range(const char *what, long long actual, long long lo, long long hi)
{
	char a[32], e[48];

	if (actual >= lo && actual <= hi)
		return;
	snprintf(a, sizeof(a), "%lld", actual);
	snprintf(e, sizeof(e), "%lld..%lld", lo, hi);
	th_fail(what, a, e);
}

static void expect_ok(const char *what, int ok)
{
	if (!ok)
		th_fail(what, "false", "true");
}

static const char *nname(int n)
{
	return n >= 0 && n < LN_NNODES ? ln_nodes[n].name : n == -1 ? "none" : "several";
}

static void expect_node(const char *what, int actual, int expected)
{
	if (actual != expected)
		th_fail(what, nname(actual), nname(expected));
}

static void stats_mark(void)
{
	us_dp_read_stats(g_dp, g_st0);
}

static long long stat_delta(enum us_stat s)
{
	__u64 now[US_ST_MAX];

	us_dp_read_stats(g_dp, now);
	return (long long)(now[s] - g_st0[s]);
}

static void fail_setup(void)
{
	th_fail("setting up", ln_err, "ok");
}

#define CONFIGURE(...) do { if (configure(__VA_ARGS__)) { fail_setup(); return; } } while (0)

/* A whole call, INVITE then ACK + BYE, with checks that every message went
 * to exactly the active machine want_a and (when want_s >= 0) to the
 * simulation machine want_s, and that the client saw only want_a's 200s. */
static void whole_call(struct call *c, int want_a, int want_s, unsigned actives, unsigned sims)
{
	char w[160];

	call_send(c, M_INVITE);
	pump();
	call_send(c, M_ACK);
	call_send(c, M_BYE);
	pump();

	snprintf(w, sizeof(w), "call %s: active machine that received it", c->id);
	expect_node(w, who_got(c, actives), want_a);
	snprintf(w, sizeof(w), "call %s: simulation machine that received it", c->id);
	expect_node(w, who_got(c, sims), want_s);
	for (int n = 0; n < LN_NNODES; n++) {
		int want = n == want_a || n == want_s;
		static const char *const meth[] = { "INVITE", "ACK", "BYE" };

		for (int m = M_INVITE; m <= M_BYE; m++) {
			snprintf(w, sizeof(w), "call %s: %s copies received by %s", c->id, meth[m],
				 ln_nodes[n].name);
			th_eq(w, mcount(n, c, meth[m]), want);
			if (want) {
				snprintf(w, sizeof(w), "call %s: %s at %s what was sent%s", c->id,
					 meth[m], ln_nodes[n].name,
					 n == want_s && m != M_INVITE ? ", naming its own dialog" : "");
				expect_ok(w, mintact(n, c, m, want_a));
			}
		}
	}
	snprintf(w, sizeof(w), "call %s: responses to INVITE at the client", c->id);
	th_eq(w, ccount(c, "INVITE", 0, -2), 1);
	snprintf(w, sizeof(w), "call %s: 200 to INVITE from %s at the client", c->id, nname(want_a));
	th_eq(w, ccount(c, "INVITE", 200, want_a), 1);
	snprintf(w, sizeof(w), "call %s: responses to BYE at the client", c->id);
	th_eq(w, ccount(c, "BYE", 0, -2), 1);
	snprintf(w, sizeof(w), "call %s: 200 to BYE from %s at the client", c->id, nname(want_a));
	th_eq(w, ccount(c, "BYE", 200, want_a), 1);
	snprintf(w, sizeof(w), "call %s: 503 responses at the client", c->id);
	th_eq(w, ccount(c, "INVITE", 503, -2) + ccount(c, "BYE", 503, -2), 0);
}

/* ---- the tests ------------------------------------------------------------------ */

/* 1 and 6: active and simulation copies leave by the same interface. */
static void t_shared_mirror(int fam)
{
	const unsigned actives = BIT(LN_M1) | BIT(LN_M2);
	struct us_mstats ms0, ms1;
	int sim0 = g_client_5xx_from_sim, want;
	struct call c;

	CONFIGURE(fam, actives, BIT(LN_S1), 0, US_SHARE_MAX);
	us_dp_read_mstats(g_dp, mid_of(LN_S1, fam), &ms0);
	stats_mark();

	call_init(&c, fam, fam == AF_INET ? "shared4" : "shared6", 0);
	want = predict_active(&c);
	expect_ok("predicted active machine is m1 or m2", want == LN_M1 || want == LN_M2);
	whole_call(&c, want, LN_S1, actives, BIT(LN_S1) | BIT(LN_S2));

	th_eq("client responses from a simulation machine", g_client_5xx_from_sim - sim0, 0);
	th_eq("stat req_fwd", stat_delta(US_ST_REQ_FWD), 3);
	th_eq("stat req_mirrored", stat_delta(US_ST_REQ_MIRRORED), 3);
	th_eq("stat resp_fwd", stat_delta(US_ST_RESP_FWD), 2);
	th_eq("stat resp_sim_drop", stat_delta(US_ST_RESP_SIM_DROP), 2);
	th_eq("stat mirror_skipped", stat_delta(US_ST_MIRROR_SKIPPED), 0);
	th_eq("stat no_route", stat_delta(US_ST_NO_ROUTE), 0);
	th_eq("stat dialog_rewritten (its ACK and BYE)", stat_delta(US_ST_DLG_REWRITTEN), 2);
	th_eq("stat dialog_build_failed", stat_delta(US_ST_DLG_BUILD_FAIL), 0);
	/* pairing on the simulation machine: 200 and 200, twice */
	us_dp_read_mstats(g_dp, mid_of(LN_S1, fam), &ms1);
	th_eq("s1 pairs 2xx/2xx", (long long)(ms1.pair.out[US_O_2XX][US_O_2XX] -
					      ms0.pair.out[US_O_2XX][US_O_2XX]), 2);
	th_eq("s1 equal codes", (long long)(ms1.pair.code_same - ms0.pair.code_same), 2);
	th_eq("s1 dropped messages", (long long)(ms1.dropped - ms0.dropped), 2);
	th_eq("stat events (difference events written)", stat_delta(US_ST_EVENTS), 0);
}

/* 2: the simulation machine sits behind its own interface. */
static void t_separate_mirror(int fam)
{
	const unsigned actives = BIT(LN_M1) | BIT(LN_M2);
	int sim0 = g_client_5xx_from_sim, want;
	struct call c;

	CONFIGURE(fam, actives, BIT(LN_S2), BIT(LN_S1), US_SHARE_MAX);
	stats_mark();
	call_init(&c, fam, fam == AF_INET ? "separate4" : "separate6", 0);
	want = predict_active(&c);
	whole_call(&c, want, LN_S2, actives, BIT(LN_S1) | BIT(LN_S2));
	th_eq("client responses from a simulation machine", g_client_5xx_from_sim - sim0, 0);
	th_eq("stat req_mirrored", stat_delta(US_ST_REQ_MIRRORED), 3);
	th_eq("stat resp_fwd", stat_delta(US_ST_RESP_FWD), 2);
	th_eq("stat resp_sim_drop", stat_delta(US_ST_RESP_SIM_DROP), 2);
	th_eq("stat mirror_skipped", stat_delta(US_ST_MIRROR_SKIPPED), 0);
	th_eq("stat dialog_rewritten (its ACK and BYE)", stat_delta(US_ST_DLG_REWRITTEN), 2);
}

/* Send a batch of whole calls, pumping between phases. */
static void calls_run(struct call *cs, int n, int batch)
{
	for (int i = 0; i < n; i += batch) {
		int e = i + batch < n ? i + batch : n;

		for (int k = i; k < e; k++)
			call_send(&cs[k], M_INVITE);
		pump();
		for (int k = i; k < e; k++) {
			call_send(&cs[k], M_ACK);
			call_send(&cs[k], M_BYE);
		}
		pump();
	}
}

/* 3: the share decides per call; a call is mirrored whole or not at all. */
static void t_share(int fam)
{
	enum { N0 = 20, N50 = 200 };
	const unsigned actives = BIT(LN_M1) | BIT(LN_M2);
	static struct call cs[N50];
	int mirrored = 0, partial = 0, mispredicted = 0, unanswered = 0, wrong_active = 0;
	char w[160];

	/* share 0: nothing is copied */
	CONFIGURE(fam, actives, BIT(LN_S1), 0, 0);
	stats_mark();
	for (int i = 0; i < N0; i++)
		call_init(&cs[i], fam, "share0", i);
	calls_run(cs, N0, 20);
	for (int i = 0; i < N0; i++) {
		mirrored += mcount(LN_S1, &cs[i], NULL) + mcount(LN_S2, &cs[i], NULL);
		unanswered += ccount(&cs[i], "INVITE", 200, -2) != 1 || ccount(&cs[i], "BYE", 200, -2) != 1;
	}
	th_eq("share 0: messages received by simulation machines", mirrored, 0);
	th_eq("share 0: calls without exactly one 200 to INVITE and BYE", unanswered, 0);
	th_eq("share 0: stat req_mirrored", stat_delta(US_ST_REQ_MIRRORED), 0);
	th_eq("share 0: stat req_fwd", stat_delta(US_ST_REQ_FWD), 3 * N0);

	/* share 50 %: per call all three messages or none */
	if (us_dp_set_share(g_dp, fam == AF_INET ? SVC4 : SVC6, US_SHARE_MAX / 2)) {
		th_fail("us_dp_set_share 5000", us_dp_error(g_dp), "ok");
		return;
	}
	stats_mark();
	mirrored = unanswered = 0;
	for (int i = 0; i < N50; i++)
		call_init(&cs[i], fam, "share50", i);
	calls_run(cs, N50, 25);
	for (int i = 0; i < N50; i++) {
		int k = mcount(LN_S1, &cs[i], NULL);
		int predicted = us_share_point(callid_hash(cs[i].id)) < US_SHARE_MAX / 2;
		int a = who_got(&cs[i], actives);

		if (k == 3)
			mirrored++;
		else if (k != 0)
			partial++;
		if ((k == 3) != predicted)
			mispredicted++;
		if (a < 0 || mcount(a, &cs[i], NULL) != 3)
			wrong_active++;
		unanswered += ccount(&cs[i], "INVITE", 200, -2) != 1 || ccount(&cs[i], "BYE", 200, -2) != 1;
	}
	th_eq("share 50%: calls of which s1 got some but not all messages", partial, 0);
	snprintf(w, sizeof(w), "share 50%%: mirrored calls of %d", N50);
	expect_range(w, mirrored, N50 / 4, 3 * N50 / 4);
	th_eq("share 50%: calls mirrored otherwise than us_share_point() predicts", mispredicted, 0);
	th_eq("share 50%: calls not wholly at one active machine", wrong_active, 0);
	th_eq("share 50%: calls without exactly one 200 to INVITE and BYE", unanswered, 0);
	th_eq("share 50%: stat req_mirrored", stat_delta(US_ST_REQ_MIRRORED), 3LL * mirrored);
}

/* 4: whatever else a simulation machine sends towards a client is dropped;
 * an active machine's non-SIP traffic is the kernel's to route. */
static void t_stray(int fam)
{
	static const char junk[] = "not SIP: stray datagram";
	int stray0[2] = { g_stray_rx[0], g_stray_rx[1] }, fd;
	const unsigned actives = BIT(LN_M1) | BIT(LN_M2);
	int i4 = fam == AF_INET ? 0 : 1;
	const char *cli = fam == AF_INET ? LN_CLI4 : LN_CLI6;
	int sim0 = g_client_5xx_from_sim, len;
	struct call forged[2];
	char buf[1024];
	__u64 sent = 0;

	CONFIGURE(fam, actives, BIT(LN_S1) | BIT(LN_S2), 0, 0);
	stats_mark();
	/* from the simulation machines' own addresses, and from VIP:5060 with
	 * a payload that is no SIP at all */
	for (int n = LN_S1; n <= LN_S2; n++) {
		fd = ln_socket(ln_nodes[n].ns, fam, fam == AF_INET ? ln_nodes[n].a4 : ln_nodes[n].a6, 0);
		if (fd < 0) {
			fail_setup();
			return;
		}
		for (int k = 0; k < 3; k++)
			sent += !ln_send_to(fd, fam, cli, STRAY_PORT, junk, sizeof(junk));
		close(fd);
		sent += !ln_send_to(fam == AF_INET ? ln_nodes[n].s4 : ln_nodes[n].s6, fam, cli, STRAY_PORT,
				 junk, sizeof(junk));
		/* and an unsolicited SIP response to the client's SIP port */
		call_init(&forged[n - LN_S1], fam, "forged", n);
		len = snprintf(buf, sizeof(buf),
			       "SIP/2.0 503 Service Unavailable\r\n"
			       "Via: SIP/2.0/UDP %s:%d;branch=z9hG4bK-forged%d\r\n"
			       "From: <sip:caller@%s>;tag=f\r\nTo: <sip:service@%s>;tag=%s\r\n"
			       "Call-ID: %s\r\nCSeq: 1 INVITE\r\nServer: understudy-live-%s\r\n"
			       "Content-Length: 0\r\n\r\n",
			       fam == AF_INET ? LN_CLI4 : "[" LN_CLI6 "]", CLI_PORT, n, cli, cli,
			       ln_nodes[n].name, forged[n - LN_S1].id, ln_nodes[n].name);
		sent += !ln_send_to(fam == AF_INET ? ln_nodes[n].s4 : ln_nodes[n].s6, fam, cli, CLI_PORT,
				 buf, len);
	}
	pump();
	th_eq("datagrams sent by the simulation machines", (long long)sent, 10);
	th_eq("stray datagrams from simulation machines received by the client",
		  g_stray_rx[i4] - stray0[i4], 0);
	th_eq("unsolicited SIP responses from simulation machines received by the client",
		  ccount(&forged[0], "INVITE", 0, -2) + ccount(&forged[1], "INVITE", 0, -2), 0);
	th_eq("client responses from a simulation machine", g_client_5xx_from_sim - sim0, 0);
	th_eq("stat sim_stray_drop", stat_delta(US_ST_SIM_STRAY_DROP), 6);
	th_eq("stat resp_sim_drop (non-SIP and SIP from VIP:5060)",
		  stat_delta(US_ST_RESP_SIM_DROP), 4);

	/* the same from an active machine arrives */
	stats_mark();
	fd = ln_socket(ln_nodes[LN_M1].ns, fam, fam == AF_INET ? ln_nodes[LN_M1].a4 : ln_nodes[LN_M1].a6, 0);
	if (fd < 0) {
		fail_setup();
		return;
	}
	for (int k = 0; k < 3; k++)
		ln_send_to(fd, fam, cli, STRAY_PORT, junk, sizeof(junk));
	close(fd);
	ln_send_to(fam == AF_INET ? ln_nodes[LN_M1].s4 : ln_nodes[LN_M1].s6, fam, cli, STRAY_PORT, junk,
		sizeof(junk));
	pump();
	th_eq("non-SIP datagrams from active machine m1 received by the client",
		  g_stray_rx[i4] - stray0[i4], 4);
	th_eq("stat sim_stray_drop after m1's datagrams", stat_delta(US_ST_SIM_STRAY_DROP), 0);
}

/* 5: a table change moves no call in progress. */
static void t_sticky(int fam)
{
	enum { N = 60 };
	const unsigned actives = BIT(LN_M1) | BIT(LN_M2);
	static struct call old[N], fresh[N];
	int first[N], would_move = 0, moved = 0, to_m3 = 0, fresh_wrong = 0, unanswered = 0;
	struct us_machine_cfg mc = { .id = mid_of(LN_M3, fam), .svc_id = fam == AF_INET ? SVC4 : SVC6,
				     .family = fam, .weight = 100, .state = US_MS_ACTIVE };
	char w[160];

	CONFIGURE(fam, actives, 0, 0, 0);
	for (int i = 0; i < N; i++) {
		call_init(&old[i], fam, "sticky-old", i);
		call_send(&old[i], M_INVITE);
	}
	pump();
	for (int i = 0; i < N; i++)
		first[i] = who_got(&old[i], actives);

	/* m3 joins: about a third of the slots move to it */
	ln_addr16(fam, fam == AF_INET ? ln_nodes[LN_M3].a4 : ln_nodes[LN_M3].a6, mc.addr);
	if (us_dp_set_machine(g_dp, &mc) || learn_all() ||
	    us_dp_rebuild(g_dp, fam == AF_INET ? SVC4 : SVC6, US_POOL_ACTIVE)) {
		th_fail("adding m3", us_dp_error(g_dp), "ok");
		return;
	}
	for (int i = 0; i < N; i++)
		would_move += predict_active(&old[i]) != first[i];
	snprintf(w, sizeof(w), "calls in progress whose slot now names another machine (of %d)", N);
	expect_range(w, would_move, 1, N);

	for (int i = 0; i < N; i++) {
		call_send(&old[i], M_ACK);
		call_send(&old[i], M_BYE);
	}
	for (int i = 0; i < N; i++) {
		call_init(&fresh[i], fam, "sticky-new", i);
		call_send(&fresh[i], M_INVITE);
	}
	pump();
	for (int i = 0; i < N; i++) {
		if (first[i] < 0 || mcount(first[i], &old[i], NULL) != 3 ||
		    who_got(&old[i], actives | BIT(LN_M3)) != first[i])
			moved++;
		unanswered += ccount(&old[i], "BYE", 200, first[i]) != 1;
	}
	th_eq("calls in progress not wholly at their first machine", moved, 0);
	th_eq("calls in progress without a 200 to BYE from their machine", unanswered, 0);
	for (int i = 0; i < N; i++) {
		int got = who_got(&fresh[i], actives | BIT(LN_M3));

		to_m3 += got == LN_M3;
		fresh_wrong += got != predict_active(&fresh[i]);
	}
	snprintf(w, sizeof(w), "new calls placed on m3 (of %d)", N);
	expect_range(w, to_m3, 1, N - 1);
	th_eq("new calls not at the machine the new table names", fresh_wrong, 0);
}

/* 7: a rejected simulation machine gets nothing more, calls in progress
 * included. */
static void t_rejected(int fam)
{
	const unsigned actives = BIT(LN_M1) | BIT(LN_M2);
	int sim0 = g_client_5xx_from_sim, a;
	struct call c1, c2;

	CONFIGURE(fam, actives, BIT(LN_S1), 0, US_SHARE_MAX);
	call_init(&c1, fam, "rejected-before", 0);
	call_init(&c2, fam, "rejected-after", 0);
	call_send(&c1, M_INVITE);
	pump();
	th_eq("INVITE copies at s1 before rejection", mcount(LN_S1, &c1, "INVITE"), 1);

	if (us_dp_set_state(g_dp, mid_of(LN_S1, fam), US_MS_REJECTED)) {
		th_fail("us_dp_set_state rejected", us_dp_error(g_dp), "ok");
		return;
	}
	stats_mark();
	call_send(&c1, M_ACK);
	call_send(&c1, M_BYE);
	pump();
	a = who_got(&c1, actives);
	expect_ok("call in progress: at one active machine", a >= 0);
	if (a >= 0)
		th_eq("call in progress: messages at its active machine", mcount(a, &c1, NULL), 3);
	th_eq("call in progress: ACK+BYE copies at s1 after rejection",
		  mcount(LN_S1, &c1, NULL) - 1, 0);
	th_eq("call in progress: 200 to BYE at the client", ccount(&c1, "BYE", 200, a), 1);

	whole_call(&c2, predict_active(&c2), -1, actives, BIT(LN_S1) | BIT(LN_S2));
	th_eq("stat req_mirrored after rejection", stat_delta(US_ST_REQ_MIRRORED), 0);
	th_eq("stat req_fwd after rejection", stat_delta(US_ST_REQ_FWD), 5);
	th_eq("client responses from a simulation machine", g_client_5xx_from_sim - sim0, 0);
}

/* 8: a draining machine keeps its calls and takes no new ones; once
 * removed, its calls go on at another machine. */
static void t_drain_remove(int fam)
{
	enum { N = 40, NF = 20 };
	const unsigned actives = BIT(LN_M1) | BIT(LN_M2);
	static struct call cs[N], fresh[NF];
	int first[N], on_m2 = 0, kept = 0, fresh_m2 = 0, fresh_lost = 0, moved_ok = 0, m1_kept = 0;
	__u32 svc = fam == AF_INET ? SVC4 : SVC6;

	CONFIGURE(fam, actives, 0, 0, 0);
	stats_mark();
	for (int i = 0; i < N; i++) {
		call_init(&cs[i], fam, "drain", i);
		call_send(&cs[i], M_INVITE);
	}
	pump();
	for (int i = 0; i < N; i++) {
		first[i] = who_got(&cs[i], actives);
		on_m2 += first[i] == LN_M2;
	}
	expect_range("calls placed on m2 before draining", on_m2, 1, N - 1);

	/* draining: in-dialog ACKs still reach m2, new calls do not */
	if (us_dp_set_state(g_dp, mid_of(LN_M2, fam), US_MS_DRAINING) ||
	    us_dp_rebuild(g_dp, svc, US_POOL_ACTIVE)) {
		th_fail("draining m2", us_dp_error(g_dp), "ok");
		return;
	}
	for (int i = 0; i < N; i++)
		call_send(&cs[i], M_ACK);
	for (int i = 0; i < NF; i++) {
		call_init(&fresh[i], fam, "drain-new", i);
		call_send(&fresh[i], M_INVITE);
	}
	pump();
	for (int i = 0; i < N; i++)
		kept += first[i] >= 0 && mcount(first[i], &cs[i], "ACK") == 1 &&
			who_got(&cs[i], actives) == first[i];
	th_eq("calls whose ACK reached their machine while m2 drains", kept, N);
	for (int i = 0; i < NF; i++) {
		fresh_m2 += mcount(LN_M2, &fresh[i], NULL);
		fresh_lost += ccount(&fresh[i], "INVITE", 200, LN_M1) != 1;
	}
	th_eq("new calls' messages at draining m2", fresh_m2, 0);
	th_eq("new calls not answered by m1 while m2 drains", fresh_lost, 0);

	/* removed: m2's calls go on at m1 (the only machine left) */
	if (us_dp_set_state(g_dp, mid_of(LN_M2, fam), US_MS_REMOVED) ||
	    us_dp_rebuild(g_dp, svc, US_POOL_ACTIVE)) {
		th_fail("removing m2", us_dp_error(g_dp), "ok");
		return;
	}
	for (int i = 0; i < N; i++)
		call_send(&cs[i], M_BYE);
	pump();
	for (int i = 0; i < N; i++) {
		if (first[i] == LN_M2)
			moved_ok += mcount(LN_M2, &cs[i], "BYE") == 0 && mcount(LN_M1, &cs[i], "BYE") == 1 &&
				    ccount(&cs[i], "BYE", 200, LN_M1) == 1;
		else if (first[i] == LN_M1)
			m1_kept += mcount(LN_M1, &cs[i], "BYE") == 1;
	}
	th_eq("removed m2's calls whose BYE m1 received and answered", moved_ok, on_m2);
	th_eq("m1's calls whose BYE m1 received", m1_kept, N - on_m2);
	th_eq("stat no_machine", stat_delta(US_ST_NO_MACHINE), 0);
}

/* 7: a control machine (m3, the active version) gets a third copy of every
 * mirrored message, its own dialog too; its pairs count on the simulation
 * machine as well. */
static void t_control(int fam)
{
	const unsigned actives = BIT(LN_M1) | BIT(LN_M2);
	struct us_mstats s0, s1;
	struct call c;
	char w[160];
	int want;

	g_control = BIT(LN_M3);
	CONFIGURE(fam, actives, BIT(LN_S1), 0, US_SHARE_MAX);
	g_control = 0;
	us_dp_read_mstats(g_dp, mid_of(LN_S1, fam), &s0);
	stats_mark();
	call_init(&c, fam, fam == AF_INET ? "control4" : "control6", 0);
	want = predict_active(&c);
	call_send(&c, M_INVITE);
	pump();
	call_send(&c, M_ACK);
	call_send(&c, M_BYE);
	pump();
	for (int n = 0; n < LN_NNODES; n++) {
		static const char *const meth[] = { "INVITE", "ACK", "BYE" };
		int get = n == want || n == LN_S1 || n == LN_M3;

		for (int m = M_INVITE; m <= M_BYE; m++) {
			snprintf(w, sizeof(w), "call %s: %s copies received by %s", c.id, meth[m],
				 ln_nodes[n].name);
			th_eq(w, mcount(n, &c, meth[m]), get);
			if (get) {
				snprintf(w, sizeof(w), "call %s: %s at %s what was sent%s", c.id, meth[m],
					 ln_nodes[n].name,
					 n != want && m != M_INVITE ? ", naming its own dialog" : "");
				expect_ok(w, mintact(n, &c, m, want));
			}
		}
	}
	th_eq("client: 200 to INVITE from the active machine only", ccount(&c, "INVITE", 0, -2), 1);
	th_eq("client: 200 to BYE from the active machine only", ccount(&c, "BYE", 0, -2), 1);
	th_eq("stat req_mirrored", stat_delta(US_ST_REQ_MIRRORED), 3);
	th_eq("stat dialog_rewritten (ACK and BYE, two shadows)", stat_delta(US_ST_DLG_REWRITTEN), 4);
	us_dp_read_mstats(g_dp, mid_of(LN_S1, fam), &s1);
	th_eq("s1: the control's pairs, 2xx/2xx", (long long)(s1.ctl.out[US_O_2XX][US_O_2XX] -
							     s0.ctl.out[US_O_2XX][US_O_2XX]), 2);
	th_eq("s1: its own pairs, 2xx/2xx", (long long)(s1.pair.out[US_O_2XX][US_O_2XX] -
						       s0.pair.out[US_O_2XX][US_O_2XX]), 2);
}

struct test {
	const char *what;
	void (*fn)(int fam);
	int fam;
};

static const struct test tests[] = {
	{ "shared_iface_mirror",   t_shared_mirror,   AF_INET },
	{ "separate_iface_mirror", t_separate_mirror, AF_INET },
	{ "share_whole_calls",     t_share,           AF_INET },
	{ "sim_stray_dropped",     t_stray,           AF_INET },
	{ "sticky_table_change",   t_sticky,          AF_INET },
	{ "shared_iface_mirror",   t_shared_mirror,   AF_INET6 },
	{ "rejected_sim_machine",  t_rejected,        AF_INET },
	{ "separate_iface_mirror", t_separate_mirror, AF_INET6 },
	{ "sim_stray_dropped",     t_stray,           AF_INET6 },
	{ "drain_then_remove",     t_drain_remove,    AF_INET },
	{ "drain_then_remove",     t_drain_remove,    AF_INET6 },
	{ "control_machine",       t_control,         AF_INET },
	{ "control_machine",       t_control,         AF_INET6 },
};
#define NTESTS ((int)(sizeof(tests) / sizeof(tests[0])))

static void test_name(const struct test *t, char *buf, size_t cap)
{
	snprintf(buf, cap, "live_%s_%s", t->what, t->fam == AF_INET ? "ipv4" : "ipv6");
}

/* ---- main ------------------------------------------------------------------------ */

int main(void)
{
	static const struct ln_opts lo = {
		.tag = "test_live",
		.ns_prefix = "ust",
		.pin_prefix = "understudy-live-",
		.alarm_s = 240,                 /* a hung run still tears down */
		.teardown = close_dp,
	};
	const char *why;
	int passed = 0, failed = 0;
	long long t0 = ln_now_ms();

	setvbuf(stdout, NULL, _IOLBF, 0);
	why = ln_unavailable();
	if (why) {
		printf("SKIP test_live: %s\n", why);
		return LN_SKIP_RC;
	}
	if (ln_init(&lo)) {
		printf("SKIP test_live: %s\n", ln_err);
		return LN_SKIP_RC;
	}
	g_mrx = calloc(LOG_MAX, sizeof(*g_mrx));
	g_crx = calloc(LOG_MAX, sizeof(*g_crx));
	if (!g_mrx || !g_crx)
		return 1;

	if (ln_build() || open_sockets() || setup_dp()) {
		snprintf(th_cname, sizeof(th_cname), "setup");
		fail_setup();
		ln_teardown();
		for (int i = 0; i < NTESTS; i++) {
			char name[64];

			test_name(&tests[i], name, sizeof(name));
			printf("test:FAIL:%s setup actual failed expected ok\n", name);
		}
		printf("0 passed, %d failed\n", NTESTS);
		return 1;
	}

	for (int i = 0; i < NTESTS; i++) {
		test_name(&tests[i], th_cname, sizeof(th_cname));
		th_cfails = 0;
		tests[i].fn(tests[i].fam);
		if (th_cfails) {
			failed++;
		} else {
			passed++;
			printf("PASS %s\n", th_cname);
		}
	}

	if (getenv("TEST_LIVE_STATS")) {
		__u64 st[US_ST_MAX];

		us_dp_read_stats(g_dp, st);
		for (int s = 0; s < US_ST_MAX; s++)
			if (st[s])
				fprintf(stderr, "  %-18s %llu\n", us_stat_name(s), (unsigned long long)st[s]);
	}
	ln_teardown();
	printf("# %lld ms\n", ln_now_ms() - t0);
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
