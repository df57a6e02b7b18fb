// SPDX-License-Identifier: GPL-2.0
/*
 * The Prometheus page: counters read from the real maps after real packets
 * went through the real programs, and the HTTP endpoint serving it.
 */
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

#include "dptest.h"
#include "examples.h"
#include "gatewayd/metrics.h"
#include "model_fixture.h"

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
	page = nn_metrics_render(t.dp, &st);
	assert_non_null(page);
	expect_line(page, "nanami_drops_total{reason=\"spoof\"} 1\n");
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
	assert_int_equal(nn_metrics_start(spec, t.dp, &st, &m), 0);

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
		cmocka_unit_test(test_http),
	};

	return cmocka_run_group_tests_name("metrics", tests, mf_group_setup, mf_group_teardown);
}
