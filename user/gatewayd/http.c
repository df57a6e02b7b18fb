// SPDX-License-Identifier: GPL-2.0
/* http.c - libmicrohttpd plumbing for /metrics and the control socket. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gatewayd/http.h"
#include "lib/log.h"

/* libmicrohttpd's own messages (a connection it dropped, ...) go to our log. */
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[512];
	size_t n;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
		msg[--n] = 0;
	nn_log_warn("event=http endpoint=%s note=\"%s\"", (const char *)cls, msg);
}

static void no_done(void *cls, struct MHD_Connection *c, void **con_cls,
		    enum MHD_RequestTerminationCode code)
{
	(void)cls;
	(void)c;
	(void)con_cls;
	(void)code;
}

int nn_http_start(int fd, const char *what, nn_http_handler h, nn_http_done done, void *cls,
		  struct MHD_Daemon **out)
{
	struct MHD_Daemon *d;

	/* One internal thread, requests one after another; ITC so that
	 * nn_http_stop can take the listening socket back (quiesce). */
	d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ITC | MHD_USE_ERROR_LOG, 0,
			     NULL, NULL, (MHD_AccessHandlerCallback)h, cls,
			     MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_EXTERNAL_LOGGER, mhd_log,
			     (void *)what, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)10,
			     MHD_OPTION_CONNECTION_LIMIT, (unsigned int)64,
			     MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)65536,
			     MHD_OPTION_NOTIFY_COMPLETED, done ? done : no_done, cls,
			     MHD_OPTION_END);
	if (!d) {
		nn_log_err("event=http endpoint=%s error=\"libmicrohttpd could not start\"", what);
		close(fd);
		return -EIO;
	}
	*out = d;
	return 0;
}

void nn_http_stop(struct MHD_Daemon *d)
{
	int fd;

	if (!d)
		return;
	fd = MHD_quiesce_daemon(d);
	MHD_stop_daemon(d);
	if (fd >= 0)
		close(fd);
}

nn_mhd_result nn_http_reply(struct MHD_Connection *c, unsigned int status, const char *ctype,
			    const char *body, size_t len, bool http10)
{
	struct MHD_Response *r;
	nn_mhd_result ret;

	r = MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
	if (http10)
		MHD_set_response_options(r, MHD_RF_HTTP_1_0_SERVER, MHD_RO_END);
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

nn_mhd_result nn_http_json(struct MHD_Connection *c, unsigned int status, json_t *obj)
{
	char *text = obj ? json_dumps(obj, JSON_COMPACT) : NULL;
	nn_mhd_result ret;

	json_decref(obj);
	if (!text) {
		static const char oom[] = "{\"error\":\"out of memory\"}\n";

		return nn_http_reply(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "application/json", oom,
				     sizeof(oom) - 1, false);
	}
	{
		size_t n = strlen(text);
		char *t = realloc(text, n + 2);

		if (t) {
			text = t;
			text[n++] = '\n';
			text[n] = 0;
		}
		ret = nn_http_reply(c, status, "application/json", text, n, false);
	}
	free(text);
	return ret;
}

nn_mhd_result nn_http_error(struct MHD_Connection *c, unsigned int status, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return nn_http_json(c, status, json_pack("{s:s,s:i}", "error", msg, "status", status));
}
