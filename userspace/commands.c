// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The control commands, from one table: see commands.h. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "daemon.h"
#include "replay.h"
#include "sbuf.h"

const char *const us_exit_text[4] = {
	[US_EX_OK] = "done",
	[US_EX_REFUSED] = "refused by the daemon",
	[US_EX_USAGE] = "bad arguments",
	[US_EX_UNREACHABLE] = "daemon unreachable",
};

#define NAME_ARG { US_ARG_POS, "name", "NAME", US_T_STRING, 0, 0, NULL }
#define REASON_ARG { US_ARG_POS_OPT, "reason", "REASON", US_T_STRING, 0, 0, NULL }
#define LIMIT_ARG { US_ARG_POS_OPT, "limit", "LIMIT", US_T_INT, 1, 100000, NULL }
#define MOVE(n, h) { n, h, { NAME_ARG, REASON_ARG }, us_cmd_move, false, NULL, NULL }

const struct us_cmd us_cmds[] = {
	{ "status", "services and machines: state, req/s, error %, p50/p99, verdict",
	  { { US_ARG_CLIENT, "watch", "SECONDS", US_T_INT, 0, 0, NULL } },
	  us_cmd_status, false, us_print_status, NULL },
	{ "machines", "every machine record", { { 0 } }, us_cmd_machines, false, us_print_machines,
	  NULL },
	{ "add", "add a machine (in simulation unless --active or --control)",
	  { NAME_ARG,
	    { US_ARG_POS, "service", "SERVICE", US_T_STRING, 0, 0, NULL },
	    { US_ARG_POS, "address", "ADDRESS", US_T_STRING, 0, 0, NULL },
	    { US_ARG_POS, "version", "VERSION", US_T_STRING, 0, 0, NULL },
	    { US_ARG_OPT, "weight", "W", US_T_INT, 1, 65535, NULL },
	    { US_ARG_FLAG, "state", "active", US_T_STRING, 0, 0, "active" },
	    { US_ARG_FLAG, "state", "control", US_T_STRING, 0, 0, "control" } },
	  us_cmd_add, false, us_print_added, NULL },
	{ "remove", "remove a machine (an active one drains first)", { NAME_ARG }, us_cmd_move,
	  false, NULL, NULL },
	MOVE("promote", "simulation -> active"),
	MOVE("demote", "active -> draining"),
	MOVE("reject", "simulation -> rejected"),
	MOVE("readmit", "rejected or draining -> simulation (fresh evidence)"),
	{ "explain", "the last judgement, criterion by criterion", { NAME_ARG }, us_cmd_explain,
	  false, us_print_explain, NULL },
	{ "events", "the last transitions (audit trail)", { LIMIT_ARG }, us_cmd_events, false,
	  us_print_events, NULL },
	{ "diffs", "the last sampled disagreements (Call-ID, both codes, ms)", { LIMIT_ARG },
	  us_cmd_diffs, false, us_print_diffs, NULL },
	{ "reload", "re-read the configuration", { { 0 } }, us_cmd_reload, true, us_print_reloaded,
	  NULL },
	{ "replay", "recorded windows through the judge, offline (docs/replay.md)",
	  { { US_ARG_POS, "file", "FILE", US_T_STRING, 0, 0, NULL },
	    { US_ARG_OPT, "policy", "FILE.yaml", US_T_STRING, 0, 0, NULL },
	    { US_ARG_OPT, "service", "NAME", US_T_STRING, 0, 0, NULL },
	    { US_ARG_OPT, "config", "CONFIG", US_T_STRING, 0, 0, NULL } },
	  NULL, false, NULL, us_replay_cmd },
	{ NULL, NULL, { { 0 } }, NULL, false, NULL, NULL },
};

const struct us_cmd *us_cmd_find(const char *name)
{
	for (const struct us_cmd *c = us_cmds; c->name; c++)
		if (!strcmp(c->name, name))
			return c;
	return NULL;
}

