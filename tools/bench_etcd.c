// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * What one etcd member (Debian's) sustains through its JSON gateway with
 * the project's client (userspace/etcd.h), on this machine: writes per
 * second and their latency, and what a revision costs in storage. The
 * member runs in a namespace of its own (tests/etcdlab.h), its data on the
 * disk under /tmp, with etcd's default heartbeat and election time-out.
 *
 *   put        one key, a 200-byte value (-s)
 *   txn        a compare-and-swap: if the key's mod_revision is the one
 *              last written, put it and an audit key (a value each)
 *   batch100   one transaction of 100 puts of a value each (one agent's
 *              counters of 100 machines, say)
 * each by 1 client (one request after another) and by 16 clients at once
 * (threads, one connection each); a case runs -d seconds, -r times: the
 * median rate and the latencies of its median run.
 *
 *   storage    first, on the fresh member: -n puts of a value over
 *              1,000 keys; per revision, the growth of the database's
 *              pages in use (etcd keeps every revision until a compaction)
 *              and the bytes etcd wrote to the disk (write-ahead log and
 *              database: /proc/PID/io); the database in use after a
 *              compaction
 * and for every case etcd's CPU time per request (/proc/PID/stat).
 *
 * Usage: bench_etcd [-r RUNS] [-d SECONDS] [-c CLIENTS] [-n PUTS] [-s BYTES] [-j FILE]
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/types.h>

#include "etcd.h"
#include "etcdlab.h"

#define MAX_RUNS    16
#define MAX_CLIENTS 64
#define VALUE_MAX   (1 << 20)
#define LAT_MAX     200000       /* latencies kept per client and run */

enum kind { K_PUT, K_TXN, K_BATCH, K_MAX };
static const char *const kind_name[K_MAX] = { "put", "txn", "batch100" };

static struct el_member m1;
static double opt_secs = 2;
static char *value;
static size_t value_len = 200;  /* -s */

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* etcd's CPU time so far, seconds */
static double etcd_cpu(void)
{
	char path[64], buf[1024], *p;
	unsigned long long ut = 0, st = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)m1.pid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = '\0';
	fclose(f);
	p = strrchr(buf, ')');
	/* after the name: state, then fields 4..; utime and stime are 14, 15 */
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut,
			 &st) != 2)
		return 0;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* bytes etcd has caused to be written to the disk */
static long long etcd_disk_writes(void)
{
	char path[64], line[128];
	long long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/io", (int)m1.pid);
	f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "write_bytes: %lld", &v) == 1)
			break;
	if (f)
		fclose(f);
	return v;
}

struct worker {
	pthread_t t;
	int id, run;
	enum kind kind;
	double deadline;
	long ops, errors;
	char err[256];
	double *lat;                /* seconds per request */
	long nlat;
};

static struct us_etcd *client(long timeout_ms)
{
	const char *ep[] = { m1.url };
	struct us_etcd_opts o = { .endpoints = ep, .nendpoints = 1, .timeout_ms = timeout_ms };
	struct us_etcd *c;
	char err[256];

	if (us_etcd_open(&o, &c, err, sizeof(err))) {
		fprintf(stderr, "bench_etcd: %s\n", err);
		return NULL;
	}
	return c;
}

