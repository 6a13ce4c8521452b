/*
 * nodes.c - see nodes.h. A chained hash table; server node ids are small
 * sequential integers, so the low bits spread well after a multiplicative
 * mix.
 */
#include <errno.h>
#include <stdlib.h>

#include "nodes.h"

struct fb_node {
	struct fb_node *next;
	uint64_t id;
	uint64_t nlookup;
	uint64_t local;         /* of nlookup, references the server never gave */
	uint32_t writers;       /* writable opens */
	int stale;              /* attr may be out of date: ask the server */
	uint64_t gen;
	struct fsb_attr attr;
};

#define NODES_INITIAL_BUCKETS 1024u

static size_t node_hash(uint64_t id, size_t nbuckets)
{
	return (size_t)((id * 0x9E3779B97F4A7C15ull) >> 32) & (nbuckets - 1);
}

int fb_nodes_init(struct fb_nodes *t)
{
	int err;

	t->buckets = calloc(NODES_INITIAL_BUCKETS, sizeof(*t->buckets));
	if (!t->buckets)
		return -ENOMEM;
	t->nbuckets = NODES_INITIAL_BUCKETS;
	t->count = 0;
	err = pthread_mutex_init(&t->lock, NULL);
	if (err) {
		free(t->buckets);
		t->buckets = NULL;
		return -err;
	}
	return 0;
}

void fb_nodes_release(struct fb_nodes *t)
{
	size_t i;

	if (!t->buckets)
		return;
	for (i = 0; i < t->nbuckets; i++) {
		struct fb_node *n = t->buckets[i];
		while (n) {
			struct fb_node *next = n->next;
			free(n);
			n = next;
		}
	}
	free(t->buckets);
	t->buckets = NULL;
	t->nbuckets = 0;
	t->count = 0;
	pthread_mutex_destroy(&t->lock);
}

/* Caller holds the lock. */
static struct fb_node **node_slot(struct fb_nodes *t, uint64_t id)
{
	struct fb_node **p = &t->buckets[node_hash(id, t->nbuckets)];

	while (*p && (*p)->id != id)
		p = &(*p)->next;
	return p;
}

/* Caller holds the lock. Growing is best effort: a failed allocation only
 * leaves the chains longer. */
static void nodes_grow(struct fb_nodes *t)
{
	size_t nb = t->nbuckets * 2, i;
	struct fb_node **b = calloc(nb, sizeof(*b));

	if (!b)
		return;
	for (i = 0; i < t->nbuckets; i++) {
		struct fb_node *n = t->buckets[i];
		while (n) {
			struct fb_node *next = n->next;
			size_t h = node_hash(n->id, nb);
			n->next = b[h];
			b[h] = n;
			n = next;
		}
	}
	free(t->buckets);
	t->buckets = b;
	t->nbuckets = nb;
}

int fb_nodes_ref(struct fb_nodes *t, const struct fsb_entry *e)
{
	struct fb_node **slot, *n;
	int err = 0;

	pthread_mutex_lock(&t->lock);
	slot = node_slot(t, e->node);
	n = *slot;
	if (!n) {
		n = calloc(1, sizeof(*n));
		if (!n) {
			err = -ENOMEM;
			goto out_unlock;
		}
		n->id = e->node;
		*slot = n;
		if (++t->count > t->nbuckets)
			nodes_grow(t);
	}
	n->nlookup++;
	n->gen = e->gen;
	n->attr = e->attr;
	n->stale = 0;
out_unlock:
	pthread_mutex_unlock(&t->lock);
	return err;
}

int fb_nodes_ref_local(struct fb_nodes *t, uint64_t id, struct fsb_entry *e)
{
	struct fb_node *n;
	int err = -ENOENT;

	pthread_mutex_lock(&t->lock);
	n = *node_slot(t, id);
	if (n) {
		n->nlookup++;
		n->local++;
		e->node = n->id;
		e->gen = n->gen;
		e->attr = n->attr;
		err = 0;
	}
	pthread_mutex_unlock(&t->lock);
	return err;
}

uint64_t fb_nodes_unref(struct fb_nodes *t, uint64_t id, uint64_t n, uint64_t *to_server,
                        int *gone)
{
	struct fb_node **slot, *node;
	uint64_t dropped = 0, server = 0;

	pthread_mutex_lock(&t->lock);
	slot = node_slot(t, id);
	node = *slot;
	*gone = 0;
	if (node) {
		dropped = n < node->nlookup ? n : node->nlookup;
		/* References are interchangeable: forward to the server as
		 * many as it gave, keep the local ones for last. */
		server = node->nlookup - node->local;
		if (server > dropped)
			server = dropped;
		node->local -= dropped - server;
		node->nlookup -= dropped;
		if (node->nlookup == 0) {
			*slot = node->next;
			t->count--;
			free(node);
			*gone = 1;
		}
	} else {
		/* Unknown to the table: the server's count is all there is. */
		server = n;
	}
	pthread_mutex_unlock(&t->lock);
	*to_server = server;
	return dropped;
}

