// SPDX-License-Identifier: GPL-2.0
/*
 * held_gen.c - documents as text, through yajl's generator: the held
 * document's arena tree (nn_held_dump, held.h) or a jansson tree
 * (nn_held_gen_json: the control-plane client's nn_cp_dump, a one-device
 * snapshot's pieces). Both write the same bytes for the same document:
 * compact, keys in document order, yajl's escapes.
 *
 * jansson's json_dumps took 0.6-1.2 s for the 44 MB of a 100k-device
 * snapshot on this machine; yajl's generator writes the same bytes in
 * about a third of that, straight into one buffer we own.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_gen.h>

#include "policy/held.h"

static void put(void *ctx, const char *s, size_t len)
{
	struct nn_gen_out *o = ctx;

	if (o->oom)
		return;
	if (o->n + len + 1 > o->cap) {
		size_t cap = o->cap ? o->cap : 1 << 16;
		char *np;

		while (cap < o->n + len + 1)
			cap *= 2;
		np = realloc(o->p, cap);
		if (!np) {
			o->oom = true;
			return;
		}
		o->p = np;
		o->cap = cap;
	}
	memcpy(o->p + o->n, s, len);
	o->n += len;
}

yajl_gen nn_gen_begin(struct nn_gen_out *o)
{
	yajl_gen g = yajl_gen_alloc(NULL);

	memset(o, 0, sizeof(*o));
	if (g)
		yajl_gen_config(g, yajl_gen_print_callback, put, o);
	return g;
}

char *nn_gen_take(yajl_gen g, struct nn_gen_out *o, yajl_gen_status st, size_t *len)
{
	if (!g) {
		errno = ENOMEM;
		return NULL;
	}
	yajl_gen_free(g);
	if (st != yajl_gen_status_ok || o->oom || !o->p) {
		free(o->p);
		o->p = NULL;
		errno = o->oom ? ENOMEM : EINVAL;
		return NULL;
	}
	o->p[o->n] = 0;
	*len = o->n;
	return o->p;
}

/* The parser refuses deeper documents; a held one never is. */
#define GEN_MAX_DEPTH 64

static yajl_gen_status gen(yajl_gen g, const json_t *j, unsigned int depth)
{
	yajl_gen_status st;
	const char *k;
	json_t *v;
	size_t i;

	if (depth > GEN_MAX_DEPTH)
		return yajl_max_depth_exceeded;
	switch (json_typeof(j)) {
	case JSON_OBJECT:
		st = yajl_gen_map_open(g);
		json_object_foreach((json_t *)j, k, v)
		{
			if (st == yajl_gen_status_ok)
				st = yajl_gen_string(g, (const unsigned char *)k, strlen(k));
			if (st == yajl_gen_status_ok)
				st = gen(g, v, depth + 1);
		}
		return st == yajl_gen_status_ok ? yajl_gen_map_close(g) : st;
	case JSON_ARRAY:
		st = yajl_gen_array_open(g);
		json_array_foreach(j, i, v)
		{
			if (st == yajl_gen_status_ok)
				st = gen(g, v, depth + 1);
		}
		return st == yajl_gen_status_ok ? yajl_gen_array_close(g) : st;
	case JSON_STRING:
		return yajl_gen_string(g, (const unsigned char *)json_string_value(j),
				       json_string_length(j));
	case JSON_INTEGER:
		return yajl_gen_integer(g, json_integer_value(j));
	case JSON_REAL:
		return yajl_gen_double(g, json_real_value(j));
	case JSON_TRUE:
		return yajl_gen_bool(g, 1);
	case JSON_FALSE:
		return yajl_gen_bool(g, 0);
	case JSON_NULL:
		return yajl_gen_null(g);
	}
	return yajl_gen_invalid_string;
}

yajl_gen_status nn_held_gen_json(yajl_gen g, const json_t *j)
{
	return gen(g, j, 0);
}

/* The held document's tree, written as gen() writes the jansson tree of
 * the same document: the same bytes (test_cp_backoff, test_held_random). */
static yajl_gen_status gen_jv(yajl_gen g, const struct nn_jv *v, unsigned int depth)
{
	yajl_gen_status st;
	size_t i;

	if (depth > GEN_MAX_DEPTH)
		return yajl_max_depth_exceeded;
	switch (v->type) {
	case NN_JV_OBJECT:
	case NN_JV_ARRAY:
		st = v->type == NN_JV_OBJECT ? yajl_gen_map_open(g) : yajl_gen_array_open(g);
		for (i = 0; i < v->n && st == yajl_gen_status_ok; i++) {
			const char *k = v->u.m[i].key;

			if (v->type == NN_JV_OBJECT)
				st = yajl_gen_string(g, (const unsigned char *)k, strlen(k));
			if (st == yajl_gen_status_ok)
				st = gen_jv(g, &v->u.m[i].v, depth + 1);
		}
		if (st != yajl_gen_status_ok)
			return st;
		return v->type == NN_JV_OBJECT ? yajl_gen_map_close(g) : yajl_gen_array_close(g);
	case NN_JV_STRING:
		return yajl_gen_string(g, (const unsigned char *)v->u.s, v->n);
	case NN_JV_INTEGER:
		return yajl_gen_integer(g, v->u.i);
	case NN_JV_REAL:
		return yajl_gen_double(g, v->u.r);
	case NN_JV_TRUE:
		return yajl_gen_bool(g, 1);
	case NN_JV_FALSE:
		return yajl_gen_bool(g, 0);
	case NN_JV_NULL:
		return yajl_gen_null(g);
	}
	return yajl_gen_invalid_string;
}

yajl_gen_status nn_held_gen(yajl_gen g, const struct nn_jv *v)
{
	return gen_jv(g, v, 0);
}

char *nn_held_dump(const struct nn_jv *v, size_t *len)
{
	struct nn_gen_out o;
	yajl_gen g = nn_gen_begin(&o);

	return nn_gen_take(g, &o, g ? gen_jv(g, v, 0) : yajl_gen_generation_complete, len);
}

int nn_held_emit(const struct nn_jv *v, nn_held_put_fn put, void *ctx)
{
	yajl_gen g = yajl_gen_alloc(NULL);
	yajl_gen_status st;

	if (!g)
		return -ENOMEM;
	yajl_gen_config(g, yajl_gen_print_callback, put, ctx);
	st = gen_jv(g, v, 0);
	yajl_gen_free(g);
	return st == yajl_gen_status_ok ? 0 : -EINVAL;
}

static void count(void *ctx, const char *s, size_t len)
{
	(void)s;
	*(size_t *)ctx += len;
}

int nn_held_text_len(const struct nn_jv *v, size_t *len)
{
	*len = 0;
	return nn_held_emit(v, count, len);
}
