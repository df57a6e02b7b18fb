// SPDX-License-Identifier: GPL-2.0
/*
 * ctl.c - ask the controller through its control socket (JSON over HTTP on
 * a Unix socket, docs/interfaces.md). libcurl speaks the HTTP; nothing here
 * parses it by hand. When no controller listens there the caller falls back
 * to the pinned maps and says so.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <curl/curl.h>

#include "gwctl.h"

/* The daemon answers status at once; explain may first load its instance
 * (about half a second), so leave room for a loaded machine. */
#define GW_CTL_TIMEOUT_MS 15000
#define GW_CTL_MAX_BODY (4u << 20)

struct body {
	char *p;
	size_t len;
	bool over;
};

static size_t on_body(char *d, size_t sz, size_t nm, void *ud)
{
	struct body *b = ud;
	size_t n = sz * nm;
	char *np;

	if (b->len + n > GW_CTL_MAX_BODY) {
		b->over = true;
		return 0;
	}
	np = realloc(b->p, b->len + n + 1);
	if (!np)
		return 0;
	b->p = np;
	memcpy(b->p + b->len, d, n);
	b->len += n;
	b->p[b->len] = 0;
	return n;
}

int gw_ctl_call(struct gw *g, const char *method, const char *path, json_t *req, long *status,
		json_t **resp, char *why, size_t whylen)
{
	char url[256], ebuf[CURL_ERROR_SIZE] = "", *text = NULL;
	struct curl_slist *hdrs = NULL;
	struct body b = {};
	json_error_t je;
	struct stat st;
	CURLcode rc;
	CURL *h;
	int ret = 0;

	*resp = NULL;
	*status = 0;
	/* No socket file: no controller (or another --control-socket). */
	if (stat(g->ctl_sock, &st)) {
		snprintf(why, whylen, "no control socket at %s (%s)", g->ctl_sock, strerror(errno));
		return -ENOTCONN;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT))
		return snprintf(why, whylen, "libcurl init failed"), -EIO;
	h = curl_easy_init();
	if (req)
		text = json_dumps(req, JSON_COMPACT);
	if (req)
		hdrs = curl_slist_append(NULL, "Content-Type: application/json");
	if (!h || (req && (!text || !hdrs))) {
		snprintf(why, whylen, "out of memory");
		ret = -ENOMEM;
		goto out;
	}
	snprintf(url, sizeof(url), "http://localhost%s", path);
	curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, g->ctl_sock);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)GW_CTL_TIMEOUT_MS);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, ebuf);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "nanami-gwctl/1");
	if (req) {
		curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, text);
	}
	rc = curl_easy_perform(h);
	if (rc == CURLE_COULDNT_CONNECT) {
		/* A socket file nobody listens on: a controller that died
		 * without cleaning up, or one that is starting. */
		snprintf(why, whylen, "nothing listens on the control socket %s (%s)", g->ctl_sock,
			 ebuf[0] ? ebuf : curl_easy_strerror(rc));
		ret = -ENOTCONN;
		goto out;
	}
	if (rc != CURLE_OK) {
		snprintf(why, whylen, "control socket %s: %s", g->ctl_sock,
			 b.over	 ? "answer too large" :
			 ebuf[0] ? ebuf :
				   curl_easy_strerror(rc));
		ret = rc == CURLE_OPERATION_TIMEDOUT ? -ETIMEDOUT : -EIO;
		goto out;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
	*resp = json_loadb(b.p ? b.p : "", b.len, 0, &je);
	if (!json_is_object(*resp)) {
		json_decref(*resp);
		*resp = NULL;
		snprintf(why, whylen,
			 "control socket %s: HTTP %ld with a body that is not a JSON "
			 "object",
			 g->ctl_sock, *status);
		ret = -EBADMSG;
	}
out:
	curl_slist_free_all(hdrs);
	free(text);
	free(b.p);
	if (h)
		curl_easy_cleanup(h);
	return ret;
}
