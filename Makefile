# SPDX-License-Identifier: GPL-2.0
#
# AF_SAN top-level build.  The module itself is described in Kbuild.
#
#   make            module, selftests and tools (installs build packages)
#   make check      the whole suite in the QEMU + soft-RoCE test box
#   make demo       the main job: boot the test box and run the AF_SAN demo
#   make lint       W=1 build, sparse and checkpatch --strict
#   make shell      a shell in a booted test box with the module loaded
#   make check-debug   the suite on the debug kernel (KASAN, lockdep,
#                      kmemleak), built once per machine (~30 min)
#   make fuzz DURATION=s [SEED=n] [DEBUG=1]   san_fuzz and trinity on
#                      AF_SAN for DURATION seconds each (docs/fuzzing.md)
#   make soak DURATION=s [DEBUG=1]   connection churn for DURATION seconds,
#                      then 2,000 connections at once (docs/fuzzing.md)
#
# KVER/KDIR pick the kernel: by default the running kernel when its build
# directory exists, else the newest installed kernel with vmlinuz and headers.

TOP	:= $(CURDIR)
BUILD	:= $(TOP)/build
KVER	?= $(shell $(TOP)/tools/kver)
KDIR	?= /lib/modules/$(KVER)/build
KSFT	:= $(BUILD)/ksft
SRCTAR	:= /usr/src/linux-source-6.1.tar.xz

KERNEL_SRCS := $(wildcard $(TOP)/kernel/*.c $(TOP)/kernel/*.h) \
	       $(wildcard $(TOP)/uapi/linux/*.h) \
	       $(wildcard $(TOP)/selftests/bite/*.c)

.PHONY: all deps deps-build deps-box deps-debug deps-bench bench module selftests tools lint \
	check demo shell clean debug-kernel module-debug check-debug fuzz soak

all: module selftests tools

deps: deps-build deps-box
deps-build:
	@$(TOP)/tools/deps build
deps-box:
	@$(TOP)/tools/deps box
deps-debug:
	@$(TOP)/tools/deps debug
deps-bench:
	@$(TOP)/tools/deps bench

module: deps-build
	$(MAKE) -C $(KDIR) M=$(TOP) modules

# Files taken from Debian's linux-source package at build time, never
# committed: the kselftest harness and checkpatch.
$(KSFT)/.stamp: | deps-build
	@mkdir -p $(KSFT)
	tar -xJf $(SRCTAR) -C $(KSFT) --strip-components=1 \
		linux-source-6.1/tools/testing/selftests/kselftest_harness.h \
		linux-source-6.1/tools/testing/selftests/kselftest.h \
		linux-source-6.1/scripts/checkpatch.pl \
		linux-source-6.1/scripts/spelling.txt \
		linux-source-6.1/scripts/const_structs.checkpatch
	@touch $@

selftests: $(KSFT)/.stamp
	$(MAKE) -C $(TOP)/selftests OUTPUT=$(BUILD)/selftests KSFT=$(KSFT) \
		TOP=$(TOP)

tools: deps-build
	$(MAKE) -C $(TOP)/tools OUTPUT=$(BUILD)/tools TOP=$(TOP)

lint: $(KSFT)/.stamp
	@# Rebuild our objects only: "M=$(TOP) clean" would also empty build/.
	rm -f $(TOP)/kernel/*.o $(TOP)/kernel/.*.cmd $(TOP)/af_san.o $(TOP)/af_san.ko
	$(MAKE) -C $(KDIR) M=$(TOP) W=1 modules 2>&1 | tee $(BUILD)/lint-w1.log
	@! grep -E 'warning:|error:' $(BUILD)/lint-w1.log
	$(MAKE) -C $(KDIR) M=$(TOP) C=2 modules 2>&1 | tee $(BUILD)/lint-sparse.log
	@! grep -E '^$(TOP)/.*: (warning|error):' $(BUILD)/lint-sparse.log
	perl $(KSFT)/scripts/checkpatch.pl --strict --no-tree --quiet \
		-f $(KERNEL_SRCS)
	@echo "lint: W=1, sparse and checkpatch --strict are clean"

check: all deps-box
	$(TOP)/tools/check

demo: all deps-box
	$(TOP)/tools/testbox run -- $(TOP)/tools/demo

# The benchmark: AF_SAN against rsockets, TCP and perftest in one boot.
bench: all deps-box deps-bench
	$(TOP)/tools/bench

shell: all deps-box
	$(TOP)/tools/testbox shell

# The debug kernel and the modules built for it.  The kernel is built once
# per machine into a cache outside the repository (tools/debug-kernel).
DCACHE = $(shell $(TOP)/tools/debug-kernel/build --cached)

debug-kernel: deps-debug
	@$(TOP)/tools/debug-kernel/build >/dev/null

module-debug: debug-kernel
	rm -rf $(BUILD)/debug
	@mkdir -p $(BUILD)/debug/kernel $(BUILD)/debug/uapi/linux $(BUILD)/debug/bite
	cp -p $(TOP)/Kbuild $(BUILD)/debug/
	cp -p $(TOP)/kernel/*.[ch] $(BUILD)/debug/kernel/
	cp -p $(TOP)/uapi/linux/*.h $(BUILD)/debug/uapi/linux/
	cp -p $(TOP)/selftests/bite/Kbuild $(TOP)/selftests/bite/*.c $(BUILD)/debug/bite/
	$(MAKE) -C $(DCACHE)/src M=$(BUILD)/debug modules
	$(MAKE) -C $(DCACHE)/src M=$(BUILD)/debug/bite modules

check-debug: module-debug selftests tools deps-box
	$(TOP)/tools/check --debug

# The fuzzers for DURATION seconds each (default 60), seed SEED (default
# 1); DEBUG=1 on the debug kernel.
DURATION ?= 60
SEED ?= 1
fuzz: selftests tools deps-box $(if $(DEBUG),module-debug,module)
	$(TOP)/tools/fuzz $(if $(DEBUG),--debug) $(DURATION) $(SEED)

# san_soak for DURATION seconds, then san_scale, in one guest; DEBUG=1 on
# the debug kernel (kmemleak).  The module is built only when missing, so
# that a soak can run beside other test box runs: make module (or
# module-debug) first after changing kernel/.
soak: selftests tools deps-box $(if $(DEBUG),$(if $(wildcard $(BUILD)/debug/af_san.ko),,module-debug),$(if $(wildcard $(TOP)/af_san.ko),,module))
	$(TOP)/tools/soak $(if $(DEBUG),--debug) $(DURATION)

clean:
	-$(MAKE) -C $(KDIR) M=$(TOP) clean
	rm -rf $(BUILD)
