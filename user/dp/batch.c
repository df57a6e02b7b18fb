// SPDX-License-Identifier: GPL-2.0
/* batch.c - see batch.h. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "dp/batch.h"
#include "lib/thread.h"

/* Entries per batch call: large enough to amortise the call, small enough
 * that the kernel's copy loops stay short between reschedule points. */
#define NN_BATCH 4096

/* The kernel's internal ENOTSUPP, which the bpf syscall can leak. */
#define NN_ENOTSUPP 524

/* A batch operation this map type does not have. */
static int unsupported(int err)
{
	return err == EINVAL || err == ENOTSUP || err == EOPNOTSUPP || err == NN_ENOTSUPP;
}

static int dump_each(int fd, size_t ksz, size_t vsz,
		     int (*cb)(const void *key, const void *val, void *arg), void *arg)
{
	uint8_t key[64], next[64], val[4096];
	void *prev = NULL;
	int err;

	if (ksz > sizeof(key) || vsz > sizeof(val))
		return -EINVAL;
	while (!bpf_map_get_next_key(fd, prev, next)) {
		memcpy(key, next, ksz);
		prev = key;
		if (bpf_map_lookup_elem(fd, key, val))
			continue; /* deleted meanwhile */
		err = cb(key, val, arg);
		if (err)
			return err;
	}
	return 0;
}

int nn_map_dump(int fd, size_t ksz, size_t vsz,
		int (*cb)(const void *key, const void *val, void *arg), void *arg)
{
	uint64_t in[8], out[8]; /* batch position: a bucket or a key */
	uint32_t cap = NN_BATCH, count, i;
	uint8_t *keys = NULL, *vals = NULL;
	bool first = true, done = false;
	int err = 0;

	if (ksz > 64 || vsz > 4096)
		return -EINVAL;
	while (!done && !err) {
		if (!keys) {
			keys = malloc((size_t)cap * ksz);
			vals = malloc((size_t)cap * vsz);
			if (!keys || !vals) {
				err = -ENOMEM;
				break;
			}
		}
		count = cap;
		if (bpf_map_lookup_batch(fd, first ? NULL : in, out, keys, vals, &count, NULL)) {
			if (errno == ENOENT) {
				done = true; /* the last (possibly partial) batch */
			} else if (errno == ENOSPC && !count && cap < (1u << 20)) {
				/* One bucket holds more than fits: larger buffers. */
				free(keys);
				free(vals);
				keys = vals = NULL;
				cap *= 4;
				continue;
			} else if (first && unsupported(errno)) {
				free(keys);
				free(vals);
				return dump_each(fd, ksz, vsz, cb, arg);
			} else {
				err = -errno;
				break;
			}
		}
		first = false;
		memcpy(in, out, sizeof(in));
		for (i = 0; i < count && !err; i++)
			err = cb(keys + (size_t)i * ksz, vals + (size_t)i * vsz, arg);
	}
	free(keys);
	free(vals);
	return err;
}

/* nn_map_update_many() in the calling thread. */
static int update_seq(int fd, const uint8_t *k, size_t ksz, const uint8_t *v, size_t vsz, size_t n)
{
	size_t done = 0;

	while (done < n) {
		uint32_t count = n - done > NN_BATCH ? NN_BATCH : (uint32_t)(n - done);

		if (bpf_map_update_batch(fd, k + done * ksz, v + done * vsz, &count, NULL)) {
			if (!unsupported(errno) || count)
				return -errno;
			break; /* no batch updates for this map: one by one */
		}
		done += count;
	}
	for (; done < n; done++)
		if (bpf_map_update_elem(fd, k + done * ksz, v + done * vsz, BPF_ANY))
			return -errno;
	return 0;
}

/* Entries from which nn_map_update_many() splits the work over two
 * threads. Most of a large write is the kernel's (element allocation,
 * memcg charge, copy and hash insert: ~0.5 s of a cold apply at 100k
 * devices, ~10 s at 1M) and a hash map takes inserts on two CPUs at once
 * (per-bucket locks, per-CPU element caches); a thread costs tens of
 * microseconds, so small writes (a device change) stay in one. */
#define NN_PAR_MIN 8192

struct upd_half {
	int fd, err;
	const uint8_t *k, *v;
	size_t ksz, vsz, n;
};

static void *update_half(void *arg)
{
	struct upd_half *h = arg;

	h->err = update_seq(h->fd, h->k, h->ksz, h->v, h->vsz, h->n);
	return NULL;
}

/* The second half of @n entries written by a helper thread, the first
 * here; without a helper, all of it here. */
static int update_par(int fd, const uint8_t *k, size_t ksz, const uint8_t *v, size_t vsz, size_t n)
{
	size_t first = n / 2;
	struct upd_half h = {
		.fd = fd,
		.k = k + first * ksz,
		.v = v + first * vsz,
		.ksz = ksz,
		.vsz = vsz,
		.n = n - first,
	};
	pthread_t t;
	int err;

	if (!nn_thread_start(&t, update_half, &h))
		return update_seq(fd, k, ksz, v, vsz, n);
	err = update_seq(fd, k, ksz, v, vsz, first);
	pthread_join(t, NULL);
	return err ?: h.err;
}

int nn_map_update_serial(int fd, const void *keys, size_t ksz, const void *vals, size_t vsz,
			 size_t n)
{
	return update_seq(fd, keys, ksz, vals, vsz, n);
}

int nn_map_update_many(int fd, const void *keys, size_t ksz, const void *vals, size_t vsz, size_t n)
{
	if (n >= NN_PAR_MIN)
		return update_par(fd, keys, ksz, vals, vsz, n);
	return update_seq(fd, keys, ksz, vals, vsz, n);
}

