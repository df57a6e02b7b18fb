// SPDX-License-Identifier: GPL-2.0
/*
 * How a failed load is reported (user/dp/loader.c): a program the kernel's
 * verifier refuses is named as such, with the end of the verifier's own log,
 * and never as pinned maps of another size; pinned maps that do not fit are
 * named as that, with the map, and never as the verifier.
 *
 * The refusal is a real one: the real from-overlay object loaded as a socket
 * filter, a program type that may not touch skb->data nor pull or load
 * packet bytes the way TC programs do. The oracle is the kernel itself: the
 * test loads the same program again with a log buffer of its own and checks
 * that the report carries the log's verdict line.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "dp/loader.h"
#include "lib/log.h"

#define PROG "nn_tc_from_overlay"
#define VLOG_LEN (16u << 20)

static char obj_path[600];
static char obj_dir[512];

static struct bpf_object *open_refused(void)
{
	struct bpf_object *obj = bpf_object__open_file(obj_path, NULL);
	struct bpf_program *p;

	assert_non_null(obj);
	assert_int_equal(libbpf_get_error(obj), 0);
	p = bpf_object__find_program_by_name(obj, PROG);
	assert_non_null(p);
	assert_int_equal(bpf_program__set_type(p, BPF_PROG_TYPE_SOCKET_FILTER), 0);
	return obj;
}

static int load_obj(void *obj)
{
	return bpf_object__load(obj);
}

static int quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	(void)level;
	(void)fmt;
	(void)ap;
	return 0;
}

/* The verifier's verdict, by the kernel itself: the last line of the log
 * that is not one of its closing statistics. */
