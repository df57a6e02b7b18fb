// SPDX-License-Identifier: GPL-2.0
/*
 * The identity room (user/identity/): node.json checked field by field as
 * identity-v1.md says, files and their modes, the mTLS checks against
 * certificates made here with OpenSSL (a CA of the test's own, a second CA,
 * an expired and a server-only certificate), the snapshot's gateway key and
 * which local key it names, the rotation files.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "identity/identity.h"

static char dir[] = "/tmp/nn-ident-XXXXXX";

static int setup(void **state)
{
	(void)state;
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) ? -1 : 0;
}

static json_t *good_node(void)
{
	return json_pack("{s:s,s:s,s:s,s:i,s:i,s:i}", "node_id", "gw-fra-1", "overlay_ipv6",
			 "fd7a:6e61:6e61::1", "overlay_ipv4", "100.96.0.1", "listen_port", 51820,
			 "mtu", 1420, "key_generation", 1);
}

/* The good answer with one field replaced: refused, naming that field. */
static void refused_with(const char *field, json_t *v)
{
	struct nn_ident id;
	char err[256] = "";
	json_t *j = good_node();

	json_object_set_new(j, field, v);
	assert_int_equal(nn_ident_from_json(j, "answer", &id, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, field));
	json_decref(j);
}

static void test_node_fields(void **state)
{
	struct nn_ident id;
	char err[256] = "";
	json_t *j = good_node();

	(void)state;
	assert_int_equal(nn_ident_from_json(j, "answer", &id, err, sizeof(err)), 0);
	assert_string_equal(id.node_id, "gw-fra-1");
	assert_string_equal(id.overlay_ipv4, "100.96.0.1");
	assert_int_equal(id.listen_port, 51820);
	json_object_del(j, "overlay_ipv4"); /* optional */
	assert_int_equal(nn_ident_from_json(j, "answer", &id, err, sizeof(err)), 0);
	assert_string_equal(id.overlay_ipv4, "");
	json_decref(j);

	refused_with("node_id", json_string("gw/fra"));
	refused_with("node_id", json_string(""));
	refused_with("node_id", json_string("a123456789a123456789a123456789a123456789a123456789"
					    "a123456789abcd")); /* 64 characters */
	refused_with("node_id", json_integer(1));
	/* Single addresses only: never a prefix, never the other family. */
	refused_with("overlay_ipv6", json_string("fd7a:6e61:6e61::/48"));
	refused_with("overlay_ipv6", json_string("100.96.0.1"));
	refused_with("overlay_ipv6", json_string("fe80::1%eth0"));
	refused_with("overlay_ipv4", json_string("100.96.0.0/12"));
	refused_with("overlay_ipv4", json_string("fd7a::1"));
	refused_with("listen_port", json_integer(0));
	refused_with("listen_port", json_integer(65536));
	refused_with("listen_port", json_string("51820"));
	refused_with("mtu", json_integer(1279));
	refused_with("mtu", json_integer(9001));
	refused_with("key_generation", json_integer(0));
	refused_with("key_generation", json_real(1.5));
}

static void test_store_load(void **state)
{
	struct nn_ident a = { .listen_port = 51820, .mtu = 1420, .key_generation = 7 }, b;
	char err[256] = "", p[512];
	struct stat st;

	(void)state;
	snprintf(a.node_id, sizeof(a.node_id), "gw-fra-1");
	snprintf(a.overlay_ipv6, sizeof(a.overlay_ipv6), "fd7a:6e61:6e61::1");
	snprintf(a.cp_url, sizeof(a.cp_url), "https://cp.example:8443");
	assert_int_equal(nn_ident_load(dir, &b, err, sizeof(err)), -ENOENT);
	assert_int_equal(nn_ident_store(dir, &a, false, err, sizeof(err)), 0);
	assert_int_equal(nn_ident_load(dir, &b, err, sizeof(err)), 0);
	assert_memory_equal(&a, &b, sizeof(a));
	snprintf(p, sizeof(p), "%s/node.json", dir);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0644);
	/* A torn or hand-broken node.json is an error, not "not enrolled". */
	assert_int_equal(nn_ident_write_file(dir, "node.json", "{\"node_id\":", 11, 0644, false),
			 0);
	assert_int_equal(nn_ident_load(dir, &b, err, sizeof(err)), -EBADMSG);
	unlink(p);
}

