# SPDX-License-Identifier: GPL-2.0
# Nanami gateway dataplane. Out-of-tree build into $(O) (default build/).
#   make            build everything
#   make test       install missing deps, build, run every selftest
#   make demo       bring up the demo topology (see README)
#   make V=1        show full commands
#   make help       list targets

O ?= build
ARCH := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')
V ?= 0

ifeq ($(V),1)
Q :=
msg :=
else
Q := @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

CC ?= gcc
CLANG ?= clang
BPFTOOL ?= bpftool

CFLAGS ?= -O2 -g
# Includes are folder-qualified ("policy/policy.h", "dp/loader.h"): -Iuser
# for the product, -Iselftests for the oracle ("model/model.h"); the test
# library's headers (pktbuild.h, ...) are found only by test objects.
USER_CFLAGS := $(CFLAGS) -std=gnu11 -Wall -Wextra -Werror -MMD -MP \
	-Iheaders -Iuser -I$(O)/skel -D_GNU_SOURCE
TEST_CFLAGS := -Iselftests -Iselftests/lib
# Test-only BPF programs (selftests/bpf/) have their skeletons here.
TEST_CFLAGS += -I$(O)/selftests/skel
BPF_CFLAGS := -g -O2 --target=bpf -mcpu=v3 -Wall -Werror -MMD -MP \
	-D__TARGET_ARCH_$(ARCH) -Ivmlinux/$(ARCH) -Iheaders -Ibpf
# --as-needed: each program keeps only the libraries it calls (every
# program names them all; nanami-gwctl needs 5 of the 12).
AS_NEEDED := -Wl,--as-needed
LDLIBS := -lbpf -lxdp -ljansson -lyajl -lnftables -lelf -lz -lcrypto -lcurl -lmnl -lmicrohttpd -lsystemd
TEST_LDLIBS := $(LDLIBS) -lcmocka

.DELETE_ON_ERROR:
.SECONDARY:
.PHONY: all test demo bench bench-smoke soak clean help deps san san-unit fuzz install man check \
	deb deb-test

# ---- sources (wildcards: a new file joins its room's list by itself) ----
# The product's BPF programs, one per attach point, and the benchmark's own.
BPF_SRCS := $(wildcard bpf/*.bpf.c)
BPF_OBJS := $(patsubst bpf/%.bpf.c,$(O)/bpf/%.bpf.o,$(BPF_SRCS))
SKELS := $(patsubst bpf/%.bpf.c,$(O)/skel/%.skel.h,$(BPF_SRCS))
BENCH_BPF_SRCS := $(wildcard tools/bench/bpf/*.bpf.c)
BENCH_BPF_OBJS := $(patsubst tools/bench/bpf/%.bpf.c,$(O)/bench/bpf/%.bpf.o,$(BENCH_BPF_SRCS))
BENCH_SKELS := $(patsubst tools/bench/bpf/%.bpf.c,$(O)/bench/skel/%.skel.h,$(BENCH_BPF_SRCS))

# user/<room>/*.c: everything but the controller's main() is one library.
GATEWAYD_MAIN := user/gatewayd/main.c
LIB_SRCS := $(filter-out $(GATEWAYD_MAIN),$(wildcard user/*/*.c))
LIB := $(O)/libnanami.a

