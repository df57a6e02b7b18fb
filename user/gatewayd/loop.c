// SPDX-License-Identifier: GPL-2.0
/*
 * loop.c - the controller loop.
 *
 * One thread owns every change: it applies desired state (maps, then wg0,
 * then the exit NAT) when the event stream says something changed, when a
 * poll finds something new (only while the stream is down), and on the drift
 * timer whatever happens. The stream runs in its own thread and only wakes
 * the main one through an eventfd. A failure anywhere keeps the previous
 * generation enforced and is retried with backoff; the last applied snapshot
 * is persisted so a restart without the control plane enforces it again.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "dp/apply.h"
#include "dp/underlay.h"
#include "gatewayd/ctlsock.h"
#include "gatewayd/daemon.h"
#include "gatewayd/hostaddr.h"
#include "gatewayd/ident.h"
#include "gatewayd/lkg.h"
#include "gatewayd/loop.h"
#include "gatewayd/metrics.h"
#include "gatewayd/nat.h"
#include "gatewayd/notify.h"
#include "lib/fsutil.h"
#include "lib/log.h"
#include "policy/policy.h"

#define FILE_CHECK_MS 200
#define STREAM_BASE_MS 250
#define STREAM_MAX_MS 30000

static int on_event(void *ctx, long long generation)
{
	struct daemon *d = ctx;
	uint64_t one = 1;

	nn_log_debug("event=stream_event generation=%lld", generation);
	if (write(d->evfd, &one, sizeof(one)) < 0)
		nn_log_warn("event=stream_wakeup error=\"%s\"", strerror(errno));
	return atomic_load(&d->quit);
}

/* The event stream, reconnected with exponential backoff and jitter. */
static void *stream_main(void *arg)
{
	struct daemon *d = arg;
	unsigned int attempt = 0;

	while (!atomic_load(&d->quit)) {
		struct nn_cp_stream_stats st = {};
		char err_s[256] = "";
		unsigned int ms;
		uint64_t one = 1;
		int err;

		err = nn_cp_stream(d->cp_stream, on_event, d, &st, err_s, sizeof(err_s));
		if (st.connected) {
			attempt = 0;
			/* Changes may have happened while we were away. */
			if (write(d->evfd, &one, sizeof(one)) < 0)
				break;
		}
		if (atomic_load(&d->quit))
			break;
		if (err)
			nn_ctl_note_cp_error(&d->st, nn_cp_client_last_error(d->cp_stream), err_s);
		ms = nn_cp_backoff_ms(attempt++, STREAM_BASE_MS, STREAM_MAX_MS, nn_cp_random());
		nn_log_warn("event=stream_down url=%s error=\"%s\" reconnect_in_ms=%u",
			    d->o->cp.url, err ? err_s : "closed", ms);
		/* Sleep in slices so quitting stays prompt. */
		while (ms && !atomic_load(&d->quit)) {
			unsigned int slice = ms < 100 ? ms : 100;

			usleep(slice * 1000);
			ms -= slice;
		}
	}
	return NULL;
}

/* First desired state: the control plane, else the last-known-good. */
/*
 * Make nn_local the host's own addresses as they are now (a full dump: the
 * notification only says that something moved). A change bumps the epoch,
 * so flows toward an address that became the host's, or stopped being it,
 * are judged again on their next packet.
 */
static void host_sync(struct daemon *d, const char *why)
{
	struct nn_local_change chg;
	struct nn_host_addr *v = NULL;
	size_t n = 0;
	int err;

	err = nn_hostaddr_dump(&v, &n);
	if (err) {
		nn_log_err("event=host_addrs why=%s error=\"couldn't list the host's addresses: "
			   "%s\"",
			   why, strerror(-err));
		return;
	}
	err = nn_local_set(d->dp, v, n, &chg);
	free(v);
	if (err) {
		nn_log_err("event=host_addrs why=%s addrs=%zu error=\"couldn't update nn_local: "
			   "%s\"",
			   why, n, strerror(-err));
		return;
	}
	if (chg.added || chg.removed)
		nn_log_info("event=host_addrs why=%s addrs=%zu added=%zu removed=%zu epoch=%u", why,
			    n, chg.added, chg.removed, chg.epoch);
}

