// SPDX-License-Identifier: GPL-2.0
/*
 * sync.c - desired state from its source into the dataplane: the fetch
 * (control plane, delta when possible) or the file read, the full path
 * (parse, validate, compile, apply; apply_text) with its retries, and the
 * hand-over to the fast path (incremental.c) for device deltas.
 */
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <bpf/bpf.h>
#include <yajl/yajl_parse.h>

#include "dp/apply.h"
#include "gatewayd/daemon.h"
#include "lib/log.h"
#include "policy/policy.h"

#define RETRY_BASE_MS 500
#define RETRY_MAX_MS 30000
/* The metrics page's wg0 peers are refreshed on applies and on the drift
 * timer only (every --resync, 30 s by default): a read this young is as
 * good as a new one, and at 100k peers a read is the drift check's largest
 * cost (docs/controller.md "wg0 at 100k peers"). */
#define PEER_METRICS_FRESH_MS 10000

/* The event stream is what we rely on for changes only while it delivers
 * bytes: connecting, or accepted and silent, we keep polling. */
bool nn_gwd_stream_up(struct daemon *d)
{
	return nn_cp_stream_live(d->cp_stream);
}

void nn_gwd_set_cp_state(struct daemon *d, int state)
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
void nn_gwd_refresh_peer_metrics(struct daemon *d)
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
void nn_gwd_mark_synced(struct daemon *d)
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

/* The top-level "generation" of a text, from yajl's events: no tree (a
 * jansson tree of a refused 1M-device snapshot was ~4 GB, only to read
 * one number). A repeated key: the last one counts, as it did. */
struct peek {
	int depth;
	bool want; /* the next value at depth 1 is "generation"'s */
	int64_t gen;
};

static int peek_value(struct peek *pk, bool is_int, long long v)
{
	if (pk->depth == 1 && pk->want)
		pk->gen = is_int && v >= 0 ? v : -1;
	pk->want = false;
	return 1;
}

static int peek_null(void *c)
{
	return peek_value(c, false, 0);
}

static int peek_bool(void *c, int b)
{
	(void)b;
	return peek_value(c, false, 0);
}

static int peek_int(void *c, long long v)
{
	return peek_value(c, true, v);
}

static int peek_double(void *c, double v)
{
	(void)v;
	return peek_value(c, false, 0);
}

static int peek_string(void *c, const unsigned char *s, size_t l)
{
	(void)s;
	(void)l;
	return peek_value(c, false, 0);
}

static int peek_key(void *c, const unsigned char *k, size_t l)
{
	struct peek *pk = c;

	if (pk->depth == 1)
		pk->want = l == 10 && !memcmp(k, "generation", 10);
	return 1;
}

static int peek_open(void *c)
{
	struct peek *pk = c;

	peek_value(pk, false, 0);
	pk->depth++;
	return 1;
}

static int peek_close(void *c)
{
	((struct peek *)c)->depth--;
	return 1;
}

static const yajl_callbacks peek_cbs = {
	.yajl_null = peek_null,
	.yajl_boolean = peek_bool,
	.yajl_integer = peek_int,
	.yajl_double = peek_double,
	.yajl_string = peek_string,
	.yajl_start_map = peek_open,
	.yajl_map_key = peek_key,
	.yajl_end_map = peek_close,
	.yajl_start_array = peek_open,
	.yajl_end_array = peek_close,
};

/* The generation a refused snapshot claims, for the status: -1 when it
 * names none (it is not even JSON). */
static int64_t peek_generation(const char *text, size_t len)
{
	struct peek pk = { .gen = -1 };
	yajl_handle h = yajl_alloc(&peek_cbs, NULL, &pk);
	bool ok;

	if (!h)
		return -1;
	ok = yajl_parse(h, (const unsigned char *)text, len) == yajl_status_ok &&
	     yajl_complete_parse(h) == yajl_status_ok;
	yajl_free(h);
	return ok ? pk.gen : -1;
}

/* Whose snapshots we take: --node-id, else what the first file named. */
static const char *our_node_id(const struct daemon *d)
{
	if (d->o->node_id)
		return d->o->node_id;
	return d->file_node_id[0] ? d->file_node_id : NULL;
}

/* The generation a refused document claims, for the status (as
 * peek_generation reads it from a text). */
static int64_t claimed_generation(const struct nn_held *doc, const char *text, size_t len)
{
	long long g;

	if (!doc)
		return peek_generation(text, len);
	g = nn_held_generation(doc);
	return g >= 0 ? g : -1;
}

/*
 * The last-known-good after a full apply of @p. File mode: the text is
 * kept (good_text) and written when it differs from the last one. Control
 * -plane mode keeps no text (485 MB at 1M devices): the text at hand (the
 * fetched body, the LKG's own at a start, a retry's) is written now, else
 * the held document it was validated from; and only when the file does
 * not already hold this generation (a drift re-apply, a 410's full fetch
 * of the same generation: the control plane's generation names its
 * content, and the document's own re-apply is of the same tree).
 */
