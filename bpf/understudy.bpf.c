// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * understudy data plane.
 *
 *   us_client   XDP on the interface clients reach the VIPs by: SIP-aware
 *               sticky balancing, whole-call mirroring, transaction starts.
 *   us_machine  XDP on the interface(s) the machines sit behind: responses,
 *               latency, pairing; active output to the client, simulation
 *               output dropped.
 *   us_egress   devmap egress program: the L2 rewrite of each mirrored copy.
 */
#include "maps.bpf.h"
#include "parse.bpf.h"
#include "sip.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

static __always_inline struct us_svc *us_lookup_svc(const __u8 *addr, __be16 port)
{
	__u16 p = bpf_ntohs(port);
	__u32 word = p >> 6;
	__u64 *bits = bpf_map_lookup_elem(&us_ports, &word);
	struct us_svc_key k;

	if (!bits || !(*bits & (1ull << (p & 63))))
		return NULL;
	us_copy16(k.addr, addr);
	k.port = port;
	k.proto = IPPROTO_UDP;
	k.pad = 0;
	return bpf_map_lookup_elem(&us_services, &k);
}

static __always_inline struct us_mstats *us_mst(__u32 mid)
{
	return bpf_map_lookup_elem(&us_mstats, &mid);
}

static __always_inline struct us_machine *us_machine_get(__u32 mid)
{
	return bpf_map_lookup_elem(&us_machines, &mid);
}

static __always_inline __u32 us_table(__u32 svc_id, __u32 pool, __u32 gen, __u32 slot)
{
	__u32 idx = us_maglev_index(svc_id, pool, gen & 1, slot);
	__u32 *mid;

	if (svc_id >= US_MAX_SERVICES)
		return US_MID_NONE;
	mid = bpf_map_lookup_elem(&us_maglev, &idx);
	return mid ? *mid : US_MID_NONE;
}

static __always_inline int us_fib(struct xdp_md *ctx, __u8 family, const __u8 *src,
				  const __u8 *dst, __u32 ip_len, struct bpf_fib_lookup *p)
{
	__builtin_memset(p, 0, sizeof(*p));
	p->family = family;
	p->ifindex = ctx->ingress_ifindex;
	p->l4_protocol = IPPROTO_UDP;
	p->tot_len = ip_len;
	if (family == AF_INET) {
		p->ipv4_src = *(const __be32 *)(src + 12);
		p->ipv4_dst = *(const __be32 *)(dst + 12);
	} else {
		us_copy16((__u8 *)p->ipv6_src, src);
		us_copy16((__u8 *)p->ipv6_dst, dst);
	}
	return bpf_fib_lookup(ctx, p, sizeof(*p), 0);
}

static __always_inline void us_set_macs(struct ethhdr *eth, const __u8 *dmac, const __u8 *smac)
{
	__builtin_memcpy(eth->h_dest, dmac, ETH_ALEN);
	__builtin_memcpy(eth->h_source, smac, ETH_ALEN);
}

/* Copy the UDP payload into the per-CPU scratch buffer. */
static __always_inline struct us_scratch *us_load(struct xdp_md *ctx, const struct us_pkt *pkt)
{
	__u32 zero = 0, len = pkt->payload_len;
	struct us_scratch *s = bpf_map_lookup_elem(&us_scratch, &zero);

	if (!s || len == 0 || len > US_SIP_MAX)
		return NULL;
	if (bpf_xdp_load_bytes(ctx, pkt->payload_off, s->b, len))
		return NULL;
	*(us_u64u *)&s->b[us_mask(len)] = 0;   /* sentinel after the message */
	return s;
}

/* ---- client side ------------------------------------------------------ */

static __always_inline int us_machine_takes_calls(__u32 mid, int new_call)
{
	struct us_machine *m = us_machine_get(mid);

	if (!m)
		return 0;
	return m->state == US_MS_ACTIVE || (!new_call && m->state == US_MS_DRAINING);
}

/* Is mac, behind ifindex, known as machine mid? A simulation machine's
 * answers are recognised (and dropped) by its MAC: until the machine side
 * knows it, nothing is mirrored to it, or its answers would reach callers. */
