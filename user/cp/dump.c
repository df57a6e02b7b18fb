// SPDX-License-Identifier: GPL-2.0
/*
 * dump.c - a jansson document as text (nn_cp_dump), through the
 * generator the held document is written with (policy/held_gen.c): the
 * same bytes json_dumps(JSON_COMPACT) gives, about three times faster.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_gen.h>

#include "cp/client.h"
#include "policy/held.h"

char *nn_cp_dump(const json_t *j, size_t *len)
{
	struct nn_gen_out o;
	yajl_gen g = nn_gen_begin(&o);

	return nn_gen_take(g, &o, g ? nn_held_gen_json(g, j) : yajl_gen_generation_complete, len);
}
