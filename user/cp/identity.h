/* SPDX-License-Identifier: GPL-2.0 */
/*
 * identity.h - the control plane's identity endpoints (identity-v1.md):
 * enroll, rotate-key, renew-certificate, over the client's libcurl handle
 * and its TLS settings (verification never off; mTLS when the client has a
 * certificate, none for enroll: the token is the credential).
 *
 * Each returns 0 when an HTTP answer came back (whatever its status: the
 * caller decides what a 401 or a 409 means), with *resp the body when it is
 * one JSON object (NULL otherwise: garbage), or -errno when no answer came
 * (connect, TLS, timeout, size cap: the caller may retry those).
 */
#ifndef NANAMI_CP_IDENTITY_H
#define NANAMI_CP_IDENTITY_H

#include <stdint.h>

#include <jansson.h>

#include "cp/client.h"

/* Node id a client for enroll is created with: it names no node, and the
 * enroll path does not use it. */
#define NN_CP_ENROLL_NODE "enroll"

int nn_cp_post_json(struct nn_cp_client *c, const char *path, const json_t *req, long *status,
		    json_t **resp, char *err, size_t errlen);

/* POST /api/v1/nodes/enroll with @req ({enrollment_token, ...}). */
int nn_cp_enroll(struct nn_cp_client *c, const json_t *req, long *status, json_t **resp, char *err,
		 size_t errlen);

/* POST /api/v1/nodes/<node>/rotate-key {wireguard_public_key, key_generation}. */
int nn_cp_rotate_key(struct nn_cp_client *c, const char *node_id, const char *public_key_b64,
		     uint64_t key_generation, long *status, json_t **resp, char *err,
		     size_t errlen);

/* POST /api/v1/nodes/<node>/renew-certificate {csr}. */
int nn_cp_renew_cert(struct nn_cp_client *c, const char *node_id, const char *csr_pem, long *status,
		     json_t **resp, char *err, size_t errlen);

#endif /* NANAMI_CP_IDENTITY_H */
