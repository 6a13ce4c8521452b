#!/bin/sh
# tests/fuse/coherence.sh - the coherent cache stays exact when the served
# folder changes behind the mount, with --events=replay (the default) and
# --events=invalidate: after a change in BACKING, the mount shows the new
# content, size, mode and names within a second, although the kernel had
# the old ones cached (entry and attribute timeouts of a day).
# Exit: 0 pass, 1 fail, 77 skip (no usable FUSE).

. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/posix/lib.sh"

need_fuse
make_tmp coherence

# eventually DESC CMD...: CMD succeeds within a second.
eventually() {
	what=$1
	shift
	i=0
	while ! "$@" >/dev/null 2>&1; do
		i=$((i + 1))
		if [ $i -ge 20 ]; then
			fail "$what"
			return 1
		fi
		sleep 0.05
	done
	ok "$what"
}

same_content() { [ "$(cat "$1")" = "$2" ]; }
has_size() { [ "$(stat -c %s "$1")" = "$2" ]; }
has_mode() { [ "$(stat -c %a "$1")" = "$2" ]; }
absent() { ! ls "$1" >/dev/null 2>&1; }
has_entries() { [ "$(ls -a "$1" | wc -l)" = "$2" ]; }

for mode in replay invalidate; do
	b=$scratch/b-$mode
	m=$tmp/m-$mode
	mkdir -p "$b/dir" "$b/many" "$b/empty"
	# Longer than one reply: the kernel lists it in several batches.
	(cd "$b/many" && seq 2000 | xargs touch)
	for d in 1 2 3 4 5 6 7 8; do
		mkdir -p "$b/walk/d/s$d" && touch "$b/walk/d/s$d/f"
	done
	printf 'one\n' >"$b/f"
	printf 'keep\n' >"$b/dir/old"
	start_mount "$b" "$m" "$tmp/$mode.log" --cache=coherent --events=$mode || continue
	# Fill the kernel's caches: content, attributes, names, a missing name.
	cat "$m/f" "$m/dir/old" >/dev/null
	ls -l "$m" "$m/dir" >/dev/null
	ls "$m/later" >/dev/null 2>&1

	printf 'two, and longer\n' >"$b/f"
	eventually "$mode: new content and size" same_content "$m/f" 'two, and longer'
	eventually "$mode: size 16" has_size "$m/f" 16
	chmod 600 "$b/f"
	eventually "$mode: new mode" has_mode "$m/f" 600
	printf 'x\n' >"$b/later"
	eventually "$mode: a name that was missing appears" same_content "$m/later" x
	mv "$b/dir/old" "$b/dir/new"
	eventually "$mode: a renamed file leaves its old name" absent "$m/dir/old"
	eventually "$mode: and has its new one" same_content "$m/dir/new" keep
	truncate -s 2 "$b/f"
	eventually "$mode: a file truncated behind the mount" has_size "$m/f" 2
	rm "$b/later"
	eventually "$mode: a removed file is gone" absent "$m/later"
	# Every listing ends where the server's does, cached or not.
	for k in 1 2; do
		n=$(ls -a "$m/many" | wc -l)
		[ "$n" = 2002 ] && ok "$mode: a 2,000-name listing, pass $k, has all names and the dots" ||
			fail "$mode: a 2,000-name listing, pass $k, has $n entries, not 2002"
	done
	n=$(ls -a "$m/empty" | wc -l)
	[ "$n" = 2 ] && ok "$mode: an empty directory lists the dots" ||
		fail "$mode: an empty directory lists $n entries"
	touch "$b/many/late" "$b/empty/late"
	eventually "$mode: a name added to a long listing behind the mount" has_entries "$m/many" 2003
	eventually "$mode: a name added to an empty one" has_entries "$m/empty" 3
	# Two listings in a row are a walk: the daemon lists the
	# subdirectories ahead (fsbridge/dirahead.c), and must never answer
	# with one of those listings once something changed.
	ls "$m/walk" >/dev/null
	ls "$m/walk/d" >/dev/null
	sleep 0.2
	ahead=$("$FSB" stats "$m" 2>/dev/null | awk '$1 == "listings_ahead" { print $2 }')
	[ "${ahead:-0}" -ge 8 ] && ok "$mode: a walk lists subdirectories ahead ($ahead)" ||
		fail "$mode: a walk listed ${ahead:-no} subdirectories ahead, not 8"
	touch "$m/walk/d/s5/new"
	[ "$(ls "$m/walk/d/s5" | tr '\n' ' ')" = "f new " ] &&
		ok "$mode: a listing read ahead shows a name made through the mount since" ||
		fail "$mode: a listing read ahead shows '$(ls "$m/walk/d/s5" | tr '\n' ' ')' after a create through the mount"
	touch "$b/walk/d/s3/new"
	eventually "$mode: a listing read ahead shows a name made behind the mount since" \
		has_entries "$m/walk/d/s3" 4
	[ "$(ls "$m/walk/d/s7" | tr '\n' ' ')" = "f " ] &&
		ok "$mode: an unchanged listing read ahead is exact" ||
		fail "$mode: a listing read ahead shows '$(ls "$m/walk/d/s7" | tr '\n' ' ')', not 'f'"
	# The client answers "no such file" itself for names a directory it
	# has listed, or made, does not know: names made behind the mount
	# must still turn up, and never stay hidden.
	printf 'w\n' >"$b/dir/fresh"
	eventually "$mode: a new name in a listed directory" same_content "$m/dir/fresh" w
	mkdir "$m/made"
	printf 'z\n' >"$m/made/through"
	sleep 0.2
	printf 'y\n' >"$b/made/behind"
	eventually "$mode: a name made behind the mount in a directory made through it" \
		same_content "$m/made/behind" y
	[ "$(cat "$b/made/through" 2>&1)" = z ] && ok "$mode: a file made through the mount is there" ||
		fail "$mode: $b/made/through holds '$(cat "$b/made/through" 2>&1)', want z"
	rm "$m/made/through" "$m/made/behind" && rmdir "$m/made" &&
		[ ! -e "$b/made" ] && ok "$mode: removed through the mount" ||
		fail "$mode: removing made/ through the mount"
	stop_mount "$m" "$mount_pid" "$tmp/$mode.log"
