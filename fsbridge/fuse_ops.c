/*
 * fuse_ops.c - see fuse_ops.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include "fuse_ops.h"
#include "log.h"

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#endif
#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif

/* One FUSE request on its way to the server. `call` comes first: the conn
 * hands it back and releases it through op_release(). */
struct fb_op {
	struct fb_call call;
	struct fb_fs *fs;
	fuse_req_t req;             /* NULL for fire-and-forget requests */
	uint64_t node;              /* the node whose attributes come back */
	uint64_t parent;            /* the directory whose attributes come back */
	size_t size;                /* readdir buffer, read size */
	int plus;                   /* readdir: readdirplus */
	off_t off;                  /* readdir: the kernel's offset */
	struct fuse_file_info fi;
	unsigned rflags;            /* rename: RENAME_* */
	uint32_t rmode;             /* replayed creation: the type asked for */
	struct fsb_attr rattr;      /* replayed creation: the recorded state */
	struct fb_op *deferred;     /* a lazy OPEN: the request waiting for it */
	void (*resend)(struct fb_op *op);   /* how the deferred request goes out */
	char name[FSB_NAME_MAX + 1];   /* the name an entry gets, for dents */
	char name2[FSB_NAME_MAX + 1];  /* rename: the new name */
};

static struct fb_op *op_of(struct fb_call *call)
{
	return (struct fb_op *)call;
}

static void op_release(struct fb_call *call)
{
	free(op_of(call));
}

static struct fb_op *op_new(struct fb_fs *fs, fuse_req_t req, fb_call_cb cb)
{
	struct fb_op *op = calloc(1, sizeof(*op));

	if (!op)
		return NULL;
	op->fs = fs;
	op->req = req;
	op->call.cb = cb;
	op->call.release = op_release;
	return op;
}

static struct fb_fs *fs_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

static int is_writable(int flags)
{
	return (flags & O_ACCMODE) == O_WRONLY || (flags & O_ACCMODE) == O_RDWR;
}

/* The name an entry reply will carry, for the dentry mirror. Names were
 * checked against FSB_NAME_MAX before. */
static void op_name(struct fb_op *op, uint64_t parent, const char *name)
{
	op->parent = parent;
	snprintf(op->name, sizeof(op->name), "%s", name);
}

/* Queue m for op. If that fails, answer the request now. Requests that
 * create, give away or remove carry their caller, so that what a user
 * makes is theirs on the server too (PROTOCOL.md, credentials). */
static void op_send(struct fb_op *op, struct fsb_msg *m)
{
	int err;

	if (op->req && (op->fs->server.caps & FSB_CAP_CREDS) && fsb_op_takes_cred(m->op)) {
		const struct fuse_ctx *ctx = fuse_req_ctx(op->req);

		m->flags |= FSB_F_CRED;
		m->cred.uid = (uint32_t)ctx->uid;
		m->cred.gid = (uint32_t)ctx->gid;
	}
	err = fb_conn_submit(op->fs->conn, &op->call, m);

	if (err < 0) {
		if (op->req)
			fuse_reply_err(op->req, -err);
		free(op);
	}
}

/* The errno a completed call failed with, or 0. */
static int rep_errno(const struct fsb_msg *rep, int err)
{
	if (err < 0)
		return -err;
	if (rep->status != FSB_OK)
		return fsb_status_to_errno((int)rep->status);
	return 0;
}

static void msg_init(struct fsb_msg *m, uint16_t op)
{
	memset(m, 0, sizeof(*m));
	m->op = op;
}

static struct fsb_str str_of(const char *s)
{
	struct fsb_str r = { .ptr = s, .len = (uint32_t)strlen(s) };
	return r;
}

/* The kernel hands FUSE names of up to 1024 bytes; Linux file systems and
 * the wire allow 255, so answer ENAMETOOLONG here as a native file system
 * would, rather than failing to encode the request. */
static int name_too_long(fuse_req_t req, const char *name)
{
	if (strlen(name) <= FSB_NAME_MAX)
		return 0;
	fuse_reply_err(req, ENAMETOOLONG);
	return 1;
}

/* ---- lazy handles ---------------------------------------------------------- */

/*
 * In coherent mode with change events, a read-only open of a file or a
 * directory is answered by the daemon at once, and the server's handle is
 * opened only when a READ or READDIRPLUS actually needs one. A warm walk
 * (opendir, cached listing, releasedir), git status, or Node reading
 * cached package.json files then costs no round trip to the server at all.
 * The events keep the kernel's cached pages and listings exact, which is
 * what makes keeping them across opens safe.
 *
 * Such a handle is a struct fb_lazy, passed to the kernel as its address
 * with FB_LAZY_BIT set (server handles are below 2^63, PROTOCOL.md).
 */
#define FB_LAZY_BIT (1ull << 63)

struct fb_lazy {
	_Atomic uint64_t fh;        /* the server's handle; 0 until needed */
	uint64_t node;
	uint32_t oflags;            /* FSB_O_* to open it with */
};

static struct fb_lazy *lazy_of(uint64_t fh)
{
	if (fh == FB_REPLAY_FH || !(fh & FB_LAZY_BIT))
		return NULL;
	return (struct fb_lazy *)(uintptr_t)(fh & ~FB_LAZY_BIT);
}

/* The handle to name on the wire for a kernel handle: 0 for none. */
static uint64_t wire_fh(uint64_t fh)
{
	struct fb_lazy *l = lazy_of(fh);

	if (fh == FB_REPLAY_FH)
		return 0;
	return l ? atomic_load(&l->fh) : fh;
}

static int events_active(const struct fb_fs *fs)
{
	return (fs->server.caps & FSB_CAP_EVENTS) && fs->events.mode != FB_EVENTS_OFF;
}

static void release_orphan_fh(struct fb_fs *fs, uint64_t fh);
static uint32_t open_flags(int flags, int writeback);

/* Replies: whatever the deferred request replies. */
static void lazy_open_done(struct fb_call *call, const struct fsb_msg *rep, int err)
{
	struct fb_op *op = op_of(call);
	struct fb_op *next = op->deferred;
	struct fb_lazy *l = lazy_of(next->fi.fh);
	uint64_t none = 0;
	int e = rep_errno(rep, err);

	if (e) {
		fuse_reply_err(next->req, e);
		free(next);
		return;
	}
	/* Two reads of one handle may both have opened it: keep one. */
	if (!atomic_compare_exchange_strong(&l->fh, &none, rep->u.open_rep.fh))
		release_orphan_fh(op->fs, rep->u.open_rep.fh);
	next->resend(next);
}

/* Send `op` through resend() once its lazy handle has a server handle. */
static void lazy_send(struct fb_op *op, void (*resend)(struct fb_op *op))
{
	struct fb_lazy *l = lazy_of(op->fi.fh);
	struct fb_op *open_op;
	struct fsb_msg m;
	int err;

	op->resend = resend;
	if (!l || atomic_load(&l->fh)) {
		resend(op);
		return;
	}
	open_op = op_new(op->fs, NULL, lazy_open_done);
	if (!open_op) {
		fuse_reply_err(op->req, ENOMEM);
		free(op);
		return;
	}
	open_op->deferred = op;
	msg_init(&m, FSB_OP_OPEN);
	m.u.open.node = l->node;
	m.u.open.flags = l->oflags;
	err = fb_conn_submit(op->fs->conn, &open_op->call, &m);
	if (err < 0) {
		free(open_op);
		fuse_reply_err(op->req, -err);
		free(op);
	}
}

/* Answer an open without the server, if it may be. 1 when answered. */
static int open_lazily(struct fb_fs *fs, fuse_req_t req, uint64_t ino,
                       struct fuse_file_info *fi, int dir)
{
	struct fb_lazy *l;

