// SPDX-License-Identifier: GPL-2.0
/*
 * model.c - the reference model: docs/datapath.md "From the overlay",
 * "Into the overlay" and "Flows" judged directly on struct nn_policy.
 *
 * Everything here is a linear scan written to be read next to the doc, step
 * by step; speed is not a goal. Each function names the steps it implements.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "model/model.h"

#define PROTO_TCP 6
#define PROTO_UDP 17

struct nn_model {
	const struct nn_policy *p;
	uint8_t (*host)[NN_ADDR_LEN]; /* the gateway host's own addresses */
	size_t n_host;
	uint32_t epoch;
	struct nn_mtab flows;
	struct nn_mtab frags;
};

/* ---- Who an address is ---- */

enum ident_kind {
	ID_NONE = 0,
	ID_DEVICE,
	ID_NODE,
	ID_SELF,
};

struct ident {
	enum ident_kind kind;
	size_t idx;    /* into devices or nodes */
	uint8_t state; /* enum nn_state, devices and nodes */
};

static bool addr_eq(const uint8_t *a, const uint8_t *b)
{
	return memcmp(a, b, NN_ADDR_LEN) == 0;
}

static bool is_self(const struct nn_policy *p, const uint8_t *a)
{
	return addr_eq(a, p->gw.ov6) || (p->gw.has_ov4 && addr_eq(a, p->gw.ov4));
}

static bool device_has(const struct nn_device *d, const uint8_t *a)
{
	return addr_eq(a, d->addr6) || (d->has_addr4 && addr_eq(a, d->addr4));
}

/* Exact /32 or /128 lookup. This gateway's own address is checked first so
 * that it can never be mistaken for a peer. */
static void lookup_exact(const struct nn_policy *p, const uint8_t *a, struct ident *id)
{
	size_t i;

	memset(id, 0, sizeof(*id));
	if (is_self(p, a)) {
		id->kind = ID_SELF;
		return;
	}
	for (i = 0; i < p->n_devices; i++) {
		if (device_has(&p->devices[i], a)) {
			id->kind = ID_DEVICE;
			id->idx = i;
			id->state = p->devices[i].state;
			return;
		}
	}
	for (i = 0; i < p->n_nodes; i++) {
		if (addr_eq(a, p->nodes[i].addr6)) {
			id->kind = ID_NODE;
			id->idx = i;
			id->state = p->nodes[i].state;
			return;
		}
	}
}

