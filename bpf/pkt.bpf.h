/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/*
 * pkt.bpf.h - the two records a verdict is made of: the parser's reading of
 * a packet (struct nn_pkt, parse.bpf.h fills it) and what the judge found
 * out (struct nn_judgement, stats.bpf.h counts it). Here rather than with
 * their code because the per-CPU scratch map (maps.bpf.h) holds a copy of
 * each for the flow revalidation (verdict.bpf.h, nn_rejudge()).
 */
#ifndef NANAMI_PKT_BPF_H
#define NANAMI_PKT_BPF_H

#include "ctx.bpf.h"

/* A packet as the parser read it (addresses IPv4-mapped for IPv4). */
struct nn_pkt {
	__u8 src[NN_ADDR_LEN];
	__u8 dst[NN_ADDR_LEN];
	__u16 sport; /* host order; echo id for ICMP echo */
	__u16 dport;
	__u8 proto;
	__u8 frag; /* enum nn_frag_kind */
	__u8 icmp; /* enum nn_icmp_kind */
	__u8 tcp_flags;
	__u8 untouched;	 /* ARP / ND: pass without judging */
	__u8 q_flowable; /* the quote can name a flow (not a non-echo ICMP) */
	__u8 v6;	 /* IPv6: ICMP is 58 here, 1 is "another protocol" */
	__u8 frag_hdr;	 /* an IPv6 Fragment header was seen, even an atomic one */
	/* Of the header that made the packet a fragment (the fragment table's
	 * inputs): id (IPv4 16 bits, IPv6 32), offset in 8-byte units, M. */
	__u32 frag_id;
	__u16 frag_off;
	__u8 frag_mf;
	/* the flow an ICMP error quotes */
	__u8 q_proto;
	__u8 q_src[NN_ADDR_LEN];
	__u8 q_dst[NN_ADDR_LEN];
	__u16 q_sport;
	__u16 q_dport;
};

/* What the judge found out about a packet, for counters and events. */
struct nn_judgement {
	__u32 reason;	/* enum nn_reason */
	__u32 rule;	/* deciding rule index, NN_NONE32 */
	__u32 dev_slot; /* counter slot of the overlay end, NN_NONE32 */
	__u32 tenant;
	__u32 network;
	__u8 src_kind;
	__u8 dst_kind;
	__u8 flow_hit;
	__u8 denied_hit; /* decided by a remembered denied flow (nn_denied) */
};

#endif /* NANAMI_PKT_BPF_H */
