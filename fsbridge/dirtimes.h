/*
 * dirtimes.h - keeping listed directories' attributes valid in the kernel.
 *
 * Every READDIRPLUS the kernel sends (fs/fuse/readdir.c,
 * fuse_readdir_uncached) ends with fuse_invalidate_atime() on the
 * directory, so the next stat of it must ask the daemon, once, even
 * though the daemon knows its attributes and the listing is cached from
 * then on (a repeat listing served from the kernel's cache invalidates
 * nothing). In a tree's second walk that is one trip through /dev/fuse
 * per directory, on the walker's path. Instead, a thread of the daemon's
 * own stats each directory whose listing reached its end (AT_STATX_FORCE_SYNC,
 * answered from the node table) shortly after the kernel took the last
 * batch (DIRTIMES_DELAY_NS, dirtimes.c), while listings go on (a walk;
 * DIRTIMES_ACTIVE_NS): the kernel's copy of its attributes is then valid
 * again, and the walker's stat is answered by the kernel alone. Only worth it, and only
 * used, when directories are never opened (lazy.c, no-opendir) and the
 * cache is kept exact by change events.
 */
#ifndef FB_DIRTIMES_H
#define FB_DIRTIMES_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

struct fb_fs;

struct fb_dirtime {
	uint64_t node;          /* a directory listed to its end */
	uint64_t at_ns;         /* when (CLOCK_MONOTONIC) */
};

struct fb_dirtimes {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct fb_dirtime *v;   /* oldest first */
	size_t count, cap;
	uint64_t last_ns;       /* CLOCK_MONOTONIC of the last listing noted */
	int idle;               /* the thread waits for listings to resume */
	int stop;
	int started;
	pthread_t thread;
	struct fb_fs *fs;
	const char *mountpoint;
};

int fb_dirtimes_start(struct fb_dirtimes *dt, struct fb_fs *fs, const char *mountpoint);
/* Loop thread: the kernel got the end of the listing of directory node. */
void fb_dirtimes_note(struct fb_dirtimes *dt, uint64_t node);
/* Stop noting; the thread ends after its batch. */
void fb_dirtimes_stop(struct fb_dirtimes *dt);
/* Once the FUSE device is closed (a stat in flight then fails). */
void fb_dirtimes_join(struct fb_dirtimes *dt);

#endif
