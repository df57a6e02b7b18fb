// SPDX-License-Identifier: GPL-2.0
/*
 * reconcile.c - diff the desired peer set (from struct nn_policy) against
 * what wg0 reports and apply the difference in one set operation (through
 * either backend, backend.h).
 *
 * The comparison is exact on what we configure (keys, AllowedIPs as a set,
 * keepalive, endpoint when the snapshot gives one) and ignores what the
 * daemon maintains itself: counters, handshakes, and the endpoint it learns
 * from a roaming client whose snapshot endpoint is null. Changing the latter
 * would break every roaming device on each resync.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/fsutil.h"
#include "lib/iface.h"
#include "lib/log.h"
#include "wg/reconcile.h"
#include "wg/reconcile_int.h"

/* What to do with one peer, kept so logs are written only once applied. */
enum act_kind { ACT_ADD, ACT_REMOVE, ACT_ROTATE, ACT_FIX };

struct act {
	enum act_kind kind;
	const struct want *w;	       /* ADD, ROTATE, FIX */
	const struct nn_wg_peer *live; /* REMOVE, ROTATE (old), FIX */
	unsigned int what;	       /* FIX: WHAT_* */
};

#define WHAT_AIPS 1u
#define WHAT_ENDPOINT 2u
#define WHAT_KEEPALIVE 4u

unsigned int nn_wg_counters_changes(const struct nn_wg_counters *c)
{
	return c->added + c->removed + c->updated + c->allowed_ips_repaired + c->keys_rotated +
	       c->private_key_set + c->listen_port_set + c->mtu_set;
}

/* ---- private key file ---- */

static int key_read(const char *path, uint8_t priv[NN_KEY_LEN])
{
	char buf[128];
	struct stat st;
	ssize_t n;
	int fd, err = 0;

	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st)) {
		err = -errno;
		goto out;
	}
	/* A private key others can read is as good as leaked: refuse it
	 * rather than use it, as ssh does. */
	if (!S_ISREG(st.st_mode) || (st.st_mode & 077)) {
		nn_log_err("event=wg_key_rejected path=%s reason=\"not a regular file of mode "
			   "0600 (mode %04o)\"",
			   path, (unsigned int)(st.st_mode & 07777));
		err = -EPERM;
		goto out;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	if (n < 0) {
		err = -errno;
		goto out;
	}
	buf[n] = '\0';
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	if (nn_key_from_base64(buf, priv)) {
		nn_log_err("event=wg_key_rejected path=%s reason=\"not a base64 32-byte key\"",
			   path);
		err = -EINVAL;
	}
out:
	explicit_bzero(buf, sizeof(buf));
	close(fd);
	return err;
}

static int key_create(const char *path, uint8_t priv[NN_KEY_LEN])
{
	char tmp[PATH_MAX + 32], b64[NN_KEY_B64_SIZE + 1];
	int fd, err;
	size_t len;

	err = nn_wg_generate_private_key(priv);
	if (err)
		return err;
	nn_key_to_base64(priv, b64);
	len = strlen(b64);
	b64[len++] = '\n';
	snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid());
	unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		err = -errno;
		goto out;
	}
	/* The umask can only narrow 0600, but make the mode explicit. */
	errno = 0;
	if (fchmod(fd, 0600) || write(fd, b64, len) != (ssize_t)len || fsync(fd)) {
		err = errno ? -errno : -EIO;
		close(fd);
		goto out_unlink;
	}
	close(fd);
	/* link() rather than rename(): if another process created the key in
	 * the meantime, keep theirs (EEXIST) instead of replacing it. */
	if (link(tmp, path)) {
		err = -errno;
		goto out_unlink;
	}
	err = nn_fsync_dir_of(path);
out_unlink:
	unlink(tmp);
out:
	explicit_bzero(b64, sizeof(b64));
	return err;
}

