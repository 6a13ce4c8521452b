/*
 * replay_view.c - the replay view.
 *
 * Requests of the event thread replaying a change through the mount
 * (events.h) are answered from the event record, never by the server: the
 * change already happened there. Each helper below returns 1 when it has
 * answered the request, 0 when the request should take the normal path.
 * The view itself and the ghosts are kept by replay.c (events.h); any
 * other request naming a ghost is told the object is gone (fb__ghost_gone).
 *
 * Calls fuse_ops.c's request helpers, events.h and the node and name
 * tables; the handlers in ops_node.c, ops_dir.c and ops_file.c, and
 * lazy.c, call it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ops_int.h"

int fb__from_replay(fuse_req_t req)
{
	return fb_replay_is_mine(&fb__fs_of(req)->events, fuse_req_ctx(req)->pid);
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
	fb__entry_param(fs, &e, &ep);
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
			fb__forget_refs(fs, e.node, 1);
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

/* The replay's LOOKUP of the ghost directory (events.h): the same ghost
 * while the kernel has it, else a new one, owned by the daemon's user so
 * that the kernel lets the replay rename through it. */
static void replay_ghost_dir(fuse_req_t req, struct fb_fs *fs, const char *name)
{
	uint64_t known = fb_dents_get(&fs->dents, FUSE_ROOT_ID, name, strlen(name));
	struct fsb_attr a;

	synth_attr(FSB_S_IFDIR | 0700, &a);
	a.uid = (uint32_t)geteuid();
	a.gid = (uint32_t)getegid();
	/* A real file of that name, if the server has one, is not it. */
	reply_local_entry(req, fs, FUSE_ROOT_ID, name, fb_is_ghost(known) ? known : 0, &a, NULL);
}

static void replay_create_done(struct fb_call *call, const struct fsb_msg *rep, int err);

/* The source of a move into the export, in the ghost directory: the node
 * the server has at the destination now, if it is still of the type
 * moved in (so that the kernel's inode is the real one, and a directory
 * lists what came with it), else a ghost. */
static void replay_moved_in(fuse_req_t req, struct fb_fs *fs, const struct fb_replay_view *v)
{
	uint32_t mode = (v->flags & FSB_EVF_ATTR) ? v->attr.mode
	                : (v->flags & FSB_EVF_DIR) ? (FSB_S_IFDIR | 0755) : (FSB_S_IFREG | 0644);
	struct fsb_attr a;
	struct fb_op *op;
	struct fsb_msg m;

	if (fb_is_ghost(v->parent2) || !(v->flags & FSB_EVF_ATTR)) {
		synth_attr(mode, &a);
		reply_local_entry(req, fs, v->parent, v->name, 0, (v->flags & FSB_EVF_ATTR) ? &v->attr : &a,
		                  NULL);
		return;
	}
	op = fb__op_new(fs, req, replay_create_done);
	if (!op) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	fb__op_name(op, v->parent, v->name);
	op->rmode = mode;
	op->rattr = v->attr;
	fb__msg_init(&m, FSB_OP_LOOKUP);
	m.u.name.parent = v->parent2;
	m.u.name.name = fb__str_of(v->name2);
	fb__op_send(op, &m);
}

/* LOOKUP. The name being created does not exist yet, whatever the server
 * says now (the kernel looks it up afresh before mknod/mkdir and for a
 * rename target); a name being removed or renamed away still exists. */
int fb__replay_lookup(fuse_req_t req, struct fb_fs *fs, uint64_t parent, const char *name)
{
	struct fb_replay_view v;
	struct fsb_attr a;
	uint64_t known;

	if (parent == FUSE_ROOT_ID && strcmp(name, FB_GHOST_DIR_NAME) == 0) {
		replay_ghost_dir(req, fs, name);
		return 1;
	}
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
		case FSB_EV_RENAMED_FROM:
			/* A move in: the source is in the ghost directory. */
			if ((v.flags & FSB_EVF_OUTSIDE) && fb_is_ghost(parent) &&
			    !fb_dents_get(&fs->dents, parent, name, strlen(name))) {
				replay_moved_in(req, fs, &v);
				return 1;
			}
			/* fall through */
		case FSB_EV_REMOVED:
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
	struct fb_op *op = fb__op_of(call);

	if (!fb__rep_errno(rep, err)) {
		if (((rep->u.entry.attr.mode ^ op->rmode) & S_IFMT) == 0) {
			fb__reply_entry(op, &rep->u.entry, op->plus);
			return;
		}
		fb_conn_forget(op->fs->conn, rep->u.entry.node, 1);
	}
	replay_create_ghost(op->req, op->fs, op->parent, op->name, op->rmode, &op->rattr, 1,
	                    op->plus ? &op->fi : NULL);
}

/* MKNOD, MKDIR, SYMLINK, CREATE (fi set: answered with a replay handle)
 * of the name the view creates. */
int fb__replay_create(fuse_req_t req, struct fb_fs *fs, uint64_t parent, const char *name,
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
	op = fb__op_new(fs, req, replay_create_done);
	if (!op) {
		fuse_reply_err(req, ENOMEM);
		return 1;
	}
	fb__op_name(op, parent, name);
	op->rmode = mode;
	op->rattr = v.attr;
	if (fi) {
		op->plus = 1;   /* reused: answer with fuse_reply_create */
		op->fi = rfi;
	}
	fb__msg_init(&m, FSB_OP_LOOKUP);
	m.u.name.parent = parent;
	m.u.name.name = fb__str_of(name);
	fb__op_send(op, &m);
	return 1;
}

/* GETATTR and SETATTR of the replay, and any request on a ghost: the
 * recorded state. */
int fb__replay_attr(fuse_req_t req, struct fb_fs *fs, uint64_t ino, int setting)
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
	fb__attr_to_stat(ino, &a, &st);
	fuse_reply_attr(req, &st, timeout);
	return 1;
}

/* Any other request naming a ghost, from anyone but the replay thread:
 * the object is gone. */
int fb__ghost_gone(fuse_req_t req, uint64_t a, uint64_t b)
{
	if (!fb_is_ghost(a) && !fb_is_ghost(b))
		return 0;
	fuse_reply_err(req, ENOENT);
	return 1;
}
