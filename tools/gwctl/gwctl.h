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
	gw_cmd_monitor, gw_cmd_explain;

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

/* ---- names of the live generation (pins.c) ---- */
struct gw_named {
	uint32_t slot;
	struct nn_name name;
};

struct gw_addr {
	uint8_t addr[NN_ADDR_LEN];
	struct nn_addr_info info;
};

struct gw_catalog {
	uint32_t epoch;
	uint32_t slot;	       /* live slot: epoch & 1 */
	uint32_t max_rules;    /* nn_rules stride */
	struct gw_named *devs; /* sorted by slot */
	size_t n_devs;
	struct gw_named *rules; /* sorted by slot */
	size_t n_rules;
	struct gw_addr *addrs; /* live slot only */
	size_t n_addrs;
	/* index -> name, from devices and rules of the live generation */
	char (*tenants)[NN_NAME_MAX];
	size_t n_tenants;
	char (*networks)[NN_NAME_MAX];
	size_t n_networks;
};

int gw_catalog_load(struct gw *g, struct gw_catalog *c);
void gw_catalog_free(struct gw_catalog *c);
const struct nn_name *gw_dev_name(const struct gw_catalog *c, uint32_t slot);
const struct nn_name *gw_rule_name(const struct gw_catalog *c, uint32_t slot);
const struct gw_addr *gw_addr_find(const struct gw_catalog *c, const uint8_t a[NN_ADDR_LEN]);
const char *gw_tenant_name(const struct gw_catalog *c, uint32_t idx);
const char *gw_network_name(const struct gw_catalog *c, uint32_t idx);
/* Rule index of the live generation -> counter slot (NN_NONE32 if none). */
uint32_t gw_rule_index_slot(struct gw *g, const struct gw_catalog *c, uint32_t idx);

/* ---- counters shared by devices and stats ---- */
struct gw_dev_counters {
	uint64_t packets[NN_DIR_MAX];
	uint64_t bytes[NN_DIR_MAX];
	uint64_t drops[NN_DIR_MAX];
};

int gw_dev_counters(struct gw *g, uint32_t slot, struct gw_dev_counters *out);
json_t *gw_json_dev_counters(const struct gw_dev_counters *d);
/* [{slot, id, tenant, network, hits}] of the live generation's rules. */
json_t *gw_json_rules(struct gw *g, const struct gw_catalog *c);

/* Is our from-overlay XDP program attached to @iface? (status.c) */
bool gw_xdp_attached(const char *iface);

/* ---- explain's packet builder (pkt.c) ---- */
struct gw_pkt_spec {
	uint8_t src[NN_ADDR_LEN];
	uint8_t dst[NN_ADDR_LEN];
	int family; /* enum nn_family */
	uint8_t proto;
	uint16_t sport;
	uint16_t dport;
};

/* Build the packet at L3 (IP header first) into @buf: TCP SYN, UDP with 4
 * payload bytes, ICMP/ICMPv6 echo request (id = sport), or 8 payload bytes
 * for any other protocol. Returns the length, 0 if it does not fit. */
size_t gw_pkt_build(const struct gw_pkt_spec *s, uint8_t *buf, size_t cap);

#endif /* NANAMI_GWCTL_H */
