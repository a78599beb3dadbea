// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The control socket's clients (userspace/ctlserve.h; issue 12, finding 7):
 * an event loop of the daemon's kind (a 100 ms window timer, the control
 * server) under 1,000 slow or idle clients keeps its timer on time; slow
 * clients are closed at their deadline, those past the limit refused at
 * once, and a client that asks properly is answered.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <fcntl.h>

#include "ctlserve.h"
#include "fixture.h"
#include "listen.h"

#define ATTACKERS 1000

static char *echo(void *ctx, const char *req, unsigned uid)
{
	char *rep;

	(void)ctx;
	if (asprintf(&rep, "{\"ok\":%s,\"uid\":%u}", strstr(req, "status") ? "true" : "false",
		     uid) < 0)
		return NULL;
	return rep;
}

static double mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int dial(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		close(fd);
		return -1;
	}
	return fd;
}

TH_TEST(ctl_slow_clients)
{
	struct itimerspec it = { .it_interval = { 0, 100000000 }, .it_value = { 0, 100000000 } };
	struct rlimit rl = { 4096, 4096 }, old;
	static int att[ATTACKERS];
	struct us_ctl_server *srv = NULL;
	char path[192], err[512];
	int lfd, efd, tfd, natt = 0, ticks = 0;
	double start, end, worst = 0, last_poke = 0;
	struct us_ctl_stats st;

	getrlimit(RLIMIT_NOFILE, &old);
	if (setrlimit(RLIMIT_NOFILE, &rl)) {
		th_fail("setrlimit", strerror(errno), "4096 descriptors");
		return;
	}
	snprintf(path, sizeof(path), "%.100s/slow.sock", ctl_dir);
	lfd = us_listen_unix(path, err, sizeof(err));
	efd = epoll_create1(EPOLL_CLOEXEC);
	tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
	if (lfd < 0 || efd < 0 || tfd < 0 || us_ctl_open(lfd, efd, 0, 500, echo, NULL, &srv)) {
		th_fail("setup", lfd < 0 ? err : strerror(errno), "a server");
		return;
	}
	{
		struct epoll_event ev = { .events = EPOLLIN, .data.fd = tfd };

		epoll_ctl(efd, EPOLL_CTL_ADD, tfd, &ev);
	}
	start = mono();
	timerfd_settime(tfd, 0, &it, NULL);
	end = start + 3.0;
	while (mono() < end) {
		struct epoll_event evs[16];
		int n, wait = us_ctl_timeout_ms(srv);

		/* the attackers: up to 50 more connections a turn, each sending
		 * one byte, then a byte from every one of them every 0.3 s */
		for (int k = 0; k < 50 && natt < ATTACKERS; k++) {
			int fd = dial(path);

			if (fd < 0)
				break;          /* the backlog is full: next turn */
			if (send(fd, "{", 1, MSG_NOSIGNAL) < 0)
				(void)0;
			att[natt++] = fd;
		}
		if (mono() - last_poke > 0.3) {
			for (int k = 0; k < natt; k++)
				if (att[k] >= 0 && send(att[k], " ", 1, MSG_NOSIGNAL) < 0)
					(void)0;
			last_poke = mono();
		}
		n = epoll_wait(efd, evs, 16, wait < 0 || wait > 10 ? 10 : wait);
		us_ctl_expire(srv);
		for (int i = 0; i < n; i++) {
			if (evs[i].data.fd == tfd) {
				__u64 t;
				double late;

				if (read(tfd, &t, sizeof(t)) != sizeof(t))
					continue;
				ticks += (int)t;
				late = mono() - (start + ticks * 0.1);
				if (late > worst)
					worst = late;
			} else if (us_ctl_owns(srv, evs[i].data.fd)) {
				us_ctl_ready(srv, evs[i].data.fd, evs[i].events);
			}
		}
	}
	st = us_ctl_stats(srv);
	th_eqf(natt, ATTACKERS, "slow clients connected");
	th_eqf(ticks >= 29 && ticks <= 31, 1, "window ticks in 3 s (%d)", ticks);
	th_eqf(worst < 0.05, 1, "the latest tick %.1f ms late (< 50 ms)", worst * 1e3);
	th_eqf(us_ctl_clients(srv) <= US_CTL_MAX_CLIENTS, 1, "clients at once (%u)",
	       us_ctl_clients(srv));
	th_eqf(st.timed_out > 0, 1, "slow clients timed out (%llu)",
	       (unsigned long long)st.timed_out);
	th_eqf(st.refused_busy > 0, 1, "clients refused at the limit (%llu)",
	       (unsigned long long)st.refused_busy);
	for (int k = 0; k < natt; k++)
		close(att[k]);

	/* once they are gone, a proper request is answered */
	{
		int fd = dial(path);
		char rep[64] = "";
		double until = mono() + 2;
		ssize_t r = -1;

		if (fd < 0 || write(fd, "{\"cmd\":\"status\"}\n", 17) != 17) {
			th_fail("client", strerror(errno), "connected");
		} else {
			while (mono() < until) {
				struct epoll_event evs[16];
				int n = epoll_wait(efd, evs, 16, 10);

				us_ctl_expire(srv);
				for (int i = 0; i < n; i++)
					if (us_ctl_owns(srv, evs[i].data.fd))
						us_ctl_ready(srv, evs[i].data.fd, evs[i].events);
				r = read(fd, rep, sizeof(rep) - 1);
				if (r > 0)
					break;
			}
			rep[r > 0 ? r : 0] = 0;
			if (strcmp(rep, "{\"ok\":true,\"uid\":0}\n"))
				th_fail("answer", rep, "{\"ok\":true,\"uid\":0}");
		}
		if (fd >= 0)
			close(fd);
	}
	us_ctl_close(srv);
	close(lfd);
	close(tfd);
	close(efd);
	setrlimit(RLIMIT_NOFILE, &old);
	printf("test:info:ctl_slow_clients 1000 slow clients: %d ticks, the latest %.2f ms late; %llu accepted, %llu timed "
		"out, %llu refused at the limit\n", ticks, worst * 1e3,
		(unsigned long long)st.accepted, (unsigned long long)st.timed_out,
		(unsigned long long)st.refused_busy);
}

