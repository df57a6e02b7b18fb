// SPDX-License-Identifier: GPL-2.0
/*
 * tls.c - the mTLS client identity through OpenSSL's API (no shell-out):
 * a fresh P-256 key and its CSR, and the checks a signed certificate must
 * pass before it is written: it carries our public key, and it verifies
 * against the CA bundle as a TLS client certificate.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "identity/identity.h"
#include "lib/strbuf.h"

/* The BIO's contents as a malloc'ed string. */
static char *bio_string(BIO *b)
{
	char *data, *s;
	long n = BIO_get_mem_data(b, &data);

	if (n < 0)
		return NULL;
	s = malloc((size_t)n + 1);
	if (s) {
		memcpy(s, data, (size_t)n);
		s[n] = 0;
	}
	return s;
}

int nn_tls_new_key_csr(const char *cn, char **key_pem, char **csr_pem, char *err, size_t errlen)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");
	X509_REQ *req = X509_REQ_new();
	X509_NAME *name = NULL;
	BIO *kb = BIO_new(BIO_s_mem()), *rb = BIO_new(BIO_s_mem());
	int ok;

	*key_pem = *csr_pem = NULL;
	ok = k && req && kb && rb && X509_REQ_set_version(req, 0) == 1 &&
	     (name = X509_REQ_get_subject_name(req)) &&
	     X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1,
					0) == 1 &&
	     X509_REQ_set_pubkey(req, k) == 1 && X509_REQ_sign(req, k, EVP_sha256()) > 0 &&
	     PEM_write_bio_PrivateKey(kb, k, NULL, NULL, 0, NULL, NULL) == 1 &&
	     PEM_write_bio_X509_REQ(rb, req) == 1;
	if (ok) {
		*key_pem = bio_string(kb);
		*csr_pem = bio_string(rb);
		ok = *key_pem && *csr_pem;
	}
	if (!ok) {
		nn_seterr(err, errlen, "couldn't generate the mTLS key and CSR: %s",
			  ERR_reason_error_string(ERR_get_error()) ?: "out of memory");
		free(*key_pem);
		free(*csr_pem);
		*key_pem = *csr_pem = NULL;
	}
	/* The key's copy in the memory BIO: clear before it is freed. */
	if (kb) {
		char *d;
		long n = BIO_get_mem_data(kb, &d);

		if (n > 0)
			explicit_bzero(d, (size_t)n);
	}
	BIO_free(kb);
	BIO_free(rb);
	X509_REQ_free(req);
	EVP_PKEY_free(k);
	return ok ? 0 : -EIO;
}

static int64_t asn1_unix(const ASN1_TIME *t)
{
	struct tm tm;

	if (!t || ASN1_TIME_to_tm(t, &tm) != 1)
		return 0;
	return (int64_t)timegm(&tm);
}

static X509 *cert_from_pem(const char *pem)
{
	BIO *b = BIO_new_mem_buf(pem, -1);
	X509 *x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;

	BIO_free(b);
	return x;
}

/* A store holding every certificate of the PEM bundle; NULL when none. */
static X509_STORE *store_from_pem(const char *pem)
{
	BIO *b = BIO_new_mem_buf(pem, -1);
	X509_STORE *s = X509_STORE_new();
	STACK_OF(X509_INFO) *infos = b ? PEM_X509_INFO_read_bio(b, NULL, NULL, NULL) : NULL;
	int i, n = 0;

	for (i = 0; s && infos && i < sk_X509_INFO_num(infos); i++) {
		X509_INFO *inf = sk_X509_INFO_value(infos, i);

		if (inf->x509 && X509_STORE_add_cert(s, inf->x509) == 1)
			n++;
	}
	sk_X509_INFO_pop_free(infos, X509_INFO_free);
	BIO_free(b);
	if (!n) {
		X509_STORE_free(s);
		return NULL;
	}
	return s;
}

int nn_tls_check_cert(const char *cert_pem, const char *key_pem, const char *ca_pem,
		      int64_t *not_before, int64_t *not_after, char *err, size_t errlen)
{
	X509 *x = cert_from_pem(cert_pem);
	BIO *kb = BIO_new_mem_buf(key_pem, -1);
	EVP_PKEY *k = kb ? PEM_read_bio_PrivateKey(kb, NULL, NULL, NULL) : NULL;
	X509_STORE *s = store_from_pem(ca_pem);
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	int ret = -EINVAL;

	if (!x) {
		nn_seterr(err, errlen, "the certificate is not a PEM X.509 certificate");
		goto out;
	}
	if (!k) {
		nn_seterr(err, errlen, "the mTLS private key cannot be read");
		goto out;
	}
	if (X509_check_private_key(x, k) != 1) {
		nn_seterr(err, errlen, "the certificate does not carry our mTLS public key");
		goto out;
	}
	if (!s) {
		nn_seterr(err, errlen, "the CA bundle holds no PEM certificate");
		goto out;
	}
	if (!ctx || X509_STORE_CTX_init(ctx, s, x, NULL) != 1 ||
	    X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_CLIENT) != 1) {
		nn_seterr(err, errlen, "couldn't set up certificate verification");
		ret = -ENOMEM;
		goto out;
	}
	if (X509_verify_cert(ctx) != 1) {
		nn_seterr(err, errlen, "the certificate does not verify against the CA: %s",
			  X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
		goto out;
	}
	if (not_before)
		*not_before = asn1_unix(X509_get0_notBefore(x));
	if (not_after)
		*not_after = asn1_unix(X509_get0_notAfter(x));
	ret = 0;
out:
	ERR_clear_error();
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(s);
	EVP_PKEY_free(k);
	BIO_free(kb);
	X509_free(x);
	return ret;
}

int nn_tls_cert_times(const char *path, int64_t *not_before, int64_t *not_after, char *err,
		      size_t errlen)
{
	char *pem = NULL;
	X509 *x;
	int e = nn_ident_read_file(path, NN_IDENT_PEM_MAX, &pem, NULL);

	if (e) {
		nn_seterr(err, errlen, "%s: %s", path, strerror(-e));
		return e;
	}
	x = cert_from_pem(pem);
	free(pem);
	if (!x) {
		nn_seterr(err, errlen, "%s: not a PEM X.509 certificate", path);
		return -EBADMSG;
	}
	*not_before = asn1_unix(X509_get0_notBefore(x));
	*not_after = asn1_unix(X509_get0_notAfter(x));
	X509_free(x);
	return 0;
}
