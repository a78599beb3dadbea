/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Maps of the understudy data plane. Shared ones are pinned by name under
 * the pin root chosen at load time (default /sys/fs/bpf/understudy). */
#ifndef US_MAPS_BPF_H
#define US_MAPS_BPF_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "understudy/understudy.h"
#include "parse.bpf.h"

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

/* Dialog records of mirrored calls (same key as us_calls). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, US_DLGS_DEFAULT);
	__type(key, struct us_call_key);
	__type(value, struct us_dlg);
	__uint(map_flags, BPF_F_NO_COMMON_LRU);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} us_dlgs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, US_MAX_MACHINES);
	__type(key, __u32);
	__type(value, struct us_mstats);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} us_mstats SEC(".maps");

/* Exact codes that differed in pairs, per shadow machine: a per-CPU count.
 * Differences are rare; when the map is full the pair is still counted in
 * us_mstats, only its codes are not. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, US_CODEPAIRS);
	__type(key, struct us_codepair_key);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} us_codes SEC(".maps");

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

/*
 * Every frame the programs send on leaves through a devmap entry that
 * carries the egress program: a mirror group's (us_groups) or, for one
 * copy, us_fwd's entry of its interface (keyed by ifindex). The kernel runs
 * one egress program for a whole bulk queue of a device, the one its first
 * frame came with: frames sent by plain bpf_redirect() in the same queue
 * as mirrored copies would make copies skip it, or run it. The egress
 * program passes a frame without understudy's metadata unchanged. Not
 * pinned (the kernel marks a devmap BPF_F_RDONLY_PROG, which a definition
 * cannot ask for, so libbpf would not reuse it): each instance fills its
 * own before its programs are attached.
 */
struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, struct bpf_devmap_val);
} us_fwd SEC(".maps");

/* Mirror groups: each inner devmap holds the egress entries of an (active
 * interface, simulation interface[, control interface]) set, in that order,
 * each with the egress program us_egress. */
struct us_group_inner {
	__uint(type, BPF_MAP_TYPE_DEVMAP);
	__uint(max_entries, US_SIDES);
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

/* What the SIP parser found (sip.bpf.h). */
struct us_sip {
	__u64 callid_hash;
	__u64 branch_hash;
	__u32 callid_off;
	__u32 callid_len;
	__u32 cseq;
	__u32 clen;
	__u32 body_off;
	__u32 to_off;        /* start of the (first) To header's value */
	__u32 rseq;          /* RSeq (a reliable provisional response) */
	__u32 rack_off;      /* start of the RAck value (its response number) */
	__u32 rack_len;      /* digits of the response number */
	__u32 rack;          /* the response number */
	__u16 status;        /* response: status code; request: 0 */
	__u8  method;        /* request method */
	__u8  cseq_method;
	__u8  have;          /* US_H_* seen */
	__u8  bad;           /* enum us_stat of the first error, 0 if none */
	__u8  started;       /* the start line's end has been seen */
	__u8  pad;
};

/* Per-CPU scratch: the SIP payload is copied here and parsed with masked
 * offsets. Twice US_SIP_MAX so reads past the message never wrap. */
#define US_BUF_SIZE (2 * US_SIP_MAX)
#define US_BUF_MASK (US_BUF_SIZE - 1)
struct us_scratch {
	__u8 b[US_BUF_SIZE + 16];
	/* a new transaction's value, built off-stack (bytes: a map value
	 * holding a struct bpf_timer cannot be per-CPU) */
	__u64 txn[sizeof(struct us_txn) / 8];
	struct us_dlg dlg;      /* a new dialog record, built off-stack */
	struct bpf_fib_lookup fib[US_SIDES];  /* next hops of a message's copies */
	struct us_sip sip;      /* the client message parsed (off-stack) */
	/* the machine side's packet and transaction key, off its stack
	 * (us_machine's frame and the dialog builders' must fit 512 bytes) */
	struct us_pkt mpkt;
	struct us_txn_key mtk;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct us_scratch);
} us_scratch SEC(".maps");

/* Per-CPU: a message built or rebuilt (a response or ACK on the caller's
 * behalf, a copy naming a shadow's dialog), and its pieces. */
/* Header lines of a message (hdrs.bpf.h). */
enum us_hx {
	US_HX_FROM = 0,
	US_HX_TO,
	US_HX_CALLID,
	US_HX_CSEQ,
	US_HX_CONTACT,
	US_HX_RSEQ,
	US_HX_RACK,
	US_HX_CTYPE,
	US_HX_N,
};
#define US_HX_VIAS 4    /* Via lines copied into a response, at most */

struct us_span {
	__u16 off;          /* first byte of the line (its name) */
	__u16 len;          /* up to and including the line end, continuation lines included */
};

struct us_hidx {
	struct us_span h[US_HX_N];          /* len 0: absent */
	struct us_span via[US_HX_VIAS];
	__u16 nvia;
	__u16 more_via;     /* Via lines past US_HX_VIAS */
	__u16 body_off;
	__s16 last;         /* the entry the previous line went to: 0..US_HX_N-1,
	                     * 100 + via index, -1 none (continuations extend it) */
	__u16 line;         /* while indexing: where the line being scanned starts */
	__u16 pad;
};

struct us_out {
	__u8 b[US_BUF_SIZE + 16];
	struct us_edit e;               /* a message built in place */
	struct us_hidx hx;              /* the index of the message it is built from */
	__u8 hdr[128];                  /* a frame's headers, while they move */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct us_out);
} us_out SEC(".maps");

/* Per-CPU plans of the mirrored messages in flight, by sequence number
 * (US_PLANS is more than a NAPI batch: a slot is reused only after its
 * copies have left). Pinned, as us_egstate: across a restart the client
 * program of one instance and the egress program of the next share them. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, US_PLANS);
	__type(key, __u32);
	__type(value, struct us_plan);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} us_plans SEC(".maps");

/* Per-CPU, per egress interface (slot ifindex % US_EGSLOTS): the last
 * sequence number seen and how many of its copies, to tell copies apart
 * when several leave by one interface (in group entry order). */
#define US_EGSLOTS 64
struct us_egstate {
	__u32 ifindex;
	__u32 seq;
	__u32 n;            /* copies of seq seen on ifindex so far */
	__u32 next_seq;     /* slot 0 only: the client program's sequence counter */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, US_EGSLOTS);
	__type(key, __u32);
	__type(value, struct us_egstate);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} us_egstate SEC(".maps");

static __always_inline void us_count(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&us_stats, &idx);

	if (v)
		*v += 1;
}

#endif
