// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Replay window records through the judge: see replay.h. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "judging.h"
#include "replay.h"
#include "window.h"
#include "wrecord.h"

/* A machine's judging period, as the daemon carries it. */
struct period {
	char machine[64];
	double since;
	struct us_judging judging;
	size_t windows;                 /* lines of this period */
	int first_decision;             /* enum us_decision, US_D_NONE until one */
	size_t decided_at;              /* its window */
	double decided_sim_s;
	bool held;
};

struct replay {
	struct period *p;
	size_t n, cap;
};

static int fail(char *err, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, len, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static struct period *period_of(struct replay *r, const struct us_wrecord *w)
{
	struct period *p = NULL;

	for (size_t i = 0; i < r->n; i++)
		if (!strcmp(r->p[i].machine, w->machine))
			p = &r->p[i];
	if (!p) {
		if (r->n == r->cap) {
			size_t cap = r->cap ? 2 * r->cap : 4;
			struct period *np = realloc(r->p, cap * sizeof(*np));

			if (!np)
				return NULL;
			r->p = np;
			r->cap = cap;
		}
		p = &r->p[r->n++];
		memset(p, 0, sizeof(*p));
		snprintf(p->machine, sizeof(p->machine), "%s", w->machine);
		p->since = w->since;
		return p;
	}
	if (p->since != w->since) {
		/* it entered simulation again: nothing of the last period counts */
		memset(&p->judging, 0, sizeof(p->judging));
		p->since = w->since;
		p->windows = 0;
		p->first_decision = US_D_NONE;
	}
	return p;
}

static const struct us_policy *policy_for(const struct us_replay_opts *o,
					  const struct us_wrecord *w, const struct us_policy *def)
{
	const struct us_conf_service *s;

	if (o->policy)
		return o->policy;
	if (!o->conf)
		return def;
	s = us_conf_find_service(o->conf, o->service ? o->service : w->service);
	return s ? &s->policy : NULL;
}

static void print_text(FILE *out, const struct period *p, const struct us_wrecord *w,
		       const struct us_judgement *j, int jerr, bool same)
{
	char buf[8192];

	fprintf(out, "%s window %zu (%.0f s in simulation): ", p->machine, p->windows,
		w->w.sim_seconds);
	if (jerr) {
		fprintf(out, "not judged: the judge refused the input (%s)\n", strerror(-jerr));
		return;
	}
	fprintf(out, "%s, streak %u of %u, decision %s%s", us_verdict_name(j->verdict), j->streak,
		j->windows, us_decision_name(j->decision),
		j->held && j->decision != US_D_NONE ? " (held: policy mode hold)" : "");
	if (w->judged)
		fprintf(out, "; recorded: %s, %s%s", w->verdict, w->decision, same ? "" : " (DIFFERS)");
	fprintf(out, "\n  %s\n", j->summary);
	if (j->stuck)
		fprintf(out, "  stuck: %s\n", j->stuck_why);
	/* the whole explanation where something is decided */
	if (j->decision != US_D_NONE && us_judge_explain(j, buf, sizeof(buf)) > 0) {
		for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n"))
			fprintf(out, "    %s\n", line);
	}
}

static void print_json(FILE *out, const struct period *p, size_t lineno,
		       const struct us_wrecord *w, const struct us_judgement *j, int jerr, bool same)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "line", json_object_new_int64((int64_t)lineno));
	json_object_object_add(o, "machine", json_object_new_string(p->machine));
	json_object_object_add(o, "window", json_object_new_int64((int64_t)p->windows));
	json_object_object_add(o, "t", json_object_new_double(w->w.t));
	json_object_object_add(o, "sim_seconds", json_object_new_double(w->w.sim_seconds));
	json_object_object_add(o, "judged", json_object_new_boolean(!jerr));
	json_object_object_add(o, "judgement", jerr ? NULL : us_judgement_json(j));
	if (w->judged) {
		json_object *r = json_object_new_object();

		json_object_object_add(r, "verdict", json_object_new_string(w->verdict));
		json_object_object_add(r, "decision", json_object_new_string(w->decision));
		json_object_object_add(r, "held", json_object_new_boolean(w->held));
		json_object_object_add(o, "recorded", r);
		json_object_object_add(o, "same", json_object_new_boolean(same));
	}
	fprintf(out, "%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
							    JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
}

int us_replay(FILE *in, const char *name, const struct us_replay_opts *o, FILE *out,
	      struct us_replay_result *res, char *err, size_t len)
{
	struct replay r = { 0 };
	struct us_policy def;
	struct us_wrecord *w = malloc(sizeof(*w));
	size_t cap = 0, lineno = 0;
	char *line = NULL, why[256];
	ssize_t k;
	int rc = 0;

