// SPDX-License-Identifier: GPL-2.0
/*
 * notify.c - sd_notify(3) for the controller.
 *
 * READY=1 means "the dataplane enforces a snapshot this process applied":
 * the first one from the source, or the last-known-good when the source is
 * away. Adopted pins alone do not count (nothing has confirmed they hold
 * what anyone wants), nor does an attached dataplane at epoch 0 (it denies
 * everything from the overlay). So a gateway with neither control plane nor
 * last-known-good stays "activating" with a STATUS= saying why, and units
 * ordered after it keep waiting.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <systemd/sd-daemon.h>

#include "gatewayd/notify.h"
#include "gatewayd/state.h"
#include "lib/log.h"

static void notify_send(struct nn_notify *n, const char *msg)
{
	int r = sd_notify(0, msg);

	/* 0: not under systemd (no $NOTIFY_SOCKET), nothing to do. */
	if (r < 0 && !n->warned) {
		n->warned = true;
		nn_log_warn("event=sd_notify error=\"%s\" note=\"systemd is not told about "
			    "readiness or the watchdog\"",
			    strerror(-r));
	}
}

void nn_notify_init(struct nn_notify *n)
{
	uint64_t usec = 0;

	memset(n, 0, sizeof(*n));
	/* > 0 only when WATCHDOG_USEC is set (and WATCHDOG_PID, if set, is us). */
	if (sd_watchdog_enabled(0, &usec) > 0 && usec) {
		n->wd_usec = usec;
		nn_log_info("event=watchdog interval_ms=%llu", (unsigned long long)(usec / 2000));
	}
}

void nn_notify_status(struct nn_notify *n, const char *text)
{
	char msg[NN_NOTIFY_STATUS_MAX + 16];

	if (!strcmp(n->status, text))
		return;
	snprintf(n->status, sizeof(n->status), "%s", text);
	snprintf(msg, sizeof(msg), "STATUS=%s", n->status);
	notify_send(n, msg);
}

static const char *cp_words(int state)
{
	switch (state) {
	case NN_CP_STREAM:
		return "control plane: event stream up";
	case NN_CP_POLLING:
		return "control plane: reachable, polling (event stream down)";
	case NN_CP_DOWN:
		return "control plane: unreachable, retrying";
	}
	return "control plane: not contacted yet";
}

void nn_notify_update(struct nn_notify *n, const struct nn_notify_facts *f)
{
	char s[NN_NOTIFY_STATUS_MAX], msg[NN_NOTIFY_STATUS_MAX + 32];
	const char *retry = f->retrying ? "; a newer snapshot failed to apply, retrying" : "";

	if (!f->enforcing && f->cp_url)
		snprintf(s, sizeof(s),
			 "no snapshot enforced yet, overlay traffic denied; %s; no usable "
			 "last-known-good%s",
			 cp_words(f->cp_state), retry);
	else if (!f->enforcing)
		snprintf(s, sizeof(s),
			 "no snapshot enforced yet, overlay traffic denied: %s unreadable or "
			 "rejected, watching it%s",
			 f->assignments, retry);
	else if (f->cp_url)
		snprintf(s, sizeof(s), "enforcing generation %llu (%zu devices%s); %s%s",
			 (unsigned long long)f->generation, f->devices,
			 f->from_lkg ? ", last-known-good" : "", cp_words(f->cp_state), retry);
	else
		snprintf(s, sizeof(s), "enforcing generation %llu (%zu devices) from %s%s",
			 (unsigned long long)f->generation, f->devices, f->assignments, retry);
	if (!f->enforcing || n->ready) {
		nn_notify_status(n, s);
		return;
	}
	/* One datagram: systemd sees the reason with the state change. */
	n->ready = true;
	snprintf(n->status, sizeof(n->status), "%s", s);
	snprintf(msg, sizeof(msg), "READY=1\nSTATUS=%s", n->status);
	notify_send(n, msg);
	nn_log_info("event=ready generation=%llu note=\"told systemd (when under it)\"",
		    (unsigned long long)f->generation);
}

int64_t nn_notify_watchdog(struct nn_notify *n, int64_t now_ms)
{
	if (!n->wd_usec)
		return 0;
	if (now_ms >= n->next_wd_ms) {
		notify_send(n, "WATCHDOG=1");
		/* Half the timeout, as sd_watchdog_enabled(3) advises: one late
		 * wakeup never costs a restart. */
		n->next_wd_ms = now_ms + (int64_t)(n->wd_usec / 2000 ? n->wd_usec / 2000 : 1);
	}
	return n->next_wd_ms;
}

void nn_notify_stopping(struct nn_notify *n, const char *text)
{
	char msg[NN_NOTIFY_STATUS_MAX + 32];

	snprintf(msg, sizeof(msg), "STOPPING=1\nSTATUS=%s", text);
	notify_send(n, msg);
}
