/* SPDX-License-Identifier: GPL-2.0 */
/*
 * delta_int.h - the kept state of the incremental path (delta.c builds it,
 * delta_apply.c judges and applies changes). Private to user/compile.
 */
#ifndef NANAMI_COMPILE_DELTA_INT_H
#define NANAMI_COMPILE_DELTA_INT_H

#include "compile/compile_int.h"
#include "compile/delta.h"
#include "compile/owners.h" /* INC_NONE (nn_inc_put() deletes), INC_OTHER */
#include "lib/table.h"

/* (network index, name) as a table key. */
struct inc_key {
	uint32_t net;
	char name[NN_NAME_MAX];
};

struct inc_net {
	uint32_t idx;	      /* index into p->networks */
	struct nn_jv *tenant; /* borrowed from the document (rebound at a repack) */
	struct nn_jv *net;
	/* Its ACL repeats a rule_id: a dropped copy and a standing rule may
	 * share it, so the document's rules cannot be told apart by id (the
	 * rule indexes would be wrong); no fast path in it. */
	bool dup_rule_ids;
};

/* The standing rules of a network naming one device id, by side (sorted). */
struct inc_devrules {
	struct vec src, dst;
};

struct inc_user {
	uint32_t idx;		/* index into p->users */
	const struct nn_jv *js; /* borrowed from the document, or in s->held */
	bool own;		/* js is in s->held (a fast-path user change) */
};

/* More changes in one delta than this: the full path (the checks between
 * changes are quadratic, and a large delta is no per-device change). */
#define INC_MAX_CHANGES 64

struct chg {
	bool upsert;
	const char *id;
	uint32_t ni;		    /* network index */
	uint32_t old;		    /* device index before, INC_NONE: new */
	uint8_t okey[32];	    /* its key before (when old is a device) */
	struct nn_device nd;	    /* the device after (upsert) */
	bool own_pref;		    /* nd.pref is the change's (from its own parse) */
	uint32_t ocls[NN_DC_COUNT]; /* classes before (old) */
	uint32_t ncls[NN_DC_COUNT]; /* classes after (upsert) */
	struct vec named, grp;	    /* its source rules after (upsert) */
};

struct nn_inc {
	struct nn_policy *p;
	size_t dev_cap; /* p->devices allocated */
	struct nn_compile_state *cs;
	struct nn_held *doc; /* a reference */
	uint64_t doc_epoch;  /* doc->epoch the borrowed pointers are of */
	struct nn_limits lim;
	uint32_t (*cls)[NN_DC_COUNT]; /* [dev_cap]: the device's classes */
	uint32_t *slot;		      /* [dev_cap]: its counter slot */
	uint8_t *taken;		      /* [slot_cap]: device slot space in use */
	uint32_t slot_cap;
	struct nn_table dev_ids;     /* device id -> index */
	struct nn_table doc_ids;     /* device id -> copies in the document */
	struct nn_table rule_names;  /* inc_key (net, device id) any rule of it names */
	struct nn_table dev_rules;   /* inc_key (net, device id) -> struct inc_devrules */
	struct inc_owners owners;    /* address / key -> device, INC_OTHER */
	struct nn_table users;	     /* inc_key (net, user id) -> struct inc_user */
	struct nn_table nets;	     /* "tenant\0network" -> struct inc_net */
	struct nn_table nodes;	     /* node id -> struct nn_jv * (standing nodes) */
	struct nn_table group_rules; /* inc_key (net, group) -> struct vec */
	struct vec *user_rules;	     /* [n_users]: rules naming the user in src */
	struct vec *user_devs;	     /* [n_users]: its devices (unordered) */
	struct nn_table group_users; /* inc_key (net, group) -> standing users in it */
	struct nn_table group_names; /* inc_key (net, group) a rule of it names in src */
	struct nn_jdoc held;	     /* user objects of fast-path user changes */
	size_t held_live;	     /* held's bytes after its last compaction */
	unsigned long held_compactions;
	size_t doc_devices; /* device entries in the document */
	uint64_t seq;	    /* the full apply it builds on */
};

uint32_t nn_inc_get(const struct nn_table *t, const void *k, size_t klen);
int nn_inc_put(struct nn_table *t, const void *k, size_t klen, uint32_t v);
size_t nn_inc_key(struct inc_key *k, uint32_t net, const char *name);

/* delta_apply.c, shared with delta_user.c */
int nn_inc_why(char *why, size_t len, const char *fmt, const char *id);
char *nn_inc_mini_doc(const struct nn_inc *s, const struct nn_jv *tenant, const struct nn_jv *net,
		      const struct nn_jv *user, const json_t *dev, size_t *len);
int nn_inc_mini_parse(const struct nn_inc *s, const struct nn_jv *tenant, const struct nn_jv *net,
		      const struct nn_jv *user, const json_t *dev, struct nn_policy **mp,
		      struct nn_errlist *errs);
bool nn_inc_routing_msg(struct nn_inc *s, const struct nn_device *d);
const struct inc_devrules *nn_inc_dev_rules(const struct nn_inc *s, uint32_t ni, const char *id);
int nn_inc_src_sigs(struct nn_inc *s, uint32_t ni, uint32_t u, const char (*groups)[NN_NAME_MAX],
		    size_t n_groups, const char *id, struct vec *named, struct vec *grp);
int nn_inc_new_classes(struct nn_inc *s, struct chg *c, uint32_t ni, uint32_t u,
		       const char (*groups)[NN_NAME_MAX], size_t n_groups, char *why, size_t wl);
bool nn_inc_classes_stay(struct nn_inc *s, const struct chg *c, size_t n);
int nn_inc_apply_upsert(struct nn_inc *s, struct chg *c, struct nn_dev_patch *pt);
void nn_inc_collapse(struct nn_dev_patch *pt);
/* A delta of device upserts and deletes; the contract of nn_inc_delta(),
 * but @pt is left to the caller to free on error. */
int nn_inc_device_delta(struct nn_inc *s, const json_t *changes, struct nn_dev_patch *pt, char *why,
			size_t whylen);

/* delta.c: the pointers into the held document again after a repack
 * (0, or -ENOMEM: the state is unusable). */
int nn_inc_rebind(struct nn_inc *s);

/* delta.c: the user -> devices index, kept as devices come and go */
int nn_inc_udev_add(struct nn_inc *s, uint32_t u, uint32_t d);
void nn_inc_udev_del(struct nn_inc *s, uint32_t u, uint32_t d);

/* delta_user.c: a delta of one user upsert (its groups, its routing
 * preference); the same contract as nn_inc_delta(). */
int nn_inc_user_delta(struct nn_inc *s, const json_t *ch, struct nn_dev_patch *pt, char *why,
		      size_t wl);

#endif /* NANAMI_COMPILE_DELTA_INT_H */
