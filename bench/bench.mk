# Build the benchmark programs (bench/run.sh runs this; `make bench` runs that).
#   make -f bench/bench.mk BUILD=build
BUILD      ?= build
BPF_CLANG  ?= $(shell command -v clang-19 || command -v clang)
CC         ?= cc
ARCH       := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')
CFLAGS     ?= -O2 -g
CFLAGS     += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Wno-unused-parameter -Wshadow \
              -I$(BUILD) -I.
LDLIBS     += -lbpf -lelf -lz -lyaml -lmnl -lmicrohttpd -lm -lpthread
BPF_CFLAGS := -target bpf -mcpu=v3 -g -O2 -D__TARGET_ARCH_$(ARCH) -Wall -Ivmlinux -I.

B := $(BUILD)/bench

.PHONY: all
all: $(B)/bench_dp $(B)/flowfill $(B)/harness.bpf.o $(B)/bare_fwd.bpf.o $(B)/xdpgen.bpf.o $(B)/xdpgen

$(B):
	mkdir -p $@

$(B)/%.bpf.o: bench/%.bpf.c bench/bench_tuple.h vmlinux/vmlinux.h | $(B)
	$(BPF_CLANG) $(BPF_CFLAGS) -c $< -o $@

$(B)/bench_dp: bench/bench_dp.c bench/bench_tuple.h tests/bpf/pkt.h $(BUILD)/libxwan.a | $(B)
	$(CC) $(CFLAGS) $< -o $@ $(BUILD)/libxwan.a $(LDLIBS)

$(B)/flowfill: bench/flowfill.c $(BUILD)/libxwan.a | $(B)
	$(CC) $(CFLAGS) $< -o $@ $(BUILD)/libxwan.a $(LDLIBS)

$(B)/xdpgen: bench/xdpgen.c | $(B)
	$(CC) $(CFLAGS) $< -o $@ -lbpf -lelf -lz
