// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Whole error lists (issue 12, finding 10): a refused reload's reply and
 * log have every error shown, or "... and N more errors" for the rest;
 * nothing is cut away silently.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>
#include <sys/stat.h>

#include "fixture.h"

/* The fixture's configuration with 25 machines, each one refused. */
static int write_25_errors(void)
{
	char path[192];
	FILE *f;

	snprintf(path, sizeof(path), "%s/understudy.yaml", ctl_dir);
	f = fopen(path, "a");
	if (!f)
		return -1;
	for (int i = 0; i < 25; i++)
		fprintf(f, "      - { name: bad-machine-with-a-long-name-%02d, address: 224.0.0.%d, "
			"version: \"3.0\", state: simulation }\n", i, i + 1);
	return fclose(f);
}

static size_t count(const char *s, const char *what)
{
	size_t n = 0;

	for (const char *p = s; (p = strstr(p, what)); p += strlen(what))
		n++;
	return n;
}

TH_TEST(reload_reply_whole)
{
	json_object *rep, *e;
	const char *text;

	if (write_25_errors()) {
		th_fail("configuration", strerror(errno), "written");
		return;
	}
	rep = ctl_ok(false, "{\"cmd\":\"reload\"}");
	if (!rep || !json_object_object_get_ex(rep, "error", &e)) {
		th_fail("reload", "no error", "refused with the errors");
		json_object_put(rep);
		return;
	}
	text = json_object_get_string(e);
	th_eqf((long long)count(text, "is a multicast address"), 20, "errors in the reply");
	if (!strstr(text, "understudy.yaml: ... and 5 more errors"))
		th_fail("reply", text, "... and 5 more errors");
	json_object_put(rep);
}

TH_TEST(log_lines_whole)
{
	char text[8192], out[16384];
	size_t o = 0, n;
	FILE *f = tmpfile();
	int saved = dup(2), level = us_log_level;

	for (int i = 0; i < 25; i++)
		o += (size_t)snprintf(text + o, sizeof(text) - o, "%st.yaml:%d:9: services[0]."
				      "machines[%d].address: 224.0.0.%d is a multicast address "
				      "(224.0.0.0/4) .......................................",
				      i ? "\n" : "", i + 10, i, i + 1);
	if (!f || saved < 0) {
		th_fail("setup", strerror(errno), "a file");
		return;
	}
	fflush(stderr);
	dup2(fileno(f), 2);
	us_log_level = LOG_ERR;
	us_log_lines(LOG_ERR, "reload refused, nothing applied: ", text);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	us_log_level = level;
	rewind(f);
	n = fread(out, 1, sizeof(out) - 1, f);
	out[n] = 0;
	fclose(f);
	th_eqf((long long)count(out, "reload refused, nothing applied: t.yaml:"), 25, "log lines");
	th_eqf((long long)count(out, "(224.0.0.0/4) ......................................."), 25,
	       "whole lines");
}

/* events and diffs take a bounded limit (the command table's, checked for
 * every client): a huge one is refused at once, not served. */
TH_TEST(events_limit_bounded)
{
	static const char *const bad[] = { "0", "-1", "100001", "9223372036854775807" };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		json_object *rep, *e;

		rep = ctl_ok(false, "{\"cmd\":\"events\",\"limit\":%s}", bad[i]);
		if (rep && (!json_object_object_get_ex(rep, "error", &e) ||
			    !strstr(json_object_get_string(e), "\"limit\" must be an integer 1..100000")))
			th_fail("events refusal", json_object_to_json_string(rep),
				"\"limit\" must be an integer 1..100000");
		json_object_put(rep);
		rep = ctl_ok(false, "{\"cmd\":\"diffs\",\"limit\":%s}", bad[i]);
		json_object_put(rep);
	}
	json_object_put(ctl_ok(true, "{\"cmd\":\"events\",\"limit\":100000}"));
	json_object_put(ctl_ok(true, "{\"cmd\":\"events\",\"limit\":1}"));
}

/* A state save that fails is logged and counted on /metrics. */
TH_TEST(save_failure_counted)
{
	char path[256];
	char *page;

	/* the temporary file cannot be made: a directory holds its name */
	snprintf(path, sizeof(path), "%s/state/state.json.tmp", ctl_dir);
	if (mkdir(path, 0700)) {
		th_fail("mkdir", strerror(errno), path);
		return;
	}
	th_eqf(us_daemon_window(&ctl) < 0, 1, "the window's save fails");
	th_eqf(us_daemon_window(&ctl) < 0, 1, "the next one too");
	page = us_daemon_metrics(&ctl);
	if (!page || !strstr(page, "\nunderstudy_state_save_failures_total 2\n"))
		th_fail("metrics", page ? "no understudy_state_save_failures_total 2" : "NULL",
			"understudy_state_save_failures_total 2");
	free(page);
	rmdir(path);
	th_eqf(us_daemon_window(&ctl), 0, "a window once the file can be written");
}

/* An operator's action names the uid that asked (SO_PEERCRED) in the
 * audit trail. */
TH_TEST(audit_names_the_uid)
{
	char path[256], line[2048] = "", last[2048] = "";
	FILE *f;

	ctl.peer_uid = 1234;
	json_object_put(ctl_ok(true, "{\"cmd\":\"reject\",\"name\":\"v2-a\",\"reason\":\"bad build\"}"));
	ctl.peer_uid = -1;
	snprintf(path, sizeof(path), "%s/state/audit.log", ctl_dir);
	f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f))
		snprintf(last, sizeof(last), "%s", line);
	if (f)
		fclose(f);
	if (!strstr(last, "\"reason\":\"reject (uid 1234): bad build\"") &&
	    !strstr(last, "\"reason\": \"reject (uid 1234): bad build\""))
		th_fail("audit line", last, "reason \"reject (uid 1234): bad build\"");
}
