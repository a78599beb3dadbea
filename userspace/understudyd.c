// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * understudyd: the controller. Loads (or takes over) the data plane,
 * programs it from the configuration, judges simulation machines window
 * after window, moves them along the state machine, and serves
 * understudyctl (Unix socket) and Prometheus (HTTP).
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <bpf/libbpf.h>
#include <microhttpd.h>

#include "addr.h"
#include "counters.h"
#include "ctlserve.h"
#include "daemon.h"
#include "listen.h"
#include "role.h"

#define DEFAULT_CONFIG US_CONF_DEFAULT_PATH

static struct us_daemon daemon_;

static void usage(FILE *f)
{
	fprintf(f,
		"usage: understudyd [-c FILE] [--check] [--no-attach] [-v]\n"
		"  -c, --config FILE  configuration (default " DEFAULT_CONFIG ")\n"
		"      --check        validate the configuration and exit (with -v: every setting\n"
		"                     in force, its unit, default or set, live or restart)\n"
		"      --no-attach    program the maps but attach no XDP program (testing)\n"
		"  -v, --verbose      log at debug level\n"
		"  -h, --help         this text\n"
		"Signals: SIGHUP reloads the configuration; SIGTERM/SIGINT stop the daemon,\n"
		"leaving the data plane attached and forwarding.\n");
}

/* A control request, its client's uid known to the commands while it runs
 * (the audit trail names it). */
static char *answer(void *ctx, const char *req, unsigned uid)
{
	struct us_daemon *d = ctx;
	char *rep;

	d->peer_uid = (int)uid;
	rep = us_daemon_command(d, req);
	d->peer_uid = -1;
	return rep;
}

static enum MHD_Result metrics_handler(void *cls, struct MHD_Connection *c, const char *url,
				       const char *method, const char *version,
				       const char *upload, size_t *upload_len, void **ptr)
{
	struct MHD_Response *r;
	enum MHD_Result ret;
	char *body;

	(void)cls;
	(void)version;
	(void)upload;
	(void)upload_len;
	(void)ptr;
	if (!strcmp(url, "/counters") && daemon_.conf.role == US_CONF_AGENT)
		return us_counters_serve(c, method, us_role_counters, &daemon_);
	if (strcmp(method, "GET") && strcmp(method, "HEAD"))
		return MHD_NO;
	if (strcmp(url, "/metrics")) {
		static const char nf[] = "understudyd: metrics are at /metrics\n";

		r = MHD_create_response_from_buffer(sizeof(nf) - 1, (void *)nf, MHD_RESPMEM_PERSISTENT);
		ret = MHD_queue_response(c, MHD_HTTP_NOT_FOUND, r);
		MHD_destroy_response(r);
		return ret;
	}
	body = us_daemon_metrics(&daemon_);
	if (!body)
		return MHD_NO;
	r = MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
	MHD_add_response_header(r, "Content-Type", "text/plain; version=0.0.4; charset=utf-8");
	ret = MHD_queue_response(c, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return ret;
}

/* libmicrohttpd's complaints (a connection refused at the limit, out of
 * descriptors), at most one log line per 10 s with how many were held back:
 * a flood of connections must not become a flood of log lines. */
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	static double last;
	static unsigned long held;
	struct timespec ts;
	char line[512];
	double now;

	(void)cls;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = ts.tv_sec + ts.tv_nsec / 1e9;
	vsnprintf(line, sizeof(line), fmt, ap);
	line[strcspn(line, "\n")] = 0;
	pthread_mutex_lock(&lock);
	if (last && now - last < 10) {
		held++;
		pthread_mutex_unlock(&lock);
		return;
	}
	last = now;
	if (held)
		us_log(LOG_WARNING, "metrics: %s (and %lu more such messages in the last 10 s)", line,
		       held);
	else
		us_log(LOG_WARNING, "metrics: %s", line);
	held = 0;
	pthread_mutex_unlock(&lock);
}

/* Connections at once: a quarter of the descriptors, at most 64 (a scrape
 * needs one), so that slow clients cannot take the descriptors the control
 * socket, the state file and the maps need. */
