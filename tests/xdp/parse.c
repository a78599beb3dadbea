// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Parsing on the client side: traffic that is not a service's passes
 * untouched; service traffic in every form the parser accepts (IPv4, IPv6,
 * VLAN tags, extension headers; compact, folded, odd-case SIP headers; long
 * Via chains; every method) is forwarded to the machine the table names,
 * with a transaction recorded.
 */
#include "fixture.h"

#define METHOD(m) { .name = "method/" m, .sip = { .method = m }, CLI_FWD }

static const struct pcase pass_cases[] = {
	{ .name = "v4-other-port", .sip = INV(), .dport = 5061, CLI_PASS },
	{ .name = "v4-other-vip", .sip = INV(), .daddr = "198.18.100.9", CLI_PASS },
	{ .name = "v6-other-port", .v6 = true, .sip = INV(), .dport = 5061, CLI_PASS },
	{ .name = "v6-other-vip", .v6 = true, .sip = INV(), .daddr = "2001:db8:100::9",
	  CLI_PASS },
	{ .name = "v4-vlan2-other-port", .nvlan = 2, .sip = INV(), .dport = 5062,
	  CLI_PASS },
	{ .name = "v6-vlan1-other-vip", .nvlan = 1, .v6 = true, .sip = INV(),
	  .daddr = "2001:db8:100::9", CLI_PASS },
	{ .name = "v4-tcp-to-vip", .kind = K_TCP, CLI_PASS },
	{ .name = "v6-tcp-to-vip", .kind = K_TCP, .v6 = true, CLI_PASS },
	{ .name = "v4-icmp-to-vip", .kind = K_ICMP, CLI_PASS },
	{ .name = "arp", .kind = K_ARP, CLI_PASS },
	{ .name = "three-vlan-tags", .kind = K_VLAN3, .nvlan = 2, .sip = INV(),
	  CLI_PASS },
	{ .name = "v4-non-first-fragment", .sip = INV(), .frag_off = 185, CLI_PASS },
	{ .name = "v6-non-first-fragment", .v6 = true, .sip = INV(), .frag6 = true,
	  .frag_off = 185, CLI_PASS },
};

/* not service traffic: passed untouched */
TH_TEST(pass)
{
	run_pcases(pass_cases, ARRAY_SIZE(pass_cases));
}

static const struct pcase parse_cases[] = {
	{ .name = "fwd/v4", .sip = INV(), CLI_FWD },
	{ .name = "fwd/v4-vlan1", .nvlan = 1, .sip = INV(), CLI_FWD },
	{ .name = "fwd/v4-vlan2", .nvlan = 2, .sip = INV(), CLI_FWD },
	{ .name = "fwd/v6", .v6 = true, .sip = INV(), CLI_FWD },
	{ .name = "fwd/v6-vlan1", .v6 = true, .nvlan = 1, .sip = INV(), CLI_FWD },
	{ .name = "fwd/v6-vlan2", .v6 = true, .nvlan = 2, .sip = INV(), CLI_FWD },
	{ .name = "fwd/v6-hop-by-hop-header", .kind = K_V6HBH, .v6 = true, .sip = INV(),
	  CLI_FWD },
	{ .name = "compact-headers", .sip = INV(.compact = true), CLI_FWD },
	{ .name = "lower-case-names", .sip = INV(.lower_names = true), CLI_FWD },
	{ .name = "space-around-colon", .sip = INV(.space_colon = true), CLI_FWD },
	{ .name = "folded-callid", .sip = INV(.fold_callid = true), CLI_FWD },
	{ .name = "all-variants-lf-only",
	  .sip = INV(.compact = true, .lower_names = true, .space_colon = true, .fold_callid = true,
		     .lf_only = true), CLI_FWD },
	{ .name = "v6-compact-folded", .v6 = true,
	  .sip = INV(.compact = true, .fold_callid = true), CLI_FWD },
	{ .name = "callid-after-1300B-of-via", .sip = INV(.via_padding = 1300),
	  CLI_FWD },
	{ .name = "v6-vlan2-callid-after-2000B-of-via", .v6 = true, .nvlan = 2,
	  .sip = INV(.via_padding = 2000), CLI_FWD },
	{ .name = "upper-case-names",
	  .sip = INV(.omit_via = true, .omit_callid = true, .omit_cseq = true,
		     .callid = "upper-case@198.18.0.1", .branch = "z9hG4bKupper",
		     .extra_headers = "VIA: SIP/2.0/UDP 198.18.0.1;BRANCH=z9hG4bKupper\r\n"
				      "CALL-ID: upper-case@198.18.0.1\r\nCSEQ: 1 INVITE\r\n"),
	  CLI_FWD },
	{ .name = "tab-and-branch-after-other-params",
	  .sip = INV(.omit_via = true, .omit_callid = true, .callid = "tabs@198.18.0.1",
		     .branch = "z9hG4bKtabs",
		     .extra_headers = "Via:\tSIP/2.0/UDP 198.18.0.1:5060;rport;received=198.18.0.1;branch=z9hG4bKtabs\r\n"
				      "Call-ID\t:\ttabs@198.18.0.1\r\n"),
	  CLI_FWD },
	{ .name = "via-without-branch", .no_branch = true, .sip = INV(), CLI_FWD },
	{ .name = "no-content-length", .sip = { .method = "OPTIONS",
	  .omit_content_length = true }, CLI_FWD },
	{ .name = "lower-case-method-is-other", .sip = { .method = "invite" },
	  CLI_FWD },
	METHOD("REGISTER"),
	METHOD("OPTIONS"),
	METHOD("BYE"),
	METHOD("CANCEL"),
	METHOD("PRACK"),
	METHOD("SUBSCRIBE"),
	METHOD("NOTIFY"),
	METHOD("PUBLISH"),
	METHOD("INFO"),
	METHOD("REFER"),
	METHOD("MESSAGE"),
	METHOD("UPDATE"),
	METHOD("FOO"),
	{ .name = "method/ACK", .sip = { .method = "ACK" }, .ret = XDP_REDIRECT,
	  .out = O_MACHINE, .txn = false, .st = FWD },
	{ .name = "fwd/response-from-client", .sip = RESP(200), .ret = XDP_REDIRECT,
	  .out = O_MACHINE, .txn = false, .st = FWD },
};

/* service traffic: forwarded to the machine the table names */
TH_TEST(parse)
{
	run_pcases(parse_cases, ARRAY_SIZE(parse_cases));
}
