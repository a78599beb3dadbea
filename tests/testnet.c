// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* A throw-away network in the process's own network namespace. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <unistd.h>

#include "testnet.h"
#include "../tools/lab/net.h"

#define TN_MTU 9000

struct testnet testnet = {
	.ifs = {
		[TN_CLI]  = { .name = "cli0",  .peer = "cli0p",
			      .mac = { 0x02, 0xb0, 0, 0, 0, 0x00 },
			      .peer_mac = { 0x02, 0xb0, 0, 0, 0, 0x80 },
			      .v4 = US_NET_BAL_CLI4, .v4_plen = US_NET_PLEN4,
			      .v6 = US_NET_BAL_CLI6, .v6_plen = US_NET_PLEN6 },
		[TN_MACH] = { .name = "mach0", .peer = "mach0p",
			      .mac = { 0x02, 0xb0, 0, 0, 1, 0x00 },
			      .peer_mac = { 0x02, 0xb0, 0, 0, 1, 0x80 },
			      .v4 = US_NET_BAL_MACH4, .v4_plen = US_NET_PLEN4,
			      .v6 = US_NET_BAL_MACH6, .v6_plen = US_NET_PLEN6 },
		[TN_SIM]  = { .name = "sim0",  .peer = "sim0p",
			      .mac = { 0x02, 0xb0, 0, 0, 2, 0x00 },
			      .peer_mac = { 0x02, 0xb0, 0, 0, 2, 0x80 },
			      .v4 = US_NET_BAL_SIM4, .v4_plen = US_NET_PLEN4,
			      .v6 = US_NET_BAL_SIM6, .v6_plen = US_NET_PLEN6 },
	},
	.hosts = {
		[TN_CLIENT] = { "client", TN_CLI,  US_NET_CLIENT4, US_NET_CLIENT6,
				{ 0x02, 0xa0, 0, 0, 0, 0x01 }, {0}, {0} },
		[TN_A1]     = { "a1",     TN_MACH, US_NET_M4(1),  US_NET_M6(1),
				{ 0x02, 0xa0, 0, 0, 1, 0x01 }, {0}, {0} },
		[TN_A2]     = { "a2",     TN_MACH, US_NET_M4(2),  US_NET_M6(2),
				{ 0x02, 0xa0, 0, 0, 1, 0x02 }, {0}, {0} },
		[TN_A3]     = { "a3",     TN_MACH, US_NET_M4(3),  US_NET_M6(3),
				{ 0x02, 0xa0, 0, 0, 1, 0x03 }, {0}, {0} },
		[TN_B1]     = { "b1",     TN_MACH, US_NET_M4(21), US_NET_M6(21),
				{ 0x02, 0xa0, 0, 0, 1, 0x21 }, {0}, {0} },
		[TN_B2]     = { "b2",     TN_MACH, US_NET_M4(22), US_NET_M6(22),
				{ 0x02, 0xa0, 0, 0, 1, 0x22 }, {0}, {0} },
		[TN_S1]     = { "s1",     TN_MACH, US_NET_M4(11), US_NET_M6(11),
				{ 0x02, 0xa0, 0, 0, 1, 0x11 }, {0}, {0} },
		[TN_S2]     = { "s2",     TN_SIM,  US_NET_S4(11), US_NET_S6(11),
				{ 0x02, 0xa0, 0, 0, 2, 0x11 }, {0}, {0} },
	},
	.vip4 = US_NET_VIP4,
	.vip6 = US_NET_VIP6,
};

static int tn_orig_ns = -1;
static int tn_entered;

int testnet_addr16(const char *text, __u8 out[16])
{
	struct in_addr a4;

	if (inet_pton(AF_INET6, text, out) == 1)
		return AF_INET6;
	if (inet_pton(AF_INET, text, &a4) == 1) {
		memset(out, 0, 10);
		out[10] = 0xff;
		out[11] = 0xff;
		memcpy(out + 12, &a4, 4);
		return AF_INET;
	}
	return -1;
}

static const char *mac_str(const __u8 m[6], char *buf)
{
	sprintf(buf, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
	return buf;
}

static int write_file(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, val, strlen(val));
	close(fd);
	return n == (ssize_t)strlen(val) ? 0 : -EIO;
}

/* GRO on (ethtool -K dev gro on): a veth then runs NAPI on its receive
 * side, which XDP_REDIRECT into its peer needs. */
