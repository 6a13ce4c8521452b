/*
 * events.c - see events.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "events.h"
#include "fuse_ops.h"
#include "log.h"

/* Events waiting for the event thread beyond this are dropped and the
 * whole cache is invalidated instead, as after a server-side overflow. */
#define EVENTS_QUEUE_MAX 1000000u

int fb_events_mode_parse(const char *s, enum fb_events_mode *out)
{
	if (strcmp(s, "replay") == 0)
		*out = FB_EVENTS_REPLAY;
	else if (strcmp(s, "invalidate") == 0)
		*out = FB_EVENTS_INVALIDATE;
	else if (strcmp(s, "off") == 0)
		*out = FB_EVENTS_OFF;
	else
		return -EINVAL;
	return 0;
}

const char *fb_events_mode_name(enum fb_events_mode mode)
{
	switch (mode) {
	case FB_EVENTS_REPLAY:
		return "replay";
	case FB_EVENTS_INVALIDATE:
		return "invalidate";
	case FB_EVENTS_OFF:
		return "off";
	}
	return "?";
}

int fb_events_init(struct fb_events *ev, enum fb_events_mode mode)
{
	size_t i;
	int err;

	memset(ev, 0, sizeof(*ev));
	ev->mode = mode;
	ev->rootfd = -1;
	ev->next_ghost = 1;
	atomic_init(&ev->frames, 0);
	atomic_init(&ev->received, 0);
	atomic_init(&ev->echoes, 0);
	atomic_init(&ev->replayed, 0);
	atomic_init(&ev->invalidated, 0);
	atomic_init(&ev->skipped, 0);
	atomic_init(&ev->failed, 0);
	atomic_init(&ev->rescans, 0);
	atomic_init(&ev->gaps, 0);
	atomic_init(&ev->tid, 0);
	for (i = 0; i < FSB_EV__COUNT; i++)
		atomic_init(&ev->by_kind[i], 0);
	err = pthread_mutex_init(&ev->lock, NULL);
	if (err)
		return -err;
	err = pthread_cond_init(&ev->cond, NULL);
	if (err)
		goto out_lock;
	err = pthread_mutex_init(&ev->view_lock, NULL);
	if (err)
		goto out_cond;
	return 0;
out_cond:
	pthread_cond_destroy(&ev->cond);
out_lock:
	pthread_mutex_destroy(&ev->lock);
	return -err;
}

/* ---- the loop thread's side ----------------------------------------------- */

