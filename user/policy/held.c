// SPDX-License-Identifier: GPL-2.0
/*
 * held.c - the held snapshot document (held.h): the policy parser's arena
 * tree, edited in place.
 *
 * Memory rules of the edits:
 *  - nothing in the arena is freed or overwritten but the slot an edit
 *    changes (an element, a member, an array's count); what a slot held
 *    becomes garbage;
 *  - an array or object that grows gets a vector with room to spare (its
 *    capacity in a header member before it: NN_JV_F_CAP), so appends are
 *    amortised O(1); the vector it leaves is garbage;
 *  - strings of up to NN_HELD_INTERN_MAX bytes may be shared (the parser
 *    and the copies below intern them), so they never count as garbage;
 *    longer ones are always a value's own. Garbage is thus a slight
 *    under-count: a repack comes a little late, never early.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/held.h"
#include "lib/table.h"

#define MEM sizeof(struct nn_jmem)

static size_t round8(size_t n)
{
	return (n + 7) & ~(size_t)7;
}

/* Arena bytes a string of @n bytes owns (0: it may be shared). */
static size_t str_bytes(size_t n)
{
	return n > NN_HELD_INTERN_MAX ? round8(n + 1) : 0;
}

static size_t vec_cap(const struct nn_jv *v)
{
	return (v->flags & NN_JV_F_CAP) ? (size_t)v->u.m[-1].v.u.i : v->n;
}

/* The vector's own bytes, header included. */
static size_t vec_bytes(const struct nn_jv *v)
{
	return (v->flags & NN_JV_F_CAP) ? (vec_cap(v) + 1) * MEM : v->n * MEM;
}

/* Arena bytes only @v's tree owns. */
static size_t tree_bytes(const struct nn_jv *v)
{
	size_t b, i;

	switch (v->type) {
	case NN_JV_STRING:
		return str_bytes(v->n);
	case NN_JV_OBJECT:
	case NN_JV_ARRAY:
		b = vec_bytes(v);
		for (i = 0; i < v->n; i++) {
			b += tree_bytes(&v->u.m[i].v);
			if (v->type == NN_JV_OBJECT)
				b += str_bytes(strlen(v->u.m[i].key));
		}
		return b;
	default:
		return 0;
	}
}

/* @len bytes of @s as a NUL-terminated string in @d, shared through @h's
 * cache when @h's arena is @d and the string is short. */
static const char *str_put(struct nn_jdoc *d, struct nn_held *h, const char *s, size_t len)
{
	size_t slot = 0;
	char *out;

	if (h && &h->d != d)
		h = NULL;
	if (h && len <= NN_HELD_INTERN_MAX) {
		uint64_t x = nn_hash_bytes(s, len);

		slot = x & (NN_HELD_INTERN_SLOTS - 1);
		if (h->intern[slot] && h->intern_len[slot] == len &&
		    !memcmp(h->intern[slot], s, len))
			return h->intern[slot];
	}
	out = nn_jdoc_alloc(d, len + 1);
	if (!out)
		return NULL;
	memcpy(out, s, len);
	out[len] = 0;
	if (h && len <= NN_HELD_INTERN_MAX) {
		h->intern[slot] = out;
		h->intern_len[slot] = (uint8_t)len;
	}
	return out;
}

/* An exact-size vector of @n members (as the parser makes them). */
static struct nn_jmem *vec_exact(struct nn_jdoc *d, size_t n)
{
	return n ? nn_jdoc_alloc(d, n * MEM) : NULL;
}

