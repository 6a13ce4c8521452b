/*
 * ops_node.c - requests about one node: LOOKUP, FORGET, GETATTR, SETATTR,
 * READLINK, STATFS. Each forwards to the server, unless the replay view
 * (replay_view.c) or, for GETATTR, the node table (lazy.c) answers it.
 * Calls fuse_ops.c, lazy.c and replay_view.c.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include "ops_int.h"

/* ---- lookup, forget -------------------------------------------------------- */

/* Replies: entry (negative entry with ino 0 for a cached ENOENT), err. */
static void lookup_done(struct fb_call *call, const struct fsb_msg *rep, int err)
{
	struct fb_op *op = fb__op_of(call);
	int e = fb__rep_errno(rep, err);

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
	fb__reply_entry(op, &rep->u.entry, 0);
}

void fb__lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fb_op *op;
	struct fsb_msg m;

	if (fb__name_too_long(req, name))
		return;
	if (fb__from_replay(req) && fb__replay_lookup(req, fb__fs_of(req), parent, name))
		return;
	if (fb__ghost_gone(req, parent, 0))
		return;
	if (fb__negative_locally(req, fb__fs_of(req), parent, name))
		return;
	op = fb__op_new(fb__fs_of(req), req, lookup_done);
	if (!op) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	fb__op_name(op, parent, name);
	fb__msg_init(&m, FSB_OP_LOOKUP);
	m.u.name.parent = parent;
	m.u.name.name = fb__str_of(name);
	fb__op_send(op, &m);
}

void fb__lookup_instead(struct fb_op *was)
{
	struct fb_op *op = fb__op_new(was->fs, was->req, lookup_done);
	struct fsb_msg m;

	if (!op) {
		fuse_reply_err(was->req, EEXIST);
		return;
	}
	fb__op_name(op, was->parent, was->name);
	fb__msg_init(&m, FSB_OP_LOOKUP);
	m.u.name.parent = op->parent;
	m.u.name.name = fb__str_of(op->name);
	fb__op_send(op, &m);
}

static void forget_one(struct fb_fs *fs, uint64_t node, uint64_t nlookup)
{
	fb__forget_refs(fs, node, nlookup);
}

/* Replies: none. */
void fb__forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	forget_one(fb__fs_of(req), ino, nlookup);
	fuse_reply_none(req);
}

/* Replies: none. The conn batches these into one FORGET frame anyway. */
void fb__forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
	struct fb_fs *fs = fb__fs_of(req);
	size_t i;

	for (i = 0; i < count; i++)
		forget_one(fs, forgets[i].ino, forgets[i].nlookup);
	fuse_reply_none(req);
}

/* ---- attributes ---------------------------------------------------------- */

/* Replies: attr, err. */
static void attr_done(struct fb_call *call, const struct fsb_msg *rep, int err)
{
	struct fb_op *op = fb__op_of(call);
	int e = fb__rep_errno(rep, err);
	struct stat st;

	if (e) {
		fuse_reply_err(op->req, e);
		return;
	}
	fb_nodes_set_attr(&op->fs->nodes, op->node, &rep->u.attr);
	fb__attr_to_stat(op->node, &rep->u.attr, &st);
	fuse_reply_attr(op->req, &st, op->fs->cache.attr_timeout);
}

void fb__getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fb_op *op;
	struct fsb_msg m;

	if (fb_is_ghost(ino)) {
		if (fb__from_replay(req))
			fb__replay_attr(req, fb__fs_of(req), ino, 0);
		else
			fuse_reply_err(req, ENOENT);
		return;
	}
	if (fb__answer_attr_locally(req, fb__fs_of(req), ino))
		return;
	op = fb__op_new(fb__fs_of(req), req, attr_done);
	if (!op) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	op->node = ino;
	fb__msg_init(&m, FSB_OP_GETATTR);
	m.u.node.node = ino;
	m.u.node.fh = fi ? fb__wire_fh(fi->fh) : 0;
	fb__op_send(op, &m);
}

void fb__setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
                 struct fuse_file_info *fi)
{
	struct fb_op *op;
	struct fsb_setattr_req *s;
	struct fsb_msg m;

	if (fb__from_replay(req) || (fi && fi->fh == FB_REPLAY_FH)) {
		fb__replay_attr(req, fb__fs_of(req), ino, 1);
		return;
	}
	if (fb__ghost_gone(req, ino, 0))
		return;
	if (fb__setattr_locally(req, fb__fs_of(req), ino, attr, to_set))
		return;
	op = fb__op_new(fb__fs_of(req), req, attr_done);
	if (!op) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	op->node = ino;
	fb__msg_init(&m, FSB_OP_SETATTR);
	s = &m.u.setattr;
	s->node = ino;
	if (fi && fb__wire_fh(fi->fh)) {
		s->valid |= FSB_SET_FH;
		s->fh = fb__wire_fh(fi->fh);
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
	fb__op_send(op, &m);
}

/* ---- readlink, statfs ------------------------------------------------------ */

/* Replies: readlink, err. */
static void readlink_done(struct fb_call *call, const struct fsb_msg *rep, int err)
{
	struct fb_op *op = fb__op_of(call);
	int e = fb__rep_errno(rep, err);
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

void fb__readlink(fuse_req_t req, fuse_ino_t ino)
{
	struct fb_op *op;
	struct fsb_msg m;

	if (fb__ghost_gone(req, ino, 0))
		return;
	op = fb__op_new(fb__fs_of(req), req, readlink_done);
	if (!op) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	fb__msg_init(&m, FSB_OP_READLINK);
	m.u.node.node = ino;
	fb__op_send(op, &m);
}

/* Replies: statfs, err. */
static void statfs_done(struct fb_call *call, const struct fsb_msg *rep, int err)
{
	struct fb_op *op = fb__op_of(call);
	int e = fb__rep_errno(rep, err);
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

void fb__statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct fb_op *op = fb__op_new(fb__fs_of(req), req, statfs_done);
	struct fsb_msg m;

	if (!op) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	fb__msg_init(&m, FSB_OP_STATFS);
	m.u.node.node = ino && !fb_is_ghost(ino) ? ino : FUSE_ROOT_ID;
	fb__op_send(op, &m);
}
