#!/bin/sh
# tests/events/clients.sh - real file watchers on an fsbridge mount notice
# changes made in the backing dir (as a Windows editor's saves would be).
#
#   chokidar   (usePolling: false) watching the mount reports add, change
#              and unlink for files created, appended to and removed in
#              BACKING, and change for an edit of a file it saw at start
#   webpack    `webpack --watch` running inside the mount rebuilds when the
#              entry file is edited in BACKING: the bundle gets the new text
#   fs.watch   node's fs.watch on a file sees its change, and on a
#              directory sees the change and a new file
#
# chokidar, webpack and webpack-cli (pinned below) are installed once with
# npm into $top_builddir/tests/events/node-clients and reused by later
# runs; without a registry those two parts are skipped with a message.
# Each change must be reported within EVENTS_CLIENT_WAIT seconds (default
# 5). Every client is stopped and the mount undone on every way out.
#
# Self-check: EVENTS_TARGET=bind watches a plain bind mount of BACKING
# instead of fsbridge; every check must pass there:
#   EVENTS_TARGET=bind make check TESTS=tests/events/clients.sh
#
# Environment: top_builddir (set by make check), EVENTS_TARGET,
# EVENTS_MOUNT_OPTS, EVENTS_CLIENT_WAIT, EVENTS_CLIENTS (default
# "chokidar fswatch webpack": webpack last, as its writes through the
# mount are the likeliest to upset the daemon and hide the other results).
# Exit: 0 pass, 1 fail, 77 skip (no FUSE, no node).

set -u

EVENTS_LIB_DIR=$(dirname "$0")
. "$EVENTS_LIB_DIR/lib.sh"

CLIENTS=${EVENTS_CLIENTS:-chokidar fswatch webpack}
JS=$(cd "$EVENTS_LIB_DIR" && pwd)
# Native events only: no client may fall back to polling.
unset CHOKIDAR_USEPOLLING CHOKIDAR_INTERVAL WATCHPACK_POLLING

need_target
command -v node >/dev/null 2>&1 || skip "node missing"
events_tmp clients

backing=$scratch/backing
mnt=$tmp/mnt

part_chokidar() {
	echo "== chokidar (usePolling: false) on the mount"
	client_start chokidar '^READY$' "$STEP" node "$JS/watch-chokidar.js" "$NODE_DIR/node_modules" "$mnt/c" || return
	printf 'new\n' >"$backing/c/new.txt"
	expect chokidar "file created in the backing dir" '^add new\.txt$'
	printf 'more\n' >>"$backing/c/new.txt"
	expect chokidar "file appended to in the backing dir" '^change new\.txt$'
	rm "$backing/c/new.txt"
	expect chokidar "file removed in the backing dir" '^unlink new\.txt$'
	printf 'edited\n' >"$backing/c/seen.txt"
	expect chokidar "file it saw at start, edited in the backing dir" '^change seen\.txt$'
	# What editors do: a temp file renamed over the original. chokidar
	# stats and lists the folder as soon as the temp file appears, which
	# can tell the kernel of the renamed file before the replay moves it.
	printf 'saved\n' >"$backing/c/doc.txt.tmp~" && mv -f "$backing/c/doc.txt.tmp~" "$backing/c/doc.txt"
	expect chokidar "editor-style save (temp file renamed over it)" '^change doc\.txt$'
}

part_webpack() {
	echo "== webpack --watch inside the mount"
	cli=$NODE_DIR/node_modules/webpack-cli/bin/cli.js
	# The first build, through the mount, before anything is edited. The
	# bundle is read through the mount, which webpack wrote it through.
	bundle=$mnt/w/dist/main.js
	client_start webpack 'compiled|ERROR' 90 \
		sh -c 'cd "$1" && exec node "$2" --watch --mode development --devtool false \
			--entry ./src/index.js --output-path ./dist' sh "$mnt/w" "$cli" || return
	if ! grep -q 'text-one' "$bundle" 2>/dev/null; then
		fail "webpack: first build has no bundle with the entry's text; it printed:"
		tail -n 20 "$tmp/webpack.out" | sed 's/^/    /'
		return
	fi
	ok "webpack: first build through the mount"
	# watchpack counts a file as changed only if its mtime is past the
	# watch's start by more than the file system's time accuracy, which
	# it assumes to be up to a second until it learns better.
	sleep 1.5
	printf 'console.log("text-two");\n' >"$backing/w/src/index.js"
	if wait_line "$bundle" 'text-two' "$WAIT"; then
		ok "webpack: rebuilt after the entry was edited in the backing dir"
	else
		fail "webpack: no rebuild within ${WAIT}s of the edit; it printed:"
		tail -n 10 "$tmp/webpack.out" | sed 's/^/    /'
	fi
}

part_fswatch() {
	echo "== node fs.watch on the mount"
	client_start fswatch '^READY$' "$STEP" node "$JS/watch-fs.js" "$mnt/f/file.txt" "$mnt/f" || return
	printf 'changed\n' >>"$backing/f/file.txt"
	expect fswatch "watch on a file: change" '^file change file\.txt$'
	expect fswatch "watch on its directory: change" '^dir change file\.txt$'
	printf 'x\n' >"$backing/f/added.txt"
	expect fswatch "watch on a directory: new file" '^dir rename added\.txt$'
}

# What the clients watch, made before the mount and listed through it.
mkdir -p "$backing/c" "$backing/w/src" "$backing/f" || exit 99
printf 'seen\n' >"$backing/c/seen.txt"
printf 'doc\n' >"$backing/c/doc.txt"
printf 'console.log("text-one");\n' >"$backing/w/src/index.js"
printf 'watched\n' >"$backing/f/file.txt"

have_pkgs=1
case " $CLIENTS " in *" chokidar "* | *" webpack "*)
	if ! node_clients; then
		have_pkgs=0
		echo "SKIP (chokidar, webpack): npm install of $PINS failed; registry unreachable?"
	fi ;;
esac

echo "== view: $TARGET ${MOUNT_OPTS:+($MOUNT_OPTS)}"
view_up "$backing" "$mnt" || exit 1
guarded "$STEP" ls -lR "$mnt" >/dev/null 2>&1 || fail "ls -lR $mnt"

ran=0
for c in $CLIENTS; do
	case $c in
	chokidar | webpack) [ $have_pkgs = 1 ] || continue ;;
	fswatch) ;;
	*) echo "unknown client '$c'"; exit 99 ;;
	esac
	"part_$c"
	ran=$((ran + 1))
	stop_watchers
done

view_down "$mnt"
[ $ran -gt 0 ] || skip "no client could run"
if [ $failures -ne 0 ]; then
	echo "$failures check(s) failed"
	exit 1
fi
echo "all clients saw the changes"
exit 0
