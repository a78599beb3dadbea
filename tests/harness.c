// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* What the data-plane test programs share: see harness.h. */
#include <dirent.h>
#include <errno.h>
#include <fnmatch.h>
#include <getopt.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "harness.h"
#include "testnet.h"
#include "understudy.skel.h"

/* ---- cases ---------------------------------------------------------------- */

char th_cname[160];
int th_cfails, th_npass, th_nfail, th_verbose;

void th_begin(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(th_cname, sizeof(th_cname), fmt, ap);
	va_end(ap);
	th_cfails = 0;
}

void th_end(void)
{
	if (th_cfails)
		th_nfail++;
	else
		th_npass++;
	if (th_verbose)
		printf("test:%s:%s\n", th_cfails ? "failed" : "ok", th_cname);
}

void th_fail(const char *what, const char *actual, const char *expected)
{
	printf("test:FAIL:%s %s actual %s expected %s\n", th_cname, what, actual, expected);
	th_cfails++;
}

int th_eq(const char *what, long long a, long long e)
{
	char sa[32], se[32];

	if (a == e)
		return 1;
	snprintf(sa, sizeof(sa), "%lld", a);
	snprintf(se, sizeof(se), "%lld", e);
	th_fail(what, sa, se);
	return 0;
}

int th_eqf(long long a, long long e, const char *fmt, ...)
{
	char what[160];
	va_list ap;

	if (a == e)
		return 1;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	return th_eq(what, a, e);
}

const char *th_xdp_name(long long r)
{
	static const char *const n[] = { "XDP_ABORTED", "XDP_DROP", "XDP_PASS", "XDP_TX",
					 "XDP_REDIRECT" };

	return r >= 0 && r < (long long)ARRAY_SIZE(n) ? n[r] : "XDP_?";
}

/* ---- the data plane under test ---------------------------------------------- */

struct th_dp th;

static __u64 *th_pcpu_vals;     /* th_read_stats(): us_stats of every CPU */
static int th_ncpu;

int th_dp_open(const char *pin_prefix, struct us_dp_opts *o)
{
	int err;

	snprintf(th.pin_root, sizeof(th.pin_root), "/sys/fs/bpf/%s-%d", pin_prefix, getpid());
	o->pin_root = th.pin_root;
	err = us_dp_open(o, &th.dp);
	if (err) {
		th.dp = NULL;
		return err;
	}
	th.sk = us_dp_skel(th.dp);
	th.fd_client = bpf_program__fd(th.sk->progs.us_client);
	th.fd_machine = bpf_program__fd(th.sk->progs.us_machine);
	th.fd_egress = bpf_program__fd(th.sk->progs.us_egress);
	th.fd_egress_t = bpf_program__fd(th.sk->progs.us_egress_t);
	th.fd_stats = bpf_map__fd(th.sk->maps.us_stats);
	th.fd_calls = bpf_map__fd(th.sk->maps.us_calls);
	th.fd_txns = bpf_map__fd(th.sk->maps.us_txns);
	return 0;
}

void th_dp_close(void)
{
	if (th.rb)
		ring_buffer__free(th.rb);
	th.rb = NULL;
	if (th.dp)
		us_dp_close(th.dp);
	th.dp = NULL;
	th.sk = NULL;
	if (th.pin_root[0])
		us_dp_destroy_pins(th.pin_root);
}

static volatile sig_atomic_t th_cleaned;

void th_cleanup(void)
{
	if (th_cleaned)
		return;
	th_cleaned = 1;
	th_dp_close();
	testnet_leave();
}

static void th_on_signal(int sig)
{
	th_cleanup();
	signal(sig, SIG_DFL);
	raise(sig);
}

