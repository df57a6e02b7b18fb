// SPDX-License-Identifier: GPL-2.0
/*
 * The flow table the programs manage (nanami_abi.h "Flow table",
 * docs/datapath.md "Flows") through the real programs (BPF_PROG_TEST_RUN, L3
 * framing, TC hooks) over examples/assignments.json:
 * - a full bucket evicts its least recently seen flow, and only that one; the
 *   evicted flow's reply is judged by policy on its own (dropped, as on an
 *   empty table), never passed: a full table lets nothing through that
 *   policy would not pass;
 * - a slot a writer holds (odd sequence word) is never taken as a match;
 * - user space finds every flow the programs recorded (the same hash);
 * - a later load over the pinned table keeps its seed, so its flows are
 *   still found after a restart.
 * Replies are carol's (globex-main) UDP flows to globex-files port 53: the
 * policy lets carol open them and nothing lets the resource open a flow
 * toward carol (verdicts.md), so a reply passes only as a flow hit.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <cmocka.h>

#include <bpf/bpf.h>

#include "dp/flowtab.h"
#include "lib/addr.h"
#include "dptest.h"
#include "model_fixture.h"

#define FROM NN_DIR_FROM_OVERLAY
#define INTO NN_DIR_INTO_OVERLAY
#define H NN_HOOK_TC

static int setup(void **state)
{
	return mf_setup(state);
}

static int teardown(void **state)
{
	return mf_teardown(state);
}

static struct dpt_result send(struct dpt *t, enum nn_dir dir, struct pb *b)
{
	struct dpt_result r;

	assert_int_equal(dpt_run_pb(t, dir, H, b, &r), 0);
	return r;
}

/* carol opens flow @port (passes, no flow yet). */
static void open_flow(struct dpt *t, uint16_t port)
{
	struct pb b;
	struct dpt_result r = send(t, FROM, mf_udp(&b, CAROL6, FILES6, port, 53));

	assert_true(r.passed && !r.flow_hit);
}

/* The reply of carol's flow @port. */
static struct dpt_result reply(struct dpt *t, uint16_t port)
{
	struct pb b;

	return send(t, INTO, mf_udp(&b, FILES6, CAROL6, 53, port));
}

/* The table mapped writable (tests only), its bucket count in *@nb. */
static struct nn_flow_bucket *table(struct dpt *t, uint32_t *nb, size_t *len)
{
	int fd = t->dp->map_fd[NN_M_FLOWS];
	struct bpf_map_info info = {};
	uint32_t ilen = sizeof(info);
	void *p;

