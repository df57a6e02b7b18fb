// SPDX-License-Identifier: GPL-2.0
/*
 * test_ctl_state.c - what the control socket answers without a dataplane:
 * the status document (gatewayd/state.h) as the loop's recorders leave it,
 * the control-plane client's error kinds (cp/client.h), and explain's
 * question parser (dp/explain.h), whose messages the CLI and the socket
 * share. Expected values come from docs/interfaces.md, not from the code.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <jansson.h>

#include "cp/client.h"
#include "dp/explain.h"
#include "gatewayd/state.h"

static void fresh(struct nn_ctl_state *st)
{
	nn_ctl_state_init(st);
	st->info.iface = "wg0";
	st->info.pin_dir = "/sys/fs/bpf/nanami/wg0";
	st->info.state_dir = "/var/lib/nanami/wg0";
	st->info.cp_url = "https://cp.example:8443";
	st->info.wg_backend = "genl";
	st->info.hook = "tc";
	snprintf(st->info.wg_public_key, sizeof(st->info.wg_public_key), "%s",
		 "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=");
	st->info.started_unix = 1000;
	nn_ctl_set_node_id(st, "gw-fra-1");
}

static json_t *get(json_t *o, const char *path)
{
	char buf[128], *tok, *save = NULL;

	snprintf(buf, sizeof(buf), "%s", path);
	for (tok = strtok_r(buf, ".", &save); tok && o; tok = strtok_r(NULL, ".", &save))
		o = json_object_get(o, tok);
	return o;
}

static void test_status_fresh(void **state)
{
	static const char *const kinds[] = { "connect",	       "tls",	"timeout", "http_status",
					     "body_too_large", "parse", "reset",   "other" };
	struct nn_ctl_state st;
	json_t *s;
	size_t i;

	(void)state;
	fresh(&st);
	s = nn_ctl_status_json(&st, 1010);
	assert_non_null(s);
	assert_string_equal(json_string_value(get(s, "iface")), "wg0");
	assert_int_equal(json_integer_value(get(s, "uptime_s")), 10);
	assert_string_equal(json_string_value(get(s, "control_plane.mode")), "control_plane");
	assert_string_equal(json_string_value(get(s, "control_plane.url")),
			    "https://cp.example:8443");
	assert_true(json_is_null(get(s, "control_plane.file")));
	assert_string_equal(json_string_value(get(s, "control_plane.state")), "none");
	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		json_t *v = json_object_get(get(s, "control_plane.errors_total"), kinds[i]);

		assert_true(json_is_integer(v));
		assert_int_equal(json_integer_value(v), 0);
	}
	assert_int_equal(json_object_size(get(s, "control_plane.errors_total")),
			 sizeof(kinds) / sizeof(kinds[0]));
	assert_true(json_is_null(get(s, "control_plane.last_error")));
	assert_true(json_is_null(get(s, "sync.last_sync_at")));
	assert_true(json_is_null(get(s, "sync.seconds_since_last_sync")));
	assert_true(json_is_null(get(s, "last_rejection")));
	assert_true(json_is_null(get(s, "last_apply_error")));
	/* Never reconciled: in sync is not known. */
	assert_true(json_is_null(get(s, "wg.in_sync")));
	assert_string_equal(json_string_value(get(s, "wg.backend")), "genl");
	/* Identity: not enrolled, nothing known yet: false, or null (present). */
	assert_string_equal(json_string_value(get(s, "identity.node_id")), "gw-fra-1");
	assert_string_equal(json_string_value(get(s, "identity.wg_public_key")),
			    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=");
	assert_true(json_is_null(get(s, "identity.key_generation")));
	assert_true(json_is_null(get(s, "identity.certificate_expires_at")));
	assert_true(json_is_false(get(s, "identity.pending_rotation")));
	assert_true(json_is_false(get(s, "identity.enrolled")));
	assert_true(json_is_null(get(s, "identity.last_rotation")));
	assert_null(get(s, "identity.not_implemented"));
	assert_int_equal(json_integer_value(get(s, "identity.errors_total.key_mismatch")), 0);
	/* An identity error is counted by kind and kept with its message. */
	nn_ctl_note_ident_error(&st, NN_IDERR_KEY_MISMATCH, "gateway.public_key X is not ours");
	json_decref(s);
	s = nn_ctl_status_json(&st, 1000);
	assert_int_equal(json_integer_value(get(s, "identity.errors_total.key_mismatch")), 1);
	assert_string_equal(json_string_value(get(s, "identity.last_error.kind")), "key_mismatch");
	assert_string_equal(json_string_value(get(s, "identity.last_error.message")),
			    "gateway.public_key X is not ours");
	json_decref(s);
	nn_ctl_state_destroy(&st);
}

