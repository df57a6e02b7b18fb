// SPDX-License-Identifier: GPL-2.0
/*
 * util.c - the control-plane client's pure parts: backoff and
 * jitter, the size cap, the http:// loopback rule, delta application.
 * No I/O here (unit-tested in selftests/unit/test_cp_backoff.c).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

#include "cp/client_int.h"
#include "lib/strbuf.h"

/* ---- pure helpers ---- */

static const char *const err_kind_names[NN_CP_ERR_MAX] = {
	[NN_CP_ERR_NONE] = "none",
	[NN_CP_ERR_CONNECT] = "connect",
	[NN_CP_ERR_TLS] = "tls",
	[NN_CP_ERR_TIMEOUT] = "timeout",
	[NN_CP_ERR_HTTP_STATUS] = "http_status",
	[NN_CP_ERR_BODY_TOO_LARGE] = "body_too_large",
	[NN_CP_ERR_PARSE] = "parse",
	[NN_CP_ERR_RESET] = "reset",
	[NN_CP_ERR_OTHER] = "other",
};

const char *nn_cp_err_kind_name(enum nn_cp_err_kind k)
{
	return (unsigned int)k < NN_CP_ERR_MAX ? err_kind_names[k] : "other";
}

/* libcurl's codes first: they say more than the -errno we folded them
 * into (a refused connection and an unresolved name are both -ECONNREFUSED,
 * a TLS alert and a reset both -ECONNRESET). */
enum nn_cp_err_kind nn_cp_err_kind_of(int err, int curl_code, bool https)
{
	if (!err)
		return NN_CP_ERR_NONE;
	switch ((CURLcode)curl_code) {
	case CURLE_OK:
		break;
	case CURLE_OPERATION_TIMEDOUT:
		return NN_CP_ERR_TIMEOUT;
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		return NN_CP_ERR_CONNECT;
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_INVALIDCERTSTATUS:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_ENGINE_NOTFOUND:
	case CURLE_SSL_ENGINE_SETFAILED:
	case CURLE_SSL_CRL_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_SHUTDOWN_FAILED:
	case CURLE_USE_SSL_FAILED:
		return NN_CP_ERR_TLS;
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
		/* With TLS 1.3 a server refusing our certificate says so
		 * after the handshake: libcurl sees a failed read. */
		return https ? NN_CP_ERR_TLS : NN_CP_ERR_RESET;
	case CURLE_GOT_NOTHING:
		return NN_CP_ERR_RESET;
	default:
		return NN_CP_ERR_OTHER;
	}
	switch (err) {
	case -ECONNREFUSED:
		return NN_CP_ERR_CONNECT;
	case -EPERM:
		return NN_CP_ERR_TLS;
	case -ETIMEDOUT:
		return NN_CP_ERR_TIMEOUT;
	case -EPROTO:
		return NN_CP_ERR_HTTP_STATUS;
	case -EFBIG:
		return NN_CP_ERR_BODY_TOO_LARGE;
	case -EBADMSG:
		return NN_CP_ERR_PARSE;
	case -ECONNRESET:
		return NN_CP_ERR_RESET;
	}
	return NN_CP_ERR_OTHER;
}

bool nn_cp_cap_ok(size_t have, size_t n, size_t cap)
{
	return n <= cap && have <= cap - n;
}

unsigned int nn_cp_backoff_ms(unsigned int attempt, unsigned int base_ms, unsigned int max_ms,
			      uint32_t rnd)
{
	uint64_t d, half;

	if (base_ms > max_ms)
		base_ms = max_ms;
	d = attempt >= 32 ? max_ms : (uint64_t)base_ms << attempt;
	if (d > max_ms)
		d = max_ms;
	/* Equal jitter: never below half, so a flapping control plane is not
	 * hammered, and gateways spread out instead of reconnecting in step. */
	half = d / 2;
	return (unsigned int)(half + rnd % (d - half + 1));
}

unsigned int nn_cp_jitter_ms(unsigned int interval_ms, unsigned int pct, uint32_t rnd)
{
	uint64_t span;

	if (pct > 100)
		pct = 100;
	span = (uint64_t)interval_ms * pct / 100;
	return (unsigned int)(interval_ms - span + rnd % (2 * span + 1));
}

uint32_t nn_cp_random(void)
{
	uint32_t r;

	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != sizeof(r))
		r = (uint32_t)time(NULL) ^ (uint32_t)(uintptr_t)&r;
	return r;
}