static __always_inline int us_mac_is(__u32 ifindex, const __u8 *mac, __u32 mid)
{
	struct us_mac_key k = { .ifindex = ifindex };
	__u32 *m;

	__builtin_memcpy(k.mac, mac, ETH_ALEN);
	m = bpf_map_lookup_elem(&us_macs, &k);
	return m && *m == mid;
}

/* A request sent to machine mid: first sightings by method, or a
 * retransmission. Responses from clients are not counted here. */
static __always_inline void us_count_request(__u32 mid, const struct us_sip *m, int retrans)
{
	struct us_mstats *st = us_mst(mid);

	if (!st || m->status)
		return;
	if (retrans)
		st->retrans_req++;
	else
		st->req[m->method < US_M_MAX ? m->method : 0]++;
}

static __always_inline int us_client_sip(struct xdp_md *ctx, struct us_pkt *pkt,
					 const struct us_svc *svc)
{
	struct bpf_fib_lookup fa, fs;
	struct us_call_key ck;
	struct us_call *call, nc;
	struct us_machine *am, *sm;
	struct us_scratch *s;
	struct us_sip m = {};
	struct us_group_key gk;
	void *group = NULL;
	__u32 active = US_MID_NONE, sim = US_MID_NONE, svc_id = svc->id, *seqp = NULL;
	int rc, update_call = 0, retrans = 0, want_txn;
	__u64 now = 0;

	if (pkt->payload_len > US_SIP_MAX) {
		us_count(US_ST_OVERSIZE);
		return XDP_DROP;
	}
	s = us_load(ctx, pkt);
	if (!s) {
		us_count(US_ST_NOT_SIP);
		return XDP_DROP;
	}
	rc = us_sip_parse(s, pkt->payload_len, &m);
	if (rc) {
		us_count(rc < US_ST_MAX ? rc : US_ST_NOT_SIP);
		return XDP_DROP;
	}

	/* sticky: a known call stays where it is */
	ck.callid_hash = m.callid_hash;
	ck.svc_id = svc_id;
	ck.pad = 0;
	call = bpf_map_lookup_elem(&us_calls, &ck);
	if (call) {
		active = call->active_mid;
		sim = call->sim_mid;
		if (!us_machine_takes_calls(active, 0)) {
			active = US_MID_NONE;    /* its machine is gone: re-balance */
			update_call = 1;
		}
	} else {
		update_call = 1;
		if (svc->share_bp && us_share_point(m.callid_hash) < svc->share_bp)
			sim = us_table(svc_id, US_POOL_SIM, svc->sim_gen, us_sim_slot(m.callid_hash));
	}
	if (active == US_MID_NONE) {
		active = us_table(svc_id, US_POOL_ACTIVE, svc->active_gen,
				  us_maglev_slot(m.callid_hash));
		if (active == US_MID_NONE || !us_machine_takes_calls(active, 1)) {
			us_count(US_ST_NO_MACHINE);
			return XDP_DROP;
		}
	}
	am = us_machine_get(active);
	if (!am)
		return XDP_DROP;
	if (us_fib(ctx, pkt->family, pkt->saddr, am->addr, pkt->ip_len, &fa) !=
	    BPF_FIB_LKUP_RET_SUCCESS) {
		us_count(US_ST_NO_ROUTE);
		return XDP_DROP;        /* nothing recorded: a retransmission starts afresh */
	}

	/* Settle the mirror before anything is recorded: only to a machine
	 * still in simulation, only a frame the devmap can clone (one buffer),
	 * only when the copy has a route and a group. A new call whose first
	 * message cannot be mirrored is recorded as not mirrored: whole calls
	 * or nothing. */
	if (sim != US_MID_NONE) {
		__u32 seqk = US_EGSEQ_NEXT;
		int metalen;

		sm = us_machine_get(sim);
		if (!sm || sm->state != US_MS_SIMULATION) {
			sim = US_MID_NONE;
		} else if ((long)ctx->data_end - (long)ctx->data < (long)bpf_xdp_get_buff_len(ctx) ||
			   us_fib(ctx, pkt->family, pkt->saddr, sm->addr, pkt->ip_len, &fs) !=
				   BPF_FIB_LKUP_RET_SUCCESS ||
			   !us_mac_is(fs.ifindex, fs.dmac, sim) ||
			   !(gk.active_ifindex = fa.ifindex, gk.sim_ifindex = fs.ifindex,
			     group = bpf_map_lookup_elem(&us_groups, &gk)) ||
			   !(seqp = bpf_map_lookup_elem(&us_egseq, &seqk))) {
			us_count(US_ST_MIRROR_SKIPPED);
			sim = US_MID_NONE;
		} else {
			/* room for the metadata; relative to what is there, so a
			 * repeated test run (which keeps the frame) asks for none */
			metalen = (long)ctx->data - (long)ctx->data_meta;
			if (bpf_xdp_adjust_meta(ctx, metalen - (int)sizeof(struct us_meta))) {
				us_count(US_ST_MIRROR_SKIPPED);
				sim = US_MID_NONE;
			}
		}
	}
	if (update_call) {
		nc.active_mid = active;
		nc.sim_mid = call ? call->sim_mid : sim;
		/* one clock read for the new call and its first transaction
		 * (kvm-clock reads are not cheap) */
		nc.created_ns = call ? call->created_ns : (now = bpf_ktime_get_ns());
		bpf_map_update_elem(&us_calls, &ck, &nc, BPF_ANY);
	}

	/* transaction start: first sighting only (ACK has no response) */
	want_txn = !m.status && m.method != US_M_ACK;
	if (want_txn) {
		struct us_txn_key tk = {
			.branch_hash = m.branch_hash,
			.callid_hash = m.callid_hash,
			.cseq = m.cseq,
			.svc_id = svc_id,
			.method = m.cseq_method,
		};
		struct us_txn *tv = &s->txn;

		/* No look-up first: a new transaction is the common case, and
		 * a look-up would walk the bucket twice for it. A retransmission
		 * fails the BPF_NOEXIST update instead (which on an LRU map takes
		 * and returns a free node: dearer, but rare). */
		__builtin_memset(tv, 0, sizeof(*tv));
		tv->start_ns = now ? now : bpf_ktime_get_ns();
		tv->active_mid = active;
		tv->sim_mid = sim;
		tv->method = m.method;
		if (sim != US_MID_NONE) {
			__u32 n = m.callid_len < US_CALLID_COPY ? m.callid_len : US_CALLID_COPY;
			__u64 *dst = (__u64 *)tv->callid;

			/* whole words, the bytes past the Call-ID zeroed: nothing
			 * of another message ends up in an event */
#pragma unroll
			for (int i = 0; i < US_CALLID_COPY / 8; i++) {
				__u64 w = us_w(s, m.callid_off + i * 8);

				if (n <= (__u32)i * 8)
					w = 0;
				else if (n < (__u32)(i + 1) * 8)
					w &= (1ull << ((n - i * 8) * 8)) - 1;
				dst[i] = w;
			}
			tv->callid_len = n;
		}
		if (bpf_map_update_elem(&us_txns, &tk, tv, BPF_NOEXIST))
			retrans = 1;
	}

	us_count_request(active, &m, retrans);
	if (retrans)
		us_count(US_ST_RETRANS_REQ);
	us_count(US_ST_REQ_FWD);

	if (sim != US_MID_NONE && group && seqp) {
		struct us_meta *md = (void *)(long)ctx->data_meta;

		if ((void *)(md + 1) > (void *)(long)ctx->data)
			return XDP_DROP;
		__builtin_memcpy(md->active_dmac, fa.dmac, ETH_ALEN);
		__builtin_memcpy(md->active_smac, fa.smac, ETH_ALEN);
		__builtin_memcpy(md->sim_dmac, fs.dmac, ETH_ALEN);
		__builtin_memcpy(md->sim_smac, fs.smac, ETH_ALEN);
		md->active_ifindex = fa.ifindex;
		*seqp = (*seqp + 1) & ~US_META_SHARED;
		md->seq = *seqp | (fa.ifindex == fs.ifindex ? US_META_SHARED : 0);
		us_count_request(sim, &m, retrans);
		us_count(US_ST_REQ_MIRRORED);
		return bpf_redirect_map(group, 0, BPF_F_BROADCAST | XDP_DROP);
	}

	{
		void *data = (void *)(long)ctx->data;
		void *data_end = (void *)(long)ctx->data_end;
		struct ethhdr *eth = data;

		if ((void *)(eth + 1) > data_end)
			return XDP_DROP;
		us_set_macs(eth, fa.dmac, fa.smac);
		return bpf_redirect(fa.ifindex, 0);
	}
}

