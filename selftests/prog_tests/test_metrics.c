// SPDX-License-Identifier: GPL-2.0
/*
 * The Prometheus page: counters read from the real maps after real packets
 * went through the real programs (the policy programs and the underlay
 * guard), and the HTTP endpoint serving it.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "dp/underlay.h"
#include "dptest.h"
#include "examples.h"
#include "gatewayd/metrics.h"
#include "model_fixture.h"

#define WG_PORT 51820

static void expect_line(const char *page, const char *line)
{
	if (!strstr(page, line))
		fail_msg("metrics page lacks \"%s\"", line);
}

static void send_example(struct dpt *t, const char *id)
{
	struct dpt_result r;
	uint8_t pkt[PB_BUF_LEN];
	size_t i, len;

	for (i = 0; i < nn_n_examples; i++) {
		if (strcmp(nn_examples[i].id, id))
			continue;
		len = nn_example_build(&nn_examples[i], NN_FRAMING_ETH, pkt, sizeof(pkt));
		assert_int_equal(dpt_run(t, nn_examples[i].dir, NN_HOOK_TC, pkt, len, &r), 0);
		return;
	}
	fail_msg("no example %s", id);
}

/* A WireGuard message of @type and @msglen bytes (reserved bytes zero) in
 * an Ethernet frame to the guard's port; run through the guard, returns
 * the XDP action. */
static uint32_t wg_send(struct nn_underlay *u, uint8_t type, size_t msglen)
{
	uint8_t pkt[PB_BUF_LEN], out[PB_BUF_LEN + 64];
	struct pb b;
	size_t len;

	pb_payload(pb_udp(pb_ip(pb_eth(pb_init(&b)), "192.0.2.1", "198.51.100.1"), 40000, WG_PORT),
		   msglen);
	len = pb_build(&b, pkt, sizeof(pkt));
	assert_true(len > msglen);
	memset(&pkt[len - msglen], 0, msglen < 4 ? msglen : 4);
	pkt[len - msglen] = type;

	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt, .data_size_in = len, .data_out = out,
		    .data_size_out = sizeof(out), .repeat = 1);
	assert_int_equal(bpf_prog_test_run_opts(nn_underlay_prog_fd(u), &o), 0);
	return o.retval;
}

/* alice -> 127.0.0.1: never valid from the overlay. */
static void send_martian(struct dpt *t)
{
	uint8_t pkt[PB_BUF_LEN];
	struct dpt_result r;
	struct pb b;
	size_t len;

	len = pb_build(pb_eth(mf_udp(&b, ALICE4, "127.0.0.1", 5353, 53)), pkt, sizeof(pkt));
	assert_true(len > 0);
	assert_int_equal(dpt_run(t, NN_DIR_FROM_OVERLAY, NN_HOOK_TC, pkt, len, &r), 0);
	assert_int_equal(r.reason, NN_R_MARTIAN);
}

static void test_render(void **state)
{
	struct nn_ctl_state st;
	struct dpt t;
	char *page;

	(void)state;
	nn_ctl_state_init(&st);
	st.applied_generation = 7;
	assert_int_equal(dpt_open(&t, NN_FRAMING_ETH), 0);
	assert_int_equal(dpt_apply(&t, mf_base, NULL), 0);
	send_example(&t, "1"); /* alice -> db, eng-db */
	send_example(&t, "5"); /* spoof */
	send_example(&t, "7"); /* acl_deny no-smtp */
	send_martian(&t);
	page = nn_metrics_render(t.dp, NULL, &st);
	assert_non_null(page);
	expect_line(page, "nanami_drops_total{reason=\"spoof\"} 1\n");
	expect_line(page, "nanami_drops_total{reason=\"wg_malformed\"} 0\n");
	expect_line(page, "nanami_underlay_guard 0\n");
	expect_line(page, "nanami_drops_total{reason=\"acl_deny\"} 1\n");
	expect_line(page, "nanami_drops_total{reason=\"malformed\"} 0\n");
	expect_line(page, "nanami_drops_total{reason=\"martian\"} 1\n");
	expect_line(page, "nanami_map_entries{map=\"nn_local\"} 0\n");
	expect_line(page, "nanami_device_packets_total{device=\"alice-laptop\",tenant=\"acme\","
			  "network=\"acme-prod\",direction=\"from-overlay\"} 1\n");
	expect_line(page, "nanami_device_drops_total{device=\"alice-laptop\",tenant=\"acme\","
			  "network=\"acme-prod\",direction=\"from-overlay\"} 2\n");
	expect_line(page, "nanami_rule_hits_total{rule=\"eng-db\",tenant=\"acme\","
			  "network=\"acme-prod\"} 1\n");
	expect_line(page, "nanami_rule_hits_total{rule=\"no-smtp\",tenant=\"acme\","
			  "network=\"acme-prod\"} 1\n");
	/* 6 device addresses (alice and carol have IPv4 too), 1 node, our 2. */
	expect_line(page, "nanami_map_entries{map=\"nn_addrs\"} 9\n");
	expect_line(page, "nanami_map_entries{map=\"nn_flows\"} 1\n");
	expect_line(page, "nanami_applied_generation 7\n");
	expect_line(page, "nanami_policy_epoch 1\n");
	free(page);
	dpt_close(&t);
}

