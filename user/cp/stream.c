// SPDX-License-Identifier: GPL-2.0
/*
 * stream.c - the control-plane event stream (text/event-stream):
 * one callback per "assignments" event, keepalive comments counted, a
 * stream silent for its idle bound (2x the keepalive interval unless set)
 * declared dead. "Live" only once bytes arrive: a control plane that
 * accepts and then says nothing must not hold its client off polling.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "cp/client_int.h"
#include "lib/strbuf.h"

#define SSE_LINE_MAX 4096
#define SSE_EVENT_MAX 64

struct sse {
	struct nn_cp_client *c;
	CURL *h;
	nn_cp_event_cb cb;
	void *ctx;
	struct nn_cp_stream_stats *st;
	struct timespec last; /* last byte received */
	char line[SSE_LINE_MAX];
	size_t llen;
	bool cr; /* last byte was CR (CRLF = one break) */
	char event[SSE_EVENT_MAX];
	char data[SSE_LINE_MAX];
	size_t dlen;
	bool checked, bad_status, too_long, dead, stopped;
	long status;
};

static double since_s(const struct timespec *t)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - t->tv_sec) + (now.tv_nsec - t->tv_nsec) / 1e9;
}

/* Progress callback: at least once a second even when idle, so both the
 * dead-stream timer and a stop request act within about a second. */
static int sse_progress(void *ud, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	struct sse *s = ud;

	(void)dt;
	(void)dn;
	(void)ut;
	(void)un;
	if (atomic_load(&s->c->stop)) {
		s->stopped = true;
		return 1;
	}
	if (since_s(&s->last) * 1000.0 > (double)s->c->stream_idle_ms) {
		s->dead = true;
		return 1;
	}
	return 0;
}

/* One complete line (without its break). Returns false to stop. */
static bool sse_line(struct sse *s)
{
	char *l = s->line, *v;
	size_t n;

	if (s->llen == 0) { /* blank line: dispatch */
		if (!strcmp(s->event, "assignments")) {
			json_t *j = json_loadb(s->data, s->dlen, JSON_REJECT_DUPLICATES, NULL);
			json_t *g = json_object_get(j, "generation");
			/* Untrusted data: a bad one still says "something
			 * changed", so report it with an unknown generation. */
			long long gen = json_is_integer(g) ? json_integer_value(g) : -1;

			json_decref(j);
			s->st->events++;
			if (s->cb && s->cb(s->ctx, gen)) {
				s->stopped = true;
				return false;
			}
		} else if (s->event[0] || s->dlen) {
			s->st->other++;
		}
		s->event[0] = 0;
		s->dlen = 0;
		return true;
	}
	l[s->llen] = 0;
	if (l[0] == ':') {
		s->st->keepalives++;
		return true;
	}
	v = strchr(l, ':');
	if (v) {
		*v++ = 0;
		if (*v == ' ')
			v++;
	} else {
		v = l + s->llen;
	}
	if (!strcmp(l, "event")) {
		snprintf(s->event, sizeof(s->event), "%s", v);
	} else if (!strcmp(l, "data")) {
		n = strlen(v);
		if (s->dlen + n + 1 >= sizeof(s->data)) {
			s->too_long = true;
			return false;
		}
		if (s->dlen)
			s->data[s->dlen++] = '\n';
		memcpy(s->data + s->dlen, v, n);
		s->dlen += n;
	}
	return true; /* id:, retry: and unknown fields: ignored */
}

static size_t sse_write(char *d, size_t sz, size_t nm, void *ud)
{
	struct sse *s = ud;
	size_t i, n = sz * nm;
	char *ct = NULL;

	clock_gettime(CLOCK_MONOTONIC, &s->last);
	if (!s->checked) {
		curl_easy_getinfo(s->h, CURLINFO_RESPONSE_CODE, &s->status);
		curl_easy_getinfo(s->h, CURLINFO_CONTENT_TYPE, &ct);
		if (s->status != 200 || !ct || strncasecmp(ct, "text/event-stream", 17)) {
			s->bad_status = true;
			return 0;
		}
		s->checked = true;
		s->st->connected = true;
		atomic_store(&s->c->live, 1);
	}
	for (i = 0; i < n; i++) {
		char ch = d[i];

		if (ch == '\n' && s->cr) {
			s->cr = false;
			continue;
		}
		s->cr = ch == '\r';
		if (ch == '\r' || ch == '\n') {
			if (!sse_line(s))
				return 0;
			s->llen = 0;
			continue;
		}
		if (s->llen + 1 >= sizeof(s->line)) {
			s->too_long = true;
			return 0;
		}
		s->line[s->llen++] = ch;
	}
	return n;
}