static bool host_is_loopback(const char *host)
{
	struct in_addr a4;
	struct in6_addr a6;
	char h[64];
	size_t n = strlen(host);

	if (!strcasecmp(host, "localhost"))
		return true;
	if (n >= 2 && host[0] == '[' && host[n - 1] == ']' && n - 2 < sizeof(h)) {
		memcpy(h, host + 1, n - 2);
		h[n - 2] = 0;
		return inet_pton(AF_INET6, h, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
	}
	/* inet_pton takes dotted quads only: "127.1" or "0x7f.1" are refused. */
	return inet_pton(AF_INET, host, &a4) == 1 && (ntohl(a4.s_addr) >> 24) == 127;
}

int nn_cp_check_url(const char *url, char *err, size_t errlen)
{
	char *scheme = NULL, *host = NULL, *q = NULL, *frag = NULL;
	CURLU *u;
	int ret = -EINVAL;

	if (!url || !*url) {
		nn_seterr(err, errlen, "control plane URL is empty");
		return -EINVAL;
	}
	u = curl_url();
	if (!u)
		return -ENOMEM;
	if (curl_url_set(u, CURLUPART_URL, url, 0) ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0)) {
		nn_seterr(err, errlen, "control plane URL %s: cannot parse", url);
		goto out;
	}
	if (!curl_url_get(u, CURLUPART_QUERY, &q, 0) ||
	    !curl_url_get(u, CURLUPART_FRAGMENT, &frag, 0)) {
		nn_seterr(err, errlen, "control plane URL %s: a base URL has no query or fragment",
			  url);
		goto out;
	}
	if (!strcmp(scheme, "https")) {
		ret = 0;
	} else if (!strcmp(scheme, "http")) {
		ret = host_is_loopback(host) ? 0 : -EPERM;
		if (ret)
			nn_seterr(err, errlen,
				  "control plane URL %s: plain http:// only to a "
				  "loopback address (127.0.0.0/8, ::1, localhost); use https://",
				  url);
	} else {
		nn_seterr(err, errlen,
			  "control plane URL %s: scheme must be https (or http to loopback)", url);
	}
out:
	curl_free(scheme);
	curl_free(host);
	curl_free(q);
	curl_free(frag);
	curl_url_cleanup(u);
	return ret;
}

/* ---- delta application ---- */

struct kind_desc {
	const char *kind, *key, *list;
	int depth; /* 0 top level, 1 in a tenant, 2 in a network */
};

static const struct kind_desc kinds[] = {
	{ "node", "node_id", "nodes", 0 },	    { "tenant", "tenant_id", "tenants", 0 },
	{ "network", "network_id", "networks", 1 }, { "user", "user_id", "users", 2 },
	{ "device", "device_id", "devices", 2 },
};

/* Index of the element of array a whose key is id, -1 if none. */
static long find_by(const json_t *a, const char *key, const char *id)
{
	size_t i;
	json_t *v;

	json_array_foreach(a, i, v)
	{
		const char *s = json_string_value(json_object_get(v, key));

		if (s && !strcmp(s, id))
			return (long)i;
	}
	return -1;
}

/* obj[name] as an array, created when absent and create is set. */
static json_t *list_of(json_t *obj, const char *name, bool create)
{
	json_t *a = json_object_get(obj, name);

	if (!a && create && json_is_object(obj)) {
		a = json_array();
		if (!a || json_object_set_new(obj, name, a))
			return NULL;
	}
	return json_is_array(a) ? a : NULL;
}

