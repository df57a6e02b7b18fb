// SPDX-License-Identifier: GPL-2.0
/*
 * delta_entry.c - nn_inc_delta() (delta.h): a delta's changes go to the
 * device path (delta_apply.c) or, for a lone user upsert, the user path
 * (delta_user.c, which derives device changes and applies them through the
 * device path's pieces); what every patch then carries.
 */
#include <errno.h>
#include <string.h>

#include "compile/delta.h"
#include "compile/delta_int.h"

int nn_inc_delta(struct nn_inc *s, const json_t *changes, uint64_t generation,
		 struct nn_dev_patch *pt, char *why, size_t whylen)
{
	const json_t *c0 = json_array_get(changes, 0);
	const char *kind = json_string_value(json_object_get(c0, "kind"));
	int err;

	memset(pt, 0, sizeof(*pt));
	if (nn_inc_rebind(s))
		return -ENOMEM;
	if (!json_is_array(changes))
		return nn_inc_why(why, whylen, "%s changes: not a small device delta", "no");
	/* A user change goes alone (its devices' changes are derived from
	 * it: judging them beside other device changes is not done). */
	if (json_array_size(changes) == 1 && kind && !strcmp(kind, "user"))
		err = nn_inc_user_delta(s, c0, pt, why, whylen);
	else
		err = nn_inc_device_delta(s, changes, pt, why, whylen);
	if (err) {
		nn_dev_patch_free(pt);
		return err;
	}
	nn_inc_collapse(pt);
	nn_inc_sweep(s);
	s->p->generation = generation;
	pt->generation = generation;
	pt->n_devices = s->p->n_devices;
	pt->seq = s->seq;
	return 0;
}
