// SPDX-License-Identifier: GPL-2.0
/*
 * jdoc.c - the snapshot's JSON tree (jdoc.h): yajl lexes and checks the
 * grammar, its events build the tree in an arena, and what yajl lets
 * through but jansson (and this project) rejects is checked here:
 *
 *  - duplicate keys in an object (yajl has no tree, so no notion of them);
 *  - invalid UTF-8 in the decoded strings: yajl's own check accepts
 *    overlong forms (C0 80), encoded surrogates (ED A0 80) and code points
 *    above U+10FFFF; every string and key is checked strictly here;
 *  - \u escapes: yajl turns a lone high surrogate into '?', pairs a high
 *    surrogate with any following \u into a garbage code point, and
 *    decodes \u0000 into a NUL inside the string; the raw-bytes pass below
 *    rejects all three before yajl sees the text;
 *  - integers: yajl's own conversion rejects INT64_MIN and relies on
 *    signed overflow; numbers come here as text and are converted with
 *    strtoll/strtod exactly as jansson did (overflow rejected).
 *
 *  - white space: yajl takes \f and \v as white space too.
 *
 * Trailing data, several top-level values, comments and a truncated
 * document are yajl's (its defaults reject them).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_parse.h>

#include "lib/thread.h"
#include "policy/jdoc.h"
#include "policy/jdoc_int.h"

/* ---- arena ---- */

/* A document's first chunk, and its largest: each new chunk doubles the
 * last. WHY growing: a chunk of 1 MB is below the 2 MB a transparent huge
 * page needs, so a large document (1 GB of tree at 1M devices) was faulted
 * in 4 KB at a time, ~190k faults at ~5-10 us each on this project's PVM
 * guest; chunks of 2 MB and more that malloc maps on their own are
 * advised for huge pages (glibc.malloc.hugetlb=1, as the daemon's unit
 * sets it). WHY capped: 32 MB is glibc's largest mmap threshold, and at
 * most one chunk's unused tail is lost; a small document stays at 1 MB. */
#define CHUNK_BYTES (1u << 20)
#define CHUNK_MAX (32u << 20)
/* glibc's header and rounding of a chunk it maps on its own (x86-64). */
#define MALLOC_OVERHEAD 32

void *nn_jd_arena_alloc(struct nn_jdoc *d, size_t n)
{
	struct nn_jchunk *c = d->chunks, *big;
	size_t size;

	n = (n + 7) & ~(size_t)7;
	if (c && c->cap - c->used >= n) {
		c->used += n;
		return c->data + c->used - n;
	}
	if (n > CHUNK_BYTES / 4 && c) {
		/* A large block gets a chunk of its own behind the current
		 * one, so the current one's free tail is not lost. */
		big = malloc(sizeof(*big) + n);
		if (!big)
			return NULL;
		big->used = big->cap = n;
		big->next = c->next;
		c->next = big;
		return big->data;
	}
	/* Sized so that malloc's mapping is a whole power of two (its own
	 * header and the chunk's inside): a mapping of 2 MB and a page
	 * holds no aligned huge page. */
	size = c ? (c->cap + sizeof(*c) + MALLOC_OVERHEAD) * 2 : CHUNK_BYTES;
	if (size > CHUNK_MAX)
		size = CHUNK_MAX;
	size -= sizeof(*c) + MALLOC_OVERHEAD;
	if (n > size)
		size = n;
	c = malloc(sizeof(*c) + size);
	if (!c)
		return NULL;
	c->cap = size;
	c->used = n;
	c->next = d->chunks;
	d->chunks = c;
	return c->data;
}

void *nn_jdoc_alloc(struct nn_jdoc *d, size_t n)
{
	return nn_jd_arena_alloc(d, n);
}

size_t nn_jdoc_bytes(const struct nn_jdoc *d)
{
	const struct nn_jchunk *c;
	size_t n = 0;

	for (c = d->chunks; c; c = c->next)
		n += c->used;
	return n;
}

size_t nn_jdoc_chunks(const struct nn_jdoc *d, size_t big_cap, size_t *big)
{
	const struct nn_jchunk *c;
	size_t n = 0;

	*big = 0;
	for (c = d->chunks; c; c = c->next, n++)
		if (c->cap >= big_cap)
			*big += c->used;
	return n;
}

void nn_jdoc_free(struct nn_jdoc *d)
{
	struct nn_jchunk *c, *next;

	for (c = d->chunks; c; c = next) {
		next = c->next;
		free(c);
	}
	d->chunks = NULL;
	d->root = NULL;
}

/* ---- strict checks yajl does not make ---- */

