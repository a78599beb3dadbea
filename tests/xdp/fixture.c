// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The data-plane tests' fixture and helpers: see fixture.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "understudy.skel.h"
#include "fixture.h"

#define PIN_PREFIX "understudy-test"   /* pins: /sys/fs/bpf/understudy-test-<pid> */

/* ---- reporting ---------------------------------------------------------- */

int check_ret(long long a, long long e)
{
	if (a == e)
		return 1;
	th_fail("action", th_xdp_name(a), th_xdp_name(e));
	return 0;
}

const char *mac_s(const __u8 *m, char *b)
{
	sprintf(b, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
	return b;
}

int check_mac(const char *what, const __u8 *a, const __u8 *e)
{
	char sa[20], se[20];

	if (!memcmp(a, e, 6))
		return 1;
	th_fail(what, mac_s(a, sa), mac_s(e, se));
	return 0;
}

/* ---- the data plane under test ------------------------------------------ */

const char *const svc_vip[NSVC] = {
	"198.18.100.1", "2001:db8:100::1", "198.18.100.2", "198.18.100.3", "198.18.100.4",
	"198.18.100.5",
};
static const __u16 svc_share0[NSVC] = { 0, 0, 0, 0, 10000, 10000 };
__u16 svc_share[NSVC];

const struct mach machs[NMACH] = {
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
	/* a control machine, behind a3's host (a3 is then not configured) */
	{ M_C1, SVC4, TN_A3, "198.18.1.3", US_MS_CONTROL, true },
};
_Static_assert(NMACH < 32, "struct msnap: a bit per machine");

const struct mach *mach_of(__u32 mid)
{
	for (size_t i = 0; i < ARRAY_SIZE(machs); i++)
		if (machs[i].mid == mid)
			return &machs[i];
	return NULL;
}

const char *mname(__u32 mid)
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
const __u8 *mach_mac(__u32 mid)
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

int mach_ifc(__u32 mid)
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

int set_machine(const struct mach *m, enum us_mstate state)
{
	return th_set_machine(m->mid, m->svc, m->addr, state);
}

int set_state(__u32 mid, enum us_mstate st, bool rebuild)
{
	const struct mach *m = mach_of(mid);
	int err = us_dp_set_state(th.dp, mid, st);

	if (!err && rebuild && m) {
		err = us_dp_rebuild(th.dp, m->svc, US_POOL_ACTIVE);
		if (!err)
			err = us_dp_rebuild(th.dp, m->svc, US_POOL_SIM);
		if (!err)
			err = us_dp_rebuild(th.dp, m->svc, US_POOL_CTL);
	}
	if (err)
		th_fail("set_state", us_dp_error(th.dp), "0");
	return err;
}

int set_share(__u32 svc, __u16 bp)
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
__u64 hstr(const char *s)
{
	if (!s || !*s)
		return 0;
	return us_hash_bytes(s, (__u32)strlen(s));
}

__u32 pred_active(__u32 svc, const char *callid)
{
	__u32 mid = MID_NONE;

	if (us_dp_table_lookup(th.dp, svc, US_POOL_ACTIVE, us_maglev_slot(hstr(callid)), &mid))
		return MID_NONE;
	return mid;
}

__u32 pred_sim(__u32 svc, const char *callid)
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


void snap_take(struct snap *s)
{
	if (th_read_stats(s->st))
		memset(s, 0, sizeof(*s));
}


/* Every counter moved by exactly what e says; RX by rx. */
void stats_expect(const struct snap *b, int rx, const struct sexp *e)
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

long long stat_delta(const struct snap *b, int s)
{
	struct snap a;

	snap_take(&a);
	return (long long)(a.st[s] - b->st[s]);
}


void msnap_take(struct msnap *s)
{
	for (size_t i = 0; i < ARRAY_SIZE(machs); i++)
		if (us_dp_read_mstats(th.dp, machs[i].mid, &s->m[i]))
			memset(&s->m[i], 0, sizeof(s->m[i]));
	s->checked = 0;
}

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
		{ MW(dropped), 1, "dropped" },
		{ MW(final_no_txn), 1, "final_no_txn" },
		{ MW(pair.out), US_O_MAX * US_O_MAX, "pair.out" },
		{ MW(pair.code_same), 1, "pair.code_same" },
		{ MW(pair.calls), 1, "pair.calls" },
		{ MW(pair.calls_fail_active), 1, "pair.calls_fail_active" },
		{ MW(pair.calls_fail_shadow), 1, "pair.calls_fail_shadow" },
		{ MW(pair.calls_fail_both), 1, "pair.calls_fail_both" },
		{ MW(ctl.out), US_O_MAX * US_O_MAX, "ctl.out" },
		{ MW(ctl.code_same), 1, "ctl.code_same" },
		{ MW(ctl.calls), 1, "ctl.calls" },
		{ MW(ctl.calls_fail_active), 1, "ctl.calls_fail_active" },
		{ MW(ctl.calls_fail_shadow), 1, "ctl.calls_fail_shadow" },
		{ MW(ctl.calls_fail_both), 1, "ctl.calls_fail_both" },
		{ MW(pair_lat_active), US_LAT_BUCKETS, "pair_lat_active" },
		{ MW(pair_lat_shadow), US_LAT_BUCKETS, "pair_lat_shadow" },
		{ MW(late), 1, "late" },
		{ MW(overdue), 1, "overdue" },
		{ MW(own), US_OWN_MAX, "own" },
		{ MW(own_active), US_OWN_MAX, "own_active" },
		{ MW(own_both), US_OWN_MAX, "own_both" },
		{ MW(own_retrans), 1, "own_retrans" },
		{ MW(dlg_rewritten), 1, "dlg_rewritten" },
		{ MW(dlg_held), 1, "dlg_held" },
		{ MW(dlg_not_sent), 1, "dlg_not_sent" },
		{ MW(dlg_acks), 1, "dlg_acks" },
		{ MW(dlg_answered), 1, "dlg_answered" },
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
 * as many histogram entries as lat_count moved by, the sum only then; the
 * pair latency histograms: as many entries as M(pair_lat_active, n) and
 * M(pair_lat_shadow, n) say, in any bucket). */
