/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * understudy: everything the XDP data plane and user space share.
 *
 * Every map key and value is defined here once. Types are fixed-width,
 * network-order fields are __be16/__be32, padding is explicit and every
 * struct's size is asserted, so that BPF and user space agree bit for bit.
 */
#ifndef UNDERSTUDY_H
#define UNDERSTUDY_H

#include <linux/types.h>

/* ---- sizes ------------------------------------------------------------ */

#define US_MAX_SERVICES   32      /* services (VIP + port) per balancer host */
#define US_MAX_MACHINES   256     /* machine ids are 0 .. US_MAX_MACHINES-1 */
#define US_MAGLEV_SIZE    8191    /* prime; slots per Maglev table */
#define US_POOLS          2       /* US_POOL_ACTIVE, US_POOL_SIM */
#define US_GENS           2       /* two generations per table: flip, never half-written */
#define US_MAGLEV_ENTRIES (US_MAX_SERVICES * US_POOLS * US_GENS * US_MAGLEV_SIZE)
#define US_MAX_GROUPS     64      /* mirror groups: (active ifindex, sim ifindex) pairs */
#define US_CALLS_DEFAULT  262144  /* dialog-affinity LRU entries */
#define US_TXNS_DEFAULT   131072  /* pending-transaction LRU entries */
#define US_RINGBUF_BYTES  (256 * 1024)

#define US_SIP_MAX        4096    /* largest SIP datagram parsed in one frame */
#define US_CALLID_MAX     255     /* longest Call-ID accepted */
#define US_CALLID_COPY    64      /* bytes of Call-ID kept for difference events */
#define US_SHARE_MAX      10000   /* mirror share unit: basis points (100.00 %) */
#define US_WEIGHT_MAX     65535

#define US_MID_NONE       0xffffffffu

#define US_PIN_ROOT       "/sys/fs/bpf/understudy"

/* Latency histogram: values below 2^US_LAT_MIN_SHIFT ns fall in bucket 0;
 * above, every power of two is split into 2^US_LAT_SUB_BITS linear
 * sub-buckets (12.5 % wide), up to 2^US_LAT_MAX_SHIFT ns (68.7 s). */
#define US_LAT_MIN_SHIFT  10
#define US_LAT_MAX_SHIFT  36
#define US_LAT_SUB_BITS   3
#define US_LAT_BUCKETS    ((US_LAT_MAX_SHIFT - US_LAT_MIN_SHIFT + 1) << US_LAT_SUB_BITS)

/* ---- enums ------------------------------------------------------------ */

enum us_pool {
	US_POOL_ACTIVE = 0,
	US_POOL_SIM    = 1,
};

/* A machine's state, as the data plane acts on it. */
enum us_mstate {
	US_MS_UNUSED     = 0, /* slot free */
	US_MS_ACTIVE     = 1, /* takes new calls */
	US_MS_SIMULATION = 2, /* receives mirrored calls; its output never reaches a caller */
	US_MS_DRAINING   = 3, /* no new calls; calls in progress finish */
	US_MS_REJECTED   = 4, /* no traffic at all; its output is dropped */
	US_MS_REMOVED    = 5, /* gone; calls pinned to it are re-balanced */
	US_MS_MAX,
};

enum us_method {
	US_M_OTHER = 0,
	US_M_INVITE,
	US_M_ACK,
	US_M_BYE,
	US_M_CANCEL,
	US_M_REGISTER,
	US_M_OPTIONS,
	US_M_PRACK,
	US_M_SUBSCRIBE,
	US_M_NOTIFY,
	US_M_PUBLISH,
	US_M_INFO,
	US_M_REFER,
	US_M_MESSAGE,
	US_M_UPDATE,
	US_M_MAX,
};

/* Final status codes counted individually; everything else is US_C_OTHER. */
enum us_code {
	US_C_200 = 0,
	US_C_408,
	US_C_480,
	US_C_486,
	US_C_487,
	US_C_500,
	US_C_503,
	US_C_504,
	US_C_OTHER,
	US_C_MAX,
};

