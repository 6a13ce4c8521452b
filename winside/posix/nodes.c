/*
 * nodes.c - names resolved into nodes, by the POSIX backend: one
 * component at a time below the parent's descriptor (openat2 where the
 * kernel has it), a node's descriptor opened from its file handle when
 * it keeps one, and pins that give such nodes a descriptor before their
 * file loses its last name. LOOKUP, root and FORGET. Calls backend.c's
 * conversions; the other files call it for descriptors and new nodes.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
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
struct file_handle *ws__posix_handle_of(int fd)
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
 * (give it back with ws__posix_node_fd_put). Returns the fd or -errno. */
int ws__posix_node_fd(struct posix_be *pb, struct ws_bnode *n)
{
	int fd = atomic_load(&n->fd);

	if (fd >= 0)
		return fd;
	fd = open_by_handle_at(pb->mount_fd, n->fh, O_PATH | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

/* A descriptor ws__posix_node_fd opened for the occasion is closed; the node's own
 * (which a pin may have given it meanwhile) stays. */
void ws__posix_node_fd_put(struct ws_bnode *n, int fd)
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
void ws__posix_pin_name(struct posix_be *pb, int dirfd, const char *name)
{
	struct stat s;

	if (pb->handles && fstatat(dirfd, name, &s, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISDIR(s.st_mode))
		pin_ident(pb, s.st_dev, s.st_ino);
}

/* Wrap an O_PATH descriptor into a node; takes fd. */
int ws__posix_node_from_fd(struct posix_be *pb, int fd, struct ws_bnode **out,
                           struct ws_bstat *st)
{
	struct ws_bnode *n;
	struct stat s;
	int err;

	if (ws__posix_lstat_fd(fd, &s) < 0) {
		err = errno;
		close(fd);
		return ws__posix_status(err);
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
		n->fh = ws__posix_handle_of(fd);
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

int ws__posix_lookup(struct ws_backend *be, struct ws_bnode *dir, const char *name,
                     struct ws_bnode **out, struct ws_bstat *st)
{
	int fd;

	/* Only directories have a descriptor to resolve names in. */
	if (dir->fd < 0)
		return -FSB_ENOTDIR;
	fd = open_below((struct posix_be *)be, dir->fd, name);
	if (fd < 0)
		return ws__posix_status(-fd);
	return ws__posix_node_from_fd((struct posix_be *)be, fd, out, st);
}

int ws__posix_root(struct ws_backend *be, struct ws_bnode **out, struct ws_bstat *st)
{
	struct posix_be *pb = (struct posix_be *)be;
	int fd = fcntl(pb->root_fd, F_DUPFD_CLOEXEC, 0);

	if (fd < 0)
		return ws__posix_status(errno);
	return ws__posix_node_from_fd(pb, fd, out, st);
}

void ws__posix_forget(struct ws_backend *be, struct ws_bnode *n)
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