/* The peer's credentials, not only the socket's mode: a client of another
 * uid (here through a socket made 0666 on purpose) is refused, root's own
 * is served with its uid known. */
TH_TEST(ctl_peer_uid)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct us_ctl_server *srv = NULL;
	int lfd, efd, pipefd[2];
	char rep[256] = "";
	double until;
	pid_t pid;
	ssize_t r;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "/tmp/understudy-peer-%d.sock", (int)getpid());
	unlink(sa.sun_path);
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	efd = epoll_create1(EPOLL_CLOEXEC);
	if (lfd < 0 || efd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    chmod(sa.sun_path, 0666) || listen(lfd, 4) || pipe(pipefd) ||
	    us_ctl_open(lfd, efd, 0, 1000, echo, NULL, &srv)) {
		th_fail("setup", strerror(errno), "a server");
		return;
	}
	pid = fork();
	if (pid == 0) {
		/* nobody asks */
		int fd;
		char buf[256];
		ssize_t k = 0;

		close(pipefd[0]);
		if (setgid(65534) || setuid(65534))
			_exit(2);
		fd = socket(AF_UNIX, SOCK_STREAM, 0);
		if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)))
			_exit(3);
		if (send(fd, "{\"cmd\":\"status\"}\n", 17, MSG_NOSIGNAL) < 0)
			(void)0;
		k = read(fd, buf, sizeof(buf));
		if (k > 0 && write(pipefd[1], buf, (size_t)k) < 0)
			_exit(4);
		_exit(0);
	}
	close(pipefd[1]);
	until = mono() + 3;
	fcntl(pipefd[0], F_SETFL, O_NONBLOCK);
	r = -1;
	while (mono() < until) {
		struct epoll_event evs[4];
		int n = epoll_wait(efd, evs, 4, 10);

		for (int i = 0; i < n; i++)
			if (us_ctl_owns(srv, evs[i].data.fd))
				us_ctl_ready(srv, evs[i].data.fd, evs[i].events);
		r = read(pipefd[0], rep, sizeof(rep) - 1);
		if (r >= 0 && r != 0)
			break;
	}
	rep[r > 0 ? r : 0] = 0;
	waitpid(pid, NULL, 0);
	if (!strstr(rep, "\"error\":\"uid 65534 may not use the control socket\""))
		th_fail("nobody's answer", rep, "uid 65534 may not use the control socket");
	th_eqf((long long)us_ctl_stats(srv).refused_uid, 1, "refused for their uid");
	th_eqf((long long)us_ctl_stats(srv).answered, 0, "answered");
	close(pipefd[0]);
	us_ctl_close(srv);
	close(lfd);
	close(efd);
	unlink(sa.sun_path);
}

/* Out of descriptors, a waiting client is taken and closed with the spare
 * one: the listener does not stay readable, the loop does not spin. */
TH_TEST(ctl_out_of_descriptors)
{
	struct us_ctl_server *srv = NULL;
	struct rlimit old, low;
	char path[192], err[512];
	int lfd, efd, fds[8], wakes = 0, nfd = 0;
	double until;

	snprintf(path, sizeof(path), "%.100s/emfile.sock", ctl_dir);
	lfd = us_listen_unix(path, err, sizeof(err));
	efd = epoll_create1(EPOLL_CLOEXEC);
	if (lfd < 0 || efd < 0 || us_ctl_open(lfd, efd, 0, 1000, echo, NULL, &srv)) {
		th_fail("setup", lfd < 0 ? err : strerror(errno), "a server");
		return;
	}
	for (int i = 0; i < 8; i++)
		if ((fds[i] = dial(path)) >= 0)
			nfd++;
	/* no descriptor left above the highest in use */
	getrlimit(RLIMIT_NOFILE, &old);
	low = old;
	low.rlim_cur = (rlim_t)fcntl(fds[nfd - 1], F_DUPFD, 0);
	close((int)low.rlim_cur);
	setrlimit(RLIMIT_NOFILE, &low);
	until = mono() + 0.3;
	while (mono() < until) {
		struct epoll_event evs[8];
		int n = epoll_wait(efd, evs, 8, 10);

		for (int i = 0; i < n; i++) {
			wakes++;
			if (us_ctl_owns(srv, evs[i].data.fd))
				us_ctl_ready(srv, evs[i].data.fd, evs[i].events);
		}
	}
	setrlimit(RLIMIT_NOFILE, &old);
	th_eqf(wakes < 100, 1, "wake-ups in 0.3 s out of descriptors (%d)", wakes);
	th_eqf(us_ctl_stats(srv).refused_busy > 0, 1, "clients closed for want of descriptors");
	for (int i = 0; i < nfd; i++)
		close(fds[i]);
	us_ctl_close(srv);
	close(lfd);
	close(efd);
}
