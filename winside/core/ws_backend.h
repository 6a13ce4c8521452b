/*
 * ws_backend.h - the interface between the server core and a filesystem
 * backend (winside/posix today, winside/win32 later).
 *
 * The interface is node-based, never path-based. A backend node is the
 * backend's grip on one file system object (POSIX: an O_PATH descriptor;
 * Win32: a handle opened with FILE_FLAG_OPEN_REPARSE_POINT). Every name
 * the core passes is ONE component that the core has already validated
 * (not empty, not "." or "..", no '/', no NUL, at most FSB_NAME_MAX bytes),
 * and it is resolved relative to a parent node's grip. So a backend never
 * walks a path, and confinement to the export reduces to two duties of
 * the backend:
 *   - never follow a symbolic link (or junction/reparse point): a lookup of
 *     a link yields the link itself, opening a link fails with
 *     -FSB_ELOOP, and using a link as a parent fails with -FSB_ENOTDIR;
 *   - reject names the platform would reinterpret (Win32: device names,
 *     "name:stream", trailing dots) with -FSB_EINVAL or -FSB_EILSEQ.
 *
 * Conventions:
 *   - Every operation returns 0 or a negated protocol status
 *     (-FSB_ENOENT), never a raw errno or Win32 error.
 *   - Operations may run concurrently on any threads, on the same or on
 *     different nodes and files; the backend serialises what must be
 *     (a directory stream). The core guarantees that a node or file is not
 *     freed or released while an operation on it is running.
 *   - Out-parameters are written only on success. An operation that fails
 *     leaves nothing open.
 *   - Attributes are post-operation attributes: what a stat right after
 *     the operation would report.
 */
#ifndef WS_BACKEND_H
#define WS_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "fsb_proto.h"

/*
 * Stable identity of a file system object, the key of the core's node
 * table: two lookups yield the same wire node exactly when their identities
 * are equal. POSIX: (st_dev, st_ino, 0). Win32: (volume serial number,
 * FILE_ID_128 low, high).
 */
struct ws_ident {
	uint64_t vol;
	uint64_t lo;
	uint64_t hi;
};

/* Attributes plus identity, as returned by every entry-producing call. */
struct ws_bstat {
	struct ws_ident ident;
	struct fsb_attr attr;
};

struct ws_bnode;        /* defined by each backend */
struct ws_bfile;        /* an open file or directory; defined by each backend */

/* One directory entry offered to the core's readdir callback. */
struct ws_dirent {
	const char *name;       /* NUL-terminated */
	size_t namelen;
	uint64_t cookie;        /* resumes the listing after this entry */
	struct ws_bstat st;     /* not following links */
};

/*
 * Return WS_DIRENT_NEXT when the entry is consumed (sent or deliberately
 * skipped), WS_DIRENT_STOP when it does not fit: the backend then keeps it
 * so that the next readdir from the same cookie starts with it. A negative
 * status aborts the listing (the entry is not consumed either).
 */
enum {
	WS_DIRENT_NEXT = 0,
	WS_DIRENT_STOP = 1,
};
typedef int (*ws_dirent_fn)(void *ctx, const struct ws_dirent *de);

/*
 * Change watching. A backend watches one export recursively and reports
 * what its platform watcher saw (inotify, ReadDirectoryChangesW), in the
 * order it saw it, as batches of ws_change. The core (events.c) adds
 * per-session sequence numbers and echo tags and pushes EVENT frames.
 */
