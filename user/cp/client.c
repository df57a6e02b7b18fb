// SPDX-License-Identifier: GPL-2.0
/*
 * client.c - the control-plane client: libcurl for HTTP and TLS (never
 * hand-written), jansson for the JSON it must hold (the delta base).
 * Contract and conventions in client.h.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cp/client_int.h"
#include "lib/log.h"
#include "lib/strbuf.h"

/* ---- libcurl plumbing ---- */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

static void curl_init(void)
{
	curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

struct buf {
	char *p;
	size_t len, cap, max;
	bool over;
};

static size_t body_cb(char *d, size_t sz, size_t nm, void *ud)
{
	struct buf *b = ud;
	size_t n = sz * nm;
	char *np;

	/* Chunked bodies have no Content-Length, so the cap is enforced
	 * here, on every byte received. */
	if (!nn_cp_cap_ok(b->len, n + 1, b->max + 1)) {
		b->over = true;
		return 0;
	}
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 16384;

		while (cap < b->len + n + 1)
			cap *= 2;
		np = realloc(b->p, cap);
		if (!np)
			return 0;
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, d, n);
	b->len += n;
	b->p[b->len] = 0;
	return n;
}

static size_t header_cb(char *d, size_t sz, size_t nm, void *ud)
{
	char *etag = ud;
	size_t n = sz * nm;

	if (n >= 5 && !strncmp(d, "HTTP/", 5)) {
		etag[0] = 0; /* a new response (after 100-continue, ...) */
	} else if (n > 5 && !strncasecmp(d, "ETag:", 5)) {
		size_t s = 5, e = n;

		while (s < e && (d[s] == ' ' || d[s] == '\t'))
			s++;
		while (e > s && (d[e - 1] == '\r' || d[e - 1] == '\n' || d[e - 1] == ' '))
			e--;
		if (e - s < 128) {
			memcpy(etag, d + s, e - s);
			etag[e - s] = 0;
		}
	}
	return n;
}

int nn_cp_curl_errno(CURLcode rc)
{
	switch (rc) {
	case CURLE_OPERATION_TIMEDOUT:
		return -ETIMEDOUT;
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_HOST:
		return -ECONNREFUSED;
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_INVALIDCERTSTATUS:
		return -EPERM;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_GOT_NOTHING:
		return -ECONNRESET;
	case CURLE_OUT_OF_MEMORY:
		return -ENOMEM;
	case CURLE_FILESIZE_EXCEEDED:
		return -EFBIG;
	default:
		return -EIO;
	}
}

/* "control plane URL: what libcurl said". With TLS 1.3 a server that
 * refuses our client certificate does so after the handshake, and libcurl
 * sees only a reset or an alert: say what it most likely means. */
void nn_cp_curl_fail(const char *url, CURLcode rc, const char *ebuf, char *err, size_t errlen)
{
	bool tls = !strncmp(url, "https:", 6) && nn_cp_curl_errno(rc) == -ECONNRESET;

	nn_seterr(err, errlen, "control plane %s: %s%s", url,
		  ebuf[0] ? ebuf : curl_easy_strerror(rc),
		  tls ? " (TLS: the server refused the connection; is our client certificate "
			"missing or not signed by a CA it trusts?)" :
			"");
}

/* Options every request gets. Verification is never turned off. */
int nn_cp_setup(struct nn_cp_client *c, CURL *h, const char *url, char *ebuf,
		struct curl_slist *hdrs)
{
	CURLcode rc = CURLE_OK;

#define SET(opt, val)                                       \
	do {                                                \
		if (!rc)                                    \
			rc = curl_easy_setopt(h, opt, val); \
	} while (0)
	SET(CURLOPT_URL, url);
	SET(CURLOPT_PROTOCOLS_STR, "http,https");
	SET(CURLOPT_FOLLOWLOCATION, 0L);
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_ERRORBUFFER, ebuf);
	SET(CURLOPT_USERAGENT, "nanami-gatewayd/1");
	SET(CURLOPT_CONNECTTIMEOUT_MS, c->connect_timeout_ms);
	SET(CURLOPT_SSL_VERIFYPEER, 1L);
	SET(CURLOPT_SSL_VERIFYHOST, 2L);
	SET(CURLOPT_HTTPHEADER, hdrs);
	if (c->cert)
		SET(CURLOPT_SSLCERT, c->cert);
	if (c->key)
		SET(CURLOPT_SSLKEY, c->key);
	if (c->ca)
		SET(CURLOPT_CAINFO, c->ca);
	if (c->pin)
		SET(CURLOPT_PINNEDPUBLICKEY, c->pin);
