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
#include "understudy.skel.h"

#define MAX_RUNS 64
#define FRAME 2048

/* response_active: an active machine's answer in a mirrored call (pairing,
 * deadlines, dialog learning); response_plain: in a call not mirrored, the
 * path of most calls */
enum bpath { P_NON_SERVICE, P_REQUEST, P_REQUEST_MIRRORED, P_RESP_ACTIVE, P_RESP_SIM,
	     P_RESP_PLAIN, P_MAX };

static const char *const path_name[P_MAX] = {
	"non_service", "request", "request_mirrored", "response_active", "response_simulation",
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
	} else if (p == P_REQUEST || p == P_REQUEST_MIRRORED) {
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

int main(int argc, char **argv)
{
	struct opts o = { .runs = 5, .repeat = 200000, .unique = 20000, .json = NULL };
	static struct result res[P_MAX];
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
		int fd = machine ? th.fd_machine : th.fd_client;
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
			err = run(fd, pkt, n, ifc, o.repeat, &res[p].action, &res[p].steady[r]);
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

	printf("per-packet cost, BPF_PROG_TEST_RUN, median of %d runs (spread = max - min):\n"
	       "  steady = %u repeats of one frame (a known call and transaction)\n"
	       "  cold   = a new call per packet, one per syscall (%d per run), timer cost subtracted\n",
	       o.runs, o.repeat, o.unique / o.runs);
	printf("%-20s %-9s %12s %8s %12s %8s\n", "path", "action", "steady ns", "spread", "cold ns",
	       "spread");
	for (int p = 0; p < P_MAX; p++)
		printf("%-20s %-9s %12.1f %8.1f %12.1f %8.1f\n", path_name[p],
		       action_name(res[p].action), res[p].steady_med, res[p].steady_spread,
		       res[p].first_med, res[p].first_spread);
	for (int k = 0; k < D_MAX; k++)
		printf("%-20s %-9s %12s %8s %12.1f %8.1f\n", dpath_name[k],
		       k == D_ANSWER ? "TX" : k == D_EGRESS ? "PASS" : "REDIRECT", "-", "-",
		       dmed[k], dspread[k]);
	printf("targets (steady): non_service <= 30 ns: %s; request_mirrored <= 250 ns: %s\n",
	       res[P_NON_SERVICE].steady_med <= 30 ? "met" : "MISSED",
	       res[P_REQUEST_MIRRORED].steady_med <= 250 ? "met" : "MISSED");

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
		fprintf(js, "}, \"runs\": %d, \"repeat\": %u}\n", o.runs, o.repeat);
		fclose(js);
	}
out:
	if (err)
		fprintf(stderr, "bench: failed: %s\n", strerror(err < 0 ? -err : err));
	if (empty_fd >= 0)
		close(empty_fd);
	th_cleanup();
	return err ? EXIT_FAILURE : EXIT_SUCCESS;
}
