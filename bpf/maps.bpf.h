/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/*
 * maps.bpf.h - every map of the policy programs. Each object includes this
 * file; the loader (user/dp/loader.c) creates the maps once and hands the same
 * fds to every object (bpf_map__reuse_fd), and pins them by these names
 * under <bpffs>/ (default /sys/fs/bpf/nanami/<iface>/). Sizes here are the
 * compiled defaults; the loader sets the configured maxima before load.
 *
 * Maps keyed by a slot (0/1) hold one policy generation per slot; nn_active
 * says which slot is live (see the generation switch in nanami_abi.h).
 */
#ifndef NANAMI_MAPS_BPF_H
#define NANAMI_MAPS_BPF_H

#include "pkt.bpf.h"

/* Live policy epoch; slot = epoch & 1. One 4-byte write flips everything. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct nn_active);
} nn_active SEC(".maps");

/* Exact overlay addresses (devices, nodes, this gateway) per slot. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 2 * (2 * NN_DEF_MAX_DEVICES + 1024));
	__type(key, struct nn_addr_key);
	__type(value, struct nn_addr_info);
} nn_addrs SEC(".maps");

/* Per slot, a filter of the addresses in nn_addrs: "surely no identity"
 * from one line (nanami_abi.h "Source filter"; the loader sizes it to
 * 2 * (nn_srcf_lines + 1)); mmapable so that its values start on a page and
 * each is one line. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE); /* values from a page: a line each */
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, struct nn_srcf_line);
} nn_srcf SEC(".maps");

/* Resource and overlay prefixes (global scope) and ACL dst prefixes
 * (per-network scope), per slot. */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 2 * NN_DEF_MAX_PREFIXES);
	__type(key, struct nn_prefix_key);
	__type(value, struct nn_prefix_info);
} nn_prefixes SEC(".maps");

/* The same prefixes as one exact-match hash per length, and the lengths in
 * use per scope and family (see nanami_abi.h): the fast path. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 2 * NN_DEF_MAX_PREFIXES);
	__type(key, struct nn_pfx_key);
	__type(value, struct nn_prefix_info);
} nn_pfx_hash SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 2 * NN_DEF_MAX_PREFIXES);
	__type(key, struct nn_pfx_lens_key);
	__type(value, struct nn_pfx_lens);
} nn_pfx_lens SEC(".maps");

/* Compiled ACL: (src class, dst class, proto, slot) -> port ranges. Every
 * cell's root is in nn_cells4, whole when small, else as a marker whose cell
 * (with its tree) is in nn_policy (nanami_abi.h "Small cells"). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 2 * NN_DEF_MAX_CELLS);
	__type(key, struct nn_cell_key);
	__type(value, struct nn_cell4);
} nn_cells4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 2 * NN_DEF_MAX_CELLS);
	__type(key, struct nn_cell_key);
	__type(value, struct nn_cell);
} nn_policy SEC(".maps");

/* Rule index -> counter slot, per slot: nn_rules[slot * max_rules + idx]. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2 * NN_DEF_MAX_RULES);
	__type(key, __u32);
	__type(value, struct nn_rule_info);
} nn_rules SEC(".maps");

/* Tracked flows, shared by both directions and every generation: buckets
 * of NN_FLOW_WAYS slots the programs manage (flowtab.bpf.h), then one entry
 * holding the hash seed (nanami_abi.h "Flow table"; the loader sizes it).
 * Mmapable so that its values start on a page: each bucket is ten whole
 * lines (640 bytes), its tags and sequence words in the first. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, NN_DEF_MAX_FLOWS / NN_FLOW_WAYS + 1);
	__type(key, __u32);
	__type(value, struct nn_flow_bucket);
} nn_flows SEC(".maps");

/* Flows the policy dropped, remembered (nanami_abi.h "Denied flows"): a
 * table of its own, so a flood of distinct denied flows evicts only these,
 * never a live flow. A region of nn_denied_sets sets a possible CPU (the
 * loader sizes it): no lock, no LRU list, no insert but one line written;
 * a hit reads one line (or two: the flow's second set). Mmapable so that
 * its values start on a page: every set is an aligned pair of lines.
 * docs/datapath.md "Session 15 (spray15)". */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, NN_DEF_MAX_DENIED / NN_DENIED_WAYS);
	__type(key, __u32);
	__type(value, struct nn_denied_set);
} nn_denied SEC(".maps");

