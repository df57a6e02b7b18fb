/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/*
 * policy.bpf.h - who is this address, and what does the ACL say. Every
 * step is a hash or LPM lookup: nothing here loops over devices, rules or
 * prefixes (the compiler, user/compile/compile.c, did that work once per snapshot).
 * Steps and reasons: docs/datapath.md "From the overlay" / "Into the overlay".
 */
#ifndef NANAMI_POLICY_BPF_H
#define NANAMI_POLICY_BPF_H

#include "flow.bpf.h"

static __always_inline struct nn_addr_info *nn_addr_lookup(__u32 slot, const __u8 *addr)
{
	struct nn_addr_key k;

	k.slot = slot;
	nn_copy16(k.addr, addr);
	return bpf_map_lookup_elem(&nn_addrs, &k);
}

/* @addr masked to its first @len bits, into @out. */
static __always_inline void nn_mask16(__u8 *out, const __u8 *addr, __u32 len)
{
	__u64 hi, lo;

	__builtin_memcpy(&hi, addr, 8);
	__builtin_memcpy(&lo, addr + 8, 8);
	hi = bpf_be64_to_cpu(hi);
	lo = bpf_be64_to_cpu(lo);
	if (len == 0) {
		hi = 0;
		lo = 0;
	} else if (len < 64) {
		hi &= ~0ull << (64 - len);
		lo = 0;
	} else if (len == 64) {
		lo = 0;
	} else if (len < 128) {
		lo &= ~0ull << (128 - len);
	}
	hi = bpf_cpu_to_be64(hi);
	lo = bpf_cpu_to_be64(lo);
	__builtin_memcpy(out, &hi, 8);
	__builtin_memcpy(out + 8, &lo, 8);
}

/*
 * Longest prefix in @scope covering @addr, or NULL: one exact-match lookup
 * per prefix length in use (longest first), the LPM trie only for a scope
 * with more lengths than NN_MAX_PFX_LENS.
 */
static __always_inline struct nn_prefix_info *nn_prefix_lookup(__u32 scope, const __u8 *addr)
{
	struct nn_pfx_lens_key lk = { .scope = scope };
	struct nn_prefix_info *pi;
	struct nn_pfx_lens *ln;
	struct nn_pfx_key k = {};
	__u8 *lens;
	__u32 n, i;

	if (!addr)
		return NULL;
	ln = bpf_map_lookup_elem(&nn_pfx_lens, &lk);
	if (!ln)
		return NULL;
	if (ln->use_trie) {
		struct nn_prefix_key tk;

		tk.prefixlen = NN_SCOPE_BITS + 128;
		tk.scope = scope;
		nn_copy16(tk.addr, addr);
		return bpf_map_lookup_elem(&nn_prefixes, &tk);
	}
	/* IPv4 (mapped) addresses only ever match IPv4 prefixes. */
	if (nn_is_v4mapped(addr)) {
		n = ln->n4;
		lens = ln->len4;
	} else {
		n = ln->n6;
		lens = ln->len6;
	}
	k.scope = scope;
	for (i = 0; i < NN_MAX_PFX_LENS; i++) {
		if (i >= n)
			break;
		k.len = lens[i];
		nn_mask16(k.addr, addr, k.len);
		pi = bpf_map_lookup_elem(&nn_pfx_hash, &k);
		if (pi)
			return pi;
	}
	return NULL;
}

/* First deny and first allow (lowest rule index) over the cells consulted. */
struct nn_acl {
	__u32 deny;
	__u32 allow;
};

/* The range of @rs (@n used of @cap, a power of two) covering @port, or
 * NULL. Ranges are sorted and disjoint: a binary search of at most @steps
 * (log2(@cap)+1) steps. Inlined with constant @cap and @steps, so the
 * verifier sees a bounded index and a loop it can unroll. */
