// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * understudyctl: talk to understudyd over its control socket (replay runs
 * here, offline). The commands, their arguments, their help and the exit
 * codes come from the table in commands.c.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <json-c/json.h>

#include "commands.h"
#include "daemon.h"
#include "validate.h"

static const char *sock_path = US_DEFAULT_SOCKET;
static bool as_json;
static const char *failed_at = "connecting";    /* the step that failed, for the message */

/* All of text, or -1 with errno (EPIPE when the daemon closed first:
 * SIGPIPE is ignored, so that it is reported, not fatal). */
static int write_all(int fd, const char *text, size_t len)
{
	while (len) {
		ssize_t w = write(fd, text, len);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		text += w;
		len -= (size_t)w;
	}
	return 0;
}

/* Send one request, return the parsed answer (NULL: unreachable, errno set,
 * failed_at the step). A daemon that stops reading a request too long for it
 * and answers has its answer read all the same. */
static json_object *ask(json_object *req)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	const char *text = json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN);
	struct timeval tv = { .tv_sec = 30 };
	size_t n = 0, cap = 65536;
	char *buf = malloc(cap);
	json_object *rep = NULL;
	int fd, werr = 0;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || !buf)
		goto out;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	failed_at = "connecting";
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)))
		goto out;
	if (write_all(fd, text, strlen(text)) || write_all(fd, "\n", 1))
		werr = errno;
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
	rep = n ? json_tokener_parse(buf) : NULL;
	if (!rep) {
		failed_at = werr ? "sending the request" : "reading the answer";
		errno = werr ? werr : n ? EPROTO : ECONNRESET;
	}
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	return rep;
}

static const char *js_raw(json_object *o, const char *k)
{
	json_object *v;

	if (!json_object_object_get_ex(o, k, &v) || json_object_is_type(v, json_type_null))
		return "-";
	return json_object_get_string(v);
}

/* A member as text safe on a terminal (validate.h: escapes shown, not run). */
static const char *js(json_object *o, const char *k)
{
	static char buf[2][8192];
	static unsigned next;
	json_object *v;

	if (!json_object_object_get_ex(o, k, &v) || json_object_is_type(v, json_type_null))
		return "-";
	return us_escape(json_object_get_string(v), buf[next++ % 2], sizeof(buf[0]));
}

/* The refusal, a line each (a reload's may list many), escaped. */
static void print_error(json_object *rep)
{
	const char *s = js_raw(rep, "error");
	char line[4096], esc[8192];

	do {
		size_t n = strcspn(s, "\n");

		snprintf(line, sizeof(line), "%.*s", (int)n, s);
		fprintf(stderr, "understudyctl: %s\n", us_escape(line, esc, sizeof(esc)));
		s += n + (s[n] ? 1 : 0);
	} while (*s);
}

static int run(const struct us_cmd *c, json_object *req)
{
	json_object *rep = ask(req), *ok;
	int rc;

	if (!rep) {
		if (!strcmp(failed_at, "connecting"))
			fprintf(stderr, "understudyctl: cannot reach understudyd at %s: %s\n",
				sock_path, strerror(errno));
		else
			fprintf(stderr, "understudyctl: understudyd at %s: %s: %s\n", sock_path,
				failed_at, strerror(errno));
		return US_EX_UNREACHABLE;
	}
	if (as_json)
		printf("%s\n", json_object_to_json_string_ext(rep, JSON_C_TO_STRING_PRETTY));
	if (!json_object_object_get_ex(rep, "ok", &ok) || !json_object_get_boolean(ok)) {
		if (!as_json)
			print_error(rep);
		rc = US_EX_REFUSED;
	} else {
		if (!as_json && c->print)
			c->print(req, rep);
		else if (!as_json)
			printf("%s: %s done\n", js(req, "name"), c->name);
		rc = US_EX_OK;
	}
	json_object_put(rep);
	return rc;
}

static int bad(const char *fmt, const char *arg)
{
	fprintf(stderr, "understudyctl: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\n");
	us_cmd_usage(stderr);
	return US_EX_USAGE;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const struct us_cmd *cmd;
	json_object *req;
	char err[256];
	double every;
	int c, rc, nargs = 0;
	char **args;

	signal(SIGPIPE, SIG_IGN);       /* a closed socket is an error to report */
	while ((c = getopt_long(argc, argv, "+s:jh", opts, NULL)) != -1) {
		switch (c) {
		case 's': sock_path = optarg; break;
		case 'j': as_json = true; break;
		case 'h': us_cmd_usage(stdout); return US_EX_OK;
		default: us_cmd_usage(stderr); return US_EX_USAGE;
		}
	}
	if (optind >= argc)
		return bad("%s", "a command is required");
	cmd = us_cmd_find(argv[optind]);
	if (!cmd)
		return bad("unknown command \"%s\"", argv[optind]);
	/* --json may also follow the command */
	args = calloc((size_t)argc, sizeof(*args));
	if (!args)
		return US_EX_USAGE;
	for (int i = optind + 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json"))
			as_json = true;
		else
			args[nargs++] = argv[i];
	}
	req = json_object_new_object();
	json_object_object_add(req, "cmd", json_object_new_string(cmd->name));
	if (us_cmd_parse(cmd, nargs, args, req, &every, err, sizeof(err))) {
		free(args);
		json_object_put(req);
		return bad("%s", err);
	}
	free(args);
	if (cmd->local) {
		/* runs here, without the daemon */
		rc = cmd->local(req, as_json);
		json_object_put(req);
		return rc;
	}
	if (every < 0)
		every = 2;      /* --watch without a period */
	if (every <= 0) {
		rc = run(cmd, req);
	} else {
		for (;;) {
			if (!as_json)
				printf("\033[H\033[2J");
			rc = run(cmd, req);
			if (rc == US_EX_UNREACHABLE)
				break;
			fflush(stdout);
			usleep((useconds_t)(every * 1e6));
		}
	}
	json_object_put(req);
	return rc;
}