# The oracle and the test library, linked only into tests and test drivers.
MODEL_SRCS := $(wildcard selftests/model/*.c)
TESTLIB_SRCS := $(wildcard selftests/lib/*.c) $(MODEL_SRCS)
TESTLIB_OBJS := $(patsubst %.c,$(O)/%.o,$(TESTLIB_SRCS))

TEST_SRCS := $(wildcard selftests/unit/test_*.c selftests/prog_tests/test_*.c)
TEST_BINS := $(patsubst selftests/%.c,$(O)/selftests/%,$(TEST_SRCS))

# Binaries and their sources, named here rather than by their file names.
GWCTL_SRCS := $(wildcard tools/gwctl/*.c)
BENCH_SRCS := $(wildcard tools/bench/*.c)
CPTEST_SRCS := $(wildcard selftests/drivers/cptest/*.c)
WGTEST_SRCS := $(wildcard selftests/drivers/wgtest/*.c)
objs = $(patsubst %.c,$(O)/%.o,$(1))

BINS := $(O)/nanami-gatewayd $(O)/nanami-gwctl $(O)/nn-microbench $(O)/nn-cptest $(O)/nn-wgtest

all: $(BINS) $(TEST_BINS)

# ---- BPF: object, linked object, skeleton ----
$(O)/bpf/%.tmp.o: bpf/%.bpf.c
	$(call msg,CLANG,$@)
	@mkdir -p $(dir $@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -MF $(@:.o=.d) -c $< -o $@

$(O)/bench/bpf/%.tmp.o: tools/bench/bpf/%.bpf.c
	$(call msg,CLANG,$@)
	@mkdir -p $(dir $@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -MF $(@:.o=.d) -c $< -o $@

# Static pattern rules: the generic "$(O)/%.o: %.c" must never take these.
$(BPF_OBJS) $(BENCH_BPF_OBJS): $(O)/%.bpf.o: $(O)/%.tmp.o
	$(call msg,GEN-OBJ,$@)
	$(Q)$(BPFTOOL) gen object $@ $<

$(O)/skel/%.skel.h: $(O)/bpf/%.bpf.o
	$(call msg,GEN-SKEL,$@)
	@mkdir -p $(dir $@)
	$(Q)$(BPFTOOL) gen skeleton $< name $(subst -,_,$*) > $@

$(O)/bench/skel/%.skel.h: $(O)/bench/bpf/%.bpf.o
	$(call msg,GEN-SKEL,$@)
	@mkdir -p $(dir $@)
	$(Q)$(BPFTOOL) gen skeleton $< name $(subst -,_,$*) > $@

# Test-only BPF programs: selftests/bpf/<name>.bpf.c, built like the product's
# (the product's bpf/ headers are on the include path), skeletons for tests.
TEST_BPF_SRCS := $(wildcard selftests/bpf/*.bpf.c)
TEST_BPF_OBJS := $(patsubst selftests/bpf/%.bpf.c,$(O)/selftests/bpf/%.bpf.o,$(TEST_BPF_SRCS))
TEST_SKELS := $(patsubst selftests/bpf/%.bpf.c,$(O)/selftests/skel/%.skel.h,$(TEST_BPF_SRCS))

$(O)/selftests/bpf/%.tmp.o: selftests/bpf/%.bpf.c
	$(call msg,CLANG,$@)
	@mkdir -p $(dir $@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -MF $(@:.o=.d) -c $< -o $@

$(TEST_BPF_OBJS): $(O)/selftests/bpf/%.bpf.o: $(O)/selftests/bpf/%.tmp.o
	$(call msg,GEN-OBJ,$@)
	$(Q)$(BPFTOOL) gen object $@ $<

$(O)/selftests/skel/%.skel.h: $(O)/selftests/bpf/%.bpf.o
	$(call msg,GEN-SKEL,$@)
	@mkdir -p $(dir $@)
	$(Q)$(BPFTOOL) gen skeleton $< name $(subst -,_,$*) > $@

$(call objs,$(wildcard selftests/prog_tests/*.c)): | $(TEST_SKELS)

# ---- user code ----
# Only the objects that embed a skeleton wait for one (the depfiles take
# over from the second build on).
$(call objs,$(wildcard user/dp/*.c)): | $(SKELS)
$(call objs,$(BENCH_SRCS)): | $(SKELS) $(BENCH_SKELS)
$(call objs,$(BENCH_SRCS)): EXTRA_CFLAGS := -I$(O)/bench/skel
# The bench builds its packets with the tests' builder (linked below); only
# that file sees the test library's headers.
$(O)/tools/bench/pkt.o: EXTRA_CFLAGS := -I$(O)/bench/skel -Iselftests/lib
$(O)/selftests/%.o: EXTRA_CFLAGS := $(TEST_CFLAGS)

$(O)/%.o: %.c
	$(call msg,CC,$@)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(CPPFLAGS) $(USER_CFLAGS) $(EXTRA_CFLAGS) -c $< -o $@

$(LIB): $(call objs,$(LIB_SRCS))
	$(call msg,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(O)/nanami-gatewayd: $(call objs,$(GATEWAYD_MAIN)) $(LIB)
$(O)/nanami-gwctl: $(call objs,$(GWCTL_SRCS)) $(LIB)
$(O)/nn-microbench: $(call objs,$(BENCH_SRCS)) $(O)/selftests/lib/pktbuild.o $(LIB)
$(O)/nn-cptest: $(call objs,$(CPTEST_SRCS)) $(LIB)
$(O)/nn-wgtest: $(call objs,$(WGTEST_SRCS)) $(LIB)
$(BINS):
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) $(AS_NEEDED) -o $@ $^ $(LDLIBS) -lm

$(O)/selftests/%: $(O)/selftests/%.o $(TESTLIB_OBJS) $(LIB)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(TEST_LDLIBS) -lm

# ---- sanitizers and fuzzing ----
# make san: the user code and the unit tests again, with ASan and UBSan, in
# $(O)/san, and the BPF tests named in SAN_PROG_TESTS: test_inc_random drives
# the incremental path's ownership tables, patches and kept state (the
# user-space code most likely to misuse memory) through hundreds of random
# deltas, on the real maps. make fuzz: the snapshot parser/validator/compiler
# under libFuzzer for FUZZ_SECONDS (make test runs a bounded pass).
SAN_CFLAGS := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer \
	-fno-sanitize-recover=all
UNIT_BINS := $(patsubst selftests/%.c,$(O)/selftests/%,$(wildcard selftests/unit/test_*.c))
SAN_PROG_TESTS := test_inc_random
SAN_PROG_BINS := $(patsubst %,$(O)/selftests/prog_tests/%,$(SAN_PROG_TESTS))
FUZZ_SRCS := selftests/fuzz/fuzz_snapshot.c \
	$(wildcard user/lib/*.c user/policy/*.c user/compile/*.c)
FUZZ_SECONDS ?= 20

san:
	$(Q)$(MAKE) --no-print-directory O=$(O)/san CFLAGS="$(SAN_CFLAGS)" san-unit

san-unit: $(UNIT_BINS) $(SAN_PROG_BINS)

$(O)/fuzz/fuzz_snapshot: $(FUZZ_SRCS) $(wildcard headers/*.h user/*/*.h)
	$(call msg,FUZZ,$@)
	@mkdir -p $(dir $@)
	$(Q)$(CLANG) -std=gnu11 -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE \
		-Iheaders -Iuser $(FUZZ_SRCS) -ljansson -lyajl -lcrypto -lbpf -lmnl -o $@