/* Well-formed UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing
 * above U+10FFFF; and no NUL byte (the strings are used as C strings). */
static bool utf8_valid(const unsigned char *s, size_t n)
{
	const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
	size_t i = 0, k, j;
	uint32_t cp, min;
	uint64_t w;

	while (i < n) {
		unsigned char c = s[i];

		/* Eight ASCII bytes, none zero, at a time: nearly every byte
		 * of a snapshot's strings. */
		if (n - i >= 8) {
			memcpy(&w, s + i, 8);
			if (!((w | ((w - ones) & ~w)) & highs)) {
				i += 8;
				continue;
			}
		}
		if (c && c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			k = 1;
			cp = c & 0x1f;
			min = 0x80;
		} else if ((c & 0xf0) == 0xe0) {
			k = 2;
			cp = c & 0x0f;
			min = 0x800;
		} else if (c >= 0xf0 && c <= 0xf4) {
			k = 3;
			cp = c & 0x07;
			min = 0x10000;
		} else {
			return false;
		}
		if (n - i <= k)
			return false;
		for (j = 1; j <= k; j++) {
			if ((s[i + j] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (s[i + j] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += k + 1;
	}
	return true;
}

/* The 4 hex digits at @s as a code unit, or -1 (yajl reports those). */
static long hex4(const char *s, size_t avail)
{
	long v = 0;
	size_t i;

	if (avail < 4)
		return -1;
	for (i = 0; i < 4; i++) {
		char c = s[i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= c - '0';
		else if (c >= 'a' && c <= 'f')
			v |= c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			v |= c - 'A' + 10;
		else
			return -1;
	}
	return v;
}

/*
 * One pass over the raw bytes: nesting depth ([ and { outside strings),
 * control characters outside strings and the \u escapes yajl would decode
 * wrongly (file comment). Returns
 * NN_JDOC_OK, or DEPTH / SYNTAX with *@at and (SYNTAX) *@why set.
 */
/* Bytes the scan below must look at: in a string, its end and escapes;
 * outside, brackets, a string's start and control characters (only \t,
 * \n and \r are white space). Everything else is skipped a table lookup
 * at a time: this pass reads every byte of a 48 MB snapshot. */
static const unsigned char stop_in_str[256] = { ['"'] = 1, ['\\'] = 1 };
static const unsigned char stop_outside[256] = {
	[0x00 ... 0x08] = 1, [0x0b ... 0x0c] = 1, [0x0e ... 0x1f] = 1, ['"'] = 1,
	['['] = 1,	     [']'] = 1,		  ['{'] = 1,	       ['}'] = 1,
};

/* stop_outside and ',': while looking for the split point (below). */
static const unsigned char stop_comma[256] = {
	[0x00 ... 0x08] = 1, [0x0b ... 0x0c] = 1, [0x0e ... 0x1f] = 1, ['"'] = 1, ['['] = 1,
	[']'] = 1,	     ['{'] = 1,		  ['}'] = 1,	       [','] = 1,
};

int nn_jd_raw_scan(const char *s, size_t len, size_t max, size_t *at, const char **why,
		   struct split *sp)
{
	const unsigned char *us = (const unsigned char *)s;
	bool in_str = false;
	size_t i, depth = 0;
	char outer = 0, inner = 0; /* the brackets at depth 1 and 2 */
	long u, lo;

	for (i = 0; i < len; i++) {
		char c;

		if (in_str) {
			while (i < len && !stop_in_str[us[i]])
				i++;
		} else {
			/* Between the elements of a top-level member array,
			 * while a split point is wanted, ',' stops too. */
			const unsigned char *stop = sp && !sp->done && depth == 2 && outer == '{' &&
								    inner == '[' ?
							    stop_comma :
							    stop_outside;

			while (i < len && !stop[us[i]])
				i++;
		}
		if (i == len)
			break;
		c = s[i];
		if (in_str) {
			if (c == '"') {
				in_str = false;
			} else if (c == '\\' && i + 1 < len) {
				i++;
				if (s[i] != 'u')
					continue;
				u = hex4(s + i + 1, len - i - 1);
				if (u < 0)
					continue; /* yajl: invalid \u escape */
				*at = i - 1;
				if (u == 0) {
					*why = "\\u0000 is not allowed";
					return NN_JDOC_SYNTAX;
				}
				if (u >= 0xdc00 && u <= 0xdfff) {
					*why = "invalid Unicode escape (lone low surrogate)";
					return NN_JDOC_SYNTAX;
				}
				if (u >= 0xd800 && u <= 0xdbff) {
					lo = (i + 6 < len && s[i + 5] == '\\' && s[i + 6] == 'u') ?
						     hex4(s + i + 7, len - i - 7) :
						     -1;
					if (lo < 0xdc00 || lo > 0xdfff) {
						*why = "invalid Unicode escape (lone high surrogate)";
						return NN_JDOC_SYNTAX;
					}
					i += 6; /* the low half's backslash and 'u' */
				}
				i += 4;
			}
			continue;
		}
		if (c == '"') {
			in_str = true;
		} else if (c == ',') {
			/* Only stopped at while a split point is wanted. */
			if (sp && !sp->done && depth == 2 && outer == '{' && inner == '[' &&
			    i >= sp->from) {
				sp->done = true;
				sp->found(sp, i);
			}
		} else if ((unsigned char)c < 0x20) {
			/* yajl also takes \f and \v as white space; JSON
			 * (and jansson) do not. */
			*at = i;
			*why = "invalid control character outside a string";
			return NN_JDOC_SYNTAX;
		} else if (c == '[' || c == '{') {
			if (++depth > max) {
				*at = i;
				return NN_JDOC_DEPTH;
			}
			if (depth == 1)
				outer = c;
			else if (depth == 2)
				inner = c;
		} else if ((c == ']' || c == '}') && depth) {
			depth--;
		}
	}
	return NN_JDOC_OK;
}

/* ---- building the tree from yajl's events ---- */

static int fail(struct ctx *c, const char *why)
{
	c->why = why;
	return 0;
}

static int add(struct ctx *c, const struct nn_jv *v)
{
	if (!c->n_open) {
		c->root = *v;
		c->have_root = true;
		return 1;
	}
	if (c->n == c->cap) {
		size_t cap = c->cap ? 2 * c->cap : 256;
		struct nn_jmem *s = realloc(c->stk, cap * sizeof(*s));

		if (!s)
			return fail(c, NULL);
		c->stk = s;
		c->cap = cap;
	}
	c->stk[c->n].key = c->key;
	c->stk[c->n].v = *v;
	c->n++;
	c->key = NULL;
	return 1;
}

/* A string or key copied into the arena, checked (file comment). */
static const char *str_copy(struct ctx *c, const unsigned char *s, size_t len)
{
	char *out;

	if (!utf8_valid(s, len)) {
		c->why = memchr(s, 0, len) ? "NUL byte in a string" : "invalid UTF-8 in a string";
		return NULL;
	}
	out = nn_jd_arena_alloc(c->d, len + 1);
	if (!out) {
		c->why = NULL;
		return NULL;
	}
	memcpy(out, s, len);
	out[len] = '\0';
	return out;
}

/* str_copy through the intern cache: the same bytes give the same copy.
 * A cached copy passed the checks, so its bytes need none again. */
static const char *str_intern(struct ctx *c, const unsigned char *s, size_t len)
{
	uint64_t a = 0, b = 0, h;
	const char *out;
	size_t slot;

	if (len > INTERN_MAX)
		return str_copy(c, s, len);
	memcpy(&a, s, len < 8 ? len : 8);
	if (len > 8)
		memcpy(&b, s + len - 8, 8);
	h = (a * 0x9e3779b97f4a7c15ull) ^ (b * 0xc2b2ae3d27d4eb4full) ^ len;
	h ^= h >> 29;
	h *= 0xbf58476d1ce4e5b9ull;
	h ^= h >> 32;
	slot = h & (INTERN_SLOTS - 1);
	out = c->interned[slot];
	if (out && c->interned_len[slot] == len && !memcmp(out, s, len))
		return out;
	out = str_copy(c, s, len);
	if (out) {
		c->interned[slot] = out;
		c->interned_len[slot] = (uint8_t)len;
	}
	return out;
}

static int on_null(void *p)
{
	struct nn_jv v = { .type = NN_JV_NULL };

	return add(p, &v);
}

static int on_bool(void *p, int b)
{
	struct nn_jv v = { .type = b ? NN_JV_TRUE : NN_JV_FALSE };

	return add(p, &v);
}

static int on_number(void *p, const char *s, size_t len)
{
	struct ctx *c = p;
	struct nn_jv v = { 0 };
	char buf[64], *t = buf, *end;

	/* yajl checked the grammar; the conversion is jansson's. */
	if (len >= sizeof(buf)) {
		t = malloc(len + 1);
		if (!t)
			return fail(c, NULL);
	}
	memcpy(t, s, len);
	t[len] = '\0';
	errno = 0;
	if (strpbrk(t, ".eE")) {
		v.type = NN_JV_REAL;
		v.u.r = strtod(t, &end);
		if (errno == ERANGE && (v.u.r == HUGE_VAL || v.u.r == -HUGE_VAL))
			c->why = "real number overflow";
	} else {
		v.type = NN_JV_INTEGER;
		v.u.i = strtoll(t, &end, 10);
		if (errno == ERANGE)
			c->why = v.u.i < 0 ? "too big negative integer" : "too big integer";
	}
	if (!c->why && *end)
		c->why = "invalid number";
	if (t != buf)
		free(t);
	return c->why ? 0 : add(c, &v);
}

static int on_string(void *p, const unsigned char *s, size_t len)
{
	struct ctx *c = p;
	struct nn_jv v = { .type = NN_JV_STRING, .n = (uint32_t)len };

	if (len > UINT32_MAX)
		return fail(c, "string too long");
	v.u.s = str_intern(c, s, len);
	return v.u.s ? add(c, &v) : 0;
}

static int on_key(void *p, const unsigned char *s, size_t len)
{
	struct ctx *c = p;
	const struct open *o = &c->open[c->n_open - 1];
	size_t i;

	c->key = str_intern(c, s, len);
	if (!c->key)
		return 0;
	if (c->n - o->start < DUP_SCAN_MAX)
		for (i = o->start; i < c->n; i++)
			if (c->stk[i].key[0] == c->key[0] && !strcmp(c->stk[i].key, c->key))
				return fail(c, "duplicate object key");
	return 1;
}

static int open_container(struct ctx *c, bool obj)
{
	if (c->n_open == c->cap_open) {
		size_t cap = c->cap_open ? 2 * c->cap_open : 32;
		struct open *o = realloc(c->open, cap * sizeof(*o));

		if (!o)
			return fail(c, NULL);
		c->open = o;
		c->cap_open = cap;
	}
	c->open[c->n_open].start = c->n;
	c->open[c->n_open].key = c->key;
	c->open[c->n_open].obj = obj;
	c->n_open++;
	c->key = NULL;
	return 1;
}

static int on_start_map(void *p)
{
	return open_container(p, true);
}

static int on_start_array(void *p)
{
	return open_container(p, false);
}

static int key_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Keys of a large object sorted once: any equal neighbours? */
int nn_jd_dup_sorted(const struct nn_jmem *m, size_t n)
{
	const char **k = malloc(n * sizeof(*k));
	size_t i;
	int dup = 0;

	if (!k)
		return -1;
	for (i = 0; i < n; i++)
		k[i] = m[i].key;
	qsort(k, n, sizeof(*k), key_cmp);
	for (i = 1; i < n && !dup; i++)
		dup = !strcmp(k[i - 1], k[i]);
	free(k);
	return dup;
}

static int close_container(void *p)
{
	struct ctx *c = p;
	struct open o = c->open[--c->n_open];
	size_t n = c->n - o.start;
	struct nn_jv v = { .type = o.obj ? NN_JV_OBJECT : NN_JV_ARRAY, .n = (uint32_t)n };
	int dup;

	if (n > UINT32_MAX)
		return fail(c, "too many members");
	if (o.obj && n > DUP_SCAN_MAX) {
		dup = nn_jd_dup_sorted(c->stk + o.start, n);
		if (dup < 0)
			return fail(c, NULL);
		if (dup)
			return fail(c, "duplicate object key");
	}
	if (n) {
		v.u.m = nn_jd_arena_alloc(c->d, n * sizeof(*v.u.m));
		if (!v.u.m)
			return fail(c, NULL);
		memcpy(v.u.m, c->stk + o.start, n * sizeof(*v.u.m));
	}
	c->n = o.start;
	c->key = o.key;
	return add(c, &v);
}

const yajl_callbacks nn_jd_callbacks = {
	.yajl_null = on_null,
	.yajl_boolean = on_bool,
	.yajl_number = on_number,
	.yajl_string = on_string,
	.yajl_start_map = on_start_map,
	.yajl_map_key = on_key,
	.yajl_end_map = close_container,
	.yajl_start_array = on_start_array,
	.yajl_end_array = close_container,
};

/* "line L column C: why" for byte offset @at (both 1-based, bytes). */
static void where(const char *text, size_t len, size_t at, const char *why, char *err,
		  size_t errlen)
{
	size_t i, line = 1, col_start = 0;

	if (at > len)
		at = len;
	for (i = 0; i < at; i++)
		if (text[i] == '\n') {
			line++;
			col_start = i + 1;
		}
	snprintf(err, errlen, "line %zu column %zu: %s", line, at - col_start + 1, why);
}

/*
 * From this size on, the raw-bytes pass runs on a helper thread while yajl
 * builds the tree here (the pass is ~15 % of the parse). Both only read
 * the text, and the tree is kept only when the pass accepts it: yajl
 * takes any bytes safely (its stack is on the heap, a \u0000 becomes a
 * NUL inside a counted string), so seeing what the pass would have
 * stopped costs at most one parse of a body within the size limit.
 */
#define SCAN_PAR_MIN (1u << 20)

struct scan_job {
	const char *s;
	size_t len, max, at;
	const char *why;
	int r;
};

static void *scan_run(void *arg)
{
	struct scan_job *j = arg;

	j->r = nn_jd_raw_scan(j->s, j->len, j->max, &j->at, &j->why, NULL);
	return NULL;
}

/* One parser over the whole text (beside the raw-bytes pass from
 * SCAN_PAR_MIN): the reference behaviour, and what gives every verdict
 * other than a split parse's success. */
int nn_jd_parse_serial(const char *text, size_t len, size_t max_depth, struct nn_jdoc *doc,
		       char *err, size_t errlen, size_t *at)
{
	struct scan_job sj = { .s = text, .len = len, .max = max_depth };
	struct ctx c = { .d = doc };
	const char *why = NULL;
	bool par = false;
	yajl_handle h;
	pthread_t t;
	yajl_status st;
	int r;

	doc->root = NULL;
	doc->chunks = NULL;
	err[0] = '\0';
	*at = 0;
	if (len >= SCAN_PAR_MIN)
		par = nn_thread_start(&t, scan_run, &sj);
	if (!par) {
		r = nn_jd_raw_scan(text, len, max_depth, at, &why, NULL);
		if (r == NN_JDOC_SYNTAX)
			where(text, len, *at, why, err, errlen);
		if (r)
			return r;
	}
	h = yajl_alloc(&nn_jd_callbacks, NULL, &c);
	if (!h) {
		if (par)
			pthread_join(t, NULL);
		return NN_JDOC_NOMEM;
	}
	st = yajl_parse(h, (const unsigned char *)text, len);
	*at = yajl_get_bytes_consumed(h);
	if (st == yajl_status_ok) {
		st = yajl_complete_parse(h);
		if (st != yajl_status_ok)
			*at = len; /* what is missing is at the end */
	}
	if (st == yajl_status_client_canceled) {
		r = c.why ? NN_JDOC_SYNTAX : NN_JDOC_NOMEM;
		if (c.why)
			where(text, len, *at ? *at - 1 : 0, c.why, err, errlen);
	} else if (st != yajl_status_ok) {
		unsigned char *msg = yajl_get_error(h, 0, (const unsigned char *)text, len);
		size_t ml;

		if (!msg) {
			r = NN_JDOC_NOMEM;
		} else {
			/* "lexical error: invalid char in json text.\n" */
			ml = strlen((char *)msg);
			while (ml && (msg[ml - 1] == '\n' || msg[ml - 1] == '.'))
				msg[--ml] = '\0';
			where(text, len, *at, (char *)msg, err, errlen);
			yajl_free_error(h, msg);
			r = NN_JDOC_SYNTAX;
		}
	} else if (!c.have_root || (c.root.type != NN_JV_OBJECT && c.root.type != NN_JV_ARRAY)) {
		/* As jansson without JSON_DECODE_ANY: a document is an object
		 * or an array. */
		where(text, len, 0, "'[' or '{' expected", err, errlen);
		r = NN_JDOC_SYNTAX;
	} else {
		doc->root = nn_jd_arena_alloc(doc, sizeof(*doc->root));
		if (doc->root)
			*doc->root = c.root;
		r = doc->root ? NN_JDOC_OK : NN_JDOC_NOMEM;
	}
	yajl_free(h);
	free(c.stk);
	free(c.open);
	if (par) {
		pthread_join(t, NULL);
		if (sj.r) {
			/* The scan's verdict first, as when it ran alone. */
			r = sj.r;
			*at = sj.at;
			err[0] = '\0';
			if (r == NN_JDOC_SYNTAX)
				where(text, len, *at, sj.why, err, errlen);
		}
	}
	if (r)
		nn_jdoc_free(doc);
	return r;
}

struct nn_jv *nn_jv_get(const struct nn_jv *obj, const char *key)
{
	uint32_t i;

	if (!nn_jv_is_object(obj))
		return NULL;
	/* Linear: a snapshot's objects have a dozen members, and each is
	 * looked up a bounded number of times, so even a crafted object of
	 * a million members costs its size times that bound. */
	for (i = 0; i < obj->n; i++)
		if (obj->u.m[i].key[0] == key[0] && !strcmp(obj->u.m[i].key, key))
			return &obj->u.m[i].v;
	return NULL;
}
