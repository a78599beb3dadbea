// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The control socket's clients, served without blocking: see ctlserve.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "ctlserve.h"

struct client {
	int fd;
	unsigned uid;
	int64_t deadline;       /* monotonic ms */
	char *buf;              /* the request, then the answer */
	size_t n, off;          /* bytes read; answer bytes written */
	bool answering;
};

struct us_ctl_server {
	int lfd, epfd;
	int spare;              /* a descriptor kept for accepting when none is left */
	unsigned max, deadline_ms, n;
	us_ctl_handler handle;
	void *ctx;
	struct us_ctl_stats st;
	struct client c[];
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int us_ctl_open(int lfd, int epfd, unsigned max_clients, unsigned deadline_ms,
		us_ctl_handler handle, void *ctx, struct us_ctl_server **out)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = lfd };
	struct us_ctl_server *s;

	*out = NULL;
	if (!max_clients)
		max_clients = US_CTL_MAX_CLIENTS;
	s = calloc(1, sizeof(*s) + max_clients * sizeof(s->c[0]));
	if (!s)
		return -ENOMEM;
	s->lfd = lfd;
	s->epfd = epfd;
	s->max = max_clients;
	s->deadline_ms = deadline_ms ? deadline_ms : US_CTL_DEADLINE_MS;
	s->handle = handle;
	s->ctx = ctx;
	s->spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, lfd, &ev)) {
		int err = -errno;

		if (s->spare >= 0)
			close(s->spare);
		free(s);
		return err;
	}
	*out = s;
	return 0;
}

static struct client *find(const struct us_ctl_server *s, int fd)
{
	for (unsigned i = 0; i < s->n; i++)
		if (s->c[i].fd == fd)
			return (struct client *)&s->c[i];
	return NULL;
}

bool us_ctl_owns(const struct us_ctl_server *s, int fd)
{
	return s && (fd == s->lfd || find(s, fd));
}

static void drop(struct us_ctl_server *s, struct client *c)
{
	epoll_ctl(s->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	free(c->buf);
	*c = s->c[--s->n];
}

static void accept_all(struct us_ctl_server *s)
{
	static const char busy[] = "{\"ok\":false,\"error\":\"too many control clients at once; "
				   "try again\"}\n";

	for (;;) {
		int fd = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };
		struct ucred cred;
		socklen_t cl = sizeof(cred);
		struct client *c;

		if (fd < 0 && (errno == EMFILE || errno == ENFILE) && s->spare >= 0) {
			/* out of descriptors: the pending client would keep the
			 * listener readable and the loop spinning; take it with
			 * the spare descriptor and close it */
			close(s->spare);
			fd = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC);
			if (fd >= 0)
				close(fd);
			s->spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
			if (fd < 0)
				return;         /* none was waiting: EMFILE comes first */
			s->st.refused_busy++;
			continue;
		}
		if (fd < 0)
			return;         /* EAGAIN: no one else waiting */
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) ||
		    (cred.uid != 0 && cred.uid != geteuid())) {
			char no[128];
			int k = snprintf(no, sizeof(no), "{\"ok\":false,\"error\":\"uid %d may not use "
					 "the control socket\"}\n", cl == sizeof(cred) ? (int)cred.uid : -1);

			if (write(fd, no, (size_t)k) < 0)
				(void)0;
			close(fd);
			s->st.refused_uid++;
			continue;
		}
		if (s->n >= s->max) {
			/* best effort, never waits: the socket buffer takes it */
			if (write(fd, busy, sizeof(busy) - 1) < 0)
				(void)0;
			close(fd);
			s->st.refused_busy++;
			continue;
		}
		c = &s->c[s->n];
		*c = (struct client){ .fd = fd, .uid = cred.uid,
				      .deadline = now_ms() + s->deadline_ms };
		c->buf = malloc(US_CTL_REQ_MAX + 1);
		if (!c->buf || epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev)) {
			free(c->buf);
			close(fd);
			continue;
		}
		s->n++;
		s->st.accepted++;
	}
}

