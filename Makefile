# sonde: one entry point. Targets: all demo check bench fuzz clean (and unit, integration,
# bench-agent, bench-floor, cross-smoke, check-kernels: CI runs it after check).
# V=1 shows every command. ARCH=arm64 on an x86 host cross-builds build/arm64/sonde
# (docs/architecture.md, "Cross-building for arm64").

HOST_ARCH := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')
ARCH ?= $(HOST_ARCH)
BUILD := build
CLANG ?= clang
BPFTOOL ?= bpftool
CC ?= gcc

# The cross build: BPF objects for arm64 (vmlinux/arm64) and skeletons by the host's clang
# and bpftool, the userspace by aarch64-linux-gnu-gcc against build/sysroot-arm64 (Debian's
# arm64 libraries, unpacked by scripts/cross.sh), all in build/arm64.
ifneq ($(ARCH),$(HOST_ARCH))
ifneq ($(HOST_ARCH)-$(ARCH),x86-arm64)
$(error ARCH=$(ARCH) on a $(HOST_ARCH) host: only ARCH=arm64 on x86 cross-builds)
endif
CROSS := aarch64-linux-gnu
BUILD := build/$(ARCH)
SYSROOT := build/sysroot-$(ARCH)
SYSROOT_STAMP := $(SYSROOT)/.sonde-sysroot
ifeq ($(origin CC),default)
CC := $(CROSS)-gcc
endif
ifeq ($(origin AR),default)
AR := $(CROSS)-ar
endif
SYSROOT_LIBS := $(SYSROOT)/usr/lib/$(CROSS) $(SYSROOT)/lib/$(CROSS)
endif
VERSION := $(shell git describe --always --dirty 2>/dev/null || echo 0.1.0)

ifeq ($(V),1)
Q :=
msg :=
else
Q := @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

INCLUDES := -Iinclude -Iuser -I$(BUILD)
CFLAGS ?= -O2 -g
CFLAGS += -std=gnu11 -Wall -Wextra -Werror -MMD -MP $(INCLUDES) -DSONDE_VERSION='"$(VERSION)"'
LDLIBS := -lbpf -lelf -lz -lmicrohttpd -lyaml -lcurl -lrdkafka -ljson-c -lsnappy -lhiredis -lpthread -lm
ifdef CROSS
# The sysroot's headers and libraries (the C library is the cross toolchain's); -rpath-link
# for the libraries' own dependencies (libssl, libgnutls, ...).
CFLAGS += -isystem $(SYSROOT)/usr/include/$(CROSS) -isystem $(SYSROOT)/usr/include
LDLIBS := $(addprefix -L,$(SYSROOT_LIBS)) -Wl,-rpath-link,$(subst $() ,:,$(SYSROOT_LIBS)) $(LDLIBS)
endif
bpf_cflags = -g -O2 -target bpf -D__TARGET_ARCH_$(1) -Iinclude -Ibpf -Ivmlinux/$(1) -Wall
BPF_CFLAGS := $(call bpf_cflags,$(ARCH))

