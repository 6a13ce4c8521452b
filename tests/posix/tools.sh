#!/bin/sh
# tests/posix/tools.sh - real tools on an fsbridge mount, side by side with
# the same tools on a native tmpfs dir.
#
#   git   init/add/commit of a generated tree (2,000 files in 220 dirs), a
#         change, a checkout, a directory move, a second commit and a gc:
#         identical commit and tree ids, clean status and diff, fsck passes.
#   tar   extraction of a generated tarball of 10,000+ files (symlinks, a
#         hard link, empty dirs, executables, odd names, large files):
#         diff -r is clean and find listings match.
#   npm   install of a few small packages with a private cache: node can
#         require them and the installed trees match (skipped alone, with a
#         message, when the npm registry cannot be reached).
#
# The mount uses the default cache mode. Every step runs under timeout.
# Environment: top_builddir, FSBRIDGE_WINSIDE, TOOLS_PARTS (default
# "git tar npm").
# Exit: 0 pass, 1 fail, 77 skip (no usable /dev/fuse, binaries missing).

set -u

. "$(dirname "$0")/lib.sh"

PARTS=${TOOLS_PARTS:-git tar npm}
BIG=120                 # seconds for the heavy steps (tar -x, npm install)
NPM_PKGS="is-number@7.0.0 lodash@4.17.21 chalk@4.1.2"

# ---- generators (run as child processes of this script, under timeout) -----

# gen_src DIR: 2,000 files of varied sizes in 200 leaf dirs under 20 parents,
# every tenth file with the executable bit.
gen_src() {
	awk -v root="$1" 'BEGIN {
		cmd = "mkdir -p"
		for (d = 0; d < 200; d++)
			cmd = cmd sprintf(" %s/src/m%02d/p%03d", root, d % 20, d)
		if (system(cmd) != 0)
			exit 1
		split("c h txt md", ext, " ")
		exe = "chmod +x"
		for (i = 0; i < 2000; i++) {
			d = i % 200
			f = sprintf("%s/src/m%02d/p%03d/file%04d.%s", root, d % 20, d, i, ext[i % 4 + 1])
			n = (i * 37) % 60 + 1
			for (l = 0; l < n; l++)
				printf "file %d line %d: %x %s\n", i, l, (i * 2654435761 + l * 40503) % 4294967296, substr("the quick brown fox jumps over the lazy dog", l % 20 + 1) > f
			close(f)
			if (i % 10 == 0)
				exe = exe " " f
		}
		printf "# generated\n" > (root "/README")
		close(root "/README")
		exit system(exe) != 0
	}'
}

# gen_tar DIR: 10,000 small files in 100 dirs, plus large files, symlinks
# (relative, to a dir, dangling, absolute), a hard link, empty dirs, modes,
# long and non-ASCII names.
gen_tar() {
	awk -v root="$1" 'BEGIN {
		cmd = "mkdir -p " root "/empty " root "/empty2/nested " root "/links " root "/bin " root "/big"
		for (d = 0; d < 100; d++)
			cmd = cmd sprintf(" %s/d%02d", root, d)
		if (system(cmd) != 0)
			exit 1
		for (i = 0; i < 10000; i++) {
			f = sprintf("%s/d%02d/f%05d.txt", root, i % 100, i)
			n = (i * 13) % 25
			printf "" > f
			for (l = 0; l < n; l++)
				printf "%05d:%02d %x\n", i, l, (i * 40503 + l * 2654435761) % 4294967296 > f
			close(f)
		}
		for (b = 0; b < 3; b++) {
			f = sprintf("%s/big/blob%d", root, b)
			for (l = 0; l < 20000 + b * 7777; l++)
				printf "%08d %08x blob %d padding padding padding\n", l, (l * 2654435761 + b) % 4294967296, b > f
			close(f)
		}
		f = root "/bin/run.sh"
		printf "#!/bin/sh\necho run\n" > f
		close(f)
		f = root "/" sprintf("%0200d", 7)
		printf "long name\n" > f
		close(f)
		f = root "/\303\274nic\303\266de \346\226\207\344\273\266.txt"
		printf "utf-8 name\n" > f
		close(f)
	}' || return 1
	(
		cd "$1" || exit 1
		chmod 755 bin/run.sh && chmod 600 d00/f00000.txt && chmod 640 d01/f00001.txt &&
			chmod 700 empty2 && chmod 1777 empty &&
			ln -s ../d00/f00100.txt links/rel &&
			ln -s ../d01 links/dir &&
			ln -s nowhere links/dangling &&
			ln -s /etc/hostname links/abs &&
			ln d02/f00002.txt links/hard
	)
}

