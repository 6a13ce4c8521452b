/*
 * restat.h - making the kernel's attributes of a node valid again after
 * the kernel itself dropped them, off the path of whoever stats it next.
 *
 * Two kernel habits invalidate attributes the daemon still knows exactly:
 * - every READDIRPLUS the kernel sends (fs/fuse/readdir.c,
 *   fuse_readdir_uncached) ends with fuse_invalidate_atime() on the
 *   directory, though the listing is cached from then on (a repeat listing
 *   served from the kernel's cache invalidates nothing);
 * - with the writeback cache, every close of a file (fs/fuse/file.c,
 *   fuse_flush) drops its block count (STATX_BLOCKS), read-only opens
 *   included, and lstat asks for it.
 * So the next stat of each costs a trip through /dev/fuse, on the caller's
 * path: in a tree's second walk one per directory, in a git status after
 * anything read the files (an earlier status on another mount of the same
 * repository) one per file. Instead, a thread of the daemon's own stats
 * each directory whose listing reached its end, and each file released
 * after a read-only open (AT_STATX_FORCE_SYNC, answered from the node
 * table): a directory shortly after the kernel took the reply
 * (RESTAT_DIR_DELAY_NS, restat.c), a file at once, and only while such
 * notes go on (a walk, a read of many files; RESTAT_ACTIVE_NS). The
 * kernel's copy is then valid again, and the next stat is answered by
 * the kernel alone. Only used when directories are
 * never opened (lazy.c, no-opendir) and the cache is kept exact by change
 * events; files only with the writeback cache. Written files are left
 * alone: their restat would cost a trip of its own in every create.
 */
#ifndef FB_RESTAT_H
#define FB_RESTAT_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

struct fb_fs;

struct fb_restat_item {
	uint64_t node;          /* a directory listed to its end, a file read */
	uint64_t due_ns;        /* when to restat it (CLOCK_MONOTONIC) */
};

struct fb_restat {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct fb_restat_item *v;   /* oldest first */
	size_t count, cap;
	uint64_t last_ns;       /* CLOCK_MONOTONIC of the last note */
	int idle;               /* the thread waits for notes to resume */
	int stop;
	int started;
	pthread_t thread;
	struct fb_fs *fs;
	const char *mountpoint;
};

int fb_restat_start(struct fb_restat *rs, struct fb_fs *fs, const char *mountpoint);
/* The kernel got the end of the listing of directory node, or released
 * a file that was opened read-only; any thread. */
void fb_restat_note(struct fb_restat *rs, uint64_t node, int is_dir);
/* Stop noting; the thread ends after its batch. */
void fb_restat_stop(struct fb_restat *rs);
/* Once the FUSE device is closed (a stat in flight then fails). */
void fb_restat_join(struct fb_restat *rs);

#endif
