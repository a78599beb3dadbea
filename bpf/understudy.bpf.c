// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * understudy data plane.
 *
 *   us_client   XDP on the interface clients reach the VIPs by: SIP-aware
 *               sticky balancing, whole-call mirroring, transaction starts.
 *   us_machine  XDP on the interface(s) the machines sit behind: responses,
 *               latency, pairing; active output to the client, simulation
 *               output dropped.
 *   us_egress   devmap egress program: each mirrored copy's MACs and, for a
 *               shadow machine's copy, the rewrite naming its dialog.
 *   us_egress_t the egress program's body as a plain XDP program, for
 *               BPF_PROG_TEST_RUN (the kernel does not test-run devmap
 *               programs); never attached.
 */
#include "maps.bpf.h"
#include "parse.bpf.h"
#include "sip.bpf.h"
#include "pair.bpf.h"
#include "dialog.bpf.h"

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

/* Send the frame on by ifindex's entry of us_fwd (see maps.bpf.h); by a
 * plain redirect when the interface has none (not declared). */
static __always_inline int us_send(__u32 ifindex)
{
	long rc = bpf_redirect_map(&us_fwd, ifindex, 0);

	return rc == XDP_REDIRECT ? XDP_REDIRECT : bpf_redirect(ifindex, 0);
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

/* Is mac, behind ifindex, known as machine mid? A shadow machine's answers
 * are recognised (and dropped) by its MAC: until the machine side knows it,
 * nothing is mirrored to it, or its answers would reach callers. */
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

/* Can shadow sh (machine mid, in state want) take a copy of this frame:
 * one buffer (the devmap clones no other), a route, a MAC the machine side
 * knows? Fills its FIB result. */
static __always_inline int us_shadow_ok(struct xdp_md *ctx, const struct us_pkt *pkt, __u32 mid,
					__u8 want, int new_call, struct bpf_fib_lookup *f)
{
	struct us_machine *sm = us_machine_get(mid);

	/* a call mirrored to it goes on being mirrored after its promotion:
	 * the dialogs it holds end as they would have */
	if (!sm || (sm->state != want &&
		    (new_call || (sm->state != US_MS_ACTIVE && sm->state != US_MS_DRAINING))))
		return 0;
	if ((long)ctx->data_end - (long)ctx->data < (long)bpf_xdp_get_buff_len(ctx) ||
	    us_fib(ctx, pkt->family, pkt->saddr, sm->addr, pkt->ip_len, f) !=
		    BPF_FIB_LKUP_RET_SUCCESS ||
	    !us_mac_is(f->ifindex, f->dmac, mid)) {
		us_count(US_ST_MIRROR_SKIPPED);
		return 0;
	}
	return 1;
}

static __always_inline void us_copy_set(struct us_copy *c, const struct bpf_fib_lookup *f, __u8 mode)
{
	c->ifindex = f->ifindex;
	__builtin_memcpy(c->dmac, f->dmac, ETH_ALEN);
	__builtin_memcpy(c->smac, f->smac, ETH_ALEN);
	c->mode = mode;
}

static __always_inline int us_client_sip(struct xdp_md *ctx, struct us_pkt *pkt,
					 const struct us_svc *svc)
{
	struct bpf_fib_lookup *fa, *fs;
	struct us_call_key ck;
	struct us_call *call, nc;
	struct us_machine *am;
	struct us_scratch *s;
	struct us_sip *m;
	struct us_cmsg cm = {};
	struct us_dlg *d = NULL;
	struct us_plan *plan = NULL;
	struct us_egstate *eg = NULL;
	__u32 active = US_MID_NONE, svc_id = svc->id, zero = 0, seq = 0, slot;
	__u32 sh_mid[US_SHADOWS] = { US_MID_NONE, US_MID_NONE };
	__u32 call_sh[US_SHADOWS] = { US_MID_NONE, US_MID_NONE };
	int mode[US_SHADOWS] = { US_CP_DROP, US_CP_DROP };
	int rc, update_call = 0, new_call = 0, retrans = 0, want_txn, copies = 0;
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
	m = &s->sip;
	__builtin_memset(m, 0, sizeof(*m));
	rc = us_sip_parse(s, pkt->payload_len, m);
	if (rc) {
		us_count(rc < US_ST_MAX ? rc : US_ST_NOT_SIP);
		return XDP_DROP;
	}
	fa = &s->fib[0];
	fs = &s->fib[1];

	/* sticky: a known call stays where it is */
	ck.callid_hash = m->callid_hash;
	ck.svc_id = svc_id;
	ck.pad = 0;
	call = bpf_map_lookup_elem(&us_calls, &ck);
	if (call) {
		active = call->active_mid;
		call_sh[US_SH_SIM] = call->sim_mid;
		call_sh[US_SH_CTL] = call->ctl_mid;
		if (!us_machine_takes_calls(active, 0)) {
			active = US_MID_NONE;    /* its machine is gone: re-balance */
			update_call = 1;
		}
	} else {
		update_call = 1;
		new_call = 1;
		if (svc->share_bp && us_share_point(m->callid_hash) < svc->share_bp) {
			call_sh[US_SH_SIM] = us_table(svc_id, US_POOL_SIM, svc->sim_gen,
						      us_sim_slot(m->callid_hash));
			if (call_sh[US_SH_SIM] != US_MID_NONE)
				call_sh[US_SH_CTL] = us_table(svc_id, US_POOL_CTL, svc->ctl_gen,
							      us_ctl_slot(m->callid_hash));
		}
	}
	if (active == US_MID_NONE) {
		active = us_table(svc_id, US_POOL_ACTIVE, svc->active_gen,
				  us_maglev_slot(m->callid_hash));
		if (active == US_MID_NONE || !us_machine_takes_calls(active, 1)) {
			us_count(US_ST_NO_MACHINE);
			return XDP_DROP;
		}
	}
	am = us_machine_get(active);
	if (!am)
		return XDP_DROP;
	if (us_fib(ctx, pkt->family, pkt->saddr, am->addr, pkt->ip_len, fa) !=
	    BPF_FIB_LKUP_RET_SUCCESS) {
		us_count(US_ST_NO_ROUTE);
		return XDP_DROP;        /* nothing recorded: a retransmission starts afresh */
	}

	/* Settle the mirror before anything is recorded: only to a machine
	 * still in simulation (control), only what the devmap can clone, only
	 * with a route and a known MAC. A new call whose first message cannot
	 * be mirrored is recorded as not mirrored: whole calls or nothing. The
	 * caller's responses (to a request the active machine started) go to
	 * the active machine only. */
	if (!m->status) {
		if (call_sh[US_SH_SIM] != US_MID_NONE &&
		    us_shadow_ok(ctx, pkt, call_sh[US_SH_SIM], US_MS_SIMULATION, new_call,
				 &fs[US_SH_SIM]))
			sh_mid[US_SH_SIM] = call_sh[US_SH_SIM];
		if (call_sh[US_SH_CTL] != US_MID_NONE &&
		    us_shadow_ok(ctx, pkt, call_sh[US_SH_CTL], US_MS_CONTROL, new_call,
				 &fs[US_SH_CTL]))
			sh_mid[US_SH_CTL] = call_sh[US_SH_CTL];
	}
	if (new_call) {
		/* the control goes with the simulation machine, never alone */
		if (sh_mid[US_SH_SIM] == US_MID_NONE)
			sh_mid[US_SH_CTL] = US_MID_NONE;
		call_sh[US_SH_SIM] = sh_mid[US_SH_SIM];
		call_sh[US_SH_CTL] = sh_mid[US_SH_CTL];
	}
	if (update_call) {
		nc.active_mid = active;
		nc.sim_mid = call_sh[US_SH_SIM];
		nc.ctl_mid = call_sh[US_SH_CTL];
		nc.pad = 0;
		/* one clock read for the new call and its first transaction
		 * (kvm-clock reads are not cheap) */
		nc.created_ns = call ? call->created_ns : (now = bpf_ktime_get_ns());
		bpf_map_update_elem(&us_calls, &ck, &nc, BPF_ANY);
	}

	/* the dialog record of a mirrored call */
	if (call_sh[US_SH_SIM] != US_MID_NONE || call_sh[US_SH_CTL] != US_MID_NONE) {
		if (new_call && !m->status)
			d = us_dlg_open(s, &ck, m, active, call_sh[US_SH_SIM], call_sh[US_SH_CTL]);
		else
			d = bpf_map_lookup_elem(&us_dlgs, &ck);
		if (d && m->status)
			us_caller_answer(d, m);
	}
	if (sh_mid[US_SH_SIM] != US_MID_NONE || sh_mid[US_SH_CTL] != US_MID_NONE) {
		eg = bpf_map_lookup_elem(&us_egstate, &zero);
		if (eg) {
			seq = (eg->next_seq + 1) & 0x7fffffff;
			eg->next_seq = seq;
			slot = seq & (US_PLANS - 1);
			plan = bpf_map_lookup_elem(&us_plans, &slot);
		}
		if (!d)
			us_count(US_ST_DLG_NO_RECORD);
		if (d && plan) {
			cm.len = pkt->payload_len;
			cm.rebuildable = us_rebuildable(pkt->family, pkt->l3_off, pkt->l4_off);
			if (us_to_tag(s, m, pkt->payload_len, &cm.tag_off, &cm.tag_len, &cm.tag_hash) &&
			    m->method == US_M_PRACK && (m->have & US_H_RACK)) {
				cm.rack_off = m->rack_off;
				cm.rack_len = m->rack_len;
				cm.rack = m->rack;
			}
#pragma unroll
			for (__u32 i = 0; i < US_SHADOWS; i++) {
				if (sh_mid[i] == US_MID_NONE)
					continue;
				mode[i] = us_plan_shadow(m, d, i, &cm, &plan->c[1 + i]);
				if (mode[i] != US_CP_DROP)
					copies++;
			}
		}
	}

	/* transaction start: first sighting only (ACK has no response) */
	want_txn = !m->status && m->method != US_M_ACK;
	if (want_txn) {
		struct us_txn_key tk = {
			.branch_hash = m->branch_hash,
			.callid_hash = m->callid_hash,
			.cseq = m->cseq,
			.svc_id = svc_id,
			.method = m->cseq_method,
		};
		struct us_txn *tv = (struct us_txn *)s->txn;

		/* No look-up first: a new transaction is the common case, and
		 * a look-up would walk the bucket twice for it. A retransmission
		 * fails the BPF_NOEXIST update instead (which on an LRU map takes
		 * and returns a free node: dearer, but rare). */
		__builtin_memset(tv, 0, sizeof(*tv));
		tv->start_ns = now ? now : bpf_ktime_get_ns();
		tv->mid[0] = active;
		tv->mid[1 + US_SH_SIM] = mode[US_SH_SIM] != US_CP_DROP ? sh_mid[US_SH_SIM] : US_MID_NONE;
		tv->mid[1 + US_SH_CTL] = mode[US_SH_CTL] != US_CP_DROP ? sh_mid[US_SH_CTL] : US_MID_NONE;
		tv->method = m->method;
		if (bpf_map_update_elem(&us_txns, &tk, tv, BPF_NOEXIST))
			retrans = 1;
	}

	us_count_request(active, m, retrans);
	if (retrans)
		us_count(US_ST_RETRANS_REQ);
	us_count(US_ST_REQ_FWD);

	if (copies && plan) {
		struct us_group_key gk = {
			.active_ifindex = fa->ifindex,
			.sim_ifindex = sh_mid[US_SH_SIM] != US_MID_NONE ? fs[US_SH_SIM].ifindex : 0,
			.ctl_ifindex = sh_mid[US_SH_CTL] != US_MID_NONE ? fs[US_SH_CTL].ifindex : 0,
		};
		void *group = bpf_map_lookup_elem(&us_groups, &gk);
		struct us_meta *md;
		int metalen;

		if (!group)
			goto single;
		/* room for the metadata; relative to what is there, so a
		 * repeated test run (which keeps the frame) asks for none */
		metalen = (long)ctx->data - (long)ctx->data_meta;
		if (bpf_xdp_adjust_meta(ctx, metalen - (int)sizeof(struct us_meta)))
			goto single;
		md = (void *)(long)ctx->data_meta;
		if ((void *)(md + 1) > (void *)(long)ctx->data)
			return XDP_DROP;
		plan->seq = seq;
		plan->family = pkt->family;
		plan->l3_off = pkt->l3_off;
		plan->l4_off = pkt->l4_off;
		plan->payload_off = pkt->payload_off;
		plan->payload_len = pkt->payload_len;
		us_copy_set(&plan->c[0], fa, US_CP_AS_IS);
		plan->ncopies = 1;
#pragma unroll
		for (__u32 i = 0; i < US_SHADOWS; i++) {
			if (sh_mid[i] == US_MID_NONE) {
				plan->c[1 + i].ifindex = 0;
				continue;
			}
			us_copy_set(&plan->c[1 + i], &fs[i], mode[i]);
			plan->ncopies++;
		}
		md->seq = seq;
		md->flags = US_META_MAGIC |
			    ((gk.sim_ifindex == fa->ifindex || gk.ctl_ifindex == fa->ifindex ||
			      (gk.sim_ifindex && gk.sim_ifindex == gk.ctl_ifindex)) ? US_META_SHARED : 0);
#pragma unroll
		for (__u32 i = 0; i < US_SHADOWS; i++)
			if (mode[i] != US_CP_DROP)
				us_count_request(sh_mid[i], m, retrans);
		us_count(US_ST_REQ_MIRRORED);
		return bpf_redirect_map(group, 0, BPF_F_BROADCAST | XDP_DROP);
	}
single:
	{
		void *data = (void *)(long)ctx->data;
		void *data_end = (void *)(long)ctx->data_end;
		struct ethhdr *eth = data;

		if ((void *)(eth + 1) > data_end)
			return XDP_DROP;
		us_set_macs(eth, fa->dmac, fa->smac);
		return us_send(fa->ifindex);
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

/* ---- devmap egress: one copy of a mirrored message ----------------------- */

/* A shadow's copy rebuilt by its plan: the payload from the segments. */
__noinline int us_apply(struct xdp_md *ctx, const struct us_plan *p, __u32 i)
{
	struct us_scratch *s;
	struct us_out *o;
	struct us_fpos fp;
	__u32 zero = 0, len, n;

	if (!ctx || !p || i >= US_SIDES)
		return -1;
	len = p->payload_len & US_BUF_MASK;
	s = bpf_map_lookup_elem(&us_scratch, &zero);
	o = us_outbuf();
	if (!s || !o || !len || len > US_SIP_MAX)
		return -1;
	if (bpf_xdp_load_bytes(ctx, p->payload_off, s->b, len))
		return -1;
	*(us_u64u *)&s->b[us_mask(len)] = 0;
	n = us_assemble(s, len, &p->c[i].e, o);
	if (!n || n != p->c[i].len)
		return -1;
	fp.l3_off = p->l3_off;
	fp.l4_off = p->l4_off;
	fp.payload_off = p->payload_off;
	fp.payload_len = len;
	fp.family = p->family;
	fp.reply = 0;
	return us_emit(ctx, &fp, o, n);
}

static __always_inline int us_egress_body(struct xdp_md *ctx, __u32 egress_ifindex)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct us_meta *md = (void *)(long)ctx->data_meta;
	struct ethhdr *eth = data;
	struct us_plan *p;
	__u32 slot, pos = 0, idx = US_SIDES, seq;

	if ((void *)(md + 1) > data || (md->flags & US_META_MAGIC_MASK) != US_META_MAGIC)
		return XDP_PASS;        /* one copy, sent as it is */
	if ((void *)(eth + 1) > data_end)
		return XDP_DROP;
	seq = md->seq;
	slot = seq & (US_PLANS - 1);
	p = bpf_map_lookup_elem(&us_plans, &slot);
	if (!p || p->seq != seq) {
		us_count(US_ST_COPY_NO_PLAN);
		return XDP_DROP;
	}
	if (md->flags & US_META_SHARED) {
		/* several copies leave by this interface, in group order, on
		 * this CPU: which of them is this one? */
		__u32 k = egress_ifindex % US_EGSLOTS;
		struct us_egstate *st = bpf_map_lookup_elem(&us_egstate, &k);

		if (!st)
			return XDP_DROP;
		if (st->ifindex == egress_ifindex && st->seq == seq) {
			pos = ++st->n;
		} else {
			st->ifindex = egress_ifindex;
			st->seq = seq;
			st->n = 0;
		}
	}
#pragma unroll
	for (__u32 i = 0; i < US_SIDES; i++) {
		if (idx != US_SIDES || p->c[i].ifindex != egress_ifindex)
			continue;
		if (pos == 0)
			idx = i;
		else
			pos--;
	}
	if (idx >= US_SIDES)
		return XDP_DROP;
	us_set_macs(eth, p->c[idx].dmac, p->c[idx].smac);
	if (p->c[idx].mode == US_CP_DROP)
		return XDP_DROP;
	if (p->c[idx].mode == US_CP_EDIT && idx > 0 && us_apply(ctx, p, idx)) {
		us_count(US_ST_DLG_BUILD_FAIL);
		return XDP_DROP;
	}
	return XDP_PASS;
}

SEC("xdp.frags/devmap")
int us_egress(struct xdp_md *ctx)
{
	return us_egress_body(ctx, ctx->egress_ifindex);
}

SEC("xdp.frags")
int us_egress_t(struct xdp_md *ctx)
{
	return us_egress_body(ctx, ctx->ingress_ifindex);
}

/* ---- machine side ------------------------------------------------------ */

/* A response from machine mid: count it, time it, pair it. Returns the
 * side its transaction knows the machine as (0 active, 1 + enum us_shadow),
 * or -1 when there is no such transaction; *tp, *kp the transaction. */
static __always_inline int us_response(const struct us_sip *m, const struct us_svc *svc, __u32 mid,
				       struct us_txn **tp, struct us_txn_key *tk)
{
	struct us_mstats *st = us_mst(mid);
	__u32 cls = m->status / 100, bit, old, bkt, side;
	struct us_txn *t;
	__u64 lat;

	tk->branch_hash = m->branch_hash;
	tk->callid_hash = m->callid_hash;
	tk->cseq = m->cseq;
	tk->svc_id = svc->id;
	tk->method = m->cseq_method;
	__builtin_memset(tk->pad, 0, sizeof(tk->pad));
	*tp = NULL;
	if (!st)
		return -1;
	st->resp_class[cls & 7]++;
	t = bpf_map_lookup_elem(&us_txns, tk);
	if (!t)
		side = US_SIDES;
	else if (t->mid[1 + US_SH_SIM] == mid)
		side = 1 + US_SH_SIM;
	else if (t->mid[1 + US_SH_CTL] == mid)
		side = 1 + US_SH_CTL;
	else if (t->mid[0] == mid)
		side = 0;
	else
		side = US_SIDES;
	if (side >= US_SIDES) {
		if (m->status >= 200) {
			us_count(US_ST_RESP_NO_TXN);
			st->final_no_txn++;
		}
		return -1;
	}
	*tp = t;
	if (m->status < 200)
		return side;
	bit = US_TXN_FINAL(side);
	if (t->done & bit)
		goto retrans;
	lat = bpf_ktime_get_ns() - t->start_ns;
	t->code[side] = m->status;
	t->lat_ns[side] = lat;
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
	if (old & US_TXN_LATE(side)) {
		st->late++;             /* its pairs closed without it */
		return side;
	}
	if (t->mid[1] == US_MID_NONE && t->mid[2] == US_MID_NONE)
		return side;
	/* pairs this final completes; the deadline for the others */
	{
		int open = 0;

#pragma unroll
		for (__u32 sh = 0; sh < US_SHADOWS; sh++) {
			if (t->mid[1 + sh] == US_MID_NONE)
				continue;
			if (side == 0 ? (old & US_TXN_FINAL(1 + sh)) : (side == 1 + sh && (old & 1)))
				us_pair_close(tk, sh, 0);
			else if (!(t->done & US_TXN_PAIRED(1 + sh)))
				open = 1;
		}
		if (open)
			us_arm(t, svc, lat);
	}
	return side;
retrans:
	st->retrans_resp++;
	us_count(US_ST_RETRANS_RESP);
	return side;
}

/* Parse a machine's SIP message; 0 and *sp, whose sip field holds what
 * the parser found, when it is one. */
static __always_inline int us_machine_sip(struct xdp_md *ctx, const struct us_pkt *pkt,
					  struct us_scratch **sp)
{
	struct us_scratch *s;
	struct us_sip *m;
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
	m = &s->sip;
	__builtin_memset(m, 0, sizeof(*m));
	rc = us_sip_parse(s, pkt->payload_len, m);
	if (rc) {
		us_count(rc < US_ST_MAX ? rc : US_ST_NOT_SIP);
		return rc;
	}
	*sp = s;
	return 0;
}

/* The active machine's message in a mirrored call: learn its dialog. */
__noinline int us_learn_active(const struct us_scratch *s, __u32 len, const struct us_sip *m,
			       __u32 svc_id)
{
	struct us_call_key ck = {};
	struct us_dlg *d;
	__u32 toff = 0, tlen = 0;
	__u64 h = 0;

	if (!s || !m)
		return 0;
	ck.callid_hash = m->callid_hash;
	ck.svc_id = svc_id;
	d = bpf_map_lookup_elem(&us_dlgs, &ck);
	if (!d)
		return 0;
	if (!m->status) {
		us_own_active(d, m);
		return 0;
	}
	if (m->cseq_method != US_M_INVITE)
		return 0;
	if (m->status > 100 && m->status < 300 && us_to_tag(s, m, len, &toff, &tlen, &h) &&
	    us_atag_index(d, h, 1) >= US_TAGS)
		us_count(US_ST_DLG_TAG_LONG);
	if (m->status < 200 && (m->have & US_H_RSEQ) && !(d->flags & US_DF_RSEQ)) {
		d->rseq0 = m->rseq;
		__sync_fetch_and_or(&d->flags, US_DF_RSEQ);
	}
	if (m->status >= 200) {
		d->act_inv_cseq = m->cseq;
		d->act_inv_code = m->status;
	}
	return 0;
}

/* Word i of the tag at toff (tlen bytes), the bytes past it zeroed. */
static __always_inline __u64 us_tag_word(const struct us_scratch *s, __u32 toff, __u32 tlen, int i)
{
	__u64 x = us_w(s, toff + i * 8);

	if (tlen <= (__u32)i * 8)
		return 0;
	if (tlen < (__u32)(i + 1) * 8)
		x &= (1ull << ((tlen - i * 8) * 8)) - 1;
	return x;
}

/* Index of a shadow's To-tag (at toff, tlen) among the ones it gave, learnt
 * at the next free index; US_TAGS if there is no room or it is too long. */
__noinline __u32 us_stag_learn(struct us_dside *ds, const struct us_scratch *s, __u32 toff,
			       __u32 tlen)
{
	if (!ds || !s || !tlen || tlen > US_TAG_MAX)
		return US_TAGS;
#pragma unroll
	for (__u32 k = 0; k < US_TAGS; k++) {
		struct us_dtag *t = &ds->t[k];
		int same = t->len == tlen;

		if (!t->len) {
#pragma unroll
			for (int i = 0; i < US_TAG_MAX / 8; i++)
				*(__u64 *)&t->tag[i * 8] = us_tag_word(s, toff, tlen, i);
			t->len = tlen;
			return k;
		}
#pragma unroll
		for (int i = 0; i < US_TAG_MAX / 8; i++)
			same &= *(__u64 *)&t->tag[i * 8] == us_tag_word(s, toff, tlen, i);
		if (same)
			return k;
	}
	return US_TAGS;
}

/* Build o->e from the message in s and send it back where it came from. */
static __always_inline int us_reply(struct xdp_md *ctx, const struct us_pkt *pkt,
				    const struct us_scratch *s, struct us_out *o)
{
	struct us_fpos fp;
	__u32 n;

	if (!us_rebuildable(pkt->family, pkt->l3_off, pkt->l4_off))
		goto fail;
	n = us_assemble(s, pkt->payload_len, &o->e, o);
	if (!n)
		goto fail;
	fp.l3_off = pkt->l3_off;
	fp.l4_off = pkt->l4_off;
	fp.payload_off = pkt->payload_off;
	fp.payload_len = pkt->payload_len;
	fp.family = pkt->family;
	fp.reply = 1;
	if (us_emit(ctx, &fp, o, n))
		goto fail;
	return XDP_TX;
fail:
	us_count(US_ST_DLG_BUILD_FAIL);
	return XDP_DROP;
}

/*
 * A shadow machine's SIP message (machine mid, in simulation or control, or
 * promoted since the call began: the call's shadow all the same), parsed
 * into s; a response already counted and paired by us_response, which
 * found it side (-1 for a request). Its responses teach the balancer its
 * dialog (an ACK, or a BYE, may be due on the caller's behalf); its own
 * requests are answered on the caller's behalf. Nothing reaches a caller:
 * XDP_TX back to the machine, or XDP_DROP. A global function: verified
 * once, whatever calls it.
 */
struct us_from {
	__u32 mid;      /* the machine */
	__u32 svc_id;   /* its service */
	__s32 side;     /* us_response's side; -1 for a request */
	__u32 len;      /* the message's length */
};

/* What us_shadow_handle left in the output buffer to send back. */
enum us_shx {
	US_SHX_NONE = 0,        /* nothing: drop */
	US_SHX_ANSWER,          /* an answer to its request */
	US_SHX_REQUEST,         /* an ACK, BYE or PRACK on the caller's behalf */
	US_SHX_ENDS = 4,        /* flag: sent, its side of the dialog has ended */
};

__noinline int us_shadow_handle(struct us_scratch *s, const struct us_from *from)
{
	struct us_mstats *st;
	struct us_call_key ck;
	struct us_sip *m;
	struct us_dside *ds;
	struct us_dlg *d;
	struct us_out *o;
	__u32 len, sh, mid, toff = 0, tlen = 0, cseq, bye, kind = US_BUILD_ACK;
	__u64 h = 0;

	if (!s || !from)
		return US_SHX_NONE;
	mid = from->mid;
	st = us_mst(mid);
	m = &s->sip;
	len = from->len;
	if (m->status) {
		if (from->side < 1)
			return US_SHX_NONE;
		sh = from->side - 1;
	} else {
		sh = US_SHADOWS;
	}
	ck.callid_hash = m->callid_hash;
	ck.svc_id = from->svc_id;
	ck.pad = 0;
	d = bpf_map_lookup_elem(&us_dlgs, &ck);
	if (!d)
		return US_SHX_NONE;
	if (sh == US_SHADOWS) {
		if (d->mid[1 + US_SH_SIM] == mid)
			sh = US_SH_SIM;
		else if (d->mid[1 + US_SH_CTL] == mid)
			sh = US_SH_CTL;
		else
			return US_SHX_NONE;
	}
	ds = &d->side[sh & 1];
	o = us_outbuf();
	if (!o)
		return US_SHX_NONE;

	if (!m->status) {
		/* a request it started: answered on the caller's behalf */
		__u32 code;

		if (m->method == US_M_ACK) {
			us_count(US_ST_DLG_ABSORBED);
			return US_SHX_NONE;
		}
		us_own_shadow(d, sh, m, st);
		code = d->answer[us_own_kind(m->method) & 3];
		if (!code)
			code = m->method == US_M_REFER ? 202 : 200;
		if (us_build_answer(s, len, m, code, o)) {
			us_count(US_ST_DLG_BUILD_FAIL);
			return US_SHX_NONE;
		}
		return US_SHX_ANSWER |
		       (m->method == US_M_BYE && code / 100 == 2 ? US_SHX_ENDS : 0);
	}

	/* a response: its dialog */
	if (m->cseq_method == US_M_BYE && m->status >= 200) {
		ds->state = US_DS_ENDED;
		return US_SHX_NONE;
	}
	if (m->cseq_method != US_M_INVITE)
		return US_SHX_NONE;
	if (m->status > 100 && m->status < 300 && us_to_tag(s, m, len, &toff, &tlen, &h) &&
	    us_stag_learn(ds, s, toff, tlen) >= US_TAGS)
		us_count(US_ST_DLG_TAG_LONG);
	if (m->status < 200) {
		/* its first reliable provisional: PRACKed now if the caller
		 * PRACKed the active machine's already */
		if (!(m->have & US_H_RSEQ) || (ds->flags & US_DF_RSEQ))
			return US_SHX_NONE;
		ds->rseq0 = m->rseq;
		if (__sync_fetch_and_or(&ds->flags, US_DF_RSEQ) & US_DF_RSEQ)
			return US_SHX_NONE;
		cseq = __sync_lock_test_and_set(&ds->prack_cseq, 0);
		if (!cseq)
			return US_SHX_NONE;
		kind = US_BUILD_PRACK;
		goto build;
	}
	/* a final: the state of its dialog, then the fact the caller's side
	 * reads (see struct us_dside) */
	ds->fin_code = m->status;
	if (m->cseq == d->inv0_cseq && ds->state == US_DS_NONE) {
		ds->state = m->status < 300 ? US_DS_CONFIRMED : US_DS_FAILED;
		ds->inv_code = m->status;
	}
	__sync_lock_test_and_set(&ds->fin_cseq, m->cseq);
	__sync_fetch_and_or(&ds->flags, US_DF_FIN);
	cseq = m->cseq;
	if (m->status >= 300) {
		/* a non-2xx: ACKed here, hop by hop */
	} else if (m->cseq == d->inv0_cseq && (bye = __sync_lock_test_and_set(&ds->bye_cseq, 0))) {
		/* the caller hung up before this 2xx: it gets the BYE */
		cseq = bye;
		kind = US_BUILD_BYE;
	} else if (ds->ack_cseq != m->cseq) {
		return US_SHX_NONE;        /* the caller's ACK will come */
	}
build:
	if (us_build_request(s, len | (kind << US_BUILD_SHIFT), m, cseq, o)) {
		us_count(US_ST_DLG_BUILD_FAIL);
		return US_SHX_NONE;
	}
	return US_SHX_REQUEST | (kind == US_BUILD_BYE ? US_SHX_ENDS : 0);
}

/* A shadow's message handled: what is not sent back to it is dropped and
 * counted. */
static __always_inline int us_shadow_one(struct xdp_md *ctx, const struct us_pkt *pkt,
					 const struct us_svc *svc, __u32 mid,
					 struct us_scratch *s, int side)
{
	struct us_from from = { .mid = mid, .svc_id = svc->id, .side = side,
				 .len = pkt->payload_len };
	struct us_mstats *st = us_mst(mid);
	struct us_out *o;
	int rc;

	/* planned there, sent here: us_emit's frame would not fit under
	 * us_shadow_handle's */
	rc = us_shadow_handle(s, &from);
	o = us_outbuf();
	if (rc != US_SHX_NONE && o && us_reply(ctx, pkt, s, o) == XDP_TX) {
		if (rc & US_SHX_ENDS) {
			struct us_call_key ck = { .callid_hash = s->sip.callid_hash,
						  .svc_id = svc->id };
			struct us_dlg *d = bpf_map_lookup_elem(&us_dlgs, &ck);

			if (d)
				d->side[(d->mid[1 + US_SH_CTL] == mid) & 1].state = US_DS_ENDED;
		}
		if ((rc & 3) == US_SHX_ANSWER) {
			us_count(US_ST_DLG_ANSWERED);
			if (st)
				st->dlg_answered++;
		} else {
			us_count(US_ST_DLG_ACK_SENT);
			if (st)
				st->dlg_acks++;
		}
		return XDP_TX;
	}
	if (st)
		st->dropped++;
	us_count(US_ST_RESP_SIM_DROP);
	return XDP_DROP;
}

SEC("xdp.frags")
int us_machine(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct us_mac_key mk;
	struct us_machine *mach;
	struct bpf_fib_lookup *f;
	struct us_scratch *s = NULL, *s0;
	struct us_svc *svc = NULL;
	struct us_txn_key *tk;
	struct us_txn *t = NULL;
	struct us_sip *m;
	struct us_pkt *pkt;
	__u32 *midp, mid, zero = 0;
	int rc, is_active, side = -1;

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
	s0 = bpf_map_lookup_elem(&us_scratch, &zero);
	if (!s0)
		return XDP_PASS;
	f = &s0->fib[0];
	pkt = &s0->mpkt;
	tk = &s0->mtk;

	__builtin_memset(pkt, 0, sizeof(*pkt));
	rc = us_parse(ctx, pkt);
	if (pkt->family && pkt->sport)
		svc = us_lookup_svc(pkt->saddr, pkt->sport);

	if (!is_active) {
		struct us_mstats *st = us_mst(mid);

		if (!pkt->family) {
			us_count(US_ST_PASS);   /* ARP and other non-IP */
			return XDP_PASS;
		}
		if (svc && rc == US_P_UDP) {
			if (!us_machine_sip(ctx, pkt, &s) && s) {
				if (s->sip.status)
					side = us_response(&s->sip, svc, mid, &t, tk);
				goto shadow;
			}
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
			rc = us_fib(ctx, pkt->family, pkt->saddr, pkt->daddr, pkt->ip_len, f);
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
	if (us_machine_sip(ctx, pkt, &s) || !s)
		return XDP_PASS;        /* counted; delivered unchanged by the kernel */
	m = &s->sip;
	if (m->status) {
		side = us_response(m, svc, mid, &t, tk);
		if (side > 0)
			/* answers a transaction mirrored to it before its
			 * promotion: its dialog goes on as a shadow's */
			goto shadow;
		if (t && (t->mid[1] != US_MID_NONE || t->mid[2] != US_MID_NONE))
			us_learn_active(s, pkt->payload_len, m, svc->id);
	} else {
		/* a request it starts: in a call mirrored to it before its
		 * promotion, answered as a shadow's; in a mirrored call it
		 * serves, counted for the pairing */
		struct us_call_key ck = { .callid_hash = m->callid_hash, .svc_id = svc->id };
		struct us_call *c = bpf_map_lookup_elem(&us_calls, &ck);

		if (c && c->active_mid != mid && (c->sim_mid == mid || c->ctl_mid == mid))
			goto shadow;
		if (c && (c->sim_mid != US_MID_NONE || c->ctl_mid != US_MID_NONE))
			us_learn_active(s, pkt->payload_len, m, svc->id);
	}

	f = &s->fib[0];
	if (us_fib(ctx, pkt->family, pkt->saddr, pkt->daddr, pkt->ip_len, f) !=
	    BPF_FIB_LKUP_RET_SUCCESS) {
		us_count(US_ST_NO_ROUTE);
		return XDP_PASS;
	}
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	eth = data;
	if ((void *)(eth + 1) > data_end)
		return XDP_DROP;
	us_set_macs(eth, f->dmac, f->smac);
	us_count(US_ST_RESP_FWD);
	return us_send(f->ifindex);

shadow:
	/* a shadow's message (one place: its stack adds up once) */
	return us_shadow_one(ctx, pkt, svc, mid, s, side);
}
