/* SPDX-License-Identifier: GPL-2.0 */
/*
 * lkg.h - the last-known-good snapshot: every applied snapshot is persisted
 * so that a gateway restarted while the control plane is away enforces what
 * it enforced before.
 *
 * File format (<state-dir>/last-good.snapshot), one header line then the
 * snapshot text exactly as received:
 *
 *	NANAMI-LKG v1 generation=<N> length=<bytes> crc32=<8 hex digits>\n
 *	<length bytes of JSON>
 *
 * Written atomically: temporary file, fsync, rename, fsync of the directory.
 * A torn or corrupt file (short, bad header, wrong length or checksum) is
 * detected on load and reported, never applied.
 */
#ifndef NANAMI_GATEWAYD_LKG_H
#define NANAMI_GATEWAYD_LKG_H

#include <stddef.h>
#include <stdint.h>

#define NN_LKG_FILE "last-good.snapshot"
/* The largest --max-snapshot-mb: what was applied always fits. */
#define NN_LKG_MAX ((size_t)4095 << 20)
/* --max-snapshot-mb's default: the load refuses a larger file unread. */
#define NN_LKG_DEFAULT_MAX ((size_t)128 << 20)

/* 0 or -errno with @why naming the file, the step that failed and the
 * error; on failure the previous file (if any) is left as it was. */
int nn_lkg_save(const char *dir, uint64_t generation, const char *json, size_t len, char *why,
		size_t whylen);

/*
 * Load the last-known-good snapshot. 0 with *json (malloc'd, NUL-terminated)
 * and *len; -ENOENT when there is none; -EBADMSG when the file is torn or
 * corrupt; other -errno for I/O errors and a file of a snapshot over @max
 * bytes (-EFBIG, nothing read). Every error but -ENOENT leaves in @why a
 * message naming the file and what is wrong.
 */
int nn_lkg_load(const char *dir, size_t max, uint64_t *generation, char **json, size_t *len,
		char *why, size_t whylen);

#endif /* NANAMI_GATEWAYD_LKG_H */
