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
#include <linux/bpf.h>     /* struct bpf_timer */

/* ---- sizes ------------------------------------------------------------ */

#define US_MAX_SERVICES   32      /* services (VIP + port) per balancer host */
#define US_MAX_MACHINES   256     /* machine ids are 0 .. US_MAX_MACHINES-1 */
#define US_MAGLEV_SIZE    8191    /* prime; slots per Maglev table */
#define US_POOLS          3       /* US_POOL_ACTIVE, US_POOL_SIM, US_POOL_CTL */
#define US_GENS           2       /* two generations per table: flip, never half-written */
#define US_MAGLEV_ENTRIES (US_MAX_SERVICES * US_POOLS * US_GENS * US_MAGLEV_SIZE)
#define US_MAX_GROUPS     256     /* mirror groups: (active, sim[, control]) interfaces */
#define US_CALLS_DEFAULT  262144  /* dialog-affinity LRU entries */
#define US_TXNS_DEFAULT   131072  /* pending-transaction LRU entries */
#define US_DLGS_DEFAULT   65536   /* dialog records of mirrored calls (LRU) */
#define US_CODEPAIRS      4096    /* distinct (machine, active code, shadow code) pairs */
#define US_TAG_MAX        64      /* longest To-tag translated */
#define US_TAGS           2       /* early dialogs (To-tags) per call and machine */
#define US_PLANS          256     /* per-CPU rewrite plans in flight (> a NAPI batch) */
#define US_SEGS           16      /* segments of a built message */
#define US_LIT_MAX        128     /* literal bytes of a rewritten copy */
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
	US_POOL_CTL    = 2,   /* control machines: version 1, receiving the mirrored calls too */
};

/* The machines a mirrored call is copied to besides its active machine:
 * the simulation machine (the candidate) and, when the service has one,
 * a control machine (same version as the active, for the noise floor). */
enum us_shadow {
	US_SH_SIM = 0,
	US_SH_CTL = 1,
	US_SHADOWS,
};

/* A machine's state, as the data plane acts on it. */
enum us_mstate {
	US_MS_UNUSED     = 0, /* slot free */
	US_MS_ACTIVE     = 1, /* takes new calls */
	US_MS_SIMULATION = 2, /* receives mirrored calls; its output never reaches a caller */
	US_MS_DRAINING   = 3, /* no new calls; calls in progress finish */
	US_MS_REJECTED   = 4, /* no traffic at all; its output is dropped */
	US_MS_REMOVED    = 5, /* gone; calls pinned to it are re-balanced */
	US_MS_CONTROL    = 6, /* receives the mirrored calls as a simulation machine does, to
	                       * measure how often two machines of the active version differ */
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
	/* dialog translation (mirrored calls) */
	US_ST_DLG_REWRITTEN,     /* in-dialog request's copy rewritten to the shadow's dialog */
	US_ST_DLG_HELD,          /* copy held back: the shadow has no dialog to name yet */
	US_ST_DLG_NOT_SENT,      /* copy not sent: the shadow's dialog failed or ended */
	US_ST_DLG_ACK_SENT,      /* ACK sent to a shadow on the caller's behalf */
	US_ST_DLG_ANSWERED,      /* shadow's own request answered on the caller's behalf */
	US_ST_DLG_ABSORBED,      /* shadow's ACK to such an answer, absorbed */
	US_ST_DLG_NO_RECORD,     /* mirrored call without a dialog record (evicted): copy not sent */
	US_ST_DLG_TAG_LONG,      /* a To-tag longer than US_TAG_MAX, or more than US_TAGS of them */
	US_ST_DLG_BUILD_FAIL,    /* a message could not be rewritten or built (dropped) */
	US_ST_CLIENT_RESP,       /* caller's response to an active machine's own request */
	US_ST_OVERDUE,           /* pairs closed unanswered by their deadline */
	US_ST_COPY_NO_PLAN,      /* a mirrored copy whose plan is gone (overwritten): dropped */
	US_ST_MAX,
};


/* One side's outcome of a pair (us_mstats.pair_out); the order is part of
 * the evidence format (userspace/evidence.h). */
enum us_outcome {
	US_O_2XX = 0,   /* success */
	US_O_3XX,       /* redirection */
	US_O_4XX,       /* client error: busy, not found, cancelled... */
	US_O_ERR,       /* 5xx or 6xx: the machine failed the request */
	US_O_NONE,      /* unanswered by the deadline */
	US_O_MAX,
};