/* Write what is left of the answer; done (or failed): the client goes. */
static void send_some(struct us_ctl_server *s, struct client *c)
{
	while (c->off < c->n) {
		ssize_t w = write(c->fd, c->buf + c->off, c->n - c->off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;         /* EPOLLOUT brings us back */
		if (w <= 0)
			break;
		c->off += (size_t)w;
	}
	if (c->off >= c->n)
		s->st.answered++;
	drop(s, c);
}

static void answer(struct us_ctl_server *s, struct client *c, bool too_long)
{
	struct epoll_event ev = { .events = EPOLLOUT, .data.fd = c->fd };
	char *rep;
	size_t len;

	c->buf[c->n] = 0;
	rep = too_long ? strdup("{\"ok\":false,\"error\":\"request longer than 64 KiB\"}") :
			 s->handle(s->ctx, c->buf, c->uid);
	free(c->buf);
	c->buf = NULL;
	if (!rep) {
		drop(s, c);
		return;
	}
	len = strlen(rep);
	c->buf = realloc(rep, len + 2);
	if (!c->buf) {
		free(rep);
		drop(s, c);
		return;
	}
	c->buf[len] = '\n';
	c->buf[len + 1] = 0;
	c->n = len + 1;
	c->off = 0;
	c->answering = true;
	epoll_ctl(s->epfd, EPOLL_CTL_MOD, c->fd, &ev);
	send_some(s, c);
}

static void receive(struct us_ctl_server *s, struct client *c)
{
	for (;;) {
		ssize_t r = read(c->fd, c->buf + c->n, US_CTL_REQ_MAX - c->n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (r < 0) {
			drop(s, c);
			return;
		}
		if (r == 0) {
			/* the client said all it had to say (or nothing) */
			if (c->n)
				answer(s, c, false);
			else
				drop(s, c);
			return;
		}
		c->n += (size_t)r;
		if (memchr(c->buf + c->n - r, '\n', (size_t)r)) {
			answer(s, c, false);
			return;
		}
		if (c->n >= US_CTL_REQ_MAX) {
			answer(s, c, true);
			return;
		}
	}
}

void us_ctl_ready(struct us_ctl_server *s, int fd, uint32_t events)
{
	struct client *c;

	if (fd == s->lfd) {
		accept_all(s);
		return;
	}
	c = find(s, fd);
	if (!c)
		return;
	if (c->answering)
		send_some(s, c);
	else if (events & (EPOLLIN | EPOLLHUP | EPOLLERR))
		receive(s, c);
}

int us_ctl_timeout_ms(const struct us_ctl_server *s)
{
	int64_t now = now_ms(), min = -1;

	for (unsigned i = 0; s && i < s->n; i++) {
		int64_t left = s->c[i].deadline - now;

		if (left < 0)
			left = 0;
		if (min < 0 || left < min)
			min = left;
	}
	return (int)min;
}

void us_ctl_expire(struct us_ctl_server *s)
{
	int64_t now = now_ms();

	for (unsigned i = 0; s && i < s->n;) {
		if (s->c[i].deadline <= now) {
			s->st.timed_out++;
			drop(s, &s->c[i]);      /* the last one moved to i */
		} else {
			i++;
		}
	}
}

unsigned us_ctl_clients(const struct us_ctl_server *s)
{
	return s ? s->n : 0;
}

struct us_ctl_stats us_ctl_stats(const struct us_ctl_server *s)
{
	return s->st;
}

void us_ctl_close(struct us_ctl_server *s)
{
	if (!s)
		return;
	while (s->n)
		drop(s, &s->c[s->n - 1]);
	epoll_ctl(s->epfd, EPOLL_CTL_DEL, s->lfd, NULL);
	if (s->spare >= 0)
		close(s->spare);
	free(s);
}