static void *work(void *arg)
{
	struct worker *w = arg;
	struct us_etcd *c = client(5000);
	struct us_etcd_op ops[100];
	struct us_etcd_txn_res res;
	struct us_etcd_cmp cmp;
	char key[64], audit[64], keys[100][64];
	int64_t mod = 0;

	if (!c) {
		w->errors++;
		return NULL;
	}
	snprintf(key, sizeof(key), "bench/%s/%d/%d", kind_name[w->kind], w->run, w->id);
	for (int i = 0; i < 100; i++) {
		snprintf(keys[i], sizeof(keys[i]), "bench/batch/%d/%d/%03d", w->run, w->id, i);
		ops[i] = (struct us_etcd_op){ US_ETCD_OP_PUT, keys[i], value, value_len, 0 };
	}
	if (w->kind == K_TXN && us_etcd_put(c, key, value, value_len, 0, &mod)) {
		snprintf(w->err, sizeof(w->err), "%s", us_etcd_error(c));
		w->errors++;
		us_etcd_close(c);
		return NULL;
	}
	while (now_s() < w->deadline) {
		double t0 = now_s();
		int err = 0;

		switch (w->kind) {
		case K_PUT:
			err = us_etcd_put(c, key, value, value_len, 0, NULL);
			break;
		case K_TXN:
			snprintf(audit, sizeof(audit), "bench/audit/%d/%d/%ld", w->run, w->id, w->ops);
			cmp = (struct us_etcd_cmp){ key, US_ETCD_MOD, US_ETCD_EQ, mod };
			ops[0] = (struct us_etcd_op){ US_ETCD_OP_PUT, key, value, value_len, 0 };
			ops[1] = (struct us_etcd_op){ US_ETCD_OP_PUT, audit, value, value_len, 0 };
			err = us_etcd_txn(c, &cmp, 1, ops, 2, &res, NULL);
			if (!err && !res.succeeded)
				err = -ESTALE;
			mod = res.revision;
			break;
		case K_BATCH:
			err = us_etcd_txn(c, NULL, 0, ops, 100, &res, NULL);
			break;
		default:
			break;
		}
		if (err) {
			if (!w->err[0])
				snprintf(w->err, sizeof(w->err), "%s", err == -ESTALE ?
					 "a compare-and-swap failed" : us_etcd_error(c));
			w->errors++;
			continue;
		}
		if (w->nlat < LAT_MAX)
			w->lat[w->nlat++] = now_s() - t0;
		w->ops++;
	}
	us_etcd_close(c);
	return NULL;
}

struct result {
	double rate;                /* requests per second */
	double cpu_us;              /* etcd's CPU time per request, microseconds */
	double p50_ms, p99_ms;
	long errors;
};

static int one_run(enum kind k, int clients, int run, struct result *r)
{
	static struct worker w[MAX_CLIENTS];
	double t0, t1, cpu0, cpu1, *all;
	long n = 0, ops = 0;

	memset(r, 0, sizeof(*r));
	cpu0 = etcd_cpu();
	t0 = now_s();
	for (int i = 0; i < clients; i++) {
		w[i] = (struct worker){ .id = i, .run = run, .kind = k, .deadline = t0 + opt_secs };
		w[i].lat = malloc(sizeof(double) * LAT_MAX);
		if (!w[i].lat || pthread_create(&w[i].t, NULL, work, &w[i]))
			return -1;
	}
	for (int i = 0; i < clients; i++)
		pthread_join(w[i].t, NULL);
	t1 = now_s();
	cpu1 = etcd_cpu();
	for (int i = 0; i < clients; i++) {
		n += w[i].nlat;
		ops += w[i].ops;
		r->errors += w[i].errors;
		if (w[i].err[0])
			fprintf(stderr, "bench_etcd: %s, client %d: %s\n", kind_name[k], i, w[i].err);
	}
	all = malloc(sizeof(double) * (n ? n : 1));
	if (!all)
		return -1;
	n = 0;
	for (int i = 0; i < clients; i++) {
		memcpy(all + n, w[i].lat, sizeof(double) * w[i].nlat);
		n += w[i].nlat;
		free(w[i].lat);
	}
	qsort(all, n, sizeof(double), cmp_double);
	r->rate = ops / (t1 - t0);
	r->cpu_us = ops ? (cpu1 - cpu0) / ops * 1e6 : 0;
	if (n) {
		r->p50_ms = all[n / 2] * 1e3;
		r->p99_ms = all[(long)(n * 0.99)] * 1e3;
	}
	free(all);
	return 0;
}

