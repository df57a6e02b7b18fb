// SPDX-License-Identifier: GPL-2.0
/*
 * nn-cptest - drives user/cp/client.c step by step for the tests
 * (selftests/netns/test_cp_client.sh) and by hand. One client, the steps in
 * order, one key=value line per step on stdout:
 *
 *   nn-cptest --url URL --node-id ID [options] STEP...
 *
 *   full                  nn_cp_fetch_snapshot (If-None-Match when held)
 *   delta                 nn_cp_fetch_delta (?since=, 410 -> full)
 *   reset                 forget the held snapshot and ETag
 *   base:FILE             hold FILE (e.g. a last-known-good) as the delta base
 *   req:METHOD:PATH[:BODY] raw request (operator/admin API)
 *   sleep:MS
 *   stream:S              follow the event stream for up to S seconds
 *   sse-latency:M:PATH:BODY stream up; request M PATH BODY; time until the
 *                         event for the new generation arrives
 *   watch:S               the controller's loop in small: stream preferred,
 *                         polling (--poll-ms) while it is down, reconnect
 *                         with backoff; with --until-gen N stop at N
 *
 * Exit status: 0 when every step succeeded, 1 otherwise.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cp/client.h"
#include "lib/log.h"

static struct nn_cp_client *cl;
static const char *out_path;
static long poll_ms = 500;
static long long until_gen = -1;

static long long now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void quote(const char *s)
{
	putchar('"');
	for (; s && *s; s++) {
		if (*s == '"' || *s == '\\')
			putchar('\\');
		putchar(*s == '\n' ? ' ' : *s);
	}
	putchar('"');
}

static void print_err(const char *step, int rc, long long t0, const char *err)
{
	printf("step=%s rc=%d errno=%s elapsed_ms=%lld error=", step, rc,
	       strerrorname_np(-rc) ? strerrorname_np(-rc) : "?", now_ms() - t0);
	quote(err);
	putchar('\n');
}

static void save(const struct nn_cp_fetch *f)
{
	FILE *fp;

	if (!out_path || !f->body)
		return;
	fp = fopen(out_path, "w");
	if (!fp || fwrite(f->body, 1, f->len, fp) != f->len)
		fprintf(stderr, "nn-cptest: cannot write %s\n", out_path);
	if (fp)
		fclose(fp);
}

static int do_fetch(const char *step, bool delta, const char *via_ok)
{
	struct nn_cp_fetch f;
	char err[512] = "";
	long long t0 = now_ms();
	int rc;

	rc = delta ? nn_cp_fetch_delta(cl, &f, err, sizeof(err)) :
		     nn_cp_fetch_snapshot(cl, &f, err, sizeof(err));
	if (rc) {
		print_err(step, rc, t0, err);
		return rc;
	}
	printf("step=%s rc=0 result=%s via=%s%s status=%ld generation=%lld changes=%zu "
	       "bytes=%zu etag=%s elapsed_ms=%lld\n",
	       step, f.unchanged ? "unchanged" : "new",
	       f.fell_back  ? "fallback" :
	       f.from_delta ? "delta" :
			      "full",
	       via_ok ? via_ok : "", f.http_status, f.generation, f.n_changes, f.len,
	       f.etag[0] ? f.etag : "-", now_ms() - t0);
	save(&f);
	nn_cp_fetch_release(&f);
	return 0;
}

static int do_base(const char *path)
{
	char err[512] = "", *text = NULL;
	size_t len = 0;
	FILE *fp = fopen(path, "r");
	int rc;

	if (!fp) {
		rc = -errno;
		print_err("base", rc, now_ms(), path);
		return rc;
	}
	{
		FILE *m = open_memstream(&text, &len);
		char chunk[4096];
		size_t n;

		while (m && (n = fread(chunk, 1, sizeof(chunk), fp)) > 0)
			fwrite(chunk, 1, n, m);
		if (m)
			fclose(m);
	}
	fclose(fp);
	rc = text ? nn_cp_client_set_base(cl, text, len, NULL, err, sizeof(err)) : -ENOMEM;
	if (rc)
		print_err("base", rc, now_ms(), err);
	else
		printf("step=base rc=0 generation=%lld\n", nn_cp_client_generation(cl));
	free(text);
	return rc;
}

static int do_req(const char *spec)
{
	char *s = strdup(spec), *method, *path, *body, *resp = NULL;
	char err[512] = "";
	long status = 0;
	int rc;

	if (!s)
		return -ENOMEM;
	method = s;
	path = strchr(method, ':');
	if (!path) {
		free(s);
		fprintf(stderr, "nn-cptest: req:METHOD:PATH[:BODY]\n");
		return -EINVAL;
	}
	*path++ = 0;
	body = strchr(path, ':');
	if (body)
		*body++ = 0;
	rc = nn_cp_request(cl, method, path, body, &status, &resp, err, sizeof(err));
	if (rc) {
		print_err("req", rc, now_ms(), err);
	} else {
		printf("step=req rc=0 status=%ld body=", status);
		quote(resp);
		putchar('\n');
	}
	free(resp);
	free(s);
	return rc;
}

/* ---- streams ---- */

