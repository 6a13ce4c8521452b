/*
 * watch_event.c - inotify events turned into changes: renames paired by
 * their cookie, a file's IN_ATTRIB paired with the IN_CLOSE_WRITE that
 * follows when it was made through a handle open for writing, directories
 * that appear, move or go told to the tree. The fanotify watcher
 * (watch_fan.c) hands its events here in the same form.
 *
 * Calls watch_scan.c, watch_batch.c and watch_tree.c (see watch_int.h).
 */
#include <stdio.h>
#include <string.h>
#include <sys/inotify.h>

#include "fsb_proto.h"
#include "watch_int.h"
#include "ws_log.h"

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
	d = ws__watch_find_wd(w, w->from_wd);
	if (!d)
		return;
	ws__watch_emit(w, FSB_EV_REMOVED, w->from_flags | FSB_EVF_OUTSIDE, 0, d, w->from_name, 0);
	if ((w->from_flags & FSB_EVF_DIR) && (gone = ws__watch_find_child(w, d, w->from_name)))
		ws__watch_drop_subtree(w, gone, 1);
}

/* The held ATTRIB, as it is: with CLOSE_WRITE when the close came. */
static void flush_attr(struct ws_watch *w, uint8_t flags)
{
	struct wdir *d;

	if (!w->have_attr)
		return;
	w->have_attr = 0;
	d = ws__watch_find_wd(w, w->attr_wd);
	if (d)
		ws__watch_emit(w, FSB_EV_ATTRIB, flags, 0, d, w->attr_name, 1);
}

/*
 * inotify reports IN_ATTRIB alike for utimensat or chmod on a path and for
 * touch, which opens the file for writing, sets the times and closes it:
 * only touch's IN_CLOSE_WRITE follows. A file's ATTRIB is held until the
 * next event: a close of the same name marks it CLOSE_WRITE, anything else
 * lets it go as it is, before that event, so the order stays the watcher's.
 * Returns 1 when ev was the close that completes it.
 */
static int pair_attr(struct ws_watch *w, struct wdir *d, const struct inotify_event *ev)
{
	if (!w->have_attr)
		return 0;
	if ((ev->mask & IN_CLOSE_WRITE) && d && d->wd == w->attr_wd && ev->len &&
	    strcmp(ev->name, w->attr_name) == 0) {
		flush_attr(w, FSB_EVF_CLOSE_WRITE);
		return 1;
	}
	flush_attr(w, 0);
	return 0;
}

static void moved_in(struct ws_watch *w, struct wdir *d, const char *name, uint8_t flags)
{
	ws__watch_emit(w, FSB_EV_CREATED, flags | FSB_EVF_OUTSIDE, 0, d, name, 1);
	if (flags & FSB_EVF_DIR)
		ws__watch_new_dir(w, d, name, 1);
}

static void renamed(struct ws_watch *w, struct wdir *to, const char *name, uint8_t flags)
{
	struct wdir *from = ws__watch_find_wd(w, w->from_wd), *moved;
	const struct ws_change *last;
	uint32_t cookie;
	int known, err;

	w->have_from = 0;
	if (!from) {
		moved_in(w, to, name, flags);
		return;
	}
	if (ws__watch_seen_take(w, to->wd, name)) {
		/* A listing already reported the new name as CREATED. */
		ws__watch_emit(w, FSB_EV_REMOVED, flags, 0, from, w->from_name, 0);
		return;
	}
	cookie = new_cookie(w);
	ws__watch_emit(w, FSB_EV_RENAMED_FROM, flags, cookie, from, w->from_name, 0);
	ws__watch_emit(w, FSB_EV_RENAMED_TO, flags, cookie, to, name, 1);
	if (!(flags & FSB_EVF_DIR))
		return;
	/* Which directory moved is best told by what is at the new name
	 * now: with RENAME_EXCHANGE the old name holds the other one. */
	last = w->n && !w->lost ? &w->ch[w->n - 1] : NULL;
	if (last && last->kind == FSB_EV_RENAMED_TO && (last->flags & FSB_EVF_ATTR))
		moved = ws__watch_find_ident(w, &last->obj);
	else
		moved = ws__watch_find_child(w, from, w->from_name);
	if (moved) {
		if (ws__watch_place(w, moved, to, name))
			ws__watch_detach(w, moved);
	} else if ((moved = ws__watch_dir(w, to, name, &known, &err)) && !known) {
		/* Not watched before (the limit, most likely): watch it
		 * now; the rename already told the client what is in it. */
		ws__watch_scan(w, moved, 0);
	}
}

