/*
 * readahead.h - widen the mount's readahead window once the mount is up.
 */
#ifndef FB_READAHEAD_H
#define FB_READAHEAD_H

#include <pthread.h>

/* 4 MiB: four 1 MiB READs in flight on a sequential read. */
#define FB_READAHEAD_KB 4096u

struct fb_readahead {
	pthread_t thread;
	int started;
	const char *mountpoint;
	unsigned kb;
};

/* Start a thread that waits until `mountpoint` answers (the kernel has
 * taken the INIT reply), then sets its readahead to `kb` KiB. Failing to
 * start is not an error: the mount only reads more slowly. */
void fb_readahead_start(struct fb_readahead *ra, const char *mountpoint, unsigned kb);
/* Join it; call once the session has ended (the wait then fails). */
void fb_readahead_join(struct fb_readahead *ra);

#endif
