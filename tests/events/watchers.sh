#!/bin/sh
# tests/events/watchers.sh - many watchers of one mount, as many containers
# given `-v MOUNT:/app`: $EVENTS_WATCHERS (50) recorders (evrec), each in a
# mount namespace of its own that sees the mount through a bind of it, watch
# the whole tree while $EVENTS_WATCHER_CHANGES (2,000) changes are made
# behind the mount, in the backing dir: half of them files created one by
# one in a directory the watchers see, then the other half the same files
# removed in the same order.
#
# Every watcher must get one IN_CREATE and one IN_DELETE per file: per
# watcher, delivered / lost / duplicated, and the order (creations and
# removals each in the order made, each removal after its creation).
#
# One slow watcher must not slow the others: the last recorder is stopped
# (SIGSTOP) for the whole burst, its events piling up in its inotify queue.
# Every other watcher must have all its events while it is still stopped;
# let go, it must get them too (the queue, fs.inotify.max_queued_events,
# holds them at the test's size).
#
# Prints one line per watcher and a summary. bench/watchers.sh runs it with
# 10,000 changes, where the stopped watcher's own queue may overflow (its
# IN_Q_OVERFLOW is then reported, not failed: EVENTS_SLOW_MAY_OVERFLOW=1),
# and once with no watcher stopped (EVENTS_STOP_SLOW=0) for comparison.
#
# Self-check: EVENTS_TARGET=bind watches a plain bind mount of the backing
# dir, where everything must pass. Needs root (unshare -m, mount --bind).
# Exit: 0 pass, 1 fail, 77 skip.

set -u

EVENTS_LIB_DIR=$(dirname "$0")
. "$EVENTS_LIB_DIR/lib.sh"

NW=${EVENTS_WATCHERS:-50}
CHANGES=${EVENTS_WATCHER_CHANGES:-2000}
# With the queue overflowing the stopped watcher loses events by design.
SLOW_MAY_OVERFLOW=${EVENTS_SLOW_MAY_OVERFLOW:-0}
STOP_SLOW=${EVENTS_STOP_SLOW:-1}
NFILES=$((CHANGES / 2))

need_target
[ "$(id -u)" = 0 ] || skip "needs root (unshare -m and mount --bind for each watcher)"
command -v unshare >/dev/null 2>&1 || skip "unshare(1) missing"
inst=$(cat /proc/sys/fs/inotify/max_user_instances 2>/dev/null || echo 0)
[ "$inst" -ge $((NW + 16)) ] ||
	skip "fs.inotify.max_user_instances is $inst: $NW watchers need $((NW + 16))"
events_tmp watchers

backing=$scratch/backing
view=$tmp/view
mkdir -p "$backing/burst" "$backing/other"
echo keep >"$backing/other/keep.txt"
view_up "$backing" "$view" || exit 1
ls -R "$view" >/dev/null

echo "== $NW watchers, each in a mount namespace of its own"
n=1
while [ $n -le "$NW" ]; do
	rec_start_ns "w$n" "$view" || exit 1
	n=$((n + 1))
