# cellvm build.  Everything goes out of tree into $(BUILD); binaries in
# $(BUILD)/bin.  Sources are found by directory, so a new file needs no edit
# here:
#   ipc/ sandbox/ vmm-core/ devices/*/ devices/*/*/ tools/*/ -> $(BUILD)/libcellvm.a
#     (except each main.c, files named *_hooks.c, tools/fuzz and tools/bench)
#   devices/NAME/main.c                      -> $(BUILD)/bin/cellvm-dev-NAME
#   tools/NAME/main.c                        -> $(BUILD)/bin/cellvm-NAME
#   tools/cellvm/main.c, vmm-core/main.c     -> $(BUILD)/bin/cellvm, cellvm-core
#   tests/unit/test_NAME.c                   -> $(BUILD)/tests/test_NAME (cmocka)
#   tests/integration/*.sh                   -> run by make check
#   tools/fuzz/fuzz_NAME.c                   -> $(BUILD)/fuzz/fuzz_NAME (clang, libFuzzer)
#   tools/fuzz/other *.c (shared harness code) -> linked into every fuzz_NAME, and
#                                               into unit tests ($(BUILD)/libharness.a)
#   tools/bench/bench_NAME.c                 -> $(BUILD)/bench/bench_NAME
#   tests/helpers/NAME.c                     -> $(BUILD)/test-bin/NAME (for tests)
#   tools/libcellvm/*.c (+ what they need of tools/vmconf)
#                                            -> $(BUILD)/lib/libcellvm-client.so
#   make install [PREFIX=/usr/local] [DESTDIR=]: cellvm and cellvm-img in bin,
#     cellvm-core, cellvm-dev-* and the other tools in libexec/cellvm, the
#     client library, its header and pkg-config file, the systemd unit.

BUILD     ?= build
ifeq ($(origin CC),default)
CC        := gcc
endif
SAN       ?=
PKGS      := libprotobuf-c libseccomp libevent uuid zlib libzstd libxml-2.0
CFLAGS    := -std=gnu11 -O2 -g -Wall -Wextra -Werror -D_GNU_SOURCE \
             -I. -I$(BUILD)/gen $(SAN) $(EXTRA_CFLAGS) \
             $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDFLAGS   := $(SAN)
LDLIBS    := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lpthread

