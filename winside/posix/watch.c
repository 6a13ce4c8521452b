/*
 * watch.c - recursive inotify watcher of one export.
 *
 * inotify watches single directories, so every directory of the export
 * gets a watch, and the watcher keeps a tree of them (struct wdir): each
 * knows its parent and its own name, so a path is built by walking up and
 * renaming a directory is one pointer update for its whole subtree.
 *
 * Every watched directory also holds an O_PATH descriptor, opened without
 * following links; the watch is added through /proc/self/fd, so it lands
 * on exactly the inode that was opened, and attributes are read with
 * fstatat relative to it, never along a path from the root.
 *
 * A new directory (created or moved in) is watched first and listed
 * second. What the listing finds is reported as CREATED and remembered
 * (the "seen" set, per watch and name), because a name created between
 * the two steps is both listed and reported by inotify: the later inotify
 * CREATE of a remembered name is dropped. The set is cleared whenever a
 * read finds the inotify queue empty: by then every event that predates
 * the listing has been read.
 *
 * One thread per watch sleeps in poll() on the inotify descriptor and an
 * eventfd that watch_stop signals; nothing runs on a timer.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsb_proto.h"
#include "ws_hash.h"
#include "ws_log.h"
#include "ws_posix.h"

#define WATCH_MASK (IN_CREATE | IN_DELETE | IN_MODIFY | IN_ATTRIB | IN_MOVED_FROM | \
	IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR | IN_EXCL_UNLINK)
#define READ_BUF_SIZE (64u << 10)
/* How long a MOVED_FROM at the end of a read waits for its MOVED_TO. */
#define PAIR_WAIT_MS 5
/* Names remembered from listings before the set is dropped regardless
 * (the queue never ran empty): at worst some CREATED come twice. */
#define SEEN_MAX (1u << 20)

struct wdir {
	struct ws_hlink by_wd;
	struct ws_hlink by_name;        /* (parent, name); unhashed when detached */
	struct ws_hlink by_ident;
	struct wdir *prev;              /* every wdir of the watch */
	struct wdir *next;
	struct wdir *parent;            /* NULL for the root */
	unsigned nchildren;
	int named;                      /* in by_name */
	int wd;
	int fd;                         /* O_PATH */
	struct ws_ident ident;
	uint64_t epoch;                 /* last resync that found it */
	size_t namelen;
	char *name;                     /* "" for the root */
};

struct seen {
	struct ws_hlink link;
	int wd;
	size_t namelen;
	char name[];
};

/* Offsets of a change's strings in the arena, which may move as it grows. */
struct stroff {
	size_t path;
	size_t name;
};

struct ws_watch {
	struct ws_backend *be;
	ws_change_fn fn;
	void *ctx;
	int ifd;
	int efd;
	pthread_t thread;
	int stop;                       /* set by watch_stop, atomically */

	struct ws_htab by_wd;
	struct ws_htab by_name;
	struct ws_htab by_ident;
	struct wdir *all;
	struct wdir *root;
	uint64_t epoch;
	struct ws_htab seen;
	uint32_t next_cookie;
	int limit_warned;
	unsigned overflows;

	/* A MOVED_FROM waiting for its MOVED_TO. */
	int have_from;
	int from_wd;
	uint32_t from_cookie;
	uint8_t from_flags;
	char from_name[NAME_MAX + 1];

	/* The batch being built. */
	struct ws_change *ch;
	struct stroff *off;
	size_t n;
	size_t cap;
	char *arena;
	size_t alen;
	size_t acap;
	int lost;                       /* out of memory: send a RESCAN instead */

	char *buf;
};

static int sys_status(int err)
{
	return -fsb_status_from_errno(err);
}

/* ---- the directory tree ------------------------------------------------ */

static struct wdir *find_wd(struct ws_watch *w, int wd)
{
	uint64_t h = ws_hash_u64((uint64_t)(unsigned)wd);
	struct ws_hlink *l;
	struct wdir *d;

	for (l = ws_htab_first(&w->by_wd, h); l; l = ws_htab_next(l, h)) {
		d = WS_CONTAINER_OF(l, struct wdir, by_wd);
		if (d->wd == wd)
			return d;
	}
	return NULL;
}

