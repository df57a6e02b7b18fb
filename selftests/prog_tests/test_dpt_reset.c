// SPDX-License-Identifier: GPL-2.0
/*
 * The test harness's shared instance (dpt_open_shared, dptest.h): the prog
 * tests that run in the kernel matrix's guests load the programs once per
 * binary and reset them between subtests, so a reset instance must be
 * indistinguishable from a freshly loaded one, or a subtest would see what
 * the previous one left. Checked against a fresh load, map by map, after
 * an instance was used every way a test uses one (a policy applied and
 * replaced, packets of every worked example on both hooks: flows,
 * fragments, drops, per-device and per-rule counters, events, buckets; the
 * configuration and the bound changed), then through the same apply and
 * the same packets on both.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>

#include "dp/flowtab.h"
#include "dptest.h"
#include "examples.h"
#include "model_fixture.h"

/* One map's content: (key, value) records sorted by key. */
struct content {
	uint8_t *rec;
	size_t n, size;
	uint32_t type;
};

static int cmp_size;

static int cmp_rec(const void *a, const void *b)
{
	return memcmp(a, b, cmp_size);
}

/* nn_flows' entries as (key, value) records: where a flow sits depends on
 * the table's random seed, which differs between two loads. */
static int add_flow(const struct nn_flow_key *k, const struct nn_flow *f, void *arg)
{
	struct content *c = arg;
	uint8_t *r;

	c->rec = realloc(c->rec, (c->n + 1) * c->size);
	assert_non_null(c->rec);
	r = c->rec + c->n++ * c->size;
	memcpy(r, k, sizeof(*k));
	memcpy(r + sizeof(*k), f, sizeof(*f));
	return 0;
}

static void read_flows(int fd, struct content *c)
{
	memset(c, 0, sizeof(*c));
	c->type = BPF_MAP_TYPE_ARRAY;
	c->size = sizeof(struct nn_flow_key) + sizeof(struct nn_flow);
	assert_int_equal(nn_flow_each(fd, add_flow, c), 0);
	cmp_size = (int)c->size;
	if (c->n)
		qsort(c->rec, c->n, c->size, cmp_rec);
}

static void read_map(int fd, int ncpu, struct content *c)
{
	struct bpf_map_info info = { 0 };
	uint32_t len = sizeof(info);
	size_t vsize, cap = 64;
	uint8_t key[256], next[256];
	bool first = true;

	memset(c, 0, sizeof(*c));
	assert_int_equal(bpf_obj_get_info_by_fd(fd, &info, &len), 0);
	c->type = info.type;
	if (info.type == BPF_MAP_TYPE_RINGBUF)
		return; /* compared by what a consumer finds: nothing */
	assert_true(info.key_size <= sizeof(key));
	vsize = info.type == BPF_MAP_TYPE_PERCPU_ARRAY || info.type == BPF_MAP_TYPE_PERCPU_HASH ||
				info.type == BPF_MAP_TYPE_LRU_PERCPU_HASH ?
			(size_t)((info.value_size + 7) & ~7u) * ncpu :
			info.value_size;
	c->size = info.key_size + vsize;
	c->rec = malloc(cap * c->size);
	assert_non_null(c->rec);
	while (!bpf_map_get_next_key(fd, first ? NULL : key, next)) {
		uint8_t *r;

		if (c->n == cap) {
			cap *= 2;
			c->rec = realloc(c->rec, cap * c->size);
			assert_non_null(c->rec);
		}
		r = c->rec + c->n * c->size;
		memcpy(r, next, info.key_size);
		assert_int_equal(bpf_map_lookup_elem(fd, next, r + info.key_size), 0);
		c->n++;
		memcpy(key, next, info.key_size);
		first = false;
	}
	cmp_size = (int)info.key_size;
	qsort(c->rec, c->n, c->size, cmp_rec);
}

static int pending_events(int fd)
{
	struct ring_buffer *rb = ring_buffer__new(fd, NULL, NULL, NULL);
	int n;

	assert_non_null(rb);
	n = ring_buffer__consume(rb);
	ring_buffer__free(rb);
	return n;
}

