// SPDX-License-Identifier: GPL-2.0
/* ctlsock.c - the control socket (see ctlsock.h). */
#include <errno.h>
#include <libgen.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "dp/explain.h"
#include "gatewayd/ctlsock.h"
#include "gatewayd/http.h"
#include "lib/ctlpath.h"
#include "lib/fsutil.h"
#include "lib/log.h"

#define MAX_REQUEST 8192

struct nn_ctlsock {
	struct nn_ctlsock_opts o;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	ino_t ino; /* our socket file: only that one is removed */
	struct MHD_Daemon *http;
	pthread_mutex_t mu; /* guards x */
	struct nn_explainer *x;
	pthread_t warm;
	bool warm_started;
};

/* A request body being received (one allocation: freed by free()). */
struct upload {
	size_t len;
	bool too_big;
	char data[MAX_REQUEST + 1];
};

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The instance, loaded or reloaded when the pins or the interface changed
 * under it (a detach and a fresh start, a recreated wg0). Caller holds mu. */
static int ensure_instance(struct nn_ctlsock *s, char *err, size_t errlen)
{
	int64_t t0;
	int e;

	if (s->x && nn_explainer_current(s->x, s->o.xdp))
		return 0;
	if (s->x)
		nn_log_info("event=explain_instance action=reload reason=\"the pins or the "
			    "interface changed\"");
	nn_explainer_free(s->x);
	s->x = NULL;
	t0 = mono_ms();
	e = nn_explainer_open(s->o.pin_dir, s->o.iface, s->o.xdp, &s->x, err, errlen);
	if (e) {
		nn_log_warn("event=explain_instance action=load error=\"%s\"", err);
		return e;
	}
	nn_log_info("event=explain_instance action=load pin_dir=%s xdp=%d ms=%lld", s->o.pin_dir,
		    s->o.xdp, (long long)(mono_ms() - t0));
	return 0;
}