	if (fs->cache.mode != FB_CACHE_COHERENT || !events_active(fs) || !fs->cache.keep_cache)
		return 0;
	if (!dir && ((fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & (O_TRUNC | O_CREAT))))
		return 0;
	l = calloc(1, sizeof(*l));
	if (!l)
		return 0;
	atomic_init(&l->fh, 0);
	l->node = ino;
	l->oflags = dir ? (FSB_O_RDONLY | FSB_O_DIRECTORY) : open_flags(fi->flags, 0);
	fi->fh = FB_LAZY_BIT | (uint64_t)(uintptr_t)l;
	fi->keep_cache = 1;
	if (dir)
		fi->cache_readdir = fs->cache.cache_dir;
	else
		fi->direct_io = fs->cache.direct_io;
	if (fuse_reply_open(req, fi) < 0)
		free(l);
	return 1;
}

/* ---- attributes and entries ---------------------------------------------- */

static void attr_to_stat(uint64_t node, const struct fsb_attr *a, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	/* The kernel shows attr.ino as st_ino; the server's is the backing
	 * file's identity, so hard links share it. */
	st->st_ino = a->ino ? a->ino : node;
	st->st_mode = a->mode;
	st->st_nlink = a->nlink;
	st->st_uid = a->uid;
	st->st_gid = a->gid;
	st->st_rdev = a->rdev;
	st->st_size = (off_t)a->size;
	st->st_blocks = (blkcnt_t)a->blocks;
	st->st_blksize = a->blksize ? (blksize_t)a->blksize : 4096;
	st->st_atim.tv_sec = a->atime.sec;
	st->st_atim.tv_nsec = a->atime.nsec;
	st->st_mtim.tv_sec = a->mtime.sec;
	st->st_mtim.tv_nsec = a->mtime.nsec;
	st->st_ctim.tv_sec = a->ctime.sec;
	st->st_ctim.tv_nsec = a->ctime.nsec;
}

static void entry_param(const struct fb_fs *fs, const struct fsb_entry *e,
                        struct fuse_entry_param *ep)
{
	memset(ep, 0, sizeof(*ep));
	ep->ino = e->node;
	ep->generation = e->gen;
	attr_to_stat(e->node, &e->attr, &ep->attr);
	ep->attr_timeout = fs->cache.attr_timeout;
	ep->entry_timeout = fs->cache.entry_timeout;
}

/* Give back n server references the kernel will never forget. */
static void forget_refs(struct fb_fs *fs, uint64_t node, uint64_t n)
{
	uint64_t to_server, held;
	int gone;

	if (fb_is_ghost(node)) {
		fb_ghost_forget(&fs->events, node, n);
		if (fb_ghost_attr(&fs->events, node, &(struct fsb_attr){ 0 }) < 0)
			fb_dents_forget_child(&fs->dents, node);
		return;
	}
	held = fb_nodes_unref(&fs->nodes, node, n, &to_server, &gone);
	if (held < n)
		fb_dbg("forgetting %llu lookups of node %llu, table had %llu",
		       (unsigned long long)n, (unsigned long long)node, (unsigned long long)held);
	if (gone)
		fb_dents_forget_child(&fs->dents, node);
	if (to_server)
		fb_conn_forget(fs->conn, node, to_server);
}

/* Give back n references the kernel will never forget. */
static void drop_refs(struct fb_fs *fs, uint64_t node, uint64_t n)
{
	forget_refs(fs, node, n);
}

static void noop_done(struct fb_call *call, const struct fsb_msg *rep, int err)
{
	(void)call;
	(void)rep;
	(void)err;
}

/* Close a server handle without anyone waiting for the answer: one the
 * kernel released, or one it never got (its open or create reply did not
 * reach it). */
static void release_orphan_fh(struct fb_fs *fs, uint64_t fh)
{
	struct fb_op *op;
	struct fsb_msg m;

	if (fh == FB_REPLAY_FH)
		return;
	op = op_new(fs, NULL, noop_done);
	if (!op)
		return;
	msg_init(&m, FSB_OP_RELEASE);
	m.u.fh.fh = fh;
	op_send(op, &m);
}

/* Hand a new entry (and, for create, its open handle in op->fi) to the
 * kernel, keeping the reference count exact whatever happens. */
static void reply_entry(struct fb_op *op, const struct fsb_entry *e, int is_create)
{
	struct fb_fs *fs = op->fs;
	struct fuse_entry_param ep;
	int rc;

	if (e->node == 0) {
		/* Nothing to forget: node 0 is no reference. */
		fb_warn("server returned an entry with node 0");
		if (is_create)
			release_orphan_fh(fs, op->fi.fh);
		fuse_reply_err(op->req, EIO);
		return;
	}
	/* Count before replying: the kernel may forget the entry as soon
	 * as it has it. */
	if (fb_nodes_ref(&fs->nodes, e) < 0) {
		fb_conn_forget(fs->conn, e->node, 1);
		if (is_create)
			release_orphan_fh(fs, op->fi.fh);
		fuse_reply_err(op->req, ENOMEM);
		return;
	}
	entry_param(fs, e, &ep);
	/* Before the reply: the kernel may forget the node at once. */
	if (op->name[0])
		fb_dents_add(&fs->dents, op->parent, op->name, strlen(op->name), e->node);
	if (is_create && op->fi.fh != FB_REPLAY_FH && is_writable(op->fi.flags))
		fb_nodes_writers_add(&fs->nodes, e->node, 1);
	if (is_create)
		rc = fuse_reply_create(op->req, &ep, &op->fi);
	else
		rc = fuse_reply_entry(op->req, &ep);
	if (rc < 0) {
		/* Interrupted or the mount is gone: the kernel never saw it. */
		if (op->name[0])
			fb_dents_remove(&fs->dents, op->parent, op->name, strlen(op->name));
		if (is_create && op->fi.fh != FB_REPLAY_FH && is_writable(op->fi.flags))
			fb_nodes_writers_add(&fs->nodes, e->node, -1);
		drop_refs(fs, e->node, 1);
		if (is_create)
			release_orphan_fh(fs, op->fi.fh);
	}
}

/* ---- the replay view ---------------------------------------------------- */

/*
 * Requests of the event thread replaying a change through the mount
 * (events.h) are answered from the event record, never by the server: the
 * change already happened there. Each helper below returns 1 when it has
 * answered the request, 0 when the request should take the normal path.
 */

static int from_replay(fuse_req_t req)
{
	return fb_replay_is_mine(&fs_of(req)->events, fuse_req_ctx(req)->pid);
}

/* The attributes of something the record does not describe any more. */
static void synth_attr(uint32_t mode, struct fsb_attr *a)
{
	memset(a, 0, sizeof(*a));
	a->mode = mode;
	a->nlink = S_ISDIR(mode) ? 2 : 1;
	a->blksize = 4096;
}

/* Answer a replay LOOKUP with an entry made here: a known node (one local
 * reference) or a new ghost. Ghost entries time out at once, so that no
 * other process trusts them. */
static void reply_local_entry(fuse_req_t req, struct fb_fs *fs, uint64_t parent,
                              const char *name, uint64_t known, const struct fsb_attr *ghost,
                              struct fuse_file_info *fi)
{
	int rc;
	struct fuse_entry_param ep;
	struct fsb_entry e;
	int made_ghost = 0;