int nn_wg_key_file_load(const char *path, uint8_t priv[NN_KEY_LEN], bool *created)
{
	int err;

	*created = false;
	err = key_read(path, priv);
	if (err != -ENOENT)
		return err;
	err = key_create(path, priv);
	if (err == -EEXIST)
		return key_read(path, priv);
	if (!err)
		*created = true;
	return err;
}

int nn_wg_open(struct nn_wg *w, const struct nn_wg_opts *o)
{
	int err, r;

	enum nn_wg_mode mode = o->mode;
	char why[512] = "";

	memset(w, 0, sizeof(*w));
	if (mode == NN_WG_MODE_AUTO) {
		err = nn_wg_mode_resolve(o->iface ? o->iface : "", o->sockdir, &mode, why,
					 sizeof(why));
		if (!err && mode == NN_WG_MODE_NONE)
			err = -EOPNOTSUPP;
		if (err) {
			nn_log_err("event=wg_open_failed iface=%s error=\"%s\"",
				   o->iface ? o->iface : "", why);
			return err;
		}
	}
	err = nn_wg_backend_init(&w->be, mode, o->iface, o->sockdir);
	if (err) {
		nn_log_err("event=wg_open_failed iface=%s mode=%s error=\"%s\"",
			   o->iface ? o->iface : "", nn_wg_mode_name(mode), strerror(-err));
		return err;
	}
	if (o->timeout_ms > 0)
		w->be.uapi.timeout_ms = o->timeout_ms;
	if (o->total_timeout_ms > 0)
		w->be.uapi.total_timeout_ms = o->total_timeout_ms;
	snprintf(w->iface, sizeof(w->iface), "%s", o->iface);
	if (!o->state_dir || !*o->state_dir)
		return -EINVAL;
	if (o->key_path)
		r = snprintf(w->key_path, sizeof(w->key_path), "%s", o->key_path);
	else
		r = snprintf(w->key_path, sizeof(w->key_path), "%s/%s.key", o->state_dir, o->iface);
	if (r < 0 || (size_t)r >= sizeof(w->key_path))
		return -ENAMETOOLONG;
	if (mkdir(o->state_dir, 0700) && errno != EEXIST) {
		err = -errno;
		nn_log_err("event=wg_open_failed state_dir=%s error=\"%s\"", o->state_dir,
			   strerror(-err));
		return err;
	}
	err = nn_wg_key_file_load(w->key_path, w->private_key, &w->key_created);
	if (!err)
		err = nn_wg_public_key(w->private_key, w->public_key);
	if (err) {
		nn_log_err("event=wg_open_failed key=%s error=\"%s\"", w->key_path, strerror(-err));
		explicit_bzero(w->private_key, sizeof(w->private_key));
		return err;
	}
	nn_key_to_base64(w->public_key, w->public_key_b64);
	nn_log_info("event=%s iface=%s backend=%s path=%s public_key=%s",
		    w->key_created ? "wg_key_created" : "wg_key_loaded", w->iface, w->be.ops->name,
		    w->key_path, w->public_key_b64);
	return 0;
}

void nn_wg_close(struct nn_wg *w)
{
	explicit_bzero(w, sizeof(*w));
}

int nn_wg_set_private_key(struct nn_wg *w, const uint8_t priv[NN_KEY_LEN])
{
	struct nn_wg_device dev = { .flags = NN_WG_DEV_HAS_PRIVATE_KEY };
	uint8_t pub[NN_KEY_LEN];
	unsigned int ops = 0;
	int err;

	err = nn_wg_public_key(priv, pub);
	if (err)
		return err;
	memcpy(dev.private_key, priv, NN_KEY_LEN);
	err = nn_wg_backend_set(&w->be, &dev, &ops);
	explicit_bzero(dev.private_key, sizeof(dev.private_key));
	if (err) {
		nn_log_err("event=wg_apply_failed iface=%s what=private_key error=\"%s\"", w->iface,
			   strerror(-err));
		return err;
	}
	memcpy(w->private_key, priv, NN_KEY_LEN);
	memcpy(w->public_key, pub, NN_KEY_LEN);
	nn_key_to_base64(w->public_key, w->public_key_b64);
	return 0;
}