static void *warm_up(void *arg)
{
	struct nn_ctlsock *s = arg;
	char err[512];

	pthread_mutex_lock(&s->mu);
	ensure_instance(s, err, sizeof(err));
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

static const char *field_str(json_t *req, const char *k, bool *bad)
{
	json_t *v = json_object_get(req, k);

	if (v && !json_is_string(v))
		*bad = true;
	return json_string_value(v);
}

/* POST /v1/explain: the CLI's question as JSON (docs/interfaces.md). */
static nn_mhd_result explain(struct nn_ctlsock *s, struct MHD_Connection *c, struct upload *u)
{
	static const char *const known[] = { "direction", "src", "dst", "proto", "dport", "sport" };
	struct nn_explain_args a = {};
	struct nn_explain_req r;
	char err[512], dport[24];
	json_error_t je;
	json_t *req, *v, *ans = NULL;
	const char *key;
	bool bad = false;
	size_t i;
	int e;

	if (u->too_big)
		return nn_http_error(c, MHD_HTTP_CONTENT_TOO_LARGE, "request body over %d bytes",
				     MAX_REQUEST);
	req = json_loadb(u->data, u->len, JSON_REJECT_DUPLICATES, &je);
	if (!json_is_object(req)) {
		json_decref(req);
		return nn_http_error(c, MHD_HTTP_BAD_REQUEST,
				     "request body is not a JSON object (line %d column %d: %s)",
				     je.line, je.column, req ? "not an object" : je.text);
	}
	json_object_foreach(req, key, v)
	{
		for (i = 0; i < sizeof(known) / sizeof(known[0]) && strcmp(key, known[i]); i++)
			;
		if (i == sizeof(known) / sizeof(known[0])) {
			e = nn_http_error(c, MHD_HTTP_BAD_REQUEST,
					  "unknown field '%s' (direction, src, dst, proto, dport, "
					  "sport)",
					  key);
			json_decref(req);
			return e;
		}
	}
	a.dir = field_str(req, "direction", &bad);
	a.src = field_str(req, "src", &bad);
	a.dst = field_str(req, "dst", &bad);
	a.proto = field_str(req, "proto", &bad);
	v = json_object_get(req, "dport");
	if (v && json_is_integer(v)) {
		snprintf(dport, sizeof(dport), "%lld", (long long)json_integer_value(v));
		a.dport = dport;
	} else if (v) {
		bad = true;
	}
	v = json_object_get(req, "sport");
	if (v && json_is_integer(v) && json_integer_value(v) >= 0 &&
	    json_integer_value(v) <= 65535) {
		a.sport = (uint32_t)json_integer_value(v);
		a.has_sport = true;
	} else if (v) {
		json_decref(req);
		return nn_http_error(c, MHD_HTTP_BAD_REQUEST, "sport must be a port number");
	}
	if (bad) {
		json_decref(req);
		return nn_http_error(c, MHD_HTTP_BAD_REQUEST,
				     "direction, src, dst and proto are strings, dport and sport "
				     "integers");
	}
	e = nn_explain_parse(&a, &r, err, sizeof(err));
	json_decref(req);
	if (e)
		return nn_http_error(c, MHD_HTTP_BAD_REQUEST, "%s", err);
	pthread_mutex_lock(&s->mu);
	e = ensure_instance(s, err, sizeof(err));
	if (!e)
		e = nn_explain(s->x, &r, s->o.xdp, &ans, err, sizeof(err));
	pthread_mutex_unlock(&s->mu);
	if (e)
		return nn_http_error(c,
				     e == -ENOENT ? MHD_HTTP_SERVICE_UNAVAILABLE :
						    MHD_HTTP_INTERNAL_SERVER_ERROR,
				     "%s", err);
	return nn_http_json(c, MHD_HTTP_OK, ans);
}

/*
 * POST /v1/rotate-key: ask the loop to rotate wg0's key. The rotation talks
 * to the control plane, so it is not done on this thread: the answer (202)
 * carries the request's number, and identity.last_rotation in the status
 * says how it ended once last_rotation.request reaches it.
 */
static nn_mhd_result rotate_key(struct nn_ctlsock *s, struct MHD_Connection *c)
{
	const char *no = s->o.st->info.no_rotation;
	uint64_t n;

	if (no)
		return nn_http_error(c, MHD_HTTP_CONFLICT, "cannot rotate the key: %s", no);
	n = nn_ctl_request_rotation(s->o.st);
	nn_log_info("event=rotate_key_requested request=%llu via=control_socket",
		    (unsigned long long)n);
	return nn_http_json(c, MHD_HTTP_ACCEPTED,
			    json_pack("{s:I,s:s}", "request", (json_int_t)n, "status",
				      "GET /v1/status: identity.last_rotation"));
}

static nn_mhd_result method_not_allowed(struct MHD_Connection *c, const char *method,
					const char *url, const char *allow)
{
	struct MHD_Response *r;
	char body[256];
	nn_mhd_result ret;
	int n;

	n = snprintf(body, sizeof(body), "{\"error\":\"%s takes %s, not %s\",\"status\":405}\n",
		     url, allow, method);
	r = MHD_create_response_from_buffer((size_t)n, body, MHD_RESPMEM_MUST_COPY);
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
	MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
	ret = MHD_queue_response(c, MHD_HTTP_METHOD_NOT_ALLOWED, r);
	MHD_destroy_response(r);
	return ret;
}

static nn_mhd_result on_request(void *cls, struct MHD_Connection *c, const char *url,
				const char *method, const char *version, const char *upload,
				size_t *upload_size, void **con_cls)
{
	struct nn_ctlsock *s = cls;
	struct upload *u = *con_cls;
	json_t *st;

	(void)version;
	if (!u) {
		/* First call: headers only. Bodies are taken for POST alone. */
		u = calloc(1, sizeof(*u));
		if (!u)
			return MHD_NO;
		*con_cls = u;
		return MHD_YES;
	}
	if (*upload_size) {
		if (u->len + *upload_size > MAX_REQUEST)
			u->too_big = true;
		else
			memcpy(u->data + u->len, upload, *upload_size);
		if (!u->too_big)
			u->len += *upload_size;
		*upload_size = 0;
		return MHD_YES;
	}
	if (!strcmp(url, "/v1/status")) {
		if (strcmp(method, "GET"))
			return method_not_allowed(c, method, url, "GET");
		st = nn_ctl_status_json(s->o.st, (int64_t)time(NULL));
		if (st)
			json_object_set_new(st, "control_socket", json_string(s->path));
		return nn_http_json(c, MHD_HTTP_OK, st);
	}
	if (!strcmp(url, "/v1/explain")) {
		if (strcmp(method, "POST"))
			return method_not_allowed(c, method, url, "POST");
		return explain(s, c, u);
	}
	if (!strcmp(url, "/v1/rotate-key")) {
		if (strcmp(method, "POST"))
			return method_not_allowed(c, method, url, "POST");
		return rotate_key(s, c);
	}
	return nn_http_error(c, MHD_HTTP_NOT_FOUND,
			     "no such endpoint: %s %s (GET /v1/status, POST /v1/explain, "
			     "POST /v1/rotate-key)",
			     method, url);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
			 enum MHD_RequestTerminationCode code)
{
	(void)cls;
	(void)c;
	(void)code;
	free(*con_cls);
	*con_cls = NULL;
}

/*
 * The socket's directory: created 0700. The default one (/run/nanami) is
 * ours and must be a root-only directory owned by us; an operator's
 * --control-socket directory that exists is left as it is (the socket's
 * own 0600 is what keeps others out).
 */
static int prepare_dir(const char *path)
{
	char buf[sizeof(((struct sockaddr_un *)0)->sun_path)], *dir;
	struct stat st;
	int e;

	snprintf(buf, sizeof(buf), "%s", path);
	dir = dirname(buf);
	e = nn_mkdir_p(dir);
	if (e) {
		nn_log_err("event=control_socket dir=%s error=\"couldn't create: %s\"", dir,
			   strerror(-e));
		return e;
	}
	if (strcmp(dir, NN_CTL_SOCK_DIR))
		return 0;
	if (lstat(dir, &st) || !S_ISDIR(st.st_mode) || st.st_uid != geteuid()) {
		nn_log_err("event=control_socket dir=%s error=\"not a directory of ours\"", dir);
		return -EPERM;
	}
	if ((st.st_mode & 077) && chmod(dir, 0700)) {
		e = -errno;
		nn_log_err("event=control_socket dir=%s error=\"couldn't make it 0700: %s\"", dir,
			   strerror(-e));
		return e;
	}
	return 0;
}

/* A socket file left by a controller that died is removed; one a live
 * controller answers on is not ours to take. */
static int clear_stale(const char *path, const struct sockaddr_un *sa)
{
	struct stat st;
	int fd, live;

	if (lstat(path, &st))
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode)) {
		nn_log_err("event=control_socket path=%s error=\"exists and is not a socket\"",
			   path);
		return -EEXIST;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	live = !connect(fd, (const struct sockaddr *)sa, sizeof(*sa));
	close(fd);
	if (live) {
		nn_log_err("event=control_socket path=%s error=\"another controller serves it\"",
			   path);
		return -EADDRINUSE;
	}
	return unlink(path) ? -errno : 0;
}

