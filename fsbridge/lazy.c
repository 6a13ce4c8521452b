/*
 * lazy.c - the answers coherent mode with change events gives without
 * the server: lazily-opened handles, and GETATTR from the node table
 * (fb__answer_attr_locally, below).
 *
 * In coherent mode with change events, a read-only open of a file or a
 * directory is answered by the daemon at once, and the server's handle is
 * opened only when a READ or READDIRPLUS actually needs one. A warm walk
 * (opendir, cached listing, releasedir), git status, or Node reading
 * cached package.json files then costs no round trip to the server at all.
 * The events keep the kernel's cached pages and listings exact, which is
 * what makes keeping them across opens safe.
 *
 * Calls fuse_ops.c's request helpers and replay_view.c's fb__from_replay;
 * the handlers in ops_node.c, ops_dir.c and ops_file.c call it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "log.h"
#include "ops_int.h"

struct fb_lazy *fb__lazy_of(uint64_t fh)
{
	if (fh == FB_REPLAY_FH || !(fh & FB_LAZY_BIT))
		return NULL;
	return (struct fb_lazy *)(uintptr_t)(fh & ~FB_LAZY_BIT);
}

/* The handle to name on the wire for a kernel handle: 0 for none. */
uint64_t fb__wire_fh(uint64_t fh)
{
	struct fb_lazy *l = fb__lazy_of(fh);

	if (fh == FB_REPLAY_FH)
		return 0;
	return l ? atomic_load(&l->fh) : fh;
}

static int events_active(const struct fb_fs *fs)
{
	return (fs->server.caps & FSB_CAP_EVENTS) && fs->events.mode != FB_EVENTS_OFF;
}

/* Replies: whatever the deferred request replies. */
static void lazy_open_done(struct fb_call *call, const struct fsb_msg *rep, int err)
{
	struct fb_op *op = fb__op_of(call);
	struct fb_op *next = op->deferred;
	struct fb_lazy *l = fb__lazy_of(next->fi.fh);
	uint64_t none = 0;
	int e = fb__rep_errno(rep, err);

	if (e) {
		fuse_reply_err(next->req, e);
		free(next);
		return;
	}
	/* Two reads of one handle may both have opened it: keep one. */
	if (!atomic_compare_exchange_strong(&l->fh, &none, rep->u.open_rep.fh))
		fb__release_orphan_fh(op->fs, rep->u.open_rep.fh);
	else
		fb_fhs_add(&op->fs->fhs, rep->u.open_rep.fh, l->node, l->oflags);
	next->resend(next);
}

/* Send `op` through resend() once its lazy handle has a server handle. */
void fb__lazy_send(struct fb_op *op, void (*resend)(struct fb_op *op))
{
	struct fb_lazy *l = fb__lazy_of(op->fi.fh);
	struct fb_op *open_op;
	struct fsb_msg m;
	int err;

	op->resend = resend;
	if (!l || atomic_load(&l->fh)) {
		resend(op);
		return;
	}
	open_op = fb__op_new(op->fs, NULL, lazy_open_done);
	if (!open_op) {
		fuse_reply_err(op->req, ENOMEM);
		free(op);
		return;
	}
	open_op->deferred = op;
	fb__msg_init(&m, FSB_OP_OPEN);
	m.u.open.node = l->node;
	m.u.open.flags = l->oflags;
	err = fb_conn_submit(op->fs->conn, &open_op->call, &m);
	if (err < 0) {
		free(open_op);
		fuse_reply_err(op->req, -err);
		free(op);
	}
}

/*
 * Directories without OPENDIR. When the daemon answers OPENDIR with
 * ENOSYS, the kernel (fs/fuse/dir.c, fuse_dir_open; fs/fuse/file.c,
 * "Default for no-open") stops sending OPENDIR and RELEASEDIR for good
 * and opens every directory as if the reply had set FOPEN_KEEP_CACHE and
 * FOPEN_CACHE_DIR. Its READDIRPLUS then carries fh 0, which the server
 * lists by node (FSB_CAP_DIRLIST). The cached listing (fs/fuse/readdir.c,
 * fuse_readdir_cached) lives in the directory's page cache and is thrown
 * away at offset 0 once the directory's mtime or i_version moved: every
 * replayed change in a directory goes through the mount and bumps them
 * (fuse_dir_changed), and every invalidation of the directory drops its
 * pages. So this is what lazy opens with cache_dir already give, minus two
 * trips through /dev/fuse per directory opened, and only where they are
 * in force: coherent mode with change events. It cannot be undone on a
 * live mount, so a server that lost the capability in a reconnect gets
 * listings refused (fb__readdir).
 */
