#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# tools/kreport, the guest log matcher, on samples of each kernel report
# it must catch and of harmless lines it must let through (a matcher that
# never matches would look just like a clean kernel).  Runs on the host.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../tap.sh"
kreport=$here/../../tools/kreport

reports=(
	"[   12.345678] BUG: KASAN: slab-use-after-free in san_release+0x1c/0x80 [af_san]"
	"[    3.000001] BUG: unable to handle page fault for address: ffff888000000000"
	"[    4.100000] WARNING: CPU: 1 PID: 77 at kernel/af_san.c:42 san_create+0x10/0x20 [af_san]"
	"[    5.000000] Oops: 0002 [#1] PREEMPT SMP KASAN NOPTI"
	"[    5.000000] general protection fault, probably for non-canonical address 0xdffffc0000000000: 0000 [#1]"
	"[    6.000000] ==================================================================
[    6.000000] BUG: KASAN: double-free in kfree+0x5/0x10"
	"[    7.000000] WARNING: possible circular locking dependency detected"
	"[    7.100000] WARNING: possible recursive locking detected"
	"[    7.200000] WARNING: inconsistent lock state"
	"[    7.300000] WARNING: suspicious RCU usage"
	"[    8.000000] refcount_t: underflow; use-after-free."
	"[  240.000000] INFO: task san_socket:123 blocked for more than 120 seconds."
	"[    9.000000] kmemleak: 2 new suspected memory leaks (see /sys/kernel/debug/kmemleak)"
	"unreferenced object 0xffff888003c1a000 (size 1024):"
	"[   10.000000] list_add corruption. prev->next should be next (ffff888000000000)"
	"[   11.000000] BUG: sleeping function called from invalid context at kernel/locking/mutex.c:580"
)
clean=(
	"[    0.000000] RCU lockdep checking is enabled."
	"[    0.000000] Lock dependency validator: Copyright (c) 2006 Red Hat, Inc., Ingo Molnar"
	"[    0.100000] kmemleak: Kernel memory leak detector initialized (mem pool available: 15000)"
	"[    8.390889] af_san: loading out-of-tree module taints kernel."
	"[    8.394615] af_san: registered as socket family 22"
	"[    2.240147] Unstable clock detected, switching default tracing clock to \"global\""
	"[    9.660937] reboot: Power down"
)

plan 3
bad=()
for r in "${reports[@]}"; do
	[ -n "$(printf '%s\n' "$r" | "$kreport")" ] || bad+=("missed: $r")
done
if [ ${#bad[@]} -eq 0 ]; then pass matches_every_report_kind; else fail matches_every_report_kind "${bad[@]}"; fi

bad=()
for c in "${clean[@]}"; do
	out=$(printf '%s\n' "$c" | "$kreport")
	[ -z "$out" ] || bad+=("matched: $c")
done
if [ ${#bad[@]} -eq 0 ]; then pass ignores_harmless_lines; else fail ignores_harmless_lines "${bad[@]}"; fi
# Reports before user space started are the boot's own (no module yet):
# not counted when the log then says so; counted without that line, and
# counted after it, also in a second log (console, then dmesg).
early="[    1.491581] BUG: KASAN: wild-memory-access in do_raw_spin_lock+0x11a/0x270"
up="[    5.000000] testbox-guest: userspace up"
late="[    9.000000] BUG: KASAN: use-after-free in san_release+0x1c/0x80 [af_san]"
bad=()
out=$(printf '%s\n' "$early" "$up" | "$kreport" 2>/dev/null)
[ -z "$out" ] || bad+=("early report counted: $out")
out=$(printf '%s\n' "$early" "$up" "$late" | "$kreport" 2>/dev/null)
[ "$out" = "$late" ] || bad+=("late report: got '$out'")
out=$(printf '%s\n' "$early" | "$kreport" 2>/dev/null)
[ "$out" = "$early" ] || bad+=("report without the marker not counted: '$out'")
# The sched clock's switch to the TSC sends early timestamps back: still
# the same boot (seen in CI: the report at 1.128 s was then counted).
out=$(printf '%s\n' "$early" "[    0.000328] clocksource: tsc-early: mask: 0xffffffffffffffff" "$up" | "$kreport" 2>/dev/null)
[ -z "$out" ] || bad+=("early report counted after a clock switch: $out")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf '%s\n' "$early" "$up" >"$tmp/console.log"
printf '%s\n' "$early" >"$tmp/dmesg"
printf '%s\n' "unreferenced object 0xffff888003c1a000 (size 1024):" >"$tmp/kmemleak"
out=$("$kreport" "$tmp/console.log" "$tmp/missing" 2>/dev/null)
[ -z "$out" ] || bad+=("one log with its marker, one missing: got '$out'")
out=$("$kreport" "$tmp/console.log" "$tmp/dmesg" 2>/dev/null)
[ "$out" = "$early" ] || bad+=("second log without its marker: got '$out'")
out=$("$kreport" "$tmp/console.log" "$tmp/kmemleak" 2>/dev/null)
[ "$out" = "unreferenced object 0xffff888003c1a000 (size 1024):" ] || bad+=("kmemleak after the log: got '$out'")
out=$("$kreport" "$tmp/missing" 2>/dev/null)
[ -z "$out" ] || bad+=("no log at all: got '$out'")
if [ ${#bad[@]} -eq 0 ]; then pass early_boot_reports_only_before_user_space; else fail early_boot_reports_only_before_user_space "${bad[@]}"; fi
finish
