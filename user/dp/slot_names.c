// SPDX-License-Identifier: GPL-2.0
/*
 * slot_names.c - the counter slot -> name maps, written and read through a
 * window of the mmapable array (slot_names.h). WHY: as a hash, a cold
 * apply at 1M devices inserted 1M names one kernel allocation each, ~3.4 s
 * of kernel CPU on a helper thread (docs/controller.md "Cold apply
 * (session 13)"); through the mapping a name is a store.
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "dp/array_mmap.h"
#include "dp/slot_names.h"

/* Bytes of the array mapped at once, at least and at most. WHY a window,
 * not the whole map: mapping a BPF array installs every page of the
 * mapping at once (remap_vmalloc_range), so the process's RSS would rise
 * by the whole map (200 MB at 1M slots) beside the map's own memory, and a
 * device patch naming one slot would pay for installing all of them.
 * WHY larger for many slots: each move of the window unmaps the last one,
 * and an unmap in a process whose other threads run on other CPUs waits
 * for a TLB shootdown on each of them; a cold apply at 1M devices wrote
 * 2M names through ~1,600 windows of 256 KB: 1.2 s of the names writer's
 * CPU spent waiting for the other CPU (and interrupting it), of a 2-CPU
 * apply whose other CPU runs the compile (docs/controller.md "Cold apply
 * (session 17, cold17)"). A write of many slots, or a walk of all of
 * them, gets a window sized to the bytes it will touch, up to WINDOW_MAX:
 * 50 moves for those 2M names, RSS at most 8 MB more while it runs. */
#define WINDOW_MIN (256u << 10)
#define WINDOW_MAX (8u << 20)

static size_t windows_mapped;

size_t nn_slot_names_windows(void)
{
	return __atomic_load_n(&windows_mapped, __ATOMIC_RELAXED);
}

struct window {
	int fd, prot;
	size_t total; /* bytes the array can be mapped for (whole pages) */
	size_t size;  /* bytes mapped at a time (at most) */
	size_t page;
	uint8_t *base;
	size_t off, len;
};

/* A window over names map @fd for a pass over @slots of its slots. */
static int window_open(struct window *w, int fd, int prot, size_t slots, uint32_t *n)
{
	size_t want = slots * sizeof(struct nn_name);

	memset(w, 0, sizeof(*w));
	w->fd = fd;
	w->prot = prot;
	w->size = want < WINDOW_MIN ? WINDOW_MIN : want > WINDOW_MAX ? WINDOW_MAX : want;
	w->page = (size_t)sysconf(_SC_PAGESIZE);
	return nn_array_shape(fd, sizeof(struct nn_name), 0, 0, n, &w->total);
}

static void window_close(struct window *w)
{
	if (w->base)
		munmap(w->base, w->len);
	w->base = NULL;
}

/* Slot @slot's entry, the window moved over it when it is outside. */
static struct nn_name *window_at(struct window *w, uint32_t slot)
{
	size_t at = (size_t)slot * sizeof(struct nn_name);
	void *p;

	if (w->base && at >= w->off && at + sizeof(struct nn_name) <= w->off + w->len)
		return (struct nn_name *)(w->base + (at - w->off));
	window_close(w);
	w->off = at & ~(w->page - 1);
	/* At least two pages: an entry may straddle a page boundary. */
	w->len = w->total - w->off < w->size ? w->total - w->off : w->size;
	p = mmap(NULL, w->len, w->prot, MAP_SHARED, w->fd, (off_t)w->off);
	if (p == MAP_FAILED)
		return NULL;
	__atomic_fetch_add(&windows_mapped, 1, __ATOMIC_RELAXED);
	w->base = p;
	return (struct nn_name *)(w->base + (at - w->off));
}

int nn_slot_names_write(int fd, const uint32_t *slots, size_t n, nn_slot_name_fill fill, void *arg)
{
	struct window w;
	struct nn_name tmp;
	uint32_t max;
	size_t i;
	int err;

	if (!n)
		return 0;
	err = window_open(&w, fd, PROT_READ | PROT_WRITE, n, &max);
	for (i = 0; i < n && !err; i++) {
		struct nn_name *e;

		if (slots[i] >= max) {
			err = -ENOENT;
			break;
		}
		e = window_at(&w, slots[i]);
		if (!e) {
			err = -errno;
			break;
		}
		if (!fill) {
			/* Unpublished before its fields go: a reader copying
			 * it meanwhile sees it free, not half a name. */
			__atomic_store_n(&e->in_use, 0, __ATOMIC_RELEASE);
			memset(e, 0, sizeof(*e));
			continue;
		}
		fill(i, &tmp, arg);
		memcpy(e, &tmp, offsetof(struct nn_name, in_use));
		e->kind = tmp.kind;
		__atomic_store_n(&e->in_use, tmp.in_use, __ATOMIC_RELEASE);
	}
	window_close(&w);
	return err;
}

static void fill_copy(size_t i, struct nn_name *n, void *arg)
{
	*n = ((const struct nn_name *)arg)[i];
}

int nn_slot_names_put(int fd, const uint32_t *slots, const struct nn_name *names, size_t n)
{
	return nn_slot_names_write(fd, slots, n, fill_copy, (void *)names);
}

int nn_slot_names_free(int fd, const uint32_t *slots, size_t n)
{
	return nn_slot_names_write(fd, slots, n, NULL, NULL);
}

int nn_slot_names_each(int fd, int (*cb)(uint32_t slot, const struct nn_name *n, void *arg),
		       void *arg)
{
	struct window w;
	struct nn_name copy;
	uint32_t max, s;
	int err = window_open(&w, fd, PROT_READ, (size_t)-1 / sizeof(struct nn_name), &max);

	for (s = 0; s < max && !err; s++) {
		const struct nn_name *e = window_at(&w, s);

		if (!e) {
			err = -errno;
			break;
		}
		if (!__atomic_load_n(&e->in_use, __ATOMIC_ACQUIRE))
			continue;
		copy = *e;
		/* Freed while copied (the in_use store precedes the zeroing):
		 * skipped as the free slot it now is. The fence keeps the
		 * copy's loads before the second look. */
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		if (!__atomic_load_n(&e->in_use, __ATOMIC_RELAXED))
			continue;
		copy.id[NN_NAME_MAX - 1] = 0;
		copy.tenant[NN_NAME_MAX - 1] = 0;
		copy.network[NN_NAME_MAX - 1] = 0;
		err = cb(s, &copy, arg);
	}
	window_close(&w);
	return err;
}