int fb__no_opendir_allowed(const struct fb_fs *fs, const struct fuse_conn_info *conn)
{
	return (conn->capable & FUSE_CAP_NO_OPENDIR_SUPPORT) &&
	       (fs->server.caps & FSB_CAP_DIRLIST) && fs->cache.mode == FB_CACHE_COHERENT &&
	       events_active(fs) && fs->cache.keep_cache && fs->cache.cache_dir;
}

/* Answer an open without the server, if it may be. 1 when answered. */
int fb__open_lazily(struct fb_fs *fs, fuse_req_t req, uint64_t ino,
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
	l->oflags = dir ? (FSB_O_RDONLY | FSB_O_DIRECTORY) : fb__open_flags(fi->flags, 0);
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


/*
 * A name a listed directory does not know does not exist: the client
 * holds every name of a directory whose whole listing it handed to the
 * kernel, or that it made itself (a new directory is empty), and change
 * events add and remove names as the server reports them (dents.h). So
 * in coherent mode with events, a LOOKUP of such a name is answered
 * ENOENT without the server - the LOOKUP the kernel sends before every
 * creation of a new name (fs/namei.c, lookup_open), and Node's probes of
 * missing files. Only while nothing is pending (fb_events_settled): not
 * while received events wait for the event thread, nor between a lost
 * connection and the rescan after it. Changes the server has not sent
 * yet can be missed for as long as they take to arrive, as the kernel's
 * cached negative entries miss them.
 */
int fb__negative_locally(fuse_req_t req, struct fb_fs *fs, uint64_t parent, const char *name)
{
	struct fuse_entry_param ep;

	if (fs->cache.mode != FB_CACHE_COHERENT || !events_active(fs) || fb_is_ghost(parent))
		return 0;
	if (!fb_dents_absent(&fs->dents, parent, name, strlen(name)))
		return 0;
	if (fb_conn_is_dead(fs->conn) || !fb_events_settled(&fs->events))
		return 0;
	if (fs->cache.negative_timeout <= 0) {
		fuse_reply_err(req, ENOENT);
		return 1;
	}
	memset(&ep, 0, sizeof(ep));
	ep.entry_timeout = fs->cache.negative_timeout;
	fuse_reply_entry(req, &ep);
	return 1;
}

/* The server's answer to a write-back of times nobody waits for. */
static void times_done(struct fb_call *call, const struct fsb_msg *rep, int err)
{
	struct fb_op *op = fb__op_of(call);
	int e = fb__rep_errno(rep, err);

	if (e)
		fb_dbg("write-back of the times of node %llu: %s", (unsigned long long)op->node,
		       strerror(e));
	else
		fb_nodes_set_attr(&op->fs->nodes, op->node, &rep->u.attr);
}

/*
 * With the writeback cache the kernel keeps a file's times itself and
 * writes them back with a SETATTR of MTIME and CTIME (fs/fuse/file.c,
 * fuse_flush_times): after every unlink, rename or link of a file
 * (fuse_update_ctime, then sync_inode_metadata), and inside close() after
 * writes, where it waits for it. Nothing the daemon could answer depends
 * on the server's reply (the kernel keeps its own times whatever the
 * reply says, and no server can set a ctime), so:
 *   - when the mtime it sends is the one the server has, the SETATTR
 *     changes nothing there and is answered from the node table alone
 *     (every unlinked or renamed file's);
 *   - otherwise (the mtime of a write, sent at close) it is answered
 *     from the node table with the new mtime, and sent to the server
 *     without anyone waiting: a close() after writes costs the WRITE
 *     round trip and no other. The server applies it in order with what
 *     the connection sends later; should it fail, the mtime on the
 *     server stays the one its own write gave, a few microseconds off
 *     the kernel's, which is logged and is all that is lost (a close()
 *     reports failed writes, not times).
 * Only where the node table is exact: coherent mode with change events.
 * Any other SETATTR goes to the server and is waited for.
 */
int fb__setattr_locally(fuse_req_t req, struct fb_fs *fs, uint64_t ino, const struct stat *attr,
                        int to_set)
{
	struct fsb_attr a;
	struct fb_op *op;
	struct fsb_msg m;
	struct stat st;

	if (to_set & ~(FUSE_SET_ATTR_MTIME | FUSE_SET_ATTR_CTIME))
		return 0;
	if (fs->cache.mode != FB_CACHE_COHERENT || !events_active(fs) ||
	    fb_nodes_get_fresh_attr(&fs->nodes, ino, &a) < 0)
		return 0;
	/* A file without a name left (ops_dir.c, unlinked_for_good) keeps
	 * its times here alone. */
	if (a.nlink == 0 && (to_set & FUSE_SET_ATTR_MTIME)) {
		a.mtime.sec = attr->st_mtim.tv_sec;
		a.mtime.nsec = (uint32_t)attr->st_mtim.tv_nsec;
		fb_nodes_set_attr(&fs->nodes, ino, &a);
	} else if ((to_set & FUSE_SET_ATTR_MTIME) &&
	           (attr->st_mtim.tv_sec != a.mtime.sec ||
	            (uint32_t)attr->st_mtim.tv_nsec != a.mtime.nsec)) {
		op = fb__op_new(fs, NULL, times_done);
		if (!op)
			return 0;
		op->node = ino;
		fb__msg_init(&m, FSB_OP_SETATTR);
		m.u.setattr.node = ino;
		m.u.setattr.valid = FSB_SET_MTIME;
		m.u.setattr.mtime.sec = attr->st_mtim.tv_sec;
		m.u.setattr.mtime.nsec = (uint32_t)attr->st_mtim.tv_nsec;
		if ((fs->server.caps & FSB_CAP_CREDS) && fsb_op_takes_cred(FSB_OP_SETATTR)) {
			const struct fuse_ctx *ctx = fuse_req_ctx(req);

			m.flags |= FSB_F_CRED;
			m.cred.uid = (uint32_t)ctx->uid;
			m.cred.gid = (uint32_t)ctx->gid;
		}
		if (fb_conn_submit(fs->conn, &op->call, &m) < 0) {
			free(op);
			return 0;
		}
		a.mtime = m.u.setattr.mtime;
		fb_nodes_set_attr(&fs->nodes, ino, &a);
	}
	fb__attr_to_stat(ino, &a, &st);
	if (to_set & FUSE_SET_ATTR_CTIME)
		st.st_ctim = attr->st_ctim;
	fuse_reply_attr(req, &st, fs->cache.attr_timeout);
	return 1;
}

/*
 * In coherent mode with change events the node table's attributes are
 * exact (events.c keeps them so), so GETATTR needs no round trip: the
 * kernel asks again for every directory it has listed, only because a
 * listing makes its idea of the atime stale. The atime served is the
 * one last seen.
 */
int fb__answer_attr_locally(fuse_req_t req, struct fb_fs *fs, uint64_t ino)
{
	struct fsb_attr a;
	struct stat st;

	/* The replay thread acts on the state the event recorded, which the
	 * server may have left behind already (the file is gone again): it
	 * gets what the table holds, stale or not. */
	if (fb__from_replay(req)) {
		if (fb_nodes_get_attr(&fs->nodes, ino, &a) < 0)
			return 0;
	} else if (fs->cache.mode != FB_CACHE_COHERENT || !events_active(fs) ||
	           fb_nodes_get_fresh_attr(&fs->nodes, ino, &a) < 0) {
		return 0;
	}
	fb__attr_to_stat(ino, &a, &st);
	fuse_reply_attr(req, &st, fs->cache.attr_timeout);
	return 1;
}
