/*
 * events.c - the change-event pipeline's two ends (see events.h): the
 * loop thread copying pushed events into the queue, and the event thread
 * taking them off it in order and handing each to replay.c (or, after
 * lost events, starting a rescan); the counters and the stats file.
 * Calls replay.c and rescan.c, which never call here.
 */
#include <pthread.h>
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

#include "clock.h"
#include "events.h"
#include "events_int.h"
#include "fuse_ops.h"
#include "log.h"

/* Events waiting for the event thread beyond this are dropped and the
 * whole cache is invalidated instead, as after a server-side overflow. */
#define EVENTS_QUEUE_MAX 1000000u
/* How often an idle event thread looks whether the stats are out of date. */
#define STATS_REFRESH_MS 1000
/* After a batch of events the stats file is written again at most this
 * often: a busy mount handles thousands of batches a second (each echo of
 * its own requests is one), and a file rewritten for each cost more than
 * the requests themselves. */
#define STATS_BATCH_MS 100

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
	atomic_init(&ev->losses, 0);
	atomic_init(&ev->foreign, 0);
	atomic_init(&ev->rescanned_for, 0);
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
	err = pthread_mutex_init(&ev->stats_lock, NULL);
	if (err)
		goto out_view;
	return 0;
out_view:
	pthread_mutex_destroy(&ev->view_lock);
out_cond:
	pthread_cond_destroy(&ev->cond);
out_lock:
	pthread_mutex_destroy(&ev->lock);
	return -err;
}

/* ---- the loop thread's side ----------------------------------------------- */

/* An event is handled: one fewer that may tell of a name the client does
 * not know yet (fb_events_settled). */
static void settle(struct fb_events *ev, const struct fb_rev *r)
{
	if (!(r->flags & FSB_EVF_ECHO))
		atomic_fetch_sub(&ev->foreign, 1);
}

/* Handle the first event of a list (and the one after it when that
 * belongs to it), free what was handled; returns the rest. */
static struct fb_rev *handle_next(struct fb_events *ev, struct fb_rev *r)
{
	struct fb_rev *rest = r->next;
	int consumed;

	fb__handle_event(ev, r, rest, &consumed);
	settle(ev, r);
	free(r);
	if (consumed) {
		r = rest;
		rest = r->next;
		settle(ev, r);
		free(r);
	}
	return rest;
}

/* Handle a list of echoes on the loop thread: an echo changes nothing on
 * the mount (fb__handle_event only counts it and notes a directory made
 * here), so it needs no replay and may skip the queue when the queue is
 * empty: nothing is then waiting to be handled before it. */
static void echoes_inline(struct fb_events *ev, struct fb_rev *r)
{
	while (r)
		r = handle_next(ev, r);
	atomic_store(&ev->stats_stale, 1);
}

