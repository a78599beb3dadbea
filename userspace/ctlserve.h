/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The control socket's clients, served without blocking: every client is
 * non-blocking in the daemon's epoll set, with a deadline for its whole
 * exchange (request read, answer written), and there are at most so many at
 * once. A client that sends a byte now and then, or nothing, or reads no
 * answer, costs a descriptor until its deadline and never delays the
 * window timer; clients past the limit get a one-line refusal and are
 * closed at once.
 *
 * One request per connection: a JSON text up to the newline, answered by
 * the handler's text and a newline. The peer's credentials are checked
 * (SO_PEERCRED), not only the socket's mode: a client of a uid other than
 * root's or the daemon's own is refused with a one-line answer.
 */
#ifndef US_CTLSERVE_H
#define US_CTLSERVE_H

#include <stdbool.h>
#include <stdint.h>

#define US_CTL_MAX_CLIENTS  32       /* at once; the rest refused */
#define US_CTL_DEADLINE_MS  2000     /* a client's whole exchange */
#define US_CTL_REQ_MAX      65536    /* a request's bytes */

struct us_ctl_server;

/* The answer to a request from a client of that uid (SO_PEERCRED): a
 * NUL-terminated JSON text, malloc'd; NULL: none. */
typedef char *(*us_ctl_handler)(void *ctx, const char *req, unsigned uid);

struct us_ctl_stats {
	uint64_t accepted, answered, refused_busy, refused_uid, timed_out;
};

/* Serve the listening socket lfd (non-blocking) through epfd, whose events
 * carry the fd in data.fd. max_clients/deadline_ms 0: the defaults.
 * 0 or a negative errno. */
int us_ctl_open(int lfd, int epfd, unsigned max_clients, unsigned deadline_ms,
		us_ctl_handler handle, void *ctx, struct us_ctl_server **out);
/* Is fd the listener or one of the clients? */
bool us_ctl_owns(const struct us_ctl_server *s, int fd);
/* An epoll event on fd (us_ctl_owns): accept, read, answer, write. */
void us_ctl_ready(struct us_ctl_server *s, int fd, uint32_t events);
/* Milliseconds to the nearest client deadline (-1: no client): the most the
 * caller's epoll_wait may sleep. */
int us_ctl_timeout_ms(const struct us_ctl_server *s);
/* Close the clients past their deadline. */
void us_ctl_expire(struct us_ctl_server *s);
unsigned us_ctl_clients(const struct us_ctl_server *s);
struct us_ctl_stats us_ctl_stats(const struct us_ctl_server *s);
/* Close every client (not the listener). */
void us_ctl_close(struct us_ctl_server *s);

#endif
