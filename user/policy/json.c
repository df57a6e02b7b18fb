// SPDX-License-Identifier: GPL-2.0
/*
 * json.c - the strict JSON getters and the message helpers of the
 * snapshot parser (json_int.h).
 *
 * Every type error names the full field path
 * ("tenants[0].networks[1].devices[2].overlay_ipv6") so an operator can find
 * it in the document the control plane sent; every message starts with the
 * label of the entry it is about ("tenant=acme network=acme-prod device=x").
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/addr.h"
#include "lib/base64.h"
#include "policy/json_int.h"

/* ---- messages ---- */

void nn_bprintf(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;

	/* Labels and paths are bounded on purpose: a truncated one still
	 * names the entry, and ids are at most NN_NAME_MAX - 1 bytes. */
	va_start(ap, fmt);
	vsnprintf(buf, len, fmt, ap);
	va_end(ap);
}

/* Append @s to the string being built in @buf (@size bytes) at @at,
 * truncated as snprintf would; the new end. */
static size_t bounded_cat(char *buf, size_t size, size_t at, const char *s)
{
	size_t l = strlen(s);

	if (at + 1 >= size)
		return at;
	if (l > size - 1 - at)
		l = size - 1 - at;
	memcpy(buf + at, s, l);
	buf[at + l] = 0;
	return at + l;
}

/* Labels (NN_LABEL_MAX bytes) and paths (NN_PATH_MAX bytes). */
static size_t label_cat(char *buf, size_t at, const char *s)
{
	return bounded_cat(buf, NN_LABEL_MAX, at, s);
}

static size_t path_cat(char *buf, size_t at, const char *s)
{
	return bounded_cat(buf, NN_PATH_MAX, at, s);
}

void nn_path_join(char *dst, const char *base, const char *key)
{
	size_t at = strnlen(base, NN_PATH_MAX - 1), l;

	if (dst != base)
		memcpy(dst, base, at);
	if (at + 1 < NN_PATH_MAX)
		dst[at++] = '.';
	l = strlen(key);
	if (l > NN_PATH_MAX - 1 - at)
		l = NN_PATH_MAX - 1 - at;
	memcpy(dst + at, key, l);
	dst[at + l] = 0;
}

/* The label "parent's label kind=id", by hand, not snprintf: every entry
 * of a snapshot gets one, and formatting them was a tenth of validation at
 * 100k devices. The same bounded, truncated result. */
static void ent_label(struct nn_ent *e, const struct nn_ent *parent, const char *kind,
		      const char *id)
{
	size_t at = 0;

	e->label[0] = 0;
	if (parent && parent->label[0]) {
		at = label_cat(e->label, at, parent->label);
		at = label_cat(e->label, at, " ");
	}
	at = label_cat(e->label, at, kind);
	at = label_cat(e->label, at, "=");
	label_cat(e->label, at, id ? id : "?");
}

void nn_ent_init(struct nn_ent *e, const struct nn_ent *parent, const char *kind, const char *id,
		 const char *path_fmt, ...)
{
	va_list ap;

	ent_label(e, parent, kind, id);
	va_start(ap, path_fmt);
	vsnprintf(e->path, sizeof(e->path), path_fmt, ap);
	va_end(ap);
}

void nn_ent_init_at(struct nn_ent *e, const struct nn_ent *parent, const char *kind, const char *id,
		    const char *field, size_t idx)
{
	char num[24], *d = num + sizeof(num);
	size_t at = 0;

	/* vsnprintf for every entry (twice: before and after its id is
	 * known) was 4 % of a cold apply. */
	*--d = 0;
	*--d = ']';
	do
		*--d = (char)('0' + idx % 10);
	while (idx /= 10);
	*--d = '[';
	ent_label(e, parent, kind, id);
	e->path[0] = 0;
	if (parent) {
		at = path_cat(e->path, at, parent->path);
		at = path_cat(e->path, at, ".");
	}
	at = path_cat(e->path, at, field);
	path_cat(e->path, at, d);
}

void nn_ent_err(struct nn_build *b, const struct nn_ent *e, const char *fmt, ...)
{
	char *msg = NULL;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	nn_errlist_add(b->errs, "%s: %s", e->label, msg);
	free(msg);
}

