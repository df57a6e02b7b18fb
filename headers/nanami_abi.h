/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/*
 * nanami_abi.h - the one definition of everything BPF programs and user space
 * share: map keys and values, limits, enums, map and pin names.
 *
 * Rules for this file (it is an ABI: pinned maps outlive the controller):
 *  - fixed-width types only, explicit padding, no pointers, no bool;
 *  - every struct's size is pinned by _Static_assert in user/dp/abi_check.c;
 *  - a field is never reused for another meaning; add new ones at the end.
 *
 * Addresses are always 16 bytes: IPv6 as is, IPv4 as an IPv4-mapped IPv6
 * address (::ffff:a.b.c.d), so one map serves both families and an IPv4
 * /N prefix is the IPv6 prefix /(96+N).
 */
#ifndef NANAMI_ABI_H
#define NANAMI_ABI_H

#ifdef __BPF__
/* BPF side: vmlinux.h already defines __u8.. __u64. */
#else
#include <linux/types.h>
#endif

/* ---- Names operators and scripts depend on (interfaces.md) ---- */
#define NN_PIN_ROOT "/sys/fs/bpf/nanami"
#define NN_UNDERLAY_SUBDIR "underlay"

/* ---- Limits ---- */
#define NN_ADDR_LEN 16
#define NN_NAME_MAX 64	      /* ids (device, rule, tenant...) incl. NUL */
#define NN_MAX_PORT_RANGES 32 /* port ranges per policy map entry (a cell's tree node) */
#define NN_CELL_DEPTH 4	      /* tree levels: 32^4 > the 65536 ranges a cell can have */
#define NN_MAX_EXT_HDRS 8     /* IPv6 extension headers walked before "malformed" */
#define NN_PULL_LEN 64	      /* bytes TC makes linear: Ethernet + VLAN + IPv6 */

/* Defaults for the configurable maxima (controller flags override). */
#define NN_DEF_MAX_DEVICES 131072
#define NN_DEF_MAX_RULES 131072
#define NN_DEF_MAX_PREFIXES 262144
#define NN_DEF_MAX_CELLS 524288
#define NN_DEF_MAX_FLOWS 1048576
#define NN_DEF_MAX_FRAGS 65536
/* nn_denied: flows the policy dropped, remembered: entries of 64 bytes, all
 * CPUs' (16 MB, what the LRU table of 131,072 128-byte elements took) */
#define NN_DEF_MAX_DENIED 262144

/* ---- Drop reasons: stable enum, names in nn_reason_name() (user/lib/names.c) ---- */
enum nn_reason {
	NN_PASS = 0, /* not a drop: the verdict was pass */
	NN_R_MALFORMED = 1,
	NN_R_SPOOF = 2,
	NN_R_REVOKED = 3,
	NN_R_NO_TRANSIT = 4,
	NN_R_CROSS_TENANT = 5,
	NN_R_CROSS_NETWORK = 6,
	NN_R_UNKNOWN_DST = 7,
	NN_R_NO_EGRESS = 8,
	NN_R_ACL_DENY = 9,
	NN_R_ACL_DEFAULT_DENY = 10,
	NN_R_FRAGMENT = 11,
	NN_R_WG_MALFORMED = 12,
	NN_R_WG_HANDSHAKE_RATE = 13,
	NN_R_MARTIAN = 14,    /* a destination never valid from the overlay */
	NN_R_FLOW_LIMIT = 15, /* the device's new-state budget is spent (nn_flowlim) */
	NN_R_MAX = 16,	      /* reasons are only ever appended: never renumber */
};

/* Capacity of the per-reason counter maps (nn_drops, nn_wg_drops): room for
 * reasons added later, so that an upgrade adding one still adopts the maps
 * pinned by the previous build (a pinned map's size cannot change). */
#define NN_R_SLOTS 64

/* Direction is the attach point, never a guess. */
enum nn_dir {
	NN_DIR_FROM_OVERLAY = 0, /* a peer sent it (wg0 ingress) */
	NN_DIR_INTO_OVERLAY = 1, /* the host routes it to a peer (wg0 egress) */
	NN_DIR_MAX = 2,
};

/* Framing, fixed at load time (rodata), never guessed per packet. */
enum nn_framing {
	NN_FRAMING_L3 = 0,  /* wg0: packets start at the IP header */
	NN_FRAMING_ETH = 1, /* veth: Ethernet header, optional one 802.1Q tag */
};

/* ---- Generation switch ----
 * Every policy map key carries a slot (0 or 1). The programs read the epoch
 * once per packet from nn_active and use slot = epoch & 1 for every lookup,
 * so one 4-byte write flips the whole policy (identities, prefixes, cells,
 * rules) at once. Epoch 0 means "nothing applied": slot 0 is empty and every
 * packet from the overlay is dropped as spoof (deny by default).
 */
struct nn_active {
	__u32 epoch;
};

