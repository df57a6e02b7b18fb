// SPDX-License-Identifier: GPL-2.0
/*
 * policy/jdoc.c, the snapshot's JSON tree (yajl events + our own checks),
 * against jansson as the oracle: jansson with JSON_REJECT_DUPLICATES was
 * the snapshot parser before, so "every rejection kept" means the same
 * accept/reject verdict on every input and, when accepted, the same tree
 * (types, values, keys and member order). jansson is an independent
 * implementation, so it does not share the blind spots of yajl or of the
 * checks added around it.
 *
 * Three parts: fixed inputs with the verdict also written out here (so a
 * bug shared by both libraries would still fail), the big-object duplicate
 * path and the depth bound, and a seeded random differential: a sample
 * document mutated by byte edits and by splicing in the tricky pieces
 * (escapes, surrogates, overlong UTF-8, edge integers, duplicate keys).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "xorshift.h"
#include <jansson.h>

#include "policy/jdoc.h"

/* Random edits per property. The sanitizer build (make san) runs the
 * unit tests again at several times the cost per parse: a fifth there,
 * since the plain build already covers 20,000 of each. A split parse
 * starts a thread, and under ASan each thread start maps and unmaps its
 * shadow and fake stacks (TLB shootdowns: ~10 ms a parse on this kind of
 * host, 47 s for the 4,400 of test_split_random): a twentieth there. */
#ifdef __SANITIZE_ADDRESS__
#define N_EDITED 4000
#define N_SPLIT 1000
#else
#define N_EDITED 20000
#define N_SPLIT 20000
#endif

/* Both parsers' verdict on @s; on acceptance the trees must be equal. */
static int both(const char *s, size_t len, char *why, size_t wlen)
{
	struct nn_jdoc d;
	json_error_t je;
	json_t *j;
	size_t at;
	char err[160];
	int r;

	j = json_loadb(s, len, JSON_REJECT_DUPLICATES, &je);
	r = nn_jdoc_parse(s, len, 1000, &d, err, sizeof(err), &at);
	if (why)
		snprintf(why, wlen, "jansson: %s / jdoc: %s", j ? "ok" : je.text, r ? err : "ok");
	if (!j || r) {
		json_decref(j);
		nn_jdoc_free(&d);
		return (!j && r) ? 0 : -1; /* agree on rejecting: 0 */
	}
	r = 1;
	{
		/* Iterative walk of both trees side by side. */
		struct pair {
			const struct nn_jv *a;
			json_t *b;
		} *st = malloc(4096 * sizeof(*st));
		size_t n = 0;

		assert_non_null(st);
		st[n++] = (struct pair){ d.root, j };
		while (n && r == 1) {
			struct pair p = st[--n];
			uint32_t i;

			switch (p.a->type) {
			case NN_JV_OBJECT:
				if (!json_is_object(p.b) || json_object_size(p.b) != p.a->n) {
					r = -1;
					break;
				}
				{
					void *it = json_object_iter(p.b);

					for (i = 0; i < p.a->n && r == 1;
					     i++, it = json_object_iter_next(p.b, it)) {
						if (!it ||
						    strcmp(json_object_iter_key(it),
							   p.a->u.m[i].key) ||
						    n >= 4096)
							r = -1;
						else
							st[n++] = (struct pair){
								&p.a->u.m[i].v,
								json_object_iter_value(it)
							};
					}
				}
				break;
			case NN_JV_ARRAY:
				if (!json_is_array(p.b) || json_array_size(p.b) != p.a->n) {
					r = -1;
					break;
				}
				for (i = 0; i < p.a->n && r == 1; i++) {
					if (n >= 4096 || p.a->u.m[i].key)
						r = -1;
					else
						st[n++] = (struct pair){ &p.a->u.m[i].v,
									 json_array_get(p.b, i) };
				}
				break;
			case NN_JV_STRING:
				if (!json_is_string(p.b) || json_string_length(p.b) != p.a->n ||
				    memcmp(json_string_value(p.b), p.a->u.s, p.a->n + 1))
					r = -1;
				break;
			case NN_JV_INTEGER:
				if (!json_is_integer(p.b) || json_integer_value(p.b) != p.a->u.i)
					r = -1;
				break;
			case NN_JV_REAL:
				if (!json_is_real(p.b) || json_real_value(p.b) != p.a->u.r)
					r = -1;
				break;
			case NN_JV_TRUE:
				r = json_is_true(p.b) ? 1 : -1;
				break;
			case NN_JV_FALSE:
				r = json_is_false(p.b) ? 1 : -1;
				break;
			case NN_JV_NULL:
				r = json_is_null(p.b) ? 1 : -1;
				break;
			default:
				r = -1;
			}
		}
		free(st);
	}
	json_decref(j);
	nn_jdoc_free(&d);
	return r;
}

