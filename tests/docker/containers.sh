#!/bin/sh
# tests/docker/containers.sh - an fsbridge mount handed to real containers
# with `docker run -v MOUNT:/app`, as a Windows user's toolchain runs.
#
# A private Docker engine (tests/docker/lib.sh) runs containers of an
# offline image, --network none. Changes made directly in the served
# folder, as a Windows editor makes them, must reach watchers inside the
# containers within DOCKER_WAIT seconds (default 2): node's fs.watch and
# chokidar (no polling) see creates, edits, editor-style saves (a temp
# file renamed over the original), renames, deletes and new folders.
# Writes from a container running as --user 1234:1234 land in the served
# folder with their content and that owner, and the same user may then
# append to what it made and create inside the folders it made.
# `webpack --watch` in a container rebuilds when its entry is edited in the
# served folder, `git status` in a container is clean on a clean
# repository, and `npm ci --offline` installs from a primed cache.
#
# Self-check: DOCKER_TARGET=bind hands the served folder itself to the
# containers; every check must pass there too.
# Exit: 0 pass, 1 fail, 77 skip (not root, no Docker engine, no FUSE, no node).

set -u

EVENTS_LIB_DIR=$(cd "$(dirname "$0")/../events" && pwd)
. "$EVENTS_LIB_DIR/lib.sh"
. "$(dirname "$0")/lib.sh"

DWAIT=${DOCKER_WAIT:-2}
DTARGET=${DOCKER_TARGET:-fsbridge}
unset CHOKIDAR_USEPOLLING CHOKIDAR_INTERVAL WATCHPACK_POLLING

need_docker
[ "$DTARGET" = bind ] || need_fuse
docker_tmp docker
chmod 755 "$tmp"

backing=$scratch/backing
mnt=$tmp/mnt
mkdir -p "$backing/w" "$backing/c" "$backing/u" "$backing/repo" "$backing/wp/src"
printf 'console.log("text-one");\n' >"$backing/wp/src/index.js"
chown -R 1234:1234 "$backing/u" "$backing/wp"
printf 'seen\n' >"$backing/c/seen.txt"
printf 'seen\n' >"$backing/w/seen.txt"
printf 'original\n' >"$backing/w/save.txt"
printf 'original\n' >"$backing/c/save.txt"

# editor_save FILE TEXT: what editors do: write a temp file, rename it over.
editor_save() {
	printf '%s\n' "$2" >"$1.tmp~" && mv -f "$1.tmp~" "$1"
}

docker_up || exit 1
if ! image_up; then
	fail "could not build or import the test image"
	exit 1
fi
if [ "$DTARGET" = bind ]; then
	view=$backing
	echo "== self-check: the containers get the served folder itself"
else
	start_mount "$backing" "$mnt" "$tmp/daemon.log" || exit 1
	view=$mnt
	mount_pid_main=$mount_pid
fi
run_opts="-v $view:/app -v $EVENTS_LIB_DIR:/t:ro"

# ---- node fs.watch ---------------------------------------------------------------

echo "== fs.watch in a container (--user 1234:1234)"
# shellcheck disable=SC2086
crun fswatch --user 1234:1234 $run_opts "$IMAGE" node /t/watch-fs.js /app/w/seen.txt /app/w
if wait_line "$tmp/fswatch.out" '^READY$' "$STEP"; then
	printf 'more\n' >>"$backing/w/seen.txt"
	expect fswatch "edit of a watched file" '^file change seen\.txt$' "$DWAIT"
	printf 'new\n' >"$backing/w/created.txt"
	expect fswatch "new file in a watched folder" '^dir rename created\.txt$' "$DWAIT"
	printf 'again\n' >>"$backing/w/created.txt"
	expect fswatch "edit in a watched folder" '^dir change created\.txt$' "$DWAIT"
	editor_save "$backing/w/save.txt" "saved"
	expect fswatch "editor-style save (temp file renamed over)" '^dir rename save\.txt$' "$DWAIT"
	mv "$backing/w/created.txt" "$backing/w/renamed.txt"
	expect fswatch "rename in a watched folder" '^dir rename renamed\.txt$' "$DWAIT"
	rm "$backing/w/renamed.txt"
	expect fswatch "removal in a watched folder" '^dir rename renamed\.txt$' "$DWAIT"
	mkdir "$backing/w/newdir"
	expect fswatch "new folder in a watched folder" '^dir rename newdir$' "$DWAIT"
