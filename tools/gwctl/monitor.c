// SPDX-License-Identifier: GPL-2.0
/*
 * monitor.c - live drop events from the nn_events ring buffer.
 *
 * The ring buffer has one consumer position shared by every reader: events
 * read here are gone for any other monitor running at the same time. Events
 * already waiting when the monitor starts may be arbitrarily old, so they are
 * skipped unless --backlog asks for them. Which drops are emitted at all is
 * nn_config's event_sample / event_rate (sampled and rate-limited).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <bpf/libbpf.h>

#include "gwctl.h"

enum { M_DEVICE, M_TENANT, M_REASON, M_COUNT, M_TIMEOUT, M_BACKLOG };

static const struct gw_opt monitor_opts[] = {
	[M_DEVICE] = { "device", 'd', required_argument, "ID", "only drops of this device" },
	[M_TENANT] = { "tenant", 't', required_argument, "ID", "only drops of this tenant" },
	[M_REASON] = { "reason", 'r', required_argument, "REASON",
		       "only this drop reason (spoof, acl_deny, ...)" },
	[M_COUNT] = { "count", 'c', required_argument, "N", "exit after N events" },
	[M_TIMEOUT] = { "timeout", 0, required_argument, "SECONDS",
			"exit after SECONDS (status 1 if --count was not reached)" },
	[M_BACKLOG] = { "backlog", 0, no_argument, NULL,
			"also print events queued before the monitor started" },
	{ NULL },
};

struct mon {
	struct gw *g;
	const char *device;
	const char *tenant;
	int reason;	  /* 0: any */
	uint32_t count;	  /* 0: unlimited */
	uint32_t timeout; /* 0: none */
	bool backlog;
	bool draining; /* skipping the backlog */
	uint32_t seen;
	struct nn_catalog cat;
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static int monitor_opt(struct gw *g, void *state, int idx, const char *arg)
{
	struct mon *m = state;

	switch (idx) {
	case M_DEVICE:
		m->device = arg;
		break;
	case M_TENANT:
		m->tenant = arg;
		break;
	case M_REASON:
		m->reason = nn_reason_from_name(arg);
		if (m->reason < 0)
			return gw_err(g, GW_USAGE,
				      "--reason: '%s' is not a drop reason of "
				      "verdicts.md",
				      arg);
		break;
	case M_COUNT:
		if (gw_parse_u32(arg, UINT32_MAX, &m->count) || !m->count)
			return gw_err(g, GW_USAGE, "--count: '%s' is not a positive number", arg);
		break;
	case M_TIMEOUT:
		if (gw_parse_u32(arg, 86400 * 365, &m->timeout) || !m->timeout)
			return gw_err(g, GW_USAGE,
				      "--timeout: '%s' is not a positive number of "
				      "seconds",
				      arg);
		break;
	case M_BACKLOG:
		m->backlog = true;
		break;
	}
	return 0;
}

static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Events carry bpf_ktime_get_ns() (CLOCK_MONOTONIC): shift to wall time. */
static uint64_t to_unix_ns(uint64_t mono)
{
	uint64_t now_mono = clock_ns(CLOCK_MONOTONIC), now_real = clock_ns(CLOCK_REALTIME);

	return now_real - (now_mono > mono ? now_mono - mono : 0);
}

/* Names are indices of the generation that emitted the event: follow the
 * live epoch so an apply during the monitor does not mislabel events. */
static void refresh_catalog(struct mon *m)
{
	uint32_t epoch;

	if (gw_live_epoch(m->g, &epoch) || (m->cat.devs && epoch == m->cat.epoch))
		return;
	nn_catalog_free(&m->cat);
	gw_catalog_load(m->g, &m->cat);
}

