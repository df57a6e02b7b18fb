// SPDX-License-Identifier: GPL-2.0
/*
 * The flow table's protocol against another CPU's write at the worst moment
 * (bpf/flowtab.bpf.h "Concurrency"; docs/datapath.md "Session 13 (fast14j)"),
 * made deterministic by selftests/bpf/flowtab_race.bpf.c: the product's
 * functions with a test hook that writes a slot at one point of the protocol.
 * One bucket (mask 0): every key shares it.
 * - a reader whose slot is replaced by another flow between the key compare
 *   and the sequence re-check misses (it never decides on the other flow's
 *   value); replaced by the same flow (a refresh), its retry finds the new
 *   value;
 * - a write back or a delete after another CPU replaced the slot does
 *   nothing (never lands in the other flow's slot);
 * - an insert whose key another CPU recorded in another way meanwhile backs
 *   off (one key, one way); one whose chosen way another CPU took meanwhile
 *   records nothing there;
 * - CLOSING never goes back: a FIN's commit that loses its claim, a FIN's
 *   insert that backs off, a NEW insert over a CLOSING flow.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "nanami_abi.h"
#include "flowtab_race.skel.h"

/* The hook's points (bpf/flowtab.bpf.h NN_FT_AT_*). */
#define AT_READ 1
#define AT_WRITE 2
#define AT_PUT 3
#define AT_FOUND 4
#define AT_TAG 5
#define AT_BUSY 6
/* What the other CPU does (flowtab_race.bpf.c hook_mode). */
#define HOOK_DELETE 1
#define HOOK_RELEASE 2
#define SEED 0x5eed5eed12345678ull

static int setup(void **state)
{
	struct flowtab_race *sk = flowtab_race__open();
	struct bpf_map *m;

	assert_non_null(sk);
	sk->rodata->nn_flow_mask = 0;
	sk->rodata->nn_flow_seed = SEED;
	/* flowtab.bpf.h brings every map of the product along: only the
	 * table (one bucket and the seed's entry) is used. */
	bpf_object__for_each_map(m, sk->obj)
	{
		if (!strchr(bpf_map__name(m), '.'))
			bpf_map__set_max_entries(m, m == sk->maps.nn_flows ? 2 : 1);
	}
	assert_int_equal(flowtab_race__load(sk), 0);
	*state = sk;
	return 0;
}

static int teardown(void **state)
{
	flowtab_race__destroy(*state);
	return 0;
}

static struct nn_flow_key key(uint16_t port)
{
	struct nn_flow_key k = { .proto = 17, .aport = port, .bport = 53 };

	k.a[15] = 1;
	k.b[15] = 2;
	return k;
}

static struct nn_flow val(uint32_t epoch, uint64_t seen, uint64_t end0)
{
	return (struct nn_flow){ .last_seen_ns = seen, .epoch = epoch, .state = 1, .end = { end0 } };
}

static void get_bucket(struct flowtab_race *sk, struct nn_flow_bucket *b)
{
	uint32_t zero = 0;

	assert_int_equal(bpf_map_lookup_elem(bpf_map__fd(sk->maps.nn_flows), &zero, b), 0);
}

/* Record @k/@v in way @w as a finished write leaves it. */
static void put_way(struct flowtab_race *sk, int w, struct nn_flow_key k, struct nn_flow v)
{
	struct nn_flow_bucket b;
	uint32_t zero = 0;

	get_bucket(sk, &b);
	b.tag[w] = nn_flow_tag(nn_flow_hash(&k, SEED));
	b.seq[w] += 2;
	b.slot[w].k = k;
	nn_flow_slot_set(&b, w, &v);
	assert_int_equal(bpf_map_update_elem(bpf_map__fd(sk->maps.nn_flows), &zero, &b, 0), 0);
}