int nn_wg_read(const struct nn_wg *w, struct nn_wg_device *dev)
{
	return nn_wg_backend_get(&w->be, dev);
}

/* ---- desired state ---- */

static int key_cmp(const void *a, const void *b)
{
	return memcmp(a, b, NN_KEY_LEN);
}

static int want_cmp(const void *a, const void *b)
{
	return key_cmp(((const struct want *)a)->key, ((const struct want *)b)->key);
}

static int peer_cmp(const void *a, const void *b)
{
	return key_cmp(((const struct nn_wg_peer *)a)->public_key,
		       ((const struct nn_wg_peer *)b)->public_key);
}

static void aip_from_addr(struct nn_wg_allowedip *a, const uint8_t addr[NN_ADDR_LEN], bool v4)
{
	memset(a, 0, sizeof(*a));
	if (v4) {
		/* policy.h keeps IPv4 as IPv4-mapped IPv6; wg0 wants AF_INET. */
		a->family = AF_INET;
		a->cidr = 32;
		memcpy(a->addr, addr + 12, 4);
	} else {
		a->family = AF_INET6;
		a->cidr = 128;
		memcpy(a->addr, addr, 16);
	}
}

static int want_endpoint(struct want *w, const char *ep)
{
	if (!ep[0])
		return 0;
	/* Validated already (nn_js_endpoint); a failure here is a bug, and
	 * the peer is still configured, just without an endpoint. */
	if (nn_wg_endpoint_parse(ep, &w->endpoint)) {
		nn_log_warn("event=wg_endpoint_ignored peer=%s endpoint=\"%s\"", w->id, ep);
		return 0;
	}
	w->has_endpoint = true;
	return 0;
}

void nn_wg_want_device(struct want *w, const struct nn_device *d)
{
	memset(w, 0, sizeof(*w));
	w->id = d->id;
	w->kind = "device";
	memcpy(w->key, d->pubkey, NN_KEY_LEN);
	aip_from_addr(&w->aips[w->n_aips++], d->addr6, false);
	if (d->has_addr4)
		aip_from_addr(&w->aips[w->n_aips++], d->addr4, true);
	want_endpoint(w, d->endpoint);
	/* Persistent keepalive only toward a device the gateway can reach by
	 * itself (an endpoint in the snapshot). A roaming device keeps its
	 * NAT mapping open with its own keepalive (that is what its
	 * persistent_keepalive is for); set here, both WireGuards would
	 * start a handshake to every offline roaming device at once and
	 * retry it every 5 s, forever (an initiation costs two X25519: at
	 * 30k offline devices that saturated the 6.12 guest's CPUs). */
	if (d->keepalive > 0 && w->has_endpoint)
		w->keepalive = d->keepalive > 65535 ? 65535 : (uint16_t)d->keepalive;
}

/* Build and sort the desired peers; *out is NULL for none. */
static int build_want(const struct nn_wg *wg, const struct nn_policy *p, struct want **out,
		      size_t *n_out)
{
	struct want *v = calloc(p->n_devices + p->n_nodes + 1, sizeof(*v));
	size_t i, n = 0;

	if (!v)
		return -ENOMEM;
	for (i = 0; i < p->n_devices; i++) {
		const struct nn_device *d = &p->devices[i];
		struct want *w = &v[n];

		if (d->state != NN_ST_ACTIVE)
			continue;
		nn_wg_want_device(w, d);
		n++;
	}
	for (i = 0; i < p->n_nodes; i++) {
		const struct nn_node *nd = &p->nodes[i];
		struct want *w = &v[n];

		if (nd->state != NN_ST_ACTIVE || !strcmp(nd->id, p->node_id))
			continue;
		w->id = nd->id;
		w->kind = "node";
		memcpy(w->key, nd->pubkey, NN_KEY_LEN);
		aip_from_addr(&w->aips[w->n_aips++], nd->addr6, false);
		want_endpoint(w, nd->endpoint);
		n++;
	}
	qsort(v, n, sizeof(*v), want_cmp);
	/* Keys are unique after validation; drop repeats and our own key
	 * anyway: the daemon ignores a peer with its own public key, which
	 * would make every reconcile "change" it again. */
	for (i = 0; i < n;) {
		if ((i > 0 && !key_cmp(v[i].key, v[i - 1].key)) ||
		    !key_cmp(v[i].key, wg->public_key)) {
			nn_log_warn("event=wg_peer_skipped peer=%s reason=\"duplicate or own "
				    "public key\"",
				    v[i].id);
			memmove(&v[i], &v[i + 1], (n - i - 1) * sizeof(*v));
			n--;
			continue;
		}
		i++;
	}
	*out = v;
	*n_out = n;
	return 0;
}

