/*
 * fuse_ops.c - see fuse_ops.h. The operations table and init, and what
 * the handlers share (ops_int.h): a request on its way to the server
 * (struct fb_op) with its helpers, and the entries handed to the kernel,
 * their lookup references kept exact. The handlers are in ops_node.c,
 * ops_dir.c and ops_file.c, reached only through the table; this file
 * calls the connection, node, name and ghost tables.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "log.h"
#include "ops_int.h"

struct fb_op *fb__op_of(struct fb_call *call)
{
	return (struct fb_op *)call;
}

static void op_release(struct fb_call *call)
{
	free(fb__op_of(call));
}

/* Every reply passes here first: one to a request that may have changed
 * names or attributes makes listings read ahead stale before anyone
 * learns of the change (dirahead.h). */
static void op_done(struct fb_call *call, const struct fsb_msg *rep, int err)
{
	struct fb_op *op = fb__op_of(call);

	if (fb_dirahead_op_changes(call->op))
		fb_dirahead_changed(&op->fs->dirahead);
	op->done(call, rep, err);
}

/* A request that waits for a reconnect gives up when its caller was
 * signalled: the kernel sent FUSE_INTERRUPT for it. */
static int op_interrupted(struct fb_call *call)
{
	struct fb_op *op = fb__op_of(call);

	return op->req && fuse_req_interrupted(op->req);
}

struct fb_op *fb__op_new(struct fb_fs *fs, fuse_req_t req, fb_call_cb cb)
{
	struct fb_op *op = calloc(1, sizeof(*op));

	if (!op)
		return NULL;
	op->fs = fs;
	op->req = req;
	op->done = cb;
	op->call.cb = op_done;
	op->call.release = op_release;
	op->call.interrupted = op_interrupted;
	return op;
}

struct fb_fs *fb__fs_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

int fb__is_writable(int flags)
{
	return (flags & O_ACCMODE) == O_WRONLY || (flags & O_ACCMODE) == O_RDWR;
}

int fb__retried_done(const struct fb_op *op, int e)
{
	return e == ENOENT && op->call.retried;
}

/* The name an entry reply will carry, for the dentry mirror. Names were
 * checked against FSB_NAME_MAX before. */
void fb__op_name(struct fb_op *op, uint64_t parent, const char *name)
{
	op->parent = parent;
	snprintf(op->name, sizeof(op->name), "%s", name);
}

/* Queue m for op. If that fails, answer the request now. Requests that
 * create, give away or remove carry their caller, so that what a user
 * makes is theirs on the server too (PROTOCOL.md, credentials). */
void fb__op_send(struct fb_op *op, struct fsb_msg *m)
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
int fb__rep_errno(const struct fsb_msg *rep, int err)
{
	if (err < 0)
		return -err;
	/* The kernel only sends handles it was given: a server that does
	 * not know one lost it (restarted, and the handle's file could not
	 * be opened again), which the caller should see as ESTALE. */
	if (rep->status == FSB_EBADF)
		return ESTALE;
	if (rep->status != FSB_OK)
		return fsb_status_to_errno((int)rep->status);
	return 0;
}

void fb__msg_init(struct fsb_msg *m, uint16_t op)
{
	memset(m, 0, sizeof(*m));
	m->op = op;
}

struct fsb_str fb__str_of(const char *s)
{
	struct fsb_str r = { .ptr = s, .len = (uint32_t)strlen(s) };
	return r;
}

/* The kernel hands FUSE names of up to 1024 bytes; Linux file systems and
 * the wire allow 255, so answer ENAMETOOLONG here as a native file system
 * would, rather than failing to encode the request. */
int fb__name_too_long(fuse_req_t req, const char *name)
{
	if (strlen(name) <= FSB_NAME_MAX)
		return 0;
	fuse_reply_err(req, ENAMETOOLONG);
	return 1;
}

uint32_t fb__open_flags(int flags, int writeback)
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

/* ---- attributes and entries ---------------------------------------------- */

void fb__attr_to_stat(uint64_t node, const struct fsb_attr *a, struct stat *st)
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

void fb__entry_param(const struct fb_fs *fs, const struct fsb_entry *e,
                     struct fuse_entry_param *ep)
{
	memset(ep, 0, sizeof(*ep));
	ep->ino = e->node;
	ep->generation = e->gen;
	fb__attr_to_stat(e->node, &e->attr, &ep->attr);
	ep->attr_timeout = fs->cache.attr_timeout;
	ep->entry_timeout = fs->cache.entry_timeout;
}

