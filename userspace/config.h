/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The cluster configuration: one YAML file that describes the balancer's
 * interfaces, the daemon's settings, the services and their machines
 * (docs/config.md is the reference of every field).
 *
 * A file is validated whole before anything is returned: an invalid file
 * yields no configuration at all, and the error text names, for every
 * problem found, the file, line, column and field and says why:
 *
 *   cluster.yaml:14:17: services[0].machines[2].weight: 70000 out of range (1..65535)
 *
 * All problems found are reported, one per line, sorted by position, up to
 * US_CONF_MAX_ERRORS (then a last line says how many more there were).
 * A YAML syntax error stops the parse: it is the only error reported.
 */
#ifndef US_CONFIG_H
#define US_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>
#include "understudy/understudy.h"
#include "policy.h"

#define US_CONF_NAME_MAX     64           /* service and machine names, versions (with NUL) */
#define US_CONF_IFNAME_MAX   16           /* IFNAMSIZ */
#define US_CONF_MAX_IFS      16           /* machine interfaces */
#define US_CONF_SOCKET_MAX   108          /* sizeof(sun_path) */
#define US_CONF_PATH_MAX     256
#define US_CONF_MAX_ERRORS   20           /* error lines reported, at most */
#define US_CONF_MAX_BYTES    (4u << 20)   /* largest file accepted */
#define US_CONF_MAX_DEPTH    32           /* deepest nesting accepted (a valid file needs 5) */

/* The configuration file understudyd reads by default (and replay --config). */
#define US_CONF_DEFAULT_PATH "/etc/understudy/understudy.yaml"

/* The default control socket (understudyctl's default too). Every other
 * default, range and unit is in the table of fields in config.c. */
#define US_CONF_DEF_SOCKET   "/run/understudy/understudyd.sock"

/* What understudyd is (docs/cluster.md): one host that does everything, an
 * agent of a cluster (the data plane, applying etcd's state), or one of its
 * controllers (judging and moving, no data plane). */
enum us_conf_role {
	US_CONF_STANDALONE = 0,
	US_CONF_AGENT      = 1,
	US_CONF_CONTROLLER = 2,
};

#define US_CONF_URL_MAX      256          /* an etcd endpoint, an agent (with the NUL) */
#define US_CONF_MAX_URLS     1024         /* endpoints (etcd.h takes 16), agents */

/* A list of http:// or https:// URLs without a path (malloc'd). */
struct us_conf_urls {
	char (*v)[US_CONF_URL_MAX];
	size_t n;
};

/* daemon.etcd: where the cluster's state is (agent and controller). */
struct us_conf_etcd {
	struct us_conf_urls endpoints;
	char prefix[128];                /* "/understudy" */
	char name[US_CONF_NAME_MAX];     /* this daemon in the election ("": the host name) */
	double lease_ttl_s;              /* a controller's lease: a standby leads this late */
	double timeout_s;                /* one etcd call, every endpoint tried */
	char ca_file[US_CONF_PATH_MAX];  /* TLS: "" none */
	char cert_file[US_CONF_PATH_MAX];
	char key_file[US_CONF_PATH_MAX];
};

enum us_xdp_mode {
	US_XDP_NATIVE  = 0,   /* driver mode (XDP_FLAGS_DRV_MODE): fails if unsupported */
	US_XDP_GENERIC = 1,   /* generic/skb mode (XDP_FLAGS_SKB_MODE) */
	US_XDP_AUTO    = 2,   /* let the kernel choose (flags 0) */
};

struct us_conf_machine {
	char name[US_CONF_NAME_MAX];     /* [a-z0-9._-], unique across the file */
	char version[US_CONF_NAME_MAX];
	int family;                      /* AF_INET or AF_INET6: the service's */
	__u8 addr[16];                   /* IPv4 as ::ffff:a.b.c.d */
	enum us_mstate state;            /* ACTIVE, SIMULATION, DRAINING, REJECTED, REMOVED or
	                                  * CONTROL (the active version, for the noise floor) */
	__u16 weight;                    /* 1 .. US_WEIGHT_MAX */
	int line;                        /* where it is defined (1-based) */
};

