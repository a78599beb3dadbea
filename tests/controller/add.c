// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * `add`: a machine added by a command is audited like every other move; an
 * add that is refused leaves nothing behind: no record, no id used, no
 * audit line.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fixture.h"

static int machines(void)
{
	json_object *rep = ctl_cmd("{\"cmd\":\"machines\"}"), *arr;
	int n = -1;

	if (rep && json_object_object_get_ex(rep, "machines", &arr))
		n = (int)json_object_array_length(arr);
	if (rep)
		json_object_put(rep);
	return n;
}

/* the last audit event (events, limit 1): its field k */
static const char *last_event(const char *k, char *buf, size_t len)
{
	json_object *rep = ctl_ok(true, "{\"cmd\":\"events\",\"limit\":1}"), *arr, *v;

	snprintf(buf, len, "(none)");
	if (rep && json_object_object_get_ex(rep, "events", &arr) &&
	    json_object_array_length(arr) == 1 &&
	    json_object_object_get_ex(json_object_array_get_idx(arr, 0), k, &v))
		snprintf(buf, len, "%s", json_object_get_string(v));
	if (rep)
		json_object_put(rep);
	return buf;
}

static void expect_event(const char *k, const char *want)
{
	char b[128];

	if (strcmp(last_event(k, b, sizeof(b)), want))
		th_fail(k, b, want);
}

TH_TEST(add)
{
	if (th_subtest("audited")) {
		int lines = ctl_audit_lines();

		json_object_put(ctl_ok(true, "{\"cmd\":\"add\",\"name\":\"v2-x\",\"service\":\"sip\","
					     "\"address\":\"198.18.1.12\",\"version\":\"2.0\"}"));
		EQ("audit lines added", ctl_audit_lines() - lines, 1);
		expect_event("machine", "v2-x");
		expect_event("to", "simulation");
		expect_event("by", "operator");
	}

	if (th_subtest("control")) {
		/* a control machine runs the active version; never judged */
		json_object_put(ctl_ok(false, "{\"cmd\":\"add\",\"name\":\"c2\",\"service\":\"sip\","
					      "\"address\":\"198.18.1.14\",\"version\":\"2.0\","
					      "\"state\":\"control\"}"));
		th_eqf(ctl_field("c2", "id"), -1, "c2 (version 2.0 as control): id");
		json_object_put(ctl_ok(true, "{\"cmd\":\"add\",\"name\":\"c1\",\"service\":\"sip\","
					     "\"address\":\"198.18.1.14\",\"version\":\"1.0\","
					     "\"state\":\"control\"}"));
		expect_event("machine", "c1");
		expect_event("to", "control");
	}

	if (th_subtest("refused-leaves-nothing")) {
		int n = machines(), lines = ctl_audit_lines();
		long long next;

		/* the address of v1-a: the data plane tells machines by address */
		json_object_put(ctl_ok(false, "{\"cmd\":\"add\",\"name\":\"v2-dup\",\"service\":\"sip\","
					      "\"address\":\"198.18.1.1\",\"version\":\"2.0\"}"));
		json_object_put(ctl_ok(false, "{\"cmd\":\"add\",\"name\":\"v2-dup\",\"service\":\"sip\","
					      "\"address\":\"198.18.1.1\",\"version\":\"2.0\"}"));
		EQ("machines after refused adds", machines(), n);
		EQ("audit lines after refused adds", ctl_audit_lines(), lines);
		th_eqf(ctl_field("v2-dup", "id"), -1, "v2-dup: id");
		json_object_put(ctl_ok(true, "{\"cmd\":\"add\",\"name\":\"v2-next\",\"service\":\"sip\","
					     "\"address\":\"198.18.1.13\",\"version\":\"2.0\"}"));
		next = ctl_field("v2-next", "id");
		EQ("the next add's id: the lowest free one", next, n);
	}

	if (th_subtest("address-of-a-draining-machine")) {
		int n = machines(), lines;
		long long next;

		/* v1-b drains: its address is still its own */
		json_object_put(ctl_ok(true, "{\"cmd\":\"demote\",\"name\":\"v1-b\"}"));
		lines = ctl_audit_lines();
		for (int i = 0; i < 2; i++)
			json_object_put(ctl_ok(false, "{\"cmd\":\"add\",\"name\":\"v2-late\","
						      "\"service\":\"sip\",\"address\":\"198.18.1.2\","
						      "\"version\":\"2.0\"}"));
		EQ("machines after refused adds", machines(), n);
		EQ("audit lines after refused adds", ctl_audit_lines(), lines);
		th_eqf(ctl_field("v2-late", "id"), -1, "v2-late: id");
		json_object_put(ctl_ok(true, "{\"cmd\":\"add\",\"name\":\"v2-late\",\"service\":\"sip\","
					     "\"address\":\"198.18.1.15\",\"version\":\"2.0\"}"));
		next = ctl_field("v2-late", "id");
		EQ("the next add's id: the lowest free one", next, n);
	}
}