else
	fail "fs.watch did not start in its container:"
	tail -n 10 "$tmp/fswatch.out" | sed 's/^/    /'
fi

# ---- chokidar ----------------------------------------------------------------------

if node_clients; then
	echo "== chokidar (usePolling: false) in a container (--user 1234:1234)"
	# shellcheck disable=SC2086
	crun chokidar --user 1234:1234 $run_opts -v "$NODE_DIR:/clients:ro" "$IMAGE" \
		node /t/watch-chokidar.js /clients/node_modules /app/c
	if wait_line "$tmp/chokidar.out" '^READY$' 30; then
		printf 'new\n' >"$backing/c/new.txt"
		expect chokidar "file created in the served folder" '^add new\.txt$' "$DWAIT"
		printf 'more\n' >>"$backing/c/new.txt"
		expect chokidar "file edited" '^change new\.txt$' "$DWAIT"
		editor_save "$backing/c/save.txt" "saved"
		expect chokidar "editor-style save" '^(change|add) save\.txt$' "$DWAIT"
		mv "$backing/c/new.txt" "$backing/c/moved.txt"
		expect chokidar "rename: the new name" '^add moved\.txt$' "$DWAIT"
		expect chokidar "rename: the old name" '^unlink new\.txt$' "$DWAIT"
		rm "$backing/c/moved.txt"
		expect chokidar "file deleted" '^unlink moved\.txt$' "$DWAIT"
		mkdir "$backing/c/sub"
		expect chokidar "new folder" '^addDir sub$' "$DWAIT"
		printf 'deep\n' >"$backing/c/sub/deep.txt"
		expect chokidar "file in the new folder" '^add sub/deep\.txt$' "$DWAIT"
		grep -q '^error' "$tmp/chokidar.out" && fail "chokidar reported errors: $(grep '^error' "$tmp/chokidar.out")"
	else
		fail "chokidar did not start in its container:"
		tail -n 10 "$tmp/chokidar.out" | sed 's/^/    /'
	fi
	echo "== webpack --watch in a container (--user 1234:1234)"
	# shellcheck disable=SC2086
	crun webpack --user 1234:1234 $run_opts -v "$NODE_DIR:/clients:ro" -w /app/wp "$IMAGE" \
		node /clients/node_modules/webpack-cli/bin/cli.js --watch --mode development \
		--devtool false --entry ./src/index.js --output-path ./dist
	bundle=$backing/wp/dist/main.js
	if wait_line "$tmp/webpack.out" 'compiled|ERROR' 90 && grep -q 'text-one' "$bundle" 2>/dev/null; then
		ok "webpack: first build in the container, bundle in the served folder"
		# watchpack ignores changes within its assumed time accuracy
		# (up to a second) of the watch's start.
		sleep 1.5
		t0=$(now_ms)
		printf 'console.log("text-two");\n' >"$backing/wp/src/index.js"
		if wait_line "$bundle" 'text-two' $((DWAIT + 3)); then
			ok "webpack: rebuilt after the entry was edited in the served folder ($(($(now_ms) - t0)) ms)"
		else
			fail "webpack: no rebuild after the edit; it printed:"
			tail -n 10 "$tmp/webpack.out" | sed 's/^/    /'
		fi
	else
		fail "webpack: no first build; it printed:"
		tail -n 20 "$tmp/webpack.out" | sed 's/^/    /'
	fi
else
	echo "SKIP (chokidar, webpack, npm ci): npm install of $PINS failed; registry unreachable?"
fi

# ---- writes from a container user ---------------------------------------------------

echo "== writes from a container running as --user 1234:1234"
# shellcheck disable=SC2086
if timeout -k 5 60 "$DOCKER_CLI" -H "unix://$dk/docker.sock" run --rm --network none \
	--user 1234:1234 $run_opts "$IMAGE" sh -c '
	umask 022 && cd /app/u &&
	printf "from the container\n" >made.txt && printf "appended\n" >>made.txt &&
	mkdir -p d/e && printf "inner\n" >d/e/inner.txt && mv made.txt made2.txt &&
	echo ok' >"$tmp/writer.out" 2>&1 && grep -q '^ok$' "$tmp/writer.out"; then
	ok "the container user creates, appends, makes folders and files inside them"
else
	fail "writes in the container failed: $(cat "$tmp/writer.out")"