/* Global per-CPU counters (map us_stats), by what happened to a packet. */
enum us_stat {
	US_ST_RX = 0,            /* every packet the client or machine program saw */
	US_ST_PASS,              /* not service traffic: XDP_PASS untouched */
	US_ST_REQ_FWD,           /* client message forwarded to an active machine */
	US_ST_REQ_MIRRORED,      /* ... and cloned to a simulation machine */
	US_ST_RESP_FWD,          /* active machine's message forwarded to the client */
	US_ST_RESP_SIM_DROP,     /* simulation machine's SIP message dropped */
	US_ST_SIM_STRAY_DROP,    /* other traffic from a simulation machine dropped */
	US_ST_RETRANS_REQ,       /* request retransmissions (txn already known) */
	US_ST_RETRANS_RESP,      /* final-response retransmissions */
	US_ST_RESP_NO_TXN,       /* response whose transaction is not (or no longer) known */
	/* bad packets, by reason; every one of them is dropped, never mirrored */
	US_ST_BAD_L2,            /* truncated Ethernet or VLAN header */
	US_ST_BAD_L3,            /* truncated or malformed IPv4/IPv6 header */
	US_ST_BAD_L4,            /* truncated UDP header or length mismatch */
	US_ST_FRAGMENT,          /* IP fragment of service traffic */
	US_ST_OVERSIZE,          /* SIP datagram larger than US_SIP_MAX */
	US_ST_NOT_SIP,           /* payload is not a SIP message */
	US_ST_BAD_START,         /* bad request or status line */
	US_ST_NO_VIA,            /* request without Via */
	US_ST_NO_CALLID,         /* message without Call-ID, or Call-ID empty/too long */
	US_ST_NO_CSEQ,           /* missing or malformed CSeq */
	US_ST_TRUNC_HDRS,        /* header section not terminated by an empty line */
	US_ST_TRUNC_BODY,        /* body shorter than Content-Length */
	US_ST_NO_MACHINE,        /* the service has no active machine */
	US_ST_NO_ROUTE,          /* FIB/neighbour lookup towards the next hop failed */
	US_ST_MIRROR_SKIPPED,    /* mirror chosen but impossible (no route/group) */
	US_ST_EVENTS,            /* difference events written to the ring buffer */
	US_ST_EVENTS_LIMITED,    /* difference events suppressed by the rate limit */
	US_ST_EVENTS_LOST,       /* ring buffer full */
	US_ST_MAX,
};

/* Per-machine counters, flags in us_txn.done. */
#define US_TXN_ACTIVE_FINAL 1u
#define US_TXN_SIM_FINAL    2u

/* ---- map keys and values ----------------------------------------------- */

/* us_services key: VIP (IPv4 as ::ffff:a.b.c.d), port, protocol. */
struct us_svc_key {
	__u8  addr[16];
	__be16 port;
	__u8  proto;     /* IPPROTO_UDP */
	__u8  pad;
};
_Static_assert(sizeof(struct us_svc_key) == 20, "us_svc_key size");

struct us_svc {
	__u32 id;           /* 0 .. US_MAX_SERVICES-1: index of its tables */
	__u16 share_bp;     /* mirrored share of calls, basis points 0..10000 */
	__u8  active_gen;   /* generation of the active-pool table in use */
	__u8  sim_gen;      /* generation of the simulation-pool table in use */
	__u32 flags;        /* reserved, 0 */
	__u32 pad;
};
_Static_assert(sizeof(struct us_svc) == 16, "us_svc size");

/* us_machines value, indexed by machine id. */
struct us_machine {
	__u8  addr[16];     /* machine's own address (IPv4 as ::ffff:a.b.c.d) */
	__u32 svc_id;
	__u8  state;        /* enum us_mstate */
	__u8  family;       /* AF_INET or AF_INET6 */
	__u16 weight;
};
_Static_assert(sizeof(struct us_machine) == 24, "us_machine size");

/* us_macs key: a machine's MAC on the balancer interface it sits behind. */
struct us_mac_key {
	__u32 ifindex;
	__u8  mac[6];
	__u16 pad;
};
_Static_assert(sizeof(struct us_mac_key) == 12, "us_mac_key size");

/* us_calls: dialog affinity, Call-ID hash -> machines. */
struct us_call_key {
	__u64 callid_hash;
	__u32 svc_id;
	__u32 pad;
};
_Static_assert(sizeof(struct us_call_key) == 16, "us_call_key size");

struct us_call {
	__u32 active_mid;
	__u32 sim_mid;      /* US_MID_NONE when the call is not mirrored */
	__u64 created_ns;
};
_Static_assert(sizeof(struct us_call) == 16, "us_call size");

