// SPDX-License-Identifier: GPL-2.0
/* gwkey.c - the gateway's own key as a snapshot gives it (policy.h). */
#include <errno.h>
#include <string.h>

#include <jansson.h>

#include "lib/base64.h"
#include "policy/policy.h"

int nn_gw_key_read(const struct json_t *gateway, struct nn_gw_key *k)
{
	const json_t *g = gateway;
	json_t *key = json_object_get(g, "public_key"), *gen = json_object_get(g, "key_generation");

	memset(k, 0, sizeof(*k));
	if (key && !json_is_null(key)) {
		if (!json_is_string(key) ||
		    nn_key_from_base64(json_string_value(key), k->public_key))
			k->unreadable = true;
		else
			k->has_key = true;
	}
	if (!k->unreadable && gen && !json_is_null(gen)) {
		if (!json_is_integer(gen) || json_integer_value(gen) < 0) {
			k->unreadable = true;
		} else {
			k->gen = (uint64_t)json_integer_value(gen);
			k->has_gen = true;
		}
	}
	if (k->unreadable) {
		k->has_key = k->has_gen = false;
		return -EBADMSG;
	}
	return 0;
}
