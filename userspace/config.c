// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The cluster configuration, described by one table of fields: each with
 * its key, type, range, default, unit, and whether a change of it applies
 * live or needs a restart. Parsing (with yamlwalk.h), the defaults, the
 * validation messages, the difference between two configurations and the
 * summary all walk the table. What the table cannot say — rules between
 * fields and between entries (an interface has one role, names and
 * addresses are unique, a machine's address is of its service's family) —
 * is in the checks below it.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>
#include <linux/if_link.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "addr.h"
#include "config.h"
#include "dp.h"
#include "sbuf.h"
#include "validate.h"
#include "yamlwalk.h"

/* ---- the schema ------------------------------------------------------------ */

enum ftype {
	F_SECTION = 0,  /* a mapping of the fields of sub */
	F_LIST,         /* a list of mappings of the fields of sub (custom parse) */
	F_UINT,         /* an integer min..max, stored in size bytes */
	F_NUMBER,       /* a number min..max (greater than min when min_open) */
	F_DURATION,     /* a duration, seconds min..max; bare numbers too when bare */
	F_PERCENT,      /* a percentage, stored as basis points (__u16) */
	F_FRACTION,     /* a share 0..1, '%' allowed */
	F_POINTS,       /* a difference of shares, 0..1, "pp" allowed */
	F_ENUM,         /* one of words[], stored as values[] in size bytes */
	F_NAME,         /* [a-z0-9._-] */
	F_STRING,       /* no control characters */
	F_IFNAME,
	F_PATH,         /* absolute */
	F_ADDR,         /* a unicast address; its family in the int at off2 */
	F_CUSTOM,       /* parse() does it */
};

struct cctx;
struct item;
struct field;

struct section {
	const struct field *f;
	size_t n;
	size_t size;                    /* the struct one instance fills */
	void (*init)(void *obj);        /* defaults the fields do not give */
};

struct field {
	const char *key;
	enum ftype type;
	size_t off, size;               /* the member in the section's struct */
	size_t off2;                    /* F_ADDR: the family member */
	bool required;
	double min, max;
	bool min_open, bare;
	const char *const *words;       /* F_ENUM: the words of values[] */
	const char *(*name)(int);       /* ... or a function naming them */
	const int *values;
	size_t nwords;
	const struct section *sub;      /* F_SECTION, F_LIST */
	double def;                     /* default of numbers, durations, enums (as stored) */
	const char *def_s;              /* default of strings, paths, custom fields (as written) */
	const char *what;               /* the type in messages ("a list of services") */
	const char *unit;
	bool restart;                   /* a change needs a restart */
	unsigned diff;                  /* services, machines: the US_DIFF_* bit of a change */
	/* F_CUSTOM: parse n into the item's object; and compare two objects */
	bool (*parse)(struct cctx *c, struct item *it, const struct field *f, yaml_node_t *n,
		      const char *path);
	bool (*eq)(const void *a, const void *b, const struct field *f);
	void (*show)(struct us_sbuf *b, const void *obj, const struct field *f);
	/* after the field parsed: rules with other fields and entries */
	void (*check)(struct cctx *c, struct item *it, yaml_node_t *n, const char *path);
};

/* fields of a section, at most (keys, flags and nodes of a mapping are
 * arrays of this size: every table is checked against it below) */
#define MAXF YW_MAP_KEYS
#define FITS(tab) _Static_assert(sizeof(tab) / sizeof(tab[0]) <= MAXF, #tab " has more than " \
				 "MAXF fields")

/* one mapping being filled */
struct item {
	void *obj;
	const struct section *sec;
	bool ok[MAXF];                  /* field i parsed (and passed its checks) */
	yaml_node_t *node[MAXF];
	size_t index;                   /* in its list */
	struct item *parent;
};

struct cctx {
	struct yw w;
	struct us_conf *conf;
	size_t nmachines;               /* machines so far, over all services */
	const yaml_node_t *vip_node[US_MAX_SERVICES];   /* services whose VIP and port are theirs */
};

#define OFF(t, m) offsetof(t, m), sizeof(((t *)0)->m)

static const char *const undecided_words[] = { "hold", "reject" };
static const int undecided_values[] = { US_UNDECIDED_HOLD, US_UNDECIDED_REJECT };
static const char *const mode_words[] = { "decide", "hold" };
static const int mode_values[] = { US_MODE_DECIDE, US_MODE_HOLD };
static const char *const xdp_words[] = { "native", "generic", "auto" };
static const int xdp_values[] = { US_XDP_NATIVE, US_XDP_GENERIC, US_XDP_AUTO };
static const char *const level_words[] = { "error", "warn", "info", "debug" };
static const int level_values[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };
static const char *const role_words[] = { "standalone", "agent", "controller" };
static const int role_values[] = { US_CONF_STANDALONE, US_CONF_AGENT, US_CONF_CONTROLLER };
static const char *const proto_words[] = { "udp" };
static const int proto_values[] = { IPPROTO_UDP };
/* a machine's states, named by us_state_name(): the one table of their names */
static const int state_values[] = { US_MS_ACTIVE, US_MS_SIMULATION, US_MS_DRAINING,
				    US_MS_REJECTED, US_MS_REMOVED, US_MS_CONTROL };
#define WORDS(w, v) .words = w, .values = v, .nwords = sizeof(w) / sizeof(w[0])
#define NAMED(fn, v) .name = fn, .values = v, .nwords = sizeof(v) / sizeof(v[0])

static const char *state_name(int s)
{
	return us_state_name((enum us_mstate)s);
}

static bool parse_ifaces(struct cctx *c, struct item *it, const struct field *f, yaml_node_t *n,
			 const char *path);
static bool eq_ifaces(const void *a, const void *b, const struct field *f);
static void show_ifaces(struct us_sbuf *b, const void *obj, const struct field *f);
static bool parse_listen(struct cctx *c, struct item *it, const struct field *f, yaml_node_t *n,
			 const char *path);
static bool eq_listen(const void *a, const void *b, const struct field *f);
static bool parse_services(struct cctx *c, struct item *it, const struct field *f,
			   yaml_node_t *n, const char *path);
static bool parse_machines(struct cctx *c, struct item *it, const struct field *f,
			   yaml_node_t *n, const char *path);
static void check_service_name(struct cctx *c, struct item *it, yaml_node_t *n, const char *path);
static void check_service_key(struct cctx *c, struct item *it, yaml_node_t *n, const char *path);
static void check_machine_name(struct cctx *c, struct item *it, yaml_node_t *n, const char *path);
static void check_machine_address(struct cctx *c, struct item *it, yaml_node_t *n,
				  const char *path);
static void policy_init(void *obj);
static bool parse_urls(struct cctx *c, struct item *it, const struct field *f, yaml_node_t *n,
		       const char *path);
static bool eq_urls(const void *a, const void *b, const struct field *f);
static void show_urls(struct us_sbuf *b, const void *obj, const struct field *f);
static void check_role(struct cctx *c, struct item *it, yaml_node_t *n, const char *path);
static void check_policy(struct cctx *c, struct item *it, yaml_node_t *n, const char *path);

static const struct field balancer_f[] = {
	{ "client_interface", F_IFNAME, OFF(struct us_conf, client_if), .required = true,
	  .restart = true },
	{ "machine_interfaces", F_CUSTOM, OFF(struct us_conf, machine_ifs), .required = true,
	  .what = "a list of interface names", .restart = true, .parse = parse_ifaces,
	  .eq = eq_ifaces, .show = show_ifaces },
	{ "xdp_mode", F_ENUM, OFF(struct us_conf, xdp_mode), WORDS(xdp_words, xdp_values),
	  .def = US_XDP_NATIVE, .restart = true },
};

/* daemon.etcd: fields of struct us_conf_etcd */
static const struct field etcd_f[] = {
	{ "endpoints", F_CUSTOM, OFF(struct us_conf_etcd, endpoints), .what = "a list of URLs",
	  .restart = true, .parse = parse_urls, .eq = eq_urls, .show = show_urls },
	{ "prefix", F_PATH, OFF(struct us_conf_etcd, prefix), .def_s = "/understudy",
	  .restart = true },
	{ "name", F_NAME, OFF(struct us_conf_etcd, name), .restart = true },
	{ "lease_ttl", F_DURATION, OFF(struct us_conf_etcd, lease_ttl_s), .min = 1, .max = 60,
	  .def = 5, .unit = "s", .restart = true },
	{ "timeout", F_DURATION, OFF(struct us_conf_etcd, timeout_s), .min = 0.1, .max = 60,
	  .def = 2, .unit = "s", .restart = true },
	{ "ca_file", F_PATH, OFF(struct us_conf_etcd, ca_file), .restart = true },
	{ "cert_file", F_PATH, OFF(struct us_conf_etcd, cert_file), .restart = true },
	{ "key_file", F_PATH, OFF(struct us_conf_etcd, key_file), .restart = true },
};

