#!/bin/sh
# tests/events/conformance.sh - do watchers of an fsbridge mount see the
# changes made behind its back, as native inotify events?
#
# Part 1, changes made in the backing dir. 19 kinds of operation (create
# empty, write new, append, overwrite in place, truncate, touch, chmod,
# mkdir, a file in a fresh subdir, rename, move across dirs, rename a dir,
# delete, rmdir, rm -rf of a tree, create+delete within a few ms, symlink,
# editor-style save, a burst of 1,000 creates) run directly in BACKING
# while three evrec recorders watch: one on BACKING (the reference), one
# on the mount, and one in a new mount namespace that sees the mount
# through its own bind mount, as a container does. Watching the mount from
# two namespaces at once is the same as running the operations twice, one
# watcher each: inotify marks are per watcher and never interfere. Every
# reference event (path + kind) must show on each mount watcher within
# EVENTS_DEADLINE_MS (default 1000) of the reference, with no extra event;
# see evcmp.awk for which kinds are compared and why.
#
# Part 2, changes made through the mount. The same operations through the
# mount, watched on the mount, must give per path exactly the event
# sequence they give on a native tmpfs dir: nothing missing, no duplicate
# (such as the server's echo of our own write replayed as a change).
#
# Part 3, the cases where a watcher keying on event kinds would notice a
# difference: moves into and out of the export (lone IN_MOVED_TO and
# IN_MOVED_FROM, files and directories with contents), a file created and
# written in one go (CREATE, OPEN, MODIFY, CLOSE_WRITE, no second open),
# utimensat on a path (IN_ATTRIB alone) and touch (OPEN, ATTRIB,
# CLOSE_WRITE). Made in BACKING as in part 1, recorded with cookies, and
# compared event by event (evcmp.awk's exact mode: kinds per path in
# order, IN_OPEN of files included, each rename half with its partner).
# Afterwards the mount must list what moved in, with what came with it,
# and no longer what moved out.
# Operations in XFAIL_OPS are known to differ still (their table says
# XFAIL); one that starts to match fails as XPASS until taken off the list.
#
# Part 4, a lost window (needs root): the server's watcher is started
# with an inotify (or fanotify) queue of 16 events and held stopped (SIGSTOP) while
# files are created, written and removed behind it, so its queue
# overflows; its RESCAN makes the client diff its cache against the
# server. The mount's watcher must get what the backing dir's got, in
# exact mode: creations included, which only a client that knows which
# names it has seen can tell.
#
# Each operation works inside its own top-level dir, which is how events
# are attributed to operations. Files an operation acts on are made before
# the mount, and `ls -lR` of the mount then makes the kernel cache them, as
# an editor's files are: the replay must then act on cached inodes and
# dentries, the hard case.
#
# Self-check: EVENTS_TARGET=bind makes the "mount" a plain bind mount of
# BACKING (no fsbridge at all). A bind mount shares BACKING's inodes, so
# its watchers see exactly BACKING's events: every operation must PASS in
# both parts. Run it after any change to this harness:
#   EVENTS_TARGET=bind make check TESTS=tests/events/conformance.sh
#
# Environment: top_builddir (set by make check), EVENTS_TARGET (fsbridge or
# bind), EVENTS_MOUNT_OPTS (extra `fsbridge mount` options, e.g.
# --events=replay), EVENTS_DEADLINE_MS, EVENTS_PARTS (default "1 2 3 4"), EVENTS_XFAIL_OPS (part 3's
# operations known to differ, see above).
# Exit: 0 pass, 1 fail, 77 skip (no usable /dev/fuse, binaries missing).

set -u

EVENTS_LIB_DIR=$(dirname "$0")
. "$EVENTS_LIB_DIR/lib.sh"

CMP=$EVENTS_LIB_DIR/evcmp.awk
DEADLINE=${EVENTS_DEADLINE_MS:-1000}
PARTS=${EVENTS_PARTS:-1 2 3 4}
OPS="01-create-empty 02-write-new 03-append 04-overwrite 05-truncate 06-touch
07-chmod 08-mkdir 09-fresh-subdir 10-rename 11-move-across 12-rename-dir
13-delete 14-rmdir 15-rm-rf-tree 16-create-delete 17-symlink 18-editor-save
19-burst-1000"