BPF_SRCS := $(wildcard bpf/*.bpf.c)
BPF_OBJS := $(patsubst bpf/%.bpf.c,$(BUILD)/bpf/%.bpf.o,$(BPF_SRCS))
SKELS := $(patsubst bpf/%.bpf.c,$(BUILD)/%.skel.h,$(BPF_SRCS)) $(BUILD)/capture_compat.skel.h

# Objects that need no BPF skeleton go into libsonde.a, which unit tests link.
CORE_SRCS := $(wildcard user/proto/*.c user/export/*.c user/sinks/*.c) user/config.c user/conn.c \
	user/agent.c user/span.c user/trace.c user/trace_store.c user/traces_cli.c user/rules.c \
	user/discover.c user/k8s.c
AGENT_SRCS := $(filter-out $(CORE_SRCS),$(wildcard user/*.c))
CORE_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(CORE_SRCS))
AGENT_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(AGENT_SRCS))

UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRCS))
FUZZ_SRCS := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS := $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/%,$(FUZZ_SRCS))

.DELETE_ON_ERROR:
.SECONDARY:
.PHONY: all deps test-deps demo check unit integration bench bench-floor bench-agent fuzz clean cross-smoke FORCE

all: deps $(BUILD)/sonde $(if $(CROSS),$(BUILD)/smoke.ok)

deps:
	$(Q)scripts/deps.sh build

test-deps:
	$(Q)scripts/deps.sh test

# A BPF object for a skeleton: clang, then bpftool gen object (as skeletons expect).
define bpf_object
	$(call msg,BPF,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@.tmp
	$(Q)$(BPFTOOL) gen object $@ $@.tmp
	$(Q)rm -f $@.tmp
endef

$(BUILD)/bpf/%.bpf.o: bpf/%.bpf.c $(wildcard include/*.h bpf/*.h)
	$(bpf_object)

# capture.bpf.c without kfuncs, for kernels before 6.2 (loader.c chooses at load).
$(BUILD)/bpf/capture_compat.bpf.o: BPF_CFLAGS += -DSONDE_NO_KFUNC
$(BUILD)/bpf/capture_compat.bpf.o: bpf/capture.bpf.c $(wildcard include/*.h bpf/*.h)
	$(bpf_object)

# The BPF code compiled for the other architecture as well (make check): nothing loads
# it on this machine, but it must build against that architecture's vmlinux.h.
OTHER_ARCH := $(if $(filter x86,$(ARCH)),arm64,x86)
BPF_CROSS := $(patsubst bpf/%.bpf.c,$(BUILD)/bpf-$(OTHER_ARCH)/%.bpf.o,$(BPF_SRCS))

$(BUILD)/bpf-$(OTHER_ARCH)/%.bpf.o: bpf/%.bpf.c $(wildcard include/*.h bpf/*.h)
	$(call msg,BPF,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CLANG) $(call bpf_cflags,$(OTHER_ARCH)) -c $< -o $@

$(BUILD)/%.skel.h: $(BUILD)/bpf/%.bpf.o
	$(call msg,SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name $(subst -,_,$*)_bpf > $@

$(BUILD)/obj/%.o: %.c | $(SKELS)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

# The version is compiled in: rebuild what uses it when it changes (a stamp
# rewritten only then).
$(BUILD)/version.stamp: FORCE
	$(Q)mkdir -p $(BUILD)
	$(Q)[ "$$(cat $@ 2>/dev/null)" = "$(VERSION)" ] || echo "$(VERSION)" > $@
$(BUILD)/obj/user/main.o $(BUILD)/obj/user/config.o: $(BUILD)/version.stamp
FORCE:

# The web view (user/export/web/), embedded in the binary as byte arrays.
WEB_ASSETS := $(wildcard user/export/web/*)
$(BUILD)/web_assets.h: $(WEB_ASSETS) scripts/embed.sh
	$(call msg,EMBED,$@)
	$(Q)mkdir -p $(BUILD)
	$(Q)scripts/embed.sh $(WEB_ASSETS) > $@.tmp && mv $@.tmp $@
$(BUILD)/obj/user/export/httpd.o: $(BUILD)/web_assets.h

$(BUILD)/libsonde.a: $(CORE_OBJS)
	$(call msg,AR,$@)
	$(Q)$(AR) rcs $@ $^

$(BUILD)/sonde: $(AGENT_OBJS) $(BUILD)/libsonde.a
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)

ifdef CROSS
# The sysroot, rebuilt (and the stamp rewritten) only when scripts/cross.sh's package list
# changes; it also installs the host packages of the cross build when missing.
$(SYSROOT_STAMP): FORCE
	$(Q)scripts/cross.sh $(SYSROOT)
$(CORE_OBJS) $(AGENT_OBJS): $(SYSROOT_STAMP)

# The binary is for arm64 and runs under qemu with the sysroot's libraries (--help: no BPF).
cross_smoke = file $(BUILD)/sonde | grep 'ARM aarch64' && \
	qemu-aarch64-static -L $(SYSROOT) $(BUILD)/sonde --help 2>&1 | grep 'Usage: sonde'
$(BUILD)/smoke.ok: $(BUILD)/sonde
	$(call msg,SMOKE,$<)
	$(Q)($(cross_smoke)) >/dev/null && touch $@
cross-smoke: $(BUILD)/sonde
	$(Q)$(cross_smoke)
	$(Q)qemu-aarch64-static -L $(SYSROOT) $(BUILD)/sonde --version
else
cross-smoke:
	$(Q)$(MAKE) --no-print-directory ARCH=arm64 cross-smoke
endif

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libsonde.a
	$(call msg,CC,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) $(CFLAGS) $< -o $@ $(BUILD)/libsonde.a -lcmocka $(LDLIBS)

# Instruction-count driver for the agent path (not a test: see the file's header).
bench-agent: $(BUILD)/tests/bench_agent

$(BUILD)/fuzz/%: tests/fuzz/%.c $(CORE_SRCS)
	$(call msg,FUZZ,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CLANG) -g -O1 -fsanitize=fuzzer,address,undefined -Iinclude -Iuser \
		-DSONDE_VERSION='"fuzz"' $< $(wildcard user/proto/*.c) user/config.c user/rules.c -o $@ -lyaml

# The agent's record path: the agent, its parsers and the metrics registry (no httpd and
# no exporters: they need network libraries, and are not what is fuzzed).
FUZZ_AGENT_SKIP := user/export/httpd.c user/export/zipkin_http.c user/export/zipkin_kafka.c user/export/log_http.c \
	user/traces_cli.c
$(BUILD)/fuzz/fuzz_agent: tests/fuzz/fuzz_agent.c $(CORE_SRCS)
	$(call msg,FUZZ,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CLANG) -g -O1 -fsanitize=fuzzer,address,undefined -Iinclude -Iuser \
		-DSONDE_VERSION='"fuzz"' $< $(filter-out $(FUZZ_AGENT_SKIP),$(CORE_SRCS)) -o $@ \
		-lyaml -ljson-c -lpthread -lm

# The cgroup-path and pod-name readers of Kubernetes metadata.
$(BUILD)/fuzz/fuzz_k8s: tests/fuzz/fuzz_k8s.c user/k8s.c user/k8s.h
	$(call msg,FUZZ,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CLANG) -g -O1 -fsanitize=fuzzer,address,undefined -Iinclude -Iuser $< user/k8s.c -o $@ -ljson-c

$(BUILD)/mock_broker: tests/kafka/mock_broker.c
	$(call msg,CC,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) -std=gnu11 -Wall -Wextra -Werror -O2 $< -o $@ -lrdkafka

unit: test-deps $(UNIT_BINS)
	$(Q)scripts/run-unit.sh $(UNIT_BINS)

integration: test-deps $(BUILD)/sonde
	$(Q)tests/integration/run.sh

check: test-deps
	$(Q)$(MAKE) --no-print-directory $(BUILD)/sonde $(BPF_CROSS) $(UNIT_BINS) $(FUZZ_BINS) \
		$(BUILD)/mock_broker
	$(Q)scripts/check.sh $(UNIT_BINS) -- $(FUZZ_BINS)

demo: all $(BUILD)/mock_broker
	$(Q)scripts/deps.sh demo
	$(Q)$(if $(DURATION),DEMO_SECONDS=$(DURATION) )scripts/demo.sh

bench: all
	$(Q)scripts/deps.sh bench
	$(Q)tests/bench/bench.sh

# The capture path against a tc yardstick (tests/bench/floor/: not part of sonde).
bench-floor: all $(BUILD)/floor/tc_capture
	$(Q)scripts/deps.sh bench
	$(Q)tests/bench/floor/floor.sh

$(BUILD)/floor/tc_capture.bpf.o: tests/bench/floor/tc_capture.bpf.c
	$(bpf_object)

$(BUILD)/floor/tc_capture: tests/bench/floor/tc_capture.c $(BUILD)/floor/tc_capture.bpf.o
	$(call msg,CC,$@)
	$(Q)$(BPFTOOL) gen skeleton $(BUILD)/floor/tc_capture.bpf.o name tc_capture_bpf \
		> $(BUILD)/floor/tc_capture.skel.h
	$(Q)$(CC) $(CFLAGS) -I$(BUILD)/floor $< -o $@ -lbpf -lelf -lz

fuzz: $(FUZZ_BINS)
	$(Q)for f in $(FUZZ_BINS); do echo "fuzz $$f"; $$f -max_total_time=$${FUZZ_SECONDS:-60} \
		-rss_limit_mb=2048 tests/fuzz/corpus/$$(basename $$f) || exit 1; done

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)

# Boots Debian 12's 6.1 kernels (x86_64 and arm64) under qemu (TCG) with a small initramfs
# and runs sonde's self-test inside (scripts/kernels.sh, tests/kernels/init); serial logs in
# build/kernels/<arch>.log. KERNELS="x86" or "arm64" for one; SONDE_V=-vv for verifier logs;
# KERNELS="ubuntu-5.15 ubuntu-6.8" boots Ubuntu's (opt-in: from archive.ubuntu.com, not in CI).
.PHONY: check-kernels
ifeq ($(HOST_ARCH)-$(ARCH),x86-x86)
check-kernels: deps $(BUILD)/sonde
	$(Q)$(MAKE) --no-print-directory ARCH=arm64
	$(Q)scripts/kernels.sh $(KERNELS)
else
check-kernels:
	$(error check-kernels runs on an x86_64 host, without ARCH=)
endif
