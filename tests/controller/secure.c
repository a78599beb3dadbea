// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Directories only the daemon may change (issue 12, finding 2): a state
 * directory or a socket directory other users may write in is refused at
 * start, loudly, before anything is read from or put in it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <net/if.h>
#include <sys/stat.h>
#include <bpf/libbpf.h>

#include "dp.h"
#include "fixture.h"
#include "listen.h"
#include "model.h"

/* A configuration of the fixture's kind with its own state directory. */
static int conf_with_state_dir(const char *path, const char *state_dir)
{
	FILE *f = fopen(path, "w");

	if (!f)
		return -1;
	fprintf(f, "balancer:\n  client_interface: cli0\n  machine_interfaces: [mach0]\n"
		"daemon:\n  socket: %s/sock2\n  metrics_listen: \"off\"\n  state_dir: %s\n"
		"  pin_root: /sys/fs/bpf/understudy-ctl-secure-%d\n  log_level: error\n"
		"services: []\n", ctl_dir, state_dir, (int)getpid());
	return fclose(f);
}

TH_TEST(state_dir_must_be_ours)
{
	char conf[192], dir[192], err[1024];
	struct us_daemon d2;
	struct stat st;
	int rc;

	snprintf(conf, sizeof(conf), "%s/secure.yaml", ctl_dir);
	snprintf(dir, sizeof(dir), "%s/open-state", ctl_dir);
	if (mkdir(dir, 0700) || chmod(dir, 0777) || conf_with_state_dir(conf, dir)) {
		th_fail("setup", strerror(errno), "a directory and a configuration");
		return;
	}
	rc = us_daemon_start(&d2, conf, false, err, sizeof(err));
	th_eqf(rc, -EPERM, "start on a world-writable state directory");
	if (!strstr(err, dir) || !strstr(err, "is writable by every user (mode 0777)"))
		th_fail("error", err, "state directory ... is writable by every user (mode 0777)");
	us_daemon_stop(&d2);
	/* nothing was written there, no pin root made */
	th_eqf(stat(dir, &st) == 0 && st.st_nlink == 2, 1, "the directory left empty");
	snprintf(dir, sizeof(dir), "/sys/fs/bpf/understudy-ctl-secure-%d", (int)getpid());
	th_eqf(stat(dir, &st), -1, "no pin root made");
}

TH_TEST(socket_dir_must_be_ours)
{
	char dir[192], path[224], err[1024];
	struct stat st;
	int fd;

	snprintf(dir, sizeof(dir), "%s/open-run", ctl_dir);
	snprintf(path, sizeof(path), "%s/ctl.sock", dir);
	if (mkdir(dir, 0700) || chmod(dir, 01777)) {
		th_fail("setup", strerror(errno), "a directory");
		return;
	}
	fd = us_listen_unix(path, err, sizeof(err));
	th_eqf(fd, -EPERM, "listen in a world-writable directory");
	if (!strstr(err, "is writable by every user (mode 1777)"))
		th_fail("error", err, "directory ... is writable by every user (mode 1777)");
	th_eqf(lstat(path, &st), -1, "no socket made");
	/* made 0700 when absent, the socket 0600 */
	snprintf(dir, sizeof(dir), "%s/run", ctl_dir);
	snprintf(path, sizeof(path), "%s/ctl.sock", dir);
	fd = us_listen_unix(path, err, sizeof(err));
	if (fd < 0) {
		th_fail("listen", err, "a socket");
		return;
	}
	close(fd);
	th_eqf(stat(dir, &st) == 0 ? (long long)(st.st_mode & 07777) : -1, 0700, "its directory's mode");
	th_eqf(stat(path, &st) == 0 ? (long long)(st.st_mode & 07777) : -1, 0600, "the socket's mode");
}

/* Repairs of the links are counted on /metrics (none here: not attached). */
TH_TEST(link_repairs_metric)
{
	char *page = us_daemon_metrics(&ctl);

	if (!page || !strstr(page, "\n# TYPE understudy_link_repairs_total counter\n"
				 "understudy_link_repairs_total 0\n"))
		th_fail("metrics", page ? "no understudy_link_repairs_total 0" : "NULL",
			"understudy_link_repairs_total 0");
	free(page);
}

