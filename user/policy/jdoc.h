/* SPDX-License-Identifier: GPL-2.0 */
/*
 * jdoc.h - the snapshot's JSON document: a tree built in one arena from
 * yajl's events (jdoc.c). The policy parser reads it once; the held
 * snapshot document (jheld.h: the control-plane client's delta base, the
 * kept state's reading) is the same tree, edited by deltas.
 *
 * Why not jansson's tree: at 100k devices a snapshot is 48 MB, and jansson
 * spent ~200 instructions a byte on it (a hash table per object, a malloc
 * per value, a UTF-8 checking stream read a character at a time): 40 % of a
 * cold apply. yajl's event parser lexes at ~22 instructions a byte; the tree
 * below costs a few more (objects are small: a member lookup is a linear
 * scan). What jansson rejected is rejected here too, most of it by checks of
 * our own because yajl lets it through (jdoc.c says which).
 *
 * The accessors mirror the jansson subset the validators used, with the
 * same NULL and wrong-type behaviour (a getter of the wrong type gives
 * NULL / 0 / false, never a crash).
 */
#ifndef NANAMI_POLICY_JDOC_H
#define NANAMI_POLICY_JDOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum nn_jtype {
	NN_JV_OBJECT,
	NN_JV_ARRAY,
	NN_JV_STRING,
	NN_JV_INTEGER,
	NN_JV_REAL,
	NN_JV_TRUE,
	NN_JV_FALSE,
	NN_JV_NULL,
};

struct nn_jmem;

struct nn_jv {
	uint8_t type;  /* enum nn_jtype */
	uint8_t flags; /* NN_JV_F_*: how a held document's vector was allocated */
	uint32_t n;    /* members of an object or array; bytes of a string */
	union {
		struct nn_jmem *m; /* object and array members (key NULL in arrays) */
		const char *s;	   /* NUL-terminated, valid UTF-8, no NUL inside */
		int64_t i;
		double r;
	} u;
};

/* The member vector of this object or array was allocated by an edit of a
 * held document (jheld.c): its capacity is in u.m[-1].v.u.i. A parsed
 * vector holds exactly n members. */
#define NN_JV_F_CAP 1

/* A member in document order. */
struct nn_jmem {
	const char *key;
	struct nn_jv v;
};

struct nn_jchunk;

struct nn_jdoc {
	struct nn_jv *root; /* an object or an array */
	struct nn_jchunk *chunks;
};

/* Results of nn_jdoc_parse(). */
#define NN_JDOC_OK 0
#define NN_JDOC_DEPTH 1	 /* nesting deeper than max_depth at byte *at */
#define NN_JDOC_SYNTAX 2 /* not (strict) JSON: @err says why and where */
#define NN_JDOC_NOMEM 3

/*
 * Parse @len bytes of @text. On NN_JDOC_SYNTAX @err holds "line L column C:
 * reason" and *@at the byte offset; on NN_JDOC_DEPTH *@at is the offset of
 * the bracket that went deeper than @max_depth (checked on the raw bytes
 * first: a 100000-deep document costs one pass and no allocation).
 * Rejected like jansson's json_loadb(JSON_REJECT_DUPLICATES): duplicate
 * keys, invalid or overlong UTF-8, encoded or escaped lone surrogates,
 * \u0000, integers outside int64, reals that overflow, trailing data, a
 * top level that is not an object or array. @doc is freed with
 * nn_jdoc_free() whatever the result.
 */
int nn_jdoc_parse(const char *text, size_t len, size_t max_depth, struct nn_jdoc *doc, char *err,
		  size_t errlen, size_t *at);

/* Documents from this many bytes are parsed in two halves on two CPUs
 * (jdoc.c "a large document parsed in two halves"), with the verdict and
 * tree of the serial parse. Tests lower it to reach the split's edges on
 * small documents. */
extern size_t nn_jdoc_split_min;
/* Parses whose tree came from two halves (the tests check the split ran). */
extern unsigned long nn_jdoc_splits;
void nn_jdoc_free(struct nn_jdoc *doc);

/* @n bytes (8-byte aligned) in @doc's arena, freed with it; NULL when out
 * of memory. For trees edited after the parse (policy/held.c). */
void *nn_jdoc_alloc(struct nn_jdoc *doc, size_t n);
/* Bytes of @doc's arena in use. */
size_t nn_jdoc_bytes(const struct nn_jdoc *doc);
/* Chunks of @doc's arena; *@big: the bytes in use in chunks of at least
 * @big_cap bytes (the chunks huge pages can back: tests, profiles). */
size_t nn_jdoc_chunks(const struct nn_jdoc *doc, size_t big_cap, size_t *big);

static inline bool nn_jv_is_object(const struct nn_jv *v)
{
	return v && v->type == NN_JV_OBJECT;
}

static inline bool nn_jv_is_array(const struct nn_jv *v)
{
	return v && v->type == NN_JV_ARRAY;
}

static inline bool nn_jv_is_string(const struct nn_jv *v)
{
	return v && v->type == NN_JV_STRING;
}

static inline bool nn_jv_is_integer(const struct nn_jv *v)
{
	return v && v->type == NN_JV_INTEGER;
}

static inline bool nn_jv_is_null(const struct nn_jv *v)
{
	return v && v->type == NN_JV_NULL;
}

/* The member @key of @obj; NULL when absent or @obj is not an object. */
struct nn_jv *nn_jv_get(const struct nn_jv *obj, const char *key);

/* Elements of an array; 0 for anything else. */
static inline size_t nn_jv_size(const struct nn_jv *a)
{
	return nn_jv_is_array(a) ? a->n : 0;
}

static inline struct nn_jv *nn_jv_at(const struct nn_jv *a, size_t i)
{
	return i < nn_jv_size(a) ? &a->u.m[i].v : NULL;
}

static inline const char *nn_jv_str(const struct nn_jv *v)
{
	return nn_jv_is_string(v) ? v->u.s : NULL;
}

static inline int64_t nn_jv_int(const struct nn_jv *v)
{
	return nn_jv_is_integer(v) ? v->u.i : 0;
}

/* Every element @v of array @a (none if @a is not an array), index @i. */
#define nn_jv_foreach(a, i, v) \
	for ((i) = 0; (i) < nn_jv_size(a) && ((v) = nn_jv_at((a), (i))); (i)++)

/* Every key of object @o in document order, index @i. */
#define nn_jv_keys_foreach(o, i, k) \
	for ((i) = 0; nn_jv_is_object(o) && (i) < (o)->n && ((k) = (o)->u.m[(i)].key); (i)++)

#endif /* NANAMI_POLICY_JDOC_H */
