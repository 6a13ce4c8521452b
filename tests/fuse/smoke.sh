#!/bin/sh
# tests/fuse/smoke.sh - mount fsbridge on a real FUSE mount and poke it.
#
# Mounts `fsbridge mount --local` (private winside) on a temp dir, runs the
# basic file operations through it and compares with the backing directory,
# checks the CLI's error messages, and always unmounts and kills what it
# started, whatever happens. Every step runs under `timeout`.
# Exit: 0 pass, 1 fail, 77 skip (no usable /dev/fuse, or no winside yet).

set -u

top_builddir=${top_builddir:-$(cd "$(dirname "$0")/../.." && pwd)}
FSB=$top_builddir/fsbridge/fsbridge
WINSIDE=${FSBRIDGE_WINSIDE:-$top_builddir/winside/winside}
STEP=15         # seconds any single step may take
CACHE=${FSB_SMOKE_CACHE:-strict}    # cache mode of the main mount

skip() { echo "SKIP: $*"; exit 77; }

[ -x "$FSB" ] || { echo "FAIL: $FSB not built"; exit 1; }
[ -x "$WINSIDE" ] || skip "winside not built ($WINSIDE)"
[ -c /dev/fuse ] || skip "/dev/fuse missing"
( exec 3<>/dev/fuse ) 2>/dev/null || skip "/dev/fuse not usable here"
if [ "$(id -u)" != 0 ] && ! command -v fusermount3 >/dev/null; then
	skip "not root and no fusermount3"
fi
export FSBRIDGE_WINSIDE="$WINSIDE"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/fsb-smoke.XXXXXX") || exit 1
backing=$tmp/backing
mnt=$tmp/mnt
mnt2=$tmp/mnt2
mkdir -p "$backing" "$mnt" "$mnt2"
daemon_pid=
server_pid=
failures=0

is_mounted() {
	awk -v m="$1" '$2 == m { found = 1 } END { exit !found }' /proc/self/mounts
}

unmount_hard() {
	if is_mounted "$1"; then
		timeout -k 2 "$STEP" fusermount3 -u "$1" 2>/dev/null ||
			timeout -k 2 "$STEP" umount -l "$1" 2>/dev/null
	fi
}

