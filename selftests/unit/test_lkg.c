// SPDX-License-Identifier: GPL-2.0
/* Last-known-good persistence: round trip, and torn/corrupt files refused. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "gatewayd/lkg.h"
#include "policy/held.h"

static char dir[] = "/tmp/nn-lkg-XXXXXX";

static int setup(void **state)
{
	(void)state;
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char path[512];

	(void)state;
	snprintf(path, sizeof(path), "%s/%s", dir, NN_LKG_FILE);
	unlink(path);
	rmdir(dir);
	return 0;
}

static const char body[] = "{\"api_version\": \"v1\", \"generation\": 42}";

static void test_round_trip(void **state)
{
	char why[256] = "", *json = NULL, path[512];
	uint64_t gen = 0;
	struct stat st;
	size_t len = 0;

	(void)state;
	assert_int_equal(nn_lkg_save(dir, 42, body, strlen(body), why, sizeof(why)), 0);
	assert_int_equal(nn_lkg_load(dir, NN_LKG_DEFAULT_MAX, &gen, &json, &len, why, sizeof(why)),
			 0);
	assert_int_equal(gen, 42);
	assert_int_equal(len, strlen(body));
	assert_string_equal(json, body);
	free(json);
	snprintf(path, sizeof(path), "%s/%s", dir, NN_LKG_FILE);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
}

/* The whole file's bytes. */
static char *file_bytes(size_t *len)
{
	char path[512], *buf = malloc(1 << 20);
	FILE *f;

	assert_non_null(buf);
	snprintf(path, sizeof(path), "%s/%s", dir, NN_LKG_FILE);
	f = fopen(path, "rb");
	assert_non_null(f);
	*len = fread(buf, 1, 1 << 20, f);
	fclose(f);
	return buf;
}

/* From a held document (nn_lkg_save_doc: its text generated twice, never
 * whole): the file nn_lkg_save writes of the document's dump, byte for
 * byte, over the writer's 64 KB buffer (many small pieces, and a string
 * longer than the buffer on its own) and loaded back. */
static void test_from_document(void **state)
{
	char why[256] = "", *text, *dump, *a, *b, *json = NULL;
	size_t n = 0, dlen, alen, blen, len = 0, i;
	struct nn_held *h;
	uint64_t gen = 0;

	(void)state;
	text = malloc(400000);
	assert_non_null(text);
	n += (size_t)sprintf(text, "{\"generation\": 9, \"a\": [");
	for (i = 0; i < 5000; i++)
		n += (size_t)sprintf(text + n, "%s\"d-%zu\\u00e9\"", i ? ", " : "", i);
	n += (size_t)sprintf(text + n, "], \"big\": \"");
	memset(text + n, 'x', 70000);
	n += 70000;
	n += (size_t)sprintf(text + n, "\", \"end\": [1.5, true, null]}");
	assert_int_equal(nn_held_parse(text, n, &h, why, sizeof(why)), 0);
	dump = nn_held_dump(h->d.root, &dlen);
	assert_non_null(dump);
	assert_int_equal(nn_lkg_save(dir, 9, dump, dlen, why, sizeof(why)), 0);
	a = file_bytes(&alen);
	assert_int_equal(nn_lkg_save_doc(dir, 9, h->d.root, why, sizeof(why)), 0);
	b = file_bytes(&blen);
	assert_int_equal(alen, blen);
	assert_memory_equal(a, b, alen);
	assert_int_equal(nn_lkg_load(dir, NN_LKG_DEFAULT_MAX, &gen, &json, &len, why, sizeof(why)),
			 0);
	assert_int_equal(gen, 9);
	assert_int_equal(len, dlen);
	assert_memory_equal(json, dump, dlen);
	free(json);
	free(a);
	free(b);
	free(dump);
	free(text);
	nn_held_put(h);
}

/* Rewrite the file with @fn applied to its bytes, then expect -EBADMSG. */
static void expect_bad(void (*fn)(char *buf, size_t *len), const char *want)
{
	char path[512], buf[1024], why[256] = "", *json = NULL;
	uint64_t gen;
	size_t len, jlen;
	FILE *f;

	assert_int_equal(nn_lkg_save(dir, 7, body, strlen(body), why, sizeof(why)), 0);
	snprintf(path, sizeof(path), "%s/%s", dir, NN_LKG_FILE);
	f = fopen(path, "rb");
	assert_non_null(f);
	len = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	fn(buf, &len);
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(buf, 1, len, f), len);
	fclose(f);
	assert_int_equal(nn_lkg_load(dir, NN_LKG_DEFAULT_MAX, &gen, &json, &jlen, why, sizeof(why)),
			 -EBADMSG);
	assert_null(json);
	if (!strstr(why, want))
		fail_msg("reason \"%s\" does not say \"%s\"", why, want);
}

static void tear_tail(char *buf, size_t *len)
{
	(void)buf;
	*len -= 5;
}

static void flip_byte(char *buf, size_t *len)
{
	buf[*len - 3] ^= 0x20;
}

static void bad_header(char *buf, size_t *len)
{
	(void)len;
	memcpy(buf, "XANAMI", 6);
}

