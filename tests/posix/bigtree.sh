#!/bin/sh
# tests/posix/bigtree.sh - an export with more directories than winside may
# open descriptors: winside runs with `ulimit -n 256` and serves a tree of
# $BIGTREE_DIRS (3000) directories. Through an fsbridge mount the whole
# tree is walked (find, every entry stat'ed) and compared with the backing
# dir; files deep in it are changed behind the mount, and their events
# (inotifywait on the mount) and contents must arrive; a directory the
# client holds, moved out of the export behind the mount, must no longer be
# reachable through its node. Run twice: winside as root (file handles) and,
# where setpriv exists, as uid 1234 without CAP_DAC_READ_SEARCH (nodes
# re-opened by parent and name), and in a user namespace whose inotify
# watch limit (100) leaves most of the tree to be polled. Every mount and process goes on every way
# out. Exit: 0 pass, 1 fail, 77 skip (no usable /dev/fuse, not root).

set -u

. "$(dirname "$0")/lib.sh"

need_fuse
[ "$(id -u)" = 0 ] || skip "needs root (a second winside runs as another user)"
command -v inotifywait >/dev/null 2>&1 || skip "inotifywait missing (inotify-tools)"
make_tmp bigtree
chmod 755 "$tmp"

NDIRS=${BIGTREE_DIRS:-3000}
FDLIMIT=${BIGTREE_FDLIMIT:-256}
backing=$scratch/backing
outside=$scratch/outside
mkdir -p "$backing" "$outside"

echo "== a tree of $NDIRS directories (a/b/c, one file in each)"
awk -v n="$NDIRS" -v root="$backing" 'BEGIN {
	for (i = 0; i < n; i++)
		printf "%s/t%02d/m%02d/l%02d\n", root, i % 30, int(i / 30) % 10, int(i / 300)
}' >"$tmp/dirs"
xargs mkdir -p <"$tmp/dirs" || exit 99
while read -r d; do
	echo "$d" >"$d/f.txt"
done <"$tmp/dirs"
total=$(find "$backing" -type d | wc -l)
echo "note: $total directories in the backing tree, winside's limit: $FDLIMIT descriptors"

# serve_as NAME WRAPPER-ARGS...: winside under `ulimit -n $FDLIMIT`, through
# the wrapper command given (none, or setpriv ...), on $tmp/NAME/ws.sock.
serve_as() {
	run=$tmp/$1
	shift
	mkdir -p "$run"
	od -An -tx1 -N32 /dev/urandom | tr -d ' \n' >"$run/token"
	chmod 600 "$run/token"
	case ${1:-} in
	setpriv) chown 1234:1234 "$run" "$run/token" ;;
	esac
	: >"$run/ws.out"
	(
		ulimit -n $FDLIMIT || exit 99
		exec "$@" "$WINSIDE" serve --listen "unix:$run/ws.sock" --token-file "$run/token" \
			--export "$backing"
	) >"$run/ws.out" 2>"$run/ws.err" &
	ws_pid=$!
	daemon_pids="$daemon_pids $ws_pid"
	i=0
	until grep -q listening "$run/ws.out" 2>/dev/null; do
		i=$((i + 1))
		if [ $i -gt 100 ] || ! kill -0 "$ws_pid" 2>/dev/null; then
			fail "winside did not start: $(tail -n 3 "$run/ws.err")"
			return 1
		fi
		sleep 0.1
	done
}

# mount_it MOUNTPOINT LOG [OPTIONS]: the export of the winside of $run, in
# the foreground as our job; sets mount_pid.
mount_it() {
	mp=$1
	mlog=$2
	shift 2
	mkdir -p "$mp"
	mounts="$mounts $mp"
	"$FSB" mount -f --server "unix:$run/ws.sock" --token-file "$run/token" "$@" "$backing" \
		"$mp" 2>"$mlog" &
	mount_pid=$!
	daemon_pids="$daemon_pids $mount_pid"
	i=0
	while ! is_mounted "$mp"; do
		i=$((i + 1))
		if [ $i -gt $((STEP * 10)) ] || ! kill -0 "$mount_pid" 2>/dev/null; then
			fail "no mount: $(cat "$mlog")"
			return 1
		fi
		sleep 0.1
	done
}

