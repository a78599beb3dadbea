// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * cmocka tests of the configuration module: a full file parses to exact
 * values, defaults apply, every kind of bad input gives its exact message
 * (file, line, column, field, reason), and the difference between two
 * configurations lists exactly what changed. No root needed.
 *
 * US_CONFIG_PRINT=FILE appends every bad case's name, result and message to
 * FILE (separated by 0x1e, cases ended by 0x1d), to help write new cases.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <syslog.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/if_link.h>
#include <netinet/in.h>
#include <cmocka.h>

#include "config.h"

/* The directory of the test inputs: tests/config beside this file. */
static const char *cfgdir(void)
{
	static char dir[512];
	const char *slash;

	if (dir[0])
		return dir;
	slash = strrchr(__FILE__, '/');
	if (slash)
		snprintf(dir, sizeof(dir), "%.*s/config", (int)(slash - __FILE__), __FILE__);
	else
		snprintf(dir, sizeof(dir), "config");
	return dir;
}

static const char *cfgpath(const char *name)
{
	static char p[600];

	snprintf(p, sizeof(p), "%s/%s", cfgdir(), name);
	return p;
}

static void v4(__u8 out[16], const char *s)
{
	memset(out, 0, 16);
	out[10] = out[11] = 0xff;
	assert_int_equal(inet_pton(AF_INET, s, out + 12), 1);
}

static void v6(__u8 out[16], const char *s)
{
	assert_int_equal(inet_pton(AF_INET6, s, out), 1);
}

static int parse(const char *yaml, struct us_conf *c, char *err, size_t errlen)
{
	return us_conf_parse(yaml, strlen(yaml), "t.yaml", c, err, errlen);
}

static bool near(double a, double b)
{
	return fabs(a - b) < 1e-12;
}

/* ---- valid files --------------------------------------------------------- */

static void test_full_example_exact(void **state)
{
	struct us_conf c;
	char err[4096];
	const struct us_conf_service *s;
	const struct us_conf_machine *m;
	__u8 a[16];

	(void)state;
	assert_int_equal(us_conf_load(cfgpath("full.yaml"), &c, err, sizeof(err)), 0);
	assert_string_equal(err, "");
	assert_string_equal(c.path, cfgpath("full.yaml"));

	assert_string_equal(c.client_if, "us-client0");
	assert_int_equal(c.nmachine_ifs, 2);
	assert_string_equal(c.machine_ifs[0], "us-m0");
	assert_string_equal(c.machine_ifs[1], "us-m1");
	assert_int_equal(c.xdp_mode, US_XDP_GENERIC);
	assert_int_equal(us_conf_xdp_flags(&c), XDP_FLAGS_SKB_MODE);

	assert_true(near(c.window_s, 10));
	assert_string_equal(c.socket, "/run/us-test/ctl.sock");
	assert_string_equal(c.metrics_listen, "[2001:db8::1]:9100");
	assert_false(c.metrics_off);
	assert_int_equal(c.metrics_family, AF_INET6);
	v6(a, "2001:db8::1");
	assert_memory_equal(c.metrics_addr, a, 16);
	assert_int_equal(c.metrics_port, 9100);
	assert_string_equal(c.state_dir, "/var/lib/us-test");
	assert_string_equal(c.pin_root, "/sys/fs/bpf/us-test");
	assert_int_equal(c.event_rate, 500);
	assert_int_equal(c.event_burst, 50);
	assert_int_equal(c.log_level, LOG_DEBUG);
	assert_int_equal(c.max_calls, 500000);
	assert_int_equal(c.max_transactions, 65536);

	assert_int_equal(c.nservices, 2);
	assert_int_equal(c.nmachines, 5);

	s = &c.services[0];
	assert_string_equal(s->name, "sip-proxy");
	assert_int_equal(s->family, AF_INET);
	v4(a, "198.18.100.1");
	assert_memory_equal(s->vip, a, 16);
	assert_int_equal(s->port, 5060);
	assert_int_equal(s->proto, IPPROTO_UDP);
	assert_int_equal(s->share_bp, 1250);
	assert_int_equal(s->policy.min_paired, 2000);
	assert_true(near(s->policy.min_sim_seconds, 120));
	assert_true(near(s->policy.max_class_diff, 0.0025));
	assert_true(near(s->policy.max_error_increase, 0.01));
	assert_true(near(s->policy.max_latency_ratio, 1.5));
	assert_int_equal(s->policy.windows, 4);
	assert_true(near(s->policy.alpha, 0.05));
	assert_true(near(s->policy.beta, 0.02));
	assert_int_equal(s->line, 19);
	assert_int_equal(s->nmachines, 2);

	m = &s->machines[0];
	assert_string_equal(m->name, "v1-a");
	assert_int_equal(m->family, AF_INET);
	v4(a, "198.18.1.1");
	assert_memory_equal(m->addr, a, 16);
	assert_string_equal(m->version, "1.0");
	assert_int_equal(m->state, US_MS_ACTIVE);
	assert_int_equal(m->weight, 3);
	assert_int_equal(m->line, 34);
	m = &s->machines[1];
	assert_string_equal(m->name, "v2-a");
	v4(a, "198.18.2.1");
	assert_memory_equal(m->addr, a, 16);
	assert_string_equal(m->version, "2.0-rc1");
	assert_int_equal(m->state, US_MS_SIMULATION);
	assert_int_equal(m->weight, 1);
	assert_int_equal(m->line, 39);

	s = &c.services[1];
	assert_string_equal(s->name, "router6");
	assert_int_equal(s->family, AF_INET6);
	v6(a, "2001:db8:100::1");
	assert_memory_equal(s->vip, a, 16);
	assert_int_equal(s->port, 5080);
	assert_int_equal(s->proto, IPPROTO_UDP);
	assert_int_equal(s->share_bp, 10000);
	/* given */
	assert_true(near(s->policy.max_class_diff, 0.001));
	assert_true(near(s->policy.max_error_increase, 0.002));
	assert_true(near(s->policy.min_sim_seconds, 30));
	/* defaults */
	assert_int_equal(s->policy.min_paired, 1000);
	assert_true(near(s->policy.max_latency_ratio, 1.2));
	assert_int_equal(s->policy.windows, 3);
	assert_true(near(s->policy.alpha, 0.01));
	assert_true(near(s->policy.beta, 0.01));
	assert_int_equal(s->line, 43);
	assert_int_equal(s->nmachines, 3);
	m = &s->machines[0];
	assert_string_equal(m->name, "r-old");
	assert_int_equal(m->family, AF_INET6);
	v6(a, "2001:db8:1::1");
	assert_memory_equal(m->addr, a, 16);
	assert_string_equal(m->version, "7.2.1");
	assert_int_equal(m->state, US_MS_DRAINING);
	assert_int_equal(m->weight, 65535);
	assert_int_equal(m->line, 52);
	assert_int_equal(s->machines[1].state, US_MS_REJECTED);
	assert_int_equal(s->machines[1].weight, 1);
	assert_string_equal(s->machines[1].version, "7.3.0");
	assert_int_equal(s->machines[2].state, US_MS_REMOVED);
	v6(a, "2001:db8:1::2");
	assert_memory_equal(s->machines[2].addr, a, 16);

	/* look-ups */
	assert_ptr_equal(us_conf_find_service(&c, "router6"), &c.services[1]);
	assert_null(us_conf_find_service(&c, "nope"));
	{
		const struct us_conf_service *sv = NULL;

		assert_ptr_equal(us_conf_find_machine(&c, "r-bad", &sv), &c.services[1].machines[1]);
		assert_ptr_equal(sv, &c.services[1]);
		assert_null(us_conf_find_machine(&c, "nope", &sv));
	}
	us_conf_free(&c);
}

static void test_defaults(void **state)
{
	static const char y[] =
		"balancer:\n"
		"  client_interface: eth0\n"
		"  machine_interfaces: [eth1]\n"
		"services:\n"
		"  - name: sip\n"
		"    vip: 198.18.100.1\n"
		"    port: 5060\n"
		"    machines:\n"
		"      - name: a\n"
		"        address: 198.18.1.1\n"
		"        version: '1'\n"
		"        state: active\n";
	struct us_policy def;
	struct us_conf c;
	char err[1024];
	__u8 a[16];

	(void)state;
	us_policy_default(&def);
	assert_int_equal(parse(y, &c, err, sizeof(err)), 0);
	assert_string_equal(c.path, "t.yaml");
	assert_int_equal(c.xdp_mode, US_XDP_NATIVE);
	assert_int_equal(us_conf_xdp_flags(&c), XDP_FLAGS_DRV_MODE);
	assert_true(near(c.window_s, 5));
	assert_string_equal(c.socket, "/run/understudy/understudyd.sock");
	assert_string_equal(c.metrics_listen, "127.0.0.1:9464");
	assert_false(c.metrics_off);
	assert_int_equal(c.metrics_family, AF_INET);
	v4(a, "127.0.0.1");
	assert_memory_equal(c.metrics_addr, a, 16);
	assert_int_equal(c.metrics_port, 9464);
	assert_string_equal(c.state_dir, "/var/lib/understudy");
	assert_string_equal(c.pin_root, US_PIN_ROOT);
	assert_int_equal(c.event_rate, 100);
	assert_int_equal(c.event_burst, 20);
	assert_int_equal(c.log_level, LOG_INFO);
	assert_int_equal(c.max_calls, US_CALLS_DEFAULT);
	assert_int_equal(c.max_transactions, US_TXNS_DEFAULT);
	assert_int_equal(c.window_records_max, 10000);
	assert_int_equal(c.nservices, 1);
	assert_int_equal(c.services[0].proto, IPPROTO_UDP);
	assert_int_equal(c.services[0].share_bp, 0);
	assert_int_equal(c.services[0].policy.min_paired, def.min_paired);
	assert_true(near(c.services[0].policy.min_sim_seconds, def.min_sim_seconds));
	assert_true(near(c.services[0].policy.max_class_diff, def.max_class_diff));
	assert_true(near(c.services[0].policy.max_error_increase, def.max_error_increase));
	assert_true(near(c.services[0].policy.max_latency_ratio, def.max_latency_ratio));
	assert_int_equal(c.services[0].policy.windows, def.windows);
	assert_true(near(c.services[0].policy.alpha, def.alpha));
	assert_true(near(c.services[0].policy.beta, def.beta));
	assert_int_equal(c.services[0].machines[0].weight, 1);
	assert_string_equal(us_conf_xdp_mode_name(c.xdp_mode), "native");
	assert_string_equal(us_conf_log_level_name(c.log_level), "info");
	assert_string_equal(us_conf_xdp_mode_name(US_XDP_AUTO), "auto");
	assert_string_equal(us_conf_log_level_name(LOG_WARNING), "warn");
	us_conf_free(&c);
	us_conf_free(&c);   /* twice is harmless */
}

