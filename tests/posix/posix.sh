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
# RUN_AS, when set, is a command prefix that runs it as another user.
RUN_AS=
run_suite() {
	start=$(date +%s)
	# shellcheck disable=SC2086
	guarded "$SUITE_TIME" $RUN_AS "$SUITE" "$1" $CASES >"$2" 2>"$2.err"
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

# same_transcript LABEL TAG: the fsbridge transcript of run TAG is the native one.
same_transcript() {
	if diff -u "$tmp/native-$2.txt" "$tmp/fsb-$2.txt" >"$tmp/diff-$2"; then
		ok "$1: transcript identical to native"
	else
		fail "$1: transcript differs from native (- native, + fsbridge):"
		cat "$tmp/diff-$2"
	fi
}

# same_tree LABEL TAG: after run TAG the backing dir holds what the native
# dir holds, owners included.
same_tree() {
	if diff -u "$tmp/native-$2.tree" "$tmp/backing-$2.tree" >"$tmp/tdiff-$2"; then
		ok "$1: backing dir holds what the native dir holds"
	else
		fail "$1: backing dir differs from the native dir (- native, + backing):"
		head -n 60 "$tmp/tdiff-$2"
	fi
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
	run_suite "$mnt" "$tmp/fsb-$mode.txt" && same_transcript "cache=$mode" "$mode"
	stop_mount "$mnt" "$pid" "$log"
	tree "$backing" "$mnt" >"$tmp/backing-$mode.tree"
	same_tree "cache=$mode" "$mode"
	if [ $failures -ne $before ] && [ -s "$log" ]; then
		echo "   daemon log (last 30 lines):"
		tail -n 30 "$log" | sed 's/^/    /'
	fi
done

# The same suite run by an ordinary user (uid 1234, no groups: what
# `docker run --user 1234:1234` gets) in a folder of its own, on the
# coherent mount as root makes it (allow_other) and on the native disk:
# every EACCES and EPERM must be the native one. The cases that become
# other users themselves need root and are left out.
USER_ID=1234
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null && case " $MODES " in *" coherent "*) true ;; *) false ;; esac; then
	echo "== fsbridge --cache=coherent, the suite as uid $USER_ID"
	chmod 755 "$tmp" "$scratch"
	backing=$scratch/backing-user
	mnt=$tmp/mnt-user
	log=$tmp/daemon-user.log
	if start_mount "$backing" "$mnt" "$log" --cache=coherent; then
		pid=$mount_pid
		CASES=$(for c in $all_cases; do case $c in owners | suid_write) ;; *) echo "$c" ;; esac; done | tr '\n' ' ')
		mkdir "$scratch/native-user" "$mnt/user"
		chown $USER_ID:$USER_ID "$scratch/native-user" "$mnt/user"
		RUN_AS="setpriv --reuid $USER_ID --regid $USER_ID --clear-groups"
		run_suite "$scratch/native-user" "$tmp/native-user.txt" &&
			run_suite "$mnt/user" "$tmp/fsb-user.txt" &&
			same_transcript "as uid $USER_ID" user
		RUN_AS=
		stop_mount "$mnt" "$pid" "$log"
		tree "$scratch/native-user" "$scratch/native-user" >"$tmp/native-user.tree"
		tree "$backing/user" "$mnt/user" >"$tmp/backing-user.tree"
		same_tree "as uid $USER_ID" user
	fi
fi

if [ $failures -ne 0 ]; then
	echo "$failures check(s) failed"
	exit 1
fi
echo "all transcripts match native"
exit 0
