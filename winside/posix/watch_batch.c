/*
 * watch_batch.c - the batch of changes the watcher is building: each
 * change's path written into one arena, its attributes read relative to
 * its directory's descriptor, and the whole batch handed to the core in
 * one call; directories moved or removed are told to the backend's nodes
 * (objs.c). Calls watch_tree.c for paths and descriptors.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fsb_proto.h"
#include "watch_int.h"
#include "ws_log.h"
#include "ws_posix.h"

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
void ws__watch_emit(struct ws_watch *w, uint8_t kind, uint8_t flags, uint32_t cookie,
		    struct wdir *d, const char *name, int want_stat)
{
	size_t dlen = ws__watch_dir_path_len(d), nlen = strlen(name), total, at;
	struct ws_change *c;
	struct stat st;
	struct ws_bstat bs;
	int dfd, rc;

	total = dlen + (dlen && nlen ? 1 : 0) + nlen;
	/* A directory gone from where it was may have left the export: the
	 * backend proves its descriptors inside it again (objs.c). */
	if ((flags & FSB_EVF_DIR) &&
	    (kind == FSB_EV_REMOVED || kind == FSB_EV_RENAMED_FROM || kind == FSB_EV_RESCAN))
		ws__posix_objs_moved(w->be);
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
	ws__watch_dir_path_write(d, w->arena + at + dlen);
	if (dlen && nlen)
		w->arena[at + dlen] = '/';
	memcpy(w->arena + at + total - nlen, name, nlen);
	w->arena[at + total] = '\0';
	w->alen += total + 1;

	c = &w->ch[w->n];
	memset(c, 0, sizeof(*c));
	c->kind = kind;
	c->flags = flags & (FSB_EVF_DIR | FSB_EVF_OUTSIDE | FSB_EVF_CLOSE_WRITE);
	if (kind != FSB_EV_CREATED && kind != FSB_EV_REMOVED)
		c->flags &= (uint8_t)~FSB_EVF_OUTSIDE;
	if (kind != FSB_EV_ATTRIB)
		c->flags &= (uint8_t)~FSB_EVF_CLOSE_WRITE;
	c->cookie = cookie;
	c->pathlen = total;
	c->dir = d->ident;
	w->off[w->n].path = at;
	w->off[w->n].name = at + total - nlen;
	dfd = want_stat ? ws__watch_dir_fd(w, d) : -1;
	if (dfd >= 0) {
		rc = nlen ? fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW)
		          : fstatat(dfd, "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW);
		if (rc == 0) {
			ws__posix_fill_bstat(&st, &bs);
			c->flags |= FSB_EVF_ATTR;
			c->obj = bs.ident;
			c->attr = bs.attr;
		}
	}
	/* And finds a renamed node where it went. */
	if (c->kind == FSB_EV_RENAMED_TO && (c->flags & FSB_EVF_ATTR))
		ws__posix_objs_renamed(w->be, &d->ident, name, &c->obj);
	w->n++;
}

void ws__watch_batch_flush(struct ws_watch *w)
{
	size_t i;

	if (w->lost) {
		ws_log(WS_LOG_ERROR, "watcher: out of memory; reporting a RESCAN of the whole export");
		w->n = 0;
		w->alen = 0;
		w->lost = 0;
		ws__watch_emit(w, FSB_EV_RESCAN, FSB_EVF_DIR, 0, w->root, "", 0);
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