/* Empty sections and null values take the defaults; no services is valid. */
static void test_empty_sections(void **state)
{
	static const char y[] =
		"balancer: {client_interface: eth0, machine_interfaces: [eth1, eth2]}\n"
		"daemon:\n"
		"services: []\n";
	static const char y2[] =
		"balancer: {client_interface: eth0, machine_interfaces: [eth1], xdp_mode: auto}\n"
		"daemon: {window: ~, metrics_listen: off, log_level: warn}\n"
		"services:\n"
		"  - {name: s, vip: 198.18.0.1, port: 5060, policy: , machines: []}\n";
	struct us_conf c;
	char err[1024];

	(void)state;
	assert_int_equal(parse(y, &c, err, sizeof(err)), 0);
	assert_int_equal(c.nservices, 0);
	assert_int_equal(c.nmachine_ifs, 2);
	assert_true(near(c.window_s, 5));
	us_conf_free(&c);

	assert_int_equal(parse(y2, &c, err, sizeof(err)), 0);
	assert_int_equal(c.xdp_mode, US_XDP_AUTO);
	assert_int_equal(us_conf_xdp_flags(&c), 0);
	assert_true(near(c.window_s, 5));
	assert_true(c.metrics_off);
	assert_string_equal(c.metrics_listen, "off");
	assert_int_equal(c.metrics_family, 0);
	assert_int_equal(c.metrics_port, 0);
	assert_int_equal(c.log_level, LOG_WARNING);
	assert_int_equal(c.nservices, 1);
	assert_int_equal(c.services[0].nmachines, 0);
	assert_int_equal(c.services[0].policy.windows, 3);
	us_conf_free(&c);
}

/* The accepted spellings of numbers, shares, fractions and durations. */
static void test_value_forms(void **state)
{
	static const struct {
		const char *window, *share, *cls, *err, *minsim;
		double window_s;
		__u16 bp;
		double cls_v, err_v, minsim_v;
	} f[] = {
		{ "1s", "0", "0.2", "0.2", "0", 1, 0, 0.2, 0.2, 0 },
		{ "1h", "100", "0.9", "0.9", "7d0", 3600, 10000, 0.9, 0.9, -1 },
		{ "1.5s", "0.01", "0.5%", "0.5pp", "500ms", 1.5, 1, 0.005, 0.005, 0.5 },
		{ "2m", "25%", "99%", "99pp", "1.5m", 120, 2500, 0.99, 0.99, 90 },
		{ "1000ms", "12.50", "0.25%", "0.25pp", "2h", 1, 1250, 0.0025, 0.0025, 7200 },
		{ "3600s", "99.990", "5e-3", "5e-3", "60s", 3600, 9999, 0.005, 0.005, 60 },
		{ "60m", "+7.5", "0.10", "0.010", "45", 3600, 750, 0.1, 0.01, 45 },
	};
	char y[1024], err[1024];
	struct us_conf c;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		int r;

		snprintf(y, sizeof(y),
			 "balancer: {client_interface: eth0, machine_interfaces: [eth1]}\n"
			 "daemon: {window: %s}\n"
			 "services:\n"
			 "  - name: s\n"
			 "    vip: 198.18.0.1\n"
			 "    port: 5060\n"
			 "    mirror_percent: %s\n"
			 "    policy: {max_class_disagreement: %s, max_error_increase: %s,\n"
			 "             min_simulation_seconds: %s}\n"
			 "    machines: []\n",
			 f[i].window, f[i].share, f[i].cls, f[i].err, f[i].minsim);
		r = parse(y, &c, err, sizeof(err));
		if (f[i].minsim_v < 0) {
			/* "7d0": no unit d */
			assert_int_equal(r, -EINVAL);
			assert_non_null(strstr(err, "min_simulation_seconds: expected a duration"));
			continue;
		}
		if (r)
			fail_msg("case %zu: %s", i, err);
		assert_true(near(c.window_s, f[i].window_s));
		assert_int_equal(c.services[0].share_bp, f[i].bp);
		assert_true(near(c.services[0].policy.max_class_diff, f[i].cls_v));
		assert_true(near(c.services[0].policy.max_error_increase, f[i].err_v));
		assert_true(near(c.services[0].policy.min_sim_seconds, f[i].minsim_v));
		us_conf_free(&c);
	}
}

/* Anchors and aliases are resolved by libyaml: a policy shared by two
 * services; quoted keys; flow style. */
static void test_anchors_and_aliases(void **state)
{
	static const char y[] =
		"balancer: {client_interface: eth0, machine_interfaces: [eth1]}\n"
		"services:\n"
		"  - name: a\n"
		"    vip: 198.18.0.1\n"
		"    port: 5060\n"
		"    policy: &strict {min_paired: 5000, consecutive_windows: 10}\n"
		"    machines: []\n"
		"  - \"name\": b\n"
		"    'vip': 198.18.0.2\n"
		"    port: 5060\n"
		"    policy: *strict\n"
		"    machines: []\n";
	struct us_conf c;
	char err[1024];

	(void)state;
	assert_int_equal(parse(y, &c, err, sizeof(err)), 0);
	assert_int_equal(c.nservices, 2);
	assert_int_equal(c.services[1].policy.min_paired, 5000);
	assert_int_equal(c.services[1].policy.windows, 10);
	assert_string_equal(c.services[1].name, "b");
	us_conf_free(&c);
}

/* The shipped examples parse. */
static void test_shipped_examples(void **state)
{
	static const char *const files[] = { "../../etc/understudy.yaml", "minimal.yaml",
					     "full.yaml" };
	struct us_conf c;
	char err[4096];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		int r = us_conf_load(cfgpath(files[i]), &c, err, sizeof(err));

		if (r)
			fail_msg("%s: %d: %s", files[i], r, err);
		assert_true(c.nservices > 0);
		for (size_t s = 0; s < c.nservices; s++) {
			const struct us_conf_service *sv = &c.services[s];
			__u8 lo[16], hi[16];

			/* lab addresses only: 198.18.0.0/15, 2001:db8::/32 */
			v4(lo, "198.18.0.0");
			v4(hi, "198.19.255.255");
			if (sv->family == AF_INET) {
				assert_true(memcmp(sv->vip, lo, 16) >= 0 && memcmp(sv->vip, hi, 16) <= 0);
				for (size_t k = 0; k < sv->nmachines; k++)
					assert_true(memcmp(sv->machines[k].addr, lo, 16) >= 0 &&
						    memcmp(sv->machines[k].addr, hi, 16) <= 0);
			} else {
				assert_int_equal(sv->vip[0], 0x20);
				assert_int_equal(sv->vip[1], 0x01);
				assert_int_equal(sv->vip[2], 0x0d);
				assert_int_equal(sv->vip[3], 0xb8);
			}
		}
		us_conf_free(&c);
	}
}

/* ---- bad inputs: exact messages ------------------------------------------- */

#define BAL   "balancer:\n"                       /* 1 */ \
	      "  client_interface: eth0\n"        /* 2 */ \
	      "  machine_interfaces: [eth1]\n"    /* 3 */
#define SVCH  "services:\n"                       /* 4 */ \
	      "  - name: sip\n"                   /* 5 */ \
	      "    vip: 198.18.100.1\n"           /* 6 */ \
	      "    port: 5060\n"                  /* 7 */
#define MACH  "    machines:\n"                   /* 8 */ \
	      "      - name: v1-a\n"              /* 9 */ \
	      "        address: 198.18.1.1\n"     /* 10 */ \
	      "        version: \"1.0\"\n"        /* 11 */ \
	      "        state: active\n"           /* 12 */
#define VALID BAL SVCH MACH

/* A control machine: the active version, in the control state. */
static void test_control_machine(void **state)
{
	const char *y = BAL SVCH MACH
		"      - {name: ctl, address: 198.18.1.2, version: \"1.0\", state: control}\n";
	struct us_conf c;
	char err[512];

	(void)state;
	assert_int_equal(parse(y, &c, err, sizeof(err)), 0);
	assert_int_equal(c.services[0].nmachines, 2);
	assert_int_equal(c.services[0].machines[1].state, US_MS_CONTROL);
	us_conf_free(&c);
}

/* The roles of a cluster (docs/cluster.md): agent and controller, their etcd
 * and agents; the services are etcd's. */
static void test_roles(void **state)
{
	const char *y = BAL "daemon:\n  role: controller\n  etcd:\n"
		"    endpoints: [http://198.18.0.1:2379, https://etcd.example:2379]\n"
		"    prefix: /us\n    name: ctl-1\n    lease_ttl: 3s\n    timeout: 500ms\n"
		"    ca_file: /etc/understudy/ca.pem\n"
		"  agents: [http://198.18.0.2:9464/counters, \"http://[2001:db8::2]:9464\"]\n"
		"services: []\n";
	struct us_conf c, d;
	struct us_conf_diff diff;
	char err[1024];

	(void)state;
	assert_int_equal(parse(y, &c, err, sizeof(err)), 0);
	assert_int_equal(c.role, US_CONF_CONTROLLER);
	assert_string_equal(us_conf_role_name(c.role), "controller");
	assert_int_equal(c.etcd.endpoints.n, 2);
	assert_string_equal(c.etcd.endpoints.v[1], "https://etcd.example:2379");
	assert_string_equal(c.etcd.prefix, "/us");
	assert_string_equal(c.etcd.name, "ctl-1");
	assert_true(near(c.etcd.lease_ttl_s, 3) && near(c.etcd.timeout_s, 0.5));
	assert_string_equal(c.etcd.ca_file, "/etc/understudy/ca.pem");
	assert_string_equal(c.etcd.cert_file, "");
	assert_int_equal(c.agents.n, 2);
	/* the agent's base URL: its /counters taken off */
	assert_string_equal(c.agents.v[0], "http://198.18.0.2:9464");
	assert_string_equal(c.agents.v[1], "http://[2001:db8::2]:9464");
	/* defaults: standalone, the prefix, a 5 s lease */
	assert_int_equal(parse(BAL "services: []\n", &d, err, sizeof(err)), 0);
	assert_int_equal(d.role, US_CONF_STANDALONE);
	assert_string_equal(d.etcd.prefix, "/understudy");
	assert_true(near(d.etcd.lease_ttl_s, 5));
	assert_int_equal(d.agents.n, 0);
	/* a change of role, etcd or agents needs a restart */
	assert_int_equal(us_conf_diff(&d, &c, &diff), 0);
	assert_true(diff.restart);
	assert_int_equal(diff.nsettings, 3);
	assert_string_equal(diff.settings[0].path, "daemon.role");
	assert_string_equal(diff.settings[1].path, "daemon.etcd");
	assert_string_equal(diff.settings[2].path, "daemon.agents");
	us_conf_diff_free(&diff);
	us_conf_free(&c);
	us_conf_free(&d);
}