/* nn_denied's tags (nanami_abi.h "nn_denied_tags"): a line a group of 16
 * sets, so that a flow-table miss reads one line of a region 32 times
 * smaller than nn_denied's and an entry only where a tag matches. Sized
 * with nn_denied by the loader; pinned with it (the two describe one
 * cache). docs/datapath.md "Session 15 (spray15b)". */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, NN_DEF_MAX_DENIED / NN_DENIED_WAYS / NN_DENIED_GROUP);
	__type(key, __u32);
	__type(value, struct nn_denied_tags);
} nn_denied_tags SEC(".maps");

/* First-fragment verdicts that later fragments follow. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, NN_DEF_MAX_FRAGS);
	__type(key, struct nn_frag_key);
	__type(value, struct nn_frag);
} nn_frags SEC(".maps");

/* The per-device bound on new flows and fragment verdicts (nanami_abi.h
 * "Per-device bound on new state"): its rate and burst, and one token
 * bucket per device counter slot (one per slot of nn_dev_ctr's stride).
 * Shared, not per-CPU: one device's packets spread over every CPU, and a
 * per-CPU bucket would multiply the bound by the CPU count. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct nn_flowlim);
} nn_flowlim SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, NN_DEF_MAX_DEVICES + 1024 + 1);
	__type(key, __u32);
	__type(value, struct nn_ratelimit);
} nn_flowrl SEC(".maps");

/* This gateway host's own non-overlay addresses (see nanami_abi.h): kept
 * by the controller from rtnetlink, judged like the overlay address. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, NN_MAX_LOCAL_ADDRS);
	__type(key, struct nn_local_key);
	__type(value, struct nn_local_info);
} nn_local SEC(".maps");

/* Runtime knobs the controller may change without reloading. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct nn_config);
} nn_config SEC(".maps");

/* What was applied last, for operators (never read by the programs). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct nn_meta);
} nn_meta SEC(".maps");

/* Drops by reason. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, NN_R_SLOTS);
	__type(key, __u32);
	__type(value, struct nn_reason_stats);
} nn_drops SEC(".maps");

/* Per device/node counters by stable counter slot, one line per (CPU,
 * slot): nn_dev_ctr[cpu * nn_dev_stride + slot] (nanami_abi.h "Counter
 * layout"; the loader sizes it: possible CPUs * nn_dev_stride). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, NN_DEF_MAX_DEVICES + 1024);
	__type(key, __u32);
	__type(value, struct nn_dev_line);
} nn_dev_ctr SEC(".maps");

/* Per rule hits by stable counter slot: nn_rule_ctr[cpu * nn_max_rules +
 * slot], each CPU's region its own lines. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, NN_DEF_MAX_RULES);
	__type(key, __u32);
	__type(value, struct nn_rule_stats);
} nn_rule_ctr SEC(".maps");

/* Counter slot -> name, for operators and controller restarts: arrays by
 * slot, in_use 0 a free slot, written by user space through the mapping
 * (user/dp/slot_names.c: a hash insert per name was ~3.4 s of kernel CPU
 * at 1M devices). The programs never read them. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, NN_DEF_MAX_DEVICES + 1024);
	__type(key, __u32);
	__type(value, struct nn_name);
} nn_dev_names SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, NN_DEF_MAX_RULES);
	__type(key, __u32);
	__type(value, struct nn_name);
} nn_rule_names SEC(".maps");

/* Sampled, rate-limited drop events for the live monitor. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} nn_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct nn_ratelimit);
} nn_evrl SEC(".maps");

/* Verdict of the last packet on this CPU; written only with record_last. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct nn_verdict);
} nn_last SEC(".maps");

/*
 * Per-CPU scratch for the parser's copy of the L4 header and an ICMP error's
 * quote: ICMP (8) + quoted IPv4 with options (60) + ports/echo id (8) fit in
 * NN_L4_BUF. Not on the stack: the 512-byte stack is shared by the whole call
 * chain and the judge's subprograms need it.
 */
