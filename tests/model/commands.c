// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The command table and its documents: the man page (understudyctl.8.scd, the
 * COMMANDS section) and the README (understudyctl's usage and the control
 * protocol's requests) list exactly the commands of the table, with its
 * arguments; and understudyctl's argument parsing follows the table.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "fixture.h"

#define MAXC 64

struct cmdlist {
	int n;
	char name[MAXC][32];
	char syn[MAXC][160];    /* "" when the document gives none */
};

/* The repository: the tests run from it (make), or from its build/. */
static const char *repo_file(const char *rel, char *buf, size_t len)
{
	char exe[PATH_MAX / 2];
	ssize_t n;

	snprintf(buf, len, "%s", rel);
	if (!access(buf, R_OK))
		return buf;
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		char *slash;

		exe[n] = 0;
		for (int up = 0; up < 2 && (slash = strrchr(exe, '/')); up++)
			*slash = 0;
		snprintf(buf, len, "%s/%s", exe, rel);
	}
	return buf;
}

static char *slurp(const char *rel)
{
	char path[PATH_MAX];
	FILE *f = fopen(repo_file(rel, path, sizeof(path)), "r");
	char *buf;
	long n;

	if (!f) {
		th_fail(rel, strerror(errno), "readable");
		return NULL;
	}
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = calloc(1, (size_t)n + 1);
	if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	return buf;
}

static void add(struct cmdlist *l, const char *name, size_t nlen, const char *syn)
{
	if (l->n == MAXC)
		return;
	snprintf(l->name[l->n], sizeof(l->name[0]), "%.*s", (int)nlen, name);
	snprintf(l->syn[l->n], sizeof(l->syn[0]), "%s", syn ? syn : "");
	l->n++;
}

/* scdoc: "*add* _NAME_ [*--weight* _W_]" -> "add NAME [--weight W]" */
static void unmark(const char *s, size_t n, char *out, size_t len)
{
	size_t o = 0;

	for (size_t i = 0; i < n && o + 1 < len; i++)
		if (s[i] != '*' && s[i] != '_')
			out[o++] = s[i];
	out[o] = 0;
}

/* The man page's COMMANDS section: a line that starts with *name*. */
static void from_man(const char *text, struct cmdlist *l)
{
	const char *p = strstr(text, "\n# COMMANDS\n"), *end;

	if (!p)
		return;
	p += strlen("\n# COMMANDS\n");
	end = strstr(p, "\n# ");
	while (p && *p && (!end || p < end)) {
		const char *e = strchr(p, '\n');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		char syn[160];

		if (n > 1 && p[0] == '*') {
			const char *close = memchr(p + 1, '*', n - 1);

			unmark(p, n, syn, sizeof(syn));
			if (close)
				add(l, p + 1, (size_t)(close - p - 1), syn);
		}
		p = e ? e + 1 : NULL;
	}
}

/* The README's understudyctl block: "  SYNOPSIS   help" lines. */
static void from_readme_usage(const char *text, struct cmdlist *l)
{
	const char *p = strstr(text, "\n### understudyctl\n"), *end;

	if (!p || !(p = strstr(p, "COMMAND [ARGS]\n")))
		return;
	end = strstr(p, "\nexit codes:");
	for (p = strchr(p, '\n') + 1; p && *p && (!end || p < end);) {
		const char *e = strchr(p, '\n');
		size_t n = e ? (size_t)(e - p) : strlen(p);

		if (n > 2 && p[0] == ' ' && p[1] == ' ' && p[2] != ' ') {
			const char *gap = strstr(p + 2, "  ");
			size_t sn = gap && gap < p + n ? (size_t)(gap - p - 2) : n - 2;
			size_t wn = strcspn(p + 2, " \n");
			char syn[160];

			snprintf(syn, sizeof(syn), "%.*s", (int)sn, p + 2);
			add(l, p + 2, wn, syn);
		}
		p = e ? e + 1 : NULL;
	}
}

/* The README's control protocol: {"cmd":"a"|"b"|...} */
static void from_readme_protocol(const char *text, struct cmdlist *l)
{
	for (const char *p = strstr(text, "{\"cmd\":"); p; p = strstr(p + 1, "{\"cmd\":")) {
		const char *q = p + 7;

		while (*q == '"') {
			const char *e = strchr(q + 1, '"');
			bool seen = false;

			if (!e)
				break;
			for (int i = 0; i < l->n; i++)
				seen |= strlen(l->name[i]) == (size_t)(e - q - 1) &&
					!strncmp(l->name[i], q + 1, (size_t)(e - q - 1));
			if (!seen)
				add(l, q + 1, (size_t)(e - q - 1), NULL);
			q = e + 1;
			if (*q != '|')
				break;
			q++;
		}
	}
}

