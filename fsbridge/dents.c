/*
 * dents.c - see dents.h. Two chained hash tables over the same records:
 * by (parent, name) for path walks, by child for forgetting a node; and a
 * third over directories, each with the list of its records, for what a
 * directory's listing told (the names seen there, whether it was whole).
 *
 * A record with child 0 is a name seen but not cached any more (the
 * kernel forgot its node): it is in the name table and its directory's
 * list, never in the child table, and reads as "no such name" to every
 * lookup and walk.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dents.h"
#include "nodes.h"
#include "fsb_proto.h"

struct fb_ddir;

struct fb_dent {
	struct fb_dent *name_next;
	struct fb_dent *child_next;
	struct fb_dent *sib_next;       /* the names of one directory */
	struct fb_dent **sib_pprev;
	struct fb_ddir *dir;
	uint64_t parent;
	uint64_t child;                 /* 0: seen, no longer cached */
	uint32_t hash;
	uint16_t len;
	char name[];
};

struct fb_ddir {
	struct fb_ddir *next;
	uint64_t node;
	int listed;
	struct fb_dent *names;
};

#define DENTS_INITIAL_BUCKETS 1024u

static uint32_t name_hash(uint64_t parent, const char *name, size_t len)
{
	/* FNV-1a over the parent id and the name. */
	uint32_t h = 2166136261u;
	size_t i;

	for (i = 0; i < 8; i++) {
		h ^= (uint8_t)(parent >> (8 * i));
		h *= 16777619u;
	}
	for (i = 0; i < len; i++) {
		h ^= (uint8_t)name[i];
		h *= 16777619u;
	}
	return h;
}

static size_t child_bucket(uint64_t child, size_t nbuckets)
{
	return (size_t)((child * 0x9E3779B97F4A7C15ull) >> 32) & (nbuckets - 1);
}

int fb_dents_init(struct fb_dents *d)
{
	int err;

	memset(d, 0, sizeof(*d));
	d->by_name = calloc(DENTS_INITIAL_BUCKETS, sizeof(*d->by_name));
	d->by_child = calloc(DENTS_INITIAL_BUCKETS, sizeof(*d->by_child));
	d->dirs = calloc(DENTS_INITIAL_BUCKETS, sizeof(*d->dirs));
	if (!d->by_name || !d->by_child || !d->dirs) {
		err = -ENOMEM;
		goto out_free;
	}
	d->nbuckets = DENTS_INITIAL_BUCKETS;
	d->ndirbuckets = DENTS_INITIAL_BUCKETS;
	err = pthread_mutex_init(&d->lock, NULL);
	if (err) {
		err = -err;
		goto out_free;
	}
	return 0;
out_free:
	free(d->by_name);
	free(d->by_child);
	free(d->dirs);
	d->by_name = d->by_child = NULL;
	d->dirs = NULL;
	return err;
}

void fb_dents_release(struct fb_dents *d)
{
	size_t i;

	if (!d->by_name)
		return;
	for (i = 0; i < d->nbuckets; i++) {
		struct fb_dent *e = d->by_name[i];
		while (e) {
			struct fb_dent *next = e->name_next;
			free(e);
			e = next;
		}
	}
	for (i = 0; i < d->ndirbuckets; i++) {
		struct fb_ddir *dd = d->dirs[i];
		while (dd) {
			struct fb_ddir *next = dd->next;
			free(dd);
			dd = next;
		}
	}
	free(d->by_name);
	free(d->by_child);
	free(d->dirs);
	d->by_name = d->by_child = NULL;
	d->dirs = NULL;
	d->count = d->ndirs = d->name_bytes = 0;
	pthread_mutex_destroy(&d->lock);
}

void fb_dents_mem(struct fb_dents *d, size_t *names, size_t *dirs, size_t *bytes)
{
	pthread_mutex_lock(&d->lock);
	*names = d->count;
	*dirs = d->ndirs;
	*bytes = d->count * (sizeof(struct fb_dent) + FB_MALLOC_OVERHEAD) + d->name_bytes +
	         d->ndirs * (sizeof(struct fb_ddir) + FB_MALLOC_OVERHEAD) +
	         (2 * d->nbuckets + d->ndirbuckets) * sizeof(void *);
	pthread_mutex_unlock(&d->lock);
}

/* ---- directories (caller holds the lock) --------------------------------- */

static struct fb_ddir **ddir_slot(struct fb_dents *d, uint64_t node)
{
	struct fb_ddir **p = &d->dirs[child_bucket(node, d->ndirbuckets)];

	while (*p && (*p)->node != node)
		p = &(*p)->next;
	return p;
}

