#!/bin/sh
# tests/posix/users.sh - the mount as users other than root see it.
#
# A root mount lets other users in (allow_other by default, as bindfs
# does) with the kernel's permission checks, and what such a user makes
# belongs to that user on the server; `-o noallow_other` keeps them out.
# A user may mount on their own (fusermount3), files then belong to that
# user, and asking for allow_other without user_allow_other in
# /etc/fuse.conf is refused with a message that says so. Every mount is
# released and every process stopped on every path (lib.sh).
# Exit: 0 pass, 1 fail, 77 skip (not root, no setpriv, no usable /dev/fuse).

set -u

. "$(dirname "$0")/lib.sh"

USER_A=1234

need_fuse
[ "$(id -u)" = 0 ] || skip "needs root, to become other users"
command -v setpriv >/dev/null || skip "no setpriv (util-linux)"
command -v fusermount3 >/dev/null || skip "no fusermount3 (fuse3) for user mounts"
make_tmp users
# Other users must reach what is inside.
chmod 755 "$tmp"

mount_opts() {
	awk -v m="$1" '$2 == m { print $4 }' /proc/self/mounts
}

# as_a CMD...: CMD as uid:gid 1234:1234 with no other groups, as
# `docker run --user 1234:1234` runs it, within $STEP seconds.
as_a() {
	timeout -k 2 "$STEP" setpriv --reuid $USER_A --regid $USER_A --clear-groups \
		env HOME="$tmp/home" "$@"
}

# owner PATH: "uid:gid mode" on the backing side.
owner() {
	stat -c '%u:%g %a' "$1" 2>&1
}

same() {
	if [ "$2" = "$3" ]; then
		ok "$1"
	else
		fail "$1: got '$2', expected '$3'"
	fi
}

mkdir -p "$tmp/home"
chown $USER_A:$USER_A "$tmp/home"

# ---- a root mount: others come in, and own what they make ------------------

b=$scratch/b-root
m=$tmp/m-root
mkdir -p "$b/app" "$m"
chown $USER_A:$USER_A "$b/app"
printf 'root\n' >"$b/rootfile"
if start_mount "$b" "$m" "$tmp/root.log"; then
	case ",$(mount_opts "$m")," in
	*,allow_other,*) ok "a root mount allows other users by default" ;;
	*) fail "a root mount lacks allow_other: $(mount_opts "$m")" ;;
	esac
	case ",$(mount_opts "$m")," in
	*,default_permissions,*) ok "the kernel checks permissions (default_permissions)" ;;
	*) fail "no default_permissions: $(mount_opts "$m")" ;;
	esac
	if as_a sh -c "cd '$m/app' && umask 022 && printf 'a\n' >f && printf 'b\n' >>f &&
	                mkdir -p d/e && printf 'x\n' >d/e/g && ln -s f l && mv f f2 &&
	                chmod 600 f2" 2>"$tmp/out"; then
		ok "uid $USER_A creates, appends, makes folders and files in them"
	else
		fail "uid $USER_A could not work in its own folder: $(cat "$tmp/out")"
	fi
	same "a file it made is its own, on the server" "$(owner "$b/app/f2")" "$USER_A:$USER_A 600"
	same "a folder it made is its own, on the server" "$(owner "$b/app/d/e")" "$USER_A:$USER_A 755"
	same "a file in that folder is its own" "$(owner "$b/app/d/e/g")" "$USER_A:$USER_A 644"
	same "its symlink is its own" "$(stat -c '%u:%g' "$b/app/l")" "$USER_A:$USER_A"
	same "the content arrived" "$(cat "$b/app/f2")" "a
b"
	if as_a sh -c "printf x >>'$m/rootfile'" 2>"$tmp/out"; then
		fail "uid $USER_A appended to root's 0644 file"
	elif grep -q "Permission denied" "$tmp/out"; then
		ok "root's 0644 file refuses uid $USER_A's writes (EACCES)"
	else
		fail "writing root's file: $(cat "$tmp/out")"
	fi
	if as_a chown 5678 "$m/app/d/e/g" 2>"$tmp/out"; then
		fail "uid $USER_A gave a file away"
	elif grep -q "not permitted" "$tmp/out"; then
		ok "giving a file to another user is EPERM"
	else
		fail "chown: $(cat "$tmp/out")"
	fi
	same "root's file is unchanged" "$(cat "$b/rootfile")" "root"
	stop_mount "$m" "$mount_pid" "$tmp/root.log"