#define NN_SLOT(epoch) ((epoch)&1)

/* ---- Identity of an exact overlay address (nn_addrs) ---- */
enum nn_addr_kind {
	NN_AK_DEVICE = 1,
	NN_AK_NODE = 2, /* another overlay node (infrastructure) */
	NN_AK_SELF = 3, /* this gateway's own overlay address */
};

enum nn_state {
	NN_ST_ACTIVE = 1,
	NN_ST_DISABLED = 2,
};

/* nn_addr_info.flags */
#define NN_AF_EGRESS 0x01	  /* device may leave to the internet through this gateway */
#define NN_AF_CELL_S_STAR 0x02	  /* policy cell (src_class, STAR(net)) exists */
#define NN_AF_CELL_STAR_STAR 0x04 /* policy cell (STAR(net), STAR(net)) exists */
#define NN_AF_CELL_STAR_D 0x08	  /* policy cell (STAR(net), dst_class) exists */
#define NN_AF_CELL_G_STAR 0x10	  /* policy cell (src_gclass, STAR(net)) exists */

/* Class ids: 0 = none. STAR(net) stands for '"*"' of that network (every
 * device as src; every device and resource as dst) so that "*" rules are not
 * multiplied into every class. */
#define NN_CLASS_NONE 0u
#define NN_CLASS_STAR_BIT 0x80000000u
#define NN_CLASS_STAR(net) (NN_CLASS_STAR_BIT | (net))

#define NN_NONE32 0xffffffffu /* "no rule", "no counter slot" */

struct nn_addr_key {
	__u32 slot;
	__u8 addr[NN_ADDR_LEN];
};

struct nn_addr_info {
	__u8 kind;  /* enum nn_addr_kind */
	__u8 state; /* enum nn_state */
	__u8 flags; /* NN_AF_* */
	__u8 pad;
	__u32 tenant;	  /* 1-based within the generation; 0 for nodes/self */
	__u32 network;	  /* 1-based, global; 0 for nodes/self */
	__u32 src_class;  /* ACL class of the device as a source named by
				 * device or user (NN_CLASS_NONE: none) */
	__u32 dst_class;  /* ACL class of this address as a destination */
	__u32 stat_slot;  /* counter slot (nn_dev_ctr), stable across generations */
	__u32 src_gclass; /* ACL class of the device as a source reached
				 * through its groups. Two source classes keep
				 * per-device rules from multiplying group rules
				 * into one cell per device. */
};

/* ---- Prefixes (nn_prefixes, one LPM trie, two scopes) ----
 * scope = slot << 31 | net. net 0 is the global scope: resource prefixes
 * (owner tenant/network) and overlay prefixes (assigned to nobody). net N is
 * network N's ACL destination prefixes, consulted only for destinations
 * outside the overlay and its resources (internet, this gateway). prefixlen
 * counts the 32 scope bits plus the address bits.
 */
#define NN_SCOPE(slot, net) (((__u32)(slot) << 31) | (__u32)(net))
#define NN_SCOPE_BITS 32

struct nn_prefix_key {
	__u32 prefixlen;
	__u32 scope; /* big-endian on the wire of the trie; see NN_SCOPE */
	__u8 addr[NN_ADDR_LEN];
};

enum nn_prefix_kind {
	NN_PK_RESOURCE = 1, /* a tenant's resource (or an ACL prefix inside one) */
	NN_PK_OVERLAY = 2,  /* inside overlay_prefixes, assigned to nobody */
	NN_PK_ACL = 3,	    /* an ACL dst prefix of the scope's network */
	NN_PK_HOLE = 4,	    /* ::ffff:0:0/96 under a short IPv6 prefix: not it */
};

/* nn_prefix_info.flags beyond NN_AF_CELL_STAR_D: an NN_PK_OVERLAY entry
 * that is the space of an entry validation dropped (closed: unknown_dst
 * toward it, spoof from it, in both directions). */
#define NN_PF_CLOSED 0x80

struct nn_prefix_info {
	__u8 kind;  /* enum nn_prefix_kind */
	__u8 flags; /* NN_AF_CELL_STAR_D for resources, NN_PF_CLOSED */
	__u16 pad;
	__u32 tenant;
	__u32 network;
	__u32 dst_class;
};

/*
 * The same prefixes as exact-match hashes, one per prefix length in use
 * (nn_pfx_hash), with the lengths of each scope and family listed longest
 * first (nn_pfx_lens). A lookup masks the address to each listed length in
 * turn: a handful of hash lookups whose cost does not grow with the number of
 * prefixes, where an LPM trie walks deeper as it fills. A scope with more
 * than NN_MAX_PFX_LENS lengths in a family falls back to the trie.
 */
#define NN_MAX_PFX_LENS 8

struct nn_pfx_key {
	__u32 scope; /* NN_SCOPE(slot, net) */
	__u8 len;    /* 0..128 */
	__u8 pad[3];
	__u8 addr[NN_ADDR_LEN]; /* masked to len */
};

