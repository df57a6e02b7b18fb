// SPDX-License-Identifier: GPL-2.0
/*
 * held_delta.c - a delta applied to the held document (held.h): the rules
 * of docs/assignments-v1.md ("Deltas"), message for message those of the
 * jansson reference nn_cp_delta_apply() (selftests/lib/delta_oracle.c), which the tests run
 * beside it as an independent oracle (test_cp_backoff, test_held_random).
 *
 * The delta itself is small and stays a jansson document; only the held
 * snapshot is the arena tree.
 */
#include <errno.h>
#include <string.h>

#include "policy/held.h"
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

/*
 * Index of the element of array @a whose member @key is the string @id, -1
 * if none. Linear, as the reference is: a network's devices are scanned
 * for every change of one of them. The synthetic policy's networks hold
 * 100-1000 devices (microseconds); 1M devices in one network cost 17-33 ms
 * a change (docs/controller.md "The held document"): an index per list is
 * the step if such networks appear.
 */
static long find_by(const struct nn_jv *a, const char *key, const char *id)
{
	size_t i, n = nn_jv_size(a), idlen = strlen(id);

	for (i = 0; i < n; i++) {
		const struct nn_jv *s = nn_jv_get(&a->u.m[i].v, key);

		if (nn_jv_is_string(s) && s->n == idlen && !memcmp(s->u.s, id, idlen))
			return (long)i;
	}
	return -1;
}

/* obj[name] as an array, created (appended to @obj) when absent and
 * @create is set; NULL otherwise, *@err -ENOMEM when creating failed. */
static struct nn_jv *list_of(struct nn_held *h, struct nn_jv *obj, const char *name, bool create,
			     int *err)
{
	struct nn_jv *a = nn_jv_get(obj, name);
	json_t *empty;

	if (!a && create && nn_jv_is_object(obj)) {
		empty = json_array();
		*err = empty ? nn_held_obj_add(h, obj, name, empty, &a) : -ENOMEM;
		json_decref(empty);
		if (*err)
			return NULL;
	}
	return nn_jv_is_array(a) ? a : NULL;
}

static int apply_one(struct nn_held *h, const json_t *c, size_t idx, char *err, size_t errlen)
{
	const char *op = json_string_value(json_object_get(c, "op"));
	const char *kind = json_string_value(json_object_get(c, "kind"));
	const char *id = json_string_value(json_object_get(c, "id"));
	const char *tid = json_string_value(json_object_get(c, "tenant_id"));
	const char *nid = json_string_value(json_object_get(c, "network_id"));
	const json_t *value = json_object_get(c, "value");
	struct nn_jv *cont = h->d.root, *list;
	const struct kind_desc *k = NULL;
	bool upsert;
	int ret = 0;
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
		list = tid ? list_of(h, h->d.root, "tenants", false, &ret) : NULL;
		i = list ? find_by(list, "tenant_id", tid) : -1;
		if (i < 0) {
			nn_seterr(err, errlen,
				  "delta change %zu (%s %s): tenant %s not in the base "
				  "snapshot",
				  idx, kind, id, tid ? tid : "(none)");
			return -EBADMSG;
		}
		cont = &list->u.m[i].v;
	}
	if (k->depth == 2) {
		list = nid ? list_of(h, cont, "networks", false, &ret) : NULL;
		i = list ? find_by(list, "network_id", nid) : -1;
		if (i < 0) {
			nn_seterr(err, errlen,
				  "delta change %zu (%s %s): network %s/%s not in the "
				  "base snapshot",
				  idx, kind, id, tid, nid ? nid : "(none)");
			return -EBADMSG;
		}
		cont = &list->u.m[i].v;
	}
	list = list_of(h, cont, k->list, upsert, &ret);
	if (ret)
		return ret;
	i = list ? find_by(list, k->key, id) : -1;
	if (!list && upsert) {
		nn_seterr(err, errlen, "delta change %zu (%s %s): \"%s\" is not a list", idx, kind,
			  id, k->list);
		return -EBADMSG;
	}
	if (!upsert) {
		/* Deleting what is not there: our base is not the control
		 * plane's snapshot M, so nothing built on it can be trusted. */
		if (i < 0) {
			nn_seterr(err, errlen,
				  "delta change %zu: delete of %s %s, which is not in "
				  "the base snapshot",
				  idx, kind, id);
			return -EBADMSG;
		}
		nn_held_arr_remove(h, list, (size_t)i);
		return 0;
	}
	return i >= 0 ? nn_held_arr_set(h, list, (size_t)i, value) :
			nn_held_arr_append(h, list, value);
}

int nn_held_delta_apply(struct nn_held *h, const json_t *delta, size_t *n_changes, char *err,
			size_t errlen)
{
	json_t *gen = json_object_get(delta, "generation");
	json_t *since = json_object_get(delta, "since");
	json_t *full = json_object_get(delta, "full");
	json_t *changes = json_object_get(delta, "changes"), *c;
	struct nn_jv *base = h ? nn_jv_get(h->d.root, "generation") : NULL;
	size_t i;
	int ret;

	if (n_changes)
		*n_changes = 0;
	if (!h || !nn_jv_is_object(h->d.root) || !nn_jv_is_integer(base)) {
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
	if (json_integer_value(since) != base->u.i ||
	    json_integer_value(gen) < json_integer_value(since)) {
		nn_seterr(err, errlen,
			  "delta: from generation %lld to %lld does not apply to "
			  "base generation %lld",
			  (long long)json_integer_value(since), (long long)json_integer_value(gen),
			  (long long)base->u.i);
		return -EBADMSG;
	}
	json_array_foreach(changes, i, c)
	{
		ret = apply_one(h, c, i, err, errlen);
		if (ret)
			return ret;
	}
	/* Again: a top-level list created above moved the root's members. */
	base = nn_jv_get(h->d.root, "generation");
	base->u.i = json_integer_value(gen);
	if (n_changes)
		*n_changes = json_array_size(changes);
	/* A failed repack leaves the document as it was: still good. */
	nn_held_maybe_repack(h);
	return 0;
}
