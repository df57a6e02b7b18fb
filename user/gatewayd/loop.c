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
#define RETRY_BASE_MS 500
#define RETRY_MAX_MS 30000
#define STREAM_BASE_MS 250
#define STREAM_MAX_MS 30000
/* The metrics page's wg0 peers are refreshed on applies and on the drift
 * timer only (every --resync, 30 s by default): a read this young is as
 * good as a new one, and at 100k peers a read is the drift check's largest
 * cost (docs/controller.md "wg0 at 100k peers"). */
#define PEER_METRICS_FRESH_MS 10000

/* The event stream is what we rely on for changes only while it delivers
 * bytes: connecting, or accepted and silent, we keep polling. */
static bool stream_up(struct daemon *d)
{
	return nn_cp_stream_live(d->cp_stream);
}

static void set_cp_state(struct daemon *d, int state)
{
	pthread_mutex_lock(&d->st.mu);
	if (d->st.cp_state != state)
		nn_log_info("event=control_plane state=%s url=%s",
			    state == NN_CP_STREAM  ? "stream" :
			    state == NN_CP_POLLING ? "polling" :
						     "unreachable",
			    d->o->cp.url);
	d->st.cp_state = state;
	pthread_mutex_unlock(&d->st.mu);
}

/*
 * wg0 peers for the metrics page. A full read of wg0 is the costly part at
 * scale (100k peers: docs/controller.md "wg0 at 100k peers"), and every
 * apply's reconcile has just made one (apply_rest hands its device here
 * through set_peer_metrics): a page filled from a read less than
 * PEER_METRICS_FRESH_MS ago is not read again. Without wg0 nothing.
 */
static void refresh_peer_metrics(struct daemon *d)
{
	struct nn_wg_device dev = {};

	if (!d->wg_open)
		return;
	if (d->peers_read_ms && nn_gwd_now_ms() - d->peers_read_ms < PEER_METRICS_FRESH_MS)
		return;
	if (nn_wg_read(&d->wg, &dev))
		return;
	nn_gwd_set_peer_metrics(d, d->good, &dev);
	nn_wg_device_free(&dev);
}

/* What is enforced now: the policy we applied, else what the pinned maps
 * say (a restarted controller has adopted them). */
static bool enforced(struct daemon *d, uint64_t *generation, uint32_t *devices)
{
	struct nn_meta m = {};
	uint32_t zero = 0, epoch = 0;

	if (d->good) {
		*generation = d->good->generation;
		*devices = d->good->n_devices;
		return true;
	}
	if (nn_live_epoch(d->dp, &epoch) || !epoch ||
	    bpf_map_lookup_elem(d->dp->map_fd[NN_M_META], &zero, &m))
		return false;
	*generation = m.generation;
	*devices = m.devices;
	return true;
}

/* Desired state confirmed with the source: fetched (or the file checked)
 * and either unchanged or applied. Re-applying the copy we hold is not. */
static void mark_synced(struct daemon *d)
{
	nn_ctl_note_synced(&d->st);
	d->lkg_only = false;
}

static void count_errors(struct daemon *d, uint64_t validation, uint64_t apply)
{
	pthread_mutex_lock(&d->st.mu);
	d->st.validation_errors += validation;
	d->st.apply_errors += apply;
	pthread_mutex_unlock(&d->st.mu);
}

/* A snapshot refused: counted, and kept with its reasons for the status. */
static void rejected(struct daemon *d, const char *why, int64_t generation, const char *const *msgs,
		     size_t n)
{
	count_errors(d, 1, 0);
	nn_ctl_note_rejection(&d->st, why, generation, msgs, n);
}

/* The generation a refused snapshot claims, for the status: -1 when it
 * names none (it is not even JSON). */
static int64_t peek_generation(const char *text, size_t len)
{
	json_t *j = json_loadb(text, len, 0, NULL), *g = json_object_get(j, "generation");
	int64_t gen = json_is_integer(g) && json_integer_value(g) >= 0 ? json_integer_value(g) : -1;

	json_decref(j);
	return gen;
}

/* Whose snapshots we take: --node-id, else what the first file named. */
static const char *our_node_id(const struct daemon *d)
{
	if (d->o->node_id)
		return d->o->node_id;
	return d->file_node_id[0] ? d->file_node_id : NULL;
}

