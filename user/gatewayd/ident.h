/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ident.h - the controller's side of its own identity (identity-v1.md):
 * WireGuard key rotation by coordinated cutover, the check of every
 * snapshot's gateway.public_key against the keys we hold, and the renewal
 * of the mTLS client certificate. Runs on the loop's thread only; what it
 * finds goes into nn_ctl_state.ident for the status and the metrics.
 *
 * Rotation (the order is what makes a crash at any point recoverable):
 *   1. a new key into wg.key.next;
 *   2. POST rotate-key {new public key, key_generation + 1};
 *   3. approved: the key set on wg0, wg.key.next moved over wg.key, the
 *      generation recorded in node.json;
 *   4. a 4xx refusal: wg.key.next deleted, counted; no answer (transport):
 *      kept, counted, asked again with backoff; an error answer (5xx,
 *      garbage): counted, and the control plane's snapshot decides.
 * Whenever wg.key.next exists and the rotation's outcome is not known (a
 * restart, an error answer), the next snapshot decides: it names the new
 * key (finish: steps 3), or the current one (abandon). A snapshot naming
 * neither is an identity error: refused whole, counted, the key kept.
 */
#ifndef NANAMI_GATEWAYD_IDENT_H
#define NANAMI_GATEWAYD_IDENT_H

#include <stdbool.h>
#include <stdint.h>

#include "cp/client.h"
#include "gatewayd/state.h"
#include "identity/identity.h"
#include "policy/policy.h"
#include "wg/reconcile.h"

struct nn_gw_ident {
	const char *state_dir;
	struct nn_ctl_state *st;
	struct nn_wg *wg;	 /* NULL: wg0 not managed (no rotation, no check) */
	struct nn_cp_client *cp; /* NULL: file mode */
	bool enrolled;		 /* node.json: rotation and renewal need it */
	struct nn_ident id;	 /* node.json */
	uint32_t key_lifetime_s; /* 0: no scheduled rotation */
	const char *cert_path;	 /* the client certificate in use (NULL: none) */
	uint32_t renew_base_ms;	 /* first retry of a failed renewal */

	bool has_next; /* wg.key.next on disk */
	uint8_t next[NN_KEY_LEN], next_pub[NN_KEY_LEN];
	bool decide; /* the outcome is the snapshot's to say */
	bool retry;  /* no answer: ask again at retry_at */
	unsigned int attempt;
	int64_t retry_at_ms;
	uint64_t served;	/* last socket request taken */
	uint64_t cur_request;	/* the request the pending rotation answers (0: none) */
	int64_t key_since_unix; /* wg.key's mtime: its age for --key-lifetime */
	int64_t sched_not_before_ms;
	int64_t cert_nb, cert_na; /* 0: unknown */
	bool renewable;		  /* cert_path is the state directory's tls.crt */
	int64_t renew_at_ms;	  /* next renewal attempt (0: by the lifetime) */
	unsigned int renew_attempt;
	bool expired_noted;
};

/* After wg0 is opened: pending rotation, key age, certificate times. */
void nn_gw_ident_init(struct nn_gw_ident *gi);

/*
 * A snapshot about to be applied, by its gateway key as the parser read it
 * (struct nn_policy's gw.key): 0 to go on (a pending rotation may have
 * been finished or abandoned on its word); -EPERM on an identity error,
 * with @msg saying what (the snapshot is then refused).
 */
int nn_gw_ident_check(struct nn_gw_ident *gi, const struct nn_gw_key *k, char *msg, size_t msglen);

/*
 * One turn of the loop: socket requests, the schedule, retries, the
 * certificate. True when the control plane's current snapshot should be
 * fetched and passed to nn_gw_ident_decide() (an outcome to settle).
 */
bool nn_gw_ident_tick(struct nn_gw_ident *gi, int64_t now_ms);
/* ... with the enforced snapshot's gateway key @k (NULL: none enforced). */
void nn_gw_ident_decide(struct nn_gw_ident *gi, const struct nn_gw_key *k);

#endif /* NANAMI_GATEWAYD_IDENT_H */