int nn_held_copy_json(struct nn_jdoc *d, struct nn_held *h, const json_t *j, struct nn_jv *out)
{
	const char *k;
	json_t *x;
	size_t i, n;
	int err;

	memset(out, 0, sizeof(*out));
	switch (json_typeof(j)) {
	case JSON_OBJECT:
	case JSON_ARRAY:
		n = json_is_object(j) ? json_object_size(j) : json_array_size(j);
		if (n > UINT32_MAX)
			return -E2BIG;
		out->type = json_is_object(j) ? NN_JV_OBJECT : NN_JV_ARRAY;
		out->u.m = vec_exact(d, n);
		if (n && !out->u.m)
			return -ENOMEM;
		i = 0;
		if (json_is_object(j)) {
			/* jansson keeps insertion order: the text's. */
			json_object_foreach((json_t *)j, k, x)
			{
				out->u.m[i].key = str_put(d, h, k, strlen(k));
				if (!out->u.m[i].key)
					return -ENOMEM;
				err = nn_held_copy_json(d, h, x, &out->u.m[i].v);
				if (err)
					return err;
				i++;
			}
		} else {
			json_array_foreach(j, i, x)
			{
				out->u.m[i].key = NULL;
				err = nn_held_copy_json(d, h, x, &out->u.m[i].v);
				if (err)
					return err;
			}
		}
		out->n = (uint32_t)n;
		return 0;
	case JSON_STRING:
		n = json_string_length(j);
		if (n > UINT32_MAX)
			return -E2BIG;
		out->type = NN_JV_STRING;
		out->n = (uint32_t)n;
		out->u.s = str_put(d, h, json_string_value(j), n);
		return out->u.s ? 0 : -ENOMEM;
	case JSON_INTEGER:
		out->type = NN_JV_INTEGER;
		out->u.i = json_integer_value(j);
		return 0;
	case JSON_REAL:
		out->type = NN_JV_REAL;
		out->u.r = json_real_value(j);
		return 0;
	case JSON_TRUE:
		out->type = NN_JV_TRUE;
		return 0;
	case JSON_FALSE:
		out->type = NN_JV_FALSE;
		return 0;
	case JSON_NULL:
		out->type = NN_JV_NULL;
		return 0;
	}
	return -EINVAL;
}

/* @v's tree copied into @h's arena, exact-size vectors (a repack). */
/* @v's tree into arena @d (@h: its cache of short strings, or NULL). */
static int copy_into(struct nn_jdoc *d, struct nn_held *h, const struct nn_jv *v, struct nn_jv *out)
{
	size_t i;
	int err;

	*out = *v;
	out->flags = 0;
	switch (v->type) {
	case NN_JV_STRING:
		out->u.s = str_put(d, h, v->u.s, v->n);
		return out->u.s ? 0 : -ENOMEM;
	case NN_JV_OBJECT:
	case NN_JV_ARRAY:
		out->u.m = vec_exact(d, v->n);
		if (v->n && !out->u.m)
			return -ENOMEM;
		for (i = 0; i < v->n; i++) {
			const char *k = v->u.m[i].key;

			out->u.m[i].key = k ? str_put(d, h, k, strlen(k)) : NULL;
			if (k && !out->u.m[i].key)
				return -ENOMEM;
			err = copy_into(d, h, &v->u.m[i].v, &out->u.m[i].v);
			if (err)
				return err;
		}
		return 0;
	default:
		return 0;
	}
}

static int copy_jv(struct nn_held *h, const struct nn_jv *v, struct nn_jv *out)
{
	return copy_into(&h->d, h, v, out);
}

int nn_held_copy_jv(struct nn_jdoc *d, const struct nn_jv *v, struct nn_jv *out)
{
	return copy_into(d, NULL, v, out);
}

/* Append member (@key, *@val) to the vector of @v, growing it by half. */
static int vec_push(struct nn_held *h, struct nn_jv *v, const char *key, const struct nn_jv *val)
{
	struct nn_jmem *m;
	size_t cap;

	if (v->n == UINT32_MAX)
		return -E2BIG;
	if (!(v->flags & NN_JV_F_CAP) || v->n == vec_cap(v)) {
		cap = (size_t)v->n + v->n / 2 + 4;
		m = nn_jdoc_alloc(&h->d, (cap + 1) * MEM);
		if (!m)
			return -ENOMEM;
		m[0].key = NULL;
		m[0].v = (struct nn_jv){ .type = NN_JV_INTEGER, .u.i = (int64_t)cap };
		if (v->n)
			memcpy(m + 1, v->u.m, v->n * MEM);
		h->garbage += vec_bytes(v);
		v->u.m = m + 1;
		v->flags |= NN_JV_F_CAP;
	}
	v->u.m[v->n].key = key;
	v->u.m[v->n].v = *val;
	v->n++;
	return 0;
}

int nn_held_arr_set(struct nn_held *h, struct nn_jv *arr, size_t i, const json_t *j)
{
	struct nn_jv v;
	int err = nn_held_copy_json(&h->d, h, j, &v);

	if (err)
		return err;
	h->garbage += tree_bytes(&arr->u.m[i].v);
	arr->u.m[i].v = v;
	return 0;
}