fi
if [ "$(cat "$backing/u/made2.txt" 2>/dev/null)" = "from the container
appended" ]; then
	ok "the content reached the served folder"
else
	fail "served folder holds '$(cat "$backing/u/made2.txt" 2>&1)'"
fi
for f in made2.txt d d/e d/e/inner.txt; do
	o=$(stat -c %u:%g "$backing/u/$f" 2>&1)
	[ "$o" = "1234:1234" ] && ok "u/$f belongs to 1234:1234 in the served folder" ||
		fail "u/$f belongs to $o in the served folder, not 1234:1234"
done

# ---- git status ---------------------------------------------------------------------------

echo "== git status in a container"
if command -v git >/dev/null; then
	(
		cd "$backing/repo" && git init -q && printf 'a\n' >a.txt && mkdir src &&
			printf 'b\n' >src/b.js && git add -A &&
			git -c user.name=t -c user.email=t@t commit -qm init
	) || fail "making the repository"
	# The commit's changes are replayed on the mount in the order git made
	# them; reading while that replay catches up can see an earlier index
	# (a known gap: the replay passes through states the server already
	# left). Wait for it, as a user typing the next command would.
	[ "$DTARGET" = bind ] || events_settled "$mnt" || fail "the mount's events did not settle"
	if timeout -k 5 60 "$DOCKER_CLI" -H "unix://$dk/docker.sock" run --rm --network none \
		$run_opts "$IMAGE" sh -c 'cd /app/repo && git status --porcelain && echo "rc=$?"' \
		>"$tmp/git.out" 2>&1 && [ "$(cat "$tmp/git.out")" = "rc=0" ]; then
		ok "git status in the container: clean"
	else
		fail "git status in the container: $(cat "$tmp/git.out")"
	fi
fi

# ---- npm ci --offline ---------------------------------------------------------------------

# npm_cache: a cache holding every package of the clients' lock file, primed
# once on this machine (which reaches the registry) with a real npm ci.
NPM_CACHE=$top_builddir/tests/docker/npm-cache
npm_cache() {
	key=$(cksum <"$NODE_DIR/package-lock.json")
	[ "$(cat "$NPM_CACHE.key" 2>/dev/null)" = "$key" ] && return 0
	rm -rf "$NPM_CACHE" "$tmp/prime"
	mkdir -p "$tmp/prime"
	cp "$NODE_DIR/package.json" "$NODE_DIR/package-lock.json" "$tmp/prime/"
	echo "   priming $NPM_CACHE"
	guarded 300 sh -c 'cd "$1" && npm_config_update_notifier=false npm ci --cache "$2" \
		--no-audit --no-fund --loglevel=error' sh "$tmp/prime" "$NPM_CACHE" \
		>"$tmp/prime.out" 2>&1 || { tail -n 5 "$tmp/prime.out"; return 1; }
	rm -rf "$tmp/prime"
	echo "$key" >"$NPM_CACHE.key"
}

if [ -f "$NODE_DIR/package-lock.json" ] && npm_cache; then
	echo "== npm ci --offline in a container"
	mkdir -p "$backing/proj"
	cp "$NODE_DIR/package.json" "$NODE_DIR/package-lock.json" "$backing/proj/"
	t0=$(now_ms)
	if timeout -k 5 300 "$DOCKER_CLI" -H "unix://$dk/docker.sock" run --rm --network none \
		$run_opts -v "$NPM_CACHE:/cache" "$IMAGE" sh -c \
		'cd /app/proj && npm ci --offline --cache /cache --no-audit --no-fund --loglevel=error &&
		 node -e "require(\"chokidar\"); require(\"webpack\"); console.log(\"loaded\")"' \
		>"$tmp/npm-ci.out" 2>&1 && grep -q '^loaded$' "$tmp/npm-ci.out"; then
		n=$(find "$backing/proj/node_modules" -name package.json | wc -l)
		ok "npm ci --offline: $n package.json files installed, modules load ($(($(now_ms) - t0)) ms)"
	else
		fail "npm ci --offline in the container: $(tail -n 5 "$tmp/npm-ci.out")"
	fi
fi

docker_down
if [ "$DTARGET" != bind ]; then
	stop_watchers
	stop_mount "$mnt" "$mount_pid_main" "$tmp/daemon.log"
fi
if [ $failures -ne 0 ]; then
	echo "$failures check(s) failed"
	exit 1
fi
echo "all container checks passed"
exit 0