/* A policy alone (replay --policy): the keys of a service's policy section. */
static void test_policy_alone(void **state)
{
	const char *ok = "min_paired: 250\nconsecutive_windows: 7\nmax_error_increase: 0.25pp\n";
	struct us_policy p, def;
	char err[512];

	(void)state;
	us_policy_default(&def);
	assert_int_equal(us_policy_parse(ok, strlen(ok), "p.yaml", &p, err, sizeof(err)), 0);
	assert_int_equal(p.min_paired, 250);
	assert_int_equal(p.windows, 7);
	assert_true(near(p.max_error_increase, 0.0025));
	assert_true(near(p.alpha, def.alpha));
	/* empty: the default policy */
	assert_int_equal(us_policy_parse("", 0, "p.yaml", &p, err, sizeof(err)), 0);
	assert_int_equal(p.min_paired, def.min_paired);
	assert_int_equal(us_policy_parse("# none\n", 7, "p.yaml", &p, err, sizeof(err)), 0);
	assert_int_equal(p.windows, def.windows);
	/* refused, by file, line, column and key */
	assert_int_equal(us_policy_parse("min_paired: 10\nwindows: 3\n", 26, "p.yaml", &p, err,
					 sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "p.yaml:2:1: "));
	assert_non_null(strstr(err, "unknown key \"windows\""));
	assert_int_equal(us_policy_parse("min_paired: 0\n", 14, "p.yaml", &p, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "p.yaml:1:13: min_paired: 0 out of range"));
	assert_int_equal(us_policy_parse("- 1\n", 4, "p.yaml", &p, err, sizeof(err)), -EINVAL);
	assert_int_equal(us_policy_load("/nonexistent/p.yaml", &p, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "/nonexistent/p.yaml: cannot open"));
}

struct bad {
	const char *what;
	const char *yaml;
	const char *msg;
	int ret;            /* 0: -EINVAL */
	size_t len;         /* 0: strlen(yaml) */
};

