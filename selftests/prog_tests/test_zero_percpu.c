// SPDX-License-Identifier: GPL-2.0
/*
 * nn_map_zero_percpu (dp/batch.h) on a counter array as the loader makes
 * them (one region per CPU, BPF_F_MMAPABLE): the slots asked for are zeroed
 * on every CPU and nothing else is; and a few slots (a device patch's) are
 * zeroed without mapping the array, whose pages would all count in the
 * process's RSS for the call (the device counters are 128 MB at 1M devices:
 * they were the high-water mark of the daemon's device changes).
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

#include "dp/batch.h"

#define VSZ 48		   /* a device's counters (struct nn_dev_stats) */
#define SLOTS (256 * 1024) /* per CPU: 12 MB a CPU */

static long status_kb(const char *key)
{
	char line[256];
	long v = -1;
	FILE *f = fopen("/proc/self/status", "r");

	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, strlen(key)) && line[strlen(key)] == ':')
			v = strtol(line + strlen(key) + 1, NULL, 10);
	fclose(f);
	return v;
}

static void hwm_reset(void)
{
	FILE *f = fopen("/proc/self/clear_refs", "w");

	assert_non_null(f);
	fputs("5", f);
	fclose(f);
}

static int counters(int ncpu)
{
	LIBBPF_OPTS(bpf_map_create_opts, o, .map_flags = BPF_F_MMAPABLE);
	int fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "nn_test_ctr", sizeof(uint32_t), VSZ,
				(uint32_t)(SLOTS * ncpu), &o);

	assert_true(fd >= 0);
	return fd;
}

static void put(int fd, uint32_t key, uint8_t b)
{
	uint8_t v[VSZ];

	memset(v, b, sizeof(v));
	assert_int_equal(bpf_map_update_elem(fd, &key, v, BPF_ANY), 0);
}

static bool zero_at(int fd, uint32_t key)
{
	static const uint8_t z[VSZ];
	uint8_t v[VSZ];

	assert_int_equal(bpf_map_lookup_elem(fd, &key, v), 0);
	return !memcmp(v, z, sizeof(v));
}

/* Slots 7 and 9 of every CPU's region zeroed; 8 and CPU 0's neighbour
 * region's start untouched. */
static void check_zeroed(int fd, int ncpu, const uint32_t *keys, size_t n)
{
	int c;

	for (c = 0; c < ncpu; c++) {
		put(fd, (uint32_t)c * SLOTS + 7, 0xaa);
		put(fd, (uint32_t)c * SLOTS + 8, 0xbb);
		put(fd, (uint32_t)c * SLOTS + 9, 0xcc);
	}
	assert_int_equal(nn_map_zero_percpu(fd, keys, n, VSZ), 0);
	for (c = 0; c < ncpu; c++) {
		assert_true(zero_at(fd, (uint32_t)c * SLOTS + 7));
		assert_false(zero_at(fd, (uint32_t)c * SLOTS + 8));
		assert_true(zero_at(fd, (uint32_t)c * SLOTS + 9));
	}
}

static void test_few_slots_unmapped(void **state)
{
	int ncpu = libbpf_num_possible_cpus(), fd;
	uint32_t keys[2] = { 7, 9 };
	long before, rise;

	(void)state;
	assert_true(ncpu > 0);
	fd = counters(ncpu);
	hwm_reset();
	before = status_kb("VmHWM");
	check_zeroed(fd, ncpu, keys, 2);
	rise = status_kb("VmHWM") - before;
	fprintf(stderr, "# high-water mark rise zeroing 2 slots of a %d MB array: %ld kB\n",
		SLOTS * ncpu * VSZ >> 20, rise);
	/* the array is 12 MB a CPU: mapped, the mark rises by all of it */
	assert_true(rise < 4096);
	close(fd);
}

static void test_many_slots(void **state)
{
	int ncpu = libbpf_num_possible_cpus(), fd;
	uint32_t *keys = malloc(1000 * sizeof(*keys)), i, n = 0;

	(void)state;
	assert_non_null(keys);
	fd = counters(ncpu);
	keys[n++] = 7;
	keys[n++] = 9;
	for (i = 100; n < 1000; i++)
		keys[n++] = i;
	check_zeroed(fd, ncpu, keys, n); /* through the mapping */
	free(keys);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_few_slots_unmapped),
		cmocka_unit_test(test_many_slots),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
