/*
 * backend.c - the POSIX (Linux) backend: every node is an O_PATH
 * descriptor opened without following links, every name is resolved
 * relative to its parent's descriptor, and files are opened for I/O by
 * re-opening the node through /proc/self/fd. No path from the export root
 * is ever built, so renames inside the export never confuse a node, and a
 * symbolic link can only ever be a leaf.
 *
 * This file: the backend's life (ws_posix_backend_new, destroy), its
 * operations table, the conversions every file of it shares (errno to
 * status, stat to attributes) and its statistics. Nodes and their
 * descriptors are objs.c's; the operations live in nodes.c (names
 * resolved into nodes: file handles, pins; LOOKUP, FORGET),
 * attrs.c (GETATTR, SETATTR, STATFS, READLINK), files.c (open files and
 * listings) and entries.c (names made, linked, removed, renamed); what
 * they share is in backend_int.h. This file calls nodes.c to test for
 * file handles, and the others only through its table.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "backend_int.h"
#include "fsb_proto.h"
#include "ws_posix.h"

int ws__posix_status(int err)
{
	return -fsb_status_from_errno(err);
}

void ws__posix_proc_path(char buf[PROC_FD_LEN], int fd)
{
	snprintf(buf, PROC_FD_LEN, "/proc/self/fd/%d", fd);
}

/* Linux's 32-bit device encoding (new_encode_dev), which is also the low
 * word of glibc's dev_t for every major < 4096 and minor < 2^20. */
static uint32_t encode_dev(dev_t d)
{
	unsigned maj = major(d), min = minor(d);

	return (min & 0xffu) | ((maj & 0xfffu) << 8) | ((min & ~0xffu) << 12);
}

dev_t ws__posix_decode_dev(uint32_t v)
{
	return makedev((v >> 8) & 0xfffu, (v & 0xffu) | ((v >> 12) & 0xfff00u));
}

void ws__posix_fill_attr(const struct stat *s, struct fsb_attr *a)
{
	a->ino = (uint64_t)s->st_ino;
	a->size = (uint64_t)s->st_size;
	a->blocks = (uint64_t)s->st_blocks;
	a->mode = (uint32_t)s->st_mode;
	a->nlink = (uint32_t)s->st_nlink;
	a->uid = (uint32_t)s->st_uid;
	a->gid = (uint32_t)s->st_gid;
	a->rdev = encode_dev(s->st_rdev);
	a->blksize = (uint32_t)s->st_blksize;
	a->atime.sec = (int64_t)s->st_atim.tv_sec;
	a->atime.nsec = (uint32_t)s->st_atim.tv_nsec;
	a->mtime.sec = (int64_t)s->st_mtim.tv_sec;
	a->mtime.nsec = (uint32_t)s->st_mtim.tv_nsec;
	a->ctime.sec = (int64_t)s->st_ctim.tv_sec;
	a->ctime.nsec = (uint32_t)s->st_ctim.tv_nsec;
}

void ws__posix_fill_bstat(const struct stat *s, struct ws_bstat *st)
{
	st->ident.vol = (uint64_t)s->st_dev;
	st->ident.lo = (uint64_t)s->st_ino;
	/* An inode never changes type, but its number is reused once it is
	 * gone: a directory made where a deleted file's number is free must
	 * not be taken for that file, which a client may still hold. */
	st->ident.hi = (uint64_t)(s->st_mode & S_IFMT);
	ws__posix_fill_attr(s, &st->attr);
}

int ws__posix_lstat_fd(int fd, struct stat *s)
{
	return fstatat(fd, "", s, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW);
}

int ws__posix_root_fd(struct ws_backend *be)
{
	return ((struct posix_be *)be)->root_fd;
}

void ws_posix_backend_stats(struct ws_backend *be, struct ws_posix_stats *out)
{
	struct posix_be *pb = (struct posix_be *)be;

	pthread_mutex_lock(&pb->obj_lock);
	out->nodes = pb->nodes;
	out->dirs = pb->dirs;
	out->fds_cached = pb->lru_count;
	out->fds_cap = pb->lru_cap;
	out->fds_pinned = pb->pinned;
	/* What the nodes allocate: each node, its name and its handle, with
	 * glibc's 16 bytes a block counted for all three, and the registry's
	 * buckets. */
	out->bytes = pb->nodes * (sizeof(struct ws_bnode) + 3 * 16) + pb->name_bytes +
	             pb->handle_bytes + (pb->objs.mask + 1) * sizeof(void *);
	out->handles = pb->handles;
	pthread_mutex_unlock(&pb->obj_lock);
	out->watched = atomic_load(&pb->watch_dirs);
	out->polled = atomic_load(&pb->watch_polled);
	out->watch_bytes = atomic_load(&pb->watch_bytes);
}

void ws__posix_watch_tally(struct ws_backend *be, size_t dirs, size_t polled, size_t bytes)
{
	struct posix_be *pb = (struct posix_be *)be;

	atomic_store(&pb->watch_dirs, dirs);
	atomic_store(&pb->watch_polled, polled);
	atomic_store(&pb->watch_bytes, bytes);
}