	if (known && !fb_is_ghost(known) && fb_nodes_ref_local(&fs->nodes, known, &e) == 0) {
		/* a node the kernel has */
	} else if (known && fb_is_ghost(known) && fb_ghost_ref(&fs->events, known, &e) == 0) {
		made_ghost = 1;
	} else if (fb_ghost_new(&fs->events, ghost, &e) == 0) {
		made_ghost = 1;
	} else {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	entry_param(fs, &e, &ep);
	if (made_ghost)
		ep.attr_timeout = ep.entry_timeout = 0;
	fb_dents_add(&fs->dents, parent, name, strlen(name), e.node);
	if (fi) {
		fi->fh = FB_REPLAY_FH;
		rc = fuse_reply_create(req, &ep, fi);
	} else {
		rc = fuse_reply_entry(req, &ep);
	}
	if (rc < 0) {
		if (made_ghost)
			forget_refs(fs, e.node, 1);
		else
			fb_nodes_unref_local(&fs->nodes, e.node);
	}
}

static int view_names(const struct fb_replay_view *v, uint64_t parent, const char *name)
{
	return v->kind && v->parent == parent && strcmp(v->name, name) == 0;
}

static int view_names2(const struct fb_replay_view *v, uint64_t parent, const char *name)
{
	return v->kind == FSB_EV_RENAMED_FROM && v->parent2 == parent &&
	       strcmp(v->name2, name) == 0;
}

/* LOOKUP. The name being created does not exist yet, whatever the server
 * says now (the kernel looks it up afresh before mknod/mkdir and for a
 * rename target); a name being removed or renamed away still exists. */
static int replay_lookup(fuse_req_t req, struct fb_fs *fs, uint64_t parent, const char *name)
{
	struct fb_replay_view v;
	struct fsb_attr a;
	uint64_t known;

	fb_replay_view_get(&fs->events, &v);
	if (view_names2(&v, parent, name)) {
		/* A rename target: replaced if the kernel knows a file there.
		 * Unless what it knows there is the very file being moved: a
		 * listing or lookup by someone else, answered from the
		 * server's newer state, got there before the replay. Renaming
		 * a file onto itself does nothing and raises nothing, so the
		 * target is new as far as this rename goes: watchers get their
		 * MOVED_FROM and MOVED_TO. */
		known = fb_dents_get(&fs->dents, parent, name, strlen(name));
		if (known && known == fb_dents_get(&fs->dents, v.parent, v.name, strlen(v.name)))
			known = 0;
		if (!known) {
			fuse_reply_err(req, ENOENT);
			return 1;
		}
		synth_attr(FSB_S_IFREG | 0644, &a);
		reply_local_entry(req, fs, parent, name, known, &a, NULL);
		return 1;
	}
	if (view_names(&v, parent, name)) {
		switch (v.kind) {
		case FSB_EV_CREATED:
			fuse_reply_err(req, ENOENT);
			return 1;
		case FSB_EV_REMOVED:
		case FSB_EV_RENAMED_FROM:
			if (v.flags & FSB_EVF_ATTR)
				a = v.attr;
			else
				synth_attr((v.flags & FSB_EVF_DIR) ? (FSB_S_IFDIR | 0755)
				                                   : (FSB_S_IFREG | 0644), &a);
			known = fb_dents_get(&fs->dents, parent, name, strlen(name));
			reply_local_entry(req, fs, parent, name, known, &a, NULL);
			return 1;
		default:
			break;
		}
	}
	/* A name the replay made up a node for (its dentry times out at
	 * once, so the kernel asks again) keeps that node. */
	known = fb_dents_get(&fs->dents, parent, name, strlen(name));
	if (known && fb_is_ghost(known)) {
		synth_attr(FSB_S_IFREG | 0644, &a);
		reply_local_entry(req, fs, parent, name, known, &a, NULL);
		return 1;
	}
	if (fb_is_ghost(parent)) {
		fuse_reply_err(req, ENOENT);
		return 1;
	}
	return 0;
}

static void replay_create_ghost(fuse_req_t req, struct fb_fs *fs, uint64_t parent,
                                const char *name, uint32_t mode, const struct fsb_attr *rec,
                                int have_rec, struct fuse_file_info *fi)
{
	struct fsb_attr a;

	if (have_rec && ((rec->mode ^ mode) & S_IFMT) == 0)
		a = *rec;
	else
		synth_attr(mode, &a);
	reply_local_entry(req, fs, parent, name, 0, &a, fi);
}

/* The server's LOOKUP for a replayed creation: its node if it still is
 * what was created, else a ghost. */
static void replay_create_done(struct fb_call *call, const struct fsb_msg *rep, int err)
{
	struct fb_op *op = op_of(call);

	if (!rep_errno(rep, err)) {
		if (((rep->u.entry.attr.mode ^ op->rmode) & S_IFMT) == 0) {
			reply_entry(op, &rep->u.entry, op->plus);
			return;
		}
		fb_conn_forget(op->fs->conn, rep->u.entry.node, 1);
	}
	replay_create_ghost(op->req, op->fs, op->parent, op->name, op->rmode, &op->rattr, 1,
	                    op->plus ? &op->fi : NULL);
}

/* MKNOD, MKDIR, SYMLINK, CREATE (fi set: answered with a replay handle)
 * of the name the view creates. */
static int replay_create(fuse_req_t req, struct fb_fs *fs, uint64_t parent, const char *name,
                         uint32_t mode, const struct fuse_file_info *fi)
{
	struct fuse_file_info rfi;
	struct fb_replay_view v;
	struct fb_op *op;
	struct fsb_msg m;

	fb_replay_view_get(&fs->events, &v);
	if (v.kind != FSB_EV_CREATED || !view_names(&v, parent, name)) {
		fuse_reply_err(req, EPERM);
		return 1;
	}
	if (fi) {
		rfi = *fi;
		rfi.fh = FB_REPLAY_FH;
		rfi.keep_cache = 0;
	}
	if (fb_is_ghost(parent) || !(v.flags & FSB_EVF_ATTR)) {
		replay_create_ghost(req, fs, parent, name, mode, &v.attr,
		                    !!(v.flags & FSB_EVF_ATTR), fi ? &rfi : NULL);
		return 1;
	}
	op = op_new(fs, req, replay_create_done);
	if (!op) {
		fuse_reply_err(req, ENOMEM);
		return 1;
	}
	op_name(op, parent, name);
	op->rmode = mode;
	op->rattr = v.attr;
	if (fi) {
		op->plus = 1;   /* reused: answer with fuse_reply_create */
		op->fi = rfi;
	}
	msg_init(&m, FSB_OP_LOOKUP);
	m.u.name.parent = parent;
	m.u.name.name = str_of(name);
	op_send(op, &m);
	return 1;
}

/* GETATTR and SETATTR of the replay, and any request on a ghost: the
 * recorded state. */
static int replay_attr(fuse_req_t req, struct fb_fs *fs, uint64_t ino, int setting)
{
	struct fb_replay_view v;
	struct fsb_attr a;
	struct stat st;
	double timeout = fs->cache.attr_timeout;
	int have;

	if (fb_is_ghost(ino)) {
		if (fb_ghost_attr(&fs->events, ino, &a) < 0) {
			fuse_reply_err(req, ENOENT);
			return 1;
		}
		timeout = 0;
	} else if (!setting) {
		return 0;
	} else {
		/* A replayed truncate or utimensat: the state after the
		 * change, as the server recorded it - unless a reply to one
		 * of our own requests has told of a later state since. */
		fb_replay_view_get(&fs->events, &v);
		have = fb_nodes_get_attr(&fs->nodes, ino, &a) == 0;
		if (v.kind && (v.flags & FSB_EVF_ATTR) && (!have || !fb_attr_newer(&a, &v.attr))) {
			a = v.attr;
		} else if (!have) {
			fuse_reply_err(req, ENOENT);
			return 1;
		}
		fb_nodes_set_attr(&fs->nodes, ino, &a);
	}
	attr_to_stat(ino, &a, &st);
	fuse_reply_attr(req, &st, timeout);
	return 1;
}

/* Any other request naming a ghost, from anyone but the replay thread:
 * the object is gone. */
static int ghost_gone(fuse_req_t req, uint64_t a, uint64_t b)
{
	if (!fb_is_ghost(a) && !fb_is_ghost(b))
		return 0;
	fuse_reply_err(req, ENOENT);
	return 1;
}

/* ---- lookup, forget -------------------------------------------------------- */

/* Replies: entry (negative entry with ino 0 for a cached ENOENT), err. */
static void lookup_done(struct fb_call *call, const struct fsb_msg *rep, int err)
{
	struct fb_op *op = op_of(call);
	int e = rep_errno(rep, err);

	if (e == ENOENT && op->fs->cache.negative_timeout > 0) {
		struct fuse_entry_param ep;

		memset(&ep, 0, sizeof(ep));
		ep.entry_timeout = op->fs->cache.negative_timeout;
		fuse_reply_entry(op->req, &ep);
		return;
	}
	if (e) {
		fuse_reply_err(op->req, e);
		return;
	}
	reply_entry(op, &rep->u.entry, 0);
}

static void fb_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fb_op *op;
	struct fsb_msg m;

