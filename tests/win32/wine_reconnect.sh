#!/bin/sh
# tests/win32/wine_reconnect.sh - winside.exe under Wine killed with
# SIGKILL and started again on the same port while fsbridge has it
# mounted: a file held open reads on, files changed on the Windows side
# while the server was away raise their events on the mount, new work goes
# through, and nothing is left behind.
# Exit: 0 pass, 1 fail, 77 skip (no winside.exe, wine or usable FUSE).

set -u
. "$(dirname "$0")/wine_lib.sh"

EVREC=$top_builddir/tests/events/evrec

[ -x "$FSB" ] || skip "fsbridge is not built"
[ -x "$EVREC" ] || skip "evrec is not built"
[ -c /dev/fuse ] || skip "/dev/fuse missing"
( exec 3<>/dev/fuse ) 2>/dev/null || skip "/dev/fuse not usable here"
if [ "$(id -u)" != 0 ] && ! command -v fusermount3 >/dev/null; then
	skip "not root and no fusermount3"
fi
need_wine
make_tmp reconnect
exp=$tmp/export
mnt=$tmp/mnt
mkdir -p "$exp/w" "$mnt"
printf 'line one\nline two\n' >"$exp/held.txt"
echo keep >"$exp/w/keep.txt"
echo mod >"$exp/w/mod.txt"
echo del >"$exp/w/del.txt"

now_ms() { echo $(($(date +%s%N) / 1000000)); }

start_winside "$exp" || { fail "winside.exe did not start"; exit 1; }
addr=$ws_addr
"$FSB" mount -f --server "$addr" --token-file "$tmp/token" --cache=strict \
	"$(winpath "$exp")" "$mnt" 2>"$tmp/fsb.err" &
fsb_pid=$!
daemon_pids=$fsb_pid
mounts="$mnt"
i=0
until is_mounted "$mnt"; do
	i=$((i + 1))
	[ $i -gt 100 ] && { fail "the mount did not come up: $(cat "$tmp/fsb.err")"; exit 1; }
	sleep 0.1
done
ls -la "$mnt/w" >/dev/null
exec 3<"$mnt/held.txt"
read -r first <&3
"$EVREC" "$mnt/w" >"$tmp/ev.out" 2>"$tmp/ev.err" &
ev_pid=$!
pids="$pids $ev_pid"
i=0
until grep -q '^READY$' "$tmp/ev.out" 2>/dev/null; do
	i=$((i + 1))
	[ $i -gt 100 ] && { fail "the recorder did not start"; break; }
	sleep 0.1
done

# A crash of the Windows side.
kill -9 "$ws_pid"
wait "$ws_pid" 2>/dev/null
echo new >"$exp/w/new.txt"
echo more >>"$exp/w/mod.txt"
rm "$exp/w/del.txt"
echo p >"$exp/probe.txt"
sleep 1
WS_LISTEN=$addr
start_winside "$exp" 3<&- || { fail "winside.exe did not start again on $addr"; exit 1; }
WS_LISTEN=
t0=$(now_ms)
i=0
until [ "$(timeout 5 cat "$mnt/probe.txt" 2>/dev/null)" = p ]; do
	i=$((i + 1))
	[ $i -gt 300 ] && { fail "the mount did not work again within 30 s: $(tail -n 3 "$tmp/fsb.err")"; break; }
	sleep 0.1
done
[ $i -le 300 ] && ok "the mount works again $(($(now_ms) - t0)) ms after winside.exe is back"
read -r second <&3
[ "$first/$second" = "line one/line two" ] && ok "a file held open reads on" ||
	fail "the held file read '$first/$second'"
exec 3<&-
for want in "new.txt IN_CREATE" "mod.txt IN_MODIFY" "del.txt IN_DELETE"; do
	i=0
	until grep -q "^${want%% *} ${want#* }" "$tmp/ev.out"; do
		i=$((i + 1))
		[ $i -gt 100 ] && break
		sleep 0.1
	done
	grep -q "^${want%% *} ${want#* }" "$tmp/ev.out" &&
		ok "${want#* } for ${want%% *}, changed while winside.exe was away" ||
		fail "no ${want#* } for ${want%% *}; the recorder saw: $(tr '\n' ';' <"$tmp/ev.out")"
done
if echo after >"$mnt/w/after.txt" && [ "$(cat "$exp/w/after.txt" 2>/dev/null)" = after ]; then
	ok "a new file written through the mount reaches the Windows side"
else
	fail "writing after the reconnect failed"
fi
kill "$ev_pid" 2>/dev/null
wait "$ev_pid" 2>/dev/null
if timeout -k 2 "$STEP" "$FSB" umount "$mnt" >"$tmp/umount.out" 2>&1; then
	ok "unmounted"
else
	fail "fsbridge umount: $(cat "$tmp/umount.out")"
fi
wait "$fsb_pid"
st=$?
[ $st = 0 ] || fail "fsbridge exited with status $st"
grep -q "AddressSanitizer\|runtime error" "$tmp/fsb.err" && fail "fsbridge reports: $(grep -m 3 "AddressSanitizer\|runtime error" "$tmp/fsb.err")"
grep "reconnected\|resumed" "$tmp/fsb.err" | sed 's/^/   /'
stop_winside
[ $failures -eq 0 ] || exit 1
echo "PASS: wine_reconnect"
