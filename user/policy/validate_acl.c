// SPDX-License-Identifier: GPL-2.0
/*
 * validate_acl.c - every network's ACL, read after the entries and the cross
 * checks so references resolve against what actually survived.
 *
 * An allow rule that is bad in any way is dropped alone: one allow fewer can
 * only narrow access. A deny rule cannot be dropped (that would widen
 * access), so a bad deny rule, or a rule whose action cannot be read,
 * rejects the whole snapshot. A deny rule that names a device or user
 * that was dropped keeps working without it: what a dropped entry claimed
 * is closed space (closed.c), where every packet is dropped before any
 * rule is read, so the rule goes on covering it, only the reason reads
 * unknown_dst or spoof instead of acl_deny. A dropped resource in its dst
 * becomes the dst prefixes it claimed (keep_dead_dst): a standing resource
 * with a longer prefix keeps its part of closed space (docs/datapath.md
 * "Closed space").
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/addr.h"
#include "lib/thread.h"
#include "lib/u32sort.h"
#include "policy/json_int.h"

/* Collected indices of one reference list. */
struct idx_set {
	uint32_t *v;
	size_t n, cap;
};

/* Name lookups over every slot that got an id, dropped or not, so a
 * reference can say "dropped" rather than "unknown": (scope, id) -> the
 * first slot with it, by hash (sorted arrays and binary searches before:
 * a string compare per step, cache misses at 100k). */
struct acl_ctx {
	struct nn_build *b;
	struct nn_strset devs, users, res; /* first slot of an id */
	struct nn_strset groups;	   /* (network, group) -> group number */
	uint32_t *grp_start;		   /* users of group g, ascending: */
	uint32_t *grp_users;		   /* grp_users[grp_start[g] .. grp_start[g + 1]) */
	uint32_t *udev_start;		   /* live devices of user u: */
	uint32_t *udev;			   /* udev[udev_start[u] .. udev_start[u + 1]) */
	struct idx_set dead_dst;	   /* dropped resources the rule's dst names */
	/* A rule's working sets, reused: src (the union), grp, dst devices,
	 * dst resources. */
	struct idx_set src, grp, dd, dr;
};

static int set_add(struct idx_set *s, uint32_t x)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 8;
		uint32_t *v = realloc(s->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		s->v = v;
		s->cap = cap;
	}
	s->v[s->n++] = x;
	return 0;
}

/* Sort and deduplicate into an array of its own, exactly sized (NULL when
 * empty: kept for the policy's life); @s stays, emptied, for the next rule:
 * the working sets are reused across rules (a growing array per list and
 * rule was a chain of reallocs each). -ENOMEM leaves the list empty. */
static int set_finish(struct idx_set *s, uint32_t **out, size_t *n)
{
	size_t m = nn_u32_sort_unique(s->v, s->n);

	*out = NULL;
	*n = 0;
	s->n = 0;
	if (!m)
		return 0;
	*out = malloc(m * sizeof(**out));
	if (!*out)
		return -ENOMEM;
	memcpy(*out, s->v, m * sizeof(**out));
	*n = m;
	return 0;
}

/* Every slot's id into @set under @scope_of (first slot wins). */
static int index_ids(struct nn_strset *set, size_t n,
		     const char *(*id)(const struct nn_policy *, size_t, uint32_t *),
		     const struct nn_policy *p)
{
	uint32_t scope;
	size_t i;
	bool found;

	if (nn_strset_init(set, n))
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		const char *s = id(p, i, &scope);

		if (s[0] && !nn_strset_put(set, scope, s, (uint32_t)i, &found))
			return -ENOMEM;
	}
	return 0;
}

/* Devices are looked up globally, then checked for the rule's network. */
static const char *dev_id(const struct nn_policy *p, size_t i, uint32_t *scope)
{
	*scope = 0;
	return p->devices[i].id;
}

static const char *user_id(const struct nn_policy *p, size_t i, uint32_t *scope)
{
	*scope = p->users[i].network;
	return p->users[i].id;
}

static const char *res_id(const struct nn_policy *p, size_t i, uint32_t *scope)
{
	*scope = p->resources[i].network;
	return p->resources[i].id;
}

/* Groups: number each (network, group) as first seen, then bucket the
 * users by group in user order (a counting sort, so ascending). */
