// SPDX-License-Identifier: GPL-2.0
/*
 * nanami-gwctl - the operator CLI of the Nanami gateway dataplane.
 *
 *   nanami-gwctl [--iface IF] [--bpffs DIR] [-j] [-v] OBJECT [COMMAND] [ARGS...]
 *
 * bpftool's grammar: global options, then an object. Every object's options
 * are a table (struct gw_opt) that builds both getopt_long's array and the
 * object's --help, so the two never disagree. Exit codes: 0 ok, 1 runtime
 * error, 2 usage.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/libbpf.h>
#include <xdp/libxdp.h>

#include "gwctl.h"
#include "lib/ctlpath.h"
#include "lib/log.h"

static const struct gw_cmd *const cmds[] = {
	&gw_cmd_status, &gw_cmd_devices, &gw_cmd_rules,	  &gw_cmd_stats,
	&gw_cmd_flows,	&gw_cmd_monitor, &gw_cmd_explain, &gw_cmd_rotate_key,
};

#define N_CMDS (sizeof(cmds) / sizeof(cmds[0]))

/* Accepted before the object and after it, so "gwctl status -j" works. */
enum { G_IFACE, G_BPFFS, G_CTL_SOCK, G_JSON, G_VERBOSE, G_HELP, G_COUNT };

static const struct gw_opt global_opts[] = {
	[G_IFACE] = { "iface", 'i', required_argument, "IF",
		      "the overlay interface (default wg0)" },
	[G_BPFFS] = { "bpffs", 0, required_argument, "DIR",
		      "pin directory (default " NN_PIN_ROOT "/<iface>)" },
	[G_CTL_SOCK] = { "control-socket", 0, required_argument, "PATH",
			 "the controller's socket (default " NN_CTL_SOCK_DIR "/<iface>.sock)" },
	[G_JSON] = { "json", 'j', no_argument, NULL, "JSON output (errors too)" },
	[G_VERBOSE] = { "verbose", 'v', no_argument, NULL, "libbpf debug messages" },
	[G_HELP] = { "help", 'h', no_argument, NULL, "this help" },
	{ NULL },
};

static size_t opt_count(const struct gw_opt *o)
{
	size_t n = 0;

	while (o && o[n].name)
		n++;
	return n;
}

static void print_opts(FILE *f, const struct gw_opt *o)
{
	char lhs[64];

	for (; o && o->name; o++) {
		int n = o->short_name ?
				snprintf(lhs, sizeof(lhs), "-%c, --%s", o->short_name, o->name) :
				snprintf(lhs, sizeof(lhs), "    --%s", o->name);

		if (o->arg)
			snprintf(lhs + n, sizeof(lhs) - n,
				 o->has_arg == optional_argument ? " [%s]" : " %s", o->arg);
		fprintf(f, "  %-26s %s\n", lhs, o->help);
	}
}

static void usage(FILE *f)
{
	size_t i;

	fprintf(f, "Usage: nanami-gwctl [OPTIONS] OBJECT [ARGS...]\n\nObjects:\n");
	for (i = 0; i < N_CMDS; i++)
		fprintf(f, "  %-9s %s\n", cmds[i]->name, cmds[i]->summary);
	fprintf(f, "\nOptions:\n");
	print_opts(f, global_opts);
	fprintf(f, "\n'nanami-gwctl OBJECT --help' shows an object's arguments and options.\n"
		   "Exit status: 0 ok, 1 runtime error, 2 usage error.\n");
}

static void cmd_usage(FILE *f, const struct gw_cmd *c)
{
	fprintf(f, "Usage: nanami-gwctl [OPTIONS] %s%s%s\n\n%s\n", c->name, c->args ? " " : "",
		c->args ? c->args : "", c->summary);
	if (opt_count(c->opts)) {
		fprintf(f, "\n%s options:\n", c->name);
		print_opts(f, c->opts);
	}
	fprintf(f, "\nCommon options:\n");
	print_opts(f, global_opts);
}

/* Handle a global option; 0, or an exit code. */
static int global_opt(struct gw *g, int idx, const char *arg)
{
	switch (idx) {
	case G_IFACE:
		/* The name reaches paths and `wg show`: kernel names only. */
		if (!*arg || strlen(arg) >= 16 ||
		    strspn(arg, "abcdefghijklmnopqrstuvwxyz"
				"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-@:") != strlen(arg))
			return gw_err(g, GW_USAGE, "bad interface name '%s'", arg);
		g->iface = arg;
		break;
	case G_BPFFS:
		if (strlen(arg) >= GW_PATH_MAX - 32)
			return gw_err(g, GW_USAGE, "--bpffs path too long");
		snprintf(g->pin_dir, sizeof(g->pin_dir), "%s", arg);
		break;
	case G_CTL_SOCK:
		if (!*arg || strlen(arg) >= 108) /* sun_path */
			return gw_err(g, GW_USAGE, "--control-socket: '%s' is not a socket path",
				      arg);
		snprintf(g->ctl_sock, sizeof(g->ctl_sock), "%s", arg);
		break;
	case G_JSON:
		g->json = true;
		break;
	case G_VERBOSE:
		g->verbose = true;
		break;
	}
	return 0;
}

/* Build getopt_long's arrays from @a then @b; the index of an option in the
 * concatenation is its .val + 256 so that short options stay distinct. */
