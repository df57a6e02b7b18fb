// SPDX-License-Identifier: GPL-2.0
/* jdoc_split.c - nn_jdoc_parse(): a large snapshot parsed in two halves
 * (below), anything else by jdoc.c's serial parse. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_parse.h>

#include "lib/thread.h"
#include "policy/jdoc.h"
#include "policy/jdoc_int.h"

/*
 * ---- a large document parsed in two halves, on two CPUs ----
 *
 * yajl is serial and was most of a cold apply's parse (~0.3 s of the 48 MB
 * snapshot at 100k devices). From nn_jdoc_split_min bytes, the text is cut
 * at a ',' between two elements of a top-level member array (struct split,
 * found by the raw-bytes pass on the helper thread, which then goes on
 * checking) and parsed as two documents:
 *
 *   part 1: text[0, cut) + "]}"      (here)
 *   part 2: "{\"\":[" + text(cut, len)  (on the helper, after its pass)
 *
 * When both parse, part 1 ends inside that array after a value and part 2
 * starts inside it with a value, so the text joined at the ',' is one
 * valid document, and its tree is part 1's root with the array's two
 * pieces joined and part 2's other members appended. Without a cut point
 * this thread parses the whole text (fed to yajl in two chunks: the same
 * events). Anything else (any rejection, an empty piece, a key in both
 * parts, the "" key taken) discards both and parses serially: every
 * verdict, message and offset is then the serial parser's by
 * construction; the split only ever produces an accepted tree, equal to
 * the serial one.
 */
size_t nn_jdoc_split_min = 1u << 20;
unsigned long nn_jdoc_splits;

struct split_job {
	struct split sp;
	const char *text;
	size_t len, max, cut; /* cut: SPLIT_NONE, or the ',' */
	bool known;	      /* cut is final */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int scan_r, r2; /* the pass's verdict; part 2's: 0 parsed */
	size_t at;
	const char *why;
	struct nn_jdoc d2;
	struct ctx c2;
};

static void cut_publish(struct split_job *j, size_t cut)
{
	pthread_mutex_lock(&j->mu);
	if (!j->known) {
		j->cut = cut;
		j->known = true;
		pthread_cond_signal(&j->cv);
	}
	pthread_mutex_unlock(&j->mu);
}

static void cut_found(struct split *sp, size_t at)
{
	cut_publish((struct split_job *)sp, at);
}

/* Part 2 into j->d2 / j->c2; 0 when it parsed to a root object whose
 * first member is the "" array, not empty. */
static int parse_part2(struct split_job *j)
{
	static const char head[] = "{\"\":[";
	yajl_handle h = yajl_alloc(&nn_jd_callbacks, NULL, &j->c2);
	const struct nn_jv *root = &j->c2.root;
	yajl_status st;

	if (!h)
		return -1;
	st = yajl_parse(h, (const unsigned char *)head, sizeof(head) - 1);
	if (st == yajl_status_ok)
		st = yajl_parse(h, (const unsigned char *)j->text + j->cut + 1,
				j->len - j->cut - 1);
	if (st == yajl_status_ok)
		st = yajl_complete_parse(h);
	yajl_free(h);
	if (st != yajl_status_ok || !j->c2.have_root || root->type != NN_JV_OBJECT || !root->n ||
	    root->u.m[0].key[0] || root->u.m[0].v.type != NN_JV_ARRAY || !root->u.m[0].v.n)
		return -1;
	return 0;
}

static void *split_run(void *arg)
{
	struct split_job *j = arg;

	j->scan_r = nn_jd_raw_scan(j->text, j->len, j->max, &j->at, &j->why, &j->sp);
	cut_publish(j, SPLIT_NONE); /* no ',' found: the parse goes on whole */
	j->r2 = -1;
	if (!j->scan_r && j->cut != SPLIT_NONE)
		j->r2 = parse_part2(j);
	return NULL;
}

/* Have two members of @m (@n) the same key? */
static bool keys_dup(const struct nn_jmem *m, size_t n)
{
	size_t i, k;

	if (n > DUP_SCAN_MAX)
		return nn_jd_dup_sorted(m, n) != 0; /* out of memory: as a duplicate */
	for (i = 0; i < n; i++)
		for (k = i + 1; k < n; k++)
			if (!strcmp(m[i].key, m[k].key))
				return true;
	return false;
}

/* The tree of the whole text from part 1's root @r1 and part 2's
 * (struct split_job); -1 when they do not join (the serial parse
 * decides). */
