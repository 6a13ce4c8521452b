#!/bin/sh
# tests/events/fanotify.sh - the fanotify watcher (winside serve
# --watcher=fanotify) against the same checks as the inotify one: parts 1
# (changes behind the mount, on the mount and from another mount
# namespace), 3 (moves across the export's edge, create+write, utimensat
# against touch, compared event by event) and 4 (an overflow of the
# watcher's queue, told as a RESCAN) of conformance.sh, with the private
# winside of every `fsbridge mount --local` told WINSIDE_WATCHER=fanotify.
#
# Where inotify needs a watch per directory of the export, fanotify needs
# one mark on the file system and one descriptor; a watcher that cannot
# start leaves the mount without events, which fails the checks rather
# than passing on inotify.
#
# Needs root (CAP_SYS_ADMIN for FAN_MARK_FILESYSTEM) and Linux 5.17
# (FAN_RENAME); skipped otherwise. Environment: as conformance.sh;
# EVENTS_PARTS (default "1 3 4").
# Exit: 0 pass, 1 fail, 77 skip.

set -u

dir=$(dirname "$0")
if [ "$(id -u)" != 0 ]; then
	echo "SKIP: the fanotify watcher needs root (CAP_SYS_ADMIN)"
	exit 77
fi
if [ ! -d /proc/sys/fs/fanotify ]; then
	echo "SKIP: this kernel has no fanotify"
	exit 77
fi
kver=$(uname -r | sed 's/^\([0-9]*\)\.\([0-9]*\).*/\1 \2/')
set -- $kver
if [ "${1:-0}" -lt 5 ] || { [ "${1:-0}" = 5 ] && [ "${2:-0}" -lt 17 ]; }; then
	echo "SKIP: FAN_RENAME needs Linux 5.17, this is $(uname -r)"
	exit 77
fi
WINSIDE_WATCHER=fanotify
EVENTS_PARTS=${EVENTS_PARTS:-1 3 4}
export WINSIDE_WATCHER EVENTS_PARTS
exec sh "$dir/conformance.sh"
