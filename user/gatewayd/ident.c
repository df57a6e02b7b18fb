// SPDX-License-Identifier: GPL-2.0
/* ident.c - key rotation, snapshot key checks, certificate renewal (ident.h). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cp/identity.h"
#include "gatewayd/ident.h"
#include "lib/log.h"
#include "wg/device.h"

#define RETRY_BASE_MS 1000
#define RETRY_MAX_MS 60000
#define RENEW_MAX_MS (3600 * 1000)
#define SCHED_RETRY_MS (3600 * 1000) /* a refused scheduled rotation: again in an hour */
#define EXPIRED_LOG_S 3600

static int64_t wall(void)
{
	return (int64_t)time(NULL);
}

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Test hook: NN_TEST_ROTATE_CRASH_AT=N kills the daemon (SIGKILL, as
 * `kill -9` would) right after step N of the rotation: 1 wg.key.next
 * written, 2 the approval received, 3 the key set on wg0. The tests check
 * that the restart converges from each.
 */
static void crash_point(int step)
{
	const char *s = getenv("NN_TEST_ROTATE_CRASH_AT");

	if (s && atoi(s) == step) {
		nn_log_warn("event=test_crash step=%d note=\"NN_TEST_ROTATE_CRASH_AT\"", step);
		raise(SIGKILL);
	}
}

static void note_result(struct nn_gw_ident *gi, const char *trigger, uint64_t request,
			const char *result, long http_status, const char *msg, bool failure)
{
	struct nn_ctl_ident *id = &gi->st->ident;

	if (!request)
		request = gi->cur_request;
	pthread_mutex_lock(&gi->st->mu);
	id->last_rotation.at_unix = wall();
	id->last_rotation.request = request;
	snprintf(id->last_rotation.trigger, sizeof(id->last_rotation.trigger), "%s", trigger);
	snprintf(id->last_rotation.result, sizeof(id->last_rotation.result), "%s", result);
	id->last_rotation.http_status = http_status;
	id->last_rotation.key_generation = gi->id.key_generation;
	snprintf(id->last_rotation.message, sizeof(id->last_rotation.message), "%s", msg);
	id->rotation_failures += failure;
	id->pending_rotation = gi->has_next;
	pthread_mutex_unlock(&gi->st->mu);
}

static void files_error(struct nn_gw_ident *gi, const char *what, int err)
{
	char m[NN_CTL_MSG_MAX];

	snprintf(m, sizeof(m), "%s: %s", what, strerror(-err));
	nn_log_err("event=identity_error kind=files state_dir=%s error=\"%s\"", gi->state_dir, m);
	nn_ctl_note_ident_error(gi->st, NN_IDERR_FILES, m);
}

static void key_age_reset(struct nn_gw_ident *gi)
{
	char p[4096];
	struct stat s;

	gi->key_since_unix = wall();
	if (!nn_ident_path(gi->state_dir, NN_IDENT_WG_KEY, p, sizeof(p)) && !stat(p, &s))
		gi->key_since_unix = s.st_mtime;
}

/* Step 3: wg0 first, then the file, then the generation. */
static int finish(struct nn_gw_ident *gi, uint64_t gen, const char *trigger, uint64_t request,
		  long http_status)
{
	char b64[NN_KEY_B64_SIZE], m[NN_CTL_MSG_MAX];
	int e;

	crash_point(2);
	e = nn_wg_set_private_key(gi->wg, gi->next);
	if (e) {
		/* wg.key.next stays: the next snapshot naming it finishes. */
		snprintf(m, sizeof(m), "approved, but setting the key on %s failed: %s",
			 gi->wg->iface, strerror(-e));
		nn_log_err("event=key_rotation result=error error=\"%s\"", m);
		gi->decide = true;
		note_result(gi, trigger, request, "pending", http_status, m, true);
		return e;
	}
	crash_point(3);
	e = nn_ident_rotation_commit(gi->state_dir);
	if (e)
		files_error(gi, "moving wg.key.next over wg.key", e);
	gi->has_next = gi->decide = gi->retry = false;
	gi->attempt = 0;
	explicit_bzero(gi->next, sizeof(gi->next));
	gi->id.key_generation = gen;
	e = nn_ident_store(gi->state_dir, &gi->id, false, m, sizeof(m));
	if (e)
		files_error(gi, "recording key_generation in node.json", e);
	key_age_reset(gi);
	nn_key_to_base64(gi->wg->public_key, b64);
	pthread_mutex_lock(&gi->st->mu);
	snprintf(gi->st->info.wg_public_key, sizeof(gi->st->info.wg_public_key), "%s", b64);
	gi->st->ident.key_generation = (int64_t)gen;
	pthread_mutex_unlock(&gi->st->mu);
	snprintf(m, sizeof(m), "wg0 runs the new key %s (generation %llu)", b64,
		 (unsigned long long)gen);
	nn_log_info("event=key_rotated public_key=%s key_generation=%llu trigger=%s", b64,
		    (unsigned long long)gen, trigger);
	/* approved: the answer said so; finished: the snapshot did. */
	note_result(gi, trigger, request, http_status ? "approved" : "finished", http_status, m,
		    false);
	gi->cur_request = 0;
	return 0;
}