# npm_install DIR CACHE: a project DIR/npmproj with NPM_PKGS installed.
# shellcheck disable=SC2086
npm_install() {
	mkdir -p "$1/npmproj" &&
		printf '{ "name": "fsbridge-probe", "version": "1.0.0", "private": true }\n' \
			>"$1/npmproj/package.json" &&
		cd "$1/npmproj" &&
		npm_config_cache=$2 npm_config_update_notifier=false \
			npm install --no-audit --no-fund --loglevel=error --prefer-offline $NPM_PKGS
}

case ${1:-} in
--gen-src) gen_src "$2"; exit ;;
--gen-tar) gen_tar "$2"; exit ;;
--npm-install) npm_install "$2" "$3"; exit ;;
esac

# ---- helpers ----------------------------------------------------------------

# run SECONDS CMD...: CMD within the time limit; its output in $tmp/out.
run() {
	s=$1
	shift
	guarded "$s" "$@" >"$tmp/out" 2>&1
	rc=$?
	[ $rc -eq 124 ] && echo "(timed out after ${s}s: $*)" >>"$tmp/out"
	return $rc
}

# run_side DIR SECONDS CMD...: run, with @D@ in any word of CMD replaced by DIR.
run_side() {
	d=$1
	s=$2
	shift 2
	n=$#
	while [ $n -gt 0 ]; do
		a=$1
		shift
		case $a in *@D@*) a=$(printf '%s\n' "$a" | sed "s|@D@|$d|g") ;; esac
		set -- "$@" "$a"
		n=$((n - 1))
	done
	run "$s" "$@"
}

# on_both NAME SECONDS CMD...: CMD natively and on the mount (@D@ is each
# side's dir); fails when either side fails. Outputs in $tmp/{native,mnt}.out.
on_both() {
	name=$1
	shift
	bad=0
	for side in native mnt; do
		eval "d=\$$side"
		if ! run_side "$d" "$@"; then
			fail "$name ($side): $(head -c 600 "$tmp/out")"
			bad=1
		fi
		cp "$tmp/out" "$tmp/$side.out"
	done
	return $bad
}

# same_output NAME SECONDS CMD...: CMD on both sides; outputs must be equal.
same_output() {
	on_both "$@" || return 1
	if cmp -s "$tmp/native.out" "$tmp/mnt.out"; then
		ok "$1"
	else
		fail "$1: output differs (- native, + fsbridge):"
		diff -u "$tmp/native.out" "$tmp/mnt.out" | head -n 40
		return 1
	fi
}

# empty_on_mount NAME: the last same_output printed nothing.
empty_on_mount() {
	[ -s "$tmp/mnt.out" ] && fail "$1 is not empty on the mount: $(head -c 400 "$tmp/mnt.out")"
}

# listing DIR: types, modes, sizes and names, sorted.
listing() {
	(cd "$1" && find . -printf '%y %m %s %P\n' | LC_ALL=C sort)
}

# ---- git -------------------------------------------------------------------

