/*
 * replay.c - one change event applied to the kernel (the event thread
 * calls fb__handle_event): an echo of this client's own request is
 * dropped; in replay mode the change is made again through the mount
 * while the replay view tells the workers what to answer (ghosts stand
 * for what the server no longer has); otherwise, or when a replay fails,
 * the kernel is told what to forget. Also keeps the node table's
 * attributes exact. Calls rescan.c for a RESCAN event and for its
 * lookups on the server; the workers read the view and the ghosts
 * through events.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "events.h"
#include "events_int.h"
#include "fuse_ops.h"
#include "log.h"

/* ---- ghosts and the replay view (workers and the event thread) --------- */

int fb_replay_is_mine(struct fb_events *ev, pid_t pid)
{
	pid_t tid = atomic_load(&ev->tid);

	return tid != 0 && pid == tid;
}

void fb_replay_view_get(struct fb_events *ev, struct fb_replay_view *out)
{
	pthread_mutex_lock(&ev->view_lock);
	*out = ev->view;
	pthread_mutex_unlock(&ev->view_lock);
}

static void view_set(struct fb_events *ev, const struct fb_rev *r, uint64_t parent,
                     const char *name, uint64_t parent2, const char *name2)
{
	pthread_mutex_lock(&ev->view_lock);
	ev->view.kind = r->kind;
	ev->view.flags = r->flags;
	ev->view.attr = r->attr;
	ev->view.parent = parent;
	snprintf(ev->view.name, sizeof(ev->view.name), "%s", name);
	ev->view.parent2 = parent2;
	snprintf(ev->view.name2, sizeof(ev->view.name2), "%s", name2 ? name2 : "");
	pthread_mutex_unlock(&ev->view_lock);
}

static void view_clear(struct fb_events *ev)
{
	pthread_mutex_lock(&ev->view_lock);
	ev->view.kind = 0;
	pthread_mutex_unlock(&ev->view_lock);
}

int fb_ghost_new(struct fb_events *ev, const struct fsb_attr *attr, struct fsb_entry *e)
{
	struct fb_ghost *g = calloc(1, sizeof(*g));

	if (!g)
		return -ENOMEM;
	pthread_mutex_lock(&ev->view_lock);
	g->id = FB_GHOST_BIT | ev->next_ghost++;
	g->nlookup = 1;
	g->attr = *attr;
	g->next = ev->ghosts;
	ev->ghosts = g;
	pthread_mutex_unlock(&ev->view_lock);
	memset(e, 0, sizeof(*e));
	e->node = g->id;
	e->attr = *attr;
	if (!e->attr.ino)
		e->attr.ino = g->id & ~FB_GHOST_BIT;
	return 0;
}

/* Caller holds view_lock. */
static struct fb_ghost **ghost_slot(struct fb_events *ev, uint64_t id)
{
	struct fb_ghost **p = &ev->ghosts;

	while (*p && (*p)->id != id)
		p = &(*p)->next;
	return p;
}

int fb_ghost_attr(struct fb_events *ev, uint64_t id, struct fsb_attr *out)
{
	struct fb_ghost *g;
	int err = -ENOENT;

	pthread_mutex_lock(&ev->view_lock);
	g = *ghost_slot(ev, id);
	if (g) {
		*out = g->attr;
		err = 0;
	}
	pthread_mutex_unlock(&ev->view_lock);
	return err;
}

int fb_ghost_ref(struct fb_events *ev, uint64_t id, struct fsb_entry *e)
{
	struct fb_ghost *g;
	int err = -ENOENT;

	pthread_mutex_lock(&ev->view_lock);
	g = *ghost_slot(ev, id);
	if (g) {
		g->nlookup++;
		memset(e, 0, sizeof(*e));
		e->node = g->id;
		e->attr = g->attr;
		err = 0;
	}
	pthread_mutex_unlock(&ev->view_lock);
	return err;
}

void fb_ghost_forget(struct fb_events *ev, uint64_t id, uint64_t n)
{
	struct fb_ghost **slot, *g;

	pthread_mutex_lock(&ev->view_lock);
	slot = ghost_slot(ev, id);
	g = *slot;
	if (g) {
		g->nlookup = n < g->nlookup ? g->nlookup - n : 0;
		if (g->nlookup == 0) {
			*slot = g->next;
			free(g);
		}
	}
	pthread_mutex_unlock(&ev->view_lock);
}

/* ---- cache truth without replay ---------------------------------------- */

