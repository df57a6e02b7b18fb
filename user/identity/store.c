// SPDX-License-Identifier: GPL-2.0
/*
 * store.c - the identity files: atomic writes with their modes, node.json,
 * WireGuard key files. A reader never sees half a file: every write goes to
 * a temporary name in the same directory, is fsynced, renamed into place and
 * the directory fsynced.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "identity/identity.h"
#include "lib/fsutil.h"
#include "lib/strbuf.h"

bool nn_ident_name_ok(const char *s)
{
	size_t n = 0;

	if (!s)
		return false;
	for (; s[n]; n++)
		if (!(s[n] == '-' || s[n] == '_' || s[n] == '.' || (s[n] >= '0' && s[n] <= '9') ||
		      (s[n] >= 'a' && s[n] <= 'z') || (s[n] >= 'A' && s[n] <= 'Z')))
			return false;
	return n > 0 && n < NN_NAME_MAX;
}

int nn_ident_path(const char *dir, const char *file, char *buf, size_t len)
{
	int r = snprintf(buf, len, "%s/%s", dir, file);

	return r < 0 || (size_t)r >= len ? -ENAMETOOLONG : 0;
}

int nn_ident_write_file(const char *dir, const char *name, const void *data, size_t len,
			mode_t mode, bool tmp_only)
{
	char path[4096], tmp[4200];
	int fd, err = 0;

	if (nn_ident_path(dir, name, path, sizeof(path)))
		return -ENAMETOOLONG;
	if (tmp_only)
		snprintf(tmp, sizeof(tmp), "%s.new", path);
	else
		snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid());
	unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
	if (fd < 0)
		return -errno;
	errno = 0;
	/* The umask can only narrow the mode; make it exact anyway. */
	if (fchmod(fd, mode) || write(fd, data, len) != (ssize_t)len || fsync(fd))
		err = errno ? -errno : -EIO;
	close(fd);
	if (!err && !tmp_only && rename(tmp, path))
		err = -errno;
	if (err) {
		unlink(tmp);
		return err;
	}
	return tmp_only ? 0 : nn_fsync_dir_of(path);
}

int nn_ident_commit_file(const char *dir, const char *name)
{
	char path[4096], tmp[4200];

	if (nn_ident_path(dir, name, path, sizeof(path)))
		return -ENAMETOOLONG;
	snprintf(tmp, sizeof(tmp), "%s.new", path);
	if (rename(tmp, path))
		return -errno;
	return nn_fsync_dir_of(path);
}

int nn_ident_read_file(const char *path, size_t max, char **out, size_t *len)
{
	/* Secrets and certificates are never read through a symlink. */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW), e;

	*out = NULL;
	if (fd < 0)
		return -errno;
	e = nn_read_fd(fd, max, out, len);
	close(fd);
	return e;
}

static int single_addr(const json_t *j, const char *what, const char *field, int af, bool optional,
		       char *out, size_t outlen, char *err, size_t errlen)
{
	const json_t *v = json_object_get(j, field);
	unsigned char buf[16];
	const char *s;

	out[0] = 0;
	if (optional && (!v || json_is_null(v)))
		return 0;
	s = json_string_value(v);
	/* inet_pton takes a single address only: no prefix length, no zone. */
	if (!s || strlen(s) >= outlen || inet_pton(af, s, buf) != 1) {
		nn_seterr(err, errlen, "%s: %s is not a single %s address", what, field,
			  af == AF_INET6 ? "IPv6" : "IPv4");
		return -EINVAL;
	}
	snprintf(out, outlen, "%s", s);
	return 0;
}

static int int_in(const json_t *j, const char *what, const char *field, long long lo, long long hi,
		  long long *out, char *err, size_t errlen)
{
	const json_t *v = json_object_get(j, field);

	if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi) {
		nn_seterr(err, errlen, "%s: %s must be an integer in %lld-%lld", what, field, lo,
			  hi);
		return -EINVAL;
	}
	*out = json_integer_value(v);
	return 0;
}