/* Pins of earlier runs that died without cleaning up. */
static void th_remove_stale_pins(const char *pin_prefix)
{
	DIR *d = opendir("/sys/fs/bpf");
	size_t pl = strlen(pin_prefix);
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d))) {
		char path[PATH_MAX];
		int pid;

		if (strncmp(de->d_name, pin_prefix, pl) || de->d_name[pl] != '-' ||
		    sscanf(de->d_name + pl + 1, "%d", &pid) != 1 || pid <= 0)
			continue;
		if (pid == getpid() || !kill(pid, 0) || errno != ESRCH)
			continue;
		snprintf(path, sizeof(path), "/sys/fs/bpf/%s", de->d_name);
		us_dp_destroy_pins(path);
	}
	closedir(d);
}

/* ---- start, set-up, end ----------------------------------------------------- */

void th_init(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	th_verbose = getenv("US_TEST_VERBOSE") && *getenv("US_TEST_VERBOSE") == '1';
}

int th_need_root(void)
{
	if (geteuid() == 0)
		return 0;
	printf("test:FAIL:setup root actual uid %u expected 0\n0 passed, 1 failed\n", geteuid());
	return -1;
}

void th_start(const char *pin_prefix)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGSEGV, SIGABRT, SIGPIPE };
	cpu_set_t cpus;
	int cpu;

	cpu = sched_getcpu();
	CPU_ZERO(&cpus);
	CPU_SET(cpu < 0 ? 0 : cpu, &cpus);
	sched_setaffinity(0, sizeof(cpus), &cpus);
	for (size_t i = 0; i < ARRAY_SIZE(sigs); i++)
		signal(sigs[i], th_on_signal);
	th_remove_stale_pins(pin_prefix);
}

int th_setup_case(int (*setup)(void))
{
	th_begin("setup");
	if (setup()) {
		th_end();
		th_finish();
		return 1;
	}
	th_end();
	return 0;
}

int th_finish(void)
{
	th_cleanup();
	printf("%d passed, %d failed\n", th_npass, th_nfail);
	return th_nfail ? 1 : 0;
}

int th_setup_fail(const char *what, int err)
{
	char b[600];

	snprintf(b, sizeof(b), "%d(%s)%s%s", err, strerror(err < 0 ? -err : err),
		 th.dp && *us_dp_error(th.dp) ? ": " : "", th.dp ? us_dp_error(th.dp) : "");
	th_fail(what, b, "0");
	return err ? err : -1;
}

int th_open_dp(const char *pin_prefix, struct us_dp_opts *o)
{
	int err;

	err = th_dp_open(pin_prefix, o);
	if (err)
		return th_setup_fail("us_dp_open", err);
	if (th_pcpu_vals)
		return 0;
	th_ncpu = libbpf_num_possible_cpus();
	if (th_ncpu <= 0)
		return th_setup_fail("libbpf_num_possible_cpus", th_ncpu);
	th_pcpu_vals = calloc((size_t)th_ncpu * US_ST_MAX, sizeof(__u64));
	if (!th_pcpu_vals)
		return th_setup_fail("calloc", -ENOMEM);
	return 0;
}

int th_setup_dp(const char *pin_prefix, struct us_dp_opts *o)
{
	int err;

	err = testnet_enter();
	if (err)
		return th_setup_fail("testnet_enter", err);
	return th_open_dp(pin_prefix, o);
}

int th_setup_tables(__u32 nsvc, const struct us_cfg *cfg, ring_buffer_sample_fn ev_cb)
{
	int err;

	for (__u32 s = 0; s < nsvc; s++)
		if ((err = us_dp_rebuild(th.dp, s, US_POOL_ACTIVE)) ||
		    (err = us_dp_rebuild(th.dp, s, US_POOL_SIM)))
			return th_setup_fail("us_dp_rebuild", err);
	if ((err = us_dp_add_machine_iface(th.dp, testnet.ifs[TN_MACH].name)) ||
	    (err = us_dp_add_machine_iface(th.dp, testnet.ifs[TN_SIM].name)))
		return th_setup_fail("us_dp_add_machine_iface", err);
	if ((err = us_dp_set_cfg(th.dp, cfg)))
		return th_setup_fail("us_dp_set_cfg", err);
	th.rb = ring_buffer__new(bpf_map__fd(th.sk->maps.us_events), ev_cb, NULL, NULL);
	if (!th.rb)
		return th_setup_fail("ring_buffer__new", -errno);
	return 0;
}