static void only_header(char *buf, size_t *len)
{
	*len = (size_t)(strchr(buf, '\n') - buf) - 3;
}

static void test_torn(void **state)
{
	(void)state;
	expect_bad(tear_tail, "torn");
}

static void test_corrupt(void **state)
{
	(void)state;
	expect_bad(flip_byte, "checksum");
}

static void test_bad_header(void **state)
{
	(void)state;
	expect_bad(bad_header, "unknown header");
}

static void test_cut_in_header(void **state)
{
	(void)state;
	expect_bad(only_header, "no header");
}

static void test_missing(void **state)
{
	char why[64], *json = NULL;
	uint64_t gen;
	size_t len;

	(void)state;
	assert_int_equal(nn_lkg_load("/nonexistent-nn-dir", NN_LKG_DEFAULT_MAX, &gen, &json, &len,
				     why, sizeof(why)),
			 -ENOENT);
}

/* A file over the size cap (sparse: nothing is read) is refused by name. */
static void test_too_large(void **state)
{
	char path[512], why[600] = "", *json = NULL;
	uint64_t gen;
	size_t len;
	FILE *f;

	(void)state;
	snprintf(path, sizeof(path), "%s/%s", dir, NN_LKG_FILE);
	f = fopen(path, "w");
	assert_non_null(f);
	fclose(f);
	assert_int_equal(truncate(path, (off_t)NN_LKG_DEFAULT_MAX + 4096), 0);
	assert_int_equal(nn_lkg_load(dir, NN_LKG_DEFAULT_MAX, &gen, &json, &len, why, sizeof(why)),
			 -EFBIG);
	assert_null(json);
	if (!strstr(why, path) || !strstr(why, "larger than"))
		fail_msg("reason \"%s\" does not name %s and the size", why, path);
	unlink(path);
}

/* A FIFO in the file's place (a mistake, or a trap for a reader that would
 * block forever) is refused at once, by name, and nothing is read. */
static void test_not_a_file(void **state)
{
	char path[512], why[600] = "", *json = NULL;
	uint64_t gen;
	size_t len;

	(void)state;
	snprintf(path, sizeof(path), "%s/%s", dir, NN_LKG_FILE);
	assert_int_equal(mkfifo(path, 0600), 0);
	/* O_RDONLY on a FIFO without a writer would block in open(): keep one. */
	int w = open(path, O_RDWR | O_NONBLOCK);
	assert_true(w >= 0);
	assert_int_equal(nn_lkg_load(dir, NN_LKG_DEFAULT_MAX, &gen, &json, &len, why, sizeof(why)),
			 -EINVAL);
	assert_null(json);
	if (!strstr(why, path) || !strstr(why, "not a regular file"))
		fail_msg("reason \"%s\" does not name %s and what it is not", why, path);
	close(w);
	unlink(path);
}

/* A save that cannot happen names the file and the step, and leaves the
 * previous file as it was. */
static void test_save_fails(void **state)
{
	char sub[800], path[700], why[1200] = "", *json = NULL;
	uint64_t gen = 0;
	size_t len = 0;
	FILE *f;

	(void)state;
	/* A state directory under a regular file: it cannot be created. */
	snprintf(sub, sizeof(sub), "%s/%s/sub", dir, NN_LKG_FILE);
	assert_int_equal(nn_lkg_save(dir, 5, body, strlen(body), why, sizeof(why)), 0);
	assert_int_not_equal(nn_lkg_save(sub, 6, body, strlen(body), why, sizeof(why)), 0);
	if (!strstr(why, sub) || !strstr(why, "state directory"))
		fail_msg("reason \"%s\" does not name %s", why, sub);
	/* The file itself is a directory: the rename fails, the temporary
	 * file is removed. */
	snprintf(path, sizeof(path), "%s/%s", dir, NN_LKG_FILE);
	unlink(path);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(sub, sizeof(sub), "%s/x", path);
	f = fopen(sub, "w");
	assert_non_null(f);
	fclose(f);
	assert_int_not_equal(nn_lkg_save(dir, 6, body, strlen(body), why, sizeof(why)), 0);
	if (!strstr(why, "rename") || !strstr(why, path))
		fail_msg("reason \"%s\" does not name the rename of %s", why, path);
	snprintf(sub, sizeof(sub), "%s/.%s.%d.tmp", dir, NN_LKG_FILE, (int)getpid());
	assert_int_equal(access(sub, F_OK), -1);
	snprintf(sub, sizeof(sub), "%s/x", path);
	unlink(sub);
	rmdir(path);
	assert_int_equal(nn_lkg_load(dir, NN_LKG_DEFAULT_MAX, &gen, &json, &len, why, sizeof(why)),
			 -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),    cmocka_unit_test(test_torn),
		cmocka_unit_test(test_corrupt),	      cmocka_unit_test(test_bad_header),
		cmocka_unit_test(test_cut_in_header), cmocka_unit_test(test_missing),
		cmocka_unit_test(test_too_large),     cmocka_unit_test(test_save_fails),
		cmocka_unit_test(test_not_a_file),    cmocka_unit_test(test_from_document),
	};

	return cmocka_run_group_tests_name("last-known-good", tests, setup, teardown);
}
