/* SPDX-License-Identifier: GPL-2.0 */
/* strbuf.h - a growable string for building text (metrics pages, JSON). */
#ifndef NANAMI_LIB_STRBUF_H
#define NANAMI_LIB_STRBUF_H

#include <stddef.h>

struct nn_strbuf {
	char *s; /* NUL-terminated once anything was written */
	size_t n;
	size_t cap;
	int err; /* -ENOMEM/-EINVAL: later appends do nothing */
};

/* Append printf-style; on failure sets b->err and keeps what was there. */
void nn_sbprintf(struct nn_strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The string (NULL after a failure; then it is freed), ownership to the caller. */
char *nn_sbtake(struct nn_strbuf *b);

/* An error message buffer: ERR (when given, ERRLEN > 0) set to the formatted
 * message, so that callers say what was wrong and where. */
void nn_seterr(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif /* NANAMI_LIB_STRBUF_H */