struct nn_pfx_lens_key {
	__u32 scope; /* NN_SCOPE(slot, net) */
};

struct nn_pfx_lens {
	__u8 n4;       /* IPv4 (IPv4-mapped, >= /96) lengths */
	__u8 n6;       /* IPv6 lengths */
	__u8 use_trie; /* too many lengths: use nn_prefixes */
	__u8 pad;
	__u8 len4[NN_MAX_PFX_LENS]; /* longest first */
	__u8 len6[NN_MAX_PFX_LENS];
};

/* ---- Compiled ACL (nn_policy) ----
 * A cell is (src class, dst class, protocol). It holds disjoint, sorted
 * destination-port ranges, each with the first deny rule and the first
 * allow rule (in ACL order) that match there. Protocols without ports use one
 * range 0-65535. proto NN_PROTO_ANY holds rules with proto "any" for
 * protocols that have no cell of their own; a protocol's own cell already
 * includes the "any" rules.
 *
 * A cell of up to NN_MAX_PORT_RANGES ranges is one entry (part 0, a leaf).
 * A larger one is a tree in the same map: part 0 is the root, every entry
 * holds up to NN_MAX_PORT_RANGES ranges and an index entry's range i spans
 * the ports of its child part r[i].deny; leaves hold the ranges. At most
 * NN_CELL_DEPTH levels, so any rule set compiles, and a packet's cell costs
 * at most NN_CELL_DEPTH lookups (plus one for the "any" fallback).
 *
 * Small cells (nn_cells4): at 100k devices 88 % of cells have at most
 * NN_CELL4_RANGES ranges, and a 392-byte nn_cell is a 512-byte kernel
 * object per element (2.45 GB of nn_policy at 1M devices). Every cell's
 * root key (part 0) is in nn_cells4, the only map the programs look up
 * first: a cell of at most NN_CELL4_RANGES ranges that is a leaf is there
 * in full (56 bytes, a 128-byte object); any other cell is there as a
 * marker (index NN_CELL4_BIG, n 0) and in nn_policy (root and tree) as
 * above. So an absent or small cell costs the lookups it cost before (one
 * per protocol tried: its own, then NN_PROTO_ANY), a big one one more;
 * nn_policy holds only big cells.
 */
#define NN_PROTO_ANY 256

struct nn_cell_key {
	__u32 src_class;
	__u32 dst_class;
	__u16 proto;
	__u8 slot;
	__u8 pad;
	__u32 part; /* 0: the cell (the tree's root); else a node of its tree */
};

struct nn_port_range {
	__u16 lo;
	__u16 hi;
	__u32 deny;  /* rule index or NN_NONE32 */
	__u32 allow; /* rule index or NN_NONE32 */
};

struct nn_cell {
	__u32 n;     /* ranges used */
	__u32 index; /* 0: a leaf; 1: r[i] spans the ports of part r[i].deny */
	struct nn_port_range r[NN_MAX_PORT_RANGES];
};

#define NN_CELL4_RANGES 4 /* ranges of a small cell (nn_cells4) */
#define NN_CELL4_BIG 2	  /* nn_cell4.index: the cell is in nn_policy */

struct nn_cell4 {
	__u32 n;     /* ranges used; 0 in a marker */
	__u32 index; /* 0: a leaf, the whole cell; NN_CELL4_BIG: see nn_policy */
	struct nn_port_range r[NN_CELL4_RANGES];
};

/* Rule index -> counter slot: nn_rules[slot * max_rules + index]. Rule
 * indices follow ACL order within a network, so "first rule" is "lowest
 * index"; counter slots are stable across generations. */
struct nn_rule_info {
	__u32 stat_slot;
	__u32 network;
};

/* ---- Flow table (nn_flows): key and value ----
 * Key is canonical: endpoint a is the lower (address, port) of the two, so a
 * packet and its reply find the same entry with one lookup. ICMP echo uses
 * the echo id as both ports.
 */
struct nn_flow_key {
	__u8 a[NN_ADDR_LEN];
	__u8 b[NN_ADDR_LEN];
	__u16 aport;
	__u16 bport;
	__u8 proto;
	/* 0 in nn_flows (a flow serves both ways). In nn_denied, which of the
	 * key's packets the entry judged: NN_DENIED_SIDE(dir, is_b). */
	__u8 side;
	__u8 pad[2];
};

enum nn_flow_state {
	NN_FS_NEW = 1,	   /* seen one way only */
	NN_FS_EST = 2,	   /* seen both ways */
	NN_FS_CLOSING = 3, /* TCP FIN or RST seen */
};

