// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * understudy data-plane tests: the real XDP programs run by
 * BPF_PROG_TEST_RUN on packets from tests/pktbuild, in a network namespace
 * of our own (tests/testnet) so that bpf_fib_lookup() answers.
 *
 * Every case states the XDP action, the bytes that come out, and the exact
 * change of every global counter (us_stats); where it matters also of the
 * per-machine counters (us_mstats, every machine in use: those not named
 * must not move), transactions (us_txns), calls (us_calls) and difference
 * events (us_events).
 *
 * Output: "test:FAIL:<case> <what> actual <x> expected <y>" per failed
 * check, then "N passed, N failed" (cases). Exit status 1 on any failure.
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
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "dp.h"
#include "understudy.skel.h"
#include "harness.h"
#include "pktbuild.h"
#include "testnet.h"

#define FRAME_MAX TH_FRAME_MAX
#define MID_NONE US_MID_NONE
#define PIN_PREFIX "understudy-test"   /* pins: /sys/fs/bpf/understudy-test-<pid> */

/* ---- reporting ---------------------------------------------------------- */

static int check_ret(long long a, long long e)
{
	if (a == e)
		return 1;
	th_fail("action", th_xdp_name(a), th_xdp_name(e));
	return 0;
}

static const char *mac_s(const __u8 *m, char *b)
{
	sprintf(b, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
	return b;
}

static int check_mac(const char *what, const __u8 *a, const __u8 *e)
{
	char sa[20], se[20];

	if (!memcmp(a, e, 6))
		return 1;
	th_fail(what, mac_s(a, sa), mac_s(e, se));
	return 0;
}

/* ---- the data plane under test ------------------------------------------ */

/* services */
enum { SVC4 = 0, SVC6 = 1, SVC_NOMACH = 2, SVC_NOROUTE = 3, SVC_SKIPNEIGH = 4,
       SVC_SKIPGROUP = 5, NSVC };
static const char *svc_vip[NSVC] = {
	"198.18.100.1", "2001:db8:100::1", "198.18.100.2", "198.18.100.3", "198.18.100.4",
	"198.18.100.5",
};
static __u16 svc_share[NSVC] = { 0, 0, 0, 0, 10000, 10000 };

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
       M_NOROUTE = 30, M_SN_A = 40, M_SN_S = 41, M_SG_A = 50, M_SG_S = 51 };

static struct mach machs[] = {
	{ M_A1, SVC4, TN_A1, "198.18.1.1", US_MS_ACTIVE, false },
	{ M_A2, SVC4, TN_A2, "198.18.1.2", US_MS_ACTIVE, false },
	{ M_A3, SVC4, TN_A3, "198.18.1.3", US_MS_ACTIVE, true },
	{ M_S1, SVC4, TN_S1, "198.18.1.11", US_MS_SIMULATION, false },
	{ M_B1, SVC6, TN_B1, "2001:db8:1::21", US_MS_ACTIVE, false },
	{ M_B2, SVC6, TN_B2, "2001:db8:1::22", US_MS_ACTIVE, false },
	{ M_S2, SVC6, TN_S2, "2001:db8:2::11", US_MS_SIMULATION, false },
	/* no neighbour entry: no route */
	{ M_NOROUTE, SVC_NOROUTE, -1, "198.18.1.50", US_MS_ACTIVE, false },
	/* active reachable (a1's address), simulation without neighbour */
	{ M_SN_A, SVC_SKIPNEIGH, -1, "198.18.1.1", US_MS_ACTIVE, false },
	{ M_SN_S, SVC_SKIPNEIGH, -1, "198.18.1.51", US_MS_SIMULATION, false },
	/* simulation reachable only through cli0: no mirror group for it */
	{ M_SG_A, SVC_SKIPGROUP, -1, "198.18.1.2", US_MS_ACTIVE, false },
	{ M_SG_S, SVC_SKIPGROUP, -1, "198.18.0.1", US_MS_SIMULATION, false },
};

static const struct mach *mach_of(__u32 mid)
{
	for (size_t i = 0; i < ARRAY_SIZE(machs); i++)
		if (machs[i].mid == mid)
			return &machs[i];
	return NULL;
}

static const char *mname(__u32 mid)
{
	static char b[4][16];
	static int k;
	const struct mach *m = mach_of(mid);

	k = (k + 1) & 3;
	if (mid == MID_NONE)
		return "none";
	if (m && m->host >= 0)
		snprintf(b[k], sizeof(b[k]), "%s(%u)", testnet.hosts[m->host].name, mid);
	else
		snprintf(b[k], sizeof(b[k]), "mid%u", mid);
	return b[k];
}

/* MAC a forwarded frame to machine mid must carry */
static const __u8 *mach_mac(__u32 mid)
{
	const struct mach *m = mach_of(mid);
	static const __u8 zero[6];

	if (!m)
		return zero;
	if (m->host >= 0)
		return testnet.hosts[m->host].mac;
	for (int h = 0; h < TN_NHOSTS; h++)
		if (!strcmp(testnet.hosts[h].v4, m->addr) || !strcmp(testnet.hosts[h].v6, m->addr))
			return testnet.hosts[h].mac;
	return zero;
}

static int mach_ifc(__u32 mid)
{
	const struct mach *m = mach_of(mid);

	if (m && m->host >= 0)
		return testnet.hosts[m->host].ifc;
	for (int h = 0; h < TN_NHOSTS; h++)
		if (m && (!strcmp(testnet.hosts[h].v4, m->addr) ||
			  !strcmp(testnet.hosts[h].v6, m->addr)))
			return testnet.hosts[h].ifc;
	return TN_MACH;
}

static int set_machine(const struct mach *m, enum us_mstate state)
{
	return th_set_machine(m->mid, m->svc, m->addr, state);
}

static int set_state(__u32 mid, enum us_mstate st, bool rebuild)
{
	const struct mach *m = mach_of(mid);
	int err = us_dp_set_state(th.dp, mid, st);

	if (!err && rebuild && m) {
		err = us_dp_rebuild(th.dp, m->svc, US_POOL_ACTIVE);
		if (!err)
			err = us_dp_rebuild(th.dp, m->svc, US_POOL_SIM);
	}
	if (err)
		th_fail("set_state", us_dp_error(th.dp), "0");
	return err;
}

static int set_share(__u32 svc, __u16 bp)
{
	int err = us_dp_set_share(th.dp, svc, bp);

	if (err)
		th_fail("set_share", us_dp_error(th.dp), "0");
	else
		svc_share[svc] = bp;
	return err;
}

/* ---- hashing and predictions (the user-space side of understudy.h) ------- */

/* the data plane's hash of a Call-ID or branch; no branch hashes as 0 */
static __u64 hstr(const char *s)
{
	if (!s || !*s)
		return 0;
	return us_hash_bytes(s, (__u32)strlen(s));
}

static __u32 pred_active(__u32 svc, const char *callid)
{
	__u32 mid = MID_NONE;

	if (us_dp_table_lookup(th.dp, svc, US_POOL_ACTIVE, us_maglev_slot(hstr(callid)), &mid))
		return MID_NONE;
	return mid;
}

static __u32 pred_sim(__u32 svc, const char *callid)
{
	__u64 h = hstr(callid);
	__u32 mid = MID_NONE;

	if (!svc_share[svc] || us_share_point(h) >= svc_share[svc])
		return MID_NONE;
	if (us_dp_table_lookup(th.dp, svc, US_POOL_SIM, us_sim_slot(h), &mid))
		return MID_NONE;
	return mid;
}

/* ---- counters ------------------------------------------------------------ */

struct snap {
	__u64 st[US_ST_MAX];
};

static void snap_take(struct snap *s)
{
	if (th_read_stats(s->st))
		memset(s, 0, sizeof(*s));
}

struct sexp {
	int stat1;               /* enum us_stat + 1; 0 ends the list */
	long long delta;
};
#define S(stat, n) { (stat) + 1, (n) },

/* Every counter moved by exactly what e says; RX by rx. */
static void stats_expect(const struct snap *b, int rx, const struct sexp *e)
{
	long long want[US_ST_MAX] = { 0 };
	struct snap a;

	snap_take(&a);
	want[US_ST_RX] = rx;
	for (; e->stat1; e++)
		want[e->stat1 - 1] = e->delta;
	for (int i = 0; i < US_ST_MAX; i++)
		th_eqf((long long)(a.st[i] - b->st[i]), want[i], "stats[%s]", us_stat_name(i));
}
#define STATS(b, rx, ...) stats_expect(b, rx, (const struct sexp[]){ __VA_ARGS__ { 0, 0 } })

static long long stat_delta(const struct snap *b, int s)
{
	struct snap a;

	snap_take(&a);
	return (long long)(a.st[s] - b->st[s]);
}

/* per-machine counters of every machine in use */
struct msnap {
	struct us_mstats m[ARRAY_SIZE(machs)];
	unsigned checked;        /* bit per machs[] index */
};

static void msnap_take(struct msnap *s)
{
	for (size_t i = 0; i < ARRAY_SIZE(machs); i++)
		if (us_dp_read_mstats(th.dp, machs[i].mid, &s->m[i]))
			memset(&s->m[i], 0, sizeof(s->m[i]));
	s->checked = 0;
}

struct mexp {
	int w1;                  /* word index + 1; 0 ends */
	long long delta;
};
#define MW(field) ((int)(offsetof(struct us_mstats, field) / sizeof(__u64)))
#define M(field, n) { MW(field) + 1, (n) },
#define MS_WORDS ((int)(sizeof(struct us_mstats) / sizeof(__u64)))