/* the table leaves ret and len out where they are 0 */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
static const struct bad bad[] = {
	/* syntax, encoding, documents */
	{ "yaml syntax error",
	  BAL "services:\n  - name: a\n    vip: 1.2.3.4\n   port: 5\n",
	  "t.yaml:7:4: YAML syntax error: did not find expected '-' indicator (while "
	  "parsing a block collection started at line 5, column 3)" },
	{ "unclosed flow sequence",
	  BAL "services: [\n",
	  "t.yaml:5:1: YAML syntax error: did not find expected node content (while parsing a "
	  "flow node started at line 5, column 1)" },
	{ "tab indentation",
	  BAL "services:\n\t- name: a\n",
	  "t.yaml:5:1: YAML syntax error: found character that cannot start any token (while "
	  "scanning for the next token started at line 5, column 1)" },
	{ "not utf-8",
	  BAL "services: []\n# caf\xe9\n",
	  "t.yaml:5:6: not valid UTF-8 text: incomplete UTF-8 octet sequence (offset 82)" },
	{ "control character",
	  BAL "services: []\nx: \x01\n",
	  "t.yaml:5:4: not valid UTF-8 text: control characters are not allowed (byte 0x01 "
	  "at offset 80)" },
	{ "two documents",
	  VALID "---\nbalancer: {}\n",
	  "t.yaml:13:1: more than one YAML document (the configuration is one)" },
	{ "empty file", "", "t.yaml: empty file: no configuration" },
	{ "comments only", "# nothing here\n\n",
	  "t.yaml: empty file: no configuration (only comments or blank lines)" },
	{ "empty document", "---\n",
	  "t.yaml: empty file: no configuration (only comments or blank lines)" },
	{ "undefined alias",
	  BAL "services: *nope\n",
	  "t.yaml:4:11: YAML syntax error: found undefined alias" },
	{ "merge key",
	  BAL "services:\n  - <<: {name: a}\n    vip: 198.18.0.1\n    port: 1\n    machines: []\n",
	  "t.yaml:5:5: services[0]: merge keys (<<) are not supported; use an alias for the "
	  "whole mapping or repeat the keys\n"
	  "t.yaml:5:5: services[0]: missing required key: name" },
	{ "nesting too deep",
	  BAL "services: " "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[" "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]\n",
	  "t.yaml:4:42: nested deeper than 32 levels" },
	{ "file too large", "x", "t.yaml: file too large (4194305 bytes; at most 4194304)",
	  -EFBIG, US_CONF_MAX_BYTES + 1 },
	/* structure */
	{ "top level is a list", "- balancer\n",
	  "t.yaml:1:1: expected a mapping, got a list" },
	{ "unknown top-level key",
	  VALID "clusters: 3\n",
	  "t.yaml:13:1: unknown key \"clusters\"; valid keys: balancer, daemon, services" },
	{ "unknown service key",
	  BAL SVCH "    mirror: 5\n" MACH,
	  "t.yaml:8:5: services[0]: unknown key \"mirror\"; valid keys: name, vip, port, "
	  "protocol, mirror_percent, policy, machines" },
	{ "unknown machine key",
	  VALID "        role: primary\n",
	  "t.yaml:13:9: services[0].machines[0]: unknown key \"role\"; valid keys: name, "
	  "address, version, state, weight" },
	{ "unknown policy key",
	  BAL SVCH "    policy:\n      min_pairs: 10\n" MACH,
	  "t.yaml:9:7: services[0].policy: unknown key \"min_pairs\"; valid keys: min_paired, "
	  "min_simulation_seconds, max_class_disagreement, max_error_increase, "
	  "max_latency_ratio, consecutive_windows, alpha, beta, latency_slack, min_window_pairs, "
	  "max_code_disagreement, due_floor, due_multiple, decide_after, on_undecided, "
	  "stuck_after, mode" },
	/* what the judge would refuse, the file refuses (us_policy_check) */
	{ "policy margin of 0",
	  BAL SVCH "    policy:\n      max_error_increase: 0pp\n" MACH,
	  "t.yaml:9:7: services[0].policy: max_error_increase: 0 is outside (0, 1): at 0 no "
	  "version can pass, at 1 every version does" },
	{ "policy disagreement of 100 %",
	  BAL SVCH "    policy:\n      max_class_disagreement: 100%\n" MACH,
	  "t.yaml:9:7: services[0].policy: max_class_disagreement: 1 is outside (0, 1): at 0 "
	  "no version can pass, at 1 every version does" },
	{ "policy latency ratio 1",
	  BAL SVCH "    policy:\n      max_latency_ratio: 1\n" MACH,
	  "t.yaml:9:7: services[0].policy: max_latency_ratio: 1 is not above 1: an equal "
	  "version could not pass" },
	{ "policy bad mode",
	  BAL SVCH "    policy:\n      mode: maybe\n" MACH,
	  "t.yaml:9:13: services[0].policy.mode: \"maybe\" is not one of decide, hold" },
	{ "duplicate key",
	  BAL SVCH "    port: 5061\n" MACH,
	  "t.yaml:8:5: services[0].port: duplicate key (first at line 7)" },
	{ "missing balancer",
	  SVCH MACH,
	  "t.yaml:1:1: missing required key: balancer" },
	{ "missing service keys",
	  BAL "services:\n  - name: sip\n" MACH,
	  "t.yaml:5:5: services[0]: missing required keys: vip, port" },
	{ "missing machine state",
	  BAL SVCH "    machines:\n      - {name: a, address: 198.18.1.1, version: '1'}\n",
	  "t.yaml:9:9: services[0].machines[0]: missing required key: state" },
	{ "null required value",
	  BAL "services:\n  - name: sip\n    vip:\n    port: 5060\n    machines: []\n",
	  "t.yaml:6:9: services[0].vip: expected an IPv4 or IPv6 address, got nothing (null)" },
	{ "services is a mapping",
	  BAL "services: {name: sip}\n",
	  "t.yaml:4:11: services: expected a list of services, got a mapping" },
	{ "machine_interfaces not a list",
	  "balancer:\n  client_interface: eth0\n  machine_interfaces: eth1\nservices: []\n",
	  "t.yaml:3:23: balancer.machine_interfaces: expected a list of interface names, "
	  "got \"eth1\"" },
	{ "machine is a string",
	  BAL SVCH "    machines: [v1-a]\n",
	  "t.yaml:8:16: services[0].machines[0]: expected a mapping, got \"v1-a\"" },
	{ "key is a list",
	  BAL "services: []\n[a]: 1\n",
	  "t.yaml:5:1: keys must be strings, got a list" },
	/* types and ranges */
	{ "port as quoted string",
	  BAL "services:\n  - name: sip\n    vip: 198.18.100.1\n    port: \"5060\"\n"
	  "    machines: []\n",
	  "t.yaml:7:11: services[0].port: expected an integer, got the quoted string \"5060\"" },
	{ "port not a number",
	  BAL "services:\n  - name: sip\n    vip: 198.18.100.1\n    port: sip\n"
	  "    machines: []\n",
	  "t.yaml:7:11: services[0].port: expected an integer, got \"sip\"" },
	{ "port 0",
	  BAL "services:\n  - name: sip\n    vip: 198.18.100.1\n    port: 0\n"
	  "    machines: []\n",
	  "t.yaml:7:11: services[0].port: 0 out of range (1..65535)" },
	{ "weight 70000",
	  VALID "        weight: 70000\n",
	  "t.yaml:13:17: services[0].machines[0].weight: 70000 out of range (1..65535)" },
	{ "weight 0",
	  VALID "        weight: 0\n",
	  "t.yaml:13:17: services[0].machines[0].weight: 0 out of range (1..65535)" },
	{ "weight fraction",
	  VALID "        weight: 1.5\n",
	  "t.yaml:13:17: services[0].machines[0].weight: expected an integer, got \"1.5\"" },
	{ "weight huge",
	  VALID "        weight: 99999999999999999999999\n",
	  "t.yaml:13:17: services[0].machines[0].weight: 99999999999999999999999 out of range "
	  "(1..65535)" },
	{ "mirror_percent 150",
	  BAL SVCH "    mirror_percent: 150\n" MACH,
	  "t.yaml:8:21: services[0].mirror_percent: 150 out of range (0..100)" },
	{ "mirror_percent negative",
	  BAL SVCH "    mirror_percent: -1\n" MACH,
	  "t.yaml:8:21: services[0].mirror_percent: -1 out of range (0..100)" },
	{ "mirror_percent three decimals",
	  BAL SVCH "    mirror_percent: 12.345\n" MACH,
	  "t.yaml:8:21: services[0].mirror_percent: 12.345 has more than two decimals (the unit "
	  "is 0.01%)" },
	{ "mirror_percent word",
	  BAL SVCH "    mirror_percent: half\n" MACH,
	  "t.yaml:8:21: services[0].mirror_percent: expected a percentage 0..100 (e.g. 25 or "
	  "12.5%), got \"half\"" },
	{ "window too short",
	  BAL "daemon:\n  window: 500ms\nservices: []\n",
	  "t.yaml:5:11: daemon.window: 500ms out of range (1s..3600s)" },
	{ "window too long",
	  BAL "daemon:\n  window: 2h\nservices: []\n",
	  "t.yaml:5:11: daemon.window: 2h out of range (1s..3600s)" },
	{ "window without unit",
	  BAL "daemon:\n  window: 5\nservices: []\n",
	  "t.yaml:5:11: daemon.window: expected a duration with a unit (e.g. 5s, 500ms, 2m), "
	  "got \"5\"" },
	{ "window bad unit",
	  BAL "daemon:\n  window: 5 sec\nservices: []\n",
	  "t.yaml:5:11: daemon.window: expected a duration with a unit (e.g. 5s, 500ms, 2m), "
	  "got \"5 sec\"" },
	{ "min_simulation_seconds negative",
	  BAL SVCH "    policy: {min_simulation_seconds: -5s}\n" MACH,
	  "t.yaml:8:38: services[0].policy.min_simulation_seconds: -5s out of range "
	  "(0s..604800s)" },
	{ "class disagreement in pp",
	  BAL SVCH "    policy: {max_class_disagreement: 0.5pp}\n" MACH,
	  "t.yaml:8:38: services[0].policy.max_class_disagreement: 0.5pp: percentage "
	  "points (pp) are for differences of rates; write a percentage (e.g. 0.5%) or a "
	  "fraction (0.005)" },
	{ "class disagreement over 100%",
	  BAL SVCH "    policy: {max_class_disagreement: 101%}\n" MACH,
	  "t.yaml:8:38: services[0].policy.max_class_disagreement: 101% out of range "
	  "(0..1, or 0%..100%)" },
	{ "error increase in %",
	  BAL SVCH "    policy: {max_error_increase: 0.5%}\n" MACH,
	  "t.yaml:8:34: services[0].policy.max_error_increase: 0.5% is ambiguous for a "
	  "difference of rates; write percentage points (e.g. 0.5pp) or a fraction (0.005)" },
	{ "error increase over 1",
	  BAL SVCH "    policy: {max_error_increase: 2}\n" MACH,
	  "t.yaml:8:34: services[0].policy.max_error_increase: 2 out of range (0..1, or "
	  "0pp..100pp)" },
	{ "error increase word",
	  BAL SVCH "    policy: {max_error_increase: some}\n" MACH,
	  "t.yaml:8:34: services[0].policy.max_error_increase: expected percentage points "
	  "(e.g. 0.5pp) or a fraction (0.005), got \"some\"" },
	{ "latency ratio below 1",
	  BAL SVCH "    policy: {max_latency_ratio: 0.9}\n" MACH,
	  "t.yaml:8:33: services[0].policy.max_latency_ratio: 0.9 out of range (1..100)" },
	{ "alpha 0",
	  BAL SVCH "    policy: {alpha: 0}\n" MACH,
	  "t.yaml:8:21: services[0].policy.alpha: 0 out of range (greater than 0, at most "
	  "0.5)" },
	{ "beta nan",
	  BAL SVCH "    policy: {beta: .nan}\n" MACH,
	  "t.yaml:8:20: services[0].policy.beta: expected a number, got \".nan\"" },
	{ "min_paired 0",
	  BAL SVCH "    policy: {min_paired: 0}\n" MACH,
	  "t.yaml:8:26: services[0].policy.min_paired: 0 out of range (1..1000000000)" },
	{ "consecutive_windows list",
	  BAL SVCH "    policy: {consecutive_windows: [3]}\n" MACH,
	  "t.yaml:8:35: services[0].policy.consecutive_windows: expected an integer, got a "
	  "list" },
	{ "events_per_second negative",
	  BAL "daemon: {events_per_second: -1}\nservices: []\n",
	  "t.yaml:4:29: daemon.events_per_second: -1 out of range (0..1000000)" },
	{ "event_burst 0",
	  BAL "daemon: {event_burst: 0}\nservices: []\n",
	  "t.yaml:4:23: daemon.event_burst: 0 out of range (1..1000000)" },
	{ "max_calls too small",
	  BAL "daemon: {max_calls: 1000}\nservices: []\n",
	  "t.yaml:4:21: daemon.max_calls: 1000 out of range (1024..67108864)" },
	{ "max_transactions too large",
	  BAL "daemon: {max_transactions: 67108865}\nservices: []\n",
	  "t.yaml:4:28: daemon.max_transactions: 67108865 out of range (1024..67108864)" },
	{ "max_calls not a number",
	  BAL "daemon: {max_calls: 1e6}\nservices: []\n",
	  "t.yaml:4:21: daemon.max_calls: expected an integer, got \"1e6\"" },
	{ "log_level unknown",
	  BAL "daemon: {log_level: trace}\nservices: []\n",
	  "t.yaml:4:21: daemon.log_level: \"trace\" is not one of error, warn, info, debug" },
	{ "xdp_mode unknown",
	  "balancer: {client_interface: eth0, machine_interfaces: [eth1], xdp_mode: fast}\n"
	  "services: []\n",
	  "t.yaml:1:74: balancer.xdp_mode: \"fast\" is not one of native, generic, auto" },
	{ "state unknown",
	  BAL SVCH "    machines:\n      - {name: a, address: 198.18.1.1, version: '1', state: on}\n",
	  "t.yaml:9:61: services[0].machines[0].state: \"on\" is not one of active, "
	  "simulation, draining, rejected, removed, control" },
	{ "protocol tcp",
	  BAL SVCH "    protocol: tcp\n" MACH,
	  "t.yaml:8:15: services[0].protocol: \"tcp\": only udp is supported" },
	/* daemon strings */
	{ "metrics_listen hostname",
	  BAL "daemon: {metrics_listen: 'localhost:9464'}\nservices: []\n",
	  "t.yaml:4:26: daemon.metrics_listen: \"localhost:9464\": expected IPV4:PORT, "
	  "[IPV6]:PORT (literal addresses) or off" },
	{ "metrics_listen v6 without brackets",
	  BAL "daemon: {metrics_listen: '::1:9464'}\nservices: []\n",
	  "t.yaml:4:26: daemon.metrics_listen: \"::1:9464\": expected IPV4:PORT, [IPV6]:PORT "
	  "(literal addresses) or off" },
	{ "metrics_listen port 0",
	  BAL "daemon: {metrics_listen: '[::1]:0'}\nservices: []\n",
	  "t.yaml:4:26: daemon.metrics_listen: port 0 out of range (1..65535)" },
	{ "socket relative",
	  BAL "daemon: {socket: run/us.sock}\nservices: []\n",
	  "t.yaml:4:18: daemon.socket: \"run/us.sock\" is not an absolute path" },
	{ "socket too long",
	  BAL "daemon: {socket: /run/understudy/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.sock}\nservices: []\n",
	  "t.yaml:4:18: daemon.socket: path too long (111 bytes; at most 107)" },
	/* interfaces */
	{ "client interface also a machine interface",
	  "balancer:\n  client_interface: eth0\n  machine_interfaces: [eth1, eth0]\nservices: []\n",
	  "t.yaml:3:30: balancer.machine_interfaces[1]: \"eth0\" is also the "
	  "client_interface; an interface has one role" },
	{ "duplicate machine interface",
	  "balancer:\n  client_interface: eth0\n  machine_interfaces: [eth1, eth1]\nservices: []\n",
	  "t.yaml:3:30: balancer.machine_interfaces[1]: duplicate interface \"eth1\"" },
	{ "no machine interface",
	  "balancer:\n  client_interface: eth0\n  machine_interfaces: []\nservices: []\n",
	  "t.yaml:3:23: balancer.machine_interfaces: empty list; at least one interface is "
	  "required" },
	{ "17 machine interfaces",
	  "balancer:\n  client_interface: eth0\n  machine_interfaces: [m0, m1, m2, m3, m4, m5, m6, "
	  "m7, m8, m9, m10, m11, m12, m13, m14, m15, m16]\nservices: []\n",
	  "t.yaml:3:94: balancer.machine_interfaces[16]: more than 16 interfaces" },
	{ "interface name too long",
	  "balancer:\n  client_interface: a-very-long-ifname\n  machine_interfaces: [eth1]\n"
	  "services: []\n",
	  "t.yaml:2:21: balancer.client_interface: \"a-very-long-ifname\" is too long for an "
	  "interface name (at most 15 characters)" },
	{ "interface name with slash",
	  "balancer:\n  client_interface: eth/0\n  machine_interfaces: [eth1]\nservices: []\n",
	  "t.yaml:2:21: balancer.client_interface: \"eth/0\" is not a valid interface name" },
	/* names, strings, addresses */
	{ "upper-case service name",
	  BAL "services:\n  - name: SIP\n    vip: 198.18.100.1\n    port: 5060\n    machines: []\n",
	  "t.yaml:5:11: services[0].name: \"SIP\" is not a valid name (lower-case letters, digits, "
	  "'.', '_' and '-', starting with a letter or digit)" },
	{ "name too long",
	  BAL "services:\n  - name: s0123456789012345678901234567890123456789012345678901234567890"
	  "123\n    vip: 198.18.100.1\n    port: 5060\n    machines: []\n",
	  "t.yaml:5:11: services[0].name: \"s012345678901234567890123456789012345678...\" "
	  "is too long (65 characters; at most 63)" },
	{ "empty version",
	  BAL SVCH "    machines:\n      - {name: a, address: 198.18.1.1, version: '', state: active}\n",
	  "t.yaml:9:49: services[0].machines[0].version: \"\" is empty" },
	{ "NUL in version",
	  BAL SVCH "    machines:\n      - {name: a, address: 198.18.1.1, version: \"1\\0\", "
	  "state: active}\n",
	  "t.yaml:9:49: services[0].machines[0].version: contains a NUL character" },
	{ "bad vip",
	  BAL "services:\n  - name: sip\n    vip: 198.18.100.300\n    port: 5060\n    machines: []\n",
	  "t.yaml:6:10: services[0].vip: \"198.18.100.300\" is not an IPv4 or IPv6 address" },
	{ "vip with prefix length",
	  BAL "services:\n  - name: sip\n    vip: 198.18.100.1/32\n    port: 5060\n"
	  "    machines: []\n",
	  "t.yaml:6:10: services[0].vip: \"198.18.100.1/32\" is not an IPv4 or IPv6 address" },
	{ "v4-mapped vip",
	  BAL "services:\n  - name: sip\n    vip: \"::ffff:198.18.100.1\"\n    port: 5060\n"
	  "    machines: []\n",
	  "t.yaml:6:10: services[0].vip: ::ffff:198.18.100.1 is IPv4-mapped IPv6; write an IPv4 "
	  "address as a.b.c.d" },
	{ "multicast vip",
	  BAL "services:\n  - name: sip\n    vip: 239.1.1.1\n    port: 5060\n    machines: []\n",
	  "t.yaml:6:10: services[0].vip: 239.1.1.1 is a multicast address (224.0.0.0/4)" },
	{ "unspecified machine address",
	  BAL SVCH "    machines:\n      - {name: a, address: '::', version: '1', state: active}\n",
	  "t.yaml:9:28: services[0].machines[0].address: :: is unspecified (::), not a host address" },
	{ "family mismatch",
	  BAL SVCH "    machines:\n      - {name: a, address: '2001:db8::5', version: '1', "
	  "state: active}\n",
	  "t.yaml:9:28: services[0].machines[0].address: 2001:db8::5 is IPv6 but the service's "
	  "VIP 198.18.100.1 is IPv4" },
	{ "machine address is the vip",
	  BAL SVCH "    machines:\n      - {name: a, address: 198.18.100.1, version: '1', "
	  "state: active}\n",
	  "t.yaml:9:28: services[0].machines[0].address: 198.18.100.1 is the service's VIP; a "
	  "machine needs its own address" },
	/* the validator (validate.h): what would brick the daemon or reach nowhere */
	{ "empty machine name",
	  BAL SVCH "    machines:\n      - {name: '', address: 198.18.1.1, version: '1', "
	  "state: active}\n",
	  "t.yaml:9:16: services[0].machines[0].name: \"\" is empty" },
	{ "empty service name",
	  BAL "services:\n  - name: \"\"\n    vip: 198.18.100.1\n    port: 5060\n"
	  "    machines: []\n",
	  "t.yaml:5:11: services[0].name: \"\" is empty" },
	{ "version with a C1 control character",
	  BAL SVCH "    machines:\n      - {name: a, address: 198.18.1.1, version: \"1\\u009b2J\", "
	  "state: active}\n",
	  "t.yaml:9:49: services[0].machines[0].version: \"1\\xc2\\x9b2J\" has a control "
	  "character" },
	{ "loopback machine address",
	  BAL SVCH "    machines:\n      - {name: a, address: 127.0.0.2, version: '1', "
	  "state: active}\n",
	  "t.yaml:9:28: services[0].machines[0].address: 127.0.0.2 is a loopback address "
	  "(127.0.0.0/8)" },
	{ "link-local vip",
	  BAL "services:\n  - name: sip\n    vip: 169.254.1.1\n    port: 5060\n"
	  "    machines: []\n",
	  "t.yaml:6:10: services[0].vip: 169.254.1.1 is a link-local address (169.254.0.0/16)" },
	{ "link-local IPv6 machine address",
	  BAL "services:\n  - name: sip\n    vip: 2001:db8:100::1\n    port: 5060\n"
	  "    machines:\n      - {name: a, address: 'fe80::1', version: '1', state: active}\n",
	  "t.yaml:9:28: services[0].machines[0].address: fe80::1 is a link-local address "
	  "(fe80::/10)" },
	{ "loopback IPv6 vip",
	  BAL "services:\n  - name: sip\n    vip: '::1'\n    port: 5060\n    machines: []\n",
	  "t.yaml:6:10: services[0].vip: ::1 is the loopback address (::1)" },
	{ "class E vip",
	  BAL "services:\n  - name: sip\n    vip: 240.0.0.1\n    port: 5060\n    machines: []\n",
	  "t.yaml:6:10: services[0].vip: 240.0.0.1 is a reserved address (class E, 240.0.0.0/4)" },
	/* duplicates across entries */
	{ "duplicate service name",
	  VALID "  - name: sip\n    vip: 198.18.100.2\n    port: 5060\n    machines: []\n",
	  "t.yaml:13:11: services[1].name: duplicate service name \"sip\" (first at line 5)" },
	{ "duplicate vip and port",
	  VALID "  - name: sip2\n    vip: 198.18.100.1\n    port: 5060\n    machines: []\n",
	  "t.yaml:14:10: services[1].vip: duplicate VIP and port 198.18.100.1:5060 (first in "
	  "service \"sip\" at line 5)" },
	{ "duplicate v6 vip and port",
	  BAL "services:\n  - {name: a, vip: '2001:db8::1', port: 5060, machines: []}\n"
	  "  - {name: b, vip: '2001:db8:0::1', port: 5060, machines: []}\n",
	  "t.yaml:6:20: services[1].vip: duplicate VIP and port [2001:db8::1]:5060 (first in "
	  "service \"a\" at line 5)" },
	{ "duplicate machine name across services",
	  VALID "  - name: sip2\n    vip: 198.18.100.2\n    port: 5060\n    machines:\n"
	  "      - {name: v1-a, address: 198.18.1.2, version: '1', state: active}\n",
	  "t.yaml:17:16: services[1].machines[0].name: duplicate machine name \"v1-a\" "
	  "(first at line 9)" },
	{ "duplicate machine address in a service",
	  VALID "      - {name: v1-b, address: 198.18.1.1, version: '1', state: active}\n",
	  "t.yaml:13:31: services[0].machines[1].address: duplicate address 198.18.1.1 in "
	  "service \"sip\" (first at line 9)" },
	{ "control machine of another version",
	  VALID "      - {name: c, address: 198.18.1.3, version: '2', state: control}\n",
	  "t.yaml:13:9: services[0].machines[1]: a control machine runs the active machines' "
	  "version, and no active machine of this service runs version \"2\"" },
	{ "machine address in two services",
	  VALID "  - name: sip2\n    vip: 198.18.100.2\n    port: 5060\n    machines:\n"
	  "      - {name: v1-z, address: 198.18.1.1, version: '1', state: active}\n",
	  "t.yaml:17:31: services[1].machines[0].address: 198.18.1.1 is already machine "
	  "\"v1-a\" of service \"sip\" (line 9); a machine serves one service" },
	{ "daemon is a list",
	  BAL "daemon: [window]\nservices: []\n",
	  "t.yaml:4:9: daemon: expected a mapping, got a list" },
	{ "unknown daemon key",
	  BAL "daemon:\n  windows: 5s\nservices: []\n",
	  "t.yaml:5:3: daemon: unknown key \"windows\"; valid keys: window, socket, "
	  "metrics_listen, state_dir, pin_root, events_per_second, event_burst, log_level, "
	  "max_calls, max_transactions, window_records_max, role, etcd, agents" },
	{ "policy is a string",
	  BAL SVCH "    policy: strict\n" MACH,
	  "t.yaml:8:13: services[0].policy: expected a mapping, got \"strict\"" },
	{ "error inside an alias points at the anchor",
	  BAL "services:\n  - {name: a, vip: 198.18.0.1, port: 1, machines: [], policy: &p {alpha: 1}}\n"
	  "  - {name: b, vip: 198.18.0.2, port: 1, machines: [], policy: *p}\n",
	  "t.yaml:5:74: services[0].policy.alpha: 1 out of range (greater than 0, at most "
	  "0.5)\n"
	  "t.yaml:5:74: services[1].policy.alpha: 1 out of range (greater than 0, at most "
	  "0.5)" },
	/* roles (docs/cluster.md) */
	{ "agent without etcd",
	  BAL "daemon: {role: agent}\nservices: []\n",
	  "t.yaml:4:9: daemon.etcd.endpoints: role agent needs etcd: at least one endpoint "
	  "(http://HOST:2379)" },
	{ "controller without agents",
	  BAL "daemon: {role: controller, etcd: {endpoints: [http://198.18.0.1:2379]}}\n"
	  "services: []\n",
	  "t.yaml:4:9: daemon.agents: role controller needs its agents' URLs (http://HOST:PORT, "
	  "their metrics_listen)" },
	{ "agents of an agent",
	  BAL "daemon: {role: agent, etcd: {endpoints: [http://198.18.0.1:2379]},\n"
	  "  agents: [http://198.18.0.2:9464]}\nservices: []\n",
	  "t.yaml:4:9: daemon.agents: only a controller pulls agents' counters; this daemon's "
	  "role is agent" },
	{ "services of an agent",
	  BAL "daemon: {role: agent, etcd: {endpoints: [http://198.18.0.1:2379]}}\n" SVCH MACH,
	  "t.yaml:6:3: services: role agent takes the services from etcd's desired state "
	  "(/understudy/desired/config); leave this list empty (services: [])" },
	{ "bad endpoint",
	  BAL "daemon: {role: agent, etcd: {endpoints: [198.18.0.1:2379, http://h:1/v3]}}\n"
	  "services: []\n",
	  "t.yaml:4:42: daemon.etcd.endpoints[0]: \"198.18.0.1:2379\": expected http://HOST:PORT "
	  "or https://HOST:PORT (no path)\n"
	  "t.yaml:4:59: daemon.etcd.endpoints[1]: \"http://h:1/v3\": expected http://HOST:PORT "
	  "or https://HOST:PORT (no path)" },
	{ "bad role",
	  BAL "daemon: {role: leader}\nservices: []\n",
	  "t.yaml:4:16: daemon.role: \"leader\" is not one of standalone, agent, controller" },
	/* several errors: all reported, by position */
	{ "several errors",
	  "balancer:\n  client_interface: eth0\n  machine_interfaces: [eth1]\n  extra: 1\n"
	  "services:\n  - name: sip\n    vip: 198.18.100.1\n    port: 99999\n    machines:\n"
	  "      - {name: a, address: 198.18.1.1, version: '1', state: active, weight: 0}\n",
	  "t.yaml:4:3: balancer: unknown key \"extra\"; valid keys: client_interface, "
	  "machine_interfaces, xdp_mode\n"
	  "t.yaml:8:11: services[0].port: 99999 out of range (1..65535)\n"
	  "t.yaml:10:77: services[0].machines[0].weight: 0 out of range (1..65535)" },
};
#pragma GCC diagnostic pop

