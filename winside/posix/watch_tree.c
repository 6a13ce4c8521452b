/*
 * watch_tree.c - the watcher's tree of watched directories: finding one
 * by watch, by identity or by (parent, name), moving one to a new place,
 * forgetting a subtree, and the path from the export root to each.
 *
 * inotify watches single directories, so every directory of the export
 * gets a watch; fanotify names each event's directory by its file handle
 * and reports the whole file system, so a directory the watcher does not
 * know is outside the export. Either way the watcher keeps a tree of the
 * export's directories (struct wdir): each
 * knows its parent and its own name, so a path is built by walking up and
 * renaming a directory is one pointer update for its whole subtree. A
 * directory's descriptor is opened along that path when needed.
 *
 * Calls nothing of the watcher's other files.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#ifdef SYS_openat2
#include <linux/openat2.h>
#endif

#include "fsb_proto.h"
#include "watch_int.h"
#include "ws_hash.h"
#include "ws_posix.h"

struct wdir *ws__watch_find_wd(struct ws_watch *w, int wd)
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

static uint64_t fh_key(int type, const unsigned char *bytes, unsigned len)
{
	return ws__hash_bytes((uint64_t)(unsigned)type, (const char *)bytes, len);
}

struct wdir *ws__watch_find_fh(struct ws_watch *w, int type, const unsigned char *bytes,
                               unsigned len)
{
	uint64_t h = fh_key(type, bytes, len);
	struct ws_hlink *l;
	struct wdir *d;

	for (l = ws_htab_first(&w->by_fh, h); l; l = ws_htab_next(l, h)) {
		d = WS_CONTAINER_OF(l, struct wdir, by_fh);
		if (d->fhtype == type && d->fhlen == len && !memcmp(d->fh, bytes, len))
			return d;
	}
	return NULL;
}

void ws__watch_fh_insert(struct ws_watch *w, struct wdir *d)
{
	ws_htab_insert(&w->by_fh, &d->by_fh, fh_key(d->fhtype, d->fh, d->fhlen));
}

struct wdir *ws__watch_find_ident(struct ws_watch *w, const struct ws_ident *id)
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

struct wdir *ws__watch_find_child(struct ws_watch *w, const struct wdir *parent, const char *name)
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

void ws__watch_detach(struct ws_watch *w, struct wdir *d)
{
	if (!d->named)
		return;
	ws_htab_remove(&w->by_name, &d->by_name);
	d->named = 0;
}

/* Give d the place (parent, name); whatever held that place before is
 * detached (it was removed or moved away, and its IN_IGNORED or MOVED
 * event is still to come). 0 or -FSB_ENOMEM. */
int ws__watch_place(struct ws_watch *w, struct wdir *d, struct wdir *parent, const char *name)
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
	old = ws__watch_find_child(w, parent, name);
	if (old && old != d)
		ws__watch_detach(w, old);
	ws__watch_detach(w, d);
	if (d->parent)
		d->parent->nchildren--;
	if (d->name)
		w->name_bytes -= d->namelen + 1;
	free(d->name);
	d->name = copy;
	d->namelen = len;
	w->name_bytes += len + 1;
	d->parent = parent;
	if (parent) {
		parent->nchildren++;
		ws_htab_insert(&w->by_name, &d->by_name, name_key(parent, name, len));
		d->named = 1;
	}
	return 0;
}