static int index_groups(struct acl_ctx *c, const struct nn_policy *p)
{
	size_t i, j, m = 0, ng = 0;
	uint32_t *g;
	bool found;

	for (i = 0; i < p->n_users; i++)
		m += p->users[i].n_groups;
	if (nn_strset_init(&c->groups, m))
		return -ENOMEM;
	c->grp_start = calloc(m + 2, sizeof(*c->grp_start));
	c->grp_users = calloc(m + 1, sizeof(*c->grp_users));
	if (!c->grp_start || !c->grp_users)
		return -ENOMEM;
	for (i = 0; i < p->n_users; i++)
		for (j = 0; j < p->users[i].n_groups; j++) {
			g = nn_strset_put(&c->groups, p->users[i].network, p->users[i].groups[j],
					  (uint32_t)ng, &found);
			if (!g)
				return -ENOMEM;
			if (!found)
				ng++;
			c->grp_start[*g + 1]++;
		}
	for (i = 0; i < ng; i++)
		c->grp_start[i + 1] += c->grp_start[i];
	/* grp_start[g] serves as group g's fill cursor, then shifts back. */
	for (i = 0; i < p->n_users; i++)
		for (j = 0; j < p->users[i].n_groups; j++) {
			g = nn_strset_get(&c->groups, p->users[i].network, p->users[i].groups[j]);
			c->grp_users[c->grp_start[*g]++] = (uint32_t)i;
		}
	for (i = ng; i > 0; i--)
		c->grp_start[i] = c->grp_start[i - 1];
	c->grp_start[0] = 0;
	return 0;
}

/* The name indexes: every slot that got an id, dropped or not, so they
 * need nothing of the cross checks and can be built beside them
 * (nn_acl_prepare). */
static int build_names(struct acl_ctx *c, const struct nn_policy *p)
{
	int err;

	err = index_ids(&c->devs, p->n_devices, dev_id, p);
	if (!err)
		err = index_ids(&c->users, p->n_users, user_id, p);
	if (!err)
		err = index_ids(&c->res, p->n_resources, res_id, p);
	if (!err)
		err = index_groups(c, p);
	return err;
}

/* The live devices of each user: after the cross checks' drops. */
static int build_udev(struct acl_ctx *c, struct nn_build *b)
{
	const struct nn_policy *p = b->p;
	size_t i;

	c->b = b;
	c->udev_start = calloc(p->n_users + 2, sizeof(*c->udev_start));
	c->udev = calloc(p->n_devices + 1, sizeof(*c->udev));
	if (!c->udev_start || !c->udev)
		return -ENOMEM;
	for (i = 0; i < p->n_devices; i++)
		if (!b->dev_drop[i])
			c->udev_start[p->devices[i].user + 1]++;
	for (i = 0; i < p->n_users; i++)
		c->udev_start[i + 1] += c->udev_start[i];
	/* Counting sort: udev_start[u] serves as user u's fill cursor, which
	 * leaves it at user u's end, then everything shifts back by one. */
	for (i = 0; i < p->n_devices; i++)
		if (!b->dev_drop[i])
			c->udev[c->udev_start[p->devices[i].user]++] = (uint32_t)i;
	for (i = p->n_users; i > 0; i--)
		c->udev_start[i] = c->udev_start[i - 1];
	c->udev_start[0] = 0;
	return 0;
}

static void free_ctx(struct acl_ctx *c)
{
	nn_strset_free(&c->devs);
	nn_strset_free(&c->users);
	nn_strset_free(&c->res);
	nn_strset_free(&c->groups);
	free(c->grp_start);
	free(c->grp_users);
	free(c->udev_start);
	free(c->udev);
	free(c->dead_dst.v);
	free(c->src.v);
	free(c->grp.v);
	free(c->dd.v);
	free(c->dr.v);
}

static int add_user_devices(const struct acl_ctx *c, uint32_t u, struct idx_set *s)
{
	uint32_t i;
	int err;

	for (i = c->udev_start[u]; i < c->udev_start[u + 1]; i++) {
		err = set_add(s, c->udev[i]);
		if (err)
			return err;
	}
	return 0;
}

/* What a reference list holds. */
enum ref_kind { REF_DEVICES, REF_USERS, REF_GROUPS, REF_RESOURCES };

static const char *const ref_names[] = {
	[REF_DEVICES] = "devices",
	[REF_USERS] = "users",
	[REF_GROUPS] = "groups",
	[REF_RESOURCES] = "resources",
};