static int set_gro(const char *dev)
{
	struct ethtool_value ev = { .cmd = ETHTOOL_SGRO, .data = 1 };
	struct ifreq ifr;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), err = 0;

	if (fd < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", dev);
	ifr.ifr_data = (void *)&ev;
	if (ioctl(fd, SIOCETHTOOL, &ifr))
		err = -errno;
	close(fd);
	return err;
}

/* Everything in one `ip -batch -`: one process, fast. */
static int tn_ip_batch(void)
{
	char a[32], b[32];
	FILE *p = popen("ip -batch - 2>&1", "w");
	int i, st;

	if (!p)
		return -errno;
	fprintf(p, "link set lo up\n");
	for (i = 0; i < TN_NIFS; i++) {
		const struct testnet_if *f = &testnet.ifs[i];

		fprintf(p, "link add %s address %s mtu %d type veth peer name %s address %s mtu %d\n",
			f->name, mac_str(f->mac, a), TN_MTU, f->peer, mac_str(f->peer_mac, b),
			TN_MTU);
		fprintf(p, "link set %s up\n", f->peer);
		fprintf(p, "link set %s up\n", f->name);
		fprintf(p, "addr add %s/%d dev %s\n", f->v4, f->v4_plen, f->name);
		fprintf(p, "addr add %s/%d dev %s nodad\n", f->v6, f->v6_plen, f->name);
	}
	for (i = 0; i < TN_NHOSTS; i++) {
		const struct testnet_host *h = &testnet.hosts[i];
		const char *dev = testnet.ifs[h->ifc].name;

		fprintf(p, "neigh replace %s lladdr %s dev %s nud permanent\n", h->v4,
			mac_str(h->mac, a), dev);
		fprintf(p, "neigh replace %s lladdr %s dev %s nud permanent\n", h->v6,
			mac_str(h->mac, a), dev);
	}
	st = pclose(p);
	if (st == -1)
		return -errno;
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		return -EIO;
	return 0;
}

int testnet_enter(void)
{
	int i, err;

	if (tn_entered)
		return -EALREADY;
	for (i = 0; i < TN_NHOSTS; i++) {
		struct testnet_host *h = &testnet.hosts[i];

		testnet_addr16(h->v4, h->addr4);
		testnet_addr16(h->v6, h->addr6);
	}
	testnet_addr16(testnet.vip4, testnet.vip4_addr);
	testnet_addr16(testnet.vip6, testnet.vip6_addr);

	tn_orig_ns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (tn_orig_ns < 0) {
		err = -errno;
		fprintf(stderr, "testnet: /proc/self/ns/net: %s\n", strerror(errno));
		return err;
	}
	if (unshare(CLONE_NEWNET)) {
		err = -errno;
		fprintf(stderr, "testnet: unshare(CLONE_NEWNET): %s\n", strerror(errno));
		close(tn_orig_ns);
		tn_orig_ns = -1;
		return err;
	}
	tn_entered = 1;

	err = tn_ip_batch();
	if (err) {
		fprintf(stderr, "testnet: ip -batch failed (%d)\n", err);
		goto fail;
	}
	/* bpf_fib_lookup() wants forwarding on the ingress device */
	if ((err = write_file("/proc/sys/net/ipv4/ip_forward", "1")) ||
	    (err = write_file("/proc/sys/net/ipv6/conf/all/forwarding", "1"))) {
		fprintf(stderr, "testnet: enabling forwarding: %s\n", strerror(-err));
		goto fail;
	}
	for (i = 0; i < TN_NIFS; i++) {
		struct testnet_if *f = &testnet.ifs[i];

		f->ifindex = (int)if_nametoindex(f->name);
		f->peer_ifindex = (int)if_nametoindex(f->peer);
		if (!f->ifindex || !f->peer_ifindex) {
			err = -ENODEV;
			fprintf(stderr, "testnet: %s/%s missing\n", f->name, f->peer);
			goto fail;
		}
		/* veth NAPI on the receiving end, so that XDP_REDIRECT into
		 * f->name is delivered (only live runs need it) */
		err = set_gro(f->peer);
		if (err) {
			fprintf(stderr, "testnet: GRO on %s: %s\n", f->peer, strerror(-err));
			goto fail;
		}
	}
	return 0;
fail:
	testnet_leave();
	return err;
}

int testnet_leave(void)
{
	int err = 0;

	if (!tn_entered)
		return 0;
	if (tn_orig_ns >= 0) {
		if (setns(tn_orig_ns, CLONE_NEWNET))
			err = -errno;
		close(tn_orig_ns);
		tn_orig_ns = -1;
	}
	tn_entered = 0;
	return err;
}