static int bind_socket(struct nn_ctlsock *s)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	int fd, e;

	if (strlen(s->o.path) >= sizeof(sa.sun_path)) {
		nn_log_err("event=control_socket path=%s error=\"path too long for a Unix socket\"",
			   s->o.path);
		return -ENAMETOOLONG;
	}
	snprintf(s->path, sizeof(s->path), "%s", s->o.path);
	memcpy(sa.sun_path, s->path, strlen(s->path));
	e = prepare_dir(s->path);
	if (!e)
		e = clear_stale(s->path, &sa);
	if (e)
		return e;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* The directory is 0700 already; 0600 on the socket keeps it root's
	 * wherever the operator put it. */
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || chmod(s->path, 0600) ||
	    stat(s->path, &st) || listen(fd, 16)) {
		e = -errno;
		nn_log_err("event=control_socket path=%s error=\"couldn't listen: %s\"", s->path,
			   strerror(-e));
		close(fd);
		unlink(s->path);
		return e;
	}
	s->ino = st.st_ino;
	return fd;
}

int nn_ctlsock_start(const struct nn_ctlsock_opts *o, struct nn_ctlsock **out)
{
	struct nn_ctlsock *s = calloc(1, sizeof(*s));
	int fd, e;

	if (!s)
		return -ENOMEM;
	s->o = *o;
	pthread_mutex_init(&s->mu, NULL);
	fd = bind_socket(s);
	if (fd < 0) {
		pthread_mutex_destroy(&s->mu);
		free(s);
		return fd;
	}
	e = nn_http_start(fd, "control_socket", on_request, on_completed, s, &s->http);
	if (e) {
		unlink(s->path);
		pthread_mutex_destroy(&s->mu);
		free(s);
		return e;
	}
	/* Loading takes about half a second: not on the start path. */
	s->warm_started = !pthread_create(&s->warm, NULL, warm_up, s);
	nn_log_info(
		"event=control_socket path=%s endpoints=\"GET /v1/status, POST /v1/explain, POST /v1/rotate-key\"",
		s->path);
	*out = s;
	return 0;
}

void nn_ctlsock_stop(struct nn_ctlsock *s)
{
	struct stat st;

	if (!s)
		return;
	nn_http_stop(s->http);
	if (s->warm_started)
		pthread_join(s->warm, NULL);
	if (!lstat(s->path, &st) && st.st_ino == s->ino)
		unlink(s->path);
	nn_explainer_free(s->x);
	pthread_mutex_destroy(&s->mu);
	free(s);
}
