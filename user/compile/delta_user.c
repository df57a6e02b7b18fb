// SPDX-License-Identifier: GPL-2.0
/*
 * delta_user.c - a delta of one user upsert on the incremental path: a
 * standing user's groups and routing preference change. What follows from
 * it is a change of each of its devices (the sources reached through
 * groups, the effective routing), judged and applied as device upserts
 * are (delta_apply.c), provided the full path would come to the same maps
 * and messages:
 *  - the user alone, in a one-user snapshot, gets no message, and the
 *    document holds one copy of its id (copies are all dropped);
 *  - no group a rule of the network names (valid or dropped) appears or
 *    vanishes: a rule naming a group no user lists is dropped ("not in this
 *    network") or rejects the snapshot. Counted over standing users only: a
 *    group a dropped user lists may or may not be known, so a group that no
 *    other standing user lists is refused whenever a rule names it;
 *  - each of its devices had and keeps a routing without a message, and
 *    gets classes that exist, none losing its last member;
 *  - at most INC_MAX_CHANGES devices (a user with more: the full path).
 * WireGuard peers do not depend on a user (keys, addresses, states stay).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "compile/delta.h"
#include "compile/delta_int.h"

struct uchg {
	uint32_t u, ni;
	struct nn_user nu; /* the user after (its own groups array) */
	struct chg c[INC_MAX_CHANGES];
	size_t n;
};

static struct inc_net *net_of(const struct nn_inc *s, const char *tid, const char *nid)
{
	char nk[2 * NN_NAME_MAX];
	size_t a, b;
	struct nn_tentry *e;

	if (!tid || !nid || (a = strlen(tid)) >= NN_NAME_MAX || (b = strlen(nid)) >= NN_NAME_MAX)
		return NULL;
	memcpy(nk, tid, a + 1);
	memcpy(nk + a + 1, nid, b);
	e = nn_table_get(&s->nets, nk, a + 1 + b);
	return e && ((struct inc_net *)e->val)->net ? e->val : NULL;
}

/* Copies of user id @uid among the network's users in the document. */
static size_t doc_copies(const struct nn_jv *net, const char *uid)
{
	size_t i, n = 0;
	struct nn_jv *v;

	nn_jv_foreach(nn_jv_get(net, "users"), i, v)
	{
		const char *x = nn_jv_str(nn_jv_get(v, "user_id"));

		n += x && !strcmp(x, uid);
	}
	return n;
}

static bool lists(const struct nn_user *u, const char *g)
{
	size_t i;

	for (i = 0; i < u->n_groups; i++)
		if (!strcmp(u->groups[i], g))
			return true;
	return false;
}

/* Does a group @a lists and @b does not stop being known (@b: the user
 * after, @a before) or start to be (@a after, @b before)? Only when a rule
 * names it; @gone: the count drops by one. */
static bool group_flips(const struct nn_inc *s, uint32_t ni, const struct nn_user *a,
			const struct nn_user *b, bool gone)
{
	struct inc_key k;
	size_t i, l;

	for (i = 0; i < a->n_groups; i++) {
		uint32_t c;

		if (lists(b, a->groups[i]))
			continue;
		l = nn_inc_key(&k, ni, a->groups[i]);
		if (!nn_table_get(&s->group_names, &k, l))
			continue;
		c = nn_inc_get(&s->group_users, &k, l);
		if (c == INC_NONE)
			c = 0;
		if (gone ? c <= 1 : c == 0)
			return true;
	}
	return false;
}

/* The user alone through the snapshot parser: *@out its groups and
 * preference (groups malloc'd). */
static int parse_user(struct nn_inc *s, const struct inc_net *net, const json_t *value,
		      struct nn_user *out, const char *uid, char *why, size_t wl)
{
	struct nn_errlist errs = { 0 };
	struct nn_policy *mp = NULL;
	struct nn_jdoc tmp = { 0 };
	struct nn_jv uv;
	int err = nn_held_copy_json(&tmp, NULL, value, &uv);

	if (!err)
		err = nn_inc_mini_parse(s, net->tenant, net->net, &uv, NULL, &mp, &errs);
	nn_jdoc_free(&tmp);
	if (err == -ENOMEM || err == -E2BIG)
		return -ENOMEM;
	if (err || errs.n || !mp || mp->n_users != 1 || strcmp(mp->users[0].id, uid)) {
		nn_errlist_free(&errs);
		nn_policy_free(mp);
		return nn_inc_why(why, wl, "user %s: the snapshot parser has something to say",
				  uid);
	}
	nn_errlist_free(&errs);
	*out = mp->users[0];
	out->groups = malloc((out->n_groups ? out->n_groups : 1) * sizeof(*out->groups));
	if (out->groups && out->n_groups) /* a user of no group: groups NULL */
		memcpy(out->groups, mp->users[0].groups, out->n_groups * sizeof(*out->groups));
	nn_policy_free(mp);
	return out->groups ? 0 : -ENOMEM;
}