static void expect(const char *s, int want)
{
	char why[400];
	int r = both(s, strlen(s), why, sizeof(why));

	if (r != want)
		fail_msg("%s: want %s, got %s (%s)", s, want ? "accepted" : "rejected",
			 r < 0 ? "disagreement" :
			 r     ? "accepted" :
				 "rejected",
			 why);
}

static void test_fixed(void **state)
{
	(void)state;
	/* accepted, same tree */
	expect("{}", 1);
	expect("[]", 1);
	expect(" {\"a\": [1, -2, 3.5, 1e3, true, false, null, \"x\"]}\n", 1);
	expect("{\"a\": {\"b\": {\"c\": []}}, \"d\": \"\"}", 1);
	expect("[9223372036854775807, -9223372036854775808, -0, 0]", 1);
	expect("[1e-400, 1E+2, 0.5]", 1);
	expect("[\"\\u00e9\\ud83d\\ude00\\n\\t\\\"\\\\\\/\", \"\xc3\xa9\xf0\x9f\x98\x80\"]", 1);
	expect("{\"\": 1, \"a b\": 2}", 1);
	expect("[\"\\uDBFF\\uDFFF\", \"\xf4\x8f\xbf\xbf\"]", 1);
	/* rejected by both */
	expect("", 0);
	expect("  ", 0);
	expect("1", 0); /* top level must be an object or an array */
	expect("\"s\"", 0);
	expect("null", 0);
	expect("{\"a\": 1, \"a\": 2}", 0);
	expect("{\"a\": 1, \"\\u0061\": 2}", 0);
	expect("{\"x\": {\"a\": 1, \"b\": 2, \"a\": 3}}", 0);
	expect("[9223372036854775808]", 0);
	expect("[-9223372036854775809]", 0);
	expect("[99999999999999999999999]", 0);
	expect("[1e400]", 0);
	expect("[-1e400]", 0);
	expect("[01]", 0);
	expect("[1.]", 0);
	expect("[+1]", 0);
	expect("[1,]", 0);
	expect("{\"a\":1,}", 0);
	expect("[1] x", 0);
	expect("[1][2]", 0);
	expect("{\"a\": 1", 0);
	expect("[\"\\u0000\"]", 0);
	expect("{\"\\u0000\": 1}", 0);
	expect("[\"\\ud800\"]", 0);
	expect("[\"\\ud800x\"]", 0);
	expect("[\"\\ud800\\u0041\"]", 0);
	expect("[\"\\ud800\\ud800\"]", 0);
	expect("[\"\\udc00\"]", 0);
	expect("[\"\\u12\"]", 0);
	expect("[\"\\x\"]", 0);
	expect("[\"\xc0\x80\"]", 0);	     /* overlong NUL */
	expect("[\"\xe0\x80\xaf\"]", 0);     /* overlong '/' */
	expect("[\"\xed\xa0\x80\"]", 0);     /* encoded surrogate */
	expect("[\"\xf4\x90\x80\x80\"]", 0); /* above U+10FFFF */
	expect("[\"\xff\"]", 0);
	expect("[\"\xc3\"]", 0); /* truncated sequence */
	expect("[\"abcdefghijklmnop\xc3\xa9qrstuvwxyz0123456789\"]", 1);
	expect("[\"abcdefghijklmnop\xc0\x80qrstuvwxyz0123456789\"]", 0);
	expect("[\"abcdefghijklmnopqrstuvwxyz012345678\xed\xa0\x80\"]", 0);
	expect("{\"\xc0\x80\": 1}", 0);
	expect("[\"a\x01\"]", 0);
	expect("[\"a\tb\"]", 0);
	expect("[1,\f2]", 0); /* \f and \v are not JSON white space */
	expect("[1,\v2]", 0);
	expect("[1] // c", 0);
	expect("[/* c */ 1]", 0);
	expect("\xef\xbb\xbf{}", 0); /* BOM */
	expect("{1: 2}", 0);
	expect("[tru]", 0);
	expect("[NaN]", 0);
	expect("[Infinity]", 0);
	expect("['a']", 0);
}