static struct wdir *find_ident(struct ws_watch *w, const struct ws_ident *id)
{
	uint64_t h = ws__hash_ident(id);
	struct ws_hlink *l;
	struct wdir *d;

	for (l = ws_htab_first(&w->by_ident, h); l; l = ws_htab_next(l, h)) {
		d = WS_CONTAINER_OF(l, struct wdir, by_ident);
		if (ws__ident_eq(&d->ident, id))
			return d;
	}
	return NULL;
}

static uint64_t name_key(const struct wdir *parent, const char *name, size_t len)
{
	return ws__hash_bytes((uint64_t)(uintptr_t)parent, name, len);
}

static struct wdir *find_child(struct ws_watch *w, const struct wdir *parent, const char *name)
{
	size_t len = strlen(name);
	uint64_t h = name_key(parent, name, len);
	struct ws_hlink *l;
	struct wdir *d;

	for (l = ws_htab_first(&w->by_name, h); l; l = ws_htab_next(l, h)) {
		d = WS_CONTAINER_OF(l, struct wdir, by_name);
		if (d->parent == parent && d->namelen == len && !memcmp(d->name, name, len))
			return d;
	}
	return NULL;
}

static void detach(struct ws_watch *w, struct wdir *d)
{
	if (!d->named)
		return;
	ws_htab_remove(&w->by_name, &d->by_name);
	d->named = 0;
}

/* Give d the place (parent, name); whatever held that place before is
 * detached (it was removed or moved away, and its IN_IGNORED or MOVED
 * event is still to come). 0 or -FSB_ENOMEM. */
static int place(struct ws_watch *w, struct wdir *d, struct wdir *parent, const char *name)
{
	size_t len = strlen(name);
	struct wdir *old;
	char *copy;

	if (d->named && d->parent == parent && d->namelen == len && !memcmp(d->name, name, len))
		return 0;
	copy = malloc(len + 1);
	if (!copy)
		return -FSB_ENOMEM;
	memcpy(copy, name, len + 1);
	old = find_child(w, parent, name);
	if (old && old != d)
		detach(w, old);
	detach(w, d);
	if (d->parent)
		d->parent->nchildren--;
	free(d->name);
	d->name = copy;
	d->namelen = len;
	d->parent = parent;
	if (parent) {
		parent->nchildren++;
		ws_htab_insert(&w->by_name, &d->by_name, name_key(parent, name, len));
		d->named = 1;
	}
	return 0;
}

static void wdir_free(struct ws_watch *w, struct wdir *d)
{
	detach(w, d);
	ws_htab_remove(&w->by_wd, &d->by_wd);
	ws_htab_remove(&w->by_ident, &d->by_ident);
	if (d->prev)
		d->prev->next = d->next;
	else
		w->all = d->next;
	if (d->next)
		d->next->prev = d->prev;
	if (d->parent)
		d->parent->nchildren--;
	if (d == w->root)
		w->root = NULL;
	close(d->fd);
	free(d->name);
	free(d);
}

static int below(const struct wdir *d, const struct wdir *top)
{
	for (; d; d = d->parent)
		if (d == top)
			return 1;
	return 0;
}

/*
 * Forget `top` and every directory below it. With `unwatch`, their
 * watches are removed too (a subtree moved out of the export); the
 * kernel's IN_IGNORED for them then finds nothing. Rare, so a walk over
 * every directory is fine.
 */
static void drop_subtree(struct ws_watch *w, struct wdir *top, int unwatch)
{
	struct wdir *d, *next, **victims;
	size_t n = 0, cap = 16, i;

	if (!top->nchildren) {
		if (unwatch)
			inotify_rm_watch(w->ifd, top->wd);
		wdir_free(w, top);
		return;
	}
	victims = malloc(cap * sizeof(*victims));
	for (d = w->all; d && victims; d = next) {
		next = d->next;
		if (!below(d, top))
			continue;
		if (n == cap) {
			struct wdir **v = realloc(victims, 2 * cap * sizeof(*v));

			if (!v) {
				free(victims);
				victims = NULL;
				break;
			}
			victims = v;
			cap *= 2;
		}
		victims[n++] = d;
	}
	if (!victims) {
		/* Cannot list them: at least make the subtree unreachable. */
		detach(w, top);
		return;
	}
	/* Cut the links inside the subtree, so no victim is freed while
	 * another still points at it; top stays linked to its parent. */
	for (i = 0; i < n; i++) {
		if (unwatch)
			inotify_rm_watch(w->ifd, victims[i]->wd);
		if (victims[i] != top) {
			detach(w, victims[i]);
			victims[i]->parent = NULL;
		}
	}
	for (i = 0; i < n; i++)
		wdir_free(w, victims[i]);
	free(victims);
}

