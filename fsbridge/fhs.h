/*
 * fhs.h - the server handles the kernel holds: fh -> (node, open flags).
 *
 * FUSE file handles are the server's handle numbers, as node ids are the
 * server's node ids. After a reconnect the new server session is asked to
 * open each of these again under the same number (RESUME), so the kernel's
 * open files carry on; this table is what the client knows of them. An
 * entry is added when an open or create reply hands a handle to the
 * kernel, or a lazy handle gets its server handle, and removed when the
 * handle's RELEASE is sent.
 *
 * All functions take the table's lock internally; it is a leaf lock.
 */
#ifndef FB_FHS_H
#define FB_FHS_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

struct fb_fh;

struct fb_fh_item {
	uint64_t fh;
	uint64_t node;
	uint32_t flags;             /* FSB_O_* as opened, O_CREAT/O_TRUNC/O_EXCL
	                             * already removed */
};

struct fb_fhs {
	pthread_mutex_t lock;
	struct fb_fh **buckets;
	size_t nbuckets;            /* power of two */
	size_t count;
};

int fb_fhs_init(struct fb_fhs *t);
void fb_fhs_release(struct fb_fhs *t);

/* Best effort: a failed allocation only means the handle is not reopened
 * after a reconnect (-ENOMEM). */
int fb_fhs_add(struct fb_fhs *t, uint64_t fh, uint64_t node, uint32_t flags);
void fb_fhs_remove(struct fb_fhs *t, uint64_t fh);
size_t fb_fhs_count(struct fb_fhs *t);
/* The handles and the bytes the table allocates for them. */
void fb_fhs_mem(struct fb_fhs *t, size_t *count, size_t *bytes);

/* A copy of every entry (malloc'd, *out NULL when empty); returns the
 * count, or 0 with *out NULL when out of memory. */
size_t fb_fhs_snapshot(struct fb_fhs *t, struct fb_fh_item **out);

#endif
