#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Run the AF_SAN selftests (normally inside tools/testbox) and print one
# flat TAP stream: one line per test case of every program in tests.list,
# named PROGRAM.CASE.  A program that dies or times out without reporting
# its cases counts as one failure.  Ends with a "# guest totals" comment;
# the plain summary line is printed by tools/check on the host.
#
# Usage: run_tests.sh [BUILD_DIR] [FILTER]   (FILTER: extended regex on names)
set -u
here=$(cd "$(dirname "$0")" && pwd)
export SAN_BUILD=${1:-$here/../build}
filter=${2:-}
list=$SAN_BUILD/selftests/tests.list
timeout=$(sed -n 's/^timeout=//p' "$here/settings")

n=0 pass=0 fail=0 skip=0
emit() {	# emit STATUS NAME [REASON]
	n=$((n + 1))
	case "$1" in
	pass) pass=$((pass + 1)); echo "ok $n $2" ;;
	skip) skip=$((skip + 1)); echo "ok $n $2 # SKIP $3" ;;
	*) fail=$((fail + 1)); echo "not ok $n $2${3:+ # $3}" ;;
	esac
}

# What the RDMA devices hold before the suite ("rdma res": pd, cq, qp,
# cm_id, mr per device); it must be the same after it.
rdma_res() { rdma res 2>/dev/null | sed 's/^[0-9]*: //'; }
base=$(rdma_res)

echo "TAP version 13"
while read -r prog; do
	name=$(basename "$prog"); name=${name%.sh}
	[ -n "$filter" ] && ! [[ "$name" =~ $filter ]] && continue
	out=$(mktemp)
	start=$(date +%s)
	# A mark in the kernel log: a report names the program that ran.
	echo "san selftest: $name starts" >/dev/kmsg 2>/dev/null
	# settings may give one program more: "timeout.NAME=SECONDS".
	t=$(sed -n "s/^timeout\.$name=//p" "$here/settings")
	timeout -k 5 "${t:-$timeout}" "$prog" >"$out" 2>&1
	rc=$?
	echo "# $name: exit $rc after $(($(date +%s) - start))s"
	sed 's/^/#   /' "$out"
	cases=0 bad=0
	while IFS= read -r line; do
		# Harness and shell TAP: "ok N name", "ok N # SKIP why",
		# "ok N name # SKIP why", "not ok N name".
		if [[ "$line" =~ ^(not\ )?ok\ [0-9]+\ ?(.*)$ ]]; then
			cases=$((cases + 1))
			rest=${BASH_REMATCH[2]}
			case_name=${rest%%#*}; case_name=${case_name% }
			[ -z "$case_name" ] && case_name=case$cases
			if [ -n "${BASH_REMATCH[1]}" ]; then
				bad=$((bad + 1))
				emit fail "$name.$case_name"
			elif [[ "$rest" == *"# SKIP"* ]]; then
				emit skip "$name.$case_name" "${rest#*# SKIP }"
			else
				emit pass "$name.$case_name"
			fi
		fi
	done <"$out"
	if [ $cases -eq 0 ]; then
		emit fail "$name" "reported no test case (exit $rc)"
	elif [ $rc -ne 0 ] && [ $bad -eq 0 ]; then
		emit fail "$name" "exit $rc without a failed case (crash or timeout)"
	fi
	rm -f "$out"
done <"$list"
# Everything back to where it started: rdma res, the module's counters and
# its sockets (the suite's last connections may still be closing); after
# a filtered run too.
if [ -r /proc/net/af_san ]; then
	# What is in use now, never below zero; zc_sends, zc_reads and
	# zc_bounced only count up.
	gauges='^(conns|qps|cqs|pds|bufs|pinned) (-|[1-9])'
	for _ in $(seq 100); do
		now=$(rdma_res)
		[ "$now" = "$base" ] && grep -q '^conns 0' /proc/net/af_san 2>/dev/null &&
			! grep -qE "$gauges" /proc/net/af_san && break
		sleep 0.2
	done
	socks=$(awk '$1 == "AF_SAN" { print $3 }' /proc/net/protocols)
	echo "# rdma res before: $base"
	echo "# rdma res after:  $now"
	echo "# /proc/net/af_san: $(tr '\n' ' ' </proc/net/af_san 2>/dev/null); AF_SAN sockets: $socks"
	if [ "$now" = "$base" ] && [ "$socks" = 0 ] &&
	   ! grep -qE "$gauges" /proc/net/af_san; then
		emit pass suite.resources_back_to_baseline
	else
		emit fail suite.resources_back_to_baseline
	fi
fi

echo "1..$n"
echo "# guest totals: $pass passed, $fail failed, $skip skipped"
[ $fail -eq 0 ]
