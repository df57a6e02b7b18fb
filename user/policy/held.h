/* SPDX-License-Identifier: GPL-2.0 */
/*
 * held.h - the held snapshot document: the control-plane client's base for
 * ?since= deltas, which the incremental path's kept state also reads
 * (gateway block, networks, users, nodes, ACL names). In user/policy
 * because both cp/ and compile/ use it, and it is the parser's tree.
 *
 * Why not a jansson tree: json_loadb of the 45 MB snapshot at 100k devices
 * added 415 MB of RSS (9.1x its text; at 1M ~4.4 GB). This is the policy
 * parser's arena tree (policy/jdoc.h: ~1.6x the text, yajl's parse), made
 * mutable for what a delta does: replace, append or remove an element of
 * an id'ed list, add a list to an object. A new value is copied into the
 * arena; what it replaces becomes garbage, counted, and the whole tree is
 * copied into a fresh arena ("repacked") once garbage is half of the arena.
 *
 * Pointers into the tree (struct nn_jv *) stay valid across edits of other
 * lists (the arena never moves or reuses memory; an array that outgrows
 * its vector gets a new one, so pointers to its own elements go stale)
 * and die at a repack: @epoch says when (the kept state rebinds, delta.c).
 *
 * Shared by reference count: the client holds one, the kept state another
 * (a full fetch replaces the client's; the kept state's lives on until it
 * is dropped). One thread at a time.
 */
#ifndef NANAMI_POLICY_HELD_H
#define NANAMI_POLICY_HELD_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <yajl/yajl_gen.h>

#include "policy/jdoc.h"

/* jansson's own bound on a document's nesting (json_loadb). */
#define NN_HELD_MAX_DEPTH 2048

/* Slots of the direct-mapped cache that shares short strings (jdoc.c's
 * INTERN_MAX): copied values reuse the tree's keys and enum-like words. */
#define NN_HELD_INTERN_SLOTS 1024
#define NN_HELD_INTERN_MAX 24

struct nn_held {
	struct nn_jdoc d; /* d.root: an object */
	size_t garbage;	  /* arena bytes no longer reachable (see held.c) */
	uint64_t epoch;	  /* bumped by every repack */
	unsigned long repacks;
	unsigned int refs;
	const char *intern[NN_HELD_INTERN_SLOTS];
	uint8_t intern_len[NN_HELD_INTERN_SLOTS];
};

/*
 * Parse @len bytes of @text as a held document: one JSON object, strict as
 * the snapshot parser (duplicate keys, bad UTF-8, \u0000, ... refused). On
 * failure -EBADMSG with "invalid JSON at line L column C: why" or "not a
 * JSON object" in @err, or -ENOMEM. One reference in *@out.
 */
int nn_held_parse(const char *text, size_t len, struct nn_held **out, char *err, size_t errlen);
struct nn_held *nn_held_ref(struct nn_held *h);
void nn_held_put(struct nn_held *h);

/* The root object's integer "generation", -1 when it has none. */
long long nn_held_generation(const struct nn_held *h);
/* Arena bytes in use, garbage included. */
size_t nn_held_bytes(const struct nn_held *h);

/* ---- edits (0 or -ENOMEM; a failed edit changes nothing) ---- */

/* @j (a jansson value) copied into @d's arena as *@out. @h (may be NULL)
 * lends its cache of short strings. */
int nn_held_copy_json(struct nn_jdoc *d, struct nn_held *h, const json_t *j, struct nn_jv *out);
/* @v's tree copied into arena @d as *@out (a value kept apart from its
 * document: the kept state's user objects). 0 or -ENOMEM (the copy so far
 * stays in @d, unreachable). */