struct us_conf_service {
	char name[US_CONF_NAME_MAX];     /* [a-z0-9._-], unique */
	int family;                      /* AF_INET or AF_INET6 */
	__u8 vip[16];                    /* IPv4 as ::ffff:a.b.c.d */
	__u16 port;                      /* host order */
	int proto;                       /* IPPROTO_UDP */
	__u16 share_bp;                  /* mirrored share, basis points 0 .. US_SHARE_MAX */
	struct us_policy policy;         /* us_policy_default() where not given */
	struct us_conf_machine *machines;
	size_t nmachines;
	int line;
};

struct us_conf {
	/* balancer */
	char client_if[US_CONF_IFNAME_MAX];
	char machine_ifs[US_CONF_MAX_IFS][US_CONF_IFNAME_MAX];
	size_t nmachine_ifs;             /* 1 .. US_CONF_MAX_IFS */
	int xdp_mode;                    /* enum us_xdp_mode */
	/* daemon */
	double window_s;                 /* judging window, seconds */
	char socket[US_CONF_SOCKET_MAX];
	char metrics_listen[64];         /* as written ("off" when off) */
	bool metrics_off;
	int metrics_family;              /* AF_INET or AF_INET6 (0 when off) */
	__u8 metrics_addr[16];           /* IPv4 as ::ffff:a.b.c.d */
	__u16 metrics_port;              /* host order */
	char state_dir[US_CONF_PATH_MAX];
	char pin_root[US_CONF_PATH_MAX];
	__u32 event_rate, event_burst;   /* difference events per second per CPU; bucket depth */
	__u32 max_calls;                 /* us_calls entries (default US_CALLS_DEFAULT) */
	__u32 max_transactions;          /* us_txns entries (default US_TXNS_DEFAULT) */
	__u32 window_records_max;        /* lines per window-record file (0: none kept) */
	int log_level;                   /* syslog level: LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG */
	int role;                        /* enum us_conf_role */
	struct us_conf_etcd etcd;
	struct us_conf_urls agents;      /* a controller's agents (base URLs, no /counters) */
	/* services, in file order */
	struct us_conf_service *services;
	size_t nservices;
	size_t nmachines;                /* over all services, <= US_MAX_MACHINES */
	char path[US_CONF_PATH_MAX];     /* the file (or the name given to us_conf_parse) */
};

/* Read, parse and validate a file. Returns 0, or a negative errno (-EINVAL
 * when the file is invalid, -ENOENT, -EACCES, -EFBIG, -ENOMEM, ...) with
 * the explanation in err (NUL-terminated, cut to errlen; err may be NULL).
 * On error *out is left untouched. Free a configuration with us_conf_free. */
int us_conf_load(const char *path, struct us_conf *out, char *err, size_t errlen);
/* The same from memory; name stands for the file in messages (NULL:
 * "<config>"). text need not be NUL-terminated. */
int us_conf_parse(const char *text, size_t len, const char *name, struct us_conf *out,
		  char *err, size_t errlen);
/* A policy alone (replay --policy): a YAML mapping of the keys of a
 * service's `policy:` section, each optional (an empty file is the
 * default policy); errors as us_conf_parse's. */
int us_policy_parse(const char *text, size_t len, const char *name, struct us_policy *out,
		    char *err, size_t errlen);
int us_policy_load(const char *path, struct us_policy *out, char *err, size_t errlen);
void us_conf_free(struct us_conf *c);

/* Legal but suspicious setups, one "file: services[i] (name): why" line
 * each: a service with simulation machines and no active one (nothing is
 * mirrored: no traffic to copy), every machine of a service removed or
 * rejected (it answers no call). Returns the number of warnings; buf gets
 * them (snprintf semantics for the text, NUL-terminated; may be NULL). */
int us_conf_warnings(const struct us_conf *c, char *buf, size_t len);

/* Look-ups by name; NULL when absent. */
const struct us_conf_service *us_conf_find_service(const struct us_conf *c, const char *name);
const struct us_conf_machine *us_conf_find_machine(const struct us_conf *c, const char *name,
						   const struct us_conf_service **svc);