SEC("xdp.frags")
int us_client(struct xdp_md *ctx)
{
	struct us_pkt pkt;
	struct us_svc *svc;
	int rc;

	__builtin_memset(&pkt, 0, sizeof(pkt));
	us_count(US_ST_RX);
	rc = us_parse(ctx, &pkt);
	if (rc == US_P_OTHER) {
		us_count(US_ST_PASS);
		return XDP_PASS;
	}
	if (rc == US_P_BAD_L2 || rc == US_P_BAD_L3) {
		/* not identifiable as service traffic: the kernel gets it as is */
		us_count(rc == US_P_BAD_L2 ? US_ST_BAD_L2 : US_ST_BAD_L3);
		return XDP_PASS;
	}
	svc = us_lookup_svc(pkt.daddr, pkt.dport);
	if (!svc) {
		us_count(rc == US_P_BAD_L4 ? US_ST_BAD_L4 : US_ST_PASS);
		return XDP_PASS;
	}
	if (rc == US_P_BAD_L4) {
		us_count(US_ST_BAD_L4);
		return XDP_DROP;
	}
	if (pkt.frag) {
		us_count(US_ST_FRAGMENT);
		return XDP_DROP;
	}
	return us_client_sip(ctx, &pkt, svc);
}

/* ---- devmap egress: one of the two copies of a mirrored message -------- */