/* ---- diff ---- */

static bool has_aip(const struct nn_wg_peer *lp, const struct nn_wg_allowedip *a)
{
	size_t i;

	for (i = 0; i < lp->n_allowed_ips; i++)
		if (nn_wg_allowedip_equal(&lp->allowed_ips[i], a))
			return true;
	return false;
}

/* Exactly the desired set: same size, every wanted entry present (the
 * daemon never reports one prefix twice). */
static bool aips_equal(const struct nn_wg_peer *lp, const struct want *w)
{
	size_t i;

	if (lp->n_allowed_ips != w->n_aips)
		return false;
	for (i = 0; i < w->n_aips; i++)
		if (!has_aip(lp, &w->aips[i]))
			return false;
	return true;
}

static unsigned int peer_diff(const struct nn_wg_peer *lp, const struct want *w)
{
	unsigned int what = 0;

	if (!aips_equal(lp, w))
		what |= WHAT_AIPS;
	if (w->has_endpoint && (!(lp->flags & NN_WG_PEER_HAS_ENDPOINT) ||
				!nn_wg_endpoint_equal(&lp->endpoint, &w->endpoint)))
		what |= WHAT_ENDPOINT;
	if (lp->keepalive != w->keepalive)
		what |= WHAT_KEEPALIVE;
	return what;
}

/* The full desired configuration of @w as one peer section. */
int nn_wg_put_want(struct nn_wg_device *chg, const struct want *w)
{
	struct nn_wg_peer *cp = nn_wg_device_add_peer(chg, w->key);
	size_t i;
	int err;

	if (!cp)
		return -ENOMEM;
	cp->flags = NN_WG_PEER_REPLACE_ALLOWEDIPS | NN_WG_PEER_HAS_KEEPALIVE;
	cp->keepalive = w->keepalive;
	if (w->has_endpoint) {
		cp->flags |= NN_WG_PEER_HAS_ENDPOINT;
		cp->endpoint = w->endpoint;
	}
	for (i = 0; i < w->n_aips; i++) {
		err = nn_wg_peer_add_allowedip(cp, &w->aips[i]);
		if (err)
			return err;
	}
	return 0;
}

int nn_wg_put_remove(struct nn_wg_device *chg, const uint8_t key[NN_KEY_LEN])
{
	struct nn_wg_peer *cp = nn_wg_device_add_peer(chg, key);

	if (!cp)
		return -ENOMEM;
	cp->flags = NN_WG_PEER_REMOVE;
	return 0;
}

/* Why a live key is not wanted: the policy has it disabled, or not at all. */
static const char *removal_reason(const struct nn_policy *p, const uint8_t key[NN_KEY_LEN],
				  const char **id)
{
	size_t i;

	for (i = 0; i < p->n_devices; i++)
		if (!key_cmp(p->devices[i].pubkey, key)) {
			*id = p->devices[i].id;
			return "disabled";
		}
	for (i = 0; i < p->n_nodes; i++)
		if (!key_cmp(p->nodes[i].pubkey, key)) {
			*id = p->nodes[i].id;
			return "disabled";
		}
	*id = "-";
	return "not_in_snapshot";
}

