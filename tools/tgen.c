// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * tgen: the SIP traffic generator (tgen.h). Templates are real SIP messages
 * whose Call-ID, Via branch and From tag carry a 10-character placeholder;
 * the XDP program writes the call number there in every frame it sends.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <linux/bpf.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "pktbuild.h"
#include "tgen.h"
#include "trafficgen.skel.h"

#define PH "##########"
/* frames per syscall flat out: every run swaps the XDP dispatcher's
 * program in and out (text patching, with IPIs), which costs microseconds */
#define TG_BATCH_MAX (1u << 16) /* TG_DIGITS placeholder characters */

struct tg {
	struct tg_opts o;
	struct trafficgen_bpf *sk;
	int nsfd;                       /* -1: the caller's namespace */
	int ifindex;
	int ncpu;
	struct tg_cfg cfg;
	struct tg_result names;         /* ntmpl, names, lens */
	__u8 *frame0;                   /* the largest template: the runs' data_in */
	__u32 frame0_len;
};

static void seterr(char *err, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void seterr(char *err, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, len, fmt, ap);
	va_end(ap);
}

int tg_parse_mac(const char *s, __u8 mac[6])
{
	unsigned v[6];
	char tail;

	if (sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
		   &tail) != 6)
		return -EINVAL;
	for (int i = 0; i < 6; i++)
		mac[i] = (__u8)v[i];
	return 0;
}

/* ---- messages --------------------------------------------------------------- */

struct msgdef {
	const char *name;
	const char *method;     /* NULL: a response */
	int status;
	const char *reason;
	char branch;            /* branch letter: i INVITE transaction, a ACK, b BYE, o OPTIONS */
	unsigned cseq;
	const char *cseq_method;
	bool to_tag, sdp;
};

/* The generator plays no machine: no dialog of a simulation machine is ever
 * confirmed, so requests naming the active machine's would be held back
 * (dialog translation). Its ACK and BYE name no dialog (no To-tag), which
 * copies them as they are: the copy throughput here; the cost of a copy
 * rewritten to name a dialog is bench_xdp's request_rewritten. */
static const struct msgdef msgs[] = {
	{ "invite", "INVITE", 0, NULL, 'i', 1, "INVITE", false, true },
	{ "ack", "ACK", 0, NULL, 'a', 1, "ACK", false, false },
	{ "bye", "BYE", 0, NULL, 'b', 2, "BYE", false, false },
	{ "cancel", "CANCEL", 0, NULL, 'i', 1, "CANCEL", false, false },
	{ "options", "OPTIONS", 0, NULL, 'o', 1, "OPTIONS", false, false },
	{ "100", NULL, 100, "Trying", 'i', 1, "INVITE", false, false },
	{ "180", NULL, 180, "Ringing", 'i', 1, "INVITE", true, false },
	{ "200", NULL, 200, "OK", 'i', 1, "INVITE", true, true },
	{ "503", NULL, 503, "Service Unavailable", 'i', 1, "INVITE", true, false },
	{ "200bye", NULL, 200, "OK", 'b', 2, "BYE", true, false },
};

/* The SIP text of one message; the client is the request's sender (a
 * response goes back to it). pad: bytes of SDP padding. */
