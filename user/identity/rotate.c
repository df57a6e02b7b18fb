// SPDX-License-Identifier: GPL-2.0
/*
 * rotate.c - the files of a WireGuard key rotation (identity-v1.md steps 1
 * and 3-4) and which key a snapshot names. The order is what makes a crash
 * harmless: the new key is on disk before the control plane hears of it, and
 * wg.key is replaced only after wg0 runs the new key.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "identity/identity.h"
#include "policy/jdoc.h"
#include "policy/policy.h"
#include "lib/fsutil.h"
#include "wg/device.h"

int nn_ident_rotation_begin(const char *dir, uint8_t next[NN_KEY_LEN])
{
	int e = nn_wg_generate_private_key(next);

	return e ? e : nn_ident_write_wg_key(dir, NN_IDENT_WG_NEXT, next, false);
}

int nn_ident_rotation_commit(const char *dir)
{
	char from[4096], to[4096];

	if (nn_ident_path(dir, NN_IDENT_WG_NEXT, from, sizeof(from)) ||
	    nn_ident_path(dir, NN_IDENT_WG_KEY, to, sizeof(to)))
		return -ENAMETOOLONG;
	if (rename(from, to))
		return -errno;
	return nn_fsync_dir_of(to);
}

int nn_ident_rotation_abandon(const char *dir)
{
	char p[4096];

	if (nn_ident_path(dir, NN_IDENT_WG_NEXT, p, sizeof(p)))
		return -ENAMETOOLONG;
	if (unlink(p) && errno != ENOENT)
		return -errno;
	return nn_fsync_dir_of(p);
}

const char *nn_key_match_name(enum nn_key_match m)
{
	switch (m) {
	case NN_KEY_UNNAMED:
		return "unnamed";
	case NN_KEY_CURRENT:
		return "current";
	case NN_KEY_NEXT:
		return "next";
	case NN_KEY_NEITHER:
		break;
	}
	return "neither";
}

int nn_ident_snapshot_key(const char *text, size_t len, uint8_t pub[NN_KEY_LEN], bool *has_key,
			  uint64_t *gen, bool *has_gen)
{
	struct nn_jdoc doc = {};
	struct nn_gw_key k;
	char jerr[128];
	size_t at;
	int e;

	/* Unparsable text has no key (absent), as before. */
	if (nn_jdoc_parse(text, len, 64, &doc, jerr, sizeof(jerr), &at) != NN_JDOC_OK)
		doc.root = NULL;
	e = nn_gw_key_read(doc.root ? nn_jv_get(doc.root, "gateway") : NULL, &k);
	nn_jdoc_free(&doc);
	*has_key = k.has_key;
	*has_gen = k.has_gen;
	if (k.has_key)
		memcpy(pub, k.public_key, NN_KEY_LEN);
	if (k.has_gen)
		*gen = k.gen;
	return e;
}

enum nn_key_match nn_ident_key_match(const uint8_t cur[NN_KEY_LEN], const uint8_t *next,
				     const uint8_t snap[NN_KEY_LEN], bool has_key)
{
	if (!has_key)
		return NN_KEY_UNNAMED;
	if (!memcmp(snap, cur, NN_KEY_LEN))
		return NN_KEY_CURRENT;
	if (next && !memcmp(snap, next, NN_KEY_LEN))
		return NN_KEY_NEXT;
	return NN_KEY_NEITHER;
}