static int build_getopt(const struct gw_opt *a, const struct gw_opt *b, struct option *lo, char *so,
			size_t so_len)
{
	const struct gw_opt *tabs[2] = { a, b };
	size_t n = 0, s = 0, t, i;

	so[s++] = '+';
	for (t = 0; t < 2; t++) {
		for (i = 0; i < opt_count(tabs[t]); i++) {
			const struct gw_opt *o = &tabs[t][i];
			int val = (int)(t * 128 + i) + 256;

			lo[n++] = (struct option){ o->name, o->has_arg, NULL, val };
			if (o->short_name && s + 3 < so_len) {
				so[s++] = o->short_name;
				if (o->has_arg == required_argument)
					so[s++] = ':';
			}
		}
	}
	lo[n] = (struct option){ 0 };
	so[s] = 0;
	return 0;
}

static int short_to_val(const struct gw_opt *a, const struct gw_opt *b, int c)
{
	const struct gw_opt *tabs[2] = { a, b };
	size_t t, i;

	for (t = 0; t < 2; t++)
		for (i = 0; i < opt_count(tabs[t]); i++)
			if (tabs[t][i].short_name == c)
				return (int)(t * 128 + i) + 256;
	return -1;
}

const char *gw_optional_value(struct gw *g)
{
	const char *s;

	if (optarg)
		return optarg;
	if (optind >= g->cmd_argc)
		return NULL;
	s = g->cmd_argv[optind];
	if (s[0] < '0' || s[0] > '9')
		return NULL;
	optind++;
	return s;
}

/*
 * Parse options of @c (with the global ones mixed in) and run it. GNU getopt
 * permutes, so options may follow positional arguments ("explain ... 5432
 * --sport 40000"); positional arguments end up at argv[optind..].
 */
static int run_cmd(struct gw *g, const struct gw_cmd *c, int argc, char **argv)
{
	struct option lo[64];
	char so[64];
	void *state = NULL;
	int opt, err = 0;

	build_getopt(global_opts, c->opts, lo, so, sizeof(so));
	memmove(so, so + 1, strlen(so)); /* permute: no leading '+' here */
	if (c->state_size) {
		state = calloc(1, c->state_size);
		if (!state)
			return gw_err(g, GW_ERR, "out of memory");
	}
	/* 0, not 1: glibc re-reads the optstring's ordering mode only then (main
	 * parsed in '+' mode, commands permute). */
	optind = 0;
	opterr = 0;
	g->cmd_argc = argc;
	g->cmd_argv = argv;
	while ((opt = getopt_long(argc, argv, so, lo, NULL)) != -1) {
		int idx;

		if (opt == '?') {
			err = gw_err(g, GW_USAGE,
				     "%s: unknown option or missing value: %s (see "
				     "'nanami-gwctl %s --help')",
				     c->name, argv[optind - 1], c->name);
			goto out;
		}
		if (opt < 256)
			opt = short_to_val(global_opts, c->opts, opt);
		idx = opt - 256;
		if (idx == G_HELP) {
			cmd_usage(stdout, c);
			goto out;
		}
		if (idx < 128)
			err = global_opt(g, idx, optarg);
		else
			err = c->on_opt ? c->on_opt(g, state, idx - 128, optarg) : 0;
		if (err)
			goto out;
	}
	if (!g->pin_dir[0])
		nn_default_pin_dir(g->iface, g->pin_dir, sizeof(g->pin_dir));
	if (!g->ctl_sock[0])
		nn_default_ctl_sock(g->iface, g->ctl_sock, sizeof(g->ctl_sock));
	err = c->run(g, state, argc - optind, argv + optind);
out:
	free(state);
	return err;
}

static int silent_xdp_print(enum libxdp_print_level level, const char *fmt, va_list ap)
{
	(void)level;
	(void)fmt;
	(void)ap;
	return 0;
}

int main(int argc, char **argv)
{
	struct gw g = { .prog = argv[0], .iface = "wg0" };
	struct option lo[16];
	char so[16];
	int opt, i, err;
	size_t k;

	/* -j anywhere: usage errors found before it is parsed are JSON too. */
	for (i = 1; i < argc; i++)
		if (!strcmp(argv[i], "-j") || !strcmp(argv[i], "--json"))
			g.json = true;
	for (k = 0; k < NN_M_COUNT; k++)
		g.fd[k] = -1;

	build_getopt(global_opts, NULL, lo, so, sizeof(so));
	opterr = 0;
	while ((opt = getopt_long(argc, argv, so, lo, NULL)) != -1) {
		if (opt == '?')
			return gw_err(&g, GW_USAGE,
				      "unknown option or missing value: %s (see "
				      "'nanami-gwctl --help')",
				      argv[optind - 1]);
		if (opt < 256)
			opt = short_to_val(global_opts, NULL, opt);
		if (opt - 256 == G_HELP) {
			usage(stdout);
			return GW_OK;
		}
		err = global_opt(&g, opt - 256, optarg);
		if (err)
			return err;
	}
	nn_log_set_level(g.verbose ? NN_LOG_DEBUG : NN_LOG_ERR);
	nn_log_libbpf();
	if (!g.verbose)
		libxdp_set_print(silent_xdp_print);
	if (optind >= argc) {
		usage(stderr);
		return gw_err(&g, GW_USAGE, "no object given");
	}
	for (k = 0; k < N_CMDS; k++) {
		if (strcmp(argv[optind], cmds[k]->name))
			continue;
		/* bpftool style "devices show" / "flows list" means the same. */
		if (optind + 1 < argc &&
		    (!strcmp(argv[optind + 1], "show") || !strcmp(argv[optind + 1], "list")))
			optind++;
		err = run_cmd(&g, cmds[k], argc - optind, argv + optind);
		gw_pins_close(&g);
		return err;
	}
	return gw_err(&g, GW_USAGE, "unknown object '%s' (see 'nanami-gwctl --help')",
		      argv[optind]);
}