/* ---- the batch ----------------------------------------------------------- */

static size_t dir_path_len(const struct wdir *d)
{
	size_t n = 0;

	for (; d && d->parent; d = d->parent)
		n += d->namelen + (d->parent->parent ? 1 : 0);
	return n;
}

static void dir_path_write(const struct wdir *d, char *end)
{
	for (; d && d->parent; d = d->parent) {
		end -= d->namelen;
		memcpy(end, d->name, d->namelen);
		if (d->parent->parent)
			*--end = '/';
	}
}

static int batch_reserve(struct ws_watch *w, size_t bytes)
{
	if (w->n == w->cap) {
		size_t cap = w->cap ? 2 * w->cap : 256;
		struct ws_change *ch = realloc(w->ch, cap * sizeof(*ch));
		struct stroff *off;

		if (!ch)
			return -1;
		w->ch = ch;
		off = realloc(w->off, cap * sizeof(*off));
		if (!off)
			return -1;
		w->off = off;
		w->cap = cap;
	}
	if (w->alen + bytes > w->acap) {
		size_t cap = w->acap ? w->acap : 16384;
		char *a;

		while (cap < w->alen + bytes)
			cap *= 2;
		a = realloc(w->arena, cap);
		if (!a)
			return -1;
		w->arena = a;
		w->acap = cap;
	}
	return 0;
}

/*
 * Append a change of `name` in `d` ("" for d itself). With `want_stat`
 * the object's attributes are read now, relative to d's descriptor.
 */
static void emit(struct ws_watch *w, uint8_t kind, uint8_t flags, uint32_t cookie,
                 struct wdir *d, const char *name, int want_stat)
{
	size_t dlen = dir_path_len(d), nlen = strlen(name), total, at;
	struct ws_change *c;
	struct stat st;
	struct ws_bstat bs;
	int rc;

	total = dlen + (dlen && nlen ? 1 : 0) + nlen;
	/* A RENAMED_TO always directly follows its RENAMED_FROM; when one
	 * half cannot be named, what is left is a removal or a creation. */
	if (kind == FSB_EV_RENAMED_TO) {
		struct ws_change *prev = w->n ? &w->ch[w->n - 1] : NULL;

		if (!prev || prev->kind != FSB_EV_RENAMED_FROM || prev->cookie != cookie) {
			kind = FSB_EV_CREATED;
			cookie = 0;
		} else if (total > FSB_PATH_MAX) {
			prev->kind = FSB_EV_REMOVED;
			prev->cookie = 0;
		}
	}
	if (total > FSB_PATH_MAX) {
		/* Too deep to name on the wire: the client has to look at
		 * the directory itself. */
		ws_log(WS_LOG_WARN, "a change %zu bytes deep cannot be named in an event "
		       "(limit %u): reporting a RESCAN of the whole export", total, FSB_PATH_MAX);
		kind = FSB_EV_RESCAN;
		flags = FSB_EVF_DIR;
		cookie = 0;
		d = w->root;
		name = "";
		dlen = nlen = total = 0;
		want_stat = 0;
	}
	if (w->lost || batch_reserve(w, total + 1)) {
		w->lost = 1;
		return;
	}
	at = w->alen;
	dir_path_write(d, w->arena + at + dlen);
	if (dlen && nlen)
		w->arena[at + dlen] = '/';
	memcpy(w->arena + at + total - nlen, name, nlen);
	w->arena[at + total] = '\0';
	w->alen += total + 1;

