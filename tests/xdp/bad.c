// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Bad packets: never XDP_ABORTED, never cloned, counted by reason. Malformed
 * service traffic (dropped, one reason counted), the sizes at the limits
 * (Call-ID length, the linear frame, multi-buffer frames up to US_SIP_MAX),
 * and every message cut at every header boundary, every line end and every
 * byte of the first 80.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include "fixture.h"

static const struct pcase bad_cases[] = {
	{ .name = "not-sip", .kind = K_RAW,
	  .raw = "Hello, this is not SIP at all, just text.\r\n\r\n", CLI_DROP(US_ST_NOT_SIP) },
	{ .name = "empty-payload", .kind = K_RAW, .raw = "", CLI_DROP(US_ST_NOT_SIP) },
	{ .name = "one-line-not-sip", .kind = K_RAW, .raw = "not SIP, not at all\r\n",
	  CLI_DROP(US_ST_NOT_SIP) },
	{ .name = "no-line-end-not-sip", .kind = K_RAW,
	  .raw = "hello there, nothing to see in this datagram", CLI_DROP(US_ST_NOT_SIP) },
	{ .name = "7-byte-payload", .kind = K_RAW, .raw = "INVITE ",
	  CLI_DROP(US_ST_NOT_SIP) },
	{ .name = "http-request", .kind = K_RAW,
	  .raw = "GET / HTTP/1.1\r\nHost: 198.18.100.1\r\n\r\n", CLI_DROP(US_ST_NOT_SIP) },
	{ .name = "status-99", .sip = RESP(99), CLI_DROP(US_ST_BAD_START) },
	{ .name = "status-700", .sip = RESP(700), CLI_DROP(US_ST_BAD_START) },
	{ .name = "status-4-digits", .sip = RESP(2000), CLI_DROP(US_ST_BAD_START) },
	{ .name = "empty-request-uri", .sip = INV(.uri = ""),
	  CLI_DROP(US_ST_BAD_START) },
	{ .name = "no-via", .sip = INV(.omit_via = true), CLI_DROP(US_ST_NO_VIA) },
	{ .name = "no-callid", .sip = INV(.omit_callid = true),
	  CLI_DROP(US_ST_NO_CALLID) },
	{ .name = "v6-no-callid", .v6 = true, .sip = INV(.omit_callid = true),
	  CLI_DROP(US_ST_NO_CALLID) },
	{ .name = "empty-callid",
	  .sip = INV(.omit_callid = true, .extra_headers = "Call-ID: \r\n"),
	  CLI_DROP(US_ST_NO_CALLID) },
	{ .name = "no-cseq", .sip = INV(.omit_cseq = true), CLI_DROP(US_ST_NO_CSEQ) },
	{ .name = "vlan2-no-cseq", .nvlan = 2, .sip = INV(.omit_cseq = true),
	  CLI_DROP(US_ST_NO_CSEQ) },
	{ .name = "cseq-method-mismatch", .sip = INV(.cseq_method = "BYE"),
	  CLI_DROP(US_ST_NO_CSEQ) },
	{ .name = "cseq-not-a-number",
	  .sip = INV(.omit_cseq = true, .extra_headers = "CSeq: one INVITE\r\n"),
	  CLI_DROP(US_ST_NO_CSEQ) },
	{ .name = "cseq-without-method",
	  .sip = INV(.omit_cseq = true, .extra_headers = "CSeq: 1\r\n"),
	  CLI_DROP(US_ST_NO_CSEQ) },
	{ .name = "headers-unterminated", .sip = INV(.no_blank_line = true),
	  CLI_DROP(US_ST_TRUNC_HDRS) },
	{ .name = "content-length-beyond-body",
	  .sip = INV(.content_length = 400, .content_length_set = true),
	  CLI_DROP(US_ST_TRUNC_BODY) },
	{ .name = "content-length-not-a-number",
	  .sip = INV(.omit_content_length = true, .extra_headers = "Content-Length: many\r\n"),
	  CLI_DROP(US_ST_TRUNC_BODY) },
	{ .name = "v4-first-fragment", .sip = INV(), .mf = true,
	  CLI_DROP(US_ST_FRAGMENT) },
	{ .name = "v6-first-fragment", .v6 = true, .sip = INV(), .frag6 = true,
	  .mf = true, CLI_DROP(US_ST_FRAGMENT) },
	{ .name = "v4-udp-length-beyond-ip", .sip = INV(), .bad_udp_len = true,
	  CLI_DROP(US_ST_BAD_L4) },
	{ .name = "v6-udp-length-beyond-ip", .v6 = true, .sip = INV(),
	  .bad_udp_len = true, CLI_DROP(US_ST_BAD_L4) },
	{ .name = "udp-length-beyond-ip-other-port", .sip = INV(), .dport = 5061,
	  .bad_udp_len = true, .ret = XDP_PASS, .out = O_SAME, .st = BAD(US_ST_BAD_L4) },
};

