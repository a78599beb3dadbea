/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * libunderstudy: load, pin, attach and program the understudy data plane.
 *
 * Every function returns 0 or a negative errno and prints nothing; after a
 * failure us_dp_error() says what and why (us_dp_open: opts->err), and
 * after a success it is empty.
 */
#ifndef US_DP_H
#define US_DP_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>
#include "understudy/understudy.h"

struct us_dp;

struct us_dp_opts {
	const char *pin_root;   /* default US_PIN_ROOT */
	__u32 calls_max;        /* dialog-affinity entries; 0 = US_CALLS_DEFAULT */
	__u32 txns_max;         /* pending transactions; 0 = US_TXNS_DEFAULT */
	__u32 dlgs_max;         /* dialog records of mirrored calls; 0 = US_DLGS_DEFAULT */
	bool verbose;           /* libbpf's messages to stderr */
	char *err;              /* if not NULL: why us_dp_open failed, where it can tell */
	size_t errlen;
};

enum us_role {
	US_ROLE_CLIENT  = 0,    /* us_client: where clients reach the VIPs */
	US_ROLE_MACHINE = 1,    /* us_machine: where the machines sit behind */
};

/* A machine as configured: id, service, address, weight, state. */
struct us_machine_cfg {
	__u32 id;               /* 0 .. US_MAX_MACHINES-1 */
	__u32 svc_id;
	int family;             /* AF_INET or AF_INET6 */
	__u8 addr[16];          /* IPv4 in the last 4 bytes (v4-mapped) */
	__u16 weight;           /* 1 .. US_WEIGHT_MAX */
	enum us_mstate state;
};

/* Open the BPF object, size the maps, load it and pin the shared maps under
 * the pin root (re-using maps already pinned there: their contents live
 * on across restarts). A pinned us_calls or us_txns of another size than
 * asked for is refused (-EEXIST, explained in opts->err): resizing loses
 * the calls' stickiness, which only the operator may decide. */
int us_dp_open(const struct us_dp_opts *opts, struct us_dp **out);
/* Release this process's handles. Pinned maps and pinned links stay: the
 * data plane keeps forwarding. */
void us_dp_close(struct us_dp *dp);
/* Detach every link pinned under pin_root and remove every pin. */
int us_dp_destroy_pins(const char *pin_root);

/* The last call's failure, explained ("" after a success). */
const char *us_dp_error(const struct us_dp *dp);

/* Attach the role's program to an interface by a bpf_link pinned as
 * <pin_root>/link_<role>_<ifname>, so it survives this process. xdp_flags:
 * XDP_FLAGS_DRV_MODE or XDP_FLAGS_SKB_MODE (0 = let the kernel choose). */
int us_dp_attach(struct us_dp *dp, const char *ifname, enum us_role role, __u32 xdp_flags);
int us_dp_detach(struct us_dp *dp, const char *ifname, enum us_role role);
/* Detach and unpin every link this instance created (not those it took
 * over from an earlier run's pins): what a refused start undoes. Returns
 * how many. */
int us_dp_detach_created(struct us_dp *dp);
/* The links this instance attached or took over are held open (removing a
 * pin detaches nothing); put back what was undone since: a link pin removed
 * or replaced is pinned again, a link detached is attached again. Returns
 * how many were repaired (what: "client eth0 (pinned again), ..."), or a
 * negative errno with us_dp_error. */
int us_dp_check_links(struct us_dp *dp, char *what, size_t len);

/* Declare an interface machines sit behind (at most 5). Mirror groups
 * (devmaps with the egress program) are built for every pair and triple of
 * declared interfaces, each with itself included. */
int us_dp_add_machine_iface(struct us_dp *dp, const char *ifname);

/* Services. addr is 16 bytes, IPv4 v4-mapped; port in host order;
 * share_bp is the mirrored share in basis points (0..10000). */