struct nn_flow {
	__u64 last_seen_ns;
	__u32 epoch;	  /* policy epoch it was judged under */
	__u8 opener_is_b; /* the opening packet went b -> a */
	__u8 opener_dir;  /* enum nn_dir of the opening packet */
	__u8 state;	  /* enum nn_flow_state */
	__u8 pad;
	/* What the overlay-end check (the source from the overlay, the
	 * destination into it) found for the address at a (end[0]) and at b
	 * (end[1]), so that a packet of a current flow needs no address
	 * lookup (docs/datapath.md "Flow lookup first"). One 64-bit word
	 * each, written and read in one access, so that a tag is never seen
	 * half-updated: NN_FLOW_END(epoch, dirs, kind, counter slot). Valid
	 * only while its epoch is the live one, for the directions in dirs. */
	__u64 end[2];
};

/*
 * ---- Flow table (nn_flows): buckets the programs manage ----
 * A key's bucket is nn_ft_hash(key, seed) & mask (bpf/flowtab.bpf.h); it has
 * NN_FLOW_WAYS slots. tag[w] is 0 for an empty slot, else (hash >> 32) | 1
 * of the key in slot w; seq[w] is odd while a CPU writes slot w (taken with
 * a compare-and-swap from the even value) and even otherwise: a reader
 * trusts a slot's key and its copy of the value only when seq[w] was even
 * and the same before and after it read both, and writes back only under
 * a claim from that value. The table's last entry (index mask + 1) is not a
 * bucket: its first 8 bytes hold the hash seed, chosen at random when the
 * map is created and read back when a later load adopts it (the programs
 * take it as rodata). Eviction: an insert into a full bucket replaces the
 * slot seen least recently (docs/datapath.md "Flows").
 */
#define NN_FLOW_WAYS 8
/* A slot's struct nn_flow without last_seen_ns (kept in the bucket's
 * seen[]): the same fields in the same order as nn_flow's from epoch on. */
struct nn_flow_held {
	__u32 epoch;
	__u8 opener_is_b;
	__u8 opener_dir;
	__u8 state;
	__u8 pad;
	__u64 end[2];
};

/* Key and flow in one whole line. */
struct nn_flow_slot {
	struct nn_flow_key k;
	struct nn_flow_held f;
};

/*
 * Ten whole lines: tags and sequence words, then every way's last_seen_ns,
 * then one line a slot. Why last_seen_ns apart from its slot: an insert
 * into a full bucket picks the way seen least recently, and with the times
 * in the slots that read eight slot lines (independent, but each a miss in
 * a table that does not fit the cache: ~20 % of a new flow's cost, session
 * 14's profile); here it reads one. A hit reads three lines as before (the
 * 72-byte slots straddled two).
 */
struct nn_flow_bucket {
	__u32 tag[NN_FLOW_WAYS];
	__u32 seq[NN_FLOW_WAYS];
	__u64 seen[NN_FLOW_WAYS]; /* last_seen_ns of way w's flow */
	struct nn_flow_slot slot[NN_FLOW_WAYS];
};

/* The seed's entry (the table's last, mask + 1) begins with this. layout
 * is NN_FLOW_LAYOUT in a table this version created; 0 in one created by
 * sessions 13-14 (last_seen_ns inside the slot, 72-byte slots, the same
 * 640-byte entries, so the kernel adopts the pin without complaint): the
 * loader refuses it ("run --detach first"), the readers say EPROTO. */
struct nn_flow_seed_entry {
	__u64 seed;
	__u64 layout;
};
#define NN_FLOW_LAYOUT 2

/* Way @w's flow as one struct nn_flow, and back. Plain copies: the
 * programs and the readers put their own sequence checks around them. */
static inline void nn_flow_slot_get(const struct nn_flow_bucket *b, int w, struct nn_flow *f)
{
	f->last_seen_ns = b->seen[w];
	__builtin_memcpy(&f->epoch, &b->slot[w].f, sizeof(struct nn_flow_held));
}

static inline void nn_flow_slot_set(struct nn_flow_bucket *b, int w, const struct nn_flow *f)
{
	b->seen[w] = f->last_seen_ns;
	__builtin_memcpy(&b->slot[w].f, &f->epoch, sizeof(struct nn_flow_held));
}

/* A key's hash under the table's @seed: a multiply-xorshift over its five
 * 8-byte words (the key is 8-byte aligned wherever it is hashed: a slot, the
 * scratch entry), seeded so that a sender does not know which keys share a
 * victim flow's bucket. Not a keyed PRF: a difference only in a word's bit
 * 63 passes the multiply unchanged whatever the seed, so flipping bit 63 of
 * word i and bits 63 and 31 of word i+1 gives the same hash under every
 * seed (pairs of keys that collide, not keys aimed at a chosen flow; a
 * keyed hash such as SipHash-1-3 would close it at ~100 more instructions
 * a lookup: docs/datapath.md "Session 13 (fast14j)"). Bucket: h & mask;
 * tag: (h >> 32) | 1. Shared by the programs and user space
 * (user/dp/flowtab.c). */