int ws_posix_watcher_parse(const char *s, enum ws_posix_watcher *out)
{
	if (!strcmp(s, "auto"))
		*out = WS_WATCHER_AUTO;
	else if (!strcmp(s, "inotify"))
		*out = WS_WATCHER_INOTIFY;
	else if (!strcmp(s, "fanotify"))
		*out = WS_WATCHER_FANOTIFY;
	else
		return -1;
	return 0;
}

void ws_posix_backend_set_watcher(struct ws_backend *be, enum ws_posix_watcher kind)
{
	((struct posix_be *)be)->watcher = kind;
}

enum ws_posix_watcher ws__posix_watcher(struct ws_backend *be)
{
	return ((struct posix_be *)be)->watcher;
}

static void posix_destroy(struct ws_backend *be)
{
	struct posix_be *pb = (struct posix_be *)be;

	ws__posix_objs_release(pb);
	close(pb->root_fd);
	if (pb->mount_fd >= 0)
		close(pb->mount_fd);
	free(pb);
}

static const struct ws_backend_ops posix_ops = {
	.name = "posix",
	.caps = FSB_CAP_EVENTS | FSB_CAP_FALLOCATE | FSB_CAP_RENAME_NOREPLACE | FSB_CAP_RENAME_EXCHANGE |
	        FSB_CAP_SYMLINKS | FSB_CAP_HARDLINKS | FSB_CAP_CREDS | FSB_CAP_EVENT_EDGES,
	.root = ws__posix_root,
	.forget = ws__posix_forget,
	.lookup = ws__posix_lookup,
	.getattr = ws__posix_getattr,
	.setattr = ws__posix_setattr,
	.statfs = ws__posix_statfs,
	.readlink = ws__posix_readlink,
	.open = ws__posix_open,
	.create = ws__posix_create,
	.release = ws__posix_release,
	.read = ws__posix_read,
	.write = ws__posix_write,
	.flush = ws__posix_flush,
	.fsync = ws__posix_fsync,
	.fallocate = ws__posix_falloc,
	.readdir = ws__posix_readdir,
	.mkdir = ws__posix_mkdir,
	.mknod = ws__posix_mknod,
	.symlink = ws__posix_symlink,
	.link = ws__posix_link,
	.unlink = ws__posix_unlink,
	.rmdir = ws__posix_rmdir,
	.rename = ws__posix_rename,
	.watch_start = ws__posix_watch_start,
	.watch_stop = ws__posix_watch_stop,
	.destroy = posix_destroy,
};

/* Whether this file system gives file handles and we may open them
 * (CAP_DAC_READ_SEARCH). The anchor must be a real descriptor: an O_PATH
 * one is refused with EBADF. */
static int handles_work(int root_fd, int mount_fd)
{
	struct file_handle *fh;
	int fd;

	if (mount_fd < 0)
		return 0;
	fh = ws__posix_handle_of(root_fd);
	if (!fh)
		return 0;
	fd = open_by_handle_at(mount_fd, fh, O_PATH | O_CLOEXEC);
	free(fh);
	if (fd < 0)
		return 0;
	close(fd);
	return 1;
}

int ws_posix_backend_new(const char *path, struct ws_backend **out, char *err, size_t errlen)
{
	struct posix_be *pb;
	char proc[PROC_FD_LEN];
	struct stat a, b;
	int fd, e;

	fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		e = errno;
		snprintf(err, errlen, "%s", strerror(e));
		return ws__posix_status(e);
	}
	/* Every open for I/O goes through /proc/self/fd: make sure it is
	 * there and really is this process's descriptor table. */
	ws__posix_proc_path(proc, fd);
	if (stat(proc, &a) < 0 || fstat(fd, &b) < 0 || a.st_dev != b.st_dev || a.st_ino != b.st_ino) {
		snprintf(err, errlen, "/proc/self/fd is not usable (is /proc mounted?); "
		         "the POSIX backend opens files through it");
		close(fd);
		return -FSB_ENOSYS;
	}
	pb = calloc(1, sizeof(*pb));
	if (!pb) {
		close(fd);
		snprintf(err, errlen, "%s", strerror(ENOMEM));
		return -FSB_ENOMEM;
	}
	if (ws__posix_objs_init(pb)) {
		free(pb);
		close(fd);
		snprintf(err, errlen, "%s", strerror(ENOMEM));
		return -FSB_ENOMEM;
	}
	pb->base.ops = &posix_ops;
	pb->root_fd = fd;
	pb->root_dev = b.st_dev;
	pb->root_ino = b.st_ino;
	pb->try_openat2 = 1;
	pb->mount_fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	pb->handles = handles_work(fd, pb->mount_fd);
	if (!pb->handles && pb->mount_fd >= 0) {
		close(pb->mount_fd);
		pb->mount_fd = -1;
	}
	*out = &pb->base;
	return 0;
}
