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

int nn_lkg_save(const char *dir, uint64_t generation, const char *json, size_t len, char *why,
		size_t whylen)
{
	char path[4096], tmp[4096], hdr[HDR_MAX];
	uint32_t crc = crc32(0L, (const Bytef *)json, (uInt)len);
	const char *step = "create";
	int fd, err, n;

	snprintf(path, sizeof(path), "%s/%s", dir, NN_LKG_FILE);
	if (len > NN_LKG_MAX) {
		snprintf(why, whylen, "%s: not written: the snapshot (%zu bytes) is over %zu bytes",
			 path, len, NN_LKG_MAX);
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
		     len, crc);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		err = -errno;
		snprintf(why, whylen, "%s: couldn't create %s: %s", path, tmp, strerror(-err));
		return err;
	}
	step = "write";
	err = write_all(fd, hdr, (size_t)n);
	if (!err)
		err = write_all(fd, json, len);
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
