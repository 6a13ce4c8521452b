/*
 * dirtimes.c - restating listed directories through the mount, so that
 * the kernel's attributes of them are valid again (dirtimes.h). Calls the
 * name mirror for paths; lists are noted by ops_dir.c.
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
#include "dirtimes.h"
#include "fuse_ops.h"
#include "log.h"

/* How long after its listing a directory is restated: the kernel
 * invalidates its attributes only once it has read the reply. */
#define DIRTIMES_DELAY_NS 2000000u
/* Restats run only while listings go on, i.e. while something walks the
 * tree: at most this long after the last one. A stat walking the mount
 * makes it busy, and a `find dir; umount` or `ls dir; umount` must find
 * it idle (with restats running on after a walk, 3 of 6 umounts after a
 * find of 30,000 files failed with EBUSY). What a walk's last moment
 * listed waits for the next walk's listings, or costs that walk a trip. */
#define DIRTIMES_ACTIVE_NS 2000000u
/* At most this many waiting (a cold walk of a big tree lists thousands):
 * beyond it, the rest simply cost the walker its trip, as before. */
#define DIRTIMES_MAX 65536u

void fb_dirtimes_note(struct fb_dirtimes *dt, uint64_t node)
{
	uint64_t now = fb_mono_ns();

	pthread_mutex_lock(&dt->lock);
	if (dt->started && !dt->stop) {
		if (dt->count > 0 && dt->v[dt->count - 1].node == node) {
			/* the end of the listing, asked again: once is enough */
		} else {
			if (dt->count == dt->cap && dt->cap < DIRTIMES_MAX) {
				size_t cap = dt->cap ? dt->cap * 2 : 256;
				struct fb_dirtime *n = realloc(dt->v, cap * sizeof(*n));

				if (n) {
					dt->v = n;
					dt->cap = cap;
				}
			}
			if (dt->count < dt->cap) {
				dt->v[dt->count].node = node;
				dt->v[dt->count].at_ns = now;
				dt->count++;
			}
		}
		dt->last_ns = now;
		if (dt->count == 1 || dt->idle)
			pthread_cond_signal(&dt->cond);
	}
	pthread_mutex_unlock(&dt->lock);
}

/* By absolute path, with no descriptor held on the mount: the mount is
 * busy only while a statx walks it, and a plain umount right after a
 * listing still works. */
static void restat(struct fb_dirtimes *dt, uint64_t node)
{
	char path[4096];
	struct statx sx;
	size_t m = strlen(dt->mountpoint);

	if (m + 2 >= sizeof(path))
		return;
	memcpy(path, dt->mountpoint, m);
	path[m] = '/';
	/* A directory the name mirror cannot place (renamed or gone
	 * meanwhile) is left alone: its stat costs the walker a trip. */
	if (node == FUSE_ROOT_ID)
		path[m + 1] = '\0';
	else if (fb_dents_path(&dt->fs->dents, node, path + m + 1, sizeof(path) - m - 1) < 0 ||
	         !path[m + 1])
		return;
	statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT | AT_STATX_FORCE_SYNC,
	      STATX_BASIC_STATS, &sx);
}

static void *dirtimes_thread(void *arg)
{
	struct fb_dirtimes *dt = arg;
	uint64_t *batch = NULL;
	size_t n, cap = 0, i;

	pthread_setname_np(pthread_self(), "fb-dirtimes");
	pthread_mutex_lock(&dt->lock);
	for (;;) {
		uint64_t now;

		while (!dt->count && !dt->stop)
			pthread_cond_wait(&dt->cond, &dt->lock);
		if (dt->stop)
			break;
		now = fb_mono_ns();
		if (now - dt->last_ns >= DIRTIMES_ACTIVE_NS) {
			/* Nothing lists any more: wait for the next listing. */
			dt->idle = 1;
			pthread_cond_wait(&dt->cond, &dt->lock);
			dt->idle = 0;
			continue;
		}
		if (now - dt->v[0].at_ns < DIRTIMES_DELAY_NS) {
			struct timespec until;

			fb_deadline_in(&until, DIRTIMES_DELAY_NS - (now - dt->v[0].at_ns));
			pthread_cond_timedwait(&dt->cond, &dt->lock, &until);
			continue;
		}
		/* The ones old enough (noted in order, so a prefix); the
		 * loop thread goes on noting meanwhile. */
		for (n = 0; n < dt->count && now - dt->v[n].at_ns >= DIRTIMES_DELAY_NS; n++)
			;
		if (cap < n) {
			uint64_t *b = realloc(batch, dt->cap * sizeof(*b));

			if (!b) {
				dt->count = 0;
				continue;
			}
			batch = b;
			cap = dt->cap;
		}
		for (i = 0; i < n; i++)
			batch[i] = dt->v[i].node;
		dt->count -= n;
		memmove(dt->v, dt->v + n, dt->count * sizeof(*dt->v));
		pthread_mutex_unlock(&dt->lock);

		for (i = 0; i < n; i++)
			restat(dt, batch[i]);
		pthread_mutex_lock(&dt->lock);
	}
	pthread_mutex_unlock(&dt->lock);
	free(batch);
	return NULL;
}

int fb_dirtimes_start(struct fb_dirtimes *dt, struct fb_fs *fs, const char *mountpoint)
{
	int err;

	memset(dt, 0, sizeof(*dt));
	dt->fs = fs;
	dt->mountpoint = mountpoint;
	pthread_mutex_init(&dt->lock, NULL);
	pthread_cond_init(&dt->cond, NULL);
	dt->started = 1;
	err = pthread_create(&dt->thread, NULL, dirtimes_thread, dt);
	if (err) {
		dt->started = 0;
		pthread_cond_destroy(&dt->cond);
		pthread_mutex_destroy(&dt->lock);
		return -err;
	}
	return 0;
}

void fb_dirtimes_stop(struct fb_dirtimes *dt)
{
	if (!dt->started)
		return;
	pthread_mutex_lock(&dt->lock);
	dt->stop = 1;
	pthread_cond_signal(&dt->cond);
	pthread_mutex_unlock(&dt->lock);
}

void fb_dirtimes_join(struct fb_dirtimes *dt)
{
	if (!dt->started)
		return;
	fb_dirtimes_stop(dt);
	pthread_join(dt->thread, NULL);
	dt->started = 0;
	free(dt->v);
	dt->v = NULL;
	pthread_cond_destroy(&dt->cond);
	pthread_mutex_destroy(&dt->lock);
}