void mst_expect(struct msnap *b, __u32 mid, const struct mexp *e)
{
	long long want[MS_WORDS];
	struct us_mstats a;
	const __u64 *wa, *wb;
	long long hist = 0, phist[2] = { 0, 0 };
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
		if (w >= MW(pair_lat_active) && w < MW(pair_lat_active) + US_LAT_BUCKETS) {
			phist[0] += d;
			continue;
		}
		if (w >= MW(pair_lat_shadow) && w < MW(pair_lat_shadow) + US_LAT_BUCKETS) {
			phist[1] += d;
			continue;
		}
		if (w == MW(lat_sum_ns))
			continue;
		th_eqf(d, want[w], "mstats[%s].%s", mname(mid), mword_name(w, nb, sizeof(nb)));
	}
	th_eqf(hist, want[MW(lat_count)], "mstats[%s].sum(lat_hist)", mname(mid));
	th_eqf(phist[0], want[MW(pair_lat_active)], "mstats[%s].sum(pair_lat_active)", mname(mid));
	th_eqf(phist[1], want[MW(pair_lat_shadow)], "mstats[%s].sum(pair_lat_shadow)", mname(mid));
	if (!want[MW(lat_count)])
		th_eqf((long long)(a.lat_sum_ns - b->m[i].lat_sum_ns), 0, "mstats[%s].lat_sum_ns",
		       mname(mid));
}

/* Every machine not checked since the snapshot did not move at all. */
void mst_rest(struct msnap *b)
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

int txn_get(__u32 svc, const char *callid, const char *branch, unsigned cseq, int method,
		   struct us_txn *t)
{
	struct us_txn_key k = tkey(svc, callid, branch, cseq, method);

	return bpf_map_lookup_elem(th.fd_txns, &k, t) ? -errno : 0;
}

long txn_count(void)
{
	return th_map_count(th.fd_txns, sizeof(struct us_txn_key));
}

