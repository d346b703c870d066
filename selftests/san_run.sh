#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Unmodified programs on AF_SAN through tools/san_run: Debian's iperf3
# (both directions, and its sendfile mode) and sockperf's ping-pong, each
# checked to have been carried by the RDMA provider (the module's
# rdma_estab counter grows, tcp_estab and the fallbacks do not) and to
# have produced its result; then the same programs between an AF_SAN side
# and a plain TCP side, which the TCP provider carries (tcp_estab grows);
# SAN_RUN_PORTS leaving another port's program on plain TCP; and a test
# program (san_run_prog) using epoll, a non-blocking connect, accept4,
# SOL_TCP options, sendfile, splice, fork and threads on its own TCP
# sockets, all of which must be AF_SAN's, over IPv4 and IPv6.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/tap.sh"
top=$(cd "$here/.." && pwd)
run=$top/tools/san_run
self=${SAN_SELF:-}
TESTS=10
tmp=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$tmp"' EXIT

plan $TESTS
why=
[ -n "$self" ] || why="SAN_SELF is not set (run in tools/testbox)"
[ -r /proc/net/af_san ] || why="af_san is not loaded"
command -v iperf3 >/dev/null || why="iperf3 is not installed (make deps)"
command -v sockperf >/dev/null || why="sockperf is not installed (make deps)"
[ -f "${SAN_BUILD:-$top/build}/tools/libsanpreload.so" ] || why="libsanpreload.so is not built (make tools)"
if [ -n "$why" ]; then
	for i in $(seq $TESTS); do skip "san_run_$i" "$why"; done
	exit 0
fi

stat() { awk -v k="$1" '$1 == k { print $2 }' /proc/net/af_san; }
snap() { echo "$(stat rdma_estab) $(stat tcp_estab) $(stat fallback_refused) $(stat fallback_no_path) $(stat fallback_timeout)"; }
# grew RDMA TCP BEFORE: rdma_estab grew by RDMA or more, tcp_estab by TCP
# exactly (a "+" suffix: at least), the fallbacks by none unless TCP > 0.
grew() {
	local want_r=$1 want_t=$2 r0 t0 f0 n0 o0 r1 t1 f1 n1 o1
	read -r r0 t0 f0 n0 o0 <<<"$3"
	read -r r1 t1 f1 n1 o1 <<<"$(snap)"
	echo "# rdma_estab +$((r1 - r0)) tcp_estab +$((t1 - t0)) fallbacks +$((f1 - f0)) +$((n1 - n0)) +$((o1 - o0))"
	[ $((r1 - r0)) -ge "$want_r" ] || return 1
	if [ "$want_t" = 0 ]; then
		[ $((t1 - t0)) -eq 0 ] && [ $((f1 + n1 + o1)) -eq $((f0 + n0 + o0)) ]
	else
		[ $((t1 - t0)) -ge "$want_t" ]
	fi
}