void fb_nodes_unref_local(struct fb_nodes *t, uint64_t id)
{
	struct fb_node **slot, *n;

	pthread_mutex_lock(&t->lock);
	slot = node_slot(t, id);
	n = *slot;
	if (n && n->local) {
		n->local--;
		if (--n->nlookup == 0) {
			*slot = n->next;
			t->count--;
			free(n);
		}
	}
	pthread_mutex_unlock(&t->lock);
}

void fb_nodes_writers_add(struct fb_nodes *t, uint64_t id, int delta)
{
	struct fb_node *n;

	pthread_mutex_lock(&t->lock);
	n = *node_slot(t, id);
	if (n && (delta > 0 || n->writers > 0))
		n->writers += (uint32_t)delta;
	pthread_mutex_unlock(&t->lock);
}

uint32_t fb_nodes_writers(struct fb_nodes *t, uint64_t id)
{
	struct fb_node *n;
	uint32_t w = 0;

	pthread_mutex_lock(&t->lock);
	n = *node_slot(t, id);
	if (n)
		w = n->writers;
	pthread_mutex_unlock(&t->lock);
	return w;
}

void fb_nodes_set_attr(struct fb_nodes *t, uint64_t id, const struct fsb_attr *a)
{
	struct fb_node *n;

	pthread_mutex_lock(&t->lock);
	n = *node_slot(t, id);
	if (n) {
		n->attr = *a;
		n->stale = 0;
	}
	pthread_mutex_unlock(&t->lock);
}

int fb_nodes_get_fresh_attr(struct fb_nodes *t, uint64_t id, struct fsb_attr *out)
{
	struct fb_node *n;
	int err = -ENOENT;

	pthread_mutex_lock(&t->lock);
	n = *node_slot(t, id);
	if (n && !n->stale) {
		*out = n->attr;
		err = 0;
	}
	pthread_mutex_unlock(&t->lock);
	return err;
}

void fb_nodes_mark_stale(struct fb_nodes *t, uint64_t id)
{
	struct fb_node *n;

	pthread_mutex_lock(&t->lock);
	n = *node_slot(t, id);
	if (n)
		n->stale = 1;
	pthread_mutex_unlock(&t->lock);
}

void fb_nodes_mark_all_stale(struct fb_nodes *t)
{
	size_t i;

	pthread_mutex_lock(&t->lock);
	for (i = 0; i < t->nbuckets; i++) {
		struct fb_node *n;

		for (n = t->buckets[i]; n; n = n->next)
			n->stale = 1;
	}
	pthread_mutex_unlock(&t->lock);
}

int fb_nodes_get_attr(struct fb_nodes *t, uint64_t id, struct fsb_attr *out)
{
	struct fb_node *n;
	int err = -ENOENT;

	pthread_mutex_lock(&t->lock);
	n = *node_slot(t, id);
	if (n) {
		*out = n->attr;
		err = 0;
	}
	pthread_mutex_unlock(&t->lock);
	return err;
}

void fb_nodes_each(struct fb_nodes *t,
                   void (*fn)(void *arg, uint64_t id, uint64_t server_refs, uint64_t gen,
                              const struct fsb_attr *attr),
                   void *arg)
{
	size_t i;

	pthread_mutex_lock(&t->lock);
	for (i = 0; i < t->nbuckets; i++) {
		const struct fb_node *n;
		for (n = t->buckets[i]; n; n = n->next)
			fn(arg, n->id, n->nlookup - n->local, n->gen, &n->attr);
	}
	pthread_mutex_unlock(&t->lock);
}

uint64_t fb_nodes_lookups(struct fb_nodes *t, uint64_t id)
{
	struct fb_node *n;
	uint64_t v = 0;

	pthread_mutex_lock(&t->lock);
	n = *node_slot(t, id);
	if (n)
		v = n->nlookup;
	pthread_mutex_unlock(&t->lock);
	return v;
}

size_t fb_nodes_count(struct fb_nodes *t)
{
	size_t c;

	pthread_mutex_lock(&t->lock);
	c = t->count;
	pthread_mutex_unlock(&t->lock);
	return c;
}

void fb_nodes_mem(struct fb_nodes *t, size_t *count, size_t *bytes)
{
	pthread_mutex_lock(&t->lock);
	*count = t->count;
	*bytes = t->count * (sizeof(struct fb_node) + FB_MALLOC_OVERHEAD) +
	         t->nbuckets * sizeof(*t->buckets);
	pthread_mutex_unlock(&t->lock);
}