static void abandon(struct nn_gw_ident *gi)
{
	int e = nn_ident_rotation_abandon(gi->state_dir);

	if (e)
		files_error(gi, "deleting wg.key.next", e);
	gi->has_next = gi->decide = gi->retry = false;
	gi->attempt = 0;
	explicit_bzero(gi->next, sizeof(gi->next));
}

void nn_gw_ident_init(struct nn_gw_ident *gi)
{
	char m[256], p[4096];
	int e;

	key_age_reset(gi);
	/* Only the state directory's own pair is ours to renew: a --cert
	 * given by hand is the operator's. */
	gi->renewable = gi->enrolled && gi->cert_path &&
			!nn_ident_path(gi->state_dir, NN_IDENT_TLS_CRT, p, sizeof(p)) &&
			!strcmp(p, gi->cert_path);
	if (gi->cert_path &&
	    nn_tls_cert_times(gi->cert_path, &gi->cert_nb, &gi->cert_na, m, sizeof(m))) {
		nn_log_warn("event=certificate error=\"%s\"", m);
		gi->cert_nb = gi->cert_na = 0;
	}
	pthread_mutex_lock(&gi->st->mu);
	gi->st->ident.enrolled = gi->enrolled;
	if (gi->enrolled)
		gi->st->ident.key_generation = (int64_t)gi->id.key_generation;
	gi->st->ident.cert_expires_unix = gi->cert_na;
	pthread_mutex_unlock(&gi->st->mu);
	if (!gi->wg || !gi->enrolled)
		return;
	e = nn_ident_read_wg_key(gi->state_dir, NN_IDENT_WG_NEXT, gi->next);
	if (e == -ENOENT)
		return;
	if (!e)
		e = nn_wg_public_key(gi->next, gi->next_pub);
	if (e) {
		/* An unreadable half of a rotation cannot be finished: the
		 * control plane cannot hold a key we never sent. */
		nn_log_warn("event=key_rotation result=abandoned reason=\"wg.key.next unusable: "
			    "%s\"",
			    strerror(-e));
		abandon(gi);
		return;
	}
	gi->has_next = gi->decide = true;
	pthread_mutex_lock(&gi->st->mu);
	gi->st->ident.pending_rotation = true;
	pthread_mutex_unlock(&gi->st->mu);
	nn_log_info("event=key_rotation state=pending note=\"wg.key.next found at start: the "
		    "control plane's snapshot decides whether it is finished or abandoned\"");
}

