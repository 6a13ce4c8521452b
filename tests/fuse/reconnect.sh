#!/bin/sh
# tests/fuse/reconnect.sh - the mount rides through its server going away.
#
# A winside of the test's own serves the export `data`; fsbridge mounts it
# over a Unix socket (TCP for the dropped-connection case). The server is
# killed with SIGKILL and started again, frozen with SIGSTOP, has its
# connection cut under it, and comes back serving another folder. After
# each, what a user would check:
#   write    a 100 MB copy with O_DSYNC and a buffered one with a final
#            fsync, both interrupted: both complete and match byte for byte
#   tar      tar -x of 5,000 files, interrupted: tar succeeds, diff -r clean
#   open     a reader and an appender holding files open (--cache=none, so
#            every byte goes to the server): both carry on
#   watch    an idle watched directory changed while the server was down:
#            an inotify recorder and chokidar see the creations, changes
#            and removals
#   signal   a request waiting for the server ends on SIGINT and SIGKILL
#   soft     -o reconnect=soft,timeo=2: EIO after ~2 s, the mount stays and
#            works again when the server is back
#   frozen   a short freeze is waited out; a long one (past the 15 s dead
#            timeout) is a reconnect, and the waiting request completes
#   dropped  the server's socket destroyed (ss -K) while winside runs on
#   other    the export comes back as another folder: the mount gives up
#            (EIO) rather than mixing two trees
#   local    the private winside of --local is killed: the daemon starts
#            another and carries on
# Every step prints how long the mount took to work again. No process may
# be left in D state; every mount and process goes on every way out.
# Exit: 0 pass, 1 fail, 77 skip (no usable FUSE).

set -u
: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
EVENTS_LIB_DIR=$top_srcdir/tests/events
. "$EVENTS_LIB_DIR/lib.sh"

need_fuse
[ -x "$EVREC" ] || skip "evrec not built ($EVREC)"
events_tmp reconnect
unset FSBRIDGE_SERVER FSBRIDGE_CONFIG

srv=$scratch/srv
mkdir -p "$srv"

# up: winside for the export, on the test's socket (again). It must not
# inherit the files the test holds open on a mount.
up() {
	serve_unix --export data="$srv" "$@" 3<&- 4>&- 5<&-
}

# down: kill -9 the server, as a crash or a Windows restart would.
down() {
	kill -9 "$ws_pid" 2>/dev/null
	wait "$ws_pid" 2>/dev/null
}

# mount_ext NAME ARGS...: mount `data` on $tmp/NAME (log $tmp/NAME.log);
# sets mnt and mnt_pid.
mount_ext() {
	name=$1
	shift
	mnt=$tmp/$name
	mkdir -p "$mnt"
	mounts="$mounts $mnt"
	"$FSB" mount -f --server "${addr:-unix:$tmp/ws.sock}" --token-file "$tmp/token" "$@" \
		data "$mnt" 2>"$tmp/$name.log" &
	mnt_pid=$!
	daemon_pids="$daemon_pids $mnt_pid"
	i=0
	while ! is_mounted "$mnt"; do
		i=$((i + 1))
		if [ $i -gt 100 ] || ! kill -0 "$mnt_pid" 2>/dev/null; then
			fail "$name: no mount: $(cat "$tmp/$name.log")"
			return 1
		fi
		sleep 0.1
	done
}

# back_in STEP MNT TAG: how long until probe.TAG, made behind the mount
# while the server was away, reads through it (at most 20 s).
back_in() {
	t0=$(now_ms)
	i=0
	until [ "$(cat "$2/probe.$3" 2>/dev/null)" = "$3" ]; do
		i=$((i + 1))
		if [ $i -gt 200 ]; then
			fail "$1: the mount did not work again within 20 s"
			return 1
		fi
		sleep 0.1
	done
	ok "$1: mount works again after $(($(now_ms) - t0)) ms"
}

