// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Dialog translation (bpf/dialog.bpf.h): a simulation machine gets a
 * dialog of its own. Each call here is mirrored whole (share 10000); the
 * active machine and the simulation machine answer the INVITE with To-tags
 * of their own; the balancer learns both.
 *
 *   rewrite    the caller's in-dialog request: the client program plans the
 *              copies (us_plans), the egress program (us_egress_t, its body
 *              as a test-runnable program) makes them, in group order: the
 *              active machine's copy is the frame with its MACs and nothing
 *              else changed; the simulation machine's names its own tag
 *              (and, in a PRACK, its own RSeq), whole (lengths, checksums).
 *              One case per form of To header and tag.
 *   held       a request naming a dialog the simulation machine has not
 *              confirmed yet is not copied; its ACK (or BYE) is sent when
 *              its 2xx comes, built from that 2xx (XDP_TX back to it).
 *   answered   a request the simulation machine starts is answered on the
 *              caller's behalf (XDP_TX): with what the caller answered the
 *              active machine's request of that kind, else 200 (202 for
 *              REFER); a 2xx to an INVITE returns the offer; its ACK is
 *              absorbed; both machines' own requests are counted and
 *              paired.
 *   only-active the caller's responses go to the active machine only.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "fixture.h"

#define VIP4 "198.18.100.1"

/* ---- messages --------------------------------------------------------------- */

/* An in-dialog request of the caller: to_line is its To header line (no
 * line end), extra more header lines (each ending in CRLF). */