	if (name_too_long(req, name))
		return;
	if (from_replay(req) && replay_lookup(req, fs_of(req), parent, name))
		return;
	if (ghost_gone(req, parent, 0))
		return;
	op = op_new(fs_of(req), req, lookup_done);
	if (!op) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	op_name(op, parent, name);
	msg_init(&m, FSB_OP_LOOKUP);
	m.u.name.parent = parent;
	m.u.name.name = str_of(name);
	op_send(op, &m);
}

static void forget_one(struct fb_fs *fs, uint64_t node, uint64_t nlookup)
{
	forget_refs(fs, node, nlookup);
}

/* Replies: none. */
static void fb_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	forget_one(fs_of(req), ino, nlookup);
	fuse_reply_none(req);
}

/* Replies: none. The conn batches these into one FORGET frame anyway. */
static void fb_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
	struct fb_fs *fs = fs_of(req);
	size_t i;

	for (i = 0; i < count; i++)
		forget_one(fs, forgets[i].ino, forgets[i].nlookup);
	fuse_reply_none(req);
}

/* ---- attributes ---------------------------------------------------------- */

/* Replies: attr, err. */
static void attr_done(struct fb_call *call, const struct fsb_msg *rep, int err)
{
	struct fb_op *op = op_of(call);
	int e = rep_errno(rep, err);
	struct stat st;

	if (e) {
		fuse_reply_err(op->req, e);
		return;
	}
	fb_nodes_set_attr(&op->fs->nodes, op->node, &rep->u.attr);
	attr_to_stat(op->node, &rep->u.attr, &st);
	fuse_reply_attr(op->req, &st, op->fs->cache.attr_timeout);
}

/*
 * In coherent mode with change events the node table's attributes are
 * exact (events.c keeps them so), so GETATTR needs no round trip: the
 * kernel asks again for every directory it has listed, only because a
 * listing makes its idea of the atime stale. The atime served is the
 * one last seen.
 */
static int answer_attr_locally(fuse_req_t req, struct fb_fs *fs, uint64_t ino)
{
	struct fsb_attr a;
	struct stat st;

	/* The replay thread acts on the state the event recorded, which the
	 * server may have left behind already (the file is gone again): it
	 * gets what the table holds, stale or not. */
	if (from_replay(req)) {
		if (fb_nodes_get_attr(&fs->nodes, ino, &a) < 0)
			return 0;
	} else if (fs->cache.mode != FB_CACHE_COHERENT || !events_active(fs) ||
	           fb_nodes_get_fresh_attr(&fs->nodes, ino, &a) < 0) {
		return 0;
	}
	attr_to_stat(ino, &a, &st);
	fuse_reply_attr(req, &st, fs->cache.attr_timeout);
	return 1;
}

static void fb_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fb_op *op;
	struct fsb_msg m;

	if (fb_is_ghost(ino)) {
		if (from_replay(req))
			replay_attr(req, fs_of(req), ino, 0);
		else
			fuse_reply_err(req, ENOENT);
		return;
	}
	if (answer_attr_locally(req, fs_of(req), ino))
		return;
	op = op_new(fs_of(req), req, attr_done);
	if (!op) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	op->node = ino;
	msg_init(&m, FSB_OP_GETATTR);
	m.u.node.node = ino;
	m.u.node.fh = fi ? wire_fh(fi->fh) : 0;
	op_send(op, &m);
}

static void fb_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
                       struct fuse_file_info *fi)
{
	struct fb_op *op;
	struct fsb_setattr_req *s;
	struct fsb_msg m;

	if (from_replay(req) || (fi && fi->fh == FB_REPLAY_FH)) {
		replay_attr(req, fs_of(req), ino, 1);
		return;
	}
	if (ghost_gone(req, ino, 0))
		return;
	op = op_new(fs_of(req), req, attr_done);
	if (!op) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	op->node = ino;
	msg_init(&m, FSB_OP_SETATTR);
	s = &m.u.setattr;
	s->node = ino;
	if (fi && wire_fh(fi->fh)) {
		s->valid |= FSB_SET_FH;
		s->fh = wire_fh(fi->fh);
	}
	if (to_set & FUSE_SET_ATTR_MODE) {
		s->valid |= FSB_SET_MODE;
		s->mode = attr->st_mode;
	}
	if (to_set & FUSE_SET_ATTR_UID) {
		s->valid |= FSB_SET_UID;
		s->uid = attr->st_uid;
	}
	if (to_set & FUSE_SET_ATTR_GID) {
		s->valid |= FSB_SET_GID;
		s->gid = attr->st_gid;
	}
	if (to_set & FUSE_SET_ATTR_SIZE) {
		s->valid |= FSB_SET_SIZE;
		s->size = (uint64_t)attr->st_size;
	}
	/* The kernel sets ATIME together with ATIME_NOW for "now": the
	 * server's clock wins then. */
	if (to_set & FUSE_SET_ATTR_ATIME_NOW) {
		s->valid |= FSB_SET_ATIME_NOW;
	} else if (to_set & FUSE_SET_ATTR_ATIME) {
		s->valid |= FSB_SET_ATIME;
		s->atime.sec = attr->st_atim.tv_sec;
		s->atime.nsec = (uint32_t)attr->st_atim.tv_nsec;
	}
	if (to_set & FUSE_SET_ATTR_MTIME_NOW) {
		s->valid |= FSB_SET_MTIME_NOW;
	} else if (to_set & FUSE_SET_ATTR_MTIME) {
		s->valid |= FSB_SET_MTIME;
		s->mtime.sec = attr->st_mtim.tv_sec;
		s->mtime.nsec = (uint32_t)attr->st_mtim.tv_nsec;
	}
	op_send(op, &m);
}

/* ---- readlink, statfs ------------------------------------------------------ */

/* Replies: readlink, err. */
static void readlink_done(struct fb_call *call, const struct fsb_msg *rep, int err)
{
	struct fb_op *op = op_of(call);
	int e = rep_errno(rep, err);
	char target[FSB_PATH_MAX + 1];
	const struct fsb_str *t;

	if (e) {
		fuse_reply_err(op->req, e);
		return;
	}
	t = &rep->u.readlink_rep.target;
	if (t->len > FSB_PATH_MAX) {
		fuse_reply_err(op->req, ENAMETOOLONG);
		return;
	}
	memcpy(target, t->ptr, t->len);
	target[t->len] = '\0';
	fuse_reply_readlink(op->req, target);
}

static void fb_readlink(fuse_req_t req, fuse_ino_t ino)
{
	struct fb_op *op;
	struct fsb_msg m;

	if (ghost_gone(req, ino, 0))
		return;
	op = op_new(fs_of(req), req, readlink_done);
	if (!op) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	msg_init(&m, FSB_OP_READLINK);
	m.u.node.node = ino;
	op_send(op, &m);
}