static const char *mword_name(int w, char *buf, size_t cap)
{
	static const struct { int lo, n; const char *name; } f[] = {
		{ MW(req), US_M_MAX, "req" },
		{ MW(retrans_req), 1, "retrans_req" },
		{ MW(resp_class), 8, "resp_class" },
		{ MW(final_class), 8, "final_class" },
		{ MW(final_code), US_C_MAX, "final_code" },
		{ MW(retrans_resp), 1, "retrans_resp" },
		{ MW(lat_count), 1, "lat_count" },
		{ MW(lat_sum_ns), 1, "lat_sum_ns" },
		{ MW(lat_hist), US_LAT_BUCKETS, "lat_hist" },
		{ MW(paired), 1, "paired" },
		{ MW(agree_class), 1, "agree_class" },
		{ MW(differ_class), 1, "differ_class" },
		{ MW(agree_code), 1, "agree_code" },
		{ MW(differ_code), 1, "differ_code" },
		{ MW(dropped), 1, "dropped" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(f); i++)
		if (w >= f[i].lo && w < f[i].lo + f[i].n) {
			if (f[i].n == 1)
				snprintf(buf, cap, "%s", f[i].name);
			else if (f[i].lo == MW(req))
				snprintf(buf, cap, "req[%s]", us_method_name(w - f[i].lo));
			else
				snprintf(buf, cap, "%s[%d]", f[i].name, w - f[i].lo);
			return buf;
		}
	snprintf(buf, cap, "word%d", w);
	return buf;
}

/* Machine mid's counters moved by exactly e (latency sum and histogram:
 * as many histogram entries as lat_count moved by, the sum only then). */
static void mst_expect(struct msnap *b, __u32 mid, const struct mexp *e)
{
	long long want[MS_WORDS];
	struct us_mstats a;
	const __u64 *wa, *wb;
	long long hist = 0;
	size_t i;
	char nb[48];

	for (i = 0; i < ARRAY_SIZE(machs); i++)
		if (machs[i].mid == mid)
			break;
	if (i == ARRAY_SIZE(machs) || us_dp_read_mstats(th.dp, mid, &a)) {
		th_fail("mstats", "unreadable", mname(mid));
		return;
	}
	b->checked |= 1u << i;
	memset(want, 0, sizeof(want));
	for (; e->w1; e++)
		want[e->w1 - 1] = e->delta;
	wa = (const __u64 *)&a;
	wb = (const __u64 *)&b->m[i];
	for (int w = 0; w < MS_WORDS; w++) {
		long long d = (long long)(wa[w] - wb[w]);

		if (w >= MW(lat_hist) && w < MW(lat_hist) + US_LAT_BUCKETS) {
			hist += d;
			continue;
		}
		if (w == MW(lat_sum_ns))
			continue;
		th_eqf(d, want[w], "mstats[%s].%s", mname(mid), mword_name(w, nb, sizeof(nb)));
	}
	th_eqf(hist, want[MW(lat_count)], "mstats[%s].sum(lat_hist)", mname(mid));
	if (!want[MW(lat_count)])
		th_eqf((long long)(a.lat_sum_ns - b->m[i].lat_sum_ns), 0, "mstats[%s].lat_sum_ns",
		       mname(mid));
}
#define MST(b, mid, ...) mst_expect(b, mid, (const struct mexp[]){ __VA_ARGS__ { 0, 0 } })

/* Every machine not checked since the snapshot did not move at all. */
static void mst_rest(struct msnap *b)
{
	for (size_t i = 0; i < ARRAY_SIZE(machs); i++)
		if (!(b->checked & (1u << i)))
			MST(b, machs[i].mid);
}

/* ---- transactions, calls, events ---------------------------------------- */

static struct us_txn_key tkey(__u32 svc, const char *callid, const char *branch, unsigned cseq,
			      int method)
{
	struct us_txn_key k;

	memset(&k, 0, sizeof(k));
	k.branch_hash = hstr(branch);
	k.callid_hash = hstr(callid);
	k.cseq = cseq;
	k.svc_id = svc;
	k.method = method;
	return k;
}

static int txn_get(__u32 svc, const char *callid, const char *branch, unsigned cseq, int method,
		   struct us_txn *t)
{
	struct us_txn_key k = tkey(svc, callid, branch, cseq, method);

	return bpf_map_lookup_elem(th.fd_txns, &k, t) ? -errno : 0;
}

static long txn_count(void)
{
	return th_map_count(th.fd_txns, sizeof(struct us_txn_key));
}

static int call_get(__u32 svc, const char *callid, struct us_call *c)
{
	struct us_call_key k;

	memset(&k, 0, sizeof(k));
	k.callid_hash = hstr(callid);
	k.svc_id = svc;
	return bpf_map_lookup_elem(th.fd_calls, &k, c) ? -errno : 0;
}

static struct us_event evs[16];
static int nev;

static int ev_cb(void *ctx, void *data, size_t sz)
{
	(void)ctx;
	if (nev < (int)ARRAY_SIZE(evs) && sz >= sizeof(struct us_event))
		memcpy(&evs[nev], data, sizeof(struct us_event));
	nev++;
	return 0;
}

static int ev_drain(void)
{
	nev = 0;
	th_events_drain();
	return nev;
}

static int set_cfg(__u32 rate, __u32 burst)
{
	struct us_cfg c = { .event_rate = rate, .event_burst = burst };
	int err = us_dp_set_cfg(th.dp, &c);

	if (err)
		th_fail("set_cfg", us_dp_error(th.dp), "0");
	return err;
}

/* ---- frames ---------------------------------------------------------------- */

static int fam_of(const char *addr)
{
	return strchr(addr, ':') ? AF_INET6 : AF_INET;
}

/* A frame from the client (cli0 side) to addr:dport. */
static size_t frame_client(__u8 *buf, int nvlan, const char *daddr, __u16 dport, const void *pl,
			   size_t n)
{
	const struct testnet_host *c = &testnet.hosts[TN_CLIENT];
	int fam = fam_of(daddr);
	struct pkt_l2l4 o = {
		.nvlan = nvlan, .vlan = { 100, 200 }, .family = fam,
		.saddr = fam == AF_INET6 ? c->v6 : c->v4, .daddr = daddr,
		.sport = 5060, .dport = dport,
	};

	memcpy(o.smac, c->mac, 6);
	memcpy(o.dmac, testnet.ifs[TN_CLI].mac, 6);
	return pkt_build(buf, FRAME_MAX, &o, pl, n);
}

/* A frame from a machine host, behind its interface. */
static size_t frame_host(__u8 *buf, int host, int nvlan, const char *saddr, __u16 sport,
			 const char *daddr, __u16 dport, const void *pl, size_t n)
{
	const struct testnet_host *h = &testnet.hosts[host];
	struct pkt_l2l4 o = {
		.nvlan = nvlan, .vlan = { 100, 200 }, .family = fam_of(daddr),
		.saddr = saddr, .daddr = daddr, .sport = sport, .dport = dport,
	};

	memcpy(o.smac, h->mac, 6);
	memcpy(o.dmac, testnet.ifs[h->ifc].mac, 6);
	return pkt_build(buf, FRAME_MAX, &o, pl, n);
}

/* A machine's SIP message from the VIP of svc to the client. */
static size_t frame_resp(__u8 *buf, int host, __u32 svc, const void *pl, size_t n)
{
	const char *vip = svc_vip[svc];
	const struct testnet_host *c = &testnet.hosts[TN_CLIENT];

	return frame_host(buf, host, 0, vip, 5060, fam_of(vip) == AF_INET6 ? c->v6 : c->v4, 5060,
			  pl, n);
}

/* ---- running ----------------------------------------------------------------- */

static int check_run(const struct th_res *r)
{
	if (r->err) {
		char b[64];

		snprintf(b, sizeof(b), "%d(%s)", r->err, strerror(-r->err));
		th_fail("bpf_prog_test_run", b, "0");
		return 0;
	}
	return 1;
}

/* the frame came out as it went in */
static void out_same(const struct th_res *r, const __u8 *in, size_t len)
{
	if (!EQ("out.meta_len", r->meta, 0) || !EQ("out.len", r->len, len))
		return;
	if (memcmp(r->out, in, len)) {
		size_t i = 0;

		while (i < len && r->out[i] == in[i])
			i++;
		th_eqf(r->out[i], in[i], "out.byte[%zu]", i);
	}
}

/* the frame with new MACs and nothing else changed */
static void out_fwd(const struct th_res *r, const __u8 *in, size_t len, const __u8 *dmac,
		    const __u8 *smac)
{
	if (!EQ("out.meta_len", r->meta, 0) || !EQ("out.len", r->len, len))
		return;
	check_mac("out.dmac", r->out, dmac);
	check_mac("out.smac", r->out + 6, smac);
	if (memcmp(r->out + 12, in + 12, len - 12)) {
		size_t i = 12;

		while (i < len && r->out[i] == in[i])
			i++;
		th_eqf(r->out[i], in[i], "out.byte[%zu]", i);
	}
}

/* the frame unchanged behind a struct us_meta for the two copies */
static __u32 out_meta(const struct th_res *r, const __u8 *in, size_t len, __u32 active, __u32 sim)
{
	struct us_meta md;
	int aif = mach_ifc(active), sif = mach_ifc(sim);

	if (!EQ("out.meta_len", r->meta, sizeof(md)) || !EQ("out.len", r->len, len + sizeof(md)))
		return 0;
	memcpy(&md, r->out, sizeof(md));
	check_mac("meta.active_dmac", md.active_dmac, mach_mac(active));
	check_mac("meta.active_smac", md.active_smac, testnet.ifs[aif].mac);
	check_mac("meta.sim_dmac", md.sim_dmac, mach_mac(sim));
	check_mac("meta.sim_smac", md.sim_smac, testnet.ifs[sif].mac);
	EQ("meta.active_ifindex", md.active_ifindex, testnet.ifs[aif].ifindex);
	EQ("meta.seq&SHARED", !!(md.seq & US_META_SHARED), aif == sif);
	if (!(md.seq & ~US_META_SHARED))
		EQ("meta.seq", md.seq & ~US_META_SHARED, 1);
	if (memcmp(r->out + sizeof(md), in, len))
		th_fail("out.frame", "changed", "the frame as it came in");
	return md.seq;
}

/* ---- SIP texts ------------------------------------------------------------- */

static char sipbuf[8192];

static size_t sipf(char *buf, size_t cap, const struct sip_msg *m)
{
	size_t n = sip_build(buf, cap, m);

	if (!n)
		th_fail("sip_build", "0", "a message");
	return n;
}

static size_t req_text(char *buf, const char *method, const char *callid, const char *branch,
		       unsigned cseq)
{
	struct sip_msg m = {
		.method = method, .callid = callid, .branch = branch, .cseq = cseq,
		.body_len = !strcmp(method, "INVITE") ? 300 : 0,
	};

	return sipf(buf, sizeof(sipbuf), &m);
}

static size_t resp_text(char *buf, int code, const char *callid, const char *branch,
			unsigned cseq, const char *cseq_method)
{
	struct sip_msg m = {
		.status = code, .callid = callid, .branch = branch, .cseq = cseq,
		.cseq_method = cseq_method,
	};

	return sipf(buf, sizeof(sipbuf), &m);
}

/* ---- sending with the usual expectations ------------------------------------ */

static __u8 fin[FRAME_MAX];
static struct th_res R;

/*
 * A client's message of a call of svc: forwarded to machine `active`
 * (and, when sim is not MID_NONE, mirrored to sim). Checks the action and
 * the output; returns the machine the frame went to (by its MAC), or
 * MID_NONE; *seq gets the metadata sequence number when mirrored.
 */
static __u32 send_client(__u32 svc, const char *text, size_t n, __u32 active, __u32 sim,
			 __u32 *seq)
{
	size_t len = frame_client(fin, 0, svc_vip[svc], 5060, text, n);
	__u32 got = MID_NONE;

	th_run(th.fd_client, TN_CLI, fin, len, &R);
	if (!check_run(&R) || !check_ret(R.ret, XDP_REDIRECT))
		return MID_NONE;
	if (sim != MID_NONE) {
		__u32 s = out_meta(&R, fin, len, active, sim);

		if (seq)
			*seq = s;
		return active;
	}
	if (!EQ("out.meta_len", R.meta, 0))
		return MID_NONE;
	for (size_t i = 0; i < ARRAY_SIZE(machs); i++)
		if (machs[i].svc == svc && !memcmp(R.out, mach_mac(machs[i].mid), 6))
			got = machs[i].mid;
	out_fwd(&R, fin, len, mach_mac(active), testnet.ifs[mach_ifc(active)].mac);
	return got;
}

/* A machine's message to the client: forwarded (active) or dropped (sim). */
static void send_machine(__u32 mid, const char *text, size_t n, int want)
{
	const struct mach *m = mach_of(mid);
	size_t len = frame_resp(fin, m->host, m->svc, text, n);

	th_run(th.fd_machine, testnet.hosts[m->host].ifc, fin, len, &R);
	if (!check_run(&R) || !check_ret(R.ret, want))
		return;
	if (want == XDP_REDIRECT)
		out_fwd(&R, fin, len, testnet.hosts[TN_CLIENT].mac, testnet.ifs[TN_CLI].mac);
}

/* ---- single-packet cases ------------------------------------------------------ */

enum { K_SIP = 0, K_RAW, K_ARP, K_TCP, K_ICMP, K_VLAN3, K_V6HBH };
enum { O_SAME = 0, O_MACHINE, O_CLIENT, O_ANY };

struct pcase {
	const char *name;
	bool machine;            /* us_machine (else us_client) */
	int kind;
	struct sip_msg sip;      /* K_SIP; Call-ID and branch default from the name */
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

static int method_idx(const char *m)
{
	static const char *const n[] = { "", "INVITE", "ACK", "BYE", "CANCEL", "REGISTER",
					 "OPTIONS", "PRACK", "SUBSCRIBE", "NOTIFY", "PUBLISH",
					 "INFO", "REFER", "MESSAGE", "UPDATE" };

	for (int i = 1; i < (int)ARRAY_SIZE(n); i++)
		if (m && !strcmp(m, n[i]))
			return i;
	return US_M_OTHER;
}

static __u32 host_mid(int host)
{
	for (size_t i = 0; i < ARRAY_SIZE(machs); i++)
		if (machs[i].host == host)
			return machs[i].mid;
	return MID_NONE;
}

/* Insert n bytes at off of a frame of len bytes. */
static size_t frame_insert(__u8 *buf, size_t len, size_t off, const void *ins, size_t n)
{
	memmove(buf + off + n, buf + off, len - off);
	memcpy(buf + off, ins, n);
	return len + n;
}

static size_t pcase_frame(const struct pcase *c, __u8 *buf, char *callid, char *branch)
{
	const struct testnet_host *cl = &testnet.hosts[TN_CLIENT];
	int host = c->machine ? c->host : TN_CLIENT;
	const struct testnet_host *h = &testnet.hosts[host];
	__u32 svc = c->svc ? c->svc : c->v6 ? SVC6 : SVC4;
	const char *cliaddr = c->v6 ? cl->v6 : cl->v4;
	struct pkt_l2l4 o = {
		.nvlan = c->nvlan, .vlan = { 100, 200 },
		.sport = c->sport ? c->sport : 5060, .dport = c->dport ? c->dport : 5060,
		.more_frags = c->mf, .frag_off = c->frag_off, .v6_frag_hdr = c->frag6,
		.bad_udp_len = c->bad_udp_len,
	};
	char pl[FRAME_MAX];
	__u8 *upl = (__u8 *)pl;
	size_t n = 0, len;

	snprintf(callid, 200, "%s@198.18.0.1", c->name);
	snprintf(branch, 200, "z9hG4bK-%s", c->name);
	if (c->sip.callid)
		snprintf(callid, 200, "%s", c->sip.callid);
	if (c->sip.branch)
		snprintf(branch, 200, "%s", c->sip.branch);
	if (c->no_branch)
		branch[0] = 0;
	if (c->machine) {
		o.saddr = c->saddr ? c->saddr : svc_vip[svc];
		o.daddr = c->daddr ? c->daddr : cliaddr;
		memcpy(o.smac, h->mac, 6);
		memcpy(o.dmac, testnet.ifs[c->host == TN_CLIENT ? TN_MACH : h->ifc].mac, 6);
	} else {
		o.saddr = c->saddr ? c->saddr : cliaddr;
		o.daddr = c->daddr ? c->daddr : svc_vip[svc];
		memcpy(o.smac, cl->mac, 6);
		memcpy(o.dmac, testnet.ifs[TN_CLI].mac, 6);
	}
	o.family = fam_of(o.daddr);

	switch (c->kind) {
	case K_SIP:
	case K_VLAN3:
	case K_V6HBH: {
		struct sip_msg m = c->sip;

		m.callid = callid;
		m.branch = branch[0] ? branch : NULL;
		n = sipf(pl, sizeof(pl), &m);
		break;
	}
	case K_RAW:
		n = strlen(c->raw);
		memcpy(pl, c->raw, n);
		break;
	case K_ARP:
		return pkt_build_arp(buf, FRAME_MAX, h->mac, h->v4, "198.18.0.254");
	case K_TCP:
		o.ip_proto = IPPROTO_TCP;
		memset(pl, 0, 20);
		upl[0] = 5060 >> 8, upl[1] = 5060 & 0xff, upl[2] = 5060 >> 8, upl[3] = 5060 & 0xff;
		upl[12] = 0x50;
		upl[13] = 0x02; /* SYN */
		n = 20;
		break;
	case K_ICMP:
		o.ip_proto = IPPROTO_ICMP;
		memset(pl, 0, 16);
		upl[0] = 8;     /* echo request */
		n = 16;
		break;
	}
	len = pkt_build(buf, FRAME_MAX, &o, pl, n);
	if (c->kind == K_VLAN3) {
		/* a third tag after the two: 802.1Q again */
		const __u8 tag[4] = { 0x81, 0x00, 0x01, 0x2c };

		len = frame_insert(buf, len, 20, tag, 4);
	} else if (c->kind == K_V6HBH) {
		/* hop-by-hop options header (PadN) between IPv6 and UDP */
		size_t l2 = pkt_l2_len(&o);
		__u8 hbh[8] = { IPPROTO_UDP, 0, 1, 4, 0, 0, 0, 0 };
		unsigned pl6 = (unsigned)(buf[l2 + 4] << 8 | buf[l2 + 5]) + 8;

		len = frame_insert(buf, len, l2 + 40, hbh, 8);
		buf[l2 + 6] = 0;        /* next header: hop-by-hop */
		buf[l2 + 4] = pl6 >> 8;
		buf[l2 + 5] = pl6 & 0xff;
	}
	return len;
}

#define PASSED { S(US_ST_PASS, 1) }
#define FWD { S(US_ST_REQ_FWD, 1) }
#define BAD(s) { S(s, 1) }
#define INV(...) { .method = "INVITE", .body_len = 300, __VA_ARGS__ }
#define RESP(code, ...) { .status = code, .cseq_method = "INVITE", __VA_ARGS__ }
#define CLI_FWD .ret = XDP_REDIRECT, .out = O_MACHINE, .txn = true, .st = FWD
#define CLI_DROP(s) .ret = XDP_DROP, .out = O_ANY, .st = BAD(s)
#define CLI_PASS .ret = XDP_PASS, .out = O_SAME, .st = PASSED
#define METHOD(m) { .name = "client/method/" m, .sip = { .method = m }, CLI_FWD }

static const struct pcase pcases[] = {
	/* not service traffic: passed untouched */
	{ .name = "client/pass/v4-other-port", .sip = INV(), .dport = 5061, CLI_PASS },
	{ .name = "client/pass/v4-other-vip", .sip = INV(), .daddr = "198.18.100.9", CLI_PASS },
	{ .name = "client/pass/v6-other-port", .v6 = true, .sip = INV(), .dport = 5061, CLI_PASS },
	{ .name = "client/pass/v6-other-vip", .v6 = true, .sip = INV(), .daddr = "2001:db8:100::9",
	  CLI_PASS },
	{ .name = "client/pass/v4-vlan2-other-port", .nvlan = 2, .sip = INV(), .dport = 5062,
	  CLI_PASS },
	{ .name = "client/pass/v6-vlan1-other-vip", .nvlan = 1, .v6 = true, .sip = INV(),
	  .daddr = "2001:db8:100::9", CLI_PASS },
	{ .name = "client/pass/v4-tcp-to-vip", .kind = K_TCP, CLI_PASS },
	{ .name = "client/pass/v6-tcp-to-vip", .kind = K_TCP, .v6 = true, CLI_PASS },
	{ .name = "client/pass/v4-icmp-to-vip", .kind = K_ICMP, CLI_PASS },
	{ .name = "client/pass/arp", .kind = K_ARP, CLI_PASS },
	{ .name = "client/pass/three-vlan-tags", .kind = K_VLAN3, .nvlan = 2, .sip = INV(),
	  CLI_PASS },
	{ .name = "client/pass/v4-non-first-fragment", .sip = INV(), .frag_off = 185, CLI_PASS },
	{ .name = "client/pass/v6-non-first-fragment", .v6 = true, .sip = INV(), .frag6 = true,
	  .frag_off = 185, CLI_PASS },

	/* service traffic: forwarded to the machine the table names */
	{ .name = "client/fwd/v4", .sip = INV(), CLI_FWD },
	{ .name = "client/fwd/v4-vlan1", .nvlan = 1, .sip = INV(), CLI_FWD },
	{ .name = "client/fwd/v4-vlan2", .nvlan = 2, .sip = INV(), CLI_FWD },
	{ .name = "client/fwd/v6", .v6 = true, .sip = INV(), CLI_FWD },
	{ .name = "client/fwd/v6-vlan1", .v6 = true, .nvlan = 1, .sip = INV(), CLI_FWD },
	{ .name = "client/fwd/v6-vlan2", .v6 = true, .nvlan = 2, .sip = INV(), CLI_FWD },
	{ .name = "client/fwd/v6-hop-by-hop-header", .kind = K_V6HBH, .v6 = true, .sip = INV(),
	  CLI_FWD },
	{ .name = "client/parse/compact-headers", .sip = INV(.compact = true), CLI_FWD },
	{ .name = "client/parse/lower-case-names", .sip = INV(.lower_names = true), CLI_FWD },
	{ .name = "client/parse/space-around-colon", .sip = INV(.space_colon = true), CLI_FWD },
	{ .name = "client/parse/folded-callid", .sip = INV(.fold_callid = true), CLI_FWD },
	{ .name = "client/parse/all-variants-lf-only",
	  .sip = INV(.compact = true, .lower_names = true, .space_colon = true, .fold_callid = true,
		     .lf_only = true), CLI_FWD },
	{ .name = "client/parse/v6-compact-folded", .v6 = true,
	  .sip = INV(.compact = true, .fold_callid = true), CLI_FWD },
	{ .name = "client/parse/callid-after-1300B-of-via", .sip = INV(.via_padding = 1300),
	  CLI_FWD },
	{ .name = "client/parse/v6-vlan2-callid-after-2000B-of-via", .v6 = true, .nvlan = 2,
	  .sip = INV(.via_padding = 2000), CLI_FWD },
	{ .name = "client/parse/upper-case-names",
	  .sip = INV(.omit_via = true, .omit_callid = true, .omit_cseq = true,
		     .callid = "upper-case@198.18.0.1", .branch = "z9hG4bKupper",
		     .extra_headers = "VIA: SIP/2.0/UDP 198.18.0.1;BRANCH=z9hG4bKupper\r\n"
				      "CALL-ID: upper-case@198.18.0.1\r\nCSEQ: 1 INVITE\r\n"),
	  CLI_FWD },
	{ .name = "client/parse/tab-and-branch-after-other-params",
	  .sip = INV(.omit_via = true, .omit_callid = true, .callid = "tabs@198.18.0.1",
		     .branch = "z9hG4bKtabs",
		     .extra_headers = "Via:\tSIP/2.0/UDP 198.18.0.1:5060;rport;received=198.18.0.1;branch=z9hG4bKtabs\r\n"
				      "Call-ID\t:\ttabs@198.18.0.1\r\n"),
	  CLI_FWD },
	{ .name = "client/parse/via-without-branch", .no_branch = true, .sip = INV(), CLI_FWD },
	{ .name = "client/parse/no-content-length", .sip = { .method = "OPTIONS",
	  .omit_content_length = true }, CLI_FWD },
	{ .name = "client/parse/lower-case-method-is-other", .sip = { .method = "invite" },
	  CLI_FWD },
	METHOD("REGISTER"), METHOD("OPTIONS"), METHOD("BYE"), METHOD("CANCEL"), METHOD("PRACK"),
	METHOD("SUBSCRIBE"), METHOD("NOTIFY"), METHOD("PUBLISH"), METHOD("INFO"), METHOD("REFER"),
	METHOD("MESSAGE"), METHOD("UPDATE"), METHOD("FOO"),
	{ .name = "client/method/ACK", .sip = { .method = "ACK" }, .ret = XDP_REDIRECT,
	  .out = O_MACHINE, .txn = false, .st = FWD },
	{ .name = "client/fwd/response-from-client", .sip = RESP(200), .ret = XDP_REDIRECT,
	  .out = O_MACHINE, .txn = false, .st = FWD },

	/* bad service traffic: dropped, counted by reason */
	{ .name = "client/bad/not-sip", .kind = K_RAW,
	  .raw = "Hello, this is not SIP at all, just text.\r\n\r\n", CLI_DROP(US_ST_NOT_SIP) },
	{ .name = "client/bad/empty-payload", .kind = K_RAW, .raw = "", CLI_DROP(US_ST_NOT_SIP) },
	{ .name = "client/bad/one-line-not-sip", .kind = K_RAW, .raw = "not SIP, not at all\r\n",
	  CLI_DROP(US_ST_NOT_SIP) },
	{ .name = "client/bad/no-line-end-not-sip", .kind = K_RAW,
	  .raw = "hello there, nothing to see in this datagram", CLI_DROP(US_ST_NOT_SIP) },
	{ .name = "client/bad/7-byte-payload", .kind = K_RAW, .raw = "INVITE ",
	  CLI_DROP(US_ST_NOT_SIP) },
	{ .name = "client/bad/http-request", .kind = K_RAW,
	  .raw = "GET / HTTP/1.1\r\nHost: 198.18.100.1\r\n\r\n", CLI_DROP(US_ST_NOT_SIP) },
	{ .name = "client/bad/status-99", .sip = RESP(99), CLI_DROP(US_ST_BAD_START) },
	{ .name = "client/bad/status-700", .sip = RESP(700), CLI_DROP(US_ST_BAD_START) },
	{ .name = "client/bad/status-4-digits", .sip = RESP(2000), CLI_DROP(US_ST_BAD_START) },
	{ .name = "client/bad/empty-request-uri", .sip = INV(.uri = ""),
	  CLI_DROP(US_ST_BAD_START) },
	{ .name = "client/bad/no-via", .sip = INV(.omit_via = true), CLI_DROP(US_ST_NO_VIA) },
	{ .name = "client/bad/no-callid", .sip = INV(.omit_callid = true),
	  CLI_DROP(US_ST_NO_CALLID) },
	{ .name = "client/bad/v6-no-callid", .v6 = true, .sip = INV(.omit_callid = true),
	  CLI_DROP(US_ST_NO_CALLID) },
	{ .name = "client/bad/empty-callid",
	  .sip = INV(.omit_callid = true, .extra_headers = "Call-ID: \r\n"),
	  CLI_DROP(US_ST_NO_CALLID) },
	{ .name = "client/bad/no-cseq", .sip = INV(.omit_cseq = true), CLI_DROP(US_ST_NO_CSEQ) },
	{ .name = "client/bad/vlan2-no-cseq", .nvlan = 2, .sip = INV(.omit_cseq = true),
	  CLI_DROP(US_ST_NO_CSEQ) },
	{ .name = "client/bad/cseq-method-mismatch", .sip = INV(.cseq_method = "BYE"),
	  CLI_DROP(US_ST_NO_CSEQ) },
	{ .name = "client/bad/cseq-not-a-number",
	  .sip = INV(.omit_cseq = true, .extra_headers = "CSeq: one INVITE\r\n"),
	  CLI_DROP(US_ST_NO_CSEQ) },
	{ .name = "client/bad/cseq-without-method",
	  .sip = INV(.omit_cseq = true, .extra_headers = "CSeq: 1\r\n"),
	  CLI_DROP(US_ST_NO_CSEQ) },
	{ .name = "client/bad/headers-unterminated", .sip = INV(.no_blank_line = true),
	  CLI_DROP(US_ST_TRUNC_HDRS) },
	{ .name = "client/bad/content-length-beyond-body",
	  .sip = INV(.content_length = 400, .content_length_set = true),
	  CLI_DROP(US_ST_TRUNC_BODY) },
	{ .name = "client/bad/content-length-not-a-number",
	  .sip = INV(.omit_content_length = true, .extra_headers = "Content-Length: many\r\n"),
	  CLI_DROP(US_ST_TRUNC_BODY) },
	{ .name = "client/bad/v4-first-fragment", .sip = INV(), .mf = true,
	  CLI_DROP(US_ST_FRAGMENT) },
	{ .name = "client/bad/v6-first-fragment", .v6 = true, .sip = INV(), .frag6 = true,
	  .mf = true, CLI_DROP(US_ST_FRAGMENT) },
	{ .name = "client/bad/v4-udp-length-beyond-ip", .sip = INV(), .bad_udp_len = true,
	  CLI_DROP(US_ST_BAD_L4) },
	{ .name = "client/bad/v6-udp-length-beyond-ip", .v6 = true, .sip = INV(),
	  .bad_udp_len = true, CLI_DROP(US_ST_BAD_L4) },
	{ .name = "client/bad/udp-length-beyond-ip-other-port", .sip = INV(), .dport = 5061,
	  .bad_udp_len = true, .ret = XDP_PASS, .out = O_SAME, .st = BAD(US_ST_BAD_L4) },

	/* the service cannot take it */
	{ .name = "client/no-machine", .svc = SVC_NOMACH, .sip = INV(),
	  CLI_DROP(US_ST_NO_MACHINE) },
	{ .name = "client/no-route", .svc = SVC_NOROUTE, .sip = INV(), CLI_DROP(US_ST_NO_ROUTE) },
	{ .name = "client/mirror-skipped/no-neighbour", .svc = SVC_SKIPNEIGH, .sip = INV(),
	  .ret = XDP_REDIRECT, .out = O_MACHINE, .txn = true, .mirror_skip = true,
	  .st = { S(US_ST_REQ_FWD, 1) S(US_ST_MIRROR_SKIPPED, 1) } },
	{ .name = "client/mirror-skipped/no-group", .svc = SVC_SKIPGROUP, .sip = INV(),
	  .ret = XDP_REDIRECT, .out = O_MACHINE, .txn = true, .mirror_skip = true,
	  .st = { S(US_ST_REQ_FWD, 1) S(US_ST_MIRROR_SKIPPED, 1) } },

	/* machine side */
	{ .name = "machine/final-unknown-txn-v4", .machine = true, .host = TN_A1, .sip = RESP(200),
	  .ret = XDP_REDIRECT, .out = O_CLIENT,
	  .st = { S(US_ST_RESP_FWD, 1) S(US_ST_RESP_NO_TXN, 1) },
	  .ms = { M(resp_class[2], 1) M(final_class[2], 1) M(final_code[US_C_200], 1) } },
	{ .name = "machine/final-unknown-txn-v6", .machine = true, .v6 = true, .host = TN_B1,
	  .sip = RESP(486), .ret = XDP_REDIRECT, .out = O_CLIENT,
	  .st = { S(US_ST_RESP_FWD, 1) S(US_ST_RESP_NO_TXN, 1) },
	  .ms = { M(resp_class[4], 1) M(final_class[4], 1) M(final_code[US_C_486], 1) } },
	{ .name = "machine/final-vlan2", .machine = true, .nvlan = 2, .host = TN_A2,
	  .sip = RESP(603), .ret = XDP_REDIRECT, .out = O_CLIENT,
	  .st = { S(US_ST_RESP_FWD, 1) S(US_ST_RESP_NO_TXN, 1) },
	  .ms = { M(resp_class[6], 1) M(final_class[6], 1) M(final_code[US_C_OTHER], 1) } },
	{ .name = "machine/provisional", .machine = true, .host = TN_A1, .sip = RESP(180),
	  .ret = XDP_REDIRECT, .out = O_CLIENT, .st = { S(US_ST_RESP_FWD, 1) },
	  .ms = { M(resp_class[1], 1) } },
	{ .name = "machine/request-from-active", .machine = true, .host = TN_A1,
	  .sip = { .method = "BYE" }, .ret = XDP_REDIRECT, .out = O_CLIENT,
	  .st = { S(US_ST_RESP_FWD, 1) } },
	{ .name = "machine/unknown-mac", .machine = true, .host = TN_CLIENT, .sip = RESP(200),
	  .ret = XDP_PASS, .out = O_SAME, .st = PASSED },
	{ .name = "machine/active-arp", .machine = true, .host = TN_A1, .kind = K_ARP,
	  .ret = XDP_PASS, .out = O_SAME, .st = PASSED },
	{ .name = "machine/active-other-port", .machine = true, .host = TN_A1, .sip = RESP(200),
	  .sport = 5070, .ret = XDP_PASS, .out = O_SAME, .st = PASSED },
	{ .name = "machine/active-tcp", .machine = true, .host = TN_A1, .kind = K_TCP,
	  .ret = XDP_PASS, .out = O_SAME, .st = PASSED },
	{ .name = "machine/active-not-sip", .machine = true, .host = TN_A1, .kind = K_RAW,
	  .raw = "not SIP, not at all\r\n", .ret = XDP_PASS, .out = O_SAME,
	  .st = BAD(US_ST_NOT_SIP) },
	{ .name = "machine/active-no-callid", .machine = true, .host = TN_A1,
	  .sip = RESP(200, .omit_callid = true), .ret = XDP_PASS, .out = O_SAME,
	  .st = BAD(US_ST_NO_CALLID) },
	{ .name = "machine/active-fragment", .machine = true, .host = TN_A1, .sip = RESP(200),
	  .mf = true, .ret = XDP_PASS, .out = O_SAME, .st = BAD(US_ST_FRAGMENT) },
	{ .name = "machine/active-udp-length-beyond-ip", .machine = true, .host = TN_A1,
	  .sip = RESP(200), .bad_udp_len = true, .ret = XDP_PASS, .out = O_SAME,
	  .st = BAD(US_ST_BAD_L4) },
	{ .name = "machine/sim-provisional", .machine = true, .host = TN_S1, .sip = RESP(100),
	  .ret = XDP_DROP, .out = O_ANY, .st = { S(US_ST_RESP_SIM_DROP, 1) },
	  .ms = { M(resp_class[1], 1) M(dropped, 1) } },
	{ .name = "machine/sim-final-unknown-txn", .machine = true, .host = TN_S1,
	  .sip = RESP(200), .ret = XDP_DROP, .out = O_ANY,
	  .st = { S(US_ST_RESP_SIM_DROP, 1) S(US_ST_RESP_NO_TXN, 1) },
	  .ms = { M(resp_class[2], 1) M(final_class[2], 1) M(final_code[US_C_200], 1)
		  M(dropped, 1) } },
	{ .name = "machine/sim-v6-final", .machine = true, .v6 = true, .host = TN_S2,
	  .sip = RESP(503), .ret = XDP_DROP, .out = O_ANY,
	  .st = { S(US_ST_RESP_SIM_DROP, 1) S(US_ST_RESP_NO_TXN, 1) },
	  .ms = { M(resp_class[5], 1) M(final_class[5], 1) M(final_code[US_C_503], 1)
		  M(dropped, 1) } },
	{ .name = "machine/sim-request", .machine = true, .host = TN_S1,
	  .sip = { .method = "BYE" }, .ret = XDP_DROP, .out = O_ANY,
	  .st = { S(US_ST_RESP_SIM_DROP, 1) }, .ms = { M(dropped, 1) } },
	{ .name = "machine/sim-not-sip", .machine = true, .host = TN_S1, .kind = K_RAW,
	  .raw = "garbage garbage garbage\r\n", .ret = XDP_DROP, .out = O_ANY,
	  .st = { S(US_ST_NOT_SIP, 1) S(US_ST_RESP_SIM_DROP, 1) }, .ms = { M(dropped, 1) } },
	{ .name = "machine/sim-stray-udp-v4", .machine = true, .host = TN_S1, .sip = INV(),
	  .saddr = "198.18.1.11", .sport = 40000, .dport = 9999, .ret = XDP_DROP, .out = O_ANY,
	  .st = { S(US_ST_SIM_STRAY_DROP, 1) }, .ms = { M(dropped, 1) } },
	{ .name = "machine/sim-stray-udp-v6", .machine = true, .v6 = true, .host = TN_S2,
	  .sip = INV(), .saddr = "2001:db8:2::11", .sport = 40000, .dport = 9999,
	  .ret = XDP_DROP, .out = O_ANY, .st = { S(US_ST_SIM_STRAY_DROP, 1) },
	  .ms = { M(dropped, 1) } },
	{ .name = "machine/sim-stray-tcp", .machine = true, .host = TN_S1, .kind = K_TCP,
	  .saddr = "198.18.1.11", .ret = XDP_DROP, .out = O_ANY,
	  .st = { S(US_ST_SIM_STRAY_DROP, 1) }, .ms = { M(dropped, 1) } },
	{ .name = "machine/sim-stray-icmp", .machine = true, .host = TN_S1, .kind = K_ICMP,
	  .saddr = "198.18.1.11", .ret = XDP_DROP, .out = O_ANY,
	  .st = { S(US_ST_SIM_STRAY_DROP, 1) }, .ms = { M(dropped, 1) } },
	{ .name = "machine/sim-to-balancer-itself", .machine = true, .host = TN_S1, .sip = INV(),
	  .saddr = "198.18.1.11", .daddr = "198.18.1.254", .sport = 40000, .dport = 53,
	  .ret = XDP_PASS, .out = O_SAME, .st = PASSED },
	{ .name = "machine/sim-to-unrouted-address", .machine = true, .host = TN_S1, .sip = INV(),
	  .saddr = "198.18.1.11", .daddr = "198.19.200.1", .sport = 40000, .dport = 9999,
	  .ret = XDP_PASS, .out = O_SAME, .st = PASSED },
	{ .name = "machine/sim-arp", .machine = true, .host = TN_S1, .kind = K_ARP,
	  .ret = XDP_PASS, .out = O_SAME, .st = PASSED },
};

static void run_pcase(const struct pcase *c)
{
	static __u8 buf[FRAME_MAX];
	char callid[200], branch[200];
	__u32 svc = c->svc ? c->svc : c->v6 ? SVC6 : SVC4;
	__u32 active = MID_NONE;
	struct snap sb;
	struct msnap mb;
	struct us_call call;
	size_t len;
	long tx0;
	bool sip = c->kind == K_SIP || c->kind == K_VLAN3 || c->kind == K_V6HBH;
	int meth = sip && c->sip.method ? method_idx(c->sip.method) : -1;
	int cmeth = c->sip.cseq_method ? method_idx(c->sip.cseq_method) : meth;

	th_begin("%s", c->name);
	len = pcase_frame(c, buf, callid, branch);
	if (!len) {
		th_fail("frame", "0", "built");
		th_end();
		return;
	}
	if (!c->machine && c->out == O_MACHINE)
		active = pred_active(svc, callid);
	snap_take(&sb);
	msnap_take(&mb);
	tx0 = txn_count();
	th_run(c->machine ? th.fd_machine : th.fd_client,
	       c->machine ? (c->host == TN_CLIENT ? TN_MACH : testnet.hosts[c->host].ifc) : TN_CLI,
	       buf, len, &R);
	if (!check_run(&R)) {
		th_end();
		return;
	}
	check_ret(R.ret, c->ret);
	switch (c->out) {
	case O_SAME:
		out_same(&R, buf, len);
		break;
	case O_MACHINE:
		out_fwd(&R, buf, len, mach_mac(active), testnet.ifs[mach_ifc(active)].mac);
		break;
	case O_CLIENT:
		out_fwd(&R, buf, len, testnet.hosts[TN_CLIENT].mac, testnet.ifs[TN_CLI].mac);
		break;
	}
	stats_expect(&sb, 1, c->st);

	if (c->machine) {
		__u32 mid = host_mid(c->host);

		if (mid != MID_NONE)
			mst_expect(&mb, mid, c->ms[0].w1 ? c->ms : (const struct mexp[]){ { 0, 0 } });
	} else if (c->out == O_MACHINE && c->sip.method) {
		MST(&mb, active, M(req[meth], 1));
	}
	mst_rest(&mb);

	EQ("txns.count", txn_count() - tx0, c->txn ? 1 : 0);
	if (c->txn) {
		struct us_txn t;

		if (txn_get(svc, callid, branch, c->sip.cseq ? c->sip.cseq : 1, cmeth, &t)) {
			th_fail("txns[key]", "missing", "present");
		} else {
			EQ("txn.active_mid", t.active_mid, active);
			EQ("txn.sim_mid", t.sim_mid, MID_NONE);
			EQ("txn.method", t.method, meth);
			EQ("txn.done", t.done, 0);
			if (!t.start_ns)
				th_fail("txn.start_ns", "0", "a time");
		}
	}
	if (!c->machine && c->out == O_MACHINE) {
		if (call_get(svc, callid, &call)) {
			th_fail("calls[callid]", "missing", "present");
		} else {
			EQ("call.active_mid", call.active_mid, active);
			if (!c->mirror_skip)
				EQ("call.sim_mid", call.sim_mid, MID_NONE);
		}
	} else if (!c->machine && c->ret == XDP_DROP && c->st[0].stat1 - 1 != US_ST_NO_ROUTE) {
		/* dropped before any state was made */
		if (!call_get(svc, callid, &call))
			th_fail("calls[callid]", "present", "absent");
	}
	th_end();
}

/* ---- scenarios: transactions ---------------------------------------------------- */

static void sc_txn(void)
{
	const char *cid = "txn-1@198.18.0.1", *br = "z9hG4bK-txn-1";
	__u32 a = pred_active(SVC4, cid);
	struct us_txn t0, t1;
	struct snap sb;
	struct msnap mb;
	size_t n;
	long tx;

	th_begin("txn/invite-first-sighting");
	n = req_text(sipbuf, "INVITE", cid, br, 1);
	snap_take(&sb);
	msnap_take(&mb);
	tx = txn_count();
	EQ("machine", send_client(SVC4, sipbuf, n, a, MID_NONE, NULL), a);
	STATS(&sb, 1, S(US_ST_REQ_FWD, 1));
	MST(&mb, a, M(req[US_M_INVITE], 1));
	mst_rest(&mb);
	EQ("txns.count", txn_count() - tx, 1);
	if (txn_get(SVC4, cid, br, 1, US_M_INVITE, &t0))
		th_fail("txns[invite]", "missing", "present");
	th_end();

	th_begin("txn/invite-retransmission");
	snap_take(&sb);
	msnap_take(&mb);
	tx = txn_count();
	EQ("machine", send_client(SVC4, sipbuf, n, a, MID_NONE, NULL), a);
	STATS(&sb, 1, S(US_ST_REQ_FWD, 1) S(US_ST_RETRANS_REQ, 1));
	MST(&mb, a, M(retrans_req, 1));
	mst_rest(&mb);
	EQ("txns.count", txn_count() - tx, 0);
	if (txn_get(SVC4, cid, br, 1, US_M_INVITE, &t1))
		th_fail("txns[invite]", "missing", "present");
	else
		EQ("txn.start_ns unchanged", t1.start_ns, t0.start_ns);
	th_end();

	th_begin("txn/cancel-with-invite-branch-is-own-txn");
	n = req_text(sipbuf, "CANCEL", cid, br, 1);
	snap_take(&sb);
	msnap_take(&mb);
	tx = txn_count();
	EQ("machine", send_client(SVC4, sipbuf, n, a, MID_NONE, NULL), a);
	STATS(&sb, 1, S(US_ST_REQ_FWD, 1));
	MST(&mb, a, M(req[US_M_CANCEL], 1));
	mst_rest(&mb);
	EQ("txns.count", txn_count() - tx, 1);
	if (txn_get(SVC4, cid, br, 1, US_M_CANCEL, &t1))
		th_fail("txns[cancel]", "missing", "present");
	else
		EQ("txn.method", t1.method, US_M_CANCEL);
	if (txn_get(SVC4, cid, br, 1, US_M_INVITE, &t1))
		th_fail("txns[invite]", "missing", "present");
	else
		EQ("invite txn.start_ns unchanged", t1.start_ns, t0.start_ns);
	th_end();

	th_begin("txn/cancel-retransmission");
	snap_take(&sb);
	msnap_take(&mb);
	EQ("machine", send_client(SVC4, sipbuf, n, a, MID_NONE, NULL), a);
	STATS(&sb, 1, S(US_ST_REQ_FWD, 1) S(US_ST_RETRANS_REQ, 1));
	MST(&mb, a, M(retrans_req, 1));
	mst_rest(&mb);
	th_end();

	th_begin("txn/ack-creates-no-txn");
	n = req_text(sipbuf, "ACK", cid, br, 1);
	for (int i = 0; i < 2; i++) {
		snap_take(&sb);
		msnap_take(&mb);
		tx = txn_count();
		EQ("machine", send_client(SVC4, sipbuf, n, a, MID_NONE, NULL), a);
		STATS(&sb, 1, S(US_ST_REQ_FWD, 1));
		MST(&mb, a, M(req[US_M_ACK], 1));
		mst_rest(&mb);
		EQ("txns.count", txn_count() - tx, 0);
		if (!txn_get(SVC4, cid, br, 1, US_M_ACK, &t1))
			th_fail("txns[ack]", "present", "absent");
	}
	th_end();

	th_begin("txn/bye-new-txn-same-machine");
	n = req_text(sipbuf, "BYE", cid, "z9hG4bK-txn-1-bye", 2);
	snap_take(&sb);
	tx = txn_count();
	EQ("machine", send_client(SVC4, sipbuf, n, a, MID_NONE, NULL), a);
	STATS(&sb, 1, S(US_ST_REQ_FWD, 1));
	EQ("txns.count", txn_count() - tx, 1);
	th_end();
}

/* ---- scenarios: sticky calls ----------------------------------------------------- */

#define NCALL 40

static void sc_sticky(void)
{
	static char cid[NCALL][64], cid2[NCALL][64];
	__u32 where[NCALL], cnt[US_MAX_MACHINES] = { 0 };
	char br[64];
	struct us_call call;
	int moved = 0, on_a3 = 0, di = -1, ri = -1;
	size_t n;

	th_begin("sticky/new-calls-follow-the-table");
	for (int i = 0; i < NCALL; i++) {
		__u32 a;

		snprintf(cid[i], sizeof(cid[i]), "sticky-%d@198.18.0.1", i);
		snprintf(br, sizeof(br), "z9hG4bK-sticky-%d", i);
		a = pred_active(SVC4, cid[i]);
		n = req_text(sipbuf, "INVITE", cid[i], br, 1);
		where[i] = send_client(SVC4, sipbuf, n, a, MID_NONE, NULL);
		th_eqf(where[i], a, "call[%d].machine", i);
		if (where[i] < US_MAX_MACHINES)
			cnt[where[i]]++;
	}
	if (!cnt[M_A1] || !cnt[M_A2])
		th_fail("calls spread", "one machine", "both a1 and a2");
	th_end();

	th_begin("sticky/in-dialog-messages-same-machine");
	for (int i = 0; i < NCALL; i++) {
		snprintf(br, sizeof(br), "z9hG4bK-sticky-%d-ack", i);
		n = req_text(sipbuf, "ACK", cid[i], br, 1);
		th_eqf(send_client(SVC4, sipbuf, n, where[i], MID_NONE, NULL), where[i],
		       "call[%d].ack.machine", i);
		snprintf(br, sizeof(br), "z9hG4bK-sticky-%d-info", i);
		n = req_text(sipbuf, "INFO", cid[i], br, 2);
		th_eqf(send_client(SVC4, sipbuf, n, where[i], MID_NONE, NULL), where[i],
		       "call[%d].info.machine", i);
	}
	th_end();

	th_begin("sticky/calls-stay-after-rebuild-with-added-machine");
	if (set_machine(mach_of(M_A3), US_MS_ACTIVE) || us_dp_rebuild(th.dp, SVC4, US_POOL_ACTIVE))
		th_fail("adding a3", us_dp_error(th.dp), "done");
	for (int i = 0; i < NCALL; i++) {
		if (pred_active(SVC4, cid[i]) != where[i])
			moved++;
		snprintf(br, sizeof(br), "z9hG4bK-sticky-%d-bye", i);
		n = req_text(sipbuf, "BYE", cid[i], br, 3);
		th_eqf(send_client(SVC4, sipbuf, n, where[i], MID_NONE, NULL), where[i],
		       "call[%d].bye.machine", i);
		if (call_get(SVC4, cid[i], &call))
			th_fail("calls[callid]", "missing", "present");
		else
			th_eqf(call.active_mid, where[i], "call[%d].active_mid", i);
	}
	if (!moved)
		th_fail("calls whose slot moved to a3", "0", "some (else this proves nothing)");
	th_end();

	th_begin("sticky/new-calls-after-rebuild-may-move");
	for (int i = 0; i < NCALL; i++) {
		__u32 a;

		snprintf(cid2[i], sizeof(cid2[i]), "sticky-new-%d@198.18.0.1", i);
		snprintf(br, sizeof(br), "z9hG4bK-sticky-new-%d", i);
		a = pred_active(SVC4, cid2[i]);
		n = req_text(sipbuf, "INVITE", cid2[i], br, 1);
		th_eqf(send_client(SVC4, sipbuf, n, a, MID_NONE, NULL), a, "call[%d].machine", i);
		on_a3 += a == M_A3;
	}
	if (!on_a3)
		th_fail("new calls on a3", "0", "some");
	th_end();

	for (int i = 0; i < NCALL; i++) {
		if (where[i] == M_A1 && di < 0)
			di = i;
		if (where[i] == M_A2 && ri < 0)
			ri = i;
	}

	th_begin("sticky/draining-machine-keeps-calls-takes-no-new-ones");
	if (di >= 0 && !set_state(M_A1, US_MS_DRAINING, true)) {
		n = req_text(sipbuf, "BYE", cid[di], "z9hG4bK-drain-bye", 4);
		EQ("call on draining a1: machine", send_client(SVC4, sipbuf, n, M_A1, MID_NONE, NULL),
		   M_A1);
		for (int i = 0; i < NCALL; i++) {
			char c[64];
			__u32 a;

			snprintf(c, sizeof(c), "sticky-drain-%d@198.18.0.1", i);
			a = pred_active(SVC4, c);
			if (a == M_A1)
				th_fail("table after draining a1", "a1", "a2 or a3");
			n = req_text(sipbuf, "INVITE", c, "z9hG4bK-drain", 1);
			if (send_client(SVC4, sipbuf, n, a, MID_NONE, NULL) == M_A1)
				th_fail("new call machine", "a1 (draining)", "a2 or a3");
		}
		set_state(M_A1, US_MS_ACTIVE, true);
	} else if (di < 0) {
		th_fail("a call on a1", "none", "one");
	}
	th_end();

	th_begin("sticky/removed-machine-calls-rebalanced");
	if (ri >= 0 && !set_state(M_A2, US_MS_REMOVED, true)) {
		__u32 a = pred_active(SVC4, cid[ri]), got;

		n = req_text(sipbuf, "BYE", cid[ri], "z9hG4bK-removed-bye", 4);
		got = send_client(SVC4, sipbuf, n, a, MID_NONE, NULL);
		EQ("machine after removal", got, a);
		if (got == M_A2)
			th_fail("machine after removal", "a2 (removed)", "another");
		if (call_get(SVC4, cid[ri], &call))
			th_fail("calls[callid]", "missing", "present");
		else
			EQ("call.active_mid", call.active_mid, a);
		set_state(M_A2, US_MS_ACTIVE, true);
		/* and it stays on its new machine */
		n = req_text(sipbuf, "BYE", cid[ri], "z9hG4bK-removed-bye2", 5);
		EQ("machine after a2 is back", send_client(SVC4, sipbuf, n, a, MID_NONE, NULL), a);
	} else if (ri < 0) {
		th_fail("a call on a2", "none", "one");
	}
	th_end();
}

/* ---- scenarios: responses ----------------------------------------------------------- */

static void sc_resp(void)
{
	const char *cid = "resp-1@198.18.0.1", *br = "z9hG4bK-resp-1";
	__u32 a = pred_active(SVC4, cid);
	struct us_mstats m0, m1;
	struct us_txn t;
	struct snap sb;
	struct msnap mb;
	size_t n;

	n = req_text(sipbuf, "INVITE", cid, br, 1);
	send_client(SVC4, sipbuf, n, a, MID_NONE, NULL);

	th_begin("resp/provisional-forwarded");
	n = resp_text(sipbuf, 100, cid, br, 1, "INVITE");
	snap_take(&sb);
	msnap_take(&mb);
	send_machine(a, sipbuf, n, XDP_REDIRECT);
	STATS(&sb, 1, S(US_ST_RESP_FWD, 1));
	MST(&mb, a, M(resp_class[1], 1));
	mst_rest(&mb);
	if (!txn_get(SVC4, cid, br, 1, US_M_INVITE, &t))
		EQ("txn.done", t.done, 0);
	th_end();

	th_begin("resp/final-forwarded-counted-with-latency");
	usleep(2000);
	n = resp_text(sipbuf, 200, cid, br, 1, "INVITE");
	snap_take(&sb);
	msnap_take(&mb);
	us_dp_read_mstats(th.dp, a, &m0);
	send_machine(a, sipbuf, n, XDP_REDIRECT);
	STATS(&sb, 1, S(US_ST_RESP_FWD, 1));
	MST(&mb, a, M(resp_class[2], 1) M(final_class[2], 1) M(final_code[US_C_200], 1)
		    M(lat_count, 1));
	mst_rest(&mb);
	if (txn_get(SVC4, cid, br, 1, US_M_INVITE, &t)) {
		th_fail("txns[invite]", "missing", "present");
	} else {
		__u32 bkt = us_lat_bucket(t.active_lat_ns);

		EQ("txn.done", t.done, US_TXN_ACTIVE_FINAL);
		EQ("txn.active_code", t.active_code, 200);
		if (t.active_lat_ns < 2000000)
			EQ("txn.active_lat_ns >= 2ms", 0, 1);
		us_dp_read_mstats(th.dp, a, &m1);
		th_eqf(m1.lat_hist[bkt] - m0.lat_hist[bkt], 1, "lat_hist[%u]", bkt);
		EQ("lat_sum_ns", m1.lat_sum_ns - m0.lat_sum_ns, t.active_lat_ns);
	}
	th_end();

	th_begin("resp/final-retransmission-counted-once");
	snap_take(&sb);
	msnap_take(&mb);
	send_machine(a, sipbuf, n, XDP_REDIRECT);
	STATS(&sb, 1, S(US_ST_RESP_FWD, 1) S(US_ST_RETRANS_RESP, 1));
	MST(&mb, a, M(resp_class[2], 1) M(retrans_resp, 1));
	mst_rest(&mb);
	th_end();

	th_begin("resp/final-codes-by-index");
	{
		static const int codes[] = { 408, 480, 486, 487, 500, 503, 504, 302, 404, 603, 202 };

		for (size_t i = 0; i < ARRAY_SIZE(codes); i++) {
			char c[64], b[64];
			__u32 m;
			int cls = codes[i] / 100;

			snprintf(c, sizeof(c), "resp-code-%d@198.18.0.1", codes[i]);
			snprintf(b, sizeof(b), "z9hG4bK-code-%d", codes[i]);
			m = pred_active(SVC4, c);
			n = req_text(sipbuf, "INVITE", c, b, 1);
			send_client(SVC4, sipbuf, n, m, MID_NONE, NULL);
			n = resp_text(sipbuf, codes[i], c, b, 1, "INVITE");
			snap_take(&sb);
			msnap_take(&mb);
			send_machine(m, sipbuf, n, XDP_REDIRECT);
			STATS(&sb, 1, S(US_ST_RESP_FWD, 1));
			MST(&mb, m, M(resp_class[cls], 1) M(final_class[cls], 1)
				    M(final_code[us_code_index(codes[i])], 1) M(lat_count, 1));
			mst_rest(&mb);
		}
	}
	th_end();

	th_begin("resp/non-invite-final");
	{
		const char *c = "resp-options@198.18.0.1", *b = "z9hG4bK-resp-options";
		__u32 m = pred_active(SVC4, c);

		n = req_text(sipbuf, "OPTIONS", c, b, 7);
		send_client(SVC4, sipbuf, n, m, MID_NONE, NULL);
		n = resp_text(sipbuf, 200, c, b, 7, "OPTIONS");
		snap_take(&sb);
		msnap_take(&mb);
		send_machine(m, sipbuf, n, XDP_REDIRECT);
		STATS(&sb, 1, S(US_ST_RESP_FWD, 1));
		MST(&mb, m, M(resp_class[2], 1) M(final_class[2], 1) M(final_code[US_C_200], 1)
			    M(lat_count, 1));
		mst_rest(&mb);
		/* the same branch and number with another method is another txn */
		n = resp_text(sipbuf, 200, c, b, 7, "INVITE");
		snap_take(&sb);
		send_machine(m, sipbuf, n, XDP_REDIRECT);
		STATS(&sb, 1, S(US_ST_RESP_FWD, 1) S(US_ST_RESP_NO_TXN, 1));
	}
	th_end();

	th_begin("resp/v6-final");
	{
		const char *c = "resp-v6@198.18.0.1", *b = "z9hG4bK-resp-v6";
		__u32 m = pred_active(SVC6, c);

		n = req_text(sipbuf, "INVITE", c, b, 1);
		EQ("machine", send_client(SVC6, sipbuf, n, m, MID_NONE, NULL), m);
		n = resp_text(sipbuf, 480, c, b, 1, "INVITE");
		snap_take(&sb);
		msnap_take(&mb);
		send_machine(m, sipbuf, n, XDP_REDIRECT);
		STATS(&sb, 1, S(US_ST_RESP_FWD, 1));
		MST(&mb, m, M(resp_class[4], 1) M(final_class[4], 1) M(final_code[US_C_480], 1)
			    M(lat_count, 1));
		mst_rest(&mb);
	}
	th_end();

	th_begin("resp/draining-machine-answers-forwarded");
	{
		const char *c = "resp-drain@198.18.0.1", *b = "z9hG4bK-resp-drain";
		__u32 m = pred_active(SVC4, c);

		n = req_text(sipbuf, "INVITE", c, b, 1);
		send_client(SVC4, sipbuf, n, m, MID_NONE, NULL);
		if (!set_state(m, US_MS_DRAINING, false)) {
			n = resp_text(sipbuf, 200, c, b, 1, "INVITE");
			snap_take(&sb);
			msnap_take(&mb);
			send_machine(m, sipbuf, n, XDP_REDIRECT);
			STATS(&sb, 1, S(US_ST_RESP_FWD, 1));
			MST(&mb, m, M(resp_class[2], 1) M(final_class[2], 1)
				    M(final_code[US_C_200], 1) M(lat_count, 1));
			mst_rest(&mb);
			set_state(m, US_MS_ACTIVE, false);
		}
	}
	th_end();

	th_begin("resp/rejected-machine-output-dropped");
	if (!set_state(M_A2, US_MS_REJECTED, false)) {
		n = resp_text(sipbuf, 200, "resp-rejected@198.18.0.1", "z9hG4bK-rej", 1, "INVITE");
		snap_take(&sb);
		msnap_take(&mb);
		send_machine(M_A2, sipbuf, n, XDP_DROP);
		STATS(&sb, 1, S(US_ST_RESP_SIM_DROP, 1) S(US_ST_RESP_NO_TXN, 1));
		MST(&mb, M_A2, M(resp_class[2], 1) M(final_class[2], 1) M(final_code[US_C_200], 1)
			       M(dropped, 1));
		mst_rest(&mb);
		set_state(M_A2, US_MS_ACTIVE, false);
	}
	th_end();
}

/* ---- scenarios: mirroring ------------------------------------------------------------ */

/* Send a client message; only the mirror decision is checked (and the
 * frame goes to the machine the call is on). Returns 1 if mirrored. */
static int send_mirror_check(__u32 svc, const char *text, size_t n, __u32 active, __u32 sim,
			     __u32 *seq)
{
	struct snap sb;
	long long d;

	snap_take(&sb);
	send_client(svc, text, n, active, sim, seq);
	d = stat_delta(&sb, US_ST_REQ_MIRRORED);
	EQ("stats[req_mirrored]", d, sim != MID_NONE);
	return d > 0;
}

static void sc_mirror(void)
{
	struct us_call call;
	struct us_txn t;
	struct snap sb;
	struct msnap mb;
	__u32 seq0 = 0, seq1 = 0;
	size_t n;

	th_begin("mirror/share-0-not-mirrored");
	for (__u32 svc = SVC4; svc <= SVC6; svc++) {
		const char *c = svc == SVC4 ? "mir-0-v4@198.18.0.1" : "mir-0-v6@198.18.0.1";
		__u32 a = pred_active(svc, c);

		set_share(svc, 0);
		n = req_text(sipbuf, "INVITE", c, "z9hG4bK-mir-0", 1);
		snap_take(&sb);
		msnap_take(&mb);
		EQ("machine", send_client(svc, sipbuf, n, a, MID_NONE, NULL), a);
		STATS(&sb, 1, S(US_ST_REQ_FWD, 1));
		MST(&mb, a, M(req[US_M_INVITE], 1));
		mst_rest(&mb);
		if (!call_get(svc, c, &call))
			EQ("call.sim_mid", call.sim_mid, MID_NONE);
		if (!txn_get(svc, c, "z9hG4bK-mir-0", 1, US_M_INVITE, &t))
			EQ("txn.sim_mid", t.sim_mid, MID_NONE);
	}
	th_end();

	th_begin("mirror/v4-share-10000-same-interface");
	{
		const char *c = "mir-all-v4@198.18.0.1", *b = "z9hG4bK-mir-all-v4";
		__u32 a = pred_active(SVC4, c), s;

		set_share(SVC4, 10000);
		s = pred_sim(SVC4, c);
		EQ("predicted sim", s, M_S1);
		n = req_text(sipbuf, "INVITE", c, b, 1);
		snap_take(&sb);
		msnap_take(&mb);
		send_client(SVC4, sipbuf, n, a, s, &seq0);
		STATS(&sb, 1, S(US_ST_REQ_FWD, 1) S(US_ST_REQ_MIRRORED, 1));
		MST(&mb, a, M(req[US_M_INVITE], 1));
		MST(&mb, s, M(req[US_M_INVITE], 1));
		mst_rest(&mb);
		if (call_get(SVC4, c, &call)) {
			th_fail("calls[callid]", "missing", "present");
		} else {
			EQ("call.active_mid", call.active_mid, a);
			EQ("call.sim_mid", call.sim_mid, s);
		}
		if (txn_get(SVC4, c, b, 1, US_M_INVITE, &t)) {
			th_fail("txns[invite]", "missing", "present");
		} else {
			EQ("txn.active_mid", t.active_mid, a);
			EQ("txn.sim_mid", t.sim_mid, s);
			EQ("txn.callid_len", t.callid_len, strlen(c));
			if (memcmp(t.callid, c, strlen(c)))
				th_fail("txn.callid", "other bytes", c);
		}
		th_end();

		th_begin("mirror/v4-whole-call-mirrored");
		n = req_text(sipbuf, "ACK", c, "z9hG4bK-mir-all-v4-ack", 1);
		send_mirror_check(SVC4, sipbuf, n, a, s, &seq1);
		EQ("meta.seq increments", seq1 & ~US_META_SHARED, (seq0 & ~US_META_SHARED) + 1);
		n = req_text(sipbuf, "BYE", c, "z9hG4bK-mir-all-v4-bye", 2);
		send_mirror_check(SVC4, sipbuf, n, a, s, &seq0);
		EQ("meta.seq increments", seq0 & ~US_META_SHARED, (seq1 & ~US_META_SHARED) + 1);
		th_end();

		th_begin("mirror/retransmission-mirrored-and-counted");
		n = req_text(sipbuf, "INVITE", c, b, 1);
		snap_take(&sb);
		msnap_take(&mb);
		send_client(SVC4, sipbuf, n, a, s, NULL);
		STATS(&sb, 1, S(US_ST_REQ_FWD, 1) S(US_ST_REQ_MIRRORED, 1) S(US_ST_RETRANS_REQ, 1));
		MST(&mb, a, M(retrans_req, 1));
		MST(&mb, s, M(retrans_req, 1));
		mst_rest(&mb);
		th_end();
	}

	th_begin("mirror/v6-share-10000-two-interfaces");
	{
		const char *c = "mir-all-v6@198.18.0.1", *b = "z9hG4bK-mir-all-v6";
		__u32 a = pred_active(SVC6, c), s;

		set_share(SVC6, 10000);
		s = pred_sim(SVC6, c);
		EQ("predicted sim", s, M_S2);
		n = req_text(sipbuf, "INVITE", c, b, 1);
		snap_take(&sb);
		msnap_take(&mb);
		send_client(SVC6, sipbuf, n, a, s, NULL);
		STATS(&sb, 1, S(US_ST_REQ_FWD, 1) S(US_ST_REQ_MIRRORED, 1));
		MST(&mb, a, M(req[US_M_INVITE], 1));
		MST(&mb, s, M(req[US_M_INVITE], 1));
		mst_rest(&mb);
		set_share(SVC6, 0);
	}
	th_end();

	th_begin("mirror/long-callid-copied-64-bytes");
	{
		char c[128];
		__u32 a, s;

		memset(c, 'x', sizeof(c));
		memcpy(c, "mir-long-", 9);
		c[100] = 0;
		a = pred_active(SVC4, c);
		s = pred_sim(SVC4, c);
		n = req_text(sipbuf, "INVITE", c, "z9hG4bK-long", 1);
		send_client(SVC4, sipbuf, n, a, s, NULL);
		if (txn_get(SVC4, c, "z9hG4bK-long", 1, US_M_INVITE, &t)) {
			th_fail("txns[invite]", "missing", "present");
		} else {
			EQ("txn.callid_len", t.callid_len, US_CALLID_COPY);
			if (memcmp(t.callid, c, US_CALLID_COPY))
				th_fail("txn.callid", "other bytes", "the first 64 of the Call-ID");
		}
	}
	th_end();

	th_begin("mirror/decision-per-call-at-50pct");
	{
		int mirrored = 0;

		set_share(SVC4, 5000);
		for (int i = 0; i < NCALL; i++) {
			char c[64], b[64];
			__u32 a, s;
			int m = 0;

			snprintf(c, sizeof(c), "mir-half-%d@198.18.0.1", i);
			a = pred_active(SVC4, c);
			s = pred_sim(SVC4, c);
			snprintf(b, sizeof(b), "z9hG4bK-half-%d", i);
			n = req_text(sipbuf, "INVITE", c, b, 1);
			m += send_mirror_check(SVC4, sipbuf, n, a, s, NULL);
			snprintf(b, sizeof(b), "z9hG4bK-half-%d-ack", i);
			n = req_text(sipbuf, "ACK", c, b, 1);
			m += send_mirror_check(SVC4, sipbuf, n, a, s, NULL);
			snprintf(b, sizeof(b), "z9hG4bK-half-%d-bye", i);
			n = req_text(sipbuf, "BYE", c, b, 2);
			m += send_mirror_check(SVC4, sipbuf, n, a, s, NULL);
			if (m != 0 && m != 3)
				th_eqf(m, s != MID_NONE ? 3 : 0, "call[%d] messages mirrored", i);
			mirrored += m == 3;
		}
		if (mirrored == 0 || mirrored == NCALL)
			th_eqf(mirrored, NCALL / 2, "calls mirrored of %d (some, not all)", NCALL);
	}
	th_end();

	th_begin("mirror/share-change-mid-call-keeps-decision");
	{
		const char *x = "mir-chg-x@198.18.0.1", *y = "mir-chg-y@198.18.0.1";
		__u32 ax = pred_active(SVC4, x), ay = pred_active(SVC4, y), sx;

		set_share(SVC4, 10000);
		sx = pred_sim(SVC4, x);
		n = req_text(sipbuf, "INVITE", x, "z9hG4bK-chg-x", 1);
		send_mirror_check(SVC4, sipbuf, n, ax, sx, NULL);
		set_share(SVC4, 0);
		n = req_text(sipbuf, "BYE", x, "z9hG4bK-chg-x-bye", 2);
		send_mirror_check(SVC4, sipbuf, n, ax, sx, NULL);
		n = req_text(sipbuf, "INVITE", y, "z9hG4bK-chg-y", 1);
		send_mirror_check(SVC4, sipbuf, n, ay, MID_NONE, NULL);
		set_share(SVC4, 10000);
		n = req_text(sipbuf, "BYE", y, "z9hG4bK-chg-y-bye", 2);
		send_mirror_check(SVC4, sipbuf, n, ay, MID_NONE, NULL);
	}
	th_end();

	/* a call mirrored to s1 from before */
	{
		const char *p = "mir-rej-p@198.18.0.1", *q = "mir-rej-q@198.18.0.1";
		const char *r = "mir-rej-r@198.18.0.1";
		__u32 ap = pred_active(SVC4, p), aq = pred_active(SVC4, q), ar;

		set_share(SVC4, 10000);
		n = req_text(sipbuf, "INVITE", p, "z9hG4bK-rej-p", 1);
		send_mirror_check(SVC4, sipbuf, n, ap, M_S1, NULL);

		for (int k = 0; k < 2; k++) {
			enum us_mstate st = k ? US_MS_REMOVED : US_MS_REJECTED;

			th_begin("mirror/%s-simulation-machine-gets-nothing", us_state_name(st));
			if (set_state(M_S1, st, false)) {
				th_end();
				continue;
			}
			snap_take(&sb);
			msnap_take(&mb);
			n = req_text(sipbuf, "INFO", p, k ? "z9hG4bK-rej-p-i2" : "z9hG4bK-rej-p-i1",
				     2 + k);
			send_client(SVC4, sipbuf, n, ap, MID_NONE, NULL);
			n = req_text(sipbuf, "INVITE", q, k ? "z9hG4bK-rej-q2" : "z9hG4bK-rej-q",
				     1 + k);
			send_client(SVC4, sipbuf, n, aq, MID_NONE, NULL);
			STATS(&sb, 2, S(US_ST_REQ_FWD, 2));
			MST(&mb, ap, M(req[US_M_INFO], 1));
			MST(&mb, aq, M(req[US_M_INVITE], 1));
			mst_rest(&mb);
			th_end();
		}

		th_begin("mirror/empty-simulation-pool");
		set_state(M_S1, US_MS_REJECTED, true);
		ar = pred_active(SVC4, r);
		EQ("sim table", pred_sim(SVC4, r), MID_NONE);
		n = req_text(sipbuf, "INVITE", r, "z9hG4bK-rej-r", 1);
		send_mirror_check(SVC4, sipbuf, n, ar, MID_NONE, NULL);
		if (!call_get(SVC4, r, &call))
			EQ("call.sim_mid", call.sim_mid, MID_NONE);
		set_state(M_S1, US_MS_SIMULATION, true);
		th_end();

		th_begin("mirror/call-unmirrored-while-sim-rejected-stays-unmirrored");
		/* q began while s1 was rejected: no mirror then, so none now */
		n = req_text(sipbuf, "BYE", q, "z9hG4bK-rej-q-bye", 5);
		send_mirror_check(SVC4, sipbuf, n, aq, MID_NONE, NULL);
		if (!call_get(SVC4, q, &call))
			EQ("call.sim_mid", call.sim_mid, MID_NONE);
		th_end();
		/* (p was mirrored, its messages while s1 was out were not: a
		 * call whose simulation machine goes away cannot stay whole) */
	}

	th_begin("mirror/call-unmirrored-for-no-neighbour-stays-unmirrored");
	{
		const char *c = "mir-neigh@198.18.0.1";
		char cmd[200];

		n = req_text(sipbuf, "INVITE", c, "z9hG4bK-neigh", 1);
		snap_take(&sb);
		send_client(SVC_SKIPNEIGH, sipbuf, n, M_SN_A, MID_NONE, NULL);
		STATS(&sb, 1, S(US_ST_REQ_FWD, 1) S(US_ST_MIRROR_SKIPPED, 1));
		snprintf(cmd, sizeof(cmd),
			 "ip neigh replace 198.18.1.51 lladdr 02:a0:00:00:01:51 dev %s nud permanent",
			 testnet.ifs[TN_MACH].name);
		if (system(cmd)) {
			th_fail("ip neigh", "failed", "0");
		} else {
			size_t len;

			n = req_text(sipbuf, "BYE", c, "z9hG4bK-neigh-bye", 2);
			len = frame_client(fin, 0, svc_vip[SVC_SKIPNEIGH], 5060, sipbuf, n);
			snap_take(&sb);
			th_run(th.fd_client, TN_CLI, fin, len, &R);
			if (check_run(&R))
				check_ret(R.ret, XDP_REDIRECT);
			EQ("stats[req_mirrored]", stat_delta(&sb, US_ST_REQ_MIRRORED), 0);
			if (!call_get(SVC_SKIPNEIGH, c, &call))
				EQ("call.sim_mid", call.sim_mid, MID_NONE);
			snprintf(cmd, sizeof(cmd), "ip neigh del 198.18.1.51 dev %s",
				 testnet.ifs[TN_MACH].name);
			if (system(cmd))
				th_fail("ip neigh del", "failed", "0");
		}
	}
	th_end();

	th_begin("mirror/sim-mac-unknown-not-mirrored");
	{
		/* the machine side cannot recognise s1 by its MAC yet: its
		 * answers would pass to the client, so nothing is cloned to it,
		 * and the call stays unmirrored once the MAC is known */
		const char *c = "mir-mac@198.18.0.1";
		int fd = bpf_map__fd(us_dp_skel(th.dp)->maps.us_macs);
		struct us_mac_key k = { .ifindex = testnet.ifs[TN_MACH].ifindex };
		__u32 a = pred_active(SVC4, c), mid = M_S1;

		memcpy(k.mac, testnet.hosts[TN_S1].mac, 6);
		EQ("delete s1's MAC", bpf_map_delete_elem(fd, &k), 0);
		n = req_text(sipbuf, "INVITE", c, "z9hG4bK-mac", 1);
		snap_take(&sb);
		send_client(SVC4, sipbuf, n, a, MID_NONE, NULL);
		STATS(&sb, 1, S(US_ST_REQ_FWD, 1) S(US_ST_MIRROR_SKIPPED, 1));
		if (!call_get(SVC4, c, &call))
			EQ("call.sim_mid", call.sim_mid, MID_NONE);
		EQ("restore s1's MAC", bpf_map_update_elem(fd, &k, &mid, 0), 0);
		n = req_text(sipbuf, "BYE", c, "z9hG4bK-mac-bye", 2);
		send_mirror_check(SVC4, sipbuf, n, a, MID_NONE, NULL);
	}
	th_end();
	set_share(SVC4, 0);
}

/* ---- scenarios: pairing and difference events ------------------------------------ */

struct pair_res {
	__u32 a, s;
};

/* A mirrored INVITE of call c in SVC4; returns the machines. */
static struct pair_res pair_invite(const char *c, const char *b)
{
	struct pair_res p = { pred_active(SVC4, c), pred_sim(SVC4, c) };
	size_t n = req_text(sipbuf, "INVITE", c, b, 1);

	send_client(SVC4, sipbuf, n, p.a, p.s, NULL);
	return p;
}

static void check_event(const struct us_event *e, const char *c, __u32 a, __u32 s, int ac,
			int sc, int kind)
{
	EQ("event.kind", e->kind, kind);
	EQ("event.active_code", e->active_code, ac);
	EQ("event.sim_code", e->sim_code, sc);
	EQ("event.active_mid", e->active_mid, a);
	EQ("event.sim_mid", e->sim_mid, s);
	EQ("event.svc_id", e->svc_id, SVC4);
	EQ("event.method", e->method, US_M_INVITE);
	EQ("event.callid_len", e->callid_len, strlen(c));
	if (memcmp(e->callid, c, strlen(c)))
		th_fail("event.callid", "other bytes", c);
	for (size_t i = strlen(c); i < US_CALLID_COPY; i++)
		if (e->callid[i]) {
			th_fail("event.callid past its length", "other bytes", "zeros");
			break;
		}
	if (!e->active_lat_ns || !e->sim_lat_ns)
		th_fail("event latencies", "0", "both set");
}

static void sc_pair(void)
{
	struct pair_res p;
	struct snap sb;
	struct msnap mb;
	size_t n;

	set_share(SVC4, 10000);
	set_cfg(1000000, 100);
	ev_drain();

	th_begin("pair/differ-class-makes-event");
	{
		const char *c = "pair-1@198.18.0.1", *b = "z9hG4bK-pair-1";

		p = pair_invite(c, b);
		n = resp_text(sipbuf, 200, c, b, 1, "INVITE");
		snap_take(&sb);
		msnap_take(&mb);
		send_machine(p.a, sipbuf, n, XDP_REDIRECT);
		STATS(&sb, 1, S(US_ST_RESP_FWD, 1));
		MST(&mb, p.a, M(resp_class[2], 1) M(final_class[2], 1) M(final_code[US_C_200], 1)
			      M(lat_count, 1));
		mst_rest(&mb);
		EQ("events before the sim answers", ev_drain(), 0);
		n = resp_text(sipbuf, 503, c, b, 1, "INVITE");
		snap_take(&sb);
		msnap_take(&mb);
		send_machine(p.s, sipbuf, n, XDP_DROP);
		STATS(&sb, 1, S(US_ST_RESP_SIM_DROP, 1) S(US_ST_EVENTS, 1));
		MST(&mb, p.s, M(resp_class[5], 1) M(final_class[5], 1) M(final_code[US_C_503], 1)
			      M(lat_count, 1) M(paired, 1) M(differ_class, 1) M(differ_code, 1)
			      M(pair_sim_err_only, 1)
			      M(dropped, 1));
		mst_rest(&mb);
		if (EQ("events", ev_drain(), 1))
			check_event(&evs[0], c, p.a, p.s, 200, 503, US_EV_DIFF_CLASS);
	}
	th_end();

	/* which side erred, for the judge's paired error test */
	{
		static const struct { const char *name; int ac, sc; int which; } errs[] = {
			{ "pair/only-active-errs", 503, 200, 1 },
			{ "pair/both-err", 500, 503, 2 },
		};

		for (int i = 0; i < 2; i++) {
			char c[64], b[64];

			th_begin(errs[i].name);
			snprintf(c, sizeof(c), "pair-err-%d@198.18.0.1", i);
			snprintf(b, sizeof(b), "z9hG4bK-pair-err-%d", i);
			p = pair_invite(c, b);
			n = resp_text(sipbuf, errs[i].ac, c, b, 1, "INVITE");
			send_machine(p.a, sipbuf, n, XDP_REDIRECT);
			n = resp_text(sipbuf, errs[i].sc, c, b, 1, "INVITE");
			msnap_take(&mb);
			send_machine(p.s, sipbuf, n, XDP_DROP);
			if (errs[i].which == 1)
				MST(&mb, p.s, M(resp_class[2], 1) M(final_class[2], 1)
					      M(final_code[US_C_200], 1) M(lat_count, 1) M(paired, 1)
					      M(differ_class, 1) M(differ_code, 1)
					      M(pair_active_err_only, 1) M(dropped, 1));
			else
				MST(&mb, p.s, M(resp_class[5], 1) M(final_class[5], 1)
					      M(final_code[US_C_503], 1) M(lat_count, 1) M(paired, 1)
					      M(agree_class, 1) M(differ_code, 1)
					      M(pair_both_err, 1) M(dropped, 1));
			mst_rest(&mb);
			ev_drain();
			th_end();
		}
	}

	th_begin("pair/equal-codes-agree-no-event");
	{
		const char *c = "pair-2@198.18.0.1", *b = "z9hG4bK-pair-2";

		p = pair_invite(c, b);
		n = resp_text(sipbuf, 486, c, b, 1, "INVITE");
		send_machine(p.s, sipbuf, n, XDP_DROP);     /* the simulation first */
		snap_take(&sb);
		msnap_take(&mb);
		send_machine(p.a, sipbuf, n, XDP_REDIRECT);
		STATS(&sb, 1, S(US_ST_RESP_FWD, 1));
		MST(&mb, p.a, M(resp_class[4], 1) M(final_class[4], 1) M(final_code[US_C_486], 1)
			      M(lat_count, 1));
		MST(&mb, p.s, M(paired, 1) M(agree_class, 1) M(agree_code, 1));
		mst_rest(&mb);
		EQ("events", ev_drain(), 0);
	}
	th_end();

	th_begin("pair/same-class-other-code-makes-event");
	{
		const char *c = "pair-3@198.18.0.1", *b = "z9hG4bK-pair-3";

		p = pair_invite(c, b);
		n = resp_text(sipbuf, 480, c, b, 1, "INVITE");
		send_machine(p.s, sipbuf, n, XDP_DROP);
		n = resp_text(sipbuf, 486, c, b, 1, "INVITE");
		snap_take(&sb);
		msnap_take(&mb);
		send_machine(p.a, sipbuf, n, XDP_REDIRECT);
		STATS(&sb, 1, S(US_ST_RESP_FWD, 1) S(US_ST_EVENTS, 1));
		MST(&mb, p.a, M(resp_class[4], 1) M(final_class[4], 1) M(final_code[US_C_486], 1)
			      M(lat_count, 1));
		MST(&mb, p.s, M(paired, 1) M(agree_class, 1) M(differ_code, 1));
		mst_rest(&mb);
		if (EQ("events", ev_drain(), 1))
			check_event(&evs[0], c, p.a, p.s, 486, 480, US_EV_DIFF_CODE);

		th_end();
		th_begin("pair/sim-final-retransmission-no-second-pairing");
		n = resp_text(sipbuf, 480, c, b, 1, "INVITE");
		snap_take(&sb);
		msnap_take(&mb);
		send_machine(p.s, sipbuf, n, XDP_DROP);
		STATS(&sb, 1, S(US_ST_RESP_SIM_DROP, 1) S(US_ST_RETRANS_RESP, 1));
		MST(&mb, p.s, M(resp_class[4], 1) M(retrans_resp, 1) M(dropped, 1));
		mst_rest(&mb);
		EQ("events", ev_drain(), 0);
	}
	th_end();

	th_begin("pair/rate-limit-burst-1");
	set_cfg(1, 1);
	snap_take(&sb);
	for (int i = 0; i < 2; i++) {
		char c[64], b[64];

		snprintf(c, sizeof(c), "pair-rl-%d@198.18.0.1", i);
		snprintf(b, sizeof(b), "z9hG4bK-pair-rl-%d", i);
		p = pair_invite(c, b);
		n = resp_text(sipbuf, 200, c, b, 1, "INVITE");
		send_machine(p.a, sipbuf, n, XDP_REDIRECT);
		n = resp_text(sipbuf, 500, c, b, 1, "INVITE");
		send_machine(p.s, sipbuf, n, XDP_DROP);
	}
	STATS(&sb, 6, S(US_ST_REQ_FWD, 2) S(US_ST_REQ_MIRRORED, 2) S(US_ST_RESP_FWD, 2)
		      S(US_ST_RESP_SIM_DROP, 2) S(US_ST_EVENTS, 1) S(US_ST_EVENTS_LIMITED, 1));
	EQ("events", ev_drain(), 1);
	th_end();

	th_begin("pair/event-rate-0-means-no-events");
	set_cfg(0, 0);
	{
		const char *c = "pair-off@198.18.0.1", *b = "z9hG4bK-pair-off";

		p = pair_invite(c, b);
		n = resp_text(sipbuf, 200, c, b, 1, "INVITE");
		send_machine(p.a, sipbuf, n, XDP_REDIRECT);
		n = resp_text(sipbuf, 404, c, b, 1, "INVITE");
		snap_take(&sb);
		send_machine(p.s, sipbuf, n, XDP_DROP);
		STATS(&sb, 1, S(US_ST_RESP_SIM_DROP, 1) S(US_ST_EVENTS_LIMITED, 1));
		EQ("events", ev_drain(), 0);
	}
	set_cfg(1000000, 100);
	th_end();

	th_begin("pair/promoted-machine-answer-to-mirrored-txn-dropped");
	{
		const char *c = "pair-promo@198.18.0.1", *b = "z9hG4bK-pair-promo";

		p = pair_invite(c, b);
		if (!set_state(p.s, US_MS_ACTIVE, false)) {
			n = resp_text(sipbuf, 200, c, b, 1, "INVITE");
			snap_take(&sb);
			msnap_take(&mb);
			send_machine(p.s, sipbuf, n, XDP_DROP);
			STATS(&sb, 1, S(US_ST_RESP_SIM_DROP, 1));
			MST(&mb, p.s, M(resp_class[2], 1) M(final_class[2], 1)
				      M(final_code[US_C_200], 1) M(lat_count, 1));
			mst_rest(&mb);
			/* the active's answer pairs with it */
			n = resp_text(sipbuf, 200, c, b, 1, "INVITE");
			snap_take(&sb);
			msnap_take(&mb);
			send_machine(p.a, sipbuf, n, XDP_REDIRECT);
			STATS(&sb, 1, S(US_ST_RESP_FWD, 1));
			MST(&mb, p.a, M(resp_class[2], 1) M(final_class[2], 1)
				      M(final_code[US_C_200], 1) M(lat_count, 1));
			MST(&mb, p.s, M(paired, 1) M(agree_class, 1) M(agree_code, 1));
			mst_rest(&mb);
			set_state(p.s, US_MS_SIMULATION, false);
		}
	}
	th_end();
	set_share(SVC4, 0);
}

/* ---- limits ------------------------------------------------------------------------ */

static void sc_limits(void)
{
	static char big[FRAME_MAX], c[300];
	struct snap sb;
	size_t n, len;

	th_begin("limits/callid-255-bytes-accepted");
	memset(c, 'k', 255);
	memcpy(c, "len255-", 7);
	c[255] = 0;
	n = req_text(big, "INVITE", c, "z9hG4bK-255", 1);
	snap_take(&sb);
	send_client(SVC4, big, n, pred_active(SVC4, c), MID_NONE, NULL);
	STATS(&sb, 1, S(US_ST_REQ_FWD, 1));
	th_end();

	th_begin("limits/callid-256-bytes-refused");
	memset(c, 'k', 256);
	memcpy(c, "len256-", 7);
	c[256] = 0;
	n = req_text(big, "INVITE", c, "z9hG4bK-256", 1);
	len = frame_client(fin, 0, svc_vip[SVC4], 5060, big, n);
	snap_take(&sb);
	th_run(th.fd_client, TN_CLI, fin, len, &R);
	if (check_run(&R))
		check_ret(R.ret, XDP_DROP);
	STATS(&sb, 1, S(US_ST_NO_CALLID, 1));
	th_end();

	/* the largest frame the test run hands the program whole: 3520 bytes
	 * with 4 KiB pages (PAGE_SIZE - XDP_PACKET_HEADROOM - skb_shared_info) */
	th_begin("limits/largest-linear-frame-forwarded");
	{
		struct sip_msg m = { .method = "MESSAGE", .callid = "big@198.18.0.1",
				     .branch = "z9hG4bK-big", .body_len = 3000 };
		size_t lin = (size_t)sysconf(_SC_PAGESIZE) - 256 - 320;

		n = sipf(big, sizeof(big), &m);
		m.body_len += lin - (n + 42);
		n = sipf(big, sizeof(big), &m);
		len = frame_client(fin, 0, svc_vip[SVC4], 5060, big, n);
		EQ("frame length", len, lin);
		snap_take(&sb);
		send_client(SVC4, big, n, pred_active(SVC4, m.callid), MID_NONE, NULL);
		STATS(&sb, 1, S(US_ST_REQ_FWD, 1));
	}
	th_end();

	/* beyond the linear part the frame has fragments (xdp.frags): the
	 * payload is read across them, up to US_SIP_MAX */
	for (int k = 0; k < 2; k++) {
		struct sip_msg m = { .method = "MESSAGE", .callid = k ? "huge@198.18.0.1" :
									 "max@198.18.0.1",
				     .branch = "z9hG4bK-huge", .body_len = 3000 };

		th_begin(k ? "limits/sip-4097-bytes-oversize-dropped" :
			  "limits/sip-4096-bytes-multi-buffer-forwarded");
		n = sipf(big, sizeof(big), &m);
		m.body_len += US_SIP_MAX + k - n;
		n = sipf(big, sizeof(big), &m);
		EQ("SIP length", n, US_SIP_MAX + k);
		len = frame_client(fin, 0, svc_vip[SVC4], 5060, big, n);
		snap_take(&sb);
		if (!k) {
			send_client(SVC4, big, n, pred_active(SVC4, m.callid), MID_NONE, NULL);
			STATS(&sb, 1, S(US_ST_REQ_FWD, 1));
		} else {
			th_run(th.fd_client, TN_CLI, fin, len, &R);
			if (check_run(&R))
				check_ret(R.ret, XDP_DROP);
			STATS(&sb, 1, S(US_ST_OVERSIZE, 1));
		}
		th_end();
	}

	th_begin("limits/machine-oversize-passed");
	{
		struct sip_msg m = { .status = 200, .callid = "huge-resp@198.18.0.1",
				     .branch = "z9hG4bK-huge", .body_len = 4100 };

		n = sipf(big, sizeof(big), &m);
		len = frame_resp(fin, TN_A1, SVC4, big, n);
		snap_take(&sb);
		th_run(th.fd_machine, TN_MACH, fin, len, &R);
		if (check_run(&R)) {
			check_ret(R.ret, XDP_PASS);
			out_same(&R, fin, len);
		}
		STATS(&sb, 1, S(US_ST_OVERSIZE, 1));
	}
	th_end();

	/* A multi-buffer frame cannot be cloned by a devmap broadcast: older
	 * kernels copy only its linear part (xdpf_clone), fixed ones refuse
	 * (dev_map_enqueue_clone: -EOPNOTSUPP, and the redirect of both copies
	 * fails). Such a message should be forwarded, not mirrored. */
	th_begin("limits/multi-buffer-frame-forwarded-not-broadcast");
	{
		struct sip_msg m = { .method = "MESSAGE", .callid = "mb-mirror@198.18.0.1",
				     .branch = "z9hG4bK-mb", .body_len = 3600 };
		__u32 a = pred_active(SVC4, m.callid);

		set_share(SVC4, 10000);
		n = sipf(big, sizeof(big), &m);
		len = frame_client(fin, 0, svc_vip[SVC4], 5060, big, n);
		snap_take(&sb);
		th_run(th.fd_client, TN_CLI, fin, len, &R);
		if (check_run(&R) && check_ret(R.ret, XDP_REDIRECT))
			out_fwd(&R, fin, len, mach_mac(a), testnet.ifs[mach_ifc(a)].mac);
		STATS(&sb, 1, S(US_ST_REQ_FWD, 1) S(US_ST_MIRROR_SKIPPED, 1));
		set_share(SVC4, 0);
	}
	th_end();
}

/* ---- truncation sweeps --------------------------------------------------------------- */

static int cmp_size(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;

	return x < y ? -1 : x > y;
}

/* Cut points: every byte of the first 80, every header boundary given,
 * the end of every line of the SIP text, inside the body. */
static size_t cut_points(size_t *cuts, size_t cap, const size_t *bounds, size_t nb,
			 const char *sip, size_t sip_off, size_t sip_len, size_t body_off,
			 size_t total)
{
	size_t k = 0, u = 0;

	for (size_t i = 0; i < 80 && k < cap; i++)
		cuts[k++] = i;
	for (size_t i = 0; i < nb && k < cap; i++)
		cuts[k++] = bounds[i];
	for (size_t i = 0; i < sip_len && k < cap; i++)
		if (sip[i] == '\n')
			cuts[k++] = sip_off + i + 1;
	if (body_off && k + 3 < cap) {
		cuts[k++] = sip_off + body_off + 1;
		cuts[k++] = sip_off + (body_off + sip_len) / 2;
		cuts[k++] = sip_off + sip_len - 1;
	}
	qsort(cuts, k, sizeof(*cuts), cmp_size);
	for (size_t i = 0; i < k; i++)
		if (cuts[i] < total && (u == 0 || cuts[u - 1] != cuts[i]))
			cuts[u++] = cuts[i];
	return u;
}

static size_t body_of(const char *s, size_t n)
{
	for (size_t i = 0; i + 3 < n; i++)
		if (!memcmp(s + i, "\r\n\r\n", 4))
			return i + 4;
	return 0;
}

/* One sweep: a valid message, cut. frames: cut the frame (IP/UDP lengths
 * then lie); else: cut the SIP text and build a well-formed datagram. */
static void sweep(bool machine, int fam, int nvlan, bool frames)
{
	static __u8 full[FRAME_MAX], f[FRAME_MAX];
	static char text[FRAME_MAX];
	const struct testnet_host *cl = &testnet.hosts[TN_CLIENT];
	int host = machine ? (fam == AF_INET6 ? TN_B1 : TN_A1) : TN_CLIENT;
	__u32 svc = fam == AF_INET6 ? SVC6 : SVC4;
	struct pkt_l2l4 o = {
		.nvlan = nvlan, .vlan = { 100, 200 }, .family = fam, .sport = 5060, .dport = 5060,
	};
	size_t cuts[512], nc, n, len, bounds[8], nb = 0, body;
	int prog = machine ? th.fd_machine : th.fd_client, ifc = machine ? TN_MACH : TN_CLI;
	int refused = 0, passed = 0, dropped = 0;

	th_begin("truncated/%s-%s-vlan%d-%s", machine ? "machine" : "client",
		 fam == AF_INET6 ? "v6" : "v4", nvlan, frames ? "frame" : "sip");
	if (machine) {
		struct sip_msg m = { .status = 200, .callid = "trunc-resp@198.18.0.1",
				     .branch = "z9hG4bK-trunc", .cseq = 1, .body_len = 250 };

		n = sipf(text, sizeof(text), &m);
		o.saddr = svc_vip[svc];
		o.daddr = fam == AF_INET6 ? cl->v6 : cl->v4;
		memcpy(o.smac, testnet.hosts[host].mac, 6);
		memcpy(o.dmac, testnet.ifs[TN_MACH].mac, 6);
	} else {
		n = sip_typical_invite(text, sizeof(text), "trunc@198.18.0.1", "z9hG4bK-trunc");
		o.saddr = fam == AF_INET6 ? cl->v6 : cl->v4;
		o.daddr = svc_vip[svc];
		memcpy(o.smac, cl->mac, 6);
		memcpy(o.dmac, testnet.ifs[TN_CLI].mac, 6);
	}
	len = pkt_build(full, sizeof(full), &o, text, n);
	body = body_of(text, n);
	if (frames) {
		bounds[nb++] = 12;
		for (int v = 0; v <= nvlan; v++)
			bounds[nb++] = 14 + 4 * v;
		bounds[nb++] = pkt_l3_end(&o);
		bounds[nb++] = pkt_payload_off(&o);
		nc = cut_points(cuts, ARRAY_SIZE(cuts), bounds, nb, text, pkt_payload_off(&o), n,
				body, len);
	} else {
		nc = cut_points(cuts, ARRAY_SIZE(cuts), NULL, 0, text, 0, n, body, n);
	}

	for (size_t i = 0; i < nc; i++) {
		size_t c = cuts[i], flen = c;
		struct snap b, a;
		long long bad, others = 0;

		if (frames) {
			memcpy(f, full, c);
		} else {
			flen = pkt_build(f, sizeof(f), &o, text, c);
		}
		snap_take(&b);
		th_run(prog, ifc, f, flen, &R);
		if (flen < 14) {
			/* the kernel refuses test frames shorter than Ethernet */
			if (R.err != -EINVAL)
				th_eqf(R.err, -EINVAL, "cut[%zu].test_run_error", c);
			refused++;
			continue;
		}
		if (R.err) {
			th_eqf(R.err, 0, "cut[%zu].test_run_error", c);
			continue;
		}
		snap_take(&a);
		bad = th_bad_delta(b.st, a.st);
		for (int s = 0; s < US_ST_MAX; s++)
			if (s != US_ST_RX)
				others += (long long)(a.st[s] - b.st[s]);
		if (R.ret == XDP_ABORTED)
			th_eqf(R.ret, XDP_DROP, "cut[%zu].action(aborted)", c);
		if (R.ret != XDP_PASS && R.ret != XDP_DROP)
			th_eqf(R.ret, machine ? XDP_PASS : XDP_DROP, "cut[%zu].action", c);
		th_eqf((long long)(a.st[US_ST_REQ_MIRRORED] - b.st[US_ST_REQ_MIRRORED]), 0,
		       "cut[%zu].stats[req_mirrored]", c);
		th_eqf((long long)(a.st[US_ST_REQ_FWD] - b.st[US_ST_REQ_FWD]), 0,
		       "cut[%zu].stats[req_fwd]", c);
		th_eqf((long long)(a.st[US_ST_RESP_FWD] - b.st[US_ST_RESP_FWD]), 0,
		       "cut[%zu].stats[resp_fwd]", c);
		th_eqf(others, 1, "cut[%zu].outcomes counted", c);
		if (R.ret == XDP_PASS) {
			passed++;
			if (R.len != flen || memcmp(R.out, f, flen))
				th_eqf(R.len, flen, "cut[%zu].passed frame changed; out.len", c);
			if (bad != 1)
				th_eqf((long long)(a.st[US_ST_PASS] - b.st[US_ST_PASS]), 1,
				       "cut[%zu].stats[pass] (no bad reason)", c);
		} else if (R.ret == XDP_DROP) {
			dropped++;
			th_eqf(bad, 1, "cut[%zu].bad reasons", c);
		}
		if (!frames && !machine)
			th_eqf(R.ret, XDP_DROP, "cut[%zu].action", c);
	}
	if (!frames && nc < 40)
		th_eqf((long long)nc, 40, "cuts (at least)");
	/* and uncut, the same message goes through */
	th_run(prog, ifc, full, len, &R);
	if (!R.err)
		th_eqf(R.ret, XDP_REDIRECT, "uncut.action");
	if (refused && !frames)
		EQ("refused cuts", refused, 0);
	if (th_verbose)
		printf("test:info:%s %zu cuts: %d refused (<14 bytes), %d passed, %d dropped\n",
		       th_cname, nc, refused, passed, dropped);
	th_end();
}

static void sc_sweeps(void)
{
	static const int v[][3] = {
		/* machine, family, vlans */
		{ 0, AF_INET, 0 }, { 0, AF_INET, 1 }, { 0, AF_INET, 2 },
		{ 0, AF_INET6, 0 }, { 0, AF_INET6, 2 },
		{ 1, AF_INET, 0 }, { 1, AF_INET6, 1 },
	};

	/* every call would be mirrored: none of the cut messages may be */
	set_share(SVC4, 10000);
	set_share(SVC6, 10000);
	for (size_t i = 0; i < ARRAY_SIZE(v); i++) {
		sweep(v[i][0], v[i][1], v[i][2], true);
		sweep(v[i][0], v[i][1], v[i][2], false);
	}
	set_share(SVC4, 0);
	set_share(SVC6, 0);
}

/* ---- the egress program ------------------------------------------------------------- */

static int cap_open(int ifindex)
{
	struct sockaddr_ll a = {
		.sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL), .sll_ifindex = ifindex,
	};
	int s = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, htons(ETH_P_ALL));

	if (s < 0)
		return -errno;
	if (bind(s, (struct sockaddr *)&a, sizeof(a))) {
		int err = -errno;

		close(s);
		return err;
	}
	return s;
}