#undef SET
	return rc ? -EINVAL : 0;
}

/* One request on the fetch handle. 0 with *status on any HTTP answer. */
static int perform(struct nn_cp_client *c, const char *method, const char *url, const char *body,
		   struct curl_slist *hdrs, struct buf *b, char *etag, long *status, char *err,
		   size_t errlen)
{
	char ebuf[CURL_ERROR_SIZE] = "";
	CURLcode rc;
	int ret;

	curl_easy_reset(c->h);
	c->last_curl = 0;
	*status = 0;
	b->max = c->max_response;
	ret = nn_cp_setup(c, c->h, url, ebuf, hdrs);
	if (!ret && (curl_easy_setopt(c->h, CURLOPT_TIMEOUT_MS, c->timeout_ms) ||
		     curl_easy_setopt(c->h, CURLOPT_LOW_SPEED_LIMIT, c->low_speed_limit) ||
		     curl_easy_setopt(c->h, CURLOPT_LOW_SPEED_TIME, c->low_speed_time) ||
		     curl_easy_setopt(c->h, CURLOPT_WRITEFUNCTION, body_cb) ||
		     curl_easy_setopt(c->h, CURLOPT_WRITEDATA, b) ||
		     curl_easy_setopt(c->h, CURLOPT_HEADERFUNCTION, header_cb) ||
		     curl_easy_setopt(c->h, CURLOPT_HEADERDATA, etag) ||
		     curl_easy_setopt(c->h, CURLOPT_CUSTOMREQUEST, method) ||
		     (body && curl_easy_setopt(c->h, CURLOPT_POSTFIELDS, body))))
		ret = -EINVAL;
	if (ret) {
		nn_seterr(err, errlen, "control plane %s: cannot set up the request", url);
		return ret;
	}
	rc = curl_easy_perform(c->h);
	if (b->over) {
		nn_seterr(err, errlen,
			  "control plane %s: response larger than %zu bytes, cut "
			  "(size cap)",
			  url, c->max_response);
		return -EFBIG;
	}
	if (rc != CURLE_OK) {
		c->last_curl = rc;
		nn_cp_curl_fail(url, rc, ebuf, err, errlen);
		return nn_cp_curl_errno(rc);
	}
	curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, status);
	return 0;
}

/* "HTTP 500: <start of the body>", printable characters only. */
static void http_err(const char *url, long status, const struct buf *b, char *err, size_t errlen)
{
	char peek[160];
	size_t i, n = 0;

	for (i = 0; b->p && i < b->len && n < sizeof(peek) - 1; i++)
		peek[n++] = (b->p[i] >= 0x20 && b->p[i] < 0x7f) ? b->p[i] : ' ';
	while (n && peek[n - 1] == ' ')
		n--;
	peek[n] = 0;
	nn_seterr(err, errlen, "control plane %s: HTTP %ld%s%s", url, status, n ? ": " : "", peek);
}

/* ---- client ---- */

static char *dup_opt(const char *s, bool *fail)
{
	char *d;

	if (!s)
		return NULL;
	d = strdup(s);
	if (!d)
		*fail = true;
	return d;
}

