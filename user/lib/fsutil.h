/* SPDX-License-Identifier: GPL-2.0 */
/* fsutil.h - small filesystem helpers. */
#ifndef NANAMI_LIB_FSUTIL_H
#define NANAMI_LIB_FSUTIL_H

/* mkdir -p with mode 0700 for every directory created. 0 or -errno. */
int nn_mkdir_p(const char *path);

/* fsync the directory holding @path (after a rename into it). 0 or -errno. */
int nn_fsync_dir_of(const char *path);

#include <stddef.h>

/* The whole of the regular file open on @fd (not closed) into *@buf
 * (malloc'ed, NUL-terminated, *@len bytes when @len is not NULL): 0,
 * -EINVAL when it is not a regular file, -EFBIG when it is larger than @max
 * bytes, -EIO when it shrank while read, or -errno. */
int nn_read_fd(int fd, size_t max, char **buf, size_t *len);

/* nn_read_fd() of @path, opened for reading. */
int nn_read_file(const char *path, size_t max, char **buf, size_t *len);

#endif /* NANAMI_LIB_FSUTIL_H */