/* XDP attach flags of the configured mode (XDP_FLAGS_DRV_MODE,
 * XDP_FLAGS_SKB_MODE or 0), for us_dp_attach. */
__u32 us_conf_xdp_flags(const struct us_conf *c);
const char *us_conf_xdp_mode_name(int mode);
const char *us_conf_log_level_name(int level);
const char *us_conf_role_name(int role);

/* ---- difference between two configurations ----------------------------
 *
 * Services and machines are identified by name: a renamed one is removed
 * and added. A machine whose service was removed is listed as removed too,
 * and one whose service was added as added; a machine that moved to another
 * service is changed (US_DIFF_M_SERVICE). */

enum {
	US_DIFF_SVC_ADDRESS = 1u << 0,   /* VIP, port, protocol or family: the service key */
	US_DIFF_SVC_SHARE   = 1u << 1,   /* mirror_percent */
	US_DIFF_SVC_POLICY  = 1u << 2,   /* any policy field */
};

enum {
	US_DIFF_M_SERVICE = 1u << 0,     /* moved to another service */
	US_DIFF_M_ADDRESS = 1u << 1,
	US_DIFF_M_VERSION = 1u << 2,
	US_DIFF_M_STATE   = 1u << 3,
	US_DIFF_M_WEIGHT  = 1u << 4,
};

/* A setting of the balancer or the daemon that changed. */
struct us_conf_setting_change {
	const char *path;                /* "daemon.window" */
	bool restart;                    /* applied only by a restart of understudyd */
};
#define US_CONF_SETTINGS_MAX 32

struct us_conf_diff_entry {
	char name[US_CONF_NAME_MAX];
	char service[US_CONF_NAME_MAX];  /* machines: their service (the old one when removed) */
	unsigned int changed;            /* changed entries: US_DIFF_SVC_* or US_DIFF_M_* bits */
	int old_svc, new_svc;            /* index in old/new services[], -1 if none */
	int old_idx, new_idx;            /* machines: index in that service's machines[], -1 if none */
};

struct us_conf_diff_list {
	struct us_conf_diff_entry *v;
	size_t n;
};

struct us_conf_diff {
	/* removed: in the old configuration's order; added, changed: the new one's */
	struct us_conf_diff_list svc_added, svc_removed, svc_changed;
	struct us_conf_diff_list m_added, m_removed, m_changed;
	/* balancer and daemon settings, in the file's order */
	struct us_conf_setting_change settings[US_CONF_SETTINGS_MAX];
	size_t nsettings;
	bool restart;                    /* one of them needs a restart */
};

/* Fill *d (which need not be initialised). Returns 0 or -ENOMEM/-EINVAL. */
int us_conf_diff(const struct us_conf *old, const struct us_conf *nw, struct us_conf_diff *d);
void us_conf_diff_free(struct us_conf_diff *d);
/* True when the two configurations are the same. */
bool us_conf_diff_empty(const struct us_conf_diff *d);
/* One line for a log, e.g. "services changed: sip (share); machines added:
 * v2-a; restart needed: balancer.client_interface" ("no change" if none).
 * Returns the length it needed, like snprintf. */
int us_conf_diff_describe(const struct us_conf_diff *d, char *buf, size_t len);

/* ---- the fields ---------------------------------------------------------
 *
 * The file's fields are one table in config.c (key, type, range, default,
 * unit, live or restart); parsing, defaults, messages, the difference and
 * the summary walk it. */

/* Every setting in force, one "path = value (unit; default|set; live|restart)"
 * line each, then the services; snprintf semantics. */
int us_conf_summary(const struct us_conf *c, char *buf, size_t len);

/* Every field of the table: its path ("daemon.window",
 * "services[].policy.alpha"), its default as the file would say it ("" if
 * required or none), its unit ("" if none), and whether a change of it
 * needs a restart. */
typedef void (*us_conf_field_fn)(void *ctx, const char *path, const char *def,
				 const char *unit, bool restart);
void us_conf_fields(us_conf_field_fn fn, void *ctx);

#endif
