#!/bin/sh
# tests/win32/wine_ops.sh - every protocol operation against winside.exe
# under Wine, over TCP: tests/proto/test_ops pointed at an external server.
# Checks whose semantics differ on Windows are adapted or skipped by
# test_ops itself, each with a printed reason.
# Exit: 0 pass, 1 fail, 77 skip (no winside.exe, no wine).

set -u
. "$(dirname "$0")/wine_lib.sh"

OPS=$top_builddir/tests/proto/test_ops
[ -x "$OPS" ] || skip "tests/proto/test_ops is not built"
need_wine
make_tmp ops

# cmocka's own report format (make check asks for TAP), counted below.
CMOCKA_MESSAGE_OUTPUT=STDOUT FSB_TEST_SERVER="wine $WINSIDE_EXE" FSB_TEST_SERVER_ROOT=Z: \
	FSB_TEST_TRANSPORTS=tcp timeout -k 10 600 "$OPS" >"$tmp/ops.log" 2>&1
rc=$?
grep -E '^# (win32|tcp)' "$tmp/ops.log"
passed=$(grep -c '^\[       OK \] tcp:' "$tmp/ops.log")
failed=$(grep -c '^\[  FAILED  \] tcp:' "$tmp/ops.log")
echo "test_ops against winside.exe: $passed passed, $failed failed (status $rc)"
if [ "$rc" != 0 ] || [ "$passed" -eq 0 ]; then
	grep -E 'ERROR|FAILED|LINE' "$tmp/ops.log" | head -n 40
	echo "winside.exe's log (last lines):"
	grep 'winside:' "$tmp/ops.log" | tail -n 20
	fail "test_ops against winside.exe"
else
	ok "test_ops against winside.exe"
fi

# hvsock: a listener where Windows has AF_HYPERV; a clear refusal where not.
wine "$WINSIDE_EXE" serve --export "$(winpath "$tmp")" --listen hvsock:loopback:5000 \
	--token-file "$(winpath "$tmp/token")" >"$tmp/hv.out" 2>"$tmp/hv.err" &
hv=$!
pids="$pids $hv"
i=0
while kill -0 "$hv" 2>/dev/null && ! grep -q '^listening on' "$tmp/hv.out" && [ $i -lt 300 ]; do
	sleep 0.1
	i=$((i + 1))
done
if grep -q '^listening on hvsock:loopback:5000$' "$tmp/hv.out"; then
	ok "hvsock listener up"
	kill -INT "$hv"
elif grep -q 'AF_HYPERV socket' "$tmp/hv.err"; then
	echo "SKIP: hvsock listener: this Wine has no AF_HYPERV sockets ($(tail -n 1 "$tmp/hv.err" | sed 's/.*: //'))"
else
	fail "hvsock listener: neither up nor refused clearly: $(cat "$tmp/hv.err")"
fi
wait "$hv" 2>/dev/null
exit 0
