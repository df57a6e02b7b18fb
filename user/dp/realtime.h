/* SPDX-License-Identifier: GPL-2.0 */
/*
 * realtime.h - the programs refuse a PREEMPT_RT kernel (realtime.c).
 */
#ifndef NANAMI_DP_REALTIME_H
#define NANAMI_DP_REALTIME_H

/* The file a PREEMPT_RT kernel has (reading 1); others have none. */
#define NN_REALTIME_PATH "/sys/kernel/realtime"

/* 0 when the kernel @path describes (NN_REALTIME_PATH) may run the
 * programs: no such file, or "0". -EOPNOTSUPP for a PREEMPT_RT kernel
 * ("1"), -EPROTO for anything else in it, -errno when it cannot be read;
 * each logged, naming @path. */
int nn_dp_realtime_check(const char *path);

#endif /* NANAMI_DP_REALTIME_H */
