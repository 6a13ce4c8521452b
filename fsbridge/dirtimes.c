/*
 * dirtimes.c - restating listed directories through the mount, so that
 * the kernel's attributes of them are valid again (dirtimes.h). Calls the
 * name mirror for paths; lists are noted by ops_dir.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "dirtimes.h"
#include "fuse_ops.h"
#include "log.h"

/* How long after the last listing noted the thread waits: the kernel
 * invalidates the directory's attributes only once the reply is read,
 * after the daemon wrote it. */
#define DIRTIMES_DELAY_NS 2000000u
/* At most this many waiting (a cold walk of a big tree lists thousands):
 * beyond it, the rest simply cost the walker its trip, as before. */
#define DIRTIMES_MAX 65536u

void fb_dirtimes_note(struct fb_dirtimes *dt, uint64_t node)
{
	pthread_mutex_lock(&dt->lock);
	if (dt->started && !dt->stop) {
		if (dt->count > 0 && dt->nodes[dt->count - 1] == node) {
			/* the end of the listing, asked again: once is enough */
		} else if (dt->count < dt->cap) {
			dt->nodes[dt->count++] = node;
		} else if (dt->cap < DIRTIMES_MAX) {
			size_t cap = dt->cap ? dt->cap * 2 : 256;
			uint64_t *n = realloc(dt->nodes, cap * sizeof(*n));

			if (n) {
				dt->nodes = n;
				dt->cap = cap;
				dt->nodes[dt->count++] = node;
			}
		}
		dt->last_ns = fb_mono_ns();
		pthread_cond_signal(&dt->cond);
	}
	pthread_mutex_unlock(&dt->lock);
}

static void restat(struct fb_dirtimes *dt, int rootfd, uint64_t node)
{
	char path[4096];
	struct statx sx;

	if (node == FUSE_ROOT_ID) {
		statx(rootfd, "", AT_EMPTY_PATH | AT_STATX_FORCE_SYNC, STATX_BASIC_STATS, &sx);
		return;
	}
	/* A directory the name mirror cannot place (renamed or gone
	 * meanwhile) is left alone: its stat costs the walker a trip. */
	if (fb_dents_path(&dt->fs->dents, node, path, sizeof(path)) < 0 || !path[0])
		return;
	statx(rootfd, path, AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT | AT_STATX_FORCE_SYNC,
	      STATX_BASIC_STATS, &sx);
}

static void *dirtimes_thread(void *arg)
{
	struct fb_dirtimes *dt = arg;
	uint64_t *batch = NULL;
	size_t n, cap = 0, i;

	pthread_mutex_lock(&dt->lock);
	for (;;) {
		uint64_t now;

		while (!dt->count && !dt->stop)
			pthread_cond_wait(&dt->cond, &dt->lock);
		if (dt->stop)
			break;
		now = fb_mono_ns();
		if (now - dt->last_ns < DIRTIMES_DELAY_NS) {
			struct timespec until;

			fb_deadline_in(&until, DIRTIMES_DELAY_NS - (now - dt->last_ns));
			pthread_cond_timedwait(&dt->cond, &dt->lock, &until);
			continue;
		}
		/* Swap the list out; the loop thread goes on noting. */
		n = dt->count;
		if (cap < dt->cap) {
			uint64_t *b = realloc(batch, dt->cap * sizeof(*b));

			if (!b) {
				dt->count = 0;
				continue;
			}
			batch = b;
			cap = dt->cap;
		}
		memcpy(batch, dt->nodes, n * sizeof(*batch));
		dt->count = 0;
		pthread_mutex_unlock(&dt->lock);

		/* Opened per batch: a descriptor held on the mount would
		 * make a plain umount fail with EBUSY. */
		{
			int rootfd = open(dt->mountpoint, O_PATH | O_DIRECTORY | O_CLOEXEC);

			if (rootfd >= 0) {
				for (i = 0; i < n; i++)
					restat(dt, rootfd, batch[i]);
				close(rootfd);
			}
		}
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
	free(dt->nodes);
	dt->nodes = NULL;
	pthread_cond_destroy(&dt->cond);
	pthread_mutex_destroy(&dt->lock);
}
