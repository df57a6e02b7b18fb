// SPDX-License-Identifier: GPL-2.0
/* gwkey.c - the gateway's own key as a snapshot gives it (policy.h). */
#include <errno.h>
#include <string.h>

#include "lib/base64.h"
#include "policy/jdoc.h"
#include "policy/policy.h"

int nn_gw_key_read(const struct nn_jv *g, struct nn_gw_key *k)
{
	const struct nn_jv *key = nn_jv_get(g, "public_key"), *gen = nn_jv_get(g, "key_generation");

	memset(k, 0, sizeof(*k));
	if (key && !nn_jv_is_null(key)) {
		if (!nn_jv_is_string(key) || nn_key_from_base64(nn_jv_str(key), k->public_key))
			k->unreadable = true;
		else
			k->has_key = true;
	}
	if (!k->unreadable && gen && !nn_jv_is_null(gen)) {
		if (!nn_jv_is_integer(gen) || nn_jv_int(gen) < 0) {
			k->unreadable = true;
		} else {
			k->gen = (uint64_t)nn_jv_int(gen);
			k->has_gen = true;
		}
	}
	if (k->unreadable) {
		k->has_key = k->has_gen = false;
		return -EBADMSG;
	}
	return 0;
}