struct capt {
	int n;
	size_t len[4];
	__u8 f[4][2048];
};

/* Frames carrying tag, on any of the sockets, until want arrived (then a
 * little longer, to see extra copies) or timeout. */
static void cap_collect(const int *socks, struct capt *caps, int nsock, const char *tag,
			int want, int timeout_ms)
{
	struct timespec t0, t;
	int got = 0, grace = 0;

	for (int i = 0; i < nsock; i++)
		caps[i].n = 0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		struct pollfd pf[4];
		long ms;

		for (int i = 0; i < nsock; i++)
			pf[i] = (struct pollfd){ .fd = socks[i], .events = POLLIN };
		poll(pf, nsock, 10);
		for (int i = 0; i < nsock; i++) {
			__u8 b[2048];
			struct sockaddr_ll from;
			socklen_t fl = sizeof(from);
			ssize_t r;

			while ((r = recvfrom(socks[i], b, sizeof(b), 0, (struct sockaddr *)&from,
					     &fl)) > 0) {
				if (from.sll_pkttype == PACKET_OUTGOING)
					continue;
				if (!memmem(b, (size_t)r, tag, strlen(tag)))
					continue;
				if (caps[i].n < 4) {
					caps[i].len[caps[i].n] = (size_t)r;
					memcpy(caps[i].f[caps[i].n], b, (size_t)r);
				}
				caps[i].n++;
				got++;
			}
		}
		clock_gettime(CLOCK_MONOTONIC, &t);
		ms = (t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000;
		if (got >= want && !grace) {
			grace = 1;
			t0 = t;
			timeout_ms = 50;
			continue;
		}
		if (ms > timeout_ms)
			break;
	}
}