/* A NUL byte inside the given length, which strlen-based inputs cannot
 * show. */
static void test_embedded_nul(void **state)
{
	static const char a[] = "{\"a\": 1}\0";
	static const char b[] = "[\"a\0b\"]";
	/* inside the eight-bytes-at-a-time check of long strings */
	static const char c[] = "[\"abcdefghijklm\0nopqrstuvwxyz\"]";
	static const char d[] = "[\"abcdefghijklmnopqrstuvwxy\0\"]";

	(void)state;
	assert_int_equal(both(a, sizeof(a) - 1, NULL, 0), 0);
	assert_int_equal(both(b, sizeof(b) - 1, NULL, 0), 0);
	assert_int_equal(both(c, sizeof(c) - 1, NULL, 0), 0);
	assert_int_equal(both(d, sizeof(d) - 1, NULL, 0), 0);
}

/* Objects above the pairwise-scan size check their keys by sorting. */
static void test_big_object(void **state)
{
	char *s = malloc(200 * 16 + 16), *p;
	int i, dup;

	(void)state;
	assert_non_null(s);
	for (dup = -1; dup < 200; dup += 37) {
		p = s;
		p += sprintf(p, "{");
		for (i = 0; i < 200; i++)
			p += sprintf(p, "%s\"k%d\": %d", i ? ", " : "", i == 199 ? dup : i, i);
		sprintf(p, "}");
		/* dup = -1: the last key "k-1" is new, accepted; otherwise
		 * it repeats an earlier one (k36, k73, ...): rejected */
		if (both(s, strlen(s), NULL, 0) != (dup < 0 ? 1 : 0))
			fail_msg("200 keys, last = k%d", dup);
	}
	free(s);
}

static void test_depth(void **state)
{
	struct nn_jdoc d;
	char err[160], s[64];
	size_t at;

	(void)state;
	snprintf(s, sizeof(s), "[[[[\"[[[[\\\"[[\"]]]]");
	assert_int_equal(nn_jdoc_parse(s, strlen(s), 4, &d, err, sizeof(err), &at), NN_JDOC_OK);
	nn_jdoc_free(&d);
	assert_int_equal(nn_jdoc_parse(s, strlen(s), 3, &d, err, sizeof(err), &at), NN_JDOC_DEPTH);
	assert_int_equal(at, 3);
	snprintf(s, sizeof(s), "{\"a\":\n  [\"\\ud800\"]}");
	assert_int_equal(nn_jdoc_parse(s, strlen(s), 32, &d, err, sizeof(err), &at),
			 NN_JDOC_SYNTAX);
	assert_non_null(strstr(err, "line 2 column 5"));
}

/* A document of at least 1 MB (the raw-bytes pass then runs beside yajl,
 * jdoc.c SCAN_PAR_MIN): "[" + @n arrays of 300 strings + @tail (nested so
 * that both()'s walk stays within its stack). */
