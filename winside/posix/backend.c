/*
 * backend.c - the POSIX (Linux) backend: every node is an O_PATH
 * descriptor opened without following links, every name is resolved
 * relative to its parent's descriptor, and files are opened for I/O by
 * re-opening the node through /proc/self/fd. No path from the export root
 * is ever built, so renames inside the export never confuse a node, and a
 * symbolic link can only ever be a leaf.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#ifdef SYS_openat2
#include <linux/falloc.h>
#include <linux/openat2.h>
#endif

#include "fsb_proto.h"
#include "ws_posix.h"
#include "ws_posix_owner.h"

/*
 * A node. Directories hold an O_PATH descriptor (they are the parents
 * every name is resolved against). Other nodes hold one too, unless the
 * file system gives file handles and we may open them (CAP_DAC_READ_SEARCH):
 * then they hold the handle and open it for each use, so that a client
 * knowing 100,000 files does not need 100,000 descriptors.
 */
struct ws_bnode {
	_Atomic int fd;     /* O_PATH (a link's own descriptor for links), or -1 */
	struct file_handle *fh;     /* when fd is -1 */
	struct ws_bnode *pin_next;  /* handle nodes: the backend's pin table */
	mode_t type;        /* S_IFMT bits: an inode never changes type */
	dev_t dev;
	ino_t ino;
};

struct ws_bfile {
	int fd;
	DIR *dir;           /* directories: the stream over fd */
	/* Directory listing state, under lock: `pos` is the cookie of the
	 * last entry consumed (0 at the start). An entry offered but not
	 * taken (the reply was full) is kept as the peek, so the next
	 * request from `pos` starts with it without seeking. */
	pthread_mutex_t lock;
	uint64_t pos;
	int have_peek;
	uint64_t peek_off;
	char peek_name[NAME_MAX + 1];
};

#define PIN_BUCKETS 1024u

struct posix_be {
	struct ws_backend base;
	int root_fd;
	dev_t root_dev;
	int try_openat2;    /* cleared for good on ENOSYS */
	int handles;        /* non-directory nodes keep file handles */
	int mount_fd;       /* open_by_handle_at's anchor (not O_PATH), or -1 */
	/* Nodes that hold a handle, by inode: a file about to lose its last
	 * name gets a descriptor first (pin_ident), because a handle cannot
	 * reach an unlinked file while a descriptor still can, and an open
	 * file outlives its name. */
	pthread_mutex_t pin_lock;
	struct ws_bnode *pin_tab[PIN_BUCKETS];
};

#define PROC_FD_LEN 32

static int status(int err)
{
	return -fsb_status_from_errno(err);
}

static void proc_path(char buf[PROC_FD_LEN], int fd)
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

static dev_t decode_dev(uint32_t v)
{
	return makedev((v >> 8) & 0xfffu, (v & 0xffu) | ((v >> 12) & 0xfff00u));
}

static void fill_attr(const struct stat *s, struct fsb_attr *a)
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
	st->ident.hi = 0;
	fill_attr(s, &st->attr);
}

static int lstat_fd(int fd, struct stat *s)
{
	return fstatat(fd, "", s, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW);
}

/*
 * One component below dirfd, as an O_PATH descriptor of whatever is there,
 * a link included. openat2 adds the kernel's own guarantee that nothing
 * outside dirfd is reached; names are single validated components, so
 * plain openat with O_NOFOLLOW is equally confined where openat2 is
 * missing.
 */
static int open_below(struct posix_be *pb, int dirfd, const char *name)
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

/* A file handle for the object fd refers to, or NULL. */
static struct file_handle *handle_of(int fd)
{
	struct file_handle *fh = malloc(sizeof(*fh) + MAX_HANDLE_SZ);
	int mount_id;

	if (!fh)
		return NULL;
	fh->handle_bytes = MAX_HANDLE_SZ;
	if (name_to_handle_at(fd, "", fh, &mount_id, AT_EMPTY_PATH) < 0) {
		free(fh);
		return NULL;
	}
	return fh;
}