# no_d_state: nothing of ours sleeps uninterruptibly on a mount.
no_d_state() {
	if ps -eo stat=,args= | grep -v grep | grep "^D" | grep -q "$tmp"; then
		fail "$1: a process is stuck in D state: $(ps -eo stat=,args= | grep '^D' | grep "$tmp")"
	fi
}

stat_field() {
	awk -v k="$1" '$1 == k { print $2 }' "$tmp/stats.out"
}

up || exit 1

# --- write: 100 MB, synced and buffered ----------------------------------
mount_ext mw
mw=$mnt
mw_pid=$mnt_pid
head -c 100000000 /dev/urandom >"$scratch/ref.bin"
dd if="$scratch/ref.bin" of="$mw/synced.bin" bs=1M oflag=dsync status=none 2>"$tmp/dd1.err" &
dd1=$!
dd if="$scratch/ref.bin" of="$mw/buffered.bin" bs=1M conv=fsync status=none 2>"$tmp/dd2.err" &
dd2=$!
i=0
while [ "$(stat -c %s "$srv/synced.bin" 2>/dev/null || echo 0)" -lt 30000000 ] && [ $i -lt 300 ]; do
	sleep 0.1
	i=$((i + 1))
done
down
echo w >"$srv/probe.w"      # made while the server is away
sleep 2
before=$(stat -c %s "$srv/synced.bin")
up || exit 1
echo "   server killed at ${before} bytes of the synced copy, back after 2 s"
back_in write "$mw" w
echo w >"$srv/probe.w2"
guarded 180 sh -c 'wait_pid() { while kill -0 "$1" 2>/dev/null; do sleep 0.2; done; }; wait_pid "$1"; wait_pid "$2"' sh "$dd1" "$dd2"
wait "$dd1"
r1=$?
wait "$dd2"
r2=$?
[ $r1 = 0 ] || fail "write: the O_DSYNC copy failed (rc $r1): $(cat "$tmp/dd1.err")"
[ $r2 = 0 ] || fail "write: the buffered copy failed (rc $r2): $(cat "$tmp/dd2.err")"
cmp -s "$scratch/ref.bin" "$srv/synced.bin" && ok "write: the O_DSYNC copy matches byte for byte" ||
	fail "write: the O_DSYNC copy differs: $(cmp "$scratch/ref.bin" "$srv/synced.bin" 2>&1 | head -n 1)"
cmp -s "$scratch/ref.bin" "$srv/buffered.bin" && ok "write: the buffered copy matches byte for byte" ||
	fail "write: the buffered copy differs: $(cmp "$scratch/ref.bin" "$srv/buffered.bin" 2>&1 | head -n 1)"
rm -f "$srv/synced.bin" "$srv/buffered.bin"

# --- tar: 5,000 files ---------------------------------------------------------
mkdir -p "$scratch/tree"
(
	cd "$scratch/tree" || exit 1
	for d in $(seq 1 50); do
		mkdir "d$d"
		for f in $(seq 1 100); do
			echo "file $d/$f" >"d$d/f$f.txt"
		done
	done
)
tar -cf "$scratch/tree.tar" -C "$scratch" tree
mkdir -p "$mw/untar"
tar -xf "$scratch/tree.tar" -C "$mw/untar" 2>"$tmp/tar.err" &
tar_pid=$!
i=0
while [ "$(find "$srv/untar" -type f 2>/dev/null | wc -l)" -lt 1000 ] && [ $i -lt 300 ]; do
	sleep 0.1
	i=$((i + 1))
done
down
echo t >"$srv/probe.t"
sleep 2
echo "   server killed with $(find "$srv/untar" -type f | wc -l) of 5000 files extracted"
up || exit 1
back_in tar "$mw" t
guarded 180 sh -c 'while kill -0 "$1" 2>/dev/null; do sleep 0.2; done' sh "$tar_pid"
wait "$tar_pid"
rc=$?
[ $rc = 0 ] || fail "tar: tar -x failed (rc $rc): $(head -n 3 "$tmp/tar.err")"
if diff -r "$scratch/tree" "$srv/untar/tree" >"$tmp/diff.out" 2>&1; then
	ok "tar: the extracted tree matches (diff -r)"
