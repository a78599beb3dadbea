// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Mirroring throughput: packets per second delivered at the receiving
 * machines, for understudy and for the ways it could otherwise be done, on
 * one namespace topology, each case RUNS times, interleaved:
 *
 *   ns gen  eth0 198.18.0.1 ──── cli0 198.18.0.254   ns bal (the balancer)
 *   (trafficgen: INVITE,          mach0 198.18.1.254 ──── eth0 198.18.1.1  ns act
 *    ACK, BYE of ever new calls)  sim0  198.18.2.254 ──── eth0 198.18.2.1  ns sim
 *
 *   act and sim count every frame that arrives and drop it (XDP bench_count).
 *
 *   generator_only        the generator's own ceiling: cli0 counts and drops
 *   xdp_redirect          XDP on cli0, no parsing: MACs rewritten, to act
 *   xdp_broadcast         XDP on cli0, no parsing: devmap broadcast to act
 *                         and sim, an egress program rewrites each copy's MACs
 *   understudy_mirror_0   understudy (us_client on cli0), 0 % of calls mirrored
 *   understudy_mirror_100 understudy, 100 % of calls mirrored (act and sim)
 *   tc_mirred             tc on cli0 (clsact, u32 match u32 0 0): mirred
 *                         mirror to sim0 + mirred redirect to mach0 (no MAC
 *                         rewrite: there is no pedit action on this kernel)
 *   tc_clone_redirect     tc BPF on cli0: bpf_clone_redirect to sim0, then
 *                         bpf_redirect to mach0, MACs rewritten for each
 *
 * Usage: bench_pps [-r RUNS] [-n FRAMES] [-t THREADS] [--cpu FIRST] [-m MIX]
 *                  [--size BYTES] [--ns-json FILE] [--sip-json FILE] [-j FILE]
 * -j writes the results as JSON (bench/results/latest.json's shape), with
 * the per-packet costs of --ns-json (bench_xdp -j) and the SIP capacities
 * of --sip-json (tools/bench_sip.sh --json) merged in.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <json-c/json.h>
#include <linux/if_link.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "dp.h"
#include "livenet.h"
#include "tgen.h"
#include "understudy/bench.h"
#include "bench.skel.h"
#include "understudy.skel.h"

#define MAX_RUNS 32
#define VIP "198.18.100.1"

enum ns_id { NS_GEN, NS_BAL, NS_ACT, NS_SIM, NNS };
static const char ns_role[NNS] = { 'g', 'b', 'a', 's' };
static char ns_name[NNS][32];
static int ns_fd[NNS] = { -1, -1, -1, -1 };
static int home_fd = -1;
static char pin_root[128];
static volatile sig_atomic_t stop;

enum bcase { C_GEN, C_REDIRECT, C_BROADCAST, C_MIRROR0, C_MIRROR100, C_MIRRED, C_CLONE, NCASES };
static const char *const case_name[NCASES] = {
	"generator_only", "xdp_redirect", "xdp_broadcast", "understudy_mirror_0", "understudy_mirror_100",
	"tc_mirred", "tc_clone_redirect",
};
/* copies each sent frame should make */
static const int case_copies[NCASES] = { 1, 1, 2, 1, 2, 2, 2 };

static const char *const pps_name[] = {
	"non_service", "request", "request_mirrored", "response_active", "response_simulation",
};

struct run {
	double pps;             /* delivered at the machines, per second */
	double sent_pps;
	__u64 sent, act, sim;
	__u64 st[US_ST_MAX];    /* understudy's counters over the run */
};

static __u32 calls_max, txns_max;       /* the data plane's map sizes (0: defaults) */
static struct bench_bpf *ref, *ref_sim; /* reference programs; a second bench_count for sim */
static struct us_dp *dp;
static __u8 mac_cli0[6], mac_mach0[6], mac_sim0[6], mac_act[6], mac_sim[6], mac_gen[6];
static int if_cli0, if_mach0, if_sim0;

static void die_msg(const char *what)
{
	fprintf(stderr, "bench_pps: %s\n", what);
}

/* ---- namespaces ---------------------------------------------------------------- */

static int enter(int ns)
{
	if (setns(ns_fd[ns], CLONE_NEWNET)) {
		fprintf(stderr, "bench_pps: entering %s: %s\n", ns_name[ns], strerror(errno));
		return -1;
	}
	return 0;
}

static int go_home(void)
{
	return setns(home_fd, CLONE_NEWNET);
}

static int if_info(int ns, const char *ifname, int *ifindex, __u8 mac[6])
{
	struct ifreq ifr;
	int s, e = -1;

	if (enter(ns))
		return -1;
	s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (s >= 0 && !ioctl(s, SIOCGIFHWADDR, &ifr)) {
		memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
		if (ifindex)
			*ifindex = (int)if_nametoindex(ifname);
		e = ifindex && !*ifindex ? -1 : 0;
	}
	if (e)
		fprintf(stderr, "bench_pps: %s in %s: %s\n", ifname, ns_name[ns], strerror(errno));
	if (s >= 0)
		close(s);
	go_home();
	return e;
}

static int write_sysctl(int ns, const char *path, const char *val)
{
	int fd, e = 0;

	if (enter(ns))
		return -1;
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, val, strlen(val)) < 0) {
		fprintf(stderr, "bench_pps: %s in %s: %s\n", path, ns_name[ns], strerror(errno));
		e = -1;
	}
	if (fd >= 0)
		close(fd);
	go_home();
	return e;
}