/* A second daemon on the same state directory, or on another one but the
 * same pin root, refuses to start and touches nothing of the first's. */
TH_TEST(single_instance)
{
	char conf[192], state[192], dir[192], err[1024], pin[256];
	struct stat before, after;
	struct us_daemon d2;
	int rc, lines = ctl_audit_lines();
	FILE *f;

	snprintf(state, sizeof(state), "%s/state/state.json", ctl_dir);
	if (stat(state, &before)) {
		th_fail("state.json", strerror(errno), "present");
		return;
	}
	snprintf(conf, sizeof(conf), "%s/understudy.yaml", ctl_dir);
	rc = us_daemon_start(&d2, conf, false, err, sizeof(err));
	th_eqf(rc, -EBUSY, "a second start on the same configuration");
	snprintf(dir, sizeof(dir), "another understudyd (pid %d) runs on state directory %s/state",
		 (int)getpid(), ctl_dir);
	if (!strstr(err, dir) || !strstr(err, "nothing was touched"))
		th_fail("error", err, dir);
	us_daemon_stop(&d2);
	th_eqf(stat(state, &after), 0, "state.json still there");
	th_eqf(after.st_mtim.tv_nsec == before.st_mtim.tv_nsec &&
	       after.st_mtim.tv_sec == before.st_mtim.tv_sec && after.st_ino == before.st_ino, 1,
	       "state.json not rewritten");
	th_eqf(ctl_audit_lines(), lines, "audit lines");
	/* the first one still answers and still saves */
	json_object_put(ctl_ok(true, "{\"cmd\":\"status\"}"));
	th_eqf(us_model_save(&ctl.model), 0, "the first one saves");

	/* another state directory, the fixture's pin root */
	snprintf(conf, sizeof(conf), "%s/other.yaml", ctl_dir);
	snprintf(dir, sizeof(dir), "%s/other-state", ctl_dir);
	snprintf(pin, sizeof(pin), "%s", ctl.conf.pin_root);
	f = fopen(conf, "w");
	if (!f) {
		th_fail("fopen", strerror(errno), conf);
		return;
	}
	fprintf(f, "balancer:\n  client_interface: cli0\n  machine_interfaces: [mach0]\n"
		"daemon:\n  socket: %s/sock3\n  metrics_listen: \"off\"\n  state_dir: %s\n"
		"  pin_root: %s\n  log_level: error\n  max_calls: 1024\n  max_transactions: 1024\n"
		"services: []\n", ctl_dir, dir, pin);
	fclose(f);
	rc = us_daemon_start(&d2, conf, false, err, sizeof(err));
	th_eqf(rc, -EBUSY, "a second start on the same pin root");
	if (!strstr(err, "another understudyd runs on pin root") || !strstr(err, pin))
		th_fail("error", err, "another understudyd runs on pin root ...");
	us_daemon_stop(&d2);
	/* once the first one stops, the lock is free */
	us_daemon_stop(&ctl);
	rc = us_daemon_start(&d2, conf, false, err, sizeof(err));
	th_eqf(rc, 0, "a start after the first one stopped");
	if (rc)
		th_fail("start", err, "started");
	us_daemon_stop(&d2);
	snprintf(conf, sizeof(conf), "%s/understudy.yaml", ctl_dir);
	rc = us_daemon_start(&ctl, conf, false, err, sizeof(err));
	if (rc)
		th_fail("restart of the fixture's daemon", err, "started");
}

/* daemon.socket naming an existing file (a typo naming the configuration)
 * is refused and the file left whole; an old socket is replaced. */