struct stream_ctx {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	long long first, latest; /* generations seen (-2 = none yet) */
	long long t_latest;	 /* ms when latest arrived */
	bool print;
};

static int on_event(void *ud, long long gen)
{
	struct stream_ctx *x = ud;

	pthread_mutex_lock(&x->mu);
	if (x->first == -2)
		x->first = gen;
	x->latest = gen;
	x->t_latest = now_ms();
	pthread_cond_broadcast(&x->cv);
	pthread_mutex_unlock(&x->mu);
	if (x->print)
		printf("event generation=%lld\n", gen);
	fflush(stdout);
	return 0;
}

struct stream_run {
	struct stream_ctx *x;
	struct nn_cp_stream_stats st;
	char err[512];
	int rc;
};

static void *stream_thread(void *ud)
{
	struct stream_run *r = ud;

	r->rc = nn_cp_stream(cl, on_event, r->x, &r->st, r->err, sizeof(r->err));
	pthread_mutex_lock(&r->x->mu);
	pthread_cond_broadcast(&r->x->cv);
	pthread_mutex_unlock(&r->x->mu);
	return NULL;
}

static int do_stream(const char *secs, const char *latency_spec)
{
	struct stream_ctx x = {
		PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, -2, -2, 0, !latency_spec
	};
	struct stream_run r = { .x = &x, .rc = 0 };
	long long t0 = now_ms(), deadline, t_put = 0, t_done = 0, g0 = -2;
	struct timespec ts;
	pthread_t th;
	int rc = 0;

	deadline = t0 + (latency_spec ? 10000 : (long long)(atof(secs) * 1000));
	if (pthread_create(&th, NULL, stream_thread, &r))
		return -EAGAIN;
	if (latency_spec) {
		/* The first event (sent on connect) says the stream is up. */
		pthread_mutex_lock(&x.mu);
		while (x.first == -2 && now_ms() < deadline) {
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += 50000000;
			if (ts.tv_nsec >= 1000000000) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000;
			}
			pthread_cond_timedwait(&x.cv, &x.mu, &ts);
		}
		g0 = x.latest;
		pthread_mutex_unlock(&x.mu);
		if (g0 == -2) {
			nn_cp_stream_stop(cl);
			pthread_join(th, NULL);
			print_err("sse-latency", r.rc ? r.rc : -ETIMEDOUT, t0,
				  r.err[0] ? r.err : "no first event");
			return r.rc ? r.rc : -ETIMEDOUT;
		}
		t_put = now_ms();
		rc = do_req(latency_spec);
		t_done = now_ms();
		if (rc)
			goto stop;
	}
	for (;;) {
		pthread_mutex_lock(&x.mu);
		bool done = latency_spec && x.latest > g0;

		pthread_mutex_unlock(&x.mu);
		if (done || now_ms() >= deadline)
			break;
		usleep(5000);
		if (!pthread_tryjoin_np(th, NULL))
			goto joined;
	}