static inline __u64 nn_flow_hash(const struct nn_flow_key *k, __u64 seed)
{
	const __u64 *w = (const __u64 *)(const void *)k;
	__u64 h = seed ^ 0x9e3779b97f4a7c15ull;

	/* Five words written out: no loop for the verifier to walk. */
	h = (h ^ w[0]) * 0xff51afd7ed558ccdull;
	h = (h ^ (h >> 32) ^ w[1]) * 0xff51afd7ed558ccdull;
	h = (h ^ (h >> 32) ^ w[2]) * 0xff51afd7ed558ccdull;
	h = (h ^ (h >> 32) ^ w[3]) * 0xff51afd7ed558ccdull;
	h = (h ^ (h >> 32) ^ w[4]) * 0xff51afd7ed558ccdull;
	h ^= h >> 32;
	h *= 0xc4ceb9fe1a85ec53ull;
	return h ^ (h >> 29);
}

static inline __u32 nn_flow_tag(__u64 h)
{
	return (__u32)(h >> 32) | 1;
}

/*
 * ---- Denied flows (nn_denied: a cache per CPU of 64-byte entries) ----
 * A flow the policy dropped, remembered so that its next packets cost the
 * flow lookup, this entry's line and the counting (docs/datapath.md "A
 * denied flow remembered"). A table of its own: a flood of distinct denied
 * flows evicts only entries of this table, never a live flow of nn_flows.
 *
 * Key: the packet's canonical nn_flow_key with side = NN_DENIED_SIDE(dir,
 * is_b): the hook's direction and which end sent it. The verdict of steps 1
 * and 5-7 (from the overlay) or 1, 3-4 (into it) depends on the packet's
 * source, destination, protocol and port and on the policy generation
 * only; so a packet with the same key, side and epoch would be judged the
 * same, and a packet from the other end (a spoofed reply, a packet of
 * another direction) never meets an entry another sender made. The whole
 * key is compared: a colliding flow never takes another's judgement.
 *
 * Layout: an array (mmapable, so its values start on a page) of sets of
 * NN_DENIED_WAYS entries, one 64-byte line each, cut into a region of
 * nn_denied_sets sets per possible CPU (a power of two; the loader sizes
 * it from --max-denied): CPU c's set i is element c * sets + i. A flow may
 * live in two sets of one group of its CPU's region (nn_denied_tags
 * below), so a round-robin working set as large as half the region still
 * finds a way (docs/datapath.md "Session 15 (spray15)", "(spray15b)"). An
 * entry is live when its way's tag is not 0 and its side is not 0 (no key
 * has side 0).
 *
 * Value: what the judgement gave, to count the drop exactly as the full
 * judge does, under the epoch it was reached in: any other epoch (a
 * generation flip, a revocation, a host-address change) and the entry is
 * stale, so a flip invalidates every entry at once.
 */
#define NN_DENIED_WAYS 2

#define NN_DENIED_SIDE(dir, is_b) ((__u8)(1 + 2 * (dir) + ((is_b)&1)))

struct nn_denied {
	struct nn_flow_key key; /* side != 0; side 0: an empty entry */
	__u32 epoch;		/* the live epoch it was judged under */
	__u32 rule;		/* deciding rule index, NN_NONE32 */
	__u32 dev_slot;		/* the overlay end's counter slot, NN_NONE32 */
	__u32 tenant;		/* of the overlay end (events) */
	__u32 network;
	__u8 reason;   /* enum nn_reason: a drop (NN_R_MAX < 256) */
	__u8 src_kind; /* as struct nn_verdict */
	__u8 dst_kind;
	__u8 pad; /* the second-chance mark is the tag's (nn_denied_tags) */
} __attribute__((aligned(64)));

struct nn_denied_set {
	struct nn_denied e[NN_DENIED_WAYS];
};

/*
 * nn_denied_tags: a line of tags a group of NN_DENIED_GROUP sets (fewer when
 * a region has fewer sets: then one group), one 16-bit tag a way, so that a
 * flow's candidate ways are known from ONE line of a region 32 times smaller
 * than the entries' (256 KB a CPU by default, against 8 MB): a flow's two
 * sets are chosen inside one group. A flow-table miss reads that line only;
 * an entry's line is read only where a tag matches, and written only when
 * a judgement is remembered (its tag after it). The tag is a hint: the
 * entry's whole key and epoch still decide, so a colliding or stale tag
 * costs a line, never a verdict. CPU c's group g is element c * groups + g;
 * way w of the group's set i has tag t[i * NN_DENIED_WAYS + w]: bits 0-14
 * from the hash (never 0), NN_DENIED_TAG_REF set when the entry was hit
 * since an insert last passed it (second chance); 0: a free way.
 */
#define NN_DENIED_GROUP 16
#define NN_DENIED_TAG_MASK 0x7fffu
#define NN_DENIED_TAG_REF 0x8000u

