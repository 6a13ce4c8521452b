/*
 * ops_dir.c - requests about the names in a directory: MKNOD, MKDIR,
 * SYMLINK, LINK, CREATE, UNLINK, RMDIR, RENAME, and the listings READDIR
 * and READDIRPLUS. Replayed changes are answered from the replay view
 * (replay_view.c). Calls fuse_ops.c, lazy.c and replay_view.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "log.h"
#include "ops_int.h"

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#endif
#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif

/* ---- creating entries ------------------------------------------------------ */

static void newentry_done(struct fb_call *call, const struct fsb_msg *rep, int err);

/* A CREATE sent again after a reconnect found its name taken, most likely
 * by its own first attempt on the server before: open what is there. */
static void create_again(struct fb_op *was)
{
	struct fb_op *op = fb__op_new(was->fs, was->req, newentry_done);
	struct fsb_msg m;

	if (!op) {
		fuse_reply_err(was->req, EEXIST);
		return;
	}
	fb__op_name(op, was->parent, was->name);
	op->fi = was->fi;
	op->cflags = was->cflags & ~(uint32_t)FSB_O_EXCL;
	op->cmode = was->cmode;
	fb__msg_init(&m, FSB_OP_CREATE);
	m.u.create.parent = op->parent;
	m.u.create.name = fb__str_of(op->name);
	m.u.create.flags = op->cflags;
	m.u.create.mode = op->cmode;
	fb__op_send(op, &m);
}

/* MKNOD, MKDIR, SYMLINK, LINK, CREATE. Replies: entry (create for CREATE),
 * err. */
static void newentry_done(struct fb_call *call, const struct fsb_msg *rep, int err)
{
	struct fb_op *op = fb__op_of(call);
	int e = fb__rep_errno(rep, err);
	const struct fsb_entry_rep *r;

	if (e == EEXIST && call->retried) {
		if (call->op == FSB_OP_CREATE)
			create_again(op);
		else
			fb__lookup_instead(op);
		return;
	}
	if (e) {
		fuse_reply_err(op->req, e);
		return;
	}
	r = &rep->u.entry_rep;
	fb_nodes_set_attr(&op->fs->nodes, op->parent, &r->dir_attr);
	if (call->op == FSB_OP_CREATE) {
		op->fi.fh = r->fh;
		op->fi.keep_cache = 0;
		fb_fhs_add(&op->fs->fhs, r->fh, r->entry.node,
		           fb__open_flags(op->fi.flags, op->fs->cache.writeback));
		op->fi.direct_io = op->fs->cache.direct_io;
		fb__reply_entry(op, &r->entry, 1);
		return;
	}
	fb__reply_entry(op, &r->entry, 0);
}

static void send_create(fuse_req_t req, uint16_t opcode, fuse_ino_t parent,
                        const char *name, uint32_t flags, mode_t mode, dev_t rdev,
                        const struct fuse_file_info *fi)
{
	struct fb_op *op;
	struct fsb_msg m;

	if (fb__name_too_long(req, name))
		return;
	if (fb__from_replay(req)) {
		if (opcode == FSB_OP_MKDIR)
			mode = S_IFDIR | (mode & 07777);
		else if (opcode == FSB_OP_CREATE)
			mode = S_IFREG | (mode & 07777);
		fb__replay_create(req, fb__fs_of(req), parent, name, mode, fi);
		return;
	}
	if (fb__ghost_gone(req, parent, 0))
		return;
	op = fb__op_new(fb__fs_of(req), req, newentry_done);
	if (!op) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	fb__op_name(op, parent, name);
	if (fi)
		op->fi = *fi;
	op->cflags = flags;
	op->cmode = mode;
	fb__msg_init(&m, opcode);
	m.u.create.parent = parent;
	m.u.create.name = fb__str_of(name);
	m.u.create.flags = flags;
	m.u.create.mode = mode;
	m.u.create.rdev = (uint32_t)rdev;
	fb__op_send(op, &m);
}