static size_t sip_text(char *buf, size_t cap, const struct msgdef *m, const struct tg_opts *o,
		       size_t pad)
{
	const char *cli = m->method ? o->saddr : o->daddr, *srv = m->method ? o->daddr : o->saddr;
	unsigned cport = m->method ? o->sport : o->dport, sport = m->method ? o->dport : o->sport;
	char body[TG_FRAME_MAX];
	size_t blen = 0;
	int n;

	if (m->sdp) {
		n = snprintf(body, sizeof(body),
			     "v=0\r\no=tg 2890844526 2890844526 IN IP4 %s\r\ns=-\r\n"
			     "c=IN IP4 %s\r\nt=0 0\r\nm=audio 49170 RTP/AVP 0 8 101\r\n"
			     "a=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n"
			     "a=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n",
			     m->method ? cli : srv, m->method ? cli : srv);
		blen = (size_t)n;
		if (pad >= 12 && blen + pad < sizeof(body)) {
			memcpy(body + blen, "a=x-pad:", 8);
			memset(body + blen + 8, 'p', pad - 10);
			memcpy(body + blen + pad - 2, "\r\n", 2);
			blen += pad;
		}
	}
	if (m->method)
		n = snprintf(buf, cap, "%s sip:service@%s:%u SIP/2.0\r\n", m->method, srv, sport);
	else
		n = snprintf(buf, cap, "SIP/2.0 %d %s\r\n", m->status, m->reason);
	n += snprintf(buf + n, cap - n,
		      "Via: SIP/2.0/UDP %s:%u;branch=z9hG4bK-tg%c" PH ";rport\r\n"
		      "Max-Forwards: 70\r\n"
		      "From: \"trafficgen\" <sip:tg@%s>;tag=tg" PH "\r\n"
		      "To: <sip:service@%s>%s\r\n"
		      "Call-ID: " PH "-tg@%s\r\n"
		      "CSeq: %u %s\r\n",
		      cli, cport, m->branch, cli, srv, m->to_tag ? ";tag=tgsrv1" : "", cli, m->cseq,
		      m->cseq_method);
	if (m->method || m->status == 200)
		n += snprintf(buf + n, cap - n, "Contact: <sip:%s@%s:%u>\r\n",
			      m->method ? "tg" : "service", m->method ? cli : srv,
			      m->method ? cport : sport);
	if (m->method && !strcmp(m->method, "INVITE"))
		n += snprintf(buf + n, cap - n,
			      "User-Agent: understudy-trafficgen\r\n"
			      "Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, PRACK, UPDATE\r\n"
			      "Supported: replaces, timer\r\n");
	if (blen)
		n += snprintf(buf + n, cap - n, "Content-Type: application/sdp\r\n");
	n += snprintf(buf + n, cap - n, "Content-Length: %zu\r\n\r\n", blen);
	if ((size_t)n + blen >= cap)
		return 0;
	memcpy(buf + n, body, blen);
	return (size_t)n + blen;
}

static size_t frame_of(struct tg_tmpl *t, const struct msgdef *m, const struct tg_opts *o,
		       size_t pad)
{
	struct pkt_l2l4 l = { .family = AF_INET, .saddr = o->saddr, .daddr = o->daddr,
			      .sport = o->sport, .dport = o->dport };
	char sip[TG_FRAME_MAX];
	size_t n = sip_text(sip, sizeof(sip), m, o, pad), len;

	memcpy(l.smac, o->smac, 6);
	memcpy(l.dmac, o->dmac, 6);
	if (!n)
		return 0;
	len = pkt_build(t->data, sizeof(t->data), &l, sip, n);
	if (!len)
		return 0;
	/* UDP checksum "none": every frame's digits differ */
	t->data[pkt_l3_end(&l) + 6] = 0;
	t->data[pkt_l3_end(&l) + 7] = 0;
	t->len = (__u32)len;
	t->nmarks = 0;
	for (size_t i = 0; i + TG_DIGITS <= len && t->nmarks < TG_MARKS; i++) {
		if (!memcmp(t->data + i, PH, TG_DIGITS)) {
			t->mark_off[t->nmarks++] = (__u16)i;
			memset(t->data + i, '0', TG_DIGITS);
			i += TG_DIGITS - 1;
		}
	}
	return len;
}

/* A template for message m, its INVITE padded to o->size if asked. */
static int build_tmpl(struct tg_tmpl *t, const struct msgdef *m, const struct tg_opts *o,
		      char *err, size_t errlen)
{
	size_t len = frame_of(t, m, o, 0), pad;

	if (!len) {
		seterr(err, errlen, "%s: the message does not fit in %d bytes", m->name, TG_FRAME_MAX);
		return -EINVAL;
	}
	if (!o->size || !m->method || strcmp(m->method, "INVITE"))
		return 0;
	if (o->size < len + 12) {
		seterr(err, errlen, "--size %zu: the INVITE is %zu bytes without padding "
		       "(the least is %zu)", o->size, len, len + 12);
		return -EINVAL;
	}
	/* the Content-Length's digits may grow with the padding: settle it */
	pad = o->size - len;
	for (int i = 0; i < 3 && len != o->size; i++) {
		len = frame_of(t, m, o, pad);
		if (!len)
			break;
		pad += o->size - len;
	}
	if (len != o->size) {
		seterr(err, errlen, "--size %zu: cannot pad the INVITE to that (at most %d)", o->size,
		       TG_FRAME_MAX);
		return -EINVAL;
	}
	return 0;
}