struct nn_denied_tags {
	__u16 t[NN_DENIED_GROUP * NN_DENIED_WAYS];
} __attribute__((aligned(64)));

/* The tag of hash @h (nn_denied_hash()): bits 48-62, never 0 (free). Sets
 * take bits 0-31 (the group) and 32-39 (the sets in it): independent. */
static inline __u16 nn_denied_tag(__u64 h)
{
	__u16 t = (__u16)((h >> 48) & NN_DENIED_TAG_MASK);

	return t ? t : 1;
}

/* The hash that places key @k (side set) in its region: the flow table's
 * under another seed, so a denied flow's sets and its flow bucket are
 * unrelated. Shared by the programs and user space (the tests). */
static inline __u64 nn_denied_hash(const struct nn_flow_key *k, __u64 flow_seed)
{
	return nn_flow_hash(k, flow_seed ^ 0x5bd1e9955bd1e995ull);
}

/* nn_flow.end: epoch << 32 | dirs (1 << enum nn_dir) << 30 | kind (enum
 * nn_addr_kind, 2 bits) << 28 | counter slot (28 bits; all ones: none). */
#define NN_FLOW_END_SLOT_MASK 0x0fffffffu
#define NN_FLOW_END(epoch, dirs, kind, slot)                                              \
	(((__u64)(epoch) << 32) | ((__u64)((dirs)&3) << 30) | ((__u64)((kind)&3) << 28) | \
	 ((__u64)(slot)&NN_FLOW_END_SLOT_MASK))
#define NN_FLOW_END_EPOCH(t) ((__u32)((t) >> 32))
#define NN_FLOW_END_DIRS(t) ((__u32)((t) >> 30) & 3)
#define NN_FLOW_END_KIND(t) ((__u8)(((t) >> 28) & 3))
#define NN_FLOW_END_SLOT(t)                                            \
	(((__u32)(t)&NN_FLOW_END_SLOT_MASK) == NN_FLOW_END_SLOT_MASK ? \
		 NN_NONE32 :                                           \
		 ((__u32)(t)&NN_FLOW_END_SLOT_MASK))

/* Later IPv4/IPv6 fragments follow the first fragment's verdict. The key
 * is the datagram's reassembly key: source, destination, id, and for IPv4
 * the protocol. IPv6 has no protocol in it (RFC 8200 4.5: extension headers
 * may follow the Fragment header, so the first fragment's upper layer and a
 * later fragment's Fragment-header next header differ): proto is 0. */
struct nn_frag_key {
	__u8 src[NN_ADDR_LEN];
	__u8 dst[NN_ADDR_LEN];
	__u32 id;
	__u8 proto; /* IPv4 protocol; 0 for IPv6 */
	__u8 pad[3];
};

struct nn_frag {
	__u64 seen_ns;
	__u8 reason; /* NN_PASS or the first fragment's drop reason */
	__u8 pad[3];
	__u32 epoch; /* policy epoch the verdict was reached in: it holds only
		      * within that generation */
};

/* ---- This gateway host's own addresses (nn_local) ----
 * Every address of a local interface that is not a martian, kept current by
 * the controller from an rtnetlink subscription. From the overlay they are
 * treated like this gateway's overlay address (the ACL decides). Not keyed
 * by slot: a change of the set bumps the live epoch by two (same slot), so
 * flows and fragment verdicts are judged again as after a policy change.
 */
#define NN_MAX_LOCAL_ADDRS 16384

struct nn_local_key {
	__u8 addr[NN_ADDR_LEN];
};

struct nn_local_info {
	__u32 ifindex; /* interface that holds the address, for operators */
	__u32 pad;
};

/* ---- Runtime configuration (nn_config[0]), written by the controller ---- */
struct nn_config {
	__u32 event_sample; /* 0: no events; N: one drop in N sampled */
	__u32 event_rate;   /* events per second per CPU at most */
	__u32 tcp_syn_timeout_s;
	__u32 tcp_est_timeout_s;
	__u32 tcp_close_timeout_s;
	__u32 udp_timeout_s;
	__u32 icmp_timeout_s;
	__u32 other_timeout_s;
	__u32 frag_timeout_s;
	__u32 pad;
};

#define NN_DEF_EVENT_SAMPLE 1
#define NN_DEF_EVENT_RATE 1000
#define NN_DEF_TCP_SYN_TIMEOUT 60
#define NN_DEF_TCP_EST_TIMEOUT 7200
#define NN_DEF_TCP_CLOSE_TIMEOUT 10
#define NN_DEF_UDP_TIMEOUT 60
#define NN_DEF_ICMP_TIMEOUT 30
#define NN_DEF_OTHER_TIMEOUT 60
#define NN_DEF_FRAG_TIMEOUT 30