SEC("xdp.frags/devmap")
int us_egress(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct us_meta *md = (void *)(long)ctx->data_meta;
	struct ethhdr *eth = data;
	int is_active;

	if ((void *)(md + 1) > data)
		return XDP_DROP;        /* only mirrored copies come this way */
	if ((void *)(eth + 1) > data_end)
		return XDP_DROP;
	if (md->seq & US_META_SHARED) {
		/* both copies leave by this interface, in order, on this CPU:
		 * the first of a sequence number is the active machine's */
		__u32 k = US_EGSEQ_LAST, *last = bpf_map_lookup_elem(&us_egseq, &k);

		if (!last)
			return XDP_DROP;
		is_active = *last != md->seq;
		*last = md->seq;
	} else {
		is_active = ctx->egress_ifindex == md->active_ifindex;
	}
	if (is_active)
		us_set_macs(eth, md->active_dmac, md->active_smac);
	else
		us_set_macs(eth, md->sim_dmac, md->sim_smac);
	return XDP_PASS;
}

/* ---- machine side ------------------------------------------------------ */

static __always_inline int us_take_token(void)
{
	__u32 zero = 0;
	struct us_cfg *cfg = bpf_map_lookup_elem(&us_cfg, &zero);
	struct us_bucket *b = bpf_map_lookup_elem(&us_evrate, &zero);
	__u64 now, el, cap;

	if (!cfg || !b || !cfg->event_rate)
		return 0;
	now = bpf_ktime_get_ns();
	el = now - b->last_ns;
	if (el > 10000000000ull)
		el = 10000000000ull;
	b->last_ns = now;
	cap = (__u64)(cfg->event_burst ? cfg->event_burst : 1) * 1000;
	b->tokens_milli += el * cfg->event_rate / 1000000;
	if (b->tokens_milli > cap)
		b->tokens_milli = cap;
	if (b->tokens_milli < 1000)
		return 0;
	b->tokens_milli -= 1000;
	return 1;
}