static void hook(struct flowtab_race *sk, uint32_t point, uint32_t off, struct nn_flow_key k,
		 struct nn_flow v)
{
	sk->bss->hook_point = point;
	sk->bss->hook_way_off = off;
	sk->bss->hook_k = k;
	sk->bss->hook_v = v;
	sk->bss->hook_fired = 0;
	sk->bss->hook_mode = 0;
	sk->bss->hook_times = 0;
}

/* Way @w being written (odd), as another CPU's claim leaves it. */
static void begin_write(struct flowtab_race *sk, int w)
{
	struct nn_flow_bucket b;
	uint32_t zero = 0;

	get_bucket(sk, &b);
	b.seq[w] += 1;
	assert_int_equal(bpf_map_update_elem(bpf_map__fd(sk->maps.nn_flows), &zero, &b, 0), 0);
}

static void run(struct flowtab_race *sk, struct bpf_program *prog, struct nn_flow_key k)
{
	uint8_t pkt[64] = { 0 };
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt, .data_size_in = sizeof(pkt));

	sk->bss->in_k = k;
	assert_int_equal(bpf_prog_test_run_opts(bpf_program__fd(prog), &o), 0);
	assert_int_equal(o.retval, XDP_PASS);
}

/* Find @k, set its end[0] to @end and write it back (out_rc). */
static void find_write(struct flowtab_race *sk, struct nn_flow_key k, uint64_t end)
{
	sk->bss->in_close = 0;
	sk->bss->in_end = end;
	run(sk, sk->progs.ft_find_change, k);
}

/* Find @k and commit a FIN's CLOSING as of @seen (out_rc). */
static void find_close(struct flowtab_race *sk, struct nn_flow_key k, uint64_t seen)
{
	sk->bss->in_close = 1;
	sk->bss->in_seen = seen;
	run(sk, sk->progs.ft_find_change, k);
}

/* The value of @k in the bucket (the test fails when no way holds it). */
static struct nn_flow value_of(struct flowtab_race *sk, struct nn_flow_key k)
{
	struct nn_flow_bucket b;
	struct nn_flow v;
	int w;

	get_bucket(sk, &b);
	for (w = 0; w < NN_FLOW_WAYS; w++)
		if (b.tag[w] && !memcmp(&b.slot[w].k, &k, sizeof(k))) {
			nn_flow_slot_get(&b, w, &v);
			return v;
		}
	fail_msg("no way holds the key");
	return (struct nn_flow){ 0 };
}

/* The ways of the bucket holding @k. */
static int copies(struct flowtab_race *sk, struct nn_flow_key k)
{
	struct nn_flow_bucket b;
	int w, n = 0;

	get_bucket(sk, &b);
	for (w = 0; w < NN_FLOW_WAYS; w++)
		n += b.tag[w] && !memcmp(&b.slot[w].k, &k, sizeof(k));
	return n;
}

/* Flow A (epoch 1, seen 100) at way 3; between A's key compare and the
 * re-check, another CPU evicts it for B (epoch 7, seen 999, an end tag):
 * a miss, never A's key with B's value. */
static void test_read_replaced_misses(void **state)
{
	struct flowtab_race *sk = *state;

	put_way(sk, 3, key(1), val(1, 100, 0));
	hook(sk, AT_READ, 0, key(2), val(7, 999, 0xdead));
	run(sk, sk->progs.ft_find, key(1));
	assert_int_equal(sk->bss->hook_fired, 1);
	if (sk->bss->out_way != -1)
		fail_msg("flow A found in way %d with the value of the flow that replaced it "
			 "(epoch %u, last_seen %llu): a torn read",
			 sk->bss->out_way, sk->bss->out_v.epoch,
			 (unsigned long long)sk->bss->out_v.last_seen_ns);
}

/* The same slot rewritten with A's own newer value (another CPU's
 * refresh): the retry finds A with that value. */