static void test_status_rejection(void **state)
{
	const char *msgs[20];
	char bufs[20][32];
	struct nn_ctl_state st;
	json_t *s;
	size_t i;

	(void)state;
	fresh(&st);
	for (i = 0; i < 20; i++) {
		snprintf(bufs[i], sizeof(bufs[i]), "reason %zu", i);
		msgs[i] = bufs[i];
	}
	nn_ctl_note_applied(&st, 7, 10);
	nn_ctl_note_rejection(&st, "event", 9, msgs, 20);
	s = nn_ctl_status_json(&st, time(NULL));
	assert_int_equal(json_integer_value(get(s, "sync.applied_generation")), 7);
	assert_int_equal(json_integer_value(get(s, "last_rejection.generation")), 9);
	assert_string_equal(json_string_value(get(s, "last_rejection.trigger")), "event");
	assert_int_equal(json_array_size(get(s, "last_rejection.reasons")), NN_CTL_MAX_REASONS);
	assert_int_equal(json_integer_value(get(s, "last_rejection.reasons_not_kept")),
			 20 - NN_CTL_MAX_REASONS);
	assert_string_equal(json_string_value(json_array_get(get(s, "last_rejection.reasons"), 0)),
			    "reason 0");
	assert_true(json_is_true(get(s, "last_rejection.current")));
	assert_true(json_is_null(get(s, "last_apply_error")));
	json_decref(s);
	/* A later apply: the rejection stays, no longer current. */
	nn_ctl_note_applied(&st, 10, 1);
	s = nn_ctl_status_json(&st, time(NULL));
	assert_true(json_is_false(get(s, "last_rejection.current")));
	assert_int_equal(json_integer_value(get(s, "sync.applied_generation")), 10);
	json_decref(s);
	/* An unreadable snapshot has no generation. */
	nn_ctl_note_apply_error(&st, "retry", -1, msgs, 1);
	s = nn_ctl_status_json(&st, time(NULL));
	assert_true(json_is_null(get(s, "last_apply_error.generation")));
	assert_true(json_is_true(get(s, "last_apply_error.current")));
	json_decref(s);
	nn_ctl_state_destroy(&st);
}

static void test_status_wg_and_cp(void **state)
{
	struct nn_wg_counters c = { .peers = 3 };
	struct nn_ctl_state st;
	json_t *s;

	(void)state;
	fresh(&st);
	nn_ctl_note_wg(&st, &c, 0);
	s = nn_ctl_status_json(&st, time(NULL));
	assert_true(json_is_true(get(s, "wg.in_sync")));
	assert_int_equal(json_integer_value(get(s, "wg.last_reconcile.desired_peers")), 3);
	json_decref(s);
	c.allowed_ips_repaired = 1;
	nn_ctl_note_wg(&st, &c, 0);
	s = nn_ctl_status_json(&st, time(NULL));
	assert_true(json_is_false(get(s, "wg.in_sync")));
	assert_int_equal(json_integer_value(get(s, "wg.last_reconcile.allowed_ips_repaired")), 1);
	json_decref(s);
	nn_ctl_note_wg(&st, NULL, -EIO);
	s = nn_ctl_status_json(&st, time(NULL));
	assert_true(json_is_false(get(s, "wg.in_sync")));
	assert_non_null(json_string_value(get(s, "wg.error")));
	json_decref(s);

	nn_ctl_note_cp_error(&st, NN_CP_ERR_CONNECT, "control plane x: refused");
	nn_ctl_note_cp_error(&st, NN_CP_ERR_CONNECT, "control plane x: refused");
	nn_ctl_note_cp_error(&st, NN_CP_ERR_NONE, "a failure of no known kind");
	s = nn_ctl_status_json(&st, time(NULL));
	assert_int_equal(json_integer_value(get(s, "control_plane.errors_total.connect")), 2);
	assert_int_equal(json_integer_value(get(s, "control_plane.errors_total.other")), 1);
	assert_string_equal(json_string_value(get(s, "control_plane.last_error.kind")), "other");
	json_decref(s);
	/* Not managed: nothing to be in sync with. */
	st.info.wg_backend = "none";
	s = nn_ctl_status_json(&st, time(NULL));
	assert_true(json_is_null(get(s, "wg.in_sync")));
	json_decref(s);
	nn_ctl_state_destroy(&st);
}