static __always_inline void us_pair(struct us_txn *t, __u32 svc_id)
{
	struct us_mstats *st = us_mst(t->sim_mid);
	__u16 ac = t->active_code, sc = t->sim_code;
	int same_class = ac / 100 == sc / 100, same_code = ac == sc;
	struct us_event *ev;

	if (st) {
		st->paired++;
		if (same_class)
			st->agree_class++;
		else
			st->differ_class++;
		if (same_code)
			st->agree_code++;
		else
			st->differ_code++;
		if (ac >= 500 && sc >= 500)
			st->pair_both_err++;
		else if (sc >= 500)
			st->pair_sim_err_only++;
		else if (ac >= 500)
			st->pair_active_err_only++;
	}
	if (same_code)
		return;
	if (!us_take_token()) {
		us_count(US_ST_EVENTS_LIMITED);
		return;
	}
	ev = bpf_ringbuf_reserve(&us_events, sizeof(*ev), 0);
	if (!ev) {
		us_count(US_ST_EVENTS_LOST);
		return;
	}
	ev->ts_ns = bpf_ktime_get_ns();
	ev->active_lat_ns = t->active_lat_ns;
	ev->sim_lat_ns = t->sim_lat_ns;
	ev->svc_id = svc_id;
	ev->active_mid = t->active_mid;
	ev->sim_mid = t->sim_mid;
	ev->active_code = ac;
	ev->sim_code = sc;
	ev->kind = same_class ? US_EV_DIFF_CODE : US_EV_DIFF_CLASS;
	ev->method = t->method;
	ev->callid_len = t->callid_len;
	__builtin_memset(ev->pad, 0, sizeof(ev->pad));
	__builtin_memcpy(ev->callid, t->callid, US_CALLID_COPY);
	bpf_ringbuf_submit(ev, 0);
	us_count(US_ST_EVENTS);
}

/* A response from machine mid: count it, time it, pair it. Returns 1 when
 * the transaction says the machine answered it as its simulation machine
 * (it was promoted since): that answer must not reach the caller either. */
static __always_inline int us_response(const struct us_sip *m, __u32 svc_id, __u32 mid, int is_sim)
{
	struct us_mstats *st = us_mst(mid);
	struct us_txn_key tk = {
		.branch_hash = m->branch_hash,
		.callid_hash = m->callid_hash,
		.cseq = m->cseq,
		.svc_id = svc_id,
		.method = m->cseq_method,
	};
	__u32 cls = m->status / 100, bit, old, bkt;
	struct us_txn *t;
	__u64 lat;

	if (!st)
		return 0;
	t = bpf_map_lookup_elem(&us_txns, &tk);
	if (t && !is_sim && t->sim_mid == mid && t->active_mid != mid)
		is_sim = 1;
	st->resp_class[cls & 7]++;
	if (m->status < 200)
		return is_sim;
	if (!t) {
		us_count(US_ST_RESP_NO_TXN);
		st->final_class[cls & 7]++;
		st->final_code[us_code_index(m->status)]++;
		return is_sim;
	}
	bit = is_sim ? US_TXN_SIM_FINAL : US_TXN_ACTIVE_FINAL;
	if (t->done & bit)
		goto retrans;
	lat = bpf_ktime_get_ns() - t->start_ns;
	if (is_sim) {
		t->sim_code = m->status;
		t->sim_lat_ns = lat;
	} else {
		t->active_code = m->status;
		t->active_lat_ns = lat;
	}
	old = __sync_fetch_and_or(&t->done, bit);
	if (old & bit)
		goto retrans;
	st->final_class[cls & 7]++;
	st->final_code[us_code_index(m->status)]++;
	st->lat_count++;
	st->lat_sum_ns += lat;
	bkt = us_lat_bucket(lat);
	if (bkt < US_LAT_BUCKETS)
		st->lat_hist[bkt]++;
	if (t->sim_mid != US_MID_NONE && (old | bit) == (US_TXN_ACTIVE_FINAL | US_TXN_SIM_FINAL))
		us_pair(t, svc_id);
	return is_sim;
retrans:
	st->retrans_resp++;
	us_count(US_ST_RETRANS_RESP);
	return is_sim;
}

/* Parse a machine's SIP message; 0 and m filled when it is a response. */
static __always_inline int us_machine_sip(struct xdp_md *ctx, const struct us_pkt *pkt,
					  struct us_sip *m)
{
	struct us_scratch *s;
	int rc;

	if (pkt->frag) {
		us_count(US_ST_FRAGMENT);
		return US_ST_FRAGMENT;
	}
	if (pkt->payload_len > US_SIP_MAX) {
		us_count(US_ST_OVERSIZE);
		return US_ST_OVERSIZE;
	}
	s = us_load(ctx, pkt);
	if (!s) {
		us_count(US_ST_NOT_SIP);
		return US_ST_NOT_SIP;
	}
	rc = us_sip_parse(s, pkt->payload_len, m);
	if (rc) {
		us_count(rc < US_ST_MAX ? rc : US_ST_NOT_SIP);
		return rc;
	}
	return 0;
}

