// SPDX-License-Identifier: GPL-2.0
/*
 * abi_check.c - pin the layout of every struct shared with the BPF programs
 * (headers/nanami_abi.h). Pinned maps outlive the controller: a layout that
 * changes by accident would make a new controller misread old maps, so any
 * change must be deliberate and show up here.
 */
#include <stddef.h>

#include "nanami_abi.h"

_Static_assert(sizeof(struct nn_active) == 4, "nn_active");
_Static_assert(sizeof(struct nn_addr_key) == 20, "nn_addr_key");
_Static_assert(sizeof(struct nn_addr_info) == 28, "nn_addr_info");
_Static_assert(sizeof(struct nn_prefix_key) == 24, "nn_prefix_key");
_Static_assert(sizeof(struct nn_prefix_info) == 16, "nn_prefix_info");
_Static_assert(sizeof(struct nn_pfx_key) == 24, "nn_pfx_key");
_Static_assert(sizeof(struct nn_pfx_lens_key) == 4, "nn_pfx_lens_key");
_Static_assert(sizeof(struct nn_pfx_lens) == 4 + 2 * NN_MAX_PFX_LENS, "nn_pfx_lens");
_Static_assert(sizeof(struct nn_cell_key) == 16, "nn_cell_key");
_Static_assert(sizeof(struct nn_port_range) == 12, "nn_port_range");
_Static_assert(sizeof(struct nn_cell) == 8 + 12 * NN_MAX_PORT_RANGES, "nn_cell");
_Static_assert(sizeof(struct nn_cell4) == 8 + 12 * NN_CELL4_RANGES, "nn_cell4");
_Static_assert(NN_CELL4_RANGES <= NN_MAX_PORT_RANGES, "a small cell fits an nn_cell");
_Static_assert(sizeof(struct nn_rule_info) == 8, "nn_rule_info");
_Static_assert(sizeof(struct nn_flow_key) == 40, "nn_flow_key");
_Static_assert(sizeof(struct nn_flow) == 32, "nn_flow");
_Static_assert(sizeof(struct nn_flow_held) == sizeof(struct nn_flow) - 8 &&
		       offsetof(struct nn_flow, epoch) == 8 &&
		       offsetof(struct nn_flow, state) - 8 ==
			       offsetof(struct nn_flow_held, state) &&
		       offsetof(struct nn_flow, end) - 8 == offsetof(struct nn_flow_held, end),
	       "nn_flow_held: nn_flow from epoch on, copied as one block");
_Static_assert(sizeof(struct nn_flow_slot) == 64, "nn_flow_slot: one line");
_Static_assert(sizeof(struct nn_flow_bucket) == 640, "nn_flow_bucket: ten whole lines");
_Static_assert(offsetof(struct nn_flow_bucket, seen) == 64 &&
		       offsetof(struct nn_flow_bucket, slot) == 128,
	       "nn_flow_bucket: tags and seqs, then the times, each one line");
_Static_assert(sizeof(struct nn_denied) == 64, "nn_denied: an entry is one line");
_Static_assert(sizeof(struct nn_denied_set) == 64 * NN_DENIED_WAYS, "nn_denied_set: whole lines");
_Static_assert(sizeof(struct nn_frag_key) == 40, "nn_frag_key");
_Static_assert(sizeof(struct nn_frag) == 16, "nn_frag");
_Static_assert(sizeof(struct nn_local_key) == 16, "nn_local_key");
_Static_assert(sizeof(struct nn_local_info) == 8, "nn_local_info");
_Static_assert(offsetof(struct nn_frag, epoch) == 12, "nn_frag: epoch in the old padding");
_Static_assert(sizeof(struct nn_config) == 40, "nn_config");
_Static_assert(sizeof(struct nn_meta) == 40, "nn_meta");
_Static_assert(sizeof(struct nn_reason_stats) == 16, "nn_reason_stats");
_Static_assert(NN_R_MAX <= NN_R_SLOTS, "nn_drops: a new reason needs a counter slot");
_Static_assert(sizeof(struct nn_dev_stats) == 48, "nn_dev_stats");
_Static_assert(sizeof(struct nn_rule_stats) == 8, "nn_rule_stats");
_Static_assert(sizeof(struct nn_name) == 3 * NN_NAME_MAX + 8, "nn_name");
_Static_assert(sizeof(struct nn_event) == 72, "nn_event");
_Static_assert(sizeof(struct nn_ratelimit) == 16, "nn_ratelimit");
_Static_assert(sizeof(struct nn_flowlim) == 8, "nn_flowlim");
_Static_assert(sizeof(struct nn_verdict) == 40, "nn_verdict: per-CPU values are 8-byte aligned");
_Static_assert(sizeof(struct nn_srcf_line) == 64, "nn_srcf_line: one cache line");
_Static_assert(sizeof(struct nn_wg_config) == 16, "nn_wg_config");
_Static_assert(sizeof(struct nn_wg_src_key) == 16, "nn_wg_src_key");
_Static_assert(offsetof(struct nn_prefix_key, addr) == 8, "LPM key: prefixlen, scope, addr");
