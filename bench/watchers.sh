#!/bin/sh
# bench/watchers.sh - 50 watchers of one mount, each in a mount namespace of
# its own on a bind of it (tests/events/watchers.sh at bench size): a burst
# of 10,000 changes behind the mount (5,000 files created, then removed),
# once with every watcher running and once with one of them stopped
# (SIGSTOP) for the burst. Prints per watcher delivered / lost / duplicated
# and the order, and how long after the burst the running watchers had
# everything: the stopped one must not make that longer.
#
# Run from a build directory after `make` (without sanitizers, or the
# figures describe ASan), as root:
#   ../bench/watchers.sh [--changes N] [--watchers N] [--target fsbridge|bind]

set -u

CHANGES=10000
NW=50
TARGET=fsbridge
while [ $# -gt 0 ]; do
	case $1 in
	--changes) CHANGES=$2; shift 2 ;;
	--watchers) NW=$2; shift 2 ;;
	--target) TARGET=$2; shift 2 ;;
	-h | --help) sed -n '2,/^$/s/^# \{0,1\}//p' "$0"; exit 0 ;;
	*) echo "usage: $0 [--changes N] [--watchers N] [--target fsbridge|bind]" >&2; exit 2 ;;
	esac
done
if [ -z "${top_builddir:-}" ]; then
	[ -x ./fsbridge/fsbridge ] || { echo "run from the build directory (or set top_builddir)" >&2; exit 2; }
	top_builddir=$(pwd)
fi
export top_builddir
test=$(dirname "$0")/../tests/events/watchers.sh
rc=0
for stop in 0 1; do
	if [ $stop = 1 ]; then
		echo "## $NW watchers, $CHANGES changes, the last watcher stopped for the burst"
	else
		echo "## $NW watchers, $CHANGES changes, every watcher running"
	fi
	EVENTS_TARGET=$TARGET EVENTS_WATCHERS=$NW EVENTS_WATCHER_CHANGES=$CHANGES \
		EVENTS_STOP_SLOW=$stop EVENTS_SLOW_MAY_OVERFLOW=1 sh "$test" || rc=1
	echo
done
exit $rc