int nn_reject_last(struct nn_build *b, size_t since)
{
	struct nn_errlist *e = b->errs;
	char *msg;

	if (!e)
		return -EINVAL;
	if (e->n <= since) {
		nn_errlist_add(e, "snapshot rejected");
		return -EINVAL;
	}
	if (asprintf(&msg, "snapshot rejected: %s", e->msgs[e->n - 1]) < 0)
		return -EINVAL;
	free(e->msgs[e->n - 1]);
	e->msgs[e->n - 1] = msg;
	return -EINVAL;
}

int nn_reject(struct nn_build *b, const char *fmt, ...)
{
	char *msg = NULL;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&msg, fmt, ap);
	va_end(ap);
	nn_errlist_add(b->errs, "snapshot rejected: %s", n < 0 ? "" : msg);
	free(msg);
	return -EINVAL;
}

const char *nn_quote(const char *s, char *buf, size_t len)
{
	size_t i, o = 0;

	/* Untrusted text goes into logs: keep it printable and short so a
	 * crafted value cannot forge log lines. */
	for (i = 0; s[i] && o + 4 < len; i++) {
		unsigned char c = (unsigned char)s[i];

		buf[o++] = (c >= 0x20 && c < 0x7f && c != '"') ? (char)c : '?';
	}
	if (s[i] && o + 3 < len) {
		memcpy(buf + o, "...", 3);
		o += 3;
	}
	buf[o] = '\0';
	return buf;
}

bool nn_id_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n >= NN_NAME_MAX)
		return false;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		/* Ids appear in key=value logs, shell commands and pin
		 * names: no spaces, quotes, backslashes or control chars. */
		if (c <= 0x20 || c >= 0x7f || c == '"' || c == '\'' || c == '`' || c == '\\')
			return false;
	}
	return true;
}

/* ---- strict getters ---- */

const char *nn_json_type(const struct nn_jv *v)
{
	switch ((enum nn_jtype)v->type) {
	case NN_JV_OBJECT:
		return "object";
	case NN_JV_ARRAY:
		return "array";
	case NN_JV_STRING:
		return "string";
	case NN_JV_INTEGER:
		return "integer";
	case NN_JV_REAL:
		return "real";
	case NN_JV_TRUE:
	case NN_JV_FALSE:
		return "boolean";
	case NN_JV_NULL:
		return "null";
	}
	return "?";
}

/* Look @key up; 1 = present and not null, 0 = not set (no error unless
 * required), -EINVAL = required but missing. */
static int js_get(struct nn_build *b, const struct nn_ent *e, struct nn_jv *obj, const char *key,
		  int flags, struct nn_jv **v)
{
	*v = nn_jv_get(obj, key);
	if (*v && !nn_jv_is_null(*v))
		return 1;
	*v = NULL;
	if (flags & NN_JS_REQUIRED) {
		nn_ent_err(b, e, "%s.%s: missing", e->path, key);
		return -EINVAL;
	}
	return 0;
}

static int js_type_err(struct nn_build *b, const struct nn_ent *e, const char *key,
		       const char *want, const struct nn_jv *v)
{
	nn_ent_err(b, e, "%s.%s: expected %s, got %s", e->path, key, want, nn_json_type(v));
	return -EINVAL;
}

int nn_js_object(struct nn_build *b, const struct nn_ent *e, struct nn_jv *obj, const char *key,
		 int flags, struct nn_jv **out)
{
	int r = js_get(b, e, obj, key, flags, out);

	if (r <= 0)
		return r;
	if (!nn_jv_is_object(*out))
		return js_type_err(b, e, key, "an object", *out);
	return 0;
}

int nn_js_array(struct nn_build *b, const struct nn_ent *e, struct nn_jv *obj, const char *key,
		int flags, struct nn_jv **out)
{
	int r = js_get(b, e, obj, key, flags, out);

	if (r <= 0)
		return r;
	if (!nn_jv_is_array(*out))
		return js_type_err(b, e, key, "an array", *out);
	return 0;
}

