// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Real etcd members in a namespace of their own: see etcdlab.h. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "etcd.h"
#include "etcdlab.h"
#include "livenet.h"

#define NETNS_DIR "/run/netns"
#define EL_MAX_MEMBERS 8

char el_err[512];
char el_dir[128];
char el_ns[64];

static char el_prefix[32];
static char el_ns_path[128];        /* NETNS_DIR/el_ns, for the signal handler */
static pid_t el_main_pid;
static int el_home_fd = -1;
static volatile sig_atomic_t el_ns_made, el_torn;
static volatile pid_t el_pids[EL_MAX_MEMBERS];

static void seterr(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void seterr(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(el_err, sizeof(el_err), fmt, ap);
	va_end(ap);
}

/* ---- teardown ------------------------------------------------------------------- */

/* async-signal-safe: members killed, the namespace unmounted and removed */
static void teardown_raw(void)
{
	if (el_torn)
		return;
	el_torn = 1;
	for (int i = 0; i < EL_MAX_MEMBERS; i++) {
		if (el_pids[i] > 0) {
			kill(el_pids[i], SIGKILL);
			waitpid(el_pids[i], NULL, 0);
			el_pids[i] = 0;
		}
	}
	if (el_ns_made) {
		umount2(el_ns_path, MNT_DETACH);
		unlink(el_ns_path);
	}
	if (el_dir[0])
		ln_rm_tree_raw(el_dir);
}

void el_leave(void)
{
	if (!el_main_pid || getpid() != el_main_pid || el_torn)
		return;
	if (el_home_fd >= 0) {
		setns(el_home_fd, CLONE_NEWNET);
		close(el_home_fd);
		el_home_fd = -1;
	}
	teardown_raw();
}

static void on_signal(int sig)
{
	if (getpid() == el_main_pid) {
		static const char msg[] = "etcdlab: signal, tearing down\n";

		if (write(2, msg, sizeof(msg) - 1) < 0) {
			/* nothing to do */
		}
		teardown_raw();
	}
	signal(sig, SIG_DFL);
	raise(sig);
}

/* namespaces <prefix>-<pid> and directories /tmp/<prefix>-<pid> of runs
 * whose process is gone */
static void remove_debris(void)
{
	size_t nl = strlen(el_prefix);
	const char *dirs[] = { NETNS_DIR, "/tmp" };
	char p[512];
	struct dirent *de;

	for (size_t k = 0; k < 2; k++) {
		DIR *d = opendir(dirs[k]);

		while (d && (de = readdir(d))) {
			char *end;
			long pid;

			if (strncmp(de->d_name, el_prefix, nl) || de->d_name[nl] != '-')
				continue;
			pid = strtol(de->d_name + nl + 1, &end, 10);
			if (pid <= 0 || *end || !kill(pid, 0) || errno != ESRCH)
				continue;
			snprintf(p, sizeof(p), "%s/%s", dirs[k], de->d_name);
			if (k == 0) {
				umount2(p, MNT_DETACH);
				unlink(p);
			} else {
				ln_rm_tree_raw(p);
			}
		}
		if (d)
			closedir(d);
	}
}

/* Run a command (words split at spaces), its output into <el_dir>/commands.log:
 * 0, or -1 with el_err saying which failed. */
static int run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int run(const char *fmt, ...)
{
	char line[512], copy[512], log[192], *argv[48];
	sigset_t all, old;
	int argc = 0, st;
	va_list ap;
	pid_t pid;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	memcpy(copy, line, sizeof(line));
	for (char *tok = strtok(copy, " "); tok && argc < 47; tok = strtok(NULL, " "))
		argv[argc++] = tok;
	argv[argc] = NULL;
	snprintf(log, sizeof(log), "%s/commands.log", el_dir);
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	pid = fork();
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);

		for (int s = 1; s < 32; s++)
			signal(s, SIG_DFL);
		sigprocmask(SIG_SETMASK, &old, NULL);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execvp(argv[0], argv);
		_exit(127);
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (pid < 0) {
		seterr("fork: %s", strerror(errno));
		return -1;
	}
	while (waitpid(pid, &st, 0) < 0) {
		if (errno != EINTR) {
			seterr("wait for \"%s\": %s", line, strerror(errno));
			return -1;
		}
	}
	if (!WIFEXITED(st) || WEXITSTATUS(st)) {
		seterr("command failed (status %d, output in %s): %s",
		       WIFEXITED(st) ? WEXITSTATUS(st) : -1, log, line);
		return -1;
	}
	return 0;
}

