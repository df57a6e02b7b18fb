/* SPDX-License-Identifier: GPL-2.0 */
/*
 * gwctl.h - what the nanami-gwctl commands share: the run context, the
 * table-driven option parser, output (tables for people, JSON for scripts),
 * the pinned maps and a catalog of the live generation's names.
 *
 * Everything is read from the maps the controller pinned (bpf_obj_get), so
 * the tool works while the controller is down.
 */
#ifndef NANAMI_GWCTL_H
#define NANAMI_GWCTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <getopt.h>
#include <jansson.h>

#include "dp/catalog.h"
#include "dp/counters.h"
#include "dp/loader.h"
#include "lib/iface.h"
#include "lib/names.h"
#include "nanami_abi.h"

/* Exit codes (interfaces.md): only main turns errors into these. */
#define GW_OK 0
#define GW_ERR 1
#define GW_USAGE 2

#define GW_PATH_MAX 512

struct gw {
	const char *prog; /* argv[0] for messages */
	const char *iface;
	char pin_dir[GW_PATH_MAX];
	char ctl_sock[GW_PATH_MAX]; /* the controller's control socket */
	bool json;
	bool verbose;
	int fd[NN_M_COUNT]; /* pinned maps, -1 until opened */
	bool error_printed;
	int cmd_argc; /* the command's argv, for gw_optional_value */
	char **cmd_argv;
};

/* ---- options (table-driven: the same table builds getopt and --help) ---- */
struct gw_opt {
	const char *name; /* long name; NULL ends the table */
	char short_name;  /* 0: none */
	int has_arg;	  /* no_argument, required_argument, optional_argument */
	const char *arg;  /* metavariable in --help */
	const char *help;
};

struct gw_cmd {
	const char *name;
	const char *args; /* positional synopsis for --help */
	const char *summary;
	const struct gw_opt *opts; /* the command's own options, or NULL */
	/* @argv holds only the positional arguments (options already parsed
	 * through @on_opt, which gets the option's index in @opts). */
	int (*run)(struct gw *g, void *state, int argc, char **argv);
	int (*on_opt)(struct gw *g, void *state, int idx, const char *arg);
	size_t state_size;
};

extern const struct gw_cmd gw_cmd_status, gw_cmd_devices, gw_cmd_rules, gw_cmd_stats, gw_cmd_flows,
	gw_cmd_monitor, gw_cmd_explain, gw_cmd_rotate_key;

/* The next argv word when it is a number (for options with an optional
 * value given as a separate word, "--watch 2"); NULL otherwise. */
const char *gw_optional_value(struct gw *g);

/* ---- output.c ---- */
/* Report an error once: "{"error": ...}" on stdout with -j, else stderr.
 * Returns @code so callers can "return gw_err(g, GW_ERR, ...)". */
int gw_err(struct gw *g, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Print @root (stolen) as one line of JSON, flushed. */
void gw_json_print(json_t *root);
json_t *gw_json_addr(const uint8_t a[NN_ADDR_LEN]);
json_t *gw_json_str_or_null(const char *s);
void gw_fmt_addr(const uint8_t a[NN_ADDR_LEN], char *buf, size_t len);
/* "12.3K"-style numbers for tables; exact numbers stay in JSON. */
void gw_fmt_count(uint64_t v, char *buf, size_t len);
void gw_fmt_time(uint64_t unix_ns, char *buf, size_t len);

struct gw_table {
	size_t ncols;
	const char *const *head;
	char **cells; /* rows * ncols strings */
	size_t rows;
	size_t cap;
};

void gw_table_init(struct gw_table *t, const char *const *head, size_t ncols);
/* Add one row of ncols strings (copied; NULL prints as "-"). */
int gw_table_row(struct gw_table *t, const char *const *cells);
void gw_table_print(const struct gw_table *t);
void gw_table_free(struct gw_table *t);

/* ---- names.c: protocols and numbers (enum names: user/lib/names.h) ---- */
void gw_proto_name(uint32_t proto, char *buf, size_t len);
int gw_proto_parse(const char *s); /* -1 unknown */
int gw_parse_u32(const char *s, uint32_t max, uint32_t *out);

/* ---- pins.c: the pinned maps ---- */
/* Open every pinned map under g->pin_dir; on failure report which path is
 * missing and how to attach. 0 or GW_ERR (already reported). */
int gw_pins_open(struct gw *g);
void gw_pins_close(struct gw *g);
int gw_map_max_entries(int fd, uint32_t *max);
int gw_live_epoch(struct gw *g, uint32_t *epoch);
int gw_ncpus(void);
/* The capacities the controller loaded with, derived from the pinned maps'
 * max_entries (libbpf only reuses a pinned map of exactly that size). */
int gw_capacity_from_pins(struct gw *g, struct nn_capacity *cap);

/* ---- names of the live generation: dp/catalog.h ---- */
/* nn_catalog_load() with its failure reported (0 or GW_ERR). */
int gw_catalog_load(struct gw *g, struct nn_catalog *c);

/* ---- counters shared by devices and stats ---- */
struct gw_dev_counters {
	uint64_t packets[NN_DIR_MAX];
	uint64_t bytes[NN_DIR_MAX];
	uint64_t drops[NN_DIR_MAX];
};

int gw_dev_counters(struct gw *g, uint32_t slot, struct gw_dev_counters *out);
json_t *gw_json_dev_counters(const struct gw_dev_counters *d);
/* [{slot, id, tenant, network, hits}] of the live generation's rules. */
json_t *gw_json_rules(struct gw *g, const struct nn_catalog *c);

/* Is our from-overlay XDP program attached to @iface? (status.c) */
bool gw_xdp_attached(const char *iface);

/* ---- ctl.c: the controller's control socket ---- */
/*
 * @method @path on g->ctl_sock with @req (JSON, NULL: no body). 0 with the
 * HTTP status and the JSON object answered; -ENOTCONN when no controller
 * listens there (fall back to the maps, @why says why); other -errno with
 * the reason in @why.
 */
int gw_ctl_call(struct gw *g, const char *method, const char *path, json_t *req, long *status,
		json_t **resp, char *why, size_t whylen);

#endif /* NANAMI_GWCTL_H */
