// SPDX-License-Identifier: GPL-2.0
/*
 * counters.c - per-CPU counters summed over the possible CPUs (see
 * counters.h). A lookup of a per-CPU map returns one value per possible
 * CPU, each rounded up to 8 bytes; our counter structs are u64 only, so
 * the values lie back to back.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "dp/counters.h"

_Static_assert(sizeof(struct nn_reason_stats) == 2 * sizeof(uint64_t),
	       "nn_reason_stats is two u64 counters");

int nn_percpu_sum(int fd, uint32_t key, size_t n, uint64_t *sum)
{
	int ncpu = libbpf_num_possible_cpus(), c, err;
	uint64_t *v;
	size_t i;

	if (ncpu <= 0)
		return ncpu < 0 ? ncpu : -EINVAL;
	v = calloc((size_t)ncpu, n * sizeof(*v));
	if (!v)
		return -ENOMEM;
	if (bpf_map_lookup_elem(fd, &key, v)) {
		err = -errno;
		free(v);
		return err;
	}
	memset(sum, 0, n * sizeof(*sum));
	for (c = 0; c < ncpu; c++)
		for (i = 0; i < n; i++)
			sum[i] += v[(size_t)c * n + i];
	free(v);
	return 0;
}

int nn_read_drops(int fd, struct nn_reason_stats out[NN_R_MAX])
{
	uint64_t sum[2];
	uint32_t r;
	int err;

	memset(out, 0, NN_R_MAX * sizeof(*out));
	for (r = 1; r < NN_R_MAX; r++) {
		err = nn_percpu_sum(fd, r, 2, sum);
		if (err)
			return err;
		out[r].packets = sum[0];
		out[r].bytes = sum[1];
	}
	return 0;
}