static void inval_attr(struct fb_events *ev, uint64_t node)
{
	if (node && !fb_is_ghost(node))
		fuse_lowlevel_notify_inval_inode(ev->se, node, -1, 0);
}

/* Forget what the kernel caches about one path. */
static void invalidate_path(struct fb_events *ev, const struct fb_rev *r)
{
	struct fb_fs *fs = ev->fs;
	uint64_t parent, child;
	size_t off;

	if (fb_dents_walk(&fs->dents, r->path, r->pathlen, &parent, &off, &child) < 0)
		return;
	switch (r->kind) {
	case FSB_EV_MODIFIED:
		/* Data and attributes. */
		if (child && !fb_is_ghost(child))
			fuse_lowlevel_notify_inval_inode(ev->se, child, 0, 0);
		return;
	case FSB_EV_ATTRIB:
		inval_attr(ev, child);
		return;
	default:
		break;
	}
	if (!parent)
		return;
	if (r->kind == FSB_EV_REMOVED || r->kind == FSB_EV_RENAMED_FROM) {
		child = fb_dents_remove(&fs->dents, parent, r->path + off, r->pathlen - off);
		if (child && !fb_is_ghost(child))
			fuse_lowlevel_notify_delete(ev->se, parent, child, r->path + off,
			                            r->pathlen - off);
		else
			fuse_lowlevel_notify_inval_entry(ev->se, parent, r->path + off,
			                                 r->pathlen - off);
	} else {
		/* A new name: drop a cached negative entry, and a positive
		 * one that now names something else. */
		fb_dents_remove(&fs->dents, parent, r->path + off, r->pathlen - off);
		fb_dents_seen(&fs->dents, parent, r->path + off, r->pathlen - off);
		fuse_lowlevel_notify_inval_entry(ev->se, parent, r->path + off, r->pathlen - off);
	}
	inval_attr(ev, parent);
}

/* ---- replay -------------------------------------------------------------- */

enum { REPLAY_DONE, REPLAY_SKIP, REPLAY_FAIL };

static uint32_t created_mode(const struct fb_rev *r)
{
	if (r->flags & FSB_EVF_ATTR)
		return r->attr.mode;
	return (r->flags & FSB_EVF_DIR) ? (FSB_S_IFDIR | 0755) : (FSB_S_IFREG | 0644);
}

/* How an ATTRIB is replayed: as `touch` does it (open for writing, set the
 * times, close: IN_OPEN, IN_ATTRIB, IN_CLOSE_WRITE) when the server says
 * the change was made so (FSB_EVF_CLOSE_WRITE) or, from a server that
 * cannot tell, when only the times changed; else on the path, as
 * utimensat and chmod do (IN_ATTRIB alone). */
enum { ATTRIB_PLAIN, ATTRIB_TOUCH };

/* How a CREATED is replayed: empty, or (a MODIFIED of the same file came
 * right behind it) with the written size set before the close. */
enum { CREATE_EMPTY, CREATE_WRITTEN };

