#!/bin/sh
# tests/posix/automount.sh - `fsbridge automount` keeps every export of a
# server mounted at ROOT/NAME.
#
# A winside serves two named exports and one whose name it makes from the
# folder; automount mounts all three. The server is restarted with one
# export gone and a new one: automount unmounts the first, mounts the
# second, and mounts the others again (their connections died with the
# server). An [export NAME] section of the configuration applies to that
# export's mount. SIGTERM unmounts everything. Nothing is left behind.
# Exit: 0 pass, 1 fail, 77 skip (no usable /dev/fuse, binaries missing).

set -u

. "$(dirname "$0")/lib.sh"

need_fuse
make_tmp automount
export FSBRIDGE_CONFIG="$tmp/fsbridge.conf"
unset FSBRIDGE_SERVER
root=$tmp/auto
ws_pid=
am_pid=

mount_opts() {
	awk -v m="$1" '$2 == m { print $4 }' /proc/self/mounts
}

for d in one two Three-Folder four; do
	mkdir -p "$scratch/$d"
	printf '%s\n' "$d" >"$scratch/$d/which"
done
printf '[export b]\noptions = ro\n' >"$FSBRIDGE_CONFIG"

# until_true SECS CMD...: CMD succeeds within SECS seconds.
until_true() {
	s=$1
	shift
	i=0
	until "$@"; do
		i=$((i + 1))
		[ $i -gt $((s * 10)) ] && return 1
		sleep 0.1
	done
}

reads() {
	[ "$(cat "$root/$1/which" 2>/dev/null)" = "$2" ]
}

gone() {
	! is_mounted "$root/$1"
}

serve_unix --export a="$scratch/one" --export b="$scratch/two" --export "$scratch/Three-Folder" || exit 1
mounts="$root/a $root/b $root/Three-Folder $root/d"
"$FSB" automount --server "unix:$tmp/ws.sock" --token-file "$tmp/token" --root "$root" \
	--interval 1 >"$tmp/am.log" 2>&1 &
am_pid=$!
daemon_pids="$daemon_pids $am_pid"

echo "== every export, mounted at ROOT/NAME"
until_true 20 reads a one && ok "export a is at $root/a" || fail "no $root/a: $(tail -n 5 "$tmp/am.log")"
until_true 20 reads b two && ok "export b is at $root/b" || fail "no $root/b"
until_true 20 reads Three-Folder Three-Folder && ok "a folder's own name: $root/Three-Folder" ||
	fail "no $root/Three-Folder: $(ls "$root" 2>&1)"
case ",$(mount_opts "$root/b")," in
*,ro,*) ok "[export b] options = ro applied to b only" ;;
*) fail "b is not read-only: $(mount_opts "$root/b")" ;;
esac
case ",$(mount_opts "$root/a")," in
*,ro,*) fail "a is read-only too" ;;
esac

echo "== the server comes back with other exports"
kill -TERM "$ws_pid"
wait_gone "$ws_pid" 50
serve_unix --export a="$scratch/one" --export d="$scratch/four" --export "$scratch/Three-Folder" || exit 1
until_true 20 reads d four && ok "a new export d is mounted" || fail "no $root/d: $(tail -n 5 "$tmp/am.log")"
until_true 20 gone b && ok "b, no longer served, is unmounted" || fail "b is still mounted"
until_true 20 reads a one && ok "a works again after the server's restart" ||
	fail "a is broken after the restart: $(cat "$root/a/which" 2>&1)"

echo "== SIGTERM"
kill -TERM "$am_pid"
if wait_gone "$am_pid" 200; then
	wait "$am_pid"
	st=$?
	[ $st = 0 ] && ok "automount exits 0 on SIGTERM" || fail "automount exited with $st"
else
	fail "automount still runs 20 s after SIGTERM"
fi
left=
for m in a b Three-Folder d; do
	is_mounted "$root/$m" && left="$left $m"
done
[ -z "$left" ] && ok "everything it mounted is unmounted" || fail "still mounted:$left"
pgrep -f "fsbridge mount -f --server unix:$tmp/ws.sock" >/dev/null &&
	fail "mount daemons are left" || ok "no mount daemon is left"

if [ $failures -ne 0 ]; then
	echo "   automount's log:"
	tail -n 20 "$tmp/am.log" | sed 's/^/    /'
	echo "$failures check(s) failed"
	exit 1
fi
echo "all automount checks passed"
exit 0