static void test_wg_key_files(void **state)
{
	uint8_t k[NN_KEY_LEN], r[NN_KEY_LEN], k2[NN_KEY_LEN];
	char p[512];
	struct stat st;

	(void)state;
	memset(k, 0x42, sizeof(k));
	assert_int_equal(nn_ident_write_wg_key(dir, NN_IDENT_WG_KEY, k, false), 0);
	assert_int_equal(nn_ident_read_wg_key(dir, NN_IDENT_WG_KEY, r), 0);
	assert_memory_equal(k, r, sizeof(k));
	snprintf(p, sizeof(p), "%s/wg.key", dir);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	chmod(p, 0644);
	assert_int_equal(nn_ident_read_wg_key(dir, NN_IDENT_WG_KEY, r), -EPERM);
	chmod(p, 0600);

	/* Rotation: next written first, then moved over; abandon removes it. */
	assert_int_equal(nn_ident_rotation_begin(dir, k2), 0);
	assert_memory_not_equal(k, k2, sizeof(k));
	assert_int_equal(nn_ident_read_wg_key(dir, NN_IDENT_WG_NEXT, r), 0);
	assert_memory_equal(k2, r, sizeof(k2));
	assert_int_equal(nn_ident_rotation_commit(dir), 0);
	assert_int_equal(nn_ident_read_wg_key(dir, NN_IDENT_WG_KEY, r), 0);
	assert_memory_equal(k2, r, sizeof(k2));
	assert_int_equal(nn_ident_read_wg_key(dir, NN_IDENT_WG_NEXT, r), -ENOENT);
	assert_int_equal(nn_ident_rotation_begin(dir, k2), 0);
	assert_int_equal(nn_ident_rotation_abandon(dir), 0);
	assert_int_equal(nn_ident_read_wg_key(dir, NN_IDENT_WG_NEXT, r), -ENOENT);
	assert_int_equal(nn_ident_rotation_abandon(dir), 0);
	unlink(p);
}

/* ---- certificates made here, with OpenSSL directly ---- */

struct ca {
	EVP_PKEY *key;
	X509 *crt;
};

static char *pem_of_x509(X509 *x)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *d, *s;
	long n;

	PEM_write_bio_X509(b, x);
	n = BIO_get_mem_data(b, &d);
	s = strndup(d, (size_t)n);
	BIO_free(b);
	return s;
}

static void add_ext(X509 *x, X509 *issuer, int nid, const char *v)
{
	X509V3_CTX c;
	X509_EXTENSION *e;

	X509V3_set_ctx(&c, issuer, x, NULL, NULL, 0);
	e = X509V3_EXT_conf_nid(NULL, &c, nid, v);
	assert_non_null(e);
	X509_add_ext(x, e, -1);
	X509_EXTENSION_free(e);
}

/* A certificate for @pub signed by @ca (self-signed when ca->crt is NULL),
 * valid from now + @from_s for @life_s seconds. */
static X509 *make_cert(struct ca *ca, EVP_PKEY *pub, const char *cn, long from_s, long life_s,
		       const char *eku)
{
	X509 *x = X509_new();

	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), rand());
	X509_gmtime_adj(X509_getm_notBefore(x), from_s);
	X509_gmtime_adj(X509_getm_notAfter(x), from_s + life_s);
	X509_set_pubkey(x, pub);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
				   (const unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(x,
			     ca->crt ? X509_get_subject_name(ca->crt) : X509_get_subject_name(x));
	if (!ca->crt)
		add_ext(x, x, NID_basic_constraints, "critical,CA:TRUE");
	if (eku)
		add_ext(x, ca->crt ? ca->crt : x, NID_ext_key_usage, eku);
	assert_true(X509_sign(x, ca->key, EVP_sha256()) > 0);
	return x;
}

static void make_ca(struct ca *ca, const char *cn)
{
	ca->key = EVP_EC_gen("P-256");
	ca->crt = NULL;
	ca->crt = make_cert(ca, ca->key, cn, -60, 86400, NULL);
}

static EVP_PKEY *csr_key(const char *csr_pem)
{
	BIO *b = BIO_new_mem_buf(csr_pem, -1);
	X509_REQ *r = PEM_read_bio_X509_REQ(b, NULL, NULL, NULL);
	EVP_PKEY *k;

	assert_non_null(r);
	assert_int_equal(X509_REQ_verify(r, X509_REQ_get0_pubkey(r)), 1);
	k = X509_REQ_get_pubkey(r);
	X509_REQ_free(r);
	BIO_free(b);
	return k;
}