static int join_parts(struct nn_jdoc *doc, const struct nn_jv *r1, struct split_job *j)
{
	const struct nn_jv *r2 = &j->c2.root, *a1, *a2;
	struct nn_jmem *m, *el;
	size_t n1, n2, na;
	struct nn_jchunk **tail;

	if (r1->type != NN_JV_OBJECT || !r1->n)
		return -1;
	n1 = r1->n;
	n2 = r2->n;
	a1 = &r1->u.m[n1 - 1].v; /* the array part 1's "]}" closed */
	a2 = &r2->u.m[0].v;
	if (a1->type != NN_JV_ARRAY || !a1->n)
		return -1;
	na = (size_t)a1->n + a2->n;
	if (na > UINT32_MAX || n1 + n2 - 1 > UINT32_MAX)
		return -1;
	el = nn_jd_arena_alloc(doc, na * sizeof(*el));
	m = nn_jd_arena_alloc(doc, (n1 + n2 - 1) * sizeof(*m));
	doc->root = nn_jd_arena_alloc(doc, sizeof(*doc->root));
	if (!el || !m || !doc->root)
		return -1;
	memcpy(el, a1->u.m, a1->n * sizeof(*el));
	memcpy(el + a1->n, a2->u.m, a2->n * sizeof(*el));
	memcpy(m, r1->u.m, n1 * sizeof(*m));
	m[n1 - 1].v.n = (uint32_t)na;
	m[n1 - 1].v.u.m = el;
	memcpy(m + n1, r2->u.m + 1, (n2 - 1) * sizeof(*m));
	if (keys_dup(m, n1 + n2 - 1))
		return -1;
	*doc->root = (struct nn_jv){ .type = NN_JV_OBJECT, .n = (uint32_t)(n1 + n2 - 1) };
	doc->root->u.m = m;
	/* Part 2's arena joins the document's. */
	for (tail = &doc->chunks; *tail; tail = &(*tail)->next)
		;
	*tail = j->d2.chunks;
	j->d2.chunks = NULL;
	return 0;
}

/* The split parse: 0 with the tree in @doc, -1 when the serial parse is
 * to decide (@doc then empty). */
static int parse_split(const char *text, size_t len, size_t max_depth, struct nn_jdoc *doc)
{
	struct split_job j = { .text = text, .len = len, .max = max_depth };
	struct ctx c = { .d = doc };
	size_t mid = len / 2 + len / 16; /* part 2's thread also runs the pass */
	yajl_handle h;
	yajl_status st;
	pthread_t t;
	int r = -1;

	j.sp.from = mid;
	j.sp.found = cut_found;
	j.c2.d = &j.d2;
	pthread_mutex_init(&j.mu, NULL);
	pthread_cond_init(&j.cv, NULL);
	if (!nn_thread_start(&t, split_run, &j)) {
		pthread_cond_destroy(&j.cv);
		pthread_mutex_destroy(&j.mu);
		return -1;
	}
	h = yajl_alloc(&nn_jd_callbacks, NULL, &c);
	st = h ? yajl_parse(h, (const unsigned char *)text, mid) : yajl_status_error;
	pthread_mutex_lock(&j.mu);
	while (!j.known)
		pthread_cond_wait(&j.cv, &j.mu);
	pthread_mutex_unlock(&j.mu);
	if (st == yajl_status_ok) {
		if (j.cut != SPLIT_NONE) {
			st = yajl_parse(h, (const unsigned char *)text + mid, j.cut - mid);
			if (st == yajl_status_ok)
				st = yajl_parse(h, (const unsigned char *)"]}", 2);
		} else {
			st = yajl_parse(h, (const unsigned char *)text + mid, len - mid);
		}
	}
	if (st == yajl_status_ok)
		st = yajl_complete_parse(h);
	pthread_join(t, NULL);
	if (st == yajl_status_ok && !j.scan_r && c.have_root) {
		if (j.cut == SPLIT_NONE) {
			/* Whole, in two chunks: the same events as one. */
			if (c.root.type == NN_JV_OBJECT || c.root.type == NN_JV_ARRAY) {
				doc->root = nn_jd_arena_alloc(doc, sizeof(*doc->root));
				if (doc->root) {
					*doc->root = c.root;
					r = 0;
				}
			}
		} else if (!j.r2) {
			r = join_parts(doc, &c.root, &j);
			if (!r)
				__atomic_fetch_add(&nn_jdoc_splits, 1, __ATOMIC_RELAXED);
		}
	}
	if (h)
		yajl_free(h);
	free(c.stk);
	free(c.open);
	free(j.c2.stk);
	free(j.c2.open);
	nn_jdoc_free(&j.d2);
	pthread_cond_destroy(&j.cv);
	pthread_mutex_destroy(&j.mu);
	if (r)
		nn_jdoc_free(doc);
	return r;
}

int nn_jdoc_parse(const char *text, size_t len, size_t max_depth, struct nn_jdoc *doc, char *err,
		  size_t errlen, size_t *at)
{
	doc->root = NULL;
	doc->chunks = NULL;
	if (len >= nn_jdoc_split_min && len >= 16 && !parse_split(text, len, max_depth, doc)) {
		err[0] = '\0';
		*at = 0;
		return NN_JDOC_OK;
	}
	return nn_jd_parse_serial(text, len, max_depth, doc, err, errlen, at);
}