static void test_bad_case(void **state)
{
	const struct bad *b = *state;
	size_t len = b->len ? b->len : strlen(b->yaml);
	char *text = malloc(len + 1);
	char err[4096];
	struct us_conf c;
	int r;

	assert_non_null(text);
	/* "file too large": the text is only as long as the case says */
	memset(text, ' ', len);
	memcpy(text, b->yaml, strlen(b->yaml) < len ? strlen(b->yaml) : len);
	memset(&c, 0xa5, sizeof(c));
	r = us_conf_parse(text, len, "t.yaml", &c, err, sizeof(err));
	free(text);
	if (getenv("US_CONFIG_PRINT")) {
		FILE *f = fopen(getenv("US_CONFIG_PRINT"), "a");

		if (f) {
			fprintf(f, "%s\x1e%d\x1e%s\x1d", b->what, r, err);
			fclose(f);
		}
	}
	assert_int_equal(r, b->ret ? b->ret : -EINVAL);
	assert_string_equal(err, b->msg);
	/* an invalid file produces no configuration at all */
	for (size_t i = 0; i < sizeof(c); i++)
		assert_int_equal(((unsigned char *)&c)[i], 0xa5);
}

/* Legal but suspicious: warned, still valid. */
static void test_warnings(void **state)
{
	struct us_conf c;
	char err[1024], w[1024];

	(void)state;
	assert_int_equal(parse(BAL SVCH "    machines:\n"
			       "      - {name: a, address: 198.18.1.1, version: '1', state: simulation}\n"
			       "  - name: t\n    vip: 198.18.100.2\n    port: 5060\n    machines:\n"
			       "      - {name: b, address: 198.18.1.2, version: '1', state: removed}\n"
			       "      - {name: c, address: 198.18.1.3, version: '1', state: rejected}\n"
			       "  - name: u\n    vip: 198.18.100.3\n    port: 5060\n    machines:\n"
			       "      - {name: d, address: 198.18.1.4, version: '1', state: active}\n"
			       "      - {name: e, address: 198.18.1.5, version: '2', state: simulation}\n",
			       &c, err, sizeof(err)), 0);
	assert_int_equal(us_conf_warnings(&c, w, sizeof(w)), 2);
	assert_string_equal(w, "t.yaml:5: services[0] (sip): warning: simulation machines but no "
			    "active one: no call reaches the service, nothing is mirrored, nothing "
			    "can be judged\n"
			    "t.yaml:10: services[1] (t): warning: every machine removed or rejected: "
			    "the service answers no call");
	assert_int_equal(us_conf_warnings(&c, NULL, 0), 2);
	us_conf_free(&c);
	assert_int_equal(parse(BAL SVCH "    machines: []\n", &c, err, sizeof(err)), 0);
	assert_int_equal(us_conf_warnings(&c, w, sizeof(w)), 0);
	assert_string_equal(w, "");
	us_conf_free(&c);
}