/* Replies: statfs, err. */
static void statfs_done(struct fb_call *call, const struct fsb_msg *rep, int err)
{
	struct fb_op *op = op_of(call);
	int e = rep_errno(rep, err);
	const struct fsb_statfs *f;
	struct statvfs sv;

	if (e) {
		fuse_reply_err(op->req, e);
		return;
	}
	f = &rep->u.statfs;
	memset(&sv, 0, sizeof(sv));
	sv.f_bsize = f->bsize;
	sv.f_frsize = f->frsize ? f->frsize : f->bsize;
	sv.f_blocks = f->blocks;
	sv.f_bfree = f->bfree;
	sv.f_bavail = f->bavail;
	sv.f_files = f->files;
	sv.f_ffree = f->ffree;
	sv.f_favail = f->ffree;
	sv.f_namemax = f->namemax ? f->namemax : FSB_NAME_MAX;
	fuse_reply_statfs(op->req, &sv);
}

static void fb_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct fb_op *op = op_new(fs_of(req), req, statfs_done);
	struct fsb_msg m;

	if (!op) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	msg_init(&m, FSB_OP_STATFS);
	m.u.node.node = ino && !fb_is_ghost(ino) ? ino : FUSE_ROOT_ID;
	op_send(op, &m);
}

/* ---- creating entries ------------------------------------------------------ */

/* MKNOD, MKDIR, SYMLINK, LINK, CREATE. Replies: entry (create for CREATE),
 * err. */
static void newentry_done(struct fb_call *call, const struct fsb_msg *rep, int err)
{
	struct fb_op *op = op_of(call);
	int e = rep_errno(rep, err);
	const struct fsb_entry_rep *r;

	if (e) {
		fuse_reply_err(op->req, e);
		return;
	}
	r = &rep->u.entry_rep;
	fb_nodes_set_attr(&op->fs->nodes, op->parent, &r->dir_attr);
	if (call->op == FSB_OP_CREATE) {
		op->fi.fh = r->fh;
		op->fi.keep_cache = 0;
		op->fi.direct_io = op->fs->cache.direct_io;
		reply_entry(op, &r->entry, 1);
		return;
	}
	reply_entry(op, &r->entry, 0);
}

static void send_create(fuse_req_t req, uint16_t opcode, fuse_ino_t parent,
                        const char *name, uint32_t flags, mode_t mode, dev_t rdev,
                        const struct fuse_file_info *fi)
{
	struct fb_op *op;
	struct fsb_msg m;

	if (name_too_long(req, name))
		return;
	if (from_replay(req)) {
		if (opcode == FSB_OP_MKDIR)
			mode = S_IFDIR | (mode & 07777);
		else if (opcode == FSB_OP_CREATE)
			mode = S_IFREG | (mode & 07777);
		replay_create(req, fs_of(req), parent, name, mode, fi);
		return;
	}
	if (ghost_gone(req, parent, 0))
		return;
	op = op_new(fs_of(req), req, newentry_done);
	if (!op) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	op_name(op, parent, name);
	if (fi)
		op->fi = *fi;
	msg_init(&m, opcode);
	m.u.create.parent = parent;
	m.u.create.name = str_of(name);
	m.u.create.flags = flags;
	m.u.create.mode = mode;
	m.u.create.rdev = (uint32_t)rdev;
	op_send(op, &m);
}

static void fb_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
                     dev_t rdev)
{
	send_create(req, FSB_OP_MKNOD, parent, name, 0, mode, rdev, NULL);
}

static void fb_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	send_create(req, FSB_OP_MKDIR, parent, name, 0, mode & 07777, 0, NULL);
}

static void fb_symlink(fuse_req_t req, const char *link, fuse_ino_t parent,
                       const char *name)
{
	struct fb_fs *fs = fs_of(req);
	struct fb_op *op;
	struct fsb_msg m;

	if (name_too_long(req, name))
		return;
	if (strlen(link) >= FSB_PATH_MAX) {
		fuse_reply_err(req, ENAMETOOLONG);
		return;
	}
	if (from_replay(req)) {
		replay_create(req, fs, parent, name, S_IFLNK | 0777, NULL);
		return;
	}
	if (ghost_gone(req, parent, 0))
		return;
	/* EPERM is what Linux file systems without symlinks (vfat) say. */
	if (!(fs->server.caps & FSB_CAP_SYMLINKS)) {
		fuse_reply_err(req, EPERM);
		return;
	}
	op = op_new(fs, req, newentry_done);
	if (!op) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	op_name(op, parent, name);
	msg_init(&m, FSB_OP_SYMLINK);
	m.u.symlink.parent = parent;
	m.u.symlink.name = str_of(name);
	m.u.symlink.target = str_of(link);
	op_send(op, &m);
}

static void fb_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent,
                    const char *newname)
{
	struct fb_fs *fs = fs_of(req);
	struct fb_op *op;
	struct fsb_msg m;

	if (name_too_long(req, newname))
		return;
	if (ghost_gone(req, ino, newparent))
		return;
	if (!(fs->server.caps & FSB_CAP_HARDLINKS)) {
		fuse_reply_err(req, EPERM);
		return;
	}
	op = op_new(fs, req, newentry_done);
	if (!op) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	op_name(op, newparent, newname);
	msg_init(&m, FSB_OP_LINK);
	m.u.link.node = ino;
	m.u.link.newparent = newparent;
	m.u.link.newname = str_of(newname);
	op_send(op, &m);
}

/* ---- removing and renaming --------------------------------------------------- */

/* UNLINK, RMDIR. Replies: err. */
static void remove_done(struct fb_call *call, const struct fsb_msg *rep, int err)
{
	struct fb_op *op = op_of(call);
	int e = rep_errno(rep, err);

	if (!e) {
		uint64_t gone;

		fb_nodes_set_attr(&op->fs->nodes, op->parent, &rep->u.dir_rep.dir_attr);
		/* Its link count (and ctime) changed: other names may remain. */
		gone = fb_dents_remove(&op->fs->dents, op->parent, op->name, strlen(op->name));
		if (gone)
			fb_nodes_mark_stale(&op->fs->nodes, gone);
	}
	fuse_reply_err(op->req, e);
}

static void send_remove(fuse_req_t req, uint16_t opcode, fuse_ino_t parent,
                        const char *name)
{
	struct fb_op *op;
	struct fsb_msg m;

	if (name_too_long(req, name))
		return;
	if (from_replay(req)) {
		/* Done on the server already: the kernel drops the name. */
		fb_dents_remove(&fs_of(req)->dents, parent, name, strlen(name));
		fuse_reply_err(req, 0);
		return;
	}
	if (ghost_gone(req, parent, 0))
		return;
	op = op_new(fs_of(req), req, remove_done);
	if (!op) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	op_name(op, parent, name);
	msg_init(&m, opcode);
	m.u.name.parent = parent;
	m.u.name.name = str_of(name);
	op_send(op, &m);
}

static void fb_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	send_remove(req, FSB_OP_UNLINK, parent, name);
}

static void fb_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	send_remove(req, FSB_OP_RMDIR, parent, name);
}

/* Replies: err. */
static void rename_done(struct fb_call *call, const struct fsb_msg *rep, int err)
{
	struct fb_op *op = op_of(call);
	int e = rep_errno(rep, err);

	if (!e) {
		fb_nodes_set_attr(&op->fs->nodes, op->parent, &rep->u.rename_rep.olddir_attr);
		fb_nodes_set_attr(&op->fs->nodes, op->node, &rep->u.rename_rep.newdir_attr);
		uint64_t moved = fb_dents_get(&op->fs->dents, op->parent, op->name, strlen(op->name));
		uint64_t replaced = fb_dents_get(&op->fs->dents, op->node, op->name2,
		                                 strlen(op->name2));

		/* ctime of the moved file, link count of a replaced one. */
		if (moved)
			fb_nodes_mark_stale(&op->fs->nodes, moved);
		if (replaced)
			fb_nodes_mark_stale(&op->fs->nodes, replaced);
		fb_dents_rename(&op->fs->dents, op->parent, op->name, strlen(op->name), op->node,
		                op->name2, strlen(op->name2), !!(op->rflags & RENAME_EXCHANGE));
	}
	fuse_reply_err(op->req, e);
}

