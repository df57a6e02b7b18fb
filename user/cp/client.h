/* SPDX-License-Identifier: GPL-2.0 */
/*
 * client.h - the control-plane client (docs/assignments-v1.md), on libcurl.
 *
 * Fetches a gateway's assignments as JSON text: the full snapshot with
 * ETag / If-None-Match, or ?since= deltas applied here to the last snapshot
 * held in memory (a 410, or a delta that does not apply, falls back to a
 * full snapshot). Follows the SSE event stream. Everything returned is
 * untrusted: the text is checked to be one JSON object without duplicate
 * keys and nothing more; validating it (nn_policy_parse) is the caller's job.
 *
 * Conventions: functions return 0 or -errno and, on error, write a message
 * naming what failed into err ("control plane https://cp:8443/...:
 * certificate verify failed"). Errors:
 *   -EINVAL       bad options or URL           -EPERM      plain http:// to a
 *   -ETIMEDOUT    connect/total/low-speed                   non-loopback host,
 *                 timeout, dead event stream                TLS verification
 *   -ECONNREFUSED cannot connect               -ECONNRESET TLS handshake or
 *   -EFBIG        response over the size cap                connection failed
 *   -EPROTO       unexpected HTTP status       -EBADMSG    not JSON / bad delta
 *   -EIO          anything else from libcurl   -ENOMEM
 *
 * Threads: the fetch functions share one connection and must not run
 * concurrently with each other; nn_cp_stream() uses its own connection and
 * may run in another thread; nn_cp_stream_stop() may be called from any
 * thread (or a signal handler).
 */
#ifndef NANAMI_CP_CLIENT_H
#define NANAMI_CP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "policy/held.h"

#define NN_CP_DEF_CONNECT_TIMEOUT_MS 5000
#define NN_CP_DEF_TIMEOUT_MS 30000
#define NN_CP_DEF_LOW_SPEED_LIMIT 64 /* bytes/s ... */
#define NN_CP_DEF_LOW_SPEED_TIME 10  /* ... for this many seconds */
/* bytes: the snapshot parser's own limit (policy.h, --max-snapshot-mb) */
#define NN_CP_DEF_MAX_RESPONSE (128u << 20)
#define NN_CP_DEF_KEEPALIVE_S 15 /* the contract's maximum */

struct nn_cp_opts {
	const char *url;	   /* base URL, e.g. https://cp.example:8443 */
	const char *node_id;	   /* [A-Za-z0-9._-]+ */
	const char *cert;	   /* client certificate (PEM), NULL = none */
	const char *key;	   /* its private key (PEM) */
	const char *ca;		   /* CA bundle for the server, NULL = system */
	const char *pinned_pubkey; /* "sha256//BASE64[;sha256//...]" or a
					 * PEM/DER public key file, NULL = none */
	long connect_timeout_ms;   /* 0 = default, for all fields below */
	long timeout_ms;	   /* whole fetch, not the stream */
	long low_speed_limit;	   /* bytes/s; slower than this ... */
	long low_speed_time;	   /* ... for this many s aborts a fetch */
	size_t max_response;	   /* bytes, enforced while receiving */
	long keepalive_s;	   /* stream: dead after 2x this without bytes ... */
	long stream_idle_ms;	   /* ... or after this many ms, when set */
};

struct nn_cp_client;

/* What kind of failure a request ended in, as far as the client can tell
 * (the controller counts them: nanami_control_plane_errors_total{kind}). */
enum nn_cp_err_kind {
	NN_CP_ERR_NONE = 0,
	NN_CP_ERR_CONNECT,	  /* refused, unreachable, name not resolved */
	NN_CP_ERR_TLS,		  /* handshake, verification, pin, our certificate */
	NN_CP_ERR_TIMEOUT,	  /* connect/total/low-speed, a dead event stream */
	NN_CP_ERR_HTTP_STATUS,	  /* an answer with an unexpected status */
	NN_CP_ERR_BODY_TOO_LARGE, /* over the size cap (response or SSE line) */
	NN_CP_ERR_PARSE,	  /* not one JSON object, duplicate keys, ... */
	NN_CP_ERR_RESET,	  /* closed or reset mid-request (plain http) */
	NN_CP_ERR_OTHER,	  /* anything else libcurl reports */
	NN_CP_ERR_MAX,
};

/* "connect", "tls", ...; "none" for NN_CP_ERR_NONE. */
const char *nn_cp_err_kind_name(enum nn_cp_err_kind k);

/* The kind of the last failed request of @c (the fetch handle's, or the
 * stream's when called from the stream's thread after nn_cp_stream());
 * NN_CP_ERR_NONE after a success. */
enum nn_cp_err_kind nn_cp_client_last_error(const struct nn_cp_client *c);

int nn_cp_client_new(const struct nn_cp_opts *o, struct nn_cp_client **out, char *err,
		     size_t errlen);
void nn_cp_client_free(struct nn_cp_client *c);

/* Forget the held snapshot and ETag: the next fetch is a full, unconditional
 * one (for the drift timer: re-read desired state). */
void nn_cp_client_reset(struct nn_cp_client *c);

/* Hold text (e.g. the last-known-good snapshot) as the base for the next
 * ?since= fetch, with its ETag if known (NULL = none). */
int nn_cp_client_set_base(struct nn_cp_client *c, const char *text, size_t len, const char *etag,
			  char *err, size_t errlen);

/* Generation of the held snapshot, -1 when none. */
long long nn_cp_client_generation(const struct nn_cp_client *c);

/* The result of one fetch. body is malloc'ed, NUL-terminated full snapshot
 * JSON text, NULL when unchanged; release with nn_cp_fetch_release(). */