else
	fail "tar: the trees differ: $(head -n 3 "$tmp/diff.out")"
fi
"$FSB" stats "$mw" >"$tmp/stats.out" 2>&1
echo "   stats: reconnects $(stat_field reconnects), retried $(stat_field requests_retried)," \
	"nodes resumed $(stat_field nodes_resumed), lost $(stat_field nodes_lost)," \
	"handles reopened $(stat_field handles_reopened), lost $(stat_field handles_lost)," \
	"disconnected $(stat_field disconnected_ms) ms"
[ "$(stat_field reconnects)" = 2 ] || fail "stats: reconnects $(stat_field reconnects), not 2"
no_d_state write/tar
stop_mount "$mw" "$mw_pid" "$tmp/mw.log"

# --- open: a reader and an appender keep their files --------------------
head -c 3000000 /dev/urandom >"$srv/read.bin"
echo gone >"$srv/gone.txt"
mount_ext mo --cache=none
mo=$mnt
mo_pid=$mnt_pid
exec 3<"$mo/read.bin" 4>>"$mo/append.txt" 5<"$mo/gone.txt"
dd bs=1000000 count=1 <&3 >"$tmp/read.part1" 2>/dev/null
echo "line one" >&4
down
rm "$srv/gone.txt"      # its handle cannot be opened again
echo o >"$srv/probe.o"
sleep 1
up || exit 1
back_in open "$mo" o
if timeout -k 2 20 dd bs=1000000 <&3 >"$tmp/read.part2" 2>"$tmp/read.err"; then
	cat "$tmp/read.part1" "$tmp/read.part2" | cmp -s - "$srv/read.bin" &&
		ok "open: the reader's file carries on where it was" ||
		fail "open: what the reader read differs from the file"
else
	fail "open: reading on after the restart failed: $(cat "$tmp/read.err")"