static char *big_doc(size_t n, const char *tail, size_t *len)
{
	size_t cap = n * 300 * 13 + n * 4 + strlen(tail) + 16, i, k;
	char *s = malloc(cap), *p = s;

	assert_non_null(s);
	p += sprintf(p, "[");
	for (i = 0; i < n; i++) {
		p += sprintf(p, "[");
		for (k = 0; k < 300; k++)
			p += sprintf(p, "%s\"s%09zu\"", k ? "," : "", i * 300 + k);
		p += sprintf(p, "],");
	}
	p += sprintf(p, "%s", tail);
	*len = (size_t)(p - s);
	assert_true(*len >= (1u << 20));
	return s;
}

/* The pass's verdicts stand on a large document as on a small one, ahead
 * of whatever yajl says about the same text, with the same offsets. */
static void test_big_two_passes(void **state)
{
	struct nn_jdoc d;
	char err[160];
	size_t len, at, n = 300;
	char *s;

	(void)state;
	/* accepted, and equal to jansson's tree */
	s = big_doc(n, "1]", &len);
	assert_int_equal(both(s, len, NULL, 0), 1);
	free(s);
	/* too deep at the end: the offset of the fourth '[' */
	s = big_doc(n, "[[[1]]]]", &len);
	assert_int_equal(nn_jdoc_parse(s, len, 3, &d, err, sizeof(err), &at), NN_JDOC_DEPTH);
	assert_int_equal(at, len - 8 + 2);
	free(s);
	/* a lone surrogate (the pass's) before trailing garbage (yajl's):
	 * the pass's message and place */
	s = big_doc(n, "\n\"\\ud800\"] x", &len);
	assert_int_equal(nn_jdoc_parse(s, len, 32, &d, err, sizeof(err), &at), NN_JDOC_SYNTAX);
	if (!strstr(err, "line 2 column 2"))
		fail_msg("want the surrogate's place, got: %s", err);
	assert_int_equal(at, len - 12 + 2);
	free(s);
	/* yajl's own rejection still stands when the pass accepts */
	s = big_doc(n, "1] x", &len);
	assert_int_equal(nn_jdoc_parse(s, len, 32, &d, err, sizeof(err), &at), NN_JDOC_SYNTAX);
	assert_int_equal(both(s, len, NULL, 0), 0);
	free(s);
}

/* A large document's tree sits in few chunks, most of them big enough
 * for huge pages (jdoc.c CHUNK_MAX): with 1 MB chunks a 1M-device
 * snapshot's tree was faulted in 4 KB at a time, ~190k faults; a small
 * document still takes one 1 MB chunk. */
static void test_big_doc_few_chunks(void **state)
{
	size_t len, at, n, big, bytes;
	struct nn_jdoc d;
	char err[160], *s;

	(void)state;
	s = big_doc(4000, "1]", &len); /* 15.6 MB of text */
	assert_int_equal(nn_jdoc_parse(s, len, 32, &d, err, sizeof(err), &at), NN_JDOC_OK);
	bytes = nn_jdoc_bytes(&d);
	n = nn_jdoc_chunks(&d, 2u << 20, &big);
	fprintf(stderr, "# %zu MB of tree in %zu chunks, %zu%% in chunks of >= 2 MB\n", bytes >> 20,
		n, big * 100 / bytes);
	assert_true(bytes >= (24u << 20)); /* at 1 MB a chunk: >= 24 chunks */
	assert_true(n <= 16);		   /* two halves' 1+2+4+8+... */
	assert_true(big * 10 >= bytes * 8);
	nn_jdoc_free(&d);
	free(s);
	assert_int_equal(nn_jdoc_parse("[1]", 3, 32, &d, err, sizeof(err), &at), NN_JDOC_OK);
	assert_int_equal(nn_jdoc_chunks(&d, 1, &big), 1); /* one chunk, not over 1 MB */
	assert_int_equal(nn_jdoc_chunks(&d, (1u << 20) + 1, &big), 1);
	assert_int_equal(big, 0);
	nn_jdoc_free(&d);
}

static uint32_t rng = 2463534242u;

