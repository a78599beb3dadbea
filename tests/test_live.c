// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Live-frame tests: a real network of namespaces, real SIP over real UDP
 * sockets, the data plane attached in native XDP mode to veths.
 *
 *   client ──veth── balancer ──"mach"── switch (bridge) ── m1 m2 m3 s1
 *                     │
 *                     └─────"simx"───── s2
 *
 *   ns client    eth0 198.18.0.1/24    2001:db8::1/64     via .254 / ::fe
 *   ns balancer  cli  198.18.0.254/24  2001:db8::fe/64    us_client
 *                mach 198.18.1.254/24  2001:db8:1::fe/64  us_machine
 *                simx 198.18.2.254/24  2001:db8:2::fe/64  us_machine
 *   ns m1 m2 m3  198.18.1.1-3          2001:db8:1::1-3    active machines
 *   ns s1        198.18.1.11           2001:db8:1::11     simulation, SHARED iface
 *   ns s2        198.18.2.12           2001:db8:2::12     simulation, SEPARATE iface
 *   every machine: VIP 198.18.100.1/32 and 2001:db8:100::1/128 on lo
 *
 * Namespaces are named ust<pid><role>; the pins live under
 * /sys/fs/bpf/understudy-live-<pid>. Both are removed on every exit path,
 * including SIGINT/SIGTERM and crashes.
 *
 * Exit: 0 all passed, 1 a failure, 77 something outside the project is
 * missing (not root, no iproute2, no bpffs, no network namespaces).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <linux/ethtool.h>
#include <linux/if_link.h>
#include <linux/magic.h>
#include <linux/sockios.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "dp.h"

#define SKIP_RC 77
#define NETNS_DIR "/var/run/netns"
#define SIP_PORT 5060
#define CLI_PORT 5070
#define STRAY_PORT 40000
#define QUIET_MS 120

/* ---- the network ------------------------------------------------------- */

enum ns_id { NS_C, NS_B, NS_SW, NS_M1, NS_M2, NS_M3, NS_S1, NS_S2, NNS };
static const char *const ns_role[NNS] = { "c", "b", "sw", "m1", "m2", "m3", "s1", "s2" };

/* machines, in the order of their namespaces */
enum node_id { N_M1, N_M2, N_M3, N_S1, N_S2, NNODES };
#define BIT(n) (1u << (n))

struct node {
	const char *name;
	int ns;
	const char *a4, *a6;        /* own addresses */
	const char *gw4, *gw6;
	int code;                   /* status it answers requests with */
	const char *reason;
	int s4, s6;                 /* sockets bound to VIP:5060 */
};

static struct node nodes[NNODES] = {
	[N_M1] = { "m1", NS_M1, "198.18.1.1", "2001:db8:1::1", "198.18.1.254", "2001:db8:1::fe",
		   200, "OK", -1, -1 },
	[N_M2] = { "m2", NS_M2, "198.18.1.2", "2001:db8:1::2", "198.18.1.254", "2001:db8:1::fe",
		   200, "OK", -1, -1 },
	[N_M3] = { "m3", NS_M3, "198.18.1.3", "2001:db8:1::3", "198.18.1.254", "2001:db8:1::fe",
		   200, "OK", -1, -1 },
	[N_S1] = { "s1", NS_S1, "198.18.1.11", "2001:db8:1::11", "198.18.1.254", "2001:db8:1::fe",
		   503, "Service Unavailable", -1, -1 },
	[N_S2] = { "s2", NS_S2, "198.18.2.12", "2001:db8:2::12", "198.18.2.254", "2001:db8:2::fe",
		   503, "Service Unavailable", -1, -1 },
};

#define VIP4 "198.18.100.1"
#define VIP6 "2001:db8:100::1"
#define CLI4 "198.18.0.1"
#define CLI6 "2001:db8::1"
#define SVC4 0u
#define SVC6 1u

static pid_t g_main_pid;
static char g_ns[NNS][32];
static int g_nsfd[NNS] = { -1, -1, -1, -1, -1, -1, -1, -1 };
static volatile sig_atomic_t g_ns_made;   /* namespaces registered so far */
static char g_pin[64];
static volatile sig_atomic_t g_torn;
static struct us_dp *g_dp;
static volatile pid_t g_child;      /* a command running now */

static int g_cli4 = -1, g_cli6 = -1, g_stray4 = -1, g_stray6 = -1;

/* machine id of a node in a family */
static __u32 mid_of(int node, int fam)
{
	return (fam == AF_INET ? 1 : 101) + node;
}

static int node_of_mid(__u32 mid)
{
	if (mid >= 1 && mid < 1 + NNODES)
		return mid - 1;
	if (mid >= 101 && mid < 101 + NNODES)
		return mid - 101;
	return -1;
}

/* ---- teardown (async-signal-safe) ----------------------------------------- */

static size_t s_len(const char *s)
{
	size_t n = 0;

	while (s[n])
		n++;
	return n;
}

static void s_cat(char *dst, size_t cap, const char *src)
{
	size_t n = s_len(dst), i = 0;

	while (src[i] && n + 1 < cap)
		dst[n++] = src[i++];
	dst[n] = 0;
}

struct ldirent {
	unsigned long long d_ino;
	long long d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

/* Remove every entry of a pin directory (one level) and the directory. */
static void rm_pins_raw(const char *dir)
{
	char buf[4096];
	int fd = open(dir, O_RDONLY | O_DIRECTORY);
	long n;

	if (fd < 0)
		return;
	while ((n = syscall(SYS_getdents64, fd, buf, sizeof(buf))) > 0) {
		for (long off = 0; off < n;) {
			struct ldirent *d = (struct ldirent *)(buf + off);

			off += d->d_reclen;
			if (d->d_name[0] == '.')
				continue;
			if (unlinkat(fd, d->d_name, 0) && errno == EISDIR)
				unlinkat(fd, d->d_name, AT_REMOVEDIR);
		}
	}
	close(fd);
	rmdir(dir);
}

static void teardown_raw(void)
{
	char p[96];

	if (g_torn)
		return;
	g_torn = 1;
	if (g_pin[0])
		rm_pins_raw(g_pin);
	for (int i = 0; i < g_ns_made; i++) {
		p[0] = 0;
		s_cat(p, sizeof(p), NETNS_DIR "/");
		s_cat(p, sizeof(p), g_ns[i]);
		umount2(p, MNT_DETACH);
		unlink(p);
	}
}

static void teardown(void)
{
	if (g_torn || getpid() != g_main_pid)
		return;
	if (g_pin[0])
		us_dp_destroy_pins(g_pin);  /* detaches the links, removes the pins */
	if (g_dp) {
		us_dp_close(g_dp);
		g_dp = NULL;
	}
	teardown_raw();
}

static void on_signal(int sig)
{
	static const char msg[] = "test_live: signal, tearing down\n";

	if (getpid() == g_main_pid) {
		if (write(2, msg, sizeof(msg) - 1) < 0) {
			/* nothing to do */
		}
		/* a half-done "ip netns add" would create its namespace after us */
		if (g_child > 0) {
			kill(g_child, SIGKILL);
			waitpid(g_child, NULL, 0);
		}
		teardown_raw();
	}
	signal(sig, SIG_DFL);
	raise(sig);
}

/* Debris of earlier runs killed outright (SIGKILL): namespaces ust<pid>...
 * and pin directories understudy-live-<pid> of processes that no longer
 * exist. */
static void remove_debris(void)
{
	char p[512];
	struct dirent *de;
	DIR *d;

	d = opendir(NETNS_DIR);
	while (d && (de = readdir(d))) {
		char *end;
		long pid;

		if (strncmp(de->d_name, "ust", 3))
			continue;
		pid = strtol(de->d_name + 3, &end, 10);
		if (pid <= 0 || end == de->d_name + 3 || !kill(pid, 0) || errno != ESRCH)
			continue;
		for (int i = 0; i < NNS; i++) {
			if (strcmp(end, ns_role[i]))
				continue;
			snprintf(p, sizeof(p), NETNS_DIR "/%s", de->d_name);
			umount2(p, MNT_DETACH);
			unlink(p);
		}
	}
	if (d)
		closedir(d);
	d = opendir("/sys/fs/bpf");
	while (d && (de = readdir(d))) {
		char *end;
		long pid;

		if (strncmp(de->d_name, "understudy-live-", 16))
			continue;
		pid = strtol(de->d_name + 16, &end, 10);
		if (pid <= 0 || *end || !kill(pid, 0) || errno != ESRCH)
			continue;
		snprintf(p, sizeof(p), "/sys/fs/bpf/%s", de->d_name);
		us_dp_destroy_pins(p);
	}
	if (d)
		closedir(d);
}

static void install_handlers(void)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGALRM,
				    SIGSEGV, SIGBUS, SIGABRT, SIGFPE, SIGILL };
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigfillset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	atexit(teardown);
}

