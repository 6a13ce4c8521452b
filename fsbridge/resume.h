/*
 * resume.h - getting the server back after the connection is lost.
 *
 * The recovery thread sleeps until the connection reports a loss
 * (fb_resume_on_down, from the conn's loop thread). Then it reconnects
 * with backoff (at once, then 0.25 s doubling to a 2 s cap), says HELLO
 * with the same token and export, and RESUMEs the session on the new
 * socket before the conn sees it: every node the kernel holds is
 * described by one of its names (parents first, from the dentry mirror)
 * with the inode number and type last seen, and every open handle by its
 * node and flags, so the new session takes over the very ids the kernel
 * uses. Only then is the socket attached to the conn, which sends the
 * requests that waited. A rescan follows: what changed while the server
 * was away is handled as the events that would have told of it, and the
 * names whose node could not be resumed (gone, or replaced by another
 * file) are among those changes.
 *
 * A server that comes back with another folder behind the export (the
 * root's inode differs) is not resumed: node ids of two trees must never
 * mix, so the mount gives up (every request fails with EIO) and says to
 * mount again.
 */
#ifndef FB_RESUME_H
#define FB_RESUME_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

struct fb_fs;
struct fb_local;

struct fb_resume {
	struct fb_fs *fs;
	const char *addr, *token, *export_path;   /* borrowed, outlive us */
	uint64_t caps;
	uint64_t gen;               /* the generation the kernel's ids carry */
	uint64_t root_ino;          /* the export root's identity */
	/* --local: the private winside, started again when it died or
	 * stopped answering (addr and token then point into it). */
	struct fb_local *local;

	pthread_t thread;
	int started;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int down;                   /* guarded by lock */
	int stop;                   /* guarded by lock */
	int busy_fd;                /* guarded by lock: the socket being set
	                             * up, shut down to stop at once */

	/* counters, shown by `fsbridge stats` */
	atomic_uint_fast64_t nodes_resumed;
	atomic_uint_fast64_t nodes_lost;
	atomic_uint_fast64_t handles_reopened;
	atomic_uint_fast64_t handles_lost;
};

/* Set up (before the conn starts; it gets fb_resume_on_down and r). */
int fb_resume_init(struct fb_resume *r, struct fb_fs *fs, const char *addr,
                   const char *token, const char *export_path, uint64_t caps);
int fb_resume_start(struct fb_resume *r);
/* The conn's on_down: wakes the thread. Never blocks. */
void fb_resume_on_down(void *arg);
/* Stop and join the thread (a reconnect in progress is abandoned). */
void fb_resume_stop(struct fb_resume *r);
void fb_resume_release(struct fb_resume *r);

#endif