static uint32_t rnd(void)
{
	return nn_xorshift32(&rng);
}

static const char *const pieces[] = {
	"\\u0000",
	"\\ud800",
	"\\udc00",
	"\\ud83d\\ude00",
	"\\u0041",
	"\\\"",
	"\xc0\x80",
	"\xed\xa0\x80",
	"\xf4\x90\x80\x80",
	"\xc3\xa9",
	"\xff",
	"\"",
	"9223372036854775807",
	"9223372036854775808",
	"-9223372036854775808",
	"1e400",
	"1.5",
	"{",
	"}",
	"[",
	"]",
	",",
	":",
	"\"a\": 1, \"a\": 2",
	"\"k\": ",
	"null",
	"true",
	" ",
	"\f",
	"\\",
};

static void test_random(void **state)
{
	static const char seed[] =
		"{\"api_version\": \"v1\", \"node_id\": \"gw-1\", \"generation\": 7,\n"
		" \"gateway\": {\"roles\": [\"ingress_gateway\"], \"mtu\": 1420,\n"
		"  \"overlay_prefixes\": [\"fd00::/48\", \"100.64.0.0/10\"]},\n"
		" \"tenants\": [{\"tenant_id\": \"t\\u00e9\", \"networks\": [{\"acl\": [\n"
		"  {\"rule_id\": \"r1\", \"action\": \"allow\", \"ports\": [22, -1, 3.25],\n"
		"   \"src\": \"*\", \"dst\": {\"devices\": [\"d1\", \"d2\"]}}],\n"
		"  \"devices\": [{\"device_id\": \"d1\", \"state\": \"active\", \"x\": null,\n"
		"   \"y\": true, \"z\": false, \"w\": \"\\ud83d\\ude00\\n\"}]}]}]}";
	char buf[2048], why[400];
	size_t len, i, k, agree = 0, accepted = 0;
	int r, edits;

	(void)state;
	for (i = 0; i < N_EDITED; i++) {
		len = sizeof(seed) - 1;
		memcpy(buf, seed, len);
		for (edits = 1 + rnd() % 3; edits; edits--) {
			size_t at = rnd() % (len + 1);
			const char *pc = pieces[rnd() % (sizeof(pieces) / sizeof(pieces[0]))];
			size_t pl = strlen(pc);

			switch (rnd() % 4) {
			case 0: /* flip a byte */
				if (at < len)
					buf[at] = (char)rnd();
				break;
			case 1: /* delete a byte */
				if (at < len) {
					memmove(buf + at, buf + at + 1, len - at - 1);
					len--;
				}
				break;
			default: /* splice a piece in */
				if (len + pl < sizeof(buf)) {
					memmove(buf + at + pl, buf + at, len - at);
					memcpy(buf + at, pc, pl);
					len += pl;
				}
			}
		}
		r = both(buf, len, why, sizeof(why));
		if (r < 0) {
			for (k = 0; k < len; k++)
				if ((unsigned char)buf[k] < 0x20 || (unsigned char)buf[k] >= 0x7f)
					buf[k] = '?';
			buf[len] = '\0';
			fail_msg("iteration %zu: verdicts or trees differ (%s) on: %s", i, why,
				 buf);
		}
		agree++;
		accepted += r;
	}
	/* The mutations must exercise both verdicts, or the test is blind. */
	printf("# %zu inputs, %zu accepted by both, the rest rejected by both\n", agree, accepted);
	assert_true(accepted > N_EDITED / 20 && agree - accepted > N_EDITED / 20);
}

/* ---- the split parse (jdoc.c "a large document parsed in two halves") ----
 * Lowered to a few bytes, the split runs on small documents, where random
 * edits reach its edges: a cut next to an empty piece, a trailing comma, a
 * key in both halves, the "" key, a cut in a string. Its verdict, message,
 * offset and tree must be the serial parser's on every input. */