/* Requests a machine starts itself in a call (its own BYE, re-INVITE...). */
enum us_own {
	US_OWN_BYE = 0,
	US_OWN_INVITE,  /* re-INVITE */
	US_OWN_UPDATE,
	US_OWN_OTHER,   /* INFO, NOTIFY, OPTIONS, REFER, MESSAGE, PRACK, ... */
	US_OWN_MAX,
};

static inline __u32 us_own_kind(__u32 method)
{
	switch (method) {
	case US_M_BYE:    return US_OWN_BYE;
	case US_M_INVITE: return US_OWN_INVITE;
	case US_M_UPDATE: return US_OWN_UPDATE;
	default:          return US_OWN_OTHER;
	}
}

static inline __u32 us_outcome(__u32 code)
{
	if (code >= 500)
		return US_O_ERR;
	if (code >= 400)
		return US_O_4XX;
	if (code >= 300)
		return US_O_3XX;
	if (code >= 200)
		return US_O_2XX;
	return US_O_NONE;
}

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
	__u32 due_floor_ms; /* a pair's silent side is overdue after max(floor, */
	__u16 due_mult;     /* due_mult x the first answer's latency), at most */
	__u8  ctl_gen;      /* US_DUE_MAX_MS (0, 0: US_DUE_FLOOR_MS, US_DUE_MULT); */
	__u8  pad;          /* generation of the control-pool table in use */
};
#define US_DUE_FLOOR_MS  2000u
#define US_DUE_MULT      8u
#define US_DUE_MAX_MS    32000u   /* RFC 3261 timer F: 64 x T1 */
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
	__u32 ctl_mid;      /* control machine, US_MID_NONE if none */
	__u32 pad;
	__u64 created_ns;
};
_Static_assert(sizeof(struct us_call) == 24, "us_call size");

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

/* A transaction's sides: the active machine, then the shadows (enum us_shadow
 * + 1). */
#define US_SIDE_ACTIVE 0
#define US_SIDES       (1 + US_SHADOWS)

struct us_txn {
	__u64 start_ns;     /* first sighting of the request; never reset */
	__u64 lat_ns[US_SIDES];  /* first final's latency, per side */
	__u32 mid[US_SIDES];     /* machine per side; US_MID_NONE: not mirrored there */
	__u32 done;         /* US_TXN_* bits, set atomically */
	__u16 code[US_SIDES];    /* first final status code, 0 until then */
	__u8  method;       /* enum us_method */
	__u8  pad;
	struct bpf_timer due;    /* the deadline of a pair's silent side */
};
_Static_assert(sizeof(struct us_txn) == 72, "us_txn size");

/* us_txn.done bits per side s (0: active, 1 + enum us_shadow) */
#define US_TXN_FINAL(s)  (1u << (s))          /* its first final is in */
#define US_TXN_LATE(s)   (1u << (4 + (s)))    /* it was overdue: pairs closed without it */
#define US_TXN_PAIRED(s) (1u << (8 + (s)))    /* shadow s's pair with the active is counted */
#define US_TXN_ARMED     (1u << 12)           /* the deadline timer is set */

/* Pairs of a shadow machine's and the active machine's finals on the same
 * mirrored transactions. */
struct us_pairstats {
	__u64 out[US_O_MAX][US_O_MAX];    /* [active outcome][shadow outcome] */
	__u64 code_same;                  /* answered pairs with equal exact codes */
	__u64 calls;                      /* mirrored calls with at least one pair */
	__u64 calls_fail_active;          /* ... in which the active failed (error or */
	__u64 calls_fail_shadow;          /* unanswered) at least once; the shadow; */
	__u64 calls_fail_both;            /* both */
};

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
	__u64 dropped;                /* its messages or stray packets dropped */
	__u64 final_no_txn;           /* finals to a transaction not (or no longer) known */
	/* as a shadow machine (simulation or control): its pairs with the
	 * active machine, on the calls mirrored to it (userspace/evidence.h) */
	struct us_pairstats pair;
	/* as a simulation machine: the control machine's pairs with the
	 * active machine on the calls mirrored to both */
	struct us_pairstats ctl;
	/* pairs both sides answered: the two latencies */
	__u64 pair_lat_active[US_LAT_BUCKETS];
	__u64 pair_lat_shadow[US_LAT_BUCKETS];
	__u64 late;                   /* its finals after its pair closed without it */
	__u64 overdue;                /* mirrored transactions it left unanswered past the
	                               * deadline (its pairs closed without it) */
	/* requests started by a machine itself, on the calls mirrored to it */
	__u64 own[US_OWN_MAX];        /* by it, first sightings, by kind */
	__u64 own_active[US_OWN_MAX]; /* by the active machine */
	__u64 own_both[US_OWN_MAX];   /* matched: the n-th of a kind on both sides */
	__u64 own_retrans;            /* its retransmissions of them */
	/* dialog translation towards it */
	__u64 dlg_rewritten;          /* copies rewritten to name its dialog */
	__u64 dlg_held;               /* copies held back: no dialog of its to name yet */
	__u64 dlg_not_sent;           /* copies not sent: its dialog failed or ended */
	__u64 dlg_acks;               /* ACKs sent to it on the caller's behalf */
	__u64 dlg_answered;           /* its requests answered on the caller's behalf */
};