int nn_js_string(struct nn_build *b, const struct nn_ent *e, struct nn_jv *obj, const char *key,
		 int flags, const char **out)
{
	struct nn_jv *v;
	int r = js_get(b, e, obj, key, flags, &v);

	*out = NULL;
	if (r <= 0)
		return r;
	if (!nn_jv_is_string(v))
		return js_type_err(b, e, key, "a string", v);
	*out = nn_jv_str(v);
	return 0;
}

int nn_js_int(struct nn_build *b, const struct nn_ent *e, struct nn_jv *obj, const char *key,
	      int flags, int64_t min, int64_t max, int64_t *out, bool *set)
{
	struct nn_jv *v;
	int r = js_get(b, e, obj, key, flags, &v);
	int64_t x;

	if (set)
		*set = false;
	if (r <= 0)
		return r;
	if (!nn_jv_is_integer(v))
		return js_type_err(b, e, key, "an integer", v);
	x = nn_jv_int(v);
	if (x < min || x > max) {
		nn_ent_err(b, e, "%s.%s: %lld is out of range %lld..%lld", e->path, key,
			   (long long)x, (long long)min, (long long)max);
		return -EINVAL;
	}
	*out = x;
	if (set)
		*set = true;
	return 0;
}

/* @s is a valid id, or an error naming "@e->path.@key" (with "[@idx]" when
 * @idx >= 0). The path is formatted only on error: this runs for every id
 * and every reference of a snapshot. */
static int check_id(struct nn_build *b, const struct nn_ent *e, const char *key, long idx,
		    const char *s)
{
	char where[NN_PATH_MAX + 48], q[80];

	if (nn_id_valid(s))
		return 0;
	if (idx < 0)
		snprintf(where, sizeof(where), "%s.%s", e->path, key);
	else
		snprintf(where, sizeof(where), "%s.%s[%ld]", e->path, key, idx);
	nn_ent_err(
		b, e,
		"%s: \"%s\" is not a valid id (1-%d printable ASCII characters, no spaces, quotes or backslashes)",
		where, nn_quote(s, q, sizeof(q)), NN_NAME_MAX - 1);
	return -EINVAL;
}

int nn_js_id(struct nn_build *b, const struct nn_ent *e, struct nn_jv *obj, const char *key,
	     char out[NN_NAME_MAX])
{
	const char *s;
	int err;

	err = nn_js_string(b, e, obj, key, NN_JS_REQUIRED, &s);
	if (err)
		return err;
	err = check_id(b, e, key, -1, s);
	if (err)
		return err;
	strcpy(out, s);
	return 0;
}

int nn_js_id_array(struct nn_build *b, const struct nn_ent *e, struct nn_jv *obj, const char *key,
		   int flags, struct nn_jv **out)
{
	struct nn_jv *arr, *v;
	size_t i;
	int err;

	*out = NULL;
	err = nn_js_array(b, e, obj, key, flags, &arr);
	if (err || !arr || !nn_jv_size(arr))
		return err;
	nn_jv_foreach(arr, i, v)
	{
		if (!nn_jv_is_string(v)) {
			nn_ent_err(b, e, "%s.%s[%zu]: expected a string, got %s", e->path, key, i,
				   nn_json_type(v));
			return -EINVAL;
		}
		err = check_id(b, e, key, (long)i, nn_jv_str(v));
		if (err)
			return err;
	}
	*out = arr;
	return 0;
}

int nn_js_id_list(struct nn_build *b, const struct nn_ent *e, struct nn_jv *obj, const char *key,
		  int flags, char (**out)[NN_NAME_MAX], size_t *n)
{
	struct nn_jv *arr, *v;
	size_t i;
	int err;

	*out = NULL;
	*n = 0;
	err = nn_js_id_array(b, e, obj, key, flags, &arr);
	if (err || !arr)
		return err;
	*out = calloc(nn_jv_size(arr), sizeof(**out));
	if (!*out)
		return -ENOMEM;
	nn_jv_foreach(arr, i, v)
	{
		strcpy((*out)[i], nn_jv_str(v));
	}
	*n = nn_jv_size(arr);
	return 0;
}