static void fb_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
                      fuse_ino_t newparent, const char *newname, unsigned int flags)
{
	struct fb_fs *fs = fs_of(req);
	struct fb_op *op;
	struct fsb_msg m;
	uint32_t wflags = 0;

	if (name_too_long(req, name) || name_too_long(req, newname))
		return;
	if (from_replay(req)) {
		fb_dents_rename(&fs->dents, parent, name, strlen(name), newparent, newname,
		                strlen(newname), !!(flags & RENAME_EXCHANGE));
		fuse_reply_err(req, 0);
		return;
	}
	if (ghost_gone(req, parent, newparent))
		return;
	if (flags & ~(unsigned)(RENAME_NOREPLACE | RENAME_EXCHANGE)) {
		fuse_reply_err(req, EINVAL);    /* RENAME_WHITEOUT and friends */
		return;
	}
	if (flags & RENAME_NOREPLACE) {
		if (!(fs->server.caps & FSB_CAP_RENAME_NOREPLACE)) {
			fuse_reply_err(req, EINVAL);
			return;
		}
		wflags |= FSB_RENAME_NOREPLACE;
	}
	if (flags & RENAME_EXCHANGE) {
		if (!(fs->server.caps & FSB_CAP_RENAME_EXCHANGE)) {
			fuse_reply_err(req, EINVAL);
			return;
		}
		wflags |= FSB_RENAME_EXCHANGE;
	}
	op = op_new(fs, req, rename_done);
	if (!op) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	op_name(op, parent, name);
	snprintf(op->name2, sizeof(op->name2), "%s", newname);
	op->node = newparent;
	op->rflags = flags;
	msg_init(&m, FSB_OP_RENAME);
	m.u.rename.olddir = parent;
	m.u.rename.oldname = str_of(name);
	m.u.rename.newdir = newparent;
	m.u.rename.newname = str_of(newname);
	m.u.rename.flags = wflags;
	op_send(op, &m);
}

/* ---- open files ------------------------------------------------------------- */

static uint32_t open_flags(int flags, int writeback)
{
	uint32_t f;

	switch (flags & O_ACCMODE) {
	case O_WRONLY:
		/* With the writeback cache the kernel reads pages around
		 * partial writes, even through a write-only file. */
		f = writeback ? FSB_O_RDWR : FSB_O_WRONLY;
		break;
	case O_RDWR:
		f = FSB_O_RDWR;
		break;
	default:
		f = FSB_O_RDONLY;
		break;
	}
	/* With the writeback cache the kernel picks append offsets itself;
	 * a server-side O_APPEND would move the cached writes. */
	if ((flags & O_APPEND) && !writeback)
		f |= FSB_O_APPEND;
	if (flags & O_TRUNC)
		f |= FSB_O_TRUNC;
	if (flags & O_EXCL)
		f |= FSB_O_EXCL;
	if (flags & O_CREAT)
		f |= FSB_O_CREAT;
	if (flags & O_DIRECTORY)
		f |= FSB_O_DIRECTORY;
	if (flags & (O_SYNC | O_DSYNC))
		f |= FSB_O_SYNC;
	if (flags & O_NOATIME)
		f |= FSB_O_NOATIME;
	return f;
}

static int same_time(const struct fsb_time *a, const struct fsb_time *b)
{
	return a->sec == b->sec && a->nsec == b->nsec;
}

/* Whether the kernel may keep the pages it cached for node: only if the
 * content did not change behind our back since we last saw the node. */
static int may_keep_cache(struct fb_fs *fs, uint64_t node, const struct fsb_attr *now)
{
	struct fsb_attr before;

	if (!fs->cache.keep_cache)
		return 0;
	if (fb_nodes_get_attr(&fs->nodes, node, &before) < 0)
		return 0;
	return before.size == now->size && same_time(&before.mtime, &now->mtime);
}

/* OPEN of a file or directory. Replies: open, err. */
static void open_done(struct fb_call *call, const struct fsb_msg *rep, int err)
{
	struct fb_op *op = op_of(call);
	struct fb_fs *fs = op->fs;
	int e = rep_errno(rep, err);
	const struct fsb_open_rep *r;
	int keep;

	if (e) {
		fuse_reply_err(op->req, e);
		return;
	}
	r = &rep->u.open_rep;
	keep = may_keep_cache(fs, op->node, &r->attr);
	fb_nodes_set_attr(&fs->nodes, op->node, &r->attr);
	op->fi.fh = r->fh;
	op->fi.keep_cache = keep;
	if (op->plus) {
		op->fi.cache_readdir = fs->cache.cache_dir;
	} else {
		op->fi.direct_io = fs->cache.direct_io;
		if (is_writable(op->fi.flags))
			fb_nodes_writers_add(&fs->nodes, op->node, 1);
	}
	if (fuse_reply_open(op->req, &op->fi) < 0) {
		if (!op->plus && is_writable(op->fi.flags))
			fb_nodes_writers_add(&fs->nodes, op->node, -1);
		release_orphan_fh(fs, r->fh);
	}
}

static void send_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi, int dir)
{
	struct fb_fs *fs = fs_of(req);
	struct fb_op *op;
	struct fsb_msg m;

	if (!dir && from_replay(req)) {
		/* The replay of a content change opens, truncates, closes;
		 * nothing of it reaches the server. */
		fi->fh = FB_REPLAY_FH;
		fi->keep_cache = 0;
		fuse_reply_open(req, fi);
		return;
	}
	if (ghost_gone(req, ino, 0))
		return;
	if (open_lazily(fs, req, ino, fi, dir))
		return;
	op = op_new(fs, req, open_done);
	if (!op) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	op->node = ino;
	op->fi = *fi;
	op->plus = dir;     /* reused: 1 = directory */
	msg_init(&m, FSB_OP_OPEN);
	m.u.open.node = ino;
	if (dir)
		m.u.open.flags = FSB_O_RDONLY | FSB_O_DIRECTORY;
	else
		m.u.open.flags = open_flags(fi->flags, fs->cache.writeback);
	op_send(op, &m);
}

static void fb_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	send_open(req, ino, fi, 0);
}

static void fb_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	send_open(req, ino, fi, 1);
}

static void fb_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
                      struct fuse_file_info *fi)
{
	struct fb_fs *fs = fs_of(req);

	send_create(req, FSB_OP_CREATE, parent, name,
	            open_flags(fi->flags, fs->cache.writeback) | FSB_O_CREAT, mode & 07777,
	            0, fi);
}

/* Replies: buf, err. The data is sent straight from the receive buffer. */
static void read_done(struct fb_call *call, const struct fsb_msg *rep, int err)
{
	struct fb_op *op = op_of(call);
	int e = rep_errno(rep, err);
	const struct fsb_bytes *d;

	if (e) {
		fuse_reply_err(op->req, e);
		return;
	}
	d = &rep->u.read_rep.data;
	if (d->len > op->size) {
		fb_warn("server returned %u bytes for a %zu byte read", d->len, op->size);
		fuse_reply_err(op->req, EIO);
		return;
	}
	fuse_reply_buf(op->req, (const char *)d->ptr, d->len);
}

static void read_send(struct fb_op *op)
{
	struct fsb_msg m;

	msg_init(&m, FSB_OP_READ);
	m.u.io.fh = wire_fh(op->fi.fh);
	m.u.io.offset = (uint64_t)op->off;
	m.u.io.size = (uint32_t)op->size;
	op_send(op, &m);
}

