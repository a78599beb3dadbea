/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Maps of the understudy data plane. Shared ones are pinned by name under
 * the pin root chosen at load time (default /sys/fs/bpf/understudy). */
#ifndef US_MAPS_BPF_H
#define US_MAPS_BPF_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "understudy/understudy.h"

/* Service ports bitmap: cheap pre-filter so non-service traffic costs one
 * inlined array lookup before the hash lookup. Bit (port & 63) of entry
 * (port >> 6) is set when some service uses that UDP port. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} us_ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, US_MAX_SERVICES);
	__type(key, struct us_svc_key);
	__type(value, struct us_svc);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} us_services SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, US_MAX_MACHINES);
	__type(key, __u32);
	__type(value, struct us_machine);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} us_machines SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, US_MAGLEV_ENTRIES);
	__type(key, __u32);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} us_maglev SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, US_MAX_MACHINES * 2);
	__type(key, struct us_mac_key);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} us_macs SEC(".maps");

/* The LRU maps keep one LRU list per CPU (BPF_F_NO_COMMON_LRU): no lock
 * shared by all CPUs on insertion; each CPU's list holds max/ncpu. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, US_CALLS_DEFAULT);
	__type(key, struct us_call_key);
	__type(value, struct us_call);
	__uint(map_flags, BPF_F_NO_COMMON_LRU);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} us_calls SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, US_TXNS_DEFAULT);
	__type(key, struct us_txn_key);
	__type(value, struct us_txn);
	__uint(map_flags, BPF_F_NO_COMMON_LRU);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} us_txns SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, US_MAX_MACHINES);
	__type(key, __u32);
	__type(value, struct us_mstats);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} us_mstats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, US_ST_MAX);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} us_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct us_cfg);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} us_cfg SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct us_bucket);
} us_evrate SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, US_RINGBUF_BYTES);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} us_events SEC(".maps");

/* Mirror groups: each inner devmap holds exactly the two egress entries of
 * a (active interface, simulation interface) pair, each with the egress
 * program us_egress. */
struct us_group_inner {
	__uint(type, BPF_MAP_TYPE_DEVMAP);
	__uint(max_entries, 2);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(struct bpf_devmap_val));
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH_OF_MAPS);
	__uint(max_entries, US_MAX_GROUPS);
	__type(key, struct us_group_key);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__array(values, struct us_group_inner);
} us_groups SEC(".maps");

/* Per-CPU scratch: the SIP payload is copied here and parsed with masked
 * offsets. Twice US_SIP_MAX so reads past the message never wrap. */
#define US_BUF_SIZE (2 * US_SIP_MAX)
#define US_BUF_MASK (US_BUF_SIZE - 1)
struct us_scratch {
	__u8 b[US_BUF_SIZE + 16];
	struct us_txn txn;      /* a new transaction's value, built off-stack */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct us_scratch);
} us_scratch SEC(".maps");

/* Per-CPU: last mirror sequence number seen by the egress program, to tell
 * the first copy from the second when both leave by one interface. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u32);
} us_egseq SEC(".maps");

/* Per-CPU mirror sequence counter (index 0) used by the client program. */
#define US_EGSEQ_LAST 0
#define US_EGSEQ_NEXT 1

static __always_inline void us_count(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&us_stats, &idx);

	if (v)
		*v += 1;
}

#endif