fi
if echo "line two" >&4 2>"$tmp/append.err"; then
	[ "$(cat "$srv/append.txt")" = "line one
line two" ] && ok "open: the appender's file carries on" ||
		fail "open: append.txt is: $(cat "$srv/append.txt")"
else
	fail "open: writing on after the restart failed: $(cat "$tmp/append.err")"
fi
if cat <&5 >"$tmp/gone.out" 2>&1; then
	fail "open: the handle of a file deleted while the server was away still reads: $(cat "$tmp/gone.out")"
else
	grep -q 'Stale file handle' "$tmp/gone.out" &&
		ok "open: the handle of a file deleted meanwhile fails with ESTALE, and only it" ||
		fail "open: reading the lost handle said: $(cat "$tmp/gone.out")"
fi
exec 3<&- 4>&- 5<&-
stop_mount "$mo" "$mo_pid" "$tmp/mo.log"

# --- watch, signal: events of the outage; requests that give up ---------
mkdir -p "$srv/watch"
echo keep >"$srv/watch/keep.txt"
echo mod >"$srv/watch/mod.txt"
echo del >"$srv/watch/del.txt"
mount_ext mv
mv=$mnt
mv_pid=$mnt_pid
ls -la "$mv/watch" >/dev/null
rec_start outage "$mv/watch" || exit 1
chok=
if command -v node >/dev/null 2>&1 && node_clients; then
	client_start chokidar '^READY$' "$STEP" node "$EVENTS_LIB_DIR/watch-chokidar.js" \
		"$NODE_DIR/node_modules" "$mv/watch" && chok=1
else
	echo "   note: no node or npm packages here: chokidar not run"
fi
down
echo new >"$srv/watch/new.txt"
echo more >>"$srv/watch/mod.txt"
rm "$srv/watch/del.txt"
mkdir "$srv/watch/newdir"
echo v >"$srv/probe.v"
# A request for something uncached waits (hard); a signal ends it.
t0=$(now_ms)
timeout -s INT 2 stat "$mv/uncached-a" >/dev/null 2>&1
rc=$?
t=$(($(now_ms) - t0))
[ $rc != 0 ] && [ $t -lt 4000 ] && ok "signal: SIGINT ended a waiting stat after $t ms (2 s timeout)" ||
	fail "signal: SIGINT: rc $rc after $t ms"
stat "$mv/uncached-b" >/dev/null 2>&1 &
st=$!
sleep 1
kill -KILL $st
t0=$(now_ms)
wait_gone $st 30 && ok "signal: a stat waiting for the server was gone $(($(now_ms) - t0)) ms after SIGKILL" ||
	fail "signal: a stat waiting for the server still there 3 s after SIGKILL"
wait $st 2>/dev/null
no_d_state signal
up || exit 1
back_in watch "$mv" v
for want in "new.txt IN_CREATE" "mod.txt IN_MODIFY" "del.txt IN_DELETE" "newdir IN_CREATE|IN_ISDIR"; do
	if wait_line "$tmp/outage.ev" " ${want%% *} ${want#* }" 10; then
		ok "watch: ${want#* } for ${want%% *}, changed while the server was away"
	else
		fail "watch: no ${want#* } for ${want%% *}; the recorder saw: $(cut -d' ' -f2- "$tmp/outage.ev" | tr '\n' ';')"
	fi
done
if [ -n "$chok" ]; then
	expect chokidar "add of new.txt, made while the server was away" '^add new\.txt$' 10
	expect chokidar "change of mod.txt" '^change mod\.txt$' 10
	expect chokidar "unlink of del.txt" '^unlink del\.txt$' 10
	expect chokidar "addDir of newdir" '^addDir newdir$' 10
fi
stop_watchers
stop_mount "$mv" "$mv_pid" "$tmp/mv.log"

# --- soft: EIO after timeo, then back -------------------------------------
mount_ext ms -o reconnect=soft,timeo=2 --cache=strict
ms=$mnt
ms_pid=$mnt_pid
down
t0=$(now_ms)
timeout -k 2 15 stat "$ms/uncached" >"$tmp/soft.out" 2>&1
rc=$?
t=$(($(now_ms) - t0))
if [ $rc != 0 ] && [ $rc != 124 ] && grep -q 'Input/output error' "$tmp/soft.out" && [ $t -lt 6000 ]; then
	ok "soft: EIO after $t ms (timeo=2)"
else
	fail "soft: rc $rc after $t ms: $(cat "$tmp/soft.out")"
fi
is_mounted "$ms" && ok "soft: still mounted" || fail "soft: the mount went away"
echo s >"$srv/probe.s"
up || exit 1
back_in soft "$ms" s
stop_mount "$ms" "$ms_pid" "$tmp/ms.log"

# --- frozen: short and long --------------------------------------------------
mount_ext mf --cache=strict
mf=$mnt
mf_pid=$mnt_pid
echo f1 >"$srv/probe.f1"
kill -STOP "$ws_pid"
( cat "$mf/probe.f1" >"$tmp/f1.out" 2>&1 ) &
f1=$!
sleep 3
kill -CONT "$ws_pid"
guarded 10 sh -c 'while kill -0 "$1" 2>/dev/null; do sleep 0.1; done' sh "$f1"
[ "$(cat "$tmp/f1.out")" = f1 ] && ok "frozen 3 s: the waiting read completed" ||
	fail "frozen 3 s: read gave: $(cat "$tmp/f1.out")"
echo f2 >"$srv/probe.f2"
kill -STOP "$ws_pid"
( cat "$mf/probe.f2" >"$tmp/f2.out" 2>&1 ) &
f2=$!
wait_line "$tmp/mf.log" "connection to .* lost" 30 ||
	fail "frozen: the daemon never declared the frozen server lost"
sleep 1
t0=$(now_ms)
kill -CONT "$ws_pid"
guarded 30 sh -c 'while kill -0 "$1" 2>/dev/null; do sleep 0.1; done' sh "$f2"
t=$(($(now_ms) - t0))
[ "$(cat "$tmp/f2.out")" = f2 ] && ok "frozen past the dead timeout: the read completed $t ms after SIGCONT" ||
	fail "frozen past the dead timeout: read gave: $(cat "$tmp/f2.out")"
no_d_state frozen
stop_mount "$mf" "$mf_pid" "$tmp/mf.log"

# --- dropped: the server's socket destroyed, winside keeps running -----
if command -v ss >/dev/null 2>&1; then
	port=$((20000 + $$ % 20000))
	"$WINSIDE" serve --listen "tcp:127.0.0.1:$port" --token-file "$tmp/token" \
		--export data="$srv" >"$tmp/wst.out" 2>"$tmp/wst.err" &
	wst=$!
	daemon_pids="$daemon_pids $wst"
	wait_line "$tmp/wst.out" listening 10 "$wst" || fail "dropped: the TCP winside did not start"
	addr=tcp:127.0.0.1:$port mount_ext md --cache=none
	md=$mnt
	md_pid=$mnt_pid
	echo dropped >"$srv/held.txt"
	exec 5<"$md/held.txt"
	if ss -K state established "( sport = :$port )" >/dev/null 2>&1 &&
		wait_line "$tmp/md.log" "connection to .* lost" 10; then
		echo d >"$srv/probe.d"
		back_in dropped "$md" d
		[ "$(cat <&5)" = dropped ] && ok "dropped: a file held open reads on" ||
			fail "dropped: the held file no longer reads"
		kill -0 "$wst" 2>/dev/null || fail "dropped: winside died"
	else
		echo "   note: ss -K cannot destroy sockets here (CONFIG_INET_DIAG_DESTROY); dropped-connection case not run"
	fi
	exec 5<&-
	stop_mount "$md" "$md_pid" "$tmp/md.log"
	kill "$wst" 2>/dev/null
	wait "$wst" 2>/dev/null
	addr=
fi

# --- other: the export comes back as another folder --------------------
mount_ext mx --cache=strict
mx=$mnt
mx_pid=$mnt_pid
ls "$mx" >/dev/null
down
mkdir -p "$scratch/other"
echo other >"$scratch/other/probe.x"
serve_unix --export data="$scratch/other" || exit 1
if wait_line "$tmp/mx.log" "another folder" 20; then
	ok "other: the daemon noticed the export now serves another folder"
else
	fail "other: no word of another folder: $(tail -n 3 "$tmp/mx.log")"
fi
if timeout -k 2 10 cat "$mx/probe.x" >"$tmp/x.out" 2>&1; then
	fail "other: a file of the other folder came through the old mount"
else
	grep -q 'Input/output error' "$tmp/x.out" && ok "other: the mount answers EIO instead of mixing two trees" ||
		fail "other: cat said: $(cat "$tmp/x.out")"
fi
stop_mount "$mx" "$mx_pid" "$tmp/mx.log"

# --- local: the private winside of --local dies; the daemon starts another
mkdir -p "$scratch/loc"
start_mount "$scratch/loc" "$tmp/ml" "$tmp/ml.log" --cache=strict || exit 1
ml_pid=$mount_pid
ls "$tmp/ml" >/dev/null
priv=$(pgrep -P "$ml_pid" -f winside | head -n 1)
if [ -n "$priv" ]; then
	kill -9 "$priv"
	echo l >"$scratch/loc/probe.l"
	back_in local "$tmp/ml" l
	wait_line "$tmp/ml.log" "restarted the private winside" 1 ||
		fail "local: the log does not say the private winside was restarted"
else
	fail "local: no private winside under daemon $ml_pid"
fi
stop_mount "$tmp/ml" "$ml_pid" "$tmp/ml.log"

no_d_state end
[ $failures -eq 0 ] || exit 1
echo "PASS: reconnect"