/* The node's O_PATH descriptor: its own, or one opened from its handle
 * (give it back with node_fd_put). Returns the fd or -errno. */
static int node_fd(struct posix_be *pb, struct ws_bnode *n)
{
	int fd = atomic_load(&n->fd);

	if (fd >= 0)
		return fd;
	fd = open_by_handle_at(pb->mount_fd, n->fh, O_PATH | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

/* A descriptor node_fd opened for the occasion is closed; the node's own
 * (which a pin may have given it meanwhile) stays. */
static void node_fd_put(struct ws_bnode *n, int fd)
{
	if (fd >= 0 && fd != atomic_load(&n->fd))
		close(fd);
}

static struct ws_bnode **pin_bucket(struct posix_be *pb, ino_t ino)
{
	return &pb->pin_tab[(size_t)((uint64_t)ino * 0x9E3779B97F4A7C15ull >> 40) % PIN_BUCKETS];
}

/* The file (dev, ino) may be losing its last name: give every node that
 * reaches it through a handle a descriptor while it still can. */
static void pin_ident(struct posix_be *pb, dev_t dev, ino_t ino)
{
	struct ws_bnode *n;

	if (!pb->handles)
		return;
	pthread_mutex_lock(&pb->pin_lock);
	for (n = *pin_bucket(pb, ino); n; n = n->pin_next) {
		int fd;

		if (n->ino != ino || n->dev != dev || atomic_load(&n->fd) >= 0)
			continue;
		fd = open_by_handle_at(pb->mount_fd, n->fh, O_PATH | O_CLOEXEC);
		if (fd >= 0)
			atomic_store(&n->fd, fd);
	}
	pthread_mutex_unlock(&pb->pin_lock);
}

/* pin_ident for whatever `name` in dirfd is now, unless a directory. */
static void pin_name(struct posix_be *pb, int dirfd, const char *name)
{
	struct stat s;

	if (pb->handles && fstatat(dirfd, name, &s, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISDIR(s.st_mode))
		pin_ident(pb, s.st_dev, s.st_ino);
}

/* Wrap an O_PATH descriptor into a node; takes fd. */
static int node_from_fd(struct posix_be *pb, int fd, struct ws_bnode **out,
                        struct ws_bstat *st)
{
	struct ws_bnode *n;
	struct stat s;
	int err;

	if (lstat_fd(fd, &s) < 0) {
		err = errno;
		close(fd);
		return status(err);
	}
	n = malloc(sizeof(*n));
	if (!n) {
		close(fd);
		return -FSB_ENOMEM;
	}
	atomic_init(&n->fd, fd);
	n->fh = NULL;
	n->pin_next = NULL;
	n->type = s.st_mode & S_IFMT;
	n->dev = s.st_dev;
	n->ino = s.st_ino;
	if (pb->handles && n->type != S_IFDIR && n->dev == pb->root_dev) {
		n->fh = handle_of(fd);
		if (n->fh) {
			struct ws_bnode **b = pin_bucket(pb, n->ino);

			close(fd);
			atomic_store(&n->fd, -1);
			pthread_mutex_lock(&pb->pin_lock);
			n->pin_next = *b;
			*b = n;
			pthread_mutex_unlock(&pb->pin_lock);
		}
	}
	ws__posix_fill_bstat(&s, st);
	*out = n;
	return 0;
}

static int posix_lookup(struct ws_backend *be, struct ws_bnode *dir, const char *name,
                        struct ws_bnode **out, struct ws_bstat *st)
{
	int fd;

	/* Only directories have a descriptor to resolve names in. */
	if (dir->fd < 0)
		return -FSB_ENOTDIR;
	fd = open_below((struct posix_be *)be, dir->fd, name);
	if (fd < 0)
		return status(-fd);
	return node_from_fd((struct posix_be *)be, fd, out, st);
}

static int posix_root(struct ws_backend *be, struct ws_bnode **out, struct ws_bstat *st)
{
	struct posix_be *pb = (struct posix_be *)be;
	int fd = fcntl(pb->root_fd, F_DUPFD_CLOEXEC, 0);

	if (fd < 0)
		return status(errno);
	return node_from_fd(pb, fd, out, st);
}

static void posix_forget(struct ws_backend *be, struct ws_bnode *n)
{
	struct posix_be *pb = (struct posix_be *)be;
	int fd;

	if (n->fh) {
		struct ws_bnode **p;

		pthread_mutex_lock(&pb->pin_lock);
		for (p = pin_bucket(pb, n->ino); *p && *p != n; p = &(*p)->pin_next)
			;
		if (*p)
			*p = n->pin_next;
		pthread_mutex_unlock(&pb->pin_lock);
	}
	fd = atomic_load(&n->fd);
	if (fd >= 0)
		close(fd);
	free(n->fh);
	free(n);
}

static int posix_getattr(struct ws_backend *be, struct ws_bnode *n, struct ws_bfile *f,
                         struct fsb_attr *attr)
{
	struct stat s;
	int rc;

	if (f) {
		rc = fstat(f->fd, &s);
	} else {
		int fd = node_fd((struct posix_be *)be, n);

		if (fd < 0)
			return status(-fd);
		rc = lstat_fd(fd, &s);
		if (rc < 0)
			rc = -errno;
		node_fd_put(n, fd);
		if (rc < 0)
			errno = -rc;
	}
	if (rc < 0)
		return status(errno);
	fill_attr(&s, attr);
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

	proc_path(proc, nfd);
	if (v & FSB_SET_MODE) {
		/* Linux has no mode on links (fchmodat with NOFOLLOW says
		 * EOPNOTSUPP); through /proc it would reach the link inode
		 * and fail the same way, so say it up front. */
		if (n->type == S_IFLNK)
			return -FSB_ENOTSUP;
		rc = fd >= 0 ? fchmod(fd, req->mode & 07777)
		             : fchmodat(AT_FDCWD, proc, req->mode & 07777, 0);
		if (rc < 0)
			return status(errno);
	}
	if (v & (FSB_SET_UID | FSB_SET_GID)) {
		uid_t uid = (v & FSB_SET_UID) ? (uid_t)req->uid : (uid_t)-1;
		gid_t gid = (v & FSB_SET_GID) ? (gid_t)req->gid : (gid_t)-1;

		rc = fd >= 0 ? fchown(fd, uid, gid)
		             : fchownat(nfd, "", uid, gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW);
		if (rc < 0)
			return status(errno);
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
			return status(errno);
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
			return status(errno);
	}
	return 0;
}

static int posix_setattr(struct ws_backend *be, struct ws_bnode *n, struct ws_bfile *f,
                         const struct fsb_setattr_req *req, struct fsb_attr *attr)
{
	int fd = node_fd((struct posix_be *)be, n), rc;

	if (fd < 0)
		return status(-fd);
	rc = setattr_at(n, fd, f, req);
	node_fd_put(n, fd);
	return rc ? rc : posix_getattr(be, n, f, attr);
}

static int posix_statfs(struct ws_backend *be, struct ws_bnode *n, struct fsb_statfs *sf)
{
	struct statvfs sv;

	int fd = node_fd((struct posix_be *)be, n), rc;

	if (fd < 0)
		return status(-fd);
	rc = fstatvfs(fd, &sv);
	node_fd_put(n, fd);
	if (rc < 0)
		return status(errno);
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

static int posix_readlink(struct ws_backend *be, struct ws_bnode *n, char *buf, size_t size,
                          size_t *len)
{
	ssize_t r;

	int fd, err;

	if (n->type != S_IFLNK)
		return -FSB_EINVAL;
	fd = node_fd((struct posix_be *)be, n);
	if (fd < 0)
		return status(-fd);
	r = readlinkat(fd, "", buf, size);
	err = errno;
	node_fd_put(n, fd);
	if (r < 0)
		return status(err);
	*len = (size_t)r;
	return 0;
}

/* ---- open files ----------------------------------------------------------- */

static int to_oflags(uint32_t f)
{
	int o;

	switch (f & FSB_O_ACCMODE) {
	case FSB_O_WRONLY:
		o = O_WRONLY;
		break;
	case FSB_O_RDWR:
		o = O_RDWR;
		break;
	default:
		o = O_RDONLY;
		break;
	}
	if (f & FSB_O_APPEND)
		o |= O_APPEND;
	if (f & FSB_O_TRUNC)
		o |= O_TRUNC;
	if (f & FSB_O_EXCL)
		o |= O_EXCL;
	if (f & FSB_O_CREAT)
		o |= O_CREAT;
	if (f & FSB_O_DIRECTORY)
		o |= O_DIRECTORY;
	if (f & FSB_O_SYNC)
		o |= O_SYNC;
	if (f & FSB_O_NOATIME)
		o |= O_NOATIME;
	return o | O_CLOEXEC;
}

/* Takes fd. */
static int file_new(int fd, int is_dir, struct ws_bfile **out)
{
	struct ws_bfile *f = calloc(1, sizeof(*f));
	int err;

	if (!f) {
		close(fd);
		return -FSB_ENOMEM;
	}
	f->fd = fd;
	if (is_dir) {
		if (pthread_mutex_init(&f->lock, NULL)) {
			close(fd);
			free(f);
			return -FSB_ENOMEM;
		}
		f->dir = fdopendir(fd);
		if (!f->dir) {
			err = errno;
			pthread_mutex_destroy(&f->lock);
			close(fd);
			free(f);
			return status(err);
		}
	}
	*out = f;
	return 0;
}

/* OPEN through nfd, the node's O_PATH descriptor. */
static int open_at(struct ws_bnode *n, int nfd, uint32_t flags, struct ws_bfile **out,
                   struct fsb_attr *attr)
{
	char proc[PROC_FD_LEN];
	struct stat s;
	int fd, oflags, err, rc;

	if (n->type == S_IFLNK)
		return -FSB_ELOOP;
	if (n->type == S_IFDIR) {
		if ((flags & FSB_O_ACCMODE) != FSB_O_RDONLY || (flags & (FSB_O_TRUNC | FSB_O_APPEND)))
			return -FSB_EISDIR;
		/* Through /proc rather than openat(fd, "."): "." would need
		 * search permission on the directory itself, which opendir
		 * by path does not. */
		proc_path(proc, nfd);
		fd = open(proc, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0)
			return status(errno);
	} else if (n->type == S_IFREG) {
		if (flags & FSB_O_DIRECTORY)
			return -FSB_ENOTDIR;
		/* O_NOFOLLOW cannot be passed here (the /proc entry is itself
		 * a magic link); the node is known not to be a link, and the
		 * identity check below proves we got the node's inode. */
		oflags = to_oflags(flags);
		proc_path(proc, nfd);
		fd = open(proc, oflags);
		if (fd < 0 && errno == EPERM && (oflags & O_NOATIME))
			fd = open(proc, oflags & ~O_NOATIME);
		if (fd < 0)
			return status(errno);
	} else {
		/* FIFOs, sockets and devices stay on the server's side. */
		return -FSB_EACCES;
	}
	if (fstat(fd, &s) < 0) {
		err = errno;
		close(fd);
		return status(err);
	}
	if (s.st_dev != n->dev || s.st_ino != n->ino || (s.st_mode & S_IFMT) != n->type) {
		close(fd);
		return -FSB_ESTALE;
	}
	rc = file_new(fd, n->type == S_IFDIR, out);
	if (rc)
		return rc;
	fill_attr(&s, attr);
	return 0;
}

static int posix_open(struct ws_backend *be, struct ws_bnode *n, uint32_t flags,
                      struct ws_bfile **out, struct fsb_attr *attr)
{
	int fd, rc;

	if (n->type == S_IFLNK)
		return -FSB_ELOOP;
	fd = node_fd((struct posix_be *)be, n);
	if (fd < 0)
		return status(-fd);
	rc = open_at(n, fd, flags, out, attr);
	node_fd_put(n, fd);
	return rc;
}

static int posix_create(struct ws_backend *be, struct ws_bnode *dir, const char *name,
                        uint32_t flags, uint32_t mode, const struct fsb_cred *owner,
                        struct ws_bnode **out, struct ws_bstat *st, struct ws_bfile **f)
{
	char proc[PROC_FD_LEN];
	struct ws_posix_as as;
	struct stat s;
	int fd, pfd, oflags, fl, err, rc;

	/* Only directories have a descriptor to resolve names in. */
	if (dir->fd < 0)
		return -FSB_ENOTDIR;
	(void)be;
	if (!(flags & FSB_O_EXCL) && fstatat(dir->fd, name, &s, AT_SYMLINK_NOFOLLOW) == 0 &&
	    !S_ISREG(s.st_mode)) {
		/* Opening an existing FIFO or device would block or touch
		 * hardware on the server; a link is never followed. */
		if (S_ISDIR(s.st_mode))
			return -FSB_EISDIR;
		return S_ISLNK(s.st_mode) ? -FSB_ELOOP : -FSB_EEXIST;
	}
	/* O_NONBLOCK covers the race with the check above: a FIFO swapped in
	 * meanwhile opens without waiting and is then refused. */
	oflags = to_oflags(flags & ~(uint32_t)FSB_O_DIRECTORY) | O_CREAT | O_NOFOLLOW | O_NONBLOCK;
	ws__posix_as_begin(&as, owner);
	fd = openat(dir->fd, name, oflags, (mode_t)(mode & 07777));
	if (fd < 0 && errno == EPERM && (oflags & O_NOATIME))
		fd = openat(dir->fd, name, oflags & ~O_NOATIME, (mode_t)(mode & 07777));
	err = errno;
	ws__posix_as_end(&as);
	if (fd < 0)
		return status(err);
	if (fstat(fd, &s) < 0) {
		err = errno;
		goto out_close;
	}
	if (!S_ISREG(s.st_mode)) {
		err = EEXIST;
		goto out_close;
	}
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0) {
		err = errno;
		goto out_close;
	}
	/* The node is the very inode just opened, not whatever the name
	 * may point to by now. */
	proc_path(proc, fd);
	pfd = open(proc, O_PATH | O_CLOEXEC);
	if (pfd < 0) {
		err = errno;
		goto out_close;
	}
	rc = node_from_fd((struct posix_be *)be, pfd, out, st);
	if (rc) {
		close(fd);
		return rc;
	}
	rc = file_new(fd, 0, f);
	if (rc) {
		posix_forget(be, *out);
		return rc;
	}
	return 0;

out_close:
	close(fd);
	return status(err);
}

static int posix_release(struct ws_backend *be, struct ws_bfile *f)
{
	int rc;

	(void)be;
	if (f->dir) {
		rc = closedir(f->dir);
		pthread_mutex_destroy(&f->lock);
	} else {
		rc = close(f->fd);
	}
	free(f);
	return rc < 0 ? status(errno) : 0;
}

static int posix_read(struct ws_backend *be, struct ws_bfile *f, uint64_t off, void *buf,
                      uint32_t size, uint32_t *got)
{
	uint32_t done = 0;
	ssize_t n;

	(void)be;
	if (f->dir)
		return -FSB_EISDIR;
	if (off > (uint64_t)INT64_MAX)
		return -FSB_EINVAL;
	if ((uint64_t)INT64_MAX - off < size)
		size = (uint32_t)((uint64_t)INT64_MAX - off);
	while (done < size) {
		n = pread(f->fd, (char *)buf + done, size - done, (off_t)(off + done));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (done)
				break;
			return status(errno);
		}
		if (n == 0)
			break;
		done += (uint32_t)n;
	}
	*got = done;
	return 0;
}

static int posix_write(struct ws_backend *be, struct ws_bfile *f, uint64_t off, const void *buf,
                       uint32_t size, uint32_t *written, struct fsb_attr *attr)
{
	uint32_t done = 0;
	struct stat s;
	ssize_t n;

	(void)be;
	if (f->dir)
		return -FSB_EISDIR;
	if (off > (uint64_t)INT64_MAX || (uint64_t)INT64_MAX - off < size)
		return -FSB_EFBIG;
	/* On Linux pwrite on an O_APPEND descriptor appends whatever the
	 * offset, which is exactly what an append handle must do. */
	while (done < size) {
		n = pwrite(f->fd, (const char *)buf + done, size - done, (off_t)(off + done));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (done)
				break;
			return status(errno);
		}
		done += (uint32_t)n;
	}
	if (fstat(f->fd, &s) < 0)
		return status(errno);
	*written = done;
	fill_attr(&s, attr);
	return 0;
}

static int posix_flush(struct ws_backend *be, struct ws_bfile *f)
{
	int d;

	(void)be;
	/* close() of a duplicate performs close's duties (POSIX locks,
	 * NFS write-back and its errors) without giving up the handle. */
	d = dup(f->fd);
	if (d < 0)
		return status(errno);
	if (close(d) < 0)
		return status(errno);
	return 0;
}

static int posix_fsync(struct ws_backend *be, struct ws_bfile *f, int datasync)
{
	int rc;

	(void)be;
	rc = datasync ? fdatasync(f->fd) : fsync(f->fd);
	return rc < 0 ? status(errno) : 0;
}

static int posix_falloc(struct ws_backend *be, struct ws_bfile *f, uint32_t mode,
                           uint64_t off, uint64_t len, struct fsb_attr *attr)
{
	struct stat s;
	int m = 0;

	(void)be;
	if (mode & FSB_FALLOC_KEEP_SIZE)
		m |= FALLOC_FL_KEEP_SIZE;
	if (mode & FSB_FALLOC_PUNCH_HOLE)
		m |= FALLOC_FL_PUNCH_HOLE;
	if (mode & FSB_FALLOC_ZERO_RANGE)
		m |= FALLOC_FL_ZERO_RANGE;
	if (fallocate(f->fd, m, (off_t)off, (off_t)len) < 0)
		return status(errno);
	if (fstat(f->fd, &s) < 0)
		return status(errno);
	fill_attr(&s, attr);
	return 0;
}

static int is_dot(const char *n)
{
	return n[0] == '.' && (n[1] == '\0' || (n[1] == '.' && n[2] == '\0'));
}

static int posix_readdir(struct ws_backend *be, struct ws_bfile *f, uint64_t cookie,
                         ws_dirent_fn fn, void *ctx, int *eof)
{
	struct ws_dirent de;
	struct dirent *d;
	struct stat s;
	const char *name;
	uint64_t off;
	int rc = 0, v;

	(void)be;
	*eof = 0;
	if (!f->dir)
		return -FSB_ENOTDIR;
	pthread_mutex_lock(&f->lock);
	if (cookie != f->pos) {
		/* The cookies are d_off values, which seekdir takes back:
		 * a client's telldir/seekdir lands where it should. */
		f->have_peek = 0;
		if (cookie == 0)
			rewinddir(f->dir);
		else
			seekdir(f->dir, (long)cookie);
		f->pos = cookie;
	}
	for (;;) {
		if (f->have_peek) {
			name = f->peek_name;
			off = f->peek_off;
		} else {
			errno = 0;
			d = readdir(f->dir);
			if (!d) {
				if (errno)
					rc = status(errno);
				else
					*eof = 1;
				break;
			}
			name = d->d_name;
			off = (uint64_t)d->d_off;
			if (is_dot(name)) {
				f->pos = off;
				continue;
			}
		}
		if (fstatat(dirfd(f->dir), name, &s, AT_SYMLINK_NOFOLLOW) < 0) {
			/* Gone since getdents saw it, or unreadable: either
			 * way not an entry to offer. */
			f->pos = off;
			f->have_peek = 0;
			continue;
		}
		de.name = name;
		de.namelen = strlen(name);
		de.cookie = off;
		ws__posix_fill_bstat(&s, &de.st);
		v = fn(ctx, &de);
		if (v == WS_DIRENT_NEXT) {
			f->pos = off;
			f->have_peek = 0;
			continue;
		}
		if (!f->have_peek) {
			memcpy(f->peek_name, name, de.namelen + 1);
			f->peek_off = off;
			f->have_peek = 1;
		}
		if (v < 0)
			rc = v;
		break;
	}
	pthread_mutex_unlock(&f->lock);
	return rc;
}

/* ---- entries -------------------------------------------------------------- */

static int posix_mkdir(struct ws_backend *be, struct ws_bnode *dir, const char *name,
                       uint32_t mode, const struct fsb_cred *owner, struct ws_bnode **out,
                       struct ws_bstat *st)
{
	struct ws_posix_as as;
	int rc, err;

	/* Only directories have a descriptor to resolve names in. */
	if (dir->fd < 0)
		return -FSB_ENOTDIR;
	ws__posix_as_begin(&as, owner);
	rc = mkdirat(dir->fd, name, (mode_t)(mode & 07777));
	err = errno;
	ws__posix_as_end(&as);
	if (rc < 0)
		return status(err);
	/* If the new directory is swapped for a link before this lookup,
	 * the node is that link, which is never followed. */
	return posix_lookup(be, dir, name, out, st);
}

static int posix_mknod(struct ws_backend *be, struct ws_bnode *dir, const char *name,
                       uint32_t mode, uint32_t rdev, const struct fsb_cred *owner,
                       struct ws_bnode **out, struct ws_bstat *st)
{
	struct ws_posix_as as;
	dev_t dev = 0;
	int rc, err;

	/* Only directories have a descriptor to resolve names in. */
	if (dir->fd < 0)
		return -FSB_ENOTDIR;
	switch (mode & FSB_S_IFMT) {
	case FSB_S_IFREG:
	case FSB_S_IFIFO:
	case FSB_S_IFSOCK:
		break;
	case FSB_S_IFCHR:
	case FSB_S_IFBLK:
		/* The kernel decides (CAP_MKNOD); opening one through the
		 * export is refused anyway. */
		dev = decode_dev(rdev);
		break;
	default:
		return -FSB_EINVAL;
	}
	ws__posix_as_begin(&as, owner);
	rc = mknodat(dir->fd, name, (mode_t)mode, dev);
	err = errno;
	ws__posix_as_end(&as);
	if (rc < 0)
		return status(err);
	return posix_lookup(be, dir, name, out, st);
}

static int posix_symlink(struct ws_backend *be, struct ws_bnode *dir, const char *name,
                         const char *target, const struct fsb_cred *owner,
                         struct ws_bnode **out, struct ws_bstat *st)
{
	struct ws_posix_as as;
	int rc, err;

	/* Only directories have a descriptor to resolve names in. */
	if (dir->fd < 0)
		return -FSB_ENOTDIR;
	ws__posix_as_begin(&as, owner);
	rc = symlinkat(target, dir->fd, name);
	err = errno;
	ws__posix_as_end(&as);
	if (rc < 0)
		return status(err);
	return posix_lookup(be, dir, name, out, st);
}

static int posix_link(struct ws_backend *be, struct ws_bnode *n, struct ws_bnode *newdir,
                      const char *newname, struct ws_bnode **out, struct ws_bstat *st)
{
	char proc[PROC_FD_LEN];
	int fd, rc;

	/* Only directories have a descriptor to resolve names in. */
	if (newdir->fd < 0)
		return -FSB_ENOTDIR;
	fd = node_fd((struct posix_be *)be, n);
	if (fd < 0)
		return status(-fd);
	/* AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH (ENOENT without it). The
	 * /proc magic link, followed, lands on the node's own inode, a link
	 * inode included: linkat never follows a link reached that way. */
	rc = -1;
	errno = ENOENT;
	if (n->type == S_IFLNK)
		rc = linkat(fd, "", newdir->fd, newname, AT_EMPTY_PATH);
	if (rc < 0 && (n->type != S_IFLNK || errno == ENOENT || errno == EPERM)) {
		proc_path(proc, fd);
		rc = linkat(AT_FDCWD, proc, newdir->fd, newname, AT_SYMLINK_FOLLOW);
	}
	rc = rc < 0 ? status(errno) : 0;
	node_fd_put(n, fd);
	if (rc)
		return rc;
	return posix_lookup(be, newdir, newname, out, st);
}

static int posix_unlink(struct ws_backend *be, struct ws_bnode *dir, const char *name)
{
	/* Only directories have a descriptor to resolve names in. */
	if (dir->fd < 0)
		return -FSB_ENOTDIR;
	pin_name((struct posix_be *)be, dir->fd, name);
	return unlinkat(dir->fd, name, 0) < 0 ? status(errno) : 0;
}

static int posix_rmdir(struct ws_backend *be, struct ws_bnode *dir, const char *name)
{
	/* Only directories have a descriptor to resolve names in. */
	if (dir->fd < 0)
		return -FSB_ENOTDIR;
	(void)be;
	return unlinkat(dir->fd, name, AT_REMOVEDIR) < 0 ? status(errno) : 0;
}

static int posix_rename(struct ws_backend *be, struct ws_bnode *olddir, const char *oldname,
                        struct ws_bnode *newdir, const char *newname, uint32_t flags)
{
	unsigned rf = 0;
	int rc;

	/* Only directories have a descriptor to resolve names in. */
	if (olddir->fd < 0 || newdir->fd < 0)
		return -FSB_ENOTDIR;
	/* A rename over a file unlinks it. */
	if (!(flags & FSB_RENAME_EXCHANGE))
		pin_name((struct posix_be *)be, newdir->fd, newname);
	if (flags & FSB_RENAME_NOREPLACE)
		rf |= RENAME_NOREPLACE;
	if (flags & FSB_RENAME_EXCHANGE)
		rf |= RENAME_EXCHANGE;
	/* File systems without NOREPLACE/EXCHANGE answer EINVAL, which is
	 * what the client should hear. */
	rc = rf ? renameat2(olddir->fd, oldname, newdir->fd, newname, rf)
	        : renameat(olddir->fd, oldname, newdir->fd, newname);
	return rc < 0 ? status(errno) : 0;
}

int ws__posix_root_fd(struct ws_backend *be)
{
	return ((struct posix_be *)be)->root_fd;
}

static void posix_destroy(struct ws_backend *be)
{
	struct posix_be *pb = (struct posix_be *)be;

	close(pb->root_fd);
	if (pb->mount_fd >= 0)
		close(pb->mount_fd);
	pthread_mutex_destroy(&pb->pin_lock);
	free(pb);
}

static const struct ws_backend_ops posix_ops = {
	.name = "posix",
	.caps = FSB_CAP_EVENTS | FSB_CAP_FALLOCATE | FSB_CAP_RENAME_NOREPLACE | FSB_CAP_RENAME_EXCHANGE |
	        FSB_CAP_SYMLINKS | FSB_CAP_HARDLINKS | FSB_CAP_CREDS,
	.root = posix_root,
	.forget = posix_forget,
	.lookup = posix_lookup,
	.getattr = posix_getattr,
	.setattr = posix_setattr,
	.statfs = posix_statfs,
	.readlink = posix_readlink,
	.open = posix_open,
	.create = posix_create,
	.release = posix_release,
	.read = posix_read,
	.write = posix_write,
	.flush = posix_flush,
	.fsync = posix_fsync,
	.fallocate = posix_falloc,
	.readdir = posix_readdir,
	.mkdir = posix_mkdir,
	.mknod = posix_mknod,
	.symlink = posix_symlink,
	.link = posix_link,
	.unlink = posix_unlink,
	.rmdir = posix_rmdir,
	.rename = posix_rename,
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
	fh = handle_of(root_fd);
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
		return status(e);
	}
	/* Every open for I/O goes through /proc/self/fd: make sure it is
	 * there and really is this process's descriptor table. */
	proc_path(proc, fd);
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
	pb->base.ops = &posix_ops;
	pb->root_fd = fd;
	pb->root_dev = b.st_dev;
	pb->try_openat2 = 1;
	pthread_mutex_init(&pb->pin_lock, NULL);
	pb->mount_fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	pb->handles = handles_work(fd, pb->mount_fd);
	if (!pb->handles && pb->mount_fd >= 0) {
		close(pb->mount_fd);
		pb->mount_fd = -1;
	}
	*out = &pb->base;
	return 0;
}
