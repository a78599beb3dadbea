/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * A controller leads or stands by (docs/cluster.md): a candidate of an etcd
 * election (etcd.h, us_etcd_campaign) on a lease of its own, kept alive by
 * its owner's event loop. us_leader_fd() is readable when there is
 * something to do (a check every check_ms: renew the lease, ask whether it
 * leads); us_leader_dispatch() does it. A candidate whose lease ended (it
 * was paused, partitioned, or its lease revoked) stands again with a new
 * lease, behind the others: its old candidate's writes are refused by the
 * fencing condition (us_etcd_cmp_leader) from the moment its key went.
 *
 * A standby takes over when the leader's key goes: at once when the leader
 * resigns or its lease is revoked, within the lease's TTL (etcd rounds it
 * up to 1.5 election time-outs) when the leader dies without a word, plus
 * one check_ms.
 */
#ifndef US_LEADER_H
#define US_LEADER_H

#include <stdbool.h>
#include "etcd.h"

struct us_leader;

struct us_leader_opts {
	struct us_etcd *etcd;       /* the controller's client (used from the same thread) */
	const char *election;       /* "<prefix>/election" */
	const char *name;           /* what observers read as the leader's value */
	long ttl_s;                 /* the lease; 0: 5 */
	long check_ms;              /* 0: 500 */
};

/* Stand: a lease, a campaign. *out leads or stands by (us_leader_leading). */
int us_leader_open(const struct us_leader_opts *o, struct us_leader **out, char *err,
		   size_t errlen);
int us_leader_fd(const struct us_leader *l);
/* Renew, check: 1 when leading changed (either way), 0 if not, or a
 * negative errno when etcd could not be asked (leading is then false: a
 * controller that cannot reach etcd cannot know it still leads; its
 * writes would be refused anyway). */
int us_leader_dispatch(struct us_leader *l);
bool us_leader_leading(const struct us_leader *l);
/* The candidate the store's writes are fenced with (us_store_etcd_lead). */
const struct us_etcd_candidate *us_leader_candidate(const struct us_leader *l);
const char *us_leader_error(const struct us_leader *l);
/* Resign (a standby takes over at once) and end the lease. */
void us_leader_close(struct us_leader *l);

#endif