int th_set_service(__u32 svc, const char *vip, __u16 share)
{
	__u8 a[16];
	int fam = testnet_addr16(vip, a);

	return us_dp_set_service(th.dp, svc, fam, a, 5060, share);
}

int th_set_machine(__u32 mid, __u32 svc, const char *addr, enum us_mstate state)
{
	struct us_machine_cfg c = { .id = mid, .svc_id = svc, .weight = 100, .state = state };

	c.family = testnet_addr16(addr, c.addr);
	return us_dp_set_machine(th.dp, &c);
}

int th_set_mac(__u32 mid, int host)
{
	const struct testnet_host *h = &testnet.hosts[host];

	return us_dp_set_mac(th.dp, testnet.ifs[h->ifc].ifindex, h->mac, mid);
}

/* ---- test runs -------------------------------------------------------------- */

void th_run_repeat(int prog_fd, int ifc, const void *in, size_t len, __u32 repeat,
		   struct th_res *r)
{
	struct xdp_md ctx = { .data_end = (__u32)len };
	struct xdp_md cto = { 0 };
	LIBBPF_OPTS(bpf_test_run_opts, t, .data_in = in, .data_size_in = (__u32)len,
		    .data_out = r->out, .data_size_out = sizeof(r->out), .ctx_in = &ctx,
		    .ctx_size_in = sizeof(ctx), .ctx_out = &cto, .ctx_size_out = sizeof(cto),
		    .repeat = repeat);

	ctx.ingress_ifindex = (__u32)testnet.ifs[ifc].ifindex;
	r->err = bpf_prog_test_run_opts(prog_fd, &t);
	if (r->err)
		r->err = -errno;
	r->ret = t.retval;
	r->len = t.data_size_out;
	r->meta = cto.data;
	r->duration = t.duration;
}

void th_run(int prog_fd, int ifc, const void *in, size_t len, struct th_res *r)
{
	th_run_repeat(prog_fd, ifc, in, len, 1, r);
}

void th_run_meta(int prog_fd, int ifindex, const void *in, size_t len, size_t metalen,
		 struct th_res *r)
{
	struct xdp_md ctx = { .data = (__u32)metalen, .data_end = (__u32)len,
			      .ingress_ifindex = (__u32)ifindex };
	struct xdp_md cto = { 0 };
	LIBBPF_OPTS(bpf_test_run_opts, t, .data_in = in, .data_size_in = (__u32)len,
		    .data_out = r->out, .data_size_out = sizeof(r->out), .ctx_in = &ctx,
		    .ctx_size_in = sizeof(ctx), .ctx_out = &cto, .ctx_size_out = sizeof(cto),
		    .repeat = 1);

	r->err = bpf_prog_test_run_opts(prog_fd, &t);
	if (r->err)
		r->err = -errno;
	r->ret = t.retval;
	r->len = t.data_size_out;
	r->meta = cto.data;
	r->duration = t.duration;
}

/* ---- counters, maps, events ------------------------------------------------- */

/* us_dp_read_stats() makes one syscall per counter: it is the fall-back. */
int th_read_stats(__u64 out[US_ST_MAX])
{
	__u32 keys[US_ST_MAX], count = US_ST_MAX, outb = 0;
	LIBBPF_OPTS(bpf_map_batch_opts, bo);
	int err;

	if (!th_pcpu_vals)
		return us_dp_read_stats(th.dp, out);
	err = bpf_map_lookup_batch(th.fd_stats, NULL, &outb, keys, th_pcpu_vals, &count, &bo);
	if ((err && errno != ENOENT) || count != US_ST_MAX)
		return us_dp_read_stats(th.dp, out);
	for (__u32 i = 0; i < US_ST_MAX; i++) {
		__u64 s = 0;

		for (int c = 0; c < th_ncpu; c++)
			s += th_pcpu_vals[i * th_ncpu + c];
		out[keys[i] < US_ST_MAX ? keys[i] : 0] = s;
	}
	return 0;
}