static int replay_syscall(struct fb_events *ev, const struct fb_rev *r, const char *path2,
                          int how)
{
	uint32_t mode = created_mode(r);
	struct timespec ts[2];
	int rc, fd;

	switch (r->kind) {
	case FSB_EV_CREATED:
		if (S_ISDIR(mode))
			return mkdirat(ev->rootfd, r->path, mode & 07777);
		if (S_ISLNK(mode))
			return symlinkat(".", ev->rootfd, r->path);
		if (S_ISFIFO(mode) || S_ISSOCK(mode))
			return mknodat(ev->rootfd, r->path, mode, 0);
		/* Files are created the way programs create them, so the
		 * watchers see IN_CREATE, IN_OPEN and IN_CLOSE_WRITE. */
		fd = openat(ev->rootfd, r->path,
		            O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC,
		            mode & 07777);
		if (fd < 0)
			return -1;
		/* Created and written in one go: the write's IN_MODIFY comes
		 * from this open, before its IN_CLOSE_WRITE, as for a program
		 * that writes what it creates. */
		rc = how == CREATE_WRITTEN ? ftruncate(fd, (off_t)r->attr.size) : 0;
		close(fd);
		return rc;
	case FSB_EV_REMOVED:
		return unlinkat(ev->rootfd, r->path,
		                (r->flags & FSB_EVF_DIR) ? AT_REMOVEDIR : 0);
	case FSB_EV_RENAMED_FROM:
		return renameat(ev->rootfd, r->path, ev->rootfd, path2);
	case FSB_EV_MODIFIED:
		/* open for writing + truncate to the size the server saw +
		 * close: IN_OPEN, IN_MODIFY, IN_CLOSE_WRITE, and the kernel
		 * takes the new size even with the writeback cache. */
		fd = openat(ev->rootfd, r->path, O_WRONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
		if (fd < 0)
			return -1;
		rc = ftruncate(fd, (off_t)r->attr.size);
		close(fd);
		return rc;
	case FSB_EV_ATTRIB:
		ts[0].tv_sec = r->attr.atime.sec;
		ts[0].tv_nsec = r->attr.atime.nsec;
		ts[1].tv_sec = r->attr.mtime.sec;
		ts[1].tv_nsec = r->attr.mtime.nsec;
		if (how != ATTRIB_TOUCH)
			return utimensat(ev->rootfd, r->path, ts, AT_SYMLINK_NOFOLLOW);
		fd = openat(ev->rootfd, r->path, O_WRONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
		if (fd < 0)
			return -1;
		rc = futimens(fd, ts);
		close(fd);
		return rc;
	}
	errno = EINVAL;
	return -1;
}

/* The ghost directory (events.h), looked up through the mount: an O_PATH
 * descriptor of it and its node, or -1 with errno set. */
static int ghost_dir_open(struct fb_events *ev, uint64_t *id)
{
	int fd = openat(ev->rootfd, FB_GHOST_DIR_NAME,
	                O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0)
		return -1;
	*id = fb_dents_get(&ev->fs->dents, FUSE_ROOT_ID, FB_GHOST_DIR_NAME,
	                   strlen(FB_GHOST_DIR_NAME));
	if (!fb_is_ghost(*id)) {
		close(fd);
		errno = ESTALE;
		return -1;
	}
	return fd;
}

/*
 * A move across the export's edge (FSB_EVF_OUTSIDE), replayed as a rename
 * through the ghost directory: CREATED from a name there, REMOVED to one.
 * The kernel raises a lone IN_MOVED_TO or IN_MOVED_FROM (with IN_MOVE_SELF
 * for watchers of the object itself), as a local mv across file systems'
 * folders would. What went out is then forgotten by the kernel; what came
 * in is the server's node (replay_view.c), unless it is gone already.
 */
static int replay_edge(struct fb_events *ev, const struct fb_rev *r, uint64_t parent,
                       const char *name)
{
	struct fb_fs *fs = ev->fs;
	char ghost[40];
	uint64_t gid, now;
	size_t glen;
	int gfd, rc, in = r->kind == FSB_EV_CREATED;

	glen = (size_t)snprintf(ghost, sizeof(ghost), "%s-%llu", in ? "in" : "out",
	                        (unsigned long long)r->seq);
	gfd = ghost_dir_open(ev, &gid);
	if (gfd < 0) {
		fb_dbg("replay of a move %s '%s': no ghost directory: %s", in ? "in" : "out",
		       r->path, strerror(errno));
		return REPLAY_FAIL;
	}
	if (in)
		view_set(ev, r, gid, ghost, parent, name);
	else
		view_set(ev, r, parent, name, gid, ghost);
	pthread_mutex_lock(&ev->view_lock);
	ev->view.kind = FSB_EV_RENAMED_FROM;
	pthread_mutex_unlock(&ev->view_lock);
	rc = in ? renameat(gfd, ghost, ev->rootfd, r->path)
	        : renameat(ev->rootfd, r->path, gfd, ghost);
	view_clear(ev);
	if (rc < 0) {
		fb_dbg("replay of a move %s '%s' failed: %s", in ? "in" : "out", r->path,
		       strerror(errno));
		rc = REPLAY_FAIL;
		goto out_close;
	}
	rc = REPLAY_DONE;
	if (!in) {
		/* Nobody can reach it there: let the kernel forget it. */
		fb_dents_remove(&fs->dents, gid, ghost, glen);
		fuse_lowlevel_notify_inval_entry(ev->se, gid, ghost, glen);
	} else if ((now = fb_dents_get(&fs->dents, parent, name, strlen(name))) && fb_is_ghost(now)) {
		/* Gone from the server again: the later events tell. */
		fuse_lowlevel_notify_inval_entry(ev->se, parent, name, strlen(name));
	}
out_close:
	close(gfd);
	return rc;
}

/* What the daemon last knew of a node, ghost or not. */
static int known_attr(struct fb_fs *fs, uint64_t node, struct fsb_attr *out)
{
	if (!node)
		return -ENOENT;
	if (fb_is_ghost(node))
		return fb_ghost_attr(&fs->events, node, out);
	return fb_nodes_get_attr(&fs->nodes, node, out);
}

/* Whether `name` in `parent` is, on the server now, still `node`. */
static int still_there(struct fb_events *ev, uint64_t parent, const char *name, uint64_t node)
{
	struct fsb_entry e;

	return fb__sync_lookup(ev, parent, name, &e) == 0 && e.node == node;
}

/*
 * Replay r (and, for a rename, its partner `to`) through the mount. The
 * state the daemon answers with comes from the record; the parents must be
 * in the kernel's cache. `written`: r is a file's CREATED whose MODIFIED
 * came with it, r->attr already the state after the write.
 */
static int replay_one(struct fb_events *ev, struct fb_rev *r, const struct fb_rev *to,
                      int written)
{
	struct fb_fs *fs = ev->fs;
	uint64_t parent, child, parent2 = 0, child2;
	size_t off, off2 = 0;
	struct fsb_attr known;
	int rc, how = ATTRIB_PLAIN, have_known;

	if (r->pathlen == 0)
		return REPLAY_SKIP;     /* the export root itself */
	if (fb_dents_walk(&fs->dents, r->path, r->pathlen, &parent, &off, &child) < 0)
		return REPLAY_SKIP;
	have_known = known_attr(fs, child, &known) == 0;
	if ((r->kind == FSB_EV_MODIFIED || r->kind == FSB_EV_ATTRIB) &&
	    !(r->flags & FSB_EVF_ATTR)) {
		/* Gone again before the server looked: the kernel's own
		 * idea of the file is all there is to replay it with. */
		if (!have_known)
			return REPLAY_SKIP;
		r->attr = known;
		r->flags |= FSB_EVF_ATTR;
	}
	switch (r->kind) {
	case FSB_EV_MODIFIED:
		if (!S_ISREG(r->attr.mode))
			return REPLAY_SKIP;     /* not a file */
		/* The kernel may flush a writer's dirty pages through any
		 * writable handle of the file, the replay's included, which
		 * has no server handle behind it: leave such files alone. */
		if (child && fb_nodes_writers(&fs->nodes, child) > 0)
			return REPLAY_FAIL;
		/* Drop the old pages first: with FOPEN_KEEP_CACHE a read
		 * after the event would see them. */
		if (child && !fb_is_ghost(child))
			fuse_lowlevel_notify_inval_inode(ev->se, child, 0, 0);
		break;
	case FSB_EV_ATTRIB:
		/* Replayed through a handle of its own only if no writer's
		 * dirty pages can be flushed through it (as for MODIFIED). */
		if (!have_known || !S_ISREG(known.mode) || fb_nodes_writers(&fs->nodes, child) > 0)
			break;
		if (fs->server.caps & FSB_CAP_EVENT_EDGES) {
			/* The server tells a touch from a utimensat. */
			if (r->flags & FSB_EVF_CLOSE_WRITE)
				how = ATTRIB_TOUCH;
		} else if (known.mode == r->attr.mode && known.uid == r->attr.uid &&
		           known.gid == r->attr.gid) {
			/* A change of times alone is most often a touch. */
			how = ATTRIB_TOUCH;
		}
		break;
	case FSB_EV_CREATED:
		if (written)
			how = CREATE_WRITTEN;
		break;
	case FSB_EV_RENAMED_FROM:
		if (fb_dents_walk(&fs->dents, to->path, to->pathlen, &parent2, &off2, &child2) < 0 ||
		    to->pathlen == 0)
			return REPLAY_FAIL;
		break;
	case FSB_EV_REMOVED:
		/* The kernel knows the name as a node that the server still
		 * has under it: what was removed was an older file of that
		 * name (created and removed behind the mount before this
		 * client made its own). Replaying would hide the new one. */
		if (child && !fb_is_ghost(child) && still_there(ev, parent, r->path + off, child))
			return REPLAY_SKIP;
		break;
	default:
		break;
	}
	if ((r->kind == FSB_EV_CREATED || r->kind == FSB_EV_REMOVED) &&
	    (r->flags & FSB_EVF_OUTSIDE))
		return replay_edge(ev, r, parent, r->path + off);

	view_set(ev, to ? to : r, parent, r->path + off, parent2, to ? to->path + off2 : NULL);
	if (to) {
		/* The view describes the rename by its source. */
		pthread_mutex_lock(&ev->view_lock);
		ev->view.kind = FSB_EV_RENAMED_FROM;
		pthread_mutex_unlock(&ev->view_lock);
	}
	rc = replay_syscall(ev, r, to ? to->path : NULL, how);
	view_clear(ev);
	if (rc < 0) {
		fb_dbg("replay of %s '%s' failed: %s", fsb_event_kind_name(r->kind), r->path,
		       strerror(errno));
		return REPLAY_FAIL;
	}
	/* A file that no longer exists was moved onto the new name (an
	 * editor's or git's temp file, replaced since): the watchers have
	 * their MOVED_TO, and the name must not lead readers to the ghost
	 * until the later events are replayed. The next lookup asks the
	 * server, which knows what the name holds now. */
	if (to && child && fb_is_ghost(child))
		fuse_lowlevel_notify_inval_entry(ev->se, parent2, to->path + off2,
		                                 to->pathlen - off2);
	return REPLAY_DONE;
}

/* A rename of which only one side is in the kernel's cache is, to the
 * watchers there, a creation or a removal. */
static int replay_rename(struct fb_events *ev, struct fb_rev *from, struct fb_rev *to)
{
	struct fb_fs *fs = ev->fs;
	uint64_t p, c;
	size_t off;
	int from_known = from->pathlen &&
	                 fb_dents_walk(&fs->dents, from->path, from->pathlen, &p, &off, &c) == 0;
	int to_known = to->pathlen &&
	               fb_dents_walk(&fs->dents, to->path, to->pathlen, &p, &off, &c) == 0;
	struct fb_rev *half;
	int rc;

	if (from_known && to_known)
		return replay_one(ev, from, to, 0);
	if (!from_known && !to_known)
		return REPLAY_SKIP;
	if (to_known) {
		to->kind = FSB_EV_CREATED;
		rc = replay_one(ev, to, NULL, 0);
		to->kind = FSB_EV_RENAMED_TO;
		return rc;
	}
	half = malloc(sizeof(*from) + from->pathlen + 1);
	if (!half)
		return REPLAY_FAIL;
	memcpy(half, from, sizeof(*from) + from->pathlen + 1);
	half->kind = FSB_EV_REMOVED;
	if (to->flags & FSB_EVF_DIR)
		half->flags |= FSB_EVF_DIR;
	rc = replay_one(ev, half, NULL, 0);
	free(half);
	return rc;
}

static void account(struct fb_events *ev, int rc)
{
	if (rc == REPLAY_DONE)
		atomic_fetch_add(&ev->replayed, 1);
	else if (rc == REPLAY_SKIP)
		atomic_fetch_add(&ev->skipped, 1);
	else
		atomic_fetch_add(&ev->failed, 1);
}

/*
 * The daemon answers GETATTR from its node table in coherent mode, so an
 * event must leave that table exact: the object's own attributes come with
 * the event (unless a reply told of a later state), and a directory whose
 * entries changed has its attributes (mtime, nlink) fetched again.
 */
/* Called before handling a change for names (the parent is found by the
 * old path) and after it for attributes (the replay decides how to replay
 * an ATTRIB by comparing with what the table held before). */
static void note_attrs(struct fb_events *ev, const struct fb_rev *r, int after)
{
	struct fb_fs *fs = ev->fs;
	uint64_t parent, child;
	struct fsb_attr cached;
	size_t off;

	if (fb_dents_walk(&fs->dents, r->path, r->pathlen, &parent, &off, &child) < 0)
		return;
	switch (r->kind) {
	case FSB_EV_MODIFIED:
	case FSB_EV_ATTRIB:
		if (!after || !child || fb_is_ghost(child))
			return;
		if (!(r->flags & FSB_EVF_ATTR))
			fb_nodes_mark_stale(&fs->nodes, child);
		else if (fb_nodes_get_attr(&fs->nodes, child, &cached) == 0 &&
		         !fb_attr_newer(&cached, &r->attr))
			fb_nodes_set_attr(&fs->nodes, child, &r->attr);
		return;
	default:
		if (after)
			return;
		if (parent && !fb_is_ghost(parent))
			fb_nodes_mark_stale(&fs->nodes, parent);
		if (child && !fb_is_ghost(child))
			fb_nodes_mark_stale(&fs->nodes, child);
		return;
	}
}

/*
 * A file's CREATED directly followed by a MODIFIED of the same path, both
 * from elsewhere, is what open(O_CREAT) + write + close leaves: natively
 * IN_CREATE, IN_OPEN, IN_MODIFY, IN_CLOSE_WRITE. Replayed as one creation
 * that sets the written size before its close, it raises exactly that;
 * replayed as two, it would raise an extra IN_CLOSE_WRITE and IN_OPEN in
 * between. Only what is already queued is paired: a lone creation is
 * replayed at once, never held back for a write that may not come.
 */
static int created_then_written(const struct fb_rev *r, const struct fb_rev *next)
{
	if (r->kind != FSB_EV_CREATED || !next || next->kind != FSB_EV_MODIFIED)
		return 0;
	if ((r->flags | next->flags) & (FSB_EVF_ECHO | FSB_EVF_DIR | FSB_EVF_OUTSIDE))
		return 0;
	if (!(next->flags & FSB_EVF_ATTR) || !S_ISREG(next->attr.mode))
		return 0;
	if ((r->flags & FSB_EVF_ATTR) && !S_ISREG(r->attr.mode))
		return 0;
	return r->pathlen == next->pathlen && memcmp(r->path, next->path, r->pathlen) == 0;
}

/* Handle r, and the event after it when it belongs to r (the RENAMED_TO
 * of a RENAMED_FROM, the MODIFIED of a new file): then *consumed is set. */
/*
 * The echo of a directory this client made: from here on the client
 * knows every name in it (dents.h, "listed"), since the directory was
 * empty when made, names made through the mount since are known from
 * their replies, and any made behind the mount come as events after this
 * one - the server reports a directory's creation before anything in it.
 * If the MKDIR reply has not reached the dentry mirror yet, events about
 * the directory's contents may have been skipped, and it is left as it
 * is: unlisted, so its missing names are asked of the server.
 */
static void made_here(struct fb_events *ev, const struct fb_rev *r)
{
	uint64_t parent, child;
	size_t off;

	if (fb_dents_walk(&ev->fs->dents, r->path, r->pathlen, &parent, &off, &child) < 0)
		return;
	if (child && !fb_is_ghost(child))
		fb_dents_set_listed(&ev->fs->dents, child);
}

void fb__handle_event(struct fb_events *ev, struct fb_rev *r, struct fb_rev *next,
                      int *consumed)
{
	struct fb_rev *to = NULL, *write = NULL;
	int rc;

	*consumed = 0;
	/* The edge flags mean something only once agreed. */
	if (!(ev->fs->server.caps & FSB_CAP_EVENT_EDGES))
		r->flags &= (uint8_t)~(FSB_EVF_OUTSIDE | FSB_EVF_CLOSE_WRITE);
	if (r->kind == FSB_EV_RENAMED_FROM && next && next->kind == FSB_EV_RENAMED_TO &&
	    next->cookie == r->cookie) {
		to = next;
		*consumed = 1;
	}
	if (r->flags & FSB_EVF_ECHO) {
		atomic_fetch_add(&ev->echoes, 1 + (uint64_t)*consumed);
		if (r->kind == FSB_EV_CREATED && (r->flags & FSB_EVF_DIR))
			made_here(ev, r);
		return;
	}
	if (r->kind == FSB_EV_RESCAN) {
		fb__rescan(ev, r->path, r->pathlen);
		return;
	}
	if (ev->mode == FB_EVENTS_REPLAY && created_then_written(r, next)) {
		write = next;
		*consumed = 1;
		r->attr = write->attr;
		r->flags |= FSB_EVF_ATTR;
	}
	note_attrs(ev, r, 0);
	if (to)
		note_attrs(ev, to, 0);
	if (ev->mode == FB_EVENTS_REPLAY && ev->rootfd >= 0) {
		if (to)
			rc = replay_rename(ev, r, to);
		else if (r->kind == FSB_EV_RENAMED_FROM || r->kind == FSB_EV_RENAMED_TO)
			rc = REPLAY_FAIL;       /* a half pair: not expected */
		else
			rc = replay_one(ev, r, NULL, write != NULL);
		account(ev, rc);
		note_attrs(ev, r, 1);
		if (write)
			note_attrs(ev, write, 1);
		if (rc == REPLAY_DONE)
			return;
	} else {
		atomic_fetch_add(&ev->invalidated, 1);
		note_attrs(ev, r, 1);
	}
	invalidate_path(ev, r);
	if (to)
		invalidate_path(ev, to);
	if (write)
		invalidate_path(ev, write);
}