static void test_tls_checks(void **state)
{
	struct ca ca, ca2;
	char *key = NULL, *csr = NULL, *key2 = NULL, *csr2 = NULL, *ca_pem, *ca2_pem, *good, *c;
	EVP_PKEY *pub, *pub2;
	int64_t nb = 0, na = 0;
	char err[256];
	X509 *x;

	(void)state;
	make_ca(&ca, "test-ca");
	make_ca(&ca2, "other-ca");
	ca_pem = pem_of_x509(ca.crt);
	ca2_pem = pem_of_x509(ca2.crt);
	assert_int_equal(nn_tls_new_key_csr("gw-fra-1", &key, &csr, err, sizeof(err)), 0);
	assert_int_equal(nn_tls_new_key_csr("gw-fra-1", &key2, &csr2, err, sizeof(err)), 0);
	assert_non_null(strstr(key, "BEGIN PRIVATE KEY"));
	pub = csr_key(csr);
	pub2 = csr_key(csr2);
	assert_int_not_equal(EVP_PKEY_eq(pub, pub2), 1);

	x = make_cert(&ca, pub, "gw-fra-1", -10, 3600, "clientAuth");
	good = pem_of_x509(x);
	assert_int_equal(nn_tls_check_cert(good, key, ca_pem, &nb, &na, err, sizeof(err)), 0);
	assert_int_equal(na - nb, 3600);
	X509_free(x);

	/* Not our key: refused. */
	assert_int_equal(nn_tls_check_cert(good, key2, ca_pem, NULL, NULL, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "public key"));
	/* Another CA: refused. */
	assert_int_equal(nn_tls_check_cert(good, key, ca2_pem, NULL, NULL, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "CA"));
	/* Expired, or not for TLS clients: refused. */
	x = make_cert(&ca, pub, "gw-fra-1", -7200, 3600, "clientAuth");
	c = pem_of_x509(x);
	assert_int_equal(nn_tls_check_cert(c, key, ca_pem, NULL, NULL, err, sizeof(err)), -EINVAL);
	free(c);
	X509_free(x);
	x = make_cert(&ca, pub, "gw-fra-1", -10, 3600, "serverAuth");
	c = pem_of_x509(x);
	assert_int_equal(nn_tls_check_cert(c, key, ca_pem, NULL, NULL, err, sizeof(err)), -EINVAL);
	free(c);
	X509_free(x);
	/* Not a certificate, not a bundle. */
	assert_int_equal(nn_tls_check_cert("garbage", key, ca_pem, NULL, NULL, err, sizeof(err)),
			 -EINVAL);
	assert_int_equal(nn_tls_check_cert(good, key, "garbage", NULL, NULL, err, sizeof(err)),
			 -EINVAL);

	free(good);
	free(ca_pem);
	free(ca2_pem);
	free(key);
	free(csr);
	free(key2);
	free(csr2);
	EVP_PKEY_free(pub);
	EVP_PKEY_free(pub2);
	X509_free(ca.crt);
	X509_free(ca2.crt);
	EVP_PKEY_free(ca.key);
	EVP_PKEY_free(ca2.key);
}

static void test_snapshot_key(void **state)
{
	static const char k_b64[] = "jwx5oERvgWFmXLoUhBqhOyGp7v4PHr3xrzovm7NhZ0Q=";
	uint8_t pub[NN_KEY_LEN], cur[NN_KEY_LEN], next[NN_KEY_LEN], other[NN_KEY_LEN];
	bool has_key, has_gen;
	uint64_t gen = 0;
	char t[256];

	(void)state;
	snprintf(t, sizeof(t), "{\"gateway\": {\"public_key\": \"%s\", \"key_generation\": 4}}",
		 k_b64);
	assert_int_equal(nn_ident_snapshot_key(t, strlen(t), pub, &has_key, &gen, &has_gen), 0);
	assert_true(has_key && has_gen);
	assert_int_equal(gen, 4);
	assert_int_equal(nn_key_from_base64(k_b64, cur), 0);
	assert_memory_equal(pub, cur, NN_KEY_LEN);
	snprintf(t, sizeof(t), "{\"gateway\": {\"mtu\": 1420}}");
	assert_int_equal(nn_ident_snapshot_key(t, strlen(t), pub, &has_key, &gen, &has_gen), 0);
	assert_false(has_key || has_gen);
	snprintf(t, sizeof(t), "{\"gateway\": {\"public_key\": \"AAAA\"}}");
	assert_int_equal(nn_ident_snapshot_key(t, strlen(t), pub, &has_key, &gen, &has_gen),
			 -EBADMSG);
	snprintf(t, sizeof(t), "{\"gateway\": {\"key_generation\": -1}}");
	assert_int_equal(nn_ident_snapshot_key(t, strlen(t), pub, &has_key, &gen, &has_gen),
			 -EBADMSG);

	memset(next, 1, sizeof(next));
	memset(other, 2, sizeof(other));
	assert_int_equal(nn_ident_key_match(cur, NULL, cur, false), NN_KEY_UNNAMED);
	assert_int_equal(nn_ident_key_match(cur, NULL, cur, true), NN_KEY_CURRENT);
	assert_int_equal(nn_ident_key_match(cur, next, next, true), NN_KEY_NEXT);
	/* Without a pending rotation the new key is just a stranger's. */
	assert_int_equal(nn_ident_key_match(cur, NULL, next, true), NN_KEY_NEITHER);
	assert_int_equal(nn_ident_key_match(cur, next, other, true), NN_KEY_NEITHER);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_node_fields),  cmocka_unit_test(test_store_load),
		cmocka_unit_test(test_wg_key_files), cmocka_unit_test(test_tls_checks),
		cmocka_unit_test(test_snapshot_key),
	};

	return cmocka_run_group_tests_name("identity", tests, setup, teardown);
}
