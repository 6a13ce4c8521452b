/*
 * restat.c - restating listed directories and read files through the
 * mount, so that the kernel's attributes of them are valid again
 * (restat.h). Calls the name mirror for paths; listings are noted by
 * ops_dir.c, releases by ops_file.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "restat.h"
#include "fuse_ops.h"
#include "log.h"

/* How long after its note a directory is restated: the kernel
 * invalidates its attributes only once it has read the listing's reply.
 * A file's close invalidated them before its RELEASE was sent, so a file
 * is restated at once, which also ends the restats of a read of many
 * files right after its last close (with this delay for files, 1 of 12
 * umounts right after `cat` of 300 files failed with EBUSY). */
#define RESTAT_DIR_DELAY_NS 2000000u
/* Restats run only while notes go on, i.e. while something walks the
 * tree or reads many files: at most this long after the last one. A
 * stat walking the mount makes it busy, and a `find dir; umount` or `ls dir; umount` must find
 * it idle (with restats running on after a walk, 3 of 6 umounts after a
 * find of 30,000 files failed with EBUSY). What a walk's last moment
 * noted waits for the next walk's notes, or costs that walk a trip. */
#define RESTAT_ACTIVE_NS 2000000u
/* At most this many waiting (a cold walk of a big tree lists thousands):
 * beyond it, the rest simply cost the walker its trip, as before. */
#define RESTAT_MAX 65536u

void fb_restat_note(struct fb_restat *rs, uint64_t node, int is_dir)
{
	uint64_t now = fb_mono_ns();

	pthread_mutex_lock(&rs->lock);
	if (rs->started && !rs->stop) {
		if (rs->count > 0 && rs->v[rs->count - 1].node == node) {
			/* the same node again (the end of a listing asked
			 * twice): once is enough */
		} else {
			if (rs->count == rs->cap && rs->cap < RESTAT_MAX) {
				size_t cap = rs->cap ? rs->cap * 2 : 256;
				struct fb_restat_item *n = realloc(rs->v, cap * sizeof(*n));

				if (n) {
					rs->v = n;
					rs->cap = cap;
				}
			}
			if (rs->count < rs->cap) {
				rs->v[rs->count].node = node;
				rs->v[rs->count].due_ns = now + (is_dir ? RESTAT_DIR_DELAY_NS : 0);
				rs->count++;
			}
		}
		rs->last_ns = now;
		if (rs->count == 1 || rs->idle)
			pthread_cond_signal(&rs->cond);
	}
	pthread_mutex_unlock(&rs->lock);
}

/* By absolute path, with no descriptor held on the mount: the mount is
 * busy only while a statx walks it, and a plain umount right after a
 * listing or a read still works. */
static void restat(struct fb_restat *rs, uint64_t node)
{
	char path[4096];
	struct statx sx;
	size_t m = strlen(rs->mountpoint);

	if (m + 2 >= sizeof(path))
		return;
	memcpy(path, rs->mountpoint, m);
	path[m] = '/';
	/* A node the name mirror cannot place (renamed or gone
	 * meanwhile) is left alone: its stat costs the walker a trip. */
	if (node == FUSE_ROOT_ID)
		path[m + 1] = '\0';
	else if (fb_dents_path(&rs->fs->dents, node, path + m + 1, sizeof(path) - m - 1) < 0 ||
	         !path[m + 1])
		return;
	statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT | AT_STATX_FORCE_SYNC,
	      STATX_BASIC_STATS, &sx);
}

static void *restat_thread(void *arg)
{
	struct fb_restat *rs = arg;
	uint64_t *batch = NULL;
	size_t n, cap = 0, i;

	pthread_setname_np(pthread_self(), "fb-restat");
	pthread_mutex_lock(&rs->lock);
	for (;;) {
		uint64_t now;

		while (!rs->count && !rs->stop)
			pthread_cond_wait(&rs->cond, &rs->lock);
		if (rs->stop)
			break;
		now = fb_mono_ns();
		if (now - rs->last_ns >= RESTAT_ACTIVE_NS) {
			/* Nothing lists or reads any more: wait for the
			 * next note. */
			rs->idle = 1;
			pthread_cond_wait(&rs->cond, &rs->lock);
			rs->idle = 0;
			continue;
		}
		if (now < rs->v[0].due_ns) {
			struct timespec until;

			fb_deadline_in(&until, rs->v[0].due_ns - now);
			pthread_cond_timedwait(&rs->cond, &rs->lock, &until);
			continue;
		}
		/* The ones due, up to the first that is not (a file noted
		 * behind a directory waits for it); others go on noting
		 * meanwhile. */
		for (n = 0; n < rs->count && rs->v[n].due_ns <= now; n++)
			;
		if (cap < n) {
			uint64_t *b = realloc(batch, rs->cap * sizeof(*b));

			if (!b) {
				rs->count = 0;
				continue;
			}
			batch = b;
			cap = rs->cap;
		}
		for (i = 0; i < n; i++)
			batch[i] = rs->v[i].node;
		rs->count -= n;
		memmove(rs->v, rs->v + n, rs->count * sizeof(*rs->v));
		pthread_mutex_unlock(&rs->lock);

		for (i = 0; i < n; i++)
			restat(rs, batch[i]);
		pthread_mutex_lock(&rs->lock);
	}
	pthread_mutex_unlock(&rs->lock);
	free(batch);
	return NULL;
}

int fb_restat_start(struct fb_restat *rs, struct fb_fs *fs, const char *mountpoint)
{
	int err;

	memset(rs, 0, sizeof(*rs));
	rs->fs = fs;
	rs->mountpoint = mountpoint;
	pthread_mutex_init(&rs->lock, NULL);
	pthread_cond_init(&rs->cond, NULL);
	rs->started = 1;
	err = pthread_create(&rs->thread, NULL, restat_thread, rs);
	if (err) {
		rs->started = 0;
		pthread_cond_destroy(&rs->cond);
		pthread_mutex_destroy(&rs->lock);
		return -err;
	}
	return 0;
}

void fb_restat_stop(struct fb_restat *rs)
{
	if (!rs->started)
		return;
	pthread_mutex_lock(&rs->lock);
	rs->stop = 1;
	pthread_cond_signal(&rs->cond);
	pthread_mutex_unlock(&rs->lock);
}

void fb_restat_join(struct fb_restat *rs)
{
	if (!rs->started)
		return;
	fb_restat_stop(rs);
	pthread_join(rs->thread, NULL);
	rs->started = 0;
	free(rs->v);
	rs->v = NULL;
	pthread_cond_destroy(&rs->cond);
	pthread_mutex_destroy(&rs->lock);
}
