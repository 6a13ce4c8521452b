#!/bin/sh
# bench/events.sh - change events on a mount, measured side by side with a
# native bind mount, printed as a markdown table.
#
#   latency   1,000 changes (create, append, delete in turn) made in the
#             backing dir one at a time: p50/p99 from the change to its
#             inotify event on the mount (bench/event_latency)
#   burst     10,000 such changes as fast as possible: delivered, lost and
#             duplicate events, watcher queue overflows
#   loaded    the latency again while the machine is busy: a CPU-bound
#             build on every core (the C compiler over bench/event_latency.c
#             in a loop) and, elsewhere in the export, a burst of 10,000
#             files created in a directory the mount has listed (so each of
#             those changes is replayed too), started with the measurement
#   idle CPU  utime+stime of fsbridge and of its winside child over
#             EVENTS_IDLE_SECS (default 60) with an export of EVENTS_FILES
#             (default 30,000) files, listed once through the mount and
#             watched recursively by a recorder (an IDE's watcher): with
#             native change notification, nothing should be burning CPU
#
# The bind mount column shows the floor (the watcher and the changes share
# the inodes) and checks the bench itself: it must deliver everything.
#
# Run from a build directory after `make` (a build without sanitizers,
# or the numbers describe ASan):
#   ../bench/events.sh [--idle SECS] [--files N] [--targets "bind fsbridge"]
# Extra `fsbridge mount` options: EVENTS_MOUNT_OPTS. Root is needed for the
# bind mount (and for FUSE without fusermount3).

set -u

IDLE=${EVENTS_IDLE_SECS:-60}
FILES=${EVENTS_FILES:-30000}
TARGETS="bind fsbridge"
while [ $# -gt 0 ]; do
	case $1 in
	--idle) IDLE=$2; shift 2 ;;
	--files) FILES=$2; shift 2 ;;
	--targets) TARGETS=$2; shift 2 ;;
	-h | --help) sed -n '2,/^$/s/^# \{0,1\}//p' "$0"; exit 0 ;;
	*) echo "usage: $0 [--idle SECS] [--files N] [--targets \"bind fsbridge\"]" >&2; exit 2 ;;
	esac
done

if [ -z "${top_builddir:-}" ]; then
	[ -x ./fsbridge/fsbridge ] || { echo "run from the build directory (or set top_builddir)" >&2; exit 2; }
	top_builddir=$(pwd)
fi
EVENTS_LIB_DIR=$(dirname "$0")/../tests/events
. "$EVENTS_LIB_DIR/lib.sh"

BENCH=$top_builddir/bench/event_latency
[ -x "$BENCH" ] || { echo "bench/event_latency not built: make first" >&2; exit 2; }
for t in $TARGETS; do
	TARGET=$t
	need_target
done
events_tmp bench-events
bench_cleanup() {
	rc=$?
	load_stop
	(exit $rc)
	events_cleanup
}
trap bench_cleanup EXIT

# make_export DIR N: N empty files, 100 to a directory.
make_export() {
	i=0
	while [ $((i * 100)) -lt "$2" ]; do
		d=$1/d$i
		mkdir -p "$d" || return 1
		n=$(($2 - i * 100))
		[ $n -gt 100 ] && n=100
		(cd "$d" && seq -f 'f%03g' 0 $((n - 1)) | xargs touch) || return 1
		i=$((i + 1))
	done
}

# load_start BACKING MNT: the competing load (see the header); its
# processes in $load_pids, all ours to stop.
load_pids=
load_start() {
	cc=$(command -v cc || command -v gcc || true)
	src=$(dirname "$0")/event_latency.c
	n=$(nproc)
	while [ "$n" -gt 0 ]; do
		if [ -n "$cc" ]; then
			sh -c 'while :; do "$1" -O2 -c -o /dev/null "$2" || exit 1; done' sh "$cc" "$src" &
		else
			sh -c 'while :; do :; done' &
		fi
		load_pids="$load_pids $!"
		n=$((n - 1))
	done
	mkdir -p "$1/load-burst" && ls "$2/load-burst" >/dev/null
}

# load_burst BACKING: the 10,000 creations, in the background.
load_burst() {
	(cd "$1/load-burst" && seq -f "f%05g" 0 9999 | xargs touch) &
	load_pids="$load_pids $!"
}

load_stop() {
	[ -n "$load_pids" ] || return 0
	# shellcheck disable=SC2086
	kill -TERM $load_pids 2>/dev/null
	for p in $load_pids; do
		wait "$p" 2>/dev/null
	done
	load_pids=
}

# cpu_ticks PID: utime + stime, in clock ticks (fields 14 and 15, counted
# after the command name, which may hold spaces).
cpu_ticks() {
	sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | awk '{ print $12 + $13 }'
}

# result TARGET KEY: a value the bench printed for TARGET, or "-".
result() {
	v=$(sed -n "s/^$2=//p" "$tmp/lat-$1.txt" 2>/dev/null)
	echo "${v:--}"
}

ms() {
	case $1 in
	-) echo - ;;
	*) awk -v us="$1" 'BEGIN { printf "%.3f", us / 1000 }' ;;
	esac
}