/* The zero buffer of nn_map_zero_percpu: at most this many bytes, however
 * many CPUs (a per-CPU value is one copy per possible CPU). */
#define NN_ZERO_BUF (4u << 20)

/* nn_map_zero_percpu() of a counter array cut in per-CPU regions: every
 * CPU's entry cpu * stride + key, in batches of NN_BATCH entries. */
static int zero_regions(int fd, const uint32_t *keys, size_t n, uint32_t stride, uint32_t vsz,
			int ncpu)
{
	size_t per = NN_BATCH, k = 0, i;
	uint32_t *ek = calloc(per, sizeof(*ek));
	void *zero = calloc(per, vsz);
	int err = 0, c;

	if (!ek || !zero)
		err = -ENOMEM;
	for (i = 0; i < n && !err; i++) {
		if (keys[i] >= stride) {
			err = -ENOENT;
			break;
		}
		for (c = 0; c < ncpu && !err; c++) {
			ek[k++] = (uint32_t)c * stride + keys[i];
			if (k == per) {
				err = nn_map_update_many(fd, ek, sizeof(*ek), zero, vsz, k);
				k = 0;
			}
		}
	}
	if (!err && k)
		err = nn_map_update_many(fd, ek, sizeof(*ek), zero, vsz, k);
	free(ek);
	free(zero);
	return err;
}

/* zero_regions() through a shared writable mapping of the array (it is
 * BPF_F_MMAPABLE): a store per line instead of a system call's copy per
 * entry. A cold apply at 100k devices zeroes 200k slots on each CPU: ~0.15 s
 * of kernel time by batched updates, a few ms by stores. Only slots no
 * generation references are zeroed (slots.c, patch.c), so no program
 * writes them meanwhile; the batched update was no more atomic. 1: not
 * mappable (frozen, read-only to user space), the caller goes on by
 * system calls. */
static int zero_mapped(int fd, const uint32_t *keys, size_t n, uint32_t stride,
		       const struct bpf_map_info *info, int ncpu)
{
	size_t elem = ((size_t)info->value_size + 7) & ~(size_t)7;
	size_t len = (size_t)info->max_entries * elem, i;
	uint8_t *base;
	int c;

	for (i = 0; i < n; i++)
		if (keys[i] >= stride)
			return -ENOENT;
	base = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (base == MAP_FAILED)
		return 1;
	for (i = 0; i < n; i++)
		for (c = 0; c < ncpu; c++)
			memset(base + ((size_t)c * stride + keys[i]) * elem, 0, info->value_size);
	munmap(base, len);
	return 0;
}

/* Slots from which zeroing goes through a mapping of the whole array.
 * WHY a floor: mapping an mmapable array installs every page of it at once
 * (remap_vmalloc_range), so the process's RSS rises by the whole map for
 * the call (the device counters: 128 MB at 1M devices) -- counted again
 * beside the map's own memory, and a device patch zeroes one slot, a
 * system call a CPU. Counted in slots, not slots x CPUs: on a host of 256
 * CPUs one slot would otherwise map the whole array again. */
#define ZERO_MAPPED_MIN 256

int nn_map_zero_percpu(int fd, const uint32_t *keys, size_t n, size_t vsz)
{
	int ncpu = libbpf_num_possible_cpus();
	struct bpf_map_info info = {};
	uint32_t ilen = sizeof(info);
	size_t elem, per, done, chunk;
	void *zero;
	int err = 0;

	if (ncpu <= 0)
		return ncpu < 0 ? ncpu : -EINVAL;
	if (!n)
		return 0;
	if (bpf_obj_get_info_by_fd(fd, &info, &ilen))
		return -errno;
	if (info.type == BPF_MAP_TYPE_ARRAY) {
		if (info.max_entries % (uint32_t)ncpu)
			return -EINVAL;
		if ((info.map_flags & BPF_F_MMAPABLE) && n >= ZERO_MAPPED_MIN) {
			err = zero_mapped(fd, keys, n, info.max_entries / (uint32_t)ncpu, &info,
					  ncpu);
			if (err <= 0)
				return err;
		}
		return zero_regions(fd, keys, n, info.max_entries / (uint32_t)ncpu, info.value_size,
				    ncpu);
	}
	/* User space sees a per-CPU value as one 8-byte-aligned copy per
	 * possible CPU, in batches too. */
	elem = (size_t)ncpu * ((vsz + 7) & ~(size_t)7);
	per = n < NN_BATCH ? n : NN_BATCH;
	if (per * elem > NN_ZERO_BUF)
		per = NN_ZERO_BUF / elem ? NN_ZERO_BUF / elem : 1;
	zero = calloc(per, elem);
	if (!zero)
		return -ENOMEM;
	for (done = 0; done < n && !err; done += chunk) {
		chunk = n - done < per ? n - done : per;
		err = nn_map_update_many(fd, keys + done, sizeof(*keys), zero, elem, chunk);
	}
	free(zero);
	return err;
}

int nn_map_delete_many(int fd, const void *keys, size_t ksz, size_t n)
{
	const uint8_t *k = keys;
	size_t done = 0;

	while (done < n) {
		uint32_t count = n - done > NN_BATCH ? NN_BATCH : (uint32_t)(n - done);

		/* The batch stops at the first key that is absent: the rest
		 * are then deleted one by one, absent ones skipped. */
		if (bpf_map_delete_batch(fd, k + done * ksz, &count, NULL)) {
			done += count;
			break;
		}
		done += count;
	}
	for (; done < n; done++)
		if (bpf_map_delete_elem(fd, k + done * ksz) && errno != ENOENT)
			return -errno;
	return 0;
}