int nn_gw_ident_check(struct nn_gw_ident *gi, const struct nn_gw_key *k, char *msg, size_t msglen)
{
	const uint8_t *pub = k->public_key;
	char b64[NN_KEY_B64_SIZE];
	bool has_key = k->has_key, has_gen = k->has_gen;
	uint64_t gen = k->gen;
	enum nn_key_match m;

	if (!gi->wg)
		return 0;
	if (k->unreadable) {
		snprintf(msg, msglen, "gateway.public_key or gateway.key_generation is unreadable");
		nn_log_err("event=identity_error kind=bad_key error=\"%s\"", msg);
		nn_ctl_note_ident_error(gi->st, NN_IDERR_BAD_KEY, msg);
		return -EPERM;
	}
	m = nn_ident_key_match(gi->wg->public_key, gi->has_next ? gi->next_pub : NULL, pub,
			       has_key);
	switch (m) {
	case NN_KEY_NEXT:
		nn_log_info("event=key_rotation state=confirmed note=\"the control plane holds "
			    "the new key\"");
		finish(gi, has_gen ? gen : gi->id.key_generation + 1,
		       gi->cur_request ? "request" : "restart", 0, 0);
		return 0;
	case NN_KEY_CURRENT:
		if (!gi->enrolled && has_gen) {
			pthread_mutex_lock(&gi->st->mu);
			gi->st->ident.key_generation = (int64_t)gen;
			pthread_mutex_unlock(&gi->st->mu);
		}
		/* The control plane kept our current key: a rotation whose
		 * outcome was unknown did not happen. One still being asked
		 * for (no answer yet) goes on. */
		if (gi->has_next && gi->decide && !gi->retry) {
			nn_log_info("event=key_rotation result=abandoned reason=\"the control "
				    "plane holds the current key\"");
			abandon(gi);
			note_result(gi, gi->cur_request ? "request" : "restart", 0, "abandoned", 0,
				    "the control plane holds the current key: wg.key.next deleted",
				    false);
			gi->cur_request = 0;
		}
		return 0;
	case NN_KEY_UNNAMED:
		/* Without the key it holds, the control plane cannot settle an
		 * unknown outcome: start over rather than guess. */
		if (gi->has_next && gi->decide && !gi->retry) {
			nn_log_warn("event=key_rotation result=abandoned reason=\"the snapshot "
				    "carries no gateway.public_key\"");
			abandon(gi);
			note_result(
				gi, "restart", 0, "abandoned", 0,
				"the snapshot carries no gateway.public_key: wg.key.next deleted",
				false);
		}
		return 0;
	case NN_KEY_NEITHER:
		break;
	}
	nn_key_to_base64(pub, b64);
	snprintf(msg, msglen,
		 "identity error: the snapshot's gateway.public_key %s is neither our key %s%s; "
		 "keeping the key and the last applied policy",
		 b64, gi->wg->public_key_b64, gi->has_next ? " nor the pending one" : "");
	nn_log_err("event=identity_error kind=key_mismatch snapshot_key=%s our_key=%s", b64,
		   gi->wg->public_key_b64);
	nn_ctl_note_ident_error(gi->st, NN_IDERR_KEY_MISMATCH, msg);
	return -EPERM;
}

void nn_gw_ident_decide(struct nn_gw_ident *gi, const struct nn_gw_key *k)
{
	char m[NN_CTL_MSG_MAX];

	if (!gi->has_next || !gi->decide || !k)
		return;
	/* The key as the snapshot parser read it when the snapshot was
	 * validated (nn_gw_key_read: what a parse of its text gives); the
	 * daemon keeps no text to read it from again. */
	nn_gw_ident_check(gi, k, m, sizeof(m));
}