void fb__mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
               dev_t rdev)
{
	send_create(req, FSB_OP_MKNOD, parent, name, 0, mode, rdev, NULL);
}

void fb__mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	send_create(req, FSB_OP_MKDIR, parent, name, 0, mode & 07777, 0, NULL);
}

void fb__create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
                struct fuse_file_info *fi)
{
	struct fb_fs *fs = fb__fs_of(req);

	send_create(req, FSB_OP_CREATE, parent, name,
	            fb__open_flags(fi->flags, fs->cache.writeback) | FSB_O_CREAT, mode & 07777,
	            0, fi);
}

void fb__symlink(fuse_req_t req, const char *link, fuse_ino_t parent,
                 const char *name)
{
	struct fb_fs *fs = fb__fs_of(req);
	struct fb_op *op;
	struct fsb_msg m;

	if (fb__name_too_long(req, name))
		return;
	if (strlen(link) >= FSB_PATH_MAX) {
		fuse_reply_err(req, ENAMETOOLONG);
		return;
	}
	if (fb__from_replay(req)) {
		fb__replay_create(req, fs, parent, name, S_IFLNK | 0777, NULL);
		return;
	}
	if (fb__ghost_gone(req, parent, 0))
		return;
	/* EPERM is what Linux file systems without symlinks (vfat) say. */
	if (!(fs->server.caps & FSB_CAP_SYMLINKS)) {
		fuse_reply_err(req, EPERM);
		return;
	}
	op = fb__op_new(fs, req, newentry_done);
	if (!op) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	fb__op_name(op, parent, name);
	fb__msg_init(&m, FSB_OP_SYMLINK);
	m.u.symlink.parent = parent;
	m.u.symlink.name = fb__str_of(name);
	m.u.symlink.target = fb__str_of(link);
	fb__op_send(op, &m);
}

void fb__link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent,
              const char *newname)
{
	struct fb_fs *fs = fb__fs_of(req);
	struct fb_op *op;
	struct fsb_msg m;

	if (fb__name_too_long(req, newname))
		return;
	if (fb__ghost_gone(req, ino, newparent))
		return;
	if (!(fs->server.caps & FSB_CAP_HARDLINKS)) {
		fuse_reply_err(req, EPERM);
		return;
	}
	op = fb__op_new(fs, req, newentry_done);
	if (!op) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	fb__op_name(op, newparent, newname);
	fb__msg_init(&m, FSB_OP_LINK);
	m.u.link.node = ino;
	m.u.link.newparent = newparent;
	m.u.link.newname = fb__str_of(newname);
	fb__op_send(op, &m);
}

/* ---- removing and renaming --------------------------------------------------- */

/*
 * A file whose only name was just unlinked has no name left: where the
 * node table is exact (coherent mode with change events: another link
 * made behind the mount would have raised its count), it says so with a
 * link count of 0 instead of asking the server again. The kernel's
 * write-back of that file's times is then answered without the server
 * (lazy.c), which would otherwise set times on a file only an open handle
 * still reaches, and report it as a change. 1 when so marked.
 */
static int unlinked_for_good(struct fb_fs *fs, uint16_t opcode, uint64_t node)
{
	struct fsb_attr a;

	if (opcode != FSB_OP_UNLINK || fs->cache.mode != FB_CACHE_COHERENT ||
	    !(fs->server.caps & FSB_CAP_EVENTS) || fs->events.mode == FB_EVENTS_OFF)
		return 0;
	if (fb_nodes_get_fresh_attr(&fs->nodes, node, &a) < 0 || a.nlink > 1 ||
	    (a.mode & FSB_S_IFMT) == FSB_S_IFDIR)
		return 0;
	a.nlink = 0;
	fb_nodes_set_attr(&fs->nodes, node, &a);
	return 1;
}

