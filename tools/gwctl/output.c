// SPDX-License-Identifier: GPL-2.0
/*
 * output.c - tables for people, one-line JSON for scripts, and errors in
 * whichever of the two the caller asked for.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gwctl.h"
#include "lib/addr.h"

int gw_err(struct gw *g, int code, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	if (g->error_printed)
		return code;
	g->error_printed = true;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (g->json) {
		/* Scripts read stdout: the error is where the data would be. */
		gw_json_print(json_pack("{s:s}", "error", msg));
	} else {
		fprintf(stderr, "Error: %s\n", msg);
	}
	return code;
}

void gw_json_print(json_t *root)
{
	if (!root) {
		fputs("{\"error\":\"out of memory\"}\n", stdout);
		return;
	}
	json_dumpf(root, stdout, JSON_COMPACT | JSON_ENSURE_ASCII);
	fputc('\n', stdout);
	fflush(stdout);
	json_decref(root);
}

void gw_fmt_addr(const uint8_t a[NN_ADDR_LEN], char *buf, size_t len)
{
	nn_addr_format(a, buf, len);
}

json_t *gw_json_addr(const uint8_t a[NN_ADDR_LEN])
{
	char s[NN_ADDR_STRLEN];

	gw_fmt_addr(a, s, sizeof(s));
	return json_string(s);
}

json_t *gw_json_str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

void gw_fmt_count(uint64_t v, char *buf, size_t len)
{
	static const char units[] = "KMGTPE";
	double d = (double)v;
	int u = -1;

	if (v < 100000) {
		snprintf(buf, len, "%llu", (unsigned long long)v);
		return;
	}
	while (d >= 1000 && u < 5) {
		d /= 1000;
		u++;
	}
	snprintf(buf, len, "%.1f%c", d, units[u]);
}

void gw_fmt_time(uint64_t unix_ns, char *buf, size_t len)
{
	time_t t = (time_t)(unix_ns / 1000000000ull);
	struct tm tm;
	char s[32];

	gmtime_r(&t, &tm);
	strftime(s, sizeof(s), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, len, "%s.%03lluZ", s, (unsigned long long)(unix_ns / 1000000 % 1000));
}

void gw_table_init(struct gw_table *t, const char *const *head, size_t ncols)
{
	memset(t, 0, sizeof(*t));
	t->head = head;
	t->ncols = ncols;
}

int gw_table_row(struct gw_table *t, const char *const *cells)
{
	size_t i;

	if (t->rows == t->cap) {
		size_t cap = t->cap ? 2 * t->cap : 16;
		char **c = realloc(t->cells, cap * t->ncols * sizeof(*c));

		if (!c)
			return -1;
		t->cells = c;
		t->cap = cap;
	}
	for (i = 0; i < t->ncols; i++)
		t->cells[t->rows * t->ncols + i] = strdup(cells[i] ? cells[i] : "-");
	t->rows++;
	return 0;
}

void gw_table_print(const struct gw_table *t)
{
	size_t w[16] = { 0 }, r, i;

	for (i = 0; i < t->ncols && i < 16; i++)
		w[i] = strlen(t->head[i]);
	for (r = 0; r < t->rows; r++)
		for (i = 0; i < t->ncols && i < 16; i++) {
			const char *s = t->cells[r * t->ncols + i];
			size_t n = s ? strlen(s) : 0;

			if (n > w[i])
				w[i] = n;
		}
	for (i = 0; i < t->ncols; i++)
		printf("%-*s%s", (int)w[i], t->head[i], i + 1 < t->ncols ? "  " : "\n");
	for (r = 0; r < t->rows; r++)
		for (i = 0; i < t->ncols; i++) {
			const char *s = t->cells[r * t->ncols + i];

			printf("%-*s%s", i + 1 < t->ncols ? (int)w[i] : 0, s ? s : "?",
			       i + 1 < t->ncols ? "  " : "\n");
		}
}

void gw_table_free(struct gw_table *t)
{
	size_t i;

	for (i = 0; i < t->rows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	memset(t, 0, sizeof(*t));
}
