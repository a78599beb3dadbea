// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The controller's tests: a daemon in this process (see fixture.h). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <sys/stat.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "understudy.skel.h"
#include "fixture.h"
#include "testnet.h"

#define PIN_PREFIX "understudy-ctl"

struct us_daemon ctl;
char ctl_dir[128];
char ctl_conf_path[160];
const char *ctl_policy;
static char pin_root[96];
static bool started;

const struct ctl_machine ctl_machines[] = {
	{ "v1-a", "198.18.1.1", "1.0", "active" },
	{ "v1-b", "198.18.1.2", "1.0", "active" },
	{ "v2-a", "198.18.1.11", "2.0", "simulation" },
	{ NULL, NULL, NULL, NULL },
};

int cfg_write(const struct ctl_machine *m)
{
	FILE *f = fopen(ctl_conf_path, "w");

	if (!f) {
		th_fail("writing the configuration", strerror(errno), ctl_conf_path);
		return -1;
	}
	fprintf(f,
		"balancer:\n"
		"  client_interface: cli0\n"
		"  machine_interfaces: [mach0]\n"
		"daemon:\n"
		"  window: 1s\n"
		"  socket: %s/sock\n"
		"  metrics_listen: \"off\"\n"
		"  state_dir: %s/state\n"
		"  pin_root: %s\n"
		"  log_level: error\n"
		"  max_calls: 1024\n"
		"  max_transactions: 1024\n"
		"services:\n"
		"  - name: sip\n"
		"    vip: 198.18.100.1\n"
		"    port: 5060\n"
		"    mirror_percent: 100\n"
		"%s%s%s"
		"    machines:\n", ctl_dir, ctl_dir, pin_root, ctl_policy ? "    policy: {" : "",
		ctl_policy ? ctl_policy : "", ctl_policy ? "}\n" : "");
	for (; m->name; m++)
		fprintf(f, "      - { name: %s, address: %s, version: \"%s\", state: %s }\n", m->name,
			m->address, m->version, m->state);
	return fclose(f) ? -1 : 0;
}

int ctl_reload(void)
{
	char err[1024];
	int rc = us_daemon_reload(&ctl, err, sizeof(err));

	if (rc)
		th_fail("reload", err, "applied");
	return rc;
}

static json_object *vcmd(const char *fmt, va_list ap)
{
	char req[1024], *rep;
	json_object *o;

	vsnprintf(req, sizeof(req), fmt, ap);
	rep = us_daemon_command(&ctl, req);
	if (!rep) {
		th_fail(req, "no answer", "an answer");
		return NULL;
	}
	o = json_tokener_parse(rep);
	if (!o)
		th_fail(req, rep, "a JSON answer");
	free(rep);
	return o;
}

json_object *ctl_cmd(const char *fmt, ...)
{
	json_object *o;
	va_list ap;

	va_start(ap, fmt);
	o = vcmd(fmt, ap);
	va_end(ap);
	return o;
}

json_object *ctl_ok(bool ok, const char *fmt, ...)
{
	json_object *o, *v;
	va_list ap;
	char what[1100];

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	va_start(ap, fmt);
	o = vcmd(fmt, ap);
	va_end(ap);
	if (!o)
		return NULL;
	if (!json_object_object_get_ex(o, "ok", &v) || json_object_get_boolean(v) != ok)
		th_fail(what, json_object_to_json_string(o), ok ? "ok" : "refused");
	return o;
}

json_object *ctl_find(json_object *rep, const char *name)
{
	json_object *arr, *v;

	if (!rep || !json_object_object_get_ex(rep, "machines", &arr))
		return NULL;
	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		json_object *m = json_object_array_get_idx(arr, i);

		if (json_object_object_get_ex(m, "name", &v) &&
		    !strcmp(json_object_get_string(v), name))
			return m;
	}
	return NULL;
}

long long ctl_field(const char *machine, const char *field)
{
	json_object *rep = ctl_cmd("{\"cmd\":\"machines\"}"), *m, *v;
	long long r = -1;

	m = ctl_find(rep, machine);
	if (m && json_object_object_get_ex(m, field, &v) && !json_object_is_type(v, json_type_null))
		r = json_object_get_int64(v);
	if (rep)
		json_object_put(rep);
	return r;
}

