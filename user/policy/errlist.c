// SPDX-License-Identifier: GPL-2.0
/*
 * errlist.c - validation messages, one line per problem.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "policy/policy.h"

/*
 * Messages are best effort: when memory runs out a message is lost, never
 * the verdict. Callers decide from return codes, not from the list, so a
 * lost line cannot turn a rejection into an acceptance.
 */
void nn_errlist_add(struct nn_errlist *e, const char *fmt, ...)
{
	va_list ap;
	char *msg;
	int n;

	if (!e)
		return;
	if (e->n == e->cap) {
		size_t cap = e->cap ? e->cap * 2 : 16;
		char **msgs = realloc(e->msgs, cap * sizeof(*msgs));

		if (!msgs)
			return;
		e->msgs = msgs;
		e->cap = cap;
	}
	va_start(ap, fmt);
	n = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	e->msgs[e->n++] = msg;
}

void nn_errlist_free(struct nn_errlist *e)
{
	size_t i;

	if (!e)
		return;
	for (i = 0; i < e->n; i++)
		free(e->msgs[i]);
	free(e->msgs);
	e->msgs = NULL;
	e->n = 0;
	e->cap = 0;
}
