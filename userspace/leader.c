// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Leading or standing by, on an etcd election: see leader.h. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/timerfd.h>

#include "leader.h"

struct us_leader {
	struct us_etcd *c;
	char election[US_ETCD_KEY_MAX];
	char name[128];
	long ttl_s, check_ms;
	int tfd;
	bool leading, standing;
	int64_t lease;
	struct us_etcd_candidate me;
	char err[600];
};

static int seterr(struct us_leader *l, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int seterr(struct us_leader *l, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(l->err, sizeof(l->err), fmt, ap);
	va_end(ap);
	return err;
}

/* A new lease and a campaign with it. */
static int stand(struct us_leader *l)
{
	int rc;

	l->standing = false;
	rc = us_etcd_lease_grant(l->c, l->ttl_s, &l->lease, NULL);
	if (!rc)
		rc = us_etcd_campaign(l->c, l->election, l->lease, l->name, strlen(l->name), &l->me,
				      &l->leading);
	if (rc)
		return seterr(l, rc, "election %s: %s", l->election, us_etcd_error(l->c));
	l->standing = true;
	return 0;
}

int us_leader_dispatch(struct us_leader *l)
{
	bool was = l->leading;
	uint64_t ticks;
	int rc = 0;

	if (read(l->tfd, &ticks, sizeof(ticks)) != sizeof(ticks))
		return 0;
	l->err[0] = 0;
	if (l->standing) {
		rc = us_etcd_lease_keepalive(l->c, l->lease, NULL);
		if (!rc)
			rc = us_etcd_is_leader(l->c, &l->me, &l->leading);
		if (rc == -ENOENT)
			rc = stand(l);  /* the lease or the key is gone: behind the others */
		else if (rc)
			seterr(l, rc, "election %s: %s", l->election, us_etcd_error(l->c));
	} else {
		rc = stand(l);
	}
	if (rc) {
		l->leading = false;
		return rc;
	}
	return l->leading != was;
}

int us_leader_open(const struct us_leader_opts *o, struct us_leader **out, char *err,
		   size_t errlen)
{
	struct us_leader *l;
	struct itimerspec its;
	int rc;

	*out = NULL;
	if (!o || !o->etcd || !o->election || !*o->election ||
	    strlen(o->election) >= US_ETCD_KEY_MAX - 20 || !o->name || strlen(o->name) >= 128 ||
	    o->ttl_s < 0 || o->check_ms < 0) {
		snprintf(err, errlen, "leader: an etcd client, an election key, a name (< 128 "
			 "bytes), a TTL and a check period not negative");
		return -EINVAL;
	}
	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->c = o->etcd;
	snprintf(l->election, sizeof(l->election), "%s", o->election);
	snprintf(l->name, sizeof(l->name), "%s", o->name);
	l->ttl_s = o->ttl_s ? o->ttl_s : 5;
	l->check_ms = o->check_ms ? o->check_ms : 500;
	l->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (l->tfd < 0) {
		rc = -errno;
		free(l);
		return rc;
	}
	its.it_value.tv_sec = its.it_interval.tv_sec = l->check_ms / 1000;
	its.it_value.tv_nsec = its.it_interval.tv_nsec = (l->check_ms % 1000) * 1000000L;
	timerfd_settime(l->tfd, 0, &its, NULL);
	rc = stand(l);
	if (rc) {
		snprintf(err, errlen, "%s", l->err);
		close(l->tfd);
		free(l);
		return rc;
	}
	*out = l;
	return 0;
}

int us_leader_fd(const struct us_leader *l)
{
	return l->tfd;
}

bool us_leader_leading(const struct us_leader *l)
{
	return l->leading;
}

const struct us_etcd_candidate *us_leader_candidate(const struct us_leader *l)
{
	return &l->me;
}

const char *us_leader_error(const struct us_leader *l)
{
	return l->err;
}

void us_leader_close(struct us_leader *l)
{
	if (!l)
		return;
	if (l->standing) {
		us_etcd_resign(l->c, &l->me);
		us_etcd_lease_revoke(l->c, l->lease);
	}
	close(l->tfd);
	free(l);
}
