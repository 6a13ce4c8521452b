#!/bin/sh
# tests/posix/config.sh - /etc/fsbridge.conf as `fsbridge mount` reads it
# ($FSBRIDGE_CONFIG points it at a file of the test's): the server and
# token come from [server], cache, events and options from [mount], the
# command line wins over the file, and a bad file is refused with its
# name, line and reason. Every mount and process goes on every way out.
# Exit: 0 pass, 1 fail, 77 skip (no usable /dev/fuse, binaries missing).

set -u

. "$(dirname "$0")/lib.sh"

need_fuse
make_tmp config
export FSBRIDGE_CONFIG="$tmp/fsbridge.conf"
unset FSBRIDGE_SERVER

mount_opts() {
	awk -v m="$1" '$2 == m { print $4 }' /proc/self/mounts
}

backing=$scratch/backing
mkdir -p "$backing"
printf 'hello\n' >"$backing/f"
serve_unix --export "$backing" || exit 1

cat >"$FSBRIDGE_CONFIG" <<CONF
# fsbridge.conf of the test
[server]
address = unix:$tmp/ws.sock
token_file = $tmp/token

[mount]
cache = strict
events = invalidate
options = noatime
CONF

# mount_with NAME ARGS...: fsbridge mount ARGS EXPORT MNT-NAME in the
# foreground as our job; the log in $tmp/NAME.log.
mount_with() {
	name=$1
	shift
	m=$tmp/m-$name
	mkdir -p "$m"
	mounts="$mounts $m"
	"$FSB" mount -f "$@" "$backing" "$m" 2>"$tmp/$name.log" &
	mount_pid=$!
	daemon_pids="$daemon_pids $mount_pid"
	i=0
	while ! is_mounted "$m"; do
		i=$((i + 1))
		if [ $i -gt 100 ] || ! kill -0 "$mount_pid" 2>/dev/null; then
			fail "$name: no mount: $(cat "$tmp/$name.log")"
			return 1
		fi
		sleep 0.1
	done
}

echo "== the server, the token and the mount options from the file"
if mount_with file; then
	ok "mounted with no --server and no --token-file"
	[ "$(cat "$tmp/m-file/f")" = hello ] && ok "the export reads through it" ||
		fail "reading through the mount"
	case ",$(mount_opts "$tmp/m-file")," in
	*,noatime,*) ok "options = noatime applied" ;;
	*) fail "no noatime: $(mount_opts "$tmp/m-file")" ;;
	esac
	grep -q "cache=strict, events=invalidate" "$tmp/file.log" &&
		ok "cache and events from [mount]" ||
		fail "cache/events not from the file: $(grep mounted "$tmp/file.log")"
	stop_mount "$tmp/m-file" "$mount_pid" "$tmp/file.log"
fi

echo "== the command line wins"
if mount_with cli --cache=coherent -o events=replay; then
	grep -q "cache=coherent, events=replay" "$tmp/cli.log" &&
		ok "--cache and -o events= override the file" ||
		fail "the file won over the command line: $(grep mounted "$tmp/cli.log")"
	stop_mount "$tmp/m-cli" "$mount_pid" "$tmp/cli.log"
fi

echo "== a bad file"
printf '[server]\naddress = unix:/x\n[mount]\ncache = fast\n' >"$FSBRIDGE_CONFIG"
mkdir -p "$tmp/m-bad"
if "$FSB" mount "$backing" "$tmp/m-bad" >"$tmp/bad.out" 2>&1; then
	fail "a bad cache mode in the file was accepted"
	unmount_hard "$tmp/m-bad"
elif grep -q "fsbridge.conf:4: cache is coherent, strict or none" "$tmp/bad.out"; then
	ok "refused with file and line: $(cat "$tmp/bad.out")"
else
	fail "a bad file, refused without saying where: $(cat "$tmp/bad.out")"
fi
printf '[sever]\n' >"$FSBRIDGE_CONFIG"
if "$FSB" mount "$backing" "$tmp/m-bad" >"$tmp/bad.out" 2>&1; then
	fail "an unknown section was accepted"
	unmount_hard "$tmp/m-bad"
else
	grep -q "fsbridge.conf:1: sections are" "$tmp/bad.out" && ok "unknown section: $(cat "$tmp/bad.out")" ||
		fail "unknown section: $(cat "$tmp/bad.out")"
fi

if [ $failures -ne 0 ]; then
	echo "$failures check(s) failed"
	exit 1
fi
echo "all configuration checks passed"
exit 0