fuzz: $(O)/fuzz/fuzz_snapshot
	@mkdir -p $(O)/fuzz/corpus
	$(O)/fuzz/fuzz_snapshot -max_total_time=$(FUZZ_SECONDS) -max_len=65536 \
		$(O)/fuzz/corpus selftests/fuzz/corpus

# ---- install ----
# make install [PREFIX=/usr/local] [DESTDIR=] [SYSCONFDIR=/etc]
PREFIX ?= /usr/local
SYSCONFDIR ?= /etc
SBINDIR := $(PREFIX)/sbin
BINDIR := $(PREFIX)/bin
MANDIR := $(PREFIX)/share/man
UNITDIR ?= $(PREFIX)/lib/systemd/system

install: $(O)/nanami-gatewayd $(O)/nanami-gwctl
	$(call msg,INSTALL,$(DESTDIR)$(PREFIX))
	$(Q)install -D -m 0755 $(O)/nanami-gatewayd $(DESTDIR)$(SBINDIR)/nanami-gatewayd
	$(Q)install -D -m 0755 $(O)/nanami-gwctl $(DESTDIR)$(BINDIR)/nanami-gwctl
	$(Q)install -D -m 0644 man/nanami-gatewayd.8 $(DESTDIR)$(MANDIR)/man8/nanami-gatewayd.8
	$(Q)install -D -m 0644 man/nanami-gwctl.8 $(DESTDIR)$(MANDIR)/man8/nanami-gwctl.8
	$(Q)install -d -m 0755 $(DESTDIR)$(UNITDIR)
	$(Q)sed -e 's|@SBINDIR@|$(SBINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' \
		packaging/nanami-gatewayd@.service > $(DESTDIR)$(UNITDIR)/nanami-gatewayd@.service
	$(Q)chmod 0644 $(DESTDIR)$(UNITDIR)/nanami-gatewayd@.service
	$(Q)install -D -m 0644 packaging/gatewayd.conf.example \
		$(DESTDIR)$(SYSCONFDIR)/nanami/gatewayd.conf.example

# ---- Debian package ----
# make deb: nanami-gateway_<version>_<arch>.deb in $(O)/deb, built by
# dpkg-buildpackage (debian/) from a copy of the tree (the files git knows,
# committed or not), so nothing is written outside $(O); then lintian.
# The version has one source: debian/changelog.
DEB_VERSION = $(shell sed -n '1s/^[^(]*(\([^)]*\)).*/\1/p' debian/changelog)
DEB_ARCH = $(shell dpkg --print-architecture)
DEB_SRC = $(O)/deb/src/nanami-gateway-$(DEB_VERSION)
DEB = $(O)/deb/nanami-gateway_$(DEB_VERSION)_$(DEB_ARCH).deb

