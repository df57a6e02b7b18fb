// SPDX-License-Identifier: GPL-2.0
/*
 * state.c - the controller's own state (see state.h): recorders for the
 * control loop and the status document the control socket serves.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "gatewayd/state.h"

const char *nn_cp_state_name(int state)
{
	static const char *const names[] = { "none", "down", "polling", "stream" };

	return state >= 0 && state < 4 ? names[state] : "unknown";
}

void nn_ctl_state_init(struct nn_ctl_state *st)
{
	memset(st, 0, sizeof(*st));
	pthread_mutex_init(&st->mu, NULL);
	st->last_rejection.generation = -1;
	st->last_apply_error.generation = -1;
	st->ident.key_generation = -1;
	st->info.wake_fd = -1;
}

const char *nn_ident_err_name(int kind)
{
	static const char *const names[] = { "key_mismatch", "bad_key", "certificate_expired",
					     "renewal_failed", "files" };

	return kind >= 0 && kind < NN_IDERR_MAX ? names[kind] : "unknown";
}

void nn_ctl_note_ident_error(struct nn_ctl_state *st, enum nn_ident_err_kind kind, const char *msg)
{
	if ((unsigned int)kind >= NN_IDERR_MAX)
		kind = NN_IDERR_FILES;
	pthread_mutex_lock(&st->mu);
	st->ident.errors[kind]++;
	st->ident.last_error_unix = time(NULL);
	st->ident.last_error_kind = kind;
	snprintf(st->ident.last_error, sizeof(st->ident.last_error), "%s", msg);
	pthread_mutex_unlock(&st->mu);
}

uint64_t nn_ctl_request_rotation(struct nn_ctl_state *st)
{
	uint64_t one = 1, n;

	pthread_mutex_lock(&st->mu);
	n = ++st->ident.rotate_requested;
	pthread_mutex_unlock(&st->mu);
	/* A failed wake-up only delays: the loop looks once a second. */
	if (st->info.wake_fd >= 0 && write(st->info.wake_fd, &one, sizeof(one)) < 0)
		n += 0;
	return n;
}

void nn_ctl_state_destroy(struct nn_ctl_state *st)
{
	pthread_mutex_lock(&st->mu);
	free(st->peers);
	st->peers = NULL;
	st->n_peers = 0;
	pthread_mutex_unlock(&st->mu);
}

static void note(struct nn_ctl_state *st, struct nn_ctl_event *e, const char *trigger,
		 int64_t generation, const char *const *msgs, size_t n)
{
	size_t i;

	pthread_mutex_lock(&st->mu);
	e->at_unix = time(NULL);
	e->seq = ++st->seq;
	snprintf(e->trigger, sizeof(e->trigger), "%s", trigger);
	e->generation = generation;
	e->n_reasons = n < NN_CTL_MAX_REASONS ? n : NN_CTL_MAX_REASONS;
	e->more = n - e->n_reasons;
	for (i = 0; i < e->n_reasons; i++)
		snprintf(e->reasons[i], NN_CTL_MSG_MAX, "%s", msgs[i]);
	pthread_mutex_unlock(&st->mu);
}

void nn_ctl_note_rejection(struct nn_ctl_state *st, const char *trigger, int64_t generation,
			   const char *const *msgs, size_t n)
{
	note(st, &st->last_rejection, trigger, generation, msgs, n);
	pthread_mutex_lock(&st->mu);
	st->snapshots_rejected++;
	pthread_mutex_unlock(&st->mu);
}

void nn_ctl_note_apply_error(struct nn_ctl_state *st, const char *trigger, int64_t generation,
			     const char *const *msgs, size_t n)
{
	note(st, &st->last_apply_error, trigger, generation, msgs, n);
	pthread_mutex_lock(&st->mu);
	st->apply_failures++;
	pthread_mutex_unlock(&st->mu);
}

/* From a few ms (a one-device change) to tens of seconds (a cold 100k
 * apply under load): the range an operator needs to tell them apart. */
const double nn_apply_bucket_s[NN_APPLY_BUCKETS] = { 0.001, 0.005, 0.01, 0.025, 0.05, 0.1,
						     0.25,  0.5,   1,	 2.5,	5,    10 };