static void test_read_refreshed_retries(void **state)
{
	struct flowtab_race *sk = *state;

	put_way(sk, 3, key(1), val(1, 100, 0));
	hook(sk, AT_READ, 0, key(1), val(1, 200, 0));
	run(sk, sk->progs.ft_find, key(1));
	assert_int_equal(sk->bss->hook_fired, 1);
	assert_int_equal(sk->bss->out_way, 3);
	assert_int_equal(sk->bss->out_v.last_seen_ns, 200);
}

/* A found, and replaced by B right after the sequence re-check: the
 * value decided on is the one read under that sequence value, A's (the
 * write back's claim then fails), never B's copied after the re-check. */
static void test_read_value_copied_under_sequence(void **state)
{
	struct flowtab_race *sk = *state;

	put_way(sk, 3, key(1), val(1, 100, 0));
	hook(sk, AT_FOUND, 0, key(2), val(7, 999, 0xdead));
	run(sk, sk->progs.ft_find, key(1));
	assert_int_equal(sk->bss->hook_fired, 1);
	if (sk->bss->out_way >= 0 &&
	    (sk->bss->out_v.epoch != 1 || sk->bss->out_v.last_seen_ns != 100 ||
	     sk->bss->out_v.end[0] != 0))
		fail_msg("flow A found in way %d with the value of the flow that replaced it "
			 "(epoch %u, last_seen %llu): copied outside the sequence window",
			 sk->bss->out_way, sk->bss->out_v.epoch,
			 (unsigned long long)sk->bss->out_v.last_seen_ns);
}

/* A's tag matched; before the sequence word is read another CPU deletes A
 * (only the tag is cleared, the key stays): a miss, not a deleted flow. */
static void test_read_deleted_misses(void **state)
{
	struct flowtab_race *sk = *state;

	put_way(sk, 3, key(1), val(1, 100, 0));
	hook(sk, AT_TAG, 0, key(0), val(0, 0, 0));
	sk->bss->hook_mode = HOOK_DELETE;
	run(sk, sk->progs.ft_find, key(1));
	assert_int_equal(sk->bss->hook_fired, 1);
	if (sk->bss->out_way != -1)
		fail_msg("flow A found in way %d after its delete", sk->bss->out_way);
}

/* A's slot is being written (A's refresh) when the reader meets it; the
 * write finishes: the retry finds A, not a miss. */
static void test_read_busy_retries(void **state)
{
	struct flowtab_race *sk = *state;

	put_way(sk, 3, key(1), val(1, 100, 0));
	begin_write(sk, 3);
	hook(sk, AT_BUSY, 0, key(0), val(0, 0, 0));
	sk->bss->hook_mode = HOOK_RELEASE;
	run(sk, sk->progs.ft_find, key(1));
	assert_int_equal(sk->bss->hook_fired, 1);
	if (sk->bss->out_way != 3)
		fail_msg("flow A missed (way %d) while another CPU refreshed it", sk->bss->out_way);
	assert_int_equal(sk->bss->out_v.last_seen_ns, 100);
}

/* Every write (insert, write back, delete) leaves its way's sequence word
 * at the next even value: the release is a plain store of the value the
 * claim took plus 2 (bpf/flowtab.bpf.h nn_ft_release), and a release back
 * to the value a reader saw first would let that reader take a value
 * rewritten under it. */
static void test_write_advances_sequence(void **state)
{
	struct flowtab_race *sk = *state;
	struct nn_flow_bucket b;

	hook(sk, 0, 0, key(0), val(0, 0, 0));
	sk->bss->in_v = val(3, 300, 0);
	run(sk, sk->progs.ft_put, key(9));
	assert_int_equal(sk->bss->out_rc, 1);
	get_bucket(sk, &b);
	if (b.seq[0] != 2)
		fail_msg("an insert left way 0's sequence word at %u, want 0 -> 2", b.seq[0]);
	find_write(sk, key(9), 0xabc);
	assert_int_equal(sk->bss->out_rc, 1);
	get_bucket(sk, &b);
	if (b.seq[0] != 4)
		fail_msg("a write back left the sequence word at %u, want 2 -> 4", b.seq[0]);
	run(sk, sk->progs.ft_find_delete, key(9));
	assert_int_equal(sk->bss->out_rc, 1);
	get_bucket(sk, &b);
	if (b.seq[0] != 6 || b.tag[0])
		fail_msg("a delete left the sequence word at %u (want 4 -> 6), tag %#x", b.seq[0],
			 b.tag[0]);
}

