/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The data-plane tests' fixture (build/test_xdp): the real XDP programs run
 * by BPF_PROG_TEST_RUN on packets from tests/pktbuild, in a network
 * namespace of our own (tests/testnet) so that bpf_fib_lookup() answers.
 *
 * Every test starts on a fresh data plane (pins under
 * /sys/fs/bpf/understudy-test-<pid>) with the services and machines below,
 * every share as listed, a3 not configured, events at 1,000,000/s (burst
 * 100); a subtest that changes any of it puts it back.
 *
 * Every case states the XDP action, the bytes that come out, and the exact
 * change of every global counter (us_stats); where it matters also of the
 * per-machine counters (us_mstats, every machine in use: those not named
 * must not move), transactions (us_txns), calls (us_calls) and difference
 * events (us_events). Checks report through the harness (th_fail: name,
 * actual, expected).
 *
 * One file per feature: parse.c (not service traffic, parsing, methods),
 * bad.c (bad packets, limits, truncation), balance.c (tables, sticky calls),
 * txn.c (transactions), machine.c (the machine side, responses), mirror.c,
 * pair.c (pairing and difference events), egress.c (live clones).
 *
 * Kernel facts this relies on (checked on 6.18):
 *  - XDP test runs refuse frames under 14 bytes (EINVAL);
 *  - the linear part of a test frame is at most PAGE_SIZE - 256 - 320 bytes
 *    (3520 with 4 KiB pages); longer input (up to MAX_SKB_FRAGS pages) goes
 *    to fragments, which the xdp.frags programs read with
 *    bpf_xdp_load_bytes: that is how US_SIP_MAX and OVERSIZE are tested;
 *  - programs of expected attach type BPF_XDP_DEVMAP (us_egress) cannot be
 *    test-run (EINVAL): us_egress is tested by live-frame runs
 *    (BPF_F_TEST_XDP_LIVE_FRAMES) of us_client whose redirected copies are
 *    captured on the veth peers.
 */
#ifndef US_TEST_XDP_FIXTURE_H
#define US_TEST_XDP_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

#include "dp.h"
#include "harness.h"
#include "pktbuild.h"
#include "testnet.h"

#define FRAME_MAX TH_FRAME_MAX
#define MID_NONE US_MID_NONE
#define NCALL 40                 /* calls in the scenarios that place many */

/* ---- reporting ---------------------------------------------------------- */

int check_ret(long long a, long long e);
/* strings equal, or a failure */
int check_str(const char *what, const char *a, const char *e);
#define EQs(what, a, e) check_str(what, a, e)
const char *mac_s(const __u8 *m, char *b);
int check_mac(const char *what, const __u8 *a, const __u8 *e);

/* ---- the data plane under test ------------------------------------------ */

/* services */
enum { SVC4 = 0, SVC6 = 1, SVC_NOMACH = 2, SVC_NOROUTE = 3, SVC_SKIPNEIGH = 4,
       SVC_SKIPGROUP = 5, NSVC };
extern const char *const svc_vip[NSVC];
extern __u16 svc_share[NSVC];    /* the shares now (set_share) */

/* machines: id, service, host (its MAC and interface) or address */
struct mach {
	__u32 mid;
	__u32 svc;
	int host;                /* testnet host, -1 if none */
	const char *addr;        /* its address (text) */
	enum us_mstate state;
	bool later;              /* configured by a test, not at start */
};

enum { M_A1 = 0, M_A2 = 1, M_A3 = 2, M_S1 = 3, M_B1 = 10, M_B2 = 11, M_S2 = 12,
       M_NOROUTE = 30, M_SN_A = 40, M_SN_S = 41, M_SG_A = 50, M_SG_S = 51, M_C1 = 60 };
#define NMACH 13
extern const struct mach machs[NMACH];

