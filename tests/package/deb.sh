#!/bin/sh
# tests/package/deb.sh - the Debian package, installed on this machine,
# used, and removed.
#
# Builds it with scripts/deb, installs it with dpkg, checks what it put
# where (the programs, the mount(8) helper, manual pages, systemd units,
# winside.exe), mounts with the installed programs only - through mount(8)
# and the helper, and with the installed winside found next to fsbridge -
# then removes and purges it and checks that nothing of it is left.
# Skipped where fsbridge is installed already (the test would replace it).
# Exit: 0 pass, 1 fail, 77 skip (not root, no dpkg, no usable /dev/fuse).

set -u

. "$(dirname "$0")/../posix/lib.sh"

[ "$(id -u)" = 0 ] || skip "installs a package: needs root"
command -v dpkg-deb >/dev/null 2>&1 || skip "no dpkg-deb"
dpkg-query -W -f='${Status}' fsbridge 2>/dev/null | grep -q "ok installed" &&
	skip "an fsbridge package is installed already; not replacing it"
need_fuse
make_tmp deb
installed=0

deb_cleanup() {
	rc=$?
	if [ $installed = 1 ]; then
		for m in $mounts; do
			unmount_hard "$m"
		done
		dpkg -P fsbridge >/dev/null 2>&1
	fi
	(exit $rc)
	cleanup
}
trap deb_cleanup EXIT

echo "== build"
t0=$(date +%s)
if deb=$(guarded 900 "$top_srcdir/scripts/deb" "$tmp" 2>"$tmp/deb.err" | tail -n 1) && [ -f "$deb" ]; then
	ok "built $(basename "$deb") ($(du -h "$deb" | cut -f1)) in $(($(date +%s) - t0)) s"
else
	fail "scripts/deb: $(tail -n 10 "$tmp/deb.err")"
	exit 1
fi

echo "== install"
if dpkg -i "$deb" >"$tmp/dpkg.out" 2>&1; then
	installed=1
	ok "dpkg -i"
else
	fail "dpkg -i: $(tail -n 5 "$tmp/dpkg.out")"
	dpkg -P fsbridge >/dev/null 2>&1
	exit 1
fi
for f in /usr/bin/fsbridge /usr/bin/winside /usr/share/man/man8/fsbridge.8.gz \
	/usr/share/man/man8/winside.8.gz /usr/share/man/man8/mount.fuse.fsbridge.8.gz \
	/usr/share/man/man5/fsbridge.conf.5.gz /usr/lib/systemd/system/fsbridge-automount.service \
	/usr/lib/systemd/system/fsbridge-volume-plugin.service \
	/usr/lib/systemd/system/fsbridge-volume-plugin.socket; do
	[ -e "$f" ] && ok "installed $f" || fail "missing $f"
done
[ "$(readlink -f /usr/sbin/mount.fuse.fsbridge)" = /usr/bin/fsbridge ] &&
	ok "mount.fuse.fsbridge is fsbridge" || fail "no mount(8) helper"
if command -v x86_64-w64-mingw32-gcc >/dev/null; then
	[ -f /usr/share/fsbridge/windows/winside.exe ] && ok "winside.exe for Windows is shipped" ||
		fail "no winside.exe in the package"
fi
grep -q "ExecStart=/usr/bin/fsbridge volume-plugin" /usr/lib/systemd/system/fsbridge-volume-plugin.service &&
	ok "the units run the installed program" || fail "units name the wrong program"
/usr/bin/fsbridge --version >"$tmp/v.out" 2>&1 && ok "$(cat "$tmp/v.out")" || fail "fsbridge --version"
zcat /usr/share/man/man8/fsbridge.8.gz | grep -q '^\.SH NAME' && ok "fsbridge(8) reads" ||
	fail "fsbridge(8) is not a manual page"

echo "== use: the installed programs alone"
backing=$scratch/backing
mnt=$tmp/mnt
mkdir -p "$backing" "$mnt"
printf 'from the package\n' >"$backing/f"
mounts="$mnt"
# No FSBRIDGE_WINSIDE: the installed fsbridge finds the installed winside.
if env -u FSBRIDGE_WINSIDE PATH=/usr/sbin:/usr/bin:/sbin:/bin \
	timeout -k 5 "$STEP" mount -t fuse.fsbridge "$backing" "$mnt" -o local >"$tmp/mount.out" 2>&1 &&
	is_mounted "$mnt"; then
	ok "mount -t fuse.fsbridge DIR MNT -o local"
	[ "$(cat "$mnt/f" 2>&1)" = "from the package" ] && ok "reads through it" || fail "read: $(cat "$mnt/f" 2>&1)"
	printf 'back\n' >"$mnt/g" && [ "$(cat "$backing/g")" = back ] && ok "writes through it" ||
		fail "write through the mount"
	ps -eo args | grep -q "^/usr/bin/winside serve" && ok "served by the installed winside" ||
		fail "not the installed winside: $(ps -eo args | grep 'winside serve' | head -n 2)"
	timeout -k 5 "$STEP" /usr/bin/fsbridge umount "$mnt" && ! is_mounted "$mnt" && ok "fsbridge umount" ||
		fail "umount with the installed fsbridge"
else
	fail "mount(8) with the helper: $(cat "$tmp/mount.out")"
fi

echo "== remove"
if dpkg -P fsbridge >"$tmp/dpkg.out" 2>&1; then
	installed=0
	ok "dpkg -P"
else
	fail "dpkg -P: $(tail -n 5 "$tmp/dpkg.out")"
fi
left=$(ls -d /usr/bin/fsbridge /usr/bin/winside /usr/sbin/mount.fuse.fsbridge \
	/usr/share/fsbridge /usr/share/doc/fsbridge /usr/lib/systemd/system/fsbridge-* 2>/dev/null)
[ -z "$left" ] && ok "nothing of the package is left" || fail "left behind: $left"

if [ $failures -ne 0 ]; then
	echo "$failures check(s) failed"
	exit 1
fi
echo "all package checks passed"
exit 0