cleanup() {
	trap - EXIT INT TERM
	unmount_hard "$mnt"
	unmount_hard "$mnt2"
	for p in $daemon_pid $(pgrep -f "fsbridge mount.*$tmp" 2>/dev/null) $server_pid; do
		kill "$p" 2>/dev/null
	done
	sleep 0.3
	for p in $daemon_pid $(pgrep -f "fsbridge mount.*$tmp" 2>/dev/null) $server_pid; do
		kill -9 "$p" 2>/dev/null
	done
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fail() {
	echo "FAIL: $*"
	failures=$((failures + 1))
}

ok() {
	echo "ok: $*"
}

# check NAME CMD...: CMD must succeed within $STEP seconds.
check() {
	name=$1
	shift
	if timeout -k 2 "$STEP" "$@" >"$tmp/out" 2>&1; then
		ok "$name"
	else
		fail "$name: $* -> $(head -c 400 "$tmp/out")"
	fi
}

# same NAME EXPECTED CMD...: CMD's stdout must equal EXPECTED.
same() {
	name=$1
	want=$2
	shift 2
	got=$(timeout -k 2 "$STEP" "$@" 2>&1)
	if [ "$got" = "$want" ]; then
		ok "$name"
	else
		fail "$name: $* gave '$got', expected '$want'"
	fi
}

# err NAME PATTERN CMD...: CMD must fail and say PATTERN on stderr.
err() {
	name=$1
	pat=$2
	shift 2
	if timeout -k 2 "$STEP" "$@" >"$tmp/out" 2>&1; then
		fail "$name: $* succeeded"
		unmount_hard "$mnt2"
	elif grep -q -- "$pat" "$tmp/out"; then
		ok "$name: $(head -n 1 "$tmp/out")"
	else
		fail "$name: expected '$pat', got: $(cat "$tmp/out")"
	fi
}

wait_mounted() {
	i=0
	while ! is_mounted "$1"; do
		i=$((i + 1))
		[ $i -gt 100 ] && return 1
		if [ -n "${2:-}" ] && ! kill -0 "$2" 2>/dev/null; then
			return 1
		fi
		sleep 0.1
	done
}

# ---- mount (strict mode by default, foreground daemon in the background) ---

printf 'hello\n' > "$backing/pre.txt"
mkdir "$backing/predir"
printf 'inner\n' > "$backing/predir/inner.txt"

"$FSB" mount -f --local --cache="$CACHE" "$backing" "$mnt" 2>"$tmp/daemon.log" &
daemon_pid=$!
if ! wait_mounted "$mnt" "$daemon_pid"; then
	echo "FAIL: mount did not appear; daemon log:"
	cat "$tmp/daemon.log"
	exit 1
fi
ok "mounted $mnt"
winside_child=$(pgrep -P "$daemon_pid" 2>/dev/null | head -n 1)

same "ls" "pre.txt predir" sh -c "ls '$mnt' | tr '\n' ' ' | sed 's/ \$//'"
same "cat" "hello" cat "$mnt/pre.txt"
same "cat in subdir" "inner" cat "$mnt/predir/inner.txt"

check "write" sh -c "printf 'written through fuse\n' > '$mnt/new.txt'"
same "read back" "written through fuse" cat "$mnt/new.txt"
same "backing has it" "written through fuse" cat "$backing/new.txt"
check "append" sh -c "printf 'more\n' >> '$mnt/new.txt'"
same "append landed" "2" sh -c "wc -l < '$backing/new.txt'"

check "big write" dd if=/dev/urandom of="$tmp/big" bs=1M count=3 status=none
check "big copy in" cp "$tmp/big" "$mnt/big"
check "big compare (backing)" cmp "$tmp/big" "$backing/big"
check "big compare (mount)" cmp "$tmp/big" "$mnt/big"
same "stat size" "3145728" stat -c %s "$mnt/big"

check "mkdir" mkdir "$mnt/d1"
check "mkdir visible in backing" test -d "$backing/d1"
check "rmdir" rmdir "$mnt/d1"
check "rmdir gone in backing" test ! -e "$backing/d1"

check "rename" mv "$mnt/new.txt" "$mnt/renamed.txt"
check "rename old gone" test ! -e "$mnt/new.txt"
same "rename new there" "written through fuse" head -n 1 "$mnt/renamed.txt"
check "rename in backing" test -f "$backing/renamed.txt"

check "symlink" ln -s renamed.txt "$mnt/link"
same "readlink" "renamed.txt" readlink "$mnt/link"
same "read via symlink" "written through fuse" head -n 1 "$mnt/link"

check "hard link" ln "$mnt/renamed.txt" "$mnt/hard"
same "hard link count" "2" stat -c %h "$mnt/renamed.txt"
same "hard link same inode" "$(stat -c %i "$mnt/renamed.txt" 2>/dev/null)" stat -c %i "$mnt/hard"

check "chmod" chmod 600 "$mnt/renamed.txt"
same "chmod visible" "600" stat -c %a "$mnt/renamed.txt"
same "chmod in backing" "600" stat -c %a "$backing/renamed.txt"

check "truncate" truncate -s 5 "$mnt/renamed.txt"
same "truncate size" "5" stat -c %s "$mnt/renamed.txt"
same "truncate in backing" "5" stat -c %s "$backing/renamed.txt"

check "unlink" rm "$mnt/hard"
check "unlink in backing" test ! -e "$backing/hard"

check "df" df "$mnt"
check "touch" touch -d '2001-02-03 04:05:06' "$mnt/pre.txt"
same "utimens" "2001-02-03" sh -c "stat -c %y '$mnt/pre.txt' | cut -c1-10"

# Created behind the mount's back: visible on a first lookup, and in a
# listing once the 1 s strict timeouts have run out.
printf 'late\n' > "$backing/late.txt"
same "backing-created file (lookup)" "late" cat "$mnt/late.txt"
if [ "$CACHE" = strict ]; then
	printf 'later\n' > "$backing/later.txt"
	sleep 1.2
	same "backing-created file (readdir)" "later.txt" sh -c "ls '$mnt' | grep later"
	printf 'grown content\n' > "$backing/late.txt"
	sleep 1.2
	same "backing-modified file (strict)" "grown content" cat "$mnt/late.txt"
fi

err "busy mountpoint" "busy" "$FSB" mount -f --local "$backing" "$mnt"

# ---- umount releases the mount, the daemon and its private winside exit ---

check "umount" "$FSB" umount "$mnt"
check "mount gone" sh -c "! awk -v m='$mnt' '\$2 == m { f = 1 } END { exit !f }' /proc/self/mounts"
i=0
while kill -0 "$daemon_pid" 2>/dev/null && [ $i -lt 100 ]; do
	sleep 0.1
	i=$((i + 1))
done
if kill -0 "$daemon_pid" 2>/dev/null; then
	fail "daemon $daemon_pid still running after umount"
else
	wait "$daemon_pid"
	rc=$?
	[ $rc -eq 0 ] && ok "daemon exited 0" || fail "daemon exit status $rc"
	daemon_pid=
fi
if [ -n "$winside_child" ] && kill -0 "$winside_child" 2>/dev/null; then
	fail "private winside $winside_child survived the daemon"
else
	ok "private winside reaped"
fi
if grep -q "ERROR\|AddressSanitizer\|runtime error" "$tmp/daemon.log"; then
	fail "daemon log has errors: $(cat "$tmp/daemon.log")"
fi

# ---- background mode (default cache), then SIGTERM unmounts ----------------

check "background mount" "$FSB" mount --local "$backing" "$mnt"
if is_mounted "$mnt"; then
	ok "background mount is up"
	same "coherent cat" "hello" cat "$mnt/pre.txt"
	check "coherent write" sh -c "printf 'x\n' > '$mnt/bg.txt' && test -f '$backing/bg.txt'"
	printf 'neg\n' > "$backing/never-looked-up.txt"
	same "coherent first lookup" "neg" cat "$mnt/never-looked-up.txt"
	bg=$(pgrep -f "fsbridge mount --local $backing $mnt" | head -n 1)
	if [ -n "$bg" ]; then
		kill -TERM "$bg"
		i=0
		while is_mounted "$mnt" && [ $i -lt 100 ]; do
			sleep 0.1
			i=$((i + 1))
		done
		is_mounted "$mnt" && fail "SIGTERM did not unmount" || ok "SIGTERM unmounted"
	else
		fail "background daemon not found"
	fi
else
	fail "background mount is not up"
fi

# ---- error cases -----------------------------------------------------------

err "missing mountpoint" "does not exist" "$FSB" mount -f --local "$backing" "$tmp/nope"
printf 'x' > "$tmp/afile"
err "mountpoint not a directory" "not a directory" "$FSB" mount -f --local "$backing" "$tmp/afile"
printf 'nottherighttoken\n' > "$tmp/badtoken"
chmod 600 "$tmp/badtoken"
# The server's real token: 64 random hex digits, private to the user.
(umask 077 && od -An -N32 -tx1 /dev/urandom | tr -d ' \n' > "$tmp/token" && echo >> "$tmp/token")
err "unreachable server" "cannot connect to unix:$tmp/nosock" \
	"$FSB" mount -f --server "unix:$tmp/nosock" --token-file "$tmp/badtoken" /x "$mnt2"

"$WINSIDE" serve --export "$backing" --listen "unix:$tmp/ws.sock" \
	--token-file "$tmp/token" >"$tmp/ws.out" 2>&1 &
server_pid=$!
i=0
while ! grep -q "listening on" "$tmp/ws.out" 2>/dev/null && [ $i -lt 100 ]; do
	sleep 0.1
	i=$((i + 1))
done
if grep -q "listening on" "$tmp/ws.out"; then
	err "bad token" "rejected the token" "$FSB" mount -f --server "unix:$tmp/ws.sock" \
		--token-file "$tmp/badtoken" "$backing" "$mnt2"
	err "unknown export" "has no export" "$FSB" mount -f --server "unix:$tmp/ws.sock" \
		--token-file "$tmp/token" "$tmp/no-such-export" "$mnt2"
	# And the same server, with the right token and export, mounts.
	"$FSB" mount -f --server "unix:$tmp/ws.sock" --token-file "$tmp/token" \
		"$backing" "$mnt2" 2>"$tmp/daemon2.log" &
	daemon_pid=$!
	if wait_mounted "$mnt2" "$daemon_pid"; then
		same "external server mount" "hello" cat "$mnt2/pre.txt"
		check "umount external" "$FSB" umount "$mnt2"
		timeout 10 sh -c "while kill -0 $daemon_pid 2>/dev/null; do sleep 0.1; done" &&
			ok "daemon exited" || fail "daemon did not exit"
		daemon_pid=
	else
		fail "mount against an external server: $(cat "$tmp/daemon2.log")"
	fi
else
	fail "winside did not start: $(cat "$tmp/ws.out")"
fi

if [ $failures -ne 0 ]; then
	echo "$failures check(s) failed; daemon log:"
	cat "$tmp/daemon.log"
	exit 1
fi
echo "all checks passed"
exit 0