/* "invite,ack:2,bye" into cfg->script and the templates */
static int parse_mix(struct tg *g, char *err, size_t errlen)
{
	const char *mix = g->o.mix ? g->o.mix : "invite,ack,bye";
	char buf[512], *save = NULL, *tok;
	int ids[sizeof(msgs) / sizeof(msgs[0])];

	if (strlen(mix) >= sizeof(buf)) {
		seterr(err, errlen, "--mix: too long");
		return -EINVAL;
	}
	memset(ids, -1, sizeof(ids));
	strcpy(buf, mix);
	g->cfg.script_len = 0;
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *colon = strchr(tok, ':'), *end;
		unsigned long reps = 1;
		size_t m;

		if (colon) {
			*colon = 0;
			errno = 0;
			reps = strtoul(colon + 1, &end, 10);
			if (errno || *end || end == colon + 1 || reps < 1 || reps > TG_SCRIPT_MAX) {
				seterr(err, errlen, "--mix: \"%s:%s\": the repeat count must be 1..%d",
				       tok, colon + 1, TG_SCRIPT_MAX);
				return -EINVAL;
			}
		}
		for (m = 0; m < sizeof(msgs) / sizeof(msgs[0]); m++)
			if (!strcmp(tok, msgs[m].name))
				break;
		if (m == sizeof(msgs) / sizeof(msgs[0])) {
			seterr(err, errlen, "--mix: unknown message \"%s\" (known: invite ack bye "
			       "cancel options 100 180 200 503 200bye)", tok);
			return -EINVAL;
		}
		if (ids[m] < 0) {
			struct tg_tmpl t;
			int id = g->names.ntmpl++, e;
			__u32 key = (__u32)id;

			memset(&t, 0, sizeof(t));
			e = build_tmpl(&t, &msgs[m], &g->o, err, errlen);
			if (e)
				return e;
			if (bpf_map_update_elem(bpf_map__fd(g->sk->maps.tg_tmpls), &key, &t, 0)) {
				seterr(err, errlen, "template %s: %s", tok, strerror(errno));
				return -errno;
			}
			snprintf(g->names.names[id], sizeof(g->names.names[id]), "%s", tok);
			g->names.lens[id] = t.len;
			if (t.len > g->frame0_len) {
				memcpy(g->frame0, t.data, t.len);
				g->frame0_len = t.len;
			}
			ids[m] = id;
		}
		for (unsigned long r = 0; r < reps; r++) {
			if (g->cfg.script_len == TG_SCRIPT_MAX) {
				seterr(err, errlen, "--mix: more than %d messages per call", TG_SCRIPT_MAX);
				return -EINVAL;
			}
			g->cfg.script[g->cfg.script_len++] = (__u32)ids[m];
		}
	}
	if (!g->cfg.script_len) {
		seterr(err, errlen, "--mix: empty");
		return -EINVAL;
	}
	return 0;
}

/* ---- namespaces, interface -------------------------------------------------- */

static int enter_ns(int nsfd)
{
	return nsfd < 0 ? 0 : setns(nsfd, CLONE_NEWNET);
}

static int resolve_if(struct tg *g, char *err, size_t errlen)
{
	int home = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC), e = 0;
	struct ifreq ifr;
	int s;

	if (home < 0 || enter_ns(g->nsfd)) {
		seterr(err, errlen, "entering the namespace %s: %s", g->o.netns, strerror(errno));
		if (home >= 0)
			close(home);
		return -errno;
	}
	g->ifindex = (int)if_nametoindex(g->o.ifname);
	if (!g->ifindex) {
		e = -errno;
		seterr(err, errlen, "interface %s: %s", g->o.ifname, strerror(errno));
	}
	static const __u8 zero[6];
	if (!e && !memcmp(g->o.smac, zero, 6)) {
		s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		memset(&ifr, 0, sizeof(ifr));
		snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", g->o.ifname);
		if (s < 0 || ioctl(s, SIOCGIFHWADDR, &ifr)) {
			e = -errno;
			seterr(err, errlen, "MAC address of %s: %s", g->o.ifname, strerror(errno));
		} else {
			memcpy(g->o.smac, ifr.ifr_hwaddr.sa_data, 6);
		}
		if (s >= 0)
			close(s);
	}
	if (home >= 0 && setns(home, CLONE_NEWNET) && !e) {
		e = -errno;
		seterr(err, errlen, "back to the home namespace: %s", strerror(errno));
	}
	close(home);
	return e;
}

/* ---- open, run, close ------------------------------------------------------- */