static void persist(struct daemon *d, const struct nn_policy *p, const struct nn_held *doc,
		    const char *text, size_t len)
{
	bool changed;

	if (!d->o->cp.url) {
		changed = !d->good_text || d->good_len != len || memcmp(d->good_text, text, len);
		if (changed && text != d->good_text) {
			free(d->good_text);
			d->good_text = malloc(len + 1);
			if (d->good_text) {
				memcpy(d->good_text, text, len);
				d->good_text[len] = 0;
			}
			d->good_len = d->good_text ? len : 0;
		}
		if (changed)
			nn_gwd_save_lkg(d);
		return;
	}
	if (!d->lkg_stale && !d->journal_n && d->lkg_has && d->lkg_gen == p->generation)
		return;
	nn_gwd_save_lkg_from(d, doc, text, len);
}

/* What a full apply takes: a held document, a text, or both (a fetched
 * snapshot: the document the client parsed, and its body). */
struct snap_src {
	const struct nn_held *doc;
	const char *text;
	size_t len;
	/* the fetched body, freed once validated: the text is then the
	 * document's (text NULL), and the compile, the kept state and the
	 * LKG write run without it (485 MB at 1M devices) */
	char **drop;
};

/*
 * Validate and apply a snapshot: @doc (a held document: validated where it
 * is, policy/held.h) or @text. @text may come with @doc (the fetched body
 * it was parsed from: its length is the body limit's, its bytes the
 * messages' of one over a limit). NN_APPLY_APPLIED when it is enforced (or identical to
 * what is); NN_APPLY_REJECTED when the snapshot itself is refused
 * (invalid, older, over a capacity: nothing changed, retrying cannot
 * help); NN_APPLY_FAILED when this host failed to apply it (maps, wg0,
 * NAT: the previous generation stays enforced, retried with backoff).
 */
static enum nn_apply_outcome apply_snapshot(struct daemon *d, struct snap_src *src, const char *why)
{
	const struct nn_held *doc = src->doc;
	const char *text = src->text;
	size_t len = src->len;
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
	err = doc ? nn_held_policy(doc, text, len, our_node_id(d), &lim, &p, &errs) :
		    nn_policy_parse(text, len, our_node_id(d), &lim, &p, &errs);
	for (i = 0; i < errs.n; i++)
		nn_log_warn("event=rejected source=%s reason=\"%s\"", nn_gwd_source_name(d),
			    errs.msgs[i]);
	count_errors(d, errs.n, 0);
	if (err) {
		const char *one = strerror(-err);

		nn_log_err("event=snapshot_rejected source=%s trigger=%s reason=\"%s\"",
			   nn_gwd_source_name(d), why, errs.n ? errs.msgs[errs.n - 1] : one);
		nn_ctl_note_rejection(&d->st, why, claimed_generation(doc, text, len),
				      errs.n ? (const char *const *)errs.msgs : &one,
				      errs.n ? errs.n : 1);
		nn_errlist_free(&errs);
		return NN_APPLY_REJECTED;
	}
	nn_errlist_free(&errs);
	if (doc && src->drop && *src->drop == text) {
		free(*src->drop);
		*src->drop = NULL;
		src->text = text = NULL;
	}
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
	d->change_seq++; /* (a flip, or a failure and its rollback: the record moved) */
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
	/* The old live half is the standby now: bring it up to date once the
	 * loop is idle, or the next one-device change pays for the whole of
	 * it (586,873 writes, ~0.45 s at 100k) on its way to enforcement. */
	if (res.flipped)
		d->next_standby = nn_gwd_now_ms() + NN_STANDBY_IDLE_MS;
	nn_gwd_take_full(d, p, &kept, res.flipped, why);
	p = NULL;
	persist(d, d->good, doc, text, len);
	nn_gwd_refresh_peer_metrics(d);
	/* A full apply frees hundreds of MB at 100k (the parse tree, the
	 * compile's tables, the record's temporaries) that glibc would keep
	 * as free heap: give it back, or a long-running controller's RSS
	 * climbs with every drift re-apply under churn. */
	malloc_trim(0);
	return NN_APPLY_APPLIED;
}

enum nn_apply_outcome nn_gwd_apply_text(struct daemon *d, const char *text, size_t len,
					const char *why)
{
	struct snap_src src = { .text = text, .len = len };

	return apply_snapshot(d, &src, why);
}

enum nn_apply_outcome nn_gwd_apply_doc(struct daemon *d, const struct nn_held *doc,
				       const char *text, size_t len, const char *why)
{
	struct snap_src src = { .doc = doc, .text = text, .len = len };

	return apply_snapshot(d, &src, why);
}

/* A snapshot to retry: its text, from the held document when there is
 * none at hand (a failure is rare; the document changes with the next
 * delta). */
static void set_pending(struct daemon *d, const struct nn_held *doc, const char *text, size_t len)
{
	free(d->pending);
	d->pending = NULL;
	d->pending_len = 0;
	if (!text) {
		d->pending = nn_held_dump(doc->d.root, &d->pending_len);
		return;
	}
	d->pending = malloc(len + 1);
	d->pending_len = d->pending ? len : 0;
	if (d->pending)
		memcpy(d->pending, text, len);
}

