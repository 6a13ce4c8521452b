/*
 * ops_file.c - open handles of files and directories: OPEN, OPENDIR,
 * READ, WRITE, FALLOCATE, FLUSH, FSYNC, FSYNCDIR, RELEASE, RELEASEDIR.
 * Read-only opens may be lazy (lazy.c); the replay's opens get a handle
 * that never reaches the server (FB_REPLAY_FH). Calls fuse_ops.c, lazy.c
 * and replay_view.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "log.h"
#include "ops_int.h"

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
	struct fb_op *op = fb__op_of(call);
	struct fb_fs *fs = op->fs;
	int e = fb__rep_errno(rep, err);
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
	/* Before the reply: the kernel may release it at once. */
	fb_fhs_add(&fs->fhs, r->fh, op->node,
	           op->plus ? FSB_O_RDONLY | FSB_O_DIRECTORY
	                    : fb__open_flags(op->fi.flags, fs->cache.writeback));
	if (op->plus) {
		op->fi.cache_readdir = fs->cache.cache_dir;
	} else {
		op->fi.direct_io = fs->cache.direct_io;
		if (fb__is_writable(op->fi.flags))
			fb_nodes_writers_add(&fs->nodes, op->node, 1);
	}
	if (fuse_reply_open(op->req, &op->fi) < 0) {
		if (!op->plus && fb__is_writable(op->fi.flags))
			fb_nodes_writers_add(&fs->nodes, op->node, -1);
		fb__release_orphan_fh(fs, r->fh);
	}
}

static void send_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi, int dir)
{
	struct fb_fs *fs = fb__fs_of(req);
	struct fb_op *op;
	struct fsb_msg m;

	if (!dir && fb__from_replay(req)) {
		/* The replay of a content change opens, truncates, closes;
		 * nothing of it reaches the server. */
		fi->fh = FB_REPLAY_FH;
		fi->keep_cache = 0;
		fuse_reply_open(req, fi);
		return;
	}
	if (fb__ghost_gone(req, ino, 0))
		return;
	if (fb__open_lazily(fs, req, ino, fi, dir))
		return;
	op = fb__op_new(fs, req, open_done);
	if (!op) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	op->node = ino;
	op->fi = *fi;
	op->plus = dir;     /* reused: 1 = directory */
	fb__msg_init(&m, FSB_OP_OPEN);
	m.u.open.node = ino;
	if (dir)
		m.u.open.flags = FSB_O_RDONLY | FSB_O_DIRECTORY;
	else
		m.u.open.flags = fb__open_flags(fi->flags, fs->cache.writeback);
	fb__op_send(op, &m);
}

void fb__open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	send_open(req, ino, fi, 0);
}

void fb__opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	/* The kernel never asks again (lazy.c, fb__no_opendir_allowed). */
	if (fb__fs_of(req)->cache.no_opendir) {
		fuse_reply_err(req, ENOSYS);
		return;
	}
	send_open(req, ino, fi, 1);
}

/* Replies: buf, err. The data is sent straight from the receive buffer. */
static void read_done(struct fb_call *call, const struct fsb_msg *rep, int err)
{
	struct fb_op *op = fb__op_of(call);
	int e = fb__rep_errno(rep, err);
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

	fb__msg_init(&m, FSB_OP_READ);
	m.u.io.fh = fb__wire_fh(op->fi.fh);
	m.u.io.offset = (uint64_t)op->off;
	m.u.io.size = (uint32_t)op->size;
	fb__op_send(op, &m);
}

void fb__read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
              struct fuse_file_info *fi)
{
	struct fb_fs *fs = fb__fs_of(req);
	struct fb_op *op;

	if (fi->fh == FB_REPLAY_FH) {
		fuse_reply_err(req, EIO);
		return;
	}
	op = fb__op_new(fs, req, read_done);
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
	fb__lazy_send(op, read_send);
}

/* Replies: write, err. */
static void write_done(struct fb_call *call, const struct fsb_msg *rep, int err)
{
	struct fb_op *op = fb__op_of(call);
	int e = fb__rep_errno(rep, err);

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

void fb__write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size,
               off_t off, struct fuse_file_info *fi)
{
	struct fb_fs *fs = fb__fs_of(req);
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
	op = fb__op_new(fs, req, write_done);
	if (!op) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	op->node = ino;
	op->size = size;
	fb__msg_init(&m, FSB_OP_WRITE);
	m.u.io.fh = fi->fh;
	m.u.io.offset = (uint64_t)off;
	m.u.io.data.ptr = (const uint8_t *)buf;
	m.u.io.data.len = (uint32_t)size;
	fb__op_send(op, &m);
}

