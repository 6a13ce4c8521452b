# tests/events/lib.sh - shared by conformance.sh, clients.sh and
# bench/events.sh (sourced, not run). Builds on tests/posix/lib.sh, which
# finds the binaries, makes the scratch tmpfs, mounts fsbridge and cleans up.
#
# The "view" is the directory watchers look at: an `fsbridge mount --local`
# of the backing dir (EVENTS_TARGET=fsbridge, the default; extra mount
# options in EVENTS_MOUNT_OPTS), or a plain `mount --bind` of it
# (EVENTS_TARGET=bind). A bind mount shares the backing dir's inodes, so
# its watchers get exactly the backing dir's events: every check must pass
# there. That is the harness's self-check, usable before the feature exists.
#
# The caller sets EVENTS_LIB_DIR to the folder of this file before sourcing.
# Every recorder and client started here is stopped, and every bind mount
# undone, on every way out (before tests/posix/lib.sh's cleanup unmounts).

. "$EVENTS_LIB_DIR/../posix/lib.sh"

TARGET=${EVENTS_TARGET:-fsbridge}
# The real watcher clients, installed once with npm and shared by the tests
# that run them (clients.sh here, tests/docker inside containers).
NODE_DIR=$top_builddir/tests/events/node-clients
PINS='"chokidar": "3.6.0", "webpack": "5.97.1", "webpack-cli": "5.1.4"'
WAIT=${EVENTS_CLIENT_WAIT:-5}
EVREC=$top_builddir/tests/events/evrec
MOUNT_OPTS=${EVENTS_MOUNT_OPTS:-}
watchers=       # recorders and clients we started, all ours to kill
binds=          # bind mounts made for a self-check view
view_pid=
view_log=

# need_target: exit 77 unless the chosen view can be made here.
need_target() {
	case $TARGET in
	fsbridge) need_fuse ;;
	bind)
		[ "$(id -u)" = 0 ] || skip "EVENTS_TARGET=bind needs root (mount --bind)"
		command -v timeout >/dev/null 2>&1 || skip "timeout(1) missing" ;;
	*)
		echo "EVENTS_TARGET must be fsbridge or bind, not '$TARGET'"
		exit 99 ;;
	esac
	[ -x "$EVREC" ] || skip "evrec not built ($EVREC)"
}

# events_tmp NAME: make_tmp, with our own cleanup in front of its cleanup.
events_tmp() {
	make_tmp "$1"
	trap events_cleanup EXIT
}

stop_watchers() {
	[ -n "$watchers" ] || return 0
	# shellcheck disable=SC2086
	kill -TERM $watchers 2>/dev/null
	for p in $watchers; do
		wait_gone "$p" 50
		kill -KILL "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	watchers=
}

events_cleanup() {
	rc=$?
	trap - EXIT INT TERM
	# Watchers first: a recorder in another mount namespace holds a bind
	# of the mount, which would keep the FUSE connection alive.
	stop_watchers
	for b in $binds; do
		timeout -k 2 "$STEP" umount "$b" 2>/dev/null ||
			timeout -k 2 "$STEP" umount -l "$b" 2>/dev/null
	done
	binds=
	(exit $rc)
	cleanup
}

# view_up BACKING VIEW: make VIEW show BACKING (see the header).
view_up() {
	mkdir -p "$1" "$2"
	case $TARGET in
	bind)
		if ! timeout -k 2 "$STEP" mount --bind "$1" "$2"; then
			fail "mount --bind $1 $2"
			return 1
		fi
		binds="$binds $2"
		view_pid= ;;
	*)
		view_log=$tmp/daemon-$(basename "$2").log
		# shellcheck disable=SC2086
		start_mount "$1" "$2" "$view_log" $MOUNT_OPTS || return 1
		view_pid=$mount_pid ;;
	esac
}

# view_down VIEW: unmount it; for fsbridge, the daemon must exit cleanly.
view_down() {
	case $TARGET in
	bind)
		timeout -k 2 "$STEP" umount "$1" || fail "umount $1"
		binds=$(echo " $binds " | sed "s# $1 # #") ;;
	*)
		stop_mount "$1" "$view_pid" "$view_log" ;;
	esac
}

# wait_line FILE PATTERN SECS [PID]: until FILE has a line matching the
# extended regexp PATTERN; 1 after SECS seconds or once PID is gone.
wait_line() {
	i=0
	while ! grep -Eq -- "$2" "$1" 2>/dev/null; do
		i=$((i + 1))
		[ $i -gt $(($3 * 10)) ] && return 1
		if [ -n "${4:-}" ] && ! kill -0 "$4" 2>/dev/null; then
			grep -Eq -- "$2" "$1" 2>/dev/null
			return
		fi
		sleep 0.1
	done
}

# rec_start NAME DIR [FLAG]: evrec -t [FLAG] on DIR in the background, its
# lines in $tmp/NAME.ev; returns once every watch is set.
rec_start() {
	"$EVREC" -t ${3:+"$3"} "$2" >"$tmp/$1.ev" 2>"$tmp/$1.err" &
	rec_ready "$1" $!
}

