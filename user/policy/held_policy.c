// SPDX-License-Identifier: GPL-2.0
/*
 * held_policy.c - validate the held document (held.h) where it is: a
 * fetched snapshot is parsed once, by the control-plane client, and the
 * policy is built from that tree (nn_policy_from_tree) instead of from a
 * second parse of its text. At 1M devices the second tree was ~760 MB
 * beside the held one, the peak of the daemon's memory, and ~8 s of CPU.
 *
 * The policy copies what it keeps (ids into its own arrays), so the held
 * document may be edited by the next delta, or repacked, right after: no
 * freezing, no reference held.
 */
#include <errno.h>
#include <stdlib.h>

#include "policy/held.h"
#include "policy/policy.h"

int nn_held_policy(const struct nn_held *h, const char *text, size_t len, const char *node_id,
		   const struct nn_limits *lim, struct nn_policy **out, struct nn_errlist *errs)
{
	char *dumped = NULL;
	int err;

	*out = NULL;
	if (!text) {
		err = nn_held_text_len(h->d.root, &len);
		if (err) {
			nn_errlist_add(errs, "snapshot rejected: couldn't measure its text: %s",
				       err == -ENOMEM ? "out of memory" : "nested too deep");
			return err == -ENOMEM ? -ENOMEM : -EINVAL;
		}
	}
	if (!nn_policy_tree_fits(h->d.root, len, lim))
		return nn_policy_from_tree(h->d.root, len, node_id, lim, out, errs);
	/* Over a limit: the text's verdict, whose message says where. */
	if (!text) {
		text = dumped = nn_held_dump(h->d.root, &len);
		if (!dumped) {
			nn_errlist_add(errs, "snapshot rejected: over the body or nesting limit "
					     "(its text could not be written to say where)");
			return -EINVAL;
		}
	}
	err = nn_policy_parse(text, len, node_id, lim, out, errs);
	free(dumped);
	return err;
}