/* bad service traffic: dropped, counted by reason */
TH_TEST(bad)
{
	run_pcases(bad_cases, ARRAY_SIZE(bad_cases));
}

/* ---- limits ------------------------------------------------------------------------ */

/* sizes at the limits */
TH_TEST(limits)
{
	static char big[FRAME_MAX], c[300];
	struct snap sb;
	size_t n, len;

	if (th_subtest("callid-255-bytes-accepted")) {
		memset(c, 'k', 255);
		memcpy(c, "len255-", 7);
		c[255] = 0;
		n = req_text(big, "INVITE", c, "z9hG4bK-255", 1);
		snap_take(&sb);
		send_client(SVC4, big, n, pred_active(SVC4, c), MID_NONE, NULL);
		STATS(&sb, 1, S(US_ST_REQ_FWD, 1));
	}

	if (th_subtest("callid-256-bytes-refused")) {
		memset(c, 'k', 256);
		memcpy(c, "len256-", 7);
		c[256] = 0;
		n = req_text(big, "INVITE", c, "z9hG4bK-256", 1);
		len = frame_client(fin, 0, svc_vip[SVC4], 5060, big, n);
		snap_take(&sb);
		th_run(th.fd_client, TN_CLI, fin, len, &R);
		if (check_run(&R))
			check_ret(R.ret, XDP_DROP);
		STATS(&sb, 1, S(US_ST_NO_CALLID, 1));
	}

	/* the largest frame the test run hands the program whole: 3520 bytes
	 * with 4 KiB pages (PAGE_SIZE - XDP_PACKET_HEADROOM - skb_shared_info) */
	if (th_subtest("largest-linear-frame-forwarded")) {
		struct sip_msg m = { .method = "MESSAGE", .callid = "big@198.18.0.1",
				     .branch = "z9hG4bK-big", .body_len = 3000 };
		size_t lin = (size_t)sysconf(_SC_PAGESIZE) - 256 - 320;

		n = sipf(big, sizeof(big), &m);
		m.body_len += lin - (n + 42);
		n = sipf(big, sizeof(big), &m);
		len = frame_client(fin, 0, svc_vip[SVC4], 5060, big, n);
		EQ("frame length", len, lin);
		snap_take(&sb);
		send_client(SVC4, big, n, pred_active(SVC4, m.callid), MID_NONE, NULL);
		STATS(&sb, 1, S(US_ST_REQ_FWD, 1));
	}

	/* beyond the linear part the frame has fragments (xdp.frags): the
	 * payload is read across them, up to US_SIP_MAX */
	for (int k = 0; k < 2; k++) {
		struct sip_msg m = { .method = "MESSAGE", .callid = k ? "huge@198.18.0.1" :
									 "max@198.18.0.1",
				     .branch = "z9hG4bK-huge", .body_len = 3000 };

		if (th_subtest(k ? "sip-4097-bytes-oversize-dropped" :
			  "sip-4096-bytes-multi-buffer-forwarded")) {
			n = sipf(big, sizeof(big), &m);
			m.body_len += US_SIP_MAX + k - n;
			n = sipf(big, sizeof(big), &m);
			EQ("SIP length", n, US_SIP_MAX + k);
			len = frame_client(fin, 0, svc_vip[SVC4], 5060, big, n);
			snap_take(&sb);
			if (!k) {
				send_client(SVC4, big, n, pred_active(SVC4, m.callid), MID_NONE, NULL);
				STATS(&sb, 1, S(US_ST_REQ_FWD, 1));
			} else {
				th_run(th.fd_client, TN_CLI, fin, len, &R);
				if (check_run(&R))
					check_ret(R.ret, XDP_DROP);
				STATS(&sb, 1, S(US_ST_OVERSIZE, 1));
			}
		}
	}

	if (th_subtest("machine-oversize-passed")) {
		struct sip_msg m = { .status = 200, .callid = "huge-resp@198.18.0.1",
				     .branch = "z9hG4bK-huge", .body_len = 4100 };

		n = sipf(big, sizeof(big), &m);
		len = frame_resp(fin, TN_A1, SVC4, big, n);
		snap_take(&sb);
		th_run(th.fd_machine, TN_MACH, fin, len, &R);
		if (check_run(&R)) {
			check_ret(R.ret, XDP_PASS);
			out_same(&R, fin, len);
		}
		STATS(&sb, 1, S(US_ST_OVERSIZE, 1));
	}

	/* A multi-buffer frame cannot be cloned by a devmap broadcast: older
	 * kernels copy only its linear part (xdpf_clone), fixed ones refuse
	 * (dev_map_enqueue_clone: -EOPNOTSUPP, and the redirect of both copies
	 * fails). Such a message should be forwarded, not mirrored. */
	if (th_subtest("multi-buffer-frame-forwarded-not-broadcast")) {
		struct sip_msg m = { .method = "MESSAGE", .callid = "mb-mirror@198.18.0.1",
				     .branch = "z9hG4bK-mb", .body_len = 3600 };
		__u32 a = pred_active(SVC4, m.callid);

		set_share(SVC4, 10000);
		n = sipf(big, sizeof(big), &m);
		len = frame_client(fin, 0, svc_vip[SVC4], 5060, big, n);
		snap_take(&sb);
		th_run(th.fd_client, TN_CLI, fin, len, &R);
		if (check_run(&R) && check_ret(R.ret, XDP_REDIRECT))
			out_fwd(&R, fin, len, mach_mac(a), testnet.ifs[mach_ifc(a)].mac);
		STATS(&sb, 1, S(US_ST_REQ_FWD, 1) S(US_ST_MIRROR_SKIPPED, 1));
		set_share(SVC4, 0);
	}
}

