// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/*
 * parse_probe.bpf.c - test-only: run the product's parser (bpf/parse.bpf.h,
 * included unchanged) on a BPF_PROG_TEST_RUN packet and store what it made
 * of it in probe_out, for selftests/prog_tests/test_dissector.c. The framing
 * is the product's own load-time knob (nn_framing in ctx.bpf.h). The program
 * always returns XDP_PASS: the answer is the map, not the verdict.
 */
#include "parse.bpf.h"
#include "parse_probe.h"

/* The last packet's parse: one record, overwritten by every run. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct parse_probe_out);
} probe_out SEC(".maps");

SEC("xdp")
int parse_probe(struct xdp_md *xdp)
{
	struct parse_probe_out *o;
	struct nn_pkt p = {};
	struct nn_ctx c;
	__u32 zero = 0;

	o = bpf_map_lookup_elem(&probe_out, &zero);
	if (!o)
		return XDP_ABORTED;
	nn_ctx_from_xdp(&c, xdp, NN_DIR_FROM_OVERLAY);
	o->rc = nn_parse(&c, &p);
	o->frag_id = p.frag_id;
	__builtin_memcpy(o->src, p.src, PROBE_ADDR_LEN);
	__builtin_memcpy(o->dst, p.dst, PROBE_ADDR_LEN);
	__builtin_memcpy(o->q_src, p.q_src, PROBE_ADDR_LEN);
	__builtin_memcpy(o->q_dst, p.q_dst, PROBE_ADDR_LEN);
	o->sport = p.sport;
	o->dport = p.dport;
	o->q_sport = p.q_sport;
	o->q_dport = p.q_dport;
	o->proto = p.proto;
	o->frag = p.frag;
	o->icmp = p.icmp;
	o->untouched = p.untouched;
	o->q_flowable = p.q_flowable;
	o->v6 = p.v6;
	o->q_proto = p.q_proto;
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
