# xwan: multi-WAN gateway with an eBPF dataplane.
#
#   make            build build/xwan (and the BPF objects it embeds)
#   make deps       install the missing Debian packages (dist/debian-packages.txt)
#   make test       deps, build, then run the whole test suite (tests/run.sh)
#   make demo       deps, build, then run the demo lab (tests/e2e/demo.sh)
#   make bench      benchmarks, writes docs/benchmarks.md
#   make fuzz       bounded fuzzing of the config loader
#   make install    binary, systemd unit, man page, example config
#                   (PREFIX=/usr/local, DESTDIR, SYSCONFDIR=/etc, UNITDIR)

BUILD      ?= build
BPF_CLANG  ?= $(shell command -v clang-19 || command -v clang)
BPFTOOL    ?= bpftool
CC         ?= cc
ARCH       := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')

CFLAGS     ?= -O2 -g
CFLAGS     += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Wno-unused-parameter \
              -Wshadow -Wformat=2 -I$(BUILD) -I.
LDLIBS     += -lbpf -lelf -lz -lyaml -lmnl -lmicrohttpd -lm -lpthread

BPF_CFLAGS := -target bpf -mcpu=v3 -g -O2 -D__TARGET_ARCH_$(ARCH) \
              -Wall -Wno-unused-function -Ivmlinux -I.