static const struct section etcd_s = { etcd_f, sizeof(etcd_f) / sizeof(etcd_f[0]),
				       sizeof(struct us_conf_etcd), NULL };

static const struct field daemon_f[] = {
	{ "window", F_DURATION, OFF(struct us_conf, window_s), .min = 1, .max = 3600, .def = 5,
	  .unit = "s" },
	{ "socket", F_PATH, OFF(struct us_conf, socket), .def_s = US_CONF_DEF_SOCKET,
	  .restart = true },
	{ "metrics_listen", F_CUSTOM, OFF(struct us_conf, metrics_listen),
	  .def_s = "127.0.0.1:9464", .restart = true, .parse = parse_listen, .eq = eq_listen },
	{ "state_dir", F_PATH, OFF(struct us_conf, state_dir), .def_s = "/var/lib/understudy",
	  .restart = true },
	{ "pin_root", F_PATH, OFF(struct us_conf, pin_root), .def_s = US_PIN_ROOT,
	  .restart = true },
	{ "events_per_second", F_UINT, OFF(struct us_conf, event_rate), .min = 0, .max = 1000000,
	  .def = 100, .unit = "per second per CPU" },
	{ "event_burst", F_UINT, OFF(struct us_conf, event_burst), .min = 1, .max = 1000000,
	  .def = 20, .unit = "events" },
	{ "log_level", F_ENUM, OFF(struct us_conf, log_level), WORDS(level_words, level_values),
	  .def = LOG_INFO },
	/* the LRU maps split their entries among the CPUs */
	{ "max_calls", F_UINT, OFF(struct us_conf, max_calls), .min = 1024, .max = 64u << 20,
	  .def = US_CALLS_DEFAULT, .unit = "entries", .restart = true },
	{ "max_transactions", F_UINT, OFF(struct us_conf, max_transactions), .min = 1024,
	  .max = 64u << 20, .def = US_TXNS_DEFAULT, .unit = "entries", .restart = true },
	/* a line is about 3 kB: the default keeps about 14 hours of 5 s windows
	 * per machine, in at most two files of 30 MB */
	{ "window_records_max", F_UINT, OFF(struct us_conf, window_records_max), .min = 0,
	  .max = 10000000, .def = 10000, .unit = "lines" },
	{ "role", F_ENUM, OFF(struct us_conf, role), WORDS(role_words, role_values),
	  .def = US_CONF_STANDALONE, .restart = true },
	{ "etcd", F_SECTION, OFF(struct us_conf, etcd), .sub = &etcd_s, .restart = true },
	{ "agents", F_CUSTOM, OFF(struct us_conf, agents), .what = "a list of URLs",
	  .restart = true, .parse = parse_urls, .eq = eq_urls, .show = show_urls },
};

static const struct field policy_f[] = {
	{ "min_paired", F_UINT, OFF(struct us_policy, min_paired), .min = 1, .max = 1000000000,
	  .unit = "pairs", .diff = US_DIFF_SVC_POLICY },
	{ "min_simulation_seconds", F_DURATION, OFF(struct us_policy, min_sim_seconds), .min = 0,
	  .max = 604800, .bare = true, .unit = "s", .diff = US_DIFF_SVC_POLICY },
	{ "max_class_disagreement", F_FRACTION, OFF(struct us_policy, max_class_diff),
	  .diff = US_DIFF_SVC_POLICY },
	{ "max_error_increase", F_POINTS, OFF(struct us_policy, max_error_increase),
	  .diff = US_DIFF_SVC_POLICY },
	{ "max_latency_ratio", F_NUMBER, OFF(struct us_policy, max_latency_ratio), .min = 1,
	  .max = 100, .diff = US_DIFF_SVC_POLICY },
	{ "consecutive_windows", F_UINT, OFF(struct us_policy, windows), .min = 1, .max = 1000,
	  .unit = "windows", .diff = US_DIFF_SVC_POLICY },
	{ "alpha", F_NUMBER, OFF(struct us_policy, alpha), .min = 0, .max = 0.5, .min_open = true,
	  .diff = US_DIFF_SVC_POLICY },
	{ "beta", F_NUMBER, OFF(struct us_policy, beta), .min = 0, .max = 0.5, .min_open = true,
	  .diff = US_DIFF_SVC_POLICY },
	{ "latency_slack", F_DURATION, OFF(struct us_policy, latency_slack), .min = 0, .max = 60,
	  .bare = true, .unit = "s", .diff = US_DIFF_SVC_POLICY },
	{ "min_window_pairs", F_UINT, OFF(struct us_policy, min_window_pairs), .min = 1,
	  .max = 1000000000, .unit = "pairs", .diff = US_DIFF_SVC_POLICY },
	{ "max_code_disagreement", F_FRACTION, OFF(struct us_policy, max_code_diff),
	  .diff = US_DIFF_SVC_POLICY },
	{ "due_floor", F_DURATION, OFF(struct us_policy, due_floor), .min = 0.05, .max = 32,
	  .bare = true, .unit = "s", .diff = US_DIFF_SVC_POLICY },
	{ "due_multiple", F_NUMBER, OFF(struct us_policy, due_multiple), .min = 1, .max = 1000,
	  .diff = US_DIFF_SVC_POLICY },
	{ "decide_after", F_DURATION, OFF(struct us_policy, decide_after), .min = 0,
	  .max = 2592000, .bare = true, .unit = "s", .diff = US_DIFF_SVC_POLICY },
	{ "on_undecided", F_ENUM, OFF(struct us_policy, on_undecided),
	  WORDS(undecided_words, undecided_values), .diff = US_DIFF_SVC_POLICY },
	{ "stuck_after", F_DURATION, OFF(struct us_policy, stuck_after), .min = 0,
	  .max = 2592000, .bare = true, .unit = "s", .diff = US_DIFF_SVC_POLICY },
	{ "mode", F_ENUM, OFF(struct us_policy, mode), WORDS(mode_words, mode_values),
	  .diff = US_DIFF_SVC_POLICY },
};

static const struct section policy_s = { policy_f, sizeof(policy_f) / sizeof(policy_f[0]),
					 sizeof(struct us_policy), policy_init };

static const struct field machine_f[] = {
	{ "name", F_NAME, OFF(struct us_conf_machine, name), .required = true,
	  .check = check_machine_name },
	{ "address", F_ADDR, OFF(struct us_conf_machine, addr),
	  offsetof(struct us_conf_machine, family), .required = true,
	  .diff = US_DIFF_M_ADDRESS, .check = check_machine_address },
	{ "version", F_STRING, OFF(struct us_conf_machine, version), .required = true,
	  .diff = US_DIFF_M_VERSION },
	{ "state", F_ENUM, OFF(struct us_conf_machine, state), .required = true,
	  NAMED(state_name, state_values), .diff = US_DIFF_M_STATE },
	{ "weight", F_UINT, OFF(struct us_conf_machine, weight), .min = 1, .max = US_WEIGHT_MAX,
	  .def = 1, .diff = US_DIFF_M_WEIGHT },
};

static const struct section machine_s = { machine_f, sizeof(machine_f) / sizeof(machine_f[0]),
					   sizeof(struct us_conf_machine), NULL };

static const struct field service_f[] = {
	{ "name", F_NAME, OFF(struct us_conf_service, name), .required = true,
	  .check = check_service_name },
	{ "vip", F_ADDR, OFF(struct us_conf_service, vip), offsetof(struct us_conf_service, family),
	  .required = true, .diff = US_DIFF_SVC_ADDRESS },
	{ "port", F_UINT, OFF(struct us_conf_service, port), .required = true, .min = 1,
	  .max = 65535, .diff = US_DIFF_SVC_ADDRESS, .check = check_service_key },
	{ "protocol", F_ENUM, OFF(struct us_conf_service, proto), WORDS(proto_words, proto_values),
	  .def = IPPROTO_UDP, .diff = US_DIFF_SVC_ADDRESS },
	{ "mirror_percent", F_PERCENT, OFF(struct us_conf_service, share_bp), .max = US_SHARE_MAX,
	  .unit = "%", .diff = US_DIFF_SVC_SHARE },
	{ "policy", F_SECTION, OFF(struct us_conf_service, policy), .sub = &policy_s,
	  .diff = US_DIFF_SVC_POLICY, .check = check_policy },
	{ "machines", F_LIST, OFF(struct us_conf_service, machines), .required = true,
	  .sub = &machine_s, .what = "a list of machines", .parse = parse_machines },
};

