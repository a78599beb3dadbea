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
#include <sys/stat.h>

#include "fixture.h"
#include "listen.h"

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