static void initial_sync(struct daemon *d)
{
	char why[256] = "", *text = NULL;
	enum sync_outcome so;
	uint64_t gen;
	size_t len;
	int err;

	/* A snapshot the control plane gave us, enforced or refused, is its
	 * word; only when it gave none does the last-known-good stand in. */
	so = nn_gwd_sync_source(d, "start");
	if (so == SYNC_APPLIED || so == SYNC_REJECTED || !d->o->cp.url)
		return;
	err = nn_lkg_load(d->o->state_dir,
			  d->o->max_snapshot ? d->o->max_snapshot : NN_LKG_DEFAULT_MAX, &gen, &text,
			  &len, why, sizeof(why));
	if (err) {
		uint32_t epoch = 0;

		if (err != -ENOENT) {
			nn_log_err("event=lkg_ignored dir=%s reason=\"%s\"", d->o->state_dir, why);
			nn_ctl_note_lkg_read(&d->st, 0, why);
		}
		nn_live_epoch(d->dp, &epoch);
		nn_log_warn("event=no_snapshot note=\"control plane unreachable and %s: %s\"",
			    err == -ENOENT ? "no last-known-good" : "the last-known-good refused",
			    epoch ? "the pinned generation stays enforced" :
				    "everything from the overlay is denied until a snapshot "
				    "applies");
		return;
	}
	{
		size_t replayed = 0;
		uint64_t g0 = gen;

		/* Fast-path changes since the file was written. */
		err = nn_lkg_journal_replay(d->o->state_dir,
					    d->o->max_snapshot ? d->o->max_snapshot :
								 NN_LKG_DEFAULT_MAX,
					    &gen, &text, &len, &replayed, why, sizeof(why));
		if (err || why[0])
			nn_log_warn("event=lkg_journal generation=%llu replayed=%zu error=\"%s\"",
				    (unsigned long long)gen, replayed, why);
		else if (replayed)
			nn_log_info("event=lkg_journal from=%llu generation=%llu replayed=%zu",
				    (unsigned long long)g0, (unsigned long long)gen, replayed);
	}
	nn_ctl_note_lkg_read(&d->st, gen, NULL);
	nn_log_info("event=lkg_apply dir=%s generation=%llu", d->o->state_dir,
		    (unsigned long long)gen);
	d->lkg_only = nn_gwd_apply_or_retry(d, NULL, text, len, "last-known-good") ==
		      NN_APPLY_APPLIED;
	/* The control plane has never seen us take this as a base. */
	nn_cp_client_reset(d->cp);
	free(text);
}

static int file_changed(struct daemon *d)
{
	struct stat st;

	if (stat(d->o->assignments, &st))
		return 0;
	if (st.st_mtim.tv_sec == d->file_st.st_mtim.tv_sec &&
	    st.st_mtim.tv_nsec == d->file_st.st_mtim.tv_nsec && st.st_size == d->file_st.st_size &&
	    st.st_ino == d->file_st.st_ino) {
		/* Unchanged since it applied: still in sync (not when it
		 * was rejected or failed to apply). */
		if (d->file_in_sync)
			nn_gwd_mark_synced(d);
		return 0;
	}
	d->file_st = st;
	return 1;
}

static int64_t min_deadline(int64_t a, int64_t b)
{
	if (!a)
		return b;
	if (!b)
		return a;
	return a < b ? a : b;
}

static void schedule_resync(struct daemon *d)
{
	d->next_resync =
		nn_gwd_now_ms() + nn_cp_jitter_ms(d->o->resync_s * 1000, 10, nn_cp_random());
}

static double thread_cpu_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/*
 * Drift: fetch (cheap when unchanged), then re-apply what is wanted to the
 * maps and wg0 even if nothing changed. The re-apply is of the text, made
 * to describe the enforced policy first (fast-path changes since the last
 * full apply: re-applying the old text would undo them, a revocation
 * among them); when it cannot be (the client holds no document of that
 * generation), the enforced policy itself is re-applied. That part runs
 * at most every nn_gwd_drift_interval_ms() (50x its own CPU when that is
 * longer than --resync: 11-14 s of CPU per run at 1M devices); the fetch
 * stays on --resync.
 */
