// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The pair deadline: the service's policy (due_floor, due_multiple) is
 * programmed into the data plane's service entry at start and again when
 * a reload changes the policy (reconcile programs it every time).
 */
#include <errno.h>
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "understudy.skel.h"
#include "fixture.h"

/* The service entry of 198.18.100.1:5060 (the fixture's). */
static int svc_entry(struct us_svc *out)
{
	int fd = bpf_map__fd(us_dp_skel(ctl.dp)->maps.us_services);
	struct us_svc_key k, *prev = NULL;

	while (!bpf_map_get_next_key(fd, prev, &k)) {
		if (ntohs(k.port) == 5060 && k.addr[15] == 1 && k.addr[14] == 100 &&
		    !bpf_map_lookup_elem(fd, &k, out))
			return 0;
		prev = &k;
	}
	th_fail("us_services", "no entry", "198.18.100.1:5060");
	return -ENOENT;
}

TH_TEST(due)
{
	struct us_svc v;

	if (th_subtest("programmed-at-start-and-reload")) {
		const struct us_policy *p = &ctl.conf.services[0].policy;

		if (svc_entry(&v))
			return;
		EQ("floor (ms), the policy's", v.due_floor_ms, (long long)(p->due_floor * 1000 + 0.5));
		EQ("multiple, the policy's", v.due_mult, (long long)(p->due_multiple + 0.5));
	}
}