void fb_events_on_push(struct fb_events *ev, const struct fsb_event_push *push)
{
	struct fb_rev *first = NULL, **tailp = &first, *last = NULL;
	size_t n = 0;
	int_fast64_t foreign = 0;
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
		if (!(e->flags & FSB_EVF_ECHO))
			foreign++;
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
	if (!foreign && !ev->head && !ev->busy && !ev->overflowed && ev->started) {
		/* Echoes alone, with nothing before them: dropped here, which
		 * spares a wakeup of the event thread for each request of the
		 * mount's own (most frames on a busy mount are just that). */
		pthread_mutex_unlock(&ev->lock);
		echoes_inline(ev, first);
		return;
	}
	if (ev->tail)
		ev->tail->next = first;
	else
		ev->head = first;
	ev->tail = last;
	ev->queued += n;
	atomic_fetch_add(&ev->foreign, foreign);
	pthread_cond_signal(&ev->cond);
	pthread_mutex_unlock(&ev->lock);
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

static void stats_connection(struct fb_events *ev, FILE *f)
{
	struct fb_conn_stats cs;
	struct fb_resume *r = &ev->fs->resume;

	fb_conn_get_stats(ev->fs->conn, &cs);
	fprintf(f, "connection %s\nreconnects %llu\ndisconnected_ms %llu\n",
	        cs.down ? "down" : "up", (unsigned long long)cs.reconnects,
	        (unsigned long long)cs.down_ms);
	fprintf(f, "requests_retried %llu\nnodes_resumed %llu\nnodes_lost %llu\n",
	        (unsigned long long)cs.retried,
	        (unsigned long long)atomic_load(&r->nodes_resumed),
	        (unsigned long long)atomic_load(&r->nodes_lost));
	fprintf(f, "handles_reopened %llu\nhandles_lost %llu\n",
	        (unsigned long long)atomic_load(&r->handles_reopened),
	        (unsigned long long)atomic_load(&r->handles_lost));
}

/* Resident set size in KiB, 0 if unknown. */
static size_t rss_kib(void)
{
	unsigned long size, resident;
	long page = sysconf(_SC_PAGESIZE);
	FILE *f = fopen("/proc/self/statm", "re");
	int n;

	if (!f)
		return 0;
	n = fscanf(f, "%lu %lu", &size, &resident);
	fclose(f);
	if (n != 2 || page <= 0)
		return 0;
	return (size_t)resident * (size_t)page / 1024;
}

/* What the tables that grow with the tree hold: the bytes are counted by
 * the tables (records, names, buckets, malloc's overhead), the resident
 * size is the whole process's. Returns the node count, for the refresh. */
static size_t stats_memory(struct fb_events *ev, FILE *f)
{
	size_t nodes, nbytes, names, dirs, dbytes, fhs, fbytes, total;

	fb_nodes_mem(&ev->fs->nodes, &nodes, &nbytes);
	fb_dents_mem(&ev->fs->dents, &names, &dirs, &dbytes);
	fb_fhs_mem(&ev->fs->fhs, &fhs, &fbytes);
	total = nbytes + dbytes + fbytes;
	fprintf(f, "nodes %zu\nnodes_bytes %zu\nnames %zu\nnames_dirs %zu\nnames_bytes %zu\n",
	        nodes, nbytes, names, dirs, dbytes);
	fprintf(f, "handles %zu\nhandles_bytes %zu\ntables_bytes %zu\nbytes_per_node %zu\n", fhs,
	        fbytes, total, nodes ? total / nodes : 0);
	fprintf(f, "rss_kib %zu\n", rss_kib());
	return nodes + names;
}

static void stats_write_locked(struct fb_events *ev)
{
	char tmp[4200];
	size_t i, pending;
	FILE *f;

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
	/* Received and not handled yet, as of this writing (after a batch). */
	pthread_mutex_lock(&ev->lock);
	pending = ev->queued;
	pthread_mutex_unlock(&ev->lock);
	fprintf(f, "pending %zu\n", pending);
	if (ev->fs) {
		const struct fb_dirahead *da = &ev->fs->dirahead;

		fprintf(f, "listings_ahead %llu\nlistings_ahead_ready %llu\n"
		        "listings_ahead_waited %llu\nlistings_ahead_dropped %llu\n",
		        (unsigned long long)atomic_load(&da->asked),
		        (unsigned long long)atomic_load(&da->ready),
		        (unsigned long long)atomic_load(&da->waited),
		        (unsigned long long)atomic_load(&da->dropped));
	}
	stats_connection(ev, f);
	ev->stats_nodes = stats_memory(ev, f);
	if (fclose(f) == 0 && rename(tmp, ev->stats_path) == 0)
		return;
	unlink(tmp);
}

/* The event thread and the recovery thread both write it. */
static void stats_write(struct fb_events *ev)
{
	pthread_mutex_lock(&ev->stats_lock);
	stats_write_locked(ev);
	pthread_mutex_unlock(&ev->stats_lock);
}

void fb_events_write_stats(struct fb_events *ev)
{
	stats_write(ev);
}

/* The walk of a big tree raises no event: while idle, the file is written
 * again each STATS_REFRESH_MS if the tables grew or shrank meanwhile. */
static void stats_refresh(struct fb_events *ev)
{
	size_t nodes, names, dirs, bytes;

	fb_dents_mem(&ev->fs->dents, &names, &dirs, &bytes);
	nodes = fb_nodes_count(&ev->fs->nodes) + names;
	pthread_mutex_lock(&ev->stats_lock);
	if (nodes != ev->stats_nodes || atomic_exchange(&ev->stats_stale, 0))
		stats_write_locked(ev);
	pthread_mutex_unlock(&ev->stats_lock);
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

/* After a batch: write the stats now if the last writing is old enough,
 * else leave it to the wait for the next batch (stats_wait_until). */
static void stats_after_batch(struct fb_events *ev)
{
	uint64_t now = fb_mono_ns();

	if (now - ev->stats_written_ns < (uint64_t)STATS_BATCH_MS * 1000000u) {
		ev->stats_dirty = 1;
		return;
	}
	stats_write(ev);
	ev->stats_written_ns = now;
	ev->stats_dirty = 0;
}

/* When an idle event thread wakes by itself: when the pending writing of
 * the stats is due, or the next look at the tables. */
static void stats_wait_until(const struct fb_events *ev, struct timespec *until)
{
	uint64_t ms = STATS_REFRESH_MS;

	if (ev->stats_dirty) {
		uint64_t since = (fb_mono_ns() - ev->stats_written_ns) / 1000000u;

		ms = since >= STATS_BATCH_MS ? 0 : STATS_BATCH_MS - since;
	}
	fb_deadline_in(until, ms * 1000000u);
}

/* Whether a batch holds an event that is not an echo: only those are
 * replayed through the mount. */
static int batch_has_foreign(const struct fb_rev *r)
{
	for (; r; r = r->next)
		if (!(r->flags & FSB_EVF_ECHO))
			return 1;
	return 0;
}

static void *event_thread(void *arg)
{
	struct fb_events *ev = arg;
	struct fb_rev *batch, *r;
	uint64_t rescan_for;
	int overflowed;

	pthread_setname_np(pthread_self(), "fb-events");
	atomic_store(&ev->tid, gettid());
	stats_prepare(ev);

	pthread_mutex_lock(&ev->lock);
	for (;;) {
		while (!ev->head && !ev->overflowed && !ev->stop) {
			struct timespec until;

			stats_wait_until(ev, &until);
			if (pthread_cond_timedwait(&ev->cond, &ev->lock, &until) != ETIMEDOUT)
				continue;
			pthread_mutex_unlock(&ev->lock);
			if (ev->stats_dirty)
				stats_after_batch(ev);
			else
				stats_refresh(ev);
			pthread_mutex_lock(&ev->lock);
		}
		if (ev->stop)
			break;
		batch = ev->head;
		ev->head = ev->tail = NULL;
		ev->queued = 0;
		overflowed = ev->overflowed;
		ev->overflowed = 0;
		rescan_for = ev->rescan_for;
		ev->rescanning = overflowed;
		ev->busy = 1;
		pthread_mutex_unlock(&ev->lock);

		/* The mount's root, held only while replaying: an open
		 * descriptor would make a plain umount fail with EBUSY. The
		 * rescan replays too; echoes alone replay nothing. */
		if (ev->mode == FB_EVENTS_REPLAY && (overflowed || batch_has_foreign(batch))) {
			ev->rootfd = open(ev->mountpoint, O_PATH | O_DIRECTORY | O_CLOEXEC);
			if (ev->rootfd < 0)
				fb_warn("cannot open the mount %s to replay events (%s): only "
				        "invalidating", ev->mountpoint, strerror(errno));
		}
		if (overflowed) {
			fb__rescan(ev, "", 0);
			pthread_mutex_lock(&ev->lock);
			ev->rescanning = 0;
			if (!ev->stop)
				atomic_store(&ev->rescanned_for, rescan_for);
			pthread_mutex_unlock(&ev->lock);
		}
		while (batch && !stopping(ev))
			batch = handle_next(ev, batch);
		while (batch) {
			r = batch->next;
			free(batch);
			batch = r;
		}
		if (ev->rootfd >= 0) {
			close(ev->rootfd);
			ev->rootfd = -1;
		}
		stats_after_batch(ev);
		pthread_mutex_lock(&ev->lock);
		ev->busy = 0;
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

void fb_events_rescan(struct fb_events *ev)
{
	pthread_mutex_lock(&ev->lock);
	if (ev->mode != FB_EVENTS_OFF && !ev->stop) {
		ev->overflowed = 1;
		ev->rescan_for = atomic_load(&ev->losses);
		pthread_cond_signal(&ev->cond);
	}
	pthread_mutex_unlock(&ev->lock);
}

void fb_events_lost(struct fb_events *ev)
{
	atomic_fetch_add(&ev->losses, 1);
	/* What changed meanwhile is not known: nothing read ahead holds. */
	if (ev->fs)
		fb_dirahead_changed(&ev->fs->dirahead);
}

int fb_events_settled(struct fb_events *ev)
{
	int settled;

	if (!ev->started)
		return 0;
	pthread_mutex_lock(&ev->lock);
	settled = atomic_load(&ev->foreign) == 0 && !ev->overflowed && !ev->rescanning &&
	          !ev->stop && atomic_load(&ev->rescanned_for) == atomic_load(&ev->losses);
	pthread_mutex_unlock(&ev->lock);
	return settled;
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
	pthread_mutex_destroy(&ev->stats_lock);
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
