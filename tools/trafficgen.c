// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * trafficgen: send SIP over UDP/IPv4 out of an interface at a given rate,
 * from XDP live frames (BPF_PROG_TEST_RUN, BPF_F_TEST_XDP_LIVE_FRAMES),
 * every call with its own Call-ID, branch and From tag. See usage().
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tgen.h"

static void usage(FILE *f, const char *argv0)
{
	fprintf(f,
		"usage: %s -i IFACE --dmac MAC (-n COUNT | -d SECONDS) [options]\n"
		"  -i, --interface IFACE  send out of IFACE (its peer receives; on a veth the peer\n"
		"                         needs an XDP program or GRO on)\n"
		"  -N, --netns NAME       IFACE is in this network namespace (/run/netns/NAME or a path)\n"
		"  -m, --mix LIST         messages of one call, in order (default invite,ack,bye);\n"
		"                         requests: invite ack bye cancel options; responses (sent\n"
		"                         from --src to the client at --dst): 100 180 200 503 200bye;\n"
		"                         NAME:N sends a step N times\n"
		"  -r, --rate PPS         frames per second in all (default 0: as fast as possible)\n"
		"  -n, --count N          frames in all\n"
		"  -d, --duration S       seconds to send (with -n: whichever ends first)\n"
		"  -t, --threads N        sending threads, one per CPU (default 1)\n"
		"      --cpu FIRST        first CPU (default 0)\n"
		"  -s, --size BYTES       INVITE frame length, SDP padded (default: natural, ~%d)\n"
		"  -b, --batch N          frames per syscall (default 65536, or 1 ms worth at a rate)\n"
		"      --src IP           source (default 198.18.0.1), --sport (default 5060)\n"
		"      --dst IP           destination (default 198.18.100.1), --dport (default 5060)\n"
		"      --smac MAC         source MAC (default: IFACE's), --dmac MAC: the next hop's\n"
		"      --call-base N      first call number (default 0)\n"
		"      --any-address      allow addresses outside 198.18.0.0/15 (isolated networks only)\n",
		argv0, 760);
}

static int num(const char *opt, const char *s, double lo, double hi, double *out)
{
	char *end;

	errno = 0;
	*out = strtod(s, &end);
	if (errno || end == s || *end || *out < lo || *out > hi) {
		fprintf(stderr, "trafficgen: %s \"%s\": must be a number in %g..%g\n", opt, s, lo, hi);
		return -1;
	}
	return 0;
}