/*
 * us_dlgs: the dialog record of a mirrored call (key: struct us_call_key).
 * What each side chose for the dialog, so that the requests copied to a
 * shadow machine name its own dialog, and what each machine started itself.
 */
struct us_dtag {
	__u8  len;          /* bytes in tag[]; 0: not known yet */
	__u8  pad[7];
	char  tag[US_TAG_MAX];
};

/* us_dside.state */
enum us_dstate {
	US_DS_NONE = 0,     /* no final answer to the call's INVITE yet */
	US_DS_CONFIRMED,    /* answered it 2xx: a dialog */
	US_DS_FAILED,       /* answered it with an error: no dialog */
	US_DS_ENDED,        /* the dialog ended (BYE) */
};

/* us_dside.flags and us_dlg.flags (set atomically) */
#define US_DF_RSEQ       0x01u   /* rseq0 known */
#define US_DF_OWN        0x02u   /* own_cseq valid */
#define US_DF_COUNTED    0x04u   /* the call is counted in the pair statistics */
#define US_DF_FAIL_ACT   0x08u   /* the active machine failed in this call (pair stats) */
#define US_DF_FAIL_SH    0x10u   /* the shadow failed in this call */
#define US_DF_BOTH       0x20u   /* counted in calls_fail_both */
#define US_DF_CTL_COUNTED  0x40u /* the same three for the control's pairs, counted */
#define US_DF_CTL_FAIL_ACT 0x80u /* on the simulation machine */
#define US_DF_CTL_FAIL_SH  0x100u
#define US_DF_CTL_BOTH     0x200u
#define US_DF_FIN          0x400u /* fin_cseq is valid */

/*
 * What the caller did that a shadow has not seen yet, and what the shadow
 * answered, as the two CPUs that may handle them at once see it: each side
 * stores its fact with an atomic exchange (a full barrier) and then reads
 * the other's; at least one of them acts (at worst both: a duplicate ACK,
 * which a UAS absorbs).
 */
struct us_dside {
	struct us_dtag t[US_TAGS];   /* its To-tags, index k standing for the active's k-th */
	__u32 flags;        /* US_DF_* */
	__u32 rseq0;        /* its first RSeq (reliable provisional responses) */
	__u32 fin_cseq;     /* the last INVITE it answered finally (US_DF_FIN: valid) */
	__u32 ack_cseq;     /* the last INVITE whose 2xx the caller ACKed: its 2xx gets an ACK */
	__u32 bye_cseq;     /* the caller hung up (BYE, this CSeq) before its dialog was
	                     * confirmed: it gets the BYE instead of the ACK; 0 none */
	__u32 prack_cseq;   /* the caller PRACKed before its reliable provisional came:
	                     * the PRACK's CSeq (it is sent one built from that 1xx); 0 none */
	__u32 own_cseq;     /* highest CSeq of the requests it started */
	__u16 fin_code;     /* ... its code */
	__u16 inv_code;     /* its final answer to the call's first INVITE */
	__u8  state;        /* enum us_dstate */
	__u8  own_n[US_OWN_MAX];  /* requests it started, by kind (saturating) */
	__u8  pad[3];
};