static void teardown(void)
{
	if (ref)
		bench_bpf__destroy(ref);
	if (ref_sim)
		bench_bpf__destroy(ref_sim);
	ref = ref_sim = NULL;
	if (dp)
		us_dp_close(dp);
	dp = NULL;
	if (pin_root[0])
		us_dp_destroy_pins(pin_root);
	for (int i = 0; i < NNS; i++) {
		if (ns_fd[i] >= 0)
			close(ns_fd[i]);
		ns_fd[i] = -1;
		if (ns_name[i][0])
			ln_run("ip netns del %s", ns_name[i]);
		ns_name[i][0] = 0;
	}
}

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

/* namespaces and pins of earlier runs whose process is gone */
static void remove_debris(void)
{
	DIR *d = opendir("/run/netns");
	struct dirent *e;
	char path[300];
	int pid;

	while (d && (e = readdir(d))) {
		char role;

		if (sscanf(e->d_name, "usb%d%c", &pid, &role) == 2 && pid != getpid() &&
		    kill(pid, 0) && errno == ESRCH)
			ln_run("ip netns del %s", e->d_name);
	}
	if (d)
		closedir(d);
	d = opendir("/sys/fs/bpf");
	while (d && (e = readdir(d))) {
		if (sscanf(e->d_name, "understudy-pps-%d", &pid) == 1 && pid != getpid() &&
		    kill(pid, 0) && errno == ESRCH) {
			snprintf(path, sizeof(path), "/sys/fs/bpf/%s", e->d_name);
			us_dp_destroy_pins(path);
		}
	}
	if (d)
		closedir(d);
}

static int build_net(void)
{
	static const char *const cmds[] = {
		"ip -n %1$s link add name eth0 type veth peer name cli0 netns %2$s",
		"ip -n %2$s link add name mach0 type veth peer name eth0 netns %3$s",
		"ip -n %2$s link add name sim0 type veth peer name eth0 netns %4$s",
		"ip -n %1$s addr add 198.18.0.1/24 dev eth0",
		"ip -n %2$s addr add 198.18.0.254/24 dev cli0",
		"ip -n %2$s addr add 198.18.1.254/24 dev mach0",
		"ip -n %2$s addr add 198.18.2.254/24 dev sim0",
		"ip -n %3$s addr add 198.18.1.1/24 dev eth0",
		"ip -n %4$s addr add 198.18.2.1/24 dev eth0",
		"ip -n %3$s addr add " VIP "/32 dev lo",
		"ip -n %4$s addr add " VIP "/32 dev lo",
		"ip -n %1$s link set eth0 up", "ip -n %2$s link set cli0 up",
		"ip -n %2$s link set mach0 up", "ip -n %2$s link set sim0 up",
		"ip -n %3$s link set eth0 up", "ip -n %4$s link set eth0 up",
		"ip -n %1$s link set lo up", "ip -n %2$s link set lo up",
		"ip -n %3$s link set lo up", "ip -n %4$s link set lo up",
		/* frames the generator sends into eth0 reach the tc cases only
		 * through NAPI on cli0: GRO on */
		"ip netns exec %2$s ethtool -K cli0 gro on",
	};
	char path[64];

	for (int i = 0; i < NNS; i++) {
		snprintf(ns_name[i], sizeof(ns_name[i]), "usb%d%c", getpid(), ns_role[i]);
		if (ln_run("ip netns add %s", ns_name[i])) {
			fprintf(stderr, "bench_pps: ip netns add %s: %s\n", ns_name[i], ln_err);
			ns_name[i][0] = 0;
			return -1;
		}
		snprintf(path, sizeof(path), "/run/netns/%s", ns_name[i]);
		ns_fd[i] = open(path, O_RDONLY | O_CLOEXEC);
		if (ns_fd[i] < 0)
			return -1;
	}
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		char cmd[256];

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
		snprintf(cmd, sizeof(cmd), cmds[i], ns_name[NS_GEN], ns_name[NS_BAL],
			 ns_name[NS_ACT], ns_name[NS_SIM]);
#pragma GCC diagnostic pop
		if (ln_run("%s", cmd)) {
			fprintf(stderr, "bench_pps: %s: %s\n", cmd, ln_err);
			return -1;
		}
	}
	if (if_info(NS_BAL, "cli0", &if_cli0, mac_cli0) || if_info(NS_BAL, "mach0", &if_mach0, mac_mach0) ||
	    if_info(NS_BAL, "sim0", &if_sim0, mac_sim0) || if_info(NS_ACT, "eth0", NULL, mac_act) ||
	    if_info(NS_SIM, "eth0", NULL, mac_sim) || if_info(NS_GEN, "eth0", NULL, mac_gen))
		return -1;
	/* bpf_fib_lookup wants forwarding on; static neighbours: no ARP to wait for */
	if (write_sysctl(NS_BAL, "/proc/sys/net/ipv4/ip_forward", "1"))
		return -1;
	{
		static const struct { const char *addr, *dev; const __u8 *mac; } nb[] = {
			{ "198.18.1.1", "mach0", mac_act },
			{ "198.18.2.1", "sim0", mac_sim },
			{ "198.18.0.1", "cli0", mac_gen },
		};

		for (size_t i = 0; i < sizeof(nb) / sizeof(nb[0]); i++) {
			const __u8 *m = nb[i].mac;

			if (ln_run("ip -n %s neigh replace %s lladdr %02x:%02x:%02x:%02x:%02x:%02x "
				   "dev %s nud permanent", ns_name[NS_BAL], nb[i].addr, m[0], m[1],
				   m[2], m[3], m[4], m[5], nb[i].dev)) {
				fprintf(stderr, "bench_pps: static neighbours: %s\n", ln_err);
				return -1;
			}
		}
	}
	return 0;
}