int nn_js_key(struct nn_build *b, const struct nn_ent *e, struct nn_jv *obj, const char *key,
	      uint8_t out[32])
{
	const char *s;
	char q[64];
	int err;

	err = nn_js_string(b, e, obj, key, NN_JS_REQUIRED, &s);
	if (err)
		return err;
	if (nn_key_from_base64(s, out)) {
		nn_ent_err(b, e, "%s \"%s\" is not a valid 32-byte base64 key", key,
			   nn_quote(s, q, sizeof(q)));
		return -EINVAL;
	}
	return 0;
}

int nn_js_state(struct nn_build *b, const struct nn_ent *e, struct nn_jv *obj, uint8_t *out)
{
	const char *s;
	char q[64];
	int err;

	/* Required: a missing state must never default to "active". */
	err = nn_js_string(b, e, obj, "state", NN_JS_REQUIRED, &s);
	if (err)
		return err;
	if (!strcmp(s, "active")) {
		*out = NN_ST_ACTIVE;
	} else if (!strcmp(s, "disabled")) {
		*out = NN_ST_DISABLED;
	} else {
		nn_ent_err(b, e, "state \"%s\" is neither \"active\" nor \"disabled\"",
			   nn_quote(s, q, sizeof(q)));
		return -EINVAL;
	}
	return 0;
}

int nn_js_roles(struct nn_build *b, const struct nn_ent *e, struct nn_jv *obj, uint32_t *out)
{
	struct nn_jv *arr, *v;
	char q[64];
	size_t i;
	int err;

	*out = 0;
	err = nn_js_array(b, e, obj, "roles", NN_JS_REQUIRED, &arr);
	if (err)
		return err;
	nn_jv_foreach(arr, i, v)
	{
		const char *s = nn_jv_str(v);

		if (!s) {
			nn_ent_err(b, e, "%s.roles[%zu]: expected a string, got %s", e->path, i,
				   nn_json_type(v));
			return -EINVAL;
		}
		if (!strcmp(s, "ingress_gateway")) {
			*out |= NN_ROLE_INGRESS;
		} else if (!strcmp(s, "exit_gateway")) {
			*out |= NN_ROLE_EXIT;
		} else {
			nn_ent_err(
				b, e,
				"roles[%zu] \"%s\" is not a known role (ingress_gateway, exit_gateway)",
				i, nn_quote(s, q, sizeof(q)));
			return -EINVAL;
		}
	}
	return 0;
}

static int js_enum(struct nn_build *b, const struct nn_ent *e, struct nn_jv *obj, const char *key,
		   const char *a, const char *c, uint8_t *out)
{
	const char *s;
	char q[64];
	int err;

	*out = 0;
	err = nn_js_string(b, e, obj, key, NN_JS_OPTIONAL, &s);
	if (err || !s)
		return err;
	if (!strcmp(s, a)) {
		*out = 1;
	} else if (!strcmp(s, c)) {
		*out = 2;
	} else {
		nn_ent_err(b, e, "%s.%s \"%s\" is neither \"%s\" nor \"%s\"", e->path, key,
			   nn_quote(s, q, sizeof(q)), a, c);
		return -EINVAL;
	}
	return 0;
}

static int js_opt_id(struct nn_build *b, const struct nn_ent *e, struct nn_jv *obj, const char *key,
		     char out[NN_NAME_MAX])
{
	struct nn_jv *v = nn_jv_get(obj, key);

	out[0] = '\0';
	if (!v || nn_jv_is_null(v))
		return 0;
	return nn_js_id(b, e, obj, key, out);
}

int nn_js_layer(struct nn_build *b, const struct nn_ent *e, struct nn_jv *obj, const char *key,
		struct nn_routing_layer *out)
{
	struct nn_ent sub = *e;
	struct nn_jv *l;
	int err;