static int cmp_result(const void *a, const void *b)
{
	const struct result *x = a, *y = b;

	return x->rate < y->rate ? -1 : x->rate > y->rate;
}

struct storage {
	long puts;
	int64_t revisions;
	int64_t in_use0, in_use1, in_use_after;
	long long disk;             /* bytes written to the disk */
	double cpu_us;              /* etcd's CPU a put */
};

static int storage(long puts, struct storage *s)
{
	struct us_etcd *c = client(5000);
	struct us_etcd_status st;
	long long w0;
	int64_t rev0;
	double cpu0;
	char key[64];

	if (!c)
		return -1;
	memset(s, 0, sizeof(*s));
	s->puts = puts;
	if (us_etcd_status(c, &st))
		goto out_err;
	rev0 = st.revision;
	s->in_use0 = st.db_size_in_use;
	w0 = etcd_disk_writes();
	cpu0 = etcd_cpu();
	for (long i = 0; i < puts; i++) {
		snprintf(key, sizeof(key), "store/%04ld", i % 1000);
		if (us_etcd_put(c, key, value, value_len, 0, NULL))
			goto out_err;
	}
	s->cpu_us = (etcd_cpu() - cpu0) / (double)puts * 1e6;
	/* the database's pages reach the disk at its next commit (100 ms) */
	usleep(300000);
	s->disk = etcd_disk_writes() - w0;
	if (us_etcd_status(c, &st))
		goto out_err;
	s->revisions = st.revision - rev0;
	s->in_use1 = st.db_size_in_use;
	if (us_etcd_compact(c, st.revision, true) || us_etcd_status(c, &st))
		goto out_err;
	s->in_use_after = st.db_size_in_use;
	us_etcd_close(c);
	return 0;
out_err:
	fprintf(stderr, "bench_etcd: storage: %s\n", us_etcd_error(c));
	us_etcd_close(c);
	return -1;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: bench_etcd [-r RUNS] [-d SECONDS] [-c CLIENTS] [-n PUTS] [-s BYTES] "
		"[-j FILE]\n"
		"  -r RUNS     runs of each case (default 3, at most %d); the median is reported\n"
		"  -d SECONDS  length of a run (default 2)\n"
		"  -c CLIENTS  clients at once in the concurrent cases (default 16, at most %d)\n"
		"  -n PUTS     puts of the storage case (default 20000)\n"
		"  -s BYTES    the values' size (default 200, at most 1 MiB)\n"
		"  -j FILE     also write the figures as JSON\n", MAX_RUNS, MAX_CLIENTS);
}

