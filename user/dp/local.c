// SPDX-License-Identifier: GPL-2.0
/*
 * local.c - keep nn_local equal to the host's own addresses (see local.h).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>

#include "dp/local.h"
#include "dp/srcfilter.h"

static int addr_cmp(const void *a, const void *b)
{
	return memcmp(a, b, NN_ADDR_LEN);
}

static bool sorted_has(const struct nn_host_addr *v, size_t n, const uint8_t *addr)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = memcmp(v[mid].addr, addr, NN_ADDR_LEN);

		if (!c)
			return true;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

/* Every key in nn_local, into a fresh array (*out, *n). */
static int read_keys(int fd, struct nn_local_key **out, size_t *n)
{
	struct nn_local_key key, next, *prev = NULL, *v = NULL, *nv;
	size_t cap = 0;

	*n = 0;
	while (!bpf_map_get_next_key(fd, prev, &next)) {
		if (*n == cap) {
			cap = cap ? 2 * cap : 64;
			nv = realloc(v, cap * sizeof(*v));
			if (!nv) {
				free(v);
				return -ENOMEM;
			}
			v = nv;
		}
		v[(*n)++] = next;
		key = next;
		prev = &key;
	}
	*out = v;
	return 0;
}

/* Same slot, new epoch: every program reads the same maps as before, and
 * every flow and fragment verdict of the old epoch is judged again. */
static int bump_epoch(struct nn_dp *dp, struct nn_local_change *chg)
{
	struct nn_active a = {};
	struct nn_meta m = {};
	uint32_t zero = 0;

	if (bpf_map_lookup_elem(dp->map_fd[NN_M_ACTIVE], &zero, &a))
		return -errno;
	chg->epoch = a.epoch;
	/* Epoch 0 is "nothing applied": everything is dropped anyway, and the
	 * first apply starts from there. */
	if (!a.epoch)
		return 0;
	nn_srcf_restamp(dp, a.epoch, a.epoch + 2); /* the same addresses */
	a.epoch += 2;
	if (bpf_map_update_elem(dp->map_fd[NN_M_ACTIVE], &zero, &a, BPF_ANY))
		return -errno;
	chg->epoch = a.epoch;
	chg->bumped = true;
	if (!bpf_map_lookup_elem(dp->map_fd[NN_M_META], &zero, &m)) {
		m.epoch = a.epoch;
		bpf_map_update_elem(dp->map_fd[NN_M_META], &zero, &m, BPF_ANY);
	}
	return 0;
}

int nn_local_set(struct nn_dp *dp, const struct nn_host_addr *addrs, size_t n,
		 struct nn_local_change *chg)
{
	int fd = dp->map_fd[NN_M_LOCAL];
	struct nn_host_addr *want = NULL;
	struct nn_local_key *have = NULL;
	size_t n_have = 0, n_want = 0, i;
	int err = 0;

	memset(chg, 0, sizeof(*chg));
	if (fd < 0)
		return -ENOENT;
	if (n) {
		want = malloc(n * sizeof(*want));
		if (!want)
			return -ENOMEM;
		memcpy(want, addrs, n * sizeof(*want));
		qsort(want, n, sizeof(*want), addr_cmp);
		for (i = 0; i < n; i++)
			if (!n_want || memcmp(want[n_want - 1].addr, want[i].addr, NN_ADDR_LEN))
				want[n_want++] = want[i];
	}
	if (n_want > NN_MAX_LOCAL_ADDRS) {
		err = -ENOSPC;
		goto out;
	}
	err = read_keys(fd, &have, &n_have);
	if (err)
		goto out;
	/* Protect first, then release: an address that is both never shows as
	 * unprotected in between. */
	for (i = 0; i < n_want; i++) {
		struct nn_local_info cur, v = { .ifindex = want[i].ifindex };
		struct nn_local_key k;
		bool present;

		memcpy(k.addr, want[i].addr, NN_ADDR_LEN);
		present = !bpf_map_lookup_elem(fd, &k, &cur);
		if (present && cur.ifindex == v.ifindex)
			continue;
		if (bpf_map_update_elem(fd, &k, &v, BPF_ANY)) {
			err = -errno;
			goto out;
		}
		if (!present)
			chg->added++;
	}
	for (i = 0; i < n_have; i++) {
		if (sorted_has(want, n_want, have[i].addr))
			continue;
		if (bpf_map_delete_elem(fd, &have[i]) && errno != ENOENT) {
			err = -errno;
			goto out;
		}
		chg->removed++;
	}
out:
	/* Whatever was written must be seen by flows already open. */
	if (chg->added || chg->removed) {
		int e = bump_epoch(dp, chg);

		err = err ?: e;
	} else if (!err) {
		uint32_t zero = 0;
		struct nn_active a = {};

		if (!bpf_map_lookup_elem(dp->map_fd[NN_M_ACTIVE], &zero, &a))
			chg->epoch = a.epoch;
	}
	free(want);
	free(have);
	return err;
}