/* us_txns: a transaction (RFC 3261 17.1.3): top Via branch + CSeq method,
 * qualified by Call-ID and CSeq number so branch-less RFC 2543 peers and
 * hash collisions stay apart. */
struct us_txn_key {
	__u64 branch_hash;
	__u64 callid_hash;
	__u32 cseq;
	__u32 svc_id;
	__u8  method;       /* enum us_method of CSeq */
	__u8  pad[7];
};
_Static_assert(sizeof(struct us_txn_key) == 32, "us_txn_key size");

struct us_txn {
	__u64 start_ns;     /* first sighting of the request; never reset */
	__u64 active_lat_ns;
	__u64 sim_lat_ns;
	__u32 active_mid;
	__u32 sim_mid;      /* US_MID_NONE when not mirrored */
	__u32 done;         /* US_TXN_*_FINAL bits, set atomically */
	__u16 active_code;  /* first final status code, 0 until then */
	__u16 sim_code;
	__u8  method;
	__u8  callid_len;   /* bytes valid in callid[] */
	__u8  pad[6];
	char  callid[US_CALLID_COPY];
};
_Static_assert(sizeof(struct us_txn) == 112, "us_txn size");

/* us_mstats: per machine, per CPU. */
struct us_mstats {
	__u64 req[US_M_MAX];          /* requests sent to it, first sightings, by method */
	__u64 retrans_req;            /* request retransmissions sent to it */
	__u64 resp_class[8];          /* response messages by class, index 1..6 */
	__u64 final_class[8];         /* first final response per transaction, by class 2..6 */
	__u64 final_code[US_C_MAX];   /* ... by key code */
	__u64 retrans_resp;           /* retransmitted final responses */
	__u64 lat_count;              /* finals with a known start */
	__u64 lat_sum_ns;
	__u64 lat_hist[US_LAT_BUCKETS];
	/* pairing, counted on the simulation machine */
	__u64 paired;                 /* mirrored transactions with both finals */
	__u64 agree_class;
	__u64 differ_class;
	__u64 agree_code;
	__u64 differ_code;
	__u64 pair_sim_err_only;      /* pairs where only the simulation's final is 5xx/6xx */
	__u64 pair_active_err_only;   /* pairs where only the active machine's is */
	__u64 pair_both_err;          /* pairs where both are */
	__u64 dropped;                /* its messages or stray packets dropped */
};

/* us_cfg: one entry of run-time settings. */
struct us_cfg {
	__u32 event_rate;   /* difference events per second per CPU; 0 = none */
	__u32 event_burst;  /* bucket depth */
};
_Static_assert(sizeof(struct us_cfg) == 8, "us_cfg size");

/* us_evrate: per-CPU token bucket for difference events. */
struct us_bucket {
	__u64 last_ns;
	__u64 tokens_milli; /* tokens x 1000 */
};

/* Difference event, ring buffer us_events. */
enum us_event_kind {
	US_EV_DIFF_CODE  = 1,  /* same class, different code */
	US_EV_DIFF_CLASS = 2,  /* different class */
};

struct us_event {
	__u64 ts_ns;
	__u64 active_lat_ns;
	__u64 sim_lat_ns;
	__u32 svc_id;
	__u32 active_mid;
	__u32 sim_mid;
	__u16 active_code;
	__u16 sim_code;
	__u8  kind;         /* enum us_event_kind */
	__u8  method;
	__u8  callid_len;
	__u8  pad[5];
	char  callid[US_CALLID_COPY];
};
_Static_assert(sizeof(struct us_event) == 112, "us_event size");

/* us_groups key: where a mirrored call's two copies leave. */
struct us_group_key {
	__u32 active_ifindex;
	__u32 sim_ifindex;
};

/* XDP metadata carried from the client program to the devmap egress
 * program in both broadcast copies (at most 32 bytes). */
struct us_meta {
	__u8  active_dmac[6];
	__u8  active_smac[6];
	__u8  sim_dmac[6];
	__u8  sim_smac[6];
	__u32 active_ifindex;
	__u32 seq;          /* per-CPU mirror sequence; US_META_SHARED set when
	                     * both copies leave by the same interface */
};
_Static_assert(sizeof(struct us_meta) == 32, "us_meta size");
#define US_META_SHARED 0x80000000u

