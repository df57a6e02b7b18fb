// SPDX-License-Identifier: GPL-2.0
/*
 * delta_oracle.c - a delta applied to a jansson tree: the rules of
 * docs/assignments-v1.md ("Deltas"), as the client applied them before its
 * held document became the arena tree (policy/held.h, held_delta.c). Kept as
 * the tests' independent oracle: test_held_random and test_cp_backoff
 * compare verdicts, messages and text, test_inc_random builds its model's
 * next snapshot with it.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "delta_oracle.h"
#include "lib/strbuf.h"

struct kind_desc {
	const char *kind, *key, *list;
	int depth; /* 0 top level, 1 in a tenant, 2 in a network */
};

static const struct kind_desc kinds[] = {
	{ "node", "node_id", "nodes", 0 },	    { "tenant", "tenant_id", "tenants", 0 },
	{ "network", "network_id", "networks", 1 }, { "user", "user_id", "users", 2 },
	{ "device", "device_id", "devices", 2 },
};

/* Index of the element of array a whose key is id, -1 if none. */
static long find_by(const json_t *a, const char *key, const char *id)
{
	size_t i;
	json_t *v;

	json_array_foreach(a, i, v)
	{
		const char *s = json_string_value(json_object_get(v, key));

		if (s && !strcmp(s, id))
			return (long)i;
	}
	return -1;
}

/* obj[name] as an array, created when absent and create is set. */
static json_t *list_of(json_t *obj, const char *name, bool create)
{
	json_t *a = json_object_get(obj, name);

	if (!a && create && json_is_object(obj)) {
		a = json_array();
		if (!a || json_object_set_new(obj, name, a))
			return NULL;
	}
	return json_is_array(a) ? a : NULL;
}

static int apply_one(json_t *snap, const json_t *c, size_t idx, char *err, size_t errlen)
{
	const char *op = json_string_value(json_object_get(c, "op"));
	const char *kind = json_string_value(json_object_get(c, "kind"));
	const char *id = json_string_value(json_object_get(c, "id"));
	const char *tid = json_string_value(json_object_get(c, "tenant_id"));
	const char *nid = json_string_value(json_object_get(c, "network_id"));
	json_t *value = json_object_get(c, "value"), *cont = snap, *list;
	const struct kind_desc *k = NULL;
	bool upsert;
	long i;
	size_t n;

	for (n = 0; kind && n < sizeof(kinds) / sizeof(*kinds); n++)
		if (!strcmp(kinds[n].kind, kind))
			k = &kinds[n];
	if (!json_is_object(c) || !op || (strcmp(op, "upsert") && strcmp(op, "delete")) || !k ||
	    !id || !*id) {
		nn_seterr(err, errlen,
			  "delta change %zu: needs op upsert|delete, a known kind "
			  "and an id",
			  idx);
		return -EBADMSG;
	}
	upsert = !strcmp(op, "upsert");
	if (upsert &&
	    (!json_is_object(value) || !json_string_value(json_object_get(value, k->key)) ||
	     strcmp(json_string_value(json_object_get(value, k->key)), id))) {
		nn_seterr(err, errlen,
			  "delta change %zu (%s %s): value must be an object "
			  "with %s \"%s\"",
			  idx, kind, id, k->key, id);
		return -EBADMSG;
	}
	if (k->depth >= 1) {
		list = tid ? list_of(snap, "tenants", false) : NULL;
		i = list ? find_by(list, "tenant_id", tid) : -1;
		if (i < 0) {
			nn_seterr(err, errlen,
				  "delta change %zu (%s %s): tenant %s not in the base "
				  "snapshot",
				  idx, kind, id, tid ? tid : "(none)");
			return -EBADMSG;
		}
		cont = json_array_get(list, i);
	}
	if (k->depth == 2) {
		list = nid ? list_of(cont, "networks", false) : NULL;
		i = list ? find_by(list, "network_id", nid) : -1;
		if (i < 0) {
			nn_seterr(err, errlen,
				  "delta change %zu (%s %s): network %s/%s not in the "
				  "base snapshot",
				  idx, kind, id, tid, nid ? nid : "(none)");
			return -EBADMSG;
		}
		cont = json_array_get(list, i);
	}
	list = list_of(cont, k->list, upsert);
	i = list ? find_by(list, k->key, id) : -1;
	if (!list && upsert) {
		nn_seterr(err, errlen, "delta change %zu (%s %s): \"%s\" is not a list", idx, kind,
			  id, k->list);
		return -EBADMSG;
	}
	if (!upsert) {
		/* Deleting what is not there: our base is not the control
		 * plane's snapshot M, so nothing built on it can be trusted. */
		if (i < 0 || json_array_remove(list, i)) {
			nn_seterr(err, errlen,
				  "delta change %zu: delete of %s %s, which is not in "
				  "the base snapshot",
				  idx, kind, id);
			return -EBADMSG;
		}
		return 0;
	}
	value = json_deep_copy(value);
	if (!value)
		return -ENOMEM;
	if (i >= 0 ? json_array_set_new(list, i, value) : json_array_append_new(list, value))
		return -ENOMEM;
	return 0;
}

int nn_cp_delta_apply(json_t *snap, const json_t *delta, size_t *n_changes, char *err,
		      size_t errlen)
{
	json_t *gen = json_object_get(delta, "generation");
	json_t *since = json_object_get(delta, "since");
	json_t *full = json_object_get(delta, "full");
	json_t *changes = json_object_get(delta, "changes");
	json_t *base = json_object_get(snap, "generation"), *c;
	size_t i;
	int ret;

	if (n_changes)
		*n_changes = 0;
	if (!json_is_object(snap) || !json_is_integer(base)) {
		nn_seterr(err, errlen, "delta: the base snapshot has no generation");
		return -EINVAL;
	}
	if (!json_is_object(delta) || !json_is_integer(gen) || !json_is_integer(since) ||
	    !json_is_array(changes) || (full && !json_is_false(full))) {
		nn_seterr(err, errlen,
			  "delta: needs integer generation and since, "
			  "\"full\": false and a changes list");
		return -EBADMSG;
	}
	if (json_integer_value(since) != json_integer_value(base) ||
	    json_integer_value(gen) < json_integer_value(since)) {
		nn_seterr(err, errlen,
			  "delta: from generation %lld to %lld does not apply to "
			  "base generation %lld",
			  (long long)json_integer_value(since), (long long)json_integer_value(gen),
			  (long long)json_integer_value(base));
		return -EBADMSG;
	}
	json_array_foreach(changes, i, c)
	{
		ret = apply_one(snap, c, i, err, errlen);
		if (ret)
			return ret;
	}
	if (json_object_set_new(snap, "generation", json_integer(json_integer_value(gen))))
		return -ENOMEM;
	if (n_changes)
		*n_changes = json_array_size(changes);
	return 0;
}

struct nn_held *nn_test_held_of(const json_t *doc)
{
	char *text = json_dumps(doc, JSON_COMPACT), e[256];
	struct nn_held *h = NULL;

	if (text && nn_held_parse(text, strlen(text), &h, e, sizeof(e)))
		fprintf(stderr, "held document: %s\n", e);
	free(text);
	return h;
}
