// SPDX-License-Identifier: GPL-2.0
/*
 * The last-known-good's journal (gatewayd/lkg.h): fast-path deltas appended
 * and replayed over the snapshot -- in order, skipping what the snapshot
 * holds already, stopping at a torn tail (a crash during an append: never
 * enforced), a gap or a corrupt entry. Expected snapshots are written out
 * here by hand (assignments-v1.md's delta rules), not computed by the code
 * under test. Also the drift check's schedule (nn_gwd_drift_interval_ms).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include <jansson.h>

#include "gatewayd/daemon.h"
#include "gatewayd/lkg.h"

static char dir[] = "/tmp/nn-lkgj-XXXXXX";

static int setup(void **state)
{
	(void)state;
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char path[512];

	(void)state;
	snprintf(path, sizeof(path), "%s/%s", dir, NN_LKG_JOURNAL);
	unlink(path);
	rmdir(dir);
	return 0;
}

static int reset(void **state)
{
	char why[256];

	(void)state;
	return nn_lkg_journal_reset(dir, why, sizeof(why));
}

/* A snapshot of generation G whose one network holds DEVS. */
#define SNAP(G, DEVS)                                                                  \
	"{\"generation\": " #G ", \"tenants\": [{\"tenant_id\": \"t\", \"networks\": " \
	"[{\"network_id\": \"n\", \"devices\": [" DEVS "]}]}]}"
#define DEV(ID, STATE) "{\"device_id\": \"" ID "\", \"state\": \"" STATE "\"}"
#define WHERE "\"tenant_id\": \"t\", \"network_id\": \"n\""

static const char base[] = SNAP(5, DEV("a", "active") ", " DEV("b", "active"));

static void append(uint64_t since, uint64_t gen, const char *changes)
{
	char why[256] = "", text[1024];
	int n = snprintf(text, sizeof(text),
			 "{\"generation\": %llu, \"since\": %llu, \"full\": false, "
			 "\"changes\": %s}",
			 (unsigned long long)gen, (unsigned long long)since, changes);

	assert_int_equal(nn_lkg_journal_append(dir, since, gen, text, (size_t)n, why, sizeof(why)),
			 0);
}

/* Replay over base; the result compared as JSON with @want. */
static void expect(const char *want, uint64_t want_gen, size_t want_applied, const char *why_has)
{
	char why[512] = "x", *json = strdup(base);
	size_t len = strlen(base), applied = 99;
	uint64_t gen = 5;
	json_t *a, *b;

	assert_int_equal(nn_lkg_journal_replay(dir, 1 << 20, &gen, &json, &len, &applied, why,
					       sizeof(why)),
			 0);
	assert_int_equal(applied, want_applied);
	assert_int_equal(gen, want_gen);
	if (why_has)
		assert_non_null(strstr(why, why_has));
	else
		assert_string_equal(why, "");
	a = json_loadb(json, len, 0, NULL);
	b = json_loads(want, 0, NULL);
	assert_non_null(a);
	assert_non_null(b);
	if (!json_equal(a, b)) {
		fprintf(stderr, "# got %s\n", json);
		fail();
	}
	json_decref(a);
	json_decref(b);
	free(json);
}

static const char revoke_a[] = "[{\"kind\": \"device\", \"op\": \"upsert\", \"id\": \"a\", " WHERE
			       ", \"value\": " DEV("a", "disabled") "}]";
static const char del_b[] = "[{\"kind\": \"device\", \"op\": \"delete\", \"id\": \"b\", " WHERE
			    "}]";

static const char after_revoke[] = SNAP(6, DEV("a", "disabled") ", " DEV("b", "active"));
static const char after_both[] = SNAP(7, DEV("a", "disabled"));

static void test_none(void **state)
{
	(void)state;
	expect(base, 5, 0, NULL);
}

static void test_in_order(void **state)
{
	(void)state;
	append(5, 6, revoke_a);
	append(6, 7, del_b);
	expect(after_both, 7, 2, NULL);
}

/* Entries the snapshot already holds (a crash between the LKG rewrite and
 * the journal's removal) are skipped. */
static void test_older_skipped(void **state)
{
	(void)state;
	append(3, 4, del_b); /* would fail on base: must not be tried */
	append(4, 5, del_b);
	append(5, 6, revoke_a);
	expect(after_revoke, 6, 1, NULL);
}

static void tear(size_t cut)
{
	char path[512];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", dir, NN_LKG_JOURNAL);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(truncate(path, st.st_size - (off_t)cut), 0);
}

/* A delta taken in chunks: the chunks before the last land on the base. */
static void test_chunks(void **state)
{
	(void)state;
	static const char at6[] = SNAP(6, DEV("a", "disabled"));

	append(5, 5, revoke_a);
	append(5, 6, del_b);
	expect(at6, 6, 2, NULL);
}

/* A torn last chunk: the chunks before it stand, at the base generation. */
static void test_chunk_torn(void **state)
{
	static const char at5[] = SNAP(5, DEV("a", "disabled") ", " DEV("b", "active"));

	(void)state;
	append(5, 5, revoke_a);
	append(5, 6, del_b);
	tear(3);
	expect(at5, 5, 1, "torn");
}