# stats: winside's SIGUSR1 line about its nodes.
stats() {
	n=$(grep -c "nodes (" "$run/ws.err")
	kill -USR1 "$ws_pid"
	i=0
	while [ "$(grep -c "nodes (" "$run/ws.err")" -le "$n" ] && [ $i -lt 50 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	grep "nodes (" "$run/ws.err" | tail -n 1
}

# memory LINE: what the nodes cost on both sides, within the budgets
# (server: 1 KiB a node, watcher included; client: 512 B a node), and the
# client's counts cover the walked tree.
memory() {
	per=$(echo "$1" | sed -n 's/.*in all [0-9]* KiB (\([0-9]*\) B a node).*/\1/p')
	if [ -n "$per" ] && [ "$per" -le 1024 ]; then
		ok "$name: winside holds $per B a node"
	else
		fail "$name: winside's memory a node is ${per:-not logged} (budget 1024 B): $1"
	fi
	# The daemon writes its stats within a second of its tables changing.
	entries=$(wc -l <"$tmp/native.ls")
	i=0
	while :; do
		"$FSB" stats "$mnt" >"$tmp/stats.out" 2>&1
		nodes=$(awk '$1 == "nodes" { print $2 }' "$tmp/stats.out")
		[ "${nodes:-0}" -ge "$entries" ] || [ $i -ge 30 ] || { i=$((i + 1)); sleep 0.1; continue; }
		break
	done
	cper=$(awk '$1 == "bytes_per_node" { print $2 }' "$tmp/stats.out")
	crss=$(awk '$1 == "rss_kib" { print $2 }' "$tmp/stats.out")
	if [ "${nodes:-0}" -ge "$entries" ] && [ -n "$cper" ] && [ "$cper" -le 512 ]; then
		ok "$name: fsbridge stats: $nodes nodes, $cper B a node in its tables, $crss KiB resident"
	else
		fail "$name: fsbridge stats: ${nodes:-no} nodes for $entries entries, ${cper:-?} B a node (budget 512): $(tr '\n' ' ' <"$tmp/stats.out")"
	fi
}

listing() {
	(cd "$1" && find . -printf '%y %m %s %P\n' | sort)
}

# run_case NAME REOPEN-BY WRAPPER...: the whole check against one winside.
# (lib.sh's helpers set m, p, log, i and st: not ours to keep.)
run_case() {
	name=$1
	by=$2
	shift 2
	mnt=$tmp/m-$name
	mnt_log=$tmp/$name.log
	echo "== $name: walking $total directories through the mount"
	serve_as "$name" "$@" || return 1
	lim=$(awk '/Max open files/ { print $4 }' "/proc/$ws_pid/limits")
	[ "$lim" = $FDLIMIT ] || fail "$name: winside's descriptor limit is $lim, not $FDLIMIT"
	mount_it "$mnt" "$mnt_log" || return 1
	mount1_pid=$mount_pid
	if ! guarded 300 sh -c 'find "$1" -type f -exec cat {} + >/dev/null' sh "$mnt" 2>"$tmp/walk.err"; then
		fail "$name: reading every file: $(head -n 3 "$tmp/walk.err")"
	fi
	listing "$backing" >"$tmp/native.ls"
	listing "$mnt" >"$tmp/mount.ls" 2>"$tmp/walk.err"
	if cmp -s "$tmp/native.ls" "$tmp/mount.ls"; then
		ok "$name: $(wc -l <"$tmp/mount.ls") entries, names, types, modes and sizes as native"
	else
		fail "$name: the walk differs: $(diff "$tmp/native.ls" "$tmp/mount.ls" | head -n 5)"
	fi
	fds=$(ls "/proc/$ws_pid/fd" | wc -l)
	line=$(stats)
	echo "note: $name: winside holds $fds descriptors; $line"
	case $line in
	*"re-opened by $by"*) ok "$name: nodes are re-opened by $by" ;;
	*) fail "$name: nodes not re-opened by $by: $line" ;;
	esac
	dirs=$(echo "$line" | sed -n 's/.*nodes (\([0-9]*\) directories).*/\1/p')
	if [ "${dirs:-0}" -gt $FDLIMIT ]; then
		ok "$name: $dirs directories known at once with $fds descriptors open"
	else
		fail "$name: only ${dirs:-?} directories known (the kernel dropped them?)"
	fi
	memory "$line"

	echo "== $name: changes deep in the tree, behind the mount"
	deep1=$(sed -n "$((NDIRS / 2))s#^$backing/##p" "$tmp/dirs")
	deep2=$(sed -n "\$s#^$backing/##p" "$tmp/dirs")
	inotifywait -m -q --format '%w%f %e' "$mnt/$deep1" "$mnt/$deep2" >"$tmp/$name.ev" 2>&1 &
	iw=$!
	daemon_pids="$daemon_pids $iw"
	sleep 1
	echo changed >"$backing/$deep1/f.txt"
	echo new >"$backing/$deep2/new.txt"
	mv "$backing/$deep2/new.txt" "$backing/$deep2/moved.txt"
	rm "$backing/$deep1/f.txt"
	# A polled part reports where things ended up (a rescan), not the
	# history: there only the removal found by the rescan is required.
	if [ "$name" = watchlimit ]; then
		set -- "$deep1/f.txt DELETE"
	else
		set -- "$deep1/f.txt MODIFY" "$deep2/new.txt CREATE" "$deep2/new.txt MOVED_FROM" \
			"$deep2/moved.txt MOVED_TO" "$deep1/f.txt DELETE"
	fi
	for want in "$@"; do
		if wait_for "$tmp/$name.ev" "$mnt/$want"; then
			ok "$name: $want"
		else
			fail "$name: no event $want; got: $(tr '\n' ';' <"$tmp/$name.ev")"
		fi
	done
	kill "$iw" 2>/dev/null
	wait "$iw" 2>/dev/null
	daemon_pids=$(echo " $daemon_pids " | sed "s/ $iw / /")
	[ "$(cat "$mnt/$deep2/moved.txt" 2>/dev/null)" = new ] && ok "$name: the new file reads" ||
		fail "$name: $deep2/moved.txt through the mount: $(cat "$mnt/$deep2/moved.txt" 2>&1)"
	# A rescan (the polled case) invalidates listings at its end: allow it
	# a few seconds to get there.
	i=0
	until diff -r "$backing" "$mnt" >"$tmp/diff.out" 2>&1; do
		i=$((i + 1))
		[ $i -gt 25 ] && break
		sleep 0.2
	done
	if [ $i -le 25 ]; then
		ok "$name: diff -r of the backing dir and the mount is empty"
	else
		fail "$name: diff -r: $(head -n 5 "$tmp/diff.out")"
	fi

	echo "== $name: a directory the client holds, moved out of the export"
	# Through a second mount that neither caches nor applies events, so
	# that the kernel asks the server, through the old node, for whatever
	# is named below it (a mount applying events drops the moved
	# directory from its cache, which would hide the server's answer).
	m2=$tmp/m2-$name
	log2=$tmp/$name-2.log
	mount_it "$m2" "$log2" --cache=none --events=off || return 1
	mount2_pid=$mount_pid
	held=$(head -n 1 "$tmp/dirs")
	held=${held#"$backing"/}
	held=${held%/*}
	(cd "$m2/$held" && exec sleep 300) &
	holder=$!
	daemon_pids="$daemon_pids $holder"
	sleep 0.5
	[ -r "/proc/$holder/cwd/l00/f.txt" ] || fail "$name: $held/l00/f.txt unreadable before the move"
	mv "$backing/$held" "$outside/$name"
	echo secret >"$outside/$name/secret.txt"
	# Past the time a proof is trusted without news from the watcher.
	sleep 1.5
	if cat "/proc/$holder/cwd/secret.txt" >"$tmp/secret.out" 2>"$tmp/secret.err"; then
		fail "$name: a file made in the moved directory reads through the old node"
	else
		ok "$name: the moved tree is not reachable by name: $(cat "$tmp/secret.err")"
	fi
	if ls "/proc/$holder/cwd/" >"$tmp/ls.out" 2>"$tmp/ls.err"; then
		fail "$name: the moved directory lists through the old node: $(tr '\n' ' ' <"$tmp/ls.out")"
	else
		ok "$name: the moved directory does not list: $(cat "$tmp/ls.err")"
	fi
	kill "$holder" 2>/dev/null
	wait "$holder" 2>/dev/null
	daemon_pids=$(echo " $daemon_pids " | sed "s/ $holder / /")
	stop_mount "$m2" "$mount2_pid" "$log2"
	mount_pid=$mount1_pid
	mv "$outside/$name" "$backing/$held"
	rm "$backing/$held/secret.txt"
	echo "$backing/$deep1" >"$backing/$deep1/f.txt"
	rm "$backing/$deep2/moved.txt"
	# Moved back in, the tree is whole again (and the replays of these
	# changes, which open files through the mount, are over before the
	# umount).
	i=0
	until diff -r "$backing" "$mnt" >"$tmp/diff.out" 2>&1; do
		i=$((i + 1))
		if [ $i -gt 50 ]; then
			fail "$name: the tree moved back differs: $(head -n 3 "$tmp/diff.out")"
			break
		fi
		sleep 0.2
	done
	# A polled part is rescanned up to 2 s later, and the client's
	# replays of what it finds open files through the mount.
	if [ "$name" = watchlimit ]; then
		sleep 4
	else
		sleep 0.5
	fi

	# A process still inside would make the umount fail: name it.
	busy=$(for p in /proc/[0-9]*; do
		case $(readlink "$p/cwd" 2>/dev/null) in "$mnt"*) echo "${p#/proc/} $(cat "$p/cmdline" | tr '\0' ' ')" ;; esac
	done)
	[ -z "$busy" ] || echo "note: inside the mount: $busy"
	stop_mount "$mnt" "$mount_pid" "$mnt_log"
	kill "$ws_pid"
	wait_gone "$ws_pid" 100 || fail "$name: winside still running after SIGTERM"
	wait "$ws_pid"
	st=$?
	daemon_pids=$(echo " $daemon_pids " | sed "s/ $ws_pid / /")
	[ $st -eq 0 ] || fail "$name: winside exited with status $st: $(tail -n 3 "$run/ws.err")"
	if grep -q "AddressSanitizer\|LeakSanitizer\|runtime error" "$run/ws.err"; then
		fail "$name: winside's log reports errors: $(grep -m 5 "Sanitizer\|runtime error" "$run/ws.err")"
	fi
}

# wait_for FILE LINE: until FILE has LINE (a prefix of one), 10 s at most.
wait_for() {
	i=0
	while ! grep -qF -- "$2" "$1" 2>/dev/null; do
		i=$((i + 1))
		[ $i -gt 100 ] && return 1
		sleep 0.1
	done
}

run_case root "file handle"
# In a user namespace of its own with room for 100 inotify watches: most
# of the tree is polled instead, and the changes still arrive.
if unshare -U -r sh -c 'echo 100 >/proc/sys/user/max_inotify_watches' 2>/dev/null; then
	# inotify's limit, whatever WINSIDE_WATCHER says: fanotify needs
	# CAP_SYS_ADMIN in the first user namespace, which this has not.
	run_case watchlimit "parent and name" env WINSIDE_WATCHER=inotify unshare -U -r sh -c \
		'echo 100 >/proc/sys/user/max_inotify_watches && exec "$0" "$@"'
	grep -q "inotify watch limit is reached.*walked every" "$tmp/watchlimit/ws.err" &&
		ok "watchlimit: the limit is logged: $(grep -o 'the inotify watch limit.*' "$tmp/watchlimit/ws.err" | head -n 1)" ||
		fail "watchlimit: the watch limit was not logged"
else
	echo "note: no user namespaces here: the watch-limit case is not run"
fi
if command -v setpriv >/dev/null 2>&1; then
	chown -R 1234:1234 "$backing" "$outside"
	run_case uid1234 "parent and name" setpriv --reuid 1234 --regid 1234 --clear-groups \
		--inh-caps=-all --bounding-set=-all env WINSIDE_WATCHER=inotify
else
	echo "note: no setpriv: the case without CAP_DAC_READ_SEARCH is not run"
fi

if [ $failures -ne 0 ]; then
	echo "$failures check(s) failed"
	exit 1
fi
echo "all big-tree checks passed"
exit 0