static bool is_v4(const uint8_t *a)
{
	static const uint8_t pfx[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	return memcmp(a, pfx, sizeof(pfx)) == 0;
}

/* datapath.md "Prefixes and address families": families stay apart, so an
 * IPv6 prefix shorter than /96 (::/0, ::/1, ...) never covers an IPv4
 * address, although its bits would match ::ffff:a.b.c.d. */
static bool prefix_covers(const struct nn_prefix *pf, const uint8_t *a)
{
	size_t full = pf->len / 8, rem = pf->len % 8;
	uint8_t mask;

	if (pf->len < 96 && is_v4(a))
		return false;
	if (memcmp(pf->addr, a, full) != 0)
		return false;
	if (!rem)
		return true;
	mask = (uint8_t)(0xff << (8 - rem));
	return (pf->addr[full] & mask) == (a[full] & mask);
}

static bool resource_covers(const struct nn_resource *r, const uint8_t *a)
{
	size_t i;

	for (i = 0; i < r->n_prefixes; i++)
		if (prefix_covers(&r->prefixes[i], a))
			return true;
	return false;
}

enum owner {
	OWN_NONE = 0,
	OWN_SAME_NET,
	OWN_OTHER_NET, /* same tenant, another network */
	OWN_OTHER_TENANT,
	OWN_CLOSED, /* the space of a dropped entry: nobody's, never reachable */
};

static enum owner owner_of(const struct nn_policy *p, uint32_t net, uint32_t other)
{
	if (p->networks[other].tenant != p->networks[net].tenant)
		return OWN_OTHER_TENANT;
	return other == net ? OWN_SAME_NET : OWN_OTHER_NET;
}

/*
 * The owner of @a by the longest matching resource prefix over all
 * resources of all tenants and the closed space (assignments-v1.md: what a
 * dropped entry claimed stays closed), relative to network @net. Should two
 * share the longest prefix, the owner furthest from @net wins, closed
 * furthest of all: a tie must not open a tenant boundary or closed space.
 */
static enum owner resource_owner(const struct nn_policy *p, uint32_t net, const uint8_t *a)
{
	enum owner best = OWN_NONE, o;
	int best_len = -1;
	size_t i, j;

	for (i = 0; i < p->n_resources; i++) {
		const struct nn_resource *r = &p->resources[i];

		for (j = 0; j < r->n_prefixes; j++) {
			const struct nn_prefix *pf = &r->prefixes[j];

			if (!prefix_covers(pf, a) || pf->len < best_len)
				continue;
			o = owner_of(p, net, r->network);
			if (pf->len > best_len || o > best)
				best = o;
			best_len = pf->len;
		}
	}
	for (i = 0; i < p->n_closed; i++) {
		if (!prefix_covers(&p->closed[i], a) || p->closed[i].len < best_len)
			continue;
		best = OWN_CLOSED;
		best_len = p->closed[i].len;
	}
	return best;
}

static bool in_overlay(const struct nn_policy *p, const uint8_t *a)
{
	size_t i;

	for (i = 0; i < p->gw.n_overlay_prefixes; i++)
		if (prefix_covers(&p->gw.overlay_prefixes[i], a))
			return true;
	return false;
}

/* verdicts.md "Destination": any address of a local interface of the
 * gateway host. */
static bool is_host(const struct nn_model *m, const uint8_t *a)
{
	size_t i;

	for (i = 0; i < m->n_host; i++)
		if (addr_eq(m->host[i], a))
			return true;
	return false;
}

/* verdicts.md "Destination": never valid from the overlay. */
static bool is_martian(const uint8_t *a)
{
	static const struct {
		uint8_t addr[NN_ADDR_LEN];
		uint8_t len;
	} never[] = {
		/* loopback 127.0.0.0/8 */
		{ { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127 }, 96 + 8 },
		/* 0.0.0.0/8, the unspecified 0.0.0.0 with it */
		{ { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0 }, 96 + 8 },
		/* link-local 169.254.0.0/16 */
		{ { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 169, 254 }, 96 + 16 },
		/* multicast 224.0.0.0/4 */
		{ { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 224 }, 96 + 4 },
		/* 240.0.0.0/4 */
		{ { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 240 }, 96 + 4 },
		/* limited broadcast 255.255.255.255 (inside 240/4; listed as the
		 * spec lists it) */
		{ { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 255, 255, 255, 255 }, 128 },
		/* IPv6 unspecified :: and loopback ::1 */
		{ { 0 }, 128 },
		{ { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 }, 128 },
		/* link-local unicast fe80::/10 */
		{ { 0xfe, 0x80 }, 10 },
		/* multicast ff00::/8 */
		{ { 0xff }, 8 },
	};
	size_t i;

	for (i = 0; i < sizeof(never) / sizeof(never[0]); i++) {
		struct nn_prefix pf = { .len = never[i].len };

		memcpy(pf.addr, never[i].addr, NN_ADDR_LEN);
		/* The IPv6 entries are /8../128 over IPv6 addresses only:
		 * prefix_covers() keeps families apart below /96, and :: or
		 * ::1 /128 never equal an IPv4-mapped address. */
		if (prefix_covers(&pf, a))
			return true;
	}
	return false;
}

/* ---- The ACL (From step 7, Into step 4) ---- */

enum dst_scope {
	DST_MEMBER,   /* a device or resource of the rule's network */
	DST_SELF,     /* this gateway's own address: dst prefixes only */
	DST_INTERNET, /* outside the overlay and its resources */
};

static bool rule_src_matches(const struct nn_rule *r, int64_t src_dev)
{
	size_t i;

	/* Only devices can be a rule's source. */
	if (src_dev < 0)
		return false;
	if (r->src_star)
		return true;
	for (i = 0; i < r->n_src_devices; i++)
		if (r->src_devices[i] == src_dev)
			return true;
	return false;
}

static bool rule_dst_matches(const struct nn_policy *p, const struct nn_rule *r, const uint8_t *dst,
			     enum dst_scope scope)
{
	size_t i;

	for (i = 0; i < r->n_dst_prefixes; i++)
		if (prefix_covers(&r->dst_prefixes[i], dst))
			return true;
	if (scope != DST_MEMBER)
		return false;
	if (r->dst_star)
		return true;
	for (i = 0; i < r->n_dst_devices; i++)
		if (device_has(&p->devices[r->dst_devices[i]], dst))
			return true;
	for (i = 0; i < r->n_dst_resources; i++)
		if (resource_covers(&p->resources[r->dst_resources[i]], dst))
			return true;
	return false;
}

static bool rule_l4_matches(const struct nn_rule *r, uint8_t proto, uint16_t dport)
{
	size_t i;

	if (r->proto != NN_PROTO_ANY && r->proto != proto)
		return false;
	if (r->proto != PROTO_TCP && r->proto != PROTO_UDP)
		return true;
	if (r->all_ports)
		return true;
	for (i = 0; i < r->n_ports; i++)
		if (dport >= r->ports[i].lo && dport <= r->ports[i].hi)
			return true;
	return false;
}

/*
 * The ACL of network @net for (@src_dev, @t->dst): the first matching deny
 * decides, else the first matching allow, else default deny. With
 * @deny_only (internet-bound traffic) no allow is needed: pass, rule -1.
 */
static int acl(const struct nn_policy *p, uint32_t net, int64_t src_dev, const struct nn_mtuple *t,
	       enum dst_scope scope, bool deny_only, int32_t *rule)
{
	int32_t deny = -1, allow = -1;
	size_t i;

	for (i = 0; i < p->n_rules; i++) {
		const struct nn_rule *r = &p->rules[i];

		if (r->network != net || !rule_src_matches(r, src_dev) ||
		    !rule_l4_matches(r, t->proto, t->dport) ||
		    !rule_dst_matches(p, r, t->dst, scope))
			continue;
		if (r->action == NN_ACT_DENY && deny < 0)
			deny = (int32_t)i;
		if (r->action == NN_ACT_ALLOW && allow < 0)
			allow = (int32_t)i;
	}
	if (deny >= 0) {
		*rule = deny;
		return NN_R_ACL_DENY;
	}
	if (deny_only)
		return NN_PASS;
	if (allow >= 0) {
		*rule = allow;
		return NN_PASS;
	}
	return NN_R_ACL_DEFAULT_DENY;
}

/* ---- From the overlay ---- */

/* Step 1: the source must be an active device or node. */
static int from_source(const struct nn_policy *p, const uint8_t *src, struct ident *id)
{
	lookup_exact(p, src, id);
	if (id->kind == ID_NONE || id->kind == ID_SELF)
		return NN_R_SPOOF;
	if (id->state != NN_ST_ACTIVE)
		return NN_R_REVOKED;
	return NN_PASS;
}

/* Steps 5-7 for a packet whose source passed step 1. *no_flow is set when
 * the pass is a node's (step 5 records no flow). */
static int from_policy(const struct nn_model *m, const struct ident *src, const struct nn_mtuple *t,
		       int32_t *rule, bool *no_flow)
{
	const struct nn_policy *p = m->p;
	const struct nn_device *dev;
	struct ident dst;
	enum owner own;
	uint32_t net;

	*rule = -1;
	*no_flow = false;
	if (src->kind == ID_NODE) {
		*no_flow = true;
		return is_self(p, t->dst) ? NN_PASS : NN_R_NO_TRANSIT;
	}
	dev = &p->devices[src->idx];
	net = dev->network;

	lookup_exact(p, t->dst, &dst);
	if (dst.kind == ID_SELF)
		return acl(p, net, (int64_t)src->idx, t, DST_SELF, false, rule);
	if (dst.kind == ID_NODE)
		return NN_R_NO_TRANSIT;
	if (dst.kind == ID_DEVICE) {
		own = owner_of(p, net, p->devices[dst.idx].network);
		if (own == OWN_OTHER_TENANT)
			return NN_R_CROSS_TENANT;
		if (own == OWN_OTHER_NET)
			return NN_R_CROSS_NETWORK;
		if (dst.state != NN_ST_ACTIVE)
			return NN_R_REVOKED;
		return acl(p, net, (int64_t)src->idx, t, DST_MEMBER, false, rule);
	}
	own = resource_owner(p, net, t->dst);
	if (own == OWN_CLOSED)
		return NN_R_UNKNOWN_DST;
	if (own == OWN_OTHER_TENANT)
		return NN_R_CROSS_TENANT;
	if (own == OWN_OTHER_NET)
		return NN_R_CROSS_NETWORK;
	if (own == OWN_SAME_NET)
		return acl(p, net, (int64_t)src->idx, t, DST_MEMBER, false, rule);
	if (in_overlay(p, t->dst))
		return NN_R_UNKNOWN_DST;
	/* The host's own addresses: like its overlay address, the ACL decides
	 * through dst prefixes. */
	if (is_host(m, t->dst))
		return acl(p, net, (int64_t)src->idx, t, DST_SELF, false, rule);
	if (is_martian(t->dst))
		return NN_R_MARTIAN;
	if (!dev->egress_here)
		return NN_R_NO_EGRESS;
	return acl(p, net, (int64_t)src->idx, t, DST_INTERNET, true, rule);
}

/* ---- Into the overlay ---- */

/* Step 1: the destination must be an active device, or a node reached from
 * this gateway's own address (*node_pass). */
static int into_dest(const struct nn_policy *p, const struct nn_mtuple *t, struct ident *id,
		     bool *node_pass)
{
	*node_pass = false;
	lookup_exact(p, t->dst, id);
	if (id->kind == ID_NONE || id->kind == ID_SELF)
		return NN_R_UNKNOWN_DST;
	if (id->state != NN_ST_ACTIVE)
		return NN_R_REVOKED;
	if (id->kind == ID_NODE) {
		if (!is_self(p, t->src))
			return NN_R_NO_TRANSIT;
		*node_pass = true;
	}
	return NN_PASS;
}

/* Steps 3-4 toward device @dst (which passed step 1). */
static int into_policy(const struct nn_policy *p, const struct ident *dst,
		       const struct nn_mtuple *t, int32_t *rule)
{
	uint32_t net = p->devices[dst->idx].network;
	int64_t src_dev = -1;
	struct ident src;
	enum owner own;

	*rule = -1;
	lookup_exact(p, t->src, &src);
	if (src.kind == ID_DEVICE) {
		own = owner_of(p, net, p->devices[src.idx].network);
		if (own == OWN_OTHER_TENANT)
			return NN_R_CROSS_TENANT;
		if (own == OWN_OTHER_NET)
			return NN_R_CROSS_NETWORK;
		if (src.state != NN_ST_ACTIVE)
			return NN_R_REVOKED;
		src_dev = (int64_t)src.idx;
	} else if (src.kind == ID_NONE) {
		/* Only an address that is no identity is looked up by prefix. */
		own = resource_owner(p, net, t->src);
		if (own == OWN_CLOSED)
			return NN_R_SPOOF;
		if (own == OWN_OTHER_TENANT)
			return NN_R_CROSS_TENANT;
		if (own == OWN_OTHER_NET)
			return NN_R_CROSS_NETWORK;
	}
	return acl(p, net, src_dev, t, DST_MEMBER, false, rule);
}

/* ---- Flows, ICMP errors, fragments ---- */

/*
 * A flow of an older epoch: judge its opening packet again, in its own
 * direction, by the policy steps only (From 1, 5-7; Into 1, 3-4), never by
 * flows, fragments or state.
 */
static bool rejudge(const struct nn_model *m, const struct nn_flow_key *k, const struct nn_flow *f)
{
	struct nn_mtuple t;
	struct ident id;
	bool flag;
	int32_t rule;
	int r;

	nn_mflow_opener(k, f, &t);
	if (f->opener_dir == NN_DIR_FROM_OVERLAY) {
		r = from_source(m->p, t.src, &id);
		if (r == NN_PASS)
			r = from_policy(m, &id, &t, &rule, &flag);
	} else {
		r = into_dest(m->p, &t, &id, &flag);
		if (r == NN_PASS && !flag)
			r = into_policy(m->p, &id, &t, &rule);
	}
	return r == NN_PASS;
}

/* A flow found for a packet: current, or brought to the current epoch by a
 * passing re-judgement. A failing one is deleted (revocation cuts at once). */
static bool flow_current(struct nn_model *m, const struct nn_flow_key *k, struct nn_flow *f)
{
	if (f->epoch == m->epoch)
		return true;
	if (!rejudge(m, k, f)) {
		nn_mflow_del(&m->flows, k);
		return false;
	}
	f->epoch = m->epoch;
	return true;
}

/* Step 3: an ICMP error quoting a tracked flow, sent toward the endpoint
 * that sent the quoted packet; from the overlay also sent by the quoted
 * packet's destination (devices do not route). Errors do not refresh the
 * flow: only the flow's own packets keep it alive. verdicts.md "ICMP
 * errors": like every packet of its flow, an error (Packet Too Big and
 * "fragmentation needed" included) quoting a flow of an older generation
 * first has the flow judged again; a cut flow carries no errors. */
static bool tracked_error(struct nn_model *m, const struct nn_mpkt *pk, enum nn_dir dir,
			  uint64_t now_ns)
{
	struct nn_flow_key k;
	struct nn_flow *f;
	bool is_b;

	if (!pk->quote_flowable || !addr_eq(pk->quote.src, pk->t.dst))
		return false;
	if (dir == NN_DIR_FROM_OVERLAY && !addr_eq(pk->quote.dst, pk->t.src))
		return false;
	nn_mflow_key(&pk->quote, &k, &is_b);
	f = nn_mflow_find(&m->flows, &k, now_ns);
	if (!f)
		return false;
	return flow_current(m, &k, f);
}

/* Only echo and non-ICMP protocols have flows (datapath.md "Flows"). */
static bool has_flow_key(const struct nn_mpkt *pk)
{
	return !pk->icmp || pk->echo;
}

/* Steps 3-4: true when a tracked flow (or tracked error) passes @pk. */
static bool tracked(struct nn_model *m, const struct nn_mpkt *pk, enum nn_dir dir, uint64_t now_ns)
{
	struct nn_flow_key k;
	struct nn_flow *f;
	bool is_b;

	if (pk->icmp_err)
		return tracked_error(m, pk, dir, now_ns);
	if (!has_flow_key(pk))
		return false;
	nn_mflow_key(&pk->t, &k, &is_b);
	f = nn_mflow_find(&m->flows, &k, now_ns);
	if (!f || !flow_current(m, &k, f))
		return false;
	nn_mflow_update(f, &pk->t, pk->tcp_flags, now_ns);
	return true;
}

/* Step 8 (Into 5): a passed opener records its flow. */
static void record_flow(struct nn_model *m, const struct nn_mpkt *pk, enum nn_dir dir,
			uint64_t now_ns)
{
	struct nn_flow_key k;
	struct nn_flow *f;
	bool is_b;

	if (pk->icmp_err || !has_flow_key(pk))
		return;
	nn_mflow_key(&pk->t, &k, &is_b);
	f = nn_mflow_put(&m->flows, &k);
	if (!f)
		return;
	f->epoch = m->epoch;
	f->opener_is_b = is_b;
	f->opener_dir = (uint8_t)dir;
	f->state = NN_FS_NEW;
	nn_mflow_update(f, &pk->t, pk->tcp_flags, now_ns);
}

static void record_frag(struct nn_model *m, const struct nn_mpkt *pk, int reason, uint64_t now_ns)
{
	struct nn_frag_key k;
	struct nn_frag *fr;

	nn_mfrag_key(pk, &k);
	fr = nn_mfrag_put(&m->frags, &k);
	if (!fr)
		return;
	fr->seen_ns = now_ns;
	fr->reason = (uint8_t)reason;
	fr->epoch = m->epoch;
}

/* Step 2: a later fragment follows its first fragment, or is dropped; the
 * first fragment's verdict holds only within the generation it was reached
 * in (verdicts.md "Fragments"). */
static int later_fragment(struct nn_model *m, const struct nn_mpkt *pk, uint64_t now_ns)
{
	struct nn_frag_key k;
	struct nn_frag *fr;

	nn_mfrag_key(pk, &k);
	fr = nn_mfrag_find(&m->frags, &k, now_ns);
	return fr && fr->epoch == m->epoch ? fr->reason : NN_R_FRAGMENT;
}

static void judge_from(struct nn_model *m, const struct nn_mpkt *pk, uint64_t now_ns,
		       struct nn_model_verdict *v)
{
	struct ident src;
	bool no_flow;

	v->reason = from_source(m->p, pk->t.src, &src);
	if (v->reason != NN_PASS)
		return;
	if (pk->frag_later) {
		v->reason = later_fragment(m, pk, now_ns);
		return;
	}
	if (tracked(m, pk, NN_DIR_FROM_OVERLAY, now_ns)) {
		v->flow_hit = true;
	} else {
		v->reason = from_policy(m, &src, &pk->t, &v->rule, &no_flow);
		if (v->reason == NN_PASS && !no_flow)
			record_flow(m, pk, NN_DIR_FROM_OVERLAY, now_ns);
	}
	if (pk->frag_first)
		record_frag(m, pk, v->reason, now_ns);
}

/*
 * Verdicts of step 1 (destination) are not recorded for first fragments:
 * a later fragment goes through step 1 itself and gets the same answer.
 */
static void judge_into(struct nn_model *m, const struct nn_mpkt *pk, uint64_t now_ns,
		       struct nn_model_verdict *v)
{
	struct ident dst;
	bool node_pass;

	v->reason = into_dest(m->p, &pk->t, &dst, &node_pass);
	if (v->reason != NN_PASS || node_pass)
		return;
	if (pk->frag_later) {
		v->reason = later_fragment(m, pk, now_ns);
		return;
	}
	if (tracked(m, pk, NN_DIR_INTO_OVERLAY, now_ns)) {
		v->flow_hit = true;
	} else {
		v->reason = into_policy(m->p, &dst, &pk->t, &v->rule);
		if (v->reason == NN_PASS)
			record_flow(m, pk, NN_DIR_INTO_OVERLAY, now_ns);
	}
	if (pk->frag_first)
		record_frag(m, pk, v->reason, now_ns);
}

void nn_model_judge(struct nn_model *m, enum nn_dir dir, enum nn_framing framing,
		    const uint8_t *pkt, size_t len, uint64_t now_ns, struct nn_model_verdict *v)
{
	struct nn_mpkt pk;

	memset(v, 0, sizeof(*v));
	v->rule = -1;
	v->reason = nn_model_parse(framing, pkt, len, &pk);
	if (v->reason != NN_PASS)
		return;
	if (pk.untouched) {
		v->untouched = true;
		return;
	}
	if (dir == NN_DIR_FROM_OVERLAY)
		judge_from(m, &pk, now_ns, v);
	else
		judge_into(m, &pk, now_ns, v);
}

/* ---- Life cycle ---- */

struct nn_model *nn_model_new(const struct nn_policy *p)
{
	struct nn_model *m = calloc(1, sizeof(*m));

	if (!m)
		goto err;
	if (nn_mtab_init(&m->flows))
		goto err_free;
	if (nn_mtab_init(&m->frags))
		goto err_flows;
	m->p = p;
	m->epoch = 1;
	return m;

err_flows:
	nn_mtab_free(&m->flows);
err_free:
	free(m);
err:
	errno = ENOMEM;
	return NULL;
}

void nn_model_free(struct nn_model *m)
{
	if (!m)
		return;
	nn_mtab_free(&m->flows);
	nn_mtab_free(&m->frags);
	free(m->host);
	free(m);
}

static bool addr_in(const uint8_t (*v)[NN_ADDR_LEN], size_t n, const uint8_t *a)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (addr_eq(v[i], a))
			return true;
	return false;
}