	memset(res, 0, sizeof(*res));
	us_policy_default(&def);
	if (!w)
		return -ENOMEM;
	while ((k = getline(&line, &cap, in)) >= 0) {
		const struct us_policy *pol;
		enum json_tokener_error jerr;
		struct us_judgement j;
		struct us_judging next;
		struct period *p;
		json_object *jo;
		bool same = true;
		int e;

		lineno++;
		if (k == 0 || line[strspn(line, " \t\r\n")] == 0)
			continue;               /* blank lines are allowed */
		jo = json_tokener_parse_verbose(line, &jerr);
		if (!jo) {
			rc = fail(err, len, "%s:%zu: not valid JSON: %s", name, lineno,
				  json_tokener_error_desc(jerr));
			break;
		}
		e = us_wrecord_parse(jo, w, why, sizeof(why));
		json_object_put(jo);
		if (e) {
			rc = fail(err, len, "%s:%zu: %s", name, lineno, why);
			break;
		}
		pol = policy_for(o, w, &def);
		if (!pol) {
			rc = fail(err, len, "%s:%zu: service: no service \"%s\" in the configuration",
				  name, lineno, o->service ? o->service : w->service);
			break;
		}
		p = period_of(&r, w);
		if (!p) {
			rc = -ENOMEM;
			break;
		}
		p->windows++;
		res->windows++;
		memset(&j, 0, sizeof(j));
		e = us_window_judge(pol, &p->judging, &w->w, &next, &j);
		p->judging = next;
		if (!e) {
			res->judged++;
			if (j.decision != US_D_NONE) {
				res->decisions++;
				if (p->first_decision == US_D_NONE) {
					p->first_decision = j.decision;
					p->decided_at = p->windows;
					p->decided_sim_s = w->w.sim_seconds;
					p->held = j.held;
				}
			}
		}
		if (w->judged) {
			res->recorded++;
			same = !e && !strcmp(w->verdict, us_verdict_name(j.verdict)) &&
			       !strcmp(w->decision, us_decision_name(j.decision));
			res->differ += !same;
		}
		if (o->json)
			print_json(out, p, lineno, w, &j, e, same);
		else
			print_text(out, p, w, &j, e, same);
	}
	if (!rc && ferror(in))
		rc = fail(err, len, "%s:%zu: %s", name, lineno + 1, strerror(errno));
	if (!rc && !o->json) {
		for (size_t i = 0; i < r.n; i++) {
			const struct period *p = &r.p[i];

			if (p->first_decision == US_D_NONE)
				fprintf(out, "%s: no decision in %zu windows of its last period\n",
					p->machine, p->windows);
			else
				fprintf(out, "%s: %s%s at window %zu (%.0f s in simulation)\n", p->machine,
					us_decision_name(p->first_decision),
					p->held ? " (held)" : "", p->decided_at, p->decided_sim_s);
		}
		if (res->recorded)
			fprintf(out, "%zu of %zu windows recorded the daemon's judgement; %zu differ "
				"from this replay's\n", res->recorded, res->windows, res->differ);
	}
	free(line);
	free(w);
	free(r.p);
	return rc;
}

static const char *req_str(json_object *req, const char *k)
{
	json_object *v;

	return json_object_object_get_ex(req, k, &v) ? json_object_get_string(v) : NULL;
}

int us_replay_cmd(json_object *req, bool json)
{
	const char *file = req_str(req, "file"), *pol = req_str(req, "policy");
	const char *svc = req_str(req, "service"), *conf_path = req_str(req, "config");
	struct us_replay_opts o = { .service = svc, .json = json };
	struct us_replay_result res;
	struct us_policy p;
	struct us_conf conf;
	bool have_conf = false;
	char err[4096];
	FILE *in;
	int rc;

	if (pol && (svc || conf_path)) {
		fprintf(stderr, "understudyctl: replay: --policy, or --service and --config: not both\n");
		return US_EX_USAGE;
	}
	if (pol) {
		rc = us_policy_load(pol, &p, err, sizeof(err));
		if (rc) {
			fprintf(stderr, "understudyctl: replay: %s\n", err);
			return US_EX_USAGE;
		}
		o.policy = &p;
	} else if (svc || conf_path) {
		rc = us_conf_load(conf_path ? conf_path : US_CONF_DEFAULT_PATH, &conf, err,
				  sizeof(err));
		if (rc) {
			fprintf(stderr, "understudyctl: replay: %s\n", err);
			return US_EX_USAGE;
		}
		have_conf = true;
		o.conf = &conf;
		if (svc && !us_conf_find_service(&conf, svc)) {
			fprintf(stderr, "understudyctl: replay: no service \"%s\" in %s\n", svc,
				conf.path);
			us_conf_free(&conf);
			return US_EX_USAGE;
		}
	}
	in = strcmp(file, "-") ? fopen(file, "r") : stdin;
	if (!in) {
		fprintf(stderr, "understudyctl: replay: %s: %s\n", file, strerror(errno));
		if (have_conf)
			us_conf_free(&conf);
		return US_EX_USAGE;
	}
	rc = us_replay(in, in == stdin ? "<stdin>" : file, &o, stdout, &res, err, sizeof(err));
	if (in != stdin)
		fclose(in);
	if (have_conf)
		us_conf_free(&conf);
	if (rc) {
		fprintf(stderr, "understudyctl: replay: %s\n", rc == -EINVAL ? err : strerror(-rc));
		return US_EX_REFUSED;
	}
	return US_EX_OK;
}
