// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The machine model's tests: see fixture.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "addr.h"
#include "fixture.h"

char tm_dir[128];
struct tm_applied tm_dp;

static int apply(void *ctx, const struct us_rec *r, char *err, size_t len)
{
	(void)ctx;
	tm_dp.calls++;
	tm_dp.last_id = r->id;
	if (tm_dp.fail > 0) {
		tm_dp.fail--;
		snprintf(err, len, "machine %u: map update failed: %s", r->id, strerror(EIO));
		return -EIO;
	}
	if (r->id >= US_MAX_MACHINES) {
		snprintf(err, len, "machine %u: id out of range (0..%d)", r->id, US_MAX_MACHINES - 1);
		return -EINVAL;
	}
	if (r->state == US_MS_REMOVED) {
		tm_dp.state[r->id] = US_MS_REMOVED;
		return 0;
	}
	if (r->state <= US_MS_UNUSED || r->state >= US_MS_MAX) {
		snprintf(err, len, "machine %u: state %d unknown", r->id, r->state);
		return -EINVAL;
	}
	if (r->conf.family != AF_INET && r->conf.family != AF_INET6) {
		snprintf(err, len, "machine %u: address family %d is neither IPv4 nor IPv6", r->id,
			 r->conf.family);
		return -EINVAL;
	}
	if (!r->conf.weight) {
		snprintf(err, len, "machine %u: weight 0 out of range (1..%u)", r->id, US_WEIGHT_MAX);
		return -ERANGE;
	}
	for (__u32 i = 0; i < US_MAX_MACHINES; i++) {
		if (i != r->id && tm_dp.state[i] && tm_dp.state[i] != US_MS_REMOVED &&
		    !memcmp(tm_dp.addr[i], r->conf.addr, 16)) {
			snprintf(err, len, "machine %u: address already used by machine %u", r->id, i);
			return -EEXIST;
		}
	}
	tm_dp.state[r->id] = r->state;
	memcpy(tm_dp.addr[r->id], r->conf.addr, 16);
	return 0;
}

const struct us_applier tm_applier = { .apply = apply };

int tm_model(struct us_model *m)
{
	struct us_store *s;
	int err = us_store_file_open_dir(NULL, tm_dir, &s);

	if (err) {
		th_fail("us_store_file_open_dir", strerror(-err), "0");
		return err;
	}
	us_model_init(m, s);
	m->dp = tm_applier;
	return 0;
}

struct us_mconf tm_conf(const char *version, const char *addr, enum us_mstate state)
{
	struct us_mconf c = { .weight = 1, .state = state };

	snprintf(c.service, sizeof(c.service), "sip");
	snprintf(c.version, sizeof(c.version), "%s", version);
	c.family = us_addr_parse(addr, c.addr);
	return c;
}

struct us_rec *tm_add(struct us_model *m, const char *name, const char *addr,
		      enum us_mstate state)
{
	struct us_mconf c = tm_conf("1.0", addr, state);
	struct us_rec *r;

	if (us_model_new(m, name, &c, &r)) {
		th_fail("us_model_new", us_model_error(m), name);
		return NULL;
	}
	if (us_model_move(m, r, state, US_BY_CONFIG, "in the configuration")) {
		th_fail("us_model_move", us_model_error(m), name);
		return NULL;
	}
	return us_model_find(m, name);
}

int tm_audit(char *last, size_t len)
{
	char path[256], line[4096];
	int n = 0;
	FILE *f;

	if (last && len)
		last[0] = 0;
	snprintf(path, sizeof(path), "%s/audit.log", tm_dir);
	f = fopen(path, "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		n++;
		if (last)
			snprintf(last, len, "%s", line);
	}
	fclose(f);
	return n;
}

void tm_audit_append(const char *line)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/audit.log", tm_dir);
	f = fopen(path, "a");
	if (!f || fputs(line, f) < 0)
		th_fail("appending to audit.log", strerror(errno), "done");
	if (f)
		fclose(f);
}

void tm_fresh(void)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'/*", tm_dir);
	if (system(cmd))
		th_fail("rm -rf", cmd, "done");
	memset(&tm_dp, 0, sizeof(tm_dp));
}

static int setup(void)
{
	snprintf(tm_dir, sizeof(tm_dir), "/tmp/understudy-model-%d", getpid());
	if (mkdir(tm_dir, 0700) && errno != EEXIST)
		return th_setup_fail("mkdir", -errno);
	memset(&tm_dp, 0, sizeof(tm_dp));
	return 0;
}

static void teardown(void)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tm_dir);
	if (system(cmd))
		th_fail("rm -rf", tm_dir, "removed");
}

int main(int argc, char **argv)
{
	static const struct th_fixture fx = { .setup = setup, .teardown = teardown };

	return th_main(argc, argv, &fx);
}
