// SPDX-License-Identifier: GPL-2.0
/*
 * rotate.c - `nanami-gwctl rotate-key`: ask the running controller to rotate
 * wg0's WireGuard key (identity-v1.md) through its control socket, then
 * follow the status until that request has an outcome. Only the controller
 * can do it (it owns wg0 and talks to the control plane): without one this
 * is an error, not a fallback.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "gwctl.h"

struct rotate_state {
	uint32_t timeout_s;
	bool no_wait;
};

static const struct gw_opt rotate_opts[] = {
	{ "timeout", 't', required_argument, "SECONDS",
	  "how long to wait for the outcome (default 30)" },
	{ "no-wait", 0, no_argument, NULL, "return once the controller took the request" },
	{ NULL },
};

static int rotate_opt(struct gw *g, void *state, int idx, const char *arg)
{
	struct rotate_state *s = state;

	if (idx == 1) {
		s->no_wait = true;
		return 0;
	}
	if (gw_parse_u32(arg, 3600, &s->timeout_s) || !s->timeout_s)
		return gw_err(g, GW_USAGE, "--timeout: want 1-3600 seconds, not '%s'", arg);
	return 0;
}

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The request's outcome once the status has one: NULL while pending. */
static json_t *outcome(json_t *status, uint64_t request)
{
	json_t *id = json_object_get(status, "identity"),
	       *last = json_object_get(id, "last_rotation");
	json_int_t req = json_integer_value(json_object_get(last, "request"));
	const char *res = json_string_value(json_object_get(last, "result"));

	if (!last || req < (json_int_t)request || !res)
		return NULL;
	if (json_is_true(json_object_get(id, "pending_rotation")) || !strcmp(res, "pending") ||
	    !strcmp(res, "transport_error") || !strcmp(res, "error"))
		return NULL;
	return last;
}

static void print_result(struct gw *g, json_t *last, json_t *status)
{
	json_t *id = json_object_get(status, "identity");

	if (g->json) {
		json_t *o = json_pack("{s:O,s:O,s:O}", "result", last, "wg_public_key",
				      json_object_get(id, "wg_public_key"), "key_generation",
				      json_object_get(id, "key_generation"));

		gw_json_print(o);
		return;
	}
	printf("rotation %s: %s\n", json_string_value(json_object_get(last, "result")),
	       json_string_value(json_object_get(last, "message")) ?: "");
	printf("wg public key %s, key generation %lld\n",
	       json_string_value(json_object_get(id, "wg_public_key")) ?: "-",
	       (long long)json_integer_value(json_object_get(id, "key_generation")));
}

static int rotate_run(struct gw *g, void *state, int argc, char **argv)
{
	struct rotate_state *s = state;
	json_t *resp = NULL, *st = NULL, *last = NULL;
	uint64_t request;
	int64_t deadline;
	char why[512];
	long status;
	int err;

	(void)argv;
	if (argc)
		return gw_err(g, GW_USAGE, "rotate-key takes no arguments");
	err = gw_ctl_call(g, "POST", "/v1/rotate-key", NULL, &status, &resp, why, sizeof(why));
	if (err == -ENOTCONN)
		return gw_err(g, GW_ERR,
			      "no controller: %s (only the running controller can "
			      "rotate wg0's key)",
			      why);
	if (err)
		return gw_err(g, GW_ERR, "%s", why);
	if (status != 202) {
		err = gw_err(g, GW_ERR, "controller (%s): %s", g->ctl_sock,
			     json_string_value(json_object_get(resp, "error")) ?:
				     "error without a message");
		json_decref(resp);
		return err;
	}
	request = (uint64_t)json_integer_value(json_object_get(resp, "request"));
	json_decref(resp);
	if (s->no_wait) {
		if (g->json) {
			json_t *o = json_pack("{s:I}", "request", (json_int_t)request);

			gw_json_print(o);
		} else {
			printf("rotation requested (request %llu)\n", (unsigned long long)request);
		}
		return GW_OK;
	}
	deadline = mono_ms() + (int64_t)(s->timeout_s ? s->timeout_s : 30) * 1000;
	for (;;) {
		json_decref(st);
		st = NULL;
		err = gw_ctl_call(g, "GET", "/v1/status", NULL, &status, &st, why, sizeof(why));
		if (err) {
			json_decref(st);
			return gw_err(g, GW_ERR, "following the rotation: %s", why);
		}
		last = outcome(st, request);
		if (last || mono_ms() >= deadline)
			break;
		usleep(50 * 1000);
	}
	if (!last) {
		json_t *l = json_object_get(json_object_get(st, "identity"), "last_rotation");

		err = gw_err(g, GW_ERR, "no outcome within %u s (last: %s: %s)",
			     s->timeout_s ? s->timeout_s : 30,
			     json_string_value(json_object_get(l, "result")) ?: "none",
			     json_string_value(json_object_get(l, "message")) ?: "");
		json_decref(st);
		return err;
	}
	{
		const char *res = json_string_value(json_object_get(last, "result"));
		bool good = !strcmp(res, "approved") || !strcmp(res, "finished");

		if (!good) {
			err = gw_err(g, GW_ERR, "rotation %s: %s", res,
				     json_string_value(json_object_get(last, "message")) ?: "");
			json_decref(st);
			return err;
		}
	}
	print_result(g, last, st);
	json_decref(st);
	return GW_OK;
}

const struct gw_cmd gw_cmd_rotate_key = {
	.name = "rotate-key",
	.args = "",
	.summary = "rotate wg0's WireGuard key through the controller (coordinated with the "
		   "control plane) and wait for the outcome",
	.opts = rotate_opts,
	.on_opt = rotate_opt,
	.run = rotate_run,
	.state_size = sizeof(struct rotate_state),
};