static void test_cp_err_kinds(void **state)
{
	(void)state;
	assert_int_equal(nn_cp_err_kind_of(0, 0, true), NN_CP_ERR_NONE);
	assert_int_equal(nn_cp_err_kind_of(-ECONNREFUSED, CURLE_COULDNT_CONNECT, false),
			 NN_CP_ERR_CONNECT);
	assert_int_equal(nn_cp_err_kind_of(-ECONNREFUSED, CURLE_COULDNT_RESOLVE_HOST, true),
			 NN_CP_ERR_CONNECT);
	assert_int_equal(nn_cp_err_kind_of(-EPERM, CURLE_PEER_FAILED_VERIFICATION, true),
			 NN_CP_ERR_TLS);
	assert_int_equal(nn_cp_err_kind_of(-EPERM, CURLE_SSL_PINNEDPUBKEYNOTMATCH, true),
			 NN_CP_ERR_TLS);
	assert_int_equal(nn_cp_err_kind_of(-ECONNRESET, CURLE_SSL_CONNECT_ERROR, true),
			 NN_CP_ERR_TLS);
	/* A failed read: TLS over https (a refused client certificate under
	 * TLS 1.3), a reset over plain http. */
	assert_int_equal(nn_cp_err_kind_of(-ECONNRESET, CURLE_RECV_ERROR, true), NN_CP_ERR_TLS);
	assert_int_equal(nn_cp_err_kind_of(-ECONNRESET, CURLE_RECV_ERROR, false), NN_CP_ERR_RESET);
	assert_int_equal(nn_cp_err_kind_of(-ECONNRESET, CURLE_GOT_NOTHING, true), NN_CP_ERR_RESET);
	assert_int_equal(nn_cp_err_kind_of(-ETIMEDOUT, CURLE_OPERATION_TIMEDOUT, true),
			 NN_CP_ERR_TIMEOUT);
	/* Failures of ours, after an answer: no libcurl code. */
	assert_int_equal(nn_cp_err_kind_of(-EPROTO, 0, true), NN_CP_ERR_HTTP_STATUS);
	assert_int_equal(nn_cp_err_kind_of(-EFBIG, 0, true), NN_CP_ERR_BODY_TOO_LARGE);
	assert_int_equal(nn_cp_err_kind_of(-EBADMSG, 0, true), NN_CP_ERR_PARSE);
	assert_int_equal(nn_cp_err_kind_of(-ETIMEDOUT, 0, true), NN_CP_ERR_TIMEOUT);
	assert_int_equal(nn_cp_err_kind_of(-ECONNRESET, 0, false), NN_CP_ERR_RESET);
	assert_int_equal(nn_cp_err_kind_of(-EIO, CURLE_UNSUPPORTED_PROTOCOL, true),
			 NN_CP_ERR_OTHER);
	assert_string_equal(nn_cp_err_kind_name(NN_CP_ERR_BODY_TOO_LARGE), "body_too_large");
	assert_string_equal(nn_cp_err_kind_name(NN_CP_ERR_HTTP_STATUS), "http_status");
	assert_string_equal(nn_cp_err_kind_name(NN_CP_ERR_MAX), "other");
}

/* Parse @a; 0 and @r, or the error message must contain @want. */
static void parse_fails(struct nn_explain_args a, const char *want)
{
	struct nn_explain_req r;
	char err[256] = "";

	assert_int_equal(nn_explain_parse(&a, &r, err, sizeof(err)), -EINVAL);
	if (!strstr(err, want))
		fail_msg("want '%s' in '%s'", want, err);
}

#define Q(d, s, t, p, dp) \
	((struct nn_explain_args){ .dir = d, .src = s, .dst = t, .proto = p, .dport = dp })