/* Best effort, as dents_grow. */
static void ddirs_grow(struct fb_dents *d)
{
	size_t nb = d->ndirbuckets * 2, i;
	struct fb_ddir **b = calloc(nb, sizeof(*b));

	if (!b)
		return;
	for (i = 0; i < d->ndirbuckets; i++) {
		struct fb_ddir *dd = d->dirs[i];
		while (dd) {
			struct fb_ddir *next = dd->next;
			size_t at = child_bucket(dd->node, nb);

			dd->next = b[at];
			b[at] = dd;
			dd = next;
		}
	}
	free(d->dirs);
	d->dirs = b;
	d->ndirbuckets = nb;
}

static struct fb_ddir *ddir_get(struct fb_dents *d, uint64_t node)
{
	struct fb_ddir **slot = ddir_slot(d, node), *dd = *slot;

	if (dd)
		return dd;
	dd = calloc(1, sizeof(*dd));
	if (!dd)
		return NULL;
	dd->node = node;
	*slot = dd;
	if (++d->ndirs > d->ndirbuckets)
		ddirs_grow(d);
	return dd;
}

/* Drop the record of a directory that has nothing left to tell. */
static void ddir_put(struct fb_dents *d, struct fb_ddir *dd)
{
	struct fb_ddir **slot;

	if (dd->names || dd->listed)
		return;
	slot = ddir_slot(d, dd->node);
	if (*slot == dd) {
		*slot = dd->next;
		free(dd);
		d->ndirs--;
	}
}

static void sib_link(struct fb_ddir *dd, struct fb_dent *e)
{
	e->dir = dd;
	e->sib_next = dd->names;
	if (dd->names)
		dd->names->sib_pprev = &e->sib_next;
	e->sib_pprev = &dd->names;
	dd->names = e;
}

static void sib_unlink(struct fb_dent *e)
{
	*e->sib_pprev = e->sib_next;
	if (e->sib_next)
		e->sib_next->sib_pprev = e->sib_pprev;
}

/* ---- records (caller holds the lock) -------------------------------------- */

static struct fb_dent **name_slot(struct fb_dents *d, uint64_t parent, const char *name,
                                  size_t len, uint32_t h)
{
	struct fb_dent **p = &d->by_name[h & (d->nbuckets - 1)];

	while (*p && !((*p)->hash == h && (*p)->parent == parent && (*p)->len == len &&
	               memcmp((*p)->name, name, len) == 0))
		p = &(*p)->name_next;
	return p;
}

/* Unlink e from its child chain. */
static void child_unlink(struct fb_dents *d, struct fb_dent *e)
{
	struct fb_dent **p = &d->by_child[child_bucket(e->child, d->nbuckets)];

	while (*p && *p != e)
		p = &(*p)->child_next;
	if (*p)
		*p = e->child_next;
}

static void child_link(struct fb_dents *d, struct fb_dent *e)
{
	struct fb_dent **head = &d->by_child[child_bucket(e->child, d->nbuckets)];

	e->child_next = *head;
	*head = e;
}

/* Best effort, as in nodes.c. */
static void dents_grow(struct fb_dents *d)
{
	size_t nb = d->nbuckets * 2, i;
	struct fb_dent **bn = calloc(nb, sizeof(*bn));
	struct fb_dent **bc = calloc(nb, sizeof(*bc));

	if (!bn || !bc) {
		free(bn);
		free(bc);
		return;
	}
	for (i = 0; i < d->nbuckets; i++) {
		struct fb_dent *e = d->by_name[i];
		while (e) {
			struct fb_dent *next = e->name_next;
			e->name_next = bn[e->hash & (nb - 1)];
			bn[e->hash & (nb - 1)] = e;
			if (e->child) {
				e->child_next = bc[child_bucket(e->child, nb)];
				bc[child_bucket(e->child, nb)] = e;
			}
			e = next;
		}
	}
	free(d->by_name);
	free(d->by_child);
	d->by_name = bn;
	d->by_child = bc;
	d->nbuckets = nb;
}

/* Free a record already out of the name table. */
static void dent_free(struct fb_dents *d, struct fb_dent *e)
{
	if (e->child)
		child_unlink(d, e);
	sib_unlink(e);
	ddir_put(d, e->dir);
	d->name_bytes -= (size_t)e->len + 1;
	free(e);
	d->count--;
}

/* `child` 0 records the name as seen only, and never replaces a cached
 * child (`seen_only`). */
