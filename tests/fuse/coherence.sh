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

for mode in replay invalidate; do
	b=$scratch/b-$mode
	m=$tmp/m-$mode
	mkdir -p "$b/dir"
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
	stop_mount "$m" "$mount_pid" "$tmp/$mode.log"
done

[ $failures -eq 0 ] || exit 1
echo "PASS: coherence"