static __always_inline struct nn_port_range *
nn_ranges_find(struct nn_port_range *rs, __u32 n, const __u32 cap, const __u32 steps, __u32 port)
{
	__u32 lo = 0, hi = n, mid, i;

	if (hi > cap)
		hi = cap;
	for (i = 0; i < steps; i++) {
		struct nn_port_range *r;

		if (lo >= hi)
			return NULL;
		mid = (lo + hi) / 2;
		r = &rs[mid & (cap - 1)];
		if (port < r->lo)
			hi = mid;
		else if (port > r->hi)
			lo = mid + 1;
		else
			return r;
	}
	return NULL;
}

static __always_inline struct nn_port_range *nn_cell_find(struct nn_cell *cell, __u32 port)
{
	return nn_ranges_find(cell->r, cell->n, NN_MAX_PORT_RANGES, 6, port);
}

/*
 * The deny and allow rule (deny << 32 | allow, NN_NONE32 each when none) of
 * the range covering cell_port in the cell of cell_key, both in nn_scratch
 * (nn_cell_try() writes them). A cell with more ranges than one entry holds
 * is a tree (nanami_abi.h): at most NN_CELL_DEPTH lookups down to the leaf,
 * each followed by one binary search, plus one lookup when the protocol
 * falls back to NN_PROTO_ANY. No arguments and no stack: older verifiers
 * (6.1) refuse a pointer argument (PTR_TO_MEM) as a map key, and a frame of
 * its own here would pass the 512 bytes the deepest call chain may use
 * (main, nn_rejudge, nn_judge_from, this one).
 * A global (non-inlined) function: the verifier checks it once, not once per
 * call site, which keeps the programs far under the complexity limit.
 */
/* One level of the descent: the next node, or NULL when done (a leaf's
 * match, if any, is in s->cell_result). */
static __always_inline struct nn_cell *nn_cell_step(struct nn_scratch *s, struct nn_cell *cell)
{
	struct nn_port_range *r;

	if (!cell)
		return NULL;
	r = nn_cell_find(cell, s->cell_port);
	if (!r)
		return NULL;
	if (!cell->index) {
		s->cell_result = (__u64)r->deny << 32 | r->allow;
		return NULL;
	}
	s->cell_key.part = r->deny;
	return bpf_map_lookup_elem(&nn_policy, &s->cell_key);
}

/* The range of small cell @c covering @port, or NULL (three steps). */
static __always_inline struct nn_port_range *nn_cell4_find(struct nn_cell4 *c, __u32 port)
{
	return nn_ranges_find(c->r, c->n, NN_CELL4_RANGES, 3, port);
}

/* The cell's root in nn_cells4 decides where it is: absent (no cell, the
 * same misses as before), whole (the common case: one lookup, as before),
 * or a marker for nn_policy (one lookup more, big cells only). */
__noinline __u64 nn_cell_eval(void)
{
	struct nn_port_range *r;
	struct nn_scratch *s;
	struct nn_cell4 *small;
	struct nn_cell *cell;
	__u32 maybe;

	s = bpf_map_lookup_elem(&nn_scratch, &nn_scratch_key);
	if (!s)
		return ~0ull;
	s->cell_result = ~0ull;
	maybe = s->cell_maybe;
	small = NULL;
	if (maybe & 1)
		small = bpf_map_lookup_elem(&nn_cells4, &s->cell_key);
	if (!small && (maybe & 2)) {
		s->cell_key.proto = NN_PROTO_ANY;
		small = bpf_map_lookup_elem(&nn_cells4, &s->cell_key);
	}
	if (!small)
		return s->cell_result;
	if (small->index != NN_CELL4_BIG) {
		r = nn_cell4_find(small, s->cell_port);
		if (r)
			s->cell_result = (__u64)r->deny << 32 | r->allow;
		return s->cell_result;
	}
	cell = bpf_map_lookup_elem(&nn_policy, &s->cell_key);
	/* NN_CELL_DEPTH (4) levels, spelt out: no loop counter to keep. */
	cell = nn_cell_step(s, cell);
	cell = nn_cell_step(s, cell);
	cell = nn_cell_step(s, cell);
	nn_cell_step(s, cell);
	return s->cell_result;
}

