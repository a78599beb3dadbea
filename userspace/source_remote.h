/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The counters of many balancers: a source (source.h) for the leading
 * controller that pulls every agent's cumulative counters (counters.h,
 * GET <agent>/counters) at each read, all agents at once, and sums them.
 *
 * Counters are cumulative, so an agent that does not answer loses nothing:
 * its last counters stay in the sum (it is reported stale), and its next
 * answer covers every window it missed. An agent's counters that start
 * again from zero (its "boot" changed, or a counter went down: its data
 * plane was made anew) are added to what it had counted before: the sum
 * never goes down and nothing is counted twice. What a balancer counted
 * after its last answer and before it was lost is lost with it.
 */
#ifndef US_SOURCE_REMOTE_H
#define US_SOURCE_REMOTE_H

#include <stdbool.h>
#include "source.h"

#define US_REMOTE_MAX_AGENTS 1024

struct us_remote_opts {
	const char *const *agents;  /* base URLs, "http://198.18.0.2:9100" (no path) */
	size_t nagents;             /* 1 .. US_REMOTE_MAX_AGENTS */
	long timeout_ms;            /* every agent's answer within it; 0: 1000 */
	/* TLS (https agents), as for etcd (etcd.h) */
	const char *ca_file, *cert_file, *key_file;
};

int us_source_remote(const struct us_remote_opts *o, struct us_source **out, char *err,
		     size_t errlen);

struct us_remote_agent {
	const char *url;
	bool ever;                  /* it answered at least once */
	bool stale;                 /* its last pull failed: its last counters are used */
	double last_ok;             /* CLOCK_MONOTONIC seconds of its last answer (0: none) */
	unsigned resets;            /* times its counters started again from zero */
	char boot[64];
	char error[512];            /* why the last pull failed ("" if it did not) */
};

/* The agents as the last read found them (a pointer into the source,
 * valid until the next read or close); *n gets how many. */
const struct us_remote_agent *us_source_remote_agents(struct us_source *s, size_t *n);

#endif