/* ---- the programs ----------------------------------------------------------- */

static struct bpf_link *attach_xdp(int ns, struct bpf_program *p, const char *ifname)
{
	struct bpf_link *l = NULL;
	int ifindex;

	if (enter(ns))
		return NULL;
	ifindex = (int)if_nametoindex(ifname);
	if (ifindex)
		l = bpf_program__attach_xdp(p, ifindex);
	if (!l)
		fprintf(stderr, "bench_pps: attaching %s to %s in %s: %s\n", bpf_program__name(p),
			ifname, ns_name[ns], strerror(errno));
	go_home();
	return l;
}

/* in the balancer's namespace: ip/tc commands and the data plane */
static int setup_programs(void)
{
	struct bench_out a = { .ifindex = (__u32)if_mach0 }, s = { .ifindex = (__u32)if_sim0 };
	struct bpf_devmap_val v = { 0 };
	struct us_dp_opts o = { .pin_root = pin_root, .verbose = getenv("US_VERBOSE") != NULL,
				.calls_max = calls_max, .txns_max = txns_max };
	__u8 vip[16] = { [10] = 0xff, [11] = 0xff };
	int fd, err;
	__u32 k;

	ref = bench_bpf__open_and_load();
	ref_sim = bench_bpf__open_and_load();
	if (!ref || !ref_sim) {
		die_msg("loading bpf/bench.bpf.c failed");
		return -1;
	}
	memcpy(a.smac, mac_mach0, 6);
	memcpy(a.dmac, mac_act, 6);
	memcpy(s.smac, mac_sim0, 6);
	memcpy(s.dmac, mac_sim, 6);
	ref->bss->bench_cfg.out[0] = a;
	ref->bss->bench_cfg.out[1] = s;
	/* a devmap entry's ifindex is the updating thread's namespace's */
	fd = bpf_map__fd(ref->maps.bench_bcast);
	v.bpf_prog.fd = bpf_program__fd(ref->progs.bench_egress);
	if (enter(NS_BAL))
		return -1;
	for (k = 0; k < 2; k++) {
		v.ifindex = k ? (__u32)if_sim0 : (__u32)if_mach0;
		if (bpf_map_update_elem(fd, &k, &v, 0)) {
			fprintf(stderr, "bench_pps: broadcast devmap: %s\n", strerror(errno));
			go_home();
			return -1;
		}
	}
	go_home();
	/* the receivers stay attached throughout (their links die with us) */
	if (!attach_xdp(NS_ACT, ref->progs.bench_count, "eth0") ||
	    !attach_xdp(NS_SIM, ref_sim->progs.bench_count, "eth0"))
		return -1;

	/* understudy: one service, an active machine behind mach0 and a
	 * simulation machine behind sim0; us_machine on both (as deployed) */
	if (enter(NS_BAL))
		return -1;
	err = us_dp_open(&o, &dp);
	if (err) {
		go_home();
		fprintf(stderr, "bench_pps: loading the data plane: %s\n", strerror(-err));
		return -1;
	}
	inet_pton(AF_INET, VIP, vip + 12);
	err = us_dp_set_service(dp, 0, AF_INET, vip, 5060, 0);
	for (__u32 m = 0; m < 2 && !err; m++) {
		struct us_machine_cfg mc = { .id = m, .svc_id = 0, .family = AF_INET, .weight = 1,
					     .state = m ? US_MS_SIMULATION : US_MS_ACTIVE,
					     .addr = { [10] = 0xff, [11] = 0xff } };

		inet_pton(AF_INET, m ? "198.18.2.1" : "198.18.1.1", mc.addr + 12);
		err = us_dp_set_machine(dp, &mc);
		if (!err)
			err = us_dp_set_mac(dp, m ? if_sim0 : if_mach0, m ? mac_sim : mac_act, m);
	}
	if (!err)
		err = us_dp_add_machine_iface(dp, "mach0");
	if (!err)
		err = us_dp_add_machine_iface(dp, "sim0");
	if (!err)
		err = us_dp_rebuild(dp, 0, US_POOL_ACTIVE);
	if (!err)
		err = us_dp_rebuild(dp, 0, US_POOL_SIM);
	if (!err)
		err = us_dp_attach(dp, "mach0", US_ROLE_MACHINE, XDP_FLAGS_DRV_MODE);
	if (!err)
		err = us_dp_attach(dp, "sim0", US_ROLE_MACHINE, XDP_FLAGS_DRV_MODE);
	go_home();
	if (err) {
		fprintf(stderr, "bench_pps: configuring the data plane: %s (%s)\n", strerror(-err),
			us_dp_error(dp));
		return -1;
	}
	return 0;
}