/* ---- helpers: commands, namespaces, sysctls ----------------------------- */

static char g_err[512];

static void seterr(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void seterr(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(g_err, sizeof(g_err), fmt, ap);
	va_end(ap);
}

/* Run a command (words separated by single spaces, no quoting) without a
 * shell; 0 if it exited 0. */
static int run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int run(const char *fmt, ...)
{
	char line[512], *argv[48];
	sigset_t all, old;
	int argc = 0, st;
	va_list ap;
	pid_t pid;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	for (char *tok = strtok(line, " "); tok && argc < 47; tok = strtok(NULL, " "))
		argv[argc++] = tok;
	argv[argc] = NULL;
	/* no signal between the fork and knowing the child's pid */
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	pid = fork();
	if (pid > 0)
		g_child = pid;
	if (pid != 0)
		sigprocmask(SIG_SETMASK, &old, NULL);
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		int dn = open("/dev/null", O_WRONLY);

		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		sigprocmask(SIG_SETMASK, &old, NULL);

		if (dn >= 0)
			dup2(dn, 1);
		execvp(argv[0], argv);
		_exit(127);
	}
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR) {
			g_child = 0;
			return -errno;
		}
	g_child = 0;
	if (!WIFEXITED(st) || WEXITSTATUS(st)) {
		va_start(ap, fmt);
		vsnprintf(line, sizeof(line), fmt, ap);
		va_end(ap);
		seterr("command failed (status %d): %s", WIFEXITED(st) ? WEXITSTATUS(st) : -1, line);
		return -1;
	}
	return 0;
}

static int g_home = -1;     /* the namespace the main thread lives in */

static int enter_ns(int ns)
{
	if (setns(g_nsfd[ns], CLONE_NEWNET)) {
		seterr("setns %s: %s", g_ns[ns], strerror(errno));
		return -1;
	}
	return 0;
}

static int go_home(void)
{
	return setns(g_home, CLONE_NEWNET);
}

/* Write a sysctl of the current network namespace. */
static int sysctl_w(const char *path, const char *val)
{
	char p[256];
	int fd, n;

	snprintf(p, sizeof(p), "/proc/sys/net/%s", path);
	fd = open(p, O_WRONLY);
	if (fd < 0) {
		seterr("open %s: %s", p, strerror(errno));
		return -1;
	}
	n = write(fd, val, strlen(val));
	close(fd);
	if (n != (int)strlen(val)) {
		seterr("write %s: %s", p, strerror(errno));
		return -1;
	}
	return 0;
}

static int ns_sysctl(int ns, const char *path, const char *val)
{
	int err;

	if (enter_ns(ns))
		return -1;
	err = sysctl_w(path, val);
	go_home();
	return err;
}

/* ethtool's legacy one-feature ioctls (no ethtool binary needed). */
static int ns_ethtool(int ns, const char *ifname, __u32 cmd, __u32 val)
{
	struct ethtool_value ev = { .cmd = cmd, .data = val };
	struct ifreq ifr;
	int fd, err = 0;

	if (enter_ns(ns))
		return -1;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	go_home();
	if (fd < 0) {
		seterr("socket: %s", strerror(errno));
		return -1;
	}
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	ifr.ifr_data = (void *)&ev;
	if (ioctl(fd, SIOCETHTOOL, &ifr)) {
		seterr("%s/%s: ethtool 0x%x=%u: %s", g_ns[ns], ifname, cmd, val, strerror(errno));
		err = -1;
	}
	close(fd);
	return err;
}

