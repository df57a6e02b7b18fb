/* SPDX-License-Identifier: GPL-2.0 */
/*
 * json_int.h - private to the snapshot parser (snapshot.c, validate.c,
 * validate_acl.c, routing.c): the build state and the strict JSON getters.
 * Nothing outside those files includes it; the public face is policy.h.
 */
#ifndef NANAMI_POLICY_JSON_INT_H
#define NANAMI_POLICY_JSON_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "policy/jdoc.h"
#include "policy/policy.h"
#include "policy/strset.h"

/* Entry labels are "tenant=<id> network=<id> device=<id>" (three ids and
 * keys); paths are "tenants[N].networks[N].devices[N]". */
#define NN_LABEL_MAX (4 * NN_NAME_MAX + 32)
#define NN_PATH_MAX 128

/* What a message is about: @label names it for people, @path locates it in
 * the document for field-level errors. */
struct nn_ent {
	char label[NN_LABEL_MAX];
	char path[NN_PATH_MAX];
};

struct nn_vjob;
struct acl_pre;

/* Per-network staging, indexed like p->networks before compaction. */
struct nn_net_stage {
	struct nn_jv *acl;	      /* borrowed from the document */
	uint32_t first_user, n_users; /* ranges in p->users */
	uint32_t first_dev, n_devs;   /* ranges in p->devices */
	uint32_t first_res, n_res;    /* ranges in p->resources */
	struct nn_ent ent;	      /* label and path of the network */
};

/*
 * Build state. Entries are parsed into the arrays of @p in document order,
 * one slot per input element; a slot that fails validation is only marked
 * in the matching *_drop array, so cross checks (duplicates) can still see
 * and name it. Compaction (nn_compact()) removes marked slots at the end.
 */
struct nn_build {
	struct nn_policy *p;
	const struct nn_limits *lim;
	struct nn_errlist *errs;
	struct nn_jv *root;

	size_t cap_tenants, cap_networks, cap_users, cap_devices;
	size_t cap_nodes, cap_resources, cap_rules;

	bool *ten_drop, *net_drop, *user_drop, *dev_drop;
	bool *node_drop, *res_drop, *rule_drop;
	struct nn_net_stage *nets;
	int64_t deny_dup; /* a deny rule with a duplicate id, -1 */

	/* Each slot's object in the document (borrowed), so that what a
	 * dropped entry claimed can be read back from it (closed.c). */
	struct nn_jv **ten_js, **net_js, **res_js, **dev_js, **node_js;
	struct nn_prefix *closed; /* becomes p->closed */
	/* While a network's devices are parsed: its user ids -> first slot. */
	const struct nn_strset *net_users;
	size_t n_closed, cap_closed;
	/* When not NULL, a network's children are not parsed in the walk but
	 * queued here, for two threads after it (validate_split.c). */
	struct nn_vjob *jobs;
	size_t n_jobs;
	/* The ACL's name indexes, being built beside the cross checks
	 * (nn_acl_prepare), or NULL. */
	struct acl_pre *acl_pre;
};

/*
 * One network's share of validation, to be run on either of two threads
 * (validate_split.c): its slot ranges fixed beforehand, its messages kept
 * apart and put back in the serial order.
 */
struct nn_vjob {
	uint32_t ni;				   /* network slot */
	uint32_t first_user, first_res, first_dev; /* entries: slot ranges */
	uint32_t first_rule;			   /* ACL: first rule slot */
	struct nn_jv *users, *res, *devs;	   /* entries: the lists */
	size_t at; /* its messages go before the caller's message @at */
	/* Set by the run: */
	size_t msg_first, msg_end; /* in its thread's message list */
	int err;
	int side;
	bool done;
};

/* Run @fn on each job with a build of its thread (@b with its own message
 * list and closed space), the jobs taken in order by this thread (arg[0])
 * and a helper (arg[1]) as each gets free; then the messages go into
 * @b->errs as the serial walk would have written them, the closed space
 * into @b. The first failing job's error (later jobs' work is dropped, as
 * the serial walk stops there), or 0. */
typedef int (*nn_vjob_fn)(struct nn_build *tb, struct nn_vjob *j, void *arg);
int nn_split_jobs(struct nn_build *b, struct nn_vjob *jobs, size_t n, nn_vjob_fn fn, void *arg[2]);

/* Flags of the getters. */
#define NN_JS_OPTIONAL 0 /* absent or null: not set, no error */
#define NN_JS_REQUIRED 1 /* absent or null: error */