PROTOS    := $(wildcard proto/*.proto)
GEN_C     := $(patsubst proto/%.proto,$(BUILD)/gen/proto/%.pb-c.c,$(PROTOS))
GEN_H     := $(GEN_C:.c=.h)

LIB_DIRS  := ipc sandbox vmm-core $(wildcard devices/*) \
             $(patsubst %/,%,$(wildcard devices/*/*/)) \
             $(filter-out tools/fuzz tools/bench,$(wildcard tools/*))
LIB_SRCS  := $(filter-out %/main.c %_hooks.c,$(wildcard $(addsuffix /*.c,$(LIB_DIRS))))
LIB_OBJS  := $(patsubst %.c,$(BUILD)/obj/%.o,$(LIB_SRCS)) \
             $(patsubst %.c,$(BUILD)/obj/%.o,$(GEN_C:$(BUILD)/%=%))
LIB       := $(BUILD)/libcellvm.a

DEV_NAMES := $(patsubst devices/%/main.c,%,$(wildcard devices/*/main.c))
TOOL_NAMES:= $(filter-out cellvm,$(patsubst tools/%/main.c,%,$(wildcard tools/*/main.c)))
BINS      := $(addprefix $(BUILD)/bin/cellvm-dev-,$(DEV_NAMES)) \
             $(addprefix $(BUILD)/bin/cellvm-,$(TOOL_NAMES)) \
             $(BUILD)/bin/cellvm $(BUILD)/bin/cellvm-core
# Device binaries with the test-only hooks (devices/common/*_hooks.c) linked in.
HOOK_SRCS := $(wildcard devices/common/*_hooks.c)
HOOK_BINS := $(addprefix $(BUILD)/test-bin/cellvm-dev-,$(DEV_NAMES))

# Programs the integration tests drive (e.g. an image writer).
HELPER_SRCS := $(wildcard tests/helpers/*.c)
HELPER_BINS := $(patsubst tests/helpers/%.c,$(BUILD)/test-bin/%,$(HELPER_SRCS))

UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRCS))
INTEG     := $(sort $(wildcard tests/integration/*.sh))

FUZZ_SRCS := $(wildcard tools/fuzz/fuzz_*.c)
FUZZ_BINS := $(patsubst tools/fuzz/%.c,$(BUILD)/fuzz/%,$(FUZZ_SRCS))
FUZZ_HELPERS := $(filter-out $(FUZZ_SRCS),$(wildcard tools/fuzz/*.c))
HARNESS_LIB := $(BUILD)/libharness.a
FUZZ_TIME ?= 60
BENCH_SRCS:= $(wildcard tools/bench/bench_*.c)
BENCH_BINS:= $(patsubst tools/bench/%.c,$(BUILD)/bench/%,$(BENCH_SRCS))

# The client library (tools/libcellvm/cellvm.h): PIC objects of its own.
LIBCLIENT_SRCS := $(wildcard tools/libcellvm/*.c) tools/vmconf/vmdir.c tools/vmconf/vmdir_lock.c \
                  tools/vmconf/pvs_read.c tools/vmconf/names.c tools/vmconf/limits.c
LIBCLIENT_OBJS := $(patsubst %.c,$(BUILD)/obj-pic/%.o,$(LIBCLIENT_SRCS)) \
                  $(BUILD)/obj-pic/gen/proto/mgmt.pb-c.o
LIBCLIENT_SONAME := libcellvm-client.so.0
LIBCLIENT := $(BUILD)/lib/libcellvm-client.so

PREFIX    ?= /usr/local
DESTDIR   ?=
USER_TOOLS := img

.PHONY: all demo install demo-uart deps check check-smp check-unit check-integration check-fuzz check-asan \
        fuzz bench clean
.DELETE_ON_ERROR:
# Objects made by pattern rules are kept, so a second make does nothing.
.PRECIOUS: $(BUILD)/obj/%.o $(BUILD)/obj-hooks/%.o $(BUILD)/gen/proto/%.pb-c.c \
           $(BUILD)/gen/proto/%.pb-c.h

all: $(BINS) $(HOOK_BINS) $(HELPER_BINS) $(LIBCLIENT)

deps:
	@tools/deps.sh

# The demo boots Debian's kernel under cellvm with its console here.
demo: deps
	@$(MAKE) --no-print-directory all
	@BUILD=$(BUILD) tools/demo/demo.sh

# A guest's serial driver played by cellvm-devrun against the UART process.
demo-uart: deps
	@$(MAKE) --no-print-directory all
	@$(BUILD)/bin/cellvm-devrun -q --script tools/demo/uart-hello.txt uart --port com1 --backend stdio

# --- generated protobuf-c code ---------------------------------------------
$(BUILD)/gen/proto/%.pb-c.c $(BUILD)/gen/proto/%.pb-c.h: proto/%.proto
	@mkdir -p $(dir $@)
	protoc-c --c_out=$(BUILD)/gen $<

$(BUILD)/obj/gen/%.o: $(BUILD)/gen/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Wno-unused-parameter -MMD -MP -c -o $@ $<

# Every object waits for the generated headers.
$(BUILD)/obj/%.o: %.c | $(GEN_H)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/obj-hooks/%.o: %.c | $(GEN_H)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -DCELLVM_TEST_HOOKS -MMD -MP -c -o $@ $<

$(BUILD)/obj-pic/gen/%.o: $(BUILD)/gen/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -fPIC -Wno-unused-parameter -MMD -MP -c -o $@ $<

$(BUILD)/obj-pic/%.o: %.c | $(GEN_H)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -fPIC -MMD -MP -c -o $@ $<

$(LIBCLIENT): $(LIBCLIENT_OBJS) tools/libcellvm/libcellvm-client.map
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -shared -Wl,-soname,$(LIBCLIENT_SONAME) -Wl,--no-undefined \
	  -Wl,--version-script=tools/libcellvm/libcellvm-client.map -o $@.0 $(LIBCLIENT_OBJS) \
	  $(shell pkg-config --libs libprotobuf-c libxml-2.0 uuid 2>/dev/null)
	ln -sf $(notdir $@).0 $@

$(LIB): $(LIB_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

# The supervisor (tools/cellvm) and the vCPU core (vmm-core).
$(BUILD)/bin/cellvm: $(BUILD)/obj/tools/cellvm/main.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/bin/cellvm-core: $(BUILD)/obj/vmm-core/main.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/bin/cellvm-dev-%: $(BUILD)/obj/devices/%/main.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/bin/cellvm-%: $(BUILD)/obj/tools/%/main.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/test-bin/cellvm-dev-%: $(BUILD)/obj/devices/%/main.o \
		$(patsubst %.c,$(BUILD)/obj-hooks/%.o,$(HOOK_SRCS)) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/test-bin/%: $(BUILD)/obj/tests/helpers/%.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(HARNESS_LIB): $(patsubst %.c,$(BUILD)/obj/%.o,$(FUZZ_HELPERS))
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

# The harness archive comes first: a test that uses it gets its members
# (which may stand in for a library object, see tools/fuzz/net_harness.c).
$(BUILD)/tests/test_%: $(BUILD)/obj/tests/unit/test_%.o $(HARNESS_LIB) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lcmocka

$(BUILD)/bench/bench_%: $(BUILD)/obj/tools/bench/bench_%.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lm

# --- tests -----------------------------------------------------------------
check: deps
	@$(MAKE) --no-print-directory check-unit check-integration check-fuzz

check-unit: $(UNIT_BINS) $(BINS) $(HOOK_BINS)
	@tools/run-tests.sh unit $(UNIT_BINS)

check-integration: $(BINS) $(HOOK_BINS) $(HELPER_BINS)
	@BUILD=$(BUILD) tools/run-tests.sh integration $(INTEG)

# The 64-vCPU boot alone (make check runs it too).
check-smp: deps all
	@BUILD=$(BUILD) sh tests/integration/vm_64cpus.sh

# ASan + UBSan: a build of its own, the unit and integration tests on it
# (without the whole-VM tests, which need the nested host, nor the tests of
# the nested host's own scripts, which run no cellvm code).
NESTED_INTEG := tests/integration/vm.sh tests/integration/vm_64cpus.sh \
	tests/integration/vm_host_retry.sh tests/integration/kvmhost_watchdog.sh
check-asan: deps
	@$(MAKE) --no-print-directory BUILD=build/asan \
	  SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" \
	  INTEG="$(filter-out $(NESTED_INTEG),$(INTEG))" check-unit check-integration

# --- fuzzing (clang + libFuzzer + ASan/UBSan, a build of its own) ----------
# The library is brought up to date first (phony: the harnesses relink when
# any library source changed).  clang warns where gcc does not: warnings in
# the library do not stop this build (the gcc build is the -Werror gate).
FUZZ_CFLAGS := -fsanitize=fuzzer,address,undefined -fno-omit-frame-pointer
.PHONY: fuzzlib
fuzzlib:
	@$(MAKE) --no-print-directory BUILD=build/fuzzlib CC=clang \
	  SAN="-fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer" \
	  build/fuzzlib/libcellvm.a
$(BUILD)/fuzz/fuzz_%: tools/fuzz/fuzz_%.c $(FUZZ_HELPERS) $(wildcard tools/fuzz/*.h) fuzzlib
	@mkdir -p $(dir $@)
	clang -I build/fuzzlib/gen $(CFLAGS) $(FUZZ_CFLAGS) \
	  -o $@ $< $(FUZZ_HELPERS) build/fuzzlib/libcellvm.a $(LDLIBS)

check-fuzz: $(FUZZ_BINS)
	@tools/run-fuzz.sh 10 $(FUZZ_BINS)

fuzz: $(FUZZ_BINS)
	@tools/run-fuzz.sh $(FUZZ_TIME) $(FUZZ_BINS)

# --- benchmarks --------------------------------------------------------------
bench: deps $(BINS) $(BENCH_BINS) $(BUILD)/bench/guest/diskbench
	@for b in $(BENCH_BINS); do echo "== $$b"; $$b --bin-dir $(BUILD)/bin || exit 1; done
	@echo "== tools/bench/img_bench.sh"
	@BUILD=$(BUILD) sh tools/bench/img_bench.sh
	@echo "== tools/bench/vm_boot.sh"
	@BUILD=$(BUILD) tools/mkguest/mkguest
	@if sh tools/kvmhost/kvm-usable; then BUILD=$(BUILD) sh tools/bench/vm_boot.sh; \
	 else BUILD=$(BUILD) tools/kvmhost/run --memory 3G -- sh tools/bench/vm_boot.sh; fi
	@echo "== tools/bench/disk_bench.sh"
	@if sh tools/kvmhost/kvm-usable; then BUILD=$(BUILD) sh tools/bench/disk_bench.sh; \
	 else BUILD=$(BUILD) tools/kvmhost/run --memory 3G --timeout 1200 -- sh tools/bench/disk_bench.sh; fi
	@echo "== tools/bench/net_bench.sh"
	@if sh tools/kvmhost/kvm-usable; then BUILD=$(BUILD) sh tools/bench/net_bench.sh; \
	 else BUILD=$(BUILD) tools/kvmhost/run --memory 4G --timeout 3000 -- sh tools/bench/net_bench.sh; fi

# Programs for the test guest, static (tools/bench/guest_initrd.sh puts them
# in the guest's initrd, and builds them too when make has not).
$(BUILD)/bench/guest/%: tools/bench/guest/%.c
	@mkdir -p $(@D)
	$(CC) -static -O2 -Wall -Wextra -Werror -o $@ $< -lpthread

# --- install -------------------------------------------------------------------
install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/libexec/cellvm \
	  $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/include \
	  $(DESTDIR)$(PREFIX)/lib/systemd/system
	install -m 755 $(BUILD)/bin/cellvm $(addprefix $(BUILD)/bin/cellvm-,$(USER_TOOLS)) \
	  $(DESTDIR)$(PREFIX)/bin/
	install -m 755 $(BUILD)/bin/cellvm-core $(addprefix $(BUILD)/bin/cellvm-dev-,$(DEV_NAMES)) \
	  $(addprefix $(BUILD)/bin/cellvm-,$(filter-out $(USER_TOOLS),$(TOOL_NAMES))) \
	  $(DESTDIR)$(PREFIX)/libexec/cellvm/
	install -m 755 $(LIBCLIENT).0 $(DESTDIR)$(PREFIX)/lib/$(LIBCLIENT_SONAME)
	ln -sf $(LIBCLIENT_SONAME) $(DESTDIR)$(PREFIX)/lib/libcellvm-client.so
	install -m 644 tools/libcellvm/cellvm.h $(DESTDIR)$(PREFIX)/include/cellvm.h
	sed 's|@PREFIX@|$(PREFIX)|' dist/pkgconfig/cellvm-client.pc.in \
	  >$(DESTDIR)$(PREFIX)/lib/pkgconfig/cellvm-client.pc
	sed 's|@BINDIR@|$(PREFIX)/bin|' dist/systemd/cellvm@.service \
	  >$(DESTDIR)$(PREFIX)/lib/systemd/system/cellvm@.service

clean:
	rm -rf build

-include $(shell find $(BUILD)/obj $(BUILD)/obj-hooks $(BUILD)/obj-pic -name '*.d' 2>/dev/null)
