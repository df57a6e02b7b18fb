// SPDX-License-Identifier: GPL-2.0
/* grow.c - nn_grow (compile.h): geometric growth of the compiled arrays,
 * apart so that compile.c and ports.c both use it without calling each
 * other in a cycle. */
#include <errno.h>
#include <stdlib.h>

#include "compile/compile.h"

int nn_grow(void **arr, size_t n, size_t size)
{
	size_t cap;
	void *v;

	if (n && (n < 16 || (n & (n - 1))))
		return 0; /* room left below the implied capacity */
	cap = n < 16 ? 16 : 2 * n;
	v = realloc(*arr, cap * size);
	if (!v)
		return -ENOMEM;
	*arr = v;
	return 0;
}