int tg_open(const struct tg_opts *o, struct tg **out, char *err, size_t errlen)
{
	struct tg *g = calloc(1, sizeof(*g));
	struct in_addr a;
	int e;

	*out = NULL;
	if (!g)
		return -ENOMEM;
	g->o = *o;
	g->nsfd = -1;
	g->ncpu = libbpf_num_possible_cpus();
	e = -EINVAL;
	if (!o->ifname || !*o->ifname) {
		seterr(err, errlen, "no interface given");
		goto fail;
	}
	if (!o->saddr || inet_pton(AF_INET, o->saddr, &a) != 1 || !o->daddr ||
	    inet_pton(AF_INET, o->daddr, &a) != 1) {
		seterr(err, errlen, "source and destination must be IPv4 addresses (\"%s\", \"%s\")",
		       o->saddr ? o->saddr : "", o->daddr ? o->daddr : "");
		goto fail;
	}
	if (o->threads < 1 || o->threads > TG_THREADS_MAX || g->ncpu < 0 ||
	    o->first_cpu < 0 || o->first_cpu + o->threads > g->ncpu) {
		seterr(err, errlen, "threads %d from CPU %d: this machine has CPUs 0..%d",
		       o->threads, o->first_cpu, g->ncpu - 1);
		goto fail;
	}
	if (o->rate < 0 || o->duration < 0 || (!o->count && !o->duration)) {
		seterr(err, errlen, "give a count or a duration (and a rate >= 0)");
		goto fail;
	}
	if (o->size && (o->size < TG_FRAME_MIN || o->size > TG_FRAME_MAX)) {
		seterr(err, errlen, "--size %zu: must be %d..%d", o->size, TG_FRAME_MIN, TG_FRAME_MAX);
		goto fail;
	}
	if (o->netns) {
		char path[300];

		snprintf(path, sizeof(path), "%s%s", strchr(o->netns, '/') ? "" : "/run/netns/",
			 o->netns);
		g->nsfd = open(path, O_RDONLY | O_CLOEXEC);
		if (g->nsfd < 0) {
			e = -errno;
			seterr(err, errlen, "network namespace %s: %s", path, strerror(errno));
			goto fail;
		}
	}
	e = resolve_if(g, err, errlen);
	if (e)
		goto fail;
	g->frame0 = calloc(1, TG_FRAME_MAX);
	g->sk = trafficgen_bpf__open_and_load();
	if (!g->sk || !g->frame0) {
		e = -errno ? -errno : -ENOMEM;
		seterr(err, errlen, "loading the generator program: %s", strerror(-e));
		goto fail;
	}
	e = parse_mix(g, err, errlen);
	if (e)
		goto fail;
	g->cfg.call_base = o->call_base;
	g->sk->bss->tg_cfg = g->cfg;
	*out = g;
	return 0;
fail:
	tg_close(g);
	return e;
}

void tg_close(struct tg *g)
{
	if (!g)
		return;
	trafficgen_bpf__destroy(g->sk);
	if (g->nsfd >= 0)
		close(g->nsfd);
	free(g->frame0);
	free(g);
}