void fb_events_on_push(struct fb_events *ev, const struct fsb_event_push *push)
{
	struct fb_rev *first = NULL, **tailp = &first, *last = NULL;
	size_t n = 0;
	uint32_t i;
	int gap = 0;

	atomic_fetch_add(&ev->frames, 1);
	for (i = 0; i < push->count; i++) {
		const struct fsb_event *e = &push->events[i];
		struct fb_rev *r;

		atomic_fetch_add(&ev->received, 1);
		if (e->kind < FSB_EV__COUNT)
			atomic_fetch_add(&ev->by_kind[e->kind], 1);
		/* Sequence numbers are strictly increasing per session; a gap
		 * or a step back means events were lost on the way. */
		if (ev->last_seq && e->seq != ev->last_seq + 1) {
			atomic_fetch_add(&ev->gaps, 1);
			gap = 1;
			fb_warn("event sequence went from %" PRIu64 " to %" PRIu64, ev->last_seq,
			        e->seq);
		}
		ev->last_seq = e->seq;
		fb_dbg("event %" PRIu64 " %s%s%s '%.*s'", e->seq, fsb_event_kind_name(e->kind),
		       (e->flags & FSB_EVF_DIR) ? " dir" : "",
		       (e->flags & FSB_EVF_ECHO) ? " echo" : "", (int)e->path.len,
		       e->path.ptr ? e->path.ptr : "");

		r = malloc(sizeof(*r) + e->path.len + 1);
		if (!r) {
			/* Treated like a queue overflow: everything is
			 * invalidated once the thread gets there. */
			pthread_mutex_lock(&ev->lock);
			ev->overflowed = 1;
			pthread_mutex_unlock(&ev->lock);
			continue;
		}
		r->next = NULL;
		r->kind = e->kind;
		r->flags = e->flags;
		r->cookie = e->cookie;
		r->seq = e->seq;
		if (e->flags & FSB_EVF_ATTR)
			r->attr = e->attr;
		else
			memset(&r->attr, 0, sizeof(r->attr));
		r->pathlen = e->path.len;
		if (e->path.len)
			memcpy(r->path, e->path.ptr, e->path.len);
		r->path[e->path.len] = '\0';
		*tailp = r;
		tailp = &r->next;
		last = r;
		n++;
	}
	pthread_mutex_lock(&ev->lock);
	if (gap)
		ev->overflowed = 1;     /* lost on the way: rescan */
	if (!first) {
		if (gap)
			pthread_cond_signal(&ev->cond);
		pthread_mutex_unlock(&ev->lock);
		return;
	}
	if (ev->mode == FB_EVENTS_OFF || ev->stop || ev->queued + n > EVENTS_QUEUE_MAX) {
		if (!ev->stop && ev->mode != FB_EVENTS_OFF && !ev->overflowed) {
			fb_warn("%zu change events waiting: dropping them and invalidating the "
			        "whole cache instead", ev->queued + n);
			ev->overflowed = 1;
		}
		pthread_mutex_unlock(&ev->lock);
		while (first) {
			struct fb_rev *next = first->next;
			free(first);
			first = next;
		}
		return;
	}
	if (ev->tail)
		ev->tail->next = first;
	else
		ev->head = first;
	ev->tail = last;
	ev->queued += n;
	pthread_cond_signal(&ev->cond);
	pthread_mutex_unlock(&ev->lock);
}

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

/* How an ATTRIB is replayed: a change of times alone is what `touch` does
 * (open for writing, set the times, close: IN_OPEN, IN_ATTRIB,
 * IN_CLOSE_WRITE); anything else is a chmod or chown (IN_ATTRIB alone). */
enum { ATTRIB_PLAIN, ATTRIB_TOUCH };

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
		close(fd);
		return 0;
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

/*
 * Replay r (and, for a rename, its partner `to`) through the mount. The
 * state the daemon answers with comes from the record; the parents must be
 * in the kernel's cache.
 */
/* What the daemon last knew of a node, ghost or not. */
static int known_attr(struct fb_fs *fs, uint64_t node, struct fsb_attr *out)
{
	if (!node)
		return -ENOENT;
	if (fb_is_ghost(node))
		return fb_ghost_attr(&fs->events, node, out);
	return fb_nodes_get_attr(&fs->nodes, node, out);
}

static int sync_lookup(struct fb_events *ev, uint64_t parent, const char *name,
                       struct fsb_entry *out);

/* Whether `name` in `parent` is, on the server now, still `node`. */
static int still_there(struct fb_events *ev, uint64_t parent, const char *name, uint64_t node)
{
	struct fsb_entry e;

	return sync_lookup(ev, parent, name, &e) == 0 && e.node == node;
}