/* Latency bucket of a value in nanoseconds. */
static inline __u32 us_lat_bucket(__u64 ns)
{
	__u32 msb = 0;
	__u64 v = ns;

	if (ns < (1ull << US_LAT_MIN_SHIFT))
		return 0;
	if (v >> 32) { msb += 32; v >>= 32; }
	if (v >> 16) { msb += 16; v >>= 16; }
	if (v >> 8)  { msb += 8;  v >>= 8; }
	if (v >> 4)  { msb += 4;  v >>= 4; }
	if (v >> 2)  { msb += 2;  v >>= 2; }
	if (v >> 1)  { msb += 1; }
	if (msb > US_LAT_MAX_SHIFT)
		return US_LAT_BUCKETS - 1;
	return ((msb - US_LAT_MIN_SHIFT) << US_LAT_SUB_BITS) |
	       (__u32)((ns >> (msb - US_LAT_SUB_BITS)) & ((1u << US_LAT_SUB_BITS) - 1));
}

/* Lower bound, in ns, of a latency bucket (bucket 0 starts at 0). */
static inline __u64 us_lat_bucket_lo(__u32 b)
{
	__u32 msb = US_LAT_MIN_SHIFT + (b >> US_LAT_SUB_BITS);
	__u64 sub = b & ((1u << US_LAT_SUB_BITS) - 1);

	if (b == 0)
		return 0;
	return (1ull << msb) + (sub << (msb - US_LAT_SUB_BITS));
}

/* Index of a status code in us_mstats.final_code. */
static inline __u32 us_code_index(__u32 code)
{
	switch (code) {
	case 200: return US_C_200;
	case 408: return US_C_408;
	case 480: return US_C_480;
	case 486: return US_C_486;
	case 487: return US_C_487;
	case 500: return US_C_500;
	case 503: return US_C_503;
	case 504: return US_C_504;
	default:  return US_C_OTHER;
	}
}

/* Hashing of Call-ID and Via branch, the same on both sides so user space
 * can predict placement: the string is taken 8 bytes at a time as
 * little-endian words (the last one zero-padded), each mixed in by a
 * multiply-xorshift, then the length and a final avalanche. */
#define US_FNV_OFFSET 0xcbf29ce484222325ull
#define US_FNV_PRIME  0x100000001b3ull
#define US_HASH_MUL   0x9e3779b97f4a7c15ull

static inline __u64 us_hash_step(__u64 h, __u8 c)
{
	return (h ^ c) * US_FNV_PRIME;
}

static inline __u64 us_hash_final(__u64 h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ull;
	h ^= h >> 33;
	return h;
}

static inline __u64 us_hash_word(__u64 h, __u64 w)
{
	h = (h ^ w) * US_HASH_MUL;
	return h ^ (h >> 29);
}

static inline __u64 us_hash_end(__u64 h, __u32 len)
{
	return us_hash_final(h ^ len);
}

#ifndef __bpf__
/* User space: the hash the data plane computes for a Call-ID or branch
 * (little-endian hosts). */
static inline __u64 us_hash_bytes(const void *p, __u32 n)
{
	const __u8 *b = (const __u8 *)p;
	__u64 h = US_FNV_OFFSET;
	__u32 i;

	for (i = 0; i < n; i += 8) {
		__u64 w = 0;
		__u32 k;

		for (k = 0; k < 8 && i + k < n; k++)
			w |= (__u64)b[i + k] << (8 * k);
		h = us_hash_word(h, w);
	}
	return us_hash_end(h, n);
}
#endif

/* Mirror decision and table slot both come from the Call-ID hash, from
 * independent bits. */
static inline __u32 us_share_point(__u64 callid_hash)
{
	return (__u32)((callid_hash >> 32) % US_SHARE_MAX);
}

static inline __u32 us_maglev_slot(__u64 callid_hash)
{
	return (__u32)((callid_hash & 0xffffffffu) % US_MAGLEV_SIZE);
}

static inline __u32 us_sim_slot(__u64 callid_hash)
{
	return (__u32)(((callid_hash >> 16) ^ (callid_hash >> 40)) % US_MAGLEV_SIZE);
}

static inline __u32 us_maglev_index(__u32 svc_id, __u32 pool, __u32 gen, __u32 slot)
{
	return ((svc_id * US_POOLS + pool) * US_GENS + gen) * US_MAGLEV_SIZE + slot;
}

#endif /* UNDERSTUDY_H */
