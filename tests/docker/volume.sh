#!/bin/sh
# tests/docker/volume.sh - `fsbridge volume-plugin` as Docker's volume
# driver, against a real engine (tests/docker/lib.sh).
#
# A winside serves a folder on a Unix socket with a token; the plugin is
# registered under a name of its own in /run/docker/plugins. Then, through
# `docker volume` and `docker run -v NAME:/app`: bad options and a missing
# export are refused with the plugin's own message; a watcher in one
# container sees changes made in the served folder while a second container
# writes to the same volume (its files arrive with its --user); the export
# stays mounted while any container has it and is unmounted after the last;
# a restarted plugin takes its mount back; an unreachable server fails
# `docker run` with a message that says so. Every container, the engine,
# the plugin, the server and every mount are gone on every way out.
# Exit: 0 pass, 1 fail, 77 skip (not root, no Docker engine, no FUSE, no node).

set -u

EVENTS_LIB_DIR=$(cd "$(dirname "$0")/../events" && pwd)
. "$EVENTS_LIB_DIR/lib.sh"
. "$(dirname "$0")/lib.sh"

DWAIT=${DOCKER_WAIT:-2}
PLUGIN=fsbtest$$
PSOCK=/run/docker/plugins/$PLUGIN.sock
plugin_pid=

need_docker
need_fuse
docker_tmp volume
chmod 755 "$tmp"
trap volume_cleanup EXIT