part_git() {
	echo "== git"
	for side in native mnt; do
		eval "d=\$$side"
		run 60 sh "$0" --gen-src "$d/repo" ||
			{ fail "generate tree ($side): $(head -c 400 "$tmp/out")"; return; }
	done
	same_output "generated tree listing" 60 sh -c 'cd "$1/repo" && find . -printf "%y %m %s %P\n" | LC_ALL=C sort' sh @D@
	same_output "git init" 30 git -C @D@/repo init -q -b main
	on_both "git add" 60 git -C @D@/repo add -A || return
	same_output "git commit" 60 git -C @D@/repo commit -q -m "generated tree"
	same_output "commit id" 30 git -C @D@/repo rev-parse HEAD
	same_output "git status --porcelain is empty" 60 git -C @D@/repo status --porcelain
	empty_on_mount "git status"
	same_output "git diff is empty" 60 git -C @D@/repo diff
	empty_on_mount "git diff"
	same_output "git fsck" 60 git -C @D@/repo fsck --strict --no-progress

	# A change, seen by status and diff, then undone by checkout.
	on_both "modify a file" 30 sh -c 'echo changed >> "$1/repo/src/m03/p003/file0003.md" && chmod -x "$1/repo/src/m00/p000/file0000.c"' sh @D@
	same_output "git status sees the change" 60 git -C @D@/repo status --porcelain
	same_output "git diff shows it" 60 git -C @D@/repo diff
	same_output "git checkout restores" 60 git -C @D@/repo checkout -q -- .
	same_output "status clean after checkout" 60 git -C @D@/repo status --porcelain
	empty_on_mount "git status after checkout"

	# A whole directory renamed, a second commit, a gc (pack, prune, rename).
	same_output "git mv" 60 git -C @D@/repo mv src/m07 src/moved
	same_output "second commit" 60 git -C @D@/repo commit -q -m "move m07"
	same_output "tree ids (git log %T)" 30 git -C @D@/repo log --format=%T
	same_output "git gc" 120 git -C @D@/repo gc -q --prune=now
	same_output "git fsck after gc" 60 git -C @D@/repo fsck --strict --no-progress
	same_output "status after gc" 60 git -C @D@/repo status --porcelain
	empty_on_mount "git status after gc"
	same_output "git log after gc" 30 git -C @D@/repo log --format='%H %T %s'
}

# ---- tar -------------------------------------------------------------------

part_tar() {
	echo "== tar"
	src=$tmp/tarsrc
	mkdir -p "$src"
	if ! run 120 sh "$0" --gen-tar "$src"; then
		fail "generate tar source: $(head -c 400 "$tmp/out")"
		return
	fi
	if ! run 120 tar -C "$src" --sort=name --owner=0 --group=0 --numeric-owner \
		--mtime=2020-01-02 -cf "$tmp/big.tar" .; then
		fail "make tarball: $(head -c 400 "$tmp/out")"
		return
	fi
	echo "   tarball: $(tar -tf "$tmp/big.tar" | wc -l) members, $(($(wc -c <"$tmp/big.tar") / 1024)) KiB"
	on_both "mkdir" 10 mkdir @D@/tarx || return
	for side in native mnt; do
		eval "d=\$$side"
		t0=$(date +%s)
		if run $BIG tar -C "$d/tarx" -xf "$tmp/big.tar"; then
			echo "   tar -x on $side: $(($(date +%s) - t0))s"
		else
			fail "tar -x on $side: $(head -c 600 "$tmp/out")"
			return
		fi
	done
	if run 120 diff -r --no-dereference "$native/tarx" "$mnt/tarx"; then
		ok "diff -r of the extracted trees is clean"
	else
		fail "diff -r of the extracted trees:"
		head -n 30 "$tmp/out"
	fi
	listing "$native/tarx" >"$tmp/tar-native.list"
	listing "$mnt/tarx" >"$tmp/tar-mnt.list"
	if cmp -s "$tmp/tar-native.list" "$tmp/tar-mnt.list"; then
		ok "find listings match ($(wc -l <"$tmp/tar-mnt.list") entries)"
	else
		fail "find listings differ (- native, + fsbridge):"
		diff -u "$tmp/tar-native.list" "$tmp/tar-mnt.list" | head -n 40
	fi
	same_output "symlink targets" 60 sh -c 'cd "$1/tarx" && find . -type l -printf "%P -> %l\n" | LC_ALL=C sort' sh @D@
	same_output "hard link count" 10 stat -c '%h %s' @D@/tarx/links/hard
	same_output "tar -d against the archive" 120 tar -C @D@/tarx -df "$tmp/big.tar"
}

# ---- npm -------------------------------------------------------------------

