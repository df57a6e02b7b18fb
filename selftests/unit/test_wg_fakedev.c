// SPDX-License-Identifier: GPL-2.0
/*
 * test_wg_fakedev.c - nn_wg_reconcile_dev() (wg/reconcile.h) against a
 * fake WireGuard backend, over 400 seeded random one-step changes at 300
 * peers: revocations, re-enables, key rotations, devices dropped from the
 * snapshot, and changes made by hand on the device (a stray peer,
 * AllowedIPs widened, keepalive or a fixed endpoint changed).
 *
 * The fake keeps a device and applies each set as the cross-platform
 * userspace API (wireguard.com/xplatform) says: remove=true drops the peer;
 * otherwise the peer is created if new, replace_allowed_ips clears its
 * list, each allowed_ip moves the prefix to it from any other peer, and
 * keepalive and endpoint are written when given; counters stay. Gets come
 * back in a shuffled order (wireguard-go lists peers in Go map order).
 *
 * After every step, from the step itself and the overlay spec's desired
 * state (every active device: its key, exactly /128 (+ /32), its keepalive,
 * its endpoint when given; every active node but this one: /128):
 *   - the set carried exactly the peers the step touched (none, one, or a
 *     rotation's old and new key): "a one-peer change touches one peer";
 *   - the device is exactly the desired state;
 *   - the view handed over equals the device after the set, counters of
 *     untouched peers included (the metrics page reads nothing else).
 * And a set over "uapi" that fails past wireguard-go's 65,536 peers says so.
 */
#include <errno.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/iface.h"
#include "lib/log.h"
#include "nanami_abi.h"
#include "wg/reconcile.h"
#include "xorshift.h"

#define N_DEV 300
#define N_STEPS 400
#define MAX_TOUCH 4

static uint32_t rng = 0x13c0ffee;

/* ---- the fake device ---- */

static struct nn_wg_device fake;
static unsigned int sets, last_set_peers;
static uint8_t touched[MAX_TOUCH * 4][NN_KEY_LEN];
static size_t n_touched;

static struct nn_wg_peer *fake_find(const uint8_t key[NN_KEY_LEN])
{
	size_t i;

	for (i = 0; i < fake.n_peers; i++)
		if (!memcmp(fake.peers[i].public_key, key, NN_KEY_LEN))
			return &fake.peers[i];
	return NULL;
}

static void fake_drop_aip(const struct nn_wg_allowedip *a)
{
	size_t i, j;

	for (i = 0; i < fake.n_peers; i++) {
		struct nn_wg_peer *p = &fake.peers[i];

		for (j = 0; j < p->n_allowed_ips; j++)
			if (nn_wg_allowedip_equal(&p->allowed_ips[j], a)) {
				p->allowed_ips[j] = p->allowed_ips[--p->n_allowed_ips];
				break;
			}
	}
}

static void fake_remove(const uint8_t key[NN_KEY_LEN])
{
	struct nn_wg_peer *p = fake_find(key);

	if (!p)
		return;
	free(p->allowed_ips);
	*p = fake.peers[--fake.n_peers];
}

/* One peer section, as the protocol applies it. */
static void fake_apply_peer(const struct nn_wg_peer *s)
{
	struct nn_wg_peer *p;
	size_t j;

	if (s->flags & NN_WG_PEER_REMOVE) {
		fake_remove(s->public_key);
		return;
	}
	p = fake_find(s->public_key);
	if (!p) {
		p = nn_wg_device_add_peer(&fake, s->public_key);
		assert_non_null(p);
	}
	if (s->flags & NN_WG_PEER_HAS_ENDPOINT) {
		p->flags |= NN_WG_PEER_HAS_ENDPOINT;
		p->endpoint = s->endpoint;
	}
	if (s->flags & NN_WG_PEER_HAS_KEEPALIVE)
		p->keepalive = s->keepalive;
	if (s->flags & NN_WG_PEER_REPLACE_ALLOWEDIPS)
		p->n_allowed_ips = 0;
	for (j = 0; j < s->n_allowed_ips; j++) {
		fake_drop_aip(&s->allowed_ips[j]);
		p = fake_find(s->public_key);
		assert_int_equal(nn_wg_peer_add_allowedip(p, &s->allowed_ips[j]), 0);
	}
}

