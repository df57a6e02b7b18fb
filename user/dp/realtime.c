// SPDX-License-Identifier: GPL-2.0
/*
 * realtime.c - refuse a PREEMPT_RT kernel. The flow table's per-CPU scratch
 * entry holds a judgement's copy of its flow from the lookup to the commit
 * (bpf/flowtab.bpf.h, bpf/maps.bpf.h "ft_val"). The programs count on no
 * other judgement running on the same CPU in between, which holds where
 * they run with preemption off; a PREEMPT_RT kernel runs softirqs in
 * preemptible threads (migration off only), so a second judgement could
 * replace the first's copy, and the first would decide on, and write back,
 * another flow's value. Such a kernel has /sys/kernel/realtime reading 1
 * (docs/operators.md "Kernel requirements").
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "dp/realtime.h"
#include "lib/log.h"

int nn_dp_realtime_check(const char *path)
{
	char buf[16] = "";
	FILE *f = fopen(path, "r");
	int err = 0;

	if (!f) {
		if (errno == ENOENT)
			return 0; /* not a PREEMPT_RT kernel */
		err = -errno;
	} else {
		errno = 0;
		if (!fgets(buf, sizeof(buf), f) && ferror(f))
			err = errno ? -errno : -EIO;
		fclose(f);
	}
	if (err) {
		nn_log_err("event=attach file=%s error=\"couldn't read: %s\"", path,
			   strerror(-err));
		return err;
	}
	buf[strcspn(buf, "\n")] = '\0';
	if (!strcmp(buf, "0"))
		return 0;
	if (!strcmp(buf, "1")) {
		nn_log_err(
			"event=attach file=%s error=\"a PREEMPT_RT kernel: the programs keep a "
			"packet's flow state per CPU and need no other packet judged on that CPU "
			"meanwhile (docs/operators.md, Kernel requirements)\"",
			path);
		return -EOPNOTSUPP;
	}
	nn_log_err("event=attach file=%s error=\"expected 0 or 1, read '%s'\"", path, buf);
	return -EPROTO;
}