static int dent_add_locked(struct fb_dents *d, uint64_t parent, const char *name, size_t len,
                           uint64_t child)
{
	uint32_t h = name_hash(parent, name, len);
	struct fb_dent **slot = name_slot(d, parent, name, len, h), *e = *slot;
	struct fb_ddir *dd;

	if (e) {
		if (child && e->child != child) {
			if (e->child)
				child_unlink(d, e);
			e->child = child;
			child_link(d, e);
		}
		return 0;
	}
	if (len > FSB_NAME_MAX)
		return -ENAMETOOLONG;
	dd = ddir_get(d, parent);
	if (!dd)
		return -ENOMEM;
	e = malloc(sizeof(*e) + len + 1);
	if (!e) {
		/* A listed directory must know every name it has
		 * (fb_dents_absent): without this one it no longer does. */
		dd->listed = 0;
		ddir_put(d, dd);
		return -ENOMEM;
	}
	e->parent = parent;
	e->child = child;
	e->hash = h;
	e->len = (uint16_t)len;
	memcpy(e->name, name, len);
	e->name[len] = '\0';
	e->name_next = NULL;
	e->child_next = NULL;
	*slot = e;
	if (child)
		child_link(d, e);
	sib_link(dd, e);
	d->name_bytes += len + 1;
	if (++d->count > d->nbuckets)
		dents_grow(d);
	return 0;
}

int fb_dents_add(struct fb_dents *d, uint64_t parent, const char *name, size_t len,
                 uint64_t child)
{
	int err;

	if (!child)
		return -EINVAL;
	pthread_mutex_lock(&d->lock);
	err = dent_add_locked(d, parent, name, len, child);
	pthread_mutex_unlock(&d->lock);
	return err;
}

int fb_dents_seen(struct fb_dents *d, uint64_t parent, const char *name, size_t len)
{
	int err;

	pthread_mutex_lock(&d->lock);
	err = dent_add_locked(d, parent, name, len, 0);
	pthread_mutex_unlock(&d->lock);
	return err;
}

static uint64_t dent_remove_locked(struct fb_dents *d, uint64_t parent, const char *name,
                                   size_t len)
{
	struct fb_dent **slot = name_slot(d, parent, name, len, name_hash(parent, name, len));
	struct fb_dent *e = *slot;
	uint64_t child;

	if (!e)
		return 0;
	*slot = e->name_next;
	child = e->child;
	dent_free(d, e);
	return child;
}

uint64_t fb_dents_remove(struct fb_dents *d, uint64_t parent, const char *name, size_t len)
{
	uint64_t child;

	pthread_mutex_lock(&d->lock);
	child = dent_remove_locked(d, parent, name, len);
	pthread_mutex_unlock(&d->lock);
	return child;
}

static struct fb_dent *dent_find_locked(struct fb_dents *d, uint64_t parent, const char *name,
                                        size_t len)
{
	return *name_slot(d, parent, name, len, name_hash(parent, name, len));
}

static uint64_t dent_get_locked(struct fb_dents *d, uint64_t parent, const char *name,
                                size_t len)
{
	struct fb_dent *e = dent_find_locked(d, parent, name, len);

	return e ? e->child : 0;
}

uint64_t fb_dents_get(struct fb_dents *d, uint64_t parent, const char *name, size_t len)
{
	uint64_t child;

	pthread_mutex_lock(&d->lock);
	child = dent_get_locked(d, parent, name, len);
	pthread_mutex_unlock(&d->lock);
	return child;
}

int fb_dents_known(struct fb_dents *d, uint64_t parent, const char *name, size_t len)
{
	int known;

	pthread_mutex_lock(&d->lock);
	known = dent_find_locked(d, parent, name, len) != NULL;
	pthread_mutex_unlock(&d->lock);
	return known;
}

void fb_dents_rename(struct fb_dents *d, uint64_t oldparent, const char *oldname,
                     size_t oldlen, uint64_t newparent, const char *newname, size_t newlen,
                     int exchange)
{
	uint64_t moved, other;

	pthread_mutex_lock(&d->lock);
	moved = dent_remove_locked(d, oldparent, oldname, oldlen);
	other = dent_remove_locked(d, newparent, newname, newlen);
	if (moved)
		dent_add_locked(d, newparent, newname, newlen, moved);
	if (exchange && other)
		dent_add_locked(d, oldparent, oldname, oldlen, other);
	pthread_mutex_unlock(&d->lock);
}

