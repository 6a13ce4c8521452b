/*
 * nodes.h - the client's node table: server node id -> lookup count,
 * generation, last known attributes.
 *
 * FUSE node ids are the server's node ids (the root is 1 on both sides), so
 * no translation happens here. The table mirrors the lookup references the
 * server holds for this session: an entry is added (or its count raised)
 * for every entry the server returns, and lowered when that reference is
 * forgotten, by the kernel or by the client itself for entries it never
 * handed on. The attributes are a cache for change-event handling and for
 * keep_cache decisions; the kernel keeps its own copy.
 *
 * All functions take the table lock internally; none calls out while
 * holding it, so callers may hold their own locks.
 */
#ifndef FB_NODES_H
#define FB_NODES_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "fsb_proto.h"

struct fb_node;

/* What malloc adds to each block (glibc on 64 bits: a size word, rounded
 * to 16), counted by the tables' *_mem functions. */
#define FB_MALLOC_OVERHEAD 16u

struct fb_nodes {
	pthread_mutex_t lock;
	struct fb_node **buckets;
	size_t nbuckets;        /* power of two */
	size_t count;
};

int fb_nodes_init(struct fb_nodes *t);
void fb_nodes_release(struct fb_nodes *t);

/* One more lookup reference on e->node; records gen and attributes.
 * Returns 0 or -ENOMEM (then nothing changed). */
int fb_nodes_ref(struct fb_nodes *t, const struct fsb_entry *e);

/* One more lookup reference on a known node that the daemon hands out
 * itself, without a server reference behind it (an answer from the event
 * record). Fills e with the node's id, generation and cached attributes.
 * 0, or -ENOENT if the node is unknown. */
int fb_nodes_ref_local(struct fb_nodes *t, uint64_t id, struct fsb_entry *e);

/* Drop up to n references on id. Returns the number actually held (less
 * than n means the kernel and the table disagree); *to_server is how many
 * of them the server must be told to forget, *gone is 1 when the node left
 * the table (its count reached 0). */
uint64_t fb_nodes_unref(struct fb_nodes *t, uint64_t id, uint64_t n, uint64_t *to_server,
                        int *gone);

/* Undo one fb_nodes_ref_local() whose entry never reached the kernel. */
void fb_nodes_unref_local(struct fb_nodes *t, uint64_t id);

/* Open files that may hold dirty pages: writable opens not yet released.
 * delta is +1 or -1. */
void fb_nodes_writers_add(struct fb_nodes *t, uint64_t id, int delta);
uint32_t fb_nodes_writers(struct fb_nodes *t, uint64_t id);

/* Whether attributes a describe a later state of the object than b: the
 * server's change times order them. */
static inline int fb_attr_newer(const struct fsb_attr *a, const struct fsb_attr *b)
{
	return a->ctime.sec > b->ctime.sec ||
	       (a->ctime.sec == b->ctime.sec && a->ctime.nsec > b->ctime.nsec);
}

/* Replace the cached attributes of a known node (no-op if unknown). */
void fb_nodes_set_attr(struct fb_nodes *t, uint64_t id, const struct fsb_attr *a);

/* The cached attributes if nothing has made them doubtful since they were
 * recorded (a change event about the node or, for a directory, about a
 * name in it); 0, or -ENOENT. fb_nodes_set_attr makes them fresh again. */
int fb_nodes_get_fresh_attr(struct fb_nodes *t, uint64_t id, struct fsb_attr *out);
void fb_nodes_mark_stale(struct fb_nodes *t, uint64_t id);
void fb_nodes_mark_all_stale(struct fb_nodes *t);

/* Copy the cached attributes; 0, or -ENOENT if the node is unknown. */
int fb_nodes_get_attr(struct fb_nodes *t, uint64_t id, struct fsb_attr *out);

/* Call fn for every node, under the table lock (fn must not call back into
 * the table): its id, the references the server gave for it (the lookup
 * count less the local ones), its generation and cached attributes. */
void fb_nodes_each(struct fb_nodes *t,
                   void (*fn)(void *arg, uint64_t id, uint64_t server_refs, uint64_t gen,
                              const struct fsb_attr *attr),
                   void *arg);

/* Lookup count of id, 0 if unknown. */
uint64_t fb_nodes_lookups(struct fb_nodes *t, uint64_t id);
size_t fb_nodes_count(struct fb_nodes *t);
/* The nodes, and the bytes the table allocates for them (the records with
 * malloc's per-block overhead, and the buckets). */
void fb_nodes_mem(struct fb_nodes *t, size_t *count, size_t *bytes);

#endif