/*
 * Resolve @side.@what (e.g. src.groups) of rule @r into @out (device
 * indices, or resource indices for REF_RESOURCES). A name that is not of
 * the rule's network is an error; so is a dropped entry, except a dropped
 * device or user in a deny rule (see the top of the file).
 */
/* Every dropped slot of @network whose id is @name: a duplicate id drops
 * all its copies, and the rule named what each of them claimed. */
static int dead_dst_named(struct acl_ctx *c, uint32_t network, const char *name)
{
	const struct nn_policy *p = c->b->p;
	size_t j;
	int err = 0;

	for (j = 0; !err && j < p->n_resources; j++)
		if (c->b->res_drop[j] && p->resources[j].network == network &&
		    !strcmp(p->resources[j].id, name))
			err = set_add(&c->dead_dst, (uint32_t)j);
	return err;
}

static int add_dst_prefix(void *arg, const struct nn_prefix *pf)
{
	struct nn_rule *r = arg;
	struct nn_prefix *v = realloc(r->dst_prefixes, (r->n_dst_prefixes + 1) * sizeof(*v));

	if (!v)
		return -ENOMEM;
	v[r->n_dst_prefixes++] = *pf;
	r->dst_prefixes = v;
	return 0;
}

/*
 * A deny rule naming a resource that was dropped keeps denying what that
 * resource claimed (assignments-v1.md: "a deny rule keeps covering whatever
 * it named"): its prefixes, read as closed space reads them, become dst
 * prefixes of the rule. Closed space alone is not enough: a standing
 * resource with a longer prefix inside the dropped one keeps its part, and
 * without this the rule would stop matching there (test_fail_closed found
 * an allow taking over).
 */
static int keep_dead_dst(struct acl_ctx *c, struct nn_rule *r)
{
	size_t i;
	int err = 0;

	for (i = 0; !err && i < c->dead_dst.n; i++)
		err = nn_claims(nn_jv_get(c->b->res_js[c->dead_dst.v[i]], "prefixes"),
				add_dst_prefix, r);
	return err;
}

static int resolve(struct acl_ctx *c, const struct nn_ent *e, const struct nn_rule *r,
		   struct nn_jv *obj, const char *side, enum ref_kind what, struct idx_set *out)
{
	struct nn_build *b = c->b;
	struct nn_jv *names;
	const uint32_t *k;
	struct nn_ent fe = *e;
	size_t i, n;
	bool dropped;
	int err;

	/* The names are read in place (checked first, all of them, as
	 * nn_js_id_list does): a copy of every list was 7 % of a cold apply. */
	nn_path_join(fe.path, e->path, side);
	err = nn_js_id_array(b, &fe, obj, ref_names[what], NN_JS_OPTIONAL, &names);
	if (err || !names)
		return err;
	n = nn_jv_size(names);
	for (i = 0; i < n && !err; i++) {
		const char *name = nn_jv_str(nn_jv_at(names, i));

		switch (what) {
		case REF_DEVICES:
			k = nn_strset_get(&c->devs, 0, name);
			if (k && b->p->devices[*k].network != r->network)
				k = NULL;
			dropped = k && b->dev_drop[*k];
			break;
		case REF_USERS:
			k = nn_strset_get(&c->users, r->network, name);
			dropped = k && b->user_drop[*k];
			break;
		case REF_GROUPS:
			k = nn_strset_get(&c->groups, r->network, name);
			dropped = false;
			break;
		default:
			k = nn_strset_get(&c->res, r->network, name);
			dropped = k && b->res_drop[*k];
			break;
		}
		if (!k) {
			nn_ent_err(b, e, "%s.%s names %s, which is not in this network", side,
				   ref_names[what], name);
			err = -EINVAL;
		} else if (dropped && r->action == NN_ACT_ALLOW) {
			nn_ent_err(b, e, "%s.%s names %s, which was dropped", side, ref_names[what],
				   name);
			err = -EINVAL;
		} else if (dropped && what == REF_RESOURCES && !strcmp(side, "dst")) {
			nn_ent_err(b, e,
				   "%s.%s names %s, which was dropped; the rule keeps denying its "
				   "prefixes",
				   side, ref_names[what], name);
			err = dead_dst_named(c, r->network, name);
		} else if (dropped) {
			nn_ent_err(
				b, e,
				"%s.%s names %s, which was dropped; reference ignored (its space is closed)",
				side, ref_names[what], name);
		} else if (what == REF_DEVICES || what == REF_RESOURCES) {
			err = set_add(out, *k);
		} else if (what == REF_USERS) {
			err = add_user_devices(c, *k, out);
		} else {
			/* every live member of the group in this network */
			uint32_t m;

			for (m = c->grp_start[*k]; !err && m < c->grp_start[*k + 1]; m++)
				if (!b->user_drop[c->grp_users[m]])
					err = add_user_devices(c, c->grp_users[m], out);
		}
	}
	return err;
}

