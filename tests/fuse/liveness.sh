#!/bin/sh
# tests/fuse/liveness.sh - with -o reconnect=off, a server that stops
# answering, or dies, must turn into EIO on the mount within a bounded
# time: no process may hang in the kernel waiting for it, and the mount
# must still come down cleanly. (reconnect.sh tests the default, which
# waits for the server and carries on.)
#
#   1. the private winside is frozen (SIGSTOP): a stat of an uncached name
#      fails with EIO after the heartbeat's dead timeout (15 s), not never;
#   2. the private winside is killed: the next request fails at once (EOF);
#   3. in both cases `fsbridge umount` works and the daemon exits.
# Exit: 0 pass, 1 fail, 77 skip (no usable FUSE).

. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/posix/lib.sh"

need_fuse
make_tmp liveness

# winside_of PID: the private winside the daemon PID started.
winside_of() {
	pgrep -P "$1" -f winside | head -n 1
}

# try_stat PATH LIMIT: stat PATH under a hard limit; prints "rc seconds".
try_stat() {
	t0=$(date +%s)
	timeout -k 2 "$2" stat "$1" >"$tmp/stat.out" 2>&1
	rc=$?
	echo "$rc $(($(date +%s) - t0))"
}

# mount_local N: mount $tmp/bN on $tmp/mN, list it once, and find the
# daemon's private winside; sets m_pid and srv (empty, with a failure, when
# there is none).
mount_local() {
	start_mount "$tmp/b$1" "$tmp/m$1" "$tmp/m$1.log" --cache=strict -o reconnect=off || exit 1
	m_pid=$mount_pid
	ls "$tmp/m$1" >/dev/null || fail "listing mount $1"
	srv=$(winside_of "$m_pid")
	[ -n "$srv" ] || fail "no private winside under daemon $m_pid"
}

# --- 1. a frozen server ---------------------------------------------------
mount_local 1
m1_pid=$m_pid
if [ -n "$srv" ]; then
	kill -STOP "$srv"
	set -- $(try_stat "$tmp/m1/not-cached-yet" 40)
	kill -CONT "$srv" 2>/dev/null
	if [ "$1" = 124 ] || [ "$1" = 137 ]; then
		fail "stat on a frozen server still hung after 40 s"
	elif grep -q 'Input/output error' "$tmp/stat.out"; then
		ok "frozen server: stat failed with EIO after $2 s"
		[ "$2" -le 25 ] || fail "EIO came after $2 s, more than the 15 s dead timeout allows"
	else
		fail "frozen server: stat said: $(cat "$tmp/stat.out")"
	fi
	grep -q 'not answered\|dead\|no answer\|silent' "$tmp/m1.log" ||
		fail "the daemon log does not say the server stopped answering: $(tail -n 3 "$tmp/m1.log")"
	# Once declared dead, everything fails at once.
	set -- $(try_stat "$tmp/m1/another" 10)
	[ "$1" != 0 ] && [ "$2" -le 2 ] || fail "after the dead timeout, a new request took $2 s (rc $1)"
fi
stop_mount "$tmp/m1" "$m1_pid" "$tmp/m1.log.stop" 2>/dev/null
[ -n "$srv" ] && kill -9 "$srv" 2>/dev/null

# --- 2. a server that dies ------------------------------------------------
mount_local 2
m2_pid=$m_pid
if [ -n "$srv" ]; then
	kill -9 "$srv"
	sleep 0.5
	set -- $(try_stat "$tmp/m2/not-cached" 10)
	if [ "$1" != 0 ] && [ "$2" -le 2 ] && grep -q 'Input/output error' "$tmp/stat.out"; then
		ok "dead server: stat failed with EIO in $2 s"
	else
		fail "dead server: stat rc $1 after $2 s: $(cat "$tmp/stat.out")"
	fi
fi
stop_mount "$tmp/m2" "$m2_pid" "$tmp/m2.log.stop" 2>/dev/null

# No process of ours may be left in uninterruptible sleep on the mounts.
if ps -eo stat=,args= | grep -v grep | grep "^D" | grep -q "$tmp"; then
	fail "a process is stuck in D state: $(ps -eo stat=,args= | grep '^D' | grep "$tmp")"
fi

[ $failures -eq 0 ] || exit 1
echo "PASS: liveness"