static void drift_check(struct daemon *d)
{
	double c0;

	/* (counted by test_controller_churn: the tick must come round under
	 * churn too) */
	nn_log_debug("event=resync_tick drift_due=%d drift_running=%d",
		     nn_gwd_now_ms() >= d->next_drift, d->drift_job != NULL);
	/* The cheap part on every --resync: desired state confirmed (the
	 * staleness alert counts on it), the LKG retried, the host's
	 * addresses. */
	if (d->o->cp.url)
		nn_gwd_cp_sync(d, "resync");
	if (nn_gwd_now_ms() < d->next_drift || d->drift_job) {
		if (d->lkg_stale && !d->drift_job)
			nn_gwd_save_lkg(d);
		host_sync(d, "drift");
		schedule_resync(d);
		return;
	}
	c0 = thread_cpu_ms();
	if (d->good && !d->pending) {
		int64_t w0 = nn_gwd_now_ms();

		/* Parse, validate, compile, compare, and the maps read back
		 * against the record, on the worker; the loop goes on serving
		 * events (drift_run.c). */
		if (nn_gwd_drift_begin(d)) {
			d->drift_loop_ms = thread_cpu_ms() - c0;
			d->drift_hand_ms = (double)(nn_gwd_now_ms() - w0);
			host_sync(d, "drift");
			nn_gwd_refresh_peer_metrics(d);
			schedule_resync(d);
			return;
		}
		nn_gwd_policy_record_check(d);
		nn_gwd_drift_reapply(d);
		nn_gwd_standby_sync(d);
	}
	if (d->lkg_stale || d->journal_n)
		nn_gwd_save_lkg(d);
	host_sync(d, "drift");
	nn_gwd_refresh_peer_metrics(d);
	nn_gwd_drift_done(d, thread_cpu_ms() - c0);
	schedule_resync(d);
}

static void schedule_poll(struct daemon *d)
{
	d->next_poll = nn_gwd_now_ms() + nn_cp_jitter_ms(d->o->poll_s * 1000, 20, nn_cp_random());
}

/* Tell systemd what we do; READY=1 once a snapshot is enforced. */
static void tell_systemd(struct daemon *d)
{
	struct nn_notify_facts f = {
		.enforcing = d->good != NULL,
		.from_lkg = d->lkg_only,
		.generation = d->good ? d->good->generation : 0,
		.devices = d->good ? d->good->n_devices : 0,
		.cp_url = d->o->cp.url,
		.assignments = d->o->assignments,
		.cp_state = d->st.cp_state,
		.retrying = d->pending != NULL,
	};

	if (!d->o->once)
		nn_notify_update(&d->notify, &f);
}

/*
 * A test hook: NN_TEST_EVENT_HOLD_MS makes every turn that handled a stream
 * event last that much longer, as an apply at 100k devices under load does
 * (test_controller_churn: with changes arriving faster than that, the
 * eventfd is readable at every poll, the regime that starved the timers).
 */
static unsigned int event_test_hold_ms(void)
{
	const char *s = getenv("NN_TEST_EVENT_HOLD_MS");
	unsigned int ms = s ? (unsigned int)strtoul(s, NULL, 10) : 0;

	if (ms)
		nn_log_warn("event=test_hook name=NN_TEST_EVENT_HOLD_MS ms=%u", ms);
	return ms;
}