/*
 * Which of the cells in s->cell_pair (those in s->cell_want) may exist, for
 * the protocol s->cell_proto: 2 bits a cell into s->cell_may (bit 2i its
 * protocol, bit 2i + 1 its `any`), from the source filter's line of its two
 * classes (a cell's bits lie in that line alone). One call for every cell
 * an ACL evaluation may consult: most of them, on an ACL drop, surely do
 * not exist and then cost nn_cell_eval no call. Global and argument-free
 * for nn_cell_eval's reasons; only called with a usable filter
 * (s->cf_line0).
 */
__noinline int nn_cells_maybe(void)
{
	struct nn_scratch *s = bpf_map_lookup_elem(&nn_scratch, &nn_scratch_key);
	struct nn_srcf_line *ln;
	__u32 i, may = 0;
	__u64 h, pair;

	/* The loop below is unrolled: constant shifts and offsets, and no
	 * loop counter to keep across the line lookups. */
	if (!s)
		return 0;
#pragma unroll
	for (i = 0; i < 6; i++) {
		if (!(s->cell_want & (1u << i)))
			continue;
		pair = s->cell_pair[i];
		h = nn_cellf_hash((__u32)(pair >> 32), (__u32)pair);
		s->cell_line = s->cf_line0 + ((__u32)(h >> 32) & (nn_srcf_lines - 1));
		ln = bpf_map_lookup_elem(&nn_srcf, &s->cell_line);
		if (!ln) {
			may |= 3u << (2 * i);
			continue;
		}
		may |= (nn_srcf_has(ln->w, nn_cellf_bits(h, s->cell_proto)) |
			nn_srcf_has(ln->w, nn_cellf_bits(h, NN_PROTO_ANY)) << 1)
		       << (2 * i);
	}
	s->cell_may = may;
	return 0;
}

/* Cell @i of s->cell_pair, of which @maybe (nn_cells_maybe's 2 bits) may
 * exist, into @acl. The key's slot and the port are written once by
 * nn_acl_eval; nn_cell_eval changes only the protocol and the part. */
static __always_inline void nn_cell_try(struct nn_scratch *s, __u32 i, __u32 maybe,
					struct nn_acl *acl)
{
	__u64 v, pair = s->cell_pair[i];

	s->cell_key.src_class = (__u32)(pair >> 32);
	s->cell_key.dst_class = (__u32)pair;
	s->cell_key.proto = s->cell_proto;
	s->cell_key.part = 0;
	s->cell_maybe = maybe;
	v = nn_cell_eval();
	if ((__u32)(v >> 32) < acl->deny)
		acl->deny = (__u32)(v >> 32);
	if ((__u32)v < acl->allow)
		acl->allow = (__u32)v;
}

static __always_inline __u16 nn_acl_port(struct nn_pkt *p)
{
	return (p->proto == NN_IPPROTO_TCP || p->proto == NN_IPPROTO_UDP) ? p->dport : 0;
}

static __always_inline __u64 nn_cell_pair(__u32 sc, __u32 dc)
{
	return (__u64)sc << 32 | dc;
}

/*
 * The ACL of network @net for the source address @si (its named and group
 * classes and their flags) and destination class @dc (with its flags).
 * @member: the destination is a device or resource of the network, so "*"
 * destinations apply. At most six cells; with a usable source filter, one
 * call asks it which of them may exist, and only those are evaluated (each
 * one hash lookup, two when the protocol has no cell of its own).
 */
