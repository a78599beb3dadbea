// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The Prometheus metrics: the text exposition format of every machine's
 * counters (as the last window read them), states, verdicts and streaks,
 * and the data plane's packet counters.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "daemon.h"
#include "sbuf.h"
#include "validate.h"

/* Label values: control characters and bytes that are not UTF-8 as the
 * text \xNN (validate.h: Prometheus refuses a page with invalid UTF-8),
 * then backslash and quote escaped as the exposition format wants. */
static const char *esc(const char *s, char *out, size_t len)
{
	char safe[256];
	size_t j = 0;

	us_escape(s, safe, sizeof(safe));
	for (const char *p = safe; *p && j + 2 < len; p++) {
		if (*p == '\\' || *p == '"')
			out[j++] = '\\';
		out[j++] = *p;
	}
	out[j] = 0;
	return out;
}

static void help(struct us_sbuf *b, const char *name, const char *type, const char *text)
{
	us_sbuf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, text, name, type);
}

char *us_daemon_metrics(struct us_daemon *d)
{
	static const char *const codes[US_C_MAX] = { "200", "408", "480", "486", "487",
						     "500", "503", "504", "other" };
	struct us_sbuf b;
	__u64 st[US_ST_MAX];
	char lb[1280], sv[400], mn[400], vv[400];

	us_sbuf_heap(&b);
	pthread_mutex_lock(&d->lock);
#define LABELS(r) (snprintf(lb, sizeof(lb), "service=\"%s\",machine=\"%s\",version=\"%s\"", \
			    esc((r)->conf.service, sv, sizeof(sv)), esc((r)->name, mn, sizeof(mn)), \
			    esc((r)->conf.version, vv, sizeof(vv))), lb)
#define EACH for (size_t i = 0; i < d->model.n; i++) { \
		const struct us_rec *r = &d->model.r[i]; \
		const struct us_mstats *c = &r->obs.cur; (void)c; \
		if (r->state == US_MS_UNUSED) continue;