int nn_model_set_host_addrs(struct nn_model *m, const uint8_t (*addrs)[NN_ADDR_LEN], size_t n)
{
	uint8_t(*copy)[NN_ADDR_LEN] = NULL;
	bool same = true;
	size_t i;

	/* The same set again changes nothing: no new generation. */
	for (i = 0; i < n && same; i++)
		same = addr_in((const uint8_t(*)[NN_ADDR_LEN])m->host, m->n_host, addrs[i]);
	for (i = 0; i < m->n_host && same; i++)
		same = addr_in(addrs, n, m->host[i]);
	if (same)
		return 0;

	if (n) {
		copy = malloc(n * NN_ADDR_LEN);
		if (!copy) {
			errno = ENOMEM;
			return -1;
		}
		memcpy(copy, addrs, n * NN_ADDR_LEN);
	}
	free(m->host);
	m->host = copy;
	m->n_host = n;
	m->epoch++;
	return 0;
}

void nn_model_set_policy(struct nn_model *m, const struct nn_policy *p)
{
	m->p = p;
	m->epoch++;
}

uint32_t nn_model_epoch(const struct nn_model *m)
{
	return m->epoch;
}

void nn_model_flush_flows(struct nn_model *m)
{
	nn_mtab_clear(&m->flows);
	nn_mtab_clear(&m->frags);
}

size_t nn_model_flow_count(const struct nn_model *m)
{
	return m->flows.n;
}

size_t nn_model_frag_count(const struct nn_model *m)
{
	return m->frags.n;
}
