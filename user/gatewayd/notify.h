/* SPDX-License-Identifier: GPL-2.0 */
/*
 * notify.h - the controller's word to systemd (Type=notify): READY=1 once a
 * snapshot is enforced, STATUS= lines saying what it does, WATCHDOG=1 from
 * the main loop. Without $NOTIFY_SOCKET (not under systemd) every call is a
 * no-op, so the daemon behaves the same elsewhere.
 */
#ifndef NANAMI_GATEWAYD_NOTIFY_H
#define NANAMI_GATEWAYD_NOTIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NN_NOTIFY_STATUS_MAX 256

struct nn_notify {
	bool ready;			   /* READY=1 sent */
	bool warned;			   /* a send failed once (logged once) */
	uint64_t wd_usec;		   /* WatchdogSec=, 0: no watchdog */
	int64_t next_wd_ms;		   /* CLOCK_MONOTONIC ms of the next ping */
	char status[NN_NOTIFY_STATUS_MAX]; /* the last STATUS= sent */
};

/* What the controller is doing, as the loop knows it. */
struct nn_notify_facts {
	bool enforcing; /* a snapshot applied by this process, programs attached */
	bool from_lkg;	/* ... and it is the last-known-good, not yet confirmed */
	uint64_t generation;
	size_t devices;
	const char *cp_url;	 /* NULL: file mode */
	const char *assignments; /* file mode */
	int cp_state;		 /* enum nn_cp_state */
	bool retrying;		 /* a newer snapshot failed to apply, retry pending */
};

/* Read WATCHDOG_USEC (sd_watchdog_enabled) and remember it. */
void nn_notify_init(struct nn_notify *n);

/* STATUS=@text when it differs from the last one sent. */
void nn_notify_status(struct nn_notify *n, const char *text);

/* Compose the status from @f and send it; the first time @f is enforcing,
 * READY=1 goes with it (never before: units ordered after ours rely on it). */
void nn_notify_update(struct nn_notify *n, const struct nn_notify_facts *f);

/* WATCHDOG=1 when due (every half WatchdogSec); the next deadline in
 * CLOCK_MONOTONIC ms, 0 when there is no watchdog. */
int64_t nn_notify_watchdog(struct nn_notify *n, int64_t now_ms);

/* STOPPING=1 with a last status. */
void nn_notify_stopping(struct nn_notify *n, const char *text);

#endif /* NANAMI_GATEWAYD_NOTIFY_H */
