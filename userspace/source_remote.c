// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Every agent's counters, pulled and summed: see source_remote.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <curl/curl.h>

#include "counters.h"
#include "source_remote.h"

#define BODY_MAX (8u << 20)     /* an answer larger than this is refused */

/* One machine's counters from one agent: what it counted in lifetimes of
 * its counters before this one, and the last it said in this one. */
struct part {
	struct us_mstats base, last;
};

struct agent {
	struct us_remote_agent pub;
	char url[256];
	CURL *h;
	char *body;
	size_t len;
	bool too_big;
	struct part *m[US_MAX_MACHINES];
	__u64 st_base[US_ST_MAX], st_last[US_ST_MAX];
};

struct remote {
	struct us_source base;
	struct agent *a;
	size_t n;
	long timeout_ms;
	CURLM *multi;
	struct us_remote_agent *view;
	struct us_counts *prev;         /* the pooled totals the last read gave, per id */
	bool have_prev[US_MAX_MACHINES];
	struct us_counters_snap *snap;  /* scratch */
};

static double mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static size_t on_body(char *p, size_t sz, size_t nm, void *ctx)
{
	struct agent *a = ctx;
	size_t n = sz * nm;
	char *b;

	if (a->len + n > BODY_MAX) {
		a->too_big = true;
		return 0;
	}
	b = realloc(a->body, a->len + n + 1);
	if (!b)
		return 0;
	memcpy(b + a->len, p, n);
	a->len += n;
	b[a->len] = 0;
	a->body = b;
	return n;
}

static void words_add(__u64 *o, const __u64 *x, size_t n)
{
	for (size_t i = 0; i < n; i++)
		o[i] += x[i];
}

/* Did any counter go down? Then the counters started again. */
static bool went_down(const __u64 *now, const __u64 *before, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (now[i] < before[i])
			return true;
	return false;
}

/* Take an agent's answer into its parts. */
static int take(struct remote *r, struct agent *a)
{
	struct us_counters_snap *s = r->snap;
	json_object *o;
	char e[200];
	bool reset;

	o = json_tokener_parse(a->body ? a->body : "");
	if (!o) {
		snprintf(a->pub.error, sizeof(a->pub.error), "%s/counters: not JSON", a->url);
		return -EINVAL;
	}
	if (us_counters_parse(o, s, e, sizeof(e))) {
		json_object_put(o);
		snprintf(a->pub.error, sizeof(a->pub.error), "%s/counters: %s", a->url, e);
		return -EINVAL;
	}
	json_object_put(o);
	/* a new lifetime: its own word, or a counter that went down */
	reset = a->pub.ever && strcmp(s->boot, a->pub.boot);
	if (a->pub.ever && !reset) {
		reset = went_down(s->stats, a->st_last, US_ST_MAX);
		for (size_t i = 0; i < s->n && !reset; i++) {
			struct part *p = a->m[s->ids[i]];

			reset = p && went_down((const __u64 *)&s->m[i], (const __u64 *)&p->last,
					       US_MSTATS_WORDS);
		}
	}
	if (reset) {
		/* everything counted so far is kept as the base of the new lifetime */
		a->pub.resets++;
		words_add(a->st_base, a->st_last, US_ST_MAX);
		memset(a->st_last, 0, sizeof(a->st_last));
		for (size_t id = 0; id < US_MAX_MACHINES; id++)
			if (a->m[id]) {
				words_add((__u64 *)&a->m[id]->base, (const __u64 *)&a->m[id]->last,
					  US_MSTATS_WORDS);
				memset(&a->m[id]->last, 0, sizeof(a->m[id]->last));
			}
	}
	memcpy(a->st_last, s->stats, sizeof(a->st_last));
	for (size_t i = 0; i < s->n; i++) {
		struct part **p = &a->m[s->ids[i]];

		if (!*p && !(*p = calloc(1, sizeof(**p))))
			return -ENOMEM;
		(*p)->last = s->m[i];
	}
	snprintf(a->pub.boot, sizeof(a->pub.boot), "%s", s->boot);
	a->pub.ever = true;
	return 0;
}