/* src or dst: "*" or an object with only the keys @allowed. */
static int side_obj(struct nn_build *b, const struct nn_ent *e, struct nn_jv *rule,
		    const char *side, const char *const *allowed, bool *star, struct nn_jv **obj)
{
	const char *key, *const *a;
	struct nn_jv *v;
	uint32_t ki;

	*star = false;
	*obj = NULL;
	v = nn_jv_get(rule, side);
	if (nn_jv_is_string(v) && !strcmp(nn_jv_str(v), "*")) {
		*star = true;
		return 0;
	}
	if (!nn_jv_is_object(v)) {
		nn_ent_err(b, e, "%s.%s: expected \"*\" or an object", e->path, side);
		return -EINVAL;
	}
	/* A misspelt key would silently match nothing: for a deny rule that
	 * widens access, so unknown keys are errors here. */
	nn_jv_keys_foreach(v, ki, key)
	{
		for (a = allowed; *a && strcmp(*a, key); a++)
			;
		if (!*a) {
			nn_ent_err(b, e, "%s.%s: unknown key \"%s\"", e->path, side, key);
			return -EINVAL;
		}
	}
	*obj = v;
	return 0;
}

static int parse_proto(struct nn_build *b, const struct nn_ent *e, struct nn_jv *rule,
		       uint16_t *out)
{
	static const struct {
		const char *name;
		uint16_t num;
	} names[] = {
		{ "tcp", 6 },	  { "udp", 17 },	   { "icmp", 1 },
		{ "icmpv6", 58 }, { "any", NN_PROTO_ANY },
	};
	struct nn_jv *v = nn_jv_get(rule, "proto");
	size_t i;

	if (nn_jv_is_integer(v) && nn_jv_int(v) >= 0 && nn_jv_int(v) <= 255) {
		*out = (uint16_t)nn_jv_int(v);
		return 0;
	}
	for (i = 0; nn_jv_is_string(v) && i < sizeof(names) / sizeof(*names); i++) {
		if (!strcmp(nn_jv_str(v), names[i].name)) {
			*out = names[i].num;
			return 0;
		}
	}
	nn_ent_err(b, e, "%s.proto: expected tcp, udp, icmp, icmpv6, any or a number 0-255",
		   e->path);
	return -EINVAL;
}

/* "N" or "N-M", plain decimal, 0 <= N <= M <= 65535. */
static int parse_span(const char *s, struct nn_port_span *sp)
{
	unsigned long v[2] = { 0, 0 };
	int i = 0, digits = 0;

	for (; *s; s++) {
		if (*s == '-' && i == 0 && digits) {
			i = 1;
			digits = 0;
			continue;
		}
		if (*s < '0' || *s > '9' || ++digits > 5)
			return -EINVAL;
		v[i] = v[i] * 10 + (unsigned long)(*s - '0');
	}
	if (!digits)
		return -EINVAL;
	if (!i)
		v[1] = v[0];
	if (v[1] > 65535 || v[0] > v[1])
		return -EINVAL;
	sp->lo = (uint16_t)v[0];
	sp->hi = (uint16_t)v[1];
	return 0;
}

static int parse_ports(struct nn_build *b, const struct nn_ent *e, struct nn_jv *rule,
		       struct nn_rule *r)
{
	char q[32];
	struct nn_jv *arr, *v;
	size_t i;
	int err;