fi

# ---- noallow_other keeps other users out --------------------------------------

b=$scratch/b-private
m=$tmp/m-private
mkdir -p "$b" "$m"
if start_mount "$b" "$m" "$tmp/private.log" -o noallow_other; then
	case ",$(mount_opts "$m")," in
	*,allow_other,*) fail "-o noallow_other still mounted with allow_other" ;;
	*) ok "-o noallow_other mounts without allow_other" ;;
	esac
	if as_a ls "$m" >"$tmp/out" 2>&1; then
		fail "uid $USER_A listed a noallow_other mount"
	else
		ok "uid $USER_A is kept out: $(head -n 1 "$tmp/out")"
	fi
	stop_mount "$m" "$mount_pid" "$tmp/private.log"
fi

# ---- a user mounts on their own ------------------------------------------------

# fusermount3 wants the user in the password database: take nobody.
USER_M=$(id -u nobody 2>/dev/null || echo 65534)
GROUP_M=$(id -g nobody 2>/dev/null || echo 65534)
as_m() {
	timeout -k 2 "$STEP" setpriv --reuid "$USER_M" --regid "$GROUP_M" --clear-groups \
		env HOME="$tmp/home-m" "$@"
}
mkdir -p "$tmp/home-m"
chown "$USER_M:$GROUP_M" "$tmp/home-m"
b=$scratch/b-user
m=$tmp/m-user
mkdir -p "$b" "$m"
chown "$USER_M:$GROUP_M" "$b" "$m"
mounts="$mounts $m"
if ! as_m sh -c 'exec 3<>/dev/fuse' 2>/dev/null; then
	# Debian makes it 0666; some containers and sandboxes do not.
	echo "SKIP: user mounts: /dev/fuse is $(stat -c %A /dev/fuse), closed to uid $USER_M"
elif as_m "$FSB" mount --local "$b" "$m" 2>"$tmp/user.log"; then
	ok "uid $USER_M mounts a folder of its own"
	case ",$(mount_opts "$m")," in
	*,allow_other,*) fail "a user's mount got allow_other without asking" ;;
	*) ok "a user's mount is private by default" ;;
	esac
	if as_m sh -c "umask 022 && printf 'u\n' >'$m/f' && mkdir '$m/d'" 2>"$tmp/out"; then
		same "its files are its own" "$(owner "$b/f")" "$USER_M:$GROUP_M 644"
	else
		fail "uid $USER_M on its own mount: $(cat "$tmp/out")"
	fi
	if as_m "$FSB" umount "$m" 2>"$tmp/out" && ! is_mounted "$m"; then
		ok "uid $USER_M unmounts it"
	else
		fail "uid $USER_M could not unmount: $(cat "$tmp/out")"
	fi
else
	fail "user mount: $(cat "$tmp/user.log")"
fi

# ---- allow_other for a user needs user_allow_other -------------------------------

if grep -q '^[[:space:]]*user_allow_other' /etc/fuse.conf 2>/dev/null; then
	echo "SKIP: /etc/fuse.conf has user_allow_other: the refusal cannot be seen here"
else
	if as_m "$FSB" mount --local -o allow_other "$b" "$m" >"$tmp/out" 2>&1; then
		fail "uid $USER_M got allow_other without user_allow_other"
		as_m "$FSB" umount "$m"
	elif grep -q "user_allow_other" "$tmp/out" && grep -q "/etc/fuse.conf" "$tmp/out"; then
		ok "allow_other without user_allow_other is refused: $(head -n 1 "$tmp/out")"
	else
		fail "allow_other refusal does not say why: $(cat "$tmp/out")"
	fi
	is_mounted "$m" && fail "a refused mount is mounted"
fi

if [ $failures -ne 0 ]; then
	echo "$failures check(s) failed"
	exit 1
fi
echo "all user checks passed"
exit 0
