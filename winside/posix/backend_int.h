/*
 * backend_int.h - what the files of the POSIX backend share (backend.c:
 * its life, operations table and conversions; nodes.c: names resolved
 * into nodes; attrs.c: a node's metadata; files.c: open files and
 * listings; entries.c: names made, linked, removed and renamed). Not for
 * the core, nor for the watcher (ws_posix.h).
 */
#ifndef WS_POSIX_BACKEND_INT_H
#define WS_POSIX_BACKEND_INT_H

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "fsb_proto.h"
#include "ws_backend.h"

struct stat;

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

/* ---- backend.c: conversions --------------------------------------------- */

/* errno as a negative protocol status. */
int ws__posix_status(int err);
void ws__posix_proc_path(char buf[PROC_FD_LEN], int fd);
dev_t ws__posix_decode_dev(uint32_t v);
void ws__posix_fill_attr(const struct stat *s, struct fsb_attr *a);
int ws__posix_lstat_fd(int fd, struct stat *s);

/* ---- nodes.c ------------------------------------------------------------ */

/* A file handle for the object fd refers to, or NULL. */
struct file_handle *ws__posix_handle_of(int fd);
/* The node's O_PATH descriptor: its own, or one opened from its handle
 * (give it back with ws__posix_node_fd_put). Returns the fd or -errno. */
int ws__posix_node_fd(struct posix_be *pb, struct ws_bnode *n);
void ws__posix_node_fd_put(struct ws_bnode *n, int fd);
/* Pin whatever `name` in dirfd is now, unless a directory: it may be
 * losing its last name. */
void ws__posix_pin_name(struct posix_be *pb, int dirfd, const char *name);
/* Wrap an O_PATH descriptor into a node; takes fd. */
int ws__posix_node_from_fd(struct posix_be *pb, int fd, struct ws_bnode **out,
                           struct ws_bstat *st);

/* ---- the operations, for the table in backend.c -------------------------- */

/* nodes.c */
int ws__posix_root(struct ws_backend *be, struct ws_bnode **out, struct ws_bstat *st);
void ws__posix_forget(struct ws_backend *be, struct ws_bnode *n);
int ws__posix_lookup(struct ws_backend *be, struct ws_bnode *dir, const char *name,
                     struct ws_bnode **out, struct ws_bstat *st);

/* attrs.c */
int ws__posix_getattr(struct ws_backend *be, struct ws_bnode *n, struct ws_bfile *f,
                      struct fsb_attr *attr);
int ws__posix_setattr(struct ws_backend *be, struct ws_bnode *n, struct ws_bfile *f,
                      const struct fsb_setattr_req *req, struct fsb_attr *attr);
int ws__posix_statfs(struct ws_backend *be, struct ws_bnode *n, struct fsb_statfs *sf);
int ws__posix_readlink(struct ws_backend *be, struct ws_bnode *n, char *buf, size_t size,
                       size_t *len);

/* files.c */
int ws__posix_open(struct ws_backend *be, struct ws_bnode *n, uint32_t flags,
                   struct ws_bfile **out, struct fsb_attr *attr);
int ws__posix_create(struct ws_backend *be, struct ws_bnode *dir, const char *name,
                     uint32_t flags, uint32_t mode, const struct fsb_cred *owner,
                     struct ws_bnode **out, struct ws_bstat *st, struct ws_bfile **f);
int ws__posix_release(struct ws_backend *be, struct ws_bfile *f);
int ws__posix_read(struct ws_backend *be, struct ws_bfile *f, uint64_t off, void *buf,
                   uint32_t size, uint32_t *got);
int ws__posix_write(struct ws_backend *be, struct ws_bfile *f, uint64_t off, const void *buf,
                    uint32_t size, uint32_t *written, struct fsb_attr *attr);
int ws__posix_flush(struct ws_backend *be, struct ws_bfile *f);
int ws__posix_fsync(struct ws_backend *be, struct ws_bfile *f, int datasync);
int ws__posix_falloc(struct ws_backend *be, struct ws_bfile *f, uint32_t mode,
                     uint64_t off, uint64_t len, struct fsb_attr *attr);
int ws__posix_readdir(struct ws_backend *be, struct ws_bfile *f, uint64_t cookie,
                      ws_dirent_fn fn, void *ctx, int *eof);

/* entries.c */
int ws__posix_mkdir(struct ws_backend *be, struct ws_bnode *dir, const char *name,
                    uint32_t mode, const struct fsb_cred *owner, struct ws_bnode **out,
                    struct ws_bstat *st);
int ws__posix_mknod(struct ws_backend *be, struct ws_bnode *dir, const char *name,
                    uint32_t mode, uint32_t rdev, const struct fsb_cred *owner,
                    struct ws_bnode **out, struct ws_bstat *st);
int ws__posix_symlink(struct ws_backend *be, struct ws_bnode *dir, const char *name,
                      const char *target, const struct fsb_cred *owner,
                      struct ws_bnode **out, struct ws_bstat *st);
int ws__posix_link(struct ws_backend *be, struct ws_bnode *n, struct ws_bnode *newdir,
                   const char *newname, struct ws_bnode **out, struct ws_bstat *st);
int ws__posix_unlink(struct ws_backend *be, struct ws_bnode *dir, const char *name);
int ws__posix_rmdir(struct ws_backend *be, struct ws_bnode *dir, const char *name);
int ws__posix_rename(struct ws_backend *be, struct ws_bnode *olddir, const char *oldname,
                     struct ws_bnode *newdir, const char *newname, uint32_t flags);

#endif
