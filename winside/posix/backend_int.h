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
#include "ws_hash.h"
#include "ws_posix.h"

struct stat;

/*
 * A node: one file system object some client knows, shared by every
 * session's node of it (found by identity in the backend's registry) and
 * counted by references: one per core node, one per child anchored to it.
 *
 * No node holds a descriptor for good. Each is re-opened when used, by its
 * file handle where the file system gives them and we may open them
 * (CAP_DAC_READ_SEARCH), else by its anchor: the directory it was last
 * found in and its name there, with the identity checked on the way.
 * Descriptors of directories (and of every node without a handle) are kept
 * in an LRU of bounded size; a node about to lose its last name is pinned
 * (holds its descriptor until forgotten), because neither a handle nor a
 * name reaches an unlinked file that a client still has open. objs.c keeps
 * all of this, and says how a descriptor is proven to be inside the export.
 */
struct ws_bnode {
	struct ws_hlink by_ident;   /* the registry */
	struct ws_bnode *parent;    /* anchor (a reference), or NULL */
	char *name;                 /* in parent, while anchored */
	struct ws_bnode *lru_prev;  /* while its descriptor is in the LRU */
	struct ws_bnode *lru_next;
	struct file_handle *fh;     /* or NULL */
	uint64_t checked_gen;       /* when last proven inside the export */
	int64_t checked_ms;
	unsigned refs;
	unsigned users;             /* borrowers of fd */
	int fd;                     /* O_PATH (a link's own), or -1 */
	uint8_t pinned;             /* fd held until the node is freed */
	uint8_t in_lru;
	uint8_t is_root;
	uint8_t registered;         /* in the registry */
	mode_t type;                /* S_IFMT bits: an inode never changes type */
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

struct posix_be {
	struct ws_backend base;
	int root_fd;
	dev_t root_dev;
	ino_t root_ino;
	int try_openat2;    /* cleared for good on ENOSYS */
	int handles;        /* nodes keep file handles */
	int mount_fd;       /* open_by_handle_at's anchor (not O_PATH), or -1 */
	/* objs.c: the registry, the LRU and every node's fields but the
	 * immutable ones, under one leaf lock. */
	pthread_mutex_t obj_lock;
	struct ws_htab objs;
	struct ws_bnode *root;
	struct ws_bnode *lru_head;  /* most recently used */
	struct ws_bnode *lru_tail;
	size_t lru_count;
	size_t lru_cap;
	size_t nodes;
	size_t dirs;
	size_t pinned;
	size_t name_bytes;
	size_t handle_bytes;
	/* Bumped when a directory may have left the export (watch_batch.c
	 * and our own renames): every proof older is redone. */
	_Atomic uint64_t moves;
	enum ws_posix_watcher watcher;
	/* What the watcher holds, as it last told (ws__posix_watch_tally). */
	_Atomic size_t watch_dirs;
	_Atomic size_t watch_polled;
	_Atomic size_t watch_bytes;
};

#define PROC_FD_LEN 32

/* ---- backend.c: conversions --------------------------------------------- */

/* errno as a negative protocol status. */
int ws__posix_status(int err);
void ws__posix_proc_path(char buf[PROC_FD_LEN], int fd);
dev_t ws__posix_decode_dev(uint32_t v);
void ws__posix_fill_attr(const struct stat *s, struct fsb_attr *a);
int ws__posix_lstat_fd(int fd, struct stat *s);

/* ---- objs.c ------------------------------------------------------------- */

int ws__posix_objs_init(struct posix_be *pb);
void ws__posix_objs_release(struct posix_be *pb);
/* The node for the object fd (O_PATH) refers to, found in `parent` as
 * `name` (NULL, NULL: the export root); takes fd. A node of that identity
 * already known gets one more reference and is re-anchored there. */
int ws__posix_obj_enter(struct posix_be *pb, int fd, const struct stat *s,
                        struct ws_bnode *parent, const char *name, struct ws_bnode **out);
void ws__posix_obj_put(struct posix_be *pb, struct ws_bnode *n);
/* A descriptor for the node, proven inside the export when it is a
 * directory (see objs.c); give it back with ws__posix_node_fd_put.
 * Returns the fd or a negative status. */
int ws__posix_node_fd(struct posix_be *pb, struct ws_bnode *n);
void ws__posix_node_fd_put(struct posix_be *pb, struct ws_bnode *n, int fd);
/* A directory node's descriptor, for resolving names in it: as
 * ws__posix_node_fd, -FSB_ENOTDIR for other nodes. */
int ws__posix_dir_fd(struct posix_be *pb, struct ws_bnode *dir);
/* Give the known node of (dev, ino), if not a directory, a descriptor it
 * keeps: it may be losing its last name. */
void ws__posix_obj_pin(struct posix_be *pb, dev_t dev, ino_t ino);
/* Anchor the known node of whatever `name` in dir (descriptor dfd) is
 * now there: a rename of ours moved it. */
void ws__posix_obj_reanchor(struct posix_be *pb, struct ws_bnode *dir, int dfd, const char *name);

/* ---- nodes.c ------------------------------------------------------------ */

/* One component below dirfd, as an O_PATH descriptor of whatever is there,
 * a link included; the fd or -errno. */
int ws__posix_open_below(struct posix_be *pb, int dirfd, const char *name);
/* A file handle for the object fd refers to, sized to fit, or NULL. */
struct file_handle *ws__posix_handle_of(int fd);
/* Pin whatever `name` in dirfd is now, unless a directory: it may be
 * losing its last name. */
void ws__posix_pin_name(struct posix_be *pb, int dirfd, const char *name);
/* Wrap an O_PATH descriptor into a node found in dir as name (NULL, NULL:
 * the root); takes fd. */
int ws__posix_node_from_fd(struct posix_be *pb, int fd, struct ws_bnode *dir, const char *name,
                           struct ws_bnode **out, struct ws_bstat *st);

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
