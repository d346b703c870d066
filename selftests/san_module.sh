#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Module life cycle (docs/semantics.md "The socket"): rmmod refused while a
# socket exists and clean after the last close, the family number override
# and its sysfs publication, a clear load failure for a taken or
# out-of-range slot, and autoload on socket(AF_SAN, ...).  Needs root and
# SAN_KO (the test box sets both); leaves af_san loaded with its default
# family.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/tap.sh"
probe=${SAN_BUILD:-$here/../build}/selftests/san_probe
sysfs=/sys/module/af_san/parameters/family
TESTS=7

plan $TESTS
if [ "$(id -u)" != 0 ] || [ -z "${SAN_KO:-}" ] || [ ! -f "${SAN_KO:-}" ]; then
	for i in $(seq $TESTS); do skip "module_$i" "needs root and SAN_KO (run in tools/testbox)"; done
	exit 0
fi

loaded() { [ -d /sys/module/af_san ]; }
unload() { ! loaded || rmmod af_san; }
gone() {
	! loaded && ! grep -q '^AF_SAN ' /proc/net/protocols
}

# 1. rmmod is refused while a socket is open.
unload; insmod "$SAN_KO"
tmp=$(mktemp -d)
mkfifo "$tmp/in"
"$probe" hold 22 <"$tmp/in" >"$tmp/out" &
holder=$!
exec 7>"$tmp/in"
for _ in $(seq 100); do
	[ "$(cat "$tmp/out")" = held ] && break
	sleep 0.1
done
if [ "$(cat "$tmp/out")" = held ] && ! rmmod af_san 2>/dev/null && loaded; then
	pass rmmod_refused_while_socket_open
else
	fail rmmod_refused_while_socket_open "holder said '$(cat "$tmp/out")'"
fi

# 2. After the last close, rmmod works and leaves nothing behind.
exec 7>&-
wait $holder
rm -rf "$tmp"
if rmmod af_san && gone; then
	pass rmmod_after_last_close_leaves_nothing
else
	fail rmmod_after_last_close_leaves_nothing "$(grep AF_SAN /proc/net/protocols)"
fi

# 3. family=13 at load time: published in sysfs and used by socket().
unload
if insmod "$SAN_KO" family=13 && [ "$(cat $sysfs)" = 13 ] &&
   [ "$("$probe" socket 13)" = ok ] &&
   [ "$("$probe" socket 22)" = EAFNOSUPPORT ]; then
	pass family_override_published_and_used
else
	fail family_override_published_and_used "sysfs: $(cat $sysfs 2>&1)"
fi
unload

# The kernel log since the last mark (never cleared: the run's check of
# the log for reports reads it whole).
mark() { logmark=$(dmesg | wc -l); }
since() { dmesg | tail -n +$((logmark + 1)); }

# 4. A taken slot fails the load with a clear message.
mark
if ! insmod "$SAN_KO" family=2 2>/dev/null && ! loaded &&
   since | grep -q 'af_san: family 2 is already registered'; then
	pass taken_slot_fails_load_clearly
else
	fail taken_slot_fails_load_clearly "$(since | grep af_san)"
fi

# 5. Out-of-range numbers fail the load with a clear message.
ok=1
for f in 0 -1 46 1000; do
	mark
	if insmod "$SAN_KO" family=$f 2>/dev/null; then ok=0; unload; fi
	since | grep -q "af_san: family=$f is out of range" || ok=0
done
if [ $ok = 1 ] && ! loaded; then
	pass out_of_range_family_fails_load
else
	fail out_of_range_family_fails_load
fi

# 6. Installed, the module autoloads on socket(22, ...): the kernel's
# request_module("net-pf-22") runs modprobe, which finds the alias that
# depmod read from af_san.ko.  depmod over the whole 9p-backed module tree
# takes a minute under TCG, so the module is installed into a private
# module root and the kernel's modprobe helper pointed at it.
root=$(mktemp -d)
mods=$root/lib/modules/$(uname -r)
helper=$(cat /proc/sys/kernel/modprobe)
mkdir -p "$mods/extra"
cp "$SAN_KO" "$mods/extra/af_san.ko"
printf '#!/bin/sh\nexec %s -d %s "$@"\n' "$helper" "$root" >"$root/modprobe"
chmod +x "$root/modprobe"
if depmod -b "$root" "$(uname -r)" 2>/dev/null &&
   grep -q '^alias net-pf-22 af_san$' "$mods/modules.alias"; then
	unload
	echo "$root/modprobe" >/proc/sys/kernel/modprobe
	got=$("$probe" socket 22)
	echo "$helper" >/proc/sys/kernel/modprobe
	if [ "$got" = ok ] && loaded && [ "$(cat $sysfs)" = 22 ]; then
		pass autoload_on_socket
	else
		fail autoload_on_socket "socket: $got"
	fi
else
	fail autoload_on_socket "depmod found no net-pf-22 alias in af_san.ko"
fi
rm -rf "$root"

# 7. Unloaded, the family is gone: socket() says EAFNOSUPPORT.
unload
if [ "$("$probe" socket 22)" = EAFNOSUPPORT ] && gone; then
	pass no_family_after_unload
else
	fail no_family_after_unload
fi

# Leave the module as the box loaded it, for the tests that follow.
loaded || insmod "$SAN_KO" ${SAN_MODARGS:-}
finish