int nn_ident_from_json(const json_t *j, const char *what, struct nn_ident *id, char *err,
		       size_t errlen)
{
	const char *node = json_string_value(json_object_get(j, "node_id"));
	long long x;
	int e;

	memset(id, 0, sizeof(*id));
	if (!json_is_object(j)) {
		nn_seterr(err, errlen, "%s: not a JSON object", what);
		return -EINVAL;
	}
	if (!nn_ident_name_ok(node)) {
		nn_seterr(err, errlen, "%s: node_id is not 1-63 of [A-Za-z0-9._-]", what);
		return -EINVAL;
	}
	snprintf(id->node_id, sizeof(id->node_id), "%s", node);
	e = single_addr(j, what, "overlay_ipv6", AF_INET6, false, id->overlay_ipv6,
			sizeof(id->overlay_ipv6), err, errlen);
	if (!e)
		e = single_addr(j, what, "overlay_ipv4", AF_INET, true, id->overlay_ipv4,
				sizeof(id->overlay_ipv4), err, errlen);
	if (!e && !(e = int_in(j, what, "listen_port", 1, 65535, &x, err, errlen)))
		id->listen_port = (uint32_t)x;
	if (!e && !(e = int_in(j, what, "mtu", 1280, 9000, &x, err, errlen)))
		id->mtu = (uint32_t)x;
	if (!e && !(e = int_in(j, what, "key_generation", 1, UINT32_MAX, &x, err, errlen)))
		id->key_generation = (uint64_t)x;
	return e;
}

int nn_ident_load(const char *dir, struct nn_ident *id, char *err, size_t errlen)
{
	char path[4096], what[4200];
	json_error_t je;
	const char *url;
	json_t *j;
	char *text;
	int e;

	memset(id, 0, sizeof(*id));
	if (nn_ident_path(dir, NN_IDENT_NODE, path, sizeof(path)))
		return -ENAMETOOLONG;
	e = nn_ident_read_file(path, 1 << 16, &text, NULL);
	if (e == -ENOENT)
		return e;
	if (e) {
		nn_seterr(err, errlen, "%s: %s", path, strerror(-e));
		return e;
	}
	j = json_loads(text, JSON_REJECT_DUPLICATES, &je);
	free(text);
	if (!j) {
		nn_seterr(err, errlen, "%s: line %d: %s", path, je.line, je.text);
		return -EBADMSG;
	}
	snprintf(what, sizeof(what), "%s", path);
	e = nn_ident_from_json(j, what, id, err, errlen);
	url = json_string_value(json_object_get(j, "control_plane"));
	if (!e && url) {
		if (strlen(url) >= sizeof(id->cp_url)) {
			nn_seterr(err, errlen, "%s: control_plane is too long", path);
			e = -EINVAL;
		} else {
			snprintf(id->cp_url, sizeof(id->cp_url), "%s", url);
		}
	}
	json_decref(j);
	return e;
}

int nn_ident_store(const char *dir, const struct nn_ident *id, bool tmp_only, char *err,
		   size_t errlen)
{
	json_t *j = json_pack("{s:s, s:s, s:i, s:i, s:I}", "node_id", id->node_id, "overlay_ipv6",
			      id->overlay_ipv6, "listen_port", (json_int_t)id->listen_port, "mtu",
			      (json_int_t)id->mtu, "key_generation",
			      (json_int_t)id->key_generation);
	char *text;
	int e;

	if (j && id->overlay_ipv4[0])
		json_object_set_new(j, "overlay_ipv4", json_string(id->overlay_ipv4));
	if (j && id->cp_url[0])
		json_object_set_new(j, "control_plane", json_string(id->cp_url));
	text = j ? json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
	json_decref(j);
	if (!text)
		return -ENOMEM;
	e = nn_ident_write_file(dir, NN_IDENT_NODE, text, strlen(text), 0644, tmp_only);
	free(text);
	if (e)
		nn_seterr(err, errlen, "%s/%s: couldn't write: %s", dir, NN_IDENT_NODE,
			  strerror(-e));
	return e;
}

int nn_ident_write_wg_key(const char *dir, const char *name, const uint8_t priv[NN_KEY_LEN],
			  bool tmp_only)
{
	char b64[NN_KEY_B64_SIZE + 1];
	size_t n;
	int e;

	nn_key_to_base64(priv, b64);
	n = strlen(b64);
	b64[n++] = '\n';
	e = nn_ident_write_file(dir, name, b64, n, 0600, tmp_only);
	explicit_bzero(b64, sizeof(b64));
	return e;
}

int nn_ident_read_wg_key(const char *dir, const char *name, uint8_t priv[NN_KEY_LEN])
{
	char path[4096], buf[128];
	struct stat st;
	ssize_t r;
	int fd, e = 0;

	if (nn_ident_path(dir, name, path, sizeof(path)))
		return -ENAMETOOLONG;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	/* A private key others can read is as good as leaked. */
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || (st.st_mode & 077)) {
		close(fd);
		return -EPERM;
	}
	r = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (r <= 0)
		return r < 0 ? -errno : -EBADMSG;
	buf[r] = 0;
	while (r && (buf[r - 1] == '\n' || buf[r - 1] == '\r' || buf[r - 1] == ' '))
		buf[--r] = 0;
	if (nn_key_from_base64(buf, priv))
		e = -EBADMSG;
	explicit_bzero(buf, sizeof(buf));
	return e;
}