static void loop(struct daemon *d)
{
	unsigned int hold_ms = event_test_hold_ms();
	struct pollfd pfd[3] = {
		{ .fd = d->evfd, .events = POLLIN },
		{ .fd = nn_hostaddr_fd(d->ha), .events = POLLIN },
		{ .fd = d->drift_fd, .events = POLLIN }, /* -1: ignored */
	};

	schedule_resync(d);
	schedule_poll(d);
	d->next_file_check = d->o->cp.url ? 0 : nn_gwd_now_ms() + FILE_CHECK_MS;
	while (!*d->stop) {
		int64_t now = nn_gwd_now_ms(), deadline = d->next_resync;
		bool busy; /* this turn handled a stream event */
		int timeout;

		/* Key rotation, certificate renewal; an outcome the control
		 * plane's snapshot must settle is settled now. */
		if (nn_gw_ident_tick(&d->ident, now) && d->o->cp.url) {
			nn_gwd_cp_sync(d, "identity");
			/* the enforced snapshot's gateway block, as read when it
			 * was validated (fast-path changes are device changes) */
			nn_gw_ident_decide(&d->ident, d->good ? &d->good->gw.key : NULL);
			now = nn_gwd_now_ms();
		}

		tell_systemd(d);
		deadline = min_deadline(deadline, nn_notify_watchdog(&d->notify, now));
		if (d->o->cp.url && !nn_gwd_stream_up(d))
			deadline = min_deadline(deadline, d->next_poll);
		deadline = min_deadline(deadline, d->next_retry);
		deadline = min_deadline(deadline, d->next_file_check);
		deadline = min_deadline(deadline, d->next_standby);
		timeout = deadline > now ? (int)(deadline - now) : 0;
		if (timeout > 1000)
			timeout = 1000; /* notice SIGTERM and stream state promptly */
		busy = false;
		if (poll(pfd, 3, timeout) > 0) {
			uint64_t n;

			/* Host addresses first: protecting a new one is the
			 * cheapest thing this loop does, and must not wait for a
			 * snapshot download. */
			if ((pfd[1].revents & (POLLIN | POLLERR)) && nn_hostaddr_drain(d->ha))
				host_sync(d, "netlink");
			/* The drift check's worker is done: its result (cheap). */
			if (pfd[2].revents & POLLIN)
				nn_gwd_drift_end(d);
			if (pfd[0].revents & POLLIN) {
				if (read(d->evfd, &n, sizeof(n)) > 0)
					nn_gwd_cp_sync(d, "event");
				nn_gwd_set_cp_state(d, nn_gwd_stream_up(d) ? NN_CP_STREAM :
									     NN_CP_POLLING);
				busy = true;
				if (hold_ms)
					usleep(hold_ms * 1000);
			}
		}
		/* The timers below run after an event too: under sustained
		 * churn the eventfd is readable at nearly every poll, and
		 * ending the turn here starved them (a 10k churn at 100/s ran
		 * the --resync tick 3 times in 480 s instead of 16). Only the
		 * standby sync waits for an idle turn; under churn the next
		 * fast-path change runs it first (nn_gwd_cp_sync). */
		now = nn_gwd_now_ms();
		if (d->o->cp.url && nn_gwd_stream_up(d) && d->st.cp_state != NN_CP_STREAM) {
			nn_gwd_set_cp_state(d, NN_CP_STREAM);
			/* Polling stops now: catch up with what changed between
			 * the last poll and the stream's subscription. */
			nn_gwd_cp_sync(d, "stream_up");
		}
		if (d->next_retry && now >= d->next_retry && d->pending) {
			char *text = d->pending;

			d->pending = NULL;
			/* What the source gave us, now applied: in sync. */
			if (nn_gwd_apply_or_retry(d, NULL, text, d->pending_len, "retry") ==
			    NN_APPLY_APPLIED) {
				d->file_in_sync = true;
				nn_gwd_mark_synced(d);
			}
			free(text);
		}
		if (d->next_file_check && now >= d->next_file_check) {
			if (file_changed(d))
				nn_gwd_file_sync(d, "file_changed");
			d->next_file_check = now + FILE_CHECK_MS;
		}
		if (d->o->cp.url && !nn_gwd_stream_up(d) && now >= d->next_poll) {
			nn_gwd_cp_sync(d, "poll");
			schedule_poll(d);
		}
		if (d->next_standby && now >= d->next_standby && !busy)
			nn_gwd_standby_sync(d);
		if (now >= d->next_resync)
			drift_check(d);
	}
}

static int start_cp(struct daemon *d)
{
	char err_s[256] = "";
	int err;

	err = nn_cp_client_new(&d->o->cp, &d->cp, err_s, sizeof(err_s));
	if (!err)
		err = nn_cp_client_new(&d->o->cp, &d->cp_stream, err_s, sizeof(err_s));
	if (err) {
		nn_log_err("event=control_plane url=%s error=\"%s\"", d->o->cp.url, err_s);
		return err;
	}
	return 0;
}