const struct mach *mach_of(__u32 mid);
/* "a1(0)", "mid30", "none" */
const char *mname(__u32 mid);
/* MAC a forwarded frame to machine mid must carry; the interface it is on */
const __u8 *mach_mac(__u32 mid);
int mach_ifc(__u32 mid);
int set_machine(const struct mach *m, enum us_mstate state);
/* change a machine's state (and rebuild its service's tables); failures
 * reported */
int set_state(__u32 mid, enum us_mstate st, bool rebuild);
int set_share(__u32 svc, __u16 bp);
int set_cfg(__u32 rate, __u32 burst);

/* ---- hashing and predictions (the user-space side of understudy.h) ------- */

__u64 hstr(const char *s);
__u32 pred_active(__u32 svc, const char *callid);
__u32 pred_sim(__u32 svc, const char *callid);

/* ---- counters ------------------------------------------------------------ */

struct snap {
	__u64 st[US_ST_MAX];
};

void snap_take(struct snap *s);

struct sexp {
	int stat1;               /* enum us_stat + 1; 0 ends the list */
	long long delta;
};
#define S(stat, n) { (stat) + 1, (n) },

/* Every counter moved by exactly what e says; RX by rx. */
void stats_expect(const struct snap *b, int rx, const struct sexp *e);
#define STATS(b, rx, ...) stats_expect(b, rx, (const struct sexp[]){ __VA_ARGS__ { 0, 0 } })
long long stat_delta(const struct snap *b, int s);

/* per-machine counters of every machine in use */
struct msnap {
	struct us_mstats m[NMACH];
	unsigned checked;        /* bit per machs[] index */
};

void msnap_take(struct msnap *s);

struct mexp {
	int w1;                  /* word index + 1; 0 ends */
	long long delta;
};
#define MW(field) ((int)(offsetof(struct us_mstats, field) / sizeof(__u64)))
#define M(field, n) { MW(field) + 1, (n) },

/* Machine mid's counters moved by exactly e (latency sum and histogram:
 * as many histogram entries as lat_count moved by, the sum only then). */
void mst_expect(struct msnap *b, __u32 mid, const struct mexp *e);
#define MST(b, mid, ...) mst_expect(b, mid, (const struct mexp[]){ __VA_ARGS__ { 0, 0 } })
/* Every machine not checked since the snapshot did not move at all. */
void mst_rest(struct msnap *b);

/* ---- transactions, calls, events ---------------------------------------- */

int txn_get(__u32 svc, const char *callid, const char *branch, unsigned cseq, int method,
	    struct us_txn *t);
long txn_count(void);
int call_get(__u32 svc, const char *callid, struct us_call *c);
/* the dialog record of a mirrored call */
int dlg_get(__u32 svc, const char *callid, struct us_dlg *d);

extern struct us_event evs[16];  /* the events ev_drain() read (the first 16) */
/* read the events waiting; how many */
int ev_drain(void);

/* ---- frames ---------------------------------------------------------------- */

int fam_of(const char *addr);
/* A frame from the client (cli0 side) to addr:dport. */
size_t frame_client(__u8 *buf, int nvlan, const char *daddr, __u16 dport, const void *pl,
		    size_t n);
/* A frame from a machine host, behind its interface. */
size_t frame_host(__u8 *buf, int host, int nvlan, const char *saddr, __u16 sport,
		  const char *daddr, __u16 dport, const void *pl, size_t n);
/* A machine's SIP message from the VIP of svc to the client. */
size_t frame_resp(__u8 *buf, int host, __u32 svc, const void *pl, size_t n);

/* ---- running ----------------------------------------------------------------- */

int check_run(const struct th_res *r);
/* the frame came out as it went in */
void out_same(const struct th_res *r, const __u8 *in, size_t len);
/* the frame with new MACs and nothing else changed */
void out_fwd(const struct th_res *r, const __u8 *in, size_t len, const __u8 *dmac,
	     const __u8 *smac);
/* the frame unchanged behind a struct us_meta for the two copies, their
 * plan: the active copy as it is, the simulation's in mode sim_mode (or as
 * it is); returns the sequence number */