static int on_event(void *ctx, void *data, size_t size)
{
	struct mon *m = ctx;
	const struct nn_event *e = data;
	const struct nn_name *dev, *rule;
	const char *tenant, *network, *reason;
	char when[48], src[48], dst[48], proto[16];

	if (m->draining || size < sizeof(*e) || stop)
		return 0;
	refresh_catalog(m);
	dev = nn_cat_dev_name(&m->cat, e->dev_slot);
	rule = nn_cat_rule_name(&m->cat, e->rule_slot);
	tenant = nn_cat_tenant_name(&m->cat, e->tenant);
	network = nn_cat_network_name(&m->cat, e->network);
	reason = nn_reason_name(e->reason);
	if ((m->reason && e->reason != m->reason) ||
	    (m->device && (!dev || strcmp(dev->id, m->device))) ||
	    (m->tenant && (!tenant || strcmp(tenant, m->tenant))))
		return 0;
	gw_fmt_time(to_unix_ns(e->ts_ns), when, sizeof(when));
	gw_fmt_addr(e->src, src, sizeof(src));
	gw_fmt_addr(e->dst, dst, sizeof(dst));
	gw_proto_name(e->proto, proto, sizeof(proto));
	if (m->g->json) {
		gw_json_print(json_pack(
			"{s:s,s:I,s:s,s:s,s:i,s:s,s:i,s:s,s:i,s:o,s:o,s:o,s:o,s:o,"
			"s:i}",
			"time", when, "ts_ns", (json_int_t)e->ts_ns, "direction",
			nn_dir_name(e->dir), "src", src, "sport", e->sport, "dst", dst, "dport",
			e->dport, "proto", proto, "proto_num", e->proto, "device",
			gw_json_str_or_null(dev ? dev->id : NULL), "tenant",
			gw_json_str_or_null(tenant), "network", gw_json_str_or_null(network),
			"rule", gw_json_str_or_null(rule ? rule->id : NULL), "reason",
			gw_json_str_or_null(reason), "len", (int)e->pkt_len));
	} else {
		char line[512];
		size_t n = 0;

		/* One line per event, key=value after the addresses, so it greps. */
		n += snprintf(line + n, sizeof(line) - n, "%s %s %s %s", when, nn_dir_name(e->dir),
			      proto, src);
		if (e->sport)
			n += snprintf(line + n, sizeof(line) - n, " port %u", e->sport);
		n += snprintf(line + n, sizeof(line) - n, " -> %s", dst);
		if (e->dport && n < sizeof(line))
			n += snprintf(line + n, sizeof(line) - n, " port %u", e->dport);
		if (dev && n < sizeof(line))
			n += snprintf(line + n, sizeof(line) - n, " device=%s", dev->id);
		if (tenant && n < sizeof(line))
			n += snprintf(line + n, sizeof(line) - n, " tenant=%s", tenant);
		if (rule && n < sizeof(line))
			n += snprintf(line + n, sizeof(line) - n, " rule=%s", rule->id);
		if (n < sizeof(line))
			snprintf(line + n, sizeof(line) - n, " reason=%s", reason ? reason : "?");
		puts(line);
		fflush(stdout);
	}
	m->seen++;
	if (m->count && m->seen >= m->count)
		stop = 1;
	return 0;
}

static int monitor_run(struct gw *g, void *state, int argc, char **argv)
{
	struct mon *m = state;
	struct ring_buffer *rb;
	uint64_t deadline = 0;
	int err;

	(void)argv;
	if (argc)
		return gw_err(g, GW_USAGE, "monitor takes no arguments besides its filters");
	m->g = g;
	err = gw_pins_open(g) ?: gw_catalog_load(g, &m->cat);
	if (err)
		return err;
	rb = ring_buffer__new(g->fd[NN_M_EVENTS], on_event, m, NULL);
	if (!rb) {
		err = -errno;
		nn_catalog_free(&m->cat);
		return gw_err(g, GW_ERR, "couldn't open the ring buffer %s/nn_events: %s",
			      g->pin_dir, strerror(-err));
	}
	m->draining = !m->backlog;
	ring_buffer__consume(rb);
	m->draining = false;
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	if (m->timeout)
		deadline = clock_ns(CLOCK_MONOTONIC) + (uint64_t)m->timeout * 1000000000ull;
	while (!stop) {
		err = ring_buffer__poll(rb, 200);
		if (err == -EINTR) {
			err = 0;
			continue;
		}
		if (err < 0) {
			err = gw_err(g, GW_ERR, "reading %s/nn_events: %s", g->pin_dir,
				     strerror(-err));
			break;
		}
		err = 0;
		if (deadline && clock_ns(CLOCK_MONOTONIC) >= deadline) {
			if (m->count && m->seen < m->count)
				err = gw_err(g, GW_ERR, "timeout after %us: %u of %u events",
					     m->timeout, m->seen, m->count);
			break;
		}
	}
	ring_buffer__free(rb);
	nn_catalog_free(&m->cat);
	return err;
}

const struct gw_cmd gw_cmd_monitor = {
	.name = "monitor",
	.args = "[--device ID] [--tenant ID] [--reason REASON] [--count N] [--timeout S]",
	.summary = "live drop events (sampled, rate-limited by nn_config); Ctrl-C stops",
	.opts = monitor_opts,
	.on_opt = monitor_opt,
	.run = monitor_run,
	.state_size = sizeof(struct mon),
};
