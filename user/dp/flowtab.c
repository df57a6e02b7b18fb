// SPDX-License-Identifier: GPL-2.0
/*
 * flowtab.c - the flow table (nn_flows) from user space: the hash seed a
 * load gives the programs, and the entries for its readers. The table is an
 * mmapable array of buckets (nanami_abi.h "Flow table"): readers map it
 * read-only and walk the slots, as the programs do, taking a slot only when
 * its sequence word is even and the same before and after the copy.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "dp/array_mmap.h"
#include "dp/flowtab.h"

/* The seed's entry of a table @fd of @buckets buckets: 0, or -errno. */
static int seed_entry(int fd, uint32_t buckets, struct nn_flow_seed_entry *e)
{
	struct nn_flow_bucket b;

	if (bpf_map_lookup_elem(fd, &buckets, &b))
		return -errno;
	memcpy(e, &b, sizeof(*e));
	return 0;
}

int nn_flow_seed_for_load(const char *pin_dir, uint64_t *seed)
{
	struct nn_flow_seed_entry e;
	struct nn_flow_bucket b;
	struct bpf_map_info info = {};
	uint32_t len = sizeof(info), last;
	char path[512];
	int fd;

	if (pin_dir) {
		snprintf(path, sizeof(path), "%s/nn_flows", pin_dir);
		fd = bpf_obj_get(path);
		if (fd >= 0) {
			/* A pinned table of another layout (an LRU hash before
			 * session 13) fails the load on its own: "run --detach". */
			if (!bpf_obj_get_info_by_fd(fd, &info, &len) &&
			    info.type == BPF_MAP_TYPE_ARRAY && info.value_size == sizeof(b) &&
			    info.max_entries >= 2) {
				last = info.max_entries - 1;
				if (!seed_entry(fd, last, &e) && e.seed) {
					close(fd);
					*seed = e.seed;
					/* Sessions 13-14's layout: the same
					 * sizes, other places (nanami_abi.h). */
					return e.layout == NN_FLOW_LAYOUT ? 0 : -EPROTO;
				}
			}
			close(fd);
		}
	}
	do {
		if (getrandom(seed, sizeof(*seed), 0) != sizeof(*seed))
			return -errno;
	} while (!*seed); /* 0 marks "no seed yet" in the seed's entry */
	return 0;
}

int nn_flow_seed_store(int fd, uint32_t buckets, uint64_t seed)
{
	struct nn_flow_seed_entry e = { .seed = seed, .layout = NN_FLOW_LAYOUT }, have;
	struct nn_flow_bucket b;
	int err = seed_entry(fd, buckets, &have);

	if (err)
		return err;
	if (have.seed == seed)
		return have.layout == NN_FLOW_LAYOUT ? 0 : -EPROTO;
	if (have.seed)
		return -ESTALE; /* another process created the table between */
	memset(&b, 0, sizeof(b));
	memcpy(&b, &e, sizeof(e));
	return bpf_map_update_elem(fd, &buckets, &b, BPF_ANY) ? -errno : 0;
}

/* The table mapped (@prot), its buckets in *@nb (the seed's entry after
 * them); NULL with errno set. */
static struct nn_flow_bucket *table_map(int fd, int prot, uint32_t *nb, size_t *len)
{
	uint32_t n;
	void *p = nn_array_mmap(fd, prot, sizeof(struct nn_flow_bucket), 2, 0, &n, len);

	if (!p)
		return NULL; /* EPROTO: not this version's table, an older pin */
	*nb = n - 1;
	if (((const struct nn_flow_seed_entry *)(const void *)&((struct nn_flow_bucket *)p)[*nb])
		    ->layout != NN_FLOW_LAYOUT) {
		munmap(p, *len);
		errno = EPROTO; /* sessions 13-14's layout (nanami_abi.h) */
		return NULL;
	}
	return p;
}

/* Copy way @w of @b into @k, @f: 1 when the slot held an entry that no
 * program was writing during the copy. */
static int slot_read(const struct nn_flow_bucket *b, int w, struct nn_flow_key *k,
		     struct nn_flow *f)
{
	const volatile uint32_t *seq = &b->seq[w];
	uint32_t s = *seq;

	if ((s & 1) || !*(const volatile uint32_t *)&b->tag[w])
		return 0;
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	memcpy(k, &b->slot[w].k, sizeof(*k));
	nn_flow_slot_get(b, w, f);
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	return *seq == s;
}

int nn_flow_each(int fd, nn_flow_cb cb, void *arg)
{
	struct nn_flow_bucket *t;
	struct nn_flow_key k;
	struct nn_flow f;
	uint32_t nb, i;
	size_t len;
	int w, ret = 0;

	t = table_map(fd, PROT_READ, &nb, &len);
	if (!t)
		return -errno;
	for (i = 0; i < nb && !ret; i++)
		for (w = 0; w < NN_FLOW_WAYS && !ret; w++)
			if (slot_read(&t[i], w, &k, &f))
				ret = cb(&k, &f, arg);
	munmap(t, len);
	return ret;
}

static int count_one(const struct nn_flow_key *k, const struct nn_flow *f, void *arg)
{
	(void)k;
	(void)f;
	++*(uint64_t *)arg;
	return 0;
}

int nn_flow_count(int fd, uint64_t *n)
{
	*n = 0;
	return nn_flow_each(fd, count_one, n);
}

int nn_flow_find(int fd, const struct nn_flow_key *want, struct nn_flow *f)
{
	struct nn_flow_bucket *t;
	struct nn_flow_key k;
	uint64_t seed, h;
	uint32_t nb, tag;
	size_t len;
	int w, err = -ENOENT;

	t = table_map(fd, PROT_READ, &nb, &len);
	if (!t)
		return -errno;
	memcpy(&seed, &t[nb], sizeof(seed));
	h = nn_flow_hash(want, seed);
	tag = nn_flow_tag(h);
	for (w = 0; w < NN_FLOW_WAYS; w++) {
		const struct nn_flow_bucket *b = &t[h & (nb - 1)];

		if (b->tag[w] == tag && slot_read(b, w, &k, f) && !memcmp(&k, want, sizeof(k))) {
			err = 0;
			break;
		}
	}
	munmap(t, len);
	return err;
}

static bool bucket_untouched(const struct nn_flow_bucket *b)
{
	int w;

	for (w = 0; w < NN_FLOW_WAYS; w++)
		if (b->tag[w] || b->seq[w])
			return false;
	return true;
}

int nn_flow_clear_tests_only(int fd)
{
	struct nn_flow_bucket *t;
	uint32_t nb, i;
	size_t len;

	t = table_map(fd, PROT_READ | PROT_WRITE, &nb, &len);
	if (!t)
		return -errno;
	/* Only the buckets something wrote: a bucket no program touched has
	 * its tags and sequence words (the first line) all zero. Zeroing the
	 * whole array (84 MB at the default --max-flows) made the tests that
	 * reset between rounds 25x slower (test_fail_closed 4.5 -> 116 s). */
	for (i = 0; i < nb; i++)
		if (!bucket_untouched(&t[i]))
			memset(&t[i], 0, sizeof(t[i]));
	munmap(t, len);
	return 0;
}
