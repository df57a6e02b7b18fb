// SPDX-License-Identifier: GPL-2.0
/*
 * apply_rest.c - what an enforced generation needs besides the policy
 * maps, shared by the full path (loop.c) and the fast path
 * (incremental.c): wg0, the underlay port and the exit NAT; the metrics
 * page's wg0 peers; the held text and the last-known-good.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dp/underlay.h"
#include "gatewayd/daemon.h"
#include "gatewayd/lkg.h"
#include "gatewayd/nat.h"
#include "lib/log.h"
#include "policy/policy.h"

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t nn_gwd_now_ms(void)
{
	return now_ms();
}

static const char *source_name(const struct daemon *d)
{
	return d->o->cp.url ? d->o->cp.url : d->o->assignments;
}

const char *nn_gwd_source_name(const struct daemon *d)
{
	return source_name(d);
}

/* wg0 peers for the metrics page from @dev, named by @p's keys ("unknown"
 * for a key @p does not hold; @p NULL: all unknown). */
void nn_gwd_set_peer_metrics(struct daemon *d, const struct nn_policy *p,
			     const struct nn_wg_device *dev)
{
	struct nn_key_index *ix = NULL;
	struct nn_peer_metrics *pm;
	size_t i, n = 0;

	pm = calloc(dev->n_peers + 1, sizeof(*pm));
	if (p)
		ix = nn_key_index_new(p);
	if (!pm || (p && !ix)) {
		free(pm);
		return;
	}
	for (i = 0; i < dev->n_peers; i++) {
		const struct nn_wg_peer *wp = &dev->peers[i];
		const char *id = nn_key_index_id(ix, wp->public_key);

		snprintf(pm[n].id, sizeof(pm[n].id), "%s", id ? id : "unknown");
		pm[n].last_handshake_unix = wp->last_handshake_sec;
		pm[n].rx_bytes = wp->rx_bytes;
		pm[n].tx_bytes = wp->tx_bytes;
		n++;
	}
	nn_key_index_free(ix);
	pthread_mutex_lock(&d->st.mu);
	free(d->st.peers);
	d->st.peers = pm;
	d->st.n_peers = n;
	pthread_mutex_unlock(&d->st.mu);
	d->peers_read_ms = now_ms();
}

/* Everything but the maps: wg0, the underlay port, the exit NAT. On the
 * drift timer (@why "drift": the same desired state again) every wg0 change
 * undoes a change made by hand: a stray peer, a widened AllowedIPs, a key
 * swapped; all are counted as drift repairs. */
int nn_gwd_apply_rest(struct daemon *d, const struct nn_policy *p, const char *why, char *msg,
		      size_t msglen)
{
	struct nn_wg_counters wc = {};
	struct nn_wg_device view = {};
	bool changed;
	int err;

	if (d->wg_open) {
		/* One full read of wg0 per apply: the reconcile's, handed on
		 * to the metrics page (its peers as they are after the set,
		 * counters and handshakes as read just before it). */
		err = nn_wg_reconcile_dev(&d->wg, p, &wc, &view);
		if (!err)
			nn_gwd_set_peer_metrics(d, p, &view);
		nn_wg_device_free(&view);
		nn_ctl_note_wg(&d->st, err ? NULL : &wc, err);
		if (err) {
			nn_log_err("event=wg_apply_failed iface=%s error=\"%s\"", d->o->iface,
				   strerror(-err));
			snprintf(msg, msglen, "%s: couldn't reconcile the WireGuard peers: %s",
				 d->o->iface, strerror(-err));
			return err;
		}
		pthread_mutex_lock(&d->st.mu);
		d->st.wg_changes += nn_wg_counters_changes(&wc);
		d->st.drift_repairs += strcmp(why, "drift") ? wc.allowed_ips_repaired :
							      nn_wg_counters_changes(&wc);
		pthread_mutex_unlock(&d->st.mu);
		if (nn_wg_counters_changes(&wc))
			nn_log_info("event=wg_reconciled iface=%s added=%u removed=%u updated=%u "
				    "allowed_ips_repaired=%u keys_rotated=%u peers=%u",
				    d->o->iface, wc.added, wc.removed, wc.updated,
				    wc.allowed_ips_repaired, wc.keys_rotated, wc.peers);
	}
	if (d->ul) {
		err = nn_underlay_set_port(d->ul, p->gw.listen_port, &changed);
		if (err) {
			snprintf(msg, msglen, "underlay guard: couldn't set the listen port: %s",
				 strerror(-err));
			return err;
		}
		if (changed)
			nn_log_info("event=underlay_config listen_port=%u hs_rate=%u hs_burst=%u",
				    p->gw.listen_port, NN_DEF_WG_HS_RATE, NN_DEF_WG_HS_BURST);
	}
	if (d->o->nat) {
		err = nn_nat_apply(d->o->iface, p);
		if (err) {
			snprintf(msg, msglen, "exit NAT table: %s", strerror(-err));
			return err;
		}
	}
	return 0;
}

