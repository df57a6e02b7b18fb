/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/*
 * ctx.bpf.h - load-time knobs and the context shim that lets one policy
 * implementation serve TC and XDP entry points.
 */
#ifndef NANAMI_CTX_BPF_H
#define NANAMI_CTX_BPF_H

/*
 * No CO-RE relocations: the programs read only UAPI structs whose layout is
 * ABI (packet headers, xdp_md, __sk_buff), so vmlinux.h's
 * preserve_access_index would only make libbpf parse the running kernel's
 * BTF at every object's load to find the offsets it was compiled with (about
 * 7-9 s an object on Debian's 6.1 under TCG; the objects carry no relocation
 * to resolve: test_bpf_objects checks it).
 */
#define BPF_NO_PRESERVE_ACCESS_INDEX
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "nanami_abi.h"

/*
 * Load-time configuration (rodata), set by the loader between open and load;
 * the verifier removes the branches they switch off.
 */
const volatile __u8 nn_framing = NN_FRAMING_L3;	      /* enum nn_framing */
const volatile __u32 nn_max_rules = NN_DEF_MAX_RULES; /* nn_rules stride */
/* nn_dev_ctr's per-CPU stride: device and node counter slots */
const volatile __u32 nn_dev_stride = NN_DEF_MAX_DEVICES + 1024;
/* nn_srcf's lines per slot half (a power of two); 0: no filter */
const volatile __u32 nn_srcf_lines = 0;
/* nn_flows' buckets - 1 (a power of two less one) and its hash seed
 * (nanami_abi.h "Flow table"): the loader sets both. */
const volatile __u32 nn_flow_mask = 0;
const volatile __u64 nn_flow_seed = 0;
/* nn_denied's sets a CPU (a power of two); 0: nothing is remembered */
const volatile __u32 nn_denied_sets = 0;
const volatile __u8 nn_record_last = 0; /* write nn_last (tests, explain) */
const volatile __u8 nn_dry_run = 0;	/* judge only: no flow, counter or event writes */

/* The packet as both hooks see it. */
struct nn_ctx {
	void *data;
	void *data_end;
	void *raw;   /* the struct __sk_buff or struct xdp_md */
	__u32 len;   /* bytes for counters */
	__u8 dir;    /* enum nn_dir */
	__u8 is_xdp; /* constant per entry point: folds at compile time */
};

#define NN_TC_PASS 0 /* TC_ACT_OK */
#define NN_TC_DROP 2 /* TC_ACT_SHOT */

/*
 * TC may hand us a non-linear skb (GSO from the stack, or a frag list). The
 * parser reads the fixed L2/L3 headers directly, so those must be linear:
 * pull NN_PULL_LEN bytes when they are not. Everything after them (IPv6
 * extension headers, L4, ICMP quotes) goes through nn_load(), which copes
 * with non-linear data by itself.
 */
static __always_inline void nn_ctx_from_skb(struct nn_ctx *c, struct __sk_buff *skb, __u8 dir)
{
	__u32 len = skb->len;
	__u32 want = len < NN_PULL_LEN ? len : NN_PULL_LEN;
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;

	if (data + want > end) {
		bpf_skb_pull_data(skb, want);
		/* The pull moves the data: read both pointers again. */
		data = (void *)(long)skb->data;
		end = (void *)(long)skb->data_end;
	}
	c->data = data;
	c->data_end = end;
	c->raw = skb;
	c->len = len;
	c->dir = dir;
	c->is_xdp = 0;
}

static __always_inline void nn_ctx_from_xdp(struct nn_ctx *c, struct xdp_md *xdp, __u8 dir)
{
	c->data = (void *)(long)xdp->data;
	c->data_end = (void *)(long)xdp->data_end;
	c->raw = xdp;
	c->len = c->data_end - c->data;
	c->dir = dir;
	c->is_xdp = 1;
}

/*
 * The longest read through nn_load(): the L4 buffer (NN_L4_BUF in
 * maps.bpf.h must not exceed it). A power of two: nn_load() bounds lengths
 * with a mask of NN_LOAD_MAX - 1.
 */
#define NN_LOAD_MAX 128

/*
 * Copy @n bytes at offset @off of the packet into @buf: 0, or negative (a
 * length of 0 or over NN_LOAD_MAX is refused here). Offsets into the
 * variable part of a packet stay plain scalars this way, never packet
 * pointers: the verifier need not track every header-chain length as a
 * distinct pointer state (which made the IPv6 walk explode past 1M insns).
 */
static __always_inline int nn_load(struct nn_ctx *c, __u32 off, void *buf, __u32 n)
{
	if (n == 0 || n > NN_LOAD_MAX)
		return -1;
	/*
	 * The helper's length must be bounded in the verifier's eyes, on the
	 * register it is passed in. A caller's min() does not do that on 6.1:
	 * clang compares one register and passes a 32-bit copy of it, and
	 * 6.1 does not carry the bound over to the copy ("R4 unbounded memory
	 * access"); clang also drops checks it deems redundant, and turns
	 * "n < 1" into "n == 0", from which 6.1 learns nothing. A mask in asm
	 * is kept as written and bounds the register on every kernel: n - 1
	 * is in [0, NN_LOAD_MAX - 1] after the check above, so the mask
	 * changes no length.
	 */
	n -= 1;
	asm volatile("%0 &= %1" : "+r"(n) : "i"(NN_LOAD_MAX - 1));
	n += 1;
	if (c->is_xdp)
		return bpf_xdp_load_bytes(c->raw, off, buf, n);
	return bpf_skb_load_bytes(c->raw, off, buf, n);
}

#endif /* NANAMI_CTX_BPF_H */
