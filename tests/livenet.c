// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* livenet: the live tests' network of namespaces and SIP endpoints; see livenet.h. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
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
#include <linux/magic.h>
#include <linux/sockios.h>

#include "dp.h"
#include "livenet.h"
#include "../tools/lab/net.h"

#define NETNS_DIR "/var/run/netns"

static const char *const ns_role[LN_NNS] = { "c", "b", "sw", "m1", "m2", "m3", "s1", "s2" };

struct ln_node ln_nodes[LN_NNODES] = {
	[LN_M1] = { "m1", LN_NS_M1, US_NET_M4(1), US_NET_M6(1), US_NET_BAL_MACH4, US_NET_BAL_MACH6,
		    -1, -1 },
	[LN_M2] = { "m2", LN_NS_M2, US_NET_M4(2), US_NET_M6(2), US_NET_BAL_MACH4, US_NET_BAL_MACH6,
		    -1, -1 },
	[LN_M3] = { "m3", LN_NS_M3, US_NET_M4(3), US_NET_M6(3), US_NET_BAL_MACH4, US_NET_BAL_MACH6,
		    -1, -1 },
	[LN_S1] = { "s1", LN_NS_S1, US_NET_M4(11), US_NET_M6(11), US_NET_BAL_MACH4, US_NET_BAL_MACH6,
		    -1, -1 },
	[LN_S2] = { "s2", LN_NS_S2, US_NET_S4(12), US_NET_S6(12), US_NET_BAL_SIM4, US_NET_BAL_SIM6,
		    -1, -1 },
};

pid_t ln_main_pid;
char ln_ns_name[LN_NNS][32];
int ln_nsfd[LN_NNS] = { -1, -1, -1, -1, -1, -1, -1, -1 };
char ln_err[512];
volatile pid_t ln_child;

static struct ln_opts ln_o;
static volatile sig_atomic_t ln_ns_made;   /* namespaces registered so far */
static char ln_pin[128];
static volatile sig_atomic_t ln_torn;
static int ln_home_fd = -1;                /* the namespace "home" means */

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

/* Remove every entry under dirfd (depth levels at most), then name itself. */
static void rm_at_raw(int parent, const char *name, int depth)
{
	char buf[4096];
	int fd;
	long n;

	if (!unlinkat(parent, name, 0) || errno != EISDIR)
		return;
	fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return;
	while (depth > 0 && (n = syscall(SYS_getdents64, fd, buf, sizeof(buf))) > 0) {
		for (long off = 0; off < n;) {
			struct ldirent *d = (struct ldirent *)(buf + off);

			off += d->d_reclen;
			if (d->d_name[0] == '.' &&
			    (!d->d_name[1] || (d->d_name[1] == '.' && !d->d_name[2])))
				continue;
			rm_at_raw(fd, d->d_name, depth - 1);
		}
	}
	close(fd);
	unlinkat(parent, name, AT_REMOVEDIR);
}

void ln_rm_tree_raw(const char *dir)
{
	rm_at_raw(AT_FDCWD, dir, 4);
}

static void teardown_raw(void)
{
	char p[96];

	if (ln_torn)
		return;
	ln_torn = 1;
	if (ln_o.teardown_raw)
		ln_o.teardown_raw();
	if (ln_pin[0])
		ln_rm_tree_raw(ln_pin);     /* unpinned links detach */
	for (int i = 0; i < ln_ns_made; i++) {
		p[0] = 0;
		s_cat(p, sizeof(p), NETNS_DIR "/");
		s_cat(p, sizeof(p), ln_ns_name[i]);
		umount2(p, MNT_DETACH);
		unlink(p);
	}
}

void ln_teardown(void)
{
	if (ln_torn || !ln_main_pid || getpid() != ln_main_pid)
		return;
	if (ln_o.teardown)
		ln_o.teardown();
	else if (ln_o.teardown_raw)
		ln_o.teardown_raw();
	ln_o.teardown_raw = NULL;   /* done */
	if (ln_pin[0])
		us_dp_destroy_pins(ln_pin);  /* detaches the links, removes the pins */
	teardown_raw();
}

