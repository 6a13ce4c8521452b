/*
 * dents.c - see dents.h. Two chained hash tables over the same records:
 * by (parent, name) for path walks, by child for forgetting a node.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dents.h"
#include "fsb_proto.h"

struct fb_dent {
	struct fb_dent *name_next;
	struct fb_dent *child_next;
	uint64_t parent;
	uint64_t child;
	uint32_t hash;
	uint16_t len;
	char name[];
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
	if (!d->by_name || !d->by_child) {
		err = -ENOMEM;
		goto out_free;
	}
	d->nbuckets = DENTS_INITIAL_BUCKETS;
	err = pthread_mutex_init(&d->lock, NULL);
	if (err) {
		err = -err;
		goto out_free;
	}
	return 0;
out_free:
	free(d->by_name);
	free(d->by_child);
	d->by_name = d->by_child = NULL;
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
	free(d->by_name);
	free(d->by_child);
	d->by_name = d->by_child = NULL;
	d->count = 0;
	pthread_mutex_destroy(&d->lock);
}

/* Caller holds the lock. */
static struct fb_dent **name_slot(struct fb_dents *d, uint64_t parent, const char *name,
                                  size_t len, uint32_t h)
{
	struct fb_dent **p = &d->by_name[h & (d->nbuckets - 1)];

	while (*p && !((*p)->hash == h && (*p)->parent == parent && (*p)->len == len &&
	               memcmp((*p)->name, name, len) == 0))
		p = &(*p)->name_next;
	return p;
}

/* Unlink e from its child chain. Caller holds the lock. */
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

/* Caller holds the lock. Best effort, as in nodes.c. */
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
			e->child_next = bc[child_bucket(e->child, nb)];
			bc[child_bucket(e->child, nb)] = e;
			e = next;
		}
	}
	free(d->by_name);
	free(d->by_child);
	d->by_name = bn;
	d->by_child = bc;
	d->nbuckets = nb;
}

/* Caller holds the lock. */
static int dent_add_locked(struct fb_dents *d, uint64_t parent, const char *name, size_t len,
                           uint64_t child)
{
	uint32_t h = name_hash(parent, name, len);
	struct fb_dent **slot = name_slot(d, parent, name, len, h), *e = *slot;

	if (e) {
		if (e->child != child) {
			child_unlink(d, e);
			e->child = child;
			child_link(d, e);
		}
		return 0;
	}
	if (len > FSB_NAME_MAX)
		return -ENAMETOOLONG;
	e = malloc(sizeof(*e) + len + 1);
	if (!e)
		return -ENOMEM;
	e->parent = parent;
	e->child = child;
	e->hash = h;
	e->len = (uint16_t)len;
	memcpy(e->name, name, len);
	e->name[len] = '\0';
	e->name_next = NULL;
	*slot = e;
	child_link(d, e);
	if (++d->count > d->nbuckets)
		dents_grow(d);
	return 0;
}

int fb_dents_add(struct fb_dents *d, uint64_t parent, const char *name, size_t len,
                 uint64_t child)
{
	int err;

	pthread_mutex_lock(&d->lock);
	err = dent_add_locked(d, parent, name, len, child);
	pthread_mutex_unlock(&d->lock);
	return err;
}

/* Caller holds the lock. */
static uint64_t dent_remove_locked(struct fb_dents *d, uint64_t parent, const char *name,
                                   size_t len)
{
	struct fb_dent **slot = name_slot(d, parent, name, len, name_hash(parent, name, len));
	struct fb_dent *e = *slot;
	uint64_t child;

	if (!e)
		return 0;
	*slot = e->name_next;
	child_unlink(d, e);
	child = e->child;
	free(e);
	d->count--;
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

/* Caller holds the lock. */
static uint64_t dent_get_locked(struct fb_dents *d, uint64_t parent, const char *name,
                                size_t len)
{
	struct fb_dent *e = *name_slot(d, parent, name, len, name_hash(parent, name, len));

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
		*name_slot(d, e->parent, e->name, e->len, e->hash) = e->name_next;
		free(e);
		d->count--;
	}
	pthread_mutex_unlock(&d->lock);
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
			fn(arg, e->parent, e->name, e->len, e->child);
	}
	pthread_mutex_unlock(&d->lock);
}