int us_dp_set_service(struct us_dp *dp, __u32 svc_id, int family, const __u8 *addr,
		      __u16 port, __u16 share_bp);
int us_dp_set_share(struct us_dp *dp, __u32 svc_id, __u16 share_bp);
/* When a pair's silent side counts as unanswered: max(floor_ms, mult x the
 * first final's latency), at most US_DUE_MAX_MS (floor_ms 1..US_DUE_MAX_MS,
 * mult 1..1000). */
int us_dp_set_due(struct us_dp *dp, __u32 svc_id, __u32 floor_ms, __u16 mult);
int us_dp_del_service(struct us_dp *dp, __u32 svc_id);

/* The services the data plane has (at most cap): how many, or -errno. */
struct us_dp_service {
	int family;
	__u8 addr[16];
	__u16 port;             /* host order */
	__u32 id;
};
int us_dp_list_services(struct us_dp *dp, struct us_dp_service *out, size_t cap);

/* Machines. Each change rebuilds the tables it affects, in an order that
 * never lets a table name a machine in another state: a pool the machine
 * leaves is rebuilt without it before its entry changes; a pool it joins,
 * after. */
int us_dp_set_machine(struct us_dp *dp, const struct us_machine_cfg *m);
int us_dp_set_state(struct us_dp *dp, __u32 mid, enum us_mstate state);
int us_dp_del_machine(struct us_dp *dp, __u32 mid);

/* Rebuild (explicitly) the service's table of a pool from the machines now
 * in the matching state (active pool: US_MS_ACTIVE; simulation pool:
 * US_MS_SIMULATION), by weighted Maglev, into the unused generation, then
 * flip the generation in one map update. */
int us_dp_rebuild(struct us_dp *dp, __u32 svc_id, enum us_pool pool);

/* Map a machine's MAC address on an interface to it (responses are
 * recognised by source MAC). us_dp_learn_macs asks the kernel's neighbour
 * table for every machine, creating managed neighbour entries where none
 * exist yet; it returns the number still unresolved. */
int us_dp_set_mac(struct us_dp *dp, int ifindex, const __u8 mac[6], __u32 mid);
int us_dp_learn_macs(struct us_dp *dp);

int us_dp_set_cfg(struct us_dp *dp, const struct us_cfg *cfg);

/* Counters, summed over CPUs. */
int us_dp_read_stats(struct us_dp *dp, __u64 out[US_ST_MAX]);
int us_dp_read_mstats(struct us_dp *dp, __u32 mid, struct us_mstats *out);
/* The exact codes that differed in pairs (us_codes) since the last call,
 * every machine's, summed over CPUs: read and cleared in the same batched
 * operation (a count is never returned twice; an increment racing with the
 * clearing may be lost). At most cap entries: how many, or -errno. */
struct us_dp_code {
	struct us_codepair_key key;
	__u64 n;
};
int us_dp_take_codes(struct us_dp *dp, struct us_dp_code *out, size_t cap);
/* Machine id at a slot of the table in use. */
int us_dp_table_lookup(struct us_dp *dp, __u32 svc_id, enum us_pool pool, __u32 slot,
		       __u32 *mid);

/* The ring buffer of difference events (us_events), for ring_buffer__new(). */
int us_dp_events_fd(struct us_dp *dp);
/* The kernel's id of the us_mstats map: it changes when the counters start
 * again from zero (the maps made anew), an agent's "boot" (counters.h). */
int us_dp_stats_id(struct us_dp *dp, __u32 *id);

/* The loaded skeleton, for tests and tools that run programs directly (the
 * product's code outside dp.c uses the functions above). */
struct understudy_bpf;
struct understudy_bpf *us_dp_skel(struct us_dp *dp);

/* Names of enum us_stat values, for output ("rx", "bad_l2", ...). */
const char *us_stat_name(enum us_stat s);
const char *us_method_name(enum us_method m);
const char *us_state_name(enum us_mstate s);

#endif
