/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The address plan of the lab and of the tests' networks: one description
 * of the same network. tools/lab.sh reads the US_NET_ lines below (one
 * #define each, a plain value), tests/testnet.c and tests/livenet.c include
 * this file. Addresses from 198.18.0.0/15 and 2001:db8::/32 only.
 *
 *   client ---- cli [balancer] mach ---- machines (host N: MACH4 N, MACH6 N)
 *   VIPs on no interface of the balancer; the machines hold them on lo
 */
#ifndef US_LAB_NET_H
#define US_LAB_NET_H

#define US_NET_CLIENT4   "198.18.0.1"
#define US_NET_CLIENT6   "2001:db8::1"
#define US_NET_BAL_CLI4  "198.18.0.254"
#define US_NET_BAL_CLI6  "2001:db8::fe"
#define US_NET_BAL_MACH4 "198.18.1.254"
#define US_NET_BAL_MACH6 "2001:db8:1::fe"
#define US_NET_PLEN4     24
#define US_NET_PLEN6     64
/* a machine's addresses: the prefix, then its host number as written
 * (machine 11: 198.18.1.11 and 2001:db8:1::11) */
#define US_NET_MACH4     "198.18.1."
#define US_NET_MACH6     "2001:db8:1::"
/* a second machine network, behind its own balancer interface: the tests'
 * (a simulation machine on another port); the lab does not build it */
#define US_NET_BAL_SIM4  "198.18.2.254"
#define US_NET_BAL_SIM6  "2001:db8:2::fe"
#define US_NET_SIM4      "198.18.2."
#define US_NET_SIM6      "2001:db8:2::"
#define US_NET_VIP4      "198.18.100.1"
#define US_NET_VIP6      "2001:db8:100::1"

/* a machine's address as a C string literal: US_NET_M4(11) */
#define US_NET_STR_(n) #n
#define US_NET_M4(n) US_NET_MACH4 US_NET_STR_(n)
#define US_NET_M6(n) US_NET_MACH6 US_NET_STR_(n)
#define US_NET_S4(n) US_NET_SIM4 US_NET_STR_(n)
#define US_NET_S6(n) US_NET_SIM6 US_NET_STR_(n)

#endif