BPF_HDRS   := $(wildcard bpf/*.h bpf/lib/*.h)
BPF_PROGS  := xdp tc
BPF_OBJS   := $(patsubst %,$(BUILD)/%.bpf.o,$(BPF_PROGS))
SKELS      := $(patsubst %,$(BUILD)/%.skel.h,$(BPF_PROGS))

# Folders form a DAG: bpf <- loader <- monitor <- cli. loader and monitor go
# into libxwan, the CLI's modules (but main) into libxwancli; the unit tests
# link against both.
LIB_SRCS   := $(wildcard loader/*.c monitor/*.c)
LIB_OBJS   := $(patsubst %.c,$(BUILD)/%.o,$(LIB_SRCS)) $(BUILD)/web_assets.o
CLI_SRCS   := $(filter-out cli/main.c,$(wildcard cli/*.c))
CLI_OBJS   := $(patsubst %.c,$(BUILD)/%.o,$(CLI_SRCS))
USER_HDRS  := $(wildcard loader/*.h monitor/*.h cli/*.h) bpf/xwan_types.h

.PHONY: all deps test demo bench fuzz clean install uninstall
# Generated BPF objects and skeletons are inputs of several rules: keep them.
.SECONDARY:
all: $(BUILD)/xwan

vmlinux/vmlinux.h:
	$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > $@.tmp
	mv $@.tmp $@

$(BUILD)/%.bpf.o: bpf/%.bpf.c $(BPF_HDRS) vmlinux/vmlinux.h | $(BUILD)
	$(BPF_CLANG) $(BPF_CFLAGS) -c $< -o $@

# Test-only BPF objects around one bpf/lib header each (bpf/test/), built
# once per hook; tests/bpf/test_*.c load them from next to build/tests/.
BPF_TEST_OBJS := $(BUILD)/npt6_test_xdp.bpf.o $(BUILD)/npt6_test_tc.bpf.o \
                 $(BUILD)/parse6_test.bpf.o
BPF_TEST_HDRS := $(wildcard bpf/test/*.h) $(BPF_HDRS) vmlinux/vmlinux.h
$(BUILD)/npt6_test_%.bpf.o: bpf/test/npt6_test.bpf.c $(BPF_TEST_HDRS) | $(BUILD)
	$(BPF_CLANG) $(BPF_CFLAGS) -DNPT6_TEST_HOOK_$* -c $< -o $@
$(BUILD)/%.bpf.o: bpf/test/%.bpf.c $(BPF_TEST_HDRS) | $(BUILD)
	$(BPF_CLANG) $(BPF_CFLAGS) -c $< -o $@

$(BUILD)/%.skel.h: $(BUILD)/%.bpf.o
	$(BPFTOOL) gen skeleton $< name xwan_$* > $@.tmp
	mv $@.tmp $@

$(BUILD)/loader/%.o $(BUILD)/monitor/%.o $(BUILD)/cli/%.o: | $(BUILD)
$(BUILD)/%.o: %.c $(USER_HDRS) $(SKELS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

# The status page (monitor/web/) goes into the binary as C arrays: the
# agent serves it with no files installed and nothing fetched at run time.
WEB_FILES  := $(sort $(wildcard monitor/web/*.html monitor/web/*.js monitor/web/*.css))
$(BUILD)/web_assets.c: $(WEB_FILES) monitor/web/embed.sh | $(BUILD)
	sh monitor/web/embed.sh $(WEB_FILES) > $@.tmp
	mv $@.tmp $@

$(BUILD)/web_assets.o: $(BUILD)/web_assets.c monitor/http.h
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/libxwan.a: $(LIB_OBJS)
	rm -f $@
	$(AR) rcs $@ $^

$(BUILD)/libxwancli.a: $(CLI_OBJS)
	rm -f $@
	$(AR) rcs $@ $^

$(BUILD)/xwan: $(BUILD)/cli/main.o $(BUILD)/libxwancli.a $(BUILD)/libxwan.a
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)

$(BUILD):
	mkdir -p $(BUILD)

include tests/tests.mk

deps:
	dist/deps.sh

# Dependencies first, then the build (a sub-make, so -j cannot start
# compiling before the compilers are installed).
test: deps
	$(MAKE) all tests
	tests/run.sh

demo: deps
	$(MAKE) all
	tests/e2e/demo.sh

bench: all
	BUILD=$(BUILD) bench/run.sh

# libFuzzer on the config loader; new inputs go to build/, the seed corpus
# in tests/fuzz/corpus/config stays as committed.
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
fuzz:
	@mkdir -p $(BUILD)/fuzz-corpus
	$(FUZZ_CC) -g -O1 -fsanitize=fuzzer,address,undefined -I. \
		tests/fuzz/config_fuzz.c loader/config.c -lyaml -o $(BUILD)/config_fuzz
	$(BUILD)/config_fuzz -max_total_time=$(FUZZ_SECONDS) -dict=tests/fuzz/config.dict \
		$(BUILD)/fuzz-corpus tests/fuzz/corpus/config

# The unit names the binary by its installed path; an operator's config is
# never overwritten (the example also goes to the doc directory).
PREFIX     ?= /usr/local
SYSCONFDIR ?= /etc
UNITDIR    ?= $(PREFIX)/lib/systemd/system
SBINDIR    := $(PREFIX)/sbin
MANDIR     := $(PREFIX)/share/man
DOCDIR     := $(PREFIX)/share/doc/xwan
install: all
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(UNITDIR) $(DESTDIR)$(MANDIR)/man8 \
		$(DESTDIR)$(DOCDIR)/examples $(DESTDIR)$(SYSCONFDIR)/xwan
	install -m 755 $(BUILD)/xwan $(DESTDIR)$(SBINDIR)/xwan
	sed -e 's|/usr/local/sbin/xwan|$(SBINDIR)/xwan|g' \
	    -e 's|/etc/xwan/|$(SYSCONFDIR)/xwan/|g' \
	    -e 's|/usr/local/share/doc/xwan/|$(DOCDIR)/|g' \
		dist/xwan.service > $(DESTDIR)$(UNITDIR)/xwan.service.tmp
	chmod 644 $(DESTDIR)$(UNITDIR)/xwan.service.tmp
	mv $(DESTDIR)$(UNITDIR)/xwan.service.tmp $(DESTDIR)$(UNITDIR)/xwan.service
	gzip -9nc docs/xwan.8 > $(DESTDIR)$(MANDIR)/man8/xwan.8.gz
	install -m 644 README.md docs/config.md $(DESTDIR)$(DOCDIR)/
	install -m 644 examples/xwan.yaml $(DESTDIR)$(DOCDIR)/examples/xwan.yaml
	@if [ -e $(DESTDIR)$(SYSCONFDIR)/xwan/xwan.yaml ]; then \
		echo "install: keeping $(DESTDIR)$(SYSCONFDIR)/xwan/xwan.yaml (example in $(DOCDIR)/examples)"; \
	else \
		install -m 640 examples/xwan.yaml $(DESTDIR)$(SYSCONFDIR)/xwan/xwan.yaml; \
	fi

# Leaves the config in place, as a package removal does.
uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/xwan $(DESTDIR)$(UNITDIR)/xwan.service \
		$(DESTDIR)$(MANDIR)/man8/xwan.8.gz
	rm -rf $(DESTDIR)$(DOCDIR)

clean:
	rm -rf $(BUILD) vmlinux/vmlinux.h