/* UNLINK, RMDIR. Replies: err. */
static void remove_done(struct fb_call *call, const struct fsb_msg *rep, int err)
{
	struct fb_op *op = fb__op_of(call);
	int e = fb__rep_errno(rep, err);

	if (fb__retried_done(op, e)) {
		uint64_t gone = fb_dents_remove(&op->fs->dents, op->parent, op->name,
		                                strlen(op->name));

		fb_nodes_mark_stale(&op->fs->nodes, op->parent);
		if (gone)
			fb_nodes_mark_stale(&op->fs->nodes, gone);
		e = 0;
	} else if (!e) {
		uint64_t gone;

		fb_nodes_set_attr(&op->fs->nodes, op->parent, &rep->u.dir_rep.dir_attr);
		/* Its link count (and ctime) changed: other names may remain. */
		gone = fb_dents_remove(&op->fs->dents, op->parent, op->name, strlen(op->name));
		if (gone && !unlinked_for_good(op->fs, call->op, gone))
			fb_nodes_mark_stale(&op->fs->nodes, gone);
	}
	fuse_reply_err(op->req, e);
}

static void send_remove(fuse_req_t req, uint16_t opcode, fuse_ino_t parent,
                        const char *name)
{
	struct fb_op *op;
	struct fsb_msg m;

	if (fb__name_too_long(req, name))
		return;
	if (fb__from_replay(req)) {
		/* Done on the server already: the kernel drops the name. */
		fb_dents_remove(&fb__fs_of(req)->dents, parent, name, strlen(name));
		fuse_reply_err(req, 0);
		return;
	}
	if (fb__ghost_gone(req, parent, 0))
		return;
	op = fb__op_new(fb__fs_of(req), req, remove_done);
	if (!op) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	fb__op_name(op, parent, name);
	fb__msg_init(&m, opcode);
	m.u.name.parent = parent;
	m.u.name.name = fb__str_of(name);
	fb__op_send(op, &m);
}

void fb__unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	send_remove(req, FSB_OP_UNLINK, parent, name);
}

void fb__rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	send_remove(req, FSB_OP_RMDIR, parent, name);
}