/* A found, then replaced by B before its end tag is written back: the
 * write is lost, B's slot keeps B's value. Without the race it lands. */
static void test_write_back_never_lands_elsewhere(void **state)
{
	struct flowtab_race *sk = *state;
	struct nn_flow_bucket b;

	put_way(sk, 5, key(1), val(1, 100, 0));
	find_write(sk, key(1), 0xabc);
	assert_int_equal(sk->bss->out_rc, 1);
	get_bucket(sk, &b);
	assert_int_equal(b.slot[5].f.end[0], 0xabc);

	hook(sk, AT_WRITE, 0, key(2), val(7, 999, 0));
	find_write(sk, key(1), 0xbad);
	assert_int_equal(sk->bss->hook_fired, 1);
	get_bucket(sk, &b);
	if (sk->bss->out_rc != 0 || b.slot[5].f.end[0] != 0 || b.seen[5] != 999)
		fail_msg("flow A's write back landed in flow B's slot: rc %d, B's end[0] %#llx "
			 "last_seen %llu",
			 sk->bss->out_rc, (unsigned long long)b.slot[5].f.end[0],
			 (unsigned long long)b.seen[5]);
	assert_int_equal(copies(sk, key(2)), 1);
}

/* A found (expired, say), replaced by B before the delete: B stays. */
static void test_delete_never_removes_another(void **state)
{
	struct flowtab_race *sk = *state;

	put_way(sk, 2, key(1), val(1, 100, 0));
	hook(sk, AT_WRITE, 0, key(2), val(7, 999, 0));
	run(sk, sk->progs.ft_find_delete, key(1));
	assert_int_equal(sk->bss->hook_fired, 1);
	if (sk->bss->out_rc != 0 || copies(sk, key(2)) != 1)
		fail_msg("deleting flow A removed flow B, which replaced it: rc %d, B's copies %d",
			 sk->bss->out_rc, copies(sk, key(2)));
	hook(sk, 0, 0, key(0), val(0, 0, 0));
	run(sk, sk->progs.ft_find_delete, key(2));
	assert_int_equal(sk->bss->out_rc, 1);
	assert_int_equal(copies(sk, key(2)), 0);
}

/* K's insert chose way 0 (empty); meanwhile another CPU recorded K in
 * way 1: the insert backs off, K is in one way only. */
static void test_put_one_key_one_way(void **state)
{
	struct flowtab_race *sk = *state;

	sk->bss->in_v = val(3, 300, 0);
	hook(sk, AT_PUT, 1, key(9), val(3, 301, 0));
	run(sk, sk->progs.ft_put, key(9));
	assert_int_equal(sk->bss->hook_fired, 1);
	if (copies(sk, key(9)) != 1)
		fail_msg("flow K recorded in %d ways (a later delete removes one, the other "
			 "resurfaces)",
			 copies(sk, key(9)));
	assert_int_equal(sk->bss->out_rc, 0);
	/* Without the race: recorded, still once. */
	hook(sk, 0, 0, key(0), val(0, 0, 0));
	run(sk, sk->progs.ft_put, key(9));
	assert_int_equal(sk->bss->out_rc, 1);
	assert_int_equal(copies(sk, key(9)), 1);
}

/* K's insert chose way 0; another CPU wrote B there first: the claim
 * fails (the sequence word was read before the way was chosen), B stays. */
