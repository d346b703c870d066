#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Installing like a driver, in the test box (whose root is a throw-away
# overlay): "make dkms" registers the sources with Debian's dkms, which
# builds af_san.ko for the running kernel; then "modprobe af_san" loads
# that module, the uapi headers compile, sanstat, san_run and the man
# pages are found, the modprobe.d aliases are in place; "make uninstall"
# takes it all away.  Leaves the suite's module (SAN_KO) loaded, as it
# found it.  Needs root and dkms; skipped on the debug kernel (make
# check runs it; the debug run is about the kernel).
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/tap.sh"
top=$(cd "$here/.." && pwd)
TESTS=7
kver=$(uname -r)
ver=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"/\1/p' "$top/dkms.conf")

plan $TESTS
why=
if [ "$(id -u)" != 0 ] || [ -z "${SAN_KO:-}" ]; then
	why="needs root and SAN_KO (run in tools/testbox)"
elif [ "${SAN_DEBUG:-0}" = 1 ]; then
	why="installation is tested by make check, not on the debug kernel"
elif ! command -v dkms >/dev/null; then
	why="dkms is not installed (make deps-box installs it)"
elif [ ! -e "/lib/modules/$kver/build/Makefile" ]; then
	why="no headers for $kver"
fi
if [ -n "$why" ]; then
	for i in $(seq $TESTS); do skip "install_$i" "$why"; done
	exit 0
fi

log=$(mktemp)
restore() {
	rmmod af_san 2>/dev/null
	# shellcheck disable=SC2086 # module arguments, split on purpose
	insmod "$SAN_KO" ${SAN_MODARGS:-} 2>/dev/null
	rm -f "$log"
}
trap restore EXIT

# 1. make dkms: dkms builds and installs the module for this kernel.
rmmod af_san || { fail dkms_builds_and_installs "rmmod af_san failed: a socket is open"; finish; }
if timeout 1200 make -C "$top" --no-print-directory dkms KVER="$kver" DKMS_KERNELS="$kver" >"$log" 2>&1 &&
	dkms status -m af_san -v "$ver" -k "$kver" | grep -q installed &&
	ls "/lib/modules/$kver/updates/dkms/af_san.ko"* >/dev/null 2>&1; then
	pass dkms_builds_and_installs
else
	fail dkms_builds_and_installs "make dkms or dkms status failed:" "$(tail -20 "$log")" \
		"$(dkms status 2>&1)"
fi

# 2. modprobe af_san loads the installed module, which works.
if modprobe af_san && [ -d /sys/module/af_san ] &&
	# 6.12's modules are compressed: af_san.ko.xz.
	[[ "$(modinfo -n af_san)" == "/lib/modules/$kver/updates/dkms/af_san.ko"* ]] &&
	[ "$("${SAN_BUILD:-$top/build}/selftests/san_probe" socket 22)" = ok ]; then
	pass modprobe_loads_the_installed_module
else
	fail modprobe_loads_the_installed_module "modinfo: $(modinfo -n af_san 2>&1)"
fi

# 3. The aliases: a socket of the family and an IPPROTO_SAN socket each
# load the installed module when it is not loaded; sanstat without it
# says so (sock_diag loads no module for an unregistered family).
ok=1
for how in family ipproto; do
	rmmod af_san 2>/dev/null
	case $how in
	family) "${SAN_BUILD:-$top/build}/selftests/san_probe" socket 22 >/dev/null ;;
	ipproto) "${SAN_BUILD:-$top/build}/selftests/san_probe" ipproto 2 >/dev/null ;;
	esac
	[ -d /sys/module/af_san ] || { ok=0; echo "# $how did not load af_san"; }
done
rmmod af_san 2>/dev/null
out=$(/usr/local/bin/sanstat -a 2>&1)
rc=$?
if [ $rc != 1 ] || [[ "$out" != *"is af_san loaded"* ]]; then
	ok=0
	echo "# sanstat without the module: exit $rc: $out"
fi
modprobe af_san
if [ $ok = 1 ] && grep -q "^alias net-pf-22 af_san" /etc/modprobe.d/af_san.conf; then
	pass aliases_load_the_module
else
	fail aliases_load_the_module "see above"
fi

# 4. The installed headers compile a program that uses them.
cat >"$log.c" <<'EOF'
#include <stdio.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <linux/san.h>
#include <linux/san_diag.h>
int main(void)
{
	struct san_diag_msg m = { .sdiag_provider = SAN_PROVIDER_RDMA };
	int fd = socket(AF_INET, SOCK_STREAM, IPPROTO_SAN);

	printf("%d %d\n", fd >= 0, m.sdiag_provider + SAN_SOCK_ID);
	return 0;
}
EOF
if gcc -Wall -Werror -o "$log.bin" "$log.c" 2>"$log" && [ "$("$log.bin")" = "1 9" ]; then
	pass installed_headers_compile
else
	fail installed_headers_compile "$(cat "$log")"
fi
rm -f "$log.c" "$log.bin"

# 5. The tools and the man pages are where a user looks.
ok=1
/usr/local/bin/sanstat -s | grep -q '^conns ' || { ok=0; echo "# sanstat -s"; }
# shellcheck disable=SC2016 # the inner shell expands it
pre=$(/usr/local/bin/san_run sh -c 'echo $LD_PRELOAD')
[ "$pre" = /usr/local/lib/af_san/libsanpreload.so ] || { ok=0; echo "# san_run's preload: $pre"; }
for p in af_san.7 san_run.1 sanstat.8; do
	s=${p##*.}
	MANWIDTH=80 man "$s" "${p%.*}" 2>/dev/null | grep -q "^NAME" || { ok=0; echo "# man $s ${p%.*}"; }
done
if [ $ok = 1 ]; then pass tools_and_man_pages_installed; else fail tools_and_man_pages_installed "see above"; fi

# 6. make uninstall removes everything it installed.
rmmod af_san 2>/dev/null
make -C "$top" --no-print-directory uninstall KVER="$kver" >"$log" 2>&1
left=$(ls -d /usr/src/af_san-"$ver" "/lib/modules/$kver/updates/dkms/af_san.ko"* \
	/usr/include/linux/san.h /usr/local/bin/sanstat /usr/local/bin/san_run \
	/etc/modprobe.d/af_san.conf /usr/local/share/man/man7/af_san.7 2>/dev/null)
if [ -z "$left" ] && ! dkms status -m af_san 2>/dev/null | grep -q af_san; then
	pass uninstall_removes_everything
else
	fail uninstall_removes_everything "left: $left" "$(dkms status 2>&1)"
fi

# 7. The suite's module is back.
restore
trap - EXIT
if [ -d /sys/module/af_san ] && ! modinfo -n af_san >/dev/null 2>&1; then
	pass suite_module_restored
else
	fail suite_module_restored "loaded: $([ -d /sys/module/af_san ] && echo yes || echo no), modinfo: $(modinfo -n af_san 2>&1)"
fi
finish