/* Put case c's program on cli0 (on = 1) or take it off (on = 0). */
static int switch_case(enum bcase c, int on)
{
	static struct bpf_link *link;
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = if_cli0, .attach_point = BPF_TC_INGRESS);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, tco, .handle = 1, .priority = 1);
	int err = 0;

	switch (c) {
	case C_GEN:
	case C_REDIRECT:
	case C_BROADCAST:
		if (on) {
			link = attach_xdp(NS_BAL, c == C_GEN ? ref->progs.bench_count :
					  c == C_REDIRECT ? ref->progs.bench_redirect :
					  ref->progs.bench_broadcast, "cli0");
			return link ? 0 : -1;
		}
		bpf_link__destroy(link);
		link = NULL;
		return 0;
	case C_MIRROR0:
	case C_MIRROR100:
		if (enter(NS_BAL))
			return -1;
		if (on) {
			err = us_dp_set_share(dp, 0, c == C_MIRROR100 ? US_SHARE_MAX : 0);
			if (!err)
				err = us_dp_attach(dp, "cli0", US_ROLE_CLIENT, XDP_FLAGS_DRV_MODE);
		} else {
			err = us_dp_detach(dp, "cli0", US_ROLE_CLIENT);
		}
		go_home();
		if (err)
			fprintf(stderr, "bench_pps: understudy on cli0: %s (%s)\n", strerror(-err),
				us_dp_error(dp));
		return err ? -1 : 0;
	case C_MIRRED:
		if (on)
			err = ln_run("ip netns exec %s tc qdisc add dev cli0 clsact", ns_name[NS_BAL]) ||
			      ln_run("ip netns exec %s tc filter add dev cli0 ingress protocol all u32 "
				     "match u32 0 0 action mirred egress mirror dev sim0 "
				     "action mirred egress redirect dev mach0", ns_name[NS_BAL]);
		else
			err = ln_run("ip netns exec %s tc qdisc del dev cli0 clsact", ns_name[NS_BAL]);
		if (err)
			fprintf(stderr, "bench_pps: tc mirred: %s\n", ln_err);
		return err ? -1 : 0;
	case C_CLONE:
		if (enter(NS_BAL))
			return -1;
		if (on) {
			err = bpf_tc_hook_create(&hook);
			tco.prog_fd = bpf_program__fd(ref->progs.bench_clone);
			if (!err)
				err = bpf_tc_attach(&hook, &tco);
		} else {
			hook.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS;
			err = bpf_tc_hook_destroy(&hook);
		}
		go_home();
		if (err)
			fprintf(stderr, "bench_pps: tc bpf_clone_redirect: %s\n", strerror(-err));
		return err ? -1 : 0;
	default:
		return -1;
	}
}

static __u64 rx_count(struct bench_bpf *b)
{
	int n = libbpf_num_possible_cpus();
	__u64 v[n > 0 ? n : 1], sum = 0;
	__u32 k = 0;

	if (n <= 0 || bpf_map_lookup_elem(bpf_map__fd(b->maps.bench_rx), &k, v))
		return 0;
	for (int i = 0; i < n; i++)
		sum += v[i];
	return sum;
}

static int one_run(struct tg *g, struct run *r, char *err, size_t errlen)
{
	__u64 a0 = rx_count(ref), s0 = rx_count(ref_sim), st0[US_ST_MAX];
	struct tg_result tr;
	int e = us_dp_read_stats(dp, st0);

	if (!e)
		e = tg_run(g, &tr, err, errlen);
	if (e)
		return e;
	/* frames still queued in the veths: let NAPI finish them */
	ln_sleep_ms(50);
	if (us_dp_read_stats(dp, r->st) == 0)
		for (int i = 0; i < US_ST_MAX; i++)
			r->st[i] -= st0[i];
	r->act = rx_count(ref) - a0;
	r->sim = rx_count(ref_sim) - s0;
	r->sent = tr.sent_total;
	r->pps = (double)(r->act + r->sim) / tr.seconds;
	r->sent_pps = (double)tr.sent_total / tr.seconds;
	return 0;
}