	err = nn_js_array(b, e, rule, "ports", NN_JS_OPTIONAL, &arr);
	if (err)
		return err;
	if (!arr) {
		r->all_ports = true;
		return 0;
	}
	if (r->proto != 6 && r->proto != 17) {
		nn_ent_err(b, e, "ports are only meaningful with proto tcp or udp");
		return -EINVAL;
	}
	r->ports = calloc(nn_jv_size(arr) + 1, sizeof(*r->ports));
	if (!r->ports)
		return -ENOMEM;
	nn_jv_foreach(arr, i, v)
	{
		if (!nn_jv_is_string(v) || parse_span(nn_jv_str(v), &r->ports[i])) {
			nn_ent_err(
				b, e,
				"ports[%zu] \"%s\" is not \"N\" or \"N-M\" with 0 <= N <= M <= 65535",
				i,
				nn_jv_is_string(v) ? nn_quote(nn_jv_str(v), q, sizeof(q)) :
						     nn_json_type(v));
			return -EINVAL;
		}
	}
	r->n_ports = nn_jv_size(arr);
	return 0;
}

static int parse_dst_prefixes(struct nn_build *b, const struct nn_ent *e, struct nn_jv *dst,
			      struct nn_rule *r)
{
	char q[NN_PREFIX_STRLEN + 8];
	struct nn_jv *arr, *v;
	size_t i;
	int err;

	if (!dst)
		return 0;
	err = nn_js_array(b, e, dst, "prefixes", NN_JS_OPTIONAL, &arr);
	if (err || !arr)
		return err;
	r->dst_prefixes = calloc(nn_jv_size(arr) + 1, sizeof(*r->dst_prefixes));
	if (!r->dst_prefixes)
		return -ENOMEM;
	nn_jv_foreach(arr, i, v)
	{
		/* ::/0 and 0.0.0.0/0 are fine here: that is what "all of the
		 * internet" means in a deny rule. */
		err = nn_jv_is_string(v) ?
			      nn_prefix_parse(nn_jv_str(v), &r->dst_prefixes[i], NULL) :
			      -EINVAL;
		if (err) {
			nn_ent_err(b, e, "dst.prefixes[%zu] \"%s\" %s", i,
				   nn_jv_is_string(v) ? nn_quote(nn_jv_str(v), q, sizeof(q)) :
							nn_json_type(v),
				   err == -EDOM ? "has host bits set beyond its length" :
						  "is not an address/length prefix");
			return -EINVAL;
		}
	}
	r->n_dst_prefixes = nn_jv_size(arr);
	return 0;
}

/* Everything after action and id; -EINVAL leaves a message. */
static int parse_rule_body(struct acl_ctx *c, const struct nn_ent *e, struct nn_jv *v,
			   struct nn_rule *r)
{
	static const char *const src_keys[] = { "devices", "users", "groups", NULL };
	static const char *const dst_keys[] = { "devices", "resources", "prefixes", NULL };
	struct idx_set *src = &c->src, *grp = &c->grp, *dd = &c->dd, *dr = &c->dr;
	struct nn_build *b = c->b;
	struct nn_jv *so, *dobj;
	bool groups_only = false;
	int err, ferr;
	size_t i;

	err = side_obj(b, e, v, "src", src_keys, &r->src_star, &so);
	if (!err && so)
		err = resolve(c, e, r, so, "src", REF_DEVICES, src);
	if (!err && so)
		err = resolve(c, e, r, so, "src", REF_USERS, src);
	if (!err && so)
		err = resolve(c, e, r, so, "src", REF_GROUPS, grp);
	/* src_devices is the union; the group part is kept apart too. With
	 * sources by groups only (most rules) the union is the group part:
	 * sorted once, one array for both (below). */
	groups_only = !src->n;
	for (i = 0; !err && !groups_only && i < grp->n; i++)
		err = set_add(src, grp->v[i]);
	if (!err)
		err = side_obj(b, e, v, "dst", dst_keys, &r->dst_star, &dobj);
	if (!err && dobj)
		err = resolve(c, e, r, dobj, "dst", REF_DEVICES, dd);
	if (!err && dobj)
		err = resolve(c, e, r, dobj, "dst", REF_RESOURCES, dr);
	if (!err)
		err = parse_dst_prefixes(b, e, dobj, r);
	if (!err)
		err = keep_dead_dst(c, r);
	c->dead_dst.n = 0;
	if (!err)
		err = parse_proto(b, e, v, &r->proto);
	if (!err)
		err = parse_ports(b, e, v, r);
	ferr = set_finish(src, &r->src_devices, &r->n_src_devices);
	ferr = set_finish(grp, &r->src_grp_devices, &r->n_src_grp_devices) ?: ferr;
	/* A rule whose group part equals the union (sources by groups only,
	 * most rules) keeps one array for both (policy.h). */
	if (groups_only) {
		free(r->src_devices);
		r->src_devices = r->src_grp_devices;
		r->n_src_devices = r->n_src_grp_devices;
	} else if (r->n_src_grp_devices && r->n_src_grp_devices == r->n_src_devices &&
		   !memcmp(r->src_grp_devices, r->src_devices,
			   r->n_src_devices * sizeof(*r->src_devices))) {
		free(r->src_grp_devices);
		r->src_grp_devices = r->src_devices;
	}
	ferr = set_finish(dd, &r->dst_devices, &r->n_dst_devices) ?: ferr;
	ferr = set_finish(dr, &r->dst_resources, &r->n_dst_resources) ?: ferr;
	return err ?: ferr;
}

