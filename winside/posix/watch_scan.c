/*
 * watch_scan.c - adding watches: one directory (ws__watch_dir), every
 * directory below one (ws__watch_scan), a directory that appeared, and
 * the whole tree again after the inotify queue overflowed.
 *
 * A new directory (created or moved in) is watched first and listed
 * second. What the listing finds is reported as CREATED and remembered
 * (the "seen" set, per watch and name), because a name created between
 * the two steps is both listed and reported by inotify: the later inotify
 * CREATE of a remembered name is dropped. The set is cleared whenever a
 * read finds the inotify queue empty: by then every event that predates
 * the listing has been read.
 *
 * Calls watch_poll.c (what the watch limit leaves out), watch_batch.c (what
 * a listing reports) and watch_tree.c.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsb_proto.h"
#include "watch_int.h"
#include "ws_hash.h"
#include "ws_log.h"
#include "ws_posix.h"

/* IN_CLOSE_WRITE only tells a touch from a utimensat (watch.c); closes
 * after reading are not asked for. */
#define WATCH_MASK (IN_CREATE | IN_DELETE | IN_MODIFY | IN_ATTRIB | IN_MOVED_FROM | \
	IN_MOVED_TO | IN_CLOSE_WRITE | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR | IN_EXCL_UNLINK)
/* Names remembered from listings before the set is dropped regardless
 * (the queue never ran empty): at worst some CREATED come twice. */
#define SEEN_MAX (1u << 20)

struct seen {
	struct ws_hlink link;
	int wd;
	size_t namelen;
	char name[];
};

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
int ws__watch_seen_take(struct ws_watch *w, int wd, const char *name)
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

void ws__watch_seen_clear(struct ws_watch *w)
{
	if (w->seen.count)
		ws_htab_drain(&w->seen, free_link, NULL);
}

/* ---- adding watches ------------------------------------------------------ */

void ws__watch_limit_reached(struct ws_watch *w, struct wdir *parent, const char *name,
                             int emit_rescan)
{
	char limit[32] = "?", *path;
	size_t dlen;
	FILE *f;

	if (emit_rescan)
		ws__watch_emit(w, FSB_EV_RESCAN, FSB_EVF_DIR, 0, parent, name, 0);
	if (parent)
		ws__watch_poll_add(w, parent, name);
	if (w->limit_warned)
		return;
	w->limit_warned = 1;
	dlen = ws__watch_dir_path_len(parent);
	path = malloc(dlen + strlen(name) + 2);
	if (path) {
		ws__watch_dir_path_write(parent, path + dlen);
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
	       "or user.max_inotify_watches in a user namespace): \"%s\" and the other directories "
	       "left unwatched are walked every %u s instead, and their changes reported as "
	       "rescans; raise the limit, e.g. sysctl fs.inotify.max_user_watches=1048576", limit,
	       path && path[0] ? path : "(the export root)", WS_WATCH_POLL_MS / 1000);
	free(path);
}

#ifndef AT_HANDLE_FID
#define AT_HANDLE_FID 0x200
#endif

/* fd's file handle, encoded as fanotify encodes the ones it reports (a
 * FID, which needs no export support; before Linux 6.5 the plain handle,
 * the same bytes on every file system that can export): 0 or -1 with
 * errno. */
static int handle_of(int fd, struct wfh *out)
{
	union {
		struct file_handle fh;
		char buf[sizeof(struct file_handle) + WS_WATCH_FH_MAX];
	} u;
	int mnt, r;

	u.fh.handle_bytes = WS_WATCH_FH_MAX;
	r = name_to_handle_at(fd, "", &u.fh, &mnt, AT_EMPTY_PATH | AT_HANDLE_FID);
	if (r < 0 && errno == EINVAL) {
		u.fh.handle_bytes = WS_WATCH_FH_MAX;
		r = name_to_handle_at(fd, "", &u.fh, &mnt, AT_EMPTY_PATH);
	}
	if (r < 0)
		return -1;
	out->type = u.fh.handle_type;
	out->len = u.fh.handle_bytes;
	memcpy(out->bytes, u.fh.f_handle, out->len);
	return 0;
}

/*
 * Watch directory `name` in `parent` (the export root when parent is NULL)
 * and return its wdir; *known says whether it was watched already (the
 * same inode seen before, possibly elsewhere: it is moved to this place).
 * NULL with *err set when it cannot be watched.
 */