int dlg_get(__u32 svc, const char *callid, struct us_dlg *d)
{
	struct us_call_key k = { .callid_hash = hstr(callid), .svc_id = svc };

	return bpf_map_lookup_elem(bpf_map__fd(us_dp_skel(th.dp)->maps.us_dlgs), &k, d) ? -1 : 0;
}

int call_get(__u32 svc, const char *callid, struct us_call *c)
{
	struct us_call_key k;

	memset(&k, 0, sizeof(k));
	k.callid_hash = hstr(callid);
	k.svc_id = svc;
	return bpf_map_lookup_elem(th.fd_calls, &k, c) ? -errno : 0;
}

struct us_event evs[16];
static int nev;

static int ev_cb(void *ctx, void *data, size_t sz)
{
	(void)ctx;
	if (nev < (int)ARRAY_SIZE(evs) && sz >= sizeof(struct us_event))
		memcpy(&evs[nev], data, sizeof(struct us_event));
	nev++;
	return 0;
}

int ev_drain(void)
{
	nev = 0;
	th_events_drain();
	return nev;
}

int set_cfg(__u32 rate, __u32 burst)
{
	struct us_cfg c = { .event_rate = rate, .event_burst = burst };
	int err = us_dp_set_cfg(th.dp, &c);

	if (err)
		th_fail("set_cfg", us_dp_error(th.dp), "0");
	return err;
}

/* ---- frames ---------------------------------------------------------------- */

int fam_of(const char *addr)
{
	return strchr(addr, ':') ? AF_INET6 : AF_INET;
}