/* Give back n server references the kernel will never forget. */
void fb__forget_refs(struct fb_fs *fs, uint64_t node, uint64_t n)
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
void fb__drop_refs(struct fb_fs *fs, uint64_t node, uint64_t n)
{
	fb__forget_refs(fs, node, n);
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
void fb__release_orphan_fh(struct fb_fs *fs, uint64_t fh)
{
	struct fb_op *op;
	struct fsb_msg m;

	if (fh == FB_REPLAY_FH)
		return;
	fb_fhs_remove(&fs->fhs, fh);
	op = fb__op_new(fs, NULL, noop_done);
	if (!op)
		return;
	fb__msg_init(&m, FSB_OP_RELEASE);
	m.u.fh.fh = fh;
	fb__op_send(op, &m);
}

/* Hand a new entry (and, for create, its open handle in op->fi) to the
 * kernel, keeping the reference count exact whatever happens. */
void fb__reply_entry(struct fb_op *op, const struct fsb_entry *e, int is_create)
{
	struct fb_fs *fs = op->fs;
	struct fuse_entry_param ep;
	int rc;

	if (e->node == 0) {
		/* Nothing to forget: node 0 is no reference. */
		fb_warn("server returned an entry with node 0");
		if (is_create)
			fb__release_orphan_fh(fs, op->fi.fh);
		fuse_reply_err(op->req, EIO);
		return;
	}
	/* Count before replying: the kernel may forget the entry as soon
	 * as it has it. */
	if (fb_nodes_ref(&fs->nodes, e) < 0) {
		fb_conn_forget(fs->conn, e->node, 1);
		if (is_create)
			fb__release_orphan_fh(fs, op->fi.fh);
		fuse_reply_err(op->req, ENOMEM);
		return;
	}
	fb__entry_param(fs, e, &ep);
	/* Before the reply: the kernel may forget the node at once. */
	if (op->name[0])
		fb_dents_add(&fs->dents, op->parent, op->name, strlen(op->name), e->node);
	if (is_create && op->fi.fh != FB_REPLAY_FH && fb__is_writable(op->fi.flags))
		fb_nodes_writers_add(&fs->nodes, e->node, 1);
	if (is_create)
		rc = fuse_reply_create(op->req, &ep, &op->fi);
	else
		rc = fuse_reply_entry(op->req, &ep);
	if (rc < 0) {
		/* Interrupted or the mount is gone: the kernel never saw it. */
		if (op->name[0])
			fb_dents_remove(&fs->dents, op->parent, op->name, strlen(op->name));
		if (is_create && op->fi.fh != FB_REPLAY_FH && fb__is_writable(op->fi.flags))
			fb_nodes_writers_add(&fs->nodes, e->node, -1);
		fb__drop_refs(fs, e->node, 1);
		if (is_create)
			fb__release_orphan_fh(fs, op->fi.fh);
	}
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

	fs->cache.no_opendir = fb__no_opendir_allowed(fs, conn);
	/* Listings by node, kept exact by change events (dirahead.h). */
	fs->dirahead.enabled = fs->cache.no_opendir;
	/* libfuse derives max_pages from max_write: 1 MiB = 256 pages, the
	 * kernel's default limit. */
	conn->max_write = fs->server.max_io;
	if (conn->max_readahead > fs->server.max_io)
		conn->max_readahead = fs->server.max_io;
	fb_dbg("FUSE protocol %u.%u, want 0x%x, max_write %u%s", conn->proto_major,
	       conn->proto_minor, conn->want, conn->max_write,
	       fs->cache.no_opendir ? ", directories not opened" : "");
}

const struct fuse_lowlevel_ops fb_fuse_ops = {
	.init = fb_init,
	.lookup = fb__lookup,
	.forget = fb__forget,
	.forget_multi = fb__forget_multi,
	.getattr = fb__getattr,
	.setattr = fb__setattr,
	.readlink = fb__readlink,
	.mknod = fb__mknod,
	.mkdir = fb__mkdir,
	.unlink = fb__unlink,
	.rmdir = fb__rmdir,
	.symlink = fb__symlink,
	.rename = fb__rename,
	.link = fb__link,
	.open = fb__open,
	.read = fb__read,
	.write = fb__write,
	.flush = fb__flush,
	.release = fb__release,
	.fsync = fb__fsync,
	.opendir = fb__opendir,
	.readdir = fb__readdir,
	.readdirplus = fb__readdirplus,
	.releasedir = fb__releasedir,
	.fsyncdir = fb__fsyncdir,
	.statfs = fb__statfs,
	.create = fb__create,
	.fallocate = fb__fallocate,
};