/* Steps 1-4 (ident.h). True when the snapshot must settle the outcome. */
static bool rotate(struct nn_gw_ident *gi, const char *trigger, uint64_t request)
{
	char b64[NN_KEY_B64_SIZE], err[512], m[NN_CTL_MSG_MAX];
	uint64_t gen = gi->id.key_generation + 1;
	json_t *resp = NULL, *a, *g;
	long status = 0;
	unsigned int ms;
	int e;

	if (request)
		gi->cur_request = request;
	if (!gi->has_next) {
		e = nn_ident_rotation_begin(gi->state_dir, gi->next);
		if (!e)
			e = nn_wg_public_key(gi->next, gi->next_pub);
		if (e) {
			files_error(gi, "writing wg.key.next", e);
			note_result(gi, trigger, request, "error", 0, "couldn't write wg.key.next",
				    true);
			return false;
		}
		gi->has_next = true;
		gi->decide = false;
		note_result(gi, trigger, request, "pending", 0, "wg.key.next written", false);
		crash_point(1);
	}
	nn_key_to_base64(gi->next_pub, b64);
	nn_log_info("event=key_rotation state=requesting public_key=%s key_generation=%llu "
		    "trigger=%s",
		    b64, (unsigned long long)gen, trigger);
	e = nn_cp_rotate_key(gi->cp, gi->id.node_id, b64, gen, &status, &resp, err, sizeof(err));
	if (e) {
		ms = nn_cp_backoff_ms(gi->attempt++, RETRY_BASE_MS, RETRY_MAX_MS, nn_cp_random());
		gi->retry = true;
		gi->retry_at_ms = mono_ms() + ms;
		snprintf(m, sizeof(m), "no answer (%.250s); asking again in %u ms", err, ms);
		nn_log_warn("event=key_rotation result=transport_error error=\"%s\" retry_in_ms=%u",
			    err, ms);
		note_result(gi, trigger, request, "transport_error", 0, m, true);
		return false;
	}
	gi->retry = false;
	a = json_object_get(resp, "approved");
	g = json_object_get(resp, "key_generation");
	if (status == 200 && json_is_true(a) && json_is_integer(g) && json_integer_value(g) >= 1) {
		gen = (uint64_t)json_integer_value(g);
		json_decref(resp);
		gi->decide = false;
		finish(gi, gen, trigger, request, status);
		return false;
	}
	if (status >= 400 && status < 500) {
		const char *why = json_string_value(json_object_get(resp, "error"));

		snprintf(m, sizeof(m), "refused: HTTP %ld%s%s%s", status,
			 status == 409 ? " (key_generation is not current + 1: another rotation "
					 "won)" :
			 status == 403 ? " (this node may not rotate)" :
					 "",
			 why ? ": " : "", why ? why : "");
		json_decref(resp);
		abandon(gi);
		nn_log_warn("event=key_rotation result=refused http_status=%ld reason=\"%s\"",
			    status, m);
		note_result(gi, trigger, request, "refused", status, m, true);
		gi->cur_request = 0;
		return false;
	}
	/* A 5xx or an answer we cannot read: the control plane may or may not
	 * have taken the key. Its snapshot says which. */
	json_decref(resp);
	snprintf(m, sizeof(m), "%s (HTTP %ld): the control plane's snapshot decides",
		 status >= 500 ? "error answer" : "unreadable answer", status);
	nn_log_warn("event=key_rotation result=error http_status=%ld reason=\"%s\"", status, m);
	gi->decide = true;
	note_result(gi, trigger, request, "error", status, m, true);
	return true;
}

static void check_expiry(struct nn_gw_ident *gi)
{
	char m[NN_CTL_MSG_MAX];
	int64_t now = wall();

	if (!gi->cert_na || now < gi->cert_na) {
		gi->expired_noted = false;
		return;
	}
	if (gi->expired_noted)
		return;
	gi->expired_noted = true;
	snprintf(m, sizeof(m),
		 "the client certificate %s expired at %lld: the control plane will refuse us; "
		 "the dataplane keeps enforcing the last applied state",
		 gi->cert_path, (long long)gi->cert_na);
	nn_log_err("event=identity_error kind=certificate_expired cert=%s not_after=%lld",
		   gi->cert_path, (long long)gi->cert_na);
	nn_ctl_note_ident_error(gi->st, NN_IDERR_CERT_EXPIRED, m);
}

/* A new key and certificate, switched to only once both are written and
 * the certificate verified against the CA with the new key. */