/* ---- truncation sweeps --------------------------------------------------------------- */

static int cmp_size(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;

	return x < y ? -1 : x > y;
}

/* Cut points: every byte of the first 80, every header boundary given,
 * the end of every line of the SIP text, inside the body. */
static size_t cut_points(size_t *cuts, size_t cap, const size_t *bounds, size_t nb,
			 const char *sip, size_t sip_off, size_t sip_len, size_t body_off,
			 size_t total)
{
	size_t k = 0, u = 0;

	for (size_t i = 0; i < 80 && k < cap; i++)
		cuts[k++] = i;
	for (size_t i = 0; i < nb && k < cap; i++)
		cuts[k++] = bounds[i];
	for (size_t i = 0; i < sip_len && k < cap; i++)
		if (sip[i] == '\n')
			cuts[k++] = sip_off + i + 1;
	if (body_off && k + 3 < cap) {
		cuts[k++] = sip_off + body_off + 1;
		cuts[k++] = sip_off + (body_off + sip_len) / 2;
		cuts[k++] = sip_off + sip_len - 1;
	}
	qsort(cuts, k, sizeof(*cuts), cmp_size);
	for (size_t i = 0; i < k; i++)
		if (cuts[i] < total && (u == 0 || cuts[u - 1] != cuts[i]))
			cuts[u++] = cuts[i];
	return u;
}

static size_t body_of(const char *s, size_t n)
{
	for (size_t i = 0; i + 3 < n; i++)
		if (!memcmp(s + i, "\r\n\r\n", 4))
			return i + 4;
	return 0;
}

/* One sweep: a valid message, cut. frames: cut the frame (IP/UDP lengths
 * then lie); else: cut the SIP text and build a well-formed datagram. */
