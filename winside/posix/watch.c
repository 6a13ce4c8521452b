/*
 * watch.c - recursive inotify watcher of one export
 * (ws__posix_watch_start/stop): the inotify events read and handed to
 * watch_event.c, in batches, with a short wait for a rename's or a
 * touch's second half.
 *
 * One thread per watch sleeps in poll() on the inotify descriptor and an
 * eventfd that watch_stop signals; only directories the watch limit left
 * unwatched are walked on a timer (watch_poll.c).
 *
 * Calls watch_event.c, watch_poll.c, watch_scan.c, watch_batch.c and
 * watch_tree.c (see watch_int.h).
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

#include "ws_platform.h"
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
			ws__watch_event_flush(w);
			ws__watch_batch_flush(w);
			/* Empty: every event older than the listings so
			 * far has been seen. */
			ws__watch_seen_clear(w);
			return;
		}
		if (w->fan) {
			ws__watch_fan_events(w, w->buf, (size_t)n);
		} else {
			for (at = 0; at + sizeof(*ev) <= (size_t)n; at += sizeof(*ev) + ev->len) {
				ev = (const struct inotify_event *)(const void *)(w->buf + at);
				ws__watch_event(w, ev);
			}
		}
		if (w->have_attr && w->n >= ATTR_HOLD_MAX)
			ws__watch_event_let_attr(w);
		if (w->have_from || w->have_attr) {
			/* A rename's two halves are queued together; if the
			 * second has not been read yet it is about to be. A
			 * touch closes right after setting the times. */
			if (poll(&p, 1, PAIR_WAIT_MS) > 0)
				continue;
			ws__watch_event_flush(w);
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
	size_t bytes = dirs * (sizeof(struct wdir) + 2 * 16) + w->name_bytes + w->fh_bytes +
	               (w->by_wd.mask + 1 + w->by_fh.mask + 1 + w->by_name.mask + 1 +
	                w->by_ident.mask + 1 + w->seen.mask + 1) * sizeof(void *) +
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

	ws_os_thread_name("ws-watch");
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
	ws_htab_release(&w->by_fh);
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
	enum ws_posix_watcher kind;
	char why[256];
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
	if (ws_htab_init(&w->by_fh)) {
		ws_htab_release(&w->seen);
		ws_htab_release(&w->by_ident);
		goto out_name;
	}
	w->buf = malloc(READ_BUF_SIZE);
	if (!w->buf)
		goto out;
	/* auto is inotify until fanotify's merged events can be told
	 * exactly (watch_fan.c): it never picks the inexact one. */
	kind = ws__posix_watcher(be);
	if (kind == WS_WATCHER_FANOTIFY) {
		rc = ws__watch_fan_open(w, why, sizeof(why));
		if (rc < 0) {
			ws_log(WS_LOG_ERROR, "the fanotify watcher (--watcher=fanotify) cannot "
			       "start: %s", why);
			rc = sys_status(-rc);
			goto out;
		}
		ws_log(WS_LOG_INFO, "watching with fanotify (experimental), one mark on the "
		       "export's whole file system");
	} else {
		ws_log(WS_LOG_INFO, "watching with inotify, a watch per directory%s",
		       kind == WS_WATCHER_AUTO ? " (auto: fanotify, --watcher=fanotify, is "
		       "experimental: events the kernel merges may come in another order)" : "");
	}
	rc = -FSB_ENOMEM;
	if (!w->fan)
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