/* The last message becomes the rejection: a deny rule cannot go alone. */
static int reject_deny(struct nn_build *b, size_t since)
{
	struct nn_errlist *e = b->errs;
	char *msg;

	if (e && e->n > since &&
	    asprintf(&msg, "%s; a deny rule cannot be dropped without widening access",
		     e->msgs[e->n - 1]) >= 0) {
		free(e->msgs[e->n - 1]);
		e->msgs[e->n - 1] = msg;
	}
	return nn_reject_last(b, since);
}

static int parse_rule(struct acl_ctx *c, uint32_t ni, struct nn_jv *v, size_t k, uint32_t idx)
{
	struct nn_build *b = c->b;
	const struct nn_ent *ne = &b->nets[ni].ent;
	struct nn_rule *r = &b->p->rules[idx];
	size_t since = nn_nerrs(b);
	const char *act = NULL;
	struct nn_ent e;
	int err;

	r->network = ni;
	nn_ent_init_at(&e, ne, "rule", NULL, "acl", k);
	if (!nn_jv_is_object(v)) {
		nn_ent_err(b, &e, "%s is not an object, so it may be a deny rule", e.path);
		return nn_reject_last(b, since);
	}
	if (nn_js_string(b, &e, v, "action", NN_JS_REQUIRED, &act))
		return nn_reject_last(b, since);
	if (!strcmp(act, "allow")) {
		r->action = NN_ACT_ALLOW;
	} else if (!strcmp(act, "deny")) {
		r->action = NN_ACT_DENY;
	} else {
		char q[32];

		nn_ent_err(b, &e,
			   "%s.action \"%s\" is neither allow nor deny, so it may be a deny rule",
			   e.path, nn_quote(act, q, sizeof(q)));
		return nn_reject_last(b, since);
	}
	err = nn_js_id(b, &e, v, "rule_id", r->id);
	if (!err) {
		nn_ent_init_at(&e, ne, "rule", r->id, "acl", k);
		err = parse_rule_body(c, &e, v, r);
	}
	if (err == -ENOMEM)
		return err;
	if (err && r->action == NN_ACT_DENY)
		return reject_deny(b, since);
	if (err) {
		b->rule_drop[idx] = true;
		nn_note_drop(b, since, "allow rule");
	}
	return 0;
}

static void dup_rule(struct nn_build *b, uint32_t i, size_t n)
{
	char l[NN_LABEL_MAX];
	const struct nn_rule *r = &b->p->rules[i];

	b->rule_drop[i] = true;
	if (r->action == NN_ACT_DENY)
		b->deny_dup = (int64_t)i;
	nn_errlist_add(b->errs, "%s: rule_id appears %zu times in the ACL; %s",
		       nn_label_of(b, r->network, "rule", r->id, l, sizeof(l)), n,
		       r->action == NN_ACT_DENY ?
			       "a deny rule cannot be dropped without widening access" :
			       "allow rule dropped");
}

