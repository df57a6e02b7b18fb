// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/*
 * flowtab_race.bpf.c - test-only: the flow table's functions
 * (bpf/flowtab.bpf.h, included unchanged) with "another CPU" writing a slot
 * at one chosen point of their protocol, for
 * selftests/prog_tests/test_flowtab_race.c. The interleaving a second CPU
 * would hit once in thousands of rounds happens here on every run: the
 * hook (NN_FT_TEST_HOOK, empty in the product) writes hook_k/hook_v into
 * way (w + hook_way_off) of the bucket, as nn_ft_put would (sequence word
 * odd, tag, key, value, even), or deletes it, or finishes a write the
 * test began (hook_mode), the first hook_times times (once by default) the
 * protocol reaches hook_point. Every program returns XDP_PASS: the answers are globals.
 */
#include "maps.bpf.h"

/* Inputs (the test sets them before each run). */
struct nn_flow_key in_k __attribute__((aligned(8)));
struct nn_flow in_v __attribute__((aligned(8)));
__u64 in_end;	    /* ft_find_change: the end[0] tag written back */
__u64 in_seen;	    /* ft_find_change: the closing packet's time */
__u32 in_close;	    /* ft_find_change: close (1) or write end[0] (0) */
__u32 hook_point;   /* NN_FT_AT_*, 0: no other CPU */
__u32 hook_times;   /* the other CPU writes this many times (0: once) */
__u32 hook_way_off; /* the other CPU writes way (w + off) % ways */
__u32 hook_mode;    /* 0: writes hook_k/hook_v; HOOK_DELETE; HOOK_RELEASE */
struct nn_flow_key hook_k __attribute__((aligned(8)));
struct nn_flow hook_v __attribute__((aligned(8)));

/* Outputs. */
__u32 hook_fired;
int out_way;
int out_rc;
struct nn_flow out_v;

#define HOOK_DELETE 1
#define HOOK_RELEASE 2

static __always_inline void race_write(struct nn_flow_bucket *b, int w, int point)
{
	__u64 *dst, *src;
	int x, i;

	if (hook_point != (__u32)point || hook_fired >= (hook_times ? hook_times : 1))
		return;
	hook_fired++;
	x = (w + hook_way_off) & (NN_FLOW_WAYS - 1);
	if (hook_mode == HOOK_DELETE) { /* as nn_ft_delete: the tag only */
		b->seq[x] += 1;
		b->tag[x] = 0;
		b->seq[x] += 1;
		return;
	}
	if (hook_mode == HOOK_RELEASE) { /* a write under way finishes */
		b->seq[x] += 1;
		return;
	}
	b->seq[x] += 1;
	b->tag[x] = nn_flow_tag(nn_flow_hash(&hook_k, nn_flow_seed));
	dst = (__u64 *)(void *)&b->slot[x].k;
	src = (__u64 *)(void *)&hook_k;
	for (i = 0; i < (int)(sizeof(hook_k) / 8); i++)
		dst[i] = src[i];
	nn_flow_slot_set(b, x, &hook_v);
	b->seq[x] += 1;
}

#define NN_FT_TEST_HOOK(point, b, w) race_write(b, w, point)
#include "flowtab.bpf.h"
#include "flow.bpf.h"

static __always_inline struct nn_scratch *scratch_with_key(void)
{
	struct nn_scratch *s = bpf_map_lookup_elem(&nn_scratch, &nn_scratch_key);

	if (s)
		__builtin_memcpy(&s->fk, &in_k, sizeof(in_k));
	return s;
}

/* Find in_k: out_way (-1: miss) and the value it decided on in out_v. */
SEC("xdp")
int ft_find(struct xdp_md *xdp)
{
	struct nn_scratch *s = scratch_with_key();
	struct nn_flow *f;

	if (!s)
		return XDP_ABORTED;
	f = nn_ft_find(s);
	out_way = f ? (int)s->ft_way : -1;
	if (f)
		__builtin_memcpy(&out_v, f, sizeof(out_v));
	return XDP_PASS;
}

/* Find in_k, change it and write it back as a judgement does: in_close 0,
 * end[0] set to in_end and nn_ft_write_back; 1, CLOSING as of in_seen (a
 * FIN: nn_flow_touch), nn_ft_mark and nn_ft_commit. out_rc: their answer,
 * -1 a miss. */
SEC("xdp")
int ft_find_change(struct xdp_md *xdp)
{
	struct nn_scratch *s = scratch_with_key();
	struct nn_flow *f;

	if (!s)
		return XDP_ABORTED;
	f = nn_ft_find(s);
	out_rc = -1;
	if (!f)
		return XDP_PASS;
	if (!in_close) {
		f->end[0] = in_end;
		out_rc = nn_ft_write_back(s);
		return XDP_PASS;
	}
	f->state = NN_FS_CLOSING;
	f->last_seen_ns = in_seen;
	nn_ft_mark(s);
	out_rc = nn_ft_commit();
	return XDP_PASS;
}

/* Find in_k and delete it: out_rc (-1: miss). */
SEC("xdp")
int ft_find_delete(struct xdp_md *xdp)
{
	struct nn_scratch *s = scratch_with_key();

	if (!s)
		return XDP_ABORTED;
	out_rc = nn_ft_find(s) ? nn_ft_delete(s) : -1;
	return XDP_PASS;
}

/* Record in_k with in_v: out_rc. */
SEC("xdp")
int ft_put(struct xdp_md *xdp)
{
	struct nn_scratch *s = scratch_with_key();

	if (!s)
		return XDP_ABORTED;
	__builtin_memcpy(&s->fv, &in_v, sizeof(in_v));
	out_rc = nn_ft_put(s);
	return XDP_PASS;
}

/* Open in_k as a UDP packet's flow paid by device slot 0's token
 * (nn_flow_open_paid, @in_kept as given): the token count is the test's to
 * read in nn_flowrl[0]. */
__u32 in_kept;

SEC("xdp")
int ft_open_paid(struct xdp_md *xdp)
{
	struct nn_scratch *s = scratch_with_key();
	struct nn_pkt p = { .proto = NN_IPPROTO_UDP };

	if (!s)
		return XDP_ABORTED;
	nn_flow_open_paid(s, 0, in_kept, 0, &p, 1, NN_DIR_FROM_OVERLAY, in_seen);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