static void fb_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                    struct fuse_file_info *fi)
{
	struct fb_fs *fs = fs_of(req);
	struct fb_op *op;

	if (fi->fh == FB_REPLAY_FH) {
		fuse_reply_err(req, EIO);
		return;
	}
	op = op_new(fs, req, read_done);
	if (!op) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	if (size > fs->server.max_io)
		size = fs->server.max_io;
	op->node = ino;
	op->size = size;
	op->off = off;
	op->fi.fh = fi->fh;
	lazy_send(op, read_send);
}

/* Replies: write, err. */
static void write_done(struct fb_call *call, const struct fsb_msg *rep, int err)
{
	struct fb_op *op = op_of(call);
	int e = rep_errno(rep, err);

	if (e) {
		fuse_reply_err(op->req, e);
		return;
	}
	if (rep->u.write_rep.written > op->size) {
		fuse_reply_err(op->req, EIO);
		return;
	}
	fb_nodes_set_attr(&op->fs->nodes, op->node, &rep->u.write_rep.attr);
	fuse_reply_write(op->req, rep->u.write_rep.written);
}

static void fb_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size,
                     off_t off, struct fuse_file_info *fi)
{
	struct fb_fs *fs = fs_of(req);
	struct fb_op *op;
	struct fsb_msg m;

	/* The replay never writes, and the event thread does not replay
	 * into a file that has writers (whose dirty pages the kernel could
	 * flush through any writable handle); so this cannot happen. */
	if (fi->fh == FB_REPLAY_FH) {
		fb_warn("write through a replay handle of node %llu refused",
		        (unsigned long long)ino);
		fuse_reply_err(req, EIO);
		return;
	}
	/* max_write is max_io, so the kernel never sends more. */
	if (size > fs->server.max_io) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	op = op_new(fs, req, write_done);
	if (!op) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	op->node = ino;
	op->size = size;
	msg_init(&m, FSB_OP_WRITE);
	m.u.io.fh = fi->fh;
	m.u.io.offset = (uint64_t)off;
	m.u.io.data.ptr = (const uint8_t *)buf;
	m.u.io.data.len = (uint32_t)size;
	op_send(op, &m);
}

/* Replies: err. */
static void fallocate_done(struct fb_call *call, const struct fsb_msg *rep, int err)
{
	struct fb_op *op = op_of(call);
	int e = rep_errno(rep, err);

	if (!e)
		fb_nodes_set_attr(&op->fs->nodes, op->node, &rep->u.attr);
	fuse_reply_err(op->req, e);
}

static void fb_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t offset,
                         off_t length, struct fuse_file_info *fi)
{
	struct fb_fs *fs = fs_of(req);
	struct fb_op *op;
	struct fsb_msg m;
	uint32_t wmode = 0;

	if (!(fs->server.caps & FSB_CAP_FALLOCATE) || fi->fh == FB_REPLAY_FH) {
		fuse_reply_err(req, EOPNOTSUPP);
		return;
	}
	if (mode & ~(FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE)) {
		fuse_reply_err(req, EOPNOTSUPP);       /* collapse/insert range */
		return;
	}
	if (offset < 0 || length <= 0) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	if (mode & FALLOC_FL_KEEP_SIZE)
		wmode |= FSB_FALLOC_KEEP_SIZE;
	if (mode & FALLOC_FL_PUNCH_HOLE)
		wmode |= FSB_FALLOC_PUNCH_HOLE;
	if (mode & FALLOC_FL_ZERO_RANGE)
		wmode |= FSB_FALLOC_ZERO_RANGE;
	op = op_new(fs, req, fallocate_done);
	if (!op) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	op->node = ino;
	msg_init(&m, FSB_OP_FALLOCATE);
	m.u.fallocate.fh = fi->fh;
	m.u.fallocate.offset = (uint64_t)offset;
	m.u.fallocate.length = (uint64_t)length;
	m.u.fallocate.mode = wmode;
	op_send(op, &m);
}

/* FLUSH, FSYNC, RELEASE of files and directories. Replies: err. */
static void fh_done(struct fb_call *call, const struct fsb_msg *rep, int err)
{
	struct fb_op *op = op_of(call);
	int e = rep_errno(rep, err);

	/* The kernel ignores release errors; a handle it closed is closed. */
	if (call->op == FSB_OP_RELEASE)
		e = 0;
	fuse_reply_err(op->req, e);
}

static void send_fh(fuse_req_t req, uint16_t opcode, uint64_t fh, uint32_t flags)
{
	struct fb_op *op;
	struct fsb_msg m;

	if (fh == FB_REPLAY_FH) {
		fuse_reply_err(req, 0);
		return;
	}
	op = op_new(fs_of(req), req, fh_done);
	if (!op) {
		fuse_reply_err(req, opcode == FSB_OP_RELEASE ? 0 : ENOMEM);
		return;
	}
	msg_init(&m, opcode);
	m.u.fh.fh = fh;
	m.u.fh.flags = flags;
	op_send(op, &m);
}

/* FLUSH and FSYNC of a read-only lazy handle have nothing to do on the
 * server; RELEASE gives back its server handle if it got one. */
static void fb_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	send_fh(req, FSB_OP_FLUSH, lazy_of(fi->fh) ? FB_REPLAY_FH : fi->fh, 0);
}

/*
 * RELEASE is answered at once and the server's handle closed behind it:
 * the kernel ignores release errors, and it queues releases with reads
 * and writebacks among its few background requests, so waiting for the
 * server here would let closed-but-unreleased handles pile up on it (a
 * git status over 30,000 files ran the server out of descriptors).
 */
static void release_any(fuse_req_t req, uint64_t fh)
{
	struct fb_lazy *l = lazy_of(fh);

	if (l) {
		fh = atomic_load(&l->fh);
		free(l);
	}
	if (fh && fh != FB_REPLAY_FH)
		release_orphan_fh(fs_of(req), fh);
	fuse_reply_err(req, 0);
}

static void fb_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	if (fi->fh != FB_REPLAY_FH && !lazy_of(fi->fh) && is_writable(fi->flags))
		fb_nodes_writers_add(&fs_of(req)->nodes, ino, -1);
	release_any(req, fi->fh);
}

static void fb_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
                     struct fuse_file_info *fi)
{
	send_fh(req, FSB_OP_FSYNC, lazy_of(fi->fh) ? FB_REPLAY_FH : fi->fh,
	        datasync ? FSB_FSYNC_DATASYNC : 0);
}

static void fb_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	release_any(req, fi->fh);
}

static void fb_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync,
                        struct fuse_file_info *fi)
{
	send_fh(req, FSB_OP_FSYNC, lazy_of(fi->fh) ? FB_REPLAY_FH : fi->fh,
	        datasync ? FSB_FSYNC_DATASYNC : 0);
}

/* ---- directories ---------------------------------------------------------- */

/*
 * The wire never carries "." and "..", but programs expect them (ls -a,
 * nlink-counting tools), so the daemon adds them. Kernel offsets 1 and 2
 * mean "after ." and "after ..", and a server cookie c is offset c + 2, so
 * telldir/seekdir values stay stable and distinct. Cookies too large to
 * shift (ext4's end-of-directory marker) saturate at the largest offset.
 */
#define DOT_ENTRIES 2

static off_t offset_of_cookie(uint64_t cookie)
{
	if (cookie > (uint64_t)INT64_MAX - DOT_ENTRIES)
		return INT64_MAX;
	return (off_t)(cookie + DOT_ENTRIES);
}

static uint64_t cookie_of_offset(off_t off)
{
	if (off == INT64_MAX)
		return (uint64_t)INT64_MAX;
	return off <= DOT_ENTRIES ? 0 : (uint64_t)off - DOT_ENTRIES;
}

/* Add "." (i = 0) or ".." (i = 1) at the kernel offset after it. Dot
 * entries carry no node id: the kernel takes no lookup reference on them. */