/* More than US_MAX_SERVICES services, more than US_MAX_MACHINES machines. */
static void test_limits(void **state)
{
	size_t cap = 64 * 1024, o, i, k;
	char *y = malloc(cap), err[1024];
	struct us_conf c;
	int r;

	(void)state;
	assert_non_null(y);
	o = (size_t)snprintf(y, cap, "%s", BAL "services:\n");
	for (i = 0; i <= US_MAX_SERVICES; i++)
		o += (size_t)snprintf(y + o, cap - o,
				      "  - {name: s%zu, vip: 198.18.100.1, port: %zu, machines: []}\n",
				      i, 5000 + i);
	r = parse(y, &c, err, sizeof(err));
	assert_int_equal(r, -EINVAL);
	assert_string_equal(err, "t.yaml:37:5: services[32]: more than 32 services (US_MAX_SERVICES)");

	/* exactly US_MAX_SERVICES is fine */
	*strstr(y, "  - {name: s32") = 0;
	assert_int_equal(parse(y, &c, err, sizeof(err)), 0);
	assert_int_equal(c.nservices, US_MAX_SERVICES);
	us_conf_free(&c);

	/* 2 services of 128 machines: fine; one more: refused */
	o = (size_t)snprintf(y, cap, "%s", BAL "services:\n");
	for (i = 0; i < 2; i++) {
		o += (size_t)snprintf(y + o, cap - o, "  - name: s%zu\n    vip: 198.18.100.%zu\n"
				      "    port: 5060\n    machines:\n", i, i + 1);
		for (k = 0; k < US_MAX_MACHINES / 2; k++)
			o += (size_t)snprintf(y + o, cap - o, "      - {name: m%zu-%zu, address: "
					      "198.18.%zu.%zu, version: '1', state: active}\n",
					      i, k, i + 1, k + 1);
	}
	assert_int_equal(parse(y, &c, err, sizeof(err)), 0);
	assert_int_equal(c.nmachines, US_MAX_MACHINES);
	assert_int_equal(c.services[1].nmachines, US_MAX_MACHINES / 2);
	us_conf_free(&c);
	snprintf(y + o, cap - o, "      - {name: extra, address: 198.18.9.9, version: '1', "
		 "state: active}\n");
	assert_int_equal(parse(y, &c, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "t.yaml:269:9: services[1].machines[128]: more than 256 machines "
			    "in the file (US_MAX_MACHINES)");
	free(y);
}

/* At most US_CONF_MAX_ERRORS lines, then how many more. */
static void test_many_errors_cut(void **state)
{
	char y[8192], err[16384];
	size_t o, i;
	struct us_conf c;

	(void)state;
	o = (size_t)snprintf(y, sizeof(y), "%s", BAL "services:\n  - name: s\n    vip: 198.18.0.1\n"
			     "    port: 1\n    machines:\n");
	for (i = 0; i < 25; i++)
		o += (size_t)snprintf(y + o, sizeof(y) - o, "      - {name: m%zu, address: 198.18.1.%zu, "
				      "version: '1', state: active, weight: 0}\n", i, i + 1);
	assert_int_equal(parse(y, &c, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "t.yaml:9:78: services[0].machines[0].weight: 0 out of range"));
	assert_non_null(strstr(err, "services[0].machines[19].weight"));
	assert_null(strstr(err, "services[0].machines[20].weight"));
	assert_non_null(strstr(err, "\nt.yaml: ... and 5 more errors"));
	o = 0;
	for (i = 0; err[i]; i++)
		o += err[i] == '\n';
	assert_int_equal(o, 20);

	/* a buffer too small for 20 lines: whole lines, and the count of the
	 * rest always there (it was lost when the lines filled the buffer) */
	for (size_t len = 120; len <= 2100; len += 97) {
		size_t lines = 0, more = 0;
		const char *t;

		assert_int_equal(parse(y, &c, err, len), -EINVAL);
		assert_true(strlen(err) < len);
		t = strstr(err, "t.yaml: ... and ");
		if (!t)
			fail_msg("len %zu: no \"and N more\" in \"%s\"", len, err);
		assert_int_equal(sscanf(t, "t.yaml: ... and %zu more errors", &more), 1);
		for (i = 0; err[i]; i++)
			lines += err[i] == '\n';
		/* every line shown but the tail is a whole error */
		for (const char *l = err; l < t; l = strchr(l, '\n') + 1)
			assert_int_equal(strncmp(l, "t.yaml:", 7), 0);
		assert_int_equal(lines + more, 25);
	}

	/* a short buffer is cut, NUL-terminated */
	assert_int_equal(parse(y, &c, err, 16), -EINVAL);
	assert_int_equal(strlen(err), 15);
	/* no buffer at all */
	assert_int_equal(parse(y, &c, NULL, 0), -EINVAL);
}

/* tests/config/bad/NNN-name.yaml: every file refused, its message (the
 * .expect beside it: the text after the file's name) among the errors. */
static void test_bad_corpus(void **state)
{
	char dir[600], path[1200], expect[1024], err[8192];
	struct dirent **list;
	struct us_conf c;
	int n, files = 0;

	(void)state;
	snprintf(dir, sizeof(dir), "%s/bad", cfgdir());
	n = scandir(dir, &list, NULL, alphasort);
	assert_true(n > 0);
	for (int i = 0; i < n; i++) {
		const char *name = list[i]->d_name;
		size_t len = strlen(name);
		FILE *f;

		if (len > 5 && !strcmp(name + len - 5, ".yaml")) {
			snprintf(path, sizeof(path), "%s/%.*s.expect", dir, (int)(len - 5), name);
			f = fopen(path, "r");
			if (!f)
				fail_msg("%s: no .expect beside it", name);
			if (!fgets(expect, sizeof(expect), f))
				fail_msg("%s: empty .expect", name);
			fclose(f);
			expect[strcspn(expect, "\n")] = 0;
			assert_true(strlen(expect) > 10);
			snprintf(path, sizeof(path), "%s/%s", dir, name);
			if (!us_conf_load(path, &c, err, sizeof(err))) {
				us_conf_free(&c);
				fail_msg("%s: accepted", name);
			}
			if (!strstr(err, expect))
				fail_msg("%s: \"%s\", expected \"%s\"", name, err, expect);
			files++;
		} else if (len > 7 && !strcmp(name + len - 7, ".expect")) {
			snprintf(path, sizeof(path), "%s/%.*s.yaml", dir, (int)(len - 7), name);
			if (access(path, F_OK))
				fail_msg("%s: no .yaml beside it", name);
		}
		free(list[i]);
	}
	free(list);
	assert_true(files >= 30);
}

/* Bounds on what libyaml would spend: 80,000 anchors took 9 s (its anchor
 * list is searched whole for each new one), 4 MiB of "{}," 377 MiB. */
static void test_bounded_cost(void **state)
{
	const size_t big = 4 * 1024 * 1024 - 4096;
	char *y = malloc(big + 1), err[1024];
	struct timespec a, b;
	struct us_conf c;
	size_t o;

	(void)state;
	assert_non_null(y);
	o = (size_t)snprintf(y, big, "%s", BAL "x: [");
	for (size_t i = 0; o + 16 < big - 2; i++)
		o += (size_t)snprintf(y + o, big - o, "&a%zu 1,", i);
	snprintf(y + o, big - o, "]\n");
	clock_gettime(CLOCK_MONOTONIC, &a);
	assert_int_equal(parse(y, &c, err, sizeof(err)), -EINVAL);
	clock_gettime(CLOCK_MONOTONIC, &b);
	assert_non_null(strstr(err, "more than 1000 anchors"));
	assert_true((b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000 < 1000);

	o = (size_t)snprintf(y, big, "%s", BAL "x: [");
	while (o + 3 < big - 2)
		o += (size_t)snprintf(y + o, big - o, "{},");
	snprintf(y + o, big - o, "]\n");
	assert_int_equal(parse(y, &c, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "more than 100000 nodes"));
	/* 1,000 anchors and their aliases are still fine */
	o = (size_t)snprintf(y, big, "%s", VALID "x: [");
	for (size_t i = 0; i < 1000; i++)
		o += (size_t)snprintf(y + o, big - o, "&a%zu 1, *a%zu,", i, i);
	snprintf(y + o, big - o, "]\n");
	assert_int_equal(parse(y, &c, err, sizeof(err)), -EINVAL);
	assert_null(strstr(err, "anchors"));
	assert_non_null(strstr(err, "unknown key \"x\""));
	free(y);
}

static void test_load_errors(void **state)
{
	char err[1024];
	struct us_conf c;

	(void)state;
	assert_int_equal(us_conf_load("/nonexistent/understudy.yaml", &c, err, sizeof(err)),
			 -ENOENT);
	assert_string_equal(err, "/nonexistent/understudy.yaml: cannot open: No such file or "
			    "directory");
	assert_int_equal(us_conf_load(cfgdir(), &c, err, sizeof(err)), -EISDIR);
	/* a FIFO is refused, not waited on (--check and a reload blocked) */
	{
		char fifo[64];

		snprintf(fifo, sizeof(fifo), "/tmp/understudy-fifo-%d.yaml", (int)getpid());
		unlink(fifo);
		assert_int_equal(mkfifo(fifo, 0600), 0);
		assert_int_equal(us_conf_load(fifo, &c, err, sizeof(err)), -EINVAL);
		assert_non_null(strstr(err, "not a regular file (a FIFO)"));
		unlink(fifo);
	}
	/* files of bad inputs */
	assert_int_equal(us_conf_load(cfgpath("bad-syntax.yaml"), &c, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "bad-syntax.yaml:9:11: YAML syntax error: "));
	assert_int_equal(us_conf_load(cfgpath("bad-utf8.yaml"), &c, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "bad-utf8.yaml:11:22: not valid UTF-8 text: "));
	assert_int_equal(us_conf_load(cfgpath("bad-two-documents.yaml"), &c, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "bad-two-documents.yaml:12:1: more than one YAML document"));
	assert_int_equal(us_conf_load(cfgpath("bad-values.yaml"), &c, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "bad-values.yaml:18:17: services[0].machines[2].weight: "
				    "70000 out of range (1..65535)"));
}

/* ---- difference -------------------------------------------------------- */

static const char diff_old[] =
	"balancer: {client_interface: eth0, machine_interfaces: [eth1]}\n"
	"daemon: {window: 5s}\n"
	"services:\n"
	"  - name: keep\n"
	"    vip: 198.18.100.1\n"
	"    port: 5060\n"
	"    machines:\n"
	"      - {name: k1, address: 198.18.1.1, version: '1', state: active}\n"
	"      - {name: k2, address: 198.18.1.2, version: '1', state: active}\n"
	"      - {name: k3, address: 198.18.1.3, version: '1', state: simulation}\n"
	"  - name: share\n"
	"    vip: 198.18.100.2\n"
	"    port: 5060\n"
	"    mirror_percent: 10\n"
	"    machines:\n"
	"      - {name: s1, address: 198.18.2.1, version: '1', state: active}\n"
	"      - {name: mover, address: 198.18.2.9, version: '1', state: active}\n"
	"  - name: gone\n"
	"    vip: 198.18.100.3\n"
	"    port: 5060\n"
	"    machines:\n"
	"      - {name: g1, address: 198.18.3.1, version: '1', state: active}\n";

static const char diff_new[] =
	"balancer: {client_interface: eth0, machine_interfaces: [eth1]}\n"
	"daemon: {window: 10s, log_level: debug}\n"
	"services:\n"
	"  - name: keep\n"
	"    vip: 198.18.100.1\n"
	"    port: 5060\n"
	"    machines:\n"
	"      - {name: k1, address: 198.18.1.1, version: '1', state: active}\n"
	"      - {name: k2, address: 198.18.1.2, version: '1', state: active, weight: 5}\n"
	"      - {name: k3, address: 198.18.1.3, version: '2', state: active}\n"
	"      - {name: k4, address: 198.18.1.4, version: '2', state: simulation}\n"
	"      - {name: mover, address: 198.18.1.9, version: '1', state: active}\n"
	"  - name: share\n"
	"    vip: 198.18.100.2\n"
	"    port: 5062\n"
	"    mirror_percent: 20\n"
	"    policy: {alpha: 0.02}\n"
	"    machines:\n"
	"      - {name: s1, address: 198.18.2.1, version: '1', state: active}\n"
	"  - name: fresh\n"
	"    vip: 198.18.100.4\n"
	"    port: 5060\n"
	"    machines:\n"
	"      - {name: f1, address: 198.18.4.1, version: '1', state: active}\n";

static void load2(const char *a, const char *b, struct us_conf *x, struct us_conf *y)
{
	char err[2048];

	if (parse(a, x, err, sizeof(err)))
		fail_msg("%s", err);
	if (parse(b, y, err, sizeof(err)))
		fail_msg("%s", err);
}

static void test_diff(void **state)
{
	struct us_conf a, b;
	struct us_conf_diff d;
	char line[1024];

	(void)state;
	load2(diff_old, diff_new, &a, &b);
	assert_int_equal(us_conf_diff(&a, &b, &d), 0);
	assert_false(us_conf_diff_empty(&d));

	assert_int_equal(d.svc_added.n, 1);
	assert_string_equal(d.svc_added.v[0].name, "fresh");
	assert_int_equal(d.svc_added.v[0].new_svc, 2);
	assert_int_equal(d.svc_added.v[0].old_svc, -1);
	assert_int_equal(d.svc_removed.n, 1);
	assert_string_equal(d.svc_removed.v[0].name, "gone");
	assert_int_equal(d.svc_removed.v[0].old_svc, 2);
	assert_int_equal(d.svc_changed.n, 1);
	assert_string_equal(d.svc_changed.v[0].name, "share");
	assert_int_equal(d.svc_changed.v[0].changed,
			 US_DIFF_SVC_ADDRESS | US_DIFF_SVC_SHARE | US_DIFF_SVC_POLICY);
	assert_int_equal(d.svc_changed.v[0].old_svc, 1);
	assert_int_equal(d.svc_changed.v[0].new_svc, 1);

	assert_int_equal(d.m_added.n, 2);
	assert_string_equal(d.m_added.v[0].name, "k4");
	assert_string_equal(d.m_added.v[0].service, "keep");
	assert_int_equal(d.m_added.v[0].new_svc, 0);
	assert_int_equal(d.m_added.v[0].new_idx, 3);
	assert_string_equal(d.m_added.v[1].name, "f1");
	assert_string_equal(d.m_added.v[1].service, "fresh");

	assert_int_equal(d.m_removed.n, 1);
	assert_string_equal(d.m_removed.v[0].name, "g1");
	assert_string_equal(d.m_removed.v[0].service, "gone");
	assert_int_equal(d.m_removed.v[0].old_svc, 2);
	assert_int_equal(d.m_removed.v[0].old_idx, 0);

	assert_int_equal(d.m_changed.n, 3);
	assert_string_equal(d.m_changed.v[0].name, "k2");
	assert_int_equal(d.m_changed.v[0].changed, US_DIFF_M_WEIGHT);
	assert_string_equal(d.m_changed.v[1].name, "k3");
	assert_int_equal(d.m_changed.v[1].changed, US_DIFF_M_VERSION | US_DIFF_M_STATE);
	assert_string_equal(d.m_changed.v[2].name, "mover");
	assert_string_equal(d.m_changed.v[2].service, "keep");
	assert_int_equal(d.m_changed.v[2].changed, US_DIFF_M_SERVICE | US_DIFF_M_ADDRESS);
	assert_int_equal(d.m_changed.v[2].old_svc, 1);
	assert_int_equal(d.m_changed.v[2].old_idx, 1);
	assert_int_equal(d.m_changed.v[2].new_svc, 0);
	assert_int_equal(d.m_changed.v[2].new_idx, 4);

	assert_int_equal(d.nsettings, 2);
	assert_string_equal(d.settings[0].path, "daemon.window");
	assert_false(d.settings[0].restart);
	assert_string_equal(d.settings[1].path, "daemon.log_level");
	assert_false(d.settings[1].restart);
	assert_false(d.restart);

	us_conf_diff_describe(&d, line, sizeof(line));
	assert_string_equal(line,
			    "services added: fresh; services removed: gone; services changed: "
			    "share (address, share, policy); machines added: k4, f1; machines "
			    "removed: g1; machines changed: k2 (weight), k3 (version, state), "
			    "mover (service, address); settings changed: daemon.window, "
			    "daemon.log_level");
	/* the length needed, like snprintf */
	{
		int full = (int)strlen(line);

		assert_int_equal(us_conf_diff_describe(&d, line, 10), full);
		assert_int_equal(strlen(line), 9);
	}
	us_conf_diff_free(&d);

	/* the other way round */
	assert_int_equal(us_conf_diff(&b, &a, &d), 0);
	assert_int_equal(d.svc_added.n, 1);
	assert_string_equal(d.svc_added.v[0].name, "gone");
	assert_int_equal(d.svc_removed.n, 1);
	assert_string_equal(d.svc_removed.v[0].name, "fresh");
	assert_int_equal(d.m_added.n, 1);
	assert_string_equal(d.m_added.v[0].name, "g1");
	assert_int_equal(d.m_removed.n, 2);
	assert_string_equal(d.m_removed.v[0].name, "k4");
	assert_string_equal(d.m_removed.v[1].name, "f1");
	us_conf_diff_free(&d);

	/* with itself: nothing */
	assert_int_equal(us_conf_diff(&a, &a, &d), 0);
	assert_true(us_conf_diff_empty(&d));
	us_conf_diff_describe(&d, line, sizeof(line));
	assert_string_equal(line, "no change");
	us_conf_diff_free(&d);
	us_conf_free(&a);
	us_conf_free(&b);
}

/* Daemon-level changes: which need a restart, which apply live. */
static void test_diff_restart(void **state)
{
	static const struct {
		const char *bal, *dmn;
		const char *path;       /* the setting that changed, or NULL */
		bool restart;
	} f[] = {
		{ "client_interface: eth9, machine_interfaces: [eth1]", "{}",
		  "balancer.client_interface", true },
		{ "client_interface: eth0, machine_interfaces: [eth1, eth2]", "{}",
		  "balancer.machine_interfaces", true },
		{ "client_interface: eth0, machine_interfaces: [eth2]", "{}",
		  "balancer.machine_interfaces", true },
		{ "client_interface: eth0, machine_interfaces: [eth1], xdp_mode: generic", "{}",
		  "balancer.xdp_mode", true },
		{ "client_interface: eth0, machine_interfaces: [eth1]", "{socket: /run/x.sock}",
		  "daemon.socket", true },
		{ "client_interface: eth0, machine_interfaces: [eth1]", "{metrics_listen: off}",
		  "daemon.metrics_listen", true },
		{ "client_interface: eth0, machine_interfaces: [eth1]",
		  "{metrics_listen: '127.0.0.1:9465'}", "daemon.metrics_listen", true },
		{ "client_interface: eth0, machine_interfaces: [eth1]", "{state_dir: /var/lib/x}",
		  "daemon.state_dir", true },
		{ "client_interface: eth0, machine_interfaces: [eth1]", "{pin_root: /sys/fs/bpf/x}",
		  "daemon.pin_root", true },
		{ "client_interface: eth0, machine_interfaces: [eth1]", "{window: 6s}",
		  "daemon.window", false },
		{ "client_interface: eth0, machine_interfaces: [eth1]", "{events_per_second: 5}",
		  "daemon.events_per_second", false },
		{ "client_interface: eth0, machine_interfaces: [eth1]", "{event_burst: 5}",
		  "daemon.event_burst", false },
		{ "client_interface: eth0, machine_interfaces: [eth1]", "{log_level: error}",
		  "daemon.log_level", false },
		{ "client_interface: eth0, machine_interfaces: [eth1]", "{max_calls: 4096}",
		  "daemon.max_calls", true },
		{ "client_interface: eth0, machine_interfaces: [eth1]", "{max_transactions: 4096}",
		  "daemon.max_transactions", true },
		{ "client_interface: eth0, machine_interfaces: [eth1]", "{max_calls: 262144}", NULL,
		  false },
		{ "client_interface: eth0, machine_interfaces: [eth1]", "{window: 5000ms}", NULL, false },
	};
	static const char base[] =
		"balancer: {client_interface: eth0, machine_interfaces: [eth1]}\nservices: []\n";
	struct us_conf a, b;
	struct us_conf_diff d;
	char y[512], line[512];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		snprintf(y, sizeof(y), "balancer: {%s}\ndaemon: %s\nservices: []\n", f[i].bal,
			 f[i].dmn);
		load2(base, y, &a, &b);
		assert_int_equal(us_conf_diff(&a, &b, &d), 0);
		if (d.nsettings != (f[i].path ? 1u : 0u) || d.restart != f[i].restart ||
		    (f[i].path && (strcmp(d.settings[0].path, f[i].path) ||
				   d.settings[0].restart != f[i].restart)))
			fail_msg("case %zu: %zu settings (%s), restart %d", i, d.nsettings,
				 d.nsettings ? d.settings[0].path : "-", d.restart);
		assert_int_equal(us_conf_diff_empty(&d), f[i].path == NULL);
		assert_int_equal(d.svc_added.n + d.svc_removed.n + d.svc_changed.n + d.m_added.n +
				 d.m_removed.n + d.m_changed.n, 0);
		us_conf_diff_describe(&d, line, sizeof(line));
		if (f[i].restart)
			assert_non_null(strstr(line, "restart needed: "));
		us_conf_diff_free(&d);
		us_conf_free(&a);
		us_conf_free(&b);
	}

	snprintf(y, sizeof(y), "balancer: {client_interface: eth5, machine_interfaces: [eth1]}\n"
		 "daemon: {pin_root: /sys/fs/bpf/y, window: 7s}\nservices: []\n");
	load2(base, y, &a, &b);
	assert_int_equal(us_conf_diff(&a, &b, &d), 0);
	assert_true(d.restart);
	us_conf_diff_describe(&d, line, sizeof(line));
	assert_string_equal(line, "restart needed: balancer.client_interface, daemon.pin_root; "
			    "settings changed: daemon.window");
	us_conf_diff_free(&d);
	us_conf_free(&a);
	us_conf_free(&b);
}


/* ---- the table of fields --------------------------------------------------------- */

struct doc_check {
	const char *doc;
	int fields, missing;
};

static void field_documented(void *ctx, const char *path, const char *def, const char *unit,
			     bool restart)
{
	struct doc_check *c = ctx;
	const char *key = strrchr(path, '.');
	char row[96];

	(void)def;
	(void)unit;
	(void)restart;
	/* a section at the top: a heading; any other field: a row of a table */
	if (!key)
		snprintf(row, sizeof(row), "## `%.*s`", (int)strcspn(path, "["), path);
	else
		snprintf(row, sizeof(row), "| `%.*s` |", (int)strcspn(key + 1, "["), key + 1);
	c->fields++;
	if (!strstr(c->doc, row)) {
		print_error("docs/config.md has no row %s for %s\n", row, path);
		c->missing++;
	}
}

/* Every field of the table has its row in docs/config.md. */
static void test_fields_documented(void **state)
{
	FILE *f = fopen(cfgpath("../../docs/config.md"), "r");
	struct doc_check c = { 0 };
	static char doc[65536];
	size_t n;

	(void)state;
	assert_non_null(f);
	n = fread(doc, 1, sizeof(doc) - 1, f);
	fclose(f);
	doc[n] = 0;
	c.doc = doc;
	us_conf_fields(field_documented, &c);
	assert_true(c.fields > 30);
	assert_int_equal(c.missing, 0);
}

struct field_find {
	const char *path;
	char def[64], unit[32];
	int restart;
};

static void field_find(void *ctx, const char *path, const char *def, const char *unit,
		       bool restart)
{
	struct field_find *f = ctx;

	if (strcmp(path, f->path))
		return;
	snprintf(f->def, sizeof(f->def), "%s", def);
	snprintf(f->unit, sizeof(f->unit), "%s", unit);
	f->restart = restart;
}

/* The table's defaults, units and live-or-restart, as the fields say them. */
static void test_fields(void **state)
{
	static const struct field_find want[] = {
		{ "daemon.window", "5", "s", 0 },
		{ "daemon.metrics_listen", "127.0.0.1:9464", "", 1 },
		{ "daemon.max_calls", "262144", "entries", 1 },
		{ "daemon.log_level", "info", "", 0 },
		{ "balancer.client_interface", "", "", 1 },
		{ "services[].machines[].weight", "1", "", 0 },
		{ "services[].policy.min_paired", "1000", "pairs", 0 },
		{ "services[].policy.alpha", "0.01", "", 0 },
		{ "services[].mirror_percent", "0.00", "%", 0 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		struct field_find f = { .path = want[i].path, .restart = -1 };

		us_conf_fields(field_find, &f);
		if (f.restart < 0)
			fail_msg("no field %s", want[i].path);
		assert_string_equal(f.def, want[i].def);
		assert_string_equal(f.unit, want[i].unit);
		assert_int_equal(f.restart, want[i].restart);
	}
}

/* The summary: every setting in force, with whether it is the default. */
static void test_summary(void **state)
{
	static const char y[] =
		"balancer: {client_interface: eth0, machine_interfaces: [eth1, eth2]}\n"
		"daemon: {window: 10s, metrics_listen: off}\n"
		"services:\n"
		"  - {name: s, vip: 198.18.0.1, port: 5060, mirror_percent: 12.5,\n"
		"     policy: {alpha: 0.02}, machines: []}\n";
	struct us_conf c;
	char err[1024], sum[8192];
	int n;

	(void)state;
	assert_int_equal(parse(y, &c, err, sizeof(err)), 0);
	n = us_conf_summary(&c, sum, sizeof(sum));
	assert_int_equal(n, (int)strlen(sum));
	assert_non_null(strstr(sum, "balancer.machine_interfaces = eth1, eth2 (set; restart)\n"));
	assert_non_null(strstr(sum, "daemon.window = 10 s (set; live)\n"));
	assert_non_null(strstr(sum, "daemon.metrics_listen = off (set; restart)\n"));
	assert_non_null(strstr(sum, "daemon.event_burst = 20 events (default; live)\n"));
	assert_non_null(strstr(sum, "services[0].mirror_percent = 12.50% (set)\n"));
	assert_non_null(strstr(sum, "services[0].policy.alpha = 0.02 (set)\n"));
	assert_non_null(strstr(sum, "services[0].policy.beta = 0.01 (default)\n"));
	assert_non_null(strstr(sum, "services[0].machines: 0\n"));
	/* snprintf semantics */
	assert_int_equal(us_conf_summary(&c, sum, 10), n);
	assert_int_equal(strlen(sum), 9);
	us_conf_free(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full_example_exact),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_empty_sections),
		cmocka_unit_test(test_control_machine),
		cmocka_unit_test(test_policy_alone),
		cmocka_unit_test(test_roles),
		cmocka_unit_test(test_value_forms),
		cmocka_unit_test(test_anchors_and_aliases),
		cmocka_unit_test(test_shipped_examples),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_warnings),
		cmocka_unit_test(test_many_errors_cut),
		cmocka_unit_test(test_load_errors),
		cmocka_unit_test(test_bad_corpus),
		cmocka_unit_test(test_bounded_cost),
		cmocka_unit_test(test_diff),
		cmocka_unit_test(test_diff_restart),
		cmocka_unit_test(test_fields),
		cmocka_unit_test(test_fields_documented),
		cmocka_unit_test(test_summary),
	};
	enum { NBAD = sizeof(bad) / sizeof(bad[0]) };
	struct CMUnitTest bad_tests[NBAD];
	int fails;

	for (size_t i = 0; i < NBAD; i++) {
		bad_tests[i] = (struct CMUnitTest){
			.name = bad[i].what,
			.test_func = test_bad_case,
			.initial_state = (void *)&bad[i],
		};
	}
	fails = cmocka_run_group_tests_name("config", tests, NULL, NULL);
	fails += _cmocka_run_group_tests("config: bad inputs", bad_tests, NBAD, NULL, NULL);
	return fails ? 1 : 0;
}