static int fake_get(const struct nn_wg_backend *b, struct nn_wg_device *dev)
{
	size_t i, j, *order = calloc(fake.n_peers + 1, sizeof(*order));

	(void)b;
	assert_non_null(order);
	memset(dev, 0, sizeof(*dev));
	dev->flags = fake.flags;
	memcpy(dev->private_key, fake.private_key, NN_KEY_LEN);
	dev->listen_port = fake.listen_port;
	for (i = 0; i < fake.n_peers; i++)
		order[i] = i;
	for (i = fake.n_peers; i > 1; i--) {
		size_t k = nn_xorshift32(&rng) % i, t = order[i - 1];

		order[i - 1] = order[k];
		order[k] = t;
	}
	for (i = 0; i < fake.n_peers; i++) {
		const struct nn_wg_peer *s = &fake.peers[order[i]];
		struct nn_wg_peer *p = nn_wg_device_add_peer(dev, s->public_key);

		assert_non_null(p);
		p->flags = s->flags & NN_WG_PEER_HAS_ENDPOINT;
		p->endpoint = s->endpoint;
		p->keepalive = s->keepalive;
		p->rx_bytes = s->rx_bytes;
		p->tx_bytes = s->tx_bytes;
		p->last_handshake_sec = s->last_handshake_sec;
		for (j = 0; j < s->n_allowed_ips; j++)
			assert_int_equal(nn_wg_peer_add_allowedip(p, &s->allowed_ips[j]), 0);
	}
	free(order);
	return 0;
}

static int fake_set(const struct nn_wg_backend *b, const struct nn_wg_device *dev,
		    unsigned int *n_ops)
{
	size_t i;

	(void)b;
	sets++;
	last_set_peers = (unsigned int)dev->n_peers;
	if (dev->flags & NN_WG_DEV_HAS_PRIVATE_KEY) {
		fake.flags |= NN_WG_DEV_HAS_PRIVATE_KEY;
		memcpy(fake.private_key, dev->private_key, NN_KEY_LEN);
	}
	if (dev->flags & NN_WG_DEV_HAS_LISTEN_PORT)
		fake.listen_port = dev->listen_port;
	for (i = 0; i < dev->n_peers; i++) {
		if (n_touched < sizeof(touched) / sizeof(touched[0]))
			memcpy(touched[n_touched++], dev->peers[i].public_key, NN_KEY_LEN);
		fake_apply_peer(&dev->peers[i]);
	}
	*n_ops = 1;
	return 0;
}

static const struct nn_wg_ops fake_ops = { "fake", "fake", fake_get, fake_set };

/* ---- the policy ---- */

static struct nn_device devs[N_DEV];
static struct nn_node nodes[2];
static struct nn_policy pol;
static struct nn_wg wg;

static void rand_key(uint8_t key[NN_KEY_LEN])
{
	size_t i;

	for (i = 0; i < NN_KEY_LEN; i++)
		key[i] = (uint8_t)nn_xorshift32(&rng);
}

static void addr6(uint8_t out[NN_ADDR_LEN], unsigned int net, unsigned int i)
{
	memset(out, 0, NN_ADDR_LEN);
	out[0] = 0xfd;
	out[1] = (uint8_t)net;
	out[14] = (uint8_t)(i >> 8);
	out[15] = (uint8_t)i;
}

static void setup_policy(unsigned int mtu)
{
	size_t i;

	for (i = 0; i < N_DEV; i++) {
		struct nn_device *d = &devs[i];

		snprintf(d->id, sizeof(d->id), "d%zu", i);
		rand_key(d->pubkey);
		addr6(d->addr6, 1, (unsigned int)i + 2);
		if (i % 3 == 0) {
			/* IPv4-mapped 100.64.x.y */
			d->has_addr4 = true;
			d->addr4[10] = d->addr4[11] = 0xff;
			d->addr4[12] = 100;
			d->addr4[13] = 64;
			d->addr4[14] = (uint8_t)(i >> 8);
			d->addr4[15] = (uint8_t)i;
		}
		d->keepalive = i % 2 ? 25 : -1;
		if (i % 50 == 7)
			snprintf(d->endpoint, sizeof(d->endpoint), "[2001:db8::%zx]:51820", i);
		d->state = i % 10 == 9 ? NN_ST_DISABLED : NN_ST_ACTIVE;
	}
	snprintf(nodes[0].id, sizeof(nodes[0].id), "gw-self");
	memcpy(nodes[0].pubkey, wg.public_key, NN_KEY_LEN);
	nodes[0].state = NN_ST_ACTIVE;
	snprintf(nodes[1].id, sizeof(nodes[1].id), "gw-other");
	rand_key(nodes[1].pubkey);
	addr6(nodes[1].addr6, 0, 2);
	snprintf(nodes[1].endpoint, sizeof(nodes[1].endpoint), "192.0.2.1:51820");
	nodes[1].state = NN_ST_ACTIVE;
	snprintf(pol.node_id, sizeof(pol.node_id), "gw-self");
	pol.devices = devs;
	pol.n_devices = N_DEV;
	pol.nodes = nodes;
	pol.n_nodes = 2;
	pol.gw.listen_port = 51820;
	pol.gw.mtu = (uint16_t)mtu;
}