static __always_inline struct nn_acl nn_acl_eval(__u32 slot, __u32 net, struct nn_addr_info *si,
						 __u32 dc, __u8 dflags, int member,
						 struct nn_pkt *p)
{
	struct nn_acl acl = { .deny = NN_NONE32, .allow = NN_NONE32 };
	struct nn_scratch *s = bpf_map_lookup_elem(&nn_scratch, &nn_scratch_key);
	__u32 star = NN_CLASS_STAR(net), sc = si->src_class, gc = si->src_gclass;
	__u32 want = 0, may = 0, i;
	__u8 sflags = si->flags;

	if (!s)
		return acl;
	if (dc != NN_CLASS_NONE) {
		if (sc != NN_CLASS_NONE) {
			s->cell_pair[0] = nn_cell_pair(sc, dc);
			want |= 1;
		}
		if (gc != NN_CLASS_NONE && gc != sc) {
			s->cell_pair[1] = nn_cell_pair(gc, dc);
			want |= 2;
		}
		if (dflags & NN_AF_CELL_STAR_D) {
			s->cell_pair[2] = nn_cell_pair(star, dc);
			want |= 4;
		}
	}
	if (member) {
		if (sc != NN_CLASS_NONE && (sflags & NN_AF_CELL_S_STAR)) {
			s->cell_pair[3] = nn_cell_pair(sc, star);
			want |= 8;
		}
		if (gc != NN_CLASS_NONE && gc != sc && (sflags & NN_AF_CELL_G_STAR)) {
			s->cell_pair[4] = nn_cell_pair(gc, star);
			want |= 16;
		}
		if (sflags & NN_AF_CELL_STAR_STAR) {
			s->cell_pair[5] = nn_cell_pair(star, star);
			want |= 32;
		}
	}
	s->cell_key.slot = (__u8)slot;
	s->cell_key.pad = 0;
	s->cell_port = nn_acl_port(p);
	s->cell_proto = p->proto;
	if (want && s->cf_line0) {
		s->cell_want = want;
		nn_cells_maybe();
		may = s->cell_may;
	} else {
		/* No usable filter: every wanted cell may exist. */
		for (i = 0; i < 6; i++)
			if (want & (1u << i))
				may |= 3u << (2 * i);
	}
	for (i = 0; i < 6; i++)
		if ((may >> (2 * i)) & 3)
			nn_cell_try(s, i, (may >> (2 * i)) & 3, &acl);
	return acl;
}

static __always_inline void nn_acl_verdict(struct nn_acl acl, struct nn_judgement *j)
{
	if (acl.deny != NN_NONE32) {
		j->reason = NN_R_ACL_DENY;
		j->rule = acl.deny;
	} else if (acl.allow != NN_NONE32) {
		j->reason = NN_PASS;
		j->rule = acl.allow;
	} else {
		j->reason = NN_R_ACL_DEFAULT_DENY;
	}
}

/*
 * A destination never valid from the overlay (verdicts.md): loopback,
 * unspecified, link-local unicast, multicast, IPv4 limited broadcast,
 * 0.0.0.0/8 and 240.0.0.0/4. IPv4 arrives IPv4-mapped: 224.0.0.0/4,
 * 240.0.0.0/4 and 255.255.255.255 are one test, first byte >= 224.
 */
static __always_inline int nn_is_martian(const __u8 *a)
{
	__u64 hi, lo;

	if (nn_is_v4mapped(a))
		return a[12] == 0 || a[12] == 127 || (a[12] == 169 && a[13] == 254) || a[12] >= 224;
	if (a[0] == 0xff || (a[0] == 0xfe && (a[1] & 0xc0) == 0x80))
		return 1;
	__builtin_memcpy(&hi, a, 8);
	__builtin_memcpy(&lo, a + 8, 8);
	return hi == 0 && bpf_be64_to_cpu(lo) <= 1; /* :: and ::1 */
}

/* One of this gateway host's own non-overlay addresses (nn_local)? */
static __always_inline int nn_is_host_addr(const __u8 *a)
{
	struct nn_local_key k;

	nn_copy16(k.addr, a);
	return bpf_map_lookup_elem(&nn_local, &k) != NULL;
}

