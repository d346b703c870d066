# SPDX-License-Identifier: GPL-2.0
#
# AF_SAN top-level build.  The module itself is described in Kbuild.
#
#   make            module, selftests and tools (installs build packages)
#   make check      the whole suite in the QEMU + soft-RoCE test box
#   make check-6.12    the same on Debian 12's 6.12 kernel (make check
#                      KVER=V for any other installed or installable one)
#   make check DEVICE=siw, make check-debug DEVICE=siw   the suite on
#                      soft-iWARP (siw) instead of soft-RoCE (rxe)
#   make check-variants   what CI adds: most of the one-guest suite on
#                      6.12, the RDMA provider's programs on siw
#   make demo       the main job: boot the test box and run the AF_SAN demo
#   make lint       W=1 build, sparse and checkpatch --strict
#   make shell      a shell in a booted test box with the module loaded
#   make check-debug   the suite on the debug kernel (KASAN, lockdep,
#                      kmemleak), built once per machine (~30 min)
#   make fuzz DURATION=s [SEED=n] [DEBUG=1]   san_fuzz and trinity on
#                      AF_SAN for DURATION seconds each (docs/fuzzing.md)
#   make soak DURATION=s [DEBUG=1]   connection churn for DURATION seconds,
#                      then 2,000 connections at once (docs/fuzzing.md)
#   make install       the module for KVER, the uapi headers, the tools,
#                      the man pages and a modprobe.d file (as root;
#                      DESTDIR and PREFIX as usual)
#   make dkms          the same, with the module under DKMS: rebuilt for
#                      every kernel installed later
#   make uninstall     remove what install or dkms put in place
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

.PHONY: all deps deps-build deps-box deps-debug deps-bench deps-install bench module selftests tools lint \
	check demo shell clean debug-kernel module-debug check-debug fuzz soak \
	install install-files dkms uninstall check-6.12 check-variants siw

all: module selftests tools

deps: deps-build deps-box
# A KVER given on the command line also installs that kernel.
DEPS_ENV = $(if $(filter command line environment,$(origin KVER)),SAN_KVER=$(KVER))
deps-build:
	@$(DEPS_ENV) $(TOP)/tools/deps build
deps-box:
	@$(DEPS_ENV) $(TOP)/tools/deps box
deps-debug:
	@$(TOP)/tools/deps debug
deps-bench:
	@$(TOP)/tools/deps bench
deps-install:
	@$(TOP)/tools/deps install

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

# DEVICE=siw: the suite on soft-iWARP instead of soft-RoCE.  Debian's
# kernels lack siw (CONFIG_RDMA_SIW): "make siw" builds it from
# linux-source-6.1 as an external module for the 6.1 kernel (the guest
# loads it when modprobe finds none).  The debug kernel builds it as a
# module of its own tree (RDMA_SIW=m in tools/debug-kernel/fragment.config).
DEVICE	?= rxe
SIW_DIR	= $(BUILD)/siw/$(KVER)
CHECK_ENV = SAN_DEVICE=$(DEVICE) $(if $(filter siw,$(DEVICE)),SAN_SIW_KO=$(SIW_DIR)/siw.ko)

siw: deps-build
	rm -rf $(SIW_DIR)
	@mkdir -p $(SIW_DIR)
	tar -xJf $(SRCTAR) -C $(SIW_DIR) --strip-components=5 \
		linux-source-6.1/drivers/infiniband/sw/siw
	$(MAKE) -C $(KDIR) M=$(SIW_DIR) CONFIG_RDMA_SIW=m modules

check: all deps-box $(if $(filter siw,$(DEVICE)),siw)
	$(CHECK_ENV) $(TOP)/tools/check

# The suite on Debian 12's 6.12 kernel (the newest the archive has):
# installs it and its headers if missing, builds for it, boots it.
K612 = $(shell $(TOP)/tools/kver --series 6.12)
check-6.12:
	$(MAKE) check KVER=$(K612)

# What CI runs beside make check and make check-debug, scaled to fit its
# time: on the 6.12 kernel the suite but for the fuzzers and the dkms
# install (minutes each, run on 6.1), the two-guest tests included; and on
# soft-iWARP (siw) the programs that drive the RDMA provider and san_run,
# on the release kernel: on the debug kernel siw 6.1 trips lockdep by
# itself (docs/design.md, "On iWARP").  Test names are prefixed "k6.12."
# and "siw.".  make check-6.12 and make check DEVICE=siw run everything.
K612_PROGS = san_(socket|net|stream|safety|cancel|zcopy|load|proto|tcp|observe|hostile|module|run|faults)|pair
SIW_PROGS = san_(stream|safety|cancel|zcopy|load|proto|tcp|observe|hostile|faults|run)
check-variants:
	SAN_CHECK_TAG=k6.12. SAN_CHECK_FILTER='$(K612_PROGS)' $(MAKE) check KVER=$(K612)
	SAN_CHECK_TAG=siw. SAN_CHECK_FILTER='$(SIW_PROGS)' $(MAKE) check DEVICE=siw

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
	SAN_DEVICE=$(DEVICE) $(TOP)/tools/check --debug

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

