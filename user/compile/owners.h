/* SPDX-License-Identifier: GPL-2.0 */
/*
 * owners.h - who holds each overlay address and WireGuard key the kept
 * state of the incremental path knows (delta.c builds it, delta_apply.c
 * asks it whether a change takes an address or key another holds).
 *
 * An entry per device address and key: 2.7M at 1M devices. In the generic
 * table (lib/table.h) that was a 32-byte slot plus the key and value copied
 * into chunks; here a slot is 8 bytes (a 32-bit hash and the device's index
 * with which of its fields it is) and the key is read from the policy's
 * device on compare, 34 MB at 1M: the kept state's build rose 0.32 GB of
 * RSS there, 0.51 before (docs/controller.md, session 15). The hash kept in the slot lets a
 * probe skip a mismatch without reading the device, and lets a delete's
 * backward shift and a growth place entries without reading any device.
 *
 * The rare owners that are not devices (INC_OTHER: the gateway's own
 * addresses, the nodes' addresses and keys, a dropped copy's) have no
 * device to read their key from: they are in a small generic table.
 *
 * The rule that makes reading the key from the device sound: an entry for
 * device i holds only while p->devices[i] holds that key. A caller changing
 * a device's addresses or key (or moving a device to another index) gives
 * the old entries up (INC_NONE) while the device still holds them, and puts
 * the new ones once it holds those (nn_owners_put checks it: -EINVAL).
 */
#ifndef NANAMI_COMPILE_OWNERS_H
#define NANAMI_COMPILE_OWNERS_H

#include <stddef.h>
#include <stdint.h>

#include "lib/base64.h"
#include "lib/table.h"
#include "policy/policy.h"

#define INC_NONE UINT32_MAX  /* no owner / no such device: a put of it deletes */
#define INC_OTHER 0xfffffffe /* owned by a node or this gateway */

/* Device indexes below this (the top two bits of a slot say which field). */
#define NN_OWNERS_MAX_DEVICES (1u << 30)

struct inc_oslot {
	uint32_t h;   /* the key's hash (high 32 bits of nn_hash_bytes) */
	uint32_t who; /* device index | field << 30; UINT32_MAX: empty */
};

struct inc_owners {
	struct inc_oslot *s;
	size_t cap;	       /* slots (any number: homes by multiply-shift) */
	size_t n;	       /* device entries */
	size_t shifted;	       /* entries deletions moved back, so far (a statistic) */
	struct nn_table other; /* 'a' addr / 'k' key (nn_inc_owner_key) -> "" */
};

/* Empty, with room for @entries device entries before it grows (0, or
 * -ENOMEM). Sized from the policy: a growth rehashes every slot inside
 * the change that triggers it. */
int nn_owners_init(struct inc_owners *o, size_t entries);
void nn_owners_free(struct inc_owners *o);

/* The owner of address (@kind 'a', NN_ADDR_LEN bytes) or key ('k', 32
 * bytes) @v: a device index into @p->devices, INC_OTHER or INC_NONE. */
uint32_t nn_owners_get(const struct inc_owners *o, const struct nn_policy *p, char kind,
		       const uint8_t *v);

/* @v now belongs to @who: a device index (whose device must hold @v, else
 * -EINVAL; -E2BIG past NN_OWNERS_MAX_DEVICES), INC_OTHER, or INC_NONE
 * (nobody: the entry is deleted, never allocates). 0, or -ENOMEM. */
int nn_owners_put(struct inc_owners *o, const struct nn_policy *p, char kind, const uint8_t *v,
		  uint32_t who);

/* For tests: every slot names a device of @p and a field it has, its hash
 * is that field's, it is reachable from its home (no empty slot between),
 * no other-owner key is also a device's, and @n_fields device entries are
 * held. 0, or -EINVAL with the first wrong slot in @why. O(slots). */
int nn_owners_check(const struct inc_owners *o, const struct nn_policy *p, size_t n_fields,
		    char *why, size_t wl);

#endif /* NANAMI_COMPILE_OWNERS_H */