bool th_is_bad(int s)
{
	return s >= US_ST_BAD_L2 && s <= US_ST_TRUNC_BODY;
}

long long th_bad_delta(const __u64 *b, const __u64 *a)
{
	long long d = 0;

	for (int i = US_ST_BAD_L2; i <= US_ST_TRUNC_BODY; i++)
		d += (long long)(a[i] - b[i]);
	return d;
}

long th_map_count(int fd, size_t key_size)
{
	void *k = malloc(key_size);
	void *prev = NULL;
	long n = 0;

	if (!k)
		return -ENOMEM;
	while (!bpf_map_get_next_key(fd, prev, k)) {
		n++;
		prev = k;
	}
	free(k);
	return n;
}

/* Keys first, then the deletions (deleting as it goes would restart the
 * walk). */
void th_map_clear(int fd, size_t key_size)
{
	static __u8 keys[65536 * 32];
	size_t cap = sizeof(keys) / key_size, n = 0;
	__u8 *prev = NULL;

	while (n < cap && !bpf_map_get_next_key(fd, prev, keys + n * key_size)) {
		prev = keys + n * key_size;
		n++;
	}
	for (size_t i = 0; i < n; i++)
		bpf_map_delete_elem(fd, keys + i * key_size);
}

int th_events_drain(void)
{
	return ring_buffer__consume(th.rb);
}

/* ---- the runner ---------------------------------------------------------------- */

static struct th_test *th_tests;    /* registered, in any order */
static const char *th_pat[64];      /* -t patterns */
static bool th_pat_used[64];       /* matched a test */
static bool th_pat_sub[64];        /* TEST/SUBTEST: matched a subtest */
static int th_npat;

static struct {
	const struct th_test *t;    /* the test under way */
	int level;                  /* 0: the test's own checks, 1: in a subtest */
	int nsub;                   /* subtests run */
	int seen;                   /* subtests met, run or not */
} th_cur;

void th_register(struct th_test *t)
{
	t->next = th_tests;
	th_tests = t;
}

/* pattern "test" or "test/subtest..." against a test and (or not) a subtest */
static bool th_match(const char *pat, const char *test, const char *sub)
{
	const char *slash = strchr(pat, '/');
	char tp[128];

	if (!slash)
		return !fnmatch(pat, test, 0);
	snprintf(tp, sizeof(tp), "%.*s", (int)(slash - pat), pat);
	if (fnmatch(tp, test, 0))
		return false;
	return !sub || !fnmatch(slash + 1, sub, 0);
}

static bool th_selected(const char *test, const char *sub)
{
	bool any = false;

	if (!th_npat)
		return true;
	for (int i = 0; i < th_npat; i++) {
		if (th_match(th_pat[i], test, sub)) {
			th_pat_used[i] = true;
			th_pat_sub[i] |= sub != NULL;
			any = true;
		}
	}
	return any;
}

/* the test's own checks so far: a case of their own only when one failed */
static void th_end_level(void)
{
	if (th_cur.level == 1 || th_cfails)
		th_end();
}

bool th_subtest(const char *fmt, ...)
{
	char sub[128];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(sub, sizeof(sub), fmt, ap);
	va_end(ap);
	th_end_level();
	th_cur.seen++;
	if (!th_selected(th_cur.t->name, sub)) {
		th_cur.level = 0;
		th_begin("%s", th_cur.t->name);
		return false;
	}
	th_cur.level = 1;
	th_cur.nsub++;
	th_begin("%s/%s", th_cur.t->name, sub);
	return true;
}

static int th_test_cmp(const void *a, const void *b)
{
	return strcmp((*(const struct th_test *const *)a)->name,
		      (*(const struct th_test *const *)b)->name);
}

