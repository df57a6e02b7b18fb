// SPDX-License-Identifier: GPL-2.0
/*
 * keep.c - queries on the compiler state kept after a full compile
 * (nn_compile_keep), for the incremental path: the classes one device gets,
 * its nn_addrs entries, how many members a class has. Nothing here creates
 * a class or a cell: a change that would is not a per-device change, and
 * its caller falls back to a full compile.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "compile/compile.h"
#include "compile/compile_int.h"

void nn_compile_state_free(struct nn_compile_state *k)
{
	int i;

	if (!k)
		return;
	nn_c_cstate_free(&k->s);
	for (i = 0; i < 2; i++) {
		free(k->rsig[i]);
		free(k->rsig_n[i]);
	}
	free(k);
}

void nn_compile_state_dev(const struct nn_compile_state *k, size_t d, uint32_t cls[NN_DC_COUNT])
{
	cls[NN_DC_SRC] = k->s.dev_src[d];
	cls[NN_DC_GSRC] = k->s.dev_gsrc[d];
	cls[NN_DC_DST6] = k->s.dev_dst6[d];
	cls[NN_DC_DST4] = k->s.dev_dst4[d];
}

/* The existing class of (@net, @sig) in @sigs; NN_CLASS_NONE for an empty
 * signature (as intern() gives it), -ENOENT when none exists. */
static int lookup(const struct nn_table *sigs, uint32_t net, const uint32_t *sig, size_t n,
		  uint32_t *cls)
{
	size_t klen = (n + 1) * sizeof(uint32_t);
	uint32_t small[64], *key;
	struct nn_tentry *e;

	*cls = NN_CLASS_NONE;
	if (!n)
		return 0;
	key = klen <= sizeof(small) ? small : malloc(klen);
	if (!key)
		return -ENOMEM;
	key[0] = net;
	memcpy(key + 1, sig, n * sizeof(uint32_t));
	e = nn_table_get(sigs, key, klen);
	if (e)
		*cls = *(uint32_t *)e->val;
	if (key != small)
		free(key);
	return e ? 0 : -ENOENT;
}

int nn_compile_dev_classes(struct nn_compile_state *k, const struct nn_device *dev,
			   const uint32_t *named, size_t n_named, const uint32_t *grp, size_t n_grp,
			   const uint32_t *dst, size_t n_dst, uint32_t cls[NN_DC_COUNT])
{
	uint32_t net = dev->network + 1;
	struct vec sig = {};
	int err;

	err = lookup(&k->s.src_sigs, net, named, n_named, &cls[NN_DC_SRC]);
	if (!err)
		err = lookup(&k->s.src_sigs, net, grp, n_grp, &cls[NN_DC_GSRC]);
	/* As dst_classes_devices(): the rules naming the device as dst, then
	 * those whose regions or prefixes cover each address. */
	if (!err && n_dst)
		err = nn_c_vappend(&sig, dst, n_dst);
	if (!err)
		err = nn_c_region_sig(&k->s, net, dev->addr6, 128, &sig);
	if (!err)
		err = lookup(&k->s.dst_sigs, net, sig.v, sig.n, &cls[NN_DC_DST6]);
	cls[NN_DC_DST4] = NN_CLASS_NONE;
	if (!err && dev->has_addr4) {
		sig.n = 0;
		if (n_dst)
			err = nn_c_vappend(&sig, dst, n_dst);
		if (!err)
			err = nn_c_region_sig(&k->s, net, dev->addr4, 128, &sig);
		if (!err)
			err = lookup(&k->s.dst_sigs, net, sig.v, sig.n, &cls[NN_DC_DST4]);
	}
	free(sig.v);
	return err;
}

uint32_t nn_compile_class_refs(const struct nn_compile_state *k, bool dst, uint32_t cls)
{
	const struct vec *r = dst ? &k->s.dst_refs : &k->s.src_refs;

	return cls != NN_CLASS_NONE && cls < r->n ? r->v[cls] : 0;
}

void nn_compile_class_ref(struct nn_compile_state *k, bool dst, uint32_t cls, int delta)
{
	struct vec *r = dst ? &k->s.dst_refs : &k->s.src_refs;

	/* Only classes that exist are ever named here (dev_classes finds no
	 * other), so the vector already covers @cls. */
	if (cls != NN_CLASS_NONE && cls < r->n)
		r->v[cls] = (uint32_t)((int64_t)r->v[cls] + delta);
}

bool nn_compile_in_closed(const struct nn_compile_state *k, const uint8_t *addr)
{
	return nn_c_longest_covering(&k->s.closed, 0, addr, 128) >= 0;
}

size_t nn_compile_dev_addrs(struct nn_compile_state *k, const struct nn_policy *p,
			    const struct nn_device *dev, uint32_t slot,
			    const uint32_t cls[NN_DC_COUNT], struct nn_addr_ent out[2])
{
	uint32_t net = dev->network + 1;
	struct nn_addr_info info;
	size_t n = 0;

	/* Field for field as emit_addrs() in compile.c. */
	memset(&info, 0, sizeof(info));
	info.kind = NN_AK_DEVICE;
	info.state = dev->state;
	info.tenant = p->networks[dev->network].tenant + 1;
	info.network = net;
	info.src_class = cls[NN_DC_SRC];
	info.src_gclass = cls[NN_DC_GSRC];
	info.stat_slot = slot;
	info.dst_class = cls[NN_DC_DST6];
	info.flags = nn_c_cell_flags(&k->s, net, info.src_class, info.src_gclass, info.dst_class) |
		     (dev->egress_here ? NN_AF_EGRESS : 0);
	memcpy(out[n].addr, dev->addr6, NN_ADDR_LEN);
	out[n++].info = info;
	if (dev->has_addr4) {
		info.dst_class = cls[NN_DC_DST4];
		info.flags = nn_c_cell_flags(&k->s, net, info.src_class, info.src_gclass,
					     info.dst_class) |
			     (dev->egress_here ? NN_AF_EGRESS : 0);
		memcpy(out[n].addr, dev->addr4, NN_ADDR_LEN);
		out[n++].info = info;
	}
	return n;
}

/* class -> its interned key, built on first use. */
static int build_rsig(struct nn_compile_state *k, int dst)
{
	const struct nn_table *t = dst ? &k->s.dst_sigs : &k->s.src_sigs;
	size_t n = 0, i;

	for (i = 0; i < t->cap; i++)
		if (t->e[i].used && *(uint32_t *)t->e[i].val >= n)
			n = *(uint32_t *)t->e[i].val + 1;
	k->rsig[dst] = calloc(n + 1, sizeof(*k->rsig[dst]));
	k->rsig_n[dst] = calloc(n + 1, sizeof(*k->rsig_n[dst]));
	if (!k->rsig[dst] || !k->rsig_n[dst])
		return -ENOMEM;
	for (i = 0; i < t->cap; i++) {
		uint32_t c;

		if (!t->e[i].used)
			continue;
		c = *(uint32_t *)t->e[i].val;
		k->rsig[dst][c] = t->e[i].key;
		k->rsig_n[dst][c] = t->e[i].klen / sizeof(uint32_t);
	}
	k->rsig_cnt[dst] = n;
	return 0;
}

const uint32_t *nn_compile_class_sig(struct nn_compile_state *k, bool dst, uint32_t cls, size_t *n)
{
	*n = 0;
	if (!k->rsig[dst] && build_rsig(k, dst))
		return NULL;
	if (cls >= k->rsig_cnt[dst])
		return NULL;
	*n = k->rsig_n[dst][cls];
	return k->rsig[dst][cls];
}
