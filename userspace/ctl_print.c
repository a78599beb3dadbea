// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* understudyctl's printers of the daemon's answers, as tables (commands.c
 * names the printer of each command). */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "daemon.h"
#include "validate.h"

/* A member as text safe on a terminal: names, versions and reasons come
 * from operators and files, and a terminal escape in one must show as
 * \x1b, not act (validate.h). Several may be in use in one printf. */
static const char *js(json_object *o, const char *k)
{
	static char ring[16][1024];
	static unsigned next;
	json_object *v;

	if (!json_object_object_get_ex(o, k, &v) || json_object_is_type(v, json_type_null))
		return "-";
	return us_escape(json_object_get_string(v), ring[next++ % 16], sizeof(ring[0]));
}

/* Lines of text, each escaped (the line breaks kept). */
static void print_lines(const char *s)
{
	char line[1024], esc[4096];

	while (*s) {
		size_t n = strcspn(s, "\n");

		snprintf(line, sizeof(line), "%.*s", (int)n, s);
		printf("%s%s", us_escape(line, esc, sizeof(esc)), s[n] ? "\n" : "");
		s += n + (s[n] ? 1 : 0);
	}
}

static double jd(json_object *o, const char *k)
{
	json_object *v;

	if (!json_object_object_get_ex(o, k, &v) || json_object_is_type(v, json_type_null))
		return NAN;
	return json_object_get_double(v);
}

static void num(char *buf, size_t len, double v, const char *fmt)
{
	if (isnan(v))
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, fmt, v);
}

void us_print_machines(json_object *req, json_object *rep)
{
	json_object *arr;
	struct timespec ts;
	double now;

	(void)req;

	clock_gettime(CLOCK_REALTIME, &ts);
	now = ts.tv_sec + ts.tv_nsec / 1e9;

	if (!json_object_object_get_ex(rep, "machines", &arr))
		return;
	printf("%-16s %-12s %-8s %-11s %8s %8s %8s %8s %8s %8s %7s %8s %8s %-13s\n", "MACHINE",
	       "SERVICE", "VERSION", "STATE", "FOR", "REQ/S", "ERR%", "P50ms", "P99ms", "PAIRED",
	       "STREAK", "DIFF%", "CTLDIFF%", "VERDICT");
	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		json_object *m = json_object_array_get_idx(arr, i), *st;
		char f[7][32], verdict[48];
		double since = jd(m, "since");

		num(f[0], sizeof(f[0]), now > since ? now - since : 0, "%.0fs");
		num(f[1], sizeof(f[1]), jd(m, "req_rate"), "%.1f");
		num(f[2], sizeof(f[2]), jd(m, "error_share") * 100, "%.2f");
		num(f[3], sizeof(f[3]), jd(m, "p50_ms"), "%.1f");
		num(f[4], sizeof(f[4]), jd(m, "p99_ms"), "%.1f");
		/* the candidate's class differences, the control machine's beside */
		num(f[5], sizeof(f[5]), jd(m, "class_differ_share") * 100, "%.3f");
		num(f[6], sizeof(f[6]), jd(m, "control_class_differ_share") * 100, "%.3f");
		snprintf(verdict, sizeof(verdict), "%s%s", js(m, "verdict"),
			 json_object_object_get_ex(m, "stuck", &st) && json_object_get_boolean(st) ?
			 " STUCK" : "");
		printf("%-16s %-12s %-8s %-11s %8s %8s %8s %8s %8s %8s %7s %8s %8s %-13s\n",
		       js(m, "name"), js(m, "service"), js(m, "version"), js(m, "state"), f[0], f[1],
		       f[2], f[3], f[4], js(m, "paired"), js(m, "streak"), f[5], f[6], verdict);
	}
}