	assert_int_equal(bpf_obj_get_info_by_fd(fd, &info, &ilen), 0);
	*nb = info.max_entries - 1;
	*len = ((size_t)info.max_entries * sizeof(struct nn_flow_bucket) + 4095) & ~(size_t)4095;
	p = mmap(NULL, *len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	assert_true(p != MAP_FAILED);
	return p;
}

/* The way of bucket @b whose key has carol's port @port, or -1. */
static int way_of(struct nn_flow_bucket *b, uint16_t port)
{
	int w;

	for (w = 0; w < NN_FLOW_WAYS; w++) {
		const struct nn_flow_key *k = &b->slot[w].k;

		if (b->tag[w] && (k->aport == port || k->bport == port))
			return w;
	}
	return -1;
}

/*
 * One bucket (8 flows): carol opens NN_FLOW_WAYS flows, each seen at another
 * time (their last_seen set, all within the UDP timeout), the flow of
 * port 5003 least recently. A new flow evicts exactly that one: its reply
 * is judged again and dropped with the verdict an empty table gives it;
 * the others and the new flow still pass as flow hits.
 */
static void test_full_bucket_evicts_lru(void **state)
{
	struct nn_flow_bucket *t;
	struct dpt_result r, fresh, evicted = { 0 };
	uint64_t now;
	uint32_t nb;
	size_t len;
	struct dpt d;
	uint16_t p;
	int w;

	(void)state;
	assert_int_equal(dpt_open_tables(&d, NN_FRAMING_L3, NN_FLOW_WAYS, 0), 0);
	assert_int_equal(dpt_apply(&d, mf_base, &(struct nn_apply_result){ 0 }), 0);
	for (p = 5000; p < 5000 + NN_FLOW_WAYS; p++)
		open_flow(&d, p);
	t = table(&d, &nb, &len);
	assert_int_equal(nb, 1);
	now = t->seen[0];
	for (p = 5000; p < 5000 + NN_FLOW_WAYS; p++) {
		w = way_of(t, p);
		if (w < 0)
			fail_msg("carol's flow %u is not in the one bucket", p);
		/* 5003 seen 10 s ago, the others 1-8 s ago. */
		t->seen[w] = now - (p == 5003 ? 10 : p - 5000 + 1) * 1000000000ull;
	}
	open_flow(&d, 6000);
	for (p = 5000; p < 5000 + NN_FLOW_WAYS; p++) {
		r = reply(&d, p);
		if (p == 5003 ? r.passed || r.flow_hit : !r.passed || !r.flow_hit)
			fail_msg("reply of flow %u after the insert: passed %d flow_hit %d (%s)", p,
				 r.passed, r.flow_hit,
				 p == 5003 ? "the least recently seen: evicted" : "kept");
		if (p == 5003)
			evicted = r;
	}
	r = reply(&d, 6000);
	assert_true(r.passed && r.flow_hit);
	/* The evicted reply got what policy says of it on an empty table. */
	assert_int_equal(dpt_flush_state(&d), 0);
	fresh = reply(&d, 5003);
	assert_false(fresh.passed);
	if (evicted.reason != fresh.reason)
		fail_msg("the evicted flow's reply: reason %u, on an empty table %u",
			 evicted.reason, fresh.reason);
	munmap(t, len);
	dpt_close(&d);
}

/* A one-bucket table with flow 5000 recorded: the table mapped (@len for
 * munmap) and the way holding the flow in *@w. */
static struct nn_flow_bucket *one_flow(struct dpt *d, size_t *len, int *w)
{
	struct nn_flow_bucket *t;
	uint32_t nb;

