/*
 * watch.c - recursive inotify watcher of one export
 * (ws__posix_watch_start/stop): the inotify events read and turned into
 * changes, renames paired by their cookie, a file's IN_ATTRIB paired with
 * the IN_CLOSE_WRITE that follows when it was made through a handle open
 * for writing.
 *
 * One thread per watch sleeps in poll() on the inotify descriptor and an
 * eventfd that watch_stop signals; only directories the watch limit left
 * unwatched are walked on a timer (watch_poll.c).
 *
 * Calls watch_poll.c, watch_scan.c, watch_batch.c and watch_tree.c (see
 * watch_int.h).
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <time.h>
#include <unistd.h>

#include "fsb_proto.h"
#include "watch_int.h"
#include "ws_hash.h"
#include "ws_log.h"
#include "ws_posix.h"

#define READ_BUF_SIZE (64u << 10)
/* How long a MOVED_FROM at the end of a read waits for its MOVED_TO, and
 * an ATTRIB of a file for the IN_CLOSE_WRITE of a touch. */
#define PAIR_WAIT_MS 5
/* An ATTRIB is held at the end of a read only while the batch is smaller:
 * a chmod -R does not keep a whole tree's changes waiting. */
#define ATTR_HOLD_MAX 1024u

static int sys_status(int err)
{
	return -fsb_status_from_errno(err);
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

static void handle(struct ws_watch *w, const struct inotify_event *ev)
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
			flush_attr(w, 0);
			flush_from(w);
			ws__watch_batch_flush(w);
			/* Empty: every event older than the listings so
			 * far has been seen. */
			ws__watch_seen_clear(w);
			return;
		}
		for (at = 0; at + sizeof(*ev) <= (size_t)n; at += sizeof(*ev) + ev->len) {
			ev = (const struct inotify_event *)(const void *)(w->buf + at);
			handle(w, ev);
		}
		if (w->have_attr && w->n >= ATTR_HOLD_MAX)
			flush_attr(w, 0);
		if (w->have_from || w->have_attr) {
			/* A rename's two halves are queued together; if the
			 * second has not been read yet it is about to be. A
			 * touch closes right after setting the times. */
			if (poll(&p, 1, PAIR_WAIT_MS) > 0)
				continue;
			flush_attr(w, 0);
			flush_from(w);
		}
		ws__watch_batch_flush(w);
	}
}

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Tell the backend what the watcher holds: every wdir with its name, the
 * three tables' buckets, the polled paths, the read buffer and the batch
 * arrays (glibc's 16 bytes counted for each block). */
static void publish(struct ws_watch *w)
{
	size_t dirs = w->by_wd.count;
	size_t bytes = dirs * (sizeof(struct wdir) + 2 * 16) + w->name_bytes +
	               (w->by_wd.mask + 1 + w->by_name.mask + 1 + w->by_ident.mask + 1 +
	                w->seen.mask + 1) * sizeof(void *) +
	               w->polled_bytes + w->npolled * 16 + READ_BUF_SIZE +
	               w->cap * (sizeof(*w->ch) + sizeof(*w->off)) + w->acap;

	ws__posix_watch_tally(w->be, dirs, w->npolled, bytes);
}

static void *watch_main(void *arg)
{
	struct ws_watch *w = arg;
	struct pollfd p[2] = {
		{ .fd = w->ifd, .events = POLLIN },
		{ .fd = w->efd, .events = POLLIN },
	};

	int64_t next_poll = 0, now;
	int timeout, r;

	for (;;) {
		/* Only the part the watch limit left out runs on a timer. */
		timeout = -1;
		if (w->npolled) {
			now = mono_ms();
			if (!next_poll)
				next_poll = now + WS_WATCH_POLL_MS;
			timeout = next_poll > now ? (int)(next_poll - now) : 0;
		}
		r = poll(p, 2, timeout);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			ws_log(WS_LOG_ERROR, "watcher: poll: %s", strerror(errno));
			break;
		}
		if (p[1].revents)
			break;
		if (p[0].revents)
			drain(w);
		if (w->npolled && mono_ms() >= next_poll) {
			ws__watch_poll_run(w);
			ws__watch_batch_flush(w);
			next_poll = 0;
		}
		publish(w);
	}
	return NULL;
}

/* ---- start and stop ------------------------------------------------------ */

static void drain_wdir(struct ws_hlink *l, void *arg)
{
	struct wdir *d = WS_CONTAINER_OF(l, struct wdir, by_wd);

	(void)arg;
	free(d->name);
	free(d);
}

static void watch_free(struct ws_watch *w)
{
	ws__watch_seen_clear(w);
	ws__watch_poll_free(w);
	ws_htab_drain(&w->by_wd, drain_wdir, NULL);
	ws_htab_release(&w->by_wd);
	ws_htab_release(&w->by_name);
	ws_htab_release(&w->by_ident);
	ws_htab_release(&w->seen);
	if (w->fd_dir)
		close(w->fd);
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
	w->ifd = w->efd = w->fd = -1;
	w->try_openat2 = 1;
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
	w->root = ws__watch_dir(w, NULL, "", &known, &err);
	if (!w->root) {
		if (err == ENOSPC)
			ws__watch_limit_reached(w, NULL, "", 0);
		rc = sys_status(err);
		goto out;
	}
	/* Synchronously, so that a client told "events on" misses nothing
	 * made after its HELLO. */
	ws__watch_scan(w, w->root, 0);
	publish(w);
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

	__atomic_store_n(&w->stop, 1, __ATOMIC_RELEASE);
	if (write(w->efd, &one, sizeof(one)) != (ssize_t)sizeof(one))
		ws_log(WS_LOG_ERROR, "watcher: cannot wake the watcher thread: %s", strerror(errno));
	pthread_join(w->thread, NULL);
	watch_free(w);
	ws__posix_watch_tally(be, 0, 0, 0);
}