static size_t dreq(char *buf, size_t cap, const char *method, const char *callid,
		   const char *branch, unsigned cseq, const char *to_line, const char *extra)
{
	int n = snprintf(buf, cap,
			 "%s sip:service@" VIP4 ":5060 SIP/2.0\r\n"
			 "Via: SIP/2.0/UDP 198.18.0.1:5060;branch=%s;rport\r\n"
			 "Max-Forwards: 70\r\n"
			 "From: \"Alice\" <sip:alice@198.18.0.1>;tag=1928301774\r\n"
			 "%s\r\n"
			 "Call-ID: %s\r\n"
			 "CSeq: %u %s\r\n"
			 "Contact: <sip:alice@198.18.0.1:5060>\r\n"
			 "%s"
			 "Content-Length: 0\r\n\r\n",
			 method, branch, to_line, callid, cseq, method, extra ? extra : "");

	return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

/* A machine's response to the caller's INVITE (or other cseq_method), with
 * its To-tag (NULL: none), its Contact, extra header lines and a body. */
static size_t dresp(char *buf, size_t cap, int code, const char *callid, const char *branch,
		    unsigned cseq, const char *cseq_method, const char *tag, const char *extra,
		    const char *body)
{
	char tt[128] = "";
	int n;

	if (tag)
		snprintf(tt, sizeof(tt), ";tag=%s", tag);
	n = snprintf(buf, cap,
		     "SIP/2.0 %d %s\r\n"
		     "Via: SIP/2.0/UDP 198.18.0.1:5060;branch=%s;rport=5060;received=198.18.0.1\r\n"
		     "From: \"Alice\" <sip:alice@198.18.0.1>;tag=1928301774\r\n"
		     "To: \"Service\" <sip:service@" VIP4 ">%s\r\n"
		     "Call-ID: %s\r\n"
		     "CSeq: %u %s\r\n"
		     "Contact: <sip:service@" VIP4 ":5060;transport=udp>\r\n"
		     "%s"
		     "%s"
		     "Content-Length: %zu\r\n\r\n%s",
		     code, code == 200 ? "OK" : code == 183 ? "Session Progress" : "Whatever", branch,
		     tt, callid, cseq, cseq_method, extra ? extra : "",
		     body ? "Content-Type: application/sdp\r\n" : "", body ? strlen(body) : (size_t)0,
		     body ? body : "");
	return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

/* A request a machine starts in the call (to the caller): its To names the
 * caller's tag. */
static size_t mreq(char *buf, size_t cap, const char *method, const char *callid,
		   const char *branch, unsigned cseq, const char *machine_tag, const char *to_tag,
		   const char *body)
{
	char tt[96] = "";
	int n;

	if (to_tag)
		snprintf(tt, sizeof(tt), ";tag=%s", to_tag);
	n = snprintf(buf, cap,
		     "%s sip:alice@198.18.0.1:5060 SIP/2.0\r\n"
		     "Via: SIP/2.0/UDP " VIP4 ":5060;branch=%s\r\n"
		     "Max-Forwards: 70\r\n"
		     "From: \"Service\" <sip:service@" VIP4 ">;tag=%s\r\n"
		     "To: \"Alice\" <sip:alice@198.18.0.1>%s\r\n"
		     "Call-ID: %s\r\n"
		     "CSeq: %u %s\r\n"
		     "%s"
		     "Content-Length: %zu\r\n\r\n%s",
		     method, branch, machine_tag, tt, callid, cseq, method,
		     body ? "Content-Type: application/sdp\r\n" : "", body ? strlen(body) : (size_t)0,
		     body ? body : "");
	return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

static const char sdp[] =
	"v=0\r\no=service 1 2 IN IP4 198.18.100.1\r\ns=-\r\nc=IN IP4 198.18.100.1\r\n"
	"t=0 0\r\nm=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";

/* ---- a mirrored call with both dialogs ------------------------------------------ */

struct dcall {
	__u32 svc, a, s;
	char c[96];
	char ta[96], ts[96];        /* the active machine's and the simulation's tags */
};

static char mb[FRAME_MAX];

/* Call c of svc, its INVITE mirrored; answered by the active machine with
 * tag ta and code 200 (183 with RSeq first when rseq_a); by the simulation
 * machine with ts (not at all when ts is NULL). */
static bool dcall_open(struct dcall *d, __u32 svc, const char *c, const char *ta, const char *ts,
		       unsigned rseq_a, unsigned rseq_s)
{
	size_t n;
	char x[96];

	memset(d, 0, sizeof(*d));
	d->svc = svc;
	snprintf(d->c, sizeof(d->c), "%s", c);
	snprintf(d->ta, sizeof(d->ta), "%s", ta);
	snprintf(d->ts, sizeof(d->ts), "%s", ts ? ts : "");
	set_share(svc, 10000);
	d->a = pred_active(svc, c);
	d->s = pred_sim(svc, c);
	n = req_text(sipbuf, "INVITE", c, "z9hG4bK-dlg-inv", 1);
	send_client(svc, sipbuf, n, d->a, d->s, NULL);
	if (rseq_a) {
		snprintf(x, sizeof(x), "Require: 100rel\r\nRSeq: %u\r\n", rseq_a);
		n = dresp(mb, sizeof(mb), 183, c, "z9hG4bK-dlg-inv", 1, "INVITE", ta, x, NULL);
		send_machine(d->a, mb, n, XDP_REDIRECT);
	}
	if (ts && rseq_s) {
		snprintf(x, sizeof(x), "Require: 100rel\r\nRSeq: %u\r\n", rseq_s);
		n = dresp(mb, sizeof(mb), 183, c, "z9hG4bK-dlg-inv", 1, "INVITE", ts, x, NULL);
		send_machine(d->s, mb, n, XDP_DROP);
	}
	n = dresp(mb, sizeof(mb), 200, c, "z9hG4bK-dlg-inv", 1, "INVITE", ta, NULL, sdp);
	send_machine(d->a, mb, n, XDP_REDIRECT);
	if (ts) {
		n = dresp(mb, sizeof(mb), 200, c, "z9hG4bK-dlg-inv", 1, "INVITE", ts, NULL, sdp);
		send_machine(d->s, mb, n, XDP_DROP);
	}
	return th_cfails == 0;
}

static void dcall_close(const struct dcall *d)
{
	set_share(d->svc, 0);
}

/* ---- the copies, through the egress program ---------------------------------------- */

static struct th_res E;

/*
 * The caller's request (text, n bytes) in call d: mirrored, the simulation
 * machine's copy an edit; the active machine's copy the frame with its MACs
 * and nothing else; the simulation machine's a whole frame carrying exactly
 * want (wn bytes).
 */
static void check_rewrite(const struct dcall *d, const char *text, size_t n, const char *want,
			  size_t wn)
{
	size_t len = frame_client(fin, 0, svc_vip[d->svc], 5060, text, n);
	struct us_meta md;
	struct us_plan p;
	struct pkt_view pv, ov;
	char err[160];

	th_run(th.fd_client, TN_CLI, fin, len, &R);
	if (!check_run(&R) || !check_ret(R.ret, XDP_REDIRECT))
		return;
	if (!EQ("out.meta_len", R.meta, sizeof(md)))
		return;
	memcpy(&md, R.out, sizeof(md));
	if (plan_get(md.seq, &p)) {
		th_fail("plans[seq]", "missing", "the copies' plan");
		return;
	}
	if (!EQ("plan.sim.mode (an edit)", p.c[1].mode, US_CP_EDIT))
		return;
	EQ("plan.sim.len", p.c[1].len, wn);
	if (pkt_parse(fin, len, &ov, err, sizeof(err)))
		th_fail("the frame sent", err, "whole");
	for (int i = 0; i < 2; i++) {
		th_run_meta(th.fd_egress_t, (int)p.c[i].ifindex, R.out, R.len, sizeof(md), &E);
		if (!check_run(&E) || !check_ret(E.ret, XDP_PASS))
			continue;
		if (!EQ("copy.meta_len", E.meta, sizeof(md)))
			continue;
		check_mac(i ? "sim copy: dmac" : "active copy: dmac", E.out + E.meta, p.c[i].dmac);
		if (i == 0) {
			if (!EQ("active copy: length", E.len - E.meta, len))
				continue;
			if (memcmp(E.out + E.meta + 12, fin + 12, len - 12))
				th_fail("active copy", "changed beyond the MACs", "untouched");
			continue;
		}
		if (pkt_parse(E.out + E.meta, E.len - E.meta, &pv, err, sizeof(err))) {
			th_fail("sim copy: frame", err, "whole");
			continue;
		}
		EQs("sim copy: saddr", pv.saddr, ov.saddr);
		EQs("sim copy: daddr", pv.daddr, ov.daddr);
		if (!EQ("sim copy: payload length", pv.payload_len, wn))
			continue;
		if (memcmp(E.out + E.meta + pv.payload_off, want, wn)) {
			static char got[FRAME_MAX + 1];

			memcpy(got, E.out + E.meta + pv.payload_off, wn);
			got[wn] = 0;
			th_fail("sim copy: payload", got, want);
		}
	}
}

/* One form of To header: the line with %s for the tag. */
struct tcase {
	const char *name;
	const char *to_fmt;     /* "To: <sip:...>;tag=%s" */
	const char *ta, *ts;    /* tags: the active's, the simulation's */
	const char *method;
};

static const struct tcase tcases[] = {
	{ "tag-longer", "To: <sip:service@" VIP4 ">;tag=%s", "a1", "sim-tag-0123456789-much-longer",
	  "BYE" },
	{ "tag-shorter", "To: <sip:service@" VIP4 ">;tag=%s", "active-tag-0123456789-longer", "s",
	  "BYE" },
	{ "tag-equal-length", "To: <sip:service@" VIP4 ">;tag=%s", "aaaa1111", "ssss2222", "ACK" },
	{ "tag-64-bytes", "To: <sip:service@" VIP4 ">;tag=%s", "a64",
	  "0123456789012345678901234567890123456789012345678901234567890123", "BYE" },
	{ "compact-t", "t: <sip:service@" VIP4 ">;tag=%s", "acmp", "simulation-compact", "BYE" },
	{ "lower-case-to", "to: <sip:service@" VIP4 ">;tag=%s", "alow", "simulation-lower", "INFO" },
	{ "spaces-before-colon", "TO  :  <sip:service@" VIP4 ">;tag=%s", "asp", "sim-spaces",
	  "UPDATE" },
	{ "tag-first-of-params", "To: <sip:service@" VIP4 ">;tag=%s;x-param=1;other", "afirst",
	  "sim-first", "BYE" },
	{ "tag-last-of-params", "To: <sip:service@" VIP4 ">;x-param=1;other;tag=%s", "alast",
	  "sim-last", "BYE" },
	{ "tag-upper-case-name", "To: <sip:service@" VIP4 ">;TAG=%s", "aup", "sim-upper", "BYE" },
	{ "tag-spaces-around-equals", "To: <sip:service@" VIP4 ">; tag = %s", "aspc", "sim-sp",
	  "BYE" },
	{ "quoted-display-name", "To: \"Svc ;tag=fake <x>\" <sip:service@" VIP4 ";tag=inuri>;tag=%s",
	  "aq", "sim-quoted", "BYE" },
	{ "name-addr-without-name", "To: sip:service@" VIP4 ";tag=%s", "aspec", "sim-spec",
	  "NOTIFY" },
	{ "in-dialog-options", "To: <sip:service@" VIP4 ">;tag=%s", "aopt", "sim-options",
	  "OPTIONS" },
	{ "in-dialog-refer", "To: <sip:service@" VIP4 ">;tag=%s", "aref", "sim-refer", "REFER" },
	{ "in-dialog-message", "To: <sip:service@" VIP4 ">;tag=%s", "amsg", "sim-message",
	  "MESSAGE" },
	{ "re-invite", "To: <sip:service@" VIP4 ">;tag=%s", "areinv", "sim-reinvite", "INVITE" },
};

static void run_tcase(const struct tcase *t, int i)
{
	char c[96], to_a[256], to_s[256], want[2048];
	int ack = !strcmp(t->method, "ACK");
	struct dcall d;
	size_t n, wn;
	struct snap sb;
	struct msnap mb0;

	snprintf(c, sizeof(c), "dlg-rw-%d@198.18.0.1", i);
	if (!dcall_open(&d, SVC4, c, t->ta, t->ts, 0, 0))
		return;
	snprintf(to_a, sizeof(to_a), t->to_fmt, t->ta);
	snprintf(to_s, sizeof(to_s), t->to_fmt, t->ts);
	/* an ACK names the INVITE's CSeq; the others come after it */
	n = dreq(sipbuf, sizeof(sipbuf), t->method, c, "z9hG4bK-dlg-rw", ack ? 1 : 2, to_a, NULL);
	wn = dreq(want, sizeof(want), t->method, c, "z9hG4bK-dlg-rw", ack ? 1 : 2, to_s, NULL);
	snap_take(&sb);
	msnap_take(&mb0);
	check_rewrite(&d, sipbuf, n, want, wn);
	/* the client run counted the rewrite, and only it (the egress runs add
	 * nothing on success) */
	if (!strcmp(t->method, "ACK"))
		STATS(&sb, 1, S(US_ST_REQ_FWD, 1) S(US_ST_REQ_MIRRORED, 1) S(US_ST_DLG_REWRITTEN, 1));
	else
		STATS(&sb, 1, S(US_ST_REQ_FWD, 1) S(US_ST_REQ_MIRRORED, 1) S(US_ST_DLG_REWRITTEN, 1));
	dcall_close(&d);
}

/* ---- held, then sent on the caller's behalf ------------------------------------------- */

/* The caller's request goes to the active machine only (the simulation
 * machine's copy not sent); counted as stat. */
static void send_not_copied(const struct dcall *d, const char *text, size_t n, int stat)
{
	struct snap sb;

	snap_take(&sb);
	EQ("machine", send_client(d->svc, text, n, d->a, MID_NONE, NULL), d->a);
	STATS(&sb, 1, S(US_ST_REQ_FWD, 1) S(stat, 1));
}

TH_TEST(dialog)
{
	char to[256], want[512];
	struct dcall d;
	struct snap sb;
	struct msnap msb;
	size_t n;

	for (size_t i = 0; i < ARRAY_SIZE(tcases); i++)
		if (th_subtest("rewrite/%s", tcases[i].name))
			run_tcase(&tcases[i], (int)i);

	if (th_subtest("rewrite/ipv6-separate-interface")) {
		const char *c = "dlg-v6@198.18.0.1";
		char want6[2048];
		size_t wn;

		if (dcall_open(&d, SVC6, c, "a6", "sim-v6-longer-tag", 0, 0)) {
			n = dreq(sipbuf, sizeof(sipbuf), "BYE", c, "z9hG4bK-dlg-v6", 2,
				 "To: <sip:service@" VIP4 ">;tag=a6", NULL);
			wn = dreq(want6, sizeof(want6), "BYE", c, "z9hG4bK-dlg-v6", 2,
				  "To: <sip:service@" VIP4 ">;tag=sim-v6-longer-tag", NULL);
			check_rewrite(&d, sipbuf, n, want6, wn);
		}
		dcall_close(&d);
	}

	if (th_subtest("rewrite/prack-rack-and-tag")) {
		const char *c = "dlg-prack@198.18.0.1";
		char w2[2048];
		size_t wn;

		/* the active machine's reliable 183 is RSeq 4711, the
		 * simulation's 97: the copy's RAck names 97 */
		if (dcall_open(&d, SVC4, c, "aprack", "sim-prack-tag", 4711, 97)) {
			n = dreq(sipbuf, sizeof(sipbuf), "PRACK", c, "z9hG4bK-dlg-prack", 2,
				 "To: <sip:service@" VIP4 ">;tag=aprack", "RAck: 4711 1 INVITE\r\n");
			wn = dreq(w2, sizeof(w2), "PRACK", c, "z9hG4bK-dlg-prack", 2,
				  "To: <sip:service@" VIP4 ">;tag=sim-prack-tag", "RAck: 97 1 INVITE\r\n");
			check_rewrite(&d, sipbuf, n, w2, wn);
			/* the next reliable provisional: 4712 -> 98 */
			n = dreq(sipbuf, sizeof(sipbuf), "PRACK", c, "z9hG4bK-dlg-prack2", 3,
				 "To: <sip:service@" VIP4 ">;tag=aprack", "RAck: 4712 1 INVITE\r\n");
			wn = dreq(w2, sizeof(w2), "PRACK", c, "z9hG4bK-dlg-prack2", 3,
				  "To: <sip:service@" VIP4 ">;tag=sim-prack-tag", "RAck: 98 1 INVITE\r\n");
			check_rewrite(&d, sipbuf, n, w2, wn);
		}
		dcall_close(&d);
	}

	if (th_subtest("rewrite/no-tag-no-dialog-copied-as-is")) {
		/* a request naming no dialog (CANCEL, an INVITE's retransmission)
		 * goes to both as it is */
		const char *c = "dlg-notag@198.18.0.1";

		if (dcall_open(&d, SVC4, c, "anotag", "sim-notag", 0, 0)) {
			n = dreq(sipbuf, sizeof(sipbuf), "OPTIONS", c, "z9hG4bK-dlg-notag", 2,
				 "To: <sip:service@" VIP4 ">", NULL);
			snap_take(&sb);
			send_client(SVC4, sipbuf, n, d.a, d.s, NULL);
			STATS(&sb, 1, S(US_ST_REQ_FWD, 1) S(US_ST_REQ_MIRRORED, 1));
		}
		dcall_close(&d);
	}

	if (th_subtest("rewrite/multi-buffer-frame-not-copied-counted")) {
		/* the devmap clones one buffer: a request longer than the linear
		 * part (3520 bytes here) goes to the active machine alone */
		const char *c = "dlg-mb@198.18.0.1";
		static char big[4096], extra[3600];
		struct us_txn t;

		if (dcall_open(&d, SVC4, c, "amb", "sim-mb", 0, 0)) {
			memset(extra, 0, sizeof(extra));
			strcpy(extra, "X-Padding: ");
			memset(extra + 11, 'p', 3500);
			strcpy(extra + 3511, "\r\n");
			n = dreq(big, sizeof(big), "INFO", c, "z9hG4bK-dlg-mb", 2,
				 "To: <sip:service@" VIP4 ">;tag=amb", extra);
			send_not_copied(&d, big, n, US_ST_MIRROR_SKIPPED);
			if (!txn_get(SVC4, c, "z9hG4bK-dlg-mb", 2, US_M_INFO, &t))
				EQ("txn: not mirrored", t.mid[1], MID_NONE);
		}
		dcall_close(&d);
	}

	if (th_subtest("rewrite/tag-the-active-never-gave-not-copied")) {
		const char *c = "dlg-othertag@198.18.0.1";

		if (dcall_open(&d, SVC4, c, "aknown", "sim-known", 0, 0)) {
			n = dreq(sipbuf, sizeof(sipbuf), "BYE", c, "z9hG4bK-dlg-ot", 2,
				 "To: <sip:service@" VIP4 ">;tag=nobody-gave-this", NULL);
			send_not_copied(&d, sipbuf, n, US_ST_DLG_NOT_SENT);
		}
		dcall_close(&d);
	}

	if (th_subtest("held/ack-before-the-sim-2xx-then-built-from-it")) {
		const char *c = "dlg-held-ack@198.18.0.1";
		struct us_txn t;

		if (dcall_open(&d, SVC4, c, "aheld", NULL, 0, 0)) {
			n = dreq(sipbuf, sizeof(sipbuf), "ACK", c, "z9hG4bK-dlg-held-ack", 1,
				 "To: <sip:service@" VIP4 ">;tag=aheld", NULL);
			send_not_copied(&d, sipbuf, n, US_ST_DLG_HELD);
			/* the simulation's 2xx now: answered with the ACK */
			n = dresp(mb, sizeof(mb), 200, c, "z9hG4bK-dlg-inv", 1, "INVITE", "sim-late",
				  NULL, sdp);
			snap_take(&sb);
			msnap_take(&msb);
			if (!send_machine_tx(d.s, mb, n)) {
				EQ("ACK request line (the 2xx's Contact)",
				   !strncmp(txbuf, "ACK sip:service@" VIP4 ":5060;transport=udp SIP/2.0\r\n",
					    56), 1);
				EQ("ACK: a new branch (last byte changed)",
				   !!strstr(txbuf, "branch=z9hG4bK-dlg-inu;rport=5060"), 1);
				EQ("ACK: the simulation machine's tag",
				   !!strstr(txbuf, "To: \"Service\" <sip:service@" VIP4 ">;tag=sim-late\r\n"),
				   1);
				EQ("ACK: CSeq", !!strstr(txbuf, "\r\nCSeq: 1 ACK\r\n"), 1);
				EQ("ACK: Content-Length 0 at the end",
				   !!strstr(txbuf, "Content-Length: 0\r\n\r\n"), 1);
				EQ("ACK: no body", strlen(strstr(txbuf, "\r\n\r\n")), 4);
			}
			STATS(&sb, 1, S(US_ST_DLG_ACK_SENT, 1));
			MST(&msb, d.s, M(resp_class[2], 1) M(final_class[2], 1)
				       M(final_code[US_C_200], 1) M(lat_count, 1)
				       M(pair.out[US_O_2XX][US_O_2XX], 1) M(pair.code_same, 1)
				       M(pair.calls, 1) M(pair_lat_active, 1) M(pair_lat_shadow, 1)
				       M(dlg_acks, 1));
			mst_rest(&msb);
			if (!txn_get(SVC4, c, "z9hG4bK-dlg-inv", 1, US_M_INVITE, &t))
				EQ("txn: paired", !!(t.done & US_TXN_PAIRED(1)), 1);
			/* its 2xx again (our ACK lost): ACKed again */
			if (!send_machine_tx(d.s, mb, n))
				EQ("ACK again", !strncmp(txbuf, "ACK ", 4), 1);
		}
		dcall_close(&d);
	}

	if (th_subtest("held/ipv6-ack-built-whole")) {
		const char *c = "dlg-v6-held@198.18.0.1";

		if (dcall_open(&d, SVC6, c, "a6h", NULL, 0, 0)) {
			n = dreq(sipbuf, sizeof(sipbuf), "ACK", c, "z9hG4bK-dlg-v6h", 1,
				 "To: <sip:service@" VIP4 ">;tag=a6h", NULL);
			send_not_copied(&d, sipbuf, n, US_ST_DLG_HELD);
			n = dresp(mb, sizeof(mb), 200, c, "z9hG4bK-dlg-inv", 1, "INVITE",
				  "sim-v6-held", NULL, sdp);
			if (!send_machine_tx(d.s, mb, n))
				EQ("ACK over IPv6", !strncmp(txbuf, "ACK ", 4), 1);
		}
		dcall_close(&d);
	}

	if (th_subtest("held/re-invite-ack-before-the-sim-2xx")) {
		const char *c = "dlg-reinv-ack@198.18.0.1";
		size_t wn;

		if (dcall_open(&d, SVC4, c, "ari", "sim-reinvite-ack", 0, 0)) {
			n = dreq(sipbuf, sizeof(sipbuf), "INVITE", c, "z9hG4bK-dlg-ri", 2,
				 "To: <sip:service@" VIP4 ">;tag=ari", NULL);
			wn = dreq(want, sizeof(want), "INVITE", c, "z9hG4bK-dlg-ri", 2,
				  "To: <sip:service@" VIP4 ">;tag=sim-reinvite-ack", NULL);
			check_rewrite(&d, sipbuf, n, want, wn);
			n = dresp(mb, sizeof(mb), 200, c, "z9hG4bK-dlg-ri", 2, "INVITE", "ari", NULL,
				  sdp);
			send_machine(d.a, mb, n, XDP_REDIRECT);
			/* the caller ACKs the active machine's 2xx before the
			 * simulation machine answered the re-INVITE */
			n = dreq(sipbuf, sizeof(sipbuf), "ACK", c, "z9hG4bK-dlg-ri-ack", 2,
				 "To: <sip:service@" VIP4 ">;tag=ari", NULL);
			send_not_copied(&d, sipbuf, n, US_ST_DLG_HELD);
			n = dresp(mb, sizeof(mb), 200, c, "z9hG4bK-dlg-ri", 2, "INVITE",
				  "sim-reinvite-ack", NULL, sdp);
			if (!send_machine_tx(d.s, mb, n)) {
				EQ("ACK: the re-INVITE's CSeq", !!strstr(txbuf, "\r\nCSeq: 2 ACK\r\n"), 1);
				EQ("ACK: its tag", !!strstr(txbuf, ";tag=sim-reinvite-ack\r\n"), 1);
			}
		}
		dcall_close(&d);
	}

	if (th_subtest("held/prack-before-the-sim-reliable-1xx-then-built")) {
		const char *c = "dlg-prack-held@198.18.0.1";

		set_share(SVC4, 10000);
		d.svc = SVC4;
		d.a = pred_active(SVC4, c);
		d.s = pred_sim(SVC4, c);
		n = req_text(sipbuf, "INVITE", c, "z9hG4bK-dlg-inv", 1);
		send_client(SVC4, sipbuf, n, d.a, d.s, NULL);
		n = dresp(mb, sizeof(mb), 183, c, "z9hG4bK-dlg-inv", 1, "INVITE", "aph",
			  "Require: 100rel\r\nRSeq: 4711\r\n", NULL);
		send_machine(d.a, mb, n, XDP_REDIRECT);
		n = dreq(sipbuf, sizeof(sipbuf), "PRACK", c, "z9hG4bK-dlg-ph", 5,
			 "To: <sip:service@" VIP4 ">;tag=aph", "RAck: 4711 1 INVITE\r\n");
		send_not_copied(&d, sipbuf, n, US_ST_DLG_HELD);
		/* its reliable 183 now: PRACKed on the caller's behalf */
		n = dresp(mb, sizeof(mb), 183, c, "z9hG4bK-dlg-inv", 1, "INVITE", "sim-ph",
			  "Require: 100rel\r\nRSeq: 97\r\n", NULL);
		snap_take(&sb);
		if (!send_machine_tx(d.s, mb, n)) {
			EQ("PRACK request line (its Contact)",
			   !strncmp(txbuf, "PRACK sip:service@" VIP4 ":5060;transport=udp SIP/2.0\r\n",
				    59), 1);
			EQ("PRACK: the caller's CSeq", !!strstr(txbuf, "\r\nCSeq: 5 PRACK\r\n"), 1);
			if (!strstr(txbuf, "\r\nRAck: 97 1 INVITE\r\n"))
				th_fail("PRACK: its RSeq and the INVITE's CSeq", txbuf,
					"RAck: 97 1 INVITE");
			EQ("PRACK: its tag", !!strstr(txbuf, ";tag=sim-ph\r\n"), 1);
			EQ("PRACK: a new branch", !!strstr(txbuf, "branch=z9hG4bK-dlg-inu;"), 1);
			EQ("PRACK: ends the headers", !!strstr(txbuf, "Content-Length: 0\r\n\r\n"), 1);
		}
		STATS(&sb, 1, S(US_ST_DLG_ACK_SENT, 1));
		/* its 1xx again: no second PRACK of ours */
		snap_take(&sb);
		send_machine(d.s, mb, n, XDP_DROP);
		STATS(&sb, 1, S(US_ST_RESP_SIM_DROP, 1));
		set_share(SVC4, 0);
	}

	if (th_subtest("held/ack-resent-when-the-2xx-comes-again")) {
		const char *c = "dlg-reack@198.18.0.1";

		if (dcall_open(&d, SVC4, c, "areack", "sim-reack", 0, 0)) {
			size_t wn;

			n = dreq(sipbuf, sizeof(sipbuf), "ACK", c, "z9hG4bK-dlg-reack", 1,
				 "To: <sip:service@" VIP4 ">;tag=areack", NULL);
			wn = dreq(want, sizeof(want), "ACK", c, "z9hG4bK-dlg-reack", 1,
				  "To: <sip:service@" VIP4 ">;tag=sim-reack", NULL);
			check_rewrite(&d, sipbuf, n, want, wn);
			n = dresp(mb, sizeof(mb), 200, c, "z9hG4bK-dlg-inv", 1, "INVITE", "sim-reack",
				  NULL, sdp);
			if (!send_machine_tx(d.s, mb, n))
				EQ("ACK to the retransmitted 2xx", !strncmp(txbuf, "ACK ", 4), 1);
		}
		dcall_close(&d);
	}

	if (th_subtest("held/bye-before-the-sim-2xx-then-bye-sent")) {
		const char *c = "dlg-held-bye@198.18.0.1";

		if (dcall_open(&d, SVC4, c, "ahb", NULL, 0, 0)) {
			n = dreq(sipbuf, sizeof(sipbuf), "ACK", c, "z9hG4bK-dlg-hb-ack", 1,
				 "To: <sip:service@" VIP4 ">;tag=ahb", NULL);
			send_not_copied(&d, sipbuf, n, US_ST_DLG_HELD);
			n = dreq(sipbuf, sizeof(sipbuf), "BYE", c, "z9hG4bK-dlg-hb-bye", 7,
				 "To: <sip:service@" VIP4 ">;tag=ahb", NULL);
			send_not_copied(&d, sipbuf, n, US_ST_DLG_HELD);
			n = dresp(mb, sizeof(mb), 200, c, "z9hG4bK-dlg-inv", 1, "INVITE", "sim-hb",
				  NULL, sdp);
			if (!send_machine_tx(d.s, mb, n)) {
				EQ("BYE request line", !strncmp(txbuf, "BYE sip:service@" VIP4, 27), 1);
				EQ("BYE: the caller's CSeq", !!strstr(txbuf, "\r\nCSeq: 7 BYE\r\n"), 1);
				EQ("BYE: the simulation machine's tag", !!strstr(txbuf, ";tag=sim-hb\r\n"), 1);
			}
			/* its dialog ended: the caller's next request is not copied */
			n = dreq(sipbuf, sizeof(sipbuf), "INFO", c, "z9hG4bK-dlg-hb-info", 8,
				 "To: <sip:service@" VIP4 ">;tag=ahb", NULL);
			send_not_copied(&d, sipbuf, n, US_ST_DLG_NOT_SENT);
		}
		dcall_close(&d);
	}

	if (th_subtest("held/non-2xx-acked-by-the-balancer")) {
		const char *c = "dlg-486@198.18.0.1";
		struct snap sb2;

		if (dcall_open(&d, SVC4, c, "a486", NULL, 0, 0)) {
			n = dresp(mb, sizeof(mb), 486, c, "z9hG4bK-dlg-inv", 1, "INVITE", "sim-busy",
				  NULL, NULL);
			if (!send_machine_tx(d.s, mb, n)) {
				/* RFC 3261 17.1.1.3: to the INVITE's Request-URI (the
				 * To URI here), the INVITE's branch */
				EQ("ACK request line (the To URI)",
				   !strncmp(txbuf, "ACK sip:service@" VIP4 " SIP/2.0\r\n", 36), 1);
				EQ("ACK: the INVITE's branch",
				   !!strstr(txbuf, "branch=z9hG4bK-dlg-inv;rport=5060"), 1);
				EQ("ACK: CSeq", !!strstr(txbuf, "\r\nCSeq: 1 ACK\r\n"), 1);
			}
			/* the caller's ACK (of the active machine's 2xx) and BYE are
			 * not copied to a machine that refused the call */
			snap_take(&sb2);
			n = dreq(sipbuf, sizeof(sipbuf), "ACK", c, "z9hG4bK-dlg-486-ack", 1,
				 "To: <sip:service@" VIP4 ">;tag=a486", NULL);
			send_not_copied(&d, sipbuf, n, US_ST_DLG_NOT_SENT);
			n = dreq(sipbuf, sizeof(sipbuf), "BYE", c, "z9hG4bK-dlg-486-bye", 2,
				 "To: <sip:service@" VIP4 ">;tag=a486", NULL);
			send_not_copied(&d, sipbuf, n, US_ST_DLG_NOT_SENT);
		}
		dcall_close(&d);
	}

	if (th_subtest("held/caller-ack-of-a-non-2xx-not-copied")) {
		/* both refuse: the caller's ACK of the active machine's 486
		 * (the INVITE's branch) is the balancer's business for the copy */
		const char *c = "dlg-ack486@198.18.0.1";

		set_share(SVC4, 10000);
		d.svc = SVC4;
		d.a = pred_active(SVC4, c);
		d.s = pred_sim(SVC4, c);
		n = req_text(sipbuf, "INVITE", c, "z9hG4bK-dlg-inv", 1);
		send_client(SVC4, sipbuf, n, d.a, d.s, NULL);
		n = dresp(mb, sizeof(mb), 486, c, "z9hG4bK-dlg-inv", 1, "INVITE", "a-ack486", NULL,
			  NULL);
		send_machine(d.a, mb, n, XDP_REDIRECT);
		n = dresp(mb, sizeof(mb), 486, c, "z9hG4bK-dlg-inv", 1, "INVITE", "s-ack486", NULL,
			  NULL);
		send_machine_tx(d.s, mb, n);
		n = dreq(sipbuf, sizeof(sipbuf), "ACK", c, "z9hG4bK-dlg-inv", 1,
			 "To: <sip:service@" VIP4 ">;tag=a-ack486", NULL);
		send_not_copied(&d, sipbuf, n, US_ST_DLG_NOT_SENT);
		set_share(SVC4, 0);
	}

	if (th_subtest("answered/sim-bye-with-the-callers-answer-and-paired")) {
		const char *c = "dlg-own-bye@198.18.0.1";

		if (dcall_open(&d, SVC4, c, "aown", "sim-own", 0, 0)) {
			/* the active machine hangs up; the caller answers it 200 */
			n = mreq(mb, sizeof(mb), "BYE", c, "z9hG4bK-act-bye", 5, "aown", "1928301774",
				 NULL);
			msnap_take(&msb);
			send_machine(d.a, mb, n, XDP_REDIRECT);
			MST(&msb, d.s, M(own_active[US_OWN_BYE], 1));
			snprintf(to, sizeof(to), "To: <sip:service@" VIP4 ">;tag=aown");
			n = dresp(sipbuf, sizeof(sipbuf), 200, c, "z9hG4bK-act-bye", 5, "BYE", "x",
				  NULL, NULL);
			snap_take(&sb);
			EQ("the caller's answer goes to the active machine only",
			   send_client(SVC4, sipbuf, n, d.a, MID_NONE, NULL), d.a);
			STATS(&sb, 1, S(US_ST_REQ_FWD, 1) S(US_ST_CLIENT_RESP, 1));
			/* the simulation machine hangs up too: answered 200, paired */
			n = mreq(mb, sizeof(mb), "BYE", c, "z9hG4bK-sim-bye", 9, "sim-own", "1928301774",
				 NULL);
			snap_take(&sb);
			msnap_take(&msb);
			if (!send_machine_tx(d.s, mb, n)) {
				EQ("answer: status line", !strncmp(txbuf, "SIP/2.0 200 OK\r\n", 16), 1);
				EQ("answer: its Via", !!strstr(txbuf, "\r\nVia: SIP/2.0/UDP " VIP4
								  ":5060;branch=z9hG4bK-sim-bye\r\n"), 1);
				EQ("answer: its CSeq", !!strstr(txbuf, "\r\nCSeq: 9 BYE\r\n"), 1);
				EQ("answer: To with the caller's tag",
				   !!strstr(txbuf, "To: \"Alice\" <sip:alice@198.18.0.1>;tag=1928301774\r\n"),
				   1);
				EQ("answer: no body", !!strstr(txbuf, "Content-Length: 0\r\n\r\n"), 1);
			}
			STATS(&sb, 1, S(US_ST_DLG_ANSWERED, 1));
			MST(&msb, d.s, M(own[US_OWN_BYE], 1) M(own_both[US_OWN_BYE], 1)
				       M(dlg_answered, 1));
			mst_rest(&msb);
			/* its BYE again: answered again, counted once */
			msnap_take(&msb);
			send_machine_tx(d.s, mb, n);
			MST(&msb, d.s, M(own_retrans, 1) M(dlg_answered, 1));
			/* its dialog ended: the caller's requests are not copied */
			n = dreq(sipbuf, sizeof(sipbuf), "INFO", c, "z9hG4bK-dlg-ob-info", 3,
				 "To: <sip:service@" VIP4 ">;tag=aown", NULL);
			send_not_copied(&d, sipbuf, n, US_ST_DLG_NOT_SENT);
		}
		dcall_close(&d);
	}

	if (th_subtest("answered/sim-first-then-active-paired")) {
		const char *c = "dlg-own-first@198.18.0.1";

		if (dcall_open(&d, SVC4, c, "aof", "sim-of", 0, 0)) {
			n = mreq(mb, sizeof(mb), "BYE", c, "z9hG4bK-of-sim", 3, "sim-of", "1928301774",
				 NULL);
			msnap_take(&msb);
			send_machine_tx(d.s, mb, n);
			MST(&msb, d.s, M(own[US_OWN_BYE], 1) M(dlg_answered, 1));
			n = mreq(mb, sizeof(mb), "BYE", c, "z9hG4bK-of-act", 3, "aof", "1928301774",
				 NULL);
			msnap_take(&msb);
			send_machine(d.a, mb, n, XDP_REDIRECT);
			MST(&msb, d.s, M(own_active[US_OWN_BYE], 1) M(own_both[US_OWN_BYE], 1));
		}
		dcall_close(&d);
	}

	if (th_subtest("answered/the-callers-refusal-passed-on")) {
		const char *c = "dlg-own-488@198.18.0.1";

		if (dcall_open(&d, SVC4, c, "a488", "sim-488", 0, 0)) {
			n = mreq(mb, sizeof(mb), "INFO", c, "z9hG4bK-488-act", 4, "a488", "1928301774",
				 NULL);
			send_machine(d.a, mb, n, XDP_REDIRECT);
			n = dresp(sipbuf, sizeof(sipbuf), 488, c, "z9hG4bK-488-act", 4, "INFO", "x", NULL,
				  NULL);
			send_client(SVC4, sipbuf, n, d.a, MID_NONE, NULL);
			n = mreq(mb, sizeof(mb), "INFO", c, "z9hG4bK-488-sim", 4, "sim-488", "1928301774",
				 NULL);
			if (!send_machine_tx(d.s, mb, n))
				EQ("answer: the caller's 488",
				   !strncmp(txbuf, "SIP/2.0 488 Not Acceptable Here\r\n", 33), 1);
		}
		dcall_close(&d);
	}

	if (th_subtest("answered/re-invite-offer-returned-ack-absorbed")) {
		const char *c = "dlg-own-reinv@198.18.0.1";

		if (dcall_open(&d, SVC4, c, "areinv", "sim-reinv", 0, 0)) {
			n = mreq(mb, sizeof(mb), "INVITE", c, "z9hG4bK-reinv", 4, "sim-reinv",
				 "1928301774", sdp);
			if (!send_machine_tx(d.s, mb, n)) {
				snprintf(want, sizeof(want), "Content-Type: application/sdp\r\n"
					 "Content-Length: %zu\r\n\r\n%s", strlen(sdp), sdp);
				EQ("answer: 200", !strncmp(txbuf, "SIP/2.0 200 OK\r\n", 16), 1);
				EQ("answer: the offer returned, Content-Type and length",
				   !!strstr(txbuf, want), 1);
			}
			n = mreq(mb, sizeof(mb), "ACK", c, "z9hG4bK-reinv-ack", 4, "sim-reinv",
				 "1928301774", NULL);
			snap_take(&sb);
			send_machine(d.s, mb, n, XDP_DROP);
			STATS(&sb, 1, S(US_ST_RESP_SIM_DROP, 1) S(US_ST_DLG_ABSORBED, 1));
		}
		dcall_close(&d);
	}

	if (th_subtest("answered/out-of-dialog-request-gets-a-tag")) {
		const char *c = "dlg-own-opt@198.18.0.1";

		if (dcall_open(&d, SVC4, c, "aopt2", "sim-opt2", 0, 0)) {
			n = mreq(mb, sizeof(mb), "OPTIONS", c, "z9hG4bK-opt", 6, "sim-opt2", NULL,
				 NULL);
			if (!send_machine_tx(d.s, mb, n))
				EQ("answer: To gets a tag of ours",
				   !!strstr(txbuf, "To: \"Alice\" <sip:alice@198.18.0.1>;tag=us"), 1);
		}
		dcall_close(&d);
	}

	if (th_subtest("answered/header-lines-of-exactly-64-bytes")) {
		/* the header index steps 64 bytes at a time: a line ending
		 * exactly on a step is a whole line, not the start of a long one */
		const char *c = "dlg-own-64@198.18.0.1";
		char line[80];

		memset(line, 'x', sizeof(line));
		memcpy(line, "X-Pad: ", 7);
		memcpy(line + 62, "\r\n", 3);    /* 64 bytes with CRLF */
		if (dcall_open(&d, SVC4, c, "a64b", "sim-64b", 0, 0)) {
			int k = snprintf(mb, sizeof(mb),
					 "BYE sip:alice@198.18.0.1:5060 SIP/2.0\r\n"
					 "%s%s%s"
					 "Via: SIP/2.0/UDP " VIP4 ":5060;branch=z9hG4bK-64\r\n"
					 "%s"
					 "From: <sip:service@" VIP4 ">;tag=sim-64b\r\n"
					 "%s"
					 "To: <sip:alice@198.18.0.1>;tag=1928301774\r\n"
					 "%s"
					 "Call-ID: %s\r\n"
					 "%s"
					 "CSeq: 3 BYE\r\n"
					 "Content-Length: 0\r\n\r\n",
					 line, line, line, line, line, line, c, line);

			if (!send_machine_tx(d.s, mb, (size_t)k)) {
				char want_cid[128];

				snprintf(want_cid, sizeof(want_cid), "\r\nCall-ID: %s\r\n", c);
				EQ("answer: 200", !strncmp(txbuf, "SIP/2.0 200 OK\r\n", 16), 1);
				EQ("answer: the Call-ID", !!strstr(txbuf, want_cid), 1);
				EQ("answer: the CSeq", !!strstr(txbuf, "\r\nCSeq: 3 BYE\r\n"), 1);
				EQ("answer: no padding lines", !strstr(txbuf, "X-Pad"), 1);
			}
		}
		dcall_close(&d);
	}

	if (th_subtest("answered/refer-202")) {
		const char *c = "dlg-own-refer@198.18.0.1";

		if (dcall_open(&d, SVC4, c, "aref2", "sim-ref2", 0, 0)) {
			n = mreq(mb, sizeof(mb), "REFER", c, "z9hG4bK-ref", 6, "sim-ref2", "1928301774",
				 NULL);
			if (!send_machine_tx(d.s, mb, n))
				EQ("answer: 202", !strncmp(txbuf, "SIP/2.0 202 Accepted\r\n", 22), 1);
		}
		dcall_close(&d);
	}

	/* A machine promoted while calls mirrored to it are up goes on being
	 * their shadow: the caller's requests still reach it, rewritten; its
	 * answers still teach the balancer its dialog; its own requests are
	 * still answered here; nothing of it reaches the caller. New calls are
	 * not mirrored to it. */
	if (th_subtest("promoted/its-calls-go-on-as-a-shadows")) {
		const char *c = "dlg-promoted@198.18.0.1";
		char cn[96];
		size_t wn;

		if (dcall_open(&d, SVC4, c, "apro", "sim-pro", 0, 0) &&
		    !set_state(d.s, US_MS_ACTIVE, false)) {
			n = dreq(sipbuf, sizeof(sipbuf), "ACK", c, "z9hG4bK-dlg-pro-ack", 1,
				 "To: <sip:service@" VIP4 ">;tag=apro", NULL);
			wn = dreq(want, sizeof(want), "ACK", c, "z9hG4bK-dlg-pro-ack", 1,
				  "To: <sip:service@" VIP4 ">;tag=sim-pro", NULL);
			check_rewrite(&d, sipbuf, n, want, wn);
			/* its own BYE: answered on the caller's behalf */
			n = mreq(mb, sizeof(mb), "BYE", c, "z9hG4bK-pro-bye", 7, "sim-pro",
				 "1928301774", NULL);
			snap_take(&sb);
			msnap_take(&msb);
			if (!send_machine_tx(d.s, mb, n))
				EQ("answer: status line", !strncmp(txbuf, "SIP/2.0 200 OK\r\n", 16), 1);
			STATS(&sb, 1, S(US_ST_DLG_ANSWERED, 1));
			MST(&msb, d.s, M(own[US_OWN_BYE], 1) M(dlg_answered, 1));
			mst_rest(&msb);
			/* new calls: never mirrored to it */
			for (int i = 0; i < 16; i++) {
				__u32 sm;

				snprintf(cn, sizeof(cn), "dlg-promoted-new-%d@198.18.0.1", i);
				sm = pred_sim(SVC4, cn);
				EQ("the simulation table names it", sm == d.s, 0);
				n = req_text(sipbuf, "INVITE", cn, "z9hG4bK-pro-new", 1);
				send_client(SVC4, sipbuf, n, pred_active(SVC4, cn), sm, NULL);
			}
		}
		set_state(d.s, US_MS_SIMULATION, false);
		dcall_close(&d);
	}

	if (th_subtest("promoted/held-ack-built-from-its-late-2xx")) {
		const char *c = "dlg-promoted-held@198.18.0.1";

		if (dcall_open(&d, SVC4, c, "aprh", NULL, 0, 0)) {
			n = dreq(sipbuf, sizeof(sipbuf), "ACK", c, "z9hG4bK-dlg-prh-ack", 1,
				 "To: <sip:service@" VIP4 ">;tag=aprh", NULL);
			send_not_copied(&d, sipbuf, n, US_ST_DLG_HELD);
			if (!set_state(d.s, US_MS_ACTIVE, false)) {
				n = dresp(mb, sizeof(mb), 200, c, "z9hG4bK-dlg-inv", 1, "INVITE",
					  "sim-prh", NULL, sdp);
				snap_take(&sb);
				msnap_take(&msb);
				if (!send_machine_tx(d.s, mb, n)) {
					EQ("ACK", !strncmp(txbuf, "ACK ", 4), 1);
					EQ("ACK: its tag", !!strstr(txbuf, ">;tag=sim-prh\r\n"), 1);
				}
				STATS(&sb, 1, S(US_ST_DLG_ACK_SENT, 1));
				MST(&msb, d.s, M(resp_class[2], 1) M(final_class[2], 1)
					       M(final_code[US_C_200], 1) M(lat_count, 1)
					       M(pair.out[US_O_2XX][US_O_2XX], 1) M(pair.code_same, 1)
					       M(pair.calls, 1) M(pair_lat_active, 1)
					       M(pair_lat_shadow, 1) M(dlg_acks, 1));
				mst_rest(&msb);
			}
			set_state(d.s, US_MS_SIMULATION, false);
		}
		dcall_close(&d);
	}

	if (th_subtest("answered/not-a-mirrored-call-dropped")) {
		/* a simulation machine's request in a call it never got */
		n = mreq(mb, sizeof(mb), "BYE", "dlg-unknown@198.18.0.1", "z9hG4bK-unk", 2, "x",
			 "1928301774", NULL);
		snap_take(&sb);
		send_machine(M_S1, mb, n, XDP_DROP);
		STATS(&sb, 1, S(US_ST_RESP_SIM_DROP, 1));
	}
}
