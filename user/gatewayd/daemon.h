/* SPDX-License-Identifier: GPL-2.0 */
/*
 * daemon.h - the controller's state, shared by its files (loop.c: the
 * loop and the full path; incremental.c: the fast path for device deltas,
 * the kept state's ownership, the stale text, the LKG journal). Private
 * to user/gatewayd: not an API.
 */
#ifndef NANAMI_GATEWAYD_DAEMON_H
#define NANAMI_GATEWAYD_DAEMON_H

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

#include "compile/delta.h"
#include "dp/apply.h"
#include "dp/underlay.h"
#include "gatewayd/ident.h"
#include "gatewayd/loop.h"
#include "gatewayd/metrics.h"
#include "gatewayd/notify.h"
#include "gatewayd/state.h"
#include "wg/reconcile.h"

struct nn_ctlsock;
struct nn_hostaddr;

/* The RCU barrier of a fast-path flip, in its own thread (barrier.c). */
struct nn_gwd_barrier {
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	uint64_t req, done; /* flips asked for, and covered */
	int err;	    /* of the last barrier */
	bool quit, started;
	struct nn_dp *dp;
};

int nn_gwd_barrier_start(struct nn_gwd_barrier *b, struct nn_dp *dp);
/* After a flip that left dp->barrier_due. */
void nn_gwd_barrier_request(struct nn_gwd_barrier *b);
/* Before a write of either half: wait for what is left of the barrier
 * (nothing, usually) and clear dp->barrier_due. */
void nn_gwd_barrier_wait(struct nn_gwd_barrier *b);
void nn_gwd_barrier_stop(struct nn_gwd_barrier *b);

struct daemon {
	const struct nn_daemon_opts *o;
	volatile sig_atomic_t *stop;
	struct nn_dp *dp;
	struct nn_underlay *ul;
	struct nn_hostaddr *ha; /* the host's addresses, from rtnetlink */
	struct nn_wg wg;
	bool wg_open;
	int64_t peers_read_ms; /* when the metrics' wg0 peers were read */
	struct nn_ctl_state st;
	struct nn_metrics *metrics;
	struct nn_ctlsock *ctlsock;
	struct nn_notify notify; /* systemd: READY, STATUS, WATCHDOG */
	bool lkg_only;		 /* enforcing the last-known-good, unconfirmed */
	struct nn_gwd_barrier barrier;
	struct nn_gw_ident ident;

	/* control plane */
	struct nn_cp_client *cp;	/* fetches, main thread */
	struct nn_cp_client *cp_stream; /* event stream, stream thread */
	pthread_t stream_thread;
	bool stream_started;
	atomic_int quit;
	int evfd;

	/* desired state: the last snapshot that applied. Ownership (one
	 * owner, incremental.c): with kept state (inc) the policy is the kept
	 * state's, patched by each fast-path change, and good points into it
	 * (good_own NULL); without, good_own owns it and good == good_own. */
	const struct nn_policy *good;
	struct nn_policy *good_own;
	struct nn_inc *inc; /* kept state for the fast path, NULL: none */
	uint64_t inc_seq;   /* the full apply it was built on (dp->full_seq) */
	size_t journal_n;   /* fast-path deltas in the LKG journal */
	/* the drift check's CPU (main thread) and the interval it sets */
	double drift_cpu_ms;
	int64_t drift_interval_ms;
	int64_t next_drift; /* the re-apply's next turn (monotonic ms) */
	/* The drift check running on its worker (drift.h; NULL: none), what
	 * the loop noted at its handoff, and the eventfd its end wakes. */
	struct nn_drift_job *drift_job;
	double drift_loop_ms;		     /* the loop's share of the running check (CPU) */
	double drift_text_ms, drift_hand_ms; /* its handoff (wall) */
	size_t drift_journal_n;		     /* journal_n at the handoff */
	uint64_t drift_lkg_seq;		     /* lkg_seq at the handoff */
	int drift_fd;
	bool drift_text_loop; /* the next check's text from the loop */
	/* nn_addrs keys the fast path wrote while a check ran (its map part
	 * is filtered by them: nn_drift_filter) */
	uint8_t (*drift_touched)[NN_ADDR_LEN];
	size_t n_drift_touched, cap_drift_touched;
	/* Counts every change of what is enforced (fast-path chunk, full
	 * apply, repair): a drift result of an older count is stale. */
	uint64_t change_seq;
	uint64_t lkg_seq;     /* LKG files written (a newer one wins) */
	int64_t next_standby; /* after a full apply that flipped: sync the
			       * standby half once idle (0: nothing due) */
	/* --assignments without --node-id: the first file's node_id, and
	 * from then on the only one accepted (assignments-v1.md). */
	char file_node_id[NN_NAME_MAX];
	/* The text of good: file mode only. Control-plane mode holds no
	 * text (485 MB at 1M devices): what is enforced is the client's held
	 * document while it is at good's generation (nn_gwd_good_doc), and
	 * the LKG file and its journal. */
	char *good_text;
	size_t good_len;
	bool lkg_stale; /* good is not on disk: retried on the drift timer */
	bool lkg_has;	/* the LKG file written or taken holds lkg_gen */
	uint64_t lkg_gen;