stop:
	nn_cp_stream_stop(cl);
	pthread_join(th, NULL);
joined:
	if (latency_spec && !rc) {
		if (x.latest > g0) {
			/* From the start of the request: includes its TLS
			 * handshake, the control plane's fsync and the push. */
			printf("step=sse-latency rc=0 generation=%lld latency_ms=%lld "
			       "request_ms=%lld\n",
			       x.latest, x.t_latest - t_put, t_done - t_put);
			return 0;
		}
		print_err("sse-latency", -ETIMEDOUT, t0, r.err[0] ? r.err : "no event after PUT");
		return -ETIMEDOUT;
	}
	if (r.rc) {
		printf("step=stream connected=%d events=%u keepalives=%u ", r.st.connected,
		       r.st.events, r.st.keepalives);
		print_err("stream", r.rc, t0, r.err);
		return r.rc;
	}
	printf("step=stream rc=0 connected=%d events=%u keepalives=%u elapsed_ms=%lld\n",
	       r.st.connected, r.st.events, r.st.keepalives, now_ms() - t0);
	return rc;
}

/* ---- watch: stream preferred, polling while it is down ---- */

static long long watch_deadline;

static bool reached(void)
{
	return until_gen >= 0 && nn_cp_client_generation(cl) >= until_gen;
}

static int watch_event(void *ud, long long gen)
{
	(void)ud;
	/* The event says that something changed; the fetch says what. */
	if (gen < 0 || gen > nn_cp_client_generation(cl))
		do_fetch("watch", true, "+stream");
	return reached() || now_ms() >= watch_deadline;
}

static void *watch_alarm(void *ud)
{
	(void)ud;
	while (now_ms() < watch_deadline && !reached())
		usleep(50000);
	nn_cp_stream_stop(cl);
	return NULL;
}