# Installation.  The module goes to /lib/modules/KVER/updates (or DKMS's
# tree); everything else under PREFIX, the headers under /usr/include so
# that programs find <linux/san.h> as they find the kernel's.
VERSION	:= $(shell sed -n 's/^PACKAGE_VERSION="\(.*\)"/\1/p' $(TOP)/dkms.conf)
PREFIX	?= /usr/local
DKMS_SRC = /usr/src/af_san-$(VERSION)
MAN_PAGES := $(wildcard $(TOP)/docs/man/*.[0-9])

install-files: tools
	install -d '$(DESTDIR)/usr/include/linux' '$(DESTDIR)$(PREFIX)/bin' \
		'$(DESTDIR)$(PREFIX)/lib/af_san' '$(DESTDIR)/etc/modprobe.d'
	install -m 0644 $(TOP)/uapi/linux/san.h $(TOP)/uapi/linux/san_diag.h \
		'$(DESTDIR)/usr/include/linux/'
	install -m 0755 $(BUILD)/tools/sanstat '$(DESTDIR)$(PREFIX)/bin/'
	install -m 0755 $(BUILD)/tools/libsanpreload.so \
		'$(DESTDIR)$(PREFIX)/lib/af_san/'
	install -m 0755 $(TOP)/tools/san_run '$(DESTDIR)$(PREFIX)/bin/'
	for p in $(MAN_PAGES); do \
		s=$${p##*.}; install -d "$(DESTDIR)$(PREFIX)/share/man/man$$s"; \
		install -m 0644 $$p "$(DESTDIR)$(PREFIX)/share/man/man$$s/"; \
	done
	install -m 0644 $(TOP)/tools/af_san.modprobe.conf \
		'$(DESTDIR)/etc/modprobe.d/af_san.conf'

install: module install-files
	$(MAKE) -C $(KDIR) M=$(TOP) INSTALL_MOD_PATH='$(DESTDIR)' \
		INSTALL_MOD_DIR=updates modules_install
	$(if $(DESTDIR),,depmod -a $(KVER))

# DKMS builds from a copy of the sources in /usr/src/af_san-VERSION, for
# every installed kernel that has headers (DKMS_KERNELS), and for each
# kernel installed later (AUTOINSTALL).  Not under DESTDIR: dkms works on
# the running system only.
DKMS_KERNELS ?= $(notdir $(patsubst %/build,%,$(wildcard /lib/modules/*/build)))

dkms: install-files deps-install
	rm -rf '$(DKMS_SRC)'
	install -d '$(DKMS_SRC)/kernel' '$(DKMS_SRC)/uapi/linux'
	install -m 0644 $(TOP)/dkms.conf $(TOP)/Kbuild '$(DKMS_SRC)/'
	install -m 0644 $(TOP)/kernel/*.[ch] '$(DKMS_SRC)/kernel/'
	install -m 0644 $(TOP)/uapi/linux/*.h '$(DKMS_SRC)/uapi/linux/'
	if dkms status -m af_san -v $(VERSION) | grep -q .; then \
		dkms remove -m af_san -v $(VERSION) --all >/dev/null; fi
	dkms add -m af_san -v $(VERSION)
	for k in $(DKMS_KERNELS); do \
		dkms install -m af_san -v $(VERSION) -k $$k || exit 1; done

# What install-files put under DESTDIR and PREFIX; the module and the DKMS
# registration only when DESTDIR is empty (the running system).
uninstall:
ifeq ($(DESTDIR),)
	-dkms remove -m af_san -v $(VERSION) --all
	rm -rf '/usr/src/af_san-$(VERSION)'
	rm -f /lib/modules/$(KVER)/updates/af_san.ko*
	-depmod -a $(KVER)
endif
	rm -f '$(DESTDIR)/usr/include/linux/san.h' \
		'$(DESTDIR)/usr/include/linux/san_diag.h' \
		'$(DESTDIR)$(PREFIX)/bin/sanstat' '$(DESTDIR)$(PREFIX)/bin/san_run' \
		'$(DESTDIR)/etc/modprobe.d/af_san.conf'
	rm -f '$(DESTDIR)$(PREFIX)/lib/af_san/libsanpreload.so'
	-rmdir '$(DESTDIR)$(PREFIX)/lib/af_san'
	for p in $(notdir $(MAN_PAGES)); do \
		rm -f "$(DESTDIR)$(PREFIX)/share/man/man$${p##*.}/$$p"; done

clean:
	-$(MAKE) -C $(KDIR) M=$(TOP) clean
	rm -rf $(BUILD)