static const struct section service_s = { service_f, sizeof(service_f) / sizeof(service_f[0]),
					  sizeof(struct us_conf_service), NULL };
static const struct section balancer_s = { balancer_f, sizeof(balancer_f) / sizeof(balancer_f[0]),
					   0, NULL };
static const struct section daemon_s = { daemon_f, sizeof(daemon_f) / sizeof(daemon_f[0]), 0,
					 NULL };

/* balancer and daemon fill struct us_conf itself (off 0) */
FITS(balancer_f);
FITS(daemon_f);
FITS(policy_f);
FITS(machine_f);
FITS(service_f);

static const struct field root_f[] = {
	{ "balancer", F_SECTION, 0, 0, .required = true, .sub = &balancer_s },
	{ "daemon", F_SECTION, 0, 0, .sub = &daemon_s },
	{ "services", F_LIST, OFF(struct us_conf, services), .required = true, .sub = &service_s,
	  .what = "a list of services", .parse = parse_services, .check = check_role },
};
FITS(root_f);

static const struct section root_s = { root_f, sizeof(root_f) / sizeof(root_f[0]),
				       sizeof(struct us_conf), NULL };

_Static_assert(sizeof(policy_f) / sizeof(policy_f[0]) <= MAXF &&
	       sizeof(daemon_f) / sizeof(daemon_f[0]) <= MAXF &&
	       sizeof(service_f) / sizeof(service_f[0]) <= MAXF, "a section's fields: MAXF");
_Static_assert(sizeof(balancer_f) / sizeof(balancer_f[0]) +
	       sizeof(daemon_f) / sizeof(daemon_f[0]) <= US_CONF_SETTINGS_MAX, "settings");

static void policy_init(void *obj)
{
	us_policy_default(obj);
}

/* ---- values in their members ------------------------------------------------ */

static void put_uint(void *p, size_t size, __u64 v)
{
	switch (size) {
	case 1: *(__u8 *)p = (__u8)v; break;
	case 2: *(__u16 *)p = (__u16)v; break;
	case 4: *(__u32 *)p = (__u32)v; break;
	default: *(__u64 *)p = v; break;
	}
}

static __u64 get_uint(const void *p, size_t size)
{
	switch (size) {
	case 1: return *(const __u8 *)p;
	case 2: return *(const __u16 *)p;
	case 4: return *(const __u32 *)p;
	default: return *(const __u64 *)p;
	}
}

static bool is_number(enum ftype t)
{
	return t == F_NUMBER || t == F_DURATION || t == F_FRACTION || t == F_POINTS;
}

static bool is_string(enum ftype t)
{
	return t == F_NAME || t == F_STRING || t == F_IFNAME || t == F_PATH;
}

#define MAXWORDS 8

/* An enum's words, in the order of its values. */
static size_t enum_words(const struct field *f, const char **w)
{
	for (size_t i = 0; i < f->nwords && i < MAXWORDS; i++)
		w[i] = f->name ? f->name(f->values[i]) : f->words[i];
	return f->nwords < MAXWORDS ? f->nwords : MAXWORDS;
}

static const char *enum_word(const struct field *f, int v)
{
	const char *w[MAXWORDS];
	size_t n = enum_words(f, w);

	for (size_t i = 0; i < n; i++)
		if (f->values[i] == v)
			return w[i];
	return "?";
}

/* ---- parsing a mapping by its fields --------------------------------------- */

static bool parse_section(struct cctx *c, const struct section *sec, yaml_node_t *n,
			  const char *path, void *obj, struct item *parent, size_t index,
			  struct item *out);

/* A scalar field's value into obj: true when stored. */
static bool parse_value(struct cctx *c, struct item *it, const struct field *f, yaml_node_t *n,
			const char *path)
{
	struct yw *w = &c->w;
	void *p = (char *)it->obj + f->off;
	__u64 u;
	double d;
	int k;

	switch (f->type) {
	case F_UINT:
		if (!yw_uint(w, n, path, (__u64)f->min, (__u64)f->max, &u))
			return false;
		put_uint(p, f->size, u);
		return true;
	case F_NUMBER:
		if (!yw_number(w, n, path, &d))
			return false;
		if (f->min_open ? !(d > f->min && d <= f->max) : (d < f->min || d > f->max)) {
			if (f->min_open)
				YW_ERR(w, n, path, "%s out of range (greater than %g, at most %g)",
				       yw_sval(n), f->min, f->max);
			else
				YW_ERR(w, n, path, "%s out of range (%g..%g)", yw_sval(n), f->min,
				       f->max);
			return false;
		}
		*(double *)p = d;
		return true;
	case F_DURATION:
		return yw_duration(w, n, path, f->bare, f->min, f->max, p);
	case F_PERCENT:
		return yw_percent_bp(w, n, path, (__u16)f->max, p);
	case F_FRACTION:
	case F_POINTS:
		return yw_fraction(w, n, path, f->type == F_POINTS, p);
	case F_ENUM: {
		const char *words[MAXWORDS];
		size_t nw = enum_words(f, words);

		k = yw_enum(w, n, path, words, nw);
		if (k < 0)
			return false;
		put_uint(p, f->size, (__u64)(__s64)f->values[k]);
		return true;
	}
	case F_NAME:
		return yw_name(w, n, path, p, f->size);
	case F_STRING:
		return yw_string(w, n, path, p, f->size);
	case F_IFNAME:
		return yw_ifname(w, n, path, p, f->size);
	case F_PATH:
		return yw_path(w, n, path, p, f->size);
	case F_ADDR:
		return yw_addr(w, n, path, (int *)((char *)it->obj + f->off2), p);
	case F_SECTION:
		if (!f->required && yw_is_null(n))
			return true;            /* every default */
		return parse_section(c, f->sub, n, path, p, it, 0, NULL);
	case F_LIST:
	case F_CUSTOM:
		return f->parse(c, it, f, n, path);
	}
	return false;
}

/* The defaults of a section's fields. */
static void defaults(const struct section *sec, void *obj)
{
	if (sec->init)
		sec->init(obj);
	for (size_t i = 0; i < sec->n; i++) {
		const struct field *f = &sec->f[i];
		void *p = (char *)obj + f->off;

		if (f->type == F_SECTION && f->sub) {
			defaults(f->sub, p);
		} else if (f->def_s && is_string(f->type)) {
			snprintf(p, f->size, "%s", f->def_s);
		} else if (f->def_s && f->type == F_CUSTOM) {
			/* as written, through its own parser */
			yaml_node_t n = { .type = YAML_SCALAR_NODE };
			struct cctx c = { .w = { .file = "<defaults>" } };
			struct item it = { .obj = obj, .sec = sec };

			n.data.scalar.value = (yaml_char_t *)f->def_s;
			n.data.scalar.length = strlen(f->def_s);
			n.data.scalar.style = YAML_PLAIN_SCALAR_STYLE;
			f->parse(&c, &it, f, &n, f->key);
			yw_free(&c.w);
		} else if (f->type == F_UINT || f->type == F_ENUM) {
			if (f->def || f->type == F_ENUM)
				put_uint(p, f->size, (__u64)(__s64)f->def);
		} else if (is_number(f->type) && f->def) {
			*(double *)p = f->def;
		}
	}
}

static bool parse_section(struct cctx *c, const struct section *sec, yaml_node_t *n,
			  const char *path, void *obj, struct item *parent, size_t index,
			  struct item *out)
{
	const char *keys[MAXF];
	bool req[MAXF];
	struct item local, *it = out ? out : &local;
	char p[YW_PATHLEN];

	memset(it, 0, sizeof(*it));
	it->obj = obj;
	it->sec = sec;
	it->parent = parent;
	it->index = index;
	for (size_t i = 0; i < sec->n; i++) {
		keys[i] = sec->f[i].key;
		req[i] = sec->f[i].required;
	}
	if (!yw_map(&c->w, n, path, keys, req, sec->n, it->node))
		return false;
	for (size_t i = 0; i < sec->n; i++) {
		const struct field *f = &sec->f[i];
		yaml_node_t *v = it->node[i];

		/* an optional field left empty takes its default */
		if (!v || (!f->required && yw_is_null(v) && f->type != F_SECTION))
			continue;
		yw_join(p, path, f->key);
		it->ok[i] = parse_value(c, it, f, v, p);
		if (it->ok[i] && f->check)
			f->check(c, it, v, p);
	}
	return true;
}