OPS3="20-move-in-file 21-move-in-dir 22-move-out-file 23-move-out-dir
24-create-write 25-utime 26-touch-exact"
# None known to differ: moves across the export's edge and a utimensat
# told from a touch need FSB_CAP_EVENT_EDGES, which both sides speak.
XFAIL_OPS=${EVENTS_XFAIL_OPS-}

# op_kinds NAME: which event kinds the operation can be judged on. In a
# directory created during the operation, a watcher's watch exists only
# once it has read the directory's IN_CREATE: whether it sees the first
# file's OPEN/MODIFY/CLOSE_WRITE is a race even natively (inotifywait,
# chokidar and evrec all cover it by listing the new dir, which finds the
# file: its creation is certain, the rest is not).
op_kinds() {
	case $1 in
	09-*) echo create ;;
	*) echo all ;;
	esac
}

# op_setup NAME ROOT: what the operation acts on, made beforehand.
op_setup() {
	d=$2/$1
	mkdir -p "$d" || return 1
	case $1 in
	03-* | 04-* | 05-* | 06-* | 07-* | 13-*) printf 'original content\n' >"$d/f" ;;
	10-*) printf 'rename me\n' >"$d/a" ;;
	11-*) mkdir "$d/from" "$d/to" && printf 'move me\n' >"$d/from/f" ;;
	12-*) mkdir "$d/old" && printf 'in a dir\n' >"$d/old/f" ;;
	14-*) mkdir "$d/gone" ;;
	15-*)
		mkdir -p "$d/tree/a/b" "$d/tree/c" || return 1
		for f in x a/y a/b/z c/w; do
			printf 'tree\n' >"$d/tree/$f" || return 1
		done ;;
	18-*) printf 'version 1\n' >"$d/doc.txt" ;;
	# Outside the export: ROOT.outside, on the same file system.
	20-*) mkdir -p "$2.outside" && printf 'from outside\n' >"$2.outside/20-f" ;;
	21-*)
		mkdir -p "$2.outside/21-dir/sub" &&
			printf 'x\n' >"$2.outside/21-dir/x" &&
			printf 'y\n' >"$2.outside/21-dir/sub/y" ;;
	22-*) mkdir -p "$2.outside" && printf 'leaving\n' >"$d/f" ;;
	23-*)
		mkdir -p "$2.outside" "$d/tree/sub" &&
			printf 'x\n' >"$d/tree/x" && printf 'y\n' >"$d/tree/sub/y" ;;
	25-* | 26-*) printf 'original content\n' >"$d/f" ;;
	esac
}

# op_run NAME ROOT: the operation, as a program on the other side does it.
op_run() {
	d=$2/$1
	case $1 in
	01-*) : >"$d/f" ;;
	02-*) printf 'a new file\n' >"$d/f" ;;
	03-*) printf 'appended\n' >>"$d/f" ;;
	04-*) printf 'OVER' | dd of="$d/f" conv=notrunc status=none ;;
	05-*) truncate -s 4 "$d/f" ;;
	06-*) touch "$d/f" ;;
	07-*) chmod 600 "$d/f" ;;
	08-*) mkdir "$d/new" ;;
	09-*) mkdir "$d/sub" && printf 'fresh\n' >"$d/sub/f" ;;
	10-*) mv "$d/a" "$d/b" ;;
	11-*) mv "$d/from/f" "$d/to/f" ;;
	12-*) mv "$d/old" "$d/new" ;;
	13-*) rm "$d/f" ;;
	14-*) rmdir "$d/gone" ;;
	15-*) rm -rf "$d/tree" ;;
	16-*)
		t0=$(now_ms)
		printf 'brief\n' >"$d/f" && rm "$d/f"
		t=$(($(now_ms) - t0))
		[ $t -lt 50 ] || echo "note: create+delete took $t ms (meant to be < 50)" ;;
	17-*) ln -s ../03-append/f "$d/link" ;;
	18-*)
		printf 'version 2\n' >"$d/.doc.txt.swp" &&
			mv "$d/.doc.txt.swp" "$d/doc.txt" ;;
	19-*)
		i=0
		while [ $i -lt 1000 ]; do
			: >"$d/f$i" || return 1
			i=$((i + 1))
		done ;;
	20-*) mv "$2.outside/20-f" "$d/f" ;;
	21-*) mv "$2.outside/21-dir" "$d/dir" ;;
	22-*) mv "$d/f" "$2.outside/22-f" ;;
	23-*) mv "$d/tree" "$2.outside/23-tree" ;;
	24-*) printf 'created and written\n' >"$d/f" ;;
	# utimensat on the path, no open: what os.utime and make's touch
	# of a target through utime(2) do.
	25-*) perl -e 'utime(1000000000, 1000000000, $ARGV[0]) or exit 1' "$d/f" ;;
	26-*) touch "$d/f" ;;
	esac
}

