// SPDX-License-Identifier: GPL-2.0
/*
 * util.c - the control-plane client's pure parts: backoff and
 * jitter, the size cap, the http:// loopback rule (deltas: held_delta.c).
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