static bool same_tree(const struct nn_jv *a, const struct nn_jv *b)
{
	uint32_t i;

	if (a->type != b->type || a->n != b->n)
		return false;
	switch (a->type) {
	case NN_JV_OBJECT:
	case NN_JV_ARRAY:
		for (i = 0; i < a->n; i++) {
			if (!a->u.m[i].key != !b->u.m[i].key)
				return false;
			if (a->u.m[i].key && strcmp(a->u.m[i].key, b->u.m[i].key))
				return false;
			if (!same_tree(&a->u.m[i].v, &b->u.m[i].v))
				return false;
		}
		return true;
	case NN_JV_STRING:
		return !memcmp(a->u.s, b->u.s, a->n + 1);
	case NN_JV_INTEGER:
		return a->u.i == b->u.i;
	case NN_JV_REAL:
		return a->u.r == b->u.r;
	default:
		return true;
	}
}

/* @s parsed split (when it can be) and serially: the same verdict,
 * message, offset and tree, or the test fails. 1: accepted. */
static int split_vs_serial(const char *s, size_t len, unsigned long *splits)
{
	struct nn_jdoc d1, d2;
	char e1[160], e2[160];
	size_t at1, at2;
	unsigned long before = nn_jdoc_splits;
	int r1, r2;

	nn_jdoc_split_min = 16;
	r1 = nn_jdoc_parse(s, len, 32, &d1, e1, sizeof(e1), &at1);
	*splits += nn_jdoc_splits - before;
	nn_jdoc_split_min = SIZE_MAX;
	r2 = nn_jdoc_parse(s, len, 32, &d2, e2, sizeof(e2), &at2);
	if (r1 != r2 || (r1 && (strcmp(e1, e2) || at1 != at2)) ||
	    (!r1 && !same_tree(d1.root, d2.root)))
		fail_msg("split: %d \"%s\" at %zu, serial: %d \"%s\" at %zu, on: %.*s", r1, e1, at1,
			 r2, e2, at2, (int)len, s);
	nn_jdoc_free(&d1);
	nn_jdoc_free(&d2);
	return !r1;
}

static void test_split_fixed(void **state)
{
	static const char *const accepted[] = {
		"{\"a\": [1, 2, 3, 4, 5, 6, 7, 8]}",
		"{\"a\": 0, \"b\": [{\"x\": [1, 2]}, {\"y\": 2}, {\"z\": 3}, 4], \"c\": {}}",
		"{\"\": 0, \"a\": [1, 2, 3, 4, 5, 6, 7, 8]}",
		"{\"a\": [1, 2, 3, 4, 5, 6, 7, 8], \"\": 0}", /* "" in part 2: serial */
		"{\"a\": [\"1,\", \"2,\", \"3,\", \"4,\", \"5,\"]}",
		"{\"a\": [1, 2, 3, 4, 5, 6, 7, 8], \"b\": [9, 10]}",
		/* no cut point: parsed whole, in two chunks */
		"[{\"a\": [1, 2, 3, 4, 5, 6, 7, 8]}, 9]",
		"{\"a\": {\"b\": [1, 2, 3, 4, 5, 6, 7, 8]}}",
	};
	static const char *const rejected[] = {
		"{\"a\": [1, 2, 3, 4, 5, 6, 7, 8, ]}",
		"{\"a\": [1, 2, 3, 4, ,5, 6, 7, 8]}",
		"{\"a\": [1, 2, 3, 4, 5, 6, 7, 8], \"a\": 0}",
		"{\"a\": [1, 2, 3, 4, 5, 6, 7, 8]} x",
		"{\"a\": [1, 2, 3, 4, 5, 6, 7, 8]",
		"{\"a\": [1, 2, 3, 4, 5, 6, 7, 8]}]",
		"[{\"a\": [1, 2, 3, 4, 5, 6, 7, 8]}]x",
		"{\"a\": [1, 2, 3, 4, 5, 6, 7, \"\\ud800\"]}",
		"{\"a\": [1, 2, 3, 4, 5, 6, 7, 8]} {\"b\": [1, 2, 3, 4, 5, 6, 7, 8]}",
	};
	unsigned long splits = 0;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(accepted) / sizeof(accepted[0]); i++) {
		assert_int_equal(split_vs_serial(accepted[i], strlen(accepted[i]), &splits), 1);
		assert_int_equal(both(accepted[i], strlen(accepted[i]), NULL, 0), 1);
	}
	for (i = 0; i < sizeof(rejected) / sizeof(rejected[0]); i++)
		assert_int_equal(split_vs_serial(rejected[i], strlen(rejected[i]), &splits), 0);
	/* Every accepted one but the "" in part 2 was joined from halves. */
	assert_int_equal(splits, 5);
	nn_jdoc_split_min = 16; /* and jansson agrees on the split path */
	for (i = 0; i < sizeof(rejected) / sizeof(rejected[0]); i++)
		assert_int_equal(both(rejected[i], strlen(rejected[i]), NULL, 0), 0);
	nn_jdoc_split_min = SIZE_MAX;
}