	/* a snapshot that failed to apply, retried with backoff */
	char *pending;
	size_t pending_len;
	unsigned int retry_attempt;

	int64_t next_resync, next_poll, next_retry, next_file_check;
	struct stat file_st;
	bool file_in_sync; /* the file as it is now applied */
};

/* apply_rest.c */
int64_t nn_gwd_now_ms(void);
/* The metrics page's wg0 peers from @dev, named by @p's keys. */
void nn_gwd_set_peer_metrics(struct daemon *d, const struct nn_policy *p,
			     const struct nn_wg_device *dev);
const char *nn_gwd_source_name(const struct daemon *d);
/* wg0, the underlay port, the exit NAT for @p (0, or -errno with @msg). */
/* The fast path's share of nn_gwd_apply_rest(): only the wg0 peers patch
 * @pt touches, set without reading wg0 (a device delta changes neither the
 * listen port nor the exit NAT's prefixes). 0 or -errno, @msg filled. */
int nn_gwd_apply_peers(struct daemon *d, const struct nn_dev_patch *pt, char *msg, size_t msglen);
int nn_gwd_apply_rest(struct daemon *d, const struct nn_policy *p, const char *why, char *msg,
		      size_t msglen);
/* Persist good as the last-known-good (and empty the journal): its text
 * (file mode) or the held document at its generation; neither: nothing. */
void nn_gwd_save_lkg(struct daemon *d);
/* ... from @text when not NULL, else from @doc. */
struct nn_held;
void nn_gwd_save_lkg_from(struct daemon *d, const struct nn_held *doc, const char *text,
			  size_t len);
/* The client's held document when it is at good's generation, else NULL. */
const struct nn_held *nn_gwd_good_doc(const struct daemon *d);

/* sync.c */
/* What one look at the source came to. */
enum sync_outcome {
	SYNC_APPLIED,	  /* enforced, or nothing new */
	SYNC_REJECTED,	  /* a snapshot we refused: the last applied stays */
	SYNC_FAILED,	  /* a snapshot we failed to apply: retry scheduled */
	SYNC_UNREADABLE,  /* an answer that is not a snapshot at all */
	SYNC_UNREACHABLE, /* no answer (control plane away, file unreadable) */
};
bool nn_gwd_stream_up(struct daemon *d);
void nn_gwd_set_cp_state(struct daemon *d, int state);
void nn_gwd_refresh_peer_metrics(struct daemon *d);
/* Desired state confirmed with the source (fetched or the file checked,
 * and unchanged or applied). */
void nn_gwd_mark_synced(struct daemon *d);
/* The full path: validate and apply @text (NN_APPLY_APPLIED, _REJECTED:
 * the snapshot is refused, _FAILED: this host failed, retried). */
enum nn_apply_outcome nn_gwd_apply_text(struct daemon *d, const char *text, size_t len,
					const char *why);
/* ... of a held document, validated where it is (no text made, no second
 * parse); @text: the fetched body it was parsed from, or NULL. */