__u32 out_meta(const struct th_res *r, const __u8 *in, size_t len, __u32 active, __u32 sim);
__u32 out_meta_mode(const struct th_res *r, const __u8 *in, size_t len, __u32 active, __u32 sim,
		    int sim_mode);
/* the plan of a mirror sequence number (any CPU's) */
int plan_get(__u32 seq, struct us_plan *p);

/* ---- SIP texts ------------------------------------------------------------- */

extern char sipbuf[8192];
size_t sipf(char *buf, size_t cap, const struct sip_msg *m);
size_t req_text(char *buf, const char *method, const char *callid, const char *branch,
		unsigned cseq);
size_t resp_text(char *buf, int code, const char *callid, const char *branch, unsigned cseq,
		 const char *cseq_method);

/* ---- sending with the usual expectations ------------------------------------ */

extern __u8 fin[FRAME_MAX];
extern struct th_res R;

/*
 * A client's message of a call of svc: forwarded to machine `active`
 * (and, when sim is not MID_NONE, mirrored to sim). Checks the action and
 * the output; returns the machine the frame went to (by its MAC), or
 * MID_NONE; *seq gets the metadata sequence number when mirrored.
 */
__u32 send_client(__u32 svc, const char *text, size_t n, __u32 active, __u32 sim, __u32 *seq);
/* A machine's message to the client: forwarded (active) or dropped (sim). */
void send_machine(__u32 mid, const char *text, size_t n, int want);
/* A shadow machine's message answered on the caller's behalf: XDP_TX of a
 * well-formed frame back to the machine; its SIP text in txbuf. */
extern char txbuf[];
int send_machine_tx(__u32 mid, const char *text, size_t n);
/* Send a client message; only the mirror decision is checked (and the
 * frame goes to the machine the call is on). Returns 1 if mirrored. */
int send_mirror_check(__u32 svc, const char *text, size_t n, __u32 active, __u32 sim,
		      __u32 *seq);

/* ---- single-packet cases: a table per feature ------------------------------- */

enum { K_SIP = 0, K_RAW, K_ARP, K_TCP, K_ICMP, K_VLAN3, K_V6HBH };
enum { O_SAME = 0, O_MACHINE, O_CLIENT, O_ANY };

struct pcase {
	const char *name;        /* the subtest; Call-ID and branch default from it */
	bool machine;            /* us_machine (else us_client) */
	int kind;
	struct sip_msg sip;      /* K_SIP */
	const char *raw;         /* K_RAW payload */
	bool no_branch;
	int nvlan;
	bool v6;
	__u32 svc;               /* default SVC4 / SVC6 */
	int host;                /* machine side: the sender (TN_CLIENT: unknown MAC) */
	const char *saddr, *daddr;
	__u16 sport, dport;
	bool mf, frag6, bad_udp_len;
	__u16 frag_off;
	int ret;
	int out;
	bool txn;                /* a new transaction must be there */
	bool mirror_skip;        /* svc with a simulation pool that cannot be used */
	struct sexp st[6];
	struct mexp ms[8];       /* machine side: the sender's counters */
};

#define PASSED { S(US_ST_PASS, 1) }
#define FWD { S(US_ST_REQ_FWD, 1) }
#define BAD(s) { S(s, 1) }
#define INV(...) { .method = "INVITE", .body_len = 300, __VA_ARGS__ }
#define RESP(code, ...) { .status = code, .cseq_method = "INVITE", __VA_ARGS__ }
#define CLI_FWD .ret = XDP_REDIRECT, .out = O_MACHINE, .txn = true, .st = FWD
#define CLI_DROP(s) .ret = XDP_DROP, .out = O_ANY, .st = BAD(s)
#define CLI_PASS .ret = XDP_PASS, .out = O_SAME, .st = PASSED

/* enum us_method of a method's name (US_M_OTHER if none) */
int method_idx(const char *m);
/* Every case of a table as a subtest of the running test. */
void run_pcases(const struct pcase *v, size_t n);

#endif