static void log_act(const struct nn_policy *p, const struct act *a)
{
	char k1[NN_KEY_B64_SIZE], k2[NN_KEY_B64_SIZE];
	const char *id, *why;

	switch (a->kind) {
	case ACT_ADD:
		nn_key_to_base64(a->w->key, k1);
		nn_log_info("event=wg_peer_added peer=%s kind=%s public_key=%s", a->w->id,
			    a->w->kind, k1);
		break;
	case ACT_REMOVE:
		nn_key_to_base64(a->live->public_key, k1);
		why = removal_reason(p, a->live->public_key, &id);
		nn_log_info("event=wg_peer_removed peer=%s public_key=%s reason=%s", id, k1, why);
		break;
	case ACT_ROTATE:
		nn_key_to_base64(a->live->public_key, k1);
		nn_key_to_base64(a->w->key, k2);
		nn_log_info("event=wg_key_rotated peer=%s kind=%s old_public_key=%s "
			    "new_public_key=%s",
			    a->w->id, a->w->kind, k1, k2);
		break;
	case ACT_FIX:
		nn_log_info("event=wg_drift_repaired peer=%s kind=%s what=%s%s%s%s%s", a->w->id,
			    a->w->kind, a->what & WHAT_AIPS ? "allowed_ips" : "",
			    (a->what & WHAT_AIPS) && (a->what & ~WHAT_AIPS) ? "," : "",
			    a->what & WHAT_ENDPOINT ? "endpoint" : "",
			    (a->what & WHAT_ENDPOINT) && (a->what & WHAT_KEEPALIVE) ? "," : "",
			    a->what & WHAT_KEEPALIVE ? "keepalive" : "");
		break;
	}
}

/*
 * Plan: walk the two key-sorted lists. Then pair each wanted-but-missing
 * peer with an unwanted live peer holding its overlay_ipv6/128: that is a
 * rotation (the control plane changed the key, or someone did by hand).
 */
static int plan(const struct want *v, size_t nv, const struct nn_wg_device *live,
		struct nn_wg_device *chg, struct act *acts, size_t *n_acts,
		struct nn_wg_counters *c)
{
	const struct nn_wg_peer **gone = NULL;
	const struct want **missing = NULL;
	size_t i = 0, j = 0, ng = 0, nm = 0, na = 0, k;
	int err = -ENOMEM, cmp;

	gone = calloc(live->n_peers + 1, sizeof(*gone));
	missing = calloc(nv + 1, sizeof(*missing));
	if (!gone || !missing)
		goto out;
	while (i < nv || j < live->n_peers) {
		if (i == nv)
			cmp = 1;
		else if (j == live->n_peers)
			cmp = -1;
		else
			cmp = key_cmp(v[i].key, live->peers[j].public_key);
		if (cmp < 0) {
			missing[nm++] = &v[i++];
		} else if (cmp > 0) {
			gone[ng++] = &live->peers[j++];
		} else {
			unsigned int what = peer_diff(&live->peers[j], &v[i]);

			if (what)
				acts[na++] = (struct act){ ACT_FIX, &v[i], &live->peers[j], what };
			i++;
			j++;
		}
	}
	for (i = 0; i < nm; i++) {
		const struct nn_wg_peer *old = NULL;

		for (k = 0; k < ng && !old; k++)
			if (gone[k] && has_aip(gone[k], &missing[i]->aips[0])) {
				old = gone[k];
				gone[k] = NULL;
			}
		acts[na++] = (struct act){ old ? ACT_ROTATE : ACT_ADD, missing[i], old, 0 };
	}
	for (k = 0; k < ng; k++)
		if (gone[k])
			acts[na++] = (struct act){ ACT_REMOVE, NULL, gone[k], 0 };