/* ---- custom fields ----------------------------------------------------------- */

static bool parse_ifaces(struct cctx *c, struct item *it, const struct field *f, yaml_node_t *s,
			 const char *path)
{
	struct us_conf *o = it->obj;
	bool client_ok = it->ok[0];
	yaml_node_item_t *items;
	char p[YW_PATHLEN];
	size_t cnt;

	(void)f;
	items = yw_items(s, &cnt);
	if (!items && s->type != YAML_SEQUENCE_NODE) {
		yw_expected(&c->w, s, path, "a list of interface names");
		return false;
	}
	if (!cnt) {
		YW_ERR(&c->w, s, path, "empty list; at least one interface is required");
		return false;
	}
	for (size_t i = 0; i < cnt; i++) {
		yaml_node_t *e = yw_node(&c->w, items[i]);
		char name[US_CONF_IFNAME_MAX] = "";
		size_t j;

		yw_joini(p, path, i);
		if (i == US_CONF_MAX_IFS) {
			YW_ERR(&c->w, e, p, "more than %d interfaces", US_CONF_MAX_IFS);
			break;
		}
		if (!yw_ifname(&c->w, e, p, name, sizeof(name)))
			continue;
		if (client_ok && !strcmp(name, o->client_if)) {
			YW_ERR(&c->w, e, p, "\"%s\" is also the client_interface; "
			       "an interface has one role", name);
			continue;
		}
		for (j = 0; j < o->nmachine_ifs; j++)
			if (!strcmp(o->machine_ifs[j], name))
				break;
		if (j < o->nmachine_ifs) {
			YW_ERR(&c->w, e, p, "duplicate interface \"%s\"", name);
			continue;
		}
		memcpy(o->machine_ifs[o->nmachine_ifs++], name, sizeof(name));
	}
	return true;
}

static bool eq_ifaces(const void *a, const void *b, const struct field *f)
{
	const struct us_conf *x = a, *y = b;

	(void)f;
	if (x->nmachine_ifs != y->nmachine_ifs)
		return false;
	for (size_t i = 0; i < x->nmachine_ifs; i++)
		if (strcmp(x->machine_ifs[i], y->machine_ifs[i]))
			return false;
	return true;
}

static void show_ifaces(struct us_sbuf *b, const void *obj, const struct field *f)
{
	const struct us_conf *o = obj;

	(void)f;
	for (size_t i = 0; i < o->nmachine_ifs; i++)
		us_sbuf_printf(b, "%s%s", i ? ", " : "", o->machine_ifs[i]);
}

/* IPV4:PORT, [IPV6]:PORT or off */
static bool parse_listen(struct cctx *c, struct item *it, const struct field *f, yaml_node_t *n,
			 const char *path)
{
	struct us_conf *o = it->obj;
	const char *s = yw_text(&c->w, n, path, "ADDRESS:PORT or off");
	char host[64], q[96];
	const char *colon, *h = NULL;
	size_t hl = 0;
	__u64 port;
	int fam;

	(void)f;
	if (!s)
		return false;
	if (strlen(s) >= sizeof(o->metrics_listen)) {
		YW_ERR(&c->w, n, path, "%s is too long", yw_quote(s, q, sizeof(q)));
		return false;
	}
	if (!strcmp(s, "off")) {
		o->metrics_off = true;
		o->metrics_family = 0;
		memset(o->metrics_addr, 0, 16);
		o->metrics_port = 0;
		strcpy(o->metrics_listen, "off");
		return true;
	}
	colon = strrchr(s, ':');
	if (s[0] == '[') {
		const char *rb = strchr(s, ']');

		if (rb && rb[1] == ':') {
			h = s + 1;
			hl = (size_t)(rb - h);
			colon = rb + 1;
		}
	} else if (colon && !memchr(s, ':', (size_t)(colon - s))) {
		h = s;
		hl = (size_t)(colon - s);
	}
	if (!h || hl >= sizeof(host))
		goto bad;
	memcpy(host, h, hl);
	host[hl] = 0;
	fam = us_addr_parse(host, o->metrics_addr);
	if (!fam || (fam == AF_INET6 && s[0] != '[') || (fam == AF_INET && s[0] == '['))
		goto bad;
	if (yw_parse_u64(colon + 1, &port))
		goto bad;
	if (port < 1 || port > 65535) {
		YW_ERR(&c->w, n, path, "port %s out of range (1..65535)", colon + 1);
		return false;
	}
	o->metrics_off = false;
	o->metrics_family = fam;
	o->metrics_port = (__u16)port;
	strcpy(o->metrics_listen, s);
	return true;
bad:
	YW_ERR(&c->w, n, path, "%s: expected IPV4:PORT, [IPV6]:PORT (literal addresses) or off",
	       yw_quote(s, q, sizeof(q)));
	return false;
}

static bool eq_listen(const void *a, const void *b, const struct field *f)
{
	const struct us_conf *x = a, *y = b;

	(void)f;
	return x->metrics_off == y->metrics_off && x->metrics_family == y->metrics_family &&
	       x->metrics_port == y->metrics_port && !memcmp(x->metrics_addr, y->metrics_addr, 16);
}

/* A list of http:// or https:// URLs without a path: etcd's endpoints, a
 * controller's agents (whose "/counters" may be written: it is taken off). */
static bool parse_urls(struct cctx *c, struct item *it, const struct field *f, yaml_node_t *s,
		       const char *path)
{
	struct us_conf_urls *u = (struct us_conf_urls *)((char *)it->obj + f->off);
	yaml_node_item_t *items;
	char p[YW_PATHLEN], q[96];
	size_t cnt;

	items = yw_items(s, &cnt);
	if (!items && s->type != YAML_SEQUENCE_NODE) {
		yw_expected(&c->w, s, path, f->what);
		return false;
	}
	if (cnt > US_CONF_MAX_URLS) {
		YW_ERR(&c->w, s, path, "%zu URLs; at most %d", cnt, US_CONF_MAX_URLS);
		return false;
	}
	free(u->v);
	u->n = 0;
	u->v = calloc(cnt ? cnt : 1, sizeof(*u->v));
	if (!u->v) {
		c->w.oom = true;
		return false;
	}
	for (size_t i = 0; i < cnt; i++) {
		yaml_node_t *e = yw_node(&c->w, items[i]);
		const char *t, *host, *slash;
		size_t len;

		yw_joini(p, path, i);
		t = yw_text(&c->w, e, p, "a URL (http://HOST:PORT)");
		if (!t)
			continue;
		len = strlen(t);
		if (!strcmp(f->key, "agents") && len > 9 &&
		    !strcmp(t + len - 9, "/counters"))
			len -= 9;               /* the agent's base URL */
		host = !strncmp(t, "http://", 7) ? t + 7 : !strncmp(t, "https://", 8) ? t + 8 : NULL;
		slash = host ? memchr(host, '/', len - (size_t)(host - t)) : NULL;
		if (!host || (size_t)(host - t) >= len || slash || strpbrk(t, " \t\r\n") ||
		    len >= US_CONF_URL_MAX) {
			YW_ERR(&c->w, e, p, "%s: expected http://HOST:PORT or https://HOST:PORT%s",
			       yw_quote(t, q, sizeof(q)),
			       strcmp(f->key, "agents") ? " (no path)" : " (or with /counters)");
			continue;
		}
		memcpy(u->v[u->n], t, len);
		u->v[u->n][len] = 0;
		for (size_t j = 0; j < u->n; j++) {
			if (!strcmp(u->v[j], u->v[u->n])) {
				YW_ERR(&c->w, e, p, "duplicate URL %s", yw_quote(t, q, sizeof(q)));
				u->n--;
				break;
			}
		}
		u->n++;
	}
	return true;
}

static bool eq_urls(const void *a, const void *b, const struct field *f)
{
	const struct us_conf_urls *x = (const void *)((const char *)a + f->off);
	const struct us_conf_urls *y = (const void *)((const char *)b + f->off);

	if (x->n != y->n)
		return false;
	for (size_t i = 0; i < x->n; i++)
		if (strcmp(x->v[i], y->v[i]))
			return false;
	return true;
}

