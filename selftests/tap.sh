# SPDX-License-Identifier: GPL-2.0
# Minimal TAP for the shell tests: source it, call plan N, then
# ok/fail/skip per test, and finish at the end.
_tap_n=0
_tap_fail=0

plan() { echo "TAP version 13"; echo "1..$1"; }
pass() { _tap_n=$((_tap_n + 1)); echo "ok $_tap_n $1"; }
fail() {
	_tap_n=$((_tap_n + 1)); _tap_fail=$((_tap_fail + 1))
	echo "not ok $_tap_n $1"
	shift
	for l in "$@"; do echo "#   $l"; done
}
skip() { _tap_n=$((_tap_n + 1)); echo "ok $_tap_n $1 # SKIP $2"; }
# check NAME CMD...: passes when CMD succeeds.
check() {
	local name=$1
	shift
	if "$@"; then pass "$name"; else fail "$name" "failed: $*"; fi
}
finish() { [ "$_tap_fail" -eq 0 ]; exit $?; }