#define END }

	help(&b, "understudy_requests_total", "counter", "Requests sent to a machine (first sightings), by method.");
	EACH for (int m = 0; m < US_M_MAX; m++) if (c->req[m])
		us_sbuf_printf(&b, "understudy_requests_total{%s,method=\"%s\"} %llu\n", LABELS(r),
			us_method_name(m), (unsigned long long)c->req[m]); END
	help(&b, "understudy_request_retransmissions_total", "counter", "Request retransmissions sent to a machine.");
	EACH us_sbuf_printf(&b, "understudy_request_retransmissions_total{%s} %llu\n", LABELS(r),
		     (unsigned long long)c->retrans_req); END
	help(&b, "understudy_responses_total", "counter", "Response messages from a machine, by class.");
	EACH for (int k = 1; k <= 6; k++)
		us_sbuf_printf(&b, "understudy_responses_total{%s,class=\"%dxx\"} %llu\n", LABELS(r), k,
			(unsigned long long)c->resp_class[k]); END
	help(&b, "understudy_final_responses_total", "counter", "First final response per transaction, by status code.");
	EACH for (int k = 0; k < US_C_MAX; k++)
		us_sbuf_printf(&b, "understudy_final_responses_total{%s,code=\"%s\"} %llu\n", LABELS(r),
			codes[k], (unsigned long long)c->final_code[k]); END
	help(&b, "understudy_final_retransmissions_total", "counter", "Retransmitted final responses.");
	EACH us_sbuf_printf(&b, "understudy_final_retransmissions_total{%s} %llu\n", LABELS(r),
		     (unsigned long long)c->retrans_resp); END
	help(&b, "understudy_response_latency_seconds", "histogram", "Time from a request's first sighting to the machine's first final response.");
	EACH {
		__u64 cum = 0;

		/* a bucket per power of two: the upper bound of bucket k (the
		 * last sub-bucket of a power) is the lower bound of k + 1 */
		for (int k = 0; k + 1 < US_LAT_BUCKETS; k++) {
			cum += c->lat_hist[k];
			if ((k & ((1 << US_LAT_SUB_BITS) - 1)) == (1 << US_LAT_SUB_BITS) - 1)
				us_sbuf_printf(&b, "understudy_response_latency_seconds_bucket{%s,le=\"%.9g\"} %llu\n",
					LABELS(r), us_lat_bucket_lo(k + 1) / 1e9, (unsigned long long)cum);
		}
		us_sbuf_printf(&b, "understudy_response_latency_seconds_bucket{%s,le=\"+Inf\"} %llu\n",
			LABELS(r), (unsigned long long)c->lat_count);
		us_sbuf_printf(&b, "understudy_response_latency_seconds_sum{%s} %.9f\n", LABELS(r),
			c->lat_sum_ns / 1e9);
		us_sbuf_printf(&b, "understudy_response_latency_seconds_count{%s} %llu\n", LABELS(r),
			(unsigned long long)c->lat_count);
	} END
	help(&b, "understudy_paired_transactions_total", "counter", "Mirrored transactions with both final responses (on the simulation machine).");
	EACH {
		__u64 n = 0;

		for (int a = 0; a < US_O_MAX; a++)
			for (int o = 0; o < US_O_MAX; o++)
				n += c->pair.out[a][o];
		us_sbuf_printf(&b, "understudy_paired_transactions_total{%s} %llu\n", LABELS(r),
			       (unsigned long long)n);
	} END
	help(&b, "understudy_pair_disagreements_total", "counter", "Paired transactions whose final responses differ, by class (an unanswered side is a class of its own) or by exact code.");
	EACH {
		__u64 n = 0, dc = 0;

		for (int a = 0; a < US_O_MAX; a++)
			for (int o = 0; o < US_O_MAX; o++) {
				n += c->pair.out[a][o];
				if (a != o)
					dc += c->pair.out[a][o];
			}
		us_sbuf_printf(&b, "understudy_pair_disagreements_total{%s,kind=\"class\"} %llu\n"
			       "understudy_pair_disagreements_total{%s,kind=\"code\"} %llu\n",
			       LABELS(r), (unsigned long long)dc, lb,
			       (unsigned long long)(n - c->pair.code_same));
	} END
	help(&b, "understudy_dropped_total", "counter", "A simulation machine's messages and stray packets dropped at the balancer.");
	EACH us_sbuf_printf(&b, "understudy_dropped_total{%s} %llu\n", LABELS(r),
		     (unsigned long long)c->dropped); END
	help(&b, "understudy_timeouts_total", "counter", "Mirrored transactions a machine left unanswered past their deadline.");
	EACH us_sbuf_printf(&b, "understudy_timeouts_total{%s} %llu\n", LABELS(r),
		     (unsigned long long)r->obs.timeouts); END
	help(&b, "understudy_machine_state", "gauge", "1 for the machine's current state.");
	EACH for (int s = US_MS_ACTIVE; s < US_MS_MAX; s++)
		us_sbuf_printf(&b, "understudy_machine_state{%s,state=\"%s\"} %d\n", LABELS(r),
			us_state_name(s), r->state == (enum us_mstate)s); END
	help(&b, "understudy_verdict", "gauge", "Last window's verdict on a simulation machine: 0 inconclusive, 1 pass, 2 fail.");
	EACH if (r->obs.judged)
		us_sbuf_printf(&b, "understudy_verdict{%s} %d\n", LABELS(r), (int)r->obs.last.verdict); END
	help(&b, "understudy_judge_streak", "gauge", "Consecutive passing windows of a simulation machine.");
	EACH if (r->state == US_MS_SIMULATION)
		us_sbuf_printf(&b, "understudy_judge_streak{%s} %u\n", LABELS(r),
			       us_judging_streak(&r->judging)); END
	help(&b, "understudy_machine_stuck", "gauge", "1 when a simulation machine has been undecided longer than its policy allows (explain says why), else 0.");
	EACH if (r->state == US_MS_SIMULATION)
		us_sbuf_printf(&b, "understudy_machine_stuck{%s} %d\n", LABELS(r),
			       r->obs.judged && r->obs.last.stuck); END
	help(&b, "understudy_judgement_held", "gauge", "1 when the last judgement of a simulation machine decided but was held (policy mode hold), else 0.");
	EACH if (r->state == US_MS_SIMULATION)
		us_sbuf_printf(&b, "understudy_judgement_held{%s} %d\n", LABELS(r),
			       r->obs.judged && r->obs.last.held &&
			       r->obs.last.decision != US_D_NONE); END
	/* at most US_CODEPAIRS_MAX rows per machine: bounded cardinality */
	help(&b, "understudy_code_differences_total", "counter", "Pairs whose exact status codes differed since the simulation machine entered simulation, by active and simulation code (\"none\": unanswered; \"other\": the rows beyond the table's 32).");
	EACH for (__u32 k = 0; k < r->judging.ev.ncodes; k++) {
		const struct us_codepair *cp = &r->judging.ev.codes[k];
		bool other = cp->active == US_CODE_OTHER && cp->shadow == US_CODE_OTHER;
		char ac[8], sc[8];

		snprintf(ac, sizeof(ac), "%u", cp->active);
		snprintf(sc, sizeof(sc), "%u", cp->shadow);
		us_sbuf_printf(&b, "understudy_code_differences_total{%s,active=\"%s\",simulation=\"%s\"} %llu\n",
			       LABELS(r), other ? "other" : cp->active ? ac : "none",
			       other ? "other" : cp->shadow ? sc : "none", (unsigned long long)cp->n);
	} END
	help(&b, "understudy_window_records_total", "counter", "Window records written (docs/replay.md), and those that could not be.");
	us_sbuf_printf(&b, "understudy_window_records_total{result=\"written\"} %llu\n"
		       "understudy_window_records_total{result=\"failed\"} %llu\n",
		       (unsigned long long)d->wrec.written, (unsigned long long)d->wrec.failed);
	help(&b, "understudy_packets_total", "counter", "Packets seen by the XDP programs, by outcome or reason.");
	if (!d->source->ops->packets(d->source, st))
		for (int k = 0; k < US_ST_MAX; k++)
			us_sbuf_printf(&b, "understudy_packets_total{outcome=\"%s\"} %llu\n", us_stat_name(k),
				(unsigned long long)st[k]);
	help(&b, "understudy_windows_total", "counter", "Judging windows completed.");
	us_sbuf_printf(&b, "understudy_windows_total %llu\n", (unsigned long long)d->windows);
	help(&b, "understudy_state_save_failures_total", "counter",
	     "Saves of the machine records (the state file) that failed; each is logged.");
	us_sbuf_printf(&b, "understudy_state_save_failures_total %llu\n",
		       (unsigned long long)d->model.save_failures);
	help(&b, "understudy_link_repairs_total", "counter",
	     "XDP link pins put back or links attached again after someone else undid them.");
	us_sbuf_printf(&b, "understudy_link_repairs_total %llu\n",
		       (unsigned long long)d->link_repairs);
	help(&b, "understudy_difference_events_total", "counter", "Difference events read from the ring buffer.");
	us_sbuf_printf(&b, "understudy_difference_events_total %llu\n", (unsigned long long)d->diffs_seen);
#undef LABELS
#undef EACH
#undef END
	pthread_mutex_unlock(&d->lock);
	return us_sbuf_take(&b);
}
