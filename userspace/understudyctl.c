// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * understudyctl: talk to understudyd over its control socket.
 *
 * Exit codes: 0 done; 1 the daemon refused (its reason is printed);
 * 2 bad arguments (usage printed); 3 the daemon could not be reached.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <json-c/json.h>

#define DEFAULT_SOCKET "/run/understudy/understudyd.sock"

enum { EX_OK = 0, EX_REFUSED = 1, EX_USAGE = 2, EX_UNREACHABLE = 3 };

static const char *sock_path = DEFAULT_SOCKET;
static bool as_json;

static void usage(FILE *f)
{
	fprintf(f,
		"usage: understudyctl [--socket PATH] [--json] COMMAND [ARGS]\n"
		"commands:\n"
		"  status [--watch [SECONDS]]   services and machines, live with --watch\n"
		"  machines                     every machine record\n"
		"  add NAME SERVICE ADDRESS VERSION [--weight W] [--active]\n"
		"                               add a machine (in simulation unless --active)\n"
		"  remove NAME                  remove a machine (an active one drains first)\n"
		"  promote NAME [REASON]        simulation -> active\n"
		"  demote NAME [REASON]         active -> draining\n"
		"  reject NAME [REASON]         simulation -> rejected\n"
		"  readmit NAME [REASON]        rejected or draining -> simulation\n"
		"  explain NAME                 the last judgement, criterion by criterion\n"
		"  events [LIMIT]               the last transitions (audit trail)\n"
		"  diffs [LIMIT]                the last sampled disagreements\n"
		"  reload                       re-read the configuration file\n"
		"options:\n"
		"  -s, --socket PATH   control socket (default " DEFAULT_SOCKET ")\n"
		"  -j, --json          print the daemon's JSON answer\n"
		"  -h, --help          this text\n"
		"exit codes: 0 done, 1 refused by the daemon, 2 bad arguments, 3 daemon unreachable\n");
}

/* Send one request, return the parsed answer (NULL: unreachable, errno set). */
static json_object *ask(json_object *req)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	const char *text = json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN);
	struct timeval tv = { .tv_sec = 30 };
	size_t n = 0, cap = 65536;
	char *buf = malloc(cap);
	json_object *rep = NULL;
	int fd;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || !buf)
		goto out;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)))
		goto out;
	if (write(fd, text, strlen(text)) < 0 || write(fd, "\n", 1) < 0)
		goto out;
	for (;;) {
		ssize_t r;

		if (n + 1 >= cap) {
			char *nb = realloc(buf, cap *= 2);

			if (!nb)
				goto out;
			buf = nb;
		}
		r = read(fd, buf + n, cap - n - 1);
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	buf[n] = 0;
	rep = json_tokener_parse(buf);
	if (!rep)
		errno = EPROTO;
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	return rep;
}

