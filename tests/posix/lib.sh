# tests/posix/lib.sh - shared by posix.sh and tools.sh (sourced, not run).
#
# Finds the binaries, decides whether FUSE is usable here (else exit 77),
# makes a scratch tmpfs, mounts `fsbridge mount --local` in the foreground
# as a background job (so its pid and its log are ours), and guarantees that
# every mount, every daemon and every private winside is gone on every way
# out: normal exit, failure, timeout, INT or TERM.

: "${top_builddir:=$(cd "$(dirname "$0")/../.." && pwd)}"
FSB=$top_builddir/fsbridge/fsbridge
WINSIDE=${FSBRIDGE_WINSIDE:-$top_builddir/winside/winside}
STEP=${FSB_TEST_STEP:-30}       # seconds a mount, an umount or a small step may take

failures=0
job_pid=
mounts=
daemon_pids=
tmp=
scratch=
scratch_is_tmpfs=0

skip() {
	echo "SKIP: $*"
	exit 77
}

fail() {
	echo "FAIL: $*"
	failures=$((failures + 1))
}

ok() {
	echo "ok: $*"
}

# need_fuse: exit 77 unless fsbridge, winside and a usable /dev/fuse are here.
need_fuse() {
	[ -x "$FSB" ] || skip "fsbridge not built ($FSB)"
	[ -x "$WINSIDE" ] || skip "winside not built ($WINSIDE)"
	[ -c /dev/fuse ] || skip "/dev/fuse missing"
	( exec 3<>/dev/fuse ) 2>/dev/null || skip "/dev/fuse not usable here"
	if [ "$(id -u)" != 0 ] && ! command -v fusermount3 >/dev/null 2>&1; then
		skip "not root and no fusermount3"
	fi
	command -v timeout >/dev/null 2>&1 || skip "timeout(1) missing"
	export FSBRIDGE_WINSIDE="$WINSIDE"
}

is_mounted() {
	awk -v m="$1" '$2 == m { found = 1 } END { exit !found }' /proc/self/mounts
}

# make_tmp NAME: a temp dir for the test, and a scratch dir on tmpfs inside
# it (a private tmpfs when root may mount one, else a dir under /dev/shm) so
# that native runs and fsbridge's backing dirs sit on the same file system.
make_tmp() {
	tmp=$(mktemp -d "${TMPDIR:-/tmp}/fsb-$1.XXXXXX") || exit 99
	trap cleanup EXIT
	# The trap may run inside a redirected step: speak on the saved stdout.
	exec 7>&1
	trap 'echo "interrupted" >&7; exit 130' INT TERM
	scratch=$tmp/fs
	mkdir "$scratch" || exit 99
	if [ "$(id -u)" = 0 ] &&
		timeout "$STEP" mount -t tmpfs -o size=8g,mode=0755 "fsb-$1" "$scratch" 2>/dev/null; then
		scratch_is_tmpfs=1
	elif [ -d /dev/shm ] && [ -w /dev/shm ]; then
		rmdir "$scratch"
		scratch=$(mktemp -d "/dev/shm/fsb-$1.XXXXXX") || exit 99
	else
		echo "note: no tmpfs available, native runs use $scratch"
	fi
}

unmount_hard() {
	is_mounted "$1" || return 0
	timeout -k 2 "$STEP" "$FSB" umount "$1" >/dev/null 2>&1
	is_mounted "$1" || return 0
	timeout -k 2 "$STEP" fusermount3 -u -z "$1" >/dev/null 2>&1
	is_mounted "$1" || return 0
	timeout -k 2 "$STEP" umount -l "$1" >/dev/null 2>&1
	! is_mounted "$1"
}

# wait_gone PID TENTHS: until PID has exited, for at most TENTHS tenths of
# a second; 0 once it is gone.
wait_gone() {
	i=0
	while kill -0 "$1" 2>/dev/null; do
		[ $i -ge "$2" ] && return 1
		sleep 0.1
		i=$((i + 1))
	done
	return 0
}

# serve_unix ARGS...: a winside of our own on $tmp/ws.sock with the token
# $tmp/token (made if missing), serving ARGS (--export ...); sets ws_pid,
# returns once it listens. Its output is in $tmp/ws.out and $tmp/ws.err.
serve_unix() {
	if [ ! -f "$tmp/token" ]; then
		od -An -tx1 -N32 /dev/urandom | tr -d ' \n' >"$tmp/token"
		chmod 600 "$tmp/token"
	fi
	: >"$tmp/ws.out"
	"$WINSIDE" serve --listen "unix:$tmp/ws.sock" --token-file "$tmp/token" "$@" \
		>"$tmp/ws.out" 2>>"$tmp/ws.err" &
	ws_pid=$!
	daemon_pids="$daemon_pids $ws_pid"
	i=0
	until grep -q listening "$tmp/ws.out" 2>/dev/null; do
		i=$((i + 1))
		if [ $i -gt 100 ] || ! kill -0 "$ws_pid" 2>/dev/null; then
			fail "winside did not start: $(tail -n 3 "$tmp/ws.err")"
			return 1
		fi
		sleep 0.1
	done
}