static int run_live(int prog_fd, int ifc, const __u8 *in, size_t len)
{
	struct xdp_md ctx = { .data_end = (__u32)len };
	LIBBPF_OPTS(bpf_test_run_opts, t, .data_in = in, .data_size_in = (__u32)len,
		    .ctx_in = &ctx, .ctx_size_in = sizeof(ctx), .repeat = 1,
		    .flags = BPF_F_TEST_XDP_LIVE_FRAMES);

	ctx.ingress_ifindex = testnet.ifs[ifc].ifindex;
	return bpf_prog_test_run_opts(prog_fd, &t) ? -errno : 0;
}

/* One copy as captured: these MACs, the rest of the frame as sent. */
static int cap_match(const __u8 *f, size_t flen, const __u8 *in, size_t len, const __u8 *dmac,
		     const __u8 *smac)
{
	return flen == len && !memcmp(f, dmac, 6) && !memcmp(f + 6, smac, 6) &&
	       !memcmp(f + 12, in + 12, len - 12);
}

static void expect_copies(const char *where, const struct capt *c, const __u8 *in, size_t len,
			  const __u32 *mids, int n)
{
	char what[96];

	snprintf(what, sizeof(what), "%s: copies", where);
	if (!EQ(what, c->n, n))
		return;
	for (int k = 0; k < n; k++) {
		int found = 0;

		for (int j = 0; j < c->n && j < 4; j++)
			found |= cap_match(c->f[j], c->len[j], in, len, mach_mac(mids[k]),
					   testnet.ifs[mach_ifc(mids[k])].mac);
		if (!found) {
			char ma[20], me[20];

			snprintf(what, sizeof(what), "%s: copy for %s (dmac)", where, mname(mids[k]));
			th_fail(what, mac_s(c->f[0], ma), mac_s(mach_mac(mids[k]), me));
		}
	}
}