struct wdir *ws__watch_dir(struct ws_watch *w, struct wdir *parent, const char *name,
			   int *known, int *err)
{
	char proc[32];
	struct ws_bstat bs;
	struct wfh fh;
	struct stat st;
	struct wdir *d;
	int fd, wd;

	*known = 0;
	if (parent) {
		fd = ws__watch_dir_fd(w, parent);
		if (fd < 0) {
			*err = -fd;
			return NULL;
		}
		fd = openat(fd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	} else {
		fd = fcntl(ws__posix_root_fd(w->be), F_DUPFD_CLOEXEC, 0);
	}
	if (fd < 0) {
		*err = errno;
		return NULL;
	}
	if (fstat(fd, &st) < 0) {
		*err = errno;
		goto out_close;
	}
	if (w->fan) {
		/* Nothing to add: the file system's mark reports it. */
		if (handle_of(fd, &fh) < 0) {
			*err = errno;
			goto out_close;
		}
		d = ws__watch_find_fh(w, fh.type, fh.bytes, fh.len);
		if (d) {
			wd = d->wd;
		} else {
			if (++w->next_wd <= 0)
				w->next_wd = 1;
			wd = w->next_wd;
		}
	} else {
		/* The magic link reaches exactly the inode opened above, so
		 * no IN_DONT_FOLLOW (which would watch the link in /proc). */
		snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
		wd = inotify_add_watch(w->ifd, proc, WATCH_MASK);
		if (wd < 0) {
			*err = errno;
			goto out_close;
		}
		d = ws__watch_find_wd(w, wd);
	}
	close(fd);
	if (d) {
		*known = 1;
	} else {
		d = calloc(1, sizeof(*d) + (w->fan ? fh.len : 0));
		if (!d) {
			if (!w->fan)
				inotify_rm_watch(w->ifd, wd);
			*err = ENOMEM;
			return NULL;
		}
		d->wd = wd;
		ws__posix_fill_bstat(&st, &bs);
		d->ident = bs.ident;
		d->next = w->all;
		if (w->all)
			w->all->prev = d;
		w->all = d;
		ws_htab_insert(&w->by_wd, &d->by_wd, ws_hash_u64((uint64_t)(unsigned)wd));
		ws_htab_insert(&w->by_ident, &d->by_ident, ws__hash_ident(&d->ident));
		if (w->fan) {
			d->fhtype = fh.type;
			d->fhlen = fh.len;
			memcpy(d->fh, fh.bytes, fh.len);
			ws__watch_fh_insert(w, d);
			w->fh_bytes += fh.len;
		}
	}
	d->epoch = w->epoch;
	if (ws__watch_place(w, d, parent, parent ? name : "")) {
		*err = ENOMEM;
		if (*known)
			return d;       /* keeps its old place */
		/* Nameless, it would report its changes as the root's. */
		if (!w->fan)
			inotify_rm_watch(w->ifd, wd);
		ws__watch_wdir_free(w, d);
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
void ws__watch_scan(struct ws_watch *w, struct wdir *top, int report)
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
		fd = ws__watch_dir_fd(w, d);
		if (fd >= 0)
			fd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
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
				ws__watch_emit(w, FSB_EV_CREATED, isdir ? FSB_EVF_DIR : 0, 0, d,
				               de->d_name, 1);
				if ((report & WS_SCAN_MOVED_WITH) && !w->lost &&
				    w->ch[w->n - 1].kind == FSB_EV_CREATED)
					w->ch[w->n - 1].moved_with = 1;
				seen_add(w, d->wd, de->d_name);
			}
			if (!isdir)
				continue;
			child = ws__watch_dir(w, d, de->d_name, &known, &err);
			if (!child) {
				if (err == ENOSPC)
					ws__watch_limit_reached(w, d, de->d_name, report);
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
void ws__watch_new_dir(struct ws_watch *w, struct wdir *parent, const char *name, int moved_in)
{
	struct wdir *d;
	int known, err;

	d = ws__watch_dir(w, parent, name, &known, &err);
	if (!d) {
		if (err == ENOSPC)
			ws__watch_limit_reached(w, parent, name, 1);
		return;         /* ENOENT, ENOTDIR: already gone again */
	}
	if (!known)
		ws__watch_scan(w, d, moved_in ? WS_SCAN_MOVED_WITH : WS_SCAN_REPORT);
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
		ws__watch_drop_subtree(w, d, 1);
	}
}

/* Events were lost: tell everyone to rescan, and re-learn the tree
 * (directories created, moved or removed unseen). */
void ws__watch_overflow(struct ws_watch *w)
{
	/* Once per watch as a warning: a flood overflows again and again. */
	ws_log(w->overflows++ ? WS_LOG_DEBUG : WS_LOG_WARN, "the %s queue overflowed "
	       "(fs.%s.max_queued_events); clients are told to rescan the export",
	       w->fan ? "fanotify" : "inotify", w->fan ? "fanotify" : "inotify");
	ws__watch_emit(w, FSB_EV_RESCAN, FSB_EVF_DIR, 0, w->root, "", 0);
	ws__watch_seen_clear(w);
	w->epoch++;
	w->root->epoch = w->epoch;
	ws__watch_scan(w, w->root, 0);
	drop_stale(w);
}