static void verdict_line(char *out, size_t len)
{
	struct bpf_object *obj = open_refused();
	struct bpf_program *p = bpf_object__find_program_by_name(obj, PROG);
	char *vlog = calloc(1, VLOG_LEN), *line, *save = NULL, *last = NULL;

	assert_non_null(vlog);
	assert_int_equal(bpf_program__set_log_buf(p, vlog, VLOG_LEN), 0);
	assert_int_equal(bpf_program__set_log_level(p, 1), 0);
	assert_true(bpf_object__load(obj) < 0);
	for (line = strtok_r(vlog, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		if (strncmp(line, "processed ", 10) && strncmp(line, "verification time", 17) &&
		    strncmp(line, "stack depth", 11))
			last = line;
	assert_non_null(last);
	snprintf(out, len, "%s", last);
	for (; *out; out++)
		if (*out == '"')
			*out = '\'';
	bpf_object__close(obj);
	free(vlog);
}

static void test_verifier_refusal_named(void **state)
{
	struct bpf_object *obj = open_refused();
	char msg[2048], want[512];
	int err;

	(void)state;
	libbpf_set_print(quiet);
	verdict_line(want, sizeof(want));
	err = nn_bpf_load_reported("from-overlay", "/sys/fs/bpf/unused", load_obj, obj, msg,
				   sizeof(msg));
	print_message("# %s\n", msg);
	print_message("# the verifier's verdict: %s\n", want);
	assert_true(err < 0);
	assert_non_null(strstr(msg, "the kernel's verifier refused the from-overlay program"));
	assert_non_null(strstr(msg, "prog=" PROG));
	assert_non_null(strstr(msg, want));
	assert_null(strstr(msg, "pinned"));
	/* The caller's libbpf printer is back in place. */
	assert_ptr_equal(libbpf_set_print(NULL), quiet);
	bpf_object__close(obj);
}

/* Run nn_dp_load with stderr captured into @out. */
static int load_capturing_stderr(const struct nn_load_opts *o, char *out, size_t len)
{
	FILE *f = tmpfile();
	struct nn_dp *dp = NULL;
	int saved = dup(2), err;
	size_t n;

	assert_non_null(f);
	assert_true(saved >= 0);
	fflush(stderr);
	assert_true(dup2(fileno(f), 2) >= 0);
	err = nn_dp_load(o, &dp);
	fflush(stderr);
	assert_true(dup2(saved, 2) >= 0);
	close(saved);
	rewind(f);
	n = fread(out, 1, len - 1, f);
	out[n] = 0;
	fclose(f);
	nn_dp_close(dp);
	return err;
}

/* @o loads the default capacities into an empty pin directory @dir
 * (/sys/fs/bpf/nn-test-load-@what-PID), warnings logged. */
static void empty_pin_dir(struct nn_load_opts *o, char *dir, size_t len, const char *what)
{
	nn_log_set_level(NN_LOG_WARN);
	nn_log_libbpf();
	nn_capacity_default(&o->cap);
	snprintf(dir, len, "/sys/fs/bpf/nn-test-load-%s-%d", what, (int)getpid());
	o->pin_dir = dir;
	nn_dp_detach(NULL, dir);
	assert_int_equal(mkdir(dir, 0700) == 0 || errno == EEXIST, 1);
}

/* Map @fd (created: >= 0) pinned as @dir/@name (the path in @path), and
 * closed. */
static void pin_as(int fd, const char *dir, const char *name, char *path, size_t len)
{
	assert_true(fd >= 0);
	snprintf(path, len, "%s/%s", dir, name);
	assert_int_equal(bpf_obj_pin(fd, path), 0);
	close(fd);
}

static void test_pinned_mismatch_named(void **state)
{
	struct nn_load_opts o = { .framing = NN_FRAMING_L3 };
	char dir[128], path[192], out[16384], *line, *save = NULL;
	bool named = false, verifier = false;
	int fd, err;

	(void)state;
	empty_pin_dir(&o, dir, sizeof(dir), "errors");
	/* nn_config as an older layout would have it: a value of 4 bytes */
	fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "nn_config", 4, 4, 1, NULL);
	pin_as(fd, dir, "nn_config", path, sizeof(path));

	err = load_capturing_stderr(&o, out, sizeof(out));
	for (line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		print_message("# %s\n", line);
		if (strstr(line, "the pinned map does not fit") && strstr(line, path))
			named = true;
		if (strstr(line, "verifier"))
			verifier = true;
	}
	nn_dp_detach(NULL, dir);
	assert_true(err < 0);
	assert_true(named);
	assert_false(verifier);
}

/* A pinned nn_flows of sessions 13-14's layout (last_seen inside the
 * slot): the same type and sizes, so the kernel would adopt it; its seed
 * entry has a seed and layout 0. The load is refused and says what to do. */
static void test_pinned_flows_older_layout(void **state)
{
	struct nn_load_opts o = { .framing = NN_FRAMING_L3 };
	char dir[128], path[192], out[16384], *line, *save = NULL;
	struct nn_flow_bucket b = { 0 };
	struct nn_flow_seed_entry old = { .seed = 0x1234, .layout = 0 };
	bool named = false;
	uint32_t last;
	int fd, err;

	(void)state;
	empty_pin_dir(&o, dir, sizeof(dir), "flows");
	last = nn_flow_buckets_for(&o.cap);
	fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "nn_flows", 4, sizeof(b), last + 1, NULL);
	assert_true(fd >= 0);
	memcpy(&b, &old, sizeof(old));
	assert_int_equal(bpf_map_update_elem(fd, &last, &b, 0), 0);
	pin_as(fd, dir, "nn_flows", path, sizeof(path));

	err = load_capturing_stderr(&o, out, sizeof(out));
	for (line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		print_message("# %s\n", line);
		if (strstr(line, "older layout") && strstr(line, "--detach") && strstr(line, dir))
			named = true;
	}
	nn_dp_detach(NULL, dir);
	assert_true(err < 0);
	if (!named)
		fail_msg(
			"a pinned nn_flows of the older layout: no message naming it and --detach");
}

/* A pinned counter names map of before session 16: a hash (no prealloc)
 * of the same key, value and max_entries, holding a name. The maps are
 * arrays by slot now, written through their mapping: the old hash must not
 * be adopted (nothing would write it, every reader would refuse it). The
 * load is refused, names the map and says --detach; the pin keeps its
 * name. For each of the two maps. */
