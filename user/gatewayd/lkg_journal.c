// SPDX-License-Identifier: GPL-2.0
/*
 * lkg_journal.c - the last-known-good's journal (lkg.h): a fast-path
 * change is one small fsync'd append here instead of a rewrite of the
 * whole snapshot (48 MB at 100k devices), made before the change is
 * enforced, so that a crash never loses an enforced revocation.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <jansson.h>

#include "cp/client.h"
#include "gatewayd/lkg.h"
#include "lib/fsutil.h"

#define JHDR_MAX 160

static void jpath(char *buf, size_t n, const char *dir)
{
	snprintf(buf, n, "%s/%s", dir, NN_LKG_JOURNAL);
}

/* The journal of @dir into *@buf (its path into @path): 1, 0 when there is
 * none, or -errno with @why naming the file. */
static int read_journal(const char *dir, size_t max, char *path, size_t plen, char **buf,
			size_t *blen, char *why, size_t whylen)
{
	int err;

	jpath(path, plen, dir);
	err = nn_read_file(path, max, buf, blen);
	if (err == -ENOENT)
		return 0;
	if (err) {
		snprintf(why, whylen, "%s: couldn't read: %s", path, strerror(-err));
		return err;
	}
	return 1;
}

int nn_lkg_journal_append(const char *dir, uint64_t since, uint64_t generation, const char *delta,
			  size_t len, char *why, size_t whylen)
{
	char path[4096], hdr[JHDR_MAX];
	uint32_t crc = crc32(0L, (const Bytef *)delta, (uInt)len);
	struct stat st;
	bool created;
	size_t hl, tot, off = 0;
	char *buf;
	int fd, n, err = 0;

	jpath(path, sizeof(path), dir);
	created = stat(path, &st) != 0;
	n = snprintf(hdr, sizeof(hdr),
		     "NANAMI-LKGJ v1 since=%" PRIu64 " generation=%" PRIu64
		     " length=%zu crc32=%08x\n",
		     since, generation, len, crc);
	hl = (size_t)n;
	tot = hl + len + 1;
	buf = malloc(tot);
	if (!buf) {
		snprintf(why, whylen, "%s: no memory for the entry", path);
		return -ENOMEM;
	}
	/* One write per entry: a crash tears at most the last one, which the
	 * replay then drops (it was never enforced: the append comes first). */
	memcpy(buf, hdr, hl);
	memcpy(buf + hl, delta, len);
	buf[tot - 1] = '\n';
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		err = -errno;
		snprintf(why, whylen, "%s: couldn't open: %s", path, strerror(-err));
		free(buf);
		return err;
	}
	while (off < tot) {
		ssize_t w = write(fd, buf + off, tot - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			err = -errno;
			break;
		}
		off += (size_t)w;
	}
	if (!err && fdatasync(fd))
		err = -errno;
	close(fd);
	free(buf);
	if (!err && created)
		err = nn_fsync_dir_of(path);
	if (err)
		snprintf(why, whylen, "%s: couldn't append generation %" PRIu64 ": %s", path,
			 generation, strerror(-err));
	return err;
}

int nn_lkg_journal_reset(const char *dir, char *why, size_t whylen)
{
	char path[4096];
	int err;

	jpath(path, sizeof(path), dir);
	if (unlink(path)) {
		if (errno == ENOENT)
			return 0;
		err = -errno;
		snprintf(why, whylen, "%s: couldn't remove: %s", path, strerror(-err));
		return err;
	}
	err = nn_fsync_dir_of(path);
	if (err)
		snprintf(why, whylen, "%s: removed, but couldn't fsync its directory: %s", path,
			 strerror(-err));
	return err;
}

/* The replay's rule: is an entry folded into a snapshot of @generation? */
static bool folded(uint64_t since, uint64_t gen, uint64_t generation)
{
	return gen < generation || (gen == generation && since != generation);
}

