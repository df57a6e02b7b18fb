// SPDX-License-Identifier: GPL-2.0
/*
 * The counter slot -> name arrays through their window (dp/slot_names.c):
 * every name written reads back, across window boundaries, freed slots
 * are skipped; and a write of many slots moves its window a few times,
 * not once per 256 KB (each move is an unmap, a TLB shootdown on every
 * other CPU running the process: 1.2 s of a 1M cold apply's CPU when the
 * window stayed at 256 KB, docs/controller.md "Cold apply (session 17)").
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "dp/slot_names.h"

/* 12.2 MB of names: more than one large window, 48 small ones. */
#define SLOTS 61000u

static int names_map(void)
{
	LIBBPF_OPTS(bpf_map_create_opts, o, .map_flags = BPF_F_MMAPABLE);
	int fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "nn_test_names", sizeof(uint32_t),
				sizeof(struct nn_name), SLOTS, &o);

	assert_true(fd >= 0);
	return fd;
}

static void fill(size_t i, struct nn_name *n, void *arg)
{
	const uint32_t *slots = arg;

	memset(n, 0, sizeof(*n));
	snprintf(n->id, sizeof(n->id), "dev-%u", slots[i]);
	snprintf(n->tenant, sizeof(n->tenant), "t%u", slots[i] % 7);
	n->in_use = 1;
	n->kind = slots[i] % 3;
}

struct seen {
	uint32_t n, bad, last;
	const uint8_t *freed;
};

static int check(uint32_t slot, const struct nn_name *n, void *arg)
{
	struct seen *s = arg;
	char want[NN_NAME_MAX];

	snprintf(want, sizeof(want), "dev-%u", slot);
	if (strcmp(n->id, want) || n->kind != slot % 3 || (s->n && slot <= s->last) ||
	    (s->freed && s->freed[slot]))
		s->bad++;
	s->last = slot;
	s->n++;
	return 0;
}

static void test_bulk_write_few_windows(void **state)
{
	uint32_t *slots = malloc(SLOTS * sizeof(*slots)), i;
	uint8_t *freed = calloc(SLOTS, 1);
	uint32_t gone[3] = { 0, 1310, SLOTS - 1 }; /* 1310: straddles a page */
	struct seen s = {};
	size_t before, moves;
	int fd = names_map();

	(void)state;
	assert_non_null(slots);
	assert_non_null(freed);
	for (i = 0; i < SLOTS; i++)
		slots[i] = i;
	before = nn_slot_names_windows();
	assert_int_equal(nn_slot_names_write(fd, slots, SLOTS, fill, slots), 0);
	moves = nn_slot_names_windows() - before;
	fprintf(stderr, "# %u names (%zu MB) written through %zu windows\n", SLOTS,
		SLOTS * sizeof(struct nn_name) >> 20, moves);
	/* 8 MB windows: 2; at 256 KB a window it was 48 */
	assert_true(moves <= 3);
	assert_int_equal(nn_slot_names_each(fd, check, &s), 0);
	assert_int_equal(s.n, SLOTS);
	assert_int_equal(s.bad, 0);

	/* a few slots (a device patch's) freed: skipped by the walk */
	assert_int_equal(nn_slot_names_free(fd, gone, 3), 0);
	for (i = 0; i < 3; i++)
		freed[gone[i]] = 1;
	memset(&s, 0, sizeof(s));
	s.freed = freed;
	assert_int_equal(nn_slot_names_each(fd, check, &s), 0);
	assert_int_equal(s.n, SLOTS - 3);
	assert_int_equal(s.bad, 0);

	/* -ENOENT for a slot beyond the map */
	slots[0] = SLOTS;
	assert_int_equal(nn_slot_names_write(fd, slots, 1, fill, slots), -ENOENT);
	free(slots);
	free(freed);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bulk_write_few_windows),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