#define NN_L4_BUF 128

struct nn_scratch {
	/* nn_cell_eval()'s map key and port, written by its caller: a key
	 * must not be a pointer argument (6.1's verifier), and a copy on the
	 * stack would pass the 512 bytes the deepest call chain may use.
	 * First, so that the key's address is the entry's: nothing to spill. */
	struct nn_cell_key cell_key;
	__u32 cell_port;
	/* Which of the cell's protocol (bit 0) and `any` (bit 1) may exist,
	 * from the filter, for nn_cell_eval: only those are looked up. */
	__u32 cell_maybe;
	__u64 cell_result; /* deny << 32 | allow */
	/* The cells nn_acl_eval may consult (src_class << 32 | dst_class,
	 * bit i of cell_want for cell_pair[i]), and nn_cells_maybe()'s
	 * answer for them: 2 bits a cell (protocol, `any`), so a cell that
	 * surely does not exist costs no call. cell_line: the key of a filter
	 * line's lookup, here rather than on a frame of the deepest chain. */
	__u64 cell_pair[6];
	__u32 cell_want;
	__u32 cell_may;
	__u32 cell_line;
	__u16 cell_proto;
	/* This packet's first nn_srcf line of the live half, 0 when the
	 * half is not stamped for the packet's epoch: set by nn_judge_packet
	 * before any judge runs, read by nn_acl_eval and nn_cells_maybe. */
	__u32 cf_line0;
	__u8 l4[NN_L4_BUF];
	/* nn_rejudge()'s flow opener and its judgement: a third frame of
	 * that size on the stack (main, nn_rejudge, a judge) passed 6.1's
	 * 512 bytes. The parser's l4 copy is dead by then, the cell fields
	 * are the judge's own: nothing here is shared by two live users. */
	struct nn_pkt op;
	struct nn_judgement oj;
	/* The packet's flow key (nn_judge_packet, from the flow lookup first
	 * to the flow's opening) and a new flow's value: 72 bytes the
	 * program's own frame, on the deepest chain, cannot spare. */
	struct nn_flow_key fk __attribute__((aligned(8))); /* hashed by words */
	struct nn_flow fv;
	/* nn_ft_locate()'s find of fk: its bucket, way, the sequence value
	 * it was read under (odd: none, or lost to another CPU's write) and
	 * the copy of its value every decision reads (flowtab.bpf.h). */
	__u32 ft_bucket;
	__u32 ft_way;
	__u32 ft_seq;
	__u32 ft_dirty; /* ft_val changed: nn_ft_commit() writes it back */
	struct nn_flow ft_val __attribute__((aligned(8))); /* copied by words */
	/* nn_denied's tag line and two sets for fk (denied.bpf.h): the map
	 * keys, and the two sets' places in the line's group. */
	__u32 dline;
	__u32 dset[2];
	__u32 doff[2];
	/* What nn_denied_find learnt of fk for nn_denied_note, so that a
	 * judged new flow hashes its key and walks its ways once: fk's tag,
	 * its own way (-1: none) and dvalid, 1 while they describe this
	 * packet's fk (cleared at every packet's start: a packet that never
	 * reaches nn_denied_find, such as one whose flow entry was stale,
	 * must not take an earlier packet's). */
	__u16 dtag;
	__s8 down;
	__u8 dvalid;
};

/* The key of nn_scratch's one entry, in .rodata: no stack needed. */
static const __u32 nn_scratch_key = 0;

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct nn_scratch);
} nn_scratch SEC(".maps");

#endif /* NANAMI_MAPS_BPF_H */