enum nn_apply_outcome nn_gwd_apply_doc(struct daemon *d, const struct nn_held *doc,
				       const char *text, size_t len, const char *why);
/* Either, and on a failure (not a rejection) schedule its retry (@doc
 * NULL: @text alone). */
enum nn_apply_outcome nn_gwd_apply_or_retry(struct daemon *d, const struct nn_held *doc,
					    const char *text, size_t len, const char *why);
void nn_gwd_policy_record_check(struct daemon *d);
void nn_gwd_standby_sync(struct daemon *d);
enum sync_outcome nn_gwd_cp_sync(struct daemon *d, const char *why);
enum sync_outcome nn_gwd_file_sync(struct daemon *d, const char *why);
enum sync_outcome nn_gwd_sync_source(struct daemon *d, const char *why);

/* drift_run.c: the drift check's loop side (drift.h) */
/* Hand the check of the enforced generation to the worker: true when it
 * runs (or already did), false when it cannot (no text of the enforced
 * generation, no record of the live half: the caller re-applies inline). */
bool nn_gwd_drift_begin(struct daemon *d);
/* The worker's end (its wakeup): judge the result, repair if needed, put
 * its LKG in place, schedule the next check. */
void nn_gwd_drift_end(struct daemon *d);
/* Stopping: abandon a running check and wait for its worker. */
void nn_gwd_drift_abort(struct daemon *d);
/* Re-apply what is enforced now, from scratch, on the loop (its text when
 * that is at the enforced generation, else the policy itself). */
void nn_gwd_drift_reapply(struct daemon *d);
/* After a check: its CPU (@cpu_ms, worker and loop), the next interval,
 * the metrics and the log line. */
void nn_gwd_drift_done(struct daemon *d, double cpu_ms);
/* A test hook: NN_TEST_DRIFT_DELAY_MS holds every worker that long. */
unsigned int nn_gwd_drift_test_delay(void);

/* incremental.c */
/* Enforce a fetched delta through the kept state (nn_inc_delta, the LKG
 * journal, nn_apply_patch). True: enforced. False: not taken -- the kept
 * state is dropped whenever it may no longer match (any refusal, a
 * non-device delta, a failure) and the caller takes the full path with
 * the same fetch. @base: the client's generation before the fetch. */
bool nn_gwd_fast_apply(struct daemon *d, struct nn_cp_fetch *f, long long base, const char *why);
/* After a full apply of @p that went through (or found the maps equal):
 * @p becomes the enforced policy (taken over), and the kept state is
 * rebuilt from @kept when the client's held document is @p's (taken over;
 * freed otherwise). */
void nn_gwd_take_full(struct daemon *d, struct nn_policy *p, struct nn_apply_kept *kept,
		      bool flipped, const char *why);
/* A device patch enforced while a drift check runs: its nn_addrs keys
 * (d->drift_touched). */
void nn_gwd_drift_touched(struct daemon *d, const struct nn_dev_patch *pt);
/* Drop the kept state; its policy (as patched) stays the enforced one. */
void nn_gwd_inc_drop(struct daemon *d, const char *why);
/* Free the enforced policy and the kept state (shutdown). */
void nn_gwd_good_free(struct daemon *d);
/* The drift check's next interval: at least the configured one and
 * NN_DRIFT_CPU_FACTOR times the last check's CPU, so that the check never
 * takes more than ~2 % of one core however large the policy is. */
#define NN_DRIFT_CPU_FACTOR 50
/* Quiet time after a full apply before the standby half is synced (a burst
 * of changes is served first; the sync then runs between them). */
#define NN_STANDBY_IDLE_MS 300
int64_t nn_gwd_drift_interval_ms(unsigned int resync_s, double last_cpu_ms);
/* Compact the LKG journal into a full LKG once it holds this many deltas
 * (~1 KB each): the drift check is then started early, and its worker
 * writes the file (a serialisation of the held document on the loop, 0.3 s
 * at 100k devices; the 48 MB write on the worker); a replayed entry at a
 * start is a lookup in the document. Every drift check compacts too. */
#define NN_LKG_JOURNAL_MAX 16384

#endif /* NANAMI_GATEWAYD_DAEMON_H */