void us_print_status(json_object *req, json_object *rep)
{
	json_object *sv;

	(void)req;

	/* a controller of a cluster: who leads, its agents (docs/cluster.md) */
	if (json_object_object_get_ex(rep, "leader", &sv)) {
		printf("role: %s (%s), %s; leader: %s\n", js(rep, "role"), js(rep, "name"),
		       json_object_get_boolean(json_object_object_get(rep, "leading")) ?
		       "leading" : "standing by", *js(rep, "leader") ? js(rep, "leader") : "none");
		if (json_object_object_get_ex(rep, "agents", &sv))
			for (size_t i = 0; i < json_object_array_length(sv); i++) {
				json_object *a = json_object_array_get_idx(sv, i);
				bool stale = json_object_get_boolean(json_object_object_get(a, "stale"));

				printf("  agent %s: %s%s\n", js(a, "url"), stale ? "stale: " : "ok",
				       stale ? js(a, "error") : "");
			}
		printf("\n");
	} else if (json_object_object_get_ex(rep, "role", &sv) &&
		   strcmp(json_object_get_string(sv), "standalone")) {
		printf("role: %s\n\n", json_object_get_string(sv));
	}
	if (json_object_object_get_ex(rep, "services", &sv)) {
		printf("%-16s %-40s %8s\n", "SERVICE", "VIP", "MIRROR%");
		for (size_t i = 0; i < json_object_array_length(sv); i++) {
			json_object *s = json_object_array_get_idx(sv, i);
			char vip[64];

			snprintf(vip, sizeof(vip), "%s:%s", js(s, "vip"), js(s, "port"));
			printf("%-16s %-40s %8.2f\n", js(s, "name"), vip, jd(s, "mirror_percent"));
		}
		printf("windows: %s of %s s\n\n", js(rep, "windows"), js(rep, "window_s"));
	}
	if (json_object_object_get_ex(rep, "versions", &sv) && json_object_array_length(sv)) {
		printf("%-12s %-8s %8s %8s %8s %8s %8s %8s\n", "SERVICE", "VERSION", "MACHINES",
		       "REQ/S", "ERR%", "P50ms", "P99ms", "TIMEOUTS");
		for (size_t i = 0; i < json_object_array_length(sv); i++) {
			json_object *v = json_object_array_get_idx(sv, i);
			char f[4][32];

			num(f[0], sizeof(f[0]), jd(v, "req_rate"), "%.1f");
			num(f[1], sizeof(f[1]), jd(v, "error_share") * 100, "%.2f");
			num(f[2], sizeof(f[2]), jd(v, "p50_ms"), "%.1f");
			num(f[3], sizeof(f[3]), jd(v, "p99_ms"), "%.1f");
			printf("%-12s %-8s %8s %8s %8s %8s %8s %8s\n", js(v, "service"), js(v, "version"),
			       js(v, "machines"), f[0], f[1], f[2], f[3], js(v, "timeouts"));
		}
		printf("\n");
	}
	us_print_machines(req, rep);
}

/* The exact codes that differed, as a table: active code x shadow code. */
static void print_codes(json_object *codes, const char *indent)
{
	size_t n = codes ? json_object_array_length(codes) : 0;

	if (!n) {
		printf("%s(no exact codes differed)\n", indent);
		return;
	}
	printf("%s%-8s %-10s %10s\n", indent, "ACTIVE", "SIMULATION", "PAIRS");
	for (size_t i = 0; i < n; i++) {
		json_object *c = json_object_array_get_idx(codes, i);
		const char *a = js(c, "active"), *s = js(c, "shadow");

		printf("%s%-8s %-10s %10s\n", indent, strcmp(a, "0") ? a : "none",
		       strcmp(s, "0") ? s : "none", js(c, "n"));
	}
}

static void pct(char *buf, size_t len, json_object *o, const char *k)
{
	num(buf, len, o ? jd(o, k) * 100 : NAN, "%.3f");
}