struct worker {
	struct tg *g;
	int cpu;
	__u64 count;            /* 0: until the deadline */
	double rate;            /* this thread's; 0: flat out */
	double deadline;        /* CLOCK_MONOTONIC seconds; 0: none */
	__u64 attempted;
	int err;
	char what[128];
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void *work(void *arg)
{
	struct worker *w = arg;
	struct tg *g = w->g;
	struct xdp_md ctx = { .data_end = g->frame0_len };
	__u32 batch = g->o.batch;
	cpu_set_t set;
	double t0;
	LIBBPF_OPTS(bpf_test_run_opts, t, .data_in = g->frame0, .data_size_in = g->frame0_len,
		    .ctx_in = &ctx, .ctx_size_in = sizeof(ctx),
		    .flags = BPF_F_TEST_XDP_LIVE_FRAMES);

	CPU_ZERO(&set);
	CPU_SET(w->cpu, &set);
	if (pthread_setaffinity_np(pthread_self(), sizeof(set), &set) || enter_ns(g->nsfd)) {
		w->err = errno ? errno : EINVAL;
		snprintf(w->what, sizeof(w->what), "CPU %d / namespace", w->cpu);
		return NULL;
	}
	ctx.ingress_ifindex = (__u32)g->ifindex;
	if (!batch)
		batch = w->rate > 0 ? (__u32)(w->rate / 1000 > 1 ? w->rate / 1000 : 1) : TG_BATCH_MAX;
	t0 = now_s();
	for (;;) {
		__u32 n = batch;
		double now = now_s();

		if (w->deadline && now >= w->deadline)
			break;
		if (w->count) {
			if (w->attempted >= w->count)
				break;
			if (w->count - w->attempted < n)
				n = (__u32)(w->count - w->attempted);
		}
		if (w->rate > 0) {
			double due = t0 + w->attempted / w->rate;

			if (due > now) {
				struct timespec ts = { .tv_sec = (time_t)(due - now),
						       .tv_nsec = (long)((due - now - (time_t)(due - now)) * 1e9) };

				nanosleep(&ts, NULL);
				continue;
			}
		}
		t.repeat = n;
		if (bpf_prog_test_run_opts(bpf_program__fd(g->sk->progs.tg_gen), &t)) {
			w->err = errno;
			snprintf(w->what, sizeof(w->what), "BPF_PROG_TEST_RUN (live frames) on CPU %d",
				 w->cpu);
			break;
		}
		w->attempted += n;
	}
	return NULL;
}

/* per-CPU counters summed: key 0 the sequence, 1 + t template t */
static int read_counts(struct tg *g, __u64 *seq_cpu, __u64 sent[TG_TMPL_MAX])
{
	int fd = bpf_map__fd(g->sk->maps.tg_counts);
	__u64 *v = calloc((size_t)g->ncpu, sizeof(*v));

	if (!v)
		return -ENOMEM;
	for (__u32 k = 0; k <= (__u32)g->names.ntmpl; k++) {
		if (bpf_map_lookup_elem(fd, &k, v)) {
			free(v);
			return -errno;
		}
		for (int c = 0; c < g->ncpu; c++) {
			if (k == 0)
				seq_cpu[c] = v[c];
			else
				sent[k - 1] += v[c];
		}
	}
	free(v);
	return 0;
}

int tg_run(struct tg *g, struct tg_result *r, char *err, size_t errlen)
{
	struct worker w[TG_THREADS_MAX];
	pthread_t th[TG_THREADS_MAX];
	__u64 *seq0 = calloc((size_t)g->ncpu, sizeof(__u64)), *seq1 = calloc((size_t)g->ncpu, sizeof(__u64));
	__u64 sent0[TG_TMPL_MAX] = { 0 }, sent1[TG_TMPL_MAX] = { 0 };
	double t0, deadline;
	int e = 0, started = 0;

	*r = g->names;
	if (!seq0 || !seq1) {
		e = -ENOMEM;
		goto out;
	}
	e = read_counts(g, seq0, sent0);
	if (e) {
		seterr(err, errlen, "reading the generator's counters: %s", strerror(-e));
		goto out;
	}
	t0 = now_s();
	deadline = g->o.duration > 0 ? t0 + g->o.duration : 0;
	for (int i = 0; i < g->o.threads; i++) {
		w[i] = (struct worker){
			.g = g, .cpu = g->o.first_cpu + i, .rate = g->o.rate / g->o.threads,
			.deadline = deadline,
			.count = g->o.count ? g->o.count / g->o.threads +
				 (i < (int)(g->o.count % g->o.threads)) : 0,
		};
		if (g->o.count && !w[i].count)
			continue;
		e = pthread_create(&th[i], NULL, work, &w[i]);
		if (e) {
			seterr(err, errlen, "starting thread %d: %s", i, strerror(e));
			e = -e;
			break;
		}
		started = i + 1;
	}
	for (int i = 0; i < started; i++) {
		if (g->o.count && !w[i].count)
			continue;
		pthread_join(th[i], NULL);
		r->attempted += w[i].attempted;
		if (w[i].err && !e) {
			e = -w[i].err;
			seterr(err, errlen, "%s: %s", w[i].what, strerror(w[i].err));
		}
	}
	r->seconds = now_s() - t0;
	if (read_counts(g, seq1, sent1) && !e) {
		e = -EIO;
		seterr(err, errlen, "reading the generator's counters");
	}
	for (int t = 0; t < g->names.ntmpl; t++) {
		r->sent[t] = sent1[t] - sent0[t];
		r->sent_total += r->sent[t];
	}
	for (int c = 0; c < g->ncpu; c++)
		r->calls += seq1[c] / g->cfg.script_len - seq0[c] / g->cfg.script_len;
out:
	free(seq0);
	free(seq1);
	return e;
}