/* ---- Per-device bound on new state (nn_flowlim[0], nn_flowrl) ----
 * Every flow entry and fragment verdict a packet would create is charged
 * to its overlay-end device (the source from the overlay, the destination
 * into it): one token of that device's bucket, nn_flowrl[counter slot],
 * refilled at rate per second up to burst. No token: the state is not
 * created and a packet that would pass is dropped [flow_limit]
 * (docs/datapath.md "New-state bound"). rate 0: no bound. Its own map,
 * not nn_config: a pinned map's value size cannot change on upgrade. */
struct nn_flowlim {
	__u32 rate;  /* new flows and fragment verdicts per second per device */
	__u32 burst; /* bucket size */
};

#define NN_DEF_NEW_FLOW_RATE 1000
#define NN_DEF_NEW_FLOW_BURST 4000
/* Largest rate accepted: keeps elapsed * rate within 64 bits for a
 * bucket idle up to the point where it refills to burst anyway. */
#define NN_MAX_NEW_FLOW_RATE 10000000

/* What the controller last applied (nn_meta[0]); for operators, not packets. */
struct nn_meta {
	__u64 generation; /* snapshot generation */
	__u64 applied_unix_ns;
	__u32 epoch;
	__u32 devices;
	__u32 rules;
	__u32 cells;
	__u32 prefixes;
	__u32 pad;
};

/* ---- Counters ---- */
struct nn_reason_stats {
	__u64 packets;
	__u64 bytes;
};

struct nn_dev_stats {
	__u64 packets[NN_DIR_MAX];
	__u64 bytes[NN_DIR_MAX];
	__u64 drops[NN_DIR_MAX];
};

struct nn_rule_stats {
	__u64 hits;
};

/*
 * Counter layout (nn_dev_ctr, nn_rule_ctr): plain arrays, not per-CPU ones,
 * cut into one region per possible CPU: entry cpu * stride + counter slot,
 * stride = max_entries / possible CPUs (the programs get it as rodata:
 * nn_dev_stride, nn_max_rules). A packet touches one line: the array's
 * lookup is an address computation (a per-CPU array first loads the slot's
 * per-CPU pointer, a second cold line), each device's line is its own
 * (mmapable arrays start on a page, the value is one 64-byte line), and a
 * CPU writes only its own region. Readers sum the CPUs' entries of a slot
 * (user/dp/counters.c), so the counters stay exact when read.
 */
struct nn_dev_line {
	struct nn_dev_stats s;
	__u64 pad[2];
} __attribute__((aligned(64)));

/* Counter slot -> name, so operators and a restarted controller can read
 * counters without the snapshot. in_use 0 marks a free slot. */
struct nn_name {
	char id[NN_NAME_MAX];
	char tenant[NN_NAME_MAX];
	char network[NN_NAME_MAX];
	__u32 in_use;
	__u32 kind; /* enum nn_addr_kind for devices/nodes; 0 for rules */
};

/* Drop event in nn_events (ring buffer). */
struct nn_event {
	__u64 ts_ns;
	__u8 src[NN_ADDR_LEN];
	__u8 dst[NN_ADDR_LEN];
	__u16 sport;
	__u16 dport;
	__u8 proto;
	__u8 reason;
	__u8 dir;
	__u8 pad;
	__u32 tenant;
	__u32 network;
	__u32 dev_slot;	 /* NN_NONE32 when no device is involved */
	__u32 rule_slot; /* NN_NONE32 when no rule decided */
	__u32 pkt_len;
	__u32 pad2;
};

/* Per-CPU token bucket for event rate limiting (nn_evrl). */
struct nn_ratelimit {
	__u64 last_ns;
	__u64 tokens;
};

/* nn_verdict.dst_kind beyond enum nn_addr_kind. */
#define NN_DK_PREFIX_BASE 16 /* + enum nn_prefix_kind */
#define NN_DK_INTERNET 32
#define NN_DK_HOST 33	 /* this gateway host's own non-overlay address (nn_local) */
#define NN_DK_MARTIAN 34 /* never valid from the overlay (loopback, multicast, ...) */

/* Verdict of the last packet on this CPU (nn_last), written only when the
 * program is loaded with record_last set: tests and "explain" read it. */
struct nn_verdict {
	__u32 reason;	/* enum nn_reason; NN_PASS when passed */
	__u32 rule;	/* deciding rule index or NN_NONE32 */
	__u32 src_kind; /* enum nn_addr_kind of the source, 0 unknown */
	__u32 dst_kind; /* enum nn_addr_kind, NN_DK_PREFIX_BASE + enum
				 * nn_prefix_kind, NN_DK_INTERNET; 0 when the
				 * packet was decided before its destination was
				 * looked up */
	__u32 tenant;
	__u32 network;
	__u32 flow_hit;		/* 1 when a tracked flow decided */
	__u32 passed_untouched; /* 1 for ARP / neighbour discovery */
	__u32 denied_hit;	/* 1 when a remembered denied flow (nn_denied) decided */
	/* A per-CPU map's values are 8-byte aligned: a size that is a
	 * multiple of 8 is what readers' arrays of nn_verdict hold. */
	__u32 pad;
};

