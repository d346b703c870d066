#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# trinity, the kernel's system call fuzzer, on AF_SAN sockets.
#
# trinity (2023.01, Debian's) only creates sockets of the families it has
# tables for, and has none for 22, so af_san is reloaded with family=43
# (AF_SMC's slot, free while smc.ko is not loaded) and trinity runs with
# "-P SMC": every socket it makes is an AF_SAN socket.  It runs as nobody
# in a scratch directory of /tmp (its own 128 MB tmpfs), with a fixed
# seed, for a bounded time,
# on the socket system calls (SAN_TRINITY_ALL=1: every system call but the
# few that would end the guest).  Then af_san is reloaded as it was.
#
# Cases: trinity ran and ended by itself; it reached AF_SAN (the AF_SAN
# sockets column of /proc/net/protocols, sampled during the run, went above
# zero); every /proc/net/af_san counter and the sockets column came back to
# zero once it exited; the kernel was not tainted; af_san was reloaded with
# its old family.
#
# Environment: SAN_TRINITY_SEED (default 1), SAN_TRINITY_SECONDS (default
# 45), SAN_TRINITY_CHILDREN (default 2), SAN_TRINITY_ALL, SAN_TRINITY_LOG=1
# (trinity's per-child logs; their tails are printed when a case fails).
# Needs root, SAN_KO and trinity (the test box has all three).
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/tap.sh"
TESTS=5
seed=${SAN_TRINITY_SEED:-1}
secs=${SAN_TRINITY_SECONDS:-45}
kids=${SAN_TRINITY_CHILDREN:-2}
sysfs=/sys/module/af_san/parameters/family
fam=43

plan $TESTS
skip_all() {
	for i in $(seq $TESTS); do skip "trinity_$i" "$1"; done
	exit 0
}
[ "$(id -u)" = 0 ] && [ -n "${SAN_KO:-}" ] && [ -f "${SAN_KO:-}" ] ||
	skip_all "needs root and SAN_KO (run in tools/testbox)"
command -v trinity >/dev/null || skip_all "trinity is not installed (tools/deps box)"
command -v setpriv >/dev/null || skip_all "setpriv (util-linux) is not installed"
grep -q '^smc ' /proc/modules && skip_all "smc.ko holds family 43"

old_family=$(cat $sysfs 2>/dev/null || echo none)
settle=20
[ "${SAN_SCALE:-1}" -gt 1 ] && settle=60

# What /proc/net/af_san and the sockets column say, on one line.
counters() {
	awk '$1 ~ /^(conns|qps|cqs|pds|bufs|pinned)$/ { printf "%s %s ", $1, $2 }' \
		/proc/net/af_san 2>/dev/null
	awk '$1 == "AF_SAN" { printf "sockets %s", $3 }' /proc/net/protocols
}
idle() { [ "$(counters)" = "conns 0 qps 0 cqs 0 pds 0 bufs 0 pinned 0 sockets 0" ]; }
restore() {	# af_san as the test box loaded it, on its old family
	[ "$old_family" = none ] && return 0
	# shellcheck disable=SC2086
	insmod "$SAN_KO" ${SAN_MODARGS:-} || return 1
	[ "$(cat $sysfs)" = "$old_family" ] && return 0
	rmmod af_san && insmod "$SAN_KO" family="$old_family"
}

# af_san on family 43, and nothing else there.
if [ -d /sys/module/af_san ] && ! rmmod af_san; then
	skip_all "af_san is busy (a socket is open)"
fi
if ! insmod "$SAN_KO" family=$fam; then
	restore
	skip_all "cannot load af_san with family=$fam"
fi
# The taint bits of a kernel report: BAD_PAGE, DIE, WARN, SOFTLOCKUP (not
# the AUX taint that fanotify permission events set, say).
taint() { echo $(($(cat /proc/sys/kernel/tainted) & 0x42a0)); }
taint0=$(taint)

work=$(mktemp -d /tmp/san_trinity.XXXXXX)
# Its own small tmpfs: what trinity writes into files (write, splice,
# sendfile into its victims) must not fill the guest's memory (a 16-minute
# run once ended in the OOM killer with 1.5 GB of shmem).  For the same
# reason its memfd descriptors are off (--disable-fds=memfd): writes into
# them are shmem too, and no size limit applies.
mounted=
mount -t tmpfs -o size=128m,mode=1777 san_trinity "$work" && mounted=1
# The script's own files live outside it: trinity fills it up.
meta=$(mktemp -d /tmp/san_trinity_meta.XXXXXX)
mkdir "$work/victims"
echo victim >"$work/victims/file"
chmod -R a+rwX "$work"
chmod 1777 "$work"

