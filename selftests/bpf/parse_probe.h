/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/*
 * parse_probe.h - what the test-only program parse_probe.bpf.c reports for
 * one packet: the return value of nn_parse() (bpf/parse.bpf.h) and the
 * struct nn_pkt it filled, field by field. struct nn_pkt is BPF-private (it
 * lives in parse.bpf.h, not in the ABI); this record is the one layout both
 * the probe and test_dissector.c use, so there is no second copy of it.
 */
#ifndef NANAMI_PARSE_PROBE_H
#define NANAMI_PARSE_PROBE_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define PROBE_ADDR_LEN 16

struct parse_probe_out {
	__s32 rc; /* 0 or NN_R_MALFORMED */
	__u32 frag_id;
	__u8 src[PROBE_ADDR_LEN];
	__u8 dst[PROBE_ADDR_LEN];
	__u8 q_src[PROBE_ADDR_LEN];
	__u8 q_dst[PROBE_ADDR_LEN];
	__u16 sport;
	__u16 dport;
	__u16 q_sport;
	__u16 q_dport;
	__u8 proto;
	__u8 frag; /* NONE 0, FIRST 1, LATER 2 */
	__u8 icmp; /* NONE 0, ECHO_REQ 1, ECHO_REP 2, ERROR 3, PTB 4 */
	__u8 untouched;
	__u8 q_flowable;
	__u8 v6;
	__u8 q_proto;
	__u8 pad;
};

#endif /* NANAMI_PARSE_PROBE_H */