/* snprintf without truncation warnings, for labels and paths. */
void nn_bprintf(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* @dst (NN_PATH_MAX bytes) = "@base.@key", truncated like snprintf; by hand
 * (it runs for every reference list of every rule). @dst may be @base. */
void nn_path_join(char *dst, const char *base, const char *key);
void nn_ent_init(struct nn_ent *e, const struct nn_ent *parent, const char *kind, const char *id,
		 const char *path_fmt, ...) __attribute__((format(printf, 5, 6)));
/* nn_ent_init with the path "@parent's path.@field[@idx]" ("@field[@idx]"
 * without a parent), formatted by hand: it runs for every entry. */
void nn_ent_init_at(struct nn_ent *e, const struct nn_ent *parent, const char *kind, const char *id,
		    const char *field, size_t idx);
void nn_ent_err(struct nn_build *b, const struct nn_ent *e, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Turn the last message into the whole-snapshot rejection reason and
 * return -EINVAL; @since is errs->n before the failing step. */
int nn_reject_last(struct nn_build *b, size_t since);
int nn_reject(struct nn_build *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

const char *nn_json_type(const struct nn_jv *v);
/* A printable excerpt of untrusted text for messages (no control chars,
 * bounded). */
const char *nn_quote(const char *s, char *buf, size_t len);
bool nn_id_valid(const char *s);

int nn_js_object(struct nn_build *b, const struct nn_ent *e, struct nn_jv *obj, const char *key,
		 int flags, struct nn_jv **out);
int nn_js_array(struct nn_build *b, const struct nn_ent *e, struct nn_jv *obj, const char *key,
		int flags, struct nn_jv **out);
int nn_js_string(struct nn_build *b, const struct nn_ent *e, struct nn_jv *obj, const char *key,
		 int flags, const char **out);
int nn_js_int(struct nn_build *b, const struct nn_ent *e, struct nn_jv *obj, const char *key,
	      int flags, int64_t min, int64_t max, int64_t *out, bool *set);
int nn_js_id(struct nn_build *b, const struct nn_ent *e, struct nn_jv *obj, const char *key,
	     char out[NN_NAME_MAX]);
/* @obj.@key: an optional/required array of valid ids (as nn_js_id_list
 * checks them), *@out the array itself (NULL when absent or empty): read
 * in place, without a copy of the names. */
int nn_js_id_array(struct nn_build *b, const struct nn_ent *e, struct nn_jv *obj, const char *key,
		   int flags, struct nn_jv **out);
/* Array of ids: *out malloc'd (NULL when empty). */
int nn_js_id_list(struct nn_build *b, const struct nn_ent *e, struct nn_jv *obj, const char *key,
		  int flags, char (**out)[NN_NAME_MAX], size_t *n);
int nn_js_key(struct nn_build *b, const struct nn_ent *e, struct nn_jv *obj, const char *key,
	      uint8_t out[32]);
int nn_js_state(struct nn_build *b, const struct nn_ent *e, struct nn_jv *obj, uint8_t *out);
int nn_js_roles(struct nn_build *b, const struct nn_ent *e, struct nn_jv *obj, uint32_t *out);
int nn_js_layer(struct nn_build *b, const struct nn_ent *e, struct nn_jv *obj, const char *key,
		struct nn_routing_layer *out);
/* A single address of @family inside gateway.overlay_prefixes (which must
 * be parsed already). */
int nn_js_overlay_addr(struct nn_build *b, const struct nn_ent *e, struct nn_jv *obj,
		       const char *key, int flags, int family, uint8_t out[NN_ADDR_LEN], bool *set);
int nn_js_endpoint(struct nn_build *b, const struct nn_ent *e, struct nn_jv *obj,
		   char out[NN_ENDPOINT_MAX]);

/* validate_cross.c: helpers shared by the validators. */
struct nn_skey {
	const char *s;
	uint32_t scope; /* e.g. network for ids unique per network */
	uint32_t idx;
};

int nn_skey_cmp(const void *a, const void *b);
/* Call @dup for every key whose (scope, s) occurs twice, in the order of
 * (scope, s, idx); @k is reordered. -ENOMEM or 0. */
int nn_find_dups(struct nn_skey *k, size_t n, void (*dup)(struct nn_build *, uint32_t, size_t),
		 struct nn_build *b);
/* Append "; @what dropped" to the last message if added since @since. */
void nn_note_drop(struct nn_build *b, size_t since, const char *what);
size_t nn_nerrs(const struct nn_build *b);
const char *nn_label_net(const struct nn_build *b, uint32_t ni, char *buf, size_t len);
const char *nn_label_of(const struct nn_build *b, uint32_t ni, const char *kind, const char *id,
			char *buf, size_t len);
int nn_cross_checks(struct nn_build *b);

/* validate.c: nodes and tenants with everything in them, cross checks. */
int nn_validate_entries(struct nn_build *b);
/* validate_acl.c: every network's rules, after the cross checks. */
int nn_validate_acls(struct nn_build *b);
/* Start building the ACL's name indexes on a helper thread, for a large
 * snapshot whose entries are read (they need only the slots' ids, not the
 * cross checks' drops); nn_validate_acls takes them, nn_acl_pre_drop
 * joins and frees them when validation ends before. */
void nn_acl_prepare(struct nn_build *b);
void nn_acl_pre_drop(struct nn_build *b);
/* validate_cross.c: drop marked slots, renumber every reference. */
int nn_compact(struct nn_build *b);
/* closed.c: remember @pf as closed space; the address space of every
 * dropped entry, once validation is done. */
int nn_close_prefix(struct nn_build *b, const struct nn_prefix *pf);
/* Every address or prefix a dropped entry's text claims (@v a string or an
 * array of them), read as leniently as closed space reads it (closed.c:
 * host bits masked, an address as /128, what is no address skipped), each
 * passed masked to @fn; stops at @fn's first error. */
int nn_claims(const struct nn_jv *v, int (*fn)(void *arg, const struct nn_prefix *pf), void *arg);
int nn_collect_closed(struct nn_build *b);
/* routing.c: served_here and effective routing of every device. */
void nn_resolve_routing(struct nn_policy *p, struct nn_errlist *errs);

#endif /* NANAMI_POLICY_JSON_INT_H */
