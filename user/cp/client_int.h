/* SPDX-License-Identifier: GPL-2.0 */
/*
 * client_int.h - what the control-plane client's files share
 * (client.c: fetches; stream.c: the event stream;
 * util.c: pure helpers and deltas). Not an API: see client.h.
 */
#ifndef NANAMI_CP_CLIENT_INT_H
#define NANAMI_CP_CLIENT_INT_H

#include <stdatomic.h>

#include <curl/curl.h>

#include "cp/client.h"

struct nn_cp_client {
	char *base; /* URL without trailing '/' */
	char *node_id;
	char *cert, *key, *ca, *pin;
	long connect_timeout_ms, timeout_ms, low_speed_limit, low_speed_time;
	long keepalive_s;
	long stream_idle_ms; /* the stream is dead after this long without a byte */
	size_t max_response;
	CURL *h;	      /* fetches: reused, keeps the connection */
	struct nn_held *snap; /* last full snapshot, the delta base */
	long long gen;	      /* its generation, -1 = none */
	char etag[128];	      /* its ETag, "" = unknown */
	atomic_int stop;      /* nn_cp_stream_stop() */
	atomic_int live;      /* a stream is open and has delivered bytes */
	/* The last request's failure (each client is used by one thread):
	 * its kind, and libcurl's code when libcurl failed it (else 0). */
	enum nn_cp_err_kind last_kind;
	int last_curl;
};

/* Options every request gets (TLS verification is never turned off). */
int nn_cp_setup(struct nn_cp_client *c, CURL *h, const char *url, char *ebuf,
		struct curl_slist *hdrs);
int nn_cp_curl_errno(CURLcode rc);
void nn_cp_curl_fail(const char *url, CURLcode rc, const char *ebuf, char *err, size_t errlen);
/* base/api/v1/gateways/<node>/<what>[?since=N]; malloc'ed, NULL on ENOMEM. */
char *nn_cp_url_of(struct nn_cp_client *c, const char *what, long long since);

#endif /* NANAMI_CP_CLIENT_INT_H */