/* The document lists the table's commands, no other, with their synopses. */
static void same_as_table(const char *doc, const struct cmdlist *l, bool synopses)
{
	int ntable = 0;

	for (const struct us_cmd *c = us_cmds; c->name; c++) {
		char syn[160];
		int k;

		/* a command understudyctl runs itself is no request of the protocol */
		if (!synopses && c->local)
			continue;
		ntable++;
		for (k = 0; k < l->n; k++)
			if (!strcmp(l->name[k], c->name))
				break;
		if (k == l->n) {
			th_fail(doc, "no such command", c->name);
			continue;
		}
		us_cmd_synopsis(c, syn, sizeof(syn));
		if (synopses && strcmp(l->syn[k], syn))
			th_fail(doc, l->syn[k], syn);
	}
	for (int k = 0; k < l->n; k++)
		if (!us_cmd_find(l->name[k]) || (!synopses && us_cmd_find(l->name[k])->local))
			th_fail(doc, l->name[k], "only commands of the table (the daemon's)");
	th_eqf(l->n, ntable, "%s: commands", doc);
}

TH_TEST(commands)
{
	if (th_subtest("man-page")) {
		char *t = slurp("docs/understudyctl.8.scd");
		struct cmdlist l = { 0 };

		if (t) {
			from_man(t, &l);
			same_as_table("docs/understudyctl.8.scd", &l, true);
		}
		free(t);
	}

	if (th_subtest("readme-usage")) {
		char *t = slurp("README.md");
		struct cmdlist l = { 0 };

		if (t) {
			from_readme_usage(t, &l);
			same_as_table("README.md: understudyctl", &l, true);
		}
		free(t);
	}

	if (th_subtest("readme-protocol")) {
		char *t = slurp("README.md");
		struct cmdlist l = { 0 };

		if (t) {
			from_readme_protocol(t, &l);
			same_as_table("README.md: control protocol", &l, false);
		}
		free(t);
	}

	if (th_subtest("arguments-from-the-table")) {
		const struct us_cmd *add = us_cmd_find("add");
		char *ok[] = { "v2", "sip", "198.18.1.5", "2.0", "--weight", "7", "--active" };
		char *few[] = { "v2", "sip" };
		char *badw[] = { "v2", "sip", "198.18.1.5", "2.0", "--weight", "0" };
		json_object *req = json_object_new_object(), *v;
		char err[256];
		double client;

		EQ("add: parsed", us_cmd_parse(add, 7, ok, req, &client, err, sizeof(err)), 0);
		EQ("add: weight", json_object_object_get_ex(req, "weight", &v) ?
		   json_object_get_int(v) : -1, 7);
		if (!json_object_object_get_ex(req, "state", &v) ||
		    strcmp(json_object_get_string(v), "active"))
			th_fail("add --active", json_object_to_json_string(req), "state active");
		EQ("add: too few", us_cmd_parse(add, 2, few, req, &client, err, sizeof(err)),
		   -EINVAL);
		if (!strstr(err, "ADDRESS is required"))
			th_fail("add: too few: why", err, "ADDRESS is required");
		EQ("add: weight 0", us_cmd_parse(add, 6, badw, req, &client, err, sizeof(err)),
		   -EINVAL);
		if (!strstr(err, "1..65535"))
			th_fail("add: weight 0: why", err, "the range");
		json_object_put(req);
		req = json_object_new_object();
		{
			char *both[] = { "c", "sip", "198.18.1.6", "1.0", "--active", "--control" };
			char *ctl[] = { "c", "sip", "198.18.1.6", "1.0", "--control" };

			EQ("add --active --control", us_cmd_parse(add, 6, both, req, &client, err,
								 sizeof(err)), -EINVAL);
			if (!strstr(err, "--active and --control exclude each other"))
				th_fail("add --active --control: why", err, "they exclude each other");
			json_object_put(req);
			req = json_object_new_object();
			EQ("add --control", us_cmd_parse(add, 5, ctl, req, &client, err, sizeof(err)),
			   0);
			if (!json_object_object_get_ex(req, "state", &v) ||
			    strcmp(json_object_get_string(v), "control"))
				th_fail("add --control", json_object_to_json_string(req),
					"state control");
		}
		json_object_put(req);
	}
}