# Part 4's operations: OPS4 acts in ROOT/27-lost-window, made by its setup;
# ROOT/28-flood only overflows the server's queue and is not compared.
OPS4="27-lost-window"
lost_setup() {
	mkdir -p "$1/27-lost-window" "$1/28-flood" &&
		printf 'stays\n' >"$1/27-lost-window/kept" &&
		printf 'goes\n' >"$1/27-lost-window/gone" &&
		printf 'old\n' >"$1/27-lost-window/changed"
}
lost_run() {
	# The flood first: the queue keeps its first 16 events and drops the
	# rest, so the compared changes are among the lost ones.
	i=0
	while [ $i -lt 100 ]; do
		: >"$1/28-flood/f$i" || return 1
		i=$((i + 1))
	done
	d=$1/27-lost-window
	: >"$d/new-empty" && printf 'new data\n' >"$d/new-written" &&
		mkdir "$d/new-dir" && rm "$d/gone" && printf 'more\n' >>"$d/changed"
}

# Run as `conformance.sh --setup|--run ROOT` by guarded below, so that
# operations through a mount that hangs are cut off by timeout.
case ${1:-} in
--setup | --run | --setup3 | --run3)
	ops=$OPS
	case $1 in *3) ops=$OPS3 ;; esac
	for op in $ops; do
		if [ "${1%3}" = --setup ]; then
			op_setup "$op" "$2" || { echo "setup of $op failed"; exit 1; }
		else
			op_run "$op" "$2" || { echo "$op failed"; exit 1; }
		fi
	done
	exit 0 ;;
--lost-setup) lost_setup "$2" || { echo "setup of the lost window failed"; exit 1; }; exit 0 ;;
--lost-run) lost_run "$2" || { echo "the lost window's changes failed"; exit 1; }; exit 0 ;;
esac

need_target
events_tmp conformance
if ! command -v dd >/dev/null || ! command -v truncate >/dev/null; then
	skip "dd or truncate missing"
fi

for op in $OPS; do
	echo "$op $(op_kinds "$op")"
done >"$tmp/ops"
for op in $OPS3; do
	echo "$op all"
done >"$tmp/ops3"
echo "$OPS4 all" >"$tmp/ops4"

backing=$scratch/backing
mnt=$tmp/mnt
ns_ok=1
if [ "$(id -u)" != 0 ] || ! command -v unshare >/dev/null 2>&1; then
	ns_ok=0
	echo "note: not root or no unshare: the mount-namespace watcher is left out"
fi

# steps WHAT ROOT SECS: the operations' setup or run, within SECS.
steps() {
	guarded "$3" sh "$0" "$1" "$2" >"$tmp/steps.out" 2>&1
	rc=$?
	cat "$tmp/steps.out"
	[ $rc -eq 0 ] && return 0
	fail "$1 in $2: status $rc$([ $rc -eq 124 ] && echo ' (timed out)')"
	return 1
}