static void test_explain_parse(void **state)
{
	struct nn_explain_args a =
		Q("from-overlay", "fd7a:6e61:6e61:10::2", "fd00:acc::5", "tcp", "5432");
	struct nn_explain_req r;
	char err[256];

	(void)state;
	assert_int_equal(nn_explain_parse(&a, &r, err, sizeof(err)), 0);
	assert_int_equal(r.dir, NN_DIR_FROM_OVERLAY);
	assert_int_equal(r.pkt.proto, 6);
	assert_int_equal(r.pkt.dport, 5432);
	assert_int_equal(r.pkt.sport, NN_EXPLAIN_DEF_SPORT);
	/* icmp: the echo id is both ports. */
	a = Q("into-overlay", "192.0.2.1", "100.96.16.2", "icmp", NULL);
	a.sport = 7;
	a.has_sport = true;
	assert_int_equal(nn_explain_parse(&a, &r, err, sizeof(err)), 0);
	assert_int_equal(r.dir, NN_DIR_INTO_OVERLAY);
	assert_int_equal(r.pkt.sport, 7);
	assert_int_equal(r.pkt.dport, 7);
	parse_fails(Q("sideways", "1.1.1.1", "2.2.2.2", "udp", "53"),
		    "direction must be from-overlay or into-overlay");
	parse_fails(Q("from-overlay", "1.2.3", "2.2.2.2", "udp", "53"),
		    "SRC '1.2.3' is not an IPv4 or IPv6 address");
	parse_fails(Q("from-overlay", "1.1.1.1", "::1", "udp", "53"), "one family");
	parse_fails(Q("from-overlay", "1.1.1.1", "2.2.2.2", "tcp", NULL),
		    "tcp needs a destination port");
	parse_fails(Q("from-overlay", "1.1.1.1", "2.2.2.2", "udp", "70000"),
		    "DPORT '70000' is not a port number");
	parse_fails(Q("from-overlay", "::1", "::2", "icmp", NULL), "does not go with IPv6");
	parse_fails(Q("from-overlay", "1.1.1.1", "2.2.2.2", "icmp", "5"), "has no ports");
	parse_fails(Q("from-overlay", "1.1.1.1", "2.2.2.2", "bogus", NULL),
		    "unknown protocol 'bogus'");
	a = Q("from-overlay", "1.1.1.1", "2.2.2.2", "udp", "53");
	a.sport = 70000;
	a.has_sport = true;
	parse_fails(a, "is not a port number");
	parse_fails(Q(NULL, NULL, NULL, NULL, NULL), "explain needs");
}

/* The last-known-good as docs/interfaces.md describes it: unknown at
 * first, a write error shown (and counted) until a write succeeds. And the
 * time since the last sync, counted on the monotonic clock: a wall clock
 * an hour away (the @now given) does not move it. */
static void test_status_lkg_and_since(void **state)
{
	struct nn_ctl_state st;
	json_t *s;

	(void)state;
	fresh(&st);
	s = nn_ctl_status_json(&st, time(NULL));
	assert_true(json_is_null(get(s, "last_known_good.generation")));
	assert_int_equal(json_integer_value(get(s, "last_known_good.write_errors")), 0);
	assert_true(json_is_null(get(s, "last_known_good.error")));
	json_decref(s);
	nn_ctl_note_lkg_write(&st, 7, NULL);
	nn_ctl_note_lkg_write(&st, 0, "/var/lib/nanami/wg0/last-good.snapshot: No space left");
	s = nn_ctl_status_json(&st, time(NULL));
	assert_int_equal(json_integer_value(get(s, "last_known_good.generation")), 7);
	assert_int_equal(json_integer_value(get(s, "last_known_good.write_errors")), 1);
	assert_string_equal(json_string_value(get(s, "last_known_good.error")),
			    "/var/lib/nanami/wg0/last-good.snapshot: No space left");
	assert_true(json_is_string(get(s, "last_known_good.error_at")));
	json_decref(s);
	nn_ctl_note_lkg_write(&st, 9, NULL);
	s = nn_ctl_status_json(&st, time(NULL));
	assert_int_equal(json_integer_value(get(s, "last_known_good.generation")), 9);
	assert_int_equal(json_integer_value(get(s, "last_known_good.write_errors")), 1);
	assert_true(json_is_null(get(s, "last_known_good.error")));
	json_decref(s);
	/* Refused at start: no generation, the reason kept. */
	nn_ctl_note_lkg_read(&st, 0, "/x/last-good.snapshot: torn");
	s = nn_ctl_status_json(&st, time(NULL));
	assert_true(json_is_null(get(s, "last_known_good.generation")));
	assert_string_equal(json_string_value(get(s, "last_known_good.error")),
			    "/x/last-good.snapshot: torn");
	json_decref(s);
	nn_ctl_note_synced(&st);
	assert_int_equal(nn_ctl_since_sync_s(&st), 0);
	s = nn_ctl_status_json(&st, time(NULL) + 3600);
	assert_int_equal(json_integer_value(get(s, "sync.seconds_since_last_sync")), 0);
	json_decref(s);
	s = nn_ctl_status_json(&st, time(NULL) - 3600);
	assert_int_equal(json_integer_value(get(s, "sync.seconds_since_last_sync")), 0);
	json_decref(s);
	nn_ctl_state_destroy(&st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_status_fresh),
		cmocka_unit_test(test_status_rejection),
		cmocka_unit_test(test_status_wg_and_cp),
		cmocka_unit_test(test_cp_err_kinds),
		cmocka_unit_test(test_explain_parse),
		cmocka_unit_test(test_status_lkg_and_since),
	};

	return cmocka_run_group_tests_name("ctl_state", tests, NULL, NULL);
}