# rec_start_ns NAME DIR [FLAG]: the same from a new mount namespace that sees DIR
# through a bind mount of its own, as a container given `-v DIR:/app`
# does. unshare makes the namespace's mounts private, and the exec keeps
# one process: killing it ends the namespace and its bind mount.
# A new namespace starts with a copy of every mount there is, and a FUSE
# mount copied into it lives on until the namespace ends: its daemon would
# not hear of an umount made meanwhile by another test running alongside
# (make -j check), and would wait for as long as the recorder lives. So
# every FUSE mount but the recorder's own view is detached in there first.
rec_start_ns() {
	mkdir -p "$tmp/$1.view"
	unshare -m sh -c 'mount --bind "$1" "$2" || exit 1
		awk -v keep="$2" '"'"'$3 ~ /^fuse/ && $2 != keep { print $2 }'"'"' /proc/self/mounts |
			sort -r | while read -r m; do umount -l "$m" 2>/dev/null; done
		exec "$3" -t $4 "$2"' evrec-ns \
		"$2" "$tmp/$1.view" "$EVREC" "${3:-}" >"$tmp/$1.ev" 2>"$tmp/$1.err" &
	rec_ready "$1" $!
}

rec_ready() {
	watchers="$watchers $2"
	if ! wait_line "$tmp/$1.ev" '^READY$' "$STEP" "$2"; then
		fail "recorder $1 did not get ready: $(cat "$tmp/$1.err")"
		return 1
	fi
}

# wait_quiet TENTHS MAXSECS FILE...: until the FILEs together have not
# grown for TENTHS tenths of a second, or MAXSECS have passed.
wait_quiet() {
	q=$1
	max=$(($2 * 10))
	shift 2
	last=-1
	still=0
	i=0
	while [ $i -lt $max ] && [ $still -lt "$q" ]; do
		sleep 0.1
		i=$((i + 1))
		now=$(cat "$@" 2>/dev/null | wc -c)
		if [ "$now" = "$last" ]; then
			still=$((still + 1))
		else
			still=0
			last=$now
		fi
	done
}

# now_ms: a monotonic-enough wall clock in milliseconds.
now_ms() {
	echo $(($(date +%s%N) / 1000000))
}

# client_start NAME READY SECS CMD...: CMD in the background, its output
# in $tmp/NAME.out; returns once it printed a line matching READY, within
# SECS seconds.
client_start() {
	name=$1
	pattern=$2
	secs=$3
	shift 3
	"$@" >"$tmp/$name.out" 2>&1 &
	client_pid=$!
	watchers="$watchers $client_pid"
	if ! wait_line "$tmp/$name.out" "$pattern" "$secs" "$client_pid"; then
		fail "$name did not start; its output:"
		tail -n 20 "$tmp/$name.out" | sed 's/^/    /'
		return 1
	fi
}

# expect NAME WHAT PATTERN [SECS]: NAME's output gets a line matching
# PATTERN within SECS (default $WAIT) seconds of now; says how long it took.
expect() {
	secs=${4:-$WAIT}
	t0=$(now_ms)
	if wait_line "$tmp/$1.out" "$3" "$secs"; then
		ok "$1: $2 ($(($(now_ms) - t0)) ms)"
	else
		fail "$1: $2: no line matching '$3' within ${secs}s; it printed:"
		tail -n 10 "$tmp/$1.out" | sed 's/^/    /'
	fi
}

# node_clients: the pinned packages in $NODE_DIR, installed if missing.
node_clients() {
	[ -f "$NODE_DIR/installed" ] && [ "$(cat "$NODE_DIR/installed")" = "$PINS" ] && return 0
	command -v npm >/dev/null 2>&1 || return 1
	rm -rf "$NODE_DIR"
	mkdir -p "$NODE_DIR" || return 1
	printf '{ "name": "fsbridge-event-clients", "private": true,\n  "dependencies": { %s } }\n' \
		"$PINS" >"$NODE_DIR/package.json"
	echo "   installing $PINS into $NODE_DIR"
	guarded 300 sh -c 'cd "$1" && npm_config_cache="$1/.npm-cache" \
		npm_config_update_notifier=false \
		npm install --no-audit --no-fund --loglevel=error' sh "$NODE_DIR" \
		>"$tmp/npm.out" 2>&1 || {
		tail -n 5 "$tmp/npm.out" | sed 's/^/    /'
		return 1
	}
	echo "$PINS" >"$NODE_DIR/installed"
}

# events_settled MNT [SECS]: until the daemon of MNT has handled every
# change event it received and none came for half a second (at most SECS,
# default 10): a barrier for checks that read right after a burst of
# changes behind the mount, while its replay may still be catching up.
events_settled() {
	last=
	i=0
	while [ $i -lt $((${2:-10} * 10)) ]; do
		now=$("$FSB" stats "$1" 2>/dev/null)
		case $now in
		*"pending 0"*) [ "$now" = "$last" ] && [ $((i % 5)) = 4 ] && return 0 ;;
		esac
		[ $((i % 5)) = 4 ] && last=$now
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}
