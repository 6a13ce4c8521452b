/*
 * ops_int.h - what the files of the FUSE operations share:
 *   fuse_ops.c     the operations table and init; a request on its way to
 *                  the server (struct fb_op) and its helpers; entries
 *                  handed to the kernel with exact lookup references
 *   replay_view.c  the answers to the event thread's replay, from the
 *                  event record (ghosts included)
 *   lazy.c         coherent mode's answers without the server: lazily
 *                  opened handles, GETATTR from the node table
 *   ops_node.c     LOOKUP, FORGET, GETATTR, SETATTR, READLINK, STATFS
 *   ops_dir.c      MKNOD, MKDIR, SYMLINK, LINK, CREATE, UNLINK, RMDIR,
 *                  RENAME, READDIR, READDIRPLUS
 *   ops_file.c     OPEN, OPENDIR, READ, WRITE, FALLOCATE, FLUSH, FSYNC,
 *                  FSYNCDIR, RELEASE, RELEASEDIR
 * The ops_*.c files call the three above them; lazy.c calls
 * replay_view.c and fuse_ops.c; replay_view.c calls fuse_ops.c; fuse_ops.c
 * reaches the handlers only through its table. Not for the rest of the
 * daemon, which sees fuse_ops.h.
 */
#ifndef FB_OPS_INT_H
#define FB_OPS_INT_H

#include <stdint.h>
#include <sys/types.h>

#include "fuse_ops.h"

struct stat;

/* One FUSE request on its way to the server. `call` comes first: the conn
 * hands it back and releases it through op_release(). */
struct fb_op {
	struct fb_call call;
	struct fb_fs *fs;
	fb_call_cb done;            /* the request's own reply callback */
	fuse_req_t req;             /* NULL for fire-and-forget requests */
	uint64_t node;              /* the node whose attributes come back */
	uint64_t parent;            /* the directory whose attributes come back */
	size_t size;                /* readdir buffer, read size */
	int plus;                   /* readdir: readdirplus */
	off_t off;                  /* readdir: the kernel's offset */
	struct fuse_file_info fi;
	unsigned rflags;            /* rename: RENAME_* */
	uint32_t rmode;             /* replayed creation: the type asked for */
	uint32_t cflags, cmode;     /* CREATE: as sent, for a retry */
	struct fsb_attr rattr;      /* replayed creation: the recorded state */
	struct fb_op *deferred;     /* a lazy OPEN: the request waiting for it */
	void (*resend)(struct fb_op *op);   /* how the deferred request goes out */
	char name[FSB_NAME_MAX + 1];   /* the name an entry gets, for dents */
	char name2[FSB_NAME_MAX + 1];  /* rename: the new name */
};

/*
 * A lazily-opened handle (lazy.c) is a struct fb_lazy, passed to the
 * kernel as its address with FB_LAZY_BIT set (server handles are below
 * 2^63, PROTOCOL.md).
 */
#define FB_LAZY_BIT (1ull << 63)

struct fb_lazy {
	_Atomic uint64_t fh;        /* the server's handle; 0 until needed */
	uint64_t node;
	uint32_t oflags;            /* FSB_O_* to open it with */
};

/* ---- fuse_ops.c: requests and entries ----------------------------------- */

struct fb_op *fb__op_of(struct fb_call *call);
struct fb_op *fb__op_new(struct fb_fs *fs, fuse_req_t req, fb_call_cb cb);
struct fb_fs *fb__fs_of(fuse_req_t req);
int fb__is_writable(int flags);
/* The name an entry reply will carry, for the dentry mirror. */
void fb__op_name(struct fb_op *op, uint64_t parent, const char *name);
/* Queue m for op, with the caller's credentials where m takes them. If
 * that fails, answer the request now. */
void fb__op_send(struct fb_op *op, struct fsb_msg *m);
/* ops_dir.c: answer READDIR(PLUS) request op from listing r (the kernel's
 * buffer filled, references and names recorded), or send it to the
 * server. */
void fb__readdir_fill(struct fb_op *op, const struct fsb_readdir_rep *r);
/* Give back the server references of listing entries no kernel got. */
void fb__forget_dirents(struct fb_fs *fs, const struct fsb_dirent *ents, uint32_t count);
void fb__readdir_send(struct fb_op *op);
/* The errno a completed call failed with, or 0. */
int fb__rep_errno(const struct fsb_msg *rep, int err);
void fb__msg_init(struct fsb_msg *m, uint16_t op);
struct fsb_str fb__str_of(const char *s);
/* A request sent again after a reconnect (the server before it may have
 * done it) failed with e: whether e means it was done after all, which
 * is the rule for removals and renames that find no source (ENOENT). */
int fb__retried_done(const struct fb_op *op, int e);
/* ops_node.c: answer `was`'s request (a creation sent again after a
 * reconnect that found its name taken) with what the name is now. */