void nn_ctl_note_apply_time(struct nn_ctl_state *st, enum nn_apply_kind kind, double seconds)
{
	struct nn_apply_hist *h;
	int i;

	if ((unsigned int)kind >= NN_APPLY_KIND_MAX || seconds < 0)
		return;
	pthread_mutex_lock(&st->mu);
	h = &st->apply_time[kind];
	for (i = 0; i < NN_APPLY_BUCKETS; i++)
		if (seconds <= nn_apply_bucket_s[i])
			h->le[i]++;
	h->count++;
	h->sum_s += seconds;
	h->last_s = seconds;
	pthread_mutex_unlock(&st->mu);
}

void nn_ctl_note_applied(struct nn_ctl_state *st, uint64_t generation, uint64_t writes)
{
	pthread_mutex_lock(&st->mu);
	st->applied_generation = generation;
	st->map_writes += writes;
	st->last_applied_unix = time(NULL);
	st->last_applied_seq = ++st->seq;
	pthread_mutex_unlock(&st->mu);
}

void nn_ctl_note_cp_error(struct nn_ctl_state *st, enum nn_cp_err_kind kind, const char *msg)
{
	if ((unsigned int)kind >= NN_CP_ERR_MAX || kind == NN_CP_ERR_NONE)
		kind = NN_CP_ERR_OTHER;
	pthread_mutex_lock(&st->mu);
	st->cp_errors[kind]++;
	st->cp_last_error_unix = time(NULL);
	st->cp_last_error_kind = kind;
	snprintf(st->cp_last_error, sizeof(st->cp_last_error), "%s", msg);
	pthread_mutex_unlock(&st->mu);
}

void nn_ctl_note_wg(struct nn_ctl_state *st, const struct nn_wg_counters *c, int err)
{
	pthread_mutex_lock(&st->mu);
	st->wg_checked_unix = time(NULL);
	st->wg_err = err;
	if (err)
		st->wg_errors++;
	if (c)
		st->wg_last = *c;
	pthread_mutex_unlock(&st->mu);
}

void nn_ctl_set_node_id(struct nn_ctl_state *st, const char *node_id)
{
	pthread_mutex_lock(&st->mu);
	snprintf(st->node_id, sizeof(st->node_id), "%s", node_id);
	pthread_mutex_unlock(&st->mu);
}

static json_t *when(int64_t t);

int64_t nn_ctl_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void nn_ctl_note_synced(struct nn_ctl_state *st)
{
	pthread_mutex_lock(&st->mu);
	st->last_sync_unix = time(NULL);
	st->last_sync_mono_ms = nn_ctl_mono_ms();
	pthread_mutex_unlock(&st->mu);
}

int64_t nn_ctl_since_sync_s(const struct nn_ctl_state *st)
{
	if (!st->last_sync_unix)
		return -1;
	return (nn_ctl_mono_ms() - st->last_sync_mono_ms) / 1000;
}

void nn_ctl_note_lkg_write(struct nn_ctl_state *st, uint64_t generation, const char *err)
{
	pthread_mutex_lock(&st->mu);
	if (err) {
		st->lkg.write_errors++;
		st->lkg.error_unix = time(NULL);
		snprintf(st->lkg.error, sizeof(st->lkg.error), "%s", err);
	} else {
		st->lkg.generation = generation;
		st->lkg.error_unix = 0;
		st->lkg.error[0] = 0;
	}
	pthread_mutex_unlock(&st->mu);
}

void nn_ctl_note_lkg_read(struct nn_ctl_state *st, uint64_t generation, const char *err)
{
	pthread_mutex_lock(&st->mu);
	st->lkg.generation = generation;
	st->lkg.error_unix = err ? time(NULL) : 0;
	snprintf(st->lkg.error, sizeof(st->lkg.error), "%s", err ? err : "");
	pthread_mutex_unlock(&st->mu);
}

