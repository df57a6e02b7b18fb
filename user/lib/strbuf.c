// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "lib/strbuf.h"

void nn_sbprintf(struct nn_strbuf *b, const char *fmt, ...)
{
	va_list ap;
	int w;

	if (b->err)
		return;
	for (;;) {
		size_t room = b->cap - b->n, ncap;
		char *ns;

		va_start(ap, fmt);
		w = vsnprintf(b->s ? b->s + b->n : NULL, b->s ? room : 0, fmt, ap);
		va_end(ap);
		if (w < 0) {
			b->err = -EINVAL;
			return;
		}
		if (b->s && (size_t)w < room) {
			b->n += (size_t)w;
			return;
		}
		ncap = (b->cap ? b->cap : 4096) * 2 + (size_t)w;
		ns = realloc(b->s, ncap);
		if (!ns) {
			b->err = -ENOMEM;
			return;
		}
		b->s = ns;
		b->cap = ncap;
	}
}

char *nn_sbtake(struct nn_strbuf *b)
{
	char *s = b->s;

	if (b->err) {
		free(s);
		s = NULL;
	}
	b->s = NULL;
	b->n = b->cap = 0;
	return s;
}

void nn_seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}
