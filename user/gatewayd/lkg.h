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

/* The same file from a held document's tree (policy/held.h): its text as
 * nn_held_dump() writes it, generated twice (length and checksum for the
 * header, then the bytes) and never held whole: at 1M devices the text is
 * 485 MB, and the daemon keeps only the document. */
struct nn_jv;
int nn_lkg_save_doc(const char *dir, uint64_t generation, const struct nn_jv *root, char *why,
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

/*
 * The journal (<state-dir>/last-good.journal): fast-path changes since the
 * file was written, each appended and fdatasync'd before it is enforced,
 * as the delta document the control plane sent ({generation, since, full:
 * false, changes}):
 *
 *	NANAMI-LKGJ v1 since=<S> generation=<G> length=<bytes> crc32=<hex>\n
 *	<length bytes of JSON>\n
 *
 * A delta the fast path took in chunks is journaled per chunk: every chunk
 * but the last lands on its base (since == generation), the last on the
 * delta's generation.
 *
 * Rewriting the file (nn_lkg_save) folds the journal in; the caller then
 * removes it (nn_lkg_journal_reset). A crash between the two leaves
 * entries that are not newer than the file: the replay skips them.
 */
#define NN_LKG_JOURNAL "last-good.journal"

/* 0 or -errno with @why. */
int nn_lkg_journal_append(const char *dir, uint64_t since, uint64_t generation, const char *delta,
			  size_t len, char *why, size_t whylen);
int nn_lkg_journal_reset(const char *dir, char *why, size_t whylen);

/* Drop the entries a snapshot of @generation holds (what the replay would
 * skip over it), keeping the newer ones in order (*@kept): after the LKG of
 * an older generation than the last journaled one was written (the drift
 * check's, on its worker, while changes went on). No entry left removes
 * the file. 0 or -errno with @why (the journal is then as it was). */
int nn_lkg_journal_trim(const char *dir, uint64_t generation, size_t *kept, char *why,
			size_t whylen);

/*
 * Replay the journal over the loaded snapshot (*@json of generation
 * *@generation): every entry newer than it, in order, each following the
 * one before. A torn last entry (a crash during its append: never
 * enforced), a gap or an entry that does not apply ends the replay there,
 * with the reason in @why ("" when it ended cleanly); what was replayed
 * before stands. *@applied entries; *@json, *@len and *@generation then
 * describe the result. 0, or -errno for an unreadable journal or no memory
 * (the snapshot is then as loaded).
 */
int nn_lkg_journal_replay(const char *dir, size_t max, uint64_t *generation, char **json,
			  size_t *len, size_t *applied, char *why, size_t whylen);
/* ... up to generation @upto and no further (the drift check's worker: the
 * text of the generation it checks, while the loop journals later ones). */
int nn_lkg_journal_replay_to(const char *dir, size_t max, uint64_t upto, uint64_t *generation,
			     char **json, size_t *len, size_t *applied, char *why, size_t whylen);

#endif /* NANAMI_GATEWAYD_LKG_H */