struct ws_change {
	uint8_t kind;           /* FSB_EV_* */
	uint8_t flags;          /* FSB_EVF_DIR, FSB_EVF_ATTR, and where the
	                         * watcher can tell FSB_EVF_OUTSIDE (CREATED,
	                         * REMOVED) and FSB_EVF_CLOSE_WRITE (ATTRIB);
	                         * never ECHO. The core sends the last two
	                         * only to sessions with FSB_CAP_EVENT_EDGES. */
	/* A CREATED found by listing a directory that came in with
	 * FSB_EVF_OUTSIDE: it moved in with that directory. Sessions with
	 * FSB_CAP_EVENT_EDGES are not told (the move told them), others get
	 * it as a creation. */
	uint8_t moved_with;
	uint32_t cookie;        /* pairs RENAMED_FROM with the RENAMED_TO that
	                         * directly follows it; else 0 */
	const char *path;       /* relative to the export root, '/'-separated,
	                         * "" for the root; NUL-terminated */
	size_t pathlen;
	/* Echo matching keys: the identity of the directory holding the name
	 * (always set; for the root itself, the root's), the last path
	 * component (NUL-terminated, "" for the root), and the identity of
	 * the object when FSB_EVF_ATTR is set. */
	struct ws_ident dir;
	const char *name;
	struct ws_ident obj;
	struct fsb_attr attr;   /* post-change attributes, when FSB_EVF_ATTR */
};

/* Runs on the backend's watcher thread with one batch of changes, in
 * order; a rename pair is never split across batches. Must not block for
 * long: the core only encodes and queues. */
typedef void (*ws_change_fn)(void *ctx, const struct ws_change *ch, size_t n);

struct ws_watch;        /* defined by each backend */

struct ws_backend;

struct ws_backend_ops {
	const char *name;       /* "posix", "win32": shown in HELLO */
	uint64_t caps;          /* FSB_CAP_* this backend can honour */

	/* A new grip on the export root, one per session. */
	int (*root)(struct ws_backend *be, struct ws_bnode **out, struct ws_bstat *st);
	/* Drop a node's grip. Never fails. */
	void (*forget)(struct ws_backend *be, struct ws_bnode *n);

	/* Resolve `name` in directory `dir`, without following a link. */
	int (*lookup)(struct ws_backend *be, struct ws_bnode *dir, const char *name,
	              struct ws_bnode **out, struct ws_bstat *st);
	/* Attributes of `n`, through the open file `f` when it is non-NULL. */
	int (*getattr)(struct ws_backend *be, struct ws_bnode *n, struct ws_bfile *f,
	               struct fsb_attr *attr);
	/* Apply req->valid (FSB_SET_*; FSB_SET_FH means use `f`) in the
	 * order mode, owner, size, times. Links: mode -> -FSB_ENOTSUP;
	 * size of a directory -> -FSB_EISDIR. */
	int (*setattr)(struct ws_backend *be, struct ws_bnode *n, struct ws_bfile *f,
	               const struct fsb_setattr_req *req, struct fsb_attr *attr);
	int (*statfs)(struct ws_backend *be, struct ws_bnode *n, struct fsb_statfs *sf);
	/* Link target; -FSB_EINVAL if `n` is not a link. */
	int (*readlink)(struct ws_backend *be, struct ws_bnode *n, char *buf, size_t size,
	                size_t *len);