void fb__lookup_instead(struct fb_op *was);
/* Answers ENAMETOOLONG and returns 1 for a name the wire cannot carry. */
int fb__name_too_long(fuse_req_t req, const char *name);
/* The FSB_O_* flags for the kernel's open flags. */
uint32_t fb__open_flags(int flags, int writeback);
void fb__attr_to_stat(uint64_t node, const struct fsb_attr *a, struct stat *st);
void fb__entry_param(const struct fb_fs *fs, const struct fsb_entry *e,
                     struct fuse_entry_param *ep);
/* Give back n server (or ghost) references the kernel will never forget. */
void fb__forget_refs(struct fb_fs *fs, uint64_t node, uint64_t n);
void fb__drop_refs(struct fb_fs *fs, uint64_t node, uint64_t n);
/* Close a server handle without anyone waiting for the answer. */
void fb__release_orphan_fh(struct fb_fs *fs, uint64_t fh);
/* Hand a new entry (and, for create, its open handle in op->fi) to the
 * kernel, keeping the reference count exact whatever happens. */
void fb__reply_entry(struct fb_op *op, const struct fsb_entry *e, int is_create);

/* ---- replay_view.c: each returns 1 when it has answered the request ------ */

int fb__from_replay(fuse_req_t req);
int fb__replay_lookup(fuse_req_t req, struct fb_fs *fs, uint64_t parent, const char *name);
int fb__replay_create(fuse_req_t req, struct fb_fs *fs, uint64_t parent, const char *name,
                      uint32_t mode, const struct fuse_file_info *fi);
int fb__replay_attr(fuse_req_t req, struct fb_fs *fs, uint64_t ino, int setting);
int fb__ghost_gone(fuse_req_t req, uint64_t a, uint64_t b);

/* ---- lazy.c ------------------------------------------------------------- */

/* The lazy handle behind a kernel handle, or NULL for a server handle. */
struct fb_lazy *fb__lazy_of(uint64_t fh);
/* The handle to name on the wire for a kernel handle: 0 for none. */
uint64_t fb__wire_fh(uint64_t fh);
/* Send `op` through resend() once its lazy handle has a server handle. */
void fb__lazy_send(struct fb_op *op, void (*resend)(struct fb_op *op));
/* Answer an open without the server, if it may be. 1 when answered. */
int fb__open_lazily(struct fb_fs *fs, fuse_req_t req, uint64_t ino,
                    struct fuse_file_info *fi, int dir);
/* Whether the mount may do without OPENDIR and RELEASEDIR (at init). */
int fb__no_opendir_allowed(const struct fb_fs *fs, const struct fuse_conn_info *conn);
/* Answer ENOENT for a name a listed directory does not know, if it may
 * be. 1 when answered. */
int fb__negative_locally(fuse_req_t req, struct fb_fs *fs, uint64_t parent, const char *name);
/* Answer a SETATTR that changes nothing on the server (the kernel
 * writing back times the server has) from the node table. 1 when
 * answered. */
int fb__setattr_locally(fuse_req_t req, struct fb_fs *fs, uint64_t ino, const struct stat *attr,
                        int to_set);
/* Answer a GETATTR from the node table, if it may be. 1 when answered. */
int fb__answer_attr_locally(fuse_req_t req, struct fb_fs *fs, uint64_t ino);

/* ---- the handlers, for the table in fuse_ops.c --------------------------- */

/* ops_node.c */
void fb__lookup(fuse_req_t req, fuse_ino_t parent, const char *name);
void fb__forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup);
void fb__forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets);
void fb__getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fb__setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
                 struct fuse_file_info *fi);
void fb__readlink(fuse_req_t req, fuse_ino_t ino);
void fb__statfs(fuse_req_t req, fuse_ino_t ino);

/* ops_dir.c */
void fb__mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev);
void fb__mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode);
void fb__create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
                struct fuse_file_info *fi);
void fb__symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name);
void fb__link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname);
void fb__unlink(fuse_req_t req, fuse_ino_t parent, const char *name);
void fb__rmdir(fuse_req_t req, fuse_ino_t parent, const char *name);
void fb__rename(fuse_req_t req, fuse_ino_t parent, const char *name,
                fuse_ino_t newparent, const char *newname, unsigned int flags);
void fb__readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                 struct fuse_file_info *fi);
void fb__readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                     struct fuse_file_info *fi);

/* ops_file.c */
void fb__open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fb__opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fb__read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
              struct fuse_file_info *fi);
void fb__write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size,
               off_t off, struct fuse_file_info *fi);
void fb__fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t offset,
                   off_t length, struct fuse_file_info *fi);
void fb__flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fb__release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fb__fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi);
void fb__releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fb__fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi);

#endif