void fb_dents_forget_child(struct fb_dents *d, uint64_t child)
{
	struct fb_ddir **slot, *dd;
	struct fb_dent **p;

	pthread_mutex_lock(&d->lock);
	p = &d->by_child[child_bucket(child, d->nbuckets)];
	while (*p) {
		struct fb_dent *e = *p;

		if (e->child != child) {
			p = &e->child_next;
			continue;
		}
		*p = e->child_next;
		if (e->dir->listed) {
			/* The name stays seen: a rescan must not take it
			 * for a new one. */
			e->child = 0;
			continue;
		}
		*name_slot(d, e->parent, e->name, e->len, e->hash) = e->name_next;
		e->child = 0;
		dent_free(d, e);
	}
	/* What the node's own listing told dies with it. */
	slot = ddir_slot(d, child);
	dd = *slot;
	if (dd) {
		dd->listed = 1;         /* not freed by dent_free below */
		while (dd->names) {
			struct fb_dent *e = dd->names;

			*name_slot(d, e->parent, e->name, e->len, e->hash) = e->name_next;
			dent_free(d, e);
		}
		*slot = dd->next;
		free(dd);
		d->ndirs--;
	}
	pthread_mutex_unlock(&d->lock);
}

int fb_dents_absent(struct fb_dents *d, uint64_t parent, const char *name, size_t len)
{
	struct fb_ddir *dd;
	int absent = 0;

	pthread_mutex_lock(&d->lock);
	dd = *ddir_slot(d, parent);
	if (dd && dd->listed)
		absent = dent_find_locked(d, parent, name, len) == NULL;
	pthread_mutex_unlock(&d->lock);
	return absent;
}

void fb_dents_set_listed(struct fb_dents *d, uint64_t dir)
{
	struct fb_ddir *dd;

	pthread_mutex_lock(&d->lock);
	dd = ddir_get(d, dir);
	if (dd)
		dd->listed = 1;
	pthread_mutex_unlock(&d->lock);
}

int fb_dents_names(struct fb_dents *d, uint64_t dir,
                   void (*fn)(void *arg, const char *name, size_t len, uint64_t child),
                   void *arg)
{
	struct fb_ddir *dd;
	struct fb_dent *e;
	int listed = 0;

	pthread_mutex_lock(&d->lock);
	dd = *ddir_slot(d, dir);
	if (dd && dd->listed) {
		listed = 1;
		for (e = dd->names; e; e = e->sib_next)
			fn(arg, e->name, e->len, e->child);
	}
	pthread_mutex_unlock(&d->lock);
	return listed;
}

int fb_dents_walk(struct fb_dents *d, const char *path, size_t len, uint64_t *parent,
                  size_t *name_off, uint64_t *child)
{
	uint64_t dir = 1, node = 1;
	size_t start = 0, end;
	int err = 0;

	if (len == 0) {
		*parent = 0;
		*name_off = 0;
		*child = 1;
		return 0;
	}
	pthread_mutex_lock(&d->lock);
	for (;;) {
		end = start;
		while (end < len && path[end] != '/')
			end++;
		if (end == len)
			break;
		dir = dent_get_locked(d, dir, path + start, end - start);
		if (!dir) {
			err = -ENOENT;
			goto out_unlock;
		}
		start = end + 1;
	}
	node = dent_get_locked(d, dir, path + start, len - start);
	*parent = dir;
	*name_off = start;
	*child = node;
out_unlock:
	pthread_mutex_unlock(&d->lock);
	return err;
}

int fb_dents_path(struct fb_dents *d, uint64_t node, char *buf, size_t size)
{
	size_t pos = size, depth = 0;
	int err = 0;

	if (size == 0)
		return -ENAMETOOLONG;
	buf[--pos] = '\0';
	pthread_mutex_lock(&d->lock);
	while (node != 1) {
		struct fb_dent *e = d->by_child[child_bucket(node, d->nbuckets)];

		while (e && e->child != node)
			e = e->child_next;
		/* A cycle cannot come from the kernel's tree; bound the walk
		 * anyway against a map gone stale. */
		if (!e || ++depth > FSB_PATH_MAX / 2) {
			err = -ENOENT;
			goto out_unlock;
		}
		if (pos < (size_t)e->len + (pos < size - 1 ? 1 : 0)) {
			err = -ENAMETOOLONG;
			goto out_unlock;
		}
		if (pos < size - 1)
			buf[--pos] = '/';
		pos -= e->len;
		memcpy(buf + pos, e->name, e->len);
		node = e->parent;
	}
	memmove(buf, buf + pos, size - pos);
	err = (int)(size - pos - 1);
out_unlock:
	pthread_mutex_unlock(&d->lock);
	return err;
}

void fb_dents_each(struct fb_dents *d,
                   void (*fn)(void *arg, uint64_t parent, const char *name, size_t len,
                              uint64_t child),
                   void *arg)
{
	size_t i;

	pthread_mutex_lock(&d->lock);
	for (i = 0; i < d->nbuckets; i++) {
		struct fb_dent *e;

		for (e = d->by_name[i]; e; e = e->name_next)
			if (e->child)
				fn(arg, e->parent, e->name, e->len, e->child);
	}
	pthread_mutex_unlock(&d->lock);
}