# compare MODE REF VIEW REFNAME VIEWNAME [OPSFILE [XFAIL]]
compare() {
	if awk -f "$CMP" -v mode="$1" -v deadline_ms="$DEADLINE" -v xfail="${7:-}" \
		-v ref_name="$4" -v view_name="$5" "${6:-$tmp/ops}" "$2" "$3"; then
		ok "$5: every operation matches $4"
	else
		fail "$5: events differ from $4 (table above)"
	fi
}

echo "== view: $TARGET ${MOUNT_OPTS:+($MOUNT_OPTS)}"
mkdir -p "$backing"
steps --setup "$backing" "$STEP" || exit 1
steps --setup3 "$backing" "$STEP" || exit 1
view_up "$backing" "$mnt" || exit 1
mnt_pid=$view_pid
mnt_log=$view_log
# The kernel now holds every entry and inode the operations act on.
guarded "$STEP" ls -lR "$mnt" >/dev/null 2>"$tmp/ls.err" || fail "ls -lR $mnt: $(cat "$tmp/ls.err")"

part1() {
	echo "== part 1: changes in the backing dir, watched on the backing dir and on the mount"
	rec_start backing "$backing" &&
		rec_start mount "$mnt" &&
		{ [ $ns_ok = 0 ] || rec_start_ns namespace "$mnt"; } || return
	start=$(now_ms)
	steps --run "$backing" 60
	echo "   operations took $(($(now_ms) - start)) ms"
	# Done once nothing new has come for 1.5 s.
	wait_quiet 15 30 "$tmp/backing.ev" "$tmp/mount.ev" "$tmp/namespace.ev"
	stop_watchers
	echo "-- watcher on the mount ($mnt)"
	compare presence "$tmp/backing.ev" "$tmp/mount.ev" backing mount
	if [ $ns_ok = 1 ]; then
		echo "-- watcher in another mount namespace, on a bind mount of the mount"
		compare presence "$tmp/backing.ev" "$tmp/namespace.ev" backing "mount (other namespace)"
	fi
}

part2() {
	echo "== part 2: changes through the mount, watched on the mount, against native"
	native=$scratch/native
	mkdir -p "$native" || exit 99
	mkdir "$mnt/through" || { fail "mkdir $mnt/through"; return; }
	steps --setup "$native" "$STEP" && steps --setup "$mnt/through" 60 || return
	rec_start native "$native" && rec_start through "$mnt/through" || return
	steps --run "$native" 60
	start=$(now_ms)
	steps --run "$mnt/through" 120
	echo "   operations through the mount took $(($(now_ms) - start)) ms"
	# Echoes of our own operations, if any got replayed, come late.
	wait_quiet 15 30 "$tmp/native.ev" "$tmp/through.ev"
	stop_watchers
	compare sequence "$tmp/native.ev" "$tmp/through.ev" native mount
}

part3() {
	echo "== part 3: the edge cases, changes in the backing dir, compared event by event"
	rec_start backing3 "$backing" -c &&
		rec_start mount3 "$mnt" -c &&
		{ [ $ns_ok = 0 ] || rec_start_ns namespace3 "$mnt" -c; } || return
	steps --run3 "$backing" 60
	wait_quiet 15 30 "$tmp/backing3.ev" "$tmp/mount3.ev" "$tmp/namespace3.ev"
	stop_watchers
	xf=$XFAIL_OPS
	[ "$TARGET" = bind ] && xf=
	echo "-- watcher on the mount ($mnt)"
	compare exact "$tmp/backing3.ev" "$tmp/mount3.ev" backing mount "$tmp/ops3" "$xf"
	if [ $ns_ok = 1 ]; then
		echo "-- watcher in another mount namespace, on a bind mount of the mount"
		compare exact "$tmp/backing3.ev" "$tmp/namespace3.ev" backing \
			"mount (other namespace)" "$tmp/ops3" "$xf"
	fi
	for op in 20-move-in-file 21-move-in-dir 22-move-out-file 23-move-out-dir; do
		(cd "$backing/$op" && find . | sort) >"$tmp/want.ls"
		guarded "$STEP" sh -c 'cd "$1" && find . | sort' sh "$mnt/$op" >"$tmp/got.ls" 2>&1
		if cmp -s "$tmp/want.ls" "$tmp/got.ls"; then
			ok "$op: the mount lists what the backing dir holds"
		else
			fail "$op: the mount lists other names than the backing dir:"
			diff "$tmp/want.ls" "$tmp/got.ls" | sed 's/^/    /'
		fi
	done
}