static void test_put_victim_taken(void **state)
{
	struct flowtab_race *sk = *state;

	sk->bss->in_v = val(3, 300, 0);
	hook(sk, AT_PUT, 0, key(2), val(7, 999, 0));
	run(sk, sk->progs.ft_put, key(9));
	assert_int_equal(sk->bss->hook_fired, 1);
	if (sk->bss->out_rc != 0 || copies(sk, key(2)) != 1 || copies(sk, key(9)) != 0)
		fail_msg("K's insert overwrote B, written into its way after the choice: rc %d, "
			 "B %d, K %d",
			 sk->bss->out_rc, copies(sk, key(2)), copies(sk, key(9)));
}

/* Device slot 0's bucket: @tokens left, refilled at @last (rate 1/s,
 * burst 10: nothing refills within the test). */
static void set_tokens(struct flowtab_race *sk, uint64_t tokens, uint64_t last)
{
	struct nn_flowlim lim = { .rate = 1, .burst = 10 };
	struct nn_ratelimit b = { .last_ns = last, .tokens = tokens };
	uint32_t zero = 0;

	assert_int_equal(bpf_map_update_elem(bpf_map__fd(sk->maps.nn_flowlim), &zero, &lim, 0), 0);
	assert_int_equal(bpf_map_update_elem(bpf_map__fd(sk->maps.nn_flowrl), &zero, &b, 0), 0);
}

static uint64_t tokens(struct flowtab_race *sk)
{
	struct nn_ratelimit b;
	uint32_t zero = 0;

	assert_int_equal(bpf_map_lookup_elem(bpf_map__fd(sk->maps.nn_flowrl), &zero, &b), 0);
	return b.tokens;
}

/* A token buys one entry (docs/datapath.md "New-state bound"): K's open,
 * paid (5 left after the take), backs off because another CPU recorded K
 * meanwhile: the token goes back. Recorded, or when the token also paid
 * for a first fragment's verdict: it stays spent. */
static void test_put_backed_off_refunds(void **state)
{
	struct flowtab_race *sk = *state;

	set_tokens(sk, 5, 100);
	sk->bss->in_seen = 300;
	hook(sk, AT_PUT, 1, key(9), val(3, 301, 0));
	run(sk, sk->progs.ft_open_paid, key(9));
	assert_int_equal(sk->bss->hook_fired, 1);
	assert_int_equal(copies(sk, key(9)), 1);
	if (tokens(sk) != 6)
		fail_msg("an open that recorded nothing kept its token: %llu left, want 6",
			 (unsigned long long)tokens(sk));
	/* At burst: the refund never goes above it. */
	set_tokens(sk, 10, 100);
	hook(sk, AT_PUT, 1, key(8), val(3, 301, 0));
	run(sk, sk->progs.ft_open_paid, key(8));
	assert_int_equal(sk->bss->hook_fired, 1);
	assert_int_equal(tokens(sk), 10);
	/* The same back-off with a fragment verdict kept: spent. */
	set_tokens(sk, 5, 100);
	sk->bss->in_kept = 1;
	hook(sk, AT_PUT, 1, key(7), val(3, 301, 0));
	run(sk, sk->progs.ft_open_paid, key(7));
	assert_int_equal(sk->bss->hook_fired, 1);
	assert_int_equal(tokens(sk), 5);
	/* Recorded: spent. */
	sk->bss->in_kept = 0;
	hook(sk, 0, 0, key(0), val(0, 0, 0));
	run(sk, sk->progs.ft_open_paid, key(6));
	assert_int_equal(copies(sk, key(6)), 1);
	assert_int_equal(tokens(sk), 5);
}

/* A FIN marks A CLOSING; before the commit's claim another CPU refreshes
 * A (the other direction: a newer last_seen and an end tag). CLOSING never
 * goes back: the commit applies it to the refreshed value. */