	memset(out, 0, sizeof(*out));
	err = nn_js_object(b, e, obj, key, NN_JS_OPTIONAL, &l);
	if (err || !l)
		return err;
	nn_path_join(sub.path, e->path, key);
	/* enum values: 1 and 2 in the order given, as in policy.h */
	err = js_enum(b, &sub, l, "traffic_mode", "vpn_only", "full_tunnel", &out->traffic_mode);
	if (!err)
		err = js_enum(b, &sub, l, "routing_mode", "auto", "manual", &out->routing_mode);
	if (!err)
		err = js_opt_id(b, &sub, l, "ingress_device", out->ingress);
	if (!err)
		err = js_opt_id(b, &sub, l, "egress_device", out->egress);
	return err;
}

int nn_js_overlay_addr(struct nn_build *b, const struct nn_ent *e, struct nn_jv *obj,
		       const char *key, int flags, int family, uint8_t out[NN_ADDR_LEN], bool *set)
{
	const struct nn_gateway *gw = &b->p->gw;
	char q[NN_ADDR_STRLEN + 8], a[NN_ADDR_STRLEN];
	const char *s;
	size_t i;
	int err, fam;

	if (set)
		*set = false;
	err = nn_js_string(b, e, obj, key, flags, &s);
	if (err || !s)
		return err;
	if (strchr(s, '/')) {
		nn_ent_err(b, e, "%s \"%s\" must be a single address, not a prefix", key,
			   nn_quote(s, q, sizeof(q)));
		return -EINVAL;
	}
	/* An IPv4-mapped IPv6 text would alias an IPv4 address: refuse it. */
	if (nn_addr_parse(s, out, &fam) || fam != family ||
	    (family == NN_FAM_V6 && nn_addr_is_v4mapped(out))) {
		nn_ent_err(b, e, "%s \"%s\" is not an %s address", key, nn_quote(s, q, sizeof(q)),
			   family == NN_FAM_V6 ? "IPv6" : "IPv4");
		return -EINVAL;
	}
	for (i = 0; i < gw->n_overlay_prefixes; i++)
		if (nn_prefix_contains(&gw->overlay_prefixes[i], out))
			break;
	if (i == gw->n_overlay_prefixes) {
		nn_ent_err(b, e, "%s %s is outside gateway.overlay_prefixes", key,
			   nn_addr_format(out, a, sizeof(a)));
		return -EINVAL;
	}
	if (set)
		*set = true;
	return 0;
}

int nn_js_endpoint(struct nn_build *b, const struct nn_ent *e, struct nn_jv *obj,
		   char out[NN_ENDPOINT_MAX])
{
	char host[NN_NAME_MAX * 2], q[NN_NAME_MAX * 2];
	const char *s, *colon, *d;
	uint8_t a[NN_ADDR_LEN];
	unsigned long port = 0;
	size_t hl;
	int err, fam;

	out[0] = '\0';
	err = nn_js_string(b, e, obj, "endpoint", NN_JS_OPTIONAL, &s);
	if (err || !s)
		return err;
	/* "[v6]:port" or "a.b.c.d:port", literal addresses only: the
	 * controller hands it to the kernel as a sockaddr and must not
	 * resolve names on the control plane's say-so. */
	colon = strrchr(s, ':');
	if (strlen(s) >= NN_ENDPOINT_MAX || !colon || colon == s)
		goto bad;
	hl = colon - s;
	if (s[0] == '[') {
		if (hl < 3 || s[hl - 1] != ']')
			goto bad;
		memcpy(host, s + 1, hl - 2);
		host[hl - 2] = '\0';
		if (nn_addr_parse(host, a, &fam) || fam != NN_FAM_V6)
			goto bad;
	} else {
		memcpy(host, s, hl);
		host[hl] = '\0';
		if (nn_addr_parse(host, a, &fam) || fam != NN_FAM_V4)
			goto bad;
	}
	d = colon + 1;
	if (!*d || strlen(d) > 5)
		goto bad;
	for (; *d; d++) {
		if (*d < '0' || *d > '9')
			goto bad;
		port = port * 10 + (unsigned long)(*d - '0');
	}
	if (port < 1 || port > 65535)
		goto bad;
	strcpy(out, s);
	return 0;
bad:
	nn_ent_err(b, e, "endpoint \"%s\" is not \"a.b.c.d:port\" or \"[ipv6]:port\"",
		   nn_quote(s, q, sizeof(q)));
	return -EINVAL;
}