static int apply_one(json_t *snap, const json_t *c, size_t idx, char *err, size_t errlen)
{
	const char *op = json_string_value(json_object_get(c, "op"));
	const char *kind = json_string_value(json_object_get(c, "kind"));
	const char *id = json_string_value(json_object_get(c, "id"));
	const char *tid = json_string_value(json_object_get(c, "tenant_id"));
	const char *nid = json_string_value(json_object_get(c, "network_id"));
	json_t *value = json_object_get(c, "value"), *cont = snap, *list;
	const struct kind_desc *k = NULL;
	bool upsert;
	long i;
	size_t n;

	for (n = 0; kind && n < sizeof(kinds) / sizeof(*kinds); n++)
		if (!strcmp(kinds[n].kind, kind))
			k = &kinds[n];
	if (!json_is_object(c) || !op || (strcmp(op, "upsert") && strcmp(op, "delete")) || !k ||
	    !id || !*id) {
		nn_seterr(err, errlen,
			  "delta change %zu: needs op upsert|delete, a known kind "
			  "and an id",
			  idx);
		return -EBADMSG;
	}
	upsert = !strcmp(op, "upsert");
	if (upsert &&
	    (!json_is_object(value) || !json_string_value(json_object_get(value, k->key)) ||
	     strcmp(json_string_value(json_object_get(value, k->key)), id))) {
		nn_seterr(err, errlen,
			  "delta change %zu (%s %s): value must be an object "
			  "with %s \"%s\"",
			  idx, kind, id, k->key, id);
		return -EBADMSG;
	}
	if (k->depth >= 1) {
		list = tid ? list_of(snap, "tenants", false) : NULL;
		i = list ? find_by(list, "tenant_id", tid) : -1;
		if (i < 0) {
			nn_seterr(err, errlen,
				  "delta change %zu (%s %s): tenant %s not in the base "
				  "snapshot",
				  idx, kind, id, tid ? tid : "(none)");
			return -EBADMSG;
		}
		cont = json_array_get(list, i);
	}
	if (k->depth == 2) {
		list = nid ? list_of(cont, "networks", false) : NULL;
		i = list ? find_by(list, "network_id", nid) : -1;
		if (i < 0) {
			nn_seterr(err, errlen,
				  "delta change %zu (%s %s): network %s/%s not in the "
				  "base snapshot",
				  idx, kind, id, tid, nid ? nid : "(none)");
			return -EBADMSG;
		}
		cont = json_array_get(list, i);
	}
	list = list_of(cont, k->list, upsert);
	i = list ? find_by(list, k->key, id) : -1;
	if (!list && upsert) {
		nn_seterr(err, errlen, "delta change %zu (%s %s): \"%s\" is not a list", idx, kind,
			  id, k->list);
		return -EBADMSG;
	}
	if (!upsert) {
		/* Deleting what is not there: our base is not the control
		 * plane's snapshot M, so nothing built on it can be trusted. */
		if (i < 0 || json_array_remove(list, i)) {
			nn_seterr(err, errlen,
				  "delta change %zu: delete of %s %s, which is not in "
				  "the base snapshot",
				  idx, kind, id);
			return -EBADMSG;
		}
		return 0;
	}
	value = json_deep_copy(value);
	if (!value)
		return -ENOMEM;
	if (i >= 0 ? json_array_set_new(list, i, value) : json_array_append_new(list, value))
		return -ENOMEM;
	return 0;
}

int nn_cp_delta_apply(json_t *snap, const json_t *delta, size_t *n_changes, char *err,
		      size_t errlen)
{
	json_t *gen = json_object_get(delta, "generation");
	json_t *since = json_object_get(delta, "since");
	json_t *full = json_object_get(delta, "full");
	json_t *changes = json_object_get(delta, "changes");
	json_t *base = json_object_get(snap, "generation"), *c;
	size_t i;
	int ret;

	if (n_changes)
		*n_changes = 0;
	if (!json_is_object(snap) || !json_is_integer(base)) {
		nn_seterr(err, errlen, "delta: the base snapshot has no generation");
		return -EINVAL;
	}
	if (!json_is_object(delta) || !json_is_integer(gen) || !json_is_integer(since) ||
	    !json_is_array(changes) || (full && !json_is_false(full))) {
		nn_seterr(err, errlen,
			  "delta: needs integer generation and since, "
			  "\"full\": false and a changes list");
		return -EBADMSG;
	}
	if (json_integer_value(since) != json_integer_value(base) ||
	    json_integer_value(gen) < json_integer_value(since)) {
		nn_seterr(err, errlen,
			  "delta: from generation %lld to %lld does not apply to "
			  "base generation %lld",
			  (long long)json_integer_value(since), (long long)json_integer_value(gen),
			  (long long)json_integer_value(base));
		return -EBADMSG;
	}
	json_array_foreach(changes, i, c)
	{
		ret = apply_one(snap, c, i, err, errlen);
		if (ret)
			return ret;
	}
	if (json_object_set_new(snap, "generation", json_integer(json_integer_value(gen))))
		return -ENOMEM;
	if (n_changes)
		*n_changes = json_array_size(changes);
	return 0;
}
