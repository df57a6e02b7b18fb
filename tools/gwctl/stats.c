// SPDX-License-Identifier: GPL-2.0
/*
 * stats.c - every counter in one place: drops by reason (the names of
 * verdicts.md), per device and per rule. Each reason is counted by one map:
 * the policy programs' nn_drops, or for wg_* the underlay guard's
 * nn_wg_drops (pinned under <pin_dir>/underlay when the controller runs with
 * --underlay); a reason's figure is the sum of both. --watch redraws every
 * N seconds with per-second rates computed from the difference of two reads.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dp/underlay.h"
#include "gwctl.h"

enum { S_WATCH };

static const struct gw_opt stats_opts[] = {
	[S_WATCH] = { "watch", 'w', optional_argument, "SECONDS",
		      "redraw every SECONDS (default 1) with rates; not with -j" },
	{ NULL },
};

struct stats_state {
	uint32_t watch; /* 0: print once */
	int wg_fd;	/* the underlay guard's nn_wg_drops, -1: no guard */
};

struct snap {
	struct nn_reason_stats drops[NN_R_MAX];
	struct gw_dev_counters *dev; /* per c.devs[i] */
	uint64_t *hits;		     /* per c.rules[i] */
};

static volatile sig_atomic_t stop;

static void on_sigint(int sig)
{
	(void)sig;
	stop = 1;
}

static int stats_opt(struct gw *g, void *state, int idx, const char *arg)
{
	struct stats_state *s = state;

	if (idx != S_WATCH)
		return 0;
	s->watch = 1;
	arg = gw_optional_value(g);
	if (arg && (gw_parse_u32(arg, 86400, &s->watch) || !s->watch))
		return gw_err(g, GW_USAGE, "--watch needs a number of seconds (1-86400), not '%s'",
			      arg);
	return 0;
}

/* Open the underlay guard's drop counters when it was loaded with this pin
 * directory; its absence is not an error (the controller may run without
 * --underlay). */
static int open_underlay(struct gw *g, struct stats_state *st)
{
	int fd = nn_underlay_open_drops(g->pin_dir);

	st->wg_fd = -1;
	if (fd == -ENOENT)
		return 0;
	if (fd < 0)
		return gw_err(g, GW_ERR, "couldn't open %s/%s/nn_wg_drops: %s", g->pin_dir,
			      NN_UNDERLAY_SUBDIR, strerror(-fd));
	st->wg_fd = fd;
	return 0;
}

/* Both maps count by enum nn_reason, each reason in one of them. */
static int read_drops(const struct stats_state *st, struct gw *g, struct snap *s)
{
	struct nn_reason_stats wg[NN_R_MAX] = {};
	size_t i;
	int err;

	err = nn_read_drops(g->fd[NN_M_DROPS], s->drops);
	if (!err && st->wg_fd >= 0)
		err = nn_read_drops(st->wg_fd, wg);
	if (err)
		return gw_err(g, GW_ERR, "couldn't read the drop counters: %s", strerror(-err));
	for (i = 1; i < NN_R_MAX; i++) {
		s->drops[i].packets += wg[i].packets;
		s->drops[i].bytes += wg[i].bytes;
	}
	return 0;
}

static int take(struct gw *g, const struct stats_state *st, const struct nn_catalog *c,
		struct snap *s)
{
	size_t i;

	if (read_drops(st, g, s))
		return GW_ERR;
	s->dev = calloc(c->n_devs + 1, sizeof(*s->dev));
	s->hits = calloc(c->n_rules + 1, sizeof(*s->hits));
	if (!s->dev || !s->hits)
		return gw_err(g, GW_ERR, "out of memory");
	for (i = 0; i < c->n_devs; i++)
		gw_dev_counters(g, c->devs[i].slot, &s->dev[i]);
	for (i = 0; i < c->n_rules; i++)
		nn_percpu_sum(g->fd[NN_M_RULE_HITS], c->rules[i].slot, 1, &s->hits[i]);
	return 0;
}