int nn_lkg_journal_trim(const char *dir, uint64_t generation, size_t *kept, char *why,
			size_t whylen)
{
	char path[4096], tmp[4112], *buf = NULL, *p, *end, *out = NULL;
	size_t blen = 0, olen = 0;
	int fd, err;

	*kept = 0;
	why[0] = 0;
	err = read_journal(dir, NN_LKG_MAX, path, sizeof(path), &buf, &blen, why, whylen);
	if (err <= 0)
		return err;
	out = malloc(blen + 1);
	if (!out) {
		free(buf);
		snprintf(why, whylen, "%s: no memory to trim it", path);
		return -ENOMEM;
	}
	/* Entries kept as they are, bytes and order; a torn or unknown one
	 * ends the file there, as it ends the replay. */
	for (p = buf, end = buf + blen; p < end;) {
		char *nl = memchr(p, '\n',
				  (size_t)(end - p) < JHDR_MAX ? (size_t)(end - p) : JHDR_MAX);
		uint64_t since, gen;
		unsigned int crc;
		size_t l, hl;
		int used = 0;

		if (!nl)
			break;
		*nl = 0;
		if (sscanf(p,
			   "NANAMI-LKGJ v1 since=%" SCNu64 " generation=%" SCNu64
			   " length=%zu crc32=%8x%n",
			   &since, &gen, &l, &crc, &used) != 4 ||
		    p + used != nl)
			break;
		*nl = '\n';
		hl = (size_t)(nl + 1 - p);
		if ((size_t)(end - nl - 1) < l + 1 || nl[1 + l] != '\n')
			break;
		if (!folded(since, gen, generation)) {
			memcpy(out + olen, p, hl + l + 1);
			olen += hl + l + 1;
			(*kept)++;
		}
		p = nl + 1 + l + 1;
	}
	free(buf);
	if (!*kept) {
		free(out);
		return nn_lkg_journal_reset(dir, why, whylen);
	}
	/* A new file put in place by rename: a crash leaves the old journal
	 * (its folded entries are skipped by the replay) or the new one. */
	snprintf(tmp, sizeof(tmp), "%s.trim.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	err = fd < 0 ? -errno : 0;
	for (p = out; !err && p < out + olen;) {
		ssize_t w = write(fd, p, (size_t)(out + olen - p));

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			err = -errno;
		else
			p += w;
	}
	if (!err && fsync(fd))
		err = -errno;
	if (fd >= 0)
		close(fd);
	if (!err && rename(tmp, path))
		err = -errno;
	if (!err)
		err = nn_fsync_dir_of(path);
	if (err) {
		unlink(tmp);
		snprintf(why, whylen, "%s: couldn't trim it (kept whole): %s", path,
			 strerror(-err));
	}
	free(out);
	return err;
}

int nn_lkg_journal_replay(const char *dir, size_t max, uint64_t *generation, char **json,
			  size_t *len, size_t *applied, char *why, size_t whylen)
{
	return nn_lkg_journal_replay_to(dir, max, UINT64_MAX, generation, json, len, applied, why,
					whylen);
}

int nn_lkg_journal_replay_to(const char *dir, size_t max, uint64_t upto, uint64_t *generation,
			     char **json, size_t *len, size_t *applied, char *why, size_t whylen)
{
	char path[4096], *buf = NULL, *p, *end, err_s[320];
	/* The held document's arena tree, not jansson's (9x the text: at
	 * 100k a drift check peaked at 1.31 GB of RSS). */
	struct nn_held *snap = NULL;
	size_t blen = 0;
	int err;

	*applied = 0;
	why[0] = 0;
	err = read_journal(dir, max, path, sizeof(path), &buf, &blen, why, whylen);
	if (err <= 0)
		return err;
	p = buf;
	end = buf + blen;
	/* Once at @upto, what follows is later changes (a chunk landing on
	 * it included). */
	while (p < end && *generation < upto) {
		uint64_t since, gen;
		unsigned int crc;
		size_t l;
		int used = 0;
		char *nl = memchr(p, '\n',
				  (size_t)(end - p) < JHDR_MAX ? (size_t)(end - p) : JHDR_MAX);
		json_t *d;

		if (!nl)
			break; /* a torn header: the last append, never enforced */
		*nl = 0;
		if (sscanf(p,
			   "NANAMI-LKGJ v1 since=%" SCNu64 " generation=%" SCNu64
			   " length=%zu crc32=%8x%n",
			   &since, &gen, &l, &crc, &used) != 4 ||
		    p + used != nl) {
			snprintf(why, whylen, "%s: unknown entry header \"%.60s\": replay stops",
				 path, p);
			break;
		}
		p = nl + 1;
		if ((size_t)(end - p) < l + 1 || p[l] != '\n' ||
		    crc32(0L, (const Bytef *)p, (uInt)l) != crc) {
			snprintf(why, whylen,
				 "%s: torn or corrupt entry for generation %" PRIu64
				 ": replay stops there",
				 path, gen);
			break;
		}
		/* Folded into the snapshot already: older, or a whole delta that
		 * lands on it. A chunk of a delta (since == generation == the
		 * snapshot's) is not: the chunks of one delta land on its base
		 * but the last. */
		if (folded(since, gen, *generation)) {
			p += l + 1;
			continue;
		}
		if (since != *generation) {
			snprintf(why, whylen,
				 "%s: entry from generation %" PRIu64 " does not follow "
				 "%" PRIu64 ": replay stops",
				 path, since, *generation);
			break;
		}
		if (!snap) {
			if (nn_held_parse(*json, *len, &snap, err_s, sizeof(err_s))) {
				snprintf(why, whylen, "%s: the snapshot it follows is not JSON",
					 path);
				break;
			}
		}
		d = json_loadb(p, l, JSON_REJECT_DUPLICATES, NULL);
		err = d ? nn_held_delta_apply(snap, d, NULL, err_s, sizeof(err_s)) : -EBADMSG;
		json_decref(d);
		if (err) {
			/* half-applied: what came before it stands, not it */
			snprintf(why, whylen,
				 "%s: entry for generation %" PRIu64 " does not apply (%s): "
				 "replay stops",
				 path, gen, d ? err_s : "not JSON");
			nn_held_put(snap);
			snap = NULL;
			*applied = 0;
			break;
		}
		*generation = gen;
		(*applied)++;
		p += l + 1;
	}
	free(buf);
	err = 0;
	if (snap && *applied) {
		size_t nlen;
		char *t = nn_held_dump(snap->d.root, &nlen);

		if (t) {
			free(*json);
			*json = t;
			*len = nlen;
		} else {
			err = -ENOMEM;
			snprintf(why, whylen, "%s: no memory to replay it", path);
		}
	}
	nn_held_put(snap);
	return err;
}
