/* SPDX-License-Identifier: GPL-2.0 */
/*
 * state.h - what the controller knows about itself, shared by the control
 * loop (writes), the metrics page and the control socket (read).
 *
 * One mutex guards everything; readers copy or render under it and never
 * hold it longer than that. The loop records here what the pinned maps
 * cannot hold: where desired state comes from and whether that source is
 * reachable, the last snapshot refused and why, the last failed apply, what
 * the last wg0 reconcile found, control-plane errors by kind.
 */
#ifndef NANAMI_GATEWAYD_STATE_H
#define NANAMI_GATEWAYD_STATE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "cp/client.h"
#include "lib/names.h"
#include "wg/reconcile.h"

enum nn_cp_state {
	NN_CP_NONE = 0,	   /* file mode: no control plane */
	NN_CP_DOWN = 1,	   /* unreachable */
	NN_CP_POLLING = 2, /* reachable, event stream down */
	NN_CP_STREAM = 3,  /* event stream up */
};

const char *nn_cp_state_name(int state);

#define NN_METRICS_MAX_PEERS 4096

struct nn_peer_metrics {
	char id[NN_NAME_MAX];	     /* device or node id */
	int64_t last_handshake_unix; /* 0: never */
	uint64_t rx_bytes;
	uint64_t tx_bytes;
};

#define NN_CTL_MAX_REASONS 16
#define NN_CTL_MSG_MAX 384

/* A snapshot refused, or one that failed to apply. at_unix 0: none yet. */
struct nn_ctl_event {
	int64_t at_unix;
	uint64_t seq;	    /* nn_ctl_state.seq when recorded */
	char trigger[24];   /* start, event, poll, resync, file_changed, ... */
	int64_t generation; /* -1: not known (unreadable snapshot) */
	size_t n_reasons;
	size_t more; /* reasons beyond NN_CTL_MAX_REASONS, not kept */
	char reasons[NN_CTL_MAX_REASONS][NN_CTL_MSG_MAX];
};

/* Identity errors by kind (nanami_identity_errors_total{kind}). */
enum nn_ident_err_kind {
	NN_IDERR_KEY_MISMATCH = 0, /* the snapshot names a key we do not hold */
	NN_IDERR_BAD_KEY,	   /* gateway.public_key unreadable */
	NN_IDERR_CERT_EXPIRED,	   /* our client certificate is past notAfter */
	NN_IDERR_RENEWAL,	   /* a certificate renewal failed */
	NN_IDERR_FILES,		   /* an identity file could not be read or written */
	NN_IDERR_MAX,
};

const char *nn_ident_err_name(int kind);

/* The gateway's own identity (identity-v1.md), for the status and metrics. */
struct nn_ctl_ident {
	bool enrolled;		   /* node.json in the state directory */
	int64_t key_generation;	   /* -1: not known */
	int64_t cert_expires_unix; /* 0: no certificate of ours known */
	bool pending_rotation;	   /* wg.key.next on disk */
	uint64_t rotate_requested; /* requests through the socket, numbered */
	uint64_t rotation_failures;
	struct {
		uint64_t request; /* rotate_requested it answers, 0: scheduled/restart */
		int64_t at_unix;  /* 0: none yet */
		char trigger[16]; /* request, schedule, restart */
		char result[24];  /* approved, finished, abandoned, refused, error,
				   * transport_error, pending */
		long http_status;
		uint64_t key_generation;
		char message[NN_CTL_MSG_MAX];
	} last_rotation;
	uint64_t errors[NN_IDERR_MAX];
	int64_t last_error_unix;
	int last_error_kind;
	char last_error[NN_CTL_MSG_MAX];
	int64_t cert_renewed_unix;
};

/* Set once before the server threads start; read-only afterwards. */
struct nn_ctl_info {
	const char *iface;
	const char *pin_dir;
	const char *state_dir;
	const char *cp_url;	 /* NULL: file mode */
	const char *assignments; /* file mode */
	const char *wg_backend;	 /* "genl", "uapi", "none" */
	const char *hook;	 /* "tc", "xdp" */
	char wg_public_key[64];	 /* base64, "" when wg0 is not managed;
				  * rewritten (under mu) by a key rotation */
	int wake_fd;		 /* eventfd of the loop: a rotate request */
	const char *no_rotation; /* why this controller cannot rotate its
				  * key (NULL: it can) */
	int64_t started_unix;
	uint32_t resync_s; /* the drift timer: staleness is judged against it */
};

/* Apply durations (validate, compile, maps, wg0: snapshot text in hand to
 * enforced), a Prometheus histogram with these upper bounds in seconds.
 * Drift re-applies are kept apart: they run every resync and would drown
 * the applies that carry a change. */
#define NN_APPLY_BUCKETS 12
extern const double nn_apply_bucket_s[NN_APPLY_BUCKETS];

enum nn_apply_kind {
	NN_APPLY_KIND_CHANGE = 0, /* a snapshot from the source, or a retry */
	NN_APPLY_KIND_DRIFT = 1,  /* the resync re-applying the held copy */
	NN_APPLY_KIND_MAX,
};

struct nn_apply_hist {
	uint64_t le[NN_APPLY_BUCKETS]; /* cumulative, as Prometheus wants */
	uint64_t count;
	double sum_s;
	double last_s;
};