deb:
	$(call msg,DEB,$(DEB))
	$(Q)rm -rf $(O)/deb/src && mkdir -p $(DEB_SRC)
	$(Q)git ls-files -z --cached --others --exclude-standard | \
		tar --null --ignore-failed-read -T - -cf - 2>/dev/null | tar -xf - -C $(DEB_SRC)
	$(Q)cd $(DEB_SRC) && dpkg-buildpackage -b -us -uc >../build.log 2>&1 || \
		{ tail -30 ../build.log; exit 1; }
	$(Q)mv $(O)/deb/src/*.deb $(O)/deb/src/*.changes $(O)/deb/src/*.buildinfo $(O)/deb/
	$(call msg,LINTIAN,$(DEB))
	$(Q)lintian --fail-on error,warning --info $(DEB)
	@echo "$(DEB)"

# make deb-test: install the package into a throw-away root, check it,
# remove and purge it (selftests/deb/test_deb_install.sh). DEB_ROOT=overlay (default): the host
# under a throw-away overlay, offline, seconds; DEB_ROOT=debootstrap: a fresh
# bookworm root, apt resolving Depends from the archive (network, minutes).
DEB_ROOT ?= overlay
deb-test: deb
	$(Q)O=$(O) selftests/deb/test_deb_install.sh --root $(DEB_ROOT) $(DEB)

# Regenerate the committed man pages from docs/man/*.md (needs go-md2man).
man: $(patsubst docs/man/%.md,man/%,$(wildcard docs/man/*.md))

man/%: docs/man/%.md
	$(call msg,MAN,$@)
	$(Q)go-md2man -in $< -out $@

# ---- static checks ----
# make check: the tree is in kernel style (.clang-format, clang-format 14)
# and the rooms keep their dependency rules (tools/check-includes.py:
# folder-qualified includes, no include from a lower room to a higher one,
# no include cycle, no call cycle between rooms in the built objects).
FORMAT_SRCS := $(wildcard bpf/*.c bpf/*.h headers/*.h user/*/*.c user/*/*.h \
	tools/*/*.c tools/*/*.h tools/bench/bpf/*.c selftests/*/*.c selftests/*/*.h \
	selftests/drivers/*/*.c selftests/drivers/*/*.h)

check: all
	$(call msg,FORMAT,$(words $(FORMAT_SRCS)) files)
	$(Q)clang-format --dry-run --Werror $(FORMAT_SRCS)
	$(call msg,INCLUDES,user tools selftests)
	$(Q)python3 tools/check-includes.py --objects $(O)

# ---- commands ----
deps:
	$(Q)O=$(O) tools/install-deps.sh

# The builds use every CPU even when make test itself runs without -j (as the
# README and CI run it): the ASan build alone took ~70 s on one of two cores.
TEST_JOBS ?= $(shell nproc 2>/dev/null || echo 1)
test: deps
	$(Q)$(MAKE) --no-print-directory -j$(TEST_JOBS) all $(O)/fuzz/fuzz_snapshot
	$(Q)$(MAKE) --no-print-directory -j$(TEST_JOBS) san
	$(Q)O=$(O) FUZZ_SECONDS=$(FUZZ_SECONDS) selftests/run.sh

demo: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)O=$(O) tools/demo/demo.sh

bench: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)O=$(O) tools/bench/run.sh

bench-smoke: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)O=$(O) tools/bench/run.sh --smoke

# Not in `make test`: an hour by default (SOAK_MINUTES, SOAK_DEVICES).
soak: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)O=$(O) tools/soak/soak.sh

clean:
	$(call msg,CLEAN,$(O))
	$(Q)rm -rf $(O)

help:
	@echo 'make            build BPF objects, skeletons, nanami-gatewayd, nanami-gwctl, tools and tests into $(O)/'
	@echo 'make check      formatting (clang-format) and room dependency rules (tools/check-includes.py)'
	@echo 'make test       install missing dependencies, build, run every selftest (needs root)'
	@echo 'make demo       bring up the demo gateway in network namespaces (needs root; kernel WireGuard, in a VM if need be; DEMO_WG=go for wireguard-go)'
	@echo 'make bench      run the benchmarks into $(O)/bench/ (minutes; needs root)'
	@echo 'make bench-smoke  the same harness, short (< 60 s), figures not meaningful'
	@echo 'make soak       the gateway at 10k devices under change, faults and traffic for SOAK_MINUTES (60); report in $(O)/soak/report.md'
	@echo 'make san        build user code, unit tests and test_inc_random with ASan+UBSan into $(O)/san'
	@echo 'make fuzz       fuzz the snapshot parser/validator/compiler (FUZZ_SECONDS=20)'
	@echo 'make deps       install the Debian packages the project needs'
	@echo 'make install    install binaries, man pages, systemd unit (PREFIX, DESTDIR, SYSCONFDIR)'
	@echo 'make deb        the Debian package into $(O)/deb (dpkg-buildpackage, then lintian)'
	@echo 'make deb-test   install it into a throw-away root, check, purge (DEB_ROOT=overlay|debootstrap)'
	@echo 'make clean      remove $(O)/'
	@echo 'V=1             show full commands; O=DIR build elsewhere'

# Depfiles: ours, not the package build's copy or a debootstrapped root's
# /etc/*.d directories under $(O)/deb.
-include $(shell find $(O) -path $(O)/deb -prune -o -name '*.d' -type f -print 2>/dev/null)