int nn_gwd_apply_peers(struct daemon *d, const struct nn_dev_patch *pt, char *msg, size_t msglen)
{
	struct nn_wg_peer_change *v;
	struct nn_wg_counters wc = {};
	size_t i;
	int err;

	if (!d->wg_open || !pt->n_peers)
		return 0;
	v = calloc(pt->n_peers, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (i = 0; i < pt->n_peers; i++) {
		v[i].key = pt->peers[i].key;
		v[i].dev = pt->peers[i].want ? &pt->peers[i].dev : NULL;
	}
	err = nn_wg_set_peers(&d->wg, v, pt->n_peers, &wc);
	free(v);
	nn_ctl_note_wg(&d->st, err ? NULL : &wc, err);
	if (err) {
		snprintf(msg, msglen, "%s: couldn't set the changed WireGuard peers: %s",
			 d->o->iface, strerror(-err));
		return err;
	}
	pthread_mutex_lock(&d->st.mu);
	d->st.wg_changes += nn_wg_counters_changes(&wc);
	pthread_mutex_unlock(&d->st.mu);
	return 0;
}

/* The client's held document when it describes what is enforced (at
 * good's generation: deltas change it in place, a refused snapshot drops
 * it), else NULL. */
const struct nn_held *nn_gwd_good_doc(const struct daemon *d)
{
	const struct nn_held *doc = d->cp ? nn_cp_client_doc(d->cp) : NULL;

	if (!doc || !d->good || nn_held_generation(doc) != (long long)d->good->generation)
		return NULL;
	return doc;
}

/* Persist the applied snapshot: @text when at hand, else @doc (written
 * from its tree, never held whole as text). A failure (state directory
 * full, read-only) changes nothing enforced: it is logged, counted and
 * shown, and retried on the drift timer until it succeeds. */
void nn_gwd_save_lkg_from(struct daemon *d, const struct nn_held *doc, const char *text, size_t len)
{
	char why[NN_CTL_MSG_MAX] = "";
	int err;

	if (!d->good || (!text && !doc))
		return;
	err = text ? nn_lkg_save(d->o->state_dir, d->good->generation, text, len, why,
				 sizeof(why)) :
		     nn_lkg_save_doc(d->o->state_dir, d->good->generation, doc->d.root, why,
				     sizeof(why));
	if (err) {
		nn_log_err("event=lkg_save_failed generation=%llu error=\"%s\" note=\"the "
			   "dataplane keeps enforcing it; retried on the drift timer\"",
			   (unsigned long long)d->good->generation, why);
		nn_ctl_note_lkg_write(&d->st, 0, why);
	} else {
		if (d->lkg_stale)
			nn_log_info("event=lkg_saved generation=%llu dir=%s",
				    (unsigned long long)d->good->generation, d->o->state_dir);
		nn_ctl_note_lkg_write(&d->st, d->good->generation, NULL);
		d->lkg_seq++;
		d->lkg_gen = d->good->generation;
		d->lkg_has = true;
		/* The file holds every journaled delta now: the journal goes
		 * (a crash before this leaves entries the replay skips, as
		 * they are not newer than the file). */
		if (nn_lkg_journal_reset(d->o->state_dir, why, sizeof(why)))
			nn_log_warn("event=lkg_journal_reset_failed error=\"%s\"", why);
		else
			d->journal_n = 0;
	}
	d->lkg_stale = err != 0;
}

void nn_gwd_save_lkg(struct daemon *d)
{
	/* File mode keeps the text; control-plane mode writes the held
	 * document when it is at the enforced generation. When it is not
	 * (moved on, dropped), the file and its journal stay as they are:
	 * together they hold what is enforced (a failed write is retried
	 * once a document of the enforced generation is held again, or by
	 * the next full apply). */
	if (d->good_text)
		nn_gwd_save_lkg_from(d, NULL, d->good_text, d->good_len);
	else
		nn_gwd_save_lkg_from(d, nn_gwd_good_doc(d), NULL, 0);
}