/* Pull every agent at once; each one's state updated. */
static void pull(struct remote *r)
{
	int running = 1;

	for (size_t i = 0; i < r->n; i++) {
		struct agent *a = &r->a[i];

		free(a->body);
		a->body = NULL;
		a->len = 0;
		a->too_big = false;
		curl_multi_add_handle(r->multi, a->h);
	}
	while (running) {
		if (curl_multi_perform(r->multi, &running) != CURLM_OK)
			break;
		if (running && curl_multi_poll(r->multi, NULL, 0, 100, NULL) != CURLM_OK)
			break;
	}
	for (;;) {
		int left;
		CURLMsg *msg = curl_multi_info_read(r->multi, &left);
		struct agent *a = NULL;
		long status = 0;

		if (!msg)
			break;
		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&a);
		curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &status);
		a->pub.error[0] = 0;
		if (msg->data.result != CURLE_OK)
			snprintf(a->pub.error, sizeof(a->pub.error), "%s/counters: %s", a->url,
				 a->too_big ? "answer too large" : curl_easy_strerror(msg->data.result));
		else if (status != 200)
			snprintf(a->pub.error, sizeof(a->pub.error), "%s/counters: HTTP %ld", a->url,
				 status);
		else
			take(r, a);
		a->pub.stale = a->pub.error[0] != 0;
		if (!a->pub.stale)
			a->pub.last_ok = mono();
	}
	for (size_t i = 0; i < r->n; i++)
		curl_multi_remove_handle(r->multi, r->a[i].h);
}

static void mstats_sub(struct us_mstats *out, const struct us_mstats *a, const struct us_mstats *b)
{
	const __u64 *x = (const __u64 *)a, *y = (const __u64 *)b;
	__u64 *o = (__u64 *)out;

	for (size_t i = 0; i < US_MSTATS_WORDS; i++)
		o[i] = x[i] >= y[i] ? x[i] - y[i] : 0;
}

static int remote_read(struct us_source *s, const __u32 *ids, size_t n, struct us_counts *out)
{
	struct remote *r = (struct remote *)s;

	pull(r);
	for (size_t i = 0; i < n; i++) {
		struct us_counts *c = &out[i];
		__u32 id = ids[i];

		memset(c, 0, sizeof(*c));
		if (id >= US_MAX_MACHINES)
			continue;
		for (size_t k = 0; k < r->n; k++) {
			struct part *p = r->a[k].m[id];

			if (!p)
				continue;
			words_add((__u64 *)&c->total, (const __u64 *)&p->base, US_MSTATS_WORDS);
			words_add((__u64 *)&c->total, (const __u64 *)&p->last, US_MSTATS_WORDS);
			c->read = true;
		}
		if (!c->read)
			continue;
		if (r->have_prev[id]) {
			mstats_sub(&c->win, &c->total, &r->prev[id].total);
			c->have_win = true;
		}
		r->prev[id].total = c->total;
		r->have_prev[id] = true;
	}
	return 0;
}

static int remote_packets(struct us_source *s, __u64 out[US_ST_MAX])
{
	struct remote *r = (struct remote *)s;

	memset(out, 0, sizeof(__u64) * US_ST_MAX);
	for (size_t k = 0; k < r->n; k++) {
		words_add(out, r->a[k].st_base, US_ST_MAX);
		words_add(out, r->a[k].st_last, US_ST_MAX);
	}
	return 0;
}

static void remote_close(struct us_source *s)
{
	struct remote *r = (struct remote *)s;

	for (size_t i = 0; i < r->n; i++) {
		struct agent *a = &r->a[i];

		if (a->h)
			curl_easy_cleanup(a->h);
		free(a->body);
		for (size_t id = 0; id < US_MAX_MACHINES; id++)
			free(a->m[id]);
	}
	if (r->multi)
		curl_multi_cleanup(r->multi);
	free(r->a);
	free(r->view);
	free(r->prev);
	free(r->snap);
	free(r);
}

