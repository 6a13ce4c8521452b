/*
 * attrs.c - the POSIX backend's requests about one node's metadata:
 * GETATTR, SETATTR (mode, owner, size, times), STATFS, READLINK, each
 * through the node's O_PATH descriptor or an open file. Calls nodes.c
 * for the descriptor and backend.c's conversions.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "backend_int.h"
#include "fsb_proto.h"

int ws__posix_getattr(struct ws_backend *be, struct ws_bnode *n, struct ws_bfile *f,
                      struct fsb_attr *attr)
{
	struct stat s;
	int rc;

	if (f) {
		rc = fstat(f->fd, &s);
	} else {
		int fd = ws__posix_node_fd((struct posix_be *)be, n);

		if (fd < 0)
			return fd;
		rc = ws__posix_lstat_fd(fd, &s);
		if (rc < 0)
			rc = -errno;
		ws__posix_node_fd_put((struct posix_be *)be, n, fd);
		if (rc < 0)
			errno = -rc;
	}
	if (rc < 0)
		return ws__posix_status(errno);
	ws__posix_fill_attr(&s, attr);
	return 0;
}

/* SETATTR through nfd, the node's O_PATH descriptor. */
static int setattr_at(struct ws_bnode *n, int nfd, struct ws_bfile *f,
                      const struct fsb_setattr_req *req)
{
	const uint32_t times = FSB_SET_ATIME | FSB_SET_MTIME | FSB_SET_ATIME_NOW | FSB_SET_MTIME_NOW;
	uint32_t v = req->valid;
	int fd = f ? f->fd : -1;
	char proc[PROC_FD_LEN];
	int rc;

	ws__posix_proc_path(proc, nfd);
	if (v & FSB_SET_MODE) {
		/* Linux has no mode on links (fchmodat with NOFOLLOW says
		 * EOPNOTSUPP); through /proc it would reach the link inode
		 * and fail the same way, so say it up front. */
		if (n->type == S_IFLNK)
			return -FSB_ENOTSUP;
		rc = fd >= 0 ? fchmod(fd, req->mode & 07777)
		             : fchmodat(AT_FDCWD, proc, req->mode & 07777, 0);
		if (rc < 0)
			return ws__posix_status(errno);
	}
	if (v & (FSB_SET_UID | FSB_SET_GID)) {
		uid_t uid = (v & FSB_SET_UID) ? (uid_t)req->uid : (uid_t)-1;
		gid_t gid = (v & FSB_SET_GID) ? (gid_t)req->gid : (gid_t)-1;

		rc = fd >= 0 ? fchown(fd, uid, gid)
		             : fchownat(nfd, "", uid, gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW);
		if (rc < 0)
			return ws__posix_status(errno);
	}
	if (v & FSB_SET_SIZE) {
		if (n->type == S_IFDIR)
			return -FSB_EISDIR;
		if (n->type != S_IFREG)
			return -FSB_EINVAL;
		if (req->size > (uint64_t)INT64_MAX)
			return -FSB_EFBIG;
		rc = -1;
		errno = EBADF;
		if (fd >= 0)
			rc = ftruncate(fd, (off_t)req->size);
		/* A handle opened read-only cannot truncate; the node can,
		 * with the same permission check a path truncate does. */
		if (rc < 0 && (errno == EBADF || errno == EINVAL))
			rc = truncate(proc, (off_t)req->size);
		if (rc < 0)
			return ws__posix_status(errno);
	}
	if (v & times) {
		struct timespec ts[2];

		ts[0].tv_sec = 0;
		ts[0].tv_nsec = UTIME_OMIT;
		ts[1] = ts[0];
		if (v & FSB_SET_ATIME_NOW) {
			ts[0].tv_nsec = UTIME_NOW;
		} else if (v & FSB_SET_ATIME) {
			ts[0].tv_sec = (time_t)req->atime.sec;
			ts[0].tv_nsec = (long)req->atime.nsec;
		}
		if (v & FSB_SET_MTIME_NOW) {
			ts[1].tv_nsec = UTIME_NOW;
		} else if (v & FSB_SET_MTIME) {
			ts[1].tv_sec = (time_t)req->mtime.sec;
			ts[1].tv_nsec = (long)req->mtime.nsec;
		}
		if (fd >= 0) {
			rc = futimens(fd, ts);
		} else {
			rc = utimensat(nfd, "", ts, AT_EMPTY_PATH);
			/* Kernels before 5.8 refuse AT_EMPTY_PATH here. */
			if (rc < 0 && errno == EINVAL && n->type != S_IFLNK)
				rc = utimensat(AT_FDCWD, proc, ts, 0);
		}
		if (rc < 0)
			return ws__posix_status(errno);
	}
	return 0;
}

int ws__posix_setattr(struct ws_backend *be, struct ws_bnode *n, struct ws_bfile *f,
                      const struct fsb_setattr_req *req, struct fsb_attr *attr)
{
	int fd = ws__posix_node_fd((struct posix_be *)be, n), rc;

	if (fd < 0)
		return fd;
	rc = setattr_at(n, fd, f, req);
	ws__posix_node_fd_put((struct posix_be *)be, n, fd);
	return rc ? rc : ws__posix_getattr(be, n, f, attr);
}

int ws__posix_statfs(struct ws_backend *be, struct ws_bnode *n, struct fsb_statfs *sf)
{
	struct statvfs sv;

	int fd = ws__posix_node_fd((struct posix_be *)be, n), rc;

	if (fd < 0)
		return fd;
	rc = fstatvfs(fd, &sv);
	ws__posix_node_fd_put((struct posix_be *)be, n, fd);
	if (rc < 0)
		return ws__posix_status(errno);
	sf->blocks = (uint64_t)sv.f_blocks;
	sf->bfree = (uint64_t)sv.f_bfree;
	sf->bavail = (uint64_t)sv.f_bavail;
	sf->files = (uint64_t)sv.f_files;
	sf->ffree = (uint64_t)sv.f_ffree;
	sf->bsize = (uint32_t)sv.f_bsize;
	sf->frsize = (uint32_t)sv.f_frsize;
	sf->namemax = sv.f_namemax < FSB_NAME_MAX ? (uint32_t)sv.f_namemax : FSB_NAME_MAX;
	return 0;
}

int ws__posix_readlink(struct ws_backend *be, struct ws_bnode *n, char *buf, size_t size,
                       size_t *len)
{
	ssize_t r;

	int fd, err;

	if (n->type != S_IFLNK)
		return -FSB_EINVAL;
	fd = ws__posix_node_fd((struct posix_be *)be, n);
	if (fd < 0)
		return fd;
	r = readlinkat(fd, "", buf, size);
	err = errno;
	ws__posix_node_fd_put((struct posix_be *)be, n, fd);
	if (r < 0)
		return ws__posix_status(err);
	*len = (size_t)r;
	return 0;
}