volume_cleanup() {
	rc=$?
	docker_down
	stop_plugin
	rm -f "$PSOCK"
	for m in "$tmp"/vmnt/*; do
		[ -d "$m" ] && unmount_hard "$m"
	done
	(exit $rc)
	events_cleanup
}

start_plugin() {
	"$FSB" volume-plugin --debug --socket "$PSOCK" --state-dir "$tmp/vstate" \
		--mount-root "$tmp/vmnt" >>"$tmp/plugin.log" 2>&1 &
	plugin_pid=$!
	i=0
	until [ -S "$PSOCK" ]; do
		i=$((i + 1))
		if [ $i -gt 100 ] || ! kill -0 "$plugin_pid" 2>/dev/null; then
			fail "the plugin did not start: $(tail -n 5 "$tmp/plugin.log")"
			return 1
		fi
		sleep 0.1
	done
}

stop_plugin() {
	[ -n "$plugin_pid" ] || return 0
	kill -TERM "$plugin_pid" 2>/dev/null
	wait_gone "$plugin_pid" 50 || kill -KILL "$plugin_pid" 2>/dev/null
	wait "$plugin_pid" 2>/dev/null
	st=$?
	plugin_pid=
	return $st
}

# refused WHAT PATTERN CMD...: CMD fails and its message matches PATTERN.
refused() {
	what=$1
	pat=$2
	shift 2
	if "$@" >"$tmp/out" 2>&1; then
		fail "$what: accepted"
	elif grep -Eq -- "$pat" "$tmp/out"; then
		ok "$what: $(grep -Eo -- "$pat.*" "$tmp/out" | head -n 1)"
	else
		fail "$what: refused without saying why: $(cat "$tmp/out")"
	fi
}

vmounted() {
	is_mounted "$tmp/vmnt/$1"
}

backing=$scratch/backing
mkdir -p "$backing/w" "$backing/u"
chown 1234:1234 "$backing/u"
printf 'seen\n' >"$backing/w/seen.txt"
serve_unix --export "$backing" || exit 1

docker_up || exit 1
image_up || { fail "could not build or import the test image"; exit 1; }
start_plugin || exit 1

echo "== docker volume create -d $PLUGIN"
refused "an unknown option" "unknown option 'bogus'" \
	dockr volume create -d "$PLUGIN" -o export="$backing" -o bogus=1 bad1
refused "no export" "the export is missing" dockr volume create -d "$PLUGIN" -o server=unix:/x bad2
refused "a bad cache mode" "cache=fast: use coherent" \
	dockr volume create -d "$PLUGIN" -o export=/x -o server=unix:/x -o cache=fast bad3
if dockr volume create -d "$PLUGIN" -o export="$backing" -o server="unix:$tmp/ws.sock" \
	-o token_file="$tmp/token" src >"$tmp/out" 2>&1; then
	ok "volume src created"
else
	fail "volume src: $(cat "$tmp/out")"
fi
vmounted src && fail "src is mounted before any container uses it"

echo "== a watcher in one container, writes from another, through the volume"
crun vwatch --user 1234:1234 -v src:/app -v "$EVENTS_LIB_DIR:/t:ro" "$IMAGE" \
	node /t/watch-fs.js /app/w/seen.txt /app/w
if wait_line "$tmp/vwatch.out" '^READY$' 60; then
	ok "a container runs with the volume"
	vmounted src && ok "the export is mounted under the plugin's mount root" ||
		fail "no mount at $tmp/vmnt/src"
	printf 'more\n' >>"$backing/w/seen.txt"
	expect vwatch "edit in the served folder" '^file change seen\.txt$' "$DWAIT"
	printf 'saved\n' >"$backing/w/new.txt.tmp~" && mv "$backing/w/new.txt.tmp~" "$backing/w/new.txt"
	expect vwatch "editor-style save in the served folder" '^dir rename new\.txt$' "$DWAIT"
	if timeout -k 5 60 "$DOCKER_CLI" -H "unix://$dk/docker.sock" run --rm --network none \
		--user 1234:1234 -v src:/app "$IMAGE" sh -c \
		'umask 022 && printf "w\n" >/app/u/from-b.txt && mkdir /app/u/bd && echo ok' \
		>"$tmp/b.out" 2>&1 && grep -q '^ok$' "$tmp/b.out"; then
		ok "a second container writes to the same volume"
	else
		fail "second container: $(cat "$tmp/b.out")"
	fi
	[ "$(stat -c %u:%g "$backing/u/from-b.txt" 2>&1)" = 1234:1234 ] &&
		[ "$(cat "$backing/u/from-b.txt" 2>/dev/null)" = w ] &&
		ok "its file reached the served folder, 1234:1234" ||
		fail "u/from-b.txt: $(stat -c %u:%g "$backing/u/from-b.txt" 2>&1)"
	vmounted src && ok "still mounted after the second container left (shared)" ||
		fail "the export went away while a container still has it"

	echo "== the plugin restarts while the volume is in use"
	stop_plugin
	st=$?
	[ $st = 0 ] && ok "the plugin stops on SIGTERM" || fail "the plugin exited with $st"
	vmounted src && ok "the mount stays up without the plugin" || fail "the mount went with the plugin"
	start_plugin
	grep -q '1 in use and mounted' "$tmp/plugin.log" && ok "the restarted plugin took its mount back" ||
		fail "no adoption in the plugin's log: $(tail -n 3 "$tmp/plugin.log")"
	dockr volume ls -q --filter driver="$PLUGIN" >"$tmp/ls.out" 2>&1
	grep -qx src "$tmp/ls.out" && ok "docker volume ls still lists src" ||
		fail "docker volume ls: $(cat "$tmp/ls.out")"
	printf 'after restart\n' >>"$backing/w/seen.txt"
	sleep 0.3
	[ "$(grep -c '^file change seen\.txt$' "$tmp/vwatch.out")" -ge 2 ] &&
		ok "the watcher still gets events after the plugin's restart" ||
		fail "no event after the plugin's restart"
	dockr rm -f fsb-vwatch >/dev/null 2>&1
	containers=
	i=0
	while vmounted src && [ $i -lt 100 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	vmounted src && fail "still mounted after the last container left" ||
		ok "unmounted after the last container left"
else
	fail "no container with the volume: $(tail -n 5 "$tmp/vwatch.out")"
fi

echo "== an unreachable server"
dockr volume create -d "$PLUGIN" -o export="$backing" -o server="unix:$tmp/nobody.sock" \
	-o token_file="$tmp/token" gone >/dev/null 2>&1
refused "docker run on a volume whose server is down" "cannot connect to .*nobody.sock.*" \
	dockr run --rm --network none -v gone:/app "$IMAGE" true
dockr volume rm gone >/dev/null 2>&1
if dockr volume rm src >"$tmp/out" 2>&1; then
	ok "volume src removed"
else
	fail "docker volume rm src: $(cat "$tmp/out")"
fi
[ -e "$tmp/vstate/src.vol" ] && fail "the removed volume's state is still there"

calls=$(sed -n 's/^fsbridge: POST \/\([A-Za-z.]*\) .*/\1/p' "$tmp/plugin.log" | sort | uniq -c |
	awk '{ printf "%s%s x%s", sep, $2, $1; sep = ", " }')
echo "   calls Docker made: $calls"
docker_down
stop_plugin
if [ $failures -ne 0 ]; then
	echo "$failures check(s) failed"
	exit 1
fi
echo "all volume plugin checks passed"
exit 0