/* Every map of @a holds exactly what @b's does. */
static void expect_same_maps(struct dpt *a, struct dpt *b, const char *when)
{
	int i;

	for (i = 0; i < NN_M_COUNT; i++) {
		struct content ca, cb;
		size_t k;

		if (a->dp->map_fd[i] < 0 || b->dp->map_fd[i] < 0) {
			assert_int_equal(a->dp->map_fd[i], b->dp->map_fd[i]);
			continue;
		}
		if (i == NN_M_FLOWS) {
			read_flows(a->dp->map_fd[i], &ca);
			read_flows(b->dp->map_fd[i], &cb);
		} else {
			read_map(a->dp->map_fd[i], a->ncpu, &ca);
			read_map(b->dp->map_fd[i], b->ncpu, &cb);
		}
		if (ca.type == BPF_MAP_TYPE_RINGBUF) {
			if (pending_events(a->dp->map_fd[i]) || pending_events(b->dp->map_fd[i]))
				fail_msg("%s: %s has events waiting", when, nn_map_names[i]);
			continue;
		}
		if (ca.n != cb.n)
			fail_msg("%s: %s has %zu entries, a fresh load %zu", when, nn_map_names[i],
				 ca.n, cb.n);
		for (k = 0; k < ca.n; k++)
			if (memcmp(ca.rec + k * ca.size, cb.rec + k * cb.size, ca.size))
				fail_msg("%s: %s differs from a fresh load at entry %zu", when,
					 nn_map_names[i], k);
		free(ca.rec);
		free(cb.rec);
	}
	assert_null(a->dp->apply_cache);
	(void)b;
}

/* Every worked example through both hooks; returns the verdicts in @out
 * (reason and rule per packet) when given. */
static size_t send_examples(struct dpt *t, struct dpt_result *out)
{
	size_t i, n = 0;
	int h;

	for (h = NN_HOOK_TC; h <= NN_HOOK_XDP; h++)
		for (i = 0; i < nn_n_examples; i++) {
			uint8_t pkt[PB_BUF_LEN];
			size_t len =
				nn_example_build(&nn_examples[i], t->framing, pkt, sizeof(pkt));
			struct dpt_result r;

			assert_true(len > 0);
			assert_int_equal(
				dpt_run(t, nn_examples[i].dir, (enum nn_hook)h, pkt, len, &r), 0);
			if (out)
				out[n] = r;
			n++;
		}
	return n;
}

static void reset_is_as_loaded(uint8_t framing)
{
	struct dpt used, fresh;
	struct dpt_result *ra, *rb;
	size_t n, i;

	assert_int_equal(dpt_open_shared(&used, framing), 0);
	/* Used every way: two policies, traffic, a changed bound. */
	assert_int_equal(dpt_apply(&used, mf_base, NULL), 0);
	send_examples(&used, NULL);
	assert_int_equal(nn_dp_set_flow_limit(used.dp, 5, 5), 0);
	send_examples(&used, NULL);
	assert_true(dpt_drops(&used, NN_R_ACL_DEFAULT_DENY) > 0);
	dpt_close(&used);

	assert_int_equal(dpt_open_shared(&used, framing), 0);
	assert_int_equal(dpt_open(&fresh, framing), 0);
	expect_same_maps(&used, &fresh, "after the reset");

	/* The same apply writes the same maps; the same packets get the same
	 * verdicts (flow entries carry times, so they are compared by verdict). */
	assert_int_equal(dpt_apply(&used, mf_base, NULL), 0);
	assert_int_equal(dpt_apply(&fresh, mf_base, NULL), 0);
	assert_int_equal(dpt_flush_state(&used), 0);
	assert_int_equal(dpt_flush_state(&fresh), 0);
	n = 2 * nn_n_examples;
	ra = calloc(n, sizeof(*ra));
	rb = calloc(n, sizeof(*rb));
	assert_true(ra && rb);
	assert_int_equal(send_examples(&used, ra), n);
	assert_int_equal(send_examples(&fresh, rb), n);
	for (i = 0; i < n; i++)
		if (ra[i].passed != rb[i].passed || ra[i].reason != rb[i].reason ||
		    ra[i].rule != rb[i].rule || ra[i].flow_hit != rb[i].flow_hit ||
		    memcmp(ra[i].drops, rb[i].drops, sizeof(ra[i].drops)))
			fail_msg("packet %zu: reset instance reason %u rule %d, fresh %u rule %d",
				 i, ra[i].reason, ra[i].rule, rb[i].reason, rb[i].rule);
	printf("# %s: %zu packets, same verdicts and counters\n",
	       framing == NN_FRAMING_ETH ? "ethernet" : "l3", n);
	free(ra);
	free(rb);
	dpt_close(&fresh);
	dpt_close(&used);
}

static void test_reset_l3(void **state)
{
	(void)state;
	reset_is_as_loaded(NN_FRAMING_L3);
}

static void test_reset_eth(void **state)
{
	(void)state;
	reset_is_as_loaded(NN_FRAMING_ETH);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reset_l3),
		cmocka_unit_test(test_reset_eth),
	};

	return cmocka_run_group_tests_name("shared test instance resets to as loaded", tests,
					   mf_group_setup, mf_group_teardown);
}