done

# close() reports a write the server could not make: FLUSH never reaches
# the server, and with the writeback cache the kernel writes a file's
# pages inside close(), so the error must come from there (dd checks it).
# An explicit time set through the mount still reaches the server.
small=$tmp/small
if [ "$(id -u)" = 0 ] && mkdir -p "$small" && mounts="$mounts $small" &&
	timeout "$STEP" mount -t tmpfs -o size=1m fsb-small "$small"; then
	m=$tmp/m-small
	if start_mount "$small" "$m" "$tmp/small.log" --cache=coherent; then
		if dd if=/dev/zero of="$m/big" bs=64k count=64 2>"$tmp/dd.err"; then
			fail "4 MiB written to a 1 MiB file system without an error"
		elif grep -q 'No space left' "$tmp/dd.err"; then
			ok "ENOSPC reported: $(tail -n 1 "$tmp/dd.err")"
		else
			fail "dd failed, but not with ENOSPC: $(cat "$tmp/dd.err")"
		fi
		rm -f "$m/big"
		printf 'abc' >"$m/t"
		touch -d '2001-02-03 04:05:06' "$m/t"
		if [ "$(stat -c %Y "$small/t")" = "$(date -d '2001-02-03 04:05:06' +%s)" ]; then
			ok "an explicit mtime reaches the server"
		else
			fail "touch -d through the mount: the server has $(stat -c %y "$small/t")"
		fi
		stop_mount "$m" "$mount_pid" "$tmp/small.log"
	fi
	timeout -k 2 "$STEP" umount "$small" || timeout -k 2 "$STEP" umount -l "$small"
fi

# A plain umount right after a listing, a walk or a read of many files
# finds the mount idle: the daemon restats listed directories and read
# files through the mount while a walk or the reads go on
# (fsbridge/restat.c), which must not be under way when a script
# unmounts at once.
mkdir -p "$tmp/quick/sub"
touch "$tmp/quick/sub/f"
d=0
while [ $d -lt 300 ]; do
	mkdir -p "$tmp/quick/tree/$d" && touch "$tmp/quick/tree/$d/f"
	d=$((d + 1))
done
busy=0
for k in 1 2 3 4 5 6 7 8 9 10 11 12; do
	start_mount "$tmp/quick" "$tmp/quickmnt" "$tmp/quick.log" --cache=coherent || break
	case $((k % 3)) in
	0) ls "$tmp/quickmnt/sub" >/dev/null ;;
	1) find "$tmp/quickmnt" >/dev/null ;;
	2) find "$tmp/quickmnt" -type f -exec cat {} + >/dev/null ;;
	esac
	if ! umount "$tmp/quickmnt" 2>"$tmp/quick.err"; then
		busy=$((busy + 1))
		cp "$tmp/quick.err" "$tmp/quick.why"
		sleep 0.5
		unmount_hard "$tmp/quickmnt"
	fi
	reap_daemon "$tmp/quickmnt" "$mount_pid" "$tmp/quick.log"
done
[ $busy -eq 0 ] && ok "umount right after a listing, a walk or reads: 12 of 12" ||
	fail "umount right after a listing, a walk or reads failed $busy of 12 times: $(cat "$tmp/quick.why")"

[ $failures -eq 0 ] || exit 1
echo "PASS: coherence"
