/*
 * dents.h - the names the kernel knows: (parent node, name) -> child node.
 *
 * Change events name paths; the kernel caches nodes. To find what a path
 * means in the kernel's cache, the client mirrors every name it handed to
 * the kernel (LOOKUP, CREATE/MKDIR/MKNOD/SYMLINK/LINK and READDIRPLUS
 * entries), follows unlink/rmdir/rename, and drops a node's names when the
 * kernel forgets the node. A path whose parent does not resolve here is
 * not in the kernel's cache at all, so nothing can be watching it: the
 * kernel's dentries always hang off cached parents.
 *
 * The map may hold names the kernel has since dropped by itself (memory
 * pressure, revalidation); those point at nodes that are still alive, and
 * acting on them costs at most one needless invalidation.
 *
 * It also remembers what the listings told: a directory whose whole
 * listing reached the kernel is "listed", and every name seen in it stays
 * known after the kernel forgets that name's node (then it names no node:
 * fb_dents_get and fb_dents_walk do not see it). So after lost change
 * events a name on the server that a listed directory does not know is
 * new (rescan.c), and one it knows that is gone was removed. A
 * directory's names and listing are dropped when its own node is
 * forgotten: no watch can be left on it then.
 *
 * All functions take the map's lock internally.
 */
#ifndef FB_DENTS_H
#define FB_DENTS_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

struct fb_dent;
struct fb_ddir;

struct fb_dents {
	pthread_mutex_t lock;
	struct fb_dent **by_name;       /* hash of (parent, name) */
	struct fb_dent **by_child;      /* hash of child: the names of a node */
	size_t nbuckets;                /* power of two, both tables */
	size_t count;
	size_t name_bytes;              /* of the records' names */
	struct fb_ddir **dirs;          /* hash of directory: its names */
	size_t ndirbuckets;             /* power of two */
	size_t ndirs;
};

int fb_dents_init(struct fb_dents *d);
void fb_dents_release(struct fb_dents *d);

/* Record that `name` in `parent` is `child` (not 0), replacing what it
 * was. Best effort: a failed allocation only loses the record (-ENOMEM). */
int fb_dents_add(struct fb_dents *d, uint64_t parent, const char *name, size_t len,
                 uint64_t child);
/* Forget `name` in `parent`; returns the child it named, or 0. */
uint64_t fb_dents_remove(struct fb_dents *d, uint64_t parent, const char *name, size_t len);
/* The child `name` names in `parent`, or 0. */
uint64_t fb_dents_get(struct fb_dents *d, uint64_t parent, const char *name, size_t len);
/* A rename: the old name's child now has the new name (replacing any child
 * the new name had); with `exchange`, the two children swap names. */
void fb_dents_rename(struct fb_dents *d, uint64_t oldparent, const char *oldname,
                     size_t oldlen, uint64_t newparent, const char *newname, size_t newlen,
                     int exchange);
/* The kernel forgot `child`: drop every name of it (in a listed directory
 * the name stays seen), and what its own listing told. */
void fb_dents_forget_child(struct fb_dents *d, uint64_t child);

/* Record `name` in `parent` as seen, naming no cached node, unless the map
 * already knows it. 0, -ENOMEM or -ENAMETOOLONG. */
int fb_dents_seen(struct fb_dents *d, uint64_t parent, const char *name, size_t len);
/* 1 if the map knows `name` in `parent`, cached or only seen. */
int fb_dents_known(struct fb_dents *d, uint64_t parent, const char *name, size_t len);
/* 1 if `parent` is listed and does not know `name`: then the server has
 * no such name, as far as the change events received tell. */
int fb_dents_absent(struct fb_dents *d, uint64_t parent, const char *name, size_t len);
/* The kernel was handed `dir`'s listing to its end (or made it: a new
 * directory is empty). */
void fb_dents_set_listed(struct fb_dents *d, uint64_t dir);
/* If `dir` is listed, call fn for each name known in it (child 0: seen
 * only), under the lock - fn must not call back into the map - and return
 * 1; else 0. */
int fb_dents_names(struct fb_dents *d, uint64_t dir,
                   void (*fn)(void *arg, const char *name, size_t len, uint64_t child),
                   void *arg);

/*
 * Resolve the '/'-separated `path` (relative to the root node 1, "" is the
 * root itself) through the map. On success *parent is the directory
 * holding the last component, *name_off its offset in path, and *child the
 * node it names (0 if the kernel has no such name). Returns 0, or -ENOENT
 * if some directory on the way is unknown (then nothing under it is in
 * the kernel's cache). For "" *parent is 0 and *child 1.
 */
int fb_dents_walk(struct fb_dents *d, const char *path, size_t len, uint64_t *parent,
                  size_t *name_off, uint64_t *child);

/* The path of `node` from the root ("" for the root), following the first
 * name the map has for each directory on the way. Returns its length, or
 * -ENOENT if the node is not reachable, -ENAMETOOLONG if it does not fit. */
int fb_dents_path(struct fb_dents *d, uint64_t node, char *buf, size_t size);

/* The names recorded (cached or seen), the directories with names or a
 * listing, and the bytes the map allocates for them (records, names,
 * malloc's per-block overhead, buckets). */
void fb_dents_mem(struct fb_dents *d, size_t *names, size_t *dirs, size_t *bytes);

/* Call fn for every (parent, name, child) the kernel caches, under the
 * lock: fn must not call back into the map. */
void fb_dents_each(struct fb_dents *d,
                   void (*fn)(void *arg, uint64_t parent, const char *name, size_t len,
                              uint64_t child),
                   void *arg);

#endif