static unsigned int metrics_conn_limit(void)
{
	struct rlimit rl;
	rlim_t q;

	if (getrlimit(RLIMIT_NOFILE, &rl) || rl.rlim_cur == RLIM_INFINITY)
		return 64;
	q = rl.rlim_cur / 4;
	return q < 4 ? 4 : q > 64 ? 64 : (unsigned int)q;
}

static struct MHD_Daemon *start_metrics(const struct us_conf *c)
{
	struct sockaddr_storage ss;
	unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;

	us_addr_sockaddr(c->metrics_family, c->metrics_addr, c->metrics_port, &ss);
	if (c->metrics_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	return MHD_start_daemon(flags, c->metrics_port, NULL, NULL, metrics_handler, NULL,
				MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
				MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
				MHD_OPTION_CONNECTION_LIMIT, metrics_conn_limit(),
				MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)5, MHD_OPTION_END);
}

static int on_event(void *ctx, void *data, size_t len)
{
	(void)ctx;
	if (len >= sizeof(struct us_event))
		us_daemon_diff(&daemon_, data);
	return 0;
}

static int arm_timer(int tfd, double s)
{
	struct itimerspec it = { 0 };

	it.it_value.tv_sec = (time_t)s;
	it.it_value.tv_nsec = (long)((s - (time_t)s) * 1e9);
	if (!it.it_value.tv_sec && !it.it_value.tv_nsec)
		it.it_value.tv_nsec = 1;
	it.it_interval = it.it_value;
	return timerfd_settime(tfd, 0, &it, NULL);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check", no_argument, NULL, 'C' },
		{ "no-attach", no_argument, NULL, 'N' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *path = DEFAULT_CONFIG;
	bool check = false, attach = true, verbose = false;
	struct ring_buffer *rb = NULL;
	struct MHD_Daemon *mhd = NULL;
	struct us_ctl_server *ctl = NULL;
	int c, sfd = -1, tfd = -1, lfd = -1, efd = -1, wfd = -1, rc = EXIT_FAILURE;
	double window;
	char err[4096];
	sigset_t mask;

	while ((c = getopt_long(argc, argv, "c:vh", opts, NULL)) != -1) {
		switch (c) {
		case 'c': path = optarg; break;
		case 'C': check = true; break;
		case 'N': attach = false; break;
		case 'v': verbose = true; break;
		case 'h': usage(stdout); return EXIT_SUCCESS;
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "understudyd: unexpected argument \"%s\"\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	if (check) {
		struct us_conf conf;

		if (us_conf_load(path, &conf, err, sizeof(err))) {
			fprintf(stderr, "%s\n", err);
			return EXIT_FAILURE;
		}
		printf("%s: valid (%zu services, %zu machines)\n", path, conf.nservices, conf.nmachines);
		{
			char w[8192];

			if (us_conf_warnings(&conf, w, sizeof(w)))
				fprintf(stderr, "%s\n", w);
		}
		if (verbose) {
			char *sum;
			int n = us_conf_summary(&conf, NULL, 0);

			sum = malloc((size_t)n + 1);
			if (sum) {
				us_conf_summary(&conf, sum, (size_t)n + 1);
				fputs(sum, stdout);
				free(sum);
			}
		}
		us_conf_free(&conf);
		return EXIT_SUCCESS;
	}

	sigemptyset(&mask);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (us_daemon_start(&daemon_, path, attach, err, sizeof(err))) {
		us_log_lines(LOG_ERR, "", err);
		goto out;
	}
	if (verbose)
		us_log_level = LOG_DEBUG;
	us_log(LOG_NOTICE, "started: %zu services, %zu machines, window %.1f s, pins in %s%s",
	       daemon_.conf.nservices, daemon_.model.n, daemon_.conf.window_s, daemon_.conf.pin_root,
	       attach ? "" : " (not attached)");
	window = daemon_.conf.window_s;

	sigdelset(&mask, SIGHUP);       /* the store's watch: a change of the configuration */
	sfd = signalfd(-1, &mask, SFD_CLOEXEC);
	tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
	lfd = us_listen_unix(daemon_.conf.socket, err, sizeof(err));
	efd = epoll_create1(EPOLL_CLOEXEC);
	wfd = daemon_.store->ops->watch(daemon_.store);
	if (sfd < 0 || tfd < 0 || efd < 0 || wfd < 0 || arm_timer(tfd, window)) {
		us_log(LOG_ERR, "setting up the event loop: %s", strerror(wfd < 0 ? -wfd : errno));
		goto out;
	}
	if (lfd < 0) {
		us_log(LOG_ERR, "%s", err);
		goto out;
	}
	/* a controller has no data plane, no events */
	rb = daemon_.dp ? ring_buffer__new(us_dp_events_fd(daemon_.dp), on_event, NULL, NULL) : NULL;
	if (daemon_.dp && !rb) {
		us_log(LOG_ERR, "ring buffer: %s", strerror(errno));
		goto out;
	}
	if (!daemon_.conf.metrics_off) {
		mhd = start_metrics(&daemon_.conf);
		if (!mhd) {
			us_log(LOG_ERR, "metrics: cannot listen on %s", daemon_.conf.metrics_listen);
			goto out;
		}
		us_log(LOG_INFO, "metrics on http://%s/metrics", daemon_.conf.metrics_listen);
	}
	{
		struct epoll_event ev = { .events = EPOLLIN };
		int fds[5] = { sfd, tfd, rb ? ring_buffer__epoll_fd(rb) : -1, wfd,
			       us_role_fd(&daemon_) };

		for (int i = 0; i < 5; i++) {
			if (fds[i] < 0)
				continue;
			ev.data.fd = fds[i];
			if (epoll_ctl(efd, EPOLL_CTL_ADD, fds[i], &ev)) {
				us_log(LOG_ERR, "epoll: %s", strerror(errno));
				goto out;
			}
		}
	}
	/* the control clients: non-blocking, each with a deadline, a bounded
	 * number at once (ctlserve.h): the window timer is never kept waiting */
	c = us_ctl_open(lfd, efd, 0, 0, answer, &daemon_, &ctl);
	if (c) {
		us_log(LOG_ERR, "control socket: %s", strerror(-c));
		goto out;
	}

	for (;;) {
		struct epoll_event evs[8];
		int n = epoll_wait(efd, evs, 8, us_ctl_timeout_ms(ctl));

		if (n < 0) {
			if (errno == EINTR)
				continue;
			us_log(LOG_ERR, "epoll_wait: %s", strerror(errno));
			goto out;
		}
		us_ctl_expire(ctl);
		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd;

			if (fd == sfd) {
				struct signalfd_siginfo si;

				if (read(sfd, &si, sizeof(si)) != sizeof(si))
					continue;
				us_log(LOG_NOTICE, "stopping on signal %d; the data plane stays attached",
				       si.ssi_signo);
				rc = EXIT_SUCCESS;
				goto out;
			} else if (fd == wfd) {
				if (daemon_.store->ops->changed(daemon_.store) <= 0)
					continue;
				if (us_daemon_reload(&daemon_, err, sizeof(err)))
					us_log_lines(LOG_ERR, "reload refused, nothing applied: ", err);
				else if (daemon_.conf.window_s != window)
					arm_timer(tfd, window = daemon_.conf.window_s);
			} else if (fd == tfd) {
				__u64 ticks;

				if (read(tfd, &ticks, sizeof(ticks)) != sizeof(ticks))
					continue;
				if (rb)
					ring_buffer__consume(rb);
				us_daemon_window(&daemon_);
				us_daemon_check_links(&daemon_);
			} else if (fd == us_role_fd(&daemon_)) {
				us_role_dispatch(&daemon_);
			} else if (us_ctl_owns(ctl, fd)) {
				us_ctl_ready(ctl, fd, evs[i].events);
				if (daemon_.conf.window_s != window)
					arm_timer(tfd, window = daemon_.conf.window_s);
			} else if (rb) {
				ring_buffer__consume(rb);
			}
		}
	}
out:
	us_ctl_close(ctl);
	if (mhd)
		MHD_stop_daemon(mhd);
	ring_buffer__free(rb);
	if (lfd >= 0) {
		close(lfd);
		unlink(daemon_.conf.socket);
	}
	if (efd >= 0)
		close(efd);
	if (tfd >= 0)
		close(tfd);
	if (sfd >= 0)
		close(sfd);
	us_daemon_stop(&daemon_);
	return rc;
}