	/* Open `n` (flags: FSB_O_*, without CREAT/EXCL). Links -> -FSB_ELOOP;
	 * objects that are neither regular files nor directories ->
	 * -FSB_EACCES (a client must not reach devices or FIFOs on the
	 * server through an export). */
	int (*open)(struct ws_backend *be, struct ws_bnode *n, uint32_t flags,
	            struct ws_bfile **out, struct fsb_attr *attr);
	/* Create (or with no FSB_O_EXCL, open an existing regular file) `name`
	 * in `dir`, returning both the node and the open file. `owner`, in
	 * this and every call that makes an object (mkdir, mknod, symlink),
	 * is the client's caller, who owns the new object as on Linux (its
	 * uid; its gid, or the directory's in a set-group-ID directory), as
	 * of the reply: the attributes returned already show that owner.
	 * NULL, or a backend that cannot give objects away, leaves the
	 * server's own identity as the owner. */
	int (*create)(struct ws_backend *be, struct ws_bnode *dir, const char *name,
	              uint32_t flags, uint32_t mode, const struct fsb_cred *owner,
	              struct ws_bnode **out, struct ws_bstat *st, struct ws_bfile **f);
	/* Close. The file is gone afterwards whatever the result. */
	int (*release)(struct ws_backend *be, struct ws_bfile *f);
	/* Read up to `size` bytes at `off`; *got < size only at end of file. */
	int (*read)(struct ws_backend *be, struct ws_bfile *f, uint64_t off, void *buf,
	            uint32_t size, uint32_t *got);
	/* Write at `off` (at the end for append handles); attr afterwards. */
	int (*write)(struct ws_backend *be, struct ws_bfile *f, uint64_t off, const void *buf,
	             uint32_t size, uint32_t *written, struct fsb_attr *attr);
	/* The close(2)-time duties of one client close of a shared handle. */
	int (*flush)(struct ws_backend *be, struct ws_bfile *f);
	int (*fsync)(struct ws_backend *be, struct ws_bfile *f, int datasync);
	/* Allocate, punch or zero [off, off + len) of a file opened for
	 * writing (mode: FSB_FALLOC_*); attr afterwards. Optional: a backend
	 * without it leaves it NULL and does not claim FSB_CAP_FALLOCATE;
	 * a mode it cannot do is -FSB_ENOTSUP. */
	int (*fallocate)(struct ws_backend *be, struct ws_bfile *f, uint32_t mode, uint64_t off,
	                 uint64_t len, struct fsb_attr *attr);
	/*
	 * Offer the entries of directory handle `f` after `cookie` (0: from
	 * the start) to `fn`, in order, skipping "." and ".." and entries that
	 * vanish while being listed. *eof is set when the end was reached.
	 * Calls on one handle are serialised by the backend. `fn` may call
	 * lookup (and the core's node table) while the backend holds the
	 * handle's lock, so that lock must be the handle's own.
	 */
	int (*readdir)(struct ws_backend *be, struct ws_bfile *f, uint64_t cookie,
	               ws_dirent_fn fn, void *ctx, int *eof);

	int (*mkdir)(struct ws_backend *be, struct ws_bnode *dir, const char *name,
	             uint32_t mode, const struct fsb_cred *owner, struct ws_bnode **out,
	             struct ws_bstat *st);
	/* mode carries the type (FSB_S_IF*: regular, FIFO, socket, devices);
	 * rdev is major/minor in the Linux kernel's 32-bit encoding. */
	int (*mknod)(struct ws_backend *be, struct ws_bnode *dir, const char *name,
	             uint32_t mode, uint32_t rdev, const struct fsb_cred *owner,
	             struct ws_bnode **out, struct ws_bstat *st);
	/* `target` is stored as given and never resolved by the server. */
	int (*symlink)(struct ws_backend *be, struct ws_bnode *dir, const char *name,
	               const char *target, const struct fsb_cred *owner, struct ws_bnode **out,
	               struct ws_bstat *st);
	int (*link)(struct ws_backend *be, struct ws_bnode *n, struct ws_bnode *newdir,
	            const char *newname, struct ws_bnode **out, struct ws_bstat *st);
	int (*unlink)(struct ws_backend *be, struct ws_bnode *dir, const char *name);
	int (*rmdir)(struct ws_backend *be, struct ws_bnode *dir, const char *name);
	/* flags: FSB_RENAME_*; -FSB_EINVAL where the platform lacks one. */
	int (*rename)(struct ws_backend *be, struct ws_bnode *olddir, const char *oldname,
	              struct ws_bnode *newdir, const char *newname, uint32_t flags);

	/*
	 * Start watching the whole export. Changes flow to fn(ctx, ...) from a
	 * backend thread until watch_stop returns; watch_stop joins that
	 * thread, so fn is never running after it. A backend without watching
	 * leaves both NULL and does not claim FSB_CAP_EVENTS. Overflow of the
	 * platform watcher is reported as FSB_EV_RESCAN of the affected
	 * subtree ("" for all of it), never silently dropped.
	 */
	int (*watch_start)(struct ws_backend *be, ws_change_fn fn, void *ctx,
	                   struct ws_watch **out);
	void (*watch_stop)(struct ws_backend *be, struct ws_watch *w);

	/* Free the backend after every session using it has ended. */
	void (*destroy)(struct ws_backend *be);
};

/* Backends embed this as their first member. */
struct ws_backend {
	const struct ws_backend_ops *ops;
};

#endif