int ctl_audit_lines(void)
{
	char path[256], line[4096];
	int n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/state/audit.log", ctl_dir);
	f = fopen(path, "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		n++;
	fclose(f);
	return n;
}

/* Add to CPU 0's copy of machine mid's counters. */
static int bump(__u32 mid, void (*add)(struct us_mstats *m, const void *arg), const void *arg)
{
	int ncpu = libbpf_num_possible_cpus();
	int fd = bpf_map__fd(us_dp_skel(ctl.dp)->maps.us_mstats);
	struct us_mstats *v = calloc((size_t)ncpu, sizeof(*v));
	int err = 0;

	if (!v)
		return -ENOMEM;
	if (bpf_map_lookup_elem(fd, &mid, v) || (add(&v[0], arg), bpf_map_update_elem(fd, &mid, v, 0)))
		err = -errno;
	free(v);
	if (err)
		th_fail("us_mstats update", strerror(-err), "0");
	return err;
}

struct sim_add {
	__u64 pairs, sim_err;
	int bucket;
};

static void add_sim(struct us_mstats *m, const void *arg)
{
	const struct sim_add *a = arg;

	m->pair.out[US_O_2XX][US_O_2XX] += a->pairs - a->sim_err;
	m->pair.out[US_O_2XX][US_O_ERR] += a->sim_err;
	/* one pair per call, equal codes where both answered 2xx */
	m->pair.code_same += a->pairs - a->sim_err;
	m->pair.calls += a->pairs;
	m->pair.calls_fail_shadow += a->sim_err;
	m->final_class[2] += a->pairs - a->sim_err;
	m->final_class[5] += a->sim_err;
	m->lat_hist[a->bucket] += a->pairs;
	m->lat_count += a->pairs;
	m->pair_lat_shadow[a->bucket] += a->pairs;
	m->pair_lat_active[a->bucket] += a->pairs;
}

int ctl_traffic(__u32 mid, __u64 pairs, __u64 sim_err, int lat_bucket)
{
	struct sim_add a = { pairs, sim_err, lat_bucket };

	return bump(mid, add_sim, &a);
}

static void add_active(struct us_mstats *m, const void *arg)
{
	const struct sim_add *a = arg;

	m->final_class[2] += a->pairs;
	m->lat_hist[a->bucket] += a->pairs;
	m->lat_count += a->pairs;
}

int ctl_active_traffic(__u32 mid, __u64 finals, int lat_bucket)
{
	struct sim_add a = { finals, 0, lat_bucket };

	return bump(mid, add_active, &a);
}

int ctl_codes(__u32 mid, __u16 active, __u16 shadow, __u64 n)
{
	int ncpu = libbpf_num_possible_cpus();
	int fd = bpf_map__fd(us_dp_skel(ctl.dp)->maps.us_codes);
	struct us_codepair_key k = { .mid = mid, .active = active, .shadow = shadow };
	__u64 *v = calloc((size_t)ncpu, sizeof(*v));
	int err = 0;

	if (!v)
		return -ENOMEM;
	if (bpf_map_lookup_elem(fd, &k, v) && errno != ENOENT)
		err = -errno;
	v[0] += n;
	if (!err && bpf_map_update_elem(fd, &k, v, 0))
		err = -errno;
	free(v);
	if (err)
		th_fail("us_codes update", strerror(-err), "0");
	return err;
}

void ctl_window(void)
{
	/* windows are timed by the wall clock: let one be at least a tick long */
	usleep(10000);
	us_daemon_window(&ctl);
}

/* ---- the fixture ----------------------------------------------------------- */

static int once(void)
{
	int err;

	th_start(PIN_PREFIX);
	err = testnet_enter();
	return err ? th_setup_fail("testnet_enter", err) : 0;
}

static int setup(void)
{
	char err[4096];
	int rc;

	snprintf(ctl_dir, sizeof(ctl_dir), "/tmp/understudy-ctl-%d", getpid());
	snprintf(ctl_conf_path, sizeof(ctl_conf_path), "%s/understudy.yaml", ctl_dir);
	snprintf(pin_root, sizeof(pin_root), "/sys/fs/bpf/%s-%d", PIN_PREFIX, getpid());
	snprintf(th.pin_root, sizeof(th.pin_root), "%s", pin_root);   /* removed on a signal */
	if (mkdir(ctl_dir, 0700) && errno != EEXIST)
		return th_setup_fail("mkdir", -errno);
	ctl_policy = NULL;
	if (cfg_write(ctl_machines))
		return -1;
	us_log_level = LOG_ERR;
	rc = us_daemon_start(&ctl, ctl_conf_path, false, err, sizeof(err));
	if (rc) {
		th_fail("us_daemon_start", err, "started");
		return rc;
	}
	started = true;
	us_log_level = LOG_ERR;
	return 0;
}

static void teardown(void)
{
	char cmd[256];

	if (started)
		us_daemon_stop(&ctl);
	started = false;
	us_dp_destroy_pins(pin_root);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", ctl_dir);
	if (system(cmd))
		th_fail("rm -rf", ctl_dir, "removed");
}

int main(int argc, char **argv)
{
	static const struct th_fixture fx = { .once = once, .setup = setup, .teardown = teardown };

	return th_main(argc, argv, &fx);
}
