// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/*
 * Native XDP on the underlay NIC: drops malformed and flooding WireGuard
 * packets before wireguard spends a decryption (or a handshake's
 * Curve25519) on them. Only UDP to the WireGuard listen port is looked at;
 * everything else passes untouched (verdicts.md "Underlay").
 */
#include "ctx.bpf.h"
#include <xdp/xdp_helpers.h>

#define NN_ETH_P_IP 0x0800
#define NN_ETH_P_IPV6 0x86DD
#define NN_ETH_P_8021Q 0x8100
#define NN_IPPROTO_UDP 17
#define NN_NSEC 1000000000ull

/* Listen port and handshake rate, set by the controller from the snapshot. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct nn_wg_config);
} nn_wg_config SEC(".maps");

/* Per-source token buckets for handshake initiations. LRU: a flood of
 * sources evicts the oldest buckets, which only ever resets them to full. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct nn_wg_src_key);
	__type(value, struct nn_ratelimit);
} nn_wg_hs SEC(".maps");

/* Drops by reason (only the wg_* reasons move here). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, NN_R_MAX);
	__type(key, __u32);
	__type(value, struct nn_reason_stats);
} nn_wg_drops SEC(".maps");

struct {
	__uint(priority, 5);
	__uint(XDP_PASS, 1);
} XDP_RUN_CONFIG(nn_xdp_underlay);

static __always_inline int nn_wg_drop(__u32 reason, __u32 len)
{
	struct nn_reason_stats *rs = bpf_map_lookup_elem(&nn_wg_drops, &reason);

	if (rs) {
		rs->packets++;
		rs->bytes += len;
	}
	return XDP_DROP;
}

/* 1 when this source may send one more handshake initiation now. */
static __always_inline int nn_wg_hs_allowed(struct nn_wg_config *cfg, const __u8 *src)
{
	struct nn_wg_src_key k;
	struct nn_ratelimit *rl, fresh;
	__u64 now = bpf_ktime_get_ns(), add;

	__builtin_memcpy(k.addr, src, NN_ADDR_LEN);
	rl = bpf_map_lookup_elem(&nn_wg_hs, &k);
	if (!rl) {
		fresh.last_ns = now;
		fresh.tokens = cfg->hs_burst ? cfg->hs_burst - 1 : 0;
		bpf_map_update_elem(&nn_wg_hs, &k, &fresh, BPF_ANY);
		return 1;
	}
	add = (now - rl->last_ns) * cfg->hs_rate / NN_NSEC;
	if (add) {
		rl->tokens += add;
		if (rl->tokens > cfg->hs_burst)
			rl->tokens = cfg->hs_burst;
		rl->last_ns = now;
	}
	if (!rl->tokens)
		return 0;
	rl->tokens--;
	return 1;
}

/* The WireGuard message in the UDP payload at @msg, @len bytes long. */
static __always_inline int nn_wg_judge(struct nn_wg_config *cfg, __u8 *msg, void *end,
				       __u32 len, const __u8 *src, __u32 pkt_len)
{
	__u8 type;

	if (len < 4 || (void *)(msg + 4) > end)
		return nn_wg_drop(NN_R_WG_MALFORMED, pkt_len);
	type = msg[0];
	/* Bytes 1-3 are reserved zero in every message type. */
	if (msg[1] || msg[2] || msg[3])
		return nn_wg_drop(NN_R_WG_MALFORMED, pkt_len);
	switch (type) {
	case NN_WG_INITIATION:
		if (len != NN_WG_INITIATION_LEN)
			return nn_wg_drop(NN_R_WG_MALFORMED, pkt_len);
		if (!nn_wg_hs_allowed(cfg, src))
			return nn_wg_drop(NN_R_WG_HANDSHAKE_RATE, pkt_len);
		return XDP_PASS;
	case NN_WG_RESPONSE:
		return len == NN_WG_RESPONSE_LEN ? XDP_PASS :
		       nn_wg_drop(NN_R_WG_MALFORMED, pkt_len);
	case NN_WG_COOKIE:
		return len == NN_WG_COOKIE_LEN ? XDP_PASS :
		       nn_wg_drop(NN_R_WG_MALFORMED, pkt_len);
	case NN_WG_DATA:
		return (len >= NN_WG_DATA_MIN_LEN && len % 16 == 0) ? XDP_PASS :
		       nn_wg_drop(NN_R_WG_MALFORMED, pkt_len);
	}
	return nn_wg_drop(NN_R_WG_MALFORMED, pkt_len);
}

SEC("xdp")
int nn_xdp_underlay(struct xdp_md *xdp)
{
	void *data = (void *)(long)xdp->data, *end = (void *)(long)xdp->data_end;
	__u32 zero = 0, pkt_len = end - data, l4len;
	struct nn_wg_config *cfg = bpf_map_lookup_elem(&nn_wg_config, &zero);
	struct ethhdr *eth = data;
	struct udphdr *uh;
	__u8 src[NN_ADDR_LEN];
	void *l3;
	__u16 etype;

	if (!cfg || !cfg->listen_port)
		return XDP_PASS;
	if ((void *)(eth + 1) > end)
		return XDP_PASS;
	etype = bpf_ntohs(eth->h_proto);
	l3 = (void *)(eth + 1);
	if (etype == NN_ETH_P_8021Q) {
		__be16 *vh = l3;

		if ((void *)(vh + 2) > end)
			return XDP_PASS;
		etype = bpf_ntohs(vh[1]);
		l3 = (void *)(vh + 2);
	}
	if (etype == NN_ETH_P_IP) {
		struct iphdr *ip = l3;

		if ((void *)(ip + 1) > end || ip->protocol != NN_IPPROTO_UDP || ip->ihl != 5)
			return XDP_PASS;
		/* Later fragments carry no UDP header: not ours to judge. */
		if (bpf_ntohs(ip->frag_off) & 0x3fff)
			return XDP_PASS;
		uh = (void *)(ip + 1);
		__builtin_memset(src, 0, 10);
		src[10] = 0xff;
		src[11] = 0xff;
		__builtin_memcpy(&src[12], &ip->saddr, 4);
	} else if (etype == NN_ETH_P_IPV6) {
		struct ipv6hdr *ip6 = l3;

		if ((void *)(ip6 + 1) > end || ip6->nexthdr != NN_IPPROTO_UDP)
			return XDP_PASS;
		uh = (void *)(ip6 + 1);
		__builtin_memcpy(src, &ip6->saddr, NN_ADDR_LEN);
	} else {
		return XDP_PASS;
	}
	if ((void *)(uh + 1) > end || bpf_ntohs(uh->dest) != cfg->listen_port)
		return XDP_PASS;
	l4len = bpf_ntohs(uh->len);
	if (l4len < sizeof(*uh) || (void *)uh + l4len > end)
		return nn_wg_drop(NN_R_WG_MALFORMED, pkt_len);
	return nn_wg_judge(cfg, (__u8 *)(uh + 1), end, l4len - sizeof(*uh), src, pkt_len);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