	c = &w->ch[w->n];
	memset(c, 0, sizeof(*c));
	c->kind = kind;
	c->flags = flags & FSB_EVF_DIR;
	c->cookie = cookie;
	c->pathlen = total;
	c->dir = d->ident;
	w->off[w->n].path = at;
	w->off[w->n].name = at + total - nlen;
	if (want_stat) {
		rc = nlen ? fstatat(d->fd, name, &st, AT_SYMLINK_NOFOLLOW)
		          : fstatat(d->fd, "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW);
		if (rc == 0) {
			ws__posix_fill_bstat(&st, &bs);
			c->flags |= FSB_EVF_ATTR;
			c->obj = bs.ident;
			c->attr = bs.attr;
		}
	}
	w->n++;
}

static void batch_flush(struct ws_watch *w)
{
	size_t i;

	if (w->lost) {
		ws_log(WS_LOG_ERROR, "watcher: out of memory; reporting a RESCAN of the whole export");
		w->n = 0;
		w->alen = 0;
		w->lost = 0;
		emit(w, FSB_EV_RESCAN, FSB_EVF_DIR, 0, w->root, "", 0);
	}
	if (!w->n)
		return;
	for (i = 0; i < w->n; i++) {
		w->ch[i].path = w->arena + w->off[i].path;
		w->ch[i].name = w->arena + w->off[i].name;
	}
	w->fn(w->ctx, w->ch, w->n);
	w->n = 0;
	w->alen = 0;
}

/* ---- names reported by listings ----------------------------------------- */

static void seen_add(struct ws_watch *w, int wd, const char *name)
{
	size_t len = strlen(name);
	struct seen *e;

	if (w->seen.count >= SEEN_MAX)
		return;
	e = malloc(sizeof(*e) + len + 1);
	if (!e)
		return;
	e->wd = wd;
	e->namelen = len;
	memcpy(e->name, name, len + 1);
	ws_htab_insert(&w->seen, &e->link, ws__hash_bytes((uint64_t)(unsigned)wd, name, len));
}

/* 1 if (wd, name) was reported by a listing (and forget it). */
static int seen_take(struct ws_watch *w, int wd, const char *name)
{
	size_t len;
	uint64_t h;
	struct ws_hlink *l;
	struct seen *e;

	if (!w->seen.count)
		return 0;
	len = strlen(name);
	h = ws__hash_bytes((uint64_t)(unsigned)wd, name, len);
	for (l = ws_htab_first(&w->seen, h); l; l = ws_htab_next(l, h)) {
		e = WS_CONTAINER_OF(l, struct seen, link);
		if (e->wd == wd && e->namelen == len && !memcmp(e->name, name, len)) {
			ws_htab_remove(&w->seen, l);
			free(e);
			return 1;
		}
	}
	return 0;
}

static void free_link(struct ws_hlink *l, void *arg)
{
	(void)arg;
	free(WS_CONTAINER_OF(l, struct seen, link));
}

static void seen_clear(struct ws_watch *w)
{
	if (w->seen.count)
		ws_htab_drain(&w->seen, free_link, NULL);
}

/* ---- adding watches ------------------------------------------------------ */

static void limit_reached(struct ws_watch *w, struct wdir *parent, const char *name, int emit_rescan)
{
	char limit[32] = "?", *path;
	size_t dlen;
	FILE *f;

	if (emit_rescan)
		emit(w, FSB_EV_RESCAN, FSB_EVF_DIR, 0, parent, name, 0);
	if (w->limit_warned)
		return;
	w->limit_warned = 1;
	dlen = dir_path_len(parent);
	path = malloc(dlen + strlen(name) + 2);
	if (path) {
		dir_path_write(parent, path + dlen);
		snprintf(path + dlen, strlen(name) + 2, "%s%s", dlen ? "/" : "", name);
	}
	f = fopen("/proc/sys/fs/inotify/max_user_watches", "re");
	if (f) {
		if (!fgets(limit, sizeof(limit), f))
			snprintf(limit, sizeof(limit), "?");
		limit[strcspn(limit, "\n")] = '\0';
		fclose(f);
	}
	ws_log(WS_LOG_WARN, "the inotify watch limit is reached (fs.inotify.max_user_watches = %s, "
	       "or user.max_inotify_watches in a user namespace): changes under \"%s\" and other "
	       "new directories are not reported; raise it, e.g. "
	       "sysctl fs.inotify.max_user_watches=1048576", limit,
	       path && path[0] ? path : "(the export root)");
	free(path);
}

/*
 * Watch directory `name` in `parent` (the export root when parent is NULL)
 * and return its wdir; *known says whether it was watched already (the
 * same inode seen before, possibly elsewhere: it is moved to this place).
 * NULL with *err set when it cannot be watched.
 */
static struct wdir *watch_dir(struct ws_watch *w, struct wdir *parent, const char *name,
                              int *known, int *err)
{
	char proc[32];
	struct ws_bstat bs;
	struct stat st;
	struct wdir *d;
	int fd, wd;

	*known = 0;
	if (parent)
		fd = openat(parent->fd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	else
		fd = fcntl(ws__posix_root_fd(w->be), F_DUPFD_CLOEXEC, 0);
	if (fd < 0) {
		*err = errno;
		return NULL;
	}
	if (fstat(fd, &st) < 0) {
		*err = errno;
		goto out_close;
	}
	/* The magic link reaches exactly the inode opened above, so no
	 * IN_DONT_FOLLOW (which would watch the link in /proc). */
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	wd = inotify_add_watch(w->ifd, proc, WATCH_MASK);
	if (wd < 0) {
		*err = errno;
		goto out_close;
	}
	d = find_wd(w, wd);
	if (d) {
		close(fd);
		*known = 1;
	} else {
		d = calloc(1, sizeof(*d));
		if (!d) {
			inotify_rm_watch(w->ifd, wd);
			*err = ENOMEM;
			goto out_close;
		}
		d->wd = wd;
		d->fd = fd;
		ws__posix_fill_bstat(&st, &bs);
		d->ident = bs.ident;
		d->next = w->all;
		if (w->all)
			w->all->prev = d;
		w->all = d;
		ws_htab_insert(&w->by_wd, &d->by_wd, ws_hash_u64((uint64_t)(unsigned)wd));
		ws_htab_insert(&w->by_ident, &d->by_ident, ws__hash_ident(&d->ident));
	}
	d->epoch = w->epoch;
	if (place(w, d, parent, parent ? name : "")) {
		*err = ENOMEM;
		if (*known)
			return d;       /* keeps its old place */
		/* Nameless, it would report its changes as the root's. */
		inotify_rm_watch(w->ifd, wd);
		wdir_free(w, d);
		return NULL;
	}
	return d;

out_close:
	close(fd);
	return NULL;
}

struct scanq {
	struct wdir **v;
	size_t head;
	size_t n;
	size_t cap;
};

static int scanq_push(struct scanq *q, struct wdir *d)
{
	if (q->n == q->cap) {
		size_t cap = q->cap ? 2 * q->cap : 64;
		struct wdir **v = realloc(q->v, cap * sizeof(*v));

		if (!v)
			return -1;
		q->v = v;
		q->cap = cap;
	}
	q->v[q->n++] = d;
	return 0;
}

static int entry_is_dir(int dfd, const struct dirent *de)
{
	struct stat st;

	if (de->d_type != DT_UNKNOWN)
		return de->d_type == DT_DIR;
	return fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
}

/*
 * Watch everything below `top` (breadth first, one open listing at a
 * time). With `report`, each entry found is reported as CREATED and
 * remembered in the seen set, and directories already watched are not
 * entered again; without, nothing is reported (initial setup, resync).
 */
static void scan(struct ws_watch *w, struct wdir *top, int report)
{
	struct scanq q = { 0 };
	struct dirent *de;
	struct wdir *d, *child;
	DIR *dp;
	int fd, known, err, isdir;

	if (scanq_push(&q, top))
		goto out_lost;
	while (q.head < q.n) {
		d = q.v[q.head++];
		fd = openat(d->fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		dp = fd >= 0 ? fdopendir(fd) : NULL;
		if (!dp) {
			if (fd >= 0)
				close(fd);
			continue;       /* gone or unreadable: its events will tell */
		}
		while ((de = readdir(dp))) {
			if (de->d_name[0] == '.' && (!de->d_name[1] ||
			    (de->d_name[1] == '.' && !de->d_name[2])))
				continue;
			isdir = entry_is_dir(dirfd(dp), de);
			if (report) {
				emit(w, FSB_EV_CREATED, isdir ? FSB_EVF_DIR : 0, 0, d, de->d_name, 1);
				seen_add(w, d->wd, de->d_name);
			}
			if (!isdir)
				continue;
			child = watch_dir(w, d, de->d_name, &known, &err);
			if (!child) {
				if (err == ENOSPC)
					limit_reached(w, d, de->d_name, report);
				continue;
			}
			if (known && report)
				continue;
			if (scanq_push(&q, child)) {
				closedir(dp);
				goto out_lost;
			}
		}
		closedir(dp);
	}
	free(q.v);
	return;

out_lost:
	free(q.v);
	if (report)
		w->lost = 1;
	ws_log(WS_LOG_ERROR, "watcher: out of memory while adding watches; some directories "
	       "are not watched");
}

/* A directory appeared at (parent, name): watch it and report what it
 * already holds. */
static void new_dir(struct ws_watch *w, struct wdir *parent, const char *name)
{
	struct wdir *d;
	int known, err;

	d = watch_dir(w, parent, name, &known, &err);
	if (!d) {
		if (err == ENOSPC)
			limit_reached(w, parent, name, 1);
		return;         /* ENOENT, ENOTDIR: already gone again */
	}
	if (!known)
		scan(w, d, 1);
}

/* Watches of directories that a resync did not find again. */
static void drop_stale(struct ws_watch *w)
{
	struct wdir *d;

	for (;;) {
		for (d = w->all; d; d = d->next)
			if (d->epoch != w->epoch && d != w->root)
				break;
		if (!d)
			return;
		while (d->parent && d->parent->epoch != w->epoch && d->parent != w->root)
			d = d->parent;
		drop_subtree(w, d, 1);
	}
}

/* Events were lost: tell everyone to rescan, and re-learn the tree
 * (directories created, moved or removed unseen). */
static void overflow(struct ws_watch *w)
{
	/* Once per watch as a warning: a flood overflows again and again. */
	ws_log(w->overflows++ ? WS_LOG_DEBUG : WS_LOG_WARN, "the inotify queue overflowed "
	       "(fs.inotify.max_queued_events); clients are told to rescan the export");
	emit(w, FSB_EV_RESCAN, FSB_EVF_DIR, 0, w->root, "", 0);
	seen_clear(w);
	w->epoch++;
	w->root->epoch = w->epoch;
	scan(w, w->root, 0);
	drop_stale(w);
}

/* ---- events -------------------------------------------------------------- */

static uint32_t new_cookie(struct ws_watch *w)
{
	if (++w->next_cookie == 0)
		w->next_cookie = 1;
	return w->next_cookie;
}

/* The pending MOVED_FROM got no MOVED_TO: its object left the export. */
static void flush_from(struct ws_watch *w)
{
	struct wdir *d, *gone;

	if (!w->have_from)
		return;
	w->have_from = 0;
	d = find_wd(w, w->from_wd);
	if (!d)
		return;
	emit(w, FSB_EV_REMOVED, w->from_flags, 0, d, w->from_name, 0);
	if ((w->from_flags & FSB_EVF_DIR) && (gone = find_child(w, d, w->from_name)))
		drop_subtree(w, gone, 1);
}

static void moved_in(struct ws_watch *w, struct wdir *d, const char *name, uint8_t flags)
{
	emit(w, FSB_EV_CREATED, flags, 0, d, name, 1);
	if (flags & FSB_EVF_DIR)
		new_dir(w, d, name);
}

static void renamed(struct ws_watch *w, struct wdir *to, const char *name, uint8_t flags)
{
	struct wdir *from = find_wd(w, w->from_wd), *moved;
	const struct ws_change *last;
	uint32_t cookie;
	int known, err;

	w->have_from = 0;
	if (!from) {
		moved_in(w, to, name, flags);
		return;
	}
	if (seen_take(w, to->wd, name)) {
		/* A listing already reported the new name as CREATED. */
		emit(w, FSB_EV_REMOVED, flags, 0, from, w->from_name, 0);
		return;
	}
	cookie = new_cookie(w);
	emit(w, FSB_EV_RENAMED_FROM, flags, cookie, from, w->from_name, 0);
	emit(w, FSB_EV_RENAMED_TO, flags, cookie, to, name, 1);
	if (!(flags & FSB_EVF_DIR))
		return;
	/* Which directory moved is best told by what is at the new name
	 * now: with RENAME_EXCHANGE the old name holds the other one. */
	last = w->n && !w->lost ? &w->ch[w->n - 1] : NULL;
	if (last && last->kind == FSB_EV_RENAMED_TO && (last->flags & FSB_EVF_ATTR))
		moved = find_ident(w, &last->obj);
	else
		moved = find_child(w, from, w->from_name);
	if (moved) {
		if (place(w, moved, to, name))
			detach(w, moved);
	} else if ((moved = watch_dir(w, to, name, &known, &err)) && !known) {
		/* Not watched before (the limit, most likely): watch it
		 * now; the rename already told the client what is in it. */
		scan(w, moved, 0);
	}
}

static void handle(struct ws_watch *w, const struct inotify_event *ev)
{
	uint8_t flags = (ev->mask & IN_ISDIR) ? FSB_EVF_DIR : 0;
	struct wdir *d;
	const char *name;

	if (ev->mask & IN_Q_OVERFLOW) {
		flush_from(w);
		overflow(w);
		return;
	}
	d = find_wd(w, ev->wd);
	if (w->have_from && !((ev->mask & IN_MOVED_TO) && ev->cookie == w->from_cookie && d))
		flush_from(w);
	if (!d)
		return;
	if (ev->mask & IN_IGNORED) {
		if (d == w->root) {
			ws_log(WS_LOG_WARN, "the export directory was removed or unmounted; "
			       "no further changes will be reported");
			return;
		}
		drop_subtree(w, d, 0);
		return;
	}
	if (!ev->len || !ev->name[0]) {
		/* About the watched directory itself: its parent's watch
		 * reports the same change by name, except for the root. */
		if (ev->mask & IN_UNMOUNT)
			emit(w, FSB_EV_RESCAN, FSB_EVF_DIR, 0, d, "", 0);
		else if (d != w->root)
			return;
		else if (ev->mask & IN_ATTRIB)
			emit(w, FSB_EV_ATTRIB, FSB_EVF_DIR, 0, d, "", 1);
		else if (ev->mask & IN_DELETE_SELF)
			emit(w, FSB_EV_REMOVED, FSB_EVF_DIR, 0, d, "", 0);
		return;
	}
	name = ev->name;
	if (ev->mask & IN_CREATE) {
		if (seen_take(w, d->wd, name))
			return;
		emit(w, FSB_EV_CREATED, flags, 0, d, name, 1);
		if (flags & FSB_EVF_DIR)
			new_dir(w, d, name);
	} else if (ev->mask & IN_MODIFY) {
		emit(w, FSB_EV_MODIFIED, flags, 0, d, name, 1);
	} else if (ev->mask & IN_ATTRIB) {
		emit(w, FSB_EV_ATTRIB, flags, 0, d, name, 1);
	} else if (ev->mask & IN_DELETE) {
		seen_take(w, d->wd, name);
		emit(w, FSB_EV_REMOVED, flags, 0, d, name, 0);
	} else if (ev->mask & IN_MOVED_FROM) {
		seen_take(w, d->wd, name);
		w->have_from = 1;
		w->from_wd = d->wd;
		w->from_cookie = ev->cookie;
		w->from_flags = flags;
		snprintf(w->from_name, sizeof(w->from_name), "%s", name);
	} else if (ev->mask & IN_MOVED_TO) {
		if (w->have_from)
			renamed(w, d, name, flags);
		else if (!seen_take(w, d->wd, name))
			moved_in(w, d, name, flags);
	}
}

/* Read until the queue is empty, one batch per read. */
static void drain(struct ws_watch *w)
{
	struct pollfd p = { .fd = w->ifd, .events = POLLIN };
	const struct inotify_event *ev;
	ssize_t n;
	size_t at;

	/* A flood may never leave the queue empty: look for a stop
	 * request between reads too. */
	while (!__atomic_load_n(&w->stop, __ATOMIC_ACQUIRE)) {
		n = read(w->ifd, w->buf, READ_BUF_SIZE);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				ws_log(WS_LOG_ERROR, "watcher: read: %s", strerror(errno));
			flush_from(w);
			batch_flush(w);
			/* Empty: every event older than the listings so
			 * far has been seen. */
			seen_clear(w);
			return;
		}
		for (at = 0; at + sizeof(*ev) <= (size_t)n; at += sizeof(*ev) + ev->len) {
			ev = (const struct inotify_event *)(const void *)(w->buf + at);
			handle(w, ev);
		}
		if (w->have_from) {
			/* A rename's two halves are queued together; if the
			 * second has not been read yet it is about to be. */
			if (poll(&p, 1, PAIR_WAIT_MS) > 0)
				continue;
			flush_from(w);
		}
		batch_flush(w);
	}
}

static void *watch_main(void *arg)
{
	struct ws_watch *w = arg;
	struct pollfd p[2] = {
		{ .fd = w->ifd, .events = POLLIN },
		{ .fd = w->efd, .events = POLLIN },
	};

	for (;;) {
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			ws_log(WS_LOG_ERROR, "watcher: poll: %s", strerror(errno));
			break;
		}
		if (p[1].revents)
			break;
		if (p[0].revents)
			drain(w);
	}
	return NULL;
}

/* ---- start and stop ------------------------------------------------------ */

static void drain_wdir(struct ws_hlink *l, void *arg)
{
	struct wdir *d = WS_CONTAINER_OF(l, struct wdir, by_wd);

	(void)arg;
	close(d->fd);
	free(d->name);
	free(d);
}

static void watch_free(struct ws_watch *w)
{
	seen_clear(w);
	ws_htab_drain(&w->by_wd, drain_wdir, NULL);
	ws_htab_release(&w->by_wd);
	ws_htab_release(&w->by_name);
	ws_htab_release(&w->by_ident);
	ws_htab_release(&w->seen);
	if (w->ifd >= 0)
		close(w->ifd);
	if (w->efd >= 0)
		close(w->efd);
	free(w->ch);
	free(w->off);
	free(w->arena);
	free(w->buf);
	free(w);
}

int ws__posix_watch_start(struct ws_backend *be, ws_change_fn fn, void *ctx,
                          struct ws_watch **out)
{
	struct ws_watch *w = calloc(1, sizeof(*w));
	int known, err, rc = -FSB_ENOMEM;