/* Drift timer, before re-applying: the applier's record of the policy maps
 * against what they hold; a difference (a write behind our back) makes the
 * re-apply repair it. */
void nn_gwd_policy_record_check(struct daemon *d)
{
	size_t differ = 0;
	int err = nn_apply_check(d->dp, &differ);

	if (err)
		nn_log_warn("event=policy_record_check error=\"%s\"", strerror(-err));
	else if (differ)
		nn_log_warn("event=policy_maps_drift entries=%zu note=\"repaired by the re-apply\"",
			    differ);
}

/* After a full apply, once idle (NN_STANDBY_IDLE_MS without an event), and
 * on the drift timer after re-applying: bring the standby half up to date,
 * so that the next change writes only what it touches. */
void nn_gwd_standby_sync(struct daemon *d)
{
	size_t writes = 0;
	int err;

	d->next_standby = 0;
	nn_gwd_barrier_wait(&d->barrier);
	err = nn_apply_sync_standby(d->dp, &writes);

	if (err)
		nn_log_warn("event=standby_sync error=\"%s\"", strerror(-err));
	else if (writes)
		nn_log_debug("event=standby_sync writes=%zu", writes);
}

/* Apply, and on an apply failure (not a rejection) schedule a retry. */
static enum nn_apply_outcome apply_or_retry(struct daemon *d, struct snap_src *src, const char *why)
{
	enum nn_apply_outcome out = apply_snapshot(d, src, why);

	if (out == NN_APPLY_FAILED) {
		unsigned int ms = nn_cp_backoff_ms(d->retry_attempt++, RETRY_BASE_MS, RETRY_MAX_MS,
						   nn_cp_random());

		set_pending(d, src->doc, src->text, src->len);
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

enum nn_apply_outcome nn_gwd_apply_or_retry(struct daemon *d, const struct nn_held *doc,
					    const char *text, size_t len, const char *why)
{
	struct snap_src src = { .doc = doc, .text = text, .len = len };

	return apply_or_retry(d, &src, why);
}

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
enum sync_outcome nn_gwd_cp_sync(struct daemon *d, const char *why)
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
		if (!nn_gwd_stream_up(d))
			nn_gwd_set_cp_state(d, NN_CP_POLLING);
		nn_cp_fetch_release(&f);
		return SYNC_UNREADABLE;
	}
	if (err) {
		nn_log_warn("event=control_plane_unreachable url=%s trigger=%s error=\"%s\"",
			    d->o->cp.url, why, err_s);
		nn_ctl_note_cp_error(&d->st, nn_cp_client_last_error(d->cp), err_s);
		if (!nn_gwd_stream_up(d))
			nn_gwd_set_cp_state(d, NN_CP_DOWN);
		nn_cp_fetch_release(&f);
		return SYNC_UNREACHABLE;
	}
	if (!nn_gwd_stream_up(d))
		nn_gwd_set_cp_state(d, NN_CP_POLLING);
	if (f.unchanged) {
		nn_gwd_mark_synced(d);
		nn_cp_fetch_release(&f);
		return SYNC_APPLIED;
	}
	/* A full apply's standby sync still due waits for a turn without an
	 * event, which sustained churn may never give: run it now, before a
	 * patch. The patch would bring that half up to date itself, at
	 * several times the sync's writes (its source filter rebuilt whole:
	 * at 1k devices 689 writes, against the sync's 172 and the patch's
	 * own 4 after it; test_controller_churn). Paid once per full apply. */
	if (d->next_standby)
		nn_gwd_standby_sync(d);
	if (nn_gwd_fast_apply(d, &f, base, why)) {
		nn_gwd_mark_synced(d);
		nn_cp_fetch_release(&f);
		return SYNC_APPLIED;
	}
	/* The client's held document is the snapshot (a full one as fetched,
	 * or the delta applied in place): validated where it is, no text
	 * made and no second parse (f.body: a full fetch's text, its length
	 * the body limit's and its bytes the messages'; NULL after a delta).
	 * The body goes once validated. */
	{
		struct snap_src src = { .doc = nn_cp_client_doc(d->cp),
					.text = f.body,
					.len = f.len,
					.drop = &f.body };

		out = apply_or_retry(d, &src, why);
	}
	if (out == NN_APPLY_APPLIED)
		nn_gwd_mark_synced(d);
	/* A snapshot we refused must not become the base of the next delta. */
	if (out == NN_APPLY_REJECTED)
		nn_cp_client_reset(d->cp);
	nn_cp_fetch_release(&f);
	return from_apply(out);
}

enum sync_outcome nn_gwd_file_sync(struct daemon *d, const char *why)
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
	out = nn_gwd_apply_or_retry(d, NULL, buf, n, why);
	free(buf);
	d->file_in_sync = out == NN_APPLY_APPLIED;
	if (d->file_in_sync)
		nn_gwd_mark_synced(d);
	return from_apply(out);
}

enum sync_outcome nn_gwd_sync_source(struct daemon *d, const char *why)
{
	return d->o->cp.url ? nn_gwd_cp_sync(d, why) : nn_gwd_file_sync(d, why);
}
