# Test binaries: every tests/unit/test_*.c and tests/bpf/test_*.c becomes a
# program under build/tests/, linked with libxwan and cmocka. tests/run.sh
# runs them all, then the end-to-end lab tests.

UNIT_SRCS  := $(wildcard tests/unit/test_*.c)
BPFT_SRCS  := $(wildcard tests/bpf/test_*.c)
TEST_BINS  := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRCS)) \
              $(patsubst tests/bpf/%.c,$(BUILD)/tests/%,$(BPFT_SRCS))
TEST_HDRS  := $(wildcard tests/unit/*.h tests/bpf/*.h)

.PHONY: tests
tests: $(TEST_BINS)

$(BUILD)/tests/%: tests/unit/%.c $(TEST_HDRS) $(BUILD)/libxwancli.a $(BUILD)/libxwan.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $< -o $@ $(BUILD)/libxwancli.a $(BUILD)/libxwan.a $(LDLIBS) -lcmocka

$(BUILD)/tests/%: tests/bpf/%.c $(TEST_HDRS) $(BUILD)/libxwan.a $(SKELS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $< -o $@ $(BUILD)/libxwan.a $(LDLIBS) -lcmocka

# BPF tests of one header, through their own test object (bpf/test/).
$(BUILD)/tests/test_npt6 $(BUILD)/tests/test_parse6: $(BPF_TEST_OBJS)
