// SPDX-License-Identifier: GPL-2.0
/* array_mmap.c - a pinned BPF_F_MMAPABLE array mapped, its shape checked
 * (the flow table's and the denied cache's readers, flowtab.c, denied.c; the
 * names maps' window, slot_names.c, checks the shape alone). */
#include <errno.h>
#include <sys/mman.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "dp/array_mmap.h"

int nn_array_shape(int fd, uint32_t vsize, uint32_t n_min, uint32_t n_want, uint32_t *n,
		   size_t *len)
{
	struct bpf_map_info info = {};
	uint32_t ilen = sizeof(info);
	long page = sysconf(_SC_PAGESIZE);

	if (bpf_obj_get_info_by_fd(fd, &info, &ilen))
		return -errno;
	if (info.type != BPF_MAP_TYPE_ARRAY || !(info.map_flags & BPF_F_MMAPABLE) ||
	    info.value_size != vsize || info.max_entries < n_min ||
	    (n_want && info.max_entries != n_want))
		return -EPROTO;
	*n = info.max_entries;
	*len = ((size_t)info.max_entries * vsize + (size_t)page - 1) & ~((size_t)page - 1);
	return 0;
}

void *nn_array_mmap(int fd, int prot, uint32_t vsize, uint32_t n_min, uint32_t n_want, uint32_t *n,
		    size_t *len)
{
	int err = nn_array_shape(fd, vsize, n_min, n_want, n, len);
	void *p;

	if (err) {
		errno = -err;
		return NULL;
	}
	p = mmap(NULL, *len, prot, MAP_SHARED, fd, 0);
	return p == MAP_FAILED ? NULL : p;
}
