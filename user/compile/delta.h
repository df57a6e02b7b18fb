/* SPDX-License-Identifier: GPL-2.0 */
/*
 * delta.h - the incremental path for device changes (issue 13): a delta
 * whose changes are all device upserts and deletes is applied to the policy
 * and compile state kept from the last full apply, and becomes a patch of
 * the device's nn_addrs entries and counter slots, in O(change) -- provided
 * the full path would have come to exactly the same maps and messages.
 * Anything it cannot prove so (a class appearing or vanishing, a collision,
 * a message the change would add or remove, a change of any other kind)
 * falls back: -EAGAIN with the reason, and nothing kept is changed.
 *
 * What a fast-path change may not do, and why each is checked (else the
 * full snapshot would differ from the patched state):
 *  - produce or remove a validation or routing message: the messages kept
 *    from the last full apply must stay the full snapshot's;
 *  - collide on device id, address or public key with any other entity
 *    (a dropped copy in the document included), or
 *    touch an id the document holds dropped copies of ("every copy of a
 *    duplicate is dropped" would drop or restore others);
 *  - add or delete an id a rule of its network names (valid or dropped): the
 *    rule stands only while the device does, so it would be dropped or
 *    restored (renumbering every rule after it) or the snapshot rejected. A
 *    device standing before and after may be named: its rules stand as they
 *    were, and its classes include them (src named, dst);
 *  - put an address in closed space;
 *  - need a class that does not exist, or leave a class without members
 *    (cells would appear or vanish).
 * The device's own validity is judged by the snapshot parser itself, on a
 * one-device snapshot with its network's gateway block, user and nodes.
 * A delta of one user upsert (groups, routing preference) is a change of
 * each of the user's devices, judged the same way (delta_user.c).
 */
#ifndef NANAMI_COMPILE_DELTA_H
#define NANAMI_COMPILE_DELTA_H

#include <jansson.h>

#include "compile/compile.h"
#include "policy/held.h"
#include "policy/policy.h"

/* A WireGuard peer a fast-path delta touches: the device now holding @key
 * (@want: active, so wg0 should carry it as @dev says), or a key no device
 * wants any more (removed, revoked, or rotated away from). */
struct nn_dev_peer {
	uint8_t key[32];
	bool want;
	struct nn_device dev; /* valid when @want */
};

/* What one fast-path delta changes in the maps, counter slots and wg0. */
struct nn_dev_patch {
	struct nn_addr_ent *set; /* nn_addrs entries to write */
	size_t n_set;
	uint8_t (*del)[NN_ADDR_LEN]; /* nn_addrs keys to delete */
	size_t n_del;
	struct nn_name *new_names; /* counter slots to claim (zeroed first) */
	uint32_t *new_slots;
	size_t n_new;
	uint32_t *old_slots; /* counter slots to free after the switch */
	size_t n_old;
	struct nn_dev_peer *peers; /* wg0 peers to set or remove, keys distinct */
	size_t n_peers;
	uint64_t generation; /* of the policy afterwards */
	size_t n_devices;
	uint64_t seq; /* nn_inc_new()'s @seq: which full apply it builds on */
};

void nn_dev_patch_free(struct nn_dev_patch *pt);

struct nn_inc;

/*
 * Keep @p (taken over: freed with the state), @cs (the compile state of the
 * same full apply, taken over), the counter slots that apply chose (@slots,
 * copied; @slot_cap the size of the device slot space) and @doc (the
 * held snapshot document @p was parsed from; a reference is taken, it is
 * only read: gateway block, networks, users, nodes, ACL names; its owner
 * may go on applying deltas to it, and a repack is followed). @lim: the limits
 * of the full path (NULL: defaults). @seq names the full apply (struct
 * nn_apply_kept's seq): every patch carries it, and the switch refuses a
 * patch after another full apply renumbered the classes. The state is only
 * valid on the maps of that apply and the patches after it. NULL on
 * allocation failure (then @p and @cs are freed).
 */
struct nn_inc *nn_inc_new(struct nn_policy *p, struct nn_compile_state *cs,
			  const struct nn_slots *slots, uint32_t slot_cap, uint64_t seq,
			  struct nn_held *doc, const struct nn_limits *lim);
void nn_inc_free(struct nn_inc *s);
/* The arena of user objects fast-path user changes keep (bytes; its
 * compactions so far in *@compactions, may be NULL): bounded by twice the
 * live copies and nn_inc_held_min, which tests lower to 0. */
size_t nn_inc_held_bytes(const struct nn_inc *s, unsigned long *compactions);
extern size_t nn_inc_held_min;
/* The id tables (device ids, the owners of addresses and keys), for tests
 * and benches that bound them under churn: a deleted device and a
 * given-up address or key are deleted from them (lib/table.h,
 * compile/owners.h: no tombstones), so their entries are the live ones
 * only, their slots grow only with the live entries, and their chunks are
 * reused. */
struct nn_inc_ids {
	size_t entries;	    /* live entries */
	size_t slots;	    /* slots (entries and empty) */
	size_t shifted;	    /* entries deletions moved back, so far */
	size_t chunk_bytes; /* the keys' and values' heap */
};
void nn_inc_id_stats(const struct nn_inc *s, struct nn_inc_ids *st);
/* The id tables against the kept policy, for tests: every device's id
 * maps to its index, is in the document's ids, its addresses and key are
 * owned by it, no other device id is left, and the owners index holds
 * nothing else (nn_owners_check). 0, or -EINVAL with the first wrong entry
 * in @why. O(devices + the index's slots). */
int nn_inc_check_ids(const struct nn_inc *s, char *why, size_t wl);
/* Free the state but hand back its policy (as patched by the deltas so
 * far): for an owner that keeps using the policy once the kept state is
 * dropped. NULL for @s NULL. */
struct nn_policy *nn_inc_take_policy(struct nn_inc *s);

/* The kept policy, patched by every successful nn_inc_delta(). Devices may
 * be in another order than a full parse puts them (new ones last, a deleted
 * one's place taken by the last): nothing depends on device order. */
const struct nn_policy *nn_inc_policy(const struct nn_inc *s);
/* The kept compile state (its class numbers are those of the maps). */
struct nn_compile_state *nn_inc_compile_state(struct nn_inc *s);

/*
 * Apply the "changes" array @changes of a delta to generation @generation.
 * 0: applied, *@pt is the patch (free with nn_dev_patch_free). -EAGAIN: not
 * a per-device change (reason in @why); nothing changed. -ENOMEM midway: the
 * state is unusable (free it; the full path rebuilds).
 */
int nn_inc_delta(struct nn_inc *s, const json_t *changes, uint64_t generation,
		 struct nn_dev_patch *pt, char *why, size_t whylen);

#endif /* NANAMI_COMPILE_DELTA_H */
