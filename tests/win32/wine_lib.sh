# tests/win32/wine_lib.sh - shared by the Wine tests (sourced, not run).
#
# Finds winside.exe in the mingw-w64 build named by $FSB_WIN_BUILDDIR
# (scripts/test builds it and sets the variable), skips (exit 77) with the
# reason when that build or wine is missing, prepares one private Wine
# prefix under the build directory, and guarantees that every mount, every
# process this test started and its wineserver are gone on every way out.
# The Wine tests take a lock for their whole run: they share the prefix,
# and each ends by stopping that prefix's wineserver.

# The generic helpers (skip, fail, ok, is_mounted, unmount_hard,
# stop_mount) are the POSIX suite's; this file adds Wine and overrides
# make_tmp and cleanup.
. "$(dirname "$0")/../posix/lib.sh"

WINE_BOOT_TIME=${FSB_WINE_BOOT_TIME:-300}
ws_pid=
ws_addr=
pids=

need_wine() {
	[ -n "${FSB_WIN_BUILDDIR:-}" ] ||
		skip "FSB_WIN_BUILDDIR is not set; scripts/test builds winside.exe with mingw-w64 in build-win and points it there"
	WINSIDE_EXE=$FSB_WIN_BUILDDIR/winside/winside.exe
	WCHANGE_EXE=$FSB_WIN_BUILDDIR/tests/win32/wchange.exe
	[ -f "$WINSIDE_EXE" ] || skip "$WINSIDE_EXE is not built"
	command -v wine >/dev/null || skip "wine is not installed (scripts/deps installs wine and wine64)"
	command -v wineserver >/dev/null || skip "wineserver is not installed"
	WINEPREFIX=$top_builddir/tests/win32/wineprefix
	WINEDEBUG=-all
	# No Mono or Gecko installer dialogs in a headless run.
	WINEDLLOVERRIDES="mscoree,mshtml="
	export WINEPREFIX WINEDEBUG WINEDLLOVERRIDES
	unset DISPLAY
	mkdir -p "$top_builddir/tests/win32"
	exec 9>"$top_builddir/tests/win32/wine.lock"
	flock -w 900 9 || skip "another Wine test held the lock for 15 minutes"
	if [ ! -f "$WINEPREFIX/.fsb-ready" ]; then
		echo "creating the Wine prefix $WINEPREFIX (first run only)"
		rm -rf "$WINEPREFIX"
		if ! timeout -k 10 "$WINE_BOOT_TIME" wine wineboot --init >/dev/null 2>&1; then
			timeout 20 wineserver -k 2>/dev/null
			skip "wine could not create a prefix within ${WINE_BOOT_TIME}s"
		fi
		timeout 60 wineserver -w 2>/dev/null
		touch "$WINEPREFIX/.fsb-ready"
	fi
}

# The Windows spelling of a Linux path: Wine's Z: drive is /.
winpath() {
	printf 'Z:%s' "$1"
}

make_tmp() {
	tmp=$(mktemp -d "${TMPDIR:-/tmp}/fsb-wine-$1.XXXXXX") || exit 1
	trap cleanup EXIT
	trap 'exit 130' INT TERM
	od -An -tx1 -N32 /dev/urandom | tr -d ' \n' >"$tmp/token"
	chmod 600 "$tmp/token"
}

# start_winside EXPORT_DIR [ARGS...]: winside.exe serving EXPORT_DIR on a
# free loopback TCP port (or on $WS_LISTEN); sets ws_pid and ws_addr.
start_winside() {
	dir=$1
	shift
	wine "$WINSIDE_EXE" serve --export "$(winpath "$dir")" --listen "${WS_LISTEN:-tcp:127.0.0.1:0}" \
		--token-file "$(winpath "$tmp/token")" "$@" >"$tmp/ws.out" 2>"$tmp/ws.err" &
	ws_pid=$!
	pids="$pids $ws_pid"
	i=0
	while [ $i -lt $((STEP * 10)) ]; do
		ws_addr=$(sed -n 's/^listening on //p' "$tmp/ws.out" 2>/dev/null | head -n 1)
		[ -n "$ws_addr" ] && return 0
		kill -0 "$ws_pid" 2>/dev/null || break
		sleep 0.1
		i=$((i + 1))
	done
	echo "winside.exe did not start; its stderr:"
	sed 's/^/    /' "$tmp/ws.err"
	return 1
}

# stop_winside: Ctrl-C (Wine's translation of SIGINT) must end it cleanly.
stop_winside() {
	[ -n "$ws_pid" ] || return 0
	kill -INT "$ws_pid" 2>/dev/null
	i=0
	while kill -0 "$ws_pid" 2>/dev/null && [ $i -lt 100 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	if kill -0 "$ws_pid" 2>/dev/null; then
		kill -9 "$ws_pid" 2>/dev/null
		fail "winside.exe did not exit within 10 s of Ctrl-C"
	fi
	wait "$ws_pid" 2>/dev/null
	rc=$?
	[ "$rc" = 0 ] || fail "winside.exe exited with status $rc after Ctrl-C"
	ws_pid=
}

cleanup() {
	trap - EXIT INT TERM
	for m in $mounts; do
		unmount_hard "$m" || echo "warning: could not unmount $m"
	done
	for p in $pids $daemon_pids; do
		kill "$p" 2>/dev/null
	done
	sleep 0.3
	for p in $pids $daemon_pids; do
		kill -9 "$p" 2>/dev/null
	done
	# Every wine process of this prefix is ours (we hold the lock).
	timeout 20 wineserver -k 2>/dev/null
	[ -n "$tmp" ] && rm -rf "$tmp"
	if [ "$failures" -gt 0 ]; then
		echo "$failures failure(s)"
		exit 1
	fi
}
