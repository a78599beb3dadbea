// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The egress program (us_egress) on real clones: us_client run with live
 * frames (BPF_F_TEST_XDP_LIVE_FRAMES) redirects into the veths, and the
 * copies are captured on their peers (AF_PACKET): one copy per machine,
 * each with its own MAC addresses, the rest of the frame as sent.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "fixture.h"

static int cap_open(int ifindex)
{
	struct sockaddr_ll a = {
		.sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL), .sll_ifindex = ifindex,
	};
	int s = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, htons(ETH_P_ALL));

	if (s < 0)
		return -errno;
	if (bind(s, (struct sockaddr *)&a, sizeof(a))) {
		int err = -errno;

		close(s);
		return err;
	}
	return s;
}

struct capt {
	int n;
	size_t len[4];
	__u8 f[4][2048];
};

/* Frames carrying tag, on any of the sockets, until want arrived (then a
 * little longer, to see extra copies) or timeout. */
static void cap_collect(const int *socks, struct capt *caps, int nsock, const char *tag,
			int want, int timeout_ms)
{
	struct timespec t0, t;
	int got = 0, grace = 0;

	for (int i = 0; i < nsock; i++)
		caps[i].n = 0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		struct pollfd pf[4];
		long ms;

		for (int i = 0; i < nsock; i++)
			pf[i] = (struct pollfd){ .fd = socks[i], .events = POLLIN };
		poll(pf, nsock, 10);
		for (int i = 0; i < nsock; i++) {
			__u8 b[2048];
			struct sockaddr_ll from;
			socklen_t fl = sizeof(from);
			ssize_t r;

			while ((r = recvfrom(socks[i], b, sizeof(b), 0, (struct sockaddr *)&from,
					     &fl)) > 0) {
				if (from.sll_pkttype == PACKET_OUTGOING)
					continue;
				if (!memmem(b, (size_t)r, tag, strlen(tag)))
					continue;
				if (caps[i].n < 4) {
					caps[i].len[caps[i].n] = (size_t)r;
					memcpy(caps[i].f[caps[i].n], b, (size_t)r);
				}
				caps[i].n++;
				got++;
			}
		}
		clock_gettime(CLOCK_MONOTONIC, &t);
		ms = (t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000;
		if (got >= want && !grace) {
			grace = 1;
			t0 = t;
			timeout_ms = 50;
			continue;
		}
		if (ms > timeout_ms)
			break;
	}
}

static int run_live(int prog_fd, int ifc, const __u8 *in, size_t len)
{
	struct xdp_md ctx = { .data_end = (__u32)len };
	LIBBPF_OPTS(bpf_test_run_opts, t, .data_in = in, .data_size_in = (__u32)len,
		    .ctx_in = &ctx, .ctx_size_in = sizeof(ctx), .repeat = 1,
		    .flags = BPF_F_TEST_XDP_LIVE_FRAMES);

	ctx.ingress_ifindex = testnet.ifs[ifc].ifindex;
	return bpf_prog_test_run_opts(prog_fd, &t) ? -errno : 0;
}

/* One copy as captured: these MACs, the rest of the frame as sent. */
static int cap_match(const __u8 *f, size_t flen, const __u8 *in, size_t len, const __u8 *dmac,
		     const __u8 *smac)
{
	return flen == len && !memcmp(f, dmac, 6) && !memcmp(f + 6, smac, 6) &&
	       !memcmp(f + 12, in + 12, len - 12);
}

static void expect_copies(const char *where, const struct capt *c, const __u8 *in, size_t len,
			  const __u32 *mids, int n)
{
	char what[96];

	snprintf(what, sizeof(what), "%s: copies", where);
	if (!EQ(what, c->n, n))
		return;
	for (int k = 0; k < n; k++) {
		int found = 0;

		for (int j = 0; j < c->n && j < 4; j++)
			found |= cap_match(c->f[j], c->len[j], in, len, mach_mac(mids[k]),
					   testnet.ifs[mach_ifc(mids[k])].mac);
		if (!found) {
			char ma[20], me[20];

			snprintf(what, sizeof(what), "%s: copy for %s (dmac)", where, mname(mids[k]));
			th_fail(what, mac_s(c->f[0], ma), mac_s(mach_mac(mids[k]), me));
		}
	}
}

