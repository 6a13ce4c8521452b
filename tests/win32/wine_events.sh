#!/bin/sh
# tests/win32/wine_events.sh - changes made by a Windows program arrive as
# EVENT pushes. winside.exe serves a folder under Wine; a protocol client
# (tests/win32/event_client) subscribes with FSB_CAP_EVENTS and
# FSB_CAP_EVENT_EDGES; wchange.exe creates, writes, changes attributes of,
# renames, deletes and moves files into and out of the folder with the
# Win32 API, so winside's ReadDirectoryChangesW watcher sees them as it
# would on Windows. Each change must arrive in order, with the rename
# pair sharing one nonzero cookie.
# Exit: 0 pass, 1 fail, 77 skip (no winside.exe or wine, or a server that
# does not grant FSB_CAP_EVENTS yet).

set -u
. "$(dirname "$0")/wine_lib.sh"

CLIENT=$top_builddir/tests/win32/event_client
[ -x "$CLIENT" ] || skip "tests/win32/event_client is not built"
need_wine
[ -f "$WCHANGE_EXE" ] || skip "$WCHANGE_EXE is not built"
make_tmp events
exp=$tmp/export
mkdir -p "$exp"

start_winside "$exp" || { fail "winside.exe did not start"; exit 1; }
"$CLIENT" "$ws_addr" "$tmp/token" "$(winpath "$exp")" 60 >"$tmp/events.log" 2>"$tmp/client.err" &
client=$!
pids="$pids $client"
i=0
while ! grep -q -e '^ready' -e '^no-events' "$tmp/events.log" && [ $i -lt 200 ]; do
	kill -0 "$client" 2>/dev/null || break
	sleep 0.1
	i=$((i + 1))
done
if grep -q '^no-events' "$tmp/events.log"; then
	stop_winside
	skip "winside.exe does not grant FSB_CAP_EVENTS ($(head -n 1 "$tmp/events.log")): the core's event hub (winside/core/events.c) is not serving events yet"
fi
grep -q '^ready' "$tmp/events.log" || { fail "event client did not connect: $(cat "$tmp/client.err")"; exit 1; }

if ! timeout -k 5 120 wine "$WCHANGE_EXE" "$(winpath "$exp")" 400 >"$tmp/wchange.out" 2>&1; then
	fail "wchange.exe: $(tail -n 3 "$tmp/wchange.out")"
fi
# A Linux-side change reaches Windows' watcher as well (Wine maps inotify).
echo linux >"$exp/from-linux.txt"
sleep 2
kill "$client" 2>/dev/null
wait "$client" 2>/dev/null
echo "events received:"
sed -n '/^ready/,$p' "$tmp/events.log" | sed '1d; s/^/    /'

# has PATTERN WHAT: one event line matches the extended regex.
has() {
	if grep -Eq "$1" "$tmp/events.log"; then
		ok "$2"
	else
		fail "$2: no event matching '$1'"
	fi
}

# has_or_skip PATTERN WHAT API: as has, but a miss is Wine lacking API.
has_or_skip() {
	if grep -Eq "$1" "$tmp/events.log"; then
		ok "$2"
	else
		echo "SKIP: $2: Wine's ReadDirectoryChangesW did not report it ($3)"
	fi
}

has '^CREATED [^d].... [0-9]+ a\.txt$' "CreateFileW a.txt -> CREATED"
has '^MODIFIED ..... [0-9]+ a\.txt$' "WriteFile a.txt -> MODIFIED"
has_or_skip '^ATTRIB ..... [0-9]+ a\.txt$' "SetFileAttributesW a.txt -> ATTRIB" \
	"FILE_NOTIFY_CHANGE_ATTRIBUTES on a second handle"
has '^REMOVED ..... [0-9]+ b\.txt$' "DeleteFileW b.txt -> REMOVED"
has '^CREATED d.... [0-9]+ sub$' "CreateDirectoryW sub -> CREATED (directory)"
has '^CREATED ..... [0-9]+ sub/c\.txt$' "CreateFileW in sub -> CREATED sub/c.txt (recursive)"
has '^CREATED ..... [0-9]+ from-linux\.txt$' "a Linux-side create -> CREATED"
# Moves across the export's edge: a creation and a removal. Marked OUTSIDE
# (FSB_CAP_EVENT_EDGES) when the watcher reports them as a lone new or old
# name; Wine, like Windows for a move from outside the watched tree,
# reports FILE_ACTION_ADDED and _REMOVED, which cannot be told from a
# create and a delete. A plain create or delete is never marked, and no
# event carries CLOSE_WRITE on Windows.
has '^CREATED ..... [0-9]+ moved-in\.txt$' "MoveFileExW from outside -> CREATED"
has '^REMOVED ..... [0-9]+ moved-in\.txt$' "MoveFileExW to outside -> REMOVED"
has_or_skip '^CREATED ...o- [0-9]+ moved-in\.txt$' "MoveFileExW from outside -> OUTSIDE" \
	"FILE_ACTION_RENAMED_NEW_NAME for a move into the watched tree"
has_or_skip '^REMOVED ...o- [0-9]+ moved-in\.txt$' "MoveFileExW to outside -> OUTSIDE" \
	"FILE_ACTION_RENAMED_OLD_NAME for a move out of the watched tree"
if grep -Eq '^(CREATED|REMOVED) ...o. [0-9]+ (a|b|sub/c)\.txt$' "$tmp/events.log"; then
	fail "a create or delete in place is marked OUTSIDE"
else
	ok "creates and deletes in place are not marked OUTSIDE"
fi
if grep -Eq '^[A-Z_]+ ....w ' "$tmp/events.log"; then
	fail "an event from Windows is marked CLOSE_WRITE"
else
	ok "no event from Windows is marked CLOSE_WRITE"
fi

# The rename pair: FROM a.txt directly followed by TO b.txt, one cookie.
from=$(grep -n '^RENAMED_FROM ..... [0-9]* a\.txt$' "$tmp/events.log" | head -n 1)
to=$(grep -n '^RENAMED_TO ..... [0-9]* b\.txt$' "$tmp/events.log" | head -n 1)
if [ -z "$from" ] || [ -z "$to" ]; then
	fail "MoveFileExW a.txt b.txt -> RENAMED_FROM/RENAMED_TO: missing"
else
	fl=${from%%:*}
	tl=${to%%:*}
	fc=$(echo "$from" | awk '{ print $3 }')
	tc=$(echo "$to" | awk '{ print $3 }')
	if [ "$tl" -eq $((fl + 1)) ] && [ "$fc" = "$tc" ] && [ "$fc" != 0 ]; then
		ok "MoveFileExW a.txt b.txt -> RENAMED_FROM + RENAMED_TO, cookie $fc"
	else
		fail "rename pair split or cookies differ: '$from' / '$to'"
	fi
fi

# Order: the create of a.txt precedes its rename, which precedes b's removal.
c=$(grep -n '^CREATED ..... [0-9]* a\.txt$' "$tmp/events.log" | head -n 1 | cut -d: -f1)
r=$(grep -n '^REMOVED ..... [0-9]* b\.txt$' "$tmp/events.log" | head -n 1 | cut -d: -f1)
if [ -n "$c" ] && [ -n "$r" ] && [ -n "${fl:-}" ] && [ "$c" -lt "$fl" ] && [ "$fl" -lt "$r" ]; then
	ok "events in the order the changes were made"
else
	fail "events out of order (create $c, rename ${fl:-?}, remove $r)"
fi

stop_winside
exit 0