struct nn_cp_fetch {
	bool unchanged;	      /* 304, or an empty delta */
	bool from_delta;      /* body built by applying ?since= changes */
	bool fell_back;	      /* delta refused (410) or unusable: full */
	long http_status;     /* of the last request */
	long long generation; /* of body (or of the held snapshot) */
	size_t n_changes;     /* delta entries applied */
	char *body;	      /* NULL after a lazy delta fetch until
			       * nn_cp_fetch_body() */
	size_t len;
	char etag[128];
	/* from_delta: the delta's "changes" array as received and applied
	 * (a reference, released with the fetch); NULL otherwise. The
	 * incremental path reads it instead of re-parsing the body. */
	json_t *changes;
};

/* GET .../assignments with If-None-Match when an ETag is held. */
int nn_cp_fetch_snapshot(struct nn_cp_client *c, struct nn_cp_fetch *f, char *err, size_t errlen);

/* GET ...?since=<held generation> and apply it; a full snapshot when
 * nothing is held, on 410, or when the delta does not apply. */
int nn_cp_fetch_delta(struct nn_cp_client *c, struct nn_cp_fetch *f, char *err, size_t errlen);

/* nn_cp_fetch_delta() without the body of a delta: serialising the held
 * document is 0.3 s at 100k devices, and a caller that can enforce the
 * delta from f->changes alone never needs it. f->body stays NULL after a
 * delta (a full snapshot's body is the received text, as before); ask for
 * it with nn_cp_fetch_body() before the next fetch. */
int nn_cp_fetch_delta_lazy(struct nn_cp_client *c, struct nn_cp_fetch *f, char *err, size_t errlen);

/* Fill f->body from the held document if it is not there yet (a lazy
 * delta fetch). 0, or -ENOMEM (the held document is then dropped: the
 * next fetch is a full one). */
int nn_cp_fetch_body(struct nn_cp_client *c, struct nn_cp_fetch *f);

void nn_cp_fetch_release(struct nn_cp_fetch *f);

/* The held snapshot document (the delta base, held.h), NULL when none.
 * Owned by the client; deltas change it in place and a full fetch replaces
 * it: take a reference (nn_held_ref) to keep it, and read it only. */
struct nn_held *nn_cp_client_doc(const struct nn_cp_client *c);

/* Raw request for tools and tests (operator/admin API): method, path under
 * the base URL, optional JSON body. *resp (malloc'ed) holds the body. */
int nn_cp_request(struct nn_cp_client *c, const char *method, const char *path, const char *body,
		  long *status, char **resp, char *err, size_t errlen);

/* ---- event stream ---- */

/* Called per "assignments" event; non-zero stops the stream. */
typedef int (*nn_cp_event_cb)(void *ctx, long long generation);

struct nn_cp_stream_stats {
	unsigned int events;	 /* "assignments" events */
	unsigned int keepalives; /* comment lines */
	unsigned int other;	 /* unknown events, ignored */
	bool connected;		 /* got 200 text/event-stream */
};

/* Connect to .../events and call cb per event until: cb returns non-zero
 * or nn_cp_stream_stop() (0), the server closes the stream (-ECONNRESET),
 * no byte for the idle bound (stream_idle_ms, default 2x keepalive_s;
 * counted from the start while nothing came yet) (-ETIMEDOUT), or an
 * error. st may be NULL. */
int nn_cp_stream(struct nn_cp_client *c, nn_cp_event_cb cb, void *ctx,
		 struct nn_cp_stream_stats *st, char *err, size_t errlen);
void nn_cp_stream_stop(struct nn_cp_client *c);

/* True from the first byte of a 200 text/event-stream body until
 * nn_cp_stream() returns; false while connecting, while a control plane
 * that accepted has said nothing yet (headers alone do not count), and
 * between streams. Any thread may ask: a caller that relies on the stream
 * for changes polls while this is false. */
bool nn_cp_stream_live(struct nn_cp_client *c);

/* The idle bound of the stream in ms (from the last byte received). */
long nn_cp_stream_idle_ms(const struct nn_cp_client *c);

/* ---- pure helpers (unit-tested) ---- */

/* 0 for https://, or http:// to 127.0.0.0/8, ::1 or localhost; -EPERM for
 * plain http:// elsewhere; -EINVAL for anything else. */
int nn_cp_check_url(const char *url, char *err, size_t errlen);

/* Reconnect delay for the attempt-th consecutive failure (0-based):
 * exponential from base_ms, capped at max_ms, "equal jitter": uniformly in
 * [d/2, d] with d = min(max_ms, base_ms << attempt), using rnd. */
unsigned int nn_cp_backoff_ms(unsigned int attempt, unsigned int base_ms, unsigned int max_ms,
			      uint32_t rnd);

/* interval_ms +/- pct percent, uniformly, using rnd (poll and resync timers,
 * so gateways do not hit the control plane in step). */
unsigned int nn_cp_jitter_ms(unsigned int interval_ms, unsigned int pct, uint32_t rnd);

/* A random 32-bit value (getrandom), for the two above. */
uint32_t nn_cp_random(void);

/* @j as compact JSON text, keys in insertion order: the bytes json_dumps
 * with JSON_COMPACT gives, about three times faster (dump.c). malloc'd,
 * NUL-terminated, its length in *@len; NULL with errno on failure. */
char *nn_cp_dump(const json_t *j, size_t *len);

/* The size cap as the write callback applies it: may have + n bytes more be
 * accepted under cap? (false also on overflow). */
bool nn_cp_cap_ok(size_t have, size_t n, size_t cap);

/* The kind of a failure from the -errno it returned and, for libcurl
 * failures, its CURLcode (0 when none) and whether the URL is https. */
enum nn_cp_err_kind nn_cp_err_kind_of(int err, int curl_code, bool https);

#endif /* NANAMI_CP_CLIENT_H */
