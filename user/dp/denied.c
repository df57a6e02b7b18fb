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

#include "dp/denied.h"
#include "nanami_abi.h"

uint64_t nn_denied_capacity(uint32_t max_entries, int ncpu)
{
	if (ncpu <= 0 || max_entries < (uint32_t)ncpu)
		return 0;
	return (uint64_t)max_entries * NN_DENIED_WAYS;
}

/* The table mapped (@prot), its sets in *@n; NULL with errno set. */
static struct nn_denied_set *table_map(int fd, int prot, uint32_t *n, size_t *len)
{
	struct bpf_map_info info = {};
	uint32_t ilen = sizeof(info);
	long page = sysconf(_SC_PAGESIZE);
	void *p;

	if (bpf_obj_get_info_by_fd(fd, &info, &ilen))
		return NULL;
	if (info.type != BPF_MAP_TYPE_ARRAY || info.value_size != sizeof(struct nn_denied_set)) {
		errno = EPROTO; /* an older pin: the LRU of before session 15 */
		return NULL;
	}
	*n = info.max_entries;
	*len = ((size_t)info.max_entries * sizeof(struct nn_denied_set) + (size_t)page - 1) &
	       ~((size_t)page - 1);
	p = mmap(NULL, *len, prot, MAP_SHARED, fd, 0);
	return p == MAP_FAILED ? NULL : p;
}

int nn_denied_count(int fd, uint32_t epoch, uint64_t *n)
{
	struct nn_denied_set *t;
	uint32_t sets, i;
	size_t len;
	int w;

	*n = 0;
	t = table_map(fd, PROT_READ, &sets, &len);
	if (!t)
		return -errno;
	for (i = 0; i < sets; i++)
		for (w = 0; w < NN_DENIED_WAYS; w++)
			*n += t[i].e[w].key.side && t[i].e[w].epoch == epoch;
	munmap(t, len);
	return 0;
}

int nn_denied_clear_tests_only(int fd)
{
	struct nn_denied_set *t;
	uint32_t sets;
	size_t len;

	t = table_map(fd, PROT_READ | PROT_WRITE, &sets, &len);
	if (!t)
		return -errno;
	memset(t, 0, (size_t)sets * sizeof(*t));
	munmap(t, len);
	return 0;
}
