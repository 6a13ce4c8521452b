/*
 * dirahead.h - listing directories ahead of a walk.
 *
 * A walk (find, ls -R, an indexer, a bundler scanning node_modules) lists
 * one directory at a time and waits for each listing: a server round trip
 * per directory, with the server idle while the walker works and the
 * walker idle while the server lists. When listings follow each other
 * closely (a walk), the daemon asks the server for the first batch of
 * each subdirectory of a directory just listed, without waiting, and
 * answers the kernel's READDIRPLUS of that subdirectory from the reply
 * it already has (or as soon as it comes).
 *
 * Exactness: a listing read ahead is used only if nothing could have
 * changed since it was asked for: no change event arrived and the daemon
 * had a reply to a request that changes names or attributes
 * (fb_dirahead_changed).
 * Otherwise it is dropped (its entries' server references forgotten) and
 * the kernel's request goes to the server as usual. One that is not
 * asked for within AHEAD_TTL_NS is dropped the same way.
 */
#ifndef FB_DIRAHEAD_H
#define FB_DIRAHEAD_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "fsb_proto.h"

struct fb_fs;
struct fb_op;

#define FB_AHEAD_SLOTS 128

struct fb_ahead_slot {
	uint64_t node;              /* the directory; 0: free */
	uint64_t gen;               /* fb_dirahead.gen when it was asked for */
	uint64_t ready_ns;          /* when its reply came (0: not yet) */
	struct fb_op *waiter;       /* the kernel's request, if it came first */
	int failed;                 /* the reply was an error */
	uint8_t eof;
	uint32_t count;
	struct fsb_dirent *ents;    /* names point into names */
	char *names;
};

struct fb_dirahead {
	pthread_mutex_t lock;
	_Atomic uint64_t gen;       /* bumped by every possible change */
	struct fb_ahead_slot v[FB_AHEAD_SLOTS];
	unsigned used;              /* slots not free */
	uint64_t last_listed_ns;    /* the previous listing that reached its end */
	int enabled;
	/* Listings asked for ahead; of those, answered at once (ready),
	 * answered when they came (waited), and dropped (stale, unused or
	 * failed). */
	_Atomic uint64_t asked, ready, waited, dropped;
};

void fb_dirahead_init(struct fb_dirahead *da);
/* Frees what is still held (at unmount: no references to forget). */
void fb_dirahead_release(struct fb_dirahead *da);
/* Something may have changed: listings read ahead so far are stale. */
static inline void fb_dirahead_changed(struct fb_dirahead *da)
{
	atomic_fetch_add_explicit(&da->gen, 1, memory_order_relaxed);
}
/* Whether a request of op may change names or attributes: its reply
 * makes listings read ahead so far stale, before the kernel hears of it
 * (the server may have run a listing asked for after the change first;
 * until the reply, the change is not done as far as anyone knows). */
int fb_dirahead_op_changes(unsigned op);
/* The kernel got the whole first batch of a directory's listing, r: in
 * a walk, ask for its subdirectories' listings (want bytes each). */
void fb_dirahead_listed(struct fb_fs *fs, const struct fsb_readdir_rep *r, uint32_t want);
/* A READDIRPLUS of op->node from offset 0: 1 if a listing read ahead
 * answers it (now, or when its reply comes), 0 to send it as usual. */
int fb_dirahead_serve(struct fb_fs *fs, struct fb_op *op);

#endif
