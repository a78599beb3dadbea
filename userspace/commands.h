/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The control commands, in one table (as bpftool's): name, arguments, help,
 * the daemon's handler and understudyctl's printer. The daemon dispatches
 * from it; understudyctl parses its arguments and prints its usage from it;
 * tests/controller/commands.c checks that the man page and the README list
 * exactly these commands, with these arguments.
 *
 * The control protocol (Unix socket, one request per connection): the
 * client sends one JSON object and a newline, the daemon answers one JSON
 * object and a newline and closes. A request is {"cmd": NAME} with the
 * command's arguments under their keys; every answer has "ok" (true or
 * false), and a refusal "error" (a sentence).
 */
#ifndef US_COMMANDS_H
#define US_COMMANDS_H

#include <stdbool.h>
#include <stdio.h>
#include <json-c/json.h>

struct us_daemon;

/* understudyctl's exit codes */
enum us_exit {
	US_EX_OK = 0,           /* done */
	US_EX_REFUSED = 1,      /* refused by the daemon (its reason is printed) */
	US_EX_USAGE = 2,        /* bad arguments (usage is printed) */
	US_EX_UNREACHABLE = 3,  /* the daemon could not be reached */
};
extern const char *const us_exit_text[4];

enum us_arg_kind {
	US_ARG_END = 0,
	US_ARG_POS,             /* a word, in order */
	US_ARG_POS_OPT,         /* a last, optional word */
	US_ARG_OPT,             /* --option VALUE */
	US_ARG_FLAG,            /* --flag: key gets the value `set` */
	US_ARG_CLIENT,          /* --option [VALUE]: understudyctl's own, not sent */
};

enum us_arg_type { US_T_STRING = 0, US_T_INT };

struct us_cmd_arg {
	enum us_arg_kind kind;
	const char *key;        /* the request's key (or the client option's name) */
	const char *meta;       /* in usage: NAME, W, ... */
	enum us_arg_type type;
	long long min, max;     /* US_T_INT */
	const char *set;        /* US_ARG_FLAG: the value */
};

#define US_CMD_ARGS 8

struct us_cmd {
	const char *name;
	const char *help;       /* one line */
	struct us_cmd_arg args[US_CMD_ARGS];
	/* the daemon: the answer to a request (the daemon's lock held unless
	 * unlocked) */
	json_object *(*handler)(struct us_daemon *d, json_object *req);
	bool unlocked;
	/* understudyctl: prints an answer that says ok (NULL: "NAME: CMD done") */
	void (*print)(json_object *req, json_object *rep);
	/* a command understudyctl runs itself, without the daemon (handler
	 * NULL): its exit code (enum us_exit) */
	int (*local)(json_object *req, bool json);
};

extern const struct us_cmd us_cmds[];   /* ends with a NULL name */

const struct us_cmd *us_cmd_find(const char *name);
/* "add NAME SERVICE ADDRESS VERSION [--weight W] [--active]" */
int us_cmd_synopsis(const struct us_cmd *c, char *buf, size_t len);
/* understudyctl's usage, from the table */
void us_cmd_usage(FILE *f);
/* understudyctl: argv (after the command's name) into the request; 0, or
 * -EINVAL with the reason in err. Client options go to *client (--watch:
 * its value, or 0 when absent; -1 when the option is given bare). */
int us_cmd_parse(const struct us_cmd *c, int argc, char **argv, json_object *req,
		 double *client, char *err, size_t len);
/* The daemon: the answer to a request text (a malloc'd JSON text). */
char *us_cmd_dispatch(struct us_daemon *d, const char *text);

#endif