/* ---- memory ------------------------------------------------------------------- */

/* memlock of a map from /proc/self/fdinfo: the kernel's account of its memory */
static long long memlock(int fd)
{
	char path[64], line[128];
	long long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "memlock: %lld", &v) == 1)
			break;
	if (f)
		fclose(f);
	return v;
}

struct mem {
	long long calls_bytes, txns_bytes;      /* of the two LRU maps at the default sizes */
	double per_call, per_txn;               /* slope: bytes per entry */
	long long total;                        /* every map of the data plane, defaults */
	long long fixed;                        /* total minus the two LRU maps */
};

/* The data plane opened at two sizes: the slope is the cost of an entry. */
static int measure_memory(struct mem *m)
{
	const __u32 small_c = US_CALLS_DEFAULT / 4, small_t = US_TXNS_DEFAULT / 4;
	long long c[2] = { 0 }, t[2] = { 0 }, tot = 0;

	for (int i = 0; i < 2; i++) {
		char root[160];
		struct us_dp_opts o = { .pin_root = root, .calls_max = i ? 0 : small_c,
					.txns_max = i ? 0 : small_t };
		struct understudy_bpf *sk;
		struct bpf_map *map;
		struct us_dp *d;
		int err;

		snprintf(root, sizeof(root), "%s-mem%d", pin_root, i);
		err = us_dp_open(&o, &d);
		if (err) {
			fprintf(stderr, "bench_pps: memory: us_dp_open: %s\n", strerror(-err));
			return -1;
		}
		sk = us_dp_skel(d);
		c[i] = memlock(bpf_map__fd(sk->maps.us_calls));
		t[i] = memlock(bpf_map__fd(sk->maps.us_txns));
		if (i) {
			bpf_object__for_each_map(map, sk->obj) {
				long long v = memlock(bpf_map__fd(map));

				if (v > 0 && strcmp(bpf_map__name(map), ".rodata") &&
				    strcmp(bpf_map__name(map), ".bss") && strcmp(bpf_map__name(map), ".data"))
					tot += v;
			}
			/* the mirror groups: one two-entry devmap per interface pair, not
			 * in the object (none here: no interface declared) */
		}
		us_dp_close(d);
		us_dp_destroy_pins(root);
	}
	if (c[0] <= 0 || c[1] <= 0 || t[0] <= 0 || t[1] <= 0) {
		die_msg("memory: the kernel gave no memlock for the maps");
		return -1;
	}
	m->calls_bytes = c[1];
	m->txns_bytes = t[1];
	m->per_call = (double)(c[1] - c[0]) / (US_CALLS_DEFAULT - small_c);
	m->per_txn = (double)(t[1] - t[0]) / (US_TXNS_DEFAULT - small_t);
	m->total = tot;
	m->fixed = tot - c[1] - t[1];
	return 0;
}