int nn_cp_stream(struct nn_cp_client *c, nn_cp_event_cb cb, void *ctx,
		 struct nn_cp_stream_stats *st, char *err, size_t errlen)
{
	struct nn_cp_stream_stats dummy;
	struct curl_slist *hdrs = NULL, *t;
	char ebuf[CURL_ERROR_SIZE] = "";
	struct sse *s;
	char *url = nn_cp_url_of(c, "events", -1);
	CURLcode rc;
	int curl_rc = 0;
	int ret = -ENOMEM;

	if (!st)
		st = &dummy;
	memset(st, 0, sizeof(*st));
	s = calloc(1, sizeof(*s));
	if (!s || !url)
		goto out;
	s->c = c;
	s->cb = cb;
	s->ctx = ctx;
	s->st = st;
	clock_gettime(CLOCK_MONOTONIC, &s->last);
	hdrs = curl_slist_append(NULL, "Accept: text/event-stream");
	t = hdrs ? curl_slist_append(hdrs, "Cache-Control: no-cache") : NULL;
	s->h = curl_easy_init();
	if (!t || !s->h)
		goto out;
	hdrs = t;
	ret = nn_cp_setup(c, s->h, url, ebuf, hdrs);
	/* No total timeout (a stream lasts); the progress callback's dead
	 * timer replaces the low-speed limit, which averages too coarsely
	 * for a few bytes every keepalive interval. */
	if (!ret && (curl_easy_setopt(s->h, CURLOPT_WRITEFUNCTION, sse_write) ||
		     curl_easy_setopt(s->h, CURLOPT_WRITEDATA, s) ||
		     curl_easy_setopt(s->h, CURLOPT_NOPROGRESS, 0L) ||
		     curl_easy_setopt(s->h, CURLOPT_XFERINFOFUNCTION, sse_progress) ||
		     curl_easy_setopt(s->h, CURLOPT_XFERINFODATA, s)))
		ret = -EINVAL;
	if (ret) {
		nn_seterr(err, errlen, "control plane %s: cannot set up the event stream", url);
		goto out;
	}
	rc = curl_easy_perform(s->h);
	if (!s->checked && !s->stopped && !s->dead && rc == CURLE_OK) {
		/* An answer without a body never reached sse_write(). */
		curl_easy_getinfo(s->h, CURLINFO_RESPONSE_CODE, &s->status);
		s->bad_status = s->status != 200;
	}
	if (s->stopped) {
		ret = 0;
	} else if (s->dead) {
		nn_seterr(err, errlen,
			  "control plane %s: event stream dead: %s for %.1fs (idle bound)", url,
			  s->checked ? "no bytes" : "no answer",
			  (double)c->stream_idle_ms / 1000.0);
		ret = -ETIMEDOUT;
	} else if (s->bad_status) {
		nn_seterr(err, errlen,
			  "control plane %s: event stream answered HTTP %ld, "
			  "not 200 text/event-stream",
			  url, s->status);
		ret = -EPROTO;
	} else if (s->too_long) {
		nn_seterr(err, errlen, "control plane %s: event stream line or data over %d bytes",
			  url, SSE_LINE_MAX);
		ret = -EFBIG;
	} else if (rc == CURLE_OK) {
		nn_seterr(err, errlen, "control plane %s: event stream closed by the control plane",
			  url);
		ret = -ECONNRESET;
	} else {
		nn_cp_curl_fail(url, rc, ebuf, err, errlen);
		ret = nn_cp_curl_errno(rc);
		curl_rc = rc;
	}
out:
	atomic_store(&c->live, 0);
	c->last_kind = nn_cp_err_kind_of(ret, curl_rc, !strncmp(c->base, "https:", 6));
	atomic_store(&c->stop, 0);
	if (s && s->h)
		curl_easy_cleanup(s->h);
	curl_slist_free_all(hdrs);
	free(s);
	free(url);
	return ret;
}

void nn_cp_stream_stop(struct nn_cp_client *c)
{
	atomic_store(&c->stop, 1);
}

bool nn_cp_stream_live(struct nn_cp_client *c)
{
	return c && atomic_load(&c->live);
}

long nn_cp_stream_idle_ms(const struct nn_cp_client *c)
{
	return c->stream_idle_ms;
}
