/*
 * files.c - open files and directory listings of the POSIX backend:
 * OPEN re-opens the node through /proc/self/fd and checks that the inode
 * it got is the node's; CREATE makes the file as its caller; READ,
 * WRITE, FLUSH, FSYNC, FALLOCATE, RELEASE; READDIRPLUS with stable
 * cookies. Calls nodes.c and backend.c's conversions, and owner.c to act
 * as the caller.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backend_int.h"
#include "fsb_proto.h"
#include "ws_posix.h"
#include "ws_posix_owner.h"

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
			return ws__posix_status(err);
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
		ws__posix_proc_path(proc, nfd);
		fd = open(proc, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0)
			return ws__posix_status(errno);
	} else if (n->type == S_IFREG) {
		if (flags & FSB_O_DIRECTORY)
			return -FSB_ENOTDIR;
		/* O_NOFOLLOW cannot be passed here (the /proc entry is itself
		 * a magic link); the node is known not to be a link, and the
		 * identity check below proves we got the node's inode. */
		oflags = to_oflags(flags);
		ws__posix_proc_path(proc, nfd);
		fd = open(proc, oflags);
		if (fd < 0 && errno == EPERM && (oflags & O_NOATIME))
			fd = open(proc, oflags & ~O_NOATIME);
		if (fd < 0)
			return ws__posix_status(errno);
	} else {
		/* FIFOs, sockets and devices stay on the server's side. */
		return -FSB_EACCES;
	}
	if (fstat(fd, &s) < 0) {
		err = errno;
		close(fd);
		return ws__posix_status(err);
	}
	if (s.st_dev != n->dev || s.st_ino != n->ino || (s.st_mode & S_IFMT) != n->type) {
		close(fd);
		return -FSB_ESTALE;
	}
	rc = file_new(fd, n->type == S_IFDIR, out);
	if (rc)
		return rc;
	ws__posix_fill_attr(&s, attr);
	return 0;
}

int ws__posix_open(struct ws_backend *be, struct ws_bnode *n, uint32_t flags,
                   struct ws_bfile **out, struct fsb_attr *attr)
{
	int fd, rc;

	if (n->type == S_IFLNK)
		return -FSB_ELOOP;
	fd = ws__posix_node_fd((struct posix_be *)be, n);
	if (fd < 0)
		return fd;
	rc = open_at(n, fd, flags, out, attr);
	ws__posix_node_fd_put((struct posix_be *)be, n, fd);
	return rc;
}

/* CREATE in dfd, the directory's descriptor. */
static int create_at(struct posix_be *pb, struct ws_bnode *dir, int dfd, const char *name,
                     uint32_t flags, uint32_t mode, const struct fsb_cred *owner,
                     struct ws_bnode **out, struct ws_bstat *st, struct ws_bfile **f)
{
	char proc[PROC_FD_LEN];
	struct ws_posix_as as;
	struct stat s;
	int fd, pfd, oflags, fl, err, rc;

	if (!(flags & FSB_O_EXCL) && fstatat(dfd, name, &s, AT_SYMLINK_NOFOLLOW) == 0 &&
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
	fd = openat(dfd, name, oflags, (mode_t)(mode & 07777));
	if (fd < 0 && errno == EPERM && (oflags & O_NOATIME))
		fd = openat(dfd, name, oflags & ~O_NOATIME, (mode_t)(mode & 07777));
	err = errno;
	ws__posix_as_end(&as);
	if (fd < 0)
		return ws__posix_status(err);
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
	ws__posix_proc_path(proc, fd);
	pfd = open(proc, O_PATH | O_CLOEXEC);
	if (pfd < 0) {
		err = errno;
		goto out_close;
	}
	rc = ws__posix_node_from_fd(pb, pfd, dir, name, out, st);
	if (rc) {
		close(fd);
		return rc;
	}
	rc = file_new(fd, 0, f);
	if (rc) {
		ws__posix_forget(&pb->base, *out);
		return rc;
	}
	return 0;

out_close:
	close(fd);
	return ws__posix_status(err);
}

int ws__posix_create(struct ws_backend *be, struct ws_bnode *dir, const char *name,
                     uint32_t flags, uint32_t mode, const struct fsb_cred *owner,
                     struct ws_bnode **out, struct ws_bstat *st, struct ws_bfile **f)
{
	struct posix_be *pb = (struct posix_be *)be;
	int dfd = ws__posix_dir_fd(pb, dir), rc;

	if (dfd < 0)
		return dfd;
	rc = create_at(pb, dir, dfd, name, flags, mode, owner, out, st, f);
	ws__posix_node_fd_put(pb, dir, dfd);
	return rc;
}

int ws__posix_release(struct ws_backend *be, struct ws_bfile *f)
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
	return rc < 0 ? ws__posix_status(errno) : 0;
}

int ws__posix_read(struct ws_backend *be, struct ws_bfile *f, uint64_t off, void *buf,
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
			return ws__posix_status(errno);
		}
		if (n == 0)
			break;
		done += (uint32_t)n;
	}
	*got = done;
	return 0;
}

int ws__posix_write(struct ws_backend *be, struct ws_bfile *f, uint64_t off, const void *buf,
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
			return ws__posix_status(errno);
		}
		done += (uint32_t)n;
	}
	if (fstat(f->fd, &s) < 0)
		return ws__posix_status(errno);
	*written = done;
	ws__posix_fill_attr(&s, attr);
	return 0;
}

int ws__posix_flush(struct ws_backend *be, struct ws_bfile *f)
{
	int d;

	(void)be;
	/* close() of a duplicate performs close's duties (POSIX locks,
	 * NFS write-back and its errors) without giving up the handle. */
	d = dup(f->fd);
	if (d < 0)
		return ws__posix_status(errno);
	if (close(d) < 0)
		return ws__posix_status(errno);
	return 0;
}

int ws__posix_fsync(struct ws_backend *be, struct ws_bfile *f, int datasync)
{
	int rc;

	(void)be;
	rc = datasync ? fdatasync(f->fd) : fsync(f->fd);
	return rc < 0 ? ws__posix_status(errno) : 0;
}

int ws__posix_falloc(struct ws_backend *be, struct ws_bfile *f, uint32_t mode,
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
		return ws__posix_status(errno);
	if (fstat(f->fd, &s) < 0)
		return ws__posix_status(errno);
	ws__posix_fill_attr(&s, attr);
	return 0;
}

static int is_dot(const char *n)
{
	return n[0] == '.' && (n[1] == '\0' || (n[1] == '.' && n[2] == '\0'));
}

int ws__posix_readdir(struct ws_backend *be, struct ws_bfile *f, uint64_t cookie,
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
					rc = ws__posix_status(errno);
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