int nn_cp_client_new(const struct nn_cp_opts *o, struct nn_cp_client **out, char *err,
		     size_t errlen)
{
	struct nn_cp_client *c;
	bool fail = false;
	const char *s;
	size_t n;
	int ret;

	*out = NULL;
	ret = nn_cp_check_url(o->url, err, errlen);
	if (ret)
		return ret;
	for (s = o->node_id; s && *s; s++)
		if (!(*s == '-' || *s == '_' || *s == '.' || (*s >= '0' && *s <= '9') ||
		      (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')))
			break;
	if (!o->node_id || !*o->node_id || *s || strlen(o->node_id) > 255) {
		nn_seterr(err, errlen, "control plane: node id must be 1-255 of [A-Za-z0-9._-]");
		return -EINVAL;
	}
	if (!o->cert != !o->key) {
		nn_seterr(err, errlen, "control plane: --cert and --key go together");
		return -EINVAL;
	}
	pthread_once(&curl_once, curl_init);
	if (curl_init_rc) {
		nn_seterr(err, errlen, "control plane: libcurl init: %s",
			  curl_easy_strerror(curl_init_rc));
		return -EIO;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->base = dup_opt(o->url, &fail);
	c->node_id = dup_opt(o->node_id, &fail);
	c->cert = dup_opt(o->cert, &fail);
	c->key = dup_opt(o->key, &fail);
	c->ca = dup_opt(o->ca, &fail);
	c->pin = dup_opt(o->pinned_pubkey, &fail);
	c->h = curl_easy_init();
	if (fail || !c->h) {
		nn_cp_client_free(c);
		return -ENOMEM;
	}
	n = strlen(c->base);
	while (n && c->base[n - 1] == '/')
		c->base[--n] = 0;
	c->connect_timeout_ms = o->connect_timeout_ms > 0 ? o->connect_timeout_ms :
							    NN_CP_DEF_CONNECT_TIMEOUT_MS;
	c->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : NN_CP_DEF_TIMEOUT_MS;
	c->low_speed_limit = o->low_speed_limit > 0 ? o->low_speed_limit :
						      NN_CP_DEF_LOW_SPEED_LIMIT;
	c->low_speed_time = o->low_speed_time > 0 ? o->low_speed_time : NN_CP_DEF_LOW_SPEED_TIME;
	c->max_response = o->max_response ? o->max_response : NN_CP_DEF_MAX_RESPONSE;
	c->keepalive_s = o->keepalive_s > 0 ? o->keepalive_s : NN_CP_DEF_KEEPALIVE_S;
	c->stream_idle_ms = o->stream_idle_ms > 0 ? o->stream_idle_ms : 2000 * c->keepalive_s;
	c->gen = -1;
	*out = c;
	return 0;
}

void nn_cp_client_free(struct nn_cp_client *c)
{
	if (!c)
		return;
	if (c->h)
		curl_easy_cleanup(c->h);
	nn_held_put(c->snap);
	free(c->base);
	free(c->node_id);
	free(c->cert);
	free(c->key);
	free(c->ca);
	free(c->pin);
	free(c);
}

void nn_cp_client_reset(struct nn_cp_client *c)
{
	nn_held_put(c->snap);
	c->snap = NULL;
	c->gen = -1;
	c->etag[0] = 0;
}

long long nn_cp_client_generation(const struct nn_cp_client *c)
{
	return c->gen;
}

/* Parse text as the new base; untrusted, so one object, no duplicate keys
 * (the arena tree of held.h: jansson's tree of it was 9x the text). */
static int hold(struct nn_cp_client *c, const char *text, size_t len, const char *etag,
		const char *what, char *err, size_t errlen)
{
	struct nn_held *h;
	char why[320];
	int ret = nn_held_parse(text, len, &h, why, sizeof(why));

	if (ret) {
		nn_seterr(err, errlen, "control plane %s: %s", what, why);
		return ret;
	}
	nn_held_put(c->snap);
	c->snap = h;
	c->gen = nn_held_generation(h);
	snprintf(c->etag, sizeof(c->etag), "%s", etag ? etag : "");
	return 0;
}

int nn_cp_client_set_base(struct nn_cp_client *c, const char *text, size_t len, const char *etag,
			  char *err, size_t errlen)
{
	return hold(c, text, len, etag, "base snapshot", err, errlen);
}

struct nn_held *nn_cp_client_doc(const struct nn_cp_client *c)
{
	return c->snap;
}

void nn_cp_fetch_release(struct nn_cp_fetch *f)
{
	free(f->body);
	json_decref(f->changes);
	memset(f, 0, sizeof(*f));
}

char *nn_cp_url_of(struct nn_cp_client *c, const char *what, long long since)
{
	char *u = NULL;
	int n;

	if (since >= 0)
		n = asprintf(&u, "%s/api/v1/gateways/%s/%s?since=%lld", c->base, c->node_id, what,
			     since);
	else
		n = asprintf(&u, "%s/api/v1/gateways/%s/%s", c->base, c->node_id, what);
	return n < 0 ? NULL : u;
}

static int fetch_full(struct nn_cp_client *c, struct nn_cp_fetch *f, bool conditional, char *err,
		      size_t errlen)
{
	struct curl_slist *hdrs = NULL, *t;
	struct buf b = { 0 };
	char inm[160], etag[128] = "";
	char *url = nn_cp_url_of(c, "assignments", -1);
	int ret = -ENOMEM;

	if (!url)
		return -ENOMEM;
	if (conditional && c->snap && c->etag[0]) {
		snprintf(inm, sizeof(inm), "If-None-Match: %s", c->etag);
		t = curl_slist_append(hdrs, inm);
		if (!t)
			goto out;
		hdrs = t;
	}
	ret = perform(c, "GET", url, NULL, hdrs, &b, etag, &f->http_status, err, errlen);
	if (ret)
		goto out;
	if (f->http_status == 304 && conditional && c->snap) {
		f->unchanged = true;
		f->generation = c->gen;
	} else if (f->http_status == 200) {
		ret = hold(c, b.p ? b.p : "", b.len, etag, url, err, errlen);
		if (ret)
			goto out;
		f->generation = c->gen;
		f->body = b.p ? b.p : strdup("");
		f->len = b.len;
		b.p = NULL;
		snprintf(f->etag, sizeof(f->etag), "%s", etag);
	} else {
		http_err(url, f->http_status, &b, err, errlen);
		ret = -EPROTO;
	}
out:
	curl_slist_free_all(hdrs);
	free(b.p);
	free(url);
	return ret;
}

/* Remember what kind of failure @ret (a public function's result) was. */
static int noted(struct nn_cp_client *c, int ret)
{
	c->last_kind =
		nn_cp_err_kind_of(ret, ret ? c->last_curl : 0, !strncmp(c->base, "https:", 6));
	return ret;
}

enum nn_cp_err_kind nn_cp_client_last_error(const struct nn_cp_client *c)
{
	return c->last_kind;
}

int nn_cp_fetch_snapshot(struct nn_cp_client *c, struct nn_cp_fetch *f, char *err, size_t errlen)
{
	memset(f, 0, sizeof(*f));
	c->last_curl = 0;
	return noted(c, fetch_full(c, f, true, err, errlen));
}

static int fetch_delta(struct nn_cp_client *c, struct nn_cp_fetch *f, char *err, size_t errlen);

int nn_cp_fetch_body(struct nn_cp_client *c, struct nn_cp_fetch *f)
{
	if (f->body || f->unchanged || !f->from_delta)
		return 0;
	if (!c->snap || c->gen != f->generation)
		return -ESTALE; /* another fetch since: the body is gone */
	f->body = nn_held_dump(c->snap->d.root, &f->len);
	if (!f->body) {
		/* the held snapshot is at the new generation already */
		nn_cp_client_reset(c);
		return -ENOMEM;
	}
	return 0;
}

int nn_cp_fetch_delta_lazy(struct nn_cp_client *c, struct nn_cp_fetch *f, char *err, size_t errlen)
{
	c->last_curl = 0;
	return noted(c, fetch_delta(c, f, err, errlen));
}

int nn_cp_fetch_delta(struct nn_cp_client *c, struct nn_cp_fetch *f, char *err, size_t errlen)
{
	int ret = nn_cp_fetch_delta_lazy(c, f, err, errlen);

	if (!ret && nn_cp_fetch_body(c, f)) {
		nn_seterr(err, errlen, "control plane: no memory for the snapshot text");
		nn_cp_fetch_release(f);
		ret = noted(c, -ENOMEM);
	}
	return ret;
}

static int fetch_delta(struct nn_cp_client *c, struct nn_cp_fetch *f, char *err, size_t errlen)
{
	struct buf b = { 0 };
	char etag[128] = "", why[256];
	json_t *d = NULL;
	json_error_t je;
	char *url;
	int ret;

	memset(f, 0, sizeof(*f));
	if (!c->snap || c->gen < 0)
		return fetch_full(c, f, false, err, errlen);
	url = nn_cp_url_of(c, "assignments", c->gen);
	if (!url)
		return -ENOMEM;
	ret = perform(c, "GET", url, NULL, NULL, &b, etag, &f->http_status, err, errlen);
	if (ret)
		goto out;
	if (f->http_status == 410) {
		/* The control plane no longer has our generation: take a full
		 * snapshot; it may still be the one we hold (304). */
		nn_log_info("event=cp_delta_gone since=%lld action=full_snapshot", c->gen);
		f->fell_back = true;
		ret = fetch_full(c, f, true, err, errlen);
		f->fell_back = true;
		goto out;
	}
	if (f->http_status != 200) {
		http_err(url, f->http_status, &b, err, errlen);
		ret = -EPROTO;
		goto out;
	}
	d = json_loadb(b.p ? b.p : "", b.len, JSON_REJECT_DUPLICATES, &je);
	if (!d) {
		snprintf(why, sizeof(why), "invalid JSON at line %d column %d: %s", je.line,
			 je.column, je.text);
		ret = -EBADMSG;
	} else {
		/* In place: a copy of the held snapshot per delta was most of
		 * the controller's work for a one-device change at 100k
		 * devices. A delta that fails half-applied leaves the held
		 * snapshot unusable, and it is dropped just below. */
		ret = nn_held_delta_apply(c->snap, d, &f->n_changes, why, sizeof(why));
	}
	if (ret) {
		/* A delta we cannot apply exactly is worth nothing: the base
		 * would drift from the control plane's. Start over in full. */
		nn_log_warn("event=cp_delta_unusable url=%s reason=\"%s\" action=full_snapshot",
			    url, why);
		nn_cp_client_reset(c);
		ret = fetch_full(c, f, false, err, errlen);
		f->fell_back = true;
		goto out;
	}
	if (f->n_changes == 0 && json_integer_value(json_object_get(d, "generation")) == c->gen) {
		f->unchanged = true;
		f->from_delta = true;
		f->generation = c->gen;
		goto out;
	}
	c->gen = nn_held_generation(c->snap);
	f->changes = json_incref(json_object_get(d, "changes"));
	f->from_delta = true;
	f->generation = c->gen;
	/* The ETag names the control plane's serialisation, which we did not
	 * receive: the next full fetch is unconditional. */
	c->etag[0] = 0;
out:
	json_decref(d);
	free(b.p);
	free(url);
	return ret;
}

int nn_cp_request(struct nn_cp_client *c, const char *method, const char *path, const char *body,
		  long *status, char **resp, char *err, size_t errlen)
{
	struct curl_slist *hdrs = NULL;
	struct buf b = { 0 };
	char etag[128], *url = NULL;
	int ret;

	*resp = NULL;
	c->last_curl = 0;
	if (asprintf(&url, "%s%s", c->base, path) < 0)
		return -ENOMEM;
	if (body) {
		hdrs = curl_slist_append(NULL, "Content-Type: application/json");
		if (!hdrs) {
			free(url);
			return -ENOMEM;
		}
	}
	ret = noted(c, perform(c, method, url, body, hdrs, &b, etag, status, err, errlen));
	curl_slist_free_all(hdrs);
	free(url);
	if (ret) {
		free(b.p);
		return ret;
	}
	*resp = b.p ? b.p : strdup("");
	return *resp ? 0 : -ENOMEM;
}