static int replay_one(struct fb_events *ev, struct fb_rev *r, const struct fb_rev *to)
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
		if (have_known && S_ISREG(known.mode) && known.mode == r->attr.mode &&
		    known.uid == r->attr.uid && known.gid == r->attr.gid &&
		    fb_nodes_writers(&fs->nodes, child) == 0)
			how = ATTRIB_TOUCH;
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
		return replay_one(ev, from, to);
	if (!from_known && !to_known)
		return REPLAY_SKIP;
	if (to_known) {
		to->kind = FSB_EV_CREATED;
		rc = replay_one(ev, to, NULL);
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
	rc = replay_one(ev, half, NULL);
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

/* Handle r, and its RENAMED_TO partner when r is a RENAMED_FROM (then the
 * partner is consumed and *consumed set). */
static void rescan(struct fb_events *ev);

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

static void handle_event(struct fb_events *ev, struct fb_rev *r, struct fb_rev *next,
                         int *consumed)
{
	struct fb_rev *to = NULL;
	int rc;

	*consumed = 0;
	if (r->kind == FSB_EV_RENAMED_FROM && next && next->kind == FSB_EV_RENAMED_TO &&
	    next->cookie == r->cookie) {
		to = next;
		*consumed = 1;
	}
	if (r->flags & FSB_EVF_ECHO) {
		atomic_fetch_add(&ev->echoes, 1 + (uint64_t)*consumed);
		return;
	}
	if (r->kind == FSB_EV_RESCAN) {
		rescan(ev);
		return;
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
			rc = replay_one(ev, r, NULL);
		account(ev, rc);
		note_attrs(ev, r, 1);
		if (rc == REPLAY_DONE)
			return;
	} else {
		atomic_fetch_add(&ev->invalidated, 1);
		note_attrs(ev, r, 1);
	}
	invalidate_path(ev, r);
	if (to)
		invalidate_path(ev, to);
}

/* ---- recovery after lost events --------------------------------------- */

struct known_name {
	uint64_t parent;
	uint64_t child;
	char *path;
	size_t depth;
};

struct name_snap {
	struct fb_dents *dents;
	struct known_name *v;
	size_t n, cap;
};

static void snap_one(void *arg, uint64_t parent, const char *name, size_t len, uint64_t child)
{
	struct name_snap *sn = arg;

	(void)name;
	(void)len;
	if (sn->n == sn->cap) {
		size_t cap = sn->cap ? sn->cap * 2 : 256;
		void *v = realloc(sn->v, cap * sizeof(*sn->v));
		if (!v)
			return;
		sn->v = v;
		sn->cap = cap;
	}
	sn->v[sn->n].parent = parent;
	sn->v[sn->n].child = child;
	sn->v[sn->n].path = NULL;
	sn->n++;
}

static int deeper_first(const void *a, const void *b)
{
	const struct known_name *x = a, *y = b;

	return x->depth < y->depth ? 1 : x->depth > y->depth ? -1 : 0;
}

/* One request from the event thread, waited for. The call lives on this
 * thread's stack, so wait for its release, not just its answer. */
struct sync_call {
	struct fb_call call;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int released;
	int err;
	struct fsb_entry entry;
};

static void sync_done(struct fb_call *call, const struct fsb_msg *rep, int err)
{
	struct sync_call *sc = (struct sync_call *)call;

	if (err < 0)
		sc->err = err;
	else if (rep->status != FSB_OK)
		sc->err = -fsb_status_to_errno((int)rep->status);
	else
		sc->entry = rep->u.entry;
}

static void sync_release(struct fb_call *call)
{
	struct sync_call *sc = (struct sync_call *)call;

	pthread_mutex_lock(&sc->lock);
	sc->released = 1;
	pthread_cond_signal(&sc->cond);
	pthread_mutex_unlock(&sc->lock);
}

/* LOOKUP `name` in `parent` on the server; the reference it takes is
 * given back at once. 0 with *out filled, or -errno. */
static int sync_lookup(struct fb_events *ev, uint64_t parent, const char *name,
                       struct fsb_entry *out)
{
	struct sync_call sc;
	struct fsb_msg m;
	int err;

	memset(&sc, 0, sizeof(sc));
	pthread_mutex_init(&sc.lock, NULL);
	pthread_cond_init(&sc.cond, NULL);
	sc.call.cb = sync_done;
	sc.call.release = sync_release;
	memset(&m, 0, sizeof(m));
	m.op = FSB_OP_LOOKUP;
	m.u.name.parent = parent;
	m.u.name.name.ptr = name;
	m.u.name.name.len = (uint32_t)strlen(name);
	err = fb_conn_submit(ev->fs->conn, &sc.call, &m);
	if (err == 0) {
		pthread_mutex_lock(&sc.lock);
		while (!sc.released)
			pthread_cond_wait(&sc.cond, &sc.lock);
		pthread_mutex_unlock(&sc.lock);
		err = sc.err;
		if (!err) {
			*out = sc.entry;
			fb_conn_forget(ev->fs->conn, sc.entry.node, 1);
		}
	}
	pthread_cond_destroy(&sc.cond);
	pthread_mutex_destroy(&sc.lock);
	return err;
}

/* Handle a change found by the rescan as if the server had sent it. */
static void emit(struct fb_events *ev, uint8_t kind, const char *path,
                 const struct fsb_attr *attr, int is_dir, unsigned *count)
{
	size_t len = strlen(path);
	struct fb_rev *r = calloc(1, sizeof(*r) + len + 1);
	int consumed;

	if (!r)
		return;
	r->kind = kind;
	r->flags = is_dir ? FSB_EVF_DIR : 0;
	if (attr) {
		r->attr = *attr;
		r->flags |= FSB_EVF_ATTR;
	}
	r->pathlen = len;
	memcpy(r->path, path, len + 1);
	handle_event(ev, r, NULL, &consumed);
	free(r);
	(*count)++;
}

/*
 * Events were lost (the server's watcher overflowed, or our queue did).
 * Diff what the kernel caches against the server: every name the kernel
 * knows is looked up again, deepest first, and what changed is handled as
 * the event that would have said so (removed, replaced, modified,
 * attributes). Directory listings are invalidated, so names created in the
 * meantime show up at the next listing; watchers get no IN_CREATE for
 * those, since nothing recorded that they are new.
 */
static void rescan(struct fb_events *ev)
{
	struct fb_fs *fs = ev->fs;
	struct name_snap sn = { .dents = &fs->dents };
	char path[FSB_PATH_MAX + 1];
	unsigned changes = 0;
	size_t i;

	atomic_fetch_add(&ev->rescans, 1);
	fb_nodes_mark_all_stale(&fs->nodes);
	fb_dents_each(&fs->dents, snap_one, &sn);
	for (i = 0; i < sn.n; i++) {
		int len = fb_dents_path(&fs->dents, sn.v[i].child, path, sizeof(path));
		size_t k;

		if (len <= 0)
			continue;
		sn.v[i].path = strdup(path);
		for (k = 0, sn.v[i].depth = 1; k < (size_t)len; k++)
			sn.v[i].depth += path[k] == '/';
	}
	qsort(sn.v, sn.n, sizeof(*sn.v), deeper_first);

	for (i = 0; i < sn.n && !fb_conn_is_dead(fs->conn); i++) {
		struct known_name *k = &sn.v[i];
		const char *name;
		struct fsb_attr old;
		struct fsb_entry now;
		int err, had, is_dir;

		if (!k->path || fb_is_ghost(k->parent) || fb_is_ghost(k->child))
			continue;
		name = strrchr(k->path, '/');
		name = name ? name + 1 : k->path;
		had = fb_nodes_get_attr(&fs->nodes, k->child, &old) == 0;
		is_dir = had && S_ISDIR(old.mode);
		err = sync_lookup(ev, k->parent, name, &now);
		if (err == -ENOENT) {
			emit(ev, FSB_EV_REMOVED, k->path, NULL, is_dir, &changes);
		} else if (err == 0 && now.node != k->child) {
			emit(ev, FSB_EV_REMOVED, k->path, NULL, is_dir, &changes);
			emit(ev, FSB_EV_CREATED, k->path, &now.attr, S_ISDIR(now.attr.mode), &changes);
		} else if (err == 0 && had && !S_ISDIR(old.mode) &&
		           (old.size != now.attr.size || old.mtime.sec != now.attr.mtime.sec ||
		            old.mtime.nsec != now.attr.mtime.nsec)) {
			emit(ev, FSB_EV_MODIFIED, k->path, &now.attr, 0, &changes);
		} else if (err == 0 && had &&
		           (old.mode != now.attr.mode || old.uid != now.attr.uid ||
		            old.gid != now.attr.gid)) {
			emit(ev, FSB_EV_ATTRIB, k->path, &now.attr, is_dir, &changes);
		}
	}
	for (i = 0; i < sn.n; i++) {
		if (!fb_is_ghost(sn.v[i].parent))
			fuse_lowlevel_notify_inval_inode(ev->se, sn.v[i].parent, 0, 0);
		free(sn.v[i].path);
	}
	fuse_lowlevel_notify_inval_inode(ev->se, FUSE_ROOT_ID, 0, 0);
	fb_info("change events were lost: rescanned %zu cached names, %u changed", sn.n,
	        changes);
	free(sn.v);
}

/* ---- stats ----------------------------------------------------------------- */

int fb_events_stats_path(char *buf, size_t size, unsigned long long dev)
{
	const char *rt = getenv("XDG_RUNTIME_DIR");
	int n;

	if (rt && *rt)
		n = snprintf(buf, size, "%s/fsbridge/%u:%u.stats", rt, major(dev), minor(dev));
	else if (geteuid() == 0)
		n = snprintf(buf, size, "/run/fsbridge/%u:%u.stats", major(dev), minor(dev));
	else
		n = snprintf(buf, size, "/tmp/fsbridge-%u/%u:%u.stats", (unsigned)geteuid(),
		             major(dev), minor(dev));
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

static void stats_write(struct fb_events *ev)
{
	char tmp[4200];
	FILE *f;
	size_t i;

	if (!ev->stats_path)
		return;
	snprintf(tmp, sizeof(tmp), "%s.tmp", ev->stats_path);
	f = fopen(tmp, "we");
	if (!f)
		return;
	fprintf(f, "mountpoint %s\nevents %s\n", ev->mountpoint, fb_events_mode_name(ev->mode));
	fprintf(f, "frames %llu\nreceived %llu\n", (unsigned long long)atomic_load(&ev->frames),
	        (unsigned long long)atomic_load(&ev->received));
	for (i = 1; i < FSB_EV__COUNT; i++)
		fprintf(f, "received_%s %llu\n", fsb_event_kind_name((unsigned)i),
		        (unsigned long long)atomic_load(&ev->by_kind[i]));
	fprintf(f, "echoes_suppressed %llu\nreplayed %llu\ninvalidated %llu\n",
	        (unsigned long long)atomic_load(&ev->echoes),
	        (unsigned long long)atomic_load(&ev->replayed),
	        (unsigned long long)atomic_load(&ev->invalidated));
	fprintf(f, "skipped_uncached %llu\nreplay_failed %llu\nrescans %llu\nsequence_gaps %llu\n",
	        (unsigned long long)atomic_load(&ev->skipped),
	        (unsigned long long)atomic_load(&ev->failed),
	        (unsigned long long)atomic_load(&ev->rescans),
	        (unsigned long long)atomic_load(&ev->gaps));
	if (fclose(f) == 0 && rename(tmp, ev->stats_path) == 0)
		return;
	unlink(tmp);
}

/* Make the stats file's directory, private to its user. */
static void stats_prepare(struct fb_events *ev)
{
	char path[4096], *slash;
	struct stat st;

	if (stat(ev->mountpoint, &st) < 0 ||
	    fb_events_stats_path(path, sizeof(path), (unsigned long long)st.st_dev) < 0)
		return;
	slash = strrchr(path, '/');
	*slash = '\0';
	if (mkdir(path, 0700) < 0 && errno != EEXIST) {
		fb_warn("cannot create %s for the event counters: %s", path, strerror(errno));
		return;
	}
	*slash = '/';
	ev->stats_path = strdup(path);
	stats_write(ev);
}

/* ---- the event thread ----------------------------------------------------- */

static int stopping(struct fb_events *ev)
{
	int stop;

	pthread_mutex_lock(&ev->lock);
	stop = ev->stop;
	pthread_mutex_unlock(&ev->lock);
	return stop;
}

static void *event_thread(void *arg)
{
	struct fb_events *ev = arg;
	struct fb_rev *batch, *r;
	int overflowed;

	atomic_store(&ev->tid, gettid());
	stats_prepare(ev);

	pthread_mutex_lock(&ev->lock);
	for (;;) {
		while (!ev->head && !ev->overflowed && !ev->stop)
			pthread_cond_wait(&ev->cond, &ev->lock);
		if (ev->stop)
			break;
		batch = ev->head;
		ev->head = ev->tail = NULL;
		ev->queued = 0;
		overflowed = ev->overflowed;
		ev->overflowed = 0;
		pthread_mutex_unlock(&ev->lock);

		if (overflowed)
			rescan(ev);
		/* The mount's root, held only while replaying: an open
		 * descriptor would make a plain umount fail with EBUSY. */
		if (ev->mode == FB_EVENTS_REPLAY) {
			ev->rootfd = open(ev->mountpoint, O_PATH | O_DIRECTORY | O_CLOEXEC);
			if (ev->rootfd < 0)
				fb_warn("cannot open the mount %s to replay events (%s): only "
				        "invalidating", ev->mountpoint, strerror(errno));
		}
		while (batch && !stopping(ev)) {
			int consumed;

			r = batch;
			handle_event(ev, r, r->next, &consumed);
			batch = r->next;
			free(r);
			if (consumed) {
				r = batch;
				batch = r->next;
				free(r);
			}
		}
		while (batch) {
			r = batch->next;
			free(batch);
			batch = r;
		}
		if (ev->rootfd >= 0) {
			close(ev->rootfd);
			ev->rootfd = -1;
		}
		stats_write(ev);
		pthread_mutex_lock(&ev->lock);
	}
	batch = ev->head;
	ev->head = ev->tail = NULL;
	pthread_mutex_unlock(&ev->lock);
	while (batch) {
		r = batch->next;
		free(batch);
		batch = r;
	}
	return NULL;
}

int fb_events_start(struct fb_fs *fs, struct fuse_session *se, const char *mountpoint)
{
	struct fb_events *ev = &fs->events;
	int err;

	ev->fs = fs;
	ev->se = se;
	ev->mountpoint = strdup(mountpoint);
	if (!ev->mountpoint)
		return -ENOMEM;
	if (ev->mode == FB_EVENTS_OFF)
		return 0;
	err = pthread_create(&ev->thread, NULL, event_thread, ev);
	if (err)
		return -err;
	ev->started = 1;
	return 0;
}

void fb_events_stop(struct fb_events *ev)
{
	pthread_mutex_lock(&ev->lock);
	ev->stop = 1;
	pthread_cond_signal(&ev->cond);
	pthread_mutex_unlock(&ev->lock);
}

void fb_events_join(struct fb_events *ev)
{
	fb_events_stop(ev);
	if (ev->started) {
		pthread_join(ev->thread, NULL);
		ev->started = 0;
	}
}

void fb_events_release(struct fb_events *ev)
{
	struct fb_ghost *g;

	fb_events_join(ev);
	if (ev->stats_path) {
		unlink(ev->stats_path);
		free(ev->stats_path);
		ev->stats_path = NULL;
	}
	if (ev->rootfd >= 0)
		close(ev->rootfd);
	ev->rootfd = -1;
	while ((g = ev->ghosts)) {
		ev->ghosts = g->next;
		free(g);
	}
	free(ev->mountpoint);
	ev->mountpoint = NULL;
	pthread_mutex_destroy(&ev->view_lock);
	pthread_cond_destroy(&ev->cond);
	pthread_mutex_destroy(&ev->lock);
}

void fb_events_log_summary(struct fb_events *ev)
{
	unsigned long long n = atomic_load(&ev->received);

	if (n)
		fb_info("change events: %llu received, %llu replayed, %llu invalidated, "
		        "%llu echoes dropped, %llu skipped, %llu failed, %llu rescans",
		        n, (unsigned long long)atomic_load(&ev->replayed),
		        (unsigned long long)atomic_load(&ev->invalidated),
		        (unsigned long long)atomic_load(&ev->echoes),
		        (unsigned long long)atomic_load(&ev->skipped),
		        (unsigned long long)atomic_load(&ev->failed),
		        (unsigned long long)atomic_load(&ev->rescans));
}