int el_enter(const char *prefix)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGSEGV, SIGABRT };
	char path[160];
	int fd;

	snprintf(el_prefix, sizeof(el_prefix), "%s", prefix);
	el_main_pid = getpid();
	snprintf(el_ns, sizeof(el_ns), "%s-%d", prefix, (int)el_main_pid);
	snprintf(el_dir, sizeof(el_dir), "/tmp/%s-%d", prefix, (int)el_main_pid);
	snprintf(el_ns_path, sizeof(el_ns_path), NETNS_DIR "/%s", el_ns);
	remove_debris();
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		signal(sigs[i], on_signal);
	/* curl writes to closed sockets with MSG_NOSIGNAL; a member's pipes none */
	signal(SIGPIPE, SIG_IGN);
	atexit(el_leave);
	if (mkdir(el_dir, 0700) && errno != EEXIST) {
		seterr("mkdir %s: %s", el_dir, strerror(errno));
		return -1;
	}
	el_ns_made = 1;     /* from here on, teardown removes it (if made) */
	if (run("ip netns add %s", el_ns))
		return -1;
	el_home_fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	snprintf(path, sizeof(path), NETNS_DIR "/%s", el_ns);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (el_home_fd < 0 || fd < 0 || setns(fd, CLONE_NEWNET)) {
		seterr("into namespace %s: %s", el_ns, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	if (run("ip link set lo up"))
		return -1;
	for (int i = 1; i <= 8; i++)
		if (run("ip addr add 198.18.0.%d/32 dev lo", i))
			return -1;
	return 0;
}

/* ---- certificates --------------------------------------------------------------- */

static int write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (!f || fputs(text, f) < 0 || fclose(f)) {
		seterr("write %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

int el_make_certs(struct el_certs *c)
{
	char d[160], ext[192];
	const char *ec = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";

	snprintf(d, sizeof(d), "%s/tls", el_dir);
	if (mkdir(d, 0700) && errno != EEXIST) {
		seterr("mkdir %s: %s", d, strerror(errno));
		return -1;
	}
	snprintf(c->ca, sizeof(c->ca), "%s/ca.crt", d);
	snprintf(c->other_ca, sizeof(c->other_ca), "%s/other-ca.crt", d);
	snprintf(c->server_cert, sizeof(c->server_cert), "%s/server.crt", d);
	snprintf(c->server_key, sizeof(c->server_key), "%s/server.key", d);
	snprintf(c->client_cert, sizeof(c->client_cert), "%s/client.crt", d);
	snprintf(c->client_key, sizeof(c->client_key), "%s/client.key", d);
	snprintf(ext, sizeof(ext), "%s/server.ext", d);
	if (write_file(ext, "basicConstraints=CA:FALSE\n"
		       "keyUsage=digitalSignature,keyEncipherment\n"
		       "extendedKeyUsage=serverAuth,clientAuth\n"
		       "subjectAltName=IP:" EL_ADDR1 ",IP:" EL_ADDR2 ",IP:" EL_ADDR3 "\n"))
		return -1;
	snprintf(ext, sizeof(ext), "%s/client.ext", d);
	if (write_file(ext, "basicConstraints=CA:FALSE\n"
		       "keyUsage=digitalSignature,keyEncipherment\n"
		       "extendedKeyUsage=clientAuth\n"))
		return -1;
	if (run("openssl req -x509 %s -keyout %s/ca.key -out %s -days 2 -subj /CN=understudy-test-ca",
		ec, d, c->ca) ||
	    run("openssl req -x509 %s -keyout %s/other-ca.key -out %s -days 2 -subj /CN=other-ca",
		ec, d, c->other_ca) ||
	    run("openssl req %s -keyout %s -out %s/server.csr -subj /CN=etcd", ec, c->server_key, d) ||
	    run("openssl x509 -req -in %s/server.csr -CA %s -CAkey %s/ca.key -CAcreateserial -out %s "
		"-days 2 -extfile %s/server.ext", d, c->ca, d, c->server_cert, d) ||
	    run("openssl req %s -keyout %s -out %s/client.csr -subj /CN=understudy", ec,
		c->client_key, d) ||
	    run("openssl x509 -req -in %s/client.csr -CA %s -CAkey %s/ca.key -CAcreateserial -out %s "
		"-days 2 -extfile %s/client.ext", d, c->ca, d, c->client_cert, d))
		return -1;
	return 0;
}

/* ---- members -------------------------------------------------------------------- */

static void msleep(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static long long mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int slot_of(pid_t pid)
{
	for (int i = 0; i < EL_MAX_MEMBERS; i++)
		if (el_pids[i] == pid)
			return i;
	return -1;
}

static int spawn(struct el_member *m)
{
	const struct el_certs *certs = m->certs;
	const char *const *extra = m->extra;
	char peer[96], cluster[160];
	const char *argv[64];
	int argc = 0, slot = slot_of(0);
	sigset_t all, old;
	pid_t pid;

	if (slot < 0) {
		seterr("more than %d members", EL_MAX_MEMBERS);
		return -1;
	}
	snprintf(peer, sizeof(peer), "http://%s:2380", m->addr);
	snprintf(cluster, sizeof(cluster), "%s=%s", m->name, peer);
	argv[argc++] = "etcd";
	argv[argc++] = "--name";
	argv[argc++] = m->name;
	argv[argc++] = "--data-dir";
	argv[argc++] = m->data;
	argv[argc++] = "--listen-client-urls";
	argv[argc++] = m->url;
	argv[argc++] = "--advertise-client-urls";
	argv[argc++] = m->url;
	argv[argc++] = "--listen-peer-urls";
	argv[argc++] = peer;
	argv[argc++] = "--initial-advertise-peer-urls";
	argv[argc++] = peer;
	argv[argc++] = "--initial-cluster";
	argv[argc++] = cluster;
	/* a quick election: a single member leads within a few hundred ms,
	 * and the shortest lease etcd grants is 1 s (it is 1.5 x the
	 * election time-out) */
	argv[argc++] = "--heartbeat-interval";
	argv[argc++] = "10";
	argv[argc++] = "--election-timeout";
	argv[argc++] = "100";
	if (certs) {
		argv[argc++] = "--cert-file";
		argv[argc++] = certs->server_cert;
		argv[argc++] = "--key-file";
		argv[argc++] = certs->server_key;
		argv[argc++] = "--trusted-ca-file";
		argv[argc++] = certs->ca;
		argv[argc++] = "--client-cert-auth";
	}
	for (int i = 0; extra && extra[i] && argc < 62; i++)
		argv[argc++] = extra[i];
	argv[argc] = NULL;

	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	pid = fork();
	if (pid > 0)
		el_pids[slot] = pid;
	if (pid != 0)
		sigprocmask(SIG_SETMASK, &old, NULL);
	if (pid < 0) {
		seterr("fork: %s", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		int fd = open(m->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		for (int s = 1; s < 32; s++)
			signal(s, SIG_DFL);
		sigprocmask(SIG_SETMASK, &old, NULL);
		if (getppid() != el_main_pid)
			_exit(126);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	m->pid = pid;
	m->frozen = false;
	return 0;
}

/* ready: a status request answers */
static int wait_ready(struct el_member *m, const struct el_certs *certs, long ready_ms)
{
	const char *ep[] = { m->url };
	struct us_etcd_opts o = {
		.endpoints = ep, .nendpoints = 1, .timeout_ms = 300, .connect_timeout_ms = 100,
		.ca_file = certs ? certs->ca : NULL,
		.cert_file = certs ? certs->client_cert : NULL,
		.key_file = certs ? certs->client_key : NULL,
	};
	long long deadline = mono_ms() + ready_ms;
	struct us_etcd_status st;
	struct us_etcd *c;
	char err[256];
	int st_wait;

	if (us_etcd_open(&o, &c, err, sizeof(err))) {
		seterr("member %s: %s", m->name, err);
		return -1;
	}
	for (;;) {
		if (!us_etcd_status(c, &st) && st.leader) {
			us_etcd_close(c);
			return 0;
		}
		if (waitpid(m->pid, &st_wait, WNOHANG) == m->pid) {
			int slot = slot_of(m->pid);

			if (slot >= 0)
				el_pids[slot] = 0;
			m->pid = 0;
			seterr("member %s exited (status %d) before it was ready: see %s", m->name,
			       WIFEXITED(st_wait) ? WEXITSTATUS(st_wait) : -1, m->log);
			break;
		}
		if (mono_ms() > deadline) {
			seterr("member %s not ready in %ld ms (%s): see %s", m->name, ready_ms,
			       us_etcd_error(c), m->log);
			break;
		}
		msleep(20);
	}
	us_etcd_close(c);
	return -1;
}

int el_start(struct el_member *m, const char *name, const char *addr,
	     const struct el_certs *certs, long ready_ms, const char *const *extra)
{
	memset(m, 0, sizeof(*m));
	snprintf(m->name, sizeof(m->name), "%s", name);
	snprintf(m->addr, sizeof(m->addr), "%s", addr);
	snprintf(m->url, sizeof(m->url), "%s://%s:2379", certs ? "https" : "http", addr);
	snprintf(m->data, sizeof(m->data), "%s/%s", el_dir, name);
	snprintf(m->log, sizeof(m->log), "%s/%s.log", el_dir, name);
	m->certs = certs;
	m->extra = extra;
	if (spawn(m))
		return -1;
	if (wait_ready(m, certs, ready_ms)) {
		el_stop(m);
		return -1;
	}
	return 0;
}

int el_restart(struct el_member *m, long ready_ms)
{
	if (m->pid) {
		seterr("member %s is running", m->name);
		return -1;
	}
	if (spawn(m))
		return -1;
	if (wait_ready(m, m->certs, ready_ms)) {
		el_stop(m);
		return -1;
	}
	return 0;
}

void el_stop(struct el_member *m)
{
	int slot, st;
	long long deadline;

	if (!m->pid)
		return;
	if (m->frozen)
		kill(m->pid, SIGCONT);
	kill(m->pid, SIGTERM);
	deadline = mono_ms() + 5000;
	while (waitpid(m->pid, &st, WNOHANG) == 0) {
		if (mono_ms() > deadline) {
			kill(m->pid, SIGKILL);
			waitpid(m->pid, &st, 0);
			break;
		}
		msleep(10);
	}
	slot = slot_of(m->pid);
	if (slot >= 0)
		el_pids[slot] = 0;
	m->pid = 0;
	m->frozen = false;
}

int el_freeze(struct el_member *m)
{
	if (!m->pid || kill(m->pid, SIGSTOP)) {
		seterr("member %s: not running", m->name);
		return -1;
	}
	m->frozen = true;
	return 0;
}

int el_thaw(struct el_member *m)
{
	if (!m->pid || kill(m->pid, SIGCONT)) {
		seterr("member %s: not running", m->name);
		return -1;
	}
	m->frozen = false;
	return 0;
}

static long long el_du_total;

static int du_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)path;
	(void)ftw;
	if (flag == FTW_F)
		el_du_total += sb->st_size;
	return 0;
}

long long el_du(const char *dir)
{
	el_du_total = 0;
	if (nftw(dir, du_one, 16, FTW_PHYS))
		return -1;
	return el_du_total;
}