static int bench_range(const char *a)
{
	struct in_addr in;

	if (inet_pton(AF_INET, a, &in) != 1)
		return 0;
	return (ntohl(in.s_addr) & 0xfffe0000u) == 0xc6120000u; /* 198.18.0.0/15 */
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "interface", required_argument, NULL, 'i' }, { "netns", required_argument, NULL, 'N' },
		{ "mix", required_argument, NULL, 'm' }, { "rate", required_argument, NULL, 'r' },
		{ "count", required_argument, NULL, 'n' }, { "duration", required_argument, NULL, 'd' },
		{ "threads", required_argument, NULL, 't' }, { "cpu", required_argument, NULL, 'C' },
		{ "size", required_argument, NULL, 's' }, { "batch", required_argument, NULL, 'b' },
		{ "src", required_argument, NULL, 'S' }, { "dst", required_argument, NULL, 'D' },
		{ "sport", required_argument, NULL, 'p' }, { "dport", required_argument, NULL, 'P' },
		{ "smac", required_argument, NULL, 'M' }, { "dmac", required_argument, NULL, 'T' },
		{ "call-base", required_argument, NULL, 'B' },
		{ "any-address", no_argument, NULL, 'A' }, { "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct tg_opts o = { .threads = 1, .saddr = "198.18.0.1", .daddr = "198.18.100.1",
			     .sport = 5060, .dport = 5060 };
	struct tg_result r;
	struct tg *g;
	char err[512];
	int c, any = 0, have_dmac = 0, e;
	double v;

	while ((c = getopt_long(argc, argv, "i:N:m:r:n:d:t:s:b:h", lo, NULL)) != -1) {
		switch (c) {
		case 'i': o.ifname = optarg; break;
		case 'N': o.netns = optarg; break;
		case 'm': o.mix = optarg; break;
		case 'r': if (num("--rate", optarg, 0, 1e9, &o.rate)) return 2; break;
		case 'n': if (num("--count", optarg, 1, 1e15, &v)) return 2; o.count = (__u64)v; break;
		case 'd': if (num("--duration", optarg, 0.001, 86400, &o.duration)) return 2; break;
		case 't': if (num("--threads", optarg, 1, TG_THREADS_MAX, &v)) return 2; o.threads = (int)v; break;
		case 'C': if (num("--cpu", optarg, 0, 4095, &v)) return 2; o.first_cpu = (int)v; break;
		case 's': if (num("--size", optarg, TG_FRAME_MIN, TG_FRAME_MAX, &v)) return 2; o.size = (size_t)v; break;
		case 'b': if (num("--batch", optarg, 1, 1 << 20, &v)) return 2; o.batch = (__u32)v; break;
		case 'S': o.saddr = optarg; break;
		case 'D': o.daddr = optarg; break;
		case 'p': if (num("--sport", optarg, 1, 65535, &v)) return 2; o.sport = (__u16)v; break;
		case 'P': if (num("--dport", optarg, 1, 65535, &v)) return 2; o.dport = (__u16)v; break;
		case 'M':
		case 'T':
			if (tg_parse_mac(optarg, c == 'M' ? o.smac : o.dmac)) {
				fprintf(stderr, "trafficgen: --%s \"%s\": not a MAC address (aa:bb:cc:dd:ee:ff)\n",
					c == 'M' ? "smac" : "dmac", optarg);
				return 2;
			}
			have_dmac |= c == 'T';
			break;
		case 'B': if (num("--call-base", optarg, 0, 1e9, &v)) return 2; o.call_base = (__u64)v; break;
		case 'A': any = 1; break;
		case 'h': usage(stdout, argv[0]); return 0;
		default: usage(stderr, argv[0]); return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "trafficgen: unexpected argument \"%s\"\n", argv[optind]);
		return 2;
	}
	if (!o.ifname || !have_dmac || (!o.count && !o.duration)) {
		fprintf(stderr, "trafficgen: -i IFACE, --dmac MAC and -n COUNT or -d SECONDS are required\n");
		usage(stderr, argv[0]);
		return 2;
	}
	if (!any && (!bench_range(o.saddr) || !bench_range(o.daddr))) {
		fprintf(stderr, "trafficgen: --src %s / --dst %s: outside 198.18.0.0/15, the benchmark "
			"range (--any-address on an isolated network)\n", o.saddr, o.daddr);
		return 2;
	}
	e = tg_open(&o, &g, err, sizeof(err));
	if (e) {
		fprintf(stderr, "trafficgen: %s\n", err);
		return e == -EINVAL ? 2 : 1;     /* 2: the arguments; 1: the system */
	}
	e = tg_run(g, &r, err, sizeof(err));
	if (e)
		fprintf(stderr, "trafficgen: %s\n", err);
	printf("trafficgen: %s%s%s, %s:%u -> %s:%u, %d thread(s), rate %s\n", o.ifname,
	       o.netns ? " in " : "", o.netns ? o.netns : "", o.saddr, o.sport, o.daddr, o.dport,
	       o.threads, o.rate > 0 ? "limited" : "unlimited");
	printf("%-10s %8s %14s\n", "message", "bytes", "frames");
	for (int t = 0; t < r.ntmpl; t++)
		printf("%-10s %8u %14llu\n", r.names[t], r.lens[t], (unsigned long long)r.sent[t]);
	printf("sent %llu frames (%llu refused by the program), %llu calls, in %.3f s: "
	       "%.0f frames/s\n", (unsigned long long)r.sent_total,
	       (unsigned long long)(r.attempted - r.sent_total), (unsigned long long)r.calls,
	       r.seconds, r.seconds > 0 ? r.sent_total / r.seconds : 0);
	tg_close(g);
	return e ? 1 : 0;
}