/* Device @d of the user as it will be: routing under the new preference,
 * sources under the new groups. */
static int judge_dev(struct nn_inc *s, struct uchg *uc, uint32_t d, struct chg *c, char *why,
		     size_t wl)
{
	struct nn_user *us = &s->p->users[uc->u];
	const struct nn_device *od = &s->p->devices[d];
	struct nn_routing_layer keep = us->pref;
	struct nn_errlist errs = { 0 };
	int err;

	c->upsert = true;
	c->id = od->id;
	c->ni = uc->ni;
	c->old = d;
	memcpy(c->okey, od->pubkey, sizeof(c->okey));
	memcpy(c->ocls, s->cls[d], sizeof(c->ocls));
	if (nn_inc_routing_msg(s, od))
		return nn_inc_why(why, wl, "device %s: its routing had a message", od->id);
	c->nd = *od;
	/* routing.c reads the user's layer from the policy: lend it the new
	 * one for the call. */
	us->pref = uc->nu.pref;
	nn_resolve_device_routing(s->p, &c->nd, &errs);
	us->pref = keep;
	err = errs.n ? nn_inc_why(why, wl, "device %s: its routing gets a message", od->id) : 0;
	nn_errlist_free(&errs);
	if (!err)
		err = nn_inc_new_classes(s, c, uc->ni, uc->u, uc->nu.groups, uc->nu.n_groups, why,
					 wl);
	return err;
}

static int judge_user(struct nn_inc *s, const json_t *ch, struct uchg *uc, char *why, size_t wl)
{
	const char *op = json_string_value(json_object_get(ch, "op"));
	const char *uid = json_string_value(json_object_get(ch, "id"));
	const json_t *value = json_object_get(ch, "value");
	const struct inc_net *net;
	const struct inc_user *iu;
	const struct vec *devs;
	struct nn_tentry *e;
	struct inc_key k;
	size_t i;
	int err;

	net = net_of(s, json_string_value(json_object_get(ch, "tenant_id")),
		     json_string_value(json_object_get(ch, "network_id")));
	if (!op || strcmp(op, "upsert") || !uid || !json_is_object(value))
		return nn_inc_why(why, wl, "user %s: not an upsert of a user", uid);
	if (!net)
		return nn_inc_why(why, wl, "user %s: its network is not standing", uid);
	if (net->dup_rule_ids)
		return nn_inc_why(why, wl, "user %s: its network's ACL repeats a rule_id", uid);
	uc->ni = net->idx;
	e = nn_table_get(&s->users, &k, nn_inc_key(&k, net->idx, uid));
	iu = e ? e->val : NULL;
	if (!iu || !iu->js || doc_copies(net->net, uid) != 1)
		return nn_inc_why(why, wl, "user %s: not one standing copy in the network", uid);
	uc->u = iu->idx;
	err = parse_user(s, net, value, &uc->nu, uid, why, wl);
	if (err)
		return err;
	if (group_flips(s, uc->ni, &s->p->users[uc->u], &uc->nu, true) ||
	    group_flips(s, uc->ni, &uc->nu, &s->p->users[uc->u], false))
		return nn_inc_why(why, wl,
				  "user %s: a group a rule names would appear or vanish "
				  "(the rule dropped or restored)",
				  uid);
	devs = &s->user_devs[uc->u];
	if (devs->n > INC_MAX_CHANGES)
		return nn_inc_why(why, wl, "user %s: too many devices for a per-device change",
				  uid);
	for (i = 0; i < devs->n && !err; i++, uc->n++)
		err = judge_dev(s, uc, devs->v[i], &uc->c[uc->n], why, wl);
	if (!err && !nn_inc_classes_stay(s, uc->c, uc->n))
		err = nn_inc_why(why, wl, "user %s: a class would lose its last member", uid);
	return err;
}

/* The group counts follow the user from @a to @b. */
static int count_groups(struct nn_inc *s, uint32_t ni, const struct nn_user *a,
			const struct nn_user *b)
{
	struct inc_key k;
	size_t i, j, l;
	int err = 0;

	for (i = 0; i < a->n_groups && !err; i++) {
		uint32_t c;

		for (j = 0; j < i && strcmp(a->groups[j], a->groups[i]); j++)
			;
		if (j < i || lists(b, a->groups[i]))
			continue; /* a repeat, or in both */
		l = nn_inc_key(&k, ni, a->groups[i]);
		c = nn_inc_get(&s->group_users, &k, l);
		err = nn_inc_put(&s->group_users, &k, l, c == INC_NONE || c == 0 ? 0 : c - 1);
	}
	for (i = 0; i < b->n_groups && !err; i++) {
		uint32_t c;

		for (j = 0; j < i && strcmp(b->groups[j], b->groups[i]); j++)
			;
		if (j < i || lists(a, b->groups[i]))
			continue;
		l = nn_inc_key(&k, ni, b->groups[i]);
		c = nn_inc_get(&s->group_users, &k, l);
		err = nn_inc_put(&s->group_users, &k, l, c == INC_NONE ? 1 : c + 1);
	}
	return err;
}