static void show_urls(struct us_sbuf *b, const void *obj, const struct field *f)
{
	const struct us_conf_urls *u = (const void *)((const char *)obj + f->off);

	for (size_t i = 0; i < u->n; i++)
		us_sbuf_printf(b, "%s%s", i ? ", " : "", u->v[i]);
}

static bool parse_services(struct cctx *c, struct item *it, const struct field *f,
			   yaml_node_t *s, const char *path)
{
	struct us_conf *o = c->conf;
	yaml_node_item_t *items;
	size_t cnt;

	(void)it;
	items = yw_items(s, &cnt);
	if (!items && s->type != YAML_SEQUENCE_NODE) {
		yw_expected(&c->w, s, path, f->what);
		return false;
	}
	o->services = calloc(cnt ? (cnt > US_MAX_SERVICES ? US_MAX_SERVICES : cnt) : 1,
			     sizeof(*o->services));
	if (!o->services) {
		c->w.oom = true;
		return false;
	}
	for (size_t k = 0; k < cnt; k++) {
		yaml_node_t *e = yw_node(&c->w, items[k]);
		struct us_conf_service *sv = &o->services[k < US_MAX_SERVICES ? k : 0];
		struct item si;
		char p[YW_PATHLEN];

		yw_joini(p, path, k);
		if (k == US_MAX_SERVICES) {
			YW_ERR(&c->w, e, p, "more than %d services (US_MAX_SERVICES)", US_MAX_SERVICES);
			break;
		}
		memset(sv, 0, sizeof(*sv));
		defaults(&service_s, sv);
		sv->line = (int)e->start_mark.line + 1;
		c->vip_node[k] = NULL;
		o->nservices++;
		parse_section(c, &service_s, e, p, sv, NULL, k, &si);
		if (!si.ok[0])
			sv->name[0] = 0;        /* never matches in later duplicate checks */
	}
	o->nmachines = c->nmachines;
	return true;
}

static bool parse_machines(struct cctx *c, struct item *it, const struct field *f,
			   yaml_node_t *ms, const char *path)
{
	struct us_conf_service *s = it->obj;
	yaml_node_item_t *items;
	size_t cnt;

	items = yw_items(ms, &cnt);
	if (!items && ms->type != YAML_SEQUENCE_NODE) {
		yw_expected(&c->w, ms, path, f->what);
		return false;
	}
	s->machines = calloc(cnt ? (cnt > US_MAX_MACHINES ? US_MAX_MACHINES : cnt) : 1,
			     sizeof(*s->machines));
	if (!s->machines) {
		c->w.oom = true;
		return false;
	}
	for (size_t k = 0; k < cnt; k++) {
		yaml_node_t *e = yw_node(&c->w, items[k]);
		struct us_conf_machine *m = &s->machines[s->nmachines];
		struct item mi;
		char p[YW_PATHLEN];

		yw_joini(p, path, k);
		if (c->nmachines == US_MAX_MACHINES) {
			YW_ERR(&c->w, e, p, "more than %d machines in the file (US_MAX_MACHINES)",
			       US_MAX_MACHINES);
			break;
		}
		memset(m, 0, sizeof(*m));
		defaults(&machine_s, m);
		m->line = (int)e->start_mark.line + 1;
		parse_section(c, &machine_s, e, p, m, it, k, &mi);
		if (!mi.ok[0])
			m->name[0] = 0;         /* never matches in later duplicate checks */
		if (!mi.ok[1]) {
			m->family = 0;
			memset(m->addr, 0, 16);
		}
		s->nmachines++;
		c->nmachines++;
	}
	/* a control machine measures how often two machines of the active
	 * version differ: it must be of the version the active machines run */
	for (size_t k = 0; k < s->nmachines; k++) {
		const struct us_conf_machine *m = &s->machines[k];
		bool found = false;
		char p[YW_PATHLEN];

		if (m->state != US_MS_CONTROL)
			continue;
		for (size_t j = 0; j < s->nmachines; j++)
			found |= s->machines[j].state == US_MS_ACTIVE &&
				 !strcmp(s->machines[j].version, m->version);
		if (!found) {
			yw_joini(p, path, k);
			YW_ERR(&c->w, yw_node(&c->w, items[k]), p,
			       "a control machine runs the active machines' version, and no active "
			       "machine of this service runs version \"%s\"", m->version);
		}
	}
	return true;
}

/* ---- rules between fields and entries ------------------------------------------ */

/* After the services: what a role needs (docs/cluster.md). An agent and a
 * controller take the services from etcd's desired state; the file gives
 * this host's balancer and daemon settings only. */
static void check_role(struct cctx *c, struct item *it, yaml_node_t *n, const char *path)
{
	const struct us_conf *o = it->obj;
	yaml_node_t *dn = it->node[1] ? it->node[1] : n;
	const char *role = us_conf_role_name(o->role);

	/* endpoints or agents written but all wrong are reported where they are */
	if (o->role != US_CONF_STANDALONE && !o->etcd.endpoints.v)
		YW_ERR(&c->w, dn, "daemon.etcd.endpoints", "role %s needs etcd: at least one "
		       "endpoint (http://HOST:2379)", role);
	if (o->role == US_CONF_CONTROLLER && !o->agents.v)
		YW_ERR(&c->w, dn, "daemon.agents", "role controller needs its agents' URLs "
		       "(http://HOST:PORT, their metrics_listen)");
	if (o->role != US_CONF_CONTROLLER && o->agents.n)
		YW_ERR(&c->w, dn, "daemon.agents", "only a controller pulls agents' counters; this "
		       "daemon's role is %s", role);
	if (o->role != US_CONF_STANDALONE &&
	    (strlen(o->etcd.prefix) < 2 || o->etcd.prefix[strlen(o->etcd.prefix) - 1] == '/'))
		YW_ERR(&c->w, dn, "daemon.etcd.prefix", "\"%s\": a key prefix starts with '/' and "
		       "does not end with one (\"/understudy\")", o->etcd.prefix);
	if (o->role != US_CONF_STANDALONE && o->nservices)
		YW_ERR(&c->w, n, path, "role %s takes the services from etcd's desired state "
		       "(%s/desired/config); leave this list empty (services: [])", role,
		       o->etcd.prefix);
}

static void check_service_name(struct cctx *c, struct item *it, yaml_node_t *n, const char *path)
{
	const struct us_conf_service *s = it->obj;

	for (size_t i = 0; i < it->index; i++) {
		if (!strcmp(c->conf->services[i].name, s->name)) {
			YW_ERR(&c->w, n, path, "duplicate service name \"%s\" (first at line %d)",
			       s->name, c->conf->services[i].line);
			it->ok[0] = false;
			return;
		}
	}
}

/* The policy as a whole: the judge's own check (us_policy_check), so that
 * --check refuses exactly what the judge would refuse. */
static void check_policy(struct cctx *c, struct item *it, yaml_node_t *n, const char *path)
{
	const struct us_conf_service *s = it->obj;
	char why[160];

	if (us_policy_check(&s->policy, why, sizeof(why)))
		YW_ERR(&c->w, n, path, "%s", why);
}

/* After the port: a VIP and port belong to one service. */
static void check_service_key(struct cctx *c, struct item *it, yaml_node_t *n, const char *path)
{
	const struct us_conf_service *s = it->obj;
	char p[YW_PATHLEN], a[US_ADDR_STRLEN];

	(void)n;
	(void)path;
	if (!it->ok[1])
		return;
	for (size_t i = 0; i < it->index; i++) {
		const struct us_conf_service *t = &c->conf->services[i];

		if (c->vip_node[i] && t->family == s->family && t->port == s->port &&
		    t->proto == s->proto && !memcmp(t->vip, s->vip, 16)) {
			const char *sp = strrchr(path, '.');

			snprintf(p, sizeof(p), "%.*s.vip", (int)(sp ? sp - path : 0), path);
			us_addr_format(s->family, s->vip, a, sizeof(a));
			YW_ERR(&c->w, it->node[1], p, "duplicate VIP and port %s%s%s:%u (first in "
			       "service \"%s\" at line %d)", s->family == AF_INET6 ? "[" : "", a,
			       s->family == AF_INET6 ? "]" : "", s->port, t->name, t->line);
			return;
		}
	}
	c->vip_node[it->index] = it->node[1];
}