static void test_split_random(void **state)
{
	static const char seed[] =
		"{\"api_version\": \"v1\", \"generation\": 7, \"tenants\": [{\"t\": 1}],\n"
		" \"devices\": [{\"device_id\": \"d1\", \"addrs\": [\"fd00::1\", \"10.0.0.1\"]},\n"
		"  {\"device_id\": \"d2,[\", \"state\": \"active\"}, 3, -4.5e1, \"s\\\"]\",\n"
		"  [5, {\"k\": \"v\"}], null, true, false, {\"device_id\": \"d3\", \"w\": \"\\u00e9\"},\n"
		"  {\"device_id\": \"d4\"}, {\"device_id\": \"d5\"}, {\"device_id\": \"d6\"}],\n"
		" \"rules\": [{\"rule_id\": \"r1\", \"ports\": [22, 80]}, {\"rule_id\": \"r2\"}],\n"
		" \"z\": {\"q\": [1, 2, 3]}}";
	char buf[2048];
	size_t len, i, accepted = 0;
	unsigned long splits = 0;
	int edits;

	(void)state;
	for (i = 0; i < N_SPLIT; i++) {
		len = sizeof(seed) - 1;
		memcpy(buf, seed, len);
		for (edits = rnd() % 3; edits; edits--) {
			size_t at = rnd() % (len + 1);
			const char *pc = pieces[rnd() % (sizeof(pieces) / sizeof(pieces[0]))];
			size_t pl = strlen(pc);

			switch (rnd() % 4) {
			case 0:
				if (at < len)
					buf[at] = (char)rnd();
				break;
			case 1:
				if (at < len) {
					memmove(buf + at, buf + at + 1, len - at - 1);
					len--;
				}
				break;
			default:
				if (len + pl < sizeof(buf)) {
					memmove(buf + at + pl, buf + at, len - at);
					memcpy(buf + at, pc, pl);
					len += pl;
				}
			}
		}
		accepted += split_vs_serial(buf, len, &splits);
		/* jansson's verdict and tree, on the split path, every tenth */
		if (!(i % 10)) {
			nn_jdoc_split_min = 16;
			if (both(buf, len, NULL, 0) < 0)
				fail_msg("iteration %zu: jansson disagrees on: %.*s", i, (int)len,
					 buf);
			nn_jdoc_split_min = SIZE_MAX;
		}
	}
	printf("# %zu inputs, %zu accepted, %lu of them joined from two halves\n", i, accepted,
	       splits);
	assert_true(splits > N_SPLIT / 10 && i - accepted > N_SPLIT / 10);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fixed),
		cmocka_unit_test(test_embedded_nul),
		cmocka_unit_test(test_big_object),
		cmocka_unit_test(test_depth),
		cmocka_unit_test(test_random),
		cmocka_unit_test(test_big_two_passes),
		cmocka_unit_test(test_split_fixed),
		cmocka_unit_test(test_split_random),
		cmocka_unit_test(test_big_doc_few_chunks),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