struct nn_ctl_state {
	pthread_mutex_t mu;
	struct nn_ctl_info info;
	char node_id[NN_NAME_MAX]; /* "" until known (file mode: the first file) */
	uint64_t applied_generation;
	int64_t last_sync_unix; /* last successful sync with desired state */
	/* ... on CLOCK_MONOTONIC (ms): "seconds since" must not move with a
	 * wall-clock step (NTP, an operator's date -s) */
	int64_t last_sync_mono_ms;
	int64_t last_applied_unix; /* the applied generation's apply */
	uint64_t seq;		   /* orders the events below and the applies */
	uint64_t last_applied_seq;
	uint64_t validation_errors; /* entries rejected, snapshots rejected */
	uint64_t apply_errors;
	uint64_t snapshots_rejected; /* whole snapshots refused (nn_ctl_note_rejection) */
	uint64_t apply_failures;     /* applies that failed (nn_ctl_note_apply_error) */
	uint64_t wg_errors;	     /* wg0 reconciles that failed (nn_ctl_note_wg) */
	struct nn_apply_hist apply_time[NN_APPLY_KIND_MAX];
	uint64_t drift_repairs;
	uint64_t map_writes;
	/* applies by path (docs/controller.md "The incremental path in the
	 * daemon"): a delta enforced by a patch, a full apply (change, retry
	 * or drift), a delta the fast path handed to the full path */
	uint64_t applies_fast;
	uint64_t applies_full;
	uint64_t fast_fallbacks;
	/* the drift check: its last CPU and the interval that sets */
	double drift_cpu_s;
	double drift_interval_s;
	/* drift checks on the worker, by result (enum nn_drift_action:
	 * pass, repair, stale, failed), and the last one's loop share */
	uint64_t drift_checks[4];
	double drift_loop_s;
	uint64_t wg_changes;
	int cp_state; /* enum nn_cp_state */
	uint64_t cp_errors[NN_CP_ERR_MAX];
	int64_t cp_last_error_unix;
	int cp_last_error_kind;
	char cp_last_error[NN_CTL_MSG_MAX];
	struct nn_ctl_event last_rejection;
	struct nn_ctl_event last_apply_error;
	/* the last wg0 reconcile: what it found differing (and changed) */
	int64_t wg_checked_unix; /* 0: never */
	int wg_err;		 /* -errno of a failed reconcile, 0 */
	struct nn_wg_counters wg_last;
	struct nn_peer_metrics *peers; /* owned; replaced after each wg reconcile */
	struct nn_ctl_ident ident;
	size_t n_peers;
	/* the last-known-good file: what it holds, and why the last write (or
	 * the read at start) failed; the dataplane never waits for it */
	struct {
		uint64_t generation; /* on disk, 0: none known */
		uint64_t write_errors;
		int64_t error_unix; /* 0: the last write succeeded */
		char error[NN_CTL_MSG_MAX];
	} lkg;
};

void nn_ctl_state_init(struct nn_ctl_state *st);
void nn_ctl_state_destroy(struct nn_ctl_state *st);

/* Recorders for the control loop (each takes the mutex). @msgs may hold
 * more than NN_CTL_MAX_REASONS: the first ones are kept, the rest counted. */
void nn_ctl_note_rejection(struct nn_ctl_state *st, const char *trigger, int64_t generation,
			   const char *const *msgs, size_t n);
void nn_ctl_note_apply_error(struct nn_ctl_state *st, const char *trigger, int64_t generation,
			     const char *const *msgs, size_t n);
void nn_ctl_note_cp_error(struct nn_ctl_state *st, enum nn_cp_err_kind kind, const char *msg);
void nn_ctl_note_wg(struct nn_ctl_state *st, const struct nn_wg_counters *c, int err);
void nn_ctl_note_applied(struct nn_ctl_state *st, uint64_t generation, uint64_t writes);
void nn_ctl_note_apply_time(struct nn_ctl_state *st, enum nn_apply_kind kind, double seconds);
void nn_ctl_set_node_id(struct nn_ctl_state *st, const char *node_id);
/* Desired state confirmed with the source now (wall and monotonic clocks). */
void nn_ctl_note_synced(struct nn_ctl_state *st);
/* A last-known-good write: @err NULL when it succeeded (@generation is then
 * on disk), else its message, counted as a write error. */
void nn_ctl_note_lkg_write(struct nn_ctl_state *st, uint64_t generation, const char *err);
/* The last-known-good read at start: @generation on disk (0 when there is
 * none or it was refused), @err why it was refused (NULL: it was not). */
void nn_ctl_note_lkg_read(struct nn_ctl_state *st, uint64_t generation, const char *err);
/* CLOCK_MONOTONIC in ms. */
int64_t nn_ctl_mono_ms(void);
/* Whole seconds since the last sync, -1 before the first (monotonic). */
int64_t nn_ctl_since_sync_s(const struct nn_ctl_state *st);

void nn_ctl_note_ident_error(struct nn_ctl_state *st, enum nn_ident_err_kind kind, const char *msg);
/* A rotate request from the socket: its number (the loop is woken). */
uint64_t nn_ctl_request_rotation(struct nn_ctl_state *st);

/* GET /v1/status's body (docs/interfaces.md), at @now. */
json_t *nn_ctl_status_json(struct nn_ctl_state *st, int64_t now);

#endif /* NANAMI_GATEWAYD_STATE_H */