void us_print_explain(json_object *req, json_object *rep)
{
	static const struct { const char *k, *label; } rows[] = {
		{ "class_differ_share", "class differs, %" },
		{ "code_differ_share", "exact code differs, % (answered)" },
		{ "active_failure_share", "active failed, % of pairs" },
		{ "shadow_failure_share", "shadow failed, % of pairs" },
		{ "active_failed_call_share", "active failed, % of calls" },
		{ "shadow_failed_call_share", "shadow failed, % of calls" },
	};
	json_object *cand = NULL, *ctl = NULL, *codes = NULL, *v;

	(void)req;
	/* the explanation's lines, each escaped (its names come from operators) */
	if (json_object_object_get_ex(rep, "text", &v) && json_object_is_type(v, json_type_string))
		print_lines(json_object_get_string(v));
	if (json_object_object_get_ex(rep, "stuck", &cand) && json_object_get_boolean(cand))
		printf("STUCK: %s\n", js(rep, "stuck_why"));
	cand = NULL;
	json_object_object_get_ex(rep, "candidate", &cand);
	json_object_object_get_ex(rep, "control", &ctl);
	if (ctl && json_object_is_type(ctl, json_type_null))
		ctl = NULL;
	if (cand) {
		printf("\nevidence since entering simulation (%s pairs; the control machine's on the "
		       "same calls: %s)\n", js(cand, "pairs"), ctl ? js(ctl, "pairs") : "no control");
		printf("  %-34s %12s %12s\n", "", "candidate", "control");
		for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
			char a[32], b[32];

			pct(a, sizeof(a), cand, rows[i].k);
			pct(b, sizeof(b), ctl, rows[i].k);
			printf("  %-34s %12s %12s\n", rows[i].label, a, b);
		}
	}
	json_object_object_get_ex(rep, "codes", &codes);
	printf("\nexact codes that differed (candidate):\n");
	print_codes(codes, "  ");
}

void us_print_events(json_object *req, json_object *rep)
{
	json_object *arr;

	(void)req;

	if (!json_object_object_get_ex(rep, "events", &arr))
		return;
	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		json_object *e = json_object_array_get_idx(arr, i);
		time_t t = (time_t)jd(e, "time");
		char ts[32];

		strftime(ts, sizeof(ts), "%Y-%m-%d %H:%M:%S", localtime(&t));
		printf("%s  #%s  %-16s %s -> %s  by %s: %s\n", ts, js(e, "seq"), js(e, "machine"),
		       js(e, "from"), js(e, "to"), js(e, "by"), js(e, "reason"));
	}
}

void us_print_diffs(json_object *req, json_object *rep)
{
	json_object *arr;

	(void)req;

	if (!json_object_object_get_ex(rep, "diffs", &arr))
		return;
	printf("%-40s %-8s %-12s %6s %9s %-12s %6s %9s\n", "CALL-ID", "METHOD", "ACTIVE", "CODE",
	       "ms", "SIMULATION", "CODE", "ms");
	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		json_object *e = json_object_array_get_idx(arr, i);

		printf("%-40s %-8s %-12s %6s %9.1f %-12s %6s %9.1f\n", js(e, "call_id"),
		       js(e, "method"), js(e, "active"), js(e, "active_code"), jd(e, "active_ms"),
		       js(e, "simulation"), js(e, "simulation_code"), jd(e, "simulation_ms"));
	}
	printf("(%s differences seen since the daemon started)\n", js(rep, "seen"));
	if (json_object_object_get_ex(rep, "code_tables", &arr)) {
		for (size_t i = 0; i < json_object_array_length(arr); i++) {
			json_object *m = json_object_array_get_idx(arr, i), *codes = NULL;

			json_object_object_get_ex(m, "codes", &codes);
			printf("\n%s (%s): exact codes that differed since it entered simulation\n",
			       js(m, "machine"), js(m, "state"));
			print_codes(codes, "  ");
		}
	}
}


void us_print_added(json_object *req, json_object *rep)
{
	(void)rep;
	printf("%s: added\n", js(req, "name"));
}

void us_print_reloaded(json_object *req, json_object *rep)
{
	(void)req;
	(void)rep;
	printf("reloaded\n");
}