# The deepest AF_SAN got: the most sockets and connections at once.
(
	max_s=0 max_c=0
	while [ ! -e "$meta/stop" ]; do
		s=$(awk '$1 == "AF_SAN" { print $3 }' /proc/net/protocols)
		c=$(awk '$1 == "conns" { print $2 }' /proc/net/af_san)
		[ "${s:-0}" -gt $max_s ] && max_s=$s
		[ "${c:-0}" -gt $max_c ] && max_c=$c
		echo "$max_s $max_c" >"$meta/max"
		sleep 0.2
	done
) &
sampler=$!

if [ -n "${SAN_TRINITY_ALL:-}" ]; then
	# Everything but what ends the guest or the run from the inside.
	calls=(-x reboot -x kexec_load -x kexec_file_load -x kill -x tkill
	       -x tgkill -x rt_sigqueueinfo -x rt_tgsigqueueinfo
	       -x pidfd_send_signal -x exit -x exit_group -x vhangup
	       -x seccomp -x prctl -x ptrace -x setrlimit -x prlimit64)
else
	calls=()
	for c in socket bind listen connect accept accept4 sendto recvfrom \
		 sendmsg recvmsg sendmmsg recvmmsg shutdown setsockopt \
		 getsockopt getsockname getpeername poll ppoll select \
		 epoll_create1 epoll_ctl epoll_wait ioctl close read write \
		 readv writev splice sendfile fcntl dup dup3; do
		calls+=(-c "$c")
	done
fi
logopt=(-l off)
[ -n "${SAN_TRINITY_LOG:-}" ] && logopt=()

echo "# trinity seed $seed, ${secs}s, $kids children, family $fam, ${SAN_TRINITY_ALL:+all syscalls}${SAN_TRINITY_ALL:-socket syscalls}"
echo "# reproduce: SAN_TRINITY_SEED=$seed SAN_TRINITY_SECONDS=$secs SAN_TRINITY_LOG=1 $0"
start=$(date +%s)
(
	cd "$work" || exit 1
	# trinity stops its children on SIGINT; timeout signals the whole
	# process group it made.
	ulimit -c 0
	timeout -s INT -k 20 "$secs" \
		setpriv --reuid=65534 --regid=65534 --clear-groups \
		trinity -q -s "$seed" -C "$kids" -P SMC -V "$work/victims" \
		--disable-fds=memfd \
		-T WARN,BAD_PAGE,DIE "${logopt[@]}" "${calls[@]}"
) >"$meta/out" 2>&1
rc=$?
took=$(($(date +%s) - start))
touch "$meta/stop"
wait $sampler
read -r max_s max_c <"$meta/max"
tail -n 25 "$meta/out" | sed 's/^/#   trinity: /'
echo "# trinity exit $rc after ${took}s; most AF_SAN sockets at once: $max_s, most connections: $max_c"

logtails() {
	local f
	for f in "$work"/trinity-child*.log; do
		[ -f "$f" ] || continue
		echo "#   ${f##*/}:"
		tail -n 15 "$f" | sed 's/^/#     /'
	done
}

# 1. trinity ran to its time limit and stopped on SIGINT (or by itself).
if [ $rc = 0 ] || [ $rc = 124 ] || [ $rc = 130 ]; then
	pass trinity_ran
else
	fail trinity_ran "trinity exit $rc after ${took}s" "$(logtails)"
fi

# 2. It reached AF_SAN.
if [ "$max_s" -gt 0 ]; then
	pass trinity_reached_af_san
else
	fail trinity_reached_af_san "no AF_SAN socket seen during the run"
fi

# 3. Everything back to zero once it is gone.
for _ in $(seq $((settle * 5))); do
	idle && break
	sleep 0.2
done
if idle; then
	pass trinity_counters_back_to_zero
else
	fail trinity_counters_back_to_zero "after ${settle}s: $(counters)" "$(logtails)"
fi

# 4. No new taint (WARNING, oops, bad page).
taint1=$(taint)
if [ "$taint1" = "$taint0" ]; then
	pass trinity_kernel_not_tainted
else
	fail trinity_kernel_not_tainted "tainted $taint0 -> $taint1" "$(logtails)"
fi

# 5. af_san as it was before.
ok=0
if rmmod af_san && restore; then
	[ "$(cat $sysfs 2>/dev/null || echo none)" = "$old_family" ] && ok=1
fi
if [ $ok = 1 ]; then
	pass trinity_af_san_reloaded
else
	fail trinity_af_san_reloaded "family now $(cat $sysfs 2>/dev/null || echo none), was $old_family"
fi
rm -rf "$work"/* 2>/dev/null
[ -n "$mounted" ] && umount "$work"
rm -rf "$work" "$meta"
finish
