// SPDX-License-Identifier: GPL-2.0
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <bpf/libbpf.h>

#include "lib/log.h"

static enum nn_log_level cur_level = NN_LOG_INFO;
static const char *const level_names[] = { "error", "warn", "info", "debug" };

void nn_log_set_level(enum nn_log_level lvl)
{
	cur_level = lvl;
}

enum nn_log_level nn_log_get_level(void)
{
	return cur_level;
}

static void vlog(enum nn_log_level lvl, const char *fmt, va_list ap)
{
	struct timespec ts;
	struct tm tm;
	char when[32];

	if (lvl > cur_level)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	fprintf(stderr, "ts=%s.%03ldZ level=%s ", when, ts.tv_nsec / 1000000, level_names[lvl]);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void nn_log(enum nn_log_level lvl, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(lvl, fmt, ap);
	va_end(ap);
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	char msg[1024];
	size_t n;

	if (level == LIBBPF_DEBUG && cur_level < NN_LOG_DEBUG)
		return 0;
	if (level == LIBBPF_INFO && cur_level < NN_LOG_INFO)
		return 0;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n && msg[n - 1] == '\n')
		msg[--n] = 0;
	/* Netlink's extack text for expected outcomes (a clsact qdisc that
	 * already exists, a filter not there yet) is not a warning to us:
	 * the caller handles those errors. */
	if (level == LIBBPF_WARN && strstr(msg, "Kernel error message"))
		level = LIBBPF_DEBUG;
	if (level == LIBBPF_DEBUG && cur_level < NN_LOG_DEBUG)
		return 0;
	nn_log(level == LIBBPF_WARN ? NN_LOG_WARN : NN_LOG_DEBUG, "src=libbpf msg=\"%s\"", msg);
	return 0;
}

void nn_log_libbpf(void)
{
	libbpf_set_print(libbpf_print);
}
