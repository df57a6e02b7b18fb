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
USER_CFLAGS := $(CFLAGS) -std=gnu11 -Wall -Wextra -Werror -MMD -MP \
	-Iheaders -Iuser -I$(O)/skel -Iselftests/lib -D_GNU_SOURCE
BPF_CFLAGS := -g -O2 --target=bpf -mcpu=v3 -Wall -Werror -MMD -MP \
	-D__TARGET_ARCH_$(ARCH) -Ivmlinux/$(ARCH) -Iheaders -Ibpf
LDLIBS := -lbpf -lxdp -ljansson -lnftables -lelf -lz -lcrypto -lcurl
TEST_LDLIBS := $(LDLIBS) -lcmocka

.DELETE_ON_ERROR:
.SECONDARY:
.PHONY: all test demo bench bench-smoke clean help deps san san-unit fuzz install man

# ---- sources ----
BPF_SRCS := $(wildcard bpf/*.bpf.c)
BPF_OBJS := $(patsubst bpf/%.bpf.c,$(O)/bpf/%.bpf.o,$(BPF_SRCS))
SKELS := $(patsubst bpf/%.bpf.c,$(O)/skel/%.skel.h,$(BPF_SRCS))

LIB_SRCS := $(filter-out %_main.c,$(wildcard user/*.c))
LIB_OBJS := $(patsubst %.c,$(O)/%.o,$(LIB_SRCS))
LIB := $(O)/libnanami.a

TESTLIB_SRCS := $(wildcard selftests/lib/*.c)
TESTLIB_OBJS := $(patsubst %.c,$(O)/%.o,$(TESTLIB_SRCS))

TEST_SRCS := $(wildcard selftests/unit/test_*.c selftests/prog_tests/test_*.c)
TEST_BINS := $(patsubst selftests/%.c,$(O)/selftests/%,$(TEST_SRCS))

TOOL_MAINS := $(wildcard tools/*/*_main.c)
TOOL_BINS := $(foreach m,$(TOOL_MAINS),$(O)/$(notdir $(patsubst %_main.c,%,$(m))))

BINS := $(O)/nanami-gatewayd $(TOOL_BINS)

all: $(BINS) $(TEST_BINS)

# ---- BPF: object, linked object, skeleton ----
$(O)/bpf/%.tmp.o: bpf/%.bpf.c
	$(call msg,CLANG,$@)
	@mkdir -p $(dir $@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -MF $(@:.o=.d) -c $< -o $@

$(O)/bpf/%.bpf.o: $(O)/bpf/%.tmp.o
	$(call msg,GEN-OBJ,$@)
	$(Q)$(BPFTOOL) gen object $@ $<

$(O)/skel/%.skel.h: $(O)/bpf/%.bpf.o
	$(call msg,GEN-SKEL,$@)
	@mkdir -p $(dir $@)
	$(Q)$(BPFTOOL) gen skeleton $< name $(subst -,_,$*) > $@

# ---- user code ----
$(O)/%.o: %.c | $(SKELS)
	$(call msg,CC,$@)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(USER_CFLAGS) -c $< -o $@

$(LIB): $(LIB_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(O)/nanami-gatewayd: $(O)/user/gatewayd_main.o $(LIB)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

define tool_rule
$(O)/$(notdir $(patsubst %_main.c,%,$(1))): $(patsubst %.c,$(O)/%.o,$(wildcard $(dir $(1))*.c)) $(LIB)
	$$(call msg,LINK,$$@)
	$$(Q)$$(CC) $$(CFLAGS) -o $$@ $$^ $$(LDLIBS) -lm
endef
$(foreach m,$(TOOL_MAINS),$(eval $(call tool_rule,$(m))))

$(O)/selftests/%: $(O)/selftests/%.o $(TESTLIB_OBJS) $(LIB)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(TEST_LDLIBS) -lm

# ---- sanitizers and fuzzing ----
# make san: the user code and the unit tests again, with ASan and UBSan, in
# $(O)/san. make fuzz: the snapshot parser/validator/compiler under libFuzzer
# for FUZZ_SECONDS (make test runs a bounded pass).
SAN_CFLAGS := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer \
	-fno-sanitize-recover=all
UNIT_BINS := $(patsubst selftests/%.c,$(O)/selftests/%,$(wildcard selftests/unit/test_*.c))
FUZZ_SRCS := selftests/fuzz/fuzz_snapshot.c $(addprefix user/,snapshot.c snapshot_json.c \
	validate.c validate_cross.c validate_acl.c routing.c addr.c errlist.c compile.c \
	compile_ports.c compile_pfx.c table.c)
FUZZ_SECONDS ?= 20

san:
	$(Q)$(MAKE) --no-print-directory O=$(O)/san CFLAGS="$(SAN_CFLAGS)" san-unit

san-unit: $(UNIT_BINS)

$(O)/fuzz/fuzz_snapshot: $(FUZZ_SRCS) $(wildcard headers/*.h user/*.h)
	$(call msg,FUZZ,$@)
	@mkdir -p $(dir $@)
	$(Q)$(CLANG) -std=gnu11 -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE \
		-Iheaders -Iuser $(FUZZ_SRCS) -ljansson -o $@

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

# Regenerate the committed man pages from docs/man/*.md (needs go-md2man).
man: $(patsubst docs/man/%.md,man/%,$(wildcard docs/man/*.md))

man/%: docs/man/%.md
	$(call msg,MAN,$@)
	$(Q)go-md2man -in $< -out $@

# ---- commands ----
deps:
	$(Q)tools/install-deps.sh

test: deps
	$(Q)$(MAKE) --no-print-directory all $(O)/fuzz/fuzz_snapshot
	$(Q)$(MAKE) --no-print-directory san
	$(Q)O=$(O) FUZZ_SECONDS=$(FUZZ_SECONDS) selftests/run.sh

demo: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)O=$(O) tools/demo.sh

bench: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)O=$(O) tools/bench/run.sh

bench-smoke: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)O=$(O) tools/bench/run.sh --smoke

clean:
	$(call msg,CLEAN,$(O))
	$(Q)rm -rf $(O)

help:
	@echo 'make            build BPF objects, skeletons, nanami-gatewayd, nanami-gwctl, tools and tests into $(O)/'
	@echo 'make test       install missing dependencies, build, run every selftest (needs root)'
	@echo 'make demo       bring up the demo gateway in network namespaces (needs root)'
	@echo 'make bench      run the benchmarks into $(O)/bench/ (minutes; needs root)'
	@echo 'make bench-smoke  the same harness, short (< 60 s), figures not meaningful'
	@echo 'make san        build user code and unit tests with ASan+UBSan into $(O)/san'
	@echo 'make fuzz       fuzz the snapshot parser/validator/compiler (FUZZ_SECONDS=20)'
	@echo 'make deps       install the Debian packages the project needs'
	@echo 'make install    install binaries, man pages, systemd unit (PREFIX, DESTDIR, SYSCONFDIR)'
	@echo 'make clean      remove $(O)/'
	@echo 'V=1             show full commands; O=DIR build elsewhere'

-include $(shell find $(O) -name '*.d' 2>/dev/null)