/* What the status tells about this controller, fixed from now on. */
static void describe_self(struct daemon *d)
{
	struct nn_ctl_info *i = &d->st.info;

	pthread_mutex_lock(&d->st.mu);
	i->iface = d->o->iface;
	i->pin_dir = d->o->pin_dir;
	i->state_dir = d->o->state_dir;
	i->cp_url = d->o->cp.url;
	i->assignments = d->o->assignments;
	i->wg_backend = d->wg_open ? nn_wg_mode_name(d->o->wg) : "none";
	i->hook = d->o->hook == NN_HOOK_XDP ? "xdp" : "tc";
	if (d->wg_open)
		snprintf(i->wg_public_key, sizeof(i->wg_public_key), "%s", d->wg.public_key_b64);
	i->started_unix = time(NULL);
	i->resync_s = d->o->resync_s;
	if (d->o->node_id)
		snprintf(d->st.node_id, sizeof(d->st.node_id), "%s", d->o->node_id);
	i->wake_fd = d->evfd;
	i->no_rotation = !d->o->cp.url	 ? "no control plane (--assignments mode)" :
			 !d->wg_open	 ? "wg0 is not managed by this controller (--wg none)" :
			 !d->o->enrolled ? "not enrolled: the state directory has no node.json "
					   "(nanami-gatewayd enroll)" :
					   NULL;
	pthread_mutex_unlock(&d->st.mu);
}

static int start(struct daemon *d)
{
	const struct nn_daemon_opts *o = d->o;
	struct nn_load_opts lo = {
		.pin_dir = o->pin_dir,
		.framing = o->framing,
		.hook = o->hook,
		.cap = o->cap,
	};
	int err;

	d->evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (d->evfd < 0)
		return -errno;
	/* The drift check runs on a worker where changes arrive as deltas
	 * (control-plane mode): its end wakes the loop through this. */
	if (o->cp.url && !o->once) {
		d->drift_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (d->drift_fd < 0)
			return -errno;
	}
	err = nn_mkdir_p(o->state_dir);
	if (err) {
		nn_log_err("event=start state_dir=%s error=\"%s\"", o->state_dir, strerror(-err));
		return err;
	}
	err = nn_dp_load(&lo, &d->dp);
	if (err)
		return err;
	/* The fast path's flips leave their barrier to this thread. */
	if (o->cp.url && !o->once && nn_gwd_barrier_start(&d->barrier, d->dp))
		nn_log_warn("event=rcu_barrier_thread error=\"couldn't start it\" note=\"each "
			    "fast-path change waits for its barrier inline\"");
	nn_log_info("event=loaded iface=%s pin_dir=%s framing=%s hook=%s adopted=%d", o->iface,
		    o->pin_dir, o->framing == NN_FRAMING_L3 ? "l3" : "eth",
		    o->hook == NN_HOOK_XDP ? "xdp" : "tc", d->dp->adopted);
	err = nn_dp_set_flow_limit(d->dp, o->new_flow_rate, o->new_flow_burst);
	if (err) {
		nn_log_err("event=start error=\"couldn't set the new-flow bound: %s\"",
			   strerror(-err));
		return err;
	}
	nn_log_info("event=flow_limit rate=%u burst=%u", o->new_flow_rate, o->new_flow_burst);
	/* Subscribe before the first dump: no change falls in between. */
	err = nn_hostaddr_open(&d->ha);
	if (err) {
		nn_log_err("event=start error=\"couldn't subscribe to address changes: %s\"",
			   strerror(-err));
		return err;
	}
	host_sync(d, "start");
	if (o->underlay) {
		err = nn_underlay_load(o->pin_dir, &d->ul);
		if (err)
			return err;
	}
	if (o->wg == NN_WG_MODE_UAPI || o->wg == NN_WG_MODE_GENL) {
		struct nn_wg_opts wo = { .iface = o->iface,
					 .mode = o->wg,
					 .state_dir = o->state_dir,
					 .key_path = o->wg_key_path };

		err = nn_wg_open(&d->wg, &wo);
		if (err) {
			nn_log_err("event=wg_open iface=%s error=\"%s\"", o->iface, strerror(-err));
			return err;
		}
		d->wg_open = true;
		nn_log_info("event=wg_key iface=%s public_key=%s created=%d", o->iface,
			    d->wg.public_key_b64, d->wg.key_created);
	}
	describe_self(d);
	if (o->metrics_listen) {
		err = nn_metrics_start(o->metrics_listen, d->dp, d->ul, &d->st, &d->metrics);
		if (err)
			return err;
	}
	if (!o->once) {
		struct nn_ctlsock_opts co = { .path = o->ctl_socket,
					      .pin_dir = o->pin_dir,
					      .iface = o->iface,
					      .xdp = o->hook == NN_HOOK_XDP,
					      .st = &d->st };

		/* Enforcing matters more than being asked about it: without
		 * the socket, nanami-gwctl reads the pinned maps alone. */
		if (nn_ctlsock_start(&co, &d->ctlsock))
			nn_log_err("event=control_socket path=%s note=\"running without the "
				   "control socket\"",
				   o->ctl_socket);
	}
	if (o->cp.url) {
		err = start_cp(d);
		if (err)
			return err;
		nn_gwd_set_cp_state(d, NN_CP_DOWN);
	} else {
		stat(o->assignments, &d->file_st);
	}
	d->ident = (struct nn_gw_ident){ .state_dir = o->state_dir,
					 .st = &d->st,
					 .wg = d->wg_open ? &d->wg : NULL,
					 .cp = d->cp,
					 .enrolled = o->enrolled,
					 .id = o->ident,
					 .key_lifetime_s = o->key_lifetime_s,
					 .cert_path = o->cp.cert,
					 .renew_base_ms = o->renew_base_ms };
	nn_gw_ident_init(&d->ident);
	return 0;
}

