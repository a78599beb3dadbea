// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Route and neighbour look-ups over rtnetlink: see netlink.h. */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/neighbour.h>

#include "addr.h"
#include "netlink.h"

#define NL_BUF 8192

struct nl_req {
	struct nlmsghdr nh;
	union {
		struct rtmsg rt;
		struct ndmsg nd;
	};
	char attrs[128];
};

static void nl_addattr(struct nl_req *req, int type, const void *data, int len)
{
	struct nlmsghdr *nh = &req->nh;
	char *base = (char *)req;
	struct rtattr *rta = (struct rtattr *)(base + NLMSG_ALIGN(nh->nlmsg_len));

	rta->rta_type = type;
	rta->rta_len = RTA_LENGTH(len);
	memcpy(RTA_DATA(rta), data, len);
	nh->nlmsg_len = NLMSG_ALIGN(nh->nlmsg_len) + RTA_ALIGN(rta->rta_len);
}

/* Send one request and receive its single answer into buf. Returns the
 * answer's length, or a negative errno (including the kernel's NLMSG_ERROR). */
static int nl_talk(struct nlmsghdr *req, char *buf, size_t cap)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	struct timeval tv = { .tv_sec = 2 };
	int fd, n, err;

	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	req->nlmsg_seq = 1;
	if (sendto(fd, req, req->nlmsg_len, 0, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		err = -errno;
		goto out;
	}
	n = recv(fd, buf, cap, 0);
	if (n < 0) {
		err = -errno;
		goto out;
	}
	if (!NLMSG_OK((struct nlmsghdr *)buf, (unsigned)n)) {
		err = -EPROTO;
		goto out;
	}
	if (((struct nlmsghdr *)buf)->nlmsg_type == NLMSG_ERROR) {
		struct nlmsgerr *e = NLMSG_DATA((struct nlmsghdr *)buf);

		err = e->error;         /* 0 for an ACK */
		goto out;
	}
	err = n;
out:
	close(fd);
	return err;
}

static int route_get(int family, const __u8 addr[16], int *ifindex, int *gateway)
{
	struct nl_req req;
	char buf[NL_BUF], a[16];
	struct nlmsghdr *nh = (struct nlmsghdr *)buf;
	struct rtattr *rta;
	int alen, n, len;

	memset(&req, 0, sizeof(req));
	req.nh.nlmsg_len = NLMSG_LENGTH(sizeof(struct rtmsg));
	req.nh.nlmsg_type = RTM_GETROUTE;
	req.nh.nlmsg_flags = NLM_F_REQUEST;
	req.rt.rtm_family = family;
	alen = us_addr_bytes(family, addr, a);
	req.rt.rtm_dst_len = alen * 8;
	nl_addattr(&req, RTA_DST, a, alen);
	n = nl_talk(&req.nh, buf, sizeof(buf));
	if (n < 0)
		return n == -ENETUNREACH ? -EHOSTUNREACH : n;
	*ifindex = 0;
	*gateway = 0;
	len = RTM_PAYLOAD(nh);
	for (rta = RTM_RTA(NLMSG_DATA(nh)); RTA_OK(rta, len); rta = RTA_NEXT(rta, len)) {
		if (rta->rta_type == RTA_OIF)
			*ifindex = *(int *)RTA_DATA(rta);
		else if (rta->rta_type == RTA_GATEWAY || rta->rta_type == RTA_VIA)
			*gateway = 1;
	}
	if (((struct rtmsg *)NLMSG_DATA(nh))->rtm_type != RTN_UNICAST || !*ifindex)
		return -EHOSTUNREACH;
	return 0;
}

static int neigh_get(int family, const __u8 addr[16], int ifindex, __u8 mac[6])
{
	struct nl_req req;
	char buf[NL_BUF], a[16];
	struct nlmsghdr *nh = (struct nlmsghdr *)buf;
	struct ndmsg *nd;
	struct rtattr *rta;
	int alen, n, len, have = 0;

	memset(&req, 0, sizeof(req));
	req.nh.nlmsg_len = NLMSG_LENGTH(sizeof(struct ndmsg));
	req.nh.nlmsg_type = RTM_GETNEIGH;
	req.nh.nlmsg_flags = NLM_F_REQUEST;
	req.nd.ndm_family = family;
	req.nd.ndm_ifindex = ifindex;
	alen = us_addr_bytes(family, addr, a);
	nl_addattr(&req, NDA_DST, a, alen);
	n = nl_talk(&req.nh, buf, sizeof(buf));
	if (n < 0)
		return n;
	nd = NLMSG_DATA(nh);
	len = nh->nlmsg_len - NLMSG_LENGTH(sizeof(*nd));
	for (rta = (struct rtattr *)((char *)nd + NLMSG_ALIGN(sizeof(*nd))); RTA_OK(rta, len);
	     rta = RTA_NEXT(rta, len)) {
		if (rta->rta_type == NDA_LLADDR && RTA_PAYLOAD(rta) == 6) {
			memcpy(mac, RTA_DATA(rta), 6);
			have = 1;
		}
	}
	if (!have || (nd->ndm_state & (NUD_INCOMPLETE | NUD_FAILED | NUD_NONE)) ||
	    nd->ndm_state == NUD_NONE)
		return -EAGAIN;
	return 0;
}

/* Ask the kernel to resolve addr and keep it resolved (managed entry); if
 * managed entries are refused, at least trigger one resolution (NTF_USE). */
static int neigh_manage(int family, const __u8 addr[16], int ifindex)
{
	struct nl_req req;
	char buf[NL_BUF], a[16];
	__u32 ext = NTF_EXT_MANAGED;
	int alen, err;

	memset(&req, 0, sizeof(req));
	req.nh.nlmsg_len = NLMSG_LENGTH(sizeof(struct ndmsg));
	req.nh.nlmsg_type = RTM_NEWNEIGH;
	req.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE;
	req.nd.ndm_family = family;
	req.nd.ndm_ifindex = ifindex;
	req.nd.ndm_state = NUD_NONE;
	alen = us_addr_bytes(family, addr, a);
	nl_addattr(&req, NDA_DST, a, alen);
	nl_addattr(&req, NDA_FLAGS_EXT, &ext, sizeof(ext));
	err = nl_talk(&req.nh, buf, sizeof(buf));
	if (err >= 0)
		return 0;
	req.nh.nlmsg_len = NLMSG_LENGTH(sizeof(struct ndmsg));
	nl_addattr(&req, NDA_DST, a, alen);
	req.nd.ndm_flags = NTF_USE;
	err = nl_talk(&req.nh, buf, sizeof(buf));
	return err < 0 ? err : 0;
}

int us_nl_resolve(int family, const __u8 addr[16], int *ifindex, __u8 mac[6])
{
	int gw = 0, err;

	err = route_get(family, addr, ifindex, &gw);
	if (err)
		return err;
	if (gw)
		return -ENETUNREACH;
	err = neigh_get(family, addr, *ifindex, mac);
	if (err == -EAGAIN || err == -ENOENT) {
		neigh_manage(family, addr, *ifindex);
		return -EAGAIN;
	}
	return err;
}