	if (!w)
		return -FSB_ENOMEM;
	w->be = be;
	w->fn = fn;
	w->ctx = ctx;
	w->ifd = w->efd = -1;
	if (ws_htab_init(&w->by_wd))
		goto out_free_struct;
	if (ws_htab_init(&w->by_name))
		goto out_wd;
	if (ws_htab_init(&w->by_ident))
		goto out_name;
	if (ws_htab_init(&w->seen)) {
		ws_htab_release(&w->by_ident);
		goto out_name;
	}
	w->buf = malloc(READ_BUF_SIZE);
	if (!w->buf)
		goto out;
	w->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (w->ifd < 0) {
		err = errno;
		ws_log(WS_LOG_WARN, "inotify_init1: %s%s", strerror(err), err == EMFILE ?
		       " (fs.inotify.max_user_instances is reached)" : "");
		rc = sys_status(err);
		goto out;
	}
	w->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (w->efd < 0) {
		rc = sys_status(errno);
		goto out;
	}
	w->root = watch_dir(w, NULL, "", &known, &err);
	if (!w->root) {
		if (err == ENOSPC)
			limit_reached(w, NULL, "", 0);
		rc = sys_status(err);
		goto out;
	}
	/* Synchronously, so that a client told "events on" misses nothing
	 * made after its HELLO. */
	scan(w, w->root, 0);
	if (pthread_create(&w->thread, NULL, watch_main, w)) {
		rc = -FSB_EAGAIN;
		goto out;
	}
	*out = w;
	return 0;

out:
	watch_free(w);
	return rc;
out_name:
	ws_htab_release(&w->by_name);
out_wd:
	ws_htab_release(&w->by_wd);
out_free_struct:
	free(w);
	return rc;
}

void ws__posix_watch_stop(struct ws_backend *be, struct ws_watch *w)
{
	uint64_t one = 1;

	(void)be;
	__atomic_store_n(&w->stop, 1, __ATOMIC_RELEASE);
	if (write(w->efd, &one, sizeof(one)) != (ssize_t)sizeof(one))
		ws_log(WS_LOG_ERROR, "watcher: cannot wake the watcher thread: %s", strerror(errno));
	pthread_join(w->thread, NULL);
	watch_free(w);
}
