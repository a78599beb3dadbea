/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Route and neighbour look-ups over rtnetlink, in the caller's netns. */
#ifndef US_NETLINK_H
#define US_NETLINK_H

#include <linux/types.h>

/* Resolve addr (16 bytes, v4-mapped for AF_INET) to the interface it is
 * reached by and its MAC address. Returns 0 with *ifindex and mac set;
 * -EHOSTUNREACH if there is no route; -ENETUNREACH if the route goes via a
 * gateway (a machine must be on-link); -EAGAIN if the neighbour is not
 * resolved yet, in which case a managed neighbour entry (NTF_EXT_MANAGED)
 * has been created so that the kernel resolves it and keeps it resolved. */
int us_nl_resolve(int family, const __u8 addr[16], int *ifindex, __u8 mac[6]);

#endif