TH_TEST(egress)
{
	int socks[3], ns = 0, err;
	struct capt caps[3];
	struct snap sb;
	size_t n, len;

	if (th_subtest("devmap-program-test-run")) {
		static __u8 mb[FRAME_MAX];
		struct us_meta md = { .seq = 1, .flags = 0 };
		struct xdp_md ctx = { .data = sizeof(md) };
		LIBBPF_OPTS(bpf_test_run_opts, t);

		n = req_text(sipbuf, "INVITE", "egress@198.18.0.1", "z9hG4bK-eg", 1);
		len = frame_client(fin, 0, svc_vip[SVC4], 5060, sipbuf, n);
		memcpy(mb, &md, sizeof(md));
		memcpy(mb + sizeof(md), fin, len);
		ctx.data_end = (__u32)(sizeof(md) + len);
		t.data_in = mb;
		t.data_size_in = (__u32)(sizeof(md) + len);
		t.ctx_in = &ctx;
		t.ctx_size_in = sizeof(ctx);
		err = bpf_prog_test_run_opts(th.fd_egress, &t) ? -errno : 0;
		/* Linux refuses test runs of BPF_XDP_DEVMAP programs (EINVAL);
		 * should that change, the program must at least not abort */
		if (err != -EINVAL)
			EQ("devmap test run: error", err, 0);
		if (!err && t.retval != XDP_PASS)
			check_ret(t.retval, XDP_PASS);
	}

	for (int i = 0; i < TN_NIFS; i++) {
		int s = cap_open(testnet.ifs[i].peer_ifindex);

		if (s < 0) {
			th_fail("AF_PACKET socket", strerror(-s), "open");
			goto out;
		}
		socks[ns++] = s;
	}

	if (th_subtest("live-mirror-same-interface")) {
		const char *c = "live-mir-v4@198.18.0.1";
		__u32 a = pred_active(SVC4, c), mids[2];

		set_share(SVC4, 10000);
		mids[0] = a;
		mids[1] = pred_sim(SVC4, c);
		n = req_text(sipbuf, "INVITE", c, "z9hG4bK-live-1", 1);
		len = frame_client(fin, 0, svc_vip[SVC4], 5060, sipbuf, n);
		snap_take(&sb);
		err = run_live(th.fd_client, TN_CLI, fin, len);
		if (EQ("live test run: error", err, 0)) {
			cap_collect(socks, caps, ns, c, 2, 1000);
			expect_copies("mach0p", &caps[TN_MACH], fin, len, mids, 2);
			EQ("cli0p: copies", caps[TN_CLI].n, 0);
			EQ("sim0p: copies", caps[TN_SIM].n, 0);
			STATS(&sb, 1, S(US_ST_REQ_FWD, 1) S(US_ST_REQ_MIRRORED, 1));
		}
		set_share(SVC4, 0);
	}

	if (th_subtest("live-mirror-two-interfaces")) {
		const char *c = "live-mir-v6@198.18.0.1";
		__u32 a = pred_active(SVC6, c), s;

		set_share(SVC6, 10000);
		s = pred_sim(SVC6, c);
		n = req_text(sipbuf, "INVITE", c, "z9hG4bK-live-2", 1);
		len = frame_client(fin, 0, svc_vip[SVC6], 5060, sipbuf, n);
		err = run_live(th.fd_client, TN_CLI, fin, len);
		if (EQ("live test run: error", err, 0)) {
			cap_collect(socks, caps, ns, c, 2, 1000);
			expect_copies("mach0p", &caps[TN_MACH], fin, len, &a, 1);
			expect_copies("sim0p", &caps[TN_SIM], fin, len, &s, 1);
			EQ("cli0p: copies", caps[TN_CLI].n, 0);
		}
		set_share(SVC6, 0);
	}

	if (th_subtest("live-forward-not-mirrored")) {
		const char *c = "live-fwd@198.18.0.1";
		__u32 a = pred_active(SVC4, c);

		n = req_text(sipbuf, "INVITE", c, "z9hG4bK-live-3", 1);
		len = frame_client(fin, 0, svc_vip[SVC4], 5060, sipbuf, n);
		err = run_live(th.fd_client, TN_CLI, fin, len);
		if (EQ("live test run: error", err, 0)) {
			cap_collect(socks, caps, ns, c, 1, 1000);
			expect_copies("mach0p", &caps[TN_MACH], fin, len, &a, 1);
			EQ("sim0p: copies", caps[TN_SIM].n, 0);
		}
	}

	if (th_subtest("live-response-to-client")) {
		const char *c = "live-resp@198.18.0.1";
		__u32 a = pred_active(SVC4, c);

		n = req_text(sipbuf, "INVITE", c, "z9hG4bK-live-4", 1);
		send_client(SVC4, sipbuf, n, a, MID_NONE, NULL);
		n = resp_text(sipbuf, 200, c, "z9hG4bK-live-4", 1, "INVITE");
		len = frame_resp(fin, mach_of(a)->host, SVC4, sipbuf, n);
		err = run_live(th.fd_machine, TN_MACH, fin, len);
		if (EQ("live test run: error", err, 0)) {
			cap_collect(socks, caps, ns, c, 1, 1000);
			if (EQ("cli0p: copies", caps[TN_CLI].n, 1) &&
			    !cap_match(caps[TN_CLI].f[0], caps[TN_CLI].len[0], fin, len,
				       testnet.hosts[TN_CLIENT].mac, testnet.ifs[TN_CLI].mac))
				th_fail("cli0p frame", "other bytes", "the response with client MACs");
			EQ("mach0p: copies", caps[TN_MACH].n, 0);
		}
	}
out:
	for (int i = 0; i < ns; i++)
		close(socks[i]);
}