void ws__watch_event(struct ws_watch *w, const struct inotify_event *ev)
{
	uint8_t flags = (ev->mask & IN_ISDIR) ? FSB_EVF_DIR : 0;
	struct wdir *d;
	const char *name;

	if (ev->mask & IN_Q_OVERFLOW) {
		flush_attr(w, 0);
		flush_from(w);
		ws__watch_overflow(w);
		return;
	}
	d = ws__watch_find_wd(w, ev->wd);
	if (pair_attr(w, d, ev) || (ev->mask & IN_CLOSE_WRITE))
		return;         /* closes only ever complete an ATTRIB */
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
		ws__watch_drop_subtree(w, d, 0);
		return;
	}
	if (!ev->len || !ev->name[0]) {
		/* About the watched directory itself: its parent's watch
		 * reports the same change by name, except for the root. */
		if (ev->mask & IN_UNMOUNT)
			ws__watch_emit(w, FSB_EV_RESCAN, FSB_EVF_DIR, 0, d, "", 0);
		else if (d != w->root)
			return;
		else if (ev->mask & IN_ATTRIB)
			ws__watch_emit(w, FSB_EV_ATTRIB, FSB_EVF_DIR, 0, d, "", 1);
		else if (ev->mask & IN_DELETE_SELF)
			ws__watch_emit(w, FSB_EV_REMOVED, FSB_EVF_DIR, 0, d, "", 0);
		return;
	}
	name = ev->name;
	if (ev->mask & IN_CREATE) {
		if (ws__watch_seen_take(w, d->wd, name))
			return;
		ws__watch_emit(w, FSB_EV_CREATED, flags, 0, d, name, 1);
		if (flags & FSB_EVF_DIR)
			ws__watch_new_dir(w, d, name, 0);
	} else if (ev->mask & IN_MODIFY) {
		ws__watch_emit(w, FSB_EV_MODIFIED, flags, 0, d, name, 1);
	} else if (ev->mask & IN_ATTRIB) {
		if (flags & FSB_EVF_DIR) {
			ws__watch_emit(w, FSB_EV_ATTRIB, flags, 0, d, name, 1);
		} else {
			w->have_attr = 1;
			w->attr_wd = d->wd;
			snprintf(w->attr_name, sizeof(w->attr_name), "%s", name);
		}
	} else if (ev->mask & IN_DELETE) {
		ws__watch_seen_take(w, d->wd, name);
		ws__watch_emit(w, FSB_EV_REMOVED, flags, 0, d, name, 0);
	} else if (ev->mask & IN_MOVED_FROM) {
		ws__watch_seen_take(w, d->wd, name);
		w->have_from = 1;
		w->from_wd = d->wd;
		w->from_cookie = ev->cookie;
		w->from_flags = flags;
		snprintf(w->from_name, sizeof(w->from_name), "%s", name);
	} else if (ev->mask & IN_MOVED_TO) {
		if (w->have_from)
			renamed(w, d, name, flags);
		else if (!ws__watch_seen_take(w, d->wd, name))
			moved_in(w, d, name, flags);
	}
}

/* A held ATTRIB goes out as it is (a long batch does not wait for it). */
void ws__watch_event_let_attr(struct ws_watch *w)
{
	flush_attr(w, 0);
}

/* What waits for a partner at the end of a read goes out as it is. */
void ws__watch_event_flush(struct ws_watch *w)
{
	flush_attr(w, 0);
	flush_from(w);
}