static void check_machine_name(struct cctx *c, struct item *it, yaml_node_t *n, const char *path)
{
	const struct us_conf_machine *m = it->obj;
	const struct us_conf_service *s = it->parent->obj;
	size_t si = it->parent->index;

	/* unique across the file */
	for (size_t i = 0; i <= si; i++) {
		const struct us_conf_service *t = &c->conf->services[i];
		size_t nm = i == si ? s->nmachines : t->nmachines;

		for (size_t j = 0; j < nm; j++) {
			if (!strcmp(t->machines[j].name, m->name)) {
				YW_ERR(&c->w, n, path, "duplicate machine name \"%s\" (first at "
				       "line %d)", m->name, t->machines[j].line);
				it->ok[0] = false;
				return;
			}
		}
	}
}

static void check_machine_address(struct cctx *c, struct item *it, yaml_node_t *n,
				  const char *path)
{
	struct us_conf_machine *m = it->obj;
	const struct us_conf_service *s = it->parent->obj;
	size_t si = it->parent->index;
	char a[US_ADDR_STRLEN], b[US_ADDR_STRLEN], why[128];

	us_addr_format(m->family, m->addr, a, sizeof(a));
	/* the service's VIP parsed (a duplicate VIP too): of its family, not it */
	if (it->parent->ok[1] &&
	    us_valid_machine_addr(m->family, m->addr, s->family, s->vip, why, sizeof(why))) {
		if (m->family != s->family)
			YW_ERR(&c->w, n, path, "%s is %s but the service's VIP %s is %s", a,
			       m->family == AF_INET ? "IPv4" : "IPv6",
			       us_addr_format(s->family, s->vip, b, sizeof(b)),
			       s->family == AF_INET ? "IPv4" : "IPv6");
		else
			YW_ERR(&c->w, n, path, "%s %s", a, why);
		it->ok[1] = false;
		return;
	}
	for (size_t j = 0; j < s->nmachines; j++) {
		if (s->machines[j].family && !memcmp(s->machines[j].addr, m->addr, 16)) {
			YW_ERR(&c->w, n, path, "duplicate address %s in service \"%s\" (first at "
			       "line %d)", a, s->name, s->machines[j].line);
			it->ok[1] = false;
			return;
		}
	}
	/* the data plane tells a machine by its MAC: one service per host */
	for (size_t i = 0; i < si; i++) {
		const struct us_conf_service *t = &c->conf->services[i];

		for (size_t j = 0; j < t->nmachines; j++) {
			if (t->machines[j].family && !memcmp(t->machines[j].addr, m->addr, 16)) {
				YW_ERR(&c->w, n, path, "%s is already machine \"%s\" of service \"%s\" "
				       "(line %d); a machine serves one service", a,
				       t->machines[j].name, t->name, t->machines[j].line);
				it->ok[1] = false;
				return;
			}
		}
	}
}

/* ---- entry points ---------------------------------------------------------------- */

void us_conf_free(struct us_conf *c)
{
	size_t i;

	if (!c)
		return;
	for (i = 0; i < c->nservices; i++)
		free(c->services[i].machines);
	free(c->services);
	free(c->agents.v);
	free(c->etcd.endpoints.v);
	c->agents = (struct us_conf_urls){ 0 };
	c->etcd.endpoints = (struct us_conf_urls){ 0 };
	c->services = NULL;
	c->nservices = 0;
	c->nmachines = 0;
}

int us_conf_parse(const char *text, size_t len, const char *name, struct us_conf *out,
		  char *err, size_t errlen)
{
	struct cctx c = { .w = { .file = name ? name : "<config>" } };
	yaml_document_t doc;
	struct us_conf tmp;
	yaml_node_t *root;
	int ret = -EINVAL;

	if (err && errlen)
		err[0] = 0;
	if (!text || !out)
		return -EINVAL;
	memset(&tmp, 0, sizeof(tmp));
	defaults(&balancer_s, &tmp);
	defaults(&daemon_s, &tmp);
	snprintf(tmp.path, sizeof(tmp.path), "%s", c.w.file);
	c.conf = &tmp;
	if (len > US_CONF_MAX_BYTES) {
		yw_error(&c.w, NULL, NULL, "file too large (%zu bytes; at most %u)", len,
			 US_CONF_MAX_BYTES);
		ret = -EFBIG;
		goto done;
	}
	if (!len) {
		yw_error(&c.w, NULL, NULL, "empty file: no configuration");
		goto done;
	}
	if (yw_load(&c.w, text, len, US_CONF_MAX_DEPTH, &doc))
		goto done;
	root = yaml_document_get_root_node(&doc);
	if (!root || yw_is_null(root))
		yw_error(&c.w, NULL, NULL, "empty file: no configuration (only comments or blank "
			 "lines)");
	else
		parse_section(&c, &root_s, root, "", &tmp, NULL, 0, NULL);
	yaml_document_delete(&doc);
done:
	if (yw_failed(&c.w)) {
		yw_report(&c.w, err, errlen);
		us_conf_free(&tmp);
		ret = c.w.oom ? -ENOMEM : ret;
		yw_free(&c.w);
		return ret;
	}
	yw_free(&c.w);
	*out = tmp;
	return 0;
}

/* A configuration file's text (malloc'd, *len bytes): 0, or a negative errno
 * with the reason in err. */
static int read_text(const char *path, char **text, size_t *len, char *err, size_t errlen)
{
	struct stat st;
	char *buf;
	size_t got = 0;
	int fd, ret;

	if (err && errlen)
		err[0] = 0;
	if (!path)
		return -EINVAL;
	if (strlen(path) >= US_CONF_PATH_MAX) {
		if (err && errlen)
			snprintf(err, errlen, "%s: path too long", path);
		return -ENAMETOOLONG;
	}
	/* O_NONBLOCK: a FIFO named by mistake must not block --check or a
	 * reload (it is refused below, not read) */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		ret = -errno;
		if (err && errlen)
			snprintf(err, errlen, "%s: cannot open: %s", path, strerror(-ret));
		return ret;
	}
	if (fstat(fd, &st) < 0) {
		ret = -errno;
		if (err && errlen)
			snprintf(err, errlen, "%s: cannot stat: %s", path, strerror(-ret));
		close(fd);
		return ret;
	}
	if (!S_ISREG(st.st_mode)) {
		ret = S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
		if (err && errlen)
			snprintf(err, errlen, "%s: not a regular file (%s)", path,
				 S_ISDIR(st.st_mode) ? "a directory" : S_ISFIFO(st.st_mode) ? "a FIFO" :
				 S_ISSOCK(st.st_mode) ? "a socket" : "a device");
		close(fd);
		return ret;
	}
	if ((unsigned long long)st.st_size > US_CONF_MAX_BYTES) {
		if (err && errlen)
			snprintf(err, errlen, "%s: file too large (%lld bytes; at most %u)", path,
				 (long long)st.st_size, US_CONF_MAX_BYTES);
		close(fd);
		return -EFBIG;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = -errno;
			if (err && errlen)
				snprintf(err, errlen, "%s: cannot read: %s", path, strerror(-ret));
			free(buf);
			close(fd);
			return ret;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	*text = buf;
	*len = got;
	return 0;
}

int us_conf_load(const char *path, struct us_conf *out, char *err, size_t errlen)
{
	size_t len;
	char *buf;
	int ret;

	if (!out)
		return -EINVAL;
	ret = read_text(path, &buf, &len, err, errlen);
	if (ret)
		return ret;
	ret = us_conf_parse(buf, len, path, out, err, errlen);
	free(buf);
	return ret;
}

int us_policy_parse(const char *text, size_t len, const char *name, struct us_policy *out,
		    char *err, size_t errlen)
{
	struct cctx c = { .w = { .file = name ? name : "<policy>" } };
	struct us_policy tmp;
	yaml_document_t doc;
	yaml_node_t *root;

	if (err && errlen)
		err[0] = 0;
	defaults(&policy_s, &tmp);
	if (len > US_CONF_MAX_BYTES) {
		yw_error(&c.w, NULL, NULL, "file too large (%zu bytes; at most %u)", len,
			 US_CONF_MAX_BYTES);
	} else if (!yw_load(&c.w, text, len, US_CONF_MAX_DEPTH, &doc)) {
		root = yaml_document_get_root_node(&doc);
		/* an empty file is the default policy */
		if (root && !yw_is_null(root) &&
		    parse_section(&c, &policy_s, root, "", &tmp, NULL, 0, NULL) &&
		    !yw_failed(&c.w)) {
			char why[160];

			if (us_policy_check(&tmp, why, sizeof(why)))
				YW_ERR(&c.w, root, "policy", "%s", why);
		}
		yaml_document_delete(&doc);
	}
	if (yw_failed(&c.w)) {
		int ret = c.w.oom ? -ENOMEM : -EINVAL;

		yw_report(&c.w, err, errlen);
		yw_free(&c.w);
		return ret;
	}
	yw_free(&c.w);
	*out = tmp;
	return 0;
}