static json_t *lkg_json(const struct nn_ctl_state *st)
{
	return json_pack("{s:o,s:I,s:o,s:o}", "generation",
			 st->lkg.generation ? json_integer((json_int_t)st->lkg.generation) :
					      json_null(),
			 "write_errors", (json_int_t)st->lkg.write_errors, "error",
			 st->lkg.error_unix ? json_string(st->lkg.error) : json_null(), "error_at",
			 when(st->lkg.error_unix));
}

/* RFC 3339 in UTC, or null for 0 (never). */
static json_t *when(int64_t t)
{
	struct tm tm;
	time_t tt = (time_t)t;
	char buf[32];

	if (!t || !gmtime_r(&tt, &tm))
		return json_null();
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
	return json_string(buf);
}

static json_t *str_or_null(const char *s)
{
	return s && *s ? json_string(s) : json_null();
}

/* A rejection or apply error; "current": nothing applied since. */
static json_t *event_json(const struct nn_ctl_event *e, uint64_t last_applied_seq)
{
	json_t *r;
	size_t i;

	if (!e->at_unix)
		return json_null();
	r = json_array();
	for (i = 0; i < e->n_reasons; i++)
		json_array_append_new(r, json_string(e->reasons[i]));
	return json_pack("{s:o,s:I,s:s,s:o,s:o,s:I,s:b}", "at", when(e->at_unix), "at_unix",
			 (json_int_t)e->at_unix, "trigger", e->trigger, "generation",
			 e->generation >= 0 ? json_integer(e->generation) : json_null(), "reasons",
			 r, "reasons_not_kept", (json_int_t)e->more, "current",
			 e->seq > last_applied_seq);
}

static json_t *cp_json(const struct nn_ctl_state *st)
{
	json_t *errs = json_object(), *last = json_null();
	int k;

	for (k = 1; k < NN_CP_ERR_MAX; k++)
		json_object_set_new(errs, nn_cp_err_kind_name(k), json_integer(st->cp_errors[k]));
	if (st->cp_last_error_unix)
		last = json_pack("{s:s,s:s,s:o,s:I}", "kind",
				 nn_cp_err_kind_name(st->cp_last_error_kind), "message",
				 st->cp_last_error, "at", when(st->cp_last_error_unix), "at_unix",
				 (json_int_t)st->cp_last_error_unix);
	return json_pack("{s:s,s:o,s:o,s:s,s:o,s:o}", "mode",
			 st->info.cp_url ? "control_plane" : "file", "url",
			 str_or_null(st->info.cp_url), "file", str_or_null(st->info.assignments),
			 "state", nn_cp_state_name(st->cp_state), "errors_total", errs,
			 "last_error", last);
}

static json_t *wg_json(const struct nn_ctl_state *st)
{
	const struct nn_wg_counters *c = &st->wg_last;
	bool managed = strcmp(st->info.wg_backend ? st->info.wg_backend : "none", "none");
	json_t *found = json_null(), *in_sync = json_null();

	if (managed && st->wg_checked_unix) {
		found = json_pack("{s:i,s:i,s:i,s:i,s:i,s:b,s:b,s:b,s:i}", "peers_added", c->added,
				  "peers_removed", c->removed, "peers_updated", c->updated,
				  "allowed_ips_repaired", c->allowed_ips_repaired, "keys_rotated",
				  c->keys_rotated, "private_key_set", c->private_key_set,
				  "listen_port_set", c->listen_port_set, "mtu_set", c->mtu_set,
				  "desired_peers", c->peers);
		in_sync = json_boolean(!st->wg_err && !nn_wg_counters_changes(c) &&
				       !c->private_key_set && !c->listen_port_set && !c->mtu_set);
	}
	return json_pack("{s:s,s:s,s:o,s:o,s:o,s:o,s:I}", "backend",
			 st->info.wg_backend ? st->info.wg_backend : "none", "iface",
			 st->info.iface, "in_sync", in_sync, "checked_at",
			 when(managed ? st->wg_checked_unix : 0), "last_reconcile", found, "error",
			 st->wg_err ? json_string(strerror(-st->wg_err)) : json_null(), "peers",
			 (json_int_t)st->n_peers);
}

/* The gateway's own identity (identity-v1.md): enrollment, key rotation,
 * the client certificate, identity errors. Caller holds mu. */