static void sweep(bool machine, int fam, int nvlan, bool frames)
{
	static __u8 full[FRAME_MAX], f[FRAME_MAX];
	static char text[FRAME_MAX];
	const struct testnet_host *cl = &testnet.hosts[TN_CLIENT];
	int host = machine ? (fam == AF_INET6 ? TN_B1 : TN_A1) : TN_CLIENT;
	__u32 svc = fam == AF_INET6 ? SVC6 : SVC4;
	struct pkt_l2l4 o = {
		.nvlan = nvlan, .vlan = { 100, 200 }, .family = fam, .sport = 5060, .dport = 5060,
	};
	size_t cuts[512], nc, n, len, bounds[8], nb = 0, body;
	int prog = machine ? th.fd_machine : th.fd_client, ifc = machine ? TN_MACH : TN_CLI;
	int refused = 0, passed = 0, dropped = 0;

	if (!th_subtest("%s-%s-vlan%d-%s", machine ? "machine" : "client",
			fam == AF_INET6 ? "v6" : "v4", nvlan, frames ? "frame" : "sip"))
		return;
	if (machine) {
		struct sip_msg m = { .status = 200, .callid = "trunc-resp@198.18.0.1",
				     .branch = "z9hG4bK-trunc", .cseq = 1, .body_len = 250 };

		n = sipf(text, sizeof(text), &m);
		o.saddr = svc_vip[svc];
		o.daddr = fam == AF_INET6 ? cl->v6 : cl->v4;
		memcpy(o.smac, testnet.hosts[host].mac, 6);
		memcpy(o.dmac, testnet.ifs[TN_MACH].mac, 6);
	} else {
		n = sip_typical_invite(text, sizeof(text), "trunc@198.18.0.1", "z9hG4bK-trunc");
		o.saddr = fam == AF_INET6 ? cl->v6 : cl->v4;
		o.daddr = svc_vip[svc];
		memcpy(o.smac, cl->mac, 6);
		memcpy(o.dmac, testnet.ifs[TN_CLI].mac, 6);
	}
	len = pkt_build(full, sizeof(full), &o, text, n);
	body = body_of(text, n);
	if (frames) {
		bounds[nb++] = 12;
		for (int v = 0; v <= nvlan; v++)
			bounds[nb++] = 14 + 4 * v;
		bounds[nb++] = pkt_l3_end(&o);
		bounds[nb++] = pkt_payload_off(&o);
		nc = cut_points(cuts, ARRAY_SIZE(cuts), bounds, nb, text, pkt_payload_off(&o), n,
				body, len);
	} else {
		nc = cut_points(cuts, ARRAY_SIZE(cuts), NULL, 0, text, 0, n, body, n);
	}

	for (size_t i = 0; i < nc; i++) {
		size_t c = cuts[i], flen = c;
		struct snap b, a;
		long long bad, others = 0;

		if (frames) {
			memcpy(f, full, c);
		} else {
			flen = pkt_build(f, sizeof(f), &o, text, c);
		}
		snap_take(&b);
		th_run(prog, ifc, f, flen, &R);
		if (flen < 14) {
			/* the kernel refuses test frames shorter than Ethernet */
			if (R.err != -EINVAL)
				th_eqf(R.err, -EINVAL, "cut[%zu].test_run_error", c);
			refused++;
			continue;
		}
		if (R.err) {
			th_eqf(R.err, 0, "cut[%zu].test_run_error", c);
			continue;
		}
		snap_take(&a);
		bad = th_bad_delta(b.st, a.st);
		for (int s = 0; s < US_ST_MAX; s++)
			if (s != US_ST_RX)
				others += (long long)(a.st[s] - b.st[s]);
		if (R.ret == XDP_ABORTED)
			th_eqf(R.ret, XDP_DROP, "cut[%zu].action(aborted)", c);
		if (R.ret != XDP_PASS && R.ret != XDP_DROP)
			th_eqf(R.ret, machine ? XDP_PASS : XDP_DROP, "cut[%zu].action", c);
		th_eqf((long long)(a.st[US_ST_REQ_MIRRORED] - b.st[US_ST_REQ_MIRRORED]), 0,
		       "cut[%zu].stats[req_mirrored]", c);
		th_eqf((long long)(a.st[US_ST_REQ_FWD] - b.st[US_ST_REQ_FWD]), 0,
		       "cut[%zu].stats[req_fwd]", c);
		th_eqf((long long)(a.st[US_ST_RESP_FWD] - b.st[US_ST_RESP_FWD]), 0,
		       "cut[%zu].stats[resp_fwd]", c);
		th_eqf(others, 1, "cut[%zu].outcomes counted", c);
		if (R.ret == XDP_PASS) {
			passed++;
			if (R.len != flen || memcmp(R.out, f, flen))
				th_eqf(R.len, flen, "cut[%zu].passed frame changed; out.len", c);
			if (bad != 1)
				th_eqf((long long)(a.st[US_ST_PASS] - b.st[US_ST_PASS]), 1,
				       "cut[%zu].stats[pass] (no bad reason)", c);
		} else if (R.ret == XDP_DROP) {
			dropped++;
			th_eqf(bad, 1, "cut[%zu].bad reasons", c);
		}
		if (!frames && !machine)
			th_eqf(R.ret, XDP_DROP, "cut[%zu].action", c);
	}
	if (!frames && nc < 40)
		th_eqf((long long)nc, 40, "cuts (at least)");
	/* and uncut, the same message goes through */
	th_run(prog, ifc, full, len, &R);
	if (!R.err)
		th_eqf(R.ret, XDP_REDIRECT, "uncut.action");
	if (refused && !frames)
		EQ("refused cuts", refused, 0);
	if (th_verbose)
		printf("test:info:%s %zu cuts: %d refused (<14 bytes), %d passed, %d dropped\n",
		       th_cname, nc, refused, passed, dropped);
}

/* every message cut: never mirrored, one outcome counted */
TH_TEST(truncated)
{
	static const int v[][3] = {
		/* machine, family, vlans */
		{ 0, AF_INET, 0 }, { 0, AF_INET, 1 }, { 0, AF_INET, 2 },
		{ 0, AF_INET6, 0 }, { 0, AF_INET6, 2 },
		{ 1, AF_INET, 0 }, { 1, AF_INET6, 1 },
	};

	/* every call would be mirrored: none of the cut messages may be */
	set_share(SVC4, 10000);
	set_share(SVC6, 10000);
	for (size_t i = 0; i < ARRAY_SIZE(v); i++) {
		sweep(v[i][0], v[i][1], v[i][2], true);
		sweep(v[i][0], v[i][1], v[i][2], false);
	}
}