# Wait until something listens on TCP port $1 (an AF_SAN listener holds
# a TCP listener for plain clients: /proc/net/tcp shows it too).
wait_listen() {
	local hex
	hex=$(printf '%04X' "$1")
	for _ in $(seq 200); do
		grep -qE ":$hex [0-9A-F]+:[0-9A-F]+ 0A" /proc/net/tcp /proc/net/tcp6 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# On iWARP (siw) an RDMA listener on a wildcard address is a kernel TCP
# socket that siw binds to its netdev (eth0), so a connection from this
# same host, which arrives on lo, is refused: there the AF_SAN servers
# listen on $self instead of iperf3's default wildcard.  And an iWARP
# connection is a host TCP connection that begins with MPA, so a plain TCP
# end cannot meet an AF_SAN one on an iWARP address: those cases skip.
iwarp=
grep -qs RNIC "/sys/class/infiniband/${SAN_IBDEV:-rxe0}/node_type" && iwarp=1
no_mixed="iWARP: a plain TCP end cannot meet an AF_SAN end on an iWARP address (the RDMA connection is a host TCP connection on the same port, beginning with MPA)"

# An iperf3 server (under san_run or not) for one test, on port $2.
iperf_server() {	# iperf_server WRAP PORT
	$1 timeout 60 iperf3 --forceflush -s -1 -p "$2" ${iwarp:+-B "$self"} \
		>"$tmp/srv.out" 2>&1 &
	srv=$!
	for _ in $(seq 50); do
		grep -q "Server listening" "$tmp/srv.out" 2>/dev/null && return 0
		sleep 0.2
	done
	return 1
}
# iperf_ok JSON: the client's JSON says bytes went and no error.
iperf_ok() {
	grep -q '"error"' "$1" && { sed 's/^/# /' "$1" | head -20; return 1; }
	grep -Eq '"bytes":[[:space:]]*[1-9]' "$1"
}

# 1, 2: iperf3 both ends under san_run, each direction: RDMA carries it.
for dir in up down; do
	before=$(snap)
	flag=; [ $dir = down ] && flag=-R
	if iperf_server "$run" 5201 &&
	   timeout 60 "$run" iperf3 -c "$self" -p 5201 -t 2 $flag -J >"$tmp/cli.json" 2>&1 &&
	   wait $srv && iperf_ok "$tmp/cli.json" && grew 4 0 "$before"; then
		pass "iperf3_${dir}_over_rdma"
	else
		fail "iperf3_${dir}_over_rdma" "$(tail -3 "$tmp/srv.out")"
	fi
done

# 3: iperf3's sendfile mode (-Z) through AF_SAN.
before=$(snap)
if iperf_server "$run" 5202 &&
   timeout 60 "$run" iperf3 -c "$self" -p 5202 -t 2 -Z -J >"$tmp/cli.json" 2>&1 &&
   wait $srv && iperf_ok "$tmp/cli.json" && grew 4 0 "$before"; then
	pass iperf3_sendfile_over_rdma
else
	fail iperf3_sendfile_over_rdma "$(tail -3 "$tmp/srv.out")"
fi

# 4: sockperf ping-pong, both ends under san_run.
before=$(snap)
$run timeout 60 sockperf sr --tcp -i "$self" -p 11111 >"$tmp/sr.out" 2>&1 &
sr=$!
wait_listen 11111
if timeout 60 "$run" sockperf pp --tcp -i "$self" -p 11111 -t 2 >"$tmp/pp.out" 2>&1 &&
   grep -q "avg-latency=" "$tmp/pp.out" && grew 2 0 "$before"; then
	pass sockperf_pingpong_over_rdma
else
	fail sockperf_pingpong_over_rdma "$(tail -5 "$tmp/pp.out")"
fi
kill $sr 2>/dev/null; wait $sr 2>/dev/null

# 5: an AF_SAN iperf3 client to a plain TCP iperf3 server: TCP provider.
before=$(snap)
if [ -n "$iwarp" ]; then
	skip iperf3_san_client_plain_server "$no_mixed"
elif iperf_server "" 5203 &&
   timeout 60 "$run" iperf3 -c "$self" -p 5203 -t 2 -J >"$tmp/cli.json" 2>&1 &&
   wait $srv && iperf_ok "$tmp/cli.json" && grew 0 2 "$before"; then
	pass iperf3_san_client_plain_server
else
	fail iperf3_san_client_plain_server "$(tail -3 "$tmp/srv.out")"
fi

# 6: a plain TCP iperf3 client to an AF_SAN iperf3 server.
before=$(snap)
if [ -n "$iwarp" ]; then
	skip iperf3_plain_client_san_server "$no_mixed"
elif iperf_server "$run" 5204 &&
   timeout 60 iperf3 -c "$self" -p 5204 -t 2 -R -J >"$tmp/cli.json" 2>&1 &&
   wait $srv && iperf_ok "$tmp/cli.json" && grew 0 2 "$before"; then
	pass iperf3_plain_client_san_server
else
	fail iperf3_plain_client_san_server "$(tail -3 "$tmp/srv.out")"
fi

# 7: sockperf between an AF_SAN server and a plain TCP client.
before=$(snap)
if [ -n "$iwarp" ]; then
	skip sockperf_plain_client_san_server "$no_mixed"
else
	$run timeout 60 sockperf sr --tcp -i "$self" -p 11112 >"$tmp/sr.out" 2>&1 &
	sr=$!
	wait_listen 11112
	if timeout 60 sockperf pp --tcp -i "$self" -p 11112 -t 2 >"$tmp/pp.out" 2>&1 &&
	   grep -q "avg-latency=" "$tmp/pp.out" && grew 0 1 "$before"; then
		pass sockperf_plain_client_san_server
	else
		fail sockperf_plain_client_san_server "$(tail -5 "$tmp/pp.out")"
	fi
	kill $sr 2>/dev/null; wait $sr 2>/dev/null
fi

# 8: SAN_RUN_PORTS names another port: plain TCP, AF_SAN untouched.
before=$(snap)
if iperf_server "" 5205 &&
   SAN_RUN_PORTS=5999 timeout 60 "$run" iperf3 -c "$self" -p 5205 -t 1 -J >"$tmp/cli.json" 2>&1 &&
   wait $srv && iperf_ok "$tmp/cli.json" && [ "$(snap)" = "$before" ]; then
	pass san_run_ports_limit
else
	fail san_run_ports_limit "counters before: $before after: $(snap)"
fi

# 9, 10: epoll, non-blocking connect, accept4, SOL_TCP, sendfile, splice,
# fork and threads, each checked by the program itself.
prog=${SAN_BUILD:-$top/build}/selftests/san_run_prog
for addr in "$self" fd00::15; do
	fam=ipv4; [ "$addr" = fd00::15 ] && fam=ipv6
	before=$(snap)
	if timeout 60 "$run" "$prog" "$addr" expect-san >"$tmp/prog.out" 2>&1 &&
	   grew 4 0 "$before"; then
		pass "program_calls_on_af_san_$fam"
	else
		fail "program_calls_on_af_san_$fam" "$(tail -3 "$tmp/prog.out")"
	fi
	sed 's/^/# /' "$tmp/prog.out"
done

finish