SEC("xdp.frags")
int us_machine(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct us_mac_key mk;
	struct us_machine *mach;
	struct bpf_fib_lookup f;
	struct us_svc *svc = NULL;
	struct us_sip m = {};
	struct us_pkt pkt;
	__u32 *midp, mid;
	int rc, is_active;

	us_count(US_ST_RX);
	if ((void *)(eth + 1) > data_end) {
		us_count(US_ST_BAD_L2);
		return XDP_PASS;
	}
	mk.ifindex = ctx->ingress_ifindex;
	__builtin_memcpy(mk.mac, eth->h_source, ETH_ALEN);
	mk.pad = 0;
	midp = bpf_map_lookup_elem(&us_macs, &mk);
	if (!midp) {
		us_count(US_ST_PASS);
		return XDP_PASS;        /* not one of our machines */
	}
	mid = *midp;
	mach = us_machine_get(mid);
	if (!mach) {
		us_count(US_ST_PASS);
		return XDP_PASS;
	}
	is_active = mach->state == US_MS_ACTIVE || mach->state == US_MS_DRAINING;

	__builtin_memset(&pkt, 0, sizeof(pkt));
	rc = us_parse(ctx, &pkt);
	if (pkt.family && pkt.sport)
		svc = us_lookup_svc(pkt.saddr, pkt.sport);

	if (!is_active) {
		struct us_mstats *st = us_mst(mid);

		if (!pkt.family) {
			us_count(US_ST_PASS);   /* ARP and other non-IP */
			return XDP_PASS;
		}
		if (svc && rc == US_P_UDP) {
			if (!us_machine_sip(ctx, &pkt, &m) && m.status)
				us_response(&m, svc->id, mid, 1);
			if (st)
				st->dropped++;
			us_count(US_ST_RESP_SIM_DROP);
			return XDP_DROP;
		}
		/* anything it sends that would be routed on is dropped; what is
		 * for the balancer itself (or goes nowhere) is left to the kernel */
		if (rc == US_P_BAD_L3) {
			rc = BPF_FIB_LKUP_RET_SUCCESS;
		} else {
			rc = us_fib(ctx, pkt.family, pkt.saddr, pkt.daddr, pkt.ip_len, &f);
		}
		if (rc == BPF_FIB_LKUP_RET_SUCCESS || rc == BPF_FIB_LKUP_RET_NO_NEIGH ||
		    rc == BPF_FIB_LKUP_RET_FRAG_NEEDED) {
			if (st)
				st->dropped++;
			us_count(US_ST_SIM_STRAY_DROP);
			return XDP_DROP;
		}
		us_count(US_ST_PASS);
		return XDP_PASS;
	}

	/* active machine: what we do not handle, the kernel routes as usual */
	if (rc != US_P_UDP || !svc) {
		if (rc == US_P_BAD_L2 || rc == US_P_BAD_L3 || rc == US_P_BAD_L4)
			us_count(rc == US_P_BAD_L2 ? US_ST_BAD_L2 :
				 rc == US_P_BAD_L3 ? US_ST_BAD_L3 : US_ST_BAD_L4);
		else
			us_count(US_ST_PASS);
		return XDP_PASS;
	}
	if (us_machine_sip(ctx, &pkt, &m))
		return XDP_PASS;        /* counted; delivered unchanged by the kernel */
	if (m.status && us_response(&m, svc->id, mid, 0)) {
		/* answered a transaction mirrored to it before its promotion */
		us_count(US_ST_RESP_SIM_DROP);
		return XDP_DROP;
	}

	if (us_fib(ctx, pkt.family, pkt.saddr, pkt.daddr, pkt.ip_len, &f) !=
	    BPF_FIB_LKUP_RET_SUCCESS) {
		us_count(US_ST_NO_ROUTE);
		return XDP_PASS;
	}
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	eth = data;
	if ((void *)(eth + 1) > data_end)
		return XDP_DROP;
	us_set_macs(eth, f.dmac, f.smac);
	us_count(US_ST_RESP_FWD);
	return bpf_redirect(f.ifindex, 0);
}