int us_policy_load(const char *path, struct us_policy *out, char *err, size_t errlen)
{
	size_t len;
	char *buf;
	int ret;

	if (!out)
		return -EINVAL;
	ret = read_text(path, &buf, &len, err, errlen);
	if (ret)
		return ret;
	ret = us_policy_parse(buf, len, path, out, err, errlen);
	free(buf);
	return ret;
}

int us_conf_warnings(const struct us_conf *c, char *buf, size_t len)
{
	struct us_sbuf b;
	int n = 0;

	if (buf && len)
		buf[0] = 0;
	us_sbuf_fixed(&b, buf, buf ? len : 0);
	for (size_t i = 0; i < c->nservices; i++) {
		const struct us_conf_service *s = &c->services[i];
		size_t active = 0, sim = 0, gone = 0;
		const char *why = NULL;

		for (size_t j = 0; j < s->nmachines; j++) {
			active += s->machines[j].state == US_MS_ACTIVE;
			sim += s->machines[j].state == US_MS_SIMULATION;
			gone += s->machines[j].state == US_MS_REMOVED ||
				s->machines[j].state == US_MS_REJECTED;
		}
		if (sim && !active)
			why = "simulation machines but no active one: no call reaches the service, "
			      "nothing is mirrored, nothing can be judged";
		else if (s->nmachines && gone == s->nmachines)
			why = "every machine removed or rejected: the service answers no call";
		if (!why)
			continue;
		us_sbuf_printf(&b, "%s%s:%d: services[%zu] (%s): warning: %s", n ? "\n" : "", c->path,
			       s->line, i, s->name, why);
		n++;
	}
	return n;
}

const struct us_conf_service *us_conf_find_service(const struct us_conf *c, const char *name)
{
	size_t i;

	for (i = 0; c && name && i < c->nservices; i++)
		if (!strcmp(c->services[i].name, name))
			return &c->services[i];
	return NULL;
}

const struct us_conf_machine *us_conf_find_machine(const struct us_conf *c, const char *name,
						   const struct us_conf_service **svc)
{
	size_t i, j;

	for (i = 0; c && name && i < c->nservices; i++) {
		for (j = 0; j < c->services[i].nmachines; j++) {
			if (!strcmp(c->services[i].machines[j].name, name)) {
				if (svc)
					*svc = &c->services[i];
				return &c->services[i].machines[j];
			}
		}
	}
	return NULL;
}

__u32 us_conf_xdp_flags(const struct us_conf *c)
{
	switch (c->xdp_mode) {
	case US_XDP_NATIVE:
		return XDP_FLAGS_DRV_MODE;
	case US_XDP_GENERIC:
		return XDP_FLAGS_SKB_MODE;
	default:
		return 0;
	}
}

const char *us_conf_xdp_mode_name(int mode)
{
	return enum_word(&balancer_f[2], mode);
}

const char *us_conf_log_level_name(int level)
{
	return enum_word(&daemon_f[7], level);
}

const char *us_conf_role_name(int role)
{
	return enum_word(&daemon_f[11], role);
}

/* ---- the difference between two configurations ------------------------------------ */

static bool field_eq(const void *a, const void *b, const struct field *f)
{
	const char *x = (const char *)a + f->off, *y = (const char *)b + f->off;

	switch (f->type) {
	case F_CUSTOM:
		return f->eq(a, b, f);
	case F_ADDR:
		return *(const int *)((const char *)a + f->off2) ==
		       *(const int *)((const char *)b + f->off2) && !memcmp(x, y, 16);
	case F_NUMBER:
	case F_DURATION:
	case F_FRACTION:
	case F_POINTS:
		return *(const double *)x == *(const double *)y;
	case F_NAME:
	case F_STRING:
	case F_IFNAME:
	case F_PATH:
		return !strcmp(x, y);
	case F_SECTION:
		for (size_t i = 0; i < f->sub->n; i++)
			if (!field_eq(x, y, &f->sub->f[i]))
				return false;
		return true;
	case F_LIST:
		return true;            /* entries are compared by name */
	default:
		return get_uint(x, f->size) == get_uint(y, f->size);
	}
}

/* The US_DIFF_* bits of the fields of sec that differ. */
static unsigned diff_bits(const struct section *sec, const void *a, const void *b)
{
	unsigned ch = 0;

	for (size_t i = 0; i < sec->n; i++)
		if (sec->f[i].diff && !field_eq(a, b, &sec->f[i]))
			ch |= sec->f[i].diff;
	return ch;
}

static void diff_settings(const struct section *sec, const char *name, const struct us_conf *old,
			  const struct us_conf *nw, struct us_conf_diff *d)
{
	static char paths[US_CONF_SETTINGS_MAX][48];

	for (size_t i = 0; i < sec->n && d->nsettings < US_CONF_SETTINGS_MAX; i++) {
		const struct field *f = &sec->f[i];
		struct us_conf_setting_change *s;
		char *p;

		if (field_eq(old, nw, f))
			continue;
		s = &d->settings[d->nsettings];
		/* paths live as long as the table: one per field */
		p = paths[(sec == &balancer_s ? 0 : balancer_s.n) + i];
		snprintf(p, sizeof(paths[0]), "%s.%s", name, f->key);
		s->path = p;
		s->restart = f->restart;
		d->restart |= f->restart;
		d->nsettings++;
	}
}

static int push(struct us_conf_diff_list *l, const char *name, const char *svc, unsigned changed,
		int old_svc, int new_svc, int old_idx, int new_idx)
{
	struct us_conf_diff_entry *v = realloc(l->v, (l->n + 1) * sizeof(*v));
	struct us_conf_diff_entry *e;

	if (!v)
		return -ENOMEM;
	l->v = v;
	e = &v[l->n++];
	memset(e, 0, sizeof(*e));
	snprintf(e->name, sizeof(e->name), "%s", name);
	snprintf(e->service, sizeof(e->service), "%s", svc ? svc : "");
	e->changed = changed;
	e->old_svc = old_svc;
	e->new_svc = new_svc;
	e->old_idx = old_idx;
	e->new_idx = new_idx;
	return 0;
}

static bool find_m(const struct us_conf *c, const char *name, int *si, int *mi)
{
	const struct us_conf_service *s;
	const struct us_conf_machine *m = us_conf_find_machine(c, name, &s);

	if (!m)
		return false;
	*si = (int)(s - c->services);
	*mi = (int)(m - s->machines);
	return true;
}

static int svc_idx(const struct us_conf *c, const char *name)
{
	const struct us_conf_service *s = us_conf_find_service(c, name);

	return s ? (int)(s - c->services) : -1;
}

int us_conf_diff(const struct us_conf *old, const struct us_conf *nw, struct us_conf_diff *d)
{
	size_t i, j;
	int r = 0;

	if (!d)
		return -EINVAL;
	memset(d, 0, sizeof(*d));
	if (!old || !nw)
		return -EINVAL;
	diff_settings(&balancer_s, "balancer", old, nw, d);
	diff_settings(&daemon_s, "daemon", old, nw, d);

	/* services */
	for (i = 0; i < old->nservices && !r; i++)
		if (svc_idx(nw, old->services[i].name) < 0)
			r = push(&d->svc_removed, old->services[i].name, NULL, 0, (int)i, -1, -1, -1);
	for (i = 0; i < nw->nservices && !r; i++) {
		const struct us_conf_service *n = &nw->services[i];
		int k = svc_idx(old, n->name);
		unsigned ch;

		if (k < 0) {
			r = push(&d->svc_added, n->name, NULL, 0, -1, (int)i, -1, -1);
			continue;
		}
		ch = diff_bits(&service_s, &old->services[k], n);
		if (ch)
			r = push(&d->svc_changed, n->name, NULL, ch, k, (int)i, -1, -1);
	}

	/* machines */
	for (i = 0; i < old->nservices && !r; i++) {
		for (j = 0; j < old->services[i].nmachines && !r; j++) {
			const struct us_conf_machine *m = &old->services[i].machines[j];
			int si, mi;

			if (!find_m(nw, m->name, &si, &mi))
				r = push(&d->m_removed, m->name, old->services[i].name, 0, (int)i, -1,
					 (int)j, -1);
		}
	}
	for (i = 0; i < nw->nservices && !r; i++) {
		for (j = 0; j < nw->services[i].nmachines && !r; j++) {
			const struct us_conf_machine *m = &nw->services[i].machines[j];
			const char *sname = nw->services[i].name;
			unsigned ch;
			int si, mi;

			if (!find_m(old, m->name, &si, &mi)) {
				r = push(&d->m_added, m->name, sname, 0, -1, (int)i, -1, (int)j);
				continue;
			}
			ch = diff_bits(&machine_s, &old->services[si].machines[mi], m);
			if (strcmp(old->services[si].name, sname))
				ch |= US_DIFF_M_SERVICE;
			if (ch)
				r = push(&d->m_changed, m->name, sname, ch, si, (int)i, mi, (int)j);
		}
	}
	if (r)
		us_conf_diff_free(d);
	return r;
}