/*
 * Validate and apply @text: NN_APPLY_APPLIED when it is enforced (or
 * identical to what is); NN_APPLY_REJECTED when the snapshot itself is
 * refused (invalid, older, over a capacity: nothing changed, retrying cannot
 * help); NN_APPLY_FAILED when this host failed to apply it (maps, wg0, NAT:
 * the previous generation stays enforced, retried with backoff).
 */
static enum nn_apply_outcome apply_text(struct daemon *d, const char *text, size_t len,
					const char *why)
{
	struct nn_errlist errs = {};
	struct nn_apply_result res;
	struct nn_policy *p = NULL;
	struct nn_apply_kept kept = {};
	struct nn_slot_plan no_plan = {};
	struct nn_limits lim;
	uint64_t cur_gen = 0;
	uint32_t cur_devices = 0;
	bool have;
	enum nn_apply_outcome out;
	struct timespec t0, t1;
	bool changed;
	size_t i;
	int err;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	nn_gwd_barrier_wait(&d->barrier);
	nn_limits_default(&lim);
	lim.max_devices = d->o->cap.max_devices;
	lim.max_rules = d->o->cap.max_rules;
	lim.max_prefixes = d->o->cap.max_prefixes;
	lim.max_nodes = d->o->cap.max_nodes;
	if (d->o->max_snapshot)
		lim.max_body = d->o->max_snapshot;
	err = nn_policy_parse(text, len, our_node_id(d), &lim, &p, &errs);
	for (i = 0; i < errs.n; i++)
		nn_log_warn("event=rejected source=%s reason=\"%s\"", nn_gwd_source_name(d),
			    errs.msgs[i]);
	count_errors(d, errs.n, 0);
	if (err) {
		const char *one = strerror(-err);

		nn_log_err("event=snapshot_rejected source=%s trigger=%s reason=\"%s\"",
			   nn_gwd_source_name(d), why, errs.n ? errs.msgs[errs.n - 1] : one);
		nn_ctl_note_rejection(&d->st, why, peek_generation(text, len),
				      errs.n ? (const char *const *)errs.msgs : &one,
				      errs.n ? errs.n : 1);
		nn_errlist_free(&errs);
		return NN_APPLY_REJECTED;
	}
	nn_errlist_free(&errs);
	{
		char m[NN_CTL_MSG_MAX];
		const char *mp = m;

		/* Our own key as the control plane holds it: a snapshot for a
		 * key we do not hold is refused whole (identity-v1.md). */
		if (nn_gw_ident_check(&d->ident, &p->gw.key, m, sizeof(m))) {
			nn_log_err("event=snapshot_rejected source=%s trigger=%s reason=\"%s\"",
				   nn_gwd_source_name(d), why, m);
			rejected(d, why, (int64_t)p->generation, &mp, 1);
			nn_policy_free(p);
			return NN_APPLY_REJECTED;
		}
	}
	if (!our_node_id(d)) {
		snprintf(d->file_node_id, sizeof(d->file_node_id), "%s", p->node_id);
		nn_ctl_set_node_id(&d->st, p->node_id);
		nn_log_info("event=node_id_taken node_id=%s source=%s note=\"no --node-id: the "
			    "file's node_id is this gateway's; a file naming another node is "
			    "rejected\"",
			    p->node_id, nn_gwd_source_name(d));
	}
	have = enforced(d, &cur_gen, &cur_devices);
	if (have && p->generation < cur_gen) {
		char m[160];
		const char *mp = m;

		snprintf(m, sizeof(m), "generation %llu is older than the applied generation %llu",
			 (unsigned long long)p->generation, (unsigned long long)cur_gen);
		nn_log_err("event=snapshot_rejected source=%s trigger=%s reason=\"%s\"",
			   nn_gwd_source_name(d), why, m);
		rejected(d, why, (int64_t)p->generation, &mp, 1);
		nn_policy_free(p);
		return NN_APPLY_REJECTED;
	}
	/* An empty snapshot replacing a populated one must at least be a newer
	 * generation: never the product of a half-failed fetch. */
	if (have && !p->n_devices && cur_devices && p->generation <= cur_gen) {
		const char *m = "empty snapshot without a newer generation";

		nn_log_err("event=snapshot_rejected source=%s trigger=%s reason=\"%s\"",
			   nn_gwd_source_name(d), why, m);
		rejected(d, why, (int64_t)p->generation, &m, 1);
		nn_policy_free(p);
		return NN_APPLY_REJECTED;
	}
	/* The compile state is kept for the fast path (control-plane mode:
	 * the deltas come from there), at no extra cost. */
	out = nn_apply_keep(d->dp, p, &res, &errs, d->o->cp.url && !d->o->once ? &kept : NULL);
	for (i = 0; i < errs.n; i++)
		nn_log_err("event=%s source=%s reason=\"%s\"",
			   out == NN_APPLY_REJECTED ? "snapshot_rejected" : "apply_failed",
			   nn_gwd_source_name(d), errs.msgs[i]);
	if (out == NN_APPLY_REJECTED) {
		rejected(d, why, (int64_t)p->generation, (const char *const *)errs.msgs, errs.n);
	} else if (out == NN_APPLY_FAILED) {
		count_errors(d, 0, 1);
		nn_ctl_note_apply_error(&d->st, why, (int64_t)p->generation,
					(const char *const *)errs.msgs, errs.n);
	}
	nn_errlist_free(&errs);
	if (out == NN_APPLY_APPLIED) {
		char m[NN_CTL_MSG_MAX] = "";
		const char *mp = m;

		if (nn_gwd_apply_rest(d, p, why, m, sizeof(m))) {
			/* wg0 or NAT failed: put the previous generation back so
			 * the maps and wg0 keep agreeing; retried with backoff. */
			out = NN_APPLY_FAILED;
			count_errors(d, 0, 1);
			nn_ctl_note_apply_error(&d->st, why, (int64_t)p->generation, &mp, 1);
			if (d->good && nn_apply(d->dp, d->good, &res, &errs) == NN_APPLY_APPLIED)
				nn_log_warn("event=rolled_back generation=%llu",
					    (unsigned long long)d->good->generation);
			nn_errlist_free(&errs);
		}
	}
	if (out != NN_APPLY_APPLIED) {
		nn_compile_state_free(kept.cs);
		nn_slots_free(&kept.slots, &no_plan);
		nn_policy_free(p);
		return out;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1); /* enforced; the LKG write is not timed */
	nn_log(res.flipped || res.writes || strcmp(why, "drift") ? NN_LOG_INFO : NN_LOG_DEBUG,
	       "event=applied source=%s trigger=%s generation=%llu epoch=%u flipped=%d "
	       "writes=%zu devices=%zu rules=%zu addrs=%zu prefixes=%zu cells=%zu path=full",
	       nn_gwd_source_name(d), why, (unsigned long long)p->generation, res.epoch,
	       res.flipped, res.writes, p->n_devices, p->n_rules, res.addrs, res.prefixes,
	       res.cells);
	pthread_mutex_lock(&d->st.mu);
	d->st.applies_full++;
	pthread_mutex_unlock(&d->st.mu);
	nn_ctl_note_apply_time(
		&d->st, strcmp(why, "drift") ? NN_APPLY_KIND_CHANGE : NN_APPLY_KIND_DRIFT,
		(double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	nn_ctl_note_applied(&d->st, p->generation, res.writes);
	/* The text describes what is enforced again (a stale one is
	 * replaced: fast-path changes since are in this one). */
	changed = d->text_stale || !d->good_text || d->good_len != len ||
		  memcmp(d->good_text, text, len);
	if (changed && text != d->good_text) {
		free(d->good_text);
		d->good_text = malloc(len + 1);
		if (d->good_text) {
			memcpy(d->good_text, text, len);
			d->good_text[len] = 0;
		}
		d->good_len = d->good_text ? len : 0;
	}
	d->text_stale = false;
	nn_gwd_take_full(d, p, &kept, res.flipped, why);
	p = NULL;
	if (changed)
		nn_gwd_save_lkg(d);
	refresh_peer_metrics(d);
	return NN_APPLY_APPLIED;
}

static void set_pending(struct daemon *d, const char *text, size_t len)
{
	free(d->pending);
	d->pending = malloc(len + 1);
	d->pending_len = d->pending ? len : 0;
	if (d->pending)
		memcpy(d->pending, text, len);
}

/* Drift timer, before re-applying: the applier's record of the policy maps
 * against what they hold; a difference (a write behind our back) makes the
 * re-apply repair it. */
static void policy_record_check(struct daemon *d)
{
	size_t differ = 0;
	int err = nn_apply_check(d->dp, &differ);

	if (err)
		nn_log_warn("event=policy_record_check error=\"%s\"", strerror(-err));
	else if (differ)
		nn_log_warn("event=policy_maps_drift entries=%zu note=\"repaired by the re-apply\"",
			    differ);
}

/* Drift timer, after re-applying: bring the standby half up to date while
 * idle, so that the next change writes only what it touches. */
static void standby_sync(struct daemon *d)
{
	size_t writes = 0;
	int err;

	nn_gwd_barrier_wait(&d->barrier);
	err = nn_apply_sync_standby(d->dp, &writes);

	if (err)
		nn_log_warn("event=standby_sync error=\"%s\"", strerror(-err));
	else if (writes)
		nn_log_debug("event=standby_sync writes=%zu", writes);
}

/* Apply, and on an apply failure (not a rejection) schedule a retry. */
static enum nn_apply_outcome apply_or_retry(struct daemon *d, const char *text, size_t len,
					    const char *why)
{
	enum nn_apply_outcome out = apply_text(d, text, len, why);

	if (out == NN_APPLY_FAILED) {
		unsigned int ms = nn_cp_backoff_ms(d->retry_attempt++, RETRY_BASE_MS, RETRY_MAX_MS,
						   nn_cp_random());

		set_pending(d, text, len);
		d->next_retry = nn_gwd_now_ms() + ms;
		nn_log_warn("event=apply_retry in_ms=%u attempt=%u", ms, d->retry_attempt);
	} else {
		free(d->pending);
		d->pending = NULL;
		d->retry_attempt = 0;
		d->next_retry = 0;
	}
	return out;
}

/* What one look at the source came to. */
enum sync_outcome {
	SYNC_APPLIED,	  /* enforced, or nothing new */
	SYNC_REJECTED,	  /* a snapshot we refused: the last applied stays */
	SYNC_FAILED,	  /* a snapshot we failed to apply: retry scheduled */
	SYNC_UNREADABLE,  /* an answer that is not a snapshot at all */
	SYNC_UNREACHABLE, /* no answer (control plane away, file unreadable) */
};

static enum sync_outcome from_apply(enum nn_apply_outcome out)
{
	switch (out) {
	case NN_APPLY_APPLIED:
		return SYNC_APPLIED;
	case NN_APPLY_REJECTED:
		return SYNC_REJECTED;
	case NN_APPLY_FAILED:
		break;
	}
	return SYNC_FAILED;
}

/* Fetch from the control plane (delta when possible) and apply. */
static enum sync_outcome cp_sync(struct daemon *d, const char *why)
{
	enum nn_apply_outcome out;
	struct nn_cp_fetch f = {};
	long long base = nn_cp_client_generation(d->cp);
	char err_s[256] = "";
	int err;

	/* Lazy: a delta the fast path enforces never needs the text. */
	err = nn_cp_fetch_delta_lazy(d->cp, &f, err_s, sizeof(err_s));
	if (err == -EBADMSG || err == -EFBIG) {
		/* An answer that cannot be read as a snapshot (bad, duplicate-key
		 * or too deep JSON, over the size cap): a snapshot rejected whole. */
		const char *m = err_s;

		nn_log_err("event=snapshot_rejected source=%s trigger=%s reason=\"%s\"",
			   d->o->cp.url, why, err_s);
		rejected(d, why, -1, &m, 1);
		nn_ctl_note_cp_error(&d->st, nn_cp_client_last_error(d->cp), err_s);
		if (!stream_up(d))
			set_cp_state(d, NN_CP_POLLING);
		nn_cp_fetch_release(&f);
		return SYNC_UNREADABLE;
	}
	if (err) {
		nn_log_warn("event=control_plane_unreachable url=%s trigger=%s error=\"%s\"",
			    d->o->cp.url, why, err_s);
		nn_ctl_note_cp_error(&d->st, nn_cp_client_last_error(d->cp), err_s);
		if (!stream_up(d))
			set_cp_state(d, NN_CP_DOWN);
		nn_cp_fetch_release(&f);
		return SYNC_UNREACHABLE;
	}
	if (!stream_up(d))
		set_cp_state(d, NN_CP_POLLING);
	if (f.unchanged) {
		mark_synced(d);
		nn_cp_fetch_release(&f);
		return SYNC_APPLIED;
	}
	if (nn_gwd_fast_apply(d, &f, base, why)) {
		mark_synced(d);
		nn_cp_fetch_release(&f);
		return SYNC_APPLIED;
	}
	err = nn_cp_fetch_body(d->cp, &f);
	if (err) {
		nn_log_err("event=apply_failed source=%s trigger=%s reason=\"no snapshot text: "
			   "%s\"",
			   d->o->cp.url, why, strerror(-err));
		nn_cp_fetch_release(&f);
		return SYNC_FAILED;
	}
	out = apply_or_retry(d, f.body, f.len, why);
	if (out == NN_APPLY_APPLIED)
		mark_synced(d);
	/* A snapshot we refused must not become the base of the next delta. */
	if (out == NN_APPLY_REJECTED)
		nn_cp_client_reset(d->cp);
	nn_cp_fetch_release(&f);
	return from_apply(out);
}

static enum sync_outcome file_sync(struct daemon *d, const char *why)
{
	FILE *f = fopen(d->o->assignments, "rb");
	size_t cap = 1 << 16, n = 0;
	enum nn_apply_outcome out;
	char *buf = NULL;

	if (!f) {
		nn_log_err("event=read source=%s error=\"%s\"", d->o->assignments, strerror(errno));
		return SYNC_UNREACHABLE;
	}
	for (;;) {
		char *nb = realloc(buf, cap);

		if (!nb) {
			nn_log_err("event=read source=%s error=\"%s\"", d->o->assignments,
				   strerror(ENOMEM));
			free(buf);
			fclose(f);
			return SYNC_UNREACHABLE;
		}
		buf = nb;
		n += fread(buf + n, 1, cap - n, f);
		/* one byte over the limit is enough for the parser to refuse it */
		if (n < cap || cap > (d->o->max_snapshot ? d->o->max_snapshot : 128u << 20))
			break;
		cap *= 2;
	}
	fclose(f);
	out = apply_or_retry(d, buf, n, why);
	free(buf);
	d->file_in_sync = out == NN_APPLY_APPLIED;
	if (d->file_in_sync)
		mark_synced(d);
	return from_apply(out);
}

static enum sync_outcome sync_source(struct daemon *d, const char *why)
{
	return d->o->cp.url ? cp_sync(d, why) : file_sync(d, why);
}

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
	so = sync_source(d, "start");
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
	d->lkg_only = apply_or_retry(d, text, len, "last-known-good") == NN_APPLY_APPLIED;
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
			mark_synced(d);
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
	int64_t iv = d->drift_interval_ms ? d->drift_interval_ms : d->o->resync_s * 1000;

	d->next_resync = nn_gwd_now_ms() + nn_cp_jitter_ms((unsigned int)iv, 10, nn_cp_random());
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
 * generation), the enforced policy itself is re-applied. Its interval
 * grows with its cost (nn_gwd_drift_interval_ms).
 */
static void drift_check(struct daemon *d)
{
	double c0 = thread_cpu_ms();

	if (d->o->cp.url)
		cp_sync(d, "resync");
	if (d->good && !d->pending) {
		policy_record_check(d);
		if (!nn_gwd_fresh_text(d) && d->good_text) {
			apply_text(d, d->good_text, d->good_len, "drift");
		} else {
			struct nn_errlist errs = {};
			struct nn_apply_result res;
			char m[NN_CTL_MSG_MAX] = "";

			nn_gwd_barrier_wait(&d->barrier);
			nn_log_info("event=drift_reapply from=policy generation=%llu note=\"the "
				    "text of the enforced generation is not held\"",
				    (unsigned long long)d->good->generation);
			if (nn_apply(d->dp, d->good, &res, &errs) != NN_APPLY_APPLIED ||
			    nn_gwd_apply_rest(d, d->good, "drift", m, sizeof(m)))
				nn_log_err("event=apply_failed trigger=drift reason=\"%s\"",
					   errs.n ? errs.msgs[0] : m);
			nn_errlist_free(&errs);
		}
		standby_sync(d);
	}
	if (d->lkg_stale || d->journal_n)
		nn_gwd_save_lkg(d);
	host_sync(d, "drift");
	refresh_peer_metrics(d);
	d->drift_cpu_ms = thread_cpu_ms() - c0;
	d->drift_interval_ms = nn_gwd_drift_interval_ms(d->o->resync_s, d->drift_cpu_ms);
	pthread_mutex_lock(&d->st.mu);
	d->st.drift_cpu_s = d->drift_cpu_ms / 1e3;
	d->st.drift_interval_s = (double)d->drift_interval_ms / 1e3;
	pthread_mutex_unlock(&d->st.mu);
	if (d->drift_interval_ms > (int64_t)d->o->resync_s * 1000)
		nn_log_info("event=drift_check cpu_ms=%.0f next_in_s=%.0f resync_s=%u note=\"the "
			    "interval grows with the check's cost (%dx its CPU)\"",
			    d->drift_cpu_ms, (double)d->drift_interval_ms / 1e3, d->o->resync_s,
			    NN_DRIFT_CPU_FACTOR);
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

static void loop(struct daemon *d)
{
	struct pollfd pfd[2] = {
		{ .fd = d->evfd, .events = POLLIN },
		{ .fd = nn_hostaddr_fd(d->ha), .events = POLLIN },
	};

	schedule_resync(d);
	schedule_poll(d);
	d->next_file_check = d->o->cp.url ? 0 : nn_gwd_now_ms() + FILE_CHECK_MS;
	while (!*d->stop) {
		int64_t now = nn_gwd_now_ms(), deadline = d->next_resync;
		int timeout;

		/* Key rotation, certificate renewal; an outcome the control
		 * plane's snapshot must settle is settled now. */
		if (nn_gw_ident_tick(&d->ident, now) && d->o->cp.url) {
			cp_sync(d, "identity");
			/* (a stale text still holds the gateway block: fast-path
			 * changes are device changes) */
			nn_gwd_fresh_text(d);
			nn_gw_ident_decide(&d->ident, d->good_text, d->good_len);
			now = nn_gwd_now_ms();
		}

		tell_systemd(d);
		deadline = min_deadline(deadline, nn_notify_watchdog(&d->notify, now));
		if (d->o->cp.url && !stream_up(d))
			deadline = min_deadline(deadline, d->next_poll);
		deadline = min_deadline(deadline, d->next_retry);
		deadline = min_deadline(deadline, d->next_file_check);
		timeout = deadline > now ? (int)(deadline - now) : 0;
		if (timeout > 1000)
			timeout = 1000; /* notice SIGTERM and stream state promptly */
		if (poll(pfd, 2, timeout) > 0) {
			uint64_t n;

			/* Host addresses first: protecting a new one is the
			 * cheapest thing this loop does, and must not wait for a
			 * snapshot download. */
			if ((pfd[1].revents & (POLLIN | POLLERR)) && nn_hostaddr_drain(d->ha))
				host_sync(d, "netlink");
			if (pfd[0].revents & POLLIN) {
				if (read(d->evfd, &n, sizeof(n)) > 0)
					cp_sync(d, "event");
				set_cp_state(d, stream_up(d) ? NN_CP_STREAM : NN_CP_POLLING);
				continue;
			}
		}
		now = nn_gwd_now_ms();
		if (d->o->cp.url && stream_up(d) && d->st.cp_state != NN_CP_STREAM) {
			set_cp_state(d, NN_CP_STREAM);
			/* Polling stops now: catch up with what changed between
			 * the last poll and the stream's subscription. */
			cp_sync(d, "stream_up");
		}
		if (d->next_retry && now >= d->next_retry && d->pending) {
			char *text = d->pending;

			d->pending = NULL;
			/* What the source gave us, now applied: in sync. */
			if (apply_or_retry(d, text, d->pending_len, "retry") == NN_APPLY_APPLIED) {
				d->file_in_sync = true;
				mark_synced(d);
			}
			free(text);
		}
		if (d->next_file_check && now >= d->next_file_check) {
			if (file_changed(d))
				file_sync(d, "file_changed");
			d->next_file_check = now + FILE_CHECK_MS;
		}
		if (d->o->cp.url && !stream_up(d) && now >= d->next_poll) {
			cp_sync(d, "poll");
			schedule_poll(d);
		}
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
		set_cp_state(d, NN_CP_DOWN);
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
	nn_ctl_state_destroy(&d->st);
	if (d->evfd >= 0)
		close(d->evfd);
}

int nn_daemon_run(const struct nn_daemon_opts *o, volatile sig_atomic_t *stop)
{
	struct daemon d = { .o = o, .stop = stop, .evfd = -1 };
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