struct us_dlg {
	__u32 mid[US_SIDES];     /* as in the call and its transactions */
	__u32 flags;             /* US_DF_RSEQ, US_DF_OWN for the active machine */
	__u64 atag[US_TAGS];     /* hashes of the active machine's To-tags, in order; 0: none */
	__u32 rseq0;             /* the active machine's first RSeq */
	__u32 own_cseq;          /* highest CSeq of the requests the active machine started */
	__u32 inv0_cseq;         /* CSeq of the call's first INVITE */
	__u32 act_inv_cseq;      /* the last INVITE the active machine answered finally */
	__u16 act_inv_code;      /* ... its code */
	__u16 answer[US_OWN_MAX];/* the caller's final answer to the active machine's
	                          * last own request of each kind; 0: none yet */
	__u8  own_n[US_OWN_MAX]; /* requests the active machine started, by kind */
	__u8  callid_len;
	__u8  pad[1];
	char  callid[US_CALLID_COPY];
	struct us_dside side[US_SHADOWS];
};

/* us_codes key: exact codes that differed in a pair, per shadow machine
 * (value: a per-CPU count). */
struct us_codepair_key {
	__u32 mid;
	__u16 active;       /* status code, or 0: unanswered */
	__u16 shadow;
};
_Static_assert(sizeof(struct us_codepair_key) == 8, "us_codepair_key size");

/*
 * A mirrored message leaves as one copy per group entry: the active
 * machine's, then the simulation machine's, then the control machine's.
 * The client program writes a plan per copy into a per-CPU slot (us_plans,
 * indexed by the mirror sequence number); the egress program tells its copy
 * apart (by interface, and by order among the copies on one interface),
 * sets its MACs and, for a shadow, applies the edit: the new payload is the
 * concatenation of segments, each a span of the original payload or of the
 * copy's literal bytes.
 */
#define US_SEG_LIT 0x8000u       /* us_seg.off: the span is in the literal bytes */

struct us_seg {
	__u16 off;
	__u16 len;
};

struct us_lit {
	char b[US_LIT_MAX + 8];         /* + 8: whole-word reads at any offset */
};

/* A message to build: its segments, in order, and the literal bytes they
 * may refer to. */
struct us_edit {
	struct us_seg seg[US_SEGS];
	__u32 nseg;
	__u32 pad;
	struct us_lit lit;
};

enum us_copy_mode {
	US_CP_AS_IS = 0,    /* send unchanged */
	US_CP_EDIT,         /* rebuild the payload from the segments */
	US_CP_DROP,         /* not this one */
};

struct us_copy {
	__u32 ifindex;      /* where it leaves */
	__u8  dmac[6];
	__u8  smac[6];
	__u8  mode;         /* enum us_copy_mode */
	__u8  pad;
	__u16 len;          /* payload length after the edit */
	__u32 pad2;
	struct us_edit e;   /* US_CP_EDIT: the new payload */
};
_Static_assert(sizeof(struct us_copy) % 8 == 0, "us_copy size");

struct us_plan {
	__u32 seq;          /* the mirror sequence number it belongs to */
	__u8  ncopies;      /* 2 or 3 */
	__u8  family;       /* AF_INET, AF_INET6 */
	__u16 l3_off;       /* offsets in the frame: IP header, UDP header, payload */
	__u16 l4_off;
	__u16 payload_off;
	__u16 payload_len;
	__u16 pad;
	struct us_copy c[US_SIDES];      /* group entry order: active, sim, control */
};
_Static_assert(sizeof(struct us_plan) % 8 == 0, "us_plan size: per-CPU values are 8-aligned");

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
	__u32 ctl_ifindex;  /* 0: no control machine (a group of two) */
};

/* XDP metadata carried from the client program to the devmap egress
 * program in every broadcast copy: which plan (us_plans) it belongs to. */
struct us_meta {
	__u32 seq;          /* per-CPU mirror sequence number */
	__u32 flags;        /* US_META_MAGIC, and US_META_SHARED: some copies leave
	                     * by one interface */
};
_Static_assert(sizeof(struct us_meta) == 8, "us_meta size");
#define US_META_SHARED 1u
#define US_META_MAGIC  0x75730000u    /* "us": metadata of ours */
#define US_META_MAGIC_MASK 0xffff0000u

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

static inline __u32 us_ctl_slot(__u64 callid_hash)
{
	return (__u32)(((callid_hash >> 8) ^ (callid_hash >> 48)) % US_MAGLEV_SIZE);
}

static inline __u32 us_maglev_index(__u32 svc_id, __u32 pool, __u32 gen, __u32 slot)
{
	return ((svc_id * US_POOLS + pool) * US_GENS + gen) * US_MAGLEV_SIZE + slot;
}

#endif /* UNDERSTUDY_H */