size_t nn_inc_held_min = 64u << 10;

/*
 * Every fast-path user change copies the user object into the kept state's
 * arena, and the copy it replaces stays there unreachable (the arena never
 * frees): under user churn it only grew (handoff item 4). Once the arena
 * is twice what the last compaction kept (and nn_inc_held_min), the live
 * copies move to a fresh one: O(copies) every doubling, amortised O(1) a
 * change. A compaction that runs out of memory leaves everything as it
 * was (the arena grows, as before).
 */
static void compact_users(struct nn_inc *s)
{
	struct nn_jdoc fresh = { 0 };
	struct nn_jv **to = NULL;
	struct inc_user *u;
	size_t i, n = 0;

	if (nn_jdoc_bytes(&s->held) < 2 * s->held_live + nn_inc_held_min)
		return;
	for (i = 0; i < s->users.cap; i++)
		n += s->users.e[i].used && ((struct inc_user *)s->users.e[i].val)->own;
	to = calloc(n + 1, sizeof(*to));
	for (i = 0, n = 0; to && i < s->users.cap; i++) {
		u = s->users.e[i].val;
		if (!s->users.e[i].used || !u->own)
			continue;
		to[n] = nn_jdoc_alloc(&fresh, sizeof(*to[n]));
		if (!to[n] || nn_held_copy_jv(&fresh, u->js, to[n]))
			goto fail;
		n++;
	}
	if (!to)
		return;
	/* all copied: the pointers move, the old arena goes */
	for (i = 0, n = 0; i < s->users.cap; i++) {
		u = s->users.e[i].val;
		if (s->users.e[i].used && u->own)
			u->js = to[n++];
	}
	nn_jdoc_free(&s->held);
	s->held = fresh;
	s->held_live = nn_jdoc_bytes(&fresh);
	s->held_compactions++;
	free(to);
	return;
fail:
	nn_jdoc_free(&fresh);
	free(to);
}

size_t nn_inc_held_bytes(const struct nn_inc *s, unsigned long *compactions)
{
	if (compactions)
		*compactions = s->held_compactions;
	return nn_jdoc_bytes(&s->held);
}

int nn_inc_user_delta(struct nn_inc *s, const json_t *ch, struct nn_dev_patch *pt, char *why,
		      size_t wl)
{
	struct uchg *uc = calloc(1, sizeof(*uc));
	struct nn_user *us;
	struct inc_key k;
	struct nn_tentry *e;
	struct nn_jv *copy = NULL;
	size_t i;
	int err;

	if (!uc)
		return -ENOMEM;
	err = judge_user(s, ch, uc, why, wl);
	/* The user object the document will hold: later one-device snapshots
	 * of its devices are made with it. */
	if (!err) {
		copy = nn_jdoc_alloc(&s->held, sizeof(*copy));
		err = copy ? nn_held_copy_json(&s->held, NULL, json_object_get(ch, "value"), copy) :
			     -ENOMEM;
		if (err)
			err = -ENOMEM;
	}
	/* From here on the state changes: a failure (memory) spoils it. The
	 * devices first: withdrawing one reads the user's groups before. */
	for (i = 0; i < uc->n && !err; i++)
		err = nn_inc_apply_upsert(s, &uc->c[i], pt);
	if (!err) {
		us = &s->p->users[uc->u];
		err = count_groups(s, uc->ni, us, &uc->nu);
		free(us->groups);
		us->groups = uc->nu.groups;
		us->n_groups = uc->nu.n_groups;
		us->pref = uc->nu.pref;
		uc->nu.groups = NULL;
		e = nn_table_get(&s->users, &k, nn_inc_key(&k, uc->ni, us->id));
		if (e) {
			((struct inc_user *)e->val)->js = copy;
			((struct inc_user *)e->val)->own = true;
		}
	}
	for (i = 0; i < INC_MAX_CHANGES; i++) {
		free(uc->c[i].named.v);
		free(uc->c[i].grp.v);
	}
	free(uc->nu.groups);
	free(uc);
	/* last: nothing of this change points into the old arena then */
	if (!err)
		compact_users(s);
	return err;
}