/* This gateway's address or the internet: only ACL dst prefixes of the
 * source's network can name it. */
static __always_inline struct nn_acl nn_acl_outside(__u32 slot, struct nn_addr_info *si,
						    struct nn_pkt *p)
{
	struct nn_prefix_info *pi = nn_prefix_lookup(NN_SCOPE(slot, si->network), p->dst);
	struct nn_acl none = { .deny = NN_NONE32, .allow = NN_NONE32 };

	if (!pi)
		return none;
	return nn_acl_eval(slot, si->network, si, pi->dst_class, pi->flags, 0, p);
}

/*
 * From the overlay, steps 5-7, for a source that passed step 1 (@si: an
 * active device or node). @p may be a real packet or a flow's opener.
 * Global, so it is verified once (see nn_cell_eval).
 */
__noinline int nn_judge_from(__u32 slot, struct nn_addr_info *si, struct nn_pkt *p,
			     struct nn_judgement *j)
{
	struct nn_addr_info *di;
	struct nn_prefix_info *pi;
	struct nn_acl acl;

	if (!si || !p || !j)
		return 0;
	j->rule = NN_NONE32;
	di = nn_addr_lookup(slot, p->dst);
	if (di)
		j->dst_kind = di->kind;

	if (si->kind == NN_AK_NODE) {
		j->reason = (di && di->kind == NN_AK_SELF) ? NN_PASS : NN_R_NO_TRANSIT;
		return 0;
	}
	if (di) {
		if (di->kind == NN_AK_SELF) {
			nn_acl_verdict(nn_acl_outside(slot, si, p), j);
			return 0;
		}
		if (di->kind == NN_AK_NODE) {
			j->reason = NN_R_NO_TRANSIT;
			return 0;
		}
		if (di->tenant != si->tenant) {
			j->reason = NN_R_CROSS_TENANT;
			return 0;
		}
		if (di->network != si->network) {
			j->reason = NN_R_CROSS_NETWORK;
			return 0;
		}
		if (di->state != NN_ST_ACTIVE) {
			j->reason = NN_R_REVOKED;
			return 0;
		}
		acl = nn_acl_eval(slot, si->network, si, di->dst_class, di->flags, 1, p);
		nn_acl_verdict(acl, j);
		return 0;
	}
	pi = nn_prefix_lookup(NN_SCOPE(slot, 0), p->dst);
	if (pi && pi->kind != NN_PK_HOLE) {
		j->dst_kind = NN_DK_PREFIX_BASE + pi->kind;
		if (pi->kind == NN_PK_OVERLAY) {
			j->reason = NN_R_UNKNOWN_DST;
			return 0;
		}
		if (pi->tenant != si->tenant) {
			j->reason = NN_R_CROSS_TENANT;
			return 0;
		}
		if (pi->network != si->network) {
			j->reason = NN_R_CROSS_NETWORK;
			return 0;
		}
		acl = nn_acl_eval(slot, si->network, si, pi->dst_class, pi->flags, 1, p);
		nn_acl_verdict(acl, j);
		return 0;
	}
	/* The gateway host's own addresses, like its overlay address: a device
	 * never reaches the host's services by accident. */
	if (nn_is_host_addr(p->dst)) {
		j->dst_kind = NN_DK_HOST;
		nn_acl_verdict(nn_acl_outside(slot, si, p), j);
		return 0;
	}
	if (nn_is_martian(p->dst)) {
		j->dst_kind = NN_DK_MARTIAN;
		j->reason = NN_R_MARTIAN;
		return 0;
	}
	/* Internet-bound: the routing layers decide, then deny rules apply. */
	j->dst_kind = NN_DK_INTERNET;
	if (!(si->flags & NN_AF_EGRESS)) {
		j->reason = NN_R_NO_EGRESS;
		return 0;
	}
	acl = nn_acl_outside(slot, si, p);
	if (acl.deny != NN_NONE32) {
		j->reason = NN_R_ACL_DENY;
		j->rule = acl.deny;
		return 0;
	}
	j->reason = NN_PASS;
	return 0;
}