static void test_close_survives_refresh(void **state)
{
	struct flowtab_race *sk = *state;
	struct nn_flow v;

	put_way(sk, 4, key(1), val(1, 100, 0));
	hook(sk, AT_WRITE, 0, key(1), val(1, 200, 0x77));
	find_close(sk, key(1), 150);
	assert_int_equal(sk->bss->hook_fired, 1);
	v = value_of(sk, key(1));
	if (v.state != NN_FS_CLOSING)
		fail_msg("A's FIN lost to another CPU's refresh: state %u, rc %d (a closed flow "
			 "kept for the established timeout)",
			 v.state, sk->bss->out_rc);
	assert_int_equal(sk->bss->out_rc, 1);
	assert_int_equal(v.last_seen_ns, 200);
	assert_int_equal(v.end[0], 0x77);
}

/* The same, the refresh winning twice: A is deleted (fail closed), never
 * left open. */
static void test_close_lost_twice_deletes(void **state)
{
	struct flowtab_race *sk = *state;

	put_way(sk, 4, key(1), val(1, 100, 0));
	hook(sk, AT_WRITE, 0, key(1), val(1, 200, 0x77));
	sk->bss->hook_times = 2;
	find_close(sk, key(1), 150);
	assert_int_equal(sk->bss->hook_fired, 2);
	assert_int_equal(sk->bss->out_rc, 0);
	if (copies(sk, key(1)) != 0)
		fail_msg("A's FIN lost twice, A left %s",
			 value_of(sk, key(1)).state == NN_FS_CLOSING ? "CLOSING" : "open");
}

/* A is CLOSING; a judgement that missed it (torn twice) records it again
 * as NEW: the slot keeps CLOSING. */
static void test_put_keeps_closing(void **state)
{
	struct flowtab_race *sk = *state;
	struct nn_flow a = val(1, 100, 0);

	a.state = NN_FS_CLOSING;
	put_way(sk, 2, key(1), a);
	sk->bss->in_v = val(1, 300, 0);
	run(sk, sk->progs.ft_put, key(1));
	assert_int_equal(sk->bss->out_rc, 1);
	assert_int_equal(copies(sk, key(1)), 1);
	assert_int_equal(value_of(sk, key(1)).last_seen_ns, 300);
	if (value_of(sk, key(1)).state != NN_FS_CLOSING)
		fail_msg("a CLOSING flow recorded again went back to state %u",
			 value_of(sk, key(1)).state);
}

/* K's opening packet is a FIN (CLOSING); another CPU records K as NEW in
 * another way first: the insert backs off and closes that CPU's K. */
static void test_put_closing_backs_off_closes(void **state)
{
	struct flowtab_race *sk = *state;
	struct nn_flow v;

	sk->bss->in_v = val(3, 300, 0);
	sk->bss->in_v.state = NN_FS_CLOSING;
	hook(sk, AT_PUT, 1, key(9), val(3, 301, 0));
	run(sk, sk->progs.ft_put, key(9));
	assert_int_equal(sk->bss->hook_fired, 1);
	assert_int_equal(sk->bss->out_rc, 0);
	assert_int_equal(copies(sk, key(9)), 1);
	v = value_of(sk, key(9));
	if (v.state != NN_FS_CLOSING)
		fail_msg("K's FIN lost to another CPU's insert of K: state %u", v.state);
	assert_int_equal(v.last_seen_ns, 301);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_read_replaced_misses, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_refreshed_retries, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_value_copied_under_sequence, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_read_deleted_misses, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_busy_retries, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_back_never_lands_elsewhere, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_delete_never_removes_another, setup, teardown),
		cmocka_unit_test_setup_teardown(test_put_one_key_one_way, setup, teardown),
		cmocka_unit_test_setup_teardown(test_put_victim_taken, setup, teardown),
		cmocka_unit_test_setup_teardown(test_close_survives_refresh, setup, teardown),
		cmocka_unit_test_setup_teardown(test_close_lost_twice_deletes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_put_keeps_closing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_put_closing_backs_off_closes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_put_backed_off_refunds, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_advances_sequence, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
