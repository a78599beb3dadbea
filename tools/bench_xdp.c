// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Per-packet cost of each data-plane path, by BPF_PROG_TEST_RUN.
 *
 * Two figures per path:
 *  - steady: one packet run `repeat` times in the kernel; the kernel's
 *    average. For requests and responses this is the path of a known call
 *    and transaction (a retransmission), since the frame is the same.
 *  - cold: a different call each time (a new Call-ID, so a new call and
 *    transaction, or a first final response), one run per syscall, so
 *    with caches cooled by the syscall in between: an upper bound. The
 *    median of the kernel's per-run durations minus the same figure for
 *    an empty XDP program (the timer's own cost).
 * Each figure is the median of RUNS runs; the spread is max - min.
 *
 * The floor (bpf/floor.bpf.c) reads every byte of the request path's
 * INVITE once, 8 bytes a load, and passes it: the least any program pays
 * that must see the whole message. It runs in the same run, steady and
 * cold as the paths do, and every path is also shown as a multiple of it
 * ("x floor"), with the targets of issue 14 met or missed. Its xor of the
 * frame is checked against the driver's, so the floor cannot read less.
 *
 * Cost against the INVITE's size (400, 900, 1,400 bytes of SIP and 4,096,
 * US_SIP_MAX, a multi-buffer frame in the test run) and against its header
 * lines (9, 16, 32 at 1,400 bytes): steady, the request path (not
 * mirrored) and the floor on the same frame.
 *
 * Dialog translation (a mirrored call whose dialog both machines
 * confirmed, with To-tags of different lengths), cold only, for the
 * frame changes in place:
 *  - request_rewritten:   the client program on the caller's in-dialog
 *                         BYE (it plans the simulation copy's rewrite);
 *  - egress_rewritten:    the egress program making that copy (the
 *                         payload rebuilt, lengths and checksums);
 *  - answer_built:        the machine program answering a simulation
 *                         machine's own BYE on the caller's behalf (XDP_TX).
 *
 * Usage: bench_xdp [-r RUNS] [-n REPEAT] [-u UNIQUE] [-j FILE]
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/bpf.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "dp.h"
#include "harness.h"
#include "pktbuild.h"
#include "testnet.h"
#include "floor.skel.h"
#include "understudy.skel.h"
#include "understudy/floor.h"

#define MAX_RUNS 64
#define FRAME 2048

/* response_active: an active machine's answer in a mirrored call (pairing,
 * deadlines, dialog learning); response_plain: in a call not mirrored, the
 * path of most calls */
enum bpath { P_FLOOR, P_NON_SERVICE, P_REQUEST, P_REQUEST_MIRRORED, P_RESP_ACTIVE, P_RESP_SIM,
	     P_RESP_PLAIN, P_MAX };

static const char *const path_name[P_MAX] = {
	"floor", "non_service", "request", "request_mirrored", "response_active", "response_simulation",
	"response_plain",
};

enum dpath { D_REQUEST, D_EGRESS, D_ANSWER, D_MAX };

static const char *const dpath_name[D_MAX] = {
	"request_rewritten", "egress_rewritten", "answer_built",
};

struct opts {
	int runs;
	__u32 repeat;
	int unique;
	const char *json;
};

static int empty_fd = -1;
static struct floor_bpf *fl;
static int floor_fd = -1;

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* One test run, as received on testnet interface ifc; returns the kernel's
 * average duration per repeat in ns. */
static int run(int prog_fd, const __u8 *pkt, size_t len, int ifc, __u32 repeat,
	       __u32 *action, double *ns)
{
	static struct th_res r;

	th_run_repeat(prog_fd, ifc, pkt, len, repeat, &r);
	if (r.err)
		return r.err;
	*action = r.ret;
	*ns = r.duration;
	return 0;
}

/* A SIP frame: request from the client, or response from a machine. */
static size_t frame(__u8 *buf, enum bpath p, int call, enum testnet_hostid from)
{
	char sip[FRAME], callid[64], branch[64];
	struct pkt_l2l4 l = { .family = AF_INET, .sport = 5060, .dport = 5060 };
	const struct testnet_host *c = &testnet.hosts[TN_CLIENT];
	size_t n;

	snprintf(callid, sizeof(callid), "bench-%d-%d@198.18.0.1", p == P_REQUEST_MIRRORED, call);
	snprintf(branch, sizeof(branch), "z9hG4bK-bench-%d-%d", p == P_REQUEST_MIRRORED, call);
	if (p == P_NON_SERVICE) {
		memcpy(l.smac, c->mac, 6);
		memcpy(l.dmac, testnet.ifs[TN_CLI].mac, 6);
		l.saddr = c->v4;
		l.daddr = testnet.vip4;
		l.dport = 53;
		n = sip_typical_invite(sip, sizeof(sip), callid, branch);
	} else if (p == P_REQUEST || p == P_REQUEST_MIRRORED || p == P_FLOOR) {
		memcpy(l.smac, c->mac, 6);
		memcpy(l.dmac, testnet.ifs[TN_CLI].mac, 6);
		l.saddr = c->v4;
		l.daddr = testnet.vip4;
		n = sip_typical_invite(sip, sizeof(sip), callid, branch);
	} else {
		struct sip_msg m = {
			.status = 200, .reason = "OK", .callid = callid, .branch = branch,
			.cseq = 1, .cseq_method = "INVITE", .body_len = 300,
		};

		int mirrored = p != P_RESP_PLAIN;

		snprintf(callid, sizeof(callid), "bench-%d-%d@198.18.0.1", mirrored, call);
		snprintf(branch, sizeof(branch), "z9hG4bK-bench-%d-%d", mirrored, call);
		memcpy(l.smac, testnet.hosts[from].mac, 6);
		memcpy(l.dmac, testnet.ifs[testnet.hosts[from].ifc].mac, 6);
		l.saddr = testnet.vip4;
		l.daddr = c->v4;
		n = sip_build(sip, sizeof(sip), &m);
	}
	return pkt_build(buf, FRAME, &l, sip, n);
}

static int setup(void)
{
	struct us_dp_opts o = { .verbose = getenv("US_VERBOSE") != NULL };
	const enum testnet_hostid hosts[3] = { TN_A1, TN_A2, TN_S1 };
	int err;

	err = th_dp_open("understudy-bench", &o);
	if (err) {
		fprintf(stderr, "bench: loading the data plane failed: %s\n", strerror(-err));
		return err;
	}
	err = us_dp_set_service(th.dp, 0, AF_INET, testnet.vip4_addr, 5060, 0);
	for (int i = 0; i < 3 && !err; i++) {
		const struct testnet_host *h = &testnet.hosts[hosts[i]];
		struct us_machine_cfg m = {
			.id = i, .svc_id = 0, .family = AF_INET, .weight = 1,
			.state = i < 2 ? US_MS_ACTIVE : US_MS_SIMULATION,
		};

		memcpy(m.addr, h->addr4, 16);
		err = us_dp_set_machine(th.dp, &m);
		if (!err)
			err = th_set_mac(i, hosts[i]);
	}
	if (!err)
		err = us_dp_add_machine_iface(th.dp, testnet.ifs[TN_MACH].name);
	if (!err)
		err = us_dp_rebuild(th.dp, 0, US_POOL_ACTIVE);
	if (!err)
		err = us_dp_rebuild(th.dp, 0, US_POOL_SIM);
	if (err) {
		fprintf(stderr, "bench: configuring the data plane failed: %s\n",
			us_dp_error(th.dp));
		return err;
	}
	/* a repeated run keeps the rewritten frame: the active machine's
	 * response then carries the balancer's MAC as its source; map that
	 * to the machine too, so every repeat takes the same path */
	{
		struct us_mac_key k = { .ifindex = testnet.ifs[TN_MACH].ifindex };
		__u32 mid = 0;

		memcpy(k.mac, testnet.ifs[TN_CLI].mac, 6);
		err = bpf_map_update_elem(bpf_map__fd(th.sk->maps.us_macs), &k, &mid, 0);
		if (err)
			return -errno;
	}
	{
		/* the timer's own cost: an empty XDP program */
		const struct bpf_insn insns[] = {
			{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = XDP_PASS },
			{ .code = BPF_JMP | BPF_EXIT },
		};

		empty_fd = bpf_prog_load(BPF_PROG_TYPE_XDP, "us_empty", "GPL", insns, 2, NULL);
		if (empty_fd < 0)
			return empty_fd;
	}
	fl = floor_bpf__open_and_load();
	if (!fl) {
		err = -errno;
		fprintf(stderr, "bench: loading the floor (floor.bpf.o) failed: %s\n",
			strerror(-err));
		return err;
	}
	floor_fd = bpf_program__fd(fl->progs.floor_read);
	return 0;
}

struct result {
	double steady[MAX_RUNS], first[MAX_RUNS];
	double steady_med, steady_spread, first_med, first_spread;
	__u32 action;
};

static const char *action_name(__u32 a)
{
	static const char *const n[] = { "ABORTED", "DROP", "PASS", "TX", "REDIRECT" };

	return a < 5 ? n[a] : "?";
}

/* Median over `unique` single runs of different calls, minus the empty program's. */
static int first_sighting(enum bpath p, int prog_fd, int ifc, int unique, int base,
			  double *out)
{
	static double d[100000], e[100000];
	__u8 pkt[FRAME];
	__u32 act;
	int err;

	if (unique > 100000)
		unique = 100000;
	for (int i = 0; i < unique; i++) {
		size_t n;

		if (p == P_RESP_ACTIVE || p == P_RESP_SIM || p == P_RESP_PLAIN) {
			/* the request first, so that the response is a first final */
			n = frame(pkt, p == P_RESP_PLAIN ? P_REQUEST : P_REQUEST_MIRRORED, base + i,
				  TN_CLIENT);
			err = run(th.fd_client, pkt, n, TN_CLI, 1, &act, &d[i]);
			if (err)
				return err;
		}
		n = frame(pkt, p, base + i, p == P_RESP_SIM ? TN_S1 : TN_A1);
		err = run(prog_fd, pkt, n, ifc, 1, &act, &d[i]);
		if (!err)
			err = run(empty_fd, pkt, n, ifc, 1, &act, &e[i]);
		if (err)
			return err;
	}
	*out = median(d, unique) - median(e, unique);
	return 0;
}

/* ---- dialog translation ----------------------------------------------------------- */

static size_t sip_frame(__u8 *buf, const char *sip, size_t n, enum testnet_hostid from)
{
	struct pkt_l2l4 l = { .family = AF_INET, .sport = 5060, .dport = 5060 };
	const struct testnet_host *c = &testnet.hosts[TN_CLIENT];

	if (from == TN_CLIENT) {
		memcpy(l.smac, c->mac, 6);
		memcpy(l.dmac, testnet.ifs[TN_CLI].mac, 6);
		l.saddr = c->v4;
		l.daddr = testnet.vip4;
	} else {
		memcpy(l.smac, testnet.hosts[from].mac, 6);
		memcpy(l.dmac, testnet.ifs[testnet.hosts[from].ifc].mac, 6);
		l.saddr = testnet.vip4;
		l.daddr = c->v4;
	}
	return pkt_build(buf, FRAME, &l, sip, n);
}

/* Call i's dialog, confirmed by both machines: INVITE, the active
 * machine's 200 (tag "a-<i>") and the simulation machine's (a longer tag). */
static int dialog_open(int i)
{
	char sip[FRAME], cid[64], tag[96];
	__u8 pkt[FRAME];
	__u32 act;
	double ns;
	size_t n;
	int err;

	struct us_call_key ck = { 0 };
	struct us_call call;
	enum testnet_hostid active;

	snprintf(cid, sizeof(cid), "dlg-%d@198.18.0.1", i);
	n = sip_typical_invite(sip, sizeof(sip), cid, "z9hG4bK-dlg-inv");
	err = run(th.fd_client, pkt, sip_frame(pkt, sip, n, TN_CLIENT), TN_CLI, 1, &act, &ns);
	/* the active machine the call went to answers (machines 0 and 1: a1, a2) */
	ck.callid_hash = us_hash_bytes(cid, strlen(cid));
	if (!err && bpf_map_lookup_elem(bpf_map__fd(th.sk->maps.us_calls), &ck, &call))
		err = -errno;
	active = !err && call.active_mid == 1 ? TN_A2 : TN_A1;
	for (int k = 0; k < 2 && !err; k++) {
		struct sip_msg m = {
			.status = 200, .reason = "OK", .callid = cid, .branch = "z9hG4bK-dlg-inv",
			.cseq = 1, .cseq_method = "INVITE", .body_len = 300, .to_tag = tag,
		};

		snprintf(tag, sizeof(tag), k ? "simulation-%d-a-longer-tag-of-its-own" : "a-%d", i);
		n = sip_build(sip, sizeof(sip), &m);
		err = run(th.fd_machine, pkt, sip_frame(pkt, sip, n, k ? TN_S1 : active), TN_MACH, 1,
			  &act, &ns);
	}
	return err;
}

/* The caller's BYE in call i (the active machine's tag), or the simulation
 * machine's own BYE (to the caller). */
static size_t dialog_bye(__u8 *pkt, int i, bool from_sim)
{
	char sip[FRAME], cid[64], tag[96];
	struct sip_msg m = {
		.method = "BYE", .callid = cid, .branch = "z9hG4bK-dlg-bye", .cseq = 2,
		.to_tag = tag,
	};
	size_t n;

	snprintf(cid, sizeof(cid), "dlg-%d@198.18.0.1", i);
	snprintf(tag, sizeof(tag), from_sim ? "1928301774" : "a-%d", i);
	n = sip_build(sip, sizeof(sip), &m);
	return sip_frame(pkt, sip, n, from_sim ? TN_S1 : TN_CLIENT);
}

/* Cold cost of each dialog path over `unique` calls (median minus the
 * empty program's), in out[D_MAX]. */
static int dialog_costs(int unique, int base, double *out)
{
	static double d[D_MAX][20000], e[20000];
	static struct th_res r, er;
	__u8 pkt[FRAME];
	__u32 act;
	double ns = 0;
	int err = 0;

	if (unique > 20000)
		unique = 20000;
	for (int i = 0; i < unique && !err; i++) {
		struct us_plan p;
		size_t n;

		err = dialog_open(base + i);
		if (err)
			break;
		n = dialog_bye(pkt, base + i, false);
		th_run(th.fd_client, TN_CLI, pkt, n, &r);
		if (r.err || r.ret != XDP_REDIRECT || r.meta != sizeof(struct us_meta)) {
			__u64 st[US_ST_MAX];

			fprintf(stderr, "bench: the caller's BYE: %s, %u bytes of metadata\n",
				action_name(r.ret), r.meta);
			us_dp_read_stats(th.dp, st);
			for (int q = 0; q < US_ST_MAX; q++)
				if (st[q])
					fprintf(stderr, "  %s %llu\n", us_stat_name(q),
						(unsigned long long)st[q]);
			return r.err ? r.err : -EPROTO;
		}
		d[D_REQUEST][i] = r.duration;
		/* the copies in group order, on this CPU: the active's, then
		 * the simulation's (timed) */
		{
			struct us_meta md;
			__u32 slot;
			static struct us_plan pv[512];

			memcpy(&md, r.out, sizeof(md));
			slot = md.seq & (US_PLANS - 1);
			if (bpf_map_lookup_elem(bpf_map__fd(th.sk->maps.us_plans), &slot, pv))
				return -errno;
			p = pv[0];
			for (int c = 0; c < libbpf_num_possible_cpus() && c < 512; c++)
				if (pv[c].seq == md.seq)
					p = pv[c];
		}
		th_run_meta(th.fd_egress_t, (int)p.c[0].ifindex, r.out, r.len, r.meta, &er);
		th_run_meta(th.fd_egress_t, (int)p.c[1].ifindex, r.out, r.len, r.meta, &er);
		if (er.err || er.ret != XDP_PASS || p.c[1].mode != US_CP_EDIT) {
			fprintf(stderr, "bench: the simulation copy: %s, mode %u\n",
				action_name(er.ret), p.c[1].mode);
			return er.err ? er.err : -EPROTO;
		}
		d[D_EGRESS][i] = er.duration;
		n = dialog_bye(pkt, base + i, true);
		th_run(th.fd_machine, TN_MACH, pkt, n, &r);
		if (r.err || r.ret != XDP_TX) {
			fprintf(stderr, "bench: the simulation machine's BYE: %s\n",
				action_name(r.ret));
			return r.err ? r.err : -EPROTO;
		}
		d[D_ANSWER][i] = r.duration;
		err = run(empty_fd, pkt, n, TN_MACH, 1, &act, &ns);
		e[i] = ns;
	}
	if (err)
		return err;
	for (int k = 0; k < D_MAX; k++)
		out[k] = median(d[k], unique) - median(e, unique);
	return 0;
}

/* ---- the floor, and cost against size and header lines ------------------------------ */

/* The xor floor_read computes of frame f whose linear part is lin bytes
 * (the test run's split): the same loads, grouped as include/understudy/floor.h
 * says, little-endian as the program's loads on this host. */
static __u64 floor_expect(const __u8 *f, size_t len, size_t lin)
{
	__u64 x = 0, w;
	__u32 v4;
	__u16 v2;
	size_t o = 0;

	for (; o + 32 <= lin && o < FLOOR_LINEAR_MAX; o += 32)
		for (int k = 0; k < 4; k++) {
			memcpy(&w, f + o + 8 * k, 8);
			x ^= w;
		}
	for (int k = 0; k < 3 && o + 8 <= lin; k++, o += 8) {
		memcpy(&w, f + o, 8);
		x ^= w;
	}
	if (o + 4 <= lin) {
		memcpy(&v4, f + o, 4);
		x ^= v4;
		o += 4;
	}
	if (o + 2 <= lin) {
		memcpy(&v2, f + o, 2);
		x ^= v2;
		o += 2;
	}
	if (o + 1 <= lin)
		x ^= f[o++];
	for (; o < len; o += FLOOR_CHUNK) {
		__u64 b[FLOOR_CHUNK / 8] = { 0 };

		memcpy(b, f + o, len - o < FLOOR_CHUNK ? len - o : FLOOR_CHUNK);
		for (int k = 0; k < FLOOR_CHUNK / 8; k++)
			x ^= b[k];
	}
	return x;
}

static int floor_checked;

/* issue 14's targets for the data plane, steady, in the same run */
static const struct target {
	enum bpath path;
	bool ns;                /* limit in ns; else in multiples of the floor */
	double limit;
} targets[] = {
	{ P_REQUEST, false, 1.5 },
	{ P_RESP_ACTIVE, false, 1.5 },
	{ P_REQUEST_MIRRORED, false, 2.0 },
	{ P_NON_SERVICE, true, 30 },
};

#define NTARGETS (int)(sizeof(targets) / sizeof(targets[0]))

/* After a run of the floor on frame f: did it read every byte, once? */
static int floor_check(const __u8 *f, size_t len)
{
	__u64 want = floor_expect(f, len, fl->bss->floor_linear);

	if (fl->bss->floor_bytes != len || fl->bss->floor_sum != want) {
		fprintf(stderr, "bench: the floor read %u of %zu bytes (linear part %u), xor %#llx, "
			"expected %#llx\n", fl->bss->floor_bytes, len, fl->bss->floor_linear,
			(unsigned long long)fl->bss->floor_sum, (unsigned long long)want);
		return -EPROTO;
	}
	floor_checked++;
	return 0;
}

/* An INVITE of `lines` header lines (9: the least with a body, sip_build's
 * own; more are X-Bench-NN lines) padded by its body to sip_bytes bytes of
 * SIP; the frame from the client to the service. */
static size_t shaped_invite(__u8 *buf, size_t cap, size_t sip_bytes, int lines, int call)
{
	static char sip[US_SIP_MAX + 64], extra[2048];
	char callid[64], branch[64];
	struct sip_msg m = {
		.method = "INVITE", .callid = callid, .branch = branch, .cseq = 1,
		.body_len = 385, .extra_headers = extra,
	};
	struct pkt_l2l4 l = { .family = AF_INET, .sport = 5060, .dport = 5060 };
	size_t n = 0, len = 0;

	snprintf(callid, sizeof(callid), "bench-shape-%d@198.18.0.1", call);
	snprintf(branch, sizeof(branch), "z9hG4bK-shape-%d", call);
	extra[0] = 0;
	for (int i = 9; i < lines; i++)
		len += snprintf(extra + len, sizeof(extra) - len, "X-Bench-%02d: value-%02d\r\n",
				i, i);
	/* the body's length changes the Content-Length's digits: a few tries */
	for (int t = 0; t < 3 && n != sip_bytes; t++) {
		n = sip_build(sip, sizeof(sip), &m);
		if (!n || n - m.body_len > sip_bytes)
			return 0;
		m.body_len += sip_bytes - n;
	}
	if (n != sip_bytes)
		return 0;
	memcpy(l.smac, testnet.hosts[TN_CLIENT].mac, 6);
	memcpy(l.dmac, testnet.ifs[TN_CLI].mac, 6);
	l.saddr = testnet.hosts[TN_CLIENT].v4;
	l.daddr = testnet.vip4;
	return pkt_build(buf, cap, &l, sip, n);
}

/* the shapes: sizes at the least header lines, header lines at 1,400 bytes */
static const struct shape {
	const char *series, *key;
	size_t sip_bytes;
	int lines;
} shapes[] = {
	{ "ns_by_size", "400", 400, 9 },
	{ "ns_by_size", "900", 900, 9 },
	{ "ns_by_size", "1400", 1400, 9 },
	{ "ns_by_size", "4096", US_SIP_MAX, 9 },
	{ "ns_by_header_lines", "9", 1400, 9 },
	{ "ns_by_header_lines", "16", 1400, 16 },
	{ "ns_by_header_lines", "32", 1400, 32 },
};

#define NSHAPES (int)(sizeof(shapes) / sizeof(shapes[0]))

struct shape_res {
	double req[MAX_RUNS], flo[MAX_RUNS];
	double req_med, flo_med;
	size_t frame_bytes, linear_bytes;
	__u32 req_action;
};

/* Steady cost of the request path (a call not mirrored) and of the floor
 * on each shape, one new call per run. */
static int shape_costs(const struct opts *o, int base, struct shape_res *sr)
{
	static __u8 pkt[FLOOR_FRAME_MAX];
	__u32 act;
	int err;

	err = us_dp_set_share(th.dp, 0, 0);
	for (int k = 0; k < NSHAPES && !err; k++) {
		for (int r = 0; r < o->runs && !err; r++) {
			size_t n = shaped_invite(pkt, sizeof(pkt), shapes[k].sip_bytes,
						 shapes[k].lines, base + k * MAX_RUNS + r);

			if (!n) {
				fprintf(stderr, "bench: cannot build a %zu-byte INVITE of %d header lines\n",
					shapes[k].sip_bytes, shapes[k].lines);
				return -EINVAL;
			}
			sr[k].frame_bytes = n;
			err = run(th.fd_client, pkt, n, TN_CLI, o->repeat, &sr[k].req_action,
				  &sr[k].req[r]);
			if (!err)
				err = run(floor_fd, pkt, n, TN_CLI, o->repeat, &act, &sr[k].flo[r]);
			if (!err)
				err = floor_check(pkt, n);
			sr[k].linear_bytes = fl->bss->floor_linear;
		}
		if (err)
			break;
		sr[k].req_med = median(sr[k].req, o->runs);
		sr[k].flo_med = median(sr[k].flo, o->runs);
	}
	return err;
}

int main(int argc, char **argv)
{
	struct opts o = { .runs = 5, .repeat = 200000, .unique = 20000, .json = NULL };
	static struct result res[P_MAX];
	static struct shape_res sres[NSHAPES];
	double fsteady, fcold;
	size_t floor_frame = 0;
	double dres[MAX_RUNS][D_MAX], dmed[D_MAX], dspread[D_MAX];
	int err, c, base = 0;
	FILE *js = NULL;

	while ((c = getopt(argc, argv, "r:n:u:j:h")) != -1) {
		switch (c) {
		case 'r':
			o.runs = atoi(optarg);
			break;
		case 'n':
			o.repeat = strtoul(optarg, NULL, 10);
			break;
		case 'u':
			o.unique = atoi(optarg);
			break;
		case 'j':
			o.json = optarg;
			break;
		default:
			fprintf(stderr, "usage: %s [-r RUNS(1..%d)] [-n REPEAT] [-u UNIQUE] [-j FILE]\n",
				argv[0], MAX_RUNS);
			return c == 'h' ? EXIT_SUCCESS : EXIT_FAILURE;
		}
	}
	if (o.runs < 1 || o.runs > MAX_RUNS || o.repeat < 1 || o.unique < 1) {
		fprintf(stderr, "bench: -r must be 1..%d, -n and -u positive\n", MAX_RUNS);
		return EXIT_FAILURE;
	}
	if (testnet_enter())
		return EXIT_FAILURE;
	err = setup();
	if (err)
		goto out;

	for (int p = 0; p < P_MAX; p++) {
		int machine = p == P_RESP_ACTIVE || p == P_RESP_SIM || p == P_RESP_PLAIN;
		int fd = p == P_FLOOR ? floor_fd : machine ? th.fd_machine : th.fd_client;
		int ifc = machine ? TN_MACH : TN_CLI;
		__u8 pkt[FRAME];
		size_t n;

		err = us_dp_set_share(th.dp, 0,
				      p == P_REQUEST_MIRRORED || (machine && p != P_RESP_PLAIN) ?
				      US_SHARE_MAX : 0);
		if (err)
			goto out;
		for (int r = 0; r < o.runs; r++) {
			if (machine) {
				/* the request of the call first */
				n = frame(pkt, p == P_RESP_PLAIN ? P_REQUEST : P_REQUEST_MIRRORED,
					  1000000 + r, TN_CLIENT);
				err = run(th.fd_client, pkt, n, TN_CLI, 1, &res[p].action,
					  &res[p].steady[r]);
				if (err)
					goto out;
			}
			n = frame(pkt, p, 1000000 + r, p == P_RESP_SIM ? TN_S1 : TN_A1);
			if (p == P_FLOOR)
				floor_frame = n;
			err = run(fd, pkt, n, ifc, o.repeat, &res[p].action, &res[p].steady[r]);
			if (!err && p == P_FLOOR)
				err = floor_check(pkt, n);
			if (!err)
				err = first_sighting(p, fd, ifc, o.unique / o.runs, base, &res[p].first[r]);
			base += o.unique;
			if (err)
				goto out;
		}
		res[p].steady_med = median(res[p].steady, o.runs);
		res[p].steady_spread = res[p].steady[o.runs - 1] - res[p].steady[0];
		res[p].first_med = median(res[p].first, o.runs);
		res[p].first_spread = res[p].first[o.runs - 1] - res[p].first[0];
	}

	/* dialog translation: every call mirrored */
	err = us_dp_set_share(th.dp, 0, US_SHARE_MAX);
	for (int r = 0; r < o.runs && !err; r++) {
		err = dialog_costs(o.unique / o.runs < 2000 ? o.unique / o.runs : 2000, 5000000 + base,
				   dres[r]);
		base += o.unique;
	}
	if (err)
		goto out;
	for (int k = 0; k < D_MAX; k++) {
		double v[MAX_RUNS];

		for (int r = 0; r < o.runs; r++)
			v[r] = dres[r][k];
		dmed[k] = median(v, o.runs);
		dspread[k] = v[o.runs - 1] - v[0];
	}

	err = shape_costs(&o, 9000000 + base, sres);
	if (err)
		goto out;
	fsteady = res[P_FLOOR].steady_med;
	fcold = res[P_FLOOR].first_med;

	printf("per-packet cost, BPF_PROG_TEST_RUN, median of %d runs (spread = max - min):\n"
	       "  steady = %u repeats of one frame (a known call and transaction)\n"
	       "  cold   = a new call per packet, one per syscall (%d per run), timer cost subtracted\n"
	       "  floor  = reads every byte of the request's %zu-byte frame once, 8 bytes a load\n"
	       "           (bpf/floor.bpf.c); x floor = the path's figure / the floor's\n",
	       o.runs, o.repeat, o.unique / o.runs, floor_frame);
	printf("%-20s %-9s %10s %7s %8s %10s %7s %8s\n", "path", "action", "steady ns", "spread",
	       "x floor", "cold ns", "spread", "x floor");
	for (int p = 0; p < P_MAX; p++)
		printf("%-20s %-9s %10.1f %7.1f %8.2f %10.1f %7.1f %8.2f\n", path_name[p],
		       action_name(res[p].action), res[p].steady_med, res[p].steady_spread,
		       res[p].steady_med / fsteady, res[p].first_med, res[p].first_spread,
		       res[p].first_med / fcold);
	for (int k = 0; k < D_MAX; k++)
		printf("%-20s %-9s %10s %7s %8s %10.1f %7.1f %8.2f\n", dpath_name[k],
		       k == D_ANSWER ? "TX" : k == D_EGRESS ? "PASS" : "REDIRECT", "-", "-", "-",
		       dmed[k], dspread[k], dmed[k] / fcold);
	printf("floor check: every byte of %d frames read once (the program's xor is the "
	       "driver's)\n", floor_checked);
	printf("targets (steady, same run):\n");
	for (int t = 0; t < NTARGETS; t++) {
		const struct target *tg = &targets[t];
		double v = tg->ns ? res[tg->path].steady_med : res[tg->path].steady_med / fsteady;

		printf("  %-18s %8.2f %-7s <= %6.2f %-7s %s\n", path_name[tg->path], v,
		       tg->ns ? "ns" : "x floor", tg->limit, tg->ns ? "ns" : "x floor",
		       v <= tg->limit ? "met" : "MISSED");
	}
	printf("  %-18s %8.2f %-7s <= %6.2f %-7s %s\n", "request_mirrored",
	       res[P_REQUEST_MIRRORED].steady_med, "ns", 250.0, "ns",
	       res[P_REQUEST_MIRRORED].steady_med <= 250 ? "met" : "MISSED");

	printf("\nsteady cost against the INVITE (request path, call not mirrored; the floor on the "
	       "same frame):\n");
	printf("%-19s %6s %9s %6s %-9s %11s %9s %8s\n", "series", "SIP B", "frame B", "lines",
	       "request", "request ns", "floor ns", "x floor");
	for (int k = 0; k < NSHAPES; k++)
		printf("%-19s %6zu %9zu %6d %-9s %11.1f %9.1f %8.2f%s\n", shapes[k].series,
		       shapes[k].sip_bytes, sres[k].frame_bytes, shapes[k].lines,
		       action_name(sres[k].req_action), sres[k].req_med, sres[k].flo_med,
		       sres[k].req_med / sres[k].flo_med,
		       sres[k].linear_bytes < sres[k].frame_bytes ? "  (multi-buffer)" : "");

	if (o.json) {
		js = fopen(o.json, "w");
		if (!js) {
			err = -errno;
			fprintf(stderr, "bench: %s: %s\n", o.json, strerror(errno));
			goto out;
		}
		fprintf(js, "{\"ns_per_packet\": {");
		for (int p = 0; p < P_MAX; p++)
			fprintf(js, "%s\"%s\": %.1f", p ? ", " : "", path_name[p], res[p].steady_med);
		fprintf(js, "}, \"ns_per_packet_cold\": {");
		for (int p = 0; p < P_MAX; p++)
			fprintf(js, "%s\"%s\": %.1f", p ? ", " : "", path_name[p], res[p].first_med);
		for (int k = 0; k < D_MAX; k++)
			fprintf(js, ", \"%s\": %.1f", dpath_name[k], dmed[k]);
		fprintf(js, "}, \"floor_frame_bytes\": %zu, \"x_floor\": {", floor_frame);
		for (int p = 1; p < P_MAX; p++)
			fprintf(js, "%s\"%s\": %.2f", p > 1 ? ", " : "", path_name[p],
				res[p].steady_med / fsteady);
		fprintf(js, "}, \"x_floor_cold\": {");
		for (int p = 1; p < P_MAX; p++)
			fprintf(js, "%s\"%s\": %.2f", p > 1 ? ", " : "", path_name[p],
				res[p].first_med / fcold);
		for (int k = 0; k < D_MAX; k++)
			fprintf(js, ", \"%s\": %.2f", dpath_name[k], dmed[k] / fcold);
		fprintf(js, "}, \"floor_targets\": {");
		for (int t = 0; t < NTARGETS; t++) {
			const struct target *tg = &targets[t];
			double v = tg->ns ? res[tg->path].steady_med : res[tg->path].steady_med / fsteady;

			fprintf(js, "%s\"%s\": {\"%s\": %.2f, \"limit\": %.2f, \"met\": %s}",
				t ? ", " : "", path_name[tg->path], tg->ns ? "ns" : "x_floor", v,
				tg->limit, v <= tg->limit ? "true" : "false");
		}
		fprintf(js, "}");
		for (int k = 0; k < NSHAPES; k++) {
			int first = !k || strcmp(shapes[k].series, shapes[k - 1].series);
			int last = k == NSHAPES - 1 || strcmp(shapes[k].series, shapes[k + 1].series);

			if (first)
				fprintf(js, ", \"%s\": {", shapes[k].series);
			fprintf(js, "%s\"%s\": {\"sip_bytes\": %zu, \"frame_bytes\": %zu, "
				"\"header_lines\": %d, \"multi_buffer\": %s, \"request_action\": \"%s\", "
				"\"request\": %.1f, \"floor\": %.1f, \"x_floor\": %.2f}%s",
				first ? "" : ", ", shapes[k].key, shapes[k].sip_bytes,
				sres[k].frame_bytes, shapes[k].lines,
				sres[k].linear_bytes < sres[k].frame_bytes ? "true" : "false",
				action_name(sres[k].req_action), sres[k].req_med, sres[k].flo_med,
				sres[k].req_med / sres[k].flo_med, last ? "}" : "");
		}
		fprintf(js, ", \"runs\": %d, \"repeat\": %u}\n", o.runs, o.repeat);
		fclose(js);
	}
out:
	if (err)
		fprintf(stderr, "bench: failed: %s\n", strerror(err < 0 ? -err : err));
	if (empty_fd >= 0)
		close(empty_fd);
	floor_bpf__destroy(fl);
	th_cleanup();
	return err ? EXIT_FAILURE : EXIT_SUCCESS;
}
