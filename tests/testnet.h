/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * A throw-away network for tests and benchmarks, inside the calling
 * process's own new network namespace (unshare(CLONE_NEWNET)): nothing
 * named is created, and everything vanishes when the process exits or
 * calls testnet_leave().
 *
 * Three veth pairs; the balancer's side of each has an address in
 * 198.18.0.0/15 and 2001:db8::/32, forwarding is on and every "host" below
 * is a permanent neighbour entry, so bpf_fib_lookup() from a program run
 * with ingress_ifindex set to one of them succeeds without ARP/ND:
 *
 *   cli0  (peer cli0p)   198.18.0.254/24  2001:db8::fe/64     client side
 *   mach0 (peer mach0p)  198.18.1.254/24  2001:db8:1::fe/64   machines
 *   sim0  (peer sim0p)   198.18.2.254/24  2001:db8:2::fe/64   simulation
 *
 *   client  198.18.0.1   2001:db8::1      on cli0
 *   a1      198.18.1.1   2001:db8:1::1    on mach0
 *   a2      198.18.1.2   2001:db8:1::2    on mach0
 *   a3      198.18.1.3   2001:db8:1::3    on mach0
 *   b1      198.18.1.21  2001:db8:1::21   on mach0
 *   b2      198.18.1.22  2001:db8:1::22   on mach0
 *   s1      198.18.1.11  2001:db8:1::11   on mach0
 *   s2      198.18.2.11  2001:db8:2::11   on sim0
 *
 * Each host has its own MAC (02:a0:00:00:<net>:<host>), used for both of
 * its addresses (a machine is told by its MAC on the machine side, so a
 * host serves one service: a1-a3 and s1 are meant for IPv4 services, b1,
 * b2 and s2 can serve IPv6 ones). The VIPs suggested
 * for services, 198.18.100.1 and 2001:db8:100::1, are on no interface.
 * All interfaces and peers are up, MTU 9000, GRO on on the peers (so that
 * XDP_REDIRECT into the veths delivers in live test runs).
 */
#ifndef US_TESTNET_H
#define US_TESTNET_H

#include <linux/types.h>

enum testnet_ifid {
	TN_CLI = 0,
	TN_MACH,
	TN_SIM,
	TN_NIFS,
};

enum testnet_hostid {
	TN_CLIENT = 0,
	TN_A1,
	TN_A2,
	TN_A3,
	TN_B1,
	TN_B2,
	TN_S1,
	TN_S2,
	TN_NHOSTS,
};

struct testnet_if {
	const char *name, *peer;
	int ifindex, peer_ifindex;
	__u8 mac[6], peer_mac[6];
	const char *v4, *v6;        /* the balancer's own addresses there */
	int v4_plen, v6_plen;
};

struct testnet_host {
	const char *name;
	enum testnet_ifid ifc;      /* the interface it sits behind */
	const char *v4, *v6;
	__u8 mac[6];
	__u8 addr4[16];             /* v4-mapped ::ffff:a.b.c.d */
	__u8 addr6[16];
};

struct testnet {
	struct testnet_if ifs[TN_NIFS];
	struct testnet_host hosts[TN_NHOSTS];
	const char *vip4, *vip6;
	__u8 vip4_addr[16], vip6_addr[16];  /* 16-byte forms (v4-mapped) */
};

/* Filled by testnet_enter(). */
extern struct testnet testnet;

/* Move the calling (single-threaded) process into a new network namespace
 * and build the network above. 0, or -errno with a message on stderr. */
int testnet_enter(void);
/* Return to the namespace the process came from; the test namespace and
 * everything in it go away (unless something else holds it). */
int testnet_leave(void);

/* Text address to the 16-byte form the data plane uses (IPv4 v4-mapped).
 * Returns AF_INET, AF_INET6, or -1. */
int testnet_addr16(const char *text, __u8 out[16]);

#endif