/*
 * The underlay guard's drops on the same page, by reason, next to the
 * policy programs' own: 2 malformed messages and, with a bucket of 2 that
 * never refills (rate 0), 3 of 5 handshake initiations from one source.
 */
static void test_render_underlay(void **state)
{
	struct nn_underlay *u = NULL;
	struct nn_ctl_state st;
	struct dpt t;
	char *page;
	int i, passed = 0;

	(void)state;
	nn_ctl_state_init(&st);
	assert_int_equal(dpt_open(&t, NN_FRAMING_ETH), 0);
	assert_int_equal(dpt_apply(&t, mf_base, NULL), 0);
	assert_int_equal(nn_underlay_load(NULL, &u), 0);
	assert_int_equal(nn_underlay_configure(u, WG_PORT, 0, 2, NULL), 0);
	send_example(&t, "5"); /* spoof, counted by the policy program */
	assert_int_equal(wg_send(u, NN_WG_DATA, 3), XDP_DROP);	/* shorter than a header */
	assert_int_equal(wg_send(u, NN_WG_DATA, 33), XDP_DROP); /* not a multiple of 16 */
	assert_int_equal(wg_send(u, NN_WG_DATA, 48), XDP_PASS);
	for (i = 0; i < 5; i++)
		passed += wg_send(u, NN_WG_INITIATION, NN_WG_INITIATION_LEN) == XDP_PASS;
	assert_int_equal(passed, 2);

	page = nn_metrics_render(t.dp, u, &st);
	assert_non_null(page);
	expect_line(page, "nanami_drops_total{reason=\"wg_malformed\"} 2\n");
	expect_line(page, "nanami_drops_total{reason=\"wg_handshake_rate\"} 3\n");
	expect_line(page, "nanami_drops_total{reason=\"spoof\"} 1\n");
	expect_line(page, "nanami_drops_total{reason=\"malformed\"} 0\n");
	expect_line(page, "nanami_underlay_guard 1\n");
	free(page);
	nn_underlay_close(u);
	dpt_close(&t);
}

/*
 * What the alert rules and the dashboard read from the controller's state:
 * timestamps, config errors by kind, the newest handshake, apply durations
 * as a cumulative histogram. The state is driven through the recorders the
 * control loop calls.
 */
