// SPDX-License-Identifier: GPL-2.0
/*
 * enroll.c - `nanami-gatewayd enroll`: join the overlay with a single-use
 * token. Keys are generated here and never leave the host; the answer is
 * checked whole before anything is written; the files are written under
 * temporary names and renamed only when all of them are there (node.json
 * last: it is what makes a state directory "enrolled"), so a refused or
 * failed enrollment leaves nothing behind, and --force replaces an identity
 * only once the new one is complete.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cp/identity.h"
#include "identity/identity.h"
#include "lib/fsutil.h"
#include "lib/log.h"
#include "wg/device.h"
#include "lib/strbuf.h"

#define TOKEN_MAX 4096

static const char *const files[] = { NN_IDENT_WG_KEY, NN_IDENT_TLS_KEY, NN_IDENT_TLS_CRT,
				     NN_IDENT_CA, NN_IDENT_NODE };
#define N_FILES (sizeof(files) / sizeof(files[0]))

/* Is any identity file there? Names the first one found. */
static const char *existing(const char *dir)
{
	char p[4096];
	size_t i;

	for (i = 0; i < N_FILES; i++)
		if (!nn_ident_path(dir, files[i], p, sizeof(p)) && !access(p, F_OK))
			return files[i];
	return NULL;
}

static void drop_new(const char *dir)
{
	char p[4200];
	size_t i;

	for (i = 0; i < N_FILES; i++) {
		snprintf(p, sizeof(p), "%s/%s.new", dir, files[i]);
		unlink(p);
	}
}

static int read_token(const char *path, char **out, char *err, size_t errlen)
{
	size_t len, i;
	char *t;
	int e = nn_ident_read_file(path, TOKEN_MAX, &t, &len);

	if (e) {
		nn_seterr(err, errlen, "token file %s: %s", path,
			  e == -EFBIG ? "larger than 4096 bytes" : strerror(-e));
		return e;
	}
	while (len && (t[len - 1] == '\n' || t[len - 1] == '\r' || t[len - 1] == ' '))
		t[--len] = 0;
	for (i = 0; i < len; i++)
		if (t[i] < 0x21 || t[i] > 0x7e)
			break;
	if (!len || i < len) {
		nn_seterr(err, errlen, "token file %s: %s", path,
			  !len ? "empty" : "the token must be printable ASCII on one line");
		free(t);
		return -EINVAL;
	}
	*out = t;
	return 0;
}

/* What a non-201 answer means, for the operator. */
static int refused(long status, const json_t *resp, char *err, size_t errlen)
{
	const char *why = json_string_value(json_object_get(resp, "error"));
	const char *what = status == 401 ? "the token is unknown, expired or already used" :
			   status == 409 ? "this WireGuard key is already enrolled" :
			   status == 400 ? "the control plane calls the request malformed" :
					   "unexpected answer";

	nn_seterr(err, errlen, "enrollment refused: HTTP %ld: %s%s%s%s", status, what,
		  why ? " (" : "", why ? why : "", why ? ")" : "");
	return status == 401 ? -EACCES : status == 409 ? -EEXIST : -EPROTO;
}

/* The answer checked whole; the PEM texts returned point into @resp. */
static int check_answer(const json_t *resp, const char *key_pem, const char *ca_pem,
			struct nn_ident *id, const char **cert, char *err, size_t errlen)
{
	const char *ans_ca = json_string_value(json_object_get(resp, "ca"));
	char why[512];
	int e;

	e = nn_ident_from_json(resp, "enroll answer", id, err, errlen);
	if (e)
		return e;
	*cert = json_string_value(json_object_get(resp, "certificate"));
	if (!*cert || strlen(*cert) > NN_IDENT_PEM_MAX) {
		nn_seterr(err, errlen, "enroll answer: certificate missing or too long");
		return -EINVAL;
	}
	/* The certificate must chain to a CA we were told to trust (--ca) or
	 * to the bundle the answer names; our trust of the control plane's
	 * server certificate stays --ca whatever the answer says. */
	e = nn_tls_check_cert(*cert, key_pem, ca_pem, NULL, NULL, why, sizeof(why));
	if (e && ans_ca && strlen(ans_ca) <= NN_IDENT_PEM_MAX)
		e = nn_tls_check_cert(*cert, key_pem, ans_ca, NULL, NULL, why, sizeof(why));
	if (e) {
		nn_seterr(err, errlen, "enroll answer: %s", why);
		return e;
	}
	return 0;
}

