// SPDX-License-Identifier: GPL-2.0
/*
 * lines.c - the line floors of nn-microbench (bpf/bench_lines.bpf.c): per
 * scale, a table the size of the micro's flow table, written as one random
 * cycle through every line (so that a chase of k lines visits k distinct
 * lines), a counter table the size of the scale's nn_dev_ctr, and the check
 * that a floor measures the lines it claims to: a floor that reads one line
 * while it is called three would make every "case - floor" below it a lie.
 */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bench_lines.skel.h"
#include "bench_main.h"
#include "nanami_abi.h"

#define BUCKET_LINES (sizeof(struct nn_flow_bucket) / 64)
#define SLOT_LINE0 2 /* a bucket's tag line and seen line come first */

/* bench_lines.bpf.c's struct bench_line, the same layout. */
struct bench_line {
	uint32_t next;
	uint32_t way;
	uint32_t ctr;
	uint32_t stamp;
	uint32_t pad[12];
} __attribute__((aligned(64)));

_Static_assert(sizeof(struct bench_line) == 64, "one line");

/* splitmix64: the tables' draws, replayable from the printed seed. */
static uint64_t next_rand(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* The seed of every scale's tables: NN_BENCH_SEED, else the clock. */
int bench_lines_seed(uint64_t *seed)
{
	const char *e = getenv("NN_BENCH_SEED");
	struct timespec ts;
	char *end = NULL;

	if (e) {
		errno = 0;
		*seed = strtoull(e, &end, 0);
		if (!*e || *end || errno) {
			fprintf(stderr, "# NN_BENCH_SEED=%s: not a seed (a 64-bit number)\n", e);
			return -EINVAL;
		}
		return 0;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	*seed = (uint64_t)ts.tv_sec * 1000000007ull ^ (uint64_t)ts.tv_nsec;
	return 0;
}

/*
 * Every line's next: Sattolo's shuffle, a permutation that is one cycle
 * through all @n lines, so a chase from any line meets no line twice
 * before n steps. Every line's way (which slot line of its bucket a hit
 * reads) and counter slot: uniform.
 */
static void fill(struct bench_line *t, uint32_t n, uint32_t ctr_slots, uint64_t seed)
{
	uint64_t s = seed;
	uint32_t i, j, x;

	for (i = 0; i < n; i++) {
		memset(&t[i], 0, sizeof(t[i]));
		t[i].next = i;
	}
	for (i = n - 1; i > 0; i--) {
		j = next_rand(&s) % i;
		x = t[i].next;
		t[i].next = t[j].next;
		t[j].next = x;
	}
	for (i = 0; i < n; i++) {
		x = next_rand(&s);
		t[i].way = x % NN_FLOW_WAYS;
		t[i].ctr = (x >> 8) % ctr_slots;
	}
}

int bench_lines_open(struct bench_line_floors *lf, int pairs_fd, uint32_t buckets,
		     uint32_t ctr_slots, uint8_t framing, uint64_t seed)
{
	int ncpu = libbpf_num_possible_cpus(), err;
	uint64_t lines = (uint64_t)buckets * BUCKET_LINES, ctr = (uint64_t)ctr_slots * ncpu;
	long page = sysconf(_SC_PAGESIZE);
	void *m;

	memset(lf, 0, sizeof(*lf));
	if (ncpu <= 0 || !buckets || (buckets & (buckets - 1)) || !ctr_slots ||
	    lines > UINT32_MAX || ctr > UINT32_MAX)
		return -EINVAL;
	lf->skel = bench_lines__open();
	if (!lf->skel)
		return -errno;
	lf->buckets = buckets;
	lf->flow_lines = (uint32_t)lines;
	lf->ctr_slots = ctr_slots;
	lf->seed = seed;
	lf->flow_bytes = (lines * 64 + page - 1) / page * page;
	lf->ctr_bytes = (ctr * 64 + page - 1) / page * page;
	lf->skel->rodata->bench_l2 = framing == NN_FRAMING_ETH ? 14 : 0;
	lf->skel->rodata->bench_buckets = buckets;
	lf->skel->rodata->bench_ctr_slots = ctr_slots;
	bpf_map__set_max_entries(lf->skel->maps.bench_flow_lines, (uint32_t)lines);
	bpf_map__set_max_entries(lf->skel->maps.bench_ctr_lines, (uint32_t)ctr);
	/* The prologue's pairs are xdp_rand/floor's own map. */
	bpf_map__set_max_entries(lf->skel->maps.bench_pairs, BENCH_MAX_PAIRS);
	err = bpf_map__reuse_fd(lf->skel->maps.bench_pairs, pairs_fd);
	if (!err)
		err = bench_lines__load(lf->skel);
	if (err)
		return err;
	m = mmap(NULL, lf->flow_bytes, PROT_READ | PROT_WRITE, MAP_SHARED,
		 bpf_map__fd(lf->skel->maps.bench_flow_lines), 0);
	if (m == MAP_FAILED)
		return -errno;
	lf->flow = m;
	fill(lf->flow, lf->flow_lines, ctr_slots, seed);
	m = mmap(NULL, lf->ctr_bytes, PROT_READ | PROT_WRITE, MAP_SHARED,
		 bpf_map__fd(lf->skel->maps.bench_ctr_lines), 0);
	if (m == MAP_FAILED)
		return -errno;
	lf->ctr = m;
	return 0;
}

void bench_lines_close(struct bench_line_floors *lf)
{
	if (lf->flow)
		munmap(lf->flow, lf->flow_bytes);
	if (lf->ctr)
		munmap(lf->ctr, lf->ctr_bytes);
	bench_lines__destroy(lf->skel);
	memset(lf, 0, sizeof(*lf));
}

int bench_lines_prog_fd(const struct bench_line_floors *lf, enum bench_hook h)
{
	const struct bpf_program *p = h == HK_LINES_CHASE ? lf->skel->progs.bench_lines_chase :
				      h == HK_LINES_HIT	  ? lf->skel->progs.bench_lines_hit :
				      h == HK_LINES_CTR	  ? lf->skel->progs.bench_lines_ctr :
							    lf->skel->progs.bench_lines_put;

	return bpf_program__fd(p);
}

/* The prologue's settings (cache_prepare's, for xdp_rand/floor: @n pairs
 * of family @v4, no port rewrite) and the chase's length @k. */
void bench_lines_set(struct bench_line_floors *lf, uint32_t n, bool v4, uint32_t k)
{
	lf->skel->data->bench_n = n;
	lf->skel->bss->bench_v4 = v4;
	lf->skel->bss->bench_port_mode = 0;
	lf->skel->bss->bench_seq_mode = 0;
	lf->skel->data->bench_k = k ? k : 1;
}

#define FAIL(...)                                                                       \
	do {                                                                            \
		fprintf(stderr, "case %s: ", c->name);                                  \
		fprintf(stderr, __VA_ARGS__);                                           \
		fprintf(stderr, " (tables of seed %llu: NN_BENCH_SEED replays them)\n", \
			(unsigned long long)lf->seed);                                  \
		return -EPROTO;                                                         \
	} while (0)

/*
 * Run case @c's program once on @pkt and check, against the tables this
 * file wrote, that it visited the lines it is named for: the chase k
 * distinct lines, each the one its predecessor names; the hit a bucket's
 * first line, the slot line it names, the counter line that names, counted
 * once; the counter line counted once; the put a first line claimed and the
 * slot line it names written.
 */
int bench_lines_check(struct bench_line_floors *lf, const struct bench_case *c, const void *pkt,
		      size_t len)
{
	const uint32_t *tr = lf->skel->bss->bench_trace;
	uint32_t k = c->hook == HK_LINES_CHASE ? lf->skel->data->bench_k : 0, i, j, distinct = 0;
	uint32_t cpu0 = (uint32_t)sched_getcpu() * lf->ctr_slots, stamp0 = 0, ctr_idx = 0;
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt, .data_size_in = len, .repeat = 1);

	memset(lf->skel->bss->bench_trace, 0xff, sizeof(lf->skel->bss->bench_trace));
	/* Which counter line the run counts is drawn in it: every line
	 * zeroed first, so that afterwards the one it names must hold 1. */
	if (c->hook == HK_LINES_CTR || c->hook == HK_LINES_HIT)
		memset(lf->ctr, 0, lf->ctr_bytes);
	if (c->hook == HK_LINES_PUT)
		stamp0 = lf->skel->bss->bench_stamp;
	if (bpf_prog_test_run_opts(bench_lines_prog_fd(lf, c->hook), &o))
		return -errno;
	if (o.retval != 2 /* XDP_PASS */)
		FAIL("its program returned %u, not XDP_PASS", o.retval);
	switch (c->hook) {
	case HK_LINES_CHASE:
		if (tr[0] >= lf->flow_lines || tr[0] % BUCKET_LINES)
			FAIL("its chase began at line %u, not a bucket's first line", tr[0]);
		for (i = 1; i < k; i++)
			if (tr[i] != lf->flow[tr[i - 1]].next)
				FAIL("line %u of its chase is %u, but line %u names %u", i, tr[i],
				     tr[i - 1], lf->flow[tr[i - 1]].next);
		for (i = 0; i < k; i++) {
			for (j = 0; j < i && tr[j] != tr[i]; j++)
				;
			distinct += j == i;
		}
		if (distinct != k)
			FAIL("its chase visited %u distinct line(s), not %u", distinct, k);
		return 0;
	case HK_LINES_HIT:
		if (tr[0] >= lf->flow_lines || tr[0] % BUCKET_LINES)
			FAIL("it began at line %u, not a bucket's first line", tr[0]);
		if (tr[1] != tr[0] + SLOT_LINE0 + lf->flow[tr[0]].way)
			FAIL("its slot line is %u, but line %u names way %u", tr[1], tr[0],
			     lf->flow[tr[0]].way);
		ctr_idx = cpu0 + lf->flow[tr[1]].ctr;
		if (tr[2] != ctr_idx)
			FAIL("its counter line is %u, but slot line %u names %u", tr[2], tr[1],
			     ctr_idx);
		break;
	case HK_LINES_CTR:
		ctr_idx = tr[0];
		if (ctr_idx < cpu0 || ctr_idx >= cpu0 + lf->ctr_slots)
			FAIL("its counter line %u is not in this CPU's region [%u, %u)", ctr_idx,
			     cpu0, cpu0 + lf->ctr_slots);
		break;
	default:
		if (tr[0] >= lf->flow_lines || tr[0] % BUCKET_LINES)
			FAIL("it began at line %u, not a bucket's first line", tr[0]);
		if (tr[1] != tr[0] + SLOT_LINE0 + lf->flow[tr[0]].way)
			FAIL("its victim line is %u, but line %u names way %u", tr[1], tr[0],
			     lf->flow[tr[0]].way);
		if (lf->flow[tr[1]].stamp != stamp0 + 1)
			FAIL("its victim line holds stamp %u, not the %u it was to store",
			     lf->flow[tr[1]].stamp, stamp0 + 1);
		return 0;
	}
	if (lf->ctr[ctr_idx].s.packets[0] != 1)
		FAIL("its counter line %u counted %llu packets, not 1", ctr_idx,
		     (unsigned long long)lf->ctr[ctr_idx].s.packets[0]);
	return 0;
}
