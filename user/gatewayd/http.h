/* SPDX-License-Identifier: GPL-2.0 */
/*
 * http.h - the controller's two HTTP endpoints (/metrics on TCP, the
 * control socket on a Unix socket) on libmicrohttpd: a well-kept server
 * from Debian parses every request; nothing here does.
 *
 * Both serve from one internal thread each, one request at a time: the
 * answers are small and the state they read is behind nn_ctl_state's mutex.
 */
#ifndef NANAMI_GATEWAYD_HTTP_H
#define NANAMI_GATEWAYD_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>
#include <microhttpd.h>

/* libmicrohttpd's handler result type changed in 0.9.71. */
#if MHD_VERSION >= 0x00097002
typedef enum MHD_Result nn_mhd_result;
#else
typedef int nn_mhd_result;
#endif

typedef nn_mhd_result (*nn_http_handler)(void *cls, struct MHD_Connection *c, const char *url,
					 const char *method, const char *version,
					 const char *upload, size_t *upload_size, void **con_cls);

/* Called when a request ends, however it ends: frees the handler's
 * per-request state (*con_cls). */
typedef void (*nn_http_done)(void *cls, struct MHD_Connection *c, void **con_cls,
			     enum MHD_RequestTerminationCode code);

/* Serve @fd (bound and listening; owned by the server from now on, closed
 * by nn_http_stop) with @h, and @done (may be NULL) after each request.
 * @what names the endpoint in logs. 0 or -errno. */
int nn_http_start(int fd, const char *what, nn_http_handler h, nn_http_done done, void *cls,
		  struct MHD_Daemon **out);
void nn_http_stop(struct MHD_Daemon *d);

/* Queue an answer; @body is copied. @http10: answer as an HTTP/1.0 server
 * and close (the metrics page, as before libmicrohttpd). */
nn_mhd_result nn_http_reply(struct MHD_Connection *c, unsigned int status, const char *ctype,
			    const char *body, size_t len, bool http10);
/* @obj (stolen) as one line of JSON. */
nn_mhd_result nn_http_json(struct MHD_Connection *c, unsigned int status, json_t *obj);
/* {"error": "..."} with @status. */
nn_mhd_result nn_http_error(struct MHD_Connection *c, unsigned int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif /* NANAMI_GATEWAYD_HTTP_H */