static void snap_free(struct snap *s)
{
	free(s->dev);
	free(s->hits);
	s->dev = NULL;
	s->hits = NULL;
}

static json_t *stats_json(const struct nn_catalog *c, const struct snap *s, bool guard)
{
	json_t *drops = json_object(), *devs = json_array(), *rules = json_array();
	uint64_t total = 0;
	size_t i;

	for (i = 1; i < NN_R_MAX; i++) {
		total += s->drops[i].packets;
		json_object_set_new(drops, nn_reason_name(i),
				    json_pack("{s:I,s:I}", "packets",
					      (json_int_t)s->drops[i].packets, "bytes",
					      (json_int_t)s->drops[i].bytes));
	}
	for (i = 0; i < c->n_devs; i++)
		json_array_append_new(
			devs, json_pack("{s:s,s:s?,s:s?,s:o}", "id", c->devs[i].name.id, "tenant",
					c->devs[i].name.tenant[0] ? c->devs[i].name.tenant : NULL,
					"network",
					c->devs[i].name.network[0] ? c->devs[i].name.network : NULL,
					"counters", gw_json_dev_counters(&s->dev[i])));
	for (i = 0; i < c->n_rules; i++)
		json_array_append_new(
			rules, json_pack("{s:s,s:s,s:s,s:I}", "id", c->rules[i].name.id, "tenant",
					 c->rules[i].name.tenant, "network",
					 c->rules[i].name.network, "hits", (json_int_t)s->hits[i]));
	return json_pack("{s:I,s:o,s:I,s:b,s:o,s:o}", "epoch", (json_int_t)c->epoch, "drops", drops,
			 "drops_total", (json_int_t)total, "underlay_guard", guard, "devices", devs,
			 "rules", rules);
}

/* A counter, and with @prev its rate over @secs. */
static void cell(char *buf, size_t len, uint64_t now, bool has_prev, uint64_t prev, double secs)
{
	char n[24];

	gw_fmt_count(now, n, sizeof(n));
	if (has_prev)
		snprintf(buf, len, "%s (%.1f/s)", n, (double)(now - prev) / secs);
	else
		snprintf(buf, len, "%s", n);
}

static void stats_print(const struct nn_catalog *c, const struct snap *s, const struct snap *prev,
			double secs, bool guard)
{
	static const char *const dh[] = { "REASON", "PACKETS", "BYTES" };
	static const char *const vh[] = { "DEVICE",    "TENANT",     "NETWORK",	  "PKTS FROM",
					  "PKTS INTO", "DROPS FROM", "DROPS INTO" };
	static const char *const rh[] = { "RULE", "TENANT", "NETWORK", "HITS" };
	struct gw_table t;
	char a[48], b[48], d1[48], d2[48];
	size_t i;

	gw_table_init(&t, dh, 3);
	for (i = 1; i < NN_R_MAX; i++) {
		cell(a, sizeof(a), s->drops[i].packets, prev != NULL,
		     prev ? prev->drops[i].packets : 0, secs);
		gw_fmt_count(s->drops[i].bytes, b, sizeof(b));
		gw_table_row(&t, (const char *[]){ nn_reason_name(i), a, b });
	}
	gw_table_print(&t);
	gw_table_free(&t);
	if (!guard)
		printf("(no underlay guard under this pin directory: wg_* drops are counted "
		       "only with nanami-gatewayd --underlay)\n");
	putchar('\n');
	gw_table_init(&t, vh, 7);
	for (i = 0; i < c->n_devs; i++) {
		const struct gw_dev_counters *d = &s->dev[i], *p = prev ? &prev->dev[i] : NULL;

		cell(a, sizeof(a), d->packets[0], p != NULL, p ? p->packets[0] : 0, secs);
		cell(b, sizeof(b), d->packets[1], p != NULL, p ? p->packets[1] : 0, secs);
		cell(d1, sizeof(d1), d->drops[0], p != NULL, p ? p->drops[0] : 0, secs);
		cell(d2, sizeof(d2), d->drops[1], p != NULL, p ? p->drops[1] : 0, secs);
		gw_table_row(&t, (const char *[]){ c->devs[i].name.id, c->devs[i].name.tenant,
						   c->devs[i].name.network, a, b, d1, d2 });
	}
	gw_table_print(&t);
	gw_table_free(&t);
	putchar('\n');
	gw_table_init(&t, rh, 4);
	for (i = 0; i < c->n_rules; i++) {
		cell(a, sizeof(a), s->hits[i], prev != NULL, prev ? prev->hits[i] : 0, secs);
		gw_table_row(&t, (const char *[]){ c->rules[i].name.id, c->rules[i].name.tenant,
						   c->rules[i].name.network, a });
	}
	gw_table_print(&t);
	gw_table_free(&t);
}

