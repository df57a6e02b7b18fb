// SPDX-License-Identifier: GPL-2.0
/* array_mmap.c - a pinned BPF_F_MMAPABLE array mapped, its shape checked
 * (the flow table's and the denied cache's readers, flowtab.c, denied.c). */
#include <errno.h>
#include <sys/mman.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "dp/array_mmap.h"

void *nn_array_mmap(int fd, int prot, uint32_t vsize, uint32_t n_min, uint32_t n_want, uint32_t *n,
		    size_t *len)
{
	struct bpf_map_info info = {};
	uint32_t ilen = sizeof(info);
	long page = sysconf(_SC_PAGESIZE);
	void *p;

	if (bpf_obj_get_info_by_fd(fd, &info, &ilen))
		return NULL;
	if (info.type != BPF_MAP_TYPE_ARRAY || info.value_size != vsize ||
	    info.max_entries < n_min || (n_want && info.max_entries != n_want)) {
		errno = EPROTO;
		return NULL;
	}
	*n = info.max_entries;
	*len = ((size_t)info.max_entries * vsize + (size_t)page - 1) & ~((size_t)page - 1);
	p = mmap(NULL, *len, prot, MAP_SHARED, fd, 0);
	return p == MAP_FAILED ? NULL : p;
}