/* A UDP socket bound in a namespace; it stays there. */
static int ns_socket(int ns, int fam, const char *addr, int port)
{
	union {
		struct sockaddr_in v4;
		struct sockaddr_in6 v6;
	} sa;
	int fd, one = 1, big = 8 << 20;
	socklen_t len;

	memset(&sa, 0, sizeof(sa));
	if (fam == AF_INET) {
		sa.v4.sin_family = AF_INET;
		sa.v4.sin_port = htons(port);
		inet_pton(AF_INET, addr, &sa.v4.sin_addr);
		len = sizeof(sa.v4);
	} else {
		sa.v6.sin6_family = AF_INET6;
		sa.v6.sin6_port = htons(port);
		inet_pton(AF_INET6, addr, &sa.v6.sin6_addr);
		len = sizeof(sa.v6);
	}
	if (enter_ns(ns))
		return -1;
	fd = socket(fam, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	go_home();
	if (fd < 0) {
		seterr("socket: %s", strerror(errno));
		return -1;
	}
	if (fam == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big)))
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	if (bind(fd, (struct sockaddr *)&sa, len)) {
		seterr("%s: bind %s port %d: %s", g_ns[ns], addr, port, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

static int send_to(int fd, int fam, const char *addr, int port, const void *buf, size_t len)
{
	union {
		struct sockaddr_in v4;
		struct sockaddr_in6 v6;
	} sa;
	socklen_t sl;

	memset(&sa, 0, sizeof(sa));
	if (fam == AF_INET) {
		sa.v4.sin_family = AF_INET;
		sa.v4.sin_port = htons(port);
		inet_pton(AF_INET, addr, &sa.v4.sin_addr);
		sl = sizeof(sa.v4);
	} else {
		sa.v6.sin6_family = AF_INET6;
		sa.v6.sin6_port = htons(port);
		inet_pton(AF_INET6, addr, &sa.v6.sin6_addr);
		sl = sizeof(sa.v6);
	}
	return sendto(fd, buf, len, 0, (struct sockaddr *)&sa, sl) == (ssize_t)len ? 0 : -1;
}

static void addr16(int fam, const char *text, __u8 out[16])
{
	memset(out, 0, 16);
	if (fam == AF_INET) {
		out[10] = 0xff;
		out[11] = 0xff;
		inet_pton(AF_INET, text, out + 12);
	} else {
		inet_pton(AF_INET6, text, out);
	}
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* ---- building the network ----------------------------------------------- */

#define RUN(...) do { if (run(__VA_ARGS__)) return -1; } while (0)
#define TRY(x)   do { if (x) return -1; } while (0)

static int make_ns(int i)
{
	char p[96];

	snprintf(g_ns[i], sizeof(g_ns[i]), "ust%d%s", (int)g_main_pid, ns_role[i]);
	g_ns_made = i + 1;          /* registered before it exists: teardown covers it */
	RUN("ip netns add %s", g_ns[i]);
	snprintf(p, sizeof(p), NETNS_DIR "/%s", g_ns[i]);
	g_nsfd[i] = open(p, O_RDONLY | O_CLOEXEC);
	if (g_nsfd[i] < 0) {
		seterr("open %s: %s", p, strerror(errno));
		return -1;
	}
	/* before any interface exists, so every one inherits them */
	TRY(ns_sysctl(i, "ipv6/conf/all/accept_dad", "0"));
	TRY(ns_sysctl(i, "ipv6/conf/default/accept_dad", "0"));
	TRY(ns_sysctl(i, "ipv4/conf/all/rp_filter", "0"));
	TRY(ns_sysctl(i, "ipv4/conf/default/rp_filter", "0"));
	RUN("ip -n %s link set lo up", g_ns[i]);
	return 0;
}

static int build_net(void)
{
	const char *C = g_ns[NS_C], *B = g_ns[NS_B], *SW = g_ns[NS_SW];

	for (int i = 0; i < NNS; i++)
		TRY(make_ns(i));

	/* client <-> balancer */
	RUN("ip -n %s link add cli type veth peer name eth0 netns %s", B, C);
	RUN("ip -n %s addr add 198.18.0.254/24 dev cli", B);
	RUN("ip -n %s addr add 2001:db8::fe/64 dev cli nodad", B);
	RUN("ip -n %s addr add " CLI4 "/24 dev eth0", C);
	RUN("ip -n %s addr add " CLI6 "/64 dev eth0 nodad", C);

	/* balancer <-> switch, machines on the bridge */
	RUN("ip -n %s link add br0 type bridge stp_state 0 forward_delay 0 mcast_snooping 0", SW);
	RUN("ip -n %s link add mach type veth peer name uplink netns %s", B, SW);
	RUN("ip -n %s link set uplink master br0", SW);
	RUN("ip -n %s addr add 198.18.1.254/24 dev mach", B);
	RUN("ip -n %s addr add 2001:db8:1::fe/64 dev mach nodad", B);
	for (int n = N_M1; n <= N_S1; n++) {
		const char *M = g_ns[nodes[n].ns];

		RUN("ip -n %s link add p%s type veth peer name eth0 netns %s", SW, nodes[n].name, M);
		RUN("ip -n %s link set p%s master br0", SW, nodes[n].name);
		RUN("ip -n %s link set p%s up", SW, nodes[n].name);
	}
	RUN("ip -n %s link set br0 up", SW);
	RUN("ip -n %s link set uplink up", SW);

	/* balancer <-> s2 */
	RUN("ip -n %s link add simx type veth peer name eth0 netns %s", B, g_ns[NS_S2]);
	RUN("ip -n %s addr add 198.18.2.254/24 dev simx", B);
	RUN("ip -n %s addr add 2001:db8:2::fe/64 dev simx nodad", B);

	for (int n = 0; n < NNODES; n++) {
		const char *M = g_ns[nodes[n].ns];

		RUN("ip -n %s addr add %s/24 dev eth0", M, nodes[n].a4);
		RUN("ip -n %s addr add %s/64 dev eth0 nodad", M, nodes[n].a6);
		RUN("ip -n %s addr add " VIP4 "/32 dev lo", M);
		RUN("ip -n %s addr add " VIP6 "/128 dev lo", M);
		RUN("ip -n %s link set eth0 up", M);
		RUN("ip -n %s route add default via %s", M, nodes[n].gw4);
		RUN("ip -n %s -6 route add default via %s", M, nodes[n].gw6);
		/* machines' UDP is forwarded by XDP: send it with a finished checksum */
		TRY(ns_ethtool(nodes[n].ns, "eth0", ETHTOOL_STXCSUM, 0));
	}

	RUN("ip -n %s link set eth0 up", C);
	RUN("ip -n %s route add default via 198.18.0.254", C);
	RUN("ip -n %s -6 route add default via 2001:db8::fe", C);
	TRY(ns_ethtool(NS_C, "eth0", ETHTOOL_STXCSUM, 0));

	RUN("ip -n %s link set cli up", B);
	RUN("ip -n %s link set mach up", B);
	RUN("ip -n %s link set simx up", B);
	TRY(ns_sysctl(NS_B, "ipv4/ip_forward", "1"));
	TRY(ns_sysctl(NS_B, "ipv6/conf/all/forwarding", "1"));

	/* frames XDP-redirected into a veth need NAPI on its peer: GRO on */
	TRY(ns_ethtool(NS_C, "eth0", ETHTOOL_SGRO, 1));
	TRY(ns_ethtool(NS_SW, "uplink", ETHTOOL_SGRO, 1));
	TRY(ns_ethtool(NS_S2, "eth0", ETHTOOL_SGRO, 1));
	return 0;
}

/* One datagram from every host to its gateway, v4 and v6: neighbour
 * entries on both sides and the bridge's forwarding table get filled. */
static int warm_up(void)
{
	static const char junk[] = "warm-up";
	int fd;

	for (int n = 0; n < NNODES; n++) {
		fd = ns_socket(nodes[n].ns, AF_INET, nodes[n].a4, 0);
		TRY(fd < 0);
		send_to(fd, AF_INET, nodes[n].gw4, 9, junk, sizeof(junk));
		close(fd);
		fd = ns_socket(nodes[n].ns, AF_INET6, nodes[n].a6, 0);
		TRY(fd < 0);
		send_to(fd, AF_INET6, nodes[n].gw6, 9, junk, sizeof(junk));
		close(fd);
	}
	fd = ns_socket(NS_C, AF_INET, CLI4, 0);
	TRY(fd < 0);
	send_to(fd, AF_INET, "198.18.0.254", 9, junk, sizeof(junk));
	close(fd);
	fd = ns_socket(NS_C, AF_INET6, CLI6, 0);
	TRY(fd < 0);
	send_to(fd, AF_INET6, "2001:db8::fe", 9, junk, sizeof(junk));
	close(fd);
	sleep_ms(150);
	return 0;
}

static int open_sockets(void)
{
	for (int n = 0; n < NNODES; n++) {
		nodes[n].s4 = ns_socket(nodes[n].ns, AF_INET, VIP4, SIP_PORT);
		nodes[n].s6 = ns_socket(nodes[n].ns, AF_INET6, VIP6, SIP_PORT);
		TRY(nodes[n].s4 < 0 || nodes[n].s6 < 0);
	}
	g_cli4 = ns_socket(NS_C, AF_INET, CLI4, CLI_PORT);
	g_cli6 = ns_socket(NS_C, AF_INET6, CLI6, CLI_PORT);
	g_stray4 = ns_socket(NS_C, AF_INET, CLI4, STRAY_PORT);
	g_stray6 = ns_socket(NS_C, AF_INET6, CLI6, STRAY_PORT);
	TRY(g_cli4 < 0 || g_cli6 < 0 || g_stray4 < 0 || g_stray6 < 0);
	return 0;
}

/* ---- the data plane ------------------------------------------------------ */

static int dp_err(const char *what, int err)
{
	seterr("%s: %d (%s) %s", what, err, strerror(-err), us_dp_error(g_dp));
	return -1;
}

#define DP(call) do { int e_ = (call); if (e_ < 0) return dp_err(#call, e_); } while (0)

static int learn_all(void)
{
	long long end = now_ms() + 3000;
	int left;

	for (;;) {
		left = us_dp_learn_macs(g_dp);
		if (left < 0)
			return dp_err("us_dp_learn_macs", left);
		if (left == 0)
			return 0;
		if (now_ms() > end) {
			seterr("us_dp_learn_macs: %d machines unresolved after 3 s (%s)", left,
			       us_dp_error(g_dp));
			return -1;
		}
		sleep_ms(50);
	}
}

static int setup_dp(void)
{
	struct us_dp_opts o = { .pin_root = g_pin, .verbose = getenv("TEST_LIVE_VERBOSE") != NULL };
	struct us_cfg cfg = { .event_rate = 1000, .event_burst = 1000 };
	__u8 a[16];

	/* the main thread lives in the balancer's namespace from here on */
	TRY(enter_ns(NS_B));
	g_home = g_nsfd[NS_B];
	DP(us_dp_open(&o, &g_dp));
	DP(us_dp_attach(g_dp, "cli", US_ROLE_CLIENT, XDP_FLAGS_DRV_MODE));
	DP(us_dp_attach(g_dp, "mach", US_ROLE_MACHINE, XDP_FLAGS_DRV_MODE));
	DP(us_dp_attach(g_dp, "simx", US_ROLE_MACHINE, XDP_FLAGS_DRV_MODE));
	DP(us_dp_add_machine_iface(g_dp, "mach"));
	DP(us_dp_add_machine_iface(g_dp, "simx"));
	addr16(AF_INET, VIP4, a);
	DP(us_dp_set_service(g_dp, SVC4, AF_INET, a, SIP_PORT, 0));
	addr16(AF_INET6, VIP6, a);
	DP(us_dp_set_service(g_dp, SVC6, AF_INET6, a, SIP_PORT, 0));
	DP(us_dp_set_cfg(g_dp, &cfg));
	return 0;
}

/* Machines as a test wants them: every node in one of the masks is
 * configured in that family's service with that state, every other machine
 * entry (either family) is deleted; both services' pools are rebuilt and
 * the MACs learnt. */
static int configure(int fam, unsigned active, unsigned sim, unsigned rejected, __u16 share)
{
	__u32 svc = fam == AF_INET ? SVC4 : SVC6;

	for (int n = 0; n < NNODES; n++) {
		for (int f = 0; f < 2; f++) {
			int ff = f ? AF_INET6 : AF_INET;
			struct us_machine_cfg mc = {
				.id = mid_of(n, ff),
				.svc_id = ff == AF_INET ? SVC4 : SVC6,
				.family = ff,
				.weight = 100,
			};

			if (ff == fam && (active | sim | rejected) & BIT(n)) {
				mc.state = active & BIT(n) ? US_MS_ACTIVE :
					   sim & BIT(n) ? US_MS_SIMULATION : US_MS_REJECTED;
				addr16(ff, ff == AF_INET ? nodes[n].a4 : nodes[n].a6, mc.addr);
				DP(us_dp_set_machine(g_dp, &mc));
			} else {
				DP(us_dp_del_machine(g_dp, mc.id));
			}
		}
	}
	for (__u32 s = SVC4; s <= SVC6; s++) {
		DP(us_dp_rebuild(g_dp, s, US_POOL_ACTIVE));
		DP(us_dp_rebuild(g_dp, s, US_POOL_SIM));
		DP(us_dp_set_share(g_dp, s, s == svc ? share : 0));
	}
	return learn_all();
}

/* ---- SIP traffic and what every socket received ---------------------------- */

#define LOG_MAX 16384

struct mrx {            /* a request a machine received */
	int node, fam;
	char callid[96], method[16], branch[64];
	unsigned cseq;
	unsigned long long hash;    /* of the payload, to compare with what was sent */
};

struct crx {            /* a response the client received */
	int node, fam, status;
	char callid[96], cseq_method[16], totag[48];
};

static struct mrx *g_mrx;
static int g_nmrx;
static struct crx *g_crx;
static int g_ncrx;
static int g_stray_rx[2];           /* datagrams received on the stray sockets, v4/v6 */
static int g_client_5xx_from_sim;   /* responses the client got from a simulation machine */
static int g_client_other;          /* unparseable datagrams on the client's SIP sockets */

/* A digest of a payload or a name, for this test's own bookkeeping. */
static unsigned long long fnv(const void *p, size_t n)
{
	const unsigned char *b = p;
	unsigned long long h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3ull;
	return h;
}

/* The data plane's Call-ID hash, as the header gives it to user space. */
static __u64 callid_hash(const char *id)
{
	return us_hash_bytes(id, strlen(id));
}

/* Value of the first header line named name (full form), or "" */
static void hdr(const char *msg, const char *name, char *out, size_t cap)
{
	size_t nl = strlen(name);
	const char *p = strstr(msg, "\r\n");

	out[0] = 0;
	while (p && p[2] && !(p[2] == '\r' && p[3] == '\n')) {
		const char *line = p + 2, *end = strstr(line, "\r\n");

		if (!end)
			break;
		if (!strncasecmp(line, name, nl) && line[nl] == ':') {
			const char *v = line + nl + 1;
			size_t n;

			while (*v == ' ')
				v++;
			n = end - v;
			if (n >= cap)
				n = cap - 1;
			memcpy(out, v, n);
			out[n] = 0;
			return;
		}
		p = end;
	}
}

static void param(const char *val, const char *name, char *out, size_t cap)
{
	const char *p = strstr(val, name);
	size_t n = 0;

	out[0] = 0;
	if (!p)
		return;
	p += strlen(name);
	while (p[n] && p[n] != ';' && p[n] != '>' && p[n] != ' ' && p[n] != ',' && n + 1 < cap)
		n++;
	memcpy(out, p, n);
	out[n] = 0;
}

/* A machine answers a request: Via(s), From, To (+ tag), Call-ID, CSeq copied. */
static void machine_answer(int n, int fd, const char *req, const struct sockaddr *from,
			   socklen_t flen)
{
	char out[4096], v[512], to[300], cid[128], cseq[64], from_h[300];
	const char *p = strstr(req, "\r\n");
	int len;

	len = snprintf(out, sizeof(out), "SIP/2.0 %d %s\r\n", nodes[n].code, nodes[n].reason);
	while (p && p[2] && !(p[2] == '\r' && p[3] == '\n')) {
		const char *line = p + 2, *end = strstr(line, "\r\n");

		if (!end)
			break;
		if (!strncasecmp(line, "Via:", 4) && len + (end - line) + 2 < (int)sizeof(out))
			len += snprintf(out + len, sizeof(out) - len, "%.*s\r\n", (int)(end - line),
					line);
		p = end;
	}
	hdr(req, "From", from_h, sizeof(from_h));
	hdr(req, "To", to, sizeof(to));
	hdr(req, "Call-ID", cid, sizeof(cid));
	hdr(req, "CSeq", cseq, sizeof(cseq));
	if (!strstr(to, ";tag="))
		snprintf(v, sizeof(v), "%s;tag=%s-%u", to, nodes[n].name,
			 (unsigned)(fnv(cid, strlen(cid)) & 0xffff));
	else
		snprintf(v, sizeof(v), "%s", to);
	len += snprintf(out + len, sizeof(out) - len,
			"From: %s\r\nTo: %s\r\nCall-ID: %s\r\nCSeq: %s\r\n"
			"Contact: <sip:%s@%s>\r\nServer: understudy-live-%s\r\n"
			"Content-Length: 0\r\n\r\n",
			from_h, v, cid, cseq, nodes[n].name,
			from->sa_family == AF_INET ? VIP4 : "[" VIP6 "]", nodes[n].name);
	if (len > 0 && len < (int)sizeof(out))
		sendto(fd, out, len, 0, from, flen);
}

static void machine_rx(int n, int fd, int fam)
{
	char buf[4097], cseq[64], via[512];
	struct sockaddr_storage from;
	socklen_t flen;
	ssize_t len;

	for (;;) {
		struct mrx *r;

		flen = sizeof(from);
		len = recvfrom(fd, buf, sizeof(buf) - 1, 0, (struct sockaddr *)&from, &flen);
		if (len < 0)
			return;
		buf[len] = 0;
		if (g_nmrx >= LOG_MAX)
			continue;
		r = &g_mrx[g_nmrx++];
		memset(r, 0, sizeof(*r));
		r->node = n;
		r->fam = fam;
		r->hash = fnv(buf, len);
		sscanf(buf, "%15s", r->method);
		hdr(buf, "Call-ID", r->callid, sizeof(r->callid));
		hdr(buf, "CSeq", cseq, sizeof(cseq));
		r->cseq = strtoul(cseq, NULL, 10);
		hdr(buf, "Via", via, sizeof(via));
		param(via, "branch=", r->branch, sizeof(r->branch));
		if (strcmp(r->method, "ACK"))
			machine_answer(n, fd, buf, (struct sockaddr *)&from, flen);
	}
}

static void client_rx(int fd, int fam)
{
	char buf[4097], cseq[64], server[64], to[300];
	ssize_t len;

	for (;;) {
		struct crx *r;
		int status = 0;

		len = recv(fd, buf, sizeof(buf) - 1, 0);
		if (len < 0)
			return;
		buf[len] = 0;
		if (sscanf(buf, "SIP/2.0 %d", &status) != 1) {
			g_client_other++;
			continue;
		}
		if (g_ncrx >= LOG_MAX)
			continue;
		r = &g_crx[g_ncrx++];
		memset(r, 0, sizeof(*r));
		r->fam = fam;
		r->status = status;
		hdr(buf, "Call-ID", r->callid, sizeof(r->callid));
		hdr(buf, "CSeq", cseq, sizeof(cseq));
		sscanf(cseq, "%*u %15s", r->cseq_method);
		hdr(buf, "To", to, sizeof(to));
		param(to, ";tag=", r->totag, sizeof(r->totag));
		hdr(buf, "Server", server, sizeof(server));
		r->node = -1;
		for (int n = 0; n < NNODES; n++) {
			char want[64];

			snprintf(want, sizeof(want), "understudy-live-%s", nodes[n].name);
			if (!strcmp(server, want))
				r->node = n;
		}
		if (r->node == N_S1 || r->node == N_S2)
			g_client_5xx_from_sim++;
	}
}

static void stray_rx(int fd, int idx)
{
	char buf[2048];

	while (recv(fd, buf, sizeof(buf), 0) >= 0)
		g_stray_rx[idx]++;
}

/* Let every socket receive (machines answer) until nothing has moved for
 * QUIET_MS (at most 5 s). */
static void pump(void)
{
	struct pollfd p[2 * NNODES + 4];
	long long end = now_ms() + 5000;
	int np = 0;

	for (int n = 0; n < NNODES; n++) {
		p[np++] = (struct pollfd){ .fd = nodes[n].s4, .events = POLLIN };
		p[np++] = (struct pollfd){ .fd = nodes[n].s6, .events = POLLIN };
	}
	p[np++] = (struct pollfd){ .fd = g_cli4, .events = POLLIN };
	p[np++] = (struct pollfd){ .fd = g_cli6, .events = POLLIN };
	p[np++] = (struct pollfd){ .fd = g_stray4, .events = POLLIN };
	p[np++] = (struct pollfd){ .fd = g_stray6, .events = POLLIN };
	while (now_ms() < end) {
		int r = poll(p, np, QUIET_MS);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return;
		for (int i = 0; i < np; i++) {
			if (!(p[i].revents & POLLIN))
				continue;
			if (i < 2 * NNODES)
				machine_rx(i / 2, p[i].fd, i & 1 ? AF_INET6 : AF_INET);
			else if (p[i].fd == g_cli4 || p[i].fd == g_cli6)
				client_rx(p[i].fd, p[i].fd == g_cli4 ? AF_INET : AF_INET6);
			else
				stray_rx(p[i].fd, p[i].fd == g_stray4 ? 0 : 1);
		}
	}
}

/* A call as the client sees it. */
struct call {
	char id[96];
	int fam;
	unsigned long long sent_hash[4];    /* payload hashes of INVITE, ACK, BYE */
};

static unsigned g_branch_seq;

static void call_init(struct call *c, int fam, const char *tag, int i)
{
	memset(c, 0, sizeof(*c));
	c->fam = fam;
	snprintf(c->id, sizeof(c->id), "%s-%d-%d@%s", tag, i, (int)g_main_pid,
		 fam == AF_INET ? CLI4 : "2001-db8--1");
}

static const char *last_totag(const struct call *c)
{
	for (int i = g_ncrx - 1; i >= 0; i--)
		if (!strcmp(g_crx[i].callid, c->id) && !strcmp(g_crx[i].cseq_method, "INVITE") &&
		    g_crx[i].status >= 200 && g_crx[i].status < 300)
			return g_crx[i].totag;
	return NULL;
}

enum { M_INVITE, M_ACK, M_BYE };

/* Send one request of a call from the client to VIP:5060. */
static int call_send(struct call *c, int what)
{
	static const char sdp[] =
		"v=0\r\no=caller 1 1 IN IP4 198.18.0.1\r\ns=-\r\nc=IN IP4 198.18.0.1\r\n"
		"t=0 0\r\nm=audio 40002 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";
	static const char *const meth[] = { "INVITE", "ACK", "BYE" };
	const char *me = c->fam == AF_INET ? CLI4 : "[" CLI6 "]";
	const char *vip = c->fam == AF_INET ? VIP4 : "[" VIP6 "]";
	const char *tt = what == M_INVITE ? NULL : last_totag(c);
	char buf[2048], totag[64] = "";
	unsigned cseq = what == M_BYE ? 2 : 1;
	int len;

	if (tt)
		snprintf(totag, sizeof(totag), ";tag=%s", tt);
	len = snprintf(buf, sizeof(buf),
		       "%s sip:service@%s SIP/2.0\r\n"
		       "Via: SIP/2.0/UDP %s:%d;branch=z9hG4bK-ul%d-%u;rport\r\n"
		       "Max-Forwards: 70\r\n"
		       "From: <sip:caller@%s>;tag=c%u\r\n"
		       "To: <sip:service@%s>%s\r\n"
		       "Call-ID: %s\r\n"
		       "CSeq: %u %s\r\n"
		       "Contact: <sip:caller@%s:%d>\r\n"
		       "User-Agent: understudy-test-live\r\n"
		       "%s"
		       "Content-Length: %zu\r\n\r\n%s",
		       meth[what], vip, me, CLI_PORT, (int)g_main_pid, ++g_branch_seq, me,
		       (unsigned)(fnv(c->id, strlen(c->id)) & 0xffffff), vip, totag, c->id, cseq,
		       meth[what], me, CLI_PORT,
		       what == M_INVITE ? "Content-Type: application/sdp\r\n" : "",
		       what == M_INVITE ? strlen(sdp) : (size_t)0, what == M_INVITE ? sdp : "");
	c->sent_hash[what] = fnv(buf, len);
	return send_to(c->fam == AF_INET ? g_cli4 : g_cli6, c->fam, c->fam == AF_INET ? VIP4 : VIP6,
		       SIP_PORT, buf, len);
}

/* How many requests of a call (method NULL: any) a node received. */
static int mcount(int node, const struct call *c, const char *method)
{
	int k = 0;

	for (int i = 0; i < g_nmrx; i++)
		if (g_mrx[i].node == node && !strcmp(g_mrx[i].callid, c->id) &&
		    (!method || !strcmp(g_mrx[i].method, method)))
			k++;
	return k;
}

/* ... and whether every copy of that method is byte for byte what was sent */
static int mintact(int node, const struct call *c, int what)
{
	static const char *const meth[] = { "INVITE", "ACK", "BYE" };

	for (int i = 0; i < g_nmrx; i++)
		if (g_mrx[i].node == node && !strcmp(g_mrx[i].callid, c->id) &&
		    !strcmp(g_mrx[i].method, meth[what]) && g_mrx[i].hash != c->sent_hash[what])
			return 0;
	return 1;
}

/* Responses the client got for a call's method (status 0: any; node -2: any). */
static int ccount(const struct call *c, const char *cseq_method, int status, int node)
{
	int k = 0;

	for (int i = 0; i < g_ncrx; i++)
		if (!strcmp(g_crx[i].callid, c->id) && !strcmp(g_crx[i].cseq_method, cseq_method) &&
		    (!status || g_crx[i].status == status) && (node == -2 || g_crx[i].node == node))
			k++;
	return k;
}

/* Which of the nodes in mask received anything of the call: the node if
 * exactly one, -1 if none, -2 if several. */
static int who_got(const struct call *c, unsigned mask)
{
	int who = -1;

	for (int n = 0; n < NNODES; n++) {
		if (!(mask & BIT(n)) || !mcount(n, c, NULL))
			continue;
		if (who != -1)
			return -2;
		who = n;
	}
	return who;
}

/* The active machine the tables choose for a new call. */
static int predict_active(const struct call *c)
{
	__u32 mid = US_MID_NONE;

	if (us_dp_table_lookup(g_dp, c->fam == AF_INET ? SVC4 : SVC6, US_POOL_ACTIVE,
			       us_maglev_slot(callid_hash(c->id)), &mid))
		return -1;
	return node_of_mid(mid);
}

/* ---- test bookkeeping ----------------------------------------------------------- */

static char g_cur[64];
static int g_cur_fail;
static __u64 g_st0[US_ST_MAX];

static void fail_at(const char *what, const char *actual, const char *expected)
{
	printf("test:FAIL:%s %s actual %s expected %s\n", g_cur, what, actual, expected);
	fflush(stdout);
	g_cur_fail++;
}

static void expect_eq(const char *what, long long actual, long long expected)
{
	char a[32], e[32];

	if (actual == expected)
		return;
	snprintf(a, sizeof(a), "%lld", actual);
	snprintf(e, sizeof(e), "%lld", expected);
	fail_at(what, a, e);
}

static void expect_range(const char *what, long long actual, long long lo, long long hi)
{
	char a[32], e[48];

	if (actual >= lo && actual <= hi)
		return;
	snprintf(a, sizeof(a), "%lld", actual);
	snprintf(e, sizeof(e), "%lld..%lld", lo, hi);
	fail_at(what, a, e);
}

static void expect_ok(const char *what, int ok)
{
	if (!ok)
		fail_at(what, "false", "true");
}

static const char *nname(int n)
{
	return n >= 0 && n < NNODES ? nodes[n].name : n == -1 ? "none" : "several";
}

static void expect_node(const char *what, int actual, int expected)
{
	if (actual != expected)
		fail_at(what, nname(actual), nname(expected));
}

static void stats_mark(void)
{
	us_dp_read_stats(g_dp, g_st0);
}

static long long stat_delta(enum us_stat s)
{
	__u64 now[US_ST_MAX];

	us_dp_read_stats(g_dp, now);
	return (long long)(now[s] - g_st0[s]);
}

static void fail_setup(void)
{
	fail_at("setting up", g_err, "ok");
}

#define CONFIGURE(...) do { if (configure(__VA_ARGS__)) { fail_setup(); return; } } while (0)

/* A whole call, INVITE then ACK + BYE, with checks that every message went
 * to exactly the active machine want_a and (when want_s >= 0) to the
 * simulation machine want_s, and that the client saw only want_a's 200s. */
static void whole_call(struct call *c, int want_a, int want_s, unsigned actives, unsigned sims)
{
	char w[160];

	call_send(c, M_INVITE);
	pump();
	call_send(c, M_ACK);
	call_send(c, M_BYE);
	pump();

	snprintf(w, sizeof(w), "call %s: active machine that received it", c->id);
	expect_node(w, who_got(c, actives), want_a);
	snprintf(w, sizeof(w), "call %s: simulation machine that received it", c->id);
	expect_node(w, who_got(c, sims), want_s);
	for (int n = 0; n < NNODES; n++) {
		int want = n == want_a || n == want_s;
		static const char *const meth[] = { "INVITE", "ACK", "BYE" };

		for (int m = M_INVITE; m <= M_BYE; m++) {
			snprintf(w, sizeof(w), "call %s: %s copies received by %s", c->id, meth[m],
				 nodes[n].name);
			expect_eq(w, mcount(n, c, meth[m]), want);
			if (want) {
				snprintf(w, sizeof(w), "call %s: %s at %s byte-identical to what was sent",
					 c->id, meth[m], nodes[n].name);
				expect_ok(w, mintact(n, c, m));
			}
		}
	}
	snprintf(w, sizeof(w), "call %s: responses to INVITE at the client", c->id);
	expect_eq(w, ccount(c, "INVITE", 0, -2), 1);
	snprintf(w, sizeof(w), "call %s: 200 to INVITE from %s at the client", c->id, nname(want_a));
	expect_eq(w, ccount(c, "INVITE", 200, want_a), 1);
	snprintf(w, sizeof(w), "call %s: responses to BYE at the client", c->id);
	expect_eq(w, ccount(c, "BYE", 0, -2), 1);
	snprintf(w, sizeof(w), "call %s: 200 to BYE from %s at the client", c->id, nname(want_a));
	expect_eq(w, ccount(c, "BYE", 200, want_a), 1);
	snprintf(w, sizeof(w), "call %s: 503 responses at the client", c->id);
	expect_eq(w, ccount(c, "INVITE", 503, -2) + ccount(c, "BYE", 503, -2), 0);
}

/* ---- the tests ------------------------------------------------------------------ */

/* 1 and 6: active and simulation copies leave by the same interface. */
static void t_shared_mirror(int fam)
{
	const unsigned actives = BIT(N_M1) | BIT(N_M2);
	struct us_mstats ms0, ms1;
	int sim0 = g_client_5xx_from_sim, want;
	struct call c;

	CONFIGURE(fam, actives, BIT(N_S1), 0, US_SHARE_MAX);
	us_dp_read_mstats(g_dp, mid_of(N_S1, fam), &ms0);
	stats_mark();

	call_init(&c, fam, fam == AF_INET ? "shared4" : "shared6", 0);
	want = predict_active(&c);
	expect_ok("predicted active machine is m1 or m2", want == N_M1 || want == N_M2);
	whole_call(&c, want, N_S1, actives, BIT(N_S1) | BIT(N_S2));

	expect_eq("client responses from a simulation machine", g_client_5xx_from_sim - sim0, 0);
	expect_eq("stat req_fwd", stat_delta(US_ST_REQ_FWD), 3);
	expect_eq("stat req_mirrored", stat_delta(US_ST_REQ_MIRRORED), 3);
	expect_eq("stat resp_fwd", stat_delta(US_ST_RESP_FWD), 2);
	expect_eq("stat resp_sim_drop", stat_delta(US_ST_RESP_SIM_DROP), 2);
	expect_eq("stat mirror_skipped", stat_delta(US_ST_MIRROR_SKIPPED), 0);
	expect_eq("stat no_route", stat_delta(US_ST_NO_ROUTE), 0);
	/* pairing on the simulation machine: 200 vs 503, twice */
	us_dp_read_mstats(g_dp, mid_of(N_S1, fam), &ms1);
	expect_eq("s1 paired transactions", (long long)(ms1.paired - ms0.paired), 2);
	expect_eq("s1 class differences", (long long)(ms1.differ_class - ms0.differ_class), 2);
	expect_eq("s1 dropped messages", (long long)(ms1.dropped - ms0.dropped), 2);
	expect_eq("stat events (difference events written)", stat_delta(US_ST_EVENTS), 2);
}

/* 2: the simulation machine sits behind its own interface. */
static void t_separate_mirror(int fam)
{
	const unsigned actives = BIT(N_M1) | BIT(N_M2);
	int sim0 = g_client_5xx_from_sim, want;
	struct call c;

	CONFIGURE(fam, actives, BIT(N_S2), BIT(N_S1), US_SHARE_MAX);
	stats_mark();
	call_init(&c, fam, fam == AF_INET ? "separate4" : "separate6", 0);
	want = predict_active(&c);
	whole_call(&c, want, N_S2, actives, BIT(N_S1) | BIT(N_S2));
	expect_eq("client responses from a simulation machine", g_client_5xx_from_sim - sim0, 0);
	expect_eq("stat req_mirrored", stat_delta(US_ST_REQ_MIRRORED), 3);
	expect_eq("stat resp_fwd", stat_delta(US_ST_RESP_FWD), 2);
	expect_eq("stat resp_sim_drop", stat_delta(US_ST_RESP_SIM_DROP), 2);
	expect_eq("stat mirror_skipped", stat_delta(US_ST_MIRROR_SKIPPED), 0);
}

/* Send a batch of whole calls, pumping between phases. */
static void calls_run(struct call *cs, int n, int batch)
{
	for (int i = 0; i < n; i += batch) {
		int e = i + batch < n ? i + batch : n;

		for (int k = i; k < e; k++)
			call_send(&cs[k], M_INVITE);
		pump();
		for (int k = i; k < e; k++) {
			call_send(&cs[k], M_ACK);
			call_send(&cs[k], M_BYE);
		}
		pump();
	}
}

/* 3: the share decides per call; a call is mirrored whole or not at all. */
static void t_share(int fam)
{
	enum { N0 = 20, N50 = 200 };
	const unsigned actives = BIT(N_M1) | BIT(N_M2);
	static struct call cs[N50];
	int mirrored = 0, partial = 0, mispredicted = 0, unanswered = 0, wrong_active = 0;
	char w[160];

	/* share 0: nothing is copied */
	CONFIGURE(fam, actives, BIT(N_S1), 0, 0);
	stats_mark();
	for (int i = 0; i < N0; i++)
		call_init(&cs[i], fam, "share0", i);
	calls_run(cs, N0, 20);
	for (int i = 0; i < N0; i++) {
		mirrored += mcount(N_S1, &cs[i], NULL) + mcount(N_S2, &cs[i], NULL);
		unanswered += ccount(&cs[i], "INVITE", 200, -2) != 1 || ccount(&cs[i], "BYE", 200, -2) != 1;
	}
	expect_eq("share 0: messages received by simulation machines", mirrored, 0);
	expect_eq("share 0: calls without exactly one 200 to INVITE and BYE", unanswered, 0);
	expect_eq("share 0: stat req_mirrored", stat_delta(US_ST_REQ_MIRRORED), 0);
	expect_eq("share 0: stat req_fwd", stat_delta(US_ST_REQ_FWD), 3 * N0);

	/* share 50 %: per call all three messages or none */
	if (us_dp_set_share(g_dp, fam == AF_INET ? SVC4 : SVC6, US_SHARE_MAX / 2)) {
		fail_at("us_dp_set_share 5000", us_dp_error(g_dp), "ok");
		return;
	}
	stats_mark();
	mirrored = unanswered = 0;
	for (int i = 0; i < N50; i++)
		call_init(&cs[i], fam, "share50", i);
	calls_run(cs, N50, 25);
	for (int i = 0; i < N50; i++) {
		int k = mcount(N_S1, &cs[i], NULL);
		int predicted = us_share_point(callid_hash(cs[i].id)) < US_SHARE_MAX / 2;
		int a = who_got(&cs[i], actives);

		if (k == 3)
			mirrored++;
		else if (k != 0)
			partial++;
		if ((k == 3) != predicted)
			mispredicted++;
		if (a < 0 || mcount(a, &cs[i], NULL) != 3)
			wrong_active++;
		unanswered += ccount(&cs[i], "INVITE", 200, -2) != 1 || ccount(&cs[i], "BYE", 200, -2) != 1;
	}
	expect_eq("share 50%: calls of which s1 got some but not all messages", partial, 0);
	snprintf(w, sizeof(w), "share 50%%: mirrored calls of %d", N50);
	expect_range(w, mirrored, N50 / 4, 3 * N50 / 4);
	expect_eq("share 50%: calls mirrored otherwise than us_share_point() predicts", mispredicted, 0);
	expect_eq("share 50%: calls not wholly at one active machine", wrong_active, 0);
	expect_eq("share 50%: calls without exactly one 200 to INVITE and BYE", unanswered, 0);
	expect_eq("share 50%: stat req_mirrored", stat_delta(US_ST_REQ_MIRRORED), 3LL * mirrored);
}

/* 4: whatever else a simulation machine sends towards a client is dropped;
 * an active machine's non-SIP traffic is the kernel's to route. */
static void t_stray(int fam)
{
	static const char junk[] = "not SIP: stray datagram";
	int stray0[2] = { g_stray_rx[0], g_stray_rx[1] }, fd;
	const unsigned actives = BIT(N_M1) | BIT(N_M2);
	int i4 = fam == AF_INET ? 0 : 1;
	const char *cli = fam == AF_INET ? CLI4 : CLI6;
	int sim0 = g_client_5xx_from_sim, len;
	struct call forged[2];
	char buf[1024];
	__u64 sent = 0;

	CONFIGURE(fam, actives, BIT(N_S1) | BIT(N_S2), 0, 0);
	stats_mark();
	/* from the simulation machines' own addresses, and from VIP:5060 with
	 * a payload that is no SIP at all */
	for (int n = N_S1; n <= N_S2; n++) {
		fd = ns_socket(nodes[n].ns, fam, fam == AF_INET ? nodes[n].a4 : nodes[n].a6, 0);
		if (fd < 0) {
			fail_setup();
			return;
		}
		for (int k = 0; k < 3; k++)
			sent += !send_to(fd, fam, cli, STRAY_PORT, junk, sizeof(junk));
		close(fd);
		sent += !send_to(fam == AF_INET ? nodes[n].s4 : nodes[n].s6, fam, cli, STRAY_PORT,
				 junk, sizeof(junk));
		/* and an unsolicited SIP response to the client's SIP port */
		call_init(&forged[n - N_S1], fam, "forged", n);
		len = snprintf(buf, sizeof(buf),
			       "SIP/2.0 503 Service Unavailable\r\n"
			       "Via: SIP/2.0/UDP %s:%d;branch=z9hG4bK-forged%d\r\n"
			       "From: <sip:caller@%s>;tag=f\r\nTo: <sip:service@%s>;tag=%s\r\n"
			       "Call-ID: %s\r\nCSeq: 1 INVITE\r\nServer: understudy-live-%s\r\n"
			       "Content-Length: 0\r\n\r\n",
			       fam == AF_INET ? CLI4 : "[" CLI6 "]", CLI_PORT, n, cli, cli,
			       nodes[n].name, forged[n - N_S1].id, nodes[n].name);
		sent += !send_to(fam == AF_INET ? nodes[n].s4 : nodes[n].s6, fam, cli, CLI_PORT,
				 buf, len);
	}
	pump();
	expect_eq("datagrams sent by the simulation machines", (long long)sent, 10);
	expect_eq("stray datagrams from simulation machines received by the client",
		  g_stray_rx[i4] - stray0[i4], 0);
	expect_eq("unsolicited SIP responses from simulation machines received by the client",
		  ccount(&forged[0], "INVITE", 0, -2) + ccount(&forged[1], "INVITE", 0, -2), 0);
	expect_eq("client responses from a simulation machine", g_client_5xx_from_sim - sim0, 0);
	expect_eq("stat sim_stray_drop", stat_delta(US_ST_SIM_STRAY_DROP), 6);
	expect_eq("stat resp_sim_drop (non-SIP and SIP from VIP:5060)",
		  stat_delta(US_ST_RESP_SIM_DROP), 4);

	/* the same from an active machine arrives */
	stats_mark();
	fd = ns_socket(nodes[N_M1].ns, fam, fam == AF_INET ? nodes[N_M1].a4 : nodes[N_M1].a6, 0);
	if (fd < 0) {
		fail_setup();
		return;
	}
	for (int k = 0; k < 3; k++)
		send_to(fd, fam, cli, STRAY_PORT, junk, sizeof(junk));
	close(fd);
	send_to(fam == AF_INET ? nodes[N_M1].s4 : nodes[N_M1].s6, fam, cli, STRAY_PORT, junk,
		sizeof(junk));
	pump();
	expect_eq("non-SIP datagrams from active machine m1 received by the client",
		  g_stray_rx[i4] - stray0[i4], 4);
	expect_eq("stat sim_stray_drop after m1's datagrams", stat_delta(US_ST_SIM_STRAY_DROP), 0);
}

/* 5: a table change moves no call in progress. */
static void t_sticky(int fam)
{
	enum { N = 60 };
	const unsigned actives = BIT(N_M1) | BIT(N_M2);
	static struct call old[N], fresh[N];
	int first[N], would_move = 0, moved = 0, to_m3 = 0, fresh_wrong = 0, unanswered = 0;
	struct us_machine_cfg mc = { .id = mid_of(N_M3, fam), .svc_id = fam == AF_INET ? SVC4 : SVC6,
				     .family = fam, .weight = 100, .state = US_MS_ACTIVE };
	char w[160];

	CONFIGURE(fam, actives, 0, 0, 0);
	for (int i = 0; i < N; i++) {
		call_init(&old[i], fam, "sticky-old", i);
		call_send(&old[i], M_INVITE);
	}
	pump();
	for (int i = 0; i < N; i++)
		first[i] = who_got(&old[i], actives);

	/* m3 joins: about a third of the slots move to it */
	addr16(fam, fam == AF_INET ? nodes[N_M3].a4 : nodes[N_M3].a6, mc.addr);
	if (us_dp_set_machine(g_dp, &mc) || learn_all() ||
	    us_dp_rebuild(g_dp, fam == AF_INET ? SVC4 : SVC6, US_POOL_ACTIVE)) {
		fail_at("adding m3", us_dp_error(g_dp), "ok");
		return;
	}
	for (int i = 0; i < N; i++)
		would_move += predict_active(&old[i]) != first[i];
	snprintf(w, sizeof(w), "calls in progress whose slot now names another machine (of %d)", N);
	expect_range(w, would_move, 1, N);

	for (int i = 0; i < N; i++) {
		call_send(&old[i], M_ACK);
		call_send(&old[i], M_BYE);
	}
	for (int i = 0; i < N; i++) {
		call_init(&fresh[i], fam, "sticky-new", i);
		call_send(&fresh[i], M_INVITE);
	}
	pump();
	for (int i = 0; i < N; i++) {
		if (first[i] < 0 || mcount(first[i], &old[i], NULL) != 3 ||
		    who_got(&old[i], actives | BIT(N_M3)) != first[i])
			moved++;
		unanswered += ccount(&old[i], "BYE", 200, first[i]) != 1;
	}
	expect_eq("calls in progress not wholly at their first machine", moved, 0);
	expect_eq("calls in progress without a 200 to BYE from their machine", unanswered, 0);
	for (int i = 0; i < N; i++) {
		int got = who_got(&fresh[i], actives | BIT(N_M3));

		to_m3 += got == N_M3;
		fresh_wrong += got != predict_active(&fresh[i]);
	}
	snprintf(w, sizeof(w), "new calls placed on m3 (of %d)", N);
	expect_range(w, to_m3, 1, N - 1);
	expect_eq("new calls not at the machine the new table names", fresh_wrong, 0);
}

/* 7: a rejected simulation machine gets nothing more, calls in progress
 * included. */
static void t_rejected(int fam)
{
	const unsigned actives = BIT(N_M1) | BIT(N_M2);
	int sim0 = g_client_5xx_from_sim, a;
	struct call c1, c2;

	CONFIGURE(fam, actives, BIT(N_S1), 0, US_SHARE_MAX);
	call_init(&c1, fam, "rejected-before", 0);
	call_init(&c2, fam, "rejected-after", 0);
	call_send(&c1, M_INVITE);
	pump();
	expect_eq("INVITE copies at s1 before rejection", mcount(N_S1, &c1, "INVITE"), 1);

	if (us_dp_set_state(g_dp, mid_of(N_S1, fam), US_MS_REJECTED)) {
		fail_at("us_dp_set_state rejected", us_dp_error(g_dp), "ok");
		return;
	}
	stats_mark();
	call_send(&c1, M_ACK);
	call_send(&c1, M_BYE);
	pump();
	a = who_got(&c1, actives);
	expect_ok("call in progress: at one active machine", a >= 0);
	if (a >= 0)
		expect_eq("call in progress: messages at its active machine", mcount(a, &c1, NULL), 3);
	expect_eq("call in progress: ACK+BYE copies at s1 after rejection",
		  mcount(N_S1, &c1, NULL) - 1, 0);
	expect_eq("call in progress: 200 to BYE at the client", ccount(&c1, "BYE", 200, a), 1);

	whole_call(&c2, predict_active(&c2), -1, actives, BIT(N_S1) | BIT(N_S2));
	expect_eq("stat req_mirrored after rejection", stat_delta(US_ST_REQ_MIRRORED), 0);
	expect_eq("stat req_fwd after rejection", stat_delta(US_ST_REQ_FWD), 5);
	expect_eq("client responses from a simulation machine", g_client_5xx_from_sim - sim0, 0);
}

/* 8: a draining machine keeps its calls and takes no new ones; once
 * removed, its calls go on at another machine. */
static void t_drain_remove(int fam)
{
	enum { N = 40, NF = 20 };
	const unsigned actives = BIT(N_M1) | BIT(N_M2);
	static struct call cs[N], fresh[NF];
	int first[N], on_m2 = 0, kept = 0, fresh_m2 = 0, fresh_lost = 0, moved_ok = 0, m1_kept = 0;
	__u32 svc = fam == AF_INET ? SVC4 : SVC6;

	CONFIGURE(fam, actives, 0, 0, 0);
	stats_mark();
	for (int i = 0; i < N; i++) {
		call_init(&cs[i], fam, "drain", i);
		call_send(&cs[i], M_INVITE);
	}
	pump();
	for (int i = 0; i < N; i++) {
		first[i] = who_got(&cs[i], actives);
		on_m2 += first[i] == N_M2;
	}
	expect_range("calls placed on m2 before draining", on_m2, 1, N - 1);

	/* draining: in-dialog ACKs still reach m2, new calls do not */
	if (us_dp_set_state(g_dp, mid_of(N_M2, fam), US_MS_DRAINING) ||
	    us_dp_rebuild(g_dp, svc, US_POOL_ACTIVE)) {
		fail_at("draining m2", us_dp_error(g_dp), "ok");
		return;
	}
	for (int i = 0; i < N; i++)
		call_send(&cs[i], M_ACK);
	for (int i = 0; i < NF; i++) {
		call_init(&fresh[i], fam, "drain-new", i);
		call_send(&fresh[i], M_INVITE);
	}
	pump();
	for (int i = 0; i < N; i++)
		kept += first[i] >= 0 && mcount(first[i], &cs[i], "ACK") == 1 &&
			who_got(&cs[i], actives) == first[i];
	expect_eq("calls whose ACK reached their machine while m2 drains", kept, N);
	for (int i = 0; i < NF; i++) {
		fresh_m2 += mcount(N_M2, &fresh[i], NULL);
		fresh_lost += ccount(&fresh[i], "INVITE", 200, N_M1) != 1;
	}
	expect_eq("new calls' messages at draining m2", fresh_m2, 0);
	expect_eq("new calls not answered by m1 while m2 drains", fresh_lost, 0);

	/* removed: m2's calls go on at m1 (the only machine left) */
	if (us_dp_set_state(g_dp, mid_of(N_M2, fam), US_MS_REMOVED) ||
	    us_dp_rebuild(g_dp, svc, US_POOL_ACTIVE)) {
		fail_at("removing m2", us_dp_error(g_dp), "ok");
		return;
	}
	for (int i = 0; i < N; i++)
		call_send(&cs[i], M_BYE);
	pump();
	for (int i = 0; i < N; i++) {
		if (first[i] == N_M2)
			moved_ok += mcount(N_M2, &cs[i], "BYE") == 0 && mcount(N_M1, &cs[i], "BYE") == 1 &&
				    ccount(&cs[i], "BYE", 200, N_M1) == 1;
		else if (first[i] == N_M1)
			m1_kept += mcount(N_M1, &cs[i], "BYE") == 1;
	}
	expect_eq("removed m2's calls whose BYE m1 received and answered", moved_ok, on_m2);
	expect_eq("m1's calls whose BYE m1 received", m1_kept, N - on_m2);
	expect_eq("stat no_machine", stat_delta(US_ST_NO_MACHINE), 0);
}

struct test {
	const char *what;
	void (*fn)(int fam);
	int fam;
};

static const struct test tests[] = {
	{ "shared_iface_mirror",   t_shared_mirror,   AF_INET },
	{ "separate_iface_mirror", t_separate_mirror, AF_INET },
	{ "share_whole_calls",     t_share,           AF_INET },
	{ "sim_stray_dropped",     t_stray,           AF_INET },
	{ "sticky_table_change",   t_sticky,          AF_INET },
	{ "shared_iface_mirror",   t_shared_mirror,   AF_INET6 },
	{ "rejected_sim_machine",  t_rejected,        AF_INET },
	{ "separate_iface_mirror", t_separate_mirror, AF_INET6 },
	{ "sim_stray_dropped",     t_stray,           AF_INET6 },
	{ "drain_then_remove",     t_drain_remove,    AF_INET },
	{ "drain_then_remove",     t_drain_remove,    AF_INET6 },
};
#define NTESTS ((int)(sizeof(tests) / sizeof(tests[0])))

static void test_name(const struct test *t, char *buf, size_t cap)
{
	snprintf(buf, cap, "live_%s_%s", t->what, t->fam == AF_INET ? "ipv4" : "ipv6");
}

/* ---- main ------------------------------------------------------------------------ */

static int skip(const char *why)
{
	printf("SKIP test_live: %s\n", why);
	return SKIP_RC;
}

static int have_ip(void)
{
	const char *path = getenv("PATH");
	char buf[512], p[600];

	snprintf(buf, sizeof(buf), "%s", path ? path : "/usr/sbin:/usr/bin:/sbin:/bin");
	for (char *d = strtok(buf, ":"); d; d = strtok(NULL, ":")) {
		snprintf(p, sizeof(p), "%s/ip", d);
		if (!access(p, X_OK))
			return 1;
	}
	return !access("/usr/sbin/ip", X_OK) || !access("/sbin/ip", X_OK);
}

int main(void)
{
	struct statfs sfs;
	int passed = 0, failed = 0, root_ns;
	long long t0 = now_ms();

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (geteuid() != 0)
		return skip("needs root (network namespaces, BPF, XDP)");
	if (!have_ip())
		return skip("iproute2's ip not found");
	if (statfs("/sys/fs/bpf", &sfs) || sfs.f_type != BPF_FS_MAGIC)
		return skip("/sys/fs/bpf is not a bpffs mount (tools/bpffs.sh mounts it)");
	if (!getenv("PATH"))
		setenv("PATH", "/usr/sbin:/usr/bin:/sbin:/bin", 1);

	remove_debris();
	g_main_pid = getpid();
	snprintf(g_pin, sizeof(g_pin), "/sys/fs/bpf/understudy-live-%d", (int)g_main_pid);
	install_handlers();
	alarm(240);     /* a hung run still tears down */

	root_ns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (root_ns < 0)
		return skip("no network namespaces");
	g_home = root_ns;
	g_mrx = calloc(LOG_MAX, sizeof(*g_mrx));
	g_crx = calloc(LOG_MAX, sizeof(*g_crx));
	if (!g_mrx || !g_crx)
		return 1;

	if (build_net() || warm_up() || open_sockets() || setup_dp()) {
		snprintf(g_cur, sizeof(g_cur), "setup");
		fail_setup();
		teardown();
		for (int i = 0; i < NTESTS; i++) {
			char name[64];

			test_name(&tests[i], name, sizeof(name));
			printf("test:FAIL:%s setup actual failed expected ok\n", name);
		}
		printf("0 passed, %d failed\n", NTESTS);
		return 1;
	}

	for (int i = 0; i < NTESTS; i++) {
		test_name(&tests[i], g_cur, sizeof(g_cur));
		g_cur_fail = 0;
		tests[i].fn(tests[i].fam);
		if (g_cur_fail) {
			failed++;
		} else {
			passed++;
			printf("PASS %s\n", g_cur);
		}
	}

	if (getenv("TEST_LIVE_STATS")) {
		__u64 st[US_ST_MAX];

		us_dp_read_stats(g_dp, st);
		for (int s = 0; s < US_ST_MAX; s++)
			if (st[s])
				fprintf(stderr, "  %-18s %llu\n", us_stat_name(s), (unsigned long long)st[s]);
	}
	go_home();
	setns(root_ns, CLONE_NEWNET);
	teardown();
	printf("# %lld ms\n", now_ms() - t0);
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