static void test_render_controller(void **state)
{
	struct nn_peer_metrics *peers = calloc(3, sizeof(*peers));
	const char *why[] = { "bad prefix" };
	struct nn_ctl_state st;
	struct dpt t;
	char *page;

	(void)state;
	assert_non_null(peers);
	nn_ctl_state_init(&st);
	st.info.resync_s = 30;
	st.info.started_unix = 1700000000;
	st.last_sync_unix = 1700000090;
	st.last_applied_unix = 1700000060;
	snprintf(peers[0].id, sizeof(peers[0].id), "alice-laptop");
	peers[0].last_handshake_unix = 1700000050;
	snprintf(peers[1].id, sizeof(peers[1].id), "bob-phone");
	peers[1].last_handshake_unix = 1700000080;
	snprintf(peers[2].id, sizeof(peers[2].id), "carol-desktop"); /* never */
	st.peers = peers;
	st.n_peers = 3;
	nn_ctl_note_rejection(&st, "event", 4, why, 1);
	nn_ctl_note_apply_error(&st, "event", 5, why, 1);
	nn_ctl_note_apply_error(&st, "retry", 5, why, 1);
	nn_ctl_note_wg(&st, NULL, -EIO);
	nn_ctl_note_wg(&st, NULL, 0);
	nn_ctl_note_apply_time(&st, NN_APPLY_KIND_CHANGE, 0.003);
	nn_ctl_note_apply_time(&st, NN_APPLY_KIND_CHANGE, 0.3);
	nn_ctl_note_apply_time(&st, NN_APPLY_KIND_CHANGE, 42.0); /* past every bound */
	nn_ctl_note_apply_time(&st, NN_APPLY_KIND_DRIFT, 0.01);	 /* exactly a bound: le */
	assert_int_equal(dpt_open(&t, NN_FRAMING_ETH), 0);
	page = nn_metrics_render(t.dp, NULL, &st);
	assert_non_null(page);
	expect_line(page, "\nnanami_resync_interval_seconds 30\n");
	expect_line(page, "\nnanami_controller_start_time_seconds 1700000000\n");
	expect_line(page, "\nnanami_last_sync_timestamp_seconds 1700000090\n");
	expect_line(page, "\nnanami_last_apply_timestamp_seconds 1700000060\n");
	expect_line(page, "\nnanami_config_errors_total{kind=\"snapshot_rejected\"} 1\n");
	expect_line(page, "\nnanami_config_errors_total{kind=\"apply_failed\"} 2\n");
	expect_line(page, "\nnanami_wg_reconcile_errors_total 1\n");
	expect_line(page, "\nnanami_peer_last_handshake_timestamp_seconds{peer=\"alice-laptop\"} "
			  "1700000050\n");
	if (strstr(page, "nanami_peer_last_handshake_timestamp_seconds{peer=\"carol-desktop\"}"))
		fail_msg("a peer that never handshook has a handshake timestamp");
	expect_line(page, "\nnanami_last_handshake_timestamp_seconds 1700000080\n");
	expect_line(page,
		    "\nnanami_apply_duration_seconds_bucket{kind=\"change\",le=\"0.001\"} 0\n");
	expect_line(page,
		    "\nnanami_apply_duration_seconds_bucket{kind=\"change\",le=\"0.005\"} 1\n");
	expect_line(page,
		    "\nnanami_apply_duration_seconds_bucket{kind=\"change\",le=\"0.25\"} 1\n");
	expect_line(page, "\nnanami_apply_duration_seconds_bucket{kind=\"change\",le=\"0.5\"} 2\n");
	expect_line(page, "\nnanami_apply_duration_seconds_bucket{kind=\"change\",le=\"10\"} 2\n");
	expect_line(page,
		    "\nnanami_apply_duration_seconds_bucket{kind=\"change\",le=\"+Inf\"} 3\n");
	expect_line(page, "\nnanami_apply_duration_seconds_count{kind=\"change\"} 3\n");
	expect_line(page, "\nnanami_apply_duration_seconds_sum{kind=\"change\"} 42.303000\n");
	expect_line(page,
		    "\nnanami_apply_duration_seconds_bucket{kind=\"drift\",le=\"0.005\"} 0\n");
	expect_line(page, "\nnanami_apply_duration_seconds_bucket{kind=\"drift\",le=\"0.01\"} 1\n");
	expect_line(page, "\nnanami_apply_duration_seconds_count{kind=\"drift\"} 1\n");
	free(page);
	nn_ctl_state_destroy(&st);
	dpt_close(&t);
}

static void test_http(void **state)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct nn_metrics *m = NULL;
	struct nn_ctl_state st;
	char spec[64], resp[65536];
	socklen_t sl = sizeof(sa);
	struct dpt t;
	ssize_t n, got = 0;
	int fd, port;

	(void)state;
	nn_ctl_state_init(&st);
	assert_int_equal(dpt_open(&t, NN_FRAMING_ETH), 0);
	/* Find a free port: bind 0, read it back, release it. */
	fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
	port = ntohs(sa.sin_port);
	close(fd);
	snprintf(spec, sizeof(spec), "127.0.0.1:%d", port);
	assert_int_equal(nn_metrics_start(spec, t.dp, NULL, &st, &m), 0);

	fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_true(write(fd, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", 34) == 34);
	while ((n = read(fd, resp + got, sizeof(resp) - 1 - got)) > 0)
		got += n;
	resp[got] = 0;
	close(fd);
	assert_non_null(strstr(resp, "HTTP/1.0 200 OK"));
	assert_non_null(strstr(resp, "nanami_drops_total{reason=\"spoof\"}"));

	fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_true(write(fd, "GET /other HTTP/1.0\r\n\r\n", 23) == 23);
	got = read(fd, resp, sizeof(resp) - 1);
	assert_true(got > 0);
	resp[got] = 0;
	close(fd);
	assert_non_null(strstr(resp, "404"));
	nn_metrics_stop(m);
	dpt_close(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_render),
		cmocka_unit_test(test_render_underlay),
		cmocka_unit_test(test_render_controller),
		cmocka_unit_test(test_http),
	};

	return cmocka_run_group_tests_name("metrics", tests, mf_group_setup, mf_group_teardown);
}