void ws__watch_wdir_free(struct ws_watch *w, struct wdir *d)
{
	ws__watch_detach(w, d);
	ws_htab_remove(&w->by_wd, &d->by_wd);
	if (w->fan) {
		ws_htab_remove(&w->by_fh, &d->by_fh);
		w->fh_bytes -= d->fhlen;
	}
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
	if (d == w->fd_dir) {
		close(w->fd);
		w->fd_dir = NULL;
		w->fd = -1;
	}
	if (d->name)
		w->name_bytes -= d->namelen + 1;
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
void ws__watch_drop_subtree(struct ws_watch *w, struct wdir *top, int unwatch)
{
	struct wdir *d, *next, **victims;
	size_t n = 0, cap = 16, i;

	if (w->fan)
		unwatch = 0;    /* one mark for the whole file system */
	if (!top->nchildren) {
		if (unwatch)
			inotify_rm_watch(w->ifd, top->wd);
		ws__watch_wdir_free(w, top);
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
		ws__watch_detach(w, top);
		return;
	}
	/* Cut the links inside the subtree, so no victim is freed while
	 * another still points at it; top stays linked to its parent. */
	for (i = 0; i < n; i++) {
		if (unwatch)
			inotify_rm_watch(w->ifd, victims[i]->wd);
		if (victims[i] != top) {
			ws__watch_detach(w, victims[i]);
			victims[i]->parent = NULL;
		}
	}
	for (i = 0; i < n; i++)
		ws__watch_wdir_free(w, victims[i]);
	free(victims);
}

size_t ws__watch_dir_path_len(const struct wdir *d)
{
	size_t n = 0;

	for (; d && d->parent; d = d->parent)
		n += d->namelen + (d->parent->parent ? 1 : 0);
	return n;
}

void ws__watch_dir_path_write(const struct wdir *d, char *end)
{
	for (; d && d->parent; d = d->parent) {
		end -= d->namelen;
		memcpy(end, d->name, d->namelen);
		if (d->parent->parent)
			*--end = '/';
	}
}

/* d's path below the root, one component at a time, never following a
 * link: the fd or -errno. */
static int open_walk(struct ws_watch *w, const struct wdir *d)
{
	const struct wdir **chain, *at;
	size_t n = 0, i;
	int fd, next;

	for (at = d; at && at->parent; at = at->parent)
		n++;
	chain = malloc((n ? n : 1) * sizeof(*chain));
	if (!chain)
		return -ENOMEM;
	for (i = n, at = d; i; at = at->parent)
		chain[--i] = at;
	fd = fcntl(ws__posix_root_fd(w->be), F_DUPFD_CLOEXEC, 0);
	if (fd < 0)
		fd = -errno;
	for (i = 0; i < n && fd >= 0; i++) {
		next = openat(fd, chain[i]->name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (next < 0)
			next = -errno;
		close(fd);
		fd = next;
	}
	free(chain);
	return fd;
}

/* d's path below the root in one call, the kernel refusing anything that
 * leaves it: the fd, -errno, or -ENOSYS to walk instead. */
static int open_beneath(struct ws_watch *w, const struct wdir *d)
{
#ifdef SYS_openat2
	struct open_how how;
	size_t len = ws__watch_dir_path_len(d);
	char *path;
	int fd, tries;

	if (!w->try_openat2 || !len || len >= PATH_MAX)
		return -ENOSYS;
	path = malloc(len + 1);
	if (!path)
		return -ENOMEM;
	ws__watch_dir_path_write(d, path + len);
	path[len] = '\0';
	memset(&how, 0, sizeof(how));
	how.flags = O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
	how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
	for (tries = 0; tries < 3; tries++) {
		fd = (int)syscall(SYS_openat2, ws__posix_root_fd(w->be), path, &how, sizeof(how));
		if (fd >= 0 || errno != EAGAIN)
			break;
	}
	free(path);
	if (fd >= 0)
		return fd;
	if (errno == ENOSYS || errno == E2BIG || errno == EPERM) {
		w->try_openat2 = 0;
		return -ENOSYS;
	}
	return -errno;
#else
	(void)w;
	(void)d;
	return -ENOSYS;
#endif
}

int ws__watch_dir_fd(struct ws_watch *w, struct wdir *d)
{
	struct ws_bstat bs;
	struct stat st;
	int fd;

	if (d == w->fd_dir)
		return w->fd;
	fd = open_beneath(w, d);
	if (fd == -ENOSYS)
		fd = open_walk(w, d);
	if (fd < 0)
		return fd;
	/* Its path may name another directory by now (a rename not yet
	 * read): the events on their way will put the tree right. */
	if (fstat(fd, &st) < 0) {
		close(fd);
		return -ESTALE;
	}
	ws__posix_fill_bstat(&st, &bs);
	if (!ws__ident_eq(&bs.ident, &d->ident)) {
		close(fd);
		return -ESTALE;
	}
	if (w->fd_dir)
		close(w->fd);
	w->fd_dir = d;
	w->fd = fd;
	return fd;
}