static void shutdown_all(struct daemon *d)
{
	atomic_store(&d->quit, 1);
	/* A drift check's worker reads the maps: it ends first. */
	nn_gwd_drift_abort(d);
	if (d->stream_started) {
		nn_cp_stream_stop(d->cp_stream);
		pthread_join(d->stream_thread, NULL);
	}
	nn_ctlsock_stop(d->ctlsock);
	nn_metrics_stop(d->metrics);
	nn_cp_client_free(d->cp_stream);
	nn_cp_client_free(d->cp);
	if (d->wg_open)
		nn_wg_close(&d->wg);
	nn_underlay_close(d->ul);
	nn_hostaddr_close(d->ha);
	/* A patch's barrier left due: waited, so that nothing started after
	 * us writes a half a program may still read. */
	nn_gwd_barrier_stop(&d->barrier);
	if (d->dp)
		nn_dp_barrier_settle(d->dp);
	nn_dp_close(d->dp);
	nn_gwd_good_free(d);
	free(d->good_text);
	free(d->pending);
	free(d->drift_touched);
	nn_ctl_state_destroy(&d->st);
	if (d->evfd >= 0)
		close(d->evfd);
	if (d->drift_fd >= 0)
		close(d->drift_fd);
}

int nn_daemon_run(const struct nn_daemon_opts *o, volatile sig_atomic_t *stop)
{
	struct daemon d = { .o = o, .stop = stop, .evfd = -1, .drift_fd = -1 };
	bool attached = false, unpin_dp, unpin_ul;
	int err;

	nn_ctl_state_init(&d.st);
	nn_notify_init(&d.notify);
	nn_notify_status(&d.notify, "loading the dataplane");
	err = start(&d);
	if (err)
		goto out;
	nn_notify_status(&d.notify, o->cp.url ?
					    "fetching the first snapshot from the control plane" :
					    "reading the first snapshot");
	initial_sync(&d);
	/* --once attaches only what applied; the daemon attaches regardless:
	 * with nothing applied (epoch 0) everything from the overlay is denied. */
	if (!o->once || d.good) {
		attached = true;
		err = nn_dp_attach(d.dp, o->iface);
		if (!err && d.ul)
			err = nn_underlay_attach(d.ul, o->underlay);
		if (err)
			goto out;
		tell_systemd(&d);
	}
	if (o->once) {
		err = d.good ? 0 : -EINVAL;
		goto out;
	}
	if (o->cp.url) {
		err = -pthread_create(&d.stream_thread, NULL, stream_main, &d);
		if (err)
			goto out;
		d.stream_started = true;
	}
	loop(&d);
	nn_notify_stopping(&d.notify, "stopping: the dataplane stays attached and enforcing");
	nn_log_info("event=stopping iface=%s note=\"dataplane stays attached and enforcing\"",
		    o->iface);
out:
	/* A first start that failed before attaching anything leaves nothing
	 * behind: pins it created would be adopted by the next start as if
	 * they held state. Pins it adopted are another run's and stay. */
	unpin_dp = err && !attached && d.dp && !d.dp->adopted;
	unpin_ul = err && !attached && d.ul && !d.ul->adopted;
	shutdown_all(&d);
	if (unpin_ul)
		nn_underlay_detach(NULL, o->pin_dir);
	if (unpin_dp) {
		nn_dp_detach(NULL, o->pin_dir);
		nn_log_info("event=unpinned pin_dir=%s note=\"first start failed before "
			    "attaching: nothing left behind\"",
			    o->pin_dir);
	}
	return err;
}