# Our own processes only: every daemon we started, and anything still
# running with our temp paths on its command line (a private winside).
our_pids() {
	# shellcheck disable=SC2086
	echo $daemon_pids
	pgrep -f "(fsbridge|winside).*($tmp|$scratch)" 2>/dev/null
}

# guarded SECONDS CMD...: CMD under timeout, waited for in a way that INT
# and TERM interrupt (a foreground child would delay the trap until it ends).
guarded() {
	s=$1
	shift
	timeout -k 5 "$s" "$@" &
	job_pid=$!
	wait $job_pid
	rc=$?
	job_pid=
	return $rc
}

cleanup() {
	rc=$?
	trap - EXIT INT TERM
	if [ -n "$job_pid" ]; then
		kill "$job_pid" 2>/dev/null
		sleep 0.2
	fi
	for m in $mounts; do
		unmount_hard "$m" || echo "warning: could not unmount $m"
	done
	pids=$(our_pids | sort -u)
	if [ -n "$pids" ]; then
		# shellcheck disable=SC2086
		kill $pids 2>/dev/null
		sleep 0.5
		# shellcheck disable=SC2046
		kill -9 $(our_pids | sort -u) 2>/dev/null
	fi
	busy=0
	for m in $mounts; do
		is_mounted "$m" && busy=1
	done
	if [ $busy = 1 ]; then
		echo "warning: leaving $tmp in place: a mount is still there"
	else
		[ -n "$scratch" ] && case $scratch in /dev/shm/*) rm -rf --one-file-system "$scratch" ;; esac
		if [ $scratch_is_tmpfs = 1 ]; then
			timeout -k 2 "$STEP" umount "$scratch" 2>/dev/null ||
				timeout -k 2 "$STEP" umount -l "$scratch" 2>/dev/null
		fi
		is_mounted "$scratch" || rm -rf --one-file-system "$tmp"
	fi
	exit $rc
}

# start_mount BACKING MOUNTPOINT LOG [fsbridge mount options...]
# Mounts in the foreground as our background job; sets $mount_pid.
start_mount() {
	b=$1
	m=$2
	log=$3
	shift 3
	mkdir -p "$b" "$m"
	mounts="$mounts $m"
	"$FSB" mount -f --local "$@" "$b" "$m" 2>"$log" &
	mount_pid=$!
	daemon_pids="$daemon_pids $mount_pid"
	i=0
	while ! is_mounted "$m"; do
		i=$((i + 1))
		if [ $i -gt $((STEP * 10)) ] || ! kill -0 "$mount_pid" 2>/dev/null; then
			fail "mount of $m did not come up; daemon log:"
			sed 's/^/    /' "$log"
			return 1
		fi
		sleep 0.1
	done
}

# stop_mount MOUNTPOINT PID LOG: fsbridge umount, the daemon exits 0, and its
# log shows no sanitizer report.
stop_mount() {
	if ! timeout -k 2 "$STEP" "$FSB" umount "$1" >"$tmp/umount.out" 2>&1; then
		fail "fsbridge umount $1: $(cat "$tmp/umount.out")"
		unmount_hard "$1"
	fi
	reap_daemon "$@"
}

# reap_daemon MOUNTPOINT PID LOG: once MOUNTPOINT is unmounted, however that
# was done, the daemon exits 0 and its log shows no sanitizer report.
reap_daemon() {
	m=$1
	p=$2
	log=$3
	i=0
	while kill -0 "$p" 2>/dev/null && [ $i -lt $((STEP * 10)) ]; do
		sleep 0.1
		i=$((i + 1))
	done
	if kill -0 "$p" 2>/dev/null; then
		fail "daemon $p still running ${STEP}s after umount; its threads wait in:"
		for t in /proc/"$p"/task/*; do
			echo "    $(cat "$t/comm" 2>/dev/null) $(cat "$t/wchan" 2>/dev/null)" \
				"$(head -n 3 "$t/stack" 2>/dev/null | tr '\n' ' ')"
		done
		echo "  daemon log (last 15 lines):"
		tail -n 15 "$log" | sed 's/^/    /'
		kill -9 "$p" 2>/dev/null
	fi
	wait "$p"
	st=$?
	# Reaped: its pid may be reused, so it is no longer ours to kill.
	daemon_pids=$(echo " $daemon_pids " | sed "s/ $p / /")
	[ $st -eq 0 ] || fail "daemon for $m exited with status $st"
	if grep -q "AddressSanitizer\|LeakSanitizer\|runtime error\|ERROR" "$log"; then
		fail "daemon log for $m reports errors:"
		grep -n -m 20 "AddressSanitizer\|LeakSanitizer\|runtime error\|ERROR" "$log" | sed 's/^/    /'
	fi
}
