// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "gatewayd/lkg.h"
#include "policy/held.h"
#include "lib/fsutil.h"

#define HDR_MAX 128

static int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t w = write(fd, p, len);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

/* The body of the file, written by one of two sources: the text at hand,
 * or the held document through its generator (nn_lkg_save_doc). */
struct body {
	const char *text; /* NULL: root's text */
	const struct nn_jv *root;
	size_t len;
	uint32_t crc;
};

/* A held document's text into the file through a buffer of our own (the
 * generator hands it over in pieces of a few bytes). */
struct fd_out {
	int fd, err;
	size_t n, total;
	char buf[1 << 16];
};

static void fd_put(void *ctx, const char *s, size_t len)
{
	struct fd_out *o = ctx;

	o->total += len;
	if (o->err)
		return;
	if (o->n + len > sizeof(o->buf)) {
		o->err = write_all(o->fd, o->buf, o->n);
		o->n = 0;
		if (!o->err && len > sizeof(o->buf))
			o->err = write_all(o->fd, s, len);
		if (o->err || len > sizeof(o->buf))
			return;
	}
	memcpy(o->buf + o->n, s, len);
	o->n += len;
}

static int write_body(int fd, const struct body *b)
{
	struct fd_out *o;
	int err;

	if (b->text)
		return write_all(fd, b->text, b->len);
	o = malloc(sizeof(*o));
	if (!o)
		return -ENOMEM;
	o->fd = fd;
	o->err = 0;
	o->n = o->total = 0;
	err = nn_held_emit(b->root, fd_put, o);
	if (!err)
		err = o->err;
	if (!err)
		err = write_all(fd, o->buf, o->n);
	/* The header said this length (the first pass): the same tree gives
	 * the same bytes, but a file that disagrees must never go in place. */
	if (!err && o->total != b->len)
		err = -EIO;
	free(o);
	return err;
}

static int save(const char *dir, uint64_t generation, const struct body *b, char *why,
		size_t whylen)
{
	char path[4096], tmp[4096], hdr[HDR_MAX];
	const char *step = "create";
	int fd, err, n;

	snprintf(path, sizeof(path), "%s/%s", dir, NN_LKG_FILE);
	if (b->len > NN_LKG_MAX) {
		snprintf(why, whylen, "%s: not written: the snapshot (%zu bytes) is over %zu bytes",
			 path, b->len, NN_LKG_MAX);
		return -EFBIG;
	}
	err = nn_mkdir_p(dir);
	if (err) {
		snprintf(why, whylen, "%s: couldn't create the state directory: %s", path,
			 strerror(-err));
		return err;
	}
	snprintf(tmp, sizeof(tmp), "%s/.%s.%d.tmp", dir, NN_LKG_FILE, (int)getpid());
	n = snprintf(hdr, sizeof(hdr),
		     "NANAMI-LKG v1 generation=%" PRIu64 " length=%zu crc32=%08x\n", generation,
		     b->len, b->crc);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		err = -errno;
		snprintf(why, whylen, "%s: couldn't create %s: %s", path, tmp, strerror(-err));
		return err;
	}
	step = "write";
	err = write_all(fd, hdr, (size_t)n);
	if (!err)
		err = write_body(fd, b);
	if (!err && fsync(fd)) {
		step = "fsync";
		err = -errno;
	}
	if (close(fd) && !err) {
		step = "close";
		err = -errno;
	}
	if (!err && rename(tmp, path)) {
		step = "rename";
		err = -errno;
	}
	if (err) {
		/* The old file, if any, is intact: only the temporary one goes. */
		unlink(tmp);
		snprintf(why, whylen, "%s: couldn't %s %s (the previous file is kept): %s", path,
			 step, step[0] == 'r' ? "into place" : tmp, strerror(-err));
		return err;
	}
	err = nn_fsync_dir_of(path);
	if (err)
		snprintf(why, whylen, "%s: written, but couldn't fsync its directory: %s", path,
			 strerror(-err));
	return err;
}

int nn_lkg_save(const char *dir, uint64_t generation, const char *json, size_t len, char *why,
		size_t whylen)
{
	struct body b = { .text = json, .len = len };

	b.crc = (uint32_t)crc32(0L, (const Bytef *)json, (uInt)len);
	return save(dir, generation, &b, why, whylen);
}

/* The first pass: the header's length and checksum. */
static void crc_put(void *ctx, const char *s, size_t len)
{
	struct body *b = ctx;

	b->crc = (uint32_t)crc32(b->crc, (const Bytef *)s, (uInt)len);
	b->len += len;
}

int nn_lkg_save_doc(const char *dir, uint64_t generation, const struct nn_jv *root, char *why,
		    size_t whylen)
{
	struct body b = { .root = root };
	int err;

	b.crc = (uint32_t)crc32(0L, Z_NULL, 0);
	err = nn_held_emit(root, crc_put, &b);
	if (err) {
		snprintf(why, whylen, "%s/%s: not written: couldn't write the document's text: %s",
			 dir, NN_LKG_FILE, strerror(-err));
		return err;
	}
	return save(dir, generation, &b, why, whylen);
}

int nn_lkg_load(const char *dir, size_t max, uint64_t *generation, char **json, size_t *len,
		char *why, size_t whylen)
{
	char path[4096], *buf = NULL, *nl, *body;
	unsigned int crc_hdr;
	uint64_t gen;
	size_t flen = 0, blen;
	int err, used = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, NN_LKG_FILE);
	err = nn_read_file(path, max + HDR_MAX, &buf, &flen);
	if (err == -EFBIG)
		snprintf(why, whylen,
			 "%s: larger than %zu bytes (--max-snapshot-mb): not a last-known-good "
			 "file to take",
			 path, max + HDR_MAX);
	else if (err == -EINVAL)
		snprintf(why, whylen, "%s: not a regular file: not a last-known-good file to take",
			 path);
	else if (err)
		snprintf(why, whylen, "%s: couldn't read: %s", path, strerror(-err));
	if (err)
		return err;
	nl = memchr(buf, '\n', flen < HDR_MAX ? flen : HDR_MAX);
	if (!nl) {
		snprintf(why, whylen, "%s: no header line (torn or not a last-known-good file)",
			 path);
		goto bad;
	}
	*nl = 0;
	if (sscanf(buf, "NANAMI-LKG v1 generation=%" SCNu64 " length=%zu crc32=%8x%n", &gen, &blen,
		   &crc_hdr, &used) != 3 ||
	    buf + used != nl) {
		snprintf(why, whylen, "%s: unknown header \"%.60s\"", path, buf);
		goto bad;
	}
	body = nl + 1;
	if ((size_t)(buf + flen - body) != blen) {
		snprintf(why, whylen, "%s: torn: header says %zu bytes, file has %zu", path, blen,
			 (size_t)(buf + flen - body));
		goto bad;
	}
	if (crc32(0L, (const Bytef *)body, (uInt)blen) != crc_hdr) {
		snprintf(why, whylen, "%s: corrupt: checksum mismatch", path);
		goto bad;
	}
	memmove(buf, body, blen);
	buf[blen] = 0;
	*json = buf;
	*len = blen;
	*generation = gen;
	return 0;
bad:
	free(buf);
	return -EBADMSG;
}