static void sc_egress(void)
{
	int socks[3], ns = 0, err;
	struct capt caps[3];
	struct snap sb;
	size_t n, len;

	th_begin("egress/devmap-program-test-run");
	{
		static __u8 mb[FRAME_MAX];
		struct us_meta md = { .active_ifindex = (__u32)testnet.ifs[TN_MACH].ifindex, .seq = 1 };
		struct xdp_md ctx = { .data = sizeof(md) };
		LIBBPF_OPTS(bpf_test_run_opts, t);

		n = req_text(sipbuf, "INVITE", "egress@198.18.0.1", "z9hG4bK-eg", 1);
		len = frame_client(fin, 0, svc_vip[SVC4], 5060, sipbuf, n);
		memcpy(mb, &md, sizeof(md));
		memcpy(mb + sizeof(md), fin, len);
		ctx.data_end = (__u32)(sizeof(md) + len);
		t.data_in = mb;
		t.data_size_in = (__u32)(sizeof(md) + len);
		t.ctx_in = &ctx;
		t.ctx_size_in = sizeof(ctx);
		err = bpf_prog_test_run_opts(th.fd_egress, &t) ? -errno : 0;
		/* Linux refuses test runs of BPF_XDP_DEVMAP programs (EINVAL);
		 * should that change, the program must at least not abort */
		if (err != -EINVAL)
			EQ("devmap test run: error", err, 0);
		if (!err && t.retval != XDP_PASS)
			check_ret(t.retval, XDP_PASS);
	}
	th_end();

	for (int i = 0; i < TN_NIFS; i++) {
		int s = cap_open(testnet.ifs[i].peer_ifindex);

		if (s < 0) {
			th_begin("egress/capture");
			th_fail("AF_PACKET socket", strerror(-s), "open");
			th_end();
			goto out;
		}
		socks[ns++] = s;
	}

	th_begin("egress/live-mirror-same-interface");
	{
		const char *c = "live-mir-v4@198.18.0.1";
		__u32 a = pred_active(SVC4, c), mids[2];

		set_share(SVC4, 10000);
		mids[0] = a;
		mids[1] = pred_sim(SVC4, c);
		n = req_text(sipbuf, "INVITE", c, "z9hG4bK-live-1", 1);
		len = frame_client(fin, 0, svc_vip[SVC4], 5060, sipbuf, n);
		snap_take(&sb);
		err = run_live(th.fd_client, TN_CLI, fin, len);
		if (EQ("live test run: error", err, 0)) {
			cap_collect(socks, caps, ns, c, 2, 1000);
			expect_copies("mach0p", &caps[TN_MACH], fin, len, mids, 2);
			EQ("cli0p: copies", caps[TN_CLI].n, 0);
			EQ("sim0p: copies", caps[TN_SIM].n, 0);
			STATS(&sb, 1, S(US_ST_REQ_FWD, 1) S(US_ST_REQ_MIRRORED, 1));
		}
		set_share(SVC4, 0);
	}
	th_end();

	th_begin("egress/live-mirror-two-interfaces");
	{
		const char *c = "live-mir-v6@198.18.0.1";
		__u32 a = pred_active(SVC6, c), s;

		set_share(SVC6, 10000);
		s = pred_sim(SVC6, c);
		n = req_text(sipbuf, "INVITE", c, "z9hG4bK-live-2", 1);
		len = frame_client(fin, 0, svc_vip[SVC6], 5060, sipbuf, n);
		err = run_live(th.fd_client, TN_CLI, fin, len);
		if (EQ("live test run: error", err, 0)) {
			cap_collect(socks, caps, ns, c, 2, 1000);
			expect_copies("mach0p", &caps[TN_MACH], fin, len, &a, 1);
			expect_copies("sim0p", &caps[TN_SIM], fin, len, &s, 1);
			EQ("cli0p: copies", caps[TN_CLI].n, 0);
		}
		set_share(SVC6, 0);
	}
	th_end();

	th_begin("egress/live-forward-not-mirrored");
	{
		const char *c = "live-fwd@198.18.0.1";
		__u32 a = pred_active(SVC4, c);

		n = req_text(sipbuf, "INVITE", c, "z9hG4bK-live-3", 1);
		len = frame_client(fin, 0, svc_vip[SVC4], 5060, sipbuf, n);
		err = run_live(th.fd_client, TN_CLI, fin, len);
		if (EQ("live test run: error", err, 0)) {
			cap_collect(socks, caps, ns, c, 1, 1000);
			expect_copies("mach0p", &caps[TN_MACH], fin, len, &a, 1);
			EQ("sim0p: copies", caps[TN_SIM].n, 0);
		}

		th_end();
		th_begin("egress/live-response-to-client");
		n = resp_text(sipbuf, 200, c, "z9hG4bK-live-3", 1, "INVITE");
		len = frame_resp(fin, mach_of(a)->host, SVC4, sipbuf, n);
		err = run_live(th.fd_machine, TN_MACH, fin, len);
		if (EQ("live test run: error", err, 0)) {
			cap_collect(socks, caps, ns, c, 1, 1000);
			if (EQ("cli0p: copies", caps[TN_CLI].n, 1) &&
			    !cap_match(caps[TN_CLI].f[0], caps[TN_CLI].len[0], fin, len,
				       testnet.hosts[TN_CLIENT].mac, testnet.ifs[TN_CLI].mac))
				th_fail("cli0p frame", "other bytes", "the response with client MACs");
			EQ("mach0p: copies", caps[TN_MACH].n, 0);
		}
	}
	th_end();
out:
	for (int i = 0; i < ns; i++)
		close(socks[i]);
}