static int write_all(const struct nn_enroll_opts *o, const uint8_t priv[NN_KEY_LEN],
		     const char *key_pem, const char *cert, const char *ca_pem,
		     const struct nn_ident *id, char *err, size_t errlen)
{
	size_t i;
	int e;

	e = nn_mkdir_p(o->state_dir);
	if (!e)
		e = nn_ident_write_wg_key(o->state_dir, NN_IDENT_WG_KEY, priv, true);
	if (!e)
		e = nn_ident_write_file(o->state_dir, NN_IDENT_TLS_KEY, key_pem, strlen(key_pem),
					0600, true);
	if (!e)
		e = nn_ident_write_file(o->state_dir, NN_IDENT_TLS_CRT, cert, strlen(cert), 0644,
					true);
	if (!e)
		e = nn_ident_write_file(o->state_dir, NN_IDENT_CA, ca_pem, strlen(ca_pem), 0644,
					true);
	if (!e)
		e = nn_ident_store(o->state_dir, id, true, err, errlen);
	if (e) {
		nn_seterr(err, errlen, "state directory %s: couldn't write the identity: %s",
			  o->state_dir, strerror(-e));
		drop_new(o->state_dir);
		return e;
	}
	/* A rotation of the identity we replace is over. */
	{
		char p[4096];

		if (!nn_ident_path(o->state_dir, NN_IDENT_WG_NEXT, p, sizeof(p)))
			unlink(p);
	}
	for (i = 0; i < N_FILES && !e; i++)
		e = nn_ident_commit_file(o->state_dir, files[i]);
	if (e) {
		nn_seterr(err, errlen, "state directory %s: couldn't put %s in place: %s",
			  o->state_dir, files[i - 1], strerror(-e));
		drop_new(o->state_dir);
	}
	return e;
}

int nn_ident_enroll(const struct nn_enroll_opts *o, struct nn_ident *out, char *err, size_t errlen)
{
	struct nn_cp_opts co = { .url = o->cp_url, .node_id = NN_CP_ENROLL_NODE, .ca = o->ca };
	uint8_t priv[NN_KEY_LEN], pub[NN_KEY_LEN];
	char b64[NN_KEY_B64_SIZE], *token = NULL, *key_pem = NULL, *csr = NULL, *ca_pem = NULL;
	struct nn_cp_client *c = NULL;
	json_t *req = NULL, *resp = NULL, *eps;
	const char *cert, *have;
	struct nn_ident id;
	long status = 0;
	size_t i;
	int e;

	have = existing(o->state_dir);
	if (have && !o->force) {
		nn_seterr(err, errlen,
			  "state directory %s already holds an identity (%s); --force replaces it",
			  o->state_dir, have);
		return -EEXIST;
	}
	e = read_token(o->token_file, &token, err, errlen);
	if (e)
		return e;
	e = nn_ident_read_file(o->ca, NN_IDENT_PEM_MAX, &ca_pem, NULL);
	if (e) {
		nn_seterr(err, errlen, "--ca %s: %s", o->ca, strerror(-e));
		goto out;
	}
	e = nn_wg_generate_private_key(priv);
	if (!e)
		e = nn_wg_public_key(priv, pub);
	if (e) {
		nn_seterr(err, errlen, "couldn't generate the WireGuard key: %s", strerror(-e));
		goto out;
	}
	nn_key_to_base64(pub, b64);
	e = nn_tls_new_key_csr("nanami-gateway", &key_pem, &csr, err, errlen);
	if (e)
		goto out;
	eps = json_array();
	for (i = 0; eps && i < o->n_endpoints; i++)
		json_array_append_new(eps, json_string(o->endpoints[i]));
	req = json_pack("{s:s, s:s, s:s, s:o}", "enrollment_token", token, "wireguard_public_key",
			b64, "csr", csr, "endpoints", eps);
	if (!req) {
		e = -ENOMEM;
		goto out;
	}
	e = nn_cp_client_new(&co, &c, err, errlen);
	if (e)
		goto out;
	/* Once: a 401 or 409 is final, and a transport error is for the
	 * operator to retry (the token may have been used by this very try). */
	e = nn_cp_enroll(c, req, &status, &resp, err, errlen);
	if (e)
		goto out;
	if (status != 201) {
		e = refused(status, resp, err, errlen);
		goto out;
	}
	if (!resp) {
		nn_seterr(err, errlen, "enroll answer: HTTP 201 but not a JSON object");
		e = -EBADMSG;
		goto out;
	}
	e = check_answer(resp, key_pem, ca_pem, &id, &cert, err, errlen);
	if (e)
		goto out;
	snprintf(id.cp_url, sizeof(id.cp_url), "%s", o->cp_url);
	e = write_all(o, priv, key_pem, cert, ca_pem, &id, err, errlen);
	if (!e && out)
		*out = id;
	if (!e)
		nn_log_info("event=enrolled node_id=%s public_key=%s key_generation=%llu "
			    "state_dir=%s",
			    id.node_id, b64, (unsigned long long)id.key_generation, o->state_dir);
out:
	explicit_bzero(priv, sizeof(priv));
	if (token)
		explicit_bzero(token, strlen(token));
	if (key_pem)
		explicit_bzero(key_pem, strlen(key_pem));
	free(token);
	free(key_pem);
	free(csr);
	free(ca_pem);
	json_decref(req);
	json_decref(resp);
	nn_cp_client_free(c);
	return e;
}