static void th_usage(FILE *f, const char *prog)
{
	fprintf(f, "usage: %s [-t PATTERN]... [-l] [-v]\n"
		"  -t, --test PATTERN  run the tests (TEST) or subtests (TEST/SUBTEST) whose\n"
		"                      names match (fnmatch patterns; repeatable)\n"
		"  -l, --list          list the tests and exit\n"
		"  -v, --verbose       a line per case (also US_TEST_VERBOSE=1)\n"
		"  -h, --help          this text\n"
		"Output: test:FAIL:<test>/<subtest> <what> actual <x> expected <y> per failed\n"
		"check; last line \"N passed, N failed\" (cases). Exit 0, 1 on a failure, 2 on\n"
		"bad arguments.\n", prog);
}

int th_main(int argc, char **argv, const struct th_fixture *fx)
{
	static const struct option opts[] = {
		{ "test", required_argument, NULL, 't' },
		{ "list", no_argument, NULL, 'l' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct th_test **v;
	bool list = false;
	size_t n = 0, i;
	int c;

	th_init();
	while ((c = getopt_long(argc, argv, "t:lvh", opts, NULL)) != -1) {
		switch (c) {
		case 't':
			if (th_npat == (int)ARRAY_SIZE(th_pat)) {
				fprintf(stderr, "%s: at most %zu -t patterns\n", argv[0],
					ARRAY_SIZE(th_pat));
				return 2;
			}
			th_pat[th_npat++] = optarg;
			break;
		case 'l': list = true; break;
		case 'v': th_verbose = 1; break;
		case 'h': th_usage(stdout, argv[0]); return 0;
		default: th_usage(stderr, argv[0]); return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "%s: unexpected argument \"%s\"\n", argv[0], argv[optind]);
		th_usage(stderr, argv[0]);
		return 2;
	}
	for (struct th_test *t = th_tests; t; t = t->next)
		n++;
	v = calloc(n ? n : 1, sizeof(*v));
	if (!v)
		return 1;
	n = 0;
	for (struct th_test *t = th_tests; t; t = t->next)
		v[n++] = t;
	qsort(v, n, sizeof(*v), th_test_cmp);
	if (list) {
		for (i = 0; i < n; i++)
			printf("%s\t%s\n", v[i]->name, v[i]->file);
		free(v);
		return 0;
	}
	for (i = 0; i < n; i++)
		th_selected(v[i]->name, NULL);
	for (int k = 0; k < th_npat; k++) {
		if (!th_pat_used[k]) {
			fprintf(stderr, "%s: no test matches \"%s\" (-l lists them)\n", argv[0],
				th_pat[k]);
			free(v);
			return 2;
		}
	}
	if (th_need_root()) {
		free(v);
		return 1;
	}
	if (fx && fx->once && th_setup_case(fx->once)) {
		free(v);
		return 1;
	}
	for (i = 0; i < n; i++) {
		if (!th_selected(v[i]->name, NULL))
			continue;
		th_cur.t = v[i];
		th_cur.level = 0;
		th_cur.nsub = 0;
		th_cur.seen = 0;
		th_begin("%s", v[i]->name);
		if (fx && fx->setup && fx->setup()) {
			th_end();
		} else {
			v[i]->fn();
			/* a test without subtests is a case of its own */
			if (th_cur.level == 1 || th_cfails || !th_cur.seen)
				th_end();
		}
		if (fx && fx->teardown)
			fx->teardown();
		if (th_verbose)
			printf("test:info:%s done: %d passed, %d failed so far\n", v[i]->name,
			       th_npass, th_nfail);
	}
	free(v);
	for (int k = 0; k < th_npat; k++) {
		if (strchr(th_pat[k], '/') && !th_pat_sub[k]) {
			printf("test:FAIL:%s no subtest matches\n", th_pat[k]);
			th_nfail++;
		}
	}
	return th_finish();
}
