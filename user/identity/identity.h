/* SPDX-License-Identifier: GPL-2.0 */
/*
 * identity.h - the gateway's own identity on disk and the steps that change
 * it (docs/identity-v1.md, ../shared/spec/identity-v1.md): enrollment with a
 * single-use token, WireGuard key rotation by coordinated cutover, renewal of
 * the mTLS client certificate.
 *
 * The state directory holds node.json, wg.key, wg.key.next (only during a
 * rotation), tls.key, tls.crt and ca.crt; every file is written atomically
 * (temporary file, fsync, rename, fsync of the directory), private keys 0600.
 * node.json is written last by an enrollment: its presence means "enrolled".
 *
 * Everything the control plane answers is untrusted: checked here before
 * anything is written. Functions return 0 or -errno and write a message
 * naming what and where into err.
 */
#ifndef NANAMI_IDENTITY_IDENTITY_H
#define NANAMI_IDENTITY_IDENTITY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#include "lib/base64.h"
#include "nanami_abi.h"

#define NN_IDENT_NODE "node.json"
#define NN_IDENT_WG_KEY "wg.key"
#define NN_IDENT_WG_NEXT "wg.key.next"
#define NN_IDENT_TLS_KEY "tls.key"
#define NN_IDENT_TLS_CRT "tls.crt"
#define NN_IDENT_CA "ca.crt"

#define NN_IDENT_URL_MAX 1024
#define NN_IDENT_PEM_MAX (64u << 10) /* a certificate or CA bundle we accept */

/* node.json */
struct nn_ident {
	char node_id[NN_NAME_MAX];
	char overlay_ipv6[48];
	char overlay_ipv4[16]; /* "" = none */
	uint32_t listen_port;
	uint32_t mtu;
	uint64_t key_generation;
	char cp_url[NN_IDENT_URL_MAX];
};

/* [A-Za-z0-9._-]{1,63}: what assignments-v1.md allows for ids. */
bool nn_ident_name_ok(const char *s);

/* <dir>/<file> into buf; -ENAMETOOLONG. */
int nn_ident_path(const char *dir, const char *file, char *buf, size_t len);

/*
 * Write @len bytes to <dir>/<name> atomically with @mode: a temporary file
 * in @dir, fsync, rename over, fsync of the directory. With @tmp_only the
 * data stays in <dir>/<name>.new (for a set of files renamed together);
 * nn_ident_commit_file() renames it later.
 */
int nn_ident_write_file(const char *dir, const char *name, const void *data, size_t len,
			mode_t mode, bool tmp_only);
int nn_ident_commit_file(const char *dir, const char *name);

/* Read a whole (small) file, NUL-terminated; -EFBIG over @max. */
int nn_ident_read_file(const char *path, size_t max, char **out, size_t *len);

/*
 * The fields of node.json (or of the enroll answer, which carries the same
 * names) checked: node_id a valid name, overlay_ipv6 a single IPv6 address,
 * overlay_ipv4 absent/null or a single IPv4 address, listen_port 1-65535,
 * mtu 1280-9000, key_generation >= 1. @what names the source in messages.
 */
int nn_ident_from_json(const json_t *j, const char *what, struct nn_ident *id, char *err,
		       size_t errlen);

/* -ENOENT: not enrolled (no node.json); other errors with a message. */
int nn_ident_load(const char *dir, struct nn_ident *id, char *err, size_t errlen);
int nn_ident_store(const char *dir, const struct nn_ident *id, bool tmp_only, char *err,
		   size_t errlen);

/* WireGuard private key files (base64 and a newline, 0600). */
int nn_ident_write_wg_key(const char *dir, const char *name, const uint8_t priv[NN_KEY_LEN],
			  bool tmp_only);
/* -ENOENT when missing; -EPERM when readable by others; -EBADMSG. */
int nn_ident_read_wg_key(const char *dir, const char *name, uint8_t priv[NN_KEY_LEN]);

/* ---- enrollment (enroll.c) ---- */

struct nn_enroll_opts {
	const char *cp_url;
	const char *token_file;
	const char *ca; /* verifies the control plane; written as ca.crt */
	const char *state_dir;
	const char *const *endpoints; /* "HOST:PORT" for the request */
	size_t n_endpoints;
	bool force; /* replace an existing identity */
};

/*
 * Enroll once (a 401 or 409 is never retried): keys made here, the answer
 * checked, the files written (node.json last). -EEXIST: an identity is there
 * and no --force (or the control plane says 409); -EACCES: token refused;
 * -EPROTO other statuses; transport errors as the control-plane client
 * returns them. On any error the state directory is as it was.
 */
int nn_ident_enroll(const struct nn_enroll_opts *o, struct nn_ident *out, char *err, size_t errlen);

/* ---- key rotation files and decisions (rotate.c) ---- */

/* A new key into wg.key.next (written, fsynced: a crash cannot lose it). */
int nn_ident_rotation_begin(const char *dir, uint8_t next[NN_KEY_LEN]);
/* wg.key.next over wg.key (rename, fsync of the directory). */
int nn_ident_rotation_commit(const char *dir);
/* wg.key.next removed (0 when it was not there). */
int nn_ident_rotation_abandon(const char *dir);

/* Which local key a snapshot's gateway.public_key names. */
enum nn_key_match {
	NN_KEY_UNNAMED = 0, /* the snapshot carries no gateway.public_key */
	NN_KEY_CURRENT,
	NN_KEY_NEXT,
	NN_KEY_NEITHER, /* an identity error */
};

const char *nn_key_match_name(enum nn_key_match m);

/*
 * Read gateway.public_key and gateway.key_generation from snapshot text.
 * *has_key false when absent; -EBADMSG when present but not a base64 32-byte
 * key (or the generation not a non-negative integer).
 */
int nn_ident_snapshot_key(const char *text, size_t len, uint8_t pub[NN_KEY_LEN], bool *has_key,
			  uint64_t *gen, bool *has_gen);

/* @next NULL: no rotation pending. */
enum nn_key_match nn_ident_key_match(const uint8_t cur[NN_KEY_LEN], const uint8_t *next,
				     const uint8_t snap[NN_KEY_LEN], bool has_key);

/* ---- mTLS key, CSR, certificate checks (OpenSSL; tls.c) ---- */

/* A new P-256 key (PEM, PKCS#8) and a CSR for it with CN=@cn (PEM). */
int nn_tls_new_key_csr(const char *cn, char **key_pem, char **csr_pem, char *err, size_t errlen);

/*
 * @cert_pem is one certificate whose public key is @key_pem's, that verifies
 * against @ca_pem (a bundle) as a TLS client certificate now; its validity
 * period into *not_before / *not_after (Unix seconds, may be NULL).
 */
int nn_tls_check_cert(const char *cert_pem, const char *key_pem, const char *ca_pem,
		      int64_t *not_before, int64_t *not_after, char *err, size_t errlen);

/* The validity period of the first certificate in the PEM file @path. */
int nn_tls_cert_times(const char *path, int64_t *not_before, int64_t *not_after, char *err,
		      size_t errlen);

#endif /* NANAMI_IDENTITY_IDENTITY_H */