static int renew(struct nn_gw_ident *gi, char *err, size_t errlen)
{
	char *key_pem = NULL, *csr = NULL, *ca = NULL, ca_path[4096];
	const char *cert;
	json_t *resp = NULL;
	int64_t nb, na;
	long status = 0;
	int e;

	e = nn_ident_path(gi->state_dir, NN_IDENT_CA, ca_path, sizeof(ca_path));
	if (!e)
		e = nn_ident_read_file(ca_path, NN_IDENT_PEM_MAX, &ca, NULL);
	if (e) {
		snprintf(err, errlen, "%.300s: %s", ca_path, strerror(-e));
		goto out;
	}
	e = nn_tls_new_key_csr(gi->id.node_id, &key_pem, &csr, err, errlen);
	if (e)
		goto out;
	e = nn_cp_renew_cert(gi->cp, gi->id.node_id, csr, &status, &resp, err, errlen);
	if (e)
		goto out;
	cert = json_string_value(json_object_get(resp, "certificate"));
	if (status != 200 || !cert) {
		snprintf(err, errlen, "renew-certificate answered HTTP %ld%s", status,
			 status == 200 ? " without a certificate" : "");
		e = -EPROTO;
		goto out;
	}
	e = nn_tls_check_cert(cert, key_pem, ca, &nb, &na, err, errlen);
	if (e)
		goto out;
	e = nn_ident_write_file(gi->state_dir, NN_IDENT_TLS_KEY, key_pem, strlen(key_pem), 0600,
				true);
	if (!e)
		e = nn_ident_write_file(gi->state_dir, NN_IDENT_TLS_CRT, cert, strlen(cert), 0644,
					true);
	if (!e)
		e = nn_ident_commit_file(gi->state_dir, NN_IDENT_TLS_KEY);
	if (!e)
		e = nn_ident_commit_file(gi->state_dir, NN_IDENT_TLS_CRT);
	if (e) {
		snprintf(err, errlen, "writing the new key and certificate: %s", strerror(-e));
		goto out;
	}
	gi->cert_nb = nb;
	gi->cert_na = na;
out:
	if (key_pem)
		explicit_bzero(key_pem, strlen(key_pem));
	free(key_pem);
	free(csr);
	free(ca);
	json_decref(resp);
	return e;
}

static void maybe_renew(struct nn_gw_ident *gi, int64_t now_ms)
{
	int64_t now = wall(), life = gi->cert_na - gi->cert_nb;
	char err[512];
	unsigned int ms;

	if (!gi->enrolled || !gi->cp || !gi->cert_na || life <= 0 || !gi->renewable)
		return;
	if (gi->renew_at_ms ? now_ms < gi->renew_at_ms : now < gi->cert_na - life / 3)
		return;
	if (renew(gi, err, sizeof(err))) {
		ms = nn_cp_backoff_ms(gi->renew_attempt++, gi->renew_base_ms ?: RETRY_BASE_MS,
				      RENEW_MAX_MS, nn_cp_random());
		gi->renew_at_ms = now_ms + ms;
		nn_log_err("event=identity_error kind=renewal_failed error=\"%s\" retry_in_ms=%u",
			   err, ms);
		nn_ctl_note_ident_error(gi->st, NN_IDERR_RENEWAL, err);
		return;
	}
	gi->renew_attempt = 0;
	gi->renew_at_ms = 0;
	gi->expired_noted = false;
	nn_log_info("event=certificate_renewed not_before=%lld not_after=%lld",
		    (long long)gi->cert_nb, (long long)gi->cert_na);
	pthread_mutex_lock(&gi->st->mu);
	gi->st->ident.cert_expires_unix = gi->cert_na;
	gi->st->ident.cert_renewed_unix = now;
	pthread_mutex_unlock(&gi->st->mu);
}

bool nn_gw_ident_tick(struct nn_gw_ident *gi, int64_t now_ms)
{
	uint64_t req;
	bool want = false;

	check_expiry(gi);
	maybe_renew(gi, now_ms);
	if (!gi->wg || !gi->cp || !gi->enrolled)
		return false;
	pthread_mutex_lock(&gi->st->mu);
	req = gi->st->ident.rotate_requested;
	pthread_mutex_unlock(&gi->st->mu);
	if (req > gi->served) {
		/* An unsettled rotation first: the request stays for the
		 * next turn. Requests that came together are one rotation. */
		if (gi->has_next && gi->decide)
			return true;
		gi->served = req;
		gi->attempt = 0;
		return rotate(gi, "request", req);
	}
	if (gi->has_next && gi->retry && now_ms >= gi->retry_at_ms)
		return rotate(gi, "retry", 0);
	if (gi->key_lifetime_s && !gi->has_next && now_ms >= gi->sched_not_before_ms &&
	    wall() - gi->key_since_unix >= (int64_t)gi->key_lifetime_s) {
		want = rotate(gi, "schedule", 0);
		if (gi->has_next || strcmp(gi->st->ident.last_rotation.result, "approved"))
			gi->sched_not_before_ms = now_ms + SCHED_RETRY_MS;
	}
	return want;
}