static void test_torn_tail(void **state)
{
	(void)state;
	append(5, 6, revoke_a);
	append(6, 7, del_b);
	tear(5); /* inside the second entry's body */
	expect(after_revoke, 6, 1, "torn");
}

static void test_torn_header(void **state)
{
	char path[512];
	FILE *f;

	(void)state;
	append(5, 6, revoke_a);
	snprintf(path, sizeof(path), "%s/%s", dir, NN_LKG_JOURNAL);
	f = fopen(path, "a");
	assert_non_null(f);
	fputs("NANAMI-LKGJ v1 since=6 gen", f); /* cut before its newline */
	fclose(f);
	expect(after_revoke, 6, 1, NULL);
}

static void test_gap(void **state)
{
	(void)state;
	append(5, 6, revoke_a);
	append(7, 8, del_b); /* generation 7 is missing */
	expect(after_revoke, 6, 1, "does not follow");
}

static void test_does_not_apply(void **state)
{
	static const char del_x[] =
		"[{\"kind\": \"device\", \"op\": \"delete\", \"id\": \"x\", " WHERE "}]";

	(void)state;
	append(5, 6, del_x); /* deleting what is not there: refused whole */
	expect(base, 5, 0, "does not apply");
}

static void test_reset(void **state)
{
	char why[256] = "";

	(void)state;
	append(5, 6, revoke_a);
	assert_int_equal(nn_lkg_journal_reset(dir, why, sizeof(why)), 0);
	expect(base, 5, 0, NULL);
	assert_int_equal(nn_lkg_journal_reset(dir, why, sizeof(why)), 0); /* none: fine */
}

/* Replay over @from (generation @g): the result's generation and entries. */
static void replay_over(const char *from, uint64_t g, uint64_t want_gen, size_t want_applied)
{
	char why[512] = "", *json = strdup(from);
	size_t len = strlen(from), applied = 99;

	assert_int_equal(nn_lkg_journal_replay(dir, 1 << 20, &g, &json, &len, &applied, why,
					       sizeof(why)),
			 0);
	assert_string_equal(why, "");
	assert_int_equal(g, want_gen);
	assert_int_equal(applied, want_applied);
	free(json);
}

/* After the drift check's worker wrote the LKG of generation 6 while
 * changes went on: what 6 holds goes, the rest stays in order -- a chunk
 * landing on 6 (since == generation == 6) is after it and stays. */
static void test_trim(void **state)
{
	char why[256] = "", path[512];
	struct stat st;
	size_t kept = 9;

	(void)state;
	append(4, 5, del_b);
	append(5, 6, revoke_a);
	append(6, 6, del_b);
	append(6, 7, "[]");
	assert_int_equal(nn_lkg_journal_trim(dir, 6, &kept, why, sizeof(why)), 0);
	assert_int_equal(kept, 2);
	replay_over(after_revoke, 6, 7, 2);
	/* everything folded: the file goes */
	assert_int_equal(nn_lkg_journal_trim(dir, 7, &kept, why, sizeof(why)), 0);
	assert_int_equal(kept, 0);
	snprintf(path, sizeof(path), "%s/%s", dir, NN_LKG_JOURNAL);
	assert_int_not_equal(stat(path, &st), 0);
	/* no journal: nothing to do */
	assert_int_equal(nn_lkg_journal_trim(dir, 7, &kept, why, sizeof(why)), 0);
}

/* The drift check's interval: the configured one until 50x the check's CPU
 * is longer; a day at most; nonsense CPU figures keep the configured one. */
static void test_drift_interval(void **state)
{
	(void)state;
	assert_int_equal(nn_gwd_drift_interval_ms(30, 0), 30000);
	assert_int_equal(nn_gwd_drift_interval_ms(30, 100), 30000);    /* 5 s < 30 s */
	assert_int_equal(nn_gwd_drift_interval_ms(30, 600), 30000);    /* 30 s = 30 s */
	assert_int_equal(nn_gwd_drift_interval_ms(30, 601), 30050);    /* just over */
	assert_int_equal(nn_gwd_drift_interval_ms(30, 4500), 225000);  /* 100k: 4.5 s */
	assert_int_equal(nn_gwd_drift_interval_ms(30, 14000), 700000); /* 1M: 14 s */
	assert_int_equal(nn_gwd_drift_interval_ms(5, 1e9), 86400000);
	assert_int_equal(nn_gwd_drift_interval_ms(30, -5), 30000);
	assert_int_equal(nn_gwd_drift_interval_ms(30, 0.0 / 0.0), 30000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_none, reset),
		cmocka_unit_test_setup(test_in_order, reset),
		cmocka_unit_test_setup(test_older_skipped, reset),
		cmocka_unit_test_setup(test_torn_tail, reset),
		cmocka_unit_test_setup(test_chunks, reset),
		cmocka_unit_test_setup(test_chunk_torn, reset),
		cmocka_unit_test_setup(test_torn_header, reset),
		cmocka_unit_test_setup(test_gap, reset),
		cmocka_unit_test_setup(test_does_not_apply, reset),
		cmocka_unit_test_setup(test_reset, reset),
		cmocka_unit_test_setup(test_trim, reset),
		cmocka_unit_test(test_drift_interval),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