/* ---- set-up and tear-down -------------------------------------------------------------- */

static int setup(void)
{
	struct us_dp_opts o = { .calls_max = 16384, .txns_max = 16384 };
	struct us_cfg cfg = { .event_rate = 1000000, .event_burst = 100 };
	int err;

	if ((err = th_setup_dp(PIN_PREFIX, &o)))
		return err;
	for (__u32 s = 0; s < NSVC; s++)
		if ((err = th_set_service(s, svc_vip[s], svc_share[s])))
			return th_setup_fail("us_dp_set_service", err);
	for (size_t i = 0; i < ARRAY_SIZE(machs); i++) {
		const struct mach *m = &machs[i];

		if (!m->later && (err = set_machine(m, m->state)))
			return th_setup_fail("us_dp_set_machine", err);
		if (m->host >= 0 && (err = th_set_mac(m->mid, m->host)))
			return th_setup_fail("us_dp_set_mac", err);
	}
	return th_setup_tables(NSVC, &cfg, ev_cb);
}

int main(void)
{
	th_init();
	if (th_need_root())
		return 1;
	th_start(PIN_PREFIX);
	if (th_setup_case(setup))
		return 1;

	for (size_t i = 0; i < ARRAY_SIZE(pcases); i++)
		run_pcase(&pcases[i]);
	sc_txn();
	sc_sticky();
	sc_resp();
	sc_mirror();
	sc_pair();
	sc_limits();
	sc_sweeps();
	sc_egress();
	return th_finish();
}
