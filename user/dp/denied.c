// SPDX-License-Identifier: GPL-2.0
/*
 * denied.c - the remembered denied flows (nn_denied) from user space, read
 * through the table's mapping: one pass over its lines, no syscall per
 * entry (docs/datapath.md "Session 15 (spray15)").
 */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "dp/array_mmap.h"
#include "dp/denied.h"
#include "dp/loader.h"
#include "nanami_abi.h"

uint64_t nn_denied_capacity(uint32_t max_entries, int ncpu)
{
	if (ncpu <= 0 || max_entries < (uint32_t)ncpu)
		return 0;
	return (uint64_t)max_entries * NN_DENIED_WAYS;
}

/* Both tables mapped (@prot), checked against each other (as many tag lines
 * as the loader gives the sets); 0 or -errno. */
static int tables_map(int fd, int tags_fd, int prot, struct nn_denied_set **t,
		      struct nn_denied_tags **g, uint32_t *sets, uint32_t *lines, size_t *len,
		      size_t *glen)
{
	int ncpu = libbpf_num_possible_cpus(), err;

	if (ncpu <= 0)
		return ncpu ?: -EINVAL;
	/* EPROTO: an older pin (the LRU of before session 15) */
	*t = nn_array_mmap(fd, prot, sizeof(**t), 1, 0, sets, len);
	if (!*t)
		return -errno;
	*g = nn_array_mmap(tags_fd, prot, sizeof(**g), 1, (uint32_t)nn_denied_lines(*sets, ncpu),
			   lines, glen);
	if (!*g) {
		err = -errno;
		munmap(*t, *len);
		return err;
	}
	return 0;
}

int nn_denied_count(int fd, int tags_fd, uint32_t epoch, uint64_t *n)
{
	int ncpu = libbpf_num_possible_cpus(), w, err;
	uint32_t sets, lines, per, gsets, i;
	struct nn_denied_tags *g;
	struct nn_denied_set *t;
	size_t len, glen;

	*n = 0;
	err = tables_map(fd, tags_fd, PROT_READ, &t, &g, &sets, &lines, &len, &glen);
	if (err)
		return err;
	/* Set i of CPU c's region, place o in group q: line c * groups + q. */
	per = sets / (uint32_t)ncpu;
	gsets = per < NN_DENIED_GROUP ? per : NN_DENIED_GROUP;
	for (i = 0; gsets && i < (uint32_t)ncpu * per; i++)
		for (w = 0; w < NN_DENIED_WAYS; w++)
			*n += g[i / gsets].t[(i % gsets) * NN_DENIED_WAYS + w] &&
			      t[i].e[w].key.side && t[i].e[w].epoch == epoch;
	munmap(g, glen);
	munmap(t, len);
	return 0;
}

int nn_denied_clear_tests_only(int fd, int tags_fd)
{
	uint32_t sets, lines;
	struct nn_denied_tags *g;
	struct nn_denied_set *t;
	size_t len, glen;
	int err;

	err = tables_map(fd, tags_fd, PROT_READ | PROT_WRITE, &t, &g, &sets, &lines, &len, &glen);
	if (err)
		return err;
	memset(g, 0, (size_t)lines * sizeof(*g));
	memset(t, 0, (size_t)sets * sizeof(*t));
	munmap(g, glen);
	munmap(t, len);
	return 0;
}