int main(int argc, char **argv)
{
	/* etcd's defaults, over etcdlab's quick ones for tests */
	static const char *const extra[] = { "--heartbeat-interval", "100", "--election-timeout",
					     "1000", NULL };
	struct result res[K_MAX][2][MAX_RUNS], med[K_MAX][2];
	int runs = 3, conc = 16, ch;
	long puts = 20000;
	const char *json = NULL;
	struct us_etcd_status st;
	struct us_etcd *c;
	struct storage s;
	FILE *j;

	while ((ch = getopt(argc, argv, "r:d:c:n:s:j:h")) != -1) {
		switch (ch) {
		case 'r': runs = atoi(optarg); break;
		case 'd': opt_secs = atof(optarg); break;
		case 'c': conc = atoi(optarg); break;
		case 'n': puts = atol(optarg); break;
		case 's': value_len = (size_t)atol(optarg); break;
		case 'j': json = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (runs < 1 || runs > MAX_RUNS || opt_secs <= 0 || conc < 1 || conc > MAX_CLIENTS ||
	    puts < 100 || value_len < 1 || value_len > VALUE_MAX) {
		usage(stderr);
		return 2;
	}
	value = malloc(value_len);
	if (!value)
		return 1;
	memset(value, 'v', value_len);
	if (el_enter("usbetcd") || el_start(&m1, "bench", EL_ADDR1, NULL, 20000, extra)) {
		fprintf(stderr, "bench_etcd: %s\n", el_err);
		return 1;
	}
	if (!(c = client(2000)) || us_etcd_status(c, &st)) {
		fprintf(stderr, "bench_etcd: status: %s\n", c ? us_etcd_error(c) : "");
		return 1;
	}
	us_etcd_close(c);
	printf("etcd %s, one member, data under %s, %ld CPUs; %d runs of %.1f s a case\n",
	       st.version, el_dir, sysconf(_SC_NPROCESSORS_ONLN), runs, opt_secs);
	if (storage(puts, &s))
		return 1;
	printf("storage: %ld puts of %zu bytes over 1000 keys (%" PRId64 " revisions), per revision:\n"
	       "  database pages in use  +%.0f bytes (%" PRId64 " -> %" PRId64 "; %" PRId64
	       " after a compaction)\n"
	       "  written to the disk    %.0f bytes (write-ahead log and database)\n"
	       "  etcd CPU               %.0f us\n",
	       s.puts, value_len, s.revisions, (double)(s.in_use1 - s.in_use0) / (double)s.revisions,
	       s.in_use0, s.in_use1, s.in_use_after, (double)s.disk / (double)s.revisions, s.cpu_us);
	printf("%-10s %8s %12s %9s %9s %12s %7s\n", "case", "clients", "requests/s", "p50 ms",
	       "p99 ms", "etcd CPU us", "errors");
	for (int k = 0; k < K_MAX; k++) {
		for (int ci = 0; ci < 2; ci++) {
			int clients = ci ? conc : 1;

			for (int r = 0; r < runs; r++)
				if (one_run(k, clients, r, &res[k][ci][r]))
					return 1;
			qsort(res[k][ci], runs, sizeof(res[0][0][0]), cmp_result);
			med[k][ci] = res[k][ci][runs / 2];
			printf("%-10s %8d %12.0f %9.2f %9.2f %12.0f %7ld\n", kind_name[k], clients,
			       med[k][ci].rate, med[k][ci].p50_ms, med[k][ci].p99_ms, med[k][ci].cpu_us,
			       med[k][ci].errors);
		}
	}
	if (json) {
		j = fopen(json, "w");
		if (!j) {
			perror(json);
			return 1;
		}
		fprintf(j, "{\n  \"etcd\": \"%s\", \"runs\": %d, \"seconds\": %.1f, \"value_bytes\": %zu,\n",
			st.version, runs, opt_secs, value_len);
		fprintf(j, "  \"cases\": [\n");
		for (int k = 0; k < K_MAX; k++)
			for (int ci = 0; ci < 2; ci++)
				fprintf(j, "    {\"case\": \"%s\", \"clients\": %d, \"requests_per_s\": %.0f, "
					"\"p50_ms\": %.2f, \"p99_ms\": %.2f, \"etcd_cpu_us\": %.0f, "
					"\"errors\": %ld}%s\n",
					kind_name[k], ci ? conc : 1, med[k][ci].rate, med[k][ci].p50_ms,
					med[k][ci].p99_ms, med[k][ci].cpu_us, med[k][ci].errors,
					k == K_MAX - 1 && ci == 1 ? "" : ",");
		fprintf(j, "  ],\n  \"storage\": {\"puts\": %ld, \"revisions\": %" PRId64
			", \"db_in_use_bytes_per_revision\": %.0f, \"disk_bytes_per_revision\": %.0f, "
			"\"etcd_cpu_us_per_put\": %.0f, \"db_in_use_after_compaction\": %" PRId64 "}\n}\n",
			s.puts, s.revisions, (double)(s.in_use1 - s.in_use0) / (double)s.revisions,
			(double)s.disk / (double)s.revisions, s.cpu_us, s.in_use_after);
		fclose(j);
	}
	el_leave();
	return 0;
}