part_npm() {
	echo "== npm"
	if ! command -v npm >/dev/null 2>&1 || ! command -v node >/dev/null 2>&1; then
		echo "SKIP (npm part): npm or node missing"
		return
	fi
	# Natively first: that fills the private cache from the registry, and
	# tells whether the registry can be reached at all.
	t0=$(date +%s)
	if ! run $BIG sh "$0" --npm-install "$native" "$tmp/npm-cache"; then
		echo "SKIP (npm part): npm install failed natively; registry unreachable?"
		sed 's/^/    /' "$tmp/out" | head -n 10
		return
	fi
	echo "   npm install native: $(($(date +%s) - t0))s"
	t0=$(date +%s)
	if ! run $BIG sh "$0" --npm-install "$mnt" "$tmp/npm-cache"; then
		fail "npm install on the mount: $(head -c 800 "$tmp/out")"
		return
	fi
	echo "   npm install on the mount: $(($(date +%s) - t0))s"
	if run 30 sh -c 'cd "$1/npmproj" && node -e "require(\"lodash\"); require(\"chalk\"); if (!require(\"is-number\")(5)) process.exit(1)"' sh "$mnt"; then
		ok "node requires lodash, chalk, is-number from the mount"
	else
		fail "node require on the mount: $(head -c 600 "$tmp/out")"
	fi
	listing "$native/npmproj" >"$tmp/npm-native.list"
	listing "$mnt/npmproj" >"$tmp/npm-mnt.list"
	if cmp -s "$tmp/npm-native.list" "$tmp/npm-mnt.list"; then
		ok "installed file lists match ($(wc -l <"$tmp/npm-mnt.list") entries)"
	else
		fail "installed file lists differ (- native, + fsbridge):"
		diff -u "$tmp/npm-native.list" "$tmp/npm-mnt.list" | head -n 40
	fi
	if run 60 diff -r --no-dereference "$native/npmproj" "$mnt/npmproj"; then
		ok "installed contents match (diff -r)"
	else
		fail "installed contents differ:"
		head -n 20 "$tmp/out"
	fi
}

# ---- main ------------------------------------------------------------------

need_fuse
command -v git >/dev/null 2>&1 || skip "git missing"
command -v tar >/dev/null 2>&1 || skip "tar missing"
make_tmp tools

native=$scratch/native
backing=$scratch/backing
mnt=$tmp/mnt
mkdir -p "$native" "$tmp/home"
# Fixed identities and dates: both sides must make the very same commits.
HOME=$tmp/home
GIT_CONFIG_NOSYSTEM=1
GIT_CONFIG_GLOBAL=/dev/null
GIT_AUTHOR_NAME=Test
GIT_AUTHOR_EMAIL=test@example.invalid
GIT_COMMITTER_NAME=Test
GIT_COMMITTER_EMAIL=test@example.invalid
GIT_AUTHOR_DATE=2020-01-02T03:04:05Z
GIT_COMMITTER_DATE=2020-01-02T03:04:05Z
export HOME GIT_CONFIG_NOSYSTEM GIT_CONFIG_GLOBAL GIT_AUTHOR_NAME GIT_AUTHOR_EMAIL \
	GIT_COMMITTER_NAME GIT_COMMITTER_EMAIL GIT_AUTHOR_DATE GIT_COMMITTER_DATE

log=$tmp/daemon.log
start_mount "$backing" "$mnt" "$log" || exit 1
pid=$mount_pid
t_start=$(date +%s)

for p in $PARTS; do
	t_part=$(date +%s)
	case $p in
	git) part_git ;;
	tar) part_tar ;;
	npm) part_npm ;;
	*) echo "unknown part '$p'"; exit 99 ;;
	esac
	echo "   ($p: $(($(date +%s) - t_part))s)"
done

stop_mount "$mnt" "$pid" "$log"
echo "total $(($(date +%s) - t_start))s"
if [ $failures -ne 0 ]; then
	echo "$failures check(s) failed; daemon log (last 30 lines):"
	tail -n 30 "$log" | sed 's/^/    /'
	exit 1
fi
echo "all tool checks passed"
exit 0