static json_t *identity_json(const struct nn_ctl_state *st)
{
	const struct nn_ctl_ident *id = &st->ident;
	json_t *rot = json_null(), *last = json_null(), *errs = json_object();
	int k;

	if (id->last_rotation.at_unix)
		rot = json_pack("{s:s,s:s,s:o,s:I,s:o,s:I,s:s}", "result", id->last_rotation.result,
				"trigger", id->last_rotation.trigger, "at",
				when(id->last_rotation.at_unix), "request",
				(json_int_t)id->last_rotation.request, "http_status",
				id->last_rotation.http_status ?
					json_integer(id->last_rotation.http_status) :
					json_null(),
				"key_generation", (json_int_t)id->last_rotation.key_generation,
				"message", id->last_rotation.message);
	if (id->last_error_unix)
		last = json_pack("{s:s,s:s,s:o}", "kind", nn_ident_err_name(id->last_error_kind),
				 "message", id->last_error, "at", when(id->last_error_unix));
	for (k = 0; k < NN_IDERR_MAX; k++)
		json_object_set_new(errs, nn_ident_err_name(k),
				    json_integer((json_int_t)id->errors[k]));
	return json_pack("{s:o,s:o,s:o,s:b,s:o,s:o,s:b,s:I,s:I,s:o,s:o,s:o,s:o}", "node_id",
			 str_or_null(st->node_id), "wg_public_key",
			 str_or_null(st->info.wg_public_key), "key_generation",
			 id->key_generation >= 0 ? json_integer(id->key_generation) : json_null(),
			 "enrolled", id->enrolled, "certificate_expires_at",
			 when(id->cert_expires_unix), "certificate_expires_unix",
			 id->cert_expires_unix ? json_integer(id->cert_expires_unix) : json_null(),
			 "pending_rotation", id->pending_rotation, "rotate_requests",
			 (json_int_t)id->rotate_requested, "rotation_failures",
			 (json_int_t)id->rotation_failures, "last_rotation", rot, "errors_total",
			 errs, "last_error", last, "certificate_renewed_at",
			 when(id->cert_renewed_unix));
}

json_t *nn_ctl_status_json(struct nn_ctl_state *st, int64_t now)
{
	json_t *root;

	pthread_mutex_lock(&st->mu);
	root = json_pack("{s:s,s:s,s:s,s:s,s:i,s:o,s:I,s:o,s:{s:I,s:o,s:o,s:o,s:o},s:o,s:o,s:o,s:o,"
			 "s:{s:I,s:I,s:I,s:I,s:I}}",
			 "iface", st->info.iface, "pin_dir", st->info.pin_dir, "state_dir",
			 st->info.state_dir, "hook", st->info.hook ? st->info.hook : "tc", "pid",
			 (int)getpid(), "started_at", when(st->info.started_unix), "uptime_s",
			 (json_int_t)(now - st->info.started_unix), "control_plane", cp_json(st),
			 "sync", "applied_generation", (json_int_t)st->applied_generation,
			 "applied_at", when(st->last_applied_unix), "last_sync_at",
			 when(st->last_sync_unix), "last_sync_unix",
			 st->last_sync_unix ? json_integer(st->last_sync_unix) : json_null(),
			 "seconds_since_last_sync",
			 st->last_sync_unix ? json_integer(nn_ctl_since_sync_s(st)) : json_null(),
			 "last_rejection", event_json(&st->last_rejection, st->last_applied_seq),
			 "last_apply_error",
			 event_json(&st->last_apply_error, st->last_applied_seq), "wg", wg_json(st),
			 "identity", identity_json(st), "counters", "validation_errors",
			 (json_int_t)st->validation_errors, "apply_errors",
			 (json_int_t)st->apply_errors, "drift_repairs",
			 (json_int_t)st->drift_repairs, "map_writes", (json_int_t)st->map_writes,
			 "wg_changes", (json_int_t)st->wg_changes);
	json_object_set_new(root, "last_known_good", lkg_json(st));
	pthread_mutex_unlock(&st->mu);
	return root;
}