	/* Removals first (plain and rotated-away keys), then new and fixed
	 * peers: the daemon applies in order, and a new peer taking over the
	 * same /128 must find it released. */
	for (k = 0; k < na; k++) {
		if (acts[k].kind == ACT_REMOVE || acts[k].kind == ACT_ROTATE) {
			err = nn_wg_put_remove(chg, acts[k].live->public_key);
			if (err)
				goto out;
		}
	}
	for (k = 0; k < na; k++) {
		switch (acts[k].kind) {
		case ACT_ADD:
			c->added++;
			break;
		case ACT_REMOVE:
			c->removed++;
			continue;
		case ACT_ROTATE:
			c->keys_rotated++;
			break;
		case ACT_FIX:
			if (acts[k].what & WHAT_AIPS)
				c->allowed_ips_repaired++;
			if (acts[k].what & (WHAT_ENDPOINT | WHAT_KEEPALIVE))
				c->updated++;
			break;
		}
		err = nn_wg_put_want(chg, acts[k].w);
		if (err)
			goto out;
	}
	*n_acts = na;
	err = 0;
out:
	free(gone);
	free(missing);
	return err;
}

/* Set @lp's configuration to what @w wants (its counters stay). */
static int peer_take_want(struct nn_wg_peer *lp, const struct want *w)
{
	size_t i;
	int err;

	lp->n_allowed_ips = 0;
	for (i = 0; i < w->n_aips; i++) {
		err = nn_wg_peer_add_allowedip(lp, &w->aips[i]);
		if (err)
			return err;
	}
	lp->keepalive = w->keepalive;
	if (w->has_endpoint) {
		lp->flags |= NN_WG_PEER_HAS_ENDPOINT;
		lp->endpoint = w->endpoint;
	}
	return 0;
}

/*
 * Turn @live (as read) into wg0 after the set went in, in place, and move it
 * to @after: peers removed or rotated away dropped, fixed ones given their
 * desired configuration, added and rotated-in ones appended without
 * counters. The private key is not carried over (nobody needs it there).
 */
static int build_after(struct nn_wg_device *live, const struct act *acts, size_t na,
		       struct nn_wg_device *after)
{
	bool *drop = calloc(live->n_peers + 1, sizeof(*drop));
	size_t i, j, k;
	int err = 0;

	if (!drop)
		return -ENOMEM;
	for (k = 0; k < na && !err; k++) {
		size_t at = acts[k].live ? (size_t)(acts[k].live - live->peers) : 0;

		if (acts[k].kind == ACT_REMOVE || acts[k].kind == ACT_ROTATE)
			drop[at] = true;
		else if (acts[k].kind == ACT_FIX)
			err = peer_take_want(&live->peers[at], acts[k].w);
	}
	for (i = 0, j = 0; i < live->n_peers; i++) {
		if (drop[i]) {
			free(live->peers[i].allowed_ips);
			continue;
		}
		live->peers[j++] = live->peers[i];
	}
	live->n_peers = j;
	free(drop);
	explicit_bzero(live->private_key, sizeof(live->private_key));
	*after = *live;
	memset(live, 0, sizeof(*live));
	for (k = 0; k < na && !err; k++) {
		struct nn_wg_peer *np;

		if (acts[k].kind != ACT_ADD && acts[k].kind != ACT_ROTATE)
			continue;
		np = nn_wg_device_add_peer(after, acts[k].w->key);
		err = np ? peer_take_want(np, acts[k].w) : -ENOMEM;
	}
	if (err)
		nn_wg_device_free(after);
	return err;
}

int nn_wg_reconcile(struct nn_wg *wg, const struct nn_policy *p, struct nn_wg_counters *c)
{
	return nn_wg_reconcile_dev(wg, p, c, NULL);
}

int nn_wg_reconcile_dev(struct nn_wg *wg, const struct nn_policy *p, struct nn_wg_counters *c,
			struct nn_wg_device *after)
{
	struct nn_wg_device live = {}, chg = {};
	struct nn_iface_info info;
	struct want *v = NULL;
	struct act *acts = NULL;
	unsigned int mtu = 0;
	size_t nv = 0, na = 0, k;
	const char *stage = "get";
	int err;

