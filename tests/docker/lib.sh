# tests/docker/lib.sh - a private Docker engine and an offline image, for
# the tests that run real containers (sourced, not run). Builds on
# tests/events/lib.sh (mounts, watchers, cleanup).
#
# The engine is Debian's dockerd, started here without systemd: its own
# data root, exec root, socket and pid file in the test's temp dir, no
# iptables, no bridge (containers run with --network none), and stopped by
# its pid on every way out, containers first, before the FUSE mounts go.
#
# No registry is reachable, so the image is imported from a root tree made
# of this machine's own files: node and npm, git, a shell and the few tools
# the tests call, each binary with the shared libraries ldd names. The
# tarball is kept in the build dir until node or this file changes.

DOCKERD=$(command -v dockerd 2>/dev/null)
DOCKER_CLI=$(command -v docker 2>/dev/null)
IMAGE=fsbridge-test:node
IMAGE_DIR=$top_builddir/tests/docker/image
dk=             # the engine's private dir
dk_pid=
containers=     # names of containers we started

# need_docker: exit 77 unless a Docker engine can run here.
need_docker() {
	[ "$(id -u)" = 0 ] || skip "needs root to run a Docker engine"
	[ -n "$DOCKERD" ] || skip "dockerd missing (Debian package docker.io)"
	[ -n "$DOCKER_CLI" ] || skip "docker client missing"
	command -v node >/dev/null 2>&1 || skip "node missing"
	command -v ldd >/dev/null 2>&1 || skip "ldd missing"
}

dockr() {
	"$DOCKER_CLI" -H "unix://$dk/docker.sock" "$@"
}

# docker_up: the engine, answering within a minute.
docker_up() {
	dk=$tmp/docker
	mkdir -p "$dk"
	"$DOCKERD" --data-root "$dk/data" --exec-root "$dk/x" -H "unix://$dk/docker.sock" \
		--pidfile "$dk/docker.pid" --storage-driver overlay2 --iptables=false \
		--ip6tables=false --bridge=none --ip-masq=false --userland-proxy=false \
		>"$dk/dockerd.log" 2>&1 &
	dk_pid=$!
	i=0
	until dockr info >/dev/null 2>&1; do
		i=$((i + 1))
		if [ $i -gt 600 ] || ! kill -0 "$dk_pid" 2>/dev/null; then
			fail "dockerd did not come up; its log:"
			tail -n 20 "$dk/dockerd.log" | sed 's/^/    /'
			return 1
		fi
		sleep 0.1
	done
	echo "   dockerd $(dockr version --format '{{.Server.Version}}' 2>/dev/null) up (pid $dk_pid)"
}

# docker_down: our containers, then the engine (and the containerd it
# started), then whatever it left mounted under its dir.
docker_down() {
	[ -n "$dk_pid" ] || return 0
	for c in $containers; do
		timeout -k 2 30 "$DOCKER_CLI" -H "unix://$dk/docker.sock" rm -f "$c" >/dev/null 2>&1
	done
	containers=
	kill -TERM "$dk_pid" 2>/dev/null
	wait_gone "$dk_pid" 200 || kill -KILL "$dk_pid" 2>/dev/null
	wait "$dk_pid" 2>/dev/null
	dk_pid=
	pkill -KILL -f "containerd.*$dk" 2>/dev/null
	awk -v d="$dk/" 'index($2, d) == 1 { print $2 }' /proc/self/mounts | sort -r |
		while read -r m; do umount -l "$m" 2>/dev/null; done
}

# docker_tmp NAME: events_tmp, with the engine stopped first on the way out.
docker_tmp() {
	events_tmp "$1"
	trap docker_cleanup EXIT
}

docker_cleanup() {
	rc=$?
	docker_down
	(exit $rc)
	events_cleanup
}

# The root tree: each file with its directory path, binaries with their
# libraries.
image_add() {
	for f in "$@"; do
		[ -e "$f" ] || continue
		# Into the real directory (no symlinked components), the file
		# itself as it is (a symlink stays one), then what it points to.
		d=$(readlink -f "$(dirname "$f")")
		mkdir -p "$IMAGE_DIR/root$d" || return 1
		cp -a "$f" "$IMAGE_DIR/root$d/" || return 1
		if [ -L "$f" ]; then
			image_add "$(readlink -f "$f")" || return 1
		fi
	done
	return 0
}

image_add_bin() {
	for b in "$@"; do
		p=$(command -v "$b") || { echo "   image: $b not found"; return 1; }
		image_add "$p" || return 1
		ldd "$(readlink -f "$p")" 2>/dev/null | awk '$2 == "=>" && $3 ~ /^\// { print $3 }
			$1 ~ /^\// { print $1 }' | while read -r lib; do image_add "$lib"; done
	done
}

image_key() {
	printf '%s %s %s\n' "$(node --version)" "$(git --version 2>/dev/null)" \
		"$(cksum <"$top_srcdir/tests/docker/lib.sh")"
}

# image_up: $IMAGE in the engine, from the cached tarball or a new one.
image_up() {
	if [ ! -f "$IMAGE_DIR/image.tar" ] || [ "$(cat "$IMAGE_DIR/key" 2>/dev/null)" != "$(image_key)" ]; then
		rm -rf "$IMAGE_DIR"
		mkdir -p "$IMAGE_DIR/root" || return 1
		# The host's merged-/usr links (/bin -> usr/bin, ...) first, so
		# that files copied by either path land in one place.
		for l in /bin /sbin /lib /lib32 /lib64 /libx32; do
			[ -L "$l" ] || continue
			mkdir -p "$IMAGE_DIR/root/$(readlink "$l")"
			ln -s "$(readlink "$l")" "$IMAGE_DIR/root$l"
		done
		image_add_bin node sh env cat ls mkdir mv rm sleep id stat git || return 1
		image_add /usr/lib/node_modules/npm /usr/bin/npm /etc/ssl/certs/ca-certificates.crt || return 1
		r=$IMAGE_DIR/root
		mkdir -p "$r/tmp" "$r/etc" "$r/home/node" "$r/proc" "$r/sys" "$r/dev"
		chmod 1777 "$r/tmp"
		printf 'root:x:0:0:root:/root:/bin/sh\nnode:x:1000:1000::/home/node:/bin/sh\n' >"$r/etc/passwd"
		printf 'root:x:0:\nnode:x:1000:\n' >"$r/etc/group"
		chown 1000:1000 "$r/home/node"
		tar -C "$r" -cf "$IMAGE_DIR/image.tar" . || return 1
		image_key >"$IMAGE_DIR/key"
		rm -rf "$r"
		echo "   image built: $(du -h "$IMAGE_DIR/image.tar" | cut -f1) from this machine's node $(node --version)"
	fi
	dockr import -c 'ENV PATH=/usr/local/bin:/usr/bin:/bin HOME=/tmp' \
		"$IMAGE_DIR/image.tar" "$IMAGE" >/dev/null || return 1
}

# crun NAME DOCKER-RUN-ARGS...: a container in the background, attached so
# that its output goes to $tmp/NAME.out; removed on every way out.
crun() {
	name=$1
	shift
	containers="$containers fsb-$name"
	dockr run --rm --name "fsb-$name" --network none "$@" >"$tmp/$name.out" 2>&1 &
	watchers="$watchers $!"
}