# The sysctls that size an inotify instance's queue and a fanotify
# group's when they are made (the server's watcher is either).
QUEUE_LIMIT=/proc/sys/fs/inotify/max_queued_events
FAN_QUEUE_LIMIT=/proc/sys/fs/fanotify/max_queued_events

# winside_of PID: the server a `fsbridge mount --local` daemon started.
winside_of() {
	for c in /proc/[0-9]*; do
		[ "$(awk '/^PPid:/ { print $2 }' "$c/status" 2>/dev/null)" = "$1" ] || continue
		case $(cat "$c/comm" 2>/dev/null) in winside*) echo "${c#/proc/}"; return 0 ;; esac
	done
	return 1
}

part4() {
	echo "== part 4: a lost window (the server's watcher overflows), watched on the mount"
	if [ "$TARGET" != fsbridge ] || [ "$(id -u)" != 0 ] || [ ! -w "$QUEUE_LIMIT" ]; then
		echo "note: part 4 needs root and an fsbridge view: left out"
		return 0
	fi
	lost=$scratch/lost
	lmnt=$tmp/mnt-lost
	mkdir -p "$lost" && sh "$0" --lost-setup "$lost" || { fail "lost window setup"; return; }
	saved=$(cat "$QUEUE_LIMIT")
	fan_saved=$(cat "$FAN_QUEUE_LIMIT" 2>/dev/null)
	# Only as long as the server needs to make its watcher: every
	# inotify instance (fanotify group) made meanwhile gets the small
	# queue.
	echo 16 >"$QUEUE_LIMIT" || { fail "cannot lower $QUEUE_LIMIT"; return; }
	[ -z "$fan_saved" ] || echo 16 >"$FAN_QUEUE_LIMIT" ||
		{ echo "$saved" >"$QUEUE_LIMIT"; fail "cannot lower $FAN_QUEUE_LIMIT"; return; }
	view_up "$lost" "$lmnt"
	up=$?
	echo "$saved" >"$QUEUE_LIMIT"
	[ -z "$fan_saved" ] || echo "$fan_saved" >"$FAN_QUEUE_LIMIT"
	[ $up = 0 ] || return
	lpid=$view_pid
	llog=$view_log
	guarded "$STEP" ls -lR "$lmnt" >/dev/null 2>&1 || fail "ls -lR $lmnt"
	server=$(winside_of "$lpid") || { fail "no winside under the daemon $lpid"; view_down "$lmnt"; return; }
	rec_start lostref "$lost" -c && rec_start lostmnt "$lmnt" -c || { view_down "$lmnt"; return; }
	kill -STOP "$server"
	sh "$0" --lost-run "$lost" || fail "the lost window's changes"
	kill -CONT "$server"
	wait_quiet 20 30 "$tmp/lostref.ev" "$tmp/lostmnt.ev"
	stop_watchers
	if grep -q 'events were lost' "$llog"; then
		compare exact "$tmp/lostref.ev" "$tmp/lostmnt.ev" backing mount "$tmp/ops4"
	else
		fail "the server's queue did not overflow: nothing was tested"
		sed 's/^/    /' "$llog"
	fi
	view_pid=$lpid
	view_log=$llog
	view_down "$lmnt"
}

for part in $PARTS; do
	"part$part"
done

view_pid=$mnt_pid
view_log=$mnt_log
view_down "$mnt"
if [ $failures -ne 0 ]; then
	if [ -n "$view_log" ] && [ -s "$view_log" ]; then
		echo "daemon log (last 20 lines):"
		tail -n 20 "$view_log" | sed 's/^/    /'
	fi
	echo "$failures check(s) failed"
	exit 1
fi
echo "all event checks passed"
exit 0