int us_cmd_synopsis(const struct us_cmd *c, char *buf, size_t len)
{
	struct us_sbuf b;

	us_sbuf_fixed(&b, buf, len);
	us_sbuf_printf(&b, "%s", c->name);
	for (const struct us_cmd_arg *a = c->args; a < c->args + US_CMD_ARGS && a->kind; a++) {
		switch (a->kind) {
		case US_ARG_POS:
			us_sbuf_printf(&b, " %s", a->meta);
			break;
		case US_ARG_POS_OPT:
			us_sbuf_printf(&b, " [%s]", a->meta);
			break;
		case US_ARG_OPT:
			us_sbuf_printf(&b, " [--%s %s]", a->key, a->meta);
			break;
		case US_ARG_FLAG:
			us_sbuf_printf(&b, " [--%s]", a->meta);
			break;
		case US_ARG_CLIENT:
			us_sbuf_printf(&b, " [--%s [%s]]", a->key, a->meta);
			break;
		default:
			break;
		}
	}
	return (int)b.len;
}

void us_cmd_usage(FILE *f)
{
	char syn[160];

	fprintf(f, "usage: understudyctl [--socket PATH] [--json] COMMAND [ARGS]\ncommands:\n");
	for (const struct us_cmd *c = us_cmds; c->name; c++) {
		us_cmd_synopsis(c, syn, sizeof(syn));
		if (strlen(syn) < 29)
			fprintf(f, "  %-28s %s\n", syn, c->help);
		else
			fprintf(f, "  %s\n  %-28s %s\n", syn, "", c->help);
	}
	fprintf(f, "options:\n"
		"  -s, --socket PATH   control socket (default " US_DEFAULT_SOCKET ")\n"
		"  -j, --json          print the daemon's JSON answer\n"
		"  -h, --help          this text\n"
		"exit codes:");
	for (int i = 0; i < 4; i++)
		fprintf(f, "%s %d %s", i ? "," : "", i, us_exit_text[i]);
	fprintf(f, "\n");
}