done
slow_pid=${watchers##* }
if [ "$STOP_SLOW" = 1 ]; then
	kill -STOP "$slow_pid"
	echo "note: watcher w$NW (pid $slow_pid) is stopped for the burst"
fi

echo "== $CHANGES changes behind the mount: $NFILES files created, then removed"
seq -f "f%05g" 0 $((NFILES - 1)) >"$tmp/names"
t0=$(now_ms)
(cd "$backing/burst" && xargs touch <"$tmp/names" && xargs rm <"$tmp/names") ||
	{ fail "the burst in the backing dir failed"; kill -CONT "$slow_pid"; exit 1; }
t1=$(now_ms)
echo "note: the burst took $((t1 - t0)) ms"

# done_count: how many of the running watchers have seen the last removal.
last="burst/f$(printf %05d $((NFILES - 1))) IN_DELETE"
done_count() {
	c=0
	n=1
	while [ $n -lt "$NW" ]; do
		grep -q " $last\$" "$tmp/w$n.ev" && c=$((c + 1))
		n=$((n + 1))
	done
	echo $c
}
deadline=$(($(now_ms) + 60000 + CHANGES * 10))
while [ "$(done_count)" -lt $((NW - 1)) ] && [ "$(now_ms)" -lt $deadline ]; do
	sleep 0.2
done
t2=$(now_ms)
# The stragglers' last lines, so that a lost last event is not mistaken
# for one still on its way.
wait_quiet 5 5 "$tmp"/w*.ev
state=$(awk '{ print $3 }' "/proc/$slow_pid/stat" 2>/dev/null)
if [ "$STOP_SLOW" != 1 ]; then
	echo "note: the first $((NW - 1)) watchers were done $((t2 - t1)) ms after the burst"
elif [ "$state" = T ]; then
	ok "the $((NW - 1)) running watchers were done $((t2 - t1)) ms after the burst, w$NW still stopped"
else
	fail "the stopped watcher w$NW is in state '${state:-gone}', not T"
fi
kill -CONT "$slow_pid"
i=0
until grep -q -e " $last\$" -e "IN_Q_OVERFLOW" "$tmp/w$NW.ev" || [ $i -gt 300 ]; do
	sleep 0.1
	i=$((i + 1))
done
wait_quiet 5 10 "$tmp/w$NW.ev"
stop_watchers

# Per watcher: delivered, lost and duplicated creations and removals, the
# order, the time of its last event after its first.
echo "== per watcher: delivered / lost / duplicated (of $CHANGES), order, last event"
fails=0
n=1
while [ $n -le "$NW" ]; do
	line=$(awk -v nfiles="$NFILES" '
	$2 ~ /^burst\/f[0-9]+$/ && ($3 == "IN_CREATE" || $3 == "IN_DELETE") {
		name = substr($2, 7)
		k = $3 == "IN_CREATE" ? "c" : "d"
		if (seen[k, name]++) { dup++; next }
		got++
		# Each kind in the order made; a removal after its creation.
		if (k == "c" && name < lastc) order = 0
		if (k == "d" && (name < lastd || !seen["c", name])) order = 0
		if (k == "c") lastc = name; else lastd = name
		if (!first) first = $1
		last = $1
	}
	$3 ~ /IN_Q_OVERFLOW/ { overflow = 1 }
	BEGIN { order = 1; lastc = ""; lastd = "" }
	END {
		printf "%d %d %d %s %d %d", got, 2 * nfiles - got, dup, order ? "in-order" : "OUT-OF-ORDER",
			overflow, first ? (last - first) / 1000 : -1
	}' "$tmp/w$n.ev")
	set -- $line
	tag=w$n
	[ $n = "$NW" ] && [ "$STOP_SLOW" = 1 ] && tag="w$n (stopped)"
	printf '   %-14s delivered %5d  lost %5d  dup %3d  %s%s  last event %d ms after its first\n' \
		"$tag" "$1" "$2" "$3" "$4" "$([ "$5" = 1 ] && echo ", IN_Q_OVERFLOW")" "$6"
	if [ $n = "$NW" ] && [ "$5" = 1 ] && [ "$SLOW_MAY_OVERFLOW" = 1 ]; then
		:
	elif [ "$2" != 0 ] || [ "$3" != 0 ] || [ "$4" != in-order ] || [ "$5" != 0 ]; then
		fails=$((fails + 1))
	fi
	echo "$tag $line" >>"$tmp/summary"
	n=$((n + 1))
done
if [ $fails = 0 ]; then
	ok "every watcher got all $CHANGES events once each, in order"
else
	fail "$fails watcher(s) lost, duplicated or reordered events (see above)"
fi
awk -v nw="$NW" '$1 !~ /stopped/ && $1 != "w" nw {
	if ($7 > max) max = $7
	tot += $7; c++
} END { if (c) printf "note: running watchers: last event %d ms (mean %d ms) after their first\n", max, tot / c }' \
	"$tmp/summary"

view_down "$view"
echo "$failures check(s) failed"
[ "$failures" = 0 ]