static void test_pinned_names_hash_refused(void **state)
{
	static const char *const names[] = { "nn_dev_names", "nn_rule_names" };
	LIBBPF_OPTS(bpf_map_create_opts, mo, .map_flags = BPF_F_NO_PREALLOC);
	struct nn_name nm = { .id = "dev-a", .tenant = "t", .network = "n", .in_use = 1 }, back;
	char dir[128], path[192], out[16384], *line, *save = NULL;
	uint32_t key = 7, max;
	int i, fd, err;

	(void)state;
	for (i = 0; i < 2; i++) {
		struct nn_load_opts o = { .framing = NN_FRAMING_L3 };
		bool named = false;

		empty_pin_dir(&o, dir, sizeof(dir), "names");
		max = i ? o.cap.max_rules : nn_dev_slots(&o.cap);
		fd = bpf_map_create(BPF_MAP_TYPE_HASH, names[i], sizeof(key), sizeof(nm), max, &mo);
		assert_true(fd >= 0);
		assert_int_equal(bpf_map_update_elem(fd, &key, &nm, BPF_ANY), 0);
		pin_as(fd, dir, names[i], path, sizeof(path));

		err = load_capturing_stderr(&o, out, sizeof(out));
		for (line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
			print_message("# %s\n", line);
			if (strstr(line, path) && strstr(line, "--detach"))
				named = true;
		}
		fd = bpf_obj_get(path);
		assert_true(fd >= 0);
		assert_int_equal(bpf_map_lookup_elem(fd, &key, &back), 0);
		close(fd);
		nn_dp_detach(NULL, dir);
		assert_true(err < 0);
		assert_string_equal(back.id, "dev-a");
		if (!named)
			fail_msg("a pinned %s hash (before session 16): no message naming it and "
				 "--detach",
				 names[i]);
	}
}

/* The head of .BTF.ext (libbpf's struct btf_ext_header, not exported):
 * the CO-RE relocations' part follows the line info's. */
struct ext_head {
	uint16_t magic;
	uint8_t version, flags;
	uint32_t hdr_len;
	uint32_t func_info_off, func_info_len, line_info_off, line_info_len;
	uint32_t core_relo_off, core_relo_len;
};

/* Bytes of CO-RE relocation records in @path's .BTF.ext, or -1. */
static long core_relo_bytes(const char *path)
{
	struct ext_head h = { 0 };
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;
	size_t shstr;
	long n = -1;
	Elf_Data *d;
	Elf *e;
	int fd;

	elf_version(EV_CURRENT);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	e = elf_begin(fd, ELF_C_READ, NULL);
	if (!e || elf_getshdrstrndx(e, &shstr))
		goto out;
	n = 0; /* no .BTF.ext: nothing to relocate */
	while ((scn = elf_nextscn(e, scn))) {
		if (!gelf_getshdr(scn, &sh) ||
		    strcmp(elf_strptr(e, shstr, sh.sh_name) ?: "", ".BTF.ext"))
			continue;
		d = elf_getdata(scn, NULL);
		if (!d || d->d_size < offsetof(struct ext_head, core_relo_off)) {
			n = -1;
			break;
		}
		memcpy(&h, d->d_buf, d->d_size < sizeof(h) ? d->d_size : sizeof(h));
		n = h.hdr_len >= sizeof(h) ? (long)h.core_relo_len : 0;
		break;
	}
out:
	if (e)
		elf_end(e);
	close(fd);
	return n;
}

/*
 * No object carries a CO-RE relocation (bpf/ctx.bpf.h): with one, libbpf
 * parses the running kernel's whole BTF at every object's load (seconds on
 * Debian's 6.1 under TCG) and the programs need a kernel built with BTF.
 * What this cannot see: with BPF_NO_PRESERVE_ACCESS_INDEX a read of a
 * kernel-internal struct compiles to fixed offsets, no relocation; the
 * programs read none (bpf/ctx.bpf.h), and one that must would mark its
 * struct preserve_access_index and change the count expected here.
 */
static void test_no_core_relocations(void **state)
{
	static const char *const objs[] = { "from_overlay_tc", "from_overlay_xdp",
					    "into_overlay_tc", "underlay_xdp" };
	char path[600];
	long n;

	(void)state;
	for (size_t i = 0; i < sizeof(objs) / sizeof(objs[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s.bpf.o", obj_dir, objs[i]);
		n = core_relo_bytes(path);
		print_message("# %s: %ld bytes of CO-RE relocations\n", objs[i], n);
		assert_int_equal(n, 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_verifier_refusal_named),
		cmocka_unit_test(test_pinned_mismatch_named),
		cmocka_unit_test(test_pinned_flows_older_layout),
		cmocka_unit_test(test_pinned_names_hash_refused),
		cmocka_unit_test(test_no_core_relocations),
	};
	const char *src = getenv("NN_SRCDIR"), *o = getenv("O");

	if (!o)
		o = "build";
	if (o[0] == '/')
		snprintf(obj_dir, sizeof(obj_dir), "%s/bpf", o);
	else
		snprintf(obj_dir, sizeof(obj_dir), "%s/%s/bpf", src ? src : ".", o);
	snprintf(obj_path, sizeof(obj_path), "%s/from_overlay_tc.bpf.o", obj_dir);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