/* A frame from the client (cli0 side) to addr:dport. */
size_t frame_client(__u8 *buf, int nvlan, const char *daddr, __u16 dport, const void *pl,
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
size_t frame_host(__u8 *buf, int host, int nvlan, const char *saddr, __u16 sport,
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
size_t frame_resp(__u8 *buf, int host, __u32 svc, const void *pl, size_t n)
{
	const char *vip = svc_vip[svc];
	const struct testnet_host *c = &testnet.hosts[TN_CLIENT];

	return frame_host(buf, host, 0, vip, 5060, fam_of(vip) == AF_INET6 ? c->v6 : c->v4, 5060,
			  pl, n);
}

/* ---- running ----------------------------------------------------------------- */

int check_str(const char *what, const char *a, const char *e)
{
	if (!strcmp(a, e))
		return 1;
	th_fail(what, a, e);
	return 0;
}

int check_run(const struct th_res *r)
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
void out_same(const struct th_res *r, const __u8 *in, size_t len)
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
void out_fwd(const struct th_res *r, const __u8 *in, size_t len, const __u8 *dmac,
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

/* The plan of mirror sequence number seq, from whichever CPU the run
 * took (the plans are per CPU). 0 and *p, or -1. */
int plan_get(__u32 seq, struct us_plan *p)
{
	int fd = bpf_map__fd(us_dp_skel(th.dp)->maps.us_plans), ncpu = libbpf_num_possible_cpus();
	__u32 slot = seq & (US_PLANS - 1);
	struct us_plan *v;
	int rc = -1;

	if (ncpu <= 0)
		return -1;
	v = calloc(ncpu, sizeof(*v));
	if (!v)
		return -1;
	if (!bpf_map_lookup_elem(fd, &slot, v)) {
		for (int c = 0; c < ncpu; c++) {
			if (v[c].seq == seq && v[c].ncopies) {
				*p = v[c];
				rc = 0;
				break;
			}
		}
	}
	free(v);
	return rc;
}

/* the frame unchanged behind a struct us_meta, and the copies' plan: the
 * active machine's as it is, the simulation machine's in mode sim_mode */
__u32 out_meta_mode(const struct th_res *r, const __u8 *in, size_t len, __u32 active, __u32 sim,
		    int sim_mode)
{
	struct us_meta md;
	struct us_plan p;
	int aif = mach_ifc(active), sif = mach_ifc(sim);

	if (!EQ("out.meta_len", r->meta, sizeof(md)) || !EQ("out.len", r->len, len + sizeof(md)))
		return 0;
	memcpy(&md, r->out, sizeof(md));
	EQ("meta.flags&SHARED", !!(md.flags & US_META_SHARED), aif == sif);
	if (memcmp(r->out + sizeof(md), in, len))
		th_fail("out.frame", "changed", "the frame as it came in");
	if (plan_get(md.seq, &p)) {
		th_fail("plans[seq]", "missing", "the copies' plan");
		return md.seq;
	}
	EQ("plan.ncopies", p.ncopies, 2);
	check_mac("plan.active.dmac", p.c[0].dmac, mach_mac(active));
	check_mac("plan.active.smac", p.c[0].smac, testnet.ifs[aif].mac);
	EQ("plan.active.ifindex", p.c[0].ifindex, testnet.ifs[aif].ifindex);
	EQ("plan.active.mode", p.c[0].mode, US_CP_AS_IS);
	check_mac("plan.sim.dmac", p.c[1].dmac, mach_mac(sim));
	check_mac("plan.sim.smac", p.c[1].smac, testnet.ifs[sif].mac);
	EQ("plan.sim.ifindex", p.c[1].ifindex, testnet.ifs[sif].ifindex);
	EQ("plan.sim.mode", p.c[1].mode, sim_mode);
	EQ("plan.control.ifindex", p.c[2].ifindex, 0);
	EQ("plan.family", p.family, fam_of(svc_vip[mach_of(active)->svc]));
	return md.seq;
}

__u32 out_meta(const struct th_res *r, const __u8 *in, size_t len, __u32 active, __u32 sim)
{
	return out_meta_mode(r, in, len, active, sim, US_CP_AS_IS);
}

/* ---- SIP texts ------------------------------------------------------------- */

char sipbuf[8192];

size_t sipf(char *buf, size_t cap, const struct sip_msg *m)
{
	size_t n = sip_build(buf, cap, m);

	if (!n)
		th_fail("sip_build", "0", "a message");
	return n;
}

size_t req_text(char *buf, const char *method, const char *callid, const char *branch,
		       unsigned cseq)
{
	struct sip_msg m = {
		.method = method, .callid = callid, .branch = branch, .cseq = cseq,
		.body_len = !strcmp(method, "INVITE") ? 300 : 0,
	};

	return sipf(buf, sizeof(sipbuf), &m);
}

size_t resp_text(char *buf, int code, const char *callid, const char *branch,
			unsigned cseq, const char *cseq_method)
{
	struct sip_msg m = {
		.status = code, .callid = callid, .branch = branch, .cseq = cseq,
		.cseq_method = cseq_method,
	};

	return sipf(buf, sizeof(sipbuf), &m);
}

/* ---- sending with the usual expectations ------------------------------------ */

__u8 fin[FRAME_MAX];
struct th_res R;

/*
 * A client's message of a call of svc: forwarded to machine `active`
 * (and, when sim is not MID_NONE, mirrored to sim). Checks the action and
 * the output; returns the machine the frame went to (by its MAC), or
 * MID_NONE; *seq gets the metadata sequence number when mirrored.
 */
__u32 send_client(__u32 svc, const char *text, size_t n, __u32 active, __u32 sim,
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
	/* the first machine of that MAC (c1 shares a3's host, after it) */
	for (size_t i = 0; i < ARRAY_SIZE(machs) && got == MID_NONE; i++)
		if (machs[i].svc == svc && !memcmp(R.out, mach_mac(machs[i].mid), 6))
			got = machs[i].mid;
	out_fwd(&R, fin, len, mach_mac(active), testnet.ifs[mach_ifc(active)].mac);
	return got;
}

/* A machine's message to the client: forwarded (active) or dropped (sim). */
void send_machine(__u32 mid, const char *text, size_t n, int want)
{
	const struct mach *m = mach_of(mid);
	size_t len = frame_resp(fin, m->host, m->svc, text, n);

	th_run(th.fd_machine, testnet.hosts[m->host].ifc, fin, len, &R);
	if (!check_run(&R) || !check_ret(R.ret, want))
		return;
	if (want == XDP_REDIRECT)
		out_fwd(&R, fin, len, testnet.hosts[TN_CLIENT].mac, testnet.ifs[TN_CLI].mac);
}

char txbuf[FRAME_MAX + 1];

/* A shadow machine's message answered on the caller's behalf: XDP_TX of a
 * well-formed frame back to the machine (MACs, addresses and ports
 * swapped, lengths and checksums right); its SIP text in txbuf (NUL
 * ended). 0 or -1 (reported). */
int send_machine_tx(__u32 mid, const char *text, size_t n)
{
	const struct mach *m = mach_of(mid);
	const struct testnet_host *c = &testnet.hosts[TN_CLIENT];
	size_t len = frame_resp(fin, m->host, m->svc, text, n);
	const char *vip = svc_vip[m->svc];
	struct pkt_view v;
	char err[160];

	txbuf[0] = 0;
	th_run(th.fd_machine, testnet.hosts[m->host].ifc, fin, len, &R);
	if (!check_run(&R) || !check_ret(R.ret, XDP_TX))
		return -1;
	if (!EQ("out.meta_len", R.meta, 0))
		return -1;
	if (pkt_parse(R.out, R.len, &v, err, sizeof(err))) {
		th_fail("out.frame", err, "a well-formed UDP frame");
		return -1;
	}
	check_mac("out.dmac (the machine)", v.dmac, testnet.hosts[m->host].mac);
	check_mac("out.smac (the balancer)", v.smac, testnet.ifs[testnet.hosts[m->host].ifc].mac);
	EQs("out.saddr (the caller)", v.saddr, fam_of(vip) == AF_INET6 ? c->v6 : c->v4);
	EQs("out.daddr (the VIP)", v.daddr, vip);
	EQ("out.sport", v.sport, 5060);
	EQ("out.dport", v.dport, 5060);
	memcpy(txbuf, R.out + v.payload_off, v.payload_len);
	txbuf[v.payload_len] = 0;
	return 0;
}

/* Send a client message; only the mirror decision is checked (and the
 * frame goes to the machine the call is on). Returns 1 if mirrored. */
int send_mirror_check(__u32 svc, const char *text, size_t n, __u32 active, __u32 sim,
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

/* ---- single-packet cases ------------------------------------------------------ */


int method_idx(const char *m)
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

	len = pcase_frame(c, buf, callid, branch);
	if (!len) {
		th_fail("frame", "0", "built");
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
	if (!check_run(&R))
		return;
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
			EQ("txn.mid[active]", t.mid[0], active);
			EQ("txn.mid[sim]", t.mid[1], MID_NONE);
			EQ("txn.mid[control]", t.mid[2], MID_NONE);
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
}

void run_pcases(const struct pcase *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (th_subtest("%s", v[i].name))
			run_pcase(&v[i]);
}

/* ---- the fixture: a fresh data plane per test ------------------------------------ */

static int once(void)
{
	int err;

	th_start(PIN_PREFIX);
	err = testnet_enter();
	return err ? th_setup_fail("testnet_enter", err) : 0;
}

static int setup(void)
{
	struct us_dp_opts o = { .calls_max = 16384, .txns_max = 16384 };
	struct us_cfg cfg = { .event_rate = 1000000, .event_burst = 100 };
	int err;

	memcpy(svc_share, svc_share0, sizeof(svc_share));
	nev = 0;
	if ((err = th_open_dp(PIN_PREFIX, &o)))
		return err;
	for (__u32 s = 0; s < NSVC; s++)
		if ((err = th_set_service(s, svc_vip[s], svc_share[s])))
			return th_setup_fail("us_dp_set_service", err);
	for (size_t i = 0; i < ARRAY_SIZE(machs); i++) {
		const struct mach *m = &machs[i];

		if (!m->later && (err = set_machine(m, m->state)))
			return th_setup_fail("us_dp_set_machine", err);
		/* the control machine shares a3's host: its MAC is mapped when
		 * control.c configures it */
		if (m->host >= 0 && m->mid != M_C1 && (err = th_set_mac(m->mid, m->host)))
			return th_setup_fail("us_dp_set_mac", err);
	}
	return th_setup_tables(NSVC, &cfg, ev_cb);
}

int main(int argc, char **argv)
{
	static const struct th_fixture fx = { .once = once, .setup = setup,
					      .teardown = th_dp_close };

	return th_main(argc, argv, &fx);
}