int nn_held_arr_append(struct nn_held *h, struct nn_jv *arr, const json_t *j)
{
	struct nn_jv v;
	int err = nn_held_copy_json(&h->d, h, j, &v);

	if (!err)
		err = vec_push(h, arr, NULL, &v);
	if (err)
		h->garbage += tree_bytes(&v);
	return err;
}

void nn_held_arr_remove(struct nn_held *h, struct nn_jv *arr, size_t i)
{
	h->garbage += tree_bytes(&arr->u.m[i].v);
	/* A parsed vector's slot is lost for good (its size is its count);
	 * a grown one keeps it as spare room. */
	if (!(arr->flags & NN_JV_F_CAP))
		h->garbage += MEM;
	memmove(&arr->u.m[i], &arr->u.m[i + 1], (arr->n - i - 1) * MEM);
	arr->n--;
}

int nn_held_obj_add(struct nn_held *h, struct nn_jv *obj, const char *key, const json_t *j,
		    struct nn_jv **slot)
{
	struct nn_jv v;
	const char *k;
	int err = nn_held_copy_json(&h->d, h, j, &v);

	if (!err) {
		k = str_put(&h->d, h, key, strlen(key));
		err = k ? vec_push(h, obj, k, &v) : -ENOMEM;
	}
	if (err) {
		h->garbage += tree_bytes(&v);
		return err;
	}
	if (slot)
		*slot = &obj->u.m[obj->n - 1].v;
	return 0;
}

int nn_held_repack(struct nn_held *h)
{
	struct nn_jdoc old = h->d;
	struct nn_jv *root;
	int err;

	memset(&h->d, 0, sizeof(h->d));
	memset(h->intern, 0, sizeof(h->intern));
	root = nn_jdoc_alloc(&h->d, sizeof(*root));
	err = root ? copy_jv(h, old.root, root) : -ENOMEM;
	memset(h->intern, 0, sizeof(h->intern));
	if (err) {
		/* As it was: the copy so far is dropped. */
		nn_jdoc_free(&h->d);
		h->d = old;
		return err;
	}
	h->d.root = root;
	nn_jdoc_free(&old);
	h->garbage = 0;
	h->epoch++;
	h->repacks++;
	return 0;
}

int nn_held_maybe_repack(struct nn_held *h)
{
	if (h->garbage * 2 < nn_jdoc_bytes(&h->d))
		return 0;
	return nn_held_repack(h);
}

int nn_held_parse(const char *text, size_t len, struct nn_held **out, char *err, size_t errlen)
{
	struct nn_held *h = calloc(1, sizeof(*h));
	char why[256];
	size_t at;
	int r;

	*out = NULL;
	if (!h)
		return -ENOMEM;
	r = nn_jdoc_parse(text, len, NN_HELD_MAX_DEPTH, &h->d, why, sizeof(why), &at);
	if (r == NN_JDOC_OK && !nn_jv_is_object(h->d.root)) {
		snprintf(err, errlen, "not a JSON object");
		r = -EBADMSG;
	} else if (r == NN_JDOC_SYNTAX) {
		snprintf(err, errlen, "invalid JSON at %s", why);
		r = -EBADMSG;
	} else if (r == NN_JDOC_DEPTH) {
		snprintf(err, errlen, "invalid JSON: nesting deeper than %d at byte %zu",
			 NN_HELD_MAX_DEPTH, at);
		r = -EBADMSG;
	} else if (r == NN_JDOC_NOMEM) {
		snprintf(err, errlen, "no memory for the document");
		r = -ENOMEM;
	}
	if (r) {
		nn_jdoc_free(&h->d);
		free(h);
		return r;
	}
	h->refs = 1;
	*out = h;
	return 0;
}

struct nn_held *nn_held_ref(struct nn_held *h)
{
	if (h)
		h->refs++;
	return h;
}

void nn_held_put(struct nn_held *h)
{
	if (!h || --h->refs)
		return;
	nn_jdoc_free(&h->d);
	free(h);
}

long long nn_held_generation(const struct nn_held *h)
{
	const struct nn_jv *g = h ? nn_jv_get(h->d.root, "generation") : NULL;

	return nn_jv_is_integer(g) ? (long long)g->u.i : -1;
}

size_t nn_held_bytes(const struct nn_held *h)
{
	return nn_jdoc_bytes(&h->d);
}
