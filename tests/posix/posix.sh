#!/bin/sh
# tests/posix/posix.sh - the POSIX behaviour suite on fsbridge, errno by errno
# against a native file system.
#
# Runs tests/posix/posix_suite on a native tmpfs dir, then on an
# `fsbridge mount --local` mount of a fresh backing dir (on the same tmpfs)
# in each cache mode, and diffs every transcript against the native one: any
# difference fails. After each mount is gone, the backing dir must also hold
# exactly what the native dir holds (types, modes, link counts, owners,
# sizes, contents), so what the mount showed is what reached the server.
#
# Environment: top_builddir (set by make check), FSBRIDGE_WINSIDE,
# POSIX_CACHE_MODES (default "coherent strict none"), POSIX_SUITE_TIMEOUT
# (seconds per suite run, default 300), POSIX_CASES (subset of cases).
# Exit: 0 pass, 1 fail, 77 skip (no usable /dev/fuse, binaries missing).

set -u

. "$(dirname "$0")/lib.sh"

SUITE=$top_builddir/tests/posix/posix_suite
MODES=${POSIX_CACHE_MODES:-coherent strict none}
SUITE_TIME=${POSIX_SUITE_TIMEOUT:-300}
CASES=${POSIX_CASES:-}

[ -x "$SUITE" ] || skip "posix_suite not built ($SUITE)"
need_fuse
make_tmp posix

# run_suite DIR OUT: the suite within its time limit; 0 when it ran to the end.
run_suite() {
	start=$(date +%s)
	# shellcheck disable=SC2086
	guarded "$SUITE_TIME" "$SUITE" "$1" $CASES >"$2" 2>"$2.err"
	rc=$?
	secs=$(($(date +%s) - start))
	case $rc in
	0) echo "   ran in ${secs}s, $(wc -l <"$2") steps" ;;
	124 | 137)
		fail "posix_suite on $1 timed out after ${SUITE_TIME}s; last steps:"
		tail -n 3 "$2" | sed 's/^/    /'
		return 1 ;;
	*)
		fail "posix_suite on $1 exited with status $rc; last steps and stderr:"
		tail -n 3 "$2" | sed 's/^/    /'
		sed 's/^/    /' "$2.err"
		return 1 ;;
	esac
}

# tree DIR ROOT: what a directory holds, without what legitimately differs
# (times, inode numbers, directory sizes). ROOT, the path the suite ran in,
# is written @ROOT@ in symlink targets: the suite makes one absolute link.
tree() {
	(
		cd "$1" || exit 1
		find . ! -type d ! -type l -printf '%y %m %n %U:%G %s %P\n'
		find . -type d -printf '%y %m %n %U:%G %P\n'
		find . -type l -printf '%y %m %n %U:%G %P -> %l\n'
		find . -type f -print0 | xargs -0 -r md5sum
	) | awk -v root="$2" '{
		while ((i = index($0, root)) > 0)
			$0 = substr($0, 1, i - 1) "@ROOT@" substr($0, i + length(root))
		print
	}' | LC_ALL=C sort
}

# Known gaps: cases a cache mode cannot pass yet, each with its reason,
# printed on every run. They are left out of that mode's comparison only;
# every other case must match native exactly.
#   mmap       --cache=none is direct I/O, and shared mmap of a direct-I/O
#              file needs FUSE_DIRECT_IO_ALLOW_MMAP, which libfuse 3.14 cannot
#              request
#   suid_write --cache=none is direct I/O, where the kernel leaves clearing
#              set-user-ID on a write to the daemon (FUSE_WRITE_KILL_SUIDGID),
#              and libfuse 3.14 does not pass that flag on to it
gaps_for() {
	case $1 in
	none) echo "mmap suid_write" ;;
	*) echo "" ;;
	esac
}

all_cases=$CASES
[ -n "$all_cases" ] || all_cases=$("$SUITE" -l | awk '{print $1}' | tr '\n' ' ')

for mode in $MODES; do
	echo "== fsbridge --cache=$mode"
	backing=$scratch/backing-$mode
	mnt=$tmp/mnt-$mode
	log=$tmp/daemon-$mode.log
	before=$failures
	start_mount "$backing" "$mnt" "$log" --cache="$mode" || continue
	pid=$mount_pid
	gaps=$(gaps_for "$mode")
	[ -z "$gaps" ] || echo "   known gaps, not compared: $gaps (see the reasons in $0)"
	CASES=$(for c in $all_cases; do case " $gaps " in *" $c "*) ;; *) echo "$c" ;; esac; done | tr '\n' ' ')
	# The native reference for this mode runs the same cases, so that even
	# the root directory's link count is comparable.
	mkdir "$scratch/native-$mode"
	run_suite "$scratch/native-$mode" "$tmp/native-$mode.txt" || exit 1
	tree "$scratch/native-$mode" "$scratch/native-$mode" >"$tmp/native-$mode.tree"
	if run_suite "$mnt" "$tmp/fsb-$mode.txt"; then
		if diff -u "$tmp/native-$mode.txt" "$tmp/fsb-$mode.txt" >"$tmp/diff-$mode"; then
			ok "cache=$mode: transcript identical to native"
		else
			fail "cache=$mode: transcript differs from native (- native, + fsbridge):"
			cat "$tmp/diff-$mode"
		fi
	fi
	stop_mount "$mnt" "$pid" "$log"
	tree "$backing" "$mnt" >"$tmp/backing-$mode.tree"
	if diff -u "$tmp/native-$mode.tree" "$tmp/backing-$mode.tree" >"$tmp/tdiff-$mode"; then
		ok "cache=$mode: backing dir holds what the native dir holds"
	else
		fail "cache=$mode: backing dir differs from the native dir (- native, + backing):"
		head -n 60 "$tmp/tdiff-$mode"
	fi
	if [ $failures -ne $before ] && [ -s "$log" ]; then
		echo "   daemon log (last 30 lines):"
		tail -n 30 "$log" | sed 's/^/    /'
	fi
done

if [ $failures -ne 0 ]; then
	echo "$failures check(s) failed"
	exit 1
fi
echo "all transcripts match native"
exit 0