static int bad(char *err, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int bad(char *err, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, len, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* A value of an argument as the request wants it; 0 or -EINVAL. */
static int put_value(const struct us_cmd *c, const struct us_cmd_arg *a, const char *v,
		     json_object *req, char *err, size_t len)
{
	if (a->type == US_T_INT) {
		char *end;
		long long x = strtoll(v, &end, 10);

		if (!*v || *end || x < a->min || x > a->max)
			return bad(err, len, "%s: %s \"%s\" is not an integer %lld..%lld", c->name,
				   a->meta, v, a->min, a->max);
		json_object_object_add(req, a->key, json_object_new_int64(x));
	} else {
		json_object_object_add(req, a->key, json_object_new_string(v));
	}
	return 0;
}

int us_cmd_parse(const struct us_cmd *c, int argc, char **argv, json_object *req,
		 double *client, char *err, size_t len)
{
	const struct us_cmd_arg *pos = c->args, *end = c->args + US_CMD_ARGS;
	int i;

	*client = 0;
	for (i = 0; i < argc; i++) {
		const char *w = argv[i];
		const struct us_cmd_arg *a;

		if (w[0] == '-' && w[1] == '-') {
			for (a = c->args; a < end && a->kind; a++)
				if ((a->kind == US_ARG_OPT || a->kind == US_ARG_CLIENT) &&
				    !strcmp(w + 2, a->key))
					break;
				else if (a->kind == US_ARG_FLAG && !strcmp(w + 2, a->meta))
					break;
			if (a == end || !a->kind)
				return bad(err, len, "%s: unexpected argument \"%s\"", c->name, w);
			if (a->kind == US_ARG_FLAG) {
				json_object *was;

				/* flags that set the same key exclude each other */
				if (json_object_object_get_ex(req, a->key, &was) &&
				    strcmp(json_object_get_string(was), a->set))
					return bad(err, len, "%s: --%s and --%s exclude each other",
						   c->name, json_object_get_string(was), a->meta);
				json_object_object_add(req, a->key, json_object_new_string(a->set));
			} else if (a->kind == US_ARG_CLIENT) {
				*client = -1;
				if (i + 1 < argc && atof(argv[i + 1]) > 0)
					*client = atof(argv[++i]);
			} else if (i + 1 >= argc) {
				return bad(err, len, "%s: --%s needs a value (%s)", c->name, a->key,
					   a->meta);
			} else if (put_value(c, a, argv[++i], req, err, len)) {
				return -EINVAL;
			}
			continue;
		}
		while (pos < end && pos->kind && pos->kind != US_ARG_POS && pos->kind != US_ARG_POS_OPT)
			pos++;
		if (pos == end || !pos->kind)
			return bad(err, len, "%s: unexpected argument \"%s\"", c->name, w);
		if (put_value(c, pos, w, req, err, len))
			return -EINVAL;
		pos++;
	}
	for (; pos < end && pos->kind; pos++) {
		if (pos->kind == US_ARG_POS) {
			char syn[160];

			us_cmd_synopsis(c, syn, sizeof(syn));
			return bad(err, len, "%s: %s is required (%s)", c->name, pos->meta, syn);
		}
	}
	return 0;
}

/* ---- the daemon's side ------------------------------------------------------ */

json_object *us_err_reply(const char *fmt, ...)
{
	json_object *o = json_object_new_object();
	char buf[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	json_object_object_add(o, "ok", json_object_new_boolean(0));
	json_object_object_add(o, "error", json_object_new_string(buf));
	return o;
}

json_object *us_ok_reply(void)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "ok", json_object_new_boolean(1));
	return o;
}

/* The request's arguments as the table says: present when required, of
 * their type and range. NULL, or the refusal. */
static json_object *check_args(const struct us_cmd *c, json_object *req)
{
	for (const struct us_cmd_arg *a = c->args; a < c->args + US_CMD_ARGS && a->kind; a++) {
		json_object *v;

		if (a->kind == US_ARG_CLIENT)
			continue;
		if (!json_object_object_get_ex(req, a->key, &v)) {
			if (a->kind == US_ARG_POS)
				return us_err_reply("%s: \"%s\" (%s) is required", c->name, a->key,
						    a->type == US_T_INT ? "an integer" : "a string");
			continue;
		}
		if (a->type == US_T_STRING && !json_object_is_type(v, json_type_string))
			return us_err_reply("%s: \"%s\" must be a string", c->name, a->key);
		if (a->type == US_T_INT && (!json_object_is_type(v, json_type_int) ||
					    json_object_get_int64(v) < a->min ||
					    json_object_get_int64(v) > a->max))
			return us_err_reply("%s: \"%s\" must be an integer %lld..%lld", c->name, a->key,
					    a->min, a->max);
	}
	return NULL;
}

char *us_cmd_dispatch(struct us_daemon *d, const char *text)
{
	json_object *req = json_tokener_parse(text), *rep, *v;
	const struct us_cmd *c = NULL;
	char *out;

	if (!req || !json_object_is_type(req, json_type_object)) {
		rep = us_err_reply("request is not a JSON object");
	} else if (!json_object_object_get_ex(req, "cmd", &v) ||
		   !json_object_is_type(v, json_type_string)) {
		rep = us_err_reply("request has no \"cmd\" string");
	} else if (!(c = us_cmd_find(json_object_get_string(v)))) {
		struct us_sbuf b;
		char names[256];

		us_sbuf_fixed(&b, names, sizeof(names));
		for (const struct us_cmd *k = us_cmds; k->name; k++)
			us_sbuf_printf(&b, "%s%s", k == us_cmds ? "" : ", ", k->name);
		rep = us_err_reply("unknown command \"%s\" (%s)", json_object_get_string(v), names);
	} else if (!c->handler) {
		rep = us_err_reply("%s runs in understudyctl, without the daemon", c->name);
	} else if (!(rep = check_args(c, req))) {
		if (!c->unlocked)
			pthread_mutex_lock(&d->lock);
		rep = c->handler(d, req);
		if (!c->unlocked)
			pthread_mutex_unlock(&d->lock);
	}
	out = strdup(json_object_to_json_string_ext(rep, JSON_C_TO_STRING_PLAIN));
	json_object_put(rep);
	if (req)
		json_object_put(req);
	return out;
}