/* ---- the oracle ---- */

static void want_aip(struct nn_wg_allowedip *a, const uint8_t *addr, bool v4)
{
	memset(a, 0, sizeof(*a));
	a->family = v4 ? AF_INET : AF_INET6;
	a->cidr = v4 ? 32 : 128;
	memcpy(a->addr, v4 ? addr + 12 : addr, v4 ? 4 : 16);
}

static bool peer_has(const struct nn_wg_peer *p, const struct nn_wg_allowedip *a)
{
	size_t j;

	for (j = 0; j < p->n_allowed_ips; j++)
		if (nn_wg_allowedip_equal(&p->allowed_ips[j], a))
			return true;
	return false;
}

/* One desired peer on the fake device, exactly. */
static void check_peer(const uint8_t key[NN_KEY_LEN], const struct nn_wg_allowedip *aips, size_t n,
		       unsigned int keepalive, const char *endpoint)
{
	const struct nn_wg_peer *p = fake_find(key);
	union nn_wg_endpoint ep;
	size_t j;

	assert_non_null(p);
	assert_int_equal(p->n_allowed_ips, n);
	for (j = 0; j < n; j++)
		assert_true(peer_has(p, &aips[j]));
	assert_int_equal(p->keepalive, keepalive);
	if (endpoint[0]) {
		assert_int_equal(nn_wg_endpoint_parse(endpoint, &ep), 0);
		assert_true(p->flags & NN_WG_PEER_HAS_ENDPOINT);
		assert_true(nn_wg_endpoint_equal(&p->endpoint, &ep));
	}
}

static void check_desired(void)
{
	struct nn_wg_allowedip a[2];
	size_t i, n = 0;

	for (i = 0; i < pol.n_devices; i++) {
		const struct nn_device *d = &devs[i];

		if (d->state != NN_ST_ACTIVE)
			continue;
		want_aip(&a[0], d->addr6, false);
		if (d->has_addr4)
			want_aip(&a[1], d->addr4, true);
		check_peer(d->pubkey, a, d->has_addr4 ? 2 : 1,
			   d->keepalive > 0 && d->endpoint[0] ? (unsigned int)d->keepalive : 0,
			   d->endpoint);
		n++;
	}
	want_aip(&a[0], nodes[1].addr6, false);
	check_peer(nodes[1].pubkey, a, 1, 0, nodes[1].endpoint);
	assert_int_equal(fake.n_peers, n + 1);
	assert_null(fake_find(wg.public_key));
	assert_int_equal(fake.listen_port, 51820);
	assert_memory_equal(fake.private_key, wg.private_key, NN_KEY_LEN);
}

/* The view equals the fake device: same keys, AllowedIPs, keepalive,
 * counters (untouched peers keep theirs; new ones have none). */
static void check_view(const struct nn_wg_device *v)
{
	size_t i, j;

	assert_int_equal(v->n_peers, fake.n_peers);
	for (i = 0; i < v->n_peers; i++) {
		const struct nn_wg_peer *vp = &v->peers[i], *fp = fake_find(vp->public_key);

		assert_non_null(fp);
		assert_int_equal(vp->n_allowed_ips, fp->n_allowed_ips);
		for (j = 0; j < vp->n_allowed_ips; j++)
			assert_true(peer_has(fp, &vp->allowed_ips[j]));
		assert_int_equal(vp->keepalive, fp->keepalive);
		assert_int_equal(vp->rx_bytes, fp->rx_bytes);
		assert_int_equal(vp->last_handshake_sec, fp->last_handshake_sec);
	}
}

static bool was_touched(const uint8_t key[NN_KEY_LEN])
{
	size_t i;

	for (i = 0; i < n_touched; i++)
		if (!memcmp(touched[i], key, NN_KEY_LEN))
			return true;
	return false;
}

/* ---- the steps ---- */

static struct nn_device *pick(uint8_t state)
{
	for (;;) {
		struct nn_device *d = &devs[nn_xorshift32(&rng) % pol.n_devices];

		if (d->state == state)
			return d;
	}
}