TH_TEST(socket_path_not_a_socket)
{
	char path[192], err[1024];
	struct stat st;
	int fd;

	snprintf(path, sizeof(path), "%s/understudy.yaml", ctl_dir);
	if (stat(path, &st)) {
		th_fail("configuration", strerror(errno), "present");
		return;
	}
	fd = us_listen_unix(path, err, sizeof(err));
	th_eqf(fd, -EEXIST, "listen on the configuration file");
	if (!strstr(err, "exists and is not a socket (a regular file); not removed"))
		th_fail("error", err, "exists and is not a socket (a regular file); not removed");
	th_eqf(stat(path, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0, 1,
	       "the configuration left whole");
	snprintf(path, sizeof(path), "%s/fifo", ctl_dir);
	if (mkfifo(path, 0600) == 0) {
		th_eqf(us_listen_unix(path, err, sizeof(err)), -EEXIST, "listen on a FIFO");
		th_eqf(lstat(path, &st) == 0 && S_ISFIFO(st.st_mode), 1, "the FIFO left");
	}
	/* a socket of an earlier run: replaced */
	snprintf(path, sizeof(path), "%s/run2/ctl.sock", ctl_dir);
	fd = us_listen_unix(path, err, sizeof(err));
	if (fd < 0) {
		th_fail("first listen", err, "a socket");
		return;
	}
	close(fd);
	fd = us_listen_unix(path, err, sizeof(err));
	if (fd < 0)
		th_fail("listen over an old socket", err, "a socket");
	else
		close(fd);
}

static __u32 xdp_prog_on(const char *ifname)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);

	if (bpf_xdp_query((int)if_nametoindex(ifname), 0, &q))
		return 0;
	return q.prog_id;
}

/* A start refused for a missing client interface, after the machine side
 * was attached and the machines recorded: it leaves what it found, no XDP
 * on the machine interface, no pins, no state file, no audit trail. */
TH_TEST(refused_start_leaves_nothing)
{
	char conf[192], state[192], pin[96], path[256], err[1024];
	struct us_daemon d2;
	struct stat st;
	FILE *f;
	int rc;

	snprintf(conf, sizeof(conf), "%s/refused.yaml", ctl_dir);
	snprintf(state, sizeof(state), "%s/refused-state", ctl_dir);
	snprintf(pin, sizeof(pin), "/sys/fs/bpf/understudy-ctl-refused-%d", (int)getpid());
	f = fopen(conf, "w");
	if (!f) {
		th_fail("fopen", strerror(errno), conf);
		return;
	}
	fprintf(f, "balancer:\n  client_interface: nosuch0\n  machine_interfaces: [mach0]\n"
		"daemon:\n  socket: %s/sock4\n  metrics_listen: \"off\"\n  state_dir: %s\n"
		"  pin_root: %s\n  log_level: error\n  max_calls: 1024\n  max_transactions: 1024\n"
		"services:\n  - name: sip\n    vip: 198.18.100.1\n    port: 5060\n    machines:\n"
		"      - { name: v1-a, address: 198.18.1.1, version: \"1.0\", state: active }\n",
		ctl_dir, state, pin);
	fclose(f);
	th_eqf(xdp_prog_on("mach0"), 0, "no XDP on mach0 before");
	rc = us_daemon_start(&d2, conf, true, err, sizeof(err));
	th_eqf(rc, -ENODEV, "a start with a missing client interface");
	if (!strstr(err, "nosuch0"))
		th_fail("error", err, "interface nosuch0: no such interface");
	us_daemon_stop(&d2);
	th_eqf(xdp_prog_on("mach0"), 0, "XDP on mach0 after the refused start");
	th_eqf(stat(pin, &st), -1, "the pin root after the refused start");
	snprintf(path, sizeof(path), "%s/state.json", state);
	th_eqf(stat(path, &st), -1, "state.json after the refused start");
	snprintf(path, sizeof(path), "%s/audit.log", state);
	th_eqf(stat(path, &st), -1, "audit.log after the refused start");
	us_dp_destroy_pins(pin);        /* whatever a failure left */
}

/* A state directory on bpffs is refused: it cannot hold the state file. */
TH_TEST(state_dir_not_on_bpffs)
{
	char conf[192], dir[96], err[1024];
	struct us_daemon d2;
	int rc;

	snprintf(conf, sizeof(conf), "%s/bpffs.yaml", ctl_dir);
	snprintf(dir, sizeof(dir), "/sys/fs/bpf/understudy-ctl-state-%d", (int)getpid());
	if (conf_with_state_dir(conf, dir)) {
		th_fail("setup", strerror(errno), "a configuration");
		return;
	}
	rc = us_daemon_start(&d2, conf, false, err, sizeof(err));
	th_eqf(rc, -EINVAL, "a start with its state directory on bpffs");
	if (!strstr(err, "is on the BPF filesystem"))
		th_fail("error", err, "state directory ... is on the BPF filesystem");
	us_daemon_stop(&d2);
	rmdir(dir);
}