void us_conf_diff_free(struct us_conf_diff *d)
{
	if (!d)
		return;
	free(d->svc_added.v);
	free(d->svc_removed.v);
	free(d->svc_changed.v);
	free(d->m_added.v);
	free(d->m_removed.v);
	free(d->m_changed.v);
	memset(d, 0, sizeof(*d));
}

bool us_conf_diff_empty(const struct us_conf_diff *d)
{
	return !d->svc_added.n && !d->svc_removed.n && !d->svc_changed.n && !d->m_added.n &&
	       !d->m_removed.n && !d->m_changed.n && !d->nsettings;
}

static void flags_str(struct us_sbuf *s, unsigned ch, const char *const *names, size_t nn)
{
	bool first = true;

	us_sbuf_printf(s, " (");
	for (size_t k = 0; k < nn; k++) {
		if (ch & (1u << k)) {
			us_sbuf_printf(s, "%s%s", first ? "" : ", ", names[k]);
			first = false;
		}
	}
	us_sbuf_printf(s, ")");
}

static void list_str(struct us_sbuf *s, bool *any, const char *what,
		     const struct us_conf_diff_list *l, const char *const *names, size_t nn)
{
	if (!l->n)
		return;
	us_sbuf_printf(s, "%s%s: ", *any ? "; " : "", what);
	*any = true;
	for (size_t i = 0; i < l->n; i++) {
		us_sbuf_printf(s, "%s%s", i ? ", " : "", l->v[i].name);
		if (names)
			flags_str(s, l->v[i].changed, names, nn);
	}
}

int us_conf_diff_describe(const struct us_conf_diff *d, char *buf, size_t len)
{
	static const char *const svc_names[] = { "address", "share", "policy" };
	static const char *const m_names[] = { "service", "address", "version", "state",
					       "weight" };
	struct us_sbuf s;
	bool any = false;

	us_sbuf_fixed(&s, buf, len);
	list_str(&s, &any, "services added", &d->svc_added, NULL, 0);
	list_str(&s, &any, "services removed", &d->svc_removed, NULL, 0);
	list_str(&s, &any, "services changed", &d->svc_changed, svc_names, 3);
	list_str(&s, &any, "machines added", &d->m_added, NULL, 0);
	list_str(&s, &any, "machines removed", &d->m_removed, NULL, 0);
	list_str(&s, &any, "machines changed", &d->m_changed, m_names, 5);
	for (int pass = 0; pass < 2; pass++) {
		bool first = true;

		for (size_t k = 0; k < d->nsettings; k++) {
			if (d->settings[k].restart != !pass)
				continue;
			if (first)
				us_sbuf_printf(&s, "%s%s: ", any ? "; " : "",
					       pass ? "settings changed" : "restart needed");
			us_sbuf_printf(&s, "%s%s", first ? "" : ", ", d->settings[k].path);
			first = false;
			any = true;
		}
	}
	if (!any)
		us_sbuf_printf(&s, "no change");
	return (int)s.len;
}

/* ---- the summary ------------------------------------------------------------------- */

static void show(struct us_sbuf *b, const void *obj, const struct field *f)
{
	const char *p = (const char *)obj + f->off;
	char a[US_ADDR_STRLEN];
	unsigned bp;

	switch (f->type) {
	case F_CUSTOM:
		if (f->show)
			f->show(b, obj, f);
		else
			us_sbuf_printf(b, "%s", p);     /* kept as written */
		break;
	case F_UINT:
		us_sbuf_printf(b, "%llu", (unsigned long long)get_uint(p, f->size));
		break;
	case F_NUMBER:
	case F_FRACTION:
	case F_POINTS:
	case F_DURATION:
		us_sbuf_printf(b, "%g", *(const double *)p);
		break;
	case F_PERCENT:
		bp = (unsigned)get_uint(p, f->size);
		us_sbuf_printf(b, "%u.%02u", bp / 100, bp % 100);
		break;
	case F_ENUM:
		us_sbuf_printf(b, "%s", enum_word(f, (int)get_uint(p, f->size)));
		break;
	case F_ADDR:
		us_sbuf_printf(b, "%s", us_addr_format(*(const int *)((const char *)obj + f->off2),
						       (const __u8 *)p, a, sizeof(a)));
		break;
	default:
		us_sbuf_printf(b, "%s", p);
		break;
	}
}

static void summarise(struct us_sbuf *b, const struct section *sec, const void *obj,
		      const void *def, const char *path, bool kind)
{
	char p[YW_PATHLEN];

	for (size_t i = 0; i < sec->n; i++) {
		const struct field *f = &sec->f[i];

		yw_join(p, path, f->key);
		if (f->type == F_LIST)
			continue;
		if (f->type == F_SECTION) {
			summarise(b, f->sub, (const char *)obj + f->off,
				  (const char *)def + f->off, p, kind);
			continue;
		}
		us_sbuf_printf(b, "%s = ", p);
		show(b, obj, f);
		us_sbuf_printf(b, "%s%s (%s%s%s)\n", f->unit && *f->unit != '%' ? " " : "",
			       f->unit ? f->unit : "",
			       f->required ? "set" : field_eq(obj, def, f) ? "default" : "set",
			       kind ? "; " : "", kind ? (f->restart ? "restart" : "live") : "");
	}
}

int us_conf_summary(const struct us_conf *c, char *buf, size_t len)
{
	static struct us_conf def;
	static struct us_conf_service dsvc;
	struct us_sbuf b;
	char p[YW_PATHLEN];

	memset(&def, 0, sizeof(def));
	defaults(&balancer_s, &def);
	defaults(&daemon_s, &def);
	us_sbuf_fixed(&b, buf, len);
	summarise(&b, &balancer_s, c, &def, "balancer", true);
	summarise(&b, &daemon_s, c, &def, "daemon", true);
	memset(&dsvc, 0, sizeof(dsvc));
	defaults(&service_s, &dsvc);
	for (size_t i = 0; i < c->nservices; i++) {
		snprintf(p, sizeof(p), "services[%zu]", i);
		summarise(&b, &service_s, &c->services[i], &dsvc, p, false);
		us_sbuf_printf(&b, "%s.machines: %zu\n", p, c->services[i].nmachines);
	}
	return (int)b.len;
}

/* ---- the fields, for documents and tests ------------------------------------------- */

static void each_field(const struct section *sec, const void *def, const char *path,
		       us_conf_field_fn fn, void *ctx)
{
	char p[YW_PATHLEN], d[128];

	for (size_t i = 0; i < sec->n; i++) {
		const struct field *f = &sec->f[i];
		struct us_sbuf b;

		if (sec == &root_s)
			snprintf(p, sizeof(p), "%s", f->key);
		else
			yw_join(p, path, f->key);
		if (f->type == F_SECTION) {
			fn(ctx, p, "", "", f->restart);
			each_field(f->sub, (const char *)def + f->off, p, fn, ctx);
			continue;
		}
		if (f->type == F_LIST) {
			void *item = calloc(1, f->sub->size);

			strncat(p, "[]", sizeof(p) - strlen(p) - 1);
			fn(ctx, p, "", "", f->restart);
			if (item)
				defaults(f->sub, item);
			each_field(f->sub, item, p, fn, ctx);
			free(item);
			continue;
		}
		us_sbuf_fixed(&b, d, sizeof(d));
		if (def && !f->required)
			show(&b, def, f);
		fn(ctx, p, d, f->unit ? f->unit : "", f->restart);
	}
}

void us_conf_fields(us_conf_field_fn fn, void *ctx)
{
	static struct us_conf def;

	memset(&def, 0, sizeof(def));
	defaults(&balancer_s, &def);
	defaults(&daemon_s, &def);
	each_field(&root_s, &def, "", fn, ctx);
}