/* ---- output ------------------------------------------------------------------- */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(const double *v, int n, double *lo, double *hi)
{
	double s[MAX_RUNS];

	memcpy(s, v, sizeof(double) * (size_t)n);
	qsort(s, (size_t)n, sizeof(double), cmp_double);
	*lo = s[0];
	*hi = s[n - 1];
	return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

static json_object *read_json(const char *path)
{
	json_object *j;

	if (!path)
		return NULL;
	j = json_object_from_file(path);
	if (!j)
		fprintf(stderr, "bench_pps: %s: %s\n", path, json_util_get_last_err());
	return j;
}

static void cpu_model(char *out, size_t len)
{
	char line[256];
	FILE *f = fopen("/proc/cpuinfo", "r");

	snprintf(out, len, "unknown");
	while (f && fgets(line, sizeof(line), f)) {
		char *c = strchr(line, ':');

		if (!strncmp(line, "model name", 10) && c) {
			snprintf(out, len, "%s", c + 2);
			out[strcspn(out, "\n")] = 0;
			break;
		}
	}
	if (f)
		fclose(f);
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "runs", required_argument, NULL, 'r' }, { "frames", required_argument, NULL, 'n' },
		{ "threads", required_argument, NULL, 't' }, { "cpu", required_argument, NULL, 'C' },
		{ "mix", required_argument, NULL, 'm' }, { "size", required_argument, NULL, 's' },
		{ "ns-json", required_argument, NULL, 'N' }, { "sip-json", required_argument, NULL, 'S' },
		{ "json", required_argument, NULL, 'j' }, { "cases", required_argument, NULL, 'c' },
		{ "previous", required_argument, NULL, 'P' }, { "rate", required_argument, NULL, 'R' },
		{ "check", no_argument, NULL, 'K' },
		{ "calls-max", required_argument, NULL, 'L' }, { "txns-max", required_argument, NULL, 'T' },
		{ "help", no_argument, NULL, 'h' }, { 0 },
	};
	struct tg_opts to = { .ifname = "eth0", .saddr = "198.18.0.1", .daddr = VIP,
			      .sport = 5060, .dport = 5060, .threads = 1, .count = 2000000,
			      .mix = "invite,ack,bye" };
	const char *ns_json = NULL, *sip_json = NULL, *out_json = NULL, *only = NULL;
	const char *prev_json = NULL;
	int check = 0;
	static struct run runs[NCASES][MAX_RUNS];
	double med[NCASES], lo_[NCASES], hi_[NCASES], sent_med[NCASES], cost[NCASES];
	int nruns = 5, c, rc = EXIT_FAILURE, ncpu = libbpf_num_possible_cpus();
	char err[512], cpu[128];
	struct tg *g = NULL;
	struct mem mem;
	struct utsname u;

	while ((c = getopt_long(argc, argv, "r:n:t:m:s:j:c:h", lo, NULL)) != -1) {
		switch (c) {
		case 'c': only = optarg; break;
		case 'P': prev_json = optarg; break;
		case 'R': to.rate = strtod(optarg, NULL); break;
		case 'K': check = 1; break;
		case 'L': calls_max = (__u32)strtoul(optarg, NULL, 10); break;
		case 'T': txns_max = (__u32)strtoul(optarg, NULL, 10); break;
		case 'r': nruns = atoi(optarg); break;
		case 'n': to.count = strtoull(optarg, NULL, 10); break;
		case 't': to.threads = atoi(optarg); break;
		case 'C': to.first_cpu = atoi(optarg); break;
		case 'm': to.mix = optarg; break;
		case 's': to.size = strtoul(optarg, NULL, 10); break;
		case 'N': ns_json = optarg; break;
		case 'S': sip_json = optarg; break;
		case 'j': out_json = optarg; break;
		default:
			fprintf(c == 'h' ? stdout : stderr,
				"usage: %s [-r RUNS(1..%d)] [-n FRAMES] [-t THREADS] [--cpu FIRST] [-m MIX]\n"
				"          [-s INVITE_BYTES] [--ns-json FILE] [--sip-json FILE] [-j FILE]\n"
				"          [--previous FILE] (compare with an earlier -j file)\n"
				"          [--rate FPS] (frames per second; default: as fast as possible)\n"
				"          [--check] (fail unless every case delivers exactly its copies and\n"
				"                    understudy forwards every frame as SIP: a test, at a rate)\n"
				"          [-c CASE,...] (only these cases; no targets, no JSON)\n"
				"          [--calls-max N] [--txns-max N] (understudy's map sizes)\n",
				argv[0], MAX_RUNS);
			return c == 'h' ? EXIT_SUCCESS : 2;
		}
	}
	if (nruns < 1 || nruns > MAX_RUNS || to.count < 1000) {
		fprintf(stderr, "bench_pps: -r must be 1..%d and -n at least 1000\n", MAX_RUNS);
		return 2;
	}
	if (geteuid() != 0) {
		die_msg("needs root (namespaces, BPF, XDP)");
		return 2;
	}
	home_fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	snprintf(pin_root, sizeof(pin_root), "/sys/fs/bpf/understudy-pps-%d", getpid());
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGHUP, on_signal);
	atexit(teardown);
	remove_debris();
	libbpf_set_print(NULL);

	if (measure_memory(&mem) || build_net() || setup_programs())
		return EXIT_FAILURE;
	to.netns = ns_name[NS_GEN];
	memcpy(to.dmac, mac_cli0, 6);
	if (tg_open(&to, &g, err, sizeof(err))) {
		fprintf(stderr, "bench_pps: traffic generator: %s\n", err);
		return EXIT_FAILURE;
	}
	printf("bench_pps: %d runs of %llu frames (%s) per case, %d generator thread(s) from CPU %d,\n"
	       "           frames counted where they arrive (XDP at the machines' interfaces)\n",
	       nruns, (unsigned long long)to.count, to.mix, to.threads, to.first_cpu);
	/* interleaved: run r of every case, then run r + 1 */
	for (int r = 0; r < nruns && !stop; r++) {
		for (int k = 0; k < NCASES && !stop; k++) {
			int e;

			if (only && !strstr(only, case_name[k]))
				continue;
			if (switch_case(k, 1))
				goto out;
			e = one_run(g, &runs[k][r], err, sizeof(err));
			if (switch_case(k, 0) || e) {
				if (e)
					fprintf(stderr, "bench_pps: %s: %s\n", case_name[k], err);
				goto out;
			}
		}
	}
	if (stop) {
		die_msg("interrupted");
		goto out;
	}
	if (check) {
		int bad = 0;

		for (int k = 0; k < NCASES; k++) {
			for (int r = 0; r < nruns && (!only || strstr(only, case_name[k])); r++) {
				const struct run *x = &runs[k][r];
				__u64 want_sim = case_copies[k] == 2 ? x->sent : 0;
				__u64 got_act = x->act, got_sim = x->sim;

				if (got_act != x->sent || got_sim != want_sim) {
					printf("check: %s run %d: sent %llu, the active machine got %llu, the "
					       "simulation machine %llu (expected %llu)\n", case_name[k], r,
					       (unsigned long long)x->sent, (unsigned long long)got_act,
					       (unsigned long long)got_sim, (unsigned long long)want_sim);
					bad = 1;
				}
				if ((k == C_MIRROR0 || k == C_MIRROR100) &&
				    (x->st[US_ST_REQ_FWD] != x->sent ||
				     x->st[US_ST_REQ_MIRRORED] != (k == C_MIRROR100 ? x->sent : 0) ||
				     x->st[US_ST_RETRANS_REQ])) {
					for (int q = 0; q < US_ST_MAX; q++)
						if (x->st[q])
							printf("  stat %s %llu\n", us_stat_name(q),
							       (unsigned long long)x->st[q]);
					printf("check: %s run %d: sent %llu, understudy forwarded %llu, mirrored "
					       "%llu, %llu retransmissions\n", case_name[k], r,
					       (unsigned long long)x->sent,
					       (unsigned long long)x->st[US_ST_REQ_FWD],
					       (unsigned long long)x->st[US_ST_REQ_MIRRORED],
					       (unsigned long long)x->st[US_ST_RETRANS_REQ]);
					bad = 1;
				}
			}
		}
		printf("check: %s\n", bad ? "FAILED" : "every case delivered exactly its copies");
		if (bad)
			goto out;
	}
	if (only) {
		for (int k = 0; k < NCASES; k++)
			for (int r = 0; r < nruns && strstr(only, case_name[k]); r++)
				printf("%-22s run %d: %.0f delivered/s, %.0f sent/s\n", case_name[k], r,
				       runs[k][r].pps, runs[k][r].sent_pps);
		rc = EXIT_SUCCESS;
		goto out;
	}

	for (int k = 0; k < NCASES; k++) {
		double v[MAX_RUNS];

		for (int r = 0; r < nruns; r++)
			v[r] = runs[k][r].pps;
		med[k] = median(v, nruns, &lo_[k], &hi_[k]);
	}
	printf("\n%-22s %12s %21s %9s %9s %10s %9s\n", "case", "delivered/s", "spread (min..max)",
	       "vs mirred", "copies", "sent/s", "ns/frame");
	for (int k = 0; k < NCASES; k++) {
		double v[MAX_RUNS], lo, hi, copies = 0;

		for (int r = 0; r < nruns; r++) {
			v[r] = runs[k][r].sent_pps;
			copies += (double)(runs[k][r].act + runs[k][r].sim) / (double)runs[k][r].sent;
		}
		sent_med[k] = median(v, nruns, &lo, &hi);
		/* the balancer's share of a frame's time: the generator's own taken off */
		cost[k] = k == C_GEN ? 0 : 1e9 / sent_med[k] - 1e9 / sent_med[C_GEN];
		printf("%-22s %12.0f %10.0f..%-10.0f %8.2fx %5.2f/%d %10.0f %9.0f\n", case_name[k],
		       med[k], lo_[k], hi_[k], med[k] / med[C_MIRRED], copies / nruns, case_copies[k],
		       sent_med[k], cost[k]);
	}
	printf("\ncopies: frames delivered per frame sent (mean over runs) / the copies the case makes\n"
	       "ns/frame: 1/sent - 1/sent(generator_only): what a frame costs past the generator\n"
	       "          (the balancer's program, the copies, the receivers), all on one CPU\n");
	printf("targets: understudy_mirror_100 >= 2 x tc_mirred: %.2fx %s; >= 80 %% of xdp_broadcast: "
	       "%.0f %% %s;\n         understudy_mirror_0 >= 80 %% of xdp_redirect: %.0f %% %s\n",
	       med[C_MIRROR100] / med[C_MIRRED], med[C_MIRROR100] >= 2 * med[C_MIRRED] ? "met" : "MISSED",
	       100 * med[C_MIRROR100] / med[C_BROADCAST],
	       med[C_MIRROR100] >= 0.8 * med[C_BROADCAST] ? "met" : "MISSED",
	       100 * med[C_MIRROR0] / med[C_REDIRECT],
	       med[C_MIRROR0] >= 0.8 * med[C_REDIRECT] ? "met" : "MISSED");
	printf("\nBPF map memory (kernel memlock, %d CPUs):\n"
	       "  per tracked call        %.1f bytes (us_calls, LRU hash)\n"
	       "  per pending transaction %.1f bytes (us_txns, LRU hash)\n"
	       "  us_calls at %u entries  %lld bytes\n"
	       "  us_txns at %u entries   %lld bytes\n"
	       "  every map at defaults   %lld bytes (%lld of them not sized by calls or transactions)\n",
	       ncpu, mem.per_call, mem.per_txn, US_CALLS_DEFAULT, mem.calls_bytes, US_TXNS_DEFAULT,
	       mem.txns_bytes, mem.total, mem.fixed);

	if (prev_json) {
		json_object *p = read_json(prev_json), *pp, *v;

		if (p && json_object_object_get_ex(p, "pps", &pp)) {
			printf("\nchange since %s (delivered/s, medians):\n", prev_json);
			for (int k = 0; k < NCASES; k++)
				if (json_object_object_get_ex(pp, case_name[k], &v) &&
				    json_object_get_double(v) > 0)
					printf("  %-22s %12.0f -> %12.0f  %+6.1f %%\n", case_name[k],
					       json_object_get_double(v), med[k],
					       100 * (med[k] / json_object_get_double(v) - 1));
		}
		json_object_put(p);
	}
	if (out_json) {
		json_object *j = json_object_new_object(), *pps = json_object_new_object();
		json_object *spread = json_object_new_object(), *ns = read_json(ns_json);
		json_object *sip = read_json(sip_json), *m = json_object_new_object(), *nsp, *v;

		for (int k = 0; k < NCASES; k++) {
			json_object *s = json_object_new_array();

			json_object_object_add(pps, case_name[k], json_object_new_int64((long long)med[k]));
			json_object_array_add(s, json_object_new_int64((long long)lo_[k]));
			json_object_array_add(s, json_object_new_int64((long long)hi_[k]));
			json_object_object_add(spread, case_name[k], s);
		}
		json_object_object_add(j, "pps", pps);
		json_object_object_add(j, "pps_spread", spread);
		{
			json_object *sp = json_object_new_object(), *cp = json_object_new_object();

			for (int k = 0; k < NCASES; k++) {
				json_object_object_add(sp, case_name[k],
						       json_object_new_int64((long long)sent_med[k]));
				if (k != C_GEN)
					json_object_object_add(cp, case_name[k],
							       json_object_new_int64((long long)cost[k]));
			}
			json_object_object_add(j, "sent_pps", sp);
			json_object_object_add(j, "ns_per_frame_past_generator", cp);
		}
		if ((ns_json && !ns) || (sip_json && !sip))
			goto out;
		if (ns && json_object_object_get_ex(ns, "ns_per_packet", &nsp)) {
			json_object *o = json_object_new_object();

			for (size_t p = 0; p < sizeof(pps_name) / sizeof(pps_name[0]); p++)
				if (json_object_object_get_ex(nsp, pps_name[p], &v))
					json_object_object_add(o, pps_name[p], json_object_get(v));
			json_object_object_add(j, "ns_per_packet", o);
			if (json_object_object_get_ex(ns, "ns_per_packet_cold", &v))
				json_object_object_add(j, "ns_per_packet_cold", json_object_get(v));
		}
		json_object_object_add(j, "runs", json_object_new_int(nruns));
		uname(&u);
		json_object_object_add(j, "kernel", json_object_new_string(u.release));
		cpu_model(cpu, sizeof(cpu));
		json_object_object_add(j, "cpu", json_object_new_string(cpu));
		json_object_object_add(j, "cpus", json_object_new_int(ncpu));
		{
			char la[64] = "";
			FILE *f = fopen("/proc/loadavg", "r");

			if (f && fgets(la, sizeof(la), f))
				la[strcspn(la, "\n")] = 0;
			if (f)
				fclose(f);
			json_object_object_add(j, "loadavg_at_end", json_object_new_string(la));
		}
		json_object_object_add(j, "date", json_object_new_int64((long long)time(NULL)));
		json_object_object_add(j, "frames_per_run", json_object_new_int64((long long)to.count));
		json_object_object_add(j, "mix", json_object_new_string(to.mix));
		json_object_object_add(j, "generator_threads", json_object_new_int(to.threads));
		json_object_object_add(m, "bytes_per_call", json_object_new_double(mem.per_call));
		json_object_object_add(m, "bytes_per_transaction", json_object_new_double(mem.per_txn));
		json_object_object_add(m, "calls_default_entries", json_object_new_int(US_CALLS_DEFAULT));
		json_object_object_add(m, "calls_default_bytes", json_object_new_int64(mem.calls_bytes));
		json_object_object_add(m, "transactions_default_entries", json_object_new_int(US_TXNS_DEFAULT));
		json_object_object_add(m, "transactions_default_bytes", json_object_new_int64(mem.txns_bytes));
		json_object_object_add(m, "all_maps_default_bytes", json_object_new_int64(mem.total));
		json_object_object_add(j, "memory", m);
		if (sip) {
			json_object_object_foreach(sip, key, val)
				json_object_object_add(j, key, json_object_get(val));
		}
		if (json_object_to_file_ext(out_json, j, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED)) {
			fprintf(stderr, "bench_pps: %s: %s\n", out_json, json_util_get_last_err());
			goto out;
		}
		printf("\nwrote %s\n", out_json);
		json_object_put(j);
		json_object_put(ns);
		json_object_put(sip);
	}
	rc = EXIT_SUCCESS;
out:
	tg_close(g);
	return rc;
}
