// SPDX-License-Identifier: GPL-2.0
/*
 * user/dp/realtime.c: the attach refuses a PREEMPT_RT kernel
 * (/sys/kernel/realtime reads 1) and only it; a file it cannot make sense
 * of is an error naming it, never taken as "not realtime".
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "dp/realtime.h"

static char dir[] = "/tmp/nn-realtime-XXXXXX";
static char path[64];

static int check_with(const char *content)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(content, f);
	fclose(f);
	return nn_dp_realtime_check(path);
}

static void test_realtime_refused(void **state)
{
	(void)state;
	assert_int_equal(check_with("1\n"), -EOPNOTSUPP);
	assert_int_equal(check_with("1"), -EOPNOTSUPP);
}

static void test_not_realtime_accepted(void **state)
{
	(void)state;
	assert_int_equal(check_with("0\n"), 0);
	unlink(path);
	assert_int_equal(nn_dp_realtime_check(path), 0); /* no file: not PREEMPT_RT */
}

static void test_unexpected_is_an_error(void **state)
{
	(void)state;
	assert_int_equal(check_with(""), -EPROTO);
	assert_int_equal(check_with("2\n"), -EPROTO);
	assert_int_equal(check_with("10\n"), -EPROTO);
	assert_int_not_equal(nn_dp_realtime_check(dir), 0); /* a directory: unreadable */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_realtime_refused),
		cmocka_unit_test(test_not_realtime_accepted),
		cmocka_unit_test(test_unexpected_is_an_error),
	};
	int rc;

	if (!mkdtemp(dir))
		return 1;
	snprintf(path, sizeof(path), "%s/realtime", dir);
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	unlink(path);
	rmdir(dir);
	return rc;
}