static size_t add_dot(struct fb_op *op, char *buf, size_t room, int i)
{
	static const char *const names[DOT_ENTRIES] = { ".", ".." };
	struct stat st;

	memset(&st, 0, sizeof(st));
	st.st_ino = op->node;
	st.st_mode = S_IFDIR;
	if (op->plus) {
		struct fuse_entry_param ep;

		memset(&ep, 0, sizeof(ep));
		ep.attr = st;
		return fuse_add_direntry_plus(op->req, buf, room, names[i], &ep, i + 1);
	}
	return fuse_add_direntry(op->req, buf, room, names[i], &st, i + 1);
}

/* Fill the kernel's buffer from one READDIRPLUS reply. Every entry in the
 * reply holds a server reference; only entries placed in a readdirplus
 * buffer that reaches the kernel keep theirs. Replies: buf, err. */
static void readdir_done(struct fb_call *call, const struct fsb_msg *rep, int err)
{
	struct fb_op *op = op_of(call);
	struct fb_fs *fs = op->fs;
	int e = rep_errno(rep, err);
	const struct fsb_readdir_rep *r;
	uint32_t i, handed = 0;
	size_t pos = 0;
	char *buf;

	if (e) {
		fuse_reply_err(op->req, e);
		return;
	}
	r = &rep->u.readdir_rep;
	buf = malloc(op->size ? op->size : 1);
	if (!buf) {
		for (i = 0; i < r->count; i++)
			if (r->ents[i].entry.node)
				fb_conn_forget(fs->conn, r->ents[i].entry.node, 1);
		fuse_reply_err(op->req, ENOMEM);
		return;
	}

	for (int dot = op->off < DOT_ENTRIES ? (int)op->off : DOT_ENTRIES; dot < DOT_ENTRIES;
	     dot++) {
		size_t need = add_dot(op, buf + pos, op->size - pos, dot);

		if (need > op->size - pos)
			break;
		pos += need;
	}
	for (i = 0; i < r->count; i++) {
		const struct fsb_dirent *d = &r->ents[i];
		char name[FSB_NAME_MAX + 1];
		size_t need;

		if (d->name.len > FSB_NAME_MAX || d->entry.node == 0)
			break;
		memcpy(name, d->name.ptr, d->name.len);
		name[d->name.len] = '\0';
		if (op->plus) {
			struct fuse_entry_param ep;

			entry_param(fs, &d->entry, &ep);
			need = fuse_add_direntry_plus(op->req, buf + pos, op->size - pos, name,
			                              &ep, offset_of_cookie(d->cookie));
		} else {
			struct stat st;

			attr_to_stat(d->entry.node, &d->entry.attr, &st);
			need = fuse_add_direntry(op->req, buf + pos, op->size - pos, name, &st,
			                         offset_of_cookie(d->cookie));
		}
		if (need > op->size - pos)
			break;  /* did not fit: the kernel asks again from here */
		pos += need;
		handed++;
	}

	/* Entries the kernel will never see, and plain readdir's entries
	 * (the kernel instantiates no inodes from those). */
	for (i = op->plus ? handed : 0; i < r->count; i++)
		if (r->ents[i].entry.node)
			fb_conn_forget(fs->conn, r->ents[i].entry.node, 1);

	if (op->plus) {
		for (i = 0; i < handed; i++) {
			const struct fsb_dirent *d = &r->ents[i];

			if (fb_nodes_ref(&fs->nodes, &d->entry) < 0)
				fb_warn("out of memory: node %llu not tracked",
				        (unsigned long long)d->entry.node);
			fb_dents_add(&fs->dents, op->node, d->name.ptr, d->name.len,
			             d->entry.node);
		}
	}
	if (fuse_reply_buf(op->req, buf, pos) < 0 && op->plus) {
		for (i = 0; i < handed; i++)
			drop_refs(fs, r->ents[i].entry.node, 1);
	}
	free(buf);
}

static void readdir_send(struct fb_op *op)
{
	struct fsb_msg m;
	size_t want;

	/* A wire entry is 112 bytes + name, a kernel readdirplus entry 152 +
	 * name rounded to 8: asking for 3/4 of the buffer rarely overfills it
	 * (overflow only costs a FORGET). Plain entries are much smaller than
	 * wire entries, so `size` always fits. */
	want = op->plus ? op->size / 4 * 3 : op->size;
	if (want > FSB_MAX_IO)
		want = FSB_MAX_IO;
	msg_init(&m, FSB_OP_READDIRPLUS);
	m.u.readdir.node = op->node;
	m.u.readdir.fh = wire_fh(op->fi.fh);
	m.u.readdir.cookie = cookie_of_offset(op->off);
	m.u.readdir.max_bytes = (uint32_t)want;
	op_send(op, &m);
}

static void send_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                         struct fuse_file_info *fi, int plus)
{
	struct fb_op *op = op_new(fs_of(req), req, readdir_done);

	if (!op) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	op->node = ino;
	op->size = size;
	op->plus = plus;
	op->off = off;
	op->fi.fh = fi->fh;
	lazy_send(op, readdir_send);
}

static void fb_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                       struct fuse_file_info *fi)
{
	send_readdir(req, ino, size, off, fi, 0);
}

static void fb_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                           struct fuse_file_info *fi)
{
	send_readdir(req, ino, size, off, fi, 1);
}

/* ---- session ---------------------------------------------------------------- */

static void fb_init(void *userdata, struct fuse_conn_info *conn)
{
	struct fb_fs *fs = userdata;
	unsigned want = FUSE_CAP_ASYNC_READ | FUSE_CAP_PARALLEL_DIROPS |
	                FUSE_CAP_READDIRPLUS | FUSE_CAP_ATOMIC_O_TRUNC;

	if (fs->cache.writeback)
		want |= FUSE_CAP_WRITEBACK_CACHE;
	if (fs->cache.cache_symlinks)
		want |= FUSE_CAP_CACHE_SYMLINKS;
	conn->want |= want & conn->capable;
	/* Readahead, writeback and releases share the background queue;
	 * libfuse's default of 12 keeps too little in flight. */
	conn->max_background = 64;
	conn->congestion_threshold = 48;
	/* Always readdirplus: one round trip gives names and attributes. */
	conn->want &= ~(unsigned)FUSE_CAP_READDIRPLUS_AUTO;
	/* We do not clear setuid bits on write ourselves; let the kernel. */
	conn->want &= ~(unsigned)FUSE_CAP_HANDLE_KILLPRIV;
	if (!fs->cache.writeback)
		conn->want &= ~(unsigned)FUSE_CAP_WRITEBACK_CACHE;

	/* libfuse derives max_pages from max_write: 1 MiB = 256 pages, the
	 * kernel's default limit. */
	conn->max_write = fs->server.max_io;
	if (conn->max_readahead > fs->server.max_io)
		conn->max_readahead = fs->server.max_io;
	fb_dbg("FUSE protocol %u.%u, want 0x%x, max_write %u", conn->proto_major,
	       conn->proto_minor, conn->want, conn->max_write);
}

const struct fuse_lowlevel_ops fb_fuse_ops = {
	.init = fb_init,
	.lookup = fb_lookup,
	.forget = fb_forget,
	.forget_multi = fb_forget_multi,
	.getattr = fb_getattr,
	.setattr = fb_setattr,
	.readlink = fb_readlink,
	.mknod = fb_mknod,
	.mkdir = fb_mkdir,
	.unlink = fb_unlink,
	.rmdir = fb_rmdir,
	.symlink = fb_symlink,
	.rename = fb_rename,
	.link = fb_link,
	.open = fb_open,
	.read = fb_read,
	.write = fb_write,
	.flush = fb_flush,
	.release = fb_release,
	.fsync = fb_fsync,
	.opendir = fb_opendir,
	.readdir = fb_readdir,
	.readdirplus = fb_readdirplus,
	.releasedir = fb_releasedir,
	.fsyncdir = fb_fsyncdir,
	.statfs = fb_statfs,
	.create = fb_create,
	.fallocate = fb_fallocate,
};
