// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * understudy data-plane fuzz test: a deterministic mutation fuzzer that
 * drives the real XDP programs through BPF_PROG_TEST_RUN, in a network
 * namespace of our own (tests/testnet) with a private pin root, like
 * tests/test_xdp.c.
 *
 * Set-up: services with share 10000 (every call would be mirrored): IPv4
 * 198.18.100.1:5060 (a1, a2 active, a3 draining, s1 simulation behind the
 * same interface as the actives), IPv6 2001:db8:100::1:5060 (b1 active, b2
 * rejected, s2 simulation behind its own interface) and 198.18.100.2:5060
 * (a simulation machine only: NO_MACHINE). From iteration 4096 on, every
 * 16384 iterations the roles flip (phase B: s1 promoted to active, a2
 * demoted to simulation, b1 draining, b2 active) and back, so that
 * promoted machines answer mirrored transactions, calls are re-balanced
 * and draining machines finish theirs.
 *
 * Seeds (templates, built with tests/pktbuild): client requests of every
 * method (and an extension method, and one of 16 characters) over IPv4 and
 * IPv6 with 0-2 VLAN tags; compact, lower-case, spaced, folded and LF-only
 * headers; Via chains of up to 3000 bytes; bodies; the ~900-byte typical
 * INVITE; a payload near 4096 bytes; client responses; requests to the
 * service without an active machine; responses 1xx-6xx and requests from
 * active, draining, rejected and simulation machines; stray traffic from
 * simulation machines. Call-IDs come mostly from a small pool so that
 * machine responses meet the transactions client requests opened
 * (retransmissions, pairing, difference events).
 *
 * Every iteration i derives its own generator state from (seed, i) and
 * takes a template, then: ~10 % unmutated; ~55 % SIP-text mutations with
 * the frame rebuilt (IP/UDP lengths and checksums right, so the SIP parser
 * is reached); ~35 % frame mutations with nothing fixed up (after text
 * mutations or not). Text mutations: bit flips, byte overwrites with
 * interesting values, insert/delete/duplicate byte runs and whole lines,
 * line swaps, header lines of interest inserted, header-name case flips,
 * Call-IDs of 250-300 (and 1000) bytes, method tokens of 15-40 bytes (also
 * in CSeq), CRLF/LF/CR swaps, folds, number replacements, truncation,
 * splices, payload sizes near 4096/4097 and frame sizes near the 3520-byte
 * linear limit. Frame mutations: bit flips and byte overwrites anywhere
 * (mostly L2-L4), truncation (also below 14 bytes), length fields set to
 * odd values, trailers, EtherType/VLAN changes, IPv4 IHL/fragment bits,
 * IPv6 next header, interesting addresses, payload mutations whose
 * lengths are left stale.
 *
 * Invariants, checked on every run:
 *   test_run        the test run returns 0 (frames < 14 bytes: EINVAL and
 *                   no counter moves: "refused")
 *   action          XDP_PASS, XDP_DROP or XDP_REDIRECT (never ABORTED/TX)
 *   rx              us_stats RX up by exactly one
 *   outcome         exactly one outcome counter accounts for the packet:
 *                   PASS, REQ_FWD, RESP_FWD, RESP_SIM_DROP, SIM_STRAY_DROP,
 *                   NO_MACHINE, NO_ROUTE or one bad-packet reason
 *                   (BAD_L2 .. TRUNC_BODY) -- the set test_xdp's sweeps use;
 *                   as test_xdp's machine/sim-* cases expect, a simulation
 *                   machine's dropped SIP message (RESP_SIM_DROP) may also
 *                   name the reason it did not parse. No counter goes down.
 *   annotation      the remaining counters only go with their outcome:
 *                   REQ_MIRRORED, RETRANS_REQ, MIRROR_SKIPPED with REQ_FWD
 *                   (not both of mirrored and skipped); RESP_NO_TXN,
 *                   RETRANS_RESP (not both) and EVENTS* with a machine-side
 *                   RESP_FWD, RESP_SIM_DROP or NO_ROUTE; each at most one
 *   bad-mirrored    a bad-packet reason went up: REQ_MIRRORED did not, and
 *                   the action is not XDP_REDIRECT (client side; the
 *                   machine side is covered by action-outcome)
 *   action-outcome  the action is the one the outcome implies (client: PASS,
 *                   BAD_L2, BAD_L3 -> PASS; BAD_L4 -> PASS/DROP; other bad,
 *                   NO_MACHINE, NO_ROUTE -> DROP; REQ_FWD -> REDIRECT.
 *                   machine: PASS, bad, NO_ROUTE -> PASS; RESP_SIM_DROP,
 *                   SIM_STRAY_DROP -> DROP; RESP_FWD -> REDIRECT)
 *   out-len         output length: the input's, or input + 32 bytes of
 *                   metadata exactly when mirrored
 *   out-frame       PASS/DROP: frame unchanged; REDIRECT: only the MACs
 *                   changed (mirrored: frame unchanged behind the metadata),
 *                   the source MAC the balancer's, the destination a machine
 *                   now active or draining (client side) or a known
 *                   neighbour (machine side); the metadata names such a
 *                   machine and one now in simulation
 *   event           every difference event counted is in the ring buffer,
 *                   with sane contents
 *   fixed-up        a frame built whole (unmutated or text-mutated, not
 *                   stray): no BAD_L2/L3/L4, FRAGMENT or PASS, and OVERSIZE
 *                   exactly when the payload is over US_SIP_MAX
 *   affinity        an unmutated client message forwarded: its Call-ID's
 *                   us_calls entry names the active machine it went to and,
 *                   when mirrored, the simulation machine of the copy; a
 *                   call recorded as mirrored is mirrored (or the mirror is
 *                   counted as skipped)
 *   oracle          where one text mutation has a verdict known by
 *                   construction, the parser gives it: unmutated ->
 *                   accepted; a Call-ID of n bytes replacing the real one ->
 *                   accepted up to 255, NO_CALLID from 256; a method token
 *                   of n characters (start line or CSeq) -> accepted up to
 *                   16 if the methods still agree, NO_CSEQ if not, NOT_SIP /
 *                   NO_CSEQ from 17; header-name case flips -> accepted;
 *                   every CRLF made LF -> TRUNC_BODY with a body, else
 *                   accepted; the only Via / the Call-ID / CSeq deleted ->
 *                   NO_VIA / NO_CALLID / NO_CSEQ, another header deleted or
 *                   a line doubled in place -> accepted; grown to a size ->
 *                   accepted; all of them OVERSIZE over US_SIP_MAX
 *   stale           one run in 16 is made twice, after two runs that fill
 *                   the per-CPU scratch buffer with different bytes: the
 *                   parser's verdict (bad reason or none) is the same (the
 *                   second run is held to every invariant too)
 *   slow / hang     one run over 1 s; no run returning for 20 s (a watchdog
 *                   thread reports and exits)
 *
 * Cases ("N passed, N failed"): "setup"; "seeds" (every template,
 * unmutated, passes the invariants and is accepted: forwarded, or dropped
 * as a simulation machine's message / stray); one case per batch of 1000
 * fuzz iterations (failed if any invariant was violated in it); and
 * "seeds-after" (the same once the fuzzing is over: the data plane still
 * forwards valid traffic).
 *
 * Output: "test:FAIL:fuzz <invariant> seed <s> iter <i>" for each violated
 * invariant, then the run's details and a hex dump of the frame; the fuzzing
 * stops after US_FUZZ_MAXFAIL (20) failed runs. Exit status 1 on any
 * failure. Environment: US_FUZZ_SEED (default 0x5eed5eed), US_FUZZ_ITERS
 * (default 500000: about 8 s on this 2-vCPU machine when idle, about 15 s
 * with another process keeping a CPU busy), US_FUZZ_FIRST (first iteration
 * number, to start near a reported one), US_FUZZ_MAXFAIL (20),
 * US_TEST_VERBOSE=1 (per-case lines and mutation counts).
 *
 * The frames are a function of (seed, iteration) alone; what the programs do
 * with them also depends on the map state earlier iterations left (calls,
 * transactions), which is cleared every 8192 iterations, and on the
 * phase (both by absolute iteration number).
 */
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <linux/if_ether.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "dp.h"
#include "understudy.skel.h"
#include "harness.h"
#include "pktbuild.h"
#include "testnet.h"

#define FRAME_MAX TH_FRAME_MAX
#define TEXT_CAP FRAME_MAX      /* a whole frame's payload fits */
#define BATCH 1000
#define LRU_RESET_EVERY 8192
#define DEFAULT_SEED 0x5eed5eedull
#define DEFAULT_ITERS 500000ull
#define DEFAULT_MAXFAIL 20
#define HANG_SECONDS 20
#define SLOW_NS 1000000000ull
#define POOL 40                 /* Call-IDs shared by requests and responses */
#define PIN_PREFIX "understudy-fuzz"   /* pins: /sys/fs/bpf/understudy-fuzz-<pid> */

/* ---- the data plane -------------------------------------------------------- */

enum { SVC4 = 0, SVC6 = 1, SVC_NOMACH = 2, NSVC };
static const char *const svc_vip[NSVC] = { "198.18.100.1", "2001:db8:100::1", "198.18.100.2" };

struct mach {
	__u32 mid;
	__u32 svc;
	int host;               /* its address and MAC */
	enum us_mstate state;   /* in phase A */
	enum us_mstate state_b; /* in phase B */
	bool no_mac;            /* not told by its MAC (shares a host's address) */
};

/* Phase A and B alternate every PHASE_LEN iterations: s1 promoted, a2
 * demoted to simulation, b1 draining, the rejected b2 active; and back. */
static const struct mach machs[] = {
	{ 0, SVC4, TN_A1, US_MS_ACTIVE, US_MS_ACTIVE, false },
	{ 3, SVC4, TN_S1, US_MS_SIMULATION, US_MS_ACTIVE, false },
	{ 1, SVC4, TN_A2, US_MS_ACTIVE, US_MS_SIMULATION, false },
	{ 2, SVC4, TN_A3, US_MS_DRAINING, US_MS_DRAINING, false },
	{ 11, SVC6, TN_B2, US_MS_REJECTED, US_MS_ACTIVE, false },
	{ 10, SVC6, TN_B1, US_MS_ACTIVE, US_MS_DRAINING, false },
	{ 12, SVC6, TN_S2, US_MS_SIMULATION, US_MS_SIMULATION, false },
	/* the only machine of a service without active ones: NO_MACHINE */
	{ 20, SVC_NOMACH, TN_S2, US_MS_SIMULATION, US_MS_SIMULATION, true },
};

#define PHASE_LEN 16384
#define PHASE_START 4096
static enum us_mstate mst[ARRAY_SIZE(machs)];   /* states now */
static int phase;                                /* 0: A, 1: B */

static const struct mach *mach_by_mid(__u32 mid)
{
	for (size_t i = 0; i < ARRAY_SIZE(machs); i++)
		if (machs[i].mid == mid)
			return &machs[i];
	return NULL;
}

static enum us_mstate mstate_of(const struct mach *m)
{
	return mst[m - machs];
}

static bool takes_traffic(enum us_mstate st)
{
	return st == US_MS_ACTIVE || st == US_MS_DRAINING;
}

/* the machine a frame from this MAC on this interface comes from */
static const struct mach *mach_by_mac(const __u8 *mac, int ifc)
{
	for (size_t i = 0; i < ARRAY_SIZE(machs); i++)
		if (!machs[i].no_mac && !memcmp(mac, testnet.hosts[machs[i].host].mac, 6) &&
		    (int)testnet.hosts[machs[i].host].ifc == ifc)
			return &machs[i];
	return NULL;
}

static bool mac_is_host(const __u8 *mac, int host)
{
	return !memcmp(mac, testnet.hosts[host].mac, 6);
}

/* a MAC of a machine now in one of the states (bit per state) */
static bool mac_in_states(const __u8 *mac, unsigned states)
{
	for (size_t i = 0; i < ARRAY_SIZE(machs); i++)
		if (!machs[i].no_mac && (states & (1u << mst[i])) &&
		    mac_is_host(mac, machs[i].host))
			return true;
	return false;
}
#define ST(s) (1u << (s))

static bool mac_is_any_host(const __u8 *mac)
{
	for (int h = 0; h < TN_NHOSTS; h++)
		if (mac_is_host(mac, h))
			return true;
	return false;
}

static bool mac_is_iface(const __u8 *mac)
{
	for (int i = 0; i < TN_NIFS; i++)
		if (!memcmp(mac, testnet.ifs[i].mac, 6))
			return true;
	return false;
}

/* ---- counters ---------------------------------------------------------------- */

static const int outcome_stats[] = {
	US_ST_PASS, US_ST_REQ_FWD, US_ST_RESP_FWD, US_ST_RESP_SIM_DROP, US_ST_SIM_STRAY_DROP,
	US_ST_NO_MACHINE, US_ST_NO_ROUTE, US_ST_DLG_ACK_SENT, US_ST_DLG_ANSWERED,
};

/* Clearing the transactions also cancels their deadline timers (set at
 * 32 s here): no pair closes on a timer in the middle of a run. */
static void lru_reset(void)
{
	th_map_clear(th.fd_calls, sizeof(struct us_call_key));
	th_map_clear(th.fd_txns, sizeof(struct us_txn_key));
	th_map_clear(bpf_map__fd(th.sk->maps.us_dlgs), sizeof(struct us_call_key));
}

/* ---- generator ------------------------------------------------------------------ */

static __u64 rng;

static __u64 rnd(void)
{
	__u64 z = (rng += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static size_t rn(size_t n)
{
	return n ? (size_t)(rnd() % n) : 0;
}

static bool chance(unsigned pct)
{
	return rn(100) < pct;
}

static void rng_iter(__u64 seed, __u64 iter)
{
	rng = seed ^ (iter * 0xd1b54a32d192ed03ull);
	rnd();
	rnd();
}

/* ---- templates ------------------------------------------------------------------- */

enum { TK_SIP = 0, TK_TYPICAL, TK_STRAY };

struct tmpl {
	char name[64];
	bool machine;
	int host;               /* sender: TN_CLIENT or a machine */
	int fam;
	int svc;                /* the service it is for */
	int nvlan;
	int kind;
	bool no_branch;
	bool any_cseq_method;   /* response: CSeq method chosen per iteration */
	struct sip_msg m;       /* method/status and style; Call-ID etc. per iteration */
	const char *stray_daddr;
};

static struct tmpl tmpls[256];
static int ntmpl;

static const char *const methods[] = {
	"INVITE", "ACK", "BYE", "CANCEL", "REGISTER", "OPTIONS", "PRACK", "SUBSCRIBE",
	"NOTIFY", "PUBLISH", "INFO", "REFER", "MESSAGE", "UPDATE", "FOO", "X-EXTENSION-16CH",
};

static struct tmpl *tmpl_add(const char *name, bool machine, int host, int fam, int nvlan)
{
	struct tmpl *t = &tmpls[ntmpl < (int)ARRAY_SIZE(tmpls) - 1 ? ntmpl++ : ntmpl];

	memset(t, 0, sizeof(*t));
	snprintf(t->name, sizeof(t->name), "%s", name);
	t->machine = machine;
	t->host = host;
	t->fam = fam;
	t->svc = fam == AF_INET6 ? SVC6 : SVC4;
	t->nvlan = nvlan;
	return t;
}

static void tmpls_init(void)
{
	static const int codes[] = { 100, 180, 183, 200, 202, 302, 401, 404, 407, 408, 480,
				     481, 486, 487, 500, 503, 504, 603, 699 };
	static const int mhosts[] = { TN_A1, TN_A2, TN_S1, TN_B1, TN_S2, TN_B2, TN_A3 };
	static const char wsp_hdrs[] =
		"Via:\tSIP/2.0/UDP 198.18.0.1:5060;rport;received=198.18.0.1\r\n"
		"X-Odd :  value ; with = params , and , commas\r\n"
		"Subject: folded\r\n\tover two lines\r\n";
	char name[64];
	struct tmpl *t;

	/* client requests: every method, IPv4 and IPv6, 0-2 tags */
	for (size_t i = 0; i < ARRAY_SIZE(methods); i++) {
		for (int v6 = 0; v6 < 2; v6++) {
			const char *me = methods[i];
			bool body = !strcmp(me, "INVITE") || !strcmp(me, "UPDATE") ||
				    !strcmp(me, "MESSAGE") || !strcmp(me, "INFO") ||
				    !strcmp(me, "NOTIFY") || !strcmp(me, "PUBLISH");

			snprintf(name, sizeof(name), "client/%s/%s", me, v6 ? "v6" : "v4");
			t = tmpl_add(name, false, TN_CLIENT, v6 ? AF_INET6 : AF_INET,
				     (int)(i + (size_t)v6) % 3);
			t->m.method = me;
			t->m.body_len = body ? 120 + 40 * (i % 5) : 0;
			/* in-dialog requests name the active machine's tag: in a
			 * mirrored call their copies are rewritten */
			if (!strcmp(me, "BYE") || !strcmp(me, "ACK") || !strcmp(me, "PRACK") ||
			    !strcmp(me, "INFO") || !strcmp(me, "UPDATE") || !strcmp(me, "REFER"))
				t->m.to_tag = "as83kd9bs";
			if (!strcmp(me, "PRACK"))
				t->m.extra_headers = "RAck: 4711 1 INVITE\r\n";
		}
	}
	/* client INVITE variants */
	for (int v6 = 0; v6 < 2; v6++) {
		static const struct { const char *n; struct sip_msg m; bool nb; int vl; } var[] = {
			{ "compact", { .compact = true, .body_len = 300 }, false, 0 },
			{ "lower", { .lower_names = true, .body_len = 300 }, false, 1 },
			{ "space-colon", { .space_colon = true }, false, 2 },
			{ "folded", { .fold_callid = true, .body_len = 200 }, false, 0 },
			{ "lf-only", { .lf_only = true, .body_len = 300 }, false, 1 },
			{ "all-styles", { .compact = true, .lower_names = true, .space_colon = true,
					  .fold_callid = true, .lf_only = true, .body_len = 100 },
			  false, 2 },
			{ "via-200", { .via_padding = 200 }, false, 0 },
			{ "via-1300", { .via_padding = 1300, .body_len = 300 }, false, 1 },
			{ "via-3000", { .via_padding = 3000 }, false, 2 },
			{ "body-1200", { .body_len = 1200 }, false, 0 },
			{ "body-near-4096", { .body_len = 3560 }, false, 0 },
			{ "no-branch", { .body_len = 300 }, true, 1 },
			{ "no-content-length", { .omit_content_length = true }, false, 2 },
			{ "in-dialog", { .to_tag = "as83kd9bs", .body_len = 250 }, false, 0 },
			{ "odd-whitespace", { .extra_headers = wsp_hdrs }, false, 1 },
		};

		for (size_t i = 0; i < ARRAY_SIZE(var); i++) {
			snprintf(name, sizeof(name), "client/INVITE-%s/%s", var[i].n, v6 ? "v6" : "v4");
			t = tmpl_add(name, false, TN_CLIENT, v6 ? AF_INET6 : AF_INET, var[i].vl);
			t->m = var[i].m;
			t->m.method = "INVITE";
			t->no_branch = var[i].nb;
		}
		for (int vl = 0; vl < 3; vl++) {
			snprintf(name, sizeof(name), "client/typical-INVITE/%s-vlan%d",
				 v6 ? "v6" : "v4", vl);
			t = tmpl_add(name, false, TN_CLIENT, v6 ? AF_INET6 : AF_INET, vl);
			t->kind = TK_TYPICAL;
			t->m.method = "INVITE";
		}
		/* a client's responses (to a machine's BYE, re-INVITE) */
		snprintf(name, sizeof(name), "client/resp-200-BYE/%s", v6 ? "v6" : "v4");
		t = tmpl_add(name, false, TN_CLIENT, v6 ? AF_INET6 : AF_INET, v6);
		t->m.status = 200;
		t->m.cseq_method = "BYE";
		snprintf(name, sizeof(name), "client/resp-180/%s", v6 ? "v6" : "v4");
		t = tmpl_add(name, false, TN_CLIENT, v6 ? AF_INET6 : AF_INET, 2);
		t->m.status = 180;
		t->any_cseq_method = true;
	}
	/* a service without an active machine */
	t = tmpl_add("client/no-machine/INVITE", false, TN_CLIENT, AF_INET, 0);
	t->svc = SVC_NOMACH;
	t->m.method = "INVITE";
	t->m.body_len = 200;
	t = tmpl_add("client/no-machine/OPTIONS", false, TN_CLIENT, AF_INET, 1);
	t->svc = SVC_NOMACH;
	t->m.method = "OPTIONS";
	/* machine responses: every class, every machine, styles */
	for (size_t i = 0; i < ARRAY_SIZE(codes); i++) {
		for (size_t j = 0; j < 2; j++) {
			int host = mhosts[(i + j * 3) % ARRAY_SIZE(mhosts)];
			int fam = host == TN_B1 || host == TN_B2 || host == TN_S2 ? AF_INET6 : AF_INET;

			snprintf(name, sizeof(name), "machine/%s/%d%s", testnet.hosts[host].name,
				 codes[i], j ? "-styled" : "");
			t = tmpl_add(name, true, host, fam, (int)(i % 3));
			t->m.status = codes[i];
			t->any_cseq_method = true;
			/* simulation machines choose tags of their own (another
			 * length: rewritten copies change size) */
			if (host == TN_S1 || host == TN_S2)
				t->m.to_tag = j ? "s" : "sim-tag-0123456789-abcdefghij";
			if (codes[i] == 183)
				t->m.extra_headers = host == TN_S1 || host == TN_S2 ?
					"Require: 100rel\r\nRSeq: 97\r\n" :
					"Require: 100rel\r\nRSeq: 4711\r\n";
			if (codes[i] == 200 && !j)
				t->m.body_len = 300;
			if (j) {
				switch (i % 5) {
				case 0: t->m.compact = true; break;
				case 1: t->m.lf_only = true; break;
				case 2: t->m.fold_callid = true; t->m.lower_names = true; break;
				case 3: t->m.via_padding = 1500; break;
				case 4: t->m.space_colon = true; t->m.body_len = 500; break;
				}
			}
		}
	}
	/* machine requests */
	t = tmpl_add("machine/a1/BYE", true, TN_A1, AF_INET, 0);
	t->m.method = "BYE";
	t->m.to_tag = "as83kd9bs";
	t = tmpl_add("machine/b1/re-INVITE", true, TN_B1, AF_INET6, 1);
	t->m.method = "INVITE";
	t->m.body_len = 300;
	t = tmpl_add("machine/s1/BYE", true, TN_S1, AF_INET, 2);
	t->m.method = "BYE";
	t = tmpl_add("machine/s2/NOTIFY", true, TN_S2, AF_INET6, 0);
	t->m.method = "NOTIFY";
	t->m.body_len = 100;
	t = tmpl_add("machine/s1/re-INVITE", true, TN_S1, AF_INET, 1);
	t->m.method = "INVITE";
	t->m.to_tag = "1928301774";
	t->m.body_len = 200;
	t = tmpl_add("machine/s1/ACK", true, TN_S1, AF_INET, 0);
	t->m.method = "ACK";
	t->m.to_tag = "1928301774";
	t = tmpl_add("machine/s2/UPDATE", true, TN_S2, AF_INET6, 2);
	t->m.method = "UPDATE";
	t->m.to_tag = "1928301774";
	/* stray traffic from simulation machines */
	t = tmpl_add("machine/s1/stray-to-client", true, TN_S1, AF_INET, 0);
	t->kind = TK_STRAY;
	t->m.method = "INVITE";
	t->stray_daddr = "198.18.0.1";
	t = tmpl_add("machine/s2/stray-to-client", true, TN_S2, AF_INET6, 1);
	t->kind = TK_STRAY;
	t->m.method = "OPTIONS";
	t->stray_daddr = "2001:db8::1";
}

/* ---- text buffer ------------------------------------------------------------------ */

struct txt {
	char b[TEXT_CAP];
	size_t n;
};

static void t_ins(struct txt *t, size_t pos, const void *src, size_t k)
{
	char tmp[TEXT_CAP];

	if (pos > t->n)
		pos = t->n;
	if (k > TEXT_CAP - t->n)
		k = TEXT_CAP - t->n;
	if (!k)
		return;
	memcpy(tmp, src, k);            /* src may point into t */
	memmove(t->b + pos + k, t->b + pos, t->n - pos);
	memcpy(t->b + pos, tmp, k);
	t->n += k;
}

static void t_del(struct txt *t, size_t pos, size_t k)
{
	if (pos >= t->n)
		return;
	if (k > t->n - pos)
		k = t->n - pos;
	memmove(t->b + pos, t->b + pos + k, t->n - pos - k);
	t->n -= k;
}

static void t_repl(struct txt *t, size_t pos, size_t k, const void *src, size_t m)
{
	char tmp[TEXT_CAP];

	if (m > sizeof(tmp))
		m = sizeof(tmp);
	memcpy(tmp, src, m);
	t_del(t, pos, k);
	t_ins(t, pos, tmp, m);
}

static size_t t_lines(const struct txt *t, size_t *st, size_t max)
{
	size_t k = 0;

	if (max)
		st[k++] = 0;
	for (size_t i = 0; i < t->n && k < max; i++)
		if (t->b[i] == '\n' && i + 1 < t->n)
			st[k++] = i + 1;
	return k;
}

static size_t t_line_end(const struct txt *t, size_t s)
{
	while (s < t->n && t->b[s] != '\n')
		s++;
	return s < t->n ? s + 1 : s;
}

/* the end of the header section (after the empty line), or n */
static size_t t_hdr_end(const struct txt *t)
{
	for (size_t i = 0; i + 1 < t->n; i++) {
		if (t->b[i] == '\n' && t->b[i + 1] == '\n')
			return i + 2;
		if (i + 3 < t->n && !memcmp(t->b + i, "\r\n\r\n", 4))
			return i + 4;
	}
	return t->n;
}

/* a line whose name starts like name (case-insensitive); its start or -1 */
static long t_find_line(const struct txt *t, const char *name)
{
	size_t st[2048], nl = t_lines(t, st, ARRAY_SIZE(st)), k = strlen(name);

	for (size_t i = 0; i < nl; i++)
		if (st[i] + k <= t->n && !strncasecmp(t->b + st[i], name, k))
			return (long)st[i];
	return -1;
}

static const __u8 interesting[] = {
	':', ' ', '\t', '\r', '\n', ';', ',', '=', 0, 0x7f, 0x80, 0xff,
	'0', '1', '2', '5', '9', '/', '<', '@', 'a', 'Z', 0x20 ^ 'v',
};

static __u8 ibyte(void)
{
	if (chance(10))
		return (__u8)('0' + rn(10));
	if (chance(10))
		return (__u8)rnd();
	return interesting[rn(ARRAY_SIZE(interesting))];
}

/* Somewhere worth changing: anywhere, near a line start, or at a delimiter;
 * in the header section four times out of five. */
static size_t pick_pos(const struct txt *t)
{
	size_t he = t_hdr_end(t), lim = chance(80) ? he : t->n;
	size_t st[2048], nl;

	if (!t->n)
		return 0;
	switch (rn(4)) {
	case 0:
		return rn(lim + 1);
	case 1:
	case 2:
		nl = t_lines(t, st, ARRAY_SIZE(st));
		{
			size_t s = st[rn(nl)], o = rn(24);

			return s + o < t->n ? s + o : s;
		}
	default: {
		size_t p = rn(lim + 1);

		while (p < t->n && !strchr(":;,= \t\r\n/", t->b[p]))
			p++;
		return p <= t->n ? p : t->n;
	}
	}
}

/* Call-ID characters (any above 0x20), or an RFC 3261 token for a method */
static void token_fill(char *b, size_t n, bool method)
{
	static const char word[] = "abcdefghijklmnopqrstuvwxyz0123456789-.!%*_+`'~@<>/:";
	static const char tok[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.!%*_+`'~";

	for (size_t i = 0; i < n; i++)
		b[i] = method ? tok[rn(sizeof(tok) - 1)] : word[rn(sizeof(word) - 1)];
}

static const char *const numbers[] = {
	"0", "00", "1", "99", "100", "199", "200", "699", "700", "999", "1000",
	"2147483647", "2147483648", "4294967295", "4294967296", "99999", "100000",
	"65535", "65536", "-1", "+1", "0000000001", "00000000001", "12345678901234567890", "",
	"1 ", "1\t", "0x10",
};

static const char *const hdr_lines[] = {
	"Via: SIP/2.0/UDP 198.18.0.9:5060;branch=z9hG4bK-extra\r\n",
	"v: SIP/2.0/UDP 198.18.0.9;branch=\r\n",
	"Via:;branch=z\r\n",
	"VIA\t:\tSIP/2.0/UDP x;BRANCH=y,SIP/2.0/UDP z;branch=w\r\n",
	"Via: SIP/2.0/UDP a ; branch = spaced\r\n",
	"Via: SIP/2.0/UDP 198.18.0.1\r\n ;branch=z9hG4bK-folded\r\n",
	"Call-ID: dup@198.18.0.1\r\n",
	"i:\r\n",
	"i :x\r\n",
	"Call-ID:\r\n folded-value@x\r\n",
	"Call-IDx: y\r\n",
	"Call-ID : \r\n",
	"CSeq: 1 INVITE\r\n",
	"CSeq:1 INVITE\r\n",
	"CSeq: 99999999999 INVITE\r\n",
	"CSeq: 2147483648 BYE\r\n",
	"CSeq: 1\r\n",
	"CSeq: 1\r\n INVITE\r\n",
	"CSEQ: 7 X-EXTENSION-16CH\r\n",
	"CSeq: 7 X-EXTENSION-17CHR\r\n",
	"Content-Length: 0\r\n",
	"l: 99999\r\n",
	"Content-Length: 100000\r\n",
	"Content-Length:\r\n",
	"Content-Lengthy: 5\r\n",
	"l:5\r\n",
	"CONTENT-LENGTH  :  4\r\n",
	" continuation\r\n",
	"\tcontinuation\r\n",
	"\r\n",
	"\n",
	"\r\r\n",
	"\r",
	":\r\n",
	"v\r\n",
	"c\r\n",
	"X\r\n",
};

enum {
	TM_BITFLIP, TM_BYTE, TM_INS_RUN, TM_DEL_RUN, TM_DUP_RUN, TM_DEL_LINE, TM_DUP_LINE,
	TM_SWAP_LINES, TM_INS_HDR, TM_CASE, TM_LONG_CALLID, TM_LONG_METHOD, TM_CRLF, TM_FOLD,
	TM_NUMBER, TM_TRUNC, TM_SIZE, TM_SPLICE, TM_MAX,
};

static const char *const tm_names[TM_MAX] = {
	"bitflip", "byte", "ins-run", "del-run", "dup-run", "del-line", "dup-line",
	"swap-lines", "ins-header", "case", "long-callid", "long-method", "crlf", "fold",
	"number", "trunc", "size", "splice",
};

static __u64 tm_count[TM_MAX];
static __u64 oracle_n[US_ST_MAX];     /* runs with a known verdict, by verdict */
static __u64 n_promoted;              /* a promoted machine's answer dropped */

/* What the last text mutation did, for the oracle of single mutations. */
struct tminfo {
	int sub;                /* variant of the operation */
	size_t len;             /* length of the token put in */
	bool in_cseq;           /* long-method: in the CSeq header */
	bool same_place;        /* dup-line: one copy, in place */
	size_t line;            /* start of the line changed */
	char name[32];          /* del-line: header name, lower case */
	int kind;               /* del-line: 0 header, 1 start, 2 blank, 3 continuation, 4 body */
	int nvia;               /* del-line: Via header lines before */
};

static struct tminfo tmi;

static int hdr_name(const struct txt *t, size_t s, char *out, size_t cap)
{
	size_t k = 0;

	while (s + k < t->n && k + 1 < cap && t->b[s + k] != ':' && t->b[s + k] != ' ' &&
	       t->b[s + k] != '\t' && t->b[s + k] != '\r' && t->b[s + k] != '\n') {
		out[k] = (char)tolower((unsigned char)t->b[s + k]);
		k++;
	}
	out[k] = 0;
	return (int)k;
}

static int count_via(const struct txt *t)
{
	size_t st[2048], nl = t_lines(t, st, ARRAY_SIZE(st)), he = t_hdr_end(t);
	char nm[32];
	int n = 0;

	for (size_t i = 1; i < nl && st[i] < he; i++) {
		hdr_name(t, st[i], nm, sizeof(nm));
		n += !strcmp(nm, "via") || !strcmp(nm, "v");
	}
	return n;
}

/* payload offset of the frame being built: for TM_SIZE's frame targets */
static size_t cur_payload_off;

static void text_build(const struct tmpl *tp, struct txt *t, const char *callid,
		       const char *branch, unsigned cseq, const char *cseq_method);

static void tm_apply(struct txt *t, int op, const char *callid)
{
	size_t st[2048], nl, p, k;
	char buf[TEXT_CAP];

	tm_count[op]++;
	memset(&tmi, 0, sizeof(tmi));
	switch (op) {
	case TM_BITFLIP:
		if (t->n) {
			p = chance(50) ? pick_pos(t) : rn(t->n);
			if (p < t->n)
				t->b[p] ^= (char)(1u << rn(8));
		}
		break;
	case TM_BYTE:
		p = pick_pos(t);
		if (p < t->n)
			t->b[p] = (char)ibyte();
		else
			t_ins(t, p, (char[]){ (char)ibyte() }, 1);
		break;
	case TM_INS_RUN:
		k = 1 + rn(chance(80) ? 8 : 64);
		for (size_t i = 0; i < k; i++)
			buf[i] = chance(50) ? (char)ibyte() : chance(50) ? ' ' : (char)('a' + rn(26));
		if (chance(30))
			memset(buf, (char)ibyte(), k);
		t_ins(t, pick_pos(t), buf, k);
		break;
	case TM_DEL_RUN:
		t_del(t, pick_pos(t), 1 + rn(chance(70) ? 8 : 128));
		break;
	case TM_DUP_RUN:
		if (t->n) {
			p = rn(t->n);
			k = 1 + rn(chance(70) ? 16 : 256);
			if (k > t->n - p)
				k = t->n - p;
			t_ins(t, chance(50) ? p : pick_pos(t), t->b + p, k);
		}
		break;
	case TM_DEL_LINE:
		nl = t_lines(t, st, ARRAY_SIZE(st));
		p = st[rn(nl)];
		tmi.line = p;
		tmi.nvia = count_via(t);
		hdr_name(t, p, tmi.name, sizeof(tmi.name));
		tmi.kind = p == 0 ? 1 : p >= t_hdr_end(t) ? 4 :
			   (p < t->n && (t->b[p] == '\r' || t->b[p] == '\n')) ? 2 :
			   (p < t->n && (t->b[p] == ' ' || t->b[p] == '\t')) ? 3 : 0;
		t_del(t, p, t_line_end(t, p) - p);
		break;
	case TM_DUP_LINE: {
		int reps = (int)(chance(80) ? 1 : 1 + rn(40));
		bool same = chance(50);

		nl = t_lines(t, st, ARRAY_SIZE(st));
		p = st[rn(nl)];
		k = t_line_end(t, p) - p;
		memcpy(buf, t->b + p, k);
		tmi.same_place = reps == 1 && same;
		for (int r = reps; r > 0; r--)
			t_ins(t, same ? p : st[rn(nl)], buf, k);
		break;
	}
	case TM_SWAP_LINES: {
		size_t a, b, ae, be;
		char la[TEXT_CAP], lb[TEXT_CAP];

		nl = t_lines(t, st, ARRAY_SIZE(st));
		if (nl < 2)
			break;
		a = st[rn(nl)];
		b = st[rn(nl)];
		if (a > b) {
			size_t x = a;

			a = b;
			b = x;
		}
		if (a == b)
			break;
		ae = t_line_end(t, a);
		be = t_line_end(t, b);
		if (ae > b)
			break;
		memcpy(la, t->b + a, ae - a);
		memcpy(lb, t->b + b, be - b);
		t_repl(t, b, be - b, la, ae - a);
		t_repl(t, a, ae - a, lb, be - b);
		break;
	}
	case TM_INS_HDR: {
		const char *h = hdr_lines[rn(ARRAY_SIZE(hdr_lines))];

		nl = t_lines(t, st, ARRAY_SIZE(st));
		p = chance(90) && nl > 1 ? st[1 + rn(nl - 1)] : st[rn(nl)];
		if (chance(20)) {
			/* a long Via value, branch beyond what is scanned */
			k = (size_t)snprintf(buf, sizeof(buf), "Via: SIP/2.0/UDP 198.18.0.1");
			for (size_t r = 0, rr = 20 + rn(120); r < rr && k < 2000; r++)
				k += (size_t)snprintf(buf + k, sizeof(buf) - k, ";p%zu=v", r);
			k += (size_t)snprintf(buf + k, sizeof(buf) - k, ";branch=z9hG4bK-late\r\n");
			t_ins(t, p, buf, k);
		} else {
			t_ins(t, p, h, strlen(h));
		}
		break;
	}
	case TM_CASE:
		nl = t_lines(t, st, ARRAY_SIZE(st));
		p = st[rn(nl)];
		tmi.line = p;
		for (size_t i = p; i < t->n && i < p + 16 && t->b[i] != ':' && t->b[i] != '\n'; i++)
			if (isalpha((unsigned char)t->b[i]) && (chance(50) || rn(4) == 0))
				t->b[i] ^= 0x20;
		break;
	case TM_LONG_CALLID: {
		static const size_t lens[] = { 1, 63, 64, 65, 247, 248, 254, 255, 256, 257, 263,
					       264, 265, 272, 300, 1000 };
		char *c = callid ? memmem(t->b, t->n, callid, strlen(callid)) : NULL;

		k = chance(50) ? lens[rn(ARRAY_SIZE(lens))] : 250 + rn(51);
		token_fill(buf, k, false);
		tmi.len = k;
		tmi.sub = !!c;          /* 1: the Call-ID replaced */
		if (c)
			t_repl(t, (size_t)(c - t->b), strlen(callid), buf, k);
		else
			t_ins(t, pick_pos(t), buf, k);
		break;
	}
	case TM_LONG_METHOD: {
		static const char *const near[] = {
			"INVITEX", "INVIT", "REGISTERS", "REGISTER\x80", "SUBSCRIB", "SUBSCRIBEE",
			"SUBSCRIBE\t", "ACKACKACK", "BYE\x01", "MESSAGES", "invite", "OPTIONS1",
			"PUBLISH-", "X-EXTENSION-16CH", "X-EXTENSION-17CHR",
		};
		long cl = t_find_line(t, "cseq");
		bool in_cseq = cl >= 0 && chance(40);
		size_t s = 0, e;

		if (chance(40)) {
			const char *n = near[rn(ARRAY_SIZE(near))];

			k = strlen(n);
			memcpy(buf, n, k);
		} else {
			static const size_t lens[] = { 15, 16, 17, 18, 20, 24, 40 };

			k = lens[rn(ARRAY_SIZE(lens))];
			token_fill(buf, k, true);
			tmi.sub = 1;    /* a random token of k characters */
		}
		tmi.len = k;
		tmi.in_cseq = in_cseq;
		if (in_cseq) {
			/* the last token of the CSeq line */
			e = t_line_end(t, (size_t)cl);
			while (e > (size_t)cl && (t->b[e - 1] == '\n' || t->b[e - 1] == '\r'))
				e--;
			s = e;
			while (s > (size_t)cl && t->b[s - 1] != ' ' && t->b[s - 1] != '\t')
				s--;
		} else {
			e = 0;
			while (e < t->n && t->b[e] != ' ' && t->b[e] != '\n')
				e++;
		}
		t_repl(t, s, e - s, buf, k);
		break;
	}
	case TM_CRLF:
		switch ((tmi.sub = (int)rn(5))) {
		case 0: /* every CRLF to LF */
			for (size_t i = 0; i + 1 < t->n; i++)
				if (t->b[i] == '\r' && t->b[i + 1] == '\n')
					t_del(t, i, 1);
			break;
		case 1: /* one CRLF to LF */
			p = pick_pos(t);
			while (p < t->n && t->b[p] != '\n')
				p++;
			if (p < t->n && p > 0 && t->b[p - 1] == '\r')
				t_del(t, p - 1, 1);
			break;
		case 2: /* one LF to CR */
			p = pick_pos(t);
			while (p < t->n && t->b[p] != '\n')
				p++;
			if (p < t->n)
				t->b[p] = '\r';
			break;
		case 3: /* one bare LF to CRLF, or a lone CR */
			p = pick_pos(t);
			t_ins(t, p, "\r", 1);
			break;
		default: /* every LF to CRLF (doubling CRs) */
			for (size_t i = 0; i < t->n && t->n < TEXT_CAP; i++)
				if (t->b[i] == '\n') {
					t_ins(t, i, "\r", 1);
					i++;
				}
			break;
		}
		break;
	case TM_FOLD: {
		static const char *const folds[] = { "\r\n ", "\r\n\t", "\n ", "\r\n", " \r\n  ",
						     "\r\n \r\n ", "\n\n " };
		const char *f = folds[rn(ARRAY_SIZE(folds))];

		p = pick_pos(t);
		if (chance(60)) {
			/* right after a colon */
			while (p < t->n && t->b[p] != ':')
				p++;
			if (p < t->n)
				p++;
		}
		t_ins(t, p, f, strlen(f));
		break;
	}
	case TM_NUMBER: {
		size_t cands[512], nc = 0;
		const char *num = numbers[rn(ARRAY_SIZE(numbers))];

		for (size_t i = 0; i < t->n && nc < ARRAY_SIZE(cands); i++)
			if (isdigit((unsigned char)t->b[i]) &&
			    (i == 0 || !isdigit((unsigned char)t->b[i - 1])))
				cands[nc++] = i;
		if (!nc)
			break;
		/* the status code, CSeq and Content-Length numbers come early or late */
		p = chance(50) ? cands[rn(nc < 12 ? nc : 12)] : cands[rn(nc)];
		k = 0;
		while (p + k < t->n && isdigit((unsigned char)t->b[p + k]))
			k++;
		t_repl(t, p, k, num, strlen(num));
		break;
	}
	case TM_TRUNC:
		t->n = chance(50) ? rn(t->n + 1) : pick_pos(t);
		break;
	case TM_SIZE: {
		/* payload of exactly target bytes: near US_SIP_MAX, or a frame near
		 * the 3520-byte linear limit of a test frame, or oversize */
		size_t target;
		long need;

		switch (rn(4)) {
		case 0:
		case 1:
			target = US_SIP_MAX - 8 + rn(17);
			break;
		case 2:
			target = 3520 - cur_payload_off - 3 + rn(7);
			break;
		default:
			target = chance(50) ? US_SIP_MAX + rn(2) : 4100 + rn(4000);
			break;
		}
		need = (long)target - (long)t->n;
		tmi.sub = need >= 0;    /* 1: grown, never cut */
		if (need < 0) {
			t->n = target;
		} else if (need >= 12 && chance(70)) {
			/* a filler header line after the start line: still valid */
			nl = t_lines(t, st, ARRAY_SIZE(st));
			memcpy(buf, "X-Fill: ", 8);
			memset(buf + 8, 'f', (size_t)need - 10);
			memcpy(buf + need - 2, "\r\n", 2);
			t_ins(t, nl > 1 ? st[1] : 0, buf, (size_t)need);
		} else {
			memset(buf, chance(50) ? 'b' : '\n', (size_t)need);
			t_ins(t, t->n, buf, (size_t)need);
		}
		break;
	}
	case TM_SPLICE: {
		const struct tmpl *o = &tmpls[rn((size_t)ntmpl)];
		struct txt *u = malloc(sizeof(*u));

		if (!u)
			break;
		text_build(o, u, callid, "z9hG4bK-splice", 1, "INVITE");
		p = rn(t->n + 1);
		k = rn(u->n + 1);
		t->n = p;
		t_ins(t, p, u->b + k, u->n - k);
		free(u);
		break;
	}
	}
}

static int tm_pick(void)
{
	/* weights: the structural and SIP-aware operations a bit more often */
	static const unsigned char w[TM_MAX] = {
		[TM_BITFLIP] = 10, [TM_BYTE] = 12, [TM_INS_RUN] = 6, [TM_DEL_RUN] = 6,
		[TM_DUP_RUN] = 4, [TM_DEL_LINE] = 6, [TM_DUP_LINE] = 5, [TM_SWAP_LINES] = 3,
		[TM_INS_HDR] = 8, [TM_CASE] = 4, [TM_LONG_CALLID] = 4, [TM_LONG_METHOD] = 4,
		[TM_CRLF] = 5, [TM_FOLD] = 4, [TM_NUMBER] = 6, [TM_TRUNC] = 4, [TM_SIZE] = 3,
		[TM_SPLICE] = 2,
	};
	unsigned tot = 0, r;

	for (int i = 0; i < TM_MAX; i++)
		tot += w[i];
	r = (unsigned)rn(tot);
	for (int i = 0; i < TM_MAX; i++) {
		if (r < w[i])
			return i;
		r -= w[i];
	}
	return TM_BYTE;
}

/* ---- frames -------------------------------------------------------------------------- */

struct input {
	const struct tmpl *t;
	struct pkt_l2l4 o;
	__u8 f[FRAME_MAX];
	size_t len;
	int cls;                /* 0 unmutated, 1 text (fixed up), 2 frame (not fixed up) */
	size_t plen;            /* payload length as built (cls 0 and 1) */
	int expect;             /* oracle: EXP_NONE, EXP_ACCEPT or the bad reason */
	char ops[160];          /* what was done, for the report */
	char callid[320], branch[80];
	__u64 t_run;            /* CLOCK_MONOTONIC (bpf_ktime_get_ns) before the run */
};

static void note_call(struct input *in)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	in->t_run = (__u64)ts.tv_sec * 1000000000ull + (__u64)ts.tv_nsec;
}

/*
 * A copy to a machine no longer in simulation is right only for a call
 * mirrored to it before its promotion: the run made no call, and a call
 * made before it names the machine with this MAC as its simulation
 * machine. (The call's key is not known here: mutations change Call-IDs
 * and services.)
 */
static bool mirrored_before(const struct input *in, const __u8 *mac)
{
	struct us_call_key k, prev;
	struct us_call c;
	const struct mach *sm;
	bool named = false;
	void *pk = NULL;

	while (!bpf_map_get_next_key(th.fd_calls, pk, &k)) {
		prev = k;
		pk = &prev;
		if (bpf_map_lookup_elem(th.fd_calls, &k, &c))
			continue;
		if (c.created_ns >= in->t_run)
			return false;   /* this message made a call */
		sm = c.sim_mid == US_MID_NONE ? NULL : mach_by_mid(c.sim_mid);
		if (sm && mac_is_host(mac, sm->host))
			named = true;
	}
	return named;
}

static void ops_add(struct input *in, const char *s)
{
	size_t l = strlen(in->ops);

	snprintf(in->ops + l, sizeof(in->ops) - l, "%s%s", l ? "," : "", s);
}

static void text_build(const struct tmpl *tp, struct txt *t, const char *callid,
		       const char *branch, unsigned cseq, const char *cseq_method)
{
	struct sip_msg m = tp->m;

	if (tp->kind == TK_TYPICAL) {
		t->n = sip_typical_invite(t->b, TEXT_CAP, callid, branch);
		return;
	}
	m.callid = callid;
	m.branch = tp->no_branch ? NULL : branch;
	m.cseq = cseq;
	if (m.status && tp->any_cseq_method)
		m.cseq_method = cseq_method;
	t->n = sip_build(t->b, TEXT_CAP, &m);
}

static void l2l4_of(const struct tmpl *tp, struct pkt_l2l4 *o)
{
	const struct testnet_host *cl = &testnet.hosts[TN_CLIENT];
	const struct testnet_host *h = &testnet.hosts[tp->host];
	bool v6 = tp->fam == AF_INET6;

	memset(o, 0, sizeof(*o));
	o->nvlan = tp->nvlan;
	o->vlan[0] = 100;
	o->vlan[1] = 200;
	o->family = tp->fam;
	o->sport = 5060;
	o->dport = 5060;
	memcpy(o->smac, h->mac, 6);
	memcpy(o->dmac, testnet.ifs[h->ifc].mac, 6);
	if (!tp->machine) {
		o->saddr = v6 ? cl->v6 : cl->v4;
		o->daddr = svc_vip[tp->svc];
	} else if (tp->kind == TK_STRAY) {
		o->saddr = v6 ? h->v6 : h->v4;
		o->daddr = tp->stray_daddr;
		o->sport = 40000;
		o->dport = 9999;
	} else {
		o->saddr = svc_vip[tp->svc];
		o->daddr = v6 ? cl->v6 : cl->v4;
	}
}

static size_t build_frame(struct input *in, const struct txt *t)
{
	size_t n = t->n, off = pkt_payload_off(&in->o);

	if (n > FRAME_MAX - off)
		n = FRAME_MAX - off;
	in->plen = n;
	return pkt_build(in->f, FRAME_MAX, &in->o, t->b, n);
}

static void put16(__u8 *p, unsigned v)
{
	p[0] = (__u8)(v >> 8);
	p[1] = (__u8)v;
}

static unsigned get16(const __u8 *p)
{
	return (unsigned)p[0] << 8 | p[1];
}

enum {
	FM_BITFLIP, FM_BYTE, FM_TRUNC, FM_LEN, FM_PAYLOAD, FM_APPEND, FM_L2, FM_IP, FM_ADDR,
	FM_MAX,
};

static const char *const fm_names[FM_MAX] = {
	"f-bitflip", "f-byte", "f-trunc", "f-len", "f-payload", "f-append", "f-l2", "f-ip",
	"f-addr",
};

static __u64 fm_count[FM_MAX];

static void frame_ins(struct input *in, size_t pos, const void *src, size_t k)
{
	if (pos > in->len)
		pos = in->len;
	if (k > FRAME_MAX - in->len)
		k = FRAME_MAX - in->len;
	memmove(in->f + pos + k, in->f + pos, in->len - pos);
	memcpy(in->f + pos, src, k);
	in->len += k;
}

static void fm_apply(struct input *in, int op)
{
	size_t l2 = pkt_l2_len(&in->o), l3 = pkt_l3_end(&in->o), po = pkt_payload_off(&in->o);
	size_t hdr = po < in->len ? po : in->len, p;
	bool v6 = in->o.family == AF_INET6;

	fm_count[op]++;
	if (!in->len)
		return;
	switch (op) {
	case FM_BITFLIP:
		for (int r = (int)(1 + rn(3)); r > 0; r--) {
			p = chance(60) && hdr ? rn(hdr) : rn(in->len);
			in->f[p] ^= (__u8)(1u << rn(8));
		}
		break;
	case FM_BYTE:
		p = chance(60) && hdr ? rn(hdr) : rn(in->len);
		in->f[p] = chance(50) ? ibyte() : (__u8)rnd();
		break;
	case FM_TRUNC:
		if (chance(5))
			in->len = rn(14);                   /* refused by the kernel */
		else if (chance(50))
			in->len = 14 + rn(in->len > 14 ? in->len - 14 : 1);
		else if (in->len > hdr)
			in->len = hdr + rn(in->len - hdr);      /* inside the payload */
		else
			in->len = 14 + rn(hdr > 14 ? hdr - 14 : 1);
		if (in->len > FRAME_MAX)
			in->len = FRAME_MAX;
		break;
	case FM_LEN: {
		/* one length field to an odd value */
		static const long deltas[] = { -9, -8, -1, 1, 8, 9, 100, 4096 };
		int which = (int)rn(2);
		size_t at = which == 0 ? (v6 ? l2 + 4 : l2 + 2) : l3 + 4;
		unsigned cur, v;

		if (at + 2 > in->len)
			break;
		cur = get16(in->f + at);
		switch (rn(3)) {
		case 0:
			v = (unsigned)(long)(cur + deltas[rn(ARRAY_SIZE(deltas))]) & 0xffff;
			break;
		case 1: {
			static const unsigned vals[] = { 0, 1, 7, 8, 9, 19, 20, 39, 40, 48, 0xffff,
							 0x8000 };

			v = vals[rn(ARRAY_SIZE(vals))];
			break;
		}
		default:
			v = (unsigned)rnd() & 0xffff;
			break;
		}
		put16(in->f + at, v);
		break;
	}
	case FM_PAYLOAD: {
		/* a text mutation inside the frame; lengths left as they were */
		struct txt *t = malloc(sizeof(*t));

		if (!t || in->len <= hdr) {
			free(t);
			break;
		}
		t->n = in->len - hdr < TEXT_CAP ? in->len - hdr : TEXT_CAP;
		memcpy(t->b, in->f + hdr, t->n);
		tm_apply(t, tm_pick(), in->callid);
		if (t->n > FRAME_MAX - hdr)
			t->n = FRAME_MAX - hdr;
		memcpy(in->f + hdr, t->b, t->n);
		in->len = hdr + t->n;
		free(t);
		break;
	}
	case FM_APPEND: {
		__u8 tr[64];
		size_t k = 1 + rn(sizeof(tr));

		for (size_t i = 0; i < k; i++)
			tr[i] = chance(50) ? 0 : (__u8)rnd();
		frame_ins(in, in->len, tr, k);
		break;
	}
	case FM_L2: {
		static const unsigned types[] = { 0x0800, 0x86dd, 0x8100, 0x88a8, 0x0806, 0x0000,
						  0xffff, 0x9100 };

		if (in->len < 14)
			break;
		switch (rn(3)) {
		case 0: { /* the EtherType (or a tag's inner type) */
			size_t at = 12 + 4 * rn((size_t)in->o.nvlan + 1);

			if (at + 2 <= in->len)
				put16(in->f + at, types[rn(ARRAY_SIZE(types))]);
			break;
		}
		case 1: { /* one more tag */
			__u8 tag[4];

			put16(tag, chance(50) ? 0x8100 : 0x88a8);
			put16(tag + 2, (unsigned)rn(4096));
			frame_ins(in, 12, tag, 4);
			break;
		}
		default: /* one tag less */
			if (in->o.nvlan && in->len >= 18) {
				memmove(in->f + 12, in->f + 16, in->len - 16);
				in->len -= 4;
			}
			break;
		}
		break;
	}
	case FM_IP:
		if (l2 + 8 > in->len)
			break;
		if (!v6) {
			switch (rn(4)) {
			case 0: /* IHL and version */
				in->f[l2] = (__u8)(chance(50) ? (0x40 | rn(16)) : rnd());
				break;
			case 1: /* fragment bits */
				put16(in->f + l2 + 6, chance(50) ? 0x2000 : (unsigned)rnd() & 0xffff);
				break;
			case 2: /* protocol */
				in->f[l2 + 9] = chance(50) ? 17 : (__u8)rnd();
				break;
			default: { /* options: IHL 6..15 with the bytes inserted, lengths fixed */
				size_t words = 1 + rn(10);
				__u8 opt[40];
				unsigned tot = get16(in->f + l2 + 2);

				memset(opt, chance(50) ? 1 : 0, sizeof(opt));
				frame_ins(in, l2 + 20, opt, words * 4);
				in->f[l2] = (__u8)(0x40 | (5 + words));
				put16(in->f + l2 + 2, (tot + (unsigned)words * 4) & 0xffff);
				break;
			}
			}
		} else {
			static const __u8 nhs[] = { 0, 43, 44, 60, 17, 6, 59, 58, 135 };

			switch (rn(3)) {
			case 0:
				in->f[l2 + 6] = nhs[rn(ARRAY_SIZE(nhs))];
				break;
			case 1:
				in->f[l2] = (__u8)(chance(50) ? (0x60 | (in->f[l2] & 0x0f)) : rnd());
				break;
			default: { /* an extension header before UDP, payload length fixed */
				__u8 eh[24] = { 0 };
				size_t el = 8 * (1 + rn(3));
				__u8 nh = nhs[rn(4)];   /* hop-by-hop, routing, fragment, dest */

				eh[0] = in->f[l2 + 6];
				eh[1] = (__u8)(el / 8 - 1);
				if (nh == 44) {
					el = 8;
					eh[1] = 0;
					put16(eh + 2, chance(50) ? 1 : (unsigned)rnd() & 0xffff);
				}
				frame_ins(in, l2 + 40, eh, el);
				in->f[l2 + 6] = nh;
				put16(in->f + l2 + 4, (get16(in->f + l2 + 4) + (unsigned)el) & 0xffff);
				break;
			}
			}
		}
		break;
	case FM_ADDR: {
		/* source or destination to an address of interest */
		static const char *const a4[] = { "198.18.100.1", "198.18.100.2", "198.18.0.1",
						  "198.18.1.1", "198.18.1.11", "198.18.1.254",
						  "198.19.200.1", "0.0.0.0", "255.255.255.255",
						  "224.0.0.1", "127.0.0.1" };
		static const char *const a6[] = { "2001:db8:100::1", "::ffff:198.18.100.1",
						  "2001:db8::1", "2001:db8:1::21", "2001:db8:2::11",
						  "2001:db8:1::fe", "::", "ff02::1", "::1",
						  "2001:db8:ffff::1" };
		__u8 a[16];
		bool dst = chance(50);
		size_t at;

		if (v6) {
			at = l2 + (dst ? 24 : 8);
			if (at + 16 > in->len || testnet_addr16(a6[rn(ARRAY_SIZE(a6))], a) < 0)
				break;
			memcpy(in->f + at, a, 16);
		} else {
			at = l2 + (dst ? 16 : 12);
			if (at + 4 > in->len || testnet_addr16(a4[rn(ARRAY_SIZE(a4))], a) < 0)
				break;
			memcpy(in->f + at, a + 12, 4);
		}
		if (chance(30) && l3 + 4 <= in->len)
			put16(in->f + l3 + (chance(50) ? 0 : 2), chance(70) ? 5060 : (unsigned)rn(65536));
		break;
	}
	}
}

#define EXP_NONE (-1)
#define EXP_ACCEPT 0

static bool method_known(const char *m)
{
	static const char *const k[] = { "INVITE", "ACK", "BYE", "CANCEL", "REGISTER",
					 "OPTIONS", "PRACK", "SUBSCRIBE", "NOTIFY", "PUBLISH",
					 "INFO", "REFER", "MESSAGE", "UPDATE" };

	for (size_t i = 0; m && i < ARRAY_SIZE(k); i++)
		if (!strcmp(m, k[i]))
			return true;
	return false;
}

/* The verdict of the SIP parser on a template changed by one mutation,
 * where it is known by construction (before the size limits). */
static int expect_of(const struct tmpl *tp, int op)
{
	bool req = tp->m.method != NULL, other = req && !method_known(tp->m.method);
	bool body = tp->kind == TK_TYPICAL || tp->m.body_len;

	switch (op) {
	case TM_LONG_CALLID:    /* Call-IDs up to US_CALLID_MAX */
		if (!tmi.sub)
			return EXP_NONE;
		return tmi.len <= US_CALLID_MAX ? EXP_ACCEPT : US_ST_NO_CALLID;
	case TM_LONG_METHOD:    /* method tokens up to 16; CSeq's must match */
		if (!tmi.sub)
			return EXP_NONE;
		if (!tmi.in_cseq) {
			if (!req || tmi.len > 16)
				return US_ST_NOT_SIP;
			return other ? EXP_ACCEPT : US_ST_NO_CSEQ;
		}
		if (tmi.len > 16 || (req && !other))
			return US_ST_NO_CSEQ;
		return EXP_ACCEPT;
	case TM_SIZE:           /* a filler header or body bytes */
		return tmi.sub ? EXP_ACCEPT : EXP_NONE;
	case TM_CASE:           /* header names are case-insensitive */
		return tmi.line ? EXP_ACCEPT : EXP_NONE;
	case TM_CRLF:           /* bare LF line ends (the body shrinks) */
		if (tmi.sub)
			return EXP_NONE;
		return !tp->m.omit_content_length && body ? US_ST_TRUNC_BODY : EXP_ACCEPT;
	case TM_DEL_LINE:
		if (tmi.kind)
			return EXP_NONE;
		if (!strcmp(tmi.name, "via") || !strcmp(tmi.name, "v"))
			return tmi.nvia == 1 ? US_ST_NO_VIA : EXP_ACCEPT;
		if (!strcmp(tmi.name, "call-id") || !strcmp(tmi.name, "i"))
			return US_ST_NO_CALLID;
		if (!strcmp(tmi.name, "cseq"))
			return US_ST_NO_CSEQ;
		return EXP_ACCEPT;
	case TM_DUP_LINE:       /* the first of repeated headers counts */
		return tmi.same_place && !tp->m.fold_callid ? EXP_ACCEPT : EXP_NONE;
	default:
		return EXP_NONE;
	}
}

/* The frame of iteration iter: a function of (seed, iter) only. */
static void gen(__u64 seed, __u64 iter, struct input *in)
{
	static struct txt t;
	static const char *const cms[] = { "INVITE", "INVITE", "INVITE", "BYE", "OPTIONS",
					   "REGISTER", "CANCEL", "MESSAGE", "PRACK", "FOO" };
	const struct tmpl *tp;
	unsigned k, cseq;
	int r;

	rng_iter(seed, iter);
	tp = &tmpls[rn((size_t)ntmpl)];
	in->t = tp;
	in->ops[0] = 0;
	k = (unsigned)rn(POOL);
	cseq = chance(70) ? 1 : 2 + (unsigned)rn(2);
	if (chance(85))
		snprintf(in->callid, sizeof(in->callid), "fz%u@198.18.0.1", k);
	else
		snprintf(in->callid, sizeof(in->callid), "fzu-%016llx@198.18.0.1",
			 (unsigned long long)rnd());
	snprintf(in->branch, sizeof(in->branch), "z9hG4bK-fz%u-%u", k, cseq);
	text_build(tp, &t, in->callid, in->branch, cseq, cms[rn(ARRAY_SIZE(cms))]);
	l2l4_of(tp, &in->o);
	cur_payload_off = pkt_payload_off(&in->o);

	r = (int)rn(100);
	in->cls = r < 10 ? 0 : r < 65 ? 1 : 2;
	in->expect = in->cls == 0 ? EXP_ACCEPT : EXP_NONE;
	if (in->cls == 1 || (in->cls == 2 && chance(50))) {
		int nm = 1 + (int)(chance(25) ? rn(6) : rn(2));

		for (int i = 0; i < nm; i++) {
			int op = tm_pick();

			tm_apply(&t, op, in->callid);
			if (op == TM_LONG_CALLID || op == TM_LONG_METHOD) {
				char d[48];

				snprintf(d, sizeof(d), "%s:%zu%s", tm_names[op], tmi.len,
					 tmi.in_cseq ? ":cseq" : "");
				ops_add(in, d);
			} else {
				ops_add(in, tm_names[op]);
			}
			if (nm == 1 && in->cls == 1)
				in->expect = expect_of(tp, op);
		}
	}
	in->len = build_frame(in, &t);
	if (in->cls == 2) {
		int nm = 1 + (int)(chance(30) ? rn(3) : 0);

		for (int i = 0; i < nm; i++) {
			int op = (int)rn(FM_MAX);

			fm_apply(in, op);
			ops_add(in, fm_names[op]);
		}
	}
	if (!in->ops[0])
		ops_add(in, "none");
}

/* ---- running and checking ------------------------------------------------------------- */

static __u64 seed, cur_iter;
static long nviol, maxfail = DEFAULT_MAXFAIL;
static const char *const inv_names[] = {
	"test_run", "refused", "action", "rx", "outcome", "annotation", "bad-mirrored",
	"action-outcome", "out-len", "out-frame", "event", "slow", "hang", "fixed-up",
	"affinity", "oracle", "stale", "copies", "reply",
};
enum { IV_TEST_RUN, IV_REFUSED, IV_ACTION, IV_RX, IV_OUTCOME, IV_ANNOT, IV_BAD_MIRRORED,
       IV_ACTION_OUTCOME, IV_OUT_LEN, IV_OUT_FRAME, IV_EVENT, IV_SLOW, IV_HANG, IV_FIXED_UP,
       IV_AFFINITY, IV_ORACLE, IV_STALE, IV_COPIES, IV_REPLY, IV_MAX };
static __u64 viol_by[IV_MAX];
_Static_assert(ARRAY_SIZE(inv_names) == IV_MAX, "invariant names");

static void hexdump(const __u8 *p, size_t n)
{
	for (size_t i = 0; i < n; i += 32) {
		char hex[32 * 2 + 1], asc[33];
		size_t k;

		for (k = 0; k < 32 && i + k < n; k++) {
			sprintf(hex + 2 * k, "%02x", p[i + k]);
			asc[k] = p[i + k] >= 0x20 && p[i + k] < 0x7f ? (char)p[i + k] : '.';
		}
		hex[2 * k] = 0;
		asc[k] = 0;
		printf("  %04zx: %-64s |%s|\n", i, hex, asc);
	}
}

/* Check one run; returns the number of invariants violated (reported). */
struct verdict {
	int fails[IV_MAX];
	int nf;
	char why[IV_MAX][200];
};

static void vfail(struct verdict *v, int inv, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void vfail(struct verdict *v, int inv, const char *fmt, ...)
{
	va_list ap;

	if (v->fails[inv]++)
		return;
	v->nf++;
	va_start(ap, fmt);
	vsnprintf(v->why[inv], sizeof(v->why[inv]), fmt, ap);
	va_end(ap);
}

static int ev_seen, ev_bad;
static char ev_why[200];

static int ev_cb(void *ctx, void *data, size_t sz)
{
	const struct us_event *e = data;
	const struct mach *am, *sm;

	(void)ctx;
	ev_seen++;
	if (sz < sizeof(*e)) {
		snprintf(ev_why, sizeof(ev_why), "event of %zu bytes", sz);
		ev_bad++;
		return 0;
	}
	am = mach_by_mid(e->active_mid);
	sm = mach_by_mid(e->sim_mid);
	if ((e->kind != US_EV_DIFF_CODE && e->kind != US_EV_DIFF_CLASS) ||
	    e->callid_len > US_CALLID_COPY || e->svc_id >= NSVC || !am || !sm || am == sm ||
	    am->svc != e->svc_id || sm->svc != e->svc_id ||
	    e->active_code < 200 || e->active_code > 699 || e->sim_code < 200 ||
	    e->sim_code > 699 || e->active_code == e->sim_code ||
	    (e->kind == US_EV_DIFF_CODE) != (e->active_code / 100 == e->sim_code / 100) ||
	    e->method >= US_M_MAX) {
		snprintf(ev_why, sizeof(ev_why),
			 "kind %u svc %u active %u(%u) sim %u(%u) method %u callid_len %u",
			 e->kind, e->svc_id, e->active_mid, e->active_code, e->sim_mid, e->sim_code,
			 e->method, e->callid_len);
		ev_bad++;
	}
	return 0;
}

/* The plan of mirror sequence number seq, from this CPU's slot (the
 * harness keeps the process on one CPU). */
static int plan_of(__u32 seq, struct us_plan *p)
{
	int fd = bpf_map__fd(th.sk->maps.us_plans);
	__u32 slot = seq & (US_PLANS - 1);
	static struct us_plan *v;
	static int ncpu;

	if (!v) {
		ncpu = libbpf_num_possible_cpus();
		v = ncpu > 0 ? calloc((size_t)ncpu, sizeof(*v)) : NULL;
	}
	if (!v || bpf_map_lookup_elem(fd, &slot, v))
		return -1;
	for (int c = 0; c < ncpu; c++)
		if (v[c].seq == seq && v[c].ncopies) {
			*p = v[c];
			return 0;
		}
	return -1;
}

/* The payload a plan's edit makes of the original (the user-space
 * reading of us_assemble); its length, or 0 if a segment is out of range. */
static size_t plan_payload(const struct us_copy *c, const __u8 *orig, size_t olen, __u8 *out,
			   size_t cap)
{
	size_t n = 0;

	if (c->e.nseg > US_SEGS)
		return 0;
	for (__u32 i = 0; i < c->e.nseg; i++) {
		size_t off = c->e.seg[i].off & ~US_SEG_LIT, len = c->e.seg[i].len;
		const __u8 *src;

		if (c->e.seg[i].off & US_SEG_LIT) {
			if (off + len > US_LIT_MAX)
				return 0;
			src = (const __u8 *)c->e.lit.b + off;
		} else {
			if (off + len > olen)
				return 0;
			src = orig + off;
		}
		if (n + len > cap)
			return 0;
		memcpy(out + n, src, len);
		n += len;
	}
	return n;
}

/*
 * A mirrored message's copies, through the egress program as the devmap
 * would run it (us_egress_t, in group order): the plan names an active or
 * draining machine and a simulation machine (or, once promoted, the one
 * the call was mirrored to before this message) behind our interfaces; the
 * active machine's copy is the frame with its MACs and nothing else
 * changed; the simulation machine's is dropped, the frame with its MACs,
 * or (an edit) a well-formed frame whose payload is exactly the plan's.
 */
static void check_copies(const struct input *in, const struct th_res *r,
			 const struct us_meta *md, struct verdict *v)
{
	static struct th_res er;
	static __u8 want[FRAME_MAX];
	struct us_plan p;
	struct pkt_view pv, ov;
	char err[160];

	if (plan_of(md->seq, &p)) {
		vfail(v, IV_COPIES, "no plan for sequence number %u", md->seq);
		return;
	}
	if (p.ncopies != 2 || p.c[2].ifindex)
		vfail(v, IV_COPIES, "%u copies, a control copy on %u", p.ncopies, p.c[2].ifindex);
	if (!mac_in_states(p.c[0].dmac, ST(US_MS_ACTIVE) | ST(US_MS_DRAINING)) ||
	    !(mac_in_states(p.c[1].dmac, ST(US_MS_SIMULATION)) ||
	      mirrored_before(in, p.c[1].dmac)) ||
	    !mac_is_iface(p.c[0].smac) || !mac_is_iface(p.c[1].smac))
		vfail(v, IV_COPIES, "plan names no active machine, or no simulation machine "
		      "(or the one the call had before its promotion)");
	if (p.c[0].mode != US_CP_AS_IS)
		vfail(v, IV_COPIES, "the active copy's mode is %u", p.c[0].mode);
	if (pkt_parse(in->f, in->len, &ov, err, sizeof(err)))
		return;         /* not whole: the plan is not checked further */
	for (int i = 0; i < 2; i++) {
		const struct us_copy *c = &p.c[i];

		th_run_meta(th.fd_egress_t, (int)c->ifindex, r->out, r->len, sizeof(*md), &er);
		if (er.err) {
			vfail(v, IV_COPIES, "egress test run of copy %d: %d", i, er.err);
			continue;
		}
		if (c->mode == US_CP_DROP) {
			if (er.ret != XDP_DROP)
				vfail(v, IV_COPIES, "copy %d not for its machine: %s", i,
				      th_xdp_name(er.ret));
			continue;
		}
		/* an edit that grows a frame near a page's size may not fit: the
		 * copy is dropped (and counted as a build failure) */
		if (er.ret == XDP_DROP && c->mode == US_CP_EDIT && c->len > ov.payload_len &&
		    in->len + (c->len - ov.payload_len) > 3520 - 64)
			continue;
		if (er.ret != XDP_PASS) {
			vfail(v, IV_COPIES, "copy %d: %s", i, th_xdp_name(er.ret));
			continue;
		}
		if (er.meta != sizeof(*md) || memcmp(er.out + er.meta, c->dmac, 6) ||
		    memcmp(er.out + er.meta + 6, c->smac, 6)) {
			vfail(v, IV_COPIES, "copy %d: not the plan's MACs", i);
			continue;
		}
		if (c->mode == US_CP_AS_IS) {
			if (er.len - er.meta != in->len ||
			    memcmp(er.out + er.meta + 12, in->f + 12, in->len - 12))
				vfail(v, IV_COPIES, "copy %d (%s) changed beyond the MACs", i,
				      i ? "simulation" : "active");
			continue;
		}
		/* an edit: a whole frame, the plan's payload */
		if (pkt_parse(er.out + er.meta, er.len - er.meta, &pv, err, sizeof(err))) {
			vfail(v, IV_COPIES, "rewritten copy: %s", err);
			continue;
		}
		if (strcmp(pv.saddr, ov.saddr) || strcmp(pv.daddr, ov.daddr) ||
		    pv.sport != ov.sport || pv.dport != ov.dport)
			vfail(v, IV_COPIES, "rewritten copy: addresses or ports changed");
		if (plan_payload(c, in->f + ov.payload_off, ov.payload_len, want, sizeof(want)) !=
			    pv.payload_len || pv.payload_len != c->len ||
		    memcmp(want, er.out + er.meta + pv.payload_off, pv.payload_len))
			vfail(v, IV_COPIES, "rewritten copy: payload of %zu bytes, not the plan's %u",
			      pv.payload_len, c->len);
	}
}

/* A simulation machine's message answered or ACKed on the caller's behalf:
 * a well-formed frame back to it (MACs, addresses, ports swapped), a SIP
 * request or response. */
static void check_tx(const struct input *in, int ifc, const struct th_res *r, struct verdict *v)
{
	struct pkt_view pv;
	char err[160];
	const char *pl;
	const __u8 *oi, *ni;
	size_t al;

	(void)ifc;
	if (r->meta) {
		vfail(v, IV_REPLY, "metadata on a reply");
		return;
	}
	/* the reply is whole, whatever the input's checksums or padding */
	if (pkt_parse(r->out, r->len, &pv, err, sizeof(err))) {
		vfail(v, IV_REPLY, "%s", err);
		return;
	}
	if (memcmp(pv.dmac, in->f + 6, 6) || memcmp(pv.smac, in->f, 6))
		vfail(v, IV_REPLY, "MACs not swapped");
	/* the same L2, so the input's IP header is at the same offset */
	oi = in->f + pv.l3_off;
	ni = r->out + pv.l3_off;
	al = pv.family == AF_INET ? 4 : 16;
	if (pv.l3_off + 2 * al + (pv.family == AF_INET ? 12 : 8) > in->len) {
		vfail(v, IV_REPLY, "the input has no whole IP header");
		return;
	}
	oi += pv.family == AF_INET ? 12 : 8;
	ni += pv.family == AF_INET ? 12 : 8;
	if (memcmp(oi, ni + al, al) || memcmp(oi + al, ni, al))
		vfail(v, IV_REPLY, "addresses not swapped");
	if (pv.sport != 5060 && pv.dport != 5060)
		vfail(v, IV_REPLY, "ports %u and %u", pv.sport, pv.dport);
	pl = (const char *)r->out + pv.payload_off;
	if (pv.payload_len < 12 || (strncmp(pl, "SIP/2.0 ", 8) && strncmp(pl, "ACK ", 4) &&
				    strncmp(pl, "BYE ", 4)))
		vfail(v, IV_REPLY, "neither a response nor an ACK or BYE");
	else if (!memmem(pl, pv.payload_len, "\r\n\r\n", 4))
		vfail(v, IV_REPLY, "no end of headers");
}

static void check(const struct input *in, int ifc, const struct th_res *r, const __u64 *b,
		  const __u64 *a, struct verdict *v)
{
	long long d[US_ST_MAX];
	long long nout = 0, nbad;
	bool machine = in->t->machine, dropped_sender = false, mirrored;
	int outc = -1;

	memset(v, 0, sizeof(*v));
	for (int i = 0; i < US_ST_MAX; i++)
		d[i] = (long long)(a[i] - b[i]);

	if (in->len < 14) {
		if (r->err != -EINVAL)
			vfail(v, IV_REFUSED, "frame of %zu bytes: test run error %d, expected %d",
			      in->len, r->err, -EINVAL);
		for (int i = 0; i < US_ST_MAX; i++)
			if (d[i])
				vfail(v, IV_REFUSED, "refused frame moved stats[%s] by %lld",
				      us_stat_name(i), d[i]);
		return;
	}
	if (r->err) {
		vfail(v, IV_TEST_RUN, "test run error %d (%s)", r->err, strerror(-r->err));
		return;
	}
	if (r->ret != XDP_PASS && r->ret != XDP_DROP && r->ret != XDP_REDIRECT &&
	    !(machine && r->ret == XDP_TX))
		vfail(v, IV_ACTION, "action %u %s", r->ret, th_xdp_name(r->ret));
	if (r->duration > SLOW_NS)
		vfail(v, IV_SLOW, "one run took %u ns", r->duration);
	if (d[US_ST_RX] != 1)
		vfail(v, IV_RX, "stats[rx] moved by %lld", d[US_ST_RX]);

	/* outcomes */
	for (int i = 0; i < US_ST_MAX; i++)
		if (d[i] < 0)
			vfail(v, IV_OUTCOME, "stats[%s] went down by %lld", us_stat_name(i), -d[i]);
	for (size_t i = 0; i < ARRAY_SIZE(outcome_stats); i++) {
		nout += d[outcome_stats[i]];
		if (d[outcome_stats[i]])
			outc = outcome_stats[i];
	}
	nbad = th_bad_delta(b, a);
	if (machine) {
		const __u8 *smac = in->f + 6;

		const struct mach *sm = mach_by_mac(smac, ifc);

		/* a machine whose output is dropped (simulation, rejected) */
		dropped_sender = sm && !takes_traffic(mstate_of(sm));
		n_promoted += sm && !dropped_sender && d[US_ST_RESP_SIM_DROP] == 1;
	}
	if (!(nout + nbad == 1 ||
	      (machine && dropped_sender && d[US_ST_RESP_SIM_DROP] == 1 && nout == 1 &&
	       nbad == 1))) {
		char s[160] = "";
		size_t l = 0;

		for (int i = 1; i < US_ST_MAX; i++)
			if (d[i] && (th_is_bad(i) || i == US_ST_PASS || i == US_ST_REQ_FWD ||
				     i == US_ST_RESP_FWD || i == US_ST_RESP_SIM_DROP ||
				     i == US_ST_SIM_STRAY_DROP || i == US_ST_NO_MACHINE ||
				     i == US_ST_NO_ROUTE || i == US_ST_DLG_ACK_SENT ||
				     i == US_ST_DLG_ANSWERED) && l < sizeof(s))
				l += (size_t)snprintf(s + l, sizeof(s) - l, " %s+%lld",
						      us_stat_name(i), d[i]);
		vfail(v, IV_OUTCOME, "%lld outcomes and %lld bad reasons counted:%s", nout, nbad,
		      l ? s : " none");
	}

	/* annotations */
	{
		static const int ann[] = { US_ST_REQ_MIRRORED, US_ST_RETRANS_REQ,
					   US_ST_MIRROR_SKIPPED, US_ST_RESP_NO_TXN,
					   US_ST_RETRANS_RESP, US_ST_EVENTS, US_ST_EVENTS_LIMITED,
					   US_ST_EVENTS_LOST, US_ST_DLG_REWRITTEN, US_ST_DLG_HELD,
					   US_ST_DLG_NOT_SENT, US_ST_DLG_NO_RECORD, US_ST_CLIENT_RESP,
					   US_ST_DLG_ABSORBED, US_ST_DLG_BUILD_FAIL, US_ST_DLG_TAG_LONG,
					   US_ST_OVERDUE };
		bool cli_ann = d[US_ST_REQ_MIRRORED] || d[US_ST_RETRANS_REQ] ||
			       d[US_ST_MIRROR_SKIPPED] || d[US_ST_DLG_REWRITTEN] || d[US_ST_DLG_HELD] ||
			       d[US_ST_DLG_NOT_SENT] || d[US_ST_DLG_NO_RECORD] || d[US_ST_CLIENT_RESP];
		bool mach_ann = d[US_ST_RESP_NO_TXN] || d[US_ST_RETRANS_RESP] || d[US_ST_EVENTS] ||
				d[US_ST_EVENTS_LIMITED] || d[US_ST_EVENTS_LOST];
		bool shadow_out = d[US_ST_RESP_SIM_DROP] || d[US_ST_DLG_ACK_SENT] ||
				  d[US_ST_DLG_ANSWERED];

		for (size_t i = 0; i < ARRAY_SIZE(ann); i++)
			if (d[ann[i]] > 1)
				vfail(v, IV_ANNOT, "stats[%s] moved by %lld", us_stat_name(ann[i]),
				      d[ann[i]]);
		if (cli_ann && (machine || d[US_ST_REQ_FWD] != 1))
			vfail(v, IV_ANNOT, "mirrored %lld retrans_req %lld skipped %lld without a "
			      "client req_fwd", d[US_ST_REQ_MIRRORED], d[US_ST_RETRANS_REQ],
			      d[US_ST_MIRROR_SKIPPED]);
		if (d[US_ST_REQ_MIRRORED] && d[US_ST_MIRROR_SKIPPED])
			vfail(v, IV_ANNOT, "both req_mirrored and mirror_skipped");
		if (d[US_ST_OVERDUE])
			vfail(v, IV_ANNOT, "a pair closed on its deadline during a run");
		if ((d[US_ST_DLG_REWRITTEN] || d[US_ST_DLG_HELD] || d[US_ST_DLG_NOT_SENT]) &&
		    d[US_ST_DLG_NO_RECORD])
			vfail(v, IV_ANNOT, "translated without a dialog record");
		if (d[US_ST_DLG_ABSORBED] && (!machine || !d[US_ST_RESP_SIM_DROP]))
			vfail(v, IV_ANNOT, "absorbed without a simulation machine's dropped "
			      "message");
		if (d[US_ST_DLG_BUILD_FAIL] && !(machine ? d[US_ST_RESP_SIM_DROP] :
						  d[US_ST_REQ_FWD]))
			vfail(v, IV_ANNOT, "build failed without a dropped message or a forwarded "
			      "request");
		if (d[US_ST_DLG_TAG_LONG] && (!machine || !(d[US_ST_RESP_FWD] || shadow_out)))
			vfail(v, IV_ANNOT, "tag_unstored without a machine's response");
		if (mach_ann && (!machine || !(d[US_ST_RESP_FWD] || shadow_out || d[US_ST_NO_ROUTE])))
			vfail(v, IV_ANNOT, "resp_no_txn %lld retrans_resp %lld events %lld/%lld/%lld "
			      "without a machine-side response outcome", d[US_ST_RESP_NO_TXN],
			      d[US_ST_RETRANS_RESP], d[US_ST_EVENTS], d[US_ST_EVENTS_LIMITED],
			      d[US_ST_EVENTS_LOST]);
		if (d[US_ST_RESP_NO_TXN] && d[US_ST_RETRANS_RESP])
			vfail(v, IV_ANNOT, "both resp_no_txn and retrans_resp");
		if (d[US_ST_EVENTS] + d[US_ST_EVENTS_LIMITED] + d[US_ST_EVENTS_LOST] > 1)
			vfail(v, IV_ANNOT, "more than one event decision");
	}

	/* bad packets are never mirrored nor forwarded by the client program */
	if (nbad && (d[US_ST_REQ_MIRRORED] || (!machine && r->ret == XDP_REDIRECT)))
		vfail(v, IV_BAD_MIRRORED, "bad reason counted, req_mirrored +%lld, action %s",
		      d[US_ST_REQ_MIRRORED], th_xdp_name(r->ret));

	/* the action the outcome implies */
	if (nout + nbad >= 1) {
		int want = -1, alt = -1;
		int what = nbad && !(machine && d[US_ST_RESP_SIM_DROP]) ? -2 : outc;

		if (what == -2) {
			int reason = US_ST_BAD_L2;

			for (int i = US_ST_BAD_L2; i <= US_ST_TRUNC_BODY; i++)
				if (d[i])
					reason = i;
			if (machine)
				want = XDP_PASS;
			else if (reason == US_ST_BAD_L2 || reason == US_ST_BAD_L3)
				want = XDP_PASS;
			else if (reason == US_ST_BAD_L4)
				want = XDP_PASS, alt = XDP_DROP;
			else
				want = XDP_DROP;
		} else if (!machine) {
			switch (what) {
			case US_ST_PASS: want = XDP_PASS; break;
			case US_ST_REQ_FWD: want = XDP_REDIRECT; break;
			case US_ST_NO_MACHINE: case US_ST_NO_ROUTE: want = XDP_DROP; break;
			default: want = -1; break;  /* a machine-side outcome on the client */
			}
		} else {
			switch (what) {
			case US_ST_PASS: case US_ST_NO_ROUTE: want = XDP_PASS; break;
			case US_ST_RESP_FWD: want = XDP_REDIRECT; break;
			case US_ST_RESP_SIM_DROP: case US_ST_SIM_STRAY_DROP: want = XDP_DROP; break;
			case US_ST_DLG_ACK_SENT: case US_ST_DLG_ANSWERED: want = XDP_TX; break;
			default: want = -1; break;
			}
		}
		if (want < 0)
			vfail(v, IV_ACTION_OUTCOME, "outcome %s on the %s side",
			      what >= 0 ? us_stat_name(what) : "?", machine ? "machine" : "client");
		else if ((int)r->ret != want && (int)r->ret != alt)
			vfail(v, IV_ACTION_OUTCOME, "outcome %s, action %s, expected %s",
			      what >= 0 ? us_stat_name(what) : "bad reason", th_xdp_name(r->ret),
			      th_xdp_name((__u32)want));
	}

	/* output */
	mirrored = !machine && r->ret == XDP_REDIRECT && d[US_ST_REQ_MIRRORED] == 1;
	if (mirrored) {
		struct us_meta md;

		if (r->meta != sizeof(md) || r->len != in->len + sizeof(md)) {
			vfail(v, IV_OUT_LEN, "mirrored: meta %u len %u, expected %zu and %zu", r->meta,
			      r->len, sizeof(md), in->len + sizeof(md));
		} else {
			memcpy(&md, r->out, sizeof(md));
			if (memcmp(r->out + sizeof(md), in->f, in->len))
				vfail(v, IV_OUT_FRAME, "mirrored frame changed");
			check_copies(in, r, &md, v);
		}
	} else if (machine && r->ret == XDP_TX) {
		check_tx(in, ifc, r, v);
	} else if (r->meta || r->len != in->len) {
		vfail(v, IV_OUT_LEN, "%s: meta %u len %u, expected 0 and %zu", th_xdp_name(r->ret),
		      r->meta, r->len, in->len);
	} else if (r->ret == XDP_REDIRECT) {
		if (memcmp(r->out + 12, in->f + 12, in->len - 12))
			vfail(v, IV_OUT_FRAME, "forwarded frame changed beyond the MACs");
		if (!mac_is_iface(r->out + 6))
			vfail(v, IV_OUT_FRAME, "source MAC not the balancer's");
		if (!machine && !mac_in_states(r->out, ST(US_MS_ACTIVE) | ST(US_MS_DRAINING)))
			vfail(v, IV_OUT_FRAME, "client message to no active machine's MAC "
			      "%02x:%02x:%02x:%02x:%02x:%02x", r->out[0], r->out[1], r->out[2],
			      r->out[3], r->out[4], r->out[5]);
		if (machine && !mac_is_any_host(r->out))
			vfail(v, IV_OUT_FRAME, "machine message to an unknown MAC");
	} else if (r->ret == XDP_PASS || r->ret == XDP_DROP) {
		if (memcmp(r->out, in->f, in->len))
			vfail(v, IV_OUT_FRAME, "%s frame changed", th_xdp_name(r->ret));
	}

	/* frames built whole (lengths and checksums right): the SIP parser is
	 * reached, and OVERSIZE is exactly a payload over US_SIP_MAX */
	if (in->cls <= 1 && in->t->kind != TK_STRAY) {
		for (int i = US_ST_BAD_L2; i <= US_ST_FRAGMENT; i++)
			if (d[i])
				vfail(v, IV_FIXED_UP, "whole frame counted %s", us_stat_name(i));
		if (d[US_ST_PASS])
			vfail(v, IV_FIXED_UP, "service traffic counted as pass");
		if ((in->plen > US_SIP_MAX) != (d[US_ST_OVERSIZE] == 1))
			vfail(v, IV_FIXED_UP, "payload of %zu bytes, oversize +%lld", in->plen,
			      d[US_ST_OVERSIZE]);
	}

	/* the parser's verdict where it is known by construction */
	if (in->expect != EXP_NONE && in->t->kind != TK_STRAY) {
		int want = in->plen > US_SIP_MAX ? US_ST_OVERSIZE :
			   in->plen < 8 ? US_ST_NOT_SIP : in->expect;
		const char *got = d[US_ST_PASS] ? "pass" : "accepted";

		for (int i = US_ST_BAD_L2; i <= US_ST_TRUNC_BODY; i++)
			if (d[i])
				got = us_stat_name(i);
		oracle_n[want]++;
		if (want == EXP_ACCEPT ? (nbad || d[US_ST_PASS]) : d[want] != 1)
			vfail(v, IV_ORACLE, "expected %s, got %s",
			      want == EXP_ACCEPT ? "accepted" : us_stat_name(want), got);
	}

	/* an unmutated client message went where its call says, mirrored
	 * exactly when the call is (or the mirror was counted as skipped) */
	if (in->cls == 0 && !machine && r->ret == XDP_REDIRECT && d[US_ST_REQ_FWD] == 1) {
		struct us_call_key ck;
		struct us_call c;
		const struct mach *am, *sm;

		memset(&ck, 0, sizeof(ck));
		ck.callid_hash = us_hash_bytes(in->callid, (__u32)strlen(in->callid));
		ck.svc_id = (__u32)in->t->svc;
		if (bpf_map_lookup_elem(th.fd_calls, &ck, &c)) {
			vfail(v, IV_AFFINITY, "no call entry for %s", in->callid);
		} else {
			const __u8 *adm = r->out;
			struct us_meta md;

			am = mach_by_mid(c.active_mid);
			sm = c.sim_mid == US_MID_NONE ? NULL : mach_by_mid(c.sim_mid);
			if (mirrored && r->len >= sizeof(md)) {
				struct us_plan p;

				memcpy(&md, r->out, sizeof(md));
				if (plan_of(md.seq, &p)) {
					vfail(v, IV_AFFINITY, "mirrored without a plan");
				} else {
					adm = p.c[0].dmac;
					if (!sm || !mac_is_host(p.c[1].dmac, sm->host))
						vfail(v, IV_AFFINITY, "mirrored, call's simulation "
						      "machine %u", c.sim_mid);
				}
			} else if (sm && mstate_of(sm) == US_MS_SIMULATION &&
				   !d[US_ST_MIRROR_SKIPPED] && !d[US_ST_DLG_HELD] &&
				   !d[US_ST_DLG_NOT_SENT] && !d[US_ST_DLG_NO_RECORD] &&
				   in->t->m.method) {
				vfail(v, IV_AFFINITY, "call mirrored to %u, message neither "
				      "mirrored nor counted as skipped", c.sim_mid);
			}
			if (!am || !takes_traffic(mstate_of(am)) || !mac_is_host(adm, am->host))
				vfail(v, IV_AFFINITY, "call's active machine %u, frame to another",
				      c.active_mid);
		}
	}

	/* difference events: counted ones are in the ring buffer, sane */
	if (d[US_ST_EVENTS] || ev_seen) {
		ev_bad = 0;
		th_events_drain();
		if (ev_seen != d[US_ST_EVENTS])
			vfail(v, IV_EVENT, "%d events in the ring buffer, %lld counted", ev_seen,
			      d[US_ST_EVENTS]);
		if (ev_bad)
			vfail(v, IV_EVENT, "%s", ev_why);
		ev_seen = 0;
	}
}

static void report(const struct input *in, int ifc, const struct th_res *r, const __u64 *b,
		   const __u64 *a, const struct verdict *v, const char *tag)
{
	for (int i = 0; i < IV_MAX; i++) {
		if (!v->fails[i])
			continue;
		viol_by[i]++;
		if (tag)
			printf("test:FAIL:%s %s %s\n", tag, inv_names[i], v->why[i]);
		else
			printf("test:FAIL:fuzz %s seed 0x%llx iter %llu\n", inv_names[i],
			       (unsigned long long)seed, (unsigned long long)cur_iter);
	}
	if (!tag)
		for (int i = 0; i < IV_MAX; i++)
			if (v->fails[i])
				printf("  %s: %s\n", inv_names[i], v->why[i]);
	printf("  template %s, mutations %s; %s on %s (ifindex %d), frame %zu bytes\n",
	       in->t->name, in->ops, in->t->machine ? "us_machine" : "us_client",
	       testnet.ifs[ifc].name, testnet.ifs[ifc].ifindex, in->len);
	printf("  result: err %d action %s out.len %u meta %u; stats moved:", r->err,
	       th_xdp_name(r->ret), r->len, r->meta);
	for (int i = 0; i < US_ST_MAX; i++)
		if (a[i] != b[i])
			printf(" %s%+lld", us_stat_name(i), (long long)(a[i] - b[i]));
	printf("\n");
	hexdump(in->f, in->len);
}

static int ifc_of(const struct tmpl *t)
{
	return testnet.hosts[t->host].ifc;
}

/* ---- seeds: every template unmutated is accepted ------------------------------------- */

static struct th_res R;
static __u64 st_a[US_ST_MAX], st_b[US_ST_MAX];

static void seeds_case(const char *name)
{
	static struct input in;
	static struct txt t;
	struct verdict v;
	char tag[200];
	int ifc;

	th_begin("%s", name);
	for (int i = 0; i < ntmpl; i++) {
		const struct tmpl *tp = &tmpls[i];
		int want_stat, want_ret;

		in.t = tp;
		snprintf(in.ops, sizeof(in.ops), "none");
		snprintf(in.callid, sizeof(in.callid), "%s-%d@198.18.0.1", name, i);
		snprintf(in.branch, sizeof(in.branch), "z9hG4bK-%s-%d", name, i);
		text_build(tp, &t, in.callid, in.branch, 1, "INVITE");
		l2l4_of(tp, &in.o);
		in.len = t.n ? build_frame(&in, &t) : 0;
		if (!in.len) {
			printf("test:FAIL:%s %s frame not built\n", name, tp->name);
			th_cfails++;
			continue;
		}
		ifc = ifc_of(tp);
		th_read_stats(st_b);
		note_call(&in);
		th_run(tp->machine ? th.fd_machine : th.fd_client, ifc, in.f, in.len, &R);
		th_read_stats(st_a);
		check(&in, ifc, &R, st_b, st_a, &v);
		if (!tp->machine) {
			want_stat = tp->svc == SVC_NOMACH ? US_ST_NO_MACHINE : US_ST_REQ_FWD;
			want_ret = tp->svc == SVC_NOMACH ? XDP_DROP : XDP_REDIRECT;
		} else if (takes_traffic(mstate_of(mach_by_mac(testnet.hosts[tp->host].mac,
							       ifc)))) {
			want_stat = tp->kind == TK_STRAY ? US_ST_PASS : US_ST_RESP_FWD;
			want_ret = tp->kind == TK_STRAY ? XDP_PASS : XDP_REDIRECT;
		} else {
			want_stat = tp->kind == TK_STRAY ? US_ST_SIM_STRAY_DROP : US_ST_RESP_SIM_DROP;
			want_ret = XDP_DROP;
		}
		if (!R.err && (R.ret != (__u32)want_ret || st_a[want_stat] - st_b[want_stat] != 1)) {
			printf("test:FAIL:%s %s action %s stats[%s] +%lld, expected %s and +1\n", name,
			       tp->name, th_xdp_name(R.ret), us_stat_name(want_stat),
			       (long long)(st_a[want_stat] - st_b[want_stat]),
			       th_xdp_name((__u32)want_ret));
			snprintf(tag, sizeof(tag), "%.60s %.100s", name, tp->name);
			report(&in, ifc, &R, st_b, st_a, &v, tag);
			th_cfails++;
		} else if (v.nf) {
			snprintf(tag, sizeof(tag), "%.60s %.100s", name, tp->name);
			report(&in, ifc, &R, st_b, st_a, &v, tag);
			th_cfails++;
		}
	}
	if (th_verbose)
		printf("test:info:%s %d templates\n", name, ntmpl);
	th_end();
}

/* ---- stale scratch bytes ------------------------------------------------------------- */

/* Two client frames whose 4096-byte payloads fill the per-CPU scratch
 * buffer with different bytes; a frame run after each must get the same
 * verdict from the parser (what lies past its end must not matter). */
static __u8 poison[2][FRAME_MAX];
static size_t poison_len[2];

static void poison_init(void)
{
	static const char pat1[] = "Content-Length: 9\r\nvia:;branch=zz\r\ni: x\r\nCSeq: 1 INVITE"
				   "\r\nlength SIP/2.0 ;,=";
	static struct txt t;
	static struct input in;
	struct tmpl tp = { .host = TN_CLIENT, .fam = AF_INET, .svc = SVC4 };

	for (int k = 0; k < 2; k++) {
		for (size_t i = 0; i < US_SIP_MAX; i++)
			t.b[i] = k ? pat1[i % (sizeof(pat1) - 1)] : '\n';
		t.n = US_SIP_MAX;
		l2l4_of(&tp, &in.o);
		poison_len[k] = build_frame(&in, &t);
		memcpy(poison[k], in.f, poison_len[k]);
	}
}

static void run_poison(int k)
{
	static struct th_res pr;

	th_run(th.fd_client, TN_CLI, poison[k], poison_len[k], &pr);
}

/* The parser's verdict on a run: the bad reason counted, 0 for none, -1 if
 * the run failed. */
static int verdict_of(const struct th_res *r, const __u64 *b, const __u64 *a)
{
	if (r->err)
		return -1;
	for (int i = US_ST_BAD_L2; i <= US_ST_TRUNC_BODY; i++)
		if (a[i] != b[i])
			return i;
	return 0;
}

/* ---- phases -------------------------------------------------------------------------- */

/* Machines into their states of phase ph: those joining the active pool
 * first, so that a service never lacks an active machine in between. */
static void set_phase(int ph)
{
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < ARRAY_SIZE(machs); i++) {
			enum us_mstate want = ph ? machs[i].state_b : machs[i].state;
			int err;

			if (want == mst[i] || (pass == 0) != (want == US_MS_ACTIVE))
				continue;
			err = us_dp_set_state(th.dp, machs[i].mid, want);
			if (err) {
				printf("test:FAIL:%s us_dp_set_state(%u, %s) %d: %s\n", th_cname,
				       machs[i].mid, us_state_name(want), err, us_dp_error(th.dp));
				th_cfails++;
				continue;
			}
			mst[i] = want;
		}
	}
	phase = ph;
}

static int phase_of(__u64 i)
{
	return i >= PHASE_START && ((i - PHASE_START) / PHASE_LEN) % 2 == 0;
}

/* ---- watchdog ------------------------------------------------------------------------ */

static volatile __u64 progress;
static struct input cur_in;
static int cur_ifc;

static void *watchdog(void *arg)
{
	__u64 last = ~0ull;
	int still = 0;

	(void)arg;
	for (;;) {
		sleep(1);
		if (progress != last) {
			last = progress;
			still = 0;
			continue;
		}
		if (++still < HANG_SECONDS)
			continue;
		printf("test:FAIL:fuzz hang seed 0x%llx iter %llu\n", (unsigned long long)seed,
		       (unsigned long long)cur_iter);
		printf("  no test run returned in %d s; template %s, mutations %s, %s on %s\n",
		       HANG_SECONDS, cur_in.t ? cur_in.t->name : "?", cur_in.ops,
		       cur_in.t && cur_in.t->machine ? "us_machine" : "us_client",
		       testnet.ifs[cur_ifc].name);
		hexdump(cur_in.f, cur_in.len);
		printf("%d passed, %d failed\n", th_npass, th_nfail + 1);
		fflush(stdout);
		if (th.pin_root[0])
			us_dp_destroy_pins(th.pin_root);
		_exit(1);
	}
	return NULL;
}

/* ---- set-up and tear-down ------------------------------------------------------------- */

static int setup(void)
{
	struct us_dp_opts o = { .calls_max = 16384, .txns_max = 16384 };
	struct us_cfg cfg = { .event_rate = 1000000, .event_burst = 1000000 };
	int err;

	if ((err = th_setup_dp(PIN_PREFIX, &o)))
		return err;
	for (__u32 s = 0; s < NSVC; s++)
		if ((err = th_set_service(s, svc_vip[s], US_SHARE_MAX)))
			return th_setup_fail("us_dp_set_service", err);
	/* deadlines at their longest: transactions are cleared long before */
	for (__u32 s = 0; s < NSVC; s++)
		if ((err = us_dp_set_due(th.dp, s, US_DUE_MAX_MS, 1)))
			return th_setup_fail("us_dp_set_due", err);
	for (size_t i = 0; i < ARRAY_SIZE(machs); i++) {
		const struct mach *m = &machs[i];
		const struct testnet_host *h = &testnet.hosts[m->host];

		err = th_set_machine(m->mid, m->svc, m->svc == SVC6 ? h->v6 : h->v4, m->state);
		if (err)
			return th_setup_fail("us_dp_set_machine", err);
		mst[i] = m->state;
		if (!m->no_mac && (err = th_set_mac(m->mid, m->host)))
			return th_setup_fail("us_dp_set_mac", err);
	}
	return th_setup_tables(NSVC, &cfg, ev_cb);
}

static __u64 env_u64(const char *name, __u64 def)
{
	const char *s = getenv(name);
	char *e;
	unsigned long long v;

	if (!s || !*s)
		return def;
	errno = 0;
	v = strtoull(s, &e, 0);
	if (errno || *e) {
		printf("test:info:fuzz %s=%s not a number, using %llu\n", name, s,
		       (unsigned long long)def);
		return def;
	}
	return v;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(void)
{
	static __u64 st0[US_ST_MAX], st1[US_ST_MAX];
	__u64 iters, first, done = 0, cls_n[3] = { 0 }, multibuf = 0, refused = 0, max_ns = 0;
	static __u64 st_a2[US_ST_MAX];
	static struct th_res R2;
	__u64 n_twice = 0;
	bool twice;
	pthread_t wd;
	double t0, t1;
	bool wd_on = false;

	th_init();
	seed = env_u64("US_FUZZ_SEED", DEFAULT_SEED);
	iters = env_u64("US_FUZZ_ITERS", DEFAULT_ITERS);
	first = env_u64("US_FUZZ_FIRST", 0);
	maxfail = (long)env_u64("US_FUZZ_MAXFAIL", DEFAULT_MAXFAIL);
	if (th_need_root())
		return 1;
	printf("test:info:fuzz seed 0x%llx iterations %llu from %llu (US_FUZZ_SEED, "
	       "US_FUZZ_ITERS, US_FUZZ_FIRST)\n", (unsigned long long)seed,
	       (unsigned long long)iters, (unsigned long long)first);
	th_start(PIN_PREFIX);
	if (th_setup_case(setup))
		return 1;
	tmpls_init();
	poison_init();

	/* the watchdog may run on any CPU: not blocked by a run that never ends */
	if (!pthread_create(&wd, NULL, watchdog, NULL)) {
		cpu_set_t all;

		CPU_ZERO(&all);
		for (int c = 0; c < CPU_SETSIZE && c < 1024; c++)
			CPU_SET(c, &all);
		pthread_setaffinity_np(wd, sizeof(all), &all);
		wd_on = true;
	}

	seeds_case("seeds");
	lru_reset();

	th_read_stats(st0);
	th_read_stats(st_b);
	t0 = now_s();
	for (__u64 i = first; i < first + iters && nviol < maxfail; i++) {
		struct verdict v;

		if ((i - first) % BATCH == 0)
			th_begin("fuzz/batch-%llu", (unsigned long long)((i - first) / BATCH));
		cur_iter = i;
		if (i % LRU_RESET_EVERY == 0 && i != first)
			lru_reset();
		if (phase_of(i) != phase)
			set_phase(phase_of(i));
		gen(seed, i, &cur_in);
		cur_ifc = ifc_of(cur_in.t);
		/* one in 16: run twice, after different scratch contents */
		twice = cur_in.len >= 14 &&
			((i * 0x9e3779b97f4a7c15ull + seed) >> 60) == 0;
		if (twice) {
			run_poison(0);
			th_read_stats(st_b);
		}
		note_call(&cur_in);
		th_run(cur_in.t->machine ? th.fd_machine : th.fd_client, cur_ifc, cur_in.f,
		       cur_in.len, &R);
		progress++;
		th_read_stats(st_a);
		check(&cur_in, cur_ifc, &R, st_b, st_a, &v);
		if (twice) {
			int v1 = verdict_of(&R, st_b, st_a), v2;
			struct verdict v_2;

			n_twice++;
			run_poison(1);
			th_read_stats(st_b);
			th_run(cur_in.t->machine ? th.fd_machine : th.fd_client, cur_ifc, cur_in.f,
			       cur_in.len, &R2);
			th_read_stats(st_a2);
			v2 = verdict_of(&R2, st_b, st_a2);
			if (v1 != v2)
				vfail(&v, IV_STALE, "verdict %s after one scratch content, %s after "
				      "another", v1 > 0 ? us_stat_name(v1) : v1 ? "error" : "none",
				      v2 > 0 ? us_stat_name(v2) : v2 ? "error" : "none");
			/* the second run is held to the invariants too */
			check(&cur_in, cur_ifc, &R2, st_b, st_a2, &v_2);
			for (int k = 0; k < IV_MAX; k++)
				if (v_2.fails[k] && !v.fails[k])
					vfail(&v, k, "(second run) %s", v_2.why[k]);
			memcpy(st_a, st_a2, sizeof(st_a));
		}
		if (v.nf) {
			report(&cur_in, cur_ifc, &R, st_b, st_a, &v, NULL);
			nviol++;
			th_cfails++;
		}
		/* read again: checking the copies ran the egress program */
		th_read_stats(st_b);
		cls_n[cur_in.cls]++;
		multibuf += cur_in.len > 3520;
		refused += cur_in.len < 14;
		if (!R.err && R.duration > max_ns)
			max_ns = R.duration;
		done++;
		if ((i - first + 1) % BATCH == 0 || i + 1 == first + iters || nviol >= maxfail)
			th_end();
	}
	t1 = now_s();
	th_read_stats(st1);
	if (nviol >= maxfail)
		printf("test:info:fuzz stopped after %ld failed runs (US_FUZZ_MAXFAIL)\n", nviol);
	printf("test:info:fuzz %llu iterations in %.2f s (%.1f us each): %llu unmutated, %llu "
	       "text-mutated (fixed up), %llu frame-mutated (not fixed up); %llu multi-buffer, "
	       "%llu refused; longest run %llu ns\n", (unsigned long long)done, t1 - t0,
	       done ? (t1 - t0) * 1e6 / (double)done : 0.0, (unsigned long long)cls_n[0],
	       (unsigned long long)cls_n[1], (unsigned long long)cls_n[2],
	       (unsigned long long)multibuf, (unsigned long long)refused,
	       (unsigned long long)max_ns);
	printf("test:info:fuzz counters (with the scratch-filling runs):");
	for (int s = 0; s < US_ST_MAX; s++)
		if (st1[s] != st0[s])
			printf(" %s=%llu", us_stat_name(s), (unsigned long long)(st1[s] - st0[s]));
	printf("\n");
	if (th_verbose) {
		printf("test:info:fuzz text mutations:");
		for (int m = 0; m < TM_MAX; m++)
			printf(" %s=%llu", tm_names[m], (unsigned long long)tm_count[m]);
		printf("\ntest:info:fuzz frame mutations:");
		for (int m = 0; m < FM_MAX; m++)
			printf(" %s=%llu", fm_names[m], (unsigned long long)fm_count[m]);
		printf("\n");
	}
	printf("test:info:fuzz promoted machines' answers dropped: %llu; runs repeated after "
	       "other scratch contents: %llu\n", (unsigned long long)n_promoted,
	       (unsigned long long)n_twice);
	printf("test:info:fuzz verdicts known by construction:");
	for (int s = 0; s < US_ST_MAX; s++)
		if (oracle_n[s])
			printf(" %s=%llu", s ? us_stat_name(s) : "accepted",
			       (unsigned long long)oracle_n[s]);
	printf("\n");
	if (nviol) {
		printf("test:info:fuzz %ld failed runs:", nviol);
		for (int i = 0; i < IV_MAX; i++)
			if (viol_by[i])
				printf(" %s=%llu", inv_names[i], (unsigned long long)viol_by[i]);
		printf("\n");
	}

	set_phase(0);
	seeds_case("seeds-after");

	if (wd_on) {
		pthread_cancel(wd);
		pthread_join(wd, NULL);
	}
	return th_finish();
}
