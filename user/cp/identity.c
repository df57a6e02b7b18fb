// SPDX-License-Identifier: GPL-2.0
/*
 * identity.c - requests to the identity endpoints (identity.h). The answer
 * is only parsed here (one JSON object, no duplicate keys); what it must
 * hold is checked by the caller, before anything is written.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cp/identity.h"

int nn_cp_post_json(struct nn_cp_client *c, const char *path, const json_t *req, long *status,
		    json_t **resp, char *err, size_t errlen)
{
	char *body = json_dumps(req, JSON_COMPACT), *text = NULL;
	json_t *j;
	int e;

	*resp = NULL;
	*status = 0;
	if (!body)
		return -ENOMEM;
	e = nn_cp_request(c, "POST", path, body, status, &text, err, errlen);
	explicit_bzero(body, strlen(body)); /* may hold the enrollment token */
	free(body);
	if (e)
		return e;
	j = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
	free(text);
	if (json_is_object(j))
		*resp = j;
	else
		json_decref(j);
	return 0;
}

int nn_cp_enroll(struct nn_cp_client *c, const json_t *req, long *status, json_t **resp, char *err,
		 size_t errlen)
{
	return nn_cp_post_json(c, "/api/v1/nodes/enroll", req, status, resp, err, errlen);
}

static int node_post(struct nn_cp_client *c, const char *node_id, const char *what, json_t *req,
		     long *status, json_t **resp, char *err, size_t errlen)
{
	char path[512];
	int e;

	*resp = NULL;
	if (!req)
		return -ENOMEM;
	snprintf(path, sizeof(path), "/api/v1/nodes/%s/%s", node_id, what);
	e = nn_cp_post_json(c, path, req, status, resp, err, errlen);
	json_decref(req);
	return e;
}

int nn_cp_rotate_key(struct nn_cp_client *c, const char *node_id, const char *public_key_b64,
		     uint64_t key_generation, long *status, json_t **resp, char *err, size_t errlen)
{
	return node_post(c, node_id, "rotate-key",
			 json_pack("{s:s, s:I}", "wireguard_public_key", public_key_b64,
				   "key_generation", (json_int_t)key_generation),
			 status, resp, err, errlen);
}

int nn_cp_renew_cert(struct nn_cp_client *c, const char *node_id, const char *csr_pem, long *status,
		     json_t **resp, char *err, size_t errlen)
{
	return node_post(c, node_id, "renew-certificate", json_pack("{s:s}", "csr", csr_pem),
			 status, resp, err, errlen);
}