/* Replies: err. */
static void fallocate_done(struct fb_call *call, const struct fsb_msg *rep, int err)
{
	struct fb_op *op = fb__op_of(call);
	int e = fb__rep_errno(rep, err);

	if (!e)
		fb_nodes_set_attr(&op->fs->nodes, op->node, &rep->u.attr);
	fuse_reply_err(op->req, e);
}

void fb__fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t offset,
                   off_t length, struct fuse_file_info *fi)
{
	struct fb_fs *fs = fb__fs_of(req);
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
	op = fb__op_new(fs, req, fallocate_done);
	if (!op) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	op->node = ino;
	fb__msg_init(&m, FSB_OP_FALLOCATE);
	m.u.fallocate.fh = fi->fh;
	m.u.fallocate.offset = (uint64_t)offset;
	m.u.fallocate.length = (uint64_t)length;
	m.u.fallocate.mode = wmode;
	fb__op_send(op, &m);
}

/* FLUSH, FSYNC, RELEASE of files and directories. Replies: err. */
static void fh_done(struct fb_call *call, const struct fsb_msg *rep, int err)
{
	struct fb_op *op = fb__op_of(call);
	int e = fb__rep_errno(rep, err);

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
	op = fb__op_new(fb__fs_of(req), req, fh_done);
	if (!op) {
		fuse_reply_err(req, opcode == FSB_OP_RELEASE ? 0 : ENOMEM);
		return;
	}
	fb__msg_init(&m, opcode);
	m.u.fh.fh = fh;
	m.u.fh.flags = flags;
	fb__op_send(op, &m);
}

/*
 * FLUSH (every close(), and every exit of a process holding a file of the
 * mount) never goes to the server: it is answered with ENOSYS, which the
 * kernel remembers (fc->no_flush), so no close costs a trip through
 * /dev/fuse again. The rule that keeps close() honest: close() reports
 * the error of every write the server was asked to make. With the
 * writeback cache the kernel writes a file's dirty pages and waits for
 * their WRITE replies inside close() before it would send FLUSH, and
 * returns their errors (fs/fuse/file.c, fuse_flush: write_inode_now, then
 * filemap_check_errors; it does so with no_flush too); without it every
 * write() already waited for its reply. The server applies each WRITE
 * when it gets it (pwrite, WriteFile) and answers with its error. What
 * FLUSH did on top was close a duplicate of the server's descriptor,
 * whose only further error comes from a backing file system that defers
 * its own write-back (NFS under a POSIX winside; winside.exe did nothing
 * at all): fsync() still goes to the server (FSYNC) and reports that.
 * POSIX locks stay with the kernel (no lock handlers), so no lock owner
 * needs FLUSH either. The same answer serves while the server is away,
 * where waiting would make every exit hang for the outage.
 *
 * FSYNC of a read-only lazy handle has nothing to do on the server;
 * RELEASE gives back its server handle if it got one.
 */
void fb__flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	(void)fi;
	fuse_reply_err(req, ENOSYS);
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
	struct fb_lazy *l = fb__lazy_of(fh);

	if (l) {
		fh = atomic_load(&l->fh);
		free(l);
	}
	if (fh && fh != FB_REPLAY_FH)
		fb__release_orphan_fh(fb__fs_of(req), fh);
	fuse_reply_err(req, 0);
}

void fb__release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fb_fs *fs = fb__fs_of(req);

	if (fb__is_writable(fi->flags)) {
		if (fi->fh != FB_REPLAY_FH && !fb__lazy_of(fi->fh))
			fb_nodes_writers_add(&fs->nodes, ino, -1);
	} else if (fs->cache.writeback && fs->cache.no_opendir) {
		/* Its close dropped the kernel's block count (restat.h). */
		fb_restat_note(&fs->restat, ino, 0);
	}
	release_any(req, fi->fh);
}

void fb__fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
               struct fuse_file_info *fi)
{
	send_fh(req, FSB_OP_FSYNC, fb__lazy_of(fi->fh) ? FB_REPLAY_FH : fi->fh,
	        datasync ? FSB_FSYNC_DATASYNC : 0);
}

void fb__releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	release_any(req, fi->fh);
}

/* A directory opened without OPENDIR has no handle (fh 0) to sync: the
 * server makes each change of a directory as it is asked. */
void fb__fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync,
                  struct fuse_file_info *fi)
{
	send_fh(req, FSB_OP_FSYNC, fb__lazy_of(fi->fh) || !fi->fh ? FB_REPLAY_FH : fi->fh,
	        datasync ? FSB_FSYNC_DATASYNC : 0);
}
