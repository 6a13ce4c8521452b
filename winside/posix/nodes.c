/*
 * nodes.c - names resolved into nodes, by the POSIX backend: one
 * component at a time below the parent's descriptor (openat2 where the
 * kernel has it), file handles, and pins that give a node a descriptor
 * before its file loses its last name. LOOKUP, root and FORGET. Nodes and
 * their descriptors are objs.c's; this file calls it and backend.c's
 * conversions.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#ifdef SYS_openat2
#include <linux/openat2.h>
#endif

#include "backend_int.h"
#include "fsb_proto.h"
#include "ws_posix.h"

/*
 * One component below dirfd, as an O_PATH descriptor of whatever is there,
 * a link included. openat2 adds the kernel's own guarantee that nothing
 * outside dirfd is reached; names are single validated components, so
 * plain openat with O_NOFOLLOW is equally confined where openat2 is
 * missing.
 */
int ws__posix_open_below(struct posix_be *pb, int dirfd, const char *name)
{
	int fd;

#ifdef SYS_openat2
	if (__atomic_load_n(&pb->try_openat2, __ATOMIC_RELAXED)) {
		struct open_how how;
		int tries;

		memset(&how, 0, sizeof(how));
		how.flags = O_PATH | O_NOFOLLOW | O_CLOEXEC;
		how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
		for (tries = 0; tries < 3; tries++) {
			fd = (int)syscall(SYS_openat2, dirfd, name, &how, sizeof(how));
			if (fd >= 0)
				return fd;
			/* EAGAIN: a concurrent rename made the kernel unsure
			 * about "..", which a single component never has;
			 * retry anyway as the man page asks. */
			if (errno != EAGAIN)
				break;
		}
		if (errno == ENOSYS || errno == E2BIG)
			__atomic_store_n(&pb->try_openat2, 0, __ATOMIC_RELAXED);
		else if (errno != EPERM)
			return -errno;
		/* EPERM: seccomp filters that predate openat2 say so; let
		 * openat give the real answer. */
	}
#else
	(void)pb;
#endif
	fd = openat(dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

/* A file handle for the object fd refers to, sized to fit, or NULL. */
struct file_handle *ws__posix_handle_of(int fd)
{
	struct file_handle *fh = malloc(sizeof(*fh) + MAX_HANDLE_SZ), *fit;
	int mount_id;

	if (!fh)
		return NULL;
	fh->handle_bytes = MAX_HANDLE_SZ;
	if (name_to_handle_at(fd, "", fh, &mount_id, AT_EMPTY_PATH) < 0) {
		free(fh);
		return NULL;
	}
	/* ext4 and xfs handles are 8 to 20 bytes: keep only those. */
	fit = realloc(fh, sizeof(*fh) + fh->handle_bytes);
	return fit ? fit : fh;
}

/* Pin the known node of whatever `name` in dirfd is now, unless a
 * directory. */
void ws__posix_pin_name(struct posix_be *pb, int dirfd, const char *name)
{
	struct stat s;

	if (fstatat(dirfd, name, &s, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISDIR(s.st_mode))
		ws__posix_obj_pin(pb, s.st_dev, s.st_ino);
}

/* Wrap an O_PATH descriptor into a node found in dir as name (NULL, NULL:
 * the root); takes fd. */
int ws__posix_node_from_fd(struct posix_be *pb, int fd, struct ws_bnode *dir, const char *name,
                           struct ws_bnode **out, struct ws_bstat *st)
{
	struct stat s;
	int err, rc;

	if (ws__posix_lstat_fd(fd, &s) < 0) {
		err = errno;
		close(fd);
		return ws__posix_status(err);
	}
	rc = ws__posix_obj_enter(pb, fd, &s, dir, name, out);
	if (rc)
		return rc;
	ws__posix_fill_bstat(&s, st);
	return 0;
}

int ws__posix_lookup(struct ws_backend *be, struct ws_bnode *dir, const char *name,
                     struct ws_bnode **out, struct ws_bstat *st)
{
	struct posix_be *pb = (struct posix_be *)be;
	int dfd, fd;

	dfd = ws__posix_dir_fd(pb, dir);
	if (dfd < 0)
		return dfd;
	fd = ws__posix_open_below(pb, dfd, name);
	ws__posix_node_fd_put(pb, dir, dfd);
	if (fd < 0)
		return ws__posix_status(-fd);
	return ws__posix_node_from_fd(pb, fd, dir, name, out, st);
}

int ws__posix_root(struct ws_backend *be, struct ws_bnode **out, struct ws_bstat *st)
{
	struct posix_be *pb = (struct posix_be *)be;
	int fd = fcntl(pb->root_fd, F_DUPFD_CLOEXEC, 0);

	if (fd < 0)
		return ws__posix_status(errno);
	return ws__posix_node_from_fd(pb, fd, NULL, NULL, out, st);
}

void ws__posix_forget(struct ws_backend *be, struct ws_bnode *n)
{
	ws__posix_obj_put((struct posix_be *)be, n);
}