static int do_watch(const char *secs)
{
	long long t0 = now_ms(), until;
	struct nn_cp_stream_stats st;
	unsigned int attempt = 0;
	char err[512];
	pthread_t th;
	int rc;

	watch_deadline = t0 + (long long)(atof(secs) * 1000);
	if (pthread_create(&th, NULL, watch_alarm, NULL))
		return -EAGAIN;
	do_fetch("watch", true, "+initial");
	while (!reached() && now_ms() < watch_deadline) {
		rc = nn_cp_stream(cl, watch_event, NULL, &st, err, sizeof(err));
		if (reached() || now_ms() >= watch_deadline)
			break;
		if (st.connected)
			attempt = 0;
		until = now_ms() + nn_cp_backoff_ms(attempt++, 200, 5000, nn_cp_random());
		printf("step=watch stream_down rc=%d retry_in_ms=%lld error=", rc,
		       until - now_ms());
		quote(err);
		putchar('\n');
		/* Poll while the stream is down: the backoff wait is cut into
		 * poll intervals, each ending with a fetch. */
		while (now_ms() < until && now_ms() < watch_deadline && !reached()) {
			long long d = until - now_ms();

			usleep((d < poll_ms ? d : poll_ms) * 1000);
			do_fetch("watch", true, "+poll");
		}
	}
	nn_cp_stream_stop(cl);
	pthread_join(th, NULL);
	printf("step=watch done rc=%d generation=%lld elapsed_ms=%lld\n",
	       reached() || until_gen < 0 ? 0 : -ETIMEDOUT, nn_cp_client_generation(cl),
	       now_ms() - t0);
	return reached() || until_gen < 0 ? 0 : -ETIMEDOUT;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: nn-cptest --url URL --node-id ID [--cert F --key F] [--ca F] [--pin P]\n"
		"  [--connect-timeout-ms N] [--timeout-ms N] [--low-speed-limit B --low-speed-time S]\n"
		"  [--max-bytes N] [--keepalive S] [--poll-ms N] [--until-gen N] [--out FILE] [-v]\n"
		"  STEP...   (full delta reset base:FILE req:M:PATH[:BODY] sleep:MS stream:S\n"
		"             sse-latency:M:PATH:BODY watch:S)\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "url", 1, NULL, 'u' },
		{ "node-id", 1, NULL, 'n' },
		{ "cert", 1, NULL, 'c' },
		{ "key", 1, NULL, 'k' },
		{ "ca", 1, NULL, 'a' },
		{ "pin", 1, NULL, 'p' },
		{ "connect-timeout-ms", 1, NULL, 'C' },
		{ "timeout-ms", 1, NULL, 'T' },
		{ "low-speed-limit", 1, NULL, 'L' },
		{ "low-speed-time", 1, NULL, 'S' },
		{ "max-bytes", 1, NULL, 'M' },
		{ "keepalive", 1, NULL, 'K' },
		{ "poll-ms", 1, NULL, 'P' },
		{ "until-gen", 1, NULL, 'G' },
		{ "out", 1, NULL, 'o' },
		{ "verbose", 0, NULL, 'v' },
		{ NULL, 0, NULL, 0 },
	};
	struct nn_cp_opts o = { .node_id = "gw-fra-1" };
	char err[512] = "";
	int opt, i, rc, failed = 0;

	nn_log_set_level(NN_LOG_INFO);
	while ((opt = getopt_long(argc, argv, "v", lo, NULL)) != -1) {
		switch (opt) {
		case 'u':
			o.url = optarg;
			break;
		case 'n':
			o.node_id = optarg;
			break;
		case 'c':
			o.cert = optarg;
			break;
		case 'k':
			o.key = optarg;
			break;
		case 'a':
			o.ca = optarg;
			break;
		case 'p':
			o.pinned_pubkey = optarg;
			break;
		case 'C':
			o.connect_timeout_ms = atol(optarg);
			break;
		case 'T':
			o.timeout_ms = atol(optarg);
			break;
		case 'L':
			o.low_speed_limit = atol(optarg);
			break;
		case 'S':
			o.low_speed_time = atol(optarg);
			break;
		case 'M':
			o.max_response = strtoul(optarg, NULL, 0);
			break;
		case 'K':
			o.keepalive_s = atol(optarg);
			break;
		case 'P':
			poll_ms = atol(optarg);
			break;
		case 'G':
			until_gen = atoll(optarg);
			break;
		case 'o':
			out_path = optarg;
			break;
		case 'v':
			nn_log_set_level(NN_LOG_DEBUG);
			break;
		default:
			usage();
		}
	}
	if (optind >= argc)
		usage();
	setvbuf(stdout, NULL, _IOLBF, 0);
	rc = nn_cp_client_new(&o, &cl, err, sizeof(err));
	if (rc) {
		print_err("new", rc, now_ms(), err);
		return 1;
	}
	for (i = optind; i < argc; i++) {
		const char *s = argv[i];

		if (!strcmp(s, "full"))
			rc = do_fetch("full", false, NULL);
		else if (!strcmp(s, "delta"))
			rc = do_fetch("delta", true, NULL);
		else if (!strcmp(s, "reset"))
			nn_cp_client_reset(cl), rc = 0;
		else if (!strncmp(s, "base:", 5))
			rc = do_base(s + 5);
		else if (!strncmp(s, "req:", 4))
			rc = do_req(s + 4);
		else if (!strncmp(s, "sleep:", 6))
			rc = usleep(atol(s + 6) * 1000);
		else if (!strncmp(s, "stream:", 7))
			rc = do_stream(s + 7, NULL);
		else if (!strncmp(s, "sse-latency:", 12))
			rc = do_stream(NULL, s + 12);
		else if (!strncmp(s, "watch:", 6))
			rc = do_watch(s + 6);
		else
			usage();
		failed |= rc != 0;
	}
	nn_cp_client_free(cl);
	return failed;
}