/* Network @ni's rules into the slots from @first on. */
static int network_acl(struct acl_ctx *c, uint32_t ni, uint32_t first)
{
	struct nn_build *b = c->b;
	size_t k, end = first + nn_jv_size(b->nets[ni].acl), m = 0;
	struct nn_skey *keys;
	struct nn_jv *v;
	int err;

	nn_jv_foreach(b->nets[ni].acl, k, v)
	{
		err = parse_rule(c, ni, v, k, first + (uint32_t)k);
		if (err)
			return err;
	}
	keys = calloc(end - first + 1, sizeof(*keys));
	if (!keys)
		return -ENOMEM;
	for (k = first; k < end; k++)
		if (!b->rule_drop[k])
			keys[m++] = (struct nn_skey){ b->p->rules[k].id, 0, (uint32_t)k };
	/* Ids name counters and log lines; two rules with one id would make
	 * both ambiguous. */
	b->deny_dup = -1;
	err = nn_find_dups(keys, m, dup_rule, b);
	free(keys);
	if (err)
		return err;
	if (b->deny_dup >= 0) {
		const struct nn_rule *r = &b->p->rules[b->deny_dup];
		char l[NN_LABEL_MAX];

		return nn_reject(
			b,
			"%s: deny rule's rule_id is not unique in the ACL, and a deny rule cannot be dropped without widening access",
			nn_label_of(b, ni, "rule", r->id, l, sizeof(l)));
	}
	return 0;
}

/* The name indexes built on a helper thread while this one runs the
 * cross checks (at 100k devices ~30 ms of hash inserts off the calling
 * thread). */
struct acl_pre {
	struct acl_ctx c;
	const struct nn_policy *p;
	pthread_t t;
	int err;
};

static void *acl_names_run(void *arg)
{
	struct acl_pre *pre = arg;

	pre->err = build_names(&pre->c, pre->p);
	return NULL;
}

void nn_acl_prepare(struct nn_build *b)
{
	const struct nn_policy *p = b->p;
	struct acl_pre *pre;

	if (p->n_devices + p->n_users < nn_validate_par_min)
		return;
	pre = calloc(1, sizeof(*pre));
	if (!pre)
		return; /* built in nn_validate_acls instead */
	pre->p = p;
	if (!nn_thread_start(&pre->t, acl_names_run, pre)) {
		free(pre);
		return;
	}
	b->acl_pre = pre;
}

/* The helper's indexes into @c (joined) with its error in *@err; false
 * when none was started. */
static bool take_pre(struct nn_build *b, struct acl_ctx *c, int *err)
{
	struct acl_pre *pre = b->acl_pre;

	if (!pre)
		return false;
	pthread_join(pre->t, NULL);
	*c = pre->c;
	*err = pre->err;
	free(pre);
	b->acl_pre = NULL;
	return true;
}

void nn_acl_pre_drop(struct nn_build *b)
{
	struct acl_ctx c = { 0 };
	int err;

	if (take_pre(b, &c, &err))
		free_ctx(&c);
}

static void free_sets(struct acl_ctx *c)
{
	free(c->dead_dst.v);
	free(c->src.v);
	free(c->grp.v);
	free(c->dd.v);
	free(c->dr.v);
}

static int acl_job(struct nn_build *tb, struct nn_vjob *j, void *arg)
{
	struct acl_ctx *c = arg;

	c->b = tb;
	return network_acl(c, j->ni, j->first_rule);
}

/* Every rule takes a slot, valid or not: each network's first rule slot is
 * known beforehand, so networks can be read on two threads
 * (validate_split.c), each with its own working sets. */
int nn_validate_acls(struct nn_build *b)
{
	struct acl_ctx c = { 0 }, c2;
	struct nn_vjob *jobs;
	size_t ni, n = 0, k;
	int err;

	if (!take_pre(b, &c, &err))
		err = build_names(&c, b->p);
	if (!err)
		err = build_udev(&c, b);
	jobs = calloc(b->p->n_networks + 1, sizeof(*jobs));
	if (!jobs)
		err = -ENOMEM;
	for (ni = 0; !err && ni < b->p->n_networks; ni++) {
		if (b->net_drop[ni])
			continue;
		jobs[n].ni = (uint32_t)ni;
		jobs[n].first_rule = (uint32_t)b->p->n_rules;
		jobs[n].at = nn_nerrs(b);
		b->p->n_rules += nn_jv_size(b->nets[ni].acl);
		n++;
	}
	if (!err && b->p->n_rules >= nn_validate_par_min && n > 1) {
		c2 = c;
		c2.dead_dst = c2.src = c2.grp = c2.dd = c2.dr = (struct idx_set){ 0 };
		err = nn_split_jobs(b, jobs, n, acl_job, (void *[2]){ &c, &c2 });
		free_sets(&c2);
		c.b = b;
	} else {
		for (k = 0; !err && k < n; k++)
			err = network_acl(&c, jobs[k].ni, jobs[k].first_rule);
	}
	free_ctx(&c);
	free(jobs);
	return err;
}