static const char *js(json_object *o, const char *k)
{
	json_object *v;

	if (!json_object_object_get_ex(o, k, &v) || json_object_is_type(v, json_type_null))
		return "-";
	return json_object_get_string(v);
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

static void print_machines(json_object *rep)
{
	json_object *arr;
	struct timespec ts;
	double now;

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

static void print_status(json_object *rep)
{
	json_object *sv;

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
	print_machines(rep);
}

static void print_explain(json_object *rep)
{
	printf("%s", js(rep, "text"));
}

static void print_events(json_object *rep)
{
	json_object *arr;

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

static void print_diffs(json_object *rep)
{
	json_object *arr;

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

static int run(json_object *req, void (*print)(json_object *))
{
	json_object *rep = ask(req), *ok;
	int rc;

	if (!rep) {
		fprintf(stderr, "understudyctl: cannot reach understudyd at %s: %s\n", sock_path,
			strerror(errno));
		return EX_UNREACHABLE;
	}
	if (as_json) {
		printf("%s\n", json_object_to_json_string_ext(rep, JSON_C_TO_STRING_PRETTY));
	}
	if (!json_object_object_get_ex(rep, "ok", &ok) || !json_object_get_boolean(ok)) {
		if (!as_json)
			fprintf(stderr, "understudyctl: %s\n", js(rep, "error"));
		rc = EX_REFUSED;
	} else {
		if (!as_json && print)
			print(rep);
		rc = EX_OK;
	}
	json_object_put(rep);
	return rc;
}

static int bad(const char *fmt, const char *arg)
{
	fprintf(stderr, "understudyctl: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\n");
	usage(stderr);
	return EX_USAGE;
}

static bool parse_limit(const char *s, long *out)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (*end || v < 1 || v > 100000)
		return false;
	*out = v;
	return true;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	json_object *req;
	const char *cmd;
	int c, rc, nargs;
	char **args;

	while ((c = getopt_long(argc, argv, "+s:jh", opts, NULL)) != -1) {
		switch (c) {
		case 's': sock_path = optarg; break;
		case 'j': as_json = true; break;
		case 'h': usage(stdout); return EX_OK;
		default: usage(stderr); return EX_USAGE;
		}
	}
	if (optind >= argc)
		return bad("%s", "a command is required");
	cmd = argv[optind];
	args = argv + optind + 1;
	nargs = argc - optind - 1;
	req = json_object_new_object();
	json_object_object_add(req, "cmd", json_object_new_string(cmd));

	if (!strcmp(cmd, "status")) {
		double every = 0;

		for (int i = 0; i < nargs; i++) {
			if (!strcmp(args[i], "--watch")) {
				every = 2;
				if (i + 1 < nargs && atof(args[i + 1]) > 0)
					every = atof(args[++i]);
			} else if (!strcmp(args[i], "--json")) {
				as_json = true;
			} else {
				return bad("status: unexpected argument \"%s\"", args[i]);
			}
		}
		if (every <= 0)
			rc = run(req, print_status);
		else
			for (;;) {
				if (!as_json)
					printf("\033[H\033[2J");
				rc = run(req, print_status);
				if (rc == EX_UNREACHABLE)
					break;
				fflush(stdout);
				usleep((useconds_t)(every * 1e6));
			}
	} else if (!strcmp(cmd, "machines") || !strcmp(cmd, "reload")) {
		if (nargs)
			return bad("unexpected argument \"%s\"", args[0]);
		rc = run(req, !strcmp(cmd, "machines") ? print_machines : NULL);
		if (!rc && !as_json && !strcmp(cmd, "reload"))
			printf("reloaded\n");
	} else if (!strcmp(cmd, "promote") || !strcmp(cmd, "demote") || !strcmp(cmd, "reject") ||
		   !strcmp(cmd, "readmit") || !strcmp(cmd, "remove") || !strcmp(cmd, "explain")) {
		if (nargs < 1 || nargs > 2 || (nargs == 2 && !strcmp(cmd, "explain")) ||
		    (nargs == 2 && !strcmp(cmd, "remove")))
			return bad("%s: a machine name is required (and, for moves, an optional reason)",
				   cmd);
		json_object_object_add(req, "name", json_object_new_string(args[0]));
		if (nargs == 2)
			json_object_object_add(req, "reason", json_object_new_string(args[1]));
		rc = run(req, !strcmp(cmd, "explain") ? print_explain : NULL);
		if (!rc && !as_json && strcmp(cmd, "explain"))
			printf("%s: %s done\n", args[0], cmd);
	} else if (!strcmp(cmd, "add")) {
		if (nargs < 4)
			return bad("%s", "add: NAME SERVICE ADDRESS VERSION are required");
		json_object_object_add(req, "name", json_object_new_string(args[0]));
		json_object_object_add(req, "service", json_object_new_string(args[1]));
		json_object_object_add(req, "address", json_object_new_string(args[2]));
		json_object_object_add(req, "version", json_object_new_string(args[3]));
		for (int i = 4; i < nargs; i++) {
			if (!strcmp(args[i], "--active")) {
				json_object_object_add(req, "state", json_object_new_string("active"));
			} else if (!strcmp(args[i], "--weight") && i + 1 < nargs) {
				long w;
				char *end;

				w = strtol(args[++i], &end, 10);
				if (*end || w < 1 || w > 65535)
					return bad("add: weight \"%s\" is not an integer 1..65535", args[i]);
				json_object_object_add(req, "weight", json_object_new_int((int)w));
			} else {
				return bad("add: unexpected argument \"%s\"", args[i]);
			}
		}
		rc = run(req, NULL);
		if (!rc && !as_json)
			printf("%s: added\n", args[0]);
	} else if (!strcmp(cmd, "events") || !strcmp(cmd, "diffs")) {
		long limit = 20;

		if (nargs > 1 || (nargs == 1 && !parse_limit(args[0], &limit)))
			return bad("%s: LIMIT must be an integer 1..100000", cmd);
		json_object_object_add(req, "limit", json_object_new_int64(limit));
		rc = run(req, !strcmp(cmd, "events") ? print_events : print_diffs);
	} else {
		json_object_put(req);
		return bad("unknown command \"%s\"", cmd);
	}
	json_object_put(req);
	return rc;
}