hz=$(getconf CLK_TCK)
for t in $TARGETS; do
	TARGET=$t
	backing=$scratch/backing-$t
	mnt=$tmp/mnt-$t
	echo "== $t: export of $FILES files" >&2
	make_export "$backing" "$FILES" || { echo "cannot make the export" >&2; exit 1; }
	view_up "$backing" "$mnt" || exit 1
	seen=$(guarded 300 find "$mnt" -type f 2>"$tmp/find.err" | wc -l)
	if [ "$seen" -ne "$FILES" ]; then
		echo "warning: the mount lists $seen files of $FILES; find said $(wc -l <"$tmp/find.err") times:" >&2
		head -n 1 "$tmp/find.err" | sed 's/^/    /' >&2
	fi
	eval "idle_fsb_$t=n/a idle_ws_$t=n/a"
	if [ -n "$view_pid" ]; then
		rec_start idle "$mnt" || exit 1
		ws=$(pgrep -P "$view_pid" -x winside | head -n 1)
		echo "   idle ${IDLE}s (fsbridge $view_pid, winside ${ws:-?})" >&2
		f0=$(cpu_ticks "$view_pid")
		w0=$(cpu_ticks "${ws:-0}")
		sleep "$IDLE"
		f1=$(cpu_ticks "$view_pid")
		w1=$(cpu_ticks "${ws:-0}")
		stop_watchers
		fmt='BEGIN { printf "%.2f s (%.2f%%)", (b - a) / hz, (b - a) / hz * 100 / s }'
		[ -n "$f0" ] && [ -n "$f1" ] &&
			eval "idle_fsb_$t=\$(awk -v a=$f0 -v b=$f1 -v hz=$hz -v s=$IDLE '$fmt')"
		[ -n "$w0" ] && [ -n "$w1" ] &&
			eval "idle_ws_$t=\$(awk -v a=$w0 -v b=$w1 -v hz=$hz -v s=$IDLE '$fmt')"
	fi
	echo "   latency and burst" >&2
	guarded 900 "$BENCH" "$backing" "$mnt" >"$tmp/lat-$t.txt" ||
		echo "warning: event_latency on $t failed" >&2
	echo "   latency under load" >&2
	load_start "$backing" "$mnt"
	sleep 1         # the compilers are under way
	load_burst "$backing"
	guarded 900 "$BENCH" -b 1 "$backing" "$mnt" >"$tmp/load-$t.txt" ||
		echo "warning: event_latency under load on $t failed" >&2
	load_stop
	sed -n 's/^latency_/loaded_/p' "$tmp/load-$t.txt" >>"$tmp/lat-$t.txt"
	sed 's/^/   /' "$tmp/lat-$t.txt" >&2
	[ -z "$view_pid" ] || events_settled "$mnt" 120 || echo "warning: $t did not settle" >&2
	view_down "$mnt"
	rm -rf "$backing"
done

echo
echo "Change events: backing dir → inotify watcher on the mount ($(uname -r), $(nproc) cores$(grep -q '^SAN_CFLAGS = -f' "$top_builddir/Makefile" 2>/dev/null && echo ', SANITIZER BUILD'))"
echo
# row LABEL CMD...: one table row, a cell per target: `CMD... TARGET`.
row() {
	printf '| %s |' "$1"
	shift
	for t in $TARGETS; do
		printf ' %s |' "$("$@" "$t")"
	done
	echo
}
header="| |"
rule="|---|"
for t in $TARGETS; do
	case $t in bind) header="$header native (bind mount) |" ;; *) header="$header $t |" ;; esac
	rule="$rule---|"
done
first=${TARGETS%% *}
lat_p() {
	case $1 in
	loaded_*) ms "$(result "$2" "${1}_us")" ;;
	*) ms "$(result "$2" "latency_$1_us")" ;;
	esac
}
loaded_delivered() { echo "$(result "$1" loaded_delivered) of $(result "$1" loaded_changes)"; }
delivered() {
	echo "$(result "$1" latency_delivered) of $(result "$1" latency_changes)$(
		[ "$(result "$1" latency_stopped_early)" = 1 ] && echo ' (stopped: nothing came)')"
}
burst() { echo "$(result "$1" burst_delivered) / $(result "$1" burst_lost)"; }
lost_kinds() {
	echo "$(result "$1" burst_lost_create) / $(result "$1" burst_lost_modify) / $(result "$1" burst_lost_delete)"
}
dups() { echo "$(result "$1" burst_duplicates) / $(result "$1" burst_overflows)"; }
last() { ms "$(result "$1" burst_last_event_us)"; }
burst_p() { echo "$(ms "$(result "$1" burst_p50_us)") / $(ms "$(result "$1" burst_p99_us)")"; }
idle() { eval "echo \"\$idle_$1_$2\""; }

echo "$header"
echo "$rule"
row "latency p50 (ms)" lat_p p50
row "latency p99 (ms)" lat_p p99
row "latency: delivered" delivered
row "under load: latency p50 (ms)" lat_p loaded_p50
row "under load: latency p99 (ms)" lat_p loaded_p99
row "under load: delivered" loaded_delivered
row "burst of $(result "$first" burst_changes): delivered / lost" burst
row "burst: lost creates / modifies / deletes" lost_kinds
row "burst: duplicates / queue overflows" dups
row "burst: last event after (ms)" last
row "burst latency p50 / p99 (ms)" burst_p
row "idle CPU of fsbridge over ${IDLE}s, $FILES files" idle fsb
row "idle CPU of winside over ${IDLE}s, $FILES files" idle ws