/*
 * ---- Source filter (nn_srcf) ----
 * Per generation slot, a blocked Bloom filter of the keys of that slot's
 * halves of nn_addrs (addresses) and nn_cells4 (cells), so that a packet
 * whose overlay end (the source from the overlay, the destination into it)
 * is surely no identity is decided from one cache line ([spoof] /
 * [unknown_dst]) instead of a hash walk, and a cell that surely does not
 * exist costs one line instead of two hash lookups (its protocol, then
 * `any`). A half is nn_srcf[slot * (lines + 1)] (its header) and the
 * `lines` entries after it (lines: a power of two, the programs'
 * nn_srcf_lines). A key sets NN_SRCF_K bits (9 bits each: b, b >> 9,
 * b >> 18) of one 64-byte line: for an address h = nn_srcf_hash(), line
 * (h >> 32) & (lines - 1), b = h; for a cell h = nn_cellf_hash() of its two
 * classes, the same line rule, b = nn_cellf_bits(h, proto), so a cell's
 * protocol and `any` are answered by one line. Exact-safe: the filter only
 * ever says "surely absent"; a maybe goes the normal way. The header's w[0]
 * is NN_SRCF_STAMP(epoch) of the one live epoch the half may be used under
 * (0: never); the writers (user/dp/srcfilter.c) keep every key of the
 * half's entries in its bits before they stamp it, so a half whose writer
 * did not know of it (an older controller, a failed write) is stale and
 * skipped.
 */
#define NN_SRCF_K 3
#define NN_SRCF_BITS_PER_KEY 8 /* at least, per nn_addrs and nn_cells4 entry of a slot */
#define NN_SRCF_STAMP(epoch) ((1ull << 32) | (__u64)(epoch))

struct nn_srcf_line {
	__u64 w[8];
};

/* The filter's hash of a 16-byte address: two multiplies and a finalizer
 * (splitmix64's), so IPv4-mapped addresses, which differ in 4 bytes only,
 * spread over every bit. Shared by the programs and the writers. */
static inline __u64 nn_srcf_hash(const __u8 *a)
{
	__u64 hi, lo, h;

	__builtin_memcpy(&hi, a, 8);
	__builtin_memcpy(&lo, a + 8, 8);
	h = hi * 0x9e3779b97f4a7c15ull ^ lo * 0xc2b2ae3d27d4eb4full;
	h ^= h >> 31;
	h *= 0x94d049bb133111ebull;
	h ^= h >> 29;
	return h;
}

/* A cell's line (from its classes: the same for every protocol). */
static inline __u64 nn_cellf_hash(__u32 src_class, __u32 dst_class)
{
	__u64 h = ((__u64)src_class << 32 | dst_class) * 0xd6e8feb86659fd93ull;

	h ^= h >> 32;
	h *= 0x9e3779b97f4a7c15ull;
	h ^= h >> 29;
	return h;
}

/* A cell's bits in its line: the classes' hash mixed with the protocol. */
static inline __u64 nn_cellf_bits(__u64 h, __u32 proto)
{
	__u64 b = h ^ ((__u64)proto + 1) * 0xc2b2ae3d27d4eb4full;

	b *= 0x94d049bb133111ebull;
	b ^= b >> 31;
	return b;
}

/* Does line @w hold every bit of hash @h? */
static inline int nn_srcf_has(const __u64 *w, __u64 h)
{
	__u32 b0 = h & 511, b1 = (h >> 9) & 511, b2 = (h >> 18) & 511;

	return ((w[(b0 >> 6) & 7] >> (b0 & 63)) & (w[(b1 >> 6) & 7] >> (b1 & 63)) &
		(w[(b2 >> 6) & 7] >> (b2 & 63)) & 1);
}

/* ---- Underlay WireGuard guard (bpf/underlay_xdp.bpf.c) ---- */
#define NN_WG_INITIATION 1
#define NN_WG_RESPONSE 2
#define NN_WG_COOKIE 3
#define NN_WG_DATA 4
#define NN_WG_INITIATION_LEN 148
#define NN_WG_RESPONSE_LEN 92
#define NN_WG_COOKIE_LEN 64
#define NN_WG_DATA_MIN_LEN 32

struct nn_wg_config {
	__u16 listen_port; /* host order; 0 = guard inactive */
	__u16 pad;
	__u32 hs_rate; /* handshake initiations per second per source */
	__u32 hs_burst;
	__u32 pad2;
};

#define NN_DEF_WG_HS_RATE 20
#define NN_DEF_WG_HS_BURST 40

struct nn_wg_src_key {
	__u8 addr[NN_ADDR_LEN];
};

#endif /* NANAMI_ABI_H */