	assert_int_equal(dpt_open_tables(d, NN_FRAMING_L3, NN_FLOW_WAYS, 0), 0);
	assert_int_equal(dpt_apply(d, mf_base, &(struct nn_apply_result){ 0 }), 0);
	open_flow(d, 5000);
	t = table(d, &nb, len);
	*w = way_of(t, 5000);
	assert_true(*w >= 0);
	return t;
}

/* A slot whose sequence word is odd (a CPU writing it) is no match: the
 * reply is judged as new (dropped); even again, it is a hit. */
static void test_busy_slot_not_matched(void **state)
{
	struct nn_flow_bucket *t;
	struct dpt_result r;
	uint32_t s;
	size_t len;
	struct dpt d;
	int w;

	(void)state;
	t = one_flow(&d, &len, &w);
	s = t->seq[w];
	assert_int_equal(s & 1, 0);
	t->seq[w] = s + 1;
	r = reply(&d, 5000);
	if (r.passed || r.flow_hit)
		fail_msg("a slot being written (seq %u) matched: passed %d flow_hit %d", s + 1,
			 r.passed, r.flow_hit);
	t->seq[w] = s + 2;
	r = reply(&d, 5000);
	assert_true(r.passed && r.flow_hit);
	munmap(t, len);
	dpt_close(&d);
}

/* A reply that hits its flow writes back into the slot what it changed:
 * the refresh of a last_seen 2 s old and the overlay end's tag (the value
 * is decided on a copy: a lost write back would leave both as they were). */
static void test_hit_written_back(void **state)
{
	struct nn_flow_bucket *t;
	struct dpt_result r;
	uint64_t seen;
	size_t len;
	struct dpt d;
	int w;

	(void)state;
	t = one_flow(&d, &len, &w);
	seen = t->seen[w];
	t->seen[w] = seen - 2000000000ull;
	assert_int_equal(t->slot[w].f.end[0] | t->slot[w].f.end[1], 0);
	r = reply(&d, 5000);
	assert_true(r.passed && r.flow_hit);
	if (t->seen[w] < seen || !(t->slot[w].f.end[0] | t->slot[w].f.end[1]))
		fail_msg("the hit's changes not written back: last_seen %llu (was %llu), end %#llx "
			 "%#llx",
			 (unsigned long long)t->seen[w], (unsigned long long)seen,
			 (unsigned long long)t->slot[w].f.end[0],
			 (unsigned long long)t->slot[w].f.end[1]);
	assert_int_equal(t->seq[w] & 1, 0);
	munmap(t, len);
	dpt_close(&d);
}

/* 500 flows in a table of 4096: user space (nn_flow_find, nn_flow_count)
 * sees each one the programs recorded, with its opener. */
static void test_user_space_finds_flows(void **state)
{
	struct nn_flow_key k = { 0 };
	struct nn_flow f;
	struct dpt d;
	uint64_t n = 0;
	uint16_t p;

	(void)state;
	assert_int_equal(dpt_open_tables(&d, NN_FRAMING_L3, 4096, 0), 0);
	assert_int_equal(dpt_apply(&d, mf_base, &(struct nn_apply_result){ 0 }), 0);
	for (p = 5000; p < 5500; p++)
		open_flow(&d, p);
	assert_int_equal(nn_flow_count(d.dp->map_fd[NN_M_FLOWS], &n), 0);
	assert_int_equal(n, 500);
	for (p = 5000; p < 5500; p++) {
		uint8_t carol[16], files[16];
		int c, fam;

		assert_int_equal(nn_addr_parse(CAROL6, carol, &fam), 0);
		assert_int_equal(nn_addr_parse(FILES6, files, &fam), 0);
		c = memcmp(carol, files, 16) < 0;
		memcpy(k.a, c ? carol : files, 16);
		memcpy(k.b, c ? files : carol, 16);
		k.aport = c ? p : 53;
		k.bport = c ? 53 : p;
		k.proto = 17;
		if (nn_flow_find(d.dp->map_fd[NN_M_FLOWS], &k, &f))
			fail_msg("nn_flow_find: carol's flow %u not found", p);
		assert_int_equal(f.opener_is_b, !c);
		assert_int_equal(f.opener_dir, FROM);
	}
	dpt_close(&d);
}

/* A second load over the same pins adopts the table with its seed: the
 * first load's flow is still found. */
static void test_seed_kept_across_loads(void **state)
{
	char dir[128];
	struct dpt d;
	struct dpt_result r;

	(void)state;
	snprintf(dir, sizeof(dir), "/sys/fs/bpf/nn-flowtab-test-%d", getpid());
	assert_int_equal(dpt_open_pinned(&d, NN_FRAMING_L3, dir, false, NULL), 0);
	assert_int_equal(dpt_apply(&d, mf_base, &(struct nn_apply_result){ 0 }), 0);
	open_flow(&d, 5000);
	dpt_close(&d);
	assert_int_equal(dpt_open_pinned(&d, NN_FRAMING_L3, dir, false, NULL), 0);
	assert_true(d.dp->adopted);
	r = reply(&d, 5000);
	if (!r.passed || !r.flow_hit)
		fail_msg("after a reload over the pins: passed %d flow_hit %d", r.passed,
			 r.flow_hit);
	dpt_close(&d);
	nn_dp_detach(NULL, dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_full_bucket_evicts_lru, setup, teardown),
		cmocka_unit_test_setup_teardown(test_busy_slot_not_matched, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hit_written_back, setup, teardown),
		cmocka_unit_test_setup_teardown(test_user_space_finds_flows, setup, teardown),
		cmocka_unit_test_setup_teardown(test_seed_kept_across_loads, setup, teardown),
	};

	return cmocka_run_group_tests(tests, mf_group_setup, mf_group_teardown);
}