int nn_held_copy_jv(struct nn_jdoc *d, const struct nn_jv *v, struct nn_jv *out);
/* Element @i of array @arr becomes a copy of @j (@i < size). */
int nn_held_arr_set(struct nn_held *h, struct nn_jv *arr, size_t i, const json_t *j);
/* A copy of @j appended to array @arr. */
int nn_held_arr_append(struct nn_held *h, struct nn_jv *arr, const json_t *j);
/* Element @i of array @arr removed, the later ones moved down. */
void nn_held_arr_remove(struct nn_held *h, struct nn_jv *arr, size_t i);
/* A copy of @j appended to object @obj as member @key, which it lacks;
 * its slot in *@slot (may be NULL). */
int nn_held_obj_add(struct nn_held *h, struct nn_jv *obj, const char *key, const json_t *j,
		    struct nn_jv **slot);
/* Copy the tree into a fresh arena when garbage is half of it or more
 * (every struct nn_jv * into it is then stale: epoch changes). */
int nn_held_maybe_repack(struct nn_held *h);
/* The same, unconditionally (tests). */
int nn_held_repack(struct nn_held *h);

/* ---- deltas (held_delta.c) ---- */

/*
 * Apply a delta document ({"generation", "since", "full": false,
 * "changes"}) to @h in place: the rules of docs/assignments-v1.md, with
 * the messages of the jansson reference nn_cp_delta_apply()
 * (selftests/lib/delta_oracle.c; the tests compare the two). On error @h
 * may be half changed: drop it (the client then fetches in full).
 * *@n_changes (may be NULL) gets the number applied. May repack
 * (nn_held_maybe_repack) after a success.
 */
int nn_held_delta_apply(struct nn_held *h, const json_t *delta, size_t *n_changes, char *err,
			size_t errlen);

/* ---- validation (held_policy.c) ---- */

struct nn_limits;
struct nn_policy;
struct nn_errlist;
/*
 * nn_policy_parse() of @h's document without parsing it again: the same
 * verdict, policy and messages as nn_policy_parse() of its text. @text
 * (may be NULL), @len: the text it was parsed from (a fetched snapshot's
 * body); NULL when there is none (a document deltas changed), and then
 * its length is counted from the tree (the body limit). A document over
 * the body or nesting limit is judged on its text, for the message's
 * byte offset (dumped when @text is NULL: only bad snapshots pay).
 */
int nn_held_policy(const struct nn_held *h, const char *text, size_t len, const char *node_id,
		   const struct nn_limits *lim, struct nn_policy **out, struct nn_errlist *errs);

/* ---- text (held_gen.c) ---- */

/* @v as compact JSON, keys in document order: the bytes nn_cp_dump()
 * writes for the same document. malloc'd, NUL-terminated, its length in
 * *@len; NULL with errno on failure. */
char *nn_held_dump(const struct nn_jv *v, size_t *len);
/* @v through generator @g (for documents assembled from pieces). */
yajl_gen_status nn_held_gen(yajl_gen g, const struct nn_jv *v);
/* @v's text (nn_held_dump's bytes) handed to @put piece by piece, never
 * whole: an LKG file written from the document, a length counted, with
 * no copy of the text (485 MB at 1M devices). 0, -ENOMEM, or -EINVAL
 * (nested deeper than the generator's bound). */
typedef void (*nn_held_put_fn)(void *ctx, const char *s, size_t len);
int nn_held_emit(const struct nn_jv *v, nn_held_put_fn put, void *ctx);
/* The length of @v's text, without the text. 0 or as nn_held_emit. */
int nn_held_text_len(const struct nn_jv *v, size_t *len);
/* A jansson value through generator @g, in the same form. */
yajl_gen_status nn_held_gen_json(yajl_gen g, const json_t *j);

/* A generator writing into one growing buffer (dump.c): begin, emit,
 * then take the text (NULL with errno if @st or the buffer failed). */
struct nn_gen_out {
	char *p;
	size_t n, cap;
	bool oom;
};
yajl_gen nn_gen_begin(struct nn_gen_out *o);
char *nn_gen_take(yajl_gen g, struct nn_gen_out *o, yajl_gen_status st, size_t *len);

#endif /* NANAMI_POLICY_HELD_H */