/* Apply one random change; the keys the next set must carry, exactly. */
static size_t step(uint8_t exp[MAX_TOUCH][NN_KEY_LEN])
{
	struct nn_wg_allowedip a;
	struct nn_wg_peer *p;
	struct nn_device *d;
	size_t i;

	switch (nn_xorshift32(&rng) % 8) {
	case 0: /* revocation */
		d = pick(NN_ST_ACTIVE);
		d->state = NN_ST_DISABLED;
		memcpy(exp[0], d->pubkey, NN_KEY_LEN);
		return 1;
	case 1: /* re-enable (a revocation when none is disabled) */
		for (i = 0; i < pol.n_devices && devs[i].state != NN_ST_DISABLED; i++)
			;
		if (i == pol.n_devices) {
			d = pick(NN_ST_ACTIVE);
			d->state = NN_ST_DISABLED;
			memcpy(exp[0], d->pubkey, NN_KEY_LEN);
			return 1;
		}
		d = pick(NN_ST_DISABLED);
		d->state = NN_ST_ACTIVE;
		memcpy(exp[0], d->pubkey, NN_KEY_LEN);
		return 1;
	case 2: /* key rotation: old out, new in */
		d = pick(NN_ST_ACTIVE);
		memcpy(exp[0], d->pubkey, NN_KEY_LEN);
		rand_key(d->pubkey);
		memcpy(exp[1], d->pubkey, NN_KEY_LEN);
		return 2;
	case 3: /* dropped from the snapshot (the last active one: order kept) */
		for (i = pol.n_devices; i-- > 0;)
			if (devs[i].state == NN_ST_ACTIVE)
				break;
		memcpy(exp[0], devs[i].pubkey, NN_KEY_LEN);
		devs[i].state = NN_ST_DISABLED; /* as if absent: no peer either way */
		rand_key(devs[i].pubkey);	/* and its key unknown to the policy */
		return 1;
	case 4: /* a stray peer by hand, on an address nobody has */
		rand_key(exp[0]);
		p = nn_wg_device_add_peer(&fake, exp[0]);
		assert_non_null(p);
		memset(&a, 0, sizeof(a));
		a.family = AF_INET6;
		a.cidr = 128;
		a.addr[0] = 0xfe;
		a.addr[15] = (uint8_t)nn_xorshift32(&rng);
		assert_int_equal(nn_wg_peer_add_allowedip(p, &a), 0);
		return 1;
	case 5: /* AllowedIPs widened by hand */
		d = pick(NN_ST_ACTIVE);
		p = fake_find(d->pubkey);
		memset(&a, 0, sizeof(a));
		a.family = AF_INET6;
		a.cidr = 64;
		a.addr[0] = 0xfd;
		a.addr[1] = 1;
		fake_drop_aip(&a);
		assert_int_equal(nn_wg_peer_add_allowedip(p, &a), 0);
		memcpy(exp[0], d->pubkey, NN_KEY_LEN);
		/* Another peer may have held the /64: it loses it and
		 * must get nothing, as it still has its own /128. */
		return 1;
	case 6: /* keepalive changed by hand */
		d = pick(NN_ST_ACTIVE);
		fake_find(d->pubkey)->keepalive = 7;
		memcpy(exp[0], d->pubkey, NN_KEY_LEN);
		return 1;
	default: /* traffic only: counters move, nothing to send */
		for (i = 0; i < fake.n_peers; i += 1 + nn_xorshift32(&rng) % 7) {
			fake.peers[i].rx_bytes += 1000;
			fake.peers[i].last_handshake_sec = 1700000000 + (int64_t)i;
		}
		return 0;
	}
}