/* Replies: err. */
static void rename_done(struct fb_call *call, const struct fsb_msg *rep, int err)
{
	struct fb_op *op = fb__op_of(call);
	int e = fb__rep_errno(rep, err);

	if (fb__retried_done(op, e)) {
		fb_nodes_mark_stale(&op->fs->nodes, op->parent);
		fb_nodes_mark_stale(&op->fs->nodes, op->node);
		e = 0;
	} else if (!e) {
		fb_nodes_set_attr(&op->fs->nodes, op->parent, &rep->u.rename_rep.olddir_attr);
		fb_nodes_set_attr(&op->fs->nodes, op->node, &rep->u.rename_rep.newdir_attr);
	}
	if (!e) {
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

void fb__rename(fuse_req_t req, fuse_ino_t parent, const char *name,
                fuse_ino_t newparent, const char *newname, unsigned int flags)
{
	struct fb_fs *fs = fb__fs_of(req);
	struct fb_op *op;
	struct fsb_msg m;
	uint32_t wflags = 0;

	if (fb__name_too_long(req, name) || fb__name_too_long(req, newname))
		return;
	if (fb__from_replay(req)) {
		fb_dents_rename(&fs->dents, parent, name, strlen(name), newparent, newname,
		                strlen(newname), !!(flags & RENAME_EXCHANGE));
		fuse_reply_err(req, 0);
		return;
	}
	if (fb__ghost_gone(req, parent, newparent))
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
	op = fb__op_new(fs, req, rename_done);
	if (!op) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	fb__op_name(op, parent, name);
	snprintf(op->name2, sizeof(op->name2), "%s", newname);
	op->node = newparent;
	op->rflags = flags;
	fb__msg_init(&m, FSB_OP_RENAME);
	m.u.rename.olddir = parent;
	m.u.rename.oldname = fb__str_of(name);
	m.u.rename.newdir = newparent;
	m.u.rename.newname = fb__str_of(newname);
	m.u.rename.flags = wflags;
	fb__op_send(op, &m);
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

/*
 * The end of a listing. The kernel reads a directory until a reply comes
 * back empty, so every listing costs one request past its last entry; for
 * a directory that fits in one reply (nearly all) that is a second server
 * round trip per directory, the larger part of a cold walk (a 7,594-
 * directory walk sent 15,225 READDIRPLUS). A reply that reached the end
 * with all its entries handed to the kernel notes where it ended, and the
 * request that follows at exactly that offset is answered empty by the
 * daemon. A name created in between is missed by this pass of the
 * listing, which POSIX allows for a change made after opendir; the change
 * event then invalidates the kernel's cached listing as usual.
 */
static size_t dir_end_slot(uint64_t node)
{
	return (size_t)((node * 0x9E3779B97F4A7C15ull) >> 40) % FB_DIR_ENDS;
}

static void dir_end_note(struct fb_fs *fs, uint64_t node, off_t off)
{
	struct fb_dir_ends *de = &fs->dir_ends;
	size_t i = dir_end_slot(node);

	pthread_mutex_lock(&de->lock);
	de->v[i].node = node;
	de->v[i].off = off;
	pthread_mutex_unlock(&de->lock);
}

/* 1 if a request for node at off is the one past a listing's end. */
static int dir_end_take(struct fb_fs *fs, uint64_t node, off_t off)
{
	struct fb_dir_ends *de = &fs->dir_ends;
	size_t i = dir_end_slot(node);
	int hit = 0;

	pthread_mutex_lock(&de->lock);
	if (de->v[i].node == node) {
		hit = de->v[i].off == off;
		de->v[i].node = 0;
	}
	pthread_mutex_unlock(&de->lock);
	return hit;
}

/* A wire entry is 112 bytes + name, a kernel readdirplus entry 152 +
 * name rounded to 8: asking for 3/4 of the buffer rarely overfills it
 * (overflow only costs a FORGET). Plain entries are much smaller than
 * wire entries, so `size` always fits. */
static uint32_t readdir_want(const struct fb_op *op)
{
	size_t want = op->plus ? op->size / 4 * 3 : op->size;

	return want > FSB_MAX_IO ? FSB_MAX_IO : (uint32_t)want;
}

void fb__forget_dirents(struct fb_fs *fs, const struct fsb_dirent *ents, uint32_t count)
{
	uint32_t i;

	for (i = 0; i < count; i++)
		if (ents[i].entry.node)
			fb_conn_forget(fs->conn, ents[i].entry.node, 1);
}

/* Fill the kernel's buffer from one READDIRPLUS reply. Every entry in the
 * reply holds a server reference; only entries placed in a readdirplus
 * buffer that reaches the kernel keep theirs. Replies: buf, err. */
void fb__readdir_fill(struct fb_op *op, const struct fsb_readdir_rep *r)
{
	struct fb_fs *fs = op->fs;
	uint32_t i, handed = 0;
	size_t pos = 0;
	off_t end = op->off;
	char *buf;

	buf = malloc(op->size ? op->size : 1);
	if (!buf) {
		fb__forget_dirents(fs, r->ents, r->count);
		fuse_reply_err(op->req, ENOMEM);
		return;
	}

	for (int dot = op->off < DOT_ENTRIES ? (int)op->off : DOT_ENTRIES; dot < DOT_ENTRIES;
	     dot++) {
		size_t need = add_dot(op, buf + pos, op->size - pos, dot);

		if (need > op->size - pos)
			break;
		pos += need;
		end = dot + 1;
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

			fb__entry_param(fs, &d->entry, &ep);
			need = fuse_add_direntry_plus(op->req, buf + pos, op->size - pos, name,
			                              &ep, offset_of_cookie(d->cookie));
		} else {
			struct stat st;

			fb__attr_to_stat(d->entry.node, &d->entry.attr, &st);
			need = fuse_add_direntry(op->req, buf + pos, op->size - pos, name, &st,
			                         offset_of_cookie(d->cookie));
		}
		if (need > op->size - pos)
			break;  /* did not fit: the kernel asks again from here */
		pos += need;
		handed++;
		end = offset_of_cookie(d->cookie);
	}

	/* Entries the kernel will never see, and plain readdir's entries
	 * (the kernel instantiates no inodes from those). */
	i = op->plus ? handed : 0;
	fb__forget_dirents(fs, r->ents + i, r->count - i);

	if (op->plus) {
		for (i = 0; i < handed; i++) {
			const struct fsb_dirent *d = &r->ents[i];

			if (fb_nodes_ref(&fs->nodes, &d->entry) < 0)
				fb_warn("out of memory: node %llu not tracked",
				        (unsigned long long)d->entry.node);
			fb_dents_add(&fs->dents, op->node, d->name.ptr, d->name.len,
			             d->entry.node);
		}
		/* The rest of the listing reached the kernel: from now on
		 * the client knows every name there (dents.h). */
		if (r->eof && handed == r->count) {
			fb_dents_set_listed(&fs->dents, op->node);
			if (fs->cache.no_opendir)
				fb_restat_note(&fs->restat, op->node, 1);
			if (op->off == 0)
				fb_dirahead_listed(fs, r, readdir_want(op));
		}
	}
	/* Everything up to the end went in (the dots too): the next request
	 * is the one past it. */
	if (r->eof && handed == r->count && pos > 0 && end >= DOT_ENTRIES)
		dir_end_note(fs, op->node, end);
	if (fuse_reply_buf(op->req, buf, pos) < 0 && op->plus) {
		for (i = 0; i < handed; i++)
			fb__drop_refs(fs, r->ents[i].entry.node, 1);
	}
	free(buf);
}

static void readdir_done(struct fb_call *call, const struct fsb_msg *rep, int err)
{
	struct fb_op *op = fb__op_of(call);
	int e = fb__rep_errno(rep, err);

	if (e)
		fuse_reply_err(op->req, e);
	else
		fb__readdir_fill(op, &rep->u.readdir_rep);
}

static void readdir_send(struct fb_op *op)
{
	struct fsb_msg m;

	fb__msg_init(&m, FSB_OP_READDIRPLUS);
	m.u.readdir.node = op->node;
	m.u.readdir.fh = fb__wire_fh(op->fi.fh);
	m.u.readdir.cookie = cookie_of_offset(op->off);
	m.u.readdir.max_bytes = readdir_want(op);
	fb__op_send(op, &m);
}

/* A request the read-ahead did not answer after all: as usual. It was
 * made with readdir_done as its callback, and never sent. */
void fb__readdir_send(struct fb_op *op)
{
	fb__lazy_send(op, readdir_send);
}

static void send_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                         struct fuse_file_info *fi, int plus)
{
	struct fb_fs *fs = fb__fs_of(req);
	struct fb_op *op;

	/* fh 0: a directory the kernel opened without OPENDIR, listed by
	 * node; a server that came back without that cannot list it. */
	if (!fi->fh && !(fs->server.caps & FSB_CAP_DIRLIST)) {
		fb_warn("the server no longer lists directories by node: mount again");
		fuse_reply_err(req, EIO);
		return;
	}
	if (dir_end_take(fs, ino, off)) {
		fuse_reply_buf(req, NULL, 0);
		return;
	}
	op = fb__op_new(fs, req, readdir_done);
	if (!op) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	op->node = ino;
	op->size = size;
	op->plus = plus;
	op->off = off;
	op->fi.fh = fi->fh;
	if (!fi->fh && fb_dirahead_serve(fs, op))
		return;
	fb__lazy_send(op, readdir_send);
}

void fb__readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                 struct fuse_file_info *fi)
{
	send_readdir(req, ino, size, off, fi, 0);
}

void fb__readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                     struct fuse_file_info *fi)
{
	send_readdir(req, ino, size, off, fi, 1);
}