static void on_signal(int sig)
{
	if (getpid() == ln_main_pid) {
		char msg[96] = "";

		s_cat(msg, sizeof(msg), ln_o.tag ? ln_o.tag : "livenet");
		s_cat(msg, sizeof(msg), ": signal, tearing down\n");
		if (write(2, msg, s_len(msg)) < 0) {
			/* nothing to do */
		}
		/* a half-done "ip netns add" would create its namespace after us */
		if (ln_child > 0) {
			kill(ln_child, SIGKILL);
			waitpid(ln_child, NULL, 0);
		}
		teardown_raw();
	}
	signal(sig, SIG_DFL);
	raise(sig);
}

/* Debris of earlier runs killed outright (SIGKILL): namespaces
 * <prefix><pid><role> and pin directories <pin prefix><pid> of processes
 * that no longer exist. */
static void remove_debris(void)
{
	size_t nl = strlen(ln_o.ns_prefix), pl = strlen(ln_o.pin_prefix);
	char p[512];
	struct dirent *de;
	DIR *d;

	d = opendir(NETNS_DIR);
	while (d && (de = readdir(d))) {
		char *end;
		long pid;

		if (strncmp(de->d_name, ln_o.ns_prefix, nl))
			continue;
		pid = strtol(de->d_name + nl, &end, 10);
		if (pid <= 0 || end == de->d_name + nl || !kill(pid, 0) || errno != ESRCH)
			continue;
		for (int i = 0; i < LN_NNS; i++) {
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

		if (strncmp(de->d_name, ln_o.pin_prefix, pl))
			continue;
		pid = strtol(de->d_name + pl, &end, 10);
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
	atexit(ln_teardown);
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

const char *ln_unavailable(void)
{
	struct statfs sfs;

	if (geteuid() != 0)
		return "needs root (network namespaces, BPF, XDP)";
	if (!have_ip())
		return "iproute2's ip not found";
	if (statfs("/sys/fs/bpf", &sfs) || sfs.f_type != BPF_FS_MAGIC)
		return "/sys/fs/bpf is not a bpffs mount (tools/bpffs.sh mounts it)";
	if (access("/proc/self/ns/net", R_OK))
		return "no network namespaces";
	return NULL;
}

int ln_init(const struct ln_opts *o)
{
	ln_o = *o;
	if (!getenv("PATH"))
		setenv("PATH", "/usr/sbin:/usr/bin:/sbin:/bin", 1);
	remove_debris();
	ln_main_pid = getpid();
	snprintf(ln_pin, sizeof(ln_pin), "/sys/fs/bpf/%s%d", ln_o.pin_prefix, (int)ln_main_pid);
	install_handlers();
	if (ln_o.alarm_s)
		alarm(ln_o.alarm_s);
	ln_home_fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (ln_home_fd < 0) {
		ln_seterr("open /proc/self/ns/net: %s", strerror(errno));
		return -1;
	}
	return 0;
}

const char *ln_pin_root(void)
{
	return ln_pin;
}

/* ---- helpers: commands, namespaces, sysctls ----------------------------- */

void ln_seterr(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(ln_err, sizeof(ln_err), fmt, ap);
	va_end(ap);
}

int ln_run(const char *fmt, ...)
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
		ln_child = pid;
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
			ln_child = 0;
			return -errno;
		}
	ln_child = 0;
	if (!WIFEXITED(st) || WEXITSTATUS(st)) {
		va_start(ap, fmt);
		vsnprintf(line, sizeof(line), fmt, ap);
		va_end(ap);
		ln_seterr("command failed (status %d): %s", WIFEXITED(st) ? WEXITSTATUS(st) : -1, line);
		return -1;
	}
	return 0;
}

int ln_enter(int ns)
{
	if (setns(ln_nsfd[ns], CLONE_NEWNET)) {
		ln_seterr("setns %s: %s", ln_ns_name[ns], strerror(errno));
		return -1;
	}
	return 0;
}

int ln_home(void)
{
	return setns(ln_home_fd, CLONE_NEWNET);
}

int ln_set_home(int ns)
{
	if (ln_enter(ns))
		return -1;
	ln_home_fd = ln_nsfd[ns];
	return 0;
}

/* Write a sysctl of the current network namespace. */
static int sysctl_w(const char *path, const char *val)
{
	char p[256];
	int fd, n;

	snprintf(p, sizeof(p), "/proc/sys/net/%s", path);
	fd = open(p, O_WRONLY);
	if (fd < 0) {
		ln_seterr("open %s: %s", p, strerror(errno));
		return -1;
	}
	n = write(fd, val, strlen(val));
	close(fd);
	if (n != (int)strlen(val)) {
		ln_seterr("write %s: %s", p, strerror(errno));
		return -1;
	}
	return 0;
}

static int ns_sysctl(int ns, const char *path, const char *val)
{
	int err;

	if (ln_enter(ns))
		return -1;
	err = sysctl_w(path, val);
	ln_home();
	return err;
}

/* ethtool's legacy one-feature ioctls (no ethtool binary needed). */
static int ns_ethtool(int ns, const char *ifname, __u32 cmd, __u32 val)
{
	struct ethtool_value ev = { .cmd = cmd, .data = val };
	struct ifreq ifr;
	int fd, err = 0;

	if (ln_enter(ns))
		return -1;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ln_home();
	if (fd < 0) {
		ln_seterr("socket: %s", strerror(errno));
		return -1;
	}
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	ifr.ifr_data = (void *)&ev;
	if (ioctl(fd, SIOCETHTOOL, &ifr)) {
		ln_seterr("%s/%s: ethtool 0x%x=%u: %s", ln_ns_name[ns], ifname, cmd, val,
			  strerror(errno));
		err = -1;
	}
	close(fd);
	return err;
}

union ln_sa {
	struct sockaddr_in v4;
	struct sockaddr_in6 v6;
};

/* A socket address of family fam; returns its length. */
static socklen_t ln_sockaddr(union ln_sa *sa, int fam, const char *addr, int port)
{
	memset(sa, 0, sizeof(*sa));
	if (fam == AF_INET) {
		sa->v4.sin_family = AF_INET;
		sa->v4.sin_port = htons(port);
		inet_pton(AF_INET, addr, &sa->v4.sin_addr);
		return sizeof(sa->v4);
	}
	sa->v6.sin6_family = AF_INET6;
	sa->v6.sin6_port = htons(port);
	inet_pton(AF_INET6, addr, &sa->v6.sin6_addr);
	return sizeof(sa->v6);
}

int ln_socket(int ns, int fam, const char *addr, int port)
{
	union ln_sa sa;
	int fd, one = 1, big = 8 << 20;
	socklen_t len;

	len = ln_sockaddr(&sa, fam, addr, port);
	if (ln_enter(ns))
		return -1;
	fd = socket(fam, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	ln_home();
	if (fd < 0) {
		ln_seterr("socket: %s", strerror(errno));
		return -1;
	}
	if (fam == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big)))
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	if (bind(fd, (struct sockaddr *)&sa, len)) {
		ln_seterr("%s: bind %s port %d: %s", ln_ns_name[ns], addr, port, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

int ln_send_to(int fd, int fam, const char *addr, int port, const void *buf, size_t len)
{
	union ln_sa sa;
	socklen_t sl;

	sl = ln_sockaddr(&sa, fam, addr, port);
	return sendto(fd, buf, len, 0, (struct sockaddr *)&sa, sl) == (ssize_t)len ? 0 : -1;
}

void ln_addr16(int fam, const char *text, __u8 out[16])
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

long long ln_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

void ln_sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* ---- building the network ----------------------------------------------- */

#define RUN(...) do { if (ln_run(__VA_ARGS__)) return -1; } while (0)
#define TRY(x)   do { if (x) return -1; } while (0)

static int make_ns(int i)
{
	char p[96];

	snprintf(ln_ns_name[i], sizeof(ln_ns_name[i]), "%s%d%s", ln_o.ns_prefix, (int)ln_main_pid,
		 ns_role[i]);
	ln_ns_made = i + 1;         /* registered before it exists: teardown covers it */
	RUN("ip netns add %s", ln_ns_name[i]);
	snprintf(p, sizeof(p), NETNS_DIR "/%s", ln_ns_name[i]);
	ln_nsfd[i] = open(p, O_RDONLY | O_CLOEXEC);
	if (ln_nsfd[i] < 0) {
		ln_seterr("open %s: %s", p, strerror(errno));
		return -1;
	}
	/* before any interface exists, so every one inherits them */
	TRY(ns_sysctl(i, "ipv6/conf/all/accept_dad", "0"));
	TRY(ns_sysctl(i, "ipv6/conf/default/accept_dad", "0"));
	TRY(ns_sysctl(i, "ipv4/conf/all/rp_filter", "0"));
	TRY(ns_sysctl(i, "ipv4/conf/default/rp_filter", "0"));
	RUN("ip -n %s link set lo up", ln_ns_name[i]);
	return 0;
}

static int build_net(void)
{
	const char *C = ln_ns_name[LN_NS_C], *B = ln_ns_name[LN_NS_B], *SW = ln_ns_name[LN_NS_SW];

	for (int i = 0; i < LN_NNS; i++)
		TRY(make_ns(i));

	/* client <-> balancer */
	RUN("ip -n %s link add cli type veth peer name eth0 netns %s", B, C);
	RUN("ip -n %s addr add 198.18.0.254/24 dev cli", B);
	RUN("ip -n %s addr add 2001:db8::fe/64 dev cli nodad", B);
	RUN("ip -n %s addr add " LN_CLI4 "/24 dev eth0", C);
	RUN("ip -n %s addr add " LN_CLI6 "/64 dev eth0 nodad", C);

	/* balancer <-> switch, machines on the bridge */
	RUN("ip -n %s link add br0 type bridge stp_state 0 forward_delay 0 mcast_snooping 0", SW);
	RUN("ip -n %s link add mach type veth peer name uplink netns %s", B, SW);
	RUN("ip -n %s link set uplink master br0", SW);
	RUN("ip -n %s addr add 198.18.1.254/24 dev mach", B);
	RUN("ip -n %s addr add 2001:db8:1::fe/64 dev mach nodad", B);
	for (int n = LN_M1; n <= LN_S1; n++) {
		const char *M = ln_ns_name[ln_nodes[n].ns];

		RUN("ip -n %s link add p%s type veth peer name eth0 netns %s", SW, ln_nodes[n].name, M);
		RUN("ip -n %s link set p%s master br0", SW, ln_nodes[n].name);
		RUN("ip -n %s link set p%s up", SW, ln_nodes[n].name);
	}
	RUN("ip -n %s link set br0 up", SW);
	RUN("ip -n %s link set uplink up", SW);

	/* balancer <-> s2 */
	RUN("ip -n %s link add simx type veth peer name eth0 netns %s", B, ln_ns_name[LN_NS_S2]);
	RUN("ip -n %s addr add 198.18.2.254/24 dev simx", B);
	RUN("ip -n %s addr add 2001:db8:2::fe/64 dev simx nodad", B);

	for (int n = 0; n < LN_NNODES; n++) {
		const char *M = ln_ns_name[ln_nodes[n].ns];

		RUN("ip -n %s addr add %s/24 dev eth0", M, ln_nodes[n].a4);
		RUN("ip -n %s addr add %s/64 dev eth0 nodad", M, ln_nodes[n].a6);
		RUN("ip -n %s addr add " LN_VIP4 "/32 dev lo", M);
		RUN("ip -n %s addr add " LN_VIP6 "/128 dev lo", M);
		RUN("ip -n %s link set eth0 up", M);
		RUN("ip -n %s route add default via %s", M, ln_nodes[n].gw4);
		RUN("ip -n %s -6 route add default via %s", M, ln_nodes[n].gw6);
		/* machines' UDP is forwarded by XDP: send it with a finished checksum */
		TRY(ns_ethtool(ln_nodes[n].ns, "eth0", ETHTOOL_STXCSUM, 0));
	}

	RUN("ip -n %s link set eth0 up", C);
	RUN("ip -n %s route add default via 198.18.0.254", C);
	RUN("ip -n %s -6 route add default via 2001:db8::fe", C);
	TRY(ns_ethtool(LN_NS_C, "eth0", ETHTOOL_STXCSUM, 0));

	RUN("ip -n %s link set cli up", B);
	RUN("ip -n %s link set mach up", B);
	RUN("ip -n %s link set simx up", B);
	TRY(ns_sysctl(LN_NS_B, "ipv4/ip_forward", "1"));
	TRY(ns_sysctl(LN_NS_B, "ipv6/conf/all/forwarding", "1"));

	/* frames XDP-redirected into a veth need NAPI on its peer: GRO on */
	TRY(ns_ethtool(LN_NS_C, "eth0", ETHTOOL_SGRO, 1));
	TRY(ns_ethtool(LN_NS_SW, "uplink", ETHTOOL_SGRO, 1));
	TRY(ns_ethtool(LN_NS_S2, "eth0", ETHTOOL_SGRO, 1));
	return 0;
}

/* One datagram from every host to its gateway, v4 and v6: neighbour
 * entries on both sides and the bridge's forwarding table get filled. */
static int warm_up(void)
{
	static const char junk[] = "warm-up";
	int fd;

	for (int n = 0; n < LN_NNODES; n++) {
		fd = ln_socket(ln_nodes[n].ns, AF_INET, ln_nodes[n].a4, 0);
		TRY(fd < 0);
		ln_send_to(fd, AF_INET, ln_nodes[n].gw4, 9, junk, sizeof(junk));
		close(fd);
		fd = ln_socket(ln_nodes[n].ns, AF_INET6, ln_nodes[n].a6, 0);
		TRY(fd < 0);
		ln_send_to(fd, AF_INET6, ln_nodes[n].gw6, 9, junk, sizeof(junk));
		close(fd);
	}
	fd = ln_socket(LN_NS_C, AF_INET, LN_CLI4, 0);
	TRY(fd < 0);
	ln_send_to(fd, AF_INET, US_NET_BAL_CLI4, 9, junk, sizeof(junk));
	close(fd);
	fd = ln_socket(LN_NS_C, AF_INET6, LN_CLI6, 0);
	TRY(fd < 0);
	ln_send_to(fd, AF_INET6, US_NET_BAL_CLI6, 9, junk, sizeof(junk));
	close(fd);
	ln_sleep_ms(150);
	return 0;
}

int ln_build(void)
{
	TRY(build_net() || warm_up());
	for (int n = 0; n < LN_NNODES; n++) {
		ln_nodes[n].s4 = ln_socket(ln_nodes[n].ns, AF_INET, LN_VIP4, LN_SIP_PORT);
		ln_nodes[n].s6 = ln_socket(ln_nodes[n].ns, AF_INET6, LN_VIP6, LN_SIP_PORT);
		TRY(ln_nodes[n].s4 < 0 || ln_nodes[n].s6 < 0);
	}
	return 0;
}

/* ---- SIP ---------------------------------------------------------------------- */

unsigned long long ln_fnv(const void *p, size_t n)
{
	const unsigned char *b = p;
	unsigned long long h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3ull;
	return h;
}

void ln_sip_hdr(const char *msg, const char *name, char *out, size_t cap)
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

void ln_sip_param(const char *val, const char *name, char *out, size_t cap)
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

int ln_sip_server_node(const char *msg)
{
	char server[64];
	size_t pl = strlen(LN_SERVER_PREFIX);

	ln_sip_hdr(msg, "Server", server, sizeof(server));
	if (strncmp(server, LN_SERVER_PREFIX, pl))
		return -1;
	for (int n = 0; n < LN_NNODES; n++)
		if (!strcmp(server + pl, ln_nodes[n].name))
			return n;
	return -1;
}

size_t ln_sip_request(char *buf, size_t cap, int fam, enum ln_method what, const char *callid,
		      const char *totag, unsigned branch, int cli_port)
{
	static const char sdp[] =
		"v=0\r\no=caller 1 1 IN IP4 198.18.0.1\r\ns=-\r\nc=IN IP4 198.18.0.1\r\n"
		"t=0 0\r\nm=audio 40002 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";
	static const char *const meth[] = { "INVITE", "ACK", "BYE" };
	const char *me = fam == AF_INET ? LN_CLI4 : "[" LN_CLI6 "]";
	const char *vip = fam == AF_INET ? LN_VIP4 : "[" LN_VIP6 "]";
	char tt[64] = "";
	unsigned cseq = what == LN_BYE ? 2 : 1;
	int len;

	if (totag)
		snprintf(tt, sizeof(tt), ";tag=%s", totag);
	len = snprintf(buf, cap,
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
		       meth[what], vip, me, cli_port, (int)ln_main_pid, branch, me,
		       (unsigned)(ln_fnv(callid, strlen(callid)) & 0xffffff), vip, tt, callid, cseq,
		       meth[what], me, cli_port,
		       what == LN_INVITE ? "Content-Type: application/sdp\r\n" : "",
		       what == LN_INVITE ? strlen(sdp) : (size_t)0, what == LN_INVITE ? sdp : "");
	return len > 0 && (size_t)len < cap ? (size_t)len : 0;
}

size_t ln_sip_tag(int n, const char *callid, char *out, size_t cap)
{
	unsigned h = (unsigned)(ln_fnv(callid, strlen(callid)) & 0xffff);
	int len;

	/* simulation machines' tags are longer than the active machines': a
	 * copy naming their dialog changes size */
	if (n == LN_S1 || n == LN_S2)
		len = snprintf(out, cap, "%s-%u-own-dialog-of-the-shadow", ln_nodes[n].name, h);
	else
		len = snprintf(out, cap, "%s-%u", ln_nodes[n].name, h);
	return len > 0 && (size_t)len < cap ? (size_t)len : 0;
}

size_t ln_sip_answer(char *out, size_t cap, int n, const char *req, int fam, int code,
		     const char *reason)
{
	char v[512], to[300], cid[128], cseq[64], from_h[300];
	const char *p = strstr(req, "\r\n");
	int len;

	len = snprintf(out, cap, "SIP/2.0 %d %s\r\n", code, reason);
	while (len > 0 && p && p[2] && !(p[2] == '\r' && p[3] == '\n')) {
		const char *line = p + 2, *end = strstr(line, "\r\n");

		if (!end)
			break;
		if (!strncasecmp(line, "Via:", 4) && (size_t)len + (end - line) + 2 < cap)
			len += snprintf(out + len, cap - len, "%.*s\r\n", (int)(end - line), line);
		p = end;
	}
	ln_sip_hdr(req, "From", from_h, sizeof(from_h));
	ln_sip_hdr(req, "To", to, sizeof(to));
	ln_sip_hdr(req, "Call-ID", cid, sizeof(cid));
	ln_sip_hdr(req, "CSeq", cseq, sizeof(cseq));
	if (!strstr(to, ";tag=")) {
		char tag[96];

		ln_sip_tag(n, cid, tag, sizeof(tag));
		snprintf(v, sizeof(v), "%s;tag=%s", to, tag);
	} else {
		snprintf(v, sizeof(v), "%s", to);
	}
	if (len <= 0 || (size_t)len >= cap)
		return 0;
	len += snprintf(out + len, cap - len,
			"From: %s\r\nTo: %s\r\nCall-ID: %s\r\nCSeq: %s\r\n"
			"Contact: <sip:%s@%s>\r\nServer: " LN_SERVER_PREFIX "%s\r\n"
			"Content-Length: 0\r\n\r\n",
			from_h, v, cid, cseq, ln_nodes[n].name,
			fam == AF_INET ? LN_VIP4 : "[" LN_VIP6 "]", ln_nodes[n].name);
	return len > 0 && (size_t)len < cap ? (size_t)len : 0;
}