/*
 * Redraw until SIGINT. The catalog is read again each round: an apply may
 * add or remove devices and rules, and rates are only shown for a round
 * whose catalog has the same rows as the previous one.
 */
static int watch(struct gw *g, const struct stats_state *st)
{
	struct nn_catalog c = {}, pc = {};
	struct snap s = {}, prev = {};
	bool have_prev = false;
	int err = 0;

	signal(SIGINT, on_sigint);
	signal(SIGTERM, on_sigint);
	while (!stop) {
		err = gw_catalog_load(g, &c);
		if (err)
			break;
		err = take(g, st, &c, &s);
		if (err)
			break;
		if (have_prev && (pc.n_devs != c.n_devs || pc.n_rules != c.n_rules))
			have_prev = false;
		printf("\033[H\033[2J%s  epoch %u  every %us  (Ctrl-C to stop)\n\n", g->pin_dir,
		       c.epoch, st->watch);
		stats_print(&c, &s, have_prev ? &prev : NULL, st->watch, st->wg_fd >= 0);
		fflush(stdout);
		snap_free(&prev);
		nn_catalog_free(&pc);
		prev = s;
		pc = c;
		memset(&s, 0, sizeof(s));
		memset(&c, 0, sizeof(c));
		have_prev = true;
		sleep(st->watch);
	}
	snap_free(&prev);
	snap_free(&s);
	nn_catalog_free(&pc);
	nn_catalog_free(&c);
	return err;
}

static int stats_run(struct gw *g, void *state, int argc, char **argv)
{
	struct stats_state *st = state;
	struct nn_catalog c;
	struct snap s = {};
	int err;

	(void)argv;
	if (argc)
		return gw_err(g, GW_USAGE, "stats takes no arguments besides --watch [SECONDS]");
	if (st->watch && g->json)
		return gw_err(g, GW_USAGE,
			      "--watch is for people; with -j, run stats -j "
			      "repeatedly and compute rates from the counters");
	err = gw_pins_open(g);
	if (!err)
		err = open_underlay(g, st);
	if (err)
		return err;
	if (st->watch) {
		err = watch(g, st);
		goto out;
	}
	err = gw_catalog_load(g, &c);
	if (err)
		goto out;
	err = take(g, st, &c, &s);
	if (!err && g->json)
		gw_json_print(stats_json(&c, &s, st->wg_fd >= 0));
	else if (!err)
		stats_print(&c, &s, NULL, 1, st->wg_fd >= 0);
	snap_free(&s);
	nn_catalog_free(&c);
out:
	if (st->wg_fd >= 0)
		close(st->wg_fd);
	return err;
}

const struct gw_cmd gw_cmd_stats = {
	.name = "stats",
	.args = "[--watch [SECONDS]]",
	.summary = "drops by reason, per-device and per-rule counters",
	.opts = stats_opts,
	.on_opt = stats_opt,
	.run = stats_run,
	.state_size = sizeof(struct stats_state),
};