static const struct us_source_ops remote_ops = {
	.name = "remote",
	.read = remote_read,
	.packets = remote_packets,
	.close = remote_close,
};

const struct us_remote_agent *us_source_remote_agents(struct us_source *s, size_t *n)
{
	struct remote *r = (struct remote *)s;

	for (size_t i = 0; i < r->n; i++)
		r->view[i] = r->a[i].pub;
	*n = r->n;
	return r->view;
}

int us_source_remote(const struct us_remote_opts *o, struct us_source **out, char *err,
		     size_t errlen)
{
	struct remote *r;
	char url[300];

	*out = NULL;
	if (!o || !o->nagents || o->nagents > US_REMOTE_MAX_AGENTS || !o->agents ||
	    (!o->cert_file != !o->key_file)) {
		snprintf(err, errlen, "remote source: %s",
			 !o || !o->nagents || !o->agents ? "no agents" :
			 o->nagents > US_REMOTE_MAX_AGENTS ? "too many agents" :
			 "a client certificate needs its key, and a key its certificate");
		return -EINVAL;
	}
	for (size_t i = 0; i < o->nagents; i++) {
		const char *u = o->agents[i];
		size_t n = u ? strlen(u) : 0;

		if (!u || (strncmp(u, "http://", 7) && strncmp(u, "https://", 8)) || n >= 256 ||
		    u[n - 1] == '/' || strchr(u + 8, '/')) {
			snprintf(err, errlen, "remote source: agent %zu: \"%s\": not an http:// or "
				 "https:// URL without a path", i, u ? u : "");
			return -EINVAL;
		}
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT)) {
		snprintf(err, errlen, "remote source: libcurl cannot start");
		return -ENOMEM;
	}
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->base.ops = &remote_ops;
	r->n = o->nagents;
	r->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : 1000;
	r->a = calloc(r->n, sizeof(*r->a));
	r->view = calloc(r->n, sizeof(*r->view));
	r->prev = calloc(US_MAX_MACHINES, sizeof(*r->prev));
	r->snap = calloc(1, sizeof(*r->snap));
	r->multi = curl_multi_init();
	if (!r->a || !r->view || !r->prev || !r->snap || !r->multi)
		goto nomem;
	for (size_t i = 0; i < r->n; i++) {
		struct agent *a = &r->a[i];

		snprintf(a->url, sizeof(a->url), "%s", o->agents[i]);
		a->pub.url = a->url;
		a->h = curl_easy_init();
		if (!a->h)
			goto nomem;
		snprintf(url, sizeof(url), "%s/counters", a->url);
		curl_easy_setopt(a->h, CURLOPT_URL, url);
		curl_easy_setopt(a->h, CURLOPT_WRITEFUNCTION, on_body);
		curl_easy_setopt(a->h, CURLOPT_WRITEDATA, a);
		curl_easy_setopt(a->h, CURLOPT_PRIVATE, (char *)a);
		curl_easy_setopt(a->h, CURLOPT_TIMEOUT_MS, r->timeout_ms);
		curl_easy_setopt(a->h, CURLOPT_CONNECTTIMEOUT_MS, r->timeout_ms);
		curl_easy_setopt(a->h, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(a->h, CURLOPT_PROTOCOLS_STR, "http,https");
		if (o->ca_file)
			curl_easy_setopt(a->h, CURLOPT_CAINFO, o->ca_file);
		if (o->cert_file) {
			curl_easy_setopt(a->h, CURLOPT_SSLCERT, o->cert_file);
			curl_easy_setopt(a->h, CURLOPT_SSLKEY, o->key_file);
		}
	}
	*out = &r->base;
	return 0;
nomem:
	remote_close(&r->base);
	return -ENOMEM;
}