static void test_one_peer_changes(void **state)
{
	uint8_t exp[MAX_TOUCH][NN_KEY_LEN];
	struct nn_wg_counters c;
	struct nn_wg_device view;
	struct nn_iface_info lo;
	size_t s, i, n_exp;

	(void)state;
	nn_log_set_level(NN_LOG_WARN); /* one line per peer change otherwise */
	/* The reconcile's last step sets the interface's MTU over rtnetlink,
	 * for real: a private network namespace (root), whose lo gets a
	 * gateway-sized MTU first, so that step finds nothing to do and nothing
	 * of the host's is touched (lo's 65536 does not fit the policy's
	 * 16-bit MTU: it once set the host's lo to 0). */
	assert_int_equal(unshare(CLONE_NEWNET), 0);
	assert_int_equal(nn_iface_set_mtu("lo", 1420), 0);
	assert_int_equal(nn_iface_get("lo", &lo), 0);
	assert_int_equal(lo.mtu, 1420);
	memset(&wg, 0, sizeof(wg));
	wg.be.ops = &fake_ops;
	snprintf(wg.iface, sizeof(wg.iface), "lo");
	assert_int_equal(nn_wg_generate_private_key(wg.private_key), 0);
	assert_int_equal(nn_wg_public_key(wg.private_key, wg.public_key), 0);
	setup_policy(lo.mtu);

	/* Cold: every desired peer in one set. */
	assert_int_equal(nn_wg_reconcile_dev(&wg, &pol, &c, &view), 0);
	assert_int_equal(c.set_peers, c.added);
	assert_int_equal(c.peers, fake.n_peers);
	check_desired();
	check_view(&view);
	nn_wg_device_free(&view);

	for (s = 0; s < N_STEPS; s++) {
		n_exp = step(exp);
		sets = 0;
		n_touched = 0;
		assert_int_equal(nn_wg_reconcile_dev(&wg, &pol, &c, &view), 0);
		check_desired();
		check_view(&view);
		nn_wg_device_free(&view);
		/* Exactly the touched peers went out, in at most one set. */
		assert_int_equal(sets, n_exp ? 1 : 0);
		assert_int_equal(c.set_ops, n_exp ? 1 : 0);
		assert_int_equal(c.set_peers, n_exp);
		assert_int_equal(n_touched, n_exp);
		for (i = 0; i < n_exp; i++)
			assert_true(was_touched(exp[i]));
	}
	/* And then nothing. */
	sets = 0;
	assert_int_equal(nn_wg_reconcile_dev(&wg, &pol, &c, &view), 0);
	assert_int_equal(sets, 0);
	assert_int_equal(nn_wg_counters_changes(&c), 0);
	nn_wg_device_free(&view);
	nn_wg_device_free(&fake);
}

/* A "uapi" daemon that drops the set, as wireguard-go does past its
 * MaxPeers: the error names the limit and the way out, only when more
 * peers than that were wanted. */
static int drop_set(const struct nn_wg_backend *b, const struct nn_wg_device *dev,
		    unsigned int *n_ops)
{
	(void)b;
	(void)dev;
	*n_ops = 0;
	return -EPIPE;
}

static const struct nn_wg_ops drop_ops = { "uapi", "socket", fake_get, drop_set };

/* stderr of one reconcile of @n devices (and the policy's other node:
 * n + 1 peers wanted), in @buf. */
static int reconcile_stderr(size_t n, char *buf, size_t len)
{
	struct nn_device *many = calloc(n, sizeof(*many));
	struct nn_wg_counters c;
	FILE *tmp = tmpfile();
	int saved = dup(2), err;
	size_t i, got;

	assert_non_null(many);
	assert_non_null(tmp);
	for (i = 0; i < n; i++) {
		many[i].pubkey[0] = 0x77;
		memcpy(many[i].pubkey + 1, &i, sizeof(i));
		addr6(many[i].addr6, 2, (unsigned int)i);
		many[i].addr6[13] = (uint8_t)(i >> 16);
		many[i].keepalive = -1;
		many[i].state = NN_ST_ACTIVE;
	}
	pol.devices = many;
	pol.n_devices = n;
	fflush(stderr);
	dup2(fileno(tmp), 2);
	err = nn_wg_reconcile(&wg, &pol, &c);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	rewind(tmp);
	got = fread(buf, 1, len - 1, tmp);
	buf[got] = 0;
	fclose(tmp);
	free(many);
	pol.devices = devs;
	pol.n_devices = N_DEV;
	return err;
}

static void test_uapi_peer_limit_named(void **state)
{
	static char out[4096];

	(void)state;
	nn_wg_device_free(&fake);
	wg.be.ops = &drop_ops;
	assert_int_equal(reconcile_stderr(NN_WG_GO_MAX_PEERS + 1, out, sizeof(out)), -EPIPE);
	assert_non_null(strstr(out, "error=\"Broken pipe\""));
	assert_non_null(strstr(out, "peers=65538 reason=\"wireguard-go holds at most 65536 peers"));
	assert_int_equal(reconcile_stderr(100, out, sizeof(out)), -EPIPE);
	assert_non_null(strstr(out, "error=\"Broken pipe\""));
	assert_null(strstr(out, "holds at most"));
	wg.be.ops = &fake_ops;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_one_peer_changes),
		cmocka_unit_test(test_uapi_peer_limit_named),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