/* add takes what the configuration file takes (validate.h), no more. */
TH_TEST(add_validates)
{
	static const struct { const char *what, *name, *addr, *version, *error; } bad[] = {
		{ "empty name", "", "198.18.1.20", "2.0", "name \"\" is empty" },
		{ "name with a newline", "a\\nb", "198.18.1.20", "2.0", "is not a valid name" },
		{ "name with an escape", "a\\u001b[2J", "198.18.1.20", "2.0", "is not a valid name" },
		{ "name with a quote", "a\\\"b", "198.18.1.20", "2.0", "is not a valid name" },
		{ "upper-case name", "V2", "198.18.1.20", "2.0", "is not a valid name" },
		{ "empty version", "v2-z", "198.18.1.20", "", "version \"\" is empty" },
		{ "version with CR LF", "v2-z", "198.18.1.20", "2\\r\\n", "has a control character" },
		{ "version with a C1 escape", "v2-z", "198.18.1.20", "2\\u009b2J",
		  "has a control character" },
		{ "the VIP", "v2-z", "198.18.100.1", "2.0", "is the service's VIP" },
		{ "multicast", "v2-z", "224.0.0.1", "2.0", "is a multicast address" },
		{ "unspecified", "v2-z", "0.0.0.0", "2.0", "is unspecified" },
		{ "loopback", "v2-z", "127.0.0.1", "2.0", "is a loopback address" },
		{ "link-local", "v2-z", "169.254.9.9", "2.0", "is a link-local address" },
		{ "broadcast", "v2-z", "255.255.255.255", "2.0", "is the broadcast address" },
		{ "IPv6 in an IPv4 service", "v2-z", "2001:db8::9", "2.0", "is IPv6 but" },
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		json_object *rep, *e;
		int n, lines;

		if (!th_subtest("%s", bad[i].what))
			continue;
		n = machines();
		lines = ctl_audit_lines();
		rep = ctl_ok(false, "{\"cmd\":\"add\",\"name\":\"%s\",\"service\":\"sip\","
				    "\"address\":\"%s\",\"version\":\"%s\"}", bad[i].name, bad[i].addr,
			     bad[i].version);
		if (rep && json_object_object_get_ex(rep, "error", &e) &&
		    !strstr(json_object_get_string(e), bad[i].error))
			th_fail("error", json_object_get_string(e), bad[i].error);
		if (rep)
			json_object_put(rep);
		EQ("machines after a refused add", machines(), n);
		EQ("audit lines after a refused add", ctl_audit_lines(), lines);
	}
}

/* A label value that is not clean UTF-8 text never reaches /metrics raw:
 * Prometheus refuses a whole page for one invalid byte. (No path lets such
 * a value in today; the exporter does not rely on it.) */
TH_TEST(metrics_escape)
{
	struct us_rec *r = us_model_find(&ctl.model, "v2-a");
	char *page;

	if (!r) {
		th_fail("v2-a", "absent", "present");
		return;
	}
	snprintf(r->conf.version, sizeof(r->conf.version), "2\xff\x1b[2J\"q\\\n");
	page = us_daemon_metrics(&ctl);
	if (!page) {
		th_fail("metrics", "NULL", "a page");
		return;
	}
	if (!strstr(page, "version=\"2\\\\xff\\\\x1b[2J\\\"q\\\\\\\\x0a\""))
		th_fail("v2-a's version label", "not escaped", "2\\\\xff\\\\x1b[2J\\\"q\\\\\\\\x0a");
	if (strchr(page, '\x1b') || strchr(page, '\xff'))
		th_fail("metrics page", "has a raw escape or bad byte", "none");
	free(page);
}

/* What understudyctl prints of a name, a version or an explanation never
 * reaches the terminal raw: a state file of an older daemon, a reason or a
 * peer may still carry a terminal escape. */
TH_TEST(print_escapes)
{
	json_object *rep = json_tokener_parse(
		"{\"machines\":[{\"name\":\"a\\u001b[2J\",\"service\":\"sip\","
		"\"version\":\"2\\r\\u009b1m\",\"state\":\"active\",\"since\":1}],"
		"\"text\":\"line one\\u001b]0;x\\u0007\\nline two\\n\"}");
	char out[4096];
	size_t n;
	FILE *f = tmpfile();
	int saved = dup(1);

	if (!rep || !f || saved < 0) {
		th_fail("setup", "failed", "a reply, a file");
		return;
	}
	fflush(stdout);
	dup2(fileno(f), 1);
	us_print_machines(NULL, rep);
	us_print_explain(NULL, rep);
	fflush(stdout);
	dup2(saved, 1);
	close(saved);
	rewind(f);
	n = fread(out, 1, sizeof(out) - 1, f);
	out[n] = 0;
	fclose(f);
	json_object_put(rep);
	if (memchr(out, '\x1b', n) || memchr(out, '\r', n) || memchr(out, '\x07', n) ||
	    strstr(out, "\xc2\x9b"))
		th_fail("printed text", "a raw control character", "escaped");
	if (!strstr(out, "a\\x1b[2J") || !strstr(out, "2\\x0d\\xc2\\x9b1m"))
		th_fail("machines table", out, "a\\x1b[2J and 2\\x0d\\xc2\\x9b1m");
	if (!strstr(out, "line one\\x1b]0;x\\x07\nline two\n"))
		th_fail("explain", out, "line one\\x1b]0;x\\x07\\nline two\\n");
}