/* From the overlay, step 1: the source. NULL (reason set) when it fails. */
static __always_inline struct nn_addr_info *nn_check_src(__u32 slot, const __u8 *src,
							 struct nn_judgement *j)
{
	struct nn_addr_info *si = nn_addr_lookup(slot, src);

	if (!si || si->kind == NN_AK_SELF) {
		j->reason = NN_R_SPOOF;
		return NULL;
	}
	j->src_kind = si->kind;
	j->dev_slot = si->stat_slot;
	j->tenant = si->tenant;
	j->network = si->network;
	if (si->state != NN_ST_ACTIVE) {
		j->reason = NN_R_REVOKED;
		return NULL;
	}
	return si;
}

/* Into the overlay, step 1: the destination. NULL (reason set) when the
 * packet is decided here; for a node that means pass or no_transit. */
static __always_inline struct nn_addr_info *nn_check_dst(__u32 slot, struct nn_pkt *p,
							 struct nn_judgement *j)
{
	struct nn_addr_info *di = nn_addr_lookup(slot, p->dst);
	struct nn_addr_info *si;

	if (!di || di->kind == NN_AK_SELF) {
		j->reason = NN_R_UNKNOWN_DST;
		return NULL;
	}
	j->dst_kind = di->kind;
	j->dev_slot = di->stat_slot;
	j->tenant = di->tenant;
	j->network = di->network;
	if (di->state != NN_ST_ACTIVE) {
		j->reason = NN_R_REVOKED;
		return NULL;
	}
	if (di->kind == NN_AK_NODE) {
		si = nn_addr_lookup(slot, p->src);
		j->reason = (si && si->kind == NN_AK_SELF) ? NN_PASS : NN_R_NO_TRANSIT;
		return NULL;
	}
	return di;
}

/* Into the overlay, steps 3-4, toward an active device @di. Global. */
__noinline int nn_judge_into(__u32 slot, struct nn_addr_info *di, struct nn_pkt *p,
			     struct nn_judgement *j)
{
	struct nn_addr_info *si;
	struct nn_prefix_info *pi;

	if (!di || !p || !j)
		return 0;
	j->rule = NN_NONE32;
	si = nn_addr_lookup(slot, p->src);
	if (si) {
		j->src_kind = si->kind;
		if (si->kind != NN_AK_DEVICE) {
			j->reason = NN_R_ACL_DEFAULT_DENY;
			return 0;
		}
		if (si->tenant != di->tenant) {
			j->reason = NN_R_CROSS_TENANT;
			return 0;
		}
		if (si->network != di->network) {
			j->reason = NN_R_CROSS_NETWORK;
			return 0;
		}
		if (si->state != NN_ST_ACTIVE) {
			j->reason = NN_R_REVOKED;
			return 0;
		}
		nn_acl_verdict(nn_acl_eval(slot, di->network, si, di->dst_class, di->flags, 1, p),
			       j);
		return 0;
	}
	pi = nn_prefix_lookup(NN_SCOPE(slot, 0), p->src);
	/* The space of a dropped entry sends nothing (closed space). */
	if (pi && (pi->flags & NN_PF_CLOSED)) {
		j->reason = NN_R_SPOOF;
		return 0;
	}
	if (pi && pi->kind == NN_PK_RESOURCE) {
		if (pi->tenant != di->tenant) {
			j->reason = NN_R_CROSS_TENANT;
			return 0;
		}
		if (pi->network != di->network) {
			j->reason = NN_R_CROSS_NETWORK;
			return 0;
		}
	}
	/* Rules name only devices as sources: nothing else can be allowed. */
	j->reason = NN_R_ACL_DEFAULT_DENY;
	return 0;
}

#endif /* NANAMI_POLICY_BPF_H */
