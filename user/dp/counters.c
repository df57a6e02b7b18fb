// SPDX-License-Identifier: GPL-2.0
/*
 * counters.c - per-CPU counters summed over the possible CPUs (see
 * counters.h). A lookup of a per-CPU map returns one value per possible
 * CPU, each rounded up to 8 bytes; a counter array cut in per-CPU regions
 * (nanami_abi.h "Counter layout") holds a slot's CPUs at cpu * stride +
 * slot. Our counter structs are u64 only.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "dp/counters.h"

_Static_assert(sizeof(struct nn_reason_stats) == 2 * sizeof(uint64_t),
	       "nn_reason_stats is two u64 counters");

/* What a reader needs of counter map @fd: its type, id, the slot count of
 * one CPU (@stride) and the value size. */
static int ctr_layout(int fd, uint32_t *type, uint32_t *id, uint32_t *stride, uint32_t *vsz,
		      int *ncpu)
{
	struct bpf_map_info info = {};
	uint32_t len = sizeof(info);

	*ncpu = libbpf_num_possible_cpus();
	if (*ncpu <= 0)
		return *ncpu < 0 ? *ncpu : -EINVAL;
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return -errno;
	*type = info.type;
	*id = info.id;
	*vsz = info.value_size;
	*stride = info.max_entries;
	if (info.type == BPF_MAP_TYPE_ARRAY) {
		/* One region per possible CPU (nanami_abi.h "Counter
		 * layout"): anything else is not a counter array of ours. */
		if (info.max_entries % (uint32_t)*ncpu || info.value_size % 8)
			return -EINVAL;
		*stride = info.max_entries / (uint32_t)*ncpu;
	} else if (info.type != BPF_MAP_TYPE_PERCPU_ARRAY) {
		return -EINVAL;
	}
	return 0;
}

int nn_ctr_slots(int fd, uint32_t *slots)
{
	uint32_t type = 0, id = 0, vsz = 0;
	int ncpu;

	return ctr_layout(fd, &type, &id, slots, &vsz, &ncpu);
}

/*
 * The cut counter arrays mapped read-only, once per map (they are
 * mmapable): a reader of every slot (metrics, gwctl) then pays one system
 * call per slot, the map's identity, and not one lookup per CPU. Keyed by
 * map id: the mapping holds its map, so the id cannot be reused under it,
 * and a map replaced behind the same descriptor number is mapped anew.
 */
struct ctr_view {
	uint32_t id;
	const uint64_t *base;
	size_t len;
};

static struct ctr_view views[4];
static unsigned int views_next;
static pthread_mutex_t views_mu = PTHREAD_MUTEX_INITIALIZER;

/* The mapping of map @id (@fd, @len bytes), or NULL (then lookups). Called
 * with views_mu held. */
static const uint64_t *view_get(int fd, uint32_t id, size_t len)
{
	struct ctr_view *v;
	void *p;
	size_t i;

	for (i = 0; i < sizeof(views) / sizeof(views[0]); i++)
		if (views[i].base && views[i].id == id)
			return views[i].base;
	p = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return NULL;
	v = &views[views_next++ % (sizeof(views) / sizeof(views[0]))];
	if (v->base)
		munmap((void *)v->base, v->len);
	v->id = id;
	v->base = p;
	v->len = len;
	return p;
}

int nn_percpu_sum(int fd, uint32_t key, size_t n, uint64_t *sum)
{
	uint32_t type = 0, id = 0, stride = 0, vsz = 0, k;
	const uint64_t *base;
	int ncpu, c, err;
	uint64_t *v;
	size_t i, each;

	err = ctr_layout(fd, &type, &id, &stride, &vsz, &ncpu);
	if (err)
		return err;
	if (n * sizeof(*v) > vsz)
		return -EINVAL;
	if (key >= stride)
		return -ENOENT;
	each = (vsz + 7) / 8; /* u64 per CPU's value */
	memset(sum, 0, n * sizeof(*sum));
	if (type == BPF_MAP_TYPE_ARRAY) {
		pthread_mutex_lock(&views_mu);
		base = view_get(fd, id, (size_t)stride * (size_t)ncpu * vsz);
		for (c = 0; base && c < ncpu; c++)
			for (i = 0; i < n; i++)
				sum[i] += base[((size_t)c * stride + key) * each + i];
		pthread_mutex_unlock(&views_mu);
		if (base)
			return 0;
	}
	v = calloc((size_t)ncpu, each * sizeof(*v));
	if (!v)
		return -ENOMEM;
	if (type == BPF_MAP_TYPE_PERCPU_ARRAY) {
		if (bpf_map_lookup_elem(fd, &key, v))
			err = -errno;
	} else {
		/* Not mappable (an array without BPF_F_MMAPABLE): by lookups. */
		for (c = 0; c < ncpu && !err; c++) {
			k = (uint32_t)c * stride + key;
			if (bpf_map_lookup_elem(fd, &k, v + (size_t)c * each))
				err = -errno;
		}
	}
	for (c = 0; c < ncpu && !err; c++)
		for (i = 0; i < n; i++)
			sum[i] += v[(size_t)c * each + i];
	free(v);
	return err;
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
