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
	printf("%-16s %-12s %-8s %-11s %8s %8s %8s %8s %8s %8s %7s %-13s\n", "MACHINE", "SERVICE",
	       "VERSION", "STATE", "FOR", "REQ/S", "ERR%", "P50ms", "P99ms", "PAIRED", "STREAK",
	       "VERDICT");
	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		json_object *m = json_object_array_get_idx(arr, i);
		char f[5][32];
		double since = jd(m, "since");

		num(f[0], sizeof(f[0]), now > since ? now - since : 0, "%.0fs");
		num(f[1], sizeof(f[1]), jd(m, "req_rate"), "%.1f");
		num(f[2], sizeof(f[2]), jd(m, "error_share") * 100, "%.2f");
		num(f[3], sizeof(f[3]), jd(m, "p50_ms"), "%.1f");
		num(f[4], sizeof(f[4]), jd(m, "p99_ms"), "%.1f");
		printf("%-16s %-12s %-8s %-11s %8s %8s %8s %8s %8s %8s %7s %-13s\n", js(m, "name"),
		       js(m, "service"), js(m, "version"), js(m, "state"), f[0], f[1], f[2], f[3], f[4],
		       js(m, "paired"), js(m, "streak"), js(m, "verdict"));
	}
}

void us_print_status(json_object *req, json_object *rep)
{
	json_object *sv;

	(void)req;

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

void us_print_explain(json_object *req, json_object *rep)
{
	json_object *v;

	(void)req;
	if (json_object_object_get_ex(rep, "text", &v) && json_object_is_type(v, json_type_string))
		print_lines(json_object_get_string(v));
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