	memset(c, 0, sizeof(*c));
	if (after)
		memset(after, 0, sizeof(*after));
	err = nn_wg_backend_get(&wg->be, &live);
	if (err)
		goto fail;
	stage = "plan";
	err = build_want(wg, p, &v, &nv);
	if (err)
		goto out_live;
	acts = calloc(nv + live.n_peers + 1, sizeof(*acts));
	if (!acts) {
		err = -ENOMEM;
		goto out_live;
	}
	if (live.n_peers) /* an empty device has no array: qsort(NULL) is UB */
		qsort(live.peers, live.n_peers, sizeof(*live.peers), peer_cmp);

	if (!(live.flags & NN_WG_DEV_HAS_PRIVATE_KEY) ||
	    memcmp(live.private_key, wg->private_key, NN_KEY_LEN)) {
		chg.flags |= NN_WG_DEV_HAS_PRIVATE_KEY;
		memcpy(chg.private_key, wg->private_key, NN_KEY_LEN);
		c->private_key_set = true;
	}
	if (live.listen_port != p->gw.listen_port) {
		chg.flags |= NN_WG_DEV_HAS_LISTEN_PORT;
		chg.listen_port = p->gw.listen_port;
		c->listen_port_set = true;
	}
	err = plan(v, nv, &live, &chg, acts, &na, c);
	if (err)
		goto out_live;

	if (chg.flags || chg.n_peers) {
		unsigned int n_ops = 0;

		stage = "set";
		err = nn_wg_backend_set(&wg->be, &chg, &n_ops);
		if (err)
			goto out_live;
		c->set_ops = n_ops;
		c->set_peers = (unsigned int)chg.n_peers;
		if (c->private_key_set)
			nn_log_info("event=wg_private_key_set iface=%s public_key=%s", wg->iface,
				    wg->public_key_b64);
		if (c->listen_port_set)
			nn_log_info("event=wg_listen_port_set iface=%s old=%u new=%u", wg->iface,
				    live.listen_port, p->gw.listen_port);
		for (k = 0; k < na; k++)
			log_act(p, &acts[k]);
	}

	stage = "mtu";
	err = nn_iface_get(wg->iface, &info);
	mtu = info.mtu;
	if (!err && mtu != p->gw.mtu) {
		err = nn_iface_set_mtu(wg->iface, p->gw.mtu);
		if (!err) {
			c->mtu_set = true;
			nn_log_info("event=wg_mtu_set iface=%s old=%u new=%u", wg->iface, mtu,
				    p->gw.mtu);
		}
	}
	c->peers = (unsigned int)nv;
	if (after) {
		/* The MTU step's error is not the device's: the view stands. */
		int e2 = build_after(&live, acts, na, after);

		if (e2)
			nn_log_warn("event=wg_view_failed iface=%s error=\"%s\"", wg->iface,
				    strerror(-e2));
		if (!e2 && err)
			nn_wg_device_free(after);
		else if (!e2)
			after->listen_port = p->gw.listen_port;
	}
out_live:
	nn_wg_device_free(&live);
	nn_wg_device_free(&chg);
	free(v);
	free(acts);
fail:
	if (err) {
		nn_log_err("event=wg_apply_failed iface=%s stage=%s %s=%s error=\"%s\" backend=%s",
			   wg->iface, stage, wg->be.ops->where, wg->be.where, strerror(-err),
			   wg->be.ops->name);
		/* wireguard-go refuses a peer past MaxPeers and drops the
		 * connection: say why, since "Broken pipe" does not. */
		if (!strcmp(stage, "set") && !strcmp(wg->be.ops->name, "uapi") &&
		    nv > NN_WG_GO_MAX_PEERS)
			nn_log_err("event=wg_apply_failed iface=%s peers=%zu reason=\"wireguard-go "
				   "holds at most %u peers: use the kernel backend (--wg genl)\"",
				   wg->iface, nv, NN_WG_GO_MAX_PEERS);
		/* Past the set, the peer changes are in place: keep counting
		 * them; before it, nothing was changed. */
		if (!c->set_ops)
			memset(c, 0, sizeof(*c));
	}
	return err;
}
