// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nftables/libnftables.h>

#include "gatewayd/nat.h"
#include "lib/addr.h"
#include "lib/log.h"

void nn_nat_table(const char *iface, char *buf, size_t len)
{
	size_t i;

	snprintf(buf, len, "nanami_%s", iface);
	/* nft identifiers: keep [A-Za-z0-9_]. */
	for (i = 0; buf[i]; i++)
		if (!((buf[i] >= 'a' && buf[i] <= 'z') || (buf[i] >= 'A' && buf[i] <= 'Z') ||
		      (buf[i] >= '0' && buf[i] <= '9')))
			buf[i] = '_';
}

static int nft_run(const char *cmd, const char *what, bool quiet_missing)
{
	struct nft_ctx *ctx = nft_ctx_new(NFT_CTX_DEFAULT);
	int err = 0;

	if (!ctx)
		return -ENOMEM;
	nft_ctx_buffer_output(ctx);
	nft_ctx_buffer_error(ctx);
	if (nft_run_cmd_from_buffer(ctx, cmd)) {
		const char *e = nft_ctx_get_error_buffer(ctx);

		err = -EINVAL;
		if (!(quiet_missing && e && strstr(e, "No such file")))
			nn_log_err("event=nat what=%s error=\"%.*s\"", what,
				   (int)strcspn(e ? e : "", "\n"), e ? e : "");
		else
			err = 0;
	}
	nft_ctx_free(ctx);
	return err;
}

static int write_sysctl(const char *path, const char *val)
{
	FILE *f = fopen(path, "w");
	int err = 0;

	if (!f)
		return -errno;
	if (fputs(val, f) < 0)
		err = -EIO;
	if (fclose(f) && !err)
		err = -errno;
	return err;
}

/* Append "p1, p2" (prefix text) to @b at *@o when it fits. */
static void add_prefix(const struct nn_prefix *x, char *b, size_t len, size_t *o, int *n)
{
	char s[NN_PREFIX_STRLEN];

	nn_prefix_format(x, s, sizeof(s));
	if (*o < len)
		*o += snprintf(b + *o, len - *o, "%s%s", (*n)++ ? ", " : "", s);
}

static bool is_v4(const struct nn_prefix *x)
{
	return x->len >= 96 && nn_addr_is_v4mapped(x->addr);
}

/*
 * The overlay prefixes of one family ("{ a, b }" in @src) and every
 * private destination of that family: overlay and resource prefixes
 * ("{ ... }" in @priv). Only what leaves for the internet is masqueraded:
 * resources see the real overlay source and answer through the gateway.
 * Returns the number of overlay prefixes (0: no rule for this family).
 */
static int family_sets(const struct nn_policy *p, bool v4, char *src, char *priv, size_t len)
{
	size_t i, k, os = 0, op = 0;
	int ns = 0, np = 0;

	for (i = 0; i < p->gw.n_overlay_prefixes; i++) {
		const struct nn_prefix *x = &p->gw.overlay_prefixes[i];

		if (is_v4(x) != v4)
			continue;
		add_prefix(x, src, len, &os, &ns);
		add_prefix(x, priv, len, &op, &np);
	}
	for (i = 0; i < p->n_resources; i++)
		for (k = 0; k < p->resources[i].n_prefixes; k++)
			if (is_v4(&p->resources[i].prefixes[k]) == v4)
				add_prefix(&p->resources[i].prefixes[k], priv, len, &op, &np);
	if (os >= len || op >= len)
		return -E2BIG;
	return ns;
}

int nn_nat_apply(const char *iface, const struct nn_policy *p)
{
	char table[64], src[2048], priv[4096], cmd[8192];
	size_t o;
	int err, fam;

	nn_nat_table(iface, table, sizeof(table));
	if (!(p->gw.roles & NN_ROLE_EXIT))
		return nn_nat_remove(iface);
	/* One transaction: (re)create, flush, fill. Nothing ever sees a
	 * half-built table. Sets use interval flags so that nested prefixes
	 * are merged by nft itself. */
	o = snprintf(cmd, sizeof(cmd),
		     "add table inet %s\n"
		     "flush table inet %s\n"
		     "add chain inet %s postrouting { type nat hook postrouting priority srcnat; "
		     "policy accept; }\n",
		     table, table, table);
	for (fam = 0; fam < 2; fam++) {
		int n = family_sets(p, fam == 0, src, priv, sizeof(src));

		if (n < 0)
			return n;
		if (!n || o >= sizeof(cmd))
			continue;
		o += snprintf(cmd + o, sizeof(cmd) - o,
			      "add rule inet %s postrouting iifname \"%s\" oifname != \"%s\" "
			      "%s saddr { %s } %s daddr != { %s } masquerade\n",
			      table, iface, iface, fam == 0 ? "ip" : "ip6", src,
			      fam == 0 ? "ip" : "ip6", priv);
	}
	if (o >= sizeof(cmd))
		return -E2BIG;
	err = nft_run(cmd, "apply", false);
	if (err)
		return err;
	err = write_sysctl("/proc/sys/net/ipv4/ip_forward", "1");
	if (!err)
		err = write_sysctl("/proc/sys/net/ipv6/conf/all/forwarding", "1");
	if (err)
		nn_log_err("event=nat what=forwarding error=\"%s\"", strerror(-err));
	return err;
}

int nn_nat_remove(const char *iface)
{
	char table[64], cmd[128];

	nn_nat_table(iface, table, sizeof(table));
	snprintf(cmd, sizeof(cmd), "delete table inet %s\n", table);
	return nft_run(cmd, "remove", true);
}
